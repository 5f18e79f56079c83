# Microsoft Entra ID: examples/idp/entra.conf, included as it is, against
# tokens in the layout Entra issues for the gateway's app registration:
# v1.0 and v2.0 access tokens (header typ/x5t/kid, issuers, audiences),
# "scp" as ONE space-separated string, app-only tokens with "roles" and no
# "scp", ID tokens, tokens for other APIs and tenants.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test qw(:all);

# Tokens as Entra makes them, called from "--- more_headers eval"
# (evaluated in Test::Base::Filter when blocks() first runs: defined
# before the plan).  Claims given replace the defaults; an undef value
# removes the claim.

package Test::Base::Filter;

my $KID = 'M4xKp2vQ9sT1uW3yZ5aB7cD9eF0';
my $TID = '7d2f4b6e-1c3a-4e5f-9a8b-0c1d2e3f4a5b';
my $API = 'a3f1c2d4-5b6e-4f70-8192-a3b4c5d6e7f8';      # the gateway
my $CHAT_APP = 'c5d6e7f8-a9b0-4c1d-8e2f-3a4b5c6d7e8f'; # a web app (users)
my $DAEMON = 'e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b';   # a batch job
my $ALICE_OID = '4b5c6d7e-8f90-4a1b-9c2d-3e4f5a6b7c8d';
my $DAEMON_SP = '9f8e7d6c-5b4a-4392-8187-6f5e4d3c2b1a';

my %BASE = (
    # a user through the web app, v2.0
    v2 => {
        aud => $API,
        iss => "https://login.microsoftonline.com/$TID/v2.0",
        aio => 'AWQAm/8ZAAAAbG9uZyBvcGFxdWUgdmFsdWUgaGVyZQ==',
        azp => $CHAT_APP,
        azpacr => '0',
        name => 'Alice Example',
        oid => $ALICE_OID,
        preferred_username => 'alice@contoso.example',
        rh => '0.AXEAbkvyfToXXk6aiwwNHj9KW9TC8aNrW3BPgZKjtMXW5_hxAKE.',
        scp => 'text',
        sid => '00f3c6a1-2b4d-4e6f-8a9b-c0d1e2f3a4b5',
        sub => 'qZ3kX9mN2pL7vB4cR8tW1yH6jF0sD5gA-eUoIiKxT1w',
        tid => $TID,
        uti => 'pQ3rS4tU5vW6xY7zA8bC9d',
        ver => '2.0',
    },
    # the same user, the app registration set to v1.0 tokens
    v1 => {
        aud => "api://$API",
        iss => "https://sts.windows.net/$TID/",
        acr => '1',
        aio => 'E2ZgYJjvc2nA8f/dYbW3kcN1AA==',
        amr => ['pwd', 'mfa'],
        appid => $CHAT_APP,
        appidacr => '0',
        family_name => 'Example',
        given_name => 'Alice',
        ipaddr => '203.0.113.7',
        name => 'Alice Example',
        oid => $ALICE_OID,
        rh => '0.AXEAbkvyfToXXk6aiwwNHj9KW9TC8aNrW3BPgZKjtMXW5_hxAKE.',
        scp => 'text',
        sub => 'qZ3kX9mN2pL7vB4cR8tW1yH6jF0sD5gA-eUoIiKxT1w',
        tid => $TID,
        unique_name => 'alice@contoso.example',
        upn => 'alice@contoso.example',
        uti => 'xY7zA8bC9dpQ3rS4tU5vW6',
        ver => '1.0',
    },
    # app-only (client credentials): roles, no scp
    app => {
        aud => $API,
        iss => "https://login.microsoftonline.com/$TID/v2.0",
        aio => 'k2BgYPhvZ8b/dAAAAA==',
        azp => $DAEMON,
        azpacr => '1',
        idtyp => 'app',
        oid => $DAEMON_SP,
        rh => '0.AXEAbkvyfToXXk6aiwwNHj9KW9TC8aNrW3BPgZKjtMXW5_hxAKE.',
        roles => ['text'],
        sub => $DAEMON_SP,
        tid => $TID,
        uti => 'bC9dpQ3rS4tU5vW6xY7zA8',
        ver => '2.0',
    },
    # the user's ID token from the web app's sign-in
    id => {
        aud => $CHAT_APP,
        iss => "https://login.microsoftonline.com/$TID/v2.0",
        aio => 'AWQAm/8ZAAAAbG9uZyBvcGFxdWUgdmFsdWUgaGVyZQ==',
        name => 'Alice Example',
        nonce => '3f1c6a9e-0b2d-4c5e-8f7a-6b9c0d1e2f3a',
        oid => $ALICE_OID,
        preferred_username => 'alice@contoso.example',
        rh => '0.AXEAbkvyfToXXk6aiwwNHj9KW9TC8aNrW3BPgZKjtMXW5_hxAKE.',
        roles => ['all'],
        sid => '00f3c6a1-2b4d-4e6f-8a9b-c0d1e2f3a4b5',
        sub => 'Hq7Yc2Vn5Lx9Pw1Kt4Rb8Zm3Gf6Dj0Sa-uEoIiKxT1w',
        tid => $TID,
        uti => 'pQ3rS4tU5vW6xY7zA8bC9d',
        ver => '2.0',
    },
);

