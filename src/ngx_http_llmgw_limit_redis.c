
/*
 * Copyright (C) llmgw authors
 *
 * The Redis backend of limits.  A take is one call of the llmgw library
 * (FCALL, or EVALSHA) through the worker's one Redis connection
 * (ngx_http_llmgw_redis.c): the request waits for it as STYLE.md rule 8
 * says, and is resumed with the verdict, or with the zone's down= policy
 * when the call could not be sent, failed or timed out.  Rates and
 * concurrency leases run on Redis's own clock (TIME inside the
 * function: one clock for every node); a quota's calendar window is the
 * node's (its start names the key, its end expires it), and so is the
 * time its reset is counted from (NOW passed to the function).
 *
 * Keys carry the limit's key as a hash tag, so that all of a subject's
 * keys sit in one Redis Cluster slot:
 *
 *     llmgw:{KEY}:NAME:g              rate (GCRA state)
 *     llmgw:{KEY}:NAME:q:START        quota of the window from START (ms)
 *     llmgw:{KEY}:NAME:q:START:h      its reservations (amounts)
 *     llmgw:{KEY}:NAME:c              concurrency leases
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_wait.h"
#include "ngx_http_llmgw_limit.h"
#include "ngx_http_llmgw_limit_shm.h"
#include "ngx_http_llmgw_limit_redis.h"
#include "ngx_http_llmgw_redis.h"


#define NGX_HTTP_LLMGW_LIMIT_REDIS_TIMEOUT   50
#define NGX_HTTP_LLMGW_LIMIT_REDIS_LEASE     600000
#define NGX_HTTP_LLMGW_LIMIT_REDIS_RETRY     1000    /* concurrent, ms */
#define NGX_HTTP_LLMGW_LIMIT_REDIS_MAX_NODES 1000


/*
 * Whose refusals are remembered locally until their retry time: a rate's
 * and a quota's, which refuse the key whatever comes next.  A budget
 * refuses an amount (a smaller call may fit, a settle may give some
 * back), a concurrency limit a moment: theirs are not.
 */
#define ngx_http_llmgw_limit_redis_remembers(limit)                           \
    ((limit)->kind == NGX_HTTP_LLMGW_LIMIT_RATE                               \
     || (limit)->kind == NGX_HTTP_LLMGW_LIMIT_QUOTA)


/* one limit in Redis: read-only at request time */

typedef struct {
    ngx_http_llmgw_limit_redis_zone_t  *zone;
    ngx_http_llmgw_limit_t              local;    /* limit / nodes, shm */
    ngx_http_llmgw_limit_t              refused;  /* "!NAME", shm */
    ngx_str_t                           amount;   /* LIMIT argument */
    ngx_str_t                           period;   /* a rate's, ms */
    ngx_str_t                           burst;    /* a rate's, at once */
    ngx_str_t                           lease;    /* concurrent, ms */
} ngx_http_llmgw_limit_redis_t;


/* one take of a request: v->pending, in the request's pool */

typedef struct {
    ngx_http_request_t                 *request;
    ngx_http_llmgw_limit_t             *limit;
    ngx_http_llmgw_limit_verdict_t     *v;
    ngx_str_t                          *key;      /* the limit's, in r */
    ngx_http_llmgw_redis_cmd_t         *cmd;
    ngx_str_t                           keys[2];  /* Redis's */
    ngx_str_t                           id;       /* acquire, reserve */
    int64_t                             cost;
    int64_t                             end;      /* a quota window's */
    int64_t                             now;      /* the node's, ms */
    ngx_int_t                           rc;
    unsigned                            done:1;
    unsigned                            waiting:1;
    unsigned                            local:1;  /* decided in shm */
    unsigned                            open:1;   /* let through */
    unsigned                            reserved:1;
} ngx_http_llmgw_limit_redis_op_t;


static ngx_int_t ngx_http_llmgw_limit_redis_take(ngx_http_request_t *r,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v);
static void ngx_http_llmgw_limit_redis_release(ngx_log_t *log,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v);
static void ngx_http_llmgw_limit_redis_adjust(ngx_log_t *log,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v, int64_t delta);

static ngx_int_t ngx_http_llmgw_limit_redis_keys(ngx_pool_t *pool,
    ngx_http_llmgw_limit_redis_op_t *op, int64_t now);
static ngx_int_t ngx_http_llmgw_limit_redis_send(ngx_pool_t *pool,
    ngx_http_llmgw_limit_redis_op_t *op);
