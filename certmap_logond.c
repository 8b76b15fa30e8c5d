/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_logond.c — the logon helper's wire format, its client and its
 * server loop (see certmap_logond.h).  POSIX and libc only: no httpd, no
 * APR, no PAM (the logon itself is a function the caller hands in).
 *
 * Wire format, all integers big-endian:
 *   request: "CMLQ" | version 1 | flags (1 password, 2 rhost) | 0 0 |
 *            timeout_ms u32 | service, account, password, rhost, each
 *            as u16 length + bytes (password/rhost empty when absent)
 *   answer:  "CMLA" | version 1 | result (0 OK, 1 REFUSED, 2 ERROR) |
 *            0 0 | pam_status s32 | message as u16 length + bytes
 *
 * Server: one single-threaded process.  It accepts connections from root
 * and from one configured user only, reads each request without ever
 * blocking on a client, keeps at most `queue` of them waiting, and runs
 * each logon in a forked process of its own (at most `slots` at once):
 * that process answers the client itself and exits.  Every request
 * carries the client's timeout; a logon still running then is killed
 * (its process group: pam_exec's children too), a request still waiting
 * for a slot then is dropped.  So a hung PAM stack holds a slot for at
 * most one timeout, and never anything in httpd.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "certmap_logond.h"

#define LOGOND_VERSION      1
#define LOGOND_F_PASSWORD   0x01
#define LOGOND_F_RHOST      0x02
#define LOGOND_HEADER       12
#define LOGOND_MAX_TIMEOUT  (3600u * 1000u)
/* how long a connected client may take to send its request */
#define LOGOND_READ_MS      2000

/* ---- wire format --------------------------------------------------------- */

static void put16(unsigned char *p, unsigned int v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static unsigned int get16(const unsigned char *p)
{
    return ((unsigned int)p[0] << 8) | p[1];
}

static uint32_t get32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16)
           | ((uint32_t)p[2] << 8) | p[3];
}

/* Appends a u16-length-prefixed string; 0 when it does not fit. */
static int put_str(unsigned char *buf, size_t buflen, size_t *at,
                   const char *s, size_t max)
{
    size_t len = s ? strlen(s) : 0;

    if (len > max || buflen - *at < 2 + len) {
        return 0;
    }
    put16(buf + *at, (unsigned int)len);
    if (len) {
        memcpy(buf + *at + 2, s, len);
    }
    *at += 2 + len;
    return 1;
}

/* Reads a u16-length-prefixed string into out (max bytes + NUL). */
static int get_str(const unsigned char *buf, size_t len, size_t *at,
                   char *out, size_t max)
{
    size_t n;

    if (len - *at < 2) {
        return CERTMAP_LOGOND_MORE;
    }
    n = get16(buf + *at);
    if (n > max) {
        return CERTMAP_LOGOND_BAD;
    }
    if (len - *at - 2 < n) {
        return CERTMAP_LOGOND_MORE;
    }
    if (n && memchr(buf + *at + 2, '\0', n)) {
        return CERTMAP_LOGOND_BAD;
    }
    memcpy(out, buf + *at + 2, n);
    out[n] = '\0';
    *at += 2 + n;
    return CERTMAP_LOGOND_DONE;
}

/* Whether the first `len` bytes agree with a message header: a wrong
 * magic is refused at once, not after waiting for more. */
static int check_magic(const unsigned char *buf, size_t len,
                       const char *magic)
{
    size_t n = len < 4 ? len : 4;

    if (memcmp(buf, magic, n) != 0) {
        return CERTMAP_LOGOND_BAD;
    }
    if (len > 4 && buf[4] != LOGOND_VERSION) {
        return CERTMAP_LOGOND_BAD;
    }
    return len < LOGOND_HEADER ? CERTMAP_LOGOND_MORE : CERTMAP_LOGOND_DONE;
}

