/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_rules.h — the mapping engine of mod_certmap.
 *
 * Parses and compiles IIS-style certificate mappings (one-to-one by the
 * whole certificate, many-to-one by Subject/Issuer field rules) and matches
 * a client certificate against them.  It knows OpenSSL and APR only, never
 * httpd, so it can be unit-tested and fuzzed on its own.
 *
 * Matching works on parsed X.509 name attributes, never on DN strings:
 * every attribute value is decoded to UTF-8 with an explicit length, and a
 * value that contains a NUL never matches anything.
 */

#ifndef CERTMAP_RULES_H
#define CERTMAP_RULES_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/x509.h>

#define CERTMAP_SHA256_LEN 32

/* What of the certificate a rule reads: a name (IIS), or, beyond IIS,
 * the Subject Alternative Names, the extended key usage, the key usage
 * bits or the certificate policies. */
typedef enum {
    CERTMAP_SUBJECT = 0,
    CERTMAP_ISSUER = 1,
    CERTMAP_SAN = 2,
    CERTMAP_EKU = 3,
    CERTMAP_KEY_USAGE = 4,
    CERTMAP_POLICY = 5
} certmap_field_e;
#define CERTMAP_NFIELDS 6

/* The kinds of Subject Alternative Name a rule or template can name. */
typedef enum {
    CERTMAP_SAN_EMAIL = 0,
    CERTMAP_SAN_UPN = 1,
    CERTMAP_SAN_DNS = 2,
    CERTMAP_SAN_URI = 3,
    CERTMAP_SAN_IP = 4
} certmap_san_e;

/* Longest account name a template may give. */
#define CERTMAP_MAX_ACCOUNT 256

/* IIS permissionMode of a many-to-one mapping. */
typedef enum {
    CERTMAP_ALLOW = 0,
    CERTMAP_DENY = 1
} certmap_permission_e;

/* A client certificate parsed once for matching (opaque). */
typedef struct certmap_cert certmap_cert_t;

/* One compiled CertMapRule (opaque). */
typedef struct certmap_rule certmap_rule_t;

/* A compiled CertMapUser template with its CertMapUserMatch (opaque). */
typedef struct certmap_template certmap_template_t;

/* One mapping, one-to-one or many-to-one.  The caller fills in the
 * descriptive members; the engine owns `one_to_one`, `position`,
 * `fingerprint` and the rules' compiled form.
 *
 * A million one-to-one mappings may be loaded (CertMapOneToOneFile), so
 * the members only a many-to-one mapping has share their room with the
 * fingerprint only a one-to-one mapping has: 80 bytes a mapping instead
 * of 112.  `many` is read only when `one_to_one` is 0 (a mapping nothing
 * has added as one-to-one, allocated zeroed, reads as having no rules,
 * no description and no template). */
typedef struct certmap_mapping {
    const char *name;            /* many-to-one NAME, or "one-to-one" */
    const char *user;            /* account, as configured */
    const char *password;        /* NULL: account check only; never printed */
    const char *file;            /* where it was configured, for diagnostics */
    unsigned int line;
    int position;                /* set by the engine: index in its table's
                                    list of its kind */
    certmap_permission_e permission;
    unsigned char enabled;       /* CertMapEnabled */
    unsigned char one_to_one;    /* set by certmap_table_add_one_to_one */
    union {
        /* one-to-one: SHA-256 of the DER */
        unsigned char fingerprint[CERTMAP_SHA256_LEN];
        struct {
            apr_array_header_t *rules;  /* of certmap_rule_t *, ANDed */
            const char *description;    /* CertMapDescription, or NULL */
            const char *user_match;     /* CertMapUserMatch as configured */
            const certmap_template_t *user_template; /* the account is taken
                                    from the certificate; NULL: `user` is
                                    the account */
        } many;
    };
} certmap_mapping_t;

/* The mapping's account template, NULL for a one-to-one mapping or a
 * literal account. */
