/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_dump.c — `apachectl -t -D DUMP_CERTMAP`: every scope's
 * mappings and flags, in the order a request evaluates them, the way
 * `-D DUMP_VHOSTS` prints virtual hosts.  Passwords are shown as ***.
 */

#include "apr_strings.h"

#include "http_core.h"
#include "http_main.h"

#include "certmap_private.h"
#include "certmap_directory.h"

#define CERTMAP_DUMP_DEFINE "DUMP_CERTMAP"

static const char *certmap_dump_onoff(int value, int dflt)
{
    return (value == CERTMAP_UNSET ? dflt : value) ? "On" : "Off";
}

static void certmap_dump_settings(apr_pool_t *p, const certmap_dir_conf_t *dc)
{
    printf("    CertMap %s; CertMapSSLFlags %s; OneToOne %s; ManyToOne %s; "
           "InheritMappings %s\n",
           certmap_dump_onoff(dc->enabled, 0),
           certmap_conf_ssl_flags_text(p, certmap_conf_ssl_flags(dc)),
           certmap_dump_onoff(dc->one_to_one, 1),
           certmap_dump_onoff(dc->many_to_one, 1),
           certmap_dump_onoff(dc->inherit, 1));
    printf("    PAM %s, service %s, logon cache %ds, logon timeout %ds; "
           "default domain %s\n",
           certmap_dump_onoff(dc->pam, 1),
           dc->pam_service ? dc->pam_service : CERTMAP_DEFAULT_PAM_SERVICE,
           dc->logon_cache_timeout == CERTMAP_UNSET
               ? CERTMAP_DEFAULT_CACHE_TIMEOUT : dc->logon_cache_timeout,
           certmap_conf_logon_timeout(dc),
           dc->default_domain ? dc->default_domain : "(none)");
    certmap_directory_dump(p, dc);
}

static const char *certmap_dump_hex(apr_pool_t *p, const unsigned char *b,
                                    apr_size_t len)
{
    char *hex = apr_palloc(p, 2 * len + 1);
    apr_size_t i;

    for (i = 0; i < len; i++) {
        apr_snprintf(hex + 2 * i, 3, "%02x", b[i]);
    }
    hex[2 * len] = '\0';
    return hex;
}

static void certmap_dump_one_to_one(apr_pool_t *p,
                                    const certmap_mapping_t *m)
{
    printf("    %3s one-to-one sha256=%s -> %s%s  (%s:%u)\n", "",
           certmap_dump_hex(p, m->fingerprint, CERTMAP_SHA256_LEN), m->user,
           m->password ? " password ***" : "", m->file, m->line);
}

static void certmap_dump_many_to_one(apr_pool_t *p,
                                     const certmap_mapping_t *m)
{
    int i;

    printf("    %3s many-to-one '%s' %s%s -> %s%s  (%s:%u)\n", "", m->name,
           m->permission == CERTMAP_DENY ? "Deny" : "Allow",
           m->enabled ? "" : " (disabled)", m->user,
           m->password ? " password ***" : "", m->file, m->line);
    if (m->many.description) {
        printf("          description: %s\n", m->many.description);
    }
    if (m->many.user_template) {
        printf("          user from the certificate: %s\n",
               certmap_template_text(p, m->many.user_template));
    }
    if (!m->many.rules || apr_is_empty_array(m->many.rules)) {
        printf("          (no rules: matches every trusted certificate)\n");
    }
    for (i = 0; m->many.rules && i < m->many.rules->nelts; i++) {
        printf("          CertMapRule %s\n", certmap_rule_text(p,
               APR_ARRAY_IDX(m->many.rules, i, const certmap_rule_t *)));
    }
}

/* A scope's tables in request order: every table's one-to-one mappings,
 * outermost table first, then every table's many-to-one mappings.  For a
 * virtual host these already include the main server's (httpd merged
 * them at start-up); a section lists the mappings it declares itself. */
