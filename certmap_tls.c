/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_tls.c — CertMapInvalidCerts Report: how a client certificate
 * that fails verification (expired, not yet valid, revoked, untrusted)
 * gets an HTTP 403.17/403.13/403.16 instead of a TLS alert, and never a
 * grant.
 *
 * mod_ssl aborts a handshake whose certificate failed, twice over: its
 * verify callback returns 0 (a TLS alert), and its handshake filter shuts
 * the connection down after SSL_accept() when SSL_get_verify_result() is
 * not X509_V_OK.  So, on a server with CertMap and Report:
 *
 *  1. init_server (mod_ssl's optional hook, at start-up) gives the
 *     server's SSL_CTX an application verify callback, which runs every
 *     verification on that context — the handshake, and the renegotiation
 *     or TLS 1.3 post-handshake authentication mod_ssl starts for a
 *     per-directory SSLVerifyClient — with our verify callback in place of
 *     mod_ssl's (mod_ssl sets its own on the connection before each).
 *     SNI switches the connection's context, so the virtual host named by
 *     SNI decides, as it does for SSLVerifyClient.
 *  2. Our callback hands every step that passes to mod_ssl's callback
 *     (its logging, OCSP, SSLVerifyDepth).  A step that fails is recorded
 *     in the connection's certmap_conn_t, the most serious failure kept
 *     (16 before 13 before 17), the error is cleared so the handshake and
 *     mod_ssl's post-handshake check pass, and the session is made
 *     impossible to resume: a resumed session would carry the certificate
 *     with verify result X509_V_OK and no record of the failure.
 *  3. A connection input filter above mod_ssl's puts the recorded error
 *     back with SSL_set_verify_result() as soon as the handshake is done,
 *     so %{SSL_CLIENT_VERIFY} reads FAILED:... and `Require
 *     ssl-verify-client` denies; for a handshake our callback did not
 *     judge (another host's context), it records what OpenSSL's verify
 *     result says (GENEROUS under optional_no_ca keeps the error).
 *  4. The decision is made per request for the virtual host that serves
 *     it (r->server, chosen by Host or :authority after SNI), whatever host
 *     the handshake was made for: a post_read_request hook, before any
 *     location, quick handler or authorization sees the request, and an
 *     access hook right after mod_ssl's (which may have renegotiated).  On
 *     a host that reports, a request is refused when the connection's
 *     certificate failed — what our callback recorded, the verify result,
 *     mod_ssl's own SSL_CLIENT_VERIFY — or when it fails with the serving
 *     host's own trust (certmap_tls_serving_trust).  A failure our
 *     callback hid from mod_ssl refuses every request on the connection,
 *     on every host.  A failure is remembered for the connection: mod_ssl
 *     resets the verify result on every TLS 1.2 request.  HTTP/2 streams
 *     read their master connection's record and never write it.
 *  5. The ErrorDocument of such a refusal (the server-level one) is served
 *     as to a client without a certificate.
 *
 * Which hosts report: CertMapInvalidCerts Report (the default) on a host
 * that uses CertMap in its configuration, or that says Report explicitly,
 * or that lets .htaccess files set authentication (AllowOverride All or
 * AuthConfig), where CertMap On may appear at request time.  Decided once
 * at start-up, before mod_ssl sets up its contexts.
 *
 * What stays mod_ssl's: CertMapInvalidCerts Reject (nothing is
 * installed); an OCSP or SSLVerifyDepth failure (mod_ssl's own verdict
 * on a chain OpenSSL accepted: mod_ssl has already marked the connection
 * failed, so it ends in the TLS layer).
 *
 * CRL problems fail closed as 403.16: no CRL for an issuer (unless
 * SSLCARevocationCheck has no_crl_for_cert_ok, which keeps its meaning),
 * an expired or not yet valid CRL, a CRL with a bad signature.  Under
 * Report, SSLVerifyClient optional_no_ca is not generous: an untrusted
 * certificate is a failure (403.16) like any other; Reject keeps mod_ssl's
 * GENEROUS behaviour.
 */

#include "httpd.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_ssl.h"
#include "mod_core.h"           /* ap_response_code_string */
#include "util_cfgtree.h"
#include "util_filter.h"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "certmap_private.h"

#include "apr_hash.h"
#include "apr_optional_hooks.h"     /* needs apu.h, via httpd.h */
#include "apr_strings.h"

/* mod_ssl's optional hooks (mod_ssl_openssl.h, which Debian's
 * apache2-dev does not ship).  The names are what mod_ssl looks up. */
typedef int certmap_ssl_HOOK_init_server_t(server_rec *s, apr_pool_t *p,
                                      int is_proxy, SSL_CTX *ctx);
typedef int certmap_ssl_HOOK_pre_handshake_t(conn_rec *c, SSL *ssl,
                                        int is_proxy);

/* A session-id context mod_ssl never uses (it sets 32 hex digits), so a
 * session carrying it is never resumed: OpenSSL treats a context mismatch
 * as a cache miss, for the session cache and for tickets alike. */
static const unsigned char certmap_unresumable_ctx[] = "certmap:failed";

#define CERTMAP_TLS_FILTER "CERTMAP_TLS_VERIFY"
static ap_filter_rec_t *certmap_tls_filter_handle;

/* What init_server learned about one server's SSL_CTX. */
typedef struct {
    server_rec *s;
    SSL_CTX *ctx;           /* its context: its trust store, CRLs, flags */
    int requests_cert;      /* SSLVerifyClient optional|require */
    int report;             /* our callback is installed */
    int no_crl_ok;          /* SSLCARevocationCheck ... no_crl_for_cert_ok */
} certmap_tls_ctx_t;

/* Per configuration generation; lives in pconf, read-only once the server
 * runs, so connection threads read it without locks. */
static struct {
    apr_hash_t *by_ctx;                 /* SSL_CTX * -> certmap_tls_ctx_t */
    apr_hash_t *by_server;              /* server_rec * -> certmap_tls_ctx_t */
    SSL_verify_cb ssl_verify;           /* mod_ssl's callback */
} certmap_tls;

/* ---- certificates and errors ------------------------------------------- */

/* The contract's sub-status for an OpenSSL verify error.  Anything not
 * named is "untrusted or invalid" (16), CRL problems included: without a
 * usable CRL the certificate cannot be shown valid, so it fails closed. */
certmap_outcome_e certmap_tls_classify(int err)
{
    switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return CERTMAP_CERT_EXPIRED;
    case X509_V_ERR_CERT_REVOKED:
        return CERTMAP_CERT_REVOKED;
    default:
        return CERTMAP_CERT_UNTRUSTED;
    }
}

