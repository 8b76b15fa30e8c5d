/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_rules.c — the mapping engine of mod_certmap: compiles CertMapRule
 * criteria, decodes configured certificates (IIS base64 blobs, PEM and DER
 * files), keeps the per-scope mapping tables with their indexes, parses
 * client certificates once, and finds the mapping for a certificate.
 *
 * Only OpenSSL, APR/apr-util, libunistring and PCRE2 (CertMapUserMatch)
 * are used, never httpd.
 *
 * Beyond IIS, rules also read the Subject Alternative Names (field SAN,
 * each kind a one-byte pseudo attribute type), the extended key usage,
 * the key usage bits and the certificate policies (fields EKU, KeyUsage,
 * Policy: values in canonical text, dotted OIDs or key usage keywords,
 * compared exactly).  All of them are parsed once with the certificate
 * and filed under the same index keys as name attributes, so the index
 * below serves them unchanged; EKU, KeyUsage and Policy weigh like Issuer
 * values (every client of a CA shares them).  A CertMapUser template is
 * part of a mapping's match: a certificate without the value it names
 * does not match it.
 *
 * Indexes.  One-to-one mappings sit in an open-addressing table keyed by
 * the SHA-256 of the DER (the DER itself is not kept), so a lookup is O(1)
 * whatever the table size.  A many-to-one mapping is filed under one of
 * its exact ("x"), prefix ("x*"), suffix ("*x") or contains ("*x*")
 * rules, keyed by (field, case mode, attribute type, value, affix or one
 * 4-byte n-gram of x); any one will do, each being a necessary condition.
 * The rule is chosen by expected selectivity, not in order: a sub-field
 * weight (Issuer values are shared by every client of a CA, Subject
 * C/O/L/S by an organisation, OU/DC/T by a department, CN/E/UID... name
 * one subject) times the length of the list already under that key, so a
 * rule every client passes is used only when nothing better exists.
 * Mappings without such a rule go to an "unindexed" list.  A parsed
 * certificate carries the same keys for its own attribute values, so
 * matching evaluates only the mappings filed under those keys (or under
 * a prefix, suffix or n-gram of them, of the lengths the table holds)
 * plus the unindexed ones, merged in ascending configuration order: the
 * first full match is exactly the one a plain in-order scan finds.  A
 * trace asks for that plain scan.  Attribute types compare as OpenSSL
 * NIDs where both sides have one.
 *
 * Tables are written only while the configuration is read; matching only
 * reads them and allocates nothing, so any number of threads may match
 * at once.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* memmem */
#endif

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_file_io.h>
#include <apr_base64.h>

#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/objects.h>
#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <unistr.h>
#include <unicase.h>

#include "certmap_rules.h"

/* A certificate file larger than this is not a certificate. */
#define CERTMAP_MAX_CERT_FILE   (1024 * 1024)

/* Longest dotted OID accepted in a rule. */
#define CERTMAP_MAX_OID_TEXT    128

/* Index keys carry the attribute type's length in one byte; longer types
 * (absurd, but possible in a hostile certificate) are simply not indexed,
 * on either side, which keeps matching correct. */
#define CERTMAP_MAX_KEY_OID     255

/* Longest suffix rule that is indexed (its key is built on the stack). */
#define CERTMAP_MAX_KEY_SUFFIX  256

/* How many sorted candidate lists one match merges on the stack.  A
 * certificate with more attributes than that falls back to a plain scan. */
#define CERTMAP_MAX_CURSORS     256

/* A "*x*" rule is indexed under one n-gram of x of at most this many
 * bytes; a certificate value is looked up by each of its n-grams. */
#define CERTMAP_GRAM_LEN        4

#define CERTMAP_EXACT_KEY  0   /* index key on the value as decoded */
#define CERTMAP_FOLDED_KEY 1   /* index key on the case-folded value */

typedef enum {
    CRITERIA_ANY,               /* "*": present, any value */
    CRITERIA_EXACT,             /* "x" */
    CRITERIA_PREFIX,            /* "x*" */
    CRITERIA_SUFFIX,            /* "*x" */
    CRITERIA_CONTAINS           /* "*x*" */
} criteria_kind_e;

struct certmap_rule {
    certmap_field_e field;
    const unsigned char *oid;   /* content octets of the attribute type */
    apr_size_t oid_len;
    int nid;                    /* OpenSSL's number for it, or NID_undef */
    const char *subfield;       /* keyword upper-cased, or the dotted OID */
    const char *criteria;       /* as configured */
    criteria_kind_e kind;
    const char *pattern;        /* criteria less wildcards; folded if CI */
    apr_size_t pattern_len;
    int case_insensitive;
};

/* One attribute of a parsed Subject or Issuer name. */
typedef struct {
    const unsigned char *oid;   /* points into the certificate */
    apr_size_t oid_len;
    int nid;
    const char *value;          /* UTF-8; NULL when it can never match */
    apr_size_t value_len;
    const char *folded;         /* value case-folded */
    apr_size_t folded_len;
    const char *key[2];         /* index keys, exact and folded; or NULL */
    apr_size_t key_len[2];
} cert_attr_t;

struct certmap_cert {
    X509 *x509;
    unsigned char sha256[CERTMAP_SHA256_LEN];
    const cert_attr_t *attrs[CERTMAP_NFIELDS];  /* by certmap_field_e */
    int nattrs[CERTMAP_NFIELDS];
};

/* Which prefix or suffix keys a table holds for one (field, case mode,
 * type), and how long they are, so that matching looks up only those. */
typedef struct {
    criteria_kind_e kind;               /* CRITERIA_PREFIX, _SUFFIX or
                                           _CONTAINS (n-grams) */
    certmap_field_e field;
    int folded;
    const unsigned char *oid;
    apr_size_t oid_len;
    int nid;
    apr_size_t min_len, max_len;        /* of the affixes, in bytes */
} affix_kind_t;

struct certmap_table {
    apr_pool_t *pool;
    apr_uint64_t id;                    /* the caller's identity; 0: none */
    apr_array_header_t *one_to_one;     /* of certmap_mapping_t *; points
                                           at one_to_one_list */
    apr_array_header_t one_to_one_list; /* its elements are malloc'd (see
                                           grow_one_to_one) */
    apr_uint32_t *slots;                /* open addressing by fingerprint:
                                           1 + index into one_to_one, or 0 */
    apr_size_t slot_mask;               /* slot count - 1, a power of two */
    apr_array_header_t *many_to_one;    /* of certmap_mapping_t * */
    apr_hash_t *by_name;                /* folded name -> mapping */
    apr_hash_t *index;                  /* key -> array of int, ascending */
    apr_hash_t *prefix_index;           /* prefix key -> array of int */
    apr_hash_t *suffix_index;           /* suffix key -> array of int */
    apr_hash_t *gram_index;             /* n-gram key -> array of int */
    apr_array_header_t *affix_kinds;    /* of affix_kind_t */
    apr_array_header_t *unindexed;      /* of int, ascending */
};

/* ---- small helpers ----------------------------------------------------- */

static const char *const field_names[CERTMAP_NFIELDS] = {
    "Subject", "Issuer", "SAN", "EKU", "KeyUsage", "Policy"
};

static const char *field_name(certmap_field_e field)
{
    return field_names[field];
}

/* Rules on the extended key usage, key usage and policies name one value
 * and take no criteria: they compare exactly. */
static int field_is_flag(certmap_field_e field)
{
    return field == CERTMAP_EKU || field == CERTMAP_KEY_USAGE
           || field == CERTMAP_POLICY;
}

/* A SAN kind is filed as a one-byte pseudo type, never equal to a real
 * attribute type (those compare under their own field anyway). */
static const struct {
    const char *keyword;
    unsigned char type[1];
} san_kinds[] = {
    { "Email", { 'E' } }, { "UPN", { 'U' } }, { "DNS", { 'D' } },
    { "URI", { 'R' } }, { "IP", { 'I' } },
};
#define CERTMAP_NSAN ((int)(sizeof(san_kinds) / sizeof(san_kinds[0])))

/* The key usage bits a rule may name, in the order of RFC 5280 4.2.1.3. */
static const struct {
    const char *keyword;
    int bit;
} key_usages[] = {
    { "digitalSignature", 0 }, { "nonRepudiation", 1 },
    { "keyEncipherment", 2 }, { "dataEncipherment", 3 },
    { "keyAgreement", 4 },
};
#define CERTMAP_NKU ((int)(sizeof(key_usages) / sizeof(key_usages[0])))

/* Extended key usage names; anything else is a dotted OID. */
static const struct {
    const char *keyword;
    const char *oid;
} eku_names[] = {
    { "clientAuth", "1.3.6.1.5.5.7.3.2" },
    { "serverAuth", "1.3.6.1.5.5.7.3.1" },
    { "emailProtection", "1.3.6.1.5.5.7.3.4" },
    { "smartcardLogon", "1.3.6.1.4.1.311.20.2.2" },
};
#define CERTMAP_NEKU ((int)(sizeof(eku_names) / sizeof(eku_names[0])))

#define CERTMAP_UPN_OID "1.3.6.1.4.1.311.20.2.3"


/* Case folding: every code point c becomes uc_tolower(uc_toupper(c)).
 * That equates both members of every Unicode simple case pair, including
 * the odd ones (final sigma, Kelvin sign, long s, titlecase digraphs, and
 * dotless i / dotted I with plain i), while never changing the number of
 * code points (no ß -> ss), so wildcard positions stay meaningful.  The
 * input must be valid UTF-8. */
static ucs4_t fold_code_point(ucs4_t c)
{
    if (c < 0x80) {
        return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
    }
    return uc_tolower(uc_toupper(c));
}

static apr_size_t fold_pass(const char *s, apr_size_t n, char *out)
{
    const uint8_t *in = (const uint8_t *)s;
    apr_size_t i = 0, len = 0;

    while (i < n) {
        ucs4_t c;
        uint8_t buf[6];
        int consumed = u8_mbtoucr(&c, in + i, n - i);
        int produced;

        if (consumed <= 0) {    /* not reached: input was checked */
            c = in[i];
            consumed = 1;
        }
        produced = u8_uctomb(buf, fold_code_point(c), sizeof(buf));
        if (produced <= 0) {
            buf[0] = in[i];
            produced = 1;
        }
        if (out) {
            memcpy(out + len, buf, produced);
        }
        len += produced;
        i += consumed;
    }
    return len;
}

/* The case-folded copy of the UTF-8 text s[0..n), NUL-terminated. */
static char *fold_utf8(apr_pool_t *p, const char *s, apr_size_t n,
                       apr_size_t *folded_len)
{
    apr_size_t len = fold_pass(s, n, NULL);
    char *out = apr_palloc(p, len + 1);

    fold_pass(s, n, out);
    out[len] = '\0';
    *folded_len = len;
    return out;
}

static int is_valid_utf8(const char *s, apr_size_t n)
{
    return u8_check((const uint8_t *)s, n) == NULL;
}

/* SHA-256, fetched from the default provider once per process.
 * EVP_sha256() makes EVP_Digest fetch it again on every call (a lock
 * and a method-store lookup, a fifth of a one-to-one mapping's load
 * cost and of a new connection's parse).  The first caller fetches and
 * publishes it with a compare-and-swap, so any thread may be first and
 * no init call is needed; a loser frees its copy.  It is never freed:
 * one object per process, still referenced at exit (no leak report). */
static EVP_MD *sha256_md;

static const EVP_MD *sha256(void)
{
    EVP_MD *md = __atomic_load_n(&sha256_md, __ATOMIC_ACQUIRE);
    EVP_MD *expected = NULL;

    if (md != NULL) {
        return md;
    }
    md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (md == NULL) {
        ERR_clear_error();
        return EVP_sha256();    /* implicit fetch, as before */
    }
    if (!__atomic_compare_exchange_n(&sha256_md, &expected, md, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        EVP_MD_free(md);
        return expected;
    }
    return md;
}

/* The most recent OpenSSL error as text, and the queue cleared. */
static const char *openssl_reason(apr_pool_t *p)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256];

    ERR_clear_error();
    if (e == 0) {
        return "no further detail";
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    return apr_pstrdup(p, buf);
}

