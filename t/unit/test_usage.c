/* llmgw-unit-srcs: src/ngx_http_llmgw_usage.c */
/* llmgw-unit-srcs: src/ngx_http_llmgw_eventstream.c */
/* llmgw-unit-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * The token usage parser: for each provider and API, streamed and not,
 * bodies as t/mock/llmgw-mock sends them and as the providers document
 * them, fed whole, byte by byte and split at every position; decoy "usage"
 * keys; megabytes of content before the usage with the state under its
 * bound; malformed and truncated bodies, counts out of range, negative,
 * fractional and duplicated; provider errors and exceptions; the header
 * helper.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdio.h>
#include <string.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_usage.h"


#define NGX_HTTP_LLMGW_TEST_BUF   65536

/* how a body is fed: whole, byte by byte, or in two pieces at an offset */
#define NGX_HTTP_LLMGW_TEST_WHOLE  ((size_t) -1)
#define NGX_HTTP_LLMGW_TEST_BYTES  ((size_t) -2)


/* what is expected, -1 for "not present" */

typedef struct {
    int64_t                    in;
    int64_t                    out;
    int64_t                    cache_read;
    int64_t                    cache_write;
    int64_t                    reasoning;
    int64_t                    total;
} ngx_http_llmgw_test_usage_t;


typedef struct {
    ngx_http_llmgw_usage_result_t  result;
    ngx_int_t                  rc;        /* of finish(), or NGX_ERROR */
    const char                *err;
    size_t                     peak;
    size_t                     size;
    size_t                     limit;
    size_t                     max_message;
} ngx_http_llmgw_test_run_t;


static void ngx_http_llmgw_test_feed(ngx_http_llmgw_usage_format_e format,
    u_char *data, size_t len, size_t how, size_t limit,
    ngx_http_llmgw_test_run_t *run);
static ngx_uint_t ngx_http_llmgw_test_expect(ngx_http_llmgw_test_run_t *run,
    ngx_http_llmgw_test_usage_t *want);
static ngx_uint_t ngx_http_llmgw_test_same(ngx_http_llmgw_test_run_t *a,
    ngx_http_llmgw_test_run_t *b);
static void ngx_http_llmgw_test_body(const char *what,
    ngx_http_llmgw_usage_format_e format, u_char *data, size_t len,
    ngx_http_llmgw_test_usage_t *want);
static void ngx_http_llmgw_test_refused(const char *what,
    ngx_http_llmgw_usage_format_e format, const char *body);
static u_char *ngx_http_llmgw_test_chunk(u_char *p, const char *event,
    ngx_uint_t pad);
static size_t ngx_http_llmgw_test_invoke_stream(u_char *buf,
    ngx_uint_t metrics, ngx_uint_t exception);
static size_t ngx_http_llmgw_test_converse_stream(u_char *buf,
    ngx_uint_t exception);
static size_t ngx_http_llmgw_test_last_data(char *text, size_t len);
static void ngx_http_llmgw_test_openai(void);
static void ngx_http_llmgw_test_responses(void);
static void ngx_http_llmgw_test_bedrock(void);
static void ngx_http_llmgw_test_gemini(void);
static void ngx_http_llmgw_test_decoys(void);
static void ngx_http_llmgw_test_huge(void);
static void ngx_http_llmgw_test_values(void);
static void ngx_http_llmgw_test_malformed(void);
static void ngx_http_llmgw_test_sse(void);
static void ngx_http_llmgw_test_eventstream(void);
static void ngx_http_llmgw_test_parse_count(void);


static u_char  ngx_http_llmgw_test_buf[NGX_HTTP_LLMGW_TEST_BUF];


/* t/mock/llmgw-mock's Azure chat.completion, json.dumps() spacing */

static char  ngx_http_llmgw_test_azure_chat[] =
    "{\"id\": \"chatcmpl-mock0f3c1d2e4b5a69788a9b\", "
    "\"object\": \"chat.completion\", \"created\": 1735689600, "
    "\"model\": \"gpt-4o-2024-08-06\", \"choices\": [{\"index\": 0, "
    "\"finish_reason\": \"stop\", \"logprobs\": null, \"message\": "
    "{\"role\": \"assistant\", \"content\": \"Hello from llmgw-mock, "
    "piece 1 piece 2 \\\"quoted\\\" \\u00e9t\\u00e9 \\ud83d\\ude00\", "
    "\"refusal\": null}, \"content_filter_results\": {\"hate\": "
    "{\"filtered\": false, \"severity\": \"safe\"}, \"self_harm\": "
    "{\"filtered\": false, \"severity\": \"safe\"}, \"sexual\": "
    "{\"filtered\": false, \"severity\": \"safe\"}, \"violence\": "
    "{\"filtered\": false, \"severity\": \"safe\"}}}], \"usage\": "
    "{\"prompt_tokens\": 12, \"completion_tokens\": 6, "
    "\"total_tokens\": 18}, \"system_fingerprint\": \"fp_mock0001\", "
    "\"prompt_filter_results\": [{\"prompt_index\": 0, "
    "\"content_filter_results\": {\"hate\": {\"filtered\": false, "
    "\"severity\": \"safe\"}}}]}";


/* OpenAI's documented chat.completion with the details objects */

static char  ngx_http_llmgw_test_openai_chat[] =
    "{\n  \"id\": \"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\n"
    "  \"object\": \"chat.completion\",\n  \"created\": 1741570283,\n"
    "  \"model\": \"gpt-4o-2024-08-06\",\n  \"choices\": [\n    {\n"
    "      \"index\": 0,\n      \"message\": {\n"
    "        \"role\": \"assistant\",\n"
    "        \"content\": \"The image shows a wooden boardwalk.\",\n"
    "        \"refusal\": null,\n        \"annotations\": []\n      },\n"
    "      \"logprobs\": null,\n      \"finish_reason\": \"stop\"\n"
    "    }\n  ],\n  \"usage\": {\n    \"prompt_tokens\": 1117,\n"
    "    \"completion_tokens\": 46,\n    \"total_tokens\": 1163,\n"
    "    \"prompt_tokens_details\": {\n      \"cached_tokens\": 1024,\n"
    "      \"audio_tokens\": 0\n    },\n"
    "    \"completion_tokens_details\": {\n"
    "      \"reasoning_tokens\": 12,\n      \"audio_tokens\": 0,\n"
    "      \"accepted_prediction_tokens\": 0,\n"
    "      \"rejected_prediction_tokens\": 0\n    }\n  },\n"
    "  \"service_tier\": \"default\",\n"
    "  \"system_fingerprint\": \"fp_fc9f1d7035\"\n}\n";


/* the mock's Azure stream with stream_options.include_usage */

static char  ngx_http_llmgw_test_azure_sse[] =
    "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\","
    "\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,"
    "\"content_filter_results\":{\"hate\":{\"filtered\":false,"
    "\"severity\":\"safe\"}}}]}\n\n"
    "data: {\"id\":\"chatcmpl-mock1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1735689600,\"model\":\"gpt-4o\",\"system_fingerprint\":"
    "\"fp_mock0001\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
    "\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,"
    "\"finish_reason\":null,\"content_filter_results\":{}}],"
    "\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-mock1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1735689600,\"model\":\"gpt-4o\",\"system_fingerprint\":"
    "\"fp_mock0001\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"Hello \"},\"logprobs\":null,\"finish_reason\":null,"
    "\"content_filter_results\":{\"hate\":{\"filtered\":false,"
    "\"severity\":\"safe\"}}}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-mock1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1735689600,\"model\":\"gpt-4o\",\"system_fingerprint\":"
    "\"fp_mock0001\",\"choices\":[{\"index\":0,\"delta\":{},"
    "\"logprobs\":null,\"finish_reason\":\"stop\","
    "\"content_filter_results\":{}}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-mock1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1735689600,\"model\":\"gpt-4o\",\"system_fingerprint\":"
    "\"fp_mock0001\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":2,\"total_tokens\":11,"
    "\"prompt_tokens_details\":{\"cached_tokens\":0},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n"
    "data: [DONE]\n\n";


