# The DPoP replay check across nodes (llmgw_dpop_zone NAME:SIZE redis):
# two nginx on one redis-server of this suite's own; a proof accepted by
# one is refused by the other (and by itself); the key in Redis and its
# absolute expiry (iat + window + 1 s, exactly); Redis stopped: down=closed
# (the default) answers 503 with Retry-After, down=open the node's own
# check alone, each said in the error log; nginx -t refusals.  Plain
# Test::More: two nginx, Redis stopped midway.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use IO::Socket::INET;
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(sleep time);
use LLMGW::Test qw(:all);
use LLMGW::Nginx;
use LLMGW::Redis qw(redis_start redis_stop redis_cmd);

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set (t/run-tests.sh sets it)'
    unless $ENV{TEST_NGINX_LOAD_MODULES};

plan skip_all => 'redis-server is not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $keys = llmgw_keys_dir();
my $redis = redis_start();
my $rport = $redis->{port};
my $jkt = llmgw_dpop_jkt('ec256');
my $run = "$$-" . time();

# node A: the default policy (down=closed); node B: down=open
sub http_conf {
    my ($port, $zone, $dir) = @_;

    return <<"_EOC_";
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_redis 127.0.0.1:$rport;
    llmgw_dpop_zone $zone;

    server {
        listen 127.0.0.1:$port;

        location = /t {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_dpop required;
            llmgw_dpop_url http://localhost;
            alias $dir/html/ok.txt;
        }
    }
_EOC_
}

my (%node, @started);

# whatever ends the test, nothing of it keeps running
END {
    kill 'CONT', $redis->{pid} if $redis && $redis->{pid};
    nginx_stop($_) for @started;
    redis_stop($redis) if $redis;
}

for my $n (['A', 'dpop:1m redis timeout=1s'],
           ['B', 'dpop:1m redis timeout=1s down=open'])
{
    my $dir = nginx_prefix();
    my $port = free_port();

    nginx_conf($dir, http_conf($port, $n->[1], $dir), workers => 2);

    open my $ok, '>', "$dir/html/ok.txt" or die $!;
    print $ok "ok\n";
    close $ok;

    my $pid = nginx_start($dir, $port)
        or BAIL_OUT('nginx did not start: ' . (nginx_check($dir))[1]);

    $node{$n->[0]} = { pid => $pid, dir => $dir, port => $port };
    push @started, $pid;
}

# every worker connected: each says so once it is (up to 10 s on a loaded
# machine)
for my $n (sort keys %node) {
    is(wait_log(10, "$node{$n}{dir}/logs/error.log",
                qr/llmgw_redis: connected to /, 2),
       2, "$n: both workers connected to Redis");
}

my $token = llmgw_token(sub => "alice-$run",
                        claims => { cnf => { jkt => $jkt } });

sub proof {
    return llmgw_dpop(htu => 'http://localhost/t', token => $token, @_);
}

sub get {
    my ($node, $proof) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$node{$node}{port}",
                                  Timeout => 10) or die "connect: $!";
    print $s "GET /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
             . "Authorization: DPoP $token\r\nDPoP: $proof\r\n\r\n";
    local $/;
    my $res = <$s> // '';
    close $s;
    return $res;
}

sub body {
    my ($res) = @_;
    return (split /\r\n\r\n/, $res, 2)[1] // '';
}

sub error_log {
    my ($node) = @_;
    open my $fh, '<', "$node{$node}{dir}/logs/error.log" or return '';
    local $/;
    return <$fh>;
}

my $challenge = 'WWW-Authenticate: DPoP realm="llmgw", '
                . 'error="invalid_dpop_proof", '
                . 'error_description="DPoP proof replayed", '
                . 'algs="PS256 ES256 EdDSA"';
my $replayed = qr{\r\n\Q$challenge\E\r\n};

# 1. accepted on A, refused on B, and on A again
my $p = proof(jti => "one-$run");
my $res = get('A', $p);
like($res, qr{\AHTTP/1\.1 200 .*\r\n\r\nok\n\z}s, 'A accepts a fresh proof');

$res = get('B', $p);
like($res, qr{\AHTTP/1\.1 401 }, 'B refuses the proof A accepted');
like($res, $replayed, 'B: the DPoP challenge says replayed');
is(body($res), '{"error":{"code":"invalid_dpop_proof",'
              . '"message":"DPoP proof replayed"}}' . "\n",
   'B: the JSON body says replayed');

$res = get('A', $p);
like($res, qr{\AHTTP/1\.1 401 }, 'A refuses it too');

# 2. the other way round
$p = proof(jti => "two-$run");
like(get('B', $p), qr{\AHTTP/1\.1 200 }, 'B accepts another fresh proof');
like(get('A', $p), qr{\AHTTP/1\.1 401 }, 'A refuses the proof B accepted');

# 3. the key: SHA-256 of jkt and jti, expiring at iat + 60 s + 1 s (ms)
my $iat = int(time()) - 10;
my $jti = "three-$run";
$p = proof(jti => $jti, now => $iat);
like(get('A', $p), qr{\AHTTP/1\.1 200 }, 'a proof of 10 s ago accepted');

