
/*
 * Copyright (C) llmgw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_upstream.h"
#include "ngx_http_llmgw_sigv4.h"
#include "ngx_http_llmgw_estimate.h"


static ngx_int_t ngx_http_llmgw_upstream_create_request(ngx_http_request_t *r);
static ngx_int_t ngx_http_llmgw_upstream_reinit_request(ngx_http_request_t *r);
static ngx_int_t ngx_http_llmgw_upstream_process_status_line(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_llmgw_upstream_process_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_llmgw_upstream_header_done(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_upstream_check_chunked(ngx_http_request_t *r,
    ngx_buf_t *buf);
static ngx_int_t ngx_http_llmgw_upstream_filter_init(void *data);
static ngx_int_t ngx_http_llmgw_upstream_filter(void *data, ssize_t bytes);
static ngx_int_t ngx_http_llmgw_upstream_output(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx, ngx_chain_t ***ll, u_char *pos,
    u_char *last);
static void ngx_http_llmgw_upstream_tee(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx, u_char *pos, u_char *last);
static ngx_int_t ngx_http_llmgw_upstream_usage_init(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx, ngx_uint_t sse, ngx_uint_t es);
static void ngx_http_llmgw_upstream_usage_headers(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx);
static void ngx_http_llmgw_upstream_usage_feed(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx, u_char *pos, u_char *last);
static void ngx_http_llmgw_upstream_usage_finish(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_upstream_body(ngx_http_request_t *r,
    size_t max, ngx_str_t *body);
static ngx_int_t ngx_http_llmgw_upstream_include_usage(ngx_http_request_t *r,
    ngx_http_llmgw_pass_loc_conf_t *llcf, ngx_http_llmgw_pass_ctx_t *ctx);
static void ngx_http_llmgw_upstream_filter_header(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_upstream_buf(ngx_http_request_t *r,
    ngx_chain_t ***ll, u_char *pos, u_char *last, ngx_buf_t **last_buf);
static ngx_int_t ngx_http_llmgw_upstream_filter_emit(void *data, u_char *p,
    size_t len);
static ngx_int_t ngx_http_llmgw_upstream_filter_finish(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx, ngx_chain_t ***ll);
static void ngx_http_llmgw_upstream_abort_request(ngx_http_request_t *r);
static void ngx_http_llmgw_upstream_finalize_request(ngx_http_request_t *r,
    ngx_int_t rc);
static ngx_int_t ngx_http_llmgw_upstream_sign(ngx_http_request_t *r,
    ngx_http_llmgw_pass_loc_conf_t *llcf, ngx_http_llmgw_pass_ctx_t *ctx,
    ngx_str_t *lines);
static off_t ngx_http_llmgw_upstream_body_length(ngx_http_request_t *r);
static ngx_array_t *ngx_http_llmgw_upstream_connection(ngx_http_request_t *r);
static ngx_uint_t ngx_http_llmgw_upstream_forward(
    ngx_http_llmgw_pass_loc_conf_t *llcf, ngx_array_t *connection,
    ngx_table_elt_t *h);
static ngx_uint_t ngx_http_llmgw_upstream_has_secret(
    ngx_http_llmgw_pass_loc_conf_t *llcf, u_char *p, size_t len);
static ngx_uint_t ngx_http_llmgw_upstream_contains(u_char *p, size_t len,
    ngx_str_t *s);
static void ngx_http_llmgw_upstream_wipe(void *data);
static ngx_int_t ngx_http_llmgw_upstream_capture_request(
    ngx_http_request_t *r, ngx_http_llmgw_pass_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_upstream_capture_init(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx, ngx_uint_t sse, ngx_uint_t es);
static ngx_uint_t ngx_http_llmgw_upstream_capturable(ngx_str_t *type);
static void ngx_http_llmgw_upstream_capture(ngx_http_llmgw_capture_t *cap,
    size_t max, u_char *p, size_t len);
static void ngx_http_llmgw_upstream_capture_message(
    ngx_http_llmgw_pass_ctx_t *ctx,
    ngx_http_llmgw_eventstream_message_t *msg);


static ngx_str_t  ngx_http_llmgw_upstream_outcomes[] = {
    ngx_null_string,
    ngx_string("ok"),
    ngx_string("http_error"),
    ngx_string("stream_cut"),
    ngx_string("stream_exception"),
    ngx_string("connect_error"),
    ngx_string("timeout"),
    ngx_string("bad_response"),
    ngx_string("client_closed"),
    ngx_string("error")
};


/*
 * The usage format of a response by provider and API kind: one for a body
 * that is not an event stream (JSON), one for the event stream the API
 * streams in (SSE or AWS's, by the provider); -1: usage is not read.
 * Gemini's countTokens counts a prompt and consumes nothing, so it is not
 * read; embedContent is read as Gemini JSON (no usageMetadata in today's
 * answers: missing).
 */

typedef struct {
    ngx_str_t                      api;
    ngx_int_t                      json;
    ngx_int_t                      stream;
} ngx_http_llmgw_upstream_usage_format_t;


static ngx_http_llmgw_upstream_usage_format_t
    ngx_http_llmgw_upstream_usage_openai[] =
{
    { ngx_string("chat"), NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
      NGX_HTTP_LLMGW_USAGE_OPENAI_SSE },
    { ngx_string("completions"), NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
      NGX_HTTP_LLMGW_USAGE_OPENAI_SSE },
    { ngx_string("embeddings"), NGX_HTTP_LLMGW_USAGE_OPENAI_JSON,
      NGX_HTTP_LLMGW_USAGE_OPENAI_SSE },
    { ngx_string("responses"), NGX_HTTP_LLMGW_USAGE_RESPONSES_JSON,
      NGX_HTTP_LLMGW_USAGE_RESPONSES_SSE },
    { ngx_null_string, -1, -1 }
};


static ngx_http_llmgw_upstream_usage_format_t
    ngx_http_llmgw_upstream_usage_bedrock[] =
{
    { ngx_string("invoke"), NGX_HTTP_LLMGW_USAGE_ANTHROPIC_JSON,
      NGX_HTTP_LLMGW_USAGE_ANTHROPIC_EVENTSTREAM },
    { ngx_string("converse"), NGX_HTTP_LLMGW_USAGE_CONVERSE_JSON,
      NGX_HTTP_LLMGW_USAGE_CONVERSE_EVENTSTREAM },
    { ngx_null_string, -1, -1 }
};


static ngx_http_llmgw_upstream_usage_format_t
    ngx_http_llmgw_upstream_usage_gemini[] =
{
    { ngx_string("generateContent"), NGX_HTTP_LLMGW_USAGE_GEMINI_JSON,
      NGX_HTTP_LLMGW_USAGE_GEMINI_SSE },
    { ngx_string("embedContent"), NGX_HTTP_LLMGW_USAGE_GEMINI_JSON, -1 },
    { ngx_null_string, -1, -1 }
};


void
ngx_http_llmgw_upstream_setup(ngx_http_request_t *r, ngx_http_upstream_t *u)
{
    u->create_request = ngx_http_llmgw_upstream_create_request;
    u->reinit_request = ngx_http_llmgw_upstream_reinit_request;
    u->process_header = ngx_http_llmgw_upstream_process_status_line;
    u->abort_request = ngx_http_llmgw_upstream_abort_request;
    u->finalize_request = ngx_http_llmgw_upstream_finalize_request;

    u->input_filter_init = ngx_http_llmgw_upstream_filter_init;
    u->input_filter = ngx_http_llmgw_upstream_filter;
    u->input_filter_ctx = r;

    /* every response is passed on as it arrives */
    u->buffering = 0;
}


ngx_str_t *
ngx_http_llmgw_upstream_outcome_name(ngx_http_llmgw_outcome_e o)
{
    if ((size_t) o >= sizeof(ngx_http_llmgw_upstream_outcomes)
                      / sizeof(ngx_str_t))
    {
        return &ngx_http_llmgw_upstream_outcomes[0];
    }

    return &ngx_http_llmgw_upstream_outcomes[o];
}


