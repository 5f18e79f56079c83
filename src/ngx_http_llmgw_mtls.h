
/*
 * Copyright (C) llmgw authors
 *
 * Certificate-bound access tokens (RFC 8705 section 3): the token's
 * "cnf" member "x5t#S256" against the SHA-256 thumbprint of the client's
 * certificate, taken from the TLS connection or, behind a TLS-terminating
 * load balancer, from the RFC 9440 Client-Cert header.  The parsers are
 * pure (bytes and a pool in), for the unit test and the fuzz target.
 */


#ifndef _NGX_HTTP_LLMGW_MTLS_H_INCLUDED_
#define _NGX_HTTP_LLMGW_MTLS_H_INCLUDED_


#include "ngx_http_llmgw.h"


/* a Client-Cert value longer than this is refused (a DER of 12 KiB) */
#define NGX_HTTP_LLMGW_MTLS_HEADER_MAX  16384


/*
 * Parses an RFC 9440 Client-Cert field value: an RFC 8941 Byte Sequence
 * (":" base64 ":", padding optional, spaces around it allowed), nothing
 * else (no parameters, no list).  The bytes must be exactly one DER X.509
 * certificate.  NGX_OK with der (in pool) set; NGX_DECLINED with *reason a
 * fixed text fit for a client; NGX_ERROR when out of memory.
 */
ngx_int_t ngx_http_llmgw_mtls_client_cert_parse(ngx_pool_t *pool,
    ngx_str_t *value, ngx_str_t *der, const char **reason);

/*
 * The "x5t#S256" confirmation of claims (RFC 8705 section 3.1), decoded
 * into tp (NGX_HTTP_LLMGW_SHA256_LEN bytes).  NGX_OK: present and well
 * formed; NGX_DECLINED: the claims have no cnf, or a cnf without x5t#S256;
 * NGX_ABORT: cnf is not an object, or x5t#S256 is not the strict base64url
 * text of 32 bytes.
 */
ngx_int_t ngx_http_llmgw_mtls_cnf_x5t(json_t *claims, u_char *tp);

/*
 * The thumbprint of the TLS peer's certificate of connection c, computed
 * once per TLS connection (kept with the SSL object for the requests that
 * follow on it, HTTP/2 streams included).  NGX_OK with tp set;
 * NGX_DECLINED: not TLS, or no client certificate; NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_mtls_peer_thumbprint(ngx_connection_t *c,
    u_char *tp);

/* once per process, before the first ngx_http_llmgw_mtls_peer_thumbprint */
ngx_int_t ngx_http_llmgw_mtls_init(ngx_log_t *log);

/* 1 when the two thumbprints are equal, in time independent of the bytes */
ngx_uint_t ngx_http_llmgw_mtls_match(u_char *a, u_char *b);


#endif /* _NGX_HTTP_LLMGW_MTLS_H_INCLUDED_ */