my $key = 'llmgw:dpop:{' . sha256_hex($jkt . $jti) . '}';
is(redis_cmd($rport, 'GET', $key), '1', 'the key is SHA-256(jkt || jti)');
is(redis_cmd($rport, 'PEXPIRETIME', $key), ($iat + 61) * 1000,
   'it expires exactly when the proof would be too old');
my $ttl = redis_cmd($rport, 'PTTL', $key);
ok($ttl > 48000 && $ttl <= 51000, "its TTL is about 50 s ($ttl ms)");
is(redis_cmd($rport, 'DBSIZE'), 3, 'one key a proof accepted, none else');

# 4. a proof refused for another reason takes no room in Redis
like(get('A', proof(jti => "four-$run", htm => 'POST')),
     qr{\AHTTP/1\.1 401 }, 'a proof for another method refused');
is(redis_cmd($rport, 'DBSIZE'), 3, 'and not recorded in Redis');

# 5. Redis too slow (paused): the policies after timeout=1s; a client
# that goes while its command is pending leaves nothing behind
kill 'STOP', $redis->{pid};

my $gone = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$node{A}{port}")
    or die "connect: $!";
print $gone "GET /t HTTP/1.1\r\nHost: localhost\r\n"
            . "Authorization: DPoP $token\r\n"
            . "DPoP: " . proof(jti => "gone-$run") . "\r\n\r\n";
sleep 0.2;
close $gone;

my $t0 = time();
$res = get('A', proof(jti => "slow-$run"));
my $waited = time() - $t0;
like($res, qr{\AHTTP/1\.1 503 }, 'Redis paused, down=closed: 503');
ok($waited >= 0.9 && $waited < 3, "after timeout=1s ($waited s)");
like(get('B', proof(jti => "slow-b-$run")), qr{\AHTTP/1\.1 200 },
     'Redis paused, down=open: accepted');

kill 'CONT', $redis->{pid};

# A's worker may have dropped the timed-out connection: a fresh proof
# (a jti of its own each time) until it has Redis again, up to 10 s
my $back = 0;
wait_for(10, sub {
    get('A', proof(jti => "back-$run-" . $back++)) =~ m{\AHTTP/1\.1 200 };
}, 0.1);
like(get('A', proof(jti => "back-$run")), qr{\AHTTP/1\.1 200 },
     'Redis back: A accepts a fresh proof again');
like(error_log('A'), qr{DPoP replay check: Redis timed out, down=closed},
     'A: the timeout in the error log');

# 6. Redis stopped
redis_stop($redis);
sleep 0.2;

$res = get('A', proof(jti => "five-$run"));
like($res, qr{\AHTTP/1\.1 503 }, 'Redis down, down=closed: 503');
like($res, qr{\r\nRetry-After: 1\r\n}, 'with Retry-After: 1');
is(body($res), '{"error":{"code":"service_unavailable",'
              . '"message":"DPoP replay store unavailable"}}' . "\n",
   'and the reason in the body');

$p = proof(jti => "six-$run");
like(get('B', $p), qr{\AHTTP/1\.1 200 }, 'Redis down, down=open: accepted');
like(get('B', $p), qr{\AHTTP/1\.1 401 },
     'down=open: the node\'s own zone still refuses a replay');

my $what = '(?:not connected|connection lost)';

like(error_log('A'),
     qr{llmgw: DPoP replay check: Redis $what, down=closed applies},
     'A: the error log says which policy applied');
like(error_log('B'),
     qr{llmgw: DPoP replay check: Redis $what, down=open applies},
     'B: likewise');
unlike(error_log('A') . error_log('B'), qr{\Q$token\E|\Q$p\E},
       'neither the token nor a proof in the error logs');

unlike(error_log('A') . error_log('B'),
       qr{\[(?:alert|crit|emerg)\]|exited on signal},
       'no worker crashed, nothing worse than an error logged');

# 7. nginx -t refusals
sub refused {
    my ($http, $want, $name) = @_;
    my $dir = nginx_prefix();
    nginx_conf($dir, $http);
    my ($ok, $out) = nginx_check($dir);
    ok(!$ok, "nginx -t refuses $name");
    like($out, $want, "$name: the message");
}

refused("llmgw_dpop_zone d:1m redis;\n",
        qr{llmgw_dpop_zone "d" is in Redis, but there is no "llmgw_redis"},
        'redis without llmgw_redis');
refused("llmgw_redis 127.0.0.1:$rport;\n"
        . "llmgw_dpop_zone d:1m redis down=local;\n",
        qr{llmgw_dpop_zone: invalid parameter "down=local"},
        'down=local');
refused("llmgw_dpop_zone d:1m rediss;\n",
        qr{llmgw_dpop_zone: invalid parameter "rediss" \("redis" expected\)},
        'a parameter other than redis');

done_testing();