ngx_int_t
ngx_http_llmgw_upstream_model(ngx_http_request_t *r,
    ngx_http_llmgw_provider_t *pv, ngx_str_t *model)
{
    u_char     *p;
    ngx_int_t   rc;
    ngx_str_t   path, body;

    path = r->unparsed_uri;

    p = ngx_strlchr(path.data, path.data + path.len, '?');
    if (p) {
        path.len = p - path.data;
    }

    rc = ngx_http_llmgw_provider_model_from_path(r->pool, pv, &path, model);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    /* a JSON body wholly in memory, small enough to parse */

    rc = ngx_http_llmgw_upstream_body(r, NGX_HTTP_LLMGW_MODEL_BODY_MAX,
                                      &body);

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_llmgw_provider_model_from_json(r->pool, body.data,
                                                   body.len, model);
}


/*
 * The client's request body in one piece, when it is wholly in memory and
 * not larger than max: NGX_OK; NGX_DECLINED: none, in a file, or too large;
 * NGX_ERROR.  A body in one buffer is not copied.
 */

static ngx_int_t
ngx_http_llmgw_upstream_body(ngx_http_request_t *r, size_t max,
    ngx_str_t *body)
{
    u_char       *p;
    size_t        size;
    ngx_buf_t    *b, *one;
    ngx_chain_t  *cl;

    if (r->request_body == NULL
        || r->request_body->bufs == NULL
        || r->request_body->temp_file)
    {
        return NGX_DECLINED;
    }

    size = 0;
    one = NULL;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_special(b)) {
            continue;
        }

        if (!ngx_buf_in_memory(b) || b->in_file) {
            return NGX_DECLINED;
        }

        size += b->last - b->pos;

        if (size > max) {
            return NGX_DECLINED;
        }

        one = (one == NULL) ? b : (ngx_buf_t *) -1;
    }

    if (size == 0) {
        return NGX_DECLINED;
    }

    if (one != (ngx_buf_t *) -1) {
        body->data = one->pos;
        body->len = size;
        return NGX_OK;
    }

    body->data = ngx_pnalloc(r->pool, size);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    body->len = size;
    p = body->data;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (!ngx_buf_special(cl->buf)) {
            p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_pass_body_tokens(ngx_http_request_t *r, int64_t *max,
    off_t *len)
{
    ngx_int_t  rc;
    ngx_str_t  body;

    *max = -1;
    *len = ngx_http_llmgw_upstream_body_length(r);

    rc = ngx_http_llmgw_upstream_body(r, NGX_HTTP_LLMGW_ESTIMATE_BODY_MAX,
                                      &body);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK
        && ngx_http_llmgw_estimate_max_output(body.data, body.len, max)
           != NGX_OK)
    {
        *max = -1;
    }

    return NGX_OK;
}


/*
 * stream_options.include_usage added to a streamed chat or completions
 * request of Azure OpenAI or OpenAI that did not ask for it, so that its
 * usage can be read; the response then gets what the provider adds for it
 * taken out (ngx_http_llmgw_upstream_filter_header).
 */

