# [item1] issue 8: the per-connection memo must not trust pointers.
#
# Sibling directories under t/htdocs/hostile/memo/ hold .htaccess mappings
# of the same shape (every line as long as its sibling's): a maps CN alice
# to alpha, b maps CN carol to gamma; p and q log on to the same PAM
# account, p with the right password, q with a wrong one of the same
# length.  httpd parses an .htaccess into the request's pool on every
# request, so the second directory's configuration lands at the addresses
# the first one's had.  On ONE keep-alive connection each directory must
# still get its own answer (contract: "A remembered decision ... is used
# only when everything that decided it is equal by value ... .htaccess
# mappings included").  Every sequence also runs on fresh connections, so
# each check can fail both ways.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

plan tests => 8 + 2 * 20 + 3, need_module 'ssl';

my $V = 'certmap_hostile_memo';
my %path = ((map { $_ => "/hostile/memo/$_/ok.txt" } qw(a b p q r s)),
            n => '/ok.txt');    # outside CertMap

sub answer {
    my $r = shift;
    my $u = $r->{h}{'x-cm-remote-user'} // '';
    $u = '' if $u eq '(null)';
    return "$r->{status}/" . ($r->{h}{'x-cm-sub'} // '') . "/$u";
}

# one connection, several directories: the answers in order
sub on_one_connection {
    my ($cert, @dirs) = @_;
    my $sock = tls_socket($V, $cert);
    my @out;
    for my $d (@dirs) {
        my $r = http_get($sock, $path{$d});
        push @out, answer($r);
        last if !$r->{status} || lc($r->{h}{connection} // '') eq 'close';
    }
    close $sock;
    return @out;
}

sub fresh {
    my ($cert, $d) = @_;
    my ($s, $b, $h) = curl_request(vhost => $V, path => $path{$d}, cert => $cert);
    my $u = $h->{'x-cm-remote-user'} // '';
    $u = '' if $u eq '(null)';
    return "$s/" . ($h->{'x-cm-sub'} // '') . "/$u";
}

my $mark = error_log_mark();

# ---- controls: one request per connection, no memo involved ---------------
is(fresh('alice', 'a'), '200/0/alpha', '[item1 control] alice, dir a alone -> 200 as alpha');
is(fresh('alice', 'b'), '403/16/', '[item1 control] alice, dir b alone -> 403.16 (rule CN carol)');
is(fresh('carol', 'b'), '200/0/gamma', '[item1 control] carol, dir b alone -> 200 as gamma');
is(fresh('carol', 'a'), '403/16/', '[item1 control] carol, dir a alone -> 403.16 (rule CN alice)');
is(fresh('alice', 'p'), '200/0/hmemo', '[item1 control] alice, dir p (right password) alone -> 200');
is(fresh('alice', 'q'), '401/1/', '[item1 control] alice, dir q (wrong password) alone -> 401.1');
is(fresh('alice', 'r'), '200/0/altuser', '[item1 control] alice, dir r (PAM service certmap-alt) alone -> 200');
is(fresh('alice', 's'), '401/1/', '[item1 control] alice, dir s (PAM service certmap-hst) alone -> 401.1');

# Each sequence runs twice on fresh connections: back to back, and with a
# request outside CertMap (/ok.txt) between the CertMap requests.  Which
# of the two makes a freed .htaccess configuration come back at the same
# addresses depends on how APR recycles the request pools' memory (with
# one request between, the order of the recycled blocks flips back); an
# attacker simply tries both.
my @patterns = (['back to back', 0], ['with a request between', 1]);
sub seq {
    my ($cert, $between, @dirs) = @_;
    my @visit = $between ? map { ($_, 'n') } @dirs : @dirs;
    pop @visit if $between;
    my @got = on_one_connection($cert, @visit);
    @got = @got[grep { $_ % 2 == 0 } 0 .. $#got] if $between;
    return map { $_ // 'no answer' } @got[0 .. $#dirs];
}

for my $pt (@patterns) {
    my ($pn, $between) = @$pt;
    # ---- mappings: a then b on one connection, and back --------------------
    my @got = seq('alice', $between, qw(a b a b));
    is($got[0], '200/0/alpha', "[item1] keep-alive alice ($pn): a -> 200 as alpha");
    is($got[1], '403/16/', "[item1] keep-alive alice ($pn): then b -> 403.16, not a's memo (a grant as another mapping's account)");
    is($got[2], '200/0/alpha', "[item1] keep-alive alice ($pn): back to a -> 200 as alpha");
    is($got[3], '403/16/', "[item1] keep-alive alice ($pn): b again -> 403.16");
    # the reverse order: a remembered "no mapping" must not deny a
    @got = seq('alice', $between, qw(b a));
    is($got[0], '403/16/', "[item1] keep-alive alice ($pn): b first -> 403.16");
    is($got[1], '200/0/alpha', "[item1] keep-alive alice ($pn): then a -> 200 as alpha (b's memo must not deny)");
    # the other certificate, b first
    @got = seq('carol', $between, qw(b a b));
    is($got[0], '200/0/gamma', "[item1] keep-alive carol ($pn): b -> 200 as gamma");
    is($got[1], '403/16/', "[item1] keep-alive carol ($pn): then a -> 403.16, not a grant as alpha");
    is($got[2], '200/0/gamma', "[item1] keep-alive carol ($pn): b again -> 200 as gamma");

    # ---- PAM: the right password, then the wrong one ------------------------
    @got = seq('alice', $between, qw(p q p q));
    is($got[0], '200/0/hmemo', "[item1 PAM] keep-alive ($pn): p (right password) -> 200 as hmemo");
    is($got[1], '401/1/', "[item1 PAM] keep-alive ($pn): then q (wrong password) -> 401.1, not the remembered logon");
    is($got[2], '200/0/hmemo', "[item1 PAM] keep-alive ($pn): p again -> 200");
    is($got[3], '401/1/', "[item1 PAM] keep-alive ($pn): q again -> 401.1");
    @got = seq('alice', $between, qw(q p));
    is($got[0], '401/1/', "[item1 PAM] keep-alive ($pn): q first -> 401.1");
    is($got[1], '200/0/hmemo', "[item1 PAM] keep-alive ($pn): then p -> 200");
    # PAM: the same account and password through another service
    @got = seq('alice', $between, qw(r s r s));
    is($got[0], '200/0/altuser', "[item1 PAM service] keep-alive ($pn): r (certmap-alt) -> 200 as altuser");
    is($got[1], '401/1/', "[item1 PAM service] keep-alive ($pn): then s (certmap-hst refuses) -> 401.1, not the logon remembered for certmap-alt");
    is($got[2], '200/0/altuser', "[item1 PAM service] keep-alive ($pn): r again -> 200");
    is($got[3], '401/1/', "[item1 PAM service] keep-alive ($pn): s again -> 401.1");
    # mixed: mappings and logons interleaved on one connection
    @got = seq('alice', $between, qw(a p b q));
    is(join(' ', @got), '200/0/alpha 200/0/hmemo 403/16/ 401/1/',
       "[item1] keep-alive alice ($pn): a, p, b, q each get their own answer");
}

# ---- what the error log says about the b request on a's connection ------
my @log = split /\n/, error_log_since($mark);
my @bad = grep { /mapped to 'gamma'/ && /CN=alice,/ } @log;
is(scalar @bad, 0, '[item1] the error log never has alice mapped to gamma (b\'s account)')
    or diag($bad[0]);
@bad = grep { /mapped to 'alpha'/ && /CN=carol,/ } @log;
is(scalar @bad, 0, '[item1] the error log never has carol mapped to alpha (a\'s account)')
    or diag($bad[0]);

# ---- the sanitizer: a read of freed memory fails the run ---------------------
my @san = grep { -s } glob(Apache::Test::vars('t_logs') . '/sanitizer.*');
is("@san", '', '[item1] no sanitizer report (use-after-free of an .htaccess configuration)')
    or diag(map { "$_:\n" . do { local (@ARGV, $/) = $_; <> } } @san);
