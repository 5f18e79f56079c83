
/*
 * Copyright (C) llmgw authors
 *
 * The verified-token cache: a shared-memory zone holding, per SHA-256 of a
 * token whose signature verified, what the claim and scope checks need to
 * run again without the signature.  An rbtree keyed by the first bytes of
 * the hash finds an entry, an LRU queue orders the entries for eviction; all
 * access is under the zone's mutex.
 *
 * In front of it, each worker keeps a small table of its own (the local
 * table): the same entries with the claims already parsed, bounded in
 * entries and in claims bytes, LRU, in the worker's memory.  A hit there
 * takes neither the zone's mutex nor the JSON parser.  The zone stays the
 * source of truth between workers; a local entry never outlives its
 * expires.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_cache.h"
#include "ngx_http_llmgw_zone.h"


/* typ values are short ("JWT", "at+jwt", "application/at+jwt") */
#define NGX_HTTP_LLMGW_CACHE_MAX_TYP     255

/* entries examined for expiry before each allocation */
#define NGX_HTTP_LLMGW_CACHE_EXPIRE_N    3

/* least recently used entries evicted at most to make room for one entry */
#define NGX_HTTP_LLMGW_CACHE_EVICT_MAX   64

/* the local table's buckets: a power of two */
#define NGX_HTTP_LLMGW_CACHE_LOCAL_BUCKETS  1024


typedef struct {
    ngx_rbtree_node_t            node;
    ngx_queue_t                  queue;
    time_t                       expires;
    u_char                       key[NGX_HTTP_LLMGW_SHA256_LEN];
    u_char                       key_fp[NGX_HTTP_LLMGW_SHA256_LEN];
    size_t                       payload_len;
    u_char                       alg;
    u_char                       typ_len;
    u_char                       data[1];     /* typ, then payload */
} ngx_http_llmgw_cache_node_t;


typedef struct ngx_http_llmgw_cache_local_node_s
    ngx_http_llmgw_cache_local_node_t;

struct ngx_http_llmgw_cache_local_node_s {
    ngx_http_llmgw_cache_local_node_t  *next;     /* in its bucket */
    ngx_queue_t                         queue;    /* LRU, or the free list */
    time_t                              expires;
    json_t                             *claims;   /* a reference held */
    size_t                              size;     /* claims text bytes */
    u_char                              key[NGX_HTTP_LLMGW_SHA256_LEN];
    u_char                              key_fp[NGX_HTTP_LLMGW_SHA256_LEN];
    u_char                              alg;
    u_char                              typ_len;
    u_char                              typ[NGX_HTTP_LLMGW_CACHE_MAX_TYP];
};


/* a worker's own table, allocated on its first store */

typedef struct {
    ngx_http_llmgw_cache_local_node_t  **buckets;
    ngx_http_llmgw_cache_local_node_t   *nodes;
    ngx_queue_t                          lru;     /* most recent first */
    ngx_queue_t                          free;
    size_t                               bytes;   /* sum of the sizes */
    ngx_uint_t                           max;     /* entries */
    size_t                               max_bytes;
    ngx_log_t                           *log;
} ngx_http_llmgw_cache_local_t;


typedef struct {
    ngx_http_llmgw_zone_sh_t      *sh;        /* queue: most recent first */
    ngx_slab_pool_t               *shpool;
    ngx_http_llmgw_cache_local_t   local;
} ngx_http_llmgw_cache_ctx_t;


/*
 * The zones of each kind have a tag of their own: on a reload nginx hands
 * a zone of the same name and size over to its new owner only under the
 * same tag, so one kind never inherits another kind's layout.
 */
static ngx_uint_t  ngx_http_llmgw_cache_tag;


static ngx_int_t ngx_http_llmgw_cache_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_llmgw_cache_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_llmgw_cache_delete(ngx_http_llmgw_cache_ctx_t *ctx,
    ngx_http_llmgw_cache_node_t *cn);
static void ngx_http_llmgw_cache_expire(ngx_http_llmgw_cache_ctx_t *ctx,
    time_t now);
