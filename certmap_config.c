/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_config.c — mod_certmap's configuration: the per-directory and
 * per-server records, how nested scopes merge, and every directive
 * handler, including the <CertMapManyToOne> container.
 *
 * Everything is parsed and compiled here, when the directive is read: a
 * bad value stops `apachectl configtest` with file, line and reason, and
 * the request path only ever sees compiled mappings.
 */

#include "apr_strings.h"
#include "apr_lib.h"

#include "http_core.h"

#include "certmap_private.h"
#include "certmap_directory.h"

#define CERTMAP_MAX_CACHE_TIMEOUT (30 * 24 * 3600)

/* ---- records and merging ----------------------------------------------- */

void *certmap_create_dir_conf(apr_pool_t *p, char *dir)
{
    certmap_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));

    dc->enabled = CERTMAP_UNSET;
    dc->ssl_flags = CERTMAP_UNSET;
    dc->one_to_one = CERTMAP_UNSET;
    dc->many_to_one = CERTMAP_UNSET;
    dc->inherit = CERTMAP_UNSET;
    dc->pam = CERTMAP_UNSET;
    dc->logon_cache_timeout = CERTMAP_UNSET;
    dc->logon_timeout = CERTMAP_UNSET;
    dc->dir_enabled = CERTMAP_UNSET;
    dc->dir_cache_timeout = CERTMAP_UNSET;
    dc->dir_timeout = CERTMAP_UNSET;
    return dc;
}

#define CERTMAP_MERGE_INT(field) \
    merged->field = (add->field != CERTMAP_UNSET) ? add->field : base->field
#define CERTMAP_MERGE_PTR(field) \
    merged->field = add->field ? add->field : base->field

/* The effective list of tables: the enclosing scope's first, then this
 * scope's own, unless this scope says CertMapInheritMappings Off.  Merges
 * run per request for <Location> sections, so share arrays instead of
 * copying them whenever one side is empty. */
static apr_array_header_t *certmap_merge_tables(apr_pool_t *p,
                                               const certmap_dir_conf_t *base,
                                               const certmap_dir_conf_t *add)
{
    apr_array_header_t *outer = (add->inherit == 0) ? NULL : base->tables;
    apr_array_header_t *tables;

    if (!add->tables || apr_is_empty_array(add->tables)) {
        return outer;
    }
    if (!outer || apr_is_empty_array(outer)) {
        return add->tables;
    }
    tables = apr_array_copy(p, outer);
    apr_array_cat(tables, add->tables);
    return tables;
}

void *certmap_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const certmap_dir_conf_t *base = basev;
    const certmap_dir_conf_t *add = addv;
    certmap_dir_conf_t *merged = apr_pcalloc(p, sizeof(*merged));

    CERTMAP_MERGE_INT(enabled);
    CERTMAP_MERGE_INT(ssl_flags);
    CERTMAP_MERGE_INT(one_to_one);
    CERTMAP_MERGE_INT(many_to_one);
    CERTMAP_MERGE_INT(pam);
    CERTMAP_MERGE_INT(logon_cache_timeout);
    CERTMAP_MERGE_INT(logon_timeout);
    CERTMAP_MERGE_PTR(default_domain);
    CERTMAP_MERGE_PTR(pam_service);
    CERTMAP_MERGE_INT(dir_enabled);
    CERTMAP_MERGE_PTR(dir_url);
    CERTMAP_MERGE_PTR(dir_bind_dn);
    CERTMAP_MERGE_PTR(dir_bind_password);
    CERTMAP_MERGE_PTR(dir_match);
    CERTMAP_MERGE_PTR(dir_mapping_attr);
    CERTMAP_MERGE_INT(dir_cache_timeout);
    CERTMAP_MERGE_INT(dir_timeout);

    /* CertMapInheritMappings speaks about the scope it is written in and
     * is consumed by this merge; a deeper scope starts again from On. */
    merged->inherit = CERTMAP_UNSET;
    merged->own = NULL;
    merged->tables = certmap_merge_tables(p, base, add);
    return merged;
}

void *certmap_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    certmap_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    sc->invalid_certs = CERTMAP_UNSET;
    sc->logon_slots = CERTMAP_UNSET;
    return sc;
}

void *certmap_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    const certmap_srv_conf_t *base = basev;
    const certmap_srv_conf_t *add = addv;
    certmap_srv_conf_t *merged = apr_pcalloc(p, sizeof(*merged));

    CERTMAP_MERGE_INT(invalid_certs);
    /* <Location> sections of the main server apply to every vhost. */
    merged->certmap_used = base->certmap_used || add->certmap_used;
    /* One logon cache for the whole server: certmap_cache.c reads the
     * main server's record. */
    merged->cache_spec = base->cache_spec;
    merged->cache_provider = base->cache_provider;
    merged->cache = base->cache;
    /* One logon helper for the whole server. */
    merged->logon_slots = base->logon_slots;
    merged->proxy = certmap_proxy_merge(p, base->proxy, add->proxy);
    return merged;
}

