# llmgw_limit in Redis (llmgw_limit_zone NAME:SIZE redis ...), against a
# redis-server of this suite's own: 200 requests at once against a quota
# of 50 let exactly 50 through, a rate with a burst of 19 exactly 20;
# two nginx instances on one Redis share one count exactly; a refusal is
# remembered locally (no Redis call until its retry time); a concurrency
# limit given back when the client goes away mid-stream; the rate-limit
# fields on allowed responses and on 429 as for shared memory; the keys
# in Redis carry the subject as a hash tag; nginx -t refusals.  Plain
# Test::More: many sockets at once, two nginx, Redis stopped later
# (t/limit-redis-down.t).

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use Time::HiRes qw(time sleep);
use LLMGW::Test qw(:all);
use LLMGW::Nginx;
use LLMGW::Client;
use LLMGW::Redis qw(redis_start redis_stop redis_cmd);

for my $v (qw(TEST_NGINX_LOAD_MODULES TEST_NGINX_MOCK_PORT
              TEST_NGINX_MOCK_SECRETS))
{
    plan skip_all => "$v is not set (t/run-tests.sh sets it)"
        unless $ENV{$v};
}

plan skip_all => 'redis-server is not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $keys = llmgw_keys_dir();
my $secrets = $ENV{TEST_NGINX_MOCK_SECRETS};
my $mock = "127.0.0.1:$ENV{TEST_NGINX_MOCK_PORT}";
my $redis = redis_start();
my $rport = $redis->{port};

my $auth = <<"_EOC_";
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
_EOC_

sub http_conf {
    my ($port, $dir) = @_;

    return <<"_EOC_";
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_redis 127.0.0.1:$rport;
    llmgw_limit_zone shared:1m redis timeout=1s down=closed;

    server {
        listen 127.0.0.1:$port backlog=512;

        location /quota {
$auth
            llmgw_limit fifty zone=shared key=\$llmgw_sub quota=50/day;
            alias $dir/html/ok.txt;
        }

        location /rate {
$auth
            llmgw_limit twenty zone=shared key=\$llmgw_sub rate=1r/m
                        burst=19;
            alias $dir/html/ok.txt;
        }

        location /three {
$auth
            llmgw_limit three zone=shared key=\$llmgw_sub quota=3/hour;
            llmgw_limit_headers openai;
            alias $dir/html/ok.txt;
        }

        location /two {
$auth
            llmgw_limit first zone=shared key=\$llmgw_sub quota=10/day;
            llmgw_limit second zone=shared key=\$llmgw_sub quota=1/day;
            alias $dir/html/ok.txt;
        }

        location /azure/ {
$auth
            llmgw_limit one-stream zone=shared key=\$llmgw_sub
                        concurrent=1;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /azure;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
        }
    }
_EOC_
}

my (@nginx, @ports);

for my $i (0, 1) {
    my $dir = nginx_prefix();
    my $port = free_port();

    nginx_conf($dir, http_conf($port, $dir), workers => 2);

    open my $ok, '>', "$dir/html/ok.txt" or die $!;
    print $ok "ok\n";
    close $ok;

    my $pid = nginx_start($dir, $port)
        or BAIL_OUT('nginx did not start: ' . (nginx_check($dir))[1]);

    push @nginx, { pid => $pid, dir => $dir };
    push @ports, $port;
}

# every worker connected and the library loaded: each says so once it is
# (up to 10 s on a loaded machine)
for my $n (@nginx) {
    is(wait_log(10, "$n->{dir}/logs/error.log",
                qr/llmgw_redis: connected to /, 2),
       2, 'both workers of an nginx connected to Redis');
}

my $run = "$$-" . int(time() * 1000);

sub token { llmgw_token(sub => "$_[0]-$run", scope => 'text') }

# n requests at once, spread over the given ports; the statuses
sub burst {
    my ($n, $path, $token, @to) = @_;
    return client_burst($n, $path, $token, @to ? @to : $ports[0]);
}

