/* Licensed under the Apache License, Version 2.0.
 *
 * tests/fuzz/fuzz_rules.c — libFuzzer target over rule sets.  Each input
 * is a small configuration (many-to-one mappings with their CertMapRule
 * words, one-to-one mappings, nested scopes) and a client certificate:
 * DER from the input, or one built here from the input's name attributes.
 * The engine's answer (certmap_match through its index, through the traced
 * scan, and under every combination of the one-to-one and many-to-one
 * switches) is compared with a plain reference matcher written below from
 * CONTRACT.md alone, not from certmap_rules.c.  Any disagreement, about a
 * match, a trace step or whether a rule is valid at all, aborts: libFuzzer
 * reports it as a crash.
 *
 * The input is lines of words separated by spaces:
 *   table                         later mappings go to the next inner scope
 *   map [deny] [off]              a many-to-one mapping (Allow, enabled)
 *   rule FIELD SUBFIELD CRITERIA [CASEMODE]
 *                                 a CertMapRule of the last mapping, its
 *                                 words handed to the engine as written
 *   auto BYTES                    a CertMapRule of the last mapping made
 *                                 from a value of the certificate, the
 *                                 bytes choosing how (add_auto_rule)
 *   one [off]                     a one-to-one mapping of the certificate
 *   subject TYPE STRING VALUE     an attribute of the built certificate's
 *   subject+ TYPE STRING VALUE    subject, in a new RDN or (+) in the last
 *   issuer ... / issuer+ ...      the same for its issuer
 *   der                           the rest of the input is the certificate
 * TYPE is a sub-field keyword or a dotted OID; STRING one of utf8 bmp
 * universal printable ia5 t61 numeric, the types OpenSSL takes in a name
 * (bmp and universal encode a UTF-8 VALUE as UCS-2 or UCS-4; anything
 * else is raw bytes).  In any
 * word, \xHH is a byte and \\ a backslash; in rule words \vN, \uN, \lN,
 * \<N and \>N insert attribute N's decoded value (subject first, then
 * issuer) as is, upper-cased, lower-cased, or its first or second half,
 * so that rules can meet the certificate's values.
 *
 * `make fuzz` builds and runs it (tests/fuzz/run-fuzz.sh); one input,
 * with what both sides made of it:
 *   FUZZ_RULES_SHOW=1 build/fuzz/fuzz_rules FILE
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <unistr.h>
#include <unicase.h>

#include "certmap_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_LINES     96
#define FUZZ_MAX_WORDS     5
#define FUZZ_MAX_TABLES    3
#define FUZZ_MAX_MAPPINGS  12
#define FUZZ_MAX_RULES     6
#define FUZZ_OID_TEXT      256
#define FUZZ_MAX_RULE_OID  128      /* the engine's stated limit */

/* ---- the reference: data ------------------------------------------------ */

/* A name attribute as the reference reads it: OpenSSL parses the name
 * and converts the value to UTF-8; the reference keeps code points. */
typedef struct {
    certmap_field_e field;
    char oid[FUZZ_OID_TEXT];    /* dotted; "" when too long to hold */
    int usable;                 /* converted, valid UTF-8, no NUL */
    const char *utf8;           /* for the \v references */
    apr_size_t utf8_len;
    ucs4_t *cp, *folded;
    apr_size_t n;
} ref_attr_t;

/* A CertMapRule as the contract reads it. */
typedef struct {
    certmap_field_e field;
    char oid[FUZZ_OID_TEXT];
    int case_insensitive;
    int any;                    /* the criteria is "*" alone */
    int lead, trail;            /* a '*' at the start, at the end */
    ucs4_t *core, *folded;      /* the criteria less those stars */
    apr_size_t n;
    const certmap_rule_t *engine;
} ref_rule_t;

typedef struct {
    certmap_mapping_t *engine;
    int configured_on;          /* CertMapEnabled before any round */
    int table;
    ref_rule_t rules[FUZZ_MAX_RULES];
    int nrules;
} ref_mapping_t;

typedef struct {
    const char *word[FUZZ_MAX_WORDS];   /* raw, escapes not yet decoded */
    apr_size_t len[FUZZ_MAX_WORDS];
    int n;
} fuzz_line_t;

typedef struct {
    apr_pool_t *p;
    fuzz_line_t lines[FUZZ_MAX_LINES];
    int nlines;
    const unsigned char *input_der;     /* after a "der" line */
    apr_size_t input_der_len;
    int has_der_line;
    /* the certificate as the client presents it */
    X509 *x509;
    const unsigned char *der;
    apr_size_t der_len;
    int built;                          /* written here by OpenSSL */
    certmap_cert_t *cert;
    ref_attr_t *attrs;
    int nattrs;
    /* the configuration */
    apr_array_header_t *tables;         /* of certmap_table_t * */
    const certmap_mapping_t *one[FUZZ_MAX_TABLES];
    ref_mapping_t maps[FUZZ_MAX_MAPPINGS];
    int nmaps;
} fuzz_case_t;

static EVP_PKEY *fuzz_key;
static int fuzz_show;           /* FUZZ_RULES_SHOW is set */

/* ---- reporting ---------------------------------------------------------- */

static void print_bytes(const char *s, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];

        if (b >= 0x20 && b < 0x7f && b != '\\') {
            fputc(b, stderr);
        }
        else {
            fprintf(stderr, "\\x%02x", b);
        }
    }
}

static const char *mapping_name(const certmap_mapping_t *m)
{
    return m ? m->name : "(none)";
}

