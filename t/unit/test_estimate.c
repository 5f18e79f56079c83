/* llmgw-unit-srcs: src/ngx_http_llmgw_estimate.c */
/* llmgw-unit-libs: -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * A budget's estimate: the maximum output tokens each API's body names
 * (and which one wins when several are given), what is not a maximum
 * (a float, a negative number, a string, a member at the wrong depth,
 * not JSON, too large), the cap, and the prompt's bytes / 4.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_estimate.h"


typedef struct {
    const char                *body;
    ngx_int_t                  rc;
    int64_t                    max;
    const char                *what;
} ngx_http_llmgw_test_max_t;


static void ngx_http_llmgw_test_max(void);
static void ngx_http_llmgw_test_large(void);
static void ngx_http_llmgw_test_prompt(void);


static ngx_http_llmgw_test_max_t  ngx_http_llmgw_test_maxes[] = {

    { "{\"max_tokens\":64,\"messages\":[]}", NGX_OK, 64,
      "max_tokens (OpenAI, Bedrock's Anthropic body)" },
    { "{\"max_completion_tokens\":10,\"max_tokens\":64}", NGX_OK, 10,
      "max_completion_tokens first (what newer OpenAI models read)" },
    { "{\"max_output_tokens\":300,\"input\":\"x\"}", NGX_OK, 300,
      "max_output_tokens (responses)" },
    { "{\"generationConfig\":{\"maxOutputTokens\":30},\"contents\":[]}",
      NGX_OK, 30, "Gemini's generationConfig.maxOutputTokens" },
    { "{\"generation_config\":{\"max_output_tokens\":31}}", NGX_OK, 31,
      "Gemini's snake_case form" },
    { "{\"inferenceConfig\":{\"maxTokens\":40}}", NGX_OK, 40,
      "Bedrock Converse's inferenceConfig.maxTokens" },
    { "{\"textGenerationConfig\":{\"maxTokenCount\":50}}", NGX_OK, 50,
      "Bedrock Titan's textGenerationConfig.maxTokenCount" },
    { "{\"max_tokens\":0}", NGX_OK, 0, "0 is a maximum" },
    { "{\"max_tokens\":1e3}", NGX_DECLINED, 0, "a real is not" },
    { "{\"max_tokens\":10.0}", NGX_DECLINED, 0, "10.0 is not" },
    { "{\"max_tokens\":-1}", NGX_DECLINED, 0, "a negative number is not" },
    { "{\"max_tokens\":\"64\"}", NGX_DECLINED, 0, "a string is not" },
    { "{\"max_tokens\":null,\"max_output_tokens\":7}", NGX_OK, 7,
      "a null is passed over for the next" },
    { "{\"maxOutputTokens\":30}", NGX_DECLINED, 0,
      "Gemini's member at the top level is not" },
    { "{\"generationConfig\":{\"max_tokens\":30}}", NGX_DECLINED, 0,
      "max_tokens inside an object is not" },
    { "{\"generationConfig\":[{\"maxOutputTokens\":30}]}", NGX_DECLINED, 0,
      "generationConfig not an object" },
    { "{\"max_tokens\":99999999999}", NGX_OK, NGX_HTTP_LLMGW_ESTIMATE_MAX,
      "a huge maximum is capped" },
    { "[{\"max_tokens\":5}]", NGX_DECLINED, 0, "an array body" },
    { "{\"max_tokens\":5", NGX_DECLINED, 0, "broken JSON" },
    { "{\"max_tokens\":5,\"max_tokens\":6}", NGX_DECLINED, 0,
      "a member twice (read differently by different parsers)" },
    { "", NGX_DECLINED, 0, "an empty body" },
    { "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
      NGX_DECLINED, 0, "no maximum" },
    { NULL, 0, 0, NULL }
};


static void
ngx_http_llmgw_test_max(void)
{
    int64_t                     max;
    ngx_int_t                   rc;
    ngx_http_llmgw_test_max_t  *t;

    for (t = ngx_http_llmgw_test_maxes; t->body; t++) {
        max = -5;

        rc = ngx_http_llmgw_estimate_max_output((u_char *) t->body,
                                                ngx_strlen(t->body), &max);

        NGX_HTTP_LLMGW_CHECK(rc == t->rc && (rc != NGX_OK || max == t->max),
                             t->what);
    }
}


/* a body over the bound is not parsed, whatever it says */

static void
ngx_http_llmgw_test_large(void)
{
    u_char     *p;
    size_t      len;
    int64_t     max;
    ngx_int_t   rc;

    len = NGX_HTTP_LLMGW_ESTIMATE_BODY_MAX + 1;

    p = malloc(len);
    if (p == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "malloc");
        return;
    }

    ngx_memset(p, ' ', len);
    ngx_memcpy(p, "{\"max_tokens\":5}", sizeof("{\"max_tokens\":5}") - 1);

    rc = ngx_http_llmgw_estimate_max_output(p, len, &max);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_DECLINED,
                         "a body over 1 MiB is not parsed");

    rc = ngx_http_llmgw_estimate_max_output(p, len - 1, &max);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && max == 5,
                         "one of exactly 1 MiB is");

    free(p);
}


static void
ngx_http_llmgw_test_prompt(void)
{
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_estimate_prompt(0) == 0,
                         "no body: no prompt tokens");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_estimate_prompt(1) == 1,
                         "1 byte: 1 token");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_estimate_prompt(4) == 1,
                         "4 bytes: 1 token");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_estimate_prompt(5) == 2,
                         "5 bytes: 2 tokens, rounded up");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_estimate_prompt(-1) == 0,
                         "a negative length: none");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_estimate_prompt(10485760) == 2621440,
                         "10 MiB (a body in a file): 2621440");
}


int
main(void)
{
    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 1;
    }

    ngx_http_llmgw_test_max();
    ngx_http_llmgw_test_large();
    ngx_http_llmgw_test_prompt();

    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