size_t certmap_logond_encode_request(unsigned char *buf, size_t buflen,
                                     unsigned int timeout_ms,
                                     const char *service, const char *account,
                                     const char *password, const char *rhost)
{
    size_t at = LOGOND_HEADER;

    if (!buf || buflen < LOGOND_HEADER || !service || !*service
        || !account || !*account || timeout_ms == 0
        || timeout_ms > LOGOND_MAX_TIMEOUT) {
        return 0;
    }
    memcpy(buf, "CMLQ", 4);
    buf[4] = LOGOND_VERSION;
    buf[5] = (unsigned char)((password ? LOGOND_F_PASSWORD : 0)
                             | (rhost ? LOGOND_F_RHOST : 0));
    buf[6] = buf[7] = 0;
    put32(buf + 8, timeout_ms);
    if (!put_str(buf, buflen, &at, service, CERTMAP_LOGOND_MAX_SERVICE)
        || !put_str(buf, buflen, &at, account, CERTMAP_LOGOND_MAX_ACCOUNT)
        || !put_str(buf, buflen, &at, password, CERTMAP_LOGOND_MAX_PASSWORD)
        || !put_str(buf, buflen, &at, rhost, CERTMAP_LOGOND_MAX_RHOST)) {
        explicit_bzero(buf, buflen);
        return 0;
    }
    return at;
}

int certmap_logond_decode_request(const unsigned char *buf, size_t len,
                                  certmap_logond_req_t *req, size_t *used)
{
    size_t at = LOGOND_HEADER;
    int rc = check_magic(buf, len, "CMLQ");

    if (rc != CERTMAP_LOGOND_DONE) {
        return rc;
    }
    if ((buf[5] & ~(LOGOND_F_PASSWORD | LOGOND_F_RHOST)) || buf[6]
        || buf[7]) {
        return CERTMAP_LOGOND_BAD;
    }
    req->timeout_ms = get32(buf + 8);
    if (req->timeout_ms == 0 || req->timeout_ms > LOGOND_MAX_TIMEOUT) {
        return CERTMAP_LOGOND_BAD;
    }
    req->has_password = (buf[5] & LOGOND_F_PASSWORD) != 0;
    req->has_rhost = (buf[5] & LOGOND_F_RHOST) != 0;
    if ((rc = get_str(buf, len, &at, req->service,
                      CERTMAP_LOGOND_MAX_SERVICE)) != CERTMAP_LOGOND_DONE
        || (rc = get_str(buf, len, &at, req->account,
                         CERTMAP_LOGOND_MAX_ACCOUNT)) != CERTMAP_LOGOND_DONE
        || (rc = get_str(buf, len, &at, req->password,
                         CERTMAP_LOGOND_MAX_PASSWORD)) != CERTMAP_LOGOND_DONE
        || (rc = get_str(buf, len, &at, req->rhost,
                         CERTMAP_LOGOND_MAX_RHOST)) != CERTMAP_LOGOND_DONE) {
        return rc;
    }
    if (!req->service[0] || !req->account[0]
        || (!req->has_password && req->password[0])
        || (!req->has_rhost && req->rhost[0])) {
        return CERTMAP_LOGOND_BAD;
    }
    if (used) {
        *used = at;
    }
    return CERTMAP_LOGOND_DONE;
}

size_t certmap_logond_encode_answer(unsigned char *buf, size_t buflen,
                                    const certmap_logond_answer_t *a)
{
    size_t mlen = strnlen(a->message, sizeof(a->message));

    if (!buf || buflen < LOGOND_HEADER + 2) {
        return 0;
    }
    if (mlen > CERTMAP_LOGOND_MAX_MESSAGE) {
        mlen = CERTMAP_LOGOND_MAX_MESSAGE;
    }
    if (buflen - LOGOND_HEADER - 2 < mlen) {
        return 0;
    }
    memcpy(buf, "CMLA", 4);
    buf[4] = LOGOND_VERSION;
    switch (a->result) {
    case CERTMAP_PAM_OK:
        buf[5] = 0;
        break;
    case CERTMAP_PAM_REFUSED:
        buf[5] = 1;
        break;
    default:
        buf[5] = 2;
        break;
    }
    buf[6] = buf[7] = 0;
    put32(buf + 8, (uint32_t)a->pam_status);
    put16(buf + LOGOND_HEADER, (unsigned int)mlen);
    memcpy(buf + LOGOND_HEADER + 2, a->message, mlen);
    return LOGOND_HEADER + 2 + mlen;
}

