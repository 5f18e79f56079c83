# llmgw_pass: what goes to each provider and what comes back.  The client's
# credential never reaches the provider (checked on the mock's record of
# each request, GET /__mock/requests), the provider's is injected, paths and
# query strings are forwarded as the client sent them apart from the prefix
# and credential parameters, and hop-by-hop headers stay behind.

BEGIN { push @INC, 't/lib' }
use lib 't/pass';
use Test::Nginx::Socket;
use LLMGW::LogPhase;

our $JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9'
           . '.eyJzdWIiOiJhbGljZSIsInNjb3BlIjoidGV4dCJ9.c2lnbmF0dXJl';

our $CHAT = '{"messages":[{"role":"user","content":"hi"}]}';
our $CONVERSE = '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}';
our $INVOKE = '{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,'
              . '"messages":[{"role":"user","content":"hi"}]}';
our $GEMINI = '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}';
our $OAI = '{"model":"gpt-4o-mini","messages":[{"role":"user",'
           . '"content":"hi"}]}';

our $BAD = '{"error":{"code":"bad_request","message":"the request cannot '
           . 'be forwarded to the provider"}}' . "\n";

if (!$ENV{TEST_NGINX_MOCK_PORT}) {
    plan(skip_all => 'no mock provider (t/run-tests.sh starts one)');

} else {
    repeat_each(2);
    plan tests => repeat_each() * 84;
}

# the Gemini key for env= (configuration is read where the environment is
# whole, before any "env" directive applies)
if ($ENV{TEST_NGINX_MOCK_SECRETS}
    && open my $fh, '<', "$ENV{TEST_NGINX_MOCK_SECRETS}/gemini.key")
{
    local $/;
    ($ENV{LLMGW_TEST_GEMINI_KEY} = <$fh>) =~ s/\s+\z//;
}

log_level('debug');
no_shuffle();

our $HttpConfig = <<'_EOC_';
    log_format llmgw_audit 'llmgw-audit id=$http_x_test_id status=$status '
                           'provider=$llmgw_provider model=$llmgw_model '
                           'outcome=$llmgw_upstream_outcome';
    access_log logs/error.log llmgw_audit;
_EOC_

