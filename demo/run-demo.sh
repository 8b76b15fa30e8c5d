#!/bin/sh
# run-demo.sh — mod_certmap on a throw-away httpd on loopback, showing every
# outcome of the contract with real TLS client certificates.
#
#   sh demo/run-demo.sh        (or `make demo`; needs .libs/mod_certmap.so)
#
# Everything lives under demo/out (override: CERTMAP_DEMO_OUT=DIR): the test
# PKI (scripts/make-pki.sh), the httpd configuration, the PAM world and the
# logs.  PAM runs under cwrap's pam_wrapper with pam_matrix, so no real
# account is needed or touched.  Works as root (httpd's children then run
# as www-data or nobody) and as a normal user (a demo/out left by root is
# root's: remove it first).  Exits non-zero when any answer differs from
# the expected one.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
OUT=${CERTMAP_DEMO_OUT:-$HERE/out}
HTTPD=${APACHE2:-/usr/sbin/apache2}
MODDIR=${APACHE_MODDIR:-/usr/lib/apache2/modules}
MODULE=$TOP/.libs/mod_certmap.so
LIBDIR=/usr/lib/x86_64-linux-gnu
PAM_WRAPPER_LIB=$LIBDIR/libpam_wrapper.so
PAM_MATRIX=$LIBDIR/pam_wrapper/pam_matrix.so

# Passwords of the pam_matrix world; none of them may show up in a log.
ALICE_PW='Alice-dem0-Passw0rd'
RESEARCH_PW='Research-dem0-Passw0rd'

die() { echo "run-demo: $*" >&2; exit 1; }

# ---- preparation -----------------------------------------------------------

check_tools() {
    [ -x "$HTTPD" ] || die "$HTTPD not found (apt-get install apache2)"
    [ -f "$MODULE" ] || die "$MODULE missing: run make first"
    command -v curl >/dev/null || die "curl not found"
    command -v openssl >/dev/null || die "openssl not found"
    [ -f "$PAM_WRAPPER_LIB" ] && [ -f "$PAM_MATRIX" ] \
        || die "pam_wrapper not found (apt-get install libpam-wrapper)"
}

# A TCP port nobody listens on right now (python3 asks the kernel; without
# it, a random high port, good enough on a quiet machine).
free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    else
        awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) }'
    fi
}

# As root, httpd's children must not be root: pick an unprivileged account
# that exists here.
pick_run_user() {
    RUN_USER=''
    RUN_GROUP=''
    [ "$(id -u)" -eq 0 ] || return 0
    for u in www-data nobody; do
        if id "$u" >/dev/null 2>&1; then
            RUN_USER=$u
            RUN_GROUP=$(id -gn "$u")
            return 0
        fi
    done
    die "running as root, but neither www-data nor nobody exists"
}

# The children (RUN_USER) read the document root and the PAM world at
# request time; make sure they can reach them, or say why not.
check_child_access() {
    [ -n "$RUN_USER" ] || return 0
    chmod -R a+rX "$OUT/htdocs" "$OUT/pam"
    chmod a+rx "$OUT"
    if ! setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --clear-groups \
            test -r "$OUT/pam/passdb"; then
        die "$RUN_USER cannot read $OUT/pam/passdb (a parent directory is" \
            "not world-searchable?); set CERTMAP_DEMO_OUT=/tmp/certmap-demo"
    fi
}

make_pki() {
    sh "$TOP/scripts/make-pki.sh" "$OUT/pki" >/dev/null
}

# A static page and a password file: what the demo server serves and reads.
make_content() {
    mkdir -p "$OUT/htdocs/app/admin" "$OUT/htdocs/pam" "$OUT/htdocs/sslonly" \
             "$OUT/secrets" "$OUT/logs" "$OUT/run"
    for d in htdocs htdocs/app htdocs/app/admin htdocs/pam htdocs/sslonly; do
        echo "hello from $d" > "$OUT/$d/index.html"
    done
    # httpd reads it as root at startup; 0600 as an admin would (the module
    # warns about a group/world-readable password file).
    (umask 077 && printf '%s\n' "$RESEARCH_PW" > "$OUT/secrets/research.password")
}

