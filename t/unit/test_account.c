/* llmgw-unit-srcs: src/ngx_http_llmgw_account.c src/ngx_http_llmgw_zone.c */
/* llmgw-unit-srcs: t/unit/ngx_http_llmgw_unit_shm.c */
/* llmgw-unit-libs: -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * The account state zone: each kind of entry found exactly and its
 * verdict; a revoked jti forgotten after its exp and the grace, lazily
 * and before an insertion; a full zone never evicts a live revocation;
 * one million revoked jti: the memory they take (printed: the figure the
 * README gives) and a check as fast as with a thousand.  A change as the
 * text the journal, the stream and the snapshot carry: written and read
 * back to the same verdict, malformed lines refused; the stream's last
 * ID only moves forward.  A conditional commit (compare-and-set): made
 * when each entry is still what it expects, nothing made when one is not
 * (each field, absent or present, an expired jti as absent), and a line
 * applied from the stream never conditional.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <stdio.h>
#include <time.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_unit_shm.h"
#include "ngx_http_llmgw_account.h"


typedef struct {
    ngx_shm_zone_t            *zone;
} ngx_http_llmgw_test_conf_t;


ngx_module_t  ngx_http_llmgw_module;

/* nginx.c defines it: not a test of the configuration */
ngx_uint_t    ngx_test_config;


#define NGX_HTTP_LLMGW_TEST_NOW  1700000000


static char *
ngx_http_llmgw_test_directive(ngx_pool_t *pool,
    ngx_http_llmgw_test_conf_t *conf, const char *arg)
{
    return ngx_http_llmgw_unit_zone_directive(pool, ngx_http_llmgw_account_zone, "llmgw_state_zone", conf,
               offsetof(ngx_http_llmgw_test_conf_t, zone), arg);
}


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


static void
ngx_http_llmgw_test_jti(u_char *hex, ngx_uint_t n)
{
    u_char  bin[NGX_HTTP_LLMGW_SHA256_LEN];

    ngx_memzero(bin, sizeof(bin));
    ngx_memcpy(bin, &n, sizeof(ngx_uint_t));
    bin[31] = 0x5a;

    ngx_hex_dump(hex, bin, sizeof(bin));
}


static ngx_int_t
ngx_http_llmgw_test_revoke(ngx_shm_zone_t *zone, ngx_uint_t n, time_t exp,
    time_t now)
{
    u_char                           hex[NGX_HTTP_LLMGW_JTI_HASH_LEN];
    ngx_http_llmgw_account_change_t  ch;

    ngx_http_llmgw_test_jti(hex, n);

    ngx_memzero(&ch, sizeof(ngx_http_llmgw_account_change_t));
    ch.kind = NGX_HTTP_LLMGW_ACCOUNT_JTI;
    ch.id.data = hex;
    ch.id.len = sizeof(hex);
    ch.time = exp;

    return ngx_http_llmgw_account_apply(zone, &ch, now,
                                        &ngx_http_llmgw_unit_log);
}


static ngx_http_llmgw_account_verdict_e
ngx_http_llmgw_test_check(ngx_shm_zone_t *zone, ngx_pool_t *pool,
    ngx_uint_t n, const char *user, const char *client, time_t iat,
    time_t now, ngx_str_t *dept)
{
    u_char                           hex[NGX_HTTP_LLMGW_JTI_HASH_LEN];
    ngx_http_llmgw_account_query_t   q;
    ngx_http_llmgw_account_result_t  res;

    ngx_memzero(&q, sizeof(ngx_http_llmgw_account_query_t));

    ngx_http_llmgw_test_jti(hex, n);
    q.jti_hash.data = hex;
    q.jti_hash.len = sizeof(hex);
    q.user.data = (u_char *) user;
    q.user.len = user ? ngx_strlen(user) : 0;
    q.client_id.data = (u_char *) client;
    q.client_id.len = client ? ngx_strlen(client) : 0;
    q.iat = iat;

    if (ngx_http_llmgw_account_check(zone, &q, now, pool, &res) != NGX_OK) {
        return (ngx_http_llmgw_account_verdict_e) -1;
    }

    if (dept) {
        *dept = res.department;
    }

    return res.verdict;
}


static ngx_int_t
ngx_http_llmgw_test_set(ngx_shm_zone_t *zone, ngx_uint_t kind,
    const char *id, time_t time, time_t end, const char *dept,
    ngx_uint_t active, ngx_uint_t remove)
{
    ngx_http_llmgw_account_change_t  ch;

    ngx_memzero(&ch, sizeof(ngx_http_llmgw_account_change_t));
    ch.kind = kind;
    ch.id.data = (u_char *) id;
    ch.id.len = ngx_strlen(id);
    ch.time = time;
    ch.end = end;
    ch.department.data = (u_char *) dept;
    ch.department.len = dept ? ngx_strlen(dept) : 0;
    ch.active = active;
    ch.remove = remove;

    return ngx_http_llmgw_account_apply(zone, &ch, NGX_HTTP_LLMGW_TEST_NOW,
                                        &ngx_http_llmgw_unit_log);
}


static void
ngx_http_llmgw_test_kinds(ngx_pool_t *pool)
{
    time_t           now;
    ngx_str_t        dept;
    ngx_shm_zone_t  *zone;

    now = NGX_HTTP_LLMGW_TEST_NOW;

    zone = ngx_http_llmgw_test_zone(pool, "kinds:1m");
    if (zone == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "zone made");
        return;
    }