int certmap_conf_ssl_flags(const certmap_dir_conf_t *dc)
{
    return dc->ssl_flags == CERTMAP_UNSET ? CERTMAP_SSL_DEFAULT
                                          : dc->ssl_flags;
}

const char *certmap_conf_ssl_flags_text(apr_pool_t *p, int flags)
{
    const char *text = "";

    if (flags & CERTMAP_SSL) {
        text = apr_pstrcat(p, text, " Ssl", NULL);
    }
    if (flags & CERTMAP_SSL_NEGOTIATE) {
        text = apr_pstrcat(p, text, " SslNegotiateCert", NULL);
    }
    if (flags & CERTMAP_SSL_REQUIRE) {
        text = apr_pstrcat(p, text, " SslRequireCert", NULL);
    }
    if (flags & CERTMAP_SSL_128) {
        text = apr_pstrcat(p, text, " Ssl128", NULL);
    }
    return *text ? text + 1 : "None";
}

const char *certmap_conf_account(apr_pool_t *p, const certmap_dir_conf_t *dc,
                                 const char *user)
{
    if (!dc->default_domain || ap_strchr_c(user, '@')
        || ap_strchr_c(user, '\\')) {
        return user;
    }
    return apr_pstrcat(p, user, "@", dc->default_domain, NULL);
}

/* ---- helpers ----------------------------------------------------------- */

/* Prefixes a handler's error with the directive's name, as httpd's own
 * modules do, so the admin reads "Syntax error on line N of FILE:
 * DIRECTIVE: reason". */
const char *certmap_cmd_error(cmd_parms *cmd, const char *reason)
{
    return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", reason, NULL);
}

/* Whether the directive is read from an .htaccess file, at request time,
 * in a thread serving a request: httpd parses those with the request's
 * pool as both pools.  Nothing shared may be written then. */
int certmap_conf_in_htaccess(const cmd_parms *cmd)
{
    return cmd->pool == cmd->temp_pool;
}

/* A scope's own table.  Tables read at start-up get an identity, so a
 * connection may remember what it matched (certmap_memo.c); the counter
 * is only ever advanced while the configuration is read, single
 * threaded.  Tables from .htaccess get none: they live for one request. */
static certmap_table_t *certmap_own_table(cmd_parms *cmd,
                                          certmap_dir_conf_t *dc)
{
    static apr_uint64_t certmap_table_ids;

    if (!dc->own) {
        dc->own = certmap_table_make(cmd->pool);
        if (!certmap_conf_in_htaccess(cmd)) {
            certmap_table_set_id(dc->own, ++certmap_table_ids);
        }
        dc->tables = apr_array_make(cmd->pool, 1,
                                    sizeof(const certmap_table_t *));
        APR_ARRAY_PUSH(dc->tables, const certmap_table_t *) = dc->own;
    }
    return dc->own;
}

static void certmap_note_source(cmd_parms *cmd, certmap_mapping_t *m)
{
    m->file = cmd->directive ? cmd->directive->filename : "(unknown)";
    m->line = cmd->directive ? (unsigned int)cmd->directive->line_num : 0;
}

/* CERT: base64 of the DER as IIS stores it, or file:PATH.  Decoded into
 * `scratch`, which the caller destroys once the fingerprint is taken. */
static const char *certmap_read_cert(cmd_parms *cmd, apr_pool_t *scratch,
                                     const char *value,
                                     unsigned char **der, apr_size_t *len)
{
    if (strncasecmp(value, "file:", 5) == 0) {
        const char *path = ap_server_root_relative(scratch, value + 5);
        if (!path || !*(value + 5)) {
            return apr_psprintf(cmd->pool, "invalid certificate path '%s'",
                                value + 5);
        }
        return certmap_der_from_file(scratch, path, der, len);
    }
    return certmap_der_from_base64(scratch, value, der, len);
}

static const char *certmap_optional_secret(cmd_parms *cmd, const char *spec,
                                           const char **secret)
{
    *secret = NULL;
    if (!spec) {
        return NULL;
    }
    return certmap_secret_resolve(cmd, spec, secret);
}

/* ---- scope directives -------------------------------------------------- */

static const char *certmap_set_enabled(cmd_parms *cmd, void *dcv, int on)
{
    certmap_dir_conf_t *dc = dcv;

    dc->enabled = on;
    /* From .htaccess this runs in a request thread: the server's record is
     * shared, and whether the host reports invalid certificates was
     * decided at start-up (certmap_tls.c). */
    if (on && !certmap_conf_in_htaccess(cmd)) {
        certmap_srv_conf_t *sc =
            ap_get_module_config(cmd->server->module_config, &certmap_module);
        sc->certmap_used = 1;
    }
    return NULL;
}