static APR_INLINE const certmap_template_t *
certmap_mapping_template(const certmap_mapping_t *m)
{
    return m->one_to_one ? NULL : m->many.user_template;
}

/* The mappings one configuration scope declares itself (opaque).  Scopes
 * nest: the caller keeps an array of tables, outermost first, and the
 * engine evaluates them in that order. */
typedef struct certmap_table certmap_table_t;


/* One step of an evaluation, for `certmap explain` and debug logs: a
 * many-to-one mapping that was considered and why it did not win. */
typedef struct {
    const certmap_mapping_t *mapping;
    const certmap_rule_t *failed_rule;  /* first rule that failed, or NULL */
    int disabled;                       /* skipped: CertMapEnabled Off */
    int no_name;                        /* rules matched, but the user
                                           template gives no name */
} certmap_step_t;

/* ---- rules ------------------------------------------------------------ */

/* Compiles one `CertMapRule FIELD SUBFIELD CRITERIA [CaseSensitive|
 * CaseInsensitive]`; `casemode` may be NULL (CaseSensitive).  Keywords are
 * case-insensitive.  FIELD is Subject, Issuer or SAN (SUBFIELD Email, UPN,
 * DNS, URI or IP; DNS is always case-insensitive), or EKU, KeyUsage or
 * Policy, which take one value in SUBFIELD and no CRITERIA (NULL) or
 * case mode.  Returns NULL and sets *rule, or an error text from p. */
const char *certmap_rule_compile(apr_pool_t *p, const char *field,
                                 const char *subfield, const char *criteria,
                                 const char *casemode, certmap_rule_t **rule);

/* The rule as configuration text, e.g. `Subject CN "*contoso*"
 * CaseInsensitive`, for dumps and explanations. */
const char *certmap_rule_text(apr_pool_t *p, const certmap_rule_t *rule);

/* ---- account templates ------------------------------------------------ */

/* Compiles a CertMapUser template: literal text with `%{Subject:SUBFIELD}`,
 * `%{Issuer:SUBFIELD}` and `%{SAN:Email|UPN|DNS}` (first value), and the
 * optional CertMapUserMatch `regex` (PCRE2; NULL for none), which must
 * match the expanded text and whose first capture group, if it has one,
 * is the account.  A text without `%{` is no template: *tpl = NULL. */
const char *certmap_template_compile(apr_pool_t *p, const char *text,
                                     const char *regex,
                                     certmap_template_t **tpl);

/* The template (and regex) as configuration text. */
const char *certmap_template_text(apr_pool_t *p,
                                  const certmap_template_t *tpl);

typedef enum {
    CERTMAP_NAME_OK = 0,        /* *name is the account */
    CERTMAP_NAME_NONE,          /* a value is missing or the regex does not
                                   match: the mapping does not match */
    CERTMAP_NAME_BAD            /* a name that never logs on: control
                                   character, NUL, '/', leading '-', empty
                                   or over CERTMAP_MAX_ACCOUNT bytes */
} certmap_name_e;

/* The account `tpl` gives for `cert`, allocated in p; *why says why when
 * the result is not CERTMAP_NAME_OK (the bad name escaped for a log). */
certmap_name_e certmap_template_expand(apr_pool_t *p,
                                       const certmap_template_t *tpl,
                                       const certmap_cert_t *cert,
                                       const char **name, const char **why);

/* ---- certificates as configured (CERT values) -------------------------- */

/* Decodes an IIS certificate blob: base64 of the DER, line breaks and
 * surrounding whitespace tolerated.  The DER must be one whole X.509
 * certificate.  Returns NULL on success or an error text. */
const char *certmap_der_from_base64(apr_pool_t *p, const char *text,
                                    unsigned char **der, apr_size_t *der_len);

/* Reads a PEM or DER certificate file (path already resolved). */
const char *certmap_der_from_file(apr_pool_t *p, const char *path,
                                  unsigned char **der, apr_size_t *der_len);

/* The IIS one-line blob (base64 of the DER, no line breaks). */
const char *certmap_der_to_blob(apr_pool_t *p, const unsigned char *der,
                                apr_size_t der_len);

