
/*
 * Copyright (C) llmgw authors
 *
 * The shared zones of llmgw (the token cache, JWKS key sets, the audit
 * chain heads; limits, metrics, revocation next): the "name:size"
 * argument of every zone directive, read one way and refused in nginx's
 * words, and the steps every zone's init callback shares.
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

/*
 * The zone of a "name:size" directive argument: parsed as above, added
 * to the cycle under tag (the owner of its kind of zone), refused when a
 * zone of that name and tag was already added by another directive ("zone
 * \"NAME\" is already used by another llmgw directive"), and given init
 * and data.  NULL after an emerg message or without memory.
 */
ngx_shm_zone_t *ngx_http_llmgw_zone_add(ngx_conf_t *cf, ngx_str_t *value,
    void *tag, ngx_shm_zone_init_pt init, void *data);

/*
 * A reload hands a zone over only at the same size (nginx makes a new
 * zone otherwise); said anyway in what's words ("WHAT \"NAME\" has size
 * N while previously it had M") and NGX_ERROR when old_size differs.
 */
ngx_int_t ngx_http_llmgw_zone_same_size(ngx_shm_zone_t *shm_zone,
    size_t old_size, const char *what);

/*
 * The state a zone already holds when it is initialised anew (a master
 * that kept it: shm.exists), published by ngx_http_llmgw_zone_publish;
 * NULL when the caller must make it.
 */
void *ngx_http_llmgw_zone_state(ngx_shm_zone_t *shm_zone);

/*
 * The state sh, made in the zone's slab, published for
 * ngx_http_llmgw_zone_state, and the slab's messages named
 * " in WHAT \"NAME\"".  NGX_OK, or NGX_ERROR when the slab is full.
 */
ngx_int_t ngx_http_llmgw_zone_publish(ngx_shm_zone_t *shm_zone, void *sh,
    const char *what);


#endif /* _NGX_HTTP_LLMGW_ZONE_H_INCLUDED_ */