/* What init_server learned about ssl's current SSL_CTX (SNI may have
 * switched it), or NULL. */
static certmap_tls_ctx_t *certmap_tls_ctx_info(SSL *ssl)
{
    SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);

    if (!certmap_tls.by_ctx || !ctx) {
        return NULL;
    }
    return apr_hash_get(certmap_tls.by_ctx, &ctx, sizeof(ctx));
}

/* ---- the verify callback ------------------------------------------------ */

/* A failed session must not come back: the resumed connection would see
 * the same certificate with X509_V_OK and nothing recorded.  Changing the
 * session's id context stops resumption from the server's cache and from
 * TLS 1.2 tickets (both issued after this callback); TLS 1.3 tickets are
 * not issued at all. */
static void certmap_tls_unresumable(conn_rec *c, SSL *ssl)
{
    SSL_SESSION *sess = SSL_get_session(ssl);

    if (!sess || !SSL_SESSION_set1_id_context(sess, certmap_unresumable_ctx,
                                        sizeof(certmap_unresumable_ctx) - 1)) {
        ap_log_cerror(APLOG_MARK, APLOG_WARNING, 0, c, "CERTMAP104: cannot "
                      "mark the TLS session of a failed client certificate "
                      "as not resumable; requests on it are refused anyway");
    }
    SSL_set_num_tickets(ssl, 0);
}

/* Whether `outcome` is worse than what the connection has recorded:
 * only then is it kept (and its description built), so a connection's
 * memory does not grow with its requests. */
static int certmap_tls_worse(const certmap_conn_t *cc,
                             certmap_outcome_e outcome)
{
    return cc->verify_failure == CERTMAP_GRANTED
           || outcome < cc->verify_failure;
}

/* Keeps a verification failure of the connection's client certificate,
 * the most serious one (16 before 13 before 17).  `masked`: our callback
 * cleared it, so mod_ssl believes the certificate is good. */
static void certmap_tls_keep(certmap_conn_t *cc, certmap_outcome_e outcome,
                             int err, const char *reason, const char *desc,
                             int masked)
{
    if (certmap_tls_worse(cc, outcome)) {
        cc->verify_failure = outcome;
        cc->verify_error = err;
        cc->verify_reason = reason;
        cc->verify_cert_desc = desc;
    }
    cc->verify_masked |= masked;
}

/* Records one failed verification step of the handshake. */
static void certmap_tls_record(conn_rec *c, certmap_conn_t *cc,
                               X509_STORE_CTX *store, int err)
{
    certmap_outcome_e outcome = certmap_tls_classify(err);
    int depth = X509_STORE_CTX_get_error_depth(store);
    const char *desc = certmap_x509_describe(c->pool,
                                    X509_STORE_CTX_get_current_cert(store));
    const char *reason = apr_psprintf(c->pool, "verification failed at "
                                      "depth %d: %s", depth,
                                      X509_verify_cert_error_string(err));

    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c, "CERTMAP105: client "
                  "certificate %s (%d); %s; CertMapInvalidCerts Report: the "
                  "handshake completes and requests on this connection get "
                  "%d.%d",
                  reason, err, desc, certmap_outcome_status(outcome),
                  certmap_outcome_substatus(outcome));
    certmap_tls_keep(cc, outcome, err, reason, desc, 1);
}

/* Records what OpenSSL's verify result says of the peer certificate now,
 * after the handshake or a renegotiation that mod_ssl's callback judged
 * (GENEROUS under optional_no_ca leaves the error in place).  Only the
 * thread that owns the connection writes its record: HTTP/2 streams read
 * it. */
