# llmgw_pass reads the token usage of every provider's answer, streamed or
# not, as the body goes by: $llmgw_usage_* hold exactly what the provider
# (here the mock, t/mock/README.md) reported, and $llmgw_usage_source says
# "provider"; an answer that reported none, was cut short, failed in-band
# or was an error has its usage "missing" and no counts.
#
# The mock's counts: input = the words of the request's text, output = the
# reply's pieces (6, or X-Mock-Events), total = their sum where the API
# reports one; X-Mock-Usage-Details adds cache-read and reasoning counts.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::LogPhase;
use LLMGW::Mock;

our $CHAT_STREAM = '{"stream":true,"stream_options":{"include_usage":true},'
                   . '"messages":[{"role":"user","content":"one two three"}]}';
our $CHAT_STREAM_NO_USAGE = '{"stream":true,"messages":[{"role":"user",'
                            . '"content":"one two three"}]}';
our $COMPLETIONS = '{"prompt":"a b c d"}';
our $COMPLETIONS_STREAM = '{"prompt":"a b c d","stream":true,'
                          . '"stream_options":{"include_usage":true}}';
our $EMBEDDINGS = '{"input":["x y","z"]}';
our $OAI = '{"model":"gpt-4o-mini","messages":[{"role":"user",'
           . '"content":"four words right here"}]}';

if (!$ENV{TEST_NGINX_MOCK_PORT}) {
    plan(skip_all => 'no mock provider (t/run-tests.sh starts one)');

} else {
    repeat_each(2);
    plan tests => repeat_each() * (21 * 3 + 3);
}

log_level('info');
no_shuffle();

our $HttpConfig = mock_usage_log('cache_read=$llmgw_usage_cache_read_tokens',
                                 'reasoning=$llmgw_usage_reasoning_tokens');

