/* llmgw-unit-srcs: */
/* llmgw-unit-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * The harness itself: the nginx core objects linked into every unit test
 * work as they do in nginx (pools with cleanups, formatting, arrays, lists,
 * hashes, rbtrees, a slab allocator in a shared-memory zone under its
 * mutex), and the log and conf stand-ins record what they are given.  Also
 * the example to copy when adding a test.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_unit.h"


typedef struct {
    ngx_rbtree_node_t          node;
    ngx_uint_t                 value;
} ngx_http_llmgw_unit_node_t;


static void ngx_http_llmgw_test_cleanup(void *data);
static void ngx_http_llmgw_test_pool(void);
static void ngx_http_llmgw_test_string(void);
static void ngx_http_llmgw_test_containers(void);
static void ngx_http_llmgw_test_slab(void);
static void ngx_http_llmgw_test_logs(void);


static ngx_uint_t  ngx_http_llmgw_test_cleaned;


static void
ngx_http_llmgw_test_cleanup(void *data)
{
    ngx_http_llmgw_test_cleaned += (ngx_uint_t) (uintptr_t) data;
}


static void
ngx_http_llmgw_test_pool(void)
{
    u_char              *p;
    ngx_uint_t           i;
    ngx_pool_t          *pool;
    ngx_pool_cleanup_t  *cln;

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    NGX_HTTP_LLMGW_CHECK(pool != NULL, "pool created");

    if (pool == NULL) {
        return;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    NGX_HTTP_LLMGW_CHECK(cln != NULL, "pool cleanup added");

    if (cln != NULL) {
        cln->handler = ngx_http_llmgw_test_cleanup;
        cln->data = (void *) (uintptr_t) 7;
    }

    /* small allocations, and large ones past the pool's max */
    for (i = 0; i < 100; i++) {
        p = ngx_pnalloc(pool, 64);
        if (p == NULL) {
            break;
        }
        ngx_memset(p, 'x', 64);
    }

    NGX_HTTP_LLMGW_CHECK(i == 100, "100 small allocations");

    p = ngx_palloc(pool, 64 * 1024);
    NGX_HTTP_LLMGW_CHECK(p != NULL, "large allocation");

    NGX_HTTP_LLMGW_CHECK(p != NULL && ngx_pfree(pool, p) == NGX_OK,
                         "large allocation freed");

    ngx_destroy_pool(pool);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_cleaned == 7,
                         "pool cleanup ran on destroy");
}


static void
ngx_http_llmgw_test_string(void)
{
    u_char     buf[64], *p;
    ngx_str_t  s = ngx_string("Hello");

    p = ngx_snprintf(buf, sizeof(buf), "%V:%ui:%s:%xd", &s, (ngx_uint_t) 42,
                     "z", 255);

    NGX_HTTP_LLMGW_CHECK((size_t) (p - buf) == sizeof("Hello:42:z:ff") - 1
                         && ngx_strncmp(buf, "Hello:42:z:ff", p - buf) == 0,
                         "ngx_snprintf formats");

    NGX_HTTP_LLMGW_CHECK(ngx_atoi((u_char *) "12345", 5) == 12345
                         && ngx_atoi((u_char *) "12a", 3) == NGX_ERROR,
                         "ngx_atoi");

    NGX_HTTP_LLMGW_CHECK(ngx_strncasecmp((u_char *) "ABC", (u_char *) "abc",
                                         3) == 0,
                         "ngx_strncasecmp");
}


static void
ngx_http_llmgw_test_containers(void)
{
    ngx_str_t                    *v, name;
    ngx_uint_t                    i, sum, key;
    ngx_list_t                   *list;
    ngx_pool_t                   *pool;
    ngx_array_t                  *a;
    ngx_hash_t                    hash;
    ngx_rbtree_t                  tree;
    ngx_hash_key_t               *hk;
    ngx_list_part_t              *part;
    ngx_hash_init_t               hinit;
    ngx_rbtree_node_t             sentinel, *n;
    ngx_http_llmgw_unit_node_t   *nodes;

    static ngx_str_t  names[] = {
        ngx_string("alpha"), ngx_string("beta"), ngx_string("gamma")
    };

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "pool for containers");
        return;
    }

    a = ngx_array_create(pool, 2, sizeof(ngx_uint_t));

    for (i = 0; a != NULL && i < 50; i++) {
        *(ngx_uint_t *) ngx_array_push(a) = i;
    }

    sum = 0;
    for (i = 0; a != NULL && i < a->nelts; i++) {
        sum += ((ngx_uint_t *) a->elts)[i];
    }

    NGX_HTTP_LLMGW_CHECK(a != NULL && a->nelts == 50 && sum == 1225,
                         "ngx_array grows");

    list = ngx_list_create(pool, 3, sizeof(ngx_uint_t));
    for (i = 0; list != NULL && i < 10; i++) {
        *(ngx_uint_t *) ngx_list_push(list) = i;
    }

    sum = 0;
    for (part = list ? &list->part : NULL; part != NULL; part = part->next) {
        for (i = 0; i < part->nelts; i++) {
            sum += ((ngx_uint_t *) part->elts)[i];
        }
    }

    NGX_HTTP_LLMGW_CHECK(sum == 45, "ngx_list spans parts");

    a = ngx_array_create(pool, 3, sizeof(ngx_hash_key_t));
    for (i = 0; a != NULL && i < 3; i++) {
        hk = ngx_array_push(a);
        hk->key = names[i];
        hk->key_hash = ngx_hash_key_lc(names[i].data, names[i].len);
        hk->value = &names[i];
    }

    hinit.hash = &hash;
    hinit.key = ngx_hash_key_lc;
    hinit.max_size = 64;
    hinit.bucket_size = ngx_align(64, ngx_cacheline_size);
    hinit.name = "test_hash";
    hinit.pool = pool;
    hinit.temp_pool = NULL;

    NGX_HTTP_LLMGW_CHECK(a != NULL
                         && ngx_hash_init(&hinit, a->elts, a->nelts) == NGX_OK,
                         "ngx_hash_init");

    ngx_str_set(&name, "beta");
    key = ngx_hash_key_lc(name.data, name.len);
    v = ngx_hash_find(&hash, key, name.data, name.len);

    NGX_HTTP_LLMGW_CHECK(v == &names[1], "ngx_hash_find hit");

    ngx_str_set(&name, "delta");
    key = ngx_hash_key_lc(name.data, name.len);

    NGX_HTTP_LLMGW_CHECK(ngx_hash_find(&hash, key, name.data, name.len)
                         == NULL, "ngx_hash_find miss");

    ngx_rbtree_init(&tree, &sentinel, ngx_rbtree_insert_value);

    nodes = ngx_pcalloc(pool, 100 * sizeof(ngx_http_llmgw_unit_node_t));
    for (i = 0; nodes != NULL && i < 100; i++) {
        nodes[i].node.key = (i * 37) % 100;
        nodes[i].value = i;
        ngx_rbtree_insert(&tree, &nodes[i].node);
    }

    n = ngx_rbtree_min(tree.root, tree.sentinel);
    sum = 0;
    key = 0;

    while (n != NULL) {
        if (n->key < key) {
            break;
        }
        key = n->key;
        sum++;
        n = ngx_rbtree_next(&tree, n);
    }

    NGX_HTTP_LLMGW_CHECK(sum == 100, "ngx_rbtree in order");

    ngx_destroy_pool(pool);
}


