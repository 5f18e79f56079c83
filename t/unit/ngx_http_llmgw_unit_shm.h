
/*
 * Copyright (C) llmgw authors
 *
 * Shared zones in unit tests: what the cycle does for a zone directive
 * (ngx_shared_memory_add, then map the zone, make its slab pool, call its
 * init), for the tests of the zones' owners (cache, account, metrics).
 */


#ifndef _NGX_HTTP_LLMGW_UNIT_SHM_H_INCLUDED_
#define _NGX_HTTP_LLMGW_UNIT_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Runs the zone directive handler (named name) with the one argument arg
 * on conf, as ngx_conf_parse would.
 */
char *ngx_http_llmgw_unit_zone_directive(ngx_pool_t *pool,
    char *(*handler)(ngx_conf_t *cf, ngx_command_t *cmd, void *conf),
    const char *name, void *conf, ngx_uint_t offset, const char *arg);

/*
 * Maps zone and initialises it as a cycle does: with old (the zone of
 * the previous cycle, NULL at the first) its memory is handed over and
 * init gets old's data; else a new slab pool.  NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_unit_zone_map(ngx_shm_zone_t *zone,
    ngx_shm_zone_t *old);

/*
 * A new cycle begins for zone: its name is free for the directive to
 * declare anew, its memory stays mapped for the next map's old.
 */
void ngx_http_llmgw_unit_zone_forget(ngx_shm_zone_t *zone);

/* unmaps a zone ngx_http_llmgw_unit_zone_map made, out of the cycle */
void ngx_http_llmgw_unit_zone_free(ngx_shm_zone_t *zone);


#endif /* _NGX_HTTP_LLMGW_UNIT_SHM_H_INCLUDED_ */
