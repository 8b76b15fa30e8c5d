/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_directory.h — the directory mapping (certmap_directory.c) as the
 * rest of the module sees it: the CertMapDirectory* directive handlers and
 * the one request-time call made when the local mappings found nothing.
 */

#ifndef CERTMAP_DIRECTORY_H
#define CERTMAP_DIRECTORY_H

#include "certmap_private.h"

/* Directive handlers (scope dir), referenced by certmap_cmds[]. */
const char *certmap_directory_set_enabled(cmd_parms *cmd, void *dcv, int on);
const char *certmap_directory_set_url(cmd_parms *cmd, void *dcv,
                                      const char *url);
const char *certmap_directory_set_bind_dn(cmd_parms *cmd, void *dcv,
                                          const char *dn);
const char *certmap_directory_set_bind_password(cmd_parms *cmd, void *dcv,
                                                const char *spec);
const char *certmap_directory_set_match(cmd_parms *cmd, void *dcv,
                                        const char *args);
const char *certmap_directory_set_attribute(cmd_parms *cmd, void *dcv,
                                            const char *name);
const char *certmap_directory_set_cache_timeout(cmd_parms *cmd, void *dcv,
                                                const char *arg);

const char *certmap_directory_set_timeout(cmd_parms *cmd, void *dcv,
                                          const char *arg);

/* Called when one-to-one and many-to-one found nothing.  With
 * CertMapDirectory Off: CERTMAP_NOT_MAPPED.  Otherwise asks the directory:
 * CERTMAP_GRANTED with *m a mapping (allocated in r->pool) naming the
 * account found, CERTMAP_NOT_MAPPED (none, or more than one), or
 * CERTMAP_INTERNAL_ERROR (directory unreachable, bind or search failed).
 * *reason says why for the log line.  `cc` (NULL for an HTTP/2 stream)
 * remembers the finding for the connection. */
certmap_outcome_e certmap_directory_map(request_rec *r,
                                        const certmap_dir_conf_t *dc,
                                        certmap_conn_t *cc,
                                        const certmap_cert_t *cert,
                                        const certmap_mapping_t **m,
                                        const char **reason);

/* `certmap explain`: what the directory says about a certificate for one
 * scope (CertMapDirectory On), asked as a request would ask it (the same
 * methods in the same order, the same filters), but on a connection of
 * its own made with libldap: explain runs in httpd's test_config hook,
 * where there is no request for mod_ldap's pool and mod_ldap's post_config
 * (TLS set-up, LDAPTrustedGlobalCert) has not run.  Each of connect, bind
 * and search waits at most `timeout` seconds.  The shared cache is neither
 * read nor written.  Nothing here holds the bind password. */
typedef struct {
    certmap_outcome_e outcome;  /* as certmap_directory_map would answer */
    const char *url;            /* CertMapDirectoryURL, as configured */
    const char *file;           /* where it is configured */
    unsigned int line;
    const char *bind_dn;        /* NULL: anonymous */
    const char *methods;        /* the methods tried, in order */
    int unreachable;            /* no connection (outcome 500) */
    int bind_refused;           /* connected, bind refused (outcome 500) */
    int ambiguous;              /* more than one entry (outcome 403.16) */
    const char *method;         /* the method that found, when one did */
    const char *dns;            /* the entry found, or the entries ("; ") */
    const char *account;        /* CERTMAP_GRANTED: the account */
    const char *reason;         /* otherwise: why, without credentials */
} certmap_dir_explain_t;

void certmap_directory_explain(apr_pool_t *p, const certmap_dir_conf_t *dc,
                               const certmap_cert_t *cert, int timeout,
                               certmap_dir_explain_t *out);

/* Start-up hooks: the shared cache of found mappings, its mutex, the
 * mod_ldap check.  They do nothing without `CertMapDirectory On`. */
void certmap_directory_register_hooks(apr_pool_t *p);

/* `-D DUMP_CERTMAP`: one line of directory settings for a scope that has
 * any (bind password as ***). */
void certmap_directory_dump(apr_pool_t *p, const certmap_dir_conf_t *dc);

#endif /* CERTMAP_DIRECTORY_H */
