# Attack review, round 2: a long keep-alive connection must not make its
# child grow with every request.
#
# certmap_hostile2_kamem (t/conf/hostile2.conf.in) is not a Report host
# (CertMapInvalidCerts Reject) and its handshake says optional_no_ca, so an
# untrusted certificate completes the handshake as mod_ssl's GENEROUS, and
# every request to its CertMap location is refused (403.16: a certificate
# that failed verification is never mapped) on a connection that stays
# open (MaxKeepAliveRequests 0).  Whatever the module remembers of the
# connection's failure must be built once, not once per request in the
# connection's pool, which lives as long as the client keeps the
# connection: one client could otherwise grow a child without bound.
#
# Two parts:
#  1. On the suite's server (usually the ASan/UBSan build): the requests
#     themselves -- each 403.16, the connection kept open, TLS 1.3 and 1.2.
#  2. The memory, measured where it means something: VmRSS of a private
#     httpd (-X, one process: the one serving the connection) running the
#     same virtual host with the module built WITHOUT sanitizers (ASan's
#     quarantine holds every freed block, about 10 kB a request here, so
#     under ASan the resident size grows for any module).  After a
#     warm-up, $N more requests must add at most $SLACK kB; a description
#     of the certificate and a reason built per request (about 0.5 kB)
#     add about 1 MB.  The private server listens on the first free port
#     after the suite's highest; it is stopped by its pid at the end.
# Control: alice (valid) gets 200 on the same location, request after
# request, the connection kept alive.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();

my $V = 'certmap_hostile2_kamem';
my $PATH = '/x/h2k-certmap';
my $WARM = 300;
my $N = 2000;
my $SLACK = 256;        # kB
my @tls = (['TLS 1.3'], ['TLS 1.2', tls12 => 1]);

plan tests => 2 + @tls * 3 + 1 + 2 + @tls * 3, need_module 'ssl';

# n requests on one connection: how many got `want` (STATUS/SUB-STATUS),
# whether the connection was closed or said it would be, and the first
# other answer
sub run {
    my ($sock, $n, $want) = @_;
    my ($good, $closed, $other) = (0, 0, undef);
    for (1 .. $n) {
        my $r = http_get($sock, $PATH);
        my $got = "$r->{status}/" . ($r->{h}{'x-cm-sub'} // '');
        if ($got eq $want) { $good++ } else { $other //= $got }
        if (!$r->{status} || lc($r->{h}{connection} // '') =~ /close/) { $closed = 1; last }
    }
    return ($good, $closed, defined $other ? " (first other answer: $other)" : '');
}

# ---- 1. the suite's server ----------------------------------------------------
{
    my $sock = tls_socket($V, 'alice');
    my ($good, $closed) = run($sock, 50, '200/0');
    is($good, 50, '[26 control] alice: 50 requests on one connection, each 200');
    ok(!$closed, '[26 control] alice: the connection stays open');
    close $sock;
}
for my $t (@tls) {
    my ($tn, %o) = @$t;
    my $sock = tls_socket($V, 'untrusted', %o);
    my ($good, $closed, $other) = run($sock, 1, '403/16');
    is($good, 1, "[26] $tn untrusted (GENEROUS on a Reject host): 403.16$other");
    ok(!$closed, "[26] $tn the connection stays open after the 403.16 (other locations of a Reject host would serve it)");
    ($good, $closed, $other) = run($sock, $N, '403/16');
    is($good, $N, "[26] $tn $N more requests on that connection, each 403.16$other");
    close $sock;
}

# ---- 2. the memory, on a private httpd with the module without sanitizers -----

# the module without sanitizers: the one under test if it is one, else
# the plain build next to it (tests/run-httpd-tests.sh copies it)
sub is_sanitized {
    my $f = shift;
    open my $fh, '<:raw', $f or return 1;
    local $/;
    my $d = <$fh>;
    return index($d, '__asan_') >= 0 || index($d, '__ubsan_') >= 0;
}
sub plain_module {
    for my $m ($ENV{CERTMAP_MODULE}, $ENV{CERTMAP_MODULE_FALLBACK},
               t_dir() . '/../.libs/mod_certmap.so') {
        return $m if defined $m && length $m && -f $m && !is_sanitized($m);
    }
    return undef;
}

sub free_port {
    my $cfg = Apache::Test::config();
    my $max = 0;
    for my $v (values %{ $cfg->{vhosts} }) {
        $max = $v->{port} if $v->{port} && $v->{port} > $max;
    }
    for my $p ($max + 1 .. $max + 20) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $p,
                                      Proto => 'tcp', Listen => 1, ReuseAddr => 1);
        if ($s) { close $s; return $p }
    }
    return undef;
}

sub rss_kb {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)\s+kB/ }
    return undef;
}

