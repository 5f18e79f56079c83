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
use IO::Socket::INET;
use POSIX qw(mktime);
use LLMGW::Test qw(:all);
use LLMGW::Nginx;

my $FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set (t/run-tests.sh)'
    unless $ENV{TEST_NGINX_LOAD_MODULES};
plan skip_all => "no $FAKETIME (make deps installs Debian's faketime)"
    unless -f $FAKETIME;

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

# an nginx in time zone $tz, its clock in $dir/clock
sub start {
    my ($tz, $when, $locations) = @_;
    my $dir = nginx_prefix();
    my $port = free_port();

    set_clock($dir, $when);

    nginx_conf($dir, <<"_EOC_", workers => 2,
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_limit_zone limits:1m;
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
    local $ENV{FAKETIME_TIMESTAMP_FILE} = "$dir/clock";
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
    my $tok = token_at('tokyo', $t0);
    my $r;

    $r = get($port, '/month', $tok);
    is($r->{status}, 200, 'Tokyo, Jan 31 23:59:58 JST: first of 2');
    is($r->{h}{ratelimit}, '"monthly";r=1;t=2', 'RateLimit: 2 s to February');

    is(get($port, '/month', $tok)->{status}, 200, 'Tokyo: second of 2');

    $r = get($port, '/month', $tok);
    is($r->{status}, 429, 'Tokyo: the third refused');
    is($r->{h}{'retry-after'}, 2, 'Retry-After: the 2 s to midnight JST');
    is($r->{h}{'retry-after-ms'}, 2000, 'retry-after-ms: 2000');
    is($r->{h}{'ratelimit-policy'}, '"monthly";q=2;w=2592000',
       'RateLimit-Policy');

    set_clock($dir, '2026-01-31 14:59:59');
    is(get($port, '/month', $tok)->{status}, 429,
       'Tokyo, 23:59:59 JST: still January, refused');

    set_clock($dir, '2026-01-31 15:00:00');
    $r = get($port, '/month', $tok);
    is($r->{status}, 200, 'Tokyo, Feb 1 00:00:00 JST: a new month');
    is($r->{h}{ratelimit}, '"monthly";r=1;t=2419200',
       'RateLimit: 28 days of February left');

    nginx_stop($pid);
}

# 2. Berlin: the day the clocks go forward has 23 hours
{
    my $t0 = '2026-03-29 12:00:00';
    my ($dir, $port, $pid) = start('Europe/Berlin', $t0, $ok_loc);
    my $tok = token_at('berlin', $t0);
    my $r;

    $r = get($port, '/day', $tok);
    is($r->{status}, 200, 'Berlin, March 29 14:00 CEST: the day\'s one');
    is($r->{h}{ratelimit}, '"daily";r=0;t=36000',
       'RateLimit: 10 hours to midnight CEST (22:00Z)');

    $r = get($port, '/day', $tok);
    is($r->{status}, 429, 'Berlin: the second refused');
    is($r->{h}{'retry-after'}, 36000, 'Retry-After: 36000');

    set_clock($dir, '2026-03-29 21:59:59');
    $r = get($port, '/day', $tok);
    is($r->{status}, 429, 'Berlin, 23:59:59 CEST: still refused');
    is($r->{h}{'retry-after-ms'}, 1000, 'retry-after-ms: 1000');

    set_clock($dir, '2026-03-29 22:00:00');
    $r = get($port, '/day', $tok);
    is($r->{status}, 200, 'Berlin, March 30 00:00 CEST: a new day');
    is($r->{h}{ratelimit}, '"daily";r=0;t=86400',
       'RateLimit: March 30 has 24 hours');

    # the day before had 24 hours too: 2026-03-27T23:00Z .. 03-28T23:00Z
    set_clock($dir, '2026-03-28 22:59:59');
    $r = get($port, '/day', token_at('berlin-2', '2026-03-28 22:59:59'));
    is($r->{h}{ratelimit}, '"daily";r=0;t=1',
       'Berlin, March 28 23:59:59 CET: one second left');

    # 3. GCRA on the frozen clock
    set_clock($dir, '2026-03-29 22:00:10');
    my $ptok = token_at('pace', '2026-03-29 22:00:10');

    is(get($port, '/rate', $ptok)->{status}, 200, 'rate: the first passes');
    $r = get($port, '/rate', $ptok);
    is($r->{status}, 429, 'rate: the second in the same ms refused');
    is($r->{h}{'retry-after-ms'}, 1000, 'rate: retry-after-ms 1000');

    set_clock($dir, '2026-03-29 22:00:11');
    is(get($port, '/rate', $ptok)->{status}, 200, 'rate: a second later');

    nginx_stop($pid);
}

done_testing();