# The pam_wrapper world: a `certmap` service that authenticates against
# pam_matrix's password database (user:password:allowed-service), and the
# `other` service Linux-PAM always reads for defaults (it complains in the
# error log otherwise).
make_pam_world() {
    # pam_wrapper keeps its patched copy of libpam in the runtime dir.
    mkdir -p "$OUT/pam/services" "$OUT/pam/run"
    for stack in auth account password session; do
        echo "$stack required $LIBDIR/security/pam_deny.so"
    done > "$OUT/pam/services/other"
    cat > "$OUT/pam/passdb" <<EOF
alice:$ALICE_PW:certmap
sales:the-real-sales-password:certmap
research:$RESEARCH_PW:certmap
EOF
    cat > "$OUT/pam/services/certmap" <<EOF
auth    required $PAM_MATRIX passdb=$OUT/pam/passdb
account required $PAM_MATRIX passdb=$OUT/pam/passdb
EOF
}

# ---- httpd configuration --------------------------------------------------

# Global part shared by the demo server and the configtest of the example:
# where everything lives and the modules both need.
write_base_conf() {   # FILE
    {
        echo "ServerRoot \"$OUT\""
        echo "DefaultRuntimeDir \"$OUT/run\""
        echo "PidFile \"$OUT/run/httpd.pid\""
        echo "ErrorLog \"$OUT/logs/error.log\""
        echo "ServerName localhost"
        [ -n "$RUN_USER" ] && echo "User $RUN_USER" && echo "Group $RUN_GROUP"
        for m in mpm_event authz_core authz_user authn_core authn_file \
                 auth_basic mime dir headers env socache_shmcb ssl; do
            echo "LoadModule ${m}_module $MODDIR/mod_$m.so"
        done
        echo "# after mod_ssl, as the contract asks"
        echo "LoadModule certmap_module \"$MODULE\""
        echo "Include \"$TOP/conf/certmap.conf\""
        echo "Define APACHE_LOG_DIR \"$OUT/logs\""
        echo "TypesConfig /etc/mime.types"
    } > "$1"
}

