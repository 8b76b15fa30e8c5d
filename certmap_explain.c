/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_explain.c — the module's half of `certmap explain CERTFILE`: a
 * test_config hook that, when `apache2 -t` runs with the environment
 * variable CERTMAP_EXPLAIN naming a certificate file, prints for every
 * scope whose effective CertMap is On what a request would get for that
 * certificate, and why (which mapping won, the first failed rule of each
 * many-to-one mapping before it; with CertMapDirectory On and no local
 * mapping, what the directory says: certmap_directory_explain asks it as
 * a request would, on a connection of its own).
 *
 * It walks servers and sections the way certmap_dump.c does, and maps the
 * way the request path (mod_ssl.c order in certmap_check_access) does, for
 * a certificate mod_ssl verified: trust, revocation and expiry need the
 * client's chain and mod_ssl's CA settings, which a configuration test
 * does not have, so explain does not evaluate them (it only warns when
 * the certificate is outside its validity period).
 */

#include "apr_strings.h"
#include "apr_fnmatch.h"

#include "http_core.h"

#include <openssl/x509.h>

#include "certmap_private.h"
#include "certmap_directory.h"

#define CERTMAP_EXPLAIN_ENV "CERTMAP_EXPLAIN"

/* The line the `certmap` tool looks for to tell a failed explain from a
 * configuration that does not load the module. */
#define CERTMAP_EXPLAIN_FAILED "mod_certmap explain failed: "

/* How long explain waits for the directory: each of connect, bind and
 * search (a request would answer 500 long before a person gives up). */
#define CERTMAP_EXPLAIN_DIRECTORY_TIMEOUT 3

static int certmap_explain_flag(int value, int dflt)
{
    return value == CERTMAP_UNSET ? dflt : value;
}

static int certmap_explain_is_one_to_one(const certmap_mapping_t *m)
{
    return m->one_to_one;
}

static const char *certmap_explain_onoff(int value, int dflt)
{
    return certmap_explain_flag(value, dflt) ? "On" : "Off";
}

/* ---- the certificate ---------------------------------------------------- */

static const char *certmap_explain_load(apr_pool_t *p, const char *path,
                                        certmap_cert_t **cert)
{
    const unsigned char *cursor;
    unsigned char *der;
    apr_size_t der_len;
    const char *err;
    X509 *x509;

    if ((err = certmap_der_from_file(p, path, &der, &der_len))) {
        return err;
    }
    cursor = der;
    if (!(x509 = d2i_X509(NULL, &cursor, (long)der_len))) {
        return apr_psprintf(p, "'%s': not an X.509 certificate", path);
    }
    err = certmap_cert_parse(p, x509, cert);
    X509_free(x509);    /* certmap_cert_parse took its own reference */
    return err;
}

static const char *certmap_explain_time(apr_pool_t *p, const ASN1_TIME *t)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const char *text = "?";
    char *data;
    long len;

    if (bio && ASN1_TIME_print(bio, t)
        && (len = BIO_get_mem_data(bio, &data)) > 0) {
        text = apr_pstrmemdup(p, data, (apr_size_t)len);
    }
    BIO_free(bio);
    return text;
}

/* The one check of verification explain can make without the chain. */
static void certmap_explain_validity(apr_pool_t *p, X509 *x509)
{
    const ASN1_TIME *from = X509_get0_notBefore(x509);
    const ASN1_TIME *until = X509_get0_notAfter(x509);
    const char *verdict = "";

    if (X509_cmp_current_time(until) < 0) {
        verdict = "  EXPIRED: every CertMap scope answers 403.17";
    }
    else if (X509_cmp_current_time(from) > 0) {
        verdict = "  NOT YET VALID: every CertMap scope answers 403.17";
    }
    printf("  valid %s .. %s%s\n", certmap_explain_time(p, from),
           certmap_explain_time(p, until), verdict);
}

static void certmap_explain_header(apr_pool_t *p, const char *path,
                                   const certmap_cert_t *cert)
{
    printf("mod_certmap explain of %s\n", path);
    printf("  %s\n", certmap_cert_describe(p, cert));
    certmap_explain_validity(p, certmap_cert_x509(cert));
    printf("  Outcomes below assume mod_ssl verified this certificate "
           "(SSL_CLIENT_VERIFY=SUCCESS).\n"
           "  Trust, revocation and expiry are NOT evaluated by explain "
           "(it does not know the\n"
           "  client's chain): an untrusted, revoked or expired "
           "certificate gets 403.16, 403.13\n"
           "  or 403.17 whatever the mappings say.\n");
}

