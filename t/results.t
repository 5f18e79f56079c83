# The typed per-request results of the access check, read through their
# variables: every field for an allowed request (verified, then a cache
# hit), a request denied for its scope, for a claim, and one whose token
# never verified.  The jti shows only as its SHA-256.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test;
use Digest::SHA qw(sha256_hex);

repeat_each(1);

plan tests => repeat_each() * (2 * 11 + 3 * 11);

no_shuffle();

our $JTI = 'token-7f3a';
our $JTI_HASH = sha256_hex($JTI);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', <<'_EOC_');
    llmgw_token_cache_zone llmgw_tokens:1m;

    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_scopes {
        all     text audio;
        text    claude openai.text;
        audio   openai.stt openai.tts;
    }

    llmgw_claim_variable $llmgw_department org.department;
_EOC_

    $block->set_value('user_files', ">>> ok.txt\nok\n");

    $block->set_value('config', <<'_EOC_' . $block->config);
    add_header X-Sub $llmgw_sub always;
    add_header X-Client $llmgw_client_id always;
    add_header X-Jti $llmgw_jti_hash always;
    add_header X-Dept $llmgw_department always;
    add_header X-Scopes $llmgw_scopes always;
    add_header X-Failed $llmgw_scopes_failed always;
    add_header X-Decision $llmgw_auth_status always;
    add_header X-Reason $llmgw_auth_error always;
    add_header X-Status $llmgw_auth_http_status always;
    add_header X-Cache $llmgw_token_cache always;
_EOC_
});

run_tests();

__DATA__

=== TEST 1: allowed: every field, then the same from the cache
client_id comes before azp.
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_require_scope openai.text;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(sub => 'alice', jti => $::JTI,
    scope => 'text openai.stt',
    claims => { client_id => 'app-1', azp => 'other',
                org => { department => 'finance' } })
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 200]
--- response_headers eval
["X-Sub: alice\nX-Client: app-1\nX-Jti: $::JTI_HASH\nX-Dept: finance\n"
 . "X-Scopes: text openai.stt\n!X-Failed\nX-Decision: allowed\n!X-Reason\n"
 . "!X-Status\nX-Cache: MISS",
 "X-Sub: alice\nX-Client: app-1\nX-Jti: $::JTI_HASH\nX-Dept: finance\n"
 . "X-Scopes: text openai.stt\n!X-Failed\nX-Decision: allowed\n!X-Reason\n"
 . "!X-Status\nX-Cache: HIT"]



=== TEST 2: denied for its scope: who asked, what was missing
azp when there is no client_id; no jti, no department.
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_require_scope openai.tts claude;
    llmgw_token_cache off;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(sub => 'bob', scope => 'openai.stt',
    claims => { azp => 'app-2', cid => 'okta-app' })
--- request
GET /t
--- error_code: 403
--- response_headers eval
"X-Sub: bob\nX-Client: app-2\n!X-Jti\n!X-Dept\nX-Scopes: openai.stt\n"
. "X-Failed: openai.tts claude\nX-Decision: denied\n"
. "X-Reason: insufficient scope\nX-Status: 403\nX-Cache: MISS"



=== TEST 3: denied for a claim: the scope check was not reached
cid when there is neither client_id nor azp; a token that verified is a
cache MISS also where the cache is off.
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_jwt_claim org.department research;
    llmgw_token_cache off;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(sub => 'carol', jti => $::JTI,
    claims => { cid => 'okta-app', org => { department => 'finance' } })
--- request
GET /t
--- error_code: 401
--- response_headers eval
"X-Sub: carol\nX-Client: okta-app\nX-Jti: $::JTI_HASH\nX-Dept: finance\n"
. "!X-Scopes\n!X-Failed\nX-Decision: denied\n"
. "X-Reason: claim org.department not accepted\nX-Status: 401\nX-Cache: MISS"



=== TEST 4: a token that never verified names nobody
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(sub => 'mallory', jti => $::JTI,
    tamper => 'payload', claims => { client_id => 'app-1' })
--- request
GET /t
--- error_code: 401
--- response_headers
!X-Sub
!X-Client
!X-Jti
!X-Dept
!X-Scopes
!X-Failed
X-Decision: denied
X-Reason: invalid signature
X-Status: 401
!X-Cache
