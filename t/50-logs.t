# Contract: "Every outcome sets ..." — note certmap-substatus and env
# CERTMAP_SUBSTATUS in the access log, the error-log line at info or above
# naming reason and certificate (subject, issuer, serial, SHA-256
# fingerprint), never a password (LogLevel certmap:trace8).  Runs after
# 40-pam.t on purpose.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;

my @passwords = qw(alicepw-Secr3t wrongpw-Zz9y nosuchpw-Kk1a filepw-Qx7k
                   envpw-Mw3r altpw-Jn4c cachedpw-Hb5t nocachepw-Lp2d
                   latepw-Vr8s dompw-Tz6q kaonepw-Ab1c katwopw-Cd2e);

plan tests => 15 + @passwords, need_module 'ssl';

sub r { request('certmap_ssl', @_) }

# flexible renderings: serial as hex with or without colons, any case
sub serial_re {
    my $hex = shift;
    (my $h = $hex) =~ s/^0+//;
    my $colons = join ':?', map { quotemeta } ($hex =~ /(..)/g);
    return qr/(?i:$colons|\b$h\b)/;
}
sub fpr_re {
    my $f = shift;
    my @b = split /:/, $f;
    my $re = join ':?', @b;
    return qr/(?i:$re)/;
}

# ---- access log: note and env ------------------------------------------------
{
    my $m = access_log_mark();
    r('/x/o2o-pem', 'alice');
    r('/x/o2o-pem', 'carol');
    my $log = access_log_since($m);
    like($log, qr{"GET /x/o2o-pem HTTP/1\.1" user=alice sub=0 envsub=0 cmuser=alice cmmap=one-to-one}, '[log] success: substatus 0, user, mapping');
    like($log, qr{403 "GET /x/o2o-pem HTTP/1\.1" user=- sub=16 envsub=16 cmuser=- cmmap=-}, '[log] 403.16: substatus 16, no user');
}

# ---- error log line -----------------------------------------------------------------
{
    my $m = error_log_mark();
    my ($s) = r('/x/o2o-pem', 'carol');
    is($s, 403, '[log] carol unmapped');
    my $log = error_log_since($m);
    my $ci = cert_info('carol');
    my $fre = fpr_re($ci->{sha256});
    my ($line) = grep { /$fre/ } split /\n/, $log;
    ok(defined $line, '[log] a line names the SHA-256 fingerprint') or diag($log);
    $line //= '';
    like($line, qr/\[certmap:(info|notice|warn|error|crit)\]/, '[log] at info or above');
    like($line, qr/CN\s*=\s*carol/, '[log] names the subject');
    like($line, qr/CertMap Test Root CA/, '[log] names the issuer');
    like($line, serial_re($ci->{serial}), '[log] names the serial');
    like($line, qr/16|not mapped|no mapping|unmapped|untrusted/i, '[log] names the reason');
}
{
    my $m = error_log_mark();
    my ($s) = r('/x/m2o-untrusted', 'forged');
    is($s, 403, '[log] forged cert refused');
    my $log = error_log_since($m);
    my $fre = fpr_re(cert_info('forged')->{sha256});
    ok((grep { /\[certmap:(info|notice|warn|error|crit)\]/ && /$fre/ } split /\n/, $log),
       '[log] forged cert: info+ line with its fingerprint') or diag($log);
}
{
    my $m = error_log_mark();
    my ($s) = r('/x/m2o-deny', 'hostile');
    my $log = error_log_since($m);
    unlike($log, qr/^X-Injected/m, '[log] hostile CN: no line injection');
    unlike($log, qr/[\x01\x07\x1b]/, '[log] hostile CN: control characters escaped');
    my $fre = fpr_re(cert_info('hostile')->{sha256});
    ok((grep { /$fre/ } split /\n/, $log), '[log] hostile cert still identified by fingerprint') or diag($log);
}

# ---- passwords never in any log -------------------------------------------------
{
    my $all = error_log_since(0) . access_log_since(0);
    for my $p (@passwords) {
        unlike($all, qr/\Q$p\E/, "[no password] '$p' not in error_log/access log (certmap:trace8)");
    }
    my $el = error_log_since(0);
    like($el, qr/\[certmap:info\].*mapped to 'alice'/, '[no password] the log holds the module\'s decisions');
}