/* the mock's text_completion stream */

static char  ngx_http_llmgw_test_completions_sse[] =
    "data: {\"id\":\"cmpl-mock2\",\"object\":\"text_completion\","
    "\"created\":1735689600,\"model\":\"gpt-35-turbo-instruct\","
    "\"choices\":[{\"text\":\"one \",\"index\":0,\"logprobs\":null,"
    "\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"cmpl-mock2\",\"object\":\"text_completion\","
    "\"created\":1735689600,\"model\":\"gpt-35-turbo-instruct\","
    "\"choices\":[{\"text\":\"two\",\"index\":0,\"logprobs\":null,"
    "\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
    "data: {\"id\":\"cmpl-mock2\",\"object\":\"text_completion\","
    "\"created\":1735689600,\"model\":\"gpt-35-turbo-instruct\","
    "\"choices\":[],\"usage\":{\"prompt_tokens\":4,"
    "\"completion_tokens\":2,\"total_tokens\":6}}\n\n"
    "data: [DONE]\n\n";


static char  ngx_http_llmgw_test_embeddings[] =
    "{\"object\": \"list\", \"data\": [{\"object\": \"embedding\", "
    "\"index\": 0, \"embedding\": [0.0019, -0.0102, 1e-3, -2.5E+2, 0, "
    "0.5, -0.49803921568627452, 0.1]}], \"model\": "
    "\"text-embedding-3-small\", \"usage\": {\"prompt_tokens\": 8, "
    "\"total_tokens\": 8}}";


/* the Responses API, as OpenAI documents a response object */

static char  ngx_http_llmgw_test_responses_json[] =
    "{\n  \"id\": \"resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41\","
    "\n  \"object\": \"response\",\n  \"created_at\": 1741476777,\n"
    "  \"status\": \"completed\",\n  \"error\": null,\n"
    "  \"incomplete_details\": null,\n  \"instructions\": null,\n"
    "  \"max_output_tokens\": null,\n  \"model\": \"gpt-4o-2024-08-06\",\n"
    "  \"output\": [\n    {\n      \"type\": \"message\",\n"
    "      \"id\": \"msg_67ccd3acc8d48190a77525dc6de64b4104becb25c45c1d41\","
    "\n      \"status\": \"completed\",\n      \"role\": \"assistant\",\n"
    "      \"content\": [\n        {\n          \"type\": \"output_text\",\n"
    "          \"text\": \"The image depicts a scenic landscape.\",\n"
    "          \"annotations\": []\n        }\n      ]\n    }\n  ],\n"
    "  \"parallel_tool_calls\": true,\n  \"reasoning\": {\n"
    "    \"effort\": null,\n    \"summary\": null\n  },\n"
    "  \"temperature\": 1.0,\n  \"tools\": [],\n  \"top_p\": 1.0,\n"
    "  \"usage\": {\n    \"input_tokens\": 328,\n"
    "    \"input_tokens_details\": {\n      \"cached_tokens\": 0\n    },\n"
    "    \"output_tokens\": 52,\n    \"output_tokens_details\": {\n"
    "      \"reasoning_tokens\": 0\n    },\n    \"total_tokens\": 380\n"
    "  },\n  \"user\": null,\n  \"metadata\": {}\n}";


static char  ngx_http_llmgw_test_responses_sse[] =
    "event: response.created\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,"
    "\"response\":{\"id\":\"resp_1\",\"object\":\"response\","
    "\"status\":\"in_progress\",\"error\":null,\"output\":[],"
    "\"usage\":null}}\n\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":4,"
    "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,"
    "\"delta\":\"Hi\"}\n\n"
    "event: response.output_item.done\n"
    "data: {\"type\":\"response.output_item.done\",\"sequence_number\":7,"
    "\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\","
    "\"usage\":{\"input_tokens\":999}}}\n\n"
    "event: response.completed\n"
    "data: {\"type\":\"response.completed\",\"sequence_number\":8,"
    "\"response\":{\"id\":\"resp_1\",\"object\":\"response\","
    "\"status\":\"completed\",\"error\":null,\"output\":[{\"type\":"
    "\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hi\"}]}],"
    "\"usage\":{\"input_tokens\":37,\"input_tokens_details\":"
    "{\"cached_tokens\":5},\"output_tokens\":11,\"output_tokens_details\":"
    "{\"reasoning_tokens\":3},\"total_tokens\":48}}}\n\n";


/* Bedrock InvokeModel, the mock's Anthropic message */

static char  ngx_http_llmgw_test_anthropic_json[] =
    "{\"id\": \"msg_bdrk_mock0123456789abcdef\", \"type\": \"message\", "
    "\"role\": \"assistant\", \"model\": \"claude-3-5-sonnet-20240620\", "
    "\"content\": [{\"type\": \"text\", \"text\": \"piece 1 piece 2\"}], "
    "\"stop_reason\": \"end_turn\", \"stop_sequence\": null, \"usage\": "
    "{\"input_tokens\": 21, \"output_tokens\": 6, "
    "\"cache_read_input_tokens\": 100, "
    "\"cache_creation_input_tokens\": 7}}";


static char  ngx_http_llmgw_test_converse_json[] =
    "{\"output\": {\"message\": {\"role\": \"assistant\", \"content\": "
    "[{\"text\": \"piece 1 piece 2\"}]}}, \"stopReason\": \"end_turn\", "
    "\"usage\": {\"inputTokens\": 30, \"outputTokens\": 6, "
    "\"totalTokens\": 36, \"cacheReadInputTokens\": 4, "
    "\"cacheWriteInputTokens\": 2}, \"metrics\": {\"latencyMs\": 42}}";


static char  ngx_http_llmgw_test_gemini_json[] =
    "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"piece 1 "
    "piece 2\"}], \"role\": \"model\"}, \"index\": 0, \"finishReason\": "
    "\"STOP\"}], \"usageMetadata\": {\"promptTokenCount\": 5, "
    "\"candidatesTokenCount\": 6, \"totalTokenCount\": 31, "
    "\"cachedContentTokenCount\": 2, \"thoughtsTokenCount\": 20, "
    "\"promptTokensDetails\": [{\"modality\": \"TEXT\", \"tokenCount\": 5}]"
    "}, \"modelVersion\": \"gemini-2.0-flash\", \"responseId\": "
    "\"mockresponseid000000\"}";


/* streamGenerateContent?alt=sse: CRLF, cumulative usage */

static char  ngx_http_llmgw_test_gemini_sse[] =
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"piece 1\"}],"
    "\"role\":\"model\"},\"index\":0}],\"usageMetadata\":"
    "{\"promptTokenCount\":5,\"candidatesTokenCount\":1,"
    "\"totalTokenCount\":6,\"promptTokensDetails\":[{\"modality\":"
    "\"TEXT\",\"tokenCount\":5}]},\"modelVersion\":\"gemini-2.0-flash\","
    "\"responseId\":\"r1\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"piece 2\"}],"
    "\"role\":\"model\"},\"index\":0}],\"usageMetadata\":"
    "{\"promptTokenCount\":5,\"candidatesTokenCount\":2,"
    "\"totalTokenCount\":7},\"modelVersion\":\"gemini-2.0-flash\","
    "\"responseId\":\"r1\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"piece 3\"}],"
    "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
    "\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":3,"
    "\"totalTokenCount\":12,\"thoughtsTokenCount\":4},"
    "\"modelVersion\":\"gemini-2.0-flash\",\"responseId\":\"r1\"}\r\n\r\n";


