/* Licensed under the Apache License, Version 2.0.
 *
 * test_logond.c — the logon helper (certmap_logond.c) alone: its wire
 * format, and its client and server talking over a real Unix socket with
 * real PAM (certmap_pam_logon) under pam_wrapper + pam_matrix.  A hung
 * PAM stack is pam_exec running a script that sleeps.
 *
 * Started plainly, the binary builds its world (a temporary directory
 * with the PAM services, the pam_matrix database and the sleeping
 * script), re-runs itself with pam_wrapper preloaded, and removes the
 * directory afterwards.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <security/pam_appl.h>

#include "certmap_logond.h"

#define LIBDIR          "/usr/lib/x86_64-linux-gnu"
#define PAM_WRAPPER_LIB LIBDIR "/libpam_wrapper.so"
#define PAM_MATRIX      LIBDIR "/pam_wrapper/pam_matrix.so"
#define PAM_EXEC        LIBDIR "/security/pam_exec.so"

#define USER      "alice"
#define PASSWORD  "Corr3ct-h0rse-battery"
#define SLOTS     2
#define QUEUE     2

static char world[1024];        /* sockets and the hung script's pids (not
                                   in the service directory, which
                                   pam_wrapper copies) */

/* ---- the hermetic world (parent side) ----------------------------------- */

static int write_file(const char *dir, const char *name, const char *text,
                      mode_t mode)
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
    return fclose(f) == 0 && ok && chmod(path, mode) == 0;
}

