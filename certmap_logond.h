/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_logond.h — the logon helper: PAM logons run in a separate,
 * supervised process instead of httpd's children.
 *
 * Three parts, all POSIX and libc (no httpd, no APR, no PAM), so they
 * are tested alone (tests/unit/test_logond.c):
 *  - the wire format of one request and its answer (encode/decode);
 *  - the client: one logon asked over a Unix socket, bounded by a
 *    deadline (used by httpd's children);
 *  - the server: the helper's loop, which runs each logon in a process
 *    of its own, at most `slots` at a time, and ends any that outlive
 *    the deadline the client gave.
 * The httpd side (socket, start, supervision, directives) is
 * certmap_logon_helper.c.
 */

#ifndef CERTMAP_LOGOND_H
#define CERTMAP_LOGOND_H

#include <stddef.h>
#include <sys/types.h>

#include "certmap_pam.h"

/* Largest values the wire carries (PAM's own limit on a response is 512
 * bytes); anything longer is refused by the encoder, never cut. */
#define CERTMAP_LOGOND_MAX_SERVICE   255
#define CERTMAP_LOGOND_MAX_ACCOUNT   1024
#define CERTMAP_LOGOND_MAX_PASSWORD  1024
#define CERTMAP_LOGOND_MAX_RHOST     255
#define CERTMAP_LOGOND_MAX_MESSAGE   255
#define CERTMAP_LOGOND_MAX_REQUEST   (12 + 4 * 2 + CERTMAP_LOGOND_MAX_SERVICE \
                                      + CERTMAP_LOGOND_MAX_ACCOUNT          \
                                      + CERTMAP_LOGOND_MAX_PASSWORD         \
                                      + CERTMAP_LOGOND_MAX_RHOST)
#define CERTMAP_LOGOND_MAX_ANSWER    (12 + 2 + CERTMAP_LOGOND_MAX_MESSAGE)

/* Decoding results. */
#define CERTMAP_LOGOND_DONE  0      /* a whole message was decoded */
#define CERTMAP_LOGOND_MORE  1      /* valid so far: need more bytes */
#define CERTMAP_LOGOND_BAD   (-1)   /* malformed: drop the connection */

/* One logon request, decoded: NUL-terminated copies. */
typedef struct {
    unsigned int timeout_ms;        /* the client waits this long */
    char service[CERTMAP_LOGOND_MAX_SERVICE + 1];
    char account[CERTMAP_LOGOND_MAX_ACCOUNT + 1];
    char password[CERTMAP_LOGOND_MAX_PASSWORD + 1];
    char rhost[CERTMAP_LOGOND_MAX_RHOST + 1];
    int has_password;               /* 0: account management only */
    int has_rhost;
} certmap_logond_req_t;

/* The answer: what certmap_pam_logon said. */
typedef struct {
    certmap_pam_result_e result;
    int pam_status;
    char message[CERTMAP_LOGOND_MAX_MESSAGE + 1];
} certmap_logond_answer_t;

/* Encodes a request into buf; password and rhost may be NULL.  Returns
 * the length, or 0 when service or account is empty, a value is longer
 * than the wire carries, timeout_ms is 0, or buf is too small. */
size_t certmap_logond_encode_request(unsigned char *buf, size_t buflen,
                                     unsigned int timeout_ms,
                                     const char *service, const char *account,
                                     const char *password, const char *rhost);

/* Decodes the request at the start of buf[0..len).  On DONE, *used is
 * its length.  A field with a NUL byte, an empty service or account, an
 * unknown version or flag, or a timeout of 0 is BAD. */
int certmap_logond_decode_request(const unsigned char *buf, size_t len,
                                  certmap_logond_req_t *req, size_t *used);

/* Encodes an answer; the message is cut to the wire's limit (it is
 * pam_strerror's text, never a secret).  Returns the length, or 0. */
size_t certmap_logond_encode_answer(unsigned char *buf, size_t buflen,
                                    const certmap_logond_answer_t *a);

/* Decodes an answer; an unknown result code is BAD. */
int certmap_logond_decode_answer(const unsigned char *buf, size_t len,
                                 certmap_logond_answer_t *a, size_t *used);

/* Wipes a request (it holds a password). */
void certmap_logond_wipe_request(certmap_logond_req_t *req);

/* ---- client ---------------------------------------------------------- */

/* Why a call did not bring PAM's answer. */
typedef enum {
    CERTMAP_LOGOND_ANSWERED = 0,    /* *answer is PAM's */
    CERTMAP_LOGOND_TIMEOUT,         /* no answer within the timeout */
    CERTMAP_LOGOND_BUSY,            /* every slot and the queue are full */
    CERTMAP_LOGOND_UNAVAILABLE,     /* no helper listening at the path */
    CERTMAP_LOGOND_FAILED           /* anything else: see *err */
} certmap_logond_call_e;

/* Asks the helper at socket `path` for one logon and waits at most
 * timeout_ms for the whole exchange.  The helper must run as root or as
 * this process's user (checked on the socket).  Thread-safe; the
 * request buffer holding the password is wiped.  On anything but
 * ANSWERED, *err (errno or 0) says more. */
certmap_logond_call_e certmap_logond_call(const char *path,
                                          unsigned int timeout_ms,
                                          const char *service,
                                          const char *account,
                                          const char *password,
                                          const char *rhost,
                                          certmap_logond_answer_t *answer,
                                          int *err);

/* ---- server ------------------------------------------------------------ */

/* Log levels the server reports with. */
#define CERTMAP_LOGOND_LOG_ERR   0
#define CERTMAP_LOGOND_LOG_WARN  1
#define CERTMAP_LOGOND_LOG_INFO  2
#define CERTMAP_LOGOND_LOG_DEBUG 3

typedef certmap_pam_result_e (*certmap_logond_logon_fn)(
    const char *service, const char *user, const char *password,
    const char *rhost, int *pam_status, char *message, size_t message_len);

typedef struct {
    int listen_fd;                  /* a listening Unix stream socket */
    unsigned int slots;             /* logons running at once, >= 1 */
    unsigned int queue;             /* accepted connections waiting for a
                                       slot or still sending, >= 1 */
    uid_t peer_uid;                 /* besides root, the only user whose
                                       connections are served */
    certmap_logond_logon_fn logon;  /* certmap_pam_logon */
    void (*log)(void *baton, int level, const char *message);
    void *baton;
} certmap_logond_opts_t;

/* The helper's loop; returns when SIGTERM or SIGHUP arrives (after the
 * logons in progress have ended, each within its deadline), or -1 with
 * errno when it cannot run.  Installs its own SIGCHLD, SIGTERM and
 * SIGHUP handlers: call it in a process of its own.  Each logon runs in
 * a child process (own process group, killed with the helper), so PAM
 * modules never share a process, let alone run in parallel threads; a
 * logon still running at its client's deadline is killed, process group
 * and all, and its slot freed. */
int certmap_logond_serve(const certmap_logond_opts_t *opts);

#endif /* CERTMAP_LOGOND_H */
