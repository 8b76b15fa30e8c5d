# [item4] issue 8: per-directory SSLVerifyClient on a Report host.
#
# certmap_hostile_perdir (t/conf/hostile.conf.in) requests no certificate
# in the handshake and has CertMap On in one location; every guarded
# location says `SSLVerifyClient optional_no_ca` (one says `optional`), so
# mod_ssl renegotiates (TLS 1.2) and asks for the certificate there.  The
# locations are guarded by mod_ssl only: SSLUserName + Require
# valid-user, Require ssl-verify-client, Require expr on
# SSL_CLIENT_VERIFY, SSLRequire, FakeBasicAuth.  Contract, "Safety
# invariants": on a Report host a certificate that failed verification
# gets no 2xx anywhere, "whatever SSLVerifyClient a <Location>
# renegotiates"; under Report the answer is an HTTP 403 with the
# sub-status (403.16 untrusted, 403.17 expired), not a TLS alert.
# Control: alice (valid) gets 200 on every location.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my $V = 'certmap_hostile_perdir';
my @no_ca = qw(/x/hpd-certmap /x/hpd-username /x/hpd-verify-client
               /x/hpd-verify-expr /x/hpd-sslrequire /x/hpd-fakebasic);
my @all = (@no_ca, '/x/hpd-optional-username');
my @untrusted = qw(untrusted selfsigned forged);

plan tests => @all                          # controls
              + @untrusted * @no_ca * 2     # optional_no_ca: not 2xx, 403.16
              + @untrusted * 2              # SSLVerifyClient optional
              + @all * 2                    # expired
              + 2 + 3                       # keep-alive
              + @untrusted * 2 + 1,         # keep-alive, CertMap location again
     need_module 'ssl';

sub get {
    my ($cert, $path) = @_;
    my ($s, $b, $h, $e) = curl_request(vhost => $V, path => $path, cert => $cert, tls12 => 1);
    my $u = $h->{'x-cm-remote-user'} // '';
    $u = '' if $u eq '(null)';
    return ($s, $h->{'x-cm-sub'} // '', $u, $e);
}

# ---- controls ----------------------------------------------------------------
for my $path (@all) {
    my ($s, $sub, $u, $e) = get('alice', $path);
    is($s, 200, "[item4 control] alice, TLS 1.2 renegotiation, $path -> 200") or diag($e);
}

# ---- SSLVerifyClient optional_no_ca in the location ------------------------
for my $cert (@untrusted) {
    for my $path (@no_ca) {
        my ($s, $sub, $u) = get($cert, $path);
        ok($s !~ /^2/, "[item4] $cert, $path (renegotiated optional_no_ca): not 2xx (got $s"
                       . ($u ne '' ? " as '$u'" : '') . ')');
        is("$s/$sub", '403/16', "[item4] $cert, $path: 403.16");
    }
}
# ---- SSLVerifyClient optional in the location: Report answers in HTTP -----
for my $cert (@untrusted) {
    my ($s, $sub, $u) = get($cert, '/x/hpd-optional-username');
    ok($s !~ /^2/, "[item4] $cert, /x/hpd-optional-username (renegotiated optional): not 2xx (got $s)");
    is("$s/$sub", '403/16', "[item4 Report] $cert, /x/hpd-optional-username: 403.16, not a TLS alert (got $s)");
}
# ---- an expired certificate: 403.17 in HTTP, not a TLS alert ----------------
for my $path (@all) {
    my ($s, $sub, $u) = get('expired', $path);
    ok($s !~ /^2/, "[item4] expired, $path: not 2xx (got $s)");
    is("$s/$sub", '403/17', "[item4 Report] expired, $path: 403.17, not a TLS alert (got $s)");
}

# ---- one connection: a CertMap refusal first, then a mod_ssl-only location --
{
    my $sock = tls_socket($V, 'untrusted', tls12 => 1);
    my $r1 = http_get($sock, '/x/hpd-certmap');
    is("$r1->{status}/" . ($r1->{h}{'x-cm-sub'} // ''), '403/16',
       '[item4] keep-alive untrusted: CertMap location after the renegotiation -> 403.16');
    my $r2 = $r1->{status} && lc($r1->{h}{connection} // '') ne 'close'
           ? http_get($sock, '/x/hpd-username') : { status => 0, h => {} };
    ok($r2->{status} !~ /^2/,
       "[item4] keep-alive untrusted: then SSLUserName location on the same connection: not 2xx (got $r2->{status}"
       . (($r2->{h}{'x-cm-remote-user'} // '') ne '' ? " as '$r2->{h}{'x-cm-remote-user'}'" : '') . ')');
    close $sock;
}
# mod_ssl resets OpenSSL's verify result to X509_V_OK on every TLS 1.2
# request of a location with SSLVerifyClient; only the request that
# renegotiated sees the real result.  The CertMap location itself must
# still refuse on the next requests of the connection.
for my $cert (@untrusted) {
    for my $first ('/x/hpd-certmap', '/x/hpd-verify-client') {
        my $sock = tls_socket($V, $cert, tls12 => 1);
        my @got;
        for my $path ($first, '/x/hpd-certmap', '/x/hpd-certmap') {
            my $r = http_get($sock, $path);
            my $u = $r->{h}{'x-cm-remote-user'} // '';
            $u = '' if $u eq '(null)';
            push @got, "$r->{status}/" . ($r->{h}{'x-cm-sub'} // '') . "/$u";
            last if !$r->{status} || lc($r->{h}{connection} // '') eq 'close';
        }
        close $sock;
        # the refusal may close the connection (Connection: close): fewer answers
        my @later = @got[1 .. $#got];
        ok(!grep({ m{^2} } @later),
           "[item4] keep-alive $cert: $first, then the CertMap location twice: never mapped (got @got)");
    }
}
{
    my $sock = tls_socket($V, 'alice', tls12 => 1);
    my @got = map { http_get($sock, '/x/hpd-certmap')->{status} } 1 .. 3;
    is("@got", '200 200 200', '[item4 control] keep-alive alice: the CertMap location three times -> 200');
    close $sock;
}
{
    my $sock = tls_socket($V, 'alice', tls12 => 1);
    my @got = map { http_get($sock, $_)->{status} } qw(/x/hpd-username /x/hpd-certmap /x/hpd-fakebasic);
    is($got[0], 200, '[item4 control] keep-alive alice: SSLUserName location -> 200');
    is($got[1], 200, '[item4 control] keep-alive alice: then the CertMap location -> 200');
    is($got[2], 200, '[item4 control] keep-alive alice: then FakeBasicAuth -> 200');
    close $sock;
}
