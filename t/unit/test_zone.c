/* llmgw-unit-srcs: src/ngx_http_llmgw_zone.c */
/* llmgw-unit-srcs: t/unit/ngx_http_llmgw_unit_shm.c */
/* llmgw-unit-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * The "name:size" argument of the shared-zone directives: what is read
 * from a good one (name pointing into the argument, size by nginx's size
 * syntax), and each refusal with its exact words, read from the conf
 * reader stand-in's last error instead of being printed; the steps
 * the zones' init callbacks share, on a slab made as the cycle makes one;
 * and the keyed zones' tree: entries of one hash ordered by kind and
 * bytes, found again by a key given whole or in two parts, for three
 * node layouts (a fixed key, a u_short length, a kind and a u_char
 * length).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_unit_shm.h"
#include "ngx_http_llmgw_zone.h"


static ngx_int_t ngx_http_llmgw_test_parse(ngx_pool_t *pool,
    const char *arg, size_t min_size, ngx_str_t *name, ssize_t *size);
static ngx_uint_t ngx_http_llmgw_test_refused(ngx_pool_t *pool,
    const char *arg, size_t min_size, const char *message);
static void ngx_http_llmgw_test_good(ngx_pool_t *pool);
static void ngx_http_llmgw_test_bad(ngx_pool_t *pool);
static void ngx_http_llmgw_test_init_steps(void);
static ngx_int_t ngx_http_llmgw_test_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_llmgw_test_init_sh(void);
static void ngx_http_llmgw_test_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_llmgw_test_fixed(void);
static void ngx_http_llmgw_test_var(void);
static void ngx_http_llmgw_test_kind(void);


/* three layouts of a keyed zone's node, as cache, limits and account */

typedef struct {
    ngx_rbtree_node_t          node;
    time_t                     expires;
    u_char                     key[4];
} ngx_http_llmgw_test_fixed_node_t;


typedef struct {
    ngx_rbtree_node_t          node;
    int64_t                    value;
    u_short                    len;
    u_char                     data[16];
} ngx_http_llmgw_test_var_node_t;


typedef struct {
    ngx_rbtree_node_t          node;
    u_char                     kind;
    u_char                     flag;
    u_char                     len;
    u_char                     data[8];
} ngx_http_llmgw_test_kind_node_t;


static const ngx_http_llmgw_zone_key_t  ngx_http_llmgw_test_fixed_key = {
    offsetof(ngx_http_llmgw_test_fixed_node_t, key), 4, 0, 0
};


static const ngx_http_llmgw_zone_key_t  ngx_http_llmgw_test_var_key = {
    offsetof(ngx_http_llmgw_test_var_node_t, data),
    offsetof(ngx_http_llmgw_test_var_node_t, len),
    sizeof(u_short),
    0
};


static const ngx_http_llmgw_zone_key_t  ngx_http_llmgw_test_kind_key = {
    offsetof(ngx_http_llmgw_test_kind_node_t, data),
    offsetof(ngx_http_llmgw_test_kind_node_t, len),
    sizeof(u_char),
    offsetof(ngx_http_llmgw_test_kind_node_t, kind)
};


/* "name\0key" states of one hash, split where a limit's lookup splits */

static ngx_str_t  ngx_http_llmgw_test_var_keys[] = {
    ngx_string("a"), ngx_string("a\0"), ngx_string("a\0x"),
    ngx_string("a\0xy"), ngx_string("a\0y"), ngx_string("ab\0"),
    ngx_string("ab\0x"), ngx_string("b\0"), ngx_string("\0"),
    ngx_string("\0a"), ngx_string("aa\0x"), ngx_null_string
};


/* not stored, of the same hash, as prefix and key */

static ngx_str_t  ngx_http_llmgw_test_var_absent[] = {
    ngx_string("ab"), ngx_string(""),           /* a stored key's start */
    ngx_string("ab\0"), ngx_string("xz"),       /* a stored key and more */
    ngx_string("a\0x"), ngx_string("z"),
    ngx_string(""), ngx_string(""),             /* the empty key */
    ngx_string("c"), ngx_string("\0")
};


