/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_directory.c — directory mapping (IIS: Active Directory mapping).
 *
 * Owns the CertMapDirectory* directives, the LDAP lookup that runs when
 * one-to-one and many-to-one mappings found nothing, the Active Directory
 * altSecurityIdentities strings built from a certificate, and the shared
 * cache of found mappings.
 *
 * LDAP connections come from mod_ldap's pool (util_ldap optional
 * functions, as mod_authnz_ldap uses them): pooled per process, one
 * request at a time per connection, safe under the threaded MPMs.  The
 * searches themselves run on the pooled LDAP handle with libldap, since
 * util_ldap offers no general search.
 *
 * `certmap explain` (certmap_explain.c) runs the same methods through
 * certmap_directory_explain, on a libldap connection of its own: in the
 * test_config hook there is no request for mod_ldap's pool.
 *
 * Found mappings are remembered in the module's shared cache
 * (certmap_cache.c).  A start-up hook checks that mod_ldap is loaded when
 * `CertMapDirectory On` was read in this configuration generation.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_optional.h"

#include "ap_provider.h"
#include "http_core.h"
#include "http_log.h"
#include "util_cfgtree.h"
#include "util_ldap.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "certmap_directory.h"
#include "certmap_ad.h"

#define DIR_DEFAULT_ATTR        "uid"
#define DIR_DEFAULT_MAPPING     "altSecurityIdentities"
#define DIR_MAX_TIMEOUT         300     /* CertMapDirectoryTimeout's range */
/* mod_ldap's LDAPReferrals values (util_ldap.c; not in util_ldap.h) */
#define DIR_CHASEREFERRALS_OFF  0
#define DIR_CHASEREFERRALS_ON   1

/* CertMapDirectoryMatch methods, in the contract's words. */
typedef enum {
    DIR_CERTIFICATE = 1, DIR_ISSUER_SERIAL, DIR_SKI, DIR_SHA1_PUKEY,
    DIR_ISSUER_SUBJECT, DIR_SUBJECT, DIR_RFC822, DIR_UPN, DIR_SID
} dir_method_e;

static const struct {
    const char *name;
    dir_method_e method;
} dir_methods[] = {
    { "Certificate", DIR_CERTIFICATE }, { "IssuerSerial", DIR_ISSUER_SERIAL },
    { "SKI", DIR_SKI }, { "SHA1-PUKEY", DIR_SHA1_PUKEY },
    { "IssuerSubject", DIR_ISSUER_SUBJECT }, { "Subject", DIR_SUBJECT },
    { "RFC822", DIR_RFC822 }, { "UPN", DIR_UPN }, { "SID", DIR_SID },
    { NULL, 0 }
};

static const dir_method_e dir_default_methods[] = {
    DIR_CERTIFICATE, DIR_ISSUER_SERIAL, DIR_SKI, DIR_SHA1_PUKEY
};

/* A parsed CertMapDirectoryURL. */
struct certmap_dir_url {
    const char *text;           /* as configured: logs, cache key */
    const char *host;
    int port;
    int secure;                 /* APR_LDAP_NONE or APR_LDAP_SSL */
    const char *base;
    int scope;
    const char *attr;           /* ACCOUNTATTR */
    const char *filter;         /* "(...)" */
    const char *file;           /* where it was configured, for logs */
    unsigned int line;
};

/* Per-generation state, set up before any request and only read after. */
static struct {
    int used;                               /* CertMapDirectory On seen */
} dir_state;

static APR_OPTIONAL_FN_TYPE(uldap_connection_find) *dir_ldap_find;
static APR_OPTIONAL_FN_TYPE(uldap_connection_close) *dir_ldap_close;
static APR_OPTIONAL_FN_TYPE(uldap_connection_unbind) *dir_ldap_unbind;

/* ---- start-up: the shared cache, mod_ldap -------------------------------- */

static int dir_retrieve_ldap(void)
{
    dir_ldap_find = APR_RETRIEVE_OPTIONAL_FN(uldap_connection_find);
    dir_ldap_close = APR_RETRIEVE_OPTIONAL_FN(uldap_connection_close);
    dir_ldap_unbind = APR_RETRIEVE_OPTIONAL_FN(uldap_connection_unbind);
    return dir_ldap_find && dir_ldap_close && dir_ldap_unbind;
}

/* A missing mod_ldap stops configtest instead of failing every request. */
static int dir_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    if (dir_state.used && !dir_retrieve_ldap()) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "CERTMAP060: "
                     "CertMapDirectory On needs mod_ldap "
                     "(LoadModule ldap_module)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* Every generation starts from nothing. */
static int dir_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    memset(&dir_state, 0, sizeof(dir_state));
    return OK;
}

void certmap_directory_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(dir_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(dir_check_config, NULL, NULL, APR_HOOK_MIDDLE);
}

/* ---- directives -------------------------------------------------------- */

/* The directory and the credentials to bind to it are the server's: an
 * .htaccess file that could name its own URL would receive the bind DN
 * and password of an enclosing scope. */
static const char *dir_not_in_htaccess(cmd_parms *cmd)
{
    return certmap_conf_in_htaccess(cmd)
           ? certmap_cmd_error(cmd, "not allowed in .htaccess (the directory "
                               "and its credentials are the server's)")
           : NULL;
}

/* Is a CertMapDirectoryURL written in this section or one enclosing it?
 * Read from the configuration tree, so the order of the lines does not
 * matter. */
static int dir_url_in_scope(cmd_parms *cmd)
{
    const ap_directive_t *d, *sib;

    for (d = cmd->directive; d; d = d->parent) {
        sib = d->parent ? d->parent->first_child : ap_conftree;
        for (; sib; sib = sib->next) {
            if (!strcasecmp(sib->directive, "CertMapDirectoryURL")) {
                return 1;
            }
        }
    }
    return 0;
}

const char *certmap_directory_set_enabled(cmd_parms *cmd, void *dcv, int on)
{
    certmap_dir_conf_t *dc = dcv;

    /* In .htaccess (read while serving requests) the shared state may
     * not change, and the server's configuration tree is gone: a missing
     * URL then shows as a 500 with a log line. */
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_RUN_MPM) {
        if (on && !dc->dir_url && !dir_url_in_scope(cmd)) {
            return certmap_cmd_error(cmd, "On needs a CertMapDirectoryURL in this "
                             "section or an enclosing one");
        }
        dir_state.used |= on;
    }
    dc->dir_enabled = on;
    return NULL;
}

