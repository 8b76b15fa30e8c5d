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
                 has_curl set_password curl_request tls_socket http_get
                 make_client_cert ldap_url ldap_modify ldap_attr
                 http_answer);

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
#         headers => ['Accept: application/json', ...]
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
    push @cmd, map { ('-H', $_) } @{ $o{headers} || [] };
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

# ---- helpers of the adversarial suite (t/hostile/) ------------------------

# curl_request(%o): one curl process with the knobs an attacker turns.
#   vhost => NAME or port => N   where to connect (always 127.0.0.1)
#   path => '/x/...'
#   cert => NAME                 client certificate (NAME.chain.pem + key)
#   sni => NAME                  the URL's host name, resolved to 127.0.0.1
#                                (the TLS SNI); default localhost
#   no_sni => 1                  URL host 127.0.0.1: curl sends no SNI
#   host => NAME                 a Host header (HTTP/2: the :authority)
#   http2 => 1                   --http2 (else --http1.1)
#   tls12 => 1                   TLS 1.2 only
#   interface => ADDR            local address to connect from
#   keepalive => 1               no "Connection: close" request header
#   header => [ 'N: v', ... ]    more request headers
# The server certificate is checked against the test root unless the
# name is not localhost (then -k: the server has one certificate for
# every name-based host).
# returns (status, body, {lower-case header => value}, curl stderr,
#          http version); status 0 when no HTTP answer came.
sub curl_request {
    my %o = @_;
    my $port = $o{port} || port($o{vhost});
    my $name = $o{no_sni} ? '127.0.0.1' : ($o{sni} || 'localhost');
    my @cmd = ('curl', '-sS', '--max-time', '30',
               $o{http2} ? '--http2' : '--http1.1',
               '-D', "$TMP/h", '-o', "$TMP/b", '-w', '%{http_code} %{http_version}');
    push @cmd, '--resolve', "$name:$port:127.0.0.1" unless $o{no_sni};
    push @cmd, '-H', 'Connection: close' unless $o{keepalive} || $o{http2};
    push @cmd, '-H', "Host: $o{host}" if defined $o{host};
    push @cmd, '-H', $_ for @{ $o{header} || [] };
    push @cmd, '--interface', $o{interface} if $o{interface};
    if ($name eq 'localhost') {
        push @cmd, '--cacert', pki('root.crt');
    }
    else {
        push @cmd, '-k';
    }
    push @cmd, '--tlsv1.2', '--tls-max', '1.2' if $o{tls12};
    if (defined $o{cert}) {
        my $crt = -f pki("$o{cert}.chain.pem") ? "$o{cert}.chain.pem" : "$o{cert}.crt";
        push @cmd, '--cert', pki($crt), '--key', pki("$o{cert}.key");
    }
    push @cmd, "https://$name:$port$o{path}";
    unlink "$TMP/h", "$TMP/b", "$TMP/e";

    my $pid = open(my $out, '-|');
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDERR, '>', "$TMP/e" or die;
        exec @cmd or die "exec curl: $!";
    }
    my $w = do { local $/; <$out> };
    close $out;
    my ($code, $version) = split ' ', (defined $w ? $w : '');
    $code = 0 unless defined $code && $code =~ /^\d+$/;

    my %h;
    my @blocks = split /\r?\n\r?\n/, slurp("$TMP/h");
    my $last = @blocks ? $blocks[-1] : '';
    for my $line (split /\r?\n/, $last) {
        next unless $line =~ /^([^:\s]+):\s*(.*)$/;
        my $k = lc $1;
        $h{$k} = exists $h{$k} ? "$h{$k}, $2" : $2;
    }
    return ($code + 0, slurp("$TMP/b"), \%h, slurp("$TMP/e"),
            defined $version ? $version : '');
}

# tls_socket(VHOST or PORT, CERT or undef, %o): one TLS connection for
# several requests (http_get).  o: sni => NAME (default localhost; '' for
# none), tls12 => 1, local => ADDR (connect from this address).  Dies when
# the handshake fails.
sub tls_socket {
    my ($where, $cert, %o) = @_;
    require IO::Socket::SSL;
    my $port = $where =~ /^\d+$/ ? $where : port($where);
    my $sni = exists $o{sni} ? $o{sni} : 'localhost';
    my %args = (
        PeerHost        => '127.0.0.1',
        PeerPort        => $port,
        SSL_hostname    => $sni,
        SSL_verify_mode => 0,
        Timeout         => 30,
    );
    $args{SSL_version} = 'TLSv1_2' if $o{tls12};
    $args{LocalAddr} = $o{local} if $o{local};
    if (defined $cert) {
        $args{SSL_cert_file} = pki(-f pki("$cert.chain.pem") ? "$cert.chain.pem" : "$cert.crt");
        $args{SSL_key_file}  = pki("$cert.key");
    }
    my $sock = IO::Socket::SSL->new(%args)
        or die "connect to $port: " . IO::Socket::SSL::errstr();
    return $sock;
}

