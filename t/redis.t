# llmgw_redis without any limit: each worker's connection seen through
# the metrics endpoint (llmgw_redis_up and the counters), against
# redis-servers of this suite's own so that they can be stopped,
# restarted and slowed: AUTH and SELECT on connect (requirepass, an ACL
# user), the llmgw library loaded as a Function (or as a script where the
# user may not load Functions), Redis stopped -> up 0 and back when it
# returns, with the library loaded again; DEBUG SLEEP -> the commands'
# deadlines fire while the worker keeps answering; a bad password -> a
# clear error-log line without the password; nginx -t refusals.  Plain
# Test::More: servers stopped and restarted.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use Digest::SHA qw(sha1_hex);
use Time::HiRes qw(time sleep);
use POSIX ();
use LLMGW::Nginx qw(:DEFAULT slurp);
use LLMGW::Redis qw(redis_start redis_stop redis_cmd redis_read
                    redis_library redis_sleep);

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set (t/run-tests.sh sets it)'
    unless $ENV{TEST_NGINX_LOAD_MODULES};
plan skip_all => 'redis-server is not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $http = HTTP::Tiny->new(timeout => 10);


# the exposition's llmgw_redis_* samples: { 'name{worker="0"}' => value };
# every line a HELP, a TYPE or a sample, each family typed before use
sub redis_metrics {
    my ($port) = @_;
    my $res = $http->get("http://127.0.0.1:$port/metrics");
    my (%out, %type);

    die "metrics: $res->{status}\n" unless $res->{status} == 200;

    for my $line (split /\n/, $res->{content}) {
        next unless $line =~ /llmgw_redis_/;

        if ($line =~ /\A# TYPE (llmgw_redis_\w+) (gauge|counter)\z/) {
            $type{$1} = $2;
            next;
        }

        next if $line =~ /\A# HELP llmgw_redis_\w+ \S.*\z/;

        $line =~ /\A(llmgw_redis_\w+)(\{worker="\d+"\}) (\d+)\z/
            or die "bad line \"$line\"\n";
        die "$1 before its TYPE\n" unless $type{$1};
        $out{"$1$2"} = $3;
    }

    return \%out;
}


sub metric {
    my ($port, $name, $worker) = @_;
    return redis_metrics($port)->{"$name\{worker=\"$worker\"}"};
}


