/* llmgw-unit-srcs: src/ngx_http_llmgw_cache.c src/ngx_http_llmgw_zone.c */
/* llmgw-unit-srcs: t/unit/ngx_http_llmgw_unit_shm.c */
/* llmgw-unit-libs: -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * The verified-token cache: the zone directive, then store, hit, miss,
 * expiry, replacement, LRU eviction of a full zone, oversized entries,
 * many keys, keys that share the rbtree key, and reuse on reload, on a
 * real slab pool in shared memory; then the worker's local table in front
 * of it: hit, references, expiry, replacement, refusals, its bounds in
 * entries and in bytes, LRU order, and its cleanup.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_unit_shm.h"
#include "ngx_http_llmgw_cache.h"


typedef struct {
    ngx_shm_zone_t            *zone;
} ngx_http_llmgw_test_conf_t;


static char *ngx_http_llmgw_test_directive(ngx_pool_t *pool,
    ngx_http_llmgw_test_conf_t *conf, const char *arg);
static ngx_shm_zone_t *ngx_http_llmgw_test_zone(ngx_pool_t *pool,
    const char *arg);
static void ngx_http_llmgw_test_key(u_char *key, ngx_uint_t n);
static ngx_int_t ngx_http_llmgw_test_store(ngx_shm_zone_t *zone,
    ngx_uint_t n, size_t len, time_t expires, time_t now);
static ngx_uint_t ngx_http_llmgw_test_hit(ngx_shm_zone_t *zone,
    ngx_pool_t *pool, ngx_uint_t n, size_t len, time_t now);
static void ngx_http_llmgw_test_directives(ngx_pool_t *pool);
static void ngx_http_llmgw_test_basic(ngx_pool_t *pool);
static void ngx_http_llmgw_test_expiry(ngx_pool_t *pool);
static void ngx_http_llmgw_test_lru(ngx_pool_t *pool);
static void ngx_http_llmgw_test_sizes(ngx_pool_t *pool);
static void ngx_http_llmgw_test_many(ngx_pool_t *pool);
static void ngx_http_llmgw_test_reload(ngx_pool_t *pool);
static ngx_int_t ngx_http_llmgw_test_local_store(ngx_shm_zone_t *zone,
    ngx_uint_t n, json_t *claims, size_t len, time_t expires, time_t now);
static json_t *ngx_http_llmgw_test_local_hit(ngx_shm_zone_t *zone,
    ngx_pool_t *pool, ngx_uint_t n, time_t now);
static void ngx_http_llmgw_test_local(ngx_pool_t *pool);
static void ngx_http_llmgw_test_local_bounds(ngx_pool_t *pool);


/* the module's tag; only its address matters here */
ngx_module_t  ngx_http_llmgw_module;


static char *
ngx_http_llmgw_test_directive(ngx_pool_t *pool,
    ngx_http_llmgw_test_conf_t *conf, const char *arg)
{
    return ngx_http_llmgw_unit_zone_directive(pool, ngx_http_llmgw_cache_zone, "llmgw_token_cache_zone", conf,
               offsetof(ngx_http_llmgw_test_conf_t, zone), arg);
}


#define NGX_HTTP_LLMGW_TEST_NOW  1700000000


/* the directive, then what the cycle does for the zone */

static ngx_shm_zone_t *
ngx_http_llmgw_test_zone(ngx_pool_t *pool, const char *arg)
{
    ngx_http_llmgw_test_conf_t  conf;

    conf.zone = NULL;

    if (ngx_http_llmgw_test_directive(pool, &conf, arg) != NGX_CONF_OK
        || conf.zone == NULL
        || ngx_http_llmgw_unit_zone_map(conf.zone, NULL) != NGX_OK)
    {
        return NULL;
    }

    return conf.zone;
}


/* a distinct 32-byte key per n; keys share their first 8 bytes in pairs */

static void
ngx_http_llmgw_test_key(u_char *key, ngx_uint_t n)
{
    ngx_uint_t  i, h;

    h = (n / 2) * 2654435761u + 12345;

    for (i = 0; i < NGX_HTTP_LLMGW_SHA256_LEN; i++) {
        key[i] = (u_char) (h >> ((i % 4) * 8)) ^ (u_char) i;
    }

    /* the tail differs within a pair: same rbtree key, different hash */
    key[NGX_HTTP_LLMGW_SHA256_LEN - 1] = (u_char) (n & 1);
    key[NGX_HTTP_LLMGW_SHA256_LEN - 2] = (u_char) (n >> 8);
    key[NGX_HTTP_LLMGW_SHA256_LEN - 3] = (u_char) n;
}


