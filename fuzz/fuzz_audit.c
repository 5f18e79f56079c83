/* llmgw-fuzz-srcs: src/ngx_http_llmgw_audit.c src/ngx_http_llmgw_json.c */
/* llmgw-fuzz-libs: -lcrypto -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: the audit line builder over hostile values.  The
 * input is cut at 0xff bytes into string values (claims, paths, reasons as
 * a client could shape them); the first byte picks integer and boolean
 * values.  Every line must be exactly as long as computed, hold no newline
 * but its last byte, parse back as one JSON object with every member, and
 * give back each value that was well-formed UTF-8 byte for byte.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "ngx_http_llmgw_audit.h"
#include "ngx_http_llmgw_unit.h"


#define NGX_HTTP_LLMGW_FUZZ_FIELDS  16


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ngx_uint_t ngx_http_llmgw_fuzz_utf8(u_char *p, size_t len);


static ngx_str_t  ngx_http_llmgw_fuzz_names[NGX_HTTP_LLMGW_FUZZ_FIELDS] = {
    ngx_string("f0"), ngx_string("f1"), ngx_string("f2"), ngx_string("f3"),
    ngx_string("f4"), ngx_string("f5"), ngx_string("f6"), ngx_string("f7"),
    ngx_string("f8"), ngx_string("f9"), ngx_string("fa"), ngx_string("fb"),
    ngx_string("fc"), ngx_string("fd"), ngx_string("fe"), ngx_string("ff")
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
    u_char                        *p, *last, *start, *line, *end;
    size_t                         len;
    json_t                        *j, *v;
    ngx_uint_t                     n, i, mode;
    ngx_pool_t                    *pool;
    ngx_http_llmgw_audit_field_t   f[NGX_HTTP_LLMGW_FUZZ_FIELDS];

    if (size == 0) {
        return 0;
    }

    mode = data[0];
    p = (u_char *) data + 1;
    last = (u_char *) data + size;

    ngx_memzero(f, sizeof(f));

    for (n = 0; n < NGX_HTTP_LLMGW_FUZZ_FIELDS && p <= last; n++) {
        start = p;

        while (p < last && *p != 0xff) {
            p++;
        }

        f[n].name = ngx_http_llmgw_fuzz_names[n];

        switch ((mode >> (n % 4)) & 3) {

        case 0:
            f[n].type = NGX_HTTP_LLMGW_AUDIT_INT;
            f[n].num = (int64_t) ((uint64_t) (p - start)
                                  * 0x9e3779b97f4a7c15ULL);
            break;

        case 1:
            f[n].type = NGX_HTTP_LLMGW_AUDIT_STRS;
            f[n].strs = &f[n].str;
            f[n].nstrs = 1;
            /* fall through */

        default:
            if (f[n].type == NGX_HTTP_LLMGW_AUDIT_NULL) {
                f[n].type = NGX_HTTP_LLMGW_AUDIT_STR;
            }

            f[n].str.data = start;
            f[n].str.len = p - start;
            break;
        }

        p++;
    }

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        return 0;
    }

    len = ngx_http_llmgw_audit_len(f, n);
    line = ngx_pnalloc(pool, len);
    if (line == NULL) {
        ngx_destroy_pool(pool);
        return 0;
    }

    end = ngx_http_llmgw_audit_write(line, f, n);

    if ((size_t) (end - line) != len || end[-1] != '\n'
        || ngx_strlchr(line, end - 1, '\n') != NULL)
    {
        abort();
    }

    j = json_loadb((const char *) line, len - 1,
                   JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);

    if (!json_is_object(j) || json_object_size(j) != n) {
        abort();
    }

    for (i = 0; i < n; i++) {
        v = json_object_get(j, (const char *) f[i].name.data);

        if (f[i].type == NGX_HTTP_LLMGW_AUDIT_INT) {
            if (!json_is_integer(v) || json_integer_value(v) != f[i].num) {
                abort();
            }

            continue;
        }

        if (f[i].type == NGX_HTTP_LLMGW_AUDIT_STRS) {
            v = json_array_get(v, 0);
        }

        if (!json_is_string(v)) {
            abort();
        }

        if (ngx_http_llmgw_fuzz_utf8(f[i].str.data, f[i].str.len)
            && (json_string_length(v) != f[i].str.len
                || ngx_memcmp(json_string_value(v), f[i].str.data,
                              f[i].str.len) != 0))
        {
            abort();
        }
    }

    json_decref(j);
    ngx_destroy_pool(pool);

    return 0;
}


/* whether jansson itself takes the bytes as UTF-8 (an independent check) */

static ngx_uint_t
ngx_http_llmgw_fuzz_utf8(u_char *p, size_t len)
{
    json_t  *s;

    s = json_stringn((const char *) p, len);

    if (s == NULL) {
        return 0;
    }

    json_decref(s);

    return 1;
}