#define V(n, user, client, iat)                                               \
    ngx_http_llmgw_test_check(zone, pool, n, user, client, iat, now, NULL)

    NGX_HTTP_LLMGW_CHECK(V(1, "alice", "app", now - 10)
                         == NGX_HTTP_LLMGW_ACCOUNT_UNKNOWN,
                         "empty zone: the user is unknown, nothing else");

    ngx_http_llmgw_test_revoke(zone, 1, now + 60, now);

    NGX_HTTP_LLMGW_CHECK(V(1, "alice", "app", now - 10)
                         == NGX_HTTP_LLMGW_ACCOUNT_JTI_REVOKED
                         && V(2, "alice", "app", now - 10)
                            == NGX_HTTP_LLMGW_ACCOUNT_UNKNOWN,
                         "a revoked jti, exactly that one");

    ngx_http_llmgw_test_set(zone, NGX_HTTP_LLMGW_ACCOUNT_SUBJECT, "alice",
                            now - 30, 0, NULL, 0, 0);

    NGX_HTTP_LLMGW_CHECK(V(2, "alice", "app", now - 31)
                         == NGX_HTTP_LLMGW_ACCOUNT_NOT_BEFORE
                         && V(2, "alice", "app", now - 30)
                            == NGX_HTTP_LLMGW_ACCOUNT_NOT_BEFORE
                         && V(2, "alice", "app", -1)
                            == NGX_HTTP_LLMGW_ACCOUNT_NOT_BEFORE
                         && V(2, "alice", "app", now - 29)
                            == NGX_HTTP_LLMGW_ACCOUNT_UNKNOWN
                         && V(2, "alicf", "app", now - 31)
                            == NGX_HTTP_LLMGW_ACCOUNT_UNKNOWN,
                         "not-before: iat at or before it, or none, refused");

    ngx_http_llmgw_test_set(zone, NGX_HTTP_LLMGW_ACCOUNT_CLIENT, "bad",
                            0, 0, NULL, 0, 0);

    NGX_HTTP_LLMGW_CHECK(V(2, "bob", "bad", now)
                         == NGX_HTTP_LLMGW_ACCOUNT_CLIENT_REVOKED
                         && V(2, "bob", "bad2", now)
                            == NGX_HTTP_LLMGW_ACCOUNT_UNKNOWN,
                         "a revoked client, exactly that one");

    ngx_http_llmgw_test_set(zone, NGX_HTTP_LLMGW_ACCOUNT_USER, "bob",
                            now - 86400, now + 86400, "営業部", 1, 0);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_check(zone, pool, 2, "bob",
                                                   NULL, now, now, &dept)
                         == NGX_HTTP_LLMGW_ACCOUNT_OK
                         && dept.len == sizeof("営業部") - 1
                         && ngx_memcmp(dept.data, "営業部", dept.len) == 0,
                         "an active account, its department");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_check(zone, pool, 2, "bob",
                                                   NULL, now,
                                                   now - 86401, NULL)
                         == NGX_HTTP_LLMGW_ACCOUNT_NOT_STARTED
                         && ngx_http_llmgw_test_check(zone, pool, 2, "bob",
                                                      NULL, now,
                                                      now + 86400, NULL)
                            == NGX_HTTP_LLMGW_ACCOUNT_ENDED,
                         "before its start, at its end");

    ngx_http_llmgw_test_set(zone, NGX_HTTP_LLMGW_ACCOUNT_USER, "bob",
                            now - 86400, now + 86400, "経理部", 0, 0);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_check(zone, pool, 2, "bob",
                                                   NULL, now, now, &dept)
                         == NGX_HTTP_LLMGW_ACCOUNT_DISABLED
                         && dept.len == sizeof("経理部") - 1,
                         "replaced: disabled, new department");

    ngx_http_llmgw_test_set(zone, NGX_HTTP_LLMGW_ACCOUNT_CLIENT, "bad",
                            0, 0, NULL, 0, 1);

    NGX_HTTP_LLMGW_CHECK(V(2, "carol", "bad", now)
                         == NGX_HTTP_LLMGW_ACCOUNT_UNKNOWN,
                         "a removed revocation is gone");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_set(zone,
                                                 NGX_HTTP_LLMGW_ACCOUNT_JTI,
                                                 "not hex", 0, 0, NULL, 0, 0)
                         == NGX_DECLINED,
                         "a jti id that is not 64 hex digits is refused");

    /* forgotten after exp + grace: at the next lookup */

    ngx_http_llmgw_test_revoke(zone, 3, now - 10, now);

    NGX_HTTP_LLMGW_CHECK(
        ngx_http_llmgw_test_check(zone, pool, 3, NULL, NULL, now,
                                  now + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE - 10,
                                  NULL)
        == NGX_HTTP_LLMGW_ACCOUNT_JTI_REVOKED
        && ngx_http_llmgw_test_check(zone, pool, 3, NULL, NULL, now,
                                     now + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE
                                     - 9, NULL)
           == NGX_HTTP_LLMGW_ACCOUNT_UNKNOWN,
        "a revoked jti kept until exp + grace, then forgotten");

    ngx_http_llmgw_unit_zone_free(zone);
}


/* a small zone filled: expired entries make room, live ones never go */

static void
ngx_http_llmgw_test_full(ngx_pool_t *pool)
{
    time_t           now;
    ngx_int_t        rc;
    ngx_uint_t       n, i;
    ngx_shm_zone_t  *zone;

    now = NGX_HTTP_LLMGW_TEST_NOW;

    zone = ngx_http_llmgw_test_zone(pool, "full:32k");
    if (zone == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "zone made");
        return;
    }

    ngx_http_llmgw_unit_quiet = 1;

    for (n = 0; ngx_http_llmgw_test_revoke(zone, n, now + 100, now)
                == NGX_OK; n++)
    {
        /* void */
    }

    ngx_http_llmgw_unit_quiet = 0;

    for (i = 0; i < n; i++) {
        if (ngx_http_llmgw_test_check(zone, pool, i, NULL, NULL, now, now,
                                      NULL)
            != NGX_HTTP_LLMGW_ACCOUNT_JTI_REVOKED)
        {
            break;
        }
    }

    NGX_HTTP_LLMGW_CHECK(n > 50 && i == n,
                         "a full zone refuses a change and keeps every "
                         "live revocation");

    /* later: all of them expired, the new ones take their place */

    now += 100 + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE + 1;

    for (i = 0; i < n; i++) {
        rc = ngx_http_llmgw_test_revoke(zone, 1000000 + i, now + 100, now);
        if (rc != NGX_OK) {
            break;
        }
    }

    NGX_HTTP_LLMGW_CHECK(i == n, "expired revocations make room");

    ngx_http_llmgw_unit_zone_free(zone);
}