/* stores entry n: typ "at+jwt", payload of len bytes derived from n */

static ngx_int_t
ngx_http_llmgw_test_store(ngx_shm_zone_t *zone, ngx_uint_t n, size_t len,
    time_t expires, time_t now)
{
    u_char                        key[NGX_HTTP_LLMGW_SHA256_LEN], *p;
    size_t                        i;
    ngx_int_t                     rc;
    ngx_http_llmgw_cache_entry_t  entry;

    p = ngx_alloc(len + 1, &ngx_http_llmgw_unit_log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < len; i++) {
        p[i] = (u_char) ('a' + (n + i) % 26);
    }

    ngx_http_llmgw_test_key(key, n);

    ngx_memzero(&entry, sizeof(ngx_http_llmgw_cache_entry_t));

    entry.expires = expires;
    ngx_memset(entry.key_fp, (int) (n & 0xff), NGX_HTTP_LLMGW_SHA256_LEN);
    entry.alg = (ngx_http_llmgw_alg_e) (n % NGX_HTTP_LLMGW_ALG_COUNT);
    ngx_str_set(&entry.typ, "at+jwt");
    entry.payload.data = p;
    entry.payload.len = len;

    rc = ngx_http_llmgw_cache_store(zone, key, &entry, now);

    /* the cache keeps its own copy */
    ngx_memset(p, 'X', len);
    ngx_free(p);

    return rc;
}


/* whether entry n is there with the content ngx_http_llmgw_test_store gave */

static ngx_uint_t
ngx_http_llmgw_test_hit(ngx_shm_zone_t *zone, ngx_pool_t *pool,
    ngx_uint_t n, size_t len, time_t now)
{
    u_char                        key[NGX_HTTP_LLMGW_SHA256_LEN];
    u_char                        fp[NGX_HTTP_LLMGW_SHA256_LEN];
    size_t                        i;
    ngx_http_llmgw_cache_entry_t  entry;

    ngx_http_llmgw_test_key(key, n);

    if (ngx_http_llmgw_cache_lookup(zone, key, now, pool, &entry) != NGX_OK) {
        return 0;
    }

    ngx_memset(fp, (int) (n & 0xff), NGX_HTTP_LLMGW_SHA256_LEN);

    if (entry.payload.len != len
        || entry.typ.len != 6
        || ngx_strncmp(entry.typ.data, "at+jwt", 6) != 0
        || ngx_memcmp(entry.key_fp, fp, NGX_HTTP_LLMGW_SHA256_LEN) != 0
        || entry.alg != (ngx_http_llmgw_alg_e) (n % NGX_HTTP_LLMGW_ALG_COUNT)
        || entry.payload.data[len] != '\0')
    {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (entry.payload.data[i] != (u_char) ('a' + (n + i) % 26)) {
            return 0;
        }
    }

    return 1;
}


static void
ngx_http_llmgw_test_directives(ngx_pool_t *pool)
{
    char                        *rv;
    ngx_http_llmgw_test_conf_t   conf;

    conf.zone = NULL;

    /* the refusals are read from last_conf_error, not printed */
    ngx_http_llmgw_unit_quiet = 1;

    rv = ngx_http_llmgw_test_directive(pool, &conf, "nosize");
    NGX_HTTP_LLMGW_CHECK(rv == NGX_CONF_ERROR && conf.zone == NULL
                         && ngx_strstr(ngx_http_llmgw_unit_last_conf_error,
                                       "expected name:size") != NULL,
                         "name without size refused");

    rv = ngx_http_llmgw_test_directive(pool, &conf, ":1m");
    NGX_HTTP_LLMGW_CHECK(rv == NGX_CONF_ERROR && conf.zone == NULL,
                         "empty name refused");

    rv = ngx_http_llmgw_test_directive(pool, &conf, "z:lots");
    NGX_HTTP_LLMGW_CHECK(rv == NGX_CONF_ERROR
                         && ngx_strstr(ngx_http_llmgw_unit_last_conf_error,
                                       "invalid zone size") != NULL,
                         "bad size refused");

    rv = ngx_http_llmgw_test_directive(pool, &conf, "z:4k");
    NGX_HTTP_LLMGW_CHECK(rv == NGX_CONF_ERROR
                         && ngx_strstr(ngx_http_llmgw_unit_last_conf_error,
                                       "too small") != NULL,
                         "zone under 8 pages refused");

    rv = ngx_http_llmgw_test_directive(pool, &conf, "tokens:1m");
    NGX_HTTP_LLMGW_CHECK(rv == NGX_CONF_OK && conf.zone != NULL
                         && conf.zone->shm.size == 1024 * 1024
                         && conf.zone->shm.name.len == 6
                         && conf.zone->tag != NULL
                         && conf.zone->tag != &ngx_http_llmgw_module
                         && conf.zone->init != NULL,
                         "name:size declares the zone, under the cache's "
                         "own tag");

    rv = ngx_http_llmgw_test_directive(pool, &conf, "other:1m");
    NGX_HTTP_LLMGW_CHECK(rv != NGX_CONF_OK && rv != NGX_CONF_ERROR
                         && ngx_strcmp(rv, "is duplicate") == 0,
                         "second directive is duplicate");

    conf.zone = NULL;

    rv = ngx_http_llmgw_test_directive(pool, &conf, "tokens:1m");
    NGX_HTTP_LLMGW_CHECK(rv == NGX_CONF_ERROR
                         && ngx_strstr(ngx_http_llmgw_unit_last_conf_error,
                                       "already used") != NULL,
                         "zone name used twice refused");

    ngx_http_llmgw_unit_quiet = 0;
}


