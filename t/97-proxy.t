# Contract: "Behind a TLS-terminating proxy".  A real HAProxy (Debian's)
# terminates the client's TLS on 127.0.0.1 with the suite's PKI (verify
# optional, every certificate error ignored so bad certificates reach
# httpd) and forwards the certificate from source 127.0.0.2, the trusted
# proxy, in two formats: base64-der (X-SSL-Client-DER, plain HTTP to
# httpd) and rfc9440 (Client-Cert, re-encrypted to httpd).  Then the
# attacks: the header from an untrusted peer, twice, malformed, another
# CA, expired; one connection carrying several clients' certificates; and
# the xfcc and pem-urlencoded formats from the trusted address directly.
# Configuration: t/conf/proxy.conf.in.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);

plan skip_all => 'haproxy not installed (scripts/install-deps.sh)'
    unless -x '/usr/sbin/haproxy';
plan tests => 240, need_module 'ssl', 'headers', 'setenvif';

my $cfg = Apache::Test::config();
sub vport { $cfg->{vhosts}{$_[0]}{port} or die "no port for $_[0]" }
my $P_DER = vport('certmap_proxy');
my $P_TLS = vport('certmap_proxy_tls');
my $P_XFCC = vport('certmap_proxy_xfcc');
my $P_PEM = vport('certmap_proxy_pem');

# ---- HAProxy: started here, stopped on every way out --------------------
my $GEN = gen_dir();
my $HADIR = "$GEN/haproxy";
our $PIDFILE = "$HADIR/haproxy.pid";
mkdir $HADIR unless -d $HADIR;

sub free_port {
    my %skip = map { $_ => 1 } @_;
    # within 10600-10699 when the suite runs there (APACHE_TEST_PORT), from
    # the top down so as not to meet Apache::Test's own ports
    my $base = $ENV{APACHE_TEST_PORT} || 0;
    my @try = $base >= 10600 && $base < 10700 ? reverse(10660 .. 10699) : (0);
    for my $p (@try) {
        next if $skip{$p};
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => $p, ReuseAddr => 1)
            or next;
        my $got = $s->sockport;
        close $s;
        return $got;
    }
    die "no free port for haproxy";
}

sub stop_haproxy {
    return unless defined $PIDFILE && -f $PIDFILE;
    open my $fh, '<', $PIDFILE or return;
    my @pids = grep { /^\d+$/ } map { chomp; $_ } <$fh>;
    close $fh;
    kill 'TERM', @pids if @pids;
    unlink $PIDFILE;
}
END { stop_haproxy() }
$SIG{$_} = sub { exit 1 } for qw(INT TERM HUP);

my $HP_DER = free_port();
my $HP_RFC = free_port($HP_DER);
die "no second port" if $HP_RFC == $HP_DER;

{
    open my $out, '>', "$HADIR/server.pem" or die $!;
    for my $f (pki('server.crt'), pki('server.key')) {
        open my $in, '<', $f or die "$f: $!";
        print {$out} <$in>;
    }
    close $out;
}
my $bind = "ssl crt $HADIR/server.pem ca-file " . pki('ca-bundle.pem')
         . " verify optional crt-ignore-err all ca-ignore-err all";
open my $hc, '>', "$HADIR/haproxy.cfg" or die $!;
print $hc <<"EOF";
global
    maxconn 200
    pidfile $PIDFILE
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
frontend fe_der
    bind 127.0.0.1:$HP_DER $bind
    http-request del-header X-SSL-Client-DER
    http-request set-header X-SSL-Client-DER %[ssl_c_der,base64] if { ssl_c_used }
    default_backend be_der
backend be_der
    http-reuse always
    server httpd 127.0.0.1:$P_DER source 127.0.0.2
frontend fe_rfc
    bind 127.0.0.1:$HP_RFC $bind
    http-request del-header Client-Cert
    http-request set-header Client-Cert :%[ssl_c_der,base64]: if { ssl_c_used }
    default_backend be_rfc
backend be_rfc
    http-reuse always
    server httpd 127.0.0.1:$P_TLS ssl verify none sni str(localhost) source 127.0.0.2
