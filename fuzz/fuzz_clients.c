/* llmgw-fuzz-srcs: src/ngx_http_llmgw_clients.c src/ngx_http_llmgw_scope.c src/ngx_http_llmgw_claims.c */
/* llmgw-fuzz-libs: -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: the clients file's parser.  The input is the file, in
 * a buffer of its own size.  NGX_OK must come with no error and clients
 * that keep the rules (an id within its bound, sorted and each once, a
 * ceiling never empty, each on a line of the input), and what render
 * writes of them parses back to as many; NGX_DECLINED with at least one
 * error, the kept ones in line order, each on a line of the input.
 * Anything else aborts.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_clients.h"
#include "ngx_http_llmgw_unit.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* ngx_http_llmgw_scope.c's tree block calls it; never called here */

char *
ngx_conf_parse(ngx_conf_t *cf, ngx_str_t *filename)
{
    return NGX_CONF_ERROR;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_http_llmgw_unit_quiet = 1;

    return ngx_http_llmgw_unit_init() == NGX_OK ? 0 : 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                    *copy;
    size_t                     lines, i;
    ngx_str_t                  text;
    ngx_int_t                  rc;
    ngx_uint_t                 kept;
    ngx_pool_t                *pool;
    ngx_http_llmgw_client_t   *c;
    ngx_http_llmgw_clients_t   out, again;

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        return 0;
    }

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        ngx_destroy_pool(pool);
        return 0;
    }

    memcpy(copy, data, size);

    lines = 1;

    for (i = 0; i < size; i++) {
        lines += (data[i] == '\n');
    }

    rc = ngx_http_llmgw_clients_parse(pool, copy, size, 64, &out);

    if (rc == NGX_OK) {
        if (out.nerrors != 0 || out.clients.nelts > 64) {
            abort();
        }

        c = out.clients.elts;

        for (i = 0; i < out.clients.nelts; i++) {
            if (c[i].client_id.len == 0
                || c[i].client_id.len > NGX_HTTP_LLMGW_CLIENTS_MAX_ID
                || c[i].names == NULL || c[i].names->nelts == 0
                || (c[i].pending_names && c[i].pending_names->nelts == 0)
                || c[i].line < 2 || c[i].line > lines
                || (i && ngx_memn2cmp(c[i - 1].client_id.data,
                                      c[i].client_id.data,
                                      c[i - 1].client_id.len,
                                      c[i].client_id.len) >= 0))
            {
                abort();
            }
        }

        if (ngx_http_llmgw_clients_render(pool, &out.clients, &text)
            != NGX_OK)
        {
            abort();
        }

        if (ngx_http_llmgw_clients_parse(pool, text.data, text.len, 64,
                                         &again)
            != NGX_OK
            || again.clients.nelts != out.clients.nelts)
        {
            abort();
        }

    } else if (rc == NGX_DECLINED) {
        kept = ngx_min(out.nerrors, NGX_HTTP_LLMGW_CLIENTS_MAX_ERRORS);

        if (kept == 0) {
            abort();
        }

        for (i = 0; i < kept; i++) {
            if (out.errors[i].line < 1 || out.errors[i].line > lines
                || (i && out.errors[i].line < out.errors[i - 1].line))
            {
                abort();
            }
        }

    } else {
        abort();
    }

    free(copy);
    ngx_destroy_pool(pool);

    return 0;
}
