/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_logon_helper.c — httpd's side of the logon helper: where PAM
 * logons run.
 *
 * httpd's children run as the User (www-data), and pam_unix cannot check
 * another account's password or expiry from there without the shadow
 * file.  So, as mod_cgid does with its daemon, httpd's parent starts one
 * helper process at start-up and at every restart (post_config), and
 * starts it again should it die (apr_proc_other_child): it runs as the
 * user httpd was started as (root, on a server), listens on a Unix
 * socket in DefaultRuntimeDir that only the User may open (mode 0600,
 * owned by the User, and the peer's uid checked), and runs each logon in
 * a process of its own (certmap_logond.c), at most CertMapLogonSlots at a
 * time.  A child asks it for a logon and waits at most CertMapLogonTimeout
 * seconds; no answer in time is a 500, logged.
 *
 * Owns: the directives CertMapLogonTimeout and CertMapLogonSlots and
 * their defaults, the socket, the helper's start and supervision, and
 * the call the request path makes (certmap_logon_helper_logon).
 */

#include "apr_signal.h"
#include "apr_strings.h"

#include "ap_listen.h"
#include "ap_mpm.h"
#include "http_core.h"
#include "http_main.h"
#include "unixd.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "certmap_private.h"
#include "certmap_pam.h"
#include "certmap_logond.h"

/* CertMapLogonTimeout: seconds a request waits for its PAM logon. */
#define CERTMAP_DEFAULT_LOGON_TIMEOUT 10
#define CERTMAP_MAX_LOGON_TIMEOUT     3600
/* CertMapLogonSlots: logons running at once in the helper. */
#define CERTMAP_DEFAULT_LOGON_SLOTS   8
#define CERTMAP_MAX_LOGON_SLOTS       256

/* The helper's exit status when it could not even start: not restarted. */
#define CERTMAP_HELPER_STARTUP_ERROR  70

int certmap_conf_logon_timeout(const certmap_dir_conf_t *dc)
{
    return dc->logon_timeout == CERTMAP_UNSET
           ? CERTMAP_DEFAULT_LOGON_TIMEOUT : dc->logon_timeout;
}

int certmap_conf_logon_slots(const certmap_srv_conf_t *sc)
{
    return sc->logon_slots == CERTMAP_UNSET
           ? CERTMAP_DEFAULT_LOGON_SLOTS : sc->logon_slots;
}

/* ---- directives ------------------------------------------------------- */

static const char *certmap_helper_number(cmd_parms *cmd, const char *arg,
                                         int max, int *out)
{
    char *end;
    apr_int64_t value;

    errno = 0;
    value = apr_strtoi64(arg, &end, 10);
    if (errno || end == arg || *end || value < 1 || value > max) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool,
            "'%s' is not a number from 1 to %d", arg, max));
    }
    *out = (int)value;
    return NULL;
}

const char *certmap_logon_set_timeout(cmd_parms *cmd, void *dcv,
                                      const char *arg)
{
    certmap_dir_conf_t *dc = dcv;

    return certmap_helper_number(cmd, arg, CERTMAP_MAX_LOGON_TIMEOUT,
                                 &dc->logon_timeout);
}

const char *certmap_logon_set_slots(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    certmap_srv_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &certmap_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    return certmap_helper_number(cmd, arg, CERTMAP_MAX_LOGON_SLOTS,
                                 &sc->logon_slots);
}

/* ---- the helper, in httpd's parent ------------------------------------ */

/* Written by the parent only (post_config, and the maintenance callback
 * that restarts the helper), before or outside any child: the children
 * read helper_path, a copy they inherit. */
static const char *helper_path;
static apr_pool_t *helper_pool;
static server_rec *helper_server;
static int helper_slots;

typedef struct {
    apr_proc_t proc;
    int alive;                      /* proc.pid is ours to signal */
} certmap_helper_t;

static int certmap_helper_start(certmap_helper_t *h);

/* The helper's log lines go to the main server's error log. */
static void certmap_helper_log(void *baton, int level, const char *message)
{
    static const int levels[] = { APLOG_ERR, APLOG_WARNING, APLOG_INFO,
                                  APLOG_DEBUG };

    ap_log_error(APLOG_MARK, levels[level < 0 || level > 3 ? 0 : level], 0,
                 helper_server, "%s", message);
}

