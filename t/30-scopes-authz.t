# Contract: CertMapInheritMappings, CertMap On|Off, "no client certificate,
# SslNegotiateCert only" (passed on), "Require ... keep working on the mapped
# user", the env CERTMAP_* / AUTH_TYPE=Certificate / REMOTE_USER (via CGI),
# the error body and ErrorDocument.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;

plan tests => 49, need_module 'ssl';

sub r { request('certmap_ssl', @_) }
sub su { my ($s, $b, $h) = @_; return "$s/" . ($h->{'x-cm-sub'} // '') . '/' . ($h->{'x-cm-remote-user'} // '') }

# ---- CertMapInheritMappings -------------------------------------------------
is(su(r('/x/inherit/on', 'alice')), '200/0/outer', '[inherit On] outer mappings first');
is(su(r('/x/inherit/on', 'bob')), '200/0/inner', '[inherit On] then the inner ones');
is(su(r('/x/inherit/explicit-on', 'alice')), '200/0/outer', '[inherit On explicit] outer first');
is(su(r('/x/inherit/off', 'alice')), '200/0/inner', '[inherit Off] outer mapping not used');
is(su(r('/x/inherit/off', 'carol')), '403/16/', '[inherit Off] carol unmapped');
is(su(r('/x/inherit/none', 'alice')), '403/16/', '[inherit Off] no own mappings: none at all');
is(su(r('/x/inherit/o2o', 'bob')), '200/0/bobby', '[inherit On] inner one-to-one');
is(su(r('/x/inherit/o2o', 'alice')), '200/0/outer', '[inherit On] outer many-to-one still there');
is(su(r('/x/inherit', 'bob')), '403/16/', '[inherit] outer scope does not see inner mappings');
{
    my ($s, $b, $h) = r('/x/inherit/certmap-off', 'carol');
    is("$s/" . ($h->{'x-cm-sub'} // ''), '200/', '[CertMap Off nested] module does nothing');
}

# ---- CertMap Off ---------------------------------------------------------------
{
    my ($s, $b, $h) = r('/x/certmap-off', 'alice');
    is($s, 401, '[CertMap Off] cert present, Basic decides: 401 without credentials');
    is($h->{'x-cm-sub'} // '', '', '[CertMap Off] no certmap-substatus');
    ($s, $b, $h) = r('/x/certmap-off', 'alice', basic => ['basicuser', 'basicpass']);
    is("$s/" . ($h->{'x-cm-remote-user'} // ''), '200/basicuser', '[CertMap Off] Basic user, not the certificate');
    # (a trusted cert: an untrusted one is refused vhost-wide by the
    # CertMapInvalidCerts Report safety invariant, see t/invalid_certs.t)
    ($s, $b, $h) = r('/x/certmap-default', 'carol');
    is("$s/" . ($h->{'x-cm-sub'} // ''), '200/', '[CertMap default Off] unmapped cert ignored by the module');
}

# ---- no certificate, SslNegotiateCert only -----------------------------------
{
    my ($s, $b, $h) = r('/x/neg-basic', undef);
    is($s, 401, '[passed on] no cert, AuthType Basic: 401');
    like($h->{'www-authenticate'} // '', qr/^Basic realm="certmap-basic"/, '[passed on] WWW-Authenticate Basic');
    ($s, $b, $h) = r('/x/neg-basic', undef, basic => ['basicuser', 'basicpass']);
    is("$s/" . ($h->{'x-cm-remote-user'} // ''), '200/basicuser', '[passed on] no cert, right Basic credentials: 200');
    ($s, $b, $h) = r('/x/neg-basic', undef, basic => ['basicuser', 'wrong']);
    is($s, 401, '[passed on] no cert, wrong Basic password: 401');
    ($s, $b, $h) = r('/x/neg-basic', 'alice');
    is("$s/" . ($h->{'x-cm-remote-user'} // '') . '/' . ($h->{'x-cm-auth-type'} // ''),
       '200/alice/Certificate', '[mapped] cert on a Basic location: the mapped user, AUTH_TYPE Certificate');
    ($s, $b, $h) = r('/x/neg-basic', 'carol', basic => ['basicuser', 'basicpass']);
    is("$s/" . ($h->{'x-cm-sub'} // ''), '403/16', '[403.16] unmapped cert never falls through to Basic');
    ($s, $b, $h) = r('/x/neg-basic', 'untrusted', basic => ['basicuser', 'basicpass']);
    is("$s/" . ($h->{'x-cm-sub'} // ''), '403/16', '[403.16] untrusted cert never falls through to Basic');
    # legacy Satisfy Any (mod_access_compat): authentication is asked
    # even after an access checker refused
    ($s, $b, $h) = r('/x/satisfy-any', 'carol', basic => ['basicuser', 'basicpass']);
    is("$s/" . ($h->{'x-cm-sub'} // ''), '403/16', '[403.16, Satisfy Any] unmapped cert never falls through to Basic');
    ($s, $b, $h) = r('/x/satisfy-any', 'alice');
    is("$s/" . ($h->{'x-cm-remote-user'} // ''), '200/alice', '[mapped, Satisfy Any] the mapped user');
    ($s, $b, $h) = r('/x/satisfy-any', undef, basic => ['basicuser', 'basicpass']);
    is("$s/" . ($h->{'x-cm-remote-user'} // ''), '200/basicuser', '[passed on, Satisfy Any] no cert: Basic decides');
    ($s, $b, $h) = r('/x/satisfy-any', undef);
    is($s, 401, '[passed on, Satisfy Any] no cert, no credentials: 401');
    ($s, $b, $h) = r('/x/neg-nouser', undef);
    is("$s/" . ($h->{'x-cm-sub'} // ''), '403/7', '[passed on] no AuthType, Require valid-user: 403.7');
    like($b, qr/403\.7 Client certificate required/, '[passed on] 403.7 body');
    ($s, $b, $h) = r('/x/neg-open', undef);
    is("$s/" . ($h->{'x-cm-remote-user'} // ''), '200/', '[passed on] Require all granted: 200 without a user');
    ($s, $b, $h) = r('/x/neg-open', 'alice');
    is("$s/" . ($h->{'x-cm-remote-user'} // '') . '/' . ($h->{'x-cm-user'} // ''), '200/alice/alice',
       '[mapped] Require all granted with a mapped cert still sets the user');
}

# ---- Require decides on the mapped user ----------------------------------------
{
    my ($s, $b, $h) = r('/x/require-user', 'alice');
    is($s, 200, '[Require user alice] alice -> 200');
    ($s, $b, $h) = r('/x/require-user', 'bob');
    # mod_authz_core: no AuthType in the scope -> 403 "client denied by
    # server configuration" (AH01630); the mapping itself succeeded.
    is($s, 403, '[Require user alice] mapped bob -> 403 from mod_authz_core (no AuthType)');
    is($h->{'x-cm-sub'} // '', '0', '[Require user alice] mapping succeeded: substatus 0');
    unlike($b, qr/403\.(4|5|7|12|16)\b/, '[Require user alice] not a certmap sub-status body');
    ($s, $b, $h) = r('/x/require-user-authtype', 'bob');
    # Observed: 403 (AH01630) even with an AuthType: the module sets r->user
    # before mod_authz_core's first (pre-authn) pass, and a denied known
    # user there is a 403; only a denial after authn would be a 401.
    is($s, 403, '[Require user alice + AuthType Basic] mapped bob -> 403 from mod_authz_core (AH01630)');
    ($s, $b, $h) = r('/x/require-user-authtype', 'alice');
    is("$s/" . ($h->{'x-cm-remote-user'} // ''), '200/alice', '[Require user alice + AuthType Basic] alice -> 200');
}

# ---- env for CGI ------------------------------------------------------------------
{
    my ($s, $b) = r('/cgi/env', 'alice');
    is($s, 200, '[env] CGI as alice');
    like($b, qr/^REMOTE_USER=alice$/m, '[env] REMOTE_USER');
    like($b, qr/^AUTH_TYPE=Certificate$/m, '[env] AUTH_TYPE=Certificate');
    like($b, qr/^CERTMAP_USER=alice$/m, '[env] CERTMAP_USER');
    like($b, qr/^CERTMAP_MAPPING=one-to-one$/m, '[env] CERTMAP_MAPPING one-to-one');
    like($b, qr/^CERTMAP_SUBSTATUS=0$/m, '[env] CERTMAP_SUBSTATUS=0');
    ($s, $b) = r('/cgi/env', 'bob');
    like($b, qr/^CERTMAP_MAPPING=contoso-sales$/m, '[env] CERTMAP_MAPPING many-to-one NAME');
    like($b, qr/^CERTMAP_USER=seller$/m, '[env] CERTMAP_USER many-to-one');
}

# ---- error body, ErrorDocument --------------------------------------------------
{
    my ($s, $b, $h) = r('/x/o2o-pem', 'carol');
    like($b, qr/403\.16 Client certificate is untrusted or invalid/, '[body] 403.16 text');
    ($s, $b, $h) = r('/x/errordoc', 'carol');
    is($s, 403, '[ErrorDocument] status kept');
    like($b, qr/custom-error-document/, '[ErrorDocument] string replaces the body');
    unlike($b, qr/403\.16/, '[ErrorDocument] no IIS text');
    ($s, $b, $h) = r('/x/errordoc-local', 'carol');
    is($s, 403, '[ErrorDocument local URL] status kept');
    like($b, qr/custom-error-document/, '[ErrorDocument local URL] replaces the body');
}
