#!/bin/sh
# bench/run-bench.sh — mod_certmap against bare mod_ssl (`make bench`).
#
# One httpd (event MPM) on loopback serves one small file in two places of
# one TLS virtual host (SSLVerifyClient require):
#   A  /a/  SSLUserName SSL_CLIENT_S_DN_CN + Require valid-user (the floor)
#   B  /b/  CertMap On, 10,000 one-to-one mappings (none matches the client)
#   F  /f/  the same CertMap location behind a TLS-terminating proxy: the
#           certificate forwarded (RFC 9440 header) from a trusted peer,
#           plain HTTP, keep-alive only
#           and 1,001 many-to-one mappings, the matching one last; PAM on
#           (pam_wrapper + pam_matrix) with CertMapLogonCacheTimeout 300
#           + Require valid-user
# `ab -E` drives both with the same client certificate, rounds alternating
# A,B,A,B..., over keep-alive and with a new TLS connection per request; it
# prints per-round req/s and server CPU per request, medians and ratios.
# Then directory mapping (CertMapDirectory) against a private slapd on
# loopback (tests/ldap/slapd.sh, tests/ldap/entries.sh, plus an entry for
# the bench's alice), one more httpd with:
#   A  /a/  SSLUserName SSL_CLIENT_S_DN_CN + Require valid-user (the floor)
#   D  /d/  CertMap On, CertMapPAM Off, CertMapDirectory On (IssuerSerial),
#           CertMapDirectoryCacheTimeout 300: the directory cache warm
#   U  /u/  the same, CertMapDirectoryCacheTimeout 0: one search a request
#   L  /l/  SSLUserName + mod_authnz_ldap (AuthLDAPURL, Require ldap-user
#           alice), mod_ldap's caches off: a search and a compare a request
#   S  /s/  the same with Require ldap-dn (DN compared locally, search only)
# rounds alternating A,D,U,L,S / S,L,U,D,A over keep-alive and new
# connections; httpd's CPU per request and, for U, L and S, slapd's; slapd's
# monitor counts the searches and compares of every round.
# Then the engine micro-benchmark (bench/bench_engine, if it builds), then
# load time and resident memory with 100,000 one-to-one mappings, then
# 1,000,000 one-to-one mappings from a file (scale).
# A benchmark, not a test: it exits 0 whether goals are met or missed
# (non-zero only when it cannot run).  Loopback only; httpd and slapd are
# stopped on every path.  Runs as root (httpd then runs entirely as `nobody`) or as a
# normal user.
#
# Knobs (environment):
#   BENCH_ROUNDS=7          rounds per configuration and mode
#   BENCH_ROUND_SECS=3      target length of one round (request count is
#                           calibrated from a warm-up)
#   BENCH_CONCURRENCY=4     ab -c
#   BENCH_PIN=1             server (httpd, slapd) on the first half of the
#                           CPUs, ab on the other (0: all share them)
#   BENCH_ONE_TO_ONE=10000  one-to-one mappings on the hot path
#   BENCH_MANY_TO_ONE=1000  non-matching many-to-one mappings before the hit
#   BENCH_LOAD_MAPPINGS=100000  one-to-one mappings for load time / memory
#   BENCH_SKIP=             space-separated sections to leave out:
#                           ka nc (hot path, keep-alive / new connection)
#                           growth (after ka) perf (after ka, and in dir)
#                           dir (directory mapping, both modes) engine load
#                           scale
#   BENCH_PERF_SECS=5       length of each perf record
#   BENCH_PREPARE_ONLY=1    write bench/out (PKI, configs) and stop
#                           (bench/profile.sh uses it)
#   APACHE=/usr/sbin/apache2  APXS=apxs
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
OUT=$HERE/out
ROUNDS=${BENCH_ROUNDS:-7}
ROUND_SECS=${BENCH_ROUND_SECS:-3}
CONC=${BENCH_CONCURRENCY:-4}
N_O2O=${BENCH_ONE_TO_ONE:-10000}
N_M2O=${BENCH_MANY_TO_ONE:-1000}
N_LOAD=${BENCH_LOAD_MAPPINGS:-100000}
N_SCALE=${BENCH_SCALE_MAPPINGS:-1000000}
SKIP=" ${BENCH_SKIP:-} "
APACHE=${APACHE:-/usr/sbin/apache2}
APXS=${APXS:-apxs}
MODULE=$TOP/.libs/mod_certmap.so
PAM_WRAPPER_LIB=${PAM_WRAPPER_LIB:-/usr/lib/x86_64-linux-gnu/libpam_wrapper.so}
PAM_MATRIX=${PAM_MATRIX:-$(dirname "$PAM_WRAPPER_LIB")/pam_wrapper/pam_matrix.so}

GOAL_KA=0.98
GOAL_NC=0.98
GOAL_LOAD_SECS=2
GOAL_BYTES=200
GOAL_MATCH_US=50
GOAL_SCALE_LOAD=5
GOAL_SCALE_BYTES=150
GOAL_SCALE_RESTART=5

say() { printf '%s\n' "$*"; }
die() { printf 'run-bench: %s\n' "$*" >&2; exit 1; }
skipped() { case $SKIP in *" $1 "*) return 0 ;; esac; return 1; }

# ---- prerequisites ------------------------------------------------------------
[ -f "$MODULE" ] || die "$MODULE missing: run make first"
[ -x "$APACHE" ] || die "$APACHE missing (apt-get install apache2)"
command -v ab >/dev/null 2>&1 || die "ab missing (apt-get install apache2-utils)"
command -v openssl >/dev/null 2>&1 || die "openssl missing"
[ -f "$PAM_WRAPPER_LIB" ] || die "$PAM_WRAPPER_LIB missing (apt-get install libpam-wrapper)"
[ -f "$PAM_MATRIX" ] || die "$PAM_MATRIX missing (apt-get install libpam-wrapper)"
MODDIR=$($APXS -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)
CC=${CC:-cc}
CLK_TCK=$(getconf CLK_TCK)

