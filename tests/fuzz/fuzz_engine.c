/* Licensed under the Apache License, Version 2.0.
 *
 * tests/fuzz/fuzz_engine.c — libFuzzer target for the mapping engine:
 * the input is tried as an IIS base64 blob, as a DER certificate (parsed,
 * described and matched against a fixed table through both the indexed
 * search and the traced scan, which must agree), and as the words of a
 * CertMapRule.
 *
 * `make fuzz` builds it into build/fuzz/ and runs it with fuzz_rules
 * (tests/fuzz/run-fuzz.sh: a bounded, seeded run on a corpus made from
 * the test PKI); one input alone: build/fuzz/fuzz_engine FILE
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "certmap_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *fuzz_pool;
static apr_array_header_t *fuzz_tables;

static void add_mapping(certmap_table_t *t, const char *name,
                        const char *const *rule)
{
    certmap_mapping_t *m = apr_pcalloc(fuzz_pool, sizeof(*m));
    certmap_rule_t *r;

    m->name = name;
    m->user = name;
    m->enabled = 1;
    m->many.rules = apr_array_make(fuzz_pool, 1, sizeof(certmap_rule_t *));
    if (rule && certmap_rule_compile(fuzz_pool, rule[0], rule[1], rule[2],
                                     rule[3], &r) == NULL) {
        APR_ARRAY_PUSH(m->many.rules, certmap_rule_t *) = r;
    }
    certmap_table_add_many_to_one(t, m);
}

static void setup(void)
{
    static const char *const rules[][4] = {
        { "Subject", "CN", "alice", NULL },
        { "Subject", "O", "Contoso", "CaseInsensitive" },
        { "Subject", "OU", "sa*", "CaseInsensitive" },
        { "Subject", "CN", "*.evil", NULL },
        { "Issuer", "CN", "*Root*", NULL },
        { "Subject", "2.5.4.3", "*", NULL },
    };
    certmap_table_t *t;
    size_t i;

    apr_initialize();
    apr_pool_create(&fuzz_pool, NULL);
    t = certmap_table_make(fuzz_pool);
    for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        add_mapping(t, apr_psprintf(fuzz_pool, "m%d", (int)i), rules[i]);
    }
    fuzz_tables = apr_array_make(fuzz_pool, 1, sizeof(certmap_table_t *));
    APR_ARRAY_PUSH(fuzz_tables, certmap_table_t *) = t;
}

static void fuzz_certificate(apr_pool_t *p, const uint8_t *data, size_t size)
{
    const unsigned char *q = data;
    X509 *x = d2i_X509(NULL, &q, (long)size);
    certmap_cert_t *cert;
    apr_array_header_t *trace;

    if (x == NULL) {
        /* an error left queued would be freed by a later input: the
         * unbalanced mallocs would set off a leak scan after each one */
        ERR_clear_error();
        return;
    }
    if (certmap_cert_parse(p, x, &cert) == NULL) {
        trace = apr_array_make(p, 4, sizeof(certmap_step_t));
        certmap_cert_describe(p, cert);
        if (certmap_match(fuzz_tables, cert, 1, 1, NULL)
            != certmap_match(fuzz_tables, cert, 1, 1, trace)) {
            abort();
        }
    }
    X509_free(x);
}

static void fuzz_rule(apr_pool_t *p, const char *text)
{
    char *words[4] = { NULL, NULL, NULL, NULL };
    char *copy = apr_pstrdup(p, text), *save = NULL, *w;
    certmap_rule_t *r;
    int n = 0;

    for (w = apr_strtok(copy, "\t", &save); w && n < 4;
         w = apr_strtok(NULL, "\t", &save)) {
        words[n++] = w;
    }
    if (n >= 3 && certmap_rule_compile(p, words[0], words[1], words[2],
                                       words[3], &r) == NULL) {
        certmap_rule_text(p, r);
    }
}

/* Each input gets a pool with an allocator of its own, destroyed with it:
 * APR's shared allocator would keep the blocks for reuse, every input
 * would end with more mallocs than frees, and libFuzzer would then run a
 * full leak scan after each one (a hundredfold slowdown), while a real
 * leak would hide among the cached blocks. */
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
    apr_pool_t *p;
    unsigned char *der;
    apr_size_t der_len;
    char *text;

    if (fuzz_pool == NULL) {
        setup();
    }
    p = input_pool();
    text = apr_pstrmemdup(p, (const char *)data, size);
    if (certmap_der_from_base64(p, text, &der, &der_len) == NULL) {
        fuzz_certificate(p, der, der_len);
    }
    fuzz_certificate(p, data, size);
    fuzz_rule(p, text);
    apr_pool_destroy(p);
    return 0;
}