int certmap_logond_decode_answer(const unsigned char *buf, size_t len,
                                 certmap_logond_answer_t *a, size_t *used)
{
    size_t at = LOGOND_HEADER;
    int rc = check_magic(buf, len, "CMLA");
    uint32_t status;

    if (rc != CERTMAP_LOGOND_DONE) {
        return rc;
    }
    if (buf[5] > 2 || buf[6] || buf[7]) {
        return CERTMAP_LOGOND_BAD;
    }
    a->result = buf[5] == 0 ? CERTMAP_PAM_OK
              : buf[5] == 1 ? CERTMAP_PAM_REFUSED : CERTMAP_PAM_ERROR;
    status = get32(buf + 8);
    a->pam_status = status > INT32_MAX ? -(int)(UINT32_MAX - status) - 1
                                       : (int)status;
    rc = get_str(buf, len, &at, a->message, CERTMAP_LOGOND_MAX_MESSAGE);
    if (rc != CERTMAP_LOGOND_DONE) {
        return rc;
    }
    if (used) {
        *used = at;
    }
    return CERTMAP_LOGOND_DONE;
}

void certmap_logond_wipe_request(certmap_logond_req_t *req)
{
    explicit_bzero(req, sizeof(*req));
}

/* ---- time ------------------------------------------------------------------ */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms_left(long long deadline)
{
    long long left = deadline - now_ms();

    return left <= 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

/* ---- client ---------------------------------------------------------------- */

/* The peer of fd runs as root or as `uid`. */
static int peer_is(int fd, uid_t uid)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        return 0;
    }
    return cred.uid == 0 || cred.uid == uid;
}

static certmap_logond_call_e call_failed(int *err, int e,
                                         certmap_logond_call_e why)
{
    if (err) {
        *err = e;
    }
    return why;
}

/* When no helper listens: ask again every RETRY_MS for at most
 * RETRY_WINDOW_MS (a restart replaces the helper in well under that; a
 * helper that is gone for good must not cost every request its whole
 * timeout). */
#define CERTMAP_LOGOND_RETRY_MS        50
#define CERTMAP_LOGOND_RETRY_WINDOW_MS 1000

/* Connects, sends the request and reads the answer, all before
 * `deadline`. */
