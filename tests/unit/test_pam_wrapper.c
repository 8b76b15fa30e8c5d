/* Licensed under the Apache License, Version 2.0.
 *
 * test_pam_wrapper.c — certmap_pam_logon against a hermetic PAM world.
 *
 * Runs the logon under cwrap's pam_wrapper with pam_matrix as the account
 * database, so it needs neither root nor the system's PAM configuration.
 * Started plainly, the binary builds that world itself (a temporary
 * directory with the service files below and a pam_matrix password
 * database),
 * re-runs itself in a child with pam_wrapper preloaded, and removes the
 * directory afterwards whatever the child's fate.
 */

#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <security/pam_appl.h>

#include "certmap_pam.h"

#define LIBDIR          "/usr/lib/x86_64-linux-gnu"
#define PAM_WRAPPER_LIB LIBDIR "/libpam_wrapper.so"
#define PAM_MATRIX      LIBDIR "/pam_wrapper/pam_matrix.so"
/* tests/pam/pam_certmap_test.c, built by the Makefile. */
#ifndef CERTMAP_TEST_PAM_MODULE
#error "define CERTMAP_TEST_PAM_MODULE as the path of pam_certmap_test.so"
#endif

#define USER      "alice"
#define PASSWORD  "Corr3ct-h0rse-battery"
#define STRANGER  "mallory"
#define ECHO_USER   "carol"
#define PAM_DENY  LIBDIR "/security/pam_deny.so"

/* Service name, then its stack; @PASSDB@ and @MODDIR@ are filled in. */
static const char *const services[][2] = {
    { "certmap-ok",
      "auth    required @MATRIX@ passdb=@PASSDB@ verbose\n"
      "account required @MATRIX@ passdb=@PASSDB@ verbose\n" },
    /* A module that prompts with echo on: never answered with the
     * password. */
    { "certmap-echo",
      "auth    required @MATRIX@ passdb=@PASSDB@ echo\n"
      "account required @MATRIX@ passdb=@PASSDB@\n" },
    /* Info and error messages in the same conversation as the prompt
     * get empty replies; the prompt gets the password. */
    { "certmap-batch",
      "auth    required @TESTMOD@ mode=batch password=" PASSWORD "\n"
      "account required @TESTMOD@ mode=status code=0\n" },
    /* Prompts that must never be answered: conversation error. */
    { "certmap-echo-on",
      "auth    required @TESTMOD@ mode=echo_on\n"
      "account required @TESTMOD@ mode=status code=0\n" },
    { "certmap-binary",
      "auth    required @TESTMOD@ mode=binary\n"
      "account required @TESTMOD@ mode=status code=0\n" },
    /* The user exists, but pam_matrix allows it for certmap-ok only. */
    { "certmap-elsewhere",
      "auth    required @MATRIX@ passdb=@PASSDB@\n"
      "account required @MATRIX@ passdb=@PASSDB@\n" },
    /* A stack whose module cannot be loaded. */
    { "certmap-broken",
      "auth    required /nonexistent/pam_certmap_missing.so\n"
      "account required /nonexistent/pam_certmap_missing.so\n" },
};

/* ---- the hermetic world (parent side) --------------------------------- */

static char *replace_all(const char *text, const char *from, const char *to)
{
    size_t from_len = strlen(from), to_len = strlen(to), n = 0;
    const char *p;
    char *out, *o;

    for (p = strstr(text, from); p; p = strstr(p + from_len, from)) {
        n++;
    }
    out = malloc(strlen(text) + n * to_len + 1);
    if (out == NULL) {
        return NULL;
    }
    for (o = out; (p = strstr(text, from)) != NULL; text = p + from_len) {
        memcpy(o, text, (size_t)(p - text));
        o += p - text;
        memcpy(o, to, to_len);
        o += to_len;
    }
    strcpy(o, text);
    return out;
}

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return 0;
    }
    ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* How every PAM answer is classified: the one table the module's 401
 * versus 500 decision rests on. */
static const struct {
    int code;
    certmap_pam_result_e expect;
} classes[] = {
    { PAM_SUCCESS,           CERTMAP_PAM_OK },
    { PAM_AUTH_ERR,          CERTMAP_PAM_REFUSED },
    { PAM_USER_UNKNOWN,      CERTMAP_PAM_REFUSED },
    { PAM_ACCT_EXPIRED,      CERTMAP_PAM_REFUSED },
    { PAM_PERM_DENIED,       CERTMAP_PAM_REFUSED },
    { PAM_NEW_AUTHTOK_REQD,  CERTMAP_PAM_REFUSED },
    { PAM_MAXTRIES,          CERTMAP_PAM_REFUSED },
    { PAM_AUTHINFO_UNAVAIL,  CERTMAP_PAM_REFUSED },
    { PAM_CRED_INSUFFICIENT, CERTMAP_PAM_REFUSED },
    { PAM_SYSTEM_ERR,        CERTMAP_PAM_ERROR },
    { PAM_SERVICE_ERR,       CERTMAP_PAM_ERROR },
    { PAM_BUF_ERR,           CERTMAP_PAM_ERROR },
    { PAM_ABORT,             CERTMAP_PAM_ERROR },
    { PAM_CONV_ERR,          CERTMAP_PAM_ERROR },
    { PAM_CRED_ERR,          CERTMAP_PAM_ERROR },
    { PAM_AUTHTOK_ERR,       CERTMAP_PAM_ERROR },
    { PAM_MODULE_UNKNOWN,    CERTMAP_PAM_ERROR },
};

