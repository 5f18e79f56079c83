# llmgw_limit's token and cost budgets in shared memory, on an nginx of
# four workers, against the mock provider (t/mock/README.md: input tokens
# = the words of the request's text, output tokens = the reply's pieces,
# 6 unless X-Mock-Events says).  A budget reserves, once the body is read,
# the output tokens the body allows (or estimate=) plus the body's bytes
# / 4 rounded up; the log phase trues the reservation up to the usage
# the provider reported, or gives it back whole when it reported none.
# The RateLimit field of each response says what was left once its own
# reservation was made, so a run of requests reads every true-up exactly:
#
#   - Azure chat, plain and streamed; Bedrock invoke and converse-stream;
#     Gemini generateContent: each name their maximum their own way;
#   - the provider answering 500, the client leaving mid-stream: given
#     back; a maximum larger than what is left: 429, counted nowhere;
#   - a cost budget by llmgw_price; a limit keyed by a model only the
#     body names; OpenAI's x-ratelimit-*-tokens;
#   - 50 calls at once against room for 10: exactly 10 through, and the
#     count after them exactly their usage;
#   - a reload (HUP) while a call is in flight: trued up once, in the zone
#     the reload kept.
#
# Plain Test::More: headers that differ between requests, a client that
# leaves, many sockets at once.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use IO::Select;
use JSON::PP;
use POSIX qw(ceil);
use Time::HiRes qw(time sleep);
use LLMGW::Test qw(:all);
use LLMGW::Nginx;
use LLMGW::Client;
use LLMGW::Limit;

for my $v (qw(TEST_NGINX_LOAD_MODULES TEST_NGINX_MOCK_PORT
              TEST_NGINX_MOCK_SECRETS))
{
    plan skip_all => "$v is not set (t/run-tests.sh sets it)"
        unless $ENV{$v};
}

my $keys = llmgw_keys_dir();
my $secrets = $ENV{TEST_NGINX_MOCK_SECRETS};
my $mock = "127.0.0.1:$ENV{TEST_NGINX_MOCK_PORT}";
my $dir = nginx_prefix();
my $port = free_port();

my $auth = <<"_EOC_";
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
_EOC_