static certmap_logond_call_e call_exchange(int fd, const char *path,
                                           long long deadline,
                                           const unsigned char *req,
                                           size_t reqlen,
                                           certmap_logond_answer_t *answer,
                                           int *err)
{
    unsigned char buf[CERTMAP_LOGOND_MAX_ANSWER];
    struct sockaddr_un sun;
    struct pollfd pfd;
    size_t have = 0, sent = 0;
    ssize_t n;
    int rc;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        return call_failed(err, ENAMETOOLONG, CERTMAP_LOGOND_FAILED);
    }
    memcpy(sun.sun_path, path, strlen(path));
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        /* A full backlog answers EAGAIN on a non-blocking Unix socket. */
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return call_failed(err, errno, CERTMAP_LOGOND_BUSY);
        }
        if (errno == ENOENT || errno == ECONNREFUSED) {
            return call_failed(err, errno, CERTMAP_LOGOND_UNAVAILABLE);
        }
        return call_failed(err, errno, CERTMAP_LOGOND_FAILED);
    }
    if (!peer_is(fd, geteuid())) {
        return call_failed(err, EPERM, CERTMAP_LOGOND_FAILED);
    }
    pfd.fd = fd;
    while (sent < reqlen) {
        n = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK
            && errno != EINTR) {
            return call_failed(err, errno, CERTMAP_LOGOND_FAILED);
        }
        pfd.events = POLLOUT;
        if (poll(&pfd, 1, ms_left(deadline)) == 0 && !ms_left(deadline)) {
            return call_failed(err, ETIMEDOUT, CERTMAP_LOGOND_TIMEOUT);
        }
    }
    for (;;) {
        n = recv(fd, buf + have, sizeof(buf) - have, 0);
        if (n > 0) {
            have += (size_t)n;
            rc = certmap_logond_decode_answer(buf, have, answer, NULL);
            if (rc == CERTMAP_LOGOND_DONE) {
                return CERTMAP_LOGOND_ANSWERED;
            }
            if (rc == CERTMAP_LOGOND_BAD || have == sizeof(buf)) {
                return call_failed(err, EPROTO, CERTMAP_LOGOND_FAILED);
            }
            continue;
        }
        if (n == 0) {
            /* the helper ended the logon (its deadline, or it stopped) */
            return call_failed(err, ECONNRESET, ms_left(deadline) < 50
                               ? CERTMAP_LOGOND_TIMEOUT
                               : CERTMAP_LOGOND_FAILED);
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return call_failed(err, errno, CERTMAP_LOGOND_FAILED);
        }
        pfd.events = POLLIN;
        if (!ms_left(deadline)) {
            return call_failed(err, ETIMEDOUT, CERTMAP_LOGOND_TIMEOUT);
        }
        poll(&pfd, 1, ms_left(deadline));
    }
}

certmap_logond_call_e certmap_logond_call(const char *path,
                                          unsigned int timeout_ms,
                                          const char *service,
                                          const char *account,
                                          const char *password,
                                          const char *rhost,
                                          certmap_logond_answer_t *answer,
                                          int *err)
{
    unsigned char req[CERTMAP_LOGOND_MAX_REQUEST];
    long long deadline = now_ms() + timeout_ms;
    long long retry_until = now_ms() + CERTMAP_LOGOND_RETRY_WINDOW_MS;
    certmap_logond_call_e rc;
    size_t reqlen;
    int fd;

    if (err) {
        *err = 0;
    }
    memset(answer, 0, sizeof(*answer));
    answer->result = CERTMAP_PAM_ERROR;
    if (!path || !*path) {
        return call_failed(err, EINVAL, CERTMAP_LOGOND_UNAVAILABLE);
    }
    reqlen = certmap_logond_encode_request(req, sizeof(req), timeout_ms,
                                           service, account, password,
                                           rhost);
    if (reqlen == 0) {
        return call_failed(err, EINVAL, CERTMAP_LOGOND_FAILED);
    }
    for (;;) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = call_failed(err, errno, CERTMAP_LOGOND_FAILED);
            break;
        }
        rc = call_exchange(fd, path, deadline, req, reqlen, answer, err);
        close(fd);
        /* No helper listening: at a restart the parent replaces it and
         * its socket.  The request never reached PAM, so asking again
         * is safe; a short wait, within the deadline, bridges the gap. */
        if (rc != CERTMAP_LOGOND_UNAVAILABLE
            || ms_left(deadline) <= CERTMAP_LOGOND_RETRY_MS
            || ms_left(retry_until) <= CERTMAP_LOGOND_RETRY_MS) {
            break;
        }
        poll(NULL, 0, CERTMAP_LOGOND_RETRY_MS);
    }
    explicit_bzero(req, sizeof(req));
    if (rc != CERTMAP_LOGOND_ANSWERED) {
        answer->result = CERTMAP_PAM_ERROR;
    }
    return rc;
}

/* ---- server ------------------------------------------------------------------ */

enum { CONN_FREE = 0, CONN_READING, CONN_QUEUED };

typedef struct {
    int state;
    int fd;
    long long deadline;             /* READING: to send; QUEUED: client's */
    unsigned long seq;              /* arrival order of QUEUED ones */
    size_t have;
    unsigned char buf[CERTMAP_LOGOND_MAX_REQUEST];
    certmap_logond_req_t req;
} logond_conn_t;

