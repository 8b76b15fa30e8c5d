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
use File::Temp qw(tempdir);

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

sub answer {
    my $r = shift;
    return join '/', $r->{status}, $r->{h}{'x-cm-sub'} // '',
        $r->{h}{'x-cm-remote-user'} // '';
}

sub get {
    my ($sock, $path) = @_;
    return answer(http_get($sock, $path));
}

for my $s (@switches) {
    my ($cert, $first, $want1, $then, $want2, $what) = @$s;
    my $sock = tls_socket($V, $cert);
    is(get($sock, $first), $want1, "[$what] control: $first on a kept-alive connection");
    is(get($sock, $then), $want2, "[$what] then $then on it: not the remembered finding");
    if ($want2 =~ /^500/) {     # httpd closes the connection after a 500
        close $sock;
        $sock = tls_socket($V, $cert);
    }
    is(get($sock, $first), $want1, "[$what] and $first again on it");
    close $sock;
    my $fresh = tls_socket($V, $cert);
    is(get($fresh, $then), $want2, "[$what] $then on a new connection answers the same");
    close $fresh;
}

# ---- the timeout -------------------------------------------------------------------
my $ldap_dir = gen_dir() . '/ldap';
my %env;
{
    open my $f, '<', "$ldap_dir/env" or die "$ldap_dir/env: $!";
    while (<$f>) { chomp; my ($k, $v) = split /=/, $_, 2; $env{$k} = $v; }
}
my $ldap_url = "ldap://127.0.0.1:$env{CERTMAP_LDAP_PORT}/";
my $entry = 'uid=dir-cache,ou=people,dc=certmap,dc=test';

sub ldap {
    my ($tool, $ldif) = @_;
    my $dir = tempdir('certmap-ldif-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    open my $f, '>', "$dir/m.ldif" or die; print $f $ldif; close $f;
    my $out = `$tool -x -H $ldap_url -D cn=admin,dc=certmap,dc=test -w admin-Hk2p -f $dir/m.ldif 2>&1`;
    return ($? >> 8, $out);
}

# the entry's mapping, to put back afterwards (t/80-directory.t uses it)
my $value = `ldapsearch -x -LLL -o ldif-wrap=no -H $ldap_url -b '$entry' -s base altSecurityIdentities 2>/dev/null`;
($value) = $value =~ /^altSecurityIdentities: (.*)$/m;
ok(defined $value, '[timeout] the entry has a mapping to take away');
$value //= '';

my $sock = tls_socket($V, 'nulcn');
is(get($sock, '/x/dir/cache/short'), '200/0/dir-cache', '[timeout] control: found (timeout 3 s)');
is(get($sock, '/x/dir/cache/off'), '200/0/dir-cache', '[timeout] control: found (timeout 0)');
my ($rc, $out) = ldap('ldapmodify', "dn: $entry\nchangetype: modify\ndelete: altSecurityIdentities\n");
is($rc, 0, '[timeout] mapping removed from the directory') or diag($out);
is(get($sock, '/x/dir/cache/short'), '200/0/dir-cache', '[timeout] remembered within 3 s');
is(get($sock, '/x/dir/cache/off'), '403/16/', '[timeout] timeout 0: the same question is asked again, never remembered');
# (pauses shorter than the test server's KeepAliveTimeout)
sleep 2;
is(get($sock, '/x/dir/cache/short'), '200/0/dir-cache', '[timeout] still remembered 2 s on');
sleep 2;
# counted from when the directory answered: using it did not extend it
is(get($sock, '/x/dir/cache/short'), '403/16/', '[timeout] after 3 s: asked again, no longer mapped');
close $sock;
($rc, $out) = ldap('ldapmodify', "dn: $entry\nchangetype: modify\nadd: altSecurityIdentities\naltSecurityIdentities: $value\n");
is($rc, 0, '[timeout] mapping put back') or diag($out);
my $fresh = tls_socket($V, 'nulcn');
is(get($fresh, '/x/dir/cache/off'), '200/0/dir-cache', '[timeout] found again once put back');
is(get($fresh, '/x/dir/cache/short'), '200/0/dir-cache', '[timeout] remembered again');
close $fresh;
