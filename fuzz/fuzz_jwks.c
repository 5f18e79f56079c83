/* llmgw-fuzz-srcs: src/ngx_http_llmgw_jws.c src/ngx_http_llmgw_jwk.c */
/* llmgw-fuzz-libs: -lcrypto -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: the JWKS parser (RFC 7517/7518/8037), and the PEM
 * parser for inputs starting with '-', then key selection over what was
 * parsed.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_jws.h"
#include "ngx_http_llmgw_jwk.h"
#include "ngx_http_llmgw_unit.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


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
    u_char                *copy;
    ngx_int_t              rc;
    ngx_str_t              kid;
    ngx_uint_t             i, a, next;
    ngx_pool_t            *pool;
    ngx_array_t           *keys;
    const char            *reason;
    ngx_http_llmgw_key_t  *key;

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        return 0;
    }

    keys = ngx_array_create(pool, 4, sizeof(ngx_http_llmgw_key_t));
    copy = ngx_pnalloc(pool, size ? size : 1);

    if (keys == NULL || copy == NULL) {
        ngx_destroy_pool(pool);
        return 0;
    }

    ngx_memcpy(copy, data, size);

    reason = NULL;

    if (size > 0 && data[0] == '-') {
        ngx_str_set(&kid, "fuzz");
        rc = ngx_http_llmgw_pem_parse(pool, copy, size, &kid, keys, &reason);

    } else {
        rc = ngx_http_llmgw_jwks_parse(pool, copy, size, keys, &reason);
    }

    if (rc == NGX_DECLINED && (reason == NULL || keys->nelts != 0)) {
        abort();
    }

    if (keys->nelts > NGX_HTTP_LLMGW_JWKS_MAX_KEYS) {
        abort();
    }

    key = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        if (key[i].pkey == NULL || key[i].algs == 0
            || (key[i].algs & ~NGX_HTTP_LLMGW_ALGS_ALL)
            || !ngx_http_llmgw_keys_have(keys, key[i].fp))
        {
            abort();
        }

        for (a = 0; a < NGX_HTTP_LLMGW_ALG_COUNT; a++) {
            next = 0;
            while (ngx_http_llmgw_keys_next(keys, &key[i].kid, a, &next)
                   != NULL)
            {
                /* void */
            }
        }
    }

    ngx_destroy_pool(pool);

    return 0;
}
