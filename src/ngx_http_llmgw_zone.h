
/*
 * Copyright (C) llmgw authors
 *
 * The "name:size" argument of every llmgw shared-zone directive (the
 * token cache, JWKS key sets; limits, metrics, revocation next), read one
 * way and refused in nginx's words.
 */


#ifndef _NGX_HTTP_LLMGW_ZONE_H_INCLUDED_
#define _NGX_HTTP_LLMGW_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the smallest zone nginx's own zone directives accept: 8 pages */
#define NGX_HTTP_LLMGW_ZONE_MIN_SIZE   (8 * ngx_pagesize)


/*
 * Splits value ("name:size") into *name (pointing into value) and *size.
 * NGX_ERROR after an emerg message naming value: no ':' or an empty name
 * ("invalid zone \"%V\", expected name:size"), a size ngx_parse_size()
 * refuses ("invalid zone size \"%V\""), or one under min_size ("zone
 * \"%V\" is too small").
 */
ngx_int_t ngx_http_llmgw_zone_parse(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *name, ssize_t *size, size_t min_size);


#endif /* _NGX_HTTP_LLMGW_ZONE_H_INCLUDED_ */
