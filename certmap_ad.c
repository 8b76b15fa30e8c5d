/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_ad.c — Active Directory's strings for a certificate and the
 * LDAP filter escaping they need (see certmap_ad.h).  OpenSSL and APR
 * only, never httpd: tests/unit/test_ad.c tests it alone.
 */

#include <string.h>

#include <apr_strings.h>

#include <openssl/x509v3.h>
#include <openssl/err.h>

#include "certmap_ad.h"

#define CERTMAP_AD_MAX_SUBAUTH 15

static const char *escape_bytes(apr_pool_t *p, const unsigned char *v,
                                apr_size_t n, int all)
{
    static const char hex[] = "0123456789abcdef";
    char *s = apr_palloc(p, 3 * n + 1), *o = s;
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if (all || v[i] < 0x20 || v[i] > 0x7e || v[i] == '*'
            || v[i] == '(' || v[i] == ')' || v[i] == '\\') {
            *o++ = '\\';
            *o++ = hex[v[i] >> 4];
            *o++ = hex[v[i] & 15];
        }
        else {
            *o++ = (char)v[i];
        }
    }
    *o = '\0';
    return s;
}

const char *certmap_ad_escape(apr_pool_t *p, const unsigned char *v,
                              apr_size_t n)
{
    return escape_bytes(p, v, n, 0);
}

const char *certmap_ad_escape_all(apr_pool_t *p, const unsigned char *v,
                                  apr_size_t n)
{
    return escape_bytes(p, v, n, 1);
}

const char *certmap_ad_hex(apr_pool_t *p, const unsigned char *b,
                           apr_size_t n, int upper, int reversed)
{
    static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
    const char *digits = upper ? up : lo;
    char *s = apr_palloc(p, 2 * n + 1);
    apr_size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = b[reversed ? n - 1 - i : i];
        s[2 * i] = digits[c >> 4];
        s[2 * i + 1] = digits[c & 15];
    }
    s[2 * n] = '\0';
    return s;
}

/* CryptoAPI's X.500 key for an attribute, as AD writes it. */
static const char *rdn_key(apr_pool_t *p, const ASN1_OBJECT *obj)
{
    static const struct { int nid; const char *key; } keys[] = {
        { NID_commonName, "CN" }, { NID_localityName, "L" },
        { NID_organizationName, "O" }, { NID_organizationalUnitName, "OU" },
        { NID_pkcs9_emailAddress, "E" }, { NID_countryName, "C" },
        { NID_stateOrProvinceName, "S" }, { NID_streetAddress, "STREET" },
        { NID_title, "T" }, { NID_givenName, "G" }, { NID_initials, "I" },
        { NID_surname, "SN" }, { NID_domainComponent, "DC" },
        { NID_serialNumber, "SERIALNUMBER" }, { NID_userId, "UID" },
        { 0, NULL }
    };
    char oid[128];
    int nid = OBJ_obj2nid(obj), i, n;

    for (i = 0; keys[i].key; i++) {
        if (keys[i].nid == nid) {
            return keys[i].key;
        }
    }
    n = OBJ_obj2txt(oid, sizeof(oid), obj, 1);
    if (n <= 0 || n >= (int)sizeof(oid)) {
        return NULL;
    }
    return apr_pstrcat(p, "OID.", oid, NULL);
}

/* A value as CertNameToStr quotes it: in "..." (inner quotes doubled) when
 * it holds a separator or starts or ends with a space. */
static const char *rdn_value(apr_pool_t *p, const X509_NAME_ENTRY *e)
{
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    const char *v, *c;
    char *q, *o;

    if (len < 0 || memchr(utf8, '\0', (size_t)len)) {
        OPENSSL_free(utf8);
        ERR_clear_error();
        return NULL;        /* an embedded NUL never matches */
    }
    v = apr_pstrmemdup(p, (const char *)utf8, (apr_size_t)len);
    OPENSSL_free(utf8);
    if (!strpbrk(v, ",+=\"\n<>#;") && *v != ' '
        && (!*v || v[strlen(v) - 1] != ' ')) {
        return v;
    }
    o = q = apr_palloc(p, 2 * strlen(v) + 3);
    *o++ = '"';
    for (c = v; *c; c++) {
        if (*c == '"') {
            *o++ = '"';
        }
        *o++ = *c;
    }
    *o++ = '"';
    *o = '\0';
    return q;
}

