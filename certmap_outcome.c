/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_outcome.c — how a request ends: the IIS status and sub-status
 * of every outcome, and what each one leaves behind for logs and
 * ErrorDocument (note, environment, error-log line, error body).
 */

#include "apr_strings.h"

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_core.h"      /* ap_response_code_string */

#include "certmap_private.h"

typedef struct {
    int status;             /* HTTP status, OK for a grant */
    int substatus;          /* IIS sub-status, 0 where IIS has none */
    const char *text;       /* IIS's text for the sub-status */
} certmap_outcome_info_t;

/* Indexed by certmap_outcome_e. */
static const certmap_outcome_info_t certmap_outcomes[] = {
    { OK,                         0, "Mapped and logged on" },
    { HTTP_FORBIDDEN,             4, "SSL required" },
    { HTTP_FORBIDDEN,             5, "SSL 128 required" },
    { HTTP_FORBIDDEN,             7, "Client certificate required" },
    { HTTP_FORBIDDEN,            16, "Client certificate is untrusted or "
                                     "invalid" },
    { HTTP_FORBIDDEN,            13, "Client certificate revoked" },
    { HTTP_FORBIDDEN,            17, "Client certificate has expired or is "
                                     "not yet valid" },
    { HTTP_FORBIDDEN,            16, "Client certificate is untrusted or "
                                     "invalid" },
    { HTTP_FORBIDDEN,            12, "Mapper denied access" },
    { HTTP_UNAUTHORIZED,          1, "Logon failed" },
    { HTTP_INTERNAL_SERVER_ERROR, 0, "Internal server error" }
};

static const certmap_outcome_info_t *certmap_info(certmap_outcome_e outcome)
{
    if ((unsigned)outcome >= sizeof(certmap_outcomes)
                             / sizeof(certmap_outcomes[0])) {
        outcome = CERTMAP_INTERNAL_ERROR;   /* fail closed */
    }
    return &certmap_outcomes[outcome];
}

int certmap_outcome_status(certmap_outcome_e outcome)
{
    return certmap_info(outcome)->status;
}

int certmap_outcome_substatus(certmap_outcome_e outcome)
{
    return certmap_info(outcome)->substatus;
}

const char *certmap_outcome_text(certmap_outcome_e outcome)
{
    return certmap_info(outcome)->text;
}

/* The IIS-style body ("403.16 Client certificate is untrusted or
 * invalid"), unless the admin configured an ErrorDocument for the
 * status: theirs wins, and it can read CERTMAP_SUBSTATUS. */
static void certmap_set_body(request_rec *r,
                             const certmap_outcome_info_t *info)
{
    int index = ap_index_of_response(info->status);

    if (ap_response_code_string(r, index)) {
        return;
    }
    ap_custom_response(r, info->status,
                       info->substatus
                       ? apr_psprintf(r->pool, "%d.%d %s\n", info->status,
                                      info->substatus, info->text)
                       : apr_psprintf(r->pool, "%d %s\n", info->status,
                                      info->text));
}

/* One line per outcome: the verdict, the reason, and the certificate (or
 * nothing more when none was presented: the reason says so). */
static void certmap_log(request_rec *r, certmap_outcome_e outcome,
                        const certmap_outcome_info_t *info,
                        const certmap_cert_t *cert,
                        const char *user, const char *reason)
{
    const char *verdict, *who;
    int level = (outcome == CERTMAP_INTERNAL_ERROR) ? APLOG_ERR
                                                    : APLOG_INFO;

    /* Describing the certificate costs more than mapping it: only when
     * the line will be written. */
    if (!APLOG_R_IS_LEVEL(r, level)) {
        return;
    }
    if (outcome == CERTMAP_GRANTED) {
        verdict = apr_psprintf(r->pool, "mapped to '%s'", user);
    }
    else if (info->substatus) {
        verdict = apr_psprintf(r->pool, "%d.%d %s", info->status,
                               info->substatus, info->text);
    }
    else {
        verdict = apr_psprintf(r->pool, "%d %s", info->status, info->text);
    }
    who = cert ? apr_pstrcat(r->pool, "; ",
                             certmap_cert_describe(r->pool, cert), NULL)
               : "";
    ap_log_rerror(APLOG_MARK, level, 0, r, "certmap: %s: %s%s", verdict,
                  reason ? reason : "", who);
}

int certmap_finish(request_rec *r, certmap_outcome_e outcome,
                   const certmap_cert_t *cert,
                   const certmap_mapping_t *mapping, const char *user,
                   const char *reason)
{
    const certmap_outcome_info_t *info = certmap_info(outcome);
    const char *digits = apr_itoa(r->pool, info->substatus);

    apr_table_setn(r->notes, "certmap-substatus", digits);
    apr_table_setn(r->subprocess_env, "CERTMAP_SUBSTATUS", digits);
    if (outcome == CERTMAP_GRANTED) {
        apr_table_setn(r->subprocess_env, "CERTMAP_USER", user);
        apr_table_setn(r->subprocess_env, "CERTMAP_MAPPING",
                       mapping ? mapping->name : "one-to-one");
    }
    certmap_log(r, outcome, info, cert, user, reason);
    if (info->status != OK) {
        /* the outcome table is static: its address is the record */
        ap_set_module_config(r->request_config, &certmap_module,
                             (void *)info);
        certmap_set_body(r, info);
    }
    return info->status;
}

int certmap_refusal_status(request_rec *r)
{
    const certmap_outcome_info_t *info =
        ap_get_module_config(r->request_config, &certmap_module);

    return info ? info->status : 0;
}