# Client and server on CPUs of their own (BENCH_PIN=0: shared, as before):
# with ab and httpd scheduled on the same cores, which of them a round's
# time slices went to moved the server's CPU per request by +-10 %; the
# server (httpd, the logon helper, slapd) gets the first half of the CPUs,
# ab the rest.
NCPU=$(nproc)
PIN_SERVER="" PIN_CLIENT=""
if [ "${BENCH_PIN:-1}" = 1 ] && [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    PIN_SERVER="taskset -c 0-$((NCPU / 2 - 1))"
    PIN_CLIENT="taskset -c $((NCPU / 2))-$((NCPU - 1))"
fi

# As root, httpd runs as nobody from the start (pam_wrapper's private copy
# of the PAM configuration must be readable by the process that logs on).
RUNAS=""
if [ "$(id -u)" -eq 0 ]; then
    RUNAS="setpriv --reuid=nobody --regid=nogroup --init-groups"
fi

mkdir -p "$OUT"
RUN=$OUT/run
rm -rf "$RUN"
mkdir -p "$RUN" "$OUT/conf" "$OUT/pam"
for d in a b p f d u l s; do mkdir -p "$OUT/htdocs/$d"; done
[ -n "$RUNAS" ] && chown nobody:nogroup "$RUN"

PIDS_TO_STOP=""
SLAPD_DIR=""        # the directory section's slapd, while it runs
stop_httpd() {  # PIDFILE
    if [ -f "$1" ]; then
        spid=$(cat "$1" 2>/dev/null || true)
        if [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null; then
            kill -TERM "$spid" 2>/dev/null || true
            i=0
            while kill -0 "$spid" 2>/dev/null && [ $i -lt 100 ]; do
                sleep 0.1; i=$((i + 1))
            done
            kill -KILL "$spid" 2>/dev/null || true
        fi
        rm -f "$1"
    fi
}
stop_slapd() {
    if [ -n "$SLAPD_DIR" ]; then
        sh "$TOP/tests/ldap/slapd.sh" stop "$SLAPD_DIR" >/dev/null 2>&1 || true
        SLAPD_DIR=""
    fi
}
# pam_wrapper makes its directory (/tmp/pam.X, a copy of bench/out/pam and
# the pid of the process that made it) in `apache2 -k start`, which exits
# at once without removing it; the server goes on using it.  Ours (naming
# bench/out/pam/passdb, made by a process that is gone) are removed once
# every httpd of this run is stopped.
pam_wrapper_tidy() {
    for pw in /tmp/pam.?; do
        [ -d "$pw" ] && grep -qsF "$OUT/pam/passdb" "$pw/certmap" || continue
        pwp=$(cat "$pw/pid" 2>/dev/null || true)
        if [ -n "$pwp" ] && kill -0 "$pwp" 2>/dev/null; then continue; fi
        rm -rf "$pw"
    done
}
cleanup() {
    for pf in $PIDS_TO_STOP; do stop_httpd "$pf"; done
    PIDS_TO_STOP=""
    stop_slapd
    pam_wrapper_tidy
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM HUP

# ---- PKI, certificate blobs, files, PAM ----------------------------------------
say "== preparing (bench/out)"
sh "$TOP/scripts/make-pki.sh" "$OUT/pki" >/dev/null
PKI=$OUT/pki
cat "$PKI/alice.crt" "$PKI/alice.key" > "$OUT/alice-client.pem"
cat "$PKI/bob.crt" "$PKI/bob.key" > "$OUT/bob-client.pem"
chmod 0644 "$OUT/alice-client.pem" "$OUT/bob-client.pem"

GEN=$OUT/gen_certs
if [ ! -x "$GEN" ] || [ "$HERE/gen_certs.c" -nt "$GEN" ]; then
    $CC -O2 -o "$GEN" "$HERE/gen_certs.c" -lcrypto || die "cannot build gen_certs"
fi
NBLOBS=$N_LOAD
[ "$N_O2O" -gt "$NBLOBS" ] && NBLOBS=$N_O2O
if ! skipped scale && [ "$N_SCALE" -gt "$NBLOBS" ]; then NBLOBS=$N_SCALE; fi
# a larger file already generated serves smaller runs too (its first lines)
for f in "$OUT"/blobs-*.txt; do
    [ -s "$f" ] || continue
    fn=${f##*/blobs-}; fn=${fn%.txt}
    case $fn in *[!0-9]*) continue ;; esac
    if [ "$fn" -gt "$NBLOBS" ] && [ "$f" -nt "$GEN" ]; then NBLOBS=$fn; fi
done
BLOBS=$OUT/blobs-$NBLOBS.txt
if [ ! -s "$BLOBS" ] || [ "$GEN" -nt "$BLOBS" ]; then
    say "   generating $NBLOBS distinct certificates"
    "$GEN" "$NBLOBS" > "$BLOBS.tmp" && mv "$BLOBS.tmp" "$BLOBS"
fi

# The same small file in every place.
head -c 128 /dev/zero | tr '\0' 'x' > "$OUT/htdocs/a/index.html"
for d in b p f d u l s; do cp "$OUT/htdocs/a/index.html" "$OUT/htdocs/$d/index.html"; done

# pam_matrix: alice may log on to service certmap with password "secret".
printf 'alice:secret:certmap\n' > "$OUT/pam/passdb"
printf 'auth    required %s passdb=%s\naccount required %s passdb=%s\n' \
    "$PAM_MATRIX" "$OUT/pam/passdb" "$PAM_MATRIX" "$OUT/pam/passdb" \
    > "$OUT/pam/certmap"
chmod 0644 "$OUT/pam/passdb" "$OUT/pam/certmap"

# One-to-one mapping files (none of them is alice's certificate).
o2o_conf() {  # N -> file name
    f=$OUT/conf/o2o-$1.conf
    if [ ! -s "$f" ] || [ "$BLOBS" -nt "$f" ]; then
        head -n "$1" "$BLOBS" | awk '{ printf "CertMapOneToOne bench-user-%07d %s\n", NR - 1, $0 }' > "$f"
    fi
    echo "$f"
}
# The same N mappings as a CertMapOneToOneFile (USER BLOB lines) and the
# one-line configuration that reads it.
o2o_file_conf() {  # N -> file name
    f=$OUT/conf/o2o-file-$1.conf
    m=$OUT/conf/o2o-file-$1.txt
    if [ ! -s "$m" ] || [ "$BLOBS" -nt "$m" ]; then
        head -n "$1" "$BLOBS" | awk '{ printf "bench-user-%07d %s\n", NR - 1, $0 }' > "$m"
    fi
    printf 'CertMapOneToOneFile "%s"\n' "$m" > "$f"
    echo "$f"
}
# Many-to-one: N realistic non-matching mappings, then the one for alice.
# Rules mix exact, case-insensitive and wildcard criteria, and some SAN
# and EKU rules (rules beyond IIS); half of them
# start with a rule alice's certificate satisfies, so the scan evaluates
# two rules before it moves on.
m2o_conf() {  # N -> file name
    f=$OUT/conf/m2o-$1.conf
    awk -v n="$1" 'BEGIN {
        for (i = 0; i < n; i++) {
            printf "<CertMapManyToOne dept-%d>\n", i
            printf "    CertMapUser dept-user-%d\n", i
            printf "    CertMapDescription \"Department %d\"\n", i
            k = i % 4
            if (i % 2 == 0)
                printf "    CertMapRule Issuer CN \"CertMap Test Root CA\"\n"
            if (k == 0) printf "    CertMapRule Subject OU Dept-%d\n", i
            if (k == 1) printf "    CertMapRule Subject OU dept-%d CaseInsensitive\n", i
            if (k == 2) printf "    CertMapRule Subject CN \"svc-%d-*\"\n", i
            if (k == 3) printf "    CertMapRule Subject O \"*Division %d*\" CaseInsensitive\n", i
            if (i % 2 == 1)
                printf "    CertMapRule Issuer O \"CertMap Test\"\n"
            # rules beyond IIS among them: SAN e-mail and DNS, EKU
            if (i % 10 == 5)
                printf "    CertMapRule SAN Email \"dept-%d@*\" CaseInsensitive\n", i
            if (i % 10 == 7)
                printf "    CertMapRule SAN DNS \"*.dept-%d.example\"\n", i
            if (i % 20 == 9)
                printf "    CertMapRule EKU clientAuth\n"
            printf "</CertMapManyToOne>\n"
        }
        printf "<CertMapManyToOne engineering>\n"
        printf "    CertMapUser alice secret\n"
        printf "    CertMapDescription \"Contoso engineering\"\n"
        printf "    CertMapRule Issuer CN \"CertMap Test Root CA\"\n"
        printf "    CertMapRule Subject O Contoso\n"
        printf "    CertMapRule Subject OU Engineering\n"
        printf "</CertMapManyToOne>\n"
    }' > "$f"
    echo "$f"
}

# ---- httpd -------------------------------------------------------------------------
free_port() {
    used=$(ss -Hltn 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }' || true)
    while :; do
        # 10700-10799: the port range this benchmark may use
        p=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 100 + 10700 ))
        case " $(echo $used) " in *" $p "*) continue ;; esac
        echo "$p"; return
    done
}

# write_conf FILE PORT TAG B-INCLUDES...
# Three locations on one TLS virtual host:
#   /a/  SSLUserName SSL_CLIENT_S_DN_CN + Require valid-user (the floor)
#   /b/  CertMap On, the B-INCLUDES' mappings, CertMapPAM Off
#   /p/  the same mappings, CertMapPAM On through the logon cache
# WC_MPM (event|worker|prefork, default event) picks the MPM.
# WC_DIR_URL (an LDAP URL: ldap://HOST:PORT/BASE?uid?sub) adds mod_ldap and
# mod_authnz_ldap, with mod_ldap's caches off, and four more locations:
#   /d/  CertMap On, CertMapPAM Off, CertMapDirectory On against that URL
#        (method IssuerSerial), CertMapDirectoryCacheTimeout 300
#   /u/  the same, CertMapDirectoryCacheTimeout 0 (no cache)
#   /l/  SSLUserName SSL_CLIENT_S_DN_CN + AuthLDAPURL + Require ldap-user
#        WC_DIR_USER (a search for the user's DN, then a compare)
#   /s/  the same with Require ldap-dn WC_DIR_DN, compared locally
#        (AuthLDAPCompareDNOnServer Off): the search alone
write_conf() {
    wc_file=$1 wc_port=$2 wc_tag=$3
    shift 3
    wc_mpm=${WC_MPM:-event}
    {
        cat <<EOF
# generated by bench/run-bench.sh
ServerRoot "$OUT"
ServerName localhost
PidFile "$RUN/httpd-$wc_tag.pid"
DefaultRuntimeDir "$RUN"
ErrorLog "$RUN/error-$wc_tag.log"
LogLevel warn
Listen 127.0.0.1:$wc_port
${WC_FPORT:+Listen 127.0.0.1:$WC_FPORT}
LoadModule mpm_${wc_mpm}_module "$MODDIR/mod_mpm_${wc_mpm}.so"
LoadModule authz_core_module "$MODDIR/mod_authz_core.so"
LoadModule authz_user_module "$MODDIR/mod_authz_user.so"
LoadModule authn_core_module "$MODDIR/mod_authn_core.so"
LoadModule socache_shmcb_module "$MODDIR/mod_socache_shmcb.so"
LoadModule ssl_module "$MODDIR/mod_ssl.so"
LoadModule certmap_module "$MODULE"
EOF
        if [ -n "${WC_DIR_URL:-}" ]; then
            cat <<EOF
LoadModule ldap_module "$MODDIR/mod_ldap.so"
LoadModule authnz_ldap_module "$MODDIR/mod_authnz_ldap.so"
# mod_ldap's search and compare caches off (0 entries: util_ldap keeps
# no cache for the URL at all): mod_authnz_ldap asks slapd every request
LDAPCacheEntries 0
LDAPOpCacheEntries 0
EOF
        fi
        cat <<EOF
# two fixed children: nothing forks or exits while we measure
StartServers 2
ServerLimit 2
MaxConnectionsPerChild 0
EOF
        if [ "$wc_mpm" = prefork ]; then
            cat <<EOF
MinSpareServers 2
MaxSpareServers 2
MaxRequestWorkers 2
EOF
        else
            cat <<EOF
ThreadLimit 16
ThreadsPerChild 16
MaxRequestWorkers 32
MinSpareThreads 1
MaxSpareThreads 32
EOF
        fi
        cat <<EOF
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 5
SSLSessionCache "shmcb:$RUN/ssl_scache-$wc_tag(512000)"
SSLRandomSeed startup builtin
DocumentRoot "$OUT/htdocs"
<VirtualHost 127.0.0.1:$wc_port>
    DocumentRoot "$OUT/htdocs"
    SSLEngine on
    SSLCertificateFile "$PKI/server.crt"
    SSLCertificateKeyFile "$PKI/server.key"
    SSLCACertificateFile "$PKI/ca-bundle.pem"
    SSLVerifyClient require
    SSLVerifyDepth 3
    <Location /a/>
        SSLUserName SSL_CLIENT_S_DN_CN
        Require valid-user
    </Location>
EOF
        if [ -n "${WC_DIR_URL:-}" ]; then
            for wc_loc in d u; do
                if [ $wc_loc = d ]; then wc_ct=300; else wc_ct=0; fi
                cat <<EOF
    <Location /$wc_loc/>
        CertMap On
        CertMapPAM Off
        CertMapDirectory On
        CertMapDirectoryURL "$WC_DIR_URL"
        CertMapDirectoryMatch IssuerSerial
        CertMapDirectoryCacheTimeout $wc_ct
        Require valid-user
    </Location>
EOF
            done
            cat <<EOF
    <Location /l/>
        SSLUserName SSL_CLIENT_S_DN_CN
        AuthLDAPURL "$WC_DIR_URL"
        Require ldap-user $WC_DIR_USER
    </Location>
    <Location /s/>
        SSLUserName SSL_CLIENT_S_DN_CN
        AuthLDAPURL "$WC_DIR_URL"
        AuthLDAPCompareDNOnServer Off
        Require ldap-dn $WC_DIR_DN
    </Location>
EOF
        fi
        for wc_loc in b p; do
            if [ $wc_loc = b ]; then wc_pam=Off; else wc_pam=On; fi
            cat <<EOF
    <Location /$wc_loc/>
        CertMap On
        CertMapPAM $wc_pam
        CertMapPAMService certmap
        CertMapLogonCacheTimeout 300
EOF
            if [ $wc_loc = b ] || [ -z "${WC_ONLY_B:-}" ]; then
                for inc in "$@"; do
                    printf '        Include "%s"\n' "$inc"
                done
            fi
            cat <<EOF
        Require valid-user
    </Location>
EOF
        done
        echo "</VirtualHost>"
        # F: behind a TLS-terminating proxy, the certificate forwarded in
        # an RFC 9440 header by a trusted peer (127.0.0.1), plain HTTP
        if [ -n "${WC_FPORT:-}" ]; then
            cat <<EOF
<VirtualHost 127.0.0.1:$WC_FPORT>
    DocumentRoot "$OUT/htdocs"
    CertMapTrustedProxy 127.0.0.1
    CertMapProxyHeader Client-Cert rfc9440
    CertMapProxyCACertificateFile "$PKI/ca-bundle.pem"
    <Location /f/>
        CertMap On
        CertMapPAM Off
EOF
            for inc in "$@"; do
                printf '        Include "%s"\n' "$inc"
            done
            cat <<EOF
        Require valid-user
    </Location>
</VirtualHost>
EOF
        fi
    } > "$wc_file"
}