/* insert_value has no context: the layout of the test at hand */
static const ngx_http_llmgw_zone_key_t  *ngx_http_llmgw_test_layout;

/* what the zone's init callback made */
static ngx_http_llmgw_zone_sh_t         *ngx_http_llmgw_test_sh;


/* arguments refused, the bound they are checked against, the words */

typedef struct {
    const char                *arg;
    size_t                     min_size;
    const char                *message;
    const char                *what;
} ngx_http_llmgw_test_bad_t;


static ngx_http_llmgw_test_bad_t  ngx_http_llmgw_test_bads[] = {
    { "nosize", 0, "invalid zone \"nosize\", expected name:size",
      "no ':' refused" },
    { ":1m", 0, "invalid zone \":1m\", expected name:size",
      "empty name refused" },
    { "", 0, "invalid zone \"\", expected name:size",
      "empty argument refused" },
    { "z:", 0, "invalid zone size \"z:\"", "empty size refused" },
    { "z:lots", 0, "invalid zone size \"z:lots\"",
      "a size that is no size refused" },
    { "z:-1m", 0, "invalid zone size \"z:-1m\"",
      "a negative size refused" },
    { "z:1g", 0, "invalid zone size \"z:1g\"",
      "a unit nginx's sizes do not have refused" },
    { "z:99999999999999999999999m", 0, "invalid zone size",
      "an overflowing size refused" },
    { "z:32767", 32 * 1024, "zone \"z:32767\" is too small",
      "one byte under min_size refused" },
    { NULL, 0, NULL, NULL }
};


static ngx_int_t
ngx_http_llmgw_test_parse(ngx_pool_t *pool, const char *arg,
    size_t min_size, ngx_str_t *name, ssize_t *size)
{
    ngx_str_t   value;
    ngx_conf_t  cf;

    ngx_http_llmgw_unit_conf(&cf, pool);

    value.data = (u_char *) arg;
    value.len = ngx_strlen(arg);

    ngx_str_null(name);
    *size = -1;

    ngx_http_llmgw_unit_last_conf_error[0] = '\0';

    return ngx_http_llmgw_zone_parse(&cf, &value, name, size, min_size);
}


/* refused with message, and nothing set */

static ngx_uint_t
ngx_http_llmgw_test_refused(ngx_pool_t *pool, const char *arg,
    size_t min_size, const char *message)
{
    ssize_t     size;
    ngx_int_t   rc;
    ngx_str_t   name;
    ngx_uint_t  before;

    before = ngx_http_llmgw_unit_conf_error_count;

    rc = ngx_http_llmgw_test_parse(pool, arg, min_size, &name, &size);

    return rc == NGX_ERROR
           && name.data == NULL
           && size == -1
           && ngx_http_llmgw_unit_conf_error_count == before + 1
           && ngx_strstr(ngx_http_llmgw_unit_last_conf_error, message)
              != NULL;
}


static void
ngx_http_llmgw_test_good(ngx_pool_t *pool)
{
    ssize_t      size;
    ngx_int_t    rc;
    ngx_str_t    name;
    const char  *arg;

    arg = "tokens:1m";
    rc = ngx_http_llmgw_test_parse(pool, arg, NGX_HTTP_LLMGW_ZONE_MIN_SIZE,
                                   &name, &size);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK
                         && name.len == 6
                         && name.data == (u_char *) arg
                         && size == 1024 * 1024
                         && ngx_http_llmgw_unit_last_conf_error[0] == '\0',
                         "name:1m: name points into the argument, 1 MiB");

    rc = ngx_http_llmgw_test_parse(pool, "z:2048K", 0, &name, &size);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && name.len == 1
                         && name.data[0] == 'z'
                         && size == 2048 * 1024,
                         "one-letter name, size in K (upper case)");

    rc = ngx_http_llmgw_test_parse(pool, "a:b:10m", 0, &name, &size);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_ERROR
                         && ngx_strstr(ngx_http_llmgw_unit_last_conf_error,
                                       "invalid zone size \"a:b:10m\"")
                            != NULL,
                         "the first ':' ends the name (\"b:10m\" no size)");

    rc = ngx_http_llmgw_test_parse(pool, "z:32768", 0, &name, &size);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && size == 32768,
                         "a size in bytes");

    /* the bound is inclusive, as nginx's own "size < 8 pages" refusal */

    rc = ngx_http_llmgw_test_parse(pool, "z:32k", 32 * 1024, &name, &size);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && size == 32 * 1024,
                         "a size equal to min_size accepted");

    NGX_HTTP_LLMGW_CHECK(NGX_HTTP_LLMGW_ZONE_MIN_SIZE
                         == (size_t) (8 * ngx_pagesize),
                         "the least zone is 8 pages, as nginx's zones");
}


