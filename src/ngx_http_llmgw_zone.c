
/*
 * Copyright (C) llmgw authors
 *
 * The "name:size" argument of llmgw's shared-zone directives, and what
 * their init callbacks share.
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


ngx_shm_zone_t *
ngx_http_llmgw_zone_add(ngx_conf_t *cf, ngx_str_t *value, void *tag,
    ngx_shm_zone_init_pt init, void *data)
{
    ssize_t          size;
    ngx_str_t        name;
    ngx_shm_zone_t  *shm_zone;

    if (ngx_http_llmgw_zone_parse(cf, value, &name, &size,
                                  NGX_HTTP_LLMGW_ZONE_MIN_SIZE)
        != NGX_OK)
    {
        return NULL;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size, tag);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used by another "
                           "llmgw directive", &name);
        return NULL;
    }

    shm_zone->init = init;
    shm_zone->data = data;

    return shm_zone;
}


ngx_int_t
ngx_http_llmgw_zone_same_size(ngx_shm_zone_t *shm_zone, size_t old_size,
    const char *what)
{
    if (old_size == shm_zone->shm.size) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "%s \"%V\" has size %uz while previously it had %uz",
                  what, &shm_zone->shm.name, shm_zone->shm.size, old_size);

    return NGX_ERROR;
}


void *
ngx_http_llmgw_zone_state(ngx_shm_zone_t *shm_zone)
{
    ngx_slab_pool_t  *shpool;

    if (!shm_zone->shm.exists) {
        return NULL;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    return shpool->data;
}


ngx_int_t
ngx_http_llmgw_zone_publish(ngx_shm_zone_t *shm_zone, void *sh,
    const char *what)
{
    size_t            len;
    ngx_slab_pool_t  *shpool;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    shpool->data = sh;

    len = sizeof(" in  \"\"") + ngx_strlen(what) + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in %s \"%V\"%Z", what,
                &shm_zone->shm.name);

    return NGX_OK;
}
