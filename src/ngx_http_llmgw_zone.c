
/*
 * Copyright (C) llmgw authors
 *
 * The "name:size" argument of llmgw's shared-zone directives.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_zone.h"


ngx_int_t
ngx_http_llmgw_zone_parse(ngx_conf_t *cf, ngx_str_t *value, ngx_str_t *name,
    ssize_t *size, size_t min_size)
{
    u_char     *colon;
    ssize_t     n;
    ngx_str_t   s;

    colon = ngx_strlchr(value->data, value->data + value->len, ':');

    if (colon == NULL || colon == value->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", expected name:size", value);
        return NGX_ERROR;
    }

    s.data = colon + 1;
    s.len = value->data + value->len - s.data;

    n = ngx_parse_size(&s);

    if (n == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", value);
        return NGX_ERROR;
    }

    if ((size_t) n < min_size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", value);
        return NGX_ERROR;
    }

    name->data = value->data;
    name->len = colon - value->data;

    *size = n;

    return NGX_OK;
}
