/* llmgw-unit-srcs: src/ngx_http_llmgw_redact.c src/ngx_http_llmgw_json.c */
/* llmgw-unit-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * The redactor: each kind of value replaced, at any depth, in arrays;
 * names with escapes; names that only look alike; a text cut at every
 * byte never shows a redacted value; event streams (LF, CRLF), data lines
 * joined, other lines kept; nesting past the bound; the count equals the
 * bytes written.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdio.h>
#include <string.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_redact.h"


static void ngx_http_llmgw_test_one(ngx_uint_t sse, char *in, char *expect);
static ngx_str_t *ngx_http_llmgw_test_run(ngx_uint_t sse, u_char *in,
    size_t len);
static void ngx_http_llmgw_test_prefixes(ngx_uint_t sse, char *in,
    char *secret);
static void ngx_http_llmgw_test_deep(void);


static ngx_str_t  ngx_http_llmgw_test_names[] = {
    ngx_string("messages"),
    ngx_string("content"),
    ngx_string("prompt"),
    ngx_string("text"),
};


static u_char  ngx_http_llmgw_test_buf[65536];
static ngx_str_t  ngx_http_llmgw_test_out;


int
main(void)
{
    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 1;
    }

    /* every kind of value */

    ngx_http_llmgw_test_one(0,
        "{\"model\":\"m\",\"prompt\":\"secret\",\"n\":1}",
        "{\"model\":\"m\",\"prompt\":\"[redacted]\",\"n\":1}");

    ngx_http_llmgw_test_one(0,
        "{\"prompt\": 12.5e3 , \"text\":true,\"content\":null}",
        "{\"prompt\": \"[redacted]\" , \"text\":\"[redacted]\","
        "\"content\":\"[redacted]\"}");

    ngx_http_llmgw_test_one(0,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"a}]\\\"\"}],"
        "\"max_tokens\":5}",
        "{\"messages\":\"[redacted]\",\"max_tokens\":5}");

    ngx_http_llmgw_test_one(0,
        "{\"messages\" : {\"a\":[1,{\"b\":\"]}\"}]} ,\"x\":\"prompt\"}",
        "{\"messages\" : \"[redacted]\" ,\"x\":\"prompt\"}");

    /* deep, in arrays; a value equal to a name is no name */

    ngx_http_llmgw_test_one(0,
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
        "\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"yo\"}]}}],"
        "\"role\":\"text\"}",
        "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":"
        "\"[redacted]\"}]}],\"candidates\":[{\"content\":\"[redacted]\"}],"
        "\"role\":\"text\"}");

    ngx_http_llmgw_test_one(0, "[\"prompt\",{\"prompt\":[]}]",
                            "[\"prompt\",{\"prompt\":\"[redacted]\"}]");

    /* escaped names are names; near names are not */

    ngx_http_llmgw_test_one(0,
        "{\"pr\\u006fmpt\":\"s\",\"te\\u0078t\":1,\"Prompt\":\"k\","
        "\"prompts\":\"k\",\"promp\":\"k\",\"pro\\mpt\":\"k\"}",
        "{\"pr\\u006fmpt\":\"[redacted]\",\"te\\u0078t\":\"[redacted]\","
        "\"Prompt\":\"k\",\"prompts\":\"k\",\"promp\":\"k\","
        "\"pro\\mpt\":\"[redacted]\"}");

    ngx_http_llmgw_test_one(0, "{\"text\\uZZ\":\"k\",\"a\":1}",
                            "{\"text\\uZZ\":\"k\",\"a\":1}");

    /* several documents; garbage passes as it is */

    ngx_http_llmgw_test_one(0, "{\"text\":\"a\"}\n{\"text\":\"b\"}\nxyz",
                            "{\"text\":\"[redacted]\"}\n"
                            "{\"text\":\"[redacted]\"}\nxyz");

    ngx_http_llmgw_test_one(0, "", "");

    /* event streams */

    ngx_http_llmgw_test_one(1,
        "event: message\ndata: {\"text\":\"a\",\"n\":1}\n\n"
        "data: {\"content\":\r\ndata: \"b\"}\r\n\r\n"
        ": text\nid: 1\ndata: [DONE]\n\n",
        "event: message\ndata: {\"text\":\"[redacted]\",\"n\":1}\n\n"
        "data: {\"content\":\r\ndata: \"[redacted]\"}\r\n\r\n"
        ": text\nid: 1\ndata: [DONE]\n\n");

    /* an event that ends inside a value: the next one starts afresh */

    ngx_http_llmgw_test_one(1,
        "data: {\"text\":\"a\n\ndata: {\"n\":\"text\",\"b\":1}\n\n",
        "data: {\"text\":\"[redacted]\"\n\n"
        "data: {\"n\":\"text\",\"b\":1}\n\n");

    /* cut anywhere, the secret never shows */

    ngx_http_llmgw_test_prefixes(0,
        "{\"messages\":[{\"role\":\"user\",\"content\":\"SECRET\"}],"
        "\"prompt\":\"SECRET\",\"text\":{\"a\":\"SECRET\"},"
        "\"content\":SECRET}", "SECRET");

    ngx_http_llmgw_test_prefixes(1,
        "data: {\"contents\":[{\"parts\":[{\"text\":\"SECRET\"}]}]}\r\n\r\n"
        "data: {\"content\":\n"
        "data: \"SECRET\"}\n\n", "SECRET");

    ngx_http_llmgw_test_prefixes(0,
        "{\"pr\\u006fmpt\":\"SECRET\",\"te\\u0078t\":SECRET}", "SECRET");

    ngx_http_llmgw_test_deep();

    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}


