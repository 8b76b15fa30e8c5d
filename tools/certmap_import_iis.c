/* Licensed under the Apache License, Version 2.0.
 *
 * certmap_import_iis.c — `certmap import-iis [--plain-passwords]
 * [--site NAME] [--prefix PATH] FILE`: reads an IIS applicationHost.config
 * or web.config (apr-util's XML parser) and prints the equivalent CertMap
 * directives.
 *
 * It never widens access: what it cannot say the same way it denies and
 * warns about (a "# WARNING:" comment next to it, and a line on stderr).
 *
 * How IIS's model becomes httpd's:
 *   - IIS resolves a URL path's settings from every enclosing <location>
 *     whatever their order in the file; httpd merges sections in file
 *     order.  So every path IIS configures gets ONE fully resolved section:
 *     every setting written out, the mappings of enclosing paths repeated
 *     (CertMapInheritMappings Off), sections ordered parents first.  The
 *     last section httpd merges is then the path's own, and says it all.
 *   - IIS compares paths case-insensitively: sections are
 *     <LocationMatch "(?i)^/App(/|$)">.
 *   - sslFlags default to None in IIS and to "Ssl SslNegotiateCert" in the
 *     module: every section writes its flags.
 *   - anonymous/basic/windows/digest authentication: where IIS demands an
 *     authenticated user the section says `Require valid-user` (the module
 *     answers 403.7 to a client without certificate); Basic, Windows and
 *     Digest have no translation: a warning, and no way in but a mapped
 *     certificate.
 *   - Active Directory mapping: a commented CertMapDirectory skeleton.
 *   - <clear/> and <remove/> act on exactly the collection they are in.
 *
 * Every value is checked with the module's own engine (certificate blobs,
 * rules), so what this prints passes `apachectl configtest`.  A many-to-one
 * mapping with a rule that cannot be converted is emitted disabled, never
 * with the rule dropped.
 *
 * Passwords never appear in the output unless --plain-passwords is given:
 * each becomes an `env:CERTMAP_PW_<USER>` placeholder for the admin to
 * fill in httpd's environment.  IIS-encrypted ones ("[enc:...:enc]")
 * always do: only the IIS machine's keys can decrypt them.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_xml.h>

#include "certmap_rules.h"
#include "certmap_tool.h"

#define CERTMAP_IMPORT_ENV_PREFIX "CERTMAP_PW_"

typedef struct {
    apr_pool_t *p;
    int plain_passwords;        /* --plain-passwords */
    int app_host;               /* applicationHost.config: paths name a site */
    const char *site;           /* the site imported (applicationHost) */
    const char *prefix;         /* --prefix without trailing '/': "" for / */
    apr_hash_t *env_by_secret;  /* "user\0password" -> env variable name */
    apr_hash_t *env_taken;      /* env variable name -> 1 */
    apr_array_header_t *env_notes; /* "NAME (password of USER)" */
    apr_array_header_t *out;    /* where lines are written (const char *) */
    apr_array_header_t *nodes;  /* certmap_import_node_t * */
    int warnings;
    int anonymous_warned;       /* said once on stderr */
} certmap_import_t;

/* ---- output helpers ------------------------------------------------------ */

/* Lines are collected, not printed: a mapping IIS declares once is
 * repeated in the section of every path below it. */
