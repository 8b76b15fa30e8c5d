/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_pam.c — logging on to the mapped account through PAM.
 *
 * Owns one PAM transaction per logon: pam_start, PAM_RHOST, a conversation
 * that can only hand over the configured password, pam_authenticate (only
 * with a password), pam_acct_mgmt, pam_end on every path, and the sorting
 * of PAM's answers into "the client's problem" (REFUSED) and "PAM itself
 * failed" (ERROR).  Knows PAM and libc only: no httpd, no APR, so it is
 * tested alone under pam_wrapper and against the real pam_unix.
 *
 * Thread-safe: no static mutable state; everything lives in the call.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

#include "certmap_pam.h"

/* What the conversation function may answer.  PAM passes it back to us as
 * appdata_ptr; it lives on the caller's stack for one transaction. */
typedef struct {
    const char *password;       /* NULL: no password configured */
} certmap_conv_data_t;

/* Frees a partly built reply after a conversation failure: PAM frees the
 * reply only when the conversation succeeds.  Password copies are wiped
 * before they are released. */
static void conv_free_reply(struct pam_response *reply, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (reply[i].resp) {
            explicit_bzero(reply[i].resp, strlen(reply[i].resp));
            free(reply[i].resp);
        }
    }
    free(reply);
}

/* The conversation.  It answers a hidden prompt (PAM_PROMPT_ECHO_OFF) with
 * the password, and nothing else:
 *  - PAM_PROMPT_ECHO_ON is refused (PAM_CONV_ERR): it normally asks for a
 *    user name, which pam_start already set, and answering it with the
 *    password would hand the secret to a prompt meant to be echoed;
 *  - PAM_TEXT_INFO and PAM_ERROR_MSG get an empty reply (there is no one
 *    to show them to; PAM_SILENT asks modules not to send them anyway);
 *  - a hidden prompt without a configured password, or any other style
 *    (binary prompts), is refused: fail closed.
 *
 * The reply array and every resp string are malloc'd because PAM frees
 * them (free(3)) after a successful conversation.  The password copy is
 * then PAM's to wipe: Linux-PAM's pam_get_authtok and pam_unix overwrite
 * the response before freeing it, and pam_end overwrites PAM_AUTHTOK.  On
 * our own failure paths we wipe and free it here. */
static int conv_answer(int num_msg, const struct pam_message **msg,
                       struct pam_response **resp, void *appdata_ptr)
{
    const certmap_conv_data_t *data = appdata_ptr;
    struct pam_response *reply;
    int i;

    if (resp == NULL) {
        return PAM_CONV_ERR;
    }
    *resp = NULL;
    if (num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG || msg == NULL
        || data == NULL) {
        return PAM_CONV_ERR;
    }
    reply = calloc((size_t)num_msg, sizeof(*reply));
    if (reply == NULL) {
        return PAM_BUF_ERR;
    }
    for (i = 0; i < num_msg; i++) {
        /* Linux-PAM passes an array of pointers to messages. */
        switch (msg[i]->msg_style) {
        case PAM_PROMPT_ECHO_OFF:
            if (data->password == NULL) {
                conv_free_reply(reply, i);
                return PAM_CONV_ERR;
            }
            reply[i].resp = strdup(data->password);
            if (reply[i].resp == NULL) {
                conv_free_reply(reply, i);
                return PAM_BUF_ERR;
            }
            break;
        case PAM_TEXT_INFO:
        case PAM_ERROR_MSG:
            break;      /* resp stays NULL: an empty reply */
        default:
            conv_free_reply(reply, i);
            return PAM_CONV_ERR;
        }
        reply[i].resp_retcode = 0;
    }
    *resp = reply;
    return PAM_SUCCESS;
}

/* PAM codes that describe the account or the credentials: the client
 * (or the mapping) is at fault, not the PAM stack. */
static int is_refusal(int status)
{
    switch (status) {
    case PAM_AUTH_ERR:
    case PAM_USER_UNKNOWN:
    case PAM_ACCT_EXPIRED:
    case PAM_PERM_DENIED:
    case PAM_NEW_AUTHTOK_REQD:
    case PAM_MAXTRIES:
    case PAM_AUTHINFO_UNAVAIL:  /* pam_unix's answer for an unknown user */
    case PAM_CRED_INSUFFICIENT:
        return 1;
    default:
        return 0;
    }
}

static void set_message(char *message, size_t message_len, const char *text)
{
    if (message != NULL && message_len > 0) {
        snprintf(message, message_len, "%s", text ? text : "unknown PAM error");
    }
}

/* Runs authentication (with a password) and account management on an
 * open handle; returns the first PAM code that is not PAM_SUCCESS. */
static int run_stack(pam_handle_t *pamh, const char *password,
                     const char *rhost)
{
    int status;

    if (rhost != NULL) {
        status = pam_set_item(pamh, PAM_RHOST, rhost);
        if (status != PAM_SUCCESS) {
            return status;
        }
    }
    if (password != NULL) {
        /* DISALLOW_NULL_AUTHTOK: an account with an empty password hash
         * must not be taken over through a module's "nullok". */
        status = pam_authenticate(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
        if (status != PAM_SUCCESS) {
            return status;
        }
    }
    return pam_acct_mgmt(pamh, PAM_SILENT);
}

certmap_pam_result_e certmap_pam_logon(const char *service, const char *user,
                                       const char *password,
                                       const char *rhost, int *pam_status,
                                       char *message, size_t message_len)
{
    certmap_conv_data_t data;
    struct pam_conv conv;
    pam_handle_t *pamh = NULL;
    int status;
    int end_status;

    if (message != NULL && message_len > 0) {
        message[0] = '\0';
    }
    if (pam_status != NULL) {
        *pam_status = PAM_SYSTEM_ERR;
    }
    if (service == NULL || *service == '\0' || user == NULL || *user == '\0') {
        set_message(message, message_len, "no PAM service or user given");
        return CERTMAP_PAM_ERROR;
    }

    data.password = password;
    conv.conv = conv_answer;
    conv.appdata_ptr = &data;

    status = pam_start(service, user, &conv, &pamh);
    if (status != PAM_SUCCESS) {
        /* pamh is not usable here; Linux-PAM's pam_strerror ignores it. */
        if (pam_status != NULL) {
            *pam_status = status;
        }
        set_message(message, message_len, pam_strerror(NULL, status));
        if (pamh != NULL) {
            pam_end(pamh, status);
        }
        return CERTMAP_PAM_ERROR;
    }

    status = run_stack(pamh, password, rhost);
    if (status != PAM_SUCCESS) {
        /* Copy the text before pam_end releases the handle. */
        set_message(message, message_len, pam_strerror(pamh, status));
    }
    end_status = pam_end(pamh, status);
    if (status == PAM_SUCCESS && end_status != PAM_SUCCESS) {
        /* A stack that cannot even end cleanly does not grant. */
        status = end_status;
        set_message(message, message_len, pam_strerror(NULL, status));
    }

    if (pam_status != NULL) {
        *pam_status = status;
    }
    if (status == PAM_SUCCESS) {
        return CERTMAP_PAM_OK;
    }
    return is_refusal(status) ? CERTMAP_PAM_REFUSED : CERTMAP_PAM_ERROR;
}
