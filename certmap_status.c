/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_status.c — the module's counters and its section of mod_status's
 * server-status page (and of `server-status?auto`).
 *
 * The counters live in one anonymous shared memory segment, created by the
 * parent in post_config before any child is forked: every child of a
 * generation adds to the same numbers.  Counting is one relaxed atomic add
 * on a 64-bit word, no lock, no system call: cheap enough to run on every
 * request.  A restart (graceful or not) starts a new segment from zero;
 * children of the old generation keep adding to the old one until they
 * exit.  Without the segment (post_config failed to create it, or a tool
 * that never runs post_config) counting does nothing.
 *
 * The section is written through mod_status's optional hook status_hook,
 * so nothing here needs mod_status to be loaded.
 */

#include "apr_strings.h"
#include "apr_shm.h"
#include "apr_atomic.h"
#include "apu.h"
#include "apr_optional_hooks.h"

#include "http_protocol.h"
#include "mod_status.h"

#include "certmap_private.h"
#include "certmap_pam.h"

/* What the counters are called: the ?auto key and the HTML label. */
static const struct {
    const char *key;
    const char *label;
} stat_names[CERTMAP_STAT_COUNT] = {
    [CERTMAP_STAT_GRANTED]    = { "Granted", "granted (mapped and logged on)" },
    [CERTMAP_STAT_403_4]      = { "403_4", "403.4 SSL required" },
    [CERTMAP_STAT_403_5]      = { "403_5", "403.5 SSL 128 required" },
    [CERTMAP_STAT_403_7]      = { "403_7", "403.7 client certificate required" },
    [CERTMAP_STAT_403_12]     = { "403_12", "403.12 mapper denied access" },
    [CERTMAP_STAT_403_13]     = { "403_13", "403.13 client certificate revoked" },
    [CERTMAP_STAT_403_16]     = { "403_16", "403.16 untrusted, invalid or "
                                            "not mapped" },
    [CERTMAP_STAT_403_17]     = { "403_17", "403.17 expired or not yet valid" },
    [CERTMAP_STAT_401_1]      = { "401_1", "401.1 logon failed" },
    [CERTMAP_STAT_500]        = { "500", "500 internal error" },
    [CERTMAP_STAT_CACHE_HIT]  = { "CacheHits", "hits" },
    [CERTMAP_STAT_CACHE_MISS] = { "CacheMisses", "misses" },
    [CERTMAP_STAT_CACHE_STORE] = { "CacheStores", "stores" },
    [CERTMAP_STAT_CACHE_ERROR] = { "CacheErrors", "errors" },
    [CERTMAP_STAT_DIR_LOOKUP] = { "DirectoryLookups", "lookups" },
    [CERTMAP_STAT_DIR_HIT]    = { "DirectoryHits", "hits (one entry found)" },
    [CERTMAP_STAT_DIR_MISS]   = { "DirectoryMisses", "misses (none, or "
                                                     "more than one)" },
    [CERTMAP_STAT_DIR_ERROR]  = { "DirectoryErrors", "errors (answered 500)" },
    [CERTMAP_STAT_DIR_TIMEOUT] = { "DirectoryTimeouts", "timeouts" },
    [CERTMAP_STAT_DIR_RETRY]  = { "DirectoryRetries", "dead connections "
                                                      "replaced and retried" },
    [CERTMAP_STAT_PAM_LOGON]  = { "PAMLogons", "logons run" },
    [CERTMAP_STAT_PAM_REFUSED] = { "PAMRefused", "refused (401.1)" },
    [CERTMAP_STAT_PAM_ERROR]  = { "PAMErrors", "failed (500)" },
    [CERTMAP_STAT_PAM_USEC]   = { "PAMMicroseconds", "total time" },
};

/* The segment: counters only.  Set in the parent's post_config, read-only
 * (the pointer) afterwards; children inherit it at fork. */
static apr_uint64_t *stat_counters;

static apr_status_t stat_cleanup(void *data)
{
    stat_counters = NULL;
    return APR_SUCCESS;
}

int certmap_status_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s)
{
    apr_size_t size = CERTMAP_STAT_COUNT * sizeof(apr_uint64_t);
    apr_shm_t *shm;
    apr_status_t rv;

    /* anonymous: only this parent and its children see it; destroyed with
     * pconf at restart, after the cleanup below forgot the address */
    rv = apr_shm_create(&shm, size, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, "CERTMAP300: cannot "
                     "create the shared memory of the status counters; "
                     "server-status shows none");
        return OK;      /* counters are not worth refusing to start */
    }
    stat_counters = apr_shm_baseaddr_get(shm);
    memset(stat_counters, 0, size);
    apr_pool_cleanup_register(pconf, NULL, stat_cleanup,
                              apr_pool_cleanup_null);
    return OK;
}

void certmap_status_count(certmap_stat_e stat, apr_uint64_t n)
{
    apr_uint64_t *c = stat_counters;

    if (!c || (unsigned)stat >= CERTMAP_STAT_COUNT) {
        return;
    }
#if defined(__GNUC__)
    /* lock-free on every platform httpd runs threads on, and valid across
     * processes (APR's generic fallback takes a per-process mutex) */
    __atomic_fetch_add(&c[stat], n, __ATOMIC_RELAXED);
#else
    apr_atomic_add64(&c[stat], n);
#endif
}