EOF
close $hc;
stop_haproxy();
system('/usr/sbin/haproxy', '-q', '-D', '-f', "$HADIR/haproxy.cfg") == 0
    or die "haproxy did not start";
for (1 .. 50) {
    last if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$HP_DER");
    select undef, undef, undef, 0.1;
}

# ---- helpers ----------------------------------------------------------------
sub slurp_file { my $f = shift; open my $fh, '<:raw', $f or die "$f: $!"; local $/; <$fh> }
sub der_b64 { my $n = shift; my $b = encode_base64(slurp_file(pki("$n.der")), ''); $b }
sub pem_escaped {
    my $pem = slurp_file(pki("$_[0].crt"));
    $pem =~ s/([^A-Za-z0-9\-_.~])/sprintf('%%%02X', ord $1)/ge;
    return $pem;
}

# through(PORT, PATH, CERT, %o): a request through HAProxy
sub through {
    my ($port, $path, $cert, %o) = @_;
    return curl_request(port => $port, path => $path, cert => $cert, %o);
}

# direct(PORT, PATH, [headers], %o): one plain HTTP/1.1 request from
# o{local} (127.0.0.2: the trusted proxy; default 127.0.0.1, untrusted)
sub raw_request {
    my ($sock, $path, $headers) = @_;
    my $req = "GET $path HTTP/1.1\r\nHost: localhost\r\n";
    $req .= "$_\r\n" for @$headers;
    $req .= "\r\n";
    local $SIG{PIPE} = 'IGNORE';
    print $sock $req or return { status => 0, h => {} };
    my %r = (status => 0, h => {}, body => '');
    my $line = <$sock>;
    return \%r unless defined $line && $line =~ m{^HTTP/1\.1 (\d{3})};
    $r{status} = $1;
    while (defined(my $l = <$sock>)) {
        $l =~ s/\r?\n$//;
        last if $l eq '';
        if ($l =~ /^([^:]+):\s*(.*)$/) {
            my $k = lc $1;
            $r{h}{$k} = exists $r{h}{$k} ? "$r{h}{$k}, $2" : $2;
        }
    }
    my $len = $r{h}{'content-length'} // 0;
    while (length $r{body} < $len) {
        my $n = read($sock, $r{body}, $len - length $r{body}, length $r{body});
        last unless $n;
    }
    return \%r;
}
sub plain_socket {
    my ($port, $local) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  LocalAddr => $local || '127.0.0.1',
                                  Timeout => 30);
    die "connect $port: $!" unless $s;
    return $s;
}
sub direct {
    my ($port, $path, $headers, %o) = @_;
    my $s = plain_socket($port, $o{local});
    my $r = raw_request($s, $path, $headers);
    close $s;
    return $r;
}

