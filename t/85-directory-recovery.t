# Contract: "A farm": "A directory connection found dead is replaced and the
# lookup retried once, so the first request after the directory is back
# succeeds"; "Directory unreachable: 500, never a grant".  The suite's slapd
# (tests/ldap/slapd.sh) is killed, restarted, frozen (SIGSTOP) and thawed
# under the pooled connections of mod_ldap.  Locations:
# t/conf/recovery.conf.in (virtual host certmap_rec, nothing cached).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;
use Time::HiRes qw(time sleep);

plan tests => 20, need_module 'ssl', need_module 'ldap';

my $ldap_dir = gen_dir() . '/ldap';
my $slapd_sh = t_dir() . '/../tests/ldap/slapd.sh';
my $port = Apache::Test::config()->{vhosts}{certmap_rec}{port};

sub slapd_pid {
    open my $f, '<', "$ldap_dir/slapd.pid" or return 0;
    my $pid = <$f>;
    chomp $pid;
    return $pid;
}
sub slapd { system('sh', $slapd_sh, @_, $ldap_dir) == 0 or die "slapd.sh @_ failed" }

# N requests at once (curl --parallel: N connections), each "STATUS/USER".
sub burst {
    my ($path, $n) = @_;
    my @cmd = ('curl', '-sS', '--no-progress-meter', '--http1.1', '--max-time', '30',
               '--parallel', '--parallel-immediate', '--parallel-max', $n,
               '--resolve', "localhost:$port:127.0.0.1",
               '--cacert', pki('root.crt'), '--cert', pki('bob.chain.pem'),
               '--key', pki('bob.key'), '-H', 'Connection: close',
               '-w', '%{http_code}/%header{x-cm-remote-user}\n');
    push @cmd, '-o', '/dev/null', "https://localhost:$port$path" for 1 .. $n;
    open my $out, '-|', @cmd or die "curl: $!";
    my @r = map { s/\s+$//r } <$out>;
    close $out;
    return sort @r;
}

sub one {
    my $path = shift;
    my ($s, undef, $h) = request('certmap_rec', $path, 'bob');
    return "$s/" . ($h->{'x-cm-remote-user'} // '');
}

# Fills mod_ldap's pool: the directory held still for a moment while 16
# requests arrive, so that every worker thread takes a connection of its
# own, then let go (well within the timeout).
sub fill_pool {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        sleep 0.5;
        kill 'STOP', slapd_pid();
        sleep 1.0;
        kill 'CONT', slapd_pid();
        exit 0;
    }
    my @r = burst('/x/rec/default', 16);
    waitpid $pid, 0;
    return @r;
}

my @ok16 = ('200/dir-sr') x 16;

# ---- killed and restarted: the first request afterwards succeeds -------------
is(one('/x/rec/default'), '200/dir-sr', '[up] the directory maps bob');
is_deeply([fill_pool()], \@ok16, '[pool] 16 parallel lookups while the directory pauses: all mapped');
{
    my $mark = error_log_mark();
    slapd('restart');
    my @seq = map { one('/x/rec/default') } 1 .. 12;
    is($seq[0], '200/dir-sr', '[restarted] the first request after the directory came back succeeds');
    is_deeply(\@seq, [('200/dir-sr') x 12], '[restarted] and every one of the 12 after it');
    is_deeply([burst('/x/rec/default', 16)], \@ok16, '[restarted] 16 parallel requests: all mapped');
    like(error_log_since($mark), qr/CERTMAP301: [^\n]*directory ldap:[^\n]*dropped/,
         '[restarted] dead pooled connections were met, logged and replaced');
}

# ---- killed: 500 while down, never a grant; back: the first request works ----
is_deeply([fill_pool()], \@ok16, '[pool] filled again');
slapd('stop');
{
    my @down = map { one('/x/rec/default') } 1 .. 6;
    is_deeply(\@down, [('500/') x 6], '[down] killed directory: 500, no user, every time');
    is_deeply([burst('/x/rec/default', 8)], [('500/') x 8], '[down] 8 parallel: 500, never a grant');
}
slapd('restart');
is(one('/x/rec/default'), '200/dir-sr', '[back] the first request after the restart succeeds');
is_deeply([burst('/x/rec/default', 16)], \@ok16, '[back] 16 parallel: all mapped');

# ---- frozen: 500 within the bound, logged; thawed: the next one works -------
is_deeply([fill_pool()], \@ok16, '[pool] filled again');
kill 'STOP', slapd_pid();
{
    my $mark = error_log_mark();
    my $t0 = time;
    my $r = one('/x/rec/short');
    my $took = time - $t0;
    is($r, '500/', '[frozen] CertMapDirectoryTimeout 1: 500, no user');
    cmp_ok($took, '<', 3.5, "[frozen] within twice the bound (took ${\ sprintf '%.1f', $took} s)");
    $t0 = time;
    $r = one('/x/rec/default');
    $took = time - $t0;
    is($r, '500/', '[frozen] default timeout: 500, no user');
    cmp_ok($took, '<', 7.5, "[frozen] default bound of 3 s, at most twice (took ${\ sprintf '%.1f', $took} s)");
    my $log = error_log_since($mark);
    like($log, qr/CERTMAP302: directory ldap:[^\n]* did not answer within 1 s/,
         '[frozen] logged: did not answer within 1 s');
    like($log, qr/\[certmap:error\][^\n]*500 Internal server error: directory[^\n]*(time|Timed)/i,
         '[frozen] the 500 line says the directory timed out');
}
kill 'CONT', slapd_pid();
is(one('/x/rec/default'), '200/dir-sr', '[thawed] the first request afterwards succeeds');
is_deeply([burst('/x/rec/default', 16)], \@ok16, '[thawed] 16 parallel: all mapped');
