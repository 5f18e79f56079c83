
/*
 * Copyright (C) llmgw authors
 *
 * Public keys: JWKS documents (RFC 7517, RFC 7518 section 6, RFC 8037) and
 * PEM files parsed into EVP_PKEY once, and the selection of the keys that
 * may verify a given token.
 */


#ifndef _NGX_HTTP_LLMGW_JWK_H_INCLUDED_
#define _NGX_HTTP_LLMGW_JWK_H_INCLUDED_


#include "ngx_http_llmgw.h"


#define NGX_HTTP_LLMGW_JWKS_MAX_LEN    (1024 * 1024)
#define NGX_HTTP_LLMGW_JWKS_MAX_KEYS   64


/*
 * Appends the usable keys of a JWKS document to keys (an array of
 * ngx_http_llmgw_key_t).  Keys of other types ("oct"), with "use" other than
 * "sig", or with an "alg" this module does not verify are skipped; an RSA
 * key shorter than 2048 bits is skipped.  A document that is not a JSON
 * object with a "keys" array, or a key of a supported type with missing or
 * malformed members, is NGX_DECLINED with *reason set.  NGX_ERROR: no
 * memory.  Pure: fuzz/ calls it directly.
 */
ngx_int_t ngx_http_llmgw_jwks_parse(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_array_t *keys, const char **reason);

/*
 * One JWK (a JSON object) as one key appended to keys, taken as
 * ngx_http_llmgw_jwks_parse takes a key of a set: NGX_OK; NGX_DECLINED
 * with *reason when it is malformed or of a kind, curve or size this
 * module does not verify (a DPoP proof's "jwk"); NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_jwk_key(ngx_pool_t *pool, json_t *jwk,
    ngx_array_t *keys, const char **reason);

/* one PEM public key (SubjectPublicKeyInfo or PKCS#1 RSA) with an optional
 * kid given by the configuration */
ngx_int_t ngx_http_llmgw_pem_parse(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_str_t *kid, ngx_array_t *keys, const char **reason);

/*
 * Reads a key file at configuration time: JWKS when it starts with '{',
 * PEM otherwise.  Logs NGX_LOG_EMERG with the file name and the reason and
 * returns NGX_ERROR when the file is unreadable, invalid or has no usable
 * key.
 */
ngx_int_t ngx_http_llmgw_keys_load_file(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *kid, ngx_array_t *keys);

/*
 * The next key after *next (start with 0) that may verify alg and that
 * matches kid: a token with a kid takes only keys with that kid; a token
 * without one takes only keys without one.  NULL when none is left.
 */
ngx_http_llmgw_key_t *ngx_http_llmgw_keys_next(ngx_array_t *keys,
    ngx_str_t *kid, ngx_http_llmgw_alg_e alg, ngx_uint_t *next);

/* whether a key with this SHA-256 fingerprint is among keys */
ngx_uint_t ngx_http_llmgw_keys_have(ngx_array_t *keys, u_char *fp);


#endif /* _NGX_HTTP_LLMGW_JWK_H_INCLUDED_ */
