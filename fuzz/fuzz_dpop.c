/* llmgw-fuzz-srcs: src/ngx_http_llmgw_jws.c src/ngx_http_llmgw_jwk.c */
/* llmgw-fuzz-srcs: src/ngx_http_llmgw_dpop.c */
/* llmgw-fuzz-libs: -lcrypto -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: DPoP proofs (RFC 9449) parsed, their embedded key
 * made, the signature verified and the proof checked against a fixed
 * request; the input also as an htu to normalise and as a server nonce.
 *
 * The input is the proof itself, or, when it starts with a NUL byte,
 * "\0header\0payload\0signature": the three parts raw, base64url-encoded
 * here, so that mutations reach the JSON, the jwk and the claims.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_jws.h"
#include "ngx_http_llmgw_jwk.h"
#include "ngx_http_llmgw_dpop.h"
#include "ngx_http_llmgw_unit.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static ngx_int_t ngx_http_llmgw_fuzz_structured(ngx_pool_t *pool,
    const u_char *data, size_t size, ngx_str_t *token);
static void ngx_http_llmgw_fuzz_proof(ngx_pool_t *pool, ngx_str_t *text);


static u_char  ngx_http_llmgw_fuzz_nonce_key[
                   NGX_HTTP_LLMGW_DPOP_NONCE_KEY_LEN];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_http_llmgw_unit_quiet = 1;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        abort();
    }

    ngx_memset(ngx_http_llmgw_fuzz_nonce_key, 'k',
               NGX_HTTP_LLMGW_DPOP_NONCE_KEY_LEN);

    return 0;
}


static ngx_int_t
ngx_http_llmgw_fuzz_structured(ngx_pool_t *pool, const u_char *data,
    size_t size, ngx_str_t *token)
{
    u_char        *p;
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

    token->data = ngx_pnalloc(pool, enc[0].len + enc[1].len + enc[2].len
                                    + 2);
    if (token->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(token->data, "%V.%V.%V", &enc[0], &enc[1], &enc[2]);
    token->len = p - token->data;

    return NGX_OK;
}


static void
ngx_http_llmgw_fuzz_proof(ngx_pool_t *pool, ngx_str_t *text)
{
    ngx_int_t                      rc;
    const char                    *reason;
    ngx_array_t                   *keys;
    ngx_http_llmgw_dpop_proof_t    proof;
    ngx_http_llmgw_dpop_request_t  req;

    reason = NULL;

    rc = ngx_http_llmgw_dpop_parse(pool, text, NGX_HTTP_LLMGW_ALGS_ALL,
                                   &proof, &reason);

    if (rc == NGX_DECLINED && reason == NULL) {
        abort();
    }

    if (rc != NGX_OK) {
        return;
    }

    if (!json_is_object(proof.jwk) || proof.jti.len == 0
        || proof.jti.len > NGX_HTTP_LLMGW_DPOP_MAX_JTI)
    {
        abort();
    }

    keys = ngx_array_create(pool, 1, sizeof(ngx_http_llmgw_key_t));
    if (keys == NULL) {
        return;
    }

    if (ngx_http_llmgw_dpop_key(pool, &proof, keys, &reason) == NGX_OK) {
        (void) ngx_http_llmgw_dpop_verify(&proof, keys->elts);
    }

    /* the request checks run whatever the signature said: more reached */

    ngx_str_set(&req.method, "POST");
    ngx_str_set(&req.url, "https://gw.example/v1/chat");
    ngx_str_set(&req.token, "eyJhbGciOiJFUzI1NiJ9.e30.c2ln");
    req.now = proof.iat;
    req.window = 60;

    (void) ngx_http_llmgw_dpop_check(pool, &proof, &req, &reason);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      nonce[NGX_HTTP_LLMGW_DPOP_NONCE_LEN];
    ngx_str_t   text, url;
    ngx_pool_t *pool;

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        return 0;
    }

    if (size > 0 && data[0] == '\0') {
        if (ngx_http_llmgw_fuzz_structured(pool, data, size, &text)
            != NGX_OK)
        {
            ngx_destroy_pool(pool);
            return 0;
        }

    } else {
        /* a copy of exactly size bytes: reads past it are caught */

        text.len = size;
        text.data = ngx_pnalloc(pool, size ? size : 1);
        if (text.data == NULL) {
            ngx_destroy_pool(pool);
            return 0;
        }

        ngx_memcpy(text.data, data, size);
    }

    ngx_http_llmgw_fuzz_proof(pool, &text);

    /* the same bytes as an htu and as a nonce */

    if (ngx_http_llmgw_dpop_normalize_url(pool, &text, &url) == NGX_OK
        && (url.len == 0 || url.len > text.len + 1))
    {
        abort();
    }

    (void) ngx_http_llmgw_dpop_nonce_check(ngx_http_llmgw_fuzz_nonce_key,
                                           1800000000, 300, &text);

    if (ngx_http_llmgw_dpop_nonce_make(ngx_http_llmgw_fuzz_nonce_key,
                                       1800000000, 300, nonce)
        != NGX_OK)
    {
        abort();
    }

    ngx_destroy_pool(pool);

    return 0;
}
