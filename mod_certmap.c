/* Licensed under the Apache License, Version 2.0.
 *
 * mod_certmap.c — IIS "Client Certificate Mapping Authentication" for
 * Apache httpd 2.4: the module record, hook registration and the request
 * path.
 *
 * A client presents a certificate; mod_ssl verifies it; this module maps
 * it to an account (one-to-one by the whole certificate, many-to-one by
 * Subject/Issuer rules), logs on to that account through PAM and sets
 * r->user — or ends the request with the IIS status an IIS admin knows.
 * The rest lives elsewhere: configuration in certmap_config.c, answers in
 * certmap_outcome.c, the mapping engine in certmap_rules.c, the TLS policy
 * in certmap_tls.c, the PAM logon in certmap_pam.c (run by the logon
 * helper: certmap_logon_helper.c, certmap_logond.c), the shared cache in
 * certmap_cache.c, what a connection remembers in certmap_memo.c, the
 * directory lookup in certmap_directory.c, -D DUMP_CERTMAP and
 * `certmap explain` in certmap_dump.c and certmap_explain.c, and the
 * counters mod_status shows in certmap_status.c.
 */

#include "apr_strings.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_ssl.h"

#include "certmap_private.h"
#include "certmap_pam.h"
#include "certmap_directory.h"

#define CERTMAP_AUTH_TYPE "Certificate"

static int certmap_flag(int value, int dflt)
{
    return value == CERTMAP_UNSET ? dflt : value;
}

/* What a request knows about its certificate (present, verified, cipher
 * strength, parsed) is gathered in one place, certmap_facts.c: from
 * mod_ssl, or from a trusted proxy's header (certmap_proxy.c). */

/* ---- logon ------------------------------------------------------------ */

/* A successful logon to remember for `timeout` seconds: here for this
 * connection, and in the shared cache for the next ones. */
static void certmap_logon_succeeded(request_rec *r, certmap_conn_t *cc,
                                    const certmap_logon_t *l, int timeout,
                                    const certmap_when_t *when,
                                    int store_shared)
{
    if (timeout <= 0) {
        return;
    }
    if (cc) {
        certmap_memo_remember_logon(cc, r->connection, l, when);
    }
    if (store_shared) {
        certmap_cache_store(r, l, timeout);
    }
}

static certmap_outcome_e certmap_logon(request_rec *r,
                                       const certmap_dir_conf_t *dc,
                                       certmap_conn_t *cc,
                                       const char *account,
                                       const certmap_mapping_t *m,
                                       const certmap_cert_t *cert,
                                       const char **reason)
{
    int timeout = certmap_flag(dc->logon_cache_timeout,
                               CERTMAP_DEFAULT_CACHE_TIMEOUT);
    certmap_logon_t l;
    certmap_when_t logged_on;
    apr_time_t pam_start;
    certmap_pam_result_e pam_result;
    char message[256];
    int pam_status = 0;

    if (!certmap_flag(dc->pam, 1)) {
        *reason = "PAM off";
        return CERTMAP_GRANTED;
    }
    /* Everything PAM is handed; what is remembered is keyed on all of it
     * (a PAM policy on the remote host must be asked again for another
     * host). */
    l.service = dc->pam_service ? dc->pam_service
                                : CERTMAP_DEFAULT_PAM_SERVICE;
    l.account = account;
    l.password = m->password;
    l.rhost = r->useragent_ip;
    l.cert = cert;
    if (cc && certmap_memo_logon(cc, &l, timeout)) {
        *reason = "PAM logon remembered by this connection";
        return CERTMAP_GRANTED;
    }
    if (timeout > 0 && certmap_cache_lookup(r, &l, timeout, &logged_on)) {
        certmap_logon_succeeded(r, cc, &l, timeout, &logged_on, 0);
        *reason = "PAM logon cached";
        return CERTMAP_GRANTED;
    }

    message[0] = '\0';
    /* PAM runs in the logon helper (certmap_logon_helper.c), bounded by
     * CertMapLogonTimeout. */
    pam_start = apr_time_now();
    pam_result = certmap_logon_helper_logon(r, dc, &l, &pam_status, message,
                                            sizeof(message));
    certmap_status_pam(pam_result, apr_time_now() - pam_start);
    switch (pam_result) {
    case CERTMAP_PAM_OK:
        logged_on = certmap_when_now(timeout);
        certmap_logon_succeeded(r, cc, &l, timeout, &logged_on, 1);
        *reason = apr_psprintf(r->pool, "PAM service '%s'", l.service);
        return CERTMAP_GRANTED;
    case CERTMAP_PAM_REFUSED:
        *reason = apr_psprintf(r->pool, "PAM service '%s' refused the "
                               "logon of '%s': %s (%d)", l.service, account,
                               message, pam_status);
        return CERTMAP_LOGON_FAILED;
    default:
        *reason = apr_psprintf(r->pool, "PAM service '%s' failed for '%s': "
                               "%s (%d)", l.service, account, message,
                               pam_status);
        return CERTMAP_INTERNAL_ERROR;
    }
}