static double
ngx_http_llmgw_test_ns(ngx_shm_zone_t *zone, ngx_pool_t *pool, ngx_uint_t n,
    ngx_uint_t rounds)
{
    ngx_uint_t       i, bad;
    struct timespec  a, b;

    bad = 0;

    clock_gettime(CLOCK_MONOTONIC, &a);

    for (i = 0; i < rounds; i++) {
        bad += ngx_http_llmgw_test_check(zone, pool, (i * 7919) % n, "u",
                                         "c", NGX_HTTP_LLMGW_TEST_NOW,
                                         NGX_HTTP_LLMGW_TEST_NOW, NULL)
               != NGX_HTTP_LLMGW_ACCOUNT_JTI_REVOKED;
    }

    clock_gettime(CLOCK_MONOTONIC, &b);

    if (bad) {
        return -1;
    }

    return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / rounds;
}


/* one million revoked jti: bytes each, and a check's time */

static void
ngx_http_llmgw_test_million(ngx_pool_t *pool)
{
    double            small, large;
    size_t            used;
    ngx_uint_t        n, pages;
    ngx_shm_zone_t   *zone;
    ngx_slab_pool_t  *sp;

    zone = ngx_http_llmgw_test_zone(pool, "million:200m");
    if (zone == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "zone made");
        return;
    }

    sp = (ngx_slab_pool_t *) zone->shm.addr;
    pages = sp->pfree;

    for (n = 0; n < 1000; n++) {
        (void) ngx_http_llmgw_test_revoke(zone, n, NGX_HTTP_LLMGW_TEST_NOW
                                                   + 3600,
                                          NGX_HTTP_LLMGW_TEST_NOW);
    }

    small = ngx_http_llmgw_test_ns(zone, pool, 1000, 200000);

    for ( /* void */ ; n < 1000000; n++) {
        if (ngx_http_llmgw_test_revoke(zone, n, NGX_HTTP_LLMGW_TEST_NOW
                                                + 3600,
                                       NGX_HTTP_LLMGW_TEST_NOW)
            != NGX_OK)
        {
            break;
        }
    }

    NGX_HTTP_LLMGW_CHECK(n == 1000000, "a million revoked jti in 200m");

    used = (pages - sp->pfree) * ngx_pagesize;

    large = ngx_http_llmgw_test_ns(zone, pool, 1000000, 200000);

    printf("# 1000000 revoked jti: %zu bytes of the zone (%.1f MiB, %zu "
           "bytes each); a check %.0f ns with 1000 entries, %.0f ns with "
           "1000000\n", used, used / 1048576.0, used / 1000000, small,
           large);

    NGX_HTTP_LLMGW_CHECK(used / 1000000 <= 140,
                         "at most 140 bytes a revoked jti");
    NGX_HTTP_LLMGW_CHECK(small > 0 && large > 0,
                         "every revoked jti found");

    ngx_http_llmgw_unit_zone_free(zone);
}


/* a change through its line, applied by commit_line (no journal) */

static ngx_int_t
ngx_http_llmgw_test_line(ngx_shm_zone_t *zone,
    ngx_http_llmgw_account_change_t *ch, u_char *buf, size_t *len)
{
    u_char      *p;
    ngx_uint_t   expired;

    *len = ngx_http_llmgw_account_change_len(ch);
    p = ngx_http_llmgw_account_change_line(buf, ch);

    if ((size_t) (p - buf) > *len || p[-1] != '\n') {
        return NGX_ERROR;
    }

    *len = p - buf - 1;

    return ngx_http_llmgw_account_commit_line(zone, buf, *len,
                                              NGX_HTTP_LLMGW_TEST_NOW,
                                              &expired,
                                              &ngx_http_llmgw_unit_log);
}


static void
ngx_http_llmgw_test_lines(ngx_pool_t *pool)
{
    size_t                            len;
    u_char                            buf[1024], hex[64], last[64];
    ngx_uint_t                        i, expired;
    ngx_shm_zone_t                   *zone;
    ngx_http_llmgw_account_change_t   ch;
    static const char                *bad[] = {
        "not json",
        "{\"client_id\":\"a\",\"x\":1}",
        "{\"client_id\":\"a\",\"remove\":false}",
        "{\"jti_hash\":\"zz\",\"exp\":1}",
        "{\"subject\":\"a\",\"not_before\":\"1\"}",
        "{\"user_id\":\"a\",\"active\":1,\"department\":\"\",\"start\":0}",
        "{\"kind\":\"client\"}",
        "[]"
    };

    zone = ngx_http_llmgw_test_zone(pool, "lines:1m");
    NGX_HTTP_LLMGW_CHECK(zone != NULL, "a zone for the lines");
    if (zone == NULL) {
        return;
    }

    ngx_memzero(&ch, sizeof(ngx_http_llmgw_account_change_t));
    ngx_http_llmgw_test_jti(hex, 7);
    ch.kind = NGX_HTTP_LLMGW_ACCOUNT_JTI;
    ch.id.data = hex;
    ch.id.len = sizeof(hex);
    ch.time = NGX_HTTP_LLMGW_TEST_NOW + 3600;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_line(zone, &ch, buf, &len)
                         == NGX_OK
                         && ngx_http_llmgw_test_check(zone, pool, 7, NULL,
                                                      NULL, -1,
                                                      NGX_HTTP_LLMGW_TEST_NOW,
                                                      NULL)
                            == NGX_HTTP_LLMGW_ACCOUNT_JTI_REVOKED,
                         "a jti's line revokes it");

    ch.remove = 1;
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_line(zone, &ch, buf, &len)
                         == NGX_OK
                         && ngx_strstr(buf, "\"remove\":true}") != NULL
                         && ngx_http_llmgw_test_check(zone, pool, 7, NULL,
                                                      NULL, -1,
                                                      NGX_HTTP_LLMGW_TEST_NOW,
                                                      NULL)
                            == NGX_HTTP_LLMGW_ACCOUNT_UNKNOWN,
                         "its removal's line lets it in again");

    ngx_memzero(&ch, sizeof(ngx_http_llmgw_account_change_t));
    ch.kind = NGX_HTTP_LLMGW_ACCOUNT_USER;
    ngx_str_set(&ch.id, "E1");
    ngx_str_set(&ch.department, "\xe5\x96\xb6\xe6\xa5\xad \"x\"\\");
    ch.time = NGX_HTTP_LLMGW_TEST_NOW - 10;
    ch.end = NGX_HTTP_LLMGW_TEST_NOW + 10;
    ch.active = 1;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_line(zone, &ch, buf, &len)
                         == NGX_OK
                         && ngx_http_llmgw_test_check(zone, pool, 1, "E1",
                                                      NULL, -1,
                                                      NGX_HTTP_LLMGW_TEST_NOW
                                                      + 10, NULL)
                            == NGX_HTTP_LLMGW_ACCOUNT_ENDED,
                         "a user's line: its end kept");

    ngx_memzero(&ch, sizeof(ngx_http_llmgw_account_change_t));
    ch.kind = NGX_HTTP_LLMGW_ACCOUNT_CLIENT;
    ngx_str_set(&ch.id, "app");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_line(zone, &ch, buf, &len)
                         == NGX_OK
                         && len == sizeof("{\"client_id\":\"app\"}") - 1
                         && ngx_strncmp(buf, "{\"client_id\":\"app\"}", len)
                            == 0,
                         "a client's line is the state file's");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_commit_line(zone,
                                 (u_char *) bad[i], ngx_strlen(bad[i]),
                                 NGX_HTTP_LLMGW_TEST_NOW, &expired,
                                 &ngx_http_llmgw_unit_log)
                             == NGX_DECLINED,
                             "a malformed line refused");
    }

    ngx_http_llmgw_account_set_last_id(zone, (u_char *) "10-5", 4, 0);
    ngx_http_llmgw_account_set_last_id(zone, (u_char *) "9-9", 3, 0);
    ngx_http_llmgw_account_set_last_id(zone, (u_char *) "10-4", 4, 0);

    len = ngx_http_llmgw_account_last_id(zone, last);
    NGX_HTTP_LLMGW_CHECK(len == 4 && ngx_strncmp(last, "10-5", 4) == 0,
                         "the last ID does not go back");

    ngx_http_llmgw_account_set_last_id(zone, (u_char *) "11-0", 4, 0);
    ngx_http_llmgw_account_set_last_id(zone, (u_char *) "0-0", 3, 1);

    len = ngx_http_llmgw_account_last_id(zone, last);
    NGX_HTTP_LLMGW_CHECK(len == 3 && ngx_strncmp(last, "0-0", 3) == 0,
                         "forward, or anywhere when forced (a resync)");

    ngx_http_llmgw_unit_zone_free(zone);
}


