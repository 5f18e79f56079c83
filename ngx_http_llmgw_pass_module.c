
/*
 * Copyright (C) llmgw authors
 *
 * llmgw_pass: the content handler that forwards a request to an LLM
 * provider (Azure OpenAI, Amazon Bedrock, Google Gemini, an OpenAI-
 * compatible API) on ngx_http_upstream, with the client's credential
 * replaced by the provider's and the response streamed back unbuffered.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw.h"
#include "ngx_http_llmgw_upstream.h"


static ngx_int_t ngx_http_llmgw_pass_handler(ngx_http_request_t *r);
static void ngx_http_llmgw_pass_body_read(ngx_http_request_t *r);
static ngx_http_llmgw_pass_ctx_t *ngx_http_llmgw_pass_get_ctx(
    ngx_http_request_t *r, ngx_http_llmgw_pass_loc_conf_t *llcf);
static ngx_int_t ngx_http_llmgw_pass_target(ngx_http_request_t *r,
    ngx_http_llmgw_pass_loc_conf_t *llcf, ngx_http_llmgw_pass_ctx_t *ctx);

static ngx_int_t ngx_http_llmgw_pass_model(ngx_http_request_t *r,
    ngx_str_t *model);

static ngx_int_t ngx_http_llmgw_pass_provider_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llmgw_pass_model_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llmgw_pass_api_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llmgw_pass_outcome_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llmgw_pass_stream_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llmgw_pass_usage_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llmgw_pass_usage_source_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_http_llmgw_pass_add_variables(ngx_conf_t *cf);
static void *ngx_http_llmgw_pass_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_llmgw_pass_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_llmgw_pass_check(ngx_conf_t *cf,
    ngx_http_llmgw_pass_loc_conf_t *conf);
static void ngx_http_llmgw_pass_region(ngx_http_llmgw_pass_loc_conf_t *conf);

static char *ngx_http_llmgw_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_pass_provider(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_pass_strip_prefix(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_pass_api_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_pass_aws_credentials(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_pass_remove_header(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_pass_usage_buffer(ngx_conf_t *cf, void *post,
    void *data);

#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_llmgw_pass_set_ssl(ngx_conf_t *cf,
    ngx_http_llmgw_pass_loc_conf_t *llcf);
#endif


static ngx_conf_bitmask_t  ngx_http_llmgw_pass_next_upstream_masks[] = {
    { ngx_string("error"), NGX_HTTP_UPSTREAM_FT_ERROR },
    { ngx_string("timeout"), NGX_HTTP_UPSTREAM_FT_TIMEOUT },
    { ngx_string("invalid_header"), NGX_HTTP_UPSTREAM_FT_INVALID_HEADER },
    { ngx_string("non_idempotent"), NGX_HTTP_UPSTREAM_FT_NON_IDEMPOTENT },
    { ngx_string("http_500"), NGX_HTTP_UPSTREAM_FT_HTTP_500 },
    { ngx_string("http_502"), NGX_HTTP_UPSTREAM_FT_HTTP_502 },
    { ngx_string("http_503"), NGX_HTTP_UPSTREAM_FT_HTTP_503 },
    { ngx_string("http_504"), NGX_HTTP_UPSTREAM_FT_HTTP_504 },
    { ngx_string("http_429"), NGX_HTTP_UPSTREAM_FT_HTTP_429 },
    { ngx_string("off"), NGX_HTTP_UPSTREAM_FT_OFF },
    { ngx_null_string, 0 }
};


static ngx_conf_post_handler_pt  ngx_http_llmgw_pass_usage_buffer_p =
    ngx_http_llmgw_pass_usage_buffer;


#if (NGX_HTTP_SSL)

static ngx_conf_bitmask_t  ngx_http_llmgw_pass_ssl_protocols[] = {
    { ngx_string("TLSv1.2"), NGX_SSL_TLSv1_2 },
    { ngx_string("TLSv1.3"), NGX_SSL_TLSv1_3 },
    { ngx_null_string, 0 }
};

#endif


static ngx_command_t  ngx_http_llmgw_pass_commands[] = {

    { ngx_string("llmgw_pass"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_provider"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_pass_provider,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_pass_host"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, host),
      NULL },

    { ngx_string("llmgw_pass_strip_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_pass_strip_prefix,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_pass_api_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_pass_api_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_pass_aws_credentials"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_llmgw_pass_aws_credentials,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_pass_aws_region"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, region),
      NULL },

    { ngx_string("llmgw_pass_remove_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_pass_remove_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_pass_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, upstream.connect_timeout),
      NULL },

    { ngx_string("llmgw_pass_send_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, upstream.send_timeout),
      NULL },

    { ngx_string("llmgw_pass_read_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, upstream.read_timeout),
      NULL },

    { ngx_string("llmgw_pass_buffer_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, upstream.buffer_size),
      NULL },

    { ngx_string("llmgw_pass_usage"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, usage),
      NULL },

    { ngx_string("llmgw_pass_include_usage"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, include_usage),
      NULL },

    { ngx_string("llmgw_pass_usage_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, usage_buffer),
      &ngx_http_llmgw_pass_usage_buffer_p },

    { ngx_string("llmgw_pass_next_upstream"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, upstream.next_upstream),
      &ngx_http_llmgw_pass_next_upstream_masks },

    { ngx_string("llmgw_pass_next_upstream_tries"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, upstream.next_upstream_tries),
      NULL },

    { ngx_string("llmgw_pass_next_upstream_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t,
               upstream.next_upstream_timeout),
      NULL },

#if (NGX_HTTP_SSL)

    { ngx_string("llmgw_pass_ssl_verify"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, upstream.ssl_verify),
      NULL },

    { ngx_string("llmgw_pass_ssl_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, ssl_trusted_certificate),
      NULL },

    { ngx_string("llmgw_pass_ssl_crl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, ssl_crl),
      NULL },

    { ngx_string("llmgw_pass_ssl_verify_depth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, ssl_verify_depth),
      NULL },

    { ngx_string("llmgw_pass_ssl_server_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, upstream.ssl_server_name),
      NULL },

    { ngx_string("llmgw_pass_ssl_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, ssl_name),
      NULL },

    { ngx_string("llmgw_pass_ssl_session_reuse"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, upstream.ssl_session_reuse),
      NULL },

    { ngx_string("llmgw_pass_ssl_protocols"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, ssl_protocols),
      &ngx_http_llmgw_pass_ssl_protocols },

    { ngx_string("llmgw_pass_ssl_ciphers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_pass_loc_conf_t, ssl_ciphers),
      NULL },

#endif

      ngx_null_command
};


static ngx_http_module_t  ngx_http_llmgw_pass_module_ctx = {
    ngx_http_llmgw_pass_add_variables,     /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_llmgw_pass_create_loc_conf,   /* create location configuration */
    ngx_http_llmgw_pass_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_llmgw_pass_module = {
    NGX_MODULE_V1,
    &ngx_http_llmgw_pass_module_ctx,       /* module context */
    ngx_http_llmgw_pass_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* response headers a client never gets from a provider */

static ngx_str_t  ngx_http_llmgw_pass_hide_headers[] = {
    ngx_string("Date"),
    ngx_string("Server"),
    ngx_string("X-Pad"),
    ngx_string("X-Accel-Expires"),
    ngx_string("X-Accel-Redirect"),
    ngx_string("X-Accel-Limit-Rate"),
    ngx_string("X-Accel-Buffering"),
    ngx_string("X-Accel-Charset"),
    ngx_string("Connection"),
    ngx_string("Keep-Alive"),
    ngx_string("Transfer-Encoding"),
    ngx_string("Upgrade"),
    ngx_string("Trailer"),
    ngx_string("TE"),
    ngx_string("Proxy-Connection"),
    ngx_string("Proxy-Authenticate"),
    ngx_null_string
};


static ngx_http_variable_t  ngx_http_llmgw_pass_vars[] = {

    { ngx_string("llmgw_provider"), NULL,
      ngx_http_llmgw_pass_provider_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_model"), NULL,
      ngx_http_llmgw_pass_model_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_api"), NULL,
      ngx_http_llmgw_pass_api_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_upstream_outcome"), NULL,
      ngx_http_llmgw_pass_outcome_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_stream"), NULL,
      ngx_http_llmgw_pass_stream_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_usage_input_tokens"), NULL,
      ngx_http_llmgw_pass_usage_variable,
      offsetof(ngx_http_llmgw_usage_result_t, input_tokens),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_usage_output_tokens"), NULL,
      ngx_http_llmgw_pass_usage_variable,
      offsetof(ngx_http_llmgw_usage_result_t, output_tokens),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_usage_total_tokens"), NULL,
      ngx_http_llmgw_pass_usage_variable,
      offsetof(ngx_http_llmgw_usage_result_t, total_tokens),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_usage_cache_read_tokens"), NULL,
      ngx_http_llmgw_pass_usage_variable,
      offsetof(ngx_http_llmgw_usage_result_t, cache_read_input_tokens),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_usage_reasoning_tokens"), NULL,
      ngx_http_llmgw_pass_usage_variable,
      offsetof(ngx_http_llmgw_usage_result_t, reasoning_output_tokens),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_usage_source"), NULL,
      ngx_http_llmgw_pass_usage_source_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_llmgw_pass_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_http_upstream_t             *u;
    ngx_http_llmgw_pass_ctx_t       *ctx;
    ngx_http_llmgw_pass_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_pass_module);

    ctx = ngx_http_llmgw_pass_get_ctx(r, llcf);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->limits_wait) {
        /*
         * a backend of limits that waited resumed r's phases: the limits
         * after the body go on; the NGX_DONE below gives back the count
         */
        r->main->count++;
        ngx_http_llmgw_pass_body_read(r);
        return NGX_DONE;
    }

    rc = ctx->target_rc;

    if (rc != NGX_OK) {
        ctx->json_error = rc;
        return rc;
    }

    if (ngx_http_upstream_create(r) != NGX_OK) {
        ctx->json_error = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    u = r->upstream;

#if (NGX_HTTP_SSL)
    if (llcf->ssl) {
        ngx_str_set(&u->schema, "https://");
        u->ssl = 1;

    } else {
        ngx_str_set(&u->schema, "http://");
    }
#else
    ngx_str_set(&u->schema, "http://");
#endif

    u->output.tag = (ngx_buf_tag_t) &ngx_http_llmgw_pass_module;
    u->conf = &llcf->upstream;

    ngx_http_llmgw_upstream_setup(r, u);

    /* the whole body first: Bedrock's signature covers its hash */

    r->request_body_no_buffering = 0;

    rc = ngx_http_read_client_request_body(r, ngx_http_llmgw_pass_body_read);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ctx->json_error = rc;
        return rc;
    }

    return NGX_DONE;
}