/* The configuration and the certificate as both sides read them. */
static void print_case(const fuzz_case_t *c)
{
    int i, j;

    for (i = 0; i < c->nmaps; i++) {
        const ref_mapping_t *m = &c->maps[i];

        fprintf(stderr, "  mapping %s (scope %d, %s, %s%s)\n",
                m->engine->name, m->table,
                m->engine->permission == CERTMAP_DENY ? "Deny" : "Allow",
                m->configured_on ? "on" : "off",
                m->configured_on && !m->engine->enabled
                ? ", switched off after it won a round" : "");
        for (j = 0; j < m->nrules; j++) {
            fprintf(stderr, "    CertMapRule %s\n",
                    certmap_rule_text(c->p, m->rules[j].engine));
        }
    }
    for (i = 0; i < c->nattrs; i++) {
        fprintf(stderr, "  %s attribute %s = ",
                c->attrs[i].field == CERTMAP_ISSUER ? "issuer" : "subject",
                c->attrs[i].oid);
        if (c->attrs[i].usable) {
            print_bytes(c->attrs[i].utf8, c->attrs[i].utf8_len);
        }
        else {
            fputs("(never matches)", stderr);
        }
        fputc('\n', stderr);
    }
    fprintf(stderr, "  certificate %s\n",
            certmap_cert_describe(c->p, c->cert));
}

/* Prints the whole case and aborts: libFuzzer saves the input. */
static void disagree(const fuzz_case_t *c, const char *what,
                     const char *engine, const char *reference)
{
    fprintf(stderr, "fuzz_rules: disagreement: %s: engine says %s, "
            "the contract says %s\n", what, engine, reference);
    print_case(c);
    abort();
}

static void disagree_mapping(const fuzz_case_t *c, const char *what,
                             const certmap_mapping_t *engine,
                             const certmap_mapping_t *reference)
{
    disagree(c, what, mapping_name(engine), mapping_name(reference));
}

/* ---- the reference: text ------------------------------------------------ */

/* UTF-8 to code points; NULL when s is not valid UTF-8. */
static ucs4_t *ref_code_points(apr_pool_t *p, const char *s, apr_size_t len,
                               apr_size_t *count)
{
    ucs4_t *cp = apr_palloc(p, sizeof(ucs4_t) * (len ? len : 1));
    apr_size_t i = 0, n = 0;

    while (i < len) {
        int used = u8_mbtoucr(&cp[n], (const uint8_t *)s + i, len - i);

        if (used <= 0) {
            return NULL;
        }
        i += (apr_size_t)used;
        n++;
    }
    *count = n;
    return cp;
}

/* CaseInsensitive: both members of every Unicode simple case pair
 * compare equal; a code point and its folding are one class. */
static ucs4_t *ref_fold_all(apr_pool_t *p, const ucs4_t *cp, apr_size_t n)
{
    ucs4_t *out = apr_palloc(p, sizeof(ucs4_t) * (n ? n : 1));
    apr_size_t i;

    for (i = 0; i < n; i++) {
        out[i] = uc_tolower(uc_toupper(cp[i]));
    }
    return out;
}

/* ---- the reference: reading the certificate ----------------------------- */

static void ref_decode_value(apr_pool_t *p, const ASN1_STRING *value,
                             ref_attr_t *a)
{
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, value);

    if (n < 0) {
        ERR_clear_error();
        return;
    }
    a->utf8 = apr_pmemdup(p, n > 0 ? (const char *)utf8 : "", (apr_size_t)n);
    a->utf8_len = (apr_size_t)n;
    OPENSSL_free(utf8);
    /* a value with an embedded NUL never matches */
    if (memchr(a->utf8, '\0', a->utf8_len) != NULL) {
        return;
    }
    a->cp = ref_code_points(p, a->utf8, a->utf8_len, &a->n);
    if (a->cp != NULL) {
        a->folded = ref_fold_all(p, a->cp, a->n);
        a->usable = 1;
    }
}

static void ref_read_name(fuzz_case_t *c, const X509_NAME *name,
                          certmap_field_e field)
{
    int i, n = X509_NAME_entry_count(name);

    for (i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        ref_attr_t *a = &c->attrs[c->nattrs++];
        int len;

        a->field = field;
        len = OBJ_obj2txt(a->oid, sizeof(a->oid),
                          X509_NAME_ENTRY_get_object(e), 1);
        if (len <= 0 || len >= (int)sizeof(a->oid)) {
            a->oid[0] = '\0';
        }
        ref_decode_value(c->p, X509_NAME_ENTRY_get_data(e), a);
    }
}

static void ref_read_certificate(fuzz_case_t *c)
{
    const X509_NAME *subject = X509_get_subject_name(c->x509);
    const X509_NAME *issuer = X509_get_issuer_name(c->x509);
    int n = X509_NAME_entry_count(subject) + X509_NAME_entry_count(issuer);

    c->attrs = apr_pcalloc(c->p, sizeof(ref_attr_t) * (n ? n : 1));
    ref_read_name(c, subject, CERTMAP_SUBJECT);
    ref_read_name(c, issuer, CERTMAP_ISSUER);
}

/* ---- the reference: rules ----------------------------------------------- */

