# Contract, safety invariant: "A bad directive (...) stops apachectl
# configtest with the file, line and reason"; CertMapInvalidCerts is
# server-scope; -D DUMP_CERTMAP never shows a password.  Each case is a small
# standalone configuration checked with `httpd -t` (the suite's httpd
# wrapper, so the sanitizers watch the parser too).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;
use File::Temp qw(tempdir);

my $dir = tempdir('certmap-conf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $pki = pki();
my $noread = "$dir/unreadable.pem";
{ open my $f, '>', $noread or die; print $f "x\n"; close $f; chmod 0000, $noread; }
my $can_read_anyway = -r $noread;   # root would read it anyway
my $badmap = "$dir/bad-o2o.txt";
{ open my $f, '>', $badmap or die; print $f "# mappings\n\nalice MIIB!!notbase64\n"; close $f; }

# name => [directive lines inside <Location /x>, line offset of the bad one
#          (1-based within those lines), reason regex, scope]
my @bad = (
    ['unknown flag',               ['CertMapSSLFlags Ssl SslBogus'], 1, qr/SslBogus|flag/i],
    ['unknown flag, IIS string',   ['CertMapSSLFlags "Ssl, Bogus"'], 1, qr/Bogus|flag/i],
    ['malformed base64',           ['CertMapOneToOne alice "MIIB!!notbase64***"'], 1, qr/base64|certificate|decode|DER/i],
    ['base64 of garbage',          ['CertMapOneToOne alice "aGVsbG8gd29ybGQ="'], 1, qr/certificate|DER|parse|decode/i],
    ['missing cert file',          ["CertMapOneToOne alice file:$dir/nonexistent.pem"], 1, qr/nonexistent|No such file|open|read/i],
    ($can_read_anyway ? () :
    ['unreadable cert file',       ["CertMapOneToOne alice file:$noread"], 1, qr/unreadable|Permission|open|read/i]),
    ['unreadable password file',   ["CertMapOneToOne alice file:$pki/alice.crt file:$dir/nonexistent.pw"], 1, qr/nonexistent|No such file|open|read/i],
    ['bad OID',                    ['<CertMapManyToOne m>', 'CertMapUser u', 'CertMapRule Subject 1.2.x.4 foo', '</CertMapManyToOne>'], 3, qr/1\.2\.x\.4|OID|sub-?field/i],
    ['unknown sub-field',          ['<CertMapManyToOne m>', 'CertMapUser u', 'CertMapRule Subject FOO bar', '</CertMapManyToOne>'], 3, qr/FOO|sub-?field/i],
    ['unknown field',              ['<CertMapManyToOne m>', 'CertMapUser u', 'CertMapRule Subjekt CN bar', '</CertMapManyToOne>'], 3, qr/Subjekt|field/i],
    ['unknown case mode',          ['<CertMapManyToOne m>', 'CertMapUser u', 'CertMapRule Subject CN bar Sometimes', '</CertMapManyToOne>'], 3, qr/Sometimes|Case/i],
    ['bad permission',             ['<CertMapManyToOne m>', 'CertMapUser u', 'CertMapPermission Maybe', '</CertMapManyToOne>'], 3, qr/Maybe|Allow|Deny/i],
    ['rule outside a block',       ['CertMapRule Subject CN x'], 1, qr/CertMapRule|CertMapManyToOne/i],
    ['CertMapUser outside a block',['CertMapUser u'], 1, qr/CertMapUser|CertMapManyToOne/i],
    ['block without CertMapUser',  ['<CertMapManyToOne nouser>', 'CertMapRule Subject CN x', '</CertMapManyToOne>'], undef, qr/CertMapUser/i],
    ['two blocks one name',        ['<CertMapManyToOne twice>', 'CertMapUser u', '</CertMapManyToOne>', '<CertMapManyToOne twice>', 'CertMapUser v', '</CertMapManyToOne>'], undef, qr/twice|duplicate|already|unique/i],
    ['CertMapInvalidCerts in Location', ['CertMapInvalidCerts Reject'], 1, qr/CertMapInvalidCerts|not allowed|context/i],
    ['bad CertMapInvalidCerts value', undef, undef, qr/Sometimes|Report|Reject/i, 'CertMapInvalidCerts Sometimes'],
    ['bad cache timeout',          ['CertMapLogonCacheTimeout soon'], 1, qr/soon|number|integer|seconds|CertMapLogonCacheTimeout/i],
    ['negative cache timeout',     ['CertMapLogonCacheTimeout -5'], 1, qr/-5|negative|number|CertMapLogonCacheTimeout/i],
    ['bad On/Off',                 ['CertMap Maybe'], 1, qr/CertMap|On|Off/],
    ['missing mapping file',       ["CertMapOneToOneFile $dir/nonexistent.txt"], 1, qr/CertMapOneToOneFile: cannot open .*nonexistent\.txt/],
    ['bad line in a mapping file', ["CertMapOneToOneFile $badmap"], 1, qr/CertMapOneToOneFile: \Q$badmap\E:3: .*base64/],
    ['logon timeout 0',            ['CertMapLogonTimeout 0'], 1, qr/CertMapLogonTimeout: '0' is not a number from 1 to 3600/],
    ['bad logon timeout',          ['CertMapLogonTimeout soon'], 1, qr/CertMapLogonTimeout: 'soon' is not a number/],
    ['CertMapLogonSlots in Location', ['CertMapLogonSlots 4'], 1, qr/CertMapLogonSlots|not allowed|context/i],
    ['bad CertMapLogonSlots value', undef, undef, qr/CertMapLogonSlots: '0' is not a number from 1 to 256/, 'CertMapLogonSlots 0'],
);

plan tests => 4 * @bad + 9, need_module 'ssl';

my $httpd = httpd_bin();
my $inherit = gen_dir() . '/inherit.conf';
my $n = 0;

sub write_conf {
    my ($lines, $server_line) = @_;
    my $file = sprintf '%s/case%02d.conf', $dir, ++$n;
    my @head = (
        "ServerRoot \"" . t_dir() . "\"",
        'ServerName localhost',
        "Include \"$inherit\"",
        'LoadModule certmap_module ${CERTMAP_MODULE}',
        "PidFile \"$dir/httpd.pid\"",
        "ErrorLog \"$dir/error_log\"",
        'Listen 127.0.0.1:9',
        ($server_line ? ($server_line) : ()),
        '<Location /x>',
        'CertMap On',
    );
    my @tail = ('</Location>');
    open my $f, '>', $file or die "$file: $!";
    print $f "$_\n" for @head, @{ $lines || [] }, @tail;
    close $f;
    return ($file, scalar(@head));
}

sub configtest {
    my ($file, @defs) = @_;
    my $out = `"$httpd" -t @defs -f "$file" 2>&1`;
    return ($? >> 8, $out);
}

for my $case (@bad) {
    my ($name, $lines, $off, $re, $server_line) = @$case;
    my ($file, $head) = write_conf($lines, $server_line);
    my ($rc, $out) = configtest($file);
    isnt($rc, 0, "[configtest] $name: httpd -t fails");
    like($out, qr/\Q$file\E/, "[configtest] $name: names the file") or diag($out);
    if (defined $off) {
        my $line = $head + $off;
        like($out, qr/line $line\b/, "[configtest] $name: names line $line") or diag($out);
    } elsif ($server_line) {
        my $line = $head - 2;   # the server line comes before <Location> and CertMap
        like($out, qr/line $line\b/, "[configtest] $name: names line $line") or diag($out);
    } else {
        like($out, qr/line \d+/, "[configtest] $name: names a line") or diag($out);
    }
    like($out, $re, "[configtest] $name: gives the reason") or diag($out);
}

# a many-to-one mapping without rules: accepted, with a warning at start-up
# (the contract: "warn about it at startup")
{
    my ($file) = write_conf(['<CertMapManyToOne everyone-norules>', 'CertMapUser anyone', '</CertMapManyToOne>']);
    my ($rc, $out) = configtest($file);
    is($rc, 0, '[m2o no rules] accepted by httpd -t') or diag($out);
    like($out . slurp("$dir/error_log"), qr/warn[^\n]*everyone-norules|everyone-norules[^\n]*(no CertMapRule|no rules|every)/i,
         '[m2o no rules] start-up warning names the mapping') or diag($out);
}

sub slurp { open my $f, '<', shift or return ''; local $/; my $d = <$f>; $d // '' }

# a good configuration passes, and DUMP_CERTMAP hides passwords
{
    my ($file) = write_conf([
        "CertMapOneToOne alice file:pki/out/alice.crt dumpsecret-Pw1",
        '<CertMapManyToOne m>', 'CertMapUser u file:' . gen_dir() . '/filepw.txt',
        'CertMapRule Subject CN alice CaseInsensitive', '</CertMapManyToOne>',
        '<CertMapManyToOne m2>', 'CertMapUser v other-Dump2', 'CertMapRule Issuer 2.5.4.3 x*', '</CertMapManyToOne>',
        'CertMapLogonTimeout 7',
    ], 'CertMapLogonSlots 3');
    my ($rc, $out) = configtest($file);
    is($rc, 0, '[configtest] a valid configuration passes') or diag($out);
    ($rc, $out) = configtest($file, '-D', 'DUMP_CERTMAP');
    is($rc, 0, '[DUMP_CERTMAP] runs');
    unlike($out, qr/dumpsecret-Pw1|other-Dump2|filepw-Qx7k/, '[DUMP_CERTMAP] no password shown');
    like($out, qr/\*\*\*/, '[DUMP_CERTMAP] passwords as ***');
    like($out, qr/alice/, '[DUMP_CERTMAP] shows the mappings');
    like($out, qr/<Location \/x>\n[^\n]*\n[^\n]*logon timeout 7s/, '[DUMP_CERTMAP] shows CertMapLogonTimeout') or diag($out);
    like($out, qr/Main server[^\n]*CertMapLogonSlots 3/, '[DUMP_CERTMAP] shows CertMapLogonSlots') or diag($out);
}
