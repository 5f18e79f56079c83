
/*
 * Copyright (C) llmgw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_claims.h"
#include "ngx_http_llmgw_scope.h"


#define NGX_HTTP_LLMGW_SCOPE_MAX_DEPTH  64


typedef struct {
    ngx_http_llmgw_scope_tree_t  *tree;
    ngx_array_t                   edges;     /* ngx_http_llmgw_scope_edge_t */
} ngx_http_llmgw_scope_parse_t;


typedef struct {
    ngx_uint_t                    parent;
    ngx_uint_t                    child;
} ngx_http_llmgw_scope_edge_t;


static char *ngx_http_llmgw_scope_line(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static ngx_int_t ngx_http_llmgw_scope_index(ngx_conf_t *cf,
    ngx_http_llmgw_scope_tree_t *tree, ngx_str_t *name);
static ngx_int_t ngx_http_llmgw_scope_ancestors(ngx_conf_t *cf,
    ngx_http_llmgw_scope_parse_t *sp, ngx_uint_t start, ngx_uint_t node,
    ngx_uint_t depth);
static ngx_int_t ngx_http_llmgw_scope_add_unique(ngx_array_t *list,
    ngx_str_t *name);
static ngx_int_t ngx_http_llmgw_scopes_split(ngx_str_t *prefix,
    const char *s, size_t len, ngx_array_t *granted);
static ngx_int_t ngx_http_llmgw_scope_add(ngx_str_t *prefix,
    ngx_str_t *value, ngx_array_t *granted);


char *
ngx_http_llmgw_scope_tree_block(ngx_conf_t *cf,
    ngx_http_llmgw_scope_tree_t *tree)
{
    char                          *rv;
    ngx_uint_t                     i;
    ngx_conf_t                     save;
    ngx_http_llmgw_scope_parse_t   sp;

    if (tree->scopes.elts != NULL) {
        return "is duplicate";
    }

    if (ngx_array_init(&tree->scopes, cf->pool, 16,
                       sizeof(ngx_http_llmgw_scope_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    sp.tree = tree;

    if (ngx_array_init(&sp.edges, cf->temp_pool, 16,
                       sizeof(ngx_http_llmgw_scope_edge_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    save = *cf;
    cf->handler = ngx_http_llmgw_scope_line;
    cf->handler_conf = (void *) &sp;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (tree->scopes.nelts == 0) {
        return "defines no scope";
    }

    /* every scope is satisfied by itself and by each of its ancestors */

    for (i = 0; i < tree->scopes.nelts; i++) {
        if (ngx_http_llmgw_scope_ancestors(cf, &sp, i, i, 0) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llmgw_scope_line(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_http_llmgw_scope_parse_t *sp = conf;

    ngx_int_t                     parent, child;
    ngx_str_t                    *value;
    ngx_uint_t                    i;
    ngx_http_llmgw_scope_edge_t  *edge;

    value = cf->args->elts;

    if (cf->args->nelts < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "scope \"%V\" lists no child scope: "
                           "write \"parent child ...;\"", &value[0]);
        return NGX_CONF_ERROR;
    }

    parent = ngx_http_llmgw_scope_index(cf, sp->tree, &value[0]);
    if (parent == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        child = ngx_http_llmgw_scope_index(cf, sp->tree, &value[i]);
        if (child == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (child == parent) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "scope \"%V\" cannot be its own child",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        edge = ngx_array_push(&sp->edges);
        if (edge == NULL) {
            return NGX_CONF_ERROR;
        }

        edge->parent = parent;
        edge->child = child;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llmgw_scope_index(ngx_conf_t *cf, ngx_http_llmgw_scope_tree_t *tree,
    ngx_str_t *name)
{
    ngx_uint_t               i;
    ngx_http_llmgw_scope_t  *scope;

    if (ngx_http_llmgw_scope_name_valid(name) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid character in scope \"%V\"", name);
        return NGX_ERROR;
    }

    scope = tree->scopes.elts;

    for (i = 0; i < tree->scopes.nelts; i++) {
        if (scope[i].name.len == name->len
            && ngx_strncmp(scope[i].name.data, name->data, name->len) == 0)
        {
            return i;
        }
    }

    scope = ngx_array_push(&tree->scopes);
    if (scope == NULL) {
        return NGX_ERROR;
    }

    scope->name = *name;

    if (ngx_array_init(&scope->satisfied_by, cf->pool, 4, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return tree->scopes.nelts - 1;
}


/* walks up from node, adding every scope met to start's satisfied_by */

static ngx_int_t
ngx_http_llmgw_scope_ancestors(ngx_conf_t *cf, ngx_http_llmgw_scope_parse_t *sp,
    ngx_uint_t start, ngx_uint_t node, ngx_uint_t depth)
{
    ngx_uint_t                    i;
    ngx_http_llmgw_scope_t       *scope;
    ngx_http_llmgw_scope_edge_t  *edge;

    scope = sp->tree->scopes.elts;

    if (depth > 0 && node == start) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "scope \"%V\" is its own ancestor",
                           &scope[start].name);
        return NGX_ERROR;
    }

    if (depth > NGX_HTTP_LLMGW_SCOPE_MAX_DEPTH) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "scope hierarchy deeper than %d levels",
                           NGX_HTTP_LLMGW_SCOPE_MAX_DEPTH);
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_scope_add_unique(&scope[start].satisfied_by,
                                        &scope[node].name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    edge = sp->edges.elts;

    for (i = 0; i < sp->edges.nelts; i++) {
        if (edge[i].child != node) {
            continue;
        }

        if (ngx_http_llmgw_scope_ancestors(cf, sp, start, edge[i].parent,
                                           depth + 1)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_scope_add_unique(ngx_array_t *list, ngx_str_t *name)
{
    ngx_str_t   *s;
    ngx_uint_t   i;

    s = list->elts;

    for (i = 0; i < list->nelts; i++) {
        if (s[i].len == name->len
            && ngx_strncmp(s[i].data, name->data, name->len) == 0)
        {
            return NGX_OK;
        }
    }

    s = ngx_array_push(list);
    if (s == NULL) {
        return NGX_ERROR;
    }

    *s = *name;

    return NGX_OK;
}


/* RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */

ngx_int_t
ngx_http_llmgw_scope_name_valid(ngx_str_t *name)
{
    u_char  *p;

    if (name->len == 0) {
        return NGX_ERROR;
    }

    for (p = name->data; p < name->data + name->len; p++) {
        if (*p < 0x21 || *p > 0x7e || *p == '"' || *p == '\\') {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_http_llmgw_scope_t *
ngx_http_llmgw_scope_find(ngx_http_llmgw_scope_tree_t *tree, ngx_str_t *name)
{
    ngx_uint_t               i;
    ngx_http_llmgw_scope_t  *scope;

    scope = tree->scopes.elts;

    for (i = 0; i < tree->scopes.nelts; i++) {
        if (scope[i].name.len == name->len
            && ngx_strncmp(scope[i].name.data, name->data, name->len) == 0)
        {
            return &scope[i];
        }
    }

    return NULL;
}


ngx_int_t
ngx_http_llmgw_scopes_granted(ngx_pool_t *pool,
    ngx_http_llmgw_scope_source_t *src, json_t *claims, ngx_array_t *granted)
{
    size_t                         k;
    json_t                        *v, *e;
    ngx_str_t                     *prefix, scope;
    ngx_uint_t                     i;
    ngx_http_llmgw_scope_claim_t  *sc;

    sc = src->claims->elts;

    for (i = 0; i < src->claims->nelts; i++) {
        v = ngx_http_llmgw_claim_get(claims, &sc[i].path);
        prefix = sc[i].own_prefix ? &sc[i].prefix : &src->prefix;

        if (json_is_string(v)) {
            if (ngx_http_llmgw_scopes_split(prefix, json_string_value(v),
                                            json_string_length(v), granted)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        if (!json_is_array(v)) {
            continue;
        }

        json_array_foreach(v, k, e) {
            if (!json_is_string(e)) {
                continue;
            }

            scope.data = (u_char *) json_string_value(e);
            scope.len = json_string_length(e);

            if (ngx_http_llmgw_scope_add(prefix, &scope, granted) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/* a space-separated list (RFC 6749 section 3.3, RFC 8693 section 4.2) */

static ngx_int_t
ngx_http_llmgw_scopes_split(ngx_str_t *prefix, const char *s, size_t len,
    ngx_array_t *granted)
{
    u_char     *p, *last;
    ngx_str_t   scope;

    p = (u_char *) s;
    last = p + len;

    while (p < last) {

        while (p < last && *p == ' ') {
            p++;
        }

        scope.data = p;

        while (p < last && *p != ' ') {
            p++;
        }

        scope.len = p - scope.data;

        if (scope.len == 0) {
            break;
        }

        if (ngx_http_llmgw_scope_add(prefix, &scope, granted) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * One granted scope, the prefix removed; a value without the prefix, or
 * that is no scope-token (a space, a quote, a control byte), grants
 * nothing.  The bytes stay in the claims' json_t, which lives as long as
 * the request.
 */

static ngx_int_t
ngx_http_llmgw_scope_add(ngx_str_t *prefix, ngx_str_t *value,
    ngx_array_t *granted)
{
    ngx_str_t  *g, scope;

    scope = *value;

    if (prefix->len) {
        if (scope.len <= prefix->len
            || ngx_strncmp(scope.data, prefix->data, prefix->len) != 0)
        {
            return NGX_OK;
        }

        scope.data += prefix->len;
        scope.len -= prefix->len;
    }

    if (ngx_http_llmgw_scope_name_valid(&scope) != NGX_OK) {
        return NGX_OK;
    }

    g = ngx_array_push(granted);
    if (g == NULL) {
        return NGX_ERROR;
    }

    *g = scope;

    return NGX_OK;
}


ngx_uint_t
ngx_http_llmgw_scope_satisfied(ngx_array_t *required, ngx_array_t *granted)
{
    ngx_str_t                *by, *g;
    ngx_uint_t                i, j, k;
    ngx_http_llmgw_scope_t  **req;

    req = required->elts;
    g = granted->elts;

    for (i = 0; i < required->nelts; i++) {
        by = req[i]->satisfied_by.elts;

        for (j = 0; j < req[i]->satisfied_by.nelts; j++) {
            for (k = 0; k < granted->nelts; k++) {
                if (g[k].len == by[j].len
                    && ngx_strncmp(g[k].data, by[j].data, g[k].len) == 0)
                {
                    return 1;
                }
            }
        }
    }

    return 0;
}


ngx_uint_t
ngx_http_llmgw_scope_within(ngx_array_t *required, ngx_http_llmgw_scope_t *top)
{
    ngx_str_t                *by;
    ngx_uint_t                i, j, found;
    ngx_http_llmgw_scope_t  **req;

    req = required->elts;

    for (i = 0; i < required->nelts; i++) {
        by = req[i]->satisfied_by.elts;
        found = 0;

        for (j = 0; j < req[i]->satisfied_by.nelts; j++) {
            if (by[j].len == top->name.len
                && ngx_strncmp(by[j].data, top->name.data, by[j].len) == 0)
            {
                found = 1;
                break;
            }
        }

        if (!found) {
            return 0;
        }
    }

    return required->nelts > 0;
}
