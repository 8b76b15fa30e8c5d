# [item7] issue 8: keep-alive after a refusal the module will repeat.
#
# Contract ("Outcomes"): "A connection the module will refuse from now on
# answers with Connection: close."  Under Report, a certificate that
# failed verification is refused on every request of its connection, so
# its 403.17/403.13/403.16 must say `Connection: close` (a client that
# keeps the connection open otherwise finds it dead, or retries on it),
# and nothing on that connection is ever 2xx.  Host
# certmap_hostile_report (t/conf/hostile.conf.in), HTTP/1.1 over TLS 1.3
# and 1.2.  Control: alice gets 200 without Connection: close and a second
# request on the same connection works.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my $V = 'certmap_hostile_report';
my @tls = (['TLS 1.3'], ['TLS 1.2', tls12 => 1]);
my @failed = ([expired => 17], [notyet => 17], [revoked => 13],
              [untrusted => 16], [selfsigned => 16]);
my @paths = qw(/x/hn-o2o-alice /x/hn-open);

plan tests => @tls * (3 + @failed * @paths * 3), need_module 'ssl';

for my $t (@tls) {
    my ($tn, %o) = @$t;
    # ---- control --------------------------------------------------------------
    {
        my $sock = tls_socket($V, 'alice', %o);
        my $r1 = http_get($sock, '/x/hn-o2o-alice');
        is($r1->{status}, 200, "[item7 control] $tn alice -> 200");
        unlike(lc($r1->{h}{connection} // ''), qr/close/, "[item7 control] $tn alice: no Connection: close");
        my $r2 = http_get($sock, '/x/hn-open');
        is($r2->{status}, 200, "[item7 control] $tn alice: a second request on the connection -> 200");
        close $sock;
    }
    # ---- failed certificates ---------------------------------------------------
    for my $f (@failed) {
        my ($cert, $sub) = @$f;
        for my $path (@paths) {
            my $sock = tls_socket($V, $cert, %o);
            my $r1 = http_get($sock, $path);
            is("$r1->{status}/" . ($r1->{h}{'x-cm-sub'} // ''), "403/$sub",
               "[item7 control] $tn $cert $path -> 403.$sub");
            like(lc($r1->{h}{connection} // ''), qr/\bclose\b/,
                 "[item7] $tn $cert $path: the refusal says Connection: close");
            my $r2 = $r1->{status} ? http_get($sock, '/x/hn-open') : { status => 0 };
            ok($r2->{status} !~ /^2/,
               "[item7] $tn $cert $path: nothing on that connection afterwards is 2xx (got $r2->{status})");
            close $sock;
        }
    }
}
