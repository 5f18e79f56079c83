
/*
 * Copyright (C) llmgw authors
 *
 * The "name:size" argument of llmgw's shared-zone directives, what
 * their init callbacks share, and the tree of the keyed zones.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_zone.h"


static ngx_inline size_t ngx_http_llmgw_zone_key_len(
    const ngx_http_llmgw_zone_key_t *k, u_char *node);
static ngx_int_t ngx_http_llmgw_zone_node_cmp(
    const ngx_http_llmgw_zone_key_t *k, u_char *a, u_char *b);
static ngx_int_t ngx_http_llmgw_zone_key_cmp(
    const ngx_http_llmgw_zone_key_t *k, ngx_uint_t kind, ngx_str_t *prefix,
    ngx_str_t *key, u_char *node);


ngx_int_t
ngx_http_llmgw_zone_parse(ngx_conf_t *cf, ngx_str_t *value, ngx_str_t *name,
    ssize_t *size, size_t min_size)
{
    u_char     *colon;
    ssize_t     n;
    ngx_str_t   s;

    colon = ngx_strlchr(value->data, value->data + value->len, ':');

    if (colon == NULL || colon == value->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", expected name:size", value);
        return NGX_ERROR;
    }

    s.data = colon + 1;
    s.len = value->data + value->len - s.data;

    n = ngx_parse_size(&s);

    if (n == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", value);
        return NGX_ERROR;
    }

    if ((size_t) n < min_size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", value);
        return NGX_ERROR;
    }

    name->data = value->data;
    name->len = colon - value->data;

    *size = n;

    return NGX_OK;
}


ngx_shm_zone_t *
ngx_http_llmgw_zone_add(ngx_conf_t *cf, ngx_str_t *value, void *tag,
    ngx_shm_zone_init_pt init, void *data)
{
    ssize_t          size;
    ngx_str_t        name;
    ngx_shm_zone_t  *shm_zone;

    if (ngx_http_llmgw_zone_parse(cf, value, &name, &size,
                                  NGX_HTTP_LLMGW_ZONE_MIN_SIZE)
        != NGX_OK)
    {
        return NULL;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size, tag);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used by another "
                           "llmgw directive", &name);
        return NULL;
    }

    shm_zone->init = init;
    shm_zone->data = data;

    return shm_zone;
}


ngx_int_t
ngx_http_llmgw_zone_same_size(ngx_shm_zone_t *shm_zone, size_t old_size,
    const char *what)
{
    if (old_size == shm_zone->shm.size) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "%s \"%V\" has size %uz while previously it had %uz",
                  what, &shm_zone->shm.name, shm_zone->shm.size, old_size);

    return NGX_ERROR;
}


void *
ngx_http_llmgw_zone_state(ngx_shm_zone_t *shm_zone)
{
    ngx_slab_pool_t  *shpool;

    if (!shm_zone->shm.exists) {
        return NULL;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    return shpool->data;
}


ngx_int_t
ngx_http_llmgw_zone_publish(ngx_shm_zone_t *shm_zone, void *sh,
    const char *what)
{
    size_t            len;
    ngx_slab_pool_t  *shpool;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    shpool->data = sh;

    len = sizeof(" in  \"\"") + ngx_strlen(what) + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in %s \"%V\"%Z", what,
                &shm_zone->shm.name);

    return NGX_OK;
}


void *
ngx_http_llmgw_zone_init_sh(ngx_shm_zone_t *shm_zone, void *data,
    size_t sh_size, const char *what, ngx_uint_t log_nomem, ngx_uint_t *made)
{
    void             *sh;
    ngx_slab_pool_t  *shpool;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    *made = 0;

    if (data != NULL) {

        /* a reload: the old zone's memory, its slab ending where it did */

        if (ngx_http_llmgw_zone_same_size(shm_zone,
                                    (size_t) (shpool->end - (u_char *) shpool),
                                    what)
            != NGX_OK)
        {
            return NULL;
        }

        return shpool->data;
    }

    sh = ngx_http_llmgw_zone_state(shm_zone);

    if (sh != NULL) {
        return sh;
    }

    sh = ngx_slab_calloc(shpool, sh_size);
    if (sh == NULL) {
        return NULL;
    }

    if (ngx_http_llmgw_zone_publish(shm_zone, sh, what) != NGX_OK) {
        return NULL;
    }

    shpool->log_nomem = log_nomem;

    *made = 1;

    return sh;
}


