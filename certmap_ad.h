/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_ad.h — Active Directory's view of a certificate, without httpd:
 * the altSecurityIdentities `X509:` strings as AD writes them, the SID of
 * the NTDS CA security extension (1.3.6.1.4.1.311.25.2) as AD's objectSid
 * bytes, and RFC 4515 escaping for the LDAP filters that look them up.
 * certmap_directory.c runs the searches; tests/unit/test_ad.c tests this.
 */

#ifndef CERTMAP_AD_H
#define CERTMAP_AD_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/x509.h>

#include "certmap_rules.h"

/* The NTDS CA security extension and the otherName inside it. */
#define CERTMAP_AD_SID_EXT_OID   "1.3.6.1.4.1.311.25.2"
#define CERTMAP_AD_SID_NAME_OID  "1.3.6.1.4.1.311.25.2.1"

/* RFC 4515: `*`, `(`, `)`, `\`, NUL and every byte outside printable
 * ASCII become \xx; the rest stays.  v[0..n) may hold NUL. */
const char *certmap_ad_escape(apr_pool_t *p, const unsigned char *v,
                              apr_size_t n);

/* Every byte as \xx: binary assertion values (objectSid). */
const char *certmap_ad_escape_all(apr_pool_t *p, const unsigned char *v,
                                  apr_size_t n);

/* Hex digits of b[0..n), upper or lower case, optionally reversed. */
const char *certmap_ad_hex(apr_pool_t *p, const unsigned char *b,
                           apr_size_t n, int upper, int reversed);

/* A name as AD writes it: most significant RDN first, "," between RDNs,
 * "+" inside one, CryptoAPI's keys (CN, OU, S, E, G, OID.x.y...), values
 * quoted as CertNameToStr quotes them.  NULL when a value holds a NUL or
 * does not decode. */
const char *certmap_ad_dn(apr_pool_t *p, const X509_NAME *name);

/* The serial as AD writes it: content bytes reversed, upper-case hex. */
const char *certmap_ad_serial_reversed(apr_pool_t *p, const X509 *x509);

/* The subject's emailAddress values AD's RFC822 form may use (unquoted
 * values only), of const char *. */
apr_array_header_t *certmap_ad_subject_emails(apr_pool_t *p,
                                              const X509 *x509);

/* "(ATTR=escaped VALUE)". */
const char *certmap_ad_assertion(apr_pool_t *p, const char *attr,
                                 const char *value);

/* "(|(ATTR=PREFIX v1)(ATTR=PREFIX v2)...)", or NULL for no value. */
const char *certmap_ad_any_of(apr_pool_t *p, const char *attr,
                              const char *prefix,
                              const apr_array_header_t *values);

/* The SID text ("S-1-5-21-...") of the certificate's NTDS CA security
 * extension, or NULL when it has none, or one that does not decode. */
const char *certmap_ad_sid_text(apr_pool_t *p, const X509 *x509);

/* The binary SID (objectSid) of a SID text: revision 1, at most 15
 * sub-authorities.  Returns 0 for anything else. */
int certmap_ad_sid_binary(apr_pool_t *p, const char *text,
                          unsigned char **sid, apr_size_t *len);

/* "(objectSid=\01\05...)" for the certificate's SID, or NULL. */
const char *certmap_ad_sid_filter(apr_pool_t *p, const X509 *x509);

#endif /* CERTMAP_AD_H */