static ngx_int_t
ngx_http_llmgw_upstream_include_usage(ngx_http_request_t *r,
    ngx_http_llmgw_pass_loc_conf_t *llcf, ngx_http_llmgw_pass_ctx_t *ctx)
{
    ngx_int_t    rc;
    ngx_str_t    body, out, version;
    const char  *reason;

    if (!llcf->include_usage
        || !llcf->usage
        || r->method != NGX_HTTP_POST
        || (llcf->provider->id != NGX_HTTP_LLMGW_PROVIDER_AZURE_OPENAI
            && llcf->provider->id != NGX_HTTP_LLMGW_PROVIDER_OPENAI))
    {
        return NGX_OK;
    }

    if (!(ctx->api.len == sizeof("chat") - 1
          && ngx_strncmp(ctx->api.data, "chat", ctx->api.len) == 0)
        && !(ctx->api.len == sizeof("completions") - 1
             && ngx_strncmp(ctx->api.data, "completions", ctx->api.len)
                == 0))
    {
        return NGX_OK;
    }

    /*
     * Azure's deployments API refuses stream_options before api-version
     * 2024-10-21 (2024-09-01-preview); its v1 API takes it as OpenAI does
     */

    if (llcf->provider->id == NGX_HTTP_LLMGW_PROVIDER_AZURE_OPENAI
        && ngx_strnstr(ctx->path.data, "/openai/v1/", ctx->path.len) == NULL
        && (ngx_http_arg(r, (u_char *) "api-version",
                         sizeof("api-version") - 1, &version)
            != NGX_OK
            || !ngx_http_llmgw_include_usage_azure_version(version.data,
                                                           version.len)))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llmgw_pass: include_usage not added: the "
                       "api-version does not know stream_options");
        return NGX_OK;
    }

    rc = ngx_http_llmgw_upstream_body(r, NGX_MAX_SIZE_T_VALUE, &body);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llmgw_pass: include_usage not added: no body in "
                       "memory");
        return NGX_OK;
    }

    rc = ngx_http_llmgw_include_usage_request(r->pool, body.data, body.len,
                                              &out, &reason);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llmgw_pass: include_usage not added: %s", reason);
        return NGX_OK;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llmgw_pass: include_usage added");

    ctx->body = out;
    ctx->include_usage = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_upstream_create_request(ngx_http_request_t *r)
{
    off_t                            body_len;
    size_t                           len;
    ngx_int_t                        rc;
    ngx_buf_t                       *b, *nb;
    ngx_str_t                        signature;
    ngx_uint_t                       i, has_body;
    ngx_chain_t                     *cl, *body;
    ngx_array_t                     *connection;
    ngx_list_part_t                 *part;
    ngx_table_elt_t                 *h;
    ngx_pool_cleanup_t              *cln;
    ngx_http_upstream_t             *u;
    ngx_http_llmgw_pass_ctx_t       *ctx;
    ngx_http_llmgw_pass_loc_conf_t  *llcf;

    u = r->upstream;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_pass_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (!ctx->model_done) {
        rc = ngx_http_llmgw_upstream_model(r, llcf->provider, &ctx->model);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        ctx->model_done = 1;
    }

    if (!ctx->body_done) {
        if (ngx_http_llmgw_upstream_capture_request(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        if (ngx_http_llmgw_upstream_include_usage(r, llcf, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        ctx->body_done = 1;
    }

    ngx_str_null(&signature);

    if (llcf->aws) {
        if (ngx_http_llmgw_upstream_sign(r, llcf, ctx, &signature) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    body_len = ctx->body.data ? (off_t) ctx->body.len
                              : ngx_http_llmgw_upstream_body_length(r);

    connection = ngx_http_llmgw_upstream_connection(r);

    has_body = (body_len > 0
                || r->headers_in.content_length != NULL
                || r->headers_in.chunked);

    len = r->method_name.len + 1 + ctx->path.len
          + (ctx->has_query ? 1 + ctx->query.len : 0)
          + sizeof(" HTTP/1.1" CRLF) - 1
          + sizeof("Host: ") - 1 + llcf->host.len + sizeof(CRLF) - 1
          + llcf->key_line.len
          + signature.len
          + sizeof(CRLF) - 1;

    if (has_body) {
        len += sizeof("Content-Length: ") - 1 + NGX_OFF_T_LEN
               + sizeof(CRLF) - 1;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (ngx_http_llmgw_upstream_forward(llcf, connection, &h[i])) {
            len += h[i].key.len + sizeof(": ") - 1 + h[i].value.len
                   + sizeof(CRLF) - 1;
        }
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    /* the request holds the provider's credential: wipe it with the pool */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_llmgw_upstream_wipe;
    cln->data = b;

    b->last = ngx_copy(b->last, r->method_name.data, r->method_name.len);
    *b->last++ = ' ';

    u->uri.data = b->last;
    b->last = ngx_copy(b->last, ctx->path.data, ctx->path.len);
    u->uri.len = b->last - u->uri.data;

    if (ctx->has_query) {
        *b->last++ = '?';
        b->last = ngx_copy(b->last, ctx->query.data, ctx->query.len);
    }

    b->last = ngx_cpymem(b->last, " HTTP/1.1" CRLF,
                         sizeof(" HTTP/1.1" CRLF) - 1);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llmgw_pass request: \"%V %V\"",
                   &r->method_name, &u->uri);

    b->last = ngx_cpymem(b->last, "Host: ", sizeof("Host: ") - 1);
    b->last = ngx_copy(b->last, llcf->host.data, llcf->host.len);
    *b->last++ = CR; *b->last++ = LF;

    b->last = ngx_copy(b->last, llcf->key_line.data, llcf->key_line.len);
    b->last = ngx_copy(b->last, signature.data, signature.len);

    if (signature.len) {
        ngx_explicit_memzero(signature.data, signature.len);
    }

    if (has_body) {
        b->last = ngx_sprintf(b->last, "Content-Length: %O" CRLF, body_len);
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (!ngx_http_llmgw_upstream_forward(llcf, connection, &h[i])) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "llmgw_pass: client header \"%V\" not forwarded",
                           &h[i].key);
            continue;
        }

        b->last = ngx_copy(b->last, h[i].key.data, h[i].key.len);
        *b->last++ = ':'; *b->last++ = ' ';
        b->last = ngx_copy(b->last, h[i].value.data, h[i].value.len);
        *b->last++ = CR; *b->last++ = LF;
    }

    *b->last++ = CR; *b->last++ = LF;

    /* the body goes as nginx keeps it: memory and temporary file buffers */

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    u->request_bufs = cl;

    if (ctx->body.data) {
        nb = ngx_calloc_buf(r->pool);
        if (nb == NULL) {
            return NGX_ERROR;
        }

        /* start and end too: a retry sends it again from start */

        nb->memory = 1;
        nb->start = ctx->body.data;
        nb->pos = ctx->body.data;
        nb->last = ctx->body.data + ctx->body.len;
        nb->end = nb->last;

        cl->next = ngx_alloc_chain_link(r->pool);
        if (cl->next == NULL) {
            return NGX_ERROR;
        }

        cl = cl->next;
        cl->buf = nb;
    }

    body = (r->request_body && body_len > 0 && ctx->body.data == NULL)
           ? r->request_body->bufs : NULL;

    for ( /* void */ ; body; body = body->next) {
        nb = ngx_alloc_buf(r->pool);
        if (nb == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(nb, body->buf, sizeof(ngx_buf_t));

        cl->next = ngx_alloc_chain_link(r->pool);
        if (cl->next == NULL) {
            return NGX_ERROR;
        }

        cl = cl->next;
        cl->buf = nb;
    }

    b->flush = 1;
    cl->next = NULL;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_upstream_reinit_request(ngx_http_request_t *r)
{
    ngx_http_llmgw_pass_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx == NULL) {
        return NGX_OK;
    }

    ngx_memzero(&ctx->status, sizeof(ngx_http_status_t));
    ngx_memzero(&ctx->chunked, sizeof(ngx_http_chunked_t));

    ctx->header_done = 0;
    ctx->invalid_header = 0;
    ctx->invalid_body = 0;
    ctx->eventstream = 0;
    ctx->stream = 0;
    ctx->exception = 0;

    /* the usage of an answer given up on is not the one to come */

    ctx->usage = NULL;
    ngx_memzero(&ctx->usage_headers, sizeof(ngx_http_llmgw_usage_result_t));

    ctx->filter = NULL;
    ctx->filter_on = 0;

    r->upstream->process_header = ngx_http_llmgw_upstream_process_status_line;
    r->state = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_upstream_process_status_line(ngx_http_request_t *r)
{
    size_t                      len;
    ngx_int_t                   rc;
    ngx_http_upstream_t        *u;
    ngx_http_llmgw_pass_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx == NULL) {
        return NGX_ERROR;
    }

    u = r->upstream;

    rc = ngx_http_parse_status_line(r, &u->buffer, &ctx->status);

    if (rc == NGX_AGAIN) {
        return rc;
    }

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llmgw_pass: upstream sent no valid HTTP/1.x status "
                      "line");
        ctx->invalid_header = 1;
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    if (ctx->status.code < NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llmgw_pass: upstream sent unexpected status %ui",
                      ctx->status.code);
        ctx->invalid_header = 1;
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    if (u->state && u->state->status == 0) {
        u->state->status = ctx->status.code;
    }

    u->headers_in.status_n = ctx->status.code;

    len = ctx->status.end - ctx->status.start;
    u->headers_in.status_line.len = len;

    u->headers_in.status_line.data = ngx_pnalloc(r->pool, len);
    if (u->headers_in.status_line.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(u->headers_in.status_line.data, ctx->status.start, len);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llmgw_pass status %ui \"%V\"",
                   u->headers_in.status_n, &u->headers_in.status_line);

    if (ctx->status.http_version < NGX_HTTP_VERSION_11) {
        u->headers_in.connection_close = 1;
    }

    u->process_header = ngx_http_llmgw_upstream_process_header;

    return ngx_http_llmgw_upstream_process_header(r);
}


static ngx_int_t
ngx_http_llmgw_upstream_process_header(ngx_http_request_t *r)
{
    size_t                           klen, vlen;
    ngx_int_t                        rc;
    ngx_table_elt_t                 *h;
    ngx_http_upstream_t             *u;
    ngx_http_upstream_header_t      *hh;
    ngx_http_llmgw_pass_ctx_t       *ctx;
    ngx_http_upstream_main_conf_t   *umcf;
    ngx_http_llmgw_pass_loc_conf_t  *llcf;

    u = r->upstream;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);
    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_pass_module);
    umcf = ngx_http_get_module_main_conf(r, ngx_http_upstream_module);

    for ( ;; ) {

        rc = ngx_http_parse_header_line(r, &u->buffer, 1);

        if (rc == NGX_OK) {

            klen = r->header_name_end - r->header_name_start;
            vlen = r->header_end - r->header_start;

            h = NULL;

            /*
             * a credential never reaches the client: neither a header that
             * names one nor any header that would echo the injected one
             */

            if (klen <= NGX_HTTP_LC_HEADER_LEN
                && klen == r->lowcase_index
                && ngx_http_llmgw_provider_credential_header(
                                             r->lowcase_header, klen))
            {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "llmgw_pass: upstream header \"%*s\" "
                              "dropped", klen, r->header_name_start);
                continue;
            }

            if (ngx_http_llmgw_upstream_has_secret(llcf, r->header_start,
                                                   vlen))
            {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "llmgw_pass: upstream header \"%*s\" echoes "
                              "the provider credential, dropped",
                              klen, r->header_name_start);
                continue;
            }

            h = ngx_list_push(&u->headers_in.headers);
            if (h == NULL) {
                return NGX_ERROR;
            }

            h->hash = r->header_hash;

            h->key.len = klen;
            h->value.len = vlen;

            h->key.data = ngx_pnalloc(r->pool, klen + 1 + vlen + 1 + klen);
            if (h->key.data == NULL) {
                h->hash = 0;
                return NGX_ERROR;
            }

            h->value.data = h->key.data + klen + 1;
            h->lowcase_key = h->key.data + klen + 1 + vlen + 1;

            ngx_memcpy(h->key.data, r->header_name_start, klen);
            h->key.data[klen] = '\0';
            ngx_memcpy(h->value.data, r->header_start, vlen);
            h->value.data[vlen] = '\0';

            if (klen == r->lowcase_index) {
                ngx_memcpy(h->lowcase_key, r->lowcase_header, klen);

            } else {
                ngx_strlow(h->lowcase_key, h->key.data, klen);
            }

            /* framing headers are checked here, strictly */

            if (klen == sizeof("content-length") - 1
                && ngx_strncmp(h->lowcase_key, "content-length", klen) == 0)
            {
                if (u->headers_in.content_length) {
                    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                                  "llmgw_pass: upstream sent duplicate "
                                  "\"Content-Length\" header");
                    ctx->invalid_header = 1;
                    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
                }

                u->headers_in.content_length = h;
                u->headers_in.content_length_n = ngx_atoof(h->value.data,
                                                           h->value.len);

                if (u->headers_in.content_length_n == NGX_ERROR) {
                    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                                  "llmgw_pass: upstream sent invalid "
                                  "\"Content-Length\" header: \"%V\"",
                                  &h->value);
                    ctx->invalid_header = 1;
                    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
                }

                continue;
            }

            if (klen == sizeof("transfer-encoding") - 1
                && ngx_strncmp(h->lowcase_key, "transfer-encoding", klen) == 0)
            {
                if (u->headers_in.transfer_encoding
                    || vlen != sizeof("chunked") - 1
                    || ngx_strncasecmp(h->value.data, (u_char *) "chunked",
                                       vlen) != 0)
                {
                    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                                  "llmgw_pass: upstream sent unsupported "
                                  "\"Transfer-Encoding\": \"%V\"",
                                  &h->value);
                    ctx->invalid_header = 1;
                    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
                }

                u->headers_in.transfer_encoding = h;
                u->headers_in.chunked = 1;
                continue;
            }

            hh = ngx_hash_find(&umcf->headers_in_hash, h->hash,
                               h->lowcase_key, h->key.len);

            if (hh && hh->handler(r, h, hh->offset) != NGX_OK) {
                return NGX_ERROR;
            }

            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "llmgw_pass header: \"%V: %V\"",
                           &h->key, &h->value);

            continue;
        }

        if (rc == NGX_HTTP_PARSE_HEADER_DONE) {
            return ngx_http_llmgw_upstream_header_done(r, ctx);
        }

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        /* rc == NGX_HTTP_PARSE_INVALID_HEADER */

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llmgw_pass: upstream sent invalid header");
        ctx->invalid_header = 1;

        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }
}


