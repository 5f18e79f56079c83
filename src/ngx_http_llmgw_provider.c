
/*
 * Copyright (C) llmgw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "ngx_http_llmgw_provider.h"


/* how much of a query parameter name is decoded to compare it */
#define NGX_HTTP_LLMGW_QUERY_NAME_MAX  256


static ngx_uint_t ngx_http_llmgw_provider_in_table(ngx_str_t *table,
    u_char *lowcase, size_t len);
static ngx_uint_t ngx_http_llmgw_provider_drop_param(
    ngx_http_llmgw_provider_t *pv, u_char *name, size_t len);
static u_char *ngx_http_llmgw_provider_find_segment(u_char *p, u_char *last,
    ngx_str_t *segment);
static ngx_int_t ngx_http_llmgw_provider_model_valid(ngx_str_t *model);
static ngx_int_t ngx_http_llmgw_provider_hex(u_char c);


static ngx_str_t  ngx_http_llmgw_provider_azure_query[] = {
    ngx_string("api-key"),
    ngx_null_string
};


static ngx_str_t  ngx_http_llmgw_provider_gemini_query[] = {
    ngx_string("key"),
    ngx_string("access_token"),
    ngx_null_string
};


static ngx_str_t  ngx_http_llmgw_provider_no_query[] = {
    ngx_null_string
};


static ngx_http_llmgw_provider_t  ngx_http_llmgw_providers[] = {

    { ngx_string("azure_openai"),
      NGX_HTTP_LLMGW_PROVIDER_AZURE_OPENAI,
      ngx_string("api-key"),
      ngx_null_string,
      ngx_string("/deployments/"),
      '\0',
      ngx_http_llmgw_provider_azure_query,
      ngx_null_string },

    { ngx_string("bedrock"),
      NGX_HTTP_LLMGW_PROVIDER_BEDROCK,
      ngx_string("Authorization"),
      ngx_string("Bearer "),
      ngx_string("/model/"),
      '\0',
      ngx_http_llmgw_provider_no_query,
      ngx_string("x-amz-") },

    { ngx_string("gemini"),
      NGX_HTTP_LLMGW_PROVIDER_GEMINI,
      ngx_string("x-goog-api-key"),
      ngx_null_string,
      ngx_string("/models/"),
      ':',
      ngx_http_llmgw_provider_gemini_query,
      ngx_null_string },

    { ngx_string("openai"),
      NGX_HTTP_LLMGW_PROVIDER_OPENAI,
      ngx_string("Authorization"),
      ngx_string("Bearer "),
      ngx_null_string,
      '\0',
      ngx_http_llmgw_provider_no_query,
      ngx_null_string },

    { ngx_null_string, 0, ngx_null_string, ngx_null_string,
      ngx_null_string, '\0', NULL, ngx_null_string }
};


/* client request headers never forwarded, lowercase */

static ngx_str_t  ngx_http_llmgw_provider_dropped[] = {
    ngx_string("host"),
    ngx_string("connection"),
    ngx_string("keep-alive"),
    ngx_string("te"),
    ngx_string("trailer"),
    ngx_string("transfer-encoding"),
    ngx_string("upgrade"),
    ngx_string("http2-settings"),
    ngx_string("content-length"),
    ngx_string("expect"),
    ngx_string("accept-encoding"),
    ngx_string("authorization"),
    ngx_string("api-key"),
    ngx_string("x-api-key"),
    ngx_string("x-goog-api-key"),
    ngx_string("x-amz-date"),
    ngx_string("x-amz-security-token"),
    ngx_string("x-amz-content-sha256"),
    ngx_string("cookie"),
    ngx_null_string
};


/* upstream response headers that name a credential, lowercase */

static ngx_str_t  ngx_http_llmgw_provider_credentials[] = {
    ngx_string("authorization"),
    ngx_string("proxy-authorization"),
    ngx_string("api-key"),
    ngx_string("x-api-key"),
    ngx_string("x-goog-api-key"),
    ngx_string("x-amz-security-token"),
    ngx_null_string
};


ngx_http_llmgw_provider_t *
ngx_http_llmgw_provider_find(ngx_str_t *name)
{
    ngx_http_llmgw_provider_t  *pv;

    for (pv = ngx_http_llmgw_providers; pv->name.len; pv++) {
        if (pv->name.len == name->len
            && ngx_strncmp(pv->name.data, name->data, name->len) == 0)
        {
            return pv;
        }
    }

    return NULL;
}