static void ngx_http_llmgw_limit_redis_reply(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply);
static ngx_int_t ngx_http_llmgw_limit_redis_verdict(
    ngx_http_llmgw_limit_redis_op_t *op, redisReply *reply);
static void ngx_http_llmgw_limit_redis_down(
    ngx_http_llmgw_limit_redis_op_t *op, const char *what, int64_t now);
static void ngx_http_llmgw_limit_redis_cleanup(void *data);
static void ngx_http_llmgw_limit_redis_undo_late(
    ngx_http_llmgw_limit_redis_op_t *op);
static void ngx_http_llmgw_limit_redis_sent(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply);
static void ngx_http_llmgw_limit_redis_forget(ngx_msec_t timeout,
    const char *name, ngx_uint_t nkeys, ngx_str_t *keys, ngx_uint_t nargs,
    ngx_str_t *args);
static ngx_uint_t ngx_http_llmgw_limit_redis_log_ok(void);
static ngx_int_t ngx_http_llmgw_limit_redis_int(ngx_pool_t *pool,
    int64_t n, ngx_str_t *s);
static int64_t ngx_http_llmgw_limit_redis_now(void);
static void ngx_http_llmgw_limit_redis_divide(ngx_http_llmgw_limit_t *local,
    ngx_uint_t nodes);


ngx_http_llmgw_limit_backend_t  ngx_http_llmgw_limit_redis_backend = {
    "redis",
    ngx_http_llmgw_limit_redis_take,
    ngx_http_llmgw_limit_redis_release,
    ngx_http_llmgw_limit_redis_adjust
};


static const char  *ngx_http_llmgw_limit_redis_policies[] = {
    "open", "closed", "local"
};


/* the worker's last line about Redis failing a limit: one a second */
static time_t      ngx_http_llmgw_limit_redis_logged;

/* the worker's takes so far: with host and pid, a lease's unique id */
static uint64_t    ngx_http_llmgw_limit_redis_seq;


/* configuration */

ngx_http_llmgw_limit_redis_zone_t *
ngx_http_llmgw_limit_redis_zone(ngx_conf_t *cf, ngx_shm_zone_t *shm_zone,
    ngx_str_t *params, ngx_uint_t n)
{
    u_char                             *eq;
    ngx_int_t                           nodes;
    ngx_str_t                           name, v;
    ngx_uint_t                          i, d;
    ngx_msec_t                          ms;
    ngx_http_llmgw_limit_redis_zone_t  *zone;

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_limit_redis_zone_t));
    if (zone == NULL) {
        return NULL;
    }

    zone->shm_zone = shm_zone;
    zone->timeout = NGX_HTTP_LLMGW_LIMIT_REDIS_TIMEOUT;
    zone->lease = NGX_HTTP_LLMGW_LIMIT_REDIS_LEASE;
    zone->nodes = 1;
    zone->down = NGX_HTTP_LLMGW_LIMIT_REDIS_OPEN;

    for (i = 0; i < n; i++) {
        eq = ngx_strlchr(params[i].data, params[i].data + params[i].len, '=');

        if (eq == NULL) {
            goto invalid;
        }

        name.data = params[i].data;
        name.len = eq - name.data;
        v.data = eq + 1;
        v.len = params[i].data + params[i].len - v.data;

        if ((name.len == 7 && ngx_strncmp(name.data, "timeout", 7) == 0)
            || (name.len == 5 && ngx_strncmp(name.data, "lease", 5) == 0))
        {
            ms = ngx_parse_time(&v, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                goto invalid;
            }

            if (name.len == 7) {
                zone->timeout = ms;

            } else {
                zone->lease = ms;
            }

            continue;
        }

        if (name.len == 5 && ngx_strncmp(name.data, "nodes", 5) == 0) {
            nodes = ngx_atoi(v.data, v.len);

            if (nodes < 1 || nodes > NGX_HTTP_LLMGW_LIMIT_REDIS_MAX_NODES) {
                goto invalid;
            }

            zone->nodes = nodes;
            continue;
        }

        if (name.len == 4 && ngx_strncmp(name.data, "down", 4) == 0) {

            for (d = 0; d < 3; d++) {
                if (ngx_strlen(ngx_http_llmgw_limit_redis_policies[d])
                    == v.len
                    && ngx_strncmp(ngx_http_llmgw_limit_redis_policies[d],
                                   v.data, v.len) == 0)
                {
                    break;
                }
            }

            if (d == 3) {
                goto invalid;
            }

            zone->down = d;
            continue;
        }

        goto invalid;
    }

    return zone;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "llmgw_limit_zone \"%V\": invalid parameter \"%V\"",
                       &shm_zone->shm.name, &params[i]);

    return NULL;
}


