# Contract, "A farm": CertMapLogonTimeout — a PAM logon not finished in time
# answers 500 and is logged; a hung PAM stack never blocks the server.
# The stack is pam_exec of a script that sleeps (t/pam/certmap-hang.in);
# the logon runs in mod_certmap's logon helper, which kills it, script and
# all, at the deadline.  Other locations — PAM logons included — are
# served meanwhile, under every MPM.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;
use Time::HiRes qw(time sleep);

plan tests => 16, need_module 'ssl';

sub r { request('certmap_ssl', @_) }

# Starts a request in a child process; returns (pid, file with the result).
my $n = 0;
sub background {
    my ($path) = @_;
    my $out = gen_dir() . "/bg-$$-" . $n++;
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $t0 = time;
        my ($s, $b, $h) = r($path, 'alice');
        my $t = time - $t0;
        open my $fh, '>', $out or die;
        printf $fh "%d|%s|%.3f\n", $s, $h->{'x-cm-remote-user'} // '', $t;
        close $fh;
        require POSIX;
        POSIX::_exit(0);
    }
    return ($pid, $out);
}

sub result {
    my ($pid, $out) = @_;
    waitpid $pid, 0;
    open my $fh, '<', $out or return (0, '-', 0);
    my $line = <$fh> // '';
    chomp $line;
    my ($s, $u, $t) = split /\|/, $line, 3;
    unlink $out;
    return ($s, $u, $t);
}

sub alive {
    my ($pid) = @_;
    open(my $st, '<', "/proc/$pid/stat") or return 0;
    my $line = <$st> // '';
    return $line !~ /\) Z /;
}

# Every script the hung stack started has ended (killed with its logon).
sub scripts_ended {
    my $pids = gen_dir() . '/hang.pids';
    open my $fh, '<', $pids or return 0;
    my @p = map { chomp; $_ } <$fh>;
    close $fh;
    for (1 .. 20) {
        my @alive = grep { alive($_) } @p;
        return scalar(@p) if !@alive;
        sleep 0.1;
    }
    return 0;
}

my $mark = error_log_mark();

# one hung logon in the background ...
my @hung = background('/pam/hang');
sleep 0.3;
# ... while other requests are served at once: no PAM, and PAM logons too
my $t0 = time;
my ($s, $b, $h) = r('/x/o2o-pem', 'alice');
is($s, 200, '[not blocked] a location without PAM answers during a hung logon');
($s, $b, $h) = r('/pam/uncached', 'alice');
is($s, 200, '[not blocked] a PAM logon elsewhere succeeds during a hung logon');
is($h->{'x-cm-remote-user'} // '', 'alice', '[not blocked] ... as alice');
($s, $b, $h) = r('/pam/wrong', 'alice');
is("$s/" . ($h->{'x-cm-sub'} // ''), '401/1', '[not blocked] and a refused one is 401.1');
my $meanwhile = time - $t0;
ok($meanwhile < 1.5, "[not blocked] three requests in ${\ sprintf '%.2f', $meanwhile} s while the logon hangs");

my ($hs, $hu, $ht) = result(@hung);
is($hs, 500, '[CertMapLogonTimeout 2] the hung logon answers 500');
is($hu, '', '[CertMapLogonTimeout 2] never a grant');
ok($ht >= 1.8 && $ht < 3.5, "[CertMapLogonTimeout 2] after about 2 s (took ${\ sprintf '%.2f', $ht} s)");

# account-only logon through the same stack, in the foreground
$t0 = time;
($s, $b, $h) = r('/pam/hang-account', 'alice');
my $t = time - $t0;
is($s, 500, '[CertMapLogonTimeout 2] account-only logon: 500');
ok($t >= 1.8 && $t < 3.5, "[CertMapLogonTimeout 2] account-only, after about 2 s (took ${\ sprintf '%.2f', $t} s)");
like($b, qr/500/, '[500] error body');
ok(scripts_ended() >= 2, '[helper] every hung script was killed with its logon');

my $log = error_log_since($mark);
like($log, qr/\[certmap:error\].*CERTMAP210: PAM logon of 'alice' through service 'certmap-hang' not finished within 2 s/,
     '[logged] the request says the logon did not finish in time');
like($log, qr/CERTMAP206: PAM logon of 'alice' through service 'certmap-hang' not finished within 2000 ms: logon process \d+ killed/,
     '[logged] the helper says it killed the logon');
unlike($log, qr/alicepw-Secr3t/, '[logged] never the password');

# and the helper still serves after all that
($s, $b, $h) = r('/pam/uncached', 'alice');
is($s, 200, '[helper] PAM logons work after hung ones were killed');