static void certmap_dump_tables(apr_pool_t *p,
                                const apr_array_header_t *tables)
{
    int t, i;

    for (t = 0; tables && t < tables->nelts; t++) {
        const apr_array_header_t *list = certmap_table_one_to_one(
            APR_ARRAY_IDX(tables, t, const certmap_table_t *));
        for (i = 0; i < list->nelts; i++) {
            certmap_dump_one_to_one(p, APR_ARRAY_IDX(list, i,
                                    const certmap_mapping_t *));
        }
    }
    for (t = 0; tables && t < tables->nelts; t++) {
        const apr_array_header_t *list = certmap_table_many_to_one(
            APR_ARRAY_IDX(tables, t, const certmap_table_t *));
        for (i = 0; i < list->nelts; i++) {
            certmap_dump_many_to_one(p, APR_ARRAY_IDX(list, i,
                                     const certmap_mapping_t *));
        }
    }
}

static int certmap_dump_worth_it(const certmap_dir_conf_t *dc)
{
    return dc && ((dc->tables && !apr_is_empty_array(dc->tables))
                  || dc->enabled != CERTMAP_UNSET
                  || dc->ssl_flags != CERTMAP_UNSET
                  || dc->inherit != CERTMAP_UNSET
                  || dc->dir_enabled != CERTMAP_UNSET || dc->dir_url);
}

static void certmap_dump_scope(apr_pool_t *p, const char *label,
                               ap_conf_vector_t *section)
{
    const certmap_dir_conf_t *dc =
        ap_get_module_config(section, &certmap_module);

    if (!certmap_dump_worth_it(dc)) {
        return;
    }
    printf("  %s\n", label);
    certmap_dump_settings(p, dc);
    if (dc->inherit == 0) {
        printf("    (starts from no mappings: CertMapInheritMappings Off)\n");
    }
    certmap_dump_tables(p, dc->tables);
}

static void certmap_dump_sections(apr_pool_t *p, const char *kind,
                                  const apr_array_header_t *sections)
{
    int i;

    for (i = 0; sections && i < sections->nelts; i++) {
        ap_conf_vector_t *section = APR_ARRAY_IDX(sections, i,
                                                  ap_conf_vector_t *);
        core_dir_config *core = ap_get_core_module_config(section);

        certmap_dump_scope(p, apr_psprintf(p, "<%s %s>", kind,
                                           core->d ? core->d : "?"),
                           section);
    }
}

static void certmap_dump_server(apr_pool_t *p, server_rec *s, int is_main)
{
    core_server_config *core = ap_get_core_module_config(s->module_config);
    const certmap_srv_conf_t *sc =
        ap_get_module_config(s->module_config, &certmap_module);

    printf("%s %s:%u (%s:%d)%s%s\n", is_main ? "Main server" : "VirtualHost",
           s->server_hostname ? s->server_hostname : "*", s->port,
           s->defn_name ? s->defn_name : "?", s->defn_line_number,
           sc->invalid_certs == CERTMAP_INVALID_REJECT
               ? " CertMapInvalidCerts Reject"
               : " CertMapInvalidCerts Report",
           is_main ? apr_psprintf(p, "; CertMapLogonSlots %d",
                                  certmap_conf_logon_slots(sc)) : "");
    if (is_main) {
        certmap_cache_dump(sc);
    }
    certmap_proxy_dump(s);
    certmap_dump_scope(p, is_main ? "(server)" : "(virtual host)",
                       s->lookup_defaults);
    certmap_dump_sections(p, "Directory", core->sec_dir);
    certmap_dump_sections(p, "Location", core->sec_url);
}

/* test_config hook: runs for `-t` only, after the configuration is read. */
void certmap_dump_config(apr_pool_t *p, server_rec *main_server)
{
    server_rec *s;

    if (!ap_exists_config_define(CERTMAP_DUMP_DEFINE)) {
        return;
    }
    printf("mod_certmap mappings, in evaluation order (enclosing scopes "
           "first; one-to-one before many-to-one):\n");
    for (s = main_server; s; s = s->next) {
        certmap_dump_server(p, s, s == main_server);
    }
    fflush(stdout);
}
