/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_explain_tool.c — `certmap explain CERTFILE [httpd options]`:
 * runs httpd's own configuration test (`apache2 -t`) with the environment
 * variable CERTMAP_EXPLAIN naming the certificate; mod_certmap's
 * test_config hook (certmap_explain.c) does the explaining, so the
 * configuration is read exactly as httpd reads it, Include, Define,
 * <IfModule> and all.
 *
 * On Debian the stock configuration needs /etc/apache2/envvars (it uses
 * ${APACHE_RUN_DIR} and friends), so the configuration test runs through
 * /bin/sh, which sources that file first, as apache2ctl does.
 *
 * Environment: CERTMAP_HTTPD  the httpd binary (default /usr/sbin/apache2,
 *                             else `httpd` from PATH)
 *              CERTMAP_ENVVARS the envvars file to source (default
 *                             /etc/apache2/envvars if readable; empty: none)
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "certmap_rules.h"
#include "certmap_tool.h"

#define CERTMAP_DEBIAN_HTTPD   "/usr/sbin/apache2"
#define CERTMAP_DEBIAN_ENVVARS "/etc/apache2/envvars"

/* Lines the module's hook prints (certmap_explain.c). */
#define CERTMAP_EXPLAIN_HEADER "mod_certmap explain of "
#define CERTMAP_EXPLAIN_FAILED "mod_certmap explain failed: "

/* The httpd options passed through; each takes one argument. */
static int certmap_is_httpd_option(const char *arg)
{
    static const char *const options[] = { "-f", "-d", "-C", "-c", "-D",
                                           NULL };
    int i;

    for (i = 0; options[i]; i++) {
        if (strcmp(arg, options[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *certmap_httpd_binary(void)
{
    const char *httpd = getenv("CERTMAP_HTTPD");

    if (httpd && *httpd) {
        return httpd;
    }
    return access(CERTMAP_DEBIAN_HTTPD, X_OK) == 0 ? CERTMAP_DEBIAN_HTTPD
                                                    : "httpd";
}

static const char *certmap_envvars_file(void)
{
    const char *envvars = getenv("CERTMAP_ENVVARS");

    if (envvars) {
        return *envvars ? envvars : NULL;
    }
    return access(CERTMAP_DEBIAN_ENVVARS, R_OK) == 0 ? CERTMAP_DEBIAN_ENVVARS
                                                      : NULL;
}

/* sh -c '. "$ENVVARS" && exec "$@"' sh HTTPD -t OPTIONS...: the options
 * travel as positional parameters, never through the shell's parser. */
static const char *const *certmap_httpd_argv(apr_pool_t *p, int argc,
                                             const char *const *argv)
{
    apr_array_header_t *args = apr_array_make(p, argc + 8, sizeof(char *));
    const char *envvars = certmap_envvars_file();
    int i;

    if (envvars) {
        APR_ARRAY_PUSH(args, const char *) = "/bin/sh";
        APR_ARRAY_PUSH(args, const char *) = "-c";
        APR_ARRAY_PUSH(args, const char *) = ". \"$CERTMAP_ENVVARS_FILE\" "
                                             "&& exec \"$@\"";
        APR_ARRAY_PUSH(args, const char *) = "sh";
        setenv("CERTMAP_ENVVARS_FILE", envvars, 1);
    }
    APR_ARRAY_PUSH(args, const char *) = certmap_httpd_binary();
    APR_ARRAY_PUSH(args, const char *) = "-t";
    for (i = 2; i < argc; i++) {
        APR_ARRAY_PUSH(args, const char *) = argv[i];
    }
    APR_ARRAY_PUSH(args, const char *) = NULL;
    return (const char *const *)args->elts;
}

/* Checks the options, so that `-k stop` or `-X` never reach httpd. */
static int certmap_explain_args_ok(int argc, const char *const *argv)
{
    int i;

    if (argc < 2 || argv[1][0] == '-') {
        return 0;
    }
    for (i = 2; i < argc; i += 2) {
        if (!certmap_is_httpd_option(argv[i]) || i + 1 >= argc) {
            return 0;
        }
    }
    return 1;
}

/* Copies the child's standard output to ours, noting what it said. */
static void certmap_relay_output(apr_file_t *out, int *explained,
                                 int *failed)
{
    char line[8192];

    while (apr_file_gets(line, sizeof(line), out) == APR_SUCCESS) {
        if (strncmp(line, CERTMAP_EXPLAIN_HEADER,
                    sizeof(CERTMAP_EXPLAIN_HEADER) - 1) == 0) {
            *explained = 1;
        }
        if (strncmp(line, CERTMAP_EXPLAIN_FAILED,
                    sizeof(CERTMAP_EXPLAIN_FAILED) - 1) == 0) {
            *failed = 1;
        }
        fputs(line, stdout);
    }
    fflush(stdout);
}

static int certmap_run_configtest(apr_pool_t *p,
                                  const char *const *httpd_argv)
{
    int explained = 0, failed = 0, code = 0;
    apr_exit_why_e why;
    apr_procattr_t *attr;
    apr_proc_t proc;
    apr_status_t rv;

    if ((rv = apr_procattr_create(&attr, p)) != APR_SUCCESS
        || (rv = apr_procattr_io_set(attr, APR_NO_PIPE, APR_FULL_BLOCK,
                                     APR_NO_PIPE)) != APR_SUCCESS
        || (rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM_PATH))
               != APR_SUCCESS
        || (rv = apr_proc_create(&proc, httpd_argv[0], httpd_argv, NULL,
                                 attr, p)) != APR_SUCCESS) {
        char msg[256];
        return certmap_tool_fail("cannot run %s: %s", httpd_argv[0],
                                 apr_strerror(rv, msg, sizeof(msg)));
    }
    certmap_relay_output(proc.out, &explained, &failed);
    apr_file_close(proc.out);
    apr_proc_wait(&proc, &code, &why, APR_WAIT);
    if (why != APR_PROC_EXIT || code != 0) {
        return certmap_tool_fail("httpd's configuration test failed "
                                 "(see its messages above)");
    }
    if (failed) {
        return CERTMAP_TOOL_ERROR;
    }
    if (!explained) {
        return certmap_tool_fail("this configuration does not load "
                                 "mod_certmap (LoadModule certmap_module "
                                 "...), or loads one without explain");
    }
    return CERTMAP_TOOL_OK;
}

int certmap_tool_explain(apr_pool_t *p, int argc, const char *const *argv)
{
    unsigned char *der;
    apr_size_t der_len;
    const char *err;
    char *path;
    apr_status_t rv;

    if (!certmap_explain_args_ok(argc, argv)) {
        return certmap_tool_usage();
    }
    /* httpd changes directory to ServerRoot: hand it an absolute path. */
    if ((rv = apr_filepath_merge(&path, NULL, argv[1], APR_FILEPATH_NATIVE,
                                 p)) != APR_SUCCESS) {
        return certmap_tool_fail("'%s': not a usable path", argv[1]);
    }
    /* A bad certificate is the tool's error, not the configuration's. */
    if ((err = certmap_der_from_file(p, path, &der, &der_len))) {
        return certmap_tool_fail("%s", err);
    }
    setenv("CERTMAP_EXPLAIN", path, 1);
    fflush(stdout);
    return certmap_run_configtest(p, certmap_httpd_argv(p, argc, argv));
}
