#!/bin/sh
# run-apache-pam-root.sh — mod_certmap's PAM logon as an administrator gets
# it: Debian's own /usr/sbin/apache2 started as root with a private
# configuration, User a throw-away account that is NOT in group shadow, the
# shipped PAM file (conf/pam.d-certmap.unix: pam_unix) and real local
# accounts with real passwords.  The logon helper (certmap_logon_helper.c)
# must make password and account-only logons work there.
#
#   sh tests/pam-root/run-apache-pam-root.sh        (make test-apache-pam-root)
#
# Needs root (it creates system accounts and /etc/pam.d/certmap-rt-PID, and
# removes them on every way out); says so and passes nothing otherwise.
# Ends with "N passed, M failed".  Port: CERTMAP_ROOT_TEST_PORT (9790).
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
HTTPD=${HTTPD:-/usr/sbin/apache2}
MODDIR=/usr/lib/apache2/modules
PORT=${CERTMAP_ROOT_TEST_PORT:-9790}
MODULE=${CERTMAP_PLAIN_MODULE:-$TOP/.libs/mod_certmap.so}

if [ "$(id -u)" -ne 0 ]; then
    echo "run-apache-pam-root: skipped, needs root (creates accounts and a PAM service)"
    echo "0 passed, 0 failed"
    exit 0
fi

ID=$$
WEB=certmap-rtweb-$ID           # httpd's User: not in group shadow
OK=certmap-rtok-$ID             # a local account with a password
LOCKED=certmap-rtlk-$ID         # its password locked (usermod -L)
EXPIRED=certmap-rtex-$ID        # its account expired (chage -E 0)
SERVICE=certmap-rt-$ID
PAMFILE=/etc/pam.d/$SERVICE
PW="Rt-$ID-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
DIR=""
passed=0
failed=0

cleanup() {
    if [ -n "$DIR" ] && [ -f "$DIR/httpd.pid" ]; then
        "$HTTPD" -f "$DIR/httpd.conf" -k stop >/dev/null 2>&1
        i=0
        while [ -f "$DIR/httpd.pid" ] && [ $i -lt 50 ]; do
            sleep 0.1; i=$((i + 1))
        done
    fi
    for u in "$WEB" "$OK" "$LOCKED" "$EXPIRED"; do
        id "$u" >/dev/null 2>&1 && userdel -f "$u" >/dev/null 2>&1
    done
    rm -f "$PAMFILE"
    if [ -n "$DIR" ] && [ -z "${CERTMAP_KEEP:-}" ]; then rm -rf "$DIR"; fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

check() {       # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1)); echo "ok - $1"
    else
        failed=$((failed + 1)); echo "not ok - $1: expected '$2', got '$3'"
    fi
}

die() {
    echo "run-apache-pam-root: $*" >&2
    echo "$passed passed, $((failed + 1)) failed"
    exit 1
}

[ -x "$HTTPD" ] || die "$HTTPD missing"
[ -f "$MODULE" ] || die "$MODULE missing (run make)"

# ---- the world ----------------------------------------------------------------
DIR=$(mktemp -d /tmp/certmap-rt.XXXXXX) || die "mktemp"
chmod 0755 "$DIR"
useradd -r -M -s /usr/sbin/nologin -U "$WEB" || die "useradd $WEB"
for u in "$OK" "$LOCKED" "$EXPIRED"; do
    # ordinary accounts (uid >= 1000: the shipped PAM file refuses lower)
    useradd -M -s /usr/sbin/nologin "$u" || die "useradd $u"
    printf '%s:%s\n' "$u" "$PW" | chpasswd || die "chpasswd $u"
done
usermod -L "$LOCKED" || die "usermod -L"
chage -E 0 "$EXPIRED" || die "chage -E 0"
case " $(id -nG "$WEB") " in
    *" shadow "*) die "$WEB is in group shadow" ;;
esac
install -m 0644 "$TOP/conf/pam.d-certmap.unix" "$PAMFILE" || die "PAM file"

sh "$TOP/scripts/make-pki.sh" "$DIR/pki" >/dev/null || die "make-pki"
cp "$MODULE" "$DIR/mod_certmap.so"
mkdir -p "$DIR/htdocs" "$DIR/run"
echo ok > "$DIR/htdocs/index.html"
chmod -R a+rX "$DIR/htdocs"
CRT=$DIR/pki/alice.crt

