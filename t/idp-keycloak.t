# Keycloak: examples/idp/keycloak.conf, included as it is, against tokens
# in the layout Keycloak issues in realm "corp": the "typ" CLAIM (Bearer /
# ID), "aud" with "account", client roles under the dotted client id
# resource_access."llm.gateway".roles, realm roles, a service account's
# client-credentials token, ID tokens with the gateway's audience.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test qw(:all);

# Tokens as Keycloak makes them, called from "--- more_headers eval"
# (evaluated in Test::Base::Filter when blocks() first runs: defined
# before the plan).  Claims given replace the defaults; an undef value
# removes the claim.

package Test::Base::Filter;

my $KID = 'q1hYt2sZ0X3bVf8mQpWn5rK7cLd9aJe4gHiUoTy6wEs';
my $ISS = 'https://sso.example.com/realms/corp';
my $ALICE = '1e2d3c4b-5a69-4788-97a6-b5c4d3e2f1a0';
my $DEFAULT_ROLES = ['offline_access', 'uma_authorization',
                     'default-roles-corp'];

my %BASE = (
    # a user through the chat web app (client llm-chat)
    user => {
        auth_time => time - 60,
        jti => 'onrtac:6f1d2e3c-4b5a-4697-8a8b-9c0d1e2f3a4b',
        iss => $ISS,
        aud => ['llm.gateway', 'account'],
        sub => $ALICE,
        typ => 'Bearer',
        azp => 'llm-chat',
        sid => '7a6b5c4d-3e2f-4109-8f7e-6d5c4b3a2910',
        acr => '1',
        'allowed-origins' => ['https://chat.example.com'],
        realm_access => { roles => $DEFAULT_ROLES },
        resource_access => {
            'llm.gateway' => { roles => ['text'] },
            account => { roles => ['manage-account', 'manage-account-links',
                                   'view-profile'] },
        },
        scope => 'openid profile email',
        email_verified => \'true',
        name => 'Alice Example',
        preferred_username => 'alice',
        given_name => 'Alice',
        family_name => 'Example',
        email => 'alice@example.com',
    },
    # the service account of client llm-batch (client credentials)
    service => {
        jti => 'trtcc:2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f',
        iss => $ISS,
        aud => 'llm.gateway',
        sub => '0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a',
        typ => 'Bearer',
        azp => 'llm-batch',
        acr => '1',
        'allowed-origins' => ['/*'],
        realm_access => { roles => $DEFAULT_ROLES },
        resource_access => { 'llm.gateway' => { roles => ['text'] } },
        scope => 'profile email',
        clientHost => '10.20.30.40',
        email_verified => \'false',
        preferred_username => 'service-account-llm-batch',
        clientAddress => '10.20.30.40',
        client_id => 'llm-batch',
    },
    # the user's ID token; the chat client's Audience mapper and role
    # mapper have "Add to ID token" on
    id => {
        auth_time => time - 60,
        jti => '5b4a3928-1706-4f5e-8d4c-3b2a19080706',
        iss => $ISS,
        aud => ['llm-chat', 'llm.gateway'],
        sub => $ALICE,
        typ => 'ID',
        azp => 'llm-chat',
        nonce => 'n-0S6_WzA2Mj',
        sid => '7a6b5c4d-3e2f-4109-8f7e-6d5c4b3a2910',
        at_hash => 'HK6E_P6Dh8Y93mRNtsDB1Q',
        acr => '1',
        resource_access => { 'llm.gateway' => { roles => ['all'] } },
        email_verified => \'true',
        name => 'Alice Example',
        preferred_username => 'alice',
        given_name => 'Alice',
        family_name => 'Example',
        email => 'alice@example.com',
    },
);

sub keycloak {
    my ($kind, %over) = @_;
    my %claims = (%{ $BASE{$kind} }, %over);

    delete $claims{$_} for grep { !defined $claims{$_} } keys %claims;

    # header {"alg":"RS256","typ":"JWT","kid":"..."}, ID tokens too
    return "Authorization: Bearer "
           . llmgw_token(typ => 'JWT', kid => $KID, claims => \%claims);
}

sub gateway_roles {
    my (@roles) = @_;

    return (resource_access => { 'llm.gateway' => { roles => \@roles },
                                 account => { roles => ['view-profile'] } });
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

    # the realm's key (production: llmgw_jwt_jwks and the realm's
    # protocol/openid-connect/certs)
    $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/rsa.pub kid=q1hYt2sZ0X3bVf8mQpWn5rK7cLd9aJe4gHiUoTy6wEs;
    include $TEST_NGINX_LLMGW_ROOT/examples/idp/keycloak.conf;
    add_header X-Auth "$llmgw_auth_status:$llmgw_auth_error" always;

    location = /claude { llmgw_require_scope claude; alias html/ok.txt; }
    location = /stt { llmgw_require_scope openai.stt; alias html/ok.txt; }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a client role of llm.gateway
--- more_headers eval
keycloak('user', gateway_roles('claude'))
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 2: client roles that do not cover the API
--- request
GET /stt
--- more_headers eval
keycloak('user', gateway_roles('text', 'openai.tts'))
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 3: a realm role with the llm- prefix
--- request
GET /stt
--- more_headers eval
keycloak('user', gateway_roles(),
         realm_access => { roles => ['offline_access', 'llm-audio',
                                     'uma_authorization'] })
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 4: realm roles without the prefix grant nothing
--- request
GET /stt
--- more_headers eval
keycloak('user', gateway_roles(),
         realm_access => { roles => ['offline_access', 'audio', 'all',
                                     'default-roles-corp'] })
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 5: roles of another client whose id starts the same grant nothing
--- more_headers eval
keycloak('user', aud => ['llm.gateway', 'llm.gateway.admin', 'account'],
         resource_access => { 'llm.gateway.admin' => { roles => ['all'] },
                              'llm.gateway' => { roles => ['openai.stt'] } })
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"claude"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 6: a token of another application: aud "account" only
--- more_headers eval
keycloak('user', aud => 'account', azp => 'intranet',
         resource_access => { account => { roles => ['view-profile'] } },
         realm_access => { roles => ['llm-all', 'offline_access'] })
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 7: a token of another realm
--- more_headers eval
keycloak('user', iss => 'https://sso.example.com/realms/partners',
         gateway_roles('all'))
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"issuer not accepted"\}\}
--- response_headers
X-Auth: denied:issuer not accepted



=== TEST 8: the user's ID token: gateway audience and roles, typ "ID"
--- more_headers eval
keycloak('id')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim typ not accepted"\}\}
--- response_headers
X-Auth: denied:claim typ not accepted



=== TEST 9: a service account's token with its client role
--- more_headers eval
keycloak('service')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 10: a service account's token without the role
--- request
GET /stt
--- more_headers eval
keycloak('service')
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 11: a token with the at+jwt header type (client opt-in) passes
the recipe, which checks the typ claim, not the header
--- more_headers eval
"Authorization: Bearer "
. llmgw_token(typ => 'at+jwt', kid => 'q1hYt2sZ0X3bVf8mQpWn5rK7cLd9aJe4gHiUoTy6wEs',
              iss => 'https://sso.example.com/realms/corp',
              aud => 'llm.gateway', sub => '1e2d3c4b-5a69-4788-97a6-b5c4d3e2f1a0',
              claims => { typ => 'Bearer', azp => 'llm-chat',
                          resource_access => { 'llm.gateway' => { roles => ['text'] } } })
--- response_body
ok
--- response_headers
X-Auth: allowed:
