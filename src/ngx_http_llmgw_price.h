
/*
 * Copyright (C) llmgw authors
 *
 * Prices and what a call cost: a table of per-model prices (llmgw_price),
 * a lookup by model name, and the cost of a call's token usage in integer
 * micro-units of the price's currency.  Pure: configuration text and
 * counts in, integers out; no request, no floating point.
 *
 * A price is per million tokens, in micro-units (millionths of the
 * currency unit): "3" is 3000000, "0.075" is 75000.  A call's cost is
 *
 *     (sum of tokens x price-per-million) / 1000000
 *
 * summed exactly first and divided once, rounded half up to a whole
 * micro-unit (the exact sum is a multiple of 10^-12 currency units, so
 * half up is the only rounding there is).  A cost above INT64_MAX micro-
 * units cannot be represented and is refused (NGX_ERROR).
 *
 * What a token count means differs by provider, and a price is applied to
 * disjoint counts only:
 *
 *   azure_openai  input counts the cache reads (prompt_tokens includes
 *                 cached_tokens): input - cache_read at the input price,
 *                 cache_read at the cache_read price; output includes the
 *                 reasoning tokens.
 *   gemini        the same for input (promptTokenCount includes
 *                 cachedContentTokenCount); output leaves the thoughts out
 *                 (thoughtsTokenCount), which are billed as output: output
 *                 + reasoning at the output price.
 *   bedrock       input excludes the cache (Anthropic's input_tokens,
 *                 Converse's inputTokens, inputTokenCount): input at the
 *                 input price, cache_read at the cache_read price,
 *                 cache_creation at the cache_write price; output includes
 *                 any reasoning.
 *
 * A cache_read or cache_write price not configured is the input price.
 */


#ifndef _NGX_HTTP_LLMGW_PRICE_H_INCLUDED_
#define _NGX_HTTP_LLMGW_PRICE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_usage.h"


/* the highest price: 10^6 currency units per million tokens, in micros */
#define NGX_HTTP_LLMGW_PRICE_MAX        1000000000000LL

#define NGX_HTTP_LLMGW_PRICE_FRACTION   6      /* digits after the point */

#define NGX_HTTP_LLMGW_PRICE_UNSET      -1


/* how a provider's counts overlap, see above */

#define NGX_HTTP_LLMGW_PRICE_INPUT_HAS_CACHE       0x01
#define NGX_HTTP_LLMGW_PRICE_OUTPUT_NO_REASONING   0x02


typedef struct {
    ngx_str_t                  model;        /* without a trailing '*' */
    ngx_uint_t                 prefix;       /* MODEL was "prefix*" */
    int64_t                    input;        /* micros per 10^6 tokens */
    int64_t                    output;
    int64_t                    cache_read;   /* or PRICE_UNSET */
    int64_t                    cache_write;  /* or PRICE_UNSET */
    ngx_str_t                  currency;     /* ISO 4217, "USD" ... */
} ngx_http_llmgw_price_t;


/*
 * A decimal price per million tokens, "3", "0.075", "15.000000": digits,
 * at most one '.', at most 6 digits after it, not above
 * NGX_HTTP_LLMGW_PRICE_MAX micros.  NGX_OK with *micros, or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_price_decimal(u_char *p, size_t len,
    int64_t *micros);

/* NGX_OK when s is three uppercase ASCII letters (an ISO 4217 code) */
ngx_int_t ngx_http_llmgw_price_currency(ngx_str_t *s);

/*
 * The price of model in prices[0 .. n - 1]: an exact name, else the
 * longest prefix pattern that matches; an exact name wins over a pattern
 * of the same length.  NULL when none.
 */
ngx_http_llmgw_price_t *ngx_http_llmgw_price_find(
    ngx_http_llmgw_price_t *prices, ngx_uint_t n, ngx_str_t *model);

/* the NGX_HTTP_LLMGW_PRICE_* flags of a provider adapter's name */
ngx_uint_t ngx_http_llmgw_price_flags(ngx_str_t *provider);

/*
 * The cost of usage at price, in micros: NGX_OK with *micros;
 * NGX_DECLINED when the usage has neither input nor output tokens (an
 * absent count is 0 otherwise); NGX_ERROR when the cost does not fit in
 * int64_t.
 */
ngx_int_t ngx_http_llmgw_price_cost(ngx_http_llmgw_price_t *price,
    ngx_uint_t flags, ngx_http_llmgw_usage_result_t *usage,
    int64_t *micros);


#endif /* _NGX_HTTP_LLMGW_PRICE_H_INCLUDED_ */