our $MockControl = <<'_EOC_';
    location = /mock/reset {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__mock/reset;
    }

    location = /mock/requests {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__mock/requests;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config',
                      $HttpConfig . ($block->http_config // ''));
    $block->set_value('config', $MockControl . ($block->config // ''));
});

run_tests();

__DATA__

=== TEST 1: Azure: the client's api-key (a JWT) is replaced by the provider key
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request eval
["POST /mock/reset",
 "POST /azure-openai/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21\n$::CHAT",
 "GET /mock/requests"]
--- more_headers eval
"api-key: $::JWT\nContent-Type: application/json"
--- response_body_like eval
[qr/"reset"/,
 qr/"content": "Hello from the llmgw mock\."/,
 qr{"http_version": "HTTP/1\.1", "method": "POST", "path": "/openai/deployments/gpt-4o/chat/completions\?api-version=2024-10-21", "provider": "azure".*"auth": \{"verdict": "ok", "scheme": "api-key"\}, "jwt_in": null}s]



=== TEST 2: Azure: Authorization and x-goog-api-key from the client are removed too
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request eval
["POST /mock/reset",
 "POST /azure-openai/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21\n$::CHAT",
 "GET /mock/requests"]
--- more_headers eval
"Authorization: Bearer $::JWT\nx-goog-api-key: $::JWT\nX-Api-Key: $::JWT\nContent-Type: application/json"
--- response_body_like eval
[qr/"reset"/,
 qr/"content": "Hello from the llmgw mock\."/,
 qr{\A(?!.*\["(?i:authorization|x-goog-api-key|x-api-key)",)(?=.*"auth": \{"verdict": "ok", "scheme": "api-key"\}, "jwt_in": null)}s]



=== TEST 3: Bedrock SigV4: the model id's %3A is forwarded as sent and signed as %253A
--- config
location /bedrock-claude/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider bedrock;
    llmgw_pass_host bedrock-runtime.us-east-1.amazonaws.com;
    llmgw_pass_aws_credentials file=$TEST_NGINX_MOCK_SECRETS/aws-credentials;
}
--- request eval
["POST /mock/reset",
 "POST /bedrock-claude/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse\n$::CONVERSE",
 "GET /mock/requests"]
--- more_headers eval
"Authorization: Bearer $::JWT\nContent-Type: application/json"
--- response_body_like eval
[qr/"reset"/,
 qr/"text": "Hello from the llmgw mock\."/,
 qr{"path": "/model/anthropic\.claude-3-5-sonnet-20240620-v1%3A0/converse", "provider": "bedrock", "operation": "converse", "model": "anthropic\.claude-3-5-sonnet-20240620-v1:0", "headers": \[\["Host", "bedrock-runtime\.us-east-1\.amazonaws\.com"\].*"auth": \{"verdict": "ok", "scheme": "sigv4", "access_key_id": "AKIAMOCKLLMGWTEST001", "session": false, "region": "us-east-1", "signed_headers": "host;x-amz-content-sha256;x-amz-date", "content_sha256_header": true, "canonical_request": "POST\\n/model/anthropic\.claude-3-5-sonnet-20240620-v1%253A0/converse\\n}s]



=== TEST 4: Bedrock SigV4 with a session token
--- config
location /bedrock-claude/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider bedrock;
    llmgw_pass_host bedrock-runtime.us-east-1.amazonaws.com;
    llmgw_pass_aws_credentials file=$TEST_NGINX_MOCK_SECRETS/aws-credentials-session profile=default;
}
--- request eval
["POST /mock/reset",
 "POST /bedrock-claude/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke\n$::INVOKE",
 "GET /mock/requests"]
--- more_headers eval
"Authorization: Bearer $::JWT\nContent-Type: application/json\nX-Amz-Security-Token: client-token\nX-Amz-Date: 20200101T000000Z"
--- response_body_like eval
[qr/"reset"/,
 qr/"text": "Hello from the llmgw mock\."/,
 qr{"auth": \{"verdict": "ok", "scheme": "sigv4", "access_key_id": "ASIAMOCKLLMGWTEST002", "session": true, "region": "us-east-1", "signed_headers": "host;x-amz-content-sha256;x-amz-date;x-amz-security-token"}s]



=== TEST 5: Bedrock API key mode: Authorization: Bearer with the Bedrock key
--- config
location /bedrock-claude/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider bedrock;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/bedrock-api.key;
}
--- request eval
["POST /mock/reset",
 "POST /bedrock-claude/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke\n$::INVOKE",
 "GET /mock/requests"]
--- more_headers eval
"Authorization: Bearer $::JWT\nContent-Type: application/json"
--- response_body_like eval
[qr/"reset"/,
 qr/"text": "Hello from the llmgw mock\."/,
 qr{"path": "/model/anthropic\.claude-3-haiku-20240307-v1%3A0/invoke".*"auth": \{"verdict": "ok", "scheme": "bearer"\}, "jwt_in": null}s]



=== TEST 6: Gemini: key= (also percent-encoded) leaves the query, the rest stays in order
--- config
location /gemini/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider gemini;
    llmgw_pass_api_key env=LLMGW_TEST_GEMINI_KEY;
}
--- request eval
["POST /mock/reset",
 "POST /gemini/v1beta/models/gemini-2.0-flash:generateContent?key=$::JWT&foo=1&k%65y=$::JWT&bar=a%3Ab&KEY=x\n$::GEMINI",
 "GET /mock/requests"]
--- more_headers eval
"x-goog-api-key: $::JWT\nContent-Type: application/json"
--- response_body_like eval
[qr/"reset"/,
 qr/"text": "Hello from the llmgw mock\."/,
 qr{"path": "/v1beta/models/gemini-2\.0-flash:generateContent\?foo=1&bar=a%3Ab", "provider": "gemini", "operation": "generateContent", "model": "gemini-2\.0-flash".*"auth": \{"verdict": "ok", "scheme": "x-goog-api-key"\}, "jwt_in": null}s]



=== TEST 7: OpenAI-compatible: Bearer key injected, the model comes from the JSON body
--- config
location /openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/openai.key;
}
--- request eval
"POST /openai/v1/chat/completions\n$::OAI"
--- more_headers eval
"Authorization: Bearer $::JWT\nContent-Type: application/json\nX-Test-Id: t7"
--- response_body_like: "model": "gpt-4o-mini".*"content": "Hello from the llmgw mock\."
--- error_log
llmgw-audit id=t7 status=200 provider=openai model=gpt-4o-mini outcome=ok



=== TEST 8: hop-by-hop, cookies and named headers stay behind; Host is the provider's
--- config
location /openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider openai;
    llmgw_pass_host api.example.test;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/openai.key;
    llmgw_pass_remove_header X-Internal;
}
--- request eval
["POST /mock/reset",
 "POST /openai/v1/chat/completions\n$::OAI",
 "GET /mock/requests"]
--- more_headers eval
"Authorization: Bearer $::JWT
Connection: close, X-Drop-Me
X-Drop-Me: 1
Keep-Alive: timeout=5
TE: trailers
Proxy-Authorization: Basic Zm9vOmJhcg==
Proxy-Connection: keep-alive
Cookie: session=abc
X-Internal: routing
Accept-Encoding: gzip
X-Custom: kept
Content-Type: application/json"
--- response_body_like eval
[qr/"reset"/,
 qr/"content": "Hello from the llmgw mock\."/,
 qr{\A(?!.*\["(?i:connection|x-drop-me|keep-alive|te|proxy-authorization|proxy-connection|cookie|x-internal|accept-encoding|expect)",)(?=.*"headers": \[\["Host", "api\.example\.test"\])(?=.*\["X-Custom", "kept"\])(?=.*"auth": \{"verdict": "ok", "scheme": "bearer"\})}s]



=== TEST 9: a provider's response never hands the client a credential or hop-by-hop header
--- config
location /fake-provider/ {
    add_header X-Echo "got $http_api_key";
    add_header api-key $http_api_key;
    add_header X-Amz-Security-Token token;
    add_header Upgrade h2c;
    add_header Trailer X-Foo;
    add_header Proxy-Authenticate Basic;
    add_header X-Other yes;
    return 200 "fake provider\n";
}

location /azure-echo/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fake-provider;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request
POST /azure-echo/openai/deployments/d/chat/completions
{}
--- more_headers eval
"api-key: $::JWT"
--- response_headers
!api-key
!X-Echo
!X-Amz-Security-Token
!Upgrade
!Trailer
!Proxy-Authenticate
X-Other: yes
--- response_body
fake provider
--- error_log
upstream header "X-Echo" echoes the provider credential, dropped
upstream header "api-key" dropped



=== TEST 10: Bedrock: provider and the decoded model id in the audit variables
--- config
location /bedrock-claude/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider bedrock;
    llmgw_pass_host bedrock-runtime.us-east-1.amazonaws.com;
    llmgw_pass_aws_credentials file=$TEST_NGINX_MOCK_SECRETS/aws-credentials;
}
--- request eval
"POST /bedrock-claude/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse\n$::CONVERSE"
--- more_headers
X-Test-Id: t10
Content-Type: application/json
--- response_body_like: "text": "Hello from the llmgw mock\."
--- error_log
llmgw-audit id=t10 status=200 provider=bedrock model=anthropic.claude-3-5-sonnet-20240620-v1:0 outcome=ok



=== TEST 11: the URL's path goes before the client's path
--- config
location /az2/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/openai/;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request eval
["POST /mock/reset",
 "POST /az2/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21\n$::CHAT",
 "GET /mock/requests"]
--- more_headers
Content-Type: application/json
--- response_body_like eval
[qr/"reset"/,
 qr/"content": "Hello from the llmgw mock\."/,
 qr{"path": "/openai/deployments/gpt-4o-mini/chat/completions\?api-version=2024-10-21"}s]



=== TEST 12: llmgw_pass_strip_prefix names what is removed
--- config
location /openai-compat/v1/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/openai.key;
    llmgw_pass_strip_prefix /openai-compat;
}
--- request eval
"POST /openai-compat/v1/chat/completions\n$::OAI"
--- more_headers
Content-Type: application/json
--- response_body_like: "content": "Hello from the llmgw mock\."



=== TEST 13: dot segments, encoded separators and a prefix not as sent: JSON 400
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request eval
["POST /azure-openai/openai/deployments/x/../gpt-4o/chat/completions?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/%2e%2e/gpt-4o/chat/completions?api-version=1\n{}",
 "POST /azure-openai%2Fopenai/deployments/gpt-4o/chat/completions?api-version=1\n{}",
 "POST /x/../azure-openai/openai/deployments/gpt-4o/chat/completions?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/gpt-4o%5C/chat/completions?api-version=1\n{}"]
--- error_code eval
[400, 400, 400, 400, 400]
--- response_headers eval
["Content-Type: application/json", "Content-Type: application/json",
 "Content-Type: application/json", "Content-Type: application/json",
 "Content-Type: application/json"]
--- response_body eval
[$::BAD, $::BAD, $::BAD, $::BAD, $::BAD]



=== TEST 14: the audit variables are there for a request denied before the content phase
--- config
location /azure-openai/ {
    deny all;
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request
POST /azure-openai/openai/deployments/gpt-4o/chat/completions?api-version=1
{}
--- more_headers
X-Test-Id: t14
--- error_code: 403
--- error_log
llmgw-audit id=t14 status=403 provider=azure_openai model=gpt-4o outcome=-
