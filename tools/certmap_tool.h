/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_tool.h — what the files of the `certmap` command-line tool
 * share: one entry point per sub-command and the error convention.
 *
 * Exit codes: 0 success, 1 an error (a clear message on stderr), 2 bad
 * arguments (the usage text on stderr).
 */

#ifndef CERTMAP_TOOL_H
#define CERTMAP_TOOL_H

#include <apr_pools.h>

#define CERTMAP_TOOL_OK     0
#define CERTMAP_TOOL_ERROR  1
#define CERTMAP_TOOL_USAGE  2

/* Prints "certmap: MESSAGE" on stderr and returns CERTMAP_TOOL_ERROR. */
int certmap_tool_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Prints the usage text on stderr and returns CERTMAP_TOOL_USAGE. */
int certmap_tool_usage(void);

/* Sub-commands; argv[0] is the sub-command's name. */
int certmap_tool_blob(apr_pool_t *p, int argc, const char *const *argv);
int certmap_tool_explain(apr_pool_t *p, int argc, const char *const *argv);
int certmap_tool_import_iis(apr_pool_t *p, int argc,
                            const char *const *argv);

#endif /* CERTMAP_TOOL_H */
