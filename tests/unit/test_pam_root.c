/* Licensed under the Apache License, Version 2.0.
 *
 * test_pam_root.c — certmap_pam_logon against the real pam_unix.
 *
 * Needs root: it creates a throw-away system account and a PAM service
 * file /etc/pam.d/certmap-test-<pid>, and removes both on every way out
 * (group teardown, atexit, and the fatal signals).  Also measures what
 * one pam_unix logon costs, the number the logon cache is there to save.
 */

#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <security/pam_appl.h>

#include "certmap_pam.h"

#define TIMING_RUNS 20

static char user[64];           /* certmap-pamtest-<pid> */
static char stranger[64];       /* an account that does not exist */
static char service[64];        /* certmap-test-<pid> */
static char service_path[128];  /* /etc/pam.d/<service> */
static char password[64];
static volatile sig_atomic_t user_created, service_created;

/* ---- the world: created once, removed on every path ------------------- */

/* fork + execv + waitpid only, so that the signal handler may use it. */
static int run(const char *const argv[], const char *input)
{
    int fds[2] = { -1, -1 };
    int status;
    pid_t pid;

    if (input != NULL && pipe(fds) != 0) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);

        if (input != NULL) {
            dup2(fds[0], 0);
            close(fds[0]);
            close(fds[1]);
        }
        if (devnull >= 0) {
            dup2(devnull, 1);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (input != NULL) {
        close(fds[0]);
        if (pid > 0 && write(fds[1], input, strlen(input)) < 0) {
            status = -1;
        }
        close(fds[1]);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void remove_world(void)
{
    if (service_created) {
        unlink(service_path);
        service_created = 0;
    }
    if (user_created) {
        const char *const del[] = { "/usr/sbin/userdel", "-f", user, NULL };

        run(del, NULL);
        user_created = 0;
    }
}

static void on_signal(int sig)
{
    remove_world();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int create_world(void **state)
{
    const char *const add[] = { "/usr/sbin/useradd", "-M", "-s",
                                "/usr/sbin/nologin", user, NULL };
    char line[160];
    FILE *f;
    int fd;

    (void)state;
    if (run(add, NULL) != 0) {
        fprintf(stderr, "useradd %s failed\n", user);
        return -1;
    }
    user_created = 1;
    snprintf(line, sizeof(line), "%s:%s\n", user, password);
    {
        const char *const chpasswd[] = { "/usr/sbin/chpasswd", NULL };

        if (run(chpasswd, line) != 0) {
            fprintf(stderr, "chpasswd failed\n");
            return -1;
        }
    }
    fd = open(service_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        perror(service_path);
        return -1;
    }
    service_created = 1;
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return -1;
    }
    fputs("auth    required pam_unix.so\n"
          "account required pam_unix.so\n", f);
    return fclose(f) == 0 ? 0 : -1;
}

static int destroy_world(void **state)
{
    (void)state;
    remove_world();
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
    certmap_pam_result_e result;
    int pam_status;
    char message[256];
} logon_t;

static logon_t logon(const char *who, const char *pw)
{
    logon_t l;

    memset(&l, 0x5a, sizeof(l));
    l.result = certmap_pam_logon(service, who, pw, "192.0.2.9",
                                 &l.pam_status, l.message, sizeof(l.message));
    assert_non_null(memchr(l.message, '\0', sizeof(l.message)));
    assert_null(strstr(l.message, password));
    return l;
}

static void modify_user(const char *tool, const char *opt, const char *arg)
{
    const char *const argv[] = { tool, opt, arg, user, NULL };
    const char *const argv2[] = { tool, opt, user, NULL };

    assert_int_equal(run(arg ? argv : argv2, NULL), 0);
}

/* ---- tests ----------------------------------------------------------- */

static void test_right_password(void **state)
{
    logon_t l = logon(user, password);

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_OK);
    assert_int_equal(l.pam_status, PAM_SUCCESS);
}

static void test_wrong_password(void **state)
{
    logon_t l = logon(user, "not-the-password");

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_REFUSED);
    assert_int_equal(l.pam_status, PAM_AUTH_ERR);
    assert_true(l.message[0] != '\0');
}

