# HTTP/2: the streams of one connection run in parallel on worker threads
# and share the connection's TLS state.  Contract rows "mapped and logged
# on", 403.16 and 403.17 over h2, with several streams in flight at once
# (curl --parallel): each stream maps for itself, none sees another's
# answer, and a certificate that failed verification refuses every stream.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use FindBin;
use lib "$FindBin::Bin/lib";
use CertMapTest;

plan tests => 6, need_module 'ssl', need_module 'http2';

my $port = CertMapTest::port('certmap_ssl');

# Several paths over ONE h2 connection, streams in parallel; returns
# "STATUS SUBSTATUS USER" per path, in the order given ($VERSION keeps the
# HTTP version of the last answer).
our $VERSION_SEEN = '';
sub h2 {
    my ($cert, @paths) = @_;
    my @cmd = ('curl', '-sS', '--no-progress-meter', '--max-time', '30',
               '--http2', '--parallel',
               '--parallel-max', '8',
               '--resolve', "localhost:$port:127.0.0.1",
               '--cacert', pki('root.crt'),
               '--cert', pki("$cert.chain.pem"), '--key', pki("$cert.key"),
               '-w', '%{url_effective} %{http_version} %{http_code} %header{x-cm-sub} %header{x-cm-remote-user}\n');
    push @cmd, '-o', '/dev/null', "https://localhost:$port$_" for @paths;
    open(my $out, '-|', @cmd) or die "curl: $!";
    my %by_url;
    while (my $line = <$out>) {
        chomp $line;
        my ($url, @rest) = split / /, $line, 5;
        @rest = map { my $v = $_ // ''; $v =~ s/^\s+|\s+$//g; $v eq '(null)' ? '' : $v } @rest[0 .. 3];
        $VERSION_SEEN = shift @rest;
        $by_url{$url} = join(' ', grep { length } @rest);
    }
    close $out;
    return map { $by_url{"https://localhost:$port$_"} // 'no answer' } @paths;
}

my @paths = ('/x/o2o-pem', '/x/m2o-ou-eng', '/x/m2o-exact', '/x/m2o-ou-sales',
             '/x/o2o-disabled', '/x/o2o-pem', '/x/m2o-ou-eng', '/x/m2o-ou-sales');
my @want  = ('200 0 alice', '200 0 engineer', '403 16', '200 0 seller',
             '403 16', '200 0 alice', '200 0 engineer', '200 0 seller');
is_deeply([h2('alice', @paths)], \@want, '[mapped / 403.16, h2] parallel streams, each scope its own answer');
# mod_http2 stays inactive under prefork (AH10034): the same answers then
# come over HTTP/1.1 connections.
ok($VERSION_SEEN eq '2' || error_log_since(0) =~ /AH10034/,
   "[h2] HTTP/2 negotiated (or prefork, where mod_http2 is inactive): got $VERSION_SEEN");
is_deeply([h2('alice', (@paths) x 3)], [(@want) x 3], '[mapped / 403.16, h2] 24 streams on one connection');
is_deeply([h2('carol', '/x/o2o-pem', '/x/m2o-ou-eng')], ['403 16', '403 16'],
          '[403.16, h2] trusted but unmapped');
is_deeply([h2('expired', '/x/o2o-pem', '/x/certmap-default', '/x/m2o-ou-eng')],
          ['403 17', '403 17', '403 17'],
          '[403.17, h2] an expired certificate refuses every stream (Report)');
is_deeply([h2('untrusted', '/x/o2o-pem', '/x/certmap-default')], ['403 16', '403 16'],
          '[403.16, h2] an untrusted certificate refuses every stream');
