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
use LLMGW::Test qw(:all);
use LLMGW::Nginx;
use LLMGW::Client;
use LLMGW::Faketime;
use LLMGW::Redis qw(redis_start redis_stop redis_cmd);

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set (t/run-tests.sh)'
    unless $ENV{TEST_NGINX_LOAD_MODULES};
plan skip_all => "no $FAKETIME (make deps installs Debian's faketime)"
    unless -f $FAKETIME;
plan skip_all => 'redis-server is not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $redis = redis_start();
my $rport = $redis->{port};

# an nginx in time zone $tz, its clock in $clock/clock
sub start {
    my ($tz, $clock, $locations) = @_;

    return faketime_nginx($tz, $clock, <<"_EOC_", $locations);
    llmgw_redis 127.0.0.1:$rport;
    llmgw_limit_zone limits:1m redis timeout=1s down=closed;
_EOC_
}

my $loc = <<'_EOC_';
        location /month {
            llmgw_limit monthly zone=limits key=$llmgw_sub quota=2/month;
            alias html/ok.txt;
        }
_EOC_

my $clock = nginx_prefix();
my $t0 = '2036-01-31 14:59:58';
faketime_set($clock, $t0);

my @nodes = map { [ start('Asia/Tokyo', $clock, $loc) ] } 1, 2;
my ($p1, $p2) = map { $_->[1] } @nodes;
my $sub = "tokyo-$$-" . time();
my $tok = faketime_token($sub, $t0);
my $r;

$r = client_get($p1, '/month', $tok);
is($r->{status}, 200, 'Tokyo, Jan 31 23:59:58 JST, node 1: first of 2');
is($r->{h}{ratelimit}, '"monthly";r=1;t=2', 'RateLimit: 2 s to February');

$r = client_get($p2, '/month', $tok);
is($r->{status}, 200, 'node 2: second of 2');
is($r->{h}{ratelimit}, '"monthly";r=0;t=2', 'node 2: RateLimit r=0');

for my $p ($p1, $p2) {
    $r = client_get($p, '/month', $tok);
    is($r->{status}, 429, "port $p: the third refused");
    is($r->{h}{'retry-after'}, 2, 'Retry-After: the 2 s to midnight JST');
    is($r->{h}{'retry-after-ms'}, 2000, 'retry-after-ms: 2000');
}

my $jan = faketime_epoch('2036-01-31 15:00:00') * 1000
          - 31 * 86400 * 1000;
is(redis_cmd($rport, 'GET', "llmgw:{$sub}:monthly:q:$jan"), 2,
   'Redis: January (JST) counted 2 under its start');

faketime_set($clock, '2036-01-31 14:59:59');
is(client_get($p2, '/month', $tok)->{status}, 429,
   'Tokyo, 23:59:59 JST: still January, refused');

faketime_set($clock, '2036-01-31 15:00:00');
$r = client_get($p2, '/month', $tok);
is($r->{status}, 200, 'Tokyo, Feb 1 00:00:00 JST: a new month');
is($r->{h}{ratelimit}, '"monthly";r=1;t=2505600',
   'RateLimit: the 29 days of February 2036 left');
is(client_get($p1, '/month', $tok)->{status}, 200,
   'node 1: February\'s second');
is(client_get($p1, '/month', $tok)->{status}, 429, 'node 1: February\'s third');

my $feb = faketime_epoch('2036-01-31 15:00:00') * 1000;
is(redis_cmd($rport, 'GET', "llmgw:{$sub}:monthly:q:$feb"), 2,
   'Redis: February (JST) counted 2 under its own start');
my $at = redis_cmd($rport, 'PEXPIRETIME', "llmgw:{$sub}:monthly:q:$feb");
is($at, $feb + 29 * 86400 * 1000, 'Redis: it expires at February\'s end');

nginx_stop($_->[2]) for @nodes;
redis_stop($redis);

done_testing();
