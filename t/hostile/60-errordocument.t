# [item6] issue 8: ErrorDocument after a TLS-verification refusal (Report).
#
# Three Report hosts (t/conf/hostile.conf.in), each with an ErrorDocument
# 403 at host level:
#   certmap_hostile_errdoc    a static page (t/htdocs/hostile/err/403.html)
#   certmap_hostile_errcgi    a CGI (env.cgi, prints SSL_CLIENT_VERIFY)
#   certmap_hostile_errguard  a page under `Require ssl-verify-client`
# Contract: the error body is the module's "unless an ErrorDocument
# replaces it"; the refusal keeps its status.  An expired certificate must
# get the administrator's page with status 403 -- but only that page: the
# redirected request must not read SSL_CLIENT_VERIFY=SUCCESS (under TLS
# 1.2 mod_ssl resets the verify result per request) nor pass `Require
# ssl-verify-client`, and asking for the ErrorDocument's URL directly is
# refused like any other request.  Controls: carol (valid, unmapped,
# 403.16 from the CertMap location) gets the same ErrorDocuments, the CGI
# reads SUCCESS for her, the guarded page is served to her; alice 200.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my @tls = (['TLS 1.2', tls12 => 1], ['TLS 1.3']);
my @failed = qw(expired untrusted);
my $DOC   = qr/HOSTILE-ERRORDOCUMENT-403/;
my $GUARD = qr/HOSTILE-GUARDED-ERRORDOCUMENT/;
my $CGI   = qr/^REMOTE_USER=.*^SSL_CLIENT_VERIFY=/ms;

plan tests => @tls * (5 + @failed * 8), need_module 'ssl', need_cgi;

sub get {
    my ($vhost, $cert, $path, %o) = @_;
    my ($s, $b, $h, $e) = curl_request(vhost => $vhost, path => $path, cert => $cert, %o);
    return ($s, $b, $h);
}

for my $t (@tls) {
    my ($tn, %o) = @$t;
    my ($s, $b, $h);
    # ---- controls ------------------------------------------------------------
    ($s, $b) = get('certmap_hostile_errdoc', 'alice', '/x/herr-certmap', %o);
    is($s, 200, "[item6 control] $tn alice, mapped -> 200");
    ($s, $b) = get('certmap_hostile_errdoc', 'carol', '/x/herr-certmap', %o);
    ok($s == 403 && $b =~ $DOC, "[item6 control] $tn carol, 403.16 from CertMap: the static ErrorDocument (got $s)");
    ($s, $b) = get('certmap_hostile_errcgi', 'carol', '/x/herr-certmap', %o);
    ok($s == 403 && $b =~ $CGI, "[item6 control] $tn carol: the CGI ErrorDocument runs (got $s)");
    like($b, qr/^SSL_CLIENT_VERIFY=SUCCESS$/m,
         "[item6 control] $tn carol: the CGI ErrorDocument reads SSL_CLIENT_VERIFY=SUCCESS for a verified certificate");
    ($s, $b) = get('certmap_hostile_errguard', 'carol', '/x/herr-certmap', %o);
    ok($s == 403 && $b =~ $GUARD,
       "[item6 control] $tn carol: the ErrorDocument under Require ssl-verify-client is served to a verified certificate (got $s)");

    # ---- a certificate that failed TLS verification --------------------------
    for my $cert (@failed) {
        my $sub = $cert eq 'expired' ? 17 : 16;
        ($s, $b, $h) = get('certmap_hostile_errdoc', $cert, '/x/herr-certmap', %o);
        is($s, 403, "[item6] $tn $cert: status 403");
        like($b, $DOC, "[item6] $tn $cert: the body IS the ErrorDocument (not httpd's double-403 page)");
        ($s, $b, $h) = get('certmap_hostile_errdoc', $cert, '/ok.txt', %o);
        ok($s == 403 && $b =~ $DOC, "[item6] $tn $cert, a location without CertMap: 403 with the ErrorDocument (got $s)");

        ($s, $b, $h) = get('certmap_hostile_errcgi', $cert, '/x/herr-certmap', %o);
        ok($s == 403 && $b =~ $CGI, "[item6] $tn $cert: 403 with the CGI ErrorDocument's output (got $s)");
        unlike($b, qr/^SSL_CLIENT_VERIFY=SUCCESS$/m,
               "[item6] $tn $cert: the CGI ErrorDocument must not read SSL_CLIENT_VERIFY=SUCCESS");
        ($s, $b, $h) = get('certmap_hostile_errcgi', $cert, '/cgi/hostile-errdoc', %o);
        ok($s !~ /^2/ && $b !~ /^SSL_CLIENT_VERIFY=SUCCESS$/m,
           "[item6] $tn $cert: the ErrorDocument's URL asked for directly is refused (got $s)");

        ($s, $b, $h) = get('certmap_hostile_errguard', $cert, '/x/herr-certmap', %o);
        ok($s !~ /^2/ && $b !~ $GUARD,
           "[item6] $tn $cert: the ErrorDocument under Require ssl-verify-client is not served (got $s)");
        ($s, $b, $h) = get('certmap_hostile_errguard', $cert, '/hostile/errguard/403.html', %o);
        ok($s !~ /^2/ && $b !~ $GUARD,
           "[item6] $tn $cert: nor when asked for directly (got $s)");
    }
}
