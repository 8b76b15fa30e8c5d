/* Licensed under the Apache License, Version 2.0.
 *
 * pam_certmap_test.c — a PAM module for the hermetic tests only.
 *
 * Lets tests/unit/test_pam_wrapper drive the parts of certmap_pam.c that
 * pam_matrix cannot reach: a conversation carrying several messages at
 * once, prompts that must not be answered, and every PAM return code.
 * Options:
 *   mode=batch password=PW   TEXT_INFO, ERROR_MSG and a hidden prompt in
 *                            one conversation; success iff the prompt got
 *                            PW and the two messages got empty replies
 *   mode=echo_on             a visible prompt: success iff it was answered
 *   mode=binary              a binary prompt: success iff it was answered
 *   mode=status code=N       returns N
 * A conversation failure is returned as is (PAM_CONV_ERR).
 */

#include <stdlib.h>
#include <string.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#include <security/pam_modules.h>
#include <security/pam_appl.h>

static const char *option(int argc, const char **argv, const char *name)
{
    size_t len = strlen(name);
    int i;

    for (i = 0; i < argc; i++) {
        if (strncmp(argv[i], name, len) == 0 && argv[i][len] == '=') {
            return argv[i] + len + 1;
        }
    }
    return NULL;
}

static void free_reply(struct pam_response *resp, int n)
{
    int i;

    if (resp == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        free(resp[i].resp);
    }
    free(resp);
}

static int converse(pam_handle_t *pamh, const struct pam_message *msgs,
                    int n, struct pam_response **resp)
{
    const struct pam_message *ptrs[3];
    const struct pam_conv *conv;
    int i, rv;

    *resp = NULL;
    rv = pam_get_item(pamh, PAM_CONV, (const void **)&conv);
    if (rv != PAM_SUCCESS || conv == NULL || conv->conv == NULL || n > 3) {
        return PAM_CONV_ERR;
    }
    for (i = 0; i < n; i++) {
        ptrs[i] = &msgs[i];
    }
    return conv->conv(n, ptrs, resp, conv->appdata_ptr);
}

static int batch(pam_handle_t *pamh, const char *password)
{
    struct pam_message msgs[3] = {
        { PAM_TEXT_INFO, "Welcome" },
        { PAM_ERROR_MSG, "Password expires soon" },
        { PAM_PROMPT_ECHO_OFF, "Password: " },
    };
    struct pam_response *resp;
    int rv = converse(pamh, msgs, 3, &resp);

    if (rv != PAM_SUCCESS) {
        return rv;
    }
    rv = PAM_AUTH_ERR;
    if (resp != NULL && password != NULL
        && (resp[0].resp == NULL || resp[0].resp[0] == '\0')
        && (resp[1].resp == NULL || resp[1].resp[0] == '\0')
        && resp[2].resp != NULL && strcmp(resp[2].resp, password) == 0) {
        rv = PAM_SUCCESS;
    }
    free_reply(resp, 3);
    return rv;
}

static int single_prompt(pam_handle_t *pamh, int style)
{
    struct pam_message msg = { style, "Say something: " };
    struct pam_response *resp;
    int rv = converse(pamh, &msg, 1, &resp);

    if (rv != PAM_SUCCESS) {
        return rv;
    }
    rv = (resp != NULL && resp[0].resp != NULL) ? PAM_SUCCESS : PAM_AUTH_ERR;
    free_reply(resp, 1);
    return rv;
}

static int run(pam_handle_t *pamh, int argc, const char **argv)
{
    const char *mode = option(argc, argv, "mode");
    const char *code = option(argc, argv, "code");

    if (mode == NULL) {
        return PAM_SERVICE_ERR;
    }
    if (strcmp(mode, "batch") == 0) {
        return batch(pamh, option(argc, argv, "password"));
    }
    if (strcmp(mode, "echo_on") == 0) {
        return single_prompt(pamh, PAM_PROMPT_ECHO_ON);
    }
    if (strcmp(mode, "binary") == 0) {
        return single_prompt(pamh, PAM_BINARY_PROMPT);
    }
    if (strcmp(mode, "status") == 0 && code != NULL) {
        return atoi(code);
    }
    return PAM_SERVICE_ERR;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
                                   const char **argv)
{
    (void)flags;
    return run(pamh, argc, argv);
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc,
                              const char **argv)
{
    (void)pamh; (void)flags; (void)argc; (void)argv;
    return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc,
                                const char **argv)
{
    (void)flags;
    return run(pamh, argc, argv);
}