void certmap_status_outcome(int status, int substatus)
{
    certmap_stat_e stat;

    switch (status * 100 + substatus) {
    case OK * 100:                      stat = CERTMAP_STAT_GRANTED; break;
    case HTTP_FORBIDDEN * 100 + 4:      stat = CERTMAP_STAT_403_4; break;
    case HTTP_FORBIDDEN * 100 + 5:      stat = CERTMAP_STAT_403_5; break;
    case HTTP_FORBIDDEN * 100 + 7:      stat = CERTMAP_STAT_403_7; break;
    case HTTP_FORBIDDEN * 100 + 12:     stat = CERTMAP_STAT_403_12; break;
    case HTTP_FORBIDDEN * 100 + 13:     stat = CERTMAP_STAT_403_13; break;
    case HTTP_FORBIDDEN * 100 + 16:     stat = CERTMAP_STAT_403_16; break;
    case HTTP_FORBIDDEN * 100 + 17:     stat = CERTMAP_STAT_403_17; break;
    case HTTP_UNAUTHORIZED * 100 + 1:   stat = CERTMAP_STAT_401_1; break;
    default:                            stat = CERTMAP_STAT_500; break;
    }
    certmap_status_count(stat, 1);
}

void certmap_status_cache(apr_status_t rv, int store)
{
    if (rv != APR_SUCCESS && (store || rv != APR_NOTFOUND)) {
        certmap_status_count(CERTMAP_STAT_CACHE_ERROR, 1);
    }
    else if (store) {
        certmap_status_count(CERTMAP_STAT_CACHE_STORE, 1);
    }
}

void certmap_status_pam(int result, apr_interval_time_t usec)
{
    certmap_status_count(CERTMAP_STAT_PAM_LOGON, 1);
    certmap_status_count(CERTMAP_STAT_PAM_USEC,
                         usec > 0 ? (apr_uint64_t)usec : 0);
    if (result == CERTMAP_PAM_REFUSED) {
        certmap_status_count(CERTMAP_STAT_PAM_REFUSED, 1);
    }
    else if (result != CERTMAP_PAM_OK) {
        certmap_status_count(CERTMAP_STAT_PAM_ERROR, 1);
    }
}

static apr_uint64_t stat_get(certmap_stat_e stat)
{
#if defined(__GNUC__)
    return __atomic_load_n(&stat_counters[stat], __ATOMIC_RELAXED);
#else
    return apr_atomic_read64(&stat_counters[stat]);
#endif
}

/* The mean PAM time in milliseconds, 0 before the first logon. */
static double stat_pam_mean_ms(void)
{
    apr_uint64_t n = stat_get(CERTMAP_STAT_PAM_LOGON);

    return n ? (double)stat_get(CERTMAP_STAT_PAM_USEC) / (double)n / 1000.0
             : 0.0;
}

static void stat_rows(request_rec *r, int from, int to, int flags)
{
    int i;

    for (i = from; i <= to; i++) {
        if (flags & AP_STATUS_SHORT) {
            ap_rprintf(r, "CertMap%s: %" APR_UINT64_T_FMT "\n",
                       stat_names[i].key, stat_get(i));
        }
        else {
            ap_rprintf(r, "<tr><td>%s</td><td>%" APR_UINT64_T_FMT
                       "</td></tr>\n", stat_names[i].label, stat_get(i));
        }
    }
}

static void stat_group(request_rec *r, const char *title, int from, int to,
                       int flags)
{
    if (!(flags & AP_STATUS_SHORT)) {
        ap_rprintf(r, "<tr><th colspan=\"2\" align=\"left\">%s</th></tr>\n",
                   title);
    }
    stat_rows(r, from, to, flags);
}

static int certmap_status_hook(request_rec *r, int flags)
{
    if (!stat_counters) {
        return OK;
    }
    if (!(flags & AP_STATUS_SHORT)) {
        ap_rputs("<hr />\n<h2>mod_certmap</h2>\n<table border=\"0\">\n", r);
    }
    stat_group(r, "Requests by outcome", CERTMAP_STAT_GRANTED,
               CERTMAP_STAT_500, flags);
    stat_group(r, "Shared cache (logons and directory findings)",
               CERTMAP_STAT_CACHE_HIT, CERTMAP_STAT_CACHE_ERROR, flags);
    stat_group(r, "Directory", CERTMAP_STAT_DIR_LOOKUP,
               CERTMAP_STAT_DIR_RETRY, flags);
    /* the total time for machines; people get the mean */
    stat_group(r, "PAM", CERTMAP_STAT_PAM_LOGON, (flags & AP_STATUS_SHORT)
               ? CERTMAP_STAT_PAM_USEC : CERTMAP_STAT_PAM_ERROR, flags);
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "CertMapPAMMeanMilliseconds: %.3f\n",
                   stat_pam_mean_ms());
    }
    else {
        ap_rprintf(r, "<tr><td>mean time</td><td>%.3f ms</td></tr>\n"
                   "</table>\n", stat_pam_mean_ms());
    }
    return OK;
}

void certmap_status_register_hooks(apr_pool_t *p)
{
    APR_OPTIONAL_HOOK(ap, status_hook, certmap_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
