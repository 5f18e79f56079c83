# Claims: exp / nbf / iat with and without leeway, iss, aud as a string and
# an array, typ (RFC 9068), required claims, MFA (amr).  repeat_each(2)
# with the token cache on: cached verdicts must be the same.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test qw(:DEFAULT llmgw_late_headers);

repeat_each(2);

plan tests => repeat_each() * (3 * blocks());

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('request', "GET /t") unless defined $block->request;

    # a token whose verdict changes within minutes of its minting (within
    # the leeway for 30 s more, not yet valid for 120 s) is minted when its
    # block runs: eval sections are evaluated when the file is read
    llmgw_late_headers($block);

    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
    llmgw_token_cache_zone llmgw_tokens:1m;

    # these suites are not about iss and aud (t/claims.t is)
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
_EOC_

    $block->set_value('user_files', ">>> ok.txt\nok\n");

    $block->set_value('config', <<'_EOC_' . $block->config);
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    add_header X-Auth "$llmgw_auth_status:$llmgw_auth_error" always;
_EOC_
});

run_tests();

__DATA__

=== TEST 1: expired
--- config
location = /t { alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(exp => -5)
--- error_code: 401
--- response_body_like: "token expired"
--- response_headers
X-Auth: denied:token expired



=== TEST 2: expired, but within the leeway
--- config
location = /t { llmgw_jwt_leeway 60s; alias html/ok.txt; }
--- more_headers_late
"Authorization: Bearer " . llmgw_token(exp => -30)
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 3: exp is required by default
--- config
location = /t { alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(exp => undef)
--- error_code: 401
--- response_body_like: "missing exp claim"
--- response_headers
X-Auth: denied:missing exp claim



=== TEST 4: exp may be made optional
--- config
location = /t { llmgw_jwt_require_exp off; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(exp => undef)
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 5: not yet valid
--- config
location = /t { alias html/ok.txt; }
--- more_headers_late
"Authorization: Bearer " . llmgw_token(nbf => 120)
--- error_code: 401
--- response_body_like: "token not yet valid"
--- response_headers
X-Auth: denied:token not yet valid



=== TEST 6: not yet valid, within the leeway
--- config
location = /t { llmgw_jwt_leeway 5m; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(nbf => 120)
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 7: issued in the future
--- config
location = /t { alias html/ok.txt; }
--- more_headers_late
"Authorization: Bearer " . llmgw_token(iat => 600, exp => 900)
--- error_code: 401
--- response_body_like: "token issued in the future"
--- response_headers
X-Auth: denied:token issued in the future



=== TEST 8: issued in the future, within the leeway
--- config
location = /t { llmgw_jwt_leeway 15m; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(iat => 600, exp => 900)
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 9: issuer accepted
--- config
location = /t {
    llmgw_jwt_issuer https://cognito-idp.eu-west-1.amazonaws.com/pool1
                     https://login.microsoftonline.com/tenant/v2.0;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer "
. llmgw_token(iss => 'https://login.microsoftonline.com/tenant/v2.0')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 10: wrong issuer
--- config
location = /t {
    llmgw_jwt_issuer https://login.microsoftonline.com/tenant/v2.0;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer "
. llmgw_token(iss => 'https://login.microsoftonline.com/tenant/v2.0/')
--- error_code: 401
--- response_body_like: "issuer not accepted"
--- response_headers
X-Auth: denied:issuer not accepted



=== TEST 11: missing issuer when one is required
--- config
location = /t { llmgw_jwt_issuer https://idp.example.com; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token()
--- error_code: 401
--- response_body_like: "issuer not accepted"
--- response_headers
X-Auth: denied:issuer not accepted



=== TEST 12: aud as a string
--- config
location = /t { llmgw_jwt_audience llmgw api://gw; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(aud => 'api://gw')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 13: aud as an array with one accepted value
--- config
location = /t { llmgw_jwt_audience llmgw; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(aud => ['account', 'llmgw'])
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 14: aud array without an accepted value
--- config
location = /t { llmgw_jwt_audience llmgw; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(aud => ['account', 'llmgw2'])
--- error_code: 401
--- response_body_like: "audience not accepted"
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 15: wrong aud string
--- config
location = /t { llmgw_jwt_audience llmgw; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(aud => 'LLMGW')
--- error_code: 401
--- response_body_like: "audience not accepted"
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 16: typ at+jwt required and given
--- config
location = /t { llmgw_jwt_typ at+jwt application/at+jwt; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(typ => 'at+jwt')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 17: typ at+jwt required, an ID token given
--- config
location = /t { llmgw_jwt_typ at+jwt; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(typ => 'JWT')
--- error_code: 401
--- response_body_like: "token type not accepted"
--- response_headers
X-Auth: denied:token type not accepted



=== TEST 18: required claims present
--- config
location = /t {
    llmgw_jwt_require_claim sub department;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer "
. llmgw_token(sub => 'u1', claims => { department => 'finance' })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 19: a required claim missing
--- config
location = /t {
    llmgw_jwt_require_claim sub department;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(sub => 'u1')
--- error_code: 401
--- response_body_like: "claim department missing"
--- response_headers
X-Auth: denied:claim department missing



=== TEST 20: MFA required and present
--- config
location = /t { llmgw_jwt_mfa mfa hwk; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(amr => ['pwd', 'mfa'])
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 21: MFA required and missing
--- config
location = /t { llmgw_jwt_mfa mfa hwk; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(amr => ['pwd'])
--- error_code: 401
--- response_body_like: "multi-factor authentication required"
--- response_headers
X-Auth: denied:multi-factor authentication required



=== TEST 22: MFA required, no amr claim at all
--- config
location = /t { llmgw_jwt_mfa mfa; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token()
--- error_code: 401
--- response_body_like: "multi-factor authentication required"
--- response_headers
X-Auth: denied:multi-factor authentication required



=== TEST 23: claim checks add up: an inner check keeps the outer one
--- config
llmgw_jwt_claim token_use access;
location = /t { llmgw_jwt_require_claim sub; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(sub => 'u1',
                                       claims => { token_use => 'id' })
--- error_code: 401
--- response_body_like: "claim token_use not accepted"
--- response_headers
X-Auth: denied:claim token_use not accepted



=== TEST 24: claim checks add up: the inner check is made too
--- config
llmgw_jwt_claim token_use access;
location = /t { llmgw_jwt_require_claim department; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(sub => 'u1',
                                       claims => { token_use => 'access' })
--- error_code: 401
--- response_body_like: "claim department missing"
--- response_headers
X-Auth: denied:claim department missing
