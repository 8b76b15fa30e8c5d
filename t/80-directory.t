# Contract: "Directory mapping (IIS: Active Directory mapping)".  The
# directory is the private slapd tests/run-httpd-tests.sh starts
# (tests/ldap/slapd.sh); its entries are those of tests/ldap/entries.sh, one
# account per certificate and method, written as Active Directory writes
# them.  Locations: t/conf/directory.conf.in (virtual host certmap_dir).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;
use File::Temp qw(tempdir);

plan tests => 207, need_module 'ssl', need_module 'ldap';

my %env;        # the slapd's ports (tests/ldap/slapd.sh)
{
    my $file = gen_dir() . '/ldap/env';
    open my $f, '<', $file or die "$file: $!";
    while (<$f>) { chomp; my ($k, $v) = split /=/, $_, 2; $env{$k} = $v; }
}
my $ldap_url = ldap_url();

# expect(PATH, CERT, STATUS, SUBSTATUS, USER, NAME): 3 assertions
sub expect {
    my ($path, $cert, $status, $sub, $user, $name) = @_;
    my ($s, $b, $h, $err) = request('certmap_dir', $path, $cert);
    is($s, $status, "$name: status") or diag("curl: $err\nbody: $b");
    is($h->{'x-cm-sub'} // '', $sub, "$name: certmap-substatus");
    if (defined $user) {
        my $map = $user =~ /^(o2o|m2o)-/
            ? ($1 eq 'o2o' ? 'one-to-one' : 'bobs') : 'directory';
        is(($h->{'x-cm-remote-user'} // '') . '|' . ($h->{'x-cm-map'} // ''),
           "$user|$map", "$name: REMOTE_USER|CERTMAP_MAPPING");
    } else {
        is($h->{'x-cm-remote-user'} // '', '', "$name: no user");
    }
}

# ---- each method -------------------------------------------------------------
expect('/x/dir/m/cert', 'alice', 200, 0, 'dir-cert', '[Certificate] userCertificate;binary holds the DER');
expect('/x/dir/m/cert', 'alice_renewed', 403, 16, undef, '[Certificate] renewed cert, same names: not mapped');
expect('/x/dir/m/issuerserial', 'bob', 200, 0, 'dir-sr', '[IssuerSerial] X509:<I>..<SR> reversed serial');
expect('/x/dir/m/issuerserial', 'mallory', 403, 16, undef, '[IssuerSerial] serial written forward never matches');
expect('/x/dir/m/ski', 'carol', 200, 0, 'dir-ski', '[SKI] X509:<SKI>');
expect('/x/dir/m/ski', 'bob', 403, 16, undef, '[SKI] other key: not mapped');
expect('/x/dir/m/sha1', 'unicode', 200, 0, 'dir-sha1', '[SHA1-PUKEY] X509:<SHA1-PUKEY>');
expect('/x/dir/m/sha1', 'alice', 403, 16, undef, '[SHA1-PUKEY] other cert: not mapped');
expect('/x/dir/m/issuersubject', 'via_intermediate', 200, 0, 'dir-is', '[IssuerSubject] X509:<I>..<S>.., issued by the intermediate');
expect('/x/dir/m/issuersubject', 'bob', 403, 16, undef, '[IssuerSubject] other names: not mapped');
expect('/x/dir/m/subject', 'commacn', 200, 0, 'dir-subject', '[Subject] X509:<S> with a quoted CN holding a comma');
expect('/x/dir/m/subject', 'bob', 403, 16, undef, '[Subject] none: 403.16');
expect('/x/dir/m/rfc822', 'alice', 200, 0, 'dir-mail', '[RFC822] X509:<RFC822> e-mail address');
expect('/x/dir/m/rfc822', 'bob', 403, 16, undef, '[RFC822] no e-mail address: not mapped');
expect('/x/dir/m/upn', "gen/ldap/upn", 200, 0, 'dir-upn', '[UPN] SAN UPN equals userPrincipalName');
expect('/x/dir/m/upn', 'alice', 403, 16, undef, '[UPN] no UPN in the cert: not mapped');
expect('/x/dir/m/sid', "gen/ldap/sid", 200, 0, 'dir-sid', '[SID] the SID extension equals objectSid (binary, escaped)');
expect('/x/dir/m/sid', "gen/ldap/sidother", 403, 16, undef, '[SID] another SID: not mapped');
expect('/x/dir/m/sid', "gen/ldap/sidbad", 403, 16, undef, '[SID] a SID text with filter characters is no SID: not mapped');
expect('/x/dir/m/sid', 'alice', 403, 16, undef, '[SID] no SID extension: not mapped');
expect('/x/dir/m/other-attr', 'carol', 403, 16, undef, '[MappingAttribute] strings looked for in the configured attribute only');

# ---- defaults and order ------------------------------------------------------
expect('/x/dir/default', 'alice', 200, 0, 'dir-cert', '[default methods] Certificate');
expect('/x/dir/default', 'bob', 200, 0, 'dir-sr', '[default methods] IssuerSerial');
expect('/x/dir/default', 'unicode', 200, 0, 'dir-sha1', '[default methods] SHA1-PUKEY');
expect('/x/dir/default', 'commacn', 403, 16, undef, '[default methods] Subject is not among them');
expect('/x/dir/off', 'alice', 403, 16, undef, '[CertMapDirectory Off] directory not asked');
expect('/x/dir/order/ski-first', 'carol', 200, 0, 'dir-ski', '[order] SKI Certificate: SKI wins');
expect('/x/dir/order/cert-first', 'carol', 200, 0, 'dir-carol-cert', '[order] Certificate SKI: Certificate wins');

# ---- two entries -----------------------------------------------------------
{
    my $mark = error_log_mark();
    expect('/x/dir/m/subject', 'mallory', 403, 16, undef, '[ambiguous] two entries: 403.16');
    my $log = error_log_since($mark);
    like($log, qr/more than one entry[^\n]*dir-dup1[^\n]*dir-dup2|more than one entry[^\n]*dir-dup2[^\n]*dir-dup1/,
         '[ambiguous] error-log line names both entries');
    like($log, qr/\[[^\]]*:error\][^\n]*more than one entry/, '[ambiguous] logged at level error');
}

# ---- local mappings first ------------------------------------------------------
expect('/x/dir/precedence', 'alice', 200, 0, 'o2o-alice', '[precedence] one-to-one before the directory');
expect('/x/dir/precedence', 'bob', 200, 0, 'm2o-bob', '[precedence] many-to-one before the directory');
expect('/x/dir/precedence', 'carol', 200, 0, 'dir-carol-cert', '[precedence] unmapped locally: the directory');

# ---- URL parts -----------------------------------------------------------------
expect('/x/dir/filter', 'bob', 200, 0, 'dir-sr', '[URL filter] entry matching the filter');
expect('/x/dir/filter', 'alice', 403, 16, undef, '[URL filter] entry outside the filter');
expect('/x/dir/accountattr', 'carol', 200, 0, 'sn-dir-ski', '[URL ACCOUNTATTR] account read from sn');

# ---- the directory failing -------------------------------------------------------
for my $try (1, 2) {
    my $mark = error_log_mark();
    expect('/x/dir/down', 'alice', 500, 0, undef, "[down #$try] closed port: 500, no grant");
    like(error_log_since($mark), qr/directory ldap:\/\/127\.0\.0\.1:\d+\/[^\n]*(connect|contact|down|Can't)/i,
         "[down #$try] error log says the directory is unreachable");
}
expect('/x/dir/nobase', 'alice', 500, 0, undef, '[search error] missing base DN: 500');

# ---- binding -----------------------------------------------------------------------
expect('/x/dir/bind/file', 'bob', 200, 0, 'dir-private', '[bind] BindDN + file: password');
expect('/x/dir/bind/env', 'bob', 200, 0, 'dir-private', '[bind] BindDN + env: password');
expect('/x/dir/bind/anonymous', 'bob', 403, 16, undef, '[bind] anonymous cannot read ou=private');
{
    my $mark = error_log_mark();
    expect('/x/dir/bind/wrong', 'bob', 500, 0, undef, '[bind] wrong password: 500');
    my $log = error_log_since($mark);
    unlike($log, qr/not-the-password|ldap-pw-Rt5v/, '[bind] no password in the error log');
}

# ---- the cache -----------------------------------------------------------------------

expect('/x/dir/cache/off', 'nulcn', 200, 0, 'dir-cache', '[cache] timeout 0: found');
expect('/x/dir/cache/on', 'nulcn', 200, 0, 'dir-cache', '[cache] timeout 300: found and remembered');
# the entry's mapping, put back at the end (t/hostile/27-directory-memo.t
# takes it away too)
my $cache_mapping = ldap_attr('uid=dir-cache,ou=people,dc=certmap,dc=test',
                              'altSecurityIdentities');
{
    my ($rc, $out) = ldap_modify("dn: uid=dir-cache,ou=people,dc=certmap,dc=test\n"
                                . "changetype: modify\ndelete: altSecurityIdentities\n");
    is($rc, 0, '[cache] mapping removed from the directory') or diag($out);
}
expect('/x/dir/cache/on', 'nulcn', 200, 0, 'dir-cache', '[cache] still served within the timeout');
expect('/x/dir/cache/off', 'nulcn', 403, 16, undef, '[cache] timeout 0: the directory is read again');
expect('/x/dir/cache/on', 'nulcn', 200, 0, 'dir-cache', '[cache] remembered answer again');
{
    my ($rc, $out) = ldap_modify("dn: uid=dir-cache,ou=people,dc=certmap,dc=test\n"
                                . "changetype: modify\nadd: altSecurityIdentities\n"
                                . "altSecurityIdentities: " . ($cache_mapping // '') . "\n");
    is($rc, 0, '[cache] mapping put back') or diag($out);
}

# ---- configtest -----------------------------------------------------------------------
my $dir = tempdir('certmap-dirconf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $httpd = httpd_bin();
my $inherit = gen_dir() . '/inherit.conf';
my $n = 0;

# conf(LINES inside <Location /x>, [no_ldap]) -> (file, line of the first)
sub conf {
    my ($lines, $no_ldap) = @_;
    my $file = sprintf '%s/case%02d.conf', $dir, ++$n;
    my $inc = $inherit;
    if ($no_ldap) {         # the suite's modules without mod_ldap
        $inc = "$dir/inherit-noldap.conf";
        open my $in, '<', $inherit or die "$inherit: $!";
        open my $out, '>', $inc or die "$inc: $!";
        print $out grep { !/ldap_module/ } <$in>;
        close $in;
        close $out;
    }
    my @head = (
        "ServerRoot \"" . t_dir() . "\"", 'ServerName localhost',
        "Include \"$inc\"",
        'LoadModule certmap_module ${CERTMAP_MODULE}',
        "PidFile \"$dir/httpd.pid\"", "ErrorLog \"$dir/error_log\"",
        'Listen 127.0.0.1:9', '<Location /x>', 'CertMap On',
    );
    open my $f, '>', $file or die "$file: $!";
    print $f "$_\n" for @head, @$lines, '</Location>';
    close $f;
    return ($file, scalar(@head) + 1);
}

sub configtest {
    my $file = shift;
    my $out = `"$httpd" -t -f "$file" 2>&1`;
    return ($? >> 8, $out);
}

my $url = "CertMapDirectoryURL ${ldap_url}ou=people,dc=certmap,dc=test?uid?sub";
my @bad = (
    ['bad URL',             [$url, 'CertMapDirectoryURL http://example/x'], 1, qr/CertMapDirectoryURL[^\n]*http:\/\/example/],
    ['URL without host',    ['CertMapDirectoryURL ldap:///dc=x?uid'], 0, qr/CertMapDirectoryURL[^\n]*(host|URL)/i],
    ['unknown method',      [$url, 'CertMapDirectoryMatch Certificate Thumbprint'], 1, qr/CertMapDirectoryMatch[^\n]*Thumbprint/],
    ['bad cache timeout',   ['CertMapDirectoryCacheTimeout soon'], 0, qr/CertMapDirectoryCacheTimeout[^\n]*soon/],
    ['negative cache timeout', ['CertMapDirectoryCacheTimeout -1'], 0, qr/CertMapDirectoryCacheTimeout[^\n]*-1/],
    ['zero timeout',        ['CertMapDirectoryTimeout 0'], 0, qr/CertMapDirectoryTimeout[^\n]*'0'[^\n]*1 to 300/],
    ['bad timeout',         ['CertMapDirectoryTimeout 2s'], 0, qr/CertMapDirectoryTimeout[^\n]*'2s'/],
    ['On without a URL',    ['CertMapDirectory On'], 0, qr/CertMapDirectory[^\n]*CertMapDirectoryURL/],
    ['bad On/Off',          [$url, 'CertMapDirectory Sometimes'], 1, qr/CertMapDirectory/],
);
for my $case (@bad) {
    my ($name, $lines, $off, $re) = @$case;
    my ($file, $first) = conf($lines);
    my ($rc, $out) = configtest($file);
    isnt($rc, 0, "[configtest] $name: httpd -t fails");
    my $line = $first + $off;
    like($out, qr/line $line of \Q$file\E/, "[configtest] $name: names file and line $line") or diag($out);
    like($out, $re, "[configtest] $name: gives the reason") or diag($out);
}
{
    my ($file) = conf([$url, 'CertMapDirectory On', 'CertMapDirectoryMatch upn rfc822 SKI',
                       'CertMapDirectoryBindDN cn=reader,dc=certmap,dc=test',
                       'CertMapDirectoryBindPassword env:CERTMAP_TEST_ENV_PW',
                       'CertMapDirectoryCacheTimeout 0']);
    my ($rc, $out) = configtest($file);
    is($rc, 0, '[configtest] a valid directory configuration passes') or diag($out);
    $out = `"$httpd" -t -D DUMP_CERTMAP -f "$file" 2>&1`;
    like($out, qr/Directory On, URL ldap:[^\n]*bind cn=reader[^\n]* password \*\*\*; match UPN RFC822 SKI; attribute altSecurityIdentities; cache 0s; timeout 3s/,
         '[DUMP_CERTMAP] shows the directory settings') or diag($out);
    unlike($out, qr/envpw-Mw3r/, '[DUMP_CERTMAP] bind password hidden');
}
{
    # the URL may come after CertMapDirectory On, or from an enclosing scope
    my ($file) = conf(['CertMapDirectory On', $url]);
    my ($rc, $out) = configtest($file);
    is($rc, 0, '[configtest] URL later in the same section') or diag($out);
}
{
    my ($file) = conf(['CertMapDirectory On']);
    open my $f, '>>', $file or die; print $f "$url\n"; close $f;
    my ($rc, $out) = configtest($file);
    is($rc, 0, '[configtest] URL at server level') or diag($out);
}
{
    my ($file) = conf([$url, 'CertMapDirectory On'], 1);
    my ($rc, $out) = configtest($file);
    isnt($rc, 0, '[configtest] CertMapDirectory On without mod_ldap fails');
    like($out . slurp("$dir/error_log"), qr/mod_ldap/, '[configtest] and says mod_ldap is needed') or diag($out);
}

# ---- certmap explain ------------------------------------------------------------
# explain_scope(CERT, LINES inside <Location /x>) -> (exit status, the lines of the
# <Location /x> scope): the test_config hook behind `certmap explain`, on a
# configuration of its own (conf above), asking the suite's slapd.
sub explain_scope {
    my ($cert, $lines) = @_;
    my ($file) = conf($lines);
    my $out = `CERTMAP_EXPLAIN="@{[ pki($cert) ]}" "$httpd" -t -f "$file" 2>&1`;
    my $rc = $? >> 8;
    my ($scope) = $out =~ /^  <Location \/x>\n((?:    [^\n]*\n)*)/m;
    return ($rc, $scope // "(no <Location /x> scope in:)\n$out");
}
my $people = "${ldap_url}ou=people,dc=certmap,dc=test?uid?sub";
my $private = "${ldap_url}ou=private,dc=certmap,dc=test?uid?sub";
{
    my ($rc, $out) = explain_scope('carol.crt', [$url, 'CertMapDirectory On', 'CertMapDirectoryMatch SKI']);
    is($rc, 0, '[explain] found: httpd -t passes') or diag($out);
    like($out, qr/^    directory: \Q$people\E, bind anonymous, methods SKI$/m,
         '[explain] found: the directory, the bind and the methods') or diag($out);
    like($out, qr/^    directory: method SKI found uid=dir-ski,ou=people,dc=certmap,dc=test -> account dir-ski$/m,
         '[explain] found: which method found which entry, and the account') or diag($out);
    like($out, qr/^    outcome: mapped to 'dir-ski' by directory \([^)]*case\d+\.conf:\d+\); then PAM service 'certmap' logs on as 'dir-ski' \(account check only\)/m,
         '[explain] found: the outcome, by the CertMapDirectoryURL line') or diag($out);
}
{
    my ($rc, $out) = explain_scope('bob.crt', [$url, 'CertMapDirectory On', 'CertMapPAM Off']);
    like($out, qr/methods Certificate IssuerSerial SKI SHA1-PUKEY\n    directory: method IssuerSerial found uid=dir-sr,ou=people,dc=certmap,dc=test -> account dir-sr\n/,
         '[explain] default methods: the first that finds (IssuerSerial after Certificate)') or diag($out);
    like($out, qr/outcome: mapped to 'dir-sr' by directory [^\n]*; PAM Off/, '[explain] ... PAM Off') or diag($out);
}
{
    my ($rc, $out) = explain_scope('mallory.crt', [$url, 'CertMapDirectory On']);
    is($rc, 0, '[explain] not found: httpd -t passes') or diag($out);
    like($out, qr/^    directory: no entry for any method$/m, '[explain] not found: no entry for any method') or diag($out);
    like($out, qr/^    outcome: 403\.16 [^\n]*directory included/m, '[explain] not found: 403.16') or diag($out);
}
{
    my ($rc, $out) = explain_scope('mallory.crt', [$url, 'CertMapDirectory On', 'CertMapDirectoryMatch Subject']);
    like($out, qr/^    directory: method Subject found more than one entry: uid=dir-dup\d,[^\n]*; uid=dir-dup\d,/m,
         '[explain] two entries: names both') or diag($out);
    like($out, qr/^    outcome: 403\.16 [^\n]*more than one/m, '[explain] two entries: 403.16') or diag($out);
}
{
    my $down = "ldap://127.0.0.1:$env{CERTMAP_LDAP_DOWN_PORT}/ou=people,dc=certmap,dc=test?uid?sub";
    my ($rc, $out) = explain_scope('carol.crt', ["CertMapDirectoryURL $down", 'CertMapDirectory On']);
    is($rc, 0, '[explain] unreachable: httpd -t still passes') or diag($out);
    like($out, qr/^    directory: would ask \Q$down\E \(unreachable: [^\n]*(contact|connect)/mi,
         '[explain] unreachable: says it would ask, and why not') or diag($out);
    like($out, qr/^    outcome: 500\.0 /m, '[explain] unreachable: 500, never a grant') or diag($out);
}
{
    # a directory that accepts and never answers: explain does not hang
    require IO::Socket::INET;
    my $mute = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp')
        or die "listen: $!";
    my $silent = "ldap://127.0.0.1:" . $mute->sockport . "/ou=people,dc=certmap,dc=test?uid?sub";
    my $t0 = time;
    my ($rc, $out) = explain_scope('carol.crt', ["CertMapDirectoryURL $silent", 'CertMapDirectory On']);
    my $took = time - $t0;
    like($out, qr/^    directory: would ask \Q$silent\E \(unreachable: no answer within 3 s\)/m,
         '[explain] silent directory: gives up') or diag($out);
    cmp_ok($took, '<', 15, "[explain] silent directory: within the bound (took ${took}s)");
}
{
    my ($rc, $out) = explain_scope('bob.crt', ["CertMapDirectoryURL $private", 'CertMapDirectory On',
                                         'CertMapDirectoryBindDN cn=reader,dc=certmap,dc=test',
                                         'CertMapDirectoryBindPassword file:pki/out/gen/ldap-reader.pw',
                                         'CertMapDirectoryMatch IssuerSerial']);
    like($out, qr/bind cn=reader,dc=certmap,dc=test, methods IssuerSerial\n    directory: method IssuerSerial found uid=dir-private,ou=private,dc=certmap,dc=test -> account dir-private\n/,
         '[explain] bound with the configured password: finds what anonymous cannot') or diag($out);
    unlike($out, qr/ldap-pw-Rt5v/, '[explain] bind password never printed');
}
{
    my ($rc, $out) = explain_scope('bob.crt', ["CertMapDirectoryURL $private", 'CertMapDirectory On',
                                         'CertMapDirectoryBindDN cn=reader,dc=certmap,dc=test',
                                         'CertMapDirectoryBindPassword not-the-password']);
    like($out, qr/^    directory: bind as cn=reader,dc=certmap,dc=test refused: Invalid credentials/m,
         '[explain] wrong bind password: refused') or diag($out);
    like($out, qr/^    outcome: 500\.0 /m, '[explain] wrong bind password: 500') or diag($out);
    unlike($out, qr/not-the-password/, '[explain] wrong bind password never printed');
}
{
    my ($rc, $out) = explain_scope('alice.crt', [$url, 'CertMapDirectory On', 'CertMapOneToOne o2o-alice file:pki/out/alice.crt']);
    like($out, qr/outcome: mapped to 'o2o-alice' by one-to-one/, '[explain] a local mapping first: no directory') or diag($out);
    unlike($out, qr/directory:/, '[explain] ... the directory is not asked') or diag($out);
    ($rc, $out) = explain_scope('carol.crt', [$url, 'CertMapDirectory Off']);
    unlike($out, qr/directory:/, '[explain] CertMapDirectory Off: the directory is not asked') or diag($out);
    like($out, qr/outcome: 403\.16 [^\n]*\(no mapping matched\)/, '[explain] CertMapDirectory Off: 403.16') or diag($out);
}

sub slurp { open my $f, '<', shift or return ''; local $/; my $d = <$f>; $d // '' }