/* streamGenerateContent without alt=sse: a JSON array, indented */

static char  ngx_http_llmgw_test_gemini_array[] =
    "[{\n  \"candidates\": [\n    {\n      \"content\": {\n"
    "        \"parts\": [\n          {\n            \"text\": \"piece 1\"\n"
    "          }\n        ],\n        \"role\": \"model\"\n      },\n"
    "      \"index\": 0\n    }\n  ],\n  \"usageMetadata\": {\n"
    "    \"promptTokenCount\": 5,\n    \"candidatesTokenCount\": 1,\n"
    "    \"totalTokenCount\": 6\n  }\n},\r\n{\n  \"candidates\": [],\n"
    "  \"usageMetadata\": {\n    \"promptTokenCount\": 5,\n"
    "    \"candidatesTokenCount\": 2,\n    \"totalTokenCount\": 7\n  }\n}]";


/* the Anthropic events inside InvokeModelWithResponseStream's chunks */

static const char  *ngx_http_llmgw_test_anthropic_events[] = {
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_bdrk_1\","
    "\"type\":\"message\",\"role\":\"assistant\",\"model\":"
    "\"claude-3-5-sonnet-20240620\",\"content\":[],\"stop_reason\":null,"
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,"
    "\"cache_read_input_tokens\":10,\"cache_creation_input_tokens\":3,"
    "\"output_tokens\":1}}}",
    "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
    "{\"type\":\"text\",\"text\":\"\"}}",
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"text_delta\",\"text\":\"{\\\"usage\\\":{\\\"input_tokens\\\":5}}\"}}",
    "{\"type\":\"content_block_stop\",\"index\":0}",
    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}",
    NULL
};

static const char  ngx_http_llmgw_test_anthropic_stop[] =
    "{\"type\":\"message_stop\",\"amazon-bedrock-invocationMetrics\":"
    "{\"inputTokenCount\":26,\"outputTokenCount\":16,"
    "\"invocationLatency\":42,\"firstByteLatency\":17,"
    "\"cacheReadInputTokenCount\":10,\"cacheWriteInputTokenCount\":3}}";


static void
ngx_http_llmgw_test_feed(ngx_http_llmgw_usage_format_e format, u_char *data,
    size_t len, size_t how, size_t limit, ngx_http_llmgw_test_run_t *run)
{
    u_char                  *piece;
    size_t                   start, n, size;
    ngx_int_t                rc;
    ngx_uint_t               first;
    ngx_pool_t              *pool;
    ngx_http_llmgw_usage_t   u;

    ngx_memzero(run, sizeof(ngx_http_llmgw_test_run_t));

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        run->rc = NGX_ABORT;
        return;
    }

    if (ngx_http_llmgw_usage_init(&u, pool, format, limit) != NGX_OK) {
        run->rc = NGX_ABORT;
        goto done;
    }

    rc = NGX_AGAIN;
    start = 0;
    size = 0;
    first = 1;

    while (start < len) {

        if (how == NGX_HTTP_LLMGW_TEST_WHOLE) {
            n = len;

        } else if (how == NGX_HTTP_LLMGW_TEST_BYTES) {
            n = 1;

        } else {
            n = first ? how : len - start;
        }

        first = 0;

        n = ngx_min(n, len - start);

        /* each piece a heap buffer of its own: nothing may point into it */

        piece = ngx_alloc(n + 1, &ngx_http_llmgw_unit_log);
        if (piece == NULL) {
            run->rc = NGX_ABORT;
            goto done;
        }

        ngx_memcpy(piece, data + start, n);

        rc = ngx_http_llmgw_usage_feed(&u, piece, piece + n);

        ngx_free(piece);

        size = ngx_max(size, ngx_http_llmgw_usage_size(&u));
        start += n;

        if (rc == NGX_ERROR) {
            break;
        }
    }

    if (rc != NGX_ERROR) {
        rc = ngx_http_llmgw_usage_finish(&u);
    }

    run->result = u.result;
    run->rc = rc;
    run->err = u.err;
    run->peak = u.peak;
    run->size = size;
    run->limit = u.limit;
    run->max_message = u.max_message;

done:

    ngx_destroy_pool(pool);
}


static ngx_uint_t
ngx_http_llmgw_test_expect(ngx_http_llmgw_test_run_t *run,
    ngx_http_llmgw_test_usage_t *want)
{
    ngx_uint_t                      i;
    int64_t                         w[6];
    ngx_http_llmgw_usage_count_t   *c[6];

    w[0] = want->in;
    w[1] = want->out;
    w[2] = want->cache_read;
    w[3] = want->cache_write;
    w[4] = want->reasoning;
    w[5] = want->total;

    c[0] = &run->result.input_tokens;
    c[1] = &run->result.output_tokens;
    c[2] = &run->result.cache_read_input_tokens;
    c[3] = &run->result.cache_creation_input_tokens;
    c[4] = &run->result.reasoning_output_tokens;
    c[5] = &run->result.total_tokens;

    if (run->rc != NGX_OK || !run->result.complete) {
        return 0;
    }

    for (i = 0; i < 6; i++) {
        if (w[i] < 0 ? c[i]->present
                     : (!c[i]->present || c[i]->value != w[i]))
        {
            return 0;
        }
    }

    return run->peak <= run->limit && run->size <= run->limit;
}


static ngx_uint_t
ngx_http_llmgw_test_same(ngx_http_llmgw_test_run_t *a,
    ngx_http_llmgw_test_run_t *b)
{
    return a->rc == b->rc
           && a->err == b->err
           && ngx_memcmp(&a->result, &b->result,
                         sizeof(ngx_http_llmgw_usage_result_t)) == 0;
}


/*
 * A body whole, byte by byte, and split in two at every position (for a
 * body under 8 KiB); each run must give the expected usage.
 */

static void
ngx_http_llmgw_test_body(const char *what,
    ngx_http_llmgw_usage_format_e format, u_char *data, size_t len,
    ngx_http_llmgw_test_usage_t *want)
{
    size_t                     k, bad;
    ngx_http_llmgw_test_run_t  whole, run;

    ngx_http_llmgw_test_feed(format, data, len, NGX_HTTP_LLMGW_TEST_WHOLE, 0,
                             &whole);

    ngx_http_llmgw_unit_check(ngx_http_llmgw_test_expect(&whole, want),
                              "%s: whole (rc %d, %s)", what,
                              (int) whole.rc,
                              whole.err ? whole.err : "no error");

    ngx_http_llmgw_test_feed(format, data, len, NGX_HTTP_LLMGW_TEST_BYTES, 0,
                             &run);

    ngx_http_llmgw_unit_check(ngx_http_llmgw_test_expect(&run, want)
                              && ngx_http_llmgw_test_same(&whole, &run),
                              "%s: byte by byte", what);

    if (len > 8192) {
        return;
    }

    bad = 0;

    for (k = 0; k <= len; k++) {
        ngx_http_llmgw_test_feed(format, data, len, k, 0, &run);

        if (!ngx_http_llmgw_test_expect(&run, want)
            || !ngx_http_llmgw_test_same(&whole, &run))
        {
            if (bad == 0) {
                printf("# %s: split at %zu differs\n", what, k);
            }

            bad++;
        }
    }

    ngx_http_llmgw_unit_check(bad == 0, "%s: split at each of %zu positions",
                              what, len + 1);
}


/* refused, fed whole and byte by byte: usage missing */