/* ---- tables ------------------------------------------------------------ */

certmap_table_t *certmap_table_make(apr_pool_t *p);

/* An identity the caller gives a table, for remembering decisions across
 * requests: two tables with one non-zero id must hold the same mappings
 * for as long as either is in use.  0 (the default) means "ephemeral",
 * never remembered. */
void certmap_table_set_id(certmap_table_t *t, apr_uint64_t id);
apr_uint64_t certmap_table_id(const certmap_table_t *t);

/* Where `m` sits in `tables` (of const certmap_table_t *): the table's
 * index and whether it is many-to-one; 0 when it is in none of them. */
int certmap_table_locate(const apr_array_header_t *tables,
                         const certmap_mapping_t *m, int *table, int *many);

/* The mapping at (table, many, position), as certmap_table_locate gave
 * it, or NULL when there is none. */
const certmap_mapping_t *certmap_table_mapping_at(
    const apr_array_header_t *tables, int table, int many, int position);

/* Adds a one-to-one mapping for the certificate `der`.  Sets
 * m->fingerprint.  The same certificate twice in one table is an error. */
const char *certmap_table_add_one_to_one(certmap_table_t *t,
                                         const unsigned char *der,
                                         apr_size_t der_len,
                                         certmap_mapping_t *m);

/* Adds a complete many-to-one mapping (its rules already compiled into
 * m->rules).  Two mappings with one name in one table is an error. */
const char *certmap_table_add_many_to_one(certmap_table_t *t,
                                          certmap_mapping_t *m);

/* The table's mappings in configuration order, of certmap_mapping_t *. */
const apr_array_header_t *certmap_table_one_to_one(const certmap_table_t *t);
const apr_array_header_t *certmap_table_many_to_one(const certmap_table_t *t);

/* ---- client certificates ----------------------------------------------- */

/* Parses `x509` for matching: digests it and decodes every Subject and
 * Issuer attribute to UTF-8.  Takes its own reference to x509, released
 * when p is cleared.  Returns NULL on success or an error text. */
const char *certmap_cert_parse(apr_pool_t *p, X509 *x509,
                               certmap_cert_t **cert);

X509 *certmap_cert_x509(const certmap_cert_t *cert);

/* The values of one kind of Subject Alternative Name, in certificate
 * order, as NUL-terminated copies in p (of const char *).  Values that
 * can never match (an embedded NUL, non-ASCII in an IA5 name, not UTF-8)
 * are left out; IP addresses are in canonical text form. */
apr_array_header_t *certmap_cert_san(apr_pool_t *p,
                                     const certmap_cert_t *cert,
                                     certmap_san_e kind);
const unsigned char *certmap_cert_sha256(const certmap_cert_t *cert);

/* "subject=..., issuer=..., serial=..., sha256=..." for log lines; the
 * names in RFC 2253 form with every unsafe character escaped. */
const char *certmap_cert_describe(apr_pool_t *p, const certmap_cert_t *cert);

/* The same without the fingerprint, for a certificate that was not parsed
 * (one that failed verification); "no certificate" for NULL. */
const char *certmap_x509_describe(apr_pool_t *p, X509 *x509);

/* ---- matching ---------------------------------------------------------- */

/* Finds the mapping for `cert` in `tables` (of const certmap_table_t *,
 * outermost first): one-to-one in every table first (when one_to_one),
 * then many-to-one in order (when many_to_one); the first enabled
 * many-to-one mapping whose rules all match wins, Allow or Deny.  Returns
 * NULL when nothing matches.  When `trace` (of certmap_step_t) is not NULL,
 * it receives one step for every many-to-one mapping considered before the
 * winner. Thread-safe: reads the tables, writes nothing shared. */
const certmap_mapping_t *certmap_match(const apr_array_header_t *tables,
                                       const certmap_cert_t *cert,
                                       int one_to_one, int many_to_one,
                                       apr_array_header_t *trace);

#endif /* CERTMAP_RULES_H */
