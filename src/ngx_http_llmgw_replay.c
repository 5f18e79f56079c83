
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
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  queue;       /* newest first */
} ngx_http_llmgw_replay_sh_t;


typedef struct {
    ngx_http_llmgw_replay_sh_t  *sh;
    ngx_slab_pool_t             *shpool;
    size_t                       size;
} ngx_http_llmgw_replay_ctx_t;


extern ngx_module_t  ngx_http_llmgw_module;


static ngx_int_t ngx_http_llmgw_replay_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_llmgw_replay_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_rbtree_key_t ngx_http_llmgw_replay_hash(u_char *key);
static ngx_http_llmgw_replay_node_t *ngx_http_llmgw_replay_find(
    ngx_http_llmgw_replay_ctx_t *ctx, u_char *key);
static void ngx_http_llmgw_replay_expire(ngx_http_llmgw_replay_ctx_t *ctx,
    time_t now, ngx_uint_t n);


char *
ngx_http_llmgw_replay_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ssize_t                       size;
    ngx_str_t                    *value, name;
    ngx_shm_zone_t               *shm_zone, **slot;
    ngx_http_llmgw_replay_ctx_t  *ctx;

    slot = (ngx_shm_zone_t **) (p + cmd->offset);

    if (*slot != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_llmgw_zone_parse(cf, &value[1], &name, &size,
                                  NGX_HTTP_LLMGW_ZONE_MIN_SIZE)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_replay_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_llmgw_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used by another "
                           "llmgw directive", &name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_llmgw_replay_init_zone;
    shm_zone->data = ctx;

    *slot = shm_zone;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llmgw_replay_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llmgw_replay_ctx_t  *octx = data;

    ngx_http_llmgw_replay_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {

        /* a reload: the proofs seen stay seen */

        if (ngx_http_llmgw_zone_same_size(shm_zone, octx->size,
                                          "llmgw DPoP zone")
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        ctx->size = octx->size;

        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    ctx->size = shm_zone->shm.size;

    ctx->sh = ngx_http_llmgw_zone_state(shm_zone);

    if (ctx->sh != NULL) {
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool, sizeof(ngx_http_llmgw_replay_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_llmgw_replay_insert_value);

    ngx_queue_init(&ctx->sh->queue);

    if (ngx_http_llmgw_zone_publish(shm_zone, ctx->sh, "llmgw DPoP zone")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a full zone is answered (and logged) by the caller */
    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_http_llmgw_replay_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t             **p;
    ngx_http_llmgw_replay_node_t   *rn, *rnt;

    for ( ;; ) {

        if (node->key < temp->key) {

            p = &temp->left;

        } else if (node->key > temp->key) {

            p = &temp->right;

        } else { /* node->key == temp->key */

            rn = (ngx_http_llmgw_replay_node_t *) node;
            rnt = (ngx_http_llmgw_replay_node_t *) temp;

            p = (ngx_memcmp(rn->key, rnt->key, NGX_HTTP_LLMGW_SHA256_LEN) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_rbtree_key_t
ngx_http_llmgw_replay_hash(u_char *key)
{
    ngx_rbtree_key_t  k;

    /* the key is a SHA-256 already: its first bytes are uniform */
    ngx_memcpy(&k, key, sizeof(ngx_rbtree_key_t));

    return k;
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

    rn = ngx_http_llmgw_replay_find(ctx, key);

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
        rn->node.key = ngx_http_llmgw_replay_hash(key);

        ngx_rbtree_insert(&ctx->sh->rbtree, &rn->node);
    }

    rn->expires = expires;
    ngx_queue_insert_head(&ctx->sh->queue, &rn->queue);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_OK;
}


static ngx_http_llmgw_replay_node_t *
ngx_http_llmgw_replay_find(ngx_http_llmgw_replay_ctx_t *ctx, u_char *key)
{
    ngx_int_t                      rc;
    ngx_rbtree_key_t               hash;
    ngx_rbtree_node_t             *node, *sentinel;
    ngx_http_llmgw_replay_node_t  *rn;

    hash = ngx_http_llmgw_replay_hash(key);

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        rn = (ngx_http_llmgw_replay_node_t *) node;

        rc = ngx_memcmp(key, rn->key, NGX_HTTP_LLMGW_SHA256_LEN);

        if (rc == 0) {
            return rn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
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