static void
ngx_http_llmgw_test_bad(ngx_pool_t *pool)
{
    ngx_uint_t                   i;
    ngx_http_llmgw_test_bad_t   *t;

    for (i = 0; ngx_http_llmgw_test_bads[i].arg != NULL; i++) {
        t = &ngx_http_llmgw_test_bads[i];

        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused(pool, t->arg,
                                                          t->min_size,
                                                          t->message),
                             t->what);
    }

    /* the bound in pages, known at run time */

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused(pool, "z:4k",
                             NGX_HTTP_LLMGW_ZONE_MIN_SIZE,
                             "zone \"z:4k\" is too small"),
                         "a zone under 8 pages refused");
}


/* what a zone's init does with the helpers, on a mapped slab */

static void
ngx_http_llmgw_test_init_steps(void)
{
    u_char           *sh;
    ngx_shm_zone_t    zone;
    ngx_slab_pool_t  *sp;

    ngx_memzero(&zone, sizeof(ngx_shm_zone_t));
    ngx_str_set(&zone.shm.name, "heads");
    zone.shm.size = 64 * 1024;
    zone.shm.log = &ngx_http_llmgw_unit_log;

    if (ngx_shm_alloc(&zone.shm) != NGX_OK) {
        NGX_HTTP_LLMGW_CHECK(0, "a zone mapped");
        return;
    }

    sp = (ngx_slab_pool_t *) zone.shm.addr;
    sp->end = zone.shm.addr + zone.shm.size;
    sp->min_shift = 3;
    sp->addr = zone.shm.addr;

    if (ngx_shmtx_create(&sp->mutex, &sp->lock, NULL) != NGX_OK) {
        ngx_shm_free(&zone.shm);
        NGX_HTTP_LLMGW_CHECK(0, "a zone's mutex");
        return;
    }

    ngx_slab_init(sp);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_zone_same_size(&zone, 64 * 1024,
                                                       "llmgw_test_zone")
                         == NGX_OK,
                         "a reload at the same size is taken");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_zone_same_size(&zone, 32 * 1024,
                                                       "llmgw_test_zone")
                         == NGX_ERROR,
                         "a reload at another size is refused");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_zone_state(&zone) == NULL,
                         "a new zone has no state");

    sh = ngx_slab_alloc(sp, 128);

    NGX_HTTP_LLMGW_CHECK(sh != NULL
                         && ngx_http_llmgw_zone_publish(&zone, sh,
                                                        "llmgw_test_zone")
                            == NGX_OK
                         && sp->data == sh,
                         "the state published in the slab");

    NGX_HTTP_LLMGW_CHECK(sp->log_ctx != NULL
                         && ngx_strcmp(sp->log_ctx,
                                       " in llmgw_test_zone \"heads\"")
                            == 0,
                         "the slab's messages name the directive and zone");

    zone.shm.exists = 1;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_zone_state(&zone) == sh,
                         "a zone that exists gives its state back");

    ngx_shmtx_destroy(&sp->mutex);
    ngx_shm_free(&zone.shm);
}


