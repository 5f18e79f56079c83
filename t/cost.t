# llmgw_price: the cost of every call in integer micro-units of the
# configured currency, from the provider's own usage (here the mock's,
# t/mock/README.md) and the price of the model: exact names, the longest
# prefix pattern, cache reads and reasoning counted as each provider counts
# them, rounding half up once, no cost without a price or without usage,
# a location's own table replacing the inherited one, and the audit line's
# "cost_micros" and "currency".
#
# The mock's counts: input = the words of the request's text, output = the
# reply's pieces (6, or X-Mock-Events); X-Mock-Usage-Details adds cache-read
# and reasoning counts.  Prices are per million tokens: a token at 2.5 is
# 2.5 micro-units.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::LogPhase;
use LLMGW::Mock;

if (!$ENV{TEST_NGINX_MOCK_PORT}) {
    plan(skip_all => 'no mock provider (t/run-tests.sh starts one)');

} else {
    repeat_each(2);
    plan tests => repeat_each() * (8 * 2 + 1 + 2 * 4);
}

log_level('info');
no_shuffle();

our $HttpConfig = <<'_EOC_';
    log_format llmgw_cost 'llmgw-cost id=$http_x_test_id status=$status '
                          'in=$llmgw_usage_input_tokens '
                          'out=$llmgw_usage_output_tokens '
                          'cost=$llmgw_cost_micros '
                          'currency=$llmgw_cost_currency;';
    access_log logs/error.log llmgw_cost;

    llmgw_price gpt-4o input=2.5 output=10 cache_read=1.25;
    llmgw_price gpt-4* input=30 output=60;
    llmgw_price anthropic.claude-3-5-sonnet* input=3 output=15
                cache_read=0.3 cache_write=3.75;
    llmgw_price gemini-2.0-flash input=1.25 output=10 cache_read=0.3125
                currency=USD;
_EOC_

our $Locations = mock_locations(qw(azure-openai bedrock-claude gemini))
                 . <<'_EOC_';

    location /azure-eur/ {
        llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        llmgw_provider azure_openai;
        llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
        llmgw_pass_strip_prefix /azure-eur;
        llmgw_price * input=1 output=1 currency=EUR;
    }

    location /azure-audit/ {
        llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        llmgw_provider azure_openai;
        llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
        llmgw_pass_strip_prefix /azure-audit;
        llmgw_audit logs/cost-audit.log;
    }

    location = /cost-audit {
        default_type text/plain;
        alias logs/cost-audit.log;
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

=== TEST 1: Azure gpt-4o: 3 x 2.5 + 6 x 10 = 67.5, rounded half up to 68
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT"
--- more_headers
X-Test-Id: c1
Content-Type: application/json
--- error_code: 200
--- error_log
llmgw-cost id=c1 status=200 in=3 out=6 cost=68 currency=USD;



=== TEST 2: Azure: cached tokens are part of prompt_tokens, priced apart
1 x 2.5 + 2 x 1.25 + 6 x 10 = 65; the 4 reasoning tokens are in the 6
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT"
--- more_headers
X-Test-Id: c2
X-Mock-Usage-Details: cached=2,reasoning=4
Content-Type: application/json
--- error_code: 200
--- error_log
llmgw-cost id=c2 status=200 in=3 out=6 cost=65 currency=USD;



=== TEST 3: a deployment priced by the longest prefix: 3 x 30 + 6 x 60
--- request eval
"POST $::AZURE/gpt-4-turbo/chat/completions$::Q\n$::CHAT"
--- more_headers
X-Test-Id: c3
Content-Type: application/json
--- error_code: 200
--- error_log
llmgw-cost id=c3 status=200 in=3 out=6 cost=450 currency=USD;



=== TEST 4: a model without a price: no cost, no currency
--- request eval
"POST $::AZURE/mine/chat/completions$::Q\n$::CHAT"
--- more_headers
X-Test-Id: c4
Content-Type: application/json
--- error_code: 200
--- error_log
llmgw-cost id=c4 status=200 in=3 out=6 cost=- currency=-;



=== TEST 5: Bedrock invoke (Anthropic counts): 5 x 3 + 6 x 15 = 105
--- request eval
"POST /bedrock-claude/model/$::MODEL/invoke\n$::INVOKE"
--- more_headers
X-Test-Id: c5
Content-Type: application/json
--- error_code: 200
--- error_log
llmgw-cost id=c5 status=200 in=5 out=6 cost=105 currency=USD;



=== TEST 6: Bedrock converse-stream: 7 x 3 + 9 x 15 = 156
--- request eval
"POST /bedrock-claude/model/$::MODEL/converse-stream\n$::CONVERSE"
--- more_headers
X-Test-Id: c6
X-Mock-Events: 9
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- error_code: 200
--- error_log
llmgw-cost id=c6 status=200 in=7 out=9 cost=156 currency=USD;



=== TEST 7: Gemini: cached in the prompt, thoughts billed as output
1 x 1.25 + 1 x 0.3125 + (6 + 5) x 10 = 111.5625, rounded to 112
--- request eval
"POST /gemini/v1beta/models/gemini-2.0-flash:generateContent\n$::GEMINI"
--- more_headers
X-Test-Id: c7
X-Mock-Usage-Details: cached=1,reasoning=5
Content-Type: application/json
--- error_code: 200
--- error_log
llmgw-cost id=c7 status=200 in=2 out=6 cost=112 currency=USD;



=== TEST 8: a stream cut short: usage missing, no cost
--- request eval
"POST /bedrock-claude/model/$::MODEL/converse-stream\n$::CONVERSE"
--- more_headers
X-Test-Id: c8
X-Mock-Fault: reset-mid-stream
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- ignore_response
--- error_log
llmgw-cost id=c8 status=200 in=- out=- cost=- currency=-;



=== TEST 9: a location's own table replaces the inherited one: 3 + 6 EUR
--- request eval
"POST /azure-eur/openai/deployments/gpt-4o/chat/completions$::Q\n$::CHAT"
--- more_headers
X-Test-Id: c9
Content-Type: application/json
--- error_code: 200
--- error_log
llmgw-cost id=c9 status=200 in=3 out=6 cost=9 currency=EUR;



=== TEST 10: the audit line: "cost_micros" and "currency" after "usage_source"
--- request eval
["POST /azure-audit/openai/deployments/gpt-4o/chat/completions$::Q\n$::CHAT",
 "GET /cost-audit"]
--- more_headers
Content-Type: application/json
--- response_body_like eval
[qr/"usage"/,
 qr/\A(\{"v":1,[^\n]*,"usage_source":"provider","cost_micros":68,"currency":"USD"\}\n)+\z/]



=== TEST 11: the audit line of an unpriced model: both null
--- request eval
["POST /azure-audit/openai/deployments/mine/chat/completions$::Q\n$::CHAT",
 "GET /cost-audit"]
--- more_headers
Content-Type: application/json
--- response_body_like eval
[qr/"usage"/,
 qr/\A(\{"v":1,[^\n]*,"usage_source":"provider","cost_micros":null,"currency":null\}\n)+\z/]
