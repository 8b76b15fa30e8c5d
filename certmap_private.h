/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_private.h — what the httpd-facing files of mod_certmap share:
 * configuration records, the per-connection state, outcomes, and the
 * prototypes that cross files.  The engine (certmap_rules.h) and the PAM
 * logon (certmap_pam.h) do not include it: they know nothing of httpd.
 */

#ifndef CERTMAP_PRIVATE_H
#define CERTMAP_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_socache.h"
#include "apr_global_mutex.h"

#include <openssl/ssl.h>

#include "certmap_rules.h"
#include "certmap_pam.h"

APLOG_USE_MODULE(certmap);

extern module AP_MODULE_DECLARE_DATA certmap_module;

/* "not configured in this scope"; defaults are resolved when read. */
#define CERTMAP_UNSET (-1)

/* IIS sslFlags.  SslRequireCert implies SslNegotiateCert. */
#define CERTMAP_SSL             0x01
#define CERTMAP_SSL_NEGOTIATE   0x02
#define CERTMAP_SSL_REQUIRE     0x04
#define CERTMAP_SSL_128         0x08
#define CERTMAP_SSL_DEFAULT     (CERTMAP_SSL | CERTMAP_SSL_NEGOTIATE)

#define CERTMAP_DEFAULT_PAM_SERVICE   "certmap"
#define CERTMAP_DEFAULT_CACHE_TIMEOUT 300

/* CertMapInvalidCerts */
#define CERTMAP_INVALID_REPORT 1
#define CERTMAP_INVALID_REJECT 2

/* What happened to a request, in the order of the contract's table. */
typedef enum {
    CERTMAP_GRANTED = 0,        /* request goes on as the mapped user */
    CERTMAP_SSL_REQUIRED,       /* 403.4  */
    CERTMAP_SSL128_REQUIRED,    /* 403.5  */
    CERTMAP_CERT_REQUIRED,      /* 403.7  */
    CERTMAP_CERT_UNTRUSTED,     /* 403.16 */
    CERTMAP_CERT_REVOKED,       /* 403.13 */
    CERTMAP_CERT_EXPIRED,       /* 403.17 */
    CERTMAP_NOT_MAPPED,         /* 403.16, trusted but no mapping matched */
    CERTMAP_MAPPER_DENIED,      /* 403.12 */
    CERTMAP_LOGON_FAILED,       /* 401.1  */
    CERTMAP_INTERNAL_ERROR      /* 500    */
} certmap_outcome_e;

/* Per-directory configuration.  Every scalar starts UNSET so that a nested
 * scope can override an outer one in either direction. */
typedef struct {
    int enabled;                    /* CertMap */
    int ssl_flags;                  /* CertMapSSLFlags, or UNSET */
    int one_to_one;                 /* CertMapOneToOneEnabled */
    int many_to_one;                /* CertMapManyToOneEnabled */
    int inherit;                    /* CertMapInheritMappings */
    certmap_table_t *own;           /* mappings declared in this scope */
    apr_array_header_t *tables;     /* effective: outer tables first */
    const char *default_domain;     /* CertMapDefaultLogonDomain */
    int pam;                        /* CertMapPAM */
    const char *pam_service;        /* CertMapPAMService */
    int logon_cache_timeout;        /* CertMapLogonCacheTimeout, seconds */
    int logon_timeout;              /* CertMapLogonTimeout, seconds */
    certmap_mapping_t *building;    /* <CertMapManyToOne> being read */
    /* directory mapping (certmap_directory.c) */
    int dir_enabled;                        /* CertMapDirectory */
    const struct certmap_dir_url *dir_url;  /* CertMapDirectoryURL */
    const char *dir_bind_dn;                /* CertMapDirectoryBindDN */
    const char *dir_bind_password;          /* ...BindPassword, resolved */
    const apr_array_header_t *dir_match;    /* of int; NULL: default */
    const char *dir_mapping_attr;           /* ...MappingAttribute */
    int dir_cache_timeout;                  /* ...CacheTimeout, seconds */
    int dir_timeout;                        /* CertMapDirectoryTimeout */
} certmap_dir_conf_t;

