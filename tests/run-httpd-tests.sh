#!/bin/sh
# run-httpd-tests.sh — runs the Apache::Test suite (t/*.t) of mod_certmap in
# a hermetic world: the test PKI (scripts/make-pki.sh), PAM through
# pam_wrapper + pam_matrix, a generated module list (no /etc/apache2
# inheritance), httpd started through a wrapper that preloads the
# sanitizer runtime and pam_wrapper.
#
#   sh tests/run-httpd-tests.sh [t/TEST options and test files]
#
# Environment:
#   CERTMAP_MODULE   the module to load (default build/asan/mod_certmap.so
#                    when present, else .libs/mod_certmap.so)
#   CERTMAP_MPM      event (default), worker or prefork
#   CERTMAP_KEEP     1: keep the temporary tree of a root run even on success
#   APACHE_TEST_PORT Apache::Test's base port (default: the first free one
#                    from 8529); a second suite running at the same time
#                    on this machine needs its own, e.g. 9600
#   CERTMAP_LDAP_PORTS  LOW-HIGH: the test slapd's ports (tests/ldap/slapd.sh)
#   HTTPD, APXS      default /usr/sbin/apache2, /usr/bin/apxs
#
# Apache::Test refuses to run as root.  Started as root, this script creates
# the system user certmap-test (if missing), copies what the suite needs to
# a temporary directory owned by it (never touching the checkout's
# ownership), runs itself there as that user, and copies the logs back to
# build/httpd-test-logs/MPM/.  (tests/run-all.sh removes the user at the
# end of a `make test` that created it.)
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
TEST_USER=certmap-test
HTTPD=${HTTPD:-/usr/sbin/apache2}
APXS=${APXS:-/usr/bin/apxs}
MODDIR=$("$APXS" -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)
PAM_WRAPPER_LIB=/usr/lib/x86_64-linux-gnu/libpam_wrapper.so
PAM_MATRIX=/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so
PAM_EXEC=/usr/lib/x86_64-linux-gnu/security/pam_exec.so

say() { echo "run-httpd-tests: $*"; }
die() { echo "run-httpd-tests: $*" >&2; exit 1; }