/* ---- rules ------------------------------------------------------------- */

static const struct {
    const char *keyword;
    int nid;
} subfields[] = {
    { "CN", NID_commonName },
    { "O", NID_organizationName },
    { "OU", NID_organizationalUnitName },
    { "L", NID_localityName },
    { "S", NID_stateOrProvinceName },
    { "ST", NID_stateOrProvinceName },
    { "C", NID_countryName },
    { "E", NID_pkcs9_emailAddress },
    { "EMAIL", NID_pkcs9_emailAddress },    /* IIS's rule editor */
    { "GN", NID_givenName },
    { "G", NID_givenName },                 /* IIS's rule editor */
    { "SN", NID_surname },
    { "T", NID_title },
    { "I", NID_initials },
    { "STREET", NID_streetAddress },
    { "DC", NID_domainComponent },
    { "SERIALNUMBER", NID_serialNumber },
    { "UID", NID_userId },
};

static const char *compile_field(apr_pool_t *p, const char *text,
                                 certmap_field_e *field)
{
    int i;

    for (i = 0; text && i < CERTMAP_NFIELDS; i++) {
        if (strcasecmp(text, field_names[i]) == 0) {
            *field = (certmap_field_e)i;
            return NULL;
        }
    }
    return apr_psprintf(p, "unknown field '%s' (expected Subject, Issuer, "
                        "SAN, EKU, KeyUsage or Policy)", text ? text : "");
}

/* Digits and single dots, at least two arcs: "2.5.4.3". */
static int looks_like_dotted_oid(const char *s)
{
    apr_size_t i, dots = 0;
    int digit_before = 0;

    for (i = 0; s[i]; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            digit_before = 1;
        }
        else if (s[i] == '.' && digit_before) {
            digit_before = 0;
            dots++;
        }
        else {
            return 0;
        }
    }
    return dots > 0 && digit_before && i <= CERTMAP_MAX_OID_TEXT;
}

static void keep_object(apr_pool_t *p, const ASN1_OBJECT *obj,
                        certmap_rule_t *rule)
{
    rule->oid_len = (apr_size_t)OBJ_length(obj);
    rule->oid = apr_pmemdup(p, OBJ_get0_data(obj), rule->oid_len);
    rule->nid = OBJ_obj2nid(obj);
}

static const char *compile_oid(apr_pool_t *p, const char *text,
                               certmap_rule_t *rule)
{
    ASN1_OBJECT *obj;

    if (!looks_like_dotted_oid(text)) {
        return apr_psprintf(p, "bad OID '%s' (expected a dotted OID such "
                            "as 2.5.4.3)", text);
    }
    obj = OBJ_txt2obj(text, 1);
    if (obj == NULL || OBJ_length(obj) == 0) {
        ERR_clear_error();
        ASN1_OBJECT_free(obj);
        return apr_psprintf(p, "bad OID '%s' (expected a dotted OID such "
                            "as 2.5.4.3)", text);
    }
    keep_object(p, obj, rule);
    ASN1_OBJECT_free(obj);
    rule->subfield = apr_pstrdup(p, text);
    return NULL;
}

static const char *compile_san_kind(apr_pool_t *p, const char *text,
                                    certmap_rule_t *rule)
{
    int i;

    for (i = 0; text && i < CERTMAP_NSAN; i++) {
        if (strcasecmp(text, san_kinds[i].keyword) == 0) {
            rule->oid = san_kinds[i].type;
            rule->oid_len = 1;
            rule->nid = NID_undef;
            rule->subfield = san_kinds[i].keyword;
            return NULL;
        }
    }
    return apr_psprintf(p, "unknown SAN kind '%s' (expected Email, UPN, "
                        "DNS, URI or IP)", text ? text : "");
}

/* The canonical dotted text of a dotted OID, or NULL. */
static const char *canonical_oid(apr_pool_t *p, const char *text)
{
    ASN1_OBJECT *obj;
    char buf[CERTMAP_MAX_OID_TEXT + 1];
    int n;

    if (!looks_like_dotted_oid(text)
        || (obj = OBJ_txt2obj(text, 1)) == NULL) {
        ERR_clear_error();
        return NULL;
    }
    n = OBJ_obj2txt(buf, sizeof(buf), obj, 1);
    ASN1_OBJECT_free(obj);
    ERR_clear_error();
    return n > 0 && n < (int)sizeof(buf) ? apr_pstrdup(p, buf) : NULL;
}

/* EKU, KeyUsage and Policy rules: one value, compared exactly with the
 * certificate's values in the same canonical form (dotted OIDs, key
 * usage keywords). */
static const char *compile_flag(apr_pool_t *p, const char *text,
                                const char *criteria, const char *casemode,
                                certmap_rule_t *rule)
{
    const char *value = NULL;
    int i;

    if (criteria != NULL || casemode != NULL) {
        return apr_psprintf(p, "%s takes exactly one value",
                            field_name(rule->field));
    }
    if (text == NULL || *text == '\0') {
        text = "";
    }
    else if (rule->field == CERTMAP_KEY_USAGE) {
        for (i = 0; i < CERTMAP_NKU; i++) {
            if (strcasecmp(text, key_usages[i].keyword) == 0) {
                value = key_usages[i].keyword;
                text = value;
            }
        }
    }
    else {
        for (i = 0; rule->field == CERTMAP_EKU && i < CERTMAP_NEKU; i++) {
            if (strcasecmp(text, eku_names[i].keyword) == 0) {
                value = eku_names[i].oid;
                text = eku_names[i].keyword;
            }
        }
        if (value == NULL) {
            value = canonical_oid(p, text);
        }
    }
    if (value == NULL) {
        switch (rule->field) {
        case CERTMAP_KEY_USAGE:
            return apr_psprintf(p, "unknown key usage '%s' (expected "
                                "digitalSignature, nonRepudiation, "
                                "keyEncipherment, dataEncipherment or "
                                "keyAgreement)", text);
        case CERTMAP_EKU:
            return apr_psprintf(p, "unknown extended key usage '%s' "
                                "(expected clientAuth, serverAuth, "
                                "emailProtection, smartcardLogon or a "
                                "dotted OID)", text);
        default:
            return apr_psprintf(p, "bad policy OID '%s' (expected a dotted "
                                "OID such as 2.23.140.1.2.1)", text);
        }
    }
    rule->oid = (const unsigned char *)"";
    rule->oid_len = 0;
    rule->nid = NID_undef;
    rule->subfield = apr_pstrdup(p, text);
    rule->kind = CRITERIA_EXACT;
    rule->criteria = NULL;
    rule->pattern = value;
    rule->pattern_len = strlen(value);
    return NULL;
}

static const char *compile_subfield(apr_pool_t *p, const char *text,
                                    certmap_rule_t *rule)
{
    apr_size_t i;

    if (rule->field == CERTMAP_SAN) {
        return compile_san_kind(p, text, rule);
    }
    if (text == NULL || *text == '\0') {
        text = "";
    }
    else if (*text >= '0' && *text <= '9') {
        return compile_oid(p, text, rule);
    }
    for (i = 0; i < sizeof(subfields) / sizeof(subfields[0]); i++) {
        if (strcasecmp(text, subfields[i].keyword) == 0) {
            keep_object(p, OBJ_nid2obj(subfields[i].nid), rule);
            rule->subfield = subfields[i].keyword;
            return NULL;
        }
    }
    return apr_psprintf(p, "unknown sub-field '%s' (expected CN, O, OU, L, "
                        "S, ST, C, E, GN, SN, T, DC, SERIALNUMBER, UID or a "
                        "dotted OID)", text);
}

static const char *compile_casemode(apr_pool_t *p, const char *text,
                                    int *case_insensitive)
{
    if (text == NULL || strcasecmp(text, "CaseSensitive") == 0) {
        *case_insensitive = 0;
        return NULL;
    }
    if (strcasecmp(text, "CaseInsensitive") == 0) {
        *case_insensitive = 1;
        return NULL;
    }
    return apr_psprintf(p, "unknown case mode '%s' (expected CaseSensitive "
                        "or CaseInsensitive)", text);
}

/* IIS wildcards: '*' at the start and/or the end; anywhere else it is a
 * literal character.  "*" alone means present with any value. */
static const char *compile_criteria(apr_pool_t *p, const char *text,
                                    certmap_rule_t *rule)
{
    apr_size_t len = text ? strlen(text) : 0;
    apr_size_t start = 0, end = len;

    if (len == 0) {
        return "empty criteria (use * for any value)";
    }
    if (!is_valid_utf8(text, len)) {
        return "criteria is not valid UTF-8";
    }
    rule->criteria = apr_pstrmemdup(p, text, len);
    if (len == 1 && text[0] == '*') {
        rule->kind = CRITERIA_ANY;
        rule->pattern = "";
        rule->pattern_len = 0;
        return NULL;
    }
    if (text[0] == '*') {
        start = 1;
    }
    if (text[len - 1] == '*') {
        end = len - 1;
    }
    rule->kind = start ? (end < len ? CRITERIA_CONTAINS : CRITERIA_SUFFIX)
                       : (end < len ? CRITERIA_PREFIX : CRITERIA_EXACT);
    if (rule->case_insensitive) {
        rule->pattern = fold_utf8(p, text + start, end - start,
                                  &rule->pattern_len);
    }
    else {
        rule->pattern = apr_pstrmemdup(p, text + start, end - start);
        rule->pattern_len = end - start;
    }
    return NULL;
}

const char *certmap_rule_compile(apr_pool_t *p, const char *field,
                                 const char *subfield, const char *criteria,
                                 const char *casemode, certmap_rule_t **rule)
{
    certmap_rule_t *r = apr_pcalloc(p, sizeof(*r));
    const char *err;

    if ((err = compile_field(p, field, &r->field))) {
        return err;
    }
    if (field_is_flag(r->field)) {
        if ((err = compile_flag(p, subfield, criteria, casemode, r))) {
            return err;
        }
        *rule = r;
        return NULL;
    }
    if ((err = compile_subfield(p, subfield, r))
        || (err = compile_casemode(p, casemode, &r->case_insensitive))) {
        return err;
    }
    /* host names are IA5 and compare without case, always */
    if (r->field == CERTMAP_SAN && r->oid[0] == 'D') {
        r->case_insensitive = 1;
    }
    if ((err = compile_criteria(p, criteria, r))) {
        return err;
    }
    *rule = r;
    return NULL;
}

