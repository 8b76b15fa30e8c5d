/* Licensed under the Apache License, Version 2.0.
 *
 * tests/unit/test_rules.c — unit tests of the mapping engine
 * (certmap_rules.c): rule compilation and errors, every sub-field and
 * wildcard form, Unicode case folding, multi-valued names, hostile values,
 * one-to-one and many-to-one order across nested tables, base64 blobs and
 * certificate files, log descriptions, traces, and a randomized check of
 * the indexed search against a naive scan written here.
 *
 * Test certificates are built in C with OpenSSL, signed by one EC key.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certmap_rules.h"

static apr_pool_t *pool;        /* cleared after every test */
static EVP_PKEY *signing_key;

/* ---- building certificates -------------------------------------------- */

/* Adds "TYPE=value" entries separated by '/'; an entry starting with '+'
 * joins the previous RDN (a multi-valued RDN). */
static void add_entries(X509_NAME *name, const char *spec)
{
    char *copy = strdup(spec);
    char *save = NULL, *tok;

    for (tok = strtok_r(copy, "/", &save); tok;
         tok = strtok_r(NULL, "/", &save)) {
        int set = 0;
        char *eq;

        if (*tok == '+') {
            set = -1;
            tok++;
        }
        eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = '\0';
        assert_int_equal(X509_NAME_add_entry_by_txt(name, tok, MBSTRING_UTF8,
                             (unsigned char *)eq + 1, -1, -1, set), 1);
    }
    free(copy);
}

/* Adds one entry with raw bytes of an explicit ASN.1 string type. */
static void add_raw(X509_NAME *name, int nid, int type, const void *bytes,
                    int len)
{
    assert_int_equal(X509_NAME_add_entry_by_NID(name, nid, type,
                         (unsigned char *)bytes, len, -1, 0), 1);
}

/* Real certificates carry extensions; the DER check must accept them. */
static void add_extension(X509 *x)
{
    BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();

    bc->ca = 0;
    assert_int_equal(X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, 0),
                     1);
    BASIC_CONSTRAINTS_free(bc);
}

/* Extensions the next make_cert_names adds (then forgets). */
static STACK_OF(X509_EXTENSION) *pending_exts;

static void queue_ext(X509_EXTENSION *e)
{
    assert_non_null(e);
    if (pending_exts == NULL) {
        pending_exts = sk_X509_EXTENSION_new_null();
    }
    sk_X509_EXTENSION_push(pending_exts, e);
}

/* "extendedKeyUsage", "clientAuth,1.2.3.4" and the like. */
static void queue_conf(const char *name, const char *value)
{
    X509V3_CTX ctx;

    X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, 0);
    X509V3_set_ctx_nodb(&ctx);
    queue_ext(X509V3_EXT_nconf(NULL, &ctx, name, value));
}

/* certificatePolicies listing two OIDs (nconf would need a database). */
static void queue_policies(const char *a, const char *b)
{
    CERTIFICATEPOLICIES *pol = CERTIFICATEPOLICIES_new();
    const char *oids[2] = { a, b };
    int i;

    for (i = 0; i < 2; i++) {
        POLICYINFO *pi = POLICYINFO_new();

        ASN1_OBJECT_free(pi->policyid);
        pi->policyid = OBJ_txt2obj(oids[i], 1);
        sk_POLICYINFO_push(pol, pi);
    }
    queue_ext(X509V3_EXT_i2d(NID_certificate_policies, 0, pol));
    CERTIFICATEPOLICIES_free(pol);
}

/* SAN entries of raw bytes, so that hostile values can be written. */
static void san_add(GENERAL_NAMES *gn, int type, const void *bytes, int len)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_STRING *str;

    if (type == GEN_OTHERNAME) {
        ASN1_TYPE *v = ASN1_TYPE_new();

        str = ASN1_UTF8STRING_new();
        ASN1_STRING_set(str, bytes, len);
        ASN1_TYPE_set(v, V_ASN1_UTF8STRING, str);
        assert_int_equal(GENERAL_NAME_set0_othername(g,
                             OBJ_nid2obj(NID_ms_upn), v), 1);
    }
    else {
        str = type == GEN_IPADD ? ASN1_OCTET_STRING_new()
                                : ASN1_IA5STRING_new();
        ASN1_STRING_set(str, bytes, len);
        GENERAL_NAME_set0_value(g, type, str);
    }
    sk_GENERAL_NAME_push(gn, g);
}

static void queue_san(GENERAL_NAMES *gn)
{
    queue_ext(X509V3_EXT_i2d(NID_subject_alt_name, 0, gn));
    GENERAL_NAMES_free(gn);
}

static X509 *make_cert_names(X509_NAME *subject, X509_NAME *issuer,
                             long serial)
{
    X509 *x = X509_new();

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    assert_int_equal(X509_set_subject_name(x, subject), 1);
    assert_int_equal(X509_set_issuer_name(x, issuer), 1);
    X509_set_pubkey(x, signing_key);
    add_extension(x);
    while (pending_exts && sk_X509_EXTENSION_num(pending_exts) > 0) {
        X509_EXTENSION *e = sk_X509_EXTENSION_shift(pending_exts);

        assert_int_equal(X509_add_ext(x, e, -1), 1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, signing_key, EVP_sha256()) > 0);
    X509_NAME_free(subject);
    X509_NAME_free(issuer);
    return x;
}

static X509 *make_cert(const char *subject, const char *issuer, long serial)
{
    X509_NAME *s = X509_NAME_new(), *i = X509_NAME_new();

    add_entries(s, subject);
    add_entries(i, issuer);
    return make_cert_names(s, i, serial);
}

static certmap_cert_t *parse(X509 *x)
{
    certmap_cert_t *cert = NULL;

    assert_null(certmap_cert_parse(pool, x, &cert));
    X509_free(x);               /* the engine keeps its own reference */
    assert_non_null(cert);
    return cert;
}

static certmap_cert_t *cert_of(const char *subject, const char *issuer)
{
    return parse(make_cert(subject, issuer, 1));
}

static unsigned char *der_of(X509 *x, apr_size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    unsigned char *copy;

    assert_true(n > 0);
    copy = apr_pmemdup(pool, der, n);
    OPENSSL_free(der);
    *len = (apr_size_t)n;
    return copy;
}

/* ---- building mappings ------------------------------------------------ */

static certmap_rule_t *rule(const char *field, const char *subfield,
                            const char *criteria, const char *casemode)
{
    certmap_rule_t *r = NULL;
    const char *err = certmap_rule_compile(pool, field, subfield, criteria,
                                           casemode, &r);
    if (err) {
        fail_msg("rule %s %s %s: %s", field, subfield, criteria, err);
    }
    return r;
}

static certmap_mapping_t *mapping(const char *name, const char *user)
{
    certmap_mapping_t *m = apr_pcalloc(pool, sizeof(*m));

    m->name = name;
    m->user = user;
    m->enabled = 1;
    m->permission = CERTMAP_ALLOW;
    m->file = "test.conf";
    m->line = 1;
    m->many.rules = apr_array_make(pool, 2, sizeof(certmap_rule_t *));
    return m;
}

/* A one-to-one mapping: no rules (their room holds the fingerprint). */
static certmap_mapping_t *one_mapping(const char *user)
{
    certmap_mapping_t *m = mapping("one-to-one", user);

    m->many.rules = NULL;
    return m;
}

static certmap_mapping_t *with_rule(certmap_mapping_t *m, certmap_rule_t *r)
{
    APR_ARRAY_PUSH(m->many.rules, certmap_rule_t *) = r;
    return m;
}

static void add_m2o(certmap_table_t *t, certmap_mapping_t *m)
{
    const char *err = certmap_table_add_many_to_one(t, m);

    if (err) {
        fail_msg("add %s: %s", m->name, err);
    }
}

static apr_array_header_t *tables_of(certmap_table_t *outer,
                                     certmap_table_t *inner)
{
    apr_array_header_t *a = apr_array_make(pool, 2,
                                           sizeof(const certmap_table_t *));
    APR_ARRAY_PUSH(a, const certmap_table_t *) = outer;
    if (inner) {
        APR_ARRAY_PUSH(a, const certmap_table_t *) = inner;
    }
    return a;
}

/* The indexed search and the traced scan must agree. */
static const certmap_mapping_t *match(apr_array_header_t *tables,
                                      const certmap_cert_t *cert,
                                      int one, int many)
{
    apr_array_header_t *trace = apr_array_make(pool, 4,
                                               sizeof(certmap_step_t));
    const certmap_mapping_t *fast = certmap_match(tables, cert, one, many,
                                                  NULL);
    const certmap_mapping_t *slow = certmap_match(tables, cert, one, many,
                                                  trace);
    assert_ptr_equal(fast, slow);
    return fast;
}

/* Does one rule match cert? */
static int hits(const certmap_cert_t *cert, const char *field,
                const char *subfield, const char *criteria,
                const char *casemode)
{
    certmap_table_t *t = certmap_table_make(pool);

    add_m2o(t, with_rule(mapping("m", "u"),
                         rule(field, subfield, criteria, casemode)));
    return match(tables_of(t, NULL), cert, 1, 1) != NULL;
}

static const char *compile_error(const char *field, const char *subfield,
                                 const char *criteria, const char *casemode)
{
    certmap_rule_t *r = NULL;

    return certmap_rule_compile(pool, field, subfield, criteria, casemode,
                                &r);
}

/* ---- sub-fields and fields -------------------------------------------- */

static void test_every_subfield(void **state)
{
    X509_NAME *s = X509_NAME_new(), *i = X509_NAME_new();
    certmap_cert_t *c;
    static const char *const pairs[][2] = {
        { "CN", "alice" }, { "O", "Contoso" }, { "OU", "Sales" },
        { "L", "Redmond" }, { "S", "Washington" }, { "ST", "Washington" },
        { "C", "US" }, { "E", "alice@contoso.com" }, { "GN", "Alice" },
        { "SN", "Smith" }, { "T", "Engineer" }, { "DC", "contoso" },
        { "SERIALNUMBER", "A-1234" }, { "UID", "asmith" },
        { "1.2.3.4.5", "custom" }, { "2.5.4.3", "alice" },
        /* the names IIS's rule editor writes */
        { "Email", "alice@contoso.com" }, { "G", "Alice" },
        { "I", "AS" }, { "STREET", "1 Microsoft Way" },
    };
    apr_size_t k;

    add_entries(s, "CN=alice/O=Contoso/OU=Sales/L=Redmond/ST=Washington/"
                   "C=US/emailAddress=alice@contoso.com/GN=Alice/SN=Smith/"
                   "title=Engineer/DC=contoso/serialNumber=A-1234/"
                   "UID=asmith/1.2.3.4.5=custom/initials=AS/"
                   "street=1 Microsoft Way");
    add_entries(i, "CN=Issuing CA/O=Fabrikam/C=DE");
    c = parse(make_cert_names(s, i, 7));
    for (k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
        assert_true(hits(c, "Subject", pairs[k][0], pairs[k][1], NULL));
        assert_false(hits(c, "Subject", pairs[k][0], "nope", NULL));
        assert_false(hits(c, "Issuer", pairs[k][0], pairs[k][1], NULL));
    }
    assert_true(hits(c, "Issuer", "CN", "Issuing CA", NULL));
    assert_true(hits(c, "Issuer", "O", "Fabrikam", NULL));
    assert_false(hits(c, "Subject", "O", "Fabrikam", NULL));
    /* keywords are case-insensitive */
    assert_true(hits(c, "subject", "cn", "alice", "casesensitive"));
    assert_true(hits(c, "ISSUER", "c", "de", "CASEINSENSITIVE"));
    assert_true(hits(c, "Subject", "sErIaLnUmBeR", "A-1234", NULL));
}

