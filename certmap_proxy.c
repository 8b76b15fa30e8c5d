/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_proxy.c — behind a TLS-terminating proxy: the client
 * certificate a trusted proxy forwards in a header (CertMapTrustedProxy,
 * CertMapProxyHeader, CertMapProxyCACertificateFile,
 * CertMapProxyCARevocationFile).
 *
 *  - Who is trusted: the TCP peer of the connection (c->client_addr), never
 *    r->useragent_addr, which mod_remoteip rewrites from a header.
 *  - From any other peer, every header a CertMapProxyHeader names (on any
 *    virtual host) is removed first thing after the request is read
 *    (post_read_request, REALLY_FIRST), before any module, CGI or backend
 *    sees it.
 *  - From a trusted peer, the header is decoded strictly (one header, one
 *    certificate, the format's syntax and nothing else) and the
 *    certificate verified by OpenSSL (X509_verify_cert) against the
 *    server's own store built from CertMapProxyCACertificateFile and, with
 *    CertMapProxyCARevocationFile, its CRLs (CRL_CHECK | CRL_CHECK_ALL).
 *    The failure is classified as for a direct client
 *    (certmap_tls_classify): 403.16, 403.13, 403.17.  Anything malformed
 *    is 403.16, never a grant.
 *  - The result fills the request's certmap_facts_t (certmap_facts.c); the
 *    certificate is parsed into the request's pool, never into the
 *    connection's cache, as a proxy multiplexes many clients on one
 *    connection.  The connection memo is keyed by the certificate's
 *    SHA-256, so it never applies to another client's certificate.
 *  - The TLS of the client is the proxy's: with a trusted peer, Ssl and
 *    Ssl128 are taken as satisfied.
 *
 * The stores are built at start-up (post_config) and only read afterwards:
 * X509_verify_cert on a shared X509_STORE is thread-safe.
 */

#include "apr_strings.h"
#include "apr_network_io.h"
#include "apr_lib.h"

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "certmap_private.h"

typedef enum {
    CERTMAP_PROXY_RFC9440 = 1,      /* Client-Cert: :base64-DER: */
    CERTMAP_PROXY_XFCC,             /* Envoy: ...;Cert="url-encoded PEM" */
    CERTMAP_PROXY_PEM_URLENCODED,   /* nginx $ssl_client_escaped_cert */
    CERTMAP_PROXY_BASE64_DER        /* HAProxy %[ssl_c_der,base64] */
} certmap_proxy_format_e;

static const struct {
    const char *name;
    certmap_proxy_format_e format;
} certmap_proxy_formats[] = {
    { "rfc9440", CERTMAP_PROXY_RFC9440 },
    { "xfcc", CERTMAP_PROXY_XFCC },
    { "pem-urlencoded", CERTMAP_PROXY_PEM_URLENCODED },
    { "base64-der", CERTMAP_PROXY_BASE64_DER },
};

/* A forwarded certificate is a few kilobytes; anything much larger is not
 * one (and is refused before decoding). */
#define CERTMAP_PROXY_MAX_VALUE 65536

struct certmap_proxy_conf {
    apr_array_header_t *trusted;    /* of apr_ipsubnet_t *; NULL: unset */
    const char *trusted_text;       /* as configured, for the dump */
    const char *header;             /* NULL: unset */
    certmap_proxy_format_e format;
    const char *ca_file;            /* resolved paths; NULL: unset */
    const char *crl_file;
    STACK_OF(X509_INFO) *cas;       /* loaded when the directive is read */
    STACK_OF(X509_INFO) *crls;
    const char *where;              /* "file:line" of the first directive */
    X509_STORE *store;              /* post_config; read-only afterwards */
};

/* Every header name any server's CertMapProxyHeader names: removed from
 * requests of untrusted peers whatever host they ask for.  Built in
 * post_config, read-only afterwards. */
static apr_array_header_t *certmap_proxy_names;

/* ---- configuration ------------------------------------------------------ */

static struct certmap_proxy_conf *certmap_proxy_conf_for(cmd_parms *cmd)
{
    certmap_srv_conf_t *sc = ap_get_module_config(cmd->server->module_config,
                                                  &certmap_module);

    if (!sc->proxy) {
        sc->proxy = apr_pcalloc(cmd->pool, sizeof(*sc->proxy));
        sc->proxy->where = apr_psprintf(cmd->pool, "%s:%d",
                                        cmd->directive->filename,
                                        cmd->directive->line_num);
    }
    return sc->proxy;
}

static const char *certmap_proxy_context(cmd_parms *cmd)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    return err ? err : NULL;
}