/* SUBFIELD keywords of CONTRACT.md ("Values"), with their attribute types. */
static const struct {
    const char *keyword;
    const char *oid;
} ref_subfields[] = {
    { "CN", "2.5.4.3" },
    { "O", "2.5.4.10" },
    { "OU", "2.5.4.11" },
    { "L", "2.5.4.7" },
    { "S", "2.5.4.8" },
    { "ST", "2.5.4.8" },
    { "C", "2.5.4.6" },
    { "E", "1.2.840.113549.1.9.1" },
    { "Email", "1.2.840.113549.1.9.1" },
    { "GN", "2.5.4.42" },
    { "G", "2.5.4.42" },
    { "SN", "2.5.4.4" },
    { "T", "2.5.4.12" },
    { "I", "2.5.4.43" },
    { "STREET", "2.5.4.9" },
    { "DC", "0.9.2342.19200300.100.1.25" },
    { "SERIALNUMBER", "2.5.4.5" },
    { "UID", "0.9.2342.19200300.100.1.1" },
};

/* A dotted OID: digits in at least two arcs, no empty arc, which OpenSSL
 * can encode; kept in OpenSSL's own dotted spelling. */
static int ref_dotted_oid(const char *s, char *out)
{
    apr_size_t i, len = strlen(s), arcs = 1;
    ASN1_OBJECT *obj;
    int n;

    if (len == 0 || len > FUZZ_MAX_RULE_OID) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (i == 0 || s[i - 1] == '.' || i == len - 1) {
                return 0;
            }
            arcs++;
        }
        else if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    obj = arcs >= 2 ? OBJ_txt2obj(s, 1) : NULL;
    n = obj ? OBJ_obj2txt(out, FUZZ_OID_TEXT, obj, 1) : 0;
    ASN1_OBJECT_free(obj);
    ERR_clear_error();
    return n > 0 && n < FUZZ_OID_TEXT;
}

static int ref_subfield(const char *s, char *oid)
{
    apr_size_t i;

    for (i = 0; i < sizeof(ref_subfields) / sizeof(ref_subfields[0]); i++) {
        if (strcasecmp(s, ref_subfields[i].keyword) == 0) {
            strcpy(oid, ref_subfields[i].oid);
            return 1;
        }
    }
    return ref_dotted_oid(s, oid);
}

/* IIS wildcards: "*" alone is "present"; otherwise a '*' at the start
 * and one at the end are wildcards and any other '*' is a character. */
static int ref_criteria(apr_pool_t *p, const char *s, ref_rule_t *r)
{
    apr_size_t n;
    ucs4_t *cp = ref_code_points(p, s, strlen(s), &n);

    if (cp == NULL || n == 0) {
        return 0;
    }
    if (n == 1 && cp[0] == '*') {
        r->any = 1;
        return 1;
    }
    r->lead = cp[0] == '*';
    r->trail = cp[n - 1] == '*';
    r->core = cp + r->lead;
    r->n = n - (apr_size_t)r->lead - (apr_size_t)r->trail;
    r->folded = ref_fold_all(p, r->core, r->n);
    return 1;
}

/* Returns 0 when the contract makes the rule a configuration error.
 * Keywords are case-insensitive; the case mode may be left out. */
static int ref_compile(apr_pool_t *p, const char *field, const char *subfield,
                       const char *criteria, const char *casemode,
                       ref_rule_t *r)
{
    if (strcasecmp(field, "Subject") == 0) {
        r->field = CERTMAP_SUBJECT;
    }
    else if (strcasecmp(field, "Issuer") == 0) {
        r->field = CERTMAP_ISSUER;
    }
    else {
        return 0;
    }
    if (!ref_subfield(subfield, r->oid)) {
        return 0;
    }
    if (casemode == NULL || strcasecmp(casemode, "CaseSensitive") == 0) {
        r->case_insensitive = 0;
    }
    else if (strcasecmp(casemode, "CaseInsensitive") == 0) {
        r->case_insensitive = 1;
    }
    else {
        return 0;
    }
    return ref_criteria(p, criteria, r);
}

/* ---- the reference: matching -------------------------------------------- */

/* Is the rule's text (its criteria less the wildcards) at position `at`
 * of the value? */
static int ref_text_at(const ref_rule_t *r, const ref_attr_t *a,
                       apr_size_t at)
{
    apr_size_t i;

    for (i = 0; i < r->n; i++) {
        if (r->case_insensitive ? a->folded[at + i] != r->folded[i]
                                : a->cp[at + i] != r->core[i]) {
            return 0;
        }
    }
    return 1;
}

static int ref_value_matches(const ref_rule_t *r, const ref_attr_t *a)
{
    apr_size_t at;

    if (r->any) {
        return 1;
    }
    if (a->n < r->n) {
        return 0;
    }
    if (!r->lead && !r->trail) {
        return a->n == r->n && ref_text_at(r, a, 0);
    }
    if (!r->lead) {
        return ref_text_at(r, a, 0);
    }
    if (!r->trail) {
        return ref_text_at(r, a, a->n - r->n);
    }
    for (at = 0; at + r->n <= a->n; at++) {
        if (ref_text_at(r, a, at)) {
            return 1;
        }
    }
    return 0;
}

/* Any value of the sub-field in the rule's name will do; an absent
 * sub-field, or a value that never matches, does not. */
static int ref_rule_matches(const fuzz_case_t *c, const ref_rule_t *r)
{
    int i;

    for (i = 0; i < c->nattrs; i++) {
        const ref_attr_t *a = &c->attrs[i];

        if (a->field == r->field && a->usable && strcmp(a->oid, r->oid) == 0
            && ref_value_matches(r, a)) {
            return 1;
        }
    }
    return 0;
}

/* The first rule of m that fails, or NULL: a mapping without rules
 * matches every certificate. */