/* Quotes criteria the way httpd's configuration reader unquotes them. */
static const char *quote_criteria(apr_pool_t *p, const char *s)
{
    apr_size_t i, n = strlen(s);
    char *out = apr_palloc(p, 2 * n + 3);
    char *o = out;

    *o++ = '"';
    for (i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            *o++ = '\\';
        }
        *o++ = s[i];
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

const char *certmap_rule_text(apr_pool_t *p, const certmap_rule_t *rule)
{
    if (field_is_flag(rule->field)) {
        return apr_pstrcat(p, field_name(rule->field), " ", rule->subfield,
                           NULL);
    }
    return apr_pstrcat(p, field_name(rule->field), " ", rule->subfield, " ",
                       quote_criteria(p, rule->criteria),
                       rule->case_insensitive ? " CaseInsensitive" : "",
                       NULL);
}

/* ---- matching one rule -------------------------------------------------- */

static int pattern_matches(const certmap_rule_t *rule, const char *v,
                           apr_size_t n)
{
    const char *pat = rule->pattern;
    apr_size_t m = rule->pattern_len;

    switch (rule->kind) {
    case CRITERIA_ANY:
        return 1;
    case CRITERIA_EXACT:
        return n == m && memcmp(v, pat, m) == 0;
    case CRITERIA_PREFIX:
        return n >= m && memcmp(v, pat, m) == 0;
    case CRITERIA_SUFFIX:
        return n >= m && memcmp(v + n - m, pat, m) == 0;
    case CRITERIA_CONTAINS:
        return m == 0 || (n >= m && memmem(v, n, pat, m) != NULL);
    }
    return 0;
}

/* Attribute types compare as OpenSSL numbers when both sides have one
 * (every type a rule can name by keyword does): one integer compare on
 * the hot path instead of a memcmp.  A dotted OID OpenSSL does not know
 * on either side, even one that became known in between, compares by
 * its content octets. */
static int types_equal(int nid_a, const unsigned char *oid_a,
                       apr_size_t len_a, int nid_b,
                       const unsigned char *oid_b, apr_size_t len_b)
{
    if (nid_a != NID_undef && nid_b != NID_undef) {
        return nid_a == nid_b;
    }
    return len_a == len_b && memcmp(oid_a, oid_b, len_a) == 0;
}

static int same_type(const cert_attr_t *a, const certmap_rule_t *rule)
{
    return types_equal(a->nid, a->oid, a->oid_len, rule->nid, rule->oid,
                       rule->oid_len);
}

/* A rule matches when any value of its sub-field in its name matches. */
static int rule_matches(const certmap_rule_t *rule,
                        const certmap_cert_t *cert)
{
    const cert_attr_t *a = cert->attrs[rule->field];
    int i, n = cert->nattrs[rule->field];

    for (i = 0; i < n; i++) {
        if (a[i].value == NULL || !same_type(&a[i], rule)) {
            continue;
        }
        if (rule->case_insensitive
            ? pattern_matches(rule, a[i].folded, a[i].folded_len)
            : pattern_matches(rule, a[i].value, a[i].value_len)) {
            return 1;
        }
    }
    return 0;
}

static certmap_name_e expand_name(const certmap_template_t *t,
                                  const certmap_cert_t *cert, char *buf,
                                  apr_size_t size, apr_size_t *start,
                                  apr_size_t *len);

/* Does m's user template give a name for cert (a bad one included: that
 * mapping wins and the name is refused)?  True without a template. */
static int template_gives_name(const certmap_mapping_t *m,
                               const certmap_cert_t *cert)
{
    char buf[4 * CERTMAP_MAX_ACCOUNT + 2];
    apr_size_t start, len;

    const certmap_template_t *tpl = certmap_mapping_template(m);

    return tpl == NULL
           || expand_name(tpl, cert, buf, sizeof(buf), &start,
                          &len) != CERTMAP_NAME_NONE;
}

/* The first rule of m that fails for cert, or NULL when all match. */
static const certmap_rule_t *first_failed_rule(const certmap_mapping_t *m,
                                               const certmap_cert_t *cert)
{
    int i;

    if (m->one_to_one || m->many.rules == NULL) {
        return NULL;
    }
    for (i = 0; i < m->many.rules->nelts; i++) {
        const certmap_rule_t *rule = APR_ARRAY_IDX(m->many.rules, i,
                                                   certmap_rule_t *);
        if (!rule_matches(rule, cert)) {
            return rule;
        }
    }
    return NULL;
}

static int mapping_matches(const certmap_mapping_t *m,
                           const certmap_cert_t *cert)
{
    return m->enabled && first_failed_rule(m, cert) == NULL
           && template_gives_name(m, cert);
}

/* ---- account templates ---------------------------------------------------- */

/* One piece of a template: literal text, or the first value of a
 * sub-field (a compiled rule used as a selector only). */
typedef struct {
    const char *literal;
    apr_size_t literal_len;
    const certmap_rule_t *select;
} template_part_t;

struct certmap_template {
    const char *text;
    const char *regex_text;
    apr_array_header_t *parts;          /* of template_part_t */
    pcre2_code *regex;
    apr_uint32_t captures;
};

static apr_status_t free_regex(void *data)
{
    pcre2_code_free(data);
    return APR_SUCCESS;
}

static void add_literal(apr_pool_t *p, certmap_template_t *t, const char *s,
                        apr_size_t n)
{
    template_part_t *part;

    if (n == 0) {
        return;
    }
    part = apr_array_push(t->parts);
    part->literal = apr_pstrmemdup(p, s, n);
    part->literal_len = n;
    part->select = NULL;
}

/* "Subject:CN", "Issuer:O", "SAN:UPN" (Email, UPN or DNS). */
static const char *compile_selector(apr_pool_t *p, const char *spec,
                                    certmap_template_t *t)
{
    const char *colon = strchr(spec, ':');
    certmap_rule_t *r = apr_pcalloc(p, sizeof(*r));
    template_part_t *part;
    const char *err;

    if (colon == NULL) {
        return apr_psprintf(p, "'%%{%s}' is not FIELD:SUBFIELD", spec);
    }
    if ((err = compile_field(p, apr_pstrndup(p, spec, colon - spec),
                             &r->field))) {
        return err;
    }
    if (field_is_flag(r->field)) {
        return apr_psprintf(p, "'%%{%s}': a template takes Subject, Issuer "
                            "or SAN", spec);
    }
    if ((err = compile_subfield(p, colon + 1, r))) {
        return err;
    }
    if (r->field == CERTMAP_SAN && r->oid[0] != 'E' && r->oid[0] != 'U'
        && r->oid[0] != 'D') {
        return apr_psprintf(p, "'%%{%s}': a template takes SAN Email, UPN "
                            "or DNS", spec);
    }
    part = apr_array_push(t->parts);
    part->literal = NULL;
    part->literal_len = 0;
    part->select = r;
    return NULL;
}

static const char *compile_regex(apr_pool_t *p, const char *regex,
                                 certmap_template_t *t)
{
    int code;
    PCRE2_SIZE offset;
    PCRE2_UCHAR msg[160];

    t->regex = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF, &code, &offset, NULL);
    if (t->regex == NULL) {
        pcre2_get_error_message(code, msg, sizeof(msg));
        return apr_psprintf(p, "bad regular expression '%s' at offset %lu: "
                            "%s", regex, (unsigned long)offset,
                            (const char *)msg);
    }
    apr_pool_cleanup_register(p, t->regex, free_regex,
                              apr_pool_cleanup_null);
    if (pcre2_pattern_info(t->regex, PCRE2_INFO_CAPTURECOUNT,
                           &t->captures) != 0) {
        t->captures = 0;
    }
    t->regex_text = apr_pstrdup(p, regex);
    return NULL;
}

const char *certmap_template_compile(apr_pool_t *p, const char *text,
                                     const char *regex,
                                     certmap_template_t **tpl)
{
    certmap_template_t *t;
    const char *s, *open, *close, *err;

    *tpl = NULL;
    if (text == NULL || !is_valid_utf8(text, strlen(text))) {
        return "the user name is not valid UTF-8";
    }
    if (strstr(text, "%{") == NULL && regex == NULL) {
        return NULL;
    }
    t = apr_pcalloc(p, sizeof(*t));
    t->text = apr_pstrdup(p, text);
    t->parts = apr_array_make(p, 2, sizeof(template_part_t));
    for (s = text; (open = strstr(s, "%{")) != NULL; s = close + 1) {
        close = strchr(open, '}');
        if (close == NULL) {
            return apr_psprintf(p, "'%s': %%{ without }", text);
        }
        add_literal(p, t, s, (apr_size_t)(open - s));
        if ((err = compile_selector(p, apr_pstrndup(p, open + 2,
                                                    close - open - 2), t))) {
            return err;
        }
    }
    add_literal(p, t, s, strlen(s));
    if (regex && (err = compile_regex(p, regex, t))) {
        return err;
    }
    *tpl = t;
    return NULL;
}

const char *certmap_template_text(apr_pool_t *p,
                                  const certmap_template_t *tpl)
{
    if (tpl->regex_text == NULL) {
        return tpl->text;
    }
    return apr_pstrcat(p, tpl->text, " matching ",
                       quote_criteria(p, tpl->regex_text), NULL);
}

/* The first value of the selector's sub-field, or NULL when there is
 * none; its value is NULL when it can never be used (NUL, undecodable). */
static const cert_attr_t *first_value(const certmap_rule_t *sel,
                                      const certmap_cert_t *cert)
{
    const cert_attr_t *a = cert->attrs[sel->field];
    int i;

    for (i = 0; i < cert->nattrs[sel->field]; i++) {
        if (same_type(&a[i], sel)) {
            return &a[i];
        }
    }
    return NULL;
}

static int append(char *buf, apr_size_t size, apr_size_t *len,
                  const char *s, apr_size_t n)
{
    if (n > size - 1 - *len) {
        return 0;
    }
    memcpy(buf + *len, s, n);
    *len += n;
    return 1;
}

/* The name before the safety checks, in buf[*start, *start + *len);
 * allocates nothing but the regex's match data.  A value present but
 * unusable, or a text too long for buf, is CERTMAP_NAME_BAD: the
 * mapping wins and the request is refused. */
static certmap_name_e expand_name(const certmap_template_t *t,
                                  const certmap_cert_t *cert, char *buf,
                                  apr_size_t size, apr_size_t *start,
                                  apr_size_t *len)
{
    pcre2_match_data *md;
    PCRE2_SIZE *ov;
    int i, rc;

    *start = *len = 0;
    for (i = 0; i < t->parts->nelts; i++) {
        const template_part_t *part = &APR_ARRAY_IDX(t->parts, i,
                                                     template_part_t);
        const cert_attr_t *a;

        if (part->select == NULL) {
            if (!append(buf, size, len, part->literal, part->literal_len)) {
                return CERTMAP_NAME_BAD;
            }
            continue;
        }
        if ((a = first_value(part->select, cert)) == NULL) {
            return CERTMAP_NAME_NONE;
        }
        if (a->value == NULL
            || !append(buf, size, len, a->value, a->value_len)) {
            return CERTMAP_NAME_BAD;
        }
    }
    buf[*len] = '\0';
    if (t->regex == NULL) {
        return CERTMAP_NAME_OK;
    }
    md = pcre2_match_data_create_from_pattern(t->regex, NULL);
    if (md == NULL) {
        return CERTMAP_NAME_BAD;
    }
    rc = pcre2_match(t->regex, (PCRE2_SPTR)buf, *len, 0, 0, md, NULL);
    if (rc < 0) {
        pcre2_match_data_free(md);
        return rc == PCRE2_ERROR_NOMATCH ? CERTMAP_NAME_NONE
                                         : CERTMAP_NAME_BAD;
    }
    if (t->captures > 0) {
        ov = pcre2_get_ovector_pointer(md);
        if (ov[2] == PCRE2_UNSET || ov[3] < ov[2]) {
            pcre2_match_data_free(md);
            return CERTMAP_NAME_BAD;
        }
        *start = ov[2];
        *len = ov[3] - ov[2];
    }
    pcre2_match_data_free(md);
    return CERTMAP_NAME_OK;
}

/* Why a name never logs on, or NULL when it may. */
static const char *bad_name(const char *s, apr_size_t n)
{
    apr_size_t i = 0;

    if (n == 0) {
        return "it is empty";
    }
    if (n > CERTMAP_MAX_ACCOUNT) {
        return "it is longer than 256 bytes";
    }
    if (s[0] == '-') {
        return "it starts with '-'";
    }
    while (i < n) {
        ucs4_t c;
        int len = u8_mbtoucr(&c, (const uint8_t *)s + i, n - i);

        if (len <= 0) {
            return "it is not valid UTF-8";
        }
        if (c == 0) {
            return "it holds a NUL";
        }
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) {
            return "it holds a control character";
        }
        if (c == '/') {
            return "it holds a '/'";
        }
        i += (apr_size_t)len;
    }
    return NULL;
}

static const char *escape_for_log(apr_pool_t *p, const char *s,
                                  apr_size_t n);