static ngx_int_t
ngx_http_llmgw_upstream_header_done(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx)
{
    ngx_http_upstream_t  *u;

    u = r->upstream;

    if (u->headers_in.chunked && u->headers_in.content_length) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llmgw_pass: upstream sent \"Content-Length\" and "
                      "\"Transfer-Encoding\" headers at the same time");
        ctx->invalid_header = 1;
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    if (u->headers_in.status_n == NGX_HTTP_SWITCHING_PROTOCOLS) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llmgw_pass: upstream switched protocols unasked");
        ctx->invalid_header = 1;
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    ctx->head = (r->method == NGX_HTTP_HEAD);

    /*
     * nginx sends the header before the filter sees the body bytes read
     * with it, and an error from the filter then closes the connection
     * with the header still unwritten: the client would get nothing and
     * the log a 200.  Broken framing in those bytes is a bad response
     * while a 502 can still be answered.
     */

    if (u->headers_in.chunked
        && !ctx->head
        && u->headers_in.status_n != NGX_HTTP_NO_CONTENT
        && u->headers_in.status_n != NGX_HTTP_NOT_MODIFIED
        && ngx_http_llmgw_upstream_check_chunked(r, &u->buffer) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llmgw_pass: upstream sent invalid chunked response");
        ctx->invalid_header = 1;
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    /*
     * a response without a body leaves the connection reusable, also when
     * the client gets the header only
     */

    if (u->headers_in.status_n == NGX_HTTP_NO_CONTENT
        || u->headers_in.status_n == NGX_HTTP_NOT_MODIFIED
        || ctx->head
        || (!u->headers_in.chunked && u->headers_in.content_length_n == 0))
    {
        u->keepalive = !u->headers_in.connection_close;
    }

    ngx_http_llmgw_upstream_filter_header(r, ctx);

    ctx->header_done = 1;

    return NGX_OK;
}


/*
 * A successful event stream answering a request the gateway added
 * include_usage to is filtered on its way to the client (decided here,
 * before the header goes out): the client's body is shorter than the
 * provider's, so the provider's Content-Length, if any, frames the body
 * from here and the client gets none.
 */

static void
ngx_http_llmgw_upstream_filter_header(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx)
{
    ngx_str_t            *ct;
    ngx_http_upstream_t  *u;

    u = r->upstream;

    ctx->filter_on = 0;

    if (!ctx->include_usage
        || ctx->head
        || u->headers_in.status_n < NGX_HTTP_OK
        || u->headers_in.status_n >= NGX_HTTP_SPECIAL_RESPONSE
        || u->headers_in.status_n == NGX_HTTP_NO_CONTENT
        || u->headers_in.content_type == NULL
        || (!u->headers_in.chunked && u->headers_in.content_length_n == 0))
    {
        return;
    }

    ct = &u->headers_in.content_type->value;

    if (ct->len < sizeof("text/event-stream") - 1
        || ngx_strncasecmp(ct->data, (u_char *) "text/event-stream",
                           sizeof("text/event-stream") - 1)
           != 0)
    {
        return;
    }

    ctx->filter_on = 1;
    ctx->filter_length = u->headers_in.content_length_n;

    u->headers_in.content_length_n = -1;
}


/*
 * The chunked framing of the body bytes in buf, parsed on copies of the
 * buffer and of the parser state so that the filter later parses the same
 * bytes from the start: NGX_ERROR when it is invalid, NGX_OK when it is
 * valid as far as it goes.
 */