# The demo server: an HTTPS and a plain HTTP virtual host.  The mapped
# locations are declared in the main server, so both hosts have them (the
# plain one answers 403.4).  Two response headers carry what the table
# shows: the sub-status (env CERTMAP_SUBSTATUS) and the mapped user.
write_demo_conf() {
    conf=$OUT/httpd.conf
    pki=$OUT/pki
    write_base_conf "$conf"
    cat >> "$conf" <<EOF
Listen 127.0.0.1:$HTTPS_PORT
Listen 127.0.0.1:$HTTP_PORT
DocumentRoot "$OUT/htdocs"
DirectoryIndex index.html
# [row N] is the X-Demo-Row request header: it ties log lines to table rows.
ErrorLogFormat "[%{u}t] [%-m:%l] [pid %P] [client %-a] [row %-{X-Demo-Row}i] %M"
LogLevel warn certmap:info
SSLSessionCache "shmcb:$OUT/run/ssl_scache(512000)"
LogFormat "%h %u \"%r\" %>s.%{certmap-substatus}n row=%{X-Demo-Row}i" certmap
CustomLog "$OUT/logs/access.log" certmap
Header always set X-CertMap-Substatus "%{CERTMAP_SUBSTATUS}e" env=CERTMAP_SUBSTATUS
Header always set X-Remote-User "expr=%{REMOTE_USER}"

<Directory "$OUT/htdocs">
    Require all granted
</Directory>

# Mapping without PAM: the certificate alone names the user.
<Location /app/>
    CertMap On
    CertMapSSLFlags Ssl SslNegotiateCert SslRequireCert
    CertMapPAM Off
    CertMapOneToOne alice file:$pki/alice.crt
    <CertMapManyToOne Contractors>
        CertMapDescription "contractors are refused"
        CertMapPermission Deny
        CertMapRule Subject OU Contractors
        CertMapUser nobody
    </CertMapManyToOne>
    <CertMapManyToOne Sales>
        CertMapRule Subject O Contoso
        CertMapRule Subject OU Sales
        CertMapRule Issuer CN "CertMap Test*"
        CertMapUser sales
    </CertMapManyToOne>
    AuthType Certificate
    Require valid-user
</Location>
# Nested scope that ignores the mappings of /app/.
<Location /app/admin/>
    CertMapInheritMappings Off
    <CertMapManyToOne Research>
        CertMapRule Subject OU research CaseInsensitive
        CertMapUser carol-admin
    </CertMapManyToOne>
</Location>

# Mapping and a PAM logon (service certmap, pam_wrapper + pam_matrix).
<Location /pam/>
    CertMap On
    CertMapSSLFlags "Ssl, SslNegotiateCert, SslRequireCert"
    CertMapPAM On
    CertMapPAMService certmap
    CertMapLogonCacheTimeout 60
    CertMapOneToOne alice file:$pki/alice.crt env:CERTMAP_DEMO_ALICE_PASSWORD
    <CertMapManyToOne Sales>
        CertMapRule Subject OU Sales
        CertMapUser sales "not-the-sales-password"
    </CertMapManyToOne>
    <CertMapManyToOne Research>
        CertMapRule Subject O Fabrikam
        CertMapUser research file:$OUT/secrets/research.password
    </CertMapManyToOne>
    <CertMapManyToOne Contractors>
        CertMapRule Subject OU *tractor*
        CertMapUser ghost
    </CertMapManyToOne>
    AuthType Certificate
    Require valid-user
</Location>

# No CertMap here, mod_ssl alone guards it: under CertMapInvalidCerts Report
# a certificate that failed verification must not pass here either.
<Location /sslonly/>
    Require ssl-verify-client
</Location>

<VirtualHost 127.0.0.1:$HTTPS_PORT>
    SSLEngine on
    SSLCertificateFile "$pki/server.crt"
    SSLCertificateKeyFile "$pki/server.key"
    # At the virtual host, not per location: TLS 1.3 cannot renegotiate.
    SSLVerifyClient optional
    SSLVerifyDepth 3
    SSLCACertificateFile "$pki/ca-bundle.pem"
    SSLCARevocationFile "$pki/crl-bundle.pem"
    SSLCARevocationCheck chain
    CertMapInvalidCerts Report
</VirtualHost>

<VirtualHost 127.0.0.1:$HTTP_PORT>
</VirtualHost>
EOF
}

# The shipped example virtual host, its paths pointed into OUT, must pass
# configtest: that keeps conf/certmap-example-vhost.conf honest.
configtest_example() {
    mkdir -p "$OUT/example/pki" "$OUT/example/secrets"
    cp "$OUT/pki/server.crt" "$OUT/pki/server.key" "$OUT/pki/ca-bundle.pem" \
       "$OUT/pki/crl-bundle.pem" "$OUT/pki/alice.crt" "$OUT/example/pki/"
    (umask 077 && echo example-password > "$OUT/example/secrets/reports.password")
    sed -e "s|/etc/apache2/certmap/|$OUT/example/|g" \
        -e "s|/var/www/html|$OUT/htdocs|g" \
        "$TOP/conf/certmap-example-vhost.conf" > "$OUT/example/vhost.conf"
    write_base_conf "$OUT/example/httpd.conf"
    echo "Include \"$OUT/example/vhost.conf\"" >> "$OUT/example/httpd.conf"
    if CERTMAP_AUDIT_PASSWORD=example "$HTTPD" -t -f "$OUT/example/httpd.conf" \
            > "$OUT/example/configtest.log" 2>&1; then
        echo "configtest of conf/certmap-example-vhost.conf: OK"
    else
        echo "configtest of conf/certmap-example-vhost.conf: FAILED"
        sed 's/^/    /' "$OUT/example/configtest.log"
        FAILURES=$((FAILURES + 1))
    fi
}

