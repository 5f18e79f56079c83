
/*
 * Copyright (C) llmgw authors
 *
 * A request that waits in the access phase, suspended and resumed one
 * way.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_wait.h"


ngx_int_t
ngx_http_llmgw_wait_start(ngx_http_request_t *r)
{
    /* the request is kept until wait_resume gives the count back */

    r->main->count++;

    /* a client that goes meanwhile is seen (and finalized on resume) */

    r->read_event_handler = ngx_http_test_reading;

    return NGX_AGAIN;
}


void
ngx_http_llmgw_wait_resume(ngx_http_request_t *r)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->main->count--;

    r->read_event_handler = ngx_http_block_reading;

    if (c->error) {
        ngx_http_finalize_request(r, NGX_ERROR);

    } else {
        r->write_event_handler = ngx_http_core_run_phases;
        ngx_http_core_run_phases(r);
    }

    ngx_http_run_posted_requests(c);
}