static ngx_int_t
ngx_http_llmgw_upstream_check_chunked(ngx_http_request_t *r, ngx_buf_t *buf)
{
    off_t               n;
    ngx_int_t           rc;
    ngx_buf_t           b;
    ngx_http_chunked_t  chunked;

    b = *buf;
    ngx_memzero(&chunked, sizeof(ngx_http_chunked_t));

    while (b.pos < b.last) {

        rc = ngx_http_parse_chunked(r, &b, &chunked);

        if (rc == NGX_OK) {
            n = ngx_min(b.last - b.pos, chunked.size);

            b.pos += (size_t) n;
            chunked.size -= n;

            continue;
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        /* NGX_DONE: the whole body is here; NGX_AGAIN: more is to come */

        break;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_upstream_filter_init(void *data)
{
    ngx_http_request_t              *r = data;

    ngx_str_t                       *ct;
    ngx_uint_t                       sse, es;
    ngx_http_upstream_t             *u;
    ngx_http_llmgw_pass_ctx_t       *ctx;
    ngx_http_llmgw_pass_loc_conf_t  *llcf;

    u = r->upstream;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);
    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_pass_module);

    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (u->headers_in.status_n == NGX_HTTP_NO_CONTENT
        || u->headers_in.status_n == NGX_HTTP_NOT_MODIFIED
        || ctx->head)
    {
        u->length = 0;
        u->keepalive = !u->headers_in.connection_close;

    } else if (u->headers_in.chunked) {
        ngx_memzero(&ctx->chunked, sizeof(ngx_http_chunked_t));
        u->length = 1;

    } else if (ctx->filter_on) {
        /* the provider's Content-Length, not sent to the client, or -1 */
        u->length = ctx->filter_length;

    } else if (u->headers_in.content_length_n == 0) {
        u->length = 0;
        u->keepalive = !u->headers_in.connection_close;

    } else {
        /* -1: the body ends when the connection does */
        u->length = u->headers_in.content_length_n;
    }

    /* an event stream, SSE or AWS's, is what the results call a stream */

    ct = &r->headers_out.content_type;
    sse = 0;
    es = 0;

    if (ct->len >= sizeof("text/event-stream") - 1
        && ngx_strncasecmp(ct->data, (u_char *) "text/event-stream",
                           sizeof("text/event-stream") - 1)
           == 0)
    {
        ctx->stream = 1;
        sse = 1;
    }

    if (ct->len >= sizeof("application/vnd.amazon.eventstream") - 1
        && ngx_strncasecmp(ct->data,
                           (u_char *) "application/vnd.amazon.eventstream",
                           sizeof("application/vnd.amazon.eventstream") - 1)
           == 0)
    {
        ctx->stream = 1;
        es = 1;

        /* Bedrock streams are watched for exception messages on the way */

        if (llcf->provider->id == NGX_HTTP_LLMGW_PROVIDER_BEDROCK
            && u->length != 0)
        {
            ngx_http_llmgw_eventstream_init(&ctx->es, r->pool, 0);
            ctx->eventstream = 1;
        }
    }

    if (ctx->filter_on && u->length != 0) {
        ctx->filter = ngx_palloc(r->pool,
                                 sizeof(ngx_http_llmgw_include_usage_sse_t));
        if (ctx->filter == NULL) {
            return NGX_ERROR;
        }

        ngx_http_llmgw_include_usage_sse_init(ctx->filter, r->pool,
                                      NGX_HTTP_LLMGW_INCLUDE_USAGE_EVENT_MAX,
                                      llcf->upstream.buffer_size,
                                      ngx_http_llmgw_upstream_filter_emit, r);
    }

    if (ngx_http_llmgw_upstream_capture_init(r, ctx, sse, es) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * usage is read from a successful answer to a POST only: an error
     * answer consumed nothing countable, and a GET of a stored response
     * (Responses, stored chat completions) would count its usage again
     */

    if (llcf->usage
        && u->length != 0
        && r->method == NGX_HTTP_POST
        && u->headers_in.status_n >= NGX_HTTP_OK
        && u->headers_in.status_n < NGX_HTTP_SPECIAL_RESPONSE)
    {
        return ngx_http_llmgw_upstream_usage_init(r, ctx, sse, es);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_upstream_filter(void *data, ssize_t bytes)
{
    ngx_http_request_t         *r = data;

    off_t                       n;
    ngx_int_t                   rc;
    ngx_buf_t                  *buf;
    ngx_chain_t                *cl, **ll;
    ngx_http_upstream_t        *u;
    ngx_http_llmgw_pass_ctx_t  *ctx;

    u = r->upstream;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx == NULL) {
        return NGX_ERROR;
    }

    buf = &u->buffer;

    buf->pos = buf->last;
    buf->last += bytes;

    /*
     * everything the filter handed out has gone to the client (as when
     * nginx reuses u->buffer from its start): its region is free again
     */

    if (ctx->filter && u->busy_bufs == NULL && u->out_bufs == NULL) {
        ngx_http_llmgw_include_usage_sse_release(ctx->filter);
    }

    for (cl = u->out_bufs, ll = &u->out_bufs; cl; cl = cl->next) {
        ll = &cl->next;
    }

    if (!u->headers_in.chunked) {

        if (u->length == -1) {
            if (ngx_http_llmgw_upstream_output(r, ctx, &ll, buf->pos,
                                               buf->last)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            buf->pos = buf->last;
            return NGX_OK;
        }

        n = ngx_min((off_t) bytes, u->length);

        if ((off_t) bytes > u->length) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "llmgw_pass: upstream sent more data than "
                          "specified in \"Content-Length\" header");
        }

        if (n > 0
            && ngx_http_llmgw_upstream_output(r, ctx, &ll, buf->pos,
                                              buf->pos + (size_t) n)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        buf->pos = buf->last;
        u->length -= n;

        if (u->length == 0) {
            u->keepalive = ((off_t) bytes == n
                            && !u->headers_in.connection_close);

            ngx_http_llmgw_upstream_usage_finish(r, ctx);

            if (ngx_http_llmgw_upstream_filter_finish(r, ctx, &ll) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        return NGX_OK;
    }

    for ( ;; ) {

        rc = ngx_http_parse_chunked(r, buf, &ctx->chunked);

        if (rc == NGX_OK) {

            /* a chunk has been parsed successfully: pass what is here */

            n = ngx_min(buf->last - buf->pos, ctx->chunked.size);

            if (ngx_http_llmgw_upstream_output(r, ctx, &ll, buf->pos,
                                               buf->pos + (size_t) n)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            buf->pos += (size_t) n;
            ctx->chunked.size -= n;

            continue;
        }

        if (rc == NGX_DONE) {

            /* the whole body has been parsed successfully */

            u->keepalive = !u->headers_in.connection_close;
            u->length = 0;

            ngx_http_llmgw_upstream_usage_finish(r, ctx);

            if (ngx_http_llmgw_upstream_filter_finish(r, ctx, &ll) != NGX_OK)
            {
                return NGX_ERROR;
            }

            if (buf->pos != buf->last) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "llmgw_pass: upstream sent data after "
                              "final chunk");
                u->keepalive = 0;
            }

            break;
        }

        if (rc == NGX_AGAIN) {
            break;
        }

        /*
         * invalid response: the header has gone out, so the error closes
         * the client's connection without the last chunk
         */

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llmgw_pass: upstream sent invalid chunked response");
        ctx->invalid_body = 1;

        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_upstream_output(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx, ngx_chain_t ***ll, u_char *pos,
    u_char *last)
{
    if (pos == last) {
        return NGX_OK;
    }

    if (ctx->eventstream) {
        ngx_http_llmgw_upstream_tee(r, ctx, pos, last);
    }

    if (ctx->capture_raw) {
        ngx_http_llmgw_upstream_capture(&ctx->capture_response,
                                        ctx->capture_max, pos, last - pos);
    }

    /* usage is read from what the provider sent, before any filtering */

    if (ctx->usage) {
        ngx_http_llmgw_upstream_usage_feed(r, ctx, pos, last);
    }

    if (ctx->filter == NULL) {
        return ngx_http_llmgw_upstream_buf(r, ll, pos, last, NULL);
    }

    ctx->filter_ll = ll;
    ctx->filter_last = NULL;

    return ngx_http_llmgw_include_usage_sse_feed(ctx->filter, pos, last);
}


/* a buffer for the client of the bytes [pos, last), appended at *ll */

static ngx_int_t
ngx_http_llmgw_upstream_buf(ngx_http_request_t *r, ngx_chain_t ***ll,
    u_char *pos, u_char *last, ngx_buf_t **last_buf)
{
    ngx_buf_t            *b;
    ngx_chain_t          *cl;
    ngx_http_upstream_t  *u;

    u = r->upstream;

    cl = ngx_chain_get_free_buf(r->pool, &u->free_bufs);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    **ll = cl;
    *ll = &cl->next;

    b = cl->buf;

    b->flush = 1;
    b->memory = 1;
    b->pos = pos;
    b->last = last;
    b->tag = u->output.tag;

    if (last_buf) {
        *last_buf = b;
    }

    return NGX_OK;
}


/* a span the include_usage filter hands out: adjacent ones share a buffer */

static ngx_int_t
ngx_http_llmgw_upstream_filter_emit(void *data, u_char *p, size_t len)
{
    ngx_http_request_t  *r = data;

    ngx_http_llmgw_pass_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx->filter_last && ctx->filter_last->last == p) {
        ctx->filter_last->last += len;
        return NGX_OK;
    }

    return ngx_http_llmgw_upstream_buf(r, ctx->filter_ll, p, p + len,
                                       &ctx->filter_last);
}


/* the body ended: an incomplete last event goes as it came */

static ngx_int_t
ngx_http_llmgw_upstream_filter_finish(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx, ngx_chain_t ***ll)
{
    if (ctx->filter == NULL) {
        return NGX_OK;
    }

    ctx->filter_ll = ll;
    ctx->filter_last = NULL;

    return ngx_http_llmgw_include_usage_sse_finish(ctx->filter);
}


static void
ngx_http_llmgw_upstream_tee(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx, u_char *pos, u_char *last)
{
    ngx_int_t                              rc;
    ngx_http_llmgw_eventstream_message_t  *msg;

    while (pos < last) {

        rc = ngx_http_llmgw_eventstream_feed(&ctx->es, &pos, last);

        if (rc == NGX_AGAIN) {
            return;
        }

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "llmgw_pass: upstream event stream is not "
                          "parsable (%s), passed on unwatched",
                          ctx->es.err ? ctx->es.err : "out of memory");
            ctx->eventstream = 0;

            if (ctx->capture_es) {
                ctx->capture_response.truncated = 1;
            }

            return;
        }

        msg = &ctx->es.msg;

        if (ctx->capture_es) {
            ngx_http_llmgw_upstream_capture_message(ctx, msg);
        }

        if (msg->kind == NGX_HTTP_LLMGW_EVENTSTREAM_EXCEPTION
            || msg->kind == NGX_HTTP_LLMGW_EVENTSTREAM_ERROR)
        {
            if (!ctx->exception) {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "llmgw_pass: upstream stream exception "
                              "\"%V%V\"", &msg->exception_type,
                              &msg->error_code);
            }

            ctx->exception = 1;
        }
    }
}


/*
 * The usage parser for the response, when its provider, API kind and
 * content type name a format; a response without one has its usage
 * missing.
 */

static ngx_int_t
ngx_http_llmgw_upstream_usage_init(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx, ngx_uint_t sse, ngx_uint_t es)
{
    ngx_int_t                                format;
    ngx_uint_t                               stream;
    ngx_http_llmgw_usage_t                  *usage;
    ngx_http_llmgw_pass_loc_conf_t          *llcf;
    ngx_http_llmgw_upstream_usage_format_t  *f;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_pass_module);

    switch (llcf->provider->id) {

    case NGX_HTTP_LLMGW_PROVIDER_BEDROCK:
        f = ngx_http_llmgw_upstream_usage_bedrock;
        stream = es;

        /* an SSE body is no Bedrock format */

        if (sse) {
            return NGX_OK;
        }

        break;

    case NGX_HTTP_LLMGW_PROVIDER_GEMINI:
        f = ngx_http_llmgw_upstream_usage_gemini;
        stream = sse;

        if (es) {
            return NGX_OK;
        }

        break;

    default: /* Azure OpenAI, OpenAI */
        f = ngx_http_llmgw_upstream_usage_openai;
        stream = sse;

        if (es) {
            return NGX_OK;
        }

        break;
    }

    for ( /* void */ ; f->api.len; f++) {
        if (f->api.len == ctx->api.len
            && ngx_strncmp(f->api.data, ctx->api.data, ctx->api.len) == 0)
        {
            break;
        }
    }

    /*
     * the body's content type is not checked further: a JSON format
     * refuses what is not JSON, and the usage is then missing
     */

    format = stream ? f->stream : f->json;

    if (format == -1) {
        return NGX_OK;
    }

    usage = ngx_palloc(r->pool, sizeof(ngx_http_llmgw_usage_t));
    if (usage == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_usage_init(usage, r->pool,
                                  (ngx_http_llmgw_usage_format_e) format,
                                  llcf->usage_buffer)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->usage = usage;

    if (format == NGX_HTTP_LLMGW_USAGE_ANTHROPIC_JSON) {
        ngx_http_llmgw_upstream_usage_headers(r, ctx);
    }

    return NGX_OK;
}


/*
 * Bedrock InvokeModel's X-Amzn-Bedrock-Input-Token-Count and
 * -Output-Token-Count: what Bedrock meters, for any model's body.  They
 * win over the body's input and output counts; an invalid one is ignored.
 */

static void
ngx_http_llmgw_upstream_usage_headers(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx)
{
    ngx_uint_t                     i;
    ngx_list_part_t               *part;
    ngx_table_elt_t               *h;
    ngx_http_llmgw_usage_count_t  *count;

    part = &r->upstream->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0) {
            continue;
        }

        if (h[i].key.len == sizeof("x-amzn-bedrock-input-token-count") - 1
            && ngx_strncmp(h[i].lowcase_key,
                           "x-amzn-bedrock-input-token-count",
                           h[i].key.len)
               == 0)
        {
            count = &ctx->usage_headers.input_tokens;

        } else if (h[i].key.len
                   == sizeof("x-amzn-bedrock-output-token-count") - 1
                   && ngx_strncmp(h[i].lowcase_key,
                                  "x-amzn-bedrock-output-token-count",
                                  h[i].key.len)
                      == 0)
        {
            count = &ctx->usage_headers.output_tokens;

        } else {
            continue;
        }

        if (ngx_http_llmgw_usage_parse_count(h[i].value.data, h[i].value.len,
                                             &count->value)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "llmgw_pass: upstream header \"%V: %V\" "
                          "is no token count, ignored", &h[i].key,
                          &h[i].value);
            count->present = 0;
            continue;
        }

        count->present = 1;
    }
}