/* ---- one scope ---------------------------------------------------------- */

static void certmap_explain_settings(apr_pool_t *p,
                                     const certmap_dir_conf_t *dc)
{
    int flags = certmap_conf_ssl_flags(dc);

    printf("    CertMapSSLFlags %s; OneToOne %s; ManyToOne %s; PAM %s\n",
           certmap_conf_ssl_flags_text(p, flags),
           certmap_explain_onoff(dc->one_to_one, 1),
           certmap_explain_onoff(dc->many_to_one, 1),
           certmap_explain_onoff(dc->pam, 1));
    if (flags & CERTMAP_SSL) {
        printf("    plain HTTP: 403.4 SSL required\n");
    }
    if (flags & CERTMAP_SSL_128) {
        printf("    cipher under 128 bits: 403.5 SSL 128 required\n");
    }
}

static int certmap_explain_count_one_to_one(const apr_array_header_t *tables)
{
    int t, n = 0;

    for (t = 0; tables && t < tables->nelts; t++) {
        n += certmap_table_one_to_one(
            APR_ARRAY_IDX(tables, t, const certmap_table_t *))->nelts;
    }
    return n;
}

static void certmap_explain_one_to_one(const certmap_dir_conf_t *dc,
                                       const certmap_mapping_t *winner)
{
    int n = certmap_explain_count_one_to_one(dc->tables);

    if (!certmap_explain_flag(dc->one_to_one, 1)) {
        printf("    one-to-one: off (CertMapOneToOneEnabled Off)\n");
    }
    else if (winner && certmap_explain_is_one_to_one(winner)) {
        printf("    one-to-one (%s:%u): this very certificate\n",
               winner->file, winner->line);
    }
    else {
        printf("    one-to-one: %d mapping%s, none is this certificate\n",
               n, n == 1 ? "" : "s");
    }
}

/* Every many-to-one mapping considered before the winner, in order. */
static void certmap_explain_trace(apr_pool_t *p, const certmap_dir_conf_t *dc,
                                  const apr_array_header_t *trace,
                                  const certmap_mapping_t *winner)
{
    int i;

    if (!certmap_explain_flag(dc->many_to_one, 1)) {
        printf("    many-to-one: off (CertMapManyToOneEnabled Off)\n");
        return;
    }
    for (i = 0; i < trace->nelts; i++) {
        const certmap_step_t *step = &APR_ARRAY_IDX(trace, i,
                                                    certmap_step_t);
        const certmap_mapping_t *m = step->mapping;

        if (step->disabled) {
            printf("    many-to-one '%s' (%s:%u): disabled "
                   "(CertMapEnabled Off)\n", m->name, m->file, m->line);
        }
        else if (step->no_name) {
            printf("    many-to-one '%s' (%s:%u): no match, the rules "
                   "match but CertMapUser %s gives no name\n", m->name,
                   m->file, m->line,
                   certmap_template_text(p, m->many.user_template));
        }
        else {
            printf("    many-to-one '%s' (%s:%u): no match, failed "
                   "CertMapRule %s\n", m->name, m->file, m->line,
                   step->failed_rule
                       ? certmap_rule_text(p, step->failed_rule) : "?");
        }
    }
    if (winner && !certmap_explain_is_one_to_one(winner)) {
        printf("    many-to-one '%s' (%s:%u): matched%s\n", winner->name,
               winner->file, winner->line,
               apr_is_empty_array(winner->many.rules)
                   ? " (it has no rules: matches every certificate)" : "");
    }
}

static void certmap_explain_refusal(certmap_outcome_e outcome,
                                    const char *why)
{
    printf("    outcome: %d.%d %s (%s)\n", certmap_outcome_status(outcome),
           certmap_outcome_substatus(outcome),
           certmap_outcome_text(outcome), why);
}

/* The last line for a certificate mapped to `name` by `by`. */
static void certmap_explain_logon(apr_pool_t *p,
                                  const certmap_dir_conf_t *dc,
                                  const char *name, const char *by,
                                  int password)
{
    const char *account = certmap_conf_account(p, dc, name);

    if (!certmap_explain_flag(dc->pam, 1)) {
        printf("    outcome: mapped to '%s' by %s; PAM Off: the user is "
               "set from the mapping alone\n", account, by);
        return;
    }
    printf("    outcome: mapped to '%s' by %s; then PAM service '%s' logs "
           "on as '%s' (%s) -- PAM is not run by explain\n", name, by,
           dc->pam_service ? dc->pam_service : CERTMAP_DEFAULT_PAM_SERVICE,
           account, password ? "password and account check"
                             : "account check only");
}

