# The scope hierarchy: all -> text / audio / video -> one API.  A granted
# scope satisfies itself and every scope below it; 403 insufficient_scope
# names the scope the location requires.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test;

repeat_each(2);

plan tests => repeat_each() * (3 * blocks());

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('request', "GET /t") unless defined $block->request;

    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
    llmgw_token_cache_zone llmgw_tokens:1m;

    # these suites are not about iss and aud (t/claims.t is)
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_scopes {
        all     text audio video;
        text    claude openai.text gemini.text;
        audio   openai.stt openai.tts;
        video   video.generate video.analyze;
    }
_EOC_

    $block->set_value('user_files', ">>> ok.txt\nok\n");

    $block->set_value('config', <<'_EOC_' . $block->config);
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
_EOC_
});

run_tests();

__DATA__

=== TEST 1: all satisfies claude
--- config
location = /t { llmgw_require_scope claude; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'openid all')
--- response_body
ok
--- response_headers
!WWW-Authenticate



=== TEST 2: text satisfies claude
--- config
location = /t { llmgw_require_scope claude; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'text')
--- response_body
ok
--- response_headers
!WWW-Authenticate



=== TEST 3: text does not satisfy openai.stt
--- config
location = /t { llmgw_require_scope openai.stt; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'text')
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="insufficient_scope", error_description="insufficient scope", scope="openai.stt"



=== TEST 4: a child does not satisfy its parent
--- config
location = /t { llmgw_require_scope audio; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'openai.stt openai.tts')
--- error_code: 403
--- response_body_like: "insufficient_scope"
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="insufficient_scope", error_description="insufficient scope", scope="audio"



=== TEST 5: any of several required scopes
--- config
location = /t {
    llmgw_require_scope openai.stt openai.tts;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'openai.tts')
--- response_body
ok
--- response_headers
!WWW-Authenticate



=== TEST 6: no scope at all
--- config
location = /t {
    llmgw_require_scope video.generate video.analyze;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token()
--- error_code: 403
--- response_body_like: "scope":"video.generate video.analyze"
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="insufficient_scope", error_description="insufficient scope", scope="video.generate video.analyze"



=== TEST 7: scp as an array (Entra ID, Okta)
--- config
location = /t { llmgw_require_scope gemini.text; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scp => ['openid', 'text'])
--- response_body
ok
--- response_headers
!WWW-Authenticate



=== TEST 8: Cognito resource-server prefix
--- config
location = /t {
    llmgw_require_scope claude;
    llmgw_scope_prefix https://llm.example.com/;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer "
. llmgw_token(scope => 'openid https://llm.example.com/text')
--- response_body
ok
--- response_headers
!WWW-Authenticate



=== TEST 9: with a prefix set, an unprefixed scope does not count
--- config
location = /t {
    llmgw_require_scope claude;
    llmgw_scope_prefix https://llm.example.com/;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer "
. llmgw_token(scope => 'all https://other.example.com/all')
--- error_code: 403
--- response_body_like: "insufficient_scope"
--- response_headers_like
WWW-Authenticate: .*scope="claude"



=== TEST 10: scopes from a configured claim (cognito:groups)
--- config
location = /t {
    llmgw_require_scope openai.text;
    llmgw_scope_claim cognito:groups;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer "
. llmgw_token(claims => { 'cognito:groups' => ['staff', 'text'] },
              scope => 'all')
--- response_body
ok
--- response_headers
!WWW-Authenticate



=== TEST 11: a configured claim replaces scope and scp
--- config
location = /t {
    llmgw_require_scope openai.text;
    llmgw_scope_claim cognito:groups;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer "
. llmgw_token(claims => { 'cognito:groups' => ['staff'] }, scope => 'all')
--- error_code: 403
--- response_body_like: "insufficient_scope"
--- response_headers_like
WWW-Authenticate: .*scope="openai.text"



=== TEST 12: a 403 for scope still needs a valid token first
--- config
location = /t { llmgw_require_scope claude; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all', exp => -10)
--- error_code: 401
--- response_body_like: "token expired"
--- response_headers_like
WWW-Authenticate: .*error="invalid_token".*
