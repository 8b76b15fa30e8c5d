/* Licensed under the Apache License, Version 2.0.
 *
 * bench/bench_engine.c — micro-benchmark of the mapping engine
 * (certmap_rules.c): certificate parse, one-to-one lookup, many-to-one
 * match with the matching mapping last, load time and resident size of
 * 100,000 one-to-one mappings.  Prints `name: value unit` lines and one
 * `goal ...` line per performance goal of issue 5.  A benchmark, not a
 * test: it always exits 0.  Times are CPU time of the process.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "certmap_rules.h"

static EVP_PKEY *signing_key;

/* CPU time of this process: other jobs on a shared machine inflate wall
 * time, not this. */
static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long resident_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) {
        resident = 0;
    }
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static void report(const char *name, double value, const char *unit)
{
    printf("%s: %.3f %s\n", name, value, unit);
}

static void goal(const char *name, double value, double limit)
{
    printf("goal %s: %.3f (limit %g) %s\n", name, value, limit,
           value <= limit ? "ok" : "OVER");
}

/* A realistic client certificate: user-N in Dept-N of Contoso. */
static X509 *user_cert(int n, long serial)
{
    X509 *x = X509_new();
    X509_NAME *s = X509_get_subject_name(x), *i = X509_get_issuer_name(x);
    char cn[64], ou[64];

    snprintf(cn, sizeof(cn), "user-%d.contoso.com", n);
    snprintf(ou, sizeof(ou), "Dept-%d", n);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(s, "C", MBSTRING_UTF8,
                               (unsigned char *)"US", -1, -1, 0);
    X509_NAME_add_entry_by_txt(s, "O", MBSTRING_UTF8,
                               (unsigned char *)"Contoso", -1, -1, 0);
    X509_NAME_add_entry_by_txt(s, "OU", MBSTRING_UTF8,
                               (unsigned char *)ou, -1, -1, 0);
    X509_NAME_add_entry_by_txt(s, "CN", MBSTRING_UTF8,
                               (unsigned char *)cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(s, "emailAddress", MBSTRING_UTF8,
                               (unsigned char *)"user@contoso.com", -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(i, "O", MBSTRING_UTF8,
                               (unsigned char *)"Contoso", -1, -1, 0);
    X509_NAME_add_entry_by_txt(i, "CN", MBSTRING_UTF8,
                               (unsigned char *)"Test CA", -1, -1, 0);
    X509_set_pubkey(x, signing_key);
    X509_sign(x, signing_key, EVP_sha256());
    return x;
}

static certmap_cert_t *parse(apr_pool_t *p, X509 *x)
{
    certmap_cert_t *cert = NULL;
    const char *err = certmap_cert_parse(p, x, &cert);

    if (err) {
        fprintf(stderr, "parse: %s\n", err);
        exit(0);
    }
    return cert;
}

static apr_array_header_t *one_table(apr_pool_t *p, certmap_table_t *t)
{
    apr_array_header_t *a = apr_array_make(p, 1, sizeof(certmap_table_t *));

    APR_ARRAY_PUSH(a, certmap_table_t *) = t;
    return a;
}

/* Microseconds per certmap_match call, over enough calls to be stable. */
static double match_us(apr_array_header_t *tables, const certmap_cert_t *c,
                       int one, int many, const certmap_mapping_t *expect)
{
    int i, rounds = 1;
    double start, elapsed;

    for (;;) {
        start = now_seconds();
        for (i = 0; i < rounds; i++) {
            if (certmap_match(tables, c, one, many, NULL) != expect) {
                fprintf(stderr, "unexpected match result\n");
                exit(0);
            }
        }
        elapsed = now_seconds() - start;
        if (elapsed > 0.2) {
            return elapsed * 1e6 / rounds;
        }
        rounds *= 4;
    }
}

static double traced_match_us(apr_pool_t *p, apr_array_header_t *tables,
                              const certmap_cert_t *c)
{
    apr_pool_t *scratch;
    int i, rounds = 50;
    double start;

    apr_pool_create(&scratch, p);
    start = now_seconds();
    for (i = 0; i < rounds; i++) {
        certmap_match(tables, c, 1, 1,
                      apr_array_make(scratch, 16, sizeof(certmap_step_t)));
        apr_pool_clear(scratch);
    }
    return (now_seconds() - start) * 1e6 / rounds;
}

static void add_rule(apr_pool_t *p, certmap_mapping_t *m, const char *field,
                     const char *subfield, const char *criteria,
                     const char *casemode)
{
    certmap_rule_t *r;
    const char *err = certmap_rule_compile(p, field, subfield, criteria,
                                           casemode, &r);
    if (err) {
        fprintf(stderr, "rule: %s\n", err);
        exit(0);
    }
    APR_ARRAY_PUSH(m->many.rules, certmap_rule_t *) = r;
}

/* The table shapes measured. */
typedef enum {
    SHAPE_REALISTIC,    /* O, OU Dept-N, CN user-N.*, Issuer CN */
    SHAPE_PREFIX_ONLY,  /* no per-user exact rule: O, CN user-N.* */
    SHAPE_SUFFIX_ONLY   /* no per-user exact rule: O, CN *user-N.contoso.com */
} shape_e;

static const char *const shape_names[] = { "", "_prefix_only",
                                           "_suffix_only" };

static certmap_table_t *many_to_one_table(apr_pool_t *p, int n,
                                          shape_e shape)
{
    certmap_table_t *t = certmap_table_make(p);
    int i;

    for (i = 0; i < n; i++) {
        certmap_mapping_t *m = apr_pcalloc(p, sizeof(*m));

        m->name = apr_psprintf(p, "dept-%d", i);
        m->user = apr_psprintf(p, "user%d", i);
        m->enabled = 1;
        m->file = "bench.conf";
        m->line = i + 1;
        m->many.rules = apr_array_make(p, 4, sizeof(certmap_rule_t *));
        add_rule(p, m, "Subject", "O", "Contoso", NULL);
        if (shape == SHAPE_REALISTIC) {
            add_rule(p, m, "Subject", "OU", apr_psprintf(p, "Dept-%d", i),
                     NULL);
        }
        add_rule(p, m, "Subject", "CN",
                 shape == SHAPE_SUFFIX_ONLY
                 ? apr_psprintf(p, "*user-%d.contoso.com", i)
                 : apr_psprintf(p, "user-%d.*", i), NULL);
        add_rule(p, m, "Issuer", "CN", "Test CA", "CaseInsensitive");
        certmap_table_add_many_to_one(t, m);
    }
    return t;
}

static void bench_many_to_one(apr_pool_t *p, int n, shape_e shape,
                              double baseline)
{
    certmap_table_t *t = many_to_one_table(p, n, shape);
    apr_array_header_t *tables = one_table(p, t);
    X509 *x = user_cert(n - 1, 1);
    certmap_cert_t *c = parse(p, x);
    const certmap_mapping_t *last = APR_ARRAY_IDX(
        certmap_table_many_to_one(t), n - 1, certmap_mapping_t *);
    double us = match_us(tables, c, 1, 1, last);
    char name[64];
    const char *shape_name = shape_names[shape];

    X509_free(x);
    snprintf(name, sizeof(name), "many_to_one_%d%s_us", n, shape_name);
    report(name, us, "us");
    snprintf(name, sizeof(name), "many_to_one_%d%s_over_baseline", n,
             shape_name);
    report(name, us / baseline, "x");
    snprintf(name, sizeof(name), "many_to_one_%d%s_traced_scan_us", n,
             shape_name);
    report(name, traced_match_us(p, tables, c), "us");
    if (n == 10000) {
        snprintf(name, sizeof(name), "many_to_one_10000%s_us", shape_name);
        goal(name, us, 50);
    }
}

/* DERs of n distinct certificates: one signed template whose serial
 * bytes are rewritten (the engine never checks signatures here). */
static const char **one_to_one_blobs(apr_pool_t *p, int n,
                                     unsigned char **last_der,
                                     apr_size_t *last_len)
{
    X509 *x = user_cert(7, 0x7a5b3c1dL);
    unsigned char *der = NULL, *at = NULL;
    int len = i2d_X509(x, &der), i;
    static const unsigned char marker[] = { 0x02, 0x04, 0x7a, 0x5b, 0x3c,
                                            0x1d };
    const char **blobs = apr_palloc(p, sizeof(*blobs) * n);

    for (i = 0; i + (int)sizeof(marker) <= len; i++) {
        if (memcmp(der + i, marker, sizeof(marker)) == 0) {
            at = der + i + 2;
            break;
        }
    }
    for (i = 0; i < n && at; i++) {
        at[0] = 0x10 | ((i >> 24) & 0x0f);
        at[1] = (unsigned char)(i >> 16);
        at[2] = (unsigned char)(i >> 8);
        at[3] = (unsigned char)i;
        blobs[i] = certmap_der_to_blob(p, der, len);
    }
    *last_der = apr_pmemdup(p, der, len);
    *last_len = (apr_size_t)len;
    OPENSSL_free(der);
    X509_free(x);
    return at ? blobs : NULL;
}

/* What a CertMapOneToOne directive costs: decode and check the blob,
 * then file the mapping. */
static certmap_table_t *load_one_to_one(apr_pool_t *p, apr_pool_t *scratch,
                                        const char **blobs, int n)
{
    certmap_table_t *t = certmap_table_make(p);
    int i;

    for (i = 0; i < n; i++) {
        certmap_mapping_t *m = apr_pcalloc(p, sizeof(*m));
        unsigned char *der;
        apr_size_t len;
        const char *err = certmap_der_from_base64(scratch, blobs[i], &der,
                                                  &len);
        if (err == NULL) {
            m->name = "one-to-one";
            m->user = apr_psprintf(p, "user%d", i);
            m->enabled = 1;
            m->file = "bench.conf";
            m->line = i + 1;
            err = certmap_table_add_one_to_one(t, der, len, m);
        }
        if (err) {
            fprintf(stderr, "one-to-one %d: %s\n", i, err);
            exit(0);
        }
        if (i % 100 == 99) {
            apr_pool_clear(scratch);
        }
    }
    return t;
}

static void bench_one_to_one(apr_pool_t *p, int n, int measure_load,
                             double baseline)
{
    apr_pool_t *table_pool, *scratch;
    unsigned char *last_der;
    apr_size_t last_len;
    const char **blobs = one_to_one_blobs(p, n, &last_der, &last_len);
    certmap_table_t *t;
    const unsigned char *q;
    X509 *x;
    certmap_cert_t *c;
    long before, after;
    double start, load;
    char name[64];

    if (blobs == NULL) {
        fprintf(stderr, "serial marker not found\n");
        return;
    }
    apr_pool_create(&table_pool, p);
    apr_pool_create(&scratch, p);
    load_one_to_one(table_pool, scratch, blobs, 100);  /* warm the pools */
    apr_pool_clear(table_pool);
    apr_pool_clear(scratch);

    before = resident_bytes();
    start = now_seconds();
    t = load_one_to_one(table_pool, scratch, blobs, n);
    load = now_seconds() - start;
    apr_pool_clear(scratch);
    after = resident_bytes();

    q = last_der;
    x = d2i_X509(NULL, &q, (long)last_len);
    c = parse(p, x);
    X509_free(x);
    snprintf(name, sizeof(name), "one_to_one_%d_lookup_us", n);
    report(name, match_us(one_table(p, t), c, 1, 1,
                          APR_ARRAY_IDX(certmap_table_one_to_one(t), n - 1,
                                        certmap_mapping_t *)), "us");
    snprintf(name, sizeof(name), "one_to_one_%d_over_baseline", n);
    report(name, match_us(one_table(p, t), c, 1, 1,
                          APR_ARRAY_IDX(certmap_table_one_to_one(t), n - 1,
                                        certmap_mapping_t *)) / baseline,
           "x");
    if (measure_load) {
        double per = (double)(after - before) / n;

        report("one_to_one_100000_load_s", load, "s");
        report("one_to_one_load_per_mapping_us", load * 1e6 / n, "us");
        report("one_to_one_resident_bytes_per_mapping", per, "bytes");
        goal("one_to_one_100000_load_s", load, 2);
        goal("one_to_one_resident_bytes", per, 200);
    }
    apr_pool_destroy(table_pool);
    apr_pool_destroy(scratch);
}

static double bench_parse(apr_pool_t *p)
{
    apr_pool_t *scratch;
    X509 *x = user_cert(42, 42);
    int i, rounds = 20000;
    double start, us;

    apr_pool_create(&scratch, p);
    start = now_seconds();
    for (i = 0; i < rounds; i++) {
        parse(scratch, x);
        apr_pool_clear(scratch);
    }
    us = (now_seconds() - start) * 1e6 / rounds;
    X509_free(x);
    apr_pool_destroy(scratch);
    report("cert_parse_us", us, "us");
    return us;
}

static double bench_baseline(apr_pool_t *p)
{
    X509 *x = user_cert(1, 1);
    certmap_cert_t *c = parse(p, x);
    double us = match_us(one_table(p, certmap_table_make(p)), c, 1, 1, NULL);

    X509_free(x);
    report("baseline_empty_table_match_us", us, "us");
    return us;
}

int main(void)
{
    apr_pool_t *p;
    double baseline;

    apr_initialize();
    apr_pool_create(&p, NULL);
    signing_key = EVP_EC_gen("P-256");
    if (signing_key == NULL) {
        fprintf(stderr, "cannot generate a key\n");
        return 0;
    }
    baseline = bench_baseline(p);
    bench_parse(p);
    bench_one_to_one(p, 10000, 0, baseline);
    bench_one_to_one(p, 100000, 1, baseline);
    bench_many_to_one(p, 1001, SHAPE_REALISTIC, baseline);
    bench_many_to_one(p, 10000, SHAPE_REALISTIC, baseline);
    bench_many_to_one(p, 10000, SHAPE_PREFIX_ONLY, baseline);
    bench_many_to_one(p, 10000, SHAPE_SUFFIX_ONLY, baseline);
    EVP_PKEY_free(signing_key);
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
