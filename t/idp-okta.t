# Okta: examples/idp/okta.conf, included as it is, against tokens in the
# layout of an Okta custom authorization server: "ver" 1, "cid", "uid",
# "scp" as an ARRAY, "aud" api://llmgw; client-credentials tokens
# (sub = cid, no uid), ID tokens, tokens of the org authorization server
# and of another custom server.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test qw(:all);

# Tokens as Okta makes them, called from "--- more_headers eval"
# (evaluated in Test::Base::Filter when blocks() first runs: defined
# before the plan).  Claims given replace the defaults; an undef value
# removes the claim.

package Test::Base::Filter;

my $KID = 'Zk9m3rXq7TbV1sW5nYp2LcH8dJf4gKa6uEiOo0tRyQw';
my $ISS = 'https://example.okta.com/oauth2/aus9k2x7q5ZyR3mN8697';
my $CHAT_APP = '0oa8f3k2m1XyZ7qR5697';
my $BATCH_APP = '0oa9g4l3n2YzA8rS6697';

my %BASE = (
    # a user through the chat web app (authorization code)
    user => {
        ver => 1,
        jti => 'AT.kF3xZ9qW2mN7vB4cR8tY1hJ6sD5gA0eUoIiLpQ2wXyz',
        iss => $ISS,
        aud => 'api://llmgw',
        cid => $CHAT_APP,
        uid => '00u5t7x9y1AbCdEf2697',
        scp => ['openid', 'profile', 'email'],
        auth_time => time - 60,
        sub => 'alice@example.com',
    },
    # the batch job (client credentials): sub is the client, no uid
    m2m => {
        ver => 1,
        jti => 'AT.q8Wm2Zx5Kc1Vb7Nn4Ll0Jj3Hh6Gg9Ff2Dd5Ss8Aa1Pp',
        iss => $ISS,
        aud => 'api://llmgw',
        cid => $BATCH_APP,
        scp => ['text'],
        sub => $BATCH_APP,
    },
    # the user's ID token: aud is the client id
    id => {
        sub => '00u5t7x9y1AbCdEf2697',
        name => 'Alice Example',
        email => 'alice@example.com',
        ver => 1,
        iss => $ISS,
        aud => $CHAT_APP,
        jti => 'ID.7vB4cR8tY1hJ6sD5gA0eUoIiLpQ2wXyzkF3xZ9qW2mN',
        amr => ['pwd', 'mfa', 'otp'],
        idp => '00o1a2b3c4D5e6F7g697',
        nonce => 'aB3dE5fG7h',
        preferred_username => 'alice@example.com',
        auth_time => time - 60,
        at_hash => 'fPlsvVszI29LU2UhDyJ9vg',
    },
);

sub okta {
    my ($kind, %over) = @_;
    my %claims = (%{ $BASE{$kind} }, %over);

    delete $claims{$_} for grep { !defined $claims{$_} } keys %claims;

    # header {"kid":"...","alg":"RS256"}: no typ
    return "Authorization: Bearer "
           . llmgw_token(kid => $KID, claims => \%claims);
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

    # the authorization server's key (production: llmgw_jwt_jwks and its
    # v1/keys)
    $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/rsa.pub kid=Zk9m3rXq7TbV1sW5nYp2LcH8dJf4gKa6uEiOo0tRyQw;
    include $TEST_NGINX_LLMGW_ROOT/examples/idp/okta.conf;
    add_header X-Auth "$llmgw_auth_status:$llmgw_auth_error" always;

    location = /claude { llmgw_require_scope claude; alias html/ok.txt; }
    location = /stt { llmgw_require_scope openai.stt; alias html/ok.txt; }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a user's custom scope in the scp array
--- more_headers eval
okta('user', scp => ['openid', 'profile', 'claude'])
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 2: scp without the scope
--- request
GET /stt
--- more_headers eval
okta('user', scp => ['openid', 'text', 'openai.tts'])
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 3: "all" covers audio
--- request
GET /stt
--- more_headers eval
okta('user', scp => ['all'])
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 4: a client-credentials token with its scope
--- more_headers eval
okta('m2m')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 5: a client-credentials token without the scope
--- request
GET /stt
--- more_headers eval
okta('m2m')
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 6: another app client of the authorization server
--- more_headers eval
okta('user', cid => '0oa1b2c3d4E5f6G7h697', scp => ['all'])
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim cid not accepted"\}\}
--- response_headers
X-Auth: denied:claim cid not accepted



=== TEST 7: a token of another custom authorization server's audience
--- more_headers eval
okta('user', aud => 'api://default', scp => ['all'])
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 8: a token of the org authorization server (for Okta's APIs)
--- more_headers eval
okta('user', iss => 'https://example.okta.com', aud => 'https://example.okta.com',
     scp => ['okta.users.read.self', 'all'])
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"issuer not accepted"\}\}
--- response_headers
X-Auth: denied:issuer not accepted



=== TEST 9: the user's ID token (aud is the client id)
--- more_headers eval
okta('id')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 10: ver is the number 1: another version is refused
--- more_headers eval
okta('user', ver => 2, scp => ['all'])
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim ver not accepted"\}\}
--- response_headers
X-Auth: denied:claim ver not accepted
