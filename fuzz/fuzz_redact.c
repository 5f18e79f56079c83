/* llmgw-fuzz-srcs: src/ngx_http_llmgw_redact.c src/ngx_http_llmgw_json.c */
/* llmgw-fuzz-libs: -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: the body redactor.
 *
 * Input: a flags byte, then the bytes.  Bit 0: the text is an event stream.
 * Bit 1 clear: the bytes are redacted as they are; the count must equal
 * what is written, and the output escaped by the JSON writer, in quotes,
 * must parse back (jansson) as one string.
 * Bit 1 set: the bytes drive a generator of JSON text (objects, arrays,
 * strings with escapes, numbers, literals, names among them the redacted
 * ones, some written with \u escapes; for an event stream, data lines
 * split where a byte says, events ended by blank lines); every byte of a
 * redacted member's value that is not structure is 0x01, a byte the
 * generator writes nowhere else.  The text is redacted whole and cut at
 * every length: no output may hold 0x01.  Anything else aborts.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "ngx_http_llmgw_redact.h"
#include "ngx_http_llmgw_json.h"
#include "ngx_http_llmgw_unit.h"


#define NGX_HTTP_LLMGW_FUZZ_MAX    8192
#define NGX_HTTP_LLMGW_FUZZ_SECRET 0x01


typedef struct {
    const uint8_t  *in;
    const uint8_t  *end;
    u_char         *out;
    u_char         *last;
    ngx_uint_t      depth;
    ngx_uint_t      sse;
} ngx_http_llmgw_fuzz_gen_t;


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_http_llmgw_fuzz_raw(ngx_uint_t sse, u_char *data,
    size_t len);
static void ngx_http_llmgw_fuzz_generated(ngx_uint_t sse,
    const uint8_t *data, size_t len);
static u_char ngx_http_llmgw_fuzz_next(ngx_http_llmgw_fuzz_gen_t *g);
static void ngx_http_llmgw_fuzz_put(ngx_http_llmgw_fuzz_gen_t *g, u_char c);
static void ngx_http_llmgw_fuzz_puts(ngx_http_llmgw_fuzz_gen_t *g,
    const char *s);
static void ngx_http_llmgw_fuzz_value(ngx_http_llmgw_fuzz_gen_t *g,
    ngx_uint_t secret);
static void ngx_http_llmgw_fuzz_string(ngx_http_llmgw_fuzz_gen_t *g,
    ngx_uint_t secret);
static size_t ngx_http_llmgw_fuzz_redact(ngx_uint_t sse, u_char *in,
    size_t len, u_char **out);


static ngx_str_t  ngx_http_llmgw_fuzz_names[] = {
    ngx_string("messages"),
    ngx_string("prompt"),
    ngx_string("text"),
};

/* names written into generated text: [0, 3) redacted, some escaped */

static const char  *ngx_http_llmgw_fuzz_keys[] = {
    "messages", "prompt", "text", "te\\u0078t", "\\u0070rompt",
    "messag\\u0065s", "model", "role", "Text", "prompts", "x",
    "te\\u00", "a\\\"b",
};

static ngx_uint_t  ngx_http_llmgw_fuzz_secret_keys[] = {
    1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0
};


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
    u_char  *copy;

    if (size < 1 || size > NGX_HTTP_LLMGW_FUZZ_MAX) {
        return 0;
    }

    if (data[0] & 2) {
        ngx_http_llmgw_fuzz_generated(data[0] & 1, data + 1, size - 1);
        return 0;
    }

    copy = malloc(size);
    if (copy == NULL) {
        return 0;
    }

    ngx_memcpy(copy, data + 1, size - 1);

    ngx_http_llmgw_fuzz_raw(data[0] & 1, copy, size - 1);

    free(copy);

    return 0;
}


static void
ngx_http_llmgw_fuzz_raw(ngx_uint_t sse, u_char *data, size_t len)
{
    u_char        *out, *esc, *p;
    size_t         n, elen;
    json_t        *j;
    json_error_t   err;

    n = ngx_http_llmgw_fuzz_redact(sse, data, len, &out);

    elen = ngx_http_llmgw_json_str_len(out, n);

    esc = malloc(elen + 2);
    if (esc == NULL) {
        free(out);
        return;
    }

    p = esc;
    *p++ = '"';
    p = ngx_http_llmgw_json_str(p, out, n);
    *p++ = '"';

    if ((size_t) (p - esc) != elen + 2) {
        abort();
    }

    j = json_loadb((char *) esc, elen + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                   &err);

    if (j == NULL || !json_is_string(j)) {
        abort();
    }

    json_decref(j);
    free(esc);
    free(out);
}


static void
ngx_http_llmgw_fuzz_generated(ngx_uint_t sse, const uint8_t *data,
    size_t len)
{
    u_char                     *text, *out;
    size_t                      i, n, tlen;
    ngx_http_llmgw_fuzz_gen_t   g;

    text = malloc(4 * NGX_HTTP_LLMGW_FUZZ_MAX);
    if (text == NULL) {
        return;
    }

    g.in = data;
    g.end = data + len;
    g.out = text;
    g.last = text + 4 * NGX_HTTP_LLMGW_FUZZ_MAX - 64;
    g.depth = 0;
    g.sse = sse;

    while (g.in < g.end && g.out < g.last) {
        if (sse) {
            ngx_http_llmgw_fuzz_puts(&g, "data: ");
        }

        ngx_http_llmgw_fuzz_value(&g, 0);

        ngx_http_llmgw_fuzz_puts(&g, sse ? "\n\n" : "\n");
    }

    tlen = g.out - text;

    for (i = 0; i < tlen; i++) {
        n = ngx_http_llmgw_fuzz_redact(sse, text, tlen - i, &out);

        if (memchr(out, NGX_HTTP_LLMGW_FUZZ_SECRET, n) != NULL) {
            abort();
        }

        free(out);

        /* every length for short texts, a sample for long ones */

        if (tlen > 512) {
            i += tlen / 64;
        }
    }

    free(text);
}