static void certmap_tls_observe(conn_rec *c, certmap_conn_t *cc)
{
    X509 *x509;
    long err;

    if (c->master || !cc->ssl
        || !(x509 = SSL_get0_peer_certificate(cc->ssl))
        || (err = SSL_get_verify_result(cc->ssl)) == X509_V_OK
        || !certmap_tls_worse(cc, certmap_tls_classify((int)err))) {
        return;
    }
    certmap_tls_keep(cc, certmap_tls_classify((int)err), (int)err,
                     apr_psprintf(c->pool, "mod_ssl accepted the handshake "
                                  "but verification failed: %s",
                                  X509_verify_cert_error_string(err)),
                     certmap_x509_describe(c->pool, x509), 0);
}

/* mod_ssl's own callback, for the steps it keeps deciding. */
static int certmap_tls_ssl_verify(int ok, X509_STORE_CTX *store)
{
    return certmap_tls.ssl_verify ? certmap_tls.ssl_verify(ok, store) : ok;
}

/* SSLCARevocationCheck ... no_crl_for_cert_ok on ssl's virtual host. */
static int certmap_tls_no_crl_ok_for(SSL *ssl)
{
    certmap_tls_ctx_t *info = certmap_tls_ctx_info(ssl);

    return info && info->no_crl_ok;
}

/* Installed on the SSL_CTX of a Report server in place of mod_ssl's
 * ssl_callback_SSLVerify, which it calls for every step that passes. */
static int certmap_tls_verify(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store,
                                      SSL_get_ex_data_X509_STORE_CTX_idx());
    conn_rec *c = ssl ? SSL_get_app_data(ssl) : NULL;
    certmap_conn_t *cc = c ? ap_get_module_config(c->conn_config,
                                                  &certmap_module) : NULL;
    int err = X509_STORE_CTX_get_error(store);
    int failed_before;

    if (!cc || cc->ssl != ssl) {
        /* Nowhere to record a failure: mod_ssl decides, as under Reject. */
        return certmap_tls_ssl_verify(ok, store);
    }
    failed_before = (cc->verify_failure != CERTMAP_GRANTED);
    if (ok) {
        /* Once the chain failed, mod_ssl's OCSP or depth checks would add
         * nothing but a TLS-level abort. */
        return failed_before ? 1 : certmap_tls_ssl_verify(ok, store);
    }
    if (err == X509_V_ERR_UNABLE_TO_GET_CRL
        && certmap_tls_no_crl_ok_for(ssl)) {
        /* mod_ssl accepts a missing CRL here; its callback says so. */
        if (!failed_before) {
            return certmap_tls_ssl_verify(ok, store);
        }
        X509_STORE_CTX_set_error(store, X509_V_OK);
        return 1;
    }
    certmap_tls_record(c, cc, store, err);
    if (!failed_before) {
        certmap_tls_unresumable(c, ssl);
    }
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
}

/* ---- mod_ssl's optional hooks ------------------------------------------- */

static apr_status_t certmap_tls_reset(void *unused)
{
    (void)unused;
    memset(&certmap_tls, 0, sizeof(certmap_tls));
    return APR_SUCCESS;
}

/* The directives inside s's own <VirtualHost> block in the configuration
 * tree (NULL for the main server).  Conditional sections (<IfModule>,
 * <IfDefine>) and Include are already resolved in the tree.  One file
 * Included twice puts two blocks at one file and line: *ambiguous says
 * so, and the caller must not pick one. */
static const ap_directive_t *certmap_tls_vhost_block(server_rec *s,
                                                     int *ambiguous)
{
    const ap_directive_t *d, *found = NULL;

    *ambiguous = 0;
    for (d = ap_conftree; d && s->is_virtual; d = d->next) {
        if (!ap_cstr_casecmp(d->directive, "<VirtualHost")
            && s->defn_name && d->filename
            && (unsigned)d->line_num == s->defn_line_number
            && !strcmp(d->filename, s->defn_name)) {
            *ambiguous = (found != NULL);
            found = d;
        }
    }
    return found && !*ambiguous ? found->first_child : NULL;
}

/* Looks a server-scope directive up in the configuration tree: the last
 * one inside the server's own <VirtualHost>, else the main server's.
 * Only for settings no module API exposes (mod_ssl's CRL flags); NULL,
 * as if absent, when the server's block cannot be told apart. */
static const char *certmap_tls_directive(server_rec *s, const char *name)
{
    const ap_directive_t *d;
    const char *args = NULL;
    int ambiguous;

    for (d = certmap_tls_vhost_block(s, &ambiguous); d; d = d->next) {
        if (!ap_cstr_casecmp(d->directive, name)) {
            args = d->args;
        }
    }
    if (ambiguous) {
        return NULL;
    }
    for (d = args ? NULL : ap_conftree; d; d = d->next) {
        if (!ap_cstr_casecmp(d->directive, name)) {
            args = d->args;
        }
    }
    return args;
}