/* One IIS sslFlags word. */
static int certmap_ssl_flag(const char *word)
{
    if (!strcasecmp(word, "None"))             return 0;
    if (!strcasecmp(word, "Ssl"))              return CERTMAP_SSL;
    if (!strcasecmp(word, "SslNegotiateCert")) return CERTMAP_SSL_NEGOTIATE;
    if (!strcasecmp(word, "SslRequireCert"))
        return CERTMAP_SSL_REQUIRE | CERTMAP_SSL_NEGOTIATE;
    if (!strcasecmp(word, "Ssl128"))           return CERTMAP_SSL_128;
    return CERTMAP_UNSET;
}

/* Accepts separate words (Ssl SslNegotiateCert) as well as IIS's own
 * comma-separated string ("Ssl, SslNegotiateCert"), so values can be
 * pasted from applicationHost.config. */
static const char *certmap_set_ssl_flags(cmd_parms *cmd, void *dcv,
                                         const char *args)
{
    certmap_dir_conf_t *dc = dcv;
    int flags = 0, words = 0, saw_none = 0;
    const char *arg;

    while (*(arg = ap_getword_conf(cmd->temp_pool, &args))) {
        char *list = apr_pstrdup(cmd->temp_pool, arg), *state, *word;

        for (word = apr_strtok(list, ", \t", &state); word;
             word = apr_strtok(NULL, ", \t", &state)) {
            int flag = certmap_ssl_flag(word);

            if (flag == CERTMAP_UNSET) {
                return certmap_cmd_error(cmd, apr_psprintf(cmd->pool,
                    "unknown flag '%s' (expected None, Ssl, "
                    "SslNegotiateCert, SslRequireCert or Ssl128)", word));
            }
            saw_none |= (flag == 0);
            flags |= flag;
            words++;
        }
    }
    if (!words) {
        return certmap_cmd_error(cmd, "needs at least one flag");
    }
    if (saw_none && words > 1) {
        return certmap_cmd_error(cmd, "None cannot be combined with "
                                 "other flags");
    }
    dc->ssl_flags = flags;
    return NULL;
}

static const char *certmap_add_one_to_one(cmd_parms *cmd,
                                          certmap_dir_conf_t *dc,
                                          const char *cert,
                                          certmap_mapping_t *m)
{
    apr_pool_t *scratch;
    unsigned char *der;
    apr_size_t len;
    const char *err;

    /* Only the fingerprint is kept: the blob and its DER go with the
     * scratch pool now, not with the temp pool at the end of the whole
     * configuration, so 100,000 mappings do not pile up 100,000 DERs. */
    apr_pool_create(&scratch, cmd->temp_pool);
    err = certmap_read_cert(cmd, scratch, cert, &der, &len);
    if (!err) {
        err = certmap_table_add_one_to_one(certmap_own_table(cmd, dc), der,
                                           len, m);
    }
    if (err) {
        err = apr_pstrdup(cmd->pool, err);
    }
    apr_pool_destroy(scratch);
    return err;
}

/* One one-to-one mapping, from a CertMapOneToOne line or a line of a
 * CertMapOneToOneFile; the error comes without the directive's name. */
static const char *certmap_one_to_one(cmd_parms *cmd, certmap_dir_conf_t *dc,
                                      const char *user, const char *cert,
                                      const char *password, const char *file,
                                      unsigned int line)
{
    certmap_mapping_t *m = apr_pcalloc(cmd->pool, sizeof(*m));
    const char *err;

    if (!*user) {
        return "USER must not be empty";
    }
    if ((err = certmap_optional_secret(cmd, password, &m->password))) {
        return err;
    }
    m->name = "one-to-one";
    m->user = user;
    m->enabled = 1;
    m->permission = CERTMAP_ALLOW;
    m->file = file;
    m->line = line;
    return certmap_add_one_to_one(cmd, dc, cert, m);
}

static const char *certmap_set_one_to_one(cmd_parms *cmd, void *dcv,
                                          const char *user,
                                          const char *cert,
                                          const char *password)
{
    certmap_mapping_t where;
    const char *err;

    certmap_note_source(cmd, &where);
    err = certmap_one_to_one(cmd, dcv, user, cert, password, where.file,
                             where.line);
    return err ? certmap_cmd_error(cmd, err) : NULL;
}

/* Room for one line of a CertMapOneToOneFile: a base64 certificate with a
 * 16 kbit key is well under this. */
#define CERTMAP_MAPPING_LINE_MAX 32768

/* Reads a CertMapOneToOneFile a block at a time and hands out its lines
 * in place (a million lines are read in well under a second; httpd's
 * ap_cfg_getline reads a character at a time). */