static void
ngx_http_llmgw_test_refused(const char *what,
    ngx_http_llmgw_usage_format_e format, const char *body)
{
    size_t                         len;
    ngx_http_llmgw_test_run_t      whole, bytes;
    ngx_http_llmgw_usage_result_t  none;

    len = ngx_strlen(body);
    ngx_memzero(&none, sizeof(ngx_http_llmgw_usage_result_t));

    ngx_http_llmgw_test_feed(format, (u_char *) body, len,
                             NGX_HTTP_LLMGW_TEST_WHOLE, 0, &whole);
    ngx_http_llmgw_test_feed(format, (u_char *) body, len,
                             NGX_HTTP_LLMGW_TEST_BYTES, 0, &bytes);

    ngx_http_llmgw_unit_check(whole.rc == NGX_ERROR
                              && whole.err != NULL
                              && ngx_memcmp(&whole.result, &none,
                                            sizeof(none)) == 0
                              && ngx_http_llmgw_test_same(&whole, &bytes),
                              "refused: %s (%s)", what,
                              whole.err ? whole.err : "not refused");
}


/* a "chunk" event: {"bytes": base64(event), "p": padding} */

static u_char *
ngx_http_llmgw_test_chunk(u_char *p, const char *event, ngx_uint_t pad)
{
    u_char     payload[4096];
    ngx_str_t  src, dst;

    src.data = (u_char *) event;
    src.len = ngx_strlen(event);

    dst.data = ngx_cpymem(payload, "{\"bytes\":\"", 10);
    ngx_encode_base64(&dst, &src);

    dst.data = ngx_sprintf(dst.data + dst.len, "\",\"p\":\"%*s\"}",
                           (size_t) (pad % 60 + 1),
                           "abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234567");

    return ngx_http_llmgw_unit_es_message(p, "event", "chunk", payload,
                                          dst.data - payload);
}


static size_t
ngx_http_llmgw_test_invoke_stream(u_char *buf, ngx_uint_t metrics,
    ngx_uint_t exception)
{
    u_char      *p;
    ngx_uint_t   i;
    static char  exc[] = "{\"message\":\"Too many requests, please wait "
                         "before trying again.\"}";

    p = buf;

    for (i = 0; ngx_http_llmgw_test_anthropic_events[i] != NULL; i++) {
        p = ngx_http_llmgw_test_chunk(p,
                                      ngx_http_llmgw_test_anthropic_events[i],
                                      i);

        if (exception == 2 && i == 2) {
            p = ngx_http_llmgw_unit_es_message(p, "exception",
                                               "throttlingException",
                                               (u_char *) exc, sizeof(exc) - 1);
            return p - buf;
        }
    }

    p = ngx_http_llmgw_test_chunk(p, metrics
                                  ? ngx_http_llmgw_test_anthropic_stop
                                  : "{\"type\":\"message_stop\"}", i);

    if (exception) {
        p = ngx_http_llmgw_unit_es_message(p, "exception",
                                           "throttlingException",
                                           (u_char *) exc, sizeof(exc) - 1);
    }

    return p - buf;
}


static size_t
ngx_http_llmgw_test_converse_stream(u_char *buf, ngx_uint_t exception)
{
    u_char      *p;
    ngx_uint_t   i;
    static char  exc[] = "{\"message\":\"Too many requests\"}";
    static char *events[][2] = {
        { "messageStart", "{\"role\":\"assistant\",\"p\":\"a\"}" },
        { "contentBlockDelta", "{\"contentBlockIndex\":0,\"delta\":{\"text\":"
                               "\"{\\\"usage\\\":{\\\"inputTokens\\\":1}}\"},"
                               "\"p\":\"abcdefgh\"}" },
        { "contentBlockStop", "{\"contentBlockIndex\":0,"
                              "\"p\":\"abcdefghijk\"}" },
        { "messageStop", "{\"stopReason\":\"end_turn\","
                         "\"p\":\"abcdefghijklmno\"}" },
        { "metadata", "{\"usage\":{\"inputTokens\":30,\"outputTokens\":6,"
                      "\"totalTokens\":36,\"cacheReadInputTokens\":0,"
                      "\"cacheWriteInputTokens\":12},\"metrics\":"
                      "{\"latencyMs\":42},\"p\":\"abcdefghijklmnopqrstuv\"}" }
    };

    p = buf;

    for (i = 0; i < 5; i++) {
        if (exception && i == 4) {
            p = ngx_http_llmgw_unit_es_message(p, "exception",
                                               "throttlingException",
                                               (u_char *) exc, sizeof(exc) - 1);
            break;
        }

        p = ngx_http_llmgw_unit_es_message(p, "event", events[i][0],
                                           (u_char *) events[i][1],
                                           ngx_strlen(events[i][1]));
    }

    return p - buf;
}


/* where the JSON of the last "data: " line before len starts, 0 if none */

static size_t
ngx_http_llmgw_test_last_data(char *text, size_t len)
{
    size_t  i, s;

    s = 0;

    for (i = 0; i + 6 <= len; i++) {
        if (ngx_strncmp(text + i, "data: ", 6) == 0) {
            s = i + 6;
        }
    }

    return s;
}


static void
ngx_http_llmgw_test_openai(void)
{
    ngx_http_llmgw_test_usage_t  azure = { 12, 6, -1, -1, -1, 18 };
    ngx_http_llmgw_test_usage_t  openai = { 1117, 46, 1024, -1, 12, 1163 };
    ngx_http_llmgw_test_usage_t  sse = { 9, 2, 0, -1, 0, 11 };
    ngx_http_llmgw_test_usage_t  compl = { 4, 2, -1, -1, -1, 6 };
    ngx_http_llmgw_test_usage_t  emb = { 8, -1, -1, -1, -1, 8 };
    ngx_http_llmgw_test_usage_t  none = { -1, -1, -1, -1, -1, -1 };
    static char                  no_usage[] =
        "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n"
        "data: [DONE]\n\n";

    ngx_http_llmgw_test_body("Azure chat.completion",
                             NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                             (u_char *) ngx_http_llmgw_test_azure_chat,
                             sizeof(ngx_http_llmgw_test_azure_chat) - 1,
                             &azure);

    ngx_http_llmgw_test_body("OpenAI chat.completion with details",
                             NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                             (u_char *) ngx_http_llmgw_test_openai_chat,
                             sizeof(ngx_http_llmgw_test_openai_chat) - 1,
                             &openai);

    ngx_http_llmgw_test_body("Azure chat stream with include_usage",
                             NGX_HTTP_LLMGW_USAGE_OPENAI_SSE,
                             (u_char *) ngx_http_llmgw_test_azure_sse,
                             sizeof(ngx_http_llmgw_test_azure_sse) - 1,
                             &sse);

    ngx_http_llmgw_test_body("completions stream",
                             NGX_HTTP_LLMGW_USAGE_OPENAI_SSE,
                             (u_char *) ngx_http_llmgw_test_completions_sse,
                             sizeof(ngx_http_llmgw_test_completions_sse) - 1,
                             &compl);

    ngx_http_llmgw_test_body("embeddings", NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                             (u_char *) ngx_http_llmgw_test_embeddings,
                             sizeof(ngx_http_llmgw_test_embeddings) - 1,
                             &emb);

    ngx_http_llmgw_test_body("chat stream without include_usage",
                             NGX_HTTP_LLMGW_USAGE_OPENAI_SSE,
                             (u_char *) no_usage, sizeof(no_usage) - 1,
                             &none);
}


