/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_cache.c — the cache shared by all children of httpd.
 *
 * Owns `CertMapLogonCache provider[:args]`, the socache instance behind it
 * (default: shmcb with its default size) and the global mutex that
 * serialises a provider that is not safe across processes/threads.  It
 * remembers successful PAM logons (and, for certmap_directory.c, the
 * accounts a directory search found); callers never store failures.
 *
 * One cache serves every virtual host: it belongs to the MAIN server's
 * certmap_srv_conf_t, whatever the vhost a request arrives on.
 *
 * What is stored: key = SHA-256(per-start random salt, service, account,
 * password or a "none" marker, remote host, SHA-256 of the certificate):
 * everything handed to PAM; value = the time the logon succeeded.  The salt never leaves process memory, so
 * the cache holds nothing from which a password could be recovered or
 * tested offline.  Any cache failure is a miss: the logon simply runs.
 */

#include <string.h>

#include "apr_strings.h"
#include "apr_global_mutex.h"

#include "ap_provider.h"
#include "ap_socache.h"
#include "http_core.h"
#include "http_log.h"
#include "util_mutex.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "certmap_private.h"

#define CERTMAP_CACHE_MUTEX     "certmap-logon-cache"
#define CERTMAP_CACHE_DEFAULT   "shmcb"
#define CERTMAP_CACHE_SALT_LEN  32

/* Everything the request path needs, set up in the parent's post_config
 * and only read afterwards.  A static is safe here: post_config and
 * child_init run before any request is served in that process, single
 * threaded; children inherit a copy at fork; a restart runs post_config
 * again in the parent only (which serves no requests) after the pconf
 * cleanups below have reset it, and new children get the new copy. */
typedef struct {
    server_rec *s;                  /* the main server */
    certmap_srv_conf_t *sc;         /* its config: provider and instance */
    apr_global_mutex_t *mutex;      /* NULL: provider is MT/MP safe */
    unsigned char salt[CERTMAP_CACHE_SALT_LEN];
    int ready;                      /* lookups and stores may run */
} certmap_cache_state_t;

static certmap_cache_state_t cache_state;

static certmap_srv_conf_t *srv_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &certmap_module);
}

/* ---- configuration --------------------------------------------------- */

const char *certmap_cache_set_provider(cmd_parms *cmd, void *dummy,
                                       const char *arg)
{
    certmap_srv_conf_t *sc = srv_conf(cmd->server);
    const ap_socache_provider_t *provider;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *sep = ap_strchr_c(arg, ':');
    const char *name = sep ? apr_pstrmemdup(cmd->temp_pool, arg, sep - arg)
                           : arg;

    if (err != NULL) {
        return err;
    }
    provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name,
                                  AP_SOCACHE_PROVIDER_VERSION);
    if (provider == NULL) {
        return apr_psprintf(cmd->pool, "%s: unknown socache provider '%s'; "
                            "is mod_socache_%s loaded (LoadModule "
                            "socache_%s_module)?", cmd->cmd->name, name,
                            name, name);
    }
    /* Parse the provider's arguments now so that a bad size or path stops
     * configtest at this line; resources are only taken in init. */
    err = provider->create(&sc->cache, sep ? sep + 1 : NULL,
                           cmd->temp_pool, cmd->pool);
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    sc->cache_spec = arg;
    sc->cache_provider = provider;
    return NULL;
}

