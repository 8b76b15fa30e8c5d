# Contract, "A farm": CertMapCacheSecret, CertMapCacheTimeout, and "a slow
# or dead cache is a miss after a short bound".  Two httpd servers of their
# own (A and B, started here through the suite's httpd wrapper, so PAM,
# pam_wrapper and the sanitizers are those of the suite) share one real
# cache server -- memcached, then redis-server, both started here on
# loopback -- and one CertMapCacheSecret.  Checked for each backend:
#   - a logon through A is a hit on B ("PAM logon cached" in B's log, and
#     B still grants after the PAM password changed);
#   - a graceful restart keeps the cache;
#   - a directory finding through A is a hit on B;
#   - entries written straight into the cache server are refused: moved
#     (another logon's entry copied to this key), forged (well-formed, made
#     up tag), altered (a directory account name rewritten), extended
#     (times rewritten later), replayed after expiry.
# Then a black hole (accepts connections, never answers) as the memcache
# and the redis server: every request costs at most CertMapCacheTimeout
# (printed), a wrong password is refused as fast, and start-up without a
# secret warns.  Every server started here is stopped on every way out.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

my $memcached = '/usr/bin/memcached';
my $redis     = '/usr/bin/redis-server';

plan tests => 2 * 22 + 2 * 6 + 4,
    need need_module('ssl', 'socache_memcache', 'socache_redis', 'ldap'),
         { 'memcached and redis-server installed (scripts/install-deps.sh)'
           => (-x $memcached && -x $redis) };

my $dir = tempdir('certmap-farm-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $httpd = httpd_bin();
my $logs = Apache::Test::vars('t_logs');
my $SECRET = 'farm-secret-Qm7x-Lk2v-Pz9w-Hr4t';
my $BOUND_MS = 300;

# passwords of the farm accounts (t/pam/passdb.in)
my %PW = (farmuser => 'farmpw-Kq3z', farmtwo => 'farmtwopw-Wd5n',
          farmshort => 'farmshortpw-Ej8c');

my %ldap_env;
{
    my $f = gen_dir() . '/ldap/env';
    open my $fh, '<', $f or die "$f: $!";
    while (<$fh>) { chomp; my ($k, $v) = split /=/, $_, 2; $ldap_env{$k} = $v; }
}

# ---- processes: everything started here is stopped in END ------------------
my %procs;              # pid => name
my %httpd_pid;          # name => pid file
$SIG{INT} = $SIG{TERM} = $SIG{HUP} = sub { exit 1 };
END {
    my $rc = $?;
    for my $name (keys %httpd_pid) { stop_httpd($name) }
    for my $pid (keys %procs) { kill 'TERM', $pid }
    for my $pid (keys %procs) { waitpid $pid, 0 }
    set_password($_, $PW{$_}) for keys %PW;
    $? = $rc;
}

# Ports from 9950 to 9999, each checked free when taken.
my %taken;
sub free_port {
    for my $p (9950 .. 9999) {
        next if $taken{$p};
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $p, Listen => 1,
                                      ReuseAddr => 1) or next;
        close $s;
        $taken{$p} = 1;
        return $p;
    }
    die "no free port in 9950-9999";
}

sub spawn {
    my ($name, @cmd) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDOUT, '>', "$dir/$name.out";
        open STDERR, '>&', \*STDOUT;
        exec @cmd or die "exec $cmd[0]: $!";
    }
    $procs{$pid} = $name;
    return $pid;
}

sub stop_proc {
    my $pid = shift;
    kill 'TERM', $pid;
    waitpid $pid, 0;
    delete $procs{$pid};
}

sub wait_port {
    my ($port, $what) = @_;
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Timeout => 1);
        if ($s) { close $s; return 1 }
        sleep 0.1;
    }
    die "$what did not listen on $port";
}

# A black hole: accepts connections and never answers.
sub black_hole {
    my $port = free_port();
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
            LocalPort => $port, Listen => 64, ReuseAddr => 1) or POSIX::_exit(1);
        my @keep;
        while (my $c = $l->accept) { push @keep, $c }
        POSIX::_exit(0);
    }
    $procs{$pid} = 'black-hole';
    wait_port($port, 'the black hole');
    return ($pid, $port);
}

# ---- the cache servers' protocols (only what the tests need) ----------------
sub mc_talk {
    my ($port, $req, $until) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 5) or die "memcached: $!";
    print $s $req;
    my $out = '';
    while (defined(my $l = <$s>)) {
        $out .= $l;
        last if $out =~ $until;
    }
    close $s;
    return $out;
}