location() {    # location PATH ACCOUNT [PASSWORD]
    cat <<EOF
    <Location $1>
        CertMapOneToOne $2 file:$CRT ${3:-}
    </Location>
EOF
}

{
    cat <<EOF
ServerRoot "$DIR"
ServerName localhost
DefaultRuntimeDir "$DIR/run"
PidFile "$DIR/httpd.pid"
ErrorLog "$DIR/error_log"
LogLevel warn certmap:info
User $WEB
Group $WEB
Listen 127.0.0.1:$PORT
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule authn_core_module $MODDIR/mod_authn_core.so
LoadModule authz_user_module $MODDIR/mod_authz_user.so
LoadModule headers_module $MODDIR/mod_headers.so
LoadModule mime_module $MODDIR/mod_mime.so
TypesConfig /etc/mime.types
LoadModule dir_module $MODDIR/mod_dir.so
LoadModule alias_module $MODDIR/mod_alias.so
LoadModule socache_shmcb_module $MODDIR/mod_socache_shmcb.so
LoadModule ssl_module $MODDIR/mod_ssl.so
LoadModule certmap_module $DIR/mod_certmap.so
DocumentRoot "$DIR/htdocs"
AliasMatch "^/[a-z-]+$" "$DIR/htdocs/index.html"
LogFormat "%>s %u %U" short
CustomLog "$DIR/access_log" short
<VirtualHost 127.0.0.1:$PORT>
    SSLEngine on
    SSLCertificateFile "$DIR/pki/server.crt"
    SSLCertificateKeyFile "$DIR/pki/server.key"
    SSLCACertificateFile "$DIR/pki/ca-bundle.pem"
    SSLVerifyClient require
    SSLVerifyDepth 3
    Header always set X-CM-Sub "expr=%{note:certmap-substatus}"
    Header always set X-CM-Remote-User "expr=%{REMOTE_USER}"
    <Location />
        CertMap On
        CertMapPAMService $SERVICE
        CertMapLogonCacheTimeout 0
        Require valid-user
    </Location>
EOF
    location /password "$OK" "$PW"
    location /wrong "$OK" "not-$PW"
    location /account "$OK"
    location /locked "$LOCKED" "$PW"
    location /expired "$EXPIRED" "$PW"
    location /expired-account "$EXPIRED"
    echo "</VirtualHost>"
} > "$DIR/httpd.conf"

"$HTTPD" -f "$DIR/httpd.conf" -t >"$DIR/configtest.out" 2>&1 \
    || { cat "$DIR/configtest.out"; die "configtest"; }
"$HTTPD" -f "$DIR/httpd.conf" -k start || die "apache2 does not start"
i=0
while ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/" \
        2>/dev/null && [ $i -lt 50 ]; do
    sleep 0.1; i=$((i + 1))
done

# ---- what runs as whom -----------------------------------------------------------
SOCK=$(ls "$DIR/run" | grep '^certmap-logon\.' | head -n 1)
check "the logon helper's socket exists" yes "$([ -S "$DIR/run/$SOCK" ] && echo yes)"
check "the socket is the web user's, mode 0600" "$WEB 600" \
    "$(stat -c '%U %a' "$DIR/run/$SOCK" 2>/dev/null)"
PARENT=$(cat "$DIR/httpd.pid")
HELPER=$(sed -n 's/.*CERTMAP200: logon helper \([0-9]*\) started.*/\1/p' "$DIR/error_log" | tail -n 1)
check "the logon helper runs as root" root "$(ps -o user= -p "$HELPER" 2>/dev/null | tr -d ' ')"
check "the logon helper is the parent's child" "$PARENT" \
    "$(ps -o ppid= -p "$HELPER" 2>/dev/null | tr -d ' ')"
WORKERS=$(ps -o user= --ppid "$PARENT" | sort -u | tr '\n' ' ')
case " $WORKERS " in
    *" $WEB "*) check "httpd's children run as $WEB" yes yes ;;
    *) check "httpd's children run as $WEB" "$WEB" "$WORKERS" ;;
esac

