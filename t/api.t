# The API kind llmgw_pass classifies each request into ($llmgw_api), per
# provider, from the path as forwarded; and the paths it refuses to forward
# because nginx and the provider could read them differently: answered 400
# with the JSON body, before anything reaches the provider (checked on the
# mock's record of requests, GET /__mock/requests).

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::LogPhase;

our $CHAT = '{"messages":[{"role":"user","content":"hi"}]}';
our $CONVERSE = '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}';
our $GEMINI = '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}';
our $OAI = '{"model":"gpt-4o-mini","messages":[{"role":"user",'
           . '"content":"hi"}]}';

our $BAD = '{"error":{"code":"bad_request","message":"the request cannot '
           . 'be forwarded to the provider"}}' . "\n";

# an inference profile's ARN as the Bedrock SDKs send it: one segment
our $ARN = 'arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A'
           . 'inference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-'
           . 'v1%3A0';

our $AZ = '/azure-openai/openai/deployments/tts/audio/speech';

if (!$ENV{TEST_NGINX_MOCK_PORT}) {
    plan(skip_all => 'no mock provider (t/run-tests.sh starts one)');

} else {
    repeat_each(2);
    plan tests => repeat_each() * 165;
}

log_level('info');
no_shuffle();

our $HttpConfig = <<'_EOC_';
    log_format llmgw_api 'llmgw-api id=$http_x_test_id status=$status '
                         'provider=$llmgw_provider api=$llmgw_api '
                         'outcome=$llmgw_upstream_outcome';
    access_log logs/error.log llmgw_api;
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

=== TEST 1: Azure OpenAI: deployment and v1 forms, each its kind
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
    add_header X-Api $llmgw_api always;
}
--- request eval
["POST /azure-openai/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21\n$::CHAT",
 "POST /azure-openai/openai/deployments/gpt-4o/completions?api-version=2024-10-21\n{\"prompt\":\"hi\"}",
 "POST /azure-openai/openai/deployments/emb/embeddings?api-version=2024-10-21\n{\"input\":\"hi\"}",
 "POST /azure-openai/openai/deployments/tts/audio/speech?api-version=2024-10-21\n{\"input\":\"hi\",\"voice\":\"alloy\"}",
 "POST /azure-openai/openai/deployments/dalle/images/generations?api-version=2024-10-21\n{}",
 "POST /azure-openai/openai/v1/audio/speech?api-version=preview\n{}",
 "POST /azure-openai/openai/v1/audio/transcriptions?api-version=preview\n{}",
 "POST /azure-openai/openai/v1/audio/translations?api-version=preview\n{}",
 "POST /azure-openai/openai/v1/video/generations/jobs?api-version=preview\n{}",
 "GET /azure-openai/openai/v1/video/generations/gen_1/content/video?api-version=preview",
 "POST /azure-openai/openai/v1/videos\n{}",
 "POST /azure-openai/openai/v1/responses\n{}",
 "GET /azure-openai/openai/batches/batch_1?api-version=2024-10-21",
 "GET /azure-openai/openai/files/file-1/content?api-version=2024-10-21",
 "GET /azure-openai/openai/models?api-version=2024-10-21"]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 200, 200, 200, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404]
--- response_headers eval
["X-Api: chat", "X-Api: completions", "X-Api: embeddings",
 "X-Api: audio.speech", "X-Api: images", "X-Api: audio.speech",
 "X-Api: audio.transcription", "X-Api: audio.translation",
 "X-Api: video.generation", "X-Api: video.generation",
 "X-Api: video.generation", "X-Api: responses", "X-Api: batch",
 "X-Api: files", "X-Api: models"]



=== TEST 2: Azure OpenAI: near misses are unknown, and still forwarded (the access checks decide)
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
    add_header X-Api $llmgw_api always;
}
--- request eval
["POST /azure-openai/openai/deployments/tts/Audio/Speech?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/tts/audio/speech/?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/tts/audio/speech%20?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/tts/audio/speech%09?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/tts/audio/%73peech?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/tts/audio/speech/x?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/audio/speech?api-version=1\n{}",
 "POST /azure-openai/openai/v1/moderations\n{}"]