static u_char
ngx_http_llmgw_fuzz_next(ngx_http_llmgw_fuzz_gen_t *g)
{
    return (g->in < g->end) ? *g->in++ : 0;
}


static void
ngx_http_llmgw_fuzz_put(ngx_http_llmgw_fuzz_gen_t *g, u_char c)
{
    if (g->out < g->last + 63) {
        *g->out++ = c;
    }
}


static void
ngx_http_llmgw_fuzz_puts(ngx_http_llmgw_fuzz_gen_t *g, const char *s)
{
    while (*s) {
        ngx_http_llmgw_fuzz_put(g, (u_char) *s++);
    }
}


/* a value; secret: inside a redacted member's value */

static void
ngx_http_llmgw_fuzz_value(ngx_http_llmgw_fuzz_gen_t *g, ngx_uint_t secret)
{
    u_char      c, k;
    ngx_uint_t  i, n, s;

    c = ngx_http_llmgw_fuzz_next(g);

    if (g->out >= g->last || g->depth > 80) {
        c = 0;
    }

    /* a line break inside a document of an event: another data line */

    if (g->sse && (c & 0x80)) {
        ngx_http_llmgw_fuzz_puts(g, (c & 0x40) ? "\r\ndata:" : "\ndata: ");
    }

    switch (c % 6) {

    case 0:
        ngx_http_llmgw_fuzz_puts(g, (c & 8) ? "true" : "-12.5e3");
        return;

    case 1:
    case 2:
        ngx_http_llmgw_fuzz_string(g, secret);
        return;

    case 3:
        g->depth++;
        ngx_http_llmgw_fuzz_put(g, '[');
        n = ngx_http_llmgw_fuzz_next(g) % 4;

        for (i = 0; i < n; i++) {
            if (i) {
                ngx_http_llmgw_fuzz_puts(g, " , ");
            }

            ngx_http_llmgw_fuzz_value(g, secret);
        }

        ngx_http_llmgw_fuzz_put(g, ']');
        g->depth--;
        return;

    default:
        g->depth++;
        ngx_http_llmgw_fuzz_put(g, '{');
        n = ngx_http_llmgw_fuzz_next(g) % 4;

        for (i = 0; i < n; i++) {
            if (i) {
                ngx_http_llmgw_fuzz_put(g, ',');
            }

            k = ngx_http_llmgw_fuzz_next(g)
                % (sizeof(ngx_http_llmgw_fuzz_keys) / sizeof(char *));

            ngx_http_llmgw_fuzz_put(g, '"');
            ngx_http_llmgw_fuzz_puts(g, ngx_http_llmgw_fuzz_keys[k]);
            ngx_http_llmgw_fuzz_puts(g, "\" :");

            s = secret || ngx_http_llmgw_fuzz_secret_keys[k];

            ngx_http_llmgw_fuzz_value(g, s);
        }

        ngx_http_llmgw_fuzz_put(g, '}');
        g->depth--;
        return;
    }
}


static void
ngx_http_llmgw_fuzz_string(ngx_http_llmgw_fuzz_gen_t *g, ngx_uint_t secret)
{
    u_char      c;
    ngx_uint_t  i, n;

    ngx_http_llmgw_fuzz_put(g, '"');

    n = ngx_http_llmgw_fuzz_next(g) % 16;

    for (i = 0; i < n; i++) {
        c = ngx_http_llmgw_fuzz_next(g);

        switch (c % 8) {
        case 0:
            ngx_http_llmgw_fuzz_puts(g, "\\\"");
            break;
        case 1:
            ngx_http_llmgw_fuzz_puts(g, "\\\\");
            break;
        case 2:
            ngx_http_llmgw_fuzz_puts(g, "}]{[,:");
            break;
        case 3:
            ngx_http_llmgw_fuzz_puts(g, "data: ");
            break;
        default:
            break;
        }

        ngx_http_llmgw_fuzz_put(g, secret ? NGX_HTTP_LLMGW_FUZZ_SECRET
                                          : (u_char) ('a' + c % 26));
    }

    ngx_http_llmgw_fuzz_put(g, '"');
}


static size_t
ngx_http_llmgw_fuzz_redact(ngx_uint_t sse, u_char *in, size_t len,
    u_char **out)
{
    size_t                        n, w;
    ngx_http_llmgw_redact_conf_t  conf;

    conf.names = ngx_http_llmgw_fuzz_names;
    conf.nnames = sizeof(ngx_http_llmgw_fuzz_names) / sizeof(ngx_str_t);
    conf.sse = sse;

    n = ngx_http_llmgw_redact(&conf, in, len, NULL);

    *out = malloc(n + 1);
    if (*out == NULL) {
        abort();
    }

    (*out)[n] = 0xa5;

    w = ngx_http_llmgw_redact(&conf, in, len, *out);

    if (w != n || (*out)[n] != 0xa5) {
        abort();
    }

    return n;
}