static void certmap_import_emit(certmap_import_t *imp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void certmap_import_emit(certmap_import_t *imp, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    APR_ARRAY_PUSH(imp->out, const char *) = apr_pvsprintf(imp->p, fmt, ap);
    va_end(ap);
}

/* A warning goes to both places: next to the directive it concerns, and on
 * stderr (once) for whoever runs the import. */
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
    certmap_import_emit(imp, "%s# WARNING: %s", indent, msg);
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

/* ---- what one <system.webServer> says ------------------------------------ */

/* One entry of a mapping collection: its key (for <remove>) and its
 * directive lines, unindented. */
typedef struct {
    const char *key;
    apr_array_header_t *lines;
} certmap_import_entry_t;

typedef enum {
    CERTMAP_IMPORT_ADD,
    CERTMAP_IMPORT_REMOVE,
    CERTMAP_IMPORT_CLEAR
} certmap_import_op_e;

typedef struct {
    certmap_import_op_e op;
    const char *key;                    /* REMOVE */
    certmap_import_entry_t *entry;      /* ADD */
} certmap_import_op_t;

/* What one <system.webServer> sets; -1 / NULL: not set there (inherited). */
typedef struct {
    int enabled, o2o, m2o;              /* iisClientCertificateMapping... */
    const char *domain;                 /* defaultLogonDomain */
    const char *flags;                  /* CertMapSSLFlags words */
    int anonymous, basic, windows, digest;
    int directory;                      /* clientCertificateMapping... (AD) */
    int deny;                           /* something here has no equivalent */
    apr_array_header_t *o2o_ops, *m2o_ops;  /* certmap_import_op_t */
    apr_array_header_t *notes;          /* warnings about the above */
} certmap_import_delta_t;

/* One IIS path: the root of the site or application (""), or a location. */
typedef struct {
    const char *path;       /* site-relative, no leading or trailing '/' */
    const char *fold;       /* the same, lower-cased: IIS ignores case */
    const char *source;     /* the IIS location path as written */
    int depth;              /* number of segments */
    int order;              /* first appearance in the file */
    apr_array_header_t *deltas;         /* certmap_import_delta_t *, in order */
} certmap_import_node_t;

/* "Ssl, SslNegotiateCert" -> "Ssl SslNegotiateCert"; an empty list or
 * "None" -> "None".  A flag IIS would refuse (its site would not start)
 * or that has no equivalent denies the path. */
static const char *certmap_import_flags(certmap_import_t *imp,
                                        const char *value, int *deny)
{
    static const char *const flags[] = { "None", "Ssl", "SslNegotiateCert",
                                         "SslRequireCert", "Ssl128", NULL };
    const char *words = "";
    char *list, *token, *state;
    int i;

    list = apr_pstrdup(imp->p, value);
    for (token = apr_strtok(list, ", \t\r\n", &state); token;
         token = apr_strtok(NULL, ", \t\r\n", &state)) {
        for (i = 0; flags[i] && strcasecmp(flags[i], token) != 0; i++) {
        }
        if (i == 0) {
            continue;               /* None adds nothing */
        }
        if (flags[i]) {
            words = apr_pstrcat(imp->p, words, " ", flags[i], NULL);
        }
        else if (strcasecmp(token, "SslMapCert") == 0) {
            certmap_import_warn(imp, "", "sslFlags SslMapCert (IIS 6) "
                                "ignored: CertMap On turns mapping on");
        }
        else {
            certmap_import_warn(imp, "", "sslFlags \"%s\": unknown flag: "
                                "access denied here (Require all denied)",
                                token);
            *deny = 1;
        }
    }
    return *words ? words + 1 : "None";
}

/* ---- iisClientCertificateMappingAuthentication --------------------------- */

static certmap_import_entry_t *certmap_import_entry(certmap_import_t *imp,
                                                    const char *key)
{
    certmap_import_entry_t *entry = apr_pcalloc(imp->p, sizeof(*entry));

    entry->key = key;
    entry->lines = apr_array_make(imp->p, 4, sizeof(char *));
    imp->out = entry->lines;
    return entry;
}

/* IIS keys one-to-one mappings by their certificate. */
static certmap_import_entry_t *certmap_import_one_to_one(
    certmap_import_t *imp, const apr_xml_elem *add)
{
    static const char *const known[] = { "userName", "password",
                                         "certificate", "enabled", NULL };
    const char *user = certmap_import_attr(add, "userName");
    const char *blob = certmap_import_attr(add, "certificate");
    const char *password, *err, *comment = "";
    certmap_import_entry_t *entry;
    unsigned char *der;
    apr_size_t der_len;

    if (!user || !*user || !blob) {
        certmap_import_entry(imp, "");
        certmap_import_warn(imp, "", "a one-to-one mapping without "
                            "userName or certificate: not imported");
        return NULL;
    }
    if ((err = certmap_der_from_base64(imp->p, blob, &der, &der_len))) {
        certmap_import_entry(imp, "");
        certmap_import_warn(imp, "", "the certificate of one-to-one "
                            "mapping '%s' is not usable (%s): not imported",
                            user, err);
        return NULL;
    }
    blob = certmap_der_to_blob(imp->p, der, der_len);
    entry = certmap_import_entry(imp, blob);
    certmap_import_check_attrs(imp, "", add, known);
    if (certmap_import_bool(imp, "", add, "enabled", 1) != 1) {
        certmap_import_warn(imp, "", "one-to-one mapping '%s' is "
                            "disabled in IIS; CertMapOneToOne has no "
                            "switch: left commented out", user);
        comment = "# ";
    }
    password = certmap_import_password(imp, "", user,
                                       certmap_import_attr(add, "password"));
    certmap_import_emit(imp, "%sCertMapOneToOne %s %s%s%s", comment,
                        certmap_import_quote(imp, "", user), blob,
                        password ? " " : "", password ? password : "");
    return entry;
}

/* One rules/add as a CertMapRule line, compiled by the engine to be sure
 * configtest takes it.  A rule the engine refuses comes back commented
 * out with *broken set. */
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
        *broken = 1;
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

/* The key IIS gives a rule: field, sub-field and criteria. */
static const char *certmap_import_rule_key(certmap_import_t *imp,
                                           const apr_xml_elem *r)
{
    const char *field = certmap_import_attr(r, "certificateField");
    const char *sub = certmap_import_attr(r, "certificateSubField");
    const char *criteria = certmap_import_attr(r, "matchCriteria");

    return apr_pstrcat(imp->p, field ? field : "", "\n", sub ? sub : "",
                       "\n", criteria ? criteria : "", NULL);
}

/* The rules of a many-to-one mapping; *broken when one was not imported.
 * <clear/> drops the rules before it, <remove .../> the one it names
 * (as IIS applies them to the collection read so far). */
static apr_array_header_t *certmap_import_rules(certmap_import_t *imp,
                                                const char *indent,
                                                const char *mapping,
                                                const apr_xml_elem *add,
                                                int *broken)
{
    apr_array_header_t *lines = apr_array_make(imp->p, 4, sizeof(char *));
    apr_array_header_t *keys = apr_array_make(imp->p, 4, sizeof(char *));
    const apr_xml_elem *rules = certmap_import_child(add, "rules");
    const apr_xml_elem *r;
    const char *line, *key;
    int i, found;

    for (r = rules ? rules->first_child : NULL; r; r = r->next) {
        if (strcmp(r->name, "clear") == 0) {
            apr_array_clear(lines);
            apr_array_clear(keys);
            continue;
        }
        if (strcmp(r->name, "remove") == 0) {
            key = certmap_import_rule_key(imp, r);
            for (found = 0, i = 0; i < keys->nelts; i++) {
                if (strcasecmp(APR_ARRAY_IDX(keys, i, const char *), key)
                    == 0) {
                    APR_ARRAY_IDX(keys, i, const char *) = "";
                    APR_ARRAY_IDX(lines, i, const char *) = NULL;
                    found = 1;
                }
            }
            if (!found) {
                certmap_import_warn(imp, indent, "<rules><remove>: no such "
                                    "rule in '%s'", mapping);
                *broken = 1;
            }
            continue;
        }
        if (strcmp(r->name, "add") != 0) {
            certmap_import_warn(imp, indent, "<rules><%s>: not supported",
                                r->name);
            *broken = 1;
            continue;
        }
        if ((line = certmap_import_rule(imp, indent, mapping, r, broken))) {
            APR_ARRAY_PUSH(lines, const char *) = line;
            APR_ARRAY_PUSH(keys, const char *) =
                certmap_import_rule_key(imp, r);
        }
    }
    return lines;
}

/* IIS keys many-to-one mappings by name. */
static certmap_import_entry_t *certmap_import_many_to_one(
    certmap_import_t *imp, const apr_xml_elem *add, int number)
{
    static const char *const known[] = { "name", "description", "enabled",
                                         "permissionMode", "userName",
                                         "password", NULL };
    const char *inner = "    ";
    const char *name = certmap_import_attr(add, "name");
    const char *user = certmap_import_attr(add, "userName");
    const char *mode = certmap_import_attr(add, "permissionMode");
    const char *desc = certmap_import_attr(add, "description");
    const char *password, *line;
    certmap_import_entry_t *entry;
    int enabled, deny, broken = 0, i;
    apr_array_header_t *rules;

    entry = certmap_import_entry(imp, apr_pstrdup(imp->p, name ? name : ""));
    if (!name || !*name) {
        name = apr_psprintf(imp->p, "Mapping%d", number);
        certmap_import_warn(imp, "", "a many-to-one mapping without a "
                            "name: imported as '%s'", name);
    }
    certmap_import_emit(imp, "<CertMapManyToOne %s>",
                        certmap_import_quote(imp, "", name));
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
        certmap_import_emit(imp, "%sCertMapDescription %s", inner,
                            certmap_import_quote(imp, inner, desc));
    }
    if (!user || !*user) {
        if (!deny) {
            certmap_import_warn(imp, inner, "'%s' allows without a "
                                "userName: imported disabled", name);
            broken = 1;
        }
        else {
            certmap_import_emit(imp, "%s# IIS names no user here; a Deny "
                                "mapping never logs on", inner);
        }
        user = "nobody";
    }
    password = certmap_import_password(imp, inner, user,
                                       certmap_import_attr(add, "password"));
    certmap_import_emit(imp, "%sCertMapUser %s%s%s", inner,
                        certmap_import_quote(imp, inner, user),
                        password ? " " : "", password ? password : "");
    if (mode) {
        certmap_import_emit(imp, "%sCertMapPermission %s", inner,
                            deny ? "Deny" : "Allow");
    }
    /* A Deny mapping that cannot be imported whole stays enabled with the
     * rules it has: it then denies more certificates, never fewer. */
    if (broken && enabled != 0 && !deny) {
        certmap_import_warn(imp, inner, "'%s' could not be imported whole: "
                            "disabled rather than widened", name);
    }
    else if (broken && enabled != 0) {
        certmap_import_warn(imp, inner, "Deny mapping '%s' could not be "
                            "imported whole: kept with the rules it has, "
                            "so it denies more, never less", name);
    }
    if ((broken && !deny) || enabled == 0) {
        certmap_import_emit(imp, "%sCertMapEnabled Off", inner);
    }
    if (apr_is_empty_array(rules) && !broken) {
        certmap_import_emit(imp, "%s# no rules: matches every trusted "
                            "certificate, as in IIS", inner);
    }
    for (i = 0; i < rules->nelts; i++) {
        if ((line = APR_ARRAY_IDX(rules, i, const char *))) {
            certmap_import_emit(imp, "%s%s", inner, line);
        }
    }
    certmap_import_emit(imp, "</CertMapManyToOne>");
    return entry;
}

