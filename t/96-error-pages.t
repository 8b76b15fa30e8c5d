# Error bodies (contract: Outcomes): an HTML page for browsers, JSON for a
# client that prefers it, the code and text on the first line for plain
# clients; an ErrorDocument still replaces them; WWW-Authenticate on 401.1
# only where another AuthType is configured.  The HTML page is loaded in
# a real headless browser (Debian's chromium) when it is installed: its
# DOM is checked and a screenshot saved as t/logs/error-page-403.7.png.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;

my $chromium = (grep { -x } '/usr/bin/chromium')[0];

plan tests => 22, need_module 'ssl';

my %browser = (Accept => 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8');

sub get {
    my ($path, $cert, %h) = @_;
    return request('certmap_iis', $path, $cert,
                   headers => [map { "$_: $h{$_}" } sort keys %h]);
}

# ---- plain text (curl's default Accept: */*) ---------------------------
my ($s, $b, $h) = get('/pages/require', undef);
ok t_cmp($s, 403, '403.7 without certificate');
ok t_cmp((split /\n/, $b)[0], '403.7 Client certificate required',
         'plain client: first line is the code and text');
ok t_cmp($h->{'content-type'}, qr{^text/plain}, 'plain client: text/plain');
ok t_cmp($b, qr/valid today and issued by a certificate authority/,
         'plain client: the likely cause follows');

# ---- JSON ---------------------------------------------------------------
($s, $b, $h) = get('/pages/require', undef, Accept => 'application/json');
ok t_cmp($b, qr/^\{"status":403,"substatus":7,"text":"Client certificate required"\}\n?$/,
         'Accept: application/json: the JSON body');
ok t_cmp($h->{'content-type'}, qr{^application/json}, 'JSON: application/json');
ok t_cmp($h->{'vary'} // '', qr/Accept/i, 'Vary: Accept');
($s, $b, $h) = get('/s1/App/', 'carol', Accept => 'application/json, text/plain, */*');
ok t_cmp($b, qr/^\{"status":403,"substatus":16,"text":"Client certificate is untrusted or invalid"\}/,
         'JSON preferred over text (403.16)');
($s, $b, $h) = get('/s1/App/', 'carol', Accept => 'text/html;q=0.9, application/json;q=0.5');
ok t_cmp($h->{'content-type'}, qr{^text/html}, 'HTML preferred over JSON by q');

# ---- HTML -------------------------------------------------------------------
($s, $b, $h) = get('/s1/App/', 'carol', %browser);
ok t_cmp($h->{'content-type'}, qr{^text/html; charset=utf-8}i, 'browser: text/html');
ok t_cmp($b, qr{<title>403\.16 - Client certificate is untrusted or invalid</title>},
         'browser: the title');
ok t_cmp($b, qr/close every window of the browser/, '403.16: how to choose another');
ok t_cmp(($b =~ /carol|Fabrikam|CertMap Test|Research|pki|\.crt/) ? 'leaks' : 'clean',
         'clean', 'nothing from the certificate or the configuration');
($s, $b, $h) = get('/s1/App/', 'mallory', %browser);
ok t_cmp($b, qr{<title>403\.12 - Mapper denied access</title>}, '403.12 page');

# ---- ErrorDocument wins -----------------------------------------------------
($s, $b, $h) = get('/pages/documented', undef, %browser);
ok t_cmp($b, qr/^custom page for 403/, 'ErrorDocument replaces the page');

# ---- 401.1 and WWW-Authenticate ---------------------------------------------
($s, $b, $h) = get('/pages/basic', 'alice');
ok t_cmp("$s " . ($h->{'x-cm-sub'} // ''), '401 1', '401.1 (wrong password)');
ok t_cmp($h->{'www-authenticate'} // '', qr/^Basic realm="iis-pages"/,
         'AuthType Basic configured: its challenge');
($s, $b, $h) = get('/pages/nobasic', 'alice');
ok t_cmp("$s " . ($h->{'x-cm-sub'} // ''), '401 1', '401.1 without another AuthType');
ok t_cmp($h->{'www-authenticate'} // 'none', 'none', 'no challenge without another AuthType');

# ---- a real browser ---------------------------------------------------------
SKIP: {
    skip 'chromium not installed (scripts/install-deps.sh)', 3 unless $chromium;
    my $port = Apache::Test::config()->{vhosts}{certmap_iis}{port};
    my $url = "https://localhost:$port/pages/require";
    my $logs = Apache::Test::vars('t_logs');
    my $profile = "$logs/chromium-profile";
    my @cmd = ($chromium, '--headless=new', '--no-sandbox', '--disable-gpu',
               '--ignore-certificate-errors', "--user-data-dir=$profile",
               '--no-first-run', '--disable-extensions');
    my $dom = `@cmd --dump-dom '$url' 2>/dev/null`;
    ok t_cmp($dom, qr{<title>403\.7 - Client certificate required</title>},
             'chromium: the title of the 403.7 page');
    ok t_cmp($dom, qr{id="cause">This page needs a client certificate},
             'chromium: the cause is rendered');
    my $png = "$logs/error-page-403.7.png";
    unlink $png;
    system("@cmd --window-size=900,600 --screenshot='$png' '$url' >/dev/null 2>&1");
    ok t_cmp((-s $png // 0) > 5000 ? 'screenshot' : 'none', 'screenshot',
             "chromium: a screenshot of the page ($png)");
}