our $Locations = mock_locations(qw(azure-openai openai bedrock-claude gemini))
                 . <<'_EOC_';

    location /azure-off/ {
        llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        llmgw_provider azure_openai;
        llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
        llmgw_pass_strip_prefix /azure-off;
        llmgw_pass_usage off;
    }

    location /bedrock-small/ {
        llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        llmgw_provider bedrock;
        llmgw_pass_host bedrock-runtime.us-east-1.amazonaws.com;
        llmgw_pass_aws_credentials file=$TEST_NGINX_MOCK_SECRETS/aws-credentials;
        llmgw_pass_strip_prefix /bedrock-small;
        llmgw_pass_usage_buffer 4k;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config',
                      $HttpConfig . ($block->http_config // ''));
    $block->set_value('config', $Locations . ($block->config // ''));
});

run_tests();

__DATA__

=== TEST 1: Azure chat, not streamed: the body's usage
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT"
--- more_headers
X-Test-Id: u1
Content-Type: application/json
--- response_body_like: "usage": \{"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9\}
--- error_log
llmgw-audit id=u1 status=200 api=chat outcome=ok stream=0 usage=provider in=3 out=6 total=9 cache_read=- reasoning=-;



=== TEST 2: Azure chat, not streamed: cached and reasoning tokens
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT"
--- more_headers
X-Test-Id: u2
X-Mock-Usage-Details: cached=2,reasoning=4
Content-Type: application/json
--- response_body_like: "cached_tokens": 2\}.*"reasoning_tokens": 4\}
--- error_log
llmgw-audit id=u2 status=200 api=chat outcome=ok stream=0 usage=provider in=3 out=6 total=9 cache_read=2 reasoning=4;



=== TEST 3: Azure chat streamed with stream_options.include_usage: the usage chunk
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM"
--- more_headers
X-Test-Id: u3
X-Mock-Events: 3
X-Mock-Usage-Details: cached=1,reasoning=2
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- response_body_like: "usage":\{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6,.*data: \[DONE\]\n\n\z
--- error_log
llmgw-audit id=u3 status=200 api=chat outcome=ok stream=1 usage=provider in=3 out=3 total=6 cache_read=1 reasoning=2;



=== TEST 4: Azure chat streamed without include_usage: the gateway asks for it (t/include-usage.t)
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM_NO_USAGE"
--- more_headers
X-Test-Id: u4
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- response_body_like: data: \[DONE\]\n\n\z
--- error_log
llmgw-audit id=u4 status=200 api=chat outcome=ok stream=1 usage=provider in=3 out=6 total=9 cache_read=- reasoning=-;



=== TEST 5: Azure completions, not streamed
--- request eval
"POST $::AZURE/gpt-35/completions$::Q\n$::COMPLETIONS"
--- more_headers
X-Test-Id: u5
Content-Type: application/json
--- response_body_like: "object": "text_completion"
--- error_log
llmgw-audit id=u5 status=200 api=completions outcome=ok stream=0 usage=provider in=4 out=6 total=10 cache_read=- reasoning=-;



=== TEST 6: Azure completions streamed with include_usage
--- request eval
"POST $::AZURE/gpt-35/completions$::Q\n$::COMPLETIONS_STREAM"
--- more_headers
X-Test-Id: u6
X-Mock-Events: 2
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- response_body_like: data: \[DONE\]\n\n\z
--- error_log
llmgw-audit id=u6 status=200 api=completions outcome=ok stream=1 usage=provider in=4 out=2 total=6 cache_read=- reasoning=-;



=== TEST 7: Azure embeddings: input and total only
--- request eval
"POST $::AZURE/emb/embeddings$::Q\n$::EMBEDDINGS"
--- more_headers
X-Test-Id: u7
Content-Type: application/json
--- response_body_like: "usage": \{"prompt_tokens": 3, "total_tokens": 3\}
--- error_log
llmgw-audit id=u7 status=200 api=embeddings outcome=ok stream=0 usage=provider in=3 out=- total=3 cache_read=- reasoning=-;



=== TEST 8: OpenAI chat, not streamed
--- request eval
"POST /openai/v1/chat/completions\n$::OAI"
--- more_headers
X-Test-Id: u8
X-Mock-Events: 7
Content-Type: application/json
--- response_body_like: "total_tokens": 11
--- error_log
llmgw-audit id=u8 status=200 api=chat outcome=ok stream=0 usage=provider in=4 out=7 total=11 cache_read=- reasoning=-;



=== TEST 9: Bedrock invoke: the Anthropic body and the token count headers
--- request eval
"POST /bedrock-claude/model/$::MODEL/invoke\n$::INVOKE"
--- more_headers
X-Test-Id: u9
Content-Type: application/json
--- response_headers
X-Amzn-Bedrock-Input-Token-Count: 5
--- error_log
llmgw-audit id=u9 status=200 api=invoke outcome=ok stream=0 usage=provider in=5 out=6 total=- cache_read=- reasoning=-;



=== TEST 10: Bedrock invoke-with-response-stream: invocationMetrics
--- request eval
"POST /bedrock-claude/model/$::MODEL/invoke-with-response-stream\n$::INVOKE"
--- more_headers
X-Test-Id: u10
X-Mock-Events: 4
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- response_body_like: :event-type\x07\x00\x05chunk
--- error_log
llmgw-audit id=u10 status=200 api=invoke outcome=ok stream=1 usage=provider in=5 out=4 total=- cache_read=- reasoning=-;



=== TEST 11: Bedrock converse, not streamed
--- request eval
"POST /bedrock-claude/model/$::MODEL/converse\n$::CONVERSE"
--- more_headers
X-Test-Id: u11
Content-Type: application/json
--- response_body_like: "usage": \{"inputTokens": 7, "outputTokens": 6, "totalTokens": 13\}
--- error_log
llmgw-audit id=u11 status=200 api=converse outcome=ok stream=0 usage=provider in=7 out=6 total=13 cache_read=- reasoning=-;



=== TEST 12: Bedrock converse-stream: the metadata event
--- request eval
"POST /bedrock-claude/model/$::MODEL/converse-stream\n$::CONVERSE"
--- more_headers
X-Test-Id: u12
X-Mock-Events: 9
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- response_body_like: :event-type\x07\x00\x08metadata
--- error_log
llmgw-audit id=u12 status=200 api=converse outcome=ok stream=1 usage=provider in=7 out=9 total=16 cache_read=- reasoning=-;



=== TEST 13: Gemini generateContent: usageMetadata, cached and thoughts
--- request eval
"POST /gemini/v1beta/models/gemini-2.0-flash:generateContent\n$::GEMINI"
--- more_headers
X-Test-Id: u13
X-Mock-Usage-Details: cached=1,reasoning=5
Content-Type: application/json
--- response_body_like: "usageMetadata"
--- error_log
llmgw-audit id=u13 status=200 api=generateContent outcome=ok stream=0 usage=provider in=2 out=6 total=8 cache_read=1 reasoning=5;



=== TEST 14: Gemini streamGenerateContent?alt=sse: the last event's counts
--- request eval
"POST /gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse\n$::GEMINI"
--- more_headers
X-Test-Id: u14
X-Mock-Events: 4
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- response_body_like: "candidatesTokenCount":4,
--- error_log
llmgw-audit id=u14 status=200 api=generateContent outcome=ok stream=1 usage=provider in=2 out=4 total=6 cache_read=- reasoning=-;



=== TEST 15: Gemini streamGenerateContent without alt=sse: the JSON array's last element
--- request eval
"POST /gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent\n$::GEMINI"
--- more_headers
X-Test-Id: u15
X-Mock-Events: 3
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- response_body_like: \A\[.*\]\z
--- error_log
llmgw-audit id=u15 status=200 api=generateContent outcome=ok stream=0 usage=provider in=2 out=3 total=5 cache_read=- reasoning=-;



=== TEST 16: Gemini countTokens counts a prompt, consumes nothing: missing
--- request eval
"POST /gemini/v1beta/models/gemini-2.0-flash:countTokens\n$::GEMINI"
--- more_headers
X-Test-Id: u16
Content-Type: application/json
--- response_body_like: "totalTokens": 2
--- error_log
llmgw-audit id=u16 status=200 api=countTokens outcome=ok stream=0 usage=missing in=- out=- total=- cache_read=- reasoning=-;



=== TEST 17: an upstream error answer: missing
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT"
--- more_headers
X-Test-Id: u17
X-Mock-Fault: status-500
Content-Type: application/json
--- error_code: 500
--- response_body_like: "error"
--- error_log
llmgw-audit id=u17 status=500 api=chat outcome=http_error stream=0 usage=missing in=- out=- total=- cache_read=- reasoning=-;



=== TEST 18: an in-band stream error (SSE): missing
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM"
--- more_headers
X-Test-Id: u18
X-Mock-Fault: exception
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- response_body_like: mock_stream_error
--- error_log
llmgw-audit id=u18 status=200 api=chat outcome=ok stream=1 usage=missing in=- out=- total=- cache_read=- reasoning=-;



=== TEST 19: a Bedrock stream exception: missing
--- request eval
"POST /bedrock-claude/model/$::MODEL/converse-stream\n$::CONVERSE"
--- more_headers
X-Test-Id: u19
X-Mock-Fault: exception
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- response_body_like: throttlingException
--- error_log
llmgw-audit id=u19 status=200 api=converse outcome=stream_exception stream=1 usage=missing in=- out=- total=- cache_read=- reasoning=-;



=== TEST 20: llmgw_pass_usage off: not read, missing; the answer unchanged
--- request eval
"POST /azure-off/openai/deployments/gpt-4o/chat/completions$::Q\n$::CHAT"
--- more_headers
X-Test-Id: u20
Content-Type: application/json
--- response_body_like: "usage": \{"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9\}
--- error_log
llmgw-audit id=u20 status=200 api=chat outcome=ok stream=0 usage=missing in=- out=- total=- cache_read=- reasoning=-;



=== TEST 21: a stream cut mid-way (SSE): missing
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM"
--- more_headers
X-Test-Id: u21
X-Mock-Fault: reset-mid-stream
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- ignore_response
--- error_log
llmgw-audit id=u21 status=200 api=chat outcome=stream_cut stream=1 usage=missing in=- out=- total=- cache_read=- reasoning=-;



=== TEST 22: a stream cut mid-way (Bedrock event-stream): missing
--- request eval
"POST /bedrock-claude/model/$::MODEL/converse-stream\n$::CONVERSE"
--- more_headers
X-Test-Id: u22
X-Mock-Fault: reset-mid-stream
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- ignore_response
--- error_log
llmgw-audit id=u22 status=200 api=converse outcome=stream_cut stream=1 usage=missing in=- out=- total=- cache_read=- reasoning=-;



=== TEST 23: a JSON body cut short of its Content-Length: missing, though the headers counted
--- request eval
"POST /bedrock-claude/model/$::MODEL/invoke\n$::INVOKE"
--- more_headers
X-Test-Id: u23
X-Mock-Fault: reset-mid-stream
Content-Type: application/json
--- ignore_response
--- error_log
llmgw-audit id=u23 status=200 api=invoke outcome=stream_cut stream=0 usage=missing in=- out=- total=- cache_read=- reasoning=-;



=== TEST 24: llmgw_pass_usage_buffer at its least (4k) still holds Bedrock's messages
--- request eval
"POST /bedrock-small/model/$::MODEL/invoke-with-response-stream\n$::INVOKE"
--- more_headers
X-Test-Id: u24
X-Mock-Events: 2
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- response_body_like: :event-type\x07\x00\x05chunk
--- error_log
llmgw-audit id=u24 status=200 api=invoke outcome=ok stream=1 usage=provider in=5 out=2 total=- cache_read=- reasoning=-;
