# Attack review, round 2: what an .htaccess file may not set.
#
# Whoever may write an .htaccess file (AllowOverride AuthConfig) must not
# make the server use its own secrets or read its own files for them:
#   CertMapDirectoryURL           a directory of theirs would receive the
#                                 bind DN and password of an enclosing scope
#   CertMapDirectoryBindDN,
#   CertMapDirectoryBindPassword  the server's credentials
#   CertMapOneToOneFile           a file the server reads
#   file:/env: passwords          the server's files and environment, in
#                                 CertMapOneToOne and in CertMapUser
# Each directory under t/htdocs/hostile2/htdeny/ (host
# certmap_hostile2_htdeny, AllowOverride AuthConfig) maps alice one-to-one
# with PAM off and adds one such line.  A request there must get 500 --
# httpd's answer to an .htaccess syntax error -- and never 2xx, and the
# error log names the directive and why, without the secret.  Control:
# ok/, the same .htaccess without the forbidden line, gives alice 200.  The
# same directives in the main configuration keep working (t/20-mapping.t,
# t/40-pam.t, t/80-directory.t).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my $V = 'certmap_hostile2_htdeny';
# [directory, directive the log names, what the log says]
my @deny = (
    ['url',        'CertMapDirectoryURL',          qr/[^\n]*not allowed in \.htaccess/],
    ['binddn',     'CertMapDirectoryBindDN',       qr/[^\n]*not allowed in \.htaccess/],
    ['bindpw',     'CertMapDirectoryBindPassword', qr/[^\n]*not allowed in \.htaccess/],
    ['o2ofile',    'CertMapOneToOneFile',          qr/[^\n]*not allowed in \.htaccess/],
    ['envpw',      'CertMapOneToOne',              qr/[^\n]*env:[^\n]*not allowed in \.htaccess/],
    ['filepw',     'CertMapOneToOne',              qr/[^\n]*file:[^\n]*not allowed in \.htaccess/],
    ['userenvpw',  'CertMapUser',                  qr/[^\n]*env:[^\n]*not allowed in \.htaccess/],
    ['userfilepw', 'CertMapUser',                  qr/[^\n]*file:[^\n]*not allowed in \.htaccess/],
);
# what the forbidden lines would have read: never in a log
my @secrets = ('envpw-Mw3r', 'filepw-Qx7k', 'literal-Hq3w');

plan tests => 2 + @deny * 4, need_module 'ssl';

my ($s, $b, $h, $e) = curl_request(vhost => $V, path => '/hostile2/htdeny/ok/ok.txt', cert => 'alice');
is("$s/" . ($h->{'x-cm-remote-user'} // ''), '200/alice',
   '[25 control] ok/: the same .htaccess without a forbidden line maps alice, 200') or diag($e);
($s) = curl_request(vhost => $V, path => '/hostile2/htdeny/ok/ok.txt', cert => 'carol');
is($s, 403, '[25 control] ok/: carol (unmapped) 403');

for my $d (@deny) {
    my ($dir, $directive, $why) = @$d;
    my $m = error_log_mark();
    my ($s, $b, $h) = curl_request(vhost => $V, path => "/hostile2/htdeny/$dir/ok.txt", cert => 'alice');
    my $u = $h->{'x-cm-remote-user'} // '';
    $u = '' if $u eq '(null)';
    ok($s !~ /^2/, "[25] $dir/: $directive in .htaccess: not 2xx (got $s" . ($u ne '' ? " as '$u'" : '') . ')');
    is($s, 500, "[25] $dir/: $directive in .htaccess -> 500 (an .htaccess syntax error)");
    my $log = error_log_since($m);
    my ($line) = $log =~ /^([^\n]*\Q$dir\E\/\.htaccess[^\n]*)$/m;
    $line //= '';
    like($line, qr/\Q$directive\E: $why/, "[25] $dir/: the error log names $directive and why")
        or diag($log =~ /([^\n]*htaccess[^\n]*)/ ? $1 : '(no .htaccess line)');
    my @leaked = grep { index($log, $_) >= 0 } @secrets;
    ok(!@leaked, "[25] $dir/: no password in the error log" . (@leaked ? " (found @leaked)" : ''));
}