static void test_absent_subfield(void **state)
{
    certmap_cert_t *c = cert_of("CN=bob", "CN=CA");

    assert_false(hits(c, "Subject", "O", "*", NULL));
    assert_false(hits(c, "Subject", "T", "x", NULL));
    assert_false(hits(c, "Subject", "1.2.3.4", "*", NULL));
    assert_true(hits(c, "Subject", "CN", "*", NULL));
}

/* ---- wildcards --------------------------------------------------------- */

static void test_wildcards(void **state)
{
    certmap_cert_t *c = cert_of("CN=user-42.contoso.com/OU=a*b", "CN=CA");

    assert_true(hits(c, "Subject", "CN", "user-42.contoso.com", NULL));
    assert_false(hits(c, "Subject", "CN", "user-42", NULL));
    assert_true(hits(c, "Subject", "CN", "user-*", NULL));
    assert_true(hits(c, "Subject", "CN", "user-42.contoso.com*", NULL));
    assert_false(hits(c, "Subject", "CN", "contoso*", NULL));
    assert_true(hits(c, "Subject", "CN", "*.contoso.com", NULL));
    assert_true(hits(c, "Subject", "CN", "*user-42.contoso.com", NULL));
    assert_false(hits(c, "Subject", "CN", "*.contoso", NULL));
    assert_true(hits(c, "Subject", "CN", "*contoso*", NULL));
    assert_true(hits(c, "Subject", "CN", "*user*", NULL));
    assert_true(hits(c, "Subject", "CN", "*com*", NULL));
    assert_false(hits(c, "Subject", "CN", "*fabrikam*", NULL));
    assert_true(hits(c, "Subject", "CN", "*", NULL));
    assert_true(hits(c, "Subject", "CN", "**", NULL));
    /* a '*' in the middle is a literal character */
    assert_false(hits(c, "Subject", "CN", "user*.com", NULL));
    assert_true(hits(c, "Subject", "OU", "a*b", NULL));
    assert_false(hits(c, "Subject", "OU", "a*c", NULL));
    assert_true(hits(c, "Subject", "OU", "*a*b*", NULL));
    assert_true(hits(c, "Subject", "OU", "**b", NULL));     /* "*b" literal */
    assert_false(hits(c, "Subject", "CN", "**.com", NULL));
    /* prefix longer than the value */
    assert_false(hits(c, "Subject", "OU", "a*b-and-more*", NULL));
}

/* Prefix rules are indexed by the prefix lengths a table holds: a later,
 * shorter prefix must widen the lengths looked up. */
static void test_prefix_index_lengths(void **state)
{
    certmap_cert_t *c = cert_of("CN=user-2.contoso.com", "CN=CA");
    certmap_table_t *t = certmap_table_make(pool);
    certmap_mapping_t *longer = with_rule(mapping("long", "l"),
                                   rule("Subject", "CN", "user-10.*", NULL));
    certmap_mapping_t *shorter = with_rule(mapping("short", "s"),
                                   rule("Subject", "CN", "u*", NULL));
    certmap_mapping_t *longest = with_rule(mapping("longest", "x"),
                                   rule("Subject", "CN",
                                        "user-2.contoso.com*", NULL));

    add_m2o(t, longer);
    add_m2o(t, shorter);
    add_m2o(t, longest);
    assert_ptr_equal(match(tables_of(t, NULL), c, 1, 1), shorter);
    shorter->enabled = 0;
    assert_ptr_equal(match(tables_of(t, NULL), c, 1, 1), longest);
    c = cert_of("CN=USER-2.contoso.com", "CN=CA");
    assert_null(match(tables_of(t, NULL), c, 1, 1));
}

/* The same for suffix rules, including a folded suffix whose byte length
 * differs from the certificate's (Kelvin sign, 3 bytes, folds to k). */
static void test_suffix_index_lengths(void **state)
{
    certmap_cert_t *c = cert_of("CN=bob@\xe2\x84\xaa" "ontoso.com/O=x",
                                "CN=CA");
    certmap_table_t *t = certmap_table_make(pool);
    certmap_mapping_t *longer = with_rule(mapping("long", "l"),
                                   rule("Subject", "CN", "*@fabrikam.com",
                                        NULL));
    certmap_mapping_t *shorter = with_rule(mapping("short", "s"),
                                   rule("Subject", "CN", "*.com", NULL));
    certmap_mapping_t *folded = with_rule(mapping("folded", "f"),
                                   rule("Subject", "CN", "*@KONTOSO.COM",
                                        "CaseInsensitive"));
    certmap_mapping_t *exact_case = with_rule(mapping("exact-case", "e"),
                                   rule("Subject", "CN", "*@kontoso.com",
                                        NULL));

    add_m2o(t, longer);
    add_m2o(t, shorter);
    add_m2o(t, exact_case);
    add_m2o(t, folded);
    assert_ptr_equal(match(tables_of(t, NULL), c, 1, 1), shorter);
    shorter->enabled = 0;
    assert_ptr_equal(match(tables_of(t, NULL), c, 1, 1), folded);
    c = cert_of("CN=bob@kontoso.com", "CN=CA");
    assert_ptr_equal(match(tables_of(t, NULL), c, 1, 1), exact_case);
    c = cert_of("CN=bob@kontoso.co", "CN=CA");
    assert_null(match(tables_of(t, NULL), c, 1, 1));
}

/* ---- case ------------------------------------------------------------- */

static void test_case_ascii(void **state)
{
    certmap_cert_t *c = cert_of("CN=Alice Smith/O=CONTOSO", "CN=Test CA");

    assert_false(hits(c, "Subject", "CN", "alice smith", NULL));
    assert_false(hits(c, "Subject", "CN", "alice smith", "CaseSensitive"));
    assert_true(hits(c, "Subject", "CN", "alice smith", "CaseInsensitive"));
    assert_true(hits(c, "Subject", "CN", "ALICE*", "CaseInsensitive"));
    assert_false(hits(c, "Subject", "CN", "ALICE*", NULL));
    assert_true(hits(c, "Subject", "O", "*toso", "CaseInsensitive"));
    assert_true(hits(c, "Issuer", "CN", "test ca", "CaseInsensitive"));
    assert_true(hits(c, "Issuer", "CN", "*ST C*", "CaseInsensitive"));
}

static void test_case_unicode(void **state)
{
    certmap_cert_t *c = cert_of("CN=\xce\xa9mega \xc3\x87\xc3\xa0 \xc7\x85"
                                "/O=\xce\xa3\xcf\x83\xcf\x82"      /* Σσς */
                                "/OU=\xe2\x84\xaa" "elvin"         /* Kelvin */
                                "/L=\xc5\xbf" "tadt",              /* ſtadt */
                                "CN=CA");

    /* Ωmega Çà ǅ */
    assert_true(hits(c, "Subject", "CN", "\xce\xa9mega \xc3\x87\xc3\xa0 "
                     "\xc7\x85", NULL));
    assert_false(hits(c, "Subject", "CN", "\xcf\x89mega \xc3\xa7\xc3\xa0 "
                      "\xc7\x86", NULL));
    assert_true(hits(c, "Subject", "CN", "\xcf\x89MEGA \xc3\xa7\xc3\x80 "
                     "\xc7\x84", "CaseInsensitive"));       /* ωMEGA çÀ Ǆ */
    assert_true(hits(c, "Subject", "CN", "*\xc7\x86", "CaseInsensitive"));
    assert_true(hits(c, "Subject", "CN", "\xce\xa9M*", "CaseInsensitive"));
    /* all three sigmas are one letter */
    assert_true(hits(c, "Subject", "O", "\xcf\x83\xcf\x83\xcf\x83",
                     "CaseInsensitive"));
    assert_true(hits(c, "Subject", "O", "\xcf\x82\xce\xa3\xcf\x82",
                     "CaseInsensitive"));
    assert_false(hits(c, "Subject", "O", "\xcf\x83\xcf\x83\xcf\x83", NULL));
    /* Kelvin sign equals K and k; long s equals s and S */
    assert_true(hits(c, "Subject", "OU", "kelvin", "CaseInsensitive"));
    assert_true(hits(c, "Subject", "OU", "KELVIN", "CaseInsensitive"));
    assert_false(hits(c, "Subject", "OU", "Kelvin", NULL));
    assert_true(hits(c, "Subject", "L", "STADT", "CaseInsensitive"));
    assert_true(hits(c, "Subject", "L", "s*", "CaseInsensitive"));
    assert_false(hits(c, "Subject", "L", "stadt", NULL));
}

/* ---- multi-valued names and hostile values ------------------------------ */

static void test_multi_valued(void **state)
{
    certmap_cert_t *c = cert_of("CN=carol/OU=Sales/OU=Marketing/O=A/+O=B",
                                "CN=CA");

    assert_true(hits(c, "Subject", "OU", "Sales", NULL));
    assert_true(hits(c, "Subject", "OU", "Marketing", NULL));
    assert_true(hits(c, "Subject", "OU", "Mark*", NULL));
    assert_false(hits(c, "Subject", "OU", "Engineering", NULL));
    assert_true(hits(c, "Subject", "O", "A", NULL));
    assert_true(hits(c, "Subject", "O", "B", NULL));
    assert_false(hits(c, "Subject", "O", "A+B", NULL));
    assert_false(hits(c, "Subject", "O", "*+*", NULL));
}

static void test_dn_string_injection(void **state)
{
    certmap_cert_t *c = cert_of("CN=x, O=Contoso", "CN=CA");

    assert_false(hits(c, "Subject", "O", "Contoso", NULL));
    assert_false(hits(c, "Subject", "O", "*", NULL));
    assert_false(hits(c, "Subject", "CN", "x", NULL));
    assert_true(hits(c, "Subject", "CN", "x, O=Contoso", NULL));
    assert_true(hits(c, "Subject", "CN", "*O=Contoso", NULL));
}

static void test_embedded_nul_and_bad_values(void **state)
{
    X509_NAME *s = X509_NAME_new(), *i = X509_NAME_new();
    static const unsigned char bmp[] = { 0x00, 'B', 0x00, 'm', 0x00, 'p',
                                         0x00, ' ', 0x03, 0xa9 };
    certmap_cert_t *c;

    add_raw(s, NID_commonName, V_ASN1_UTF8STRING, "admin\0.evil", 11);
    add_raw(s, NID_organizationalUnitName, V_ASN1_BMPSTRING, bmp,
            sizeof(bmp));
    add_raw(s, NID_localityName, V_ASN1_UTF8STRING, "Z\xc3\xbcrich", 7);
    add_raw(s, NID_title, V_ASN1_BMPSTRING, "\x00" "a\x00\x00", 4);
    add_entries(i, "CN=CA");
    c = parse(make_cert_names(s, i, 3));

    assert_false(hits(c, "Subject", "CN", "*", NULL));
    assert_false(hits(c, "Subject", "CN", "admin*", NULL));
    assert_false(hits(c, "Subject", "CN", "admin", NULL));
    assert_false(hits(c, "Subject", "T", "*", NULL));
    /* BMPString and UTF8String decode to the same UTF-8 text */
    assert_true(hits(c, "Subject", "OU", "Bmp \xce\xa9", NULL));
    assert_true(hits(c, "Subject", "OU", "bmp \xcf\x89", "CaseInsensitive"));
    assert_true(hits(c, "Subject", "L", "Z\xc3\xbcrich", NULL));
    assert_true(hits(c, "Subject", "L", "Z\xc3\x9cRICH", "CaseInsensitive"));
}

/* ASCII values are used in place and folded byte by byte; a 1-byte
 * string type with a high byte goes through OpenSSL's Latin-1 reading. */
