/* llmgw-unit-srcs: src/ngx_http_llmgw_include_usage.c */
/* llmgw-unit-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * include_usage: the request body rewrite (inserted where, replaced when
 * false, every case left unchanged with its reason) and the SSE filter (a
 * stream as OpenAI and Azure send it with include_usage comes out as they
 * send it without, cut at every byte, byte by byte, with LF, CRLF and CR
 * line ends; events that are not changed; an oversized event; an
 * incomplete last event; the region bound).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdio.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_include_usage.h"


#define NGX_HTTP_LLMGW_TEST_OUT   65536


typedef struct {
    u_char      data[NGX_HTTP_LLMGW_TEST_OUT];
    size_t      len;
    ngx_uint_t  spans;
    ngx_uint_t  overflow;
} ngx_http_llmgw_test_out_t;


static void ngx_http_llmgw_test_request(ngx_pool_t *pool, char *in,
    char *expect, char *reason);
static ngx_int_t ngx_http_llmgw_test_emit(void *data, u_char *p, size_t len);
static void ngx_http_llmgw_test_filter(ngx_pool_t *pool, u_char *in,
    size_t len, size_t *cuts, ngx_uint_t ncuts, size_t max,
    ngx_http_llmgw_test_out_t *out, ngx_http_llmgw_include_usage_sse_t *f);
static void ngx_http_llmgw_test_stream(ngx_pool_t *pool, char *with,
    char *without, const char *what);
static void ngx_http_llmgw_test_eol(char *src, char *dst, const char *eol);
static void ngx_http_llmgw_test_requests(ngx_pool_t *pool);
static void ngx_http_llmgw_test_streams(ngx_pool_t *pool);
static void ngx_http_llmgw_test_bounds(ngx_pool_t *pool);


/* a chat stream as OpenAI sends it with include_usage, and without */

static char  ngx_http_llmgw_test_with[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}],"
    "\"usage\":null}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"usage\\\"\"}}],"
    "\"usage\":null}\n\n"
    ": a comment\n\n"
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},"
    "\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
    "\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
    "\"completion_tokens\":2,\"total_tokens\":5}}\n\n"
    "data: [DONE]\n\n";

static char  ngx_http_llmgw_test_without[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"usage\\\"\"}}]}\n\n"
    ": a comment\n\n"
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},"
    "\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

/* Azure's: the prompt filter chunk (empty choices, no usage) stays */

static char  ngx_http_llmgw_test_azure_with[] =
    "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\","
    "\"prompt_filter_results\":[{\"prompt_index\":0}]}\n\n"
    "data: { \"usage\" : null , \"id\":\"c2\", \"choices\" : [ {\"i\":0} ]"
    " }\n\n"
    "data:{\"id\":\"c2\",\"choices\":[{\"i\":1}],\"usage\":null}\n\n"
    "data: {\"id\":\"c2\",\"choices\":[ ],\"usage\":{\"total_tokens\":9}}"
    "\n\n"
    "data: [DONE]\n\n";

static char  ngx_http_llmgw_test_azure_without[] =
    "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\","
    "\"prompt_filter_results\":[{\"prompt_index\":0}]}\n\n"
    "data: { \"id\":\"c2\", \"choices\" : [ {\"i\":0} ] }\n\n"
    "data:{\"id\":\"c2\",\"choices\":[{\"i\":1}]}\n\n"
    "data: [DONE]\n\n";

/* events left as they are */

static char  ngx_http_llmgw_test_unchanged[] =
    "data: {\"usage\":null,\"usage\":null}\n\n"
    "data: {\"usage\":null\n\n"
    "data: {\"choices\":[],\"usage\":{\"a\":1}} x\n\n"
    "data: {\"choices\":[1],\"usage\":{\"a\":1}}\n\n"
    "data: {\"choices\":[],\"usage\":{\"a\":1},\"choices\":[]}\n\n"
    "data: {\"a\":{\"usage\":null}}\n\n"
    "data: {\"usage\":0}\n\n"
    "data: {\"a\":1}\ndata: {\"usage\":null}\n\n"
    "event: x\nid: 1\nretry: 5\n\n"
    "data\n\n"
    "datum: {\"usage\":null}\n\n"
    "\n\n\n";


