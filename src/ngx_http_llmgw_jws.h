
/*
 * Copyright (C) llmgw authors
 *
 * Compact JWS (RFC 7515) parsing and signature verification.  Pure: bytes
 * and a pool in, no request, no configuration, so fuzz/ and the unit tests
 * call it directly.
 */


#ifndef _NGX_HTTP_LLMGW_JWS_H_INCLUDED_
#define _NGX_HTTP_LLMGW_JWS_H_INCLUDED_


#include "ngx_http_llmgw.h"


/* hard ceiling whatever the configuration says: bounds every allocation */
#define NGX_HTTP_LLMGW_JWS_MAX_LEN     (64 * 1024)


/* "RS256" ... "EdDSA" to the enum; NGX_ERROR for anything else ("none") */
ngx_int_t ngx_http_llmgw_alg_parse(ngx_str_t *name);
ngx_str_t *ngx_http_llmgw_alg_name(ngx_http_llmgw_alg_e alg);

/*
 * Strict base64url (RFC 7515 section 2): alphabet A-Z a-z 0-9 - _ only, no
 * padding, no white space, length mod 4 != 1, unused trailing bits zero.
 * dst->data must have room for ngx_base64_decoded_length(src->len).
 */
ngx_int_t ngx_http_llmgw_base64url_decode_strict(ngx_str_t *dst,
    ngx_str_t *src);

/*
 * Splits and decodes a compact JWS.  NGX_OK: jws filled; NGX_DECLINED: the
 * token is malformed, *reason says why in words fit for a client (never a
 * byte of the token); NGX_ERROR: out of memory.  Refuses "alg" values other
 * than the asymmetric ones of ngx_http_llmgw_alg_e (so "none" and HS*),
 * "crit" headers, a header or payload that is not a JSON object, duplicate
 * JSON keys, and tokens longer than NGX_HTTP_LLMGW_JWS_MAX_LEN.
 */
ngx_int_t ngx_http_llmgw_jws_parse(ngx_pool_t *pool, ngx_str_t *token,
    ngx_http_llmgw_jws_t *jws, const char **reason);

/*
 * Prepares a key (pkey and algs set) for verification, once: checks that
 * the key's type and size fit every algorithm of algs, sets sig_len, and
 * makes the contexts ngx_http_llmgw_jws_verify copies for each signature;
 * a cleanup of pool frees them.  An algorithm OpenSSL cannot prepare for
 * this key keeps a NULL context: its signatures never verify.  NGX_OK;
 * NGX_DECLINED: the key does not fit its algs; NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_llmgw_jws_prepare(ngx_pool_t *pool,
    ngx_http_llmgw_key_t *key);

/*
 * NGX_OK when the signature verifies with the key, NGX_DECLINED otherwise,
 * including when jws->alg is not among key->algs or was not prepared for
 * the key.  ES* signatures are the JOSE fixed-length R || S form (RFC 7518
 * section 3.4), of exactly the curve's length.  No algorithm or key type is
 * looked up by name here: ngx_http_llmgw_jws_prepare did it.
 */
ngx_int_t ngx_http_llmgw_jws_verify(ngx_http_llmgw_jws_t *jws,
    ngx_http_llmgw_key_t *key);

/*
 * SHA-256 of len bytes into out (NGX_HTTP_LLMGW_SHA256_LEN bytes), with a
 * digest implementation fetched once per process.  NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_sha256(u_char *data, size_t len, u_char *out);


/* frees the digests fetched once per process; for the exit hooks */
void ngx_http_llmgw_jws_cleanup(void);


#endif /* _NGX_HTTP_LLMGW_JWS_H_INCLUDED_ */
