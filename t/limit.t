# llmgw_limit in shared memory: quotas, GCRA rates and several limits of
# one location, what the client sees (429 with Retry-After and
# retry-after-ms, the JSON body naming the limit, the IETF RateLimit-Policy
# and RateLimit fields on allowed and refused responses, OpenAI's
# x-ratelimit-* with "llmgw_limit_headers openai"), keys that are empty.
#
# The blocks send pipelined requests on one connection, and their limits
# are keyed by "$llmgw_sub:$connection": each run of a block (repeat_each)
# is a new connection, so it starts from a fresh count in the zone both
# runs share.  Exact counts under concurrency, window roll-over,
# requests in flight and the audit line of a 429 are in t/limit-*.t.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test;

repeat_each(2);

# status and body per request, then the headers each block names
plan tests => repeat_each() * (2 * 4 + 4 * 4       # TEST 1
                               + 2 * 4 + 3 * 4     # TEST 2
                               + 2 * 5 + 1 * 5     # TEST 3
                               + 2 * 2 + 2 * 2     # TEST 4
                               + 2 * 2 + 3 * 2     # TEST 5
                               + 2 * 2 + 4 * 2     # TEST 6
                               + 2 * 3 + 2 * 3);   # TEST 7

no_shuffle();

our $Token = llmgw_token(sub => 'alice', scope => 'text');

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n");

    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
llmgw_jwt_issuer any;
llmgw_jwt_audience any;
llmgw_limit_zone limits:1m;
_EOC_

    $block->set_value('more_headers', "Authorization: Bearer $main::Token")
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: a quota of 3 a day: the fourth request is refused
Retry-After is the rest of the (UTC) day in whole seconds, rounded up;
retry-after-ms the same in ms; RateLimit counts down.
--- config
location /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_limit daily zone=limits key=$llmgw_sub:$connection quota=3/day;
    alias html/ok.txt;
}
--- pipelined_requests eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 429]
--- response_body eval
["ok\n", "ok\n", "ok\n",
 qq'{"error":{"code":"rate_limited","message":"limit daily exceeded"}}\n']
--- response_headers_like eval
[
qq'RateLimit-Policy: "daily";q=3;w=86400
RateLimit: "daily";r=2;t=[1-9][0-9]*
Retry-After:
retry-after-ms:',
qq'RateLimit-Policy: "daily";q=3;w=86400
RateLimit: "daily";r=1;t=[1-9][0-9]*
Retry-After:
retry-after-ms:',
qq'RateLimit-Policy: "daily";q=3;w=86400
RateLimit: "daily";r=0;t=[1-9][0-9]*
Retry-After:
retry-after-ms:',
qq'RateLimit-Policy: "daily";q=3;w=86400
RateLimit: "daily";r=0;t=[1-9][0-9]*
Retry-After: [1-9][0-9]*
retry-after-ms: [1-9][0-9]*',
]



=== TEST 2: GCRA: 1 a minute with a burst of 2
Three at once, then the fourth waits a minute: the TAT is three intervals
ahead, the burst allows two, so one interval (60 s) is left to wait.  The
policy's window is the time the burst takes to come back (3 minutes).
--- config
location /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_limit pace zone=limits key=$llmgw_sub:$connection rate=1r/m
                burst=2;
    alias html/ok.txt;
}
--- pipelined_requests eval
["GET /t", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200, 429]
--- response_body eval
["ok\n", "ok\n", "ok\n",
 qq'{"error":{"code":"rate_limited","message":"limit pace exceeded"}}\n']
--- response_headers_like eval
[
qq'RateLimit-Policy: "pace";q=3;w=180
RateLimit: "pace";r=2;t=60
Retry-After: ',
qq'RateLimit-Policy: "pace";q=3;w=180
RateLimit: "pace";r=1;t=120
Retry-After: ',
qq'RateLimit-Policy: "pace";q=3;w=180
RateLimit: "pace";r=0;t=180
Retry-After: ',
qq'RateLimit-Policy: "pace";q=3;w=180
RateLimit: "pace";r=0;t=180
Retry-After: 60',
]



=== TEST 3: every limit must pass, and a refused request counts nowhere
/t has "outer" (2 a day) and "inner" (1 a day).  The second and third
requests pass "outer" but "inner" refuses them: "outer" gives its take
back each time, so /one (which has only "outer", the same name, zone and
key: one count) still lets one request through, and then no more.
--- config
location /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_limit outer zone=limits key=$llmgw_sub:$connection quota=2/day;
    llmgw_limit inner zone=limits key=$llmgw_sub:$connection quota=1/day;
    alias html/ok.txt;
}