/* oneToOneMappings or manyToOneMappings as a list of operations. */
static apr_array_header_t *certmap_import_collection(
    certmap_import_t *imp, const apr_xml_elem *list, int many,
    certmap_import_delta_t *d)
{
    apr_array_header_t *ops = apr_array_make(imp->p, 4,
                                             sizeof(certmap_import_op_t));
    certmap_import_op_t *op;
    certmap_import_entry_t *entry;
    const apr_xml_elem *e;
    const char *key;
    unsigned char *der;
    apr_size_t der_len;
    int number = 0;

    for (e = list->first_child; e; e = e->next) {
        if (strcmp(e->name, "add") == 0) {
            number++;
            entry = many ? certmap_import_many_to_one(imp, e, number)
                         : certmap_import_one_to_one(imp, e);
            imp->out = d->notes;
            if (!entry) {
                continue;
            }
            op = apr_array_push(ops);
            op->op = CERTMAP_IMPORT_ADD;
            op->entry = entry;
            op->key = entry->key;
        }
        else if (strcmp(e->name, "clear") == 0) {
            op = apr_array_push(ops);
            op->op = CERTMAP_IMPORT_CLEAR;
        }
        else if (strcmp(e->name, "remove") == 0) {
            key = certmap_import_attr(e, many ? "name" : "certificate");
            if (key && !many
                && !certmap_der_from_base64(imp->p, key, &der, &der_len)) {
                key = certmap_der_to_blob(imp->p, der, der_len);
            }
            if (!key) {
                certmap_import_warn(imp, "", "<%s><remove> without %s: "
                                    "access denied here", list->name,
                                    many ? "name" : "certificate");
                d->deny = 1;
                continue;
            }
            op = apr_array_push(ops);
            op->op = CERTMAP_IMPORT_REMOVE;
            op->key = key;
        }
        else {
            certmap_import_warn(imp, "", "<%s><%s>: not supported: access "
                                "denied here", list->name, e->name);
            d->deny = 1;
        }
    }
    return ops;
}

