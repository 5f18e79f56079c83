
/*
 * Copyright (C) llmgw authors
 *
 * OAuth 2.0 Protected Resource Metadata (RFC 9728): the JSON document a
 * client (an MCP client, say) fetches from
 * /.well-known/oauth-protected-resource to learn which authorization
 * servers issue tokens for this gateway, the scopes it knows and how a
 * token must be presented.  Rendered once, at configuration time.
 */


#ifndef _NGX_HTTP_LLMGW_METADATA_H_INCLUDED_
#define _NGX_HTTP_LLMGW_METADATA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct {
    ngx_str_t                  resource;       /* the resource identifier */
    ngx_array_t               *servers;        /* ngx_str_t, or NULL */
    ngx_array_t               *scopes;         /* ngx_str_t, or NULL */
    ngx_array_t               *dpop_algs;      /* ngx_str_t, or NULL: no
                                                  DPoP */
    unsigned                   dpop_required:1;
    unsigned                   cert_bound:1;
} ngx_http_llmgw_metadata_t;


/*
 * The document of md, compact JSON, members in the order of RFC 9728
 * section 2: resource, authorization_servers, scopes_supported,
 * bearer_methods_supported ("header": a token in a query or a form body
 * is never read), dpop_signing_alg_values_supported (with DPoP),
 * tls_client_certificate_bound_access_tokens, and
 * dpop_bound_access_tokens_required (when it is).  NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_metadata_document(ngx_pool_t *pool,
    ngx_http_llmgw_metadata_t *md, ngx_str_t *doc);


#endif /* _NGX_HTTP_LLMGW_METADATA_H_INCLUDED_ */