int
main(void)
{
    ngx_pool_t  *pool;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 1;
    }

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        return 1;
    }

    ngx_http_llmgw_test_requests(pool);
    ngx_http_llmgw_test_streams(pool);
    ngx_http_llmgw_test_bounds(pool);

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}


static void
ngx_http_llmgw_test_requests(ngx_pool_t *pool)
{
    u_char  *p;
    char     deep[200], *d;
    size_t   i;

    /* added */

    ngx_http_llmgw_test_request(pool,
        "{\"stream\":true,\"messages\":[]}",
        "{\"stream\":true,\"stream_options\":{\"include_usage\":true},"
        "\"messages\":[]}", NULL);

    ngx_http_llmgw_test_request(pool,
        " {\"messages\":[{\"content\":\"\\\"stream\\\":true\"}],"
        " \"stream\" : true }\n",
        " {\"messages\":[{\"content\":\"\\\"stream\\\":true\"}],"
        " \"stream\" : true,\"stream_options\":{\"include_usage\":true} }\n",
        NULL);

    ngx_http_llmgw_test_request(pool,
        "{\"stream_options\":{},\"stream\":true}",
        "{\"stream_options\":{\"include_usage\":true},\"stream\":true}",
        NULL);

    ngx_http_llmgw_test_request(pool,
        "{\"stream\":true,\"stream_options\": { \"x\":1 } }",
        "{\"stream\":true,\"stream_options\": {\"include_usage\":true, "
        "\"x\":1 } }", NULL);

    ngx_http_llmgw_test_request(pool,
        "{\"stream\":true,\"stream_options\":{\"include_usage\":false,"
        "\"y\":[]}}",
        "{\"stream\":true,\"stream_options\":{\"include_usage\":true,"
        "\"y\":[]}}", NULL);

    ngx_http_llmgw_test_request(pool,
        "{\"stre\\u0061m\":true,\"prompt\":\"\\ud83d\\ude00\"}",
        "{\"stre\\u0061m\":true,\"stream_options\":{\"include_usage\":true},"
        "\"prompt\":\"\\ud83d\\ude00\"}", NULL);

    ngx_http_llmgw_test_request(pool,
        "{\"stream\":true,\"stream_options\":{\"include\\u005fusage\":"
        "false}}",
        "{\"stream\":true,\"stream_options\":{\"include\\u005fusage\":"
        "true}}", NULL);

    ngx_http_llmgw_test_request(pool,
        "{\"n\":-1.5e+3,\"t\":[true,false,null,{},[]],\"stream\":true}",
        "{\"n\":-1.5e+3,\"t\":[true,false,null,{},[]],\"stream\":true,"
        "\"stream_options\":{\"include_usage\":true}}", NULL);

    /* unchanged, each with its reason */

    ngx_http_llmgw_test_request(pool,
        "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
        NULL, "the client asked for usage itself");

    ngx_http_llmgw_test_request(pool, "{\"messages\":[]}", NULL,
                                "not streamed");
    ngx_http_llmgw_test_request(pool, "{\"stream\":false}", NULL,
                                "not streamed");
    ngx_http_llmgw_test_request(pool, "{\"stream\":\"true\"}", NULL,
                                "not streamed");
    ngx_http_llmgw_test_request(pool, "{\"x\":{\"stream\":true}}", NULL,
                                "not streamed");
    ngx_http_llmgw_test_request(pool, "{\"Stream\":true}", NULL,
                                "not streamed");

    ngx_http_llmgw_test_request(pool,
        "{\"stream\":true,\"stream_options\":null}", NULL,
        "\"stream_options\" is not an object");
    ngx_http_llmgw_test_request(pool,
        "{\"stream\":true,\"stream_options\":[]}", NULL,
        "\"stream_options\" is not an object");
    ngx_http_llmgw_test_request(pool,
        "{\"stream\":true,\"stream_options\":{\"include_usage\":1}}", NULL,
        "\"include_usage\" is not a boolean");
    ngx_http_llmgw_test_request(pool,
        "{\"stream\":true,\"stream_options\":{\"include_usage\":null}}",
        NULL, "\"include_usage\" is not a boolean");

    ngx_http_llmgw_test_request(pool,
        "{\"stream\":true,\"stream\":true}", NULL,
        "\"stream\" or \"stream_options\" is duplicate");
    ngx_http_llmgw_test_request(pool,
        "{\"stream\":true,\"stream_options\":{},\"stream_op\\u0074ions\":{}}",
        NULL, "\"stream\" or \"stream_options\" is duplicate");
    ngx_http_llmgw_test_request(pool,
        "{\"stream\":true,\"stream_options\":{\"include_usage\":false,"
        "\"include_usage\":false}}",
        NULL, "\"include_usage\" is duplicate");

    ngx_http_llmgw_test_request(pool, "", NULL,
                                "the body is not a JSON object");
    ngx_http_llmgw_test_request(pool, "[{\"stream\":true}]", NULL,
                                "the body is not a JSON object");
    ngx_http_llmgw_test_request(pool, "{\"stream\":true} {}", NULL,
                                "the body is not one valid JSON object");
    ngx_http_llmgw_test_request(pool, "{\"stream\":true", NULL,
                                "the body is not one valid JSON object");
    ngx_http_llmgw_test_request(pool, "{\"stream\":true,}", NULL,
                                "the body is not one valid JSON object");
    ngx_http_llmgw_test_request(pool, "{\"stream\":true,\"a\":01}", NULL,
                                "the body is not one valid JSON object");
    ngx_http_llmgw_test_request(pool, "{\"stream\":true,\"a\":\"\t\"}", NULL,
                                "the body is not one valid JSON object");
    ngx_http_llmgw_test_request(pool, "{\"stream\":true,\"a\":\"\\x\"}",
                                NULL,
                                "the body is not one valid JSON object");
    ngx_http_llmgw_test_request(pool, "{\"stream\":true,\"a\":[1 2]}", NULL,
                                "the body is not one valid JSON object");
    ngx_http_llmgw_test_request(pool, "{\"stream\":true,\"a\":{\"b\"}}", NULL,
                                "the body is not one valid JSON object");
    ngx_http_llmgw_test_request(pool, "{\"stream\":tru}", NULL,
                                "the body is not one valid JSON object");

    /* Azure api-versions that know stream_options */

    {
        static struct {
            char        *v;
            ngx_uint_t   ok;
        } versions[] = {
            { "2024-10-21", 1 }, { "2025-04-01", 1 }, { "2024-10-20", 0 },
            { "2024-06-01", 0 }, { "2023-05-15", 0 },
            { "2024-09-01-preview", 1 }, { "2025-04-01-preview", 1 },
            { "2024-08-01-preview", 0 }, { "2024-10-21-Preview", 0 },
            { "2024-10-21x", 0 }, { "2024-1a-21", 0 }, { "2024_10_21", 0 },
            { "preview", 0 }, { "", 0 }, { "2024-10-2", 0 }
        };

        for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
            ngx_http_llmgw_unit_check(
                ngx_http_llmgw_include_usage_azure_version(
                    (u_char *) versions[i].v, ngx_strlen(versions[i].v))
                == versions[i].ok,
                "Azure api-version \"%s\": %s", versions[i].v,
                versions[i].ok ? "stream_options" : "none");
        }
    }

    /* nesting: 64 levels under the root object pass, 65 do not */

    d = deep;
    d += sprintf(d, "{\"stream\":true,\"a\":");
    for (i = 0; i < 64; i++) {
        *d++ = '[';
    }
    for (i = 0; i < 64; i++) {
        *d++ = ']';
    }
    d += sprintf(d, "}");

    p = (u_char *) deep;
    (void) p;

    {
        ngx_str_t    out;
        const char  *reason;
        ngx_int_t    rc;

        rc = ngx_http_llmgw_include_usage_request(pool, (u_char *) deep,
                                                  d - deep, &out, &reason);
        NGX_HTTP_LLMGW_CHECK(rc == NGX_OK, "64 levels of nesting are read");

        d = deep;
        d += sprintf(d, "{\"stream\":true,\"a\":");
        for (i = 0; i < 65; i++) {
            *d++ = '[';
        }
        for (i = 0; i < 65; i++) {
            *d++ = ']';
        }
        d += sprintf(d, "}");

        rc = ngx_http_llmgw_include_usage_request(pool, (u_char *) deep,
                                                  d - deep, &out, &reason);
        NGX_HTTP_LLMGW_CHECK(rc == NGX_DECLINED
                             && ngx_strcmp(reason, "the body is not one "
                                           "valid JSON object") == 0,
                             "65 levels of nesting are refused");
    }
}


