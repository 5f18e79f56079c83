
/*
 * Copyright (C) llmgw authors
 *
 * The shared-memory backend of limits, shaped like nginx's limit_req: an
 * rbtree keyed by a CRC32 of "limit name\0key" finds a key's state, an
 * LRU queue orders the states for expiry; every take and release runs
 * under the zone's mutex, so the count is exact across workers.  A state
 * that no longer says anything (a TAT in the past, a window that ended,
 * nothing in flight) is expired before anything is allocated; when the
 * slab is full all the same, the least recently used state goes (never
 * one with requests in flight), said at most once a second.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_limit.h"
#include "ngx_http_llmgw_limit_shm.h"
#include "ngx_http_llmgw_zone.h"


#define NGX_HTTP_LLMGW_LIMIT_SHM_WHAT  "llmgw_limit_zone"


typedef struct {
    ngx_rbtree_node_t                node;
    ngx_queue_t                      queue;
    int64_t                          expires;  /* ms; 0: requests in flight */
    int64_t                          value;    /* TAT, or in flight */
    int64_t                          rate;     /* the TAT's unit: 1/rate ms */
    ngx_http_llmgw_limit_window_t    window;   /* a quota's */
    u_short                          len;
    u_char                           kind;     /* of the limit it counts */
    u_char                           data[1];  /* name, '\0', key */
} ngx_http_llmgw_limit_shm_node_t;


typedef struct {
    ngx_http_llmgw_zone_sh_t         tree;     /* queue: most recent first */
    time_t                           full_logged;
} ngx_http_llmgw_limit_shm_sh_t;


typedef struct {
    ngx_http_llmgw_limit_shm_sh_t   *sh;
    ngx_slab_pool_t                 *shpool;
} ngx_http_llmgw_limit_shm_ctx_t;


static ngx_int_t ngx_http_llmgw_limit_shm_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_llmgw_limit_shm_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_int_t ngx_http_llmgw_limit_shm_take(ngx_http_request_t *r,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v);
static void ngx_http_llmgw_limit_shm_release(ngx_log_t *log,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v);
static void ngx_http_llmgw_limit_shm_adjust(ngx_log_t *log,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v, int64_t delta);
static uint32_t ngx_http_llmgw_limit_shm_hash(ngx_http_llmgw_limit_t *limit,
    ngx_str_t *key);
static ngx_http_llmgw_limit_shm_node_t *ngx_http_llmgw_limit_shm_lookup(
    ngx_http_llmgw_limit_shm_ctx_t *ctx, ngx_http_llmgw_limit_t *limit,
    ngx_str_t *key, uint32_t hash);
static ngx_http_llmgw_limit_shm_node_t *ngx_http_llmgw_limit_shm_alloc(
    ngx_http_llmgw_limit_shm_ctx_t *ctx, ngx_log_t *log,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, uint32_t hash,
    int64_t now);
static void ngx_http_llmgw_limit_shm_expire(
    ngx_http_llmgw_limit_shm_ctx_t *ctx, int64_t now, ngx_uint_t force);
static ngx_uint_t ngx_http_llmgw_limit_shm_adapt(
    ngx_http_llmgw_limit_t *limit, ngx_http_llmgw_limit_shm_node_t *ln);
static void ngx_http_llmgw_limit_shm_expires(
    ngx_http_llmgw_limit_t *limit, ngx_http_llmgw_limit_shm_node_t *ln,
    int64_t now);


ngx_http_llmgw_limit_backend_t  ngx_http_llmgw_limit_shm_backend = {
    "shared memory",
    ngx_http_llmgw_limit_shm_take,
    ngx_http_llmgw_limit_shm_release,
    ngx_http_llmgw_limit_shm_adjust
};


/* a state's key: "limit name\0key" */
static const ngx_http_llmgw_zone_key_t  ngx_http_llmgw_limit_shm_zone_key = {
    offsetof(ngx_http_llmgw_limit_shm_node_t, data),
    offsetof(ngx_http_llmgw_limit_shm_node_t, len),
    sizeof(u_short),
    0
};


