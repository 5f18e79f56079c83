
/*
 * Copyright (C) llmgw authors
 *
 * Prices and costs, see ngx_http_llmgw_price.h.  The cost is summed in
 * two int64_t parts, whole micro-units and the remainder in 10^-12 units
 * (below 10^6), so no product can overflow: a count is split into
 * millions and the rest, the rest times a price stays under 10^18.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_price.h"


#define NGX_HTTP_LLMGW_PRICE_MILLION    1000000LL
#define NGX_HTTP_LLMGW_PRICE_INT64_MAX  0x7fffffffffffffffLL


typedef struct {
    int64_t                    whole;        /* micro-units */
    int64_t                    frac;         /* 10^-12 units, < 10^6 */
} ngx_http_llmgw_price_sum_t;


static ngx_int_t ngx_http_llmgw_price_add(ngx_http_llmgw_price_sum_t *sum,
    int64_t tokens, int64_t price);
static ngx_int_t ngx_http_llmgw_price_add_whole(
    ngx_http_llmgw_price_sum_t *sum, int64_t micros);
static int64_t ngx_http_llmgw_price_count(
    ngx_http_llmgw_usage_count_t *count);


ngx_int_t
ngx_http_llmgw_price_decimal(u_char *p, size_t len, int64_t *micros)
{
    u_char      *last;
    int64_t      whole, frac;
    ngx_uint_t   digits;

    last = p + len;

    if (p == last || *p < '0' || *p > '9') {
        return NGX_ERROR;
    }

    whole = 0;

    while (p < last && *p >= '0' && *p <= '9') {
        whole = whole * 10 + (*p++ - '0');

        if (whole > NGX_HTTP_LLMGW_PRICE_MAX / NGX_HTTP_LLMGW_PRICE_MILLION) {
            return NGX_ERROR;
        }
    }

    frac = 0;
    digits = 0;

    if (p < last && *p == '.') {
        p++;

        while (p < last && *p >= '0' && *p <= '9') {
            if (++digits > NGX_HTTP_LLMGW_PRICE_FRACTION) {
                return NGX_ERROR;
            }

            frac = frac * 10 + (*p++ - '0');
        }

        if (digits == 0) {
            return NGX_ERROR;
        }
    }

    if (p != last) {
        return NGX_ERROR;
    }

    for ( /* void */ ; digits < NGX_HTTP_LLMGW_PRICE_FRACTION; digits++) {
        frac *= 10;
    }

    *micros = whole * NGX_HTTP_LLMGW_PRICE_MILLION + frac;

    return *micros > NGX_HTTP_LLMGW_PRICE_MAX ? NGX_ERROR : NGX_OK;
}


