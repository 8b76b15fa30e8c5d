# Contract: "A farm": "With mod_status, server-status shows a mod_certmap
# section: requests per outcome, cache and directory hits, misses and
# errors, PAM logons".  Known requests, then server-status?auto read again:
# every counter moved by exactly what those requests did.  Locations:
# t/conf/extra.conf.in (certmap_ssl, certmap_plain, certmap_null) and
# t/conf/recovery.conf.in (certmap_rec: directory, PAM, /certmap-status).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;

plan tests => 29, need_module 'ssl', need_module 'status', need_module 'ldap';

sub counters {
    my ($s, $b) = request('certmap_rec', '/certmap-status?auto', undef);
    die "server-status?auto answered $s" unless $s == 200;
    my %c = $b =~ /^CertMap(\w+):\s*([\d.]+)$/mg;
    return \%c;
}

sub st {
    my ($s, $b, $h) = @_;
    return "$s/" . ($h->{'x-cm-sub'} // '');
}

my $before = counters();
ok(exists $before->{Granted}, 'server-status?auto has the mod_certmap counters')
    or diag(join ' ', sort keys %$before);

my @done = (
    [st(request('certmap_ssl', '/x/o2o-pem', 'alice')), '200/0'],
    [st(request('certmap_ssl', '/x/o2o-pem', 'bob')), '403/16'],
    [st(request('certmap_ssl', '/x/m2o-deny', 'mallory')), '403/12'],
    [st(request('certmap_plain', '/x/ssl-required', undef, plain => 1)), '403/4'],
    [st(request('certmap_null', '/x/ssl128', 'alice', ciphers => 'NULL-SHA256:@SECLEVEL=0')), '403/5'],
    [st(request('certmap_ssl', '/x/require-cert', undef)), '403/7'],
    [st(request('certmap_ssl', '/x/o2o-pem', 'revoked')), '403/13'],
    [st(request('certmap_ssl', '/x/o2o-pem', 'expired')), '403/17'],
    [st(request('certmap_ssl', '/pam/wrong', 'alice')), '401/1'],
    [st(request('certmap_ssl', '/pam/broken', 'alice')), '500/0'],
    [st(request('certmap_rec', '/pam/status', 'alice')), '200/0'],
    [st(request('certmap_rec', '/pam/status', 'alice')), '200/0'],
    [st(request('certmap_rec', '/x/rec/default', 'bob')), '200/0'],
    [st(request('certmap_rec', '/x/rec/default', 'alice')), '403/16'],
    [st(request('certmap_rec', '/x/rec/down', 'bob')), '500/0'],
    [st(request('certmap_rec', '/x/rec/cached', 'bob')), '200/0'],
    [st(request('certmap_rec', '/x/rec/cached', 'bob')), '200/0'],
);
is_deeply([map { $_->[0] } @done], [map { $_->[1] } @done],
          'the known requests got their known answers');

my $after = counters();
my %want = (
    Granted => 6, '403_4' => 1, '403_5' => 1, '403_7' => 1, '403_12' => 1,
    '403_13' => 1, '403_16' => 2, '403_17' => 1, '401_1' => 1, '500' => 2,
    CacheHits => 2, CacheMisses => 4, CacheStores => 2, CacheErrors => 0,
    DirectoryLookups => 4, DirectoryHits => 2, DirectoryMisses => 1,
    DirectoryErrors => 1, DirectoryTimeouts => 0, DirectoryRetries => 0,
    PAMLogons => 3, PAMRefused => 1, PAMErrors => 1,
);
for my $k (sort keys %want) {
    is(($after->{$k} // -1) - ($before->{$k} // 0), $want{$k}, "[counter] $k moved by $want{$k}");
}
cmp_ok($after->{PAMMeanMilliseconds} // 0, '>', 0, '[counter] PAM mean time is shown');
cmp_ok($after->{PAMMicroseconds} - $before->{PAMMicroseconds}, '>', 0, '[counter] PAM time adds up');

{
    my ($s, $b) = request('certmap_rec', '/certmap-status', undef);
    like($b, qr{<h2>mod_certmap</h2>.*403\.16[^<]*</td><td>\d+</td>.*Directory.*PAM.*mean time}s,
         'the HTML page has the mod_certmap section');
    my $c = counters();
    is($c->{Granted}, $after->{Granted}, 'reading the status counts nothing');
}