/* a keyed zone's init callback, as the token cache's */

static ngx_int_t
ngx_http_llmgw_test_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llmgw_test_sh = ngx_http_llmgw_zone_init_tree(shm_zone, data,
                                 200, ngx_http_llmgw_test_insert,
                                 "llmgw_test_zone");

    return (ngx_http_llmgw_test_sh != NULL) ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_llmgw_test_init_sh(void)
{
    void                      *sh;
    ngx_uint_t                 made;
    ngx_shm_zone_t             zone, again;
    ngx_slab_pool_t           *sp;
    ngx_http_llmgw_zone_sh_t  *tree;

    ngx_memzero(&zone, sizeof(ngx_shm_zone_t));
    ngx_str_set(&zone.shm.name, "keys");
    zone.shm.size = 64 * 1024;
    zone.shm.log = &ngx_http_llmgw_unit_log;
    zone.init = ngx_http_llmgw_test_init_zone;
    zone.data = &zone;

    again = zone;

    if (ngx_http_llmgw_unit_zone_map(&zone, NULL) != NGX_OK) {
        NGX_HTTP_LLMGW_CHECK(0, "a keyed zone made");
        return;
    }

    sp = (ngx_slab_pool_t *) zone.shm.addr;
    tree = ngx_http_llmgw_test_sh;

    NGX_HTTP_LLMGW_CHECK(sp->data == tree
                         && tree->rbtree.root == &tree->sentinel
                         && tree->rbtree.sentinel == &tree->sentinel
                         && tree->rbtree.insert == ngx_http_llmgw_test_insert
                         && ngx_queue_empty(&tree->queue)
                         && ((u_char *) tree)[199] == 0,
                         "a new state: zeroed, published, its tree and "
                         "queue empty");

    NGX_HTTP_LLMGW_CHECK(sp->log_nomem == 0
                         && sp->log_ctx != NULL
                         && ngx_strcmp(sp->log_ctx,
                                       " in llmgw_test_zone \"keys\"")
                            == 0,
                         "the slab quiet when full, its messages naming "
                         "the zone");

    ngx_http_llmgw_test_sh = NULL;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_unit_zone_map(&again, &zone) == NGX_OK
                         && ngx_http_llmgw_test_sh == tree,
                         "a reload hands the old state over");

    /* again is mapped as the zone a master kept: shm.exists */

    made = 1;
    sh = ngx_http_llmgw_zone_init_sh(&again, NULL, 200, "llmgw_test_zone", 0,
                                     &made);

    NGX_HTTP_LLMGW_CHECK(sh == tree && made == 0,
                         "a zone that exists gives its state back, not "
                         "made");

    again.shm.size = 128 * 1024;
    ngx_http_llmgw_unit_last_log[0] = '\0';

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_zone_init_sh(&again, &zone, 200,
                                                     "llmgw_test_zone", 0,
                                                     &made)
                         == NULL
                         && ngx_strstr(ngx_http_llmgw_unit_last_log,
                                       "llmgw_test_zone \"keys\" has size "
                                       "131072 while previously it had "
                                       "65536")
                            != NULL,
                         "a reload at another size refused, both sizes "
                         "said");

    zone.shm.exists = 0;
    sp->data = NULL;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_zone_init_sh(&zone, NULL, 128 * 1024,
                                                     "llmgw_test_zone", 0,
                                                     &made)
                         == NULL,
                         "a state larger than the zone: NULL");

    /* a zone that allocates only at init keeps the slab's messages */

    sp->data = NULL;
    sp->log_nomem = 1;
    made = 0;

    sh = ngx_http_llmgw_zone_init_sh(&zone, NULL, 200, "llmgw_test_zone", 1,
                                     &made);

    NGX_HTTP_LLMGW_CHECK(sh != NULL && made == 1 && sp->data == sh
                         && sp->log_nomem == 1,
                         "log_nomem set: a new state, the slab's \"no "
                         "memory\" messages left on");

    ngx_http_llmgw_unit_zone_free(&zone);
}


