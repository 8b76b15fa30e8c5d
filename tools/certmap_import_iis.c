/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_import_iis.c — `certmap import-iis [--plain-passwords] FILE`:
 * reads an IIS applicationHost.config or web.config (apr-util's XML
 * parser) and prints the equivalent CertMap directives.
 *
 *   system.webServer/security/authentication/
 *       iisClientCertificateMappingAuthentication   CertMap* directives
 *   system.webServer/security/access/@sslFlags      CertMapSSLFlags
 *   <location path="Site/app">                      <Location "/app">
 *
 * Every value is checked with the module's own engine (certificate blobs,
 * rules), so what this prints passes `apachectl configtest`, or says on
 * stdout (a "# WARNING:" comment) and stderr why not.  It fails safe: a
 * many-to-one mapping with a rule that cannot be converted is emitted
 * disabled, never with the rule dropped (that would widen the mapping).
 *
 * Passwords never appear in the output unless --plain-passwords is given:
 * each becomes an `env:CERTMAP_PW_<USER>` placeholder for the admin to
 * fill in httpd's environment.  IIS-encrypted ones ("[enc:...:enc]")
 * always do: only the IIS machine's keys can decrypt them.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_xml.h>

#include "certmap_rules.h"
#include "certmap_tool.h"

#define CERTMAP_IMPORT_ENV_PREFIX "CERTMAP_PW_"

typedef struct {
    apr_pool_t *p;
    int plain_passwords;        /* --plain-passwords */
    int app_host;               /* applicationHost.config: paths name a site */
    apr_hash_t *env_by_secret;  /* "user\0password" -> env variable name */
    apr_hash_t *env_taken;      /* env variable name -> 1 */
    apr_array_header_t *env_notes; /* "NAME (password of USER)" */
    int warnings;
} certmap_import_t;

/* ---- output helpers ------------------------------------------------------ */

/* A warning goes to both places: next to the directive it concerns, and on
 * stderr for whoever runs the import. */