my $http = <<"_EOC_";
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_limit_zone budgets:1m;

    llmgw_price gpt-4o input=2.5 output=10;

    server {
        listen 127.0.0.1:$port backlog=512;

        location /azure/ {
$auth
            llmgw_limit tok zone=budgets key=\$llmgw_sub tokens=1000/day
                        estimate=100;
            llmgw_limit_headers openai;
            llmgw_audit $dir/logs/audit.log;
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

        location /gemini/ {
$auth
            llmgw_limit tok zone=budgets key=\$llmgw_sub tokens=1000/day
                        estimate=100;
            llmgw_provider gemini;
            llmgw_pass_strip_prefix /gemini;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/gemini.key;
        }

        location /cost/ {
$auth
            llmgw_limit spend zone=budgets key=\$llmgw_sub cost=0.001/day;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /cost;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
        }

        location /openai/ {
$auth
            llmgw_limit per-model zone=budgets key=\$llmgw_sub:\$llmgw_model
                        quota=1/day;
            llmgw_provider openai;
            llmgw_pass_strip_prefix /openai;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/openai.key;
        }
    }
_EOC_

nginx_conf($dir, $http, workers => 4);

my $pid = nginx_start($dir, $port)
    or BAIL_OUT('nginx did not start: ' . (nginx_check($dir))[1]);

# subjects of this run only
my $run = "$$-" . int(time() * 1000);

sub token { llmgw_token(sub => "$_[0]-$run", scope => 'text') }

my $AZURE = '/azure/openai/deployments/gpt-4o/chat/completions'
            . '?api-version=2024-10-21';
my $COST = '/cost/openai/deployments/gpt-4o/chat/completions'
           . '?api-version=2024-10-21';
my $MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1%3A0';

sub send_one { client_send($port, client_post_request(@_)) }

# The log phase runs an instant after the client has read the response
# (a lingering close).  Before the next request, a probe that is always
# refused (its maximum is far over any budget: it counts nothing, and its
# RateLimit says what is left) waits until the count is the one expected;
# then the request: its RateLimit says what is left after its reservation.
my $PROBE = '{"max_tokens":100000000}';

sub wait_left {
    my ($before, $name, $path, $token) = @_;
    my $deadline = time() + 10;

    while (time() < $deadline) {
        my $res = send_one($path, $token, $PROBE);
        return 1 if ratelimit_left($res, $name) eq $before;
        sleep 0.05;
    }

    return 0;
}

sub until_left {
    my ($before, $e, $name, @req) = @_;

    wait_left($before, $name, $req[0], $req[1]);
    return send_one(@req);
}

# 1. Azure chat: reserved, then trued up to 3 + 6 = 9
{
    my $t = token('azure');
    my $body = budget_chat(max => 50);
    my $e = budget_reserve($body, 50);

    my $res = send_one($AZURE, $t, $body);
    is(client_status($res), 200, 'azure: the first call');
    is(ratelimit_left($res, 'tok'), 1000 - $e, "azure: $e reserved of 1000");
    my $policy = '"tok";q=1000;w=86400;llmgw-unit="tokens"';
    like($res, qr/\r\nRateLimit-Policy: \Q$policy\E\r\n/,
         'azure: the policy says the unit is tokens');
    my $left = 1000 - $e;
    like($res, qr/\r\nx-ratelimit-limit-tokens:\x201000\r\n
                 x-ratelimit-remaining-tokens:\x20$left\r\n
                 x-ratelimit-reset-tokens:\x20\S+s\r\n/x,
         'azure: OpenAI\'s -tokens family');
    unlike($res, qr/x-ratelimit-limit-requests/,
           'azure: no -requests family for a budget');

    $res = until_left(1000 - 9, $e, 'tok', $AZURE, $t, $body);
    is(ratelimit_left($res, 'tok'), 1000 - 9 - $e,
       'azure: the first trued up to its usage, 9');

    # streamed: include_usage is added, the last chunk's usage counts
    my $sbody = budget_chat(max => 50, stream => 1);
    my $se = budget_reserve($sbody, 50);

    $res = until_left(1000 - 18, $se, 'tok', $AZURE, $t, $sbody,
                      'x-mock-events' => 20);
    is(ratelimit_left($res, 'tok'), 1000 - 18 - $se,
       'azure: a stream reserved after two calls of 9');
    like($res, qr/data: \[DONE\]/, 'azure: the stream ended');

    $res = until_left(1000 - 18 - 23, $e, 'tok', $AZURE, $t, $body);
    is(ratelimit_left($res, 'tok'), 1000 - 18 - 23 - $e,
       'azure: the stream trued up to 3 + 20');

    # no maximum in the body: estimate=100
    my $nbody = budget_chat();
    $res = until_left(1000 - 50, budget_reserve($nbody, 100), 'tok',
                      $AZURE, $t, $nbody);
    is(ratelimit_left($res, 'tok'), 1000 - 50 - budget_reserve($nbody, 100),
       'azure: no max_tokens: estimate=100 reserved');
}

# 2. failures give the reservation back whole
{
    my $t = token('fail');
    my $body = budget_chat(max => 50);
    my $e = budget_reserve($body, 50);

    my $res = send_one($AZURE, $t, $body, 'x-mock-fault' => 'status-500');
    is(client_status($res), 500, 'provider 500: passed on');
    is(ratelimit_left($res, 'tok'), 1000 - $e, 'provider 500: reserved first');

    $res = until_left(1000, $e, 'tok', $AZURE, $t, $body);
    is(ratelimit_left($res, 'tok'), 1000 - $e,
       'provider 500: given back whole');

    # the client leaves mid-stream, before the usage at the end (once the
    # last call is trued up: its log phase may still be to run)
    my $sbody = budget_chat(max => 50, stream => 1);
    wait_left(1000 - 9, 'tok', $AZURE, $t);
    my $s = client_connect($port);
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
    is(ratelimit_left($first, 'tok'), 1000 - 9 - budget_reserve($sbody, 50),
       'abort: the stream reserved');
    close $s;

    # nginx sees the client gone at its next write, 100 ms at most
    $res = until_left(1000 - 9, $e, 'tok', $AZURE, $t, $body);
    is(ratelimit_left($res, 'tok'), 1000 - 9 - $e,
       'abort: the stream\'s reservation given back');

    # a maximum larger than what is left: refused, counted nowhere (once
    # the last call is trued up)
    my $big = budget_chat(max => 990);
    $res = until_left(1000 - 18, 0, 'tok', $AZURE, $t, $big);
    is(client_status($res), 429, 'too large: 429');
    like($res, qr/\r\nRetry-After: [1-9]\d*\r\nretry-after-ms: [1-9]\d*\r\n/,
         'too large: Retry-After and retry-after-ms');
    like($res, qr/\r\nRateLimit: "tok";r=@{[1000 - 18]};t=\d+\r\n/,
         'too large: RateLimit says what is left');
    my ($json) = $res =~ /\r\n\r\n(.*)\z/s;
    is($json, qq'{"error":{"code":"rate_limited",'
              . qq'"message":"limit tok exceeded"}}\n',
       'too large: the JSON names the limit');

    $res = send_one($AZURE, $t, $body);
    is(ratelimit_left($res, 'tok'), 1000 - 18 - $e,
       'too large: nothing counted');

    # the audit line of the refusal: a denial naming the limit, no call
    my ($line, $deadline2) = (undef, time() + 10);

    while (!$line && time() < $deadline2) {
        open my $fh, '<', "$dir/logs/audit.log" or die $!;
        while (<$fh>) {
            my $l = eval { JSON::PP->new->decode($_) } or next;
            $line = $l if ($l->{status} // 0) == 429;
        }
        close $fh;
        sleep 0.1 unless $line;
    }

    is($line->{decision}, 'deny', 'too large: the audit line is a denial');
    is($line->{reason}, 'limit tok exceeded',
       'too large: the audit line names the limit');
}

# 3. Bedrock and Gemini name their maximum their own way
{
    my $t = token('other');
    my $invoke = '{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,'
                 . '"system":"be brief","messages":[{"role":"user",'
                 . '"content":"hi there you"}]}';
    my $converse = '{"inferenceConfig":{"maxTokens":40},"messages":[{"role":'
                   . '"user","content":[{"text":"a b c d e f g"}]}]}';
    my $gemini = '{"generationConfig":{"maxOutputTokens":30},"contents":'
                 . '[{"role":"user","parts":[{"text":"p q"}]}]}';

    my $res = send_one("/bedrock/model/$MODEL/invoke", $t, $invoke);
    is(client_status($res), 200, 'bedrock invoke: 200');
    is(ratelimit_left($res, 'tok'), 1000 - budget_reserve($invoke, 64),
       'bedrock invoke: max_tokens 64 reserved');

    # invoke: 5 + 6; converse-stream: 7 + 9
    $res = until_left(1000 - 11, budget_reserve($converse, 40), 'tok',
                      "/bedrock/model/$MODEL/converse-stream", $t,
                      $converse, 'x-mock-events' => 9);
    is(ratelimit_left($res, 'tok'), 1000 - 11 - budget_reserve($converse, 40),
       'bedrock converse-stream: inferenceConfig.maxTokens reserved, '
       . 'the invoke trued up to 11');

    my $gpath = '/gemini/v1beta/models/gemini-2.0-flash:generateContent';
    $res = until_left(1000 - 27, budget_reserve($gemini, 30), 'tok', $gpath, $t,
                      $gemini);
    is(ratelimit_left($res, 'tok'), 1000 - 27 - budget_reserve($gemini, 30),
       'gemini: generationConfig.maxOutputTokens reserved, the stream '
       . 'trued up to 16');

    $res = until_left(1000 - 35, budget_reserve($gemini, 30), 'tok', $gpath, $t,
                      $gemini);
    is(ratelimit_left($res, 'tok'), 1000 - 35 - budget_reserve($gemini, 30),
       'gemini: trued up to 2 + 6');

    # streamed (SSE): each event's usageMetadata is cumulative, the last
    # counts
    (my $spath = $gpath) =~ s/:generateContent/:streamGenerateContent/;
    $res = until_left(1000 - 43, budget_reserve($gemini, 30), 'tok',
                      "$spath?alt=sse", $t, $gemini, 'x-mock-events' => 4);
    is(ratelimit_left($res, 'tok'), 1000 - 43 - budget_reserve($gemini, 30),
       'gemini stream: reserved after another 8');
    like($res, qr/usageMetadata/, 'gemini stream: the events came');

    $res = until_left(1000 - 49, budget_reserve($gemini, 30), 'tok', $gpath, $t,
                      $gemini);
    is(ratelimit_left($res, 'tok'), 1000 - 49 - budget_reserve($gemini, 30),
       'gemini stream: trued up to 2 + 4');
}

# 4. a cost budget: 1000 micro-units a day; gpt-4o at 2.5 and 10 a
#    million tokens, so a micro-unit is 0.4 input or 0.1 output tokens
{
    my $t = token('cost');
    my $body = budget_chat(max => 50);
    my $in = ceil(length($body) / 4);
    my $e = int($in * 2.5 + 50 * 10 + 0.5);

    my $res = send_one($COST, $t, $body);
    is(client_status($res), 200, 'cost: the first call');
    is(ratelimit_left($res, 'spend'), 1000 - $e,
       "cost: $e micro-units reserved");
    my $policy = '"spend";q=1000;w=86400;llmgw-unit="cost-micros"';
    like($res, qr/\r\nRateLimit-Policy: \Q$policy\E\r\n/,
         'cost: the policy says the unit');

    # 3 x 2.5 + 6 x 10 = 67.5, rounded half up
    $res = until_left(1000 - 68, $e, 'spend', $COST, $t, $body);
    is(ratelimit_left($res, 'spend'), 1000 - 68 - $e,
       'cost: trued up to 68 micro-units');

    $res = send_one($COST, $t, budget_chat(max => 100));
    is(client_status($res), 429,
       'cost: a call that could cost more than is left');
}

# 5. a limit keyed by a model only the body names
{
    my $t = token('model');
    my $path = '/openai/v1/chat/completions';
    my $b4o = '{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}';
    (my $mini = $b4o) =~ s/gpt-4o/gpt-4o-mini/;

    my $res = send_one($path, $t, $b4o);
    is(client_status($res), 200, 'model in the body: the first gpt-4o');
    like($res, qr/\r\nRateLimit: "per-model";r=0;t=\d+\r\n/,
         'model in the body: RateLimit after the body');
    is(client_status(send_one($path, $t, $b4o)), 429,
       'model in the body: the second gpt-4o refused');
    is(client_status(send_one($path, $t, $mini)), 200,
       'model in the body: gpt-4o-mini has a count of its own');
}

# 6. 50 calls at once, each reserving exactly 100 of 1000, held by the
#    provider for a second: exactly 10 through; after them the count is
#    their usage, 10 x 9
{
    my $t = token('burst');
    my ($body, $max) = budget_chat_reserving(100);

    is(budget_reserve($body, $max), 100, 'burst: each reserves exactly 100');

    my $req = client_post_request($AZURE, $t, $body,
                                  'x-mock-fault' => 'slow-1000');
    my %status = %{ client_burst_send(50, $req, $port) };

    is($status{200}, 10, 'burst: exactly 10 of 50 through');
    is($status{429}, 40, 'burst: the 40 others refused');

    my $res = until_left(1000 - 90, 100, 'tok', $AZURE, $t, $body);
    is(ratelimit_left($res, 'tok'), 1000 - 90 - 100,
       'burst: the ten trued up to 9 each, exactly');
}

# 7. a reload while a call is in flight: the old worker trues up its
#    reservation in the zone the new workers count in, once
{
    my $t = token('reload');
    my $body = budget_chat(max => 50);
    my $e = budget_reserve($body, 50);

    my $s = client_connect($port);
    print $s client_post_request($AZURE, $t, $body,
                                 'x-mock-fault' => 'slow-1500');

    my $res;
    my $deadline = time() + 10;

    do {
        $res = send_one($AZURE, $t, $PROBE);
    } while (ratelimit_left($res, 'tok') ne 1000 - $e && time() < $deadline
             && sleep 0.05);

    is(ratelimit_left($res, 'tok'), 1000 - $e,
       'reload: the call in flight reserved');

    kill 'HUP', $pid;

    local $/;
    my $slow = <$s> // '';
    close $s;

    is(client_status($slow), 200, 'reload: the call in flight finished');

    $res = until_left(1000 - 9, $e, 'tok', $AZURE, $t, $body);
    is(ratelimit_left($res, 'tok'), 1000 - 9 - $e,
       'reload: trued up to its usage, once, in the kept zone');
}

nginx_stop($pid);

# no worker died, nothing nginx calls critical (a request's count off by
# one after the body point would show here or hang a response above)
{
    open my $fh, '<', "$dir/logs/error.log" or die "error.log: $!";
    my @bad = grep { /\[(?:alert|crit|emerg)\]|exited on signal/ } <$fh>;
    close $fh;

    is(scalar @bad, 0, 'error log: no alert, crit, or worker crash')
        or diag(join '', @bad[0 .. ($#bad > 4 ? 4 : $#bad)]);
}

# 8. nginx -t refusals
my @bad = (
    [ 'llmgw_limit x zone=budgets key=$llmgw_sub tokens=10/week;',
      qr/llmgw_limit "x": invalid tokens="10\/week"/, 'an unknown period' ],
    [ 'llmgw_limit x zone=budgets key=$llmgw_sub cost=0.0000001/day;',
      qr/llmgw_limit "x": invalid cost="0.0000001\/day"/,
      'a cost finer than a micro-unit' ],
    [ 'llmgw_limit x zone=budgets key=$llmgw_sub quota=5/day estimate=9;',
      qr/llmgw_limit "x": estimate= goes with tokens= and cost= only/,
      'estimate with a quota' ],
);

for my $b (@bad) {
    my ($line, $re, $what) = @$b;
    my $t = nginx_prefix();

    nginx_conf($t, <<"_EOC_");
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_limit_zone budgets:1m;

    server {
        listen 127.0.0.1:$port;

        location / {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            $line
        }
    }
_EOC_

    my ($ok, $out) = nginx_check($t);
    ok(!$ok, "nginx -t refuses $what");
    like($out, $re, "nginx -t says why: $what");
}

done_testing();
