# OAuth 2.0 Protected Resource Metadata (RFC 9728): the document served
# by llmgw_resource_metadata, exact, from the configuration (issuers,
# scope tree, bearer methods, binding), public where the server requires
# a token; and the resource_metadata parameter that
# llmgw_resource_metadata_url adds to every challenge, 401 and 403, as
# MCP clients expect.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test;

repeat_each(2);

plan tests => repeat_each() * (4 * blocks());

no_shuffle();

our $ISS = 'https://idp.example.com/';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('request', "GET /t") unless defined $block->request;

    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
    llmgw_token_cache_zone llmgw_tokens:1m;
    llmgw_jwt_audience any;

    llmgw_scopes {
        all     text audio video;
        text    claude openai.text gemini.text;
        audio   openai.stt openai.tts;
        video   video.generate video.analyze;
    }
_EOC_

    $block->set_value('user_files',
                      ">>> ok.txt\nok\n" . ($block->user_files // ''));

    $block->set_value('config', <<'_EOC_' . $block->config);
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
_EOC_
});

run_tests();

__DATA__

=== TEST 1: the document, public although the server requires a token
--- config
llmgw_jwt_issuer https://idp.example.com/ https://login.example.org/t/v2.0;
location = /.well-known/oauth-protected-resource {
    llmgw_resource_metadata https://gw.example.com;
}
--- request
GET /.well-known/oauth-protected-resource
--- response_body
{"resource":"https://gw.example.com","authorization_servers":["https://idp.example.com/","https://login.example.org/t/v2.0"],"scopes_supported":["all","text","audio","video","claude","openai.text","gemini.text","openai.stt","openai.tts","video.generate","video.analyze"],"bearer_methods_supported":["header"],"tls_client_certificate_bound_access_tokens":false}
--- response_headers
Content-Type: application/json
!WWW-Authenticate



=== TEST 2: the issuers of the metadata location's own level
--- config
llmgw_jwt_issuer https://idp.example.com/;
location = /.well-known/oauth-protected-resource/llm {
    llmgw_jwt_issuer https://other.example.net;
    llmgw_resource_metadata https://gw.example.com/llm;
}
--- request
GET /.well-known/oauth-protected-resource/llm
--- response_body
{"resource":"https://gw.example.com/llm","authorization_servers":["https://other.example.net"],"scopes_supported":["all","text","audio","video","claude","openai.text","gemini.text","openai.stt","openai.tts","video.generate","video.analyze"],"bearer_methods_supported":["header"],"tls_client_certificate_bound_access_tokens":false}
--- response_headers
Content-Type: application/json
Content-Length: 331



=== TEST 3: any issuer: no authorization_servers
--- config
llmgw_jwt_issuer any;
location = /.well-known/oauth-protected-resource {
    llmgw_resource_metadata https://gw.example.com;
}
--- request
GET /.well-known/oauth-protected-resource
--- response_body_like: ^\{"resource":"https://gw\.example\.com","scopes_supported":\["all",
--- response_headers
Content-Type: application/json
!WWW-Authenticate



=== TEST 4: HEAD: the headers alone
--- config
llmgw_jwt_issuer any;
location = /.well-known/oauth-protected-resource {
    llmgw_resource_metadata https://gw.example.com;
}
--- request
HEAD /.well-known/oauth-protected-resource
--- response_body
--- response_headers
Content-Type: application/json
!WWW-Authenticate



=== TEST 5: POST is not allowed
--- config
llmgw_jwt_issuer any;
location = /.well-known/oauth-protected-resource {
    llmgw_resource_metadata https://gw.example.com;
}
--- request
POST /.well-known/oauth-protected-resource
x
--- error_code: 405
--- response_body_like: 405
--- response_headers
!WWW-Authenticate
Content-Type: text/html




=== TEST 6: no token: the challenge names the metadata
--- config
llmgw_jwt_issuer https://idp.example.com/;
llmgw_resource_metadata_url https://gw.example.com/.well-known/oauth-protected-resource;
location = /t { alias html/ok.txt; }
--- error_code: 401
--- response_body
{"error":{"code":"unauthorized","message":"missing bearer token"}}
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource"
Cache-Control: no-store




=== TEST 7: an invalid token: after the error
--- config
llmgw_jwt_issuer https://idp.example.com/;
llmgw_resource_metadata_url https://gw.example.com/.well-known/oauth-protected-resource;
location = /t { alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(iss => 'https://evil.example.com/')
--- error_code: 401
--- response_body_like: "invalid_token"
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="invalid_token", error_description="issuer not accepted", resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource"
Cache-Control: no-store




=== TEST 8: 403 insufficient_scope: after the scope
--- config
llmgw_jwt_issuer https://idp.example.com/;
llmgw_resource_metadata_url https://gw.example.com/.well-known/oauth-protected-resource;
location = /t { llmgw_require_scope openai.stt; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(iss => $main::ISS, scope => 'text')
--- error_code: 403
--- response_body
{"error":{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"}}
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="insufficient_scope", error_description="insufficient scope", scope="openai.stt", resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource"
Cache-Control: no-store




=== TEST 9: a 403 that no token changes has no challenge at all
--- config
llmgw_jwt_issuer https://idp.example.com/;
llmgw_resource_metadata_url https://gw.example.com/.well-known/oauth-protected-resource;
location = /t { llmgw_require_scope openai.stt; alias html/ok.txt; }
--- http_config
    llmgw_clients ../html/clients.csv;
--- user_files
>>> clients.csv
client_id,status,ceiling,pending_ceiling
--- more_headers eval
"Authorization: Bearer " . llmgw_token(iss => $main::ISS, scope => 'all',
                                       claims => { client_id => 'x' })
--- error_code: 403
--- response_body
{"error":{"code":"forbidden","message":"client not registered"}}
--- response_headers
!WWW-Authenticate
Cache-Control: no-store




=== TEST 10: a URL made of variables, per request
--- config
llmgw_jwt_issuer https://idp.example.com/;
llmgw_resource_metadata_url $scheme://$host/.well-known/oauth-protected-resource;
location = /t { alias html/ok.txt; }
--- more_headers
Host: gw.example.org
--- error_code: 401
--- response_body_like: "unauthorized"
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", resource_metadata="http://gw.example.org/.well-known/oauth-protected-resource"
Cache-Control: no-store




=== TEST 11: allowed: no challenge
--- config
llmgw_jwt_issuer https://idp.example.com/;
llmgw_resource_metadata_url https://gw.example.com/.well-known/oauth-protected-resource;
location = /t { llmgw_require_scope openai.stt; alias html/ok.txt; }
--- more_headers eval
"Authorization: Bearer " . llmgw_token(iss => $main::ISS, scope => 'audio')
--- response_body
ok
--- response_headers
!WWW-Authenticate
!Cache-Control
