
/*
 * Copyright (C) llmgw authors
 *
 * Claims of a verified token: the registered-claim checks (RFC 7519
 * section 4.1, RFC 9068 for "typ", RFC 8176 for "amr"), value checks of
 * any claim, and claim paths, which name a member of nested objects
 * (Keycloak's realm_access.roles).
 */


#ifndef _NGX_HTTP_LLMGW_CLAIMS_H_INCLUDED_
#define _NGX_HTTP_LLMGW_CLAIMS_H_INCLUDED_


#include "ngx_http_llmgw.h"


/* how deep a claim path may reach */
#define NGX_HTTP_LLMGW_CLAIM_PATH_MAX  8


/*
 * Parses a claim path: member names separated by '.', a name with dots
 * (or quotes) double-quoted with '\' escaping '"' and '\' inside:
 * resource_access."llm.gateway".roles.  NGX_OK, or NGX_DECLINED with *err
 * a fixed text saying what is wrong; NGX_ERROR when out of memory.
 */
ngx_int_t ngx_http_llmgw_claim_path_parse(ngx_pool_t *pool, ngx_str_t *text,
    ngx_http_llmgw_claim_path_t *path, const char **err);

/* a path of one member, name as it is (the $llmgw_claim_NAME variables) */
void ngx_http_llmgw_claim_path_single(ngx_http_llmgw_claim_path_t *path,
    ngx_str_t *name);

/* the value at path, or NULL when a member on the way is absent */
json_t *ngx_http_llmgw_claim_get(json_t *claims,
    ngx_http_llmgw_claim_path_t *path);

/*
 * A value check of a claim ("llmgw_jwt_claim", "llmgw_jwt_require_claim"):
 * the reasons are made once from the path and are safe in a quoted-string
 * and in JSON.  values is empty when only presence is required.
 */
ngx_int_t ngx_http_llmgw_claim_check_init(ngx_pool_t *pool,
    ngx_http_llmgw_claim_check_t *check);

/*
 * Normalizes a "typ" value for comparison: "application/" dropped when
 * what follows has no '/' (RFC 7515 section 4.1.9), so "at+jwt" and
 * "application/at+jwt" compare equal (caselessly).
 */
void ngx_http_llmgw_typ_normalize(ngx_str_t *typ);

/*
 * NGX_OK when every configured check passes; NGX_DECLINED with *reason set
 * to a text fit for a client otherwise.  typ is the JOSE header's.
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
    ngx_http_llmgw_claim_path_t *path, ngx_str_t *value);


#endif /* _NGX_HTTP_LLMGW_CLAIMS_H_INCLUDED_ */