const char *certmap_proxy_set_trusted(cmd_parms *cmd, void *dummy,
                                      const char *arg)
{
    struct certmap_proxy_conf *pc;
    apr_ipsubnet_t *sub;
    char *ip, *mask, msg[120];
    apr_status_t rv;
    const char *err;

    if ((err = certmap_proxy_context(cmd))) {
        return err;
    }
    ip = apr_pstrdup(cmd->temp_pool, arg);
    if ((mask = strchr(ip, '/'))) {
        *mask++ = '\0';
    }
    /* an address or a CIDR, never a host name (resolved when?) */
    if (!*ip || !(apr_isxdigit(*ip) || *ip == ':')
        || (mask && !*mask)) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "'%s' is not "
                                 "an IP address or CIDR", arg));
    }
    rv = apr_ipsubnet_create(&sub, ip, mask, cmd->pool);
    if (rv != APR_SUCCESS) {
        apr_strerror(rv, msg, sizeof(msg));
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "'%s' is not "
                                 "an IP address or CIDR (%s)", arg, msg));
    }
    pc = certmap_proxy_conf_for(cmd);
    if (!pc->trusted) {
        pc->trusted = apr_array_make(cmd->pool, 4, sizeof(apr_ipsubnet_t *));
    }
    APR_ARRAY_PUSH(pc->trusted, apr_ipsubnet_t *) = sub;
    pc->trusted_text = pc->trusted_text
        ? apr_pstrcat(cmd->pool, pc->trusted_text, " ", arg, NULL)
        : apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* An HTTP field name: RFC 9110 token characters. */
static int certmap_proxy_token(const char *s)
{
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isalnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s)) {
            return 0;
        }
    }
    return 1;
}

const char *certmap_proxy_set_header(cmd_parms *cmd, void *dummy,
                                     const char *name, const char *format)
{
    struct certmap_proxy_conf *pc;
    const char *err;
    apr_size_t i;

    if ((err = certmap_proxy_context(cmd))) {
        return err;
    }
    if (!certmap_proxy_token(name)) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "'%s' is not "
                                 "a header name", name));
    }
    for (i = 0; i < sizeof(certmap_proxy_formats)
                    / sizeof(certmap_proxy_formats[0]); i++) {
        if (!ap_cstr_casecmp(format, certmap_proxy_formats[i].name)) {
            pc = certmap_proxy_conf_for(cmd);
            pc->header = apr_pstrdup(cmd->pool, name);
            pc->format = certmap_proxy_formats[i].format;
            return NULL;
        }
    }
    return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "unknown format "
                             "'%s' (rfc9440, xfcc, pem-urlencoded or "
                             "base64-der)", format));
}

static apr_status_t certmap_proxy_free_infos(void *data)
{
    sk_X509_INFO_pop_free(data, X509_INFO_free);
    return APR_SUCCESS;
}

static apr_status_t certmap_proxy_free_store(void *data)
{
    X509_STORE_free(data);
    return APR_SUCCESS;
}

/* The OpenSSL error queue's last reason, and the queue cleared. */
static const char *certmap_proxy_ssl_error(apr_pool_t *p)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256];

    ERR_clear_error();
    if (!e) {
        return "no PEM data";
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    return apr_pstrdup(p, buf);
}

/* Reads every PEM certificate and CRL of `path`; `want_crl` says which
 * kind must be there (at least one). */
