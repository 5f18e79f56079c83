/* llmgw-unit-srcs: src/ngx_http_llmgw_eventstream.c */
/* llmgw-unit-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * The AWS event-stream parser: AWS's published test vectors (re-typed from
 * aws/aws-sdk-js-v3, packages/eventstream-marshaller/src/
 * TestVectors.fixture.ts), and frames built here with a CRC-32 of this
 * file's own (bitwise, not nginx's table): a Bedrock-like stream split at
 * every byte, fed byte by byte and in random pieces, every header type,
 * corrupt CRCs, lengths out of bounds, malformed headers, truncation,
 * exception and error messages, copies and their bound.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdio.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_eventstream.h"


#define NGX_HTTP_LLMGW_TEST_MAX_FRAME   4096


/* a message to build: headers as raw bytes, then the payload */

typedef struct {
    u_char                    *data;
    size_t                     len;
} ngx_http_llmgw_test_frame_t;


/* what parsing a stream gave, one line per message */

typedef struct {
    u_char                     text[16384];
    size_t                     len;
    ngx_uint_t                 messages;
    ngx_uint_t                 copied;     /* messages not in the input */
    ngx_int_t                  rc;         /* NGX_OK: the stream ended well */
    const char                *err;
} ngx_http_llmgw_test_result_t;


static uint32_t ngx_http_llmgw_test_crc32(u_char *p, size_t len);
static u_char *ngx_http_llmgw_test_u32(u_char *p, uint32_t v);
static u_char *ngx_http_llmgw_test_str_header(u_char *p, char *name,
    char *value);
static size_t ngx_http_llmgw_test_frame(u_char *buf, u_char *headers,
    size_t hlen, u_char *payload, size_t plen);
static size_t ngx_http_llmgw_test_event(u_char *buf, char *message_type,
    char *event_type, char *exception_type, char *payload);
static void ngx_http_llmgw_test_parse(u_char *data, size_t len,
    size_t *cuts, ngx_uint_t ncuts, size_t max,
    ngx_http_llmgw_test_result_t *res);
static void ngx_http_llmgw_test_record(ngx_http_llmgw_test_result_t *res,
    ngx_http_llmgw_eventstream_message_t *msg);
static ngx_uint_t ngx_http_llmgw_test_same(ngx_http_llmgw_test_result_t *a,
    ngx_http_llmgw_test_result_t *b);
static void ngx_http_llmgw_test_vectors(void);
static void ngx_http_llmgw_test_stream(void);
static void ngx_http_llmgw_test_header_types(void);
static void ngx_http_llmgw_test_errors(void);
static void ngx_http_llmgw_test_bounds(void);
static void ngx_http_llmgw_test_kinds(void);


/* AWS's vectors: the encoded bytes, as published */

static u_char  ngx_http_llmgw_test_empty_message[] = {
    0, 0, 0, 16, 0, 0, 0, 0, 5, 194, 72, 235, 125, 152, 200, 255
};

static u_char  ngx_http_llmgw_test_int32_header[] = {
    0, 0, 0, 43, 0, 0, 0, 14, 52, 139, 236, 123, 8, 101, 118, 101, 110,
    116, 45, 105, 100, 4, 0, 0, 160, 12, 123, 39, 102, 111, 111, 39, 58,
    39, 98, 97, 114, 39, 125, 211, 137, 2, 133
};

static u_char  ngx_http_llmgw_test_payload_no_headers[] = {
    0, 0, 0, 29, 0, 0, 0, 0, 253, 82, 140, 90, 123, 39, 102, 111, 111, 39,
    58, 39, 98, 97, 114, 39, 125, 195, 101, 57, 54
};

static u_char  ngx_http_llmgw_test_payload_one_str_header[] = {
    0, 0, 0, 61, 0, 0, 0, 32, 7, 253, 131, 150, 12, 99, 111, 110, 116, 101,
    110, 116, 45, 116, 121, 112, 101, 7, 0, 16, 97, 112, 112, 108, 105, 99,
    97, 116, 105, 111, 110, 47, 106, 115, 111, 110, 123, 39, 102, 111, 111,
    39, 58, 39, 98, 97, 114, 39, 125, 141, 156, 8, 177
};

static u_char  ngx_http_llmgw_test_corrupted_headers[] = {
    0, 0, 0, 61, 0, 0, 0, 32, 7, 253, 131, 150, 12, 99, 111, 110, 116, 101,
    110, 116, 43, 116, 121, 112, 101, 7, 0, 16, 97, 112, 112, 108, 105, 99,
    97, 116, 105, 111, 110, 47, 106, 115, 111, 110, 123, 39, 102, 111, 111,
    39, 58, 39, 98, 97, 114, 39, 125, 141, 156, 8, 177
};

static u_char  ngx_http_llmgw_test_corrupted_header_len[] = {
    0, 0, 0, 61, 0, 0, 1, 32, 7, 253, 131, 150, 12, 99, 111, 110, 116, 101,
    110, 116, 45, 116, 121, 112, 101, 7, 0, 16, 97, 112, 112, 108, 105, 99,
    97, 116, 105, 111, 110, 47, 106, 115, 111, 110, 123, 39, 102, 111, 111,
    39, 58, 39, 98, 97, 114, 39, 125, 141, 156, 8, 177
};

