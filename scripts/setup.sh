#!/bin/sh
# setup.sh — from a fresh Debian 12 to a built module and the demo:
#
#   sh scripts/setup.sh
#
# 1. installs the Debian packages (scripts/install-deps.sh; root or sudo),
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
    echo "setup: running the demo"
    make demo
else
    echo "setup: demo/run-demo.sh is not there; skipping 'make demo'"
fi
echo "setup: done (module: $TOP/.libs/mod_certmap.so; tests: make test)"
