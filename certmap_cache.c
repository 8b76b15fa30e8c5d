/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_cache.c — the cache shared by all children of httpd, and by
 * every server of a farm that shares one cache server.
 *
 * Owns `CertMapLogonCache provider[:args]`, `CertMapCacheSecret PASSWORD`
 * and `CertMapCacheTimeout DURATION` (main server), the socache instance
 * (default: shmcb with its default size), the global mutex that serialises
 * a provider that is not safe across processes/threads, and the helper
 * threads that bound every wait on a provider that talks to a network
 * server (memcache, redis).  It remembers successful PAM logons (and, for
 * certmap_directory.c, the accounts a directory search found); callers
 * never store failures.
 *
 * One cache serves every virtual host: it belongs to the MAIN server's
 * certmap_srv_conf_t, whatever the vhost a request arrives on.
 *
 * Keys: HMAC-SHA256 under a key-naming key over a kind ("logon",
 * "directory") and length-prefixed fields (for a logon: service, account,
 * password or a "none" marker, remote host, SHA-256 of the certificate).
 * Records: version (1 byte) || written || expires (8 bytes each, big
 * endian microseconds since the epoch) || payload || tag, where tag =
 * HMAC-SHA256 under a second, record key, over the cache key followed by
 * everything before the tag.  Both keys come from CertMapCacheSecret
 * (every server sharing the secret names and checks entries alike, across
 * graceful restarts), or else from random bytes made once per httpd
 * parent (entries are this server's own).  Whoever can write to the cache
 * server can delete entries (a miss: the logon runs) but cannot forge,
 * move, alter or extend one: a record whose tag does not verify, or whose
 * expiry is past, or that was written longer ago than the asking scope
 * trusts, is a miss.  The cache holds nothing from which a password could
 * be recovered or tested offline without the secret.
 *
 * Bounded waits: a provider call on a network cache runs in one of a few
 * helper threads per process; the request waits at most
 * CertMapCacheTimeout for the answer, and a call that overran or failed
 * makes this process skip the cache for a back-off period (ten times the
 * bound): the cache is a miss at once then, and stores are dropped.  No
 * lock is held across a provider call.  Any cache failure is a miss: the
 * logon simply runs.
 */

#include <string.h>
#include <unistd.h>

#include "apr_atomic.h"
#include "apr_strings.h"
#include "apr_global_mutex.h"
#include "apr_thread_proc.h"
#include "apr_thread_mutex.h"
#include "apr_thread_cond.h"
#include "apr_file_info.h"

#include "ap_mpm.h"
#include "ap_provider.h"
#include "ap_socache.h"
#include "http_core.h"
#include "http_log.h"
#include "util_mutex.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "certmap_private.h"

#define CERTMAP_CACHE_MUTEX     "certmap-logon-cache"
#define CERTMAP_CACHE_DEFAULT   "shmcb"
#define CERTMAP_CACHE_MAC_KEY_LEN 32

/* The record layout (see the head comment). */
#define CERTMAP_RECORD_VERSION  1
#define CERTMAP_RECORD_HEAD     (1 + 8 + 8)
#define CERTMAP_RECORD_TAG_LEN  32
#define CERTMAP_RECORD_MIN      (CERTMAP_RECORD_HEAD + CERTMAP_RECORD_TAG_LEN)
#define CERTMAP_RECORD_MAX      (CERTMAP_RECORD_MIN + CERTMAP_CACHE_MAX_PAYLOAD)

/* How far ahead of this server's clock another server's write time may
 * be (farm clocks differ a little); an entry is never trusted longer than
 * this beyond its writer's timeout. */
#define CERTMAP_CACHE_CLOCK_SKEW  apr_time_from_sec(2)

/* CertMapCacheTimeout's range (its default is beside its getter). */
#define CERTMAP_CACHE_TIMEOUT_MIN      apr_time_from_msec(1)
#define CERTMAP_CACHE_TIMEOUT_MAX      apr_time_from_sec(60)

/* After a call that overran or failed, the process skips the cache for
 * this many times the bound (at least a second). */
#define CERTMAP_CACHE_BACKOFF_FACTOR   10

/* Helper threads per process for a network cache: one more than the
 * request threads under prefork (one may be stuck), at most this many;
 * and how many calls may wait for one, per helper. */
#define CERTMAP_CACHE_HELPERS_MAX      4
#define CERTMAP_CACHE_QUEUE_PER_HELPER 8

/* A failed authentication check is logged at most once per this many
 * seconds per process. */
#define CERTMAP_CACHE_WARN_INTERVAL    60

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
    EVP_MAC *hmac;                  /* HMAC, fetched once */
    EVP_MAC_CTX *key_mac;           /* keyed for cache keys (a template) */
    EVP_MAC_CTX *record_mac;        /* keyed for record tags (a template) */
    int remote;                     /* a network provider: use helpers */
    apr_interval_time_t wait;       /* CertMapCacheTimeout */
    int ready;                      /* lookups and stores may run */
} certmap_cache_state_t;