sub rd_cmd {
    my ($port, @args) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 5) or die "redis: $!";
    print $s '*' . @args . "\r\n" . join('', map { '$' . length($_) . "\r\n$_\r\n" } @args);
    my $r = rd_read($s);
    close $s;
    return $r;
}

sub rd_read {
    my $s = shift;
    my $l = <$s>;
    die "redis: no answer" unless defined $l;
    $l =~ s/\r\n$//;
    my ($t, $v) = (substr($l, 0, 1), substr($l, 1));
    return $v if $t eq '+' || $t eq ':';
    die "redis: $v" if $t eq '-';
    if ($t eq '$') {
        return undef if $v < 0;
        my $d = '';
        read($s, $d, $v + 2) == $v + 2 or die "redis: short read";
        return substr($d, 0, $v);
    }
    return [ map { rd_read($s) } 1 .. $v ] if $t eq '*';
    die "redis: bad reply $l";
}

# One interface over both: keys, get, set (with a TTL), delete, flush.
my %backend;
$backend{memcache} = {
    start => sub {
        my $port = free_port();
        spawn('memcached', $memcached, '-l', '127.0.0.1', '-p', $port,
              '-U', '0', '-m', '16', '-t', '2');
        wait_port($port, 'memcached');
        return $port;
    },
    keys => sub {
        my $port = shift;
        my $out = mc_talk($port, "lru_crawler metadump all\r\n", qr/^END\r?\n/m);
        my @k = $out =~ /^key=(\S+)/mg;
        s/%([0-9A-Fa-f]{2})/chr hex $1/ge for @k;
        # flushed items may still be listed: only those a get finds
        return sort grep { defined $backend{memcache}{get}->($port, $_) } @k;
    },
    get => sub {
        my ($port, $k) = @_;
        my $out = mc_talk($port, "get $k\r\n", qr/^END\r?\n/m);
        return undef unless $out =~ /^VALUE \S+ \d+ (\d+)\r\n/;
        return substr($out, $+[0], $1);
    },
    set => sub {
        my ($port, $k, $v) = @_;
        my $out = mc_talk($port, "set $k 0 600 " . length($v) . "\r\n$v\r\n",
                          qr/\r\n/);
        die "memcached set: $out" unless $out =~ /^STORED/;
    },
    del   => sub { mc_talk($_[0], "delete $_[1]\r\n", qr/\r\n/) },
    # not flush_all: it works in whole seconds of memcached's own clock and
    # may also hide what is stored a moment later
    flush => sub {
        my $port = shift;
        my $out = mc_talk($port, "lru_crawler metadump all\r\n", qr/^END\r?\n/m);
        for my $k ($out =~ /^key=(\S+)/mg) {
            $k =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
            mc_talk($port, "delete $k\r\n", qr/\r\n/);
        }
    },
};
$backend{redis} = {
    start => sub {
        my $port = free_port();
        mkdir "$dir/redis";
        spawn('redis', $redis, '--port', $port, '--bind', '127.0.0.1',
              '--save', '', '--appendonly', 'no', '--dir', "$dir/redis",
              '--protected-mode', 'no');
        wait_port($port, 'redis-server');
        return $port;
    },
    keys  => sub { sort @{ rd_cmd($_[0], 'KEYS', '*') } },
    get   => sub { rd_cmd($_[0], 'GET', $_[1]) },
    set   => sub { rd_cmd($_[0], 'SET', $_[1], $_[2], 'EX', '600') },
    del   => sub { rd_cmd($_[0], 'DEL', $_[1]) },
    flush => sub { rd_cmd($_[0], 'FLUSHALL') },
};

# The keys once there are N (a store is handed to a helper thread and
# may land a moment after the answer).
sub wait_keys {
    my ($be, $port, $n) = @_;
    my @k;
    for (1 .. 50) {
        @k = $be->{keys}->($port);
        last if @k >= $n;
        sleep 0.05;
    }
    return @k;
}

