/* llmgw-fuzz-srcs: src/ngx_http_llmgw_include_usage.c */
/* llmgw-fuzz-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: include_usage, the request rewrite and the SSE filter.
 *
 * Input: a flags byte, 4 bytes of seed for the cut points, then the bytes.
 * Flags bit 0 clear: the bytes are a request body.  A body rewritten must
 * have grown by what the rules insert (or by -1: false made true) and, fed
 * again, be left unchanged because the client now asks for usage itself.
 * Bit 0 set: the bytes are an SSE body, the event maximum 64 << (flags >> 1
 * & 7) bytes.  The filter's output must be the same whole and cut at
 * points drawn from the seed (each piece in a buffer of its own, freed
 * after the call, the region released or not by the seed), never longer
 * than the input, every span inside the piece fed or the filter's region,
 * nothing held beyond the maximum; and filtering the output again must
 * give it back unchanged.  Anything else aborts.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_include_usage.h"
#include "ngx_http_llmgw_unit.h"


typedef struct {
    u_char                               *data;
    size_t                                len;
    size_t                                size;
    u_char                               *piece;
    u_char                               *piece_end;
    ngx_http_llmgw_include_usage_sse_t   *f;
} ngx_http_llmgw_fuzz_out_t;


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_http_llmgw_fuzz_request(u_char *data, size_t len);
static void ngx_http_llmgw_fuzz_sse(u_char *data, size_t len, size_t max,
    uint32_t seed);
static void ngx_http_llmgw_fuzz_filter(u_char *data, size_t len, size_t max,
    uint32_t seed, ngx_http_llmgw_fuzz_out_t *out);
static ngx_int_t ngx_http_llmgw_fuzz_emit(void *data, u_char *p, size_t len);


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
    u_char    flags, *copy;
    uint32_t  seed;

    if (size < 5) {
        return 0;
    }

    flags = data[0];
    seed = ((uint32_t) data[1] << 24) | ((uint32_t) data[2] << 16)
           | ((uint32_t) data[3] << 8) | data[4];

    data += 5;
    size -= 5;

    copy = malloc(size + 1);
    if (copy == NULL) {
        return 0;
    }

    ngx_memcpy(copy, data, size);

    if (flags & 1) {
        ngx_http_llmgw_fuzz_sse(copy, size, (size_t) 64 << ((flags >> 1) & 7),
                                seed);

    } else {
        ngx_http_llmgw_fuzz_request(copy, size);
    }

    free(copy);

    return 0;
}


static void
ngx_http_llmgw_fuzz_request(u_char *data, size_t len)
{
    ngx_int_t    rc;
    ngx_str_t    out, again;
    ngx_pool_t  *pool;
    const char  *reason;

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        return;
    }

    reason = NULL;
    rc = ngx_http_llmgw_include_usage_request(pool, data, len, &out, &reason);

    if (rc == NGX_DECLINED && reason == NULL) {
        abort();
    }

    if (rc == NGX_OK) {
        if (out.len != len + sizeof(",\"stream_options\":{\"include_usage\":"
                                    "true}") - 1
            && out.len != len + sizeof("\"include_usage\":true,") - 1
            && out.len != len + sizeof("\"include_usage\":true") - 1
            && out.len != len - 1)
        {
            abort();
        }

        rc = ngx_http_llmgw_include_usage_request(pool, out.data, out.len,
                                                  &again, &reason);

        if (rc != NGX_DECLINED
            || ngx_strcmp(reason, "the client asked for usage itself") != 0)
        {
            abort();
        }
    }

    ngx_destroy_pool(pool);
}


static void
ngx_http_llmgw_fuzz_sse(u_char *data, size_t len, size_t max, uint32_t seed)
{
    ngx_http_llmgw_fuzz_out_t  whole, split, again;

    ngx_http_llmgw_fuzz_filter(data, len, max, 0, &whole);
    ngx_http_llmgw_fuzz_filter(data, len, max, seed | 1, &split);

    if (whole.len != split.len
        || ngx_memcmp(whole.data, split.data, whole.len) != 0
        || whole.len > len)
    {
        abort();
    }

    ngx_http_llmgw_fuzz_filter(whole.data, whole.len, max, seed, &again);

    if (again.len != whole.len
        || ngx_memcmp(again.data, whole.data, whole.len) != 0)
    {
        abort();
    }

    free(whole.data);
    free(split.data);
    free(again.data);
}


static void
ngx_http_llmgw_fuzz_filter(u_char *data, size_t len, size_t max,
    uint32_t seed, ngx_http_llmgw_fuzz_out_t *out)
{
    size_t                               n;
    ngx_pool_t                          *pool;
    ngx_http_llmgw_include_usage_sse_t   f;

    out->data = malloc(len + 1);
    out->len = 0;
    out->size = len;
    out->f = &f;

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);

    if (out->data == NULL || pool == NULL) {
        abort();
    }

    ngx_http_llmgw_include_usage_sse_init(&f, pool, max, 128,
                                          ngx_http_llmgw_fuzz_emit, out);

    while (len) {
        if (seed == 0) {
            n = len;

        } else {
            seed = seed * 1103515245 + 12345;
            n = 1 + (seed >> 8) % 64;
            n = ngx_min(n, len);
        }

        out->piece = malloc(n);
        if (out->piece == NULL) {
            abort();
        }

        ngx_memcpy(out->piece, data, n);
        out->piece_end = out->piece + n;

        if (ngx_http_llmgw_include_usage_sse_feed(&f, out->piece,
                                                  out->piece + n)
            != NGX_OK)
        {
            abort();
        }

        free(out->piece);
        out->piece = NULL;
        out->piece_end = NULL;

        if ((size_t) (f.last - f.hold) > max) {
            abort();
        }

        if (seed == 0 || (seed & 0x10000)) {
            ngx_http_llmgw_include_usage_sse_release(&f);
        }

        data += n;
        len -= n;
    }

    if (ngx_http_llmgw_include_usage_sse_finish(&f) != NGX_OK) {
        abort();
    }

    ngx_destroy_pool(pool);
}


static ngx_int_t
ngx_http_llmgw_fuzz_emit(void *data, u_char *p, size_t len)
{
    ngx_http_llmgw_fuzz_out_t  *out = data;

    if (len == 0 || out->len + len > out->size) {
        abort();
    }

    /* a span of the piece fed, or of the held event in the region */

    if (!(p >= out->piece && p + len <= out->piece_end)
        && !(p >= out->f->start && p + len <= out->f->end))
    {
        abort();
    }

    ngx_memcpy(out->data + out->len, p, len);
    out->len += len;

    return NGX_OK;
}
