
/*
 * Copyright (C) llmgw authors
 *
 * The verified-token cache: a shared-memory zone, keyed by the SHA-256 of
 * the token, bounded in size with LRU eviction; an entry never outlives the
 * token's exp.
 */


#ifndef _NGX_HTTP_LLMGW_CACHE_H_INCLUDED_
#define _NGX_HTTP_LLMGW_CACHE_H_INCLUDED_


#include "ngx_http_llmgw.h"


/* entries whose payload is longer are not cached */
#define NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD  8192

/* a worker's local table: at most this many entries, claims text bytes */
#define NGX_HTTP_LLMGW_CACHE_LOCAL_N      1024
#define NGX_HTTP_LLMGW_CACHE_LOCAL_BYTES  (2 * 1024 * 1024)


/*
 * "llmgw_token_cache_zone name:size": a conf setter for the http main conf;
 * stores the ngx_shm_zone_t * at cmd->offset.  "is duplicate" on a second
 * use, size at least 8 pages.
 */
char *ngx_http_llmgw_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * NGX_OK and *entry filled (strings copied into pool) on a live hit;
 * NGX_DECLINED on a miss or an expired entry (which is removed); NGX_ERROR
 * when out of memory.  Moves a hit to the head of the LRU queue.
 */
ngx_int_t ngx_http_llmgw_cache_lookup(ngx_shm_zone_t *zone, u_char *key,
    time_t now, ngx_pool_t *pool, ngx_http_llmgw_cache_entry_t *entry);

/*
 * Stores a copy of entry under key (32 bytes), replacing an old one.
 * Expired entries are dropped first; when the zone is full the least
 * recently used are evicted.  NGX_OK, or NGX_DECLINED when it could not be
 * stored (too large, no memory even after eviction): callers carry on.
 */
ngx_int_t ngx_http_llmgw_cache_store(ngx_shm_zone_t *zone, u_char *key,
    ngx_http_llmgw_cache_entry_t *entry, time_t now);

/*
 * The worker's local table, in front of the zone.  NGX_OK on a live hit:
 * entry->claims is the parsed claims object, with a reference released by
 * a cleanup of pool (read it, never change it: it is shared); typ is
 * copied into pool; expires and key_fp are set; payload is empty.
 * NGX_DECLINED on a miss or an expired entry (which is removed); NGX_ERROR
 * when out of memory.  Never takes the zone's mutex.
 */
ngx_int_t ngx_http_llmgw_cache_local_lookup(ngx_shm_zone_t *zone,
    u_char *key, time_t now, ngx_pool_t *pool,
    ngx_http_llmgw_cache_entry_t *entry);

/*
 * Keeps entry (claims: a JSON object, referenced, not copied; payload.len:
 * its text's length, counted against NGX_HTTP_LLMGW_CACHE_LOCAL_BYTES) in
 * the worker's local table under key, replacing an old one; the least
 * recently used entries make room.  NGX_OK, or NGX_DECLINED when it is not
 * kept (no claims, expired, too large, no memory): callers carry on.
 */
ngx_int_t ngx_http_llmgw_cache_local_store(ngx_shm_zone_t *zone,
    u_char *key, ngx_http_llmgw_cache_entry_t *entry, time_t now);


#endif /* _NGX_HTTP_LLMGW_CACHE_H_INCLUDED_ */