/*
 * The body is read: the limits that waited for it (budgets, a model the
 * body names) are taken before the upstream request is made; a call
 * that starts within them finishes.
 */

static void
ngx_http_llmgw_pass_body_read(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_llmgw_pass_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    ctx->limits_wait = 0;

    rc = ngx_http_llmgw_limits_body(r);

    if (rc == NGX_OK) {
        ngx_http_upstream_init(r);
        return;
    }

    if (rc == NGX_AGAIN) {
        ctx->limits_wait = 1;
        return;
    }

    ngx_http_finalize_request(r, rc == NGX_ERROR
                                 ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc);
}


ngx_int_t
ngx_http_llmgw_pass_api(ngx_http_request_t *r, ngx_http_llmgw_api_t *api)
{
    ngx_http_llmgw_pass_ctx_t       *ctx;
    ngx_http_llmgw_pass_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_pass_module);

    if (llcf->upstream.upstream == NULL || llcf->provider == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_llmgw_pass_get_ctx(r, llcf);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    switch (ctx->target_rc) {

    case NGX_OK:
        api->provider = llcf->provider->name;
        api->api = ctx->api;
        return NGX_OK;

    case NGX_HTTP_BAD_REQUEST:
        return NGX_HTTP_BAD_REQUEST;

    default:
        return NGX_ERROR;
    }
}


