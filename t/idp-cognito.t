# Amazon Cognito: examples/idp/cognito.conf, included as it is, against
# tokens in the layout a Cognito user pool issues: access tokens without
# "aud" (the app client in "client_id"), "token_use", custom scopes under
# the resource server's prefix, groups in "cognito:groups", ID tokens
# signed by the pool's other key, client-credentials tokens.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test qw(:all);

# Tokens as Cognito makes them, called from "--- more_headers eval"
# (evaluated in Test::Base::Filter when blocks() first runs: defined
# before the plan).  Claims given replace the defaults; an
# undef value removes the claim.

package Test::Base::Filter;

my $POOL = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Xk7Qp2ZrT';
my $ACCESS_KID = 'Sq8nWY8i2zW6cVqJ2nX6bQ0Dq3jXv0kS3aLhH8H2m4A=';
my $ID_KID = 'pD5BxQm9aG0m6rXr8pE1nN3yYqfN4bqZ8c0Vv2tJrKk=';
my $CHAT_APP = '6j2c7kq1vb3gq5rhsh0ldl4mfd';
my $BATCH_APP = '1h8o3v9ktq4r2s7u5w6x0y3zab';
my $ALICE = '8c1e5a2f-3b4d-4e6f-9a0b-1c2d3e4f5a6b';

sub cognito_mint {
    my ($key, $kid, $base, %over) = @_;
    my %claims = (%$base, %over);

    delete $claims{$_} for grep { !defined $claims{$_} } keys %claims;

    # header {"alg":"RS256","kid":"..."}: Cognito sends no typ
    return "Authorization: Bearer "
           . llmgw_token(key => $key, kid => $kid, claims => \%claims);
}

# a user's access token (authorization code grant)
sub cognito_access {
    return cognito_mint('rsa', $ACCESS_KID, {
        sub => $ALICE,
        'cognito:groups' => [],
        iss => $POOL,
        version => 2,
        client_id => $CHAT_APP,
        origin_jti => '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
        event_id => '5d6c7b8a-9f0e-4d1c-a2b3-c4d5e6f7a8b9',
        token_use => 'access',
        scope => 'aws.cognito.signin.user.admin openid email',
        auth_time => time - 60,
        jti => '2b3c4d5e-6f70-4819-8a2b-3c4d5e6f7081',
        username => 'alice',
    }, @_);
}

# a client-credentials (M2M) access token: sub is the app client
sub cognito_m2m {
    return cognito_mint('rsa', $ACCESS_KID, {
        sub => $BATCH_APP,
        token_use => 'access',
        scope => 'https://api.example.com/text',
        auth_time => time,
        iss => $POOL,
        version => 2,
        jti => '7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d',
        client_id => $BATCH_APP,
    }, @_);
}

# the same user's ID token: aud is the app client, signed by the other key
sub cognito_id {
    return cognito_mint('rsa2', $ID_KID, {
        sub => $ALICE,
        'cognito:groups' => ['all'],
        email_verified => \'true',
        iss => $POOL,
        'cognito:username' => 'alice',
        origin_jti => '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
        aud => $CHAT_APP,
        event_id => '5d6c7b8a-9f0e-4d1c-a2b3-c4d5e6f7a8b9',
        token_use => 'id',
        auth_time => time - 60,
        jti => '9c8b7a6d-5e4f-4321-8fed-cba987654321',
        email => 'alice@example.com',
    }, @_);
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

    # the pool's two keys: access tokens and ID tokens are signed by
    # different ones (in production: llmgw_jwt_jwks and the pool's JWKS)
    $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/rsa.pub kid=Sq8nWY8i2zW6cVqJ2nX6bQ0Dq3jXv0kS3aLhH8H2m4A=;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/rsa2.pub kid=pD5BxQm9aG0m6rXr8pE1nN3yYqfN4bqZ8c0Vv2tJrKk=;
    include $TEST_NGINX_LLMGW_ROOT/examples/idp/cognito.conf;
    add_header X-Auth "$llmgw_auth_status:$llmgw_auth_error" always;

    location = /claude { llmgw_require_scope claude; alias html/ok.txt; }
    location = /stt { llmgw_require_scope openai.stt; alias html/ok.txt; }
_EOC_
});


run_tests();

__DATA__

=== TEST 1: a user's custom scope, resource-server prefix removed
--- more_headers eval
cognito_access(scope => 'aws.cognito.signin.user.admin openid email '
                        . 'https://api.example.com/claude')
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 2: a custom scope that does not cover the API
--- request
GET /stt
--- more_headers eval
cognito_access(scope => 'openid https://api.example.com/text')
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 3: a group grants its scope, without prefix
--- more_headers eval
cognito_access('cognito:groups' => ['eu-staff', 'text'])
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 4: group "all" covers audio
--- request
GET /stt
--- more_headers eval
cognito_access('cognito:groups' => ['all'])
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 5: scopes without the resource server's prefix grant nothing
--- more_headers eval
cognito_access(scope => 'openid text https://other.example.com/all')
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"claude"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 6: a group whose name has a space grants nothing
--- request
GET /stt
--- more_headers eval
cognito_access('cognito:groups' => ['Team all'])
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 7: another app client of the pool
--- more_headers eval
cognito_access(client_id => '4q9w8e7r6t5y4u3i2o1p0a9s8d',
               scope => 'openid https://api.example.com/all')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted



=== TEST 8: an access token of another user pool
--- more_headers eval
cognito_access(iss => 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pq3Rs4TuV',
               scope => 'openid https://api.example.com/all')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"issuer not accepted"\}\}
--- response_headers
X-Auth: denied:issuer not accepted



=== TEST 9: the user's ID token: right aud, groups, but token_use "id"
--- more_headers eval
cognito_id()
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"claim token_use not accepted"\}\}
--- response_headers
X-Auth: denied:claim token_use not accepted



=== TEST 10: a client-credentials token with its custom scope
--- more_headers eval
cognito_m2m()
--- response_body
ok
--- response_headers
X-Auth: allowed:



=== TEST 11: a client-credentials token without the scope
--- request
GET /stt
--- more_headers eval
cognito_m2m()
--- error_code: 403
--- response_body_like: ^\{"error":\{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"\}\}
--- response_headers
X-Auth: denied:insufficient scope



=== TEST 12: bound to a resource, aud is the only audience checked
A token with "aud" (RFC 8707 resource binding) is not let in by an
accepted client_id: the recipe lists app clients, not the resource.
--- more_headers eval
cognito_access(aud => 'https://api.example.com',
               scope => 'openid https://api.example.com/all')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"audience not accepted"\}\}
--- response_headers
X-Auth: denied:audience not accepted