/* Per-server configuration. */
typedef struct {
    int invalid_certs;              /* CertMapInvalidCerts */
    int certmap_used;               /* CertMap On appears for this server */
    /* decided at start-up (certmap_tls.c), read-only afterwards */
    int htaccess_auth;              /* .htaccess may set authentication */
    int report;                     /* invalid certificates get an HTTP
                                       answer; never honoured here */
    /* the shared logon cache (CertMapLogonCache) */
    const char *cache_spec;         /* "provider[:args]" as configured */
    const ap_socache_provider_t *cache_provider;
    ap_socache_instance_t *cache;
    int logon_slots;                /* CertMapLogonSlots (main server) */
    const char *cache_secret;       /* CertMapCacheSecret, resolved */
    apr_interval_time_t cache_timeout;  /* CertMapCacheTimeout; 0: unset */
    /* behind a TLS-terminating proxy (certmap_proxy.c); NULL: none */
    struct certmap_proxy_conf *proxy;
} certmap_srv_conf_t;

/* When something remembered was decided (a logon, a directory finding)
 * and until when it may be used: a decision read from the shared cache
 * keeps its writer's expiry, so that nothing that copies it outlives it. */
typedef struct {
    apr_time_t decided;
    apr_time_t expires;
} certmap_when_t;

/* A decision made now, good for `timeout` seconds. */
static APR_INLINE certmap_when_t certmap_when_now(int timeout)
{
    certmap_when_t when;

    when.decided = apr_time_now();
    when.expires = when.decided + apr_time_from_sec((apr_time_t)timeout);
    return when;
}

/* The last mapping and logon on a connection, so that a keep-alive
 * connection maps and logs on once.  Everything in it is a value, never
 * an address: .htaccess configuration is allocated anew (often at the
 * same address) for every request, and a renegotiated certificate may
 * land where a freed one was.  See certmap_memo.c. */
#define CERTMAP_MEMO_TABLES  8

typedef struct {
    /* the mapping */
    int matched;                        /* 0: nothing remembered */
    unsigned char cert[CERTMAP_SHA256_LEN];  /* SHA-256 of the DER */
    apr_uint64_t tables[CERTMAP_MEMO_TABLES];   /* table identities */
    int ntables;
    int one_to_one, many_to_one;
    int table, many, position;          /* what matched; table -1: none */
    /* the logon, when one succeeded through PAM: everything handed to PAM
     * (copies in `pool`, which is cleared for each new logon) */
    apr_pool_t *pool;
    unsigned char logon_cert[CERTMAP_SHA256_LEN];
    const char *service, *account, *password, *rhost;
    certmap_when_t logon;               /* decided 0: none remembered */
    /* the directory's finding: the question (copies in `dir_pool`,
     * cleared for each new finding) and its answer */
    apr_pool_t *dir_pool;
    unsigned char dir_cert[CERTMAP_SHA256_LEN];
    const char *dir_url, *dir_bind_dn, *dir_attr, *dir_password;
    int *dir_methods;
    int dir_nmethods;
    const char *dir_account;
    certmap_when_t dir;                 /* decided 0: none remembered */
} certmap_memo_t;

/* Everything that decides what the directory answers for a certificate
 * (certmap_directory.c): the shared cache's key and the memo are made of
 * it, so that neither can reuse an answer to another question. */
typedef struct {
    const char *url;                    /* CertMapDirectoryURL as written */
    const char *bind_dn;                /* "" when anonymous */
    const char *attr;                   /* mapping attribute, "" default */
    const char *password;               /* bind password, "" when none */
    const int *methods;                 /* CertMapDirectoryMatch */
    int nmethods;
    const certmap_cert_t *cert;
} certmap_dir_question_t;

/* What a request knows about its client certificate, gathered once per
 * request in one place (certmap_facts.c): from mod_ssl for a direct TLS
 * client, from the header of a trusted proxy (certmap_proxy.c), or from a
 * file (`certmap explain`).  The request path, explain and the log read
 * it, so they cannot disagree. */
typedef struct {
    int from_proxy;             /* forwarded by a trusted proxy */
    int tls;                    /* the client spoke TLS (to us or to the
                                   trusted proxy, which is assumed) */
    int cipher_bits;            /* -1: not known here, assumed sufficient
                                   (a trusted proxy terminated TLS) */
    int present;                /* a certificate was presented/forwarded */
    certmap_outcome_e verified; /* CERTMAP_GRANTED, or how verification
                                   failed (403.16/.13/.17) */
    const char *reason;         /* why it failed, for the log */
    const char *desc;           /* the failing certificate, when it could
                                   not be parsed (no `cert`) */
    certmap_cert_t *cert;       /* parsed (and digested) once; NULL when
                                   absent or unreadable */
} certmap_facts_t;

