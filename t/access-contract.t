# Denials follow nginx's access contract, as auth_basic and auth_request
# do: the access handler sets WWW-Authenticate and returns the status, so
# satisfy any, auth_delay and error_page apply; the JSON body comes from
# the one error filter, only for nginx's own error page of the denial.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test;

repeat_each(2);

# per block: status, body, then each line of response_headers(_like)
plan tests => repeat_each() * (5 + 5 + 4 + 3 + 3 + 4 + 3 + 4 + 4 + 3 + 4
                               + 5 + 4);

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('request', "GET /t") unless defined $block->request;

    $block->set_value('http_config', <<'_EOC_');
    llmgw_token_cache_zone llmgw_tokens:1m;

    # these suites are not about iss and aud (t/claims.t is)
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_scopes {
        all     text audio video;
        text    claude openai.text gemini.text;
        audio   openai.stt openai.tts;
    }
_EOC_

    $block->set_value('user_files', <<'_EOF_');
>>> ok.txt
ok
>>> hint.txt
see https://idp.example.com/ for a token
>>> listing/file.txt
a directory without an index
_EOF_
});

run_tests();

__DATA__

=== TEST 1: a denial as clients saw it before: challenge, JSON, no-store
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- error_code: 401
--- response_body_like: \A\{"error":\{"code":"unauthorized","message":"missing bearer token"\}\}\n\z
--- response_headers
WWW-Authenticate: Bearer realm="llmgw"
Content-Type: application/json
Cache-Control: no-store



=== TEST 2: satisfy any: allow lets a request without a token in, challenge hidden
--- config
location = /t {
    satisfy any;
    allow 127.0.0.1;
    deny all;
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
    add_header X-Llmgw-Status "[$llmgw_auth_status]" always;
}
--- response_body
ok
--- response_headers
!WWW-Authenticate
!Cache-Control
X-Llmgw-Status: [denied]



=== TEST 3: satisfy any: allow lets a token without the scope in
--- config
location = /t {
    satisfy any;
    allow 127.0.0.1;
    deny all;
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_require_scope audio;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'text')
--- response_body
ok
--- response_headers
!WWW-Authenticate
!Cache-Control



=== TEST 4: satisfy any with deny all still needs the token
--- config
location = /t {
    satisfy any;
    deny all;
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- error_code: 401
--- response_body_like: \A\{"error":\{"code":"unauthorized","message":"missing bearer token"\}\}
--- response_headers
WWW-Authenticate: Bearer realm="llmgw"



=== TEST 5: satisfy any with deny all lets a good token in
--- config
location = /t {
    satisfy any;
    deny all;
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token()
--- response_body
ok
--- response_headers
!WWW-Authenticate



=== TEST 6: error_page 401 = /login-hint: the hint's body and its own status
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
    error_page 401 = /login-hint;
}
location = /login-hint {
    internal;
    alias html/hint.txt;
}
--- error_code: 200
--- response_body
see https://idp.example.com/ for a token
--- response_headers
!Cache-Control
WWW-Authenticate: Bearer realm="llmgw"



=== TEST 7: error_page 401 /x keeps the 401, the body is the page's
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
    error_page 401 /login-hint;
}
location = /login-hint {
    internal;
    alias html/hint.txt;
}
--- error_code: 401
--- response_body
see https://idp.example.com/ for a token
--- response_headers
WWW-Authenticate: Bearer realm="llmgw"



=== TEST 8: the verdict does not travel to an error_page target without llmgw
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_require_scope audio;
    alias html/ok.txt;
    error_page 403 = /open;
}
location = /open {
    internal;
    alias html/hint.txt;
    add_header X-Llmgw-Status "[$llmgw_auth_status]" always;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'text')
--- error_code: 200
--- response_body
see https://idp.example.com/ for a token
--- response_headers
X-Llmgw-Status: []
!Cache-Control



=== TEST 9: an error_page target with llmgw decides afresh, by its own rules
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_require_scope claude;
    alias html/ok.txt;
    error_page 403 = /strict;
}
location = /strict {
    internal;
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_require_scope audio;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'gemini.text')
--- error_code: 403
--- response_body_like: \A\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"audio"\}\}
--- response_headers
Content-Type: application/json
Cache-Control: no-store



=== TEST 10: auth_delay holds a 401 back
$request_time counts wall-clock milliseconds, the auth_delay timer
nginx's monotonic ones, each truncated to the millisecond: 500 ms of
the timer can read 0.499.  At least that, and less than 10 s however
loaded the machine.
--- config
location = /t {
    auth_delay 500ms;
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
    add_header X-Time $request_time always;
}
--- error_code: 401
--- response_body_like: "missing bearer token"
--- response_headers_like
X-Time: ^(0\.(499|[5-9]\d\d)|[1-9]\.\d{3})$



=== TEST 11: auth_delay leaves a 403 alone
A delay of 5 s, so that a loaded machine's slow answer (under 4 s) is
still told from a delayed one (4.999 s at the least).
--- config
location = /t {
    auth_delay 5s;
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_require_scope audio;
    alias html/ok.txt;
    add_header X-Time $request_time always;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'text')
--- error_code: 403
--- response_body_like: "insufficient_scope"
--- response_headers_like
X-Time: ^[0-3]\.\d{3}$
WWW-Authenticate: Bearer .*error="insufficient_scope".*



=== TEST 12: after satisfy any let it in, the content's own 403 is nginx's
--- config
location /t/ {
    satisfy any;
    allow 127.0.0.1;
    deny all;
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_require_scope audio;
    alias html/listing/;
    add_header X-Llmgw-Status "[$llmgw_auth_status]" always;
}
--- request
GET /t/
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'text')
--- error_code: 403
--- response_body_like: <title>403 Forbidden</title>
--- response_headers
Content-Type: text/html
X-Llmgw-Status: [denied]
!Cache-Control



=== TEST 13: HEAD: the denial's headers, the JSON body's length, no body
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- request
HEAD /t
--- error_code: 401
--- response_body
--- response_headers
Content-Type: application/json
Content-Length: 67