pick_module() {
    if [ -n "${CERTMAP_MODULE:-}" ]; then
        m=$CERTMAP_MODULE
    elif [ -f "$TOP/build/asan/mod_certmap.so" ]; then
        m=$TOP/build/asan/mod_certmap.so
    else
        m=$TOP/.libs/mod_certmap.so
    fi
    case $m in /*) ;; *) m=$(pwd)/$m ;; esac
    [ -f "$m" ] || die "module $m not found (run make / make asan first)"
    echo "$m"
}

# ---- outer: root hands over to an unprivileged user -----------------------
if [ "$(id -u)" -eq 0 ] && [ -z "${CERTMAP_TEST_INNER:-}" ]; then
    MODULE=$(pick_module)
    if ! id "$TEST_USER" >/dev/null 2>&1; then
        say "creating system user $TEST_USER"
        useradd -r -m -s /bin/sh "$TEST_USER"
    fi
    # the temporary tree lives under build/ when the test user can reach it
    # there (a /tmp glob cleanup elsewhere cannot pull it away mid-run)
    mkdir -p "$TOP/build"
    if runuser -u "$TEST_USER" -- test -x "$TOP/build"; then
        WORK=$(mktemp -d "$TOP/build/httpd-tests.XXXXXX")
    else
        WORK=$(mktemp -d /tmp/certmap-httpd-tests.XXXXXX)
    fi
    mkdir -p "$WORK/tree/modules" "$WORK/tree/tests"
    # only what the suite reads: the tests, the scripts, the runner
    (cd "$TOP" && tar cf - --exclude=t/logs --exclude=t/pki/out t scripts tests/ldap \
        tests/run-httpd-tests.sh tools/certmap) | (cd "$WORK/tree" && tar xf -)
    cp "$MODULE" "$WORK/tree/modules/mod_certmap.so"
    FALLBACK=""
    if [ -f "$TOP/.libs/mod_certmap.so" ]; then
        cp "$TOP/.libs/mod_certmap.so" "$WORK/tree/modules/mod_certmap-plain.so"
        FALLBACK=$WORK/tree/modules/mod_certmap-plain.so
    fi
    [ -d "$TOP/conf" ] && cp -r "$TOP/conf" "$WORK/tree/conf"
    chown -R "$TEST_USER" "$WORK"
    chmod 0755 "$WORK"
    say "running as $TEST_USER in $WORK/tree (module $MODULE)"
    rc=0
    runuser -u "$TEST_USER" -- env CERTMAP_TEST_INNER=1 \
        CERTMAP_MODULE="$WORK/tree/modules/mod_certmap.so" \
        CERTMAP_MODULE_FALLBACK="$FALLBACK" \
        CERTMAP_MPM="${CERTMAP_MPM:-event}" HOME="$WORK" \
        ${APACHE_TEST_PORT:+APACHE_TEST_PORT="$APACHE_TEST_PORT"} \
        CERTMAP_LDAP_PORTS="${CERTMAP_LDAP_PORTS:-}" \
        HTTPD="$HTTPD" APXS="$APXS" \
        sh "$WORK/tree/tests/run-httpd-tests.sh" "$@" || rc=$?
    # one directory per MPM: a full `make test` keeps all three
    LOGS=$TOP/build/httpd-test-logs/${CERTMAP_MPM:-event}
    rm -rf "$LOGS"
    mkdir -p "$LOGS"
    cp -r "$WORK/tree/t/logs/." "$LOGS/" 2>/dev/null || true
    say "logs copied to build/httpd-test-logs/${CERTMAP_MPM:-event}/"
    if [ $rc -eq 0 ] && [ "${CERTMAP_KEEP:-0}" != 1 ]; then
        rm -rf "$WORK"
    else
        say "tree kept in $WORK"
    fi
    exit $rc
fi

# ---- inner: the suite itself ------------------------------------------------
MODULE=$(pick_module)
cd "$TOP"
T=$TOP/t
PKI=$T/pki/out
sh "$TOP/scripts/make-pki.sh" "$PKI"

GEN=$PKI/gen
rm -rf "$GEN"
mkdir -p "$GEN/pam.d"

# -- PAM: pam_wrapper service directory, pam_matrix password database --------
[ -f "$PAM_WRAPPER_LIB" ] || die "$PAM_WRAPPER_LIB missing (apt-get install libpam-wrapper)"
[ -f "$PAM_MATRIX" ] || die "$PAM_MATRIX missing (apt-get install libpam-wrapper)"
for tpl in "$T"/pam/*.in; do
    [ -f "$tpl" ] || continue
    case $tpl in */passdb.in) continue ;; esac
    svc=$(basename "$tpl" .in)
    sed -e "s|@PAM_MATRIX@|$PAM_MATRIX|g" -e "s|@PASSDB@|$GEN/passdb|g" \
        -e "s|@PAM_EXEC@|$PAM_EXEC|g" -e "s|@GEN@|$GEN|g" \
        "$tpl" > "$GEN/pam.d/$svc"
done
cp "$T/pam/passdb.in" "$GEN/passdb"
cp "$T/pam/passdb.in" "$GEN/passdb.orig"
chmod 0600 "$GEN/passdb"
# a PAM stack that never answers (certmap-hang, t/45-logon-timeout.t): the
# script pam_exec runs records its pid and sleeps
printf '#!/bin/sh\necho $$ >> "%s/hang.pids"\nexec sleep 60\n' "$GEN" \
    > "$GEN/hang.sh"
chmod 0755 "$GEN/hang.sh"
# a password file (first line counts) and the env: password
printf 'filepw-Qx7k\nsecond line is not the password\n' > "$GEN/filepw.txt"
chmod 0600 "$GEN/filepw.txt"
ENV_PW='envpw-Mw3r'

# -- a private slapd for t/80-directory.t (tests/ldap/slapd.sh), stopped on
#    every way out of this script ----------------------------------------------
LDAP_DIR=$GEN/ldap
# beside Apache::Test's ports when those are given: APACHE_TEST_PORT+80..99
if [ -z "${CERTMAP_LDAP_PORTS:-}" ] && [ -n "${APACHE_TEST_PORT:-}" ]; then
    CERTMAP_LDAP_PORTS="$((APACHE_TEST_PORT + 80))-$((APACHE_TEST_PORT + 99))"
fi
export CERTMAP_LDAP_PORTS="${CERTMAP_LDAP_PORTS:-}"
trap 'sh "$TOP/tests/ldap/slapd.sh" stop "$LDAP_DIR"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
sh "$TOP/tests/ldap/slapd.sh" start "$LDAP_DIR" "$PKI"
. "$LDAP_DIR/env"
printf 'ldap-pw-Rt5v\n' > "$GEN/ldap-reader.pw"
chmod 0600 "$GEN/ldap-reader.pw"