--- error_code eval
[404, 404, 404, 404, 404, 404, 404, 404]
--- response_headers eval
["!X-Api", "!X-Api", "!X-Api", "!X-Api", "!X-Api", "!X-Api", "!X-Api",
 "!X-Api"]



=== TEST 3: Azure OpenAI: ambiguous paths are refused with a JSON 400 and never reach the provider (nginx refuses %00 itself)
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
    add_header X-Api $llmgw_api always;
}
--- request eval
["POST /mock/reset",
 "POST $::AZ;x?api-version=1\n{}",
 "POST $::AZ%2F?api-version=1\n{}",
 "POST $::AZ%2f?api-version=1\n{}",
 "POST $::AZ%2F..?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/tts/audio%2Fspeech?api-version=1\n{}",
 "POST /azure-openai/openai//deployments/tts/audio/speech?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/tts//audio/speech?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/tts/audio/./speech?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/x/../tts/audio/speech?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/tts/audio/%2E%2E/speech?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/tts%5C/audio/speech?api-version=1\n{}",
 "POST /azure-openai/openai/deployments/tts%00/audio/speech?api-version=1\n{}",
 "GET /mock/requests"]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 200]
--- response_headers eval
["", ("Content-Type: application/json") x 11, "", ""]
--- response_body_like eval
[qr/"reset"/, (qr/\A\Q$::BAD\E\z/) x 11, qr/400 Bad Request/,
 qr/\A\[\]\s*\z/]



=== TEST 4: OpenAI: /v1 forms
--- config
location /openai-compat/v1/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/openai.key;
    llmgw_pass_strip_prefix /openai-compat;
    add_header X-Api $llmgw_api always;
}
--- request eval
["POST /openai-compat/v1/chat/completions\n$::OAI",
 "POST /openai-compat/v1/embeddings\n{\"model\":\"e\",\"input\":\"hi\"}",
 "POST /openai-compat/v1/images/variations\n{}",
 "POST /openai-compat/v1/videos/video_1/remix\n{}",
 "GET /openai-compat/v1/chat/completions/chatcmpl-1/messages",
 "POST /openai-compat/v1/Chat/Completions\n{}",
 "POST /openai-compat/v1/chat/completions;x\n{}",
 "POST /openai-compat/v1/chat/completions?a=1;b=2\n$::OAI"]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 200, 404, 404, 404, 404, 400, 200]
--- response_headers eval
["X-Api: chat", "X-Api: embeddings", "X-Api: images",
 "X-Api: video.generation", "X-Api: chat", "!X-Api", "!X-Api",
 "X-Api: chat"]



=== TEST 5: Bedrock: model ids with %3A, an inference-profile ARN with its %2F (SigV4-signed), async-invoke, guardrails
--- config
location /bedrock-claude/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider bedrock;
    llmgw_pass_host bedrock-runtime.us-east-1.amazonaws.com;
    llmgw_pass_aws_credentials file=$TEST_NGINX_MOCK_SECRETS/aws-credentials;
    add_header X-Api $llmgw_api always;
}
--- request eval
["POST /mock/reset",
 "POST /bedrock-claude/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse\n$::CONVERSE",
 "POST /bedrock-claude/model/$::ARN/converse\n$::CONVERSE",
 "POST /bedrock-claude/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/count-tokens\n{}",
 "POST /bedrock-claude/model/amazon.nova-sonic-v1%3A0/invoke-with-bidirectional-stream\n{}",
 "POST /bedrock-claude/async-invoke\n{}",
 "GET /bedrock-claude/async-invoke/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aasync-invoke%2Fabc123",
 "POST /bedrock-claude/guardrail/gr1/version/1/apply\n{}",
 "POST /bedrock-claude/model/m/Converse\n{}",
 "GET /mock/requests?provider=bedrock"]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 200, 200, 404, 404, 404, 404, 404, 404, 200]