int certmap_cache_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp)
{
    apr_status_t rv = ap_mutex_register(pconf, CERTMAP_CACHE_MUTEX, NULL,
                                        APR_LOCK_DEFAULT, 0);

    if (rv != APR_SUCCESS) {
        ap_log_perror(APLOG_MARK, APLOG_CRIT, rv, plog,
                      "CERTMAP020: cannot register the %s mutex",
                      CERTMAP_CACHE_MUTEX);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* ---- start-up ---------------------------------------------------------- */

static apr_status_t cache_cleanup(void *data)
{
    server_rec *s = data;

    /* Runs when pconf is cleared (stop, restart), in reverse order of
     * registration: the instance is destroyed before the mutex. */
    cache_state.ready = 0;
    if (cache_state.sc && cache_state.sc->cache) {
        cache_state.sc->cache_provider->destroy(cache_state.sc->cache, s);
        cache_state.sc->cache = NULL;
    }
    return APR_SUCCESS;
}

static apr_status_t mutex_cleanup(void *data)
{
    cache_state.ready = 0;
    if (cache_state.mutex) {
        apr_global_mutex_destroy(cache_state.mutex);
        cache_state.mutex = NULL;
    }
    return APR_SUCCESS;
}

/* Is CertMap switched on anywhere (or may it be, from .htaccess), or the
 * cache configured on purpose?  Otherwise the module is merely loaded and
 * no shared memory is taken. */
static int cache_wanted(server_rec *s)
{
    certmap_srv_conf_t *main_sc = srv_conf(s);
    server_rec *vs;

    if (main_sc && main_sc->cache_provider) {
        return 1;
    }
    for (vs = s; vs != NULL; vs = vs->next) {
        certmap_srv_conf_t *sc = srv_conf(vs);

        if (sc && (sc->certmap_used || sc->htaccess_auth)) {
            return 1;
        }
    }
    return 0;
}

/* Picks the default provider when none was configured.  Answers 0 (no
 * cache, logons still run) when mod_socache_shmcb is not loaded: the
 * cache is an optimisation, never a condition of correctness. */
static int default_provider(certmap_srv_conf_t *sc, server_rec *s,
                            apr_pool_t *pconf, apr_pool_t *ptemp)
{
    const char *err;

    sc->cache_provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP,
                                            CERTMAP_CACHE_DEFAULT,
                                            AP_SOCACHE_PROVIDER_VERSION);
    if (sc->cache_provider == NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "CERTMAP021: no logon cache: load mod_socache_shmcb "
                     "or set CertMapLogonCache; every request will run its "
                     "PAM logon");
        return 0;
    }
    /* No arguments: anonymous shared memory of shmcb's default size
     * (512 KiB, several thousand logons of ~100 bytes each). */
    err = sc->cache_provider->create(&sc->cache, NULL, ptemp, pconf);
    if (err != NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "CERTMAP022: no logon cache: %s", err);
        sc->cache_provider = NULL;
        return 0;
    }
    sc->cache_spec = CERTMAP_CACHE_DEFAULT;
    return 1;
}

static int create_mutex(server_rec *s, apr_pool_t *pconf)
{
    apr_status_t rv;

    if (!(cache_state.sc->cache_provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE)) {
        return OK;
    }
    rv = ap_global_mutex_create(&cache_state.mutex, NULL, CERTMAP_CACHE_MUTEX,
                                NULL, s, pconf, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "CERTMAP023: cannot create the %s mutex",
                     CERTMAP_CACHE_MUTEX);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(pconf, NULL, mutex_cleanup,
                              apr_pool_cleanup_null);
    return OK;
}

int certmap_cache_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    /* Entries are 32 byte keys and mostly 8 byte values (a directory
     * finding adds an account name); the interval is how often a provider
     * that needs it purges expired entries. */
    static const struct ap_socache_hints hints = {
        CERTMAP_CACHE_KEY_LEN, sizeof(apr_time_t), apr_time_from_sec(60)
    };
    certmap_srv_conf_t *sc = srv_conf(s);
    apr_status_t rv;
    int status;

    memset(&cache_state, 0, sizeof(cache_state));
    /* httpd runs post_config once to check the configuration before the
     * real start; shared memory taken then would only be thrown away. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if (sc == NULL || !cache_wanted(s)) {
        return OK;
    }
    if (sc->cache_provider == NULL && !default_provider(sc, s, pconf, ptemp)) {
        return OK;
    }
    if (RAND_bytes(cache_state.salt, sizeof(cache_state.salt)) != 1) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "CERTMAP024: no random salt for the logon cache; "
                     "running without it");
        return OK;
    }
    cache_state.s = s;
    cache_state.sc = sc;
    status = create_mutex(s, pconf);
    if (status != OK) {
        return status;
    }
    rv = sc->cache_provider->init(sc->cache, CERTMAP_CACHE_MUTEX, &hints, s,
                                  pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "CERTMAP025: cannot initialise the logon cache (%s)",
                     sc->cache_spec ? sc->cache_spec : CERTMAP_CACHE_DEFAULT);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(pconf, s, cache_cleanup, apr_pool_cleanup_null);
    cache_state.ready = 1;
    return OK;
}

void certmap_cache_child_init(apr_pool_t *p, server_rec *s)
{
    apr_status_t rv;

    if (!cache_state.ready || cache_state.mutex == NULL) {
        return;
    }
    rv = apr_global_mutex_child_init(&cache_state.mutex,
                                     apr_global_mutex_lockfile(cache_state.mutex),
                                     p);
    if (rv != APR_SUCCESS) {
        /* Without the mutex this child must not touch the cache. */
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "CERTMAP026: cannot attach the %s mutex in this child; "
                     "its logons will not be cached", CERTMAP_CACHE_MUTEX);
        cache_state.ready = 0;
    }
}

