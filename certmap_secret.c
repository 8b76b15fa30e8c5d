/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_secret.c — resolving PASSWORD values at configuration time.
 *
 * Owns the three spellings of a password in httpd.conf: a literal,
 * `file:PATH` (the first line of a file, PATH relative to ServerRoot) and
 * `env:NAME` (an environment variable of the starting httpd).  Resolution
 * happens once, when the directive is read, so a missing file or variable
 * stops `apachectl configtest` with the directive's file and line.
 *
 * Nothing here ever logs or returns the secret in an error text.  Error
 * texts carry no directive name: the caller prefixes cmd->cmd->name.
 */

#include <string.h>

#include "apr_strings.h"
#include "apr_file_io.h"
#include "apr_file_info.h"

#include "certmap_private.h"

#define CERTMAP_SECRET_FILE_PREFIX "file:"
#define CERTMAP_SECRET_ENV_PREFIX  "env:"

/* Longest first line we accept from a password file.  Passwords are
 * short; a huge line is a wrong file (a certificate, a binary). */
#define CERTMAP_SECRET_MAX_LINE 4096

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A file that others can read is accepted (the administrator may have
 * reasons), but said out loud, at the directive that names it. */
static void warn_if_exposed(cmd_parms *cmd, const char *path,
                            apr_file_t *f)
{
    apr_finfo_t finfo;
    apr_status_t rv;

    rv = apr_file_info_get(&finfo, APR_FINFO_PROT, f);
    if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
        return;
    }
    if (!(finfo.valid & APR_FINFO_PROT)) {
        return;
    }
    if (finfo.protection & (APR_FPROT_GREAD | APR_FPROT_WREAD)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server,
                     "CERTMAP010: %s:%d: password file %s is readable by "
                     "group or others; chmod 0600 it",
                     cmd->directive ? cmd->directive->filename : "?",
                     cmd->directive ? cmd->directive->line_num : 0, path);
    }
}

/* Reads the first line of the open file f into a copy in cmd->pool.  The
 * scratch buffer is wiped, since it may hold more of the secret. */
static const char *read_first_line(cmd_parms *cmd, const char *path,
                                   apr_file_t *f, const char **secret)
{
    char *buf = apr_palloc(cmd->temp_pool, CERTMAP_SECRET_MAX_LINE + 1);
    apr_size_t len = CERTMAP_SECRET_MAX_LINE + 1;
    const char *err = NULL;
    char *eol;
    apr_status_t rv;

    rv = apr_file_read_full(f, buf, len, &len);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        explicit_bzero(buf, CERTMAP_SECRET_MAX_LINE + 1);
        return apr_psprintf(cmd->pool, "cannot read password file %s: %pm",
                            path, &rv);
    }
    eol = memchr(buf, '\n', len);
    if (eol == NULL && len > CERTMAP_SECRET_MAX_LINE) {
        err = apr_psprintf(cmd->pool, "password file %s: first line longer "
                           "than %d bytes", path, CERTMAP_SECRET_MAX_LINE);
    }
    else {
        apr_size_t n = eol ? (apr_size_t)(eol - buf) : len;

        /* A file written on Windows ends its lines with CR LF. */
        if (n > 0 && buf[n - 1] == '\r') {
            n--;
        }
        if (n == 0) {
            err = apr_psprintf(cmd->pool, "password file %s: first line is "
                               "empty", path);
        }
        else if (memchr(buf, '\0', n) != NULL) {
            err = apr_psprintf(cmd->pool, "password file %s: first line "
                               "contains a NUL byte", path);
        }
        else {
            *secret = apr_pstrmemdup(cmd->pool, buf, n);
        }
    }
    explicit_bzero(buf, CERTMAP_SECRET_MAX_LINE + 1);
    return err;
}

static const char *resolve_file(cmd_parms *cmd, const char *name,
                                 const char **secret)
{
    const char *path;
    apr_file_t *f;
    apr_status_t rv;
    const char *err;

    if (*name == '\0') {
        return "file: needs a path";
    }
    path = ap_server_root_relative(cmd->temp_pool, name);
    if (path == NULL) {
        return apr_psprintf(cmd->pool, "invalid password file path %s", name);
    }
    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_OS_DEFAULT, cmd->temp_pool);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "cannot open password file %s: %pm",
                            path, &rv);
    }
    warn_if_exposed(cmd, path, f);
    err = read_first_line(cmd, path, f, secret);
    apr_file_close(f);
    return err;
}

static const char *resolve_env(cmd_parms *cmd, const char *name,
                               const char **secret)
{
    const char *value;

    if (*name == '\0') {
        return "env: needs a variable name";
    }
    /* Read while the configuration is parsed, in the starting process:
     * the environment is the one httpd was started with. */
    value = getenv(name);
    if (value == NULL) {
        return apr_psprintf(cmd->pool, "environment variable %s is not set",
                            name);
    }
    if (*value == '\0') {
        return apr_psprintf(cmd->pool, "environment variable %s is empty",
                            name);
    }
    *secret = apr_pstrdup(cmd->pool, value);
    return NULL;
}

const char *certmap_secret_resolve(cmd_parms *cmd, const char *spec,
                                   const char **secret)
{
    *secret = NULL;
    if (spec == NULL || *spec == '\0') {
        return "empty password";
    }
    /* Whoever may write an .htaccess file must not make the server read
     * its files or its environment on their behalf. */
    if (certmap_conf_in_htaccess(cmd)
        && (has_prefix(spec, CERTMAP_SECRET_FILE_PREFIX)
            || has_prefix(spec, CERTMAP_SECRET_ENV_PREFIX))) {
        return "file: and env: passwords are not allowed in .htaccess";
    }
    if (has_prefix(spec, CERTMAP_SECRET_FILE_PREFIX)) {
        return resolve_file(cmd, spec + strlen(CERTMAP_SECRET_FILE_PREFIX),
                            secret);
    }
    if (has_prefix(spec, CERTMAP_SECRET_ENV_PREFIX)) {
        return resolve_env(cmd, spec + strlen(CERTMAP_SECRET_ENV_PREFIX),
                           secret);
    }
    *secret = apr_pstrdup(cmd->pool, spec);
    return NULL;
}
