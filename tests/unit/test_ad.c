/* Licensed under the Apache License, Version 2.0.
 *
 * tests/unit/test_ad.c — certmap_ad.c alone: RFC 4515 escaping with the
 * bytes that could widen or end a filter (* ( ) \ and NUL), AD's DN and
 * serial strings, and the SID of the NTDS CA security extension, text to
 * objectSid bytes.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "certmap_ad.h"

static apr_pool_t *pool;
static EVP_PKEY *key;

static void test_escape(void **state)
{
    static const unsigned char v[] = "a*b(c)d\\e\0f\x7f\xc3\xa9 g";

    assert_string_equal(certmap_ad_escape(pool, v, sizeof(v) - 1),
                        "a\\2ab\\28c\\29d\\5ce\\00f\\7f\\c3\\a9 g");
    assert_string_equal(certmap_ad_escape(pool, (const unsigned char *)"",
                                          0), "");
    assert_string_equal(certmap_ad_escape_all(pool,
                            (const unsigned char *)"A\0", 2), "\\41\\00");
    /* a value can never close the assertion or add one */
    assert_string_equal(certmap_ad_assertion(pool, "uid", "*)(uid=*"),
                        "(uid=\\2a\\29\\28uid=\\2a)");
    assert_null(certmap_ad_assertion(pool, "uid", NULL));
}

static void test_any_of(void **state)
{
    apr_array_header_t *a = apr_array_make(pool, 2, sizeof(const char *));

    assert_null(certmap_ad_any_of(pool, "x", "P:", a));
    APR_ARRAY_PUSH(a, const char *) = "a@b";
    APR_ARRAY_PUSH(a, const char *) = "c)(d";
    assert_string_equal(certmap_ad_any_of(pool, "x", "P:", a),
                        "(|(x=P:a@b)(x=P:c\\29\\28d))");
}