/* ---- the directory ------------------------------------------------------ */

/* CertMapDirectory On and no local mapping matched: the request would ask
 * the directory, and so does explain (certmap_directory_explain: the same
 * methods and filters, a connection of its own). */
static void certmap_explain_directory(apr_pool_t *p,
                                      const certmap_dir_conf_t *dc,
                                      const certmap_cert_t *cert)
{
    certmap_dir_explain_t d;
    const char *by;

    certmap_directory_explain(p, dc, cert, CERTMAP_EXPLAIN_DIRECTORY_TIMEOUT,
                              &d);
    if (!d.url) {
        certmap_explain_refusal(CERTMAP_INTERNAL_ERROR, d.reason);
        return;
    }
    printf("    directory: %s, bind %s, methods %s\n", d.url,
           d.bind_dn ? d.bind_dn : "anonymous", d.methods);
    if (d.unreachable) {
        printf("    directory: would ask %s (unreachable: %s)\n", d.url,
               d.reason);
        certmap_explain_refusal(CERTMAP_INTERNAL_ERROR,
                                "the directory does not answer: a request "
                                "gets 500, never a grant, until it does");
        return;
    }
    if (d.bind_refused) {
        printf("    directory: bind as %s refused: %s\n",
               d.bind_dn ? d.bind_dn : "anonymous", d.reason);
        certmap_explain_refusal(CERTMAP_INTERNAL_ERROR,
                                "the directory refuses the bind");
        return;
    }
    if (d.outcome == CERTMAP_INTERNAL_ERROR) {
        printf("    directory: method %s: %s\n",
               d.method ? d.method : "?", d.reason);
        certmap_explain_refusal(CERTMAP_INTERNAL_ERROR,
                                "the directory search fails");
        return;
    }
    if (d.ambiguous) {
        printf("    directory: method %s found more than one entry: %s\n",
               d.method, d.dns);
        certmap_explain_refusal(CERTMAP_NOT_MAPPED, "more than one "
                                "directory entry; a request logs it as an "
                                "error");
        return;
    }
    if (d.outcome != CERTMAP_GRANTED && d.dns) {
        printf("    directory: method %s found %s, which has no usable "
               "account attribute\n", d.method, d.dns);
        certmap_explain_refusal(CERTMAP_NOT_MAPPED, d.reason);
        return;
    }
    if (d.outcome != CERTMAP_GRANTED) {
        printf("    directory: no entry for any method\n");
        certmap_explain_refusal(CERTMAP_NOT_MAPPED,
                                "no mapping matched, directory included");
        return;
    }
    printf("    directory: method %s found %s -> account %s\n", d.method,
           d.dns, d.account);
    by = apr_psprintf(p, "directory (%s:%u)", d.file, d.line);
    certmap_explain_logon(p, dc, d.account, by, 0);
}

static void certmap_explain_verdict(apr_pool_t *p,
                                    const certmap_dir_conf_t *dc,
                                    const certmap_mapping_t *m,
                                    const certmap_cert_t *cert)
{
    const certmap_template_t *tpl;
    const char *by, *name, *why;

    if (!m) {
        certmap_explain_refusal(CERTMAP_NOT_MAPPED, "no mapping matched");
        return;
    }
    by = certmap_explain_is_one_to_one(m)
             ? apr_psprintf(p, "one-to-one (%s:%u)", m->file, m->line)
             : apr_psprintf(p, "many-to-one '%s'", m->name);
    if (m->permission == CERTMAP_DENY) {
        certmap_explain_refusal(CERTMAP_MAPPER_DENIED,
                                apr_psprintf(p, "%s denies", by));
        return;
    }
    name = m->user;
    if ((tpl = certmap_mapping_template(m))) {
        if (certmap_template_expand(p, tpl, cert, &name, &why)
            != CERTMAP_NAME_OK) {
            certmap_explain_refusal(CERTMAP_NOT_MAPPED,
                                    apr_psprintf(p, "%s: %s", by, why));
            return;
        }
        printf("    user: CertMapUser %s gives '%s'\n",
               certmap_template_text(p, tpl), name);
    }
    certmap_explain_logon(p, dc, name, by, m->password != NULL);
}

/* What a request would know about the certificate (certmap_facts_t, as
 * the request path gathers it): a TLS client presented it; verification
 * is judged by its validity dates only (explain has no chain). */
