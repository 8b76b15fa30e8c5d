# [item5] issue 8: `CertMap On` written only in an .htaccess.
#
# certmap_hostile_htonly (t/conf/hostile.conf.in) has SSLVerifyClient
# optional, AllowOverride AuthConfig for t/htdocs/hostile/htonly/ and no
# CertMap in its own configuration; t/htdocs/hostile/htonly/.htaccess says
# CertMap On and maps alice one-to-one.  CertMapInvalidCerts defaults to
# Report, so a certificate that fails verification must get the HTTP
# answer of the contract's table (403.17 expired or not yet valid, 403.13
# revoked, 403.16 untrusted), not mod_ssl's TLS alert (status 0 here),
# over TLS 1.3 and 1.2.  Controls: alice 200, carol (valid, unmapped)
# 403.16.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my $V = 'certmap_hostile_htonly';
my $path = '/hostile/htonly/ok.txt';
my @tls = (['TLS 1.3'], ['TLS 1.2', tls12 => 1]);
my @cases = ([alice => '200/0/alice', 'control'], [carol => '403/16/', 'control'],
             [expired => '403/17/'], [notyet => '403/17/'],
             [revoked => '403/13/'], [untrusted => '403/16/'],
             [selfsigned => '403/16/']);

plan tests => @tls * @cases, need_module 'ssl';

for my $t (@tls) {
    my ($tn, %o) = @$t;
    for my $c (@cases) {
        my ($cert, $want, $control) = @$c;
        my ($s, $b, $h, $e) = curl_request(vhost => $V, path => $path, cert => $cert, %o);
        my $u = $h->{'x-cm-remote-user'} // '';
        $u = '' if $u eq '(null)';
        my $tag = $control ? '[item5 control]' : '[item5]';
        is("$s/" . ($h->{'x-cm-sub'} // '') . "/$u", $want,
           "$tag $tn, $cert, CertMap On only in .htaccess -> "
           . ($want =~ m{^(\d+)/(\d+)} && $2 ? "$1.$2" : $want)
           . ($s ? '' : ' (got no HTTP answer: a TLS alert)'));
    }
}