--- response_headers eval
["", "X-Api: converse", "X-Api: converse", "X-Api: count-tokens",
 "X-Api: invoke-bidirectional", "X-Api: async-invoke",
 "X-Api: async-invoke", "X-Api: apply-guardrail", "!X-Api", ""]
--- response_body_like eval
[qr/"reset"/, qr/"text": "Hello from the llmgw mock\."/,
 qr/"text": "Hello from the llmgw mock\."/, qr//, qr//, qr//, qr//, qr//,
 qr//,
 qr{"path": "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus\.anthropic\.claude-3-5-sonnet-20240620-v1%3A0/converse", "provider": "bedrock", "operation": "converse", "model": "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us\.anthropic\.claude-3-5-sonnet-20240620-v1:0".*"auth": \{"verdict": "ok", "scheme": "sigv4"}s]



=== TEST 6: Bedrock: %2F anywhere but an ARN segment is refused before the provider
--- config
location /bedrock-claude/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider bedrock;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/bedrock-api.key;
}
--- request eval
["POST /mock/reset",
 "POST /bedrock-claude/model/anthropic.claude-v2%2F..%2Fx/converse\n{}",
 "POST /bedrock-claude/model/arn%3Aaws%2F..%2F..%2Fx/converse\n{}",
 "POST /bedrock-claude/model/arn%3Aaws%2F%2Fx/converse\n{}",
 "POST /bedrock-claude/model/$::ARN/converse%2Fx\n{}",
 "GET /mock/requests"]
--- error_code eval
[200, 400, 400, 400, 400, 200]
--- response_body_like eval
[qr/"reset"/, (qr/\A\Q$::BAD\E\z/) x 4, qr/\A\[\]\s*\z/]



=== TEST 7: Gemini: generateContent, Veo's predictLongRunning and its operations, files; an encoded ':' refused
--- config
location /gemini/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider gemini;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/gemini.key;
    add_header X-Api $llmgw_api always;
}
--- request eval
["POST /gemini/v1beta/models/gemini-2.0-flash:generateContent\n$::GEMINI",
 "POST /gemini/v1beta/models/gemini-2.0-flash:countTokens\n$::GEMINI",
 "POST /gemini/v1beta/models/veo-3.0-generate-preview:predictLongRunning\n{}",
 "GET /gemini/v1beta/models/veo-3.0-generate-preview/operations/op1",
 "POST /gemini/v1/models/imagen-3.0-generate-002:predict\n{}",
 "POST /gemini/upload/v1beta/files?upload_protocol=resumable\n{}",
 "GET /gemini/v1beta/models/gemini-2.0-flash",
 "POST /gemini/v1beta/models/gemini-2.0-flash:generatecontent\n{}",
 "POST /gemini/v1beta/models/veo-3.0-generate-preview%3ApredictLongRunning\n{}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[200, 200, 404, 404, 404, 404, 404, 404, 400]
--- response_headers eval
["X-Api: generateContent", "X-Api: countTokens",
 "X-Api: predictLongRunning", "X-Api: operations", "X-Api: predict",
 "X-Api: files", "X-Api: models", "!X-Api", "!X-Api"]



=== TEST 8: the kind is there for a request denied before the content phase, and in the log
--- config
location /azure-openai/ {
    deny all;
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request
POST /azure-openai/openai/v1/audio/speech
{}
--- more_headers
X-Test-Id: t8
--- error_code: 403
--- error_log
llmgw-api id=t8 status=403 provider=azure_openai api=audio.speech outcome=-



=== TEST 9: no $llmgw_api without llmgw_pass, and the URL's path is not classified
--- config
location /plain/ {
    add_header X-Api $llmgw_api always;
    return 204;
}

location /az2/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/openai/;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
    add_header X-Api $llmgw_api always;
}
--- request eval
["GET /plain/openai/deployments/x/chat/completions",
 "POST /az2/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21\n$::CHAT"]
--- more_headers
Content-Type: application/json
--- error_code eval
[204, 200]
--- response_headers eval
["!X-Api", "!X-Api"]