static void test_string_types(void **state)
{
    X509_NAME *s = X509_NAME_new(), *i = X509_NAME_new();
    certmap_cert_t *c;

    add_raw(s, NID_organizationName, V_ASN1_PRINTABLESTRING, "Contoso Ltd",
            11);
    add_raw(s, NID_organizationalUnitName, V_ASN1_T61STRING, "Caf\xe9", 4);
    add_raw(s, NID_commonName, V_ASN1_IA5STRING, "", 0);
    add_raw(s, NID_pkcs9_emailAddress, V_ASN1_IA5STRING, "Kim@Contoso.COM",
            15);
    add_raw(s, NID_title, V_ASN1_UTF8STRING, "lower only", 10);
    add_entries(i, "CN=CA");
    c = parse(make_cert_names(s, i, 4));

    assert_true(hits(c, "Subject", "O", "Contoso Ltd", NULL));
    assert_false(hits(c, "Subject", "O", "contoso ltd", NULL));
    assert_true(hits(c, "Subject", "O", "CONTOSO*", "CaseInsensitive"));
    assert_true(hits(c, "Subject", "OU", "Caf\xc3\xa9", NULL));
    assert_true(hits(c, "Subject", "OU", "*F\xc3\x89", "CaseInsensitive"));
    assert_true(hits(c, "Subject", "CN", "*", NULL));
    assert_false(hits(c, "Subject", "CN", "x*", NULL));
    assert_true(hits(c, "Subject", "E", "*@contoso.com", "CaseInsensitive"));
    assert_false(hits(c, "Subject", "E", "*@contoso.com", NULL));
    assert_true(hits(c, "Subject", "T", "LOWER ONLY", "CaseInsensitive"));
    assert_true(hits(c, "Subject", "T", "*r o*", NULL));
}

/* ---- mapping order ------------------------------------------------------ */

static void test_first_match_wins(void **state)
{
    certmap_cert_t *c = cert_of("CN=dave/O=Contoso/OU=IT", "CN=CA");
    certmap_table_t *t = certmap_table_make(pool);
    certmap_mapping_t *off, *deny, *allow, *other;

    other = with_rule(mapping("other", "o"),
                      rule("Subject", "O", "Fabrikam", NULL));
    off = with_rule(mapping("off", "x"), rule("Subject", "CN", "dave", NULL));
    off->enabled = 0;
    deny = with_rule(with_rule(mapping("deny-it", "nobody"),
                               rule("Subject", "OU", "IT", NULL)),
                     rule("Subject", "O", "Contoso", NULL));
    deny->permission = CERTMAP_DENY;
    allow = with_rule(mapping("allow", "dave"),
                      rule("Subject", "CN", "dave", NULL));
    add_m2o(t, other);
    add_m2o(t, off);
    add_m2o(t, deny);
    add_m2o(t, allow);
    assert_ptr_equal(match(tables_of(t, NULL), c, 1, 1), deny);
    assert_int_equal(match(tables_of(t, NULL), c, 1, 1)->permission,
                     CERTMAP_DENY);

    c = cert_of("CN=dave/O=Contoso/OU=HR", "CN=CA");
    assert_ptr_equal(match(tables_of(t, NULL), c, 1, 1), allow);
    c = cert_of("CN=erin/O=Contoso/OU=HR", "CN=CA");
    assert_null(match(tables_of(t, NULL), c, 1, 1));
}

static void test_mapping_without_rules(void **state)
{
    certmap_cert_t *c = cert_of("CN=anyone", "CN=CA");
    certmap_table_t *t = certmap_table_make(pool);
    certmap_mapping_t *catch_all = mapping("everyone", "guest");
    certmap_mapping_t *nulled = mapping("null-rules", "guest2");

    add_m2o(t, with_rule(mapping("first", "f"),
                         rule("Subject", "CN", "someone", NULL)));
    add_m2o(t, catch_all);
    assert_ptr_equal(match(tables_of(t, NULL), c, 1, 1), catch_all);

    t = certmap_table_make(pool);
    nulled->many.rules = NULL;
    add_m2o(t, nulled);
    assert_ptr_equal(match(tables_of(t, NULL), c, 1, 1), nulled);
}

static void test_nested_tables(void **state)
{
    X509 *x = make_cert("CN=frank/O=Contoso", "CN=CA", 11);
    apr_size_t len;
    unsigned char *der = der_of(x, &len);
    certmap_cert_t *c = parse(x);
    certmap_table_t *outer = certmap_table_make(pool);
    certmap_table_t *inner = certmap_table_make(pool);
    certmap_mapping_t *outer_m = with_rule(mapping("contoso", "outer"),
                                    rule("Subject", "O", "Contoso", NULL));
    certmap_mapping_t *inner_m = with_rule(mapping("frank", "inner"),
                                    rule("Subject", "CN", "frank", NULL));
    certmap_mapping_t *one = one_mapping("frank-1to1");

    add_m2o(inner, inner_m);
    add_m2o(outer, outer_m);
    assert_ptr_equal(match(tables_of(outer, inner), c, 1, 1), outer_m);
    assert_ptr_equal(match(tables_of(inner, outer), c, 1, 1), inner_m);
    assert_ptr_equal(match(tables_of(inner, NULL), c, 1, 1), inner_m);

    /* one-to-one anywhere beats many-to-one everywhere */
    assert_null(certmap_table_add_one_to_one(inner, der, len, one));
    assert_ptr_equal(match(tables_of(outer, inner), c, 1, 1), one);
    /* outer many-to-one is reached when nothing else matches */
    outer_m->enabled = 0;
    inner_m->enabled = 0;
    assert_null(match(tables_of(outer, inner), c, 0, 1));
}

/* What a connection remembers is a position in the tables, found again in
 * a later request's tables: locate and mapping_at must be inverse, and
 * nothing outside the tables is ever found. */
static void test_locate_positions(void **state)
{
    X509 *x = make_cert("CN=ivan/O=Contoso", "CN=CA", 12);
    apr_size_t len;
    unsigned char *der = der_of(x, &len);
    certmap_table_t *outer = certmap_table_make(pool);
    certmap_table_t *inner = certmap_table_make(pool);
    certmap_mapping_t *a = with_rule(mapping("a", "alpha"),
                                     rule("Subject", "CN", "ivan", NULL));
    certmap_mapping_t *b = with_rule(mapping("b", "beta"),
                                     rule("Subject", "O", "Contoso", NULL));
    certmap_mapping_t *one = one_mapping("ivan");
    certmap_mapping_t *stranger = mapping("stranger", "nobody");
    apr_array_header_t *tables = tables_of(outer, inner);
    int table = -1, many = -1;

    X509_free(x);
    add_m2o(outer, a);
    add_m2o(inner, b);
    assert_null(certmap_table_add_one_to_one(inner, der, len, one));
    assert_int_equal(a->position, 0);
    assert_int_equal(b->position, 0);
    assert_int_equal(one->position, 0);

    assert_true(certmap_table_locate(tables, b, &table, &many));
    assert_int_equal(table, 1);
    assert_int_equal(many, 1);
    assert_ptr_equal(certmap_table_mapping_at(tables, table, many, 0), b);
    assert_true(certmap_table_locate(tables, one, &table, &many));
    assert_int_equal(table, 1);
    assert_int_equal(many, 0);
    assert_ptr_equal(certmap_table_mapping_at(tables, 1, 0, 0), one);
    assert_true(certmap_table_locate(tables, a, &table, &many));
    assert_int_equal(table, 0);

    /* a mapping that is in none of the tables, even at a valid position */
    stranger->position = 0;
    assert_false(certmap_table_locate(tables, stranger, &table, &many));
    assert_false(certmap_table_locate(tables_of(outer, NULL), b, &table,
                                      &many));
    /* out of range never answers */
    assert_null(certmap_table_mapping_at(tables, 2, 1, 0));
    assert_null(certmap_table_mapping_at(tables, -1, 1, 0));
    assert_null(certmap_table_mapping_at(tables, 0, 1, 1));
    assert_null(certmap_table_mapping_at(tables, 0, 0, 0));
    assert_null(certmap_table_mapping_at(NULL, 0, 0, 0));

    /* identities: none until the caller gives one */
    assert_true(certmap_table_id(outer) == 0);
    certmap_table_set_id(outer, 42);
    assert_true(certmap_table_id(outer) == 42);
}

static void test_one_to_one_and_renewal(void **state)
{
    X509 *orig = make_cert("CN=grace/O=Contoso", "CN=grace/O=Contoso", 100);
    X509 *renewed = make_cert("CN=grace/O=Contoso", "CN=grace/O=Contoso",
                              101);
    apr_size_t len;
    unsigned char *der = der_of(orig, &len);
    certmap_cert_t *c_orig = parse(orig);
    certmap_cert_t *c_new = parse(renewed);
    certmap_table_t *t = certmap_table_make(pool);
    certmap_mapping_t *m = one_mapping("grace");
    certmap_mapping_t *other = one_mapping("other");
    X509 *x3 = make_cert("CN=heidi", "CN=CA", 5);
    apr_size_t len3;
    unsigned char *der3 = der_of(x3, &len3);

    X509_free(x3);
    assert_null(certmap_table_add_one_to_one(t, der3, len3, other));
    assert_null(certmap_table_add_one_to_one(t, der, len, m));
    assert_memory_equal(m->fingerprint, certmap_cert_sha256(c_orig),
                        CERTMAP_SHA256_LEN);
    assert_ptr_equal(match(tables_of(t, NULL), c_orig, 1, 1), m);
    assert_null(match(tables_of(t, NULL), c_new, 1, 1));
    assert_int_equal(certmap_table_one_to_one(t)->nelts, 2);
    assert_true(m->one_to_one);
    assert_null(certmap_mapping_template(m));
    /* a disabled one-to-one mapping is passed over */
    m->enabled = 0;
    assert_null(match(tables_of(t, NULL), c_orig, 1, 1));
}

/* A one-to-one mapping's fingerprint takes the room of the many-to-one
 * members (80 bytes a mapping for a million of them): the engine keeps
 * the two kinds apart. */
static void test_one_to_one_shares_room(void **state)
{
    X509 *x = make_cert("CN=olga", "CN=CA", 21);
    apr_size_t len;
    unsigned char *der = der_of(x, &len);
    certmap_cert_t *c = parse(x);
    certmap_table_t *t = certmap_table_make(pool);
    certmap_mapping_t *ruled = with_rule(mapping("ruled", "olga1"),
                                         rule("Subject", "CN", "olga",
                                              NULL));
    certmap_mapping_t *templated = one_mapping("olga2");
    certmap_mapping_t *described = one_mapping("olga3");
    certmap_mapping_t *one = one_mapping("olga4");
    certmap_template_t *tpl;

    (void)state;
    assert_true(sizeof(certmap_mapping_t) <= 80);
    assert_null(certmap_template_compile(pool, "%{Subject:CN}", NULL, &tpl));
    templated->many.user_template = tpl;
    described->many.description = "a description";
    assert_non_null(certmap_table_add_one_to_one(t, der, len, ruled));
    assert_non_null(certmap_table_add_one_to_one(t, der, len, templated));
    assert_non_null(certmap_table_add_one_to_one(t, der, len, described));
    assert_false(ruled->one_to_one || templated->one_to_one
                 || described->one_to_one);
    assert_int_equal(certmap_table_one_to_one(t)->nelts, 0);
    /* refused mappings are left as they were */
    assert_ptr_equal(templated->many.user_template, tpl);
    assert_ptr_equal(certmap_mapping_template(templated), tpl);
    assert_null(certmap_table_add_one_to_one(t, der, len, one));
    assert_true(one->one_to_one);
    assert_null(certmap_mapping_template(one));
    /* once one-to-one, never many-to-one (the rules would be read from
     * the fingerprint) */
    one->name = "olga-many";
    assert_non_null(certmap_table_add_many_to_one(t, one));
    assert_int_equal(certmap_table_many_to_one(t)->nelts, 0);
    assert_ptr_equal(match(tables_of(t, NULL), c, 1, 1), one);
    /* the many-to-one kind keeps its members */
    add_m2o(t, ruled);
    assert_false(ruled->one_to_one);
    assert_int_equal(ruled->many.rules->nelts, 1);
    assert_ptr_equal(match(tables_of(t, NULL), c, 0, 1), ruled);
    X509_free(x);
}

