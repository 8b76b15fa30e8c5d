# Round trip: IIS configurations (t/iis/) -> `certmap import-iis` -> a real
# httpd (t/conf/iis_import.conf.in) -> every path answers what IIS would,
# for every certificate of the test PKI and for none, and never more
# permissively than IIS.
#
# The table is IIS's answer, written from IIS's rules (not from the
# module's): "ok" = 200; 4, 7, 12, 13, 16, 17 = 403.x; A = 401.2 (IIS
# refuses a client without credentials where anonymous authentication is
# off; the module answers 403.7 there, its answer for "no certificate and
# no other authentication").  The column "bad" is the answer to each
# certificate that fails verification (untrusted, selfsigned, forged:
# 403.16; expired, notyet, expired_intermediate_leaf: 403.17; revoked:
# 403.13) where IIS asks for a certificate: "iis"; or the one answer for
# all of them.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;

my @valid = qw(alice bob carol mallory unicode commacn alice_renewed
               via_intermediate hostile nulcn allnames);
my %bad = (untrusted => 16, selfsigned => 16, forged => 16, expired => 17,
           notyet => 17, expired_intermediate_leaf => 17, revoked => 13);

my $IIS = <<'TABLE';
# path                 none  alice bob  carol mall unic comma renew via  host nul  names bad
# s1: applicationHost.config, site "Contoso Site", child before parent
/s1/                   ok    ok    ok   ok    ok   ok   ok    ok    ok   ok   ok   ok    ok
/s1/Other/             ok    ok    ok   ok    ok   ok   ok    ok    ok   ok   ok   ok    ok
/s1/Apple              ok    ok    ok   ok    ok   ok   ok    ok    ok   ok   ok   ok    ok
/s1/App/               7     ok    ok   16    12   16   16    ok    16   16   ok   16    iis
/s1/app/x              7     ok    ok   16    12   16   16    ok    16   16   ok   16    iis
/s1/APP                7     ok    ok   16    12   16   16    ok    16   16   ok   16    iis
/s1/App/Sub/           A     ok    ok   ok    12   16   16    ok    16   16   ok   16    iis
/s1/app/SUB/x          A     ok    ok   ok    12   16   16    ok    16   16   ok   16    iis
/s1/Public/            ok    ok    ok   ok    ok   ok   ok    ok    ok   ok   ok   ok    ok
# s2: web.config, anonymous at the root, nested locations in reverse order
/s2/                   ok    ok    ok   ok    16   16   ok    ok    16   16   ok   16    iis
/s2/secure/            A     ok    ok   ok    16   16   ok    ok    16   16   ok   16    iis
/s2/SECURE/open/       ok    ok    ok   ok    16   16   ok    ok    16   16   ok   16    iis
/s2/Secure/NoO2O/      A     ok    ok   ok    16   16   ok    ok    16   16   ok   16    iis
/s2/Secure/NoM2O/      A     ok    ok   16    16   16   16    ok    16   16   ok   16    iis
/s2/Secure/Rules/      A     ok    16   16    ok   16   16    16    16   16   16   16    iis
/s2/AD/                A     16    16   16    16   16   16    16    16   16   16   16    iis
/s2/Win/               A     ok    ok   ok    16   16   ok    ok    16   16   ok   16    iis
/s2/Names/             A     ok    ok   ok    16   16   ok    ok    16   16   ok   16    iis
# s3: an applicationHost fragment under another name; no anonymous setting
/s3/                   ok    ok    16   16    16   16   16    ok    16   16   16   16    iis
/s3/data/              ok    ok    16   16    16   16   16    ok    16   16   16   16    iis
TABLE

# One path per sub-field name: the mapping matches allnames by that
# sub-field alone; alice still has her one-to-one mapping (only the
# many-to-one mappings were cleared).
my @names = qw(CN O OU L S ST C E Email G GN SN T I STREET DC SERIALNUMBER
               UID 2-5-4-42);
for my $sub (@names) {
    $IIS .= sprintf "/s2/Names/%-12s A ok 16 16 16 16 16 16 16 16 16 ok iis\n",
                    $sub;
}

# Where the module answers differently from IIS, it must be stricter.
# Besides these: under CertMapInvalidCerts Report (the default) a
# certificate that fails verification is refused everywhere on the virtual
# host, with its sub-status, even where IIS would not ask for one.
# path => { client => [module's answer, why] }
my %differs = (
    '/s3/' => { none => ['7', 'anonymous not set in the fragment: assumed off'] },
);

my @rows;
for my $line (split /\n/, $IIS) {
    next if $line =~ /^#/ || $line !~ /\S/;
    my ($path, @answers) = split ' ', $line;
    die "bad row $line" unless @answers == @valid + 2;
    push @rows, [$path, @answers];
}

plan tests => 3 + @rows * (1 + @valid + keys %bad) * 2,
    need_module 'ssl';

sub answer {
    my ($path, $cert) = @_;
    my ($s, $b, $h) = request('certmap_iis', $path, $cert);
    return 'ok' if $s == 200;
    my $sub = $h->{'x-cm-sub'} // '';
    return $s == 403 && $sub =~ /^\d+$/ ? $sub : "$s.$sub";
}

# what the module should answer, given IIS's answer
sub expected {
    my ($path, $client, $iis) = @_;
    return $differs{$path}{$client}[0] if $differs{$path}{$client};
    return '7' if $iis eq 'A';
    return $bad{$client} if $bad{$client} && $iis eq 'ok';
    return $iis;
}

for my $row (@rows) {
    my ($path, @a) = @$row;
    my $bad = pop @a;
    my %iis;
    @iis{'none', @valid} = @a;
    $iis{$_} = $bad eq 'iis' ? $bad{$_} : $bad for keys %bad;
    for my $client ('none', @valid, sort keys %bad) {
        my $got = answer($path, $client eq 'none' ? undef : $client);
        my $want = expected($path, $client, $iis{$client});
        ok t_cmp($got, $want, "$path $client: IIS $iis{$client}");
        ok t_cmp(($got eq 'ok' && $iis{$client} ne 'ok') ? 'wider' : 'not wider',
                 'not wider', "$path $client: never more permissive than IIS");
    }
}

# <clear/> in oneToOneMappings drops the one-to-one mapping only: alice is
# mapped by the many-to-one "Sales" there, by her one-to-one elsewhere.
my ($s, $b, $h) = request('certmap_iis', '/s2/Secure/NoO2O/', 'alice');
ok t_cmp($h->{'x-cm-map'}, 'Sales', 'one-to-one cleared: alice by Sales');
($s, $b, $h) = request('certmap_iis', '/s2/secure/', 'alice');
ok t_cmp($h->{'x-cm-map'}, 'one-to-one', 'not cleared: alice by one-to-one');
# Another site's location is not imported as a URL path.
my $conf = slurp_file(gen_dir() . '/iis-s1.conf');
ok t_cmp(($conf =~ /Default Web Site|\/Other/) ? 'imported' : 'not imported',
         'not imported', 'the other site is not imported');

sub slurp_file {
    open my $fh, '<', shift or die $!;
    local $/;
    return <$fh>;
}