ngx_int_t
ngx_http_llmgw_limit_redis_init(ngx_conf_t *cf,
    ngx_http_llmgw_limit_t *limit, ngx_http_llmgw_limit_redis_zone_t *zone)
{
    u_char                        *p;
    ngx_http_llmgw_limit_redis_t  *lr;

    lr = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_limit_redis_t));
    if (lr == NULL) {
        return NGX_ERROR;
    }

    lr->zone = zone;

    lr->local = *limit;
    lr->local.backend = &ngx_http_llmgw_limit_shm_backend;
    lr->local.data = zone->shm_zone;
    ngx_http_llmgw_limit_redis_divide(&lr->local, zone->nodes);

    /* "!" is no name's: the remembered refusals never meet a state */

    lr->refused = lr->local;

    p = ngx_pnalloc(cf->pool, limit->name.len + 2);
    if (p == NULL) {
        return NGX_ERROR;
    }

    lr->refused.name.data = p;
    lr->refused.name.len = limit->name.len + 1;
    *p++ = '!';
    p = ngx_cpymem(p, limit->name.data, limit->name.len);
    *p = '\0';

    if (ngx_http_llmgw_limit_redis_int(cf->pool,
            (limit->kind == NGX_HTTP_LLMGW_LIMIT_RATE) ? limit->rate
                                                       : limit->quota,
            &lr->amount) != NGX_OK
        || ngx_http_llmgw_limit_redis_int(cf->pool, limit->interval,
                                          &lr->period) != NGX_OK
        || ngx_http_llmgw_limit_redis_int(cf->pool, limit->burst + 1,
                                          &lr->burst) != NGX_OK
        || ngx_http_llmgw_limit_redis_int(cf->pool, (int64_t) zone->lease,
                                          &lr->lease) != NGX_OK)
    {
        return NGX_ERROR;
    }

    limit->backend = &ngx_http_llmgw_limit_redis_backend;
    limit->data = lr;

    return NGX_OK;
}


/*
 * What one node enforces while Redis is down: its share of the limit,
 * never less than one request.  A rate that does not divide per second
 * is divided per minute.
 */

static void
ngx_http_llmgw_limit_redis_divide(ngx_http_llmgw_limit_t *local,
    ngx_uint_t nodes)
{
    int64_t  n;

    if (nodes == 1) {
        return;
    }

    n = (int64_t) nodes;

    if (local->kind == NGX_HTTP_LLMGW_LIMIT_RATE) {

        if (local->rate % n != 0 && local->interval == 1000) {
            local->rate *= 60;
            local->interval = 60000;
        }

        local->rate = ngx_max(local->rate / n, 1);
        local->burst = ngx_max((local->burst + 1) / n - 1, 0);
        return;
    }

    local->quota = ngx_max(local->quota / n, 1);
}


/* the backend */

/*
 * The first take of a request sends the call and waits (NGX_AGAIN); the
 * take after the resume answers what the reply (or the policy) decided.
 * A key whose rate or quota Redis refused a moment ago is refused here
 * until its retry time, without a round trip.
 */

static ngx_int_t
ngx_http_llmgw_limit_redis_take(ngx_http_request_t *r,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v)
{
    ngx_pool_cleanup_t               *cln;
    ngx_http_llmgw_limit_redis_t     *lr;
    ngx_http_llmgw_limit_redis_op_t  *op;

    op = v->pending;

    if (op != NULL) {
        return op->done ? op->rc : NGX_AGAIN;
    }

    /* refused as in shared memory, which keeps the node's part of it */

    if (key->len > NGX_HTTP_LLMGW_LIMIT_SHM_KEY_MAX) {
        return NGX_DECLINED;
    }

    lr = limit->data;

    op = ngx_pcalloc(r->pool, sizeof(ngx_http_llmgw_limit_redis_op_t));
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->request = r;
    op->limit = limit;
    op->v = v;
    op->key = key;
    op->cost = (v->amount > 0) ? v->amount : 1;
    op->now = now;
    op->rc = NGX_OK;

    v->pending = op;

    if (ngx_http_llmgw_limit_redis_remembers(limit)
        && ngx_http_llmgw_limit_shm_recall(&lr->refused, key, now, v))
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llmgw limit \"%V\": refusal remembered",
                       &limit->name);
        op->done = 1;
        return NGX_OK;
    }

    /* a pending call is canceled however the request ends */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_llmgw_limit_redis_cleanup;
    cln->data = op;

    if (ngx_http_llmgw_limit_redis_keys(r->pool, op, now) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_limit_redis_send(r->pool, op) != NGX_OK) {
        ngx_http_llmgw_limit_redis_down(op, "not connected", now);
        op->done = 1;
        return op->rc;
    }

    op->waiting = 1;

    return ngx_http_llmgw_wait_start(r);
}


