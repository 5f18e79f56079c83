/* llmgw-fuzz-srcs: src/ngx_http_llmgw_eventstream.c */
/* llmgw-fuzz-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: the AWS event-stream parser fed in random pieces.
 *
 * Input: a flags byte, 4 bytes of seed for the cut points, then the
 * stream.  Flags bit 0: fix the CRCs of every message that fits (so that
 * mutations get past the CRCs into the header parser); bits 1-3: the
 * message limit, 0 for the default, else 16 << n bytes.
 *
 * The stream is parsed whole in one piece, then again cut at points drawn
 * from the seed, each piece in a buffer of its own freed once consumed.
 * Both must give the same messages and the same end; every message must
 * respect its bounds and its headers must walk to the end.  Anything else
 * aborts.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_eventstream.h"
#include "ngx_http_llmgw_unit.h"


typedef struct {
    uint32_t                   digest;    /* CRC-32 over message summaries */
    ngx_uint_t                 messages;
    ngx_int_t                  rc;
    const char                *err;
} ngx_http_llmgw_fuzz_result_t;


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_http_llmgw_fuzz_fix_crcs(u_char *p, size_t len);
static void ngx_http_llmgw_fuzz_run(u_char *data, size_t len, size_t max,
    uint32_t seed, ngx_http_llmgw_fuzz_result_t *res);
static void ngx_http_llmgw_fuzz_check(ngx_http_llmgw_eventstream_t *es,
    u_char *piece, u_char *last, ngx_http_llmgw_fuzz_result_t *res);
static uint32_t ngx_http_llmgw_fuzz_u32(u_char *p);


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
    u_char                        *copy, flags;
    size_t                         len, max;
    uint32_t                       seed;
    ngx_http_llmgw_fuzz_result_t   whole, split;

    if (size < 5) {
        return 0;
    }

    flags = data[0];
    seed = ngx_http_llmgw_fuzz_u32((u_char *) data + 1);
    len = size - 5;

    max = (flags >> 1) & 7;
    max = max ? (size_t) 16 << max : 0;

    copy = malloc(len + 1);
    if (copy == NULL) {
        return 0;
    }

    ngx_memcpy(copy, data + 5, len);

    if (flags & 1) {
        ngx_http_llmgw_fuzz_fix_crcs(copy, len);
    }

    ngx_http_llmgw_fuzz_run(copy, len, max, 0, &whole);
    ngx_http_llmgw_fuzz_run(copy, len, max, seed | 1, &split);

    if (whole.digest != split.digest
        || whole.messages != split.messages
        || whole.rc != split.rc
        || whole.err != split.err)
    {
        abort();
    }

    free(copy);

    return 0;
}


/* both CRCs of each message whose total length fits in what is left */

static void
ngx_http_llmgw_fuzz_fix_crcs(u_char *p, size_t len)
{
    u_char    *end;
    uint32_t   total, crc;

    end = p + len;

    while (end - p >= NGX_HTTP_LLMGW_EVENTSTREAM_MIN_MESSAGE) {
        total = ngx_http_llmgw_fuzz_u32(p);

        if (total < NGX_HTTP_LLMGW_EVENTSTREAM_MIN_MESSAGE
            || total > (size_t) (end - p))
        {
            return;
        }

        crc = ngx_crc32_long(p, 8);
        p[8] = (u_char) (crc >> 24);
        p[9] = (u_char) (crc >> 16);
        p[10] = (u_char) (crc >> 8);
        p[11] = (u_char) crc;

        crc = ngx_crc32_long(p, total - 4);
        p[total - 4] = (u_char) (crc >> 24);
        p[total - 3] = (u_char) (crc >> 16);
        p[total - 2] = (u_char) (crc >> 8);
        p[total - 1] = (u_char) crc;

        p += total;
    }
}


/* seed 0: one piece; otherwise pieces of 0 to 63 bytes (xorshift32) */

static void
ngx_http_llmgw_fuzz_run(u_char *data, size_t len, size_t max, uint32_t seed,
    ngx_http_llmgw_fuzz_result_t *res)
{
    u_char                        *piece, *pos, *last;
    size_t                         start, n;
    ngx_int_t                      rc;
    ngx_pool_t                    *pool;
    ngx_http_llmgw_eventstream_t   es;

    ngx_memzero(res, sizeof(ngx_http_llmgw_fuzz_result_t));
    ngx_crc32_init(res->digest);

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        abort();
    }

    ngx_http_llmgw_eventstream_init(&es, pool, max);

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

        /* a piece of its own, even an empty one */

        piece = malloc(n + 1);
        if (piece == NULL) {
            abort();
        }

        ngx_memcpy(piece, data + start, n);

        pos = piece;
        last = piece + n;

        do {
            rc = ngx_http_llmgw_eventstream_feed(&es, &pos, last);

            if (pos < piece || pos > last) {
                abort();
            }

            if (rc == NGX_OK) {
                ngx_http_llmgw_fuzz_check(&es, piece, last, res);
            }

        } while (rc == NGX_OK && pos < last);

        if (rc == NGX_AGAIN && pos != last) {
            abort();
        }

        free(piece);

        if (rc == NGX_ERROR) {
            break;
        }

        start += n;
    }

    if (rc != NGX_ERROR) {
        rc = ngx_http_llmgw_eventstream_finish(&es);
    }

    if (es.size > es.max_message) {
        abort();
    }

    ngx_crc32_final(res->digest);
    res->rc = rc;
    res->err = es.err;

    ngx_destroy_pool(pool);
}


static void
ngx_http_llmgw_fuzz_check(ngx_http_llmgw_eventstream_t *es, u_char *piece,
    u_char *last, ngx_http_llmgw_fuzz_result_t *res)
{
    u_char                                *p, *end;
    ngx_int_t                              rc;
    ngx_http_llmgw_eventstream_header_t    h;
    ngx_http_llmgw_eventstream_message_t  *msg;
    u_char                                 summary[64];

    msg = &es->msg;

    if (msg->length < NGX_HTTP_LLMGW_EVENTSTREAM_MIN_MESSAGE
        || msg->length > es->max_message
        || msg->headers.len + msg->payload.len + 16 != msg->length
        || msg->payload.data != msg->headers.data + msg->headers.len)
    {
        abort();
    }

    /* the message lies in the piece or in the state's buffer */

    if (!(msg->headers.data - 12 >= piece
          && msg->payload.data + msg->payload.len + 4 <= last)
        && !(msg->headers.data - 12 == es->buf
             && msg->length <= es->size))
    {
        abort();
    }

    p = msg->headers.data;
    end = p + msg->headers.len;

    do {
        rc = ngx_http_llmgw_eventstream_next_header(&p, end, &h);
    } while (rc == NGX_OK);

    if (rc != NGX_DONE || p != end) {
        abort();
    }

    /* what the message says, into the digest */

    p = ngx_sprintf(summary, "%ui %uz %uz %uz %uz %uz ",
                    (ngx_uint_t) msg->kind, msg->length,
                    msg->message_type.len, msg->event_type.len,
                    msg->exception_type.len, msg->content_type.len);

    ngx_crc32_update(&res->digest, summary, p - summary);
    ngx_crc32_update(&res->digest, msg->headers.data - 12, msg->length);

    res->messages++;
}


static uint32_t
ngx_http_llmgw_fuzz_u32(u_char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}