static u_char  ngx_http_llmgw_test_corrupted_length[] = {
    1, 0, 0, 29, 0, 0, 0, 0, 253, 82, 140, 90, 123, 39, 102, 111, 111, 39,
    58, 39, 98, 97, 114, 39, 125, 195, 101, 57, 54
};

static u_char  ngx_http_llmgw_test_corrupted_payload[] = {
    0, 0, 0, 29, 0, 0, 0, 0, 253, 82, 140, 90, 123, 39, 102, 111, 111, 39,
    58, 39, 98, 97, 114, 39, 141, 195, 101, 57, 54
};


static uint32_t
ngx_http_llmgw_test_crc32(u_char *p, size_t len)
{
    uint32_t    crc;
    ngx_uint_t  i;

    crc = 0xffffffff;

    while (len--) {
        crc ^= *p++;

        for (i = 0; i < 8; i++) {
            crc = (crc >> 1) ^ (0xedb88320 & (0 - (crc & 1)));
        }
    }

    return crc ^ 0xffffffff;
}


static u_char *
ngx_http_llmgw_test_u32(u_char *p, uint32_t v)
{
    *p++ = (u_char) (v >> 24);
    *p++ = (u_char) (v >> 16);
    *p++ = (u_char) (v >> 8);
    *p++ = (u_char) v;

    return p;
}


static u_char *
ngx_http_llmgw_test_str_header(u_char *p, char *name, char *value)
{
    size_t  n, v;

    n = ngx_strlen(name);
    v = ngx_strlen(value);

    *p++ = (u_char) n;
    p = ngx_cpymem(p, name, n);
    *p++ = NGX_HTTP_LLMGW_EVENTSTREAM_STRING;
    *p++ = (u_char) (v >> 8);
    *p++ = (u_char) v;

    return ngx_cpymem(p, value, v);
}


/* a whole message with both CRCs */

static size_t
ngx_http_llmgw_test_frame(u_char *buf, u_char *headers, size_t hlen,
    u_char *payload, size_t plen)
{
    u_char    *p;
    uint32_t   total;

    total = 16 + hlen + plen;

    p = ngx_http_llmgw_test_u32(buf, total);
    p = ngx_http_llmgw_test_u32(p, hlen);
    p = ngx_http_llmgw_test_u32(p, ngx_http_llmgw_test_crc32(buf, 8));

    if (hlen) {
        p = ngx_cpymem(p, headers, hlen);
    }

    if (plen) {
        p = ngx_cpymem(p, payload, plen);
    }

    p = ngx_http_llmgw_test_u32(p, ngx_http_llmgw_test_crc32(buf, p - buf));

    return p - buf;
}


/* a message as Bedrock sends them; NULL leaves a header out */

static size_t
ngx_http_llmgw_test_event(u_char *buf, char *message_type, char *event_type,
    char *exception_type, char *payload)
{
    u_char  *p, headers[512];

    p = headers;

    if (event_type) {
        p = ngx_http_llmgw_test_str_header(p, ":event-type", event_type);
    }

    if (exception_type) {
        p = ngx_http_llmgw_test_str_header(p, ":exception-type",
                                           exception_type);
    }

    p = ngx_http_llmgw_test_str_header(p, ":content-type", "application/json");

    if (message_type) {
        p = ngx_http_llmgw_test_str_header(p, ":message-type", message_type);
    }

    return ngx_http_llmgw_test_frame(buf, headers, p - headers,
                                     (u_char *) payload, ngx_strlen(payload));
}


/*
 * Feeds data cut at the given offsets (ascending), each piece in a heap
 * buffer of its own freed once the piece is consumed, so a message kept
 * pointing into an earlier piece is a use after free under ASan.
 */

static void
ngx_http_llmgw_test_parse(u_char *data, size_t len, size_t *cuts,
    ngx_uint_t ncuts, size_t max, ngx_http_llmgw_test_result_t *res)
{
    u_char                         *piece, *pos, *last;
    size_t                          start, end;
    ngx_int_t                       rc;
    ngx_uint_t                      i;
    ngx_pool_t                     *pool;
    ngx_http_llmgw_eventstream_t    es;

    ngx_memzero(res, sizeof(ngx_http_llmgw_test_result_t));

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        res->rc = NGX_ABORT;
        return;
    }

    ngx_http_llmgw_eventstream_init(&es, pool, max);

    start = 0;

    for (i = 0; i <= ncuts; i++) {
        end = (i < ncuts) ? cuts[i] : len;

        if (end < start || end > len) {
            res->rc = NGX_ABORT;
            goto done;
        }

        piece = ngx_alloc(end - start + 1, &ngx_http_llmgw_unit_log);
        if (piece == NULL) {
            res->rc = NGX_ABORT;
            goto done;
        }

        ngx_memcpy(piece, data + start, end - start);

        pos = piece;
        last = piece + (end - start);

        do {
            rc = ngx_http_llmgw_eventstream_feed(&es, &pos, last);

            if (rc == NGX_OK) {
                if (es.msg.payload.data < piece
                    || es.msg.payload.data > last)
                {
                    res->copied++;
                }

                ngx_http_llmgw_test_record(res, &es.msg);
            }

        } while (rc == NGX_OK && pos < last);

        ngx_free(piece);

        if (rc == NGX_ERROR) {
            res->rc = NGX_ERROR;
            res->err = es.err;
            goto done;
        }

        start = end;
    }

    res->rc = ngx_http_llmgw_eventstream_finish(&es);
    res->err = es.err;

    if (es.size > es.max_message) {
        res->rc = NGX_ABORT;
    }