/* lookup and list, for the admin API: entries copied out as changes */

static void
ngx_http_llmgw_test_lookup(ngx_pool_t *pool)
{
    time_t                            now;
    u_char                            hex[NGX_HTTP_LLMGW_JTI_HASH_LEN];
    ngx_str_t                         id;
    ngx_uint_t                        k;
    ngx_array_t                       a;
    ngx_shm_zone_t                   *zone;
    ngx_http_llmgw_account_change_t   ch, *e;

    static ngx_uint_t  kinds[] = { NGX_HTTP_LLMGW_ACCOUNT_JTI,
                                   NGX_HTTP_LLMGW_ACCOUNT_SUBJECT,
                                   NGX_HTTP_LLMGW_ACCOUNT_CLIENT,
                                   NGX_HTTP_LLMGW_ACCOUNT_USER };
    static char       *ids[] = { NULL, "alice", "app", "bob" };

    now = NGX_HTTP_LLMGW_TEST_NOW;

    zone = ngx_http_llmgw_test_zone(pool, "lookup:1m");
    if (zone == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "zone made");
        return;
    }

    ngx_http_llmgw_test_revoke(zone, 1, now + 60, now);
    ngx_http_llmgw_test_set(zone, NGX_HTTP_LLMGW_ACCOUNT_SUBJECT, "alice",
                            now - 30, 0, NULL, 0, 0);
    ngx_http_llmgw_test_set(zone, NGX_HTTP_LLMGW_ACCOUNT_CLIENT, "app",
                            0, 0, NULL, 0, 0);
    ngx_http_llmgw_test_set(zone, NGX_HTTP_LLMGW_ACCOUNT_USER, "bob",
                            now - 86400, NGX_HTTP_LLMGW_ACCOUNT_NO_END,
                            "営業部", 1, 0);

    ngx_http_llmgw_test_jti(hex, 1);
    id.data = hex;
    id.len = sizeof(hex);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_lookup(zone,
                             NGX_HTTP_LLMGW_ACCOUNT_JTI, &id, now, pool, &ch)
                         == NGX_OK
                         && ch.id.len == sizeof(hex)
                         && ngx_memcmp(ch.id.data, hex, sizeof(hex)) == 0
                         && ch.time == now + 60,
                         "lookup: a revoked jti, its hash in hex, its exp");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_lookup(zone,
                             NGX_HTTP_LLMGW_ACCOUNT_JTI, &id,
                             now + 61 + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE,
                             pool, &ch)
                         == NGX_DECLINED,
                         "lookup: an expired revoked jti is none");

    ngx_str_set(&id, "bob");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_lookup(zone,
                             NGX_HTTP_LLMGW_ACCOUNT_USER, &id, now, pool, &ch)
                         == NGX_OK
                         && ch.active && ch.time == now - 86400
                         && ch.end == NGX_HTTP_LLMGW_ACCOUNT_NO_END
                         && ch.department.len == sizeof("営業部") - 1
                         && ngx_memcmp(ch.department.data, "営業部",
                                       ch.department.len) == 0,
                         "lookup: an account, its department and dates");

    ngx_str_set(&id, "bobby");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_lookup(zone,
                             NGX_HTTP_LLMGW_ACCOUNT_USER, &id, now, pool, &ch)
                         == NGX_DECLINED
                         && ngx_http_llmgw_account_lookup(zone,
                                NGX_HTTP_LLMGW_ACCOUNT_SUBJECT, &id, now,
                                pool, &ch)
                            == NGX_DECLINED,
                         "lookup: no such entry");

    for (k = 0; k < 4; k++) {
        if (ngx_array_init(&a, pool, 2,
                           sizeof(ngx_http_llmgw_account_change_t))
            != NGX_OK)
        {
            NGX_HTTP_LLMGW_CHECK(0, "array made");
            return;
        }

        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_list(zone, kinds[k], now,
                                                         pool, &a)
                             == NGX_OK
                             && a.nelts == 1
                             && (e = a.elts) != NULL
                             && e->kind == kinds[k]
                             && (ids[k] == NULL
                                 ? e->id.len == sizeof(hex)
                                 : e->id.len == ngx_strlen(ids[k])
                                   && ngx_memcmp(e->id.data, ids[k],
                                                 e->id.len) == 0),
                             "list: each kind, only its entries");
    }

    ngx_http_llmgw_unit_zone_free(zone);
}


