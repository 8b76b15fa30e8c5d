# Attack review, round 3: the connection's directory memo hands out its
# own copy of the account (certmap_memo.c's dir_pool) as the request's
# account, and certmap_finish stores that very pointer in
# r->subprocess_env (CERTMAP_USER, apr_table_setn).  The memo's pool is
# cleared and refilled as soon as another directory finding is remembered
# on the connection -- which a subrequest or an internal redirect of the
# same request does (ErrorDocument, mod_include's include virtual,
# mod_rewrite [PT] in per-directory context).  From then on the request's
# CERTMAP_USER (and, after the redirect, REDIRECT_CERTMAP_USER) reads
# whatever the new finding's copies put there: the new question's URL,
# bind DN, attribute or bind password.  An attacker who may write an
# .htaccess (AuthConfig: CertMap*, CertMapDirectoryMatch and
# CertMapDirectoryMappingAttribute, which set the layout; FileInfo:
# ErrorDocument) can aim that pointer at the bind password and read it in
# a CGI's environment, an SSI echo, a header, or the access log.
#
# Here: bob's certificate, scope a (/x/dir/uaf/a and /uaf-missing, three
# methods, the vhost's anonymous URL: the account copy sits at offset 104
# of the memo pool) and scope b (/x/dir/uaf/b, the bind/file question:
# its bind password copy lands at offset 104).  t/conf/directory.conf.in.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/../lib";
use CertMapTest;

my $V = 'certmap_dir';

plan tests => 7, need_module 'ssl', need_module 'ldap', need_module 'headers';

my $pw_file = pki('gen/ldap-reader.pw');
open my $pf, '<', $pw_file or die "$pw_file: $!";
my $password = <$pf>;
close $pf;
chomp $password;

sub get {
    my ($sock, $path) = @_;
    return http_get($sock, $path);
}

# ---- control: a fresh connection (nothing remembered yet) -----------------
{
    my $sock = tls_socket($V, 'bob');
    my $r = get($sock, '/uaf-missing');
    is($r->{status}, 404, 'control: /uaf-missing is mapped, then 404 with the ErrorDocument of scope b');
    is($r->{h}{'x-cm-redirect-user'}, 'dir-sr',
       'control: the redirected request sees the first request\'s account (REDIRECT_CERTMAP_USER)');
    is($r->{h}{'x-cm-user'}, 'dir-private', 'control: scope b maps bob to dir-private');
    close $sock;
}

# ---- attack: the first request's answer comes from the memo ---------------
{
    my $sock = tls_socket($V, 'bob');
    my $r = get($sock, '/x/dir/uaf/a');
    is("$r->{status}/" . ($r->{h}{'x-cm-user'} // ''), '200/dir-sr',
       'valid certificate: scope a maps bob (the connection remembers it)');
    $r = get($sock, '/uaf-missing');
    is($r->{status}, 404, 'same scope, remembered: mapped, then 404 with the ErrorDocument');
    my $seen = $r->{h}{'x-cm-redirect-user'} // '(none)';
    isnt($seen, $password, 'REDIRECT_CERTMAP_USER is not scope b\'s bind password')
        or diag("REDIRECT_CERTMAP_USER reads the LDAP bind password: '$seen'");
    is($seen, 'dir-sr', 'REDIRECT_CERTMAP_USER is still the account the request was mapped to')
        or diag("got '$seen'");
    close $sock;
}