static void
ngx_http_llmgw_test_basic(ngx_pool_t *pool)
{
    u_char                        key[NGX_HTTP_LLMGW_SHA256_LEN];
    time_t                        now;
    ngx_int_t                     rc;
    ngx_shm_zone_t               *zone;
    ngx_http_llmgw_cache_entry_t  entry;

    now = NGX_HTTP_LLMGW_TEST_NOW;

    zone = ngx_http_llmgw_test_zone(pool, "basic:256k");
    NGX_HTTP_LLMGW_CHECK(zone != NULL, "zone initialised");

    if (zone == NULL) {
        return;
    }

    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_hit(zone, pool, 1, 100, now),
                         "empty cache misses");

    rc = ngx_http_llmgw_test_store(zone, 1, 100, now + 60, now);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK, "entry stored");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_hit(zone, pool, 1, 100, now),
                         "stored entry hits with its typ, key_fp, payload");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_hit(zone, pool, 1, 100, now + 59),
                         "hit until just before expiry");

    /* entry 0 shares entry 1's first bytes: the full 32 are compared */

    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_hit(zone, pool, 0, 100, now),
                         "key with the same rbtree key misses");

    rc = ngx_http_llmgw_test_store(zone, 0, 50, now + 60, now);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK
                         && ngx_http_llmgw_test_hit(zone, pool, 0, 50, now)
                         && ngx_http_llmgw_test_hit(zone, pool, 1, 100, now),
                         "two keys with the same rbtree key kept apart");

    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_hit(zone, pool, 2, 100, now),
                         "other key misses");

    /* replace: a new payload under the same key */

    rc = ngx_http_llmgw_test_store(zone, 1, 300, now + 120, now);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK
                         && ngx_http_llmgw_test_hit(zone, pool, 1, 300, now)
                         && ngx_http_llmgw_test_hit(zone, pool, 1, 300,
                                                    now + 100),
                         "store replaces the entry and its expiry");

    /* empty typ and payload */

    ngx_http_llmgw_test_key(key, 77);
    ngx_memzero(&entry, sizeof(ngx_http_llmgw_cache_entry_t));
    entry.expires = now + 10;

    rc = ngx_http_llmgw_cache_store(zone, key, &entry, now);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK, "entry with empty strings stored");

    ngx_memset(&entry, 0xff, sizeof(ngx_http_llmgw_cache_entry_t));

    rc = ngx_http_llmgw_cache_lookup(zone, key, now, pool, &entry);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && entry.typ.len == 0
                         && entry.payload.len == 0
                         && entry.payload.data[0] == '\0'
                         && entry.expires == now + 10,
                         "entry with empty strings hits");

    ngx_http_llmgw_unit_zone_free(zone);
}


