#!/usr/bin/perl
# soak.pl — the clients of `make soak` (tests/soak/run-soak.sh starts the
# server).  CONCURRENCY processes, each in a loop for SECONDS: pick a client
# (a certificate of the suite's PKI, or none), open a TLS connection with it,
# send 1 request (a new connection each) or up to 20 (keep-alive) to paths
# whose answer for that client is known, and check status and sub-status.
# The parent makes two graceful restarts (SIGUSR1 at 1/3 and 2/3), samples
# every child's RSS after warm-up and at the end, and prints the figures.
# Exit 0 only with no wrong outcome and no error.
use strict;
use warnings;
use Getopt::Long;
use IO::Socket::SSL;
use MIME::Base64 qw(encode_base64);
use POSIX qw(:sys_wait_h);
use Errno qw(ECONNRESET EPIPE);
use Time::HiRes qw(time sleep);

my %o = (seconds => 600, concurrency => 16);
GetOptions(\%o, 'port=i', 'pki=s', 'seconds=i', 'concurrency=i', 'pidfile=s')
    or die "usage: $0 --port N --pki DIR --pidfile FILE [--seconds N] [--concurrency N]\n";
defined $o{$_} or die "--$_ is required\n" for qw(port pki pidfile);

# What each client gets on each path: "STATUS/SUBSTATUS" (the X-CM-Sub
# header; empty where mod_certmap passed the request on).  "#basic": sent
# with Basic credentials.
my %expect = (
    alice => { '/x/o2o' => '200/0', '/x/deny' => '200/0', '/x/basic' => '200/0',
               '/x/dir' => '403/16', '/pam/ok' => '200/0', '/pam/wrong' => '401/1' },
    bob => { '/x/o2o' => '403/16', '/x/deny' => '200/0', '/x/basic' => '403/16',
             '/x/dir' => '200/0', '/x/dircached' => '200/0' },
    mallory => { '/x/deny' => '403/12', '/x/o2o' => '403/16' },
    expired => { '/x/o2o' => '403/17', '/x/deny' => '403/17', '/x/dir' => '403/17' },
    revoked => { '/x/o2o' => '403/13', '/x/deny' => '403/13' },
    untrusted => { '/x/o2o' => '403/16', '/x/deny' => '403/16' },
    none => { '/x/o2o' => '403/7', '/x/deny' => '403/7', '/x/basic' => '401/',
              '/x/basic#basic' => '200/' },
);
# how often each client comes up
my @clients = ((('alice') x 4), (('bob') x 4), 'mallory', 'expired', 'revoked',
               'untrusted', (('none') x 2));
my $basic = 'Basic ' . encode_base64('basicuser:basicpass', '');

sub connect_as {
    my $who = shift;
    return IO::Socket::SSL->new(
        PeerHost => '127.0.0.1', PeerPort => $o{port}, Timeout => 15,
        SSL_hostname => 'localhost', SSL_verifycn_name => 'localhost',
        SSL_verify_mode => SSL_VERIFY_PEER, SSL_ca_file => "$o{pki}/root.crt",
        $who eq 'none' ? () : (SSL_cert_file => "$o{pki}/$who.chain.pem",
                               SSL_key_file => "$o{pki}/$who.key"));
}

# One request on $sock: (status, {headers}) or (undef, error kind).
sub exchange {
    my ($sock, $path, $auth, $last) = @_;
    my $req = "GET $path HTTP/1.1\r\nHost: localhost\r\n"
              . ($auth ? "Authorization: $auth\r\n" : '')
              . ($last ? "Connection: close\r\n" : '') . "\r\n";
    local $SIG{ALRM} = sub { die "timeout\n" };
    local $SIG{PIPE} = 'IGNORE';
    my ($buf, $got) = ('', 0);
    my $r = eval {
        alarm 20;
        defined $sock->syswrite($req) or return [undef, $! == EPIPE || $! == ECONNRESET ? 'reset' : 'write'];
        while ($buf !~ /\r\n\r\n/) {
            my $n = $sock->sysread($buf, 16384, length $buf);
            return [undef, $! == ECONNRESET ? 'reset' : 'read'] unless defined $n;
            return [undef, length $buf ? 'truncated' : 'closed'] if $n == 0;
        }
        my ($head, $body) = split /\r\n\r\n/, $buf, 2;
        my ($status) = $head =~ m{^HTTP/1\.\d (\d{3})} or return [undef, 'garbage'];
        my %h;
        for (split /\r\n/, $head) { $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/ }
        if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
            until ($body =~ /(?:^|\r\n)0\r\n\r\n$/) {
                my $n = $sock->sysread($body, 16384, length $body);
                return [undef, 'truncated'] unless $n;
            }
        }
        else {
            my $len = $h{'content-length'} // 0;
            while (length $body < $len) {
                my $n = $sock->sysread($body, $len - length $body, length $body);
                return [undef, 'truncated'] unless $n;
            }
        }
        [$status, \%h];
    };
    alarm 0;
    return $r ? @$r : (undef, $@ =~ /timeout/ ? 'timeout' : 'exception');
}

# A server may close an idle keep-alive connection at any time (old
# children do it at a graceful restart; the event MPM does it to free a
# worker when all are busy): a request that crosses such a close gets no
# byte back, and HTTP (RFC 9112, 9.3.1) says to retry it on a new
# connection.  Those are counted apart, by whether a restart was under
# way.  A connection refused for its certificate must say so
# (`Connection: close`): a close there, a reset anywhere, a timeout or a
# truncated answer is an error.
sub in_restart_window {
    my $now = time;
    for my $t (@{ $_[0] }) { return 1 if $now >= $t - 0.5 && $now <= $t + 3 }
    return 0;
}