static ngx_int_t
ngx_http_llmgw_limit_redis_keys(ngx_pool_t *pool,
    ngx_http_llmgw_limit_redis_op_t *op, int64_t now)
{
    size_t                   len;
    u_char                  *p;
    int64_t                  start;
    ngx_str_t               *key;
    ngx_http_llmgw_limit_t  *limit;

    limit = op->limit;
    key = op->key;

    len = sizeof("llmgw:{}:") - 1 + key->len + limit->name.len
          + sizeof(":q::h") - 1 + NGX_INT64_LEN;

    p = ngx_pnalloc(pool, 2 * len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    op->keys[0].data = p;
    p = ngx_sprintf(p, "llmgw:{%V}:%V", key, &limit->name);

    switch (limit->kind) {

    case NGX_HTTP_LLMGW_LIMIT_RATE:
        p = ngx_cpymem(p, ":g", 2);
        break;

    case NGX_HTTP_LLMGW_LIMIT_CONCURRENT:
        p = ngx_cpymem(p, ":c", 2);
        break;

    default: /* a window: NGX_HTTP_LLMGW_LIMIT_QUOTA, a budget */
        ngx_http_llmgw_limit_window(limit->tz, limit->period, now, &start,
                                    &op->end);
        op->v->window = start;
        p = ngx_sprintf(p, ":q:%L", start);
        break;
    }

    op->keys[0].len = p - op->keys[0].data;

    op->keys[1].data = p;
    p = ngx_cpymem(p, op->keys[0].data, op->keys[0].len);
    p = ngx_cpymem(p, ":h", 2);
    op->keys[1].len = p - op->keys[1].data;

    /* a request's rate or quota is counted, never reserved: no id */

    if (limit->kind == NGX_HTTP_LLMGW_LIMIT_RATE
        || limit->kind == NGX_HTTP_LLMGW_LIMIT_QUOTA)
    {
        return NGX_OK;
    }

    /* a lease's or a reservation's id: unique across nodes and workers */

    len = ngx_cycle->hostname.len + 2 * NGX_INT64_LEN + 2;

    op->id.data = ngx_pnalloc(pool, len);
    if (op->id.data == NULL) {
        return NGX_ERROR;
    }

    op->id.len = ngx_sprintf(op->id.data, "%V:%P:%uL", &ngx_cycle->hostname,
                             ngx_pid, ++ngx_http_llmgw_limit_redis_seq)
                 - op->id.data;

    return NGX_OK;
}


/* the take's one call; NGX_ERROR when it could not be sent */

static ngx_int_t
ngx_http_llmgw_limit_redis_send(ngx_pool_t *pool,
    ngx_http_llmgw_limit_redis_op_t *op)
{
    ngx_str_t                      args[6];
    ngx_uint_t                     nkeys, nargs;
    const char                    *name;
    ngx_http_llmgw_limit_t        *limit;
    ngx_http_llmgw_limit_redis_t  *lr;

    limit = op->limit;
    lr = limit->data;

    nkeys = 1;
    args[0] = lr->amount;

    switch (limit->kind) {

    case NGX_HTTP_LLMGW_LIMIT_RATE:
        name = "gcra";
        args[1] = lr->period;
        args[2] = lr->burst;

        if (ngx_http_llmgw_limit_redis_int(pool, op->cost, &args[3])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        nargs = 4;
        break;

    case NGX_HTTP_LLMGW_LIMIT_CONCURRENT:
        name = "acquire";
        args[1] = lr->lease;
        args[2] = op->id;
        nargs = 3;
        break;

    default: /* a window */

        if (op->id.len) {
            /* an amount (a budget): reserved, to be settled later */
            name = "reserve";
            nkeys = 2;

            if (ngx_http_llmgw_limit_redis_int(pool, op->cost, &args[1])
                    != NGX_OK
                || ngx_http_llmgw_limit_redis_int(pool, op->end, &args[3])
                    != NGX_OK
                || ngx_http_llmgw_limit_redis_int(pool, op->now, &args[4])
                    != NGX_OK)
            {
                return NGX_ERROR;
            }

            args[2] = op->id;
            nargs = 5;
            op->reserved = 1;
            break;
        }

        name = "quota";

        if (ngx_http_llmgw_limit_redis_int(pool, op->cost, &args[1])
                != NGX_OK
            || ngx_http_llmgw_limit_redis_int(pool, op->end, &args[2])
                != NGX_OK
            || ngx_http_llmgw_limit_redis_int(pool, op->now, &args[3])
                != NGX_OK)
        {
            return NGX_ERROR;
        }

        nargs = 4;
        break;
    }

    op->cmd = ngx_http_llmgw_redis_call(lr->zone->timeout,
                                        ngx_http_llmgw_limit_redis_reply,
                                        op, name, nkeys, op->keys, nargs,
                                        args);

    return (op->cmd != NULL) ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_llmgw_limit_redis_reply(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply)
{
    ngx_http_llmgw_limit_redis_op_t *op = data;

    int64_t                        now;
    ngx_http_request_t            *r;
    ngx_http_llmgw_limit_redis_t  *lr;

    r = op->request;
    lr = op->limit->data;

    op->cmd = NULL;
    op->waiting = 0;

    now = ngx_http_llmgw_limit_redis_now();

    if (status == NGX_HTTP_LLMGW_REDIS_OK
        && ngx_http_llmgw_limit_redis_verdict(op, reply) == NGX_OK)
    {
        if (!op->v->allowed
            && ngx_http_llmgw_limit_redis_remembers(op->limit))
        {
            ngx_http_llmgw_limit_shm_remember(r->connection->log,
                                              &lr->refused, op->key, now,
                                              op->v);
        }

    } else {
        if (status != NGX_HTTP_LLMGW_REDIS_ERROR) {
            ngx_http_llmgw_limit_redis_undo_late(op);
        }

        ngx_http_llmgw_limit_redis_down(op,
            (status == NGX_HTTP_LLMGW_REDIS_TIMEOUT) ? "timed out"
            : (status == NGX_HTTP_LLMGW_REDIS_DOWN) ? "connection lost"
            : "error reply", now);
    }

    op->done = 1;

    ngx_http_llmgw_wait_resume(r);
}


/*
 * The library's answers, integers: gcra {allowed, remaining, retry,
 * reset}; quota and reserve {allowed, remaining, reset}; acquire
 * {allowed, remaining, retry}.
 */

static ngx_int_t
ngx_http_llmgw_limit_redis_verdict(ngx_http_llmgw_limit_redis_op_t *op,
    redisReply *reply)
{
    int64_t                          n[4];
    ngx_uint_t                       i, want;
    ngx_http_llmgw_limit_verdict_t  *v;

    want = (op->limit->kind == NGX_HTTP_LLMGW_LIMIT_RATE) ? 4 : 3;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < want) {
        return NGX_ERROR;
    }

    for (i = 0; i < want; i++) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
            return NGX_ERROR;
        }

        n[i] = reply->element[i]->integer;
    }

    v = op->v;
    v->allowed = (n[0] == 1);
    v->remaining = ngx_max(n[1], 0);

    switch (op->limit->kind) {

    case NGX_HTTP_LLMGW_LIMIT_RATE:
        v->retry = n[2];
        v->reset = n[3];
        break;

    case NGX_HTTP_LLMGW_LIMIT_CONCURRENT:
        v->retry = v->allowed ? 0 : NGX_HTTP_LLMGW_LIMIT_REDIS_RETRY;
        v->reset = 0;
        break;

    default: /* a window */
        v->reset = n[2];
        v->retry = v->allowed ? 0 : n[2];
        break;
    }

    if (!v->allowed) {
        op->reserved = 0;
    }

    return NGX_OK;
}