static void test_enable_flags(void **state)
{
    X509 *x = make_cert("CN=ivan", "CN=CA", 12);
    apr_size_t len;
    unsigned char *der = der_of(x, &len);
    certmap_cert_t *c = parse(x);
    certmap_table_t *t = certmap_table_make(pool);
    certmap_mapping_t *one = one_mapping("ivan1");
    certmap_mapping_t *many = with_rule(mapping("m", "ivan2"),
                                        rule("Subject", "CN", "ivan", NULL));

    assert_null(certmap_table_add_one_to_one(t, der, len, one));
    add_m2o(t, many);
    assert_ptr_equal(match(tables_of(t, NULL), c, 1, 1), one);
    assert_ptr_equal(match(tables_of(t, NULL), c, 0, 1), many);
    assert_ptr_equal(match(tables_of(t, NULL), c, 1, 0), one);
    assert_null(match(tables_of(t, NULL), c, 0, 0));
    assert_null(certmap_match(NULL, c, 1, 1, NULL));
}

static void test_duplicates(void **state)
{
    X509 *x = make_cert("CN=judy", "CN=CA", 13);
    apr_size_t len;
    unsigned char *der = der_of(x, &len);
    certmap_table_t *t = certmap_table_make(pool);
    certmap_table_t *t2 = certmap_table_make(pool);
    const char *err;

    X509_free(x);
    assert_null(certmap_table_add_one_to_one(t, der, len,
                                             one_mapping("a")));
    err = certmap_table_add_one_to_one(t, der, len,
                                       one_mapping("b"));
    assert_non_null(err);
    assert_non_null(strstr(err, "already mapped to 'a'"));
    assert_non_null(strstr(err, "test.conf:1"));
    assert_null(certmap_table_add_one_to_one(t2, der, len,
                                             one_mapping("b")));

    add_m2o(t, mapping("Sales", "s"));
    err = certmap_table_add_many_to_one(t, mapping("SALES", "s2"));
    assert_non_null(err);
    assert_non_null(strstr(err, "named 'Sales' already exists"));
    err = certmap_table_add_many_to_one(t, mapping("\xce\xa3", "s3"));
    assert_null(err);
    err = certmap_table_add_many_to_one(t, mapping("\xcf\x82", "s4"));
    assert_non_null(err);
    add_m2o(t2, mapping("sales", "s"));
    assert_non_null(certmap_table_add_many_to_one(t, mapping(NULL, "n")));
    assert_int_equal(certmap_table_many_to_one(t)->nelts, 2);
}

/* ---- rule errors and text ---------------------------------------------- */

static void test_rule_errors(void **state)
{
    assert_string_equal(compile_error("Subjekt", "CN", "x", NULL),
                        "unknown field 'Subjekt' (expected Subject, "
                        "Issuer, SAN, EKU, KeyUsage or Policy)");
    assert_string_equal(compile_error("Subject", "XX", "x", NULL),
                        "unknown sub-field 'XX' (expected CN, O, OU, L, S, "
                        "ST, C, E, GN, SN, T, DC, SERIALNUMBER, UID or a "
                        "dotted OID)");
    assert_non_null(compile_error("Subject", "", "x", NULL));
    assert_string_equal(compile_error("Subject", "1..2", "x", NULL),
                        "bad OID '1..2' (expected a dotted OID such as "
                        "2.5.4.3)");
    assert_non_null(strstr(compile_error("Subject", "1", "x", NULL),
                           "bad OID"));
    assert_non_null(strstr(compile_error("Subject", "1.2.", "x", NULL),
                           "bad OID"));
    assert_non_null(strstr(compile_error("Subject", "1.2.a", "x", NULL),
                           "bad OID"));
    assert_non_null(strstr(compile_error("Subject", "99.1", "x", NULL),
                           "bad OID"));
    assert_non_null(strstr(compile_error("Subject", "2.5.4.3 ", "x", NULL),
                           "bad OID"));
    assert_null(compile_error("Subject", "2.5.4.3", "x", NULL));
    assert_null(compile_error("Issuer", "1.3.6.1.4.1.311.20.2.3", "x", NULL));
    assert_string_equal(compile_error("Subject", "CN", "", NULL),
                        "empty criteria (use * for any value)");
    assert_string_equal(compile_error("Subject", "CN", "\xc3(", NULL),
                        "criteria is not valid UTF-8");
    assert_string_equal(compile_error("Subject", "CN", "x", "Sensitive"),
                        "unknown case mode 'Sensitive' (expected "
                        "CaseSensitive or CaseInsensitive)");
}

static void test_rule_text(void **state)
{
    assert_string_equal(certmap_rule_text(pool,
                            rule("subject", "cn", "*contoso*",
                                 "caseinsensitive")),
                        "Subject CN \"*contoso*\" CaseInsensitive");
    assert_string_equal(certmap_rule_text(pool,
                            rule("ISSUER", "1.2.3", "say \"hi\"\\", NULL)),
                        "Issuer 1.2.3 \"say \\\"hi\\\"\\\\\"");
    assert_string_equal(certmap_rule_text(pool,
                            rule("Subject", "st", "WA", "CaseSensitive")),
                        "Subject ST \"WA\"");
}

/* ---- blobs and files ---------------------------------------------------- */

static const char *blob_of(X509 *x, apr_size_t *len, unsigned char **der)
{
    *der = der_of(x, len);
    return certmap_der_to_blob(pool, *der, *len);
}

static char *with_breaks(const char *blob, const char *brk, int every)
{
    apr_size_t n = strlen(blob), i, o = 0;
    char *out = apr_palloc(pool, n * (strlen(brk) + 1) + 16);

    for (i = 0; i < n; i++) {
        if (i && i % every == 0) {
            memcpy(out + o, brk, strlen(brk));
            o += strlen(brk);
        }
        out[o++] = blob[i];
    }
    out[o] = '\0';
    return out;
}

static void test_base64_blobs(void **state)
{
    X509 *x = make_cert("CN=kim", "CN=CA", 14);
    unsigned char *der, *got;
    apr_size_t len, got_len;
    const char *blob = blob_of(x, &len, &der);
    const char *variants[] = {
        blob,
        with_breaks(blob, "\n", 64),
        with_breaks(blob, "\r\n", 76),
        with_breaks(blob, " \t", 3),
        apr_pstrcat(pool, " \r\n\t", with_breaks(blob, "\n", 64), "\n\n ",
                    NULL),
    };
    apr_size_t k;

    X509_free(x);
    assert_null(strchr(blob, '\n'));
    for (k = 0; k < sizeof(variants) / sizeof(variants[0]); k++) {
        got = NULL;
        assert_null(certmap_der_from_base64(pool, variants[k], &got,
                                            &got_len));
        assert_int_equal(got_len, len);
        assert_memory_equal(got, der, len);
    }
    assert_string_equal(certmap_der_from_base64(pool, "", &got, &got_len),
                        "empty certificate");
    assert_non_null(certmap_der_from_base64(pool, " \n", &got, &got_len));
    assert_non_null(strstr(certmap_der_from_base64(pool,
                               apr_pstrcat(pool, "-----BEGIN CERTIFICATE-----\n",
                                           blob, NULL), &got, &got_len),
                           "invalid character"));
    assert_non_null(certmap_der_from_base64(pool,
                        apr_pstrcat(pool, blob, "!", NULL), &got, &got_len));
    assert_non_null(certmap_der_from_base64(pool,
                        apr_pstrndup(pool, blob, strlen(blob) - 1), &got,
                        &got_len));
    assert_non_null(strstr(certmap_der_from_base64(pool, "QQ=A", &got,
                                                   &got_len), "padding"));
    assert_non_null(certmap_der_from_base64(pool, "QQ===", &got, &got_len));
    assert_non_null(strstr(certmap_der_from_base64(pool, "QUJD", &got,
                                                   &got_len),
                           "not an X.509 certificate"));
    /* well-formed DER that is not a certificate */
    {
        X509_NAME *name = X509_NAME_new();
        unsigned char *nder = NULL;
        int n;

        add_entries(name, "CN=not a cert");
        n = i2d_X509_NAME(name, &nder);
        assert_non_null(strstr(certmap_der_from_base64(pool,
                                   certmap_der_to_blob(pool, nder, n), &got,
                                   &got_len), "not an X.509 certificate"));
        OPENSSL_free(nder);
        X509_NAME_free(name);
    }
}

static void test_trailing_garbage(void **state)
{
    X509 *x = make_cert("CN=leo", "CN=CA", 15);
    apr_size_t len;
    unsigned char *der = der_of(x, &len), *got;
    unsigned char *longer = apr_palloc(pool, len + 3);
    const char *err;
    apr_size_t got_len;

    X509_free(x);
    memcpy(longer, der, len);
    memcpy(longer + len, "abc", 3);
    err = certmap_der_from_base64(pool,
                                  certmap_der_to_blob(pool, longer, len + 3),
                                  &got, &got_len);
    assert_non_null(err);
    assert_string_equal(err, "3 bytes of trailing data after the "
                             "certificate");
    err = certmap_der_from_base64(pool,
                                  certmap_der_to_blob(pool, der, len - 1),
                                  &got, &got_len);
    assert_non_null(err);
    assert_non_null(strstr(err, "not an X.509 certificate"));
}

/* ---- regressions found by make fuzz (tests/fuzz/fuzz_rules.c) ---------- */

/* The client's certificate as its DER arrives, read as mod_ssl reads it. */
static certmap_cert_t *parse_der(const unsigned char *der, apr_size_t len)
{
    const unsigned char *q = der;
    X509 *x = d2i_X509(NULL, &q, (long)len);

    assert_non_null(x);
    return parse(x);
}

/* Does a one-to-one mapping configured from `der` (its IIS blob) match
 * a client that sends these very bytes?  -1: the blob is refused. */
static int same_der_matches(const unsigned char *der, apr_size_t len)
{
    certmap_table_t *t = certmap_table_make(pool);
    certmap_mapping_t *m = one_mapping("same");
    unsigned char *got;
    apr_size_t got_len;

    if (certmap_der_from_base64(pool, certmap_der_to_blob(pool, der, len),
                                &got, &got_len) != NULL) {
        return -1;
    }
    assert_null(certmap_table_add_one_to_one(t, got, got_len, m));
    return match(tables_of(t, NULL), parse_der(der, len), 1, 1) == m;
}

/* A certificate whose signature BIT STRING declares unused bits and sets
 * them (DER wants them zero) passed the configuration check, yet its
 * one-to-one mapping never matched the same bytes from a client: OpenSSL
 * clears unused bits when reading, and a parsed certificate is
 * fingerprinted over its re-encoding, which keeps only the
 * TBSCertificate's bytes.  Refused now; zero unused bits still pass and
 * then match. */
static void test_signature_unused_bits(void **state)
{
    X509 *x = make_cert("CN=uma", "CN=CA", 16);
    const ASN1_BIT_STRING *sig;
    apr_size_t len;
    unsigned char *der = der_of(x, &len), *unused;

    X509_get0_signature(&sig, NULL, x);
    /* the signature ends the certificate: its unused-bit count, its bytes */
    unused = der + len - ASN1_STRING_length(sig) - 1;
    X509_free(x);
    assert_int_equal(*unused, 0);
    assert_int_equal(same_der_matches(der, len), 1);
    *unused = 3;
    der[len - 1] &= 0xf8;
    assert_int_equal(same_der_matches(der, len), 1);
    der[len - 1] |= 0x05;
    assert_int_equal(same_der_matches(der, len), -1);
}

