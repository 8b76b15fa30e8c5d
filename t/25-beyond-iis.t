# Contract: "Rules beyond IIS": CertMapRule SAN/EKU/KeyUsage/Policy,
# CertMapUser templates, CertMapUserMatch, and the refusal (403.16) of
# every kind of bad expanded name.  Locations: t/conf/beyond.conf.in.
# The certificates are issued here, by the test root, with the
# extensions each case needs; hostile SANs are written as raw DER.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;

plan tests => 27 * 3 + 6, need_module 'ssl';

my $mark = error_log_mark();

# DER helpers for hostile subjectAltNames
sub tlv { my ($tag, $body) = @_; my $n = length $body;
          return chr($tag) . ($n < 128 ? chr($n) : chr(0x81) . chr($n)) . $body }
sub upn_der {    # otherName UPN, [0] EXPLICIT UTF8String
    my ($v) = @_;
    return tlv(0xa0, tlv(0x06, "\x2b\x06\x01\x04\x01\x82\x37\x14\x02\x03")
                   . tlv(0xa0, tlv(0x0c, $v)));
}
sub san_ext { 'subjectAltName = DER:' . unpack('H*', tlv(0x30, join '', @_)) . "\n" }

my $cc = "basicConstraints = CA:FALSE\n";
my %c = (
    all => make_client_cert('b-all', '/O=Templ/CN=all', ext => $cc
        . "keyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n"
        . "subjectAltName = email:alice\@contoso.com, email:second\@contoso.com, "
        . "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:alice\@CORP.contoso.com, "
        . "DNS:WWW.Contoso.com, URI:https://id.contoso.com/u/alice, "
        . "IP:192.0.2.7, IP:2001:db8:0:0::1\n"),
    dns => make_client_cert('b-dns', '/O=Other/CN=dns', ext => $cc
        . "subjectAltName = DNS:host.CONTOSO.com, DNS:xn--bcher-kva.example\n"),
    ip => make_client_cert('b-ip', '/O=Other/CN=ip', ext => $cc
        . "subjectAltName = IP:2001:db8::1\n"),
    uri => make_client_cert('b-uri', '/O=Other/CN=uri', ext => $cc
        . "subjectAltName = URI:https://id.contoso.com/u/bob\n"),
    nul => make_client_cert('b-nul', '/O=Templ/CN=nul', ext => $cc
        . san_ext(tlv(0x81, "alice\@contoso.com\0\@evil.com"),
                  upn_der("bob\@corp.contoso.com\0x"))),
    trick => make_client_cert('b-trick', '/O=Templ/CN=trick', ext => $cc
        . "subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:mallory\@evil.com\@corp.contoso.com, "
        . "email:mallory\@contoso.com.evil.org\n"),
    smart => make_client_cert('b-smart', '/O=Other/CN=smart', ext => $cc
        . "keyUsage = critical, digitalSignature, nonRepudiation\n"
        . "extendedKeyUsage = clientAuth, 1.3.6.1.4.1.311.20.2.2\n"
        . "certificatePolicies = 1.2.3.4\n"),
    nopolicy => make_client_cert('b-nopol', '/O=Other/CN=nopolicy', ext => $cc
        . "keyUsage = critical, digitalSignature, nonRepudiation\n"
        . "extendedKeyUsage = clientAuth, 1.3.6.1.4.1.311.20.2.2\n"),
    mail => make_client_cert('b-mail', '/O=Other/CN=mail', ext => $cc
        . "keyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = clientAuth, emailProtection\n"),
    dash => make_client_cert('b-dash', '/O=Templ/CN=-rf'),
    slash => make_client_cert('b-slash', '/O=Templ/CN=a\/b'),
    ctrl => make_client_cert('b-ctrl', "/O=Templ/CN=a\tb"),
    plain => make_client_cert('b-plain', '/O=Templ/CN=carol'),
    short => make_client_cert('b-short', '/O=Templ/CN=short12'),
    long => make_client_cert('b-long', '/O=Templ/CN=muchlonger'),
);