httpd_env() {  # command... : runs it as httpd runs, pam_wrapper preloaded
               # (but with NO_PAM_WRAPPER=1, for a server that logs nobody on)
    if [ -n "${NO_PAM_WRAPPER:-}" ]; then
        $PIN_SERVER $RUNAS "$@"
        return
    fi
    env LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 \
        PAM_WRAPPER_SERVICE_DIR="$OUT/pam" $PIN_SERVER $RUNAS "$@"
}

# start_httpd CONF TAG PORT: starts, waits until it listens; sets SPORT
# to the port it listens on (another one when PORT was taken meanwhile:
# other programs pick ports too).
start_httpd() {
    sh_pidfile=$RUN/httpd-$2.pid
    PIDS_TO_STOP="$PIDS_TO_STOP $sh_pidfile"
    SPORT=$3
    tries=0
    while ! httpd_env timeout 120 "$APACHE" -f "$1" -k start 2> "$RUN/start-$2.err"; do
        tries=$((tries + 1))
        if [ $tries -lt 5 ] && grep -q "Address already in use" "$RUN/start-$2.err"; then
            np=$(free_port)
            sed -i "s/127\.0\.0\.1:$SPORT\([^0-9]\|\$\)/127.0.0.1:$np\1/g" "$1"
            SPORT=$np
            continue
        fi
        cat "$RUN/start-$2.err" >&2
        tail -5 "$RUN/error-$2.log" >&2 2>/dev/null || true
        die "httpd ($2) did not start"
    done
    i=0
    while :; do
        if [ -f "$sh_pidfile" ] && ss -Hltn 2>/dev/null | grep -q "127.0.0.1:$SPORT "; then
            break
        fi
        i=$((i + 1))
        [ $i -gt 600 ] && die "httpd ($2) not listening on $SPORT after 60 s"
        sleep 0.1
    done
    # the children are up once both have a pid
    i=0
    while [ "$(httpd_children "$(cat "$sh_pidfile")" | wc -w)" -lt 2 ] && [ $i -lt 100 ]; do
        sleep 0.1; i=$((i + 1))
    done
}

httpd_children() {  # PARENT-PID
    ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true
}

cpu_ticks() {  # PARENT-PID: utime+stime of httpd and its children
    for cp in "$1" $(httpd_children "$1"); do
        cat "/proc/$cp/stat" 2>/dev/null || true
    done | awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}

http_status() {  # CLIENT-PEM URL
    curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
        --cacert "$PKI/root.crt" --cert "$1" "$2" || echo 000
}

# run_ab MODE CONF URL N -> "rps cpu_us_per_req" ; checks every answer is 2xx
run_ab() {
    ra_mode=$1 ra_pid=$2 ra_url=$3 ra_n=$4
    ra_k=""
    [ "$ra_mode" = ka ] && ra_k="-k"
    t0=$(cpu_ticks "$ra_pid")
    case $ra_url in
        http:*) set -- -H "Client-Cert: :$(cat "$PKI/alice.b64"):" ;;
        *)      set -- -E "$OUT/alice-client.pem" ;;
    esac
    timeout 300 $PIN_CLIENT ab -q $ra_k -c "$CONC" -n "$ra_n" "$@" \
        "$ra_url" > "$RUN/ab.out" 2>&1 || { cat "$RUN/ab.out" >&2; die "ab failed on $ra_url"; }
    t1=$(cpu_ticks "$ra_pid")
    awk -v n="$ra_n" -v dt=$((t1 - t0)) -v hz="$CLK_TCK" '
        /^Complete requests:/ { done = $3 }
        /^Failed requests:/ { failed = $3 }
        /^Non-2xx responses:/ { non2xx = $3 }
        /^Requests per second:/ { rps = $4 }
        END {
            if (done != n || failed + 0 != 0 || non2xx + 0 != 0) {
                printf "ab: %s complete, %s failed, %s non-2xx\n", done, failed, non2xx > "/dev/stderr"
                exit 1
            }
            printf "%s %.1f\n", rps, dt * 1e6 / hz / n
        }' "$RUN/ab.out" || { cat "$RUN/ab.out" >&2; die "bad ab run on $ra_url"; }
}

median() {  # numbers on stdin
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 == 0) print "nan"; else printf "%.4f\n", b / a }'; }
okmiss() {  # VALUE OP LIMIT
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
        if (v == "nan" || v == "") { print "n/a"; exit }
        ok = (op == ">=") ? (v + 0 >= l + 0) : (op == "<") ? (v + 0 < l + 0) : (v + 0 <= l + 0)
        print ok ? "ok" : "MISS" }'
}

SUMMARY=$RUN/summary.txt
: > "$SUMMARY"
summary() {  # GOAL MEASURED LIMIT VERDICT
    printf '%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" >> "$SUMMARY"
}

# perf record of one configuration over keep-alive: the top of the
# children's samples by self time, the request hooks inclusive, and
# mod_certmap.so's own symbols.
PSECS=${BENCH_PERF_SECS:-5}
perf_ok() {
    command -v perf >/dev/null 2>&1 && perf record -q -o "$RUN/perf.probe" -- true >/dev/null 2>&1
}
perf_unavailable() {
    say "== perf record: perf missing or not permitted here (perf_event_paranoid $(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null)); skipped"
}
perf_one() {  # TAG URL NAME HTTPD-PID
    pids=$(httpd_children "$4" | tr '\n' ',' | sed 's/,$//')
    timeout 300 $PIN_CLIENT ab -q -k -c "$CONC" -t "$PSECS" -n 10000000 -E "$OUT/alice-client.pem" \
        "$2" > "$RUN/ab-perf-$1.out" 2>&1 &
    abpid=$!
    perf record -q -F 2999 -g -p "$pids" -o "$RUN/perf-$1.data" -- sleep "$PSECS" >/dev/null 2>&1 || true
    wait $abpid || true
    perf report -i "$RUN/perf-$1.data" --no-children --sort dso,symbol --percent-limit 0.7 \
        --stdio 2>/dev/null | grep -v '^#' | grep '%' | grep -v '^ *-' | grep -v '^ *|' \
        | head -25 > "$RUN/perf-$1.top" || true
    perf report -i "$RUN/perf-$1.data" --no-children --sort symbol --dsos mod_certmap.so \
        --stdio 2>/dev/null | grep -v '^#' | grep '%' | grep -v '^ *|' | head -15 > "$RUN/perf-$1.certmap" || true
    perf report -i "$RUN/perf-$1.data" --children --sort symbol --stdio 2>/dev/null \
        | grep -E '^ +[0-9.]+% +[0-9.]+% .*(certmap_check_access|certmap_tls_access|certmap_tls_read_request|certmap_check_user_first|certmap_directory_map|dir_cache_lookup|dir_lookup|certmap_cache_get|ldap_search_ext_s|ldapuser_check_authorization|uldap_cache_getuserdn|uldap_cache_compare|ssl_hook_UserCheck|ssl_hook_Access|ssl_var_lookup|ap_location_walk|ap_process_request_internal)' \
        | head -14 > "$RUN/perf-$1.hooks" || true
    say "   $3: top self (% of the children's samples):"
    sed 's/^/     /' "$RUN/perf-$1.top" | head -12
    say "   $3: hooks, inclusive (children% self%):"
    sed 's/^/     /' "$RUN/perf-$1.hooks"
    if [ -s "$RUN/perf-$1.certmap" ]; then
        say "   $3: mod_certmap.so, self:"
        sed 's/^/     /' "$RUN/perf-$1.certmap" | head -8
    fi
}

