
/*
 * Copyright (C) llmgw authors
 *
 * Registered clients (llmgw_clients): the most each OAuth client may ever
 * be granted, whatever its tokens say.  A pure parser of the clients file
 * (bytes in, clients or line-numbered errors out, memory bounded by the
 * input), the lookup by client id, and the cut of granted scopes down to
 * a ceiling in the scope tree.
 */


#ifndef _NGX_HTTP_LLMGW_CLIENTS_H_INCLUDED_
#define _NGX_HTTP_LLMGW_CLIENTS_H_INCLUDED_


#include "ngx_http_llmgw.h"


/* bytes of a client_id, of one line; scopes in one ceiling */
#define NGX_HTTP_LLMGW_CLIENTS_MAX_ID      255
#define NGX_HTTP_LLMGW_CLIENTS_MAX_LINE    4096
#define NGX_HTTP_LLMGW_CLIENTS_MAX_SCOPES  64

/* errors kept (more are counted) */
#define NGX_HTTP_LLMGW_CLIENTS_MAX_ERRORS  10


typedef enum {
    NGX_HTTP_LLMGW_CLIENT_APPROVED = 0,
    NGX_HTTP_LLMGW_CLIENT_PENDING,
    NGX_HTTP_LLMGW_CLIENT_UNKNOWN      /* not in the file: audit only */
} ngx_http_llmgw_client_status_e;


/*
 * One client.  The names are what the file says; the scopes are their
 * nodes of the scope tree, set by ngx_http_llmgw_clients_resolve() (NULL
 * before).  pending_names is NULL when the line leaves pending_ceiling
 * empty: a pending client then gets the default pending ceiling.
 */

typedef struct {
    ngx_str_t                        client_id;
    ngx_http_llmgw_client_status_e   status;
    ngx_array_t                     *names;          /* ngx_str_t */
    ngx_array_t                     *pending_names;  /* ngx_str_t, or NULL */
    ngx_array_t                     *ceiling;        /* scope_t * */
    ngx_array_t                     *pending;        /* scope_t *, or NULL */
    ngx_uint_t                       line;
} ngx_http_llmgw_client_t;


typedef struct {
    ngx_uint_t                 line;
    const char                *field;     /* a column's name, or NULL */
    const char                *text;      /* a fixed text */
    ngx_str_t                  value;     /* the value at fault, or empty */
    ngx_uint_t                 first;     /* a duplicate's first line */
} ngx_http_llmgw_clients_error_t;


typedef struct {
    ngx_array_t                      clients;  /* ngx_http_llmgw_client_t,
                                                  sorted by client_id */
    ngx_http_llmgw_clients_error_t   errors[NGX_HTTP_LLMGW_CLIENTS_MAX_ERRORS];
    ngx_uint_t                       nerrors;  /* all found, may exceed
                                                  the errors kept */
} ngx_http_llmgw_clients_t;


/*
 * Parses the clients file in data: a header line
 * "client_id,status,ceiling,pending_ceiling", then one client a line:
 *
 *     client_id,status,ceiling,pending_ceiling
 *     web-chat,approved,text,
 *     dcr-7f3a,pending,text audio,claude
 *
 * status is "approved" or "pending"; a ceiling is scope-tokens separated
 * by single spaces, ceiling never empty.  Lines starting with '#' and
 * empty lines are skipped; no quoting (a quote is an error); LF or CRLF;
 * an UTF-8 BOM before the header is allowed.  At most max_clients.
 * NGX_OK: out->clients holds them sorted by client_id, values copied into
 * pool; NGX_DECLINED: out->errors holds the first errors in line order (a
 * file with any error is refused whole); NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_llmgw_clients_parse(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_uint_t max_clients, ngx_http_llmgw_clients_t *out);

/* "line N: FIELD: TEXT \"VALUE\"" into buf, at most last - buf bytes */
u_char *ngx_http_llmgw_clients_error_text(u_char *buf, u_char *last,
    ngx_http_llmgw_clients_error_t *e);

/*
 * The names of every client's ceilings to nodes of tree.  NGX_OK;
 * NGX_DECLINED with *e naming the line and the scope the tree lacks;
 * NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_clients_resolve(ngx_pool_t *pool,
    ngx_http_llmgw_scope_tree_t *tree, ngx_array_t *clients,
    ngx_http_llmgw_clients_error_t *e);

/* names (ngx_str_t) to nodes of tree, or NULL with *bad set / no memory */
ngx_array_t *ngx_http_llmgw_clients_scopes(ngx_pool_t *pool,
    ngx_http_llmgw_scope_tree_t *tree, ngx_array_t *names, ngx_str_t *bad);

/*
 * The client a token's claims name: the first of names (a null-ended
 * list) present and not null; id empty when none is.  NGX_DECLINED when
 * that claim is not a string: an array, a number or an object names no
 * client, and no ceiling is chosen by a guess at what it meant.
 */
ngx_int_t ngx_http_llmgw_clients_token_id(json_t *claims, ngx_str_t *names,
    ngx_str_t *id);

/* the client of id in clients (sorted), or NULL */
ngx_http_llmgw_client_t *ngx_http_llmgw_clients_find(ngx_array_t *clients,
    ngx_str_t *id);

/*
 * granted (ngx_str_t) cut down to ceiling (scope_t *) in tree, into out
 * (ngx_str_t, each scope once): a granted scope at or below a ceiling
 * scope stays; a ceiling scope below a granted one takes its place (a
 * token's "all" under the ceiling "text" becomes "text"); a scope the
 * tree does not name is dropped.  The names point into tree or granted.
 */
ngx_int_t ngx_http_llmgw_clients_cut(ngx_http_llmgw_scope_tree_t *tree,
    ngx_array_t *ceiling, ngx_array_t *granted, ngx_array_t *out);

/*
 * Scope names separated by single spaces (a client's record in the
 * account state, ngx_http_llmgw_account.h) as an array of ngx_str_t in
 * pool, pointing into text; an empty text gives an empty array.  NULL
 * when out of memory.
 */
ngx_array_t *ngx_http_llmgw_clients_split(ngx_pool_t *pool, ngx_str_t *text);

/*
 * names (ngx_str_t) as one text separated by single spaces, in pool; NULL
 * or no names: empty.  NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_clients_join(ngx_pool_t *pool, ngx_array_t *names,
    ngx_str_t *text);

/*
 * A record's ceiling (names separated by single spaces) to nodes of tree
 * (scope_t *), in pool.  A name the tree no longer has (llmgw_scopes
 * changed since the record was made) is dropped, and the first one
 * dropped is set in *dropped (empty when none): the caller logs it.  The
 * array may be empty.  NULL when out of memory.
 */
ngx_array_t *ngx_http_llmgw_clients_ceiling(ngx_pool_t *pool,
    ngx_http_llmgw_scope_tree_t *tree, ngx_str_t *text, ngx_str_t *dropped);

/*
 * clients as the file ngx_http_llmgw_clients_parse() reads, in pool (the
 * fuzzer's round trip)
 */
ngx_int_t ngx_http_llmgw_clients_render(ngx_pool_t *pool,
    ngx_array_t *clients, ngx_str_t *text);


#endif /* _NGX_HTTP_LLMGW_CLIENTS_H_INCLUDED_ */