static void
ngx_http_llmgw_test_responses(void)
{
    size_t                       len;
    ngx_http_llmgw_test_usage_t  json = { 328, 52, 0, -1, 0, 380 };
    ngx_http_llmgw_test_usage_t  sse = { 37, 11, 5, -1, 3, 48 };
    ngx_http_llmgw_test_usage_t  none = { -1, -1, -1, -1, -1, -1 };
    static char                  incomplete[] =
        "event: response.incomplete\n"
        "data: {\"type\":\"response.incomplete\",\"response\":{\"usage\":"
        "{\"input_tokens\":3,\"output_tokens\":16,\"total_tokens\":19}}}\n\n";
    static char                  other[] =
        "data: {\"type\":\"response.in_progress\",\"response\":{\"usage\":"
        "{\"input_tokens\":3,\"output_tokens\":16,\"total_tokens\":19}}}\n\n";
    ngx_http_llmgw_test_usage_t  inc = { 3, 16, -1, -1, -1, 19 };

    ngx_http_llmgw_test_body("Responses API response",
                             NGX_HTTP_LLMGW_USAGE_RESPONSES_JSON,
                             (u_char *) ngx_http_llmgw_test_responses_json,
                             sizeof(ngx_http_llmgw_test_responses_json) - 1,
                             &json);

    ngx_http_llmgw_test_body("Responses API stream",
                             NGX_HTTP_LLMGW_USAGE_RESPONSES_SSE,
                             (u_char *) ngx_http_llmgw_test_responses_sse,
                             sizeof(ngx_http_llmgw_test_responses_sse) - 1,
                             &sse);

    ngx_http_llmgw_test_body("Responses API response.incomplete",
                             NGX_HTTP_LLMGW_USAGE_RESPONSES_SSE,
                             (u_char *) incomplete, sizeof(incomplete) - 1,
                             &inc);

    ngx_http_llmgw_test_body("Responses API usage outside a final event",
                             NGX_HTTP_LLMGW_USAGE_RESPONSES_SSE,
                             (u_char *) other, sizeof(other) - 1, &none);

    ngx_http_llmgw_test_refused("Responses API response.failed",
                                NGX_HTTP_LLMGW_USAGE_RESPONSES_SSE,
        "data: {\"type\":\"response.failed\",\"response\":{\"usage\":null}}"
        "\n\n");

    ngx_http_llmgw_test_refused("Responses API error event",
                                NGX_HTTP_LLMGW_USAGE_RESPONSES_SSE,
        "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\","
        "\"message\":\"x\",\"param\":null,\"sequence_number\":1}\n\n");

    /* the completed event is final: what follows it is not looked at */

    len = ngx_sprintf(ngx_http_llmgw_test_buf, "%s%s",
                      ngx_http_llmgw_test_responses_sse, "data: {garbage\n\n")
          - ngx_http_llmgw_test_buf;

    ngx_http_llmgw_test_body("Responses API stream, garbage after completed",
                             NGX_HTTP_LLMGW_USAGE_RESPONSES_SSE,
                             ngx_http_llmgw_test_buf, len, &sse);
}


static void
ngx_http_llmgw_test_bedrock(void)
{
    size_t                       len;
    ngx_http_llmgw_test_usage_t  anthropic = { 21, 6, 100, 7, -1, -1 };
    ngx_http_llmgw_test_usage_t  converse = { 30, 6, 4, 2, -1, 36 };
    ngx_http_llmgw_test_usage_t  metrics = { 26, 16, 10, 3, -1, -1 };
    ngx_http_llmgw_test_usage_t  events = { 25, 15, 10, 3, -1, -1 };
    ngx_http_llmgw_test_usage_t  stream = { 30, 6, 0, 12, -1, 36 };

    ngx_http_llmgw_test_body("Bedrock InvokeModel (Anthropic)",
                             NGX_HTTP_LLMGW_USAGE_ANTHROPIC_JSON,
                             (u_char *) ngx_http_llmgw_test_anthropic_json,
                             sizeof(ngx_http_llmgw_test_anthropic_json) - 1,
                             &anthropic);

    ngx_http_llmgw_test_body("Bedrock Converse",
                             NGX_HTTP_LLMGW_USAGE_CONVERSE_JSON,
                             (u_char *) ngx_http_llmgw_test_converse_json,
                             sizeof(ngx_http_llmgw_test_converse_json) - 1,
                             &converse);

    len = ngx_http_llmgw_test_invoke_stream(ngx_http_llmgw_test_buf, 1, 0);

    ngx_http_llmgw_test_body("InvokeModelWithResponseStream, metrics win",
                             NGX_HTTP_LLMGW_USAGE_ANTHROPIC_EVENTSTREAM,
                             ngx_http_llmgw_test_buf, len, &metrics);

    len = ngx_http_llmgw_test_invoke_stream(ngx_http_llmgw_test_buf, 0, 0);

    ngx_http_llmgw_test_body("InvokeModelWithResponseStream, no metrics",
                             NGX_HTTP_LLMGW_USAGE_ANTHROPIC_EVENTSTREAM,
                             ngx_http_llmgw_test_buf, len, &events);

    len = ngx_http_llmgw_test_converse_stream(ngx_http_llmgw_test_buf, 0);

    ngx_http_llmgw_test_body("ConverseStream metadata",
                             NGX_HTTP_LLMGW_USAGE_CONVERSE_EVENTSTREAM,
                             ngx_http_llmgw_test_buf, len, &stream);

    /* an exception after the metrics changes nothing */

    len = ngx_http_llmgw_test_invoke_stream(ngx_http_llmgw_test_buf, 1, 1);

    ngx_http_llmgw_test_body("InvokeModelWithResponseStream, exception "
                             "after the metrics",
                             NGX_HTTP_LLMGW_USAGE_ANTHROPIC_EVENTSTREAM,
                             ngx_http_llmgw_test_buf, len, &metrics);
}


static void
ngx_http_llmgw_test_gemini(void)
{
    ngx_http_llmgw_test_usage_t  json = { 5, 6, 2, -1, 20, 31 };
    ngx_http_llmgw_test_usage_t  sse = { 5, 3, -1, -1, 4, 12 };
    ngx_http_llmgw_test_usage_t  array = { 5, 2, -1, -1, -1, 7 };

    ngx_http_llmgw_test_body("Gemini generateContent",
                             NGX_HTTP_LLMGW_USAGE_GEMINI_JSON,
                             (u_char *) ngx_http_llmgw_test_gemini_json,
                             sizeof(ngx_http_llmgw_test_gemini_json) - 1,
                             &json);

    ngx_http_llmgw_test_body("Gemini streamGenerateContent alt=sse",
                             NGX_HTTP_LLMGW_USAGE_GEMINI_SSE,
                             (u_char *) ngx_http_llmgw_test_gemini_sse,
                             sizeof(ngx_http_llmgw_test_gemini_sse) - 1,
                             &sse);

    ngx_http_llmgw_test_body("Gemini streamGenerateContent array",
                             NGX_HTTP_LLMGW_USAGE_GEMINI_JSON,
                             (u_char *) ngx_http_llmgw_test_gemini_array,
                             sizeof(ngx_http_llmgw_test_gemini_array) - 1,
                             &array);

    ngx_http_llmgw_test_refused("Gemini error event",
                                NGX_HTTP_LLMGW_USAGE_GEMINI_SSE,
        "data: {\"usageMetadata\":{\"promptTokenCount\":5}}\r\n\r\n"
        "data: {\"error\":{\"code\":500,\"message\":\"llmgw-mock: injected "
        "stream error\",\"status\":\"INTERNAL\"}}\r\n\r\n");
}