done:

    ngx_destroy_pool(pool);
}


static void
ngx_http_llmgw_test_record(ngx_http_llmgw_test_result_t *res,
    ngx_http_llmgw_eventstream_message_t *msg)
{
    u_char  *p, *last;

    p = res->text + res->len;
    last = res->text + sizeof(res->text);

    p = ngx_slprintf(p, last, "%ui|%V|%V|%V|%V|%V|%V|%uz|%V\n",
                     (ngx_uint_t) msg->kind, &msg->message_type,
                     &msg->event_type, &msg->exception_type,
                     &msg->content_type, &msg->error_code,
                     &msg->error_message, msg->length, &msg->payload);

    res->len = p - res->text;
    res->messages++;
}


static ngx_uint_t
ngx_http_llmgw_test_same(ngx_http_llmgw_test_result_t *a,
    ngx_http_llmgw_test_result_t *b)
{
    if (a->rc == b->rc && a->messages == b->messages && a->len == b->len
        && ngx_memcmp(a->text, b->text, a->len) == 0)
    {
        return 1;
    }

    printf("# got rc %d, %u messages (%s):\n%.*s"
           "# expected rc %d, %u messages (%s):\n%.*s",
           (int) a->rc, (unsigned) a->messages, a->err ? a->err : "",
           (int) a->len, a->text,
           (int) b->rc, (unsigned) b->messages, b->err ? b->err : "",
           (int) b->len, b->text);

    return 0;
}


static void
ngx_http_llmgw_test_vectors(void)
{
    size_t                                cut;
    ngx_uint_t                            i, ok;
    ngx_http_llmgw_test_result_t          whole, split;
    u_char                               *p, *last;
    ngx_pool_t                           *pool;
    ngx_http_llmgw_eventstream_t          es;
    ngx_http_llmgw_eventstream_header_t   h;

    static struct {
        u_char      *data;
        size_t       len;
        ngx_int_t    rc;
        char        *text;
        char        *what;
    } tests[] = {

#define ngx_http_llmgw_test_vector(v)                                         \
        ngx_http_llmgw_test_##v, sizeof(ngx_http_llmgw_test_##v)

        { ngx_http_llmgw_test_vector(empty_message), NGX_OK,
          "0|||||||16|\n", "vector empty_message" },
        { ngx_http_llmgw_test_vector(int32_header), NGX_OK,
          "0|||||||43|{'foo':'bar'}\n", "vector int32_header" },
        { ngx_http_llmgw_test_vector(payload_no_headers), NGX_OK,
          "0|||||||29|{'foo':'bar'}\n", "vector payload_no_headers" },
        { ngx_http_llmgw_test_vector(payload_one_str_header), NGX_OK,
          "0|||||||61|{'foo':'bar'}\n", "vector payload_one_str_header" },
        { ngx_http_llmgw_test_vector(corrupted_headers), NGX_ERROR, "",
          "vector corrupted_headers refused" },
        { ngx_http_llmgw_test_vector(corrupted_header_len), NGX_ERROR, "",
          "vector corrupted_header_len refused" },
        { ngx_http_llmgw_test_vector(corrupted_length), NGX_ERROR, "",
          "vector corrupted_length refused" },
        { ngx_http_llmgw_test_vector(corrupted_payload), NGX_ERROR, "",
          "vector corrupted_payload refused" }

#undef ngx_http_llmgw_test_vector
    };

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        ngx_http_llmgw_test_parse(tests[i].data, tests[i].len, NULL, 0, 0,
                                  &whole);

        NGX_HTTP_LLMGW_CHECK(whole.rc == tests[i].rc
                             && whole.len == ngx_strlen(tests[i].text)
                             && ngx_memcmp(whole.text, tests[i].text,
                                           whole.len) == 0
                             && whole.copied == 0,
                             tests[i].what);

        /* cut at every byte: the same result, and copied when cut */

        ok = 1;

        for (cut = 1; cut < tests[i].len; cut++) {
            ngx_http_llmgw_test_parse(tests[i].data, tests[i].len, &cut, 1,
                                      0, &split);

            if (!ngx_http_llmgw_test_same(&split, &whole)
                || split.copied != split.messages)
            {
                ok = 0;
                break;
            }
        }

        NGX_HTTP_LLMGW_CHECK(ok, "vector: the same cut at every byte");
    }

    /* the headers of the vectors that have some */

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "pool");
        return;
    }

    ngx_http_llmgw_eventstream_init(&es, pool, 0);

    p = ngx_http_llmgw_test_int32_header;
    last = p + sizeof(ngx_http_llmgw_test_int32_header);

    ok = ngx_http_llmgw_eventstream_feed(&es, &p, last) == NGX_OK;

    p = es.msg.headers.data;
    last = p + es.msg.headers.len;

    NGX_HTTP_LLMGW_CHECK(ok
                         && ngx_http_llmgw_eventstream_next_header(&p, last,
                                                                   &h)
                            == NGX_OK
                         && h.name.len == 8
                         && ngx_strncmp(h.name.data, "event-id", 8) == 0
                         && h.type == NGX_HTTP_LLMGW_EVENTSTREAM_INT
                         && h.number == 0xa00c
                         && ngx_http_llmgw_eventstream_next_header(&p, last,
                                                                   &h)
                            == NGX_DONE,
                         "vector int32_header: event-id is 40972");

    ngx_http_llmgw_eventstream_init(&es, pool, 0);

    p = ngx_http_llmgw_test_payload_one_str_header;
    last = p + sizeof(ngx_http_llmgw_test_payload_one_str_header);

    ok = ngx_http_llmgw_eventstream_feed(&es, &p, last) == NGX_OK;

    p = es.msg.headers.data;
    last = p + es.msg.headers.len;

    NGX_HTTP_LLMGW_CHECK(ok
                         && ngx_http_llmgw_eventstream_next_header(&p, last,
                                                                   &h)
                            == NGX_OK
                         && h.name.len == 12
                         && ngx_strncmp(h.name.data, "content-type", 12) == 0
                         && h.type == NGX_HTTP_LLMGW_EVENTSTREAM_STRING
                         && h.value.len == 16
                         && ngx_strncmp(h.value.data, "application/json", 16)
                            == 0,
                         "vector payload_one_str_header: content-type");

    ngx_destroy_pool(pool);

    /* the test's own CRC agrees with AWS's on their vectors */

    NGX_HTTP_LLMGW_CHECK(
        ngx_http_llmgw_test_crc32(ngx_http_llmgw_test_empty_message, 8)
        == 0x05c248eb
        && ngx_http_llmgw_test_crc32(ngx_http_llmgw_test_empty_message, 12)
           == 0x7d98c8ff,
        "test CRC-32 matches the vectors'");
}


