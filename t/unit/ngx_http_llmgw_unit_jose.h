
/*
 * Copyright (C) llmgw authors
 *
 * Test helpers that make keys and tokens at run time with OpenSSL, for the
 * JWS/JWK unit tests and for any other test that needs a signed token: no
 * private key and no token is committed.  Name it in a test's
 * llmgw-unit-srcs as t/unit/ngx_http_llmgw_unit_jose.c.
 */


#ifndef _NGX_HTTP_LLMGW_UNIT_JOSE_H_INCLUDED_
#define _NGX_HTTP_LLMGW_UNIT_JOSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw.h"


/* "RSA" with bits, "RSA-PSS" with bits, "EC" with a curve name, "ED25519" */
EVP_PKEY *ngx_http_llmgw_unit_keygen(const char *type, size_t bits,
    const char *curve);

/* base64url without padding of len bytes, in pool */
ngx_int_t ngx_http_llmgw_unit_b64url(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_str_t *out);

/*
 * The JOSE signature of input by pkey for alg: RSA PKCS#1 v1.5, RSA-PSS
 * with salt = hash length, ECDSA as R || S, Ed25519.  With der set, an
 * ECDSA signature is left in OpenSSL's DER form (to test its refusal).
 */
ngx_int_t ngx_http_llmgw_unit_sign(ngx_pool_t *pool, EVP_PKEY *pkey,
    ngx_http_llmgw_alg_e alg, ngx_str_t *input, ngx_uint_t der,
    ngx_str_t *sig);

/* header.payload.signature from the two JSON texts as given */
ngx_int_t ngx_http_llmgw_unit_token(ngx_pool_t *pool, EVP_PKEY *pkey,
    ngx_http_llmgw_alg_e alg, const char *header, const char *payload,
    ngx_str_t *token);

/* the three parts encoded from raw bytes, joined with '.' */
ngx_int_t ngx_http_llmgw_unit_join(ngx_pool_t *pool, ngx_str_t *header,
    ngx_str_t *payload, ngx_str_t *sig, ngx_str_t *token);

/*
 * The public JWK of pkey as JSON text, kty and its members, followed by
 * the members in extra (JSON text such as "\"kid\":\"a\"", or NULL).
 */
ngx_int_t ngx_http_llmgw_unit_jwk(ngx_pool_t *pool, EVP_PKEY *pkey,
    const char *extra, ngx_str_t *jwk);

/* PEM of the public key: SubjectPublicKeyInfo, or PKCS#1 when pkcs1 */
ngx_int_t ngx_http_llmgw_unit_pem_public(ngx_pool_t *pool, EVP_PKEY *pkey,
    ngx_uint_t pkcs1, ngx_str_t *pem);

/* PEM of the private key (PKCS#8), for negative tests and for libjwt */
ngx_int_t ngx_http_llmgw_unit_pem_private(ngx_pool_t *pool, EVP_PKEY *pkey,
    ngx_str_t *pem);

/* SHA-256 of the DER SubjectPublicKeyInfo */
ngx_int_t ngx_http_llmgw_unit_fp(EVP_PKEY *pkey, u_char *fp);


#endif /* _NGX_HTTP_LLMGW_UNIT_JOSE_H_INCLUDED_ */