# ---- httpd's life -----------------------------------------------------------

# httpd ARGS... — the demo's httpd: pam_wrapper replaces libpam for httpd
# and its children, and the env: password is in its environment (read when
# the configuration is).
httpd() {
    env LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 \
        PAM_WRAPPER_SERVICE_DIR="$OUT/pam/services" \
        PAM_WRAPPER_RUNTIME_DIR="$OUT/pam/run" \
        CERTMAP_DEMO_ALICE_PASSWORD="$ALICE_PW" \
        "$HTTPD" -f "$OUT/httpd.conf" "$@"
}

STARTED=0

start_httpd() {
    rm -f "$OUT/run/httpd.pid"
    : > "$OUT/logs/error.log"
    STARTED=1
    if ! httpd -k start; then
        tail -n 20 "$OUT/logs/error.log" >&2
        die "httpd did not start"
    fi
    i=0
    until curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/"; do
        i=$((i + 1))
        [ $i -lt 50 ] || { tail -n 20 "$OUT/logs/error.log" >&2; die "httpd does not answer"; }
        sleep 0.1
    done
}

# Also on an interrupted start: then the pid file may appear only later.
stop_httpd() {
    [ "$STARTED" -eq 1 ] || return 0
    STARTED=0
    pidfile=$OUT/run/httpd.pid
    i=0
    while [ ! -s "$pidfile" ] && [ $i -lt 30 ]; do
        i=$((i + 1))
        sleep 0.1
    done
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
        i=$((i + 1))
        sleep 0.1
    done
    rm -f "$pidfile"
}

# ---- requests and the table ---------------------------------------------

# request ROW SCHEME PATH CERT
# One curl per row (a fresh TLS handshake, the client certificate CERT or
# none "-"); sets GOT (status.substatus) and USER_GOT.
request() {
    row=$1 scheme=$2 path=$3 cert=$4
    port=$HTTPS_PORT
    [ "$scheme" = http ] && port=$HTTP_PORT
    set -- -s -o "$OUT/body" -D "$OUT/headers" -w '%{http_code}' \
        --max-time 10 --cacert "$OUT/pki/root.crt" -H "X-Demo-Row: $row"
    if [ "$cert" != - ]; then
        set -- "$@" --cert "$OUT/pki/$cert.crt" --key "$OUT/pki/$cert.key"
    fi
    : > "$OUT/body"
    : > "$OUT/headers"
    code=$(curl "$@" "$scheme://localhost:$port$path" 2>/dev/null) || true
    sub=$(header X-CertMap-Substatus)
    USER_GOT=$(header X-Remote-User)
    # The body of an outcome reads "403.16 Client certificate ..."
    body_status=$(sed -n '1s/^\([0-9][0-9][0-9]\.[0-9][0-9]*\) .*/\1/p' "$OUT/body")
    case $code in
        000) GOT="no-HTTP(TLS-error)" ;;
        *)   if [ -n "$sub" ] && [ "$sub" != 0 ]; then GOT=$code.$sub
             else GOT=$code; fi ;;
    esac
    if [ -n "$body_status" ] && [ "$body_status" != "$GOT" ]; then
        GOT="$GOT(body:$body_status)"
    fi
}

header() {   # NAME — its value in the last response, "" when absent
    tr -d '\r' < "$OUT/headers" | grep -i "^$1:" | sed 's/^[^:]*: *//' \
        | tail -n 1
}

ROW=0
FAILURES=0
DENIED_ROWS=''
TABLE=''

# check SCHEME PATH CERT EXPECTED [EXPECTED_USER] — one table row.
check() {
    ROW=$((ROW + 1))
    request "$ROW" "$1" "$2" "$3"
    want=$4 want_user=${5:-}
    verdict=OK
    if [ "$GOT" != "$want" ] || [ "${want_user:-}" != "${USER_GOT:-}" ]; then
        verdict=MISMATCH
        FAILURES=$((FAILURES + 1))
    fi
    [ "$want" = 200 ] || DENIED_ROWS="$DENIED_ROWS $ROW"
    printf '%-3s %-22s %-19s %-16s %-20s %-12s %s\n' "$ROW" "$1 $2" "$3" \
        "$want${want_user:+ $want_user}" "$GOT" "${USER_GOT:--}" "$verdict" \
        >> "$TABLE"
}