/* What PAM is handed for one logon: a memoised or cached logon is reused
 * only when all of it is equal. */
typedef struct {
    const char *service;
    const char *account;
    const char *password;               /* NULL: account check only */
    const char *rhost;                  /* PAM_RHOST */
    const certmap_cert_t *cert;
} certmap_logon_t;

/* What the module remembers about one TLS connection.  Only the thread
 * serving the connection touches it. */
typedef struct {
    SSL *ssl;                       /* from mod_ssl's pre_handshake hook */
    /* the client certificate failed verification (certmap_tls.c): the
     * most serious failure seen on the connection; it is never forgotten,
     * as mod_ssl resets the verify result on every TLS 1.2 request */
    certmap_outcome_e verify_failure;   /* CERTMAP_GRANTED: none */
    int verify_error;                   /* X509_V_ERR_* */
    const char *verify_reason;          /* for the log */
    const char *verify_cert_desc;       /* the certificate that failed */
    int verify_masked;                  /* our Report callback cleared it:
                                           mod_ssl believes it verified */
    /* the client certificate parsed once per connection (the glue's);
     * `parsed` holds a reference to parsed_x509, so while it lives no
     * other certificate can take that address */
    X509 *parsed_x509;
    certmap_cert_t *parsed;
    apr_pool_t *cert_pool;              /* holds `parsed`; cleared when the
                                           peer certificate changes */
    certmap_memo_t memo;
} certmap_conn_t;

/* ---- mod_certmap.c / certmap_config.c --------------------------------- */

void *certmap_create_dir_conf(apr_pool_t *p, char *dir);
void *certmap_merge_dir_conf(apr_pool_t *p, void *base, void *add);
void *certmap_create_srv_conf(apr_pool_t *p, server_rec *s);
void *certmap_merge_srv_conf(apr_pool_t *p, void *base, void *add);
extern const command_rec certmap_cmds[];

/* Effective values, defaults resolved. */
int certmap_conf_ssl_flags(const certmap_dir_conf_t *dc);

/* Whether cmd reads an .htaccess file (at request time). */
int certmap_conf_in_htaccess(const cmd_parms *cmd);

/* "DIRECTIVE: reason", so httpd prints file, line and reason. */
const char *certmap_cmd_error(cmd_parms *cmd, const char *reason);

/* A cache timeout directive's SECONDS (0 to 30 days), or the directive's
 * error. */
const char *certmap_conf_seconds(cmd_parms *cmd, const char *arg,
                                 int *seconds);

/* CertMapSSLFlags as configuration words ("Ssl SslNegotiateCert"). */
const char *certmap_conf_ssl_flags_text(apr_pool_t *p, int flags);

/* The account a mapped USER logs on as: USER@DOMAIN under
 * CertMapDefaultLogonDomain, unless USER names a domain itself. */
const char *certmap_conf_account(apr_pool_t *p, const certmap_dir_conf_t *dc,
                                 const char *user);

/* ---- certmap_facts.c ---------------------------------------------------- */

/* What r knows about its client certificate, gathered on first use and
 * kept for the request: from a trusted proxy's header when r's server
 * trusts the peer (certmap_proxy.c), else from mod_ssl.  Never NULL. */
const certmap_facts_t *certmap_facts_get(request_rec *r);

/* The contract's checks before mapping, in its order, for a scope with
 * CertMapSSLFlags `flags`: returns 1 when the request ends with *outcome
 * (and *reason), 0 when the verified certificate f->cert goes on to
 * mapping, -1 when it is passed on to other authentication. */
int certmap_facts_precheck(const certmap_facts_t *f, int flags,
                           certmap_outcome_e *outcome, const char **reason);

/* ---- certmap_proxy.c ---------------------------------------------------- */

struct certmap_proxy_conf;

/* Directive handlers (server scope). */
const char *certmap_proxy_set_trusted(cmd_parms *cmd, void *dummy,
                                      const char *arg);
const char *certmap_proxy_set_header(cmd_parms *cmd, void *dummy,
                                     const char *name, const char *format);
const char *certmap_proxy_set_ca_file(cmd_parms *cmd, void *dummy,
                                      const char *arg);
const char *certmap_proxy_set_crl_file(cmd_parms *cmd, void *dummy,
                                       const char *arg);

/* A virtual host's settings: its own where it has any, else the main
 * server's (field by field). */
struct certmap_proxy_conf *certmap_proxy_merge(apr_pool_t *p,
                                               struct certmap_proxy_conf *base,
                                               struct certmap_proxy_conf *add);