# ---- 1. hot path: A (SSLUserName) vs B (CertMap) vs P (CertMap + PAM) -------------
PORT=$(free_port)
CONF=$OUT/conf/hot.conf
O2O=$(o2o_conf "$N_O2O")
M2O=$(m2o_conf "$N_M2O")
FPORT=$(free_port)
while [ "$FPORT" = "$PORT" ]; do FPORT=$(free_port); done
WC_FPORT=$FPORT write_conf "$CONF" "$PORT" hot "$O2O" "$M2O"
if [ -n "${BENCH_PREPARE_ONLY:-}" ]; then
    say "   prepared $CONF (port $PORT)"
    exit 0
fi
cfg_url() {  # CFG -> URL
    case $1 in A) echo "$URL_A" ;; B) echo "$URL_B" ;; F) echo "$URL_F" ;; *) echo "$URL_P" ;; esac
}
cfg_name() {
    case $1 in A) echo "SSLUserName" ;; B) echo "CertMap" ;; F) echo "forwarded by a proxy" ;; *) echo "CertMap+PAM" ;; esac
}
RESULTS=$RUN/rounds.txt
: > "$RESULTS"
if ! skipped ka || ! skipped nc; then
    say "== hot path: one httpd on 127.0.0.1:$PORT; B and P: $N_O2O one-to-one + $((N_M2O + 1)) many-to-one mappings"
    start_httpd "$CONF" hot "$PORT"
    PORT=$SPORT
    HPID=$(cat "$RUN/httpd-hot.pid")
    URL_A=https://127.0.0.1:$PORT/a/index.html
    URL_B=https://127.0.0.1:$PORT/b/index.html
    URL_P=https://127.0.0.1:$PORT/p/index.html
    URL_F=http://127.0.0.1:$FPORT/f/index.html

    # Sanity: all answer alice; B really maps (bob has no mapping: 403).
    sa=$(http_status "$OUT/alice-client.pem" "$URL_A")
    sb=$(http_status "$OUT/alice-client.pem" "$URL_B")
    sp=$(http_status "$OUT/alice-client.pem" "$URL_P")
    sbob=$(http_status "$OUT/bob-client.pem" "$URL_B")
    say "   sanity: A alice=$sa  B alice=$sb  P alice=$sp  B bob (unmapped)=$sbob"
    [ "$sa" = 200 ] && [ "$sb" = 200 ] && [ "$sp" = 200 ] || { tail -20 "$RUN/error-hot.log" >&2; die "A, B and P must all answer 200"; }
    [ "$sbob" = 403 ] || say "   WARNING: unmapped bob got $sbob on B, expected 403"

    for mode in ka nc; do
        skipped "$mode" && continue
        if [ "$mode" = ka ]; then label="keep-alive"; short=$label; wn=2000
        else label="new TLS connection per request"; short="new TLS conn./request"; wn=200; fi
        # warm-up on all (fills the logon cache, faults pages in) and
        # calibration of the request count from A
        run_ab "$mode" "$HPID" "$URL_P" "$wn" >/dev/null
        run_ab "$mode" "$HPID" "$URL_B" "$wn" >/dev/null
        [ "$mode" = ka ] && run_ab ka "$HPID" "$URL_F" "$wn" >/dev/null
        warm=$(run_ab "$mode" "$HPID" "$URL_A" "$wn")
        rps=${warm%% *}
        n=$(awk -v r="$rps" -v s="$ROUND_SECS" 'BEGIN { n = int(r * s / 100) * 100; if (n < 200) n = 200; if (n > 500000) n = 500000; print n }')
        say "== $label: ab -c $CONC -n $n per round, $ROUNDS rounds, order A,B,P then B,P,A then P,A,B, in turn"
        printf '   %-6s %-3s %12s %14s\n' round cfg "req/s" "server CPU/req"
        r=1
        while [ $r -le "$ROUNDS" ]; do
            # F (forwarded, plain HTTP) on keep-alive only: a new
            # connection has no TLS handshake there to compare
            # each configuration in each place of the round in turn (a
            # place has its own bias: the one before it leaves TIME_WAIT
            # sockets and a warm or cold cache behind)
            case $((r % 3)) in
                1) order="A B P" ;;
                2) order="B P A" ;;
                *) order="P A B" ;;
            esac
            [ "$mode" = ka ] && order="$order F"
            for cfg in $order; do
                res=$(run_ab "$mode" "$HPID" "$(cfg_url $cfg)" "$n")
                printf '   %-6s %-3s %12s %11s us\n' "$r" "$cfg" "${res%% *}" "${res##* }"
                echo "$mode $cfg $r $res" >> "$RESULTS"
            done
            r=$((r + 1))
        done
        ma=$(awk -v m="$mode" '$1 == m && $2 == "A" { print $4 }' "$RESULTS" | median)
        ca=$(awk -v m="$mode" '$1 == m && $2 == "A" { print $5 }' "$RESULTS" | median)
        if [ "$mode" = ka ]; then goal=$GOAL_KA; else goal=$GOAL_NC; fi
        cfgs="B P"
        [ "$mode" = ka ] && cfgs="B P F"
        for cfg in $cfgs; do
            mb=$(awk -v m="$mode" -v c=$cfg '$1 == m && $2 == c { print $4 }' "$RESULTS" | median)
            cb=$(awk -v m="$mode" -v c=$cfg '$1 == m && $2 == c { print $5 }' "$RESULTS" | median)
            # per-round pairs, as a robustness check: A_r / X_r of CPU
            pr=$(awk -v m="$mode" -v c=$cfg '$1 == m { v[$2, $3] = $5 } END { for (k = 1; (("A", k) in v); k++) if ((c, k) in v && v[c, k] > 0) print v["A", k] / v[c, k] }' "$RESULTS" | median)
            rt=$(ratio "$ma" "$mb")
            cr=$(ratio "$cb" "$ca")
            say "   $(cfg_name $cfg): median req/s A $ma  $cfg $mb (ratio $rt); server CPU/req A $ca us  $cfg $cb us ($(awk -v a="$ca" -v b="$cb" 'BEGIN { printf "%+.1f", b - a }') us); A/$cfg $cr, median of per-round A/$cfg $pr"
            v=$(okmiss "$cr" ">=" "$goal")
            lim=">= $goal"
            # F parses and verifies the forwarded certificate on every
            # request (no TLS session carries it): reported, not a goal
            if [ "$cfg" = F ]; then v=info; lim="-"; fi
            summary "server CPU/req A/$cfg ($(cfg_name $cfg)), $short" "$cr ($ca -> $cb us; per-round $pr)" "$lim" "$v"
            summary "  (info) throughput $cfg/A, $short" "$rt" "-" "info"
        done
    done
    # No per-request growth: the children's resident memory across many
    # more keep-alive requests, A and B alternating, twice each; the first
    # pair warms allocators and threads up, the second is the measure, and
    # A (httpd and mod_ssl alone) is the baseline for B.
    if ! skipped ka && ! skipped growth; then
        rss_sum() { t=0; for cp in $(httpd_children "$HPID"); do
                t=$((t + $(awk '/^VmRSS:/ { print $2 }' "/proc/$cp/status"))); done; echo $t; }
        GROW_N=${BENCH_GROWTH_REQUESTS:-40000}
        for pass in 1 2; do
            for cfg in A P; do
                url=$(cfg_url $cfg)
                g0=$(rss_sum)
                run_ab ka "$HPID" "$url" "$GROW_N" >/dev/null
                g1=$(rss_sum)
                eval "GROW_$cfg=$(awk -v a="$g0" -v b="$g1" -v n="$GROW_N" 'BEGIN { printf "%.3f", (b - a) * 1024 / n }')"
                say "   memory, pass $pass, $cfg: children's RSS $g0 kB -> $g1 kB over $GROW_N keep-alive requests"
            done
        done
        say "== memory growth per request (second pass): A $GROW_A B, P $GROW_P B"
        GROW_D=$(awk -v a="$GROW_A" -v b="$GROW_P" 'BEGIN { printf "%.3f", b - a }')
        summary "memory growth per request, P minus A" "$GROW_D B (A $GROW_A, P $GROW_P)" "< 1 B" "$(okmiss "$GROW_D" "<" 1)"
    fi
    # perf record of the keep-alive case: where the server's cycles go,
    # A and P separately, mod_certmap's own symbols and the top of each.
    if ! skipped ka && ! skipped perf; then
        if perf_ok; then
            say "== perf record, keep-alive, $PSECS s each (bench/out/run/perf-*.data)"
            for cfg in A B P; do
                perf_one "$cfg" "$(cfg_url $cfg)" "$(cfg_name $cfg)" "$HPID"
            done
        else
            perf_unavailable
        fi
    fi
    grep -v -e 'AH01909' "$RUN/error-hot.log" | grep -e ':error\]' -e ':crit\]' -e ':emerg\]' | head -5 || true
    stop_httpd "$RUN/httpd-hot.pid"
fi