/*
 * Redis did not answer the take: the zone's policy answers now, and a
 * line says so at most once a second per worker.
 */

static void
ngx_http_llmgw_limit_redis_down(ngx_http_llmgw_limit_redis_op_t *op,
    const char *what, int64_t now)
{
    ngx_http_request_t              *r;
    ngx_http_llmgw_limit_t          *limit;
    ngx_http_llmgw_limit_redis_t    *lr;
    ngx_http_llmgw_limit_verdict_t  *v;

    r = op->request;
    limit = op->limit;
    lr = limit->data;
    v = op->v;

    op->reserved = 0;

    if (ngx_http_llmgw_limit_redis_log_ok()) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llmgw limit \"%V\": Redis %s, down=%s applies",
                      &limit->name, what,
                      ngx_http_llmgw_limit_redis_policies[lr->zone->down]);
    }

    switch (lr->zone->down) {

    case NGX_HTTP_LLMGW_LIMIT_REDIS_OPEN:
        op->open = 1;
        op->rc = NGX_OK;
        v->allowed = 1;
        v->remaining = lr->local.kind == NGX_HTTP_LLMGW_LIMIT_RATE
                       ? limit->burst : limit->quota - 1;
        v->retry = 0;
        v->reset = 0;
        break;

    case NGX_HTTP_LLMGW_LIMIT_REDIS_CLOSED:
        op->rc = NGX_BUSY;
        break;

    default: /* NGX_HTTP_LLMGW_LIMIT_REDIS_LOCAL */
        op->rc = ngx_http_llmgw_limit_shm_backend.take(r, &lr->local,
                                                       op->key, now, v);
        op->local = 1;
        break;
    }
}