/* Whether one per-directory core configuration lets .htaccess files set
 * CertMap directives: AllowOverride All or AuthConfig, or an
 * AllowOverrideList naming one.  Read from what httpd parsed (quotes,
 * <IfModule> and Include resolved), so it is what httpd enforces. */
static int certmap_tls_dir_allows(ap_conf_vector_t *dir_config)
{
    core_dir_config *cd = ap_get_core_module_config(dir_config);
    const apr_array_header_t *names;
    const apr_table_entry_t *e;
    int i;

    if (!cd) {
        return 0;
    }
    if (cd->override & OR_AUTHCFG) {
        return 1;
    }
    if (!cd->override_list) {
        return 0;
    }
    names = apr_table_elts(cd->override_list);
    e = (const apr_table_entry_t *)names->elts;
    for (i = 0; i < names->nelts; i++) {
        if (e[i].key && !ap_cstr_casecmpn(e[i].key, "CertMap", 7)) {
            return 1;
        }
    }
    return 0;
}

/* Whether any <Directory> section that applies to s (the main server's
 * and its own: httpd has merged them by now), or s's defaults, lets
 * .htaccess files set CertMap directives. */
static int certmap_tls_htaccess_auth(server_rec *s)
{
    core_server_config *conf = ap_get_core_module_config(s->module_config);
    ap_conf_vector_t **sections;
    int i;

    if (certmap_tls_dir_allows(s->lookup_defaults)) {
        return 1;
    }
    if (!conf || !conf->sec_dir) {
        return 0;
    }
    sections = (ap_conf_vector_t **)conf->sec_dir->elts;
    for (i = 0; i < conf->sec_dir->nelts; i++) {
        if (certmap_tls_dir_allows(sections[i])) {
            return 1;
        }
    }
    return 0;
}

/* Before mod_ssl sets up its TLS contexts (and so calls init_server):
 * which hosts report invalid certificates.  A host whose .htaccess files
 * may say `CertMap On` reports too, since a request thread must never
 * change what the host does. */
static int certmap_tls_decide_hosts(apr_pool_t *pconf, apr_pool_t *plog,
                                    apr_pool_t *ptemp, server_rec *s)
{
    certmap_srv_conf_t *sc;

    (void)pconf, (void)plog, (void)ptemp;
    for (; s; s = s->next) {
        sc = ap_get_module_config(s->module_config, &certmap_module);
        sc->htaccess_auth = certmap_tls_htaccess_auth(s);
        sc->report = sc->invalid_certs != CERTMAP_INVALID_REJECT
                     && (sc->certmap_used || sc->htaccess_auth
                         || sc->invalid_certs == CERTMAP_INVALID_REPORT);
        if (sc->report && !sc->certmap_used && sc->htaccess_auth) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "CERTMAP100: server "
                         "%s (%s:%d): .htaccess files may set CertMap On, "
                         "so CertMapInvalidCerts Report is in effect here",
                         s->server_hostname ? s->server_hostname : "?",
                         s->defn_name ? s->defn_name : "main configuration",
                         s->defn_line_number);
        }
    }
    return OK;
}

static int certmap_tls_no_crl_ok(apr_pool_t *p, server_rec *s)
{
    const char *args = certmap_tls_directive(s, "SSLCARevocationCheck");
    char *word;

    if (!args) {
        return 0;
    }
    /* httpd's own tokenizer: quotes as httpd reads them */
    while (*(word = ap_getword_conf(p, &args))) {
        if (!ap_cstr_casecmp(word, "no_crl_for_cert_ok")) {
            return 1;
        }
    }
    return 0;
}

/* Runs in place of X509_verify_cert for every verification on a Report
 * server's context: the handshake, and the renegotiation (TLS 1.2) or
 * post-handshake authentication (TLS 1.3) that mod_ssl starts for a
 * per-directory SSLVerifyClient.  mod_ssl puts its own verify callback on
 * the connection right before those, so ours is put in its place here,
 * for each verification, and calls it for every step that passes. */
static int certmap_tls_app_verify(X509_STORE_CTX *store, void *unused)
{
    (void)unused;
    if (certmap_tls.ssl_verify
        && X509_STORE_CTX_get_verify_cb(store) == certmap_tls.ssl_verify) {
        X509_STORE_CTX_set_verify_cb(store, certmap_tls_verify);
    }
    return X509_verify_cert(store);
}

/* Makes a Report server's SSL_CTX verify through certmap_tls_app_verify,
 * keeping mod_ssl's verify mode and callback in place. */