static void
ngx_http_llmgw_upstream_usage_feed(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx, u_char *pos, u_char *last)
{
    ngx_http_llmgw_usage_t  *usage;

    usage = ctx->usage;

    if (usage->err != NULL || usage->result.complete) {
        return;
    }

    if (ngx_http_llmgw_usage_feed(usage, pos, last) == NGX_ERROR) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llmgw_pass: usage not read: %s",
                      usage->err ? usage->err : "out of memory");
    }
}


/* the body ended as its framing says: what was read is the last word */

static void
ngx_http_llmgw_upstream_usage_finish(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx)
{
    ngx_http_llmgw_usage_t  *usage;

    usage = ctx->usage;

    if (usage == NULL || usage->err != NULL || usage->result.complete) {
        return;
    }

    if (ngx_http_llmgw_usage_finish(usage) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llmgw_pass: usage not read: %s",
                      usage->err ? usage->err : "out of memory");
    }
}


void
ngx_http_llmgw_upstream_usage(ngx_http_request_t *r,
    ngx_http_llmgw_usage_result_t *usage)
{
    ngx_http_llmgw_pass_ctx_t      *ctx;
    ngx_http_llmgw_usage_result_t  *res;

    ngx_memzero(usage, sizeof(ngx_http_llmgw_usage_result_t));

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    /*
     * a body cut short, refused, or not over yet: missing, even when
     * counts came before (a partial stream's are not the final ones)
     */

    if (ctx == NULL
        || ctx->usage == NULL
        || ctx->usage->err != NULL
        || !ctx->usage->result.complete)
    {
        return;
    }

    res = &ctx->usage->result;

    *usage = *res;

    if (ctx->usage_headers.input_tokens.present) {
        usage->input_tokens = ctx->usage_headers.input_tokens;
    }

    if (ctx->usage_headers.output_tokens.present) {
        usage->output_tokens = ctx->usage_headers.output_tokens;
    }

    /* a body that reported no count at all: missing, not zero */

    if (!usage->input_tokens.present
        && !usage->output_tokens.present
        && !usage->total_tokens.present
        && !usage->cache_read_input_tokens.present
        && !usage->cache_creation_input_tokens.present
        && !usage->reasoning_output_tokens.present)
    {
        ngx_memzero(usage, sizeof(ngx_http_llmgw_usage_result_t));
    }
}


static void
ngx_http_llmgw_upstream_abort_request(ngx_http_request_t *r)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "abort llmgw_pass request");
}


