# What one keep-alive connection remembers between its requests: the
# mapping per scope and the PAM logon (certmap_memo.c).  Contract rows:
# "mapped and logged on", 403.16 (no mapping matched), 401.1, and
# CertMapLogonCacheTimeout ("how long a successful logon is remembered"),
# checked on ONE TLS connection that visits several scopes.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;
use IO::Socket::SSL;

plan tests => 18, need_module 'ssl';


my $sock = IO::Socket::SSL->new(
    PeerHost        => '127.0.0.1',
    PeerPort        => CertMapTest::port('certmap_ssl'),
    SSL_hostname    => 'localhost',
    SSL_ca_file     => pki('root.crt'),
    SSL_cert_file   => pki('alice.chain.pem'),
    SSL_key_file    => pki('alice.key'),
    SSL_verifycn_name => 'localhost',
) or die "connect: $SSL_ERROR";

# One request on the open connection; returns "STATUS/SUBSTATUS/USER".
sub get {
    my $path = shift;
    print $sock "GET $path HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my ($status, %h);
    while (defined(my $line = <$sock>)) {
        $line =~ s/\r?\n$//;
        last if $line eq '';
        if (!defined $status) {
            ($status) = $line =~ m{^HTTP/1\.1 (\d{3})} or die "bad status line $line";
        }
        elsif ($line =~ /^([^:]+):\s*(.*)$/) {
            $h{lc $1} = $2;
        }
    }
    die "connection closed before $path" unless defined $status;
    die "connection: close on $path" if lc($h{connection} // '') eq 'close';
    my $len = $h{'content-length'} // 0;
    my $body = '';
    while (length $body < $len) {
        my $n = read($sock, $body, $len - length $body, length $body);
        die "short body" unless $n;
    }
    my $user = $h{'x-cm-remote-user'} // '';
    $user = '' if $user eq '(null)';
    return "$status/" . ($h{'x-cm-sub'} // '') . "/$user";
}

# ---- the mapping, per scope --------------------------------------------------
is(get('/x/m2o-ou-eng'), '200/0/engineer', '[memo] scope A maps alice to engineer');
is(get('/x/m2o-exact'), '403/16/', '[memo] scope B on the same connection: no mapping matches (403.16)');
is(get('/x/m2o-ou-eng'), '200/0/engineer', '[memo] back to scope A: engineer again');
is(get('/x/o2o-disabled'), '403/16/', '[memo] one-to-one disabled in this scope: not mapped');
is(get('/x/o2o-pem'), '200/0/alice', '[memo] one-to-one enabled in this scope: alice');
is(get('/x/m2o-ou-sales'), '200/0/seller', '[memo] scope C: seller');
is(get('/x/m2o-ou-eng'), '200/0/engineer', '[memo] scope A once more');

# ---- the logon, per scope ----------------------------------------------------
my $mark = error_log_mark();
is(get('/pam/ka300'), '200/0/kaone', '[logon] timeout 300: logged on');
is(get('/pam/ka2'), '200/0/katwo', '[logon] timeout 2: logged on');
is(get('/pam/ka0'), '200/0/kaone', '[logon] timeout 0: logged on');
set_password('kaone', 'changed-Xx1');
set_password('katwo', 'changed-Yy2');
is(get('/pam/ka300'), '200/0/kaone', '[logon] password changed: remembered within 300 s');
is(get('/pam/ka0'), '401/1/', '[logon] password changed: timeout 0 logs on again at once -> 401.1');
is(get('/pam/ka300'), '200/0/kaone', '[logon] a refusal elsewhere does not forget the remembered logon');
is(get('/pam/ka2'), '200/0/katwo', '[logon] timeout 2: still remembered');
sleep 3;
is(get('/pam/ka2'), '401/1/', '[logon] timeout 2 passed on the same connection: logs on again -> 401.1');
is(get('/pam/ka300'), '200/0/kaone', '[logon] timeout 300: still remembered');
is(get('/x/m2o-ou-eng'), '200/0/engineer', '[memo] the connection was kept open throughout');
like(error_log_since($mark), qr/mapped to 'kaone'.*PAM logon remembered by this connection/,
     '[logon] the connection answered from its own memory, not from PAM');
close $sock;