static void certmap_tls_install(server_rec *s, SSL_CTX *ctx,
                                certmap_tls_ctx_t *info)
{
    SSL_verify_cb current = SSL_CTX_get_verify_callback(ctx);

    if (!current
        || (certmap_tls.ssl_verify && current != certmap_tls.ssl_verify)) {
        /* Not the one mod_ssl installs everywhere: leave it alone. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "CERTMAP106: %s:%d: the "
                     "TLS context has an unexpected verify callback; "
                     "CertMapInvalidCerts Report is not in effect here "
                     "(invalid client certificates get mod_ssl's TLS "
                     "alert)", s->defn_name ? s->defn_name : "?",
                     s->defn_line_number);
        return;
    }
    certmap_tls.ssl_verify = current;
    SSL_CTX_set_cert_verify_callback(ctx, certmap_tls_app_verify, NULL);
    info->report = 1;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "CERTMAP101: %s (%s:%d): "
                 "CertMapInvalidCerts Report in effect",
                 s->server_hostname ? s->server_hostname : "?",
                 s->defn_name ? s->defn_name : "main configuration",
                 s->defn_line_number);
}

static int certmap_tls_init_server(server_rec *s, apr_pool_t *p,
                                   int is_proxy, SSL_CTX *ctx)
{
    certmap_srv_conf_t *sc = ap_get_module_config(s->module_config,
                                                  &certmap_module);
    certmap_tls_ctx_t *info;

    if (is_proxy || !sc) {
        return DECLINED;
    }
    if (!certmap_tls.by_ctx) {
        certmap_tls.by_ctx = apr_hash_make(p);
        certmap_tls.by_server = apr_hash_make(p);
        apr_pool_cleanup_register(p, NULL, certmap_tls_reset,
                                  apr_pool_cleanup_null);
    }
    info = apr_pcalloc(p, sizeof(*info));
    info->s = s;
    info->ctx = ctx;
    info->no_crl_ok = certmap_tls_no_crl_ok(p, s);
    info->requests_cert =
        (SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER) != 0;
    apr_hash_set(certmap_tls.by_ctx, apr_pmemdup(p, &ctx, sizeof(ctx)),
                 sizeof(SSL_CTX *), info);
    apr_hash_set(certmap_tls.by_server, apr_pmemdup(p, &s, sizeof(s)),
                 sizeof(server_rec *), info);

    if (sc->report) {
        certmap_tls_install(s, ctx, info);
    }
    return OK;
}

/* Every client TLS connection gets its state, holding the SSL * so the
 * glue reads the peer certificate directly, and the filter that puts a
 * recorded failure back after the handshake. */
static int certmap_tls_pre_handshake(conn_rec *c, SSL *ssl, int is_proxy)
{
    certmap_conn_t *cc;

    if (is_proxy) {
        return DECLINED;
    }
    cc = apr_pcalloc(c->pool, sizeof(*cc));
    cc->ssl = ssl;
    cc->verify_failure = CERTMAP_GRANTED;
    ap_set_module_config(c->conn_config, &certmap_module, cc);
    ap_add_input_filter_handle(certmap_tls_filter_handle, cc, NULL, c);
    return OK;
}

/* ---- after the handshake ------------------------------------------------ */

/* Sits above mod_ssl's input filter until the handshake is done, then
 * tells mod_ssl what the callback recorded, before any request is read,
 * and records a failure mod_ssl's own callback let through. */
static apr_status_t certmap_tls_filter(ap_filter_t *f,
                                       apr_bucket_brigade *bb,
                                       ap_input_mode_t mode,
                                       apr_read_type_e block,
                                       apr_off_t readbytes)
{
    certmap_conn_t *cc = f->ctx;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);

    if (!ap_ssl_conn_is_ssl(f->c)) {
        /* mod_ssl gave up on TLS here (failed handshake, plain HTTP on
         * the TLS port) and freed the SSL. */
        cc->ssl = NULL;
        ap_remove_input_filter(f);
        return rv;
    }
    if (!SSL_is_init_finished(cc->ssl)) {
        return rv;
    }
    if (cc->verify_masked) {
        SSL_set_verify_result(cc->ssl, cc->verify_error);
    }
    else {
        certmap_tls_observe(f->c, cc);
    }
    ap_remove_input_filter(f);
    return rv;
}

/* What mod_ssl says of the certificate (SSL_CLIENT_VERIFY): GENEROUS and
 * FAILED are failures, and so is no answer when a certificate is there. */
static int certmap_tls_mod_ssl_failed(request_rec *r, int has_cert,
                                      const char **verify)
{
    *verify = ap_ssl_var_lookup(r->pool, r->server, r->connection, r,
                                "SSL_CLIENT_VERIFY");
    if (!*verify || !**verify) {
        return has_cert;
    }
    return strcmp(*verify, "SUCCESS") != 0 && strcmp(*verify, "NONE") != 0;
}

/* ---- the serving host's own trust -------------------------------------- */

typedef struct {
    certmap_outcome_e outcome;          /* the worst step; GRANTED: none */
    int err;
    int no_crl_ok;
} certmap_tls_check_t;

/* Collects every failed step, as the Report callback does. */
static int certmap_tls_check_step(int ok, X509_STORE_CTX *store)
{
    certmap_tls_check_t *check = X509_STORE_CTX_get_app_data(store);
    int err = X509_STORE_CTX_get_error(store);
    certmap_outcome_e outcome;

    if (ok) {
        return 1;
    }
    if (err == X509_V_ERR_UNABLE_TO_GET_CRL && check->no_crl_ok) {
        return 1;
    }
    outcome = certmap_tls_classify(err);
    if (check->outcome == CERTMAP_GRANTED || outcome < check->outcome) {
        check->outcome = outcome;
        check->err = err;
    }
    return 1;
}

certmap_outcome_e certmap_tls_verify_with(X509_STORE *trust,
                                          const X509_VERIFY_PARAM *param,
                                          int no_crl_ok, X509 *x509,
                                          STACK_OF(X509) *chain, int *err)
{
    X509_STORE_CTX *store = X509_STORE_CTX_new();
    certmap_tls_check_t check = { CERTMAP_GRANTED, X509_V_OK, 0 };
    int verified;

    check.no_crl_ok = no_crl_ok;
    if (!store || !X509_STORE_CTX_init(store, trust, x509, chain)
        /* as libssl verifies a client's certificate */
        || !X509_STORE_CTX_set_default(store, "ssl_client")
        || (param && !X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(store),
                                             param))) {
        X509_STORE_CTX_free(store);
        *err = X509_V_ERR_UNSPECIFIED;
        return CERTMAP_CERT_UNTRUSTED;
    }
    X509_STORE_CTX_set_app_data(store, &check);
    X509_STORE_CTX_set_verify_cb(store, certmap_tls_check_step);
    verified = X509_verify_cert(store);
    X509_STORE_CTX_free(store);
    ERR_clear_error();
    if (verified <= 0 && check.outcome == CERTMAP_GRANTED) {
        check.outcome = CERTMAP_CERT_UNTRUSTED;     /* failed, no step said */
        check.err = X509_V_ERR_UNSPECIFIED;
    }
    *err = check.err;
    return check.outcome;
}