# ---- 1b. directory mapping: CertMapDirectory against mod_authnz_ldap -----------
# A private slapd (tests/ldap/slapd.sh: its configuration, schema and the
# test entries of tests/ldap/entries.sh, loopback only, here with the
# monitor database) plus one entry for the bench's alice that both sides
# find: altSecurityIdentities X509:<I>issuer<SR>serial (CertMapDirectoryMatch
# IssuerSerial) and uid=alice (mod_authnz_ldap's search for SSLUserName's
# CN).  One httpd (write_conf with WC_DIR_URL) serves A, D, U, L and S.
# Every round records, besides httpd's CPU, slapd's CPU and the searches
# and compares slapd completed (its monitor), per request: U, L and S must
# reach slapd on every request, D never.
DIR_RESULTS=$RUN/dir-rounds.txt
: > "$DIR_RESULTS"
GOAL_DIR_WARM=0.98
GOAL_DIR_LDAP=1.0
dir_url() {  # CFG -> URL
    case $1 in A) d=a ;; D) d=d ;; U) d=u ;; L) d=l ;; *) d=s ;; esac
    echo "https://127.0.0.1:$DPORT/$d/index.html"
}
dir_name() {
    case $1 in
        A) echo "SSLUserName" ;;
        D) echo "CertMap directory, cache warm" ;;
        U) echo "CertMap directory, uncached" ;;
        L) echo "mod_authnz_ldap, Require ldap-user" ;;
        *) echo "mod_authnz_ldap, Require ldap-dn" ;;
    esac
}
# "searches compares binds" slapd completed so far (the monitor's
# counters; a read's own bind counts in it, its search in the next read)
dir_ops() {
    ldapsearch -x -LLL -o ldif-wrap=no -H "$LDAP_URI" -b "cn=Operations,cn=Monitor" \
        -s one '(|(cn=Search)(cn=Compare)(cn=Bind))' monitorOpCompleted 2>/dev/null \
    | awk '/^dn: cn=Search,/ { k = "s" } /^dn: cn=Compare,/ { k = "c" } /^dn: cn=Bind,/ { k = "b" }
           /^monitorOpCompleted:/ { v[k] = $2 }
           END { if (!("s" in v)) exit 1; print v["s"] + 0, v["c"] + 0, v["b"] + 0 }'
}
# dir_run CFG MODE N -> "rps httpd_us slapd_us searches/req compares/req binds/req"
dir_run() {
    dr_o0=$(dir_ops) || die "cannot read slapd's monitor"
    dr_s0=$(cpu_ticks "$SLAPD_PID")
    dr_res=$(run_ab "$2" "$DPID" "$(dir_url "$1")" "$3")
    dr_s1=$(cpu_ticks "$SLAPD_PID")
    dr_o1=$(dir_ops) || die "cannot read slapd's monitor"
    echo "$dr_res $dr_o0 $dr_o1" | awk -v n="$3" -v dt=$((dr_s1 - dr_s0)) -v hz="$CLK_TCK" '{
        printf "%s %s %.1f %.3f %.3f %.3f\n", $1, $2, dt * 1e6 / hz / n,
               ($6 - $3 - 1) / n, ($7 - $4) / n, ($8 - $5 - 1) / n }'
}
dir_med() {  # MODE CFG COLUMN -> median over the rounds
    awk -v m="$1" -v c="$2" -v k="$3" '$1 == m && $2 == c { print $k }' "$DIR_RESULTS" | median
}
dir_sum_med() {  # MODE CFG -> median over the rounds of httpd + slapd CPU
    awk -v m="$1" -v c="$2" '$1 == m && $2 == c { print $5 + $6 }' "$DIR_RESULTS" | median
}
dir_pair() {  # MODE NUM DEN -> median of the per-round NUM_r/DEN_r of httpd CPU
    awk -v m="$1" -v a="$2" -v b="$3" '$1 == m { v[$2, $3] = $5 }
        END { for (k = 1; ((a, k) in v); k++) if ((b, k) in v && v[b, k] > 0) print v[a, k] / v[b, k] }' "$DIR_RESULTS" | median
}
dir_missing=""
if ! skipped dir; then
    for c in slapd slapadd ldapsearch ldapadd perl; do
        command -v "$c" >/dev/null 2>&1 || dir_missing="$dir_missing $c"
    done
    for m in mod_ldap.so mod_authnz_ldap.so; do
        [ -f "$MODDIR/$m" ] || dir_missing="$dir_missing $MODDIR/$m"
    done
    if [ -n "$dir_missing" ]; then
        say "== directory mapping: skipped, missing:$dir_missing (apt-get install slapd ldap-utils)"
        summary "dir: A/D, L/U" "not run (missing$dir_missing)" "-" "n/a"
    fi
