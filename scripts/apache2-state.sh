#!/bin/sh
# apache2-state.sh — record the system apache2's state, and put it back.
#
#   sh scripts/apache2-state.sh save DIR      record into DIR
#   sh scripts/apache2-state.sh restore DIR   undo every a2enmod/a2dismod,
#                                             a2enconf/a2disconf,
#                                             a2ensite/a2dissite since, and
#                                             start or stop apache2 as it was
#   sh scripts/apache2-state.sh compare DIR   exit 1 (and say what) when the
#                                             state differs from DIR's
#   sh scripts/apache2-state.sh show          print the state
#
# The state: the names in /etc/apache2/{mods,conf,sites}-enabled and
# whether apache2 runs.  Used by install-deps.sh (Debian's postinst of
# libapache2-mod-perl2 runs `a2enmod perl`, and other packages may enable
# modules too), and by the package test (tests/deb/system-test.sh).
set -eu

ETC=${CERTMAP_APACHE2_ETC:-/etc/apache2}
PIDFILE=${CERTMAP_APACHE2_PIDFILE:-/var/run/apache2/apache2.pid}

# Running: the pid file names a live apache2 process.
is_running() {
    [ -s "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
        && grep -q apache2 "/proc/$pid/comm" 2>/dev/null
}

show() {
    for kind in mods conf sites; do
        if [ -d "$ETC/$kind-enabled" ]; then
            ls "$ETC/$kind-enabled" | sed -n "s/^\(.*\)\.\(load\|conf\)$/$kind \1/p" | sort -u
        fi
    done
    if is_running; then echo "service running"; else echo "service stopped"; fi
}

save() {
    mkdir -p "$1"
    show > "$1/apache2-state"
}

compare() {
    now=$(mktemp)
    show > "$now"
    if cmp -s "$1/apache2-state" "$now"; then
        rm -f "$now"
        return 0
    fi
    echo "apache2-state: differs from $1/apache2-state (- before, + now):"
    diff "$1/apache2-state" "$now" | sed -n 's/^</  -/p; s/^>/  +/p'
    rm -f "$now"
    return 1
}

# a2dis*/a2en* are quiet (-q) and forced (-f: no dependency questions).
restore() {
    [ -f "$1/apache2-state" ] || { echo "apache2-state: nothing saved in $1" >&2; exit 2; }
    now=$(mktemp)
    show > "$now"
    for kind in mods conf sites; do
        case $kind in
            mods) dis=a2dismod en=a2enmod ;;
            conf) dis=a2disconf en=a2enconf ;;
            sites) dis=a2dissite en=a2ensite ;;
        esac
        for name in $(sed -n "s/^$kind //p" "$now"); do
            if ! grep -qx "$kind $name" "$1/apache2-state"; then
                echo "apache2-state: $dis $name (enabled since)"
                $dis -q -f "$name" >/dev/null
            fi
        done
        for name in $(sed -n "s/^$kind //p" "$1/apache2-state"); do
            if ! grep -qx "$kind $name" "$now"; then
                echo "apache2-state: $en $name (disabled since)"
                $en -q "$name" >/dev/null
            fi
        done
    done
    was=$(sed -n 's/^service //p' "$1/apache2-state")
    if [ "$was" = running ] && ! is_running; then
        echo "apache2-state: starting apache2 (it was running)"
        service apache2 start >/dev/null 2>&1 || apache2ctl start
    elif [ "$was" = stopped ] && is_running; then
        echo "apache2-state: stopping apache2 (it was stopped)"
        service apache2 stop >/dev/null 2>&1 || apache2ctl stop
        i=0
        while is_running && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    fi
    rm -f "$now"
}

case ${1:-} in
    save|restore|compare) [ $# -eq 2 ] || { echo "usage: $0 $1 DIR" >&2; exit 2; }; "$1" "$2" ;;
    show) show ;;
    *) echo "usage: $0 save|restore|compare DIR | show" >&2; exit 2 ;;
esac