/* A certificate verified in the handshake was verified with the trust of
 * the host the handshake was made for (SNI, or the default host).  When
 * another host serves the request, it is verified again with that host's
 * trust: a certificate from a CA only the other host trusts, or revoked
 * by a CRL only this host has, fails here.  A host without a TLS context
 * of its own cannot vouch for any certificate. */
static certmap_outcome_e certmap_tls_serving_trust(request_rec *r, SSL *ssl,
                                                   X509 *x509,
                                                   const char **reason)
{
    certmap_tls_ctx_t *info = certmap_tls.by_server
        ? apr_hash_get(certmap_tls.by_server, &r->server, sizeof(r->server))
        : NULL;
    certmap_outcome_e outcome;
    int err;

    if (info && info->ctx == SSL_get_SSL_CTX(ssl)) {
        return CERTMAP_GRANTED;
    }
    if (!info) {
        *reason = "the virtual host serving the request has no TLS "
                  "configuration of its own to verify the certificate with";
        return CERTMAP_CERT_UNTRUSTED;
    }
    outcome = certmap_tls_verify_with(SSL_CTX_get_cert_store(info->ctx),
                                      SSL_CTX_get0_param(info->ctx),
                                      info->no_crl_ok, x509,
                                      SSL_get_peer_cert_chain(ssl), &err);
    if (outcome != CERTMAP_GRANTED) {
        *reason = apr_psprintf(r->pool, "the certificate fails verification "
                               "with the trust of the virtual host serving "
                               "the request (not the handshake's): %s",
                               X509_verify_cert_error_string(err));
    }
    return outcome;
}

/* ---- the verdict for a request ----------------------------------------- */

/* The verification failure of the client certificate on r's connection,
 * CERTMAP_GRANTED when there is none, with *reason.  `ask_mod_ssl` also
 * reads mod_ssl's own verdict (a variable lookup): needed after mod_ssl's
 * access hook, which may renegotiate or call a certificate GENEROUS
 * without an OpenSSL error.  A failure of the connection is recorded for
 * it; a failure against the serving host's trust is this request's. */
static certmap_outcome_e certmap_tls_failure(request_rec *r,
                                             certmap_conn_t *cc,
                                             int ask_mod_ssl,
                                             const char **reason)
{
    conn_rec *c = r->connection;
    X509 *x509 = (cc && cc->ssl) ? SSL_get0_peer_certificate(cc->ssl)
                                 : NULL;
    const char *verify;
    long err;

    *reason = "the client certificate failed verification";
    if (cc) {
        certmap_tls_observe(c, cc);
        if (cc->verify_failure != CERTMAP_GRANTED) {
            if (cc->verify_reason) {
                *reason = cc->verify_reason;
            }
            return cc->verify_failure;
        }
        if (cc->ssl && !x509) {
            return CERTMAP_GRANTED;         /* no certificate to fail */
        }
        if (x509 && (err = SSL_get_verify_result(cc->ssl)) != X509_V_OK) {
            *reason = X509_verify_cert_error_string(err);   /* a stream */
            return certmap_tls_classify((int)err);
        }
    }
    if ((!cc || !cc->ssl || ask_mod_ssl)
        && certmap_tls_mod_ssl_failed(r, x509 != NULL, &verify)) {
        *reason = apr_psprintf(r->pool, "mod_ssl did not verify the "
                               "certificate (SSL_CLIENT_VERIFY=%s)",
                               verify ? verify : "(unset)");
        if (cc && !c->master
            && certmap_tls_worse(cc, CERTMAP_CERT_UNTRUSTED)) {
            certmap_tls_keep(cc, CERTMAP_CERT_UNTRUSTED,
                             X509_V_ERR_UNSPECIFIED,
                             apr_pstrdup(c->pool, *reason),
                             certmap_x509_describe(c->pool, x509), 0);
        }
        return CERTMAP_CERT_UNTRUSTED;
    }
    return x509 ? certmap_tls_serving_trust(r, cc->ssl, x509, reason)
                : CERTMAP_GRANTED;
}

