#!/bin/sh
# system-test.sh DEB — the package on this very system, through Debian's own
# apache2, following README's "Install on a server" as written.  CHANGES THE
# SYSTEM (installs, enables, starts apache2, purges): run only where that is
# allowed (tests/deb/run-deb-tests.sh calls it with CERTMAP_TEST_SYSTEM=1,
# which .ci/run sets on CI's throwaway machine).  Puts everything back:
# the enabled modules/configurations/sites, apache2 running or not, and
# /etc/apache2 to the byte (checksum compared).
#
# Environment:
#   CERTMAP_TEST_REINSTALL_DEPS=1  first purge libapache2-mod-perl2 so that
#                                  install-deps.sh really installs a package
#                                  whose postinst runs a2enmod (needs apt's
#                                  sources; CI only)
#   CERTMAP_TEST_SYSTEM_PAM=0      skips README's PAM step (local accounts,
#                                  CertMapPAM On)
#   CERTMAP_TEST_HTTPS_PORT, CERTMAP_TEST_HTTP_PORT  (9843, 9880)
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
DEB=${1:?usage: system-test.sh DEB}
HTTPS_PORT=${CERTMAP_TEST_HTTPS_PORT:-9843}
HTTP_PORT=${CERTMAP_TEST_HTTP_PORT:-9880}
PKG=libapache2-mod-certmap
STATE=$(mktemp -d /tmp/certmap-system-test.XXXXXX)
LOG=$STATE/steps.log
FAILS=0

say() { echo "system-test: $*"; }
ok() { echo "ok   - $*"; }
nok() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
check() { d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }

[ "$(id -u)" -eq 0 ] || { say "needs root"; exit 1; }
command -v apache2ctl >/dev/null || { say "apache2 is not installed"; exit 1; }
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'ok installed'; then
    say "$PKG is installed already: not touching an administrator's package"
    exit 1
fi
for p in "$HTTPS_PORT" "$HTTP_PORT"; do
    if ss -ltnH "sport = :$p" | grep -q .; then
        say "port $p is in use"; exit 1
    fi
done

# the system apache2 (its pid file), not any other httpd on the machine
sys_running() {
    pid=$(cat /var/run/apache2/apache2.pid 2>/dev/null) && [ -n "$pid" ] \
        && kill -0 "$pid" 2>/dev/null
}

etc_sum() {  # every file, link and mode under /etc/apache2
    (cd /etc/apache2 && find . -printf '%p %y %m %l\n' | sort \
        && find . -type f -print0 | sort -z | xargs -0 md5sum) | md5sum | cut -d' ' -f1
}

# ---- before ----------------------------------------------------------------
sh "$TOP/scripts/apache2-state.sh" save "$STATE"
SUM_BEFORE=$(etc_sum)
tar -C / -cf "$STATE/var-lib-apache2.tar" var/lib/apache2
cp -p /etc/apache2/ports.conf "$STATE/ports.conf"
USERS_BEFORE=""
for u in alice sales; do id "$u" >/dev/null 2>&1 && USERS_BEFORE="$USERS_BEFORE $u"; done
say "state before: $(tr '\n' ' ' < "$STATE/apache2-state")"
was_running=0
grep -qx 'service running' "$STATE/apache2-state" && was_running=1

restore_all() {
    [ -n "${RESTORED:-}" ] && return 0
    RESTORED=1
    say "restoring the system"
    apache2ctl stop >/dev/null 2>&1 || true
    i=0
    while sys_running && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    a2dissite -q -f intranet >/dev/null 2>&1 || true
    rm -f /etc/apache2/sites-available/intranet.conf
    rm -rf /etc/apache2/certmap /var/log/apache2/intranet-access.log \
        /var/log/apache2/intranet-error.log
    if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q installed; then
        apt-get purge -y -q "$PKG" >> "$LOG" 2>&1 || dpkg --purge "$PKG" >> "$LOG" 2>&1
    fi
    for u in alice sales; do
        case " $USERS_BEFORE " in *" $u "*) ;; *)
            id "$u" >/dev/null 2>&1 && deluser --remove-home "$u" >/dev/null 2>&1 ;;
        esac
    done
    cp -p "$STATE/ports.conf" /etc/apache2/ports.conf
    sh "$TOP/scripts/apache2-state.sh" restore "$STATE"
    # a2dismod as the admin leaves "disabled by admin" marks: put back
    # apache2's own bookkeeping too
    rm -rf /var/lib/apache2
    tar -C / -xf "$STATE/var-lib-apache2.tar"
}
trap 'restore_all; rm -rf "$STATE"' EXIT
trap 'exit 130' INT TERM HUP