/* One service per code: account management answers that code. */
static int write_status_services(const char *dir)
{
    char name[64], stack[PATH_MAX + 128];
    size_t i;

    for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
        snprintf(name, sizeof(name), "certmap-status-%d", classes[i].code);
        snprintf(stack, sizeof(stack), "account required %s mode=status "
                 "code=%d\n", CERTMAP_TEST_PAM_MODULE, classes[i].code);
        if (!write_file(dir, name, stack)) {
            return 0;
        }
    }
    return 1;
}

static int write_world(const char *dir)
{
    char passdb[PATH_MAX];
    size_t i;

    snprintf(passdb, sizeof(passdb), "%s/passdb", dir);
    /* pam_matrix knows one service per user: the first line wins. */
    if (!write_file(dir, "passdb", USER ":" PASSWORD ":certmap-ok\n"
                    ECHO_USER ":" PASSWORD ":certmap-echo\n"
                    "bob:other-pw:certmap-ok\n")
        || !write_file(dir, "other", "auth    required " PAM_DENY "\n"
                       "account required " PAM_DENY "\n")) {
        return 0;
    }
    if (!write_status_services(dir)) {
        return 0;
    }
    for (i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
        char *a = replace_all(services[i][1], "@PASSDB@", passdb);
        char *b = a ? replace_all(a, "@MATRIX@", PAM_MATRIX) : NULL;
        char *c = b ? replace_all(b, "@TESTMOD@", CERTMAP_TEST_PAM_MODULE)
                    : NULL;
        int ok = c && write_file(dir, services[i][0], c);

        free(a);
        free(b);
        free(c);
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

/* Builds the world, runs this binary again under pam_wrapper, cleans up. */
static int run_wrapped(char *argv0)
{
    char dir[] = "/tmp/certmap-pamw-XXXXXX";
    const char *asan = getenv("ASAN_OPTIONS");
    char asan_opts[1024];
    pid_t pid;
    int status = 1;

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    if (!write_world(dir)) {
        nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        return 1;
    }
    /* The sanitizer runtime wants to be first in the library list;
     * pam_wrapper is preloaded ahead of it, which is harmless here. */
    snprintf(asan_opts, sizeof(asan_opts), "%s%sverify_asan_link_order=0",
             asan ? asan : "", asan ? ":" : "");
    pid = fork();
    if (pid == 0) {
        setenv("PAM_WRAPPER", "1", 1);
        setenv("PAM_WRAPPER_SERVICE_DIR", dir, 1);
        /* Sanitizers cannot live with RTLD_DEEPBIND; pam_wrapper 1.1.4
         * (Debian 12) reads the variable under uid_wrapper's name. */
        setenv("PAM_WRAPPER_DISABLE_DEEPBIND", "1", 1);
        setenv("UID_WRAPPER_DISABLE_DEEPBIND", "1", 1);
        setenv("LD_PRELOAD", PAM_WRAPPER_LIB, 1);
        setenv("ASAN_OPTIONS", asan_opts, 1);
        execl("/proc/self/exe", argv0, (char *)NULL);
        perror("execl");
        _exit(127);
    }
    if (pid > 0 && waitpid(pid, &status, 0) == pid) {
        status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    }
    else {
        status = 1;
    }
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return status;
}

/* ---- the tests (child side, under pam_wrapper) ------------------------ */

typedef struct {
    certmap_pam_result_e result;
    int pam_status;
    char message[256];
} logon_t;

static logon_t logon(const char *service, const char *user,
                     const char *password)
{
    logon_t l;

    memset(&l, 0x5a, sizeof(l));        /* catch fields left unset */
    l.result = certmap_pam_logon(service, user, password, "192.0.2.7",
                                 &l.pam_status, l.message, sizeof(l.message));
    /* Whatever happened, the secret is not in the text for the log. */
    assert_null(strstr(l.message, PASSWORD));
    assert_null(strstr(l.message, "wrong-password"));
    assert_non_null(memchr(l.message, '\0', sizeof(l.message)));
    return l;
}

static void test_right_password(void **state)
{
    logon_t l = logon("certmap-ok", USER, PASSWORD);

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_OK);
    assert_int_equal(l.pam_status, PAM_SUCCESS);
}

static void test_wrong_password(void **state)
{
    logon_t l = logon("certmap-ok", USER, "wrong-password");

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_REFUSED);
    assert_int_not_equal(l.pam_status, PAM_SUCCESS);
    assert_true(l.message[0] != '\0');
}

