# CertMapInvalidCerts (t/conf/invalid_certs.conf.in).  Contract rows 403.17
# (expired, not yet valid, at any depth), 403.13 (revoked), 403.16
# (untrusted, self-signed, forged root, CRL problems), and the safety
# invariant: under Report a certificate that failed verification gets no
# 2xx anywhere on the virtual host, CertMap location or not (Require
# ssl-verify-client, Require expr SSL_CLIENT_VERIFY, SSLUserName + Require
# valid-user, SSLRequire, Require all granted), over TLS 1.2 and 1.3.
# Under Reject, mod_ssl refuses the handshake itself.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;

my @paths = qw(/x/inv-certmap /x/inv-verify-client /x/inv-verify-expr
               /x/inv-username /x/inv-sslrequire /x/inv-open);
my %text = (17 => 'Client certificate has expired or is not yet valid',
            13 => 'Client certificate revoked',
            16 => 'Client certificate is untrusted or invalid');
my @invalid = ([expired => 17], [notyet => 17],
               [expired_intermediate_leaf => 17], [revoked => 13],
               [untrusted => 16], [selfsigned => 16], [forged => 16]);
my @valid = qw(alice via_intermediate);
my @tls = ([ 'TLS 1.2', tls12 => 1 ], [ 'TLS 1.3' ]);

plan tests => @tls * (@invalid * (@paths * 2 + 2) + @valid * @paths)
              + 6 + 4 + 1,
     need_module 'ssl';

my ($s, $b, $h);

# ---- Report: every location refuses, with the right sub-status ----------
for my $t (@tls) {
    my ($proto, %o) = @$t;
    # curl has no --tlsv1.3-only switch here; TLS 1.3 is the default
    for my $case (@invalid) {
        my ($cert, $sub) = @$case;
        for my $path (@paths) {
            ($s, $b, $h) = request('certmap_invalid_report', $path, $cert, %o);
            ok t_cmp($s, 403, "[403.$sub] $proto $cert $path -> 403");
            ok t_cmp($h->{'x-cm-sub'}, $sub,
                     "[403.$sub] $proto $cert $path: certmap-substatus");
        }
        ($s, $b, $h) = request('certmap_invalid_report', '/x/inv-open', $cert, %o);
        ok t_cmp($b, qr/403\.$sub \Q$text{$sub}\E/,
                 "[403.$sub] $proto $cert: body names the sub-status");
        ok t_cmp($h->{'x-cm-verify'}, qr/^FAILED:/,
                 "[403.$sub] $proto $cert: SSL_CLIENT_VERIFY reads FAILED");
    }
    # controls: a valid certificate works everywhere
    for my $cert (@valid) {
        for my $path (@paths) {
            ($s, $b, $h) = request('certmap_invalid_report', $path, $cert, %o);
            ok t_cmp($s, 200, "[control] $proto $cert $path -> 200");
        }
    }
}

# ---- Reject: mod_ssl's TLS alert, no HTTP answer ------------------------
for my $cert (qw(expired revoked untrusted)) {
    ($s, $b, $h) = request('certmap_invalid_reject', '/x/inv-open', $cert);
    ok t_cmp($s, 0, "[Reject] $cert: handshake refused, no HTTP status");
}
($s, $b, $h) = request('certmap_invalid_reject', '/x/inv-certmap', 'alice');
ok t_cmp($s, 200, '[Reject control] alice mapped -> 200');
($s, $b, $h) = request('certmap_invalid_reject', '/x/inv-open', undef);
ok t_cmp($s, 200, '[Reject control] no certificate, open location -> 200');
($s, $b, $h) = request('certmap_invalid_reject', '/x/inv-open', 'alice', tls12 => 1);
ok t_cmp($s, 200, '[Reject control] alice over TLS 1.2 -> 200');

# ---- CRL problems -----------------------------------------------------------
($s, $b, $h) = request('certmap_invalid_nocrl', '/x/inv-certmap', 'via_intermediate');
ok t_cmp($s, 403, '[CRL] no CRL for the issuer -> 403 (fails closed)');
ok t_cmp($h->{'x-cm-sub'}, 16, '[CRL] no CRL for the issuer -> 403.16');
($s, $b, $h) = request('certmap_invalid_nocrl', '/x/inv-certmap', 'alice');
ok t_cmp($s, 200, '[CRL control] issuer with a CRL -> 200');
($s, $b, $h) = request('certmap_invalid_nocrl_ok', '/x/inv-certmap', 'via_intermediate');
ok t_cmp($s, 200, '[CRL] no_crl_for_cert_ok keeps its meaning -> 200');

# ---- start-up warning: CertMap without SSLVerifyClient ------------------
my $log = do {
    open my $fh, '<', Apache::Test::vars('t_logs') . '/error_log' or die $!;
    local $/;
    <$fh>;
};
ok t_cmp($log, qr/CERTMAP107: server certmap-invalid-noverify .*requests no client certificate/,
         '[warning] CertMap on a virtual host without SSLVerifyClient');