const char *certmap_ad_dn(apr_pool_t *p, const X509_NAME *name)
{
    int i, n = X509_NAME_entry_count(name), prev_set = -1;
    /* separator, key, "=", value for each attribute, joined once */
    apr_array_header_t *parts = apr_array_make(p, 4 * (n ? n : 1),
                                               sizeof(const char *));

    for (i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        const char *key = rdn_key(p, X509_NAME_ENTRY_get_object(e));
        const char *value = rdn_value(p, e);
        int set = X509_NAME_ENTRY_set(e);

        if (!key || !value) {
            return NULL;
        }
        APR_ARRAY_PUSH(parts, const char *) =
            i == 0 ? "" : (set == prev_set ? "+" : ",");
        APR_ARRAY_PUSH(parts, const char *) = key;
        APR_ARRAY_PUSH(parts, const char *) = "=";
        APR_ARRAY_PUSH(parts, const char *) = value;
        prev_set = set;
    }
    return apr_array_pstrcat(p, parts, 0);
}

const char *certmap_ad_serial_reversed(apr_pool_t *p, const X509 *x509)
{
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x509);
    unsigned char *der, *c;
    int len = i2d_ASN1_INTEGER(serial, NULL);

    if (len <= 2) {
        return NULL;
    }
    der = apr_palloc(p, (apr_size_t)len);
    c = der;
    i2d_ASN1_INTEGER(serial, &c);
    /* skip tag and (short or long form) length */
    c = der + 2 + ((der[1] & 0x80) ? (der[1] & 0x7f) : 0);
    if (c >= der + len) {
        return NULL;
    }
    return certmap_ad_hex(p, c, (apr_size_t)(der + len - c), 1, 1);
}

apr_array_header_t *certmap_ad_subject_emails(apr_pool_t *p,
                                              const X509 *x509)
{
    apr_array_header_t *out = apr_array_make(p, 1, sizeof(const char *));
    const X509_NAME *subject = X509_get_subject_name(x509);
    int i = -1;

    while ((i = X509_NAME_get_index_by_NID(subject, NID_pkcs9_emailAddress,
                                           i)) >= 0) {
        const char *v = rdn_value(p, X509_NAME_get_entry(subject, i));

        if (v && *v != '"') {
            APR_ARRAY_PUSH(out, const char *) = v;
        }
    }
    return out;
}

const char *certmap_ad_assertion(apr_pool_t *p, const char *attr,
                                 const char *value)
{
    return value ? apr_pstrcat(p, "(", attr, "=",
                               certmap_ad_escape(p,
                                   (const unsigned char *)value,
                                   strlen(value)), ")", NULL)
                 : NULL;
}

const char *certmap_ad_any_of(apr_pool_t *p, const char *attr,
                              const char *prefix,
                              const apr_array_header_t *values)
{
    const char *f = "";
    int i;

    for (i = 0; i < values->nelts; i++) {
        f = apr_pstrcat(p, f, certmap_ad_assertion(p, attr,
                            apr_pstrcat(p, prefix,
                                APR_ARRAY_IDX(values, i, const char *),
                                NULL)), NULL);
    }
    return values->nelts ? apr_pstrcat(p, "(|", f, ")", NULL) : NULL;
}

/* ---- the SID of the NTDS CA security extension -------------------------- */

/* The extension holds GeneralNames: an otherName 1.3.6.1.4.1.311.25.2.1
 * whose value is an OCTET STRING with the SID's text. */