const char *certmap_directory_set_url(cmd_parms *cmd, void *dcv,
                                      const char *text)
{
    certmap_dir_conf_t *dc = dcv;
    struct certmap_dir_url *url = apr_pcalloc(cmd->pool, sizeof(*url));
    apr_ldap_url_desc_t *lud;
    apr_ldap_err_t *result;
    const char *f;

    if ((f = dir_not_in_htaccess(cmd))) {
        return f;
    }
    if (apr_ldap_url_parse(cmd->pool, text, &lud, &result) != 0) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "'%s': %s", text,
                         result && result->reason ? result->reason
                                                  : "not an LDAP URL"));
    }
    if (!lud->lud_host || !*lud->lud_host) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "'%s' names no host",
                                           text));
    }
    url->text = text;
    url->file = cmd->directive ? cmd->directive->filename : "(unknown)";
    url->line = cmd->directive ? (unsigned int)cmd->directive->line_num : 0;
    url->host = lud->lud_host;
    url->secure = strncasecmp(text, "ldaps:", 6) ? APR_LDAP_NONE
                                                 : APR_LDAP_SSL;
    url->port = lud->lud_port ? lud->lud_port
                              : (url->secure ? LDAPS_PORT : LDAP_PORT);
    url->base = lud->lud_dn ? lud->lud_dn : "";
    /* As mod_authnz_ldap: one level or the whole subtree. */
    url->scope = lud->lud_scope == LDAP_SCOPE_ONELEVEL ? LDAP_SCOPE_ONELEVEL
                                                       : LDAP_SCOPE_SUBTREE;
    url->attr = (lud->lud_attrs && lud->lud_attrs[0]) ? lud->lud_attrs[0]
                                                      : DIR_DEFAULT_ATTR;
    f = lud->lud_filter;
    url->filter = !f || !*f ? "(objectClass=*)"
                  : (*f == '(' ? f : apr_pstrcat(cmd->pool, "(", f, ")",
                                                 NULL));
    dc->dir_url = url;
    return NULL;
}

const char *certmap_directory_set_bind_dn(cmd_parms *cmd, void *dcv,
                                          const char *dn)
{
    certmap_dir_conf_t *dc = dcv;
    const char *err = dir_not_in_htaccess(cmd);

    if (err) {
        return err;
    }
    if (!*dn) {
        return certmap_cmd_error(cmd, "DN must not be empty");
    }
    dc->dir_bind_dn = dn;
    return NULL;
}

const char *certmap_directory_set_bind_password(cmd_parms *cmd, void *dcv,
                                                const char *spec)
{
    certmap_dir_conf_t *dc = dcv;
    const char *err = dir_not_in_htaccess(cmd);

    if (err) {
        return err;
    }
    err = certmap_secret_resolve(cmd, spec, &dc->dir_bind_password);
    return err ? certmap_cmd_error(cmd, err) : NULL;
}

const char *certmap_directory_set_match(cmd_parms *cmd, void *dcv,
                                        const char *args)
{
    certmap_dir_conf_t *dc = dcv;
    apr_array_header_t *list = apr_array_make(cmd->pool, 8, sizeof(int));
    const char *word;
    int i;

    while (*(word = ap_getword_conf(cmd->temp_pool, &args))) {
        for (i = 0; dir_methods[i].name; i++) {
            if (!strcasecmp(word, dir_methods[i].name)) {
                break;
            }
        }
        if (!dir_methods[i].name) {
            return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "unknown method "
                "'%s' (expected Certificate, IssuerSerial, SKI, SHA1-PUKEY, "
                "IssuerSubject, Subject, RFC822, UPN or SID)", word));
        }
        APR_ARRAY_PUSH(list, int) = dir_methods[i].method;
    }
    if (apr_is_empty_array(list)) {
        return certmap_cmd_error(cmd, "needs at least one method");
    }
    dc->dir_match = list;
    return NULL;
}

const char *certmap_directory_set_attribute(cmd_parms *cmd, void *dcv,
                                            const char *name)
{
    certmap_dir_conf_t *dc = dcv;
    const char *c;

    for (c = name; *c; c++) {
        if (!apr_isalnum(*c) && *c != '-' && *c != ';' && *c != '.') {
            break;
        }
    }
    if (!*name || *c) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "'%s' is not an "
                                           "attribute name", name));
    }
    dc->dir_mapping_attr = name;
    return NULL;
}

const char *certmap_directory_set_cache_timeout(cmd_parms *cmd, void *dcv,
                                                const char *arg)
{
    certmap_dir_conf_t *dc = dcv;

    return certmap_conf_seconds(cmd, arg, &dc->dir_cache_timeout);
}

const char *certmap_directory_set_timeout(cmd_parms *cmd, void *dcv,
                                          const char *arg)
{
    certmap_dir_conf_t *dc = dcv;
    char *end;
    apr_int64_t value;

    errno = 0;
    value = apr_strtoi64(arg, &end, 10);
    if (errno || end == arg || *end || value < 1
        || value > DIR_MAX_TIMEOUT) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "'%s' is not "
                                 "a number of seconds from 1 to %d", arg,
                                 DIR_MAX_TIMEOUT));
    }
    dc->dir_timeout = (int)value;
    return NULL;
}

/* ---- certificate to filter values --------------------------------------- */

/* The AD strings and the escaping live in certmap_ad.c (no httpd, unit
 * tested); the SAN values come from the engine's parse. */

/* RFC822: the SAN e-mail names, else the subject's emailAddress. */
static apr_array_header_t *dir_emails(apr_pool_t *p,
                                      const certmap_cert_t *cert)
{
    apr_array_header_t *out = certmap_cert_san(p, cert, CERTMAP_SAN_EMAIL);

    return apr_is_empty_array(out)
           ? certmap_ad_subject_emails(p, certmap_cert_x509(cert)) : out;
}

/* Certificate: the DER as an octet string (Active Directory), or in
 * OpenLDAP's certificateExactMatch form, which a server that does not
 * know it treats as no match.  Either way the DER is compared after. */