static void
ngx_http_llmgw_test_expiry(ngx_pool_t *pool)
{
    time_t           now;
    ngx_uint_t       n, hits;
    ngx_shm_zone_t  *zone;

    now = NGX_HTTP_LLMGW_TEST_NOW;

    zone = ngx_http_llmgw_test_zone(pool, "expiry:64k");
    if (zone == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "zone initialised");
        return;
    }

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_store(zone, 1, 10, now, now)
                         == NGX_DECLINED
                         && ngx_http_llmgw_test_store(zone, 1, 10, now - 1,
                                                      now)
                            == NGX_DECLINED
                         && !ngx_http_llmgw_test_hit(zone, pool, 1, 10,
                                                     now - 5),
                         "already expired entry not stored");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_store(zone, 3, 10, now + 30,
                                                   now)
                         == NGX_OK,
                         "entry stored");

    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_hit(zone, pool, 3, 10,
                                                  now + 30),
                         "entry misses at its expiry time");

    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_hit(zone, pool, 3, 10, now),
                         "expired entry was removed on lookup");

    /*
     * Expired entries make room: fill the zone with short-lived entries,
     * then after they expire it takes as many again, and none of the old
     * ones is returned.
     */

    for (n = 100; n < 10000; n++) {
        if (ngx_http_llmgw_test_store(zone, n, 500, now + 5, now) != NGX_OK) {
            break;
        }
    }

    NGX_HTTP_LLMGW_CHECK(n == 10000, "short-lived entries fill the zone");

    for (n = 20000; n < 20050; n++) {
        if (ngx_http_llmgw_test_store(zone, n, 500, now + 60, now + 6)
            != NGX_OK)
        {
            break;
        }
    }

    hits = 0;

    for (n = 20000; n < 20050; n++) {
        hits += ngx_http_llmgw_test_hit(zone, pool, n, 500, now + 7);
    }

    NGX_HTTP_LLMGW_CHECK(hits == 50, "new entries take the room");

    hits = 0;

    for (n = 100; n < 10000; n++) {
        hits += ngx_http_llmgw_test_hit(zone, pool, n, 500, now + 5);
    }

    NGX_HTTP_LLMGW_CHECK(hits == 0, "none of the expired entries hits");

    ngx_http_llmgw_unit_zone_free(zone);
}


static void
ngx_http_llmgw_test_lru(ngx_pool_t *pool)
{
    time_t           now;
    ngx_uint_t       n, last, hits, old;
    ngx_shm_zone_t  *zone;

    now = NGX_HTTP_LLMGW_TEST_NOW;

    zone = ngx_http_llmgw_test_zone(pool, "lru:32k");
    if (zone == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "zone initialised");
        return;
    }

    /* 1000 entries of about 1k do not fit in 32k: every store succeeds */

    last = 0;

    for (n = 0; n < 1000; n++) {

        if (ngx_http_llmgw_test_store(zone, n, 900, now + 3600, now)
            != NGX_OK)
        {
            break;
        }

        /* entry 0 is used all the time, so it stays */

        if (!ngx_http_llmgw_test_hit(zone, pool, 0, 900, now)) {
            break;
        }

        last = n;
    }

    NGX_HTTP_LLMGW_CHECK(n == 1000 && last == 999,
                         "a full zone keeps taking entries");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_hit(zone, pool, 0, 900, now),
                         "recently used entry survives eviction");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_hit(zone, pool, 999, 900, now)
                         && ngx_http_llmgw_test_hit(zone, pool, 998, 900, now),
                         "newest entries are there");

    old = 0;

    for (n = 1; n < 500; n++) {
        old += ngx_http_llmgw_test_hit(zone, pool, n, 900, now);
    }

    NGX_HTTP_LLMGW_CHECK(old == 0, "least recently used entries evicted");

    /* what is left is the newest entries, without a gap */

    hits = 0;

    for (n = 999; n > 900; n--) {
        if (!ngx_http_llmgw_test_hit(zone, pool, n, 900, now)) {
            break;
        }

        hits++;
    }

    for (/* void */; n > 900; n--) {
        old += ngx_http_llmgw_test_hit(zone, pool, n, 900, now);
    }

    NGX_HTTP_LLMGW_CHECK(hits >= 5 && old == 0,
                         "the zone holds the most recent entries it can");

    /* a big entry evicts several small ones */

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_store(zone, 5000,
                                          NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD,
                                          now + 3600, now)
                         == NGX_OK
                         && ngx_http_llmgw_test_hit(zone, pool, 5000,
                                          NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD,
                                          now),
                         "large entry makes its room");

    ngx_http_llmgw_unit_zone_free(zone);
}