/* the zones' tag: no other llmgw zone of the same name can be mistaken */
static ngx_uint_t  ngx_http_llmgw_limit_shm_tag;


ngx_shm_zone_t *
ngx_http_llmgw_limit_shm_zone(ngx_conf_t *cf, ngx_str_t *value)
{
    ngx_http_llmgw_limit_shm_ctx_t  *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_limit_shm_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    return ngx_http_llmgw_zone_add(cf, value, &ngx_http_llmgw_limit_shm_tag,
                                   ngx_http_llmgw_limit_shm_init_zone, ctx);
}


ngx_shm_zone_t *
ngx_http_llmgw_limit_shm_ref(ngx_conf_t *cf, ngx_str_t *name)
{
    return ngx_shared_memory_add(cf, name, 0, &ngx_http_llmgw_limit_shm_tag);
}


ngx_uint_t
ngx_http_llmgw_limit_shm_declared(ngx_shm_zone_t *shm_zone)
{
    return shm_zone->data != NULL;
}


/*
 * A refusal kept for another backend (Redis) until its retry time: a
 * state of no limit kind (0) whose value is the end of the refusal and
 * whose window the verdict's; it expires like any other.  The limit
 * given names it apart from the limit's own states ("!name").
 */

void
ngx_http_llmgw_limit_shm_remember(ngx_log_t *log,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v)
{
    uint32_t                          hash;
    ngx_shm_zone_t                   *shm_zone;
    ngx_http_llmgw_limit_shm_ctx_t   *ctx;
    ngx_http_llmgw_limit_shm_node_t  *ln;

    if (key->len > NGX_HTTP_LLMGW_LIMIT_SHM_KEY_MAX || v->retry <= 0) {
        return;
    }

    shm_zone = limit->data;
    ctx = shm_zone->data;

    hash = ngx_http_llmgw_limit_shm_hash(limit, key);

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_llmgw_limit_shm_expire(ctx, now, 0);

    ln = ngx_http_llmgw_limit_shm_lookup(ctx, limit, key, hash);

    if (ln == NULL) {
        ln = ngx_http_llmgw_limit_shm_alloc(ctx, log, limit, key, hash, now);
        if (ln == NULL) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return;
        }

    } else {
        ngx_queue_remove(&ln->queue);
    }

    ln->kind = 0;
    ln->value = now + v->retry;
    ln->window.start = v->window;
    ln->window.end = now + ngx_max(v->reset, v->retry);
    ln->expires = ln->value;

    ngx_queue_insert_head(&ctx->sh->tree.queue, &ln->queue);

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/* a refusal remembered and not over at now: 1 with *v said again */

ngx_uint_t
ngx_http_llmgw_limit_shm_recall(ngx_http_llmgw_limit_t *limit,
    ngx_str_t *key, int64_t now, ngx_http_llmgw_limit_verdict_t *v)
{
    uint32_t                          hash;
    ngx_uint_t                        found;
    ngx_shm_zone_t                   *shm_zone;
    ngx_http_llmgw_limit_shm_ctx_t   *ctx;
    ngx_http_llmgw_limit_shm_node_t  *ln;

    if (key->len > NGX_HTTP_LLMGW_LIMIT_SHM_KEY_MAX) {
        return 0;
    }

    shm_zone = limit->data;
    ctx = shm_zone->data;

    hash = ngx_http_llmgw_limit_shm_hash(limit, key);
    found = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ln = ngx_http_llmgw_limit_shm_lookup(ctx, limit, key, hash);

    if (ln != NULL && ln->kind == 0 && ln->value > now) {
        v->allowed = 0;
        v->remaining = 0;
        v->retry = ln->value - now;
        v->reset = ln->window.end - now;
        v->window = ln->window.start;
        found = 1;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return found;
}


/*
 * like the token cache's: a reload keeps the states as they are; a full
 * slab is answered by expiry here, said at a bounded rate
 */

static ngx_int_t
ngx_http_llmgw_limit_shm_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llmgw_limit_shm_ctx_t  *ctx;

    ctx = shm_zone->data;

    ctx->sh = (ngx_http_llmgw_limit_shm_sh_t *)
                  ngx_http_llmgw_zone_init_tree(shm_zone, data,
                                     sizeof(ngx_http_llmgw_limit_shm_sh_t),
                                     ngx_http_llmgw_limit_shm_insert_value,
                                     NGX_HTTP_LLMGW_LIMIT_SHM_WHAT);
    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    return (ctx->sh != NULL) ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_llmgw_limit_shm_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_http_llmgw_zone_insert(temp, node, sentinel,
                               &ngx_http_llmgw_limit_shm_zone_key);
}