sub up_all {
    my ($port, $workers, $want) = @_;
    my $m = redis_metrics($port);

    for my $w (0 .. $workers - 1) {
        return 0 unless ($m->{"llmgw_redis_up{worker=\"$w\"}"} // -1)
                        == $want;
    }

    return 1;
}


sub library_loaded {
    my ($port, $auth) = @_;
    my $list = redis_cmd($port, $auth ? ({auth => $auth}) : (),
                         'FUNCTION', 'LIST', 'LIBRARYNAME', 'llmgw');

    return ref $list eq 'ARRAY' && @$list == 1;
}


sub gateway {
    my ($redis, %opt) = @_;
    my $dir = nginx_prefix();
    my $port = free_port();

    nginx_conf($dir, <<"_EOC_", workers => $opt{workers} // 2);
    llmgw_metrics_zone metrics:1m;
    llmgw_redis $redis;

    server {
        listen 127.0.0.1:$port;
        location = /metrics { llmgw_metrics; }
        location = /plain { return 200 "ok\\n"; }
    }
_EOC_

    my $pid = nginx_start($dir, $port)
        or BAIL_OUT('nginx did not start: ' . (nginx_check($dir))[1]);

    return ($pid, $port, $dir);
}


# --- connect, AUTH and SELECT, the library; stopped and restarted --------

my $secret = 'redis-secret-' . int(rand(1e9));
my $pwdir = nginx_prefix();

open my $pf, '>', "$pwdir/redis.pass" or die;
print $pf "$secret\n";
close $pf;

my $r = redis_start(args => ['--requirepass', $secret]);
my $auth = [$secret];

my ($pid, $port, $dir) = gateway("127.0.0.1:$r->{port} db=3 "
                                 . "password=file=$pwdir/redis.pass "
                                 . "ping=200ms backoff=50ms:400ms");

ok(wait_for(5, sub { up_all($port, 2, 1) }), 'both workers up');

my $clients = redis_cmd($r->{port}, {auth => $auth}, 'CLIENT', 'LIST');
my @db3 = grep { / db=3 / } split /\n/, $clients;
is(scalar @db3, 2, 'two connections, each SELECTed db 3');
ok(library_loaded($r->{port}, $auth), 'library llmgw loaded as a Function');

my $m = redis_metrics($port);
is($m->{"llmgw_redis_errors_total{worker=\"$_\"}"}, 0, "worker $_: no errors")
    for 0, 1;
is($m->{"llmgw_redis_timeouts_total{worker=\"$_\"}"}, 0,
   "worker $_: no timeouts") for 0, 1;
is($m->{"llmgw_redis_reconnects_total{worker=\"$_\"}"}, 0,
   "worker $_: no reconnects") for 0, 1;

# PINGs: commands grow while nothing else is sent
my $before = metric($port, 'llmgw_redis_commands_total', 0);
sleep 0.7;
cmp_ok(metric($port, 'llmgw_redis_commands_total', 0), '>=', $before + 2,
       'a PING every 200ms');

like(slurp("$dir/logs/error.log"),
     qr/\[info\] .*llmgw_redis: connected to 127\.0\.0\.1:$r->{port}\n/,
     'connected, logged at info');

# a reload: new workers connect, the old ones close their connections on
# their way out, the counters go on

my $count = metric($port, 'llmgw_redis_commands_total', 1);
kill 'HUP', $pid;

sub db3_clients {
    my $list = redis_cmd($r->{port}, {auth => $auth}, 'CLIENT', 'LIST');
    my @ids = map { /(?:^| )id=(\d+) / } grep { / db=3 / } split /\n/, $list;
    return join ',', sort @ids;
}

my $old = db3_clients();
ok(wait_for(5, sub {
       my $now = db3_clients();
       my @now = split /,/, $now;
       @now == 2 && !grep({ my $id = $_; grep { $_ eq $id } split /,/, $old }
                          @now)
   }), 'reload: two new connections, the old workers\' closed')
    or diag("before: $old, after: " . db3_clients() . "\n"
            . `ps -o pid,stat,args --ppid $pid`);
ok(wait_for(10, sub { up_all($port, 2, 1) }), 'reload: both workers up');
cmp_ok(metric($port, 'llmgw_redis_commands_total', 1), '>=', $count,
       'reload: the counters go on');

# Redis stopped: every worker down, reconnecting

redis_stop($r);

ok(wait_for(10, sub { up_all($port, 2, 0) }), 'stopped: both workers down');
ok(wait_for(10, sub {
       metric($port, 'llmgw_redis_reconnects_total', 0) >= 2
   }), 'reconnect attempts counted');

my $res = $http->get("http://127.0.0.1:$port/plain");
is($res->{content}, "ok\n", 'requests served while Redis is down');

# back on the same port, empty: up again and the library loaded again

$r = redis_start(port => $r->{port}, args => ['--requirepass', $secret]);
my $t0 = time;
ok(wait_for(5, sub { up_all($port, 2, 1) }), 'restarted: both workers up');
diag(sprintf('up again %.0f ms after the restart', 1000 * (time - $t0)));
ok(library_loaded($r->{port}, $auth), 'library loaded again on reconnect');

my $log = slurp("$dir/logs/error.log");
like($log, qr/llmgw_redis: connection to 127\.0\.0\.1:$r->{port} lost/,
     'the loss logged');
like($log, qr/\[notice\] .*llmgw_redis: reconnected to 127\.0\.0\.1:$r->{port}/,
     'the reconnect logged');
unlike($log, qr/\Q$secret\E/, 'the password in no log line');

like($log, qr/llmgw_redis: connecting to 127\.0\.0\.1:$r->{port} failed: (?:Connection refused)/,
     'a failed connect logged with its reason');

# failure lines at a bounded rate: 3 a second per worker at most

my %per;
$per{"$1 $2"}++
    while $log =~ /^(\S+ \S+) \[\w+\] (\d+)#\d+: llmgw_redis: .*(?:failed|lost)/mg;
ok(!grep({ $_ > 3 } values %per), 'at most 3 failure lines a second');

nginx_stop($pid);
redis_stop($r);


# --- DEBUG SLEEP: the deadlines fire, the worker keeps serving ----------

$r = redis_start(args => ['--enable-debug-command', 'yes']);
($pid, $port, $dir) = gateway("127.0.0.1:$r->{port} ping=250ms",
                              workers => 1);

ok(wait_for(5, sub { up_all($port, 1, 1) }), 'up');

my $timeouts = metric($port, 'llmgw_redis_timeouts_total', 0);
my $reconnects = metric($port, 'llmgw_redis_reconnects_total', 0);

my $sleeper = redis_sleep($r->{port}, '0.7');

my ($max, $n) = (0, 0);
my $end = time + 0.6;

while (time < $end) {
    my $t = time;
    my $res = $http->get("http://127.0.0.1:$port/plain");
    my $d = time - $t;
    $max = $d if $d > $max;
    $n++;
    die "plain: $res->{status}\n" unless $res->{content} eq "ok\n";
    sleep 0.02;
}

redis_read($sleeper);
close $sleeper;

diag(sprintf('%d requests while Redis slept, slowest %.1f ms', $n,
             1000 * $max));
cmp_ok($max, '<', 0.2, 'requests answered while Redis sleeps');
ok(wait_for(10, sub {
       metric($port, 'llmgw_redis_timeouts_total', 0) > $timeouts
   }), 'a PING deadline fired');
sleep 0.3;
is(metric($port, 'llmgw_redis_up', 0), 1, 'still up: slow is not lost');
is(metric($port, 'llmgw_redis_reconnects_total', 0), $reconnects,
   'no reconnect for two lost PINGs');

nginx_stop($pid);
redis_stop($r);


# --- a bad password: a clear line, no password; an ACL user without -----
# --- FUNCTION: the library as a script, EVALSHA ------------------------

$r = redis_start(args => ['--requirepass', $secret]);

my $wrong = 'wrong-secret-' . int(rand(1e9));
open $pf, '>', "$pwdir/wrong.pass" or die;
print $pf "$wrong\n";
close $pf;

($pid, $port, $dir) = gateway("127.0.0.1:$r->{port} "
                              . "password=file=$pwdir/wrong.pass "
                              . "backoff=100ms:200ms", workers => 1);

ok(wait_for(10, sub { slurp("$dir/logs/error.log") =~ /AUTH on/ }),
   'AUTH failure logged');
sleep 0.5;
is(metric($port, 'llmgw_redis_up', 0), 0, 'a bad password: down');
$log = slurp("$dir/logs/error.log");
like($log, qr/\[error\] .*llmgw_redis: AUTH on 127\.0\.0\.1:$r->{port} failed: WRONGPASS/,
     'the line says AUTH failed and why');
unlike($log, qr/\Q$wrong\E/, 'the wrong password in no log line');
unlike($log, qr/\Q$secret\E/, 'nor the right one');

nginx_stop($pid);

is(redis_cmd($r->{port}, {auth => $auth}, 'ACL', 'SETUSER', 'gw', 'on',
             ">$secret-gw", '~*', '&*', '+@all', '-function'), 'OK',
   'an ACL user without FUNCTION');

open $pf, '>', "$pwdir/gw.pass" or die;
print $pf "$secret-gw\n";
close $pf;

($pid, $port, $dir) = gateway("127.0.0.1:$r->{port} user=gw "
                              . "password=file=$pwdir/gw.pass",
                              workers => 1);

ok(wait_for(5, sub { up_all($port, 1, 1) }), 'up as user gw');
like(slurp("$dir/logs/error.log"),
     qr/\[notice\] .*FUNCTION LOAD on .* failed: NOPERM.*using EVALSHA/,
     'FUNCTION refused: the library as a script');

# the script is the library's functions and a dispatch on ARGV[1]: the
# sha nginx loads is that of the text in src/ngx_http_llmgw_redis_lib.c

my (undef, $script) = redis_library();

is_deeply(redis_cmd($r->{port}, {auth => $auth}, 'SCRIPT', 'EXISTS',
                    sha1_hex($script)), [1], 'the script is loaded');
like(slurp("$dir/logs/error.log"),
     qr/llmgw_redis: connected to .* \(scripts, no Functions\)/,
     'connected with scripts');
unlike(slurp("$dir/logs/error.log"), qr/\Q$secret\E/,
       'the password in no log line');

nginx_stop($pid);
redis_stop($r);


# --- nginx -t ------------------------------------------------------------

my $t = nginx_prefix();

for my $case (
    [ "llmgw_redis 127.0.0.1:1 db=x;",
      qr/invalid llmgw_redis parameter "db=x"/ ],
    [ "llmgw_redis 127.0.0.1:1 timeout=0;",
      qr/invalid llmgw_redis parameter "timeout=0"/ ],
    [ "llmgw_redis 127.0.0.1:1 backoff=2s:1s;",
      qr/backoff= minimum exceeds maximum/ ],
    [ "llmgw_redis 127.0.0.1:1 password=file=$t/none;",
      qr/\Q$t\E\/none/ ],
    [ "llmgw_redis 127.0.0.1:1;\nllmgw_redis 127.0.0.1:2;",
      qr/"llmgw_redis" directive is duplicate/ ],
    [ "server { listen 127.0.0.1:1; llmgw_redis 127.0.0.1:1; }",
      qr/"llmgw_redis" directive is not allowed here/ ],
    [ "llmgw_redis 127.0.0.1:99999;", qr/invalid port/ ],
)
{
    nginx_conf($t, $case->[0]);
    my ($ok, $out) = nginx_check($t);
    ok(!$ok, "nginx -t refuses: $case->[0]");
    like($out, $case->[1], '... saying why');
}

nginx_conf($t, "llmgw_redis 127.0.0.1:6379 db=2 user=gw timeout=50ms "
               . "connect_timeout=500ms ping=2s backoff=100ms:5s;");
my ($ok, $out) = nginx_check($t);
ok($ok, 'every parameter accepted') or diag($out);

done_testing();