static const char *certmap_proxy_load(cmd_parms *cmd, const char *arg,
                                      int want_crl, const char **path,
                                      STACK_OF(X509_INFO) **infos)
{
    STACK_OF(X509_INFO) *sk;
    BIO *bio;
    int i, n = 0;

    *path = ap_server_root_relative(cmd->pool, arg);
    if (!*path) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "invalid "
                                 "path '%s'", arg));
    }
    ERR_clear_error();
    if (!(bio = BIO_new_file(*path, "r"))) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "cannot read "
                                 "'%s': %s", *path,
                                 certmap_proxy_ssl_error(cmd->temp_pool)));
    }
    sk = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!sk) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "'%s' is not "
                                 "a PEM file: %s", *path,
                                 certmap_proxy_ssl_error(cmd->temp_pool)));
    }
    apr_pool_cleanup_register(cmd->pool, sk, certmap_proxy_free_infos,
                              apr_pool_cleanup_null);
    for (i = 0; i < sk_X509_INFO_num(sk); i++) {
        X509_INFO *info = sk_X509_INFO_value(sk, i);
        n += want_crl ? (info->crl != NULL) : (info->x509 != NULL);
    }
    if (n == 0) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "'%s' holds "
                                 "no PEM %s", *path,
                                 want_crl ? "CRL" : "certificate"));
    }
    *infos = sk;
    return NULL;
}

const char *certmap_proxy_set_ca_file(cmd_parms *cmd, void *dummy,
                                      const char *arg)
{
    struct certmap_proxy_conf *pc;
    const char *err, *path;
    STACK_OF(X509_INFO) *sk;

    if ((err = certmap_proxy_context(cmd))
        || (err = certmap_proxy_load(cmd, arg, 0, &path, &sk))) {
        return err;
    }
    pc = certmap_proxy_conf_for(cmd);
    pc->ca_file = path;
    pc->cas = sk;
    return NULL;
}

const char *certmap_proxy_set_crl_file(cmd_parms *cmd, void *dummy,
                                       const char *arg)
{
    struct certmap_proxy_conf *pc;
    const char *err, *path;
    STACK_OF(X509_INFO) *sk;

    if ((err = certmap_proxy_context(cmd))
        || (err = certmap_proxy_load(cmd, arg, 1, &path, &sk))) {
        return err;
    }
    pc = certmap_proxy_conf_for(cmd);
    pc->crl_file = path;
    pc->crls = sk;
    return NULL;
}

struct certmap_proxy_conf *certmap_proxy_merge(apr_pool_t *p,
                                               struct certmap_proxy_conf *base,
                                               struct certmap_proxy_conf *add)
{
    struct certmap_proxy_conf *m;

    if (!add || !base) {
        return add ? add : base;
    }
    m = apr_pmemdup(p, add, sizeof(*m));
    m->store = NULL;
#define CERTMAP_PROXY_INHERIT(field) if (!m->field) m->field = base->field
    CERTMAP_PROXY_INHERIT(trusted);
    CERTMAP_PROXY_INHERIT(trusted_text);
    if (!m->header) {
        m->header = base->header;
        m->format = base->format;
    }
    if (!m->ca_file) {
        m->ca_file = base->ca_file;
        m->cas = base->cas;
    }
    if (!m->crl_file) {
        m->crl_file = base->crl_file;
        m->crls = base->crls;
    }
#undef CERTMAP_PROXY_INHERIT
    return m;
}

/* What a server's settings lack: NULL when complete. */
static const char *certmap_proxy_incomplete(const void *trusted,
                                            const void *header,
                                            const void *ca)
{
    if (!trusted && !header) {
        return NULL;    /* nothing in use: a CA file may be a default for
                           the virtual hosts that name their proxies */
    }
    if (!trusted) {
        return "CertMapTrustedProxy";
    }
    if (!header) {
        return "CertMapProxyHeader";
    }
    if (!ca) {
        return "CertMapProxyCACertificateFile";
    }
    return NULL;
}

#define CERTMAP_PROXY_FIELD(pc, mainpc, f) \
    ((pc) && (pc)->f ? (const void *)(pc)->f \
                     : (mainpc) ? (const void *)(mainpc)->f : NULL)

/* check_config: runs for `apachectl -t` too, before virtual hosts are
 * merged, so a host's effective settings are its own over the main
 * server's.  Incomplete settings stop start-up with file, line, reason. */