/*
 * NGX_OK with *v; NGX_BUSY when no state can be kept for the key (the
 * slab is full of requests in flight); NGX_DECLINED when the key is too
 * long to keep.  The shared-memory backend never waits.
 */

static ngx_int_t
ngx_http_llmgw_limit_shm_take(ngx_http_request_t *r,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v)
{
    uint32_t                          hash;
    ngx_shm_zone_t                   *shm_zone;
    ngx_http_llmgw_limit_shm_ctx_t   *ctx;
    ngx_http_llmgw_limit_shm_node_t  *ln;

    if (key->len > NGX_HTTP_LLMGW_LIMIT_SHM_KEY_MAX) {
        return NGX_DECLINED;
    }

    shm_zone = limit->data;
    ctx = shm_zone->data;

    hash = ngx_http_llmgw_limit_shm_hash(limit, key);

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_llmgw_limit_shm_expire(ctx, now, 0);

    ln = ngx_http_llmgw_limit_shm_lookup(ctx, limit, key, hash);

    if (ln == NULL) {
        ln = ngx_http_llmgw_limit_shm_alloc(ctx, r->connection->log, limit,
                                            key, hash, now);
        if (ln == NULL) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return NGX_BUSY;
        }

    } else {
        ngx_queue_remove(&ln->queue);
    }

    (void) ngx_http_llmgw_limit_shm_adapt(limit, ln);

    switch (limit->kind) {

    case NGX_HTTP_LLMGW_LIMIT_RATE:
        ngx_http_llmgw_limit_gcra_take(limit, &ln->value, now, v);
        break;

    case NGX_HTTP_LLMGW_LIMIT_QUOTA:
    case NGX_HTTP_LLMGW_LIMIT_TOKENS:
    case NGX_HTTP_LLMGW_LIMIT_COST:
        ngx_http_llmgw_limit_quota_take(limit, &ln->window, now, v);
        break;

    default: /* NGX_HTTP_LLMGW_LIMIT_CONCURRENT */
        ngx_http_llmgw_limit_concurrent_take(limit, &ln->value, v);
        break;
    }

    ngx_http_llmgw_limit_shm_expires(limit, ln, now);

    ngx_queue_insert_head(&ctx->sh->tree.queue, &ln->queue);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_OK;
}


/* a state gone meanwhile (expired, evicted) owes nothing */

static void
ngx_http_llmgw_limit_shm_release(ngx_log_t *log,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v)
{
    uint32_t                          hash;
    ngx_shm_zone_t                   *shm_zone;
    ngx_http_llmgw_limit_shm_ctx_t   *ctx;
    ngx_http_llmgw_limit_shm_node_t  *ln;

    shm_zone = limit->data;
    ctx = shm_zone->data;

    hash = ngx_http_llmgw_limit_shm_hash(limit, key);

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ln = ngx_http_llmgw_limit_shm_lookup(ctx, limit, key, hash);

    /* a state a reload made anew owes nothing to a take before it */

    if (ln != NULL && ngx_http_llmgw_limit_shm_adapt(limit, ln)) {

        switch (limit->kind) {

        case NGX_HTTP_LLMGW_LIMIT_RATE:
            ngx_http_llmgw_limit_gcra_release(limit, &ln->value);
            break;

        case NGX_HTTP_LLMGW_LIMIT_QUOTA:
        case NGX_HTTP_LLMGW_LIMIT_TOKENS:
        case NGX_HTTP_LLMGW_LIMIT_COST:
            ngx_http_llmgw_limit_quota_release(&ln->window, v);
            break;

        default: /* NGX_HTTP_LLMGW_LIMIT_CONCURRENT */
            if (ln->value > 0) {
                ln->value--;
            }

            break;
        }

        ngx_http_llmgw_limit_shm_expires(limit, ln, now);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "llmgw limit \"%V\" released%s", &limit->name,
                   ln ? "" : ": no state");
}


