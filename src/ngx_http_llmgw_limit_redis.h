
/*
 * Copyright (C) llmgw authors
 *
 * The Redis backend of limits: "llmgw_limit_zone name:size redis ...",
 * one count for every nginx node on one Redis, one round trip a take
 * through the llmgw library (ngx_http_llmgw_redis_lib.h): rate -> gcra,
 * quota -> quota (reserve when the take carries an amount), concurrent
 * -> acquire / release.  The zone's shared memory keeps what the node
 * decides alone: the refusals Redis made, until their retry time, and
 * the limits divided by nodes= while Redis is down (down=local).
 */


#ifndef _NGX_HTTP_LLMGW_LIMIT_REDIS_H_INCLUDED_
#define _NGX_HTTP_LLMGW_LIMIT_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_limit.h"


typedef enum {
    NGX_HTTP_LLMGW_LIMIT_REDIS_OPEN = 0,    /* let through uncounted */
    NGX_HTTP_LLMGW_LIMIT_REDIS_CLOSED,      /* 503 with Retry-After */
    NGX_HTTP_LLMGW_LIMIT_REDIS_LOCAL        /* limit / nodes, shared memory */
} ngx_http_llmgw_limit_redis_down_e;


/* a Redis zone: read-only at request time */

typedef struct {
    ngx_shm_zone_t                     *shm_zone;  /* the node's own part */
    ngx_msec_t                          timeout;
    ngx_msec_t                          lease;     /* a concurrent slot's */
    ngx_uint_t                          nodes;
    ngx_http_llmgw_limit_redis_down_e   down;
} ngx_http_llmgw_limit_redis_zone_t;


extern ngx_http_llmgw_limit_backend_t  ngx_http_llmgw_limit_redis_backend;


/*
 * The parameters after "redis" of llmgw_limit_zone (params[0 .. n - 1])
 * for the zone shm_zone: timeout=TIME down=open|closed|local nodes=N
 * lease=TIME.  NULL after an emerg message.
 */
ngx_http_llmgw_limit_redis_zone_t *ngx_http_llmgw_limit_redis_zone(
    ngx_conf_t *cf, ngx_shm_zone_t *shm_zone, ngx_str_t *params,
    ngx_uint_t n);

/*
 * Once the configuration is read: limit (whose data is zone's shared
 * memory) counted in Redis from now on.  NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_limit_redis_init(ngx_conf_t *cf,
    ngx_http_llmgw_limit_t *limit, ngx_http_llmgw_limit_redis_zone_t *zone);


#endif /* _NGX_HTTP_LLMGW_LIMIT_REDIS_H_INCLUDED_ */