static void
ngx_http_llmgw_test_sizes(ngx_pool_t *pool)
{
    u_char                        key[NGX_HTTP_LLMGW_SHA256_LEN];
    u_char                        typ[300];
    time_t                        now;
    ngx_int_t                     rc;
    ngx_shm_zone_t               *zone;
    ngx_http_llmgw_cache_entry_t  entry;

    now = NGX_HTTP_LLMGW_TEST_NOW;

    zone = ngx_http_llmgw_test_zone(pool, "sizes:128k");
    if (zone == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "zone initialised");
        return;
    }

    rc = ngx_http_llmgw_test_store(zone, 1,
                                   NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD + 1,
                                   now + 60, now);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_DECLINED
                         && !ngx_http_llmgw_test_hit(zone, pool, 1,
                                       NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD + 1,
                                       now),
                         "payload over the limit not stored");

    rc = ngx_http_llmgw_test_store(zone, 1, NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD,
                                   now + 60, now);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK
                         && ngx_http_llmgw_test_hit(zone, pool, 1,
                                       NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD, now),
                         "payload at the limit stored");

    /* an oversized replacement leaves the old entry alone */

    rc = ngx_http_llmgw_test_store(zone, 1,
                                   NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD * 2,
                                   now + 60, now);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_DECLINED
                         && ngx_http_llmgw_test_hit(zone, pool, 1,
                                       NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD, now),
                         "oversized store keeps the old entry");

    ngx_memset(typ, 't', sizeof(typ));
    ngx_http_llmgw_test_key(key, 9);
    ngx_memzero(&entry, sizeof(ngx_http_llmgw_cache_entry_t));
    entry.expires = now + 60;
    entry.typ.data = typ;
    entry.typ.len = sizeof(typ);
    ngx_str_set(&entry.payload, "{}");

    rc = ngx_http_llmgw_cache_store(zone, key, &entry, now);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_DECLINED, "overlong typ not stored");

    entry.typ.len = 255;

    rc = ngx_http_llmgw_cache_store(zone, key, &entry, now);
    ngx_memzero(&entry, sizeof(ngx_http_llmgw_cache_entry_t));

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK
                         && ngx_http_llmgw_cache_lookup(zone, key, now, pool,
                                                        &entry)
                            == NGX_OK
                         && entry.typ.len == 255
                         && ngx_memcmp(entry.typ.data, typ, 255) == 0
                         && entry.payload.len == 2
                         && ngx_strncmp(entry.payload.data, "{}", 2) == 0,
                         "255-byte typ stored");

    ngx_http_llmgw_unit_zone_free(zone);
}


static void
ngx_http_llmgw_test_many(ngx_pool_t *pool)
{
    time_t           now;
    ngx_uint_t       n, stored, hits, order;
    ngx_shm_zone_t  *zone;

    now = NGX_HTTP_LLMGW_TEST_NOW;

    zone = ngx_http_llmgw_test_zone(pool, "many:16m");
    if (zone == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "zone initialised");
        return;
    }

    stored = 0;

    for (n = 0; n < 20000; n++) {
        if (ngx_http_llmgw_test_store(zone, n, 100 + n % 200, now + 600, now)
            == NGX_OK)
        {
            stored++;
        }
    }

    NGX_HTTP_LLMGW_CHECK(stored == 20000, "20000 entries stored");

    /* look them up in another order */

    hits = 0;
    order = 7919;

    for (n = 0; n < 20000; n++) {
        order = (order + 7919) % 20000;
        hits += ngx_http_llmgw_test_hit(zone, pool, order, 100 + order % 200,
                                        now + 1);
    }

    NGX_HTTP_LLMGW_CHECK(hits == 20000, "all 20000 hit");

    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_hit(zone, pool, 20000, 100, now)
                         && !ngx_http_llmgw_test_hit(zone, pool, 20001, 101,
                                                     now),
                         "keys never stored miss");

    ngx_http_llmgw_unit_zone_free(zone);
}


static void
ngx_http_llmgw_test_reload(ngx_pool_t *pool)
{
    time_t                       now;
    ngx_shm_zone_t              *zone, again;
    ngx_http_llmgw_test_conf_t   conf;

    now = NGX_HTTP_LLMGW_TEST_NOW;

    zone = ngx_http_llmgw_test_zone(pool, "reload:64k");
    if (zone == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "zone initialised");
        return;
    }

    (void) ngx_http_llmgw_test_store(zone, 42, 64, now + 60, now);

    /*
     * A reload: a new configuration declares the zone again (a new cycle
     * has a new zone object with fresh data) and the cycle calls init with
     * the old zone's data when name, tag and size match.
     */

    ngx_http_llmgw_unit_zone_forget(zone);
    conf.zone = NULL;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_directive(pool, &conf,
                                                       "reload:64k")
                         == NGX_CONF_OK
                         && conf.zone != zone,
                         "zone declared again");

    if (conf.zone == NULL) {
        ngx_http_llmgw_unit_zone_free(zone);
        return;
    }

    again = *conf.zone;
    again.shm.addr = zone->shm.addr;

    NGX_HTTP_LLMGW_CHECK(again.init(&again, zone->data) == NGX_OK,
                         "init reuses the old zone");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_hit(&again, pool, 42, 64, now),
                         "entries survive a reload");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_store(&again, 43, 64, now + 60,
                                                   now)
                         == NGX_OK
                         && ngx_http_llmgw_test_hit(zone, pool, 43, 64, now),
                         "old and new configuration share the entries");

    ngx_http_llmgw_unit_zone_free(zone);
}