static void
ngx_http_llmgw_upstream_finalize_request(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_chain_t                *out, **ll;
    ngx_http_upstream_t        *u;
    ngx_http_llmgw_pass_ctx_t  *ctx;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "finalize llmgw_pass request: %i", rc);

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx == NULL) {
        return;
    }

    u = r->upstream;

    if (rc == NGX_HTTP_CLIENT_CLOSED_REQUEST
        || (rc == NGX_ERROR && r->connection->error))
    {
        ctx->outcome = NGX_HTTP_LLMGW_OUTCOME_CLIENT_CLOSED;

    } else if (!u->header_sent) {

        if (rc == NGX_HTTP_GATEWAY_TIME_OUT) {
            ctx->outcome = NGX_HTTP_LLMGW_OUTCOME_TIMEOUT;

        } else if (ctx->invalid_header
                   || (rc == NGX_HTTP_BAD_GATEWAY
                       && u->state
                       && u->state->bytes_received))
        {
            /*
             * the provider did answer: a header this module refused, or
             * one nginx refused itself (too big, cut short by a close)
             */

            ctx->outcome = NGX_HTTP_LLMGW_OUTCOME_BAD_RESPONSE;

        } else if (rc == NGX_HTTP_BAD_GATEWAY) {
            ctx->outcome = NGX_HTTP_LLMGW_OUTCOME_CONNECT_ERROR;

        } else {
            ctx->outcome = NGX_HTTP_LLMGW_OUTCOME_ERROR;
        }

        /* the client gets a JSON error rather than nginx's error page */

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            ctx->json_error = rc;
        }

    } else if (rc == NGX_OK || rc == NGX_AGAIN) {

        /* a body delimited by the connection's close ended with it */

        if (rc == NGX_OK && u->length == -1) {
            ngx_http_llmgw_upstream_usage_finish(r, ctx);

            /* nginx sends the last buffer after this */

            out = NULL;
            ll = &out;

            if (ngx_http_llmgw_upstream_filter_finish(r, ctx, &ll) == NGX_OK
                && out != NULL)
            {
                (void) ngx_http_output_filter(r, out);
            }
        }

        if (ctx->exception) {
            ctx->outcome = NGX_HTTP_LLMGW_OUTCOME_STREAM_EXCEPTION;

        } else if (u->headers_in.status_n >= NGX_HTTP_BAD_REQUEST) {
            ctx->outcome = NGX_HTTP_LLMGW_OUTCOME_HTTP_ERROR;

        } else {
            ctx->outcome = NGX_HTTP_LLMGW_OUTCOME_OK;
        }

    } else if (ctx->invalid_body) {
        ctx->outcome = NGX_HTTP_LLMGW_OUTCOME_BAD_RESPONSE;

    } else if (rc == NGX_HTTP_GATEWAY_TIME_OUT) {
        ctx->outcome = NGX_HTTP_LLMGW_OUTCOME_TIMEOUT;

    } else {
        ctx->outcome = NGX_HTTP_LLMGW_OUTCOME_STREAM_CUT;
    }

    if (ctx->filter) {
        if (ctx->filter->oversized) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "llmgw_pass: %ui stream events longer than %uz "
                          "bytes passed on as the provider sent them, "
                          "\"usage\": null included",
                          ctx->filter->oversized, ctx->filter->max);
        }

        ngx_log_debug5(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llmgw_pass include_usage: %ui events, %ui usage "
                       "chunks dropped, %ui \"usage\": null taken out, "
                       "%ui oversized, %ui regions",
                       ctx->filter->events, ctx->filter->dropped,
                       ctx->filter->stripped, ctx->filter->oversized,
                       ctx->filter->regions);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llmgw_pass outcome: %V",
                   ngx_http_llmgw_upstream_outcome_name(ctx->outcome));
}


static ngx_int_t
ngx_http_llmgw_upstream_sign(ngx_http_request_t *r,
    ngx_http_llmgw_pass_loc_conf_t *llcf, ngx_http_llmgw_pass_ctx_t *ctx,
    ngx_str_t *lines)
{
    u_char                          *p;
    ngx_str_t                        hash, authorization, amz_date;
    ngx_array_t                     *headers;
    ngx_chain_t                     *body;
    ngx_http_llmgw_sigv4_req_t       req;
    ngx_http_llmgw_sigv4_header_t   *sh;

    body = r->request_body ? r->request_body->bufs : NULL;

    if (ngx_http_llmgw_sigv4_hash_chain(r->pool, body, &hash) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llmgw_pass: could not hash the request body");
        return NGX_ERROR;
    }

    headers = ngx_array_create(r->pool, 2,
                               sizeof(ngx_http_llmgw_sigv4_header_t));
    if (headers == NULL) {
        return NGX_ERROR;
    }

    sh = ngx_array_push_n(headers, 2);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&sh[0].name, "host");
    sh[0].value = llcf->host;

    ngx_str_set(&sh[1].name, "x-amz-content-sha256");
    sh[1].value = hash;

    ngx_memzero(&req, sizeof(ngx_http_llmgw_sigv4_req_t));

    req.method = r->method_name;
    req.path = ctx->path;
    if (ctx->has_query) {
        req.query = ctx->query;
    }

    req.headers = headers;
    req.payload_hash = hash;
    req.region = llcf->region;
    ngx_str_set(&req.service, "bedrock");
    req.access_key = llcf->aws->access_key;
    req.secret_key = llcf->aws->secret_key;
    req.session_token = llcf->aws->session_token;
    req.now = ngx_time();
    req.normalize_path = 1;
    req.double_encode = 1;

    if (ngx_http_llmgw_sigv4_sign(r->pool, &req, &authorization, &amz_date)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llmgw_pass: could not sign the request");
        return NGX_ERROR;
    }

    lines->len = sizeof("Authorization: ") - 1 + authorization.len
                 + sizeof(CRLF "X-Amz-Date: ") - 1 + amz_date.len
                 + sizeof(CRLF "X-Amz-Content-Sha256: ") - 1 + hash.len
                 + sizeof(CRLF) - 1;

    if (llcf->aws->session_token.len) {
        lines->len += sizeof("X-Amz-Security-Token: ") - 1
                      + llcf->aws->session_token.len + sizeof(CRLF) - 1;
    }

    lines->data = ngx_pnalloc(r->pool, lines->len);
    if (lines->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(lines->data,
                    "Authorization: %V" CRLF
                    "X-Amz-Date: %V" CRLF
                    "X-Amz-Content-Sha256: %V" CRLF,
                    &authorization, &amz_date, &hash);

    if (llcf->aws->session_token.len) {
        p = ngx_sprintf(p, "X-Amz-Security-Token: %V" CRLF,
                        &llcf->aws->session_token);
    }

    lines->len = p - lines->data;

    return NGX_OK;
}


static off_t
ngx_http_llmgw_upstream_body_length(ngx_http_request_t *r)
{
    off_t         len;
    ngx_chain_t  *cl;

    if (r->request_body == NULL) {
        return 0;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    return len;
}


/* the values of the client's Connection headers, or NULL */

static ngx_array_t *
ngx_http_llmgw_upstream_connection(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_str_t        *v;
    ngx_array_t      *a;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    a = NULL;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("connection") - 1
            || h[i].lowcase_key == NULL
            || ngx_strncmp(h[i].lowcase_key, "connection",
                           sizeof("connection") - 1) != 0)
        {
            continue;
        }

        if (a == NULL) {
            a = ngx_array_create(r->pool, 1, sizeof(ngx_str_t));
            if (a == NULL) {
                return NULL;
            }
        }

        v = ngx_array_push(a);
        if (v == NULL) {
            return NULL;
        }

        *v = h[i].value;
    }

    return a;
}


static ngx_uint_t
ngx_http_llmgw_upstream_forward(ngx_http_llmgw_pass_loc_conf_t *llcf,
    ngx_array_t *connection, ngx_table_elt_t *h)
{
    ngx_str_t   *name, *v;
    ngx_uint_t   i;

    if (h->hash == 0 || h->lowcase_key == NULL) {
        return 0;
    }

    if (ngx_http_llmgw_provider_drop_request_header(h->lowcase_key,
                                                    h->key.len))
    {
        return 0;
    }

    /* the headers a client's Connection header names are hop-by-hop too */

    if (connection) {
        v = connection->elts;

        for (i = 0; i < connection->nelts; i++) {
            if (ngx_http_llmgw_provider_in_list(&v[i], h->lowcase_key,
                                                h->key.len))
            {
                return 0;
            }
        }
    }

    if (llcf->remove_headers) {
        name = llcf->remove_headers->elts;

        for (i = 0; i < llcf->remove_headers->nelts; i++) {
            if (name[i].len == h->key.len
                && ngx_strncmp(name[i].data, h->lowcase_key, h->key.len) == 0)
            {
                return 0;
            }
        }
    }

    return 1;
}


static ngx_uint_t
ngx_http_llmgw_upstream_has_secret(ngx_http_llmgw_pass_loc_conf_t *llcf,
    u_char *p, size_t len)
{
    if (ngx_http_llmgw_upstream_contains(p, len, &llcf->key)) {
        return 1;
    }

    if (llcf->aws
        && (ngx_http_llmgw_upstream_contains(p, len, &llcf->aws->secret_key)
            || ngx_http_llmgw_upstream_contains(p, len,
                                                &llcf->aws->session_token)))
    {
        return 1;
    }

    return 0;
}