static void certmap_import_warn(certmap_import_t *imp, const char *indent,
                                const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void certmap_import_warn(certmap_import_t *imp, const char *indent,
                                const char *fmt, ...)
{
    va_list ap;
    const char *msg;
    char *c;

    va_start(ap, fmt);
    msg = apr_pvsprintf(imp->p, fmt, ap);
    va_end(ap);
    /* A line break from an IIS value would end the comment and turn the
     * rest into a directive. */
    for (c = (char *)msg; *c; c++) {
        if (*c == '\r' || *c == '\n') {
            *c = ' ';
        }
    }
    printf("%s# WARNING: %s\n", indent, msg);
    fprintf(stderr, "certmap import-iis: warning: %s\n", msg);
    imp->warnings++;
}

/* A value as one httpd configuration word: in double quotes, with `"` and
 * `\` escaped (ap_getword_conf undoes exactly these).  Line breaks cannot
 * be written in a directive and become spaces. */
static const char *certmap_import_quote(certmap_import_t *imp,
                                        const char *indent, const char *value)
{
    apr_size_t len = strlen(value), i;
    char *out = apr_palloc(imp->p, 2 * len + 3), *o = out;
    int broken = 0;

    *o++ = '"';
    for (i = 0; i < len; i++) {
        if (value[i] == '"' || value[i] == '\\') {
            *o++ = '\\';
        }
        if (value[i] == '\r' || value[i] == '\n') {
            broken = 1;
            *o++ = ' ';
            continue;
        }
        *o++ = value[i];
    }
    *o++ = '"';
    *o = '\0';
    if (broken) {
        certmap_import_warn(imp, indent, "a line break in %s became a space",
                            out);
    }
    /* httpd expands ${NAME} in every directive, quoted or not, and has no
     * escape for it. */
    if (strstr(value, "${")) {
        certmap_import_warn(imp, indent, "%s contains '${', which httpd "
                            "expands as a variable: check it", out);
    }
    return out;
}

/* ---- XML helpers --------------------------------------------------------- */

static const char *certmap_import_attr(const apr_xml_elem *e,
                                       const char *name)
{
    const apr_xml_attr *a;

    for (a = e->attr; a; a = a->next) {
        if (strcmp(a->name, name) == 0) {
            return a->value;
        }
    }
    return NULL;
}

static const apr_xml_elem *certmap_import_child(const apr_xml_elem *e,
                                                const char *name)
{
    const apr_xml_elem *c;

    for (c = e ? e->first_child : NULL; c; c = c->next) {
        if (strcmp(c->name, name) == 0) {
            return c;
        }
    }
    return NULL;
}

/* Warns about every attribute of e not in `known` (NULL-terminated). */
static void certmap_import_check_attrs(certmap_import_t *imp,
                                       const char *indent,
                                       const apr_xml_elem *e,
                                       const char *const *known)
{
    const apr_xml_attr *a;
    int i;

    for (a = e->attr; a; a = a->next) {
        for (i = 0; known[i] && strcmp(known[i], a->name) != 0; i++) {
        }
        if (!known[i]) {
            certmap_import_warn(imp, indent, "<%s %s=\"...\">: attribute "
                                "not supported, not imported", e->name,
                                a->name);
        }
    }
}

/* IIS booleans: "true"/"false".  Returns -1 (and warns) for anything else
 * and for an absent attribute returns `dflt`. */
static int certmap_import_bool(certmap_import_t *imp, const char *indent,
                               const apr_xml_elem *e, const char *name,
                               int dflt)
{
    const char *v = certmap_import_attr(e, name);

    if (!v) {
        return dflt;
    }
    if (strcasecmp(v, "true") == 0) {
        return 1;
    }
    if (strcasecmp(v, "false") == 0) {
        return 0;
    }
    certmap_import_warn(imp, indent, "<%s %s=\"%s\">: not true or false, "
                        "not imported", e->name, name, v);
    return -1;
}

static void certmap_import_onoff(certmap_import_t *imp, const char *indent,
                                 const apr_xml_elem *e, const char *attr,
                                 const char *directive)
{
    int v = certmap_import_bool(imp, indent, e, attr, -1);

    if (v >= 0) {
        printf("%s%s %s\n", indent, directive, v ? "On" : "Off");
    }
}

/* ---- passwords ----------------------------------------------------------- */

static int certmap_import_is_encrypted(const char *password)
{
    apr_size_t len = strlen(password);

    return strncmp(password, "[enc:", 5) == 0 && len >= 10
           && strcmp(password + len - 5, ":enc]") == 0;
}

/* CERTMAP_PW_<USER>: the user name upper-cased, anything but letters and
 * digits as '_'; a second password for one name gets _2, _3... */
static const char *certmap_import_env_name(certmap_import_t *imp,
                                           const char *user,
                                           const char *password)
{
    const char *key = apr_pstrcat(imp->p, user, "\n", password, NULL);
    const char *name = apr_hash_get(imp->env_by_secret, key,
                                    APR_HASH_KEY_STRING);
    char *base, *c;
    int n;

    if (name) {
        return name;
    }
    base = apr_pstrcat(imp->p, CERTMAP_IMPORT_ENV_PREFIX, user, NULL);
    for (c = base; *c; c++) {
        *c = apr_isalnum(*c) ? apr_toupper(*c) : '_';
    }
    name = base;
    for (n = 2; apr_hash_get(imp->env_taken, name, APR_HASH_KEY_STRING); n++) {
        name = apr_psprintf(imp->p, "%s_%d", base, n);
    }
    apr_hash_set(imp->env_taken, name, APR_HASH_KEY_STRING, "");
    apr_hash_set(imp->env_by_secret, key, APR_HASH_KEY_STRING, name);
    APR_ARRAY_PUSH(imp->env_notes, const char *) =
        apr_psprintf(imp->p, "%s (password of %s)", name, user);
    return name;
}

/* The PASSWORD word of a directive, or NULL for none. */
static const char *certmap_import_password(certmap_import_t *imp,
                                           const char *indent,
                                           const char *user,
                                           const char *password)
{
    const char *env;

    if (!password || !*password) {
        return NULL;
    }
    if (!certmap_import_is_encrypted(password) && imp->plain_passwords
        && strncasecmp(password, "file:", 5) != 0
        && strncasecmp(password, "env:", 4) != 0) {
        return certmap_import_quote(imp, indent, password);
    }
    env = certmap_import_env_name(imp, user, password);
    if (certmap_import_is_encrypted(password)) {
        certmap_import_warn(imp, indent, "the password of '%s' is "
                            "IIS-encrypted: set %s in httpd's environment "
                            "to the clear password", user, env);
    }
    else if (imp->plain_passwords) {
        certmap_import_warn(imp, indent, "the password of '%s' starts with "
                            "file: or env:, which CertMap reads as a "
                            "reference: set %s to it instead", user, env);
    }
    else {
        certmap_import_warn(imp, indent, "the password of '%s' is not "
                            "written here: set %s in httpd's environment "
                            "(or use --plain-passwords)", user, env);
    }
    return apr_pstrcat(imp->p, "env:", env, NULL);
}

/* ---- access/@sslFlags ----------------------------------------------------- */

/* "Ssl, SslNegotiateCert" -> CertMapSSLFlags Ssl SslNegotiateCert. */
static void certmap_import_access(certmap_import_t *imp, const char *indent,
                                  const apr_xml_elem *access)
{
    static const char *const known[] = { "sslFlags", NULL };
    static const char *const flags[] = { "None", "Ssl", "SslNegotiateCert",
                                         "SslRequireCert", "Ssl128", NULL };
    const char *value = certmap_import_attr(access, "sslFlags");
    const char *words = "";
    char *list, *token, *state;
    int i;

    certmap_import_check_attrs(imp, indent, access, known);
    if (!value) {
        return;
    }
    list = apr_pstrdup(imp->p, value);
    for (token = apr_strtok(list, ", \t\r\n", &state); token;
         token = apr_strtok(NULL, ", \t\r\n", &state)) {
        for (i = 0; flags[i] && strcasecmp(flags[i], token) != 0; i++) {
        }
        if (flags[i]) {
            words = apr_pstrcat(imp->p, words, " ", flags[i], NULL);
        }
        else if (strcasecmp(token, "SslMapCert") == 0) {
            certmap_import_warn(imp, indent, "sslFlags SslMapCert (IIS 6) "
                                "not imported: CertMap On turns mapping on");
        }
        else {
            certmap_import_warn(imp, indent, "sslFlags \"%s\": unknown "
                                "flag, not imported", token);
        }
    }
    if (*words) {
        printf("%sCertMapSSLFlags%s\n", indent, words);
    }
}

/* ---- iisClientCertificateMappingAuthentication --------------------------- */

static void certmap_import_one_to_one(certmap_import_t *imp,
                                      const char *indent,
                                      const apr_xml_elem *add)
{
    static const char *const known[] = { "userName", "password",
                                         "certificate", "enabled", NULL };
    const char *user = certmap_import_attr(add, "userName");
    const char *blob = certmap_import_attr(add, "certificate");
    const char *password, *err, *comment = "";
    unsigned char *der;
    apr_size_t der_len;

    certmap_import_check_attrs(imp, indent, add, known);
    if (!user || !*user || !blob) {
        certmap_import_warn(imp, indent, "a one-to-one mapping without "
                            "userName or certificate: not imported");
        return;
    }
    if ((err = certmap_der_from_base64(imp->p, blob, &der, &der_len))) {
        certmap_import_warn(imp, indent, "the certificate of one-to-one "
                            "mapping '%s' is not usable (%s): not imported",
                            user, err);
        return;
    }
    if (certmap_import_bool(imp, indent, add, "enabled", 1) != 1) {
        certmap_import_warn(imp, indent, "one-to-one mapping '%s' is "
                            "disabled in IIS; CertMapOneToOne has no "
                            "switch: left commented out", user);
        comment = "# ";
    }
    password = certmap_import_password(imp, indent, user,
                                       certmap_import_attr(add, "password"));
    printf("%s%sCertMapOneToOne %s %s%s%s\n", indent, comment,
           certmap_import_quote(imp, indent, user),
           certmap_der_to_blob(imp->p, der, der_len),
           password ? " " : "", password ? password : "");
}

/* One rules/add as a CertMapRule line, compiled by the engine to be sure
 * configtest takes it.  A rule the engine refuses comes back commented
 * out with *broken set; NULL (after a warning) when there is no rule. */
static const char *certmap_import_rule(certmap_import_t *imp,
                                       const char *indent,
                                       const char *mapping,
                                       const apr_xml_elem *add, int *broken)
{
    static const char *const known[] = { "certificateField",
                                         "certificateSubField",
                                         "matchCriteria",
                                         "compareCaseSensitive", NULL };
    const char *field = certmap_import_attr(add, "certificateField");
    const char *sub = certmap_import_attr(add, "certificateSubField");
    const char *criteria = certmap_import_attr(add, "matchCriteria");
    int sensitive = certmap_import_bool(imp, indent, add,
                                        "compareCaseSensitive", 1);
    const char *casemode = sensitive == 0 ? "CaseInsensitive" : NULL;
    certmap_rule_t *rule;
    const char *err;

    certmap_import_check_attrs(imp, indent, add, known);
    if (!field || !sub || !criteria || sensitive < 0) {
        certmap_import_warn(imp, indent, "a rule of '%s' lacks "
                            "certificateField, certificateSubField or "
                            "matchCriteria", mapping);
        return NULL;
    }
    if ((err = certmap_rule_compile(imp->p, field, sub, criteria, casemode,
                                    &rule))) {
        certmap_import_warn(imp, indent, "rule %s %s \"%s\" of '%s': %s",
                            field, sub, criteria, mapping, err);
        *broken = 1;
        return apr_psprintf(imp->p, "# CertMapRule %s %s %s  (not "
                            "imported)",
                            certmap_import_quote(imp, indent, field),
                            certmap_import_quote(imp, indent, sub),
                            certmap_import_quote(imp, indent, criteria));
    }
    /* field and sub are keywords or an OID: the engine accepted them */
    return apr_psprintf(imp->p, "CertMapRule %s %s %s%s%s", field, sub,
                        certmap_import_quote(imp, indent, criteria),
                        casemode ? " " : "", casemode ? casemode : "");
}

/* The rules of a many-to-one mapping; *broken when one was not imported. */
static apr_array_header_t *certmap_import_rules(certmap_import_t *imp,
                                                const char *indent,
                                                const char *mapping,
                                                const apr_xml_elem *add,
                                                int *broken)
{
    apr_array_header_t *lines = apr_array_make(imp->p, 4, sizeof(char *));
    const apr_xml_elem *rules = certmap_import_child(add, "rules");
    const apr_xml_elem *r;
    const char *line;

    for (r = rules ? rules->first_child : NULL; r; r = r->next) {
        if (strcmp(r->name, "add") != 0) {
            certmap_import_warn(imp, indent, "<rules><%s>: not supported",
                                r->name);
            *broken = 1;
        }
        else if ((line = certmap_import_rule(imp, indent, mapping, r,
                                             broken))) {
            APR_ARRAY_PUSH(lines, const char *) = line;
        }
        else {
            *broken = 1;
        }
    }
    return lines;
}

static void certmap_import_many_to_one(certmap_import_t *imp,
                                       const char *indent,
                                       const apr_xml_elem *add, int number)
{
    static const char *const known[] = { "name", "description", "enabled",
                                         "permissionMode", "userName",
                                         "password", NULL };
    const char *inner = apr_pstrcat(imp->p, indent, "    ", NULL);
    const char *name = certmap_import_attr(add, "name");
    const char *user = certmap_import_attr(add, "userName");
    const char *mode = certmap_import_attr(add, "permissionMode");
    const char *desc = certmap_import_attr(add, "description");
    const char *password;
    int enabled, deny, broken = 0, i;
    apr_array_header_t *rules;

    if (!name || !*name) {
        name = apr_psprintf(imp->p, "Mapping%d", number);
        certmap_import_warn(imp, indent, "a many-to-one mapping without a "
                            "name: imported as '%s'", name);
    }
    printf("%s<CertMapManyToOne %s>\n", indent,
           certmap_import_quote(imp, indent, name));
    certmap_import_check_attrs(imp, inner, add, known);
    rules = certmap_import_rules(imp, inner, name, add, &broken);
    deny = mode && strcasecmp(mode, "Deny") == 0;
    if (mode && !deny && strcasecmp(mode, "Allow") != 0) {
        certmap_import_warn(imp, inner, "permissionMode \"%s\" is neither "
                            "Allow nor Deny", mode);
        broken = 1;
    }
    enabled = certmap_import_bool(imp, inner, add, "enabled", 1);
    if (desc && *desc) {
        printf("%sCertMapDescription %s\n", inner,
               certmap_import_quote(imp, inner, desc));
    }
    if (!user || !*user) {
        if (!deny) {
            certmap_import_warn(imp, inner, "'%s' allows without a "
                                "userName: imported disabled", name);
            broken = 1;
        }
        else {
            printf("%s# IIS names no user here; a Deny mapping never logs "
                   "on\n", inner);
        }
        user = "nobody";
    }
    password = certmap_import_password(imp, inner, user,
                                       certmap_import_attr(add, "password"));
    printf("%sCertMapUser %s%s%s\n", inner,
           certmap_import_quote(imp, inner, user), password ? " " : "",
           password ? password : "");
    if (mode) {
        printf("%sCertMapPermission %s\n", inner, deny ? "Deny" : "Allow");
    }
    if (broken && enabled != 0) {
        certmap_import_warn(imp, inner, "'%s' could not be imported whole: "
                            "disabled rather than widened", name);
    }
    if (broken || enabled == 0) {
        printf("%sCertMapEnabled Off\n", inner);
    }
    if (apr_is_empty_array(rules) && !broken) {
        printf("%s# no rules: matches every trusted certificate, as in "
               "IIS\n", inner);
    }
    for (i = 0; i < rules->nelts; i++) {
        printf("%s%s\n", inner, APR_ARRAY_IDX(rules, i, const char *));
    }
    printf("%s</CertMapManyToOne>\n", indent);
}

/* oneToOneMappings or manyToOneMappings.  <clear/> drops what the
 * enclosing scope declared: CertMapInheritMappings Off (which drops both
 * kinds; *cleared tells the caller to say it once). */
static void certmap_import_collection(certmap_import_t *imp,
                                      const char *indent,
                                      const apr_xml_elem *list, int many,
                                      int *cleared)
{
    const apr_xml_elem *e;
    int number = 0;

    for (e = list ? list->first_child : NULL; e; e = e->next) {
        if (strcmp(e->name, "add") == 0) {
            number++;
            if (many) {
                certmap_import_many_to_one(imp, indent, e, number);
            }
            else {
                certmap_import_one_to_one(imp, indent, e);
            }
        }
        else if (strcmp(e->name, "clear") == 0) {
            if (!*cleared) {
                printf("%s# IIS <clear/>: start from no inherited "
                       "mappings\n%sCertMapInheritMappings Off\n", indent,
                       indent);
            }
            *cleared |= many ? 2 : 1;
        }
        else {
            certmap_import_warn(imp, indent, "<%s><%s>: not supported, not "
                                "imported", list->name, e->name);
        }
    }
}

static void certmap_import_auth(certmap_import_t *imp, const char *indent,
                                const apr_xml_elem *auth,
                                const apr_xml_elem *access)
{
    static const char *const known[] = {
        "enabled", "oneToOneCertificateMappingsEnabled",
        "manyToOneCertificateMappingsEnabled", "defaultLogonDomain", NULL };
    const char *domain;
    const apr_xml_elem *c;
    int cleared = 0;

    if (auth) {
        certmap_import_onoff(imp, indent, auth, "enabled", "CertMap");
    }
    if (access) {
        certmap_import_access(imp, indent, access);
    }
    if (!auth) {
        return;
    }
    certmap_import_check_attrs(imp, indent, auth, known);
    certmap_import_onoff(imp, indent, auth,
                         "oneToOneCertificateMappingsEnabled",
                         "CertMapOneToOneEnabled");
    certmap_import_onoff(imp, indent, auth,
                         "manyToOneCertificateMappingsEnabled",
                         "CertMapManyToOneEnabled");
    if ((domain = certmap_import_attr(auth, "defaultLogonDomain")) && *domain) {
        printf("%sCertMapDefaultLogonDomain %s\n", indent,
               certmap_import_quote(imp, indent, domain));
    }
    for (c = auth->first_child; c; c = c->next) {
        if (strcmp(c->name, "oneToOneMappings") == 0) {
            certmap_import_collection(imp, indent, c, 0, &cleared);
        }
        else if (strcmp(c->name, "manyToOneMappings") == 0) {
            certmap_import_collection(imp, indent, c, 1, &cleared);
        }
        else {
            certmap_import_warn(imp, indent, "<%s>: not supported, not "
                                "imported", c->name);
        }
    }
    if (cleared == 1 || cleared == 2) {
        certmap_import_warn(imp, indent, "IIS cleared only the %s mappings; "
                            "CertMapInheritMappings Off drops the inherited "
                            "%s mappings too", cleared == 1 ? "one-to-one"
                            : "many-to-one", cleared == 1 ? "many-to-one"
                            : "one-to-one");
    }
}

/* ---- scopes -------------------------------------------------------------- */

/* The parts of one system.webServer this tool reads. */
typedef struct {
    const apr_xml_elem *auth;       /* iisClientCertificateMappingAuth... */
    const apr_xml_elem *access;     /* security/access with sslFlags */
    const apr_xml_elem *directory;  /* clientCertificateMappingAuth... (AD) */
} certmap_import_parts_t;

static int certmap_import_find(const apr_xml_elem *web,
                               certmap_import_parts_t *parts)
{
    const apr_xml_elem *security = certmap_import_child(web, "security");
    const apr_xml_elem *authn = certmap_import_child(security,
                                                     "authentication");

    parts->auth = certmap_import_child(
        authn, "iisClientCertificateMappingAuthentication");
    parts->access = certmap_import_child(security, "access");
    if (parts->access && !certmap_import_attr(parts->access, "sslFlags")) {
        parts->access = NULL;
    }
    parts->directory = certmap_import_child(
        authn, "clientCertificateMappingAuthentication");
    return parts->auth || parts->access || parts->directory;
}

static void certmap_import_scope(certmap_import_t *imp, const char *indent,
                                 const certmap_import_parts_t *parts)
{
    if (parts->directory
        && certmap_import_bool(imp, indent, parts->directory, "enabled", 0)
               == 1) {
        certmap_import_warn(imp, indent, "clientCertificateMappingAuthentic"
                            "ation (Active Directory mapping) is not "
                            "imported: see CertMapDirectory");
    }
    certmap_import_auth(imp, indent, parts->auth, parts->access);
}

/* IIS location path -> URL path.  In applicationHost.config the first
 * segment names the site ("Default Web Site/app" -> /app); in a
 * web.config the path is relative to the application. */
static const char *certmap_import_url(certmap_import_t *imp,
                                      const char *path, const char **site)
{
    const char *slash;

    *site = NULL;
    if (imp->app_host) {
        slash = strchr(path, '/');
        *site = slash ? apr_pstrmemdup(imp->p, path, slash - path) : path;
        path = slash ? slash : "";
    }
    while (*path == '/') {
        path++;
    }
    return apr_pstrcat(imp->p, "/", path, NULL);
}

static void certmap_import_location(certmap_import_t *imp,
                                    const apr_xml_elem *location)
{
    const char *path = certmap_import_attr(location, "path");
    const apr_xml_elem *web = certmap_import_child(location,
                                                   "system.webServer");
    certmap_import_parts_t parts;
    const char *url, *site;

    if (!web || !certmap_import_find(web, &parts)) {
        return;
    }
    if (!path || !*path || strcmp(path, ".") == 0) {
        printf("\n# IIS <location path=\"%s\">: the whole server\n",
               path ? path : "");
        certmap_import_scope(imp, "", &parts);
        return;
    }
    url = certmap_import_url(imp, path, &site);
    printf("\n# IIS <location path=%s>", certmap_import_quote(imp, "", path));
    if (site) {
        printf(": inside the <VirtualHost> of site %s",
               certmap_import_quote(imp, "", site));
    }
    printf("\n<Location %s>\n", certmap_import_quote(imp, "", url));
    certmap_import_scope(imp, "    ", &parts);
    printf("</Location>\n");
}

static void certmap_import_document(certmap_import_t *imp,
                                    const apr_xml_elem *root)
{
    const apr_xml_elem *web = certmap_import_child(root, "system.webServer");
    const apr_xml_elem *e;
    certmap_import_parts_t parts;

    if (web && certmap_import_find(web, &parts)) {
        printf("\n# IIS server-wide settings (no <location>)\n");
        certmap_import_scope(imp, "", &parts);
    }
    for (e = root->first_child; e; e = e->next) {
        if (strcmp(e->name, "location") == 0) {
            certmap_import_location(imp, e);
        }
    }
}

static void certmap_import_env_summary(certmap_import_t *imp)
{
    int i;

    if (apr_is_empty_array(imp->env_notes)) {
        return;
    }
    printf("\n# Set these in httpd's environment before starting it (Debian: "
           "/etc/apache2/envvars):\n");
    for (i = 0; i < imp->env_notes->nelts; i++) {
        printf("#   %s\n", APR_ARRAY_IDX(imp->env_notes, i, const char *));
    }
}

/* ---- the sub-command ------------------------------------------------------ */

static const char *certmap_import_parse(apr_pool_t *p, const char *file,
                                        apr_xml_doc **doc)
{
    apr_xml_parser *parser = NULL;
    apr_file_t *fd;
    apr_status_t rv;
    char msg[256];

    if ((rv = apr_file_open(&fd, file, APR_FOPEN_READ | APR_FOPEN_BUFFERED,
                            APR_FPROT_OS_DEFAULT, p)) != APR_SUCCESS) {
        return apr_psprintf(p, "cannot read '%s': %s", file,
                            apr_strerror(rv, msg, sizeof(msg)));
    }
    rv = apr_xml_parse_file(p, &parser, doc, fd, 8192);
    apr_file_close(fd);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "'%s' is not well-formed XML: %s", file,
                            parser ? apr_xml_parser_geterror(parser, msg,
                                                             sizeof(msg))
                                   : "parse error");
    }
    if (!*doc || !(*doc)->root
        || strcmp((*doc)->root->name, "configuration") != 0) {
        return apr_psprintf(p, "'%s' is not an IIS configuration file (no "
                            "<configuration> root)", file);
    }
    return NULL;
}