typedef struct {
    pid_t pid;                      /* 0: free */
    long long deadline;
    int killed;
    unsigned int timeout_ms;
    char service[CERTMAP_LOGOND_MAX_SERVICE + 1];
    char account[CERTMAP_LOGOND_MAX_ACCOUNT + 1];
} logond_slot_t;

typedef struct {
    const certmap_logond_opts_t *o;
    logond_conn_t *conns;
    logond_slot_t *slots;
    unsigned int nconns, running;
    unsigned long seq;
    int listen_fd;
    pid_t self;
} logond_t;

/* The self-pipe the signal handlers write to. */
static int logond_sigpipe[2] = { -1, -1 };
static volatile sig_atomic_t logond_stop;

static void logond_signal(int sig)
{
    int saved = errno;
    ssize_t ignored;

    if (sig == SIGTERM || sig == SIGHUP) {
        logond_stop = 1;
    }
    ignored = write(logond_sigpipe[1], "", 1);
    (void)ignored;
    errno = saved;
}

static void logond_log(const logond_t *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void logond_log(const logond_t *d, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!d->o->log) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    d->o->log(d->o->baton, level, msg);
}

static void conn_close(logond_t *d, logond_conn_t *c)
{
    close(c->fd);
    explicit_bzero(c->buf, sizeof(c->buf));
    certmap_logond_wipe_request(&c->req);
    c->state = CONN_FREE;
    c->fd = -1;
    c->have = 0;
    d->nconns--;
}