static void
ngx_http_llmgw_test_decoys(void)
{
    ngx_http_llmgw_test_usage_t  want = { 3, 4, -1, -1, -1, 7 };
    ngx_http_llmgw_test_usage_t  none = { -1, -1, -1, -1, -1, -1 };
    ngx_http_llmgw_test_usage_t  escaped = { 1, 2, -1, -1, -1, -1 };
    static char                  nested[] =
        "{\"choices\":[{\"message\":{\"content\":\"{\\\"usage\\\":"
        "{\\\"prompt_tokens\\\":999}}\",\"usage\":{\"prompt_tokens\":998},"
        "\"tool_calls\":[{\"function\":{\"arguments\":\"{\\\"usage\\\":1}\"}}"
        "]}}],\"metadata\":{\"usage\":{\"prompt_tokens\":997}},"
        "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,"
        "\"total_tokens\":7,\"extra\":{\"prompt_tokens\":996},"
        "\"prompt_tokens_details\":[{\"cached_tokens\":995}]}}";
    static char                  inner_only[] =
        "{\"data\":[{\"usage\":{\"prompt_tokens\":1}}],"
        "\"x\":{\"usage\":{\"prompt_tokens\":2}}}";
    static char                  unicode_key[] =
        "{\"us\\u0061ge\":{\"prompt_tokens\":1,\"completion\\u005ftokens\":2,"
        "\"total_tokens\\u0000\":9,\"t\\u00f3tal_tokens\":8}}";
    static char                  long_key[] =
        "{\"usage\":{\"prompt_tokens_prompt_tokens_prompt_tokens_prompt\":5,"
        "\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}";

    ngx_http_llmgw_test_body("decoy usage keys nested and in strings",
                             NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                             (u_char *) nested, sizeof(nested) - 1, &want);

    ngx_http_llmgw_test_body("usage only below the root",
                             NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                             (u_char *) inner_only, sizeof(inner_only) - 1,
                             &none);

    ngx_http_llmgw_test_body("escaped keys decoded before matching",
                             NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                             (u_char *) unicode_key, sizeof(unicode_key) - 1,
                             &escaped);

    ngx_http_llmgw_test_body("a key longer than the bound matches nothing",
                             NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                             (u_char *) long_key, sizeof(long_key) - 1,
                             &want);
}


/*
 * 6 MiB of content before the usage, in a JSON body, an SSE data line and
 * an event-stream; fed in 64 KiB pieces, the state stays under its bound.
 */

static void
ngx_http_llmgw_test_huge(void)
{
    u_char                      *body, *p;
    size_t                       len, n;
    ngx_http_llmgw_test_run_t    run;
    ngx_http_llmgw_test_usage_t  want = { 3, 4, -1, -1, -1, 7 };
    ngx_http_llmgw_test_usage_t  gem = { 3, 4, -1, -1, -1, 7 };
    static char                  ngx_http_llmgw_test_huge_head[] =
        "{\"choices\":[{\"message\":{\"content\":\"";
    static char                  ngx_http_llmgw_test_huge_tail[] =
        "\"}}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,"
        "\"total_tokens\":7}}";
    static char                  ngx_http_llmgw_test_huge_sse_head[] =
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"";
    static char                  ngx_http_llmgw_test_huge_sse_tail[] =
        "\"}]}}],\"usageMetadata\":{\"promptTokenCount\":3,"
        "\"candidatesTokenCount\":4,\"totalTokenCount\":7}}\r\n\r\n";

    n = 6 * 1024 * 1024;

    body = ngx_alloc(n + 1024, &ngx_http_llmgw_unit_log);
    if (body == NULL) {
        ngx_http_llmgw_unit_check(0, "huge: out of memory");
        return;
    }

    p = ngx_cpymem(body, ngx_http_llmgw_test_huge_head,
                   sizeof(ngx_http_llmgw_test_huge_head) - 1);
    ngx_memset(p, 'a', n);

    /* escapes scattered through it */

    for (len = 0; len + 10 < n; len += 4093) {
        ngx_memcpy(p + len, "\\\"\\u00e9\\n", 10);
    }

    p += n;
    p = ngx_cpymem(p, ngx_http_llmgw_test_huge_tail,
                   sizeof(ngx_http_llmgw_test_huge_tail) - 1);
    len = p - body;

    ngx_http_llmgw_test_feed(NGX_HTTP_LLMGW_USAGE_OPENAI_JSON, body, len,
                             65536, 0, &run);

    ngx_http_llmgw_unit_check(ngx_http_llmgw_test_expect(&run, &want)
                              && run.size == sizeof(ngx_http_llmgw_usage_t)
                              && run.size <= NGX_HTTP_LLMGW_USAGE_LIMIT,
                              "huge JSON body: usage read, state %zu bytes "
                              "(bound %d)", run.size,
                              NGX_HTTP_LLMGW_USAGE_LIMIT);

    /* the same as one SSE data line of 6 MiB, in Gemini's shape */

    p = ngx_cpymem(body, ngx_http_llmgw_test_huge_sse_head,
                   sizeof(ngx_http_llmgw_test_huge_sse_head) - 1);
    ngx_memset(p, 'b', n);
    p += n;
    p = ngx_cpymem(p, ngx_http_llmgw_test_huge_sse_tail,
                   sizeof(ngx_http_llmgw_test_huge_sse_tail) - 1);
    len = p - body;

    ngx_http_llmgw_test_feed(NGX_HTTP_LLMGW_USAGE_GEMINI_SSE, body, len,
                             NGX_HTTP_LLMGW_TEST_WHOLE, 0, &run);

    ngx_http_llmgw_unit_check(ngx_http_llmgw_test_expect(&run, &gem)
                              && run.size == sizeof(ngx_http_llmgw_usage_t),
                              "huge SSE data line: usage read, state %zu "
                              "bytes", run.size);

    ngx_free(body);

    ngx_http_llmgw_unit_check(sizeof(ngx_http_llmgw_usage_t)
                              <= NGX_HTTP_LLMGW_USAGE_MIN_LIMIT / 2,
                              "the structure is %zu bytes",
                              sizeof(ngx_http_llmgw_usage_t));
}


static void
ngx_http_llmgw_test_values(void)
{
    ngx_http_llmgw_test_run_t    run;
    ngx_http_llmgw_test_usage_t  max = { 9007199254740992LL, 0, -1, -1, -1,
                                         -1 };
    ngx_http_llmgw_test_usage_t  nulls = { -1, 5, -1, -1, -1, -1 };
    static char                  at_max[] =
        "{\"usage\":{\"prompt_tokens\":9007199254740992,"
        "\"completion_tokens\":0}}";
    static char                  with_nulls[] =
        "{\"usage\":{\"prompt_tokens\":null,\"completion_tokens\":5,"
        "\"prompt_tokens_details\":null}}";
    static char                  other_numbers[] =
        "{\"x\":[-0,-1.5e-7,0.0,1E+400,123456789012345678901234567890],"
        "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}";
    ngx_http_llmgw_test_usage_t  others = { 1, 2, -1, -1, -1, -1 };
    static char                  large[] =
        "{\"usage\":{\"x\":99999999999999999999999}}";

    ngx_http_llmgw_test_body("a count of 2^53",
                             NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                             (u_char *) at_max, sizeof(at_max) - 1, &max);

    ngx_http_llmgw_test_body("null counts are not reported",
                             NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                             (u_char *) with_nulls, sizeof(with_nulls) - 1,
                             &nulls);

    ngx_http_llmgw_test_body("any JSON number outside the usage",
                             NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                             (u_char *) other_numbers,
                             sizeof(other_numbers) - 1, &others);

    ngx_http_llmgw_test_refused("2^53 + 1", NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
        "{\"usage\":{\"prompt_tokens\":9007199254740993}}");
    ngx_http_llmgw_test_refused("2^64", NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
        "{\"usage\":{\"prompt_tokens\":18446744073709551616}}");
    ngx_http_llmgw_test_refused("a negative count",
                                NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
        "{\"usage\":{\"prompt_tokens\":-1}}");
    ngx_http_llmgw_test_refused("-0", NGX_HTTP_LLMGW_USAGE_GEMINI_JSON,
        "{\"usageMetadata\":{\"promptTokenCount\":-0}}");
    ngx_http_llmgw_test_refused("12.0", NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
        "{\"usage\":{\"prompt_tokens\":12.0}}");
    ngx_http_llmgw_test_refused("1e2", NGX_HTTP_LLMGW_USAGE_CONVERSE_JSON,
        "{\"usage\":{\"inputTokens\":1e2}}");
    ngx_http_llmgw_test_refused("0.5", NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
        "{\"usage\":{\"prompt_tokens\":0.5}}");
    ngx_http_llmgw_test_refused("a string count",
                                NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
        "{\"usage\":{\"prompt_tokens\":\"12\"}}");
    ngx_http_llmgw_test_refused("a boolean count",
                                NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
        "{\"usage\":{\"prompt_tokens\":true}}");
    ngx_http_llmgw_test_refused("an object count",
                                NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
        "{\"usage\":{\"prompt_tokens\":{}}}");
    ngx_http_llmgw_test_refused("a leading zero",
                                NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
        "{\"usage\":{\"prompt_tokens\":012}}");
    ngx_http_llmgw_test_refused("a duplicate count",
                                NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
        "{\"usage\":{\"prompt_tokens\":5,\"prompt_tokens\":7}}");
    ngx_http_llmgw_test_refused("a duplicate count in a second usage object",
                                NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
        "{\"usage\":{\"prompt_tokens\":5},\"usage\":{\"prompt_tokens\":7}}");
    ngx_http_llmgw_test_refused("a duplicate count in one SSE event",
                                NGX_HTTP_LLMGW_USAGE_OPENAI_SSE,
        "data: {\"usage\":{\"total_tokens\":5,\"total_tokens\":5}}\n\n"
        "data: [DONE]\n\n");

    /* a count too large for int64 in a value that is not a count is fine */

    ngx_http_llmgw_test_feed(NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                             (u_char *) large, sizeof(large) - 1,
                             NGX_HTTP_LLMGW_TEST_WHOLE, 0, &run);

    ngx_http_llmgw_unit_check(run.rc == NGX_OK
                              && !run.result.input_tokens.present,
                              "a large number outside the counts");
}


