# Certificate-bound access tokens (RFC 8705 section 3): a token whose cnf
# has x5t#S256 is accepted only with the client certificate it names, from
# the TLS connection or from a Client-Cert header (RFC 9440) sent by a
# trusted proxy.  The gateway is a TLS server on a unix socket in this
# nginx (ssl_verify_client optional_no_ca); the clients are locations of
# the test server that proxy to it with alice's, bob's or no certificate
# (/alice/..., /bob/..., /anon/...).  The test client itself connects from
# 127.0.0.1, and plays the TLS-terminating proxy for the /gw/ locations.
# The client locations reuse no TLS session: they share one upstream, and
# a session resumed by bob's location would be alice's.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test;
use LLMGW::Certs;

our $C = llmgw_certs();

sub bound {
    my ($sub, $x5t, %o) = @_;

    return llmgw_token(key => 'ec256', sub => $sub,
                       claims => { cnf => { 'x5t#S256' => $x5t } }, %o);
}

our $ALICE = bound('alice', $C->{alice}{x5t});
our $ALICE_CACHED = bound('alice', $C->{alice}{x5t}, jti => 'cached-1');
our $BEARER = llmgw_token(key => 'ec256', sub => 'carol');
our $ALICE_CC = "Client-Cert: :$C->{alice}{b64}:";
our $BOB_CC = "Client-Cert: :$C->{bob}{b64}:";

sub challenge {
    my ($error, $text) = @_;

    return qq{WWW-Authenticate: Bearer realm="llmgw", error="$error", }
           . qq{error_description="$text"};
}

sub body {
    my ($code, $text) = @_;

    return qq({"error":{"code":"$code","message":"$text"}}\n);
}

repeat_each(2);

plan tests => repeat_each() * 63;

no_shuffle();

our $Echo = <<'_EOC_';
            proxy_set_header X-Sub $llmgw_sub;
            proxy_set_header X-Peer $remote_addr;
            proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
            add_header X-Cache $llmgw_token_cache always;
_EOC_

our $HttpConfig = <<"_EOC_";
    llmgw_token_cache_zone llmgw_tokens:1m;
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_jwt_keys \$TEST_NGINX_LLMGW_KEYS/jwks.json;

    server {
        listen unix:\$TEST_NGINX_MTLS_CERTS/gw.sock ssl;
        ssl_certificate \$TEST_NGINX_MTLS_CERTS/server.crt;
        ssl_certificate_key \$TEST_NGINX_MTLS_CERTS/server.key;
        ssl_verify_client optional_no_ca;

        location /optional {
            llmgw_auth jwt;
$Echo
        }

        location /required {
            llmgw_auth jwt;
            llmgw_cert_binding required;
$Echo
        }

        location /off {
            llmgw_auth jwt;
            llmgw_cert_binding off;
$Echo
        }
    }
_EOC_