static void put_bytes(apr_array_header_t *out, const void *s, apr_size_t n)
{
    const unsigned char *b = s;

    while (n--) {
        APR_ARRAY_PUSH(out, unsigned char) = *b++;
    }
}

/* One TLV around `content`, its length in DER's shortest form. */
static void put_tlv(apr_array_header_t *out, unsigned char tag,
                    const apr_array_header_t *content)
{
    apr_size_t n = (apr_size_t)content->nelts;

    assert_true(n < 0x10000);
    APR_ARRAY_PUSH(out, unsigned char) = tag;
    if (n >= 0x100) {
        APR_ARRAY_PUSH(out, unsigned char) = 0x82;
        APR_ARRAY_PUSH(out, unsigned char) = (unsigned char)(n >> 8);
    }
    else if (n >= 0x80) {
        APR_ARRAY_PUSH(out, unsigned char) = 0x81;
    }
    APR_ARRAY_PUSH(out, unsigned char) = (unsigned char)n;
    put_bytes(out, content->elts, n);
}

/* x re-assembled with BIT STRING 03 02 03 LAST as the parameters of its
 * outer signature algorithm. */
static unsigned char *with_bits_parameter(X509 *x, unsigned char last,
                                          apr_size_t *len)
{
    apr_array_header_t *alg = apr_array_make(pool, 32, 1);
    apr_array_header_t *body = apr_array_make(pool, 1024, 1);
    apr_array_header_t *cert = apr_array_make(pool, 1024, 1);
    const unsigned char param[] = { 0x03, 0x02, 0x03, last };
    unsigned char *tbs = NULL, *oid = NULL, *sig = NULL;
    const ASN1_BIT_STRING *signature;
    const X509_ALGOR *algorithm;
    const ASN1_OBJECT *obj;
    int tbs_len, oid_len, sig_len;

    X509_get0_signature(&signature, &algorithm, x);
    X509_ALGOR_get0(&obj, NULL, NULL, algorithm);
    tbs_len = i2d_re_X509_tbs(x, &tbs);
    oid_len = i2d_ASN1_OBJECT(obj, &oid);
    sig_len = i2d_ASN1_BIT_STRING(signature, &sig);
    assert_true(tbs_len > 0 && oid_len > 0 && sig_len > 0);
    put_bytes(alg, oid, (apr_size_t)oid_len);
    put_bytes(alg, param, sizeof(param));
    put_bytes(body, tbs, (apr_size_t)tbs_len);
    put_tlv(body, 0x30, alg);
    put_bytes(body, sig, (apr_size_t)sig_len);
    put_tlv(cert, 0x30, body);
    OPENSSL_free(tbs);
    OPENSSL_free(oid);
    OPENSSL_free(sig);
    *len = (apr_size_t)cert->nelts;
    return (unsigned char *)cert->elts;
}

/* The same through the signature algorithm's parameters: a BIT STRING
 * there is read, cleared and re-encoded as well. */
static void test_signature_parameter_unused_bits(void **state)
{
    X509 *x = make_cert("CN=vera", "CN=CA", 17);
    apr_size_t ok_len, bad_len;
    unsigned char *ok = with_bits_parameter(x, 0xf8, &ok_len);
    unsigned char *bad = with_bits_parameter(x, 0xff, &bad_len);

    X509_free(x);
    assert_int_equal(same_der_matches(ok, ok_len), 1);
    assert_int_equal(same_der_matches(bad, bad_len), -1);
}

static apr_status_t temp_file_remove(void *path)
{
    unlink(path);
    return APR_SUCCESS;
}

/* A file removed when the test's pool goes, also after a failed assert. */
static const char *temp_file(const void *data, apr_size_t len)
{
    char *path = apr_pstrdup(pool, "/tmp/certmap-test-XXXXXX");
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    apr_pool_cleanup_register(pool, path, temp_file_remove,
                              apr_pool_cleanup_null);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static const char *pem_of(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;
    const char *out;

    PEM_write_bio_X509(bio, x);
    n = BIO_get_mem_data(bio, &data);
    out = apr_pstrmemdup(pool, data, n);
    BIO_free(bio);
    return out;
}

static void test_files(void **state)
{
    X509 *x = make_cert("CN=mallory", "CN=CA", 16);
    X509 *y = make_cert("CN=second", "CN=CA", 17);
    apr_size_t len, got_len;
    unsigned char *der = der_of(x, &len), *got;
    const char *pem = pem_of(x);
    const char *two = apr_pstrcat(pool, "Bag Attributes\n-----BEGIN "
                                  "PRIVATE KEY-----\nQUJD\n-----END PRIVATE "
                                  "KEY-----\n", pem, pem_of(y), NULL);
    const char *paths[3], *err;
    int k;

    paths[0] = temp_file(pem, strlen(pem));
    paths[1] = temp_file(der, len);
    paths[2] = temp_file(two, strlen(two));
    for (k = 0; k < 3; k++) {
        got = NULL;
        assert_null(certmap_der_from_file(pool, paths[k], &got, &got_len));
        assert_int_equal(got_len, len);
        assert_memory_equal(got, der, len);
    }

    err = certmap_der_from_file(pool, "/nonexistent/cert.pem", &got,
                                &got_len);
    assert_non_null(strstr(err, "cannot read '/nonexistent/cert.pem'"));
    assert_non_null(strstr(err, "No such file"));
    paths[0] = temp_file("garbage\n", 8);
    err = certmap_der_from_file(pool, paths[0], &got, &got_len);
    assert_non_null(strstr(err, paths[0]));
    assert_non_null(strstr(err, "not an X.509 certificate"));
    paths[0] = temp_file("-----BEGIN FOO-----\nQUJD\n-----END FOO-----\n",
                         42);
    err = certmap_der_from_file(pool, paths[0], &got, &got_len);
    assert_non_null(strstr(err, "no PEM certificate found"));
    X509_free(x);
    X509_free(y);
}

/* ---- parsed certificates ----------------------------------------------- */

static void test_describe(void **state)
{
    X509 *x = make_cert("CN=evil\nAH01234: granted/O=Contoso/"
                        "OU=\xe2\x80\xae" "abc/L=\xc2\x85x",
                        "CN=Test CA/O=\xce\xa9", 0x1234abL);
    certmap_cert_t *c = parse(x);
    const char *d = certmap_cert_describe(pool, c);
    const unsigned char *sha = certmap_cert_sha256(c);
    char hex[65];
    int i;

    for (i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", sha[i]);
    }
    assert_null(strchr(d, '\n'));
    assert_non_null(strstr(d, "subject=L=\\C2\\85x,OU=\\E2\\80\\AEabc,"
                              "O=Contoso,CN=evil\\0AAH01234: granted, "));
    assert_non_null(strstr(d, "issuer=O=\xce\xa9,CN=Test CA, "));
    assert_non_null(strstr(d, "serial=1234AB, "));
    assert_non_null(strstr(d, apr_pstrcat(pool, "sha256=", hex, NULL)));
    assert_ptr_equal(certmap_cert_x509(c) != NULL, 1);
}

static void test_parse_keeps_reference(void **state)
{
    apr_pool_t *sub;
    X509 *x = make_cert("CN=nina", "CN=CA", 18);
    certmap_cert_t *c = NULL;

    apr_pool_create(&sub, pool);
    assert_null(certmap_cert_parse(sub, x, &c));
    X509_free(x);               /* only the engine's reference remains */
    assert_true(hits(c, "Subject", "CN", "nina", NULL));
    assert_non_null(X509_get_subject_name(certmap_cert_x509(c)));
    apr_pool_destroy(sub);      /* releases it: LeakSanitizer checks */
    assert_non_null(certmap_cert_parse(pool, NULL, &c));
}

/* ---- trace --------------------------------------------------------------- */

static void test_trace(void **state)
{
    certmap_cert_t *c = cert_of("CN=oscar/O=Contoso/OU=Ops", "CN=CA");
    certmap_table_t *outer = certmap_table_make(pool);
    certmap_table_t *inner = certmap_table_make(pool);
    certmap_rule_t *ou_dev = rule("Subject", "OU", "Dev", NULL);
    certmap_rule_t *issuer = rule("Issuer", "CN", "Other CA", NULL);
    certmap_mapping_t *a = with_rule(with_rule(mapping("a", "a"),
                                   rule("Subject", "O", "Contoso", NULL)),
                                     ou_dev);
    certmap_mapping_t *b = with_rule(mapping("b", "b"),
                                     rule("Subject", "CN", "oscar", NULL));
    certmap_mapping_t *d = with_rule(mapping("d", "d"), issuer);
    certmap_mapping_t *e = with_rule(mapping("e", "e"),
                                     rule("Subject", "CN", "osc*", NULL));
    certmap_mapping_t *f = mapping("f", "f");
    apr_array_header_t *trace = apr_array_make(pool, 1,
                                               sizeof(certmap_step_t));
    certmap_step_t *steps;

    b->enabled = 0;
    add_m2o(outer, a);
    add_m2o(outer, b);
    add_m2o(inner, d);
    add_m2o(inner, e);
    add_m2o(inner, f);
    assert_ptr_equal(certmap_match(tables_of(outer, inner), c, 1, 1, trace),
                     e);
    assert_int_equal(trace->nelts, 3);
    steps = (certmap_step_t *)trace->elts;
    assert_ptr_equal(steps[0].mapping, a);
    assert_ptr_equal(steps[0].failed_rule, ou_dev);
    assert_false(steps[0].disabled);
    assert_ptr_equal(steps[1].mapping, b);
    assert_true(steps[1].disabled);
    assert_null(steps[1].failed_rule);
    assert_ptr_equal(steps[2].mapping, d);
    assert_ptr_equal(steps[2].failed_rule, issuer);
    assert_string_equal(certmap_rule_text(pool, steps[2].failed_rule),
                        "Issuer CN \"Other CA\"");

    /* nothing matches: every mapping is a step */
    trace = apr_array_make(pool, 1, sizeof(certmap_step_t));
    c = cert_of("CN=peggy", "CN=CA");
    f->enabled = 0;
    assert_null(certmap_match(tables_of(outer, inner), c, 1, 1, trace));
    assert_int_equal(trace->nelts, 5);
}

/* ---- rules beyond IIS: SAN, EKU, KeyUsage, Policy ------------------------ */

static const unsigned char ipv4[4] = { 192, 0, 2, 7 };
static const unsigned char ipv6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                        0, 0, 0, 0, 0, 0, 0, 1 };

static certmap_cert_t *san_cert(void)
{
    GENERAL_NAMES *gn = GENERAL_NAMES_new();

    san_add(gn, GEN_EMAIL, "alice@contoso.com", -1);
    san_add(gn, GEN_EMAIL, "a.smith@Contoso.COM", -1);
    san_add(gn, GEN_OTHERNAME, "alice@CORP.contoso.com", -1);
    san_add(gn, GEN_DNS, "WWW.Contoso.com", -1);
    san_add(gn, GEN_DNS, "xn--bcher-kva.example", -1);
    san_add(gn, GEN_URI, "https://id.contoso.com/u/alice", -1);
    san_add(gn, GEN_IPADD, ipv4, 4);
    san_add(gn, GEN_IPADD, ipv6, 16);
    queue_san(gn);
    return cert_of("CN=alice", "CN=CA");
}