static certmap_cache_state_t cache_state;

/* The helper threads of one child process (a network cache only).  Set
 * up in child_init; the lock and conditions live in a pool that is never
 * destroyed, since a helper stuck in a provider call may outlive pchild. */
typedef struct certmap_cache_job certmap_cache_job_t;
struct certmap_cache_job {
    certmap_cache_job_t *next;
    int store;                      /* 1: store, 0: retrieve */
    int running;                    /* a helper took it */
    int done;                       /* the helper finished the call */
    int abandoned;                  /* nobody waits: the helper frees it */
    int stuck;                      /* counted in helpers->stuck */
    apr_status_t rv;
    unsigned char key[CERTMAP_CACHE_KEY_LEN];
    apr_time_t expiry;
    unsigned char value[CERTMAP_RECORD_MAX];
    unsigned int value_len;
};

typedef struct {
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *work;        /* helpers wait here for jobs */
    apr_thread_cond_t *done;        /* requests wait here for answers */
    certmap_cache_job_t *head, *tail;
    int queued;                     /* jobs no helper took yet */
    int helpers;                    /* helper threads running */
    int stuck;                      /* of them, in a call that overran */
    int stopping;
    apr_time_t skip_until;          /* back-off after an overrun/failure */
} certmap_cache_helpers_t;

static certmap_cache_helpers_t *helpers;

/* The last time (seconds) a failed check was logged by this process. */
static apr_uint32_t auth_warned_at;

static certmap_srv_conf_t *srv_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &certmap_module);
}

/* CertMapCacheTimeout: the longest a request waits on the cache. */
#define CERTMAP_CACHE_TIMEOUT_DEFAULT  apr_time_from_sec(1)

static apr_interval_time_t cache_timeout(const certmap_srv_conf_t *sc)
{
    return sc->cache_timeout > 0 ? sc->cache_timeout
                                 : CERTMAP_CACHE_TIMEOUT_DEFAULT;
}

static apr_interval_time_t cache_backoff(apr_interval_time_t wait)
{
    apr_interval_time_t b = wait * CERTMAP_CACHE_BACKOFF_FACTOR;

    return b < apr_time_from_sec(1) ? apr_time_from_sec(1) : b;
}

/* ---- configuration --------------------------------------------------- */

/* mod_socache_dbm opens (creates) its files in post_config, also at every
 * graceful restart: a missing directory there stops the server.  Say so
 * at this line instead, while the configuration is read. */