# expect(PATH, CERT, STATUS, SUBSTATUS, USER, MAPPING, NAME): 3 assertions
sub expect {
    my ($path, $cert, $status, $sub, $user, $map, $name) = @_;
    my ($s, $b, $h, $err) = request('certmap_beyond', $path, $c{$cert},
                                    chain => 0);
    is($s, $status, "$name: status") or diag("curl: $err\nbody: $b");
    is($h->{'x-cm-sub'} // '', $sub, "$name: certmap-substatus");
    if (defined $user) {
        is(($h->{'x-cm-remote-user'} // '') . '|' . ($h->{'x-cm-map'} // ''),
           "$user|$map", "$name: REMOTE_USER|CERTMAP_MAPPING");
    } else {
        is($h->{'x-cm-remote-user'} // '', '', "$name: no user");
    }
}

# ---- SAN rules -----------------------------------------------------------------
expect('/x/b/san', 'all', 200, 0, 'm-upn', 'upn', '[SAN UPN] CaseInsensitive suffix');
expect('/x/b/san', 'nul', 403, 16, undef, '', '[SAN] values with a NUL never match (UPN, Email)');
expect('/x/b/san', 'trick', 200, 0, 'm-upn', 'upn', "[SAN UPN] '\@' tricks compare as literal text");
expect('/x/b/san', 'dns', 200, 0, 'm-dns', 'dns', '[SAN DNS] case-insensitive although CaseSensitive');
expect('/x/b/san', 'uri', 200, 0, 'm-uri', 'uri', '[SAN URI] prefix');
expect('/x/b/san', 'ip', 200, 0, 'm-ip', 'ip', '[SAN IP] IPv6 in RFC 5952 text');
expect('/x/b/san', 'plain', 403, 16, undef, '', '[SAN] absent: never matches');

# ---- EKU, KeyUsage, Policy ---------------------------------------------------------
expect('/x/b/usage', 'smart', 200, 0, 'm-smartcard', 'smartcard', '[EKU+KU+Policy] smartcardLogon, nonRepudiation, policy');
expect('/x/b/usage', 'nopolicy', 403, 12, undef, '', '[Policy] missing: next mapping (clientAuth: Deny)');
expect('/x/b/usage', 'mail', 200, 0, 'm-mail', 'mail', '[EKU] emailProtection');
expect('/x/b/usage', 'plain', 403, 12, undef, '', '[EKU] clientAuth only: Deny');
expect('/x/b/usage', 'dns', 403, 16, undef, '', '[EKU/KU] no extensions: nothing matches');

# ---- templates -------------------------------------------------------------------
expect('/x/b/tpl-upn', 'all', 200, 0, 'alice', 'upn', '[template] %{SAN:UPN} + CertMapUserMatch capture');
expect('/x/b/tpl-upn', 'trick', 200, 0, 'mail-mallory@contoso.com.evil.org', 'email', "[template] '\@' trick: regex does not match, next mapping");
expect('/x/b/tpl-upn', 'plain', 403, 16, undef, '', '[template] no UPN, no Email: no mapping matches');
expect('/x/b/tpl-upn', 'nul', 403, 16, undef, '', '[template] first UPN holds a NUL: refused');
expect('/x/b/tpl-cn', 'plain', 200, 0, 'carol', 'cn', '[template] %{Subject:CN}.%{Issuer:O} with capture');
expect('/x/b/tpl-pam', 'plain', 200, 0, 'carol', 'cn-pam', '[template + PAM] %{Subject:CN} logs on through PAM (account carol)');
expect('/x/b/tpl-pam', 'short', 401, 1, undef, '', '[template + PAM] an account PAM does not know: 401.1');
expect('/x/b/tpl-cn', 'dash', 403, 16, undef, '', '[bad name] leading -');
expect('/x/b/tpl-cn', 'slash', 403, 16, undef, '', '[bad name] /');
expect('/x/b/tpl-cn', 'ctrl', 403, 16, undef, '', '[bad name] control character');
expect('/x/b/tpl-long', 'short', 200, 0, 'short12' . ('x' x 247), 'long', '[template] 254 bytes: fine');
expect('/x/b/tpl-long', 'long', 403, 16, undef, '', '[bad name] over 256 bytes');
expect('/x/b/tpl-upn', 'dns', 403, 16, undef, '', '[template] rules fail: not mapped');

# the memo remembers the mapping, never the name: two certificates, one
# connection each, same mapping, different accounts
expect('/x/b/tpl-cn', 'plain', 200, 0, 'carol', 'cn', '[template] per certificate (1)');
expect('/x/b/tpl-cn', 'short', 200, 0, 'short12', 'cn', '[template] per certificate (2)');

# ---- logs ---------------------------------------------------------------------------
my $log = error_log_since($mark);
like($log, qr/CERTMAP400: many-to-one mapping 'cn'.*starts with '-'/, '[log] CERTMAP400 names a leading -');
like($log, qr/CERTMAP400: many-to-one mapping 'cn'.*holds a '\/'/, '[log] CERTMAP400 names a /');
like($log, qr/CERTMAP400: many-to-one mapping 'cn'.*control character/, '[log] CERTMAP400 names a control character');
like($log, qr/CERTMAP400: many-to-one mapping 'long'.*longer than 256/, '[log] CERTMAP400 names the length');
like($log, qr/CERTMAP400: many-to-one mapping 'upn'.*unusable value/, '[log] CERTMAP400 names an unusable value (NUL)');
unlike($log, qr/CERTMAP400[^\n]*carol/, '[log] a good name is no CERTMAP400');