static int certmap_proxy_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                                      apr_pool_t *ptemp, server_rec *s)
{
    certmap_srv_conf_t *main_sc = ap_get_module_config(s->module_config,
                                                       &certmap_module);
    struct certmap_proxy_conf *mainpc = main_sc ? main_sc->proxy : NULL;
    server_rec *v;

    for (v = s; v; v = v->next) {
        certmap_srv_conf_t *sc = ap_get_module_config(v->module_config,
                                                      &certmap_module);
        struct certmap_proxy_conf *pc = sc ? sc->proxy : NULL;
        const char *missing;

        if (!pc) {
            continue;       /* the main server's, checked as such */
        }
        missing = certmap_proxy_incomplete(
            CERTMAP_PROXY_FIELD(pc, mainpc, trusted),
            CERTMAP_PROXY_FIELD(pc, mainpc, header),
            CERTMAP_PROXY_FIELD(pc, mainpc, ca_file));
        if (missing) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL,
                         "CERTMAP450: %s: the proxy settings of this "
                         "server lack %s: a forwarded certificate is used "
                         "only from a trusted proxy, in a named header, "
                         "verified against a CA file", pc->where, missing);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

/* The server's own trust for forwarded certificates. */
static const char *certmap_proxy_build(apr_pool_t *p,
                                       struct certmap_proxy_conf *pc)
{
    X509_STORE *store = X509_STORE_new();
    int i;

    if (!store) {
        return "out of memory";
    }
    apr_pool_cleanup_register(p, store, certmap_proxy_free_store,
                              apr_pool_cleanup_null);
    for (i = 0; i < sk_X509_INFO_num(pc->cas); i++) {
        X509_INFO *info = sk_X509_INFO_value(pc->cas, i);
        if (info->x509 && !X509_STORE_add_cert(store, info->x509)) {
            return "cannot add a CA certificate";
        }
    }
    for (i = 0; pc->crls && i < sk_X509_INFO_num(pc->crls); i++) {
        X509_INFO *info = sk_X509_INFO_value(pc->crls, i);
        if (info->crl && !X509_STORE_add_crl(store, info->crl)) {
            return "cannot add a CRL";
        }
    }
    if (pc->crls
        && !X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK
                                        | X509_V_FLAG_CRL_CHECK_ALL)) {
        return "cannot enable CRL checks";
    }
    pc->store = store;
    return NULL;
}

static void certmap_proxy_add_name(apr_pool_t *p, const char *name)
{
    int i;

    for (i = 0; i < certmap_proxy_names->nelts; i++) {
        if (!ap_cstr_casecmp(APR_ARRAY_IDX(certmap_proxy_names, i,
                                           const char *), name)) {
            return;
        }
    }
    APR_ARRAY_PUSH(certmap_proxy_names, const char *) = name;
}

static apr_status_t certmap_proxy_forget(void *unused)
{
    (void)unused;
    certmap_proxy_names = NULL;
    return APR_SUCCESS;
}

static int certmap_proxy_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                     apr_pool_t *ptemp, server_rec *s)
{
    const char *err;

    certmap_proxy_names = apr_array_make(pconf, 2, sizeof(const char *));
    apr_pool_cleanup_register(pconf, NULL, certmap_proxy_forget,
                              apr_pool_cleanup_null);
    for (; s; s = s->next) {
        certmap_srv_conf_t *sc = ap_get_module_config(s->module_config,
                                                      &certmap_module);
        struct certmap_proxy_conf *pc = sc ? sc->proxy : NULL;

        if (!pc || !pc->trusted || !pc->header || !pc->cas) {
            continue;               /* check_config refused these */
        }
        certmap_proxy_add_name(pconf, pc->header);
        if (!pc->store && (err = certmap_proxy_build(pconf, pc))) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "CERTMAP451: %s: "
                         "%s", pc->where, err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

/* ---- the request -------------------------------------------------------- */

static const struct certmap_proxy_conf *certmap_proxy_of(request_rec *r)
{
    certmap_srv_conf_t *sc = ap_get_module_config(r->server->module_config,
                                                  &certmap_module);

    return sc && sc->proxy && sc->proxy->store ? sc->proxy : NULL;
}

static int certmap_proxy_peer_trusted(const struct certmap_proxy_conf *pc,
                                      conn_rec *c)
{
    int i;

    if (!c->client_addr) {
        return 0;
    }
    for (i = 0; i < pc->trusted->nelts; i++) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(pc->trusted, i,
                                            apr_ipsubnet_t *),
                              c->client_addr)) {
            return 1;
        }
    }
    return 0;
}