run_requests() {
    #     scheme path         certificate  expected  user
    check https /app/         alice        200       alice     # one-to-one (file:)
    check https /app/         bob          200       sales     # many-to-one Allow
    check https /app/         mallory      403.12              # many-to-one Deny
    check https /app/         carol        403.16              # trusted, unmapped
    check https /app/         untrusted    403.16              # unknown issuer
    check https /app/         selfsigned   403.16              # self-signed
    check https /app/         revoked      403.13              # in the root's CRL
    check https /app/         expired      403.17
    check https /app/         notyet       403.17
    check https /app/         -            403.7               # SslRequireCert
    check http  /app/         alice        403.4               # plain HTTP
    check https /app/admin/   carol        200       carol-admin # own mapping
    check https /app/admin/   alice        403.16              # Inherit Off
    check https /pam/         alice        200       alice     # PAM, env: password
    check https /pam/         alice        200       alice     # again: logon cache
    check https /pam/         carol        200       research  # PAM, file: password
    check https /pam/         bob          401.1               # wrong password
    check https /pam/         mallory      401.1               # unknown account
    check https /sslonly/     alice        200                 # mod_ssl only
    check https /sslonly/     expired      403.17              # Report: no 2xx
    check https /sslonly/     untrusted    403.16              # Report: no 2xx
}

print_table() {
    printf '%-3s %-22s %-19s %-16s %-20s %-12s %s\n' "#" request certificate \
        expected got user result
    printf '%-3s %-22s %-19s %-16s %-20s %-12s %s\n' --- ---------------------- \
        ------------------- ---------------- -------------------- ------------ --------
    cat "$TABLE"
}

# The module's log line for every denied row: what an admin reads.
print_log_lines() {
    echo
    echo "error log, mod_certmap's line for each denied row ($OUT/logs/error.log):"
    for r in $DENIED_ROWS; do
        line=$(grep "\[row $r\] " "$OUT/logs/error.log" | grep 'certmap' | tail -n 1)
        echo "  row $r: ${line:-(no certmap line logged)}"
    done
}

# Passwords must never reach a log.
check_no_secrets() {
    for pw in "$ALICE_PW" "$RESEARCH_PW" not-the-sales-password; do
        if grep -rqF "$pw" "$OUT/logs"; then
            echo "MISMATCH: a password appears in $OUT/logs"
            FAILURES=$((FAILURES + 1))
        fi
    done
}

cleanup() {
    stop_httpd
    [ -z "$TABLE" ] || rm -f "$TABLE"
}

main() {
    # httpd is stopped on every way out, Ctrl-C included.
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    check_tools
    pick_run_user
    mkdir -p "$OUT"
    OUT=$(cd "$OUT" && pwd)
    TABLE=$OUT/table.txt
    : > "$TABLE"
    HTTPS_PORT=$(free_port)
    HTTP_PORT=$(free_port)
    [ "$HTTPS_PORT" != "$HTTP_PORT" ] || HTTP_PORT=$((HTTPS_PORT + 1))

    make_pki
    make_content
    make_pam_world
    check_child_access
    configtest_example
    write_demo_conf
    httpd -t >/dev/null 2>&1 || { httpd -t; die "demo configuration rejected"; }

    start_httpd
    echo "httpd: https://localhost:$HTTPS_PORT  http://localhost:$HTTP_PORT${RUN_USER:+ (children run as $RUN_USER)}"
    echo
    run_requests
    stop_httpd
    print_table
    print_log_lines
    check_no_secrets
    echo
    if [ "$FAILURES" -ne 0 ]; then
        echo "run-demo: $FAILURES MISMATCH(es); logs in $OUT/logs"
        exit 1
    fi
    echo "run-demo: all $ROW rows as expected"
}

main "$@"
