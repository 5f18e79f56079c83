
/*
 * Copyright (C) llmgw authors
 *
 * A request that waits in the access phase (a JWKS fetch, a Redis reply)
 * and is resumed when the answer is in: one way for every waiter
 * (STYLE.md rule 8).  The waiter keeps its own "waiting" flag, set
 * before wait_start and cleared before wait_resume: its pool cleanup
 * reads it to cancel what is still in flight.
 */


#ifndef _NGX_HTTP_LLMGW_WAIT_H_INCLUDED_
#define _NGX_HTTP_LLMGW_WAIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * Suspends r in the phase handler that calls it: the request is kept
 * (r->main->count++) until ngx_http_llmgw_wait_resume, and a client that
 * closes meanwhile is seen (ngx_http_test_reading).  Returns NGX_AGAIN,
 * for the phase handler to return.
 */
ngx_int_t ngx_http_llmgw_wait_start(ngx_http_request_t *r);

/*
 * Resumes r's phases from the handler that returned what
 * ngx_http_llmgw_wait_start returned: the count is given back, the phase
 * handler runs again (and finds its answer), or the request is finalized
 * when its connection failed meanwhile; posted requests run after it.
 */
void ngx_http_llmgw_wait_resume(ngx_http_request_t *r);


#endif /* _NGX_HTTP_LLMGW_WAIT_H_INCLUDED_ */
