
/*
 * Copyright (C) llmgw authors
 *
 * The errors llmgw answers itself: status to JSON body, the RFC 6750
 * Bearer challenge of WWW-Authenticate, Retry-After, and the response
 * headers of a JSON error.  Which response is llmgw's is decided by the
 * one error filter (ngx_http_llmgw_module.c); this concern renders.
 */


#ifndef _NGX_HTTP_LLMGW_ERROR_H_INCLUDED_
#define _NGX_HTTP_LLMGW_ERROR_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * One error, as the client sees it: the body
 *
 *     {"error":{"code":CODE,"message":MESSAGE[,"scope":SCOPE]}}
 *
 * and, for a problem with the credential, a Bearer challenge of the same
 * words (RFC 6750 section 3): error is its error code, message its
 * error_description, scope its scope; resource_metadata is the URL of the
 * protected-resource metadata (RFC 9728 section 5.1), which MCP clients
 * read to find the authorization server.  The texts are fixed or
 * rendered safe at configuration time; they are escaped all the same.
 */

typedef struct {
    ngx_uint_t                 status;
    ngx_str_t                  code;      /* "code" of the body */
    ngx_str_t                  message;   /* "message"; error_description */
    ngx_str_t                  error;     /* RFC 6750 error code, or empty */
    ngx_str_t                  scope;     /* space-separated, or empty */
    ngx_str_t                  scheme;    /* of the challenge; empty:
                                             Bearer (DPoP: RFC 9449) */
    ngx_str_t                  algs;      /* a DPoP challenge's algs, or
                                             empty */
    ngx_str_t                  resource_metadata;  /* a URL, or empty */
} ngx_http_llmgw_error_t;


/*
 * The fixed error of a status the gateway answers itself (the provider
 * could not be reached, the body was too large, ...): code and message
 * for status, no RFC 6750 error, no scope.
 */
void ngx_http_llmgw_error_status(ngx_http_llmgw_error_t *err,
    ngx_uint_t status);

/* the JSON body of err, newline-terminated, in pool; NGX_OK or NGX_ERROR */
ngx_int_t ngx_http_llmgw_error_body(ngx_pool_t *pool,
    ngx_http_llmgw_error_t *err, ngx_str_t *body);

/*
 * Whether err goes with a challenge: every 401, and every error with an
 * RFC 6750 error code (400 invalid_request, 403 insufficient_scope); a
 * refusal that no other token would change (403 without a code) has none.
 */
ngx_uint_t ngx_http_llmgw_error_challenged(ngx_http_llmgw_error_t *err);

/*
 * The challenge of err in pool, Bearer unless err->scheme says otherwise:
 * realm, then error, error_description, scope, algs and resource_metadata
 * when err has them.
 * NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_error_challenge(ngx_pool_t *pool, ngx_str_t *realm,
    ngx_http_llmgw_error_t *err, ngx_str_t *value);

/*
 * WWW-Authenticate with the challenge of err, as r->headers_out's
 * www_authenticate (which nginx hides when satisfy any lets the request
 * in after all); nothing when err has no challenge.  NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_error_www_authenticate(ngx_http_request_t *r,
    ngx_str_t *realm, ngx_http_llmgw_error_t *err);

/* Retry-After: seconds (RFC 9110 section 10.2.3); NGX_OK or NGX_ERROR */
ngx_int_t ngx_http_llmgw_error_retry_after(ngx_http_request_t *r,
    time_t seconds);

/*
 * The headers of a JSON error body in place of nginx's error page:
 * Content-Type application/json without charset, the body's length,
 * Cache-Control no-store, no range, validator or last modification.
 */
ngx_int_t ngx_http_llmgw_error_headers(ngx_http_request_t *r,
    ngx_str_t *body);


#endif /* _NGX_HTTP_LLMGW_ERROR_H_INCLUDED_ */
