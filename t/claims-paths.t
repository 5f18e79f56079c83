# Claim paths and values: scopes from array elements (one element, one
# scope, never split) and from strings (split), a prefix per
# llmgw_scope_claim line; typ at+jwt and application/at+jwt both ways;
# nested paths with dotted, quoted names; llmgw_jwt_claim on string,
# number, boolean and array claims; llmgw_jwt_require_claim; the audience
# claim used only when "aud" is absent; llmgw_claim_variable.
# repeat_each(2) with the token cache on: cached verdicts must be the same.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test qw(:all);

# tok(...): llmgw_token with the issuer and audience every location
# checks, as an Authorization header; called from "--- more_headers eval"
# (evaluated in Test::Base::Filter).

sub Test::Base::Filter::tok {
    my (%o) = @_;

    $o{iss} = 'https://idp.example.com/' unless exists $o{iss};
    $o{aud} = 'llmgw' unless exists $o{aud};
    delete $o{$_} for grep { !defined $o{$_} } qw(iss aud);

    return "Authorization: Bearer " . llmgw_token(%o);
}

repeat_each(2);

plan tests => repeat_each() * (3 * blocks());

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('request', "GET /t") unless defined $block->request;

    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
    llmgw_token_cache_zone llmgw_tokens:1m;

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
    llmgw_jwt_issuer https://idp.example.com/;
    llmgw_jwt_audience llmgw;
    add_header X-Auth "$llmgw_auth_status:$llmgw_auth_error" always;
_EOC_
});

run_tests();

__DATA__

=== TEST 1: an array element with a space grants nothing: not text
--- config
location = /t { llmgw_require_scope text; alias html/ok.txt; }
--- more_headers eval
tok(scp => ['openai.text text'])
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"text"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 2: an array element with a space grants nothing: not openai.text
--- config
location = /t { llmgw_require_scope openai.text; alias html/ok.txt; }
--- more_headers eval
tok(scp => ['openai.text text'])
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.text"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 3: the same two scopes as two elements do grant
--- config
location = /t { llmgw_require_scope gemini.text; alias html/ok.txt; }
--- more_headers eval
tok(scp => ['openai.text', 'text'])
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 4: the same text as a string claim is split
--- config
location = /t { llmgw_require_scope gemini.text; alias html/ok.txt; }
--- more_headers eval
tok(scope => 'openai.text text')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 5: group "Team all" never grants all
--- config
location = /t {
    llmgw_scope_claim cognito:groups;
    llmgw_require_scope all;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { 'cognito:groups' => ['Team all', 'Team text'] })
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"all"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 6: group "Team all" grants nothing below all either
--- config
location = /t {
    llmgw_scope_claim cognito:groups;
    llmgw_require_scope claude;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { 'cognito:groups' => ['Team all'] })
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"claude"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 7: groups "Team" and "all" grant all
--- config
location = /t {
    llmgw_scope_claim cognito:groups;
    llmgw_require_scope claude;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { 'cognito:groups' => ['Team', 'all'] })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 8: an element that is not a scope-token (quotes) grants nothing
--- config
location = /t { llmgw_require_scope claude; alias html/ok.txt; }
--- more_headers eval
tok(scp => ['"all"', 'te\\xt'])
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"claude"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 9: each llmgw_scope_claim line its own prefix: the prefixed one
--- config
location = /t {
    llmgw_scope_claim scope prefix=https://api.example.com/;
    llmgw_scope_claim cognito:groups;
    llmgw_require_scope claude;
    alias html/ok.txt;
}
--- more_headers eval
tok(scope => 'openid https://api.example.com/text',
    claims => { 'cognito:groups' => ['staff'] })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 10: each line its own prefix: a group is taken as it is
