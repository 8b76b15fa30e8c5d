#!/bin/sh
# run-soak.sh — `make soak`: one httpd (event MPM) with mod_certmap, the
# suite's PKI (scripts/make-pki.sh), the suite's slapd (tests/ldap/slapd.sh)
# and PAM through pam_wrapper + pam_matrix (t/pam/), under SOAK_SECONDS of
# mixed clients at SOAK_CONCURRENCY (tests/soak/soak.pl), with two graceful
# restarts.  Prints the total, wrong outcomes (must be 0), errors, and
# every child's RSS after warm-up and at the end.  Not part of `make test`.
#
# Environment:
#   SOAK_SECONDS      run time (default 600)
#   SOAK_CONCURRENCY  clients (default 16)
#   SOAK_PORTS        LOW-HIGH for httpd and slapd (default 10040-10079)
#   CERTMAP_MODULE    module to load (default .libs/mod_certmap.so)
#   HTTPD             default /usr/sbin/apache2
#
# As root it runs itself as the user certmap-test (created by the test
# runner; created here if missing), like tests/run-httpd-tests.sh.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
TEST_USER=certmap-test
HTTPD=${HTTPD:-/usr/sbin/apache2}
MODDIR=$(apxs -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)
PAM_WRAPPER_LIB=/usr/lib/x86_64-linux-gnu/libpam_wrapper.so
PAM_MATRIX=/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so
SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_CONCURRENCY=${SOAK_CONCURRENCY:-16}
SOAK_PORTS=${SOAK_PORTS:-10040-10079}

say() { echo "soak: $*"; }
die() { echo "soak: $*" >&2; exit 1; }