/* applicationHost.config, by its name or by the <system.applicationHost>
 * section only it carries. */
static int certmap_import_is_app_host(const char *file,
                                      const apr_xml_elem *root)
{
    const char *base = strrchr(file, '/');

    base = base ? base + 1 : file;
    return strcasecmp(base, "applicationHost.config") == 0
           || certmap_import_child(root, "system.applicationHost") != NULL;
}

int certmap_tool_import_iis(apr_pool_t *p, int argc, const char *const *argv)
{
    certmap_import_t imp;
    apr_xml_doc *doc = NULL;
    const char *file, *err;

    memset(&imp, 0, sizeof(imp));
    if (argc == 3 && strcmp(argv[1], "--plain-passwords") == 0) {
        imp.plain_passwords = 1;
        file = argv[2];
    }
    else if (argc == 2 && argv[1][0] != '-') {
        file = argv[1];
    }
    else {
        return certmap_tool_usage();
    }
    if ((err = certmap_import_parse(p, file, &doc))) {
        return certmap_tool_fail("%s", err);
    }
    imp.p = p;
    imp.app_host = certmap_import_is_app_host(file, doc->root);
    imp.env_by_secret = apr_hash_make(p);
    imp.env_taken = apr_hash_make(p);
    imp.env_notes = apr_array_make(p, 4, sizeof(char *));

    printf("# CertMap directives imported by `certmap import-iis` from an "
           "IIS %s.\n# Review before use, above all every WARNING line.\n",
           imp.app_host ? "applicationHost.config" : "web.config");
    certmap_import_document(&imp, doc->root);
    certmap_import_env_summary(&imp);
    if (imp.warnings) {
        fprintf(stderr, "certmap import-iis: %d warning%s: review the "
                "output\n", imp.warnings, imp.warnings == 1 ? "" : "s");
    }
    return CERTMAP_TOOL_OK;
}