static X509 *make(const char *cn, long serial, X509_EXTENSION *ext)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 60);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
                               (const unsigned char *)"Contoso", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_NAME_free(n);
    X509_set_pubkey(x, key);
    if (ext) {
        assert_int_equal(X509_add_ext(x, ext, -1), 1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

static void test_dn_and_serial(void **state)
{
    X509 *x = make("x, O=Evil", 0x0102a3, NULL);

    assert_string_equal(certmap_ad_dn(pool, X509_get_subject_name(x)),
                        "O=Contoso,CN=\"x, O=Evil\"");
    assert_string_equal(certmap_ad_serial_reversed(pool, x), "A30201");
    X509_free(x);
}

/* The extension as a CA writes it: GeneralNames holding an otherName
 * 1.3.6.1.4.1.311.25.2.1 with [0] EXPLICIT OCTET STRING "S-1-...". */
static X509_EXTENSION *sid_ext(const char *oid, const char *sid, int len)
{
    GENERAL_NAMES *gn = GENERAL_NAMES_new();
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_TYPE *v = ASN1_TYPE_new();
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *ext_oid = OBJ_txt2obj(CERTMAP_AD_SID_EXT_OID, 1);
    ASN1_OCTET_STRING *data = ASN1_OCTET_STRING_new();
    X509_EXTENSION *e;
    unsigned char *der = NULL;
    int n;

    ASN1_OCTET_STRING_set(os, (const unsigned char *)sid, len);
    ASN1_TYPE_set(v, V_ASN1_OCTET_STRING, os);
    GENERAL_NAME_set0_othername(g, OBJ_txt2obj(oid, 1), v);
    sk_GENERAL_NAME_push(gn, g);
    n = i2d_GENERAL_NAMES(gn, &der);
    assert_true(n > 0);
    ASN1_OCTET_STRING_set(data, der, n);
    e = X509_EXTENSION_create_by_OBJ(NULL, ext_oid, 0, data);
    OPENSSL_free(der);
    ASN1_OCTET_STRING_free(data);
    ASN1_OBJECT_free(ext_oid);
    GENERAL_NAMES_free(gn);
    return e;
}

static void test_sid_binary(void **state)
{
    static const unsigned char want[] = {
        1, 6, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0,
        0x15, 0xcd, 0x5b, 0x07, 0xff, 0xff, 0xff, 0xff,
        0x00, 0x00, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00,
        0x50, 0x04, 0x00, 0x00,
    };
    unsigned char *sid;
    apr_size_t len;

    assert_true(certmap_ad_sid_binary(pool,
                    "S-1-5-21-123456789-4294967295-0-1000-1104", &sid,
                    &len));
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(sid, want, len);
    assert_true(certmap_ad_sid_binary(pool, "S-1-5-32-544", &sid, &len));
    assert_int_equal(len, 16);
    /* malformed: refused, never a guess */
    assert_false(certmap_ad_sid_binary(pool, NULL, &sid, &len));
    assert_false(certmap_ad_sid_binary(pool, "S-1-5", &sid, &len));
    assert_false(certmap_ad_sid_binary(pool, "S-2-5-21", &sid, &len));
    assert_false(certmap_ad_sid_binary(pool, "s-1-5-21", &sid, &len));
    assert_false(certmap_ad_sid_binary(pool, "S-1-5-21-", &sid, &len));
    assert_false(certmap_ad_sid_binary(pool, "S-1-5-21-4294967296", &sid,
                                       &len));
    assert_false(certmap_ad_sid_binary(pool, "S-1-5-21-1*", &sid, &len));
    assert_false(certmap_ad_sid_binary(pool, "S-1-5-21-01", &sid, &len));
    assert_false(certmap_ad_sid_binary(pool, "S-1-5--21", &sid, &len));
    assert_false(certmap_ad_sid_binary(pool, "S-1-281474976710656-1", &sid,
                                       &len));
    assert_false(certmap_ad_sid_binary(pool,
                     "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16", &sid,
                     &len));
    assert_true(certmap_ad_sid_binary(pool,
                     "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15", &sid,
                     &len));
}

static void test_sid_extension(void **state)
{
    X509 *x = make("sid", 1, sid_ext(CERTMAP_AD_SID_NAME_OID,
                                     "S-1-5-21-1-2-3-1104", 19));
    X509 *nul = make("nul", 2, sid_ext(CERTMAP_AD_SID_NAME_OID,
                                       "S-1-5-21-1\0-2", 13));
    X509 *other = make("other", 3, sid_ext("1.2.3.4", "S-1-5-21-1-2", 12));
    X509 *none = make("none", 4, NULL);
    X509 *star = make("star", 5, sid_ext(CERTMAP_AD_SID_NAME_OID,
                                         "S-1-5-21-*)(uid=*", 17));

    assert_string_equal(certmap_ad_sid_text(pool, x), "S-1-5-21-1-2-3-1104");
    assert_string_equal(certmap_ad_sid_filter(pool, x),
                        "(objectSid=\\01\\05\\00\\00\\00\\00\\00\\05"
                        "\\15\\00\\00\\00\\01\\00\\00\\00\\02\\00\\00\\00"
                        "\\03\\00\\00\\00\\50\\04\\00\\00)");
    assert_null(certmap_ad_sid_text(pool, nul));
    assert_null(certmap_ad_sid_filter(pool, nul));
    assert_null(certmap_ad_sid_text(pool, other));
    assert_null(certmap_ad_sid_text(pool, none));
    assert_null(certmap_ad_sid_filter(pool, none));
    /* a SID text that is no SID gives no filter at all */
    assert_string_equal(certmap_ad_sid_text(pool, star), "S-1-5-21-*)(uid=*");
    assert_null(certmap_ad_sid_filter(pool, star));
    X509_free(x);
    X509_free(nul);
    X509_free(other);
    X509_free(none);
    X509_free(star);
}

static int clear_pool(void **state)
{
    apr_pool_clear(pool);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_escape, clear_pool),
        cmocka_unit_test_teardown(test_any_of, clear_pool),
        cmocka_unit_test_teardown(test_dn_and_serial, clear_pool),
        cmocka_unit_test_teardown(test_sid_binary, clear_pool),
        cmocka_unit_test_teardown(test_sid_extension, clear_pool),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    key = EVP_EC_gen("P-256");
    assert_non_null(key);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    EVP_PKEY_free(key);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
