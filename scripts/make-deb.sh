#!/bin/sh
# make-deb.sh — `make deb`: builds the Debian package libapache2-mod-certmap
# from a clean copy of the tree and leaves
#   build/libapache2-mod-certmap_VERSION_ARCH.deb
# (contract: Packaging).  The copy holds what git tracks plus new files git
# does not ignore (outside a git checkout: everything but build products),
# so nothing a local build left behind gets into the package.
# Needs: dpkg-dev, debhelper, apache2-dev and the build libraries
# (scripts/install-deps.sh --build installs them).
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"

say() { echo "make-deb: $*"; }
die() { echo "make-deb: $*" >&2; exit 1; }

command -v dpkg-buildpackage >/dev/null \
    || die "dpkg-buildpackage missing (apt-get install dpkg-dev debhelper)"
VERSION=$(dpkg-parsechangelog -l debian/changelog -S Version)
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
PKG=libapache2-mod-certmap
DEB=${PKG}_${VERSION}_${ARCH}.deb

WORK=$TOP/build/deb
rm -rf "$WORK"
SRC=$WORK/$PKG-$VERSION
mkdir -p "$SRC"

if git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    say "copying the files git tracks (and new ones it does not ignore)"
    git -C "$TOP" ls-files -z --cached --others --exclude-standard \
        | (cd "$TOP" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) \
        | (cd "$TOP" && tar --null -T - -cf -) | (cd "$SRC" && tar xf -)
else
    say "not a git checkout: copying the tree without build products"
    tar -cf - --exclude=./build --exclude=./.libs --exclude='*.o' \
        --exclude='*.lo' --exclude='*.slo' --exclude='*.la' \
        --exclude=./demo/out --exclude=./bench/out --exclude=./t/logs . \
        | (cd "$SRC" && tar xf -)
fi

say "dpkg-buildpackage -us -uc -b in $SRC"
(cd "$SRC" && dpkg-buildpackage -us -uc -b) > "$WORK/build.log" 2>&1 || {
    tail -n 40 "$WORK/build.log" >&2
    die "dpkg-buildpackage failed (log: $WORK/build.log)"
}
[ -f "$WORK/$DEB" ] || die "$WORK/$DEB was not built (log: $WORK/build.log)"
mv "$WORK/$DEB" "$TOP/build/$DEB"
say "built build/$DEB"
