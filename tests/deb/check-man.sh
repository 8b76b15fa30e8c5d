#!/bin/sh
# check-man.sh — the man pages render without groff warnings, and
# man/mod_certmap.8 has a "Syntax:" entry for every directive the module's
# sources register (AP_INIT_* in *.c) and every directive of the contract's
# tables that is listed here.  Prints what is missing; exit 1 then.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
rc=0
for m in man/certmap.1 man/mod_certmap.8; do
    if ! out=$(LC_ALL=C.UTF-8 groff -man -ww -z "$m" 2>&1) || [ -n "$out" ]; then
        echo "check-man: $m: groff says: $out"
        rc=1
    fi
done
# the directives the sources register (the block name is a macro)
dirs=$(grep -ho 'AP_INIT_[A-Z0-9_]*("[A-Za-z]*"' ./*.c | sed 's/.*("\(.*\)"/\1/' | sort -u)
dirs="$dirs CertMapManyToOne"
for d in $dirs; do
    if ! grep -q "^Syntax: *\\\\fB<\\{0,1\\}$d[ >\\\\]" man/mod_certmap.8; then
        echo "check-man: $d is registered in the sources but not described in man/mod_certmap.8"
        rc=1
    fi
done
# every Syntax entry has Default, Context and Module lines
n_syn=$(grep -c '^Syntax:' man/mod_certmap.8)
for f in Default Context Module; do
    n=$(grep -c "^$f:" man/mod_certmap.8)
    if [ "$n" -ne "$n_syn" ]; then
        echo "check-man: $n_syn Syntax entries but $n $f lines"
        rc=1
    fi
done
exit $rc
