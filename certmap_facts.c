/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_facts.c — what a request knows about its client certificate,
 * gathered once into a certmap_facts_t: whether the client spoke TLS and
 * with what cipher strength, whether it presented a certificate, whether
 * that certificate verified (and how it failed), and the certificate
 * parsed and digested.  Two sources fill it: mod_ssl for a client
 * connected to us directly, and the header of a trusted TLS-terminating
 * proxy (certmap_proxy.c).  `certmap explain` fills it from a file.  The
 * checks the contract puts before mapping read it in one place
 * (certmap_facts_precheck), in the contract's order.
 *
 * The peer certificate of a direct connection is parsed once per
 * connection (certmap_conn_cert); a forwarded one is parsed for its
 * request only, since a proxy multiplexes many clients on one connection.
 */

#include "apr_strings.h"

#include "http_core.h"
#include "http_ssl.h"

#include <openssl/pem.h>

#include "certmap_private.h"

#define CERTMAP_FACTS_KEY "certmap-facts"

/* ---- mod_ssl ------------------------------------------------------------ */

/* mod_ssl's client certificate, which certmap_cert_parse cannot read: one
 * message (one id) for every path that parses it. */
static void certmap_facts_log_unreadable(request_rec *r, const char *err)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "CERTMAP103: %s", err);
}

/* Slow path, for connections whose SSL* the module never saw: the
 * certificate as mod_ssl exports it, parsed for this request only. */
static certmap_cert_t *certmap_cert_from_pem(request_rec *r)
{
    const char *pem = ap_ssl_var_lookup(r->pool, r->server, r->connection,
                                        r, "SSL_CLIENT_CERT");
    certmap_cert_t *cert = NULL;
    const char *err;
    BIO *bio;
    X509 *x509;

    if (!pem || !*pem) {
        return NULL;
    }
    bio = BIO_new_mem_buf(pem, -1);
    x509 = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!x509) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "CERTMAP102: cannot "
                      "decode the client certificate exported by mod_ssl");
        return NULL;
    }
    if ((err = certmap_cert_parse(r->pool, x509, &cert))) {
        certmap_facts_log_unreadable(r, err);
    }
    X509_free(x509);
    return cert;
}

/* The peer certificate parsed once per connection: a keep-alive
 * connection parses and digests it on its first request only.  A new
 * certificate (renegotiation) replaces the old one in a cleared pool, so
 * memory does not grow with requests.  Only for mod_ssl's peer
 * certificate, never a forwarded one. */
static certmap_cert_t *certmap_conn_cert(request_rec *r, certmap_conn_t *cc,
                                         X509 *x509)
{
    const char *err;

    if (cc->parsed && cc->parsed_x509 == x509) {
        return cc->parsed;
    }
    if (!cc->cert_pool) {
        apr_pool_create(&cc->cert_pool, r->connection->pool);
        apr_pool_tag(cc->cert_pool, "certmap_cert");
    }
    else {
        apr_pool_clear(cc->cert_pool);
    }
    cc->parsed = NULL;
    cc->parsed_x509 = NULL;
    certmap_memo_reset(cc);
    if ((err = certmap_cert_parse(cc->cert_pool, x509, &cc->parsed))) {
        certmap_facts_log_unreadable(r, err);
        return NULL;
    }
    cc->parsed_x509 = x509;
    return cc->parsed;
}

/* Whether the client presented a certificate, and if so, parsed (NULL:
 * presented but unreadable). */
static void certmap_facts_tls_cert(request_rec *r, certmap_conn_t *cc,
                                   certmap_facts_t *f)
{
    X509 *x509;

    if (cc && cc->ssl) {
        x509 = SSL_get0_peer_certificate(cc->ssl);
        f->present = (x509 != NULL);
        if (!x509) {
            return;
        }
        /* HTTP/2 streams run in parallel on the master connection's state:
         * they parse for themselves instead of sharing its cache. */
        if (r->connection->master) {
            const char *err = certmap_cert_parse(r->pool, x509, &f->cert);
            if (err) {
                certmap_facts_log_unreadable(r, err);
                f->cert = NULL;
            }
        }
        else {
            f->cert = certmap_conn_cert(r, cc, x509);
        }
    }
    else {
        const char *verify = ap_ssl_var_lookup(r->pool, r->server,
                                               r->connection, r,
                                               "SSL_CLIENT_VERIFY");
        f->present = verify && *verify && strcmp(verify, "NONE") != 0;
        if (f->present) {
            f->cert = certmap_cert_from_pem(r);
        }
    }
}