static void certmap_import_auth(certmap_import_t *imp,
                                certmap_import_delta_t *d,
                                const apr_xml_elem *auth)
{
    static const char *const known[] = {
        "enabled", "oneToOneCertificateMappingsEnabled",
        "manyToOneCertificateMappingsEnabled", "defaultLogonDomain",
        "logonMethod", NULL };
    const char *v;
    const apr_xml_elem *c;

    certmap_import_check_attrs(imp, "", auth, known);
    d->enabled = certmap_import_bool(imp, "", auth, "enabled", -2);
    d->o2o = certmap_import_bool(imp, "", auth,
                                 "oneToOneCertificateMappingsEnabled", -2);
    d->m2o = certmap_import_bool(imp, "", auth,
                                 "manyToOneCertificateMappingsEnabled", -2);
    if (d->enabled == -1 || d->o2o == -1 || d->m2o == -1) {
        d->deny = 1;        /* a value IIS would refuse */
    }
    d->enabled = d->enabled == -2 ? -1 : d->enabled;
    d->o2o = d->o2o == -2 ? -1 : d->o2o;
    d->m2o = d->m2o == -2 ? -1 : d->m2o;
    if ((v = certmap_import_attr(auth, "defaultLogonDomain"))) {
        d->domain = v;
    }
    if ((v = certmap_import_attr(auth, "logonMethod"))) {
        certmap_import_warn(imp, "", "logonMethod=\"%s\" has no equivalent: "
                            "the PAM service (CertMapPAMService) decides how "
                            "the account logs on", v);
    }
    for (c = auth->first_child; c; c = c->next) {
        if (strcmp(c->name, "oneToOneMappings") == 0) {
            d->o2o_ops = certmap_import_collection(imp, c, 0, d);
        }
        else if (strcmp(c->name, "manyToOneMappings") == 0) {
            d->m2o_ops = certmap_import_collection(imp, c, 1, d);
        }
        else {
            certmap_import_warn(imp, "", "<%s>: not supported: access "
                                "denied here", c->name);
            d->deny = 1;
        }
    }
}

/* enabled="true|false" of another authentication method; -1 when the
 * element is absent, and a value IIS would refuse denies. */
static int certmap_import_method(certmap_import_t *imp,
                                 certmap_import_delta_t *d,
                                 const apr_xml_elem *authn, const char *name)
{
    const apr_xml_elem *e = certmap_import_child(authn, name);
    int v;

    if (!e) {
        return -1;
    }
    v = certmap_import_bool(imp, "", e, "enabled", -2);
    if (v == -1) {
        d->deny = 1;
    }
    return v < 0 ? -1 : v;
}

/* URL Authorization: only the default rule (allow everyone) and "deny
 * anonymous users" translate; anything else denies. */
static void certmap_import_authorization(certmap_import_t *imp,
                                         certmap_import_delta_t *d,
                                         const apr_xml_elem *authz)
{
    const apr_xml_elem *e;
    const char *type, *users, *roles, *verbs;

    for (e = authz->first_child; e; e = e->next) {
        type = certmap_import_attr(e, "accessType");
        users = certmap_import_attr(e, "users");
        roles = certmap_import_attr(e, "roles");
        verbs = certmap_import_attr(e, "verbs");
        if (strcmp(e->name, "clear") == 0) {
            continue;
        }
        if (strcmp(e->name, "add") == 0 && type && users
            && (!roles || !*roles) && (!verbs || !*verbs)) {
            if (strcasecmp(type, "Allow") == 0 && strcmp(users, "*") == 0) {
                continue;
            }
            if (strcasecmp(type, "Deny") == 0 && strcmp(users, "?") == 0) {
                d->anonymous = 0;
                continue;
            }
        }
        certmap_import_warn(imp, "", "<authorization><%s>: URL "
                            "authorization rules are not imported: access "
                            "denied here (Require all denied)", e->name);
        d->deny = 1;
        return;
    }
}

/* The parts of one <system.webServer> this tool reads, as a delta; NULL
 * when it says nothing about them. */
static certmap_import_delta_t *certmap_import_delta(certmap_import_t *imp,
                                                    const apr_xml_elem *web)
{
    const apr_xml_elem *security = certmap_import_child(web, "security");
    const apr_xml_elem *authn = certmap_import_child(security,
                                                     "authentication");
    const apr_xml_elem *access = certmap_import_child(security, "access");
    const apr_xml_elem *authz = certmap_import_child(security,
                                                     "authorization");
    const apr_xml_elem *auth = certmap_import_child(
        authn, "iisClientCertificateMappingAuthentication");
    certmap_import_delta_t *d;
    const char *flags;

    if (!authn && !access && !authz) {
        return NULL;
    }
    d = apr_pcalloc(imp->p, sizeof(*d));
    d->enabled = d->o2o = d->m2o = -1;
    d->notes = apr_array_make(imp->p, 2, sizeof(char *));
    imp->out = d->notes;
    if (access && (flags = certmap_import_attr(access, "sslFlags"))) {
        d->flags = certmap_import_flags(imp, flags, &d->deny);
    }
    d->anonymous = certmap_import_method(imp, d, authn,
                                         "anonymousAuthentication");
    d->basic = certmap_import_method(imp, d, authn, "basicAuthentication");
    d->windows = certmap_import_method(imp, d, authn,
                                       "windowsAuthentication");
    d->digest = certmap_import_method(imp, d, authn, "digestAuthentication");
    d->directory = certmap_import_method(
        imp, d, authn, "clientCertificateMappingAuthentication");
    if (authz) {
        certmap_import_authorization(imp, d, authz);
    }
    if (auth) {
        certmap_import_auth(imp, d, auth);
    }
    return d;
}

/* ---- paths ---------------------------------------------------------------- */

/* "/a//B/" -> "a/B" */
static const char *certmap_import_clean(certmap_import_t *imp,
                                        const char *path)
{
    char *out = apr_palloc(imp->p, strlen(path) + 1), *o = out;

    for (; *path; path++) {
        if (*path == '/' || *path == '\\') {
            if (o > out && o[-1] != '/') {
                *o++ = '/';
            }
            continue;
        }
        *o++ = *path;
    }
    if (o > out && o[-1] == '/') {
        o--;
    }
    *o = '\0';
    return out;
}