certmap_outcome_e certmap_tls_verified(request_rec *r, certmap_conn_t *cc,
                                       const char **reason)
{
    return certmap_tls_failure(r, cc, 1, reason);
}

/* Whether the virtual host serving r reports invalid certificates. */
static int certmap_tls_reports(request_rec *r)
{
    certmap_srv_conf_t *sc = ap_get_module_config(r->server->module_config,
                                                  &certmap_module);

    return sc && sc->report;
}

#define CERTMAP_TLS_REFUSED "certmap-tls-refused"
#define CERTMAP_TLS_EXEMPT  "certmap-tls-exempt"

/* Ends r with the connection's failure.  The connection is closed after
 * the answer: every later request on it would be refused the same way. */
static int certmap_tls_refuse(request_rec *r, certmap_conn_t *cc,
                              certmap_outcome_e outcome, const char *why)
{
    X509 *x509 = (cc && cc->ssl) ? SSL_get0_peer_certificate(cc->ssl)
                                 : NULL;
    certmap_cert_t *cert = NULL;
    const char *reason;
    int status;

    if (x509 && certmap_cert_parse(r->pool, x509, &cert)) {
        cert = NULL;
    }
    reason = apr_pstrcat(r->pool, "client certificate failed TLS "
                         "verification: ", why,
                         cc && cc->verify_cert_desc ? "; failing "
                         "certificate: " : "",
                         cc && cc->verify_cert_desc ? cc->verify_cert_desc
                                                    : "", NULL);
    /* whatever mod_ssl made of the certificate is no one's identity */
    r->user = NULL;
    r->ap_auth_type = NULL;
    r->connection->keepalive = AP_CONN_CLOSE;
    apr_table_setn(r->notes, CERTMAP_TLS_REFUSED, "1");
    status = certmap_finish(r, outcome, cert, NULL, NULL, reason);
    return (status == OK || status == DECLINED) ? HTTP_FORBIDDEN : status;
}

/* ---- the ErrorDocument of a refusal ------------------------------------- */

/* Whether r is the internal redirect to the ErrorDocument the refused
 * request's virtual host configures for that status, at server level.
 * Not one from a <Location>, <Directory> or .htaccess: whoever may write
 * those could point it at a page that trusts the certificate.  Not on an
 * HTTP/2 stream: putting the failure back would write the connection's
 * TLS state from a stream's thread. */
static int certmap_tls_is_error_document(request_rec *r)
{
    request_rec *prev = r->prev, server_level;
    const char *target;

    if (!prev || !apr_table_get(prev->notes, CERTMAP_TLS_REFUSED)
        || r->connection->master || !r->unparsed_uri) {
        return 0;
    }
    server_level = *prev;
    server_level.per_dir_config = prev->server->lookup_defaults;
    target = ap_response_code_string(&server_level,
                                     ap_index_of_response(prev->status));
    return target && target[0] == '/'
           && strcmp(target, r->unparsed_uri) == 0;
}

/* The ErrorDocument of our own refusal, and its subrequests: served, but
 * never with the certificate looking valid. */
static int certmap_tls_exempt(request_rec *r)
{
    for (; r; r = r->main) {
        if (apr_table_get(r->notes, CERTMAP_TLS_EXEMPT)) {
            return 1;
        }
    }
    return 0;
}

/* mod_ssl resets the verify result on every TLS 1.2 request; where we let
 * a request on a failed connection through (its ErrorDocument), put the
 * failure back so SSL_CLIENT_VERIFY reads FAILED and `Require
 * ssl-verify-client` denies. */
static void certmap_tls_reassert(certmap_conn_t *cc)
{
    if (cc && cc->ssl && cc->verify_failure != CERTMAP_GRANTED
        && cc->verify_error != X509_V_OK) {
        SSL_set_verify_result(cc->ssl, cc->verify_error);
    }
}

/* The ErrorDocument is served as it would be to a client without a
 * certificate: whatever mod_ssl made of the certificate (SSLUserName) is
 * dropped after mod_ssl's access hook; a page that wants an authenticated
 * user is refused when authentication starts (certmap_tls_refuse_authn). */
static int certmap_tls_serve_exempt(request_rec *r, certmap_conn_t *cc,
                                    int after_ssl)
{
    certmap_tls_reassert(cc);
    if (after_ssl) {
        r->user = NULL;
        r->ap_auth_type = NULL;
    }
    return DECLINED;
}

int certmap_tls_refuse_authn(request_rec *r)
{
    certmap_conn_t *cc;

    if (!certmap_tls_exempt(r)) {
        return 0;
    }
    cc = certmap_conn_get(r->connection);
    return certmap_tls_refuse(r, cc, cc && cc->verify_failure
                                     != CERTMAP_GRANTED ? cc->verify_failure
                                                        : CERTMAP_CERT_UNTRUSTED,
                              "its ErrorDocument needs an authenticated user");
}