/*
 * Every page of kinds from the start (or from after), n at most a page:
 * the entries seen in all, or -1 when a page was too long, an entry
 * came twice or of another kind.  *pages: how many pages.
 */

static ngx_int_t
ngx_http_llmgw_test_pages(ngx_shm_zone_t *zone, ngx_pool_t *pool,
    ngx_uint_t kinds, ngx_http_llmgw_account_change_t *after, ngx_uint_t n,
    ngx_uint_t *pages)
{
    ngx_uint_t                        i, j;
    ngx_array_t                       all, page;
    ngx_http_llmgw_account_change_t  *e, *p, next, at;

    ngx_array_init(&all, pool, 64, sizeof(ngx_http_llmgw_account_change_t));

    *pages = 0;

    for ( ;; ) {
        ngx_array_init(&page, pool, n,
                       sizeof(ngx_http_llmgw_account_change_t));

        if (ngx_http_llmgw_account_page(zone, kinds, after, n,
                                        NGX_HTTP_LLMGW_TEST_NOW, pool,
                                        &page, &next)
            != NGX_OK
            || page.nelts > n)
        {
            return -1;
        }

        (*pages)++;
        p = page.elts;

        for (i = 0; i < page.nelts; i++) {
            if (!(kinds & ((ngx_uint_t) 1 << p[i].kind))) {
                return -1;
            }

            e = all.elts;

            for (j = 0; j < all.nelts; j++) {
                if (e[j].kind == p[i].kind && e[j].id.len == p[i].id.len
                    && ngx_memcmp(e[j].id.data, p[i].id.data, e[j].id.len)
                       == 0)
                {
                    return -1;
                }
            }

            *(ngx_http_llmgw_account_change_t *) ngx_array_push(&all) = p[i];
        }

        if (next.kind == 0) {
            return all.nelts;
        }

        at = next;
        after = &at;
    }
}


static void
ngx_http_llmgw_test_page(ngx_pool_t *pool)
{
    u_char                            name[16];
    time_t                            now;
    ngx_uint_t                        i, pages, kinds;
    ngx_array_t                       page;
    ngx_shm_zone_t                   *zone;
    ngx_http_llmgw_account_change_t   after, next, *p;

    now = NGX_HTTP_LLMGW_TEST_NOW;
    kinds = (1 << NGX_HTTP_LLMGW_ACCOUNT_JTI)
            | (1 << NGX_HTTP_LLMGW_ACCOUNT_SUBJECT)
            | (1 << NGX_HTTP_LLMGW_ACCOUNT_CLIENT);

    zone = ngx_http_llmgw_test_zone(pool, "page:1m");
    if (zone == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "zone made");
        return;
    }

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_pages(zone, pool, kinds, NULL,
                                                   7, &pages)
                         == 0 && pages == 1,
                         "page: an empty zone, one empty page");

    /* 25 live jti, 2 expired, 10 subjects, 5 clients, 30 accounts */

    for (i = 1; i <= 25; i++) {
        ngx_http_llmgw_test_revoke(zone, i, now + 60, now - 1);
    }

    ngx_http_llmgw_test_revoke(zone, 100, now - 1000, now - 1000);
    ngx_http_llmgw_test_revoke(zone, 101, now - 1000, now - 1000);

    for (i = 0; i < 30; i++) {
        ngx_sprintf(name, "s%ui%Z", i);

        if (i < 10) {
            ngx_http_llmgw_test_set(zone, NGX_HTTP_LLMGW_ACCOUNT_SUBJECT,
                                    (char *) name, now - 30, 0, NULL, 0, 0);
        }

        name[0] = 'c';

        if (i < 5) {
            ngx_http_llmgw_test_set(zone, NGX_HTTP_LLMGW_ACCOUNT_CLIENT,
                                    (char *) name, 0, 0, NULL, 0, 0);
        }

        name[0] = 'u';
        ngx_http_llmgw_test_set(zone, NGX_HTTP_LLMGW_ACCOUNT_USER,
                                (char *) name, now - 86400,
                                NGX_HTTP_LLMGW_ACCOUNT_NO_END, "dept", 1, 0);
    }

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_pages(zone, pool, kinds, NULL,
                                                   7, &pages)
                         == 40 && pages == 6,
                         "page: 40 revocations in 6 pages of 7, each once, "
                         "no expired jti, no account");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_pages(zone, pool, kinds, NULL,
                                                   40, &pages)
                         == 40 && pages == 1,
                         "page: a page of exactly all: no next");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_pages(zone, pool,
                             1 << NGX_HTTP_LLMGW_ACCOUNT_USER, NULL, 1000,
                             &pages)
                         == 30 && pages == 1,
                         "page: the kinds asked for only");

    /* the entry a page ended at removed before the next page */

    ngx_array_init(&page, pool, 7, sizeof(ngx_http_llmgw_account_change_t));

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_page(zone, kinds, NULL, 7,
                                                     now, pool, &page, &next)
                         == NGX_OK
                         && page.nelts == 7 && next.kind != 0,
                         "page: the first page, a next");

    p = page.elts;
    after = p[6];
    after.remove = 1;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_apply(zone, &after, now,
                             &ngx_http_llmgw_unit_log)
                         == NGX_OK, "page: its last entry removed");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_pages(zone, pool, kinds, &after,
                                                   7, &pages)
                         == 33,
                         "page: from a position whose entry is gone, the "
                         "33 after it");

    /* positions that are none */

    ngx_memzero(&after, sizeof(ngx_http_llmgw_account_change_t));
    after.kind = NGX_HTTP_LLMGW_ACCOUNT_JTI;
    ngx_str_set(&after.id, "zz");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_page(zone, kinds, &after, 7,
                                                     now, pool, &page, &next)
                         == NGX_DECLINED,
                         "page: a jti position that is no hash: declined");

    after.kind = 0;
    ngx_str_set(&after.id, "s1");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_page(zone, kinds, &after, 7,
                                                     now, pool, &page, &next)
                         == NGX_DECLINED
                         && ngx_http_llmgw_account_page(zone, kinds, NULL, 0,
                                now, pool, &page, &next)
                            == NGX_DECLINED,
                         "page: kind 0, or a page of 0: declined");

    ngx_http_llmgw_unit_zone_free(zone);
}