static certmap_facts_t *certmap_explain_facts(apr_pool_t *p,
                                              certmap_cert_t *cert)
{
    certmap_facts_t *f = apr_pcalloc(p, sizeof(*f));
    X509 *x509 = certmap_cert_x509(cert);

    f->tls = 1;
    f->cipher_bits = -1;        /* the settings line names 403.5 */
    f->present = 1;
    f->cert = cert;
    f->verified = CERTMAP_GRANTED;
    if (X509_cmp_current_time(X509_get0_notAfter(x509)) < 0) {
        f->verified = CERTMAP_CERT_EXPIRED;
        f->reason = "the certificate has expired";
    }
    else if (X509_cmp_current_time(X509_get0_notBefore(x509)) > 0) {
        f->verified = CERTMAP_CERT_EXPIRED;
        f->reason = "the certificate is not yet valid";
    }
    return f;
}

static void certmap_explain_outcome(apr_pool_t *p,
                                    const certmap_dir_conf_t *dc,
                                    const certmap_facts_t *facts)
{
    apr_array_header_t *trace;
    const certmap_mapping_t *m;
    certmap_outcome_e outcome;
    const char *reason;

    certmap_explain_settings(p, dc);
    /* the request path's own checks before mapping, in its order */
    switch (certmap_facts_precheck(facts, certmap_conf_ssl_flags(dc),
                                   &outcome, &reason)) {
    case 0:
        break;
    case 1:
        certmap_explain_refusal(outcome, reason);
        return;
    default:
        /* Without SslNegotiateCert IIS never looks at a certificate. */
        printf("    outcome: the certificate is not looked at (no "
               "SslNegotiateCert): passed on to other authentication\n");
        return;
    }
    trace = apr_array_make(p, 8, sizeof(certmap_step_t));
    m = certmap_match(dc->tables, facts->cert,
                      certmap_explain_flag(dc->one_to_one, 1),
                      certmap_explain_flag(dc->many_to_one, 1), trace);
    certmap_explain_one_to_one(dc, m);
    if (!m || !certmap_explain_is_one_to_one(m)) {
        certmap_explain_trace(p, dc, trace, m);
    }
    if (!m && dc->dir_enabled == 1) {
        certmap_explain_directory(p, dc, facts->cert);
        return;
    }
    certmap_explain_verdict(p, dc, m, facts->cert);
}

/* ---- servers and sections ----------------------------------------------- */

typedef struct {
    apr_pool_t *p;
    const certmap_facts_t *facts;
    server_rec *server;
    int server_printed;         /* its header line, printed on first use */
} certmap_explain_ctx_t;

static void certmap_explain_scope(certmap_explain_ctx_t *ctx,
                                  const char *label, const char *merged,
                                  const certmap_dir_conf_t *dc)
{
    server_rec *s = ctx->server;

    if (!dc || certmap_explain_flag(dc->enabled, 0) != 1) {
        return;
    }
    if (!ctx->server_printed) {
        printf("%s %s:%u (%s:%d)\n",
               s->is_virtual ? "VirtualHost" : "Main server",
               s->server_hostname ? s->server_hostname : "*", s->port,
               s->defn_name ? s->defn_name : "?", s->defn_line_number);
        ctx->server_printed = 1;
    }
    printf("  %s%s\n", label, merged ? merged : "");
    certmap_explain_outcome(ctx->p, dc, ctx->facts);
}

/* Does a section say anything about CertMap itself?  Sections that do not
 * behave as their server scope, already explained. */
static int certmap_explain_section_speaks(const certmap_dir_conf_t *dc)
{
    return dc && (dc->enabled != CERTMAP_UNSET
                  || dc->ssl_flags != CERTMAP_UNSET
                  || dc->one_to_one != CERTMAP_UNSET
                  || dc->many_to_one != CERTMAP_UNSET
                  || dc->inherit != CERTMAP_UNSET
                  || dc->pam != CERTMAP_UNSET
                  || dc->default_domain || dc->pam_service
                  || (dc->tables && !apr_is_empty_array(dc->tables))
                  || dc->dir_enabled != CERTMAP_UNSET || dc->dir_url
                  || dc->dir_bind_dn || dc->dir_match
                  || dc->dir_mapping_attr);
}

static const char *certmap_explain_label(apr_pool_t *p, const char *kind,
                                         const core_dir_config *core)
{
    return apr_psprintf(p, "<%s%s %s>", kind, core->r ? "Match" : "",
                        core->d ? core->d : "?");
}

/* Would a request for `path` be inside section `entry`?  httpd's rules:
 * a regex or wildcard pattern, else a prefix ending at a '/' boundary. */