my $module = plain_module();
my $port = free_port();
my ($pid, $dir);
SKIP: {
    skip 'no module without sanitizers to measure with (make all builds .libs/mod_certmap.so)',
        3 + @tls * 3 unless $module;
    skip 'no free port after the suite\'s', 3 + @tls * 3 unless $port;

    $dir = tempdir('certmap-kamem-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $t = t_dir();
    my $gen = gen_dir();
    # the suite's modules, less those that start helpers or are not needed
    open my $in, '<', "$gen/inherit.conf" or die "$gen/inherit.conf: $!";
    my @load = grep { /^LoadModule/ && !/mod_(cgid?|ldap|http2)\.so/ } <$in>;
    close $in;
    open my $c, '>', "$dir/httpd.conf" or die $!;
    print $c @load, <<"EOF";
LoadModule certmap_module "$module"
ServerRoot "$t"
ServerName localhost
DocumentRoot "$t/htdocs"
Listen 127.0.0.1:$port
PidFile "$dir/httpd.pid"
DefaultRuntimeDir "$dir"
ErrorLog "$dir/error_log"
LogLevel warn
TypesConfig /dev/null
AliasMatch "^/x/" "$t/htdocs/ok.txt"
Header always set X-CM-Sub "expr=%{note:certmap-substatus}"
SSLSessionCache none
<VirtualHost 127.0.0.1:$port>
    ServerName localhost
    CertMapInvalidCerts Reject
    KeepAlive On
    KeepAliveTimeout 60
    MaxKeepAliveRequests 0
    SSLEngine on
    SSLCertificateFile $t/pki/out/server.crt
    SSLCertificateKeyFile $t/pki/out/server.key
    SSLVerifyClient optional_no_ca
    SSLVerifyDepth 3
    SSLCACertificateFile $t/pki/out/ca-bundle.pem
    <Location $PATH>
        CertMap On
        CertMapPAM Off
        <CertMapManyToOne o-contoso>
            CertMapUser contoso
            CertMapRule Subject O Contoso
        </CertMapManyToOne>
        Require valid-user
    </Location>
</VirtualHost>
EOF
    close $c;

    # -X: one process, in the foreground: the one that serves
    $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDOUT, '>', "$dir/stdout";
        open STDERR, '>', "$dir/stderr";
        # the httpd binary itself, not the suite's wrapper (which preloads
        # the sanitizer runtime)
        { no warnings 'exec'; exec $ENV{HTTPD} || '/usr/sbin/apache2', '-X', '-f', "$dir/httpd.conf" }
        POSIX::_exit(127);
    }
    my $up = 0;
    for (1 .. 100) {
        last if waitpid($pid, POSIX::WNOHANG()) == $pid;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
        if ($s) { close $s; $up = 1; last }
        select(undef, undef, undef, 0.1);
    }
    ok($up, "[26] a private httpd (-X, pid $pid) with $module on port $port")
        or diag(`cat $dir/stderr $dir/error_log 2>/dev/null`);
    skip 'the private httpd did not start', 2 + @tls * 3 unless $up;

    my $sock = tls_socket($port, 'alice');
    my ($good, $closed) = run($sock, 20, '200/0');
    is($good, 20, '[26 control] private httpd: alice, 20 requests on one connection, each 200');
    ok(!$closed, '[26 control] private httpd: alice\'s connection stays open');
    close $sock;

    for my $tt (@tls) {
        my ($tn, %o) = @$tt;
        $sock = tls_socket($port, 'untrusted', %o);
        my ($good, $closed, $other) = run($sock, $WARM, '403/16');
        my $before = rss_kb($pid);
        my ($good2, $closed2, $other2) = run($sock, $N, '403/16');
        my $after = rss_kb($pid);
        close $sock;
        is($good, $WARM, "[26] private httpd, $tn untrusted: warm-up, $WARM requests each 403.16$other");
        ok(!$closed && !$closed2 && $good2 == $N,
           "[26] private httpd, $tn: $N more requests on the same connection, each 403.16 ($good2)$other2");
        if (defined $before && defined $after) {
            my $grew = $after - $before;
            ok($grew <= $SLACK, "[26] private httpd, $tn: the serving process grew $grew kB over $N requests "
                                . "(VmRSS $before -> $after kB; at most $SLACK kB)");
        }
        else {
            ok(0, "[26] private httpd, $tn: cannot read VmRSS of pid $pid");
        }
    }
}

END {
    local $?;       # the test's exit status is not waitpid's
    if ($pid) {
        kill 'TERM', $pid;
        for (1 .. 50) {
            last if waitpid($pid, POSIX::WNOHANG()) == $pid;
            select(undef, undef, undef, 0.1);
        }
        if (kill 0, $pid) { kill 'KILL', $pid; waitpid($pid, 0) }
    }
}