certmap_name_e certmap_template_expand(apr_pool_t *p,
                                       const certmap_template_t *tpl,
                                       const certmap_cert_t *cert,
                                       const char **name, const char **why)
{
    char buf[4 * CERTMAP_MAX_ACCOUNT + 2];
    apr_size_t start, len;
    certmap_name_e rc = expand_name(tpl, cert, buf, sizeof(buf), &start,
                                    &len);
    const char *bad;

    *name = NULL;
    *why = NULL;
    switch (rc) {
    case CERTMAP_NAME_NONE:
        *why = apr_psprintf(p, "user template '%s' gives no name for this "
                            "certificate", certmap_template_text(p, tpl));
        return rc;
    case CERTMAP_NAME_BAD:
        *why = apr_psprintf(p, "user template '%s' gives a name that is "
                            "too long or holds an unusable value",
                            certmap_template_text(p, tpl));
        return rc;
    default:
        break;
    }
    if ((bad = bad_name(buf + start, len)) != NULL) {
        *why = apr_psprintf(p, "user template '%s' gives '%s': %s",
                            certmap_template_text(p, tpl),
                            escape_for_log(p, buf + start,
                                           len > 300 ? 300 : len), bad);
        return CERTMAP_NAME_BAD;
    }
    *name = apr_pstrmemdup(p, buf + start, len);
    return CERTMAP_NAME_OK;
}

/* ---- certificates as configured ---------------------------------------- */

/* Every byte of a base64 text: its 6-bit value, or one of these. */
#define B64_BAD   -1
#define B64_BLANK -2            /* space, tab, CR, LF: skipped */
#define B64_PAD   -3            /* '=' */

static const signed char b64_values[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -2, -2, -1, -1, -2, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -2, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -3, -1, -1,
    -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static const char *bad_base64_char(apr_pool_t *p, unsigned char c,
                                   apr_size_t offset)
{
    return apr_psprintf(p, "invalid character 0x%02X at offset %"
                        APR_SIZE_T_FMT " in the base64 certificate%s",
                        c, offset,
                        c == '-' ? " (a PEM file? use file:PATH)" : "");
}

/* Decodes base64 in one pass, blanks skipped, alphabet and padding
 * checked: 100,000 one-to-one mappings are 100,000 of these at start-up,
 * and a compacted copy plus apr_base64's own passes cost twice as much. */
static const char *decode_base64(apr_pool_t *p, const char *text,
                                 unsigned char **out, apr_size_t *out_len)
{
    const unsigned char *in = (const unsigned char *)text;
    apr_size_t i, sextets = 0, pad = 0, o = 0;
    unsigned char *buf = apr_palloc(p, strlen(text) / 4 * 3 + 3);
    apr_uint32_t acc = 0;

    for (i = 0; in[i]; i++) {
        int v;

        /* Fast path: four base64 characters, three bytes (a blob on one
         * line is nothing else until its padding). */
        while (pad == 0 && (sextets & 3) == 0) {
            int a = b64_values[in[i]], b, c, d;

            if (a < 0 || (b = b64_values[in[i + 1]]) < 0
                || (c = b64_values[in[i + 2]]) < 0
                || (d = b64_values[in[i + 3]]) < 0) {
                break;
            }
            acc = ((apr_uint32_t)a << 18) | ((apr_uint32_t)b << 12)
                  | ((apr_uint32_t)c << 6) | (apr_uint32_t)d;
            buf[o++] = (unsigned char)(acc >> 16);
            buf[o++] = (unsigned char)(acc >> 8);
            buf[o++] = (unsigned char)acc;
            sextets += 4;
            i += 4;
        }
        if (!in[i]) {
            break;
        }
        v = b64_values[in[i]];

        if (v >= 0 && pad == 0) {
            acc = (acc << 6) | (apr_uint32_t)v;
            if ((++sextets & 3) == 0) {
                buf[o++] = (unsigned char)(acc >> 16);
                buf[o++] = (unsigned char)(acc >> 8);
                buf[o++] = (unsigned char)acc;
            }
        }
        else if (v >= 0) {
            return "bad base64 padding ('=' before the end)";
        }
        else if (v == B64_PAD) {
            pad++;
        }
        else if (v == B64_BAD) {
            return bad_base64_char(p, in[i], i);
        }
    }
    if (sextets + pad == 0) {
        return "empty certificate";
    }
    if ((sextets + pad) % 4 != 0 || pad > 2) {
        return "bad base64 padding or length";
    }
    if (sextets + pad > 2 * CERTMAP_MAX_CERT_FILE) {
        return "certificate too large";
    }
    /* the last group: 3 sextets give 2 bytes, 2 give 1 */
    if (pad == 1) {
        acc <<= 6;
        buf[o++] = (unsigned char)(acc >> 16);
        buf[o++] = (unsigned char)(acc >> 8);
    }
    else if (pad == 2) {
        acc <<= 12;
        buf[o++] = (unsigned char)(acc >> 16);
    }
    *out = buf;
    *out_len = o;
    return NULL;
}

/* The DER check proves the bytes are one well-formed X.509 certificate
 * (RFC 5280 4.1): every element of Certificate and TBSCertificate in
 * order with its tag, every length definite, minimal and inside its
 * parent, INTEGERs, OIDs and BIT STRINGs well-formed, and what the
 * engine treats as opaque (algorithm parameters, attribute values,
 * extensions' contents) one TLV each.  A hand-written walk,
 * not OpenSSL: d2i_X509 runs the provider decoders on the key (about
 * 250 us a certificate), and even an ASN.1 template allocates every
 * element: 100,000 one-to-one mappings are checked at start-up.  Nothing
 * here is kept; the certificate itself is never trusted by this check. */
typedef struct {
    const unsigned char *p, *end;
} der_t;

#define DER_INTEGER     0x02
#define DER_BIT_STRING  0x03
#define DER_OCTETS      0x04
#define DER_OID         0x06
#define DER_BOOLEAN     0x01
#define DER_UTCTIME     0x17
#define DER_GENTIME     0x18
#define DER_SEQUENCE    0x30
#define DER_SET         0x31
#define DER_CONSTRUCTED 0x20

/* Reads one TLV of low tag number form; its contents go to *inner. */
static int der_any(der_t *d, unsigned char *tag, der_t *inner)
{
    apr_size_t avail = (apr_size_t)(d->end - d->p), len, i, nlen;

    if (avail < 2 || (d->p[0] & 0x1f) == 0x1f) {
        return 0;
    }
    *tag = d->p[0];
    len = d->p[1];
    i = 2;
    if (len & 0x80) {
        nlen = len & 0x7f;
        /* no indefinite length, no leading zero, long form only >= 128 */
        if (nlen == 0 || nlen > 4 || avail < 2 + nlen || d->p[2] == 0) {
            return 0;
        }
        for (len = 0; i < 2 + nlen; i++) {
            len = (len << 8) | d->p[i];
        }
        if (len < 0x80) {
            return 0;
        }
    }
    if (len > avail - i) {
        return 0;
    }
    inner->p = d->p + i;
    inner->end = inner->p + len;
    d->p = inner->end;
    return 1;
}

/* Reads one TLV that must carry `tag`. */
static int der_expect(der_t *d, unsigned char tag, der_t *inner)
{
    unsigned char got;
    der_t save = *d;

    if (!der_any(d, &got, inner) || got != tag) {
        *d = save;
        return 0;
    }
    return 1;
}

/* Is the next TLV tagged `tag`?  (For OPTIONAL elements.) */
static int der_peek(const der_t *d, unsigned char tag)
{
    return d->p < d->end && d->p[0] == tag;
}

/* Minimal two's complement, as OpenSSL requires. */
static int der_integer_ok(der_t v)
{
    apr_size_t n = (apr_size_t)(v.end - v.p);

    return n == 1 || (n > 1 && !((v.p[0] == 0x00 && !(v.p[1] & 0x80))
                                 || (v.p[0] == 0xff && (v.p[1] & 0x80))));
}

/* Base-128 sub-identifiers without padding, the last one complete. */
static int der_oid_ok(der_t v)
{
    int start = 1;

    if (v.p == v.end || (v.end[-1] & 0x80)) {
        return 0;
    }
    for (; v.p < v.end; v.p++) {
        if (start && *v.p == 0x80) {
            return 0;
        }
        start = !(*v.p & 0x80);
    }
    return 1;
}

/* The count of unused bits first, at most 7, and 0 when empty. */
static int der_bits_ok(der_t v)
{
    apr_size_t n = (apr_size_t)(v.end - v.p);

    return n > 0 && v.p[0] <= 7 && (n > 1 || v.p[0] == 0);
}

/* Unused bits zero, as DER wants (checked by der_signature only). */
static int der_bits_zero(der_t v)
{
    apr_size_t n = (apr_size_t)(v.end - v.p);

    return n < 2 || (v.end[-1] & ((1u << v.p[0]) - 1)) == 0;
}

static int der_integer(der_t *d)
{
    der_t v;

    return der_expect(d, DER_INTEGER, &v) && der_integer_ok(v);
}

static int der_oid(der_t *d)
{
    der_t v;

    return der_expect(d, DER_OID, &v) && der_oid_ok(v);
}

static int der_bit_string(der_t *d, unsigned char tag)
{
    der_t v;

    return der_expect(d, tag, &v) && der_bits_ok(v);
}

/* The content rules OpenSSL's ANY decoding applies to the universal
 * types, so that a value it refuses is refused here too. */
static int der_universal_ok(unsigned char tag, der_t v)
{
    apr_size_t n = (apr_size_t)(v.end - v.p);

    switch (tag) {
    case DER_BOOLEAN:
        return n == 1;
    case DER_INTEGER:
    case 0x0a:                  /* ENUMERATED */
        return der_integer_ok(v);
    case DER_BIT_STRING:
        return der_bits_ok(v);
    case 0x05:                  /* NULL */
        return n == 0;
    case DER_OID:
        return der_oid_ok(v);
    case 0x1c:                  /* UniversalString */
        return n % 4 == 0;
    case 0x1e:                  /* BMPString */
        return n % 2 == 0;
    case 0x00:                  /* end-of-contents is no value */
    case 0x10:                  /* SEQUENCE and SET are constructed */
    case 0x11:
        return 0;
    default:
        return 1;
    }
}

/* One opaque TLV of any tag (ASN.1 ANY).  Like d2i_X509, this does not
 * look inside a SEQUENCE, SET or context-tagged value; DER has no
 * constructed strings. */
static int der_value(der_t *d)
{
    unsigned char tag;
    der_t inner;

    if (!der_any(d, &tag, &inner)) {
        return 0;
    }
    if ((tag & 0xc0) != 0) {
        return 1;
    }
    if (tag & DER_CONSTRUCTED) {
        return tag == DER_SEQUENCE || tag == DER_SET;
    }
    return der_universal_ok(tag, inner);
}

/* Nothing may follow inside the enclosing element. */
static int der_done(const der_t *d)
{
    return d->p == d->end;
}

/* AlgorithmIdentifier ::= SEQUENCE { OID, parameters ANY OPTIONAL } */
static int der_algorithm(der_t *d)
{
    der_t a;

    return der_expect(d, DER_SEQUENCE, &a) && der_oid(&a)
           && (der_done(&a) || der_value(&a)) && der_done(&a);
}

/* The signature algorithm and the signature after the TBSCertificate.
 * OpenSSL keeps the TBSCertificate's bytes as they came, but re-encodes
 * these two to digest a certificate, and reading a BIT STRING clears its
 * unused bits: one set here would give the client's certificate another
 * fingerprint than the very same bytes configured one-to-one, a mapping
 * that could never match.  Here the unused bits must be zero (DER). */
static int der_signature(der_t *d)
{
    der_t alg, params, v;
    unsigned char tag;

    if (!der_expect(d, DER_SEQUENCE, &alg) || !der_oid(&alg)) {
        return 0;
    }
    params = alg;
    if (!der_done(&alg) && (!der_value(&alg) || !der_done(&alg))) {
        return 0;
    }
    if (der_peek(&params, DER_BIT_STRING)
        && (!der_any(&params, &tag, &v) || !der_bits_zero(v))) {
        return 0;
    }
    return der_expect(d, DER_BIT_STRING, &v) && der_bits_ok(v)
           && der_bits_zero(v);
}

/* Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY } */
static int der_name(der_t *d)
{
    der_t name, rdn, atv;

    if (!der_expect(d, DER_SEQUENCE, &name)) {
        return 0;
    }
    while (!der_done(&name)) {
        if (!der_expect(&name, DER_SET, &rdn)) {
            return 0;
        }
        while (!der_done(&rdn)) {
            if (!der_expect(&rdn, DER_SEQUENCE, &atv) || !der_oid(&atv)
                || !der_value(&atv) || !der_done(&atv)) {
                return 0;
            }
        }
    }
    return 1;
}

static int der_time(der_t *d)
{
    der_t v;

    return der_expect(d, DER_UTCTIME, &v) || der_expect(d, DER_GENTIME, &v);
}

static int der_validity(der_t *d)
{
    der_t val;

    return der_expect(d, DER_SEQUENCE, &val) && der_time(&val)
           && der_time(&val) && der_done(&val);
}

/* SubjectPublicKeyInfo, the key kept as raw bits. */
static int der_key(der_t *d)
{
    der_t spki;

    return der_expect(d, DER_SEQUENCE, &spki) && der_algorithm(&spki)
           && der_bit_string(&spki, DER_BIT_STRING) && der_done(&spki);
}

/* [3] EXPLICIT SEQUENCE OF Extension, where
 * Extension ::= SEQUENCE { OID, critical BOOLEAN OPTIONAL, OCTET STRING } */
static int der_extensions(der_t *d)
{
    der_t wrap, list, ext, v;

    if (!der_expect(d, 0xa3, &wrap)
        || !der_expect(&wrap, DER_SEQUENCE, &list) || !der_done(&wrap)) {
        return 0;
    }
    while (!der_done(&list)) {
        if (!der_expect(&list, DER_SEQUENCE, &ext) || !der_oid(&ext)) {
            return 0;
        }
        if (der_peek(&ext, DER_BOOLEAN)
            && (!der_expect(&ext, DER_BOOLEAN, &v) || v.end - v.p != 1)) {
            return 0;
        }
        if (!der_expect(&ext, DER_OCTETS, &v) || !der_done(&ext)) {
            return 0;
        }
    }
    return 1;
}

/* TBSCertificate, version through extensions, nothing after them. */
static int der_tbs(der_t *d)
{
    der_t tbs, version;

    if (!der_expect(d, DER_SEQUENCE, &tbs)) {
        return 0;
    }
    if (der_peek(&tbs, 0xa0)
        && (!der_expect(&tbs, 0xa0, &version) || !der_integer(&version)
            || !der_done(&version))) {
        return 0;
    }
    if (!der_integer(&tbs) || !der_algorithm(&tbs) || !der_name(&tbs)
        || !der_validity(&tbs) || !der_name(&tbs) || !der_key(&tbs)) {
        return 0;
    }
    if (der_peek(&tbs, 0x81) && !der_bit_string(&tbs, 0x81)) {
        return 0;
    }
    if (der_peek(&tbs, 0x82) && !der_bit_string(&tbs, 0x82)) {
        return 0;
    }
    if (der_peek(&tbs, 0xa3) && !der_extensions(&tbs)) {
        return 0;
    }
    return der_done(&tbs);
}

/* The DER must be exactly one X.509 certificate, nothing after it. */
static const char *check_one_certificate(apr_pool_t *p,
                                         const unsigned char *der,
                                         apr_size_t der_len)
{
    der_t d = { der, der + der_len }, cert;
    unsigned char tag;

    if (der_len == 0 || der_len > CERTMAP_MAX_CERT_FILE) {
        return "not an X.509 certificate (bad size)";
    }
    if (!der_any(&d, &tag, &cert) || tag != DER_SEQUENCE) {
        return "not an X.509 certificate (no DER SEQUENCE)";
    }
    if (!der_tbs(&cert) || !der_signature(&cert) || !der_done(&cert)) {
        return "not an X.509 certificate (malformed DER)";
    }
    if (!der_done(&d)) {
        return apr_psprintf(p, "%" APR_SIZE_T_FMT " bytes of trailing data "
                            "after the certificate",
                            (apr_size_t)(d.end - d.p));
    }
    return NULL;
}

const char *certmap_der_from_base64(apr_pool_t *p, const char *text,
                                    unsigned char **der, apr_size_t *der_len)
{
    unsigned char *out = NULL;
    apr_size_t n = 0;
    const char *err;

    if (text == NULL) {
        return "empty certificate";
    }
    if ((err = decode_base64(p, text, &out, &n))
        || (err = check_one_certificate(p, out, n))) {
        return err;
    }
    *der = out;
    *der_len = n;
    return NULL;
}

static const char *read_whole_file(apr_pool_t *p, const char *path,
                                   char **data, apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t finfo;
    apr_status_t rv;
    apr_size_t got;
    char ebuf[120];

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_OS_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&finfo, APR_FINFO_SIZE, f);
        if (rv == APR_SUCCESS && finfo.size > CERTMAP_MAX_CERT_FILE) {
            apr_file_close(f);
            return apr_psprintf(p, "'%s' is too large for a certificate",
                                path);
        }
        if (rv == APR_SUCCESS) {
            *data = apr_palloc(p, (apr_size_t)finfo.size + 1);
            rv = apr_file_read_full(f, *data, (apr_size_t)finfo.size, &got);
            if (rv == APR_EOF && got == (apr_size_t)finfo.size) {
                rv = APR_SUCCESS;
            }
        }
        apr_file_close(f);
    }
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "cannot read '%s': %s", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
    }
    (*data)[got] = '\0';
    *len = got;
    return NULL;
}