ngx_http_llmgw_zone_sh_t *
ngx_http_llmgw_zone_init_tree(ngx_shm_zone_t *shm_zone, void *data,
    size_t sh_size, ngx_rbtree_insert_pt insert, const char *what)
{
    ngx_uint_t                 made;
    ngx_http_llmgw_zone_sh_t  *sh;

    sh = ngx_http_llmgw_zone_init_sh(shm_zone, data, sh_size, what, 0,
                                     &made);

    if (made) {
        ngx_rbtree_init(&sh->rbtree, &sh->sentinel, insert);
        ngx_queue_init(&sh->queue);
    }

    return sh;
}


void
ngx_http_llmgw_zone_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel, const ngx_http_llmgw_zone_key_t *k)
{
    ngx_rbtree_node_t  **p;

    for ( ;; ) {

        if (node->key < temp->key) {

            p = &temp->left;

        } else if (node->key > temp->key) {

            p = &temp->right;

        } else { /* node->key == temp->key */

            p = (ngx_http_llmgw_zone_node_cmp(k, (u_char *) node,
                                              (u_char *) temp)
                 < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


ngx_rbtree_node_t *
ngx_http_llmgw_zone_find(ngx_rbtree_t *rbtree,
    const ngx_http_llmgw_zone_key_t *k, ngx_rbtree_key_t hash,
    ngx_uint_t kind, ngx_str_t *prefix, ngx_str_t *key)
{
    ngx_int_t           rc;
    ngx_rbtree_node_t  *node, *sentinel;

    node = rbtree->root;
    sentinel = rbtree->sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key: rarely more than the one compare */

        rc = ngx_http_llmgw_zone_key_cmp(k, kind, prefix, key,
                                         (u_char *) node);

        if (rc == 0) {
            return node;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


ngx_rbtree_node_t *
ngx_http_llmgw_zone_find_sha256(ngx_rbtree_t *rbtree,
    const ngx_http_llmgw_zone_key_t *k, u_char *sha256)
{
    ngx_str_t  key;

    key.data = sha256;
    key.len = NGX_HTTP_LLMGW_SHA256_LEN;

    return ngx_http_llmgw_zone_find(rbtree, k,
                                    ngx_http_llmgw_zone_sha256_hash(sha256),
                                    0, NULL, &key);
}


static ngx_inline size_t
ngx_http_llmgw_zone_key_len(const ngx_http_llmgw_zone_key_t *k, u_char *node)
{
    switch (k->width) {

    case sizeof(u_char):
        return node[k->len];

    case sizeof(u_short):
        return *(u_short *) (node + k->len);

    default: /* 0: a key of fixed length */
        return k->len;
    }
}


static ngx_int_t
ngx_http_llmgw_zone_node_cmp(const ngx_http_llmgw_zone_key_t *k, u_char *a,
    u_char *b)
{
    if (k->kind && a[k->kind] != b[k->kind]) {
        return (a[k->kind] < b[k->kind]) ? -1 : 1;
    }

    return ngx_memn2cmp(a + k->data, b + k->data,
                        ngx_http_llmgw_zone_key_len(k, a),
                        ngx_http_llmgw_zone_key_len(k, b));
}


/*
 * prefix then key against node's key, in the order node_cmp keeps,
 * without joining them: the prefix against as much of the node's bytes,
 * then the key against the rest.
 */

static ngx_int_t
ngx_http_llmgw_zone_key_cmp(const ngx_http_llmgw_zone_key_t *k,
    ngx_uint_t kind, ngx_str_t *prefix, ngx_str_t *key, u_char *node)
{
    size_t      len;
    u_char     *data;
    ngx_int_t   rc;

    if (k->kind && kind != node[k->kind]) {
        return (kind < node[k->kind]) ? -1 : 1;
    }

    data = node + k->data;
    len = ngx_http_llmgw_zone_key_len(k, node);

    if (prefix != NULL) {

        rc = ngx_memcmp(prefix->data, data, ngx_min(prefix->len, len));

        if (rc != 0) {
            return rc;
        }

        if (len < prefix->len) {
            return 1;
        }

        data += prefix->len;
        len -= prefix->len;
    }

    return ngx_memn2cmp(key->data, data, key->len, len);
}