/*
 * A registered client (the admin API's record over llmgw_clients): its
 * line written, read back, applied, looked up and listed; a deleted
 * record kept as a tombstone; malformed records refused.
 */

static void
ngx_http_llmgw_test_registered(ngx_pool_t *pool)
{
    size_t                            len;
    u_char                            buf[1024];
    ngx_str_t                         id;
    ngx_uint_t                        i, expired;
    ngx_array_t                       a;
    ngx_shm_zone_t                   *zone;
    ngx_http_llmgw_account_change_t   ch, got;
    static const char                *bad[] = {
        "{\"registered_client\":\"a\",\"status\":\"gone\","
            "\"ceiling\":\"text\",\"pending_ceiling\":\"\"}",
        "{\"registered_client\":\"a\",\"status\":\"approved\","
            "\"ceiling\":\"\",\"pending_ceiling\":\"\"}",
        "{\"registered_client\":\"a\",\"status\":\"approved\","
            "\"ceiling\":\"text,audio\",\"pending_ceiling\":\"\"}",
        "{\"registered_client\":\"a\",\"status\":\"approved\","
            "\"ceiling\":\"text  audio\",\"pending_ceiling\":\"\"}",
        "{\"registered_client\":\"a\",\"status\":\"approved\","
            "\"ceiling\":\" text\",\"pending_ceiling\":\"\"}",
        "{\"registered_client\":\"a\",\"status\":\"approved\","
            "\"ceiling\":\"text\",\"pending_ceiling\":\"a\\nb\"}",
        "{\"registered_client\":\"a\",\"status\":\"approved\","
            "\"ceiling\":\"text\"}",
        "{\"registered_client\":\"a\",\"status\":\"approved\","
            "\"ceiling\":\"text\",\"pending_ceiling\":\"\",\"x\":1}",
        "{\"registered_client\":\"a\",\"status\":1,"
            "\"ceiling\":\"text\",\"pending_ceiling\":\"\"}",
        "{\"registered_client\":\"\",\"status\":\"approved\","
            "\"ceiling\":\"text\",\"pending_ceiling\":\"\"}",
        "{\"registered_client\":\"a\",\"status\":\"approved\","
            "\"ceiling\":[\"text\"],\"pending_ceiling\":\"\"}"
    };

    zone = ngx_http_llmgw_test_zone(pool, "registered:1m");
    if (zone == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "a zone for the records");
        return;
    }

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_count(zone,
                             NGX_HTTP_LLMGW_ACCOUNT_REGISTERED) == 0,
                         "no record at first: the access check looks no "
                         "further");

    ngx_memzero(&ch, sizeof(ngx_http_llmgw_account_change_t));
    ch.kind = NGX_HTTP_LLMGW_ACCOUNT_REGISTERED;
    ngx_str_set(&ch.id, "dcr-7f3a");
    ch.status = NGX_HTTP_LLMGW_ACCOUNT_PENDING;
    ngx_str_set(&ch.ceiling, "text audio");
    ngx_str_set(&ch.pending_ceiling, "claude");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_line(zone, &ch, buf, &len)
                         == NGX_OK
                         && len == sizeof("{\"registered_client\":"
                                          "\"dcr-7f3a\",\"status\":"
                                          "\"pending\",\"ceiling\":"
                                          "\"text audio\","
                                          "\"pending_ceiling\":"
                                          "\"claude\"}") - 1
                         && ngx_strncmp(buf, "{\"registered_client\":"
                                        "\"dcr-7f3a\",\"status\":"
                                        "\"pending\",\"ceiling\":"
                                        "\"text audio\","
                                        "\"pending_ceiling\":"
                                        "\"claude\"}", len) == 0,
                         "a registered client's line, applied");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_count(zone,
                             NGX_HTTP_LLMGW_ACCOUNT_REGISTERED) == 1,
                         "counted");

    ngx_str_set(&id, "dcr-7f3a");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_lookup(zone,
                             NGX_HTTP_LLMGW_ACCOUNT_REGISTERED, &id,
                             NGX_HTTP_LLMGW_TEST_NOW, pool, &got)
                         == NGX_OK
                         && got.kind == NGX_HTTP_LLMGW_ACCOUNT_REGISTERED
                         && got.status == NGX_HTTP_LLMGW_ACCOUNT_PENDING
                         && got.ceiling.len == 10
                         && ngx_strncmp(got.ceiling.data, "text audio", 10)
                            == 0
                         && got.pending_ceiling.len == 6
                         && ngx_strncmp(got.pending_ceiling.data, "claude", 6)
                            == 0
                         && got.department.len == 0,
                         "lookup: the record read back, copied");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_lookup(zone,
                             NGX_HTTP_LLMGW_ACCOUNT_CLIENT, &id,
                             NGX_HTTP_LLMGW_TEST_NOW, pool, &got)
                         == NGX_DECLINED,
                         "a record is not a revoked client");

    /* approved, no pending ceiling; then deleted: a tombstone */

    ch.status = NGX_HTTP_LLMGW_ACCOUNT_APPROVED;
    ngx_str_null(&ch.pending_ceiling);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_line(zone, &ch, buf, &len)
                         == NGX_OK
                         && ngx_strstr(buf, "\"status\":\"approved\"")
                         && ngx_strstr(buf, "\"pending_ceiling\":\"\"}")
                         && ngx_http_llmgw_account_lookup(zone,
                                NGX_HTTP_LLMGW_ACCOUNT_REGISTERED, &id,
                                NGX_HTTP_LLMGW_TEST_NOW, pool, &got)
                            == NGX_OK
                         && got.status == NGX_HTTP_LLMGW_ACCOUNT_APPROVED
                         && got.pending_ceiling.len == 0,
                         "a record replaced: approved, no pending ceiling");

    ch.status = NGX_HTTP_LLMGW_ACCOUNT_DELETED;
    ngx_str_null(&ch.ceiling);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_line(zone, &ch, buf, &len)
                         == NGX_OK
                         && ngx_strstr(buf, "\"status\":\"deleted\","
                                       "\"ceiling\":\"\"")
                         && ngx_http_llmgw_account_lookup(zone,
                                NGX_HTTP_LLMGW_ACCOUNT_REGISTERED, &id,
                                NGX_HTTP_LLMGW_TEST_NOW, pool, &got)
                            == NGX_OK
                         && got.status == NGX_HTTP_LLMGW_ACCOUNT_DELETED
                         && ngx_http_llmgw_account_count(zone,
                                NGX_HTTP_LLMGW_ACCOUNT_REGISTERED) == 1,
                         "deleted: a tombstone, with an empty ceiling");

    if (ngx_array_init(&a, pool, 2, sizeof(ngx_http_llmgw_account_change_t))
        != NGX_OK)
    {
        NGX_HTTP_LLMGW_CHECK(0, "array made");
        return;
    }

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_list(zone,
                             NGX_HTTP_LLMGW_ACCOUNT_REGISTERED,
                             NGX_HTTP_LLMGW_TEST_NOW, pool, &a)
                         == NGX_OK && a.nelts == 1,
                         "list: the records, tombstones too");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_commit_line(zone,
                                 (u_char *) bad[i], ngx_strlen(bad[i]),
                                 NGX_HTTP_LLMGW_TEST_NOW, &expired,
                                 &ngx_http_llmgw_unit_log)
                             == NGX_DECLINED,
                             "a malformed record refused");
    }

    ch.status = NGX_HTTP_LLMGW_ACCOUNT_APPROVED;
    ngx_str_set(&ch.ceiling, "text");
    ch.pending_ceiling.len = NGX_HTTP_LLMGW_ACCOUNT_MAX_CEILING + 1;
    ch.pending_ceiling.data = ngx_pnalloc(pool, ch.pending_ceiling.len);

    if (ch.pending_ceiling.data) {
        ngx_memset(ch.pending_ceiling.data, 'a', ch.pending_ceiling.len);
    }

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_apply(zone, &ch,
                             NGX_HTTP_LLMGW_TEST_NOW,
                             &ngx_http_llmgw_unit_log)
                         == NGX_DECLINED,
                         "a ceiling over 4096 bytes refused");

    ch.pending_ceiling.len--;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_apply(zone, &ch,
                             NGX_HTTP_LLMGW_TEST_NOW,
                             &ngx_http_llmgw_unit_log)
                         == NGX_OK
                         && ngx_http_llmgw_account_lookup(zone,
                                NGX_HTTP_LLMGW_ACCOUNT_REGISTERED, &id,
                                NGX_HTTP_LLMGW_TEST_NOW, pool, &got)
                            == NGX_OK
                         && got.pending_ceiling.len
                            == NGX_HTTP_LLMGW_ACCOUNT_MAX_CEILING,
                         "one of 4096 bytes kept whole");

    ngx_http_llmgw_unit_zone_free(zone);
}


