/* llmgw-unit-srcs: src/ngx_http_llmgw_price.c */
/* llmgw-unit-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * Prices and costs: decimal prices read into micro-units, currency codes,
 * the model lookup (exact name, longest prefix), and costs computed by
 * hand for each provider's way of counting cache reads and reasoning,
 * the rounding rule (sum first, half up once) and the int64_t bounds.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_price.h"


static ngx_int_t ngx_http_llmgw_test_decimal(const char *s, int64_t *m);
static void ngx_http_llmgw_test_decimals(void);
static void ngx_http_llmgw_test_currencies(void);
static void ngx_http_llmgw_test_find(void);
static void ngx_http_llmgw_test_usage(ngx_http_llmgw_usage_result_t *u,
    int64_t input, int64_t output, int64_t cache_read, int64_t cache_write,
    int64_t reasoning);
static ngx_int_t ngx_http_llmgw_test_cost(ngx_http_llmgw_price_t *price,
    const char *provider, ngx_http_llmgw_usage_result_t *u, int64_t *m);
static void ngx_http_llmgw_test_costs(void);
static void ngx_http_llmgw_test_rounding(void);
static void ngx_http_llmgw_test_bounds(void);


typedef struct {
    const char                *text;
    ngx_int_t                  rc;
    int64_t                    micros;
} ngx_http_llmgw_test_decimal_t;


static ngx_http_llmgw_test_decimal_t  ngx_http_llmgw_test_decimal_cases[] = {
    { "3", NGX_OK, 3000000 },
    { "0.075", NGX_OK, 75000 },
    { "15.000000", NGX_OK, 15000000 },
    { "3.75", NGX_OK, 3750000 },
    { "0.000001", NGX_OK, 1 },
    { "0", NGX_OK, 0 },
    { "1000000", NGX_OK, 1000000000000LL },
    { "1000000.000001", NGX_ERROR, 0 },
    { "1000001", NGX_ERROR, 0 },
    { "99999999999999999999999", NGX_ERROR, 0 },
    { "0.0000001", NGX_ERROR, 0 },
    { "", NGX_ERROR, 0 },
    { ".5", NGX_ERROR, 0 },
    { "3.", NGX_ERROR, 0 },
    { "-1", NGX_ERROR, 0 },
    { "+1", NGX_ERROR, 0 },
    { "1e3", NGX_ERROR, 0 },
    { "3.7.5", NGX_ERROR, 0 },
    { "3 ", NGX_ERROR, 0 },
    { NULL, 0, 0 }
};


static ngx_int_t
ngx_http_llmgw_test_decimal(const char *s, int64_t *m)
{
    return ngx_http_llmgw_price_decimal((u_char *) s, ngx_strlen(s), m);
}


static void
ngx_http_llmgw_test_decimals(void)
{
    int64_t                         m;
    ngx_int_t                       rc;
    ngx_http_llmgw_test_decimal_t  *t;

    for (t = ngx_http_llmgw_test_decimal_cases; t->text != NULL; t++) {
        m = -7;
        rc = ngx_http_llmgw_test_decimal(t->text, &m);

        ngx_http_llmgw_unit_check(rc == t->rc
                                  && (rc != NGX_OK || m == t->micros),
                                  "price \"%s\": rc %d, %lld micros",
                                  t->text, (int) rc, (long long) m);
    }
}


static void
ngx_http_llmgw_test_currencies(void)
{
    ngx_str_t  s;

    ngx_str_set(&s, "USD");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_price_currency(&s) == NGX_OK,
                         "USD is a currency");
    ngx_str_set(&s, "JPY");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_price_currency(&s) == NGX_OK,
                         "JPY is a currency");
    ngx_str_set(&s, "usd");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_price_currency(&s) == NGX_ERROR,
                         "lowercase refused");
    ngx_str_set(&s, "US");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_price_currency(&s) == NGX_ERROR,
                         "two letters refused");
    ngx_str_set(&s, "EURO");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_price_currency(&s) == NGX_ERROR,
                         "four letters refused");
    ngx_str_set(&s, "U$D");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_price_currency(&s) == NGX_ERROR,
                         "a sign refused");
}


static void
ngx_http_llmgw_test_find(void)
{
    ngx_str_t                m;
    ngx_http_llmgw_price_t   prices[6], *p;

    ngx_memzero(prices, sizeof(prices));

    ngx_str_set(&prices[0].model, "gpt-4o");
    ngx_str_set(&prices[1].model, "gpt-4o");
    prices[1].prefix = 1;
    ngx_str_set(&prices[2].model, "gpt-4");
    prices[2].prefix = 1;
    ngx_str_set(&prices[3].model, "anthropic.claude-3-5-sonnet");
    prices[3].prefix = 1;
    ngx_str_set(&prices[4].model, "us.anthropic.");
    prices[4].prefix = 1;
    ngx_str_set(&prices[5].model, "");
    prices[5].prefix = 1;

    ngx_str_set(&m, "gpt-4o");
    p = ngx_http_llmgw_price_find(prices, 6, &m);
    NGX_HTTP_LLMGW_CHECK(p == &prices[0],
                         "an exact name wins over a prefix as long");

    ngx_str_set(&m, "gpt-4o-mini");
    p = ngx_http_llmgw_price_find(prices, 6, &m);
    NGX_HTTP_LLMGW_CHECK(p == &prices[1], "the longest prefix wins");

    ngx_str_set(&m, "gpt-4-turbo");
    p = ngx_http_llmgw_price_find(prices, 6, &m);
    NGX_HTTP_LLMGW_CHECK(p == &prices[2], "a shorter prefix when it alone "
                         "matches");

    ngx_str_set(&m, "us.anthropic.claude-3-5-sonnet-20240620-v1:0");
    p = ngx_http_llmgw_price_find(prices, 6, &m);
    NGX_HTTP_LLMGW_CHECK(p == &prices[4], "a Bedrock inference profile id "
                         "by its own prefix");

    ngx_str_set(&m, "anthropic.claude-3-5-sonnet-20240620-v1:0");
    p = ngx_http_llmgw_price_find(prices, 6, &m);
    NGX_HTTP_LLMGW_CHECK(p == &prices[3], "a Bedrock model id");

    ngx_str_set(&m, "gemini-2.0-flash");
    p = ngx_http_llmgw_price_find(prices, 6, &m);
    NGX_HTTP_LLMGW_CHECK(p == &prices[5], "\"*\" matches any other model");

    p = ngx_http_llmgw_price_find(prices, 5, &m);
    NGX_HTTP_LLMGW_CHECK(p == NULL, "no price without a match");

    ngx_str_set(&m, "gpt-");
    p = ngx_http_llmgw_price_find(prices, 5, &m);
    NGX_HTTP_LLMGW_CHECK(p == NULL, "a model shorter than every prefix");
}


static void
ngx_http_llmgw_test_usage(ngx_http_llmgw_usage_result_t *u, int64_t input,
    int64_t output, int64_t cache_read, int64_t cache_write,
    int64_t reasoning)
{
    ngx_memzero(u, sizeof(ngx_http_llmgw_usage_result_t));

    /* -1: not reported */

    u->input_tokens.present = (input >= 0);
    u->input_tokens.value = input;
    u->output_tokens.present = (output >= 0);
    u->output_tokens.value = output;
    u->cache_read_input_tokens.present = (cache_read >= 0);
    u->cache_read_input_tokens.value = cache_read;
    u->cache_creation_input_tokens.present = (cache_write >= 0);
    u->cache_creation_input_tokens.value = cache_write;
    u->reasoning_output_tokens.present = (reasoning >= 0);
    u->reasoning_output_tokens.value = reasoning;
}


