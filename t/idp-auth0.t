# Auth0: examples/idp/auth0.conf, included as it is, against tokens in the
# layouts Auth0 issues for an API with RBAC: the Auth0 profile (header
# typ JWT, "azp", "aud" an array with /userinfo), the RFC 9068 profile
# (header typ at+jwt, "client_id", "jti"), "permissions", M2M tokens
# ("gty" client-credentials, sub CLIENT@clients), ID tokens, a namespaced
# custom claim.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test qw(:all);

# Tokens as Auth0 makes them, called from "--- more_headers eval"
# (evaluated in Test::Base::Filter when blocks() first runs: defined
# before the plan).  Claims given replace the defaults; an undef value
# removes the claim.

package Test::Base::Filter;

my $KID = 'Ejr6CMYtbTzh5z0ykC2Rh';
my $ISS = 'https://example-corp.eu.auth0.com/';
my $API = 'https://llm.example.com/api';
my $CHAT_APP = 'kL3x9QpV7sT2wY5zA8bC1dE4fG6hJ0mN';
my $BATCH_APP = 'Rt5yU8iO1pA4sD7fG0hJ3kL6zX9cV2bN';

my %BASE = (
    # a user through the chat web app, Auth0 token profile
    user => {
        iss => $ISS,
        sub => 'auth0|64f0c2a1b2c3d4e5f6a7b8c9',
        aud => [$API, "${ISS}userinfo"],
        azp => $CHAT_APP,
        scope => 'openid profile email',
        permissions => [],
    },
    # the same, RFC 9068 token profile (header typ at+jwt)
    rfc9068 => {
        iss => $ISS,
        sub => 'auth0|64f0c2a1b2c3d4e5f6a7b8c9',
        aud => [$API, "${ISS}userinfo"],
        client_id => $CHAT_APP,
        jti => '73WakrfVbNJBaAmhQtEeDv',
        scope => 'openid profile email',
        permissions => [],
    },
    # the batch job (client credentials)
    m2m => {
        iss => $ISS,
        sub => "$BATCH_APP\@clients",
        aud => $API,
        azp => $BATCH_APP,
        gty => 'client-credentials',
        scope => 'text',
        permissions => ['text'],
    },
    # the user's ID token: aud is the application
    id => {
        nickname => 'alice',
        name => 'alice@example.com',
        picture => 'https://s.gravatar.com/avatar/0000000000000000?s=480&r=pg',
        updated_at => '2026-11-30T09:12:44.031Z',
        email => 'alice@example.com',
        email_verified => \'true',
        iss => $ISS,
        aud => $CHAT_APP,
        sub => 'auth0|64f0c2a1b2c3d4e5f6a7b8c9',
        sid => 'Xh3Jq8sFvB2nL5mK9pW1zR4tY7uC0dE6',
        nonce => 'bm9uY2UtMTIzNDU2',
    },
);

sub auth0 {
    my ($kind, %over) = @_;
    my %claims = (%{ $BASE{$kind} }, %over);

    delete $claims{$_} for grep { !defined $claims{$_} } keys %claims;

    # header {"alg":"RS256","typ":"JWT" or "at+jwt","kid":"..."}
    return "Authorization: Bearer "
           . llmgw_token(typ => $kind eq 'rfc9068' ? 'at+jwt' : 'JWT',
                         kid => $KID, claims => \%claims);
}

package main;


repeat_each(2);

plan tests => repeat_each() * (3 * blocks());

no_shuffle();

$ENV{TEST_NGINX_LLMGW_ROOT} = llmgw_root();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('request', "GET /claude") unless defined $block->request;

    $block->set_value('http_config', <<'_EOC_');
    llmgw_token_cache_zone llmgw_tokens:1m;
    include $TEST_NGINX_LLMGW_ROOT/examples/scopes.conf;
_EOC_

    $block->set_value('user_files', ">>> ok.txt\nok\n");

    # the tenant's key (production: llmgw_jwt_jwks and the tenant's
    # .well-known/jwks.json); /rfc9068 is an API set to the RFC 9068
    # profile, /dept requires the department an Action adds
    $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/rsa.pub kid=Ejr6CMYtbTzh5z0ykC2Rh;
    include $TEST_NGINX_LLMGW_ROOT/examples/idp/auth0.conf;
    add_header X-Auth "$llmgw_auth_status:$llmgw_auth_error" always;

    location = /claude { llmgw_require_scope claude; alias html/ok.txt; }
    location = /stt { llmgw_require_scope openai.stt; alias html/ok.txt; }

    location = /rfc9068 {
        llmgw_jwt_typ at+jwt;
        llmgw_require_scope claude;
        alias html/ok.txt;
    }

    location = /dept {
        llmgw_jwt_require_claim '"https://llmgw.example.com/department"';
        llmgw_require_scope claude;
        alias html/ok.txt;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a user's permission (RBAC), aud with /userinfo
--- more_headers eval
auth0('user', scope => 'openid profile email claude', permissions => ['claude'])
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 2: permissions without the scope
--- request
GET /stt
--- more_headers eval
auth0('user', scope => 'openid text', permissions => ['text', 'openai.tts'])
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 3: "scope" is not read: only permissions count
--- more_headers eval
auth0('user', scope => 'openid profile all claude', permissions => ['openai.tts'])
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"claude"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 4: RBAC off: no permissions claim, any scope asked for
--- more_headers eval
auth0('user', scope => 'openid all', permissions => undef)
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"claude"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 5: a token for another API of the tenant
--- more_headers eval
auth0('user', aud => ['https://billing.example.com/api',
                      'https://example-corp.eu.auth0.com/userinfo'],
      permissions => ['all'])
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 6: a token of another tenant (issuer without the final slash too)
--- more_headers eval
auth0('user', iss => 'https://example-corp.eu.auth0.com', permissions => ['all'])
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"issuer not accepted"\}\}
--- response_headers
X-Auth: denied:issuer not accepted



=== TEST 7: the user's ID token (aud is the application)
--- more_headers eval
auth0('id', permissions => ['all'])
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 8: an M2M token with its permission
--- more_headers eval
auth0('m2m', scope => 'claude', permissions => ['claude'])
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 9: an M2M token without the permission
--- request
GET /stt
--- more_headers eval
auth0('m2m')
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 10: RFC 9068 profile: typ at+jwt, client_id, jti
--- request
GET /rfc9068
--- more_headers eval
auth0('rfc9068', scope => 'openid text', permissions => ['text'])
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 11: RFC 9068 check: an Auth0-profile token (typ JWT) is refused
--- request
GET /rfc9068
--- more_headers eval
auth0('user', scope => 'openid text', permissions => ['text'])
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"token type not accepted"\}\}
--- response_headers
X-Auth: denied:token type not accepted



=== TEST 12: a namespaced custom claim required and present
--- request
GET /dept
--- more_headers eval
auth0('user', permissions => ['text'],
      'https://llmgw.example.com/department' => 'finance')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 13: a namespaced custom claim required and missing; the name
shown with ' for "
--- request
GET /dept
--- more_headers eval
auth0('user', permissions => ['text'],
      'https://llmgw.example.com/team' => 'finance')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim 'https://llmgw.example.com/department' missing"\}\}
--- response_headers
X-Auth: denied:claim 'https://llmgw.example.com/department' missing