static certmap_import_node_t *certmap_import_node(certmap_import_t *imp,
                                                  const char *path,
                                                  const char *source)
{
    certmap_import_node_t *n;
    char *fold = apr_pstrdup(imp->p, path), *c;
    int i;

    for (c = fold; *c; c++) {
        *c = apr_tolower(*c);
    }
    for (i = 0; i < imp->nodes->nelts; i++) {
        n = APR_ARRAY_IDX(imp->nodes, i, certmap_import_node_t *);
        if (strcmp(n->fold, fold) == 0) {
            return n;
        }
    }
    n = apr_pcalloc(imp->p, sizeof(*n));
    n->path = path;
    n->fold = fold;
    n->source = source;
    n->order = imp->nodes->nelts;
    n->depth = *path ? 1 : 0;
    for (c = fold; *c; c++) {
        n->depth += *c == '/';
    }
    n->deltas = apr_array_make(imp->p, 2, sizeof(certmap_import_delta_t *));
    APR_ARRAY_PUSH(imp->nodes, certmap_import_node_t *) = n;
    return n;
}

/* Whether `outer` is `inner` or one of its enclosing paths. */
static int certmap_import_encloses(const certmap_import_node_t *outer,
                                   const certmap_import_node_t *inner)
{
    apr_size_t len = strlen(outer->fold);

    return len == 0
           || (strncmp(outer->fold, inner->fold, len) == 0
               && (inner->fold[len] == '\0' || inner->fold[len] == '/'));
}

/* The first segment of an applicationHost location path: the site. */
static const char *certmap_import_site_of(certmap_import_t *imp,
                                          const char *path)
{
    const char *slash = strchr(path, '/');

    return slash ? apr_pstrmemdup(imp->p, path, slash - path) : path;
}

/* Adds one <location> (or the top level, path NULL) to its node.
 * server_level: pass 1 takes the top level and path ""/"." only, pass 2
 * the rest, so server-wide settings apply first whatever their place. */
static void certmap_import_add(certmap_import_t *imp, const apr_xml_elem *web,
                               const char *path, int server_level)
{
    const char *clean, *site;
    certmap_import_delta_t *d;
    certmap_import_node_t *n;

    clean = path ? certmap_import_clean(imp, path) : "";
    if (strcmp(clean, ".") == 0) {
        clean = "";
    }
    if ((*clean == '\0') != server_level) {
        return;
    }
    if (imp->app_host && *clean) {
        site = certmap_import_site_of(imp, clean);
        if (strcasecmp(site, imp->site) != 0) {
            return;         /* another site */
        }
        clean = clean + strlen(site);
        clean = *clean ? clean + 1 : "";
    }
    if (!web || !(d = certmap_import_delta(imp, web))) {
        return;
    }
    n = certmap_import_node(imp, clean, path ? path : "");
    APR_ARRAY_PUSH(n->deltas, certmap_import_delta_t *) = d;
}

/* ---- resolving one path ---------------------------------------------------- */

typedef struct {
    int enabled, o2o, m2o, anonymous, basic, windows, digest, directory;
    int deny;
    const char *domain, *flags;
    apr_array_header_t *o2o_list, *m2o_list;    /* entry * */
} certmap_import_state_t;

static void certmap_import_apply_ops(certmap_import_t *imp,
                                     apr_array_header_t **list,
                                     const apr_array_header_t *ops,
                                     certmap_import_state_t *st)
{
    apr_array_header_t *copy;
    const certmap_import_op_t *op;
    certmap_import_entry_t *e;
    int i, j;

    if (!ops) {
        return;
    }
    /* a copy: the enclosing path keeps its own list */
    copy = apr_array_copy(imp->p, *list);
    for (i = 0; i < ops->nelts; i++) {
        op = &APR_ARRAY_IDX(ops, i, certmap_import_op_t);
        if (op->op == CERTMAP_IMPORT_CLEAR) {
            apr_array_clear(copy);
            continue;
        }
        for (j = 0; j < copy->nelts; j++) {
            e = APR_ARRAY_IDX(copy, j, certmap_import_entry_t *);
            if (strcasecmp(e->key, op->key) == 0) {
                break;
            }
        }
        if (op->op == CERTMAP_IMPORT_REMOVE) {
            if (j < copy->nelts) {
                memmove(copy->elts + j * sizeof(e),
                        copy->elts + (j + 1) * sizeof(e),
                        (copy->nelts - j - 1) * sizeof(e));
                copy->nelts--;
            }
            continue;
        }
        if (j < copy->nelts) {
            st->deny = 1;   /* IIS: "duplicate collection entry", 500.19 */
            continue;
        }
        APR_ARRAY_PUSH(copy, certmap_import_entry_t *) = op->entry;
    }
    *list = copy;
}

static void certmap_import_apply(certmap_import_t *imp,
                                 certmap_import_state_t *st,
                                 const certmap_import_node_t *n)
{
    const certmap_import_delta_t *d;
    int i;

    for (i = 0; i < n->deltas->nelts; i++) {
        d = APR_ARRAY_IDX(n->deltas, i, certmap_import_delta_t *);
#define CERTMAP_IMPORT_SET(f) if (d->f >= 0) { st->f = d->f; }
        CERTMAP_IMPORT_SET(enabled)
        CERTMAP_IMPORT_SET(o2o)
        CERTMAP_IMPORT_SET(m2o)
        CERTMAP_IMPORT_SET(anonymous)
        CERTMAP_IMPORT_SET(basic)
        CERTMAP_IMPORT_SET(windows)
        CERTMAP_IMPORT_SET(digest)
        CERTMAP_IMPORT_SET(directory)
#undef CERTMAP_IMPORT_SET
        st->deny |= d->deny;
        if (d->domain) {
            st->domain = d->domain;
        }
        if (d->flags) {
            st->flags = d->flags;
        }
        certmap_import_apply_ops(imp, &st->o2o_list, d->o2o_ops, st);
        certmap_import_apply_ops(imp, &st->m2o_list, d->m2o_ops, st);
    }
}

/* ---- writing one section ---------------------------------------------------- */