/* the request went while its call was in flight: the reply is dropped */

static void
ngx_http_llmgw_limit_redis_cleanup(void *data)
{
    ngx_http_llmgw_limit_redis_op_t *op = data;

    if (op->waiting) {
        ngx_http_llmgw_redis_cancel(op->cmd);
        op->waiting = 0;
        op->cmd = NULL;

        ngx_http_llmgw_limit_redis_undo_late(op);
    }
}


/*
 * A call whose answer nobody reads (timed out, its connection lost, its
 * request gone) may still run in Redis: a lease it took or an amount it
 * reserved would stay until the lease or the window ends.  Giving back
 * the id behind it, on the same connection, runs after it; an id that
 * took nothing gives back nothing.  A quota's count cannot be undone
 * that way (the take may have been refused): it stays.
 */

static void
ngx_http_llmgw_limit_redis_undo_late(ngx_http_llmgw_limit_redis_op_t *op)
{
    ngx_str_t                      args[2];
    ngx_http_llmgw_limit_redis_t  *lr;

    lr = op->limit->data;

    if (op->limit->kind == NGX_HTTP_LLMGW_LIMIT_CONCURRENT) {
        ngx_http_llmgw_limit_redis_forget(lr->zone->timeout, "release", 1,
                                          op->keys, 1, &op->id);
        return;
    }

    if (op->reserved) {
        args[0] = op->id;
        ngx_str_set(&args[1], "0");
        ngx_http_llmgw_limit_redis_forget(lr->zone->timeout, "settle", 2,
                                          op->keys, 2, args);
    }
}


/*
 * Undo an allowed take: a concurrency lease given back, a reservation
 * settled at 0, a quota's count taken back in its own window (the key
 * expired again at the window's end, should it have gone meanwhile).  A
 * rate's take stays counted: the library has no undo for it.  Nothing
 * waits: the request may be ending.
 */