/* ---- the request path ------------------------------------------------- */

/* The mapping for cert in this scope, remembered per connection: the
 * same certificate, tables (by identity, see certmap_memo.c) and flags
 * always give the same answer. */
static const certmap_mapping_t *certmap_find_mapping(
    const certmap_dir_conf_t *dc, certmap_conn_t *cc,
    const certmap_cert_t *cert)
{
    int one_to_one = certmap_flag(dc->one_to_one, 1);
    int many_to_one = certmap_flag(dc->many_to_one, 1);
    const certmap_mapping_t *m;

    if (cc && certmap_memo_match(cc, cert, dc->tables, one_to_one,
                                 many_to_one, &m)) {
        return m;
    }
    m = certmap_match(dc->tables, cert, one_to_one, many_to_one, NULL);
    if (cc) {
        certmap_memo_remember_match(cc, cert, dc->tables, one_to_one,
                                    many_to_one, m);
    }
    return m;
}

/* Maps a verified certificate and logs on.  Every path that does not end
 * in a grant ends the request: a presented certificate never falls
 * through to other authentication.  cc is NULL when the module never saw
 * the connection's SSL (nothing is remembered then). */
static int certmap_map_and_logon(request_rec *r,
                                 const certmap_dir_conf_t *dc,
                                 certmap_conn_t *cc,
                                 const certmap_cert_t *cert)
{
    const certmap_mapping_t *m = certmap_find_mapping(dc, cc, cert);
    const certmap_template_t *tpl;
    const char *account, *reason = NULL;
    certmap_outcome_e outcome;

    if (!m) {
        /* CertMapDirectory: the directory may know the certificate. */
        outcome = certmap_directory_map(r, dc, cc, cert, &m, &reason);
        if (outcome != CERTMAP_GRANTED) {
            return certmap_finish(r, outcome, cert, NULL, NULL, reason);
        }
    }
    if (m->permission == CERTMAP_DENY) {
        return certmap_finish(r, CERTMAP_MAPPER_DENIED, cert, m, NULL,
                              apr_psprintf(r->pool, "many-to-one mapping "
                                           "'%s' (%s:%u) denies access",
                                           m->name, m->file, m->line));
    }

    account = m->user;
    if ((tpl = certmap_mapping_template(m))) {
        /* Expanded for every request from this certificate: the memo
         * remembers which mapping matched, never the name. */
        if (certmap_template_expand(r->pool, tpl, cert,
                                    &account, &reason) != CERTMAP_NAME_OK) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "CERTMAP400: "
                          "many-to-one mapping '%s' (%s:%u): %s; refusing "
                          "the certificate", m->name, m->file, m->line,
                          reason);
            return certmap_finish(r, CERTMAP_NOT_MAPPED, cert, m, NULL,
                                  apr_psprintf(r->pool, "mapping '%s': %s",
                                               m->name, reason));
        }
    }
    account = certmap_conf_account(r->pool, dc, account);
    outcome = certmap_logon(r, dc, cc, account, m, cert, &reason);
    if (outcome != CERTMAP_GRANTED) {
        return certmap_finish(r, outcome, cert, m, account, reason);
    }
    r->user = apr_pstrdup(r->pool, account);
    r->ap_auth_type = CERTMAP_AUTH_TYPE;
    if (APLOGrinfo(r)) {
        reason = apr_psprintf(r->pool, "mapping '%s' at %s:%u, %s", m->name,
                              m->file, m->line, reason);
    }
    certmap_finish(r, CERTMAP_GRANTED, cert, m, account, reason);
    return OK;
}

/* The contract's table, in its order.  Runs after mod_ssl's own access
 * hook (renegotiation, SSLRequire) and before mod_authz_core decides, so
 * `Require user ...` sees the mapped account. */
static int certmap_check_access(request_rec *r)
{
    const certmap_dir_conf_t *dc =
        ap_get_module_config(r->per_dir_config, &certmap_module);
    const char *prev, *reason = NULL;
    const certmap_facts_t *facts;
    certmap_outcome_e outcome;
    certmap_conn_t *cc;
    int flags;

    if (certmap_flag(dc->enabled, 0) != 1) {
        return DECLINED;
    }
    /* The ErrorDocument of our own refusal is served, not refused again. */
    if (r->prev && (prev = apr_table_get(r->prev->notes,
                                         "certmap-substatus"))
        && strcmp(prev, "0") != 0) {
        return DECLINED;
    }

    flags = certmap_conf_ssl_flags(dc);
    cc = certmap_conn_get(r->connection);
    facts = certmap_facts_get(r);
    switch (certmap_facts_precheck(facts, flags, &outcome, &reason)) {
    case 0:
        break;                      /* a verified certificate: map it */
    case 1:
        if (outcome == CERTMAP_SSL128_REQUIRED) {
            reason = apr_psprintf(r->pool, "cipher strength %d bits",
                                  facts->cipher_bits);
        }
        return certmap_finish(r, outcome, facts->cert, NULL, NULL, reason);
    default:
        return DECLINED;            /* another AuthType may decide */
    }
    /* The memo is the connection's: not for parallel HTTP/2 streams. */
    return certmap_map_and_logon(r, dc, r->connection->master ? NULL : cc,
                                 facts->cert);
}