static void send_all(int fd, const unsigned char *buf, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;     /* the client gave up: nothing to do */
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* In the logon process: runs PAM and answers the client. */
static void logon_child(logond_t *d, logond_conn_t *c)
    __attribute__((noreturn));

static void logon_child(logond_t *d, logond_conn_t *c)
{
    certmap_logond_answer_t a;
    unsigned char out[CERTMAP_LOGOND_MAX_ANSWER];
    size_t len;
    sigset_t none;
    unsigned int i;
    int flags;

    /* PAM modules (and what pam_exec runs) get default signals */
    signal(SIGCHLD, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
    signal(SIGWINCH, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* its own process group, so that a kill at the deadline reaches what
     * PAM started (pam_exec); dies with the helper */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != d->self) {
        _exit(1);
    }
    if (d->listen_fd >= 0) {
        close(d->listen_fd);
    }
    close(logond_sigpipe[0]);
    close(logond_sigpipe[1]);
    for (i = 0; i < d->o->queue; i++) {
        /* other clients' passwords are none of this logon's business */
        if (&d->conns[i] != c && d->conns[i].state != CONN_FREE) {
            close(d->conns[i].fd);
            explicit_bzero(d->conns[i].buf, sizeof(d->conns[i].buf));
            explicit_bzero(&d->conns[i].req, sizeof(d->conns[i].req));
        }
    }
    flags = fcntl(c->fd, F_GETFL);
    if (flags >= 0) {
        fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK);
    }

    memset(&a, 0, sizeof(a));
    a.result = d->o->logon(c->req.service, c->req.account,
                           c->req.has_password ? c->req.password : NULL,
                           c->req.has_rhost ? c->req.rhost : NULL,
                           &a.pam_status, a.message, sizeof(a.message));
    certmap_logond_wipe_request(&c->req);
    len = certmap_logond_encode_answer(out, sizeof(out), &a);
    if (len) {
        send_all(c->fd, out, len);
    }
    _exit(0);
}

/* Whether the client still waits: a client that gave up (EOF) gets no
 * logon, which would only hold a slot. */
static int client_waits(int fd)
{
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void start_logon(logond_t *d, logond_conn_t *c)
{
    logond_slot_t *slot = NULL;
    unsigned int i;
    pid_t pid;

    if (!client_waits(c->fd)) {
        conn_close(d, c);
        return;
    }
    for (i = 0; i < d->o->slots; i++) {
        if (!d->slots[i].pid) {
            slot = &d->slots[i];
            break;
        }
    }
    if (!slot) {
        return;
    }
    pid = fork();
    if (pid == 0) {
        logon_child(d, c);
    }
    if (pid < 0) {
        logond_log(d, CERTMAP_LOGOND_LOG_ERR, "CERTMAP208: logon helper "
                   "cannot fork a logon process: %s", strerror(errno));
        conn_close(d, c);
        return;
    }
    slot->pid = pid;
    slot->deadline = c->deadline;
    slot->killed = 0;
    slot->timeout_ms = c->req.timeout_ms;
    memcpy(slot->service, c->req.service, sizeof(slot->service));
    memcpy(slot->account, c->req.account, sizeof(slot->account));
    d->running++;
    conn_close(d, c);
}

/* Starts queued requests, oldest first, while slots are free. */
static void start_queued(logond_t *d)
{
    while (d->running < d->o->slots) {
        logond_conn_t *oldest = NULL;
        unsigned int i;

        for (i = 0; i < d->o->queue; i++) {
            logond_conn_t *c = &d->conns[i];

            if (c->state == CONN_QUEUED
                && (!oldest || c->seq < oldest->seq)) {
                oldest = c;
            }
        }
        if (!oldest) {
            return;
        }
        start_logon(d, oldest);
    }
}

/* Kills a logon process and everything it started.  Its process group
 * is not enough: pam_exec puts its child in a session of its own
 * (setsid), so descendants are found by their parent links in /proc,
 * while the logon process still lives to hold them together. */
static size_t kill_tree(pid_t root)
{
    pid_t *tree = NULL, *more;
    size_t n = 0, cap = 0, i;
    int pass, grew;

    kill(root, SIGSTOP);
    kill(-root, SIGSTOP);
    for (pass = 0; pass < 2; pass++) {
        do {
            DIR *proc = opendir("/proc");
            struct dirent *e;

            grew = 0;
            while (proc && (e = readdir(proc)) != NULL) {
                char path[64], st[512], *paren;
                long pid, ppid;
                FILE *f;

                pid = strtol(e->d_name, &paren, 10);
                if (pid <= 1 || *paren || pid == root) {
                    continue;
                }
                snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
                f = fopen(path, "r");
                if (!f) {
                    continue;
                }
                paren = fgets(st, sizeof(st), f) ? strrchr(st, ')') : NULL;
                fclose(f);
                if (!paren || sscanf(paren + 1, " %*c %ld", &ppid) != 1) {
                    continue;
                }
                if (ppid != root) {
                    for (i = 0; i < n && tree[i] != (pid_t)ppid; i++) {
                        ;
                    }
                    if (i == n) {
                        continue;
                    }
                }
                for (i = 0; i < n && tree[i] != (pid_t)pid; i++) {
                    ;
                }
                if (i < n) {
                    continue;
                }
                if (n == cap) {
                    cap = cap ? 2 * cap : 16;
                    more = realloc(tree, cap * sizeof(*tree));
                    if (!more) {
                        break;
                    }
                    tree = more;
                }
                tree[n++] = (pid_t)pid;
                kill((pid_t)pid, SIGSTOP);      /* no more forks */
                grew = 1;
            }
            if (proc) {
                closedir(proc);
            }
        } while (grew && n < 4096);
    }
    for (i = 0; i < n; i++) {
        kill(tree[i], SIGKILL);
    }
    kill(-root, SIGKILL);
    kill(root, SIGKILL);
    free(tree);
    return n;
}

static void reap(logond_t *d)
{
    unsigned int i;
    pid_t pid;
    int status;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (i = 0; i < d->o->slots; i++) {
            if (d->slots[i].pid == pid) {
                d->slots[i].pid = 0;
                d->running--;
                break;
            }
        }
    }
}

/* Kills logons past their deadline; drops requests that waited for a
 * slot or for their bytes too long.  Returns the nearest deadline, or
 * LLONG_MAX when nothing has one (an idle helper sleeps until a client
 * or a signal wakes it). */
static long long enforce_deadlines(logond_t *d, long long now)
{
    long long next = LLONG_MAX;
    unsigned int i;

    for (i = 0; i < d->o->slots; i++) {
        logond_slot_t *s = &d->slots[i];

        if (!s->pid) {
            continue;
        }
        if (!s->killed && now >= s->deadline) {
            size_t more = kill_tree(s->pid);

            s->killed = 1;
            logond_log(d, CERTMAP_LOGOND_LOG_ERR, "CERTMAP206: PAM logon of "
                       "'%s' through service '%s' not finished within "
                       "%u ms: logon process %ld killed, and %lu process%s "
                       "it started", s->account, s->service, s->timeout_ms,
                       (long)s->pid, (unsigned long)more,
                       more == 1 ? "" : "es");
        }
        else if (!s->killed && s->deadline < next) {
            next = s->deadline;
        }
    }
    for (i = 0; i < d->o->queue; i++) {
        logond_conn_t *c = &d->conns[i];

        if (c->state == CONN_FREE) {
            continue;
        }
        if (now >= c->deadline) {
            if (c->state == CONN_QUEUED) {
                logond_log(d, CERTMAP_LOGOND_LOG_ERR, "CERTMAP207: no free "
                           "logon slot (%u) within %u ms for '%s' "
                           "(service '%s'): request dropped", d->o->slots,
                           c->req.timeout_ms, c->req.account,
                           c->req.service);
            }
            else {
                logond_log(d, CERTMAP_LOGOND_LOG_WARN, "CERTMAP205: a "
                           "client sent no complete request within %d ms",
                           LOGOND_READ_MS);
            }
            conn_close(d, c);
        }
        else if (c->deadline < next) {
            next = c->deadline;
        }
    }
    return next;
}

static void accept_clients(logond_t *d)
{
    unsigned int i;
    int fd;

    while (d->nconns < d->o->queue) {
        fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
                && errno != ECONNABORTED) {
                logond_log(d, CERTMAP_LOGOND_LOG_ERR, "CERTMAP204: logon "
                           "helper cannot accept: %s", strerror(errno));
            }
            return;
        }
        if (!peer_is(fd, d->o->peer_uid)) {
            logond_log(d, CERTMAP_LOGOND_LOG_ERR, "CERTMAP224: logon helper "
                       "refused a connection from a user other than root "
                       "and uid %ld", (long)d->o->peer_uid);
            close(fd);
            continue;
        }
        for (i = 0; i < d->o->queue; i++) {
            if (d->conns[i].state == CONN_FREE) {
                break;
            }
        }
        d->conns[i].state = CONN_READING;
        d->conns[i].fd = fd;
        d->conns[i].have = 0;
        d->conns[i].deadline = now_ms() + LOGOND_READ_MS;
        d->nconns++;
    }
}

