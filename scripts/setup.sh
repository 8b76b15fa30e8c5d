#!/bin/sh
# setup.sh — from a fresh Debian 12 to a built module and the demo:
#
#   sh scripts/setup.sh
#
# 1. installs the Debian packages (scripts/install-deps.sh; root or sudo):
#    the build and test ones too, leaving the system apache2 as it was,
# 2. builds .libs/mod_certmap.so (make),
# 3. runs the demo (make demo) when the demo is there.
# POSIX sh; needs nothing that a minimal Debian 12 lacks beyond apt.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"

echo "setup: installing packages"
sh scripts/install-deps.sh

echo "setup: building"
make

if [ -f demo/run-demo.sh ]; then
    # As root, the demo httpd's children (www-data, else nobody) read
    # demo/out; a checkout under /root (mode 700 on Debian) is out of their
    # reach, so the demo's files then go to a fresh directory in /tmp.
    # Such a directory holds the demo's private keys and password files:
    # it is removed when the demo is done (its logs are kept under build/).
    TMP_OUT=""
    if [ -z "${CERTMAP_DEMO_OUT:-}" ] && [ "$(id -u)" -eq 0 ]; then
        for u in www-data nobody; do
            id "$u" >/dev/null 2>&1 || continue
            if ! setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups \
                    test -x "$TOP/demo"; then
                CERTMAP_DEMO_OUT=$(mktemp -d /tmp/certmap-demo.XXXXXX)
                TMP_OUT=$CERTMAP_DEMO_OUT
                export CERTMAP_DEMO_OUT
                echo "setup: $u cannot reach $TOP/demo; demo files go to $CERTMAP_DEMO_OUT (removed afterwards)"
            fi
            break
        done
    fi
    remove_tmp_out() {
        [ -n "$TMP_OUT" ] || return 0
        mkdir -p "$TOP/build/demo"
        cp -r "$TMP_OUT/logs" "$TMP_OUT/table.txt" "$TOP/build/demo/" 2>/dev/null || true
        rm -rf "$TMP_OUT"
        echo "setup: removed $TMP_OUT (keys, passwords); the demo's logs are in build/demo/"
        TMP_OUT=""
    }
    trap remove_tmp_out EXIT
    trap 'exit 130' INT TERM HUP
    echo "setup: running the demo"
    make demo
    remove_tmp_out
else
    echo "setup: demo/run-demo.sh is not there; skipping 'make demo'"
fi
echo "setup: done (module: $TOP/.libs/mod_certmap.so; tests: make test)"