our $Clients = <<"_EOC_";
    location = /echo {
        return 200 "sub=\$http_x_sub peer=\$http_x_peer cc=\$http_client_cert\\n";
    }

    location /alice/ {
        proxy_pass https://unix:\$TEST_NGINX_MTLS_CERTS/gw.sock:/;
        proxy_ssl_certificate \$TEST_NGINX_MTLS_CERTS/alice.crt;
        proxy_ssl_certificate_key \$TEST_NGINX_MTLS_CERTS/alice.key;
        proxy_ssl_session_reuse off;
    }

    location /bob/ {
        proxy_pass https://unix:\$TEST_NGINX_MTLS_CERTS/gw.sock:/;
        proxy_ssl_certificate \$TEST_NGINX_MTLS_CERTS/bob.crt;
        proxy_ssl_certificate_key \$TEST_NGINX_MTLS_CERTS/bob.key;
        proxy_ssl_session_reuse off;
    }

    location /anon/ {
        proxy_pass https://unix:\$TEST_NGINX_MTLS_CERTS/gw.sock:/;
        proxy_ssl_session_reuse off;
    }

    location /gw/trusted {
        llmgw_auth jwt;
        llmgw_client_cert_proxy 127.0.0.1 ::1;
$Echo
    }

    location /gw/untrusted {
        llmgw_auth jwt;
        llmgw_client_cert_proxy 10.0.0.0/8 192.168.0.0/16;
$Echo
    }

    location /gw/noproxy {
        llmgw_auth jwt;
$Echo
    }

    location /gw/off {
        llmgw_auth jwt;
        llmgw_cert_binding off;
$Echo
    }

    location /gw/realip-spoofed {
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Real-IP;
        llmgw_auth jwt;
        llmgw_client_cert_proxy 10.0.0.0/8;
$Echo
    }

    location /gw/realip-proxy {
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Real-IP;
        llmgw_auth jwt;
        llmgw_client_cert_proxy 127.0.0.1;
$Echo
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

=== TEST 1: a bound token with its certificate
--- request
GET /alice/optional
--- more_headers eval
"Authorization: Bearer $::ALICE"
--- error_code: 200
--- response_body
sub=alice peer=unix: cc=
--- no_error_log
[error]



=== TEST 2: a bound token with another client's certificate
--- request
GET /bob/optional
--- more_headers eval
"Authorization: Bearer $::ALICE"
--- error_code: 401
--- response_headers eval
::challenge('invalid_token', 'client certificate does not match the token')
--- response_body eval
::body('invalid_token', 'client certificate does not match the token')



=== TEST 3: a bound token without a certificate
--- request
GET /anon/optional
--- more_headers eval
"Authorization: Bearer $::ALICE"
--- error_code: 401
--- response_headers eval
::challenge('invalid_token',
            'certificate-bound token without a client certificate')
--- response_body eval
::body('invalid_token', 'certificate-bound token without a client certificate')



=== TEST 4: required: a bearer token is refused even with a certificate
--- request
GET /alice/required
--- more_headers eval
"Authorization: Bearer $::BEARER"
--- error_code: 401
--- response_headers eval
::challenge('invalid_token', 'certificate-bound token required')
--- response_body eval
::body('invalid_token', 'certificate-bound token required')



=== TEST 5: required: a bound token with its certificate
--- request
GET /alice/required
--- more_headers eval
"Authorization: Bearer $::ALICE"
--- error_code: 200
--- response_body
sub=alice peer=unix: cc=



=== TEST 6: optional (the default): a bearer token, with or without a certificate
--- request eval
["GET /alice/optional", "GET /anon/optional"]
--- more_headers eval
"Authorization: Bearer $::BEARER"
--- error_code eval
[200, 200]
--- response_body eval
["sub=carol peer=unix: cc=\n", "sub=carol peer=unix: cc=\n"]



=== TEST 7: off: the binding is not checked
--- request
GET /bob/off
--- more_headers eval
"Authorization: Bearer $::ALICE"
--- error_code: 200
--- response_body
sub=alice peer=unix: cc=



=== TEST 8: a cached token is checked against each connection's certificate
The second request is a hit of the token cache (X-Cache: HIT) over
another TLS connection, with bob's certificate: refused.
--- request eval
["GET /alice/optional", "GET /bob/optional", "GET /anon/optional"]
--- more_headers eval
"Authorization: Bearer $::ALICE_CACHED"
--- error_code eval
[200, 401, 401]
--- response_headers eval
["", "X-Cache: HIT", "X-Cache: HIT"]
--- response_body eval
["sub=alice peer=unix: cc=\n",
 ::body('invalid_token', 'client certificate does not match the token'),
 ::body('invalid_token', 'certificate-bound token without a client certificate')]



=== TEST 9: a malformed cnf.x5t#S256 is refused
--- request
GET /alice/optional
--- more_headers eval
"Authorization: Bearer "
. llmgw_token(key => 'ec256', sub => 'alice',
              claims => { cnf => { 'x5t#S256' => 'abc' } })
--- error_code: 401
--- response_body eval
::body('invalid_token', 'malformed certificate binding (cnf)')



=== TEST 10: Client-Cert from a trusted proxy: alice's certificate
The header is the certificate; the proxy location's own upstream (here
/echo) still sees it, as llmgw_pass's provider never does (TEST 19).
--- request
GET /gw/trusted
--- more_headers eval
"Authorization: Bearer $::ALICE\n$::ALICE_CC"
--- error_code: 200
--- response_body eval
"sub=alice peer=127.0.0.1 cc=:$::C->{alice}{b64}:\n"



=== TEST 11: Client-Cert from a trusted proxy: bob's certificate
--- request
GET /gw/trusted
--- more_headers eval
"Authorization: Bearer $::ALICE\n$::BOB_CC"
--- error_code: 401
--- response_body eval
::body('invalid_token', 'client certificate does not match the token')