--- config
location = /t {
    llmgw_scope_claim scope prefix=https://api.example.com/;
    llmgw_scope_claim cognito:groups;
    llmgw_require_scope claude;
    alias html/ok.txt;
}
--- more_headers eval
tok(scope => 'openid', claims => { 'cognito:groups' => ['text'] })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 11: each line its own prefix: not applied to the other line
--- config
location = /t {
    llmgw_scope_claim scope prefix=https://api.example.com/;
    llmgw_scope_claim cognito:groups;
    llmgw_require_scope claude;
    alias html/ok.txt;
}
--- more_headers eval
tok(scope => 'openid text all',
    claims => { 'cognito:groups' => ['https://api.example.com/all'] })
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"claude"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 12: llmgw_scope_prefix is the prefix of lines without prefix=
--- config
location = /t {
    llmgw_scope_prefix llm-;
    llmgw_scope_claim realm_access.roles;
    llmgw_scope_claim scp prefix=api.;
    llmgw_require_scope openai.stt;
    alias html/ok.txt;
}
--- more_headers eval
tok(scp => ['text', 'api.claude'],
    claims => { realm_access => { roles => ['offline_access', 'llm-audio'] } })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 13: llmgw_scope_prefix: an unprefixed role does not count
--- config
location = /t {
    llmgw_scope_prefix llm-;
    llmgw_scope_claim realm_access.roles;
    llmgw_scope_claim scp prefix=api.;
    llmgw_require_scope openai.stt;
    alias html/ok.txt;
}
--- more_headers eval
tok(scp => ['audio', 'llm-audio'],
    claims => { realm_access => { roles => ['audio', 'api.audio'] } })
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 14: typ at+jwt required, application/at+jwt given
--- config
location = /t { llmgw_jwt_typ at+jwt; alias html/ok.txt; }
--- more_headers eval
tok(typ => 'application/at+jwt')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 15: typ application/at+jwt required, at+jwt given
--- config
location = /t { llmgw_jwt_typ application/at+jwt; alias html/ok.txt; }
--- more_headers eval
tok(typ => 'at+jwt')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 16: typ at+jwt required, Application/AT+JWT given (caseless)
--- config
location = /t { llmgw_jwt_typ at+jwt; alias html/ok.txt; }
--- more_headers eval
tok(typ => 'Application/AT+JWT')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 17: typ application/at+jwt required, JWT given
--- config
location = /t { llmgw_jwt_typ application/at+jwt; alias html/ok.txt; }
--- more_headers eval
tok(typ => 'JWT')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"token type not accepted"\}\}
--- response_headers
X-Auth: denied:token type not accepted



=== TEST 18: typ at+jwt required, no typ
--- config
location = /t { llmgw_jwt_typ at+jwt; alias html/ok.txt; }
--- more_headers eval
tok()
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"token type not accepted"\}\}
--- response_headers
X-Auth: denied:token type not accepted



=== TEST 19: typ at+jwt required: only "application/" may be left out
--- config
location = /t { llmgw_jwt_typ at+jwt; alias html/ok.txt; }
--- more_headers eval
tok(typ => 'text/at+jwt')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"token type not accepted"\}\}
--- response_headers
X-Auth: denied:token type not accepted



=== TEST 20: a quoted dotted name in a scope claim path
--- config
location = /t {
    llmgw_scope_claim resource_access."llm.gateway".roles;
    llmgw_require_scope claude;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { resource_access => { 'llm.gateway' => { roles => ['text'] },
                                     account => { roles => ['all'] } } })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 21: the quoted name is one name: nested llm/gateway do not match
--- config
location = /t {
    llmgw_scope_claim resource_access."llm.gateway".roles;
    llmgw_require_scope claude;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { resource_access => { llm => { gateway => { roles => ['all'] } } } })
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"claude"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 22: an unquoted dotted path is nested objects, not a dotted name
--- config
location = /t {
    llmgw_scope_claim realm_access.roles;
    llmgw_require_scope claude;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { 'realm_access.roles' => ['all'],
                realm_access => { roles => ['offline_access'] } })
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"claude"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 23: a namespaced claim (path in single quotes) with a value
--- config
location = /t {
    llmgw_jwt_claim '"https://llmgw.example.com/department"' finance legal;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { 'https://llmgw.example.com/department' => 'legal' })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 24: a namespaced claim with another value; ' shown for "
