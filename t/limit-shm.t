# llmgw_limit in shared memory under load and over a request's life, on
# an nginx of four workers: 200 requests at once against a quota of 50
# let exactly 50 through, and a rate with a burst of 19 exactly 20; a
# concurrency limit holds a stream in flight and gives it back when the
# client goes away mid-stream; a limit per model and API kind; the audit
# line of a 429 names the limit;
# a reload (HUP) keeps the counts; nginx -t refuses what it must.  Plain
# Test::More: many sockets at once, a client that leaves, a HUP.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use LLMGW::Test qw(:all);
use LLMGW::Nginx;
use LLMGW::Client;

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
my $log = "$dir/logs/audit.log";

my $auth = <<"_EOC_";
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
_EOC_

my $http = <<"_EOC_";
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_limit_zone limits:1m;

    server {
        listen 127.0.0.1:$port backlog=512;
        llmgw_audit $log;

        location /quota {
$auth
            llmgw_limit fifty zone=limits key=\$llmgw_sub quota=50/day;
            alias $dir/html/ok.txt;
        }

        location /rate {
$auth
            llmgw_limit twenty zone=limits key=\$llmgw_sub rate=1r/m
                        burst=19;
            alias $dir/html/ok.txt;
        }

        location /rate2 {
$auth
            llmgw_limit ten zone=limits key=\$llmgw_sub rate=10r/s;
            alias $dir/html/ok.txt;
        }

        location /model/ {
$auth
            llmgw_limit model-daily zone=limits
                        key=\$llmgw_sub:\$llmgw_api:\$llmgw_model
                        quota=1/day;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /model;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
        }

        location /azure/ {
$auth
            llmgw_limit one-stream zone=limits key=\$llmgw_sub
                        concurrent=1;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /azure;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
        }
    }
_EOC_

nginx_conf($dir, $http, workers => 4);

open my $ok, '>', "$dir/html/ok.txt" or die $!;
print $ok "ok\n";
close $ok;

my $pid = nginx_start($dir, $port)
    or BAIL_OUT('nginx did not start: ' . (nginx_check($dir))[1]);

# a subject of this run only: the zone is new, but say so anyway
my $run = "$$-" . int(time() * 1000);

sub token { llmgw_token(sub => "$_[0]-$run", scope => 'text') }

# n requests sent at once on n connections; the statuses, in any order
sub burst { client_burst(@_, $port) }

# 1. 200 at once, 4 workers, a quota of 50: exactly 50
my $st = burst(200, '/quota', token('quota'));
is($st->{200}, 50, 'quota: exactly 50 of 200 concurrent requests through');
is($st->{429}, 150, 'quota: the 150 others refused with 429');

# 2. a rate of 1/min with a burst of 19: exactly 20 at once
$st = burst(200, '/rate', token('rate'));
is($st->{200}, 20, 'rate: exactly burst + 1 = 20 of 200 through');
is($st->{429}, 180, 'rate: the 180 others refused');

# 3. a stream in flight holds the concurrency limit; its client leaving
#    mid-stream gives it back
my $CHAT = '{"stream":true,"messages":[{"role":"user","content":"hi"}]}';
my $PATH = '/azure/openai/deployments/gpt-4o/chat/completions'
           . '?api-version=2024-10-21';
my $stream_token = token('stream');

sub chat_request {
    my ($token, %h) = @_;
    return client_post_request($PATH, $token, $CHAT, %h);
}

sub status_of { client_send($port, $_[0]) }

my $long = client_connect($port);
print $long chat_request($stream_token, 'x-mock-events' => 100,
                         'x-mock-delay-ms' => 100);

# the stream has begun once its first event is read
my $first = client_read_until($long, qr/data: /);
my $deadline;

like($first, qr{\AHTTP/1\.1 200 .*data: }s, 'stream: the first event came');

my $res = status_of(chat_request($stream_token));
like($res, qr{\AHTTP/1\.1 429 }, 'stream in flight: a second one refused');
like($res, qr{\r\nRateLimit: "one-stream";r=0\r\n},
     'stream in flight: RateLimit says none left (no reset for in flight)');
like($res, qr{\r\nRetry-After: 1\r\nretry-after-ms: 1000\r\n},
     'stream in flight: Retry-After 1, retry-after-ms 1000');