static const char *dir_cert_filter(apr_pool_t *p, X509 *x509)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x509, &der);
    const char *escaped, *issuer, *serial, *gser;
    BIGNUM *bn;
    char *dec;
    X509_NAME *name = X509_get_issuer_name(x509);
    BIO *bio;
    char *mem;
    long n;

    if (len <= 0) {
        return NULL;
    }
    escaped = certmap_ad_escape(p, der, (apr_size_t)len);
    OPENSSL_free(der);
    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509), NULL);
    dec = bn ? BN_bn2dec(bn) : NULL;
    serial = dec ? apr_pstrdup(p, dec) : "0";
    OPENSSL_free(dec);
    BN_free(bn);
    bio = BIO_new(BIO_s_mem());
    if (!bio) {
        return NULL;
    }
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
    n = BIO_get_mem_data(bio, &mem);
    issuer = apr_pstrmemdup(p, mem, (apr_size_t)n);
    BIO_free(bio);
    /* GSER string: double the quotes inside the issuer DN */
    issuer = ap_escape_quotes(p, issuer);
    gser = apr_pstrcat(p, "{ serialNumber ", serial, ", issuer "
                       "rdnSequence:\"", issuer, "\" }", NULL);
    return apr_pstrcat(p, "(|(userCertificate;binary=", escaped, ")",
                       "(userCertificate=",
                       certmap_ad_escape(p, (const unsigned char *)gser,
                                         strlen(gser)),
                       "))", NULL);
}

static const char *dir_method_filter(apr_pool_t *p, dir_method_e method,
                                     const char *attr,
                                     const certmap_cert_t *cert)
{
    X509 *x509 = certmap_cert_x509(cert);
    /* the names in AD's form only for the methods that use them (each
     * costs a conversion of every attribute to UTF-8) */
    int uses_issuer = method == DIR_ISSUER_SERIAL
                      || method == DIR_ISSUER_SUBJECT;
    int uses_subject = method == DIR_ISSUER_SUBJECT || method == DIR_SUBJECT;
    const char *issuer = uses_issuer
        ? certmap_ad_dn(p, X509_get_issuer_name(x509)) : NULL;
    const char *subject = uses_subject
        ? certmap_ad_dn(p, X509_get_subject_name(x509)) : NULL;
    unsigned char sha1[EVP_MAX_MD_SIZE];
    unsigned int sha1_len = 0;
    const ASN1_OCTET_STRING *ski;

    switch (method) {
    case DIR_CERTIFICATE:
        return dir_cert_filter(p, x509);
    case DIR_ISSUER_SERIAL: {
        const char *sr = certmap_ad_serial_reversed(p, x509);
        return issuer && sr ? certmap_ad_assertion(p, attr, apr_pstrcat(p, "X509:<I>",
                                       issuer, "<SR>", sr, NULL)) : NULL;
    }
    case DIR_SKI:
        ski = X509_get0_subject_key_id(x509);
        return ski ? certmap_ad_assertion(p, attr, apr_pstrcat(p,
                              "X509:<SKI>", certmap_ad_hex(p, ASN1_STRING_get0_data(ski),
                                      (apr_size_t)ASN1_STRING_length(ski),
                                      0, 0), NULL)) : NULL;
    case DIR_SHA1_PUKEY:
        /* Despite its name, AD hashes the whole certificate (the SHA-1
         * thumbprint Windows shows). */
        if (!X509_digest(x509, EVP_sha1(), sha1, &sha1_len)) {
            return NULL;
        }
        return certmap_ad_assertion(p, attr, apr_pstrcat(p,
                        "X509:<SHA1-PUKEY>",
                        certmap_ad_hex(p, sha1, sha1_len, 0, 0), NULL));
    case DIR_ISSUER_SUBJECT:
        return issuer && subject ? certmap_ad_assertion(p, attr,
                   apr_pstrcat(p,
                   "X509:<I>", issuer, "<S>", subject, NULL)) : NULL;
    case DIR_SUBJECT:
        return subject ? certmap_ad_assertion(p, attr,
                                  apr_pstrcat(p, "X509:<S>",
                                  subject, NULL)) : NULL;
    case DIR_RFC822:
        return certmap_ad_any_of(p, attr, "X509:<RFC822>",
                                 dir_emails(p, cert));
    case DIR_UPN:
        return certmap_ad_any_of(p, "userPrincipalName", "",
                                 certmap_cert_san(p, cert, CERTMAP_SAN_UPN));
    case DIR_SID:
        /* KB5014754's strong mapping: the SID the CA wrote */
        return certmap_ad_sid_filter(p, x509);
    }
    return NULL;
}

/* ---- the shared cache of found mappings ---------------------------------- */

/* Findings live in the shared cache (certmap_cache.c) under keys of
 * their own kind.  The key holds everything that decides the answer, the
 * bind password too (a scope with a wrong one must not find what a scope
 * with the right one found: the cache's salt keeps it from being tested
 * offline), and the certificate's SHA-256; the record holds the account. */
static void dir_question(const certmap_dir_conf_t *dc,
                         const certmap_cert_t *cert,
                         certmap_dir_question_t *q)
{
    q->url = dc->dir_url->text;
    q->bind_dn = dc->dir_bind_dn ? dc->dir_bind_dn : "";
    q->attr = dc->dir_mapping_attr ? dc->dir_mapping_attr : "";
    q->password = dc->dir_bind_password ? dc->dir_bind_password : "";
    q->methods = dc->dir_match ? (const int *)dc->dir_match->elts : NULL;
    q->nmethods = dc->dir_match ? dc->dir_match->nelts : 0;
    q->cert = cert;
}

static int dir_cache_key(const certmap_dir_question_t *q,
                         unsigned char key[CERTMAP_CACHE_KEY_LEN])
{
    const char *fields[4];
    certmap_cache_key_t *k = certmap_cache_key_begin("directory");
    int ok = 1, i;

    fields[0] = q->url;
    fields[1] = q->bind_dn;
    fields[2] = q->attr;
    fields[3] = q->password;
    for (i = 0; ok && i < 4; i++) {
        ok = certmap_cache_key_add(k, fields[i], strlen(fields[i]));
    }
    if (ok && q->methods) {
        ok = certmap_cache_key_add(k, q->methods,
                                   (apr_size_t)q->nmethods * sizeof(int));
    }
    ok = ok && certmap_cache_key_add(k, certmap_cert_sha256(q->cert),
                                     CERTMAP_SHA256_LEN);
    return certmap_cache_key_end(k, key) && ok;
}