/* Whether r's server takes the client certificate from a proxy and r's
 * TCP peer (c->client_addr, never r->useragent_addr) is one it trusts. */
int certmap_proxy_trusted(request_rec *r);

/* Fills f from the trusted proxy's header: no header is no certificate;
 * two headers, a malformed one or one that fails verification against
 * CertMapProxyCACertificateFile is a failure (403.16/.13/.17). */
void certmap_proxy_facts(request_rec *r, certmap_facts_t *f);

/* -D DUMP_CERTMAP: a server's proxy settings. */
void certmap_proxy_dump(server_rec *s);

void certmap_proxy_register_hooks(apr_pool_t *p);

/* ---- certmap_memo.c ---------------------------------------------------- */

/* Forgets everything (the peer certificate changed). */
void certmap_memo_reset(certmap_conn_t *cc);

/* The mapping remembered for cert in a scope with these tables and flags
 * (*mapping NULL: none matched); 0 when nothing is remembered. */
int certmap_memo_match(const certmap_conn_t *cc, const certmap_cert_t *cert,
                       const apr_array_header_t *tables, int one_to_one,
                       int many_to_one, const certmap_mapping_t **mapping);
void certmap_memo_remember_match(certmap_conn_t *cc,
                                 const certmap_cert_t *cert,
                                 const apr_array_header_t *tables,
                                 int one_to_one, int many_to_one,
                                 const certmap_mapping_t *mapping);

/* Whether this very logon succeeded on the connection less than
 * `timeout` seconds ago (and its cache entry, if it came from one, has
 * not expired). */
int certmap_memo_logon(const certmap_conn_t *cc, const certmap_logon_t *l,
                       int timeout);
void certmap_memo_remember_logon(certmap_conn_t *cc, conn_rec *c,
                                 const certmap_logon_t *l,
                                 const certmap_when_t *when);

/* The account the directory gave for this very question on the
 * connection less than `timeout` seconds ago (and before its cache entry
 * expired), copied into p; NULL when none. */
const char *certmap_memo_directory(const certmap_conn_t *cc,
                                   const certmap_dir_question_t *q,
                                   int timeout, apr_pool_t *p);
void certmap_memo_remember_directory(certmap_conn_t *cc, conn_rec *c,
                                     const certmap_dir_question_t *q,
                                     const char *account,
                                     const certmap_when_t *when);

/* ---- certmap_dump.c ---------------------------------------------------- */

/* test_config hook: `apachectl -t -D DUMP_CERTMAP`. */
void certmap_dump_config(apr_pool_t *p, server_rec *s);

/* ---- certmap_explain.c ------------------------------------------------- */

/* test_config hook behind `certmap explain CERTFILE`: with the environment
 * variable CERTMAP_EXPLAIN naming a certificate file, prints for every
 * scope with CertMap On the outcome for that certificate and why. */
void certmap_explain_config(apr_pool_t *p, server_rec *s);

/* ---- certmap_outcome.c ------------------------------------------------- */

/* Finishes a request with `outcome`: sets the note certmap-substatus and
 * the env CERTMAP_SUBSTATUS (and CERTMAP_USER, CERTMAP_MAPPING on success),
 * logs one line naming `reason` and the certificate, installs the IIS
 * error body unless an ErrorDocument is configured, and returns the HTTP
 * status for a hook to return (OK for CERTMAP_GRANTED). */
int certmap_finish(request_rec *r, certmap_outcome_e outcome,
                   const certmap_cert_t *cert,
                   const certmap_mapping_t *mapping, const char *user,
                   const char *reason);

/* The HTTP status of the refusal certmap_finish gave r (0: none), so
 * that a later hook can hold to it. */
int certmap_refusal_status(request_rec *r);

/* The CERTMAP_BODY filter and the insert_error_filter hook that give the
 * error body its content type (HTML, JSON or plain text). */
void certmap_outcome_register_hooks(apr_pool_t *p);

int certmap_outcome_status(certmap_outcome_e outcome);
int certmap_outcome_substatus(certmap_outcome_e outcome);
const char *certmap_outcome_text(certmap_outcome_e outcome);

/* ---- certmap_tls.c ----------------------------------------------------- */

/* Registers the mod_ssl optional hooks (init_server, pre_handshake) and
 * the request hooks that refuse requests on a connection whose client
 * certificate failed verification under CertMapInvalidCerts Report. */
void certmap_tls_register_hooks(apr_pool_t *p);