location /one {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_limit outer zone=limits key=$llmgw_sub:$connection quota=2/day;
    alias html/ok.txt;
}
--- pipelined_requests eval
["GET /t", "GET /t", "GET /t", "GET /one", "GET /one"]
--- error_code eval
[200, 429, 429, 200, 429]
--- response_body eval
["ok\n",
 qq'{"error":{"code":"rate_limited","message":"limit inner exceeded"}}\n',
 qq'{"error":{"code":"rate_limited","message":"limit inner exceeded"}}\n',
 "ok\n",
 qq'{"error":{"code":"rate_limited","message":"limit outer exceeded"}}\n']
--- response_headers_like eval
[
qq'RateLimit: "outer";r=1;t=[0-9]+,"inner";r=0;t=[0-9]+',
qq'RateLimit: "outer";r=1;t=[0-9]+,"inner";r=0;t=[0-9]+',
qq'RateLimit: "outer";r=1;t=[0-9]+,"inner";r=0;t=[0-9]+',
qq'RateLimit: "outer";r=0;t=[0-9]+',
qq'RateLimit: "outer";r=0;t=[0-9]+',
]



=== TEST 4: an empty key is refused (403, the limit named), unless allowed
The token has no department claim.  "dept" refuses; "dept-open" says
empty=allow and is skipped: no RateLimit item for it, its policy listed.
--- config
location /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_limit dept zone=limits key=$llmgw_claim_department quota=5/day;
    alias html/ok.txt;
}

location /open {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_limit dept-open zone=limits key=$llmgw_claim_department
                quota=5/day empty=allow;
    alias html/ok.txt;
}
--- pipelined_requests eval
["GET /t", "GET /open"]
--- error_code eval
[403, 200]
--- response_body eval
[qq'{"error":{"code":"forbidden","message":"no key for limit dept"}}\n',
 "ok\n"]
--- response_headers eval
["RateLimit-Policy:\nRateLimit:",
 "RateLimit-Policy: \"dept-open\";q=5;w=86400\nRateLimit:"]



=== TEST 5: llmgw_limit_headers openai: the x-ratelimit-* family too
--- config
location /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_limit_headers openai;
    llmgw_limit pace zone=limits key=$llmgw_sub:$connection rate=1r/m
                burst=1;
    alias html/ok.txt;
}
--- pipelined_requests eval
["GET /t", "GET /t"]
--- error_code eval
[200, 200]
--- response_body eval
["ok\n", "ok\n"]
--- response_headers eval
["x-ratelimit-limit-requests: 2\nx-ratelimit-remaining-requests: 1
x-ratelimit-reset-requests: 1m0s",
 "x-ratelimit-limit-requests: 2\nx-ratelimit-remaining-requests: 0
x-ratelimit-reset-requests: 2m0s"]



=== TEST 6: llmgw_limit_headers off: a 429 still says when to retry
--- config
location /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_limit_headers off;
    llmgw_limit pace zone=limits key=$llmgw_sub:$connection rate=1r/m;
    alias html/ok.txt;
}
--- pipelined_requests eval
["GET /t", "GET /t"]
--- error_code eval
[200, 429]
--- response_body eval
["ok\n",
 qq'{"error":{"code":"rate_limited","message":"limit pace exceeded"}}\n']
--- response_headers_like eval
["RateLimit-Policy: \nRateLimit: \nRetry-After: \n"
 . "x-ratelimit-limit-requests: ",
 "RateLimit-Policy: \nRateLimit: \nRetry-After: 60\n"
 . "x-ratelimit-limit-requests: "]



=== TEST 7: an http block's limit and a location's own add up
The http block's "top" runs first, then the location's "loc"; the policy
lists both.  The second request is refused by "loc", and "top" gives its
take back (r=4 again).  /inherit has "top" alone, and its policy.
--- http_config
llmgw_limit top zone=limits key=$llmgw_sub:$connection quota=5/day;
--- config
location /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_limit loc zone=limits key=$llmgw_sub:$connection quota=1/day;
    alias html/ok.txt;
}

location /inherit {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- pipelined_requests eval
["GET /t", "GET /t", "GET /inherit"]
--- error_code eval
[200, 429, 200]
--- response_body eval
["ok\n",
 qq'{"error":{"code":"rate_limited","message":"limit loc exceeded"}}\n',
 "ok\n"]
--- response_headers_like eval
[
qq'RateLimit-Policy: "top";q=5;w=86400,"loc";q=1;w=86400
RateLimit: "top";r=4;t=[0-9]+,"loc";r=0;t=[0-9]+',
qq'RateLimit-Policy: "top";q=5;w=86400,"loc";q=1;w=86400
RateLimit: "top";r=4;t=[0-9]+,"loc";r=0;t=[0-9]+',
qq'RateLimit-Policy: "top";q=5;w=86400
RateLimit: "top";r=3;t=[0-9]+',
]