# -- Basic authentication for the "passed on" rows ----------------------------
printf 'basicuser:{SHA}%s\n' \
    "$(printf 'basicpass' | openssl dgst -sha1 -binary | openssl base64 -A)" \
    > "$GEN/htpasswd"

# -- certificates as configuration text -------------------------------------
{
    echo "# generated by tests/run-httpd-tests.sh"
    for n in alice bob carol mallory unicode; do
        u=$(echo "$n" | tr '[:lower:]' '[:upper:]')
        echo "Define CERTMAP_${u}_B64 $(cat "$PKI/$n.b64")"
    done
} > "$GEN/blobs.conf"
# a CertMapOneToOneFile: an inline blob, a file: certificate, a comment
{
    echo "# generated by tests/run-httpd-tests.sh"
    echo
    echo "alice $(cat "$PKI/alice.b64")"
    echo "  bob file:pki/out/bob.crt"
} > "$GEN/o2o-file.txt"
# the alice blob cut in 64-character lines joined by httpd's "\" continuation
{
    echo "CertMapOneToOne alice \\"
    fold -w 64 "$PKI/alice.b64" | sed -e 's/$/\\/'
    echo ""
} > "$GEN/o2o-continued.conf"

# -- t/iis/: IIS configurations through `certmap import-iis`, one URL prefix
#    each, for t/95-iis-import.t (t/conf/iis_import.conf.in includes them) --
iis_import() {  # PREFIX SAMPLE [OPTIONS...]
    prefix=$1 sample=$2; shift 2
    sed -e "s|@ALICE_BLOB@|$(cat "$PKI/alice.b64")|" "$T/iis/$sample" \
        > "$GEN/$sample"
    "$TOP/tools/certmap" import-iis --prefix "/$prefix" "$@" "$GEN/$sample" \
        > "$GEN/iis-$prefix.conf" 2> "$GEN/iis-$prefix.err" \
        || die "certmap import-iis $sample: $(cat "$GEN/iis-$prefix.err")"
}
[ -x "$TOP/tools/certmap" ] || die "$TOP/tools/certmap missing (run make first)"
iis_import s1 two-sites.applicationHost.config --site "Contoso Site"
iis_import s2 app.web.config
iis_import s3 fragment.xml

# -- the hermetic module list Apache::Test "inherits" -------------------------
MPM=${CERTMAP_MPM:-event}
CGI=cgid
[ "$MPM" = prefork ] && CGI=cgi
{
    echo "# generated by tests/run-httpd-tests.sh: modules for the suite"
    for m in "mpm_$MPM" authn_core authn_file authz_core authz_host access_compat \
             authz_user auth_basic alias mime dir env setenvif headers \
             "$CGI" socache_shmcb socache_dbm socache_memcache socache_redis \
             ssl ldap http2 status; do
        echo "LoadModule ${m}_module $MODDIR/mod_$m.so"
    done
} > "$GEN/inherit.conf"