/* For the first authentication hook: the refusal status when r is the
 * ErrorDocument of a TLS-verification refusal (served as to a client
 * without a certificate) and its location wants an authenticated user;
 * 0 otherwise. */
int certmap_tls_refuse_authn(request_rec *r);

/* Whether the client certificate of r's connection verified: anything
 * else (a failure recorded on the connection, a verify error, mod_ssl's
 * GENEROUS or FAILED) never maps.  CERTMAP_GRANTED or the outcome, with
 * *reason set. */
certmap_outcome_e certmap_tls_verified(request_rec *r, certmap_conn_t *cc,
                                       const char **reason);

/* The contract's sub-status for an OpenSSL verify error (X509_V_ERR_*). */
certmap_outcome_e certmap_tls_classify(int err);

/* Verifies x509 (with the untrusted `chain`, may be NULL) against
 * `trust` as libssl verifies a client's certificate, `param` (may be
 * NULL) on top, with OpenSSL's own verification; every failed step is
 * looked at and the most serious kept (16 before 13 before 17);
 * no_crl_ok forgives a missing CRL.  CERTMAP_GRANTED, or the outcome with
 * *err the X509_V_ERR_* behind it. */
certmap_outcome_e certmap_tls_verify_with(X509_STORE *trust,
                                          const X509_VERIFY_PARAM *param,
                                          int no_crl_ok, X509 *x509,
                                          STACK_OF(X509) *chain, int *err);

/* The module's state for c, or NULL when c is not a mod_ssl connection.
 * On an HTTP/2 secondary connection, the state of its master. */
certmap_conn_t *certmap_conn_get(conn_rec *c);

/* Startup checks: warns about virtual hosts with CertMap but no
 * SSLVerifyClient. */
int certmap_tls_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s);

/* ---- certmap_secret.c -------------------------------------------------- */

/* Resolves a PASSWORD value: a literal, `file:PATH` (first line; relative
 * to ServerRoot) or `env:NAME`.  Returns NULL and sets *secret, or an
 * error text; warns (through cmd) about group/world-readable files. */
const char *certmap_secret_resolve(cmd_parms *cmd, const char *spec,
                                   const char **secret);

/* ---- certmap_cache.c --------------------------------------------------- */

/* CertMapLogonCache provider[:args] (server scope). */
const char *certmap_cache_set_provider(cmd_parms *cmd, void *dummy,
                                       const char *arg);
/* CertMapCacheSecret PASSWORD and CertMapCacheTimeout DURATION (main
 * server). */
const char *certmap_cache_set_secret(cmd_parms *cmd, void *dummy,
                                     const char *arg);
const char *certmap_cache_set_timeout(cmd_parms *cmd, void *dummy,
                                      const char *arg);
/* -D DUMP_CERTMAP: the main server's cache settings, never the secret. */
void certmap_cache_dump(const certmap_srv_conf_t *sc);
int certmap_cache_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp);
int certmap_cache_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s);
void certmap_cache_child_init(apr_pool_t *p, server_rec *s);

/* Was this logon (everything handed to PAM, and the certificate)
 * successful less than `max_age` seconds ago?  Any cache error answers
 * no.  On yes, *when (if not NULL) receives the time of that logon and
 * the entry's expiry. */
int certmap_cache_lookup(request_rec *r, const certmap_logon_t *l,
                         int max_age, certmap_when_t *when);

/* Remembers a successful logon for `timeout` seconds; errors are logged
 * and otherwise ignored (the next request logs on again). */
void certmap_cache_store(request_rec *r, const certmap_logon_t *l,
                         int timeout);

/* The same shared cache as a store of small records, for other users
 * (the directory mapping).  Keys are HMAC-SHA256 digests (under a key
 * from CertMapCacheSecret, or a random one) over a `kind` that keeps
 * users apart and length-prefixed fields; every record is authenticated
 * together with its key and expiry (certmap_cache.c). */
#define CERTMAP_CACHE_KEY_LEN      32
#define CERTMAP_CACHE_MAX_PAYLOAD  512

typedef struct certmap_cache_key certmap_cache_key_t;

/* NULL when the cache is not running; add and end accept NULL (and
 * fail), so a chain of calls needs one check at the end. */
certmap_cache_key_t *certmap_cache_key_begin(const char *kind);
int certmap_cache_key_add(certmap_cache_key_t *key, const void *data,
                          apr_size_t len);
int certmap_cache_key_end(certmap_cache_key_t *key,
                          unsigned char out[CERTMAP_CACHE_KEY_LEN]);

