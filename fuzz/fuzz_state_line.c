/* llmgw-fuzz-srcs: src/ngx_http_llmgw_account.c src/ngx_http_llmgw_zone.c */
/* llmgw-fuzz-libs: -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: an account change as the text Redis hands a node (a
 * stream entry's "change", a snapshot hash's value), read and applied by
 * ngx_http_llmgw_account_commit_line() to a zone of its own (no state
 * file).  NGX_OK or NGX_DECLINED, and a zone whose lookups still answer
 * (a registered client's record written back within its length);
 * anything else aborts.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_account.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


ngx_module_t  ngx_http_llmgw_module;
ngx_uint_t    ngx_test_config;

static ngx_shm_zone_t  *ngx_http_llmgw_fuzz_zone;
static ngx_pool_t      *ngx_http_llmgw_fuzz_pool;


/* the cycle's ngx_shared_memory_add(), for the one zone */

ngx_shm_zone_t *
ngx_shared_memory_add(ngx_conf_t *cf, ngx_str_t *name, size_t size, void *tag)
{
    ngx_shm_zone_t  *zone;

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_shm_zone_t));
    if (zone == NULL) {
        return NULL;
    }

    zone->shm.size = size;
    zone->shm.name = *name;
    zone->shm.log = &ngx_http_llmgw_unit_log;
    zone->tag = tag;

    return zone;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_str_t         *value;
    ngx_conf_t         cf;
    ngx_command_t      cmd;
    ngx_shm_zone_t    *zone;
    ngx_slab_pool_t   *sp;

    ngx_http_llmgw_unit_quiet = 1;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 1;
    }

    ngx_http_llmgw_fuzz_pool = ngx_create_pool(16384,
                                               &ngx_http_llmgw_unit_log);
    if (ngx_http_llmgw_fuzz_pool == NULL) {
        return 1;
    }

    ngx_http_llmgw_unit_conf(&cf, ngx_http_llmgw_fuzz_pool);

    cf.args = ngx_array_create(ngx_http_llmgw_fuzz_pool, 2,
                               sizeof(ngx_str_t));
    value = ngx_array_push_n(cf.args, 2);
    if (value == NULL) {
        return 1;
    }

    ngx_str_set(&value[0], "llmgw_state_zone");
    ngx_str_set(&value[1], "fuzz:1m");

    ngx_memzero(&cmd, sizeof(ngx_command_t));
    cmd.offset = 0;
    zone = NULL;

    if (ngx_http_llmgw_account_zone(&cf, &cmd, &zone) != NGX_CONF_OK
        || zone == NULL
        || ngx_shm_alloc(&zone->shm) != NGX_OK)
    {
        return 1;
    }

    sp = (ngx_slab_pool_t *) zone->shm.addr;
    sp->end = zone->shm.addr + zone->shm.size;
    sp->min_shift = 3;
    sp->addr = zone->shm.addr;

    if (ngx_shmtx_create(&sp->mutex, &sp->lock, NULL) != NGX_OK) {
        return 1;
    }

    ngx_slab_init(sp);

    if (zone->init(zone, NULL) != NGX_OK) {
        return 1;
    }

    ngx_http_llmgw_fuzz_zone = zone;

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                           *copy, *buf, *p;
    size_t                            len;
    ngx_str_t                         id;
    ngx_int_t                         rc;
    ngx_pool_t                       *pool;
    ngx_uint_t                        expired;
    ngx_http_llmgw_account_query_t    q;
    ngx_http_llmgw_account_result_t   res;
    ngx_http_llmgw_account_change_t   ch;

    /* a buffer of the input's own size: a read past it is caught */

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    ngx_memcpy(copy, data, size);

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        free(copy);
        return 0;
    }

    rc = ngx_http_llmgw_account_commit_line(ngx_http_llmgw_fuzz_zone, copy,
                                            size, 1700000000, &expired,
                                            &ngx_http_llmgw_unit_log);

    if (rc != NGX_OK && rc != NGX_DECLINED) {
        abort();
    }

    ngx_memzero(&q, sizeof(ngx_http_llmgw_account_query_t));
    ngx_str_set(&q.user, "E1");
    ngx_str_set(&q.client_id, "app");
    q.iat = -1;

    if (ngx_http_llmgw_account_check(ngx_http_llmgw_fuzz_zone, &q,
                                     1700000000, pool, &res)
        != NGX_OK)
    {
        abort();
    }

    /* a registered client read back is written within its length */

    ngx_str_set(&id, "dcr-7f3a");

    if (ngx_http_llmgw_account_lookup(ngx_http_llmgw_fuzz_zone,
                                      NGX_HTTP_LLMGW_ACCOUNT_REGISTERED, &id,
                                      1700000000, pool, &ch)
        == NGX_OK)
    {
        len = ngx_http_llmgw_account_change_len(&ch);

        buf = ngx_pnalloc(pool, len);
        if (buf == NULL) {
            abort();
        }

        p = ngx_http_llmgw_account_change_line(buf, &ch);

        if ((size_t) (p - buf) > len) {
            abort();
        }
    }

    ngx_destroy_pool(pool);
    free(copy);

    return 0;
}