# -- sanitizers ------------------------------------------------------------------
ASAN_LIB=""
if ldd "$MODULE" 2>/dev/null | grep -q 'libasan'; then
    ASAN_LIB=$(gcc -print-file-name=libasan.so 2>/dev/null || true)
    case $ASAN_LIB in
        /*) [ -f "$ASAN_LIB" ] || ASAN_LIB="" ;;
        *) ASAN_LIB="" ;;
    esac
    if [ -z "$ASAN_LIB" ]; then
        ASAN_LIB=$(ldd "$MODULE" | awk '/libasan/ {print $3}')
    fi
    [ -n "$ASAN_LIB" ] || die "$MODULE needs libasan but it cannot be found"
fi
SANLOG=$T/logs/sanitizer
mkdir -p "$T/logs"
rm -f "$SANLOG".*

# -- the NULL-cipher shim (403.5), see t/lib/nullcipher_shim.c --------------
SHIM=""
if gcc -shared -fPIC -O1 -o "$GEN/nullcipher_shim.so" \
        "$T/lib/nullcipher_shim.c" -ldl 2>"$GEN/shim.err"; then
    SHIM=$GEN/nullcipher_shim.so
else
    say "cannot build t/lib/nullcipher_shim.c; the 403.5 vhost will not start:"
    cat "$GEN/shim.err"
fi

# -- httpd wrapper: the environment httpd (and only httpd) runs in ---------
cat > "$GEN/httpd" <<EOF
#!/bin/sh
# generated by tests/run-httpd-tests.sh
PRELOAD="$PAM_WRAPPER_LIB $SHIM"
if [ -n "$ASAN_LIB" ]; then
    PRELOAD="$ASAN_LIB $PAM_WRAPPER_LIB $SHIM"
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:disable_coredump=1:log_path=$SANLOG.asan:detect_odr_violation=0:allow_user_segv_handler=1"
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$SANLOG.ubsan"
    export ASAN_OPTIONS UBSAN_OPTIONS
fi
LD_PRELOAD="\$PRELOAD"
PAM_WRAPPER=1
PAM_WRAPPER_SERVICE_DIR="$GEN/pam.d"
CERTMAP_MODULE="$MODULE"
CERTMAP_GEN="$GEN"
CERTMAP_TEST_ENV_PW="$ENV_PW"
CERTMAP_LDAP_PORT="$CERTMAP_LDAP_PORT"
CERTMAP_LDAP_DOWN_PORT="$CERTMAP_LDAP_DOWN_PORT"
CERTMAP_TEST_LDAP_PW="ldap-pw-Rt5v"
export LD_PRELOAD PAM_WRAPPER PAM_WRAPPER_SERVICE_DIR CERTMAP_MODULE \\
    CERTMAP_GEN CERTMAP_TEST_ENV_PW CERTMAP_LDAP_PORT CERTMAP_LDAP_DOWN_PORT \\
    CERTMAP_TEST_LDAP_PW
exec "$HTTPD" "\$@"
EOF
chmod 0755 "$GEN/httpd"

# Does httpd load the module at all with the sanitizer runtime?  If not,
# say why and fall back to the plain module.
cat > "$GEN/probe.conf" <<EOF
ServerRoot "$GEN"
ServerName localhost
Include "$GEN/inherit.conf"
LoadModule certmap_module \${CERTMAP_MODULE}
Listen 127.0.0.1:9
PidFile "$GEN/probe.pid"
ErrorLog "$GEN/probe.log"
EOF
if [ -n "$ASAN_LIB" ]; then
    if ! out=$("$GEN/httpd" -t -f "$GEN/probe.conf" 2>&1); then
        say "httpd does not load $MODULE with $ASAN_LIB preloaded:"
        echo "$out" | head -5
        FALLBACK=${CERTMAP_MODULE_FALLBACK:-$TOP/.libs/mod_certmap.so}
        if [ -f "$FALLBACK" ]; then
            say "falling back to $FALLBACK (no sanitizers)"
            MODULE=$FALLBACK
            sed -i -e "s|^CERTMAP_MODULE=.*|CERTMAP_MODULE=\"$MODULE\"|" \
                -e 's|^    PRELOAD="[^"]*"$|    :|' "$GEN/httpd"
            ASAN_LIB=""
        else
            die "no fallback module"
        fi
    fi
fi
if ! out=$("$GEN/httpd" -t -f "$GEN/probe.conf" 2>&1); then
    say "httpd cannot load $MODULE:"
    echo "$out"
    exit 1
fi
say "module $MODULE${ASAN_LIB:+ (ASan/UBSan, $ASAN_LIB preloaded)}, MPM $MPM"

# -- Apache::Test ------------------------------------------------------------
cd "$T"
perl TEST.PL -clean >/dev/null 2>&1 || true
rc=0
perl TEST.PL -apxs "$APXS" -httpd "$GEN/httpd" -httpd_conf "$GEN/inherit.conf" \
    -port select "$@" || rc=$?

# -- sanitizer reports fail the run ----------------------------------------
bad=0
for f in "$SANLOG".*; do
    [ -f "$f" ] || continue
    say "sanitizer report in $f:"
    sed -n '1,60p' "$f"
    bad=1
done
SAN_RE='AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:'
CRASH_RE='exit signal (Segmentation|Aborted|Bus|Illegal)|caught SIG(SEGV|ABRT|BUS)'
if grep -q -E "$SAN_RE" "$T/logs/error_log" 2>/dev/null; then
    grep -n -E "$SAN_RE" "$T/logs/error_log" | head -20
    say "sanitizer output in t/logs/error_log"
    bad=1
fi
if grep -q -E "$CRASH_RE" "$T/logs/error_log" 2>/dev/null; then
    grep -n -E "$CRASH_RE" "$T/logs/error_log" | head -20
    say "a child crashed (see t/logs/error_log)"
    bad=1
fi
if [ $bad -ne 0 ] && [ $rc -eq 0 ]; then
    rc=1
fi
if [ $rc -ne 0 ]; then
    say "FAILED (exit $rc); logs in $T/logs"
else
    say "all tests passed"
fi
exit $rc