# ---- records as the module writes them (certmap_cache.c) --------------------
# version 1 || written || expires (big-endian microseconds) || payload || tag.
# (Before CertMapCacheSecret a record was the write time, 8 bytes in host
# order, then the payload: the helpers rewrite that form too, so that this
# test shows what the module before it let through.)
sub now_us { int(time() * 1e6) }
sub tagged { my $v = shift; length($v) >= 49 && ord($v) == 1 }
sub with_times {
    my ($v, $written, $expires) = @_;
    return $v if length($v) < 8;
    return pack('q<', $written) . substr($v, 8) unless tagged($v);
    return substr($v, 0, 1) . pack('q>', $written) . pack('q>', $expires)
         . substr($v, 17);
}
sub forged_record {     # well formed like $like, but the tag is made up
    my ($like, $payload) = @_;
    my $now = now_us();
    return pack('q<', $now) . ($payload // '') unless tagged($like);
    return chr(1) . pack('q>', $now) . pack('q>', $now + 300e6)
         . ($payload // '') . join('', map { chr int rand 256 } 1 .. 32);
}

# ---- two httpd servers ---------------------------------------------------------
sub write_conf {
    my ($name, %o) = @_;
    my $port = $o{port};
    my $t = t_dir();
    my $pki = pki();
    my $run = "$dir/$name-run";
    mkdir $run;
    my $conf = "$dir/$name.conf";
    my $ldap = "ldap://127.0.0.1:$ldap_env{CERTMAP_LDAP_PORT}/"
             . "ou=people,dc=certmap,dc=test?uid?sub";
    open my $f, '>', $conf or die "$conf: $!";
    print $f <<"EOF";
ServerRoot "$t"
ServerName localhost
DefaultRuntimeDir "$run"
PidFile "$run/httpd.pid"
ErrorLog "$logs/farm-$name.error_log"
LogLevel notice certmap:trace1
Include "@{[ gen_dir() ]}/inherit.conf"
LoadModule certmap_module \${CERTMAP_MODULE}
Listen 127.0.0.1:$port
StartServers 1
$o{mpm}
$o{cache}
Header always set X-CM-Sub "expr=%{note:certmap-substatus}"
Header always set X-CM-User "%{CERTMAP_USER}e"
TypesConfig "$dir/mime.types"
DocumentRoot "$t/htdocs"
AliasMatch "^/farm/" "$t/htdocs/ok.txt"
SSLEngine on
SSLCertificateFile "$pki/server.crt"
SSLCertificateKeyFile "$pki/server.key"
SSLVerifyClient optional
SSLVerifyDepth 3
SSLCACertificateFile "$pki/ca-bundle.pem"
<Location /farm/pw>
    CertMap On
    CertMapOneToOne farmuser "file:$pki/alice.crt" $PW{farmuser}
    Require valid-user
</Location>
<Location /farm/two>
    CertMap On
    CertMapOneToOne farmtwo "file:$pki/bob.crt" $PW{farmtwo}
    Require valid-user
</Location>
<Location /farm/short>
    CertMap On
    CertMapLogonCacheTimeout 4
    CertMapOneToOne farmshort "file:$pki/carol.crt" $PW{farmshort}
    Require valid-user
</Location>
<Location /farm/wrong>
    CertMap On
    CertMapOneToOne farmuser "file:$pki/alice.crt" wrong-Password-1
    Require valid-user
</Location>
<Location /farm/dir>
    CertMap On
    CertMapPAM Off
    CertMapDirectory On
    CertMapDirectoryURL "$ldap"
    CertMapDirectoryMatch IssuerSerial
    Require valid-user
</Location>
EOF
    close $f;
    return $conf;
}

sub start_httpd {
    my ($name, %o) = @_;
    $o{port} = free_port();
    $o{mpm} //= '';
    my $conf = write_conf($name, %o);
    my $out = `"$httpd" -f "$conf" -k start 2>&1`;
    die "httpd $name did not start: $out" if $?;
    $httpd_pid{$name} = "$dir/$name-run/httpd.pid";
    wait_port($o{port}, "httpd $name");
    return { name => $name, port => $o{port}, conf => $conf,
             log => "$logs/farm-$name.error_log" };
}

sub httpd_pid {
    my $name = shift;
    open my $f, '<', $httpd_pid{$name} or return;
    my $pid = <$f>;
    chomp $pid if defined $pid;
    return $pid;
}

sub stop_httpd {
    my $name = shift;
    my $pid = httpd_pid($name);
    delete $httpd_pid{$name};
    return unless $pid && kill 0, $pid;
    kill 'TERM', $pid;
    for (1 .. 100) { last unless kill 0, $pid; sleep 0.1 }
}

sub graceful {
    my $srv = shift;
    my $before = () = slurp_file($srv->{log}) =~ /resuming normal operations/g;
    kill 'USR1', httpd_pid($srv->{name});
    for (1 .. 100) {
        my $n = () = slurp_file($srv->{log}) =~ /resuming normal operations/g;
        last if $n > $before;
        sleep 0.1;
    }
    sleep 0.5;
    wait_port($srv->{port}, "httpd $srv->{name} after a graceful restart");
}

sub slurp_file {
    open my $f, '<:raw', shift or return '';
    local $/;
    my $d = <$f>;
    return $d // '';
}

# GET through a server: "STATUS/SUB/USER", and the log lines it wrote.
sub get {
    my ($srv, $path, $cert) = @_;
    my $mark = -s $srv->{log} || 0;
    my ($s, $b, $h, $err) = request($srv->{port}, $path, $cert);
    sleep 0.1;
    open my $f, '<:raw', $srv->{log};
    seek $f, $mark, 0;
    local $/;
    my $log = <$f> // '';
    my $user = $h->{'x-cm-user'} // '';
    $user = '' if $user eq '(null)';
    return ("$s/" . ($h->{'x-cm-sub'} // '') . "/$user", $log);
}

# CLIENTS processes at once, each REQUESTS requests alternating over the
# servers; answers the status codes in order.
sub burst {
    my ($srvs, $path, $cert, $clients, $requests) = @_;
    my @pids;
    for my $c (1 .. $clients) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            open my $out, '>', "$dir/burst.$c" or POSIX::_exit(1);
            for my $i (1 .. $requests) {
                my $port = $srvs->[($c + $i) % @$srvs]{port};
                my $code = `curl -sS --max-time 30 --http1.1 -o /dev/null -w '%{http_code}' --resolve localhost:$port:127.0.0.1 --cacert @{[ pki('root.crt') ]} --cert @{[ pki("$cert.chain.pem") ]} --key @{[ pki("$cert.key") ]} https://localhost:$port$path 2>/dev/null`;
                print $out $code;
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    return join '', map { slurp_file("$dir/burst.$_") } 1 .. $clients;
}

sub timed_get {
    my @a = @_;
    my $t0 = time;
    my ($r) = get(@a);
    return ($r, time - $t0);
}

# ---- one backend, two servers -------------------------------------------------
{ open my $f, '>', "$dir/mime.types" or die; print $f "text/plain txt\n"; }
my %hits;
open my $secret_fh, '>', "$dir/cache.secret" or die;
print $secret_fh "$SECRET\n";
close $secret_fh;
chmod 0600, "$dir/cache.secret";

for my $kind (qw(memcache redis)) {
    my $be = $backend{$kind};
    my $cport = $be->{start}->();
    my $cache = "CertMapLogonCache $kind:127.0.0.1:$cport\n"
              . "CertMapCacheSecret file:$dir/cache.secret";
    my $A = start_httpd("$kind-a", cache => $cache);
    my $B = start_httpd("$kind-b", cache => $cache);
    my ($r, $log);
    set_password($_, $PW{$_}) for keys %PW;

    # -- a logon through A is a hit on B ----------------------------------------
    $be->{flush}->($cport);
    ($r, $log) = get($A, '/farm/pw', 'alice');
    is($r, '200/0/farmuser', "[$kind] A: logon through PAM");
    like($log, qr/PAM service 'certmap'/, "[$kind] A: PAM ran") or diag($log);
    set_password('farmuser', 'changed-Pw-1');
    ($r, $log) = get($B, '/farm/pw', 'alice');
    is($r, '200/0/farmuser', "[$kind] B, PAM password changed since: granted from the cache A wrote");
    like($log, qr/PAM logon cached/, "[$kind] B: \"PAM logon cached\"") or diag($log);

    # the hit ratio across the two servers, after that one logon
    my ($n, $h) = (0, 0);
    for my $i (1 .. 6) {
        ($r, $log) = get($i % 2 ? $A : $B, '/farm/pw', 'alice');
        $n++;
        $h++ if $r eq '200/0/farmuser' && $log =~ /PAM logon cached/;
    }
    $hits{$kind} = "$h/$n";
    is($h, $n, "[$kind] every later request through A or B is a cache hit ($h/$n)");

    # many clients at once through both: the helper threads under load
    my $codes = burst([$A, $B], '/farm/pw', 'alice', 12, 4);
    is($codes, '200' x 48, "[$kind] 12 clients x 4 requests at once through A and B: all granted from the cache");

    # -- a graceful restart keeps the cache --------------------------------------
    graceful($A);
    ($r, $log) = get($A, '/farm/pw', 'alice');
    is($r, '200/0/farmuser', "[$kind] A after a graceful restart: still granted from the cache");
    like($log, qr/PAM logon cached/, "[$kind] A after a graceful restart: \"PAM logon cached\"") or diag($log);

    # -- a directory finding through A is a hit on B ------------------------------
    $be->{flush}->($cport);
    ($r, $log) = get($A, '/farm/dir', 'bob');
    is($r, '200/0/dir-sr', "[$kind] A: directory maps bob to dir-sr");
    like($log, qr/directory IssuerSerial search/, "[$kind] A: searched the directory") or diag($log);
    my @k = wait_keys($be, $cport, 1);
    is(scalar @k, 1, "[$kind] one entry in the cache: the directory finding");
    ($r, $log) = get($B, '/farm/dir', 'bob');
    unlike($log, qr/directory \S+ search/, "[$kind] B: the finding A wrote, no search of its own") or diag($log);

    # Entries written straight into the cache server, read back through A,
    # the server that wrote the originals.

    # -- altered: the account name in the finding rewritten ----------------------
    my $v = $be->{get}->($cport, $k[0]) // '';
    (my $altered = $v) =~ s/dir-sr/dir-is/;
    $be->{set}->($cport, $k[0], $altered);
    ($r, $log) = get($A, '/farm/dir', 'bob');
    is($r, '200/0/dir-sr', "[$kind] altered: a finding rewritten to another account is refused");
    like($log, qr/directory IssuerSerial search/, "[$kind] altered: the directory is searched again") or diag($log);

    # -- moved: farmuser's logon entry copied to farmtwo's key --------------------
    set_password('farmuser', $PW{farmuser});
    $be->{flush}->($cport);
    ($r) = get($A, '/farm/pw', 'alice');
    my @k1 = wait_keys($be, $cport, 1);
    ($r) = get($A, '/farm/two', 'bob');
    is($r, '200/0/farmtwo', "[$kind] A: farmtwo logs on");
    my %seen = map { $_ => 1 } @k1;
    my ($k2) = grep { !$seen{$_} } wait_keys($be, $cport, 2);
    set_password('farmtwo', 'changed-Pw-2');
    my $real = $be->{get}->($cport, $k2) // '';
    $be->{set}->($cport, $k2, $be->{get}->($cport, $k1[0]) // '');
    ($r, $log) = get($A, '/farm/two', 'bob');
    is($r, '401/1/', "[$kind] moved: another logon's entry under this key is refused (PAM runs: 401.1)");
    like(slurp_file($A->{log}), qr/CERTMAP250: a shared cache entry failed its authentication check/,
         "[$kind] A warns about an entry that failed its check");

    # -- forged: a well-formed record with a made-up tag ---------------------------
    $be->{set}->($cport, $k2, forged_record($real));
    ($r) = get($A, '/farm/two', 'bob');
    is($r, '401/1/', "[$kind] forged: refused (401.1)");

    # -- extended and replayed: carol's entry of a 4 s scope, after it expired -----
    # (memcached keeps it for whole seconds less: read it at once)
    $be->{flush}->($cport);
    ($r) = get($A, '/farm/short', 'carol');
    my ($k3) = wait_keys($be, $cport, 1);
    ok(defined $k3, "[$kind] A stored the 4 s scope's logon") or $k3 = 'none';
    my $orig = $be->{get}->($cport, $k3) // '';
    set_password('farmshort', 'changed-Pw-3');
    sleep 4.2;
    $be->{set}->($cport, $k3, $orig);
    ($r) = get($A, '/farm/short', 'carol');
    is($r, '401/1/', "[$kind] replayed after its expiry (the store's TTL made longer): refused (401.1)");
    $be->{set}->($cport, $k3, with_times($orig, now_us(), now_us() + 600e6));
    ($r) = get($A, '/farm/short', 'carol');
    is($r, '401/1/', "[$kind] extended (write time and expiry rewritten later): refused (401.1)");
    ($r) = get($B, '/farm/wrong', 'alice');
    is($r, '401/1/', "[$kind] a wrong password is refused");

    stop_httpd($A->{name});
    stop_httpd($B->{name});
    for my $pid (keys %procs) { stop_proc($pid) }
}

# ---- a black hole as the cache server: every wait is bounded ---------------------
my %bound;
for my $kind (qw(memcache redis)) {
    my ($bh, $bport) = black_hole();
    # redis without a secret: start-up must say the cache is not shared
    my $cache = "CertMapLogonCache $kind:127.0.0.1:$bport\n"
              . "CertMapCacheTimeout ${BOUND_MS}ms\n"
              . ($kind eq 'memcache' ? "CertMapCacheSecret file:$dir/cache.secret" : '');
    set_password($_, $PW{$_}) for keys %PW;
    # one child, so that what one process does is seen
    my $C = start_httpd("$kind-hole", cache => $cache, mpm => <<'EOF');
<IfModule mpm_prefork_module>
    MinSpareServers 1
    MaxSpareServers 1
    ServerLimit 1
    MaxRequestWorkers 1
</IfModule>
<IfModule !mpm_prefork_module>
    ServerLimit 1
    ThreadLimit 4
    ThreadsPerChild 4
    MaxRequestWorkers 4
    MinSpareThreads 1
    MaxSpareThreads 4
</IfModule>
EOF
    my @t;
    for my $i (1 .. 5) {
        my ($r, $dt) = timed_get($C, '/farm/pw', 'alice');
        push @t, $dt;
        is($r, '200/0/farmuser', "[$kind black hole] request $i: logged on through PAM")
            if $i == 1;
    }
    my ($rw, $tw) = timed_get($C, '/farm/wrong', 'alice');
    is($rw, '401/1/', "[$kind black hole] a wrong password: 401.1");
    my $max = (sort { $b <=> $a } @t, $tw)[0];
    my $min = (sort { $a <=> $b } @t, $tw)[0];
    $bound{$kind} = sprintf '%d ms at most, %d ms beyond the fastest (%s ms)',
        $max * 1000, ($max - $min) * 1000,
        join(', ', map { int($_ * 1000) } @t, $tw);
    diag("[$kind black hole] request times: $bound{$kind}; bound ${BOUND_MS} ms");
    # under the sanitizers a TLS handshake and a PAM logon take ~0.2 s
    cmp_ok($max, '<', $BOUND_MS / 1000 + 1.2,
           "[$kind black hole] no request waits much longer than the ${BOUND_MS} ms bound");
    my $log = slurp_file($C->{log});
    like($log, qr/CERTMAP252: shared cache \Q$kind\E:\S+ did not answer in time/,
         "[$kind black hole] the overrun is logged") or diag($log);
    my $n252 = () = $log =~ /CERTMAP252/g;
    is($n252, 1, "[$kind black hole] ... once: the process skips the cache for the back-off, later requests do not wait");
    if ($kind eq 'redis') {
        like($log, qr/CERTMAP251: CertMapLogonCache redis:\S+ without CertMapCacheSecret/,
             "[redis, no secret] start-up says the cache is not shared");
    }
    else {
        unlike($log, qr/CERTMAP251/, "[memcache, secret] no warning about a missing secret");
    }
    stop_httpd($C->{name});
    stop_proc($bh);
}

# ---- the secret is never shown ----------------------------------------------------
{
    my $conf = write_conf('dump', port => free_port(), mpm => '',
        cache => "CertMapLogonCache memcache:127.0.0.1:9\nCertMapCacheSecret $SECRET");
    my $dump = `"$httpd" -t -D DUMP_CERTMAP -f "$conf" 2>&1`;
    like($dump, qr/CertMapCacheSecret \*\*\*/, '[dump] DUMP_CERTMAP says a secret is set');
    my $explain = `CERTMAP_EXPLAIN="@{[ pki('alice.crt') ]}" "$httpd" -t -f "$conf" 2>&1`;
    my $all = $dump . $explain . join('', map { slurp_file($_) } glob("$logs/farm-*.error_log"));
    unlike($all, qr/\Q$SECRET\E|Qm7x-Lk2v/, '[secret] never in DUMP_CERTMAP, explain or any log');
    ok(length $explain, '[explain] ran');
}

# no child of the servers started here crashed
{
    my $all = join('', map { slurp_file($_) } glob("$logs/farm-*.error_log"));
    unlike($all, qr/exit signal (Segmentation|Aborted|Bus|Illegal)|caught SIG(SEGV|ABRT|BUS)|AddressSanitizer|runtime error:/,
           '[farm] no crash or sanitizer report in the farm servers\' logs');
}

diag("hit ratio across two servers after one logon: memcache $hits{memcache}, redis $hits{redis}");
diag("black hole, bound ${BOUND_MS} ms: memcache $bound{memcache}; redis $bound{redis}");
