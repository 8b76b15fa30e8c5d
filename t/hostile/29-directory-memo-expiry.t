# Attack review, round 3: certmap_memo.c says a remembered directory
# finding "never outlives the cache entry it came from".  It does: taken
# from the shared cache, the memo keeps the entry's write time and the
# asking scope's CertMapDirectoryCacheTimeout, not the entry's own expiry
# (the writer's timeout).  An entry written by a 3 s scope and read once
# by a 300 s scope within those 3 s answers that connection for 300 s,
# while every other connection asks the directory again after 3 s (a
# mapping taken away in the directory still grants on the kept-alive
# connection).  Low: the 300 s scope's own policy would allow as much for
# a finding it made itself.  Valid-certificate control first; the
# entry's mapping is put back at the end (t/80-directory.t and
# t/hostile/27-directory-memo.t use it).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my $V = 'certmap_dir';

plan tests => 7, need_module 'ssl', need_module 'ldap';


my $entry = 'uid=dir-cache,ou=people,dc=certmap,dc=test';


my $value = ldap_attr($entry, 'altSecurityIdentities');
ok(defined $value, 'the entry has a mapping to take away');
$value //= '';

# the entry is written by the 3 s scope, read by the 300 s scope
sleep 4;    # older entries (other test files) are stale for the 3 s scope
my $sock = tls_socket($V, 'nulcn');
is(http_answer($sock, '/x/dir/cache/short'), '200/0/dir-cache', 'control: found, written with the 3 s timeout');
is(http_answer($sock, '/x/dir/cache/on'), '200/0/dir-cache', 'control: the 300 s scope reads it from the cache');
my ($rc, $out) = ldap_modify("dn: $entry\nchangetype: modify\ndelete: altSecurityIdentities\n");
is($rc, 0, 'mapping removed from the directory') or diag($out);
sleep 4;
my $fresh = tls_socket($V, 'nulcn');
is(http_answer($fresh, '/x/dir/cache/on'), '403/16/', 'after 4 s a new connection asks again: no longer mapped');
close $fresh;
is(http_answer($sock, '/x/dir/cache/on'), '403/16/',
   'the kept-alive connection answers the same (the memo does not outlive the entry)');
close $sock;
($rc, $out) = ldap_modify("dn: $entry\nchangetype: modify\nadd: altSecurityIdentities\naltSecurityIdentities: $value\n");
is($rc, 0, 'mapping put back') or diag($out);