/* A record written less than max_age seconds ago: when it was written
 * and expires (when: NULL for none), and its payload (*payload_len: room
 * in, length out; both NULL for none).  Misses and errors answer 0. */
int certmap_cache_get(request_rec *r,
                      const unsigned char key[CERTMAP_CACHE_KEY_LEN],
                      int max_age, certmap_when_t *when,
                      unsigned char *payload, apr_size_t *payload_len);

/* Writes a record that expires after `timeout` seconds. */
void certmap_cache_put(request_rec *r,
                       const unsigned char key[CERTMAP_CACHE_KEY_LEN],
                       int timeout, const unsigned char *payload,
                       apr_size_t payload_len);

/* ---- certmap_logon_helper.c -------------------------------------------- */

/* CertMapLogonTimeout (dir) and CertMapLogonSlots (main server only). */
const char *certmap_logon_set_timeout(cmd_parms *cmd, void *dcv,
                                      const char *arg);
const char *certmap_logon_set_slots(cmd_parms *cmd, void *dummy,
                                    const char *arg);

/* Effective values, defaults resolved (10 s; 8 slots). */
int certmap_conf_logon_timeout(const certmap_dir_conf_t *dc);
int certmap_conf_logon_slots(const certmap_srv_conf_t *sc);

/* Starts the logon helper from httpd's parent (not in the first,
 * checking configuration pass). */
int certmap_logon_helper_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                     apr_pool_t *ptemp, server_rec *s);

/* One PAM logon, run by the logon helper: the result of certmap_pam_logon
 * there, or CERTMAP_PAM_ERROR (logged) when no answer came within
 * CertMapLogonTimeout or the helper could not be asked. */
certmap_pam_result_e certmap_logon_helper_logon(
    request_rec *r, const certmap_dir_conf_t *dc, const certmap_logon_t *l,
    int *pam_status, char *message, size_t message_len);

/* ---- certmap_status.c -------------------------------------------------- */

/* The counters mod_status shows (server-status, ?auto).  Each is one
 * relaxed atomic add in shared memory: call freely on the request path. */
typedef enum {
    CERTMAP_STAT_GRANTED = 0,       /* outcomes, one per (sub-)status */
    CERTMAP_STAT_403_4,
    CERTMAP_STAT_403_5,
    CERTMAP_STAT_403_7,
    CERTMAP_STAT_403_12,
    CERTMAP_STAT_403_13,
    CERTMAP_STAT_403_16,
    CERTMAP_STAT_403_17,
    CERTMAP_STAT_401_1,
    CERTMAP_STAT_500,
    CERTMAP_STAT_CACHE_HIT,         /* the shared cache (certmap_cache.c) */
    CERTMAP_STAT_CACHE_MISS,
    CERTMAP_STAT_CACHE_STORE,
    CERTMAP_STAT_CACHE_ERROR,
    CERTMAP_STAT_DIR_LOOKUP,        /* directory lookups (not cached) */
    CERTMAP_STAT_DIR_HIT,
    CERTMAP_STAT_DIR_MISS,
    CERTMAP_STAT_DIR_ERROR,
    CERTMAP_STAT_DIR_TIMEOUT,
    CERTMAP_STAT_DIR_RETRY,
    CERTMAP_STAT_PAM_LOGON,         /* PAM logons run (not remembered) */
    CERTMAP_STAT_PAM_REFUSED,
    CERTMAP_STAT_PAM_ERROR,
    CERTMAP_STAT_PAM_USEC,          /* their total time, microseconds */
    CERTMAP_STAT_COUNT
} certmap_stat_e;

/* Adds n to a counter (nothing before post_config made the segment). */
void certmap_status_count(certmap_stat_e stat, apr_uint64_t n);

/* Counts a request's outcome by its HTTP status and sub-status. */
void certmap_status_outcome(int status, int substatus);

/* A shared cache provider call by its status: a retrieve (store 0)
 * counts only when it failed (an error; certmap_cache_get counts the hit
 * or miss), a store (1) as a store or an error. */
void certmap_status_cache(apr_status_t rv, int store);

/* A PAM logon (its certmap_pam_result_e) that took `usec` microseconds. */
void certmap_status_pam(int result, apr_interval_time_t usec);

/* The shared memory (post_config) and mod_status's status_hook. */
int certmap_status_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s);
void certmap_status_register_hooks(apr_pool_t *p);

#endif /* CERTMAP_PRIVATE_H */