static ngx_int_t ngx_http_llmgw_cache_local_init(
    ngx_http_llmgw_cache_local_t *lc);
static ngx_http_llmgw_cache_local_node_t **ngx_http_llmgw_cache_local_bucket(
    ngx_http_llmgw_cache_local_t *lc, u_char *key);
static ngx_http_llmgw_cache_local_node_t **ngx_http_llmgw_cache_local_find(
    ngx_http_llmgw_cache_local_t *lc, u_char *key);
static void ngx_http_llmgw_cache_local_delete(
    ngx_http_llmgw_cache_local_t *lc,
    ngx_http_llmgw_cache_local_node_t **np);
static void ngx_http_llmgw_cache_local_cleanup(void *data);
static void ngx_http_llmgw_cache_json_cleanup(void *data);


/* an entry's key: the token's SHA-256 */
static const ngx_http_llmgw_zone_key_t  ngx_http_llmgw_cache_zone_key = {
    offsetof(ngx_http_llmgw_cache_node_t, key),
    NGX_HTTP_LLMGW_SHA256_LEN,
    0,
    0
};


char *
ngx_http_llmgw_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t                   *value;
    ngx_shm_zone_t             **slot;
    ngx_pool_cleanup_t          *cln;
    ngx_http_llmgw_cache_ctx_t  *ctx;

    slot = (ngx_shm_zone_t **) (p + cmd->offset);

    if (*slot != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_cache_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = ngx_http_llmgw_zone_add(cf, &value[1], &ngx_http_llmgw_cache_tag,
                                    ngx_http_llmgw_cache_init_zone, ctx);
    if (*slot == NULL) {
        return NGX_CONF_ERROR;
    }

    /*
     * The local table lives as long as the cycle: each worker fills its
     * own copy, and frees it when the cycle's pool goes at its exit
     */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_llmgw_cache_local_cleanup;
    cln->data = &ctx->local;

    ctx->local.max = NGX_HTTP_LLMGW_CACHE_LOCAL_N;
    ctx->local.max_bytes = NGX_HTTP_LLMGW_CACHE_LOCAL_BYTES;

    /*
     * not cf->log: on a reload that is the old cycle's log, which the
     * master frees once the new cycle is made, before it forks the
     * workers that use this table
     */
    ctx->local.log = &cf->cycle->new_log;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llmgw_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llmgw_cache_ctx_t  *ctx;

    ctx = shm_zone->data;

    /* a reload keeps the entries as they are; a full zone evicts quietly */

    ctx->sh = ngx_http_llmgw_zone_init_tree(shm_zone, data,
                                       sizeof(ngx_http_llmgw_zone_sh_t),
                                       ngx_http_llmgw_cache_rbtree_insert_value,
                                       "llmgw token cache zone");
    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    return (ctx->sh != NULL) ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_llmgw_cache_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_http_llmgw_zone_insert(temp, node, sentinel,
                               &ngx_http_llmgw_cache_zone_key);
}


static void
ngx_http_llmgw_cache_delete(ngx_http_llmgw_cache_ctx_t *ctx,
    ngx_http_llmgw_cache_node_t *cn)
{
    ngx_queue_remove(&cn->queue);
    ngx_rbtree_delete(&ctx->sh->rbtree, &cn->node);
    ngx_slab_free_locked(ctx->shpool, cn);
}


static void
ngx_http_llmgw_cache_expire(ngx_http_llmgw_cache_ctx_t *ctx, time_t now)
{
    ngx_uint_t                    n;
    ngx_queue_t                  *q, *prev;
    ngx_http_llmgw_cache_node_t  *cn;

    /*
     * The queue is in order of use, not of expiry: look at a few of the
     * least recently used entries and drop those that have expired.
     */

    q = ngx_queue_last(&ctx->sh->queue);

    for (n = 0; n < NGX_HTTP_LLMGW_CACHE_EXPIRE_N; n++) {

        if (q == ngx_queue_sentinel(&ctx->sh->queue)) {
            break;
        }

        prev = ngx_queue_prev(q);

        cn = ngx_queue_data(q, ngx_http_llmgw_cache_node_t, queue);

        if (cn->expires <= now) {
            ngx_http_llmgw_cache_delete(ctx, cn);
        }

        q = prev;
    }
}


