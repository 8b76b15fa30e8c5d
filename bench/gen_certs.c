/* Licensed under the Apache License, Version 2.0.
 *
 * gen_certs.c — writes N distinct X.509 certificates, one IIS blob (base64
 * of the DER, no line breaks) per line, fast enough for 100,000 of them.
 *
 *   gen_certs N [PREFIX]
 *
 * Every certificate carries the same RSA-2048 public key (so it is the size
 * of a typical client certificate, ~900 bytes of DER) and is signed with
 * one P-256 "Bench Issuing CA" key (an ECDSA signature costs microseconds
 * where an RSA one costs a millisecond).  Certificate i has serial i+1
 * behind a random per-run prefix and the subject
 * C=US, O=Bench, OU=Bench-Unit-(i % 100), CN=PREFIX-i
 * with the usual client extensions.  The issuer is not trusted by the
 * bench server and need not be: one-to-one mappings compare whole DER.
 *
 * Build: cc -O2 -o bench/out/gen_certs bench/gen_certs.c -lcrypto
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static void die(const char *what)
{
    fprintf(stderr, "gen_certs: %s failed\n", what);
    exit(1);
}

static EVP_PKEY *keygen(int type, int param)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(type, NULL);
    EVP_PKEY *key = NULL;

    if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0) {
        die("keygen init");
    }
    if (type == EVP_PKEY_RSA
        && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, param) <= 0) {
        die("rsa bits");
    }
    if (type == EVP_PKEY_EC
        && EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, param) <= 0) {
        die("ec curve");
    }
    if (EVP_PKEY_keygen(ctx, &key) <= 0) {
        die("keygen");
    }
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static void add_ext(X509 *cert, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);

    if (!ext || !X509_add_ext(cert, ext, -1)) {
        die("extension");
    }
    X509_EXTENSION_free(ext);
}

/* Where `needle` sits in `hay`; it must be there exactly once. */
static size_t find_once(const unsigned char *hay, size_t hay_len,
                        const void *needle, size_t len, const char *what)
{
    size_t i, found = (size_t)-1;

    for (i = 0; i + len <= hay_len; i++) {
        if (memcmp(hay + i, needle, len) == 0) {
            if (found != (size_t)-1) {
                die(what);
            }
            found = i;
        }
    }
    if (found == (size_t)-1) {
        die(what);
    }
    return found;
}

/* Writes `value` as `width` decimal digits (zero padded) at `dst`. */
static void put_digits(unsigned char *dst, int width, unsigned long value)
{
    while (width-- > 0) {
        dst[width] = (unsigned char)('0' + value % 10);
        value /= 10;
    }
}