static ngx_int_t
ngx_http_llmgw_test_cost(ngx_http_llmgw_price_t *price, const char *provider,
    ngx_http_llmgw_usage_result_t *u, int64_t *m)
{
    ngx_str_t  pv;

    pv.data = (u_char *) provider;
    pv.len = ngx_strlen(provider);

    *m = -7;

    return ngx_http_llmgw_price_cost(price, ngx_http_llmgw_price_flags(&pv),
                                     u, m);
}


static void
ngx_http_llmgw_test_costs(void)
{
    int64_t                        m;
    ngx_int_t                      rc;
    ngx_http_llmgw_price_t         claude, gpt, gemini, plain;
    ngx_http_llmgw_usage_result_t  u;

    /* 3 / 15 / 0.30 / 3.75 per million */

    ngx_memzero(&claude, sizeof(claude));
    claude.input = 3000000;
    claude.output = 15000000;
    claude.cache_read = 300000;
    claude.cache_write = 3750000;

    /*
     * Bedrock: input 1000 (the cache not in it), 2000 read, 100 written,
     * output 500: 1000 x 3 + 2000 x 0.3 + 100 x 3.75 + 500 x 15
     * = 3000 + 600 + 375 + 7500 = 11475 micros
     */

    ngx_http_llmgw_test_usage(&u, 1000, 500, 2000, 100, -1);
    rc = ngx_http_llmgw_test_cost(&claude, "bedrock", &u, &m);
    ngx_http_llmgw_unit_check(rc == NGX_OK && m == 11475,
                              "bedrock: cache read and write apart from "
                              "input: %lld", (long long) m);

    /* 2.50 / 10 / 1.25 per million */

    ngx_memzero(&gpt, sizeof(gpt));
    gpt.input = 2500000;
    gpt.output = 10000000;
    gpt.cache_read = 1250000;
    gpt.cache_write = NGX_HTTP_LLMGW_PRICE_UNSET;

    /*
     * Azure OpenAI: prompt 1000 of which 400 cached, completion 200 of
     * which 50 reasoning: 600 x 2.5 + 400 x 1.25 + 200 x 10
     * = 1500 + 500 + 2000 = 4000
     */

    ngx_http_llmgw_test_usage(&u, 1000, 200, 400, -1, 50);
    rc = ngx_http_llmgw_test_cost(&gpt, "azure_openai", &u, &m);
    ngx_http_llmgw_unit_check(rc == NGX_OK && m == 4000,
                              "azure_openai: cached tokens taken out of "
                              "input, reasoning in output: %lld",
                              (long long) m);

    /* more cached than prompt: no more read than input, 100 x 1.25 */

    ngx_http_llmgw_test_usage(&u, 100, 0, 150, -1, -1);
    rc = ngx_http_llmgw_test_cost(&gpt, "azure_openai", &u, &m);
    ngx_http_llmgw_unit_check(rc == NGX_OK && m == 125,
                              "azure_openai: cache read bounded by input: "
                              "%lld", (long long) m);

    /* embeddings: no completion tokens, 1000 x 2.5 */

    ngx_http_llmgw_test_usage(&u, 1000, -1, -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&gpt, "azure_openai", &u, &m);
    ngx_http_llmgw_unit_check(rc == NGX_OK && m == 2500,
                              "no output count: output 0: %lld",
                              (long long) m);

    /* 0.10 / 0.40 / 0.025 per million */

    ngx_memzero(&gemini, sizeof(gemini));
    gemini.input = 100000;
    gemini.output = 400000;
    gemini.cache_read = 25000;
    gemini.cache_write = NGX_HTTP_LLMGW_PRICE_UNSET;

    /*
     * Gemini: prompt 1000 of which 200 cached, candidates 300, thoughts
     * 100 apart: 800 x 0.1 + 200 x 0.025 + (300 + 100) x 0.4
     * = 80 + 5 + 160 = 245
     */

    ngx_http_llmgw_test_usage(&u, 1000, 300, 200, -1, 100);
    rc = ngx_http_llmgw_test_cost(&gemini, "gemini", &u, &m);
    ngx_http_llmgw_unit_check(rc == NGX_OK && m == 245,
                              "gemini: cached in prompt, thoughts billed as "
                              "output: %lld", (long long) m);

    /* no cache prices: cache reads and writes at the input price */

    ngx_memzero(&plain, sizeof(plain));
    plain.input = 3000000;
    plain.output = 15000000;
    plain.cache_read = NGX_HTTP_LLMGW_PRICE_UNSET;
    plain.cache_write = NGX_HTTP_LLMGW_PRICE_UNSET;

    ngx_http_llmgw_test_usage(&u, 100, 0, 100, 100, -1);
    rc = ngx_http_llmgw_test_cost(&plain, "bedrock", &u, &m);
    ngx_http_llmgw_unit_check(rc == NGX_OK && m == 900,
                              "unset cache prices are the input price: "
                              "%lld", (long long) m);

    /* an unknown provider counts as Bedrock does: disjoint counts */

    ngx_http_llmgw_test_usage(&u, 1000, 500, 2000, 100, 7);
    rc = ngx_http_llmgw_test_cost(&claude, "other", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && m == 11475,
                         "another provider: counts taken as disjoint");

    ngx_http_llmgw_test_usage(&u, -1, -1, 10, 10, 10);
    rc = ngx_http_llmgw_test_cost(&claude, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_DECLINED && m == -7,
                         "neither input nor output: no cost");

    ngx_http_llmgw_test_usage(&u, -1, 2, -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&claude, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && m == 30,
                         "output alone: 2 x 15 = 30");

    ngx_http_llmgw_test_usage(&u, 0, 0, -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&claude, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && m == 0, "no tokens cost 0");
}


