# [item9] issue 8: renegotiation to another certificate on one connection,
# and TLS session resumption as a way to carry a failed certificate onto a
# Report host.
#
# Renegotiation (certmap_hostile_reneg, TLS 1.2): the host asks for a
# certificate (optional), a location says `SSLVerifyClient require`, so
# mod_ssl renegotiates there; the client has meanwhile switched to another
# certificate (Net::SSLeay on the open connection).  Every later request on
# the connection must be decided on the certificate presented now -- never
# on what the connection parsed or remembered for the first one (the
# module's per-connection cache and memo must not match a new certificate,
# even one whose freed predecessor's address it reuses, nor a renewed one
# with the same names).  A failed certificate presented in the
# renegotiation never gets a 2xx (and, under Report, an HTTP 403.x rather
# than a TLS alert).
#
# Resumption (the name-based hosts of item 2): a certificate of an unknown
# CA accepted by optional_no_ca on hostile-a is not resumed into a grant on
# hostile-b (Host:), with TLS 1.2 tickets, the TLS 1.2 session cache, and
# TLS 1.3 tickets; a session whose certificate failed on hostile-b itself
# (Report) is resumed neither there nor through hostile-a's SNI.  Controls:
# alice's sessions resume and get 200.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;
use Net::SSLeay ();

my $TMP = tempdir('certmap-hostile-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my @modes = (['TLS 1.2 tickets', '-tls1_2'],
             ['TLS 1.2 session cache', '-tls1_2', '-no_ticket'],
             ['TLS 1.3', '-tls1_3']);
my @resume_paths = qw(/x/hnb-username /x/hnb-fakebasic /x/hnb-certmap);
my @bad = qw(untrusted selfsigned forged);

plan tests => 11 + 6                                      # renegotiation
              + @modes * (2 + @resume_paths)              # resumption controls
              + @modes * @bad * @resume_paths             # laundering through A
              + @modes * 2,                               # B's failed session
     need_module 'ssl';