int main(int argc, char **argv)
{
    long n, i;
    const char *prefix = argc > 2 ? argv[2] : "bench-user";
    EVP_PKEY *subject_key, *ca_key;
    EVP_MD_CTX *md;
    X509 *cert;
    X509_NAME *issuer, *subject;
    BIGNUM *bn;
    ASN1_INTEGER *serial;
    X509V3_CTX v3;
    unsigned char sbytes[16];
    unsigned char *der = NULL, *p;
    char *b64;
    char cn[96];
    int der_len, k;
    size_t off_serial, off_cn, off_ou, tbs_off, tbs_len, sig_off, sig_len;

    if (argc < 2 || (n = strtol(argv[1], NULL, 10)) <= 0 || n > 9999999) {
        fprintf(stderr, "usage: gen_certs N [PREFIX]  (N <= 9999999)\n");
        return 2;
    }
    if (strlen(prefix) > 64) {
        fprintf(stderr, "gen_certs: PREFIX too long\n");
        return 2;
    }
    subject_key = keygen(EVP_PKEY_RSA, 2048);
    ca_key = keygen(EVP_PKEY_ED25519, 0);

    /* The template: serial = 8 random bytes + 8 counter bytes, CN with a
     * fixed-width counter, so that every certificate has the same layout
     * and only these bytes and the (fixed-size Ed25519) signature move. */
    if (RAND_bytes(sbytes, 8) != 1) {
        die("RAND_bytes");
    }
    sbytes[0] = (sbytes[0] & 0x3f) | 0x10;          /* positive, 16 bytes */
    memset(sbytes + 8, 0xee, 8);                      /* placeholder */
    cert = X509_new();
    X509_set_version(cert, 2);
    bn = BN_bin2bn(sbytes, sizeof(sbytes), NULL);
    serial = BN_to_ASN1_INTEGER(bn, NULL);
    X509_set_serialNumber(cert, serial);
    ASN1_INTEGER_free(serial);
    BN_free(bn);

    issuer = X509_NAME_new();
    X509_NAME_add_entry_by_txt(issuer, "C", MBSTRING_ASC,
                               (const unsigned char *)"US", -1, -1, 0);
    X509_NAME_add_entry_by_txt(issuer, "O", MBSTRING_ASC,
                               (const unsigned char *)"Bench", -1, -1, 0);
    X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_ASC,
                               (const unsigned char *)"Bench Issuing CA",
                               -1, -1, 0);
    subject = X509_NAME_new();
    X509_NAME_add_entry_by_txt(subject, "C", MBSTRING_ASC,
                               (const unsigned char *)"US", -1, -1, 0);
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                               (const unsigned char *)"Bench", -1, -1, 0);
    X509_NAME_add_entry_by_txt(subject, "OU", MBSTRING_ASC,
                               (const unsigned char *)"Bench-Unit-@@",
                               -1, -1, 0);
    snprintf(cn, sizeof(cn), "%s-@@@@@@@", prefix);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(cert, subject);
    X509_set_issuer_name(cert, issuer);
    X509_gmtime_adj(X509_getm_notBefore(cert), -86400L);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3650L * 86400L);
    X509_set_pubkey(cert, subject_key);
    X509V3_set_ctx(&v3, NULL, cert, NULL, NULL, 0);
    add_ext(cert, &v3, NID_basic_constraints, "CA:FALSE");
    add_ext(cert, &v3, NID_key_usage, "critical,digitalSignature");
    add_ext(cert, &v3, NID_ext_key_usage, "clientAuth");
    add_ext(cert, &v3, NID_subject_key_identifier, "hash");
    if (!X509_sign(cert, ca_key, NULL)) {
        die("X509_sign");
    }
    der_len = i2d_X509(cert, &der);
    if (der_len <= 0 || der[0] != 0x30 || der[1] != 0x82 || der[4] != 0x30
        || der[5] != 0x82) {
        die("template layout");
    }
    tbs_off = 4;
    tbs_len = 4 + ((size_t)der[6] << 8 | der[7]);
    sig_len = 64;                                      /* Ed25519 */
    sig_off = (size_t)der_len - sig_len;
    off_serial = find_once(der, tbs_off + tbs_len, sbytes, 16, "serial");
    off_cn = find_once(der, tbs_off + tbs_len, cn, strlen(cn), "CN")
             + strlen(prefix) + 1;
    off_ou = find_once(der, tbs_off + tbs_len, "Bench-Unit-@@", 13, "OU")
             + 11;

    md = EVP_MD_CTX_new();
    b64 = malloc((size_t)der_len * 2 + 8);
    if (!md || !b64) {
        die("alloc");
    }
    for (i = 0; i < n; i++) {
        size_t slen = sig_len;

        p = der + off_serial + 8;
        for (k = 0; k < 8; k++) {
            p[7 - k] = (unsigned char)((unsigned long)(i + 1) >> (8 * k));
        }
        put_digits(der + off_cn, 7, (unsigned long)i);
        put_digits(der + off_ou, 2, (unsigned long)(i % 100));
        if (EVP_DigestSignInit(md, NULL, NULL, NULL, ca_key) != 1
            || EVP_DigestSign(md, der + sig_off, &slen, der + tbs_off,
                              tbs_len) != 1
            || slen != sig_len) {
            die("EVP_DigestSign");
        }
        EVP_EncodeBlock((unsigned char *)b64, der, der_len);
        puts(b64);
    }
    /* the first one must parse as a whole certificate */
    {
        const unsigned char *q = der;
        X509 *check = d2i_X509(NULL, &q, der_len);

        if (!check || q != der + der_len) {
            die("d2i_X509 of a generated certificate");
        }
        X509_free(check);
    }
    free(b64);
    OPENSSL_free(der);
    X509_free(cert);
    X509_NAME_free(issuer);
    X509_NAME_free(subject);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(subject_key);
    EVP_PKEY_free(ca_key);
    return ferror(stdout) ? 1 : 0;
}