/*
 * The request's ctx, its target computed on the first call: by the access
 * checks (ngx_http_llmgw_pass_api), a variable, or the content handler,
 * which then forwards exactly what the access checks classified.
 */

static ngx_http_llmgw_pass_ctx_t *
ngx_http_llmgw_pass_get_ctx(ngx_http_request_t *r,
    ngx_http_llmgw_pass_loc_conf_t *llcf)
{
    ngx_http_llmgw_pass_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_llmgw_pass_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_llmgw_pass_module);
    }

    if (!ctx->target_done) {
        ctx->target_rc = ngx_http_llmgw_pass_target(r, llcf, ctx);
        ctx->target_done = 1;
    }

    return ctx;
}


/*
 * The path and query that go to the provider: the client's request target
 * as sent (r->unparsed_uri, not the decoded $uri: Bedrock model ids carry
 * "%3A"), the location's prefix replaced by the URL's path, credential
 * query parameters removed; and its API kind, classified from the path as
 * the client sent it after the prefix (the URL's path is configuration).
 * The one place the path is computed and checked.
 */

static ngx_int_t
ngx_http_llmgw_pass_target(ngx_http_request_t *r,
    ngx_http_llmgw_pass_loc_conf_t *llcf, ngx_http_llmgw_pass_ctx_t *ctx)
{
    u_char     *q, *p;
    ngx_str_t   path, query;

    path = r->unparsed_uri;

    q = ngx_strlchr(path.data, path.data + path.len, '?');
    if (q) {
        path.len = q - path.data;
    }

    if (llcf->strip.len) {
        if (path.len < llcf->strip.len
            || ngx_strncmp(path.data, llcf->strip.data, llcf->strip.len) != 0)
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "llmgw_pass: the request path does not start "
                          "with \"%V\" as sent", &llcf->strip);
            return NGX_HTTP_BAD_REQUEST;
        }

        path.data += llcf->strip.len;
        path.len -= llcf->strip.len;
    }

    if (path.len == 0) {
        ngx_str_set(&path, "/");

    } else if (path.data[0] != '/') {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llmgw_pass: the request path does not continue "
                      "after \"%V\" with a '/'", &llcf->strip);
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_http_llmgw_provider_check_path(llcf->provider, path.data,
                                           path.len)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llmgw_pass: the request path has a dot or empty "
                      "segment, an encoded slash, dot, backslash or NUL, "
                      "a ';', or a byte that has no place in a request "
                      "line, refused");
        return NGX_HTTP_BAD_REQUEST;
    }

    (void) ngx_http_llmgw_provider_api(llcf->provider, path.data, path.len,
                                       &ctx->api);

    if (llcf->base.len) {
        p = ngx_pnalloc(r->pool, llcf->base.len + path.len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->path.data = p;
        p = ngx_cpymem(p, llcf->base.data, llcf->base.len);
        p = ngx_cpymem(p, path.data, path.len);
        ctx->path.len = p - ctx->path.data;

    } else {
        ctx->path = path;
    }

    if (q == NULL) {
        return NGX_OK;
    }

    query.data = q + 1;
    query.len = r->unparsed_uri.data + r->unparsed_uri.len - query.data;

    if (ngx_http_llmgw_provider_check_query(query.data, query.len)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llmgw_pass: the query string has a space, '#', "
                      "control or non-ASCII byte, refused");
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_http_llmgw_provider_query(r->pool, llcf->provider, &query,
                                      &ctx->query)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->has_query = (ctx->query.len > 0);

    return NGX_OK;
}