# If apache2 runs, stop it for the test (restarted at the end).
if [ $was_running -eq 1 ]; then
    say "stopping the running apache2 for the test"
    apache2ctl stop
    sleep 1
fi

# ---- install-deps.sh leaves the system apache2 as it was -----------------
if [ "${CERTMAP_TEST_REINSTALL_DEPS:-0}" = 1 ]; then
    say "purging libapache2-mod-perl2 so that install-deps.sh installs it again"
    apt-get purge -y -q libapache2-mod-perl2 >> "$LOG" 2>&1
    sh "$TOP/scripts/apache2-state.sh" save "$STATE/deps"
else
    mkdir -p "$STATE/deps" && sed 's/^service running$/service stopped/' "$STATE/apache2-state" > "$STATE/deps/apache2-state"
fi
if sh "$TOP/scripts/install-deps.sh" > "$STATE/deps.log" 2>&1; then
    ok "install-deps.sh ran ($(tail -n 1 "$STATE/deps.log"))"
else
    cat "$STATE/deps.log"; nok "install-deps.sh"
fi
check "install-deps.sh left the enabled modules/conf/sites and the service as they were" \
    sh "$TOP/scripts/apache2-state.sh" compare "$STATE/deps"

# ---- README's server steps, as written -------------------------------------
# The marked blocks, in order: "server-step sh" runs, "server-step
# file=PATH" writes PATH.  Ports: 443 -> HTTPS_PORT (ports.conf, site, URLs).
# Without systemd (a container), `systemctl restart|reload apache2` is
# `apache2ctl restart|graceful`, as README says.
extract() {  # MARK — a shell script of README's blocks marked MARK
    awk -v mark="$1" '
        $0 ~ "^<!-- " mark " " { kind = $3; want = 1; next }
        want && /^```/ && !inblock { inblock = 1; if (kind ~ /^file=/) {
                f = substr(kind, 6); print "cat > " f " <<'\''CERTMAP_README_EOF'\''" }
            next }
        inblock && /^```/ { inblock = 0; want = 0;
            if (kind ~ /^file=/) print "CERTMAP_README_EOF"; next }
        inblock { print }
    ' "$TOP/README.md" | sed -e "s/\\*:443>/*:$HTTPS_PORT>/" \
        -e "s|https://localhost/|https://localhost:$HTTPS_PORT/|g" \
        -e "$NO_SYSTEMD"
}
NO_SYSTEMD=''
if [ ! -d /run/systemd/system ]; then
    NO_SYSTEMD='s/^systemctl restart apache2$/apache2ctl restart/; s/^systemctl reload apache2$/apache2ctl graceful/'
fi
extract server-step > "$STATE/steps.sh"
extract server-step-pam > "$STATE/steps-pam.sh"
check "README has server steps (sh and file blocks)" \
    sh -c "grep -q 'a2ensite intranet' '$STATE/steps.sh' && grep -q '^<VirtualHost \\*:$HTTPS_PORT>' '$STATE/steps.sh'"
sed -i -e "s/^\\([[:space:]]*\\)Listen 443\$/\\1Listen $HTTPS_PORT/" \
    -e "s/^Listen 80\$/Listen $HTTP_PORT/" /etc/apache2/ports.conf

say "running README's server steps (log: $LOG)"
if (cd "$TOP" && sh -ex "$STATE/steps.sh") >> "$LOG" 2>&1; then
    ok "README's server steps ran"
else
    tail -n 30 "$LOG"; nok "README's server steps"
fi

# ---- what the steps should have given ---------------------------------------
PKI=/etc/apache2/certmap/pki
check "package installed" sh -c "dpkg-query -W -f='\${Status}' $PKG | grep -q 'ok installed'"
check "a2query: certmap enabled" a2query -q -m certmap
check "apache2 runs" sys_running
req() {  # CERT → "HTTP_CODE BODY-FIRST-LINE"
    curl -s -o "$STATE/body" -w '%{http_code}' --max-time 10 --cacert "$PKI/root.crt" \
        --cert "$PKI/$1.crt" --key "$PKI/$1.key" "https://localhost:$HTTPS_PORT/" 2>/dev/null
    printf ' %s' "$(head -n 1 "$STATE/body" | cut -c1-60)"
}
last_user() { tail -n 1 /var/log/apache2/intranet-access.log | awk '{print $3}'; }
r=$(req alice); check "alice: 200 ($r)" sh -c "case '$r' in 200*) true;; *) false;; esac"
check "alice: %u in the access log is alice ($(last_user))" test "$(last_user)" = alice
r=$(req bob); check "bob (Contoso Sales): 200 ($r)" sh -c "case '$r' in 200*) true;; *) false;; esac"
check "bob: %u is sales ($(last_user))" test "$(last_user)" = sales
r=$(req mallory); check "mallory (no mapping): 403.16 ($r)" sh -c "case '$r' in '403 403.16'*) true;; *) false;; esac"
r=$(req expired); check "expired: 403.17 ($r)" sh -c "case '$r' in '403 403.17'*) true;; *) false;; esac"
r=$(req revoked); check "revoked: 403.13 ($r)" sh -c "case '$r' in '403 403.13'*) true;; *) false;; esac"
r=$(req via_intermediate); check "via an intermediate CA (SSLVerifyDepth): an HTTP answer, 403.16 unmapped ($r)" \
    sh -c "case '$r' in '403 403.16'*) true;; *) false;; esac"