static void
ngx_http_llmgw_test_malformed(void)
{
    u_char                      *p;
    size_t                       len;
    ngx_uint_t                   i;
    ngx_http_llmgw_test_run_t    run;
    ngx_http_llmgw_test_usage_t  deep = { 1, -1, -1, -1, -1, -1 };

    static char  *json[] = {
        "",
        "   ",
        "{",
        "{\"usage\":{\"prompt_tokens\":3}",
        "{\"usage\":{\"prompt_tokens\":3}}}",
        "{\"usage\":{\"prompt_tokens\":3}} x",
        "{\"usage\":{\"prompt_tokens\":3},}",
        "{\"usage\":{\"prompt_tokens\" 3}}",
        "{\"usage\":{\"prompt_tokens\":3]}",
        "{\"usage\":[\"prompt_tokens\",3}}",
        "{\"a\":tru,\"usage\":{\"prompt_tokens\":3}}",
        "{\"a\":nul}",
        "{\"a\":\"\\x\",\"usage\":{\"prompt_tokens\":3}}",
        "{\"a\":\"\\u12g4\"}",
        "{\"a\":\"line\nbreak\",\"usage\":{\"prompt_tokens\":3}}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":1e}",
        "{\"a\":-}",
        "{\"a\":+1}",
        "{\"a\":.5}",
        "{'usage':{}}",
        "{\"usage\":{\"prompt_tokens\":3}}{\"usage\":{}}",
        "[1,2,]",
        "{\"a\":1,,\"b\":2}",
        "{\"a\"}",
        NULL
    };

    for (i = 0; json[i] != NULL; i++) {
        ngx_http_llmgw_test_refused(json[i], NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                                    json[i]);
    }

    /* 32 levels deep is accepted, 33 refused */

    p = ngx_cpymem(ngx_http_llmgw_test_buf, "{\"usage\":{\"prompt_tokens\":1},"
                   "\"x\":", 33);

    for (i = 0; i < 31; i++) {
        *p++ = '[';
    }

    for (i = 0; i < 31; i++) {
        *p++ = ']';
    }

    *p++ = '}';
    len = p - ngx_http_llmgw_test_buf;

    ngx_http_llmgw_test_body("32 levels deep", NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                             ngx_http_llmgw_test_buf, len, &deep);

    p = ngx_cpymem(ngx_http_llmgw_test_buf, "{\"x\":", 5);

    for (i = 0; i < 32; i++) {
        *p++ = '[';
    }

    for (i = 0; i < 32; i++) {
        *p++ = ']';
    }

    *p++ = '}';
    *p = '\0';

    ngx_http_llmgw_test_refused("33 levels deep",
                                NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                                (char *) ngx_http_llmgw_test_buf);

    /* a body cut anywhere is refused, never half-read */

    len = sizeof(ngx_http_llmgw_test_openai_chat) - 2;

    for (i = 0; i < len; i++) {
        ngx_http_llmgw_test_feed(NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
                                 (u_char *) ngx_http_llmgw_test_openai_chat,
                                 i, NGX_HTTP_LLMGW_TEST_WHOLE, 0, &run);

        if (run.rc != NGX_ERROR || run.result.input_tokens.present) {
            break;
        }
    }

    ngx_http_llmgw_unit_check(i == len, "a JSON body cut at each of %zu "
                              "positions is refused", len);
}


static void
ngx_http_llmgw_test_sse(void)
{
    size_t                       len, cut, s, e;
    ngx_uint_t                   bad;
    ngx_http_llmgw_test_run_t    run;
    ngx_http_llmgw_test_usage_t  want = { 9, 2, -1, -1, -1, 11 };
    ngx_http_llmgw_test_usage_t  gem = { 5, 2, -1, -1, -1, 7 };
    static char                  lines[] =
        ": keep-alive comment\r\n"
        "id: 1\r"
        "event: message\r"
        "retry: 1000\n"
        "data\n"
        "data:{\"usage\":\n"
        "data:   {\"prompt_tokens\":9,\n"
        "data: \"completion_tokens\":2,\"total_tokens\":11}}\r\n"
        "\r\n"
        "data: [DONE]\r\n\r\n"
        "data: {\"usage\":{\"prompt_tokens\":1000}}\n\n";
    static char                  no_blank[] =
        "data: {\"usageMetadata\":{\"promptTokenCount\":5,"
        "\"candidatesTokenCount\":2,\"totalTokenCount\":7}}";
    static char                  done_like[] =
        "data: [DONE\n\n";

    ngx_http_llmgw_test_body("SSE comments, fields, CR, LF, CRLF, joined "
                             "data lines", NGX_HTTP_LLMGW_USAGE_OPENAI_SSE,
                             (u_char *) lines, sizeof(lines) - 1, &want);

    ngx_http_llmgw_test_body("SSE last event without a blank line",
                             NGX_HTTP_LLMGW_USAGE_GEMINI_SSE,
                             (u_char *) no_blank, sizeof(no_blank) - 1, &gem);

    ngx_http_llmgw_test_refused("SSE \"[DONE\" is not JSON",
                                NGX_HTTP_LLMGW_USAGE_OPENAI_SSE, done_like);

    ngx_http_llmgw_test_refused("SSE event data not JSON",
                                NGX_HTTP_LLMGW_USAGE_OPENAI_SSE,
                                "data: hello\n\n");

    ngx_http_llmgw_test_refused("SSE two documents in one event",
                                NGX_HTTP_LLMGW_USAGE_OPENAI_SSE,
                                "data: {}\ndata: {}\n\n");

    ngx_http_llmgw_test_refused("OpenAI error chunk",
                                NGX_HTTP_LLMGW_USAGE_OPENAI_SSE,
        "data: {\"error\":{\"message\":\"llmgw-mock: injected stream error\","
        "\"type\":\"server_error\",\"param\":null,\"code\":"
        "\"mock_stream_error\"}}\n\n");

    /* cut inside an event: refused unless the usage was final before */

    len = sizeof(ngx_http_llmgw_test_gemini_sse) - 1;
    bad = 0;

    for (cut = 1; cut < len; cut++) {
        ngx_http_llmgw_test_feed(NGX_HTTP_LLMGW_USAGE_GEMINI_SSE,
                                 (u_char *) ngx_http_llmgw_test_gemini_sse,
                                 cut, NGX_HTTP_LLMGW_TEST_WHOLE, 0, &run);

        /* refused when cut inside an event's JSON, from its '{' on */

        s = ngx_http_llmgw_test_last_data(ngx_http_llmgw_test_gemini_sse,
                                          cut);
        e = s + strcspn(ngx_http_llmgw_test_gemini_sse + s, "\r");

        if (s != 0 && cut > s && cut < e) {
            bad += (run.rc != NGX_ERROR || run.result.input_tokens.present);

        } else {
            bad += (run.rc != NGX_OK);
        }
    }

    ngx_http_llmgw_unit_check(bad == 0, "a Gemini stream cut at each of %zu "
                              "positions", len - 1);
}


