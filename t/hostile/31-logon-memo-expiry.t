# Attack review, round 3: a logon remembered on a keep-alive connection
# must not outlive the decision it copies.  A scope with
# CertMapLogonCacheTimeout 3 logs alice on (account hrexpiry, through PAM
# service certmap-hostile-rhost, which refuses the hosts listed in
# pki/out/gen/passdb.deny-rhosts); a scope with 300 s, asking the very
# same logon on the same connection, may reuse it -- but only until the
# 3 s the deciding scope gave it, as the shared cache would (its entry
# expires with its writer's timeout).  Then PAM starts refusing the
# client: after 4 s the kept-alive connection must be asked again and
# refused, as a new connection is.  Control: both scopes grant before.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

plan tests => 7, need_module 'ssl';

my $V = 'certmap_hostile_rhost';
my $deny = gen_dir() . '/passdb.deny-rhosts';

sub deny_list {
    my $hosts = shift;
    open my $fh, '>', "$deny.new" or die "$deny.new: $!";
    print $fh $hosts;
    close $fh;
    chmod 0644, "$deny.new";
    rename "$deny.new", $deny or die "rename $deny: $!";
}


my $before = -e $deny ? do { local (@ARGV, $/) = ($deny); <> } : "127.0.0.2\n";
deny_list("127.0.0.2\n");
my $sock = tls_socket($V, 'alice');
is(http_answer($sock, '/x/hr-expiry-short'), '200/0/hrexpiry', 'control: the 3 s scope logs on');
is(http_answer($sock, '/x/hr-expiry-long'), '200/0/hrexpiry', 'control: the 300 s scope reuses that logon');
deny_list("127.0.0.1\n127.0.0.2\n");
is(http_answer($sock, '/x/hr-expiry-long'), '200/0/hrexpiry', 'within 3 s: still the remembered logon');
sleep 2;
is(http_answer($sock, '/x/hr-expiry-long'), '200/0/hrexpiry', '2 s on: still remembered');
sleep 2;
is(http_answer($sock, '/x/hr-expiry-long'), '401/1/', 'after 3 s: PAM asked again on the kept-alive connection, refused');
close $sock;
my $fresh = tls_socket($V, 'alice');
is(http_answer($fresh, '/x/hr-expiry-long'), '401/1/', 'a new connection is refused too');
close $fresh;
deny_list($before);
my $again = tls_socket($V, 'alice');
is(http_answer($again, '/x/hr-expiry-long'), '200/0/hrexpiry', 'control: granted again once PAM allows it');
close $again;