static const ref_rule_t *ref_first_failed(const fuzz_case_t *c,
                                          const ref_mapping_t *m)
{
    int i;

    for (i = 0; i < m->nrules; i++) {
        if (!ref_rule_matches(c, &m->rules[i])) {
            return &m->rules[i];
        }
    }
    return NULL;
}

/* One-to-one first, scopes outermost first; then the first enabled
 * many-to-one mapping, in configuration order, whose rules all match. */
static const certmap_mapping_t *ref_winner(const fuzz_case_t *c,
                                           int one_to_one, int many_to_one)
{
    int i;

    for (i = 0; one_to_one && i < c->tables->nelts; i++) {
        if (c->one[i] && c->one[i]->enabled) {
            return c->one[i];
        }
    }
    for (i = 0; many_to_one && i < c->nmaps; i++) {
        if (c->maps[i].engine->enabled
            && ref_first_failed(c, &c->maps[i]) == NULL) {
            return c->maps[i].engine;
        }
    }
    return NULL;
}

/* ---- reading the input -------------------------------------------------- */

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

static void split_line(fuzz_line_t *line, const char *s, apr_size_t len)
{
    apr_size_t i = 0, start;

    line->n = 0;
    while (i < len && line->n < FUZZ_MAX_WORDS) {
        while (i < len && is_blank(s[i])) {
            i++;
        }
        start = i;
        while (i < len && !is_blank(s[i])) {
            i++;
        }
        if (i > start) {
            line->word[line->n] = s + start;
            line->len[line->n++] = i - start;
        }
    }
}

static int word_is(const fuzz_line_t *line, int i, const char *keyword)
{
    return i < line->n && line->len[i] == strlen(keyword)
           && memcmp(line->word[i], keyword, line->len[i]) == 0;
}

/* Splits the input into lines up to a "der" line, after which the rest
 * is the certificate. */
static void read_input(fuzz_case_t *c, const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *end = s + size;

    while (s < end && c->nlines < FUZZ_MAX_LINES) {
        const char *nl = memchr(s, '\n', (apr_size_t)(end - s));
        const char *eol = nl ? nl : end;
        fuzz_line_t *line = &c->lines[c->nlines];

        split_line(line, s, (apr_size_t)(eol - s));
        s = nl ? nl + 1 : end;
        if (word_is(line, 0, "der") && line->n == 1) {
            c->has_der_line = 1;
            c->input_der = (const unsigned char *)s;
            c->input_der_len = (apr_size_t)(end - s);
            return;
        }
        if (line->n > 0) {
            c->nlines++;
        }
    }
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

static void put_bytes(apr_array_header_t *out, const void *s, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(out, char) = ((const char *)s)[i];
    }
}

static void put_code_point(apr_array_header_t *out, ucs4_t cp)
{
    uint8_t buf[6];
    int n = u8_uctomb(buf, cp, sizeof(buf));

    if (n > 0) {
        put_bytes(out, buf, (apr_size_t)n);
    }
}

/* \vN \uN \lN \<N \>N: attribute N's value, whole, upper-cased,
 * lower-cased, first half, second half.  Returns the bytes consumed
 * after the backslash, 0 when this is no reference. */
static apr_size_t put_reference(const fuzz_case_t *c, const char *s,
                                apr_size_t len, apr_array_header_t *out)
{
    apr_size_t used = 1, i, from, to;
    int index = 0;
    const ref_attr_t *a;

    if (len < 2 || s[0] == '\0' || !strchr("vul<>", s[0]) || s[1] < '0'
        || s[1] > '9') {
        return 0;
    }
    while (used < len && used < 3 && s[used] >= '0' && s[used] <= '9') {
        index = index * 10 + (s[used++] - '0');
    }
    if (index >= c->nattrs || !c->attrs[index].usable) {
        return used;
    }
    a = &c->attrs[index];
    from = s[0] == '>' ? a->n / 2 : 0;
    to = s[0] == '<' ? a->n / 2 : a->n;
    for (i = from; i < to; i++) {
        put_code_point(out, s[0] == 'u' ? uc_toupper(a->cp[i])
                            : s[0] == 'l' ? uc_tolower(a->cp[i])
                            : a->cp[i]);
    }
    return used;
}

/* Decodes the escapes of a word; references expand only when c is given.
 * The result is NUL-terminated and its length is in *len. */
static char *unescape(apr_pool_t *p, const fuzz_case_t *c, const char *s,
                      apr_size_t n, apr_size_t *len)
{
    apr_array_header_t *out = apr_array_make(p, (int)n + 1, sizeof(char));
    apr_size_t i = 0, used;

    while (i < n) {
        if (s[i] != '\\' || i + 1 == n) {
            APR_ARRAY_PUSH(out, char) = s[i++];
        }
        else if (s[i + 1] == '\\') {
            APR_ARRAY_PUSH(out, char) = '\\';
            i += 2;
        }
        else if (s[i + 1] == 'x' && i + 3 < n && hex_value(s[i + 2]) >= 0
                 && hex_value(s[i + 3]) >= 0) {
            APR_ARRAY_PUSH(out, char) = (char)(hex_value(s[i + 2]) * 16
                                               + hex_value(s[i + 3]));
            i += 4;
        }
        else if (c && (used = put_reference(c, s + i + 1, n - i - 1, out))) {
            i += 1 + used;
        }
        else {
            APR_ARRAY_PUSH(out, char) = s[i++];
        }
    }
    *len = (apr_size_t)out->nelts;
    APR_ARRAY_PUSH(out, char) = '\0';
    return out->elts;
}

