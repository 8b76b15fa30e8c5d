# Attack review, round 3: a keep-alive connection remembers the directory's
# last finding (certmap_memo.c), so that a warm directory mapping costs no
# more than a local one.  What the attacker controls is the order of
# requests on one connection: a finding made for one scope must never
# answer for another scope that would ask the directory a different
# question -- another URL (base, filter), bind DN or password, method
# list -- and it must honour the asking scope's CertMapDirectoryCacheTimeout
# (0: never remembered; otherwise no longer than the timeout, counted from
# when the directory answered).
#
# Each attack runs on one TLS connection; the first request of each pair
# is the valid control that makes the connection remember a finding, the
# second must get what a fresh connection gets.  Locations: t/conf/
# directory.conf.in (virtual host certmap_dir); entries: tests/ldap/
# entries.sh.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my $V = 'certmap_dir';

# [cert, first path, its answer, then path, its answer, what it shows]
my @switches = (
    ['alice', '/x/dir/default', '200/0/dir-cert',
     '/x/dir/filter', '403/16/', 'another URL (its filter leaves the entry out)'],
    ['bob', '/x/dir/bind/file', '200/0/dir-private',
     '/x/dir/bind/wrong', '500/0/', 'the same bind DN with a wrong password'],
    ['bob', '/x/dir/bind/file', '200/0/dir-private',
     '/x/dir/bind/anonymous', '403/16/', 'no bind DN (anonymous cannot read the entry)'],
    ['bob', '/x/dir/m/issuerserial', '200/0/dir-sr',
     '/x/dir/m/ski', '403/16/', 'another method list'],
    ['carol', '/x/dir/order/cert-first', '200/0/dir-carol-cert',
     '/x/dir/order/ski-first', '200/0/dir-ski', 'the same methods in another order'],
);

plan tests => @switches * 4 + 11, need_module 'ssl', need_module 'ldap';



for my $s (@switches) {
    my ($cert, $first, $want1, $then, $want2, $what) = @$s;
    my $sock = tls_socket($V, $cert);
    is(http_answer($sock, $first), $want1, "[$what] control: $first on a kept-alive connection");
    is(http_answer($sock, $then), $want2, "[$what] then $then on it: not the remembered finding");
    if ($want2 =~ /^500/) {     # httpd closes the connection after a 500
        close $sock;
        $sock = tls_socket($V, $cert);
    }
    is(http_answer($sock, $first), $want1, "[$what] and $first again on it");
    close $sock;
    my $fresh = tls_socket($V, $cert);
    is(http_answer($fresh, $then), $want2, "[$what] $then on a new connection answers the same");
    close $fresh;
}

# ---- the timeout -------------------------------------------------------------------
my $entry = 'uid=dir-cache,ou=people,dc=certmap,dc=test';

# the entry's mapping, to put back afterwards (t/80-directory.t uses it)
my $value = ldap_attr($entry, 'altSecurityIdentities');
ok(defined $value, '[timeout] the entry has a mapping to take away');
$value //= '';

my $sock = tls_socket($V, 'nulcn');
is(http_answer($sock, '/x/dir/cache/short'), '200/0/dir-cache', '[timeout] control: found (timeout 3 s)');
is(http_answer($sock, '/x/dir/cache/off'), '200/0/dir-cache', '[timeout] control: found (timeout 0)');
my ($rc, $out) = ldap_modify("dn: $entry\nchangetype: modify\ndelete: altSecurityIdentities\n");
is($rc, 0, '[timeout] mapping removed from the directory') or diag($out);
is(http_answer($sock, '/x/dir/cache/short'), '200/0/dir-cache', '[timeout] remembered within 3 s');
is(http_answer($sock, '/x/dir/cache/off'), '403/16/', '[timeout] timeout 0: the same question is asked again, never remembered');
# (pauses shorter than the test server's KeepAliveTimeout)
sleep 2;
is(http_answer($sock, '/x/dir/cache/short'), '200/0/dir-cache', '[timeout] still remembered 2 s on');
sleep 2;
# counted from when the directory answered: using it did not extend it
is(http_answer($sock, '/x/dir/cache/short'), '403/16/', '[timeout] after 3 s: asked again, no longer mapped');
close $sock;
($rc, $out) = ldap_modify("dn: $entry\nchangetype: modify\nadd: altSecurityIdentities\naltSecurityIdentities: $value\n");
is($rc, 0, '[timeout] mapping put back') or diag($out);
my $fresh = tls_socket($V, 'nulcn');
is(http_answer($fresh, '/x/dir/cache/off'), '200/0/dir-cache', '[timeout] found again once put back');
is(http_answer($fresh, '/x/dir/cache/short'), '200/0/dir-cache', '[timeout] remembered again');
close $fresh;
