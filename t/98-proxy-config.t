# Contract: "Behind a TLS-terminating proxy" directives, and the safety
# invariant "a bad directive stops apachectl configtest with the file,
# line and reason".  Each case is a small standalone configuration checked
# with `httpd -t` (the suite's httpd wrapper: the sanitizers watch the
# parser too).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;
use File::Temp qw(tempdir);

my $dir = tempdir('certmap-proxyconf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $pki = pki();
my $ca = "$pki/ca-bundle.pem";
my $crl = "$pki/crl-bundle.pem";
my $junk = "$dir/junk.pem";
{ open my $f, '>', $junk or die; print $f "not a PEM file\n"; close $f; }

# name => [server-level lines], 1-based index of the bad line (undef: any),
#         reason regex
my @bad = (
    ['host name, not an address', ['CertMapTrustedProxy localhost'], 1, qr/CertMapTrustedProxy: 'localhost' is not an IP address or CIDR/],
    ['bad CIDR',                  ['CertMapTrustedProxy 10.0.0.0/99'], 1, qr/CertMapTrustedProxy: '10\.0\.0\.0\/99' is not an IP address or CIDR/],
    ['empty mask',                ['CertMapTrustedProxy 10.0.0.1/'], 1, qr/CertMapTrustedProxy: .*not an IP address or CIDR/],
    ['unknown format',            ['CertMapProxyHeader X-Cert der'], 1, qr/CertMapProxyHeader: unknown format 'der'/],
    ['bad header name',           ['CertMapProxyHeader "X Cert" rfc9440'], 1, qr/CertMapProxyHeader: 'X Cert' is not a header name/],
    ['missing CA file',           ["CertMapProxyCACertificateFile $dir/none.pem"], 1, qr/CertMapProxyCACertificateFile: cannot read '\Q$dir\E\/none\.pem'/],
    ['CA file without certificates', ["CertMapProxyCACertificateFile $crl"], 1, qr/CertMapProxyCACertificateFile: .* holds no PEM certificate/],
    ['junk CA file',              ["CertMapProxyCACertificateFile $junk"], 1, qr/CertMapProxyCACertificateFile: .*(no PEM|not a PEM)/],
    ['CRL file without CRLs',     ["CertMapProxyCARevocationFile $ca"], 1, qr/CertMapProxyCARevocationFile: .* holds no PEM CRL/],
    ['in a Location',             ['<Location /x>', 'CertMapTrustedProxy 127.0.0.2', '</Location>'], 2, qr/CertMapTrustedProxy not allowed in <Location>/],
    ['no header',                 ['CertMapTrustedProxy 127.0.0.2', "CertMapProxyCACertificateFile $ca"], 1, qr/CERTMAP450: .* lack CertMapProxyHeader/],
    ['no CA file',                ['CertMapTrustedProxy 127.0.0.2', 'CertMapProxyHeader X-Cert base64-der'], 1, qr/CERTMAP450: .* lack CertMapProxyCACertificateFile/],
    ['no trusted proxy',          ['CertMapProxyHeader X-Cert base64-der', "CertMapProxyCACertificateFile $ca"], 1, qr/CERTMAP450: .* lack CertMapTrustedProxy/],
    ['a vhost lacking what the main server lacks too',
                                  ['<VirtualHost 127.0.0.1:9>', 'CertMapProxyHeader X-Cert base64-der', '</VirtualHost>'], 2, qr/CERTMAP450: .* lack CertMapTrustedProxy/],
);

plan tests => 4 * @bad + 6, need_module 'ssl';

my $httpd = httpd_bin();
my $inherit = gen_dir() . '/inherit.conf';
my $n = 0;

sub write_conf {
    my ($lines) = @_;
    my $file = sprintf '%s/case%02d.conf', $dir, ++$n;
    my @head = (
        "ServerRoot \"" . t_dir() . "\"",
        'ServerName localhost',
        "Include \"$inherit\"",
        'LoadModule certmap_module ${CERTMAP_MODULE}',
        "PidFile \"$dir/httpd.pid\"",
        "ErrorLog \"$dir/error_log\"",
        'Listen 127.0.0.1:9',
    );
    open my $f, '>', $file or die "$file: $!";
    print $f "$_\n" for @head, @$lines;
    close $f;
    return ($file, scalar(@head));
}

sub configtest {
    my ($file, @defs) = @_;
    my $out = `"$httpd" -t @defs -f "$file" 2>&1`;
    return ($? >> 8, $out);
}

for my $case (@bad) {
    my ($name, $lines, $off, $re) = @$case;
    my ($file, $head) = write_conf($lines);
    my ($rc, $out) = configtest($file);
    isnt($rc, 0, "[proxy configtest] $name: httpd -t fails");
    like($out, qr/\Q$file\E/, "[proxy configtest] $name: names the file") or diag($out);
    my $line = $head + $off;
    like($out, qr/(line |:)$line\b/, "[proxy configtest] $name: names line $line") or diag($out);
    like($out, $re, "[proxy configtest] $name: gives the reason") or diag($out);
}

# good: the main server's settings, a vhost that changes only its header
{
    my ($file) = write_conf([
        'CertMapTrustedProxy 127.0.0.2 10.1.0.0/16 ::1 fd00::/8',
        'CertMapProxyHeader X-SSL-Client-DER base64-der',
        "CertMapProxyCACertificateFile $ca",
        "CertMapProxyCARevocationFile $crl",
        '<VirtualHost 127.0.0.1:9>',
        'ServerName other',
        'CertMapProxyHeader Client-Cert RFC9440',
        '</VirtualHost>',
    ]);
    my ($rc, $out) = configtest($file);
    is($rc, 0, '[proxy configtest] a complete configuration passes') or diag($out);
    ($rc, $out) = configtest($file, '-D', 'DUMP_CERTMAP');
    is($rc, 0, '[proxy DUMP_CERTMAP] runs') or diag($out);
    like($out, qr/behind a proxy: trusted 127\.0\.0\.2 10\.1\.0\.0\/16 ::1 fd00::\/8; header X-SSL-Client-DER \(base64-der\); CA \Q$ca\E; CRL \Q$crl\E/,
         '[proxy DUMP_CERTMAP] the main server\'s settings') or diag($out);
    like($out, qr/behind a proxy: trusted 127\.0\.0\.2 .*; header Client-Cert \(rfc9440\); CA \Q$ca\E/,
         '[proxy DUMP_CERTMAP] the vhost inherits all but its header') or diag($out);
    # a CA file alone in the main server: a default for the vhosts
    ($file) = write_conf([
        "CertMapProxyCACertificateFile $ca",
        '<VirtualHost 127.0.0.1:9>',
        'CertMapTrustedProxy 127.0.0.2',
        'CertMapProxyHeader X-Cert base64-der',
        '</VirtualHost>',
    ]);
    ($rc, $out) = configtest($file);
    is($rc, 0, '[proxy configtest] a CA file in the main server is a default for a vhost') or diag($out);
    ($file) = write_conf([
        'CertMapTrustedProxy 127.0.0.2 10.1.0.0/16 ::1 fd00::/8',
        'CertMapProxyHeader X-SSL-Client-DER base64-der',
        "CertMapProxyCACertificateFile $ca",
        "CertMapProxyCARevocationFile $crl",
        '<VirtualHost 127.0.0.1:9>',
        'ServerName other',
        'CertMapProxyHeader Client-Cert RFC9440',
        '</VirtualHost>',
    ]);
    # the server starts (post_config builds the stores) as far as -t goes
    ($rc, $out) = configtest($file, '-D', 'DUMP_VHOSTS');
    is($rc, 0, '[proxy configtest] -D DUMP_VHOSTS') or diag($out);
}
