# The llmgw Redis library (src/ngx_http_llmgw_redis_lib.c) called directly
# on the suite's redis-server, as the gateway calls it: FCALL llmgw_NAME
# on the Function library, EVALSHA on the script form.  Exact answers
# with the clock given (NOW), the errors the adapter reloads on, and many
# clients at once against one limit: exactly the limit passes.  Plain
# Test::More; no nginx.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use Time::HiRes ();
use POSIX ();
use LLMGW::Redis qw(redis_cmd redis_conn redis_send redis_read
                    redis_library);

plan skip_all => 'TEST_NGINX_REDIS_PORT is not set (t/run-tests.sh sets it)'
    unless $ENV{TEST_NGINX_REDIS_PORT};

my $port = $ENV{TEST_NGINX_REDIS_PORT};
my ($library, $script) = redis_library();

is(redis_cmd($port, 'FUNCTION', 'LOAD', 'REPLACE', $library), 'llmgw',
   'FUNCTION LOAD REPLACE');

# keys of this run only, every key of a subject under one hash tag
my $run = "t$$-" . int(rand(1e9));
sub key { "{$run:$_[0]}:$_[1]" }

# a realistic clock, given explicitly so that answers are exact
my $N = int(Time::HiRes::time() * 1000);

sub fcall {
    my ($fn, $keys, @args) = @_;
    return redis_cmd($port, 'FCALL', "llmgw_$fn", scalar @$keys, @$keys,
                     @args);
}


# --- gcra: LIMIT per PERIOD ms, BURST; -> allowed remaining retry reset --

my $g = key('alice', 'rate');

is_deeply(fcall('gcra', [$g], 10, 1000, 3, 1, $N), [1, 2, 0, 100],
          'gcra: first of a burst of 3');
is_deeply(fcall('gcra', [$g], 10, 1000, 3, 1, $N), [1, 1, 0, 200],
          'gcra: second');
is_deeply(fcall('gcra', [$g], 10, 1000, 3, 1, $N), [1, 0, 0, 300],
          'gcra: third');
is_deeply(fcall('gcra', [$g], 10, 1000, 3, 1, $N), [0, 0, 100, 300],
          'gcra: fourth refused, retry after 100 ms');
is_deeply(fcall('gcra', [$g], 10, 1000, 3, 1, $N + 50), [0, 0, 50, 250],
          'gcra: 50 ms later, 50 ms to wait');
is_deeply(fcall('gcra', [$g], 10, 1000, 3, 1, $N + 100), [1, 0, 0, 300],
          'gcra: after 100 ms, one more');
is_deeply(fcall('gcra', [$g], 10, 1000, 3, 0, $N + 100), [1, 0, 0, 300],
          'gcra: cost 0 reads without counting');
my $pttl = redis_cmd($port, 'PTTL', $g);
ok($pttl > 0 && $pttl <= 301, "gcra: the key expires when the bucket "
                              . "is full again ($pttl ms)");

# 3 per second: an interval of 333 1/3 ms, kept exact

my $g3 = key('bob', 'rate');

is_deeply(fcall('gcra', [$g3], 3, 1000, 1, 1, $N), [1, 0, 0, 334],
          'gcra 3/s: first');
is_deeply(fcall('gcra', [$g3], 3, 1000, 1, 1, $N + 333), [0, 0, 1, 1],
          'gcra 3/s: at 333 ms, one ms short');
is_deeply(fcall('gcra', [$g3], 3, 1000, 1, 1, $N + 334), [1, 0, 0, 334],
          'gcra 3/s: at 334 ms, allowed');

my $g5 = key('carol', 'rate');

is_deeply(fcall('gcra', [$g5], 1, 1000, 5, 5, $N), [1, 0, 0, 5000],
          'gcra: cost 5 takes the whole burst');
is_deeply(fcall('gcra', [$g5], 1, 1000, 5, 2, $N + 1000),
          [0, 1, 1000, 4000], 'gcra: 1 s later one is back, cost 2 waits 1 s');