/*
 * A budget's true-up: the count of the take's window moved by delta; a
 * window that ended, a state gone or made anew by a reload owe nothing,
 * and nothing is allocated for them.
 */

static void
ngx_http_llmgw_limit_shm_adjust(ngx_log_t *log, ngx_http_llmgw_limit_t *limit,
    ngx_str_t *key, int64_t now, ngx_http_llmgw_limit_verdict_t *v,
    int64_t delta)
{
    uint32_t                          hash;
    ngx_shm_zone_t                   *shm_zone;
    ngx_http_llmgw_limit_shm_ctx_t   *ctx;
    ngx_http_llmgw_limit_shm_node_t  *ln;

    if (!ngx_http_llmgw_limit_windowed(limit->kind) || delta == 0) {
        return;
    }

    shm_zone = limit->data;
    ctx = shm_zone->data;

    hash = ngx_http_llmgw_limit_shm_hash(limit, key);

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ln = ngx_http_llmgw_limit_shm_lookup(ctx, limit, key, hash);

    if (ln != NULL && ngx_http_llmgw_limit_shm_adapt(limit, ln)) {
        ngx_http_llmgw_limit_quota_adjust(&ln->window, v, delta);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "llmgw limit \"%V\" adjusted by %L%s", &limit->name,
                   delta, ln ? "" : ": no state");
}


/*
 * The zone outlives a reload, the configuration does not: a state kept
 * for a limit whose kind changed starts anew, and a TAT kept in units of
 * another rate is converted (to whole ms, then to the new units), or a
 * lower rate would read it as far in the future.  Whether the state was
 * kept as it was.
 */

static ngx_uint_t
ngx_http_llmgw_limit_shm_adapt(ngx_http_llmgw_limit_t *limit,
    ngx_http_llmgw_limit_shm_node_t *ln)
{
    int64_t  ms;

    if (ln->kind != (u_char) limit->kind) {
        ln->kind = (u_char) limit->kind;
        ln->rate = limit->rate;
        ln->value = 0;
        ngx_memzero(&ln->window, sizeof(ngx_http_llmgw_limit_window_t));
        return 0;
    }

    if (limit->kind != NGX_HTTP_LLMGW_LIMIT_RATE || ln->rate == limit->rate) {
        return 1;
    }

    ms = (ln->value + ln->rate - 1) / ln->rate;

    ln->value = ms * limit->rate;
    ln->rate = limit->rate;

    return 0;
}


/* when the state says no more than a new one would */

static void
ngx_http_llmgw_limit_shm_expires(ngx_http_llmgw_limit_t *limit,
    ngx_http_llmgw_limit_shm_node_t *ln, int64_t now)
{
    switch (limit->kind) {

    case NGX_HTTP_LLMGW_LIMIT_RATE:
        ln->expires = (ln->value + limit->rate - 1) / limit->rate;
        break;

    case NGX_HTTP_LLMGW_LIMIT_QUOTA:
    case NGX_HTTP_LLMGW_LIMIT_TOKENS:
    case NGX_HTTP_LLMGW_LIMIT_COST:
        ln->expires = ln->window.end;
        break;

    default: /* NGX_HTTP_LLMGW_LIMIT_CONCURRENT */
        ln->expires = ln->value ? 0 : now;
        break;
    }
}


