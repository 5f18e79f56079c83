/* llmgw-unit-srcs: src/ngx_http_llmgw_zone.c */
/* llmgw-unit-srcs: t/unit/ngx_http_llmgw_unit_shm.c */
/* llmgw-unit-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * The "name:size" argument of the shared-zone directives: what is read
 * from a good one (name pointing into the argument, size by nginx's size
 * syntax), and each refusal with its exact words, read from the conf
 * reader stand-in's last error instead of being printed; and the steps
 * the zones' init callbacks share, on a slab made as the cycle makes one.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_zone.h"


static ngx_int_t ngx_http_llmgw_test_parse(ngx_pool_t *pool,
    const char *arg, size_t min_size, ngx_str_t *name, ssize_t *size);
static ngx_uint_t ngx_http_llmgw_test_refused(ngx_pool_t *pool,
    const char *arg, size_t min_size, const char *message);
static void ngx_http_llmgw_test_good(ngx_pool_t *pool);
static void ngx_http_llmgw_test_bad(ngx_pool_t *pool);
static void ngx_http_llmgw_test_init_steps(void);


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

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