typedef struct {
    apr_file_t *f;
    char *buf;
    apr_size_t start, end;      /* unread bytes: buf[start, end) */
    int eof;
    unsigned int line;          /* number of the line last returned */
} certmap_lines_t;

#define CERTMAP_LINES_BUF (4 * CERTMAP_MAPPING_LINE_MAX)

/* The next line, NUL-terminated, without its end of line; APR_EOF at the
 * end, APR_ENOSPC for a line over CERTMAP_MAPPING_LINE_MAX. */
static apr_status_t certmap_lines_next(certmap_lines_t *ls, char **line)
{
    char *nl;
    apr_size_t n;
    apr_status_t rv;

    for (;;) {
        nl = memchr(ls->buf + ls->start, '\n', ls->end - ls->start);
        if (nl || (ls->eof && ls->end > ls->start)) {
            if (!nl) {
                nl = ls->buf + ls->end;     /* last line, no newline */
            }
            if ((apr_size_t)(nl - (ls->buf + ls->start))
                >= CERTMAP_MAPPING_LINE_MAX) {
                return APR_ENOSPC;
            }
            *nl = '\0';
            *line = ls->buf + ls->start;
            ls->start = (apr_size_t)(nl - ls->buf) + 1;
            if (ls->start > ls->end) {
                ls->start = ls->end;
            }
            ls->line++;
            return APR_SUCCESS;
        }
        if (ls->eof) {
            return APR_EOF;
        }
        if (ls->end - ls->start >= CERTMAP_MAPPING_LINE_MAX) {
            return APR_ENOSPC;
        }
        memmove(ls->buf, ls->buf + ls->start, ls->end - ls->start);
        ls->end -= ls->start;
        ls->start = 0;
        /* one byte kept for the NUL of a last line without newline */
        n = CERTMAP_LINES_BUF - 1 - ls->end;
        rv = apr_file_read(ls->f, ls->buf + ls->end, &n);
        if (rv == APR_EOF || (rv == APR_SUCCESS && n == 0)) {
            ls->eof = 1;
        }
        else if (rv != APR_SUCCESS) {
            return rv;
        }
        ls->end += n;
    }
}

/* One line of a CertMapOneToOneFile: USER CERT [PASSWORD], as the
 * directive takes them; blank lines and # comments are skipped. */
static const char *certmap_one_to_one_line(cmd_parms *cmd,
                                           certmap_dir_conf_t *dc,
                                           apr_pool_t *scratch,
                                           const char *text,
                                           const char *file,
                                           unsigned int line)
{
    const char *user, *cert, *password;

    while (apr_isspace(*text)) {
        text++;
    }
    if (!*text || *text == '#') {
        return NULL;
    }
    user = ap_getword_conf(cmd->pool, &text);
    cert = ap_getword_conf(scratch, &text);
    password = ap_getword_conf(scratch, &text);
    if (!*cert || *text) {
        return "expected USER CERT [PASSWORD]";
    }
    return certmap_one_to_one(cmd, dc, user, cert, *password ? password
                              : NULL, file, line);
}

/* CertMapOneToOneFile PATH: many one-to-one mappings kept out of httpd's
 * configuration tree, which holds every directive line for the life of
 * the server (about 2 KB for a line carrying a certificate). */
static const char *certmap_set_one_to_one_file(cmd_parms *cmd, void *dcv,
                                               const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    certmap_lines_t ls;
    apr_pool_t *scratch;
    const char *err = NULL;
    char *text, *end;
    apr_status_t rv;

    /* A file of the server's, read at start-up: not for .htaccess, whose
     * writer must not make the server read its files for them. */
    if (certmap_conf_in_htaccess(cmd)) {
        return certmap_cmd_error(cmd, "not allowed in .htaccess");
    }
    if (!path) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "invalid "
                                                   "path '%s'", arg));
    }
    memset(&ls, 0, sizeof(ls));
    if ((rv = apr_file_open(&ls.f, path, APR_FOPEN_READ, APR_OS_DEFAULT,
                            cmd->temp_pool)) != APR_SUCCESS) {
        char buf[120];
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "cannot open "
                                 "%s: %s", path,
                                 apr_strerror(rv, buf, sizeof(buf))));
    }
    ls.buf = apr_palloc(cmd->temp_pool, CERTMAP_LINES_BUF);
    /* Each line's words live only as long as the line: a file of
     * 100,000 certificates must not leave 100,000 blobs behind. */
    apr_pool_create(&scratch, cmd->temp_pool);
    while (!err && (rv = certmap_lines_next(&ls, &text)) == APR_SUCCESS) {
        /* as ap_cfg_getline: no trailing white space (nor CR) */
        end = text + strlen(text);
        while (end > text && apr_isspace(end[-1])) {
            *--end = '\0';
        }
        err = certmap_one_to_one_line(cmd, dcv, scratch, text, path,
                                      ls.line);
        if (err) {
            err = apr_pstrdup(cmd->temp_pool, err);
        }
        apr_pool_clear(scratch);
    }
    apr_pool_destroy(scratch);
    if (!err && rv != APR_EOF) {
        err = rv == APR_ENOSPC ? "line too long" : "read error";
        ls.line++;
    }
    if (err) {
        err = certmap_cmd_error(cmd, apr_psprintf(cmd->pool, "%s:%u: %s",
                                path, ls.line, err));
    }
    apr_file_close(ls.f);
    return err;
}