/*
 * The errors the gateway answers itself on an llmgw_pass location (the
 * provider could not be reached, timed out, the request was refused, the
 * body was too large) get a JSON body from the error filter instead of
 * nginx's HTML page; an error_page of the location still takes precedence
 * (the redirect clears the ctx, and its target is no llmgw_pass location).
 * The provider's own errors pass unchanged.
 */

ngx_uint_t
ngx_http_llmgw_pass_error(ngx_http_request_t *r)
{
    ngx_uint_t                       status;
    ngx_http_llmgw_pass_ctx_t       *ctx;
    ngx_http_llmgw_pass_loc_conf_t  *llcf;

    status = r->headers_out.status;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx != NULL && ctx->json_error == status) {
        return status;
    }

    /*
     * nginx's own error page for what happens on the way to the provider,
     * before the content handler ran too (a body over
     * client_max_body_size); 401, 403 and 429 belong to the access checks
     */

    if (r->err_status == 0
        || (status != NGX_HTTP_BAD_REQUEST
            && status != NGX_HTTP_REQUEST_TIME_OUT
            && status != NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
            && status < NGX_HTTP_INTERNAL_SERVER_ERROR))
    {
        return 0;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_pass_module);

    if (llcf->upstream.upstream == NULL) {
        return 0;
    }

    return status;
}


ngx_int_t
ngx_http_llmgw_pass_result(ngx_http_request_t *r,
    ngx_http_llmgw_pass_result_t *res)
{
    ngx_int_t                        rc;
    ngx_str_t                       *name;
    ngx_http_llmgw_api_t             api;
    ngx_http_llmgw_pass_ctx_t       *ctx;
    ngx_http_llmgw_pass_loc_conf_t  *llcf;

    ngx_memzero(res, sizeof(ngx_http_llmgw_pass_result_t));

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_pass_module);

    if (llcf->provider != NULL) {
        res->provider = llcf->provider->name;
    }

    res->enabled = (llcf->upstream.upstream != NULL);

    rc = ngx_http_llmgw_pass_api(r, &api);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK && api.api.len) {
        res->api = api.api;
    }

    if (ngx_http_llmgw_pass_model(r, &res->model) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx != NULL && ctx->outcome != NGX_HTTP_LLMGW_OUTCOME_NONE) {
        name = ngx_http_llmgw_upstream_outcome_name(ctx->outcome);

        res->outcome = ctx->outcome;
        res->outcome_name = *name;
        res->stream = ctx->stream;
    }

    ngx_http_llmgw_upstream_usage(r, &res->usage);

    return NGX_OK;
}


/*
 * The model of the request: the one that went out, else the one it would
 * be (a request denied access, or not yet sent).  Empty when none.
 */

static ngx_int_t
ngx_http_llmgw_pass_model(ngx_http_request_t *r, ngx_str_t *model)
{
    ngx_int_t                        rc;
    ngx_http_llmgw_pass_ctx_t       *ctx;
    ngx_http_llmgw_pass_loc_conf_t  *llcf;

    ngx_str_null(model);

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx && ctx->model_done) {
        if (ctx->model.len) {
            *model = ctx->model;
        }

        return NGX_OK;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_pass_module);

    if (llcf->provider == NULL) {
        return NGX_OK;
    }

    rc = ngx_http_llmgw_upstream_model(r, llcf->provider, model);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_null(model);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_pass_provider_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_llmgw_pass_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_pass_module);

    if (llcf->provider == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llmgw_variable_set(v, llcf->provider->name.data,
                                       llcf->provider->name.len);
}


static ngx_int_t
ngx_http_llmgw_pass_model_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  model;

    if (ngx_http_llmgw_pass_model(r, &model) != NGX_OK) {
        return NGX_ERROR;
    }

    if (model.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llmgw_variable_set(v, model.data, model.len);
}


static ngx_int_t
ngx_http_llmgw_pass_api_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_int_t             rc;
    ngx_http_llmgw_api_t  api;

    rc = ngx_http_llmgw_pass_api(r, &api);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK || api.api.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llmgw_variable_set(v, api.api.data, api.api.len);
}


static ngx_int_t
ngx_http_llmgw_pass_outcome_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                  *name;
    ngx_http_llmgw_pass_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx == NULL || ctx->outcome == NGX_HTTP_LLMGW_OUTCOME_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    name = ngx_http_llmgw_upstream_outcome_name(ctx->outcome);

    return ngx_http_llmgw_variable_set(v, name->data, name->len);
}


/* "1" when an event stream came back, "0" otherwise; empty: no call */

static ngx_int_t
ngx_http_llmgw_pass_stream_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_llmgw_pass_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx == NULL || ctx->outcome == NGX_HTTP_LLMGW_OUTCOME_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llmgw_variable_set(v, (u_char *) (ctx->stream ? "1" : "0"),
                                       1);
}


/* a count of the response's usage; not found when it is absent */

static ngx_int_t
ngx_http_llmgw_pass_usage_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                         *p;
    ngx_http_llmgw_usage_count_t   *count;
    ngx_http_llmgw_usage_result_t   usage;

    ngx_http_llmgw_upstream_usage(r, &usage);

    count = (ngx_http_llmgw_usage_count_t *) ((u_char *) &usage + data);

    if (!count->present) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_llmgw_variable_set(v, p,
                                       ngx_sprintf(p, "%L", count->value) - p);
}