static void
ngx_http_llmgw_test_slab(void)
{
    void             *p[4096];
    ngx_uint_t        i, n;
    ngx_shm_t         shm;
    ngx_slab_pool_t  *sp;

    ngx_memzero(&shm, sizeof(ngx_shm_t));
    shm.size = 64 * ngx_pagesize;
    ngx_str_set(&shm.name, "llmgw_unit");
    shm.log = &ngx_http_llmgw_unit_log;

    if (ngx_shm_alloc(&shm) != NGX_OK) {
        NGX_HTTP_LLMGW_CHECK(0, "ngx_shm_alloc");
        return;
    }

    sp = (ngx_slab_pool_t *) shm.addr;
    sp->end = shm.addr + shm.size;
    sp->min_shift = 3;
    sp->addr = shm.addr;

    NGX_HTTP_LLMGW_CHECK(ngx_shmtx_create(&sp->mutex, &sp->lock, NULL)
                         == NGX_OK, "ngx_shmtx_create");

    ngx_slab_init(sp);

    ngx_http_llmgw_unit_quiet = 1;

    ngx_shmtx_lock(&sp->mutex);

    for (n = 0; n < 4096; n++) {
        p[n] = ngx_slab_alloc_locked(sp, 200);
        if (p[n] == NULL) {
            break;
        }
    }

    ngx_shmtx_unlock(&sp->mutex);

    ngx_http_llmgw_unit_quiet = 0;

    NGX_HTTP_LLMGW_CHECK(n > 100 && n < 4096,
                         "slab fills up and then refuses");

    for (i = 0; i < n; i++) {
        ngx_slab_free(sp, p[i]);
    }

    p[0] = ngx_slab_alloc(sp, 200);

    NGX_HTTP_LLMGW_CHECK(p[0] != NULL, "slab usable again after free");

    ngx_shmtx_destroy(&sp->mutex);
    ngx_shm_free(&shm);
}


static void
ngx_http_llmgw_test_logs(void)
{
    ngx_str_t   name;
    ngx_conf_t  cf;
    ngx_pool_t  *pool;

    ngx_http_llmgw_unit_quiet = 1;

    ngx_log_error(NGX_LOG_ERR, &ngx_http_llmgw_unit_log, 0, "x=%d", 5);

    NGX_HTTP_LLMGW_CHECK(ngx_strcmp(ngx_http_llmgw_unit_last_log, "x=5")
                         == 0, "ngx_log_error recorded");

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "pool for conf");
        return;
    }

    ngx_http_llmgw_unit_conf(&cf, pool);

    ngx_conf_log_error(NGX_LOG_EMERG, &cf, 0, "bad \"%V\"", &cf.cycle->prefix);

    NGX_HTTP_LLMGW_CHECK(ngx_strncmp(ngx_http_llmgw_unit_last_conf_error,
                                     "bad \"/", 6) == 0,
                         "ngx_conf_log_error recorded");

    ngx_str_set(&name, "keys/a.pem");

    NGX_HTTP_LLMGW_CHECK(ngx_conf_full_name(cf.cycle, &name, 1) == NGX_OK
                         && name.data[0] == '/'
                         && name.len == cf.cycle->conf_prefix.len + 10,
                         "ngx_conf_full_name resolves a relative name");

    ngx_str_set(&name, "/etc/x");

    NGX_HTTP_LLMGW_CHECK(ngx_conf_full_name(cf.cycle, &name, 1) == NGX_OK
                         && name.len == 6,
                         "ngx_conf_full_name keeps an absolute name");

    ngx_http_llmgw_unit_quiet = 0;

    ngx_destroy_pool(pool);
}


int
main(void)
{
    int  rc;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    ngx_http_llmgw_test_pool();
    ngx_http_llmgw_test_string();
    ngx_http_llmgw_test_containers();
    ngx_http_llmgw_test_slab();
    ngx_http_llmgw_test_logs();

    rc = ngx_http_llmgw_unit_done();

    ngx_http_llmgw_unit_cleanup();

    return rc;
}
