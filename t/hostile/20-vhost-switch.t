# [item2] issue 8: a certificate mod_ssl accepted for one virtual host must
# not be honoured on a Report host reached over the same connection.
#
# Three name-based hosts share one port and the same TLS settings
# (SSLVerifyClient optional_no_ca, so mod_ssl finds them compatible and
# answers no 421), t/conf/hostile.conf.in:
#   hostile-a.example  no CertMap               (the handshake host)
#   hostile-r.example  CertMap, CertMapInvalidCerts Reject
#   hostile-b.example  Report, with locations guarded by mod_ssl only
# The attacker makes the handshake for A (or R, or with no SNI at all, which
# lands on A, the port's first host), presenting a certificate of an
# unknown CA, a self-signed one, or one issued by a look-alike root (same
# DN bytes as the trusted root), and then asks for B: `Host:` over
# HTTP/1.1 (TLS 1.3 and 1.2), `:authority` over HTTP/2.  Contract, "Safety
# invariants": on a Report host no location answers 2xx on the strength of
# a certificate that failed verification, "whatever host the TLS handshake
# was made for (SNI, Host, HTTP/2 :authority)"; the answer is the host's
# refusal, 403.16.  Control: alice (valid) gets 200 everywhere on B by the
# same route.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my @paths = qw(/x/hnb-certmap /x/hnb-username /x/hnb-verify-client
               /x/hnb-verify-expr /x/hnb-sslrequire /x/hnb-fakebasic
               /x/hnb-open);
my @bad = qw(untrusted selfsigned forged);
# [name, curl_request options]
my @routes = (
    ['SNI hostile-a, Host hostile-b, HTTP/1.1 TLS 1.3', sni => 'hostile-a.example'],
    ['SNI hostile-a, Host hostile-b, HTTP/1.1 TLS 1.2', sni => 'hostile-a.example', tls12 => 1],
    ['SNI hostile-a, :authority hostile-b, HTTP/2', sni => 'hostile-a.example', http2 => 1],
    ['no SNI, Host hostile-b, HTTP/1.1', no_sni => 1],
    ['no SNI, :authority hostile-b, HTTP/2', no_sni => 1, http2 => 1],
    ['SNI hostile-r (Reject), Host hostile-b, HTTP/1.1', sni => 'hostile-r.example'],
);

# mod_ssl itself denies `Require ssl-verify-client` on an HTTP/2 stream even
# for a valid certificate (its check reads the stream's connection, which
# has no TLS state): no control can pass there, so HTTP/2 leaves it out.
sub paths_for { my %o = @_; return $o{http2} ? grep { $_ ne '/x/hnb-verify-client' } @paths : @paths }
my $n = 0;
$n += (1 + 2 * @bad) * paths_for(@{$_}[1 .. $#$_]) for @routes;

# The sibling on one host, no switching: hostile-r (CertMap, Reject,
# optional_no_ca).  mod_ssl keeps its GENEROUS behaviour there, but
# mod_certmap must never MAP a certificate that failed verification
# (README: "which mod_certmap still never maps"; contract: untrusted ->
# 403.16), over TLS 1.2 as over TLS 1.3.
my @tls = (['TLS 1.3'], ['TLS 1.2', tls12 => 1]);
$n += @tls * (1 + @bad);

plan tests => $n + 3, need_module 'ssl';

my $port = CertMapTest::port('certmap_hostile_nb');

sub get {
    my ($cert, $path, %o) = @_;
    my ($s, $b, $h, $e, $v) = curl_request(port => $port, path => $path,
                                           cert => $cert, host => 'hostile-b.example', %o);
    my $sub = $h->{'x-cm-sub'} // '';
    my $user = $h->{'x-cm-remote-user'} // '';
    $user = '' if $user eq '(null)';
    return ($s, $sub, $h->{'x-hostile-host'} // '', $user, $v, $e);
}

my $h2_seen = 0;
for my $r (@routes) {
    my ($name, %o) = @$r;
    # ---- control: a valid certificate by the same route ------------------
    for my $path (paths_for(%o)) {
        my ($s, $sub, $host, $user, $v, $e) = get('alice', $path, %o);
        $h2_seen = 1 if $o{http2} && $v eq '2';
        is("$s host=$host", '200 host=b', "[item2 control] alice, $name, $path -> 200 from hostile-b")
            or diag($e);
    }
    # ---- failed certificates --------------------------------------------------
    for my $cert (@bad) {
        for my $path (paths_for(%o)) {
            my ($s, $sub, $host, $user, $v, $e) = get($cert, $path, %o);
            ok($s !~ /^2/, "[item2] $cert, $name, $path: not 2xx (got $s"
                           . ($user ne '' ? " as '$user'" : '') . ")");
            is("$s/$sub", '403/16', "[item2] $cert, $name, $path -> 403.16 (hostile-b's Report refusal)");
        }
    }
}

# ---- hostile-r on its own: Reject keeps GENEROUS, but nothing is mapped --
for my $t (@tls) {
    my ($tn, %o) = @$t;
    my ($s, $b, $h) = curl_request(port => $port, path => '/x/hnb-r-certmap', cert => 'alice',
                                   sni => 'hostile-r.example', host => 'hostile-r.example', %o);
    is("$s/" . ($h->{'x-cm-sub'} // '') . '/' . ($h->{'x-hostile-host'} // ''), '200/0/r',
       "[item2 sibling control] alice on hostile-r's CertMap location, $tn -> 200");
    for my $cert (@bad) {
        ($s, $b, $h) = curl_request(port => $port, path => '/x/hnb-r-certmap', cert => $cert,
                                    sni => 'hostile-r.example', host => 'hostile-r.example', %o);
        my $user = $h->{'x-cm-remote-user'} // '';
        is("$s/" . ($h->{'x-cm-sub'} // ''), '403/16',
           "[item2 sibling] $cert on hostile-r (Reject, optional_no_ca), $tn: never mapped -> 403.16"
           . ($s =~ /^2/ ? " (got $s as '$user')" : ''));
    }
}

# HTTP/2 really carried the :authority (mod_http2 is inactive under prefork)
ok($h2_seen || error_log_since(0) =~ /AH10034/,
   '[item2] HTTP/2 was negotiated (or prefork, where mod_http2 is inactive)');

# the handshake host itself (A, no CertMap, optional_no_ca) keeps mod_ssl's
# GENEROUS behaviour: not a Report host, no invariant to hold there
{
    my ($s, $b, $h) = curl_request(port => $port, path => '/x/', cert => 'untrusted',
                                   sni => 'hostile-a.example', host => 'hostile-a.example');
    is("$s " . ($h->{'x-hostile-host'} // ''), '200 a',
       '[item2 control] untrusted on hostile-a itself (no CertMap): mod_ssl\'s optional_no_ca, 200');
}
# the error log says why, for a refusal on hostile-b
{
    my $m = error_log_mark();
    get('untrusted', '/x/hnb-username', sni => 'hostile-a.example');
    like(error_log_since($m), qr/certmap:[^\n]*(?:verif|untrusted|GENEROUS)/i,
         '[item2] the error log says why hostile-b refused the certificate');
}
