# Contract rows: 401.1 (PAM refuses the logon), 500 (PAM itself fails),
# "mapped and logged on" with CertMapPAM On; PASSWORD forms (literal, file:,
# env:), CertMapPAMService, CertMapDefaultLogonDomain,
# CertMapLogonCacheTimeout (300 and 0; failures not remembered).
# PAM is pam_wrapper + pam_matrix (t/pam/*.in, passdb t/pam/passdb.in).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;

plan tests => 23, need_module 'ssl';

sub r { request('certmap_ssl', @_) }
sub su { my ($s, $b, $h) = @_; return "$s/" . ($h->{'x-cm-sub'} // '') . '/' . ($h->{'x-cm-remote-user'} // '') }


is(su(r('/pam/right', 'alice')), '200/0/alice', '[logged on] right password -> 200 as alice');
{
    my ($s, $b, $h) = r('/pam/wrong', 'alice');
    is("$s/" . ($h->{'x-cm-sub'} // ''), '401/1', '[401.1] wrong password');
    like($b, qr/401\.1 Logon failed/, '[401.1] body text');
}
is(su(r('/pam/account-only', 'alice')), '200/0/alice', '[logged on] no password: account management only');
is(su(r('/pam/unknown', 'alice')), '401/1/', '[401.1] unknown account, account-only');
is(su(r('/pam/unknown-pw', 'alice')), '401/1/', '[401.1] unknown account with a password');
is(su(r('/pam/file', 'alice')), '200/0/fileuser', '[logged on] password file: (first line)');
is(su(r('/pam/env', 'alice')), '200/0/envuser', '[logged on] password env:');
is(su(r('/pam/alt', 'alice')), '200/0/altuser', '[CertMapPAMService] certmap-alt');
is(su(r('/pam/alt-wrong-service', 'alice')), '401/1/', '[CertMapPAMService] same account, default service refuses');
{
    my $m = error_log_mark();
    my ($s, $b, $h) = r('/pam/broken', 'alice');
    is($s, 500, '[500] PAM service error (module missing) with password');
    is($h->{'x-cm-remote-user'} // '', '', '[500] never a grant');
    ($s, $b, $h) = r('/pam/broken-account', 'alice');
    is($s, 500, '[500] PAM service error, account only');
    my $log = error_log_since($m);
    like($log, qr/certmap.*(?:error|crit|alert|emerg)\].*(?:PAM|pam)/i, '[500] logged at error level with the PAM message');
}
{
    my ($s, $b, $h) = r('/pam/domain', 'alice');
    is($s, 200, '[CertMapDefaultLogonDomain] domuser logs on as domuser@CONTOSO.EXAMPLE');
    like($h->{'x-cm-remote-user'} // '', qr/^domuser\@CONTOSO\.EXAMPLE$/, '[CertMapDefaultLogonDomain] r->user is USER@DOMAIN');
    is(su(r('/pam/domain-explicit', 'alice')), '200/0/domuser@CONTOSO.EXAMPLE', '[CertMapDefaultLogonDomain] USER with @ kept');
}

# ---- logon cache ---------------------------------------------------------------
is(su(r('/pam/cache300', 'alice')), '200/0/cached', '[cache 300] first logon');
is(su(r('/pam/cache0', 'alice')), '200/0/nocache', '[cache 0] first logon');
set_password('cached', 'changed-Aa1');
set_password('nocache', 'changed-Bb2');
# several requests: children share the cache
my @c300 = map { (r('/pam/cache300', 'alice'))[0] } 1 .. 4;
is("@c300", '200 200 200 200', '[cache 300] password changed in PAM: cached logon still answers 200');
my ($s0, $b0, $h0) = r('/pam/cache0', 'alice');
is("$s0/" . ($h0->{'x-cm-sub'} // ''), '401/1', '[cache 0] password changed in PAM: 401.1 at once');

# failures are not remembered
set_password('late', 'notyet-Cc3');
is(su(r('/pam/cache-failure', 'alice')), '401/1/', '[cache] failing logon -> 401.1');
set_password('late', 'latepw-Vr8s');
is(su(r('/pam/cache-failure', 'alice')), '200/0/late', '[cache] failure not remembered: next request logs on');