ngx_int_t
ngx_http_llmgw_cache_lookup(ngx_shm_zone_t *zone, u_char *key, time_t now,
    ngx_pool_t *pool, ngx_http_llmgw_cache_entry_t *entry)
{
    u_char                       *p;
    ngx_http_llmgw_cache_ctx_t   *ctx;
    ngx_http_llmgw_cache_node_t  *cn;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    cn = (ngx_http_llmgw_cache_node_t *) ngx_http_llmgw_zone_find_sha256(
             &ctx->sh->rbtree, &ngx_http_llmgw_cache_zone_key, key);

    if (cn == NULL) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return NGX_DECLINED;
    }

    if (cn->expires <= now) {
        ngx_http_llmgw_cache_delete(ctx, cn);
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return NGX_DECLINED;
    }

    ngx_queue_remove(&cn->queue);
    ngx_queue_insert_head(&ctx->sh->queue, &cn->queue);

    p = ngx_pnalloc(pool, cn->typ_len + cn->payload_len + 1);
    if (p == NULL) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return NGX_ERROR;
    }

    entry->expires = cn->expires;
    ngx_memcpy(entry->key_fp, cn->key_fp, NGX_HTTP_LLMGW_SHA256_LEN);
    entry->alg = cn->alg;

    /* the node holds typ and payload back to back, as the copy does */

    entry->typ.len = cn->typ_len;
    entry->typ.data = p;

    entry->payload.len = cn->payload_len;
    entry->payload.data = p + cn->typ_len;

    p = ngx_cpymem(p, cn->data, cn->typ_len + cn->payload_len);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    /* the claims text is handed to a JSON parser: keep it terminated */
    *p = '\0';

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_cache_store(ngx_shm_zone_t *zone, u_char *key,
    ngx_http_llmgw_cache_entry_t *entry, time_t now)
{
    size_t                        size;
    ngx_uint_t                    n;
    ngx_queue_t                  *q;
    ngx_http_llmgw_cache_ctx_t   *ctx;
    ngx_http_llmgw_cache_node_t  *cn;

    if (entry->payload.len > NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD
        || entry->typ.len > NGX_HTTP_LLMGW_CACHE_MAX_TYP
        || entry->expires <= now)
    {
        return NGX_DECLINED;
    }

    ctx = zone->data;

    size = offsetof(ngx_http_llmgw_cache_node_t, data)
           + entry->typ.len + entry->payload.len;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    cn = (ngx_http_llmgw_cache_node_t *) ngx_http_llmgw_zone_find_sha256(
             &ctx->sh->rbtree, &ngx_http_llmgw_cache_zone_key, key);

    if (cn != NULL) {
        ngx_http_llmgw_cache_delete(ctx, cn);
    }

    ngx_http_llmgw_cache_expire(ctx, now);

    cn = ngx_slab_alloc_locked(ctx->shpool, size);

    for (n = 0; cn == NULL && n < NGX_HTTP_LLMGW_CACHE_EVICT_MAX; n++) {

        if (ngx_queue_empty(&ctx->sh->queue)) {
            break;
        }

        /* the zone is full: evict the least recently used entry */

        q = ngx_queue_last(&ctx->sh->queue);

        ngx_http_llmgw_cache_delete(ctx,
                        ngx_queue_data(q, ngx_http_llmgw_cache_node_t, queue));

        cn = ngx_slab_alloc_locked(ctx->shpool, size);
    }

    if (cn == NULL) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "llmgw token cache: no room for %uz bytes", size);

        return NGX_DECLINED;
    }

    cn->node.key = ngx_http_llmgw_zone_sha256_hash(key);

    cn->expires = entry->expires;
    ngx_memcpy(cn->key, key, NGX_HTTP_LLMGW_SHA256_LEN);
    ngx_memcpy(cn->key_fp, entry->key_fp, NGX_HTTP_LLMGW_SHA256_LEN);
    cn->alg = (u_char) entry->alg;

    cn->typ_len = (u_char) entry->typ.len;
    cn->payload_len = entry->payload.len;

    if (entry->typ.len) {
        ngx_memcpy(cn->data, entry->typ.data, entry->typ.len);
    }

    if (entry->payload.len) {
        ngx_memcpy(cn->data + entry->typ.len, entry->payload.data,
                   entry->payload.len);
    }

    ngx_rbtree_insert(&ctx->sh->rbtree, &cn->node);
    ngx_queue_insert_head(&ctx->sh->queue, &cn->queue);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_cache_local_lookup(ngx_shm_zone_t *zone, u_char *key,
    time_t now, ngx_pool_t *pool, ngx_http_llmgw_cache_entry_t *entry)
{
    u_char                              *typ;
    ngx_pool_cleanup_t                  *cln;
    ngx_http_llmgw_cache_ctx_t          *ctx;
    ngx_http_llmgw_cache_local_t        *lc;
    ngx_http_llmgw_cache_local_node_t  **np, *node;

    ctx = zone->data;
    lc = &ctx->local;

    if (lc->nodes == NULL) {
        return NGX_DECLINED;
    }

    np = ngx_http_llmgw_cache_local_find(lc, key);

    if (*np == NULL) {
        return NGX_DECLINED;
    }

    node = *np;

    if (node->expires <= now) {
        ngx_http_llmgw_cache_local_delete(lc, np);
        return NGX_DECLINED;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    typ = NULL;

    if (node->typ_len) {
        typ = ngx_pnalloc(pool, node->typ_len);
        if (typ == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(typ, node->typ, node->typ_len);
    }

    /* the request's reference: the entry may go before the request does */

    cln->handler = ngx_http_llmgw_cache_json_cleanup;
    cln->data = json_incref(node->claims);

    ngx_queue_remove(&node->queue);
    ngx_queue_insert_head(&lc->lru, &node->queue);

    entry->expires = node->expires;
    ngx_memcpy(entry->key_fp, node->key_fp, NGX_HTTP_LLMGW_SHA256_LEN);
    entry->alg = node->alg;
    entry->typ.len = node->typ_len;
    entry->typ.data = typ;
    ngx_str_null(&entry->payload);
    entry->claims = node->claims;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_cache_local_store(ngx_shm_zone_t *zone, u_char *key,
    ngx_http_llmgw_cache_entry_t *entry, time_t now)
{
    ngx_queue_t                         *q;
    ngx_http_llmgw_cache_ctx_t          *ctx;
    ngx_http_llmgw_cache_local_t        *lc;
    ngx_http_llmgw_cache_local_node_t  **np, *node;

    if (!json_is_object(entry->claims)
        || entry->payload.len > NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD
        || entry->typ.len > NGX_HTTP_LLMGW_CACHE_MAX_TYP
        || entry->expires <= now)
    {
        return NGX_DECLINED;
    }

    ctx = zone->data;
    lc = &ctx->local;

    if (lc->nodes == NULL && ngx_http_llmgw_cache_local_init(lc) != NGX_OK) {
        return NGX_DECLINED;
    }

    np = ngx_http_llmgw_cache_local_find(lc, key);

    if (*np != NULL) {
        ngx_http_llmgw_cache_local_delete(lc, np);
    }

    /*
     * the least recently used make room, until both bounds are kept; an
     * expired entry left in the table is never returned, and goes when
     * looked up or when it is the least recently used
     */

    while (!ngx_queue_empty(&lc->lru)
           && (ngx_queue_empty(&lc->free)
               || lc->bytes + entry->payload.len > lc->max_bytes))
    {
        q = ngx_queue_last(&lc->lru);
        node = ngx_queue_data(q, ngx_http_llmgw_cache_local_node_t, queue);

        np = ngx_http_llmgw_cache_local_find(lc, node->key);
        ngx_http_llmgw_cache_local_delete(lc, np);
    }

    if (ngx_queue_empty(&lc->free)
        || lc->bytes + entry->payload.len > lc->max_bytes)
    {
        return NGX_DECLINED;
    }

    q = ngx_queue_head(&lc->free);
    ngx_queue_remove(q);

    node = ngx_queue_data(q, ngx_http_llmgw_cache_local_node_t, queue);

    node->expires = entry->expires;
    node->claims = json_incref(entry->claims);
    node->size = entry->payload.len;
    ngx_memcpy(node->key, key, NGX_HTTP_LLMGW_SHA256_LEN);
    ngx_memcpy(node->key_fp, entry->key_fp, NGX_HTTP_LLMGW_SHA256_LEN);
    node->alg = (u_char) entry->alg;
    node->typ_len = (u_char) entry->typ.len;

    if (entry->typ.len) {
        ngx_memcpy(node->typ, entry->typ.data, entry->typ.len);
    }

    np = ngx_http_llmgw_cache_local_bucket(lc, key);

    node->next = *np;
    *np = node;

    ngx_queue_insert_head(&lc->lru, &node->queue);
    lc->bytes += node->size;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_cache_local_init(ngx_http_llmgw_cache_local_t *lc)
{
    ngx_uint_t  i;

    lc->buckets = ngx_calloc(NGX_HTTP_LLMGW_CACHE_LOCAL_BUCKETS
                             * sizeof(ngx_http_llmgw_cache_local_node_t *),
                             lc->log);
    if (lc->buckets == NULL) {
        return NGX_ERROR;
    }

    lc->nodes = ngx_alloc(lc->max * sizeof(ngx_http_llmgw_cache_local_node_t),
                          lc->log);
    if (lc->nodes == NULL) {
        ngx_free(lc->buckets);
        lc->buckets = NULL;
        return NGX_ERROR;
    }

    ngx_queue_init(&lc->lru);
    ngx_queue_init(&lc->free);

    for (i = 0; i < lc->max; i++) {
        ngx_queue_insert_tail(&lc->free, &lc->nodes[i].queue);
    }

    lc->bytes = 0;

    return NGX_OK;
}


static ngx_http_llmgw_cache_local_node_t **
ngx_http_llmgw_cache_local_bucket(ngx_http_llmgw_cache_local_t *lc,
    u_char *key)
{
    return &lc->buckets[ngx_http_llmgw_zone_sha256_hash(key)
                        & (NGX_HTTP_LLMGW_CACHE_LOCAL_BUCKETS - 1)];
}


/* where key's node is linked from, or the NULL link at its bucket's end */

static ngx_http_llmgw_cache_local_node_t **
ngx_http_llmgw_cache_local_find(ngx_http_llmgw_cache_local_t *lc,
    u_char *key)
{
    ngx_http_llmgw_cache_local_node_t  **np;

    np = ngx_http_llmgw_cache_local_bucket(lc, key);

    while (*np != NULL
           && ngx_memcmp((*np)->key, key, NGX_HTTP_LLMGW_SHA256_LEN) != 0)
    {
        np = &(*np)->next;
    }

    return np;
}


static void
ngx_http_llmgw_cache_local_delete(ngx_http_llmgw_cache_local_t *lc,
    ngx_http_llmgw_cache_local_node_t **np)
{
    ngx_http_llmgw_cache_local_node_t  *node;

    node = *np;
    *np = node->next;

    ngx_queue_remove(&node->queue);
    ngx_queue_insert_head(&lc->free, &node->queue);

    lc->bytes -= node->size;

    json_decref(node->claims);
    node->claims = NULL;
}


static void
ngx_http_llmgw_cache_local_cleanup(void *data)
{
    ngx_http_llmgw_cache_local_t  *lc = data;

    ngx_queue_t                        *q;
    ngx_http_llmgw_cache_local_node_t  *node;

    if (lc->nodes == NULL) {
        return;
    }

    for (q = ngx_queue_head(&lc->lru);
         q != ngx_queue_sentinel(&lc->lru);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_llmgw_cache_local_node_t, queue);
        json_decref(node->claims);
    }

    ngx_free(lc->nodes);
    ngx_free(lc->buckets);

    lc->nodes = NULL;
    lc->buckets = NULL;
}


static void
ngx_http_llmgw_cache_json_cleanup(void *data)
{
    json_t  *json = data;

    json_decref(json);
}
