
/*
 * Copyright (C) llmgw authors
 *
 * The shared-memory backend of limits: llmgw_limit_zone name:size, one
 * state per (limit, key) in an rbtree with an LRU queue, exact across the
 * workers of one nginx, kept across reloads.
 */


#ifndef _NGX_HTTP_LLMGW_LIMIT_SHM_H_INCLUDED_
#define _NGX_HTTP_LLMGW_LIMIT_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_limit.h"


/* the longest key a limit keeps state for; a longer one is refused */
#define NGX_HTTP_LLMGW_LIMIT_SHM_KEY_MAX   1024


extern ngx_http_llmgw_limit_backend_t  ngx_http_llmgw_limit_shm_backend;


/*
 * "llmgw_limit_zone name:size": the zone made (or referenced earlier by
 * a limit, at size 0) for this backend.  NULL after an emerg message.
 */
ngx_shm_zone_t *ngx_http_llmgw_limit_shm_zone(ngx_conf_t *cf,
    ngx_str_t *value);

/*
 * The zone a limit's zone=name refers to, declared before or after it;
 * ngx_http_llmgw_limit_shm_declared tells, once the whole configuration
 * is read, whether llmgw_limit_zone declared it.
 */
ngx_shm_zone_t *ngx_http_llmgw_limit_shm_ref(ngx_conf_t *cf,
    ngx_str_t *name);
ngx_uint_t ngx_http_llmgw_limit_shm_declared(ngx_shm_zone_t *shm_zone);

/*
 * A refusal another backend decided, kept in limit's zone (limit->data)
 * until now + v->retry so that the key's next takes are answered here;
 * recall says it again (1) while it lasts, else 0.  limit is the other
 * backend's own, named apart from any limit of the zone.
 */
void ngx_http_llmgw_limit_shm_remember(ngx_log_t *log,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *key, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v);
ngx_uint_t ngx_http_llmgw_limit_shm_recall(ngx_http_llmgw_limit_t *limit,
    ngx_str_t *key, int64_t now, ngx_http_llmgw_limit_verdict_t *v);


#endif /* _NGX_HTTP_LLMGW_LIMIT_SHM_H_INCLUDED_ */