/*
 * A stream as Bedrock's invoke-with-response-stream sends one: chunks,
 * then an exception; cut at every byte, byte by byte, at random.
 */

static void
ngx_http_llmgw_test_stream(void)
{
    u_char                        *p, *stream;
    size_t                         len, cut, *cuts;
    uint32_t                       seed;
    ngx_uint_t                     i, n, ok, round;
    ngx_http_llmgw_test_result_t   whole, split;

    static char  expect[] =
        "1|event|chunk||application/json|||135|{\"bytes\":\"eyJ0eXBlIjoibWVz"
        "c2FnZV9zdGFydCJ9\"}\n"
        "1|event|chunk||application/json|||123|{\"bytes\":\"eyJ0ZXh0IjoiaGkifQ"
        "==\"}\n"
        "1|event|chunk||application/json|||103|{\"bytes\":\"\"}\n"
        "2|exception||throttlingException|application/json|||178|"
        "{\"message\":\"Too many requests, please wait before trying "
        "again.\"}\n";

    stream = ngx_alloc(4 * NGX_HTTP_LLMGW_TEST_MAX_FRAME,
                       &ngx_http_llmgw_unit_log);
    cuts = ngx_alloc(4 * NGX_HTTP_LLMGW_TEST_MAX_FRAME * sizeof(size_t),
                     &ngx_http_llmgw_unit_log);

    if (stream == NULL || cuts == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "alloc");
        goto done;
    }

    p = stream;
    p += ngx_http_llmgw_test_event(p, "event", "chunk", NULL,
                                   "{\"bytes\":\"eyJ0eXBlIjoibWVzc2FnZV9zdGFy"
                                   "dCJ9\"}");
    p += ngx_http_llmgw_test_event(p, "event", "chunk", NULL,
                                   "{\"bytes\":\"eyJ0ZXh0IjoiaGkifQ==\"}");
    p += ngx_http_llmgw_test_event(p, "event", "chunk", NULL,
                                   "{\"bytes\":\"\"}");
    p += ngx_http_llmgw_test_event(p, "exception", NULL,
                                   "throttlingException",
                                   "{\"message\":\"Too many requests, please "
                                   "wait before trying again.\"}");
    len = p - stream;

    ngx_http_llmgw_test_parse(stream, len, NULL, 0, 0, &whole);

    NGX_HTTP_LLMGW_CHECK(whole.rc == NGX_OK && whole.messages == 4
                         && whole.copied == 0
                         && whole.len == sizeof(expect) - 1
                         && ngx_memcmp(whole.text, expect, whole.len) == 0,
                         "stream: four messages, the last an exception, "
                         "none copied");

    if (whole.len != sizeof(expect) - 1) {
        printf("# %.*s", (int) whole.len, whole.text);
    }

    ok = 1;

    for (cut = 0; cut <= len; cut++) {
        ngx_http_llmgw_test_parse(stream, len, &cut, 1, 0, &split);

        if (!ngx_http_llmgw_test_same(&split, &whole)) {
            ok = 0;
            break;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "stream: the same cut at every byte");

    for (i = 0; i < len; i++) {
        cuts[i] = i + 1;
    }

    ngx_http_llmgw_test_parse(stream, len, cuts, len - 1, 0, &split);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_same(&split, &whole)
                         && split.copied == 4,
                         "stream: byte by byte, every message copied");

    /* random cuts, empty pieces included; a fixed seed, xorshift32 */

    seed = 2463534242U;
    ok = 1;

    for (round = 0; round < 2000 && ok; round++) {
        n = 0;
        cut = 0;

        for ( ;; ) {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;

            cut += seed % 97;

            if (cut > len) {
                break;
            }

            cuts[n++] = cut;
        }

        ngx_http_llmgw_test_parse(stream, len, cuts, n, 0, &split);

        ok = ngx_http_llmgw_test_same(&split, &whole);
    }

    NGX_HTTP_LLMGW_CHECK(ok, "stream: the same in 2000 random cuttings");

    /* the stream cut short anywhere: messages so far, then truncated */

    ok = 1;

    for (cut = 1; cut < len && ok; cut++) {
        ngx_http_llmgw_test_parse(stream, cut, NULL, 0, 0, &split);

        ok = (split.rc == NGX_ERROR
              && split.err != NULL
              && ngx_strcmp(split.err, "truncated message") == 0)
             || (split.rc == NGX_OK
                 && ngx_memcmp(split.text, whole.text, split.len) == 0);

        /* ends well only on the boundaries: 135, 135 + 123, + 103 */

        if (ok && split.rc == NGX_OK
            && cut != 135 && cut != 258 && cut != 361)
        {
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "stream: cut short anywhere, truncation seen");

done:

    if (stream) {
        ngx_free(stream);
    }

    if (cuts) {
        ngx_free(cuts);
    }
}