my ($body) = $res =~ /\r\n\r\n(.*)\z/s;
is($body, qq'{"error":{"code":"rate_limited",'
          . qq'"message":"limit one-stream exceeded"}}\n',
   'stream in flight: the JSON error names the limit');

# the client goes away mid-stream; nginx sees it at its next write
close $long;

my $after = '';
$deadline = time() + 5;

while (time() < $deadline) {
    $after = status_of(chat_request($stream_token));
    last if $after =~ m{\AHTTP/1\.1 200 };
    sleep 0.1;
}

like($after, qr{\AHTTP/1\.1 200 }, 'stream: given back on client abort');
like($after, qr{\r\nRateLimit: "one-stream";r=0\r\n},
     'stream: RateLimit of the new one in flight');

# a request whose body was read ends in a lingering close: nginx frees it
# (and gives its place back) once the client has closed its side too, an
# instant after the client saw the end of the response
$deadline = time() + 10;

while (time() < $deadline) {
    $res = status_of(chat_request($stream_token));
    last if $res =~ m{\AHTTP/1\.1 200 };
    sleep 0.05;
}

like($res, qr{\AHTTP/1\.1 200 },
     'stream: a finished request gave its place back too');

# 4. a limit per model and API kind: keyed by $llmgw_model and $llmgw_api,
#    known from the path before the body is read
my $mtok = token('model');
my $mpath = '/model/openai/deployments/%s/%s?api-version=2024-10-21';
my $EMB = '{"input":"x"}';

sub post {
    my ($path, $body) = @_;
    return status_of("POST $path HTTP/1.1\r\nHost: t\r\n"
                     . "Connection: close\r\n"
                     . "Authorization: Bearer $mtok\r\n"
                     . "Content-Type: application/json\r\n"
                     . "Content-Length: " . length($body) . "\r\n\r\n"
                     . $body);
}

my @model = (
    [ 'gpt-4o', 'chat/completions', $CHAT, 200, 'gpt-4o chat: the first' ],
    [ 'gpt-4o', 'chat/completions', $CHAT, 429, 'gpt-4o chat: the second' ],
    [ 'gpt-4o-mini', 'chat/completions', $CHAT, 200,
      'gpt-4o-mini chat: a count of its own' ],
    [ 'gpt-4o', 'embeddings', $EMB, 200,
      'gpt-4o embeddings: another API kind, another count' ],
);

for my $m (@model) {
    my ($model, $api, $body, $want, $what) = @$m;
    my $res = post(sprintf($mpath, $model, $api), $body);
    like($res, qr{\AHTTP/1\.1 $want }, "per model: $what");
}

# 5. the audit line of a 429 names the limit.  A line is written in the
#    log phase, after the response (for a POST, once its client closed):
#    wait (up to 10 s) for the 150 + 180 + 1 of sections 1, 2, 4 and at
#    least one of the stream
wait_log(10, $log, qr/"status": *429\b/, 150 + 180 + 1 + 1);

my $json = JSON::PP->new;
my @denied;