static void
ngx_http_llmgw_test_rounding(void)
{
    int64_t                        m;
    ngx_int_t                      rc;
    ngx_http_llmgw_price_t         p;
    ngx_http_llmgw_usage_result_t  u;

    /* 0.000001 per million: a micro-unit per million tokens */

    ngx_memzero(&p, sizeof(p));
    p.input = 1;
    p.output = 1;
    p.cache_read = NGX_HTTP_LLMGW_PRICE_UNSET;
    p.cache_write = NGX_HTTP_LLMGW_PRICE_UNSET;

    ngx_http_llmgw_test_usage(&u, 499999, 0, -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&p, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && m == 0, "0.499999 rounds to 0");

    ngx_http_llmgw_test_usage(&u, 500000, 0, -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&p, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && m == 1, "0.5 rounds up to 1");

    ngx_http_llmgw_test_usage(&u, 1500000, 0, -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&p, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && m == 2, "1.5 rounds up to 2");

    /* 0.6 + 0.6 = 1.2: summed, then rounded once to 1 (not 1 + 1) */

    ngx_http_llmgw_test_usage(&u, 600000, 600000, -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&p, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && m == 1,
                         "the remainders are summed before rounding");

    /* 0.7 + 0.7 = 1.4: a carry from the remainders, then 1 */

    ngx_http_llmgw_test_usage(&u, 700000, 700000, -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&p, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && m == 1, "remainders carry");

    /* 0.8 + 0.8 = 1.6: 2 */

    ngx_http_llmgw_test_usage(&u, 800000, 800000, -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&p, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && m == 2, "1.6 rounds to 2");

    /* 1234567 tokens at 0.075: 92592.525 -> 92593 */

    p.input = 75000;

    ngx_http_llmgw_test_usage(&u, 1234567, 0, -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&p, "bedrock", &u, &m);
    ngx_http_llmgw_unit_check(rc == NGX_OK && m == 92593,
                              "1234567 x 0.075 = 92592.525 -> 92593: %lld",
                              (long long) m);
}


