# [item3] issue 8: the logon cache must not forget who is asking.
#
# PAM service certmap-hostile-rhost (t/pam/certmap-hostile-rhost.in)
# refuses by remote host: pam_listfile item=rhost sense=deny over the list
# pki/out/gen/passdb.deny-rhosts (written here), before pam_matrix.
# mod_certmap hands PAM the client address as PAM_RHOST.  The contract: a
# remembered decision "is used only when everything that decided it is
# equal by value: ... the PAM service, account, password and client
# address".  So 127.0.0.2 stays refused after 127.0.0.1 logs on to the same
# account with the same certificate, on new connections and on a
# connection 127.0.0.2 kept open.  Both kinds of logon: with a password
# (auth + account) and account-only.  (Apache::Test listens on 0.0.0.0, and
# 127.0.0.2 is a loopback address on Linux.)
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my @locations = (['/x/hr-password', 'hrhost', 'password logon'],
                 ['/x/hr-account', 'hrhostacct', 'account-only logon']);
plan tests => @locations * 8, need_module 'ssl';

my $V = 'certmap_hostile_rhost';

# the deny list: 127.0.0.2 is refused by PAM
{
    my $f = gen_dir() . '/passdb.deny-rhosts';
    open my $fh, '>', "$f.new" or die "$f.new: $!";
    print $fh "127.0.0.2\n";
    close $fh;
    chmod 0644, "$f.new";
    rename "$f.new", $f or die "rename $f: $!";
}

sub from {
    my ($addr, $path) = @_;
    my ($s, $b, $h, $e) = curl_request(vhost => $V, path => $path, cert => 'alice',
                                       interface => $addr);
    my $u = $h->{'x-cm-remote-user'} // '';
    $u = '' if $u eq '(null)';
    diag("curl from $addr: $e") if !$s;
    return "$s/" . ($h->{'x-cm-sub'} // '') . "/$u";
}

sub kept {
    my ($sock, $path) = @_;
    my $r = http_get($sock, $path);
    my $u = $r->{h}{'x-cm-remote-user'} // '';
    $u = '' if $u eq '(null)';
    return "$r->{status}/" . ($r->{h}{'x-cm-sub'} // '') . "/$u";
}

for my $l (@locations) {
    my ($path, $acct, $what) = @$l;
    # a connection from 127.0.0.2 opened before anyone logged on
    my $sock = tls_socket($V, 'alice', local => '127.0.0.2');

    is(kept($sock, $path), '401/1/',
       "[item3 control] $what: 127.0.0.2 on a kept-alive connection -> 401.1 (PAM refuses by rhost)");
    is(from('127.0.0.2', $path), '401/1/',
       "[item3 control] $what: 127.0.0.2 on a new connection -> 401.1");
    is(from('127.0.0.1', $path), "200/0/$acct",
       "[item3 control] $what: 127.0.0.1, same certificate and account -> 200");
    is(from('127.0.0.2', $path), '401/1/',
       "[item3] $what: 127.0.0.2 again on a new connection -> still 401.1, not 127.0.0.1's cached logon");
    is(kept($sock, $path), '401/1/',
       "[item3] $what: 127.0.0.2 again on its kept-alive connection -> still 401.1");
    is(from('127.0.0.1', $path), "200/0/$acct",
       "[item3 control] $what: 127.0.0.1 again -> 200");
    is(from('127.0.0.2', $path), '401/1/',
       "[item3] $what: 127.0.0.2 after 127.0.0.1's second logon -> 401.1");
    is(kept($sock, $path), '401/1/',
       "[item3] $what: 127.0.0.2's kept-alive connection, once more -> 401.1");
    close $sock;
}
