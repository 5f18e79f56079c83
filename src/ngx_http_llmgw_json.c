
/*
 * Copyright (C) llmgw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_json.h"


static size_t ngx_http_llmgw_json_utf8(u_char *p, u_char *last);


/* "\ufffd" for a byte that is not well-formed UTF-8 */
#define NGX_HTTP_LLMGW_JSON_BAD      "\\ufffd"


size_t
ngx_http_llmgw_json_str_len(u_char *s, size_t len)
{
    size_t   n, out;
    u_char  *last;

    out = 0;
    last = s + len;

    while (s < last) {

        if (*s < 0x80) {
            if (*s == '"' || *s == '\\') {
                out += 2;

            } else if (*s < 0x20 || *s == 0x7f) {
                out += sizeof("\\u0000") - 1;

            } else {
                out++;
            }

            s++;
            continue;
        }

        n = ngx_http_llmgw_json_utf8(s, last);

        if (n == 0) {
            out += sizeof(NGX_HTTP_LLMGW_JSON_BAD) - 1;
            s++;
            continue;
        }

        out += n;
        s += n;
    }

    return out;
}


u_char *
ngx_http_llmgw_json_str(u_char *p, u_char *s, size_t len)
{
    size_t          n;
    u_char         *last;
    static u_char   hex[] = "0123456789abcdef";

    last = s + len;

    while (s < last) {

        if (*s < 0x80) {
            if (*s == '"' || *s == '\\') {
                *p++ = '\\';
                *p++ = *s;

            } else if (*s < 0x20 || *s == 0x7f) {
                p = ngx_cpymem(p, "\\u00", sizeof("\\u00") - 1);
                *p++ = hex[*s >> 4];
                *p++ = hex[*s & 0xf];

            } else {
                *p++ = *s;
            }

            s++;
            continue;
        }

        n = ngx_http_llmgw_json_utf8(s, last);

        if (n == 0) {
            p = ngx_cpymem(p, NGX_HTTP_LLMGW_JSON_BAD,
                           sizeof(NGX_HTTP_LLMGW_JSON_BAD) - 1);
            s++;
            continue;
        }

        p = ngx_cpymem(p, s, n);
        s += n;
    }

    return p;
}


/*
 * The length of the well-formed UTF-8 sequence of 2-4 bytes at p
 * (RFC 3629 section 4), or 0 when the byte at p does not start one.
 */

static size_t
ngx_http_llmgw_json_utf8(u_char *p, u_char *last)
{
    size_t    n, i;
    uint32_t  cp, min;

    if (*p >= 0xc2 && *p <= 0xdf) {
        n = 2;
        cp = *p & 0x1f;
        min = 0x80;

    } else if (*p >= 0xe0 && *p <= 0xef) {
        n = 3;
        cp = *p & 0x0f;
        min = 0x800;

    } else if (*p >= 0xf0 && *p <= 0xf4) {
        n = 4;
        cp = *p & 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        cp = (cp << 6) | (p[i] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }

    return n;
}