static const char *check_dbm_path(cmd_parms *cmd, const char *args)
{
    const char *path, *dir, *slash;
    apr_finfo_t finfo;
    apr_status_t rv;

    if (args == NULL || *args == '\0') {
        return NULL;            /* the provider's default, under the
                                   runtime directory */
    }
    path = ap_server_root_relative(cmd->temp_pool, args);
    if (path == NULL) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool,
                                 "invalid dbm path '%s'", args));
    }
    slash = strrchr(path, '/');
    dir = (slash == NULL) ? "."
          : (slash == path) ? "/"
          : apr_pstrmemdup(cmd->temp_pool, path, slash - path);
    rv = apr_stat(&finfo, dir, APR_FINFO_TYPE, cmd->temp_pool);
    if (rv != APR_SUCCESS) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool,
                                 "directory %s of the dbm cache %s: %pm",
                                 dir, path, &rv));
    }
    if (finfo.filetype != APR_DIR) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool,
                                 "%s (of the dbm cache %s) is not a "
                                 "directory", dir, path));
    }
    /* The server creates the files as the user it starts as (root chowns
     * them to User afterwards): that user must be able to write here. */
    if (access(dir, W_OK | X_OK) != 0) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool,
                                 "directory %s of the dbm cache %s is not "
                                 "writable by this user", dir, path));
    }
    return NULL;
}

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
    if (strcasecmp(name, "dbm") == 0
        && (err = check_dbm_path(cmd, sep ? sep + 1 : NULL)) != NULL) {
        return err;
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

const char *certmap_cache_set_secret(cmd_parms *cmd, void *dummy,
                                     const char *arg)
{
    certmap_srv_conf_t *sc = srv_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *secret;

    if (err != NULL) {
        return err;
    }
    err = certmap_secret_resolve(cmd, arg, &secret);
    if (err != NULL) {
        return certmap_cmd_error(cmd, err);
    }
    if (strlen(secret) < 16) {
        /* Accepted, but said out loud; the line names neither the secret
         * nor its length. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server,
                     "CERTMAP254: %s:%d: CertMapCacheSecret is short; "
                     "anyone who guesses it can forge cache entries: use "
                     "32 random bytes (openssl rand -base64 32) in a "
                     "file:PATH",
                     cmd->directive ? cmd->directive->filename : "?",
                     cmd->directive ? cmd->directive->line_num : 0);
    }
    sc->cache_secret = secret;
    return NULL;
}

const char *certmap_cache_set_timeout(cmd_parms *cmd, void *dummy,
                                      const char *arg)
{
    certmap_srv_conf_t *sc = srv_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_interval_time_t t;

    if (err != NULL) {
        return err;
    }
    if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS
        || t < CERTMAP_CACHE_TIMEOUT_MIN || t > CERTMAP_CACHE_TIMEOUT_MAX) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool,
                                 "'%s' is not a duration from 1ms to 60 "
                                 "seconds (say 1, 500ms)", arg));
    }
    sc->cache_timeout = t;
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

/* ---- keys of the cache --------------------------------------------------- */

/* A template context: HMAC-SHA256 keyed with key[len]. */
static EVP_MAC_CTX *mac_template(const unsigned char *key, size_t len)
{
    OSSL_PARAM params[2];
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(cache_state.hmac);

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (ctx == NULL || EVP_MAC_init(ctx, key, len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* out = HMAC-SHA256(key, label), for deriving the two keys. */
static int derive(const unsigned char *key, size_t key_len,
                  const char *label, unsigned char out[CERTMAP_CACHE_MAC_KEY_LEN])
{
    EVP_MAC_CTX *ctx = mac_template(key, key_len);
    size_t len = 0;
    int ok = ctx != NULL
             && EVP_MAC_update(ctx, (const unsigned char *)label,
                               strlen(label)) == 1
             && EVP_MAC_final(ctx, out, &len,
                              CERTMAP_CACHE_MAC_KEY_LEN) == 1
             && len == CERTMAP_CACHE_MAC_KEY_LEN;

    EVP_MAC_CTX_free(ctx);
    return ok;
}

/* Random key material made once per httpd parent and kept in the process
 * pool, so that a graceful restart keeps this server's own entries. */
#define CERTMAP_CACHE_RANDOM_KEY "certmap-cache-random-key"

static const unsigned char *random_root_key(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    void *data = NULL;
    unsigned char *key;

    apr_pool_userdata_get(&data, CERTMAP_CACHE_RANDOM_KEY, pp);
    if (data != NULL) {
        return data;
    }
    key = apr_palloc(pp, CERTMAP_CACHE_MAC_KEY_LEN);
    if (RAND_bytes(key, CERTMAP_CACHE_MAC_KEY_LEN) != 1) {
        return NULL;
    }
    apr_pool_userdata_set(key, CERTMAP_CACHE_RANDOM_KEY,
                          apr_pool_cleanup_null, pp);
    return key;
}

static apr_status_t keys_cleanup(void *data)
{
    EVP_MAC_CTX_free(cache_state.key_mac);
    EVP_MAC_CTX_free(cache_state.record_mac);
    EVP_MAC_free(cache_state.hmac);
    cache_state.key_mac = cache_state.record_mac = NULL;
    cache_state.hmac = NULL;
    return APR_SUCCESS;
}

/* The key-naming and record keys, from CertMapCacheSecret or from this
 * parent's random bytes. */
static int make_keys(server_rec *s, certmap_srv_conf_t *sc,
                     apr_pool_t *pconf)
{
    unsigned char k_key[CERTMAP_CACHE_MAC_KEY_LEN];
    unsigned char k_rec[CERTMAP_CACHE_MAC_KEY_LEN];
    const unsigned char *root;
    size_t root_len;
    int ok;

    cache_state.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    apr_pool_cleanup_register(pconf, NULL, keys_cleanup,
                              apr_pool_cleanup_null);
    if (cache_state.hmac == NULL) {
        return 0;
    }
    if (sc->cache_secret) {
        root = (const unsigned char *)sc->cache_secret;
        root_len = strlen(sc->cache_secret);
    }
    else {
        root = random_root_key(s);
        root_len = CERTMAP_CACHE_MAC_KEY_LEN;
        if (root == NULL) {
            return 0;
        }
    }
    ok = derive(root, root_len, "mod_certmap cache key names v1", k_key)
         && derive(root, root_len, "mod_certmap cache records v1", k_rec)
         && (cache_state.key_mac = mac_template(k_key, sizeof(k_key)))
         && (cache_state.record_mac = mac_template(k_rec, sizeof(k_rec)));
    OPENSSL_cleanse(k_key, sizeof(k_key));
    OPENSSL_cleanse(k_rec, sizeof(k_rec));
    return ok;
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

/* Providers that keep their data on this machine (shared memory, a file)
 * answer at once; any other one talks to a server that may not. */
static int provider_is_remote(const char *spec)
{
    static const char *const local[] = { "shmcb", "dbm", NULL };
    apr_size_t len = strcspn(spec, ":");
    int i;

    for (i = 0; local[i]; i++) {
        if (strlen(local[i]) == len && strncasecmp(spec, local[i], len) == 0) {
            return 0;
        }
    }
    return 1;
}

int certmap_cache_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    /* Entries are 32 byte keys and records of a 17 byte head, a payload
     * (empty for a logon, an account name for a directory finding) and a
     * 32 byte tag; the interval is how often a provider that needs it
     * purges expired entries. */
    static const struct ap_socache_hints hints = {
        CERTMAP_CACHE_KEY_LEN, CERTMAP_RECORD_MIN, apr_time_from_sec(60)
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
    if (!make_keys(s, sc, pconf)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "CERTMAP024: cannot make the logon cache's keys; "
                     "running without the cache");
        return OK;
    }
    cache_state.s = s;
    cache_state.sc = sc;
    cache_state.remote = provider_is_remote(sc->cache_spec);
    cache_state.wait = cache_timeout(sc);
    /* Any store but this server's own shared memory may be shared. */
    if (strcasecmp(sc->cache_spec, CERTMAP_CACHE_DEFAULT) != 0
        && strncasecmp(sc->cache_spec, CERTMAP_CACHE_DEFAULT ":",
                       sizeof(CERTMAP_CACHE_DEFAULT)) != 0
        && !sc->cache_secret) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "CERTMAP251: CertMapLogonCache %s without "
                     "CertMapCacheSecret: entries are keyed under a random "
                     "key of this server's own, so no other server sharing "
                     "the cache will find them", sc->cache_spec);
    }
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

/* ---- helper threads (a network cache) ------------------------------------ */

static void helper_backoff(const char *why, apr_status_t rv, apr_time_t took)
{
    /* Called with helpers->lock held.  One line per back-off period. */
    apr_time_t now = apr_time_now();

    if (now < helpers->skip_until) {
        return;
    }
    helpers->skip_until = now + cache_backoff(cache_state.wait);
    ap_log_error(APLOG_MARK, APLOG_WARNING, rv, cache_state.s,
                 "CERTMAP252: shared cache %s %s (after %" APR_TIME_T_FMT
                 " ms; bound %" APR_TIME_T_FMT " ms): treated as a miss, "
                 "and this process skips the cache for %" APR_TIME_T_FMT
                 " s", cache_state.sc->cache_spec, why, apr_time_as_msec(took),
                 apr_time_as_msec(cache_state.wait),
                 apr_time_sec(cache_backoff(cache_state.wait)));
}

/* One provider call, without any lock held. */
static apr_status_t provider_call(server_rec *s, certmap_cache_job_t *job,
                                  apr_pool_t *p)
{
    const ap_socache_provider_t *prov = cache_state.sc->cache_provider;
    ap_socache_instance_t *inst = cache_state.sc->cache;

    if (job->store) {
        return prov->store(inst, s, job->key, CERTMAP_CACHE_KEY_LEN,
                           job->expiry, job->value, job->value_len, p);
    }
    job->value_len = sizeof(job->value);
    return prov->retrieve(inst, s, job->key, CERTMAP_CACHE_KEY_LEN,
                          job->value, &job->value_len, p);
}

static void *APR_THREAD_FUNC helper_main(apr_thread_t *thd, void *data)
{
    certmap_cache_helpers_t *h = data;
    apr_pool_t *p = NULL;

    /* A pool of the thread's own, with its own allocator: nothing here is
     * shared with another thread. */
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        apr_thread_mutex_lock(h->lock);
        h->helpers--;               /* counted when started */
        apr_thread_mutex_unlock(h->lock);
        return NULL;
    }
    apr_thread_mutex_lock(h->lock);
    for (;;) {
        certmap_cache_job_t *job;
        apr_time_t start, took;

        while (h->head == NULL && !h->stopping) {
            apr_thread_cond_wait(h->work, h->lock);
        }
        if (h->stopping) {
            break;
        }
        job = h->head;
        h->head = job->next;
        if (h->head == NULL) {
            h->tail = NULL;
        }
        h->queued--;
        if (job->abandoned && !job->store) {
            free(job);              /* its request gave up before we ran */
            continue;
        }
        job->running = 1;
        apr_thread_mutex_unlock(h->lock);

        start = apr_time_now();
        job->rv = provider_call(cache_state.s, job, p);
        took = apr_time_now() - start;
        apr_pool_clear(p);

        apr_thread_mutex_lock(h->lock);
        if (took > cache_state.wait) {
            helper_backoff("did not answer in time", job->rv, took);
        }
        else if (job->rv != APR_SUCCESS && job->rv != APR_NOTFOUND) {
            helper_backoff(job->store ? "store failed" : "lookup failed",
                           job->rv, took);
        }
        if (job->stuck) {
            h->stuck--;
        }
        if (job->abandoned) {
            free(job);
        }
        else {
            job->done = 1;
            apr_thread_cond_broadcast(h->done);
        }
    }
    apr_thread_mutex_unlock(h->lock);
    apr_pool_destroy(p);
    return NULL;
}

static apr_status_t helpers_stop(void *data)
{
    certmap_cache_helpers_t *h = data;

    /* Idle helpers leave; one stuck in a call leaves when it returns (or
     * dies with the process).  Its lock and conditions are never freed. */
    apr_thread_mutex_lock(h->lock);
    h->stopping = 1;
    apr_thread_cond_broadcast(h->work);
    apr_thread_cond_broadcast(h->done);
    apr_thread_mutex_unlock(h->lock);
    return APR_SUCCESS;
}

static int helpers_start(apr_pool_t *pchild, server_rec *s)
{
    apr_pool_t *p = NULL;
    apr_threadattr_t *attr;
    certmap_cache_helpers_t *h;
    int threads = 0, n, i, started = 0;

    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    n = threads < CERTMAP_CACHE_HELPERS_MAX ? threads + 1
                                            : CERTMAP_CACHE_HELPERS_MAX;
    if (n < 2) {
        n = 2;
    }
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        return 0;
    }
    h = apr_pcalloc(p, sizeof(*h));
    if (apr_thread_mutex_create(&h->lock, APR_THREAD_MUTEX_DEFAULT, p)
            != APR_SUCCESS
        || apr_thread_cond_create(&h->work, p) != APR_SUCCESS
        || apr_thread_cond_create(&h->done, p) != APR_SUCCESS
        || apr_threadattr_create(&attr, p) != APR_SUCCESS
        || apr_threadattr_detach_set(attr, 1) != APR_SUCCESS) {
        return 0;
    }
    /* Counted before they run: a job queued before a helper first waits
     * is found by its loop, never lost. */
    h->helpers = n;
    for (i = 0; i < n; i++) {
        apr_thread_t *thd;

        if (apr_thread_create(&thd, attr, helper_main, h, p) == APR_SUCCESS) {
            started++;
        }
    }
    if (started == 0) {
        return 0;
    }
    apr_thread_mutex_lock(h->lock);
    h->helpers -= n - started;
    apr_thread_mutex_unlock(h->lock);
    helpers = h;
    apr_pool_cleanup_register(pchild, h, helpers_stop, apr_pool_cleanup_null);
    return 1;
}

/* A provider call bounded by CertMapCacheTimeout.  A retrieve waits for
 * its answer (copied to *value); a store does not wait at all.  Answers
 * APR_EAGAIN without waiting while the process backs off, when every
 * helper is stuck in a call that overran, or when the queue is full. */
static apr_status_t helper_call(request_rec *r, int store,
                                const unsigned char *key,
                                apr_time_t expiry, unsigned char *value,
                                unsigned int *value_len)
{
    certmap_cache_helpers_t *h = helpers;
    certmap_cache_job_t *job;
    apr_time_t now = apr_time_now(), deadline;
    apr_status_t rv;

    apr_thread_mutex_lock(h->lock);
    if (h->stopping || now < h->skip_until || h->stuck >= h->helpers
        || h->queued >= h->helpers * CERTMAP_CACHE_QUEUE_PER_HELPER) {
        apr_thread_mutex_unlock(h->lock);
        return APR_EAGAIN;
    }
    job = calloc(1, sizeof(*job));
    if (job == NULL) {
        apr_thread_mutex_unlock(h->lock);
        return APR_ENOMEM;
    }
    job->store = store;
    job->abandoned = store;         /* nobody waits for a store */
    memcpy(job->key, key, CERTMAP_CACHE_KEY_LEN);
    job->expiry = expiry;
    if (store) {
        memcpy(job->value, value, *value_len);
        job->value_len = *value_len;
    }
    if (h->tail) {
        h->tail->next = job;
    }
    else {
        h->head = job;
    }
    h->tail = job;
    h->queued++;
    apr_thread_cond_signal(h->work);
    if (store) {
        apr_thread_mutex_unlock(h->lock);
        return APR_SUCCESS;
    }

    deadline = now + cache_state.wait;
    while (!job->done && !h->stopping && (now = apr_time_now()) < deadline) {
        apr_thread_cond_timedwait(h->done, h->lock, deadline - now);
    }
    if (!job->done) {
        /* The helper frees it when (if ever) the call returns; until then
         * it does not count as a helper that can answer. */
        job->abandoned = 1;
        if (job->running) {
            job->stuck = 1;
            h->stuck++;
        }
        if (!h->stopping) {
            helper_backoff("did not answer in time", APR_TIMEUP,
                           apr_time_now() - (deadline - cache_state.wait));
        }
        apr_thread_mutex_unlock(h->lock);
        return APR_TIMEUP;
    }
    rv = job->rv;
    if (rv == APR_SUCCESS) {
        if (job->value_len > *value_len) {
            rv = APR_ENOSPC;
        }
        else {
            memcpy(value, job->value, job->value_len);
            *value_len = job->value_len;
        }
    }
    free(job);
    apr_thread_mutex_unlock(h->lock);
    return rv;
}

void certmap_cache_child_init(apr_pool_t *p, server_rec *s)
{
    apr_status_t rv;

    if (!cache_state.ready) {
        return;
    }
    if (cache_state.remote && !helpers_start(p, s)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "CERTMAP253: cannot start the logon cache's helper "
                     "threads in this child; its logons will not be "
                     "cached");
        cache_state.ready = 0;
        return;
    }
    if (cache_state.mutex == NULL) {
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
static int mac_field(EVP_MAC_CTX *ctx, const void *data, size_t len)
{
    unsigned char prefix[4];

    prefix[0] = (unsigned char)(len >> 24);
    prefix[1] = (unsigned char)(len >> 16);
    prefix[2] = (unsigned char)(len >> 8);
    prefix[3] = (unsigned char)len;
    return EVP_MAC_update(ctx, prefix, sizeof(prefix)) == 1
           && (len == 0 || EVP_MAC_update(ctx, data, len) == 1);
}

/* ---- keys ---------------------------------------------------------------- */

certmap_cache_key_t *certmap_cache_key_begin(const char *kind)
{
    EVP_MAC_CTX *ctx;

    if (!cache_state.ready
        || (ctx = EVP_MAC_CTX_dup(cache_state.key_mac)) == NULL) {
        return NULL;
    }
    /* The kind keeps the users of the cache (logons, directory findings)
     * apart; the key keeps keys unguessable without the secret. */
    if (!mac_field(ctx, kind, strlen(kind))) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return (certmap_cache_key_t *)ctx;
}

int certmap_cache_key_add(certmap_cache_key_t *key, const void *data,
                          apr_size_t len)
{
    return key && mac_field((EVP_MAC_CTX *)key, data, len);
}

int certmap_cache_key_end(certmap_cache_key_t *key,
                          unsigned char out[CERTMAP_CACHE_KEY_LEN])
{
    EVP_MAC_CTX *ctx = (EVP_MAC_CTX *)key;
    size_t len = 0;
    int ok;

    if (!ctx) {
        return 0;
    }
    ok = EVP_MAC_final(ctx, out, &len, CERTMAP_CACHE_KEY_LEN) == 1
         && len == CERTMAP_CACHE_KEY_LEN;
    EVP_MAC_CTX_free(ctx);
    return ok;
}

/* ---- records ------------------------------------------------------------- */

static void put_time(unsigned char *b, apr_time_t t)
{
    apr_uint64_t v = (apr_uint64_t)t;
    int i;

    for (i = 7; i >= 0; i--) {
        b[i] = (unsigned char)v;
        v >>= 8;
    }
}

static apr_time_t get_time(const unsigned char *b)
{
    apr_uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++) {
        v = (v << 8) | b[i];
    }
    return (apr_time_t)v;
}

/* tag = HMAC(record key, cache key || record[0, len)). */
static int record_tag(const unsigned char key[CERTMAP_CACHE_KEY_LEN],
                      const unsigned char *record, apr_size_t len,
                      unsigned char tag[CERTMAP_RECORD_TAG_LEN])
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(cache_state.record_mac);
    size_t out = 0;
    int ok = ctx != NULL
             && EVP_MAC_update(ctx, key, CERTMAP_CACHE_KEY_LEN) == 1
             && EVP_MAC_update(ctx, record, len) == 1
             && EVP_MAC_final(ctx, tag, &out, CERTMAP_RECORD_TAG_LEN) == 1
             && out == CERTMAP_RECORD_TAG_LEN;

    EVP_MAC_CTX_free(ctx);
    return ok;
}

/* A record that fails its check: a miss, and a warning now and then
 * (at most once a minute per process, never per request). */
static void warn_unauthentic(request_rec *r, const char *why)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t last = apr_atomic_read32(&auth_warned_at);

    certmap_status_cache(APR_EGENERAL, 0);
    if (last != 0 && now - last < CERTMAP_CACHE_WARN_INTERVAL) {
        return;
    }
    if (apr_atomic_cas32(&auth_warned_at, now, last) != last) {
        return;                     /* another thread just logged */
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "CERTMAP250: a shared cache entry %s: treated as a miss "
                  "(written without this server's CertMapCacheSecret, or "
                  "altered, moved or extended by someone with access to "
                  "the cache; logged at most once a minute)", why);
}

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

/* One provider call: through a helper (bounded) for a network cache,
 * directly under the mutex (if any) for a local one. */
static apr_status_t cache_call(request_rec *r, int store,
                               const unsigned char *key, apr_time_t expiry,
                               unsigned char *value, unsigned int *value_len)
{
    const ap_socache_provider_t *prov = cache_state.sc->cache_provider;
    apr_status_t rv;

    if (cache_state.remote) {
        return helpers ? helper_call(r, store, key, expiry, value, value_len)
                       : APR_EAGAIN;
    }
    if (!cache_lock(r, 1)) {
        return APR_EGENERAL;
    }
    if (store) {
        rv = prov->store(cache_state.sc->cache, r->server, key,
                         CERTMAP_CACHE_KEY_LEN, expiry, value, *value_len,
                         r->pool);
    }
    else {
        rv = prov->retrieve(cache_state.sc->cache, r->server, key,
                            CERTMAP_CACHE_KEY_LEN, value, value_len,
                            r->pool);
    }
    cache_lock(r, 0);
    return rv;
}

static int cache_get(request_rec *r,
                     const unsigned char key[CERTMAP_CACHE_KEY_LEN],
                     int max_age, certmap_when_t *when,
                     unsigned char *payload, apr_size_t *payload_len)
{
    unsigned char value[CERTMAP_RECORD_MAX];
    unsigned char tag[CERTMAP_RECORD_TAG_LEN];
    unsigned int value_len = sizeof(value);
    apr_size_t body, plen;
    apr_time_t stored, expires, now;
    apr_status_t rv;

    if (!cache_state.ready || max_age <= 0) {
        return 0;
    }
    rv = cache_call(r, 0, key, 0, value, &value_len);
    certmap_status_cache(rv, 0);
    if (rv == APR_NOTFOUND || rv == APR_EAGAIN || rv == APR_TIMEUP) {
        return 0;                   /* a miss; an overrun was logged */
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                      "CERTMAP030: shared cache lookup failed");
        return 0;
    }
    if (value_len < CERTMAP_RECORD_MIN || value[0] != CERTMAP_RECORD_VERSION) {
        warn_unauthentic(r, "is not a record of this module");
        return 0;
    }
    body = value_len - CERTMAP_RECORD_TAG_LEN;
    if (!record_tag(key, value, body, tag)
        || CRYPTO_memcmp(tag, value + body, sizeof(tag)) != 0) {
        warn_unauthentic(r, "failed its authentication check");
        return 0;
    }
    /* Authentic: now the times the writer put in it. */
    stored = get_time(value + 1);
    expires = get_time(value + 9);
    plen = body - CERTMAP_RECORD_HEAD;
    now = apr_time_now();
    /* A scope may trust an entry for less time than the one that stored
     * it; a store time in the future (beyond a farm's clock skew) is no
     * proof. */
    if (now >= expires || stored > now + CERTMAP_CACHE_CLOCK_SKEW
        || now - stored >= apr_time_from_sec((apr_time_t)max_age)) {
        return 0;
    }
    if (plen > (payload_len ? *payload_len : 0)) {
        return 0;                   /* not the kind of record asked for */
    }
    if (payload_len) {
        *payload_len = plen;
        memcpy(payload, value + CERTMAP_RECORD_HEAD, plen);
    }
    if (when) {
        when->decided = stored;
        when->expires = expires;
    }
    return 1;
}