static uint32_t
ngx_http_llmgw_limit_shm_hash(ngx_http_llmgw_limit_t *limit, ngx_str_t *key)
{
    uint32_t  hash;

    ngx_crc32_init(hash);
    ngx_crc32_update(&hash, limit->name.data, limit->name.len + 1);
    ngx_crc32_update(&hash, key->data, key->len);
    ngx_crc32_final(hash);

    return hash;
}


/* "name\0key", its name with the '\0' there since configuration time */

static ngx_http_llmgw_limit_shm_node_t *
ngx_http_llmgw_limit_shm_lookup(ngx_http_llmgw_limit_shm_ctx_t *ctx,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, uint32_t hash)
{
    ngx_str_t  name;

    name.data = limit->name.data;
    name.len = limit->name.len + 1;

    return (ngx_http_llmgw_limit_shm_node_t *)
               ngx_http_llmgw_zone_find(&ctx->sh->tree.rbtree,
                                        &ngx_http_llmgw_limit_shm_zone_key,
                                        hash, 0, &name, key);
}


static ngx_http_llmgw_limit_shm_node_t *
ngx_http_llmgw_limit_shm_alloc(ngx_http_llmgw_limit_shm_ctx_t *ctx,
    ngx_log_t *log, ngx_http_llmgw_limit_t *limit, ngx_str_t *key,
    uint32_t hash, int64_t now)
{
    size_t                            size;
    u_char                           *p;
    ngx_http_llmgw_limit_shm_node_t  *ln;

    size = offsetof(ngx_http_llmgw_limit_shm_node_t, data)
           + limit->name.len + 1 + key->len;

    ln = ngx_slab_alloc_locked(ctx->shpool, size);

    if (ln == NULL) {
        ngx_http_llmgw_limit_shm_expire(ctx, now, 1);

        ln = ngx_slab_alloc_locked(ctx->shpool, size);

        if (ctx->sh->full_logged != ngx_time()) {
            ctx->sh->full_logged = ngx_time();

            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "llmgw_limit_zone \"%V\" is full: %s",
                          &((ngx_shm_zone_t *) limit->data)->shm.name,
                          ln ? "least recently used state evicted"
                             : "no state for a new key");
        }

        if (ln == NULL) {
            return NULL;
        }
    }

    ngx_memzero(ln, offsetof(ngx_http_llmgw_limit_shm_node_t, data));

    ln->node.key = hash;
    ln->len = (u_short) (limit->name.len + 1 + key->len);
    ln->kind = (u_char) limit->kind;
    ln->rate = limit->rate;

    p = ngx_cpymem(ln->data, limit->name.data, limit->name.len + 1);
    ngx_memcpy(p, key->data, key->len);

    ngx_rbtree_insert(&ctx->sh->tree.rbtree, &ln->node);

    return ln;
}


/*
 * From the least recently used end: up to two states that expired; with
 * force, when the slab is full, up to two that did not, but never one
 * with requests in flight (its release would find nothing to undo while
 * they run on).
 */

static void
ngx_http_llmgw_limit_shm_expire(ngx_http_llmgw_limit_shm_ctx_t *ctx,
    int64_t now, ngx_uint_t force)
{
    ngx_uint_t                        n, steps;
    ngx_queue_t                      *q, *prev;
    ngx_http_llmgw_limit_shm_node_t  *ln;

    q = ngx_queue_last(&ctx->sh->tree.queue);
    n = 0;

    /* a bounded look: states in flight are stepped over, a few of them */

    for (steps = 0; n < 2 && steps < 8; steps++) {

        if (q == ngx_queue_sentinel(&ctx->sh->tree.queue)) {
            return;
        }

        prev = ngx_queue_prev(q);
        ln = ngx_queue_data(q, ngx_http_llmgw_limit_shm_node_t, queue);

        if (ln->expires == 0) {
            q = prev;
            continue;
        }

        if (!force && ln->expires > now) {
            return;
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&ctx->sh->tree.rbtree, &ln->node);
        ngx_slab_free_locked(ctx->shpool, ln);

        n++;
        q = prev;
    }
}