static int certmap_facts_cipher_bits(request_rec *r, certmap_conn_t *cc)
{
    const char *bits;
    char *end;
    apr_int64_t value;

    if (cc && cc->ssl && SSL_get_current_cipher(cc->ssl)) {
        return SSL_CIPHER_get_bits(SSL_get_current_cipher(cc->ssl), NULL);
    }
    bits = ap_ssl_var_lookup(r->pool, r->server, r->connection, r,
                             "SSL_CIPHER_USEKEYSIZE");
    if (!bits || !*bits) {
        return 0;
    }
    errno = 0;
    value = apr_strtoi64(bits, &end, 10);
    return (errno || *end || value < 0 || value > 65536) ? 0 : (int)value;
}

/* A client connected to us directly: what mod_ssl knows. */
static void certmap_facts_from_tls(request_rec *r, certmap_facts_t *f)
{
    certmap_conn_t *cc = certmap_conn_get(r->connection);

    f->tls = ap_ssl_conn_is_ssl(r->connection);
    if (!f->tls) {
        return;
    }
    f->cipher_bits = certmap_facts_cipher_bits(r, cc);
    certmap_facts_tls_cert(r, cc, f);
    if (f->present) {
        f->verified = certmap_tls_verified(r, cc, &f->reason);
    }
}

/* ---- what other files call ---------------------------------------------- */

const certmap_facts_t *certmap_facts_get(request_rec *r)
{
    certmap_facts_t *f = NULL;

    apr_pool_userdata_get((void **)&f, CERTMAP_FACTS_KEY, r->pool);
    if (f) {
        return f;
    }
    f = apr_pcalloc(r->pool, sizeof(*f));
    f->verified = CERTMAP_GRANTED;
    if (certmap_proxy_trusted(r)) {
        certmap_proxy_facts(r, f);
    }
    else {
        certmap_facts_from_tls(r, f);
    }
    apr_pool_userdata_setn(f, CERTMAP_FACTS_KEY, NULL, r->pool);
    return f;
}

int certmap_facts_precheck(const certmap_facts_t *f, int flags,
                           certmap_outcome_e *outcome, const char **reason)
{
    if (!f->tls) {
        if (flags & CERTMAP_SSL) {
            *outcome = CERTMAP_SSL_REQUIRED;
            *reason = "plain HTTP request";
            return 1;
        }
        if (flags & CERTMAP_SSL_REQUIRE) {
            *outcome = CERTMAP_CERT_REQUIRED;
            *reason = "plain HTTP request, certificate required";
            return 1;
        }
        return -1;
    }
    if ((flags & CERTMAP_SSL_128) && f->cipher_bits >= 0
        && f->cipher_bits < 128) {
        *outcome = CERTMAP_SSL128_REQUIRED;
        *reason = "cipher strength under 128 bits";
        return 1;
    }
    /* Without SslNegotiateCert IIS never looks at a certificate. */
    if (!(flags & (CERTMAP_SSL_NEGOTIATE | CERTMAP_SSL_REQUIRE))) {
        return -1;
    }
    if (!f->present) {
        if (flags & CERTMAP_SSL_REQUIRE) {
            *outcome = CERTMAP_CERT_REQUIRED;
            *reason = f->from_proxy ? "the trusted proxy forwarded no "
                                      "client certificate"
                                    : "no client certificate";
            return 1;
        }
        return -1;                  /* another AuthType may decide */
    }
    if (f->verified != CERTMAP_GRANTED) {
        *outcome = f->verified;
        *reason = f->reason ? f->reason : "verification failed";
        return 1;
    }
    if (!f->cert) {
        /* fail closed: a certificate nobody could read is no identity */
        *outcome = f->from_proxy ? CERTMAP_CERT_UNTRUSTED
                                 : CERTMAP_INTERNAL_ERROR;
        *reason = "the client certificate could not be read";
        return 1;
    }
    *outcome = CERTMAP_GRANTED;
    *reason = NULL;
    return 0;
}