int certmap_proxy_trusted(request_rec *r)
{
    const struct certmap_proxy_conf *pc = certmap_proxy_of(r);

    return pc && certmap_proxy_peer_trusted(pc, r->connection);
}

/* Every request, before any other module: the forwarded-certificate
 * headers are removed unless the peer is the serving host's trusted
 * proxy and the header is that host's. */
static int certmap_proxy_read_request(request_rec *r)
{
    const struct certmap_proxy_conf *pc;
    int i, trusted;

    if (!certmap_proxy_names || apr_is_empty_array(certmap_proxy_names)) {
        return DECLINED;
    }
    pc = certmap_proxy_of(r);
    trusted = pc && certmap_proxy_peer_trusted(pc, r->connection);
    for (i = 0; i < certmap_proxy_names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(certmap_proxy_names, i,
                                         const char *);

        if (trusted && !ap_cstr_casecmp(name, pc->header)) {
            continue;
        }
        if (apr_table_get(r->headers_in, name)) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "CERTMAP452: "
                          "removed the header %s sent by %s, which is not "
                          "a trusted proxy of this server: it is never "
                          "used", name, r->connection->client_ip);
            apr_table_unset(r->headers_in, name);
        }
    }
    return DECLINED;
}

/* ---- decoding ----------------------------------------------------------- */

/* Standard base64 with padding, nothing else (no whitespace). */
static int certmap_proxy_is_base64(const char *s, apr_size_t len)
{
    apr_size_t i, pad = 0;

    if (len == 0 || len % 4 != 0) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (s[i] == '=') {
            pad++;
        }
        else if (pad || !(apr_isalnum(s[i]) || s[i] == '+' || s[i] == '/')) {
            return 0;
        }
    }
    return pad <= 2;
}

static const char *certmap_proxy_from_base64(apr_pool_t *p, const char *s,
                                             apr_size_t len, X509 **x509)
{
    const unsigned char *cursor;
    unsigned char *der;
    apr_size_t der_len;
    const char *err;

    if (!certmap_proxy_is_base64(s, len)) {
        return "not base64";
    }
    if ((err = certmap_der_from_base64(p, apr_pstrmemdup(p, s, len), &der,
                                       &der_len))) {
        return err;
    }
    cursor = der;
    *x509 = d2i_X509(NULL, &cursor, (long)der_len);
    if (!*x509 || cursor != der + der_len) {
        X509_free(*x509);
        *x509 = NULL;
        return "not one DER certificate";
    }
    return NULL;
}

/* %XX decoded; every other byte kept as is ('+' is '+': base64).  NULL
 * for a broken escape or a NUL. */
static char *certmap_proxy_unescape(apr_pool_t *p, const char *s,
                                    apr_size_t len)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        if (i + 2 >= len || !apr_isxdigit(s[i + 1]) || !apr_isxdigit(s[i + 2])) {
            return NULL;
        }
        {
            char hex[3] = { s[i + 1], s[i + 2], '\0' };
            int v = (int)strtol(hex, NULL, 16);
            if (v == 0) {
                return NULL;
            }
            *o++ = (char)v;
        }
        i += 2;
    }
    *o = '\0';
    return out;
}

/* One PEM certificate and nothing but whitespace around it. */
static const char *certmap_proxy_from_pem(apr_pool_t *p, const char *escaped,
                                          apr_size_t len, X509 **x509)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    const char *pem = certmap_proxy_unescape(p, escaped, len);
    BIO *bio;
    char rest[1];

    *x509 = NULL;
    if (!pem) {
        return "bad percent-encoding";
    }
    while (apr_isspace(*pem)) {
        pem++;
    }
    if (strncmp(pem, begin, sizeof(begin) - 1) != 0) {
        return "not a PEM certificate";
    }
    if (!(bio = BIO_new_mem_buf(pem, -1))) {
        return "out of memory";
    }
    *x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    ERR_clear_error();
    if (*x509) {
        /* only whitespace may follow */
        int n;
        while ((n = BIO_read(bio, rest, 1)) == 1 && apr_isspace(rest[0])) {
        }
        if (n == 1) {
            X509_free(*x509);
            *x509 = NULL;
            BIO_free(bio);
            return "more than one certificate, or data after it";
        }
    }
    BIO_free(bio);
    return *x509 ? NULL : "not a PEM certificate";
}