static void read_client(logond_t *d, logond_conn_t *c)
{
    ssize_t n;
    int rc;

    n = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK
                  || errno == EINTR)) {
        return;
    }
    if (n <= 0 || c->state == CONN_QUEUED) {
        /* the client gave up (EOF), or sent more than one request */
        conn_close(d, c);
        return;
    }
    c->have += (size_t)n;
    rc = certmap_logond_decode_request(c->buf, c->have, &c->req, NULL);
    if (rc == CERTMAP_LOGOND_MORE && c->have < sizeof(c->buf)) {
        return;
    }
    explicit_bzero(c->buf, sizeof(c->buf));
    if (rc != CERTMAP_LOGOND_DONE) {
        logond_log(d, CERTMAP_LOGOND_LOG_ERR, "CERTMAP225: logon helper "
                   "received a malformed request");
        conn_close(d, c);
        return;
    }
    c->state = CONN_QUEUED;
    c->seq = d->seq++;
    c->deadline = now_ms() + c->req.timeout_ms;
}

static void stop_serving(logond_t *d)
{
    unsigned int i;

    if (d->listen_fd >= 0) {
        close(d->listen_fd);
        d->listen_fd = -1;
    }
    for (i = 0; i < d->o->queue; i++) {
        if (d->conns[i].state != CONN_FREE) {
            conn_close(d, &d->conns[i]);
        }
    }
}