/* The account the shared cache holds for q, and when it was written and
 * expires. */
static const char *dir_cache_lookup(request_rec *r,
                                    const certmap_dir_question_t *q,
                                    int timeout, certmap_when_t *when)
{
    unsigned char key[CERTMAP_CACHE_KEY_LEN];
    unsigned char account[CERTMAP_CACHE_MAX_PAYLOAD];
    apr_size_t len = sizeof(account);

    if (timeout <= 0 || !dir_cache_key(q, key)
        || !certmap_cache_get(r, key, timeout, when, account, &len)
        || len == 0) {
        return NULL;
    }
    return apr_pstrmemdup(r->pool, (const char *)account, len);
}

static void dir_cache_store(request_rec *r, const certmap_dir_question_t *q,
                            int timeout, const char *account)
{
    unsigned char key[CERTMAP_CACHE_KEY_LEN];

    if (timeout > 0 && dir_cache_key(q, key)) {
        certmap_cache_put(r, key, timeout, (const unsigned char *)account,
                          strlen(account));
    }
}

/* ---- the search ------------------------------------------------------------ */

typedef struct {
    request_rec *r;             /* NULL for certmap explain: nothing logged */
    apr_pool_t *pool;           /* the request's, or explain's */
    const certmap_dir_conf_t *dc;
    util_ldap_connection_t *ldc;
    int timeout;                /* seconds, for each search */
    X509 *x509;
    const certmap_cert_t *cert;
    int found;                  /* entries accepted by this method */
    const char *account;        /* of the first one */
    const char *dns;            /* their DNs, for the log */
    dir_method_e method;        /* the method that found them */
} dir_search_t;

/* For Certificate: does the entry hold exactly this DER? */
static int dir_entry_has_der(dir_search_t *s, LDAPMessage *e)
{
    struct berval **vals = ldap_get_values_len(s->ldc->ldap, e,
                                               "userCertificate;binary");
    unsigned char *der = NULL;
    int len = i2d_X509(s->x509, &der), hit = 0, i;

    for (i = 0; vals && vals[i] && len > 0 && !hit; i++) {
        hit = vals[i]->bv_len == (ber_len_t)len
              && !memcmp(vals[i]->bv_val, der, (size_t)len);
    }
    OPENSSL_free(der);
    ldap_value_free_len(vals);
    return hit;
}

static void dir_take_entry(dir_search_t *s, LDAPMessage *e,
                           dir_method_e method)
{
    const struct certmap_dir_url *url = s->dc->dir_url;
    char *dn = ldap_get_dn(s->ldc->ldap, e);
    struct berval **vals;

    if (method == DIR_CERTIFICATE && !dir_entry_has_der(s, e)) {
        ldap_memfree(dn);
        return;
    }
    vals = ldap_get_values_len(s->ldc->ldap, e, url->attr);
    if (++s->found == 1 && vals && vals[0] && vals[0]->bv_len > 0
        && !memchr(vals[0]->bv_val, '\0', vals[0]->bv_len)) {
        s->account = apr_pstrmemdup(s->pool, vals[0]->bv_val,
                                    vals[0]->bv_len);
    }
    s->dns = apr_pstrcat(s->pool, s->dns ? s->dns : "",
                         s->dns ? "; " : "", dn ? dn : "?", NULL);
    ldap_value_free_len(vals);
    ldap_memfree(dn);
}

/* One search; LDAP_SUCCESS or the error (already logged by the caller). */
static int dir_search(dir_search_t *s, dir_method_e method,
                      const char *filter)
{
    const struct certmap_dir_url *url = s->dc->dir_url;
    char *attrs[3];
    LDAPMessage *res = NULL, *e;
    struct timeval tv;
    int rc;

    attrs[0] = (char *)url->attr;
    attrs[1] = method == DIR_CERTIFICATE ? "userCertificate;binary" : NULL;
    attrs[2] = NULL;
    /* Two answers are enough to know there is more than one. */
    tv.tv_sec = s->timeout;
    tv.tv_usec = 0;
    rc = ldap_search_ext_s(s->ldc->ldap, url->base, url->scope,
                           (char *)filter, attrs, 0, NULL, NULL, &tv, 2,
                           &res);
    if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
        for (e = ldap_first_entry(s->ldc->ldap, res); e;
             e = ldap_next_entry(s->ldc->ldap, e)) {
            dir_take_entry(s, e, method);
        }
        if (rc == LDAP_SIZELIMIT_EXCEEDED && s->found > 0) {
            s->found = 2;
        }
        rc = LDAP_SUCCESS;
    }
    ldap_msgfree(res);
    return rc;
}

static const char *dir_method_name(dir_method_e method)
{
    int i;

    for (i = 0; dir_methods[i].name; i++) {
        if (dir_methods[i].method == method) {
            return dir_methods[i].name;
        }
    }
    return "?";
}

/* Tries the methods in order on an open connection.  Returns the outcome
 * and sets *account or *reason. */