/* The DER of the first CERTIFICATE block of a PEM text. */
static const char *der_from_pem(apr_pool_t *p, const char *path,
                                const char *data, apr_size_t len,
                                unsigned char **der, apr_size_t *der_len)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    unsigned char *bytes = NULL;
    char *name = NULL;
    long n = 0;
    int ok;

    if (bio == NULL) {
        return apr_psprintf(p, "'%s': %s", path, openssl_reason(p));
    }
    ok = PEM_bytes_read_bio(&bytes, &n, &name, PEM_STRING_X509, bio,
                            NULL, NULL);
    BIO_free(bio);
    OPENSSL_free(name);
    if (!ok) {
        return apr_psprintf(p, "'%s': no PEM certificate found (%s)", path,
                            openssl_reason(p));
    }
    *der = apr_pmemdup(p, bytes, (apr_size_t)n);
    *der_len = (apr_size_t)n;
    OPENSSL_free(bytes);
    return NULL;
}

const char *certmap_der_from_file(apr_pool_t *p, const char *path,
                                  unsigned char **der, apr_size_t *der_len)
{
    char *data;
    apr_size_t len;
    const char *err;

    if ((err = read_whole_file(p, path, &data, &len))) {
        return err;
    }
    /* memmem, not strstr: a DER file holds NUL bytes */
    if (memmem(data, len, "-----BEGIN", 10) != NULL) {
        err = der_from_pem(p, path, data, len, der, der_len);
    }
    else {
        *der = (unsigned char *)data;
        *der_len = len;
    }
    if (err == NULL) {
        err = check_one_certificate(p, *der, *der_len);
        if (err) {
            err = apr_psprintf(p, "'%s': %s", path, err);
        }
    }
    return err;
}

const char *certmap_der_to_blob(apr_pool_t *p, const unsigned char *der,
                                apr_size_t der_len)
{
    char *out;

    if (der_len > CERTMAP_MAX_CERT_FILE) {
        return NULL;
    }
    out = apr_palloc(p, apr_base64_encode_len((int)der_len));
    apr_base64_encode_binary(out, der, (int)der_len);
    return out;
}

/* ---- tables ------------------------------------------------------------ */

/* The one-to-one index is an open-addressing table of 32-bit positions,
 * not an apr_hash_t: at 100,000 mappings an apr_hash entry (40 bytes, and
 * its bucket arrays left behind in the pool as it grows) would cost more
 * than the mapping itself.  The slots live in malloc'ed memory, freed
 * when the table's pool goes, so growing leaves nothing behind. */
static apr_status_t free_slots(void *data)
{
    certmap_table_t *t = data;

    free(t->slots);
    t->slots = NULL;
    free(t->one_to_one_list.elts);
    t->one_to_one_list.elts = NULL;
    t->one_to_one_list.nelts = t->one_to_one_list.nalloc = 0;
    return APR_SUCCESS;
}

/* SHA-256 output is uniformly distributed: its first bytes are a hash. */
static apr_size_t fingerprint_slot(const unsigned char *fp, apr_size_t mask)
{
    apr_uint32_t h;

    memcpy(&h, fp, sizeof(h));
    return h & mask;
}

static const certmap_mapping_t *find_fingerprint(const certmap_table_t *t,
                                                 const unsigned char *fp)
{
    apr_size_t i;

    if (t->slots == NULL) {
        return NULL;
    }
    for (i = fingerprint_slot(fp, t->slot_mask); t->slots[i];
         i = (i + 1) & t->slot_mask) {
        const certmap_mapping_t *m = APR_ARRAY_IDX(t->one_to_one,
                                                   t->slots[i] - 1,
                                                   certmap_mapping_t *);
        if (memcmp(m->fingerprint, fp, CERTMAP_SHA256_LEN) == 0) {
            return m;
        }
    }
    return NULL;
}

static void place_fingerprint(apr_uint32_t *slots, apr_size_t mask,
                              const unsigned char *fp, apr_uint32_t pos)
{
    apr_size_t i = fingerprint_slot(fp, mask);

    while (slots[i]) {
        i = (i + 1) & mask;
    }
    slots[i] = pos;
}

/* Keeps the table at most half full so that probes stay short. */
static int grow_slots(certmap_table_t *t)
{
    apr_size_t count = (apr_size_t)t->one_to_one->nelts;
    apr_size_t size = t->slots ? t->slot_mask + 1 : 0;
    apr_uint32_t *slots;
    apr_size_t i;

    if (2 * (count + 1) <= size) {
        return 1;
    }
    size = size ? 2 * size : 16;
    slots = calloc(size, sizeof(*slots));
    if (slots == NULL || count + 1 >= 0xffffffffUL) {
        free(slots);
        return 0;
    }
    for (i = 0; i < count; i++) {
        place_fingerprint(slots, size - 1,
                          APR_ARRAY_IDX(t->one_to_one, i,
                                        certmap_mapping_t *)->fingerprint,
                          (apr_uint32_t)(i + 1));
    }
    free(t->slots);
    t->slots = slots;
    t->slot_mask = size - 1;
    return 1;
}

/* Room for one more one-to-one mapping.  A pool never gives memory back,
 * so an apr_array doubling up to a million pointers would leave as much
 * again behind in old copies; realloc'd memory does not. */
static int grow_one_to_one(certmap_table_t *t)
{
    apr_array_header_t *list = &t->one_to_one_list;
    apr_size_t size;
    char *elts;

    if (list->nelts < list->nalloc) {
        return 1;
    }
    size = list->nalloc ? 2 * (apr_size_t)list->nalloc : 16;
    if (size > 0x7fffffffUL) {
        return 0;
    }
    elts = realloc(list->elts, size * sizeof(certmap_mapping_t *));
    if (elts == NULL) {
        return 0;
    }
    list->elts = elts;
    list->nalloc = (int)size;
    return 1;
}

certmap_table_t *certmap_table_make(apr_pool_t *p)
{
    certmap_table_t *t = apr_pcalloc(p, sizeof(*t));

    t->pool = p;
    t->one_to_one_list.elt_size = sizeof(certmap_mapping_t *);
    t->one_to_one = &t->one_to_one_list;
    apr_pool_cleanup_register(p, t, free_slots, apr_pool_cleanup_null);
    t->many_to_one = apr_array_make(p, 4, sizeof(certmap_mapping_t *));
    t->by_name = apr_hash_make(p);
    t->index = apr_hash_make(p);
    t->prefix_index = apr_hash_make(p);
    t->suffix_index = apr_hash_make(p);
    t->gram_index = apr_hash_make(p);
    t->affix_kinds = apr_array_make(p, 1, sizeof(affix_kind_t));
    t->unindexed = apr_array_make(p, 4, sizeof(int));
    return t;
}

void certmap_table_set_id(certmap_table_t *t, apr_uint64_t id)
{
    t->id = id;
}

apr_uint64_t certmap_table_id(const certmap_table_t *t)
{
    return t->id;
}

static const apr_array_header_t *table_list(const certmap_table_t *t,
                                            int many)
{
    return many ? t->many_to_one : t->one_to_one;
}