/* Envoy's x-forwarded-client-cert: elements separated by ',', each
 * key=value pairs separated by ';', a value quoted ("...", with \ escapes)
 * or bare.  Exactly one element is accepted: several are either several
 * headers (httpd joins repeated headers with ", ") or hops appended
 * (APPEND_FORWARD), and which of those a trusted proxy vouches for cannot
 * be told here.  Envoy's SANITIZE_SET sends exactly one. */
static const char *certmap_proxy_from_xfcc(apr_pool_t *p, const char *v,
                                           X509 **x509)
{
    const char *cert = NULL, *s = v;
    apr_size_t cert_len = 0;

    while (*s) {
        const char *key = s, *val;
        apr_size_t key_len, val_len;
        char *unq = NULL;

        while (*s && *s != '=' && *s != ';' && *s != ',') {
            s++;
        }
        if (*s != '=') {
            return "a pair without '='";
        }
        key_len = (apr_size_t)(s - key);
        while (key_len && apr_isspace(*key)) {
            key++, key_len--;
        }
        s++;
        if (*s == '"') {
            char *o = unq = apr_palloc(p, strlen(s) + 1);
            for (s++; *s && *s != '"'; s++) {
                if (*s == '\\' && s[1]) {
                    s++;
                }
                *o++ = *s;
            }
            if (*s != '"') {
                return "an unterminated quoted value";
            }
            *o = '\0';
            s++;
            val = unq;
            val_len = (apr_size_t)(o - unq);
        }
        else {
            val = s;
            while (*s && *s != ';' && *s != ',') {
                s++;
            }
            val_len = (apr_size_t)(s - val);
        }
        if (key_len == 4 && !ap_cstr_casecmpn(key, "Cert", 4)) {
            if (cert) {
                return "two Cert values";
            }
            cert = val;
            cert_len = val_len;
        }
        while (apr_isspace(*s)) {
            s++;
        }
        if (*s == ',') {
            return "more than one element (two headers, or hops appended: "
                   "configure the proxy to set, not append)";
        }
        if (*s == ';') {
            s++;
        }
        else if (*s) {
            return "junk after a value";
        }
    }
    if (!cert) {
        return "no Cert value";
    }
    return certmap_proxy_from_pem(p, cert, cert_len, x509);
}

static int certmap_proxy_count(void *rec, const char *key, const char *value)
{
    (void)key, (void)value;
    ++*(int *)rec;
    return 1;
}

/* The certificate in the header's value, or why there is none. */
static const char *certmap_proxy_decode(request_rec *r,
                                        const struct certmap_proxy_conf *pc,
                                        const char *v, X509 **x509)
{
    apr_size_t len = strlen(v);

    *x509 = NULL;
    if (len > CERTMAP_PROXY_MAX_VALUE) {
        return "too long";
    }
    /* httpd joins a repeated header with ", "; no certificate of these
     * formats holds a ',' (an xfcc value may, inside quotes) */
    if (pc->format != CERTMAP_PROXY_XFCC && strchr(v, ',')) {
        return "sent twice, or a list";
    }
    switch (pc->format) {
    case CERTMAP_PROXY_RFC9440:
        /* sf-binary: ":" base64 ":"; a list is two headers */
        if (len < 2 || v[0] != ':' || v[len - 1] != ':') {
            return "not ':base64:' (RFC 9440)";
        }
        return certmap_proxy_from_base64(r->pool, v + 1, len - 2, x509);
    case CERTMAP_PROXY_BASE64_DER:
        return certmap_proxy_from_base64(r->pool, v, len, x509);
    case CERTMAP_PROXY_PEM_URLENCODED:
        return certmap_proxy_from_pem(r->pool, v, len, x509);
    case CERTMAP_PROXY_XFCC:
        return certmap_proxy_from_xfcc(r->pool, v, x509);
    }
    return "unknown format";
}