static const char *certmap_set_domain(cmd_parms *cmd, void *dcv,
                                      const char *domain)
{
    certmap_dir_conf_t *dc = dcv;

    if (!*domain || ap_strchr_c(domain, '@') || ap_strchr_c(domain, '\\')) {
        return certmap_cmd_error(cmd, "DOMAIN must be a non-empty name "
                                 "without '@' or '\\'");
    }
    dc->default_domain = domain;
    return NULL;
}

static const char *certmap_set_pam_service(cmd_parms *cmd, void *dcv,
                                           const char *name)
{
    certmap_dir_conf_t *dc = dcv;

    /* PAM reads /etc/pam.d/NAME: a path would escape that directory. */
    if (!*name || ap_strchr_c(name, '/') || !strcmp(name, ".")
        || !strcmp(name, "..")) {
        return certmap_cmd_error(cmd, "NAME must be a PAM service name, "
                                 "not a path");
    }
    dc->pam_service = name;
    return NULL;
}

const char *certmap_conf_seconds(cmd_parms *cmd, const char *arg,
                                 int *seconds)
{
    char *end;
    apr_int64_t value;

    errno = 0;
    value = apr_strtoi64(arg, &end, 10);
    if (errno || end == arg || *end || value < 0
        || value > CERTMAP_MAX_CACHE_TIMEOUT) {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool,
            "'%s' is not a number of seconds from 0 to %d", arg,
            CERTMAP_MAX_CACHE_TIMEOUT));
    }
    *seconds = (int)value;
    return NULL;
}

static const char *certmap_set_cache_timeout(cmd_parms *cmd, void *dcv,
                                             const char *arg)
{
    certmap_dir_conf_t *dc = dcv;

    return certmap_conf_seconds(cmd, arg, &dc->logon_cache_timeout);
}

static const char *certmap_set_invalid_certs(cmd_parms *cmd, void *dummy,
                                             const char *arg)
{
    certmap_srv_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &certmap_module);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    if (err) {
        return err;
    }
    if (!strcasecmp(arg, "Report")) {
        sc->invalid_certs = CERTMAP_INVALID_REPORT;
    }
    else if (!strcasecmp(arg, "Reject")) {
        sc->invalid_certs = CERTMAP_INVALID_REJECT;
    }
    else {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool,
            "'%s' is neither Report nor Reject", arg));
    }
    return NULL;
}

/* ---- <CertMapManyToOne NAME> ------------------------------------------- */

#define CERTMAP_BLOCK "<CertMapManyToOne"

/* The directives a many-to-one block may hold.  Anything else inside the
 * block is refused rather than silently applied to the enclosing scope. */
static const char *const certmap_block_directives[] = {
    "CertMapUser", "CertMapPermission", "CertMapDescription",
    "CertMapEnabled", "CertMapRule", "CertMapUserMatch", NULL
};

static const char *certmap_check_block_children(cmd_parms *cmd)
{
    const ap_directive_t *child;
    const char *const *name;

    for (child = cmd->directive->first_child; child; child = child->next) {
        for (name = certmap_block_directives; *name; name++) {
            if (!strcasecmp(child->directive, *name)) {
                break;
            }
        }
        if (!*name) {
            return apr_psprintf(cmd->pool, "%s> may only contain "
                                "CertMapUser, CertMapUserMatch, "
                                "CertMapPermission, CertMapDescription, "
                                "CertMapEnabled and CertMapRule, not %s "
                                "(line %d)",
                                CERTMAP_BLOCK, child->directive,
                                child->line_num);
        }
    }
    return NULL;
}

static const char *certmap_block_name(cmd_parms *cmd, const char *arg)
{
    const char *endp = ap_strrchr_c(arg, '>');
    const char *args, *name;

    if (!endp) {
        return NULL;
    }
    args = apr_pstrndup(cmd->temp_pool, arg, endp - arg);
    name = ap_getword_conf(cmd->pool, &args);
    if (!*name || *args) {
        return NULL;
    }
    return name;
}