MODULE=${CERTMAP_MODULE:-$TOP/.libs/mod_certmap.so}
case $MODULE in /*) ;; *) MODULE=$(pwd)/$MODULE ;; esac
[ -f "$MODULE" ] || die "$MODULE not found (run make first)"

# ---- root hands over to an unprivileged user --------------------------------
if [ "$(id -u)" -eq 0 ] && [ -z "${CERTMAP_SOAK_INNER:-}" ]; then
    id "$TEST_USER" >/dev/null 2>&1 || useradd -r -m -s /bin/sh "$TEST_USER"
    WORK=$(mktemp -d /tmp/certmap-soak.XXXXXX)
    mkdir -p "$WORK/tree"
    (cd "$TOP" && tar cf - scripts tests/ldap tests/soak t/pam) |
        (cd "$WORK/tree" && tar xf -)
    cp "$MODULE" "$WORK/tree/mod_certmap.so"
    chown -R "$TEST_USER" "$WORK"
    chmod 0755 "$WORK"
    rc=0
    runuser -u "$TEST_USER" -- env CERTMAP_SOAK_INNER=1 HOME="$WORK" \
        CERTMAP_MODULE="$WORK/tree/mod_certmap.so" HTTPD="$HTTPD" \
        SOAK_SECONDS="$SOAK_SECONDS" SOAK_CONCURRENCY="$SOAK_CONCURRENCY" \
        SOAK_PORTS="$SOAK_PORTS" \
        sh "$WORK/tree/tests/soak/run-soak.sh" || rc=$?
    mkdir -p "$TOP/build"
    rm -rf "$TOP/build/soak-logs"
    cp -r "$WORK/tree/build/soak/logs" "$TOP/build/soak-logs" 2>/dev/null || true
    say "logs copied to build/soak-logs/"
    rm -rf "$WORK"
    exit $rc
fi

# ---- the world ------------------------------------------------------------------
W=$TOP/build/soak
rm -rf "$W"
mkdir -p "$W/logs" "$W/pam.d"
PKI=$W/pki
sh "$TOP/scripts/make-pki.sh" "$PKI" >/dev/null

# ports: slapd from the upper half, httpd from the lower half
lo=${SOAK_PORTS%-*}
hi=${SOAK_PORTS#*-}
mid=$(( (lo + hi) / 2 ))
CERTMAP_LDAP_PORTS="$((mid + 1))-$hi" sh "$TOP/tests/ldap/slapd.sh" start "$W/ldap" "$PKI"
. "$W/ldap/env"
PORT=$(perl -MIO::Socket::INET -e '
    for my $p ($ARGV[0] .. $ARGV[1]) {
        IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                              LocalPort => $p, ReuseAddr => 1) or next;
        print "$p\n"; exit 0;
    }
    die "no free port\n";' "$lo" "$mid")

cleanup() {
    if [ -f "$W/logs/httpd.pid" ]; then
        kill "$(cat "$W/logs/httpd.pid")" 2>/dev/null || true
        sleep 1
    fi
    sh "$TOP/tests/ldap/slapd.sh" stop "$W/ldap"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -f "$PAM_WRAPPER_LIB" ] || die "$PAM_WRAPPER_LIB missing (apt-get install libpam-wrapper)"
for svc in certmap; do
    sed -e "s|@PAM_MATRIX@|$PAM_MATRIX|g" -e "s|@PASSDB@|$W/passdb|g" \
        "$TOP/t/pam/$svc.in" > "$W/pam.d/$svc"
done
cp "$TOP/t/pam/passdb.in" "$W/passdb"
chmod 0600 "$W/passdb"
printf 'basicuser:{SHA}%s\n' \
    "$(printf 'basicpass' | openssl dgst -sha1 -binary | openssl base64 -A)" \
    > "$W/htpasswd"

# ---- httpd.conf --------------------------------------------------------------
{
    for m in mpm_event authn_core authn_file authz_core authz_host authz_user \
             auth_basic alias mime headers socache_shmcb ssl ldap status; do
        echo "LoadModule ${m}_module $MODDIR/mod_$m.so"
    done
    cat <<EOF
LoadModule certmap_module $MODULE
ServerRoot "$W"
ServerName localhost
Listen 127.0.0.1:$PORT
PidFile "$W/logs/httpd.pid"
# the logon helper's socket (and other runtime files) here, not in
# /var/run/apache2, which this user cannot write
DefaultRuntimeDir "$W/logs"
ErrorLog "$W/logs/error_log"
LogLevel warn
DocumentRoot "$W/htdocs"
TypesConfig /etc/mime.types
StartServers 2
ThreadsPerChild 16
MinSpareThreads 16
MaxSpareThreads 64
MaxRequestWorkers 64
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
Mutex file:$W/logs default
SSLSessionCache shmcb:$W/logs/ssl_scache(512000)
AliasMatch "^/(x|pam)/" "$W/htdocs/ok.txt"
Header always set X-CM-Sub "expr=%{note:certmap-substatus}"
Header always set X-CM-User "expr=%{REMOTE_USER}"

<VirtualHost 127.0.0.1:$PORT>
    ServerName localhost
    SSLEngine on
    SSLCertificateFile $PKI/server.crt
    SSLCertificateKeyFile $PKI/server.key
    SSLVerifyClient optional
    SSLVerifyDepth 3
    SSLCACertificateFile $PKI/ca-bundle.pem
    SSLCARevocationFile $PKI/crl-bundle.pem
    SSLCARevocationCheck chain
    CertMapDirectoryURL "ldap://127.0.0.1:$CERTMAP_LDAP_PORT/ou=people,dc=certmap,dc=test?uid?sub"

    <Location /x/o2o>
        CertMap On
        CertMapPAM Off
        CertMapOneToOne alice file:$PKI/alice.crt
        Require valid-user
    </Location>
    <Location /x/deny>
        CertMap On
        CertMapPAM Off
        <CertMapManyToOne contractors>
            CertMapUser nobody
            CertMapPermission Deny
            CertMapRule Subject OU Contractors
        </CertMapManyToOne>
        <CertMapManyToOne contoso>
            CertMapUser contoso
            CertMapRule Subject O Contoso
        </CertMapManyToOne>
        Require valid-user
    </Location>
    <Location /x/basic>
        CertMap On
        CertMapPAM Off
        CertMapOneToOne alice file:$PKI/alice.crt
        AuthType Basic
        AuthName soak
        AuthBasicProvider file
        AuthUserFile $W/htpasswd
        Require valid-user
    </Location>
    <Location /x/dir>
        CertMap On
        CertMapPAM Off
        CertMapDirectory On
        CertMapDirectoryMatch IssuerSerial
        CertMapDirectoryCacheTimeout 0
        Require valid-user
    </Location>
    <Location /x/dircached>
        CertMap On
        CertMapPAM Off
        CertMapDirectory On
        CertMapDirectoryMatch IssuerSerial
        CertMapDirectoryCacheTimeout 300
        Require valid-user
    </Location>
    <Location /pam/ok>
        CertMap On
        CertMapLogonCacheTimeout 300
        CertMapOneToOne alice file:$PKI/alice.crt alicepw-Secr3t
        Require valid-user
    </Location>
    <Location /pam/wrong>
        CertMap On
        CertMapOneToOne alice file:$PKI/alice.crt wrongpw-Zz9y
        Require valid-user
    </Location>
    <Location /server-status>
        SetHandler server-status
        Require ip 127.0.0.1
    </Location>
</VirtualHost>
EOF
} > "$W/httpd.conf"
mkdir -p "$W/htdocs"
echo ok > "$W/htdocs/ok.txt"

cat > "$W/httpd" <<EOF
#!/bin/sh
LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$W/pam.d" \\
    exec "$HTTPD" -f "$W/httpd.conf" "\$@"
EOF
chmod 0755 "$W/httpd"
"$W/httpd" -t >/dev/null 2>&1 || { "$W/httpd" -t; die "configuration refused"; }
"$W/httpd" -k start
i=0
until [ -f "$W/logs/httpd.pid" ] && perl -MIO::Socket::INET -e \
        'IO::Socket::INET->new("127.0.0.1:'"$PORT"'") or exit 1'; do
    i=$((i + 1)); [ $i -lt 50 ] || die "httpd did not start"; sleep 0.1
done
say "httpd on 127.0.0.1:$PORT (module $MODULE), slapd on $CERTMAP_LDAP_PORT"
say "$SOAK_SECONDS s, $SOAK_CONCURRENCY clients, graceful restarts at 1/3 and 2/3"

rc=0
perl "$TOP/tests/soak/soak.pl" --port "$PORT" --pki "$PKI" \
    --seconds "$SOAK_SECONDS" --concurrency "$SOAK_CONCURRENCY" \
    --pidfile "$W/logs/httpd.pid" || rc=$?
if grep -E 'exit signal|AddressSanitizer|runtime error' "$W/logs/error_log"; then
    say "a child crashed or a sanitizer spoke (see the error log)"
    rc=1
fi
exit $rc