/* Runs first among the authentication hooks.  httpd asks for
 * authentication even after an access checker refused when `Satisfy Any`
 * (mod_access_compat) is in force, and an access checker of another
 * module may refuse before ours ran: a certificate mod_certmap refuses,
 * or has not looked at yet, must not fall through to Basic or any other
 * AuthType there either. */
static int certmap_check_user_first(request_rec *r)
{
    const certmap_dir_conf_t *dc =
        ap_get_module_config(r->per_dir_config, &certmap_module);
    int status = certmap_refusal_status(r);

    if (status || (status = certmap_tls_refuse_authn(r))) {
        return status;
    }
    if (certmap_flag(dc->enabled, 0) != 1 || r->user) {
        return DECLINED;
    }
    return certmap_check_access(r);
}

/* Runs last among the authentication hooks, so only when the location
 * needs a user, no certificate was presented, and no other AuthType took
 * the request: IIS answers 403.7 there. */
static int certmap_check_user(request_rec *r)
{
    const certmap_dir_conf_t *dc =
        ap_get_module_config(r->per_dir_config, &certmap_module);
    const char *type = ap_auth_type(r);

    if (certmap_flag(dc->enabled, 0) != 1 || r->user) {
        return DECLINED;
    }
    if (type && strcasecmp(type, CERTMAP_AUTH_TYPE) != 0) {
        return DECLINED;
    }
    return certmap_finish(r, CERTMAP_CERT_REQUIRED, NULL, NULL, NULL,
                          "no client certificate and no other "
                          "authentication configured");
}

/* ---- start-up --------------------------------------------------------- */

static int certmap_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp)
{
    return certmap_cache_pre_config(pconf, plog, ptemp);
}

static int certmap_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s)
{
    int rv = certmap_cache_post_config(pconf, plog, ptemp, s);

    if (rv != OK) {
        return rv;
    }
    rv = certmap_logon_helper_post_config(pconf, plog, ptemp, s);
    if (rv != OK) {
        return rv;
    }
    rv = certmap_status_post_config(pconf, plog, ptemp, s);
    if (rv != OK) {
        return rv;
    }
    return certmap_tls_post_config(pconf, plog, ptemp, s);
}

static void certmap_child_init(apr_pool_t *p, server_rec *s)
{
    certmap_cache_child_init(p, s);
}

static void certmap_register_hooks(apr_pool_t *p)
{
    static const char *const after_ssl[] = { "mod_ssl.c", NULL };
    /* mod_authn_core's last-resort hook grants requests without AuthType:
     * ours must come first to answer 403.7 there. */
    static const char *const before_authn_core[] = { "mod_authn_core.c",
                                                     NULL };

    ap_hook_pre_config(certmap_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(certmap_post_config, after_ssl, NULL,
                        APR_HOOK_MIDDLE);
    ap_hook_child_init(certmap_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_test_config(certmap_dump_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_test_config(certmap_explain_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_access(certmap_check_access, after_ssl, NULL,
                         APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authn(certmap_check_user_first, NULL, NULL,
                        APR_HOOK_FIRST, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authn(certmap_check_user, NULL, before_authn_core,
                        APR_HOOK_LAST, AP_AUTH_INTERNAL_PER_CONF);
    certmap_tls_register_hooks(p);
    certmap_proxy_register_hooks(p);
    certmap_directory_register_hooks(p);
    certmap_outcome_register_hooks(p);
    certmap_status_register_hooks(p);
}

/* Declared by hand rather than with AP_DECLARE_MODULE, which would repeat
 * certmap_private.h's APLOG_USE_MODULE (mod_ssl does the same). */
module AP_MODULE_DECLARE_DATA certmap_module = {
    STANDARD20_MODULE_STUFF,
    certmap_create_dir_conf,
    certmap_merge_dir_conf,
    certmap_create_srv_conf,
    certmap_merge_srv_conf,
    certmap_cmds,
    certmap_register_hooks,
    /* Every virtual host gets its own server record, even one without a
     * directive of ours: start-up writes per-host decisions into it
     * (certmap_tls.c), which must not land in a record shared with the
     * main server. */
    AP_MODULE_FLAG_ALWAYS_MERGE
};