static void test_san_kinds(void **state)
{
    certmap_cert_t *c = san_cert();
    certmap_cert_t *none = cert_of("CN=alice/emailAddress=alice@contoso.com",
                                   "CN=CA");

    assert_true(hits(c, "SAN", "Email", "alice@contoso.com", NULL));
    /* any value may match: the second e-mail */
    assert_true(hits(c, "SAN", "email", "a.smith@*", NULL));
    assert_false(hits(c, "SAN", "Email", "*@contoso.com.evil", NULL));
    assert_true(hits(c, "SAN", "Email", "*@contoso.com", "CaseInsensitive"));
    assert_true(hits(c, "SAN", "UPN", "*@CORP.contoso.com", NULL));
    assert_false(hits(c, "SAN", "UPN", "*@corp.contoso.com", NULL));
    assert_true(hits(c, "SAN", "UPN", "*@corp.contoso.com",
                     "CaseInsensitive"));
    /* DNS never cares about case, whatever the rule says */
    assert_true(hits(c, "SAN", "DNS", "www.contoso.com", "CaseSensitive"));
    assert_true(hits(c, "SAN", "DNS", "*.CONTOSO.COM", NULL));
    assert_true(hits(c, "SAN", "URI", "https://id.contoso.com/*", NULL));
    assert_true(hits(c, "SAN", "IP", "192.0.2.7", NULL));
    assert_true(hits(c, "SAN", "IP", "192.0.2.*", NULL));
    assert_true(hits(c, "SAN", "IP", "2001:db8::1", NULL));
    assert_false(hits(c, "SAN", "IP", "2001:0db8:0:0:0:0:0:1", NULL));
    /* kinds do not mix: an e-mail is no UPN, a DNS name no URI */
    assert_false(hits(c, "SAN", "UPN", "alice@contoso.com", NULL));
    assert_false(hits(c, "SAN", "URI", "*contoso.com", NULL));
    /* absent never matches, not even "*"; the subject's E is no SAN */
    assert_false(hits(none, "SAN", "Email", "*", NULL));
    assert_false(hits(none, "SAN", "Email", "alice@contoso.com", NULL));
    assert_false(hits(none, "SAN", "IP", "*", NULL));
    assert_true(hits(c, "SAN", "IP", "*", NULL));
}

static void test_san_hostile(void **state)
{
    GENERAL_NAMES *gn = GENERAL_NAMES_new();
    certmap_cert_t *c;
    apr_array_header_t *emails;

    san_add(gn, GEN_EMAIL, "alice@contoso.com\0@evil.com", 27);
    san_add(gn, GEN_EMAIL, "mallory@evil.com@contoso.com", -1);
    san_add(gn, GEN_OTHERNAME, "bob@contoso.com\0x", 17);
    san_add(gn, GEN_DNS, "b\xc3\xbc" "cher.example", -1);   /* not IA5 */
    san_add(gn, GEN_DNS, "xn--bcher-kva.example", -1);
    san_add(gn, GEN_IPADD, ipv4, 3);                      /* no address */
    queue_san(gn);
    c = cert_of("CN=x", "CN=CA");
    /* a NUL hides nothing: that value never matches */
    assert_false(hits(c, "SAN", "Email", "alice@contoso.com", NULL));
    assert_false(hits(c, "SAN", "Email", "alice@contoso.com*", NULL));
    assert_false(hits(c, "SAN", "Email", "*@evil.com", NULL));
    assert_false(hits(c, "SAN", "UPN", "*", NULL));
    assert_false(hits(c, "SAN", "UPN", "bob@contoso.com", NULL));
    /* '@' tricks compare as the literal text they are */
    assert_true(hits(c, "SAN", "Email", "*@contoso.com", NULL));
    assert_false(hits(c, "SAN", "Email", "mallory@evil.com", NULL));
    /* IDNA: the A-label matches, raw UTF-8 in an IA5 name never does */
    assert_true(hits(c, "SAN", "DNS", "xn--bcher-kva.example", NULL));
    assert_false(hits(c, "SAN", "DNS", "b\xc3\xbc" "cher.example", NULL));
    assert_false(hits(c, "SAN", "DNS", "b*", NULL));
    assert_false(hits(c, "SAN", "IP", "*", NULL));
    emails = certmap_cert_san(pool, c, CERTMAP_SAN_EMAIL);
    assert_int_equal(emails->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(emails, 0, const char *),
                        "mallory@evil.com@contoso.com");
    assert_int_equal(certmap_cert_san(pool, c, CERTMAP_SAN_UPN)->nelts, 0);
    assert_int_equal(certmap_cert_san(pool, c, CERTMAP_SAN_DNS)->nelts, 1);
}

static void test_usages(void **state)
{
    certmap_cert_t *c, *bare, *other;

    queue_conf("extendedKeyUsage", "clientAuth,1.3.6.1.4.1.311.20.2.2");
    queue_conf("keyUsage", "digitalSignature,keyAgreement");
    queue_policies("1.2.3.4", "2.23.140.1.2.1");
    c = cert_of("CN=x", "CN=CA");
    bare = cert_of("CN=x", "CN=CA");
    queue_conf("extendedKeyUsage", "emailProtection");
    queue_conf("keyUsage", "keyEncipherment");
    other = cert_of("CN=x", "CN=CA");

    assert_true(hits(c, "EKU", "clientAuth", NULL, NULL));
    assert_true(hits(c, "eku", "CLIENTAUTH", NULL, NULL));
    assert_true(hits(c, "EKU", "1.3.6.1.5.5.7.3.2", NULL, NULL));
    assert_true(hits(c, "EKU", "smartcardLogon", NULL, NULL));
    assert_false(hits(c, "EKU", "emailProtection", NULL, NULL));
    assert_false(hits(c, "EKU", "1.3.6.1.5.5.7.3", NULL, NULL));
    assert_true(hits(other, "EKU", "emailProtection", NULL, NULL));
    assert_true(hits(c, "KeyUsage", "digitalSignature", NULL, NULL));
    assert_true(hits(c, "KeyUsage", "keyagreement", NULL, NULL));
    assert_false(hits(c, "KeyUsage", "keyEncipherment", NULL, NULL));
    assert_false(hits(c, "KeyUsage", "nonRepudiation", NULL, NULL));
    assert_true(hits(other, "KeyUsage", "keyEncipherment", NULL, NULL));
    assert_false(hits(other, "KeyUsage", "digitalSignature", NULL, NULL));
    assert_true(hits(c, "Policy", "1.2.3.4", NULL, NULL));
    assert_true(hits(c, "Policy", "2.23.140.1.2.1", NULL, NULL));
    assert_false(hits(c, "Policy", "1.2.3", NULL, NULL));
    /* without the extension nothing of it matches (KeyUsage too: no
     * extension is no "every bit") */
    assert_false(hits(bare, "EKU", "clientAuth", NULL, NULL));
    assert_false(hits(bare, "KeyUsage", "digitalSignature", NULL, NULL));
    assert_false(hits(bare, "Policy", "1.2.3.4", NULL, NULL));

    assert_non_null(strstr(compile_error("EKU", "clientAuthx", NULL, NULL),
                           "unknown extended key usage"));
    assert_non_null(strstr(compile_error("KeyUsage", "cRLSign", NULL, NULL),
                           "unknown key usage"));
    assert_non_null(strstr(compile_error("Policy", "1..2", NULL, NULL),
                           "bad policy OID"));
    assert_non_null(strstr(compile_error("EKU", "clientAuth", "x", NULL),
                           "exactly one value"));
    assert_non_null(strstr(compile_error("SAN", "X400", "x", NULL),
                           "unknown SAN kind"));
    assert_string_equal(certmap_rule_text(pool, rule("eku", "clientauth",
                                                     NULL, NULL)),
                        "EKU clientAuth");
    assert_string_equal(certmap_rule_text(pool, rule("san", "upn", "*@x",
                                                     NULL)),
                        "SAN UPN \"*@x\"");
    assert_string_equal(certmap_rule_text(pool, rule("SAN", "DNS", "x",
                                                     NULL)),
                        "SAN DNS \"x\" CaseInsensitive");
}

/* A mapping with one template and maybe a regex, matched against c. */
static certmap_name_e expand(const certmap_cert_t *c, const char *text,
                             const char *regex, const char **name)
{
    certmap_template_t *t = NULL;
    const char *why = NULL, *err;
    certmap_name_e rc;

    err = certmap_template_compile(pool, text, regex, &t);
    if (err) {
        fail_msg("template %s: %s", text, err);
    }
    assert_non_null(t);
    rc = certmap_template_expand(pool, t, c, name, &why);
    assert_true(rc == CERTMAP_NAME_OK ? why == NULL : why != NULL);
    return rc;
}

static void test_templates(void **state)
{
    certmap_cert_t *c = san_cert();
    certmap_cert_t *plain = cert_of("CN=bob/OU=Sales/OU=Ops", "O=Contoso");
    certmap_template_t *t = NULL;
    const char *name;

    assert_int_equal(expand(c, "%{SAN:UPN}", NULL, &name), CERTMAP_NAME_OK);
    assert_string_equal(name, "alice@CORP.contoso.com");
    assert_int_equal(expand(c, "%{SAN:Email}", NULL, &name),
                     CERTMAP_NAME_OK);
    assert_string_equal(name, "alice@contoso.com");      /* the first */
    assert_int_equal(expand(c, "%{san:dns}", NULL, &name), CERTMAP_NAME_OK);
    assert_string_equal(name, "WWW.Contoso.com");
    assert_int_equal(expand(plain, "x-%{Subject:OU}.%{Issuer:O}", NULL,
                            &name), CERTMAP_NAME_OK);
    assert_string_equal(name, "x-Sales.Contoso");
    assert_int_equal(expand(c, "%{SAN:UPN}", "^([^@]+)@corp\\.contoso\\.com$",
                            &name), CERTMAP_NAME_NONE);
    assert_int_equal(expand(c, "%{SAN:UPN}",
                            "(?i)^([^@]+)@corp\\.contoso\\.com$", &name),
                     CERTMAP_NAME_OK);
    assert_string_equal(name, "alice");
    /* no capture group: the whole name */
    assert_int_equal(expand(c, "%{SAN:Email}", "@contoso\\.com$", &name),
                     CERTMAP_NAME_OK);
    assert_string_equal(name, "alice@contoso.com");
    /* absent values: no name, the mapping does not match */
    assert_int_equal(expand(plain, "%{SAN:UPN}", NULL, &name),
                     CERTMAP_NAME_NONE);
    assert_int_equal(expand(plain, "%{Subject:E}", NULL, &name),
                     CERTMAP_NAME_NONE);
    /* not a template */
    assert_null(certmap_template_compile(pool, "alice", NULL, &t));
    assert_null(t);
    assert_non_null(certmap_template_compile(pool, "%{SAN:UPN", NULL, &t));
    assert_non_null(certmap_template_compile(pool, "%{SAN:IP}", NULL, &t));
    assert_non_null(certmap_template_compile(pool, "%{EKU:x}", NULL, &t));
    assert_non_null(certmap_template_compile(pool, "%{Subject}", NULL, &t));
    assert_non_null(certmap_template_compile(pool, "%{Subject:XX}", NULL,
                                             &t));
    assert_non_null(strstr(certmap_template_compile(pool, "%{SAN:UPN}",
                                                    "(", &t),
                           "bad regular expression"));
    assert_null(certmap_template_compile(pool, "%{SAN:UPN}", "^(.*)$", &t));
    assert_string_equal(certmap_template_text(pool, t),
                        "%{SAN:UPN} matching \"^(.*)$\"");
}

