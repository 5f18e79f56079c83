# JWT authentication: token sources, algorithms, every rejection reason.
# repeat_each(2) with the token cache on: the second run of each block goes
# through the cache, and must reach the same verdict.

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
    large_client_header_buffers 4 80k;
_EOC_

    $block->set_value('user_files', ">>> ok.txt\nok\n")
        unless defined $block->user_files;
});

run_tests();

__DATA__

=== TEST 1: RS256 with a JWKS key is accepted, subject exposed
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
    add_header X-Sub $llmgw_sub always;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa', sub => 'alice')
--- response_body
ok
--- response_headers
X-Sub: alice



=== TEST 2: PS256 (the same RSA key under kid rsa1-ps) is accepted
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
    add_header X-Sub $llmgw_sub always;
}
--- more_headers eval
"Authorization: Bearer "
. llmgw_token(key => 'rsa', alg => 'PS256', kid => 'rsa1-ps', sub => 'bob')
--- response_body
ok
--- response_headers
X-Sub: bob



=== TEST 3: ES256 is accepted
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
    add_header X-Sub $llmgw_sub always;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'ec256', sub => 'carol')
--- response_body
ok
--- response_headers
X-Sub: carol



=== TEST 4: ES384 and EdDSA keys from a PEM file with a kid
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/ed25519.pub kid=ed1;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
    add_header X-Sub $llmgw_sub always;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'ed25519', sub => 'dave')
--- response_body
ok
--- response_headers
X-Sub: dave



=== TEST 5: a PEM key without kid verifies tokens without kid
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/ec384.pub;
    alias html/ok.txt;
    add_header X-Sub $llmgw_sub always;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'ec384', no_kid => 1,
                                       sub => 'erin')
--- response_body
ok
--- response_headers
X-Sub: erin



=== TEST 6: a token signed by libjwt is accepted
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
    add_header X-Sub $llmgw_sub always;
}
--- more_headers eval
"Authorization: Bearer "
. llmgw_libjwt_token(key => 'rsa', claims => { sub => 'libjwt-user',
                                                exp => time + 300 })
--- response_body
ok
--- response_headers
X-Sub: libjwt-user



=== TEST 7: no credential: 401 with a bare Bearer challenge
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"unauthorized","message":"missing bearer token"\}\}
--- response_headers
WWW-Authenticate: Bearer realm="llmgw"



=== TEST 8: another scheme in Authorization counts as no credential
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_realm "LLM gateway";
    alias html/ok.txt;
}
--- more_headers
Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l
--- error_code: 401
--- response_body_like: "missing bearer token"
--- response_headers
WWW-Authenticate: Bearer realm="LLM gateway"



=== TEST 9: "Bearer" with nothing after it
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers
Authorization: Bearer   
--- error_code: 401
--- response_body_like: "missing bearer token"
--- response_headers
WWW-Authenticate: Bearer realm="llmgw"



=== TEST 10: the api-key header of the Azure SDKs
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_token_header api-key authorization;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
    add_header X-Sub $llmgw_sub always;
}
--- more_headers eval
"api-key: " . llmgw_token(key => 'rsa', sub => 'azure-sdk')
--- response_body
ok
--- response_headers
X-Sub: azure-sdk



=== TEST 11: x-goog-api-key, given twice, is refused
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_token_header x-goog-api-key;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
my $t = llmgw_token(key => 'rsa');
"x-goog-api-key: $t\nx-goog-api-key: $t"
--- error_code: 401
--- response_body_like: "more than one credential given"
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="invalid_request", error_description="more than one credential given"



=== TEST 12: a header the location does not read is no credential
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_token_header x-goog-api-key;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa')
--- error_code: 401
--- response_body_like: "missing bearer token"
--- response_headers
WWW-Authenticate: Bearer realm="llmgw"



=== TEST 13: alg none is refused
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(none => 1, kid => 'rsa1')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- response_headers_like
WWW-Authenticate: ^Bearer realm="llmgw", error="invalid_token", error_description="[a-z ]+"$



=== TEST 14: HS256 with the RSA public key as the secret is refused
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/rsa.pub kid=rsa1;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(hs256_pubkey => 'rsa', kid => 'rsa1')
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- response_headers_like
WWW-Authenticate: .*error="invalid_token".*



=== TEST 15: an algorithm the location does not allow
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_algorithms RS256 ES256;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'ed25519')
--- error_code: 401
--- response_body_like: "algorithm not allowed"
--- response_headers_like
WWW-Authenticate: .*error_description="algorithm not allowed".*