my $err = fcall('gcra', [$g], 'x', 1000, 3, 1);
like($err->{err}, qr/limit is not a non-negative integer/,
     'gcra: a bad argument is an error reply');


# --- quota: LIMIT COST END [NOW] -> allowed remaining reset --------------

my $q = key('alice', 'day:20261204');
my $end = $N + 60000;

is_deeply(fcall('quota', [$q], 3, 1, $end, $N), [1, 2, 60000], 'quota 1');
is_deeply(fcall('quota', [$q], 3, 1, $end, $N + 10), [1, 1, 59990],
          'quota 2');
is_deeply(fcall('quota', [$q], 3, 2, $end, $N + 20), [0, 1, 59980],
          'quota: cost 2 does not fit, refused');
is_deeply(fcall('quota', [$q], 3, 1, $end, $N + 30), [1, 0, 59970],
          'quota 3: a refused call did not count');
is_deeply(fcall('quota', [$q], 3, 1, $end, $N + 40), [0, 0, 59960],
          'quota: 4 refused');
is(redis_cmd($port, 'GET', $q), 3, 'quota: the count is the limit');
$pttl = redis_cmd($port, 'PTTL', $q);
my $now = int(Time::HiRes::time() * 1000);
ok($pttl > 0 && $pttl <= $end - $N && abs($now + $pttl - $end) < 1000,
   "quota: expires at the window's end ($pttl ms)");


# --- acquire / release: LIMIT LEASE ID [NOW] -----------------------------

my $c = key('alice', 'streams');

is_deeply(fcall('acquire', [$c], 2, 5000, 'a', $N), [1, 1, 0], 'acquire a');
is_deeply(fcall('acquire', [$c], 2, 5000, 'b', $N + 1), [1, 0, 0],
          'acquire b');
is_deeply(fcall('acquire', [$c], 2, 5000, 'c', $N + 2), [0, 0, 4998],
          'acquire c refused until the first lease ends');
is_deeply(fcall('acquire', [$c], 2, 5000, 'a', $N + 3), [1, 0, 0],
          'acquire a again: renewed, not counted twice');
is(fcall('release', [$c], 'b'), 1, 'release b');
is(fcall('release', [$c], 'b'), 0, 'release b again: nothing');
is_deeply(fcall('acquire', [$c], 2, 5000, 'c', $N + 4), [1, 0, 0],
          'acquire c');
is_deeply(fcall('acquire', [$c], 2, 5000, 'd', $N + 5004), [1, 1, 0],
          'leases past their end come back (a crashed node)');


# --- reserve / settle: tokens ----------------------------------------------

my ($t, $res) = (key('alice', 'tokens:20261204'), key('alice', 'held'));

is_deeply(fcall('reserve', [$t, $res], 100, 60, 'r1', $end, $N),
          [1, 40, 60000], 'reserve 60 of 100');
is_deeply(fcall('reserve', [$t, $res], 100, 60, 'r2', $end, $N),
          [0, 40, 60000], 'reserve 60 more: does not fit');
is_deeply(fcall('reserve', [$t, $res], 100, 60, 'r1', $end, $N),
          [1, 40, 60000], 'r1 again (a retry): counted once');
is(redis_cmd($port, 'GET', $t), 60, '60 used');
is_deeply(fcall('settle', [$t, $res], 'r1', 25), [1, 25],
          'true-up r1 to 25');
is_deeply(fcall('settle', [$t, $res], 'r1', 25), [0, 25],
          'r1 settled twice: once');
is_deeply(fcall('reserve', [$t, $res], 100, 60, 'r2', $end, $N),
          [1, 15, 60000], 'r2 fits now');
is_deeply(fcall('settle', [$t, $res], 'r2', 90), [1, 115],
          'a call that started within budget finishes over it');
is_deeply(fcall('reserve', [$t, $res], 100, 1, 'r3', $end, $N),
          [0, 0, 60000], 'then nothing fits');
is_deeply(fcall('reserve', [$t, $res], 200, 10, 'r4', $end, $N),
          [1, 75, 60000], 'reserve r4');