static const char *certmap_many_to_one_block(cmd_parms *cmd, void *dcv,
                                             const char *arg)
{
    certmap_dir_conf_t *dc = dcv;
    certmap_mapping_t *m;
    const char *name, *err;

    if (dc->building) {
        return certmap_cmd_error(cmd, "blocks cannot be nested");
    }
    if (!(name = certmap_block_name(cmd, arg))) {
        return apr_pstrcat(cmd->pool, CERTMAP_BLOCK, "> needs exactly one "
                           "NAME, e.g. <CertMapManyToOne Sales>", NULL);
    }
    if ((err = certmap_check_block_children(cmd))) {
        return err;
    }

    m = apr_pcalloc(cmd->pool, sizeof(*m));
    m->name = name;
    m->enabled = 1;
    m->permission = CERTMAP_ALLOW;
    m->many.rules = apr_array_make(cmd->pool, 4, sizeof(certmap_rule_t *));
    certmap_note_source(cmd, m);

    /* The inner directives find the block under construction here, the
     * way mod_authz_core builds <RequireAll>. */
    dc->building = m;
    err = ap_walk_config(cmd->directive->first_child, cmd, cmd->context);
    dc->building = NULL;
    if (err) {
        return err;
    }

    if (!m->user) {
        return apr_psprintf(cmd->pool, "%s %s> has no CertMapUser",
                            CERTMAP_BLOCK, name);
    }
    /* A template (or a CertMapUserMatch) takes the account from the
     * certificate; compiled once, here. */
    err = certmap_template_compile(cmd->pool, m->user, m->many.user_match,
                                   (certmap_template_t **)&m->many.user_template);
    if (err) {
        return apr_psprintf(cmd->pool, "%s %s>: CertMapUser %s: %s",
                            CERTMAP_BLOCK, name, m->user, err);
    }
    if (apr_is_empty_array(m->many.rules)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server,
                     "CERTMAP011: %s %s> at %s:%u has no CertMapRule: it "
                     "maps every trusted client certificate to '%s'",
                     CERTMAP_BLOCK, name, m->file, m->line, m->user);
    }
    if ((err = certmap_table_add_many_to_one(certmap_own_table(cmd, dc),
                                             m))) {
        return apr_psprintf(cmd->pool, "%s %s>: %s", CERTMAP_BLOCK, name,
                            err);
    }
    return NULL;
}

/* The block under construction, or an error for a directive used
 * outside one. */
static const char *certmap_current_block(cmd_parms *cmd, void *dcv,
                                         certmap_mapping_t **m)
{
    certmap_dir_conf_t *dc = dcv;

    *m = dc->building;
    if (!*m) {
        return certmap_cmd_error(cmd, "only allowed inside "
                                 "<CertMapManyToOne NAME>");
    }
    return NULL;
}

static const char *certmap_set_user(cmd_parms *cmd, void *dcv,
                                    const char *user, const char *password)
{
    certmap_mapping_t *m;
    const char *err;

    if ((err = certmap_current_block(cmd, dcv, &m))) {
        return err;
    }
    if (m->user) {
        return certmap_cmd_error(cmd, "given twice in one block");
    }
    if (!*user) {
        return certmap_cmd_error(cmd, "USER must not be empty");
    }
    if ((err = certmap_optional_secret(cmd, password, &m->password))) {
        return certmap_cmd_error(cmd, err);
    }
    m->user = user;
    return NULL;
}

static const char *certmap_set_user_match(cmd_parms *cmd, void *dcv,
                                          const char *regex)
{
    certmap_mapping_t *m;
    const char *err;

    if ((err = certmap_current_block(cmd, dcv, &m))) {
        return err;
    }
    if (m->many.user_match) {
        return certmap_cmd_error(cmd, "given twice in one block");
    }
    if (!*regex) {
        return certmap_cmd_error(cmd, "REGEX must not be empty");
    }
    m->many.user_match = regex;
    return NULL;
}

static const char *certmap_set_permission(cmd_parms *cmd, void *dcv,
                                          const char *arg)
{
    certmap_mapping_t *m;
    const char *err;

    if ((err = certmap_current_block(cmd, dcv, &m))) {
        return err;
    }
    if (!strcasecmp(arg, "Allow")) {
        m->permission = CERTMAP_ALLOW;
    }
    else if (!strcasecmp(arg, "Deny")) {
        m->permission = CERTMAP_DENY;
    }
    else {
        return certmap_cmd_error(cmd, apr_psprintf(cmd->pool,
            "'%s' is neither Allow nor Deny", arg));
    }
    return NULL;
}

static const char *certmap_set_description(cmd_parms *cmd, void *dcv,
                                           const char *text)
{
    certmap_mapping_t *m;
    const char *err;

    if ((err = certmap_current_block(cmd, dcv, &m))) {
        return err;
    }
    m->many.description = text;
    return NULL;
}

static const char *certmap_set_block_enabled(cmd_parms *cmd, void *dcv,
                                             int on)
{
    certmap_mapping_t *m;
    const char *err;

    if ((err = certmap_current_block(cmd, dcv, &m))) {
        return err;
    }
    m->enabled = on;
    return NULL;
}