static ngx_int_t
ngx_http_llmgw_test_commit(ngx_shm_zone_t *zone,
    ngx_http_llmgw_account_change_t *ch, ngx_uint_t n, time_t now)
{
    ngx_uint_t  compact;

    return ngx_http_llmgw_account_commit(zone, ch, n, now, 0, &compact,
                                         &ngx_http_llmgw_unit_log);
}


/* whether user is there with department and active (NULL: not there) */

static ngx_uint_t
ngx_http_llmgw_test_user_is(ngx_shm_zone_t *zone, ngx_pool_t *pool,
    char *user, char *department, ngx_uint_t active)
{
    ngx_str_t                        id;
    ngx_http_llmgw_account_change_t  ch;

    id.data = (u_char *) user;
    id.len = ngx_strlen(user);

    if (ngx_http_llmgw_account_lookup(zone, NGX_HTTP_LLMGW_ACCOUNT_USER, &id,
                                      NGX_HTTP_LLMGW_TEST_NOW, pool, &ch)
        != NGX_OK)
    {
        return department == NULL;
    }

    return department != NULL
           && ch.department.len == ngx_strlen(department)
           && ngx_strncmp(ch.department.data, department,
                          ch.department.len) == 0
           && ch.active == active;
}


static void
ngx_http_llmgw_test_cas(ngx_pool_t *pool)
{
    time_t                            now;
    size_t                            len;
    u_char                            hex[NGX_HTTP_LLMGW_JTI_HASH_LEN];
    u_char                            buf[1024];
    ngx_str_t                         id;
    ngx_shm_zone_t                   *zone;
    ngx_http_llmgw_account_change_t   read, stale, ch[2], none;

    now = NGX_HTTP_LLMGW_TEST_NOW;

    zone = ngx_http_llmgw_test_zone(pool, "cas:1m");
    if (zone == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "zone made");
        return;
    }

    ngx_memzero(&none, sizeof(ngx_http_llmgw_account_change_t));

    /* a new entry: expects none */

    ngx_memzero(&ch[0], sizeof(ngx_http_llmgw_account_change_t));
    ch[0].kind = NGX_HTTP_LLMGW_ACCOUNT_USER;
    ngx_str_set(&ch[0].id, "E1");
    ngx_str_set(&ch[0].department, "sales");
    ch[0].time = now - 86400;
    ch[0].end = NGX_HTTP_LLMGW_ACCOUNT_NO_END;
    ch[0].active = 1;
    ch[0].expect = &none;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1, now)
                         == NGX_OK
                         && ngx_http_llmgw_test_user_is(zone, pool, "E1",
                                                        "sales", 1),
                         "cas: a new entry where none was expected");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1, now)
                         == NGX_BUSY,
                         "cas: none expected, one there: busy");

    /* read, then two writes made from that read: the second is refused */

    id = ch[0].id;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_account_lookup(zone,
                             NGX_HTTP_LLMGW_ACCOUNT_USER, &id, now, pool,
                             &read)
                         == NGX_OK,
                         "cas: the entry read");

    stale = read;

    ch[0] = read;
    ch[0].active = 0;
    ch[0].expect = &read;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1, now)
                         == NGX_OK
                         && ngx_http_llmgw_test_user_is(zone, pool, "E1",
                                                        "sales", 0),
                         "cas: disabled over what it read");

    ch[0] = stale;
    ngx_str_set(&ch[0].department, "dev");
    ch[0].expect = &stale;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1, now)
                         == NGX_BUSY
                         && ngx_http_llmgw_test_user_is(zone, pool, "E1",
                                                        "sales", 0),
                         "cas: a move made over the old read: busy, the "
                         "disable kept");

    /* each field counts */

    ch[0].expect = &read;
    read.active = 0;
    read.time++;
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1, now)
                         == NGX_BUSY, "cas: another start: busy");

    read.time--;
    read.end = now;
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1, now)
                         == NGX_BUSY, "cas: another end: busy");

    read.end = NGX_HTTP_LLMGW_ACCOUNT_NO_END;
    ngx_str_set(&read.department, "sale");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1, now)
                         == NGX_BUSY, "cas: another department: busy");

    ngx_str_set(&read.department, "sales");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1, now)
                         == NGX_OK
                         && ngx_http_llmgw_test_user_is(zone, pool, "E1",
                                                        "dev", 1),
                         "cas: read again: made");

    /* all or nothing: a new entry and a stale one in one commit */

    ngx_memzero(&ch[0], sizeof(ngx_http_llmgw_account_change_t));
    ch[0].kind = NGX_HTTP_LLMGW_ACCOUNT_USER;
    ngx_str_set(&ch[0].id, "E2");
    ch[0].end = NGX_HTTP_LLMGW_ACCOUNT_NO_END;
    ch[0].active = 1;
    ch[0].expect = &none;

    ch[1] = stale;
    ch[1].active = 0;
    ch[1].expect = &stale;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 2, now)
                         == NGX_BUSY
                         && ngx_http_llmgw_test_user_is(zone, pool, "E2",
                                                        NULL, 0)
                         && ngx_http_llmgw_test_user_is(zone, pool, "E1",
                                                        "dev", 1),
                         "cas: one of two changed: neither made");

    /* a removal expects what it removes */

    ch[1].remove = 1;
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, &ch[1], 1, now)
                         == NGX_BUSY
                         && ngx_http_llmgw_test_user_is(zone, pool, "E1",
                                                        "dev", 1),
                         "cas: a stale removal: busy");

    /* the stream's line over a newer entry: never conditional */

    ch[1].remove = 0;
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_line(zone, &ch[1], buf, &len)
                         == NGX_OK
                         && ngx_http_llmgw_test_user_is(zone, pool, "E1",
                                                        "sales", 0),
                         "cas: a line applied whatever it would expect");

    /* a registered client's ceilings */

    ngx_memzero(&ch[0], sizeof(ngx_http_llmgw_account_change_t));
    ch[0].kind = NGX_HTTP_LLMGW_ACCOUNT_REGISTERED;
    ngx_str_set(&ch[0].id, "app");
    ngx_str_set(&ch[0].ceiling, "text");
    ch[0].status = NGX_HTTP_LLMGW_ACCOUNT_PENDING;

    (void) ngx_http_llmgw_test_commit(zone, ch, 1, now);

    id = ch[0].id;

    (void) ngx_http_llmgw_account_lookup(zone,
                                         NGX_HTTP_LLMGW_ACCOUNT_REGISTERED,
                                         &id, now, pool, &read);

    ch[0] = read;
    ch[0].status = NGX_HTTP_LLMGW_ACCOUNT_APPROVED;
    ch[0].expect = &read;
    ngx_str_set(&read.pending_ceiling, "claude");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1, now)
                         == NGX_BUSY,
                         "cas: another pending ceiling: busy");

    read.pending_ceiling.len = 0;
    ngx_str_set(&read.ceiling, "audio");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1, now)
                         == NGX_BUSY,
                         "cas: another ceiling: busy");

    ngx_str_set(&read.ceiling, "text");
    read.status = NGX_HTTP_LLMGW_ACCOUNT_APPROVED;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1, now)
                         == NGX_BUSY,
                         "cas: another status: busy");

    read.status = NGX_HTTP_LLMGW_ACCOUNT_PENDING;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1, now)
                         == NGX_OK,
                         "cas: approved over the pending record read");

    /* a revoked jti past its exp and the grace is none */

    ngx_http_llmgw_test_revoke(zone, 9, now + 60, now);
    ngx_http_llmgw_test_jti(hex, 9);

    ngx_memzero(&ch[0], sizeof(ngx_http_llmgw_account_change_t));
    ch[0].kind = NGX_HTTP_LLMGW_ACCOUNT_JTI;
    ch[0].id.data = hex;
    ch[0].id.len = sizeof(hex);
    ch[0].time = now + 7200;
    ch[0].expect = &none;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1, now)
                         == NGX_BUSY,
                         "cas: a live revocation is one");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_commit(zone, ch, 1,
                             now + 61 + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE)
                         == NGX_OK,
                         "cas: an expired revocation is none");

    ngx_http_llmgw_unit_zone_free(zone);
}


int
main(void)
{
    ngx_pool_t  *pool;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 1;
    }

    pool = ngx_create_pool(16384, &ngx_http_llmgw_unit_log);

    ngx_http_llmgw_test_kinds(pool);
    ngx_http_llmgw_test_lookup(pool);
    ngx_http_llmgw_test_full(pool);
    ngx_http_llmgw_test_million(pool);
    ngx_http_llmgw_test_lines(pool);
    ngx_http_llmgw_test_page(pool);
    ngx_http_llmgw_test_registered(pool);
    ngx_http_llmgw_test_cas(pool);

    ngx_destroy_pool(pool);

    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
