
/*
 * Copyright (C) llmgw authors
 *
 * The DPoP replay check across nodes ("llmgw_dpop_zone name:size redis"):
 * after the node's own zone has not seen a proof, one SET NX through the
 * worker's Redis connection (ngx_http_llmgw_redis.h) records it for every
 * node sharing that Redis:
 *
 *     SET llmgw:dpop:{HEX} 1 NX PXAT EXPIRES
 *
 * HEX: the 64 hex digits of SHA-256(jkt || jti); EXPIRES: when the proof
 * could no longer be accepted anyway (ms since the epoch).  OK: first
 * seen; nil: another node (or this one) has seen it.  The request waits
 * for the reply without blocking (STYLE.md rule 8).
 */


#ifndef _NGX_HTTP_LLMGW_REPLAY_REDIS_H_INCLUDED_
#define _NGX_HTTP_LLMGW_REPLAY_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef enum {
    NGX_HTTP_LLMGW_REPLAY_REDIS_CLOSED = 0,  /* 503 with Retry-After */
    NGX_HTTP_LLMGW_REPLAY_REDIS_OPEN         /* the node's check alone */
} ngx_http_llmgw_replay_redis_down_e;


/* read-only at request time */

typedef struct {
    ngx_msec_t                           timeout;
    ngx_http_llmgw_replay_redis_down_e   down;
} ngx_http_llmgw_replay_redis_conf_t;


/*
 * The parameters after "redis" of llmgw_dpop_zone (params[0 .. n - 1]):
 * timeout=TIME down=open|closed.  NULL after an emerg message.
 */
ngx_http_llmgw_replay_redis_conf_t *ngx_http_llmgw_replay_redis_conf(
    ngx_conf_t *cf, ngx_str_t *params, ngx_uint_t n);

/*
 * Records key (32 bytes) in Redis until expires (ms since the epoch).
 * *state is the request's (NULL at first): the first call sends the
 * command and returns NGX_AGAIN, and r's phases are resumed once the
 * reply is in; a later call returns NGX_AGAIN while it is pending, then
 * the verdict: NGX_OK (first seen, or Redis unreachable and down=open),
 * NGX_DECLINED (seen before: a replay), NGX_BUSY (Redis unreachable and
 * down=closed), or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_replay_redis_check(ngx_http_request_t *r,
    ngx_http_llmgw_replay_redis_conf_t *conf, u_char *key, int64_t expires,
    void **state);


#endif /* _NGX_HTTP_LLMGW_REPLAY_REDIS_H_INCLUDED_ */