static certmap_outcome_e dir_run_methods(dir_search_t *s,
                                         const char **account,
                                         const char **reason, int *rcp)
{
    const certmap_dir_conf_t *dc = s->dc;
    const char *attr = dc->dir_mapping_attr ? dc->dir_mapping_attr
                                            : DIR_DEFAULT_MAPPING;
    request_rec *r = s->r;
    apr_pool_t *p = s->pool;
    int n = dc->dir_match ? dc->dir_match->nelts
                          : (int)(sizeof(dir_default_methods)
                                  / sizeof(dir_default_methods[0]));
    int i, rc;

    for (i = 0; i < n; i++) {
        dir_method_e method = dc->dir_match
            ? (dir_method_e)APR_ARRAY_IDX(dc->dir_match, i, int)
            : dir_default_methods[i];
        const char *f = dir_method_filter(p, method, attr, s->cert);

        if (!f) {
            continue;       /* the certificate has nothing of that kind */
        }
        f = apr_pstrcat(p, "(&", dc->dir_url->filter, f, ")", NULL);
        if (r) {
            ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "CERTMAP069: "
                          "directory %s search %s", dir_method_name(method),
                          f);
        }
        s->found = 0;
        s->account = NULL;
        s->dns = NULL;
        s->method = method;
        rc = dir_search(s, method, f);
        if (rc != LDAP_SUCCESS) {
            *rcp = rc;
            *reason = apr_psprintf(p, "directory %s search failed: "
                                   "%s (%d)%s", dc->dir_url->text,
                                   ldap_err2string(rc), rc,
                                   rc == LDAP_TIMEOUT
                                   ? apr_psprintf(p, " after %d s",
                                                  s->timeout) : "");
            return CERTMAP_INTERNAL_ERROR;
        }
        if (s->found > 1 && r) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "CERTMAP068: "
                          "directory %s: method %s finds more than one "
                          "entry (%s); refusing the certificate",
                          dc->dir_url->text, dir_method_name(method),
                          s->dns);
        }
        if (s->found > 1) {
            *reason = "directory mapping is ambiguous (more than one "
                      "entry)";
            return CERTMAP_NOT_MAPPED;
        }
        if (s->found == 1) {
            if (!s->account) {
                *reason = apr_psprintf(p, "directory entry %s has no "
                                       "usable %s", s->dns,
                                       dc->dir_url->attr);
                return CERTMAP_NOT_MAPPED;
            }
            *account = s->account;
            *reason = apr_psprintf(p, "directory %s, method %s, "
                                   "entry %s", dc->dir_url->text,
                                   dir_method_name(method), s->dns);
            return CERTMAP_GRANTED;
        }
    }
    *reason = "trusted certificate, no mapping matched (directory "
              "included)";
    return CERTMAP_NOT_MAPPED;
}

/* ---- connections: mod_ldap's pool, bounded waits, one retry ---------------- */

/* The optional functions of mod_ldap.  The statics are set before the
 * children start when the server's configuration uses the directory; for
 * .htaccess-only use, look them up here (a read of httpd's table, safe in
 * any thread). */
typedef struct {
    APR_OPTIONAL_FN_TYPE(uldap_connection_find) *find;
    APR_OPTIONAL_FN_TYPE(uldap_connection_close) *close;
    APR_OPTIONAL_FN_TYPE(uldap_connection_unbind) *unbind;
} dir_ldap_fns_t;

static int dir_ldap_fns(dir_ldap_fns_t *f)
{
    f->find = dir_ldap_find ? dir_ldap_find
                            : APR_RETRIEVE_OPTIONAL_FN(uldap_connection_find);
    f->close = dir_ldap_close
        ? dir_ldap_close : APR_RETRIEVE_OPTIONAL_FN(uldap_connection_close);
    f->unbind = dir_ldap_unbind
        ? dir_ldap_unbind : APR_RETRIEVE_OPTIONAL_FN(uldap_connection_unbind);
    return f->find && f->close && f->unbind;
}

/* CertMapDirectoryTimeout, its default resolved, and never longer than
 * mod_ldap's LDAPTimeout (which bounds mod_authnz_ldap's operations on the
 * same server): seconds for one connect, bind or search. */
#define DIR_DEFAULT_TIMEOUT     3

static int dir_timeout(const certmap_dir_conf_t *dc,
                       const util_ldap_connection_t *ldc)
{
    int t = dc->dir_timeout == CERTMAP_UNSET ? DIR_DEFAULT_TIMEOUT
                                             : dc->dir_timeout;
    const struct timeval *op = ldc && ldc->st ? ldc->st->opTimeout : NULL;

    if (op && op->tv_sec > 0 && op->tv_sec < t) {
        t = (int)op->tv_sec;
    }
    return t;
}

/* Errors that say the connection, not the question, is the trouble. */
static int dir_conn_dead(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR
           || rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE;
}

/* The URI list for ldap_initialize from a host string as
 * apr_ldap_url_parse leaves it (and mod_ldap keeps it): hosts separated
 * by spaces, each "name" or "name:port"; `port` is added to a name
 * without one (0: none). */
static const char *dir_uri_list(apr_pool_t *p, int secure, const char *host,
                                int port)
{
    const char *scheme = secure == APR_LDAP_SSL ? "ldaps://" : "ldap://";
    const char *uri = NULL;
    char *hosts = apr_pstrdup(p, host), *last, *h;

    for (h = apr_strtok(hosts, " ", &last); h;
         h = apr_strtok(NULL, " ", &last)) {
        const char *one = strchr(h, ':') || !port
            ? apr_pstrcat(p, scheme, h, NULL)
            : apr_psprintf(p, "%s%s:%d", scheme, h, port);
        uri = uri ? apr_pstrcat(p, uri, " ", one, NULL) : one;
    }
    if (uri) {
        return uri;
    }
    return port ? apr_psprintf(p, "%s%s:%d", scheme, host, port)
                : apr_pstrcat(p, scheme, host, NULL);
}

/* The URI list of mod_ldap's connection. */
static const char *dir_conn_uri(apr_pool_t *p,
                                const util_ldap_connection_t *ldc)
{
    return dir_uri_list(p, ldc->secure, ldc->host, ldc->port);
}

/* A new LDAP handle for ldc, set up as mod_ldap sets up its own (protocol
 * 3, TLS for ldaps, client certificates, server certificate check,
 * dereferencing, referrals), connect bounded by the module's timeout and
 * mod_ldap's LDAPConnectionTimeout; then a simple bind, bounded too.
 * mod_ldap's own uldap_connection_open would wait LDAPTimeout (60 s by
 * default), LDAPRetries times over, on a directory that accepts and never
 * answers.  The handle is left in ldc, so mod_ldap's pool keeps, reuses
 * and frees it as its own. */
