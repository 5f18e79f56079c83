
/*
 * Copyright (C) llmgw authors
 *
 * Registered-claim checks of a verified token (RFC 7519 section 4.1,
 * RFC 9068 for "typ", RFC 8176 for "amr").
 */


#ifndef _NGX_HTTP_LLMGW_CLAIMS_H_INCLUDED_
#define _NGX_HTTP_LLMGW_CLAIMS_H_INCLUDED_


#include "ngx_http_llmgw.h"


/*
 * NGX_OK when every configured check passes; NGX_DECLINED with *reason set
 * to a fixed text fit for a client otherwise.  typ is the JOSE header's.
 */
ngx_int_t ngx_http_llmgw_claims_check(ngx_http_llmgw_claims_conf_t *ccf,
    json_t *claims, ngx_str_t *typ, time_t now, const char **reason);

/* exp of the claims, or 0 when absent or not a number */
time_t ngx_http_llmgw_claims_exp(json_t *claims);

/*
 * A claim's value as text for variables: strings as they are, numbers and
 * booleans printed, arrays of those joined with ','.  NGX_DECLINED when the
 * claim is absent or an object.
 */
ngx_int_t ngx_http_llmgw_claim_text(ngx_pool_t *pool, json_t *claims,
    ngx_str_t *name, ngx_str_t *value);


#endif /* _NGX_HTTP_LLMGW_CLAIMS_H_INCLUDED_ */