int certmap_table_locate(const apr_array_header_t *tables,
                         const certmap_mapping_t *m, int *table, int *many)
{
    int i, k;

    for (i = 0; tables && m && i < tables->nelts; i++) {
        const certmap_table_t *t = APR_ARRAY_IDX(tables, i,
                                                 const certmap_table_t *);
        for (k = 0; k < 2; k++) {
            const apr_array_header_t *list = table_list(t, k);
            if (m->position >= 0 && m->position < list->nelts
                && APR_ARRAY_IDX(list, m->position, certmap_mapping_t *)
                   == m) {
                *table = i;
                *many = k;
                return 1;
            }
        }
    }
    return 0;
}

const certmap_mapping_t *certmap_table_mapping_at(
    const apr_array_header_t *tables, int table, int many, int position)
{
    const apr_array_header_t *list;

    if (!tables || table < 0 || table >= tables->nelts) {
        return NULL;
    }
    list = table_list(APR_ARRAY_IDX(tables, table, const certmap_table_t *),
                      many);
    if (position < 0 || position >= list->nelts) {
        return NULL;
    }
    return APR_ARRAY_IDX(list, position, certmap_mapping_t *);
}

static const char *where(apr_pool_t *p, const certmap_mapping_t *m)
{
    if (m->file == NULL) {
        return "";
    }
    return apr_psprintf(p, " (%s:%u)", m->file, m->line);
}

const char *certmap_table_add_one_to_one(certmap_table_t *t,
                                         const unsigned char *der,
                                         apr_size_t der_len,
                                         certmap_mapping_t *m)
{
    const certmap_mapping_t *other;

    /* the fingerprint takes the room of the many-to-one members */
    if (m->many.rules || m->many.description || m->many.user_match
        || m->many.user_template || m->one_to_one) {
        return "a one-to-one mapping has no rules, description or "
               "account template";
    }
    if (!EVP_Digest(der, der_len, m->fingerprint, NULL, sha256(), NULL)) {
        return apr_psprintf(t->pool, "cannot digest the certificate (%s)",
                            openssl_reason(t->pool));
    }
    other = find_fingerprint(t, m->fingerprint);
    if (other) {
        return apr_psprintf(t->pool, "this certificate is already mapped "
                            "to '%s'%s", other->user ? other->user : "",
                            where(t->pool, other));
    }
    if (!grow_slots(t) || !grow_one_to_one(t)) {
        return "out of memory for one-to-one mappings";
    }
    m->one_to_one = 1;
    m->position = t->one_to_one->nelts++;
    APR_ARRAY_IDX(t->one_to_one, m->position, certmap_mapping_t *) = m;
    place_fingerprint(t->slots, t->slot_mask, m->fingerprint,
                      (apr_uint32_t)t->one_to_one->nelts);
    return NULL;
}

/* Writes an index key: field, case mode, attribute type, value. */
static apr_size_t write_key(char *key, certmap_field_e field, int folded,
                            const unsigned char *oid, apr_size_t oid_len,
                            const char *value, apr_size_t value_len)
{
    key[0] = (char)field;
    key[1] = (char)folded;
    key[2] = (char)oid_len;
    memcpy(key + 3, oid, oid_len);
    memcpy(key + 3 + oid_len, value, value_len);
    return 3 + oid_len + value_len;
}

static char *make_key(apr_pool_t *p, certmap_field_e field, int folded,
                      const unsigned char *oid, apr_size_t oid_len,
                      const char *value, apr_size_t value_len,
                      apr_size_t *key_len)
{
    char *key = apr_palloc(p, 3 + oid_len + value_len);

    *key_len = write_key(key, field, folded, oid, oid_len, value, value_len);
    return key;
}

/* The index key of a rule for pattern bytes [offset, offset + n), in
 * buf when it fits. */
static const char *rule_key(apr_pool_t *p, const certmap_rule_t *rule,
                            apr_size_t offset, apr_size_t n,
                            char *buf, apr_size_t size, apr_size_t *len)
{
    if (3 + rule->oid_len + n > size) {
        return make_key(p, rule->field, rule->case_insensitive, rule->oid,
                        rule->oid_len, rule->pattern + offset, n, len);
    }
    *len = write_key(buf, rule->field, rule->case_insensitive, rule->oid,
                     rule->oid_len, rule->pattern + offset, n);
    return buf;
}

/* Exact, prefix, suffix and contains rules can be looked up from a
 * certificate's values.  Suffix keys are assembled on the stack at match
 * time, hence their length limit; a longer suffix rule is simply not
 * indexed. */
static int rule_is_indexable(const certmap_rule_t *rule)
{
    if (rule->oid_len > CERTMAP_MAX_KEY_OID) {
        return 0;
    }
    switch (rule->kind) {
    case CRITERIA_EXACT:
        return 1;
    case CRITERIA_PREFIX:
    case CRITERIA_CONTAINS:
        return rule->pattern_len > 0;
    case CRITERIA_SUFFIX:
        return rule->pattern_len > 0
               && rule->pattern_len <= CERTMAP_MAX_KEY_SUFFIX;
    default:
        return 0;
    }
}

/* Records that the table holds keys of this kind and length for the
 * rule's (field, case mode, type), so that matching looks up only those. */
static void note_affix_kind(certmap_table_t *t, const certmap_rule_t *rule,
                            apr_size_t len)
{
    affix_kind_t *k;
    int i;

    for (i = 0; i < t->affix_kinds->nelts; i++) {
        k = &APR_ARRAY_IDX(t->affix_kinds, i, affix_kind_t);
        if (k->kind == rule->kind && k->field == rule->field
            && k->folded == rule->case_insensitive
            && types_equal(k->nid, k->oid, k->oid_len, rule->nid,
                           rule->oid, rule->oid_len)) {
            k->min_len = len < k->min_len ? len : k->min_len;
            k->max_len = len > k->max_len ? len : k->max_len;
            return;
        }
    }
    k = apr_array_push(t->affix_kinds);
    k->kind = rule->kind;
    k->field = rule->field;
    k->folded = rule->case_insensitive;
    k->oid = rule->oid;
    k->oid_len = rule->oid_len;
    k->nid = rule->nid;
    k->min_len = k->max_len = len;
}

static apr_hash_t *index_for(const certmap_table_t *t, criteria_kind_e kind)
{
    switch (kind) {
    case CRITERIA_PREFIX:
        return t->prefix_index;
    case CRITERIA_SUFFIX:
        return t->suffix_index;
    case CRITERIA_CONTAINS:
        return t->gram_index;
    default:
        return t->index;
    }
}

/* How many certificates a key of this rule's sub-field is likely to
 * match, relative to a per-user one: an Issuer value is shared by every
 * client of a CA, C/O/L/S by a whole organisation, OU/DC/T by a
 * department; CN, E, UID, SERIALNUMBER and the rest name one subject. */
static apr_size_t rule_weight(const certmap_rule_t *rule)
{
    if (rule->field == CERTMAP_ISSUER || field_is_flag(rule->field)) {
        return 64;
    }
    switch (rule->nid) {
    case NID_countryName:
    case NID_organizationName:
    case NID_localityName:
    case NID_stateOrProvinceName:
    case NID_streetAddress:
        return 16;
    case NID_organizationalUnitName:
    case NID_domainComponent:
    case NID_title:
        return 3;
    default:
        return 1;
    }
}

/* One place a mapping could be filed, and its expected cost. */
typedef struct {
    const certmap_rule_t *rule;
    apr_size_t offset, len;     /* of the pattern bytes in the key */
    apr_size_t cost;
} index_choice_t;

static apr_size_t bucket_size(const certmap_table_t *t,
                              const certmap_rule_t *rule,
                              apr_size_t offset, apr_size_t len)
{
    char buf[512];
    const apr_array_header_t *list;
    const char *key;
    apr_size_t key_len;

    key = rule_key(t->pool, rule, offset, len, buf, sizeof(buf), &key_len);
    list = apr_hash_get(index_for(t, rule->kind), key, key_len);
    return list ? (apr_size_t)list->nelts : 0;
}

/* A "*x*" rule is filed under one n-gram of x (every value containing x
 * contains all of them): the one with the shortest list so far, the
 * last on a tie, since what sets patterns apart ("*Division 12*")
 * tends to sit at their end. */
static void best_gram(const certmap_table_t *t, const certmap_rule_t *rule,
                      index_choice_t *c)
{
    apr_size_t len = rule->pattern_len < CERTMAP_GRAM_LEN
                     ? rule->pattern_len : CERTMAP_GRAM_LEN;
    apr_size_t i, count, best = 0;

    c->offset = 0;
    for (i = 0; i + len <= rule->pattern_len; i++) {
        count = bucket_size(t, rule, i, len);
        if (i == 0 || count <= best) {
            best = count;
            c->offset = i;
        }
    }
    c->len = len;
    c->cost = best;
}

/* The expected number of candidates a certificate would draw from
 * filing under `rule`: weight x (list length + 1), affix keys counting
 * half again for their extra lookups. */
static void price_choice(const certmap_table_t *t,
                         const certmap_rule_t *rule, index_choice_t *c)
{
    c->rule = rule;
    if (rule->kind == CRITERIA_CONTAINS) {
        best_gram(t, rule, c);
    }
    else {
        c->offset = 0;
        c->len = rule->pattern_len;
        c->cost = bucket_size(t, rule, 0, rule->pattern_len);
    }
    c->cost = rule_weight(rule) * (c->cost + 1)
              * (rule->kind == CRITERIA_EXACT ? 2 : 3);
}

/* Appends idx to the list under the chosen key: mappings are added in
 * configuration order, so every list stays ascending. */
static void file_under(certmap_table_t *t, const index_choice_t *c, int idx)
{
    const certmap_rule_t *rule = c->rule;
    apr_hash_t *index = index_for(t, rule->kind);
    apr_array_header_t *list;
    const char *key;
    char buf[512];
    apr_size_t key_len;

    key = rule_key(t->pool, rule, c->offset, c->len, buf, sizeof(buf),
                   &key_len);
    list = apr_hash_get(index, key, key_len);
    if (list == NULL) {
        list = apr_array_make(t->pool, 1, sizeof(int));
        apr_hash_set(index, apr_pmemdup(t->pool, key, key_len), key_len,
                     list);
    }
    if (rule->kind != CRITERIA_EXACT) {
        note_affix_kind(t, rule, c->len);
    }
    APR_ARRAY_PUSH(list, int) = idx;
}

/* Files mapping number `idx` under the indexable rule that promises the
 * fewest candidates (price_choice): a rule every client passes (`Issuer
 * O "CertMap Test"`, `Subject O Contoso`) only when nothing better is
 * there, whatever the order of the rules.  Any one rule will do for
 * correctness: each is a necessary condition of the mapping. */
static void index_mapping(certmap_table_t *t, const certmap_mapping_t *m,
                          int idx)
{
    index_choice_t best = { NULL, 0, 0, 0 }, c;
    int i;

    for (i = 0; m->many.rules && i < m->many.rules->nelts; i++) {
        const certmap_rule_t *rule = APR_ARRAY_IDX(m->many.rules, i,
                                                   certmap_rule_t *);
        if (!rule_is_indexable(rule)) {
            continue;
        }
        price_choice(t, rule, &c);
        if (best.rule == NULL || c.cost < best.cost) {
            best = c;
        }
    }
    if (best.rule == NULL) {
        APR_ARRAY_PUSH(t->unindexed, int) = idx;
        return;
    }
    file_under(t, &best, idx);
}

const char *certmap_table_add_many_to_one(certmap_table_t *t,
                                          certmap_mapping_t *m)
{
    const certmap_mapping_t *other;
    const char *key;
    apr_size_t key_len;

    if (m->one_to_one) {
        return "a one-to-one mapping cannot be many-to-one too";
    }
    if (m->name == NULL || *m->name == '\0') {
        return "a many-to-one mapping needs a name";
    }
    key_len = strlen(m->name);
    if (is_valid_utf8(m->name, key_len)) {
        key = fold_utf8(t->pool, m->name, key_len, &key_len);
    }
    else {
        key = m->name;
    }
    other = apr_hash_get(t->by_name, key, key_len);
    if (other) {
        return apr_psprintf(t->pool, "a many-to-one mapping named '%s' "
                            "already exists%s", other->name,
                            where(t->pool, other));
    }
    apr_hash_set(t->by_name, key, key_len, m);
    index_mapping(t, m, t->many_to_one->nelts);
    m->position = t->many_to_one->nelts;
    APR_ARRAY_PUSH(t->many_to_one, certmap_mapping_t *) = m;
    return NULL;
}