static int dir_connect(request_rec *r, util_ldap_connection_t *ldc,
                       int timeout, const dir_ldap_fns_t *fns)
{
    const char *uri = dir_conn_uri(r->pool, ldc);
    apr_ldap_err_t *result = NULL;
    struct timeval tv, net;
    struct berval cred;
    LDAPMessage *res = NULL;
    int version = LDAP_VERSION3, deref = (int)ldc->deref, msgid = -1, rc;

    if (ldc->ldap) {
        fns->unbind(ldc);   /* half made, or bound as someone else */
    }
    tv.tv_sec = timeout;
    tv.tv_usec = 0;
    net = tv;
    if (ldc->st && ldc->st->connectionTimeout > 0
        && ldc->st->connectionTimeout < timeout) {
        net.tv_sec = ldc->st->connectionTimeout;
    }
    rc = ldap_initialize(&ldc->ldap, uri);
    if (rc != LDAP_SUCCESS || !ldc->ldap) {
        ldc->ldap = NULL;
        ldc->reason = "LDAP: ldap_initialize failed";
        return rc != LDAP_SUCCESS ? rc : LDAP_LOCAL_ERROR;
    }
    ldap_set_option(ldc->ldap, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ldc->ldap, LDAP_OPT_DEREF, &deref);
    ldap_set_option(ldc->ldap, LDAP_OPT_NETWORK_TIMEOUT, &net);
    ldap_set_option(ldc->ldap, LDAP_OPT_TIMEOUT, &tv);
    if (ldc->client_certs && !apr_is_empty_array(ldc->client_certs)) {
        apr_ldap_set_option(r->pool, ldc->ldap, APR_LDAP_OPT_TLS_CERT,
                            ldc->client_certs, &result);
    }
    if (ldc->st) {
        apr_ldap_set_option(r->pool, ldc->ldap, APR_LDAP_OPT_VERIFY_CERT,
                            &ldc->st->verify_svr_cert, &result);
    }
    if (ldc->ChaseReferrals == DIR_CHASEREFERRALS_OFF
        || ldc->ChaseReferrals == DIR_CHASEREFERRALS_ON) {
        ldap_set_option(ldc->ldap, LDAP_OPT_REFERRALS,
                        ldc->ChaseReferrals == DIR_CHASEREFERRALS_ON
                        ? LDAP_OPT_ON : LDAP_OPT_OFF);
    }
    if (ldc->ChaseReferrals == DIR_CHASEREFERRALS_ON && ldc->rebind_pool) {
        /* referrals are followed with the same credentials, as mod_ldap
         * does; mod_ldap's unbind forgets them */
        apr_ldap_rebind_add(ldc->rebind_pool, ldc->ldap, ldc->binddn,
                            ldc->bindpw);
    }

    cred.bv_val = (char *)(ldc->bindpw ? ldc->bindpw : "");
    cred.bv_len = strlen(cred.bv_val);
    rc = ldap_sasl_bind(ldc->ldap, ldc->binddn, LDAP_SASL_SIMPLE, &cred,
                        NULL, NULL, &msgid);
    if (rc == LDAP_SUCCESS) {
        switch (ldap_result(ldc->ldap, msgid, LDAP_MSG_ALL, &tv, &res)) {
        case -1:
            ldap_get_option(ldc->ldap, LDAP_OPT_RESULT_CODE, &rc);
            if (rc == LDAP_SUCCESS) {
                rc = LDAP_SERVER_DOWN;
            }
            break;
        case 0:
            rc = LDAP_TIMEOUT;
            break;
        default:
            if (ldap_parse_result(ldc->ldap, res, &rc, NULL, NULL, NULL,
                                  NULL, 1) != LDAP_SUCCESS) {
                ldap_get_option(ldc->ldap, LDAP_OPT_RESULT_CODE, &rc);
                if (rc == LDAP_SUCCESS) {
                    rc = LDAP_LOCAL_ERROR;
                }
            }
            res = NULL;
            break;
        }
        ldap_msgfree(res);
    }
    if (rc != LDAP_SUCCESS) {
        ldc->reason = rc == LDAP_TIMEOUT ? "LDAP: bind timed out"
                                         : "LDAP: bind failed";
        fns->unbind(ldc);
        return rc;
    }
    ldc->bound = 1;
    ldc->must_rebind = 0;
    ldc->last_backend_conn = r->request_time;
    ldc->reason = "LDAP: connection open successful";
    return LDAP_SUCCESS;
}

/* One attempt on a connection from mod_ldap's pool: bound (anew unless
 * `reuse`), the methods, the connection back.  An error drops the
 * connection, so that nobody reuses it.  *rc is the LDAP result of the
 * failed step; *reused says whether the connection came bound from the
 * pool. */
static certmap_outcome_e dir_attempt(dir_search_t *s, const dir_ldap_fns_t *fns,
                                     int reuse, int *reused, int *rc,
                                     const char **account,
                                     const char **reason)
{
    request_rec *r = s->r;
    const certmap_dir_conf_t *dc = s->dc;
    const struct certmap_dir_url *url = dc->dir_url;
    certmap_outcome_e outcome;

    *reused = 0;
    *rc = LDAP_SUCCESS;
    s->ldc = fns->find(r, url->host, url->port, dc->dir_bind_dn,
                       dc->dir_bind_password, always, url->secure);
    if (!s->ldc) {
        *reason = "no LDAP connection available";
        *rc = LDAP_NO_MEMORY;
        return CERTMAP_INTERNAL_ERROR;
    }
    s->timeout = dir_timeout(dc, s->ldc);
    if (s->ldc->bound && s->ldc->ldap && !s->ldc->must_rebind && reuse) {
        *reused = 1;
    }
    else {
        *rc = dir_connect(r, s->ldc, s->timeout, fns);
    }
    if (*rc != LDAP_SUCCESS) {
        *reason = apr_psprintf(r->pool, "directory %s: %s: %s (%d)%s",
                               url->text, s->ldc->reason ? s->ldc->reason
                                                         : "cannot connect",
                               ldap_err2string(*rc), *rc,
                               *rc == LDAP_TIMEOUT
                               ? apr_psprintf(r->pool, " after %d s",
                                              s->timeout) : "");
        fns->close(s->ldc);
        return CERTMAP_INTERNAL_ERROR;
    }
    outcome = dir_run_methods(s, account, reason, rc);
    if (outcome == CERTMAP_INTERNAL_ERROR) {
        fns->unbind(s->ldc);
    }
    else {
        s->ldc->last_backend_conn = r->request_time;
    }
    fns->close(s->ldc);
    return outcome;
}