open my $fh, '<', $log or die "$log: $!";
while (<$fh>) {
    my $line = eval { $json->decode($_) } or next;
    push @denied, $line if ($line->{status} // 0) == 429;
}
close $fh;

my %by_reason;
$by_reason{$_->{reason} // ''}++ for @denied;

# the stream's 429s: one, and one more for each poll before the abort
# was seen
is($by_reason{'limit fifty exceeded'}, 150,
   'audit: the quota\'s 150 429s say "limit fifty exceeded"');
is($by_reason{'limit twenty exceeded'}, 180,
   'audit: the rate\'s 180 say "limit twenty exceeded"');
is($by_reason{'limit model-daily exceeded'}, 1,
   'audit: the model limit\'s one says "limit model-daily exceeded"');
cmp_ok($by_reason{'limit one-stream exceeded'} // 0, '>=', 1,
       'audit: the stream\'s say "limit one-stream exceeded"');
is(scalar(keys %by_reason), 4, 'audit: no 429 for any other reason');
is(scalar(grep { ($_->{decision} // '') eq 'deny' } @denied),
   scalar @denied, 'audit: every 429 a denial');

# 6. a reload keeps the zone and its counts; a rate lowered from 10r/s
#    to 1r/s reads the state kept in tenths of ms as ms (converted), not
#    as a time ten times as far
my $r2 = token('rate2');
is(burst(1, '/rate2', $r2)->{200}, 1, 'rate2 at 10r/s: one through');

(my $lowered = $http) =~ s{rate=10r/s}{rate=1r/s} or die;
nginx_conf($dir, $lowered, workers => 4);
kill 'HUP', $pid;
sleep 1.2;
# the old workers close their listening sockets as they say they are
# shutting down: wait (up to 20 s) for the four, so that the next request
# meets a new worker
is(wait_log(20, "$dir/logs/error.log", qr/gracefully shutting down/, 4), 4,
   'HUP: the four old workers leave');

$st = burst(1, '/rate2', $r2);
is($st->{200}, 1, 'after HUP at 1r/s: a second later, one through');

$st = burst(5, '/quota', token('quota'));
is($st->{429}, 5, 'after HUP: the quota is still used up');

$st = burst(3, '/quota', token('other'));
is($st->{200}, 3, 'after HUP: another subject has its own count');

nginx_stop($pid);

# 7. nginx -t refusals, in the words the directives use
my @bad = (
    [ 'llmgw_limit x zone=limits key=$llmgw_sub;',
      qr/"x" needs zone=, key= and one of rate=, quota=, concurrent=/,
      'no amount' ],
    [ 'llmgw_limit x zone=limits key=$llmgw_sub quota=5/week;',
      qr/llmgw_limit "x": invalid quota="5\/week"/, 'an unknown period' ],
    [ 'llmgw_limit x zone=limits key=$llmgw_sub rate=0r/s;',
      qr/llmgw_limit "x": invalid rate="0r\/s"/, 'a rate of 0' ],
    [ 'llmgw_limit x zone=limits key=$llmgw_sub quota=5/day burst=2;',
      qr/llmgw_limit "x": burst= goes with rate= only/, 'burst with a quota' ],
    [ 'llmgw_limit x zone=limits key=$llmgw_sub quota=5/day rate=1r/s;',
      qr/"x": one of rate=, quota=, concurrent=, tokens=, cost= only/,
      'two amounts' ],
    [ 'llmgw_limit x zone=limits key=$llmgw_sub quota=5/day empty=maybe;',
      qr/llmgw_limit "x": invalid parameter "empty=maybe"/, 'empty=maybe' ],
    [ 'llmgw_limit "a b" zone=limits key=$llmgw_sub quota=5/day;',
      qr/invalid llmgw_limit name "a b"/, 'a name with a space' ],
    [ 'llmgw_limit x zone=nozone key=$llmgw_sub quota=5/day;',
      qr/llmgw_limit "x": no "llmgw_limit_zone" named "nozone"/,
      'an undeclared zone' ],
    [ "llmgw_limit x zone=limits key=\$llmgw_sub quota=5/day;\n"
      . 'llmgw_limit x zone=limits key=$llmgw_sub quota=5/day;',
      qr/"llmgw_limit" directive is duplicate/, 'a name twice' ],
    [ "llmgw_limit_timezone Mars/Olympus;",
      qr/unknown time zone "Mars\/Olympus"/, 'an unknown time zone', 1 ],
);

for my $b (@bad) {
    my ($line, $re, $what, $http_level) = @$b;
    my $t = nginx_prefix();
    my $loc = $http_level ? '' : $line;
    my $top = $http_level ? $line : '';

    nginx_conf($t, <<"_EOC_");
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_limit_zone limits:1m;
    $top

    server {
        listen 127.0.0.1:$port;

        location / {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            $loc
        }
    }
_EOC_

    my ($ok, $out) = nginx_check($t);
    ok(!$ok, "nginx -t refuses $what");
    like($out, $re, "nginx -t says why: $what");
}

# a limit where llmgw_auth is off would never run: refused too
{
    my $t = nginx_prefix();

    nginx_conf($t, <<"_EOC_");
    llmgw_limit_zone limits:1m;

    server {
        listen 127.0.0.1:$port;

        location / {
            llmgw_limit x zone=limits key=\$remote_addr quota=5/day;
        }
    }
_EOC_

    my ($ok, $out) = nginx_check($t);
    ok(!$ok, 'nginx -t refuses a limit without llmgw_auth');
    like($out, qr/"llmgw_limit" needs "llmgw_auth jwt"/,
         'nginx -t says why: no llmgw_auth');
}

done_testing();