static void
ngx_http_llmgw_test_request(ngx_pool_t *pool, char *in, char *expect,
    char *reason)
{
    u_char      *copy;
    size_t       len;
    ngx_int_t    rc;
    ngx_str_t    out;
    const char  *why;

    /* a copy of its own, so that ASan sees any read past the end */

    len = ngx_strlen(in);

    copy = ngx_alloc(len ? len : 1, &ngx_http_llmgw_unit_log);
    if (copy == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "alloc");
        return;
    }

    ngx_memcpy(copy, in, len);

    why = NULL;
    rc = ngx_http_llmgw_include_usage_request(pool, copy, len, &out, &why);

    if (expect) {
        ngx_http_llmgw_unit_check(rc == NGX_OK
                                  && out.len == ngx_strlen(expect)
                                  && ngx_memcmp(out.data, expect, out.len)
                                     == 0,
                                  "request %s rewritten as %s (got %d %.*s)",
                                  in, expect, (int) rc,
                                  rc == NGX_OK ? (int) out.len : 0,
                                  rc == NGX_OK ? (char *) out.data : "");
    } else {
        ngx_http_llmgw_unit_check(rc == NGX_DECLINED && why != NULL
                                  && ngx_strcmp(why, reason) == 0,
                                  "request %s unchanged: %s (got %d %s)",
                                  in, reason, (int) rc,
                                  why ? why : "-");
    }

    ngx_free(copy);
}