static void
ngx_http_llmgw_test_one(ngx_uint_t sse, char *in, char *expect)
{
    ngx_str_t  *out;

    out = ngx_http_llmgw_test_run(sse, (u_char *) in, ngx_strlen(in));

    if (!ngx_http_llmgw_unit_check(out->len == ngx_strlen(expect)
                                   && ngx_memcmp(out->data, expect,
                                                 out->len) == 0,
                                   "redact %s%.*s", sse ? "sse " : "",
                                   (int) ngx_min(strcspn(in, "\r\n"), 60),
                                   in))
    {
        printf("# got    %.*s\n# expect %s\n", (int) out->len, out->data,
               expect);
    }
}


/* counted, then written: both must agree, and nothing past the count */

static ngx_str_t *
ngx_http_llmgw_test_run(ngx_uint_t sse, u_char *in, size_t len)
{
    size_t                        n, w;
    ngx_http_llmgw_redact_conf_t  conf;

    conf.names = ngx_http_llmgw_test_names;
    conf.nnames = sizeof(ngx_http_llmgw_test_names) / sizeof(ngx_str_t);
    conf.sse = sse;

    n = ngx_http_llmgw_redact(&conf, in, len, NULL);

    if (n + 1 > sizeof(ngx_http_llmgw_test_buf)) {
        ngx_http_llmgw_unit_check(0, "output fits the test buffer");
        ngx_http_llmgw_test_out.len = 0;
        return &ngx_http_llmgw_test_out;
    }

    ngx_http_llmgw_test_buf[n] = 0xa5;

    w = ngx_http_llmgw_redact(&conf, in, len, ngx_http_llmgw_test_buf);

    if (w != n || ngx_http_llmgw_test_buf[n] != 0xa5) {
        ngx_http_llmgw_unit_check(0, "written %zu as counted %zu", w, n);
    }

    ngx_http_llmgw_test_out.data = ngx_http_llmgw_test_buf;
    ngx_http_llmgw_test_out.len = w;

    return &ngx_http_llmgw_test_out;
}


static void
ngx_http_llmgw_test_prefixes(ngx_uint_t sse, char *in, char *secret)
{
    size_t      i, len, leaks;
    ngx_str_t  *out;

    len = ngx_strlen(in);
    leaks = 0;

    for (i = 0; i <= len; i++) {
        out = ngx_http_llmgw_test_run(sse, (u_char *) in, i);

        /* any 3 bytes of the secret */

        if (ngx_strlcasestrn(out->data, out->data + out->len,
                             (u_char *) secret, 2) != NULL)
        {
            printf("# leaked at %zu: %.*s\n", i, (int) out->len, out->data);
            leaks++;
        }
    }

    ngx_http_llmgw_unit_check(leaks == 0, "no prefix of %.*s shows %s",
                              (int) ngx_min(strcspn(in, "\r\n"), 40), in,
                              secret);
}


static void
ngx_http_llmgw_test_deep(void)
{
    u_char      *p;
    size_t       i;
    ngx_str_t   *out;
    static u_char  in[4096], expect[4096];

    /* 64 levels kept, the 65th redacted whole, then the rest goes on */

    p = in;

    for (i = 0; i < NGX_HTTP_LLMGW_REDACT_MAX_DEPTH; i++) {
        *p++ = '[';
    }

    p = ngx_cpymem(p, "{\"a\":{\"text\":1}}", 16);

    for (i = 0; i < NGX_HTTP_LLMGW_REDACT_MAX_DEPTH; i++) {
        *p++ = ']';
    }

    p = ngx_cpymem(p, "{\"text\":2,\"b\":3}", 16);

    out = ngx_http_llmgw_test_run(0, in, p - in);

    p = expect;
    ngx_memset(p, '[', NGX_HTTP_LLMGW_REDACT_MAX_DEPTH);
    p += NGX_HTTP_LLMGW_REDACT_MAX_DEPTH;
    p = ngx_cpymem(p, "\"[redacted]\"", 12);
    ngx_memset(p, ']', NGX_HTTP_LLMGW_REDACT_MAX_DEPTH);
    p += NGX_HTTP_LLMGW_REDACT_MAX_DEPTH;
    p = ngx_cpymem(p, "{\"text\":\"[redacted]\",\"b\":3}", 27);

    ngx_http_llmgw_unit_check((size_t) (p - expect) == out->len
                              && ngx_memcmp(expect, out->data, out->len)
                                 == 0,
                              "nesting past the bound redacted whole");

    /* 2000 levels inside a redacted value: a counter, no stack */

    p = ngx_cpymem(in, "{\"text\":", 8);
    ngx_memset(p, '[', 2000);
    out = ngx_http_llmgw_test_run(0, in, 8 + 2000);

    ngx_http_llmgw_unit_check(out->len == 20
                              && ngx_strncmp(out->data,
                                             "{\"text\":\"[redacted]\"", 20)
                                 == 0,
                              "deep redacted value");
}
