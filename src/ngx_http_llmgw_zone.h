
/*
 * Copyright (C) llmgw authors
 *
 * The shared zones of llmgw (the token cache, JWKS key sets, the audit
 * chain heads; limits, metrics, revocation next): the "name:size"
 * argument of every zone directive, read one way and refused in nginx's
 * words, the steps every zone's init callback shares, and the tree of a
 * zone whose entries are found by a key (hash, then bytes).
 */


#ifndef _NGX_HTTP_LLMGW_ZONE_H_INCLUDED_
#define _NGX_HTTP_LLMGW_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw.h"


/* the smallest zone nginx's own zone directives accept: 8 pages */
#define NGX_HTTP_LLMGW_ZONE_MIN_SIZE   (8 * ngx_pagesize)


/*
 * The state of a keyed zone (token cache, DPoP replay, limits) begins
 * with this: its entries' tree and a queue of them.
 */
typedef struct {
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  queue;
} ngx_http_llmgw_zone_sh_t;


/*
 * Where the nodes of a keyed zone keep their key.  A node begins with its
 * ngx_rbtree_node_t, whose key is the hash of the entry's key; entries of
 * equal hash are ordered by their kind (a byte at offset kind, where the
 * zone keeps several kinds; 0: none), then by the key's bytes as
 * ngx_memn2cmp() orders them: at offset data, len bytes long, the length
 * read from offset len as a u_char (width 1) or a u_short (width 2), or
 * always len bytes (width 0).
 */
typedef struct {
    size_t                       data;
    size_t                       len;
    size_t                       width;
    size_t                       kind;
} ngx_http_llmgw_zone_key_t;


/*
 * Splits value ("name:size") into *name (pointing into value) and *size.
 * NGX_ERROR after an emerg message naming value: no ':' or an empty name
 * ("invalid zone \"%V\", expected name:size"), a size ngx_parse_size()
 * refuses ("invalid zone size \"%V\""), or one under min_size ("zone
 * \"%V\" is too small").
 */
ngx_int_t ngx_http_llmgw_zone_parse(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *name, ssize_t *size, size_t min_size);

/*
 * The zone of a "name:size" directive argument: parsed as above, added
 * to the cycle under tag (the owner of its kind of zone), refused when a
 * zone of that name and tag was already added by another directive ("zone
 * \"NAME\" is already used by another llmgw directive"), and given init
 * and data.  NULL after an emerg message or without memory.
 */
ngx_shm_zone_t *ngx_http_llmgw_zone_add(ngx_conf_t *cf, ngx_str_t *value,
    void *tag, ngx_shm_zone_init_pt init, void *data);

/*
 * A reload hands a zone over only at the same size (nginx makes a new
 * zone otherwise); said anyway in what's words ("WHAT \"NAME\" has size
 * N while previously it had M") and NGX_ERROR when old_size differs.
 */
ngx_int_t ngx_http_llmgw_zone_same_size(ngx_shm_zone_t *shm_zone,
    size_t old_size, const char *what);

/*
 * The state a zone already holds when it is initialised anew (a master
 * that kept it: shm.exists), published by ngx_http_llmgw_zone_publish;
 * NULL when the caller must make it.
 */
void *ngx_http_llmgw_zone_state(ngx_shm_zone_t *shm_zone);

/*
 * The state sh, made in the zone's slab, published for
 * ngx_http_llmgw_zone_state, and the slab's messages named
 * " in WHAT \"NAME\"".  NGX_OK, or NGX_ERROR when the slab is full.
 */
ngx_int_t ngx_http_llmgw_zone_publish(ngx_shm_zone_t *shm_zone, void *sh,
    const char *what);


/*
 * What a zone's init callback (given data as nginx gives it) starts
 * with: the state, sh_size bytes in the zone's slab.  On a reload (data
 * set: nginx hands over the old zone at the same size) or when the zone
 * exists already, the state published there, *made 0; else a new one,
 * zeroed and published as ngx_http_llmgw_zone_publish does, *made 1,
 * for the caller to fill, the slab's own "no memory" messages left on
 * when log_nomem is set (a zone that allocates only here), else off
 * (every keyed zone answers a full slab itself).  NULL on error.
 */
void *ngx_http_llmgw_zone_init_sh(ngx_shm_zone_t *shm_zone, void *data,
    size_t sh_size, const char *what, ngx_uint_t log_nomem, ngx_uint_t *made);

/*
 * ngx_http_llmgw_zone_init_sh for a state that begins with an
 * ngx_http_llmgw_zone_sh_t: a new one gets its tree (ordered by insert)
 * and its queue, empty.  NULL on error.
 */
ngx_http_llmgw_zone_sh_t *ngx_http_llmgw_zone_init_tree(
    ngx_shm_zone_t *shm_zone, void *data, size_t sh_size,
    ngx_rbtree_insert_pt insert, const char *what);

/*
 * The body of a keyed zone's insert_value: node put where k's order
 * says, below temp.
 */
void ngx_http_llmgw_zone_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel,
    const ngx_http_llmgw_zone_key_t *k);

/*
 * The node of rbtree whose key is (hash, kind, bytes), the bytes given
 * as prefix (NULL: none) then key, so that a caller need not join them;
 * NULL when there is none.
 */
ngx_rbtree_node_t *ngx_http_llmgw_zone_find(ngx_rbtree_t *rbtree,
    const ngx_http_llmgw_zone_key_t *k, ngx_rbtree_key_t hash,
    ngx_uint_t kind, ngx_str_t *prefix, ngx_str_t *key);


/*
 * ngx_http_llmgw_zone_find for a zone keyed by a SHA-256, k's bytes
 * NGX_HTTP_LLMGW_SHA256_LEN of them, its hash that of sha256_hash below.
 */
ngx_rbtree_node_t *ngx_http_llmgw_zone_find_sha256(ngx_rbtree_t *rbtree,
    const ngx_http_llmgw_zone_key_t *k, u_char *sha256);


/* a SHA-256 is uniformly distributed: its first bytes are a hash */

static ngx_inline ngx_rbtree_key_t
ngx_http_llmgw_zone_sha256_hash(u_char *sha256)
{
    ngx_rbtree_key_t  hash;

    ngx_memcpy(&hash, sha256, sizeof(ngx_rbtree_key_t));

    return hash;
}


#endif /* _NGX_HTTP_LLMGW_ZONE_H_INCLUDED_ */
