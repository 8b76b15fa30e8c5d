/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_memo.c — what a connection remembers between its requests: the
 * mapping its certificate matched in a scope, and the PAM logon that
 * followed.  A keep-alive connection then maps and logs on once instead
 * of on every request; the shared logon cache (certmap_cache.c) serves
 * new connections.
 *
 * The memo is only ever read by the thread serving the connection, and it
 * hits only when everything that decided the remembered answer is equal
 * by value:
 *  - the certificate, by the SHA-256 of its DER (never its address: a
 *    renegotiated certificate may be allocated where a freed one was);
 *  - the scope's tables, by the identities configuration gave them at
 *    start-up.  Tables read from .htaccess have none (they are parsed
 *    anew for every request, often into the very memory the previous
 *    request's tables were freed from), so a scope with one is never
 *    remembered;
 *  - the enable flags;
 *  - for the logon, everything handed to PAM: service, account, password
 *    and remote host, kept as copies in the memo's own pool.
 * What matched is kept as a position in the tables, not as a pointer into
 * configuration.  A remembered logon expires with the asking scope's
 * CertMapLogonCacheTimeout counted from the real logon.
 *
 * The directory's last finding is remembered the same way: the whole
 * question its shared-cache key is made of (URL, bind DN and password,
 * mapping attribute, methods, certificate) as copies, and the account;
 * it expires with the asking scope's CertMapDirectoryCacheTimeout counted
 * from when the directory answered, and a scope with timeout 0 never
 * uses it.  A logon or finding read from the shared cache also keeps
 * that entry's expiry (its writer's timeout): nothing remembered here
 * outlives the entry it came from.  What is handed out is a copy in the
 * caller's pool: the memo's pools are cleared by the next logon or
 * finding, which a subrequest or redirect of the same request may make.
 */

#include "apr_strings.h"

#include "certmap_private.h"

void certmap_memo_reset(certmap_conn_t *cc)
{
    apr_pool_t *pool = cc->memo.pool, *dir_pool = cc->memo.dir_pool;

    if (pool) {
        apr_pool_clear(pool);
    }
    if (dir_pool) {
        apr_pool_clear(dir_pool);
    }
    memset(&cc->memo, 0, sizeof(cc->memo));
    cc->memo.pool = pool;
    cc->memo.dir_pool = dir_pool;
}

/* The identities of `tables`, or 0 when they cannot be remembered (too
 * many, or one without an identity). */
static int certmap_memo_table_ids(const apr_array_header_t *tables,
                                  apr_uint64_t ids[CERTMAP_MEMO_TABLES],
                                  int *n)
{
    int i;

    *n = tables ? tables->nelts : 0;
    if (*n > CERTMAP_MEMO_TABLES) {
        return 0;
    }
    for (i = 0; i < *n; i++) {
        ids[i] = certmap_table_id(APR_ARRAY_IDX(tables, i,
                                                const certmap_table_t *));
        if (ids[i] == 0) {
            return 0;
        }
    }
    return 1;
}

static int certmap_memo_same_scope(const certmap_memo_t *memo,
                                   const certmap_cert_t *cert,
                                   const apr_array_header_t *tables,
                                   int one_to_one, int many_to_one)
{
    apr_uint64_t ids[CERTMAP_MEMO_TABLES];
    int n;

    return memo->matched
           && memo->one_to_one == one_to_one
           && memo->many_to_one == many_to_one
           && memcmp(memo->cert, certmap_cert_sha256(cert),
                     CERTMAP_SHA256_LEN) == 0
           && certmap_memo_table_ids(tables, ids, &n)
           && memo->ntables == n
           && (n == 0 || memcmp(memo->tables, ids, n * sizeof(ids[0])) == 0);
}

int certmap_memo_match(const certmap_conn_t *cc, const certmap_cert_t *cert,
                       const apr_array_header_t *tables, int one_to_one,
                       int many_to_one, const certmap_mapping_t **mapping)
{
    const certmap_memo_t *memo = &cc->memo;

    if (!certmap_memo_same_scope(memo, cert, tables, one_to_one,
                                 many_to_one)) {
        return 0;
    }
    if (memo->table < 0) {
        *mapping = NULL;
        return 1;
    }
    *mapping = certmap_table_mapping_at(tables, memo->table, memo->many,
                                        memo->position);
    return *mapping != NULL;
}

void certmap_memo_remember_match(certmap_conn_t *cc,
                                 const certmap_cert_t *cert,
                                 const apr_array_header_t *tables,
                                 int one_to_one, int many_to_one,
                                 const certmap_mapping_t *mapping)
{
    certmap_memo_t *memo = &cc->memo;

    memo->matched = 0;
    if (!certmap_memo_table_ids(tables, memo->tables, &memo->ntables)) {
        return;
    }
    memo->table = -1;
    if (mapping && !certmap_table_locate(tables, mapping, &memo->table,
                                         &memo->many)) {
        return;         /* not one of the scope's own: not remembered */
    }
    memo->position = mapping ? mapping->position : 0;
    memcpy(memo->cert, certmap_cert_sha256(cert), CERTMAP_SHA256_LEN);
    memo->one_to_one = one_to_one;
    memo->many_to_one = many_to_one;
    memo->matched = 1;
}