=== TEST 16: ES256 token presented under an RSA kid
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'ec256', kid => 'rsa1')
--- error_code: 401
--- response_body_like: "unknown signing key"
--- response_headers_like
WWW-Authenticate: .*error="invalid_token".*



=== TEST 17: unknown kid
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa2', kid => 'rsa2')
--- error_code: 401
--- response_body_like: "unknown signing key"
--- response_headers_like
WWW-Authenticate: .*error_description="unknown signing key".*



=== TEST 18: a kid with a path and quotes is opaque, never echoed
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer "
. llmgw_token(key => 'rsa', kid => q{../../../etc/passwd" or "1"="1})
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"unknown signing key"\}\}\r?\n?$
--- response_headers_like
WWW-Authenticate: .*error_description="unknown signing key".*



=== TEST 19: a token with no kid does not take keys that have one
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa', no_kid => 1)
--- error_code: 401
--- response_body_like: "unknown signing key"
--- response_headers_like
WWW-Authenticate: .*error="invalid_token".*



=== TEST 20: tampered payload
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa', tamper => 'payload')
--- error_code: 401
--- response_body_like: "invalid signature"
--- response_headers_like
WWW-Authenticate: .*error_description="invalid signature".*



=== TEST 21: tampered signature (ES256)
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'ec256', tamper => 'signature')
--- error_code: 401
--- response_body_like: "invalid signature"
--- response_headers_like
WWW-Authenticate: .*error_description="invalid signature".*



=== TEST 22: broken base64url in the header
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
my $t = llmgw_token(key => 'rsa');
$t =~ s/^(.)/+/;
"Authorization: Bearer $t"
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"invalid base64url"\}\}\r?\n?$
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="invalid_token", error_description="invalid base64url"



=== TEST 23: broken base64url in the payload
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
my @p = split /\./, llmgw_token(key => 'rsa');
"Authorization: Bearer $p[0].$p[1]=.$p[2]"
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"invalid base64url"\}\}\r?\n?$
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="invalid_token", error_description="invalid base64url"



=== TEST 24: broken base64url in the signature
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
my @p = split /\./, llmgw_token(key => 'rsa');
"Authorization: Bearer $p[0].$p[1].$p[2]/"
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"invalid base64url"\}\}\r?\n?$
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="invalid_token", error_description="invalid base64url"



=== TEST 25: broken JSON in the header
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa',
    raw_header => '{"alg":"RS256","kid":"rsa1"',
    raw_payload => '{"sub":"x","exp":' . (time + 300) . '}')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"invalid JSON"\}\}\r?\n?$
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="invalid_token", error_description="invalid JSON"



=== TEST 26: broken JSON in the payload
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa',
    raw_header => '{"alg":"RS256","kid":"rsa1"}',
    raw_payload => '{"sub":"x","exp":' . (time + 300) . ',}')
--- error_code: 401
--- response_body_like: ^\{"error":\{"code":"invalid_token","message":"invalid JSON"\}\}\r?\n?$
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="invalid_token", error_description="invalid JSON"



=== TEST 27: a 64 KiB token is refused before any parsing
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa', pad_to => 65536)
--- error_code: 401
--- response_body_like: "token too large"
--- response_headers_like
WWW-Authenticate: .*error_description="token too large".*



=== TEST 28: a token within a raised size limit is accepted
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_max_size 64k;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
    add_header X-Sub $llmgw_sub always;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa', sub => 'big',
                                       pad_to => 60000)
--- response_body
ok
--- response_headers
X-Sub: big



=== TEST 29: garbage that is not a JWS at all
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers
Authorization: Bearer not-a-token
--- error_code: 401
--- response_body_like: "code":"invalid_token"
--- response_headers_like
WWW-Authenticate: .*error="invalid_token".*



=== TEST 30: variables: any claim, arrays joined, granted scopes
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
    add_header X-Claims "$llmgw_claim_department|$llmgw_claim_groups|$llmgw_claim_level|$llmgw_scopes|$llmgw_auth_status" always;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa', scope => 'text audio',
    claims => { department => 'finance', groups => ['a', 'b'], level => 3 })
--- response_body
ok
--- response_headers
X-Claims: finance|a,b|3|text audio|allowed



=== TEST 31: header names match whatever their case, in config and request
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_token_header X-Goog-Api-Key;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
    add_header X-Sub $llmgw_sub always;
}
--- more_headers eval
"x-GOOG-api-KEY: " . llmgw_token(key => 'rsa', sub => 'gemini-sdk')
--- response_body
ok
--- response_headers
X-Sub: gemini-sdk