# ---- renegotiation ---------------------------------------------------------
# runs GETs on one TLS 1.2 connection; 'SWITCH' makes the client present
# $second from the next handshake on.  Returns "STATUS/SUB/USER" per GET.
sub reneg {
    my ($first, $second, @steps) = @_;
    my $sock = tls_socket('certmap_hostile_reneg', $first, tls12 => 1);
    my @out;
    for my $step (@steps) {
        if ($step eq 'SWITCH') {
            my $ssl = $sock->_get_ssl_object;
            my $crt = pki(-f pki("$second.chain.pem") ? "$second.chain.pem" : "$second.crt");
            Net::SSLeay::use_certificate_chain_file($ssl, $crt)
                or Net::SSLeay::use_certificate_file($ssl, $crt, &Net::SSLeay::FILETYPE_PEM)
                or die "use_certificate $second";
            Net::SSLeay::use_PrivateKey_file($ssl, pki("$second.key"), &Net::SSLeay::FILETYPE_PEM)
                or die "use_PrivateKey $second";
            next;
        }
        my $r = http_get($sock, $step);
        my $u = $r->{h}{'x-cm-remote-user'} // '';
        $u = '' if $u eq '(null)';
        push @out, "$r->{status}/" . ($r->{h}{'x-cm-sub'} // '') . "/$u";
        last unless $r->{status};
    }
    close $sock;
    return map { $_ // '0//' } @out[0 .. (grep { $_ ne 'SWITCH' } @steps) - 1];
}

{
    my @got = reneg('alice', 'bob', qw(/x/hrn-o2o /x/hrn-username SWITCH
                                       /x/hrn-o2o-require /x/hrn-o2o /x/hrn-username
                                       /x/hrn-username-require));
    is($got[0], '200/0/alice', '[item9 control] alice: one-to-one alice -> 200');
    is($got[1], '200//alice', '[item9 control] alice: SSLUserName -> alice');
    is($got[2], '403/16/', '[item9] renegotiated to bob: one-to-one alice location -> 403.16');
    is($got[3], '403/16/', '[item9] after the renegotiation, the location that mapped alice -> 403.16 (not the first certificate\'s parse or memo)');
    is($got[4], '200//bob', '[item9 control] after the renegotiation mod_ssl sees bob');
    is($got[5], '200//bob', '[item9 control] SSLVerifyClient require location: bob');
}
{
    my @got = reneg('alice', 'alice_renewed', qw(/x/hrn-o2o SWITCH /x/hrn-o2o-require /x/hrn-o2o));
    is($got[0], '200/0/alice', '[item9 control] alice: one-to-one -> 200');
    is($got[1], '403/16/', '[item9] renegotiated to alice_renewed (same names, other certificate): one-to-one -> 403.16');
    is($got[2], '403/16/', '[item9] and the location that mapped alice before -> 403.16');
}
{
    my @got = reneg('bob', 'alice', qw(/x/hrn-o2o SWITCH /x/hrn-o2o-require /x/hrn-o2o));
    is("$got[0] $got[1]", '403/16/ 200/0/alice', '[item9 control] bob 403.16, renegotiated to alice 200');
    is($got[2], '200/0/alice', '[item9 control] a remembered refusal of bob does not deny alice');
}
for my $f ([untrusted => 16], [expired => 17], [selfsigned => 16]) {
    my ($cert, $sub) = @$f;
    my @got = reneg('alice', $cert, qw(/x/hrn-o2o SWITCH /x/hrn-username-require /x/hrn-username));
    my ($s) = $got[1] =~ m{^(\d+)};
    ok($got[1] !~ m{^2} && $got[2] !~ m{^2},
       "[item9] renegotiated from alice to $cert: no 2xx afterwards (got $got[1], $got[2])");
    is($got[1], "403/$sub/", "[item9 Report] renegotiated to $cert: 403.$sub, not a TLS alert");
}

# ---- resumption ---------------------------------------------------------------
my $nb = CertMapTest::port('certmap_hostile_nb');

# One request over `openssl s_client`; returns (resumed?, status, user).
sub s_client {
    my (%o) = @_;
    my @cmd = ('openssl', 's_client', '-connect', "127.0.0.1:$nb",
               '-servername', $o{sni}, '-ign_eof', @{ $o{flags} });
    push @cmd, '-cert', pki("$o{cert}.crt"), '-key', pki("$o{cert}.key") if $o{cert};
    push @cmd, '-sess_out', $o{sess_out} if $o{sess_out};
    push @cmd, '-sess_in', $o{sess_in} if $o{sess_in};
    open my $fh, '>', "$TMP/req" or die $!;
    print $fh "GET $o{path} HTTP/1.1\r\nHost: $o{host}\r\nConnection: close\r\n\r\n";
    close $fh;
    my $cmd = join(' ', map { "'$_'" } @cmd) . " < $TMP/req 2>&1";
    my $out = `timeout 30 $cmd`;
    $out =~ s/\r//g;
    my $resumed = $out =~ /^Reused,/m ? 1 : 0;
    my ($status) = $out =~ m{HTTP/1\.1 (\d{3})};
    my ($user) = $out =~ m{^X-CM-Remote-User: (.*)$}m;
    $user = '' if !defined $user || $user eq '(null)';
    return ($resumed, $status || 0, $user);
}

for my $m (@modes) {
    my ($mn, @flags) = @$m;
    # control: alice, handshake for hostile-a, requests for hostile-b
    my $sess = "$TMP/alice.sess";
    unlink $sess;
    my ($r, $s, $u) = s_client(flags => \@flags, cert => 'alice', sni => 'hostile-a.example',
                               host => 'hostile-b.example', path => '/x/hnb-open', sess_out => $sess);
    is($s, 200, "[item9 control] $mn alice via hostile-a's SNI on hostile-b -> 200");
    ok(-s $sess, "[item9 control] $mn alice got a session");
    for my $path (@resume_paths) {
        ($r, $s, $u) = s_client(flags => \@flags, sni => 'hostile-a.example',
                                host => 'hostile-b.example', path => $path, sess_in => $sess);
        is("resumed=$r $s", 'resumed=1 200', "[item9 control] $mn alice's session resumed, $path -> 200");
    }
    # a certificate hostile-a accepted (optional_no_ca), resumed without it
    for my $cert (@bad) {
        $sess = "$TMP/$cert.sess";
        unlink $sess;
        s_client(flags => \@flags, cert => $cert, sni => 'hostile-a.example',
                 host => 'hostile-a.example', path => '/x/', sess_out => $sess);
        for my $path (@resume_paths) {
            ($r, $s, $u) = s_client(flags => \@flags, sni => 'hostile-a.example',
                                    host => 'hostile-b.example', path => $path, sess_in => $sess);
            ok($s !~ /^2/, "[item9] $mn ${cert}'s session from hostile-a resumed (resumed=$r) on hostile-b $path: "
                           . "not 2xx (got $s" . ($u ne '' ? " as '$u'" : '') . ')');
        }
    }
    # a certificate that failed on hostile-b itself (Report): never resumed
    $sess = "$TMP/b-untrusted.sess";
    unlink $sess;
    s_client(flags => \@flags, cert => 'untrusted', sni => 'hostile-b.example',
             host => 'hostile-b.example', path => '/x/hnb-open', sess_out => $sess);
    for my $sni (qw(hostile-b.example hostile-a.example)) {
        if (!-s $sess) {
            pass("[item9] $mn untrusted on hostile-b: no session issued at all");
            next;
        }
        ($r, $s, $u) = s_client(flags => \@flags, sni => $sni, host => 'hostile-b.example',
                                path => '/x/hnb-username', sess_in => $sess);
        is("resumed=$r" . ($s =~ /^2/ ? " status=$s" : ''), 'resumed=0',
           "[item9] $mn untrusted's failed session from hostile-b offered with SNI $sni: not resumed, not 2xx");
    }
}