static ngx_int_t
ngx_http_llmgw_test_emit(void *data, u_char *p, size_t len)
{
    ngx_http_llmgw_test_out_t  *out = data;

    if (len == 0) {
        out->overflow = 1;
        return NGX_ERROR;
    }

    if (out->len + len > NGX_HTTP_LLMGW_TEST_OUT) {
        out->overflow = 1;
        return NGX_ERROR;
    }

    ngx_memcpy(out->data + out->len, p, len);
    out->len += len;
    out->spans++;

    return NGX_OK;
}


/*
 * The filter fed in pieces cut at cuts (each piece in a buffer of its own,
 * freed after the call), released after each piece, finished at the end.
 */

static void
ngx_http_llmgw_test_filter(ngx_pool_t *pool, u_char *in, size_t len,
    size_t *cuts, ngx_uint_t ncuts, size_t max,
    ngx_http_llmgw_test_out_t *out, ngx_http_llmgw_include_usage_sse_t *f)
{
    u_char      *piece;
    size_t       from, to;
    ngx_int_t    rc;
    ngx_uint_t   i;

    ngx_memzero(out, sizeof(ngx_http_llmgw_test_out_t));

    ngx_http_llmgw_include_usage_sse_init(f, pool, max, 256,
                                          ngx_http_llmgw_test_emit, out);

    from = 0;
    rc = NGX_OK;

    for (i = 0; i <= ncuts && rc == NGX_OK; i++) {
        to = (i < ncuts) ? cuts[i] : len;

        if (to < from) {
            to = from;
        }

        piece = ngx_alloc(to - from + 1, &ngx_http_llmgw_unit_log);
        if (piece == NULL) {
            out->overflow = 1;
            return;
        }

        ngx_memcpy(piece, in + from, to - from);

        rc = ngx_http_llmgw_include_usage_sse_feed(f, piece,
                                                   piece + (to - from));
        ngx_free(piece);

        ngx_http_llmgw_include_usage_sse_release(f);

        from = to;
    }

    if (rc == NGX_OK) {
        rc = ngx_http_llmgw_include_usage_sse_finish(f);
    }

    if (rc != NGX_OK) {
        out->overflow = 1;
    }
}