static void
ngx_http_llmgw_test_bounds(void)
{
    int64_t                        m;
    ngx_int_t                      rc;
    ngx_http_llmgw_price_t         p;
    ngx_http_llmgw_usage_result_t  u;

    ngx_memzero(&p, sizeof(p));
    p.cache_read = NGX_HTTP_LLMGW_PRICE_UNSET;
    p.cache_write = NGX_HTTP_LLMGW_PRICE_UNSET;

    /* 2^53 tokens at 1 per million: 2^53 micros exactly */

    p.input = 1000000;

    ngx_http_llmgw_test_usage(&u, NGX_HTTP_LLMGW_USAGE_MAX_COUNT, 0,
                              -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&p, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && m == 9007199254740992LL,
                         "2^53 tokens at 1 per million: 2^53 micros");

    /* at 1000 per million: 9007199254740992000, under INT64_MAX */

    p.input = 1000000000;
    p.output = 1000000000;

    rc = ngx_http_llmgw_test_cost(&p, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && m == 9007199254740992000LL,
                         "2^53 tokens at 1000 per million fits");

    /* the same on output as well: twice that overflows */

    ngx_http_llmgw_test_usage(&u, NGX_HTTP_LLMGW_USAGE_MAX_COUNT,
                              NGX_HTTP_LLMGW_USAGE_MAX_COUNT, -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&p, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_ERROR, "a sum over INT64_MAX refused");

    /* the highest price times the most tokens overflows in one term */

    p.input = NGX_HTTP_LLMGW_PRICE_MAX;
    p.output = 0;

    ngx_http_llmgw_test_usage(&u, NGX_HTTP_LLMGW_USAGE_MAX_COUNT, 0,
                              -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&p, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_ERROR, "a product over INT64_MAX "
                         "refused");

    /* the highest price times 999999 tokens: under 10^18, exact */

    ngx_http_llmgw_test_usage(&u, 999999, 0, -1, -1, -1);
    rc = ngx_http_llmgw_test_cost(&p, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && m == 999999000000LL,
                         "999999 tokens at the highest price");

    /* a price above the bound is never trusted */

    p.input = NGX_HTTP_LLMGW_PRICE_MAX + 1;
    rc = ngx_http_llmgw_test_cost(&p, "bedrock", &u, &m);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_ERROR, "a price above the bound "
                         "refused");
}


int
main(void)
{
    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 1;
    }

    ngx_http_llmgw_test_decimals();
    ngx_http_llmgw_test_currencies();
    ngx_http_llmgw_test_find();
    ngx_http_llmgw_test_costs();
    ngx_http_llmgw_test_rounding();
    ngx_http_llmgw_test_bounds();

    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