/* A rule word as the engine gets it: a C string, so it ends at a NUL. */
static const char *rule_word(const fuzz_case_t *c, const fuzz_line_t *line,
                             int i)
{
    apr_size_t len;

    if (i >= line->n) {
        return NULL;
    }
    return unescape(c->p, c, line->word[i], line->len[i], &len);
}

/* ---- building the certificate ------------------------------------------- */

static const struct {
    const char *name;
    int type;
} string_types[] = {
    { "utf8", V_ASN1_UTF8STRING },
    { "bmp", V_ASN1_BMPSTRING },
    { "universal", V_ASN1_UNIVERSALSTRING },
    { "printable", V_ASN1_PRINTABLESTRING },
    { "ia5", V_ASN1_IA5STRING },
    { "t61", V_ASN1_T61STRING },
    { "numeric", V_ASN1_NUMERICSTRING },
};

static int string_type(const fuzz_line_t *line, int i)
{
    apr_size_t k;

    for (k = 0; k < sizeof(string_types) / sizeof(string_types[0]); k++) {
        if (word_is(line, i, string_types[k].name)) {
            return string_types[k].type;
        }
    }
    return -1;
}

/* BMPString and UniversalString hold big-endian UCS-2 and UCS-4: a
 * UTF-8 value is re-encoded (code points past the BMP become two units,
 * which OpenSSL must then refuse or read as two); other bytes are kept. */