# ---- logons ------------------------------------------------------------------------
req() {         # req PATH -> "STATUS SUBSTATUS USER"
    curl -s -o /dev/null -D "$DIR/h" --max-time 20 \
        --cacert "$DIR/pki/root.crt" --cert "$DIR/pki/alice.chain.pem" \
        --key "$DIR/pki/alice.key" --resolve "localhost:$PORT:127.0.0.1" \
        -w '%{http_code}' "https://localhost:$PORT$1" > "$DIR/code"
    sub=$(sed -n 's/^[Xx]-[Cc][Mm]-[Ss]ub: *\([0-9]*\).*/\1/p' "$DIR/h" | tr -d '\r')
    usr=$(sed -n 's/^[Xx]-[Cc][Mm]-[Rr]emote-[Uu]ser: *\(.*\)/\1/p' "$DIR/h" | tr -d '\r')
    echo "$(cat "$DIR/code") ${sub:--} ${usr:--}"
}

check "password logon of a local account: 200 as the account" "200 0 $OK" "$(req /password)"
check "wrong password: 401.1" "401 1 -" "$(req /wrong)"
check "account-only logon: 200 as the account" "200 0 $OK" "$(req /account)"
check "locked account, password logon: 401.1" "401 1 -" "$(req /locked)"
check "expired account, password logon: 401.1" "401 1 -" "$(req /expired)"
check "expired account, account-only logon: 401.1" "401 1 -" "$(req /expired-account)"
check "the password is in no log" 0 \
    "$(cat "$DIR/error_log" "$DIR/access_log" | grep -c -F "$PW")"
check "no PAM error in the log (nothing needed the shadow file)" 0 \
    "$(grep -c 'certmap:error' "$DIR/error_log")"
check "no logon went through anything but the helper" 0 \
    "$(grep -c 'CERTMAP21[0-9]' "$DIR/error_log")"

# ---- supervision: the parent restarts a helper that dies, and replaces it
#      at a graceful restart -------------------------------------------------
helper_pid() {  # the newest helper that has announced itself
    sed -n 's/.*CERTMAP200: logon helper \([0-9]*\) started.*/\1/p' \
        "$DIR/error_log" | tail -n 1
}
wait_new_helper() {     # wait_new_helper OLD -> the new pid, or ""
    i=0
    while [ $i -lt 50 ]; do
        h=$(helper_pid)
        if [ -n "$h" ] && [ "$h" != "$1" ] && kill -0 "$h" 2>/dev/null; then
            echo "$h"; return
        fi
        sleep 0.1; i=$((i + 1))
    done
}
kill -KILL "$HELPER"
NEW=$(wait_new_helper "$HELPER")
check "a helper that dies is started again" yes "$([ -n "$NEW" ] && echo yes)"
check "... and says so" 1 "$(grep -c "CERTMAP202: the logon helper (pid $HELPER) died" "$DIR/error_log")"
check "logons work with the new helper" "200 0 $OK" "$(req /password)"
"$HTTPD" -f "$DIR/httpd.conf" -k graceful
NEWER=$(wait_new_helper "$NEW")
check "a graceful restart replaces the helper" yes "$([ -n "$NEWER" ] && echo yes)"
i=0
while kill -0 "$NEW" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "... and the old one is gone" gone "$(kill -0 "$NEW" 2>/dev/null || echo gone)"
sleep 0.5
check "logons work after the graceful restart" "200 0 $OK" "$(req /password)"
check "account-only logons too" "200 0 $OK" "$(req /account)"
check "one helper, not more" 1 \
    "$(ps -o user= --ppid "$(cat "$DIR/httpd.pid")" | tr -d ' ' | grep -cx root)"
"$HTTPD" -f "$DIR/httpd.conf" -k restart
NEWEST=$(wait_new_helper "$NEWER")
check "a restart replaces the helper" yes "$([ -n "$NEWEST" ] && echo yes)"
sleep 0.5
check "logons work after the restart" "200 0 $OK" "$(req /password)"
check "still one helper" 1 \
    "$(ps -o user= --ppid "$(cat "$DIR/httpd.pid")" | tr -d ' ' | grep -cx root)"

# timing: one real pam_unix logon through the helper, end to end
t0=$(date +%s%N)
for i in 1 2 3 4 5; do req /password >/dev/null; done
t1=$(date +%s%N)
echo "# 5 HTTPS requests with a pam_unix password logon each (no cache): $(( (t1 - t0) / 5000000 )) ms per request"

if [ "$failed" -ne 0 ]; then
    echo "--- error_log:"
    tail -n 30 "$DIR/error_log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