check "error log: certmap:info lines" grep -q 'certmap:info' /var/log/apache2/intranet-error.log
check "README's 'certmap explain alice.crt' said alice is mapped" grep -q "mapped to 'alice'" "$LOG"
check "certmap explain -d /etc/apache2 -f apache2.conf works too" sh -c \
    "cd $PKI && certmap explain alice.crt -d /etc/apache2 -f apache2.conf 2>&1 | grep -q \"mapped to 'alice'\""
check "certmap explain -c 'Include sites-available/intranet.conf' works too" sh -c \
    "cd $PKI && certmap explain alice.crt -c 'Include sites-available/intranet.conf' 2>&1 | grep -q \"mapped to 'alice'\""
check "certmap explain -f SITE-FILE alone fails, as README warns (AH00534)" sh -c \
    "cd $PKI && ! certmap explain alice.crt -f /etc/apache2/sites-available/intranet.conf >$STATE/f.out 2>&1 && grep -q AH00534 $STATE/f.out"
check "man certmap and man mod_certmap are installed" sh -c \
    "test -f /usr/share/man/man1/certmap.1.gz && test -f /usr/share/man/man8/mod_certmap.8.gz"

# ---- PAM variant (README step 6) --------------------------------------------
# >>> PAM VARIANT: on by default (the logon helper runs PAM as root, so
# pam_unix works with the shipped /etc/pam.d/certmap and www-data not in
# group shadow); CERTMAP_TEST_SYSTEM_PAM=0 skips it.
if [ "${CERTMAP_TEST_SYSTEM_PAM:-1}" = 1 ]; then
    if [ -n "$USERS_BEFORE" ]; then
        nok "PAM variant: accounts$USERS_BEFORE exist already; not touching them"
    elif (cd "$TOP" && sh -ex "$STATE/steps-pam.sh") >> "$LOG" 2>&1; then
        sleep 1
        r=$(req alice); check "PAM: alice logs on, 200 ($r)" sh -c "case '$r' in 200*) true;; *) false;; esac"
        check "PAM: %u is alice" test "$(last_user)" = alice
        r=$(req bob); check "PAM: bob logs on as sales, 200 ($r)" sh -c "case '$r' in 200*) true;; *) false;; esac"
        check "www-data is not in group shadow" sh -c "! id -nG www-data | grep -qw shadow"
    else
        tail -n 20 "$LOG"; nok "README's PAM step"
    fi
else
    say "PAM variant (README step 6): skipped; CERTMAP_TEST_SYSTEM_PAM=1 runs it"
fi
# <<< PAM VARIANT

# ---- purge: nothing left, the system as before --------------------------------
dpkg-deb -c "$DEB" | awk '{print $NF}' | sed 's|^\./|/|' | grep -v '/$' > "$STATE/files"
restore_all
check "package purged" sh -c "! dpkg-query -W -f='\${Status}' $PKG 2>/dev/null | grep -q installed"
left=$(while read -r f; do [ -e "$f" ] && echo "$f"; done < "$STATE/files")
check "no file of the package left${left:+: $left}" test -z "$left"
check "no certmap link left in /etc/apache2/*-enabled" sh -c "! ls /etc/apache2/*-enabled | grep -q certmap"
check "apache2 state as before (modules, conf, sites, service)" \
    sh "$TOP/scripts/apache2-state.sh" compare "$STATE"
SUM_AFTER=$(etc_sum)
check "/etc/apache2 as before, to the byte" test "$SUM_BEFORE" = "$SUM_AFTER"

[ "$FAILS" -eq 0 ] || { say "$FAILS check(s) failed; step log:"; sed 's/^/    /' "$LOG" | tail -n 60; }
exit $((FAILS > 0))