/* The listening socket: mode 0600, owned by the User when httpd starts as
 * root, so that only the User (and root) can connect. */
static int certmap_helper_socket(void)
{
    struct sockaddr_un sun;
    mode_t omask;
    int fd, rc;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    apr_cpystrn(sun.sun_path, helper_path, sizeof(sun.sun_path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (unlink(helper_path) != 0 && errno != ENOENT) {
        close(fd);
        return -1;
    }
    omask = umask(0077);
    rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(omask);
    if (rc != 0 || chmod(helper_path, 0600) != 0
        || (geteuid() == 0
            && chown(helper_path, ap_unixd_config.user_id, -1) != 0)
        || listen(fd, helper_slots) != 0) {
        int saved = errno;

        close(fd);
        unlink(helper_path);
        errno = saved;
        return -1;
    }
    return fd;
}

/* The helper process: a fork of httpd's parent that keeps nothing of
 * httpd but the error log. */
static void certmap_helper_run(int fd, pid_t parent)
    __attribute__((noreturn));

static void certmap_helper_run(int fd, pid_t parent)
{
    certmap_logond_opts_t opts;

    /* It dies with httpd's parent (a SIGTERM: logons in progress end
     * first, each within its deadline), even if that was just now. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
        _exit(0);
    }
    ap_close_listeners();
    apr_signal(SIGUSR1, SIG_IGN);       /* httpd's graceful signals */
    apr_signal(SIGWINCH, SIG_IGN);
    apr_signal(SIGINT, SIG_DFL);

    memset(&opts, 0, sizeof(opts));
    opts.listen_fd = fd;
    opts.slots = (unsigned int)helper_slots;
    opts.queue = (unsigned int)helper_slots;
    opts.peer_uid = geteuid() == 0 ? ap_unixd_config.user_id : geteuid();
    opts.logon = certmap_pam_logon;
    opts.log = certmap_helper_log;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, helper_server, "CERTMAP200: "
                 "logon helper %ld started as uid %ld: %d slots, socket %s",
                 (long)getpid(), (long)geteuid(), helper_slots, helper_path);
    if (certmap_logond_serve(&opts) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, helper_server,
                     "CERTMAP203: the logon helper cannot run");
        _exit(CERTMAP_HELPER_STARTUP_ERROR);
    }
    _exit(0);
}

static void certmap_helper_maint(int reason, void *data, apr_wait_t status)
{
    certmap_helper_t *h = data;
    int state, startup_error;

    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        h->alive = 0;
        apr_proc_other_child_unregister(h);
        if (ap_mpm_query(AP_MPMQ_MPM_STATE, &state) != APR_SUCCESS
            || state == AP_MPMQ_STOPPING) {
            break;
        }
        startup_error = reason == APR_OC_REASON_DEATH && WIFEXITED(status)
                        && WEXITSTATUS(status)
                           == CERTMAP_HELPER_STARTUP_ERROR;
        if (startup_error) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, helper_server,
                         "CERTMAP223: the logon helper failed to start; "
                         "PAM logons answer 500 until httpd restarts");
            break;
        }
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, helper_server, "CERTMAP202: "
                     "the logon helper (pid %ld) died, restarting it",
                     (long)h->proc.pid);
        certmap_helper_start(h);
        break;
    case APR_OC_REASON_RESTART:
        apr_proc_other_child_unregister(h);
        break;
    case APR_OC_REASON_UNREGISTER:
        /* pconf is going (restart or stop), or the helper died */
        if (h->alive) {
            kill(h->proc.pid, SIGTERM);
        }
        unlink(helper_path);
        break;
    default:
        break;
    }
}