/* ---- request time ------------------------------------------------------ */

/* Feeds one length-prefixed field, so that ("ab","c") and ("a","bc")
 * never give the same key. */
static int digest_field(EVP_MD_CTX *ctx, const void *data, size_t len)
{
    unsigned char prefix[4];

    prefix[0] = (unsigned char)(len >> 24);
    prefix[1] = (unsigned char)(len >> 16);
    prefix[2] = (unsigned char)(len >> 8);
    prefix[3] = (unsigned char)len;
    return EVP_DigestUpdate(ctx, prefix, sizeof(prefix)) == 1
           && EVP_DigestUpdate(ctx, data, len) == 1;
}

/* ---- keys ---------------------------------------------------------------- */

certmap_cache_key_t *certmap_cache_key_begin(const char *kind)
{
    EVP_MD_CTX *ctx;

    if (!cache_state.ready || (ctx = EVP_MD_CTX_new()) == NULL) {
        return NULL;
    }
    /* The kind keeps the users of the cache (logons, directory findings)
     * apart; the salt keeps keys unguessable from outside the process. */
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1
        || !digest_field(ctx, cache_state.salt, sizeof(cache_state.salt))
        || !digest_field(ctx, kind, strlen(kind))) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return (certmap_cache_key_t *)ctx;
}

int certmap_cache_key_add(certmap_cache_key_t *key, const void *data,
                          apr_size_t len)
{
    return key && digest_field((EVP_MD_CTX *)key, data, len);
}

int certmap_cache_key_end(certmap_cache_key_t *key,
                          unsigned char out[CERTMAP_CACHE_KEY_LEN])
{
    EVP_MD_CTX *ctx = (EVP_MD_CTX *)key;
    unsigned int len = 0;
    int ok;

    if (!ctx) {
        return 0;
    }
    ok = EVP_DigestFinal_ex(ctx, out, &len) == 1
         && len == CERTMAP_CACHE_KEY_LEN;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* ---- records ------------------------------------------------------------- */

static int cache_lock(request_rec *r, int lock)
{
    apr_status_t rv;

    if (cache_state.mutex == NULL) {
        return 1;
    }
    rv = lock ? apr_global_mutex_lock(cache_state.mutex)
              : apr_global_mutex_unlock(cache_state.mutex);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "CERTMAP027: cannot %s "
                      "the shared cache", lock ? "lock" : "unlock");
        return 0;
    }
    return 1;
}

/* A record is the time it was written followed by the caller's payload. */
int certmap_cache_get(request_rec *r,
                      const unsigned char key[CERTMAP_CACHE_KEY_LEN],
                      int max_age, apr_time_t *written,
                      unsigned char *payload, apr_size_t *payload_len)
{
    unsigned char value[sizeof(apr_time_t) + CERTMAP_CACHE_MAX_PAYLOAD];
    unsigned int value_len = sizeof(value);
    apr_time_t stored, now;
    apr_status_t rv;

    if (!cache_state.ready || max_age <= 0 || !cache_lock(r, 1)) {
        return 0;
    }
    rv = cache_state.sc->cache_provider->retrieve(cache_state.sc->cache,
                                                  r->server, key,
                                                  CERTMAP_CACHE_KEY_LEN,
                                                  value, &value_len,
                                                  r->pool);
    cache_lock(r, 0);
    if (rv == APR_NOTFOUND) {
        return 0;
    }
    if (rv != APR_SUCCESS || value_len < sizeof(stored)
        || value_len - sizeof(stored) > (payload_len ? *payload_len : 0)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      "CERTMAP030: shared cache lookup failed");
        return 0;
    }
    memcpy(&stored, value, sizeof(stored));
    now = apr_time_now();
    /* A scope may trust an entry for less time than the one that stored
     * it; a store time in the future (clock stepped back) is no proof. */
    if (stored > now
        || now - stored >= apr_time_from_sec((apr_time_t)max_age)) {
        return 0;
    }
    if (payload_len) {
        *payload_len = value_len - sizeof(stored);
        memcpy(payload, value + sizeof(stored), *payload_len);
    }
    if (written) {
        *written = stored;
    }
    return 1;
}