static void test_account_only(void **state)
{
    logon_t l = logon(user, NULL);

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_OK);
}

static void test_unknown_user(void **state)
{
    logon_t l = logon(stranger, password);

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_REFUSED);
    assert_true(l.message[0] != '\0');
    l = logon(stranger, NULL);
    assert_int_equal(l.result, CERTMAP_PAM_REFUSED);
}

static void test_expired_account(void **state)
{
    logon_t l;

    (void)state;
    modify_user("/usr/bin/chage", "-E", "0");
    l = logon(user, password);
    assert_int_equal(l.result, CERTMAP_PAM_REFUSED);
    assert_int_equal(l.pam_status, PAM_ACCT_EXPIRED);
    l = logon(user, NULL);
    assert_int_equal(l.result, CERTMAP_PAM_REFUSED);
    assert_int_equal(l.pam_status, PAM_ACCT_EXPIRED);
}

static int unexpire(void **state)
{
    const char *const argv[] = { "/usr/bin/chage", "-E", "-1", user, NULL };

    (void)state;
    return run(argv, NULL) == 0 ? 0 : -1;
}

static void test_locked_password(void **state)
{
    logon_t l;

    (void)state;
    modify_user("/usr/sbin/usermod", "-L", NULL);
    l = logon(user, password);
    assert_int_equal(l.result, CERTMAP_PAM_REFUSED);
    assert_int_not_equal(l.pam_status, PAM_SUCCESS);
}

static int unlock(void **state)
{
    const char *const argv[] = { "/usr/sbin/usermod", "-U", user, NULL };

    (void)state;
    return run(argv, NULL) == 0 ? 0 : -1;
}

static double mean_ms(const char *pw)
{
    struct timespec t0, t1;
    int i;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < TIMING_RUNS; i++) {
        assert_int_equal(certmap_pam_logon(service, user, pw, NULL, NULL,
                                           NULL, 0), CERTMAP_PAM_OK);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return ((double)(t1.tv_sec - t0.tv_sec) * 1e3
            + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / TIMING_RUNS;
}

/* Not a pass/fail criterion beyond "every run succeeds": the numbers are
 * for the benchmark notes (built with sanitizers, so an upper bound). */
static void test_cost_of_one_logon(void **state)
{
    double with_password, account_only;

    (void)state;
    with_password = mean_ms(password);
    account_only = mean_ms(NULL);
    printf("pam_unix logon, password + account: mean %.3f ms over %d runs\n",
           with_password, TIMING_RUNS);
    printf("pam_unix logon, account only:       mean %.3f ms over %d runs\n",
           account_only, TIMING_RUNS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_right_password),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_account_only),
        cmocka_unit_test(test_unknown_user),
        cmocka_unit_test_teardown(test_expired_account, unexpire),
        cmocka_unit_test_teardown(test_locked_password, unlock),
        /* after the teardowns: the account must be usable again */
        cmocka_unit_test(test_right_password),
        cmocka_unit_test(test_cost_of_one_logon),
    };
    long pid = (long)getpid();

    if (geteuid() != 0) {
        printf("test_pam_root: skipped, needs root\n");
        return 0;
    }
    snprintf(user, sizeof(user), "certmap-pamtest-%ld", pid);
    snprintf(stranger, sizeof(stranger), "certmap-nouser-%ld", pid);
    snprintf(service, sizeof(service), "certmap-test-%ld", pid);
    snprintf(service_path, sizeof(service_path), "/etc/pam.d/%s", service);
    snprintf(password, sizeof(password), "Pt-%ld-%ld-q7", pid,
             (long)time(NULL));
    if (getpwnam(user) != NULL || getpwnam(stranger) != NULL) {
        fprintf(stderr, "test_pam_root: %s or %s already exists\n", user,
                stranger);
        return 1;
    }
    atexit(remove_world);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGABRT, on_signal);
    signal(SIGSEGV, on_signal);
    return cmocka_run_group_tests_name("certmap_pam against pam_unix", tests,
                                       create_world, destroy_world);
}
