
/*
 * Copyright (C) llmgw authors
 *
 * The errors llmgw answers itself: JSON bodies, Bearer challenges,
 * Retry-After.  Nothing here decides that a response is an error of
 * llmgw's; ngx_http_llmgw_module.c's error filter does.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_error.h"
#include "ngx_http_llmgw_json.h"


typedef struct {
    ngx_uint_t                 status;
    ngx_str_t                  code;
    ngx_str_t                  message;
} ngx_http_llmgw_error_text_t;


static size_t ngx_http_llmgw_error_quoted_len(ngx_str_t *s);
static u_char *ngx_http_llmgw_error_quoted(u_char *p, ngx_str_t *s);


static ngx_http_llmgw_error_text_t  ngx_http_llmgw_error_texts[] = {

    { NGX_HTTP_BAD_REQUEST,
      ngx_string("bad_request"),
      ngx_string("the request cannot be forwarded to the provider") },

    { NGX_HTTP_UNAUTHORIZED,
      ngx_string("unauthorized"),
      ngx_string("authentication required") },

    { NGX_HTTP_FORBIDDEN,
      ngx_string("forbidden"),
      ngx_string("access denied") },

    { NGX_HTTP_REQUEST_TIME_OUT,
      ngx_string("request_timeout"),
      ngx_string("the request body was not received in time") },

    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
      ngx_string("payload_too_large"),
      ngx_string("the request body is too large") },

    { NGX_HTTP_TOO_MANY_REQUESTS,
      ngx_string("rate_limited"),
      ngx_string("too many requests") },

    { NGX_HTTP_INTERNAL_SERVER_ERROR,
      ngx_string("internal_error"),
      ngx_string("the gateway could not forward the request") },

    { NGX_HTTP_BAD_GATEWAY,
      ngx_string("bad_gateway"),
      ngx_string("the provider could not be reached or sent an invalid "
                 "response") },

    { NGX_HTTP_SERVICE_UNAVAILABLE,
      ngx_string("service_unavailable"),
      ngx_string("no provider server is available") },

    { NGX_HTTP_GATEWAY_TIME_OUT,
      ngx_string("gateway_timeout"),
      ngx_string("the provider did not respond in time") },

    { 0,
      ngx_string("error"),
      ngx_string("the request failed") }
};


void
ngx_http_llmgw_error_status(ngx_http_llmgw_error_t *err, ngx_uint_t status)
{
    ngx_http_llmgw_error_text_t  *t;

    for (t = ngx_http_llmgw_error_texts; t->status; t++) {
        if (t->status == status) {
            break;
        }
    }

    ngx_memzero(err, sizeof(ngx_http_llmgw_error_t));

    err->status = status;
    err->code = t->code;
    err->message = t->message;
}


ngx_int_t
ngx_http_llmgw_error_body(ngx_pool_t *pool, ngx_http_llmgw_error_t *err,
    ngx_str_t *body)
{
    u_char  *p;
    size_t   len;

    len = sizeof("{\"error\":{\"code\":\"\",\"message\":\"\"}}\n") - 1
          + ngx_http_llmgw_json_str_len(err->code.data, err->code.len)
          + ngx_http_llmgw_json_str_len(err->message.data, err->message.len);

    if (err->scope.len) {
        len += sizeof(",\"scope\":\"\"") - 1
               + ngx_http_llmgw_json_str_len(err->scope.data, err->scope.len);
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    p = ngx_cpymem(p, "{\"error\":{\"code\":\"",
                   sizeof("{\"error\":{\"code\":\"") - 1);
    p = ngx_http_llmgw_json_str(p, err->code.data, err->code.len);
    p = ngx_cpymem(p, "\",\"message\":\"", sizeof("\",\"message\":\"") - 1);
    p = ngx_http_llmgw_json_str(p, err->message.data, err->message.len);
    *p++ = '"';

    if (err->scope.len) {
        p = ngx_cpymem(p, ",\"scope\":\"", sizeof(",\"scope\":\"") - 1);
        p = ngx_http_llmgw_json_str(p, err->scope.data, err->scope.len);
        *p++ = '"';
    }

    p = ngx_cpymem(p, "}}\n", sizeof("}}\n") - 1);

    body->len = p - body->data;

    return NGX_OK;
}


ngx_uint_t
ngx_http_llmgw_error_challenged(ngx_http_llmgw_error_t *err)
{
    return err->status == NGX_HTTP_UNAUTHORIZED || err->error.len != 0;
}


ngx_int_t
ngx_http_llmgw_error_challenge(ngx_pool_t *pool, ngx_str_t *realm,
    ngx_http_llmgw_error_t *err, ngx_str_t *value)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   scheme;

    scheme = err->scheme;

    if (scheme.len == 0) {
        ngx_str_set(&scheme, "Bearer");
    }

    len = scheme.len + sizeof(" realm=\"\"") - 1
          + ngx_http_llmgw_error_quoted_len(realm);

    if (err->error.len) {
        len += sizeof(", error=\"\", error_description=\"\"") - 1
               + ngx_http_llmgw_error_quoted_len(&err->error)
               + ngx_http_llmgw_error_quoted_len(&err->message);
    }

    if (err->scope.len) {
        len += sizeof(", scope=\"\"") - 1
               + ngx_http_llmgw_error_quoted_len(&err->scope);
    }

    if (err->algs.len) {
        len += sizeof(", algs=\"\"") - 1
               + ngx_http_llmgw_error_quoted_len(&err->algs);
    }

    if (err->resource_metadata.len) {
        len += sizeof(", resource_metadata=\"\"") - 1
               + ngx_http_llmgw_error_quoted_len(&err->resource_metadata);
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value->data = p;

    p = ngx_cpymem(p, scheme.data, scheme.len);
    p = ngx_cpymem(p, " realm=\"", sizeof(" realm=\"") - 1);
    p = ngx_http_llmgw_error_quoted(p, realm);
    *p++ = '"';

    /* RFC 6750 section 3.1: no error code when no credential was given */

    if (err->error.len) {
        p = ngx_cpymem(p, ", error=\"", sizeof(", error=\"") - 1);
        p = ngx_http_llmgw_error_quoted(p, &err->error);
        p = ngx_cpymem(p, "\", error_description=\"",
                       sizeof("\", error_description=\"") - 1);
        p = ngx_http_llmgw_error_quoted(p, &err->message);
        *p++ = '"';
    }

    if (err->scope.len) {
        p = ngx_cpymem(p, ", scope=\"", sizeof(", scope=\"") - 1);
        p = ngx_http_llmgw_error_quoted(p, &err->scope);
        *p++ = '"';
    }

    if (err->algs.len) {
        p = ngx_cpymem(p, ", algs=\"", sizeof(", algs=\"") - 1);
        p = ngx_http_llmgw_error_quoted(p, &err->algs);
        *p++ = '"';
    }

    if (err->resource_metadata.len) {
        p = ngx_cpymem(p, ", resource_metadata=\"",
                       sizeof(", resource_metadata=\"") - 1);
        p = ngx_http_llmgw_error_quoted(p, &err->resource_metadata);
        *p++ = '"';
    }

    value->len = p - value->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_error_www_authenticate(ngx_http_request_t *r,
    ngx_str_t *realm, ngx_http_llmgw_error_t *err)
{
    ngx_table_elt_t  *h;

    if (!ngx_http_llmgw_error_challenged(err)) {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_error_challenge(r->pool, realm, err, &h->value)
        != NGX_OK)
    {
        h->hash = 0;
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");
    h->lowcase_key = NULL;

    r->headers_out.www_authenticate = h;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_error_retry_after(ngx_http_request_t *r, time_t seconds)
{
    u_char           *p;
    ngx_table_elt_t  *h;

    if (seconds < 0) {
        seconds = 0;
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    h->lowcase_key = NULL;
    h->value.data = p;
    h->value.len = ngx_sprintf(p, "%T", seconds) - p;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_error_headers(ngx_http_request_t *r, ngx_str_t *body)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    /* an answer that depends on the credential is nobody else's to keep */

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");
    h->lowcase_key = NULL;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    r->headers_out.content_length_n = body->len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    return NGX_OK;
}


/*
 * A quoted-string's content (RFC 9110 section 5.6.4): '"' and '\' as
 * quoted-pairs; a control byte, which no header may carry, as '?'.
 */

static size_t
ngx_http_llmgw_error_quoted_len(ngx_str_t *s)
{
    size_t   len;
    u_char  *p, *last;

    len = s->len;
    last = s->data + s->len;

    for (p = s->data; p < last; p++) {
        if (*p == '"' || *p == '\\') {
            len++;
        }
    }

    return len;
}


static u_char *
ngx_http_llmgw_error_quoted(u_char *p, ngx_str_t *s)
{
    u_char  *c, *last;

    last = s->data + s->len;

    for (c = s->data; c < last; c++) {
        if (*c == '"' || *c == '\\') {
            *p++ = '\\';
            *p++ = *c;

        } else if (*c < 0x20 || *c == 0x7f) {
            *p++ = '?';

        } else {
            *p++ = *c;
        }
    }

    return p;
}