static void
ngx_http_llmgw_test_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_http_llmgw_zone_insert(temp, node, sentinel,
                               ngx_http_llmgw_test_layout);
}


/* 64 keys, most of one hash, inserted in a scrambled order */

static void
ngx_http_llmgw_test_fixed(void)
{
    u_char                             k[4];
    ngx_str_t                          key;
    ngx_uint_t                         i, found, ordered;
    ngx_rbtree_t                       tree;
    ngx_rbtree_node_t                  sentinel, *node, *prev;
    ngx_http_llmgw_test_fixed_node_t   nodes[64];

    ngx_http_llmgw_test_layout = &ngx_http_llmgw_test_fixed_key;
    ngx_rbtree_init(&tree, &sentinel, ngx_http_llmgw_test_insert);

    for (i = 0; i < 64; i++) {
        nodes[i].node.key = (i % 8 == 0) ? 2 : 1;
        nodes[i].key[0] = (u_char) ((i * 37) % 64);
        nodes[i].key[1] = 0;
        nodes[i].key[2] = (u_char) (i & 1);
        nodes[i].key[3] = 0xff;
        ngx_rbtree_insert(&tree, &nodes[i].node);
    }

    found = 0;

    key.data = k;
    key.len = 4;

    for (i = 0; i < 64; i++) {
        ngx_memcpy(k, nodes[i].key, 4);

        node = ngx_http_llmgw_zone_find(&tree, &ngx_http_llmgw_test_fixed_key,
                                        nodes[i].node.key, 0, NULL, &key);
        found += (node == &nodes[i].node);
    }

    NGX_HTTP_LLMGW_CHECK(found == 64,
                         "every fixed key found, 56 of them of one hash");

    k[3] = 0xfe;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_zone_find(&tree,
                             &ngx_http_llmgw_test_fixed_key, 1, 0, NULL, &key)
                         == NULL,
                         "a key of a stored hash, its bytes not stored: "
                         "NULL");

    ngx_memcpy(k, nodes[1].key, 4);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_zone_find(&tree,
                             &ngx_http_llmgw_test_fixed_key, 3, 0, NULL, &key)
                         == NULL,
                         "stored bytes under another hash: NULL");

    /* in order: by hash, then by the bytes */

    ordered = 1;
    prev = NULL;

    for (node = ngx_rbtree_min(tree.root, &sentinel);
         node != NULL;
         node = ngx_rbtree_next(&tree, node))
    {
        if (prev != NULL
            && (prev->key > node->key
                || (prev->key == node->key
                    && ngx_memcmp(((ngx_http_llmgw_test_fixed_node_t *)
                                       prev)->key,
                                  ((ngx_http_llmgw_test_fixed_node_t *)
                                       node)->key, 4)
                       >= 0)))
        {
            ordered = 0;
        }

        prev = node;
    }

    NGX_HTTP_LLMGW_CHECK(ordered, "the tree in order of hash, then bytes");
}