/* ---- the request hooks -------------------------------------------------- */

/* Decides r against the policy of the host that serves it: refused when
 * the certificate failed and this host reports invalid certificates, or
 * when our callback hid the failure from mod_ssl (then on every host). */
static int certmap_tls_decide(request_rec *r, int after_ssl)
{
    certmap_conn_t *cc;
    certmap_outcome_e outcome;
    const char *why;

    if (!ap_ssl_conn_is_ssl(r->connection)) {
        return DECLINED;
    }
    cc = certmap_conn_get(r->connection);
    if (certmap_tls_exempt(r)) {
        return certmap_tls_serve_exempt(r, cc, after_ssl);
    }
    if (!certmap_tls_reports(r) && !(cc && cc->verify_masked)) {
        return DECLINED;
    }
    outcome = certmap_tls_failure(r, cc, after_ssl, &why);
    if (outcome == CERTMAP_GRANTED) {
        return DECLINED;
    }
    return certmap_tls_refuse(r, cc, outcome, why);
}

/* Every request, before any location, quick handler or authorization
 * sees it (r->server is the host Host or :authority chose). */
static int certmap_tls_read_request(request_rec *r)
{
    if (certmap_tls_is_error_document(r)) {
        apr_table_setn(r->notes, CERTMAP_TLS_EXEMPT, "1");
    }
    return certmap_tls_decide(r, 0);
}

/* Right after mod_ssl's access hook, which may have renegotiated for a
 * per-directory SSLVerifyClient, or reset the verify result. */
static int certmap_tls_access(request_rec *r)
{
    return certmap_tls_decide(r, 1);
}

/* First among the access_checker_ex hooks: under `Satisfy Any`, httpd
 * goes on to them after an access checker refused, and an authorization
 * that needs no user could grant.  A refusal of ours stands. */
static int certmap_tls_hold_refusal(request_rec *r)
{
    int status = certmap_refusal_status(r);

    return status ? status : DECLINED;
}

/* ---- what other files call ---------------------------------------------- */

certmap_conn_t *certmap_conn_get(conn_rec *c)
{
    certmap_conn_t *cc = ap_get_module_config(c->conn_config,
                                              &certmap_module);

    if (!cc && c->master) {
        cc = ap_get_module_config(c->master->conn_config, &certmap_module);
    }
    return cc;
}

static void certmap_tls_warn(server_rec *s, const char *what)
{
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "CERTMAP107: server %s "
                 "(%s:%d) uses CertMap but %s", s->server_hostname
                 ? s->server_hostname : "?", s->defn_name ? s->defn_name
                 : "main configuration", s->defn_line_number, what);
}

/* Runs after mod_ssl's post_config (so after every init_server). */
int certmap_tls_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    certmap_tls_ctx_t *info;
    certmap_srv_conf_t *sc;

    (void)pconf, (void)plog, (void)ptemp;
    for (; s; s = s->next) {
        sc = ap_get_module_config(s->module_config, &certmap_module);
        if (!sc || !sc->certmap_used) {
            continue;
        }
        info = certmap_tls.by_server
               ? apr_hash_get(certmap_tls.by_server, &s, sizeof(s)) : NULL;
        if (!info) {
            certmap_tls_warn(s, "has no SSLEngine on: its CertMap "
                             "locations answer 403.4 (SSL required)");
        }
        else if (!info->requests_cert) {
            certmap_tls_warn(s, "requests no client certificate in the "
                             "handshake (no SSLVerifyClient optional or "
                             "require): CertMap locations answer 403.7, "
                             "except where a per-directory SSLVerifyClient "
                             "renegotiates (TLS 1.2 only; invalid "
                             "certificates then get mod_ssl's own TLS "
                             "alert)");
        }
    }
    return OK;
}

void certmap_tls_register_hooks(apr_pool_t *p)
{
    static const char *const after_ssl[] = { "mod_ssl.c", NULL };
    static const char *const before_ssl[] = { "mod_ssl.c", NULL };

    (void)p;
    APR_OPTIONAL_HOOK(certmap_ssl, init_server, certmap_tls_init_server,
                      NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(certmap_ssl, pre_handshake, certmap_tls_pre_handshake,
                      NULL, NULL, APR_HOOK_MIDDLE);
    certmap_tls_filter_handle =
        ap_register_input_filter(CERTMAP_TLS_FILTER, certmap_tls_filter,
                                 NULL, AP_FTYPE_CONNECTION + 4);
    ap_hook_post_config(certmap_tls_decide_hosts, NULL, before_ssl,
                        APR_HOOK_MIDDLE);
    ap_hook_post_read_request(certmap_tls_read_request, after_ssl, NULL,
                              APR_HOOK_MIDDLE);
    ap_hook_check_access(certmap_tls_access, after_ssl, NULL,
                         APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_access_ex(certmap_tls_hold_refusal, NULL, NULL,
                            APR_HOOK_FIRST, AP_AUTH_INTERNAL_PER_CONF);
}