/* keeps entry n in the local table: typ "at+jwt", key_fp n, claims */

static ngx_int_t
ngx_http_llmgw_test_local_store(ngx_shm_zone_t *zone, ngx_uint_t n,
    json_t *claims, size_t len, time_t expires, time_t now)
{
    u_char                        key[NGX_HTTP_LLMGW_SHA256_LEN];
    u_char                        typ[6];
    ngx_int_t                     rc;
    ngx_http_llmgw_cache_entry_t  entry;

    ngx_http_llmgw_test_key(key, n);
    ngx_memcpy(typ, "at+jwt", 6);

    ngx_memzero(&entry, sizeof(ngx_http_llmgw_cache_entry_t));

    entry.expires = expires;
    ngx_memset(entry.key_fp, (int) (n & 0xff), NGX_HTTP_LLMGW_SHA256_LEN);
    entry.alg = (ngx_http_llmgw_alg_e) (n % NGX_HTTP_LLMGW_ALG_COUNT);
    entry.typ.data = typ;
    entry.typ.len = 6;
    entry.payload.len = len;
    entry.claims = claims;

    rc = ngx_http_llmgw_cache_local_store(zone, key, &entry, now);

    /* the table keeps its own copy of typ */
    ngx_memset(typ, 'X', 6);

    return rc;
}


/* the claims of entry n when the local table has it as stored, or NULL */

static json_t *
ngx_http_llmgw_test_local_hit(ngx_shm_zone_t *zone, ngx_pool_t *pool,
    ngx_uint_t n, time_t now)
{
    u_char                        key[NGX_HTTP_LLMGW_SHA256_LEN];
    u_char                        fp[NGX_HTTP_LLMGW_SHA256_LEN];
    ngx_http_llmgw_cache_entry_t  entry;

    ngx_http_llmgw_test_key(key, n);
    ngx_memset(&entry, 0xff, sizeof(ngx_http_llmgw_cache_entry_t));

    if (ngx_http_llmgw_cache_local_lookup(zone, key, now, pool, &entry)
        != NGX_OK)
    {
        return NULL;
    }

    ngx_memset(fp, (int) (n & 0xff), NGX_HTTP_LLMGW_SHA256_LEN);

    if (entry.typ.len != 6
        || ngx_strncmp(entry.typ.data, "at+jwt", 6) != 0
        || ngx_memcmp(entry.key_fp, fp, NGX_HTTP_LLMGW_SHA256_LEN) != 0
        || entry.alg != (ngx_http_llmgw_alg_e) (n % NGX_HTTP_LLMGW_ALG_COUNT)
        || entry.payload.len != 0
        || !json_is_object(entry.claims))
    {
        return NULL;
    }

    return entry.claims;
}


