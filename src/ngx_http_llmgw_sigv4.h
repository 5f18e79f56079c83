
/*
 * Copyright (C) llmgw authors
 *
 * AWS Signature Version 4 (header form, AWS4-HMAC-SHA256).
 *
 * Pure: a pool and the inputs in, header values out; no request, no
 * configuration.  The caller adds to the upstream request:
 *
 *     Authorization:        the value sign() returns
 *     X-Amz-Date:           amz_date
 *     X-Amz-Security-Token: the session token, when there is one
 *
 * plus every header it gave in req->headers, unchanged.
 *
 * Canonical request, as AWS describes it (IAM user guide, "Create a signed
 * AWS API request"):
 *
 *   - URI: req->path is taken as it goes on the wire.  With
 *     normalize_path, empty and "." segments are dropped and ".." removes
 *     the segment before it (so "//a//" becomes "/a/").  Each segment is
 *     then URI-encoded, RFC 3986 unreserved characters kept: with
 *     double_encode every other byte is encoded, '%' included, so the
 *     wire's "%3A" becomes "%253A" as AWS requires for every service but
 *     S3; without it (S3) a valid "%XX" escape is kept as it is and only
 *     the other bytes are encoded.  An empty path is "/"; a path that does
 *     not start with '/' is refused.
 *   - query: req->query (raw, without '?') is split at '&', empty pieces
 *     dropped, each piece at its first '='; name and value are
 *     percent-decoded ("%XX"; '+' is kept as a plus sign), encoded again
 *     as above, and sorted by name, then value, byte by byte.
 *   - headers: req->headers (ngx_http_llmgw_sigv4_header_t, host included)
 *     and the x-amz-date and x-amz-security-token headers the signer adds
 *     itself.  Names lowercased; values trimmed of leading and trailing
 *     white space with inner runs of white space made one space; headers
 *     of the same name joined with ',' in the order given; sorted by name.
 *     req->headers must not hold x-amz-date, x-amz-security-token or
 *     authorization (NGX_ERROR): the signer owns them.
 *   - payload: req->payload_hash, the lowercase hex SHA-256 of the body
 *     (see the hash helpers below) or "UNSIGNED-PAYLOAD"; empty means an
 *     empty body.
 *
 * Memory: every length is computed before anything is written; the
 * canonical request is at most 3 times the path and query plus the
 * headers.  The secret and the derived keys are wiped after use.  The
 * canonical request holds the session token: never log it.
 */


#ifndef _NGX_HTTP_LLMGW_SIGV4_H_INCLUDED_
#define _NGX_HTTP_LLMGW_SIGV4_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/evp.h>


#define NGX_HTTP_LLMGW_SIGV4_DATE_LEN   (sizeof("20150830T123600Z") - 1)
#define NGX_HTTP_LLMGW_SIGV4_HASH_LEN   64


typedef struct {
    ngx_str_t                  name;
    ngx_str_t                  value;
} ngx_http_llmgw_sigv4_header_t;


typedef struct {
    ngx_str_t                  method;
    ngx_str_t                  path;          /* as on the wire */
    ngx_str_t                  query;         /* raw, without '?' */
    ngx_array_t               *headers;       /* sigv4_header_t, or NULL */
    ngx_str_t                  payload_hash;  /* lowercase hex SHA-256 */
    ngx_str_t                  region;
    ngx_str_t                  service;
    ngx_str_t                  access_key;
    ngx_str_t                  secret_key;
    ngx_str_t                  session_token; /* may be empty */
    time_t                     now;
    ngx_uint_t                 normalize_path; /* 1 for all but S3 */
    ngx_uint_t                 double_encode;  /* 1 for all but S3 */
} ngx_http_llmgw_sigv4_req_t;


/* the SHA-256 of a body given in pieces */

typedef struct {
    EVP_MD_CTX                *md;
} ngx_http_llmgw_sigv4_hash_t;


/*
 * Signs req: *authorization gets the Authorization header value and
 * *amz_date the X-Amz-Date value, both allocated from pool.  NGX_ERROR on
 * invalid input (the reason is logged at NGX_LOG_ERR on pool->log, never a
 * key or a token) or when out of memory.
 */
ngx_int_t ngx_http_llmgw_sigv4_sign(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_req_t *req, ngx_str_t *authorization,
    ngx_str_t *amz_date);

/* the steps of sign(), for tests and for checking a peer's signature */
ngx_int_t ngx_http_llmgw_sigv4_amz_date(ngx_pool_t *pool, time_t now,
    ngx_str_t *amz_date);
ngx_int_t ngx_http_llmgw_sigv4_canonical_request(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_req_t *req, ngx_str_t *amz_date, ngx_str_t *creq,
    ngx_str_t *signed_headers);
ngx_int_t ngx_http_llmgw_sigv4_string_to_sign(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_req_t *req, ngx_str_t *amz_date, ngx_str_t *creq,
    ngx_str_t *sts);

/*
 * Body hashing: init() registers a pool cleanup that frees the digest
 * context; final() writes NGX_HTTP_LLMGW_SIGV4_HASH_LEN lowercase hex
 * digits to hex.  hash_chain() hashes a whole chain, buffers in memory and
 * in files alike (a request body spooled to a temporary file).
 */
ngx_int_t ngx_http_llmgw_sigv4_hash_init(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_hash_t *h);
ngx_int_t ngx_http_llmgw_sigv4_hash_update(ngx_http_llmgw_sigv4_hash_t *h,
    u_char *p, size_t len);
ngx_int_t ngx_http_llmgw_sigv4_hash_final(ngx_http_llmgw_sigv4_hash_t *h,
    u_char *hex);
ngx_int_t ngx_http_llmgw_sigv4_hash_chain(ngx_pool_t *pool,
    ngx_chain_t *in, ngx_str_t *hex);


#endif /* _NGX_HTTP_LLMGW_SIGV4_H_INCLUDED_ */