sub get {
    my ($path, $token, $port) = @_;
    return client_send($port // $ports[0], client_get_request($path, $token));
}

sub commands_processed {
    my $info = redis_cmd($rport, 'INFO', 'stats');
    my ($n) = $info =~ /total_commands_processed:(\d+)/;
    return $n;
}

# 1. one nginx, 200 at once, a quota of 50: exactly 50
my $st = burst(200, '/quota', token('quota'));
is($st->{200}, 50, 'quota: exactly 50 of 200 concurrent requests through');
is($st->{429}, 150, 'quota: the 150 others refused with 429');

# 2. a rate of 1/min with a burst of 19: exactly 20 at once
$st = burst(200, '/rate', token('rate'));
is($st->{200}, 20, 'rate: exactly burst + 1 = 20 of 200 through');
is($st->{429}, 180, 'rate: the 180 others refused');

# 3. two nginx on one Redis: one count
$st = burst(200, '/quota', token('two-nodes'), @ports);
is($st->{200}, 50, 'two nginx: exactly 50 of 200 through, together');
is($st->{429}, 150, 'two nginx: 150 refused');

$st = burst(100, '/rate', token('two-nodes-rate'), @ports);
is($st->{200}, 20, 'two nginx: a rate\'s burst of 20 shared exactly');

# 4. the fields, on allowed responses and on a 429, as for shared memory
my $t3 = token('three');
my $res = get('/three', $t3);
like($res, qr{\AHTTP/1\.1 200 }, 'headers: the first through');
like($res, qr{\r\nRateLimit-Policy: "three";q=3;w=3600\r\n},
     'headers: RateLimit-Policy');
like($res, qr{\r\nRateLimit: "three";r=2;t=\d+\r\n},
     'headers: RateLimit r=2 after the first');
like($res, qr{\r\nx-ratelimit-limit-requests: 3\r\n},
     'headers: x-ratelimit-limit-requests');
like($res, qr{\r\nx-ratelimit-remaining-requests: 2\r\n},
     'headers: x-ratelimit-remaining-requests 2');

get('/three', $t3, $ports[1]);
$res = get('/three', $t3);
like($res, qr{\r\nRateLimit: "three";r=0;t=\d+\r\n},
     'headers: the third (one on the other nginx) leaves none');

$res = get('/three', $t3);
like($res, qr{\AHTTP/1\.1 429 }, 'headers: the fourth refused');
my ($t) = $res =~ /\r\nRateLimit: "three";r=0;t=(\d+)\r\n/;
my ($ra) = $res =~ /\r\nRetry-After: (\d+)\r\n/;
my ($ms) = $res =~ /\r\nretry-after-ms: (\d+)\r\n/;
ok(defined $t && defined $ra && $ra == $t,
   "429: Retry-After $ra equals RateLimit's t $t (the window's end)");
ok($ms > ($ra - 1) * 1000 && $ms <= $ra * 1000,
   "429: retry-after-ms $ms within Retry-After");
my ($body) = $res =~ /\r\n\r\n(.*)\z/s;
is($body, qq'{"error":{"code":"rate_limited",'
          . qq'"message":"limit three exceeded"}}\n',
   '429: the JSON error names the limit');

# 5. a refusal remembered: the next ones cost Redis nothing
my $before = commands_processed();
$st = burst(20, '/three', $t3);
is($st->{429}, 20, 'remembered: 20 more refused');
my $spent = commands_processed() - $before;
# the INFO itself counts one; PINGs of four workers may come meanwhile
cmp_ok($spent, '<=', 6,
       "remembered: Redis saw $spent commands for 20 refusals (INFO, PINGs)");

# 6. a later limit refusing gives the earlier one's count back
my $t2 = token('two');
like(get('/two', $t2), qr{\AHTTP/1\.1 200 }, 'two limits: the first through');
like(get('/two', $t2), qr{\AHTTP/1\.1 429 }, 'two limits: second refused');
# the count is given back by a command sent after the 429: wait (up to
# 5 s) for it to be 1 again, then say what it is
my $found;
wait_for(5, sub {
    $found = redis_cmd($rport, 'KEYS', "llmgw:{two-$run}:first:q:*");
    @$found == 1 && (redis_cmd($rport, 'GET', $found->[0]) // '') eq '1';
}, 0.05);
is(scalar @$found, 1, 'two limits: one key of the first limit');
is(redis_cmd($rport, 'GET', $found->[0]), 1,
   'two limits: the refused request counted nowhere (1, not 2)');
my $pttl = redis_cmd($rport, 'PTTL', $found->[0]);
ok($pttl > 0 && $pttl <= 86400 * 1000,
   "two limits: the key expires with its window ($pttl ms)");

# 7. the keys carry the subject as a hash tag
my $qkeys = redis_cmd($rport, 'KEYS', "llmgw:{quota-$run}:*");
is(scalar @$qkeys, 1, 'keys: one for the quota of the subject');
like($qkeys->[0], qr/\Allmgw:\{quota-\Q$run\E\}:fifty:q:\d+\z/,
     'keys: llmgw:{KEY}:NAME:q:START');
my $rkeys = redis_cmd($rport, 'KEYS', "llmgw:{rate-$run}:*");
is_deeply($rkeys, ["llmgw:{rate-$run}:twenty:g"], 'keys: the rate\'s :g');

# 8. a stream in flight holds the concurrency limit across both nginx;
#    its client leaving mid-stream gives it back
my $CHAT = '{"stream":true,"messages":[{"role":"user","content":"hi"}]}';
my $PATH = '/azure/openai/deployments/gpt-4o/chat/completions'
           . '?api-version=2024-10-21';
my $stream_token = token('stream');

sub chat_request {
    my ($token, %h) = @_;
    return client_post_request($PATH, $token, $CHAT, %h);
}

sub status_of {
    my ($req, $port) = @_;
    return client_send($port // $ports[0], $req);
}

my $long = client_connect($ports[0]);
print $long chat_request($stream_token, 'x-mock-events' => 100,
                         'x-mock-delay-ms' => 100);

my $first = client_read_until($long, qr/data: /);
my $deadline;

like($first, qr{\AHTTP/1\.1 200 .*data: }s, 'stream: the first event came');

$res = status_of(chat_request($stream_token), $ports[1]);
like($res, qr{\AHTTP/1\.1 429 },
     'stream in flight on one nginx: refused on the other');
like($res, qr{\r\nRetry-After: 1\r\nretry-after-ms: 1000\r\n},
     'stream in flight: Retry-After 1, retry-after-ms 1000');
is(redis_cmd($rport, 'ZCARD', "llmgw:{stream-$run}:one-stream:c"), 1,
   'stream in flight: one lease in Redis');

close $long;

my $after = '';
$deadline = time() + 5;

while (time() < $deadline) {
    $after = status_of(chat_request($stream_token), $ports[1]);
    last if $after =~ m{\AHTTP/1\.1 200 };
    sleep 0.1;
}

like($after, qr{\AHTTP/1\.1 200 }, 'stream: given back on client abort');

$deadline = time() + 10;

while (time() < $deadline) {
    last if redis_cmd($rport, 'ZCARD', "llmgw:{stream-$run}:one-stream:c")
            == 0;
    sleep 0.05;
}

is(redis_cmd($rport, 'ZCARD', "llmgw:{stream-$run}:one-stream:c"), 0,
   'stream: no lease left once both ended');

nginx_stop($_->{pid}) for @nginx;

for my $n (@nginx) {
    open my $fh, '<', "$n->{dir}/logs/error.log" or next;
    my @bad = grep { /\[(alert|emerg|crit)\]|Redis .* applies/ } <$fh>;
    close $fh;
    is(scalar @bad, 0, 'error log: no alert, no policy applied')
        or diag(@bad);
}

# 9. nginx -t refusals
my $dir = nginx_prefix();
my @bad = (
    [ "llmgw_limit_zone z:1m redis down=maybe;",
      qr/llmgw_limit_zone "z": invalid parameter "down=maybe"/,
      'down=maybe' ],
    [ "llmgw_limit_zone z:1m redis nodes=0;",
      qr/llmgw_limit_zone "z": invalid parameter "nodes=0"/, 'nodes=0' ],
    [ "llmgw_limit_zone z:1m redis timeout=soon;",
      qr/llmgw_limit_zone "z": invalid parameter "timeout=soon"/,
      'timeout=soon' ],
    [ "llmgw_limit_zone z:1m memcached;",
      qr/llmgw_limit_zone: invalid parameter "memcached" \("redis" expected\)/,
      'another store' ],
    [ "llmgw_limit_zone z:1m redis;\n"
      . "    llmgw_limit x zone=z key=\$llmgw_sub quota=1/day;",
      qr/llmgw_limit "x": llmgw_limit_zone "z" is in Redis, but there is no "llmgw_redis"/,
      'no llmgw_redis' ],
);

for my $b (@bad) {
    my ($conf, $re, $what) = @$b;
    nginx_conf($dir, "    $conf\n");
    my ($ok, $out) = nginx_check($dir);
    ok(!$ok, "nginx -t refuses: $what");
    like($out, $re, "nginx -t says why: $what");
}

nginx_conf($dir, <<"_EOC_");
    llmgw_redis 127.0.0.1:$rport;
    llmgw_limit_zone z:1m redis timeout=50ms down=local nodes=3 lease=1h;
    server {
        listen 127.0.0.1:@{[ free_port() ]};
        location / {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_jwt_issuer any;
            llmgw_jwt_audience any;
            llmgw_limit x zone=z key=\$llmgw_sub rate=10r/s burst=5;
        }
    }
_EOC_
my ($ok, $out) = nginx_check($dir);
ok($ok, 'nginx -t accepts every parameter') or diag($out);

redis_stop($redis);

done_testing();