/* A path as a case-insensitive regex: "App/x.y" -> "(?i)^/App/x\.y(/|$)" */
static const char *certmap_import_regex(certmap_import_t *imp,
                                        const char *url)
{
    char *out = apr_palloc(imp->p, 2 * strlen(url) + 16), *o = out;

    o += sprintf(o, "(?i)^");
    for (; *url; url++) {
        if (strchr(".^$|()[]{}*+?\\", *url)) {
            *o++ = '\\';
        }
        *o++ = *url;
    }
    strcpy(o, "(/|$)");
    return out;
}

static void certmap_import_lines(certmap_import_t *imp, const char *indent,
                                 const apr_array_header_t *lines)
{
    int i;

    for (i = 0; i < lines->nelts; i++) {
        printf("%s%s\n", indent, APR_ARRAY_IDX(lines, i, const char *));
    }
}

static void certmap_import_entries(certmap_import_t *imp, const char *in,
                                   const apr_array_header_t *list)
{
    int i;

    for (i = 0; i < list->nelts; i++) {
        certmap_import_lines(imp, in, APR_ARRAY_IDX(list, i,
                             certmap_import_entry_t *)->lines);
    }
}

static int certmap_import_has_flag(const char *flags, const char *flag)
{
    const char *f = strstr(flags, flag);

    return f && (f[strlen(flag)] == '\0' || f[strlen(flag)] == ' ');
}

/* Writes the CertMap part of a resolved path.  Returns whether mapping is
 * on (so a user can log on by certificate). */
static void certmap_import_certmap(certmap_import_t *imp, const char *in,
                                   const certmap_import_state_t *st)
{
    int negotiate = certmap_import_has_flag(st->flags, "SslNegotiateCert")
                    || certmap_import_has_flag(st->flags, "SslRequireCert");
    int on = st->enabled == 1 || st->directory == 1
             || strcmp(st->flags, "None") != 0;

    printf("%sCertMap %s\n", in, on ? "On" : "Off");
    printf("%sCertMapSSLFlags %s\n", in, st->flags);
    if (!on) {
        return;
    }
    printf("%sCertMapInheritMappings Off\n", in);
    if (st->enabled != 1) {
        printf("%s# IIS: iisClientCertificateMappingAuthentication is off "
               "here; CertMap On enforces sslFlags\n", in);
        if (negotiate && st->directory != 1) {
            printf("%s# NOTE: a client with a trusted certificate gets "
                   "403.16 here, where IIS lets the\n%s# other "
                   "authentication settings decide\n", in, in);
        }
    }
    printf("%sCertMapOneToOneEnabled %s\n", in,
           st->enabled == 1 && st->o2o != 0 ? "On" : "Off");
    printf("%sCertMapManyToOneEnabled %s\n", in,
           st->enabled == 1 && st->m2o != 0 ? "On" : "Off");
    if (st->domain && *st->domain) {
        printf("%s# IIS logs on as DOMAIN\\user; PAM gets user@DOMAIN\n", in);
        printf("%sCertMapDefaultLogonDomain %s\n", in,
               certmap_import_quote(imp, in, st->domain));
    }
    if (st->enabled == 1 && st->o2o != 0) {
        certmap_import_entries(imp, in, st->o2o_list);
    }
    if (st->enabled == 1 && st->m2o != 0) {
        certmap_import_entries(imp, in, st->m2o_list);
    }
    if (st->directory == 1) {
        printf("%s# IIS clientCertificateMappingAuthentication (Active "
               "Directory mapping): until\n%s# the directory below is "
               "filled in and uncommented, a certificate no mapping\n%s# "
               "above takes gets 403.16.\n", in, in, in);
        printf("%s# CertMapDirectory On\n"
               "%s# CertMapDirectoryURL \"ldaps://dc.example.com/"
               "DC=example,DC=com?sAMAccountName?sub\"\n"
               "%s# CertMapDirectoryBindDN \"CN=reader,CN=Users,DC=example,"
               "DC=com\"\n"
               "%s# CertMapDirectoryBindPassword env:CERTMAP_LDAP_PW\n"
               "%s# CertMapDirectoryMatch UPN IssuerSerial SKI SHA1-PUKEY\n"
               "%s# CertMapDirectoryMappingAttribute altSecurityIdentities\n",
               in, in, in, in, in, in);
    }
}

/* Writes who may in: IIS demands an authenticated user unless anonymous
 * authentication is on. *requires says so for the paths below. */
static void certmap_import_require(certmap_import_t *imp, const char *in,
                                   const certmap_import_state_t *st,
                                   int outer_requires, int *requires)
{
    *requires = 1;
    if (st->deny) {
        printf("%s# IIS would refuse this path's configuration, or part of "
               "it has no equivalent\n"
               "%sRequire all denied\n", in, in);
        return;
    }
    if (st->anonymous == 1) {
        *requires = 0;
        if (outer_requires) {
            printf("%s# IIS: anonymous access allowed here (replaces the "
                   "enclosing Require)\n%sRequire all granted\n", in, in);
        }
        else {
            printf("%s# IIS: anonymous access allowed here\n", in);
        }
        return;
    }
    if (st->anonymous == 0) {
        printf("%s# IIS: anonymous authentication disabled: a user is "
               "required\n", in);
    }
    else {
        printf("%s# WARNING: anonymousAuthentication is not set in this "
               "file: assumed disabled\n%s# (IIS's schema default): a user "
               "is required\n", in, in);
        if (!imp->anonymous_warned) {
            fprintf(stderr, "certmap import-iis: warning: "
                    "anonymousAuthentication is not set in this file: "
                    "assumed disabled, a user is required\n");
            imp->anonymous_warned = 1;
            imp->warnings++;
        }
    }
    if (st->basic == 1 || st->windows == 1 || st->digest == 1) {
        printf("%s# NOTE: IIS also offers%s%s%s authentication here, which "
               "has no equivalent:\n%s# a client without a mapped "
               "certificate is refused (403.7)\n", in,
               st->basic == 1 ? " Basic" : "",
               st->windows == 1 ? " Windows" : "",
               st->digest == 1 ? " Digest" : "", in);
    }
    printf("%sAuthMerging And\n%sRequire valid-user\n", in, in);
}

