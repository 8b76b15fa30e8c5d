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
#include "util_filter.h"

#include <stdlib.h>       /* strtod */

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

/* ---- the error body ------------------------------------------------------ */

/* What a person can act on, per sub-status: the likely cause and what to
 * try.  Nothing from the certificate or the configuration. */
typedef struct {
    int status, substatus;
    const char *cause;
    const char *try_this;
} certmap_advice_t;

#define CERTMAP_SESSION_HINT "Browsers remember the certificate chosen " \
    "for a site until the browser is closed: to choose another one, close " \
    "every window of the browser and open the page again."

static const certmap_advice_t certmap_advice[] = {
    { 403, 4, "This page can only be opened over an encrypted (HTTPS) "
              "connection.",
              "Open the address with https:// instead of http://." },
    { 403, 5, "The connection's encryption is too weak for this page.",
              "Use an up-to-date browser." },
    { 403, 7, "This page needs a client certificate, and the browser sent "
              "none. A browser only offers certificates that are valid "
              "today and issued by a certificate authority this site "
              "accepts: an expired certificate, or one from another "
              "authority, is never offered.",
              "Make sure a valid certificate from your organisation is "
              "installed, then close every window of the browser and open "
              "the page again." },
    { 403, 12, "The certificate the browser sent is not allowed to open "
               "this page.",
               CERTMAP_SESSION_HINT },
    { 403, 13, "The certificate the browser sent has been revoked by its "
               "issuer.",
               "Ask your organisation for a new certificate. "
               CERTMAP_SESSION_HINT },
    { 403, 16, "The certificate the browser sent is not trusted by this "
               "site, or is not linked to an account here.",
               CERTMAP_SESSION_HINT },
    { 403, 17, "The certificate the browser sent has expired or is not "
               "valid yet.",
               "Check the date and time of your computer, or ask your "
               "organisation to renew the certificate. "
               CERTMAP_SESSION_HINT },
    { 401, 1, "The certificate was recognised, but the account it stands "
              "for could not log on.",
              "Ask the site's administrator to check the account." },
    { 500, 0, "The server could not complete the check of the client "
              "certificate.",
              "Try again later; if it persists, tell the site's "
              "administrator." }
};

static const certmap_advice_t *certmap_advice_for(
    const certmap_outcome_info_t *info)
{
    apr_size_t i;

    for (i = 0; i < sizeof(certmap_advice) / sizeof(certmap_advice[0]);
         i++) {
        if (certmap_advice[i].status == info->status
            && certmap_advice[i].substatus == info->substatus) {
            return &certmap_advice[i];
        }
    }
    return &certmap_advice[sizeof(certmap_advice)
                           / sizeof(certmap_advice[0]) - 1];
}

typedef enum {
    CERTMAP_BODY_TEXT,
    CERTMAP_BODY_HTML,
    CERTMAP_BODY_JSON
} certmap_body_e;

/* The q-value of media range `type` in an Accept header, -1 when it is not
 * listed by that exact name. */
