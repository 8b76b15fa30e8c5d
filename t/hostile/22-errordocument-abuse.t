# Attack review, round 2: the ErrorDocument a TLS refusal may serve must
# not become a way to a page that trusts the failed certificate.
#
# (a) certmap_hostile2_eda (t/conf/hostile2.conf.in): the handshake asks
#     for no certificate; /hostile2/eda/ has AllowOverride AuthConfig
#     FileInfo (so the host reports invalid certificates).  Its .htaccess is
#     the attacker's: `SSLVerifyClient optional_no_ca` (renegotiation under
#     TLS 1.2, post-handshake authentication under TLS 1.3), `Require
#     ssl-verify-client`, and `ErrorDocument 403 /hostile2/un/s.txt`, a page
#     behind SSLUserName SSL_CLIENT_S_DN_CN + Require valid-user.  A
#     self-signed certificate reading CN=alice must get a refusal, and
#     never the content of /hostile2/un/s.txt.  Only the server-level
#     ErrorDocument may be served after a TLS refusal.
# (b) certmap_hostile2_edsu: the server-level `ErrorDocument 403` itself
#     points at a page behind SSLUserName + Require valid-user.  A
#     certificate that failed verification gets the 403, never that page.
#     (An SSLRequire-guarded error page is a documented limitation: mod_ssl
#     resets the verify result before SSLRequire runs under TLS 1.2.)
#     certmap_hostile2_edplain, the control: a server-level ErrorDocument
#     on a plain page IS served after a TLS refusal (status 403, the page).
# Controls: alice (valid) gets 200 on /hostile2/eda/; basicuser gets
# /hostile2/un/s.txt directly; carol (valid, unmapped: 403.16 from the
# CertMap location, not a TLS refusal) gets the SSLUserName-guarded
# ErrorDocument of (b) -- it names her.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my @tls = (['TLS 1.3'], ['TLS 1.2', tls12 => 1]);
my $UN    = qr/HOSTILE2-UN-SECRET/;
my $SUN   = qr/HOSTILE2-SUN-SECRET/;
my $PLAIN = qr/HOSTILE2-PLAIN-ERRORDOCUMENT-403/;
# (b): certificates that fail TLS verification, with their sub-status
my @failed = ([selfsigned => 16], [untrusted => 16], [expired => 17], [revoked => 13]);

plan tests => @tls * (4 + 3 + @failed * 6) + 1, need_module 'ssl';

sub get {
    my ($vhost, $cert, $path, %o) = @_;
    my ($s, $b, $h, $e) = curl_request(vhost => $vhost, path => $path, cert => $cert, %o);
    my $u = $h->{'x-cm-remote-user'} // '';
    $u = '' if $u eq '(null)';
    return ($s, $b, $h->{'x-cm-sub'} // '', $u, $e);
}

for my $t (@tls) {
    my ($tn, %o) = @$t;
    my ($s, $b, $sub, $u, $e);

    # ---- (a) an ErrorDocument from .htaccess ---------------------------------
    ($s, $b, $sub, $u, $e) = get('certmap_hostile2_eda', 'alice', '/hostile2/eda/ok.txt', %o);
    ok($s == 200 && $b =~ /HOSTILE2-EDA-DIRECTORY/,
       "[22a control] $tn alice: the .htaccess directory (renegotiated, verified) -> 200 (got $s)") or diag($e);
    ($s, $b) = CertMapTest::curl_request(vhost => 'certmap_hostile2_eda', path => '/hostile2/un/s.txt',
                                         header => ['Authorization: Basic ' . b64('basicuser:basicpass')], %o);
    ok($s == 200 && $b =~ $UN, "[22a control] $tn basicuser: /hostile2/un/s.txt directly -> 200 (got $s)");

    ($s, $b, $sub, $u) = get('certmap_hostile2_eda', 'selfsigned', '/hostile2/eda/ok.txt', %o);
    unlike($b, $UN, "[22a] $tn self-signed CN=alice: the .htaccess ErrorDocument behind SSLUserName "
                    . "is not served (got $s" . ($u ne '' ? " as '$u'" : '') . ')');
    is("$s/$sub", '403/16', "[22a] $tn self-signed CN=alice -> 403.16");

    # ---- (b) the server-level ErrorDocument behind SSLUserName ----------------
    ($s, $b) = get('certmap_hostile2_edsu', 'alice', '/x/h2e-certmap', %o);
    is($s, 200, "[22b control] $tn alice, mapped -> 200");
    ($s, $b, $sub) = get('certmap_hostile2_edsu', 'carol', '/x/h2e-certmap', %o);
    ok($s == 403 && $b =~ $SUN,
       "[22b control] $tn carol (valid, unmapped, 403.16 from CertMap): the SSLUserName-guarded ErrorDocument is served to her (got $s)")
        or diag($b);
    ($s, $b, $sub) = get('certmap_hostile2_edplain', 'alice', '/x/h2e-certmap', %o);
    is($s, 200, "[22b control] $tn alice on the plain-ErrorDocument host -> 200");

    for my $f (@failed) {
        my ($cert, $want) = @$f;
        for my $path ('/x/h2e-certmap', '/ok.txt') {
            ($s, $b, $sub, $u) = get('certmap_hostile2_edsu', $cert, $path, %o);
            ok($s == 403 && $b !~ $SUN,
               "[22b] $tn $cert, $path: 403, and not the ErrorDocument behind SSLUserName (got $s"
               . ($b =~ $SUN ? ' with its content' : '') . ')');
            is($sub, $want, "[22b] $tn $cert, $path: sub-status $want");
        }
        ($s, $b, $sub) = get('certmap_hostile2_edplain', $cert, '/x/h2e-certmap', %o);
        ok($s == 403 && $b =~ $PLAIN,
           "[22b control] $tn $cert: the server-level ErrorDocument on a plain page is served, status 403 (got $s)");
        ($s, $b, $sub) = get('certmap_hostile2_edsu', $cert, '/hostile2/sun/s.txt', %o);
        ok($s !~ /^2/ && $b !~ $SUN, "[22b] $tn $cert: the guarded page asked for directly is refused (got $s)");
    }
}

# the error log says why the .htaccess ErrorDocument was refused
{
    my $m = error_log_mark();
    get('certmap_hostile2_eda', 'selfsigned', '/hostile2/eda/ok.txt', tls12 => 1);
    like(error_log_since($m), qr/certmap:[^\n]*(?:verif|untrusted)/i,
         '[22a] the error log says why the self-signed certificate was refused');
}

sub b64 { require MIME::Base64; return MIME::Base64::encode_base64(shift, '') }