static void certmap_import_section(certmap_import_t *imp,
                                   const certmap_import_node_t *node,
                                   const certmap_import_state_t *st,
                                   int outer_requires, int *requires)
{
    const char *url = apr_pstrcat(imp->p, imp->prefix, *node->path ? "/" : "",
                                  node->path, NULL);
    const char *end, *in = "    ";
    int i;

    printf("\n# IIS %s%s%s", *node->path ? "<location path=" : "",
           *node->path ? certmap_import_quote(imp, "", node->source) : "",
           *node->path ? ">" : "");
    if (!*node->path) {
        printf("%s root", imp->app_host ? "site" : "application");
    }
    if (imp->app_host) {
        printf(" (site %s)", certmap_import_quote(imp, "", imp->site));
    }
    printf(": every setting IIS gives this path\n");
    if (!*url) {
        printf("<Location \"/\">\n");
        end = "</Location>";
    }
    else {
        printf("# IIS ignores case in paths: so does this section\n");
        printf("<LocationMatch %s>\n",
               certmap_import_quote(imp, "", certmap_import_regex(imp, url)));
        end = "</LocationMatch>";
    }
    for (i = 0; i < node->deltas->nelts; i++) {
        certmap_import_lines(imp, in, APR_ARRAY_IDX(node->deltas, i,
                             certmap_import_delta_t *)->notes);
    }
    certmap_import_certmap(imp, in, st);
    certmap_import_require(imp, in, st, outer_requires, requires);
    printf("%s\n", end);
}

static int certmap_import_node_cmp(const void *a, const void *b)
{
    const certmap_import_node_t *x = *(certmap_import_node_t *const *)a;
    const certmap_import_node_t *y = *(certmap_import_node_t *const *)b;

    if (x->depth != y->depth) {
        return x->depth - y->depth;
    }
    return x->order - y->order;
}