static double certmap_accept_q(apr_pool_t *p, const char *accept,
                               const char *type)
{
    char *list = apr_pstrdup(p, accept), *item, *state, *param, *end;
    double q;

    for (item = apr_strtok(list, ",", &state); item;
         item = apr_strtok(NULL, ",", &state)) {
        while (*item == ' ' || *item == '\t') {
            item++;
        }
        param = strchr(item, ';');
        end = param ? param : item + strlen(item);
        while (end > item && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if ((apr_size_t)(end - item) != strlen(type)
            || strncasecmp(item, type, end - item) != 0) {
            continue;
        }
        q = 1.0;
        while (param) {
            param++;
            while (*param == ' ' || *param == '\t') {
                param++;
            }
            if ((param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
                q = strtod(param + 2, NULL);
                if (!(q >= 0.0 && q <= 1.0)) {
                    q = 0.0;
                }
            }
            param = strchr(param, ';');
        }
        return q;
    }
    return -1.0;
}

/* JSON for a client that prefers it to HTML; HTML for one that names it
 * (every browser does); plain text for everything else (curl's default,
 * no Accept at all). */
static certmap_body_e certmap_body_kind(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    double json, html, xhtml;

    if (!accept) {
        return CERTMAP_BODY_TEXT;
    }
    json = certmap_accept_q(r->pool, accept, "application/json");
    html = certmap_accept_q(r->pool, accept, "text/html");
    xhtml = certmap_accept_q(r->pool, accept, "application/xhtml+xml");
    html = html > xhtml ? html : xhtml;
    if (json > 0.0 && json >= html) {
        return CERTMAP_BODY_JSON;
    }
    if (html > 0.0) {
        return CERTMAP_BODY_HTML;
    }
    return CERTMAP_BODY_TEXT;
}

/* "403.16" or "500" */
static const char *certmap_code(apr_pool_t *p,
                                const certmap_outcome_info_t *info)
{
    return info->substatus ? apr_psprintf(p, "%d.%d", info->status,
                                          info->substatus)
                           : apr_itoa(p, info->status);
}

static const char *certmap_body(request_rec *r,
                                const certmap_outcome_info_t *info,
                                certmap_body_e kind, const char **type)
{
    const certmap_advice_t *advice = certmap_advice_for(info);
    const char *code = certmap_code(r->pool, info);

    switch (kind) {
    case CERTMAP_BODY_JSON:
        *type = "application/json";
        return apr_psprintf(r->pool, "{\"status\":%d,\"substatus\":%d,"
                            "\"text\":\"%s\"}\n", info->status,
                            info->substatus, info->text);
    case CERTMAP_BODY_HTML:
        *type = "text/html; charset=utf-8";
        return apr_psprintf(r->pool,
            "<!DOCTYPE html>\n"
            "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, "
            "initial-scale=1\">\n"
            "<title>%s - %s</title>\n"
            "<style>\n"
            "body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,"
            "sans-serif;margin:0;background:#f3f4f6;color:#1f2937}\n"
            "main{max-width:40em;margin:4em auto;background:#fff;"
            "border-top:6px solid #b91c1c;padding:1.5em 2em;"
            "box-shadow:0 1px 4px rgba(0,0,0,.15)}\n"
            "h1{font-size:1.4em;margin:.2em 0 .8em}\n"
            ".code{color:#b91c1c;font-weight:bold}\n"
            "h2{font-size:1em;margin:1.4em 0 .3em}\n"
            "p{line-height:1.5;margin:.3em 0}\n"
            "</style>\n</head>\n<body>\n<main>\n"
            "<h1><span class=\"code\">%s</span> %s</h1>\n"
            "<h2>Most likely cause</h2>\n<p id=\"cause\">%s</p>\n"
            "<h2>What you can try</h2>\n<p id=\"try\">%s</p>\n"
            "</main>\n</body>\n</html>\n",
            code, info->text, code, info->text, advice->cause,
            advice->try_this);
    default:
        *type = "text/plain; charset=utf-8";
        return apr_psprintf(r->pool, "%s %s\n\n%s\n%s\n", code, info->text,
                            advice->cause, advice->try_this);
    }
}

/* The IIS body of the outcome, in the form the client asked for, unless
 * the admin configured an ErrorDocument for the status: theirs wins, and
 * it can read CERTMAP_SUBSTATUS.  httpd serves a custom response as
 * text/html: the CERTMAP_BODY filter (inserted for error responses) puts
 * the type in the notes back, if the body is still ours. */
static void certmap_set_body(request_rec *r,
                             const certmap_outcome_info_t *info)
{
    int index = ap_index_of_response(info->status);
    const char *body, *type;

    if (ap_response_code_string(r, index)) {
        return;
    }
    body = certmap_body(r, info, certmap_body_kind(r), &type);
    ap_custom_response(r, info->status, body);
    apr_table_setn(r->notes, "certmap-body", body);
    apr_table_setn(r->notes, "certmap-body-type", type);
    apr_table_mergen(r->err_headers_out, "Vary", "Accept");
}

static apr_status_t certmap_body_filter(ap_filter_t *f,
                                        apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const char *body = apr_table_get(r->notes, "certmap-body");
    const char *type = apr_table_get(r->notes, "certmap-body-type");
    const char *custom = ap_response_code_string(
        r, ap_index_of_response(r->status));

    if (body && type && custom && custom[0] == '"'
        && strcmp(custom + 1, body) == 0) {
        ap_set_content_type(r, type);
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

static void certmap_insert_error_filter(request_rec *r)
{
    if (apr_table_get(r->notes, "certmap-body")) {
        ap_add_output_filter("CERTMAP_BODY", NULL, r, r->connection);
    }
}

void certmap_outcome_register_hooks(apr_pool_t *p)
{
    ap_register_output_filter("CERTMAP_BODY", certmap_body_filter, NULL,
                              AP_FTYPE_CONTENT_SET);
    ap_hook_insert_error_filter(certmap_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
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
    ap_log_rerror(APLOG_MARK, level, 0, r, "CERTMAP001: %s: %s%s", verdict,
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
    if (!r->main) {     /* a subrequest is part of its main request */
        certmap_status_outcome(info->status, info->substatus);
    }
    if (info->status != OK) {
        /* the outcome table is static: its address is the record */
        ap_set_module_config(r->request_config, &certmap_module,
                             (void *)info);
        certmap_set_body(r, info);
        /* A challenge only where another AuthType could answer it, as
         * httpd's own modules do; never for AuthType Certificate. */
        if (info->status == HTTP_UNAUTHORIZED && ap_auth_type(r)
            && strcasecmp(ap_auth_type(r), "Certificate") != 0) {
            ap_note_auth_failure(r);
        }
    }
    return info->status;
}

int certmap_refusal_status(request_rec *r)
{
    const certmap_outcome_info_t *info =
        ap_get_module_config(r->request_config, &certmap_module);

    return info ? info->status : 0;
}
