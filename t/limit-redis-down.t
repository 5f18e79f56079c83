# llmgw_limit in Redis while Redis fails, against a redis-server of this
# suite's own: stopped mid-run -> down=open lets through, down=closed
# answers 503 with Retry-After, down=local enforces the limit divided by
# nodes= in the zone's shared memory, each at once, with a bounded error
# log; Redis back -> counting in Redis resumes, the library loaded again;
# FUNCTION FLUSH -> the library reloaded and the count goes on; DEBUG
# SLEEP -> the limited requests answered by the policy within the
# timeout, and the worker answers a location without limits meanwhile.
# Plain Test::More: Redis stopped, restarted and slowed.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use LLMGW::Test qw(:all);
use LLMGW::Nginx;
use LLMGW::Redis qw(redis_start redis_stop redis_cmd redis_conn redis_send
                    redis_sleep redis_read);

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set (t/run-tests.sh sets it)'
    unless $ENV{TEST_NGINX_LOAD_MODULES};
plan skip_all => 'redis-server is not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $keys = llmgw_keys_dir();
my @rargs = ('--enable-debug-command', 'yes');
my $redis = redis_start(args => [@rargs]);
my $rport = $redis->{port};
my $dir = nginx_prefix();
my $port = free_port();

my $auth = <<"_EOC_";
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
_EOC_

nginx_conf($dir, <<"_EOC_", workers => 2);
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_metrics_zone metrics:1m;
    llmgw_redis 127.0.0.1:$rport backoff=50ms:200ms;
    llmgw_limit_zone open:1m redis timeout=100ms down=open;
    llmgw_limit_zone closed:1m redis timeout=100ms down=closed;
    llmgw_limit_zone local:1m redis timeout=100ms down=local nodes=2;

    server {
        listen 127.0.0.1:$port backlog=512;

        location = /metrics { llmgw_metrics; }
        location = /plain { return 200 "plain\\n"; }

        location /open {
$auth
            llmgw_limit o zone=open key=\$llmgw_sub quota=4/day;
            alias $dir/html/ok.txt;
        }

        location /closed {
$auth
            llmgw_limit c zone=closed key=\$llmgw_sub quota=4/day;
            alias $dir/html/ok.txt;
        }

        location /conc {
$auth
            llmgw_limit one zone=open key=\$llmgw_sub concurrent=1;
            alias $dir/html/ok.txt;
        }

        location /local {
$auth
            llmgw_limit l zone=local key=\$llmgw_sub quota=4/day;
            alias $dir/html/ok.txt;
        }
    }
_EOC_

open my $ok, '>', "$dir/html/ok.txt" or die $!;
print $ok "ok\n";
close $ok;

my $pid = nginx_start($dir, $port)
    or BAIL_OUT('nginx did not start: ' . (nginx_check($dir))[1]);

my $run = "$$-" . int(time() * 1000);

sub token { llmgw_token(sub => "$_[0]-$run", scope => 'text') }

# (status, seconds it took, whole response)
sub get {
    my ($path, $token) = @_;
    my $t0 = time;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 10) or die "connect: $!";
    print $s "GET $path HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
             . ($token ? "Authorization: Bearer $token\r\n" : '') . "\r\n";
    local $/;
    my $res = <$s> // '';
    close $s;
    my ($code) = $res =~ m{\AHTTP/1\.1 (\d{3})};
    return ($code // 0, time - $t0, $res);
}

sub codes {
    my ($n, $path, $token) = @_;
    return join ' ', map { (get($path, $token))[0] } 1 .. $n;
}

sub up_all {
    my ($res) = (get('/metrics'))[2];
    my @up = $res =~ /^llmgw_redis_up\{worker="\d+"\} (\d)$/mg;
    return @up == 2 && !grep { $_ != 1 } @up;
}


sub count_of {
    my ($name, $sub) = @_;
    my $k = redis_cmd($rport, 'KEYS', "llmgw:{$sub-$run}:$name:q:*");
    return @$k ? redis_cmd($rport, 'GET', $k->[0]) : 0;
}

ok(wait_for(5, \&up_all), 'both workers connected to Redis');

# 1. Redis up: counted in Redis
my $a = token('a');
is(codes(2, '/open', $a), '200 200', 'up: open, two through');
is(codes(2, '/closed', $a), '200 200', 'up: closed, two through');
is(codes(2, '/local', $a), '200 200', 'up: local, two through');
is(count_of('o', 'a'), 2, 'up: open counted 2 in Redis');
is(count_of('l', 'a'), 2, 'up: local counted 2 in Redis');

# 2. Redis stopped
redis_stop($redis);
ok(wait_for(5, sub { !up_all() }), 'stopped: the workers see it');
my $t_down = time;

my ($max_open, $max_closed) = (0, 0);
my @open;

for (1 .. 10) {
    my ($code, $took) = get('/open', $a);
    push @open, $code;
    $max_open = $took if $took > $max_open;
}

is("@open", join(' ', (200) x 10),
   'stopped, open: ten more through (the quota of 4 is not enforced)');
