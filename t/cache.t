# The verified-token cache: a hit skips the signature but nothing else.
# Each block sends the same token several times and reads what the cache
# did from an echo location.  repeat_each(1): a second run of a block would
# find the first run's entries, which is not what these blocks assert.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test qw(:DEFAULT llmgw_late_headers);

repeat_each(1);

plan tests => repeat_each() * (2 * 3 + 2 * 3 + 2 * 3 + 2 * 2 + 2 * 2);

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    # a token that must expire during its block is minted when the block
    # runs (--- more_headers_late), not when the file is read
    llmgw_late_headers($block);

    $block->set_value('http_config', <<'_EOC_');
    llmgw_token_cache_zone llmgw_tokens:1m;

    # these suites are not about iss and aud (t/claims.t is)
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
_EOC_

    $block->set_value('user_files', ">>> slow.bin\n" . ("x" x 3000) . "\n");

    $block->set_value('config', <<'_EOC_' . $block->config);
    location = /echo {
        return 200 "cache=$http_x_cache sub=$http_x_sub\n";
    }

    location = /slow {
        limit_rate_after 0;
        limit_rate 1k;
        alias html/slow.bin;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: the second use of a token is a hit with the same verdict
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    proxy_set_header X-Cache $llmgw_token_cache;
    proxy_set_header X-Sub $llmgw_sub;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(sub => 'alice')
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200]
--- response_body eval
["cache=MISS sub=alice\n", "cache=HIT sub=alice\n", "cache=HIT sub=alice\n"]



=== TEST 2: claims are checked again on a hit, against the location
The refusal at /strict comes from the cached token (X-Cache: HIT), so its
claims were checked again on the hit, not only when it was verified.
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_jwt_audience llmgw;
    proxy_set_header X-Cache $llmgw_token_cache;
    proxy_set_header X-Sub $llmgw_sub;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    add_header X-Cache $llmgw_token_cache always;
}
location = /strict {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_jwt_audience finance-only;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    add_header X-Cache $llmgw_token_cache always;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(sub => 'bob', aud => 'llmgw')
--- request eval
["GET /t", "GET /strict"]
--- error_code eval
[200, 401]
--- response_headers eval
["X-Cache: MISS", "X-Cache: HIT"]
--- response_body_like eval
["cache=MISS sub=bob", "audience not accepted"]



=== TEST 3: an expired token is refused even though it is cached
The token lives at most 2 s from just before the first request; /slow
takes about 3 s (3000 bytes at 1k/s), so the last request comes after its
exp however fast or slow the runner is.
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    proxy_set_header X-Cache $llmgw_token_cache;
    proxy_set_header X-Sub $llmgw_sub;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
"Authorization: Bearer " . llmgw_token(sub => 'carol', exp => 2)
--- request eval
["GET /t", "GET /slow", "GET /t"]
--- error_code eval
[200, 200, 401]
--- response_body_like eval
["cache=MISS sub=carol", "^x{3000}", "token expired"]
--- timeout: 10



=== TEST 4: a hit counts only where the key that verified it is trusted
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    proxy_set_header X-Cache $llmgw_token_cache;
    proxy_set_header X-Sub $llmgw_sub;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
location = /other-idp {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/rsa2.pub kid=rsa1;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(sub => 'dave')
--- request eval
["GET /t", "GET /other-idp"]
--- error_code eval
[200, 401]
--- response_body_like eval
["cache=MISS sub=dave", "invalid signature"]



=== TEST 5: a token that fails verification is never cached
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(tamper => 'payload')
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[401, 401]
--- response_body_like eval
["invalid signature", "invalid signature"]
