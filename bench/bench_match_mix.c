/* Licensed under the Apache License, Version 2.0.
 *
 * bench_match_mix.c — certmap_match() against the many-to-one rule mix of
 * bench/run-bench.sh's B location, the case the engine's exact-value index
 * cannot narrow: every mapping carries an issuer rule the client satisfies
 * (Issuer CN "CertMap Test Root CA" or Issuer O "CertMap Test") and half of
 * them select on a wildcard (`Subject CN "svc-N-*"`, `Subject O
 * "*Division N*"`), so a quarter to a half of all mappings are candidates
 * for every certificate of that CA.  The matching mapping is the last.
 *
 *   bench_match_mix CERT.pem [N...]     (default N: 1000 10000)
 *
 * BENCH_MIX_SELECTIVE_FIRST=1 writes every mapping's selective (subject)
 * rule before its issuer rule: what reordering rules at compile time
 * would save.
 *
 * Prints, per N (non-matching mappings before the hit):
 *   many_to_one_mix_<N+1>_us: <median us per certmap_match>
 * Built by bench/run-bench.sh with the engine's own flags (-O2).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/pem.h>

#include "certmap_rules.h"

static void fail(const char *what, const char *err)
{
    fprintf(stderr, "bench_match_mix: %s: %s\n", what, err ? err : "failed");
    exit(1);
}

static void add_rule(apr_pool_t *p, certmap_mapping_t *m, const char *field,
                     const char *sub, const char *criteria, const char *cs)
{
    certmap_rule_t *rule;
    const char *err = certmap_rule_compile(p, field, sub, criteria, cs, &rule);

    if (err) {
        fail("rule", err);
    }
    APR_ARRAY_PUSH(m->many.rules, certmap_rule_t *) = rule;
}

static certmap_mapping_t *mapping(apr_pool_t *p, const char *name,
                                  const char *user)
{
    certmap_mapping_t *m = apr_pcalloc(p, sizeof(*m));

    m->name = name;
    m->user = user;
    m->file = "bench";
    m->line = 1;
    m->enabled = 1;
    m->permission = CERTMAP_ALLOW;
    m->many.rules = apr_array_make(p, 3, sizeof(certmap_rule_t *));
    return m;
}

/* The same mix as m2o_conf() in run-bench.sh. */
static int selective_first;   /* BENCH_MIX_SELECTIVE_FIRST=1 */

static certmap_table_t *build(apr_pool_t *p, int n)
{
    certmap_table_t *t = certmap_table_make(p);
    certmap_mapping_t *m;
    const char *err;
    int i;

    for (i = 0; i < n; i++) {
        int k = i % 4;

        m = mapping(p, apr_psprintf(p, "dept-%d", i),
                    apr_psprintf(p, "dept-user-%d", i));
        if (i % 2 == 0 && !selective_first) {
            add_rule(p, m, "Issuer", "CN", "CertMap Test Root CA", NULL);
        }
        if (k == 0) {
            add_rule(p, m, "Subject", "OU", apr_psprintf(p, "Dept-%d", i), NULL);
        }
        else if (k == 1) {
            add_rule(p, m, "Subject", "OU", apr_psprintf(p, "dept-%d", i),
                     "CaseInsensitive");
        }
        else if (k == 2) {
            add_rule(p, m, "Subject", "CN", apr_psprintf(p, "svc-%d-*", i), NULL);
        }
        else {
            add_rule(p, m, "Subject", "O", apr_psprintf(p, "*Division %d*", i),
                     "CaseInsensitive");
        }
        if (i % 2 == 0 && selective_first) {
            add_rule(p, m, "Issuer", "CN", "CertMap Test Root CA", NULL);
        }
        if (i % 2 == 1) {
            add_rule(p, m, "Issuer", "O", "CertMap Test", NULL);
        }
        if ((err = certmap_table_add_many_to_one(t, m))) {
            fail("add", err);
        }
    }
    m = mapping(p, "engineering", "alice");
    add_rule(p, m, "Issuer", "CN", "CertMap Test Root CA", NULL);
    add_rule(p, m, "Subject", "O", "Contoso", NULL);
    add_rule(p, m, "Subject", "OU", "Engineering", NULL);
    if ((err = certmap_table_add_many_to_one(t, m))) {
        fail("add", err);
    }
    return t;
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    certmap_cert_t *cert;
    X509 *x509;
    FILE *f;
    const char *err;
    int a, defaults[] = { 1000, 10000 };
    int ncounts = argc > 2 ? argc - 2 : 2;

    selective_first = getenv("BENCH_MIX_SELECTIVE_FIRST") != NULL;
    if (argc < 2) {
        fprintf(stderr, "usage: bench_match_mix CERT.pem [N...]\n");
        return 2;
    }
    apr_initialize();
    apr_pool_create(&p, NULL);
    if (!(f = fopen(argv[1], "r")) || !(x509 = PEM_read_X509(f, NULL, NULL, NULL))) {
        fail(argv[1], "cannot read certificate");
    }
    fclose(f);
    if ((err = certmap_cert_parse(p, x509, &cert))) {
        fail("parse", err);
    }
    for (a = 0; a < ncounts; a++) {
        int n = argc > 2 ? atoi(argv[a + 2]) : defaults[a];
        apr_pool_t *tp;
        apr_array_header_t *tables;
        const certmap_mapping_t *m;
        double samples[15], t0;
        int s, it, iters;

        apr_pool_create(&tp, p);
        tables = apr_array_make(tp, 1, sizeof(certmap_table_t *));
        APR_ARRAY_PUSH(tables, certmap_table_t *) = build(tp, n);
        m = certmap_match(tables, cert, 1, 1, NULL);
        if (!m || strcmp(m->name, "engineering") != 0) {
            fail("match", "the last mapping did not win");
        }
        /* enough iterations for ~20 ms per sample */
        t0 = now_us();
        for (iters = 0; now_us() - t0 < 20000; iters++) {
            certmap_match(tables, cert, 1, 1, NULL);
        }
        for (s = 0; s < 15; s++) {
            t0 = now_us();
            for (it = 0; it < iters; it++) {
                m = certmap_match(tables, cert, 1, 1, NULL);
            }
            samples[s] = (now_us() - t0) / iters;
        }
        qsort(samples, 15, sizeof(double), cmp_double);
        printf("many_to_one_mix_%d_us%s: %.3f us\n", n + 1,
               selective_first ? "_selective_rule_first" : "", samples[7]);
        apr_pool_destroy(tp);
    }
    X509_free(x509);
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