=== TEST 12: Client-Cert from an untrusted address is refused
--- request
GET /gw/untrusted
--- more_headers eval
"Authorization: Bearer $::ALICE\n$::ALICE_CC"
--- error_code: 400
--- response_headers eval
::challenge('invalid_request', 'Client-Cert header from an untrusted address')
--- response_body eval
::body('invalid_request', 'Client-Cert header from an untrusted address')



=== TEST 13: Client-Cert where no proxy is trusted is refused, a bearer token too
--- request
GET /gw/noproxy
--- more_headers eval
"Authorization: Bearer $::BEARER\n$::ALICE_CC"
--- error_code: 400
--- response_body eval
::body('invalid_request', 'Client-Cert header from an untrusted address')



=== TEST 14: realip's address does not count: a forged X-Real-IP of a trusted network
--- request
GET /gw/realip-spoofed
--- more_headers eval
"Authorization: Bearer $::ALICE\n$::ALICE_CC\nX-Real-IP: 10.1.2.3"
--- error_code: 400
--- response_body eval
::body('invalid_request', 'Client-Cert header from an untrusted address')



=== TEST 15: realip's address does not count: the proxy is the TCP peer
realip did apply ($remote_addr is the client's), and the proxy that sent
Client-Cert is trusted.
--- request
GET /gw/realip-proxy
--- more_headers eval
"Authorization: Bearer $::ALICE\n$::ALICE_CC\nX-Real-IP: 203.0.113.7"
--- error_code: 200
--- response_body eval
"sub=alice peer=203.0.113.7 cc=:$::C->{alice}{b64}:\n"



=== TEST 16: malformed Client-Cert values from a trusted proxy
--- request eval
["GET /gw/trusted", "GET /gw/trusted", "GET /gw/trusted", "GET /gw/trusted",
 "GET /gw/trusted"]
--- more_headers eval
["Authorization: Bearer $::ALICE\nClient-Cert: $::C->{alice}{b64}",
 "Authorization: Bearer $::ALICE\nClient-Cert: :AB*C:",
 "Authorization: Bearer $::ALICE\nClient-Cert: :aGVsbG8=:",
 "Authorization: Bearer $::ALICE\nClient-Cert: :$::C->{alice}{b64}:;a=1",
 "Authorization: Bearer $::ALICE\n"
 . "Client-Cert: :$::C->{alice}{b64}:, :$::C->{alice}{b64}:"]
--- error_code eval
[400, 400, 400, 400, 400]
--- response_body eval
[::body('invalid_request', 'Client-Cert header is not a byte sequence'),
 ::body('invalid_request', 'Client-Cert header is not valid base64'),
 ::body('invalid_request', 'Client-Cert header is not an X.509 certificate'),
 ::body('invalid_request', 'Client-Cert header is not a byte sequence'),
 ::body('invalid_request',
        'Client-Cert header is not a single byte sequence')]



=== TEST 17: two Client-Cert headers are refused
--- request
GET /gw/trusted
--- more_headers eval
"Authorization: Bearer $::ALICE\n$::ALICE_CC\n$::ALICE_CC"
--- error_code: 400
--- response_body eval
::body('invalid_request', 'more than one Client-Cert header')



=== TEST 18: llmgw_cert_binding off: Client-Cert means nothing, and is not refused
--- request
GET /gw/off
--- more_headers eval
"Authorization: Bearer $::BEARER\n$::ALICE_CC"
--- error_code: 200
--- response_body eval
"sub=carol peer=127.0.0.1 cc=:$::C->{alice}{b64}:\n"



=== TEST 19: Client-Cert never reaches the provider through llmgw_pass
--- skip_eval: 3: !$ENV{TEST_NGINX_MOCK_PORT}
--- config
location = /mock/reset {
    proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__mock/reset;
}

location = /mock/requests {
    proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__mock/requests;
}

location /azure-openai/ {
    llmgw_auth jwt;
    llmgw_client_cert_proxy 127.0.0.1;
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request eval
["POST /mock/reset",
 "POST /azure-openai/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21\n"
 . '{"messages":[{"role":"user","content":"hi"}]}',
 "GET /mock/requests"]
--- more_headers eval
"Authorization: Bearer $::ALICE\n$::ALICE_CC\nClient-Cert-Chain: :AAAA:\n"
. "Content-Type: application/json"
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/"reset"/,
 qr/"content": "Hello from the llmgw mock\."/,
 qr{\A(?!.*\["(?i:client-cert|client-cert-chain|authorization)",)(?=.*"auth": \{"verdict": "ok", "scheme": "api-key"\})}s]
