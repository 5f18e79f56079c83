# llmgw_fapi: PS256, ES256 and EdDSA only, the token only from
# Authorization, and a sender-constrained token: bound to the client's
# certificate (cnf.x5t#S256, t/mtls.t) or by DPoP (cnf.jkt with the DPoP
# scheme and a proof the dpop stage verified: t/dpop.t TEST 99).  The gateway is a TLS server on a unix
# socket in this nginx; /alice/ and /anon/ reach it with alice's
# certificate or none.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test;
use LLMGW::Certs;

our $C = llmgw_certs();

sub bound {
    my (%o) = @_;

    return llmgw_token(sub => 'alice',
                       claims => { cnf => { 'x5t#S256' => $C->{alice}{x5t} } },
                       %o);
}

our $JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';

sub body {
    my ($code, $text) = @_;

    return qq({"error":{"code":"$code","message":"$text"}}\n);
}

our $UNBOUND = 'sender-constrained token required: bearer token without '
               . 'binding';

repeat_each(2);

plan tests => repeat_each() * 37;

no_shuffle();

our $Echo = <<'_EOC_';
            proxy_set_header X-Sub $llmgw_sub;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
            add_header X-Cache $llmgw_token_cache always;
_EOC_

our $HttpConfig = <<"_EOC_";
    llmgw_token_cache_zone llmgw_tokens:1m;
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_jwt_keys \$TEST_NGINX_LLMGW_KEYS/jwks.json;

    server {
        listen unix:\$TEST_NGINX_MTLS_CERTS/fapi.sock ssl;
        ssl_certificate \$TEST_NGINX_MTLS_CERTS/server.crt;
        ssl_certificate_key \$TEST_NGINX_MTLS_CERTS/server.key;
        ssl_verify_client optional_no_ca;

        llmgw_auth jwt;

        location /fapi {
            llmgw_fapi on;
            llmgw_token_header api-key authorization;
$Echo
        }

        location /fapi-cert {
            llmgw_fapi on;
            llmgw_cert_binding required;
$Echo
        }

        location /plain {
            llmgw_token_header api-key authorization;
$Echo
        }
    }
_EOC_

our $Clients = <<"_EOC_";
    location = /echo {
        return 200 "sub=\$http_x_sub\\n";
    }

    location /alice/ {
        proxy_pass https://unix:\$TEST_NGINX_MTLS_CERTS/fapi.sock:/;
        proxy_ssl_certificate \$TEST_NGINX_MTLS_CERTS/alice.crt;
        proxy_ssl_certificate_key \$TEST_NGINX_MTLS_CERTS/alice.key;
        proxy_ssl_session_reuse off;
    }

    location /anon/ {
        proxy_pass https://unix:\$TEST_NGINX_MTLS_CERTS/fapi.sock:/;
        proxy_ssl_session_reuse off;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config',
                      $HttpConfig . ($block->http_config // ''));
    $block->set_value('config', $Clients . ($block->config // ''));
});

run_tests();

__DATA__

=== TEST 1: certificate-bound PS256, ES256 and EdDSA tokens are accepted
--- request eval
["GET /alice/fapi", "GET /alice/fapi", "GET /alice/fapi"]
--- more_headers eval
["Authorization: Bearer " . ::bound(key => 'rsa', alg => 'PS256',
                                    kid => 'rsa1-ps'),
 "Authorization: Bearer " . ::bound(key => 'ec256'),
 "Authorization: Bearer " . ::bound(key => 'ed25519')]
--- error_code eval
[200, 200, 200]
--- response_body eval
["sub=alice\n", "sub=alice\n", "sub=alice\n"]



=== TEST 2: RS256 is refused, bound and with its certificate; /plain takes it
--- request eval
["GET /alice/fapi", "GET /alice/plain"]
--- more_headers eval
"Authorization: Bearer " . ::bound(key => 'rsa', alg => 'RS256')
--- error_code eval
[401, 200]
--- response_body eval
[::body('invalid_token', 'algorithm not allowed'), "sub=alice\n"]



=== TEST 3: an RS256 token verified (and cached) elsewhere is still refused
The token is verified and cached at /plain first; the FAPI location does
not take the cache's word for it: the algorithm is kept with the entry,
the hit is not used (no X-Cache: HIT) and the parsed token is refused.
--- request eval
["GET /alice/plain", "GET /alice/plain", "GET /alice/fapi"]
--- more_headers eval
"Authorization: Bearer " . ::bound(key => 'rsa', alg => 'RS256',
                                   jti => 'fapi-cache-rs256')
--- error_code eval
[200, 200, 401]
--- response_headers eval
["", "X-Cache: HIT", "X-Cache: "]
--- response_body eval
["sub=alice\n", "sub=alice\n", ::body('invalid_token', 'algorithm not allowed')]



=== TEST 4: a bearer token without binding is refused, a certificate or not
--- request eval
["GET /alice/fapi", "GET /anon/fapi", "GET /alice/plain"]
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'ec256', sub => 'carol')
--- error_code eval
[401, 401, 200]
--- response_headers eval
[qq{WWW-Authenticate: Bearer realm="llmgw", error="invalid_token", }
 . qq{error_description="$::UNBOUND"}, "", ""]
--- response_body eval
[::body('invalid_token', $::UNBOUND), ::body('invalid_token', $::UNBOUND),
 "sub=carol\n"]



=== TEST 5: a bound token without its certificate is refused
--- request
GET /anon/fapi
--- more_headers eval
"Authorization: Bearer " . ::bound(key => 'ec256')
--- error_code: 401
--- response_body eval
::body('invalid_token', 'certificate-bound token without a client certificate')



=== TEST 6: the token only from Authorization, whatever llmgw_token_header says
--- request eval
["GET /alice/fapi", "GET /alice/plain"]
--- more_headers eval
"api-key: " . ::bound(key => 'ec256')
--- error_code eval
[401, 200]
--- response_body eval
[::body('unauthorized', 'missing bearer token'), "sub=alice\n"]



=== TEST 7: DPoP-bound: without llmgw_dpop the DPoP scheme is not read; a cnf.jkt token as Bearer is refused (the proof and the FAPI mode together: t/dpop.t)
--- request eval
["GET /anon/fapi", "GET /anon/fapi", "GET /alice/fapi-cert"]
--- more_headers eval
my $t = llmgw_token(key => 'ec256', sub => 'dave',
                    claims => { cnf => { jkt => $::JKT } });
["Authorization: DPoP $t", "Authorization: Bearer $t",
 "Authorization: Bearer $t"]
--- error_code eval
[401, 401, 401]
--- response_body eval
[qq({"error":{"code":"unauthorized","message":"missing bearer token"}}\n),
 ::body('invalid_token', 'DPoP-bound token presented as a bearer token'),
 ::body('invalid_token', 'DPoP-bound token presented as a bearer token')]
