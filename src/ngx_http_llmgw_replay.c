
/*
 * Copyright (C) llmgw authors
 *
 * The replay cache of DPoP proofs: an rbtree of fixed-size nodes keyed by
 * the first bytes of a SHA-256, and a queue in insertion order, which is
 * close to expiry order (every entry lives the same window after its
 * proof's iat); all access is under the zone's mutex.  Unlike a cache,
 * a live entry is never evicted: forgetting one would let its proof be
 * replayed, so a zone full of live entries refuses instead.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_replay.h"
#include "ngx_http_llmgw_zone.h"


/* entries examined for expiry before each insertion, and when full */
#define NGX_HTTP_LLMGW_REPLAY_EXPIRE_N     3
#define NGX_HTTP_LLMGW_REPLAY_EXPIRE_MAX   256


typedef struct {
    ngx_rbtree_node_t            node;
    ngx_queue_t                  queue;
    time_t                       expires;
    u_char                       key[NGX_HTTP_LLMGW_SHA256_LEN];
} ngx_http_llmgw_replay_node_t;


typedef struct {
    ngx_http_llmgw_zone_sh_t    *sh;          /* queue: newest first */
    ngx_slab_pool_t             *shpool;
} ngx_http_llmgw_replay_ctx_t;


/*
 * The zones of each kind have a tag of their own: on a reload nginx hands
 * a zone of the same name and size over to its new owner only under the
 * same tag, so one kind never inherits another kind's layout.
 */
static ngx_uint_t  ngx_http_llmgw_replay_tag;


static ngx_int_t ngx_http_llmgw_replay_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_llmgw_replay_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_llmgw_replay_expire(ngx_http_llmgw_replay_ctx_t *ctx,
    time_t now, ngx_uint_t n);


/* an entry's key: the SHA-256 of a proof's jti */
static const ngx_http_llmgw_zone_key_t  ngx_http_llmgw_replay_zone_key = {
    offsetof(ngx_http_llmgw_replay_node_t, key),
    NGX_HTTP_LLMGW_SHA256_LEN,
    0,
    0
};


char *
ngx_http_llmgw_replay_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t                    *value;
    ngx_shm_zone_t              **slot;
    ngx_http_llmgw_replay_ctx_t  *ctx;

    slot = (ngx_shm_zone_t **) (p + cmd->offset);

    if (*slot != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_replay_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = ngx_http_llmgw_zone_add(cf, &value[1], &ngx_http_llmgw_replay_tag,
                                    ngx_http_llmgw_replay_init_zone, ctx);

    return (*slot != NULL) ? NGX_CONF_OK : NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_llmgw_replay_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llmgw_replay_ctx_t  *ctx;

    ctx = shm_zone->data;

    /*
     * a reload: the proofs seen stay seen; a full zone is answered (and
     * logged) by the caller
     */

    ctx->sh = ngx_http_llmgw_zone_init_tree(shm_zone, data,
                                          sizeof(ngx_http_llmgw_zone_sh_t),
                                          ngx_http_llmgw_replay_insert_value,
                                          "llmgw DPoP zone");
    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    return (ctx->sh != NULL) ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_llmgw_replay_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_http_llmgw_zone_insert(temp, node, sentinel,
                               &ngx_http_llmgw_replay_zone_key);
}


ngx_int_t
ngx_http_llmgw_replay_check(ngx_shm_zone_t *zone, u_char *key,
    time_t expires, time_t now)
{
    ngx_http_llmgw_replay_ctx_t   *ctx;
    ngx_http_llmgw_replay_node_t  *rn;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_llmgw_replay_expire(ctx, now, NGX_HTTP_LLMGW_REPLAY_EXPIRE_N);

    rn = (ngx_http_llmgw_replay_node_t *) ngx_http_llmgw_zone_find_sha256(
             &ctx->sh->rbtree, &ngx_http_llmgw_replay_zone_key, key);

    if (rn != NULL && rn->expires >= now) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return NGX_DECLINED;
    }

    if (rn != NULL) {
        /* expired but not reached by the expiry yet: renewed in place */
        ngx_queue_remove(&rn->queue);

    } else {
        rn = ngx_slab_alloc_locked(ctx->shpool,
                                   sizeof(ngx_http_llmgw_replay_node_t));

        if (rn == NULL) {
            ngx_http_llmgw_replay_expire(ctx, now,
                                         NGX_HTTP_LLMGW_REPLAY_EXPIRE_MAX);

            rn = ngx_slab_alloc_locked(ctx->shpool,
                                       sizeof(ngx_http_llmgw_replay_node_t));
        }

        if (rn == NULL) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return NGX_BUSY;
        }

        ngx_memcpy(rn->key, key, NGX_HTTP_LLMGW_SHA256_LEN);
        rn->node.key = ngx_http_llmgw_zone_sha256_hash(key);

        ngx_rbtree_insert(&ctx->sh->rbtree, &rn->node);
    }

    rn->expires = expires;
    ngx_queue_insert_head(&ctx->sh->queue, &rn->queue);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_OK;
}


/* the oldest entries first, at most n of them, while they have expired */

static void
ngx_http_llmgw_replay_expire(ngx_http_llmgw_replay_ctx_t *ctx, time_t now,
    ngx_uint_t n)
{
    ngx_queue_t                   *q;
    ngx_http_llmgw_replay_node_t  *rn;

    while (n--) {

        if (ngx_queue_empty(&ctx->sh->queue)) {
            return;
        }

        q = ngx_queue_last(&ctx->sh->queue);
        rn = ngx_queue_data(q, ngx_http_llmgw_replay_node_t, queue);

        if (rn->expires >= now) {
            return;
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&ctx->sh->rbtree, &rn->node);
        ngx_slab_free_locked(ctx->shpool, rn);
    }
}