static ngx_uint_t
ngx_http_llmgw_upstream_contains(u_char *p, size_t len, ngx_str_t *s)
{
    u_char  *last;

    if (s->len == 0 || s->len > len) {
        return 0;
    }

    last = p + len - s->len;

    for ( /* void */ ; p <= last; p++) {
        if (*p == s->data[0] && ngx_memcmp(p, s->data, s->len) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * llmgw_audit_body: the first bytes of the client's JSON body as the
 * client sent it (before include_usage adds to it), taken when the
 * request is first made; a part in a temporary file is read from it, as
 * nginx reads it to send it.
 */

static ngx_int_t
ngx_http_llmgw_upstream_capture_request(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx)
{
    u_char                    *p;
    off_t                      total;
    size_t                     max, n;
    ssize_t                    rd;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    ngx_http_llmgw_capture_t  *cap;

    max = ngx_http_llmgw_audit_capture_max(r, 0);

    if (max == 0
        || r->request_body == NULL
        || r->headers_in.content_type == NULL
        || !ngx_http_llmgw_upstream_capturable(
                                        &r->headers_in.content_type->value))
    {
        return NGX_OK;
    }

    total = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        total += b->in_file ? b->file_last - b->file_pos : b->last - b->pos;
    }

    cap = &ctx->capture_request;
    cap->captured = 1;
    cap->truncated = (total > (off_t) max);

    n = (size_t) ngx_min(total, (off_t) max);

    cap->body.data = ngx_pnalloc(r->pool, n);
    if (cap->body.data == NULL) {
        return NGX_ERROR;
    }

    p = cap->body.data;

    for (cl = r->request_body->bufs; cl && n; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            rd = ngx_read_file(b->file, p,
                               (size_t) ngx_min((off_t) n,
                                                b->file_last - b->file_pos),
                               b->file_pos);
            if (rd == NGX_ERROR) {
                /* what was read so far is what there is */
                cap->truncated = 1;
                break;
            }

        } else {
            rd = ngx_min((size_t) (b->last - b->pos), n);
            ngx_memcpy(p, b->pos, rd);
        }

        p += rd;
        n -= rd;
    }

    cap->body.len = p - cap->body.data;

    return NGX_OK;
}


/*
 * llmgw_audit_body: the response is captured as the bytes the provider
 * sent (after chunked decoding, before include_usage's filter) when they
 * are JSON or SSE; a Bedrock event stream as text, an event per message
 * (ngx_http_llmgw_upstream_capture_message).  One buffer of the
 * configured size, allocated here; nothing is held back from the client.
 */

static ngx_int_t
ngx_http_llmgw_upstream_capture_init(ngx_http_request_t *r,
    ngx_http_llmgw_pass_ctx_t *ctx, ngx_uint_t sse, ngx_uint_t es)
{
    ngx_http_llmgw_capture_t  *cap;

    cap = &ctx->capture_response;

    ngx_memzero(cap, sizeof(ngx_http_llmgw_capture_t));
    ctx->capture_raw = 0;
    ctx->capture_es = 0;

    ctx->capture_max = ngx_http_llmgw_audit_capture_max(r, 1);

    if (ctx->capture_max == 0 || r->upstream->length == 0) {
        return NGX_OK;
    }

    if (es) {
        if (!ctx->eventstream) {
            return NGX_OK;
        }

        ctx->capture_es = 1;

    } else if (sse
               || ngx_http_llmgw_upstream_capturable(
                                              &r->headers_out.content_type))
    {
        ctx->capture_raw = 1;

    } else {
        return NGX_OK;
    }

    cap->body.data = ngx_pnalloc(r->pool, ctx->capture_max);
    if (cap->body.data == NULL) {
        return NGX_ERROR;
    }

    cap->captured = 1;
    cap->stream = (sse || es);

    return NGX_OK;
}


/* a JSON media type: application/json, or any with a +json suffix */

static ngx_uint_t
ngx_http_llmgw_upstream_capturable(ngx_str_t *type)
{
    size_t   len;
    u_char  *semi;

    semi = ngx_strlchr(type->data, type->data + type->len, ';');
    len = semi ? (size_t) (semi - type->data) : type->len;

    while (len && type->data[len - 1] == ' ') {
        len--;
    }

    if (len == sizeof("application/json") - 1
        && ngx_strncasecmp(type->data, (u_char *) "application/json", len)
           == 0)
    {
        return 1;
    }

    return (len > sizeof("+json") - 1
            && ngx_strncasecmp(type->data + len - (sizeof("+json") - 1),
                               (u_char *) "+json", sizeof("+json") - 1)
               == 0);
}


static void
ngx_http_llmgw_upstream_capture(ngx_http_llmgw_capture_t *cap, size_t max,
    u_char *p, size_t len)
{
    size_t  n;

    n = ngx_min(len, max - cap->body.len);

    if (n < len) {
        cap->truncated = 1;
    }

    cap->body.len = ngx_cpymem(cap->body.data + cap->body.len, p, n)
                    - cap->body.data;
}


/*
 * A Bedrock message as an SSE event: "event: " its :event-type (or
 * :exception-type), "data: " its payload; the payload of an
 * InvokeModelWithResponseStream chunk, {"bytes":"<base64>"}, decoded to
 * the model's JSON event, so that it can be read and redacted.
 */

static void
ngx_http_llmgw_upstream_capture_message(ngx_http_llmgw_pass_ctx_t *ctx,
    ngx_http_llmgw_eventstream_message_t *msg)
{
    u_char                    *p, *q, *last;
    size_t                     room;
    ngx_str_t                  src, dst, *type;
    ngx_http_llmgw_capture_t  *cap;

    cap = &ctx->capture_response;

    if (cap->truncated) {
        return;
    }

    type = msg->exception_type.len ? &msg->exception_type : &msg->event_type;

    ngx_http_llmgw_upstream_capture(cap, ctx->capture_max,
                                    (u_char *) "event: ", 7);
    ngx_http_llmgw_upstream_capture(cap, ctx->capture_max, type->data,
                                    type->len);
    ngx_http_llmgw_upstream_capture(cap, ctx->capture_max,
                                    (u_char *) "\ndata: ", 7);

    src = msg->payload;
    last = src.data + src.len;

    p = (msg->kind == NGX_HTTP_LLMGW_EVENTSTREAM_EVENT)
        ? ngx_strnstr(src.data, "\"bytes\":\"", src.len) : NULL;

    q = (p != NULL) ? ngx_strlchr(p + 9, last, '"') : NULL;

    if (q != NULL && !cap->truncated) {
        src.data = p + 9;
        src.len = q - src.data;

        room = ctx->capture_max - cap->body.len;

        if (ngx_base64_decoded_length(src.len) > room) {
            /* a prefix of whole quanta that fits */
            src.len = room / 3 * 4;
        }

        dst.data = cap->body.data + cap->body.len;

        if (ngx_decode_base64(&dst, &src) == NGX_OK) {
            cap->body.len += dst.len;

            if (src.data + src.len != q) {
                cap->truncated = 1;
                return;
            }

            ngx_http_llmgw_upstream_capture(cap, ctx->capture_max,
                                            (u_char *) "\n\n", 2);
            return;
        }

        src = msg->payload;
    }

    ngx_http_llmgw_upstream_capture(cap, ctx->capture_max, src.data,
                                    src.len);
    ngx_http_llmgw_upstream_capture(cap, ctx->capture_max,
                                    (u_char *) "\n\n", 2);
}


void
ngx_http_llmgw_pass_capture(ngx_http_request_t *r,
    ngx_http_llmgw_capture_t *request, ngx_http_llmgw_capture_t *response)
{
    ngx_http_llmgw_pass_ctx_t  *ctx;

    ngx_memzero(request, sizeof(ngx_http_llmgw_capture_t));
    ngx_memzero(response, sizeof(ngx_http_llmgw_capture_t));

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_pass_module);

    if (ctx == NULL) {
        return;
    }

    *request = ctx->capture_request;
    *response = ctx->capture_response;
}


static void
ngx_http_llmgw_upstream_wipe(void *data)
{
    ngx_buf_t  *b = data;

    ngx_explicit_memzero(b->start, b->end - b->start);
}