static void
ngx_http_llmgw_test_header_types(void)
{
    u_char                               *p, *last, headers[512], buf[1024];
    size_t                                len;
    ngx_int_t                             rc;
    ngx_uint_t                            i;
    ngx_pool_t                           *pool;
    ngx_http_llmgw_eventstream_t          es;
    ngx_http_llmgw_eventstream_header_t   h;

    static u_char  uuid[16] = {
        0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
        0x0f, 0xed, 0xcb, 0xa9, 0x87, 0x65, 0x43, 0x21
    };

    static struct {
        char       *name;
        ngx_uint_t  type;
        size_t      len;
        int64_t     number;
    } expect[] = {
        { "t", NGX_HTTP_LLMGW_EVENTSTREAM_TRUE, 0, 1 },
        { "f", NGX_HTTP_LLMGW_EVENTSTREAM_FALSE, 0, 0 },
        { "byte", NGX_HTTP_LLMGW_EVENTSTREAM_BYTE, 1, -1 },
        { "short", NGX_HTTP_LLMGW_EVENTSTREAM_SHORT, 2, -2 },
        { "int", NGX_HTTP_LLMGW_EVENTSTREAM_INT, 4, 0x7fffffff },
        { "long", NGX_HTTP_LLMGW_EVENTSTREAM_LONG, 8, INT64_MIN },
        { "bytes", NGX_HTTP_LLMGW_EVENTSTREAM_BYTES, 3, 0 },
        { "string", NGX_HTTP_LLMGW_EVENTSTREAM_STRING, 0, 0 },
        { "ts", NGX_HTTP_LLMGW_EVENTSTREAM_TIMESTAMP, 8, 1718927998000LL },
        { "uuid", NGX_HTTP_LLMGW_EVENTSTREAM_UUID, 16, 0 }
    };

    p = headers;

    *p++ = 1; *p++ = 't'; *p++ = 0;
    *p++ = 1; *p++ = 'f'; *p++ = 1;
    *p++ = 4; p = ngx_cpymem(p, "byte", 4); *p++ = 2; *p++ = 0xff;
    *p++ = 5; p = ngx_cpymem(p, "short", 5); *p++ = 3;
    *p++ = 0xff; *p++ = 0xfe;
    *p++ = 3; p = ngx_cpymem(p, "int", 3); *p++ = 4;
    p = ngx_http_llmgw_test_u32(p, 0x7fffffff);
    *p++ = 4; p = ngx_cpymem(p, "long", 4); *p++ = 5;
    p = ngx_http_llmgw_test_u32(p, 0x80000000);
    p = ngx_http_llmgw_test_u32(p, 0);
    *p++ = 5; p = ngx_cpymem(p, "bytes", 5); *p++ = 6;
    *p++ = 0; *p++ = 3; *p++ = 0; *p++ = 1; *p++ = 2;
    *p++ = 6; p = ngx_cpymem(p, "string", 6); *p++ = 7; *p++ = 0; *p++ = 0;
    *p++ = 2; p = ngx_cpymem(p, "ts", 2); *p++ = 8;
    p = ngx_http_llmgw_test_u32(p, (uint32_t) (1718927998000LL >> 32));
    p = ngx_http_llmgw_test_u32(p, (uint32_t) 1718927998000LL);
    *p++ = 4; p = ngx_cpymem(p, "uuid", 4); *p++ = 9;
    p = ngx_cpymem(p, uuid, 16);

    len = ngx_http_llmgw_test_frame(buf, headers, p - headers,
                                    (u_char *) "x", 1);

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "pool");
        return;
    }

    ngx_http_llmgw_eventstream_init(&es, pool, 0);

    p = buf;

    if (!NGX_HTTP_LLMGW_CHECK(
            ngx_http_llmgw_eventstream_feed(&es, &p, buf + len) == NGX_OK
            && p == buf + len
            && es.msg.kind == NGX_HTTP_LLMGW_EVENTSTREAM_NONE
            && es.msg.payload.len == 1 && es.msg.payload.data[0] == 'x',
            "header types: every type parses"))
    {
        ngx_destroy_pool(pool);
        return;
    }

    p = es.msg.headers.data;
    last = p + es.msg.headers.len;

    for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        rc = ngx_http_llmgw_eventstream_next_header(&p, last, &h);

        NGX_HTTP_LLMGW_CHECK(rc == NGX_OK
                             && h.name.len == ngx_strlen(expect[i].name)
                             && ngx_strncmp(h.name.data, expect[i].name,
                                            h.name.len) == 0
                             && h.type == expect[i].type
                             && h.value.len == expect[i].len
                             && h.number == expect[i].number,
                             expect[i].name);
    }

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_eventstream_next_header(&p, last, &h)
                         == NGX_DONE,
                         "header types: then the end");

    ngx_destroy_pool(pool);
}