static int certmap_helper_start(certmap_helper_t *h)
{
    pid_t pid, parent = getpid();
    int fd = certmap_helper_socket();

    if (fd < 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, helper_server,
                     "CERTMAP201: cannot create the logon helper's socket "
                     "%s; PAM logons answer 500", helper_path);
        return DECLINED;
    }
    pid = fork();
    if (pid < 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, helper_server,
                     "CERTMAP221: cannot start the logon helper; PAM logons "
                     "answer 500");
        close(fd);
        unlink(helper_path);
        return DECLINED;
    }
    if (pid == 0) {
        certmap_helper_run(fd, parent);
    }
    /* Only the helper keeps the socket open: no child of httpd can
     * accept on it. */
    close(fd);
    h->proc.pid = pid;
    h->proc.in = h->proc.out = h->proc.err = NULL;
    h->alive = 1;
    apr_pool_note_subprocess(helper_pool, &h->proc, APR_KILL_AFTER_TIMEOUT);
    apr_proc_other_child_register(&h->proc, certmap_helper_maint, h, NULL,
                                  helper_pool);
    return OK;
}

/* How many workers logons can hold at worst (running, waiting in the
 * helper's queue and in the socket's backlog), against MaxRequestWorkers. */
static void certmap_helper_check_bound(server_rec *s)
{
    int daemons = 0, threads = 0, bound = 3 * helper_slots + 1;

    if (ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &daemons) != APR_SUCCESS
        || ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS) {
        return;
    }
    if (threads < 1) {
        threads = 1;
    }
    if (daemons > 0 && bound >= daemons * threads) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "CERTMAP209: "
                     "CertMapLogonSlots %d: up to %d requests may wait for "
                     "a hung PAM stack, and MaxRequestWorkers is %d; lower "
                     "CertMapLogonSlots", helper_slots, bound,
                     daemons * threads);
    }
}

int certmap_logon_helper_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                     apr_pool_t *ptemp, server_rec *s)
{
    const certmap_srv_conf_t *sc =
        ap_get_module_config(s->module_config, &certmap_module);
    struct sockaddr_un sun;
    certmap_helper_t *h;
    const char *path;

    /* The first of the two configuration passes only checks. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    path = ap_runtime_dir_relative(pconf, apr_psprintf(ptemp,
                                   "certmap-logon.%" APR_PID_T_FMT,
                                   getpid()));
    if (!path || strlen(path) >= sizeof(sun.sun_path)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "CERTMAP222: the logon "
                     "helper's socket path %s is too long for a Unix "
                     "socket; set DefaultRuntimeDir to a shorter directory",
                     path ? path : "(invalid)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    helper_path = path;
    helper_pool = pconf;
    helper_server = s;
    helper_slots = certmap_conf_logon_slots(sc);
    certmap_helper_check_bound(s);
    h = apr_pcalloc(pconf, sizeof(*h));
    certmap_helper_start(h);
    return OK;
}

/* ---- the call, in httpd's children ---------------------------------------- */

certmap_pam_result_e certmap_logon_helper_logon(request_rec *r,
                                                const certmap_dir_conf_t *dc,
                                                const certmap_logon_t *l,
                                                int *pam_status,
                                                char *message,
                                                size_t message_len)
{
    int timeout = certmap_conf_logon_timeout(dc);
    certmap_logond_answer_t answer;
    certmap_logond_call_e rc;
    const char *why;
    int err = 0;

    rc = certmap_logond_call(helper_path, (unsigned int)timeout * 1000,
                             l->service, l->account, l->password, l->rhost,
                             &answer, &err);
    if (rc == CERTMAP_LOGOND_ANSWERED) {
        *pam_status = answer.pam_status;
        apr_cpystrn(message, answer.message, message_len);
        return answer.result;
    }
    switch (rc) {
    case CERTMAP_LOGOND_TIMEOUT:
        why = apr_psprintf(r->pool, "not finished within %d s "
                           "(CertMapLogonTimeout)", timeout);
        break;
    case CERTMAP_LOGOND_BUSY:
        why = "not started: every logon slot is busy and the queue is full "
              "(CertMapLogonSlots)";
        break;
    case CERTMAP_LOGOND_UNAVAILABLE:
        why = "not started: the logon helper is not running";
        break;
    default:
        why = "failed in the logon helper's exchange";
        break;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, err, r, "CERTMAP210: PAM logon of "
                  "'%s' through service '%s' %s", l->account, l->service,
                  why);
    *pam_status = -1;
    apr_cpystrn(message, apr_pstrcat(r->pool, "logon ", why, NULL),
                message_len);
    return CERTMAP_PAM_ERROR;
}