/*
 * "provider" when the response reported its usage, "missing" when it did
 * not or it could not be read; empty: no call
 */

static ngx_int_t
ngx_http_llmgw_pass_usage_source_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_llmgw_pass_ctx_t      *ctx;
    ngx_http_llmgw_usage_result_t   usage;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx == NULL || ctx->outcome == NGX_HTTP_LLMGW_OUTCOME_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    ngx_http_llmgw_upstream_usage(r, &usage);

    if (usage.complete) {
        return ngx_http_llmgw_variable_set(v, (u_char *) "provider",
                                           sizeof("provider") - 1);
    }

    return ngx_http_llmgw_variable_set(v, (u_char *) "missing",
                                       sizeof("missing") - 1);
}


static ngx_int_t
ngx_http_llmgw_pass_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_llmgw_pass_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_llmgw_pass_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_llmgw_pass_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_pass_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->upstream.bufs.num = 0;
     *     conf->upstream.next_upstream = 0;
     *     conf->upstream.temp_path = NULL;
     *     conf->upstream.local = NULL;
     *     conf->url, authority, host, base, location, strip = { 0, NULL };
     *     conf->key, key_line, region = { 0, NULL };
     *     conf->ssl = 0;
     *     conf->ssl_protocols = 0;
     *     conf->ssl_ciphers, ssl_trusted_certificate, ssl_crl,
     *         ssl_name = { 0, NULL };
     */

    conf->upstream.next_upstream_tries = NGX_CONF_UNSET_UINT;
    conf->upstream.connect_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.send_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.read_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.next_upstream_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.buffer_size = NGX_CONF_UNSET_SIZE;

    conf->upstream.hide_headers = NGX_CONF_UNSET_PTR;
    conf->upstream.pass_headers = NGX_CONF_UNSET_PTR;

#if (NGX_HTTP_SSL)
    conf->upstream.ssl_session_reuse = NGX_CONF_UNSET;
    conf->upstream.ssl_server_name = NGX_CONF_UNSET;
    conf->upstream.ssl_verify = NGX_CONF_UNSET;
    conf->ssl_verify_depth = NGX_CONF_UNSET_UINT;
#endif

    /* the hardcoded values: unbuffered, the whole request body first */

    conf->upstream.buffering = 0;
    conf->upstream.request_buffering = 1;
    conf->upstream.cyclic_temp_file = 0;
    conf->upstream.ignore_client_abort = 0;
    conf->upstream.send_lowat = 0;
    conf->upstream.busy_buffers_size = 0;
    conf->upstream.max_temp_file_size = 0;
    conf->upstream.temp_file_write_size = 0;
    conf->upstream.intercept_errors = 0;
    conf->upstream.pass_request_headers = 1;
    conf->upstream.pass_request_body = 1;
    conf->upstream.force_ranges = 0;
    conf->upstream.socket_keepalive = 0;

    /* a provider never steers nginx itself */

    conf->upstream.ignore_headers = NGX_HTTP_UPSTREAM_IGN_XA_REDIRECT
                                    |NGX_HTTP_UPSTREAM_IGN_XA_EXPIRES
                                    |NGX_HTTP_UPSTREAM_IGN_XA_LIMIT_RATE
                                    |NGX_HTTP_UPSTREAM_IGN_XA_BUFFERING
                                    |NGX_HTTP_UPSTREAM_IGN_XA_CHARSET;

    ngx_str_set(&conf->upstream.module, "llmgw_pass");

    conf->usage = NGX_CONF_UNSET;
    conf->include_usage = NGX_CONF_UNSET;
    conf->usage_buffer = NGX_CONF_UNSET_SIZE;

    conf->provider = NGX_CONF_UNSET_PTR;
    conf->aws = NGX_CONF_UNSET_PTR;
    conf->remove_headers = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_llmgw_pass_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_llmgw_pass_loc_conf_t *prev = parent;
    ngx_http_llmgw_pass_loc_conf_t *conf = child;

    ngx_hash_init_t  hash;

    ngx_conf_merge_msec_value(conf->upstream.connect_timeout,
                              prev->upstream.connect_timeout, 60000);

    ngx_conf_merge_msec_value(conf->upstream.send_timeout,
                              prev->upstream.send_timeout, 60000);

    ngx_conf_merge_msec_value(conf->upstream.read_timeout,
                              prev->upstream.read_timeout, 60000);

    ngx_conf_merge_size_value(conf->upstream.buffer_size,
                              prev->upstream.buffer_size,
                              16 * 1024);

    ngx_conf_merge_bitmask_value(conf->upstream.next_upstream,
                              prev->upstream.next_upstream,
                              (NGX_CONF_BITMASK_SET
                               |NGX_HTTP_UPSTREAM_FT_ERROR
                               |NGX_HTTP_UPSTREAM_FT_TIMEOUT));

    if (conf->upstream.next_upstream & NGX_HTTP_UPSTREAM_FT_OFF) {
        conf->upstream.next_upstream = NGX_CONF_BITMASK_SET
                                       |NGX_HTTP_UPSTREAM_FT_OFF;
    }

    ngx_conf_merge_uint_value(conf->upstream.next_upstream_tries,
                              prev->upstream.next_upstream_tries, 0);

    ngx_conf_merge_msec_value(conf->upstream.next_upstream_timeout,
                              prev->upstream.next_upstream_timeout, 0);

    hash.max_size = 512;
    hash.bucket_size = ngx_align(64, ngx_cacheline_size);
    hash.name = "llmgw_pass_headers_hash";

    if (ngx_http_upstream_hide_headers_hash(cf, &conf->upstream,
            &prev->upstream, ngx_http_llmgw_pass_hide_headers, &hash)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_value(conf->usage, prev->usage, 1);
    ngx_conf_merge_value(conf->include_usage, prev->include_usage, 1);
    ngx_conf_merge_size_value(conf->usage_buffer, prev->usage_buffer,
                              NGX_HTTP_LLMGW_USAGE_LIMIT);

    ngx_conf_merge_ptr_value(conf->provider, prev->provider, NULL);
    ngx_conf_merge_ptr_value(conf->aws, prev->aws, NULL);
    ngx_conf_merge_ptr_value(conf->remove_headers, prev->remove_headers,
                             NULL);

    ngx_conf_merge_str_value(conf->host, prev->host, "");
    ngx_conf_merge_str_value(conf->region, prev->region, "");

    if (conf->key.data == NULL) {
        conf->key = prev->key;
    }

    if (conf->strip.data == NULL) {
        conf->strip = prev->strip;
    }

#if (NGX_HTTP_SSL)

    ngx_conf_merge_value(conf->upstream.ssl_session_reuse,
                              prev->upstream.ssl_session_reuse, 1);

    ngx_conf_merge_bitmask_value(conf->ssl_protocols, prev->ssl_protocols,
                                 (NGX_CONF_BITMASK_SET
                                  |NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3));

    ngx_conf_merge_str_value(conf->ssl_ciphers, prev->ssl_ciphers,
                             "DEFAULT");

    ngx_conf_merge_str_value(conf->ssl_name, prev->ssl_name, "");

    ngx_conf_merge_value(conf->upstream.ssl_server_name,
                              prev->upstream.ssl_server_name, 1);
    ngx_conf_merge_value(conf->upstream.ssl_verify,
                              prev->upstream.ssl_verify, 1);
    ngx_conf_merge_uint_value(conf->ssl_verify_depth,
                              prev->ssl_verify_depth, 4);
    ngx_conf_merge_str_value(conf->ssl_trusted_certificate,
                              prev->ssl_trusted_certificate, "");
    ngx_conf_merge_str_value(conf->ssl_crl, prev->ssl_crl, "");

#endif

    if (ngx_http_llmgw_api_conf_check(cf, conf->provider) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->upstream.upstream == NULL) {
        /* no llmgw_pass here */
        return NGX_CONF_OK;
    }

    return ngx_http_llmgw_pass_check(cf, conf);
}


