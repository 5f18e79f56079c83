# The admin API's scope and its answers that change nothing, in
# Test::Nginx blocks: no token 401; a token with `all`, or with a scope
# above llmgw.admin in the tree, 403 with the challenge naming
# llmgw.admin, also where the location has no llmgw_require_scope; a
# token granting llmgw.admin itself 200; llmgw.admin from an array claim
# (Okta's scp); unknown endpoints 404, a wrong method 405; a user the zone
# does not have 404; malformed revocations 400; a CSV with errors 400;
# without the admin scope an unknown endpoint is 403, not 404.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test;

repeat_each(2);

plan tests => repeat_each() * (3 * blocks());

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_scopes {
        all     text;
        admin   llmgw.admin;
    }

    llmgw_state_zone state:1m;
_EOC_

    $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;

    location /admin/ {
        llmgw_auth jwt;
        llmgw_require_scope llmgw.admin;
        llmgw_admin;
    }

    location /open/ {
        llmgw_auth jwt;
        llmgw_admin;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: no token: 401
--- request
GET /admin/system/health
--- error_code: 401
--- response_body
{"error":{"code":"unauthorized","message":"missing bearer token"}}
--- response_headers
WWW-Authenticate: Bearer realm="llmgw"



=== TEST 2: all does not grant llmgw.admin
--- request
GET /admin/revocations
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all')
--- error_code: 403
--- response_body
{"error":{"code":"insufficient_scope","message":"insufficient scope","scope":"llmgw.admin"}}
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="insufficient_scope", error_description="insufficient scope", scope="llmgw.admin"



=== TEST 3: a scope above llmgw.admin in the tree does not either
--- request
GET /admin/revocations
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'admin')
--- error_code: 403
--- response_body
{"error":{"code":"insufficient_scope","message":"the admin API needs a token that grants llmgw.admin itself","scope":"llmgw.admin"}}
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="insufficient_scope", error_description="the admin API needs a token that grants llmgw.admin itself", scope="llmgw.admin"



=== TEST 4: without llmgw_require_scope, all is still refused
--- request
GET /open/revocations
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all text')
--- error_code: 403
--- response_body
{"error":{"code":"insufficient_scope","message":"the admin API needs a token that grants llmgw.admin itself","scope":"llmgw.admin"}}
--- no_error_log
[error]



=== TEST 5: llmgw.admin granted: 200
--- request
GET /admin/revocations
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'openid llmgw.admin')
--- error_code: 200
--- response_body
{"revocations":[],"next_cursor":null}
--- response_headers
!WWW-Authenticate



=== TEST 6: llmgw.admin as an element of an array claim
--- request
GET /admin/revocations
--- more_headers eval
"Authorization: Bearer " . llmgw_token(claims => { scp => ['llmgw.admin'] })
--- error_code: 200
--- response_body
{"revocations":[],"next_cursor":null}
--- response_headers
Content-Type: application/json



=== TEST 7: an unknown endpoint: 404
--- request
GET /admin/users
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'llmgw.admin')
--- error_code: 404
--- response_body
{"error":{"code":"not_found","message":"no such admin endpoint"}}
--- response_headers
Content-Type: application/json



=== TEST 8: a wrong method: 405
--- request
POST /admin/revocations
{}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'llmgw.admin')
--- error_code: 405
--- response_body
{"error":{"code":"method_not_allowed","message":"method not allowed here"}}
--- response_headers
Content-Type: application/json



=== TEST 9: a user the zone does not have: 404
--- request
GET /admin/users/E404
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'llmgw.admin')
--- error_code: 404
--- response_body
{"error":{"code":"not_found","message":"no such user"}}
--- response_headers
Content-Type: application/json



=== TEST 10: a revocation that is not JSON: 400
--- request
POST /admin/tokens/revoke
{"jti":"x",
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'llmgw.admin')
--- error_code: 400
--- response_body
{"error":{"code":"invalid_request","message":"the body must be one of {\"jti\":..,\"exp\":..}, {\"sub\":..}, {\"client_id\":..}"}}
--- response_headers
Content-Type: application/json



=== TEST 11: a CSV with a bad header: 400, nothing changed
--- request
POST /admin/users/csv/upload
user_id,name
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'llmgw.admin')
--- error_code: 400
--- response_body
{"error":{"code":"invalid_request","message":"the CSV has 1 error; nothing changed"},"errors":["line 1: header must be \"user_id,name,email,department,job_title,phone,start_date,end_date,status\""]}
--- response_headers
Content-Type: application/json



=== TEST 12: without the admin scope, no endpoint is told apart: 403
--- request
GET /open/no/such/thing
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all')
--- error_code: 403
--- response_body
{"error":{"code":"insufficient_scope","message":"the admin API needs a token that grants llmgw.admin itself","scope":"llmgw.admin"}}
--- response_headers
Content-Type: application/json
