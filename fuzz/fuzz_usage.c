/* llmgw-fuzz-srcs: src/ngx_http_llmgw_usage.c */
/* llmgw-fuzz-srcs: src/ngx_http_llmgw_eventstream.c */
/* llmgw-fuzz-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: the token usage parser, every format, fed in random
 * pieces.
 *
 * Input: a format byte (modulo the number of formats), a flags byte,
 * 4 bytes of seed for the cut points, then the body.  Flags bits 0-1: the
 * limit, 0 for the default, else 4 KiB << n.  Bit 2, for the event-stream
 * formats: the body is records (a kind byte, a u16 length, the payload)
 * framed here as messages with valid CRCs, kind 0 a "chunk" event, 1
 * "metadata", 2 an exception, 3 another event; with bit 3 a chunk's
 * payload is wrapped as {"bytes":"<base64>"}, so that mutations reach the
 * Anthropic event inside.
 *
 * The body is parsed whole in one piece, then again cut at points drawn
 * from the seed, each piece in a buffer of its own freed once consumed.
 * Both must end the same (rc, error, result); the state must stay under
 * its bound; a count reported must lie in 0..2^53.  Anything else aborts.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_usage.h"
#include "ngx_http_llmgw_unit.h"


typedef struct {
    ngx_http_llmgw_usage_result_t  result;
    ngx_int_t                  rc;
    const char                *err;
} ngx_http_llmgw_fuzz_result_t;


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static size_t ngx_http_llmgw_fuzz_frames(u_char *data, size_t len,
    u_char *out, ngx_uint_t wrap);
static void ngx_http_llmgw_fuzz_run(ngx_http_llmgw_usage_format_e format,
    u_char *data, size_t len, size_t limit, uint32_t seed,
    ngx_http_llmgw_fuzz_result_t *res);
static void ngx_http_llmgw_fuzz_check(ngx_http_llmgw_usage_t *u);


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_http_llmgw_unit_quiet = 1;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        abort();
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                        *body, flags;
    size_t                         len, limit;
    uint32_t                       seed;
    ngx_http_llmgw_usage_format_e  format;
    ngx_http_llmgw_fuzz_result_t   whole, split;

    if (size < 6) {
        return 0;
    }

    format = data[0] % NGX_HTTP_LLMGW_USAGE_FORMATS;
    flags = data[1];
    seed = ((uint32_t) data[2] << 24) | ((uint32_t) data[3] << 16)
           | ((uint32_t) data[4] << 8) | data[5];

    limit = (flags & 3) ? (size_t) NGX_HTTP_LLMGW_USAGE_MIN_LIMIT
                          << (flags & 3)
                        : 0;

    data += 6;
    size -= 6;

    /* room for framing: each record of 3 bytes or more grows by < 256 */

    body = malloc(size * 100 + 1);
    if (body == NULL) {
        return 0;
    }

    if ((format == NGX_HTTP_LLMGW_USAGE_ANTHROPIC_EVENTSTREAM
         || format == NGX_HTTP_LLMGW_USAGE_CONVERSE_EVENTSTREAM)
        && (flags & 4))
    {
        len = ngx_http_llmgw_fuzz_frames((u_char *) data, size, body,
                                         flags & 8);

    } else {
        ngx_memcpy(body, data, size);
        len = size;
    }

    ngx_http_llmgw_fuzz_run(format, body, len, limit, 0, &whole);
    ngx_http_llmgw_fuzz_run(format, body, len, limit, seed | 1, &split);

    if (whole.rc != split.rc
        || whole.err != split.err
        || ngx_memcmp(&whole.result, &split.result,
                      sizeof(ngx_http_llmgw_usage_result_t)) != 0)
    {
        abort();
    }

    free(body);

    return 0;
}


/* records to event-stream messages, as Bedrock frames them */