/* ---- verification ------------------------------------------------------- */

/* With OpenSSL's verification against the configured CAs and CRLs, as
 * certmap_tls.c verifies a direct client (only the certificate is
 * forwarded: intermediates belong in CertMapProxyCACertificateFile). */
static certmap_outcome_e certmap_proxy_verify(
    const struct certmap_proxy_conf *pc, X509 *x509, int *err)
{
    return certmap_tls_verify_with(pc->store, NULL, 0, x509, NULL, err);
}

void certmap_proxy_facts(request_rec *r, certmap_facts_t *f)
{
    const struct certmap_proxy_conf *pc = certmap_proxy_of(r);
    const char *value, *why, *parse_err;
    X509 *x509 = NULL;
    int n = 0, err;

    f->from_proxy = 1;
    f->tls = 1;                 /* the proxy terminated the client's TLS */
    f->cipher_bits = -1;        /* and is trusted to have done it well */
    apr_table_do(certmap_proxy_count, &n, r->headers_in, pc->header, NULL);
    if (n == 0) {
        return;                 /* no certificate forwarded */
    }
    f->present = 1;
    value = apr_table_get(r->headers_in, pc->header);
    why = n > 1 ? "sent twice" : certmap_proxy_decode(r, pc, value, &x509);
    if (why) {
        f->verified = CERTMAP_CERT_UNTRUSTED;
        f->reason = apr_psprintf(r->pool, "CERTMAP453: the %s header from "
                                 "trusted proxy %s is malformed (%s); "
                                 "never used", pc->header,
                                 r->connection->client_ip, why);
        return;
    }
    f->verified = certmap_proxy_verify(pc, x509, &err);
    if (f->verified != CERTMAP_GRANTED) {
        f->reason = apr_psprintf(r->pool, "CERTMAP454: the certificate "
                                 "forwarded by %s in %s fails verification "
                                 "against CertMapProxyCACertificateFile: %s "
                                 "(%d)", r->connection->client_ip,
                                 pc->header,
                                 X509_verify_cert_error_string(err), err);
    }
    /* parsed into the request's pool: never the connection's cache */
    if ((parse_err = certmap_cert_parse(r->pool, x509, &f->cert))) {
        f->cert = NULL;
        f->desc = certmap_x509_describe(r->pool, x509);
        if (f->verified == CERTMAP_GRANTED) {
            f->verified = CERTMAP_CERT_UNTRUSTED;
            f->reason = apr_psprintf(r->pool, "CERTMAP455: the forwarded "
                                     "certificate cannot be read: %s; %s",
                                     parse_err, f->desc);
        }
    }
    X509_free(x509);            /* certmap_cert_parse took its own */
}

/* ---- -D DUMP_CERTMAP ----------------------------------------------------- */

void certmap_proxy_dump(server_rec *s)
{
    certmap_srv_conf_t *sc = ap_get_module_config(s->module_config,
                                                  &certmap_module);
    const struct certmap_proxy_conf *pc = sc ? sc->proxy : NULL;
    apr_size_t i;
    const char *format = "?";

    if (!pc) {
        return;
    }
    for (i = 0; i < sizeof(certmap_proxy_formats)
                    / sizeof(certmap_proxy_formats[0]); i++) {
        if (certmap_proxy_formats[i].format == pc->format) {
            format = certmap_proxy_formats[i].name;
        }
    }
    printf("  behind a proxy: trusted %s; header %s (%s); CA %s; CRL %s\n",
           pc->trusted_text ? pc->trusted_text : "(none)",
           pc->header ? pc->header : "(none)", format,
           pc->ca_file ? pc->ca_file : "(none)",
           pc->crl_file ? pc->crl_file : "(none)");
}

void certmap_proxy_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_check_config(certmap_proxy_check_config, NULL, NULL,
                         APR_HOOK_MIDDLE);
    ap_hook_post_config(certmap_proxy_post_config, NULL, NULL,
                        APR_HOOK_MIDDLE);
    ap_hook_post_read_request(certmap_proxy_read_request, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
}
