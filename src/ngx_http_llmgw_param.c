
/*
 * Copyright (C) llmgw authors
 *
 * The NAME=VALUE parameters of llmgw's directives.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_param.h"


ngx_int_t
ngx_http_llmgw_param(ngx_str_t *arg, const char *name, ngx_str_t *value)
{
    size_t  len;

    len = ngx_strlen(name);

    if (arg->len < len || ngx_strncmp(arg->data, name, len) != 0) {
        return NGX_DECLINED;
    }

    value->data = arg->data + len;
    value->len = arg->len - len;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_param_msec(ngx_conf_t *cf, ngx_str_t *arg, const char *name,
    ngx_msec_t min, ngx_msec_t *ms)
{
    ngx_int_t  n;
    ngx_str_t  value;

    if (ngx_http_llmgw_param(arg, name, &value) != NGX_OK) {
        return NGX_DECLINED;
    }

    n = ngx_parse_time(&value, 0);

    if (n == NGX_ERROR || (ngx_msec_t) n < min) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid %*s time \"%V\"",
                           ngx_strlen(name) - 1, name, &value);
        return NGX_ERROR;
    }

    *ms = (ngx_msec_t) n;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_param_size(ngx_conf_t *cf, ngx_str_t *arg, const char *name,
    size_t min, size_t max, size_t *size)
{
    ssize_t    n;
    ngx_str_t  value;

    if (ngx_http_llmgw_param(arg, name, &value) != NGX_OK) {
        return NGX_DECLINED;
    }

    n = ngx_parse_size(&value);

    if (n == NGX_ERROR || (size_t) n < min || (size_t) n > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %*s size \"%V\", it must be from "
                           "%uz to %uz", ngx_strlen(name) - 1, name, &value,
                           min, max);
        return NGX_ERROR;
    }

    *size = (size_t) n;

    return NGX_OK;
}
