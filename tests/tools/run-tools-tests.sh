#!/bin/sh
# run-tools-tests.sh — tests of the `certmap` tool (blob, explain,
# import-iis), of conf/certmap-w3c.conf and of the module's log ids against
# docs/log-ids.md (check-log-ids.pl), run by `make test-tools`.
#
# Hermetic: a PKI from scripts/make-pki.sh under build/tools-pki, httpd
# configurations in a temporary directory, `apache2 -t` only (no server is
# started, no port is bound).  Prints one "ok"/"not ok" line per check and
# a closing "N passed, M failed"; exits non-zero when anything failed.
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
TOOL=$TOP/tools/certmap
MODULE=$TOP/.libs/mod_certmap.so
HERE=$TOP/tests/tools
HTTPD=${APACHE2:-/usr/sbin/apache2}
MODDIR=${APACHE_MODDIR:-/usr/lib/apache2/modules}
PKI=$TOP/build/tools-pki

PASSED=0
FAILED=0

ok() {      # DESCRIPTION
    PASSED=$((PASSED + 1))
    echo "ok $((PASSED + FAILED)) - $1"
}
not_ok() {  # DESCRIPTION [DETAIL FILE]
    FAILED=$((FAILED + 1))
    echo "not ok $((PASSED + FAILED)) - $1"
    if [ $# -gt 1 ] && [ -f "$2" ]; then
        sed 's/^/#   /' "$2" | head -40
    fi
}
check() {   # DESCRIPTION COMMAND...: ok when COMMAND succeeds
    d=$1; shift
    if "$@" > "$WORK/check.out" 2>&1; then ok "$d"; else not_ok "$d" "$WORK/check.out"; fi
}
# The lines of one scope of an explain output: from the line "  SCOPE"
# to the next scope or server line.
scope_of() {  # FILE SCOPE
    awk -v s="  $2" '$0 == s || index($0, s "  (merged") == 1 { on = 1; next }
                     on && /^  [^ ]/ { on = 0 } on && /^[^ ]/ { on = 0 }
                     on { print }' "$1"
}
has_line() {  # FILE SCOPE FIXED-STRING: the scope has a line containing it
    scope_of "$1" "$2" | grep -qF -- "$3"
}
has_no_line() {
    ! scope_of "$1" "$2" | grep -qF -- "$3"
}

for f in "$TOOL" "$MODULE" "$HTTPD"; do
    if [ ! -x "$f" ] && [ ! -f "$f" ]; then
        echo "run-tools-tests: $f is missing (run make first)" >&2
        exit 1
    fi
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/certmap-tools-tests.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT
sh "$TOP/scripts/make-pki.sh" "$PKI" > "$WORK/pki.log" 2>&1 \
    || { cat "$WORK/pki.log" >&2; exit 1; }

# ---- certmap blob -------------------------------------------------------------

for name in alice unicode via_intermediate; do
    want=$(openssl x509 -in "$PKI/$name.crt" -outform DER | base64 -w0)
    check "blob of $name.crt (PEM) equals openssl | base64 -w0" \
        test "$("$TOOL" blob "$PKI/$name.crt")" = "$want"
    check "blob of $name.der (DER) equals openssl | base64 -w0" \
        test "$("$TOOL" blob "$PKI/$name.der")" = "$want"
done
"$TOOL" blob > /dev/null 2> "$WORK/err"
check "blob without CERTFILE: usage, exit 2" test $? -eq 2
"$TOOL" blob "$PKI/openssl.cnf" > /dev/null 2> "$WORK/err"
check "blob of a non-certificate: exit 1" test $? -eq 1
check "blob of a non-certificate: says which file and why" \
    grep -q "^certmap: '.*openssl.cnf': not an X.509 certificate" "$WORK/err"
"$TOOL" frobnicate > /dev/null 2>&1
check "unknown sub-command: exit 2" test $? -eq 2

# ---- certmap explain ----------------------------------------------------------

# A standalone configuration: a vhost with a one-to-one and a Deny
# mapping, a Location with a disabled mapping, a nested Location that
# starts from no mappings, a Location with CertMap Off.
base_conf() {  # FILE
    cat > "$1" <<EOF
ServerRoot "$WORK"
DefaultRuntimeDir "$WORK"
PidFile "$WORK/httpd.pid"
ErrorLog "$WORK/error.log"
ServerName localhost
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule authz_user_module $MODDIR/mod_authz_user.so
LoadModule socache_shmcb_module $MODDIR/mod_socache_shmcb.so
LoadModule ssl_module $MODDIR/mod_ssl.so
LoadModule certmap_module "$MODULE"
Listen 127.0.0.1:44300
EOF
}
CONF=$WORK/explain.conf
base_conf "$CONF"
cat >> "$CONF" <<EOF
<VirtualHost 127.0.0.1:44300>
    SSLEngine on
    SSLCertificateFile "$PKI/server.crt"
    SSLCertificateKeyFile "$PKI/server.key"
    SSLCACertificateFile "$PKI/ca-bundle.pem"
    SSLVerifyClient optional
    CertMap On
    CertMapPAM Off
    CertMapOneToOne carol "file:$PKI/carol.crt"
    <CertMapManyToOne Contractors>
        CertMapUser nobody
        CertMapPermission Deny
        CertMapRule Subject OU Contractors
    </CertMapManyToOne>
    <Location /app>
        CertMapSSLFlags Ssl SslNegotiateCert SslRequireCert
        <CertMapManyToOne Engineering>
            CertMapUser eng
            CertMapEnabled Off
            CertMapRule Subject OU Engineering
        </CertMapManyToOne>
        <CertMapManyToOne Fabrikam>
            CertMapUser fab
            CertMapRule Subject O Fabrikam
        </CertMapManyToOne>
        <CertMapManyToOne Sales>
            CertMapUser sales
            CertMapRule Issuer CN "CertMap Test Root CA"
            CertMapRule Subject OU sales CaseInsensitive
        </CertMapManyToOne>
    </Location>
    <Location /app/admin>
        CertMapInheritMappings Off
        CertMapPAM On
        CertMapDefaultLogonDomain CONTOSO
        <CertMapManyToOne Admins>
            CertMapUser admin secret-password
            CertMapRule Subject CN alice
        </CertMapManyToOne>
    </Location>
    <Location /open>
        CertMap Off
    </Location>
    <Location /nocert>
        CertMapSSLFlags Ssl
    </Location>
</VirtualHost>
EOF

# Where a mapping is configured, as explain prints it: "(FILE:LINE)".
at() {  # PATTERN
    echo "($CONF:$(grep -n -- "$1" "$CONF" | head -1 | cut -d: -f1))"
}
CONTRACTORS=$(at "<CertMapManyToOne Contractors>")
ENGINEERING=$(at "<CertMapManyToOne Engineering>")
FABRIKAM=$(at "<CertMapManyToOne Fabrikam>")
SALES=$(at "<CertMapManyToOne Sales>")
ADMINS=$(at "<CertMapManyToOne Admins>")
CAROL=$(at "CertMapOneToOne carol")

explain() {  # NAME: explain NAME.crt into $WORK/NAME.explain
    "$TOOL" explain "$PKI/$1.crt" -f "$CONF" > "$WORK/$1.explain" \
        2> "$WORK/$1.explain.err"
}
explain alice
check "explain alice: exit 0" test $? -eq 0
E=$WORK/alice.explain
check "explain alice: says trust/revocation/expiry are not evaluated" \
    grep -q "Trust, revocation and expiry are NOT evaluated" "$E"
check "explain alice: vhost scope, Contractors' failed rule" \
    has_line "$E" "(virtual host)" "many-to-one 'Contractors' $CONTRACTORS: no match, failed CertMapRule Subject OU \"Contractors\""
check "explain alice: vhost scope, nothing matches: 403.16" \
    has_line "$E" "(virtual host)" "outcome: 403.16 Client certificate is untrusted or invalid (no mapping matched)"
check "explain alice: /app lists the one-to-one it passed" \
    has_line "$E" "<Location /app>" "one-to-one: 1 mapping, none is this certificate"
check "explain alice: /app, outer mapping first" \
    has_line "$E" "<Location /app>" "many-to-one 'Contractors' $CONTRACTORS: no match"
check "explain alice: /app, the disabled mapping" \
    has_line "$E" "<Location /app>" "many-to-one 'Engineering' $ENGINEERING: disabled (CertMapEnabled Off)"
check "explain alice: /app, Fabrikam's failed rule" \
    has_line "$E" "<Location /app>" "many-to-one 'Fabrikam' $FABRIKAM: no match, failed CertMapRule Subject O \"Fabrikam\""
check "explain alice: /app, Sales wins" \
    has_line "$E" "<Location /app>" "many-to-one 'Sales' $SALES: matched"
check "explain alice: /app, outcome user sales, PAM Off" \
    has_line "$E" "<Location /app>" "outcome: mapped to 'sales' by many-to-one 'Sales'; PAM Off"
check "explain alice: /app flags" \
    has_line "$E" "<Location /app>" "CertMapSSLFlags Ssl SslNegotiateCert SslRequireCert;"
check "explain alice: /app/admin is merged with /app" \
    grep -qF "  <Location /app/admin>  (merged with <Location /app>)" "$E"
check "explain alice: /app/admin inherits nothing (InheritMappings Off)" \
    has_line "$E" "<Location /app/admin>" "one-to-one: 0 mappings"
check "explain alice: /app/admin does not evaluate outer mappings" \
    has_no_line "$E" "<Location /app/admin>" "Contractors"
check "explain alice: /app/admin maps to admin, domain and PAM noted" \
    has_line "$E" "<Location /app/admin>" "outcome: mapped to 'admin' by many-to-one 'Admins'; then PAM service 'certmap' logs on as 'admin@CONTOSO' (password and account check) -- PAM is not run by explain"
check "explain alice: never prints a password" \
    sh -c "! grep -q secret-password '$E'"
check "explain alice: CertMap Off scope not explained" \
    sh -c "! grep -q '<Location /open>' '$E'"
check "explain alice: no SslNegotiateCert: certificate not looked at" \
    has_line "$E" "<Location /nocert>" "outcome: the certificate is not looked at"

explain mallory
E=$WORK/mallory.explain
check "explain mallory: Deny mapping: 403.12 in the vhost" \
    has_line "$E" "(virtual host)" "outcome: 403.12 Mapper denied access (many-to-one 'Contractors' denies)"
check "explain mallory: Deny wins before /app's own mappings" \
    has_no_line "$E" "<Location /app>" "Engineering"
check "explain mallory: /app/admin: failed rule CN alice, 403.16" \
    has_line "$E" "<Location /app/admin>" "many-to-one 'Admins' $ADMINS: no match, failed CertMapRule Subject CN \"alice\""

explain carol
E=$WORK/carol.explain
check "explain carol: one-to-one hit" \
    has_line "$E" "(virtual host)" "one-to-one $CAROL: this very certificate"
check "explain carol: one-to-one outcome" \
    has_line "$E" "<Location /app>" "outcome: mapped to 'carol' by one-to-one $CAROL; PAM Off"

explain expired
check "explain expired: warns that it is expired" \
    grep -q "EXPIRED: every CertMap scope answers 403.17" "$WORK/expired.explain"

# Relative certificate path: httpd runs from elsewhere.
(cd "$PKI" && "$TOOL" explain bob.crt -f "$CONF" > "$WORK/bob.explain" 2>&1)
check "explain with a relative certificate path" \
    has_line "$WORK/bob.explain" "<Location /app>" "many-to-one 'Sales' $SALES: matched"

base_conf "$WORK/nocertmap.conf"
sed -i '/certmap_module/d' "$WORK/nocertmap.conf"
"$TOOL" explain "$PKI/alice.crt" -f "$WORK/nocertmap.conf" > /dev/null 2> "$WORK/err"
check "explain, module not loaded: exit 1" test $? -eq 1
check "explain, module not loaded: says so" grep -q "does not load mod_certmap" "$WORK/err"
"$TOOL" explain "$PKI/alice.crt" -f "$WORK/missing.conf" > /dev/null 2> "$WORK/err"
check "explain, configuration test fails: exit 1" test $? -eq 1
"$TOOL" explain "$PKI/alice.crt" -k stop > /dev/null 2>&1
check "explain with an option httpd must not get: exit 2" test $? -eq 2
"$TOOL" explain "$PKI/openssl.cnf" -f "$CONF" > /dev/null 2>&1
check "explain of a non-certificate: exit 1" test $? -eq 1

# ---- certmap import-iis -------------------------------------------------------

ALICE_BLOB=$(cat "$PKI/alice.b64")
CAROL_BLOB=$(cat "$PKI/carol.b64")
sed -e "s|@ALICE_BLOB@|$ALICE_BLOB|" -e "s|@CAROL_BLOB@|$CAROL_BLOB|" \
    "$HERE/applicationHost.config.in" > "$WORK/applicationHost.config"
# Blobs back to placeholders, so the expected text does not depend on the PKI.
unblob() {
    sed -e "s|$ALICE_BLOB|@ALICE_BLOB@|g" -e "s|$CAROL_BLOB|@CAROL_BLOB@|g"
}

"$TOOL" import-iis "$WORK/applicationHost.config" > "$WORK/apphost.out" \
    2> "$WORK/apphost.err"
check "import-iis applicationHost.config: exit 0" test $? -eq 0
unblob < "$WORK/apphost.out" > "$WORK/apphost.txt"
check "import-iis applicationHost.config: expected directives" \
    diff -u "$HERE/expected/applicationHost.conf" "$WORK/apphost.txt"
check "import-iis: warns on stderr about IIS-encrypted passwords" \
    grep -q "the password of 'alice' is IIS-encrypted: set CERTMAP_PW_ALICE" "$WORK/apphost.err"
check "import-iis: warns on stderr about an unknown sub-field" \
    grep -q "unknown sub-field 'Department'" "$WORK/apphost.err"
check "import-iis: no encrypted blob or password in the output" \
    sh -c "! grep -q 'enc:\\|Pl.ain' '$WORK/apphost.out'"

"$TOOL" import-iis "$HERE/web.config" > "$WORK/web.out" 2> "$WORK/web.err"
check "import-iis web.config: expected directives" \
    diff -u "$HERE/expected/web.conf" "$WORK/web.out"
"$TOOL" import-iis --plain-passwords "$HERE/web.config" > "$WORK/webplain.out" 2>&1
check "import-iis --plain-passwords: the password, quoted for httpd" \
    grep -qF 'CertMapUser "research" "s3cr\"et\\x"' "$WORK/webplain.out"

# What import-iis prints must pass httpd's configuration test.
IMPORTED=$WORK/imported.conf
base_conf "$IMPORTED"
cat >> "$IMPORTED" <<EOF
<VirtualHost 127.0.0.1:44300>
    SSLEngine on
    SSLCertificateFile "$PKI/server.crt"
    SSLCertificateKeyFile "$PKI/server.key"
    SSLCACertificateFile "$PKI/ca-bundle.pem"
    SSLVerifyClient optional
    Include "$WORK/apphost.out"
</VirtualHost>
<VirtualHost 127.0.0.1:44300>
    ServerName web.example
    SSLEngine on
    SSLCertificateFile "$PKI/server.crt"
    SSLCertificateKeyFile "$PKI/server.key"
    Include "$WORK/webplain.conf"
</VirtualHost>
EOF
grep -v '^certmap import-iis:' "$WORK/webplain.out" > "$WORK/webplain.conf"
env -u CERTMAP_PW_ALICE "$HTTPD" -t -f "$IMPORTED" > "$WORK/t.out" 2>&1
check "imported directives: configtest fails while CERTMAP_PW_* are unset" \
    grep -q "CERTMAP_PW_ALICE is not set" "$WORK/t.out"
PWENV="CERTMAP_PW_ALICE=a CERTMAP_PW_CONTOSO_CAROL=b CERTMAP_PW_SALES=c CERTMAP_PW_ADMIN=d"
check "imported directives: apache2 -t accepts them" \
    env $PWENV "$HTTPD" -t -f "$IMPORTED"
env $PWENV "$HTTPD" -t -D DUMP_CERTMAP -f "$IMPORTED" > "$WORK/dump.out" 2>&1
check "imported description: quotes survive httpd's parser" \
    grep -qF 'description: Sales staff "EMEA"' "$WORK/dump.out"
env $PWENV "$TOOL" explain "$PKI/alice.crt" -f "$IMPORTED" > "$WORK/imported.explain" 2>&1
check "explain of the imported IIS configuration: alice one-to-one" \
    has_line "$WORK/imported.explain" "<LocationMatch (?i)^/intranet(/|$)>" "outcome: mapped to 'alice' by one-to-one"
env $PWENV "$TOOL" explain "$PKI/mallory.crt" -f "$IMPORTED" > "$WORK/imported.explain" 2>&1
check "explain of the imported IIS configuration: mallory denied" \
    has_line "$WORK/imported.explain" "<LocationMatch (?i)^/intranet(/|$)>" "outcome: 403.12 Mapper denied access (many-to-one 'Contractors' denies)"
check "explain of the imported IIS configuration: the disabled import" \
    has_line "$WORK/imported.explain" "<LocationMatch (?i)^/intranet/admin(/|$)>" "many-to-one 'Admins'"

# A line break in an IIS value must not escape its comment or quotes.
cat > "$WORK/newline.config" <<'EOF'
<configuration><system.webServer><security>
<access sslFlags="Ssl&#10;CertMap Off" />
<authentication><iisClientCertificateMappingAuthentication enabled="x&#10;CertMap Off">
<manyToOneMappings><add name="a&#10;CertMap Off" userName="u">
<rules><add certificateField="Subject" certificateSubField="X&#10;CertMap Off" matchCriteria="y" /></rules>
</add></manyToOneMappings>
</iisClientCertificateMappingAuthentication></authentication>
</security></system.webServer></configuration>
EOF
"$TOOL" import-iis "$WORK/newline.config" > "$WORK/newline.out" 2>/dev/null
check "import-iis: a line break in a value never starts a directive" \
    sh -c "! grep -q '^ *CertMap Off' '$WORK/newline.out'"

# A fragment without applicationHost markers whose paths start with a site
# name is refused until --site or --prefix says what it is.
cat > "$WORK/ambiguous.config" <<'EOF'
<configuration><location path="Default Web Site/app"><system.webServer><security>
<access sslFlags="Ssl" /></security></system.webServer></location></configuration>
EOF
"$TOOL" import-iis "$WORK/ambiguous.config" > /dev/null 2> "$WORK/err"
check "import-iis: a site path in an unmarked file: exit 1" test $? -eq 1
check "import-iis: ... and says to give --site or --prefix" grep -q "give --site NAME" "$WORK/err"
"$TOOL" import-iis --site "Default Web Site" "$WORK/ambiguous.config" > "$WORK/amb.out" 2>/dev/null
check "import-iis --site: the site's path, not the site name, is the URL" \
    grep -qF '<LocationMatch "(?i)^/app(/|$)">' "$WORK/amb.out"
"$TOOL" import-iis --site "No Such Site" "$TOP/t/iis/two-sites.applicationHost.config" > /dev/null 2> "$WORK/err"
check "import-iis --site with an unknown site: exit 1" test $? -eq 1

printf '<configuration><system.webServer>' > "$WORK/bad.config"
"$TOOL" import-iis "$WORK/bad.config" > /dev/null 2> "$WORK/err"
check "import-iis of malformed XML: exit 1" test $? -eq 1
check "import-iis of malformed XML: says so" grep -q "not well-formed XML" "$WORK/err"
"$TOOL" import-iis > /dev/null 2>&1
check "import-iis without FILE: exit 2" test $? -eq 2

# ---- conf/certmap-w3c.conf ----------------------------------------------------

W3C=$WORK/w3c.conf
base_conf "$W3C"
cat >> "$W3C" <<EOF
LoadModule headers_module $MODDIR/mod_headers.so
LoadModule setenvif_module $MODDIR/mod_setenvif.so
Include "$TOP/conf/certmap-w3c.conf"
CustomLog "$WORK/w3c.log" iis_w3c
EOF
check "certmap-w3c.conf: apache2 -t accepts it" "$HTTPD" -t -f "$W3C"
FIELDS=$(sed -n 's/^#Fields: //p' "$TOP/conf/certmap-w3c.conf")
check "certmap-w3c.conf: #Fields: lists IIS's 15 default fields in order" \
    test "$FIELDS" = "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
check "certmap-w3c.conf: both LogFormat variants have the 15 fields" \
    sh -c "grep '^ *LogFormat.*iis_w3c\$' '$TOP/conf/certmap-w3c.conf' | sed 's/^ *LogFormat \"//; s/\" iis_w3c\$//' | awk '{ n++; if (NF != 15) exit 1 } END { exit n != 2 }'"

# ---- log ids: the code against docs/log-ids.md -------------------------------

LOGIDS=$HERE/check-log-ids.pl
check "log ids: every log call of the module starts with CERTMAPnnn:" \
    perl "$LOGIDS" calls
check "log ids: each id at one place (one message, one id)" \
    perl "$LOGIDS" unique
check "log ids: docs/log-ids.md lists exactly the code's ids (file, level)" \
    perl "$LOGIDS" list

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