static void
ngx_http_llmgw_test_local(ngx_pool_t *pool)
{
    u_char                        key[NGX_HTTP_LLMGW_SHA256_LEN];
    u_char                        typ[300];
    time_t                        now;
    json_t                       *c1, *c2, *arr, *got;
    ngx_int_t                     rc;
    ngx_pool_t                   *zpool, *rpool;
    ngx_shm_zone_t               *zone;
    ngx_http_llmgw_cache_entry_t  entry;

    now = NGX_HTTP_LLMGW_TEST_NOW;

    /* the zone's configuration in a pool of its own, to see its cleanup */

    zpool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, &ngx_http_llmgw_unit_log);
    rpool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, &ngx_http_llmgw_unit_log);
    c1 = json_loads("{\"sub\":\"alice\"}", 0, NULL);
    c2 = json_loads("{\"sub\":\"bob\"}", 0, NULL);
    arr = json_array();

    zone = (zpool != NULL) ? ngx_http_llmgw_test_zone(zpool, "local:64k")
                           : NULL;

    if (zone == NULL || rpool == NULL || c1 == NULL || c2 == NULL
        || arr == NULL)
    {
        NGX_HTTP_LLMGW_CHECK(0, "local: zone initialised");
        return;
    }

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_local_hit(zone, rpool, 1, now)
                         == NULL,
                         "local: empty table misses");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_local_store(zone, 1, c1, 100,
                                                         now + 60, now)
                         == NGX_OK
                         && c1->refcount == 2,
                         "local: entry kept with a reference to its claims");

    got = ngx_http_llmgw_test_local_hit(zone, rpool, 1, now);

    NGX_HTTP_LLMGW_CHECK(got == c1 && c1->refcount == 3,
                         "local: hit gives the parsed claims, typ, key_fp, "
                         "and a reference for the request");

    ngx_destroy_pool(rpool);

    NGX_HTTP_LLMGW_CHECK(c1->refcount == 2,
                         "local: the request's pool releases its reference");

    rpool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, &ngx_http_llmgw_unit_log);
    if (rpool == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "local: pool");
        return;
    }

    /* the local table is not the zone: nothing went into shared memory */

    ngx_http_llmgw_test_key(key, 1);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_cache_lookup(zone, key, now, rpool,
                                                     &entry)
                         == NGX_DECLINED,
                         "local: the zone has not got the entry");

    /* entry 0 shares entry 1's first bytes, so its bucket too */

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_local_hit(zone, rpool, 0, now)
                         == NULL
                         && ngx_http_llmgw_test_local_store(zone, 0, c2, 10,
                                                            now + 30, now)
                            == NGX_OK
                         && ngx_http_llmgw_test_local_hit(zone, rpool, 0, now)
                            == c2
                         && ngx_http_llmgw_test_local_hit(zone, rpool, 1, now)
                            == c1,
                         "local: keys in one bucket kept apart");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_local_hit(zone, rpool, 1,
                                                       now + 59)
                         == c1,
                         "local: hit until just before expiry");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_local_hit(zone, rpool, 0,
                                                       now + 30)
                         == NULL
                         && ngx_http_llmgw_test_local_hit(zone, rpool, 0, now)
                            == NULL
                         && ngx_http_llmgw_test_local_hit(zone, rpool, 1, now)
                            == c1,
                         "local: misses at its expiry time, and is removed; "
                         "its bucket neighbour stays");

    ngx_destroy_pool(rpool);

    NGX_HTTP_LLMGW_CHECK(c2->refcount == 1 && c1->refcount == 2,
                         "local: the expired entry's reference released");

    rpool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, &ngx_http_llmgw_unit_log);
    if (rpool == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "local: pool");
        return;
    }

    /* replacement */

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_local_store(zone, 1, c2, 100,
                                                         now + 120, now)
                         == NGX_OK
                         && c1->refcount == 1
                         && c2->refcount == 2
                         && ngx_http_llmgw_test_local_hit(zone, rpool, 1,
                                                          now + 100)
                            == c2,
                         "local: store replaces the entry and its expiry, "
                         "the old claims released");

    /* refusals */

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_local_store(zone, 2, c1, 10, now,
                                                         now)
                         == NGX_DECLINED
                         && ngx_http_llmgw_test_local_store(zone, 2, NULL, 10,
                                                            now + 60, now)
                            == NGX_DECLINED
                         && ngx_http_llmgw_test_local_store(zone, 2, arr, 10,
                                                            now + 60, now)
                            == NGX_DECLINED
                         && ngx_http_llmgw_test_local_store(zone, 2, c1,
                                      NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD + 1,
                                      now + 60, now)
                            == NGX_DECLINED
                         && ngx_http_llmgw_test_local_hit(zone, rpool, 2, now)
                            == NULL
                         && c1->refcount == 1,
                         "local: expired, no claims, claims not an object, "
                         "payload over the limit: not kept");

    ngx_memset(typ, 't', sizeof(typ));
    ngx_http_llmgw_test_key(key, 3);
    ngx_memzero(&entry, sizeof(ngx_http_llmgw_cache_entry_t));
    entry.expires = now + 60;
    entry.typ.data = typ;
    entry.typ.len = sizeof(typ);
    entry.claims = c1;

    rc = ngx_http_llmgw_cache_local_store(zone, key, &entry, now);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_DECLINED, "local: overlong typ not kept");

    entry.typ.len = 255;

    rc = ngx_http_llmgw_cache_local_store(zone, key, &entry, now);
    ngx_memset(&entry, 0xff, sizeof(ngx_http_llmgw_cache_entry_t));

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK
                         && ngx_http_llmgw_cache_local_lookup(zone, key, now,
                                                              rpool, &entry)
                            == NGX_OK
                         && entry.typ.len == 255
                         && ngx_memcmp(entry.typ.data, typ, 255) == 0
                         && entry.claims == c1
                         && entry.expires == now + 60,
                         "local: 255-byte typ kept");

    ngx_destroy_pool(rpool);

    /* the cycle's pool goes: every reference the table held is released */

    ngx_http_llmgw_unit_zone_free(zone);
    ngx_destroy_pool(zpool);

    NGX_HTTP_LLMGW_CHECK(c1->refcount == 1 && c2->refcount == 1,
                         "local: the table's cleanup releases its entries");

    json_decref(c1);
    json_decref(c2);
    json_decref(arr);
}


