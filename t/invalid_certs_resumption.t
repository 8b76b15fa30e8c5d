# CertMapInvalidCerts Report and TLS session resumption: a session whose
# client certificate failed verification must never be resumed (a resumed
# session carries the certificate but no verification, so it would read
# SSL_CLIENT_VERIFY=SUCCESS).  TLS 1.2 with tickets, TLS 1.2 with the
# session cache only, TLS 1.3 (tickets).  Controls: a valid certificate's
# session does resume, and still gets 200 everywhere.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;

my $TMP = tempdir('certmap-sess-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my @guarded = qw(/x/inv-certmap /x/inv-verify-client /x/inv-verify-expr
                 /x/inv-username /x/inv-sslrequire);
my @modes = (['TLS 1.2 tickets', '-tls1_2'],
             ['TLS 1.2 session cache', '-tls1_2', '-no_ticket'],
             ['TLS 1.3', '-tls1_3']);
my @invalid = ([expired => 17], [revoked => 13], [untrusted => 16]);

plan tests => @modes * (2 + @guarded * 2
                        + @invalid * (2 + 2 + @guarded)),
     need_module 'ssl';

my $port = Apache::Test::config()->{vhosts}{certmap_invalid_report}{port}
    or die 'no port for certmap_invalid_report';

# One request over `openssl s_client`; returns (resumed?, HTTP status).
# A session file that does not exist means the server issued none.
sub s_client {
    my (%o) = @_;
    my @cmd = ('openssl', 's_client', '-connect', "127.0.0.1:$port",
               '-servername', 'localhost', '-ign_eof', @{ $o{flags} });
    push @cmd, '-cert', pki("$o{cert}.chain.pem"), '-key', pki("$o{cert}.key")
        if $o{cert};
    push @cmd, '-sess_out', $o{sess_out} if $o{sess_out};
    push @cmd, '-sess_in', $o{sess_in} if $o{sess_in};
    my $req = "GET $o{path} HTTP/1.1\r\nHost: localhost\r\n"
            . "Connection: close\r\n\r\n";
    open my $fh, '>', "$TMP/req" or die $!;
    print $fh $req;
    close $fh;
    my $cmd = join(' ', map { "'$_'" } @cmd) . " < $TMP/req 2>&1";
    my $out = `timeout 30 $cmd`;
    my $resumed = $out =~ /^Reused,/m ? 1 : 0;
    my ($status) = $out =~ m{HTTP/1\.1 (\d{3})};
    return ($resumed, $status || 0);
}

for my $m (@modes) {
    my ($name, @flags) = @$m;

    # control: alice's session resumes and still works everywhere
    my $sess = "$TMP/alice.sess";
    unlink $sess;
    my ($r, $s) = s_client(flags => \@flags, cert => 'alice',
                           path => '/x/inv-open', sess_out => $sess);
    ok t_cmp($s, 200, "[control] $name alice first connection -> 200");
    ok t_cmp(-s $sess ? 1 : 0, 1,
             "[control] $name alice got a session to resume");
    for my $path (@guarded) {
        ($r, $s) = s_client(flags => \@flags, path => $path, sess_in => $sess);
        ok t_cmp($r, 1, "[control] $name alice session resumed for $path");
        ok t_cmp($s, 200, "[control] $name alice resumed $path -> 200");
    }

    for my $case (@invalid) {
        my ($cert, $sub) = @$case;
        $sess = "$TMP/$cert.sess";
        unlink $sess;
        ($r, $s) = s_client(flags => \@flags, cert => $cert,
                            path => '/x/inv-open', sess_out => $sess);
        ok t_cmp($s, 403, "[403.$sub] $name $cert first connection -> 403");
        ok t_cmp($r, 0,
                 "[403.$sub] $name $cert first connection is a full handshake");
        if (!-s $sess) {
            # no session at all (TLS 1.3: no ticket for a failed certificate)
            for (1 .. 2 + @guarded) {
                ok t_cmp(1, 1,
                         "[resumption] $name $cert: server issued no session");
            }
            next;
        }
        # offering the failed session together with the certificate: a full
        # handshake, the certificate fails again
        ($r, $s) = s_client(flags => \@flags, cert => $cert,
                            path => '/x/inv-open', sess_in => $sess);
        ok t_cmp($r, 0, "[resumption] $name $cert: failed session not resumed");
        ok t_cmp($s, 403, "[resumption] $name $cert: still 403.$sub");
        # offering it without the certificate: never a 2xx on a guarded path
        for my $path (@guarded) {
            ($r, $s) = s_client(flags => \@flags, path => $path,
                                sess_in => $sess);
            ok t_cmp("resumed=$r status=$s", qr/^resumed=0 status=(?!2)/,
                     "[resumption] $name $cert session without certificate, "
                     . "$path: not resumed, not 2xx");
        }
    }
}