--- config
location = /t {
    llmgw_jwt_claim '"https://llmgw.example.com/department"' finance legal;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { 'https://llmgw.example.com/department' => 'sales' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim 'https://llmgw.example.com/department' not accepted"\}\}
--- response_headers
X-Auth: denied:claim 'https://llmgw.example.com/department' not accepted



=== TEST 25: escaped \" and \\ inside a quoted name (doubled for nginx)
--- config
location = /t {
    llmgw_jwt_claim '"a\\\"b\\\\c".d' x;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { 'a"b\\c' => { d => 'x' } })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 26: a quote escaped inside single quotes, as README.md writes it
--- config
location = /t {
    llmgw_jwt_claim '"a\\"b"' x;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { 'a"b' => 'x' })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 27: escapes in a reason: ' for ", ? for a backslash
--- config
location = /t {
    llmgw_jwt_claim '"a\\\"b\\\\c".d' x;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { 'a"b\\c' => { e => 'x' } })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim 'a\?'b\?\?c'\.d missing"\}\}
--- response_headers
X-Auth: denied:claim 'a?'b??c'.d missing



=== TEST 28: llmgw_jwt_claim on a string
--- config
location = /t { llmgw_jwt_claim token_use access; alias html/ok.txt; }
--- more_headers eval
tok(claims => { token_use => 'access' })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 29: llmgw_jwt_claim: another string
--- config
location = /t { llmgw_jwt_claim token_use access; alias html/ok.txt; }
--- more_headers eval
tok(claims => { token_use => 'id' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim token_use not accepted"\}\}
--- response_headers
X-Auth: denied:claim token_use not accepted



=== TEST 30: llmgw_jwt_claim: the claim missing
--- config
location = /t { llmgw_jwt_claim token_use access; alias html/ok.txt; }
--- more_headers eval
tok(claims => { token_usage => 'access' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim token_use missing"\}\}
--- response_headers
X-Auth: denied:claim token_use missing



=== TEST 31: llmgw_jwt_claim: one of several values
--- config
location = /t { llmgw_jwt_claim azp llm-chat llm-batch; alias html/ok.txt; }
--- more_headers eval
tok(claims => { azp => 'llm-batch' })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 32: llmgw_jwt_claim: a string is compared whole, with case
--- config
location = /t { llmgw_jwt_claim azp llm-chat llm-batch; alias html/ok.txt; }
--- more_headers eval
tok(claims => { azp => 'LLM-chat' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim azp not accepted"\}\}
--- response_headers
X-Auth: denied:claim azp not accepted



=== TEST 33: llmgw_jwt_claim on an integer
--- config
location = /t { llmgw_jwt_claim ver 1; alias html/ok.txt; }
--- more_headers eval
tok(claims => { ver => 1 })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 34: llmgw_jwt_claim: a real numerically equal
--- config
location = /t { llmgw_jwt_claim ver 1; alias html/ok.txt; }
--- more_headers eval
tok(claims => { ver => \'1.0' })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 35: llmgw_jwt_claim: another number
--- config
location = /t { llmgw_jwt_claim ver 1; alias html/ok.txt; }
--- more_headers eval
tok(claims => { ver => 2 })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim ver not accepted"\}\}
--- response_headers
X-Auth: denied:claim ver not accepted



=== TEST 36: llmgw_jwt_claim: the string "2.0" (Entra's ver)
--- config
location = /t { llmgw_jwt_claim ver 1.0 2.0; alias html/ok.txt; }
--- more_headers eval
tok(claims => { ver => '2.0' })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 37: llmgw_jwt_claim: the integer 2 equals the value 2.0
--- config
location = /t { llmgw_jwt_claim ver 1.0 2.0; alias html/ok.txt; }
--- more_headers eval
tok(claims => { ver => 2 })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 38: llmgw_jwt_claim: the string "2" is not the string "2.0"
--- config
location = /t { llmgw_jwt_claim ver 1.0 2.0; alias html/ok.txt; }
--- more_headers eval
tok(claims => { ver => '2' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim ver not accepted"\}\}
--- response_headers
X-Auth: denied:claim ver not accepted



=== TEST 39: llmgw_jwt_claim on a boolean true
--- config
location = /t { llmgw_jwt_claim email_verified true; alias html/ok.txt; }
--- more_headers eval
tok(claims => { email_verified => \'true' })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 40: llmgw_jwt_claim: boolean false
--- config
location = /t { llmgw_jwt_claim email_verified true; alias html/ok.txt; }
--- more_headers eval
tok(claims => { email_verified => \'false' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim email_verified not accepted"\}\}
--- response_headers
X-Auth: denied:claim email_verified not accepted



=== TEST 41: llmgw_jwt_claim: a boolean against a value that is no boolean
--- config
location = /t { llmgw_jwt_claim email_verified yes 1; alias html/ok.txt; }
--- more_headers eval
tok(claims => { email_verified => \'true' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim email_verified not accepted"\}\}
--- response_headers
X-Auth: denied:claim email_verified not accepted



=== TEST 42: llmgw_jwt_claim on an array containing a value
--- config
location = /t { llmgw_jwt_claim amr mfa hwk; alias html/ok.txt; }
--- more_headers eval
tok(amr => ['pwd', 'hwk'])
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 43: llmgw_jwt_claim: an array without any of the values
--- config
location = /t { llmgw_jwt_claim amr mfa hwk; alias html/ok.txt; }
--- more_headers eval
tok(amr => ['pwd', 'mfa hwk'])
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim amr not accepted"\}\}
--- response_headers
X-Auth: denied:claim amr not accepted



=== TEST 44: llmgw_jwt_claim: an empty array
--- config
location = /t { llmgw_jwt_claim amr mfa; alias html/ok.txt; }
--- more_headers eval
tok(amr => [])
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim amr not accepted"\}\}
--- response_headers
X-Auth: denied:claim amr not accepted



=== TEST 45: llmgw_jwt_claim on a nested array under a dotted name
--- config
location = /t {
    llmgw_jwt_claim resource_access."llm.gateway".roles llm-user;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { resource_access => { 'llm.gateway' => { roles => ['text', 'llm-user'] } } })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 46: llmgw_jwt_claim repeated: every line must hold
--- config
location = /t {
    llmgw_jwt_claim token_use access;
    llmgw_jwt_claim client_id 6j2c7kq1vb3gq5rhsh0ldl4mfd;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { token_use => 'access', client_id => '4q9w8e7r6t5y4u3i2o1p0a9s8d' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim client_id not accepted"\}\}
--- response_headers
X-Auth: denied:claim client_id not accepted



=== TEST 47: llmgw_jwt_require_claim on a nested path
--- config
location = /t {
    llmgw_jwt_require_claim realm_access.roles;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { realm_access => { roles => [] } })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 48: llmgw_jwt_require_claim: a null claim is missing
--- config
location = /t { llmgw_jwt_require_claim department; alias html/ok.txt; }
--- more_headers eval
tok(claims => { department => \'null' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim department missing"\}\}
--- response_headers
X-Auth: denied:claim department missing



=== TEST 49: llmgw_jwt_require_claim: a path through a string is missing
--- config
location = /t { llmgw_jwt_require_claim realm_access.roles; alias html/ok.txt; }
--- more_headers eval
tok(claims => { realm_access => 'roles' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim realm_access.roles missing"\}\}
--- response_headers
X-Auth: denied:claim realm_access.roles missing



=== TEST 50: llmgw_jwt_require_claim: a quoted name shown with '
--- config
location = /t {
    llmgw_jwt_require_claim resource_access."llm.gateway".roles;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { resource_access => { account => { roles => ['view-profile'] } } })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim resource_access.'llm.gateway'.roles missing"\}\}
--- response_headers
X-Auth: denied:claim resource_access.'llm.gateway'.roles missing



=== TEST 51: no aud: the audience read from the audience claim
--- config
location = /t {
    llmgw_jwt_audience 6j2c7kq1vb3gq5rhsh0ldl4mfd;
    llmgw_jwt_audience_claim client_id;
    alias html/ok.txt;
}
--- more_headers eval
tok(aud => undef, claims => { client_id => '6j2c7kq1vb3gq5rhsh0ldl4mfd' })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 52: no aud: another client in the audience claim
--- config
location = /t {
    llmgw_jwt_audience 6j2c7kq1vb3gq5rhsh0ldl4mfd;
    llmgw_jwt_audience_claim client_id;
    alias html/ok.txt;
}
--- more_headers eval
tok(aud => undef, claims => { client_id => '4q9w8e7r6t5y4u3i2o1p0a9s8d' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 53: no aud and no audience claim
--- config
location = /t {
    llmgw_jwt_audience 6j2c7kq1vb3gq5rhsh0ldl4mfd;
    llmgw_jwt_audience_claim client_id;
    alias html/ok.txt;
}
--- more_headers eval
tok(aud => undef, claims => { azp => '6j2c7kq1vb3gq5rhsh0ldl4mfd' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 54: aud present: the audience claim is not looked at
--- config
location = /t {
    llmgw_jwt_audience 6j2c7kq1vb3gq5rhsh0ldl4mfd;
    llmgw_jwt_audience_claim client_id;
    alias html/ok.txt;
}
--- more_headers eval
tok(aud => 'https://api.example.com',
    claims => { client_id => '6j2c7kq1vb3gq5rhsh0ldl4mfd' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 55: aud present and accepted, whatever the audience claim says
--- config
location = /t {
    llmgw_jwt_audience 6j2c7kq1vb3gq5rhsh0ldl4mfd;
    llmgw_jwt_audience_claim client_id;
    alias html/ok.txt;
}
--- more_headers eval
tok(aud => '6j2c7kq1vb3gq5rhsh0ldl4mfd',
    claims => { client_id => '4q9w8e7r6t5y4u3i2o1p0a9s8d' })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 56: the first audience claim present is the one read
--- config
location = /t {
    llmgw_jwt_audience 0oa8f3k2m1XyZ7qR5697;
    llmgw_jwt_audience_claim cid azp;
    alias html/ok.txt;
}
--- more_headers eval
tok(aud => undef, claims => { cid => '0oa1b2c3d4E5f6G7h697', azp => '0oa8f3k2m1XyZ7qR5697' })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 57: a later audience claim when the first is absent
--- config
location = /t {
    llmgw_jwt_audience 0oa8f3k2m1XyZ7qR5697;
    llmgw_jwt_audience_claim cid azp;
    alias html/ok.txt;
}
--- more_headers eval
tok(aud => undef, claims => { azp => '0oa8f3k2m1XyZ7qR5697' })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 58: issuer and audience "any"
--- config
location = /t {
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    alias html/ok.txt;
}
--- more_headers eval
tok(iss => 'https://other.example.com/', aud => ['x', 'y'])
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 59: llmgw_claim_variable: arrays joined, quoted paths, numbers
--- http_config
llmgw_claim_variable $kc_roles resource_access."llm.gateway".roles;
llmgw_claim_variable $department '"https://llmgw.example.com/department"';
llmgw_claim_variable $token_ver ver;
--- config
location = /t {
    add_header X-Claims "$kc_roles|$department|$token_ver" always;
    alias html/ok.txt;
}
--- more_headers eval
tok(claims => { resource_access => { 'llm.gateway' => { roles => ['text', 'claude'] } },
                'https://llmgw.example.com/department' => 'finance',
                ver => 1 })
--- response_body
ok
--- response_headers
X-Claims: text,claude|finance|1



=== TEST 60: llmgw_claim_variable: set on a denied request too, empty
when the claim is missing
--- http_config
llmgw_claim_variable $kc_roles resource_access."llm.gateway".roles;
llmgw_claim_variable $department '"https://llmgw.example.com/department"';
llmgw_claim_variable $token_ver ver;
--- config
location = /t {
    llmgw_require_scope openai.stt;
    add_header X-Claims "$kc_roles|$department|$token_ver" always;
    alias html/ok.txt;
}
--- more_headers eval
tok(scope => 'text',
    claims => { resource_access => { 'llm.gateway' => { roles => ['admin'] } },
                'https://llmgw.example.com/team' => 'finance' })
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Claims: admin||