/* what a location with llmgw_pass needs, and what it derives once */

static char *
ngx_http_llmgw_pass_check(ngx_conf_t *cf, ngx_http_llmgw_pass_loc_conf_t *conf)
{
    u_char                            *p;
    ngx_str_t                          name;
    ngx_http_llmgw_provider_t         *pv;
    ngx_http_compile_complex_value_t   ccv;

    pv = conf->provider;

    if (pv == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_pass\" needs \"llmgw_provider\"");
        return NGX_CONF_ERROR;
    }

    if (conf->host.len == 0) {
        conf->host = conf->authority;
    }

    if (conf->strip.data == NULL) {
        conf->strip = conf->location;
    }

    if (conf->aws && pv->id != NGX_HTTP_LLMGW_PROVIDER_BEDROCK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_pass_aws_credentials\" is for the "
                           "\"bedrock\" provider only");
        return NGX_CONF_ERROR;
    }

    if (conf->aws && conf->key.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_pass_aws_credentials\" and "
                           "\"llmgw_pass_api_key\" exclude each other");
        return NGX_CONF_ERROR;
    }

    if (conf->aws) {
        if (conf->region.len == 0) {
            ngx_http_llmgw_pass_region(conf);
        }

        if (conf->region.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"llmgw_pass_aws_credentials\" needs "
                               "\"llmgw_pass_aws_region\" when the host "
                               "\"%V\" does not name the region",
                               &conf->host);
            return NGX_CONF_ERROR;
        }
    }

    if (conf->key.len == 0 && conf->aws == NULL
        && pv->id != NGX_HTTP_LLMGW_PROVIDER_OPENAI)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "provider \"%V\" needs \"llmgw_pass_api_key\"%s",
                           &pv->name,
                           pv->id == NGX_HTTP_LLMGW_PROVIDER_BEDROCK
                           ? " or \"llmgw_pass_aws_credentials\"" : "");
        return NGX_CONF_ERROR;
    }

    if (conf->key.len) {
        conf->key_line.len = pv->key_header.len + sizeof(": ") - 1
                             + pv->key_prefix.len + conf->key.len
                             + sizeof(CRLF) - 1;

        conf->key_line.data = ngx_pnalloc(cf->pool, conf->key_line.len);
        if (conf->key_line.data == NULL) {
            return NGX_CONF_ERROR;
        }

        p = ngx_cpymem(conf->key_line.data, pv->key_header.data,
                       pv->key_header.len);
        *p++ = ':'; *p++ = ' ';
        p = ngx_cpymem(p, pv->key_prefix.data, pv->key_prefix.len);
        p = ngx_cpymem(p, conf->key.data, conf->key.len);
        *p++ = CR; *p = LF;
    }

