# Quota windows and GCRA pacing on a clock the test sets: nginx runs
# under libfaketime (Debian's faketime package) with its wall clock
# frozen at the time written in a file, which the test rewrites between
# requests (FAKETIME_NO_CACHE: read on every call; nginx's timers use the
# monotonic clock, left alone).  The workers keep the FAKETIME_* variables
# through "env" (nginx clears the environment of its workers).  With the
# clock frozen every value is exact:
#
#   - Asia/Tokyo, a monthly quota: January ends at 2026-01-31T15:00:00Z
#     (midnight JST); refused two seconds before it with Retry-After 2,
#     a fresh count at 15:00:00Z for February's 28 days;
#   - Europe/Berlin, a daily quota on 2026-03-29, the day clocks go
#     forward: the local day is 23 hours (2026-03-28T23:00Z to
#     2026-03-29T22:00Z), the next one 24;
#   - a rate of 1r/s: the second request of a second waits 1000 ms, the
#     next second lets one through.
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

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set (t/run-tests.sh)'
    unless $ENV{TEST_NGINX_LOAD_MODULES};
plan skip_all => "no $FAKETIME (make deps installs Debian's faketime)"
    unless -f $FAKETIME;

# an nginx in time zone $tz, its clock in $dir/clock set to $when
sub start {
    my ($tz, $when, $locations) = @_;
    my $dir = nginx_prefix();

    faketime_set($dir, $when);

    my (undef, $port, $pid) = faketime_nginx($tz, $dir, <<'_EOC_',
    llmgw_limit_zone limits:1m;
_EOC_
                                             $locations);

    return ($dir, $port, $pid);
}

my $ok_loc = <<'_EOC_';
        location /month {
            llmgw_limit monthly zone=limits key=$llmgw_sub quota=2/month;
            alias html/ok.txt;
        }

        location /day {
            llmgw_limit daily zone=limits key=$llmgw_sub quota=1/day;
            alias html/ok.txt;
        }

        location /rate {
            llmgw_limit pace zone=limits key=$llmgw_sub rate=1r/s;
            alias html/ok.txt;
        }
_EOC_

# 1. Tokyo: the month edge
{
    my $t0 = '2026-01-31 14:59:58';
    my ($dir, $port, $pid) = start('Asia/Tokyo', $t0, $ok_loc);
    my $tok = faketime_token('tokyo', $t0);
    my $r;

    $r = client_get($port, '/month', $tok);
    is($r->{status}, 200, 'Tokyo, Jan 31 23:59:58 JST: first of 2');
    is($r->{h}{ratelimit}, '"monthly";r=1;t=2', 'RateLimit: 2 s to February');

    is(client_get($port, '/month', $tok)->{status}, 200, 'Tokyo: second of 2');

    $r = client_get($port, '/month', $tok);
    is($r->{status}, 429, 'Tokyo: the third refused');
    is($r->{h}{'retry-after'}, 2, 'Retry-After: the 2 s to midnight JST');
    is($r->{h}{'retry-after-ms'}, 2000, 'retry-after-ms: 2000');
    is($r->{h}{'ratelimit-policy'}, '"monthly";q=2;w=2592000',
       'RateLimit-Policy');

    faketime_set($dir, '2026-01-31 14:59:59');
    is(client_get($port, '/month', $tok)->{status}, 429,
       'Tokyo, 23:59:59 JST: still January, refused');

    faketime_set($dir, '2026-01-31 15:00:00');
    $r = client_get($port, '/month', $tok);
    is($r->{status}, 200, 'Tokyo, Feb 1 00:00:00 JST: a new month');
    is($r->{h}{ratelimit}, '"monthly";r=1;t=2419200',
       'RateLimit: 28 days of February left');

    nginx_stop($pid);
}

# 2. Berlin: the day the clocks go forward has 23 hours
{
    my $t0 = '2026-03-29 12:00:00';
    my ($dir, $port, $pid) = start('Europe/Berlin', $t0, $ok_loc);
    my $tok = faketime_token('berlin', $t0);
    my $r;

    $r = client_get($port, '/day', $tok);
    is($r->{status}, 200, 'Berlin, March 29 14:00 CEST: the day\'s one');
    is($r->{h}{ratelimit}, '"daily";r=0;t=36000',
       'RateLimit: 10 hours to midnight CEST (22:00Z)');

    $r = client_get($port, '/day', $tok);
    is($r->{status}, 429, 'Berlin: the second refused');
    is($r->{h}{'retry-after'}, 36000, 'Retry-After: 36000');

    faketime_set($dir, '2026-03-29 21:59:59');
    $r = client_get($port, '/day', $tok);
    is($r->{status}, 429, 'Berlin, 23:59:59 CEST: still refused');
    is($r->{h}{'retry-after-ms'}, 1000, 'retry-after-ms: 1000');

    faketime_set($dir, '2026-03-29 22:00:00');
    $r = client_get($port, '/day', $tok);
    is($r->{status}, 200, 'Berlin, March 30 00:00 CEST: a new day');
    is($r->{h}{ratelimit}, '"daily";r=0;t=86400',
       'RateLimit: March 30 has 24 hours');

    # the day before had 24 hours too: 2026-03-27T23:00Z .. 03-28T23:00Z
    faketime_set($dir, '2026-03-28 22:59:59');
    $r = client_get($port, '/day',
                    faketime_token('berlin-2', '2026-03-28 22:59:59'));
    is($r->{h}{ratelimit}, '"daily";r=0;t=1',
       'Berlin, March 28 23:59:59 CET: one second left');

    # 3. GCRA on the frozen clock
    faketime_set($dir, '2026-03-29 22:00:10');
    my $ptok = faketime_token('pace', '2026-03-29 22:00:10');

    is(client_get($port, '/rate', $ptok)->{status}, 200,
       'rate: the first passes');
    $r = client_get($port, '/rate', $ptok);
    is($r->{status}, 429, 'rate: the second in the same ms refused');
    is($r->{h}{'retry-after-ms'}, 1000, 'rate: retry-after-ms 1000');

    faketime_set($dir, '2026-03-29 22:00:11');
    is(client_get($port, '/rate', $ptok)->{status}, 200,
       'rate: a second later');

    nginx_stop($pid);
}

done_testing();