static void test_template_bad_names(void **state)
{
    static const char *const bad[] = {
        "a\x01b", "a/b", "-rf", "tab\there", "del\x7f", "c1\xc2\x85x", "",
    };
    char long_cn[300];
    const char *name;
    certmap_cert_t *c;
    X509_NAME *n = X509_NAME_new();
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        X509_NAME *bn = X509_NAME_new();

        add_raw(bn, NID_commonName, V_ASN1_UTF8STRING, bad[i],
                (int)strlen(bad[i]));
        c = parse(make_cert_names(bn, X509_NAME_new(), 9));
        assert_int_equal(expand(c, "%{Subject:CN}", NULL, &name),
                         CERTMAP_NAME_BAD);
        assert_null(name);
    }
    /* a NUL in the value the template names */
    add_raw(n, NID_commonName, V_ASN1_UTF8STRING, "ab\0c", 4);
    c = parse(make_cert_names(n, X509_NAME_new(), 5));
    assert_int_equal(expand(c, "%{Subject:CN}", NULL, &name),
                     CERTMAP_NAME_BAD);
    /* 257 bytes: too long; 256: fine */
    memset(long_cn, 'a', sizeof(long_cn));
    long_cn[0] = '\0';
    c = cert_of("CN=abcdefgh", "CN=CA");
    {
        char text[400];
        memset(text, 'x', 248);
        strcpy(text + 248, "%{Subject:CN}");
        assert_int_equal(expand(c, text, NULL, &name), CERTMAP_NAME_OK);
        assert_int_equal(strlen(name), 256);
        text[0] = 'y';
        memmove(text + 1, text, strlen(text) + 1);
        assert_int_equal(expand(c, text, NULL, &name), CERTMAP_NAME_BAD);
    }
    /* an empty capture, a leading '-' made by the regex */
    c = cert_of("CN=x-y", "CN=CA");
    assert_int_equal(expand(c, "%{Subject:CN}", "^x(.*)y$", &name),
                     CERTMAP_NAME_BAD);
    assert_int_equal(expand(c, "%{Subject:CN}", "^x(.*)$", &name),
                     CERTMAP_NAME_BAD);
    assert_int_equal(expand(c, "%{Subject:CN}", "^(x)", &name),
                     CERTMAP_NAME_OK);
    assert_string_equal(name, "x");
    (void)long_cn;
}

/* A template is part of the match: no name, next mapping; a bad name
 * wins (and is refused by the caller). */
static void test_template_in_match(void **state)
{
    certmap_table_t *t = certmap_table_make(pool);
    certmap_mapping_t *upn = mapping("upn", "%{SAN:UPN}");
    certmap_mapping_t *cn = mapping("cn", "%{Subject:CN}");
    certmap_mapping_t *fixed = mapping("fixed", "guest");
    apr_array_header_t *trace = apr_array_make(pool, 4,
                                               sizeof(certmap_step_t));
    certmap_template_t *tpl;

    assert_null(certmap_template_compile(pool, upn->user,
                                         "^([^@]+)@contoso\\.com$", &tpl));
    upn->many.user_template = tpl;
    assert_null(certmap_template_compile(pool, cn->user, NULL, &tpl));
    cn->many.user_template = tpl;
    add_m2o(t, with_rule(upn, rule("Issuer", "CN", "CA", NULL)));
    add_m2o(t, with_rule(cn, rule("Subject", "OU", "Staff", NULL)));
    add_m2o(t, with_rule(fixed, rule("Issuer", "CN", "CA", NULL)));

    {
        GENERAL_NAMES *gn = GENERAL_NAMES_new();
        san_add(gn, GEN_OTHERNAME, "carol@contoso.com", -1);
        queue_san(gn);
    }
    assert_ptr_equal(match(tables_of(t, NULL),
                           cert_of("CN=carol", "CN=CA"), 1, 1), upn);
    {
        GENERAL_NAMES *gn = GENERAL_NAMES_new();
        san_add(gn, GEN_OTHERNAME, "mallory@evil.com@contoso.com", -1);
        queue_san(gn);
    }
    assert_ptr_equal(match(tables_of(t, NULL),
                           cert_of("CN=-x/OU=Staff", "CN=CA"), 1, 1), cn);
    assert_ptr_equal(match(tables_of(t, NULL),
                           cert_of("CN=dave", "CN=CA"), 1, 1), fixed);
    assert_ptr_equal(certmap_match(tables_of(t, NULL),
                                   cert_of("CN=dave", "CN=CA"), 1, 1, trace),
                     fixed);
    assert_int_equal(trace->nelts, 2);
    assert_true(APR_ARRAY_IDX(trace, 0, certmap_step_t).no_name);
    assert_null(APR_ARRAY_IDX(trace, 0, certmap_step_t).failed_rule);
    assert_false(APR_ARRAY_IDX(trace, 1, certmap_step_t).no_name);
}

/* ---- randomized: the indexed search equals a naive scan ------------------ */

/* Values are made of these pieces; the test knows how they fold. */
static const char *const short_pieces[] = {
    "a", "A", "b", "B", "*", "\xcf\x83" /* σ */, "\xce\xa3" /* Σ */,
    "\xcf\x82" /* ς */, "-", "k", "K", "\xe2\x84\xaa" /* Kelvin */,
};
static const char *const short_fold[] = {
    "a", "a", "b", "b", "*", "\xcf\x83", "\xcf\x83", "\xcf\x83", "-",
    "k", "k", "k",
};

/* Longer values, as in bench_match_mix: words that share n-grams, digits
 * that set them apart, and the issuer names every client carries. */
static const char *const long_pieces[] = {
    "Division ", "division ", "DIVISION ", "Contoso", "svc-", "1", "2",
    "3", "12", "\xce\xa3" /* Σ */, "\xcf\x82" /* ς */,
    "\xe2\x84\xaa" /* Kelvin */, "k", "-", "*",
    "CertMap Test Root CA", "CertMap Test", "CertMap",  /* longest first */
};
static const char *const long_fold[] = {
    "division ", "division ", "division ", "contoso", "svc-", "1", "2",
    "3", "12", "\xcf\x83", "\xcf\x83", "k", "k", "-", "*",
    "certmap test root ca", "certmap test", "certmap",
};

static const char *const *pieces = short_pieces;
static const char *const *piece_fold = short_fold;
static int npieces = (int)(sizeof(short_pieces) / sizeof(short_pieces[0]));
static int max_pieces = 3;      /* per random value */

static void use_long_pieces(int on)
{
    pieces = on ? long_pieces : short_pieces;
    piece_fold = on ? long_fold : short_fold;
    npieces = on ? (int)(sizeof(long_pieces) / sizeof(long_pieces[0]))
                 : (int)(sizeof(short_pieces) / sizeof(short_pieces[0]));
    max_pieces = on ? 5 : 3;
}

/* The unknown OID has no OpenSSL number: it compares by its octets. */
static const char *const model_types[] = { "CN", "O", "OU", "1.2.3.4.5" };

/* Beyond IIS: SAN kinds (field 2) and EKU values (field 3). */
static const char *const model_san[] = { "UPN", "DNS", "Email" };
static const char *const model_eku[] = {
    "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4", "1.2.3.4",
};

typedef struct {
    int field, type;
    const char *value, *folded;
    int dead;                   /* non-ASCII in an IA5 name: never matches */
} model_attr_t;

typedef struct {
    int field, type, ci;
    const char *criteria;
} model_rule_t;

typedef struct {
    int nrules, enabled;
    model_rule_t rules[3];
} model_mapping_t;

static void random_text(const char **text, const char **folded)
{
    int n = 1 + rand() % max_pieces, i;
    const char *t = "", *f = "";

    /* names allow 64 characters; short pieces never reach 40 bytes */
    for (i = 0; i < n && strlen(t) < 40; i++) {
        int k = rand() % npieces;

        t = apr_pstrcat(pool, t, pieces[k], NULL);
        f = apr_pstrcat(pool, f, piece_fold[k], NULL);
    }
    *text = t;
    *folded = f;
}

static int model_text_match(const char *crit, const char *v)
{
    apr_size_t n = strlen(crit), m = strlen(v);
    int lead, trail;
    const char *mid;
    apr_size_t k;

    if (strcmp(crit, "*") == 0) {
        return 1;
    }
    lead = crit[0] == '*';
    trail = n > 1 && crit[n - 1] == '*';
    mid = apr_pstrndup(pool, crit + lead, n - lead - trail);
    k = strlen(mid);
    if (lead && trail) {
        return strstr(v, mid) != NULL;
    }
    if (lead) {
        return m >= k && strcmp(v + m - k, mid) == 0;
    }
    if (trail) {
        return strncmp(v, mid, k) == 0;
    }
    return strcmp(v, mid) == 0;
}

/* Folds text made of the pieces above, piece by piece. */
static const char *model_fold(const char *s)
{
    const char *out = "";
    int k;

    while (*s) {
        for (k = 0; k < npieces; k++) {
            if (strncmp(s, pieces[k], strlen(pieces[k])) == 0) {
                break;
            }
        }
        assert_true(k < npieces);
        out = apr_pstrcat(pool, out, piece_fold[k], NULL);
        s += strlen(pieces[k]);
    }
    return out;
}

static int model_rule_match(const model_rule_t *r, const model_attr_t *attrs,
                            int nattrs)
{
    int i;

    for (i = 0; i < nattrs; i++) {
        if (attrs[i].field != r->field || attrs[i].type != r->type
            || attrs[i].dead) {
            continue;
        }
        if (r->ci ? model_text_match(model_fold(r->criteria),
                                     attrs[i].folded)
                  : model_text_match(r->criteria, attrs[i].value)) {
            return 1;
        }
    }
    return 0;
}

static int model_scan(const model_mapping_t *mm, int n,
                      const model_attr_t *attrs, int nattrs)
{
    int i, j;

    for (i = 0; i < n; i++) {
        int ok = mm[i].enabled;

        for (j = 0; ok && j < mm[i].nrules; j++) {
            ok = model_rule_match(&mm[i].rules[j], attrs, nattrs);
        }
        if (ok) {
            return i;
        }
    }
    return -1;
}

static const char *random_criteria(void)
{
    const char *text, *folded;

    switch (rand() % 8) {
    case 0:
        return "*";
    case 1:
        random_text(&text, &folded);
        return apr_pstrcat(pool, text, "*", NULL);
    case 2:
        random_text(&text, &folded);
        return apr_pstrcat(pool, "*", text, NULL);
    case 3:
        random_text(&text, &folded);
        return apr_pstrcat(pool, "*", text, "*", NULL);
    default:
        random_text(&text, &folded);
        return text;
    }
}

static const char *field_word(int field)
{
    static const char *const words[] = { "Subject", "Issuer", "SAN" };

    return words[field];
}

static int is_ascii(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s >= 0x80) {
            return 0;
        }
    }
    return 1;
}

/* Random SAN values and EKU OIDs after the n name attributes. */
static void random_extensions(model_attr_t *attrs, int *n)
{
    GENERAL_NAMES *gn = GENERAL_NAMES_new();
    EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
    int i, k;

    for (i = rand() % 4; i > 0; i--) {
        model_attr_t *a = &attrs[(*n)++];
        static const int types[] = { GEN_OTHERNAME, GEN_DNS, GEN_EMAIL };

        a->field = 2;
        a->type = rand() % 3;
        random_text(&a->value, &a->folded);
        a->dead = a->type != 0 && !is_ascii(a->value);
        san_add(gn, types[a->type], a->value, (int)strlen(a->value));
    }
    for (k = 0; k < 3; k++) {
        if (rand() % 5 == 0) {
            model_attr_t *a = &attrs[(*n)++];

            a->field = 3;
            a->type = 0;
            a->value = a->folded = model_eku[k];
            a->dead = 0;
            sk_ASN1_OBJECT_push(eku, OBJ_txt2obj(model_eku[k], 1));
        }
    }
    if (sk_GENERAL_NAME_num(gn) > 0) {
        queue_san(gn);
    }
    else {
        GENERAL_NAMES_free(gn);
    }
    if (sk_ASN1_OBJECT_num(eku) > 0) {
        queue_ext(X509V3_EXT_i2d(NID_ext_key_usage, 0, eku));
    }
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
}

