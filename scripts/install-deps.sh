#!/bin/sh
# Installs, with apt-get alone, every Debian 12 package mod_certmap needs to
# build, test, benchmark and demo.  Safe to run again: apt-get skips what is
# already there.  Needs root (or sudo).
set -eu

PACKAGES="
    build-essential pkg-config ca-certificates
    apache2 apache2-dev apache2-utils
    libssl-dev openssl
    libpam0g-dev libpam-modules libpam-wrapper
    libunistring-dev
    libcmocka-dev
    libapache2-mod-perl2 libwww-perl liblwp-protocol-https-perl
    libio-socket-ssl-perl libnet-ssleay-perl libhttp-daemon-perl
    slapd ldap-utils libldap-dev
    memcached redis-server
    curl passwd iproute2 valgrind
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
