package CertMapTest;
# Helpers for the mod_certmap Apache::Test suite.
#
#   my ($status, $body, $h) = request('certmap_ssl', '/x/o2o-pem', 'alice');
#   $h->{'x-cm-sub'}                 # response headers, lower-case names
#
# Each request is one curl process: the client certificate is chosen per
# request, a fresh TLS session each time, no keep-alive.  The vhost names
# are those of t/conf/extra.conf.in (Apache::Test assigns their ports).
use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempdir);
use Apache::Test ();

our @EXPORT = qw(request pki error_log_mark error_log_since access_log_mark
                 access_log_since cert_info t_dir gen_dir httpd_bin
                 has_curl set_password);

my $TMP = tempdir('certmap-curl-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub t_dir   { Apache::Test::vars('serverroot') }
sub pki     { my $f = shift; my $d = t_dir() . '/pki/out'; defined $f ? "$d/$f" : $d }
sub gen_dir { pki('gen') }
sub httpd_bin { Apache::Test::vars('httpd') }
sub has_curl { -x '/usr/bin/curl' }

# set_password(USER, PASSWORD): changes USER's password in the pam_matrix
# passdb the test httpd's PAM services read (atomically, by rename).
sub set_password {
    my ($user, $pw) = @_;
    my $passdb = gen_dir() . '/passdb';
    open my $in, '<', $passdb or die "$passdb: $!";
    my @l = <$in>;
    close $in;
    s/^\Q$user\E:[^:]*:/$user:$pw:/ for @l;
    open my $out, '>', "$passdb.new" or die "$passdb.new: $!";
    print $out @l;
    close $out;
    rename "$passdb.new", $passdb or die "rename $passdb: $!";
}

sub port {
    my $vhost = shift;
    return $vhost if $vhost =~ /^\d+$/;     # a test's own server
    my $cfg = Apache::Test::config();
    my $p = $cfg->{vhosts}{$vhost}{port}
        or die "no port for vhost $vhost";
    return $p;
}

# request(VHOST, PATH, CERT or undef, %opts)
#   opts: plain => 1          plain HTTP (vhost without SSL)
#         ciphers => 'LIST'   with tls12 => 1: force TLS 1.2 and these ciphers
#         basic => [U, P]     Basic credentials
#         chain => 0          send the leaf only (default: leaf + intermediates)
#         method => 'GET'
# returns (status, body, {lower-case header => value}, curl stderr);
# status 0 when no HTTP answer came (handshake refused etc.)
sub request {
    my ($vhost, $path, $cert, %o) = @_;
    my $port = port($vhost);
    my $scheme = $o{plain} ? 'http' : 'https';
    my @cmd = ('curl', '-sS', '--max-time', '30', '--http1.1',
               '--resolve', "localhost:$port:127.0.0.1",
               '-H', 'Connection: close',
               '-D', "$TMP/h", '-o', "$TMP/b", '-w', '%{http_code}');
    push @cmd, '-X', $o{method} if $o{method};
    unless ($o{plain}) {
        push @cmd, '--cacert', pki('root.crt');
        if ($o{tls12} || $o{ciphers}) {
            push @cmd, '--tlsv1.2', '--tls-max', '1.2';
        }
        push @cmd, '--ciphers', $o{ciphers} if $o{ciphers};
        if (defined $cert) {
            my $crt = (exists $o{chain} && !$o{chain}) ? "$cert.crt" : "$cert.chain.pem";
            push @cmd, '--cert', pki($crt), '--key', pki("$cert.key");
        }
    }
    push @cmd, '-u', join(':', @{ $o{basic} }) if $o{basic};
    push @cmd, "$scheme://localhost:$port$path";
    unlink "$TMP/h", "$TMP/b", "$TMP/e";

    my $pid = open(my $out, '-|');
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDERR, '>', "$TMP/e" or die;
        exec @cmd or die "exec curl: $!";
    }
    my $code = do { local $/; <$out> };
    close $out;
    $code = 0 unless defined $code && $code =~ /^\d+$/;

    my $body = slurp("$TMP/b");
    my $err  = slurp("$TMP/e");
    my %h;
    # with a 100 or several responses only the last block counts
    my @blocks = split /\r?\n\r?\n/, slurp("$TMP/h");
    my $last = @blocks ? $blocks[-1] : '';
    for my $line (split /\r?\n/, $last) {
        next unless $line =~ /^([^:\s]+):\s*(.*)$/;
        my $k = lc $1;
        $h{$k} = exists $h{$k} ? "$h{$k}, $2" : $2;
    }
    return ($code + 0, $body, \%h, $err);
}

sub slurp {
    my $f = shift;
    open my $fh, '<:raw', $f or return '';
    local $/;
    my $d = <$fh>;
    return defined $d ? $d : '';
}

# Logs: a mark is the current size; *_since returns what was written after.
sub logfile { Apache::Test::vars('t_logs') . '/' . shift }
sub error_log_mark   { -s logfile('error_log') || 0 }
sub access_log_mark  { -s logfile('certmap_log') || 0 }
sub error_log_since  { read_since(logfile('error_log'), @_) }
sub access_log_since { read_since(logfile('certmap_log'), @_) }

sub read_since {
    my ($file, $mark) = @_;
    # log lines are written when the response is done; give them a moment
    select(undef, undef, undef, 0.2);
    open my $fh, '<:raw', $file or return '';
    seek $fh, $mark || 0, 0;
    local $/;
    my $d = <$fh>;
    return defined $d ? $d : '';
}

# cert_info(NAME) -> { serial => 'HEX', sha256 => 'AA:BB:..' } from serials.txt
my %INFO;
sub cert_info {
    my $name = shift;
    unless (%INFO) {
        open my $fh, '<', pki('serials.txt') or die "serials.txt: $!";
        while (<$fh>) {
            chomp;
            my ($n, $s, $f) = split ' ';
            $INFO{$n} = { serial => $s, sha256 => $f };
        }
    }
    return $INFO{$name} || die "no cert $name";
}

1;