/* broken messages, each refused with its reason */

static void
ngx_http_llmgw_test_errors(void)
{
    u_char                         *p, headers[512], buf[1024];
    size_t                          len;
    ngx_uint_t                      i;
    ngx_http_llmgw_test_result_t    res;

    static struct {
        char  *err;
        char  *what;
    } tests[] = {
        { "prelude CRC mismatch", "error: prelude CRC flipped" },
        { "message CRC mismatch", "error: message CRC flipped" },
        { "message CRC mismatch", "error: payload byte flipped" },
        { "message too short", "error: total length 15" },
        { "headers length out of bounds", "error: headers past the end" },
        { "malformed header", "error: header type 10" },
        { "malformed header", "error: header name length 0" },
        { "malformed header", "error: string longer than the block" },
        { "malformed header", "error: int cut by the block's end" },
        { "duplicate reserved header", "error: two :message-type" },
        { "invalid reserved header", "error: :message-type as bytes" },
        { "invalid reserved header", "error: empty :event-type" },
        { "headers length out of bounds", "error: headers over 128 KiB" },
        { "message too long", "error: total length over 16 MiB" }
    };

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        p = headers;
        p = ngx_http_llmgw_test_str_header(p, ":message-type", "event");

        len = ngx_http_llmgw_test_frame(buf, headers, p - headers,
                                        (u_char *) "{}", 2);

        switch (i) {

        case 0:
            buf[10] ^= 0x01;
            break;

        case 1:
            buf[len - 1] ^= 0x80;
            break;

        case 2:
            buf[len - 5] ^= 0x20;
            break;

        case 3:
            len = ngx_http_llmgw_test_frame(buf, NULL, 0, NULL, 0);
            ngx_http_llmgw_test_u32(buf, 15);
            ngx_http_llmgw_test_u32(buf + 8,
                                    ngx_http_llmgw_test_crc32(buf, 8));
            break;

        case 4:
            ngx_http_llmgw_test_u32(buf + 4, len - 15);
            ngx_http_llmgw_test_u32(buf + 8,
                                    ngx_http_llmgw_test_crc32(buf, 8));
            break;

        case 5:
            p = headers;
            *p++ = 1; *p++ = 'a'; *p++ = 10;
            len = ngx_http_llmgw_test_frame(buf, headers, p - headers,
                                            NULL, 0);
            break;

        case 6:
            p = headers;
            *p++ = 0; *p++ = 0;
            len = ngx_http_llmgw_test_frame(buf, headers, p - headers,
                                            NULL, 0);
            break;

        case 7:
            p = headers;
            *p++ = 1; *p++ = 'a'; *p++ = 7; *p++ = 0; *p++ = 5;
            p = ngx_cpymem(p, "abcd", 4);
            len = ngx_http_llmgw_test_frame(buf, headers, p - headers,
                                            (u_char *) "e", 1);
            break;

        case 8:
            p = headers;
            *p++ = 1; *p++ = 'a'; *p++ = 4; *p++ = 0; *p++ = 0;
            len = ngx_http_llmgw_test_frame(buf, headers, p - headers,
                                            (u_char *) "\0\0", 2);
            break;

        case 9:
            p = ngx_http_llmgw_test_str_header(p, ":message-type",
                                               "exception");
            len = ngx_http_llmgw_test_frame(buf, headers, p - headers,
                                            NULL, 0);
            break;

        case 10:
            p = headers;
            *p++ = 13; p = ngx_cpymem(p, ":message-type", 13);
            *p++ = 6; *p++ = 0; *p++ = 5; p = ngx_cpymem(p, "event", 5);
            len = ngx_http_llmgw_test_frame(buf, headers, p - headers,
                                            NULL, 0);
            break;

        case 11:
            p = ngx_http_llmgw_test_str_header(p, ":event-type", "");
            len = ngx_http_llmgw_test_frame(buf, headers, p - headers,
                                            NULL, 0);
            break;

        case 12:
            /* only the prelude: refused before anything is gathered */
            ngx_http_llmgw_test_u32(buf, 200000);
            ngx_http_llmgw_test_u32(buf + 4, 128 * 1024 + 1);
            ngx_http_llmgw_test_u32(buf + 8,
                                    ngx_http_llmgw_test_crc32(buf, 8));
            len = 12;
            break;

        case 13:
            ngx_http_llmgw_test_u32(buf, 16 * 1024 * 1024 + 1);
            ngx_http_llmgw_test_u32(buf + 4, 0);
            ngx_http_llmgw_test_u32(buf + 8,
                                    ngx_http_llmgw_test_crc32(buf, 8));
            len = 12;
            break;
        }

        /* the largest limit, so only the format's bounds apply */

        ngx_http_llmgw_test_parse(buf, len, NULL, 0, 16 * 1024 * 1024, &res);

        NGX_HTTP_LLMGW_CHECK(res.rc == NGX_ERROR && res.messages == 0
                             && res.err != NULL
                             && ngx_strcmp(res.err, tests[i].err) == 0,
                             tests[i].what);

        if (res.err != NULL && ngx_strcmp(res.err, tests[i].err) != 0) {
            printf("# reason: %s\n", res.err);
        }
    }
}


