/* llmgw-fuzz-srcs: src/ngx_http_llmgw_jws.c src/ngx_http_llmgw_jwk.c */
/* llmgw-fuzz-libs: -lcrypto -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: compact JWS parsing and verification against a fixed
 * key set (fuzz_jws_keys.h, made by fuzz/make-seeds.py with the seeds).
 *
 * The input is the token itself, or, when it starts with a NUL byte,
 * "\0header\0payload\0signature": the three parts raw, base64url-encoded
 * here, so that mutations reach the JSON parser and the verifier.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_jws.h"
#include "ngx_http_llmgw_jwk.h"
#include "ngx_http_llmgw_unit.h"
#include "fuzz_jws_keys.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static ngx_int_t ngx_http_llmgw_fuzz_structured(ngx_pool_t *pool,
    const u_char *data, size_t size, ngx_str_t *token);


static ngx_pool_t   *ngx_http_llmgw_fuzz_pool;
static ngx_array_t  *ngx_http_llmgw_fuzz_keys;
static ngx_uint_t    ngx_http_llmgw_fuzz_verbose;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char  *reason;

    ngx_http_llmgw_unit_quiet = 1;

    /* LLMGW_FUZZ_VERBOSE=1: say what each input came to (seed checks) */

    ngx_http_llmgw_fuzz_verbose = (getenv("LLMGW_FUZZ_VERBOSE") != NULL);

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        abort();
    }

    ngx_http_llmgw_fuzz_pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE,
                                               &ngx_http_llmgw_unit_log);
    if (ngx_http_llmgw_fuzz_pool == NULL) {
        abort();
    }

    ngx_http_llmgw_fuzz_keys = ngx_array_create(ngx_http_llmgw_fuzz_pool, 8,
                                            sizeof(ngx_http_llmgw_key_t));
    if (ngx_http_llmgw_fuzz_keys == NULL) {
        abort();
    }

    if (ngx_http_llmgw_jwks_parse(ngx_http_llmgw_fuzz_pool,
                                  (u_char *) ngx_http_llmgw_fuzz_jwks,
                                  sizeof(ngx_http_llmgw_fuzz_jwks) - 1,
                                  ngx_http_llmgw_fuzz_keys, &reason)
        != NGX_OK
        || ngx_http_llmgw_fuzz_keys->nelts != 6)
    {
        fprintf(stderr, "fuzz_jws: key set: %s\n", reason);
        abort();
    }

    return 0;
}


static ngx_int_t
ngx_http_llmgw_fuzz_structured(ngx_pool_t *pool, const u_char *data,
    size_t size, ngx_str_t *token)
{
    u_char        *p;
    size_t         n;
    ngx_str_t      part, enc[3];
    ngx_uint_t     i;
    const u_char  *last, *q;

    last = data + size;
    data++;

    for (i = 0; i < 3; i++) {
        q = (i < 2) ? ngx_strlchr((u_char *) data, (u_char *) last, '\0')
                    : NULL;
        if (q == NULL) {
            q = last;
        }

        part.data = (u_char *) data;
        part.len = q - data;

        enc[i].data = ngx_pnalloc(pool,
                                  ngx_base64_encoded_length(part.len));
        if (enc[i].data == NULL) {
            return NGX_ERROR;
        }

        ngx_encode_base64url(&enc[i], &part);

        data = (q < last) ? q + 1 : last;
    }

    n = enc[0].len + enc[1].len + enc[2].len + 2;

    token->data = ngx_pnalloc(pool, n);
    if (token->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(token->data, "%V.%V.%V", &enc[0], &enc[1], &enc[2]);
    token->len = p - token->data;

    return NGX_OK;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_str_t              token;
    ngx_uint_t             i, next;
    ngx_pool_t            *pool;
    const char            *reason;
    ngx_http_llmgw_key_t  *key;
    ngx_http_llmgw_jws_t   jws;

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        return 0;
    }

    if (size > 0 && data[0] == '\0') {
        if (ngx_http_llmgw_fuzz_structured(pool, data, size, &token)
            != NGX_OK)
        {
            ngx_destroy_pool(pool);
            return 0;
        }

    } else {
        /* a copy of exactly size bytes: reads past it are caught */

        token.len = size;
        token.data = ngx_pnalloc(pool, size ? size : 1);
        if (token.data == NULL) {
            ngx_destroy_pool(pool);
            return 0;
        }

        ngx_memcpy(token.data, data, size);
    }

    reason = NULL;

    if (ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason) == NGX_OK) {

        if (!json_is_object(jws.header) || !json_is_object(jws.claims)
            || jws.signing_input.len >= token.len)
        {
            abort();
        }

        /* the keys the token asks for, as the access handler would */

        next = 0;

        while ((key = ngx_http_llmgw_keys_next(ngx_http_llmgw_fuzz_keys,
                                               &jws.kid, jws.alg, &next))
               != NULL)
        {
            if (ngx_http_llmgw_jws_verify(&jws, key) == NGX_OK
                && ngx_http_llmgw_fuzz_verbose)
            {
                fprintf(stderr, "verified: kid \"%.*s\"\n",
                        (int) key->kid.len, key->kid.data);
            }
        }

        /* and every key, whatever its type: mismatches must be refused */

        key = ngx_http_llmgw_fuzz_keys->elts;

        for (i = 0; i < ngx_http_llmgw_fuzz_keys->nelts; i++) {
            (void) ngx_http_llmgw_jws_verify(&jws, &key[i]);
        }

    } else if (reason == NULL) {
        /* NGX_ERROR is only for a failed allocation */
        if (ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason)
            == NGX_ERROR)
        {
            ngx_destroy_pool(pool);
            return 0;
        }

        abort();

    } else if (ngx_http_llmgw_fuzz_verbose) {
        fprintf(stderr, "refused: %s\n", reason);
    }

    ngx_destroy_pool(pool);

    return 0;
}
