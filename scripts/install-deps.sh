#!/bin/sh
# install-deps.sh — installs, with apt-get alone, the Debian 12 packages
# mod_certmap needs.  Safe to run again: apt-get skips what is there.
# Needs root (or sudo).
#
#   sh scripts/install-deps.sh              everything: run, build, test, demo
#   sh scripts/install-deps.sh --runtime    what a production server needs
#   sh scripts/install-deps.sh --build      to build the module and `make deb`
#   sh scripts/install-deps.sh --test       --build plus what `make test`,
#                                           `make demo` and `make bench` use
#
# It leaves the system apache2 as it found it: no service is started or
# restarted while packages install (a policy-rc.d that refuses, unless one
# is already there), and every module, configuration or site a package's
# postinst enabled (libapache2-mod-perl2 runs `a2enmod perl`) is disabled
# again afterwards (scripts/apache2-state.sh).  Where apache2 itself was not
# installed yet, it is installed first and Debian's own default state of it
# is what is kept.
set -eu

# A production server: the module's libraries and httpd (the .deb
# depends on exactly these; `make install` needs them too).
RUNTIME="
    apache2 libssl3 libapr1 libaprutil1 libpam0g libpam-modules
    libunistring2 libldap-2.5-0 libpcre2-8-0
"
# Building the module, the tool and the Debian package.
BUILD="
    build-essential pkg-config apache2-dev
    libssl-dev libpam0g-dev libunistring-dev libldap-dev libpcre2-dev
    debhelper dpkg-dev fakeroot
"
# Tests, demo, benchmarks (never needed on a server).  clang,
# libclang-rt-14-dev and llvm-14 are for `make fuzz`: libFuzzer and the
# sanitizer runtimes are only recommended by clang (skipped below), and
# llvm-14 has llvm-symbolizer, which makes crash stacks readable.
TEST="
    ca-certificates openssl apache2-utils
    libpam-wrapper libcmocka-dev
    libapache2-mod-perl2 libwww-perl liblwp-protocol-https-perl
    libio-socket-ssl-perl libnet-ssleay-perl libhttp-daemon-perl
    slapd ldap-utils memcached redis-server haproxy
    curl passwd iproute2 valgrind lintian
    chromium fonts-dejavu-core
    clang libclang-rt-14-dev llvm-14
"

case ${1:-} in
    "")        PACKAGES="$RUNTIME $BUILD $TEST" ;;
    --runtime) PACKAGES="$RUNTIME" ;;
    --build)   PACKAGES="$RUNTIME $BUILD" ;;
    --test)    PACKAGES="$RUNTIME $BUILD $TEST" ;;
    *) echo "usage: $0 [--runtime|--build|--test]" >&2; exit 2 ;;
esac

HERE=$(cd "$(dirname "$0")" && pwd)

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=""
for p in $PACKAGES; do
    installed "$p" || missing="$missing $p"
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

POLICY=/usr/sbin/policy-rc.d
STATE=""
OWN_POLICY=0
cleanup() {
    if [ "$OWN_POLICY" -eq 1 ]; then
        $SUDO rm -f "$POLICY"
    fi
    if [ -n "$STATE" ]; then
        rm -rf "$STATE"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# No service starts or restarts during the installation.
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# install-deps.sh: no service starts while it installs\nexit 101\n' \
        | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 0755 "$POLICY"
    OWN_POLICY=1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}

echo "install-deps: installing:$missing"
$SUDO apt-get update -q
if ! installed apache2; then
    # Debian's own default apache2 is the state to keep.
    echo "install-deps: apache2 first (its defaults are the state kept)"
    apt_install apache2
fi
STATE=$(mktemp -d)
$SUDO sh "$HERE/apache2-state.sh" save "$STATE"
# shellcheck disable=SC2086
apt_install $missing
if ! $SUDO sh "$HERE/apache2-state.sh" compare "$STATE" >/dev/null; then
    echo "install-deps: putting the system apache2 back as it was"
    $SUDO sh "$HERE/apache2-state.sh" restore "$STATE"
fi
$SUDO sh "$HERE/apache2-state.sh" compare "$STATE"
echo "install-deps: done; the system apache2 is as it was"