/* the limit on a message, the bound on copies, errors that stay */

static void
ngx_http_llmgw_test_bounds(void)
{
    u_char                        *p, *pos, *end, *payload, *stream;
    size_t                         len, cut, total;
    ngx_int_t                      rc;
    ngx_pool_t                    *pool;
    ngx_http_llmgw_eventstream_t   es;
    ngx_http_llmgw_test_result_t   res;

    total = NGX_HTTP_LLMGW_EVENTSTREAM_MAX_MESSAGE;

    payload = ngx_alloc(total, &ngx_http_llmgw_unit_log);
    stream = ngx_alloc(2 * total + 64, &ngx_http_llmgw_unit_log);
    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);

    if (payload == NULL || stream == NULL || pool == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "alloc");
        goto done;
    }

    ngx_memset(payload, 'a', total);

    /* a message of exactly the default limit, then one byte longer */

    len = ngx_http_llmgw_test_frame(stream, NULL, 0, payload, total - 16);
    cut = len / 3;

    ngx_http_llmgw_test_parse(stream, len, &cut, 1, 0, &res);

    NGX_HTTP_LLMGW_CHECK(res.rc == NGX_OK && res.messages == 1
                         && res.copied == 1,
                         "bounds: a message of 1 MiB, gathered");

    len = ngx_http_llmgw_test_frame(stream, NULL, 0, payload, total - 15);

    ngx_http_llmgw_test_parse(stream, len, NULL, 0, 0, &res);

    NGX_HTTP_LLMGW_CHECK(res.rc == NGX_ERROR && res.err != NULL
                         && ngx_strcmp(res.err, "message too long") == 0,
                         "bounds: 1 MiB + 1 refused by default");

    ngx_http_llmgw_test_parse(stream, len, NULL, 0, 2 * total, &res);

    NGX_HTTP_LLMGW_CHECK(res.rc == NGX_OK && res.messages == 1,
                         "bounds: accepted under a larger limit");

    /* a small limit, refused from the prelude alone */

    len = ngx_http_llmgw_test_frame(stream, NULL, 0, payload, 49);
    cut = 12;

    ngx_http_llmgw_test_parse(stream, len, &cut, 1, 64, &res);

    NGX_HTTP_LLMGW_CHECK(res.rc == NGX_ERROR && res.err != NULL
                         && ngx_strcmp(res.err, "message too long") == 0,
                         "bounds: a 65-byte message over a limit of 64");

    /* gathered messages growing: the buffer never passes the limit */

    p = stream;
    p += ngx_http_llmgw_test_frame(p, NULL, 0, payload, 100);
    p += ngx_http_llmgw_test_frame(p, NULL, 0, payload, 3000);
    p += ngx_http_llmgw_test_frame(p, NULL, 0, payload, 20);
    p += ngx_http_llmgw_test_frame(p, NULL, 0, payload, 4000 - 16);
    len = p - stream;

    ngx_http_llmgw_eventstream_init(&es, pool, 4000);

    rc = NGX_OK;

    for (cut = 0; cut < len && rc != NGX_ERROR; cut += 7) {
        pos = stream + cut;
        end = stream + ngx_min(cut + 7, len);

        do {
            rc = ngx_http_llmgw_eventstream_feed(&es, &pos, end);
        } while (rc == NGX_OK && pos < end);
    }

    NGX_HTTP_LLMGW_CHECK(rc != NGX_ERROR && es.messages == 4
                         && es.size <= 4000 && es.size >= 4000 - 16,
                         "bounds: gathering buffer at most the limit");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_eventstream_finish(&es) == NGX_OK,
                         "bounds: the stream ended on a boundary");

    /* an error stays */

    len = ngx_http_llmgw_test_frame(stream, NULL, 0, payload, 10);
    stream[len - 1] ^= 1;
    len += ngx_http_llmgw_test_frame(stream + len, NULL, 0, payload, 10);

    ngx_http_llmgw_eventstream_init(&es, pool, 0);

    pos = stream;
    rc = ngx_http_llmgw_eventstream_feed(&es, &pos, stream + len);

    pos = stream + len / 2;

    NGX_HTTP_LLMGW_CHECK(rc == NGX_ERROR
                         && ngx_http_llmgw_eventstream_feed(&es, &pos,
                                                            stream + len)
                            == NGX_ERROR
                         && ngx_http_llmgw_eventstream_finish(&es)
                            == NGX_ERROR,
                         "bounds: an error is final");

    /* nothing fed, and an empty piece */

    ngx_http_llmgw_eventstream_init(&es, pool, 0);

    pos = stream;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_eventstream_feed(&es, &pos, stream)
                         == NGX_AGAIN
                         && pos == stream
                         && ngx_http_llmgw_eventstream_finish(&es) == NGX_OK,
                         "bounds: empty input");

