
/*
 * Copyright (C) llmgw authors
 *
 * The scope hierarchy: a tree (or DAG) given in configuration, in which a
 * granted scope satisfies itself and every scope below it.
 */


#ifndef _NGX_HTTP_LLMGW_SCOPE_H_INCLUDED_
#define _NGX_HTTP_LLMGW_SCOPE_H_INCLUDED_


#include "ngx_http_llmgw.h"


/* a claim that grants scopes, with the prefix its values carry */

typedef struct {
    ngx_http_llmgw_claim_path_t  path;
    ngx_str_t                    prefix;     /* Cognito's "<server>/" */
    unsigned                     own_prefix:1;  /* "prefix=" given */
} ngx_http_llmgw_scope_claim_t;


/* how granted scopes are read from the claims */

typedef struct {
    ngx_array_t               *claims;    /* ngx_http_llmgw_scope_claim_t */
    ngx_str_t                  prefix;    /* for claims without their own */
} ngx_http_llmgw_scope_source_t;


/*
 * "llmgw_scopes { parent child ...; ... }": conf is the tree to fill.  The
 * block may appear once; a scope may have several parents; cycles are
 * refused.
 */
char *ngx_http_llmgw_scope_tree_block(ngx_conf_t *cf,
    ngx_http_llmgw_scope_tree_t *tree);

/* NGX_OK when name is a scope-token of RFC 6749 section 3.3 */
ngx_int_t ngx_http_llmgw_scope_name_valid(ngx_str_t *name);

/* the node of a scope, or NULL when the tree does not name it */
ngx_http_llmgw_scope_t *ngx_http_llmgw_scope_find(
    ngx_http_llmgw_scope_tree_t *tree, ngx_str_t *name);

/*
 * Appends to granted (ngx_str_t) the scopes the claims grant, from each
 * configured claim: a string is a space-separated list (RFC 6749 section
 * 3.3: "scope", Entra ID's "scp"), an array's every string element is one
 * scope (Okta's "scp", groups, roles: never split, and one that is no
 * scope-token grants nothing).  The claim's prefix is removed; values
 * without it grant nothing when one is set.
 */
ngx_int_t ngx_http_llmgw_scopes_granted(ngx_pool_t *pool,
    ngx_http_llmgw_scope_source_t *src, json_t *claims, ngx_array_t *granted);

/*
 * Whether any required scope (ngx_http_llmgw_scope_t, resolved at
 * configuration time) is satisfied by a granted one.
 */
ngx_uint_t ngx_http_llmgw_scope_satisfied(ngx_array_t *required,
    ngx_array_t *granted);

/*
 * Whether every required scope (ngx_http_llmgw_scope_t *) is top or
 * below it in the tree: top satisfies each of them.
 */
ngx_uint_t ngx_http_llmgw_scope_within(ngx_array_t *required,
    ngx_http_llmgw_scope_t *top);


#endif /* _NGX_HTTP_LLMGW_SCOPE_H_INCLUDED_ */