/* Every path, parents first, each resolved from the root down. */
static void certmap_import_write(certmap_import_t *imp)
{
    certmap_import_node_t **nodes, *n, *m;
    certmap_import_state_t st;
    int i, j, outer_requires, requires;

    certmap_import_node(imp, "", "");   /* the root always has a section */
    nodes = (certmap_import_node_t **)imp->nodes->elts;
    qsort(nodes, imp->nodes->nelts, sizeof(*nodes), certmap_import_node_cmp);
    for (i = 0; i < imp->nodes->nelts; i++) {
        n = nodes[i];
        memset(&st, 0, sizeof(st));
        st.o2o = st.m2o = 1;            /* IIS's defaults */
        st.anonymous = -1;              /* unknown: assumed off */
        st.flags = "None";
        st.o2o_list = apr_array_make(imp->p, 4, sizeof(void *));
        st.m2o_list = apr_array_make(imp->p, 4, sizeof(void *));
        outer_requires = 0;
        for (j = 0; j <= i; j++) {
            m = nodes[j];
            if (!certmap_import_encloses(m, n)) {
                continue;
            }
            if (m != n) {
                /* what the section of the enclosing path requires */
                certmap_import_apply(imp, &st, m);
                outer_requires |= st.deny || st.anonymous != 1;
            }
            else {
                certmap_import_apply(imp, &st, m);
            }
        }
        certmap_import_section(imp, n, &st, outer_requires, &requires);
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

/* ---- which file, which site ------------------------------------------------- */

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

/* applicationHost.config, by its content: <system.applicationHost> (with
 * its <sites>), or a declaration of that section group; or by its name. */
static int certmap_import_is_app_host(const char *file,
                                      const apr_xml_elem *root)
{
    const char *base = strrchr(file, '/');
    const apr_xml_elem *sections = certmap_import_child(root,
                                                        "configSections");
    const apr_xml_elem *g;
    const char *name;

    for (g = sections ? sections->first_child : NULL; g; g = g->next) {
        name = certmap_import_attr(g, "name");
        if (strcmp(g->name, "sectionGroup") == 0 && name
            && strcmp(name, "system.applicationHost") == 0) {
            return 1;
        }
    }
    base = base ? base + 1 : file;
    return strcasecmp(base, "applicationHost.config") == 0
           || certmap_import_child(root, "system.applicationHost") != NULL
           || certmap_import_child(root, "sites") != NULL;
}

/* The sites the file names: <sites><site name=...>, else the first
 * segments of its location paths. */
static apr_array_header_t *certmap_import_sites(certmap_import_t *imp,
                                                const apr_xml_elem *root)
{
    apr_array_header_t *sites = apr_array_make(imp->p, 2, sizeof(char *));
    const apr_xml_elem *host = certmap_import_child(root,
                                                    "system.applicationHost");
    const apr_xml_elem *list = certmap_import_child(host, "sites");
    const apr_xml_elem *e;
    const char *name, *path;
    int i;

    if (!list) {
        list = certmap_import_child(root, "sites");
    }
    for (e = list ? list->first_child : NULL; e; e = e->next) {
        if (strcmp(e->name, "site") == 0
            && (name = certmap_import_attr(e, "name"))) {
            APR_ARRAY_PUSH(sites, const char *) = name;
        }
    }
    if (list) {
        return sites;
    }
    for (e = root->first_child; e; e = e->next) {
        if (strcmp(e->name, "location") != 0
            || !(path = certmap_import_attr(e, "path"))) {
            continue;
        }
        path = certmap_import_clean(imp, path);
        if (!*path || strcmp(path, ".") == 0) {
            continue;
        }
        name = certmap_import_site_of(imp, path);
        for (i = 0; i < sites->nelts; i++) {
            if (strcasecmp(APR_ARRAY_IDX(sites, i, const char *), name)
                == 0) {
                break;
            }
        }
        if (i == sites->nelts) {
            APR_ARRAY_PUSH(sites, const char *) = name;
        }
    }
    return sites;
}

/* In a file read as a web.config, a location path whose first segment
 * reads like an IIS site name ("Default Web Site/app"). */
static const char *certmap_import_looks_like_site(certmap_import_t *imp,
                                                  const apr_xml_elem *root)
{
    const apr_xml_elem *e;
    const char *path, *first;

    for (e = root->first_child; e; e = e->next) {
        if (strcmp(e->name, "location") == 0
            && (path = certmap_import_attr(e, "path"))) {
            first = certmap_import_site_of(imp,
                                           certmap_import_clean(imp, path));
            if (strchr(first, ' ')
                || strcasecmp(first, "Default Web Site") == 0) {
                return path;
            }
        }
    }
    return NULL;
}

static const char *certmap_import_pick_site(certmap_import_t *imp,
                                            const apr_xml_elem *root,
                                            const char *wanted)
{
    apr_array_header_t *sites = certmap_import_sites(imp, root);
    const char *names = "", *name;
    int i;

    for (i = 0; i < sites->nelts; i++) {
        name = APR_ARRAY_IDX(sites, i, const char *);
        if (wanted && strcasecmp(name, wanted) == 0) {
            imp->site = name;
            return NULL;
        }
        names = apr_pstrcat(imp->p, names, i ? ", " : "", "\"", name, "\"",
                            NULL);
    }
    if (wanted && !*names) {
        imp->site = wanted;     /* only server-wide settings: still fine */
        return NULL;
    }
    if (wanted) {
        return apr_psprintf(imp->p, "no site \"%s\" in this file (sites: "
                            "%s)", wanted, names);
    }
    if (sites->nelts == 1) {
        imp->site = APR_ARRAY_IDX(sites, 0, const char *);
        return NULL;
    }
    if (sites->nelts == 0) {
        imp->site = "";
        return NULL;
    }
    return apr_psprintf(imp->p, "this applicationHost.config has several "
                        "sites (%s): say which one with --site NAME", names);
}

/* ---- the sub-command ------------------------------------------------------ */

int certmap_tool_import_iis(apr_pool_t *p, int argc, const char *const *argv)
{
    certmap_import_t imp;
    apr_xml_doc *doc = NULL;
    const char *file = NULL, *err, *site = NULL, *prefix = NULL, *odd;
    const apr_xml_elem *e;
    int i, pass;

    memset(&imp, 0, sizeof(imp));
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--plain-passwords") == 0) {
            imp.plain_passwords = 1;
        }
        else if (strcmp(argv[i], "--site") == 0 && i + 1 < argc) {
            site = argv[++i];
        }
        else if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc) {
            prefix = argv[++i];
        }
        else if (argv[i][0] == '-' || file) {
            return certmap_tool_usage();
        }
        else {
            file = argv[i];
        }
    }
    if (!file) {
        return certmap_tool_usage();
    }
    if (prefix && prefix[0] != '/') {
        return certmap_tool_fail("--prefix '%s': a URL path starting with "
                                 "'/'", prefix);
    }
    if ((err = certmap_import_parse(p, file, &doc))) {
        return certmap_tool_fail("%s", err);
    }
    imp.p = p;
    imp.prefix = prefix ? certmap_import_clean(&imp, prefix) : "";
    if (*imp.prefix) {
        imp.prefix = apr_pstrcat(p, "/", imp.prefix, NULL);
    }
    imp.app_host = site || certmap_import_is_app_host(file, doc->root);
    if (!imp.app_host && !prefix
        && (odd = certmap_import_looks_like_site(&imp, doc->root))) {
        return certmap_tool_fail("cannot tell whether '%s' is an "
                                 "applicationHost.config (location path "
                                 "\"%s\" starts with a site name?) or a "
                                 "web.config: give --site NAME for the "
                                 "former, --prefix PATH for the latter",
                                 file, odd);
    }
    if (imp.app_host && (err = certmap_import_pick_site(&imp, doc->root,
                                                        site))) {
        return certmap_tool_fail("%s", err);
    }
    imp.env_by_secret = apr_hash_make(p);
    imp.env_taken = apr_hash_make(p);
    imp.env_notes = apr_array_make(p, 4, sizeof(char *));
    imp.nodes = apr_array_make(p, 8, sizeof(certmap_import_node_t *));

    printf("# CertMap directives imported by `certmap import-iis` from an "
           "IIS %s", imp.app_host ? "applicationHost.config" : "web.config");
    if (imp.app_host) {
        printf(", site %s", certmap_import_quote(&imp, "", imp.site));
    }
    printf(",\n# served at %s/.  Put them inside the site's "
           "<VirtualHost>.\n", imp.prefix);
    printf("# Review before use, above all every WARNING line.\n"
           "# One section per IIS path, parents first, each with every "
           "setting IIS gives\n# that path (mappings of enclosing paths "
           "repeated): keep them in this order.\n");
    for (pass = 1; pass >= 0; pass--) {
        if (pass) {
            certmap_import_add(&imp, certmap_import_child(doc->root,
                               "system.webServer"), NULL, 1);
        }
        for (e = doc->root->first_child; e; e = e->next) {
            if (strcmp(e->name, "location") == 0) {
                certmap_import_add(&imp, certmap_import_child(e,
                                   "system.webServer"),
                                   certmap_import_attr(e, "path")
                                   ? certmap_import_attr(e, "path") : "",
                                   pass);
            }
        }
    }
    certmap_import_write(&imp);
    certmap_import_env_summary(&imp);
    if (imp.warnings) {
        fprintf(stderr, "certmap import-iis: %d warning%s: review the "
                "output\n", imp.warnings, imp.warnings == 1 ? "" : "s");
    }
    return CERTMAP_TOOL_OK;
}
