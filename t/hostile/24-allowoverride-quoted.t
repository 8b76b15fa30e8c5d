# Attack review, round 2: which hosts let .htaccess turn CertMap on must be
# read as httpd reads its configuration.
#
# A host whose .htaccess files may say `CertMap On` reports invalid
# certificates (README, "Which virtual hosts report").  Two hosts
# (t/conf/hostile2.conf.in) with no CertMap in their own configuration,
# SSLVerifyClient optional_no_ca in the handshake (mod_ssl alone would
# call an untrusted certificate GENEROUS) and a location guarded by
# SSLUserName + Require valid-user only:
#   certmap_hostile2_quoted  <Directory> AllowOverride "AuthConfig" -- quoted,
#                            which httpd reads as AuthConfig
#   certmap_hostile2_ovlist  AllowOverride None plus AllowOverrideList naming
#                            CertMap, CertMapPAM, CertMapOneToOne, Require
# The .htaccess of each (t/htdocs/hostile2/{quoted,ovlist}/) says CertMap On
# and maps alice.  A self-signed certificate (CN=alice) must get 403.16 on
# the SSLUserName location and in the .htaccess directory, over TLS 1.3 and
# 1.2.  Control: a valid alice gets 200 on both.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my @tls = (['TLS 1.3'], ['TLS 1.2', tls12 => 1]);
my @hosts = (['certmap_hostile2_quoted', '/hostile2/quoted/ok.txt', 'AllowOverride "AuthConfig"'],
             ['certmap_hostile2_ovlist', '/hostile2/ovlist/ok.txt', 'AllowOverrideList']);
my @bad = qw(selfsigned untrusted);

plan tests => @tls * @hosts * (2 + @bad * 2 * 2), need_module 'ssl';

for my $t (@tls) {
    my ($tn, %o) = @$t;
    for my $hh (@hosts) {
        my ($v, $dir, $how) = @$hh;
        for my $path ('/x/h2q-username', $dir) {
            my ($s, $b, $h, $e) = curl_request(vhost => $v, path => $path, cert => 'alice', %o);
            my $u = $h->{'x-cm-remote-user'} // '';
            is("$s/$u", '200/alice', "[24 control] $tn $how: alice, $path -> 200 as alice") or diag($e);
        }
        for my $cert (@bad) {
            for my $path ('/x/h2q-username', $dir) {
                my ($s, $b, $h) = curl_request(vhost => $v, path => $path, cert => $cert, %o);
                my $u = $h->{'x-cm-remote-user'} // '';
                $u = '' if $u eq '(null)';
                ok($s !~ /^2/, "[24] $tn $how: $cert (CN=alice), $path: not 2xx (got $s"
                               . ($u ne '' ? " as '$u'" : '') . ')');
                is("$s/" . ($h->{'x-cm-sub'} // ''), '403/16', "[24] $tn $how: $cert, $path -> 403.16"
                   . ($s ? '' : ' (got no HTTP answer)'));
            }
        }
    }
}