const apr_array_header_t *certmap_table_one_to_one(const certmap_table_t *t)
{
    return t->one_to_one;
}

const apr_array_header_t *certmap_table_many_to_one(const certmap_table_t *t)
{
    return t->many_to_one;
}

/* ---- client certificates ----------------------------------------------- */

static apr_status_t release_x509(void *data)
{
    X509_free(data);
    return APR_SUCCESS;
}

/* String types whose ASCII bytes ASN1_STRING_to_UTF8 passes through
 * unchanged (it reads the 1-byte types as Latin-1, UTF8String as UTF-8). */
static int ascii_compatible(int type)
{
    switch (type) {
    case V_ASN1_UTF8STRING:
    case V_ASN1_NUMERICSTRING:
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_T61STRING:
    case V_ASN1_IA5STRING:
    case V_ASN1_UTCTIME:
    case V_ASN1_GENERALIZEDTIME:
    case V_ASN1_VISIBLESTRING:
        return 1;
    default:
        return 0;
    }
}

/* The fast path for the usual name value: ASCII without NUL in a type
 * above is already its own UTF-8, so it is used in place (the
 * certificate outlives cert) and folded with a byte loop; a copy is made
 * only when it has upper case letters.  Returns 0 for anything else. */
static int decode_ascii(apr_pool_t *p, const ASN1_STRING *data,
                        cert_attr_t *a)
{
    const unsigned char *v = ASN1_STRING_get0_data(data);
    apr_size_t i, n = (apr_size_t)ASN1_STRING_length(data), upper = 0;
    char *folded;

    if (v == NULL || !ascii_compatible(ASN1_STRING_type(data))) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (v[i] == 0 || v[i] >= 0x80) {
            return 0;
        }
        upper += v[i] >= 'A' && v[i] <= 'Z';
    }
    a->value = a->folded = (const char *)v;
    a->value_len = a->folded_len = n;
    if (upper) {
        a->folded = folded = apr_palloc(p, n);
        for (i = 0; i < n; i++) {
            folded[i] = (char)fold_code_point(v[i]);
        }
    }
    return 1;
}

/* Any other value, through OpenSSL's conversion to UTF-8 and Unicode
 * folding; a->value stays NULL when the value can never match:
 * undecodable, not UTF-8, or with an embedded NUL. */
static void decode_utf8(apr_pool_t *p, const ASN1_STRING *data,
                        cert_attr_t *a)
{
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, data);

    if (n < 0) {
        ERR_clear_error();
        return;
    }
    if (memchr(utf8, '\0', (apr_size_t)n) == NULL
        && is_valid_utf8((const char *)utf8, (apr_size_t)n)) {
        a->value = apr_pstrmemdup(p, (const char *)utf8, (apr_size_t)n);
        a->value_len = (apr_size_t)n;
        a->folded = fold_utf8(p, a->value, a->value_len, &a->folded_len);
    }
    OPENSSL_free(utf8);
}

/* Decodes one attribute value and builds its index keys.  Values are
 * compared by length, never as C strings: a->value need not end in NUL. */
static void build_keys(apr_pool_t *p, certmap_field_e field,
                       cert_attr_t *a);

static void decode_value(apr_pool_t *p, const ASN1_STRING *data,
                         certmap_field_e field, cert_attr_t *a)
{
    if (!decode_ascii(p, data, a)) {
        decode_utf8(p, data, a);
    }
    build_keys(p, field, a);
}

/* The index keys of a decoded value, exact and folded. */
static void build_keys(apr_pool_t *p, certmap_field_e field, cert_attr_t *a)
{
    int i;

    if (a->value == NULL || a->oid_len > CERTMAP_MAX_KEY_OID) {
        return;
    }
    for (i = CERTMAP_EXACT_KEY; i <= CERTMAP_FOLDED_KEY; i++) {
        a->key[i] = make_key(p, field, i, a->oid, a->oid_len,
                             i ? a->folded : a->value,
                             i ? a->folded_len : a->value_len,
                             &a->key_len[i]);
    }
}

static void parse_name(apr_pool_t *p, const X509_NAME *name,
                       certmap_field_e field, certmap_cert_t *cert)
{
    int i, n = name ? X509_NAME_entry_count(name) : 0;
    cert_attr_t *attrs = apr_pcalloc(p, sizeof(*attrs) * (n ? n : 1));

    for (i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);

        /* the certificate outlives cert: our reference is released
         * only when p is cleared */
        attrs[i].oid_len = (apr_size_t)OBJ_length(obj);
        attrs[i].oid = OBJ_get0_data(obj);
        attrs[i].nid = OBJ_obj2nid(obj);
        decode_value(p, X509_NAME_ENTRY_get_data(e), field, &attrs[i]);
    }
    cert->attrs[field] = attrs;
    cert->nattrs[field] = n;
}

/* ---- client certificates: extensions ---------------------------------- */

/* A growing list of one field's values while a certificate is parsed. */
typedef struct {
    apr_pool_t *p;
    certmap_field_e field;
    apr_array_header_t *attrs;          /* of cert_attr_t */
} value_list_t;

static void list_begin(value_list_t *l, apr_pool_t *p,
                       certmap_field_e field)
{
    l->p = p;
    l->field = field;
    l->attrs = apr_array_make(p, 2, sizeof(cert_attr_t));
}

static void list_end(value_list_t *l, certmap_cert_t *cert)
{
    cert->attrs[l->field] = (const cert_attr_t *)l->attrs->elts;
    cert->nattrs[l->field] = l->attrs->nelts;
}

/* Adds a value of pseudo type `type`; v == NULL (or a value with a NUL
 * or not UTF-8) is listed but never matches. */
static void list_add(value_list_t *l, const unsigned char *type,
                     apr_size_t type_len, const char *v, apr_size_t n)
{
    cert_attr_t *a = apr_array_push(l->attrs);

    memset(a, 0, sizeof(*a));
    a->oid = type;
    a->oid_len = type_len;
    a->nid = NID_undef;
    if (v == NULL || memchr(v, '\0', n) != NULL || !is_valid_utf8(v, n)) {
        return;
    }
    a->value = apr_pstrmemdup(l->p, v, n);
    a->value_len = n;
    a->folded = fold_utf8(l->p, v, n, &a->folded_len);
    build_keys(l->p, l->field, a);
}

/* IA5 names (e-mail, DNS, URI): 7-bit ASCII without NUL, else never
 * matching. */
static void add_ia5(value_list_t *l, const unsigned char *type,
                    const ASN1_STRING *s)
{
    const unsigned char *v = s ? ASN1_STRING_get0_data(s) : NULL;
    int i, n = s ? ASN1_STRING_length(s) : 0;

    for (i = 0; v && i < n; i++) {
        if (v[i] == 0 || v[i] >= 0x80) {
            v = NULL;
        }
    }
    list_add(l, type, 1, (const char *)v, v ? (apr_size_t)n : 0);
}

/* An IP address as canonical text: IPv4 dotted, IPv6 per RFC 5952. */
static void add_ip(value_list_t *l, const unsigned char *type,
                   const ASN1_OCTET_STRING *s)
{
    char buf[INET6_ADDRSTRLEN];
    int n = s ? ASN1_STRING_length(s) : 0;
    const char *text = NULL;

    if (n == 4 || n == 16) {
        text = inet_ntop(n == 4 ? AF_INET : AF_INET6,
                         ASN1_STRING_get0_data(s), buf, sizeof(buf));
    }
    list_add(l, type, 1, text, text ? strlen(text) : 0);
}

static void add_upn(value_list_t *l, const unsigned char *type,
                    const OTHERNAME *on)
{
    const ASN1_STRING *s = NULL;

    if (OBJ_obj2nid(on->type_id) != NID_ms_upn) {
        return;                 /* another kind of otherName */
    }
    if (on->value && on->value->type == V_ASN1_UTF8STRING) {
        s = on->value->value.utf8string;
    }
    list_add(l, type, 1, s ? (const char *)ASN1_STRING_get0_data(s) : NULL,
             s ? (apr_size_t)ASN1_STRING_length(s) : 0);
}

static void parse_san(apr_pool_t *p, X509 *x509, certmap_cert_t *cert)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(x509, NID_subject_alt_name,
                                            NULL, NULL);
    value_list_t l;
    int i;

    list_begin(&l, p, CERTMAP_SAN);
    for (i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);

        switch (g->type) {
        case GEN_EMAIL:
            add_ia5(&l, san_kinds[CERTMAP_SAN_EMAIL].type, g->d.rfc822Name);
            break;
        case GEN_DNS:
            add_ia5(&l, san_kinds[CERTMAP_SAN_DNS].type, g->d.dNSName);
            break;
        case GEN_URI:
            add_ia5(&l, san_kinds[CERTMAP_SAN_URI].type,
                    g->d.uniformResourceIdentifier);
            break;
        case GEN_IPADD:
            add_ip(&l, san_kinds[CERTMAP_SAN_IP].type, g->d.iPAddress);
            break;
        case GEN_OTHERNAME:
            add_upn(&l, san_kinds[CERTMAP_SAN_UPN].type, g->d.otherName);
            break;
        default:
            break;
        }
    }
    GENERAL_NAMES_free(names);
    ERR_clear_error();
    list_end(&l, cert);
}

/* An OID as dotted text, or NULL when it does not fit. */
static void add_oid(value_list_t *l, const ASN1_OBJECT *obj)
{
    char buf[CERTMAP_MAX_OID_TEXT + 1];
    int n = OBJ_obj2txt(buf, sizeof(buf), obj, 1);

    if (n > 0 && n < (int)sizeof(buf)) {
        list_add(l, (const unsigned char *)"", 0, buf, (apr_size_t)n);
    }
}

/* Extended key usage, key usage bits and policies, each as the text a
 * rule compiles to.  An extension that does not decode (or appears
 * twice) lists nothing: its rules never match. */
static void parse_usages(apr_pool_t *p, X509 *x509, certmap_cert_t *cert)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x509, NID_ext_key_usage,
                                               NULL, NULL);
    ASN1_BIT_STRING *ku = X509_get_ext_d2i(x509, NID_key_usage, NULL, NULL);
    CERTIFICATEPOLICIES *pol = X509_get_ext_d2i(
        x509, NID_certificate_policies, NULL, NULL);
    value_list_t l;
    int i;

    list_begin(&l, p, CERTMAP_EKU);
    for (i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++) {
        add_oid(&l, sk_ASN1_OBJECT_value(eku, i));
    }
    list_end(&l, cert);
    list_begin(&l, p, CERTMAP_KEY_USAGE);
    for (i = 0; ku && i < CERTMAP_NKU; i++) {
        if (ASN1_BIT_STRING_get_bit(ku, key_usages[i].bit)) {
            list_add(&l, (const unsigned char *)"", 0, key_usages[i].keyword,
                     strlen(key_usages[i].keyword));
        }
    }
    list_end(&l, cert);
    list_begin(&l, p, CERTMAP_POLICY);
    for (i = 0; pol && i < sk_POLICYINFO_num(pol); i++) {
        add_oid(&l, sk_POLICYINFO_value(pol, i)->policyid);
    }
    list_end(&l, cert);
    EXTENDED_KEY_USAGE_free(eku);
    ASN1_BIT_STRING_free(ku);
    CERTIFICATEPOLICIES_free(pol);
    ERR_clear_error();
}

