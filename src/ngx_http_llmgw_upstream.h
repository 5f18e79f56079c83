
/*
 * Copyright (C) llmgw authors
 *
 * llmgw_pass on ngx_http_upstream: the location configuration and request
 * context shared by ngx_http_llmgw_pass_module.c (directives, handler,
 * variables) and ngx_http_llmgw_upstream.c (the upstream callbacks).
 */


#ifndef _NGX_HTTP_LLMGW_UPSTREAM_H_INCLUDED_
#define _NGX_HTTP_LLMGW_UPSTREAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw.h"
#include "ngx_http_llmgw_provider.h"
#include "ngx_http_llmgw_secret.h"
#include "ngx_http_llmgw_eventstream.h"
#include "ngx_http_llmgw_usage.h"
#include "ngx_http_llmgw_include_usage.h"


/* a body in memory up to this size is looked at for a JSON "model" */
#define NGX_HTTP_LLMGW_MODEL_BODY_MAX  (1024 * 1024)


typedef struct {
    ngx_http_upstream_conf_t           upstream;

    ngx_http_llmgw_provider_t         *provider;

    ngx_str_t                          url;       /* llmgw_pass, as given */
    ngx_str_t                          authority; /* its host[:port] */
    ngx_str_t                          host;      /* the Host header */
    ngx_str_t                          base;      /* URL path, no final '/' */
    ngx_str_t                          location;  /* the location's prefix */
    ngx_str_t                          strip;     /* data NULL: unset */

    ngx_str_t                          key;       /* provider key */
    ngx_str_t                          key_line;  /* "api-key: KEY" CRLF */
    ngx_http_llmgw_aws_credentials_t  *aws;
    ngx_str_t                          region;
    ngx_array_t                       *remove_headers; /* lowercase names */

    ngx_flag_t                         usage;     /* llmgw_pass_usage */
    ngx_flag_t                         include_usage;
    size_t                             usage_buffer;

#if (NGX_HTTP_SSL)
    ngx_uint_t                         ssl;
    ngx_uint_t                         ssl_protocols;
    ngx_str_t                          ssl_ciphers;
    ngx_uint_t                         ssl_verify_depth;
    ngx_str_t                          ssl_trusted_certificate;
    ngx_str_t                          ssl_crl;
    ngx_str_t                          ssl_name;
#endif
} ngx_http_llmgw_pass_loc_conf_t;


typedef struct {
    ngx_str_t                          path;      /* on the wire */
    ngx_str_t                          query;     /* raw, without '?' */
    ngx_str_t                          model;
    ngx_str_t                          api;       /* API kind, or empty */
    ngx_int_t                          target_rc; /* NGX_OK or a status */

    ngx_http_status_t                  status;
    ngx_http_chunked_t                 chunked;
    ngx_http_llmgw_eventstream_t       es;

    ngx_http_llmgw_outcome_e           outcome;
    ngx_uint_t                         json_error; /* status answered with
                                                      a JSON error body */

    /* the usage read from the body as it streams, or NULL: not read */
    ngx_http_llmgw_usage_t            *usage;

    /* Bedrock InvokeModel's X-Amzn-Bedrock-*-Token-Count headers */
    ngx_http_llmgw_usage_result_t      usage_headers;

    /* the body sent instead of the client's (include_usage added) */
    ngx_str_t                          body;

    /* what include_usage added taken out of the response, or NULL */
    ngx_http_llmgw_include_usage_sse_t  *filter;
    off_t                              filter_length; /* the provider's
                                                         Content-Length */
    ngx_chain_t                     ***filter_ll;   /* output, while fed */
    ngx_buf_t                         *filter_last;

    /* the bodies captured for the audit (llmgw_audit_body) */
    ngx_http_llmgw_capture_t           capture_request;
    ngx_http_llmgw_capture_t           capture_response;
    size_t                             capture_max;   /* the response's */

    unsigned                           target_done:1;
    unsigned                           has_query:1;
    unsigned                           model_done:1;
    unsigned                           header_done:1;
    unsigned                           invalid_header:1;
    unsigned                           invalid_body:1;
    unsigned                           head:1;
    unsigned                           eventstream:1;
    unsigned                           stream:1;  /* an event stream came
                                                     back */
    unsigned                           exception:1;
    unsigned                           body_done:1;
    unsigned                           limits_wait:1; /* the limits after
                                                         the body wait */
    unsigned                           include_usage:1; /* added by us */
    unsigned                           filter_on:1;    /* for this answer */
    unsigned                           capture_raw:1;  /* the bytes */
    unsigned                           capture_es:1;   /* Bedrock's
                                                          messages as text */
} ngx_http_llmgw_pass_ctx_t;


/* wires every upstream callback of llmgw_pass into u */
void ngx_http_llmgw_upstream_setup(ngx_http_request_t *r,
    ngx_http_upstream_t *u);

/* the outcome's name, as $llmgw_upstream_outcome shows it */
ngx_str_t *ngx_http_llmgw_upstream_outcome_name(ngx_http_llmgw_outcome_e o);

/*
 * The token usage of the response to r as read so far: counts present
 * only when the body said its last word on usage, all of them absent
 * (missing) otherwise.
 */
void ngx_http_llmgw_upstream_usage(ngx_http_request_t *r,
    ngx_http_llmgw_usage_result_t *usage);

/*
 * The model of a request: from the raw path by the provider's rules,
 * otherwise from the top-level "model" of a JSON body that is wholly in
 * memory and not larger than NGX_HTTP_LLMGW_MODEL_BODY_MAX.  NGX_OK,
 * NGX_DECLINED (none), NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_upstream_model(ngx_http_request_t *r,
    ngx_http_llmgw_provider_t *pv, ngx_str_t *model);


extern ngx_module_t  ngx_http_llmgw_pass_module;


#endif /* _NGX_HTTP_LLMGW_UPSTREAM_H_INCLUDED_ */