static void
ngx_http_llmgw_test_local_bounds(ngx_pool_t *pool)
{
    time_t           now;
    json_t          *claims;
    ngx_uint_t       n, hits, ok;
    ngx_pool_t      *zpool, *rpool;
    ngx_shm_zone_t  *zone;

    now = NGX_HTTP_LLMGW_TEST_NOW;

    zpool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, &ngx_http_llmgw_unit_log);
    rpool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, &ngx_http_llmgw_unit_log);
    claims = json_loads("{\"sub\":\"alice\"}", 0, NULL);

    zone = (zpool != NULL) ? ngx_http_llmgw_test_zone(zpool, "bounds:64k")
                           : NULL;

    if (zone == NULL || rpool == NULL || claims == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "local bounds: zone initialised");
        return;
    }

    /*
     * More entries than the table takes, entry 0 used all along: it stays,
     * the least recently used others go, the table holds exactly its
     * bound, and holds a reference for each entry it keeps
     */

    ok = 1;

    for (n = 0; n < NGX_HTTP_LLMGW_CACHE_LOCAL_N + 100; n++) {

        if (ngx_http_llmgw_test_local_store(zone, n, claims, 100, now + 600,
                                            now)
            != NGX_OK
            || ngx_http_llmgw_test_local_hit(zone, rpool, 0, now) != claims)
        {
            ok = 0;
            break;
        }
    }

    ngx_destroy_pool(rpool);

    NGX_HTTP_LLMGW_CHECK(ok && claims->refcount
                               == 1 + NGX_HTTP_LLMGW_CACHE_LOCAL_N,
                         "local bounds: a full table keeps taking entries, "
                         "one reference per entry kept");

    rpool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, &ngx_http_llmgw_unit_log);
    if (rpool == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "local bounds: pool");
        return;
    }

    hits = 0;

    for (n = 1; n <= 100; n++) {
        hits += (ngx_http_llmgw_test_local_hit(zone, rpool, n, now) != NULL);
    }

    NGX_HTTP_LLMGW_CHECK(hits == 0
                         && ngx_http_llmgw_test_local_hit(zone, rpool, 0, now)
                            == claims,
                         "local bounds: least recently used entries evicted, "
                         "the one in use kept");

    hits = 0;

    for (n = 0; n < NGX_HTTP_LLMGW_CACHE_LOCAL_N + 100; n++) {
        hits += (ngx_http_llmgw_test_local_hit(zone, rpool, n, now) != NULL);
    }

    NGX_HTTP_LLMGW_CHECK(hits == NGX_HTTP_LLMGW_CACHE_LOCAL_N,
                         "local bounds: exactly the bound in entries");

    ngx_destroy_pool(rpool);

    rpool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, &ngx_http_llmgw_unit_log);
    if (rpool == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "local bounds: pool");
        return;
    }

    /* large claims: the byte bound holds before the entry bound does */

    for (n = 5000; n < 5000 + 300; n++) {
        if (ngx_http_llmgw_test_local_store(zone, n, claims,
                                            NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD,
                                            now + 600, now)
            != NGX_OK)
        {
            break;
        }
    }

    hits = 0;

    for (n = 0; n < 5000 + 300; n++) {
        hits += (ngx_http_llmgw_test_local_hit(zone, rpool, n, now) != NULL);
    }

    NGX_HTTP_LLMGW_CHECK(n == 5000 + 300
                         && hits == NGX_HTTP_LLMGW_CACHE_LOCAL_BYTES
                                    / NGX_HTTP_LLMGW_CACHE_MAX_PAYLOAD
                         && ngx_http_llmgw_test_local_hit(zone, rpool, 5299,
                                                          now)
                            == claims,
                         "local bounds: claims bytes bounded, newest kept");

    ngx_destroy_pool(rpool);


    ngx_http_llmgw_unit_zone_free(zone);
    ngx_destroy_pool(zpool);

    NGX_HTTP_LLMGW_CHECK(claims->refcount == 1,
                         "local bounds: every reference released");

    json_decref(claims);
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

    ngx_http_llmgw_test_directives(pool);

    ngx_http_llmgw_test_basic(pool);
    ngx_http_llmgw_test_expiry(pool);
    ngx_http_llmgw_test_lru(pool);
    ngx_http_llmgw_test_sizes(pool);
    ngx_http_llmgw_test_many(pool);

    ngx_http_llmgw_test_reload(pool);

    ngx_http_llmgw_test_local(pool);

    ngx_http_llmgw_test_local_bounds(pool);

    ngx_destroy_pool(pool);

    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