ngx_int_t
ngx_http_llmgw_price_currency(ngx_str_t *s)
{
    ngx_uint_t  i;

    if (s->len != 3) {
        return NGX_ERROR;
    }

    for (i = 0; i < 3; i++) {
        if (s->data[i] < 'A' || s->data[i] > 'Z') {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_http_llmgw_price_t *
ngx_http_llmgw_price_find(ngx_http_llmgw_price_t *prices, ngx_uint_t n,
    ngx_str_t *model)
{
    ngx_uint_t               i;
    ngx_http_llmgw_price_t  *best;

    best = NULL;

    for (i = 0; i < n; i++) {

        if (!prices[i].prefix) {
            if (prices[i].model.len == model->len
                && ngx_memcmp(prices[i].model.data, model->data, model->len)
                   == 0)
            {
                return &prices[i];
            }

            continue;
        }

        if (prices[i].model.len > model->len
            || ngx_memcmp(prices[i].model.data, model->data,
                          prices[i].model.len)
               != 0)
        {
            continue;
        }

        if (best == NULL || prices[i].model.len > best->model.len) {
            best = &prices[i];
        }
    }

    return best;
}


ngx_uint_t
ngx_http_llmgw_price_flags(ngx_str_t *provider)
{
    if (provider->len == sizeof("azure_openai") - 1
        && ngx_strncmp(provider->data, "azure_openai", provider->len) == 0)
    {
        return NGX_HTTP_LLMGW_PRICE_INPUT_HAS_CACHE;
    }

    if (provider->len == sizeof("gemini") - 1
        && ngx_strncmp(provider->data, "gemini", provider->len) == 0)
    {
        return NGX_HTTP_LLMGW_PRICE_INPUT_HAS_CACHE
               |NGX_HTTP_LLMGW_PRICE_OUTPUT_NO_REASONING;
    }

    /* bedrock: Anthropic's and Converse's counts are disjoint */

    return 0;
}


ngx_int_t
ngx_http_llmgw_price_cost(ngx_http_llmgw_price_t *price, ngx_uint_t flags,
    ngx_http_llmgw_usage_result_t *usage, int64_t *micros)
{
    int64_t                     input, output, cache_read, cache_write;
    int64_t                     read_price, write_price;
    ngx_http_llmgw_price_sum_t  sum;

    if (!usage->input_tokens.present && !usage->output_tokens.present) {
        return NGX_DECLINED;
    }

    input = ngx_http_llmgw_price_count(&usage->input_tokens);
    output = ngx_http_llmgw_price_count(&usage->output_tokens);
    cache_read = ngx_http_llmgw_price_count(&usage->cache_read_input_tokens);
    cache_write = 0;

    if (flags & NGX_HTTP_LLMGW_PRICE_INPUT_HAS_CACHE) {

        /* counts that contradict each other: no more read than input */

        cache_read = ngx_min(cache_read, input);
        input -= cache_read;

    } else {
        cache_write = ngx_http_llmgw_price_count(
                                        &usage->cache_creation_input_tokens);
    }

    if (flags & NGX_HTTP_LLMGW_PRICE_OUTPUT_NO_REASONING) {
        output += ngx_http_llmgw_price_count(
                                        &usage->reasoning_output_tokens);
    }

    read_price = price->cache_read == NGX_HTTP_LLMGW_PRICE_UNSET
                 ? price->input : price->cache_read;
    write_price = price->cache_write == NGX_HTTP_LLMGW_PRICE_UNSET
                  ? price->input : price->cache_write;

    sum.whole = 0;
    sum.frac = 0;

    if (ngx_http_llmgw_price_add(&sum, input, price->input) != NGX_OK
        || ngx_http_llmgw_price_add(&sum, cache_read, read_price) != NGX_OK
        || ngx_http_llmgw_price_add(&sum, cache_write, write_price) != NGX_OK
        || ngx_http_llmgw_price_add(&sum, output, price->output) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* half up: the remainder is exact, in 10^-12 units */

    if (sum.frac >= NGX_HTTP_LLMGW_PRICE_MILLION / 2
        && ngx_http_llmgw_price_add_whole(&sum, 1) != NGX_OK)
    {
        return NGX_ERROR;
    }

    *micros = sum.whole;

    return NGX_OK;
}


/* tokens x price (micros per million) / 10^6 into sum, exactly */

static ngx_int_t
ngx_http_llmgw_price_add(ngx_http_llmgw_price_sum_t *sum, int64_t tokens,
    int64_t price)
{
    int64_t  millions, rest, part;

    if (tokens <= 0 || price <= 0) {
        return NGX_OK;
    }

    if (price > NGX_HTTP_LLMGW_PRICE_MAX) {
        return NGX_ERROR;
    }

    millions = tokens / NGX_HTTP_LLMGW_PRICE_MILLION;
    rest = tokens % NGX_HTTP_LLMGW_PRICE_MILLION;

    if (millions > NGX_HTTP_LLMGW_PRICE_INT64_MAX / price) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_price_add_whole(sum, millions * price) != NGX_OK) {
        return NGX_ERROR;
    }

    /* rest < 10^6 and price <= 10^12: part < 10^18 */

    part = rest * price;

    if (ngx_http_llmgw_price_add_whole(sum,
                                       part / NGX_HTTP_LLMGW_PRICE_MILLION)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sum->frac += part % NGX_HTTP_LLMGW_PRICE_MILLION;

    if (sum->frac >= NGX_HTTP_LLMGW_PRICE_MILLION) {
        sum->frac -= NGX_HTTP_LLMGW_PRICE_MILLION;
        return ngx_http_llmgw_price_add_whole(sum, 1);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_price_add_whole(ngx_http_llmgw_price_sum_t *sum,
    int64_t micros)
{
    if (micros > NGX_HTTP_LLMGW_PRICE_INT64_MAX - sum->whole) {
        return NGX_ERROR;
    }

    sum->whole += micros;

    return NGX_OK;
}


/* a count as reported, 0 when absent; the parser bounds it to 2^53 */

static int64_t
ngx_http_llmgw_price_count(ngx_http_llmgw_usage_count_t *count)
{
    return count->present && count->value > 0 ? count->value : 0;
}