static void
ngx_http_llmgw_test_stream(ngx_pool_t *pool, char *with, char *without,
    const char *what)
{
    size_t                               len, cut, *cuts, i;
    ngx_uint_t                           ok;
    ngx_http_llmgw_test_out_t           *out;
    ngx_http_llmgw_include_usage_sse_t   f;

    out = ngx_alloc(sizeof(ngx_http_llmgw_test_out_t),
                    &ngx_http_llmgw_unit_log);
    if (out == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "alloc");
        return;
    }

    len = ngx_strlen(with);

    ngx_http_llmgw_test_filter(pool, (u_char *) with, len, NULL, 0,
                               NGX_HTTP_LLMGW_INCLUDE_USAGE_EVENT_MAX, out,
                               &f);

    ngx_http_llmgw_unit_check(!out->overflow
                              && out->len == ngx_strlen(without)
                              && ngx_memcmp(out->data, without, out->len)
                                 == 0,
                              "%s: in one piece, as sent without "
                              "include_usage (got %.*s)", what,
                              (int) out->len, out->data);

    /* cut once at every byte */

    ok = 1;

    for (cut = 0; cut <= len; cut++) {
        ngx_http_llmgw_test_filter(pool, (u_char *) with, len, &cut, 1,
                                   NGX_HTTP_LLMGW_INCLUDE_USAGE_EVENT_MAX,
                                   out, &f);

        if (out->overflow
            || out->len != ngx_strlen(without)
            || ngx_memcmp(out->data, without, out->len) != 0)
        {
            ok = 0;
            ngx_http_llmgw_unit_check(0, "%s: cut at %zu", what, cut);
            break;
        }
    }

    ngx_http_llmgw_unit_check(ok, "%s: cut at every byte", what);

    /* byte by byte */

    cuts = ngx_alloc(len * sizeof(size_t) + 1, &ngx_http_llmgw_unit_log);
    if (cuts == NULL) {
        ngx_free(out);
        return;
    }

    for (i = 0; i < len; i++) {
        cuts[i] = i + 1;
    }

    ngx_http_llmgw_test_filter(pool, (u_char *) with, len, cuts, len,
                               NGX_HTTP_LLMGW_INCLUDE_USAGE_EVENT_MAX, out,
                               &f);

    ngx_http_llmgw_unit_check(!out->overflow
                              && out->len == ngx_strlen(without)
                              && ngx_memcmp(out->data, without, out->len)
                                 == 0
                              && f.regions == 1,
                              "%s: byte by byte, one region (%zu)", what,
                              (size_t) f.regions);

    ngx_free(cuts);
    ngx_free(out);
}


/* src with every "\n\n" and "\n" turned into eol line ends */

static void
ngx_http_llmgw_test_eol(char *src, char *dst, const char *eol)
{
    for ( /* void */ ; *src; src++) {
        if (*src == '\n') {
            dst += sprintf(dst, "%s", eol);

        } else {
            *dst++ = *src;
        }
    }

    *dst = '\0';
}


static void
ngx_http_llmgw_test_streams(ngx_pool_t *pool)
{
    static char  with[4096], without[4096];

    ngx_http_llmgw_test_stream(pool, ngx_http_llmgw_test_with,
                               ngx_http_llmgw_test_without, "OpenAI chat");

    ngx_http_llmgw_test_stream(pool, ngx_http_llmgw_test_azure_with,
                               ngx_http_llmgw_test_azure_without,
                               "Azure chat");

    ngx_http_llmgw_test_stream(pool, ngx_http_llmgw_test_unchanged,
                               ngx_http_llmgw_test_unchanged,
                               "events left unchanged");

    ngx_http_llmgw_test_eol(ngx_http_llmgw_test_with, with, "\r\n");
    ngx_http_llmgw_test_eol(ngx_http_llmgw_test_without, without, "\r\n");
    ngx_http_llmgw_test_stream(pool, with, without, "CRLF line ends");

    ngx_http_llmgw_test_eol(ngx_http_llmgw_test_with, with, "\r");
    ngx_http_llmgw_test_eol(ngx_http_llmgw_test_without, without, "\r");
    ngx_http_llmgw_test_stream(pool, with, without, "CR line ends");

    /* a usage chunk ending in CR CR LF: its LF goes with it */

    ngx_http_llmgw_test_stream(pool,
        "data: {\"choices\":[],\"usage\":{}}\r\r\ndata: [DONE]\r\r\n",
        "data: [DONE]\r\r\n", "CR CR LF after the usage chunk");

    ngx_http_llmgw_test_stream(pool,
        "data: {\"usage\":null}\n\ndata: {\"usage\":null,\"a\":1}\n\n",
        "data: {}\n\ndata: {\"a\":1}\n\n", "usage first, usage alone");

    /* the last event incomplete: passed on as it came */

    ngx_http_llmgw_test_stream(pool,
        "data: {\"a\":1,\"usage\":null}\n\ndata: {\"a\":2,\"usage\":null}\n",
        "data: {\"a\":1}\n\ndata: {\"a\":2,\"usage\":null}\n",
        "an incomplete last event");
}


