/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_memo.c — what a connection remembers between its requests: the
 * mapping its certificate matched in a scope, and the PAM logon that
 * followed.  A keep-alive connection then maps and logs on once instead
 * of on every request; the shared logon cache (certmap_cache.c) serves
 * new connections.
 *
 * The memo is only ever read by the thread serving the connection.  It
 * is keyed by the peer certificate (the caller resets it whenever the
 * certificate changes, so a recycled X509 address cannot match), the
 * scope's list of tables and its enable flags, and for the logon by the
 * PAM service, account and password; a remembered logon expires with the
 * asking scope's CertMapLogonCacheTimeout counted from the real logon.
 */

#include "apr_strings.h"

#include "certmap_private.h"

void certmap_memo_reset(certmap_conn_t *cc)
{
    memset(&cc->memo, 0, sizeof(cc->memo));
}

static int certmap_memo_same_tables(const certmap_memo_t *memo,
                                    const apr_array_header_t *tables)
{
    int n = tables ? tables->nelts : 0;

    return memo->ntables == n
           && (n == 0 || memcmp(memo->tables, tables->elts,
                                n * sizeof(memo->tables[0])) == 0);
}

int certmap_memo_match(const certmap_conn_t *cc, X509 *x509,
                       const apr_array_header_t *tables, int one_to_one,
                       int many_to_one, const certmap_mapping_t **mapping)
{
    const certmap_memo_t *memo = &cc->memo;

    if (!memo->x509 || memo->x509 != x509
        || memo->one_to_one != one_to_one
        || memo->many_to_one != many_to_one
        || !certmap_memo_same_tables(memo, tables)) {
        return 0;
    }
    *mapping = memo->mapping;
    return 1;
}

void certmap_memo_remember_match(certmap_conn_t *cc, X509 *x509,
                                 const apr_array_header_t *tables,
                                 int one_to_one, int many_to_one,
                                 const certmap_mapping_t *mapping)
{
    certmap_memo_t *memo = &cc->memo;
    int n = tables ? tables->nelts : 0;

    if (memo->x509 != x509) {
        certmap_memo_reset(cc);         /* the logon was another cert's */
    }
    if (n > CERTMAP_MEMO_TABLES) {
        memo->x509 = NULL;              /* deeper than we remember */
        memo->ntables = 0;
        return;
    }
    memo->x509 = x509;
    memo->ntables = n;
    if (n) {
        memcpy(memo->tables, tables->elts, n * sizeof(memo->tables[0]));
    }
    memo->one_to_one = one_to_one;
    memo->many_to_one = many_to_one;
    memo->mapping = mapping;
}

int certmap_memo_logon(const certmap_conn_t *cc, X509 *x509,
                       const char *service, const char *account,
                       const char *password, int timeout)
{
    const certmap_memo_t *memo = &cc->memo;
    apr_time_t now;

    if (!memo->logged_on || memo->x509 != x509 || timeout <= 0
        || memo->service != service || memo->password != password
        || strcmp(memo->account, account) != 0) {
        return 0;
    }
    now = apr_time_now();
    return memo->logged_on <= now
           && now - memo->logged_on < apr_time_from_sec((apr_time_t)timeout);
}

void certmap_memo_remember_logon(certmap_conn_t *cc, X509 *x509,
                                 const char *service, const char *account,
                                 const char *password, apr_time_t logged_on)
{
    certmap_memo_t *memo = &cc->memo;

    if (memo->x509 != x509
        || strlen(account) >= sizeof(memo->account)) {
        memo->logged_on = 0;
        return;
    }
    memo->service = service;
    memo->password = password;
    apr_cpystrn(memo->account, account, sizeof(memo->account));
    memo->logged_on = logged_on;
}
