# [item8] issue 8: hostile names, end to end through httpd (the engine's own
# unit tests cover the matcher; these check that nothing between mod_ssl
# and the rules turns a name into a string an attacker can shape).
#
# Contract, "How a certificate is mapped": rules match parsed name
# attributes, never a DN string -- a CN that reads `x, O=Contoso` is a CN,
# not an O; a value with an embedded NUL never matches; any value of a
# sub-field will do (multi-valued RDNs included); values are compared as
# UTF-8 text of the decoded attribute, whatever its ASN.1 string type;
# CaseInsensitive folds all of Unicode.  A CN with CR LF "X-Injected: yes"
# never becomes a response header or a log line.  (CertMapUser templates
# are issue 13's: not implemented yet, so not tested here.)
# Certificates: make-pki.sh's commacn, nulcn, unicode, hostile, alice, bob;
# made here, issued by the test root: a multi-valued RDN (CN=mvrdn+OU=Sales),
# CNs that spell "+OU=Sales" and "/OU=Sales" inside one value, a BMPString
# name, CN=ALICE.  Host certmap_hostile_report (t/conf/hostile.conf.in).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my $V = 'certmap_hostile_report';

my $mv     = make_client_cert('mvrdn', '/O=Fabrikam/CN=mvrdn+OU=Sales', multivalue => 1);
my $plus   = make_client_cert('plusinj', '/O=Fabrikam/CN=mvrdn\+OU=Sales');
my $slash  = make_client_cert('slashinj', '/O=Fabrikam/CN=mvrdn\/OU=Sales');
my $bmp    = make_client_cert('bmpalice', '/O=Contoso/OU=Sales/CN=alice', string_mask => 'MASK:0x800');
my $upper  = make_client_cert('upperalice', '/O=Fabrikam/CN=ALICE');

# [certificate, path, expected "STATUS/SUB/USER", what, control?]
my @cases = (
    # DN injection through a comma
    ['bob', '/x/hn-o-contoso', '200/0/contoso', 'O=Contoso, the real attribute', 1],
    ['commacn', '/x/hn-o-contoso', '403/16/', 'CN "x, O=Contoso" (O=Fabrikam) does not satisfy a rule on O'],
    ['commacn', '/x/hn-cn-comma', '200/0/commacn', 'the same CN matched as a CN', 1],
    # multi-valued RDN, and look-alikes inside one value
    [$mv, '/x/hn-ou-sales', '200/0/sales', 'OU=Sales inside a multi-valued RDN is an OU'],
    [$mv, '/x/hn-cn-mvrdn', '200/0/mvrdn', 'CN and OU of one multi-valued RDN both match'],
    [$plus, '/x/hn-ou-sales', '403/16/', 'CN "mvrdn+OU=Sales" (one value) is not an OU'],
    [$plus, '/x/hn-cn-mvrdn', '403/16/', 'CN "mvrdn+OU=Sales" is not CN mvrdn'],
    [$slash, '/x/hn-ou-sales', '403/16/', 'CN "mvrdn/OU=Sales" is not an OU'],
    # an embedded NUL
    ['alice', '/x/hn-cn-alice', '200/0/alice', 'CN alice', 1],
    ['alice', '/x/hn-cn-alice-prefix', '200/0/alice', 'CN alice*', 1],
    ['alice', '/x/hn-cn-any', '200/0/anyone', 'CN *', 1],
    ['nulcn', '/x/hn-cn-alice', '403/16/', 'CN "alice\\0.evil" never matches CN alice'],
    ['nulcn', '/x/hn-cn-alice-prefix', '403/16/', 'CN "alice\\0.evil" never matches CN alice*'],
    ['nulcn', '/x/hn-cn-any', '403/16/', 'CN "alice\\0.evil" never matches CN *'],
    ['nulcn', '/x/hn-ou-sales', '200/0/sales', 'a rule on its clean OU still matches (the NUL is in the CN only)', 1],
    # string types and case
    [$bmp, '/x/hn-cn-alice', '200/0/alice', 'a BMPString CN alice is the text alice'],
    [$bmp, '/x/hn-o-contoso', '200/0/contoso', 'a BMPString O=Contoso is the text Contoso'],
    ['unicode', '/x/hn-cn-unicode-ci', '200/0/unicode', 'CaseInsensitive: "ωMEGA äRGER" matches CN "Ωmega Ärger"'],
    ['alice', '/x/hn-cn-unicode-ci', '403/16/', 'and alice does not', 1],
    ['alice', '/x/hn-cn-upper', '403/16/', 'CaseSensitive (default): CN ALICE does not match alice'],
    [$upper, '/x/hn-cn-upper', '200/0/alice', 'CN ALICE matches CN ALICE', 1],
    # control characters, quotes, CR LF "X-Injected: yes" in a CN
    ['hostile', '/x/hn-o-contoso', '200/0/contoso', 'a CN full of control characters, O=Contoso: mapped by O', 1],
    ['hostile', '/x/hn-cn-alice-prefix', '403/16/', 'that CN is not alice*'],
);

plan tests => @cases + 2, need_module 'ssl';

my %seen;
for my $c (@cases) {
    my ($cert, $path, $want, $what, $control) = @$c;
    my ($s, $b, $h, $e) = curl_request(vhost => $V, path => $path, cert => $cert);
    my $u = $h->{'x-cm-remote-user'} // '';
    $u = '' if $u eq '(null)';
    (my $name = $cert) =~ s{.*/}{};
    is("$s/" . ($h->{'x-cm-sub'} // '') . "/$u", $want,
       ($control ? '[item8 control] ' : '[item8] ') . "$name $path: $what") or diag($e);
    $seen{injected} ||= exists $h->{'x-injected'};
}
ok(!$seen{injected}, '[item8] no response ever carried a header injected through a CN');
{
    my $log = error_log_since(0);
    unlike($log, qr/^X-Injected/m, '[item8] no error-log line injected through a CN');
}