is_deeply(fcall('settle', [$t, $res], 'r4', 0), [1, 115],
          'r4 released (the call failed)');
is_deeply(fcall('settle', [$t, $res], 'unknown', 5), [0, 115],
          'an unknown reservation changes nothing');


# --- the script form and the errors the adapter reloads on ---------------

my $sha = redis_cmd($port, 'SCRIPT', 'LOAD', $script);
my $q2 = key('dave', 'day');

is_deeply(redis_cmd($port, 'EVALSHA', $sha, 1, $q2, 'quota', 2, 1, $end,
                    $N), [1, 1, 60000], 'EVALSHA quota');
like(redis_cmd($port, 'EVALSHA', $sha, 1, $q2, 'nope', 1)->{err},
     qr/llmgw: no function nope/, 'EVALSHA of an unknown name: an error');

redis_cmd($port, 'SCRIPT', 'FLUSH');
like(redis_cmd($port, 'EVALSHA', $sha, 1, $q2, 'quota', 2, 1, $end)->{err},
     qr/\ANOSCRIPT/, 'scripts flushed: NOSCRIPT');

is(redis_cmd($port, 'FUNCTION', 'DELETE', 'llmgw'), 'OK', 'library gone');
like(fcall('quota', [$q2], 2, 1, $end)->{err},
     qr/Function not found/i, 'Functions gone: "Function not found"');
is(redis_cmd($port, 'FUNCTION', 'LOAD', 'REPLACE', $library), 'llmgw',
   'loaded again');


# --- many clients at once: exactly the limit passes -----------------------

# $n processes each make $per calls on a connection of their own (after a
# common start); the allowed calls are counted from their answers
sub race {
    my ($n, $per, $call) = @_;
    my $start = Time::HiRes::time() + 0.3;
    my @kids;

    for my $i (1 .. $n) {
        pipe(my $rd, my $wr) or die;
        my $pid = fork() // die;

        if ($pid == 0) {
            close $rd;
            my $s = redis_conn($port);
            my $ok = 0;
            Time::HiRes::sleep($start - Time::HiRes::time())
                if $start > Time::HiRes::time();
            for my $j (1 .. $per) {
                redis_send($s, $call->($i, $j));
                my $r = redis_read($s);
                $ok++ if ref $r eq 'ARRAY' && $r->[0] == 1;
            }
            print $wr "$ok\n";
            close $wr;
            POSIX::_exit(0);
        }

        close $wr;
        push @kids, [$pid, $rd];
    }

    my $total = 0;

    for my $k (@kids) {
        my $line = readline $k->[1];
        waitpid($k->[0], 0);
        $total += $line // 0;
    }

    return $total;
}

my $rq = key('eve', 'day');
is(race(20, 10, sub { ('FCALL', 'llmgw_quota', 1, $rq, 50, 1, $end) }), 50,
   'quota 50: 200 calls from 20 clients, 50 allowed');
is(redis_cmd($port, 'GET', $rq), 50, '... and counted');

my $rg = key('eve', 'rate');
is(race(20, 10, sub { ('FCALL', 'llmgw_gcra', 1, $rg, 1, 3600000, 50, 1) }),
   50, 'gcra burst 50: 200 calls from 20 clients, 50 allowed');

my $rc = key('eve', 'streams');
is(race(40, 1, sub { ('FCALL', 'llmgw_acquire', 1, $rc, 5, 60000,
                      "lease-$_[0]") }), 5,
   'concurrency 5: 40 clients at once, 5 leases');
is(redis_cmd($port, 'ZCARD', $rc), 5, '... and 5 held');

my ($rt, $rr) = (key('eve', 'tokens'), key('eve', 'held'));
is(race(20, 5, sub { ('FCALL', 'llmgw_reserve', 2, $rt, $rr, 1000, 30,
                      "req-$_[0]-$_[1]", $end) }), 33,
   'token budget 1000: 100 reservations of 30, 33 fit');
is(redis_cmd($port, 'GET', $rt), 990, '... 990 reserved');

done_testing();