static const char *certmap_set_rule(cmd_parms *cmd, void *dcv, int argc,
                                    char *const argv[])
{
    certmap_mapping_t *m;
    certmap_rule_t *rule;
    const char *err;

    if ((err = certmap_current_block(cmd, dcv, &m))) {
        return err;
    }
    if (argc < 2 || argc > 4) {
        return certmap_cmd_error(cmd, "takes FIELD SUBFIELD CRITERIA "
                                 "[CaseSensitive|CaseInsensitive], or "
                                 "EKU|KeyUsage|Policy VALUE");
    }
    err = certmap_rule_compile(cmd->pool, argv[0], argv[1],
                               argc >= 3 ? argv[2] : NULL,
                               argc == 4 ? argv[3] : NULL, &rule);
    if (err) {
        return certmap_cmd_error(cmd, err);
    }
    APR_ARRAY_PUSH(m->many.rules, certmap_rule_t *) = rule;
    return NULL;
}

/* ---- the directive table ----------------------------------------------- */

#define CERTMAP_DIR  (RSRC_CONF | ACCESS_CONF | OR_AUTHCFG)
#define CERTMAP_FLAG_AT(field) \
    ((void *)APR_OFFSETOF(certmap_dir_conf_t, field))

const command_rec certmap_cmds[] = {
    AP_INIT_FLAG("CertMap", certmap_set_enabled, NULL, CERTMAP_DIR,
                 "On to map TLS client certificates to accounts"),
    AP_INIT_RAW_ARGS("CertMapSSLFlags", certmap_set_ssl_flags, NULL,
                     CERTMAP_DIR, "IIS sslFlags: None, Ssl, "
                     "SslNegotiateCert, SslRequireCert, Ssl128"),
    AP_INIT_FLAG("CertMapOneToOneEnabled", ap_set_flag_slot,
                 CERTMAP_FLAG_AT(one_to_one), CERTMAP_DIR,
                 "Whether one-to-one mappings are used (default On)"),
    AP_INIT_FLAG("CertMapManyToOneEnabled", ap_set_flag_slot,
                 CERTMAP_FLAG_AT(many_to_one), CERTMAP_DIR,
                 "Whether many-to-one mappings are used (default On)"),
    AP_INIT_FLAG("CertMapInheritMappings", ap_set_flag_slot,
                 CERTMAP_FLAG_AT(inherit), CERTMAP_DIR,
                 "Off: this scope ignores the enclosing scope's mappings"),
    AP_INIT_FLAG("CertMapPAM", ap_set_flag_slot,
                 CERTMAP_FLAG_AT(pam), CERTMAP_DIR,
                 "Log on to the mapped account through PAM (default On)"),
    AP_INIT_TAKE23("CertMapOneToOne", certmap_set_one_to_one, NULL,
                   CERTMAP_DIR, "USER CERT [PASSWORD]: map exactly this "
                   "certificate (base64 DER or file:PATH)"),
    AP_INIT_TAKE1("CertMapOneToOneFile", certmap_set_one_to_one_file, NULL,
                  CERTMAP_DIR, "PATH of a file of one-to-one mappings, one "
                  "USER CERT [PASSWORD] a line"),
    AP_INIT_RAW_ARGS(CERTMAP_BLOCK, certmap_many_to_one_block, NULL,
                     CERTMAP_DIR, "<CertMapManyToOne NAME> ... "
                     "</CertMapManyToOne>: a many-to-one mapping"),
    AP_INIT_TAKE12("CertMapUser", certmap_set_user, NULL, CERTMAP_DIR,
                   "USER [PASSWORD] of a many-to-one mapping"),
    AP_INIT_TAKE1("CertMapUserMatch", certmap_set_user_match, NULL,
                  CERTMAP_DIR, "REGEX the templated user name must match; "
                  "its first capture group, if any, is the account"),
    AP_INIT_TAKE1("CertMapPermission", certmap_set_permission, NULL,
                  CERTMAP_DIR, "Allow or Deny (default Allow)"),
    AP_INIT_TAKE1("CertMapDescription", certmap_set_description, NULL,
                  CERTMAP_DIR, "Free text describing the mapping"),
    AP_INIT_FLAG("CertMapEnabled", certmap_set_block_enabled, NULL,
                 CERTMAP_DIR, "Whether this many-to-one mapping is used"),
    AP_INIT_TAKE_ARGV("CertMapRule", certmap_set_rule, NULL, CERTMAP_DIR,
                      "FIELD SUBFIELD CRITERIA "
                      "[CaseSensitive|CaseInsensitive], or "
                      "EKU|KeyUsage|Policy VALUE"),
    AP_INIT_TAKE1("CertMapDefaultLogonDomain", certmap_set_domain, NULL,
                  CERTMAP_DIR, "Domain appended as USER@DOMAIN to "
                  "accounts without one"),
    AP_INIT_TAKE1("CertMapPAMService", certmap_set_pam_service, NULL,
                  CERTMAP_DIR, "PAM service name (default certmap)"),
    AP_INIT_TAKE1("CertMapLogonCacheTimeout", certmap_set_cache_timeout,
                  NULL, CERTMAP_DIR, "Seconds a successful logon is "
                  "remembered (default 300, 0 = off)"),
    AP_INIT_TAKE1("CertMapLogonTimeout", certmap_logon_set_timeout, NULL,
                  CERTMAP_DIR, "Seconds a request waits for its PAM logon "
                  "before answering 500 (default 10)"),
    AP_INIT_TAKE1("CertMapLogonSlots", certmap_logon_set_slots, NULL,
                  RSRC_CONF, "PAM logons the logon helper runs at once "
                  "(main server only; default 8)"),
    AP_INIT_TAKE1("CertMapInvalidCerts", certmap_set_invalid_certs, NULL,
                  RSRC_CONF, "Report (HTTP 403 sub-status) or Reject "
                  "(TLS alert, mod_ssl's own behaviour)"),
    AP_INIT_TAKE1("CertMapLogonCache", certmap_cache_set_provider, NULL,
                  RSRC_CONF, "socache provider[:args] for the shared "
                  "logon cache (default shmcb)"),
    AP_INIT_TAKE1("CertMapCacheSecret", certmap_cache_set_secret, NULL,
                  RSRC_CONF, "PASSWORD (literal, file:PATH or env:NAME) "
                  "shared by every server of a farm: keys and entries of "
                  "the shared cache are authenticated under it"),
    AP_INIT_TAKE1("CertMapCacheTimeout", certmap_cache_set_timeout, NULL,
                  RSRC_CONF, "Longest wait on the shared cache (default "
                  "1 s; '500ms' for milliseconds); slower is a miss"),
    AP_INIT_ITERATE("CertMapTrustedProxy", certmap_proxy_set_trusted, NULL,
                    RSRC_CONF, "addresses or CIDRs of the TLS-terminating "
                    "proxies whose forwarded certificate is used"),
    AP_INIT_TAKE2("CertMapProxyHeader", certmap_proxy_set_header, NULL,
                  RSRC_CONF, "the header a trusted proxy forwards the "
                  "certificate in, and its format: rfc9440, xfcc, "
                  "pem-urlencoded or base64-der"),
    AP_INIT_TAKE1("CertMapProxyCACertificateFile", certmap_proxy_set_ca_file,
                  NULL, RSRC_CONF, "PEM CA certificates a forwarded "
                  "certificate is verified against"),
    AP_INIT_TAKE1("CertMapProxyCARevocationFile", certmap_proxy_set_crl_file,
                  NULL, RSRC_CONF, "PEM CRLs a forwarded certificate is "
                  "checked against (every certificate of the chain)"),
    AP_INIT_FLAG("CertMapDirectory", certmap_directory_set_enabled, NULL,
                 CERTMAP_DIR, "On to look unmapped certificates up in an "
                 "LDAP directory"),
    AP_INIT_TAKE1("CertMapDirectoryURL", certmap_directory_set_url, NULL,
                  CERTMAP_DIR, "ldap[s]://host[:port]/BASE?ACCOUNTATTR?"
                  "SCOPE?FILTER"),
    AP_INIT_TAKE1("CertMapDirectoryBindDN", certmap_directory_set_bind_dn,
                  NULL, CERTMAP_DIR, "DN to bind as (default anonymous)"),
    AP_INIT_TAKE1("CertMapDirectoryBindPassword",
                  certmap_directory_set_bind_password, NULL, CERTMAP_DIR,
                  "Bind password: literal, file:PATH or env:NAME"),
    AP_INIT_RAW_ARGS("CertMapDirectoryMatch", certmap_directory_set_match,
                     NULL, CERTMAP_DIR, "Lookup methods in order: "
                     "Certificate IssuerSerial SKI SHA1-PUKEY IssuerSubject "
                     "Subject RFC822 UPN"),
    AP_INIT_TAKE1("CertMapDirectoryMappingAttribute",
                  certmap_directory_set_attribute, NULL, CERTMAP_DIR,
                  "Attribute holding X509: strings (default "
                  "altSecurityIdentities)"),
    AP_INIT_TAKE1("CertMapDirectoryCacheTimeout",
                  certmap_directory_set_cache_timeout, NULL, CERTMAP_DIR,
                  "Seconds a found mapping is remembered (default 300, "
                  "0 = off)"),
    AP_INIT_TAKE1("CertMapDirectoryTimeout",
                  certmap_directory_set_timeout, NULL, CERTMAP_DIR,
                  "Seconds one directory connect, bind or search may take "
                  "(default 3; capped by LDAPTimeout)"),
    { NULL }
};