static void
ngx_http_llmgw_limit_redis_release(ngx_log_t *log,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v)
{
    size_t                            len[3];
    u_char                            nb[NGX_INT64_LEN], eb[NGX_INT64_LEN];
    ngx_str_t                         args[2];
    const char                       *argv[3];
    ngx_http_llmgw_limit_redis_t     *lr;
    ngx_http_llmgw_limit_redis_op_t  *op;

    op = v->pending;
    lr = limit->data;

    if (op == NULL || !op->done || op->rc != NGX_OK || !v->allowed
        || op->open)
    {
        return;
    }

    if (op->local) {
        ngx_http_llmgw_limit_shm_backend.release(log, &lr->local, key, now,
                                                 v);
        return;
    }

    switch (limit->kind) {

    case NGX_HTTP_LLMGW_LIMIT_CONCURRENT:
        ngx_http_llmgw_limit_redis_forget(lr->zone->timeout, "release", 1,
                                          op->keys, 1, &op->id);
        break;

    case NGX_HTTP_LLMGW_LIMIT_RATE:
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "llmgw limit \"%V\": a rate's take stays counted",
                       &limit->name);
        break;

    default: /* a window */

        if (op->reserved) {
            args[0] = op->id;
            ngx_str_set(&args[1], "0");
            ngx_http_llmgw_limit_redis_forget(lr->zone->timeout, "settle",
                                              2, op->keys, 2, args);
            op->reserved = 0;
            break;
        }

        argv[0] = "DECRBY";
        len[0] = 6;
        argv[1] = (const char *) op->keys[0].data;
        len[1] = op->keys[0].len;
        argv[2] = (const char *) nb;
        len[2] = ngx_sprintf(nb, "%L", op->cost) - nb;

        if (ngx_http_llmgw_redis_command(lr->zone->timeout,
                                         ngx_http_llmgw_limit_redis_sent,
                                         NULL, 3, argv, len)
            == NULL)
        {
            break;
        }

        argv[0] = "PEXPIREAT";
        len[0] = 9;
        argv[2] = (const char *) eb;
        len[2] = ngx_sprintf(eb, "%L", op->end) - eb;

        (void) ngx_http_llmgw_redis_command(lr->zone->timeout,
                                            ngx_http_llmgw_limit_redis_sent,
                                            NULL, 3, argv, len);
        break;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "llmgw limit \"%V\" released in Redis", &limit->name);
}


/*
 * The true-up of a reservation (a budget's, issue 10): the amount used
 * is the one reserved plus delta; settled in Redis, once, fire and
 * forget.  A reservation down=local made in shared memory is trued up
 * there; one down=open let through reserved nothing.
 */

static void
ngx_http_llmgw_limit_redis_adjust(ngx_log_t *log,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v, int64_t delta)
{
    int64_t                           actual;
    u_char                            buf[NGX_INT64_LEN];
    ngx_str_t                         args[2];
    ngx_http_llmgw_limit_redis_t     *lr;
    ngx_http_llmgw_limit_redis_op_t  *op;

    op = v->pending;
    lr = limit->data;

    if (op == NULL || op->open) {
        return;
    }

    if (op->local) {
        if (op->rc == NGX_OK && v->allowed) {
            ngx_http_llmgw_limit_shm_backend.adjust(log, &lr->local, key,
                                                    now, v, delta);
        }

        return;
    }

    if (!op->reserved) {
        return;
    }

    actual = ngx_max(op->cost + delta, 0);

    args[0] = op->id;
    args[1].data = buf;
    args[1].len = ngx_sprintf(buf, "%L", actual) - buf;

    ngx_http_llmgw_limit_redis_forget(lr->zone->timeout, "settle", 2,
                                      op->keys, 2, args);

    op->reserved = 0;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "llmgw limit \"%V\": settled %L of %L in Redis",
                   &limit->name, actual, op->cost);
}


/* a call nobody waits for; a failure is only said */

static void
ngx_http_llmgw_limit_redis_forget(ngx_msec_t timeout, const char *name,
    ngx_uint_t nkeys, ngx_str_t *keys, ngx_uint_t nargs, ngx_str_t *args)
{
    /* not sent: Redis is down, which the policy's line says already */

    (void) ngx_http_llmgw_redis_call(timeout, ngx_http_llmgw_limit_redis_sent,
                                     NULL, name, nkeys, keys, nargs, args);
}


static void
ngx_http_llmgw_limit_redis_sent(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply)
{
    if (status == NGX_HTTP_LLMGW_REDIS_OK
        || !ngx_http_llmgw_limit_redis_log_ok())
    {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "llmgw limit: a release or settle was not done in Redis "
                  "(%s)", (status == NGX_HTTP_LLMGW_REDIS_TIMEOUT)
                          ? "timed out"
                          : (status == NGX_HTTP_LLMGW_REDIS_ERROR)
                            ? "error reply" : "not connected");
}


static ngx_uint_t
ngx_http_llmgw_limit_redis_log_ok(void)
{
    if (ngx_http_llmgw_limit_redis_logged == ngx_time()) {
        return 0;
    }

    ngx_http_llmgw_limit_redis_logged = ngx_time();

    return 1;
}


static ngx_int_t
ngx_http_llmgw_limit_redis_int(ngx_pool_t *pool, int64_t n, ngx_str_t *s)
{
    s->data = ngx_pnalloc(pool, NGX_INT64_LEN);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    s->len = ngx_sprintf(s->data, "%L", n) - s->data;

    return NGX_OK;
}


static int64_t
ngx_http_llmgw_limit_redis_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}