#if (NGX_HTTP_SSL)

    if (conf->ssl) {

        /* the name verified and sent as SNI: the Host without a port */

        name = conf->ssl_name;

        if (name.len == 0) {
            name = conf->host;

            if (name.len && name.data[0] == '[') {
                p = ngx_strlchr(name.data, name.data + name.len, ']');
                if (p) {
                    name.len = p + 1 - name.data;
                }

            } else {
                p = ngx_strlchr(name.data, name.data + name.len, ':');
                if (p) {
                    name.len = p - name.data;
                }
            }
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        conf->upstream.ssl_name = ngx_palloc(cf->pool,
                                        sizeof(ngx_http_complex_value_t));
        if (conf->upstream.ssl_name == NULL) {
            return NGX_CONF_ERROR;
        }

        ccv.cf = cf;
        ccv.value = &name;
        ccv.complex_value = conf->upstream.ssl_name;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        if (ngx_http_llmgw_pass_set_ssl(cf, conf) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

#else
    (void) name;
    (void) ccv;
#endif

    return NGX_CONF_OK;
}


/* "bedrock-runtime.REGION.amazonaws.com" names its region */

static void
ngx_http_llmgw_pass_region(ngx_http_llmgw_pass_loc_conf_t *conf)
{
    u_char     *p, *last;
    ngx_str_t   host;

    host = conf->host;

    p = ngx_strlchr(host.data, host.data + host.len, ':');
    if (p) {
        host.len = p - host.data;
    }

    if (host.len <= sizeof("bedrock-runtime.") - 1
                    + sizeof(".amazonaws.com") - 1
        || ngx_strncasecmp(host.data, (u_char *) "bedrock-runtime.",
                           sizeof("bedrock-runtime.") - 1) != 0)
    {
        return;
    }

    last = host.data + host.len - (sizeof(".amazonaws.com") - 1);

    if (ngx_strncasecmp(last, (u_char *) ".amazonaws.com",
                        sizeof(".amazonaws.com") - 1) != 0)
    {
        return;
    }

    p = host.data + sizeof("bedrock-runtime.") - 1;

    if (ngx_strlchr(p, last, '.') != NULL) {
        return;
    }

    conf->region.data = p;
    conf->region.len = last - p;
}


static char *
ngx_http_llmgw_pass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_pass_loc_conf_t *llcf = conf;

    u_char                    *p;
    size_t                     add;
    in_port_t                  port;
    ngx_str_t                 *value, *url;
    ngx_url_t                  u;
    ngx_http_core_loc_conf_t  *clcf;

    if (llcf->upstream.upstream) {
        return "is duplicate";
    }

    value = cf->args->elts;
    url = &value[1];

    if (url->len >= 7 && ngx_strncasecmp(url->data, (u_char *) "http://", 7)
                         == 0)
    {
        add = 7;
        port = 80;

    } else if (url->len >= 8
               && ngx_strncasecmp(url->data, (u_char *) "https://", 8) == 0)
    {
#if (NGX_HTTP_SSL)
        llcf->ssl = 1;
        add = 8;
        port = 443;
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "https protocol requires SSL support");
        return NGX_CONF_ERROR;
#endif

    } else if (ngx_strlchr(url->data, url->data + url->len, ':') == NULL
               && ngx_strlchr(url->data, url->data + url->len, '/') == NULL)
    {
        /* the name of an upstream{} block, spoken to in plain HTTP */
        add = 0;
        port = 80;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL prefix in \"%V\"", url);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.len = url->len - add;
    u.url.data = url->data + add;
    u.default_port = port;
    u.uri_part = 1;
    u.no_resolve = 1;

    llcf->upstream.upstream = ngx_http_upstream_add(cf, &u, 0);
    if (llcf->upstream.upstream == NULL) {
        return NGX_CONF_ERROR;
    }

    if (u.host.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "no host in \"%V\"", url);
        return NGX_CONF_ERROR;
    }

    if (ngx_strlchr(u.uri.data, u.uri.data + u.uri.len, '?') != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_pass\" takes no query string: \"%V\"",
                           url);
        return NGX_CONF_ERROR;
    }

    llcf->url = *url;

    /* the authority as written: the default Host */

    if (u.no_port) {
        llcf->authority = u.host;

    } else {
        llcf->authority.len = u.host.len + 1 + u.port_text.len;
        llcf->authority.data = ngx_pnalloc(cf->pool, llcf->authority.len);
        if (llcf->authority.data == NULL) {
            return NGX_CONF_ERROR;
        }

        p = ngx_cpymem(llcf->authority.data, u.host.data, u.host.len);
        *p++ = ':';
        ngx_memcpy(p, u.port_text.data, u.port_text.len);
    }

    /* the URL's path, without a final '/', goes before the client's path */

    llcf->base = u.uri;

    while (llcf->base.len && llcf->base.data[llcf->base.len - 1] == '/') {
        llcf->base.len--;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    clcf->handler = ngx_http_llmgw_pass_handler;

    if (clcf->name.len && clcf->name.data[clcf->name.len - 1] == '/') {
        clcf->auto_redirect = 1;
    }

    /* a prefix location's name, without a final '/', is stripped */

    if (!clcf->named && !clcf->noname && !clcf->exact_match
#if (NGX_PCRE)
        && clcf->regex == NULL
#endif
        )
    {
        llcf->location = clcf->name;

        while (llcf->location.len
               && llcf->location.data[llcf->location.len - 1] == '/')
        {
            llcf->location.len--;
        }

    } else {
        ngx_str_set(&llcf->location, "");
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llmgw_pass_provider(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_pass_loc_conf_t *llcf = conf;

    ngx_str_t  *value;

    if (llcf->provider != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    llcf->provider = ngx_http_llmgw_provider_find(&value[1]);

    if (llcf->provider == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown provider \"%V\": expected "
                           "\"azure_openai\", \"bedrock\", \"gemini\" or "
                           "\"openai\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llmgw_pass_strip_prefix(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llmgw_pass_loc_conf_t *llcf = conf;

    ngx_str_t  *value;

    if (llcf->strip.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        ngx_str_set(&llcf->strip, "");
        return NGX_CONF_OK;
    }

    if (value[1].len == 0 || value[1].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid prefix \"%V\": it starts with '/'",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    llcf->strip = value[1];

    while (llcf->strip.len > 1
           && llcf->strip.data[llcf->strip.len - 1] == '/')
    {
        llcf->strip.len--;
    }

    if (llcf->strip.len == 1) {
        ngx_str_set(&llcf->strip, "");
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llmgw_pass_api_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_pass_loc_conf_t *llcf = conf;

    ngx_str_t  *value;

    if (llcf->key.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_llmgw_secret_load(cf, &value[1], &llcf->key) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llmgw_pass_aws_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llmgw_pass_loc_conf_t *llcf = conf;

    ngx_str_t  *value;

    if (llcf->aws != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    llcf->aws = ngx_pcalloc(cf->pool,
                            sizeof(ngx_http_llmgw_aws_credentials_t));
    if (llcf->aws == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    if (ngx_http_llmgw_secret_load_aws(cf, &value[1], cf->args->nelts - 1,
                                       llcf->aws)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llmgw_pass_remove_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llmgw_pass_loc_conf_t *llcf = conf;

    ngx_str_t   *value, *name;
    ngx_uint_t   i;

    if (llcf->remove_headers == NGX_CONF_UNSET_PTR) {
        llcf->remove_headers = ngx_array_create(cf->pool, 4,
                                                sizeof(ngx_str_t));
        if (llcf->remove_headers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        name = ngx_array_push(llcf->remove_headers);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        name->len = value[i].len;
        name->data = ngx_pnalloc(cf->pool, value[i].len);
        if (name->data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_strlow(name->data, value[i].data, value[i].len);
    }

    return NGX_CONF_OK;
}


/* the parser's own bounds, refused rather than silently clamped */

static char *
ngx_http_llmgw_pass_usage_buffer(ngx_conf_t *cf, void *post, void *data)
{
    size_t  *sp = data;

    if (*sp < NGX_HTTP_LLMGW_USAGE_MIN_LIMIT
        || *sp > NGX_HTTP_LLMGW_USAGE_MAX_LIMIT)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_pass_usage_buffer\" must be between "
                           "%uz and %uz",
                           (size_t) NGX_HTTP_LLMGW_USAGE_MIN_LIMIT,
                           (size_t) NGX_HTTP_LLMGW_USAGE_MAX_LIMIT);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


#if (NGX_HTTP_SSL)

static ngx_int_t
ngx_http_llmgw_pass_set_ssl(ngx_conf_t *cf,
    ngx_http_llmgw_pass_loc_conf_t *llcf)
{
    ngx_pool_cleanup_t  *cln;

    llcf->upstream.ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (llcf->upstream.ssl == NULL) {
        return NGX_ERROR;
    }

    llcf->upstream.ssl->log = cf->log;

    if (ngx_ssl_create(llcf->upstream.ssl, llcf->ssl_protocols, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(llcf->upstream.ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = llcf->upstream.ssl;

    if (ngx_ssl_ciphers(cf, llcf->upstream.ssl, &llcf->ssl_ciphers, 0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (llcf->upstream.ssl_verify) {

        if (llcf->ssl_trusted_certificate.len) {
            if (ngx_ssl_trusted_certificate(cf, llcf->upstream.ssl,
                                            &llcf->ssl_trusted_certificate,
                                            llcf->ssl_verify_depth)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

        } else {
            /* no CA given: the system's, as OpenSSL finds them */

            SSL_CTX_set_verify_depth(llcf->upstream.ssl->ctx,
                                     llcf->ssl_verify_depth);

            if (SSL_CTX_set_default_verify_paths(llcf->upstream.ssl->ctx)
                == 0)
            {
                ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                              "SSL_CTX_set_default_verify_paths() failed");
                return NGX_ERROR;
            }
        }

        if (ngx_ssl_crl(cf, llcf->upstream.ssl, &llcf->ssl_crl) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ngx_ssl_client_session_cache(cf, llcf->upstream.ssl,
                                     llcf->upstream.ssl_session_reuse)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}

#endif