static const char *encode_wide(apr_pool_t *p, const char *s, apr_size_t *len,
                               int width)
{
    apr_size_t n, i;
    ucs4_t *cp = ref_code_points(p, s, *len, &n);
    unsigned char *out;
    apr_size_t o = 0;

    if (cp == NULL) {
        return s;
    }
    out = apr_palloc(p, 4 * n + 1);
    for (i = 0; i < n; i++) {
        ucs4_t v = cp[i];

        if (width == 2 && v > 0xffff) {
            v -= 0x10000;
            out[o++] = (unsigned char)(0xd8 | (v >> 18));
            out[o++] = (unsigned char)(v >> 10);
            v = 0xdc00 | (v & 0x3ff);
        }
        if (width == 4) {
            out[o++] = (unsigned char)(v >> 24);
            out[o++] = (unsigned char)(v >> 16);
        }
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    *len = o;
    return (const char *)out;
}

static ASN1_OBJECT *attribute_type(apr_pool_t *p, const fuzz_line_t *line)
{
    char oid[FUZZ_OID_TEXT];
    apr_size_t len;
    const char *text = unescape(p, NULL, line->word[1], line->len[1], &len);

    if (!ref_subfield(text, oid)) {
        return NULL;
    }
    return OBJ_txt2obj(oid, 1);
}

/* One "subject"/"issuer" line: TYPE STRING VALUE. */
static void add_attribute(apr_pool_t *p, X509_NAME *name,
                          const fuzz_line_t *line, int join)
{
    int type = string_type(line, 2);
    ASN1_OBJECT *obj;
    const char *value;
    apr_size_t len = 0;

    if (line->n < 3 || type < 0 || (obj = attribute_type(p, line)) == NULL) {
        ERR_clear_error();
        return;
    }
    value = line->n > 3 ? unescape(p, NULL, line->word[3], line->len[3], &len)
                        : "";
    if (type == V_ASN1_BMPSTRING || type == V_ASN1_UNIVERSALSTRING) {
        value = encode_wide(p, value, &len,
                            type == V_ASN1_BMPSTRING ? 2 : 4);
    }
    X509_NAME_add_entry_by_OBJ(name, obj, type, (const unsigned char *)value,
                               (int)len, -1, join ? -1 : 0);
    ASN1_OBJECT_free(obj);
    ERR_clear_error();
}

static void build_names(fuzz_case_t *c, X509_NAME *subject, X509_NAME *issuer)
{
    int i;

    for (i = 0; i < c->nlines; i++) {
        const fuzz_line_t *line = &c->lines[i];

        if (word_is(line, 0, "subject") || word_is(line, 0, "subject+")) {
            add_attribute(c->p, subject, line, line->len[0] == 8);
        }
        else if (word_is(line, 0, "issuer") || word_is(line, 0, "issuer+")) {
            add_attribute(c->p, issuer, line, line->len[0] == 7);
        }
    }
}

/* Builds, signs and encodes the certificate, then reads it back as a
 * server reads a client's: what the engine sees is what DER can carry. */
static int build_certificate(fuzz_case_t *c)
{
    X509 *x = X509_new();
    X509_NAME *subject = X509_NAME_new(), *issuer = X509_NAME_new();
    unsigned char *der = NULL;
    int len = -1;

    if (x && subject && issuer) {
        build_names(c, subject, issuer);
        if (X509_set_version(x, X509_VERSION_3)
            && ASN1_INTEGER_set(X509_get_serialNumber(x), 1)
            && ASN1_TIME_set_string(X509_getm_notBefore(x), "20250101000000Z")
            && ASN1_TIME_set_string(X509_getm_notAfter(x), "20350101000000Z")
            && X509_set_subject_name(x, subject)
            && X509_set_issuer_name(x, issuer) && X509_set_pubkey(x, fuzz_key)
            && X509_sign(x, fuzz_key, NULL) > 0) {
            len = i2d_X509(x, &der);
        }
    }
    X509_NAME_free(subject);
    X509_NAME_free(issuer);
    X509_free(x);
    if (len <= 0) {
        ERR_clear_error();
        return 0;
    }
    c->der = apr_pmemdup(c->p, der, (apr_size_t)len);
    c->der_len = (apr_size_t)len;
    c->built = 1;
    OPENSSL_free(der);
    return 1;
}

static int make_certificate(fuzz_case_t *c)
{
    const unsigned char *q;

    if (c->has_der_line) {
        c->der = c->input_der;
        c->der_len = c->input_der_len;
    }
    else if (!build_certificate(c)) {
        return 0;
    }
    q = c->der;
    c->x509 = d2i_X509(NULL, &q, (long)c->der_len);
    if (c->x509 == NULL) {
        ERR_clear_error();
        return 0;
    }
    c->der_len = (apr_size_t)(q - c->der);      /* what the client sent */
    if (certmap_cert_parse(c->p, c->x509, &c->cert) != NULL) {
        ERR_clear_error();
        return 0;
    }
    ref_read_certificate(c);
    return 1;
}

/* ---- configuring engine and reference alike ----------------------------- */

static void new_table(fuzz_case_t *c)
{
    if (c->tables->nelts < FUZZ_MAX_TABLES) {
        APR_ARRAY_PUSH(c->tables, certmap_table_t *) =
            certmap_table_make(c->p);
    }
}

static certmap_table_t *current_table(const fuzz_case_t *c)
{
    return APR_ARRAY_IDX(c->tables, c->tables->nelts - 1, certmap_table_t *);
}

static int has_word(const fuzz_line_t *line, const char *keyword)
{
    int i;

    for (i = 1; i < line->n; i++) {
        if (word_is(line, i, keyword)) {
            return 1;
        }
    }
    return 0;
}

static certmap_mapping_t *new_mapping(fuzz_case_t *c, const fuzz_line_t *line,
                                      const char *name)
{
    certmap_mapping_t *m = apr_pcalloc(c->p, sizeof(*m));

    m->name = name;
    m->user = name;
    m->permission = has_word(line, "deny") ? CERTMAP_DENY : CERTMAP_ALLOW;
    m->enabled = !has_word(line, "off");
    m->many.rules = apr_array_make(c->p, 1, sizeof(certmap_rule_t *));
    return m;
}

static void add_many_to_one(fuzz_case_t *c, const fuzz_line_t *line)
{
    ref_mapping_t *m;

    if (c->nmaps == FUZZ_MAX_MAPPINGS) {
        return;
    }
    m = &c->maps[c->nmaps];
    m->engine = new_mapping(c, line, apr_psprintf(c->p, "m%d", c->nmaps));
    m->configured_on = m->engine->enabled;
    m->table = c->tables->nelts - 1;
    c->nmaps++;
}

/* The engine and the contract must agree on whether the rule is valid;
 * a valid rule goes to both. */
static void add_rule_words(fuzz_case_t *c, const char *field,
                           const char *subfield, const char *criteria,
                           const char *casemode)
{
    ref_mapping_t *m = c->nmaps ? &c->maps[c->nmaps - 1] : NULL;
    certmap_rule_t *rule = NULL;
    const char *err;
    ref_rule_t *r;

    if (m == NULL || m->nrules == FUZZ_MAX_RULES) {
        return;
    }
    r = &m->rules[m->nrules];
    memset(r, 0, sizeof(*r));
    err = certmap_rule_compile(c->p, field, subfield, criteria, casemode,
                               &rule);
    if ((err == NULL) != ref_compile(c->p, field, subfield, criteria,
                                     casemode, r)) {
        disagree(c, apr_psprintf(c->p, "whether the rule '%s' '%s' '%s' "
                                 "'%s' is valid", field, subfield, criteria,
                                 casemode ? casemode : "(none)"),
                 err ? err : "valid", err ? "valid" : "invalid");
    }
    if (err == NULL) {
        r->engine = rule;
        APR_ARRAY_PUSH(m->engine->many.rules, certmap_rule_t *) = rule;
        m->nrules++;
    }
}

static void add_rule(fuzz_case_t *c, const fuzz_line_t *line)
{
    if (line->n >= 4) {
        add_rule_words(c, rule_word(c, line, 1), rule_word(c, line, 2),
                       rule_word(c, line, 3), rule_word(c, line, 4));
    }
}

/* The text an "auto" rule starts from: the value, or for a value that
 * never matches, what precedes its NUL (a near miss by design). */
static const ucs4_t *auto_text(apr_pool_t *p, const ref_attr_t *a,
                               apr_size_t *n)
{
    const char *nul;

    if (a->usable) {
        *n = a->n;
        return a->cp;
    }
    if (a->utf8 == NULL) {
        return NULL;
    }
    nul = memchr(a->utf8, '\0', a->utf8_len);
    return ref_code_points(p, a->utf8, nul ? (apr_size_t)(nul - a->utf8)
                                           : a->utf8_len, n);
}

/* The sub-field as a keyword, the first or the last of its aliases (ST
 * or S, Email or E...) and in lower case when asked (keywords are
 * case-insensitive), or as the dotted OID. */
static const char *auto_subfield(apr_pool_t *p, const ref_attr_t *a,
                                 int dotted, int lower, int last)
{
    apr_size_t i, n = sizeof(ref_subfields) / sizeof(ref_subfields[0]);
    const char *found = NULL;
    char *k;

    for (i = 0; !dotted && i < n && !(found && !last); i++) {
        if (strcmp(a->oid, ref_subfields[i].oid) == 0) {
            found = ref_subfields[i].keyword;
        }
    }
    if (found == NULL) {
        return a->oid[0] ? a->oid : NULL;
    }
    k = apr_pstrdup(p, found);
    for (i = 0; lower && k[i]; i++) {
        k[i] = (char)apr_tolower(k[i]);
    }
    return k;
}

/* "auto BYTES": a rule made from one of the certificate's own values, so
 * that matches and near misses are common.  The bytes choose, in order:
 * the attribute; the form (x, x*, *x, *x*, *); where the text starts and
 * how long it is; a case change (none, upper, lower); a one-character
 * change (none, or at a position: flip bit 0, or bit 5 when the byte's
 * top bit is set); and flags: the other name, the dotted OID, keywords
 * in lower case, CaseInsensitive, CaseSensitive written out, the last
 * alias of the sub-field. */
static void add_auto_rule(fuzz_case_t *c, const fuzz_line_t *line)
{
    unsigned char k[7] = { 0 };
    const char *subfield, *field, *casemode = NULL;
    const ref_attr_t *a;
    const ucs4_t *text;
    apr_array_header_t *out;
    apr_size_t len, n, from, count, i;

    if (line->n > 1) {
        const char *bytes = unescape(c->p, NULL, line->word[1],
                                     line->len[1], &len);

        memcpy(k, bytes, len < sizeof(k) ? len : sizeof(k));
    }
    if (c->nattrs == 0) {
        return;
    }
    a = &c->attrs[k[0] % c->nattrs];
    text = auto_text(c->p, a, &n);
    subfield = auto_subfield(c->p, a, k[6] & 2, k[6] & 4, k[6] & 32);
    if (text == NULL || subfield == NULL) {
        return;
    }
    from = k[2] % (n + 1);
    count = k[3] % (n - from + 1);
    out = apr_array_make(c->p, 16, sizeof(char));
    if (k[1] % 5 >= 2) {
        APR_ARRAY_PUSH(out, char) = '*';
    }
    for (i = from; k[1] % 5 != 4 && i < from + count; i++) {
        ucs4_t cp = k[4] % 3 == 1 ? uc_toupper(text[i])
                    : k[4] % 3 == 2 ? uc_tolower(text[i]) : text[i];

        if (k[5] && i == from + (apr_size_t)(k[5] - 1) % count) {
            cp ^= (k[5] & 0x80) ? 0x20 : 1;
        }
        put_code_point(out, cp);
    }
    if (k[1] % 5 == 1 || k[1] % 5 == 3) {
        APR_ARRAY_PUSH(out, char) = '*';
    }
    APR_ARRAY_PUSH(out, char) = '\0';
    field = (a->field == CERTMAP_ISSUER) != !!(k[6] & 1) ? "Issuer"
                                                         : "Subject";
    if (k[6] & 8) {
        casemode = "CaseInsensitive";
    }
    else if (k[6] & 16) {
        casemode = "CaseSensitive";
    }
    add_rule_words(c, k[6] & 4 ? (field[0] == 'I' ? "issuer" : "subject")
                               : field,
                   subfield, out->elts, casemode);
}

/* A one-to-one mapping of the client's certificate, configured as an
 * administrator would: its IIS blob, decoded and checked by the engine. */
static void add_one_to_one(fuzz_case_t *c, const fuzz_line_t *line)
{
    int t = c->tables->nelts - 1;
    certmap_mapping_t *m = new_mapping(c, line, "one-to-one");
    const char *blob = certmap_der_to_blob(c->p, c->der, c->der_len);
    unsigned char *der;
    apr_size_t der_len;
    const char *err = "no blob";

    if (blob == NULL
        || (err = certmap_der_from_base64(c->p, blob, &der, &der_len))) {
        if (c->built) {
            disagree(c, "configuring a certificate OpenSSL wrote",
                     err, "accepted");
        }
        return;
    }
    m->many.rules = NULL;       /* the fingerprint takes their room */
    err = certmap_table_add_one_to_one(current_table(c), der, der_len, m);
    if ((err == NULL) != (c->one[t] == NULL)) {
        disagree(c, "mapping one certificate twice in one scope",
                 err ? err : "accepted", c->one[t] ? "an error" : "accepted");
    }
    if (err == NULL) {
        c->one[t] = m;
    }
}

static void configure(fuzz_case_t *c)
{
    int i;

    c->tables = apr_array_make(c->p, FUZZ_MAX_TABLES,
                               sizeof(certmap_table_t *));
    new_table(c);
    for (i = 0; i < c->nlines; i++) {
        const fuzz_line_t *line = &c->lines[i];

        if (word_is(line, 0, "table")) {
            new_table(c);
        }
        else if (word_is(line, 0, "map")) {
            add_many_to_one(c, line);
        }
        else if (word_is(line, 0, "rule")) {
            add_rule(c, line);
        }
        else if (word_is(line, 0, "auto")) {
            add_auto_rule(c, line);
        }
        else if (word_is(line, 0, "one")) {
            add_one_to_one(c, line);
        }
    }
    /* a mapping is indexed when added, so only once its rules are in */
    for (i = 0; i < c->nmaps; i++) {
        certmap_table_t *t = APR_ARRAY_IDX(c->tables, c->maps[i].table,
                                           certmap_table_t *);
        const char *err = certmap_table_add_many_to_one(t, c->maps[i].engine);

        if (err) {
            disagree(c, "adding a mapping with a new name", err, "accepted");
        }
    }
}

/* ---- the comparison ----------------------------------------------------- */

/* The trace lists every many-to-one mapping considered before the winner,
 * each with the first rule that failed, or as disabled. */
static void compare_trace(const fuzz_case_t *c,
                          const certmap_mapping_t *winner,
                          const apr_array_header_t *trace)
{
    int i, steps = 0;

    for (i = 0; i < c->nmaps && c->maps[i].engine != winner; i++) {
        const ref_mapping_t *m = &c->maps[i];
        const ref_rule_t *failed = m->engine->enabled
                                   ? ref_first_failed(c, m) : NULL;
        const certmap_step_t *step;

        if (steps >= trace->nelts) {
            disagree(c, "trace length", apr_itoa(c->p, trace->nelts),
                     "longer");
        }
        step = &APR_ARRAY_IDX(trace, steps, certmap_step_t);
        steps++;
        if (step->mapping != m->engine || step->disabled != !m->engine->enabled
            || step->failed_rule != (failed ? failed->engine : NULL)) {
            disagree(c, apr_psprintf(c->p, "trace step %d", i),
                     apr_psprintf(c->p, "%s, %s, rule %s",
                                  mapping_name(step->mapping),
                                  step->disabled ? "disabled" : "enabled",
                                  step->failed_rule ? certmap_rule_text(
                                      c->p, step->failed_rule) : "none"),
                     apr_psprintf(c->p, "%s, %s, rule %s", m->engine->name,
                                  m->engine->enabled ? "enabled" : "disabled",
                                  failed ? certmap_rule_text(
                                      c->p, failed->engine) : "none"));
        }
    }
    if (steps != trace->nelts) {
        disagree(c, "trace length", apr_itoa(c->p, trace->nelts),
                 apr_itoa(c->p, steps));
    }
}

static int is_one_to_one(const fuzz_case_t *c, const certmap_mapping_t *m)
{
    int i;

    for (i = 0; m && i < c->tables->nelts; i++) {
        if (m == c->one[i]) {
            return 1;
        }
    }
    return 0;
}

static void compare_once(const fuzz_case_t *c, int round)
{
    apr_array_header_t *trace = apr_array_make(c->p, 4,
                                               sizeof(certmap_step_t));
    const certmap_mapping_t *got, *want;
    int one, many;

    for (one = 0; one <= 1; one++) {
        for (many = 0; many <= 1; many++) {
            got = certmap_match(c->tables, c->cert, one, many, NULL);
            want = ref_winner(c, one, many);
            if (got != want) {
                disagree_mapping(c, apr_psprintf(c->p, "match (one-to-one "
                                                 "%d, many-to-one %d, round "
                                                 "%d)", one, many, round),
                                 got, want);
            }
        }
    }
    want = ref_winner(c, 1, 1);
    got = certmap_match(c->tables, c->cert, 1, 1, trace);
    if (got != want) {
        disagree_mapping(c, apr_psprintf(c->p, "traced match (round %d)",
                                         round), got, want);
    }
    if (is_one_to_one(c, want)) {
        if (trace->nelts != 0) {
            disagree(c, "trace of a one-to-one match",
                     apr_itoa(c->p, trace->nelts), "0 steps");
        }
        return;
    }
    compare_trace(c, want, trace);
}

/* Only the first match shows, so each round switches the winner off
 * (CertMapEnabled is read when matching, not when indexing) and asks
 * again, until nothing matches: every mapping's outcome is compared,
 * not only the first. */
static void compare(fuzz_case_t *c)
{
    int round;

    for (round = 0; round <= c->nmaps + FUZZ_MAX_TABLES; round++) {
        certmap_mapping_t *winner = (certmap_mapping_t *)ref_winner(c, 1, 1);

        if (fuzz_show) {
            fprintf(stderr, "  round %d: both say %s\n", round,
                    mapping_name(winner));
        }
        compare_once(c, round);
        if (winner == NULL) {
            return;
        }
        winner->enabled = 0;
    }
}

/* FUZZ_RULES_SHOW=1 build/fuzz/fuzz_rules FILE: what one input means. */
static void show(const fuzz_case_t *c)
{
    int i;

    print_case(c);
    for (i = 0; i < c->tables->nelts; i++) {
        if (c->one[i]) {
            fprintf(stderr, "  scope %d maps the certificate one-to-one "
                    "(%s)\n", i, c->one[i]->enabled ? "on" : "off");
        }
    }
}

/* ---- libFuzzer ---------------------------------------------------------- */

static void setup(void)
{
    /* a fixed Ed25519 key: signatures, hence built certificates, are
     * the same on every run */
    static const unsigned char seed[32] = "mod_certmap fuzz_rules key seed";

    apr_initialize();
    fuzz_show = getenv("FUZZ_RULES_SHOW") != NULL;
    fuzz_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
                                            sizeof(seed));
    if (fuzz_key == NULL) {
        fprintf(stderr, "fuzz_rules: cannot make the signing key\n");
        abort();
    }
}

/* Each input gets a pool with an allocator of its own, destroyed with it,
 * so that every input frees all it allocated: libFuzzer's leak check
 * then stays quiet unless something really leaks. */
static apr_pool_t *input_pool(void)
{
    apr_allocator_t *a;
    apr_pool_t *p;

    if (apr_allocator_create(&a) != APR_SUCCESS
        || apr_pool_create_ex(&p, NULL, NULL, a) != APR_SUCCESS) {
        abort();
    }
    apr_allocator_owner_set(a, p);
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_case_t *c;
    apr_pool_t *p;

    if (fuzz_key == NULL) {
        setup();
    }
    p = input_pool();
    c = apr_pcalloc(p, sizeof(*c));
    c->p = p;
    read_input(c, data, size);
    if (make_certificate(c)) {
        configure(c);
        if (fuzz_show) {
            show(c);
        }
        compare(c);
    }
    X509_free(c->x509);
    apr_pool_destroy(p);
    ERR_clear_error();
    return 0;
}
