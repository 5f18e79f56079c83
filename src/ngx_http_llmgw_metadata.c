
/*
 * Copyright (C) llmgw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "ngx_http_llmgw_metadata.h"


static json_t *ngx_http_llmgw_metadata_strings(ngx_array_t *a);
static ngx_int_t ngx_http_llmgw_metadata_set(json_t *o, const char *name,
    json_t *v);


ngx_int_t
ngx_http_llmgw_metadata_document(ngx_pool_t *pool,
    ngx_http_llmgw_metadata_t *md, ngx_str_t *doc)
{
    char       *text;
    json_t     *o, *methods;
    ngx_int_t   rc;

    o = json_object();
    if (o == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    text = NULL;

    if (ngx_http_llmgw_metadata_set(o, "resource",
                                    json_stringn((char *) md->resource.data,
                                                 md->resource.len))
        != NGX_OK)
    {
        goto done;
    }

    if (md->servers
        && ngx_http_llmgw_metadata_set(o, "authorization_servers",
                                 ngx_http_llmgw_metadata_strings(md->servers))
           != NGX_OK)
    {
        goto done;
    }

    if (md->scopes
        && ngx_http_llmgw_metadata_set(o, "scopes_supported",
                                 ngx_http_llmgw_metadata_strings(md->scopes))
           != NGX_OK)
    {
        goto done;
    }

    methods = json_pack("[s]", "header");

    if (ngx_http_llmgw_metadata_set(o, "bearer_methods_supported", methods)
        != NGX_OK)
    {
        goto done;
    }

    if (md->dpop_algs
        && ngx_http_llmgw_metadata_set(o, "dpop_signing_alg_values_supported",
                              ngx_http_llmgw_metadata_strings(md->dpop_algs))
           != NGX_OK)
    {
        goto done;
    }

    if (ngx_http_llmgw_metadata_set(o,
                                "tls_client_certificate_bound_access_tokens",
                                json_boolean(md->cert_bound))
        != NGX_OK)
    {
        goto done;
    }

    if (md->dpop_required
        && ngx_http_llmgw_metadata_set(o, "dpop_bound_access_tokens_required",
                                       json_true())
           != NGX_OK)
    {
        goto done;
    }

    text = json_dumps(o, JSON_COMPACT|JSON_PRESERVE_ORDER);
    if (text == NULL) {
        goto done;
    }

    doc->len = ngx_strlen(text) + 1;
    doc->data = ngx_pnalloc(pool, doc->len);
    if (doc->data == NULL) {
        goto done;
    }

    ngx_memcpy(doc->data, text, doc->len - 1);
    doc->data[doc->len - 1] = '\n';

    rc = NGX_OK;

done:

    free(text);
    json_decref(o);

    return rc;
}


static json_t *
ngx_http_llmgw_metadata_strings(ngx_array_t *a)
{
    json_t      *arr, *s;
    ngx_str_t   *v;
    ngx_uint_t   i;

    arr = json_array();
    if (arr == NULL) {
        return NULL;
    }

    v = a->elts;

    for (i = 0; i < a->nelts; i++) {
        s = json_stringn((char *) v[i].data, v[i].len);

        if (s == NULL || json_array_append_new(arr, s) != 0) {
            json_decref(arr);
            return NULL;
        }
    }

    return arr;
}


/* v is taken (freed on failure too); NULL v is a failure */

static ngx_int_t
ngx_http_llmgw_metadata_set(json_t *o, const char *name, json_t *v)
{
    if (v == NULL) {
        return NGX_ERROR;
    }

    return json_object_set_new(o, name, v) == 0 ? NGX_OK : NGX_ERROR;
}