static void build_random_table(certmap_table_t *t, model_mapping_t *mm,
                               certmap_mapping_t **maps, int n)
{
    int i, j;

    for (i = 0; i < n; i++) {
        certmap_mapping_t *m = mapping(apr_psprintf(pool, "m%d-%d", i,
                                                    rand()), "u");

        mm[i].enabled = rand() % 10 != 0;
        /* rule-less mappings (tested above) would match everything */
        mm[i].nrules = 1 + rand() % 3;
        m->enabled = mm[i].enabled;
        for (j = 0; j < mm[i].nrules; j++) {
            model_rule_t *r = &mm[i].rules[j];
            int pick = rand() % 10;

            r->field = pick < 6 ? 0 : pick < 8 ? 1 : pick < 9 ? 2 : 3;
            if (r->field == 3 && j == 0) {
                r->field = 2;   /* EKU only next to other rules */
            }
            r->type = r->field == 3 ? 0 : rand() % 3;
            r->ci = rand() % 2;
            r->criteria = random_criteria();
            if (r->field == 3) {
                r->ci = 0;
                r->criteria = model_eku[rand() % 3];
                with_rule(m, rule("EKU", r->criteria, NULL, NULL));
                continue;
            }
            with_rule(m, rule(field_word(r->field),
                              r->field == 2 ? model_san[r->type]
                                            : model_types[r->type],
                              r->criteria,
                              r->ci ? "CaseInsensitive" : NULL));
            if (r->field == 2 && r->type == 1) {
                r->ci = 1;          /* DNS: always */
            }
        }
        add_m2o(t, m);
        maps[i] = m;
    }
}

static const certmap_cert_t *random_cert(model_attr_t *attrs, int *nattrs)
{
    X509_NAME *names[2] = { X509_NAME_new(), X509_NAME_new() };
    int i;

    *nattrs = rand() % 7;
    for (i = 0; i < *nattrs; i++) {
        model_attr_t *a = &attrs[i];
        int set = (i > 0 && rand() % 4 == 0 && attrs[i - 1].field == 0)
                  ? -1 : 0;

        a->field = set ? 0 : rand() % 4 == 0;
        a->type = rand() % 3;
        a->dead = 0;
        random_text(&a->value, &a->folded);
        assert_int_equal(X509_NAME_add_entry_by_txt(names[a->field],
                             model_types[a->type], MBSTRING_UTF8,
                             (const unsigned char *)a->value, -1, -1, set),
                         1);
    }
    random_extensions(attrs, nattrs);
    return parse(make_cert_names(names[0], names[1], rand()));
}

/* bench_match_mix's shape: most mappings carry an issuer rule nearly
 * every client passes, first or last, next to subject rules that are
 * often "*x*"; OU is sometimes named by its dotted OID. */
static void build_mix_table(certmap_table_t *t, model_mapping_t *mm,
                            certmap_mapping_t **maps, int n)
{
    static const char *const shared[][3] = {
        { "Issuer", "O", "CertMap Test" },
        { "Issuer", "CN", "CertMap Test Root CA" },
        { "Issuer", "CN", "CertMap*" },
        { "Subject", "O", "*Contoso*" },
    };
    int i, j;

    for (i = 0; i < n; i++) {
        certmap_mapping_t *m = mapping(apr_psprintf(pool, "x%d-%d", i,
                                                    rand()), "u");
        int share = rand() % 5 ? rand() % 4 : -1;
        int nsub = 1 + rand() % 2, last = rand() % 2;

        mm[i].enabled = rand() % 10 != 0;
        mm[i].nrules = nsub + (share >= 0);
        m->enabled = mm[i].enabled;
        for (j = 0; j < mm[i].nrules; j++) {
            model_rule_t *r = &mm[i].rules[j];
            int sh = share >= 0 && j == (last ? mm[i].nrules - 1 : 0);

            r->field = sh ? strcmp(shared[share][0], "Issuer") == 0 : 0;
            r->type = sh ? (shared[share][1][0] == 'O' ? 1 : 0)
                         : rand() % 4;
            r->ci = rand() % 2;
            r->criteria = sh ? shared[share][2]
                          : rand() % 2 ? random_criteria()
                          : apr_pstrcat(pool, "*", random_criteria(), "*",
                                        NULL);
            with_rule(m, rule(r->field ? "Issuer" : "Subject",
                              r->type == 2 && rand() % 2
                              ? "2.5.4.11" : model_types[r->type],
                              r->criteria, r->ci ? "CaseInsensitive" : NULL));
        }
        add_m2o(t, m);
        maps[i] = m;
    }
}

/* A client of the one CA (mostly), with random subject values. */
static const certmap_cert_t *mix_cert(model_attr_t *attrs, int *nattrs)
{
    X509_NAME *names[2] = { X509_NAME_new(), X509_NAME_new() };
    int i, n = 0;

    if (rand() % 5) {
        attrs[n++] = (model_attr_t){ 1, 1, "CertMap Test", "certmap test", 0 };
        attrs[n++] = (model_attr_t){ 1, 0, "CertMap Test Root CA",
                                     "certmap test root ca", 0 };
    }
    for (i = rand() % 7; i > 0; i--) {
        model_attr_t *a = &attrs[n++];

        a->field = rand() % 8 == 0;
        a->dead = 0;
        a->type = rand() % 4;
        random_text(&a->value, &a->folded);
    }
    for (i = 0; i < n; i++) {
        assert_int_equal(X509_NAME_add_entry_by_txt(names[attrs[i].field],
                             model_types[attrs[i].type], MBSTRING_UTF8,
                             (const unsigned char *)attrs[i].value, -1, -1,
                             0), 1);
    }
    *nattrs = n;
    return parse(make_cert_names(names[0], names[1], rand()));
}

/* The same check for bench_match_mix-like tables. */
static void mix_round(unsigned int seed, int n, int ncerts)
{
    model_mapping_t *mm = apr_pcalloc(pool, sizeof(*mm) * n);
    certmap_mapping_t **maps = apr_pcalloc(pool, sizeof(*maps) * n);
    certmap_table_t *outer = certmap_table_make(pool);
    certmap_table_t *inner = certmap_table_make(pool);
    apr_array_header_t *tables = tables_of(outer, inner);
    model_attr_t attrs[16];
    int round, nattrs, matched = 0, unmatched = 0;

    srand(seed);
    use_long_pieces(1);
    build_mix_table(outer, mm, maps, n / 4);
    build_mix_table(inner, mm + n / 4, maps + n / 4, n - n / 4);
    for (round = 0; round < ncerts; round++) {
        const certmap_cert_t *c = mix_cert(attrs, &nattrs);
        int want = model_scan(mm, n, attrs, nattrs);
        const certmap_mapping_t *got = match(tables, c, 1, 1);

        assert_ptr_equal(got, want < 0 ? NULL : maps[want]);
        matched += want > 0;
        unmatched += want < 0;
    }
    use_long_pieces(0);
    print_message("mix %u: %d mappings, %d matched past the first, "
                  "%d unmatched\n", seed, n, matched, unmatched);
    assert_true(matched > ncerts / 10);
    assert_true(unmatched > ncerts / 50);
}

/* One randomized round: n mappings split over two nested tables. */
static void random_round(unsigned int seed, int n, int ncerts)
{
    model_mapping_t *mm = apr_pcalloc(pool, sizeof(*mm) * n);
    certmap_mapping_t **maps = apr_pcalloc(pool, sizeof(*maps) * n);
    certmap_table_t *outer = certmap_table_make(pool);
    certmap_table_t *inner = certmap_table_make(pool);
    apr_array_header_t *tables = tables_of(outer, inner);
    model_attr_t attrs[16];
    int round, nattrs, matched = 0, unmatched = 0;

    srand(seed);
    build_random_table(outer, mm, maps, n / 3);
    build_random_table(inner, mm + n / 3, maps + n / 3, n - n / 3);
    for (round = 0; round < ncerts; round++) {
        const certmap_cert_t *c = random_cert(attrs, &nattrs);
        int want = model_scan(mm, n, attrs, nattrs);
        const certmap_mapping_t *got = match(tables, c, 1, 1);

        if (want < 0) {
            assert_null(got);
            unmatched++;
        }
        else {
            assert_ptr_equal(got, maps[want]);
            matched += want > 0;
        }
    }
    /* the test exercises both outcomes */
    print_message("random %u: %d mappings, %d matched past the first, "
                  "%d unmatched\n", seed, n, matched, unmatched);
    assert_true(matched > ncerts / 10);
    assert_true(unmatched > ncerts / 50);
}

static void test_random_index_equals_naive_scan(void **state)
{
    random_round(20240501, 60, 300);
    random_round(7, 300, 400);
    random_round(99, 1200, 300);
}

static void test_random_mix_equals_naive_scan(void **state)
{
    mix_round(11, 80, 400);
    mix_round(2024, 600, 400);
    mix_round(5, 3000, 300);
}

/* ---- runner ------------------------------------------------------------- */

static int clear_pool(void **state)
{
    apr_pool_clear(pool);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_every_subfield, clear_pool),
        cmocka_unit_test_teardown(test_absent_subfield, clear_pool),
        cmocka_unit_test_teardown(test_wildcards, clear_pool),
        cmocka_unit_test_teardown(test_prefix_index_lengths, clear_pool),
        cmocka_unit_test_teardown(test_suffix_index_lengths, clear_pool),
        cmocka_unit_test_teardown(test_case_ascii, clear_pool),
        cmocka_unit_test_teardown(test_case_unicode, clear_pool),
        cmocka_unit_test_teardown(test_multi_valued, clear_pool),
        cmocka_unit_test_teardown(test_dn_string_injection, clear_pool),
        cmocka_unit_test_teardown(test_embedded_nul_and_bad_values,
                                  clear_pool),
        cmocka_unit_test_teardown(test_string_types, clear_pool),
        cmocka_unit_test_teardown(test_first_match_wins, clear_pool),
        cmocka_unit_test_teardown(test_mapping_without_rules, clear_pool),
        cmocka_unit_test_teardown(test_nested_tables, clear_pool),
        cmocka_unit_test_teardown(test_locate_positions, clear_pool),
        cmocka_unit_test_teardown(test_one_to_one_and_renewal, clear_pool),
        cmocka_unit_test_teardown(test_one_to_one_shares_room, clear_pool),
        cmocka_unit_test_teardown(test_enable_flags, clear_pool),
        cmocka_unit_test_teardown(test_duplicates, clear_pool),
        cmocka_unit_test_teardown(test_rule_errors, clear_pool),
        cmocka_unit_test_teardown(test_rule_text, clear_pool),
        cmocka_unit_test_teardown(test_base64_blobs, clear_pool),
        cmocka_unit_test_teardown(test_trailing_garbage, clear_pool),
        cmocka_unit_test_teardown(test_signature_unused_bits, clear_pool),
        cmocka_unit_test_teardown(test_signature_parameter_unused_bits,
                                  clear_pool),
        cmocka_unit_test_teardown(test_files, clear_pool),
        cmocka_unit_test_teardown(test_describe, clear_pool),
        cmocka_unit_test_teardown(test_parse_keeps_reference, clear_pool),
        cmocka_unit_test_teardown(test_trace, clear_pool),
        cmocka_unit_test_teardown(test_san_kinds, clear_pool),
        cmocka_unit_test_teardown(test_san_hostile, clear_pool),
        cmocka_unit_test_teardown(test_usages, clear_pool),
        cmocka_unit_test_teardown(test_templates, clear_pool),
        cmocka_unit_test_teardown(test_template_bad_names, clear_pool),
        cmocka_unit_test_teardown(test_template_in_match, clear_pool),
        cmocka_unit_test_teardown(test_random_index_equals_naive_scan,
                                  clear_pool),
        cmocka_unit_test_teardown(test_random_mix_equals_naive_scan,
                                  clear_pool),
    };
    int failed;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    signing_key = EVP_EC_gen("P-256");
    if (signing_key == NULL) {
        fprintf(stderr, "cannot generate a key\n");
        return 1;
    }
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    EVP_PKEY_free(signing_key);
    apr_pool_destroy(pool);
    apr_terminate();
    return failed;
}