void certmap_cache_put(request_rec *r,
                       const unsigned char key[CERTMAP_CACHE_KEY_LEN],
                       int timeout, const unsigned char *payload,
                       apr_size_t payload_len)
{
    unsigned char value[sizeof(apr_time_t) + CERTMAP_CACHE_MAX_PAYLOAD];
    apr_time_t now = apr_time_now();
    apr_status_t rv;

    if (!cache_state.ready || timeout <= 0
        || payload_len > CERTMAP_CACHE_MAX_PAYLOAD || !cache_lock(r, 1)) {
        return;
    }
    memcpy(value, &now, sizeof(now));
    if (payload_len) {
        memcpy(value + sizeof(now), payload, payload_len);
    }
    rv = cache_state.sc->cache_provider->store(cache_state.sc->cache,
                                               r->server, key,
                                               CERTMAP_CACHE_KEY_LEN,
                                               now + apr_time_from_sec(
                                                   (apr_time_t)timeout),
                                               value,
                                               (unsigned int)(sizeof(now)
                                                              + payload_len),
                                               r->pool);
    cache_lock(r, 0);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      "CERTMAP031: cannot write to the shared cache");
    }
}

/* ---- logons -------------------------------------------------------------- */

/* An optional field: present or absent must differ even when empty. */
static int logon_key_add_optional(certmap_cache_key_t *k, const char *v)
{
    static const unsigned char present = 1, absent = 0;

    if (!v) {
        return certmap_cache_key_add(k, &absent, 1);
    }
    return certmap_cache_key_add(k, &present, 1)
           && certmap_cache_key_add(k, v, strlen(v));
}

/* Key: everything handed to PAM (service, account, password, remote
 * host), so that a PAM policy on any of them is asked again whenever one
 * differs, and the certificate. */
static int logon_key(request_rec *r, const certmap_logon_t *l,
                     unsigned char key[CERTMAP_CACHE_KEY_LEN])
{
    certmap_cache_key_t *k;
    int ok;

    if (!cache_state.ready || !l->service || !l->account || !l->cert) {
        return 0;
    }
    k = certmap_cache_key_begin("logon");
    ok = certmap_cache_key_add(k, l->service, strlen(l->service))
         && certmap_cache_key_add(k, l->account, strlen(l->account))
         && logon_key_add_optional(k, l->password)
         && logon_key_add_optional(k, l->rhost)
         && certmap_cache_key_add(k, certmap_cert_sha256(l->cert),
                                  CERTMAP_SHA256_LEN);
    if (!certmap_cache_key_end(k, key) || !ok) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "CERTMAP029: cannot compute a logon cache key");
        return 0;
    }
    return 1;
}

int certmap_cache_lookup(request_rec *r, const certmap_logon_t *l,
                         int max_age, apr_time_t *logged_on)
{
    unsigned char key[CERTMAP_CACHE_KEY_LEN];

    return max_age > 0
           && logon_key(r, l, key)
           && certmap_cache_get(r, key, max_age, logged_on, NULL, NULL);
}

void certmap_cache_store(request_rec *r, const certmap_logon_t *l,
                         int timeout)
{
    unsigned char key[CERTMAP_CACHE_KEY_LEN];

    if (timeout > 0 && logon_key(r, l, key)) {
        certmap_cache_put(r, key, timeout, NULL, 0);
    }
}
