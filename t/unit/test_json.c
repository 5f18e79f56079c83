/* llmgw-unit-srcs: src/ngx_http_llmgw_json.c */
/* llmgw-unit-libs: -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * JSON strings: escapes, well-formed UTF-8 kept, everything else replaced
 * by U+FFFD; the computed length is the written length, and the result is
 * a JSON string jansson accepts.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_json.h"


static ngx_uint_t ngx_http_llmgw_test_escapes(const char *in, size_t len,
    const char *expected);
static void ngx_http_llmgw_test_strings(void);
static void ngx_http_llmgw_test_every_byte(void);


/*
 * in escaped is expected, the length agrees, and "<escaped>" parses as a
 * JSON string
 */

static ngx_uint_t
ngx_http_llmgw_test_escapes(const char *in, size_t len, const char *expected)
{
    u_char   buf[1024], *p;
    size_t   n;
    json_t  *v;

    n = ngx_http_llmgw_json_str_len((u_char *) in, len);

    if (n + 2 > sizeof(buf)) {
        return 0;
    }

    buf[0] = '"';
    p = ngx_http_llmgw_json_str(buf + 1, (u_char *) in, len);
    *p++ = '"';

    if ((size_t) (p - buf) != n + 2) {
        return 0;
    }

    if (expected
        && ((size_t) (p - buf - 2) != ngx_strlen(expected)
            || ngx_strncmp(buf + 1, expected, p - buf - 2) != 0))
    {
        return 0;
    }

    v = json_loadb((const char *) buf, p - buf,
                   JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

    if (!json_is_string(v)) {
        json_decref(v);
        return 0;
    }

    json_decref(v);

    return 1;
}


#define ESCAPES(in, expected, what)                                           \
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_escapes(in, sizeof(in) - 1,      \
                                                     expected), what)


static void
ngx_http_llmgw_test_strings(void)
{
    ESCAPES("", "", "empty");
    ESCAPES("alice@example.com", "alice@example.com", "plain ASCII as is");
    ESCAPES("a\"b\\c/d", "a\\\"b\\\\c/d", "quote and backslash escaped");
    ESCAPES("\x01\n\t\x1f\x7f", "\\u0001\\u000a\\u0009\\u001f\\u007f",
            "control bytes as \\u00XX");
    ESCAPES("\x00z", "\\u0000z", "NUL escaped");
    ESCAPES("\xe5\xb1\xb1\xe7\x94\xb0\xe5\xa4\xaa\xe9\x83\x8e",
            "\xe5\xb1\xb1\xe7\x94\xb0\xe5\xa4\xaa\xe9\x83\x8e",
            "Japanese name kept");
    ESCAPES("\xc3\xa9\xf0\x9f\x98\x80", "\xc3\xa9\xf0\x9f\x98\x80",
            "two- and four-byte sequences kept");
    ESCAPES("\xc0\xaf", "\\ufffd\\ufffd", "overlong '/' replaced");
    ESCAPES("\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd",
            "three-byte overlong replaced");
    ESCAPES("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd", "a surrogate replaced");
    ESCAPES("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd",
            "above U+10FFFF replaced");
    ESCAPES("\xf5\x80", "\\ufffd\\ufffd", "F5 never starts a sequence");
    ESCAPES("ok\xe5\xb1", "ok\\ufffd\\ufffd", "truncated at the end");
    ESCAPES("\xe5\xb1x", "\\ufffd\\ufffdx", "interrupted sequence");
    ESCAPES("\x80\xbf", "\\ufffd\\ufffd", "stray continuation bytes");
    ESCAPES("\xef\xbf\xbf", "\xef\xbf\xbf", "U+FFFF is well-formed");
}


/* every byte value alone and in pairs: the output always parses */

static void
ngx_http_llmgw_test_every_byte(void)
{
    char        in[2];
    ngx_uint_t  a, b, ok;

    ok = 1;

    for (a = 0; a < 256; a++) {
        in[0] = (char) a;

        if (!ngx_http_llmgw_test_escapes(in, 1, NULL)) {
            ok = 0;
        }

        for (b = 0; b < 256; b++) {
            in[1] = (char) b;

            if (!ngx_http_llmgw_test_escapes(in, 2, NULL)) {
                ok = 0;
            }
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "every one- and two-byte input gives a string "
                         "jansson accepts, of the computed length");
}


int
main(void)
{
    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    ngx_http_llmgw_test_strings();
    ngx_http_llmgw_test_every_byte();

    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
