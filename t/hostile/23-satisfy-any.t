# Attack review, round 2: `Satisfy Any` must not undo a TLS refusal.
#
# mod_access_compat is loaded in the suite.  Under `Satisfy Any` httpd goes
# on to authentication and authorization after an access checker refused,
# and an authorization that needs no user -- `Require expr
# %{SSL_CLIENT_S_DN_CN} == 'alice'` -- would grant the request on the
# certificate's name alone.  Two Report hosts (t/conf/hostile2.conf.in):
#   certmap_hostile2_any     the handshake asks for no certificate; the
#                            location says SSLVerifyClient optional_no_ca
#                            (renegotiation under TLS 1.2, post-handshake
#                            authentication under TLS 1.3)
#   certmap_hostile2_any_hs  the handshake asks already (optional_no_ca)
# A self-signed certificate reading CN=alice, and the partner-CA one
# (pki untrusted, CN=alice), must not get 200: the host's refusal,
# 403.16.  Control: a valid alice gets 200 by the same way.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my @tls = (['TLS 1.3'], ['TLS 1.2', tls12 => 1]);
my @hosts = qw(certmap_hostile2_any certmap_hostile2_any_hs);
my @bad = qw(selfsigned untrusted);

plan tests => @tls * @hosts * (2 + @bad * 2), need_module 'ssl', need_module 'access_compat';

for my $t (@tls) {
    my ($tn, %o) = @$t;
    for my $v (@hosts) {
        for my $path ('/x/h2a-any', '/x/h2a-certmap') {
            my ($s, $b, $h, $e) = curl_request(vhost => $v, path => $path, cert => 'alice', %o);
            is($s, 200, "[23 control] $tn $v alice, $path -> 200") or diag($e);
        }
        for my $cert (@bad) {
            my ($s, $b, $h) = curl_request(vhost => $v, path => '/x/h2a-any', cert => $cert, %o);
            ok($s !~ /^2/, "[23] $tn $v $cert (CN=alice), Satisfy Any + Require expr on the CN: not 2xx (got $s)");
            is("$s/" . ($h->{'x-cm-sub'} // ''), '403/16', "[23] $tn $v $cert: 403.16");
        }
    }
}
