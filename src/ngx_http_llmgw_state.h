
/*
 * Copyright (C) llmgw authors
 *
 * How an account change becomes durable and reaches every node.  One
 * node: the change is applied to the state zone and appended to the
 * state file's journal (ngx_http_llmgw_account_commit).  Many nodes
 * (llmgw_state_redis): besides, it is appended to a Redis Stream and kept
 * in a snapshot hash, in one round trip (the llmgw library's
 * state_publish); in each nginx one worker, holding a lease in the zone,
 * reads the stream from the last ID it applied, so that a node cut off
 * from Redis replays what it missed; a full resync from the snapshot at
 * start, when that ID has been trimmed away, and every resync=.
 *
 * The stream is polled every poll= (100 ms by default), not read with
 * XREAD BLOCK: the worker's one Redis connection also carries the limits'
 * scripts, which a blocked XREAD would hold up for as long as it blocks.
 * Polling lets the read be a library script that also tells a trimmed
 * stream (gap detection) in the same round trip.
 */


#ifndef _NGX_HTTP_LLMGW_STATE_H_INCLUDED_
#define _NGX_HTTP_LLMGW_STATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_account.h"


/* on_stale= */
#define NGX_HTTP_LLMGW_STATE_SERVE    0
#define NGX_HTTP_LLMGW_STATE_REFUSE   1
#define NGX_HTTP_LLMGW_STATE_WITHIN   2


/* llmgw_state_redis: read-only once the configuration is read */

typedef struct {
    ngx_str_t                  stream;     /* the stream's key */
    ngx_str_t                  snapshot;   /* STREAM:snapshot, a hash */
    ngx_str_t                  maxlen;     /* as text, for XADD */
    ngx_msec_t                 poll;
    ngx_msec_t                 resync;     /* 0: off */
    ngx_msec_t                 stale;      /* 0: off */
    ngx_uint_t                 on_stale;
    ngx_str_t                  within;     /* on_stale=within:SCOPE */
    ngx_http_llmgw_scope_t    *scope;      /* within's, found in
                                              llmgw_scopes after the
                                              http block is read */
    char                      *reason;     /* a refusal's, naming it */
} ngx_http_llmgw_state_conf_t;


/*
 * "llmgw_state_redis stream=KEY [maxlen=N] [poll=TIME] [resync=TIME|off]
 * [stale=TIME|off] [on_stale=serve|refuse|within:SCOPE]": sets the
 * ngx_http_llmgw_state_conf_t * at cmd->offset of a main conf.
 */
char *ngx_http_llmgw_state_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * From the module's init_process and exit_process: the zone (or NULL),
 * the Redis replication's conf (or NULL).
 */
ngx_int_t ngx_http_llmgw_state_init_process(ngx_cycle_t *cycle,
    ngx_shm_zone_t *zone, ngx_http_llmgw_state_conf_t *scf);
void ngx_http_llmgw_state_exit_process(void);

/*
 * Applies changes on this node now and makes them durable (the state
 * file's journal on one node, the Redis stream on many): NGX_OK done
 * (done not called); NGX_AGAIN: done(data, NGX_OK | NGX_ERROR) later,
 * unless r's pool is gone first (a pool cleanup cancels); NGX_BUSY: a
 * change's expect (ngx_http_llmgw_account_change_t) no longer holds,
 * nothing applied or sent; NGX_DECLINED: a change is not valid, nothing
 * applied; NGX_ERROR: not durable (the journal failed, or Redis could
 * not be asked; what was applied here stays: a change is a whole value,
 * so the caller may send it again).
 */
ngx_int_t ngx_http_llmgw_state_publish(ngx_http_request_t *r,
    ngx_shm_zone_t *zone, ngx_http_llmgw_account_change_t *changes,
    ngx_uint_t n, void (*done)(void *data, ngx_int_t rc), void *data);

/*
 * The on_stale= policy in force: NGX_HTTP_LLMGW_STATE_SERVE while this
 * node's state is fresh (or without llmgw_state_redis, or with
 * on_stale=serve); NGX_HTTP_LLMGW_STATE_REFUSE or _WITHIN once the
 * stream has not been read for longer than stale=.
 */
ngx_uint_t ngx_http_llmgw_state_stale(void);

/*
 * With llmgw_state_redis: NGX_OK and *lag the ms since this node last had
 * an answer from the stream (a read or a full resync; before the first,
 * since its first worker started).  NGX_DECLINED without it.
 */
ngx_int_t ngx_http_llmgw_state_lag(ngx_msec_t *lag);


#endif /* _NGX_HTTP_LLMGW_STATE_H_INCLUDED_ */