/* The status counters see every lookup as a hit or a miss (errors, counted
 * where they happen, are misses too). */
int certmap_cache_get(request_rec *r,
                      const unsigned char key[CERTMAP_CACHE_KEY_LEN],
                      int max_age, certmap_when_t *when,
                      unsigned char *payload, apr_size_t *payload_len)
{
    int hit = cache_get(r, key, max_age, when, payload, payload_len);

    certmap_status_count(hit ? CERTMAP_STAT_CACHE_HIT
                             : CERTMAP_STAT_CACHE_MISS, 1);
    return hit;
}

void certmap_cache_put(request_rec *r,
                       const unsigned char key[CERTMAP_CACHE_KEY_LEN],
                       int timeout, const unsigned char *payload,
                       apr_size_t payload_len)
{
    unsigned char value[CERTMAP_RECORD_MAX];
    certmap_when_t when = certmap_when_now(timeout);
    apr_size_t body = CERTMAP_RECORD_HEAD + payload_len;
    unsigned int value_len = (unsigned int)(body + CERTMAP_RECORD_TAG_LEN);
    apr_status_t rv;

    if (!cache_state.ready || timeout <= 0
        || payload_len > CERTMAP_CACHE_MAX_PAYLOAD) {
        return;
    }
    value[0] = CERTMAP_RECORD_VERSION;
    put_time(value + 1, when.decided);
    put_time(value + 9, when.expires);
    if (payload_len) {
        memcpy(value + CERTMAP_RECORD_HEAD, payload, payload_len);
    }
    if (!record_tag(key, value, body, value + body)) {
        return;
    }
    rv = cache_call(r, 1, key, when.expires, value, &value_len);
    certmap_status_cache(rv, 1);
    if (rv != APR_SUCCESS && rv != APR_EAGAIN) {
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
                         int max_age, certmap_when_t *when)
{
    unsigned char key[CERTMAP_CACHE_KEY_LEN];

    return max_age > 0
           && logon_key(r, l, key)
           && certmap_cache_get(r, key, max_age, when, NULL, NULL);
}

void certmap_cache_store(request_rec *r, const certmap_logon_t *l,
                         int timeout)
{
    unsigned char key[CERTMAP_CACHE_KEY_LEN];

    if (timeout > 0 && logon_key(r, l, key)) {
        certmap_cache_put(r, key, timeout, NULL, 0);
    }
}

/* ---- -D DUMP_CERTMAP ------------------------------------------------------ */

void certmap_cache_dump(const certmap_srv_conf_t *sc)
{
    /* The secret itself never: only whether one is set. */
    printf("  logon cache %s; CertMapCacheSecret %s; CertMapCacheTimeout "
           "%" APR_TIME_T_FMT "ms\n",
           sc->cache_spec ? sc->cache_spec : CERTMAP_CACHE_DEFAULT,
           sc->cache_secret ? "***" : "(none: a random key of this server's "
           "own)", apr_time_as_msec(cache_timeout(sc)));
}
