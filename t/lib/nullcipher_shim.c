/* Test-only LD_PRELOAD shim for the mod_certmap suite (never shipped).
 *
 * mod_ssl appends ":!aNULL:!eNULL:!EXP" to every cipher list it is given, and
 * OpenSSL 3 as Debian builds it has no other cipher under 128 bits, so the
 * contract's 403.5 row ("cipher strength under 128 bits, Ssl128") cannot be
 * reached with a stock httpd.  For a cipher list that starts with
 * "NULL-SHA256" (only the test vhost certmap_null uses one) this removes the
 * appended exclusions before OpenSSL sees the list.  Every other list passes
 * through untouched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef struct ssl_ctx_st SSL_CTX;

int SSL_CTX_set_cipher_list(SSL_CTX *ctx, const char *str);

int SSL_CTX_set_cipher_list(SSL_CTX *ctx, const char *str)
{
    static int (*real)(SSL_CTX *, const char *);
    static const char tail[] = ":!aNULL:!eNULL:!EXP";
    char buf[256];
    size_t n;

    if (!real)
        real = (int (*)(SSL_CTX *, const char *))dlsym(RTLD_NEXT,
                                                      "SSL_CTX_set_cipher_list");
    if (!real)
        abort();
    if (str && strncmp(str, "NULL-SHA256", 11) == 0
        && (n = strlen(str)) < sizeof(buf) && n >= sizeof(tail) - 1
        && strcmp(str + n - (sizeof(tail) - 1), tail) == 0) {
        memcpy(buf, str, n - (sizeof(tail) - 1));
        buf[n - (sizeof(tail) - 1)] = '\0';
        return real(ctx, buf);
    }
    return real(ctx, str);
}