static void test_other_users_password(void **state)
{
    logon_t l = logon("certmap-ok", USER, "other-pw");

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_REFUSED);
}

static void test_account_only_known(void **state)
{
    logon_t l = logon("certmap-ok", USER, NULL);

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_OK);
    assert_int_equal(l.pam_status, PAM_SUCCESS);
}

static void test_unknown_user(void **state)
{
    logon_t l = logon("certmap-ok", STRANGER, PASSWORD);

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_REFUSED);
    assert_true(l.message[0] != '\0');
}

static void test_unknown_user_account_only(void **state)
{
    logon_t l = logon("certmap-ok", STRANGER, NULL);

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_REFUSED);
    assert_true(l.message[0] != '\0');
}

static void test_account_not_allowed_for_service(void **state)
{
    logon_t l = logon("certmap-elsewhere", USER, NULL);

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_REFUSED);
}

static void test_echo_on_prompt_not_answered(void **state)
{
    logon_t l = logon("certmap-echo", ECHO_USER, PASSWORD);

    (void)state;
    /* pam_matrix turns our PAM_CONV_ERR into PAM_AUTHINFO_UNAVAIL. */
    assert_int_not_equal(l.result, CERTMAP_PAM_OK);
    assert_int_not_equal(l.pam_status, PAM_SUCCESS);
}

static void test_batched_messages(void **state)
{
    logon_t l = logon("certmap-batch", USER, PASSWORD);

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_OK);
    l = logon("certmap-batch", USER, "wrong-password");
    assert_int_equal(l.result, CERTMAP_PAM_REFUSED);
}

static void test_unanswerable_prompts(void **state)
{
    logon_t l = logon("certmap-echo-on", USER, PASSWORD);

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_ERROR);
    assert_int_equal(l.pam_status, PAM_CONV_ERR);
    assert_true(l.message[0] != '\0');
    l = logon("certmap-binary", USER, PASSWORD);
    assert_int_equal(l.result, CERTMAP_PAM_ERROR);
    assert_int_equal(l.pam_status, PAM_CONV_ERR);
}

static void test_classification(void **state)
{
    char service[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
        logon_t l;

        snprintf(service, sizeof(service), "certmap-status-%d",
                 classes[i].code);
        l = logon(service, USER, NULL);
        if (l.result != classes[i].expect || l.pam_status != classes[i].code) {
            fail_msg("PAM code %d: result %d, status %d; expected %d",
                     classes[i].code, l.result, l.pam_status,
                     classes[i].expect);
        }
        if (classes[i].expect != CERTMAP_PAM_OK) {
            assert_true(l.message[0] != '\0');
        }
    }
}

static void test_broken_stack(void **state)
{
    logon_t l = logon("certmap-broken", USER, PASSWORD);

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_ERROR);
    assert_true(l.message[0] != '\0');
    l = logon("certmap-broken", USER, NULL);
    assert_int_equal(l.result, CERTMAP_PAM_ERROR);
    assert_true(l.message[0] != '\0');
}

static void test_bad_arguments(void **state)
{
    logon_t l = logon("certmap-ok", "", PASSWORD);

    (void)state;
    assert_int_equal(l.result, CERTMAP_PAM_ERROR);
    assert_true(l.message[0] != '\0');
    /* No outputs at all must not crash. */
    assert_int_equal(certmap_pam_logon(NULL, USER, NULL, NULL, NULL, NULL, 0),
                     CERTMAP_PAM_ERROR);
    assert_int_equal(certmap_pam_logon("certmap-ok", USER, PASSWORD, NULL,
                                       NULL, NULL, 0), CERTMAP_PAM_OK);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_right_password),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_other_users_password),
        cmocka_unit_test(test_account_only_known),
        cmocka_unit_test(test_unknown_user),
        cmocka_unit_test(test_unknown_user_account_only),
        cmocka_unit_test(test_account_not_allowed_for_service),
        cmocka_unit_test(test_echo_on_prompt_not_answered),
        cmocka_unit_test(test_batched_messages),
        cmocka_unit_test(test_unanswerable_prompts),
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_broken_stack),
        cmocka_unit_test(test_bad_arguments),
    };

    (void)argc;
    if (getenv("PAM_WRAPPER") == NULL) {
        return run_wrapped(argv[0]);
    }
    return cmocka_run_group_tests_name("certmap_pam under pam_wrapper",
                                       tests, NULL, NULL);
}