static void
ngx_http_llmgw_test_var(void)
{
    size_t                           cut;
    ngx_str_t                        prefix, key;
    ngx_uint_t                       i, n, found, tried;
    ngx_rbtree_t                     tree;
    ngx_rbtree_node_t                sentinel, *node;
    ngx_http_llmgw_test_var_node_t   nodes[16];

    ngx_http_llmgw_test_layout = &ngx_http_llmgw_test_var_key;
    ngx_rbtree_init(&tree, &sentinel, ngx_http_llmgw_test_insert);

    for (n = 0; ngx_http_llmgw_test_var_keys[n].len != 0; n++) {
        nodes[n].node.key = 7;
        nodes[n].len = (u_short) ngx_http_llmgw_test_var_keys[n].len;
        ngx_memcpy(nodes[n].data, ngx_http_llmgw_test_var_keys[n].data,
                   nodes[n].len);

        ngx_rbtree_insert(&tree, &nodes[n].node);
    }

    found = 0;
    tried = 0;

    for (i = 0; i < n; i++) {

        /* every split: a prefix of 0 to len bytes, the rest the key */

        for (cut = 0; cut <= nodes[i].len; cut++) {
            prefix.data = nodes[i].data;
            prefix.len = cut;
            key.data = nodes[i].data + cut;
            key.len = nodes[i].len - cut;

            node = ngx_http_llmgw_zone_find(&tree,
                                            &ngx_http_llmgw_test_var_key, 7,
                                            0, &prefix, &key);
            found += (node == &nodes[i].node);
            tried++;
        }

        key.data = nodes[i].data;
        key.len = nodes[i].len;

        node = ngx_http_llmgw_zone_find(&tree, &ngx_http_llmgw_test_var_key,
                                        7, 0, NULL, &key);
        found += (node == &nodes[i].node);
        tried++;
    }

    NGX_HTTP_LLMGW_CHECK(found == tried && tried > n * 3,
                         "every key of one hash found, given whole or in "
                         "two parts split anywhere");

    found = 0;

    for (i = 0; i < sizeof(ngx_http_llmgw_test_var_absent)
                    / sizeof(ngx_str_t); i += 2)
    {
        node = ngx_http_llmgw_zone_find(&tree, &ngx_http_llmgw_test_var_key,
                                        7, 0,
                                        &ngx_http_llmgw_test_var_absent[i],
                                        &ngx_http_llmgw_test_var_absent[i + 1]);
        found += (node != NULL);
    }

    NGX_HTTP_LLMGW_CHECK(found == 0,
                         "keys of the hash not stored (a stored key's "
                         "start, a stored key and more, the empty key): "
                         "NULL");
}


/* one id under two kinds, of one hash, told apart by the kind */

static void
ngx_http_llmgw_test_kind(void)
{
    ngx_str_t                         key;
    ngx_uint_t                        i;
    ngx_rbtree_t                      tree;
    ngx_rbtree_node_t                 sentinel;
    ngx_http_llmgw_test_kind_node_t   nodes[6];

    ngx_http_llmgw_test_layout = &ngx_http_llmgw_test_kind_key;
    ngx_rbtree_init(&tree, &sentinel, ngx_http_llmgw_test_insert);

    for (i = 0; i < 6; i++) {
        nodes[i].node.key = 5;
        nodes[i].kind = (u_char) (3 - i % 3);
        nodes[i].flag = 0xff;
        nodes[i].len = (u_char) (1 + i / 3);
        ngx_memcpy(nodes[i].data, "alice", nodes[i].len);

        ngx_rbtree_insert(&tree, &nodes[i].node);
    }

    ngx_str_set(&key, "a");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_zone_find(&tree,
                             &ngx_http_llmgw_test_kind_key, 5, 3, NULL, &key)
                         == &nodes[0].node
                         && ngx_http_llmgw_zone_find(&tree,
                                &ngx_http_llmgw_test_kind_key, 5, 1, NULL,
                                &key)
                            == &nodes[2].node,
                         "one id, each kind its own entry");

    ngx_str_set(&key, "al");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_zone_find(&tree,
                             &ngx_http_llmgw_test_kind_key, 5, 2, NULL, &key)
                         == &nodes[4].node,
                         "a longer id of a kind, its length a u_char");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_zone_find(&tree,
                             &ngx_http_llmgw_test_kind_key, 5, 4, NULL, &key)
                         == NULL,
                         "an id under a kind it is not kept as: NULL");
}


int
main(void)
{
    ngx_pool_t  *pool;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 1;
    }

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        return 1;
    }

    ngx_http_llmgw_unit_quiet = 1;

    ngx_http_llmgw_test_good(pool);
    ngx_http_llmgw_test_bad(pool);
    ngx_http_llmgw_test_init_steps();
    ngx_http_llmgw_test_init_sh();
    ngx_http_llmgw_test_fixed();
    ngx_http_llmgw_test_var();
    ngx_http_llmgw_test_kind();

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
