
/*
 * Copyright (C) llmgw authors
 *
 * Key sets fetched from an identity provider's JWKS URL (Cognito, Entra ID,
 * Keycloak, Okta rotate their keys).  "llmgw_jwks_zone" declares a shared
 * zone that holds the last good JWKS document; it is fetched with an
 * in-memory subrequest to an internal location of the configuration, by
 * one worker at a time, again after the refresh interval and when a token
 * names a kid the keys do not have (no more often than the cooldown).
 * Each worker parses the document once per change into keys of its own.
 */


#ifndef _NGX_HTTP_LLMGW_JWKS_H_INCLUDED_
#define _NGX_HTTP_LLMGW_JWKS_H_INCLUDED_


#include "ngx_http_llmgw.h"


/* the largest JWKS document kept when "max_size=" is not given */
#define NGX_HTTP_LLMGW_JWKS_DEFAULT_MAX_SIZE   (128 * 1024)


typedef struct ngx_http_llmgw_jwks_s  ngx_http_llmgw_jwks_t;

/* a request's state for a zone; the caller keeps the pointer in its ctx */
typedef struct ngx_http_llmgw_jwks_req_s  ngx_http_llmgw_jwks_req_t;


/*
 * "llmgw_jwks_zone name:size uri=/location [refresh=15m] [cooldown=30s]
 * [timeout=10s] [max_size=128k]": a conf setter for the http main conf;
 * cmd->offset points at an ngx_array_t * of ngx_http_llmgw_jwks_t *
 * (created when NULL).  Several zones may be declared, each once.
 */
char *ngx_http_llmgw_jwks_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * For a location's "llmgw_jwt_jwks name": the zone of that name, or a
 * reference to it that "llmgw_jwks_zone" later in the file fills in.
 * NULL: no memory.
 */
ngx_http_llmgw_jwks_t *ngx_http_llmgw_jwks_ref(ngx_conf_t *cf,
    ngx_array_t **zones, ngx_str_t *name);

/*
 * Postconfiguration: every referenced name was declared, else NGX_ERROR
 * with an emerg message naming the file and line of the reference (zones
 * NULL: nothing to do).
 */
ngx_int_t ngx_http_llmgw_jwks_check(ngx_conf_t *cf, ngx_array_t *zones);

/*
 * How old the zone's document is, in ms, for the admin API's health:
 * NGX_OK; NGX_DECLINED when none was fetched yet.
 */
ngx_int_t ngx_http_llmgw_jwks_age(ngx_http_llmgw_jwks_t *jwks,
    ngx_msec_t *age);

/* the zone's name, for log lines */
ngx_str_t *ngx_http_llmgw_jwks_name(ngx_http_llmgw_jwks_t *jwks);

/*
 * The keys (ngx_http_llmgw_key_t) this worker has for the zone, parsed
 * again when another fetch changed the shared document.  Never NULL; may
 * be empty.  The array and its keys stay valid until the next call of
 * ngx_http_llmgw_jwks_keys() or ngx_http_llmgw_jwks_update() for the zone
 * in this worker: use them at once, never across a suspension.
 */
ngx_array_t *ngx_http_llmgw_jwks_keys(ngx_http_llmgw_jwks_t *jwks,
    ngx_log_t *log);

/*
 * Called by the access handler on every request that uses the zone
 * (force=0), and once more when the token's kid is not among the keys
 * (force=1); *state is the request's state, NULL before the first call,
 * kept by the caller in its request ctx.  Starts or joins a fetch when
 * one is due: no keys yet, the refresh interval passed, or force; never
 * sooner than the cooldown after the last attempt.
 *
 * NGX_AGAIN: the request waits (for its own subrequest, or for a fetch of
 * another request or worker); when the fetch ends (success, failure or
 * timeout) the request is resumed with ngx_http_core_run_phases, so the
 * access handler runs again, calls this again (NGX_DECLINED now) and then
 * ngx_http_llmgw_jwks_keys().
 *
 * NGX_DECLINED: nothing to wait for (fresh, cooling down, this request has
 * already waited, or a refresh that runs in the background because keys
 * exist).  NGX_ERROR: internal error.
 */
ngx_int_t ngx_http_llmgw_jwks_update(ngx_http_request_t *r,
    ngx_http_llmgw_jwks_t *jwks, ngx_uint_t force,
    ngx_http_llmgw_jwks_req_t **state);

/*
 * For the module's body filter (ngx_http_llmgw_module.c), on every
 * response body: NGX_OK when r is a JWKS fetch, whose body is kept for the
 * zone and must go no further; NGX_DECLINED for any other request.
 */
ngx_int_t ngx_http_llmgw_jwks_body(ngx_http_request_t *r, ngx_chain_t *in);


#endif /* _NGX_HTTP_LLMGW_JWKS_H_INCLUDED_ */