sub entra {
    my ($kind, %over) = @_;
    my %claims = (%{ $BASE{$kind} }, %over);

    delete $claims{$_} for grep { !defined $claims{$_} } keys %claims;

    # access tokens: {"typ":"JWT","alg":"RS256","x5t":K,"kid":K};
    # ID tokens without x5t
    return "Authorization: Bearer "
           . llmgw_token(typ => 'JWT', kid => $KID,
                         headers => $kind eq 'id' ? {} : { x5t => $KID },
                         nbf => 0, claims => \%claims);
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

    # the tenant's signing key (production: llmgw_jwt_jwks and the tenant's
    # discovery/v2.0/keys)
    $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/rsa.pub kid=M4xKp2vQ9sT1uW3yZ5aB7cD9eF0;
    include $TEST_NGINX_LLMGW_ROOT/examples/idp/entra.conf;
    add_header X-Auth "$llmgw_auth_status:$llmgw_auth_error" always;

    location = /claude { llmgw_require_scope claude; alias html/ok.txt; }
    location = /stt { llmgw_require_scope openai.stt; alias html/ok.txt; }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: v2.0 delegated token, scp "claude"
--- more_headers eval
entra('v2', scp => 'claude')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 2: scp is one string: its second scope counts
--- request
GET /stt
--- more_headers eval
entra('v2', scp => 'text openai.stt')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 3: v2.0 delegated token without the scope
--- request
GET /stt
--- more_headers eval
entra('v2', scp => 'text openai.tts')
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 4: v1.0 delegated token: sts.windows.net, App ID URI audience
--- more_headers eval
entra('v1', scp => 'text')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 5: v1.0 token requested with the client id as resource
--- more_headers eval
entra('v1', aud => 'a3f1c2d4-5b6e-4f70-8192-a3b4c5d6e7f8', scp => 'claude')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 6: app-only token: roles, no scp
--- more_headers eval
entra('app')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 7: app-only token without the role
--- request
GET /stt
--- more_headers eval
entra('app')
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 8: a user's app role counts in a delegated token
--- request
GET /stt
--- more_headers eval
entra('v2', scp => 'access_as_user', roles => ['audio'])
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 9: a token for another API of the tenant
--- more_headers eval
entra('v2', aud => 'b7c8d9e0-f1a2-4b3c-9d4e-5f6a7b8c9d0e', scp => 'all')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 10: a Microsoft Graph token (v1.0 issuer, Graph's app id)
--- more_headers eval
entra('v1', aud => '00000003-0000-0000-c000-000000000000',
      scp => 'openid profile email User.Read', roles => ['all'])
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 11: a token of another tenant
--- more_headers eval
entra('v2', iss => 'https://login.microsoftonline.com/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/v2.0',
      tid => '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', scp => 'all')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"issuer not accepted"\}\}
--- response_headers
X-Auth: denied:issuer not accepted



=== TEST 12: the user's ID token (aud is the web app), with an app role
--- more_headers eval
entra('id')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 13: the tid claim is checked too
--- more_headers eval
entra('v2', tid => '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', scp => 'all')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim tid not accepted"\}\}
--- response_headers
X-Auth: denied:claim tid not accepted