/* Asks the directory.  A pooled connection found dead (the server went
 * away, reset it, or did not answer in time) is dropped and the lookup
 * tried once more on a new connection, so that the first request after
 * the directory comes back succeeds.  Each connect, bind and search waits
 * at most CertMapDirectoryTimeout seconds: a directory that accepts and
 * never answers costs a request at most twice that. */
static certmap_outcome_e dir_lookup(request_rec *r,
                                    const certmap_dir_conf_t *dc,
                                    const certmap_cert_t *cert,
                                    const char **account,
                                    const char **reason)
{
    dir_ldap_fns_t fns;
    dir_search_t s;
    certmap_outcome_e outcome;
    int rc, reused;

    if (!dir_ldap_fns(&fns)) {
        *reason = "CertMapDirectory needs mod_ldap (LoadModule ldap_module)";
        return CERTMAP_INTERNAL_ERROR;
    }
    memset(&s, 0, sizeof(s));
    s.r = r;
    s.pool = r->pool;
    s.dc = dc;
    s.x509 = certmap_cert_x509(cert);
    s.cert = cert;
    certmap_status_count(CERTMAP_STAT_DIR_LOOKUP, 1);
    outcome = dir_attempt(&s, &fns, 1, &reused, &rc, account, reason);
    if (outcome == CERTMAP_INTERNAL_ERROR && reused && dir_conn_dead(rc)) {
        if (rc == LDAP_TIMEOUT) {
            certmap_status_count(CERTMAP_STAT_DIR_TIMEOUT, 1);
        }
        certmap_status_count(CERTMAP_STAT_DIR_RETRY, 1);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "CERTMAP301: %s; "
                      "the pooled connection is dropped and the lookup "
                      "tried once more on a new one", *reason);
        outcome = dir_attempt(&s, &fns, 0, &reused, &rc, account, reason);
    }
    switch (outcome) {
    case CERTMAP_GRANTED:
        certmap_status_count(CERTMAP_STAT_DIR_HIT, 1);
        break;
    case CERTMAP_INTERNAL_ERROR:
        certmap_status_count(CERTMAP_STAT_DIR_ERROR, 1);
        if (rc == LDAP_TIMEOUT) {
            certmap_status_count(CERTMAP_STAT_DIR_TIMEOUT, 1);
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "CERTMAP302: "
                          "directory %s did not answer within %d s "
                          "(CertMapDirectoryTimeout)", dc->dir_url->text,
                          s.timeout);
        }
        break;
    default:
        certmap_status_count(CERTMAP_STAT_DIR_MISS, 1);
        break;
    }
    return outcome;
}

/* The mapping the rest of the request path sees; its source is the
 * CertMapDirectoryURL line. */
static certmap_mapping_t *dir_mapping(request_rec *r,
                                      const certmap_dir_conf_t *dc,
                                      const char *account)
{
    certmap_mapping_t *m = apr_pcalloc(r->pool, sizeof(*m));

    m->name = "directory";
    m->user = account;
    m->password = NULL;     /* account management only */
    m->file = dc->dir_url->file;
    m->line = dc->dir_url->line;
    m->permission = CERTMAP_ALLOW;
    m->enabled = 1;
    return m;
}

/* A finding is remembered three ways, nearest first: on the connection
 * (certmap_memo.c: a keep-alive connection asks once, without even the
 * shared cache's HMAC), in the shared cache (every child), and only then
 * is the directory asked.  All three are keyed by the whole question. */
certmap_outcome_e certmap_directory_map(request_rec *r,
                                        const certmap_dir_conf_t *dc,
                                        certmap_conn_t *cc,
                                        const certmap_cert_t *cert,
                                        const certmap_mapping_t **m,
                                        const char **reason)
{
    int timeout = dc->dir_cache_timeout == CERTMAP_UNSET
                  ? CERTMAP_DEFAULT_CACHE_TIMEOUT : dc->dir_cache_timeout;
    const char *account = NULL;
    certmap_when_t found;
    certmap_dir_question_t q;
    certmap_outcome_e outcome;

    *m = NULL;
    if (dc->dir_enabled != 1) {
        *reason = "trusted certificate, no mapping matched";
        return CERTMAP_NOT_MAPPED;
    }
    if (!dc->dir_url) {
        *reason = "CertMapDirectory On without CertMapDirectoryURL";
        return CERTMAP_INTERNAL_ERROR;
    }
    dir_question(dc, cert, &q);
    /* a copy in the request's pool: the memo's is cleared by the next
     * finding, which a subrequest or redirect of this very request may
     * remember while CERTMAP_USER still points at the account */
    if (cc && (account = certmap_memo_directory(cc, &q, timeout, r->pool))) {
        /* no formatting on the path every keep-alive request takes: the
         * outcome's log line names the CertMapDirectoryURL line */
        *reason = "directory mapping remembered on the connection";
        *m = dir_mapping(r, dc, account);
        return CERTMAP_GRANTED;
    }
    account = dir_cache_lookup(r, &q, timeout, &found);
    if (account) {
        *reason = "directory mapping cached";
    }
    else {
        outcome = dir_lookup(r, dc, cert, &account, reason);
        if (outcome != CERTMAP_GRANTED) {
            return outcome;
        }
        found = certmap_when_now(timeout);
        dir_cache_store(r, &q, timeout, account);
    }
    if (cc && timeout > 0) {
        certmap_memo_remember_directory(cc, r->connection, &q, account,
                                        &found);
    }
    *m = dir_mapping(r, dc, account);
    return CERTMAP_GRANTED;
}

/* ---- certmap explain ----------------------------------------------------- */

/* The methods of a scope, in order, by name. */
static const char *dir_methods_text(apr_pool_t *p,
                                    const certmap_dir_conf_t *dc)
{
    const char *methods = "";
    int n = dc->dir_match ? dc->dir_match->nelts
                          : (int)(sizeof(dir_default_methods)
                                  / sizeof(dir_default_methods[0]));
    int i;

    for (i = 0; i < n; i++) {
        methods = apr_pstrcat(p, methods, i ? " " : "", dir_method_name(
            dc->dir_match ? (dir_method_e)APR_ARRAY_IDX(dc->dir_match, i, int)
                          : dir_default_methods[i]), NULL);
    }
    return methods;
}