ngx_uint_t
ngx_http_llmgw_provider_drop_request_header(u_char *lowcase, size_t len)
{
    if (len >= sizeof("proxy-") - 1
        && ngx_strncmp(lowcase, "proxy-", sizeof("proxy-") - 1) == 0)
    {
        return 1;
    }

    return ngx_http_llmgw_provider_in_table(ngx_http_llmgw_provider_dropped,
                                            lowcase, len);
}


ngx_uint_t
ngx_http_llmgw_provider_credential_header(u_char *lowcase, size_t len)
{
    return ngx_http_llmgw_provider_in_table(
                                   ngx_http_llmgw_provider_credentials,
                                   lowcase, len);
}


ngx_uint_t
ngx_http_llmgw_provider_in_list(ngx_str_t *list, u_char *name, size_t len)
{
    u_char  *p, *last, *start, *end;

    p = list->data;
    last = list->data + list->len;

    while (p < last) {

        while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        end = p;

        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }

        if ((size_t) (end - start) == len
            && ngx_strncasecmp(start, name, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


ngx_int_t
ngx_http_llmgw_provider_check_path(u_char *p, size_t len)
{
    u_char  *last, *segment;
    size_t   n;

    last = p + len;
    segment = p;

    for ( ;; ) {

        if (p == last || *p == '/') {
            n = p - segment;

            if ((n == 1 && segment[0] == '.')
                || (n == 2 && segment[0] == '.' && segment[1] == '.'))
            {
                return NGX_DECLINED;
            }

            if (p == last) {
                return NGX_OK;
            }

            segment = p + 1;
            p++;
            continue;
        }

        if (*p <= 0x20 || *p >= 0x7f || *p == '\\' || *p == '#') {
            return NGX_DECLINED;
        }

        if (*p == '%') {
            if (last - p < 3
                || ngx_http_llmgw_provider_hex(p[1]) < 0
                || ngx_http_llmgw_provider_hex(p[2]) < 0)
            {
                return NGX_DECLINED;
            }

            switch (ngx_http_llmgw_provider_hex(p[1]) * 16
                    + ngx_http_llmgw_provider_hex(p[2]))
            {
            case 0x00:
            case '.':
            case '\\':
                return NGX_DECLINED;

            default:
                break;
            }

            p += 3;
            continue;
        }

        p++;
    }
}


ngx_int_t
ngx_http_llmgw_provider_check_query(u_char *p, size_t len)
{
    u_char  *last;

    for (last = p + len; p < last; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '#') {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_provider_query(ngx_pool_t *pool, ngx_http_llmgw_provider_t *pv,
    ngx_str_t *in, ngx_str_t *out)
{
    u_char      *p, *last, *start, *end, *name_end, *o;
    ngx_uint_t   changed;

    p = in->data;
    last = in->data + in->len;
    changed = 0;

    /* first pass: is anything removed? */

    while (p < last) {
        start = p;

        while (p < last && *p != '&') {
            p++;
        }

        end = p;

        if (p < last) {
            p++;
        }

        if (start == end) {
            changed = 1;
            continue;
        }

        name_end = ngx_strlchr(start, end, '=');
        if (name_end == NULL) {
            name_end = end;
        }

        if (ngx_http_llmgw_provider_drop_param(pv, start, name_end - start)) {
            changed = 1;
        }
    }

    if (!changed) {
        *out = *in;
        return NGX_OK;
    }

    o = ngx_pnalloc(pool, in->len + 1);
    if (o == NULL) {
        return NGX_ERROR;
    }

    out->data = o;
    p = in->data;

    while (p < last) {
        start = p;

        while (p < last && *p != '&') {
            p++;
        }

        end = p;

        if (p < last) {
            p++;
        }

        if (start == end) {
            continue;
        }

        name_end = ngx_strlchr(start, end, '=');
        if (name_end == NULL) {
            name_end = end;
        }

        if (ngx_http_llmgw_provider_drop_param(pv, start, name_end - start)) {
            continue;
        }

        if (o != out->data) {
            *o++ = '&';
        }

        o = ngx_cpymem(o, start, end - start);
    }

    out->len = o - out->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_provider_model_from_path(ngx_pool_t *pool,
    ngx_http_llmgw_provider_t *pv, ngx_str_t *path, ngx_str_t *model)
{
    u_char  *p, *last, *start, *dst, *src;

    if (pv->model_segment.len == 0) {
        return NGX_DECLINED;
    }

    last = path->data + path->len;

    p = ngx_http_llmgw_provider_find_segment(path->data, last,
                                             &pv->model_segment);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    start = p;

    while (p < last && *p != '/' && *p != '?'
           && (pv->model_stop == '\0' || *p != pv->model_stop))
    {
        p++;
    }

    if (p == start || (size_t) (p - start) > 3 * NGX_HTTP_LLMGW_MODEL_MAX) {
        return NGX_DECLINED;
    }

    dst = ngx_pnalloc(pool, p - start);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    model->data = dst;
    src = start;

    ngx_unescape_uri(&dst, &src, p - start, 0);

    model->len = dst - model->data;

    return ngx_http_llmgw_provider_model_valid(model);
}


ngx_int_t
ngx_http_llmgw_provider_model_from_json(ngx_pool_t *pool, u_char *p,
    size_t len, ngx_str_t *model)
{
    size_t         n;
    json_t        *root, *value;
    const char    *s;
    json_error_t   err;

    root = json_loadb((const char *) p, len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        return NGX_DECLINED;
    }

    value = json_object_get(root, "model");

    if (!json_is_string(value)) {
        json_decref(root);
        return NGX_DECLINED;
    }

    s = json_string_value(value);
    n = json_string_length(value);

    if (n == 0 || n > NGX_HTTP_LLMGW_MODEL_MAX) {
        json_decref(root);
        return NGX_DECLINED;
    }

    model->data = ngx_pnalloc(pool, n);
    if (model->data == NULL) {
        json_decref(root);
        return NGX_ERROR;
    }

    ngx_memcpy(model->data, s, n);
    model->len = n;

    json_decref(root);

    return ngx_http_llmgw_provider_model_valid(model);
}


static ngx_uint_t
ngx_http_llmgw_provider_in_table(ngx_str_t *table, u_char *lowcase,
    size_t len)
{
    for ( /* void */ ; table->len; table++) {
        if (table->len == len
            && ngx_strncmp(table->data, lowcase, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static ngx_uint_t
ngx_http_llmgw_provider_drop_param(ngx_http_llmgw_provider_t *pv,
    u_char *name, size_t len)
{
    u_char      *dst, *src;
    size_t       n;
    ngx_str_t   *drop;
    u_char       decoded[NGX_HTTP_LLMGW_QUERY_NAME_MAX];

    if (len == 0) {
        return 0;
    }

    /*
     * decoding never lengthens a name; of a longer one the decoded start
     * is enough for the prefix, and it is longer than any dropped name
     */

    dst = decoded;
    src = name;

    ngx_unescape_uri(&dst, &src, ngx_min(len, NGX_HTTP_LLMGW_QUERY_NAME_MAX),
                     0);

    n = dst - decoded;

    for (drop = pv->query_drop;
         drop->len && len <= NGX_HTTP_LLMGW_QUERY_NAME_MAX;
         drop++)
    {
        if (drop->len == n && ngx_strncasecmp(drop->data, decoded, n) == 0) {
            return 1;
        }
    }

    if (pv->query_drop_prefix.len
        && n >= pv->query_drop_prefix.len
        && ngx_strncasecmp(pv->query_drop_prefix.data, decoded,
                           pv->query_drop_prefix.len) == 0)
    {
        return 1;
    }

    return 0;
}


static u_char *
ngx_http_llmgw_provider_find_segment(u_char *p, u_char *last,
    ngx_str_t *segment)
{
    for ( /* void */ ; (size_t) (last - p) >= segment->len; p++) {
        if (ngx_strncmp(p, segment->data, segment->len) == 0) {
            return p + segment->len;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_llmgw_provider_model_valid(ngx_str_t *model)
{
    size_t  i;

    if (model->len == 0 || model->len > NGX_HTTP_LLMGW_MODEL_MAX) {
        return NGX_DECLINED;
    }

    for (i = 0; i < model->len; i++) {
        if (model->data[i] <= 0x20 || model->data[i] >= 0x7f) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_provider_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}
