# A quota in Redis rolls over at the window edge of the nodes' clock:
# two nginx on one Redis (a redis-server of this suite's own), both under
# libfaketime with their wall clock frozen at the time in one file that
# the test rewrites (as t/limit-window.t does; Redis keeps its own clock).
# Asia/Tokyo, a monthly quota of 2 shared by both: January 2036 ends at
# 2036-01-31T15:00:00Z (midnight JST); refused two seconds before it with
# Retry-After 2 on either node, a fresh count at 15:00:00Z for February's
# 29 days (a leap year).  The window is the node's (its start names the
# key, its reset is counted on the node's clock); the year lies ahead of
# Redis's real clock, so the keys' expiry at the window's end is too.
#
# Plain Test::More: nginx started with LD_PRELOAD and a clock file.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use IO::Socket::INET;
use POSIX qw(mktime);
use LLMGW::Test qw(:all);
use LLMGW::Nginx;
use LLMGW::Redis qw(redis_start redis_stop redis_cmd);

my $FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set (t/run-tests.sh)'
    unless $ENV{TEST_NGINX_LOAD_MODULES};
plan skip_all => "no $FAKETIME (make deps installs Debian's faketime)"
    unless -f $FAKETIME;
plan skip_all => 'redis-server is not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $redis = redis_start();
my $rport = $redis->{port};

my $keys = llmgw_keys_dir();

# "2026-01-31 14:59:58" (UTC) to epoch seconds
sub epoch {
    my ($y, $mo, $d, $h, $mi, $s) = $_[0] =~ /(\d+)/g;
    local $ENV{TZ} = 'UTC';
    POSIX::tzset();
    my $t = mktime($s, $mi, $h, $d, $mo - 1, $y - 1900);
    POSIX::tzset();
    return $t;
}

# an nginx in time zone $tz, its clock in $clock/clock
sub start {
    my ($tz, $clock, $locations) = @_;
    my $dir = nginx_prefix();
    my $port = free_port();

    nginx_conf($dir, <<"_EOC_", workers => 2,
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_redis 127.0.0.1:$rport;
    llmgw_limit_zone limits:1m redis timeout=1s down=closed;
    llmgw_limit_timezone $tz;

    server {
        listen 127.0.0.1:$port;
        llmgw_auth jwt;
        llmgw_jwt_keys $keys/jwks.json;
$locations
    }
_EOC_
        main => join('', map { "env $_;\n" }
                         qw(FAKETIME_TIMESTAMP_FILE FAKETIME_NO_CACHE
                            FAKETIME_DONT_FAKE_MONOTONIC)));

    open my $ok, '>', "$dir/html/ok.txt" or die $!;
    print $ok "ok\n";
    close $ok;

    local $ENV{LD_PRELOAD} = join ' ', grep { defined && length }
                                      $ENV{LD_PRELOAD}, $FAKETIME;
    local $ENV{FAKETIME_TIMESTAMP_FILE} = "$clock/clock";
    local $ENV{FAKETIME_NO_CACHE} = 1;
    local $ENV{FAKETIME_DONT_FAKE_MONOTONIC} = 1;
    local $ENV{TZ} = 'UTC';

    # an AddressSanitizer build (make asan): libfaketime is preloaded
    # ahead of the ASan runtime the binary links, which ASan would refuse
    local $ENV{ASAN_OPTIONS} = join ':', grep { defined && length }
                                   $ENV{ASAN_OPTIONS},
                                   'verify_asan_link_order=0';

    my $pid = nginx_start($dir, $port)
        or BAIL_OUT('nginx did not start: ' . (nginx_check($dir))[1]);

    return ($dir, $port, $pid);
}

sub set_clock {
    my ($dir, $when) = @_;

    open my $fh, '>', "$dir/clock.new" or die $!;
    print $fh "$when\n";
    close $fh;
    rename "$dir/clock.new", "$dir/clock" or die $!;
}

# status, the headers asked for (undef: absent), the body
sub get {
    my ($port, $path, $token) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 10) or die "connect: $!";
    print $s "GET $path HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
             . "Authorization: Bearer $token\r\n\r\n";
    local $/;
    my $res = <$s> // '';
    close $s;

    my ($head, $body) = split /\r\n\r\n/, $res, 2;
    my ($status) = $head =~ m{\AHTTP/1\.1 (\d{3})};
    my %h;

    for (split /\r\n/, $head) {
        $h{lc $1} = $2 if /^([^:]+): (.*)$/;
    }

    return { status => $status, h => \%h, body => $body };
}

sub token_at {
    my ($sub, $when) = @_;
    return llmgw_token(sub => $sub, scope => 'text', now => epoch($when),
                       exp => 3 * 86400);
}

my $loc = <<'_EOC_';
        location /month {
            llmgw_limit monthly zone=limits key=$llmgw_sub quota=2/month;
            alias html/ok.txt;
        }
_EOC_

my $clock = nginx_prefix();
my $t0 = '2036-01-31 14:59:58';
set_clock($clock, $t0);

my @nodes = map { [ start('Asia/Tokyo', $clock, $loc) ] } 1, 2;
my ($p1, $p2) = map { $_->[1] } @nodes;
my $sub = "tokyo-$$-" . time();
my $tok = token_at($sub, $t0);
my $r;

$r = get($p1, '/month', $tok);
is($r->{status}, 200, 'Tokyo, Jan 31 23:59:58 JST, node 1: first of 2');
is($r->{h}{ratelimit}, '"monthly";r=1;t=2', 'RateLimit: 2 s to February');

$r = get($p2, '/month', $tok);
is($r->{status}, 200, 'node 2: second of 2');
is($r->{h}{ratelimit}, '"monthly";r=0;t=2', 'node 2: RateLimit r=0');

for my $p ($p1, $p2) {
    $r = get($p, '/month', $tok);
    is($r->{status}, 429, "port $p: the third refused");
    is($r->{h}{'retry-after'}, 2, 'Retry-After: the 2 s to midnight JST');
    is($r->{h}{'retry-after-ms'}, 2000, 'retry-after-ms: 2000');
}

my $jan = epoch('2036-01-31 15:00:00') * 1000
          - 31 * 86400 * 1000;
is(redis_cmd($rport, 'GET', "llmgw:{$sub}:monthly:q:$jan"), 2,
   'Redis: January (JST) counted 2 under its start');

set_clock($clock, '2036-01-31 14:59:59');
is(get($p2, '/month', $tok)->{status}, 429,
   'Tokyo, 23:59:59 JST: still January, refused');

set_clock($clock, '2036-01-31 15:00:00');
$r = get($p2, '/month', $tok);
is($r->{status}, 200, 'Tokyo, Feb 1 00:00:00 JST: a new month');
is($r->{h}{ratelimit}, '"monthly";r=1;t=2505600',
   'RateLimit: the 29 days of February 2036 left');
is(get($p1, '/month', $tok)->{status}, 200, 'node 1: February\'s second');
is(get($p1, '/month', $tok)->{status}, 429, 'node 1: February\'s third');

my $feb = epoch('2036-01-31 15:00:00') * 1000;
is(redis_cmd($rport, 'GET', "llmgw:{$sub}:monthly:q:$feb"), 2,
   'Redis: February (JST) counted 2 under its own start');
my $at = redis_cmd($rport, 'PEXPIRETIME', "llmgw:{$sub}:monthly:q:$feb");
is($at, $feb + 29 * 86400 * 1000, 'Redis: it expires at February\'s end');

nginx_stop($_->[2]) for @nodes;
redis_stop($redis);

done_testing();
