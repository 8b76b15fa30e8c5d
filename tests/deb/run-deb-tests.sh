#!/bin/sh
# run-deb-tests.sh — `make test-deb`: the Debian package.
#
# Always (touches nothing outside the tree):
#   - builds it (`make deb`) and checks its file list (dpkg-deb -c), its
#     conffiles and maintainer scripts (no postinst that enables or
#     restarts anything), and lintian (no E: line; W: lines are listed);
#   - the man pages render without warnings, and mod_certmap(8) describes
#     every directive the sources register.
# Only with CERTMAP_TEST_SYSTEM=1, as root (CI's throwaway machine: .ci/run
# sets it; a developer's `make test` never touches the system unasked):
#   tests/deb/system-test.sh — installs the package, follows README's
#   server steps through Debian's own apache2, purges, and checks that the
#   system apache2 is as it was.
# Ends with "N passed, M failed".
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
PASS=0
FAIL=0
ok()   { PASS=$((PASS + 1)); echo "ok   - $*"; }
nok()  { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { # DESCRIPTION COMMAND...
    d=$1; shift
    if "$@"; then ok "$d"; else nok "$d"; fi
}

# ---- build -----------------------------------------------------------------
VERSION=$(dpkg-parsechangelog -l debian/changelog -S Version)
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
DEB=build/libapache2-mod-certmap_${VERSION}_${ARCH}.deb
rm -f "$DEB"
if sh scripts/make-deb.sh; then ok "make deb built $DEB"; else nok "make deb"; fi
if [ ! -f "$DEB" ]; then
    echo "$PASS passed, $FAIL failed"
    exit 1
fi

# ---- file list ----------------------------------------------------------------
LIST=$(mktemp)
CTRL=$(mktemp -d)
trap 'rm -rf "$LIST" "$CTRL"' EXIT
dpkg-deb -c "$DEB" | awk '{print $1, $NF}' | sed 's| \./| /|; s|/$||' > "$LIST"
has() { # MODE PATH
    if grep -qx -- "$1 $2" "$LIST"; then ok "ships $2 ($1)"; else nok "ships $2 ($1)"; fi
}
MODDIR=$(apxs -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)
has -rw-r--r-- "$MODDIR/mod_certmap.so"
has -rw-r--r-- /etc/apache2/mods-available/certmap.load
has -rw-r--r-- /etc/apache2/mods-available/certmap.conf
has -rw-r--r-- /etc/apache2/conf-available/certmap-w3c.conf
has -rw-r--r-- /etc/pam.d/certmap
has -rwxr-xr-x /usr/bin/certmap
has -rw-r--r-- /usr/share/man/man1/certmap.1.gz
has -rw-r--r-- /usr/share/man/man8/mod_certmap.8.gz
has -rw-r--r-- /usr/share/doc/libapache2-mod-certmap/copyright
# nothing enabled by the package itself, nothing from a local build
check "no file in *-enabled/" sh -c "! grep -q -- '-enabled/' '$LIST'"
check "no build products (.o .lo .la, /build/)" \
    sh -c "! grep -E -q '\\.(o|lo|la|slo)\$|/build/|/\\.libs/' '$LIST'"
extra=$(grep '^-' "$LIST" | awk '{print $2}' | grep -v -E \
    "^($MODDIR/mod_certmap.so|/etc/apache2/(mods|conf)-available/certmap(-w3c)?\\.(load|conf)|/etc/pam.d/certmap|/usr/bin/certmap|/usr/share/man/man[18]/(mod_)?certmap\\.[18]\\.gz|/usr/share/doc/libapache2-mod-certmap/.*)\$" || true)
check "no unexpected file${extra:+: $extra}" test -z "$extra"
# the module file the package's .load names is the one it ships
load_path=$(dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - ./etc/apache2/mods-available/certmap.load \
    | sed -n 's/^LoadModule certmap_module //p')
check "certmap.load loads $MODDIR/mod_certmap.so" test "$load_path" = "$MODDIR/mod_certmap.so"

# ---- control: conffiles, maintainer scripts -------------------------------------
dpkg-deb -e "$DEB" "$CTRL"
check "/etc/pam.d/certmap is a conffile" grep -qx /etc/pam.d/certmap "$CTRL/conffiles"
check "mods-available files are conffiles" sh -c \
    "grep -qx /etc/apache2/mods-available/certmap.load '$CTRL/conffiles' && grep -qx /etc/apache2/mods-available/certmap.conf '$CTRL/conffiles'"
# Installing changes no running service: no postinst that enables or
# (re)starts anything.
if [ -f "$CTRL/postinst" ]; then
    check "postinst neither enables nor restarts" sh -c \
        "! grep -E -q 'enmod|enconf|ensite|invoke-rc.d|systemctl|restart|reload' '$CTRL/postinst'"
else
    ok "no postinst (installing enables and starts nothing)"
fi
check "postrm purge disables the module (purge leaves nothing)" sh -c \
    "grep -q 'dismod' '$CTRL/postrm' && grep -q purge '$CTRL/postrm'"
deps=$(dpkg-deb -f "$DEB" Depends)
check "depends on the httpd module API (dh_apache2): $deps" sh -c "echo '$deps' | grep -q apache2-api-"

# ---- lintian ------------------------------------------------------------------
if command -v lintian >/dev/null; then
    # (lintian warns when run as root; that line is not about the package)
    # (and leaves temporary databases, /tmp/mldbm-elf-*, behind: it runs
    # with a TMPDIR of its own, removed afterwards)
    lintian_tmp=$(mktemp -d)
    out=$(TMPDIR=$lintian_tmp lintian "$DEB" 2>&1 | grep -v 'running with root privileges')
    rm -rf "$lintian_tmp"
    errors=$(echo "$out" | grep '^E:' || true)
    warnings=$(echo "$out" | grep '^W:' || true)
    [ -z "$warnings" ] || { echo "lintian warnings (allowed):"; echo "$warnings" | sed 's/^/    /'; }
    if [ -z "$errors" ]; then ok "lintian: no errors"; else echo "$errors" | sed 's/^/    /'; nok "lintian: errors"; fi
else
    nok "lintian not installed (sh scripts/install-deps.sh --test)"
fi

# ---- man pages -------------------------------------------------------------------
sh tests/deb/check-man.sh && ok "man pages: render, every directive documented" \
    || nok "man pages"

# ---- on the system, only when allowed ------------------------------------
if [ "${CERTMAP_TEST_SYSTEM:-0}" = 1 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        nok "CERTMAP_TEST_SYSTEM=1 needs root"
    elif sh tests/deb/system-test.sh "$TOP/$DEB"; then
        ok "system test: install, README's server steps, a mapped request, purge, apache2 as before"
    else
        nok "system test (tests/deb/system-test.sh)"
    fi
else
    echo "skip - install/request/purge on this system: set CERTMAP_TEST_SYSTEM=1 (as root, on a machine you may change; CI does)"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