apr_array_header_t *certmap_cert_san(apr_pool_t *p,
                                     const certmap_cert_t *cert,
                                     certmap_san_e kind)
{
    apr_array_header_t *out = apr_array_make(p, 2, sizeof(const char *));
    const cert_attr_t *a = cert->attrs[CERTMAP_SAN];
    int i;

    for (i = 0; i < cert->nattrs[CERTMAP_SAN]; i++) {
        if (a[i].value != NULL && a[i].oid[0] == san_kinds[kind].type[0]) {
            APR_ARRAY_PUSH(out, const char *) = apr_pstrmemdup(
                p, a[i].value, a[i].value_len);
        }
    }
    return out;
}

const char *certmap_cert_parse(apr_pool_t *p, X509 *x509,
                               certmap_cert_t **cert)
{
    certmap_cert_t *c;
    unsigned int len = 0;

    if (x509 == NULL) {
        return "no certificate";
    }
    c = apr_pcalloc(p, sizeof(*c));
    if (!X509_up_ref(x509)) {
        return apr_psprintf(p, "cannot reference the certificate (%s)",
                            openssl_reason(p));
    }
    c->x509 = x509;
    apr_pool_cleanup_register(p, x509, release_x509, apr_pool_cleanup_null);
    if (!X509_digest(x509, sha256(), c->sha256, &len)
        || len != CERTMAP_SHA256_LEN) {
        return apr_psprintf(p, "cannot digest the certificate (%s)",
                            openssl_reason(p));
    }
    parse_name(p, X509_get_subject_name(x509), CERTMAP_SUBJECT, c);
    parse_name(p, X509_get_issuer_name(x509), CERTMAP_ISSUER, c);
    parse_san(p, x509, c);
    parse_usages(p, x509, c);
    *cert = c;
    return NULL;
}

X509 *certmap_cert_x509(const certmap_cert_t *cert)
{
    return cert->x509;
}

const unsigned char *certmap_cert_sha256(const certmap_cert_t *cert)
{
    return cert->sha256;
}

/* Code points that could forge or garble a log line: C0 and C1 controls,
 * DEL, line and paragraph separators, and the bidirectional overrides
 * that make text display in another order than it is stored. */
static int unsafe_in_log(ucs4_t c)
{
    return c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)
           || c == 0x200e || c == 0x200f || c == 0x2028 || c == 0x2029
           || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)
           || c == 0xfeff;
}

/* Escapes unsafe code points and bytes that are not UTF-8 as \XX, the way
 * RFC 2253 escapes; everything else, non-ASCII letters included, stays
 * readable. */
static const char *escape_for_log(apr_pool_t *p, const char *s, apr_size_t n)
{
    char *out = apr_palloc(p, 3 * n + 1);
    apr_size_t i = 0, o = 0;

    while (i < n) {
        ucs4_t c;
        int len = u8_mbtoucr(&c, (const uint8_t *)s + i, n - i);
        int j;

        if (len > 0 && !unsafe_in_log(c)) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
            continue;
        }
        if (len <= 0) {
            len = 1;
        }
        for (j = 0; j < len; j++) {
            apr_snprintf(out + o, 4, "\\%02X", (unsigned char)s[i + j]);
            o += 3;
        }
        i += len;
    }
    out[o] = '\0';
    return out;
}

static const char *name_rfc2253(apr_pool_t *p, const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const char *text = "";
    char *data;
    long n;

    if (bio == NULL) {
        ERR_clear_error();
        return "?";
    }
    if (X509_NAME_print_ex(bio, name, 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        n = BIO_get_mem_data(bio, &data);
        text = escape_for_log(p, data, n > 0 ? (apr_size_t)n : 0);
    }
    BIO_free(bio);
    ERR_clear_error();
    return text;
}

static const char *serial_hex(apr_pool_t *p, X509 *x509)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    const char *out = hex ? apr_pstrdup(p, hex) : "?";

    OPENSSL_free(hex);
    BN_free(bn);
    ERR_clear_error();
    return out;
}

const char *certmap_x509_describe(apr_pool_t *p, X509 *x509)
{
    if (!x509) {
        return "no certificate";
    }
    return apr_psprintf(p, "subject=%s, issuer=%s, serial=%s",
                        name_rfc2253(p, X509_get_subject_name(x509)),
                        name_rfc2253(p, X509_get_issuer_name(x509)),
                        serial_hex(p, x509));
}

const char *certmap_cert_describe(apr_pool_t *p, const certmap_cert_t *cert)
{
    char sha[2 * CERTMAP_SHA256_LEN + 1];
    int i;

    for (i = 0; i < CERTMAP_SHA256_LEN; i++) {
        apr_snprintf(sha + 2 * i, 3, "%02x", cert->sha256[i]);
    }
    return apr_pstrcat(p, certmap_x509_describe(p, cert->x509), ", sha256=",
                       sha, NULL);
}

/* ---- matching ---------------------------------------------------------- */

static const certmap_mapping_t *match_one_to_one(
    const apr_array_header_t *tables, const certmap_cert_t *cert)
{
    int i;

    for (i = 0; i < tables->nelts; i++) {
        const certmap_table_t *t = APR_ARRAY_IDX(tables, i,
                                                 const certmap_table_t *);
        const certmap_mapping_t *m;

        if (t == NULL) {
            continue;
        }
        m = find_fingerprint(t, cert->sha256);
        if (m && m->enabled) {
            return m;
        }
    }
    return NULL;
}

/* The plain in-order scan of one table, recording every step when trace
 * is not NULL.  Its result defines what the indexed search must find. */
static const certmap_mapping_t *scan_table(const certmap_table_t *t,
                                           const certmap_cert_t *cert,
                                           apr_array_header_t *trace)
{
    int i;

    for (i = 0; i < t->many_to_one->nelts; i++) {
        const certmap_mapping_t *m = APR_ARRAY_IDX(t->many_to_one, i,
                                                   certmap_mapping_t *);
        const certmap_rule_t *failed = NULL;
        int named = 0;

        if (m->enabled && (failed = first_failed_rule(m, cert)) == NULL
            && (named = template_gives_name(m, cert))) {
            return m;
        }
        if (trace) {
            certmap_step_t *step = apr_array_push(trace);

            step->mapping = m;
            step->failed_rule = failed;
            step->disabled = !m->enabled;
            step->no_name = m->enabled && failed == NULL && !named;
        }
    }
    return NULL;
}

/* One sorted list of candidate mapping numbers being merged. */
typedef struct {
    const int *next;
    const int *end;
} cursor_t;

static int add_cursor(cursor_t *cursors, int *n, const apr_array_header_t *a)
{
    if (a == NULL || a->nelts == 0) {
        return 1;
    }
    if (*n == CERTMAP_MAX_CURSORS) {
        return 0;
    }
    cursors[*n].next = (const int *)a->elts;
    cursors[*n].end = (const int *)a->elts + a->nelts;
    (*n)++;
    return 1;
}

/* Adds the lists filed under each n-gram of a's value, of the lengths
 * the table holds. */
static int gather_grams(const certmap_table_t *t, const affix_kind_t *k,
                        const char *key, apr_size_t header, apr_size_t len,
                        cursor_t *cursors, int *n)
{
    char buf[3 + CERTMAP_MAX_KEY_OID + CERTMAP_GRAM_LEN];
    apr_size_t l, i;

    memcpy(buf, key, header);
    for (l = k->min_len; l <= k->max_len && l <= len; l++) {
        for (i = 0; i + l <= len; i++) {
            memcpy(buf + header, key + header + i, l);
            if (!add_cursor(cursors, n, apr_hash_get(t->gram_index, buf,
                                                     header + l))) {
                return 0;
            }
        }
    }
    return 1;
}

/* Adds the lists filed under each prefix, suffix or n-gram of a's value
 * that some rule of kind k could have. */
static int gather_affixes(const certmap_table_t *t, const affix_kind_t *k,
                          const cert_attr_t *a, cursor_t *cursors, int *n)
{
    const char *key = a->key[k->folded];
    apr_size_t header = 3 + a->oid_len;
    apr_size_t len = a->key_len[k->folded] - header;
    char buf[3 + CERTMAP_MAX_KEY_OID + CERTMAP_MAX_KEY_SUFFIX];
    apr_hash_t *index = index_for(t, k->kind);
    apr_size_t l;

    if (k->kind == CRITERIA_CONTAINS) {
        return gather_grams(t, k, key, header, len, cursors, n);
    }
    memcpy(buf, key, header);
    for (l = k->min_len; l <= k->max_len && l <= len; l++) {
        const char *lookup = key;

        if (k->kind == CRITERIA_SUFFIX) {
            memcpy(buf + header, key + header + len - l, l);
            lookup = buf;
        }
        if (!add_cursor(cursors, n, apr_hash_get(index, lookup,
                                                 header + l))) {
            return 0;
        }
    }
    return 1;
}

/* Gathers the candidate lists for cert: those filed under one of its own
 * attribute values or a prefix or suffix of one, and the unindexed mappings.
 * Returns 0 when they do not fit on the stack. */
static int gather_candidates(const certmap_table_t *t,
                             const certmap_cert_t *cert,
                             cursor_t *cursors, int *n)
{
    int field, i, k;

    *n = 0;
    if (!add_cursor(cursors, n, t->unindexed)) {
        return 0;
    }
    for (field = CERTMAP_SUBJECT; field < CERTMAP_NFIELDS; field++) {
        for (i = 0; i < cert->nattrs[field]; i++) {
            const cert_attr_t *a = &cert->attrs[field][i];

            if (a->key[0] == NULL) {
                continue;
            }
            for (k = CERTMAP_EXACT_KEY; k <= CERTMAP_FOLDED_KEY; k++) {
                if (!add_cursor(cursors, n, apr_hash_get(t->index, a->key[k],
                                                         a->key_len[k]))) {
                    return 0;
                }
            }
            for (k = 0; k < t->affix_kinds->nelts; k++) {
                const affix_kind_t *kind = &APR_ARRAY_IDX(t->affix_kinds, k,
                                                          affix_kind_t);
                if (kind->field == (certmap_field_e)field
                    && types_equal(kind->nid, kind->oid, kind->oid_len,
                                   a->nid, a->oid, a->oid_len)
                    && !gather_affixes(t, kind, a, cursors, n)) {
                    return 0;
                }
            }
        }
    }
    return 1;
}

/* Merges the candidate lists in ascending order and returns the first
 * mapping that matches. */
static const certmap_mapping_t *search_table(const certmap_table_t *t,
                                             const certmap_cert_t *cert)
{
    cursor_t cursors[CERTMAP_MAX_CURSORS];
    int n, i;

    if (t->many_to_one->nelts == 0) {
        return NULL;
    }
    if (!gather_candidates(t, cert, cursors, &n)) {
        return scan_table(t, cert, NULL);
    }
    for (;;) {
        int lowest = -1;
        const certmap_mapping_t *m;

        for (i = 0; i < n; i++) {
            if (cursors[i].next < cursors[i].end
                && (lowest < 0 || *cursors[i].next < lowest)) {
                lowest = *cursors[i].next;
            }
        }
        if (lowest < 0) {
            return NULL;
        }
        /* a value listed twice (two equal OUs) is evaluated once */
        for (i = 0; i < n; i++) {
            if (cursors[i].next < cursors[i].end
                && *cursors[i].next == lowest) {
                cursors[i].next++;
            }
        }
        m = APR_ARRAY_IDX(t->many_to_one, lowest, const certmap_mapping_t *);
        if (mapping_matches(m, cert)) {
            return m;
        }
    }
}

const certmap_mapping_t *certmap_match(const apr_array_header_t *tables,
                                       const certmap_cert_t *cert,
                                       int one_to_one, int many_to_one,
                                       apr_array_header_t *trace)
{
    const certmap_mapping_t *m = NULL;
    int i;

    if (tables == NULL || cert == NULL) {
        return NULL;
    }
    if (one_to_one && (m = match_one_to_one(tables, cert))) {
        return m;
    }
    if (!many_to_one) {
        return NULL;
    }
    for (i = 0; i < tables->nelts && m == NULL; i++) {
        const certmap_table_t *t = APR_ARRAY_IDX(tables, i,
                                                 const certmap_table_t *);
        if (t) {
            m = trace ? scan_table(t, cert, trace) : search_table(t, cert);
        }
    }
    return m;
}
