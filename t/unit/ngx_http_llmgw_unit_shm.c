
/*
 * Copyright (C) llmgw authors
 *
 * Shared zones in unit tests, as the cycle makes them.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_unit_shm.h"


/*
 * Stand-in for the cycle's ngx_shared_memory_add(): the zones in the
 * cycle's list (where ngx_http_llmgw_metrics_audit_failure() looks); a
 * second call with a name already there returns that zone when the tag
 * is the same, as nginx does, and NULL when it is not.
 */

ngx_shm_zone_t *
ngx_shared_memory_add(ngx_conf_t *cf, ngx_str_t *name, size_t size, void *tag)
{
    ngx_uint_t        i;
    ngx_list_t       *list;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *zone;

    list = &((ngx_cycle_t *) ngx_cycle)->shared_memory;

    if (list->part.elts == NULL
        && ngx_list_init(list, ngx_cycle->pool, 4, sizeof(ngx_shm_zone_t))
           != NGX_OK)
    {
        return NULL;
    }

    part = &list->part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag != NULL
            && zone[i].shm.name.len == name->len
            && ngx_strncmp(zone[i].shm.name.data, name->data, name->len)
               == 0)
        {
            return zone[i].tag == tag ? &zone[i] : NULL;
        }
    }

    zone = ngx_list_push(list);
    if (zone == NULL) {
        return NULL;
    }

    ngx_memzero(zone, sizeof(ngx_shm_zone_t));

    zone->shm.size = size;
    zone->shm.name = *name;
    zone->shm.log = &ngx_http_llmgw_unit_log;
    zone->tag = tag;

    return zone;
}


char *
ngx_http_llmgw_unit_zone_directive(ngx_pool_t *pool,
    char *(*handler)(ngx_conf_t *cf, ngx_command_t *cmd, void *conf),
    const char *name, void *conf, ngx_uint_t offset, const char *arg)
{
    ngx_str_t      *value;
    ngx_conf_t      cf;
    ngx_array_t    *args;
    ngx_command_t   cmd;

    ngx_http_llmgw_unit_conf(&cf, pool);

    args = ngx_array_create(pool, 2, sizeof(ngx_str_t));
    if (args == NULL) {
        return NGX_CONF_ERROR;
    }

    value = ngx_array_push_n(args, 2);
    if (value == NULL) {
        return NGX_CONF_ERROR;
    }

    value[0].data = (u_char *) name;
    value[0].len = ngx_strlen(name);
    value[1].data = (u_char *) arg;
    value[1].len = ngx_strlen(arg);

    cf.args = args;

    ngx_memzero(&cmd, sizeof(ngx_command_t));
    cmd.name = value[0];
    cmd.offset = offset;

    return handler(&cf, &cmd, conf);
}


ngx_int_t
ngx_http_llmgw_unit_zone_map(ngx_shm_zone_t *zone, ngx_shm_zone_t *old)
{
    ngx_slab_pool_t  *sp;

    if (old != NULL) {
        zone->shm.addr = old->shm.addr;
        zone->shm.exists = 1;
        return zone->init(zone, old->data);
    }

    if (ngx_shm_alloc(&zone->shm) != NGX_OK) {
        return NGX_ERROR;
    }

    sp = (ngx_slab_pool_t *) zone->shm.addr;
    sp->end = zone->shm.addr + zone->shm.size;
    sp->min_shift = 3;
    sp->addr = zone->shm.addr;

    if (ngx_shmtx_create(&sp->mutex, &sp->lock, NULL) != NGX_OK) {
        ngx_shm_free(&zone->shm);
        return NGX_ERROR;
    }

    ngx_slab_init(sp);

    if (zone->init(zone, NULL) != NGX_OK) {
        ngx_shmtx_destroy(&sp->mutex);
        ngx_shm_free(&zone->shm);
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_llmgw_unit_zone_forget(ngx_shm_zone_t *zone)
{
    zone->tag = NULL;
}


void
ngx_http_llmgw_unit_zone_free(ngx_shm_zone_t *zone)
{
    ngx_slab_pool_t  *sp;

    sp = (ngx_slab_pool_t *) zone->shm.addr;

    ngx_shmtx_destroy(&sp->mutex);
    ngx_shm_free(&zone->shm);

    /* out of the cycle's list: its name can be used again */
    zone->tag = NULL;
}