sub worker {
    my ($end, $out, $restarts) = @_;
    my %c;
    srand($$ ^ time);
    while (time < $end) {
        my $who = $clients[rand @clients];
        my @paths = sort keys %{ $expect{$who} };
        my $n = rand() < 0.5 ? 1 : 2 + int(rand(19));
        my $sock = connect_as($who);
        unless ($sock) {
            $c{errors}++;
            $c{"error connect: " . ($SSL_ERROR || $!)}++;
            sleep 0.05;
            next;
        }
        $c{connections}++;
        my $prev = '';
        for my $i (1 .. $n) {
            my $p = $paths[rand @paths];
            my ($path, $auth) = $p =~ /^(.*)#basic$/ ? ($1, $basic) : ($p, undef);
            my ($status, $h) = exchange($sock, $path, $auth, $i == $n);
            if (!defined $status) {
                if ($i > 1 && $h eq 'closed' && $who !~ /^(expired|revoked|untrusted)$/) {
                    $c{in_restart_window($restarts) ? 'stale keep-alive (retried), restart'
                                                    : 'stale keep-alive (retried), elsewhere'}++;
                    last;
                }
                $c{requests}++;
                $c{errors}++;
                $c{"error $h" . ($i > 1 ? " (request $i on the connection, after $prev)" : '')}++;
                last;
            }
            $c{requests}++;
            my $got = "$status/" . ($h->{'x-cm-sub'} // '');
            my $want = $expect{$who}{$p};
            if ($got ne $want) {
                $c{wrong}++;
                $c{"wrong $who $p: $got, expected $want"}++;
            }
            $c{"outcome $got"}++;
            $prev = $got;
            last if ($h->{connection} // '') =~ /close/i;
        }
        $sock->close(SSL_fast_shutdown => 1) if $sock;
    }
    print $out "$_\t$c{$_}\n" for keys %c;
    close $out;
    exit 0;
}

sub httpd_pid {
    open my $f, '<', $o{pidfile} or return 0;
    my $p = <$f>;
    chomp $p;
    return $p;
}

sub children_rss {
    my $pid = httpd_pid() or return '(no httpd)';
    my @l = `ps --ppid $pid -o pid=,rss=`;
    return join ', ', map { my ($p, $r) = split ' '; "$p: ${r} KiB" } @l;
}

my $start = time;
my $end = $start + $o{seconds};
my @restarts = ($start + $o{seconds} / 3, $start + 2 * $o{seconds} / 3);
my @kids;
for (1 .. $o{concurrency}) {
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) { close $r; worker($end, $w, \@restarts) }
    close $w;
    push @kids, [$pid, $r];
}

my $warm = $o{seconds} >= 60 ? 20 : $o{seconds} / 4;
my @events = ([$warm, sub { print "soak: RSS after warm-up (${\ int $warm} s): ", children_rss(), "\n" }],
              [$o{seconds} / 3 - 1, sub { print "soak: RSS before restart 1: ", children_rss(), "\n" }],
              [2 * $o{seconds} / 3 - 1, sub { print "soak: RSS before restart 2: ", children_rss(), "\n" }],
              [$o{seconds} / 3, sub { kill 'USR1', httpd_pid(); print "soak: graceful restart 1 at ${\ int(time - $start)} s\n" }],
              [2 * $o{seconds} / 3, sub { kill 'USR1', httpd_pid(); print "soak: graceful restart 2 at ${\ int(time - $start)} s\n" }],
              [$o{seconds} - 3, sub { print "soak: RSS at the end: ", children_rss(), "\n" }]);
$| = 1;
for my $e (sort { $a->[0] <=> $b->[0] } @events) {
    my $wait = $start + $e->[0] - time;
    sleep $wait if $wait > 0;
    $e->[1]->();
}

my %sum;
for my $k (@kids) {
    my ($pid, $r) = @$k;
    while (<$r>) { chomp; my ($key, $v) = split /\t/; $sum{$key} += $v }
    waitpid $pid, 0;
}
my $took = time - $start;
printf "soak: %d requests on %d connections in %.0f s (%.0f/s), %d clients\n",
    $sum{requests} // 0, $sum{connections} // 0, $took,
    ($sum{requests} // 0) / $took, $o{concurrency};
printf "soak: wrong outcomes: %d\n", $sum{wrong} // 0;
printf "soak: errors: %d\n", $sum{errors} // 0;
printf "soak: idle keep-alive connections the server closed as a request crossed (retried, not errors): %d at a graceful restart, %d elsewhere\n",
    $sum{'stale keep-alive (retried), restart'} // 0, $sum{'stale keep-alive (retried), elsewhere'} // 0;
for my $k (sort keys %sum) {
    print "soak:   $k: $sum{$k}\n" if $k =~ /^(outcome|wrong |error )/;
}
print "soak: server-status (mod_certmap, since the last restart):\n";
{
    my $cmd = "curl -sk --max-time 10 https://127.0.0.1:$o{port}/server-status?auto";
    print map { "soak:   $_" } grep { /^CertMap/ } `$cmd`;
}
exit(($sum{wrong} || $sum{errors}) ? 1 : 0);
