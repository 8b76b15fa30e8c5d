# Attack review, round 2: a certificate the handshake host trusts is not
# trusted by the host that serves the request.
#
# Two name-based hosts on one port (t/conf/hostile2.conf.in, module key
# certmap_hostile2_xt):
#   hostile2-xa.example  the handshake host (and the port's default, so a
#                        handshake without SNI lands there too): trusts a
#                        partner CA (other_ca.crt) besides the internal
#                        CAs, and has no CRL; no CertMap
#   hostile2-xb.example  Report (CertMap On in a location): trusts only the
#                        internal CA bundle and checks its CRLs
# The attacker makes the handshake for A (SNI hostile2-xa.example, or no
# SNI) with a certificate of the partner CA that reads O=Contoso, CN=alice
# (pki "untrusted"), or with one the internal root revoked (pki
# "revoked"): A verifies both, SSL_CLIENT_VERIFY=SUCCESS.  Then the request
# names B (Host over HTTP/1.1 with TLS 1.3 and 1.2, :authority over
# HTTP/2).  Contract, "Safety invariants": the decision is made per request
# for the virtual host that serves it, whatever host the handshake was made
# for; on a Report host no location answers 2xx on the strength of a
# certificate that fails verification -- B's verification: the partner
# certificate is untrusted there (403.16), the revoked one is revoked by
# B's CRL (403.13).  Every mod_ssl-only guard of B too: SSLUserName +
# Require valid-user, Require ssl-verify-client, Require expr on
# SSL_CLIENT_VERIFY, SSLRequire.
#
# httpd 2.4.66 and later answer such requests with 421 under the default
# `SSLVHostSNIPolicy secure` (the hosts differ in CA and CRL settings); the
# suite runs with `insecure` (hostile2.conf.in) so the module is tested
# without that shield.  A 421 would also pass "not 2xx"; the tests below
# want B's own answer, so they show the policy really let the request
# through.
#
# Controls: alice (valid for both hosts) gets 200 from B by every route;
# the partner and revoked certificates get 200 from A itself (A trusts
# them: the premise of the attack).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my @paths = qw(/x/hx-certmap /x/hx-username /x/hx-verify-client
               /x/hx-verify-expr /x/hx-sslrequire);
# [certificate, B's answer, what it is]
my @bad = (['untrusted', '403/16', 'a partner-CA certificate (O=Contoso, CN=alice)'],
           ['revoked',   '403/13', 'a certificate revoked by the internal root']);
my @routes = (
    ['SNI xa, Host xb, HTTP/1.1 TLS 1.3', sni => 'hostile2-xa.example'],
    ['SNI xa, Host xb, HTTP/1.1 TLS 1.2', sni => 'hostile2-xa.example', tls12 => 1],
    ['SNI xa, :authority xb, HTTP/2',     sni => 'hostile2-xa.example', http2 => 1],
    ['no SNI, Host xb, HTTP/1.1 TLS 1.3', no_sni => 1],
    ['no SNI, Host xb, HTTP/1.1 TLS 1.2', no_sni => 1, tls12 => 1],
    ['no SNI, :authority xb, HTTP/2',     no_sni => 1, http2 => 1],
);

# mod_ssl denies `Require ssl-verify-client` on an HTTP/2 stream even for a
# valid certificate (t/hostile/20-vhost-switch.t): no control could pass.
sub paths_for { my %o = @_; return $o{http2} ? grep { $_ ne '/x/hx-verify-client' } @paths : @paths }

my $n = 0;
$n += (1 + 2 * @bad) * paths_for(@{$_}[1 .. $#$_]) for @routes;
plan tests => $n + 2 * @bad + 2, need_module 'ssl';

my $port = CertMapTest::port('certmap_hostile2_xt');

sub get {
    my ($cert, $path, %o) = @_;
    my ($s, $b, $h, $e, $v) = curl_request(port => $port, path => $path, cert => $cert,
                                           host => 'hostile2-xb.example', %o);
    my $user = $h->{'x-cm-remote-user'} // '';
    $user = '' if $user eq '(null)';
    return ($s, $h->{'x-cm-sub'} // '', $h->{'x-hostile-host'} // '', $user, $v, $e);
}

# ---- the premise: A trusts both certificates -----------------------------------
for my $c (@bad) {
    my ($cert) = @$c;
    for my $p (['/x/', 'open'], ['/x/hx-verify-client', 'Require ssl-verify-client']) {
        my ($s, $b, $h) = curl_request(port => $port, path => $p->[0], cert => $cert,
                                       sni => 'hostile2-xa.example', host => 'hostile2-xa.example');
        is("$s " . ($h->{'x-hostile-host'} // ''), '200 xa',
           "[21 control] $cert on hostile2-xa itself ($p->[1]): A trusts it, 200");
    }
}

my $h2_seen = 0;
for my $r (@routes) {
    my ($name, %o) = @$r;
    for my $path (paths_for(%o)) {
        my ($s, $sub, $host, $user, $v, $e) = get('alice', $path, %o);
        $h2_seen = 1 if $o{http2} && $v eq '2';
        is("$s host=$host", '200 host=xb', "[21 control] alice, $name, $path -> 200 from hostile2-xb")
            or diag($e);
    }
    for my $c (@bad) {
        my ($cert, $want, $what) = @$c;
        for my $path (paths_for(%o)) {
            my ($s, $sub, $host, $user, $v, $e) = get($cert, $path, %o);
            ok($s !~ /^2/, "[21] $cert ($what), $name, $path: not 2xx (got $s"
                           . ($user ne '' ? " as '$user'" : '') . ")");
            is("$s/$sub", $want, "[21] $cert, $name, $path -> " . join('.', split m{/}, $want)
                                 . " (hostile2-xb's own trust)");
        }
    }
}

# HTTP/2 really carried the :authority (mod_http2 is inactive under prefork)
ok($h2_seen || error_log_since(0) =~ /AH10034/,
   '[21] HTTP/2 was negotiated (or prefork, where mod_http2 is inactive)');

# the error log says why
{
    my $m = error_log_mark();
    get('untrusted', '/x/hx-username', sni => 'hostile2-xa.example');
    like(error_log_since($m), qr/certmap:[^\n]*trust of the virtual host serving/i,
         '[21] the error log says the certificate fails with the serving host\'s trust');
}