static void
ngx_http_llmgw_test_eventstream(void)
{
    u_char                        *p;
    size_t                         len;
    ngx_uint_t                     i;
    ngx_http_llmgw_test_run_t      run;
    ngx_http_llmgw_usage_result_t  none;
    static char                    not_json[] = "{\"bytes\":\"eyJ9\"}";
    static char                    bad64[] = "{\"bytes\":\"e!J9\"}";
    static char                    big[] = "{\"p\":\"";

    ngx_memzero(&none, sizeof(ngx_http_llmgw_usage_result_t));

    /* an exception before the usage is complete: missing */

    len = ngx_http_llmgw_test_invoke_stream(ngx_http_llmgw_test_buf, 1, 2);

    ngx_http_llmgw_test_feed(NGX_HTTP_LLMGW_USAGE_ANTHROPIC_EVENTSTREAM,
                             ngx_http_llmgw_test_buf, len,
                             NGX_HTTP_LLMGW_TEST_BYTES, 0, &run);

    ngx_http_llmgw_unit_check(run.rc == NGX_ERROR
                              && ngx_memcmp(&run.result, &none,
                                            sizeof(none)) == 0,
                              "InvokeModelWithResponseStream exception "
                              "mid-stream: usage missing");

    len = ngx_http_llmgw_test_converse_stream(ngx_http_llmgw_test_buf, 1);

    ngx_http_llmgw_test_feed(NGX_HTTP_LLMGW_USAGE_CONVERSE_EVENTSTREAM,
                             ngx_http_llmgw_test_buf, len,
                             NGX_HTTP_LLMGW_TEST_WHOLE, 0, &run);

    ngx_http_llmgw_unit_check(run.rc == NGX_ERROR
                              && ngx_memcmp(&run.result, &none,
                                            sizeof(none)) == 0,
                              "ConverseStream exception before metadata: "
                              "usage missing");

    /* truncated inside a message */

    len = ngx_http_llmgw_test_converse_stream(ngx_http_llmgw_test_buf, 0);

    ngx_http_llmgw_test_feed(NGX_HTTP_LLMGW_USAGE_CONVERSE_EVENTSTREAM,
                             ngx_http_llmgw_test_buf, len - 5,
                             NGX_HTTP_LLMGW_TEST_WHOLE, 0, &run);

    ngx_http_llmgw_unit_check(run.rc == NGX_ERROR
                              && !run.result.input_tokens.present,
                              "ConverseStream cut short: usage missing (%s)",
                              run.err ? run.err : "no error");

    /* "bytes" that is not base64 of JSON */

    p = ngx_http_llmgw_unit_es_message(ngx_http_llmgw_test_buf, "event",
                                       "chunk", (u_char *) not_json,
                                       sizeof(not_json) - 1);

    ngx_http_llmgw_test_feed(NGX_HTTP_LLMGW_USAGE_ANTHROPIC_EVENTSTREAM,
                             ngx_http_llmgw_test_buf,
                             p - ngx_http_llmgw_test_buf,
                             NGX_HTTP_LLMGW_TEST_WHOLE, 0, &run);

    ngx_http_llmgw_unit_check(run.rc == NGX_ERROR,
                              "chunk bytes not JSON refused (%s)",
                              run.err ? run.err : "no error");

    p = ngx_http_llmgw_unit_es_message(ngx_http_llmgw_test_buf, "event",
                                       "chunk", (u_char *) bad64,
                                       sizeof(bad64) - 1);

    ngx_http_llmgw_test_feed(NGX_HTTP_LLMGW_USAGE_ANTHROPIC_EVENTSTREAM,
                             ngx_http_llmgw_test_buf,
                             p - ngx_http_llmgw_test_buf,
                             NGX_HTTP_LLMGW_TEST_WHOLE, 0, &run);

    ngx_http_llmgw_unit_check(run.rc == NGX_ERROR,
                              "chunk bytes not base64 refused (%s)",
                              run.err ? run.err : "no error");

    /*
     * Messages of growing size fed byte by byte (each one gathered): the
     * state's peak stays under the bound until a message is over its share,
     * which is refused.
     */

    for (i = 1024; i < 12000; i += 1500) {
        p = ngx_cpymem(ngx_http_llmgw_test_buf + 16384, big, sizeof(big) - 1);
        ngx_memset(p, 'x', i);
        p = ngx_cpymem(p + i, "\"}", 2);

        len = ngx_http_llmgw_unit_es_message(ngx_http_llmgw_test_buf,
                                             "event", "contentBlockDelta",
                                             ngx_http_llmgw_test_buf + 16384,
                                             p - ngx_http_llmgw_test_buf
                                             - 16384)
                                             - ngx_http_llmgw_test_buf;

        ngx_http_llmgw_test_feed(NGX_HTTP_LLMGW_USAGE_CONVERSE_EVENTSTREAM,
                                 ngx_http_llmgw_test_buf, len, 100, 0, &run);

        ngx_http_llmgw_unit_check(run.peak <= run.limit
                                  && run.size <= run.limit
                                  && (run.rc == NGX_OK)
                                     == (len <= run.max_message),
                                  "a message of %zu bytes: %s, peak %zu, "
                                  "bound %zu", len,
                                  run.rc == NGX_OK ? "taken" : "refused",
                                  run.peak, run.limit);
    }
}


static void
ngx_http_llmgw_test_parse_count(void)
{
    int64_t      v;
    ngx_uint_t   i;
    static char *good[] = { "0", "7", "1234", "9007199254740992", NULL };
    static char *bad[] = { "", "-1", "+1", " 1", "1 ", "01", "1.0", "1e3",
                           "9007199254740993", "99999999999999999999",
                           "0x10", NULL };

    for (i = 0; good[i] != NULL; i++) {
        v = -1;

        ngx_http_llmgw_unit_check(
            ngx_http_llmgw_usage_parse_count((u_char *) good[i],
                                             ngx_strlen(good[i]), &v)
            == NGX_OK
            && v == strtoll(good[i], NULL, 10),
            "header count \"%s\" taken", good[i]);
    }

    for (i = 0; bad[i] != NULL; i++) {
        ngx_http_llmgw_unit_check(
            ngx_http_llmgw_usage_parse_count((u_char *) bad[i],
                                             ngx_strlen(bad[i]), &v)
            == NGX_ERROR,
            "header count \"%s\" refused", bad[i]);
    }
}


int
main(void)
{
    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 1;
    }

    ngx_http_llmgw_test_openai();
    ngx_http_llmgw_test_responses();
    ngx_http_llmgw_test_bedrock();
    ngx_http_llmgw_test_gemini();
    ngx_http_llmgw_test_decoys();
    ngx_http_llmgw_test_huge();
    ngx_http_llmgw_test_values();
    ngx_http_llmgw_test_malformed();
    ngx_http_llmgw_test_sse();
    ngx_http_llmgw_test_eventstream();
    ngx_http_llmgw_test_parse_count();

    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