static int write_world(const char *dir, const char *run)
{
    char text[3 * PATH_MAX];

    snprintf(text, sizeof(text),
             "auth    required " PAM_MATRIX " passdb=%s/passdb\n"
             "account required " PAM_MATRIX " passdb=%s/passdb\n", dir, dir);
    if (!write_file(dir, "passdb", USER ":" PASSWORD ":certmap-ok\n", 0600)
        || !write_file(dir, "certmap-ok", text, 0644)) {
        return 0;
    }
    /* a stack that never answers: the script records its pid, then
     * sleeps far past any timeout here */
    snprintf(text, sizeof(text), "#!/bin/sh\necho $$ >> %s/hang.pids\n"
             "exec sleep 60\n", run);
    if (!write_file(dir, "hang.sh", text, 0755)) {
        return 0;
    }
    snprintf(text, sizeof(text),
             "auth    required " PAM_EXEC " %s/hang.sh\n"
             "account required " PAM_EXEC " %s/hang.sh\n", dir, dir);
    return write_file(dir, "certmap-hang", text, 0644)
           && write_file(dir, "certmap-broken",
                         "auth    required /nonexistent/pam_missing.so\n"
                         "account required /nonexistent/pam_missing.so\n",
                         0644);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static int run_wrapped(char *argv0)
{
    char dir[] = "/tmp/certmap-logond-XXXXXX";
    char run[] = "/tmp/certmap-logond-run-XXXXXX";
    const char *asan = getenv("ASAN_OPTIONS");
    char asan_opts[1024];
    pid_t pid;
    int status = 1;

    if (mkdtemp(dir) == NULL || mkdtemp(run) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    chmod(run, 0755);       /* a stranger's client must reach a socket */
    if (!write_world(dir, run)) {
        nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        nftw(run, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        return 1;
    }
    snprintf(asan_opts, sizeof(asan_opts), "%s%sverify_asan_link_order=0",
             asan ? asan : "", asan ? ":" : "");
    pid = fork();
    if (pid == 0) {
        setenv("PAM_WRAPPER", "1", 1);
        setenv("PAM_WRAPPER_SERVICE_DIR", dir, 1);
        setenv("PAM_WRAPPER_DISABLE_DEEPBIND", "1", 1);
        setenv("UID_WRAPPER_DISABLE_DEEPBIND", "1", 1);
        setenv("LD_PRELOAD", PAM_WRAPPER_LIB, 1);
        setenv("ASAN_OPTIONS", asan_opts, 1);
        setenv("CERTMAP_LOGOND_RUN", run, 1);
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
    nftw(run, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return status;
}

/* ---- wire format ------------------------------------------------------------ */

static void test_request_round_trip(void **state)
{
    unsigned char buf[CERTMAP_LOGOND_MAX_REQUEST];
    certmap_logond_req_t req;
    size_t len, used = 0;

    (void)state;
    len = certmap_logond_encode_request(buf, sizeof(buf), 2500, "certmap",
                                        "alice@EXAMPLE", "pw", "192.0.2.1");
    assert_true(len > 0);
    memset(&req, 0x5a, sizeof(req));
    assert_int_equal(certmap_logond_decode_request(buf, len, &req, &used),
                     CERTMAP_LOGOND_DONE);
    assert_int_equal(used, len);
    assert_int_equal(req.timeout_ms, 2500);
    assert_string_equal(req.service, "certmap");
    assert_string_equal(req.account, "alice@EXAMPLE");
    assert_true(req.has_password);
    assert_string_equal(req.password, "pw");
    assert_true(req.has_rhost);
    assert_string_equal(req.rhost, "192.0.2.1");

    /* no password, no rhost: absent, not empty */
    len = certmap_logond_encode_request(buf, sizeof(buf), 1, "s", "a", NULL,
                                        NULL);
    assert_true(len > 0);
    assert_int_equal(certmap_logond_decode_request(buf, len, &req, &used),
                     CERTMAP_LOGOND_DONE);
    assert_false(req.has_password);
    assert_false(req.has_rhost);
    assert_string_equal(req.password, "");

    /* an empty password is a password */
    len = certmap_logond_encode_request(buf, sizeof(buf), 1, "s", "a", "",
                                        NULL);
    assert_int_equal(certmap_logond_decode_request(buf, len, &req, &used),
                     CERTMAP_LOGOND_DONE);
    assert_true(req.has_password);
    certmap_logond_wipe_request(&req);
    assert_string_equal(req.password, "");
}

static void test_request_limits(void **state)
{
    unsigned char buf[CERTMAP_LOGOND_MAX_REQUEST];
    char big[CERTMAP_LOGOND_MAX_PASSWORD + 2];
    certmap_logond_req_t req;
    size_t len;

    (void)state;
    /* the longest of everything fits the largest request */
    {
        char svc[CERTMAP_LOGOND_MAX_SERVICE + 1], acct[CERTMAP_LOGOND_MAX_ACCOUNT + 1];
        char pw[CERTMAP_LOGOND_MAX_PASSWORD + 1], rh[CERTMAP_LOGOND_MAX_RHOST + 1];

        memset(svc, 's', sizeof(svc) - 1);
        svc[sizeof(svc) - 1] = '\0';
        memset(acct, 'a', sizeof(acct) - 1);
        acct[sizeof(acct) - 1] = '\0';
        memset(pw, 'p', sizeof(pw) - 1);
        pw[sizeof(pw) - 1] = '\0';
        memset(rh, 'r', sizeof(rh) - 1);
        rh[sizeof(rh) - 1] = '\0';
        len = certmap_logond_encode_request(buf, sizeof(buf), 10000, svc,
                                            acct, pw, rh);
        assert_int_equal(len, CERTMAP_LOGOND_MAX_REQUEST);
        assert_int_equal(certmap_logond_decode_request(buf, len, &req, NULL),
                         CERTMAP_LOGOND_DONE);
        assert_string_equal(req.password, pw);
        /* one byte more anywhere is refused, never cut */
        svc[sizeof(svc) - 2] = '\0';
        memset(big, 'p', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(certmap_logond_encode_request(buf, sizeof(buf), 1,
                         svc, acct, big, NULL), 0);
    }
    memset(big, 's', sizeof(big));
    big[CERTMAP_LOGOND_MAX_SERVICE + 1] = '\0';
    assert_int_equal(certmap_logond_encode_request(buf, sizeof(buf), 1, big,
                                                   "a", NULL, NULL), 0);
    assert_int_equal(certmap_logond_encode_request(buf, sizeof(buf), 1, "",
                                                   "a", NULL, NULL), 0);
    assert_int_equal(certmap_logond_encode_request(buf, sizeof(buf), 1, "s",
                                                   "", NULL, NULL), 0);
    assert_int_equal(certmap_logond_encode_request(buf, sizeof(buf), 1, NULL,
                                                   "a", NULL, NULL), 0);
    assert_int_equal(certmap_logond_encode_request(buf, sizeof(buf), 0, "s",
                                                   "a", NULL, NULL), 0);
    /* too small a buffer */
    assert_int_equal(certmap_logond_encode_request(buf, 20, 1, "service",
                                                   "account", NULL, NULL), 0);
}

static void test_request_partial(void **state)
{
    unsigned char buf[CERTMAP_LOGOND_MAX_REQUEST];
    certmap_logond_req_t req;
    size_t len, i;

    (void)state;
    len = certmap_logond_encode_request(buf, sizeof(buf), 100, "certmap",
                                        "bob", "secret", "::1");
    for (i = 0; i < len; i++) {
        assert_int_equal(certmap_logond_decode_request(buf, i, &req, NULL),
                         CERTMAP_LOGOND_MORE);
    }
    assert_int_equal(certmap_logond_decode_request(buf, len, &req, NULL),
                     CERTMAP_LOGOND_DONE);
}

/* Returns a fresh valid request in buf for the malformation tests. */
static size_t fresh(unsigned char *buf)
{
    return certmap_logond_encode_request(buf, CERTMAP_LOGOND_MAX_REQUEST, 100,
                                         "svc", "acct", "pw", "host");
}

static void test_request_malformed(void **state)
{
    unsigned char buf[CERTMAP_LOGOND_MAX_REQUEST];
    certmap_logond_req_t req;
    size_t len;

    (void)state;
    /* a wrong magic is refused from its first byte */
    buf[0] = 'X';
    assert_int_equal(certmap_logond_decode_request(buf, 1, &req, NULL),
                     CERTMAP_LOGOND_BAD);
    len = fresh(buf);
    buf[4] = 2;                                 /* version */
    assert_int_equal(certmap_logond_decode_request(buf, len, &req, NULL),
                     CERTMAP_LOGOND_BAD);
    len = fresh(buf);
    buf[5] |= 0x80;                             /* unknown flag */
    assert_int_equal(certmap_logond_decode_request(buf, len, &req, NULL),
                     CERTMAP_LOGOND_BAD);
    len = fresh(buf);
    buf[6] = 1;                                 /* reserved byte */
    assert_int_equal(certmap_logond_decode_request(buf, len, &req, NULL),
                     CERTMAP_LOGOND_BAD);
    len = fresh(buf);
    memset(buf + 8, 0, 4);                      /* timeout 0 */
    assert_int_equal(certmap_logond_decode_request(buf, len, &req, NULL),
                     CERTMAP_LOGOND_BAD);
    len = fresh(buf);
    buf[8] = 0xff;                              /* timeout > 1 hour */
    assert_int_equal(certmap_logond_decode_request(buf, len, &req, NULL),
                     CERTMAP_LOGOND_BAD);
    len = fresh(buf);
    buf[12 + 2 + 1] = '\0';                     /* NUL inside "svc" */
    assert_int_equal(certmap_logond_decode_request(buf, len, &req, NULL),
                     CERTMAP_LOGOND_BAD);
    len = fresh(buf);
    buf[5] &= (unsigned char)~1;                /* password bytes, no flag */
    assert_int_equal(certmap_logond_decode_request(buf, len, &req, NULL),
                     CERTMAP_LOGOND_BAD);
    len = fresh(buf);
    buf[12] = 0x01;                             /* service length 259 */
    assert_int_equal(certmap_logond_decode_request(buf, len, &req, NULL),
                     CERTMAP_LOGOND_BAD);
    len = fresh(buf);
    buf[13] = 0;                                /* empty service */
    assert_int_not_equal(certmap_logond_decode_request(buf, len, &req, NULL),
                         CERTMAP_LOGOND_DONE);
}

static void test_answer_round_trip(void **state)
{
    unsigned char buf[CERTMAP_LOGOND_MAX_ANSWER];
    certmap_logond_answer_t a, b;
    size_t len, used, i;

    (void)state;
    memset(&a, 0, sizeof(a));
    a.result = CERTMAP_PAM_REFUSED;
    a.pam_status = PAM_AUTH_ERR;
    snprintf(a.message, sizeof(a.message), "Authentication failure");
    len = certmap_logond_encode_answer(buf, sizeof(buf), &a);
    assert_true(len > 0);
    for (i = 0; i < len; i++) {
        assert_int_equal(certmap_logond_decode_answer(buf, i, &b, NULL),
                         CERTMAP_LOGOND_MORE);
    }
    assert_int_equal(certmap_logond_decode_answer(buf, len, &b, &used),
                     CERTMAP_LOGOND_DONE);
    assert_int_equal(used, len);
    assert_int_equal(b.result, CERTMAP_PAM_REFUSED);
    assert_int_equal(b.pam_status, PAM_AUTH_ERR);
    assert_string_equal(b.message, "Authentication failure");

    a.result = CERTMAP_PAM_ERROR;
    a.pam_status = -1;
    memset(a.message, 'm', sizeof(a.message) - 1);
    a.message[sizeof(a.message) - 1] = '\0';
    len = certmap_logond_encode_answer(buf, sizeof(buf), &a);
    assert_int_equal(len, CERTMAP_LOGOND_MAX_ANSWER);
    assert_int_equal(certmap_logond_decode_answer(buf, len, &b, NULL),
                     CERTMAP_LOGOND_DONE);
    assert_int_equal(b.result, CERTMAP_PAM_ERROR);
    assert_int_equal(b.pam_status, -1);
    assert_int_equal(strlen(b.message), CERTMAP_LOGOND_MAX_MESSAGE);

    a.result = CERTMAP_PAM_OK;
    a.pam_status = 0;
    a.message[0] = '\0';
    len = certmap_logond_encode_answer(buf, sizeof(buf), &a);
    assert_int_equal(certmap_logond_decode_answer(buf, len, &b, NULL),
                     CERTMAP_LOGOND_DONE);
    assert_int_equal(b.result, CERTMAP_PAM_OK);
    /* an unknown result code is never read as a grant */
    buf[5] = 3;
    assert_int_equal(certmap_logond_decode_answer(buf, len, &b, NULL),
                     CERTMAP_LOGOND_BAD);
    /* a request is not an answer */
    memcpy(buf, "CMLQ", 4);
    buf[5] = 0;
    assert_int_equal(certmap_logond_decode_answer(buf, len, &b, NULL),
                     CERTMAP_LOGOND_BAD);
}

/* ---- client and server -------------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct {
    char path[PATH_MAX];
    pid_t pid;
} server_t;

/* Every helper started, so that a failed test (which skips its
 * server_stop) leaves none behind. */
static pid_t started[64];
static int nstarted;

static void server_log(void *baton, int level, const char *message)
{
    (void)baton;
    fprintf(stderr, "  [logond %d] %s\n", level, message);
}

/* A helper on a fresh socket, in a process of its own; peer_uid -1
 * means "this process's user". */
static void server_start(server_t *s, unsigned int slots, uid_t peer_uid,
                         int world_writable)
{
    struct sockaddr_un sun;
    static int n;
    int fd;

    snprintf(s->path, sizeof(s->path), "%s/sock%d", world, n++);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    assert_true(strlen(s->path) < sizeof(sun.sun_path));
    strcpy(sun.sun_path, s->path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(chmod(s->path, world_writable ? 0666 : 0600), 0);
    assert_int_equal(listen(fd, (int)slots), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid > 0 && nstarted < 64) {
        started[nstarted++] = s->pid;
    }
    if (s->pid == 0) {
        certmap_logond_opts_t o;

        memset(&o, 0, sizeof(o));
        o.listen_fd = fd;
        o.slots = slots;
        o.queue = QUEUE;
        o.peer_uid = peer_uid == (uid_t)-1 ? geteuid() : peer_uid;
        o.logon = certmap_pam_logon;
        o.log = server_log;
        _exit(certmap_logond_serve(&o) == 0 ? 0 : 3);
    }
    close(fd);
}

/* Stops the helper; it must end by itself (SIGTERM), in time. */
static void server_stop(server_t *s)
{
    long long t0 = now_ms();
    int status = 0;

    kill(s->pid, SIGTERM);
    while (waitpid(s->pid, &status, WNOHANG) == 0) {
        assert_true(now_ms() - t0 < 5000);
        usleep(10000);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    unlink(s->path);
}

typedef struct {
    certmap_logond_call_e rc;
    certmap_logond_answer_t a;
    long long ms;
} call_t;

static call_t call(const server_t *s, unsigned int timeout_ms,
                   const char *service, const char *user,
                   const char *password)
{
    long long t0 = now_ms();
    call_t c;
    int err;

    memset(&c, 0x5a, sizeof(c));
    c.rc = certmap_logond_call(s->path, timeout_ms, service, user, password,
                               "192.0.2.7", &c.a, &err);
    c.ms = now_ms() - t0;
    /* the secret never comes back in the text for the log */
    assert_null(strstr(c.a.message, PASSWORD));
    assert_non_null(memchr(c.a.message, '\0', sizeof(c.a.message)));
    if (c.rc != CERTMAP_LOGOND_ANSWERED) {
        assert_int_equal(c.a.result, CERTMAP_PAM_ERROR);
    }
    return c;
}

static void test_logons(void **state)
{
    server_t s;
    call_t c;

    (void)state;
    server_start(&s, SLOTS, (uid_t)-1, 0);
    c = call(&s, 5000, "certmap-ok", USER, PASSWORD);
    assert_int_equal(c.rc, CERTMAP_LOGOND_ANSWERED);
    assert_int_equal(c.a.result, CERTMAP_PAM_OK);
    assert_int_equal(c.a.pam_status, PAM_SUCCESS);
    c = call(&s, 5000, "certmap-ok", USER, "wrong-password");
    assert_int_equal(c.rc, CERTMAP_LOGOND_ANSWERED);
    assert_int_equal(c.a.result, CERTMAP_PAM_REFUSED);
    assert_true(c.a.message[0] != '\0');
    c = call(&s, 5000, "certmap-ok", USER, NULL);
    assert_int_equal(c.rc, CERTMAP_LOGOND_ANSWERED);
    assert_int_equal(c.a.result, CERTMAP_PAM_OK);
    c = call(&s, 5000, "certmap-ok", "mallory", NULL);
    assert_int_equal(c.rc, CERTMAP_LOGOND_ANSWERED);
    assert_int_equal(c.a.result, CERTMAP_PAM_REFUSED);
    c = call(&s, 5000, "certmap-broken", USER, PASSWORD);
    assert_int_equal(c.rc, CERTMAP_LOGOND_ANSWERED);
    assert_int_equal(c.a.result, CERTMAP_PAM_ERROR);
    assert_int_not_equal(c.a.pam_status, PAM_SUCCESS);
    server_stop(&s);
    /* nobody listening: unavailable after the short retry window that
     * bridges a restart (about 1 s), not after the whole timeout */
    c = call(&s, 5000, "certmap-ok", USER, PASSWORD);
    assert_int_equal(c.rc, CERTMAP_LOGOND_UNAVAILABLE);
    assert_true(c.ms >= 900 && c.ms < 2000);
}

/* Every process the hung stack started (the script records its pid) is
 * gone or a zombie of someone else's within a second of the deadline. */
static void assert_hang_scripts_ended(void)
{
    char path[PATH_MAX];
    long pid;
    FILE *f;

    snprintf(path, sizeof(path), "%s/hang.pids", world);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fscanf(f, "%ld", &pid) == 1) {
        long long t0 = now_ms();
        char stat_path[64], st[512];

        snprintf(stat_path, sizeof(stat_path), "/proc/%ld/stat", pid);
        for (;;) {
            FILE *p = fopen(stat_path, "r");
            char *close_paren;
            int alive;

            if (!p) {
                break;
            }
            alive = fgets(st, sizeof(st), p) != NULL
                    && (close_paren = strrchr(st, ')')) != NULL
                    && close_paren[2] != 'Z';
            fclose(p);
            if (!alive) {
                break;
            }
            assert_true(now_ms() - t0 < 1500);
            usleep(20000);
        }
    }
    fclose(f);
    unlink(path);
}

static void test_hung_stack_times_out(void **state)
{
    server_t s;
    call_t c;

    (void)state;
    server_start(&s, SLOTS, (uid_t)-1, 0);
    c = call(&s, 700, "certmap-hang", USER, PASSWORD);
    assert_int_equal(c.rc, CERTMAP_LOGOND_TIMEOUT);
    assert_true(c.ms >= 650 && c.ms < 1500);
    /* the helper killed it, script and all, and serves on */
    assert_hang_scripts_ended();
    c = call(&s, 5000, "certmap-ok", USER, PASSWORD);
    assert_int_equal(c.rc, CERTMAP_LOGOND_ANSWERED);
    assert_int_equal(c.a.result, CERTMAP_PAM_OK);
    server_stop(&s);
}

/* Runs `n` calls at once, each in a process of its own. */
static void parallel(const server_t *s, int n, unsigned int timeout_ms,
                     const char *service, call_t *out)
{
    pid_t pids[16];
    int fds[16][2];
    int i;

    assert_true(n <= 16);
    for (i = 0; i < n; i++) {
        assert_int_equal(pipe(fds[i]), 0);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            call_t c = call(s, timeout_ms, service, USER, PASSWORD);
            ssize_t w = write(fds[i][1], &c, sizeof(c));

            _exit(w == (ssize_t)sizeof(c) ? 0 : 1);
        }
        close(fds[i][1]);
    }
    for (i = 0; i < n; i++) {
        assert_int_equal(read(fds[i][0], &out[i], sizeof(out[i])),
                         (ssize_t)sizeof(out[i]));
        close(fds[i][0]);
        waitpid(pids[i], NULL, 0);
    }
}

/* SLOTS hung logons hold every slot: a good logon waits for one (it is
 * queued, not refused), and gets it when the helper kills a hung one at
 * its deadline. */
static void test_slots_freed_at_deadline(void **state)
{
    server_t s;
    call_t hung[SLOTS], c;
    pid_t pid;
    int fds[2], i;

    (void)state;
    server_start(&s, SLOTS, (uid_t)-1, 0);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        call_t h[SLOTS];

        parallel(&s, SLOTS, 1000, "certmap-hang", h);
        _exit(write(fds[1], h, sizeof(h)) == (ssize_t)sizeof(h) ? 0 : 1);
    }
    close(fds[1]);
    usleep(300000);             /* the hung ones hold the slots now */
    c = call(&s, 4000, "certmap-ok", USER, PASSWORD);
    assert_int_equal(c.rc, CERTMAP_LOGOND_ANSWERED);
    assert_int_equal(c.a.result, CERTMAP_PAM_OK);
    /* it waited for the first deadline (about 700 ms from here) */
    assert_true(c.ms >= 500);
    assert_true(c.ms < 2500);
    assert_int_equal(read(fds[0], hung, sizeof(hung)), (ssize_t)sizeof(hung));
    close(fds[0]);
    waitpid(pid, NULL, 0);
    for (i = 0; i < SLOTS; i++) {
        assert_int_equal(hung[i].rc, CERTMAP_LOGOND_TIMEOUT);
        assert_true(hung[i].ms < 2000);
    }
    assert_hang_scripts_ended();
    server_stop(&s);
}

/* A flood of hung logons: at most slots + queue + the socket's backlog
 * wait, every other one is refused at once (BUSY), none is granted, and
 * none waits past its timeout. */
static void test_flood_is_bounded(void **state)
{
    enum { FLOOD = 14 };
    server_t s;
    call_t c[FLOOD];
    int i, busy = 0, waited = 0;

    (void)state;
    server_start(&s, SLOTS, (uid_t)-1, 0);
    parallel(&s, FLOOD, 1000, "certmap-hang", c);
    for (i = 0; i < FLOOD; i++) {
        assert_int_not_equal(c[i].rc, CERTMAP_LOGOND_ANSWERED);
        assert_true(c[i].ms < 1800);
        if (c[i].rc == CERTMAP_LOGOND_BUSY) {
            busy++;
            assert_true(c[i].ms < 300);
        }
        else {
            assert_int_equal(c[i].rc, CERTMAP_LOGOND_TIMEOUT);
            waited++;
        }
    }
    printf("  flood of %d hung logons, %d slots, queue %d: %d waited, "
           "%d refused at once\n", FLOOD, SLOTS, QUEUE, waited, busy);
    /* running + queued + backlog (listen(slots) holds slots + 1) */
    assert_true(waited <= SLOTS + QUEUE + SLOTS + 1);
    assert_true(busy >= FLOOD - (SLOTS + QUEUE + SLOTS + 1));
    assert_hang_scripts_ended();
    /* and it recovers: the clients that gave up are dropped, not run */
    usleep(200000);
    c[0] = call(&s, 4000, "certmap-ok", USER, PASSWORD);
    assert_int_equal(c[0].rc, CERTMAP_LOGOND_ANSWERED);
    assert_int_equal(c[0].a.result, CERTMAP_PAM_OK);
    server_stop(&s);
}

/* Not a pass/fail criterion beyond "every logon succeeds": what the
 * helper adds to a logon (a socket round trip and a fork), for the notes.
 * Built with sanitizers, so both numbers are upper bounds. */
static void test_cost(void **state)
{
    enum { RUNS = 50 };
    server_t s;
    long long t0, t1, t2;
    int i, status;
    char msg[256];

    (void)state;
    server_start(&s, SLOTS, (uid_t)-1, 0);
    t0 = now_ms();
    for (i = 0; i < RUNS; i++) {
        assert_int_equal(certmap_pam_logon("certmap-ok", USER, PASSWORD,
                                           NULL, &status, msg, sizeof(msg)),
                         CERTMAP_PAM_OK);
    }
    t1 = now_ms();
    for (i = 0; i < RUNS; i++) {
        call_t c = call(&s, 5000, "certmap-ok", USER, PASSWORD);

        assert_int_equal(c.rc, CERTMAP_LOGOND_ANSWERED);
        assert_int_equal(c.a.result, CERTMAP_PAM_OK);
    }
    t2 = now_ms();
    printf("  pam_matrix logon: %.2f ms in-process, %.2f ms through the "
           "helper (mean of %d)\n", (double)(t1 - t0) / RUNS,
           (double)(t2 - t1) / RUNS, RUNS);
    server_stop(&s);
}

/* The helper serves root and its one user only. */
static void test_stranger_refused(void **state)
{
    server_t s;
    call_t c;

    (void)state;
    if (geteuid() == 0) {
        pid_t pid;
        int status;

        /* the socket open to all: the uid check alone must refuse */
        server_start(&s, SLOTS, 4242, 1);
        pid = fork();
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) {
                _exit(2);
            }
            c = call(&s, 2000, "certmap-ok", USER, PASSWORD);
            _exit(c.rc == CERTMAP_LOGOND_FAILED ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    else {
        server_start(&s, SLOTS, geteuid() + 1, 1);
        c = call(&s, 2000, "certmap-ok", USER, PASSWORD);
        assert_int_equal(c.rc, CERTMAP_LOGOND_FAILED);
    }
    /* root (or the helper's user) is still served */
    if (geteuid() == 0) {
        c = call(&s, 2000, "certmap-ok", USER, PASSWORD);
        assert_int_equal(c.rc, CERTMAP_LOGOND_ANSWERED);
        assert_int_equal(c.a.result, CERTMAP_PAM_OK);
    }
    server_stop(&s);
}

/* The client talks only to a helper run by root or by its own user. */
static void test_client_checks_helper(void **state)
{
    server_t s;
    call_t c;
    pid_t pid;
    int status;

    (void)state;
    if (geteuid() != 0) {
        skip();
    }
    /* a "helper" that is really user 65534, answering anything */
    snprintf(s.path, sizeof(s.path), "%s/fake", world);
    pid = fork();
    if (pid == 0) {
        struct sockaddr_un sun;
        int fd = socket(AF_UNIX, SOCK_STREAM, 0), cfd;
        certmap_logond_answer_t a;
        unsigned char out[CERTMAP_LOGOND_MAX_ANSWER];
        size_t len;

        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        strcpy(sun.sun_path, s.path);
        /* the socket's credentials are taken at listen() */
        if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0
            || chmod(s.path, 0666) != 0 || setgid(65534) != 0
            || setuid(65534) != 0 || listen(fd, 1) != 0) {
            _exit(2);
        }
        cfd = accept(fd, NULL, NULL);
        memset(&a, 0, sizeof(a));
        a.result = CERTMAP_PAM_OK;
        len = certmap_logond_encode_answer(out, sizeof(out), &a);
        if (cfd >= 0 && write(cfd, out, len) < 0) {
            _exit(3);
        }
        sleep(1);
        _exit(0);
    }
    for (status = 0; status < 100 && access(s.path, F_OK) != 0; status++) {
        usleep(10000);
    }
    usleep(50000);
    c = call(&s, 2000, "certmap-ok", USER, PASSWORD);
    assert_int_equal(c.rc, CERTMAP_LOGOND_FAILED);
    assert_int_equal(c.a.result, CERTMAP_PAM_ERROR);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(s.path);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_request_limits),
        cmocka_unit_test(test_request_partial),
        cmocka_unit_test(test_request_malformed),
        cmocka_unit_test(test_answer_round_trip),
        cmocka_unit_test(test_logons),
        cmocka_unit_test(test_hung_stack_times_out),
        cmocka_unit_test(test_slots_freed_at_deadline),
        cmocka_unit_test(test_flood_is_bounded),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_stranger_refused),
        cmocka_unit_test(test_client_checks_helper),
    };
    const char *dir;
    int rc;

    (void)argc;
    if (getenv("PAM_WRAPPER") == NULL) {
        return run_wrapped(argv[0]);
    }
    dir = getenv("CERTMAP_LOGOND_RUN");
    if (!dir || strlen(dir) >= sizeof(world)) {
        return 1;
    }
    strcpy(world, dir);
    signal(SIGPIPE, SIG_IGN);
    rc = cmocka_run_group_tests_name("certmap_logond: the logon helper",
                                     tests, NULL, NULL);
    while (nstarted > 0) {
        /* its logon processes die with it (PR_SET_PDEATHSIG) */
        kill(started[--nstarted], SIGKILL);
        waitpid(started[nstarted], NULL, 0);
    }
    return rc;
}