static void
ngx_http_llmgw_test_bounds(ngx_pool_t *pool)
{
    size_t                               cuts[3];
    ngx_http_llmgw_test_out_t           *out;
    ngx_http_llmgw_include_usage_sse_t   f;

    static char  in[] =
        "data: {\"a\":1,\"usage\":null}\n\n"                     /* 29 */
        "data: {\"a\":\"0123456789012345678901234\",\"usage\":null}\n\n"
        "data: {\"b\":1,\"usage\":null}\n\n";

    static char  expect[] =
        "data: {\"a\":1}\n\n"
        "data: {\"a\":\"0123456789012345678901234\",\"usage\":null}\n\n"
        "data: {\"b\":1}\n\n";

    out = ngx_alloc(sizeof(ngx_http_llmgw_test_out_t),
                    &ngx_http_llmgw_unit_log);
    if (out == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "alloc");
        return;
    }

    /* max 40: the second event (58 bytes) is oversized, whole or cut */

    ngx_http_llmgw_test_filter(pool, (u_char *) in, sizeof(in) - 1, NULL, 0,
                               40, out, &f);

    ngx_http_llmgw_unit_check(!out->overflow
                              && out->len == sizeof(expect) - 1
                              && ngx_memcmp(out->data, expect, out->len) == 0
                              && f.oversized == 1 && f.stripped == 2,
                              "an oversized event in one piece passes "
                              "unchanged (got %.*s)", (int) out->len,
                              out->data);

    cuts[0] = 35;
    cuts[1] = 60;
    cuts[2] = 80;

    ngx_http_llmgw_test_filter(pool, (u_char *) in, sizeof(in) - 1, cuts, 3,
                               40, out, &f);

    ngx_http_llmgw_unit_check(!out->overflow
                              && out->len == sizeof(expect) - 1
                              && ngx_memcmp(out->data, expect, out->len) == 0
                              && f.oversized == 1
                              && (size_t) (f.last - f.hold) == 0,
                              "an oversized event in pieces passes "
                              "unchanged, nothing of it held");

    /* an event of 40 bytes is inspected with a maximum of 40 */

    ngx_http_llmgw_test_filter(pool,
        (u_char *) "data: {\"a\":\"12345678901\",\"usage\":null}\n\n", 40,
        NULL, 0, 40, out, &f);

    ngx_http_llmgw_unit_check(out->len == 27 && f.stripped == 1,
                              "an event of the maximum is inspected");

    ngx_http_llmgw_test_filter(pool,
        (u_char *) "data: {\"a\":\"12345678901\",\"usage\":null}\n\n", 40,
        NULL, 0, 39, out, &f);

    ngx_http_llmgw_unit_check(out->len == 40 && f.oversized == 1,
                              "an event one byte over is not");

    /* no release: a full region is replaced, the output still right */

    ngx_memzero(out, sizeof(ngx_http_llmgw_test_out_t));

    ngx_http_llmgw_include_usage_sse_init(&f, pool, 40, 16,
                                          ngx_http_llmgw_test_emit, out);
    {
        size_t  i;

        for (i = 0; i < sizeof(in) - 1; i++) {
            if (ngx_http_llmgw_include_usage_sse_feed(&f, (u_char *) in + i,
                                                      (u_char *) in + i + 1)
                != NGX_OK)
            {
                break;
            }
        }
    }

    ngx_http_llmgw_unit_check(out->len == sizeof(expect) - 1
                              && ngx_memcmp(out->data, expect, out->len) == 0
                              && f.regions > 1,
                              "without release the region is replaced "
                              "(%zu regions)", (size_t) f.regions);

    ngx_free(out);
}
