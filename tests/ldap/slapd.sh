#!/bin/sh
# tests/ldap/slapd.sh — a private slapd for the directory-mapping tests
# (t/80-directory.t).  Never touches the system's slapd or /etc/ldap/slapd.d:
# everything lives in DIR, slapd listens on loopback only and runs as the
# calling user.
#
#   sh tests/ldap/slapd.sh start DIR PKI   builds DIR (config, schema, mdb
#                                          database, LDIF from the PKI's
#                                          certificates), starts slapd and
#                                          writes DIR/env (shell variables
#                                          CERTMAP_LDAP_PORT and
#                                          CERTMAP_LDAP_DOWN_PORT)
#   sh tests/ldap/slapd.sh stop DIR        stops it (no error if not running)
#   sh tests/ldap/slapd.sh restart DIR     starts it again on the same port
#                                          with the same database
#
# Ports: CERTMAP_LDAP_PORTS=LOW-HIGH (e.g. 10080-10099) makes both ports
# come from that range (the first two free ones from a random point), so
# that runs side by side on one machine stay out of each other's way;
# unset, the kernel picks them.
#
# CERTMAP_SLAPD_MONITOR=1 adds slapd's monitor database (cn=Monitor,
# readable by anyone): operation counters, e.g. the searches served
# (cn=Search,cn=Operations,cn=Monitor monitorOpCompleted), which
# bench/run-bench.sh reads to check that every request reached slapd.
#
# The entries (suffix dc=certmap,dc=test; ou=people readable by anyone,
# ou=private only by cn=reader) are listed in tests/ldap/entries.sh.
set -eu

SCHEMA=/etc/ldap/schema
SUFFIX="dc=certmap,dc=test"
HERE=$(cd "$(dirname "$0")" && pwd)

# free_port [NOT]: a port nobody listens on (other than NOT).
free_port() {
    perl -MIO::Socket::INET -e '
        my ($not, $range) = @ARGV;
        my ($lo, $hi) = ($range // "") =~ /^(\d+)-(\d+)$/ ? ($1, $2) : (0, 0);
        my @ports = $lo ? ($lo .. $hi) : (0);
        my $start = int(rand(@ports));
        for my $i (0 .. $#ports) {
            my $p = $ports[($start + $i) % @ports];
            next if $p && $p == $not;
            my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                          LocalPort => $p, Proto => "tcp",
                                          ReuseAddr => 1) or next;
            print $s->sockport, "\n";
            exit 0;
        }
        die "slapd.sh: no free port in $range\n";' "${1:-0}" "${CERTMAP_LDAP_PORTS:-}"
}

run_slapd() {  # DIR PORT
    slapd -h "ldap://127.0.0.1:$2/" -f "$1/slapd.conf" \
        > "$1/slapd.log" 2>&1 || { cat "$1/slapd.log" >&2; exit 1; }
    i=0
    until ldapsearch -x -H "ldap://127.0.0.1:$2/" -b "$SUFFIX" -s base \
            >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 50 ]; then
            echo "slapd.sh: slapd did not answer on port $2" >&2
            cat "$1/slapd.log" >&2
            exit 1
        fi
        sleep 0.1
    done
}

write_config() {  # DIR
    d=$1
    cat > "$d/certmap.schema" <<'EOF'
# Active Directory's attributes as mod_certmap reads them: strings compared
# without regard to case, as AD does.
attributetype ( 1.2.840.113556.1.4.867 NAME 'altSecurityIdentities'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15
    SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.146 NAME 'objectSid'
    EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40
    SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'certmapAccount'
    AUXILIARY MAY ( altSecurityIdentities $ userPrincipalName $
    userCertificate $ objectSid ) )
EOF
    cat > "$d/slapd.conf" <<EOF
include $SCHEMA/core.schema
include $SCHEMA/cosine.schema
include $SCHEMA/inetorgperson.schema
include $SCHEMA/nis.schema
include $d/certmap.schema
pidfile $d/slapd.pid
argsfile $d/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 16777216
suffix "$SUFFIX"
rootdn "cn=admin,$SUFFIX"
rootpw admin-Hk2p
directory $d/db
access to attrs=userPassword
    by anonymous auth
    by * none
access to dn.children="ou=private,$SUFFIX"
    by dn.exact="cn=reader,$SUFFIX" read
    by * none
access to * by * read
EOF
    if [ "${CERTMAP_SLAPD_MONITOR:-}" = 1 ]; then
        cat >> "$d/slapd.conf" <<'EOF'
database monitor
access to * by * read
EOF
    fi
}

start() {  # DIR PKI
    d=$1 pki=$2
    stop "$d"
    rm -rf "$d"
    mkdir -p "$d/db"
    d=$(cd "$d" && pwd)
    write_config "$d"
    sh "$HERE/entries.sh" "$pki" "$d" > "$d/entries.ldif"
    slapadd -f "$d/slapd.conf" -l "$d/entries.ldif" > "$d/slapadd.log" 2>&1 || {
        cat "$d/slapadd.log" >&2; exit 1; }
    port=$(free_port)
    down=$(free_port "$port")
    run_slapd "$d" "$port"
    printf 'CERTMAP_LDAP_PORT=%s\nCERTMAP_LDAP_DOWN_PORT=%s\n' "$port" "$down" \
        > "$d/env"
}

stop() {  # DIR
    pidf=$1/slapd.pid
    [ -f "$pidf" ] || return 0
    pid=$(cat "$pidf")
    kill "$pid" 2>/dev/null || true
    kill -CONT "$pid" 2>/dev/null || true     # a test may have frozen it
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
        i=$((i + 1)); sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidf"
}

restart() {  # DIR
    d=$(cd "$1" && pwd)
    stop "$d"
    port=$(sed -n 's/^CERTMAP_LDAP_PORT=//p' "$d/env")
    run_slapd "$d" "$port"
}

case ${1:-} in
    start) [ $# -eq 3 ] || { echo "usage: $0 start DIR PKI" >&2; exit 2; }
           start "$2" "$3" ;;
    stop)  [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
           stop "$2" ;;
    restart) [ $# -eq 2 ] || { echo "usage: $0 restart DIR" >&2; exit 2; }
           restart "$2" ;;
    *)     echo "usage: $0 start DIR PKI | stop DIR | restart DIR" >&2
           exit 2 ;;
esac
