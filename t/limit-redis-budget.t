# llmgw_limit's token and cost budgets in a Redis zone (llmgw_limit_zone
# NAME:SIZE redis), end to end: two nginx of two workers each on one
# redis-server of this suite's own, against the mock provider
# (t/mock/README.md: input tokens = the words of the request's text,
# output tokens = the reply's pieces, 6 unless X-Mock-Events says).
#
# Once llmgw_pass has read the body a budget reserves in Redis (the
# library's reserve: the count of the window INCRBY the amount, the
# amount under the reservation's id in the window's :h hash), and the
# log phase settles that id to the usage the provider reported (0 when
# it reported none).  Each case reads Redis itself: the count (GET) and
# the reservations (HGETALL of the :h hash), none left behind.
#
#   - Azure chat, plain (and held by the provider: the reservation seen
#     in Redis while the call runs) and streamed; Bedrock invoke;
#   - the provider answering 500, the client leaving mid-stream: given
#     back; a maximum larger than what is left: 429 and its fields,
#     counted nowhere;
#   - 50 calls at once on two nginx against room for 10: exactly 10
#     through, and the count after them exactly their usage;
#   - a cost budget by llmgw_price; two budgets, the second refusing;
#   - Redis slower than the timeout (down=open), the client leaving while
#     its reservation waits for Redis: the late reservation given back;
#   - a reload while a call is in flight: settled once;
#   - Redis stopped, down=local: reserved and trued up in shared memory.
#
# Plain Test::More: two nginx, a client that leaves, many sockets.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use IO::Select;
use POSIX qw(ceil);
use Time::HiRes qw(time sleep);
use LLMGW::Test qw(:all);
use LLMGW::Nginx;
use LLMGW::Client;
use LLMGW::Limit;
use LLMGW::Redis qw(redis_start redis_stop redis_cmd redis_conn redis_send
                    redis_sleep redis_read);

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
my $redis = redis_start(args => ['--enable-debug-command', 'yes']);
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
    llmgw_limit_zone budgets:1m redis timeout=1s down=closed;
    llmgw_limit_zone quick:1m redis timeout=200ms down=open;
    llmgw_limit_zone near:1m redis timeout=200ms down=local;

    llmgw_price gpt-4o input=2.5 output=10;

    server {
        listen 127.0.0.1:$port backlog=512;

        location /azure/ {
$auth
            llmgw_limit tok zone=budgets key=\$llmgw_sub tokens=1000/day
                        estimate=100;
            llmgw_limit_headers openai;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /azure;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
        }

        location /bedrock/ {
$auth
            llmgw_limit tok zone=budgets key=\$llmgw_sub tokens=1000/day
                        estimate=100;
            llmgw_provider bedrock;
            llmgw_pass_strip_prefix /bedrock;
            llmgw_pass http://$mock;
            llmgw_pass_host bedrock-runtime.us-east-1.amazonaws.com;
            llmgw_pass_aws_credentials file=$secrets/aws-credentials;
        }

        location /two/ {
$auth
            llmgw_limit big zone=budgets key=\$llmgw_sub tokens=1000/day;
            llmgw_limit small zone=budgets key=\$llmgw_sub tokens=100/hour;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /two;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
        }

        location /quick/ {
$auth
            llmgw_limit tok zone=quick key=\$llmgw_sub tokens=1000/day;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /quick;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
        }

        location /near/ {
$auth
            llmgw_limit tok zone=near key=\$llmgw_sub tokens=1000/day;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /near;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
        }

        location /cost/ {
$auth
            llmgw_limit spend zone=budgets key=\$llmgw_sub cost=0.001/day;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /cost;
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

my $AZURE = '/azure/openai/deployments/gpt-4o/chat/completions'
            . '?api-version=2024-10-21';
my $COST = '/cost/openai/deployments/gpt-4o/chat/completions'
           . '?api-version=2024-10-21';
my $MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1%3A0';

sub connect_to { client_connect($_[0] // $ports[0]) }

# a POST to the first nginx, or to the one of port => PORT
sub send_one {
    my ($path, $token, $body, %h) = @_;
    my $port = delete $h{port};

    return client_send($port // $ports[0],
                       client_post_request($path, $token, $body, %h));
}

# the subject's budget in Redis: [ the count, { id => amount } ]
sub budget {
    my ($who, $name) = @_;
    my $found = redis_cmd($rport, 'KEYS', "llmgw:{$who-$run}:$name:q:*");
    my ($key) = grep { !/:h\z/ } @$found;

    return [ undef, {} ] unless defined $key;

    my $h = redis_cmd($rport, 'HGETALL', "$key:h") // [];

    return [ redis_cmd($rport, 'GET', $key), { @$h } ];
}

# the settle runs in the log phase, an instant after the client has read
# the response: the budget once it is the count expected, none reserved
sub settled {
    my ($who, $name, $count) = @_;
    my $deadline = time() + 10;
    my $b;

    while (1) {
        $b = budget($who, $name);
        last if defined $b->[0] && $b->[0] == $count && !%{ $b->[1] };
        last if time() > $deadline;
        sleep 0.05;
    }

    return $b;
}

# 1. Azure chat: reserved in Redis while the call runs, settled to 3 + 6
{
    my $t = token('azure');
    my $body = budget_chat(max => 50);
    my $e = budget_reserve($body, 50);

    my $s = connect_to();
    print $s client_post_request($AZURE, $t, $body,
                                 'x-mock-fault' => 'slow-1000');

    my ($b, $deadline) = (undef, time() + 10);

    do {
        sleep 0.05;
        $b = budget('azure', 'tok');
    } until (defined $b->[0] || time() > $deadline);

    is($b->[0], $e, "azure: $e reserved in Redis while the call runs");
    my @held = values %{ $b->[1] };
    is_deeply(\@held, [$e], 'azure: one reservation of that amount in :h');
    like((keys %{ $b->[1] })[0] // '', qr/\A[^:]+:\d+:\d+\z/,
         'azure: its id is host:pid:sequence');

    my $res = do { local $/; <$s> // '' };
    close $s;

    is(client_status($res), 200, 'azure: the call through');
    is(ratelimit_left($res, 'tok'), 1000 - $e,
       "azure: RateLimit says $e reserved");
    like($res, qr/\r\nx-ratelimit-remaining-tokens: @{[1000 - $e]}\r\n/,
         'azure: x-ratelimit-remaining-tokens after the reservation');

    $b = settled('azure', 'tok', 9);
    is($b->[0], 9, 'azure: settled to its usage, 9');
    is_deeply($b->[1], {}, 'azure: no reservation left behind');

    # the other nginx sees the same count
    $res = send_one($AZURE, $t, $body, port => $ports[1]);
    is(ratelimit_left($res, 'tok'), 1000 - 9 - $e,
       'azure: the other nginx counts from the same 9');

    $b = settled('azure', 'tok', 18);
    is($b->[0], 18, 'azure: the other nginx\'s call settled, 18');
    is_deeply($b->[1], {}, 'azure: none left behind');

    # streamed: include_usage is added, the last chunk's usage counts
    my $sbody = budget_chat(max => 50, stream => 1);
    my $se = budget_reserve($sbody, 50);

    $res = send_one($AZURE, $t, $sbody, 'x-mock-events' => 20);
    is(client_status($res), 200, 'azure stream: 200');
    like($res, qr/data: \[DONE\]/, 'azure stream: the stream ended');
    is(ratelimit_left($res, 'tok'), 1000 - 18 - $se,
       "azure stream: $se reserved");

    $b = settled('azure', 'tok', 18 + 23);
    is($b->[0], 41, 'azure stream: settled to 3 + 20');
    is_deeply($b->[1], {}, 'azure stream: none left behind');

    my $pttl = redis_cmd($rport, 'PTTL',
        (grep { !/:h\z/ } @{ redis_cmd($rport, 'KEYS',
                                       "llmgw:{azure-$run}:tok:q:*") })[0]);
    ok($pttl > 0 && $pttl <= 86400 * 1000,
       "azure: the count expires with its day ($pttl ms)");
}

# 2. Bedrock invoke: max_tokens 64 reserved, settled to 5 + 6
{
    my $t = token('bedrock');
    my $invoke = '{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,'
                 . '"system":"be brief","messages":[{"role":"user",'
                 . '"content":"hi there you"}]}';

    my $res = send_one("/bedrock/model/$MODEL/invoke", $t, $invoke);
    is(client_status($res), 200, 'bedrock invoke: 200');
    is(ratelimit_left($res, 'tok'), 1000 - budget_reserve($invoke, 64),
       'bedrock invoke: max_tokens 64 reserved');

    my $b = settled('bedrock', 'tok', 11);
    is($b->[0], 11, 'bedrock invoke: settled to 11');
    is_deeply($b->[1], {}, 'bedrock invoke: none left behind');
}

# 3. failures give the reservation back whole
{
    my $t = token('fail');
    my $body = budget_chat(max => 50);
    my $e = budget_reserve($body, 50);

    my $res = send_one($AZURE, $t, $body, 'x-mock-fault' => 'status-500');
    is(client_status($res), 500, 'provider 500: passed on');
    is(ratelimit_left($res, 'tok'), 1000 - $e, 'provider 500: reserved first');

    my $b = settled('fail', 'tok', 0);
    is($b->[0], 0, 'provider 500: given back whole, 0');
    is_deeply($b->[1], {}, 'provider 500: none left behind');

    # the client leaves mid-stream, before the usage at the end
    my $sbody = budget_chat(max => 50, stream => 1);
    my $s = connect_to($ports[1]);
    print $s client_post_request($AZURE, $t, $sbody,
                                 'x-mock-events' => 100,
                                 'x-mock-delay-ms' => 100);

    my $first = '';
    my $sel = IO::Select->new($s);
    my $deadline = time() + 10;

    while ($first !~ /data: / && time() < $deadline) {
        last unless $sel->can_read(1);
        sysread($s, $first, 4096, length $first) or last;
    }

    like($first, qr{\AHTTP/1\.1 200 .*data: }s, 'abort: the stream began');
    $b = budget('fail', 'tok');
    is($b->[0], budget_reserve($sbody, 50), 'abort: reserved in Redis');
    is(scalar keys %{ $b->[1] }, 1, 'abort: one reservation held');
    close $s;

    # nginx sees the client gone at its next write, 100 ms at most
    $b = settled('fail', 'tok', 0);
    is($b->[0], 0, 'abort: the stream\'s reservation given back');
    is_deeply($b->[1], {}, 'abort: none left behind');

    # a maximum larger than what is left: refused, counted nowhere
    send_one($AZURE, $t, $body);
    settled('fail', 'tok', 9);

    my $big = budget_chat(max => 990);
    $res = send_one($AZURE, $t, $big, port => $ports[1]);
    is(client_status($res), 429, 'too large: 429');
    like($res, qr/\r\nRetry-After: [1-9]\d*\r\nretry-after-ms: [1-9]\d*\r\n/,
         'too large: Retry-After and retry-after-ms');
    like($res, qr/\r\nRateLimit: "tok";r=991;t=\d+\r\n/,
         'too large: RateLimit says what is left, 991');
    like($res, qr/\r\nRateLimit-Policy: "tok";q=1000;w=86400;/,
         'too large: RateLimit-Policy');
    my ($json) = $res =~ /\r\n\r\n(.*)\z/s;
    is($json, qq'{"error":{"code":"rate_limited",'
              . qq'"message":"limit tok exceeded"}}\n',
       'too large: the JSON names the limit');

    $b = budget('fail', 'tok');
    is($b->[0], 9, 'too large: nothing counted in Redis');
    is_deeply($b->[1], {}, 'too large: nothing reserved');

    # a budget's refusal is the amount's, not the key's: a call that fits
    # goes through at once on the nginx that refused (no refusal
    # remembered there as a quota's is)
    $res = send_one($AZURE, $t, $body, port => $ports[1]);
    is(client_status($res), 200, 'too large: a call that fits then passes');
    is(ratelimit_left($res, 'tok'), 1000 - 9 - $e,
       'too large: reserved from what is left');
    $b = settled('fail', 'tok', 18);
    is($b->[0], 18, 'too large: the next call settled, 18');
}

# 4. two nginx, 50 calls at once, each reserving exactly 100 of 1000, held
#    by the provider for a second: exactly 10 through; then the count is
#    their usage, 10 x 9
{
    my $t = token('burst');
    my ($body, $max) = budget_chat_reserving(100);

    is(budget_reserve($body, $max), 100, 'burst: each reserves exactly 100');

    my $req = client_post_request($AZURE, $t, $body,
                                  'x-mock-fault' => 'slow-1000');
    my %status = %{ client_burst_send(50, $req, @ports) };

    is($status{200}, 10, 'burst: exactly 10 of 50 through, on two nginx');
    is($status{429}, 40, 'burst: the 40 others refused');

    my $b = settled('burst', 'tok', 90);
    is($b->[0], 90, 'burst: the ten settled to 9 each, exactly');
    is_deeply($b->[1], {}, 'burst: none left behind');
}

# 5. a cost budget: 1000 micro-units a day; gpt-4o at 2.5 and 10 a
#    million tokens
{
    my $t = token('cost');
    my $body = budget_chat(max => 50);
    my $in = ceil(length($body) / 4);
    my $e = int($in * 2.5 + 50 * 10 + 0.5);

    my $res = send_one($COST, $t, $body);
    is(client_status($res), 200, 'cost: the first call');
    is(ratelimit_left($res, 'spend'), 1000 - $e,
       "cost: $e micro-units reserved");

    # 3 x 2.5 + 6 x 10 = 67.5, rounded half up
    my $b = settled('cost', 'spend', 68);
    is($b->[0], 68, 'cost: settled to 68 micro-units');
    is_deeply($b->[1], {}, 'cost: none left behind');

    $res = send_one($COST, $t, budget_chat(max => 100), port => $ports[1]);
    is(client_status($res), 429,
       'cost: a call that could cost more than is left');
    is(settled('cost', 'spend', 68)->[0], 68, 'cost: the refusal counted '
       . 'nowhere');
}

# 6. two budgets: the second refusing gives the first's reservation back
{
    my $t = token('two');
    my $TWO = '/two/openai/deployments/gpt-4o/chat/completions'
              . '?api-version=2024-10-21';
    my $body = budget_chat(max => 50);
    my $e = budget_reserve($body, 50);

    my $res = send_one($TWO, $t, $body);
    is(client_status($res), 200, 'two budgets: the first call');
    is(settled('two', 'big', 9)->[0], 9, 'two budgets: big settled to 9');
    is(settled('two', 'small', 9)->[0], 9,
       'two budgets: small settled to 9');

    $res = send_one($TWO, $t, budget_chat(max => 85), port => $ports[1]);
    is(client_status($res), 429, 'two budgets: the second refuses 85 + 15');
    like($res, qr/"message":"limit small exceeded"/,
         'two budgets: the refusal names the second');

    my $b = settled('two', 'big', 9);
    is($b->[0], 9, 'two budgets: the first\'s reservation given back');
    is_deeply($b->[1], {}, 'two budgets: none left behind in the first');
    $b = budget('two', 'small');
    is($b->[0], 9, 'two budgets: the second counted nothing');
    is_deeply($b->[1], {}, 'two budgets: none reserved in the second');
}

# 7. Redis slower than the zone's timeout=200ms (DEBUG SLEEP): down=open
#    lets the call through uncounted, and the reservation Redis makes
#    once it wakes is given back (settled at 0 behind it)
{
    my $t = token('quick');
    my $QUICK = '/quick/openai/deployments/gpt-4o/chat/completions'
                . '?api-version=2024-10-21';
    my $body = budget_chat(max => 50);

    my $sleeper = redis_sleep($rport, '2');

    my $t0 = time();
    my $res = send_one($QUICK, $t, $body);
    my $took = time() - $t0;

    is(client_status($res), 200, 'slow Redis: down=open lets the call through');
    # Redis has not answered the sleeper yet: it still sleeps
    ok(!IO::Select->new($sleeper)->can_read(0),
       sprintf('slow Redis: answered in %.2f s, before Redis woke', $took));
    is(redis_read($sleeper), 'OK', 'slow Redis: DEBUG SLEEP ended');
    close $sleeper;

    my $b = settled('quick', 'tok', 0);
    is($b->[0], 0, 'slow Redis: the late reservation given back, 0');
    is_deeply($b->[1], {}, 'slow Redis: none left behind');

    # and Redis counts again
    $res = send_one($QUICK, $t, $body);
    is(client_status($res), 200, 'slow Redis: the next call');
    is(settled('quick', 'tok', 9)->[0], 9,
       'slow Redis: counted and settled again, 9');
}

# 8. the client leaves while its reservation waits for Redis (DEBUG
#    SLEEP under the zone's timeout=1s): the call is canceled, and the
#    reservation Redis makes once it wakes is given back
{
    my $t = token('gone');
    my $body = budget_chat(max => 50);

    my $sleeper = redis_sleep($rport, '0.8');

    my $s = connect_to($ports[1]);
    print $s client_post_request($AZURE, $t, $body);
    sleep 0.4;      # nginx has read the body and sent the reservation
    close $s;

    is(redis_read($sleeper), 'OK', 'client gone: DEBUG SLEEP ended');
    close $sleeper;

    my $b = settled('gone', 'tok', 0);
    is($b->[0], 0, 'client gone: the late reservation given back, 0');
    is_deeply($b->[1], {}, 'client gone: none left behind');

    my $res = send_one($AZURE, $t, $body, port => $ports[1]);
    is(client_status($res), 200, 'client gone: the next call through');
    is(settled('gone', 'tok', 9)->[0], 9, 'client gone: then settled, 9');
}

# 9. a reload (HUP) while a call is in flight: the old worker settles
#    its reservation, once
{
    my $t = token('reload');
    my $body = budget_chat(max => 50);
    my $e = budget_reserve($body, 50);

    my $s = connect_to();
    print $s client_post_request($AZURE, $t, $body,
                                 'x-mock-fault' => 'slow-1500');

    my ($b, $deadline) = (undef, time() + 10);

    do {
        sleep 0.05;
        $b = budget('reload', 'tok');
    } until (defined $b->[0] || time() > $deadline);

    is($b->[0], $e, 'reload: the call in flight reserved');

    kill 'HUP', $nginx[0]{pid};

    my $res = do { local $/; <$s> // '' };
    close $s;

    is(client_status($res), 200, 'reload: the call in flight finished');

    $b = settled('reload', 'tok', 9);
    is($b->[0], 9, 'reload: settled to its usage by the old worker');
    is_deeply($b->[1], {}, 'reload: none left behind');
}

# 10. Redis stopped, down=local: the node reserves in its shared memory
#     and trues up there, as a zone without Redis does
redis_stop($redis);

{
    my $t = token('near');
    my $NEAR = '/near/openai/deployments/gpt-4o/chat/completions'
               . '?api-version=2024-10-21';
    my $body = budget_chat(max => 50);
    my $e = budget_reserve($body, 50);

    my $res = send_one($NEAR, $t, $body);
    is(client_status($res), 200, 'down=local: the call through');
    is(ratelimit_left($res, 'tok'), 1000 - $e,
       "down=local: $e reserved locally");

    # a probe always refused (counts nothing) until the true-up is in
    my $deadline = time() + 10;

    while (time() < $deadline) {
        $res = send_one($NEAR, $t, '{"max_tokens":100000000}');
        last if ratelimit_left($res, 'tok') eq 1000 - 9;
        sleep 0.05;
    }

    $res = send_one($NEAR, $t, $body);
    is(ratelimit_left($res, 'tok'), 1000 - 9 - $e,
       'down=local: the first trued up to its usage, 9, in shared memory');
}

nginx_stop($_->{pid}) for @nginx;

# no worker died, nothing nginx calls critical
for my $n (@nginx) {
    open my $fh, '<', "$n->{dir}/logs/error.log" or die "error.log: $!";
    my @bad = grep { /\[(?:alert|crit|emerg)\]|exited on signal/ } <$fh>;
    close $fh;

    is(scalar @bad, 0, 'error log: no alert, no worker crash')
        or diag(join '', @bad[0 .. ($#bad > 4 ? 4 : $#bad)]);
}

done_testing();
