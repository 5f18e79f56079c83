
/*
 * Copyright (C) llmgw authors
 *
 * DPoP proofs (RFC 9449): the proof JWT parsed and checked against the
 * request it came with (section 4.3), the RFC 7638 thumbprint of its key,
 * the token's cnf.jkt, htu normalisation, and stateless server nonces.
 * Pure: bytes, a pool and the request's facts in; no request, no
 * configuration, so fuzz/ and the unit tests call it directly.
 */


#ifndef _NGX_HTTP_LLMGW_DPOP_H_INCLUDED_
#define _NGX_HTTP_LLMGW_DPOP_H_INCLUDED_


#include "ngx_http_llmgw.h"


/* a proof is small: a header with one public key and five claims */
#define NGX_HTTP_LLMGW_DPOP_MAX_LEN        8192
#define NGX_HTTP_LLMGW_DPOP_MAX_JTI        256

/* base64url of a SHA-256, unpadded */
#define NGX_HTTP_LLMGW_DPOP_JKT_LEN        43

#define NGX_HTTP_LLMGW_DPOP_NONCE_KEY_LEN  32

/* slots of a process's table of proof keys: a power of two */
#define NGX_HTTP_LLMGW_DPOP_KEYS           256
#define NGX_HTTP_LLMGW_DPOP_NONCE_LEN      43  /* 8 + 24 bytes, base64url */


/* a proof parsed */

typedef struct {
    ngx_http_llmgw_jws_t       jws;
    json_t                    *jwk;         /* in jws.header */
    u_char                     jkt[NGX_HTTP_LLMGW_DPOP_JKT_LEN];
    ngx_str_t                  jti;
    ngx_str_t                  htm;
    ngx_str_t                  htu;
    ngx_str_t                  ath;         /* empty when absent */
    ngx_str_t                  nonce;       /* empty when absent */
    time_t                     iat;
} ngx_http_llmgw_dpop_proof_t;


/* what the proof is checked against */

typedef struct {
    ngx_str_t                  method;      /* as in the request line */
    ngx_str_t                  url;         /* scheme://authority/path..,
                                               normalised, no query */
    ngx_str_t                  token;       /* the access token, for ath */
    time_t                     now;
    time_t                     window;      /* |iat - now| at most this */
} ngx_http_llmgw_dpop_request_t;


/*
 * Parses a proof, signature not yet verified.  Checks typ "dpop+jwt", alg
 * among algs (never "none" or HS*: ngx_http_llmgw_jws_parse refuses
 * them), a "jwk" header without private members (its thumbprint into
 * proof->jkt), and the claims' presence and types: jti (at most
 * NGX_HTTP_LLMGW_DPOP_MAX_JTI bytes), htm, htu, iat (an integer); ath and
 * nonce strings when present.  NGX_OK; NGX_DECLINED with *reason, fit for
 * the client; NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_llmgw_dpop_parse(ngx_pool_t *pool, ngx_str_t *text,
    ngx_uint_t algs, ngx_http_llmgw_dpop_proof_t *proof,
    const char **reason);

/*
 * The proof's "jwk" as a key prepared for verification, appended to keys
 * (an array of ngx_http_llmgw_key_t in pool).  Keys are worth keeping
 * by jkt: a client signs all its proofs with one.  NGX_OK; NGX_DECLINED
 * with *reason; NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_dpop_key(ngx_pool_t *pool,
    ngx_http_llmgw_dpop_proof_t *proof, ngx_array_t *keys,
    const char **reason);

/*
 * The proof's key from the process's table of recent proof keys, made
 * there (ngx_http_llmgw_dpop_key) on a miss: a client signs all its
 * proofs with one key, and making a key (decoding the point, checking it
 * is on the curve and of the group's order, preparing verification)
 * costs twice the verification itself.  A key is found by its RFC 7638
 * thumbprint, which covers exactly the members that define the key; the
 * table is direct-mapped, NGX_HTTP_LLMGW_DPOP_KEYS slots, a newcomer
 * replacing the slot's key.  The key stays valid until the next call.
 * Not for fuzz/ and unit tests, which call ngx_http_llmgw_dpop_key.
 * NGX_OK with *key; NGX_DECLINED with *reason; NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_dpop_key_cached(ngx_http_llmgw_dpop_proof_t *proof,
    ngx_log_t *log, ngx_http_llmgw_key_t **key, const char **reason);

/* frees the table of ngx_http_llmgw_dpop_key_cached; for exit hooks */
void ngx_http_llmgw_dpop_keys_cleanup(void);

/* NGX_OK when key (the proof's own) verifies the proof, else NGX_DECLINED */
ngx_int_t ngx_http_llmgw_dpop_verify(ngx_http_llmgw_dpop_proof_t *proof,
    ngx_http_llmgw_key_t *key);

/*
 * The proof against its request: htm, htu (normalised, query and
 * fragment ignored), iat within the window, ath of the token.  NGX_OK,
 * NGX_DECLINED with *reason, NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_dpop_check(ngx_pool_t *pool,
    ngx_http_llmgw_dpop_proof_t *proof, ngx_http_llmgw_dpop_request_t *req,
    const char **reason);

/*
 * An http(s) URI normalised for comparison (RFC 3986 sections 6.2.2 and
 * 6.2.3, as RFC 9449 section 4.3 asks): scheme and host lowercased, the
 * scheme's default port dropped, percent-encodings of unreserved
 * characters decoded and the others' hex digits uppercased, an empty path
 * made "/", query and fragment dropped.  Dot segments are not resolved:
 * a URI with them does not match (gateway paths never have them).
 * NGX_OK; NGX_DECLINED: not an absolute URI of printable ASCII;
 * NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_dpop_normalize_url(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out);

/*
 * The RFC 7638 thumbprint of a public JWK (EC, RSA, OKP), base64url into
 * jkt (NGX_HTTP_LLMGW_DPOP_JKT_LEN bytes).  NGX_OK; NGX_DECLINED: a
 * required member is missing or not a string; NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_dpop_thumbprint(ngx_pool_t *pool, json_t *jwk,
    u_char *jkt);

/*
 * The token's binding to a DPoP key, cnf.jkt: NGX_OK with *jkt set;
 * NGX_DECLINED: the token has none; NGX_ERROR: cnf or cnf.jkt has the
 * wrong type (a token that cannot be honoured either way).
 */
ngx_int_t ngx_http_llmgw_dpop_token_jkt(json_t *claims, ngx_str_t *jkt);

/*
 * Stateless server nonces (RFC 9449 section 8): base64url of the time
 * slot (now / lifetime, 8 bytes) and 24 bytes of HMAC-SHA256 of it under
 * key.  make: into out (NGX_HTTP_LLMGW_DPOP_NONCE_LEN bytes).  check:
 * NGX_OK for the current slot's nonce, NGX_DONE for the previous slot's
 * (valid; the client should be given a fresh one), NGX_DECLINED
 * otherwise.
 */
ngx_int_t ngx_http_llmgw_dpop_nonce_make(u_char *key, time_t now,
    time_t lifetime, u_char *out);
ngx_int_t ngx_http_llmgw_dpop_nonce_check(u_char *key, time_t now,
    time_t lifetime, ngx_str_t *nonce);


#endif /* _NGX_HTTP_LLMGW_DPOP_H_INCLUDED_ */
