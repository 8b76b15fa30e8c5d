# Contract rows: 403.4 (plain HTTP + Ssl), 403.5 (cipher < 128 bits + Ssl128),
# 403.7 (no certificate + SslRequireCert), CertMapSSLFlags forms.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;

plan tests => 24, need_module 'ssl';

my ($s, $b, $h);

# ---- 403.4 ------------------------------------------------------------------
($s, $b, $h) = request('certmap_plain', '/x/ssl-required', undef, plain => 1);
ok t_cmp($s, 403, '[403.4] plain HTTP, default flags (Ssl) -> 403');
ok t_cmp($h->{'x-cm-sub'}, 4, '[403.4] note certmap-substatus = 4');
ok t_cmp($b, qr/403\.4 SSL required/, '[403.4] body names 403.4 SSL required');

($s, $b, $h) = request('certmap_plain', '/x/ssl-required-open', undef, plain => 1);
ok t_cmp($s, 403, '[403.4] plain HTTP, no Require at all -> still 403.4');
ok t_cmp($h->{'x-cm-envsub'}, 4, '[403.4] env CERTMAP_SUBSTATUS = 4');

($s, $b, $h) = request('certmap_plain', '/x/ssl-flags-none', undef, plain => 1);
ok t_cmp($s, 200, '[403.4 control] CertMapSSLFlags None on plain HTTP -> 200');

($s, $b, $h) = request('certmap_plain', '/x/certmap-off', undef, plain => 1);
ok t_cmp($s, 200, '[CertMap Off] plain HTTP with flags Ssl SslRequireCert -> module does nothing, 200');
ok t_cmp($h->{'x-cm-sub'} // '', '', '[CertMap Off] no certmap-substatus note');

# ---- 403.5 ------------------------------------------------------------------
my %null = (ciphers => 'NULL-SHA256:@SECLEVEL=0');
($s, $b, $h) = request('certmap_null', '/x/ssl128', 'alice', %null);
ok t_cmp($s, 403, '[403.5] NULL cipher, flags Ssl Ssl128 -> 403');
ok t_cmp($h->{'x-cm-sub'}, 5, '[403.5] certmap-substatus = 5');
ok t_cmp($b, qr/403\.5 SSL 128 required/, '[403.5] body names 403.5 SSL 128 required');

($s, $b, $h) = request('certmap_null', '/x/ssl128-iis', 'alice', %null);
ok t_cmp($s, 403, '[403.5] NULL cipher, IIS form "Ssl, Ssl128" -> 403');
ok t_cmp($h->{'x-cm-sub'}, 5, '[403.5] IIS form: certmap-substatus = 5');

($s, $b, $h) = request('certmap_null', '/x/no-ssl128', 'alice', %null);
ok t_cmp($s, 200, '[403.5 control] NULL cipher without Ssl128 -> alice mapped, 200');

($s, $b, $h) = request('certmap_ssl', '/x/ssl128-strong', 'alice');
ok t_cmp($s, 200, '[403.5 control] strong cipher with Ssl128 -> 200');

# ---- 403.7 ------------------------------------------------------------------
($s, $b, $h) = request('certmap_ssl', '/x/require-cert', undef);
ok t_cmp($s, 403, '[403.7] no client certificate, SslRequireCert -> 403');
ok t_cmp($h->{'x-cm-sub'}, 7, '[403.7] certmap-substatus = 7');
ok t_cmp($b, qr/403\.7 Client certificate required/, '[403.7] body text');

($s, $b, $h) = request('certmap_ssl', '/x/require-cert-open', undef);
ok t_cmp($s, 403, '[403.7] SslRequireCert with Require all granted -> still 403.7');

($s, $b, $h) = request('certmap_ssl', '/x/require-cert', 'alice');
ok t_cmp($s, 200, '[403.7 control] SslRequireCert with alice -> 200');

# ---- CertMapSSLFlags forms ----------------------------------------------------
($s, $b, $h) = request('certmap_ssl', '/x/flags-iis', undef);
ok t_cmp($s, 403, '[flags] IIS one-string form "Ssl, SslNegotiateCert, SslRequireCert" -> 403.7 without cert');
ok t_cmp($h->{'x-cm-sub'}, 7, '[flags] IIS form: substatus 7');

($s, $b, $h) = request('certmap_ssl', '/x/flags-case', undef);
ok t_cmp("$s/" . ($h->{'x-cm-sub'} // ''), '403/7', '[flags] keywords case-insensitive (sSL SSLREQUIRECERT) -> 403.7');

($s, $b, $h) = request('certmap_ssl', '/x/flags-case', 'alice');
ok t_cmp($s, 200, '[flags] SslRequireCert implies SslNegotiateCert: alice mapped -> 200');