static size_t
ngx_http_llmgw_fuzz_frames(u_char *data, size_t len, u_char *out,
    ngx_uint_t wrap)
{
    u_char        *p, *end, *payload, kind;
    size_t         n;
    ngx_str_t      src, dst;
    const char    *type;
    static u_char  wrapped[96 * 1024];

    p = out;
    end = data + len;

    while (end - data >= 3) {
        kind = data[0] & 3;
        n = ((size_t) data[1] << 8) | data[2];
        data += 3;
        n = ngx_min(n, (size_t) (end - data));

        type = (kind == 0) ? "chunk"
               : (kind == 1) ? "metadata"
               : (kind == 2) ? "throttlingException" : "contentBlockDelta";

        payload = data;
        data += n;

        if (kind == 0 && wrap) {
            src.data = payload;
            src.len = n;

            dst.data = ngx_cpymem(wrapped, "{\"bytes\":\"", 10);
            ngx_encode_base64(&dst, &src);

            payload = wrapped;
            n = ngx_cpymem(dst.data + dst.len, "\"}", 2) - wrapped;
        }

        p = ngx_http_llmgw_unit_es_message(p, (kind == 2) ? "exception"
                                                          : "event",
                                           type, payload, n);
    }

    return p - out;
}


/* seed 0: one piece; otherwise pieces of 0 to 63 bytes (xorshift32) */

static void
ngx_http_llmgw_fuzz_run(ngx_http_llmgw_usage_format_e format, u_char *data,
    size_t len, size_t limit, uint32_t seed,
    ngx_http_llmgw_fuzz_result_t *res)
{
    u_char                  *piece;
    size_t                   start, n;
    ngx_int_t                rc;
    ngx_pool_t              *pool;
    ngx_http_llmgw_usage_t   u;

    ngx_memzero(res, sizeof(ngx_http_llmgw_fuzz_result_t));

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        abort();
    }

    if (ngx_http_llmgw_usage_init(&u, pool, format, limit) != NGX_OK) {
        abort();
    }

    rc = NGX_AGAIN;
    start = 0;

    while (start < len) {

        if (seed == 0) {
            n = len;

        } else {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            n = seed & 63;
        }

        n = ngx_min(n, len - start);

        piece = malloc(n + 1);
        if (piece == NULL) {
            abort();
        }

        ngx_memcpy(piece, data + start, n);

        rc = ngx_http_llmgw_usage_feed(&u, piece, piece + n);

        free(piece);

        ngx_http_llmgw_fuzz_check(&u);

        if (rc == NGX_ERROR) {
            break;
        }

        start += n;
    }

    if (rc != NGX_ERROR) {
        rc = ngx_http_llmgw_usage_finish(&u);
        ngx_http_llmgw_fuzz_check(&u);
    }

    if ((rc == NGX_ERROR) != (u.err != NULL)
        || (rc == NGX_OK && !u.result.complete))
    {
        abort();
    }

    res->result = u.result;
    res->rc = rc;
    res->err = u.err;

    ngx_destroy_pool(pool);
}


/* the bound, and counts in range; an error leaves no count behind */

static void
ngx_http_llmgw_fuzz_check(ngx_http_llmgw_usage_t *u)
{
    ngx_uint_t                     i;
    ngx_http_llmgw_usage_count_t  *c[6];

    if (u->peak > u->limit || ngx_http_llmgw_usage_size(u) > u->limit) {
        abort();
    }

    c[0] = &u->result.input_tokens;
    c[1] = &u->result.output_tokens;
    c[2] = &u->result.cache_read_input_tokens;
    c[3] = &u->result.cache_creation_input_tokens;
    c[4] = &u->result.reasoning_output_tokens;
    c[5] = &u->result.total_tokens;

    for (i = 0; i < 6; i++) {
        if (c[i]->value < 0
            || c[i]->value > NGX_HTTP_LLMGW_USAGE_MAX_COUNT
            || (u->err != NULL && c[i]->present))
        {
            abort();
        }
    }
}
