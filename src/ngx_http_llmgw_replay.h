
/*
 * Copyright (C) llmgw authors
 *
 * The replay cache of DPoP proofs (RFC 9449 section 11.1): a shared zone
 * remembering, until the proof could no longer be accepted anyway, the
 * SHA-256 of each proof's key thumbprint and jti.
 */


#ifndef _NGX_HTTP_LLMGW_REPLAY_H_INCLUDED_
#define _NGX_HTTP_LLMGW_REPLAY_H_INCLUDED_


#include "ngx_http_llmgw.h"


/*
 * "llmgw_dpop_zone name:size": a conf setter for the http main conf;
 * stores the ngx_shm_zone_t * at cmd->offset.  "is duplicate" on a second
 * use, size at least 8 pages.
 */
char *ngx_http_llmgw_replay_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * Records key (32 bytes) until expires.  NGX_OK: first seen, recorded;
 * NGX_DECLINED: seen before and not yet expired (a replay); NGX_BUSY: the
 * zone is full of live entries (nothing can be promised: refuse).
 */
ngx_int_t ngx_http_llmgw_replay_check(ngx_shm_zone_t *zone, u_char *key,
    time_t expires, time_t now);


#endif /* _NGX_HTTP_LLMGW_REPLAY_H_INCLUDED_ */