fi
if ! skipped dir && [ -z "$dir_missing" ]; then
    say "== directory mapping: a private slapd (tests/ldap/slapd.sh) on loopback"
    SLAPD_DIR=$RUN/ldap
    CERTMAP_SLAPD_MONITOR=1 CERTMAP_LDAP_PORTS=${CERTMAP_LDAP_PORTS:-10700-10799} \
        $PIN_SERVER sh "$TOP/tests/ldap/slapd.sh" start "$SLAPD_DIR" "$PKI" > "$RUN/slapd-start.log" 2>&1 \
        || { cat "$RUN/slapd-start.log" >&2; die "slapd did not start"; }
    LDAP_PORT=$(sed -n 's/^CERTMAP_LDAP_PORT=//p' "$SLAPD_DIR/env")
    SLAPD_PID=$(cat "$SLAPD_DIR/slapd.pid")
    LDAP_URI=ldap://127.0.0.1:$LDAP_PORT
    LDAP_BASE=ou=people,dc=certmap,dc=test
    ALICE_DN=uid=alice,$LDAP_BASE
    # alice as Active Directory writes a certificate: the issuer most
    # significant RDN first, the serial's bytes reversed, upper-case hex
    a_issuer=$(openssl x509 -in "$PKI/alice.crt" -noout -issuer -nameopt sep_comma_plus | sed 's/^issuer=//')
    a_serial=$(openssl x509 -in "$PKI/alice.crt" -noout -serial | sed 's/^serial=//')
    [ $((${#a_serial} % 2)) -eq 0 ] || a_serial=0$a_serial
    a_sr=$(echo "$a_serial" | sed 's/../& /g' | awk '{ for (i = NF; i > 0; i--) printf "%s", toupper($i); print "" }')
    printf 'dn: %s\nobjectClass: inetOrgPerson\nobjectClass: certmapAccount\nuid: alice\ncn: alice\nsn: bench\naltSecurityIdentities: X509:<I>%s<SR>%s\n' \
        "$ALICE_DN" "$a_issuer" "$a_sr" > "$RUN/alice.ldif"
    # slapd.sh's administrator, from the configuration it wrote
    sed -n 's/^rootpw *//p' "$SLAPD_DIR/slapd.conf" | tr -d '\n' > "$RUN/ldap-root.pw"
    ldapadd -x -H "$LDAP_URI" -D "$(sed -n 's/^rootdn *//p' "$SLAPD_DIR/slapd.conf" | tr -d '"')" \
        -y "$RUN/ldap-root.pw" -f "$RUN/alice.ldif" > "$RUN/ldapadd.log" 2>&1 \
        || { cat "$RUN/ldapadd.log" >&2; die "cannot add alice to the directory"; }
    say "   slapd $LDAP_URI (pid $SLAPD_PID), $ALICE_DN: X509:<I>$a_issuer<SR>$a_sr"

    DPORT=$(free_port)
    WC_FPORT="" WC_DIR_URL="$LDAP_URI/$LDAP_BASE?uid?sub" WC_DIR_USER=alice WC_DIR_DN=$ALICE_DN \
        write_conf "$OUT/conf/dir.conf" "$DPORT" dir
    # PAM is off in every location measured here: no pam_wrapper
    NO_PAM_WRAPPER=1 start_httpd "$OUT/conf/dir.conf" dir "$DPORT"
    DPORT=$SPORT
    DPID=$(cat "$RUN/httpd-dir.pid")
    say "   httpd on 127.0.0.1:$DPORT: A /a/ SSLUserName, D /d/ directory cached, U /u/ uncached, L /l/ ldap-user, S /s/ ldap-dn"

    # Sanity: alice everywhere; carol is in the directory by SKI and her
    # certificate only (U asks IssuerSerial: 403.16); bob is not alice
    # (L and S: mod_authz_core refuses, 403).
    cat "$PKI/carol.crt" "$PKI/carol.key" > "$OUT/carol-client.pem"
    chmod 0644 "$OUT/carol-client.pem"
    line=""
    for cfg in A D U L S; do
        st=$(http_status "$OUT/alice-client.pem" "$(dir_url $cfg)")
        line="$line $cfg=$st"
        [ "$st" = 200 ] || { say "   sanity: alice:$line"; tail -20 "$RUN/error-dir.log" >&2; die "$(dir_name $cfg) (/$(echo $cfg | tr A-Z a-z)/) answers $st for alice, not 200"; }
    done
    scu=$(http_status "$OUT/carol-client.pem" "$(dir_url U)")
    sbl=$(http_status "$OUT/bob-client.pem" "$(dir_url L)")
    sbs=$(http_status "$OUT/bob-client.pem" "$(dir_url S)")
    say "   sanity: alice:$line; carol U=$scu, bob L=$sbl S=$sbs (403 expected)"
    [ "$scu" = 403 ] || say "   WARNING: carol got $scu on U, expected 403"
    [ "$sbl" = 403 ] && [ "$sbs" = 403 ] || say "   WARNING: bob got $sbl on L and $sbs on S, expected 403"

    # Before measuring: what reaches slapd per request, from its monitor.
    # D must not search (the cache is warm: alice's request above stored
    # it); U, L and S must search every time, L compare too.
    vl=""
    for cfg in D U L S; do
        v=$(dir_run "$cfg" ka 200)
        set -- $v
        vl="$vl $cfg $4 s + $5 c;"
        eval "CHK_$cfg=\"$4 $5\""
    done
    say "   slapd operations per keep-alive request (200 each; s = searches, c = compares):$vl"
    echo "$CHK_D $CHK_U $CHK_L $CHK_S" | awk '{ exit !($1 <= 0.01 && $3 >= 1 && $5 >= 1 && $6 >= 1 && $7 >= 1) }' \
        || die "the directory check failed: D must not search, U, L and S must search on every request (and L compare)"

    for mode in ka nc; do
        if [ "$mode" = ka ]; then label="keep-alive"; short=$label; wn=500
        else label="new TLS connection per request"; short="new TLS conn./request"; wn=100; fi
        # warm-up, and each configuration's request count from its own rate
        for cfg in A D U L S; do
            w=$(dir_run "$cfg" "$mode" "$wn")
            eval "DIR_N_$cfg=$(awk -v r="${w%% *}" -v s="$ROUND_SECS" 'BEGIN { n = int(r * s / 100) * 100; if (n < 200) n = 200; if (n > 500000) n = 500000; print n }')"
        done
        say "== directory, $label: ab -c $CONC, $ROUNDS rounds of about $ROUND_SECS s (A $DIR_N_A, D $DIR_N_D, U $DIR_N_U, L $DIR_N_L, S $DIR_N_S requests), order A,D,U,L,S then D,U,L,S,A and so on, in turn"
        printf '   %-6s %-3s %10s %12s %12s %10s %10s\n' round cfg "req/s" "httpd CPU" "slapd CPU" "searches" "compares"
        r=1
        while [ $r -le "$ROUNDS" ]; do
            # each configuration in each place of the round in turn
            order=$(echo A D U L S | awk -v k=$(((r - 1) % 5)) '{ for (i = 0; i < NF; i++) printf "%s ", $((i + k) % NF + 1) }')
            for cfg in $order; do
                eval "n=\$DIR_N_$cfg"
                res=$(dir_run "$cfg" "$mode" "$n")
                set -- $res
                printf '   %-6s %-3s %10s %9s us %9s us %10s %10s\n' "$r" "$cfg" "$1" "$2" "$3" "$4" "$5"
                echo "$mode $cfg $r $res" >> "$DIR_RESULTS"
            done
            r=$((r + 1))
        done
        for cfg in A D U L S; do
            eval "M_$cfg=$(dir_med $mode $cfg 4) C_$cfg=$(dir_med $mode $cfg 5) K_$cfg=$(dir_med $mode $cfg 6)"
        done
        # shellcheck disable=SC2154
        ad=$(ratio "$C_D" "$C_A"); ad_r=$(dir_pair "$mode" A D)
        lu=$(ratio "$C_U" "$C_L"); lu_r=$(dir_pair "$mode" L U)
        tul=$(ratio "$M_L" "$M_U")
        lus=$(ratio "$(dir_sum_med "$mode" U)" "$(dir_sum_med "$mode" L)")
        su_=$(ratio "$C_U" "$C_S")
        sus=$(ratio "$(dir_sum_med "$mode" U)" "$(dir_sum_med "$mode" S)")
        tus=$(ratio "$M_S" "$M_U")
        say "   A/D (httpd CPU, SSLUserName / directory cache warm): $ad ($C_A -> $C_D us; per-round $ad_r); throughput D/A $(ratio "$M_A" "$M_D")"
        say "   L/U (httpd CPU, ldap-user / directory uncached): $lu ($C_L vs $C_U us; per-round $lu_r); with slapd $lus ($C_L+$K_L vs $C_U+$K_U us); throughput U/L $tul ($M_U vs $M_L req/s)"
        say "   S/U (httpd CPU, ldap-dn search only / uncached): $su_ ($C_S vs $C_U us); with slapd $sus; throughput U/S $tus"
        summary "dir A/D server CPU/req, warm, $short" "$ad ($C_A -> $C_D us; per-round $ad_r)" ">= $GOAL_DIR_WARM" "$(okmiss "$ad" ">=" "$GOAL_DIR_WARM")"
        # "At least as fast": more requests a second, and no more CPU for
        # the server side as a whole (httpd and the directory it asks:
        # ldap-user's compare is paid by slapd); httpd's share alone is
        # shown too (on a new connection the handshake swamps it)
        summary "dir U/L throughput, $short" "$tul ($M_U vs $M_L req/s)" ">= $GOAL_DIR_LDAP" "$(okmiss "$tul" ">=" "$GOAL_DIR_LDAP")"
        summary "dir L/U httpd+slapd CPU/req, $short" "$lus ($C_L+$K_L vs $C_U+$K_U us)" ">= $GOAL_DIR_LDAP" "$(okmiss "$lus" ">=" "$GOAL_DIR_LDAP")"
        summary "  (info) dir L/U httpd CPU/req, $short" "$lu ($C_L vs $C_U us; per-round $lu_r)" "-" "info"
        summary "  (info) dir S/U (ldap-dn), $short" "CPU $su_, +slapd $sus, tput U/S $tus" "-" "info"
    done
    # every round of U, L and S reached slapd, and D's never (but for an
    # expired cache entry now and then: CertMapDirectoryCacheTimeout 300)
    ops=$(awk '{ k = $2; if (!(k in lo) || $7 < lo[k]) lo[k] = $7; if ($7 > hi[k]) hi[k] = $7
                 if (k == "L" && (!("c" in lo) || $8 < lo["c"])) lo["c"] = $8 }
               END { ok = (lo["U"] >= 1 && lo["L"] >= 1 && lo["S"] >= 1 && lo["c"] >= 1 && hi["D"] <= 0.01)
                     printf "%s|searches/req U %.3f-%.3f, L %.3f-%.3f (+%.3f cmp), S %.3f-%.3f, D <= %.3f\n",
                            ok ? "ok" : "MISS", lo["U"], hi["U"], lo["L"], hi["L"], lo["c"], lo["S"], hi["S"], hi["D"] }' "$DIR_RESULTS")
    say "   slapd, every round: ${ops#*|}"
    summary "dir: U, L, S reach slapd every request, D never" "${ops#*|}" "U,L,S >= 1; D 0" "${ops%%|*}"
    # where httpd's cycles go on keep-alive: A, D (what the warm cache
    # costs over A), U and L (a search a request, ours and mod_ldap's)
    if ! skipped perf; then
        if perf_ok; then
            say "== perf record, directory, keep-alive, $PSECS s each (bench/out/run/perf-dir-*.data)"
            for cfg in A D U L; do
                perf_one "dir-$cfg" "$(dir_url $cfg)" "$(dir_name $cfg)" "$DPID"
            done
        else
            perf_unavailable
        fi
    fi
    # (AH01630: bob refused on L and S, the sanity check above)
    grep -v -e 'AH01909' -e 'AH01630' "$RUN/error-dir.log" | grep -e ':error\]' -e ':crit\]' -e ':emerg\]' | head -5 || true
    stop_httpd "$RUN/httpd-dir.pid"
    stop_slapd
fi

# ---- 2. engine micro-benchmarks ----------------------------------------------------------------
if ! skipped engine; then
    say "== engine micro-benchmarks (bench/bench_engine)"
    if [ -f "$HERE/bench_engine.c" ] && (cd "$TOP" && make -s bench/bench_engine >"$RUN/bench_engine.build" 2>&1); then
        if (cd "$TOP" && timeout 300 "$HERE/bench_engine") > "$RUN/bench_engine.out" 2>&1; then
            sed 's/^/   /' "$RUN/bench_engine.out"
        else
            sed 's/^/   /' "$RUN/bench_engine.out"
            say "   bench_engine failed"
        fi
        # a line naming 10,000 many-to-one mappings and a time in us
        mu=$(awk '/^many_to_one_10000_us:/ { print $2; exit }' "$RUN/bench_engine.out")
        [ -n "$mu" ] || mu=$(grep -i 'many' "$RUN/bench_engine.out" | grep -E '10 ?000|10,000|10k' \
             | grep -o -E '[0-9]+(\.[0-9]+)? *(us|µs)' | head -1 | grep -o -E '^[0-9.]+' || true)
        if [ -n "$mu" ]; then
            summary "match vs 10,000 many-to-one (bench_engine)" "$mu us" "< $GOAL_MATCH_US us" "$(okmiss "$mu" "<" "$GOAL_MATCH_US")"
        else
            summary "match vs 10,000 many-to-one (bench_engine)" "see bench_engine output" "< $GOAL_MATCH_US us" "n/a"
        fi
    else
        say "   bench/bench_engine not available:"
        sed 's/^/   /' "$RUN/bench_engine.build" 2>/dev/null | tail -5 || true
        summary "match vs 10,000 many-to-one (bench_engine)" "not built" "< $GOAL_MATCH_US us" "n/a"
    fi
fi

# The same rule mix as B's many-to-one mappings, which the exact-value
# index cannot narrow (bench/bench_match_mix.c), at 1,001 and 10,001.
if ! skipped engine; then
    say "== engine: certmap_match against B's rule mix (bench/bench_match_mix)"
    MIX=$OUT/bench_match_mix
    if (cd "$TOP" && $CC -Wall -Wextra -std=gnu11 -O2 -g -I. \
            $(apr-1-config --cflags --cppflags --includes) $(apu-1-config --includes) \
            -o "$MIX" bench/bench_match_mix.c certmap_rules.c \
            $(apr-1-config --link-ld) $(apu-1-config --link-ld) \
            -lssl -lcrypto -lunistring -lpcre2-8) > "$RUN/mix.build" 2>&1 \
       && timeout 300 "$MIX" "$PKI/alice.crt" "$N_M2O" 10000 > "$RUN/mix.out" 2>&1; then
        sed 's/^/   /' "$RUN/mix.out"
        mx=$(awk '/^many_to_one_mix_10001_us:/ { print $2 }' "$RUN/mix.out")
        summary "match vs 10,001 many-to-one, B's rule mix" "$mx us" "< $GOAL_MATCH_US us" "$(okmiss "$mx" "<" "$GOAL_MATCH_US")"
    else
        sed 's/^/   /' "$RUN/mix.build" "$RUN/mix.out" 2>/dev/null | tail -5
        summary "match vs 10,001 many-to-one, B's rule mix" "failed" "< $GOAL_MATCH_US us" "n/a"
    fi
fi

# ---- 3. load time and memory with N_LOAD one-to-one mappings ------------------------------
# median wall time of `apache2 -t` over 3 runs, in seconds
configtest_secs() {  # CONF
    for k in 1 2 3; do
        s0=$(date +%s%N)
        httpd_env timeout 120 "$APACHE" -t -f "$1" >/dev/null 2>&1 || { echo nan; return; }
        s1=$(date +%s%N)
        echo $(( (s1 - s0) / 1000 ))
    done | median | awk '{ if ($1 == "nan") print "nan"; else printf "%.3f\n", $1 / 1e6 }'
}
# kB: "child-rss child-pss parent-rss" (children averaged)
memory_kb() {  # PARENT-PID
    ch=$(httpd_children "$1")
    crss=0 cpss=0 nch=0
    for cp in $ch; do
        crss=$((crss + $(awk '/^VmRSS:/ { print $2 }' "/proc/$cp/status")))
        cpss=$((cpss + $(awk '/^Pss:/ { print $2 }' "/proc/$cp/smaps_rollup" 2>/dev/null || echo 0)))
        nch=$((nch + 1))
    done
    [ $nch -gt 0 ] || nch=1
    prss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status")
    echo "$((crss / nch)) $((cpss / nch)) $prss"
}
if ! skipped load; then
    say "== load time and memory: $N_LOAD one-to-one mappings vs none"
    O2OL=$(o2o_conf "$N_LOAD")
    say "   mapping file: $(wc -c < "$O2OL") bytes"
    # httpd's own share: the same lines with a core directive that keeps
    # only a pointer to its argument (AddDefaultCharset BLOB)
    TREE=$OUT/conf/tree-$N_LOAD.conf
    if [ ! -s "$TREE" ] || [ "$O2OL" -nt "$TREE" ]; then
        awk '{ print "AddDefaultCharset " $3 }' "$O2OL" > "$TREE"
    fi
    WC_ONLY_B=1     # the mappings once, in /b/ only
    P0=$(free_port); write_conf "$OUT/conf/load0.conf" "$P0" load0
    P1=$(free_port); write_conf "$OUT/conf/load1.conf" "$P1" load1 "$O2OL"
    P2=$(free_port); write_conf "$OUT/conf/load2.conf" "$P2" load2 "$TREE"
    P3=$(free_port); write_conf "$OUT/conf/load3.conf" "$P3" load3 "$(o2o_file_conf "$N_LOAD")"
    t0=$(configtest_secs "$OUT/conf/load0.conf")
    t1=$(configtest_secs "$OUT/conf/load1.conf")
    t2=$(configtest_secs "$OUT/conf/load2.conf")
    t3=$(configtest_secs "$OUT/conf/load3.conf")
    [ "$t1" = nan ] && { httpd_env "$APACHE" -t -f "$OUT/conf/load1.conf" 2>&1 | tail -3 >&2; }
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { if (a == "nan" || b == "nan") print "nan"; else printf "%.3f\n", b - a }')
    say "   apache2 -t (median of 3): none $t0 s, $N_LOAD mappings $t1 s, difference $dt s"
    say "   (httpd alone reading the same $N_LOAD lines as AddDefaultCharset: $t2 s)"
    summary "load $N_LOAD one-to-one (apache2 -t delta)" "$dt s" "< $GOAL_LOAD_SECS s" "$(okmiss "$dt" "<" "$GOAL_LOAD_SECS")"
    # mod_certmap's own share: what the same lines cost httpd without us
    # (reading and keeping the configuration tree) taken away
    own_t=$(awk -v d="$dt" -v a="$t0" -v b="$t2" 'BEGIN { if (d == "nan" || b == "nan") print "nan"; else printf "%.3f\n", d - (b - a) }')
    summary "  load, mod_certmap's own share (minus httpd alone)" "$own_t s" "< $GOAL_LOAD_SECS s" "$(okmiss "$own_t" "<" "$GOAL_LOAD_SECS")"
    dt3=$(awk -v a="$t0" -v b="$t3" 'BEGIN { if (a == "nan" || b == "nan") print "nan"; else printf "%.3f\n", b - a }')
    say "   CertMapOneToOneFile with the same $N_LOAD mappings: $t3 s, difference $dt3 s"
    summary "load $N_LOAD one-to-one, CertMapOneToOneFile" "$dt3 s" "< $GOAL_LOAD_SECS s" "$(okmiss "$dt3" "<" "$GOAL_LOAD_SECS")"

    for tag in load0 load1 load2 load3; do
        case $tag in load0) p=$P0 ;; load1) p=$P1 ;; load2) p=$P2 ;; *) p=$P3 ;; esac
        s0=$(date +%s%N)
        start_httpd "$OUT/conf/$tag.conf" "$tag" "$p"
        p=$SPORT
        s1=$(date +%s%N)
        lpid=$(cat "$RUN/httpd-$tag.pid")
        # one request to B and one to A on each child's worth of connections
        for k in 1 2 3 4; do
            http_status "$OUT/alice-client.pem" "https://127.0.0.1:$p/a/index.html" >/dev/null
        done
        sleep 0.5
        mem=$(memory_kb "$lpid")
        say "   $tag: start to listening $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }') s; child VmRSS/Pss $(echo "$mem" | awk '{ print $1 " / " $2 }') kB, parent VmRSS $(echo "$mem" | awk '{ print $3 }') kB"
        eval "MEM_$tag=\"$mem\""
        stop_httpd "$RUN/httpd-$tag.pid"
    done
    WC_ONLY_B=""
    # shellcheck disable=SC2154
    bpm=$(echo "$MEM_load0 $MEM_load1" | awk -v n="$N_LOAD" '{ printf "%.0f\n", ($4 - $1) * 1024 / n }')
    bpp=$(echo "$MEM_load0 $MEM_load1" | awk -v n="$N_LOAD" '{ printf "%.0f\n", ($5 - $2) * 1024 / n }')
    bpar=$(echo "$MEM_load0 $MEM_load1" | awk -v n="$N_LOAD" '{ printf "%.0f\n", ($6 - $3) * 1024 / n }')
    btree=$(echo "$MEM_load0 $MEM_load2" | awk -v n="$N_LOAD" '{ printf "%.0f\n", ($4 - $1) * 1024 / n }')
    bfile=$(echo "$MEM_load0 $MEM_load3" | awk -v n="$N_LOAD" '{ printf "%.0f\n", ($4 - $1) * 1024 / n }')
    say "   resident per mapping: child RSS $bpm B, child Pss $bpp B, parent RSS $bpar B"
    say "   (httpd alone, same lines as AddDefaultCharset: child RSS $btree B per line)"
    summary "memory per one-to-one mapping (child RSS)" "$bpm B" "<= $GOAL_BYTES B" "$(okmiss "$bpm" "<=" "$GOAL_BYTES")"
    summary "memory per one-to-one mapping, CertMapOneToOneFile (child RSS)" "$bfile B" "<= $GOAL_BYTES B" "$(okmiss "$bfile" "<=" "$GOAL_BYTES")"
    own_b=$((bpm - btree))
    summary "  memory, mod_certmap's own share (minus httpd alone)" "$own_b B" "<= $GOAL_BYTES B" "$(okmiss "$own_b" "<=" "$GOAL_BYTES")"
    summary "  (info) child Pss / parent RSS per mapping" "$bpp B / $bpar B" "-" "info"
    summary "  (info) httpd alone, same lines (AddDefaultCharset)" "$t2 s, $btree B/line" "-" "info"
