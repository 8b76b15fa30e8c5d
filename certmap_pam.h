/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_pam.h — logging on to the mapped account through PAM.
 *
 * Knows PAM only (no httpd, no APR), so that the same code can be tested
 * against a real pam_unix stack and, hermetically, under pam_wrapper.
 */

#ifndef CERTMAP_PAM_H
#define CERTMAP_PAM_H

#include <stddef.h>

typedef enum {
    CERTMAP_PAM_OK = 0,       /* authenticated (if a password was given)
                                 and account management passed */
    CERTMAP_PAM_REFUSED,      /* wrong password, unknown, expired or locked
                                 account: the client's problem (401.1) */
    CERTMAP_PAM_ERROR         /* PAM itself failed (500): never a grant */
} certmap_pam_result_e;

/* Logs `user` on through the PAM service `service`.  With a password, runs
 * pam_authenticate and then pam_acct_mgmt; without one (NULL), account
 * management only.  `rhost` (may be NULL) becomes PAM_RHOST.  On anything
 * but CERTMAP_PAM_OK, `message` (of `message_len` bytes) receives
 * pam_strerror's text and *pam_status the PAM code, for the error log.
 * Thread-safe: one PAM handle per call, ended on every path. */
certmap_pam_result_e certmap_pam_logon(const char *service, const char *user,
                                       const char *password,
                                       const char *rhost, int *pam_status,
                                       char *message, size_t message_len);

#endif /* CERTMAP_PAM_H */