/* Two optional strings are equal: both absent, or the same bytes. */
static int certmap_memo_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Decided less than `timeout` seconds ago (not in the future), and not
 * expired. */
static int certmap_memo_fresh(const certmap_when_t *when, int timeout)
{
    apr_time_t now = apr_time_now();

    return when->decided && timeout > 0 && when->decided <= now
           && now - when->decided < apr_time_from_sec((apr_time_t)timeout)
           && now < when->expires;
}

/* The pool `*pool` cleared, or created in c's: one remembered thing at a
 * time, so a connection's memory does not grow with its requests. */
static int certmap_memo_fresh_pool(apr_pool_t **pool, conn_rec *c)
{
    if (*pool) {
        apr_pool_clear(*pool);
        return 1;
    }
    if (apr_pool_create(pool, c->pool) != APR_SUCCESS) {
        *pool = NULL;
        return 0;
    }
    apr_pool_tag(*pool, "certmap_memo");
    return 1;
}

int certmap_memo_logon(const certmap_conn_t *cc, const certmap_logon_t *l,
                       int timeout)
{
    const certmap_memo_t *memo = &cc->memo;

    return certmap_memo_fresh(&memo->logon, timeout)
           && memcmp(memo->logon_cert, certmap_cert_sha256(l->cert),
                     CERTMAP_SHA256_LEN) == 0
           && certmap_memo_same(memo->service, l->service)
           && certmap_memo_same(memo->account, l->account)
           && certmap_memo_same(memo->password, l->password)
           && certmap_memo_same(memo->rhost, l->rhost);
}

static const char *certmap_memo_copy(apr_pool_t *p, const char *s)
{
    return s ? apr_pstrdup(p, s) : NULL;
}

/* One logon is remembered at a time; its pool is cleared for the next,
 * so a connection's memory does not grow with its requests. */
void certmap_memo_remember_logon(certmap_conn_t *cc, conn_rec *c,
                                 const certmap_logon_t *l,
                                 const certmap_when_t *when)
{
    certmap_memo_t *memo = &cc->memo;

    memo->logon.decided = 0;
    if (!certmap_memo_fresh_pool(&memo->pool, c)) {
        return;
    }
    memcpy(memo->logon_cert, certmap_cert_sha256(l->cert),
           CERTMAP_SHA256_LEN);
    memo->service = certmap_memo_copy(memo->pool, l->service);
    memo->account = certmap_memo_copy(memo->pool, l->account);
    memo->password = certmap_memo_copy(memo->pool, l->password);
    memo->rhost = certmap_memo_copy(memo->pool, l->rhost);
    memo->logon = *when;
}

const char *certmap_memo_directory(const certmap_conn_t *cc,
                                   const certmap_dir_question_t *q,
                                   int timeout, apr_pool_t *p)
{
    const certmap_memo_t *memo = &cc->memo;

    if (!certmap_memo_fresh(&memo->dir, timeout)
        || memcmp(memo->dir_cert, certmap_cert_sha256(q->cert),
                  CERTMAP_SHA256_LEN) != 0
        || !certmap_memo_same(memo->dir_url, q->url)
        || !certmap_memo_same(memo->dir_bind_dn, q->bind_dn)
        || !certmap_memo_same(memo->dir_attr, q->attr)
        || !certmap_memo_same(memo->dir_password, q->password)
        || memo->dir_nmethods != q->nmethods
        || (q->nmethods && memcmp(memo->dir_methods, q->methods,
                                  q->nmethods * sizeof(int)) != 0)) {
        return NULL;
    }
    return apr_pstrdup(p, memo->dir_account);
}

void certmap_memo_remember_directory(certmap_conn_t *cc, conn_rec *c,
                                     const certmap_dir_question_t *q,
                                     const char *account,
                                     const certmap_when_t *when)
{
    certmap_memo_t *memo = &cc->memo;

    memo->dir.decided = 0;
    if (!certmap_memo_fresh_pool(&memo->dir_pool, c)) {
        return;
    }
    memcpy(memo->dir_cert, certmap_cert_sha256(q->cert), CERTMAP_SHA256_LEN);
    memo->dir_url = certmap_memo_copy(memo->dir_pool, q->url);
    memo->dir_bind_dn = certmap_memo_copy(memo->dir_pool, q->bind_dn);
    memo->dir_attr = certmap_memo_copy(memo->dir_pool, q->attr);
    memo->dir_password = certmap_memo_copy(memo->dir_pool, q->password);
    memo->dir_nmethods = q->nmethods;
    memo->dir_methods = q->nmethods
        ? apr_pmemdup(memo->dir_pool, q->methods, q->nmethods * sizeof(int))
        : NULL;
    memo->dir_account = certmap_memo_copy(memo->dir_pool, account);
    memo->dir = *when;
}
