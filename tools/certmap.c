/* Licensed under the Apache License, Version 2.0.
 *
 * certmap.c — the `certmap` command-line tool of mod_certmap: argument
 * dispatch, the usage text, and `certmap blob`.
 *
 *   certmap blob CERTFILE                  the IIS one-line base64 blob
 *   certmap explain CERTFILE [httpd opts]  what every CertMap scope does
 *                                          with that certificate
 *   certmap import-iis [--plain-passwords] [--site NAME] [--prefix PATH] FILE
 *                                          IIS configuration -> directives
 *
 * `blob` uses the module's own engine (certmap_rules.c), so a blob it
 * prints is exactly what CertMapOneToOne accepts.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <apr_general.h>

#include "certmap_rules.h"
#include "certmap_tool.h"

int certmap_tool_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("certmap: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CERTMAP_TOOL_ERROR;
}

int certmap_tool_usage(void)
{
    fputs("usage: certmap blob CERTFILE\n"
          "       certmap explain CERTFILE [-f FILE] [-d DIR] [-C DIRECTIVE]"
          " [-c DIRECTIVE] [-D NAME]\n"
          "       certmap import-iis [--plain-passwords] [--site NAME] [--prefix PATH] FILE\n"
          "\n"
          "  blob        print the IIS one-line base64 of a PEM or DER "
          "certificate\n"
          "  explain     run httpd's configuration parser (apache2 -t) and "
          "print, for\n"
          "              every scope with CertMap On, the outcome for the "
          "certificate\n"
          "  import-iis  print the CertMap directives equivalent to an IIS\n"
          "              applicationHost.config or web.config\n",
          stderr);
    return CERTMAP_TOOL_USAGE;
}

/* certmap blob CERTFILE */
int certmap_tool_blob(apr_pool_t *p, int argc, const char *const *argv)
{
    unsigned char *der;
    apr_size_t der_len;
    const char *err, *blob;

    if (argc != 2) {
        return certmap_tool_usage();
    }
    if ((err = certmap_der_from_file(p, argv[1], &der, &der_len))) {
        return certmap_tool_fail("%s", err);
    }
    if (!(blob = certmap_der_to_blob(p, der, der_len))) {
        return certmap_tool_fail("'%s': certificate too large", argv[1]);
    }
    printf("%s\n", blob);
    return CERTMAP_TOOL_OK;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *pool;
    int rc;

    if (argc < 2) {
        return certmap_tool_usage();
    }
    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS
        || apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        return certmap_tool_fail("cannot initialize APR");
    }
    if (strcmp(argv[1], "blob") == 0) {
        rc = certmap_tool_blob(pool, argc - 1, argv + 1);
    }
    else if (strcmp(argv[1], "explain") == 0) {
        rc = certmap_tool_explain(pool, argc - 1, argv + 1);
    }
    else if (strcmp(argv[1], "import-iis") == 0) {
        rc = certmap_tool_import_iis(pool, argc - 1, argv + 1);
    }
    else {
        rc = certmap_tool_usage();
    }
    fflush(stdout);
    if (ferror(stdout)) {
        rc = certmap_tool_fail("error writing to standard output");
    }
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
