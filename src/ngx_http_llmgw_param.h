
/*
 * Copyright (C) llmgw authors
 *
 * The NAME=VALUE parameters of llmgw's directives (buffer=, flush=,
 * timeout=, max_size= ...): recognised one way, times and sizes read with
 * nginx's own parsers and refused in one wording.
 */


#ifndef _NGX_HTTP_LLMGW_PARAM_H_INCLUDED_
#define _NGX_HTTP_LLMGW_PARAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * NGX_OK when arg is "NAME=..." (name is given with its '='), with
 * *value what follows; NGX_DECLINED otherwise.
 */
ngx_int_t ngx_http_llmgw_param(ngx_str_t *arg, const char *name,
    ngx_str_t *value);

/*
 * name= as a time (ngx_parse_time: "500ms", "5s", "1m") of at least min
 * ms: NGX_OK with *ms; NGX_DECLINED when arg is another parameter;
 * NGX_ERROR after the emerg message "invalid NAME time \"VALUE\"".
 */
ngx_int_t ngx_http_llmgw_param_msec(ngx_conf_t *cf, ngx_str_t *arg,
    const char *name, ngx_msec_t min, ngx_msec_t *ms);

/*
 * name= as a size (ngx_parse_size: "64k", "1m") from min to max bytes:
 * NGX_OK with *size; NGX_DECLINED when arg is another parameter;
 * NGX_ERROR after the emerg message "invalid NAME size \"VALUE\", it must
 * be from MIN to MAX".
 */
ngx_int_t ngx_http_llmgw_param_size(ngx_conf_t *cf, ngx_str_t *arg,
    const char *name, size_t min, size_t max, size_t *size);


#endif /* _NGX_HTTP_LLMGW_PARAM_H_INCLUDED_ */