/* libldap's own words for a failure, with its diagnostic when it has one
 * (never the credentials: libldap does not put them there). */
static const char *dir_explain_error(apr_pool_t *p, LDAP *ld, int rc)
{
    char *diag = NULL;
    const char *text = apr_psprintf(p, "%s (%d)", ldap_err2string(rc), rc);

    if (ld && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag)
              == LDAP_OPT_SUCCESS && diag) {
        if (*diag) {
            text = apr_pstrcat(p, text, ": ", diag, NULL);
        }
        ldap_memfree(diag);
    }
    return text;
}

/* A handle to the URL's directory, bound as the scope binds: connect,
 * simple bind, each waiting at most `timeout` seconds. */
static int dir_explain_bind(apr_pool_t *p, const certmap_dir_conf_t *dc,
                            int timeout, LDAP **ldp, const char **why)
{
    struct timeval tv;
    struct berval cred;
    LDAPMessage *res = NULL;
    LDAP *ld = NULL;
    int version = LDAP_VERSION3, msgid = -1, rc;

    *ldp = NULL;
    tv.tv_sec = timeout;
    tv.tv_usec = 0;
    rc = ldap_initialize(&ld, dir_uri_list(p, dc->dir_url->secure,
                                             dc->dir_url->host,
                                             dc->dir_url->port));
    if (rc != LDAP_SUCCESS || !ld) {
        *why = dir_explain_error(p, NULL, rc != LDAP_SUCCESS
                                          ? rc : LDAP_LOCAL_ERROR);
        return rc != LDAP_SUCCESS ? rc : LDAP_LOCAL_ERROR;
    }
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    cred.bv_val = (char *)(dc->dir_bind_password ? dc->dir_bind_password
                                                 : "");
    cred.bv_len = strlen(cred.bv_val);
    rc = ldap_sasl_bind(ld, dc->dir_bind_dn, LDAP_SASL_SIMPLE, &cred, NULL,
                        NULL, &msgid);
    if (rc == LDAP_SUCCESS) {
        switch (ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res)) {
        case -1:
            ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc);
            rc = rc == LDAP_SUCCESS ? LDAP_SERVER_DOWN : rc;
            break;
        case 0:
            rc = LDAP_TIMEOUT;
            break;
        default:
            if (ldap_parse_result(ld, res, &rc, NULL, NULL, NULL, NULL, 1)
                != LDAP_SUCCESS) {
                ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc);
                rc = rc == LDAP_SUCCESS ? LDAP_LOCAL_ERROR : rc;
            }
            res = NULL;
            break;
        }
        ldap_msgfree(res);
    }
    if (rc != LDAP_SUCCESS) {
        *why = rc == LDAP_TIMEOUT
               ? apr_psprintf(p, "no answer within %d s", timeout)
               : dir_explain_error(p, ld, rc);
        ldap_unbind_ext_s(ld, NULL, NULL);
        return rc;
    }
    *ldp = ld;
    return LDAP_SUCCESS;
}

/* Errors that say nobody answered, rather than that somebody said no. */
static int dir_explain_unreachable(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR
           || rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE;
}

void certmap_directory_explain(apr_pool_t *p, const certmap_dir_conf_t *dc,
                               const certmap_cert_t *cert, int timeout,
                               certmap_dir_explain_t *out)
{
    util_ldap_connection_t ldc;     /* only .ldap: what the search reads */
    const char *account = NULL, *why = NULL;
    dir_search_t s;
    LDAP *ld;
    int rc;

    memset(out, 0, sizeof(*out));
    out->bind_dn = dc->dir_bind_dn;
    out->methods = dir_methods_text(p, dc);
    if (!dc->dir_url) {
        out->outcome = CERTMAP_INTERNAL_ERROR;
        out->reason = "CertMapDirectory On without CertMapDirectoryURL";
        return;
    }
    out->url = dc->dir_url->text;
    out->file = dc->dir_url->file;
    out->line = dc->dir_url->line;
    rc = dir_explain_bind(p, dc, timeout, &ld, &why);
    if (rc != LDAP_SUCCESS) {
        out->outcome = CERTMAP_INTERNAL_ERROR;
        out->unreachable = dir_explain_unreachable(rc);
        out->bind_refused = !out->unreachable;
        out->reason = why;
        return;
    }
    memset(&ldc, 0, sizeof(ldc));
    ldc.ldap = ld;
    memset(&s, 0, sizeof(s));
    s.r = NULL;
    s.pool = p;
    s.dc = dc;
    s.ldc = &ldc;
    s.x509 = certmap_cert_x509(cert);
    s.cert = cert;
    s.timeout = timeout;
    out->outcome = dir_run_methods(&s, &account, &out->reason, &rc);
    if (out->outcome == CERTMAP_GRANTED
        || (out->outcome == CERTMAP_NOT_MAPPED && s.found > 0)) {
        out->method = dir_method_name(s.method);
        out->dns = s.dns;
        out->ambiguous = s.found > 1;
        out->account = account;
    }
    else if (out->outcome == CERTMAP_INTERNAL_ERROR && s.method) {
        out->method = dir_method_name(s.method);
    }
    ldap_unbind_ext_s(ld, NULL, NULL);
}

/* ---- -D DUMP_CERTMAP ------------------------------------------------------- */

void certmap_directory_dump(apr_pool_t *p, const certmap_dir_conf_t *dc)
{
    const char *methods;

    if (dc->dir_enabled == CERTMAP_UNSET && !dc->dir_url) {
        return;
    }
    methods = dir_methods_text(p, dc);
    printf("    Directory %s, URL %s, bind %s%s; match %s; attribute %s; "
           "cache %ds; timeout %ds\n", dc->dir_enabled == 1 ? "On" : "Off",
           dc->dir_url ? dc->dir_url->text : "(none)",
           dc->dir_bind_dn ? dc->dir_bind_dn : "anonymous",
           dc->dir_bind_password ? " password ***" : "", methods,
           dc->dir_mapping_attr ? dc->dir_mapping_attr : DIR_DEFAULT_MAPPING,
           dc->dir_cache_timeout == CERTMAP_UNSET
               ? CERTMAP_DEFAULT_CACHE_TIMEOUT : dc->dir_cache_timeout,
           dir_timeout(dc, NULL));
}