static int logond_loop(logond_t *d)
{
    struct pollfd *pfds;
    unsigned int i, n;
    char drain[64];

    pfds = calloc(d->o->queue + 2, sizeof(*pfds));
    if (!pfds) {
        return -1;
    }
    for (;;) {
        long long now, next;

        if (logond_stop && d->listen_fd >= 0) {
            stop_serving(d);
        }
        reap(d);
        now = now_ms();
        next = enforce_deadlines(d, now);
        if (d->listen_fd >= 0) {
            start_queued(d);
        }
        if (d->listen_fd < 0 && d->running == 0) {
            break;
        }

        n = 0;
        pfds[n].fd = logond_sigpipe[0];
        pfds[n++].events = POLLIN;
        if (d->listen_fd >= 0 && d->nconns < d->o->queue) {
            pfds[n].fd = d->listen_fd;
            pfds[n++].events = POLLIN;
        }
        for (i = 0; i < d->o->queue; i++) {
            if (d->conns[i].state != CONN_FREE) {
                pfds[n].fd = d->conns[i].fd;
                pfds[n++].events = POLLIN;
            }
        }
        if (poll(pfds, n, next == LLONG_MAX ? -1
                          : next > now + 60000 ? 60000
                          : next > now ? (int)(next - now) + 1 : 0) < 0) {
            if (errno == EINTR) {
                continue;
            }
            free(pfds);
            return -1;
        }
        while (read(logond_sigpipe[0], drain, sizeof(drain)) > 0) {
            ;
        }
        for (i = 0; i < d->o->queue; i++) {
            logond_conn_t *c = &d->conns[i];
            unsigned int j;

            if (c->state == CONN_FREE) {
                continue;
            }
            for (j = 1; j < n; j++) {
                if (pfds[j].fd == c->fd && pfds[j].revents) {
                    read_client(d, c);
                    break;
                }
            }
        }
        if (d->listen_fd >= 0 && n > 1 && pfds[1].fd == d->listen_fd
            && pfds[1].revents) {
            accept_clients(d);
        }
    }
    free(pfds);
    return 0;
}

int certmap_logond_serve(const certmap_logond_opts_t *opts)
{
    struct sigaction sa;
    logond_t d;
    unsigned int i;
    int rc, flags;

    if (!opts || opts->slots < 1 || opts->queue < 1 || !opts->logon
        || opts->listen_fd < 0) {
        errno = EINVAL;
        return -1;
    }
    memset(&d, 0, sizeof(d));
    d.o = opts;
    d.listen_fd = opts->listen_fd;
    d.self = getpid();
    d.conns = calloc(opts->queue, sizeof(*d.conns));
    d.slots = calloc(opts->slots, sizeof(*d.slots));
    if (!d.conns || !d.slots
        || pipe2(logond_sigpipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        free(d.conns);
        free(d.slots);
        return -1;
    }
    for (i = 0; i < opts->queue; i++) {
        d.conns[i].fd = -1;
    }
    flags = fcntl(d.listen_fd, F_GETFL);
    if (flags < 0 || fcntl(d.listen_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        rc = -1;
    }
    else {
        sigset_t none;

        logond_stop = 0;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = logond_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
        sigaction(SIGCHLD, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        rc = logond_loop(&d);
    }
    for (i = 0; i < opts->queue; i++) {
        if (d.conns[i].state != CONN_FREE) {
            conn_close(&d, &d.conns[i]);
        }
    }
    free(d.conns);
    free(d.slots);
    close(logond_sigpipe[0]);
    close(logond_sigpipe[1]);
    logond_sigpipe[0] = logond_sigpipe[1] = -1;
    return rc;
}