const char *certmap_ad_sid_text(apr_pool_t *p, const X509 *x509)
{
    ASN1_OBJECT *ext_oid = OBJ_txt2obj(CERTMAP_AD_SID_EXT_OID, 1);
    ASN1_OBJECT *name_oid = OBJ_txt2obj(CERTMAP_AD_SID_NAME_OID, 1);
    GENERAL_NAMES *names = NULL;
    const char *sid = NULL;
    int i, found = 0, pos = -1;

    if (ext_oid == NULL || name_oid == NULL) {
        goto done;
    }
    /* exactly one such extension, or none is used */
    while ((i = X509_get_ext_by_OBJ(x509, ext_oid, pos)) >= 0) {
        pos = i;
        found++;
    }
    if (found == 1) {
        ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(
            X509_get_ext(x509, pos));
        const unsigned char *d = ASN1_STRING_get0_data(data);

        names = d2i_GENERAL_NAMES(NULL, &d, ASN1_STRING_length(data));
        if (names && d != ASN1_STRING_get0_data(data)
                          + ASN1_STRING_length(data)) {
            GENERAL_NAMES_free(names);      /* trailing bytes */
            names = NULL;
        }
    }
    for (i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        const ASN1_TYPE *v;
        const ASN1_STRING *s;

        if (g->type != GEN_OTHERNAME
            || OBJ_cmp(g->d.otherName->type_id, name_oid) != 0) {
            continue;
        }
        v = g->d.otherName->value;
        if (v == NULL || v->type != V_ASN1_OCTET_STRING || sid != NULL) {
            sid = NULL;         /* malformed, or two SIDs: none */
            break;
        }
        s = v->value.octet_string;
        if (memchr(ASN1_STRING_get0_data(s), '\0',
                   (size_t)ASN1_STRING_length(s)) != NULL) {
            break;
        }
        sid = apr_pstrmemdup(p, (const char *)ASN1_STRING_get0_data(s),
                             (apr_size_t)ASN1_STRING_length(s));
    }
done:
    GENERAL_NAMES_free(names);
    ASN1_OBJECT_free(ext_oid);
    ASN1_OBJECT_free(name_oid);
    ERR_clear_error();
    return sid;
}

/* A decimal number of at most `max`, no sign, no leading zero (but "0"). */
static int read_number(const char **s, apr_uint64_t max, apr_uint64_t *out)
{
    const char *c = *s;
    apr_uint64_t v = 0;

    if (*c < '0' || *c > '9' || (c[0] == '0' && c[1] >= '0'
                                  && c[1] <= '9')) {
        return 0;
    }
    for (; *c >= '0' && *c <= '9'; c++) {
        if (v > (max - (apr_uint64_t)(*c - '0')) / 10) {
            return 0;
        }
        v = v * 10 + (apr_uint64_t)(*c - '0');
    }
    *s = c;
    *out = v;
    return 1;
}

int certmap_ad_sid_binary(apr_pool_t *p, const char *text,
                          unsigned char **sid, apr_size_t *len)
{
    unsigned char buf[8 + 4 * CERTMAP_AD_MAX_SUBAUTH];
    const char *c = text;
    apr_uint64_t authority, sub;
    int n = 0, i;

    if (text == NULL || strncmp(c, "S-1-", 4) != 0) {
        return 0;
    }
    c += 4;
    if (!read_number(&c, 0xffffffffffffULL, &authority)) {
        return 0;
    }
    while (*c == '-') {
        c++;
        if (n == CERTMAP_AD_MAX_SUBAUTH
            || !read_number(&c, 0xffffffffULL, &sub)) {
            return 0;
        }
        for (i = 0; i < 4; i++) {           /* little-endian */
            buf[8 + 4 * n + i] = (unsigned char)(sub >> (8 * i));
        }
        n++;
    }
    if (*c != '\0' || n == 0) {
        return 0;
    }
    buf[0] = 1;                             /* revision */
    buf[1] = (unsigned char)n;
    for (i = 0; i < 6; i++) {               /* big-endian */
        buf[2 + i] = (unsigned char)(authority >> (8 * (5 - i)));
    }
    *len = 8 + 4 * (apr_size_t)n;
    *sid = apr_pmemdup(p, buf, *len);
    return 1;
}

const char *certmap_ad_sid_filter(apr_pool_t *p, const X509 *x509)
{
    unsigned char *sid;
    apr_size_t len;

    if (!certmap_ad_sid_binary(p, certmap_ad_sid_text(p, x509), &sid, &len)) {
        return NULL;
    }
    return apr_pstrcat(p, "(objectSid=", certmap_ad_escape_all(p, sid, len),
                       ")", NULL);
}
