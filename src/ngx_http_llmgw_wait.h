
/*
 * Copyright (C) llmgw authors
 *
 * A request that waits in the access phase (a JWKS fetch, a Redis reply)
 * and is resumed when the answer is in: one way for every waiter
 * (STYLE.md rule 8).
 */


#ifndef _NGX_HTTP_LLMGW_WAIT_H_INCLUDED_
#define _NGX_HTTP_LLMGW_WAIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * Resumes r's phases from the handler that returned NGX_AGAIN after
 * r->main->count++: the count is given back, the phase handler runs
 * again (and finds its answer), or the request is finalized when its
 * connection failed meanwhile; posted requests run after it.
 */
void ngx_http_llmgw_wait_resume(ngx_http_request_t *r);


#endif /* _NGX_HTTP_LLMGW_WAIT_H_INCLUDED_ */