static int certmap_explain_applies(const core_dir_config *entry,
                                   const char *path)
{
    apr_size_t len;

    if (!entry->d) {
        return 0;
    }
    if (entry->r) {
        return ap_regexec(entry->r, path, 0, NULL, 0) == 0;
    }
    if (entry->d_is_fnmatch) {
        return apr_fnmatch(entry->d, path, APR_FNM_PATHNAME) == APR_SUCCESS;
    }
    len = strlen(entry->d);
    return strncmp(entry->d, path, len) == 0
           && (len == 0 || entry->d[len - 1] == '/' || path[len] == '/'
               || path[len] == '\0');
}

/* The effective configuration of section `which` for a request to its own
 * path: the server's defaults merged, in configuration order, with every
 * section of the same kind that such a request is also inside (an outer
 * <Location /app> for <Location /app/admin>).  A regex section stands
 * alone: explain cannot know which paths it matches.  *merged names the
 * other sections merged in. */
static const certmap_dir_conf_t *certmap_explain_effective(
    apr_pool_t *p, server_rec *s, const char *kind,
    const apr_array_header_t *sections, int which, const char **merged)
{
    ap_conf_vector_t *self = APR_ARRAY_IDX(sections, which,
                                           ap_conf_vector_t *);
    const core_dir_config *own = ap_get_core_module_config(self);
    void *dc = ap_get_module_config(s->lookup_defaults, &certmap_module);
    int i;

    *merged = NULL;
    for (i = 0; i < sections->nelts; i++) {
        ap_conf_vector_t *section = APR_ARRAY_IDX(sections, i,
                                                  ap_conf_vector_t *);
        const core_dir_config *core = ap_get_core_module_config(section);
        void *add = ap_get_module_config(section, &certmap_module);

        if (!add || (i != which
                     && (own->r || !own->d
                         || !certmap_explain_applies(core, own->d)))) {
            continue;
        }
        dc = certmap_merge_dir_conf(p, dc, add);
        if (i != which) {
            *merged = apr_pstrcat(p, *merged ? *merged : "  (merged with",
                                  " ", certmap_explain_label(p, kind, core),
                                  NULL);
        }
    }
    if (*merged) {
        *merged = apr_pstrcat(p, *merged, ")", NULL);
    }
    return dc;
}

static void certmap_explain_sections(certmap_explain_ctx_t *ctx,
                                     const char *kind,
                                     const apr_array_header_t *sections)
{
    int i;

    for (i = 0; sections && i < sections->nelts; i++) {
        ap_conf_vector_t *section = APR_ARRAY_IDX(sections, i,
                                                  ap_conf_vector_t *);
        const core_dir_config *core = ap_get_core_module_config(section);
        const certmap_dir_conf_t *dc;
        const char *merged;

        if (!certmap_explain_section_speaks(
                ap_get_module_config(section, &certmap_module))) {
            continue;
        }
        dc = certmap_explain_effective(ctx->p, ctx->server, kind, sections,
                                       i, &merged);
        certmap_explain_scope(ctx, certmap_explain_label(ctx->p, kind, core),
                              merged, dc);
    }
}

static void certmap_explain_server(certmap_explain_ctx_t *ctx)
{
    server_rec *s = ctx->server;
    core_server_config *core = ap_get_core_module_config(s->module_config);

    certmap_explain_scope(ctx, s->is_virtual ? "(virtual host)"
                                             : "(main server)", NULL,
                          ap_get_module_config(s->lookup_defaults,
                                               &certmap_module));
    certmap_explain_sections(ctx, "Directory", core->sec_dir);
    certmap_explain_sections(ctx, "Location", core->sec_url);
}

/* test_config hook: runs for `-t` only, after the configuration is read
 * and virtual hosts are merged with the main server. */
void certmap_explain_config(apr_pool_t *p, server_rec *main_server)
{
    const char *path = getenv(CERTMAP_EXPLAIN_ENV);
    certmap_explain_ctx_t ctx;
    certmap_cert_t *cert = NULL;
    const char *err;
    server_rec *s;

    if (!path || !*path) {
        return;
    }
    if ((err = certmap_explain_load(p, path, &cert))) {
        printf(CERTMAP_EXPLAIN_FAILED "%s\n", err);
        fflush(stdout);
        return;
    }
    certmap_explain_header(p, path, cert);
    memset(&ctx, 0, sizeof(ctx));
    ctx.p = p;
    ctx.facts = certmap_explain_facts(p, cert);
    for (s = main_server; s; s = s->next) {
        ctx.server = s;
        ctx.server_printed = 0;
        certmap_explain_server(&ctx);
    }
    printf("mod_certmap explain: end\n");
    fflush(stdout);
}