done:

    if (payload) {
        ngx_free(payload);
    }

    if (stream) {
        ngx_free(stream);
    }

    if (pool) {
        ngx_destroy_pool(pool);
    }
}


static void
ngx_http_llmgw_test_kinds(void)
{
    u_char                        *p, headers[512], buf[1024];
    size_t                         len;
    ngx_http_llmgw_test_result_t   res;

    len = ngx_http_llmgw_test_event(buf, "error", NULL, NULL, "");
    ngx_http_llmgw_test_parse(buf, len, NULL, 0, 0, &res);

    NGX_HTTP_LLMGW_CHECK(res.rc == NGX_OK && res.messages == 1
                         && ngx_strncmp(res.text, "3|error|", 8) == 0,
                         "kind: error");

    len = ngx_http_llmgw_test_event(buf, "events", NULL, NULL, "");
    ngx_http_llmgw_test_parse(buf, len, NULL, 0, 0, &res);

    NGX_HTTP_LLMGW_CHECK(res.rc == NGX_OK
                         && ngx_strncmp(res.text, "4|events|", 9) == 0,
                         "kind: an unknown message type is other");

    len = ngx_http_llmgw_test_event(buf, "Exception", NULL, NULL, "");
    ngx_http_llmgw_test_parse(buf, len, NULL, 0, 0, &res);

    NGX_HTTP_LLMGW_CHECK(res.rc == NGX_OK
                         && ngx_strncmp(res.text, "4|Exception|", 12) == 0,
                         "kind: message types compare case-sensitively");

    /* an error message with its code and message, as AWS sends them */

    p = headers;
    p = ngx_http_llmgw_test_str_header(p, ":error-code", "InternalFailure");
    p = ngx_http_llmgw_test_str_header(p, ":error-message", "oops");
    p = ngx_http_llmgw_test_str_header(p, ":message-type", "error");
    p = ngx_http_llmgw_test_str_header(p, "other", "ignored");

    len = ngx_http_llmgw_test_frame(buf, headers, p - headers, NULL, 0);
    ngx_http_llmgw_test_parse(buf, len, NULL, 0, 0, &res);

    NGX_HTTP_LLMGW_CHECK(res.rc == NGX_OK
                         && res.len == sizeof("3|error||||InternalFailure|"
                                              "oops|106|\n") - 1
                         && ngx_strncmp(res.text, "3|error||||InternalFailure|"
                                        "oops|106|\n", res.len) == 0,
                         "kind: error code and message exposed");
}


int
main(void)
{
    int  rc;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    ngx_http_llmgw_test_vectors();
    ngx_http_llmgw_test_stream();
    ngx_http_llmgw_test_header_types();
    ngx_http_llmgw_test_errors();
    ngx_http_llmgw_test_bounds();
    ngx_http_llmgw_test_kinds();

    rc = ngx_http_llmgw_unit_done();

    ngx_http_llmgw_unit_cleanup();

    return rc;
}
