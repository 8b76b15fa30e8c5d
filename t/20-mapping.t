# Contract: "How a certificate is mapped" and the rows 403.16 (untrusted;
# trusted but unmapped), 403.12 (Deny first), "mapped and logged on".
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;

plan tests => 195, need_module 'ssl';

# expect(PATH, CERT, STATUS, SUBSTATUS, USER, MAPPING, NAME): 3 assertions
sub expect {
    my ($path, $cert, $status, $sub, $user, $map, $name) = @_;
    my ($s, $b, $h, $err) = request('certmap_ssl', $path, $cert);
    is($s, $status, "$name: status") or diag("curl: $err\nbody: $b");
    is($h->{'x-cm-sub'} // '', $sub, "$name: certmap-substatus");
    if (defined $user) {
        is(($h->{'x-cm-remote-user'} // '') . '|' . ($h->{'x-cm-map'} // ''),
           "$user|$map", "$name: REMOTE_USER|CERTMAP_MAPPING");
    } else {
        is($h->{'x-cm-remote-user'} // '', '', "$name: no user");
    }
}

# ---- one-to-one ------------------------------------------------------------
expect('/x/o2o-pem', 'alice', 200, 0, 'alice', 'one-to-one', '[mapped] one-to-one file: PEM (relative to ServerRoot)');
expect('/x/o2o-pem', 'alice_renewed', 403, 16, undef, '', '[403.16] one-to-one: renewed cert with the same names is not mapped');
expect('/x/o2o-pem', 'bob', 403, 16, undef, '', '[403.16] one-to-one: other trusted cert unmapped');
expect('/x/o2o-der', 'alice', 200, 0, 'alice', 'one-to-one', '[mapped] one-to-one file: DER (absolute)');
expect('/x/o2o-der', 'alice_renewed', 403, 16, undef, '', '[403.16] one-to-one DER: renewed not mapped');
expect('/x/o2o-file', 'alice', 200, 0, 'alice', 'one-to-one', '[mapped] CertMapOneToOneFile: a blob line');
expect('/x/o2o-file', 'bob', 200, 0, 'bob', 'one-to-one', '[mapped] CertMapOneToOneFile: a file: line');
expect('/x/o2o-file', 'alice_renewed', 403, 16, undef, '', '[403.16] CertMapOneToOneFile: renewed not mapped');
expect('/x/o2o-inline', 'alice', 200, 0, 'alice', 'one-to-one', '[mapped] one-to-one inline IIS base64');
expect('/x/o2o-inline', 'bob', 200, 0, 'bob', 'one-to-one', '[mapped] one-to-one inline, second mapping');
expect('/x/o2o-inline', 'alice_renewed', 403, 16, undef, '', '[403.16] one-to-one inline: renewed not mapped');
expect('/x/o2o-inline-ws', 'alice', 200, 0, 'alice', 'one-to-one', '[mapped] one-to-one inline with surrounding whitespace');
expect('/x/o2o-inline-cont', 'alice', 200, 0, 'alice', 'one-to-one', '[mapped] one-to-one inline in 64-char lines (\\ continuation)');
expect('/x/o2o-disabled', 'alice', 403, 16, undef, '', '[403.16] CertMapOneToOneEnabled Off');
expect('/x/o2o-before-m2o', 'alice', 200, 0, 'o2ouser', 'one-to-one', '[order] one-to-one before many-to-one (declared later)');
expect('/x/o2o-before-m2o', 'alice_renewed', 200, 0, 'm2ouser', 'm2o-alice', '[order] renewed cert falls to many-to-one');

# ---- many-to-one ------------------------------------------------------------
expect('/x/m2o-first', 'alice', 200, 0, 'contoso', 'first-contoso', '[m2o] first match wins in config order');
expect('/x/m2o-first', 'carol', 403, 16, undef, '', '[403.16] m2o: trusted, no mapping matches');
expect('/x/m2o-ou-eng', 'alice', 200, 0, 'engineer', 'ou-eng', '[m2o] second OU value matches');
expect('/x/m2o-ou-sales', 'alice', 200, 0, 'seller', 'ou-sales', '[m2o] first OU value matches');
expect('/x/m2o-ou-eng', 'bob', 403, 16, undef, '', '[403.16] m2o: OU absent value');
expect('/x/m2o-and', 'bob', 403, 16, undef, '', '[m2o] rules are ANDed (O ok, OU not)');
expect('/x/m2o-absent', 'alice', 403, 16, undef, '', '[m2o] absent sub-field never matches, not even *');
expect('/x/m2o-absent', 'carol', 200, 0, 'titled', 'titled', '[m2o] T * matches a present title');
expect('/x/m2o-prefix', 'alice', 200, 0, 'prefix', 'prefix', '[wildcard] x* matches');
expect('/x/m2o-prefix', 'bob', 403, 16, undef, '', '[wildcard] x* does not match other');
expect('/x/m2o-suffix', 'alice', 200, 0, 'suffix', 'suffix', '[wildcard] *x matches');
expect('/x/m2o-suffix', 'carol', 403, 16, undef, '', '[wildcard] *x does not match other');
expect('/x/m2o-infix', 'alice', 200, 0, 'infix', 'infix', '[wildcard] *x* matches');
expect('/x/m2o-infix', 'carol', 403, 16, undef, '', '[wildcard] *x* does not match other');
expect('/x/m2o-star', 'bob', 200, 0, 'anycn', 'any-cn', '[wildcard] * alone: present, any value');
expect('/x/m2o-literal-star', 'alice', 403, 16, undef, '', '[wildcard] * in the middle is literal');
expect('/x/m2o-exact', 'alice', 403, 16, undef, '', '[m2o] no wildcard: exact, not prefix');
expect('/x/m2o-case-default', 'alice', 403, 16, undef, '', '[case] default CaseSensitive');
expect('/x/m2o-case-sensitive', 'alice', 403, 16, undef, '', '[case] CaseSensitive');
expect('/x/m2o-case-insensitive', 'alice', 200, 0, 'upper', 'upper-insensitive', '[case] CaseInsensitive (keyword in lower case)');
expect('/x/m2o-unicode-exact', 'unicode', 200, 0, 'omega', 'unicode-exact', '[unicode] UTF-8 exact');
expect('/x/m2o-unicode-sensitive', 'unicode', 403, 16, undef, '', '[unicode] CaseSensitive differs in case');
expect('/x/m2o-unicode-insensitive', 'unicode', 200, 0, 'omega', 'unicode-insensitive', '[unicode] CaseInsensitive folds Greek/Latin-1');
expect('/x/m2o-unicode-wild', 'unicode', 200, 0, 'omega', 'unicode-wild', '[unicode] *x CaseInsensitive');
expect('/x/m2o-commacn', 'commacn', 403, 16, undef, '', '[parsed names] CN "x, O=Contoso" is not an O');
expect('/x/m2o-commacn-cn', 'commacn', 200, 0, 'comma', 'comma-cn', '[parsed names] CN "x, O=Contoso" matches as CN');
expect('/x/m2o-nul-prefix', 'nulcn', 403, 16, undef, '', '[NUL] CN alice\\0.evil never matches alice*');
expect('/x/m2o-nul-exact', 'nulcn', 403, 16, undef, '', '[NUL] never matches alice');
expect('/x/m2o-nul-star', 'nulcn', 403, 16, undef, '', '[NUL] never matches *');
expect('/x/m2o-nul-prefix', 'alice', 200, 0, 'nul', 'nul-prefix', '[NUL control] alice matches alice*');
expect('/x/m2o-issuer', 'via_intermediate', 200, 0, 'branch', 'via-intermediate', '[m2o] Issuer rule');
expect('/x/m2o-issuer', 'alice', 403, 16, undef, '', '[m2o] Issuer rule, other issuer');
expect('/x/m2o-oid', 'alice', 200, 0, 'oiduser', 'oid-ou', '[m2o] dotted OID sub-fields');
expect('/x/m2o-oid', 'bob', 403, 16, undef, '', '[m2o] dotted OID, no match');
expect('/x/m2o-subfields', 'alice', 200, 0, 'subfields', 'subfields', '[m2o] E S ST L C, keywords any case');
expect('/x/m2o-title', 'carol', 200, 0, 'scientist', 'title', '[m2o] T (title)');
expect('/x/m2o-disabled', 'alice', 200, 0, 'contoso', 'enabled-contoso', '[m2o] CertMapEnabled Off skipped');
expect('/x/m2o-norules', 'carol', 200, 0, 'anyone', 'everyone-norules', '[m2o] mapping with no rules matches all');
expect('/x/m2o-disabled-all', 'alice', 403, 16, undef, '', '[m2o] CertMapManyToOneEnabled Off');
expect('/x/m2o-hostile', 'hostile', 200, 0, 'hostile', 'hostile', '[hostile] long CN with control chars, quotes, %');

# ---- 403.12 -------------------------------------------------------------------
{
    my ($s, $b, $h) = request('certmap_ssl', '/x/m2o-deny', 'mallory');
    is($s, 403, '[403.12] Deny mapping first: status');
    is($h->{'x-cm-sub'}, 12, '[403.12] substatus 12');
    like($b, qr/403\.12 Mapper denied access/, '[403.12] body text');
}
expect('/x/m2o-deny', 'bob', 200, 0, 'contoso', 'allow-contoso', '[403.12 control] Allow mapping after Deny');
expect('/x/m2o-deny-late', 'mallory', 200, 0, 'contoso', 'allow-contoso', '[order] Deny after a matching Allow never reached');

# ---- 403.16: untrusted certificates are never mapped ------------------------
for my $c (qw(untrusted selfsigned forged)) {
    my ($s, $b, $h) = request('certmap_ssl', '/x/m2o-untrusted', $c);
    is("$s/" . ($h->{'x-cm-sub'} // ''), '403/16', "[403.16] $c cert, a rule would match its names");
    like($b, qr/403\.16 Client certificate is untrusted or invalid/, "[403.16] $c: body text");
    is($h->{'x-cm-remote-user'} // '', '', "[403.16] $c: no user");
    ($s, $b, $h) = request('certmap_ssl', '/x/m2o-untrusted-open', $c);
    is("$s/" . ($h->{'x-cm-sub'} // ''), '403/16', "[403.16] $c cert on a Require all granted location");
}
expect('/x/m2o-untrusted', 'alice', 200, 0, 'contoso', 'contoso-alice', '[403.16 control] trusted alice on the same location');
expect('/x/m2o-unmapped-open', 'alice', 403, 16, undef, '', '[403.16] trusted, unmapped, Require all granted: never falls through');