# checks status, sub-status and user: 3 assertions
sub verdict {
    my ($name, $status, $h, $want, $wsub, $wuser) = @_;
    is($status, $want, "$name: status");
    is($h->{'x-cm-sub'} // '', $wsub, "$name: sub-status");
    is($h->{'x-cm-remote-user'} // '', $wuser // '', "$name: user");
}

# ---- the outcome table, through HAProxy, both formats -----------------------
my @table = (
    # cert, status, sub-status, user
    ['alice', 200, 0, 'alice'],                  # one-to-one
    ['bob', 200, 0, 'sales'],                    # many-to-one
    ['via_intermediate', 200, 0, 'branch'],      # chain through inter
    ['carol', 403, 16, ''],                      # trusted, unmapped
    ['mallory', 403, 12, ''],                    # Deny first
    ['untrusted', 403, 16, ''],                  # another CA
    ['selfsigned', 403, 16, ''],
    ['forged', 403, 16, ''],                     # root's name, other key
    ['expired', 403, 17, ''],
    ['notyet', 403, 17, ''],
    ['revoked', 403, 13, ''],
    ['expired_intermediate_leaf', 403, 17, ''],
);
for my $fe (['base64-der', $HP_DER], ['rfc9440', $HP_RFC]) {
    my ($fmt, $port) = @$fe;
    for my $row (@table) {
        my ($cert, $st, $sub, $user) = @$row;
        my ($s, $b, $h, $err) = through($port, '/x/px-map', $cert);
        verdict("[$fmt] $cert", $s, $h, $st, $sub, $user);
    }
    my ($s, $b, $h) = through($port, '/x/px-require', undef);
    verdict("[$fmt] no certificate, SslRequireCert", $s, $h, 403, 7, '');
    ($s, $b, $h) = through($port, '/x/px-require', 'alice');
    verdict("[$fmt] Ssl128 judged by the proxy's TLS (trusted)", $s, $h, 200, 0, 'alice');
    ($s, $b, $h) = through($port, '/x/px-map', undef);
    verdict("[$fmt] no certificate, negotiate only, no other AuthType", $s, $h, 403, 7, '');
    ($s, $b, $h) = curl_request(port => $port, path => '/x/px-negotiate-basic',
                                header => ['Authorization: Basic ' . encode_base64('basicuser:basicpass', '')]);
    is($s, 200, "[$fmt] no certificate, negotiate only: passed on to Basic");
    ($s, $b, $h) = through($port, '/x/px-pam', 'alice');
    verdict("[$fmt] PAM logon of the mapped account", $s, $h, 200, 0, 'alice');
    ($s, $b, $h) = through($port, '/x/px-pam', 'bob');
    verdict("[$fmt] PAM refuses (wrong password): 401.1", $s, $h, 401, 1, '');
}

# ---- spoofing: the header from an untrusted peer -----------------------------
my $mark = error_log_mark();
my $r = direct($P_DER, '/x/px-map', ['X-SSL-Client-DER: ' . der_b64('alice')]);
isnt($r->{status}, 200, '[spoof] untrusted peer, plain HTTP, alice in the header: no grant');
is($r->{h}{'x-cm-sub'} // '', 4, '[spoof] ... it is plain HTTP to httpd: 403.4');
is($r->{h}{'x-cm-saw'} // '', 'der=(null) rfc=(null) xfcc=(null) pem=(null)', '[spoof] SetEnvIf (post_read_request) never saw the header');
is($r->{h}{'x-cm-late'} // '', '', '[spoof] the header is gone from the request');
$r = direct($P_DER, '/x/px-open', ['X-SSL-Client-DER: ' . der_b64('alice'), 'Client-Cert: :' . der_b64('alice') . ':']);
is($r->{status}, 200, '[spoof] an open location still answers');
is($r->{h}{'x-cm-late'} // '', '', '[spoof] every configured header name is removed (another host\'s too)');
like(error_log_since($mark), qr/CERTMAP452: removed the header X-SSL-Client-DER sent by 127\.0\.0\.1/,
     '[spoof] logged with CERTMAP452');
# a trusted peer's header for another host's name is not this host's
$r = direct($P_DER, '/x/px-map', ['Client-Cert: :' . der_b64('alice') . ':'], local => '127.0.0.2');
is($r->{status}, 403, '[spoof] trusted peer, the header of another host\'s format: not used');
is($r->{h}{'x-cm-sub'} // '', 7, '[spoof] ... no certificate: 403.7');

# direct TLS clients of the TLS host, with their own certificate or none
my ($s, $b, $h) = curl_request(port => $P_TLS, path => '/x/px-map', cert => 'bob',
                               header => ['Client-Cert: :' . der_b64('alice') . ':']);
verdict('[spoof] direct TLS client bob claims alice in Client-Cert: bob\'s own certificate counts',
        $s, $h, 200, 0, 'sales');
($s, $b, $h) = curl_request(port => $P_TLS, path => '/x/px-map',
                            header => ['Client-Cert: :' . der_b64('alice') . ':']);
verdict('[spoof] direct TLS client without a certificate claims alice', $s, $h, 403, 7, '');
($s, $b, $h) = curl_request(port => $P_TLS, path => '/x/px-map', cert => 'alice');
verdict('[direct] a direct TLS client still maps with its own certificate', $s, $h, 200, 0, 'alice');
# through HAProxy, a client-supplied header is replaced by the proxy's
($s, $b, $h) = through($HP_DER, '/x/px-map', 'carol',
                       header => ['X-SSL-Client-DER: ' . der_b64('alice')]);
verdict('[spoof] via HAProxy: carol sends alice\'s header, HAProxy sets carol\'s', $s, $h, 403, 16, '');
($s, $b, $h) = through($HP_DER, '/x/px-map', undef,
                       header => ['X-SSL-Client-DER: ' . der_b64('alice')]);
verdict('[spoof] via HAProxy: no certificate, alice\'s header removed by HAProxy', $s, $h, 403, 7, '');

# ---- the trusted peer sends something wrong ----------------------------------
my $alice = der_b64('alice');
my @bad = (
    ['sent twice', ["X-SSL-Client-DER: $alice", "X-SSL-Client-DER: $alice"]],
    ['two different', ["X-SSL-Client-DER: " . der_b64('carol'), "X-SSL-Client-DER: $alice"]],
    ['not base64', ['X-SSL-Client-DER: not*base64!']],
    ['base64 of junk', ['X-SSL-Client-DER: ' . encode_base64('x' x 300, '')]],
    ['truncated', ['X-SSL-Client-DER: ' . substr($alice, 0, 200)]],
    ['trailing data', ['X-SSL-Client-DER: ' . encode_base64(slurp_file(pki('alice.der')) . "xyz", '')]],
    ['two certificates', ['X-SSL-Client-DER: ' . encode_base64(slurp_file(pki('alice.der')) . slurp_file(pki('bob.der')), '')]],
    ['a PEM in a base64-der header', ['X-SSL-Client-DER: ' . pem_escaped('alice')]],
    ['empty', ['X-SSL-Client-DER: ']],
    ['rfc9440 form in a base64-der header', ["X-SSL-Client-DER: :$alice:"]],
);
$mark = error_log_mark();
for my $case (@bad) {
    my ($what, $hdrs) = @$case;
    $r = direct($P_DER, '/x/px-map', $hdrs, local => '127.0.0.2');
    is($r->{status}, 403, "[malformed] trusted peer, $what: 403");
    is($r->{h}{'x-cm-sub'} // '', 16, "[malformed] trusted peer, $what: .16");
}
like(error_log_since($mark), qr/CERTMAP453: the X-SSL-Client-DER header from trusted proxy 127\.0\.0\.2 is malformed \(sent twice/,
     '[malformed] logged with CERTMAP453');
my @wrong_cert = (['untrusted', 16], ['expired', 17], ['revoked', 13], ['selfsigned', 16]);
for my $c (@wrong_cert) {
    $r = direct($P_DER, '/x/px-map', ['X-SSL-Client-DER: ' . der_b64($c->[0])], local => '127.0.0.2');
    is($r->{h}{'x-cm-sub'} // '', $c->[1], "[verify] trusted peer forwards $c->[0]: 403.$c->[1]");
}
# rfc9440 syntax
for my $case (['no colons', $alice], ['one colon', ":$alice"], ['a list', ":$alice:, :$alice:"],
              ['whitespace inside', ': ' . $alice . ':']) {
    my $sock = tls_socket($P_TLS, undef, local => '127.0.0.2');
    $r = raw_request($sock, '/x/px-map', ["Client-Cert: $case->[1]"]);
    close $sock;
    is($r->{h}{'x-cm-sub'} // '', 16, "[rfc9440] $case->[0]: 403.16");
}

# ---- one connection, many clients -----------------------------------------------
{
    my $sock = plain_socket($P_DER, '127.0.0.2');
    my @seq = (['alice', 200, 0, 'alice'], ['bob', 200, 0, 'sales'],
               ['untrusted', 403, 16, ''], ['alice', 200, 0, 'alice'],
               [undef, 403, 7, ''], ['carol', 403, 16, ''],
               ['expired', 403, 17, ''], ['alice', 200, 0, 'alice']);
    my $i = 0;
    for my $q (@seq) {
        my ($cert, $st, $sub, $user) = @$q;
        $r = raw_request($sock, '/x/px-map', defined $cert ? ["X-SSL-Client-DER: " . der_b64($cert)] : []);
        verdict("[one connection] request " . ++$i . ' (' . ($cert // 'none') . ')',
                $r->{status}, $r->{h}, $st, $sub, $user);
    }
    close $sock;
}
{
    # the memo of a TLS connection (PAM logon remembered): another
    # certificate on the same connection is logged on for itself
    my $sock = tls_socket($P_TLS, undef, local => '127.0.0.2');
    my $n = 0;
    for my $q (['alice', 200, 0, 'alice'], ['bob', 401, 1, ''], ['alice', 200, 0, 'alice'],
               ['bob', 401, 1, '']) {
        my ($cert, $st, $sub, $user) = @$q;
        $r = raw_request($sock, '/x/px-pam', ["Client-Cert: :" . der_b64($cert) . ':']);
        verdict("[one TLS connection, PAM] request " . ++$n . " ($cert)", $r->{status}, $r->{h}, $st, $sub, $user);
    }
    close $sock;
}
# HAProxy with http-reuse always: different clients in turn
for my $round (1 .. 2) {
    for my $q (['alice', 200, 'alice'], ['carol', 403, ''], ['bob', 200, 'sales']) {
        ($s, $b, $h) = through($HP_DER, '/x/px-map', $q->[0]);
        is("$s " . ($h->{'x-cm-remote-user'} // ''), "$q->[1] $q->[2]",
           "[reuse] round $round, $q->[0]");
    }
}

# ---- xfcc (Envoy) and pem-urlencoded (nginx) from the trusted address ------------
my $xalice = 'By=spiffe://cluster/ns/web;Hash=abc;Cert="' . pem_escaped('alice') . '";Subject="CN=alice, O=Contoso";URI=';
for my $case (
    ['one element', $xalice, 200, 0, 'alice'],
    ['Cert bare', 'Hash=abc;Cert=' . pem_escaped('bob'), 200, 0, 'sales'],
    ['two elements', "$xalice,$xalice", 403, 16, ''],
    ['no Cert', 'By=x;Hash=abc', 403, 16, ''],
    ['two Cert', 'Cert="' . pem_escaped('carol') . '";Cert="' . pem_escaped('alice') . '"', 403, 16, ''],
    ['unterminated quote', 'Cert="' . pem_escaped('alice'), 403, 16, ''],
    ['expired', 'Cert="' . pem_escaped('expired') . '"', 403, 17, ''],
) {
    my ($what, $v, $st, $sub, $user) = @$case;
    $r = direct($P_XFCC, '/x/px-map', ["X-Forwarded-Client-Cert: $v"], local => '127.0.0.2');
    verdict("[xfcc] $what", $r->{status}, $r->{h}, $st, $sub, $user);
}
$r = direct($P_XFCC, '/x/px-map', ["X-Forwarded-Client-Cert: $xalice"]);
isnt($r->{status}, 200, '[xfcc] from an untrusted peer: never used');
for my $case (
    ['alice', pem_escaped('alice'), 200, 0, 'alice'],
    ['revoked, no CertMapProxyCARevocationFile here', pem_escaped('revoked'), 200, 0, 'sales'],
    ['untrusted', pem_escaped('untrusted'), 403, 16, ''],
    ['bad escape', '%ZZ' . pem_escaped('alice'), 403, 16, ''],
    ['NUL', pem_escaped('alice') . '%00', 403, 16, ''],
    ['two PEMs', pem_escaped('alice') . pem_escaped('bob'), 403, 16, ''],
) {
    my ($what, $v, $st, $sub, $user) = @$case;
    $r = direct($P_PEM, '/x/px-map', ["X-Client-Cert: $v"], local => '127.0.0.2');
    verdict("[pem-urlencoded] $what", $r->{status}, $r->{h}, $st, $sub, $user);
}

# ---- the logs never show a grant for an attack ----------------------------------
ok(!grep({ /CERTMAP45[34].*mapped to/ } split /\n/, error_log_since(0)),
   'no log line both refuses and grants');