# http_get(SOCK, PATH, %o): one HTTP/1.1 GET on an open connection.
#   o: host => NAME (default localhost)
# returns { status => N (0: the connection closed before an answer),
#           h => {lower-case header => value}, body => ..., line => ... }
sub http_get {
    my ($sock, $path, %o) = @_;
    my $host = defined $o{host} ? $o{host} : 'localhost';
    my %r = (status => 0, h => {}, body => '', line => '');
    local $SIG{PIPE} = 'IGNORE';
    print $sock "GET $path HTTP/1.1\r\nHost: $host\r\n\r\n" or return \%r;
    my $status;
    while (defined(my $line = <$sock>)) {
        $line =~ s/\r?\n$//;
        last if $line eq '';
        if (!defined $status) {
            ($status) = $line =~ m{^HTTP/1\.1 (\d{3})};
            $r{line} = $line;
            return \%r unless defined $status;
        }
        elsif ($line =~ /^([^:]+):\s*(.*)$/) {
            my $k = lc $1;
            $r{h}{$k} = exists $r{h}{$k} ? "$r{h}{$k}, $2" : $2;
        }
    }
    return \%r unless defined $status;
    $r{status} = $status;
    my $len = $r{h}{'content-length'};
    if (defined $len) {
        while (length $r{body} < $len) {
            my $n = read($sock, $r{body}, $len - length $r{body}, length $r{body});
            last unless $n;
        }
    }
    elsif (lc($r{h}{'transfer-encoding'} // '') eq 'chunked') {
        while (defined(my $l = <$sock>)) {
            my ($n) = $l =~ /^([0-9a-fA-F]+)/;
            last unless defined $n;
            $n = hex $n;
            if ($n == 0) { my $t = <$sock>; last }
            my $chunk = '';
            while (length $chunk < $n) {
                my $k = read($sock, $chunk, $n - length $chunk, length $chunk);
                last unless $k;
            }
            $r{body} .= $chunk;
            <$sock>;
        }
    }
    return \%r;
}

# http_answer(SOCK, PATH): one GET on an open connection, as
# "STATUS/SUB-STATUS/USER" (the X-CM-Sub and X-CM-Remote-User headers of
# t/conf/extra.conf.in; empty when absent): what the attack tests compare.
sub http_answer {
    my ($sock, $path) = @_;
    my $r = http_get($sock, $path);
    return join '/', $r->{status}, $r->{h}{'x-cm-sub'} // '',
        $r->{h}{'x-cm-remote-user'} // '';
}

# make_client_cert(NAME, SUBJECT, %o): a client certificate issued at run
# time by the test root (for names make-pki.sh does not make), written as
# pki/out/gen/client/NAME.crt/.key; returns NAME's path prefix for
# curl_request(cert => ...).  o: multivalue => 1 (openssl -multivalue-rdn),
# string_mask => 'MASK:0x800' (which ASN.1 string types the names use:
# 0x800 BMPString; default utf8only), ext => "openssl extension lines"
# (instead of digitalSignature and clientAuth).
sub make_client_cert {
    my ($name, $subj, %o) = @_;
    my $dir = gen_dir() . '/client';
    mkdir $dir unless -d $dir;
    my $p = "$dir/$name";
    open my $cnf, '>', "$p.cnf" or die "$p.cnf: $!";
    print $cnf "[ req ]\ndistinguished_name = dn\nprompt = no\n",
               "string_mask = ", ($o{string_mask} || 'utf8only'), "\n",
               "[ dn ]\nCN = placeholder\n";
    close $cnf;
    my @req = ('openssl', 'req', '-config', "$p.cnf", '-new', '-newkey', 'ec',
               '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
               '-keyout', "$p.key", '-subj', $subj, '-out', "$p.csr",
               '-utf8');
    push @req, '-multivalue-rdn' if $o{multivalue};
    my $quiet = sub { my @c = @_; my $pid = fork; die "fork: $!" unless defined $pid;
                      if (!$pid) { open STDOUT, '>', '/dev/null'; open STDERR, '>', '/dev/null'; exec @c; exit 127 }
                      waitpid $pid, 0; return $? };
    $quiet->(@req) == 0 or die "openssl req for $name failed";
    open my $ext, '>', "$p.ext" or die $!;
    print $ext "basicConstraints = CA:FALSE\n",
               (defined $o{ext} ? $o{ext}
                                : "keyUsage = critical, digitalSignature\n"
                                  . "extendedKeyUsage = clientAuth\n");
    close $ext;
    $quiet->('openssl', 'x509', '-req', '-in', "$p.csr", '-CA', pki('root.crt'),
           '-CAkey', pki('root.key'), '-set_serial', '0x' . join('', map { sprintf '%02x', int rand 256 } 1 .. 12),
           '-days', '3650', '-sha256', '-extfile', "$p.ext",
           '-out', "$p.crt") == 0 or die "openssl x509 for $name failed";
    return "gen/client/$name";
}

# ---- the suite's private slapd (tests/ldap/slapd.sh) -------------------------
# ldap_url(): its URL, from the env file tests/run-httpd-tests.sh wrote.
sub ldap_url {
    my $env = gen_dir() . '/ldap/env';
    open my $f, '<', $env or die "$env: $!";
    while (<$f>) {
        return "ldap://127.0.0.1:$1/" if /^CERTMAP_LDAP_PORT=(\d+)$/;
    }
    die "$env: no CERTMAP_LDAP_PORT";
}

# ldap_modify(LDIF): ldapmodify as the directory's admin -> (exit, output)
sub ldap_modify {
    my $ldif = shift;
    my $dir = tempdir('certmap-ldif-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    open my $f, '>', "$dir/m.ldif" or die "$dir/m.ldif: $!";
    print $f $ldif;
    close $f;
    my $url = ldap_url();
    my $out = `ldapmodify -x -H $url -D cn=admin,dc=certmap,dc=test -w admin-Hk2p -f $dir/m.ldif 2>&1`;
    return ($? >> 8, $out);
}

# ldap_attr(DN, ATTR): the entry's first value of ATTR, or undef
sub ldap_attr {
    my ($dn, $attr) = @_;
    my $url = ldap_url();
    my $out = `ldapsearch -x -LLL -o ldif-wrap=no -H $url -b '$dn' -s base $attr 2>/dev/null`;
    return $out =~ /^\Q$attr\E: (.*)$/m ? $1 : undef;
}

1;
