
/*
 * Copyright (C) llmgw authors
 *
 * The server-side Lua library of llmgw's Redis commands: the limit
 * operations, each one atomic round trip.  Loaded as the Redis 7 Function
 * library "llmgw" (FUNCTION LOAD REPLACE), whose functions are called
 * "llmgw_NAME" with FCALL; or, where Functions are unavailable, as one
 * EVAL script that takes the function's NAME as its first argument.
 *
 * Integers only: times in milliseconds, counts, token amounts.  Every key
 * of one call carries the same "{hash tag}" (the subject), so a call never
 * crosses Redis Cluster slots; the caller names the keys.  An optional
 * last argument NOW (ms) replaces Redis's own clock (TIME).
 *
 *   gcra    KEY; LIMIT PERIOD BURST COST [NOW]
 *           LIMIT per PERIOD ms, up to BURST at once; COST units now.
 *           -> {allowed, remaining, retry_after_ms, reset_ms}
 *   quota   KEY (the window's own, the caller's window id in its name);
 *           LIMIT COST END [NOW]
 *           a refused call does not count; the key expires at END (ms
 *           since the epoch, the window's end).
 *           -> {allowed, remaining, reset_ms}
 *   acquire KEY; LIMIT LEASE ID [NOW]
 *           one of LIMIT concurrent slots for ID until NOW + LEASE ms
 *           (again for a held ID: renewed, not counted twice); leases past
 *           their end are given back, so a crashed node's slots return.
 *           -> {allowed, remaining, retry_after_ms}
 *   release KEY; ID              -> 1 when ID held a slot, else 0
 *   reserve KEY RESERVATIONS; LIMIT AMOUNT ID END [NOW]
 *           AMOUNT of the window's LIMIT (tokens, cost) reserved for ID
 *           unless it does not fit; ID reserved twice counts once.
 *           -> {allowed, remaining, reset_ms}
 *   settle  KEY RESERVATIONS; ID ACTUAL
 *           ID's reservation replaced by ACTUAL (the true-up; 0: released);
 *           a second settle of ID changes nothing.
 *           -> {settled, used}
 *   state_publish  STREAM SNAPSHOT; MAXLEN (FIELD LINE REMOVE)...
 *           each account change LINE appended to STREAM (XADD MAXLEN ~,
 *           one field "change") and kept in the hash SNAPSHOT under FIELD
 *           (REMOVE "1": deleted from it).  -> the last entry's ID
 *   state_tail  STREAM  -> the ID of the last entry ever added ("0-0")
 *   state_read  STREAM; LAST COUNT
 *           up to COUNT entries after LAST: {"ok", entries as XRANGE};
 *           or {"gone", {}} when LAST is not the tail and was trimmed
 *           away: entries after it may be lost to this reader.
 */


#ifndef _NGX_HTTP_LLMGW_REDIS_LIB_H_INCLUDED_
#define _NGX_HTTP_LLMGW_REDIS_LIB_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The library's two forms into pool: the Function library text and the
 * EVAL script text.  NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_redis_lib(ngx_pool_t *pool, ngx_str_t *library,
    ngx_str_t *script);


#endif /* _NGX_HTTP_LLMGW_REDIS_LIB_H_INCLUDED_ */