fi

# ---- 4. scale: N_SCALE one-to-one mappings from a CertMapOneToOneFile --------------
# Load time (apache2 -t, difference to none), bytes per mapping (the
# parent's RSS difference / N), each worker and prefork child's private
# memory (Private_Clean + Private_Dirty of smaps_rollup: pages not shared
# with the parent or a sibling) with the mappings vs without, and the time
# a graceful restart takes until a new-generation child answers.
private_kb() {  # PID: Private_Clean + Private_Dirty, kB
    awk '/^Private_(Clean|Dirty):/ { t += $2 } END { print t + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
if ! skipped scale; then
    say "== scale: $N_SCALE one-to-one mappings, CertMapOneToOneFile"
    SM=$OUT/conf/scale-$N_SCALE.txt
    if [ ! -s "$SM" ] || [ "$BLOBS" -nt "$SM" ]; then
        # the generated certificates, then alice's own as the last line
        { head -n "$((N_SCALE - 1))" "$BLOBS" | awk '{ printf "bench-user-%07d %s\n", NR - 1, $0 }'
          printf 'alice %s\n' "$(openssl x509 -in "$PKI/alice.crt" -outform DER | base64 -w0)"
        } > "$SM.tmp" && mv "$SM.tmp" "$SM"
    fi
    printf 'CertMapOneToOneFile "%s"\n' "$SM" > "$OUT/conf/scale-$N_SCALE.conf"
    say "   mapping file: $(wc -c < "$SM") bytes, $(wc -l < "$SM") lines"
    WC_ONLY_B=1
    WC_MPM=worker
    S0=$(free_port); write_conf "$OUT/conf/scale0.conf" "$S0" scale0
    S1=$(free_port); write_conf "$OUT/conf/scale1.conf" "$S1" scale1 "$OUT/conf/scale-$N_SCALE.conf"
    st0=$(configtest_secs "$OUT/conf/scale0.conf")
    st1=$(configtest_secs "$OUT/conf/scale1.conf")
    sdt=$(awk -v a="$st0" -v b="$st1" 'BEGIN { if (a == "nan" || b == "nan") print "nan"; else printf "%.3f\n", b - a }')
    say "   apache2 -t (median of 3): none $st0 s, $N_SCALE mappings $st1 s, load $sdt s"
    summary "scale: load $N_SCALE one-to-one (CertMapOneToOneFile)" "$sdt s" "< $GOAL_SCALE_LOAD s" "$(okmiss "$sdt" "<" "$GOAL_SCALE_LOAD")"
    for mpm in worker prefork; do
        WC_MPM=$mpm
        for k in 0 1; do
            tag=scale$k-$mpm
            p=$(free_port)
            if [ $k = 0 ]; then write_conf "$OUT/conf/$tag.conf" "$p" "$tag"
            else write_conf "$OUT/conf/$tag.conf" "$p" "$tag" "$OUT/conf/scale-$N_SCALE.conf"; fi
            s0=$(date +%s%N)
            start_httpd "$OUT/conf/$tag.conf" "$tag" "$p"
            p=$SPORT
            s1=$(date +%s%N)
            spid=$(cat "$RUN/httpd-$tag.pid")
            # each child serves mapped requests (B maps alice one-to-one
            # when the mappings are loaded) on new connections
            for j in 1 2 3 4 5 6; do
                http_status "$OUT/alice-client.pem" "https://127.0.0.1:$p/b/index.html" >/dev/null
                http_status "$OUT/alice-client.pem" "https://127.0.0.1:$p/a/index.html" >/dev/null
            done
            sb=$(http_status "$OUT/alice-client.pem" "https://127.0.0.1:$p/b/index.html")
            sleep 0.3
            prss=$(rss_kb "$spid")
            cpriv=0 nch=0
            for cp in $(httpd_children "$spid"); do
                cpriv=$((cpriv + $(private_kb "$cp"))); nch=$((nch + 1))
            done
            [ $nch -gt 0 ] || nch=1
            cpriv=$((cpriv / nch))
            say "   $mpm, $([ $k = 0 ] && echo none || echo "$N_SCALE mappings"): started in $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }') s; parent RSS $prss kB; child private $cpriv kB (avg of $nch); B alice=$sb"
            eval "SC_PRSS_$k=$prss SC_CPRIV_$k=$cpriv"
            if [ $k = 1 ]; then
                # graceful restart: until a child of the new generation answers
                old=" $(httpd_children "$spid" | tr '\n' ' ') "
                g0=$(date +%s%N)
                kill -USR1 "$spid"
                gdone=""
                i=0
                while [ $i -lt 1200 ]; do
                    for cp in $(httpd_children "$spid"); do
                        case $old in *" $cp "*) ;; *) gdone=1 ;; esac
                    done
                    if [ -n "$gdone" ] && [ "$(http_status "$OUT/alice-client.pem" "https://127.0.0.1:$p/b/index.html")" = 200 ]; then
                        break
                    fi
                    gdone=""
                    sleep 0.05; i=$((i + 1))
                done
                g1=$(date +%s%N)
                gs=$(awk -v a="$g0" -v b="$g1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
                [ $i -lt 1200 ] || gs=nan
                say "   $mpm, graceful restart with $N_SCALE mappings: $gs s to a new child answering"
                summary "scale: graceful restart, $N_SCALE mappings, $mpm" "$gs s" "< $GOAL_SCALE_RESTART s" "$(okmiss "$gs" "<" "$GOAL_SCALE_RESTART")"
            fi
            stop_httpd "$RUN/httpd-$tag.pid"
        done
        bpm=$(awk -v a="$SC_PRSS_0" -v b="$SC_PRSS_1" -v n="$N_SCALE" 'BEGIN { printf "%.0f\n", (b - a) * 1024 / n }')
        dpriv=$((SC_CPRIV_1 - SC_CPRIV_0))
        say "   $mpm: parent RSS $SC_PRSS_0 -> $SC_PRSS_1 kB: $bpm B per mapping; child private $SC_CPRIV_0 -> $SC_CPRIV_1 kB ($dpriv kB more)"
        summary "scale: bytes per mapping (parent RSS), $mpm" "$bpm B" "<= $GOAL_SCALE_BYTES B" "$(okmiss "$bpm" "<=" "$GOAL_SCALE_BYTES")"
        summary "scale: child private memory, mappings - none, $mpm" "$dpriv kB ($SC_CPRIV_0 -> $SC_CPRIV_1)" "< 1024 kB" "$(okmiss "$dpriv" "<" 1024)"
    done
    WC_ONLY_B=""
    WC_MPM=""
fi

# ---- summary ----------------------------------------------------------------------------
say ""
if [ -n "$PIN_SERVER" ]; then
    say "== summary ($(date -u +%Y-%m-%dT%H:%MZ), $NCPU CPUs: server on ${PIN_SERVER#taskset -c }, ab on ${PIN_CLIENT#taskset -c }, ab -c $CONC)"
else
    say "== summary ($(date -u +%Y-%m-%dT%H:%MZ), $NCPU CPUs shared by ab and httpd, ab -c $CONC)"
fi
awk -F'|' 'BEGIN { printf "%-52s | %-28s | %-10s | %s\n", "goal", "measured", "limit", "ok/miss"
                   printf "%-52s-+-%-28s-+-%-10s-+-%s\n", "----------------------------------------------------", "----------------------------", "----------", "-------" }
           { printf "%-52s | %-28s | %-10s | %s\n", $1, $2, $3, $4 }' "$SUMMARY"
# ---- the issue's table, printed last ------------------------------------------------------
if [ -s "$RESULTS" ]; then
    say ""
    say "== server CPU per request (median of $ROUNDS rounds, us; user+system of all httpd processes / requests)"
    printf '   %-24s %12s %12s %14s %10s %10s\n' "" "SSLUserName" "CertMap" "CertMap+PAM" "A/B" "A/(B+PAM)"
    for mode in ka nc; do
        grep -q "^$mode " "$RESULTS" || continue
        if [ "$mode" = ka ]; then label="keep-alive"; else label="new TLS connection"; fi
        ca=$(awk -v m="$mode" '$1 == m && $2 == "A" { print $5 }' "$RESULTS" | median)
        cb=$(awk -v m="$mode" '$1 == m && $2 == "B" { print $5 }' "$RESULTS" | median)
        cp=$(awk -v m="$mode" '$1 == m && $2 == "P" { print $5 }' "$RESULTS" | median)
        printf '   %-24s %12s %12s %14s %10s %10s\n' "$label" "$ca" "$cb" "$cp" "$(ratio "$cb" "$ca")" "$(ratio "$cp" "$ca")"
    done
fi
if [ -s "$DIR_RESULTS" ]; then
    say ""
    say "== directory mapping, CPU per request (median of $ROUNDS rounds, us; httpd: all its processes, slapd: its process)"
    say "   A SSLUserName, D CertMapDirectory cache warm, U uncached, L mod_authnz_ldap ldap-user (search + compare), S ldap-dn (search)"
    printf '   %-20s %9s %9s %9s %9s %9s %8s %8s\n' "" A D U L S "A/D" "L/U"
    for mode in ka nc; do
        grep -q "^$mode " "$DIR_RESULTS" || continue
        if [ "$mode" = ka ]; then say "   keep-alive"; else say "   new TLS connection per request"; fi
        for row in httpd slapd sum req/s; do
            vals=""
            for cfg in A D U L S; do
                case $row in
                    httpd) v=$(dir_med "$mode" "$cfg" 5) ;;
                    slapd) v=$(dir_med "$mode" "$cfg" 6) ;;
                    sum)   v=$(dir_sum_med "$mode" "$cfg") ;;
                    *)     v=$(dir_med "$mode" "$cfg" 4) ;;
                esac
                vals="$vals $v"
                eval "T_$cfg=$v"
            done
            if [ "$row" = "req/s" ]; then
                # throughput the same way round (>= 1 is good): D/A, U/L
                r1=$(ratio "$T_A" "$T_D"); r2=$(ratio "$T_L" "$T_U"); rl="  req/s (D/A, U/L)"
            elif [ "$row" = slapd ]; then
                r1="-"; r2=$(ratio "$T_U" "$T_L"); rl="  slapd CPU, us"
            else
                r1=$(ratio "$T_D" "$T_A"); r2=$(ratio "$T_U" "$T_L"); rl="  $row CPU, us"
            fi
            # shellcheck disable=SC2086
            printf '   %-20s %9s %9s %9s %9s %9s %8s %8s\n' "$rl" $vals "$r1" "$r2"
        done
    done
fi
exit 0