cmp_ok($max_open, '<', 0.1 + 0.05,
       sprintf('stopped, open: answered at once (slowest %.1f ms)',
               $max_open * 1000));

my ($code, $took, $res) = get('/closed', $a);
is($code, 503, 'stopped, closed: 503');
like($res, qr{\r\nRetry-After: 1\r\n}, 'stopped, closed: Retry-After: 1');
like($res, qr{"code":"service_unavailable","message":"limit store unavailable"},
     'stopped, closed: the JSON body says why');
cmp_ok($took, '<', 0.15, 'stopped, closed: answered at once');

# the local share: 4 / 2 nodes = 2 on this nginx, whatever Redis counted
is(codes(3, '/local', $a), '200 200 429',
   'stopped, local: 4/day over 2 nodes lets 2 through here');
my $b = token('b');
is(codes(3, '/local', $b), '200 200 429',
   'stopped, local: another subject has its own 2');

# 3. Redis back (a restart: its data is gone, the library too)
$redis = redis_start(port => $rport, args => [@rargs]);
ok(wait_for(10, \&up_all), 'back: both workers connected again');
my $down_for = time - $t_down;

my $lib = redis_cmd($rport, 'FUNCTION', 'LIST', 'LIBRARYNAME', 'llmgw');
is(scalar @$lib, 1, 'back: the llmgw library loaded again');

my $c = token('c');
is(codes(5, '/closed', $c), '200 200 200 200 429',
   'back: closed counts in Redis again, 4 through and the fifth refused');
is(count_of('c', 'c'), 4, 'back: Redis holds the count of 4');
is(codes(5, '/open', $c), '200 200 200 200 429',
   'back: open enforces the quota again');

# 4. the library flushed: loaded again on the first call, counting on
is(redis_cmd($rport, 'FUNCTION', 'FLUSH'), 'OK', 'FUNCTION FLUSH');
my $d = token('d');
is(codes(2, '/closed', $d), '200 200', 'flushed: through, counted');
is(count_of('c', 'd'), 2, 'flushed: Redis holds the count of 2');
$lib = redis_cmd($rport, 'FUNCTION', 'LIST', 'LIBRARYNAME', 'llmgw');
is(scalar @$lib, 1, 'flushed: the library is back');

# 5. Redis slowed: DEBUG SLEEP 1 on a connection of the test's own
my $e = token('e');
my $sleeper = redis_sleep($rport, '1');
my $t_sleep = time;

my ($pc, $pt) = get('/plain');
my ($oc, $ot) = get('/open', $e);
my ($cc, $ct) = get('/closed', $e);
my ($pc2, $pt2) = get('/plain');
my ($kc) = get('/conc', $e);
my $all = time - $t_sleep;

# Redis has not answered the sleeper yet: all of it came while it slept
ok(!IO::Select->new($sleeper)->can_read(0),
   sprintf('slowed: all of it within the sleep of 1 s (%.2f s)', $all));
is($oc, 200, 'slowed, open: 200');
cmp_ok($ot, '>=', 0.09, sprintf('slowed, open: waited for the timeout '
                                . '(%.0f ms)', $ot * 1000));
cmp_ok($ot, '<', 0.1 + 0.1, 'slowed, open: answered within the timeout');
is($cc, 503, 'slowed, closed: 503');
cmp_ok($ct, '<', 0.1 + 0.1, sprintf('slowed, closed: within the timeout '
                                    . '(%.0f ms)', $ct * 1000));
is("$pc $pc2", '200 200', 'slowed: the location without limits answers');
cmp_ok(($pt > $pt2 ? $pt : $pt2), '<', 0.08,
       sprintf('slowed: ... at once (%.1f ms, %.1f ms)', $pt * 1000,
               $pt2 * 1000));

is(redis_read($sleeper), 'OK', 'DEBUG SLEEP ended');
close $sleeper;

# the lease the timed-out acquire took once Redis woke, given back behind it
is($kc, 200, 'slowed, open: a concurrent one let through');
ok(wait_for(10, sub { redis_cmd($rport, 'EXISTS', "llmgw:{e-$run}:one:c")
                     == 0 }),
   'slowed: the late lease of the timed-out acquire given back');

# 6. after the sleep: counting in Redis again
ok(wait_for(5, \&up_all), 'after the sleep: connected');
my $f = token('f');
is(codes(5, '/closed', $f), '200 200 200 200 429',
   'after the sleep: closed counts in Redis, 4 of 5');

nginx_stop($pid);

# 7. the error log: a line of the policy at most once a second per worker
open my $fh, '<', "$dir/logs/error.log" or die $!;
my %per;
my $lines = 0;

while (<$fh>) {
    next unless /llmgw limit "\w+": Redis .*, down=\w+ applies/;
    my ($when, $worker) = /^(\S+ \S+) \[error\] (\d+)#/ or next;
    $per{"$worker $when"}++;
    $lines++;
}

close $fh;

cmp_ok($lines, '>=', 1, "error log: the policy said ($lines lines)");
is(scalar(grep { $_ > 1 } values %per), 0,
   'error log: at most one line a second per worker');

redis_stop($redis);

done_testing();
