/* llmgw-unit-srcs: src/ngx_http_llmgw_limit.c */
/* llmgw-unit-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * The arithmetic of limits, with values worked out by hand (and the
 * instants by Python's zoneinfo): GCRA's admissions, remaining, reset
 * and retry, also at 3r/s where ms do not divide; a quota's count, its
 * window roll-over, and a release that only undoes its own window; the
 * windows of Asia/Tokyo's month edge, Europe/Berlin's 23- and 25-hour
 * days, America/Santiago's day without a midnight; civil dates; the
 * durations OpenAI writes; time zone names refused; TZ restored.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_limit.h"


static void ngx_http_llmgw_test_gcra(void);
static void ngx_http_llmgw_test_gcra_fraction(void);
static void ngx_http_llmgw_test_quota(void);
static void ngx_http_llmgw_test_budget(void);
static void ngx_http_llmgw_test_concurrent(void);
static ngx_int_t ngx_http_llmgw_test_tz(ngx_pool_t *pool, const char *name,
    ngx_http_llmgw_limit_tz_t *tz);
static ngx_uint_t ngx_http_llmgw_test_window(ngx_http_llmgw_limit_tz_t *tz,
    ngx_http_llmgw_limit_period_e period, int64_t now, int64_t start,
    int64_t end);
static void ngx_http_llmgw_test_windows(ngx_pool_t *pool);
static void ngx_http_llmgw_test_days(void);
static void ngx_http_llmgw_test_durations(void);


/* 2026-01-01T00:00:00Z: the tables are built from here */
#define NGX_HTTP_LLMGW_TEST_FROM  1767225600


static void
ngx_http_llmgw_test_gcra(void)
{
    int64_t                          tat, now;
    ngx_uint_t                       i, ok;
    ngx_http_llmgw_limit_t           limit;
    ngx_http_llmgw_limit_verdict_t   v;

    ngx_memzero(&limit, sizeof(ngx_http_llmgw_limit_t));

    /* 1 a minute, burst 2: three at once, the fourth in a minute */

    limit.kind = NGX_HTTP_LLMGW_LIMIT_RATE;
    limit.rate = 1;
    limit.interval = 60000;
    limit.burst = 2;

    tat = 0;
    now = 1000000;
    ok = 1;

    for (i = 0; i < 3; i++) {
        ngx_http_llmgw_limit_gcra_take(&limit, &tat, now, &v);

        ok = ok && v.allowed && v.remaining == (int64_t) (2 - i)
             && v.reset == (int64_t) (60000 * (i + 1)) && v.retry == 0;
    }

    NGX_HTTP_LLMGW_CHECK(ok, "burst 2: three pass, remaining 2 1 0, reset "
                         "one interval more each");

    ngx_http_llmgw_limit_gcra_take(&limit, &tat, now + 100, &v);

    NGX_HTTP_LLMGW_CHECK(!v.allowed && v.remaining == 0
                         && v.retry == 59900 && v.reset == 179900
                         && tat == now + 180000,
                         "the fourth 100 ms later: refused, retry in 59.9 s, "
                         "TAT unchanged");

    ngx_http_llmgw_limit_gcra_take(&limit, &tat, now + 59999, &v);
    NGX_HTTP_LLMGW_CHECK(!v.allowed && v.retry == 1,
                         "1 ms before the retry time: refused");

    ngx_http_llmgw_limit_gcra_take(&limit, &tat, now + 60000, &v);
    NGX_HTTP_LLMGW_CHECK(v.allowed && v.remaining == 0,
                         "at the retry time: allowed, none left");

    /* a release gives one interval back */

    ngx_http_llmgw_limit_gcra_release(&limit, &tat);
    ngx_http_llmgw_limit_gcra_take(&limit, &tat, now + 60000, &v);
    NGX_HTTP_LLMGW_CHECK(v.allowed, "a released take lets one more pass");

    /* idle for long: the state is fresh again, never a larger burst */

    ngx_http_llmgw_limit_gcra_take(&limit, &tat, now + 3600000, &v);
    NGX_HTTP_LLMGW_CHECK(v.allowed && v.remaining == 2 && v.reset == 60000,
                         "an hour idle: a fresh key's burst, not more");

    /* no burst: one an interval, exactly */

    limit.burst = 0;
    limit.rate = 10;
    limit.interval = 1000;
    tat = 0;

    ngx_http_llmgw_limit_gcra_take(&limit, &tat, now, &v);
    ok = v.allowed && v.remaining == 0 && v.reset == 100;
    ngx_http_llmgw_limit_gcra_take(&limit, &tat, now + 99, &v);
    ok = ok && !v.allowed && v.retry == 1;
    ngx_http_llmgw_limit_gcra_take(&limit, &tat, now + 100, &v);
    ok = ok && v.allowed;

    NGX_HTTP_LLMGW_CHECK(ok, "10r/s without burst: one every 100 ms");
}


/* 3r/s: an interval of 333.3 ms, kept exact in units of 1/3 ms */

static void
ngx_http_llmgw_test_gcra_fraction(void)
{
    int64_t                          tat, now, t;
    ngx_uint_t                       n;
    ngx_http_llmgw_limit_t           limit;
    ngx_http_llmgw_limit_verdict_t   v;

    ngx_memzero(&limit, sizeof(ngx_http_llmgw_limit_t));

    limit.kind = NGX_HTTP_LLMGW_LIMIT_RATE;
    limit.rate = 3;
    limit.interval = 1000;
    limit.burst = 0;

    tat = 0;
    now = 5000000;
    n = 0;

    /* a client retrying every ms for 10 s gets exactly 30 through */

    for (t = now; t < now + 10000; t++) {
        ngx_http_llmgw_limit_gcra_take(&limit, &tat, t, &v);

        if (v.allowed) {
            n++;
        }
    }

    NGX_HTTP_LLMGW_CHECK(n == 30, "3r/s over 10 s of tries: 30 through");

    tat = 0;
    ngx_http_llmgw_limit_gcra_take(&limit, &tat, now, &v);
    ngx_http_llmgw_limit_gcra_take(&limit, &tat, now, &v);

    NGX_HTTP_LLMGW_CHECK(!v.allowed && v.retry == 334 && v.reset == 334,
                         "3r/s: retry 333.3 ms rounded up to 334");
}


static void
ngx_http_llmgw_test_quota(void)
{
    int64_t                          now;
    ngx_uint_t                       i, ok;
    ngx_http_llmgw_limit_t           limit;
    ngx_http_llmgw_limit_tz_t        utc;
    ngx_http_llmgw_limit_window_t    w;
    ngx_http_llmgw_limit_verdict_t   v, first;

    ngx_http_llmgw_limit_tz_entry_t  e = { 0, 0 };

    utc.entries = &e;
    utc.n = 1;

    ngx_memzero(&limit, sizeof(ngx_http_llmgw_limit_t));
    ngx_memzero(&w, sizeof(ngx_http_llmgw_limit_window_t));

    limit.kind = NGX_HTTP_LLMGW_LIMIT_QUOTA;
    limit.quota = 3;
    limit.period = NGX_HTTP_LLMGW_LIMIT_MINUTE;
    limit.tz = &utc;

    now = 1767225600000LL + 30000;    /* 00:00:30 */
    ok = 1;
    v.amount = 1;

    for (i = 0; i < 3; i++) {
        ngx_http_llmgw_limit_quota_take(&limit, &w, now + i, &v);

        ok = ok && v.allowed && v.remaining == (int64_t) (2 - i)
             && v.reset == (int64_t) (30000 - i)
             && v.window == 1767225600000LL;

        if (i == 0) {
            first = v;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "a quota of 3 a minute: 3 pass, reset at the "
                         "minute's end");

    ngx_http_llmgw_limit_quota_take(&limit, &w, now + 10, &v);
    NGX_HTTP_LLMGW_CHECK(!v.allowed && v.retry == 29990 && w.count == 3,
                         "the fourth: refused, not counted, retry at the "
                         "minute's end");

    ngx_http_llmgw_limit_quota_release(&w, &first);
    NGX_HTTP_LLMGW_CHECK(w.count == 2, "a release in its window counts back");

    ngx_http_llmgw_limit_quota_take(&limit, &w, now + 29999, &v);
    NGX_HTTP_LLMGW_CHECK(v.allowed && v.remaining == 0,
                         "the count given back is taken again");

    ngx_http_llmgw_limit_quota_take(&limit, &w, now + 30000, &v);
    NGX_HTTP_LLMGW_CHECK(v.allowed && v.remaining == 2
                         && v.window == 1767225660000LL
                         && w.end == 1767225720000LL,
                         "the next minute: a new window from 0");

    ngx_http_llmgw_limit_quota_release(&w, &first);
    NGX_HTTP_LLMGW_CHECK(w.count == 1,
                         "a release from the last window changes nothing");
}


/* a budget: takes of an amount, a refusal of what does not fit whole */

static void
ngx_http_llmgw_test_budget(void)
{
    int64_t                          now;
    ngx_http_llmgw_limit_t           limit;
    ngx_http_llmgw_limit_tz_t        utc;
    ngx_http_llmgw_limit_window_t    w;
    ngx_http_llmgw_limit_verdict_t   v, first;

    ngx_http_llmgw_limit_tz_entry_t  e = { 0, 0 };

    utc.entries = &e;
    utc.n = 1;

    ngx_memzero(&limit, sizeof(ngx_http_llmgw_limit_t));
    ngx_memzero(&w, sizeof(ngx_http_llmgw_limit_window_t));
    ngx_memzero(&v, sizeof(ngx_http_llmgw_limit_verdict_t));

    limit.kind = NGX_HTTP_LLMGW_LIMIT_TOKENS;
    limit.quota = 1000;
    limit.period = NGX_HTTP_LLMGW_LIMIT_DAY;
    limit.tz = &utc;

    now = 1767225600000LL + 3600000;   /* 2026-01-01 01:00 UTC */

    v.amount = 600;
    ngx_http_llmgw_limit_quota_take(&limit, &w, now, &v);
    first = v;
    NGX_HTTP_LLMGW_CHECK(v.allowed && v.remaining == 400 && w.count == 600
                         && v.reset == 23 * 3600000LL,
                         "a budget: 600 of 1000 reserved");

    v.amount = 401;
    ngx_http_llmgw_limit_quota_take(&limit, &w, now + 1, &v);
    NGX_HTTP_LLMGW_CHECK(!v.allowed && v.remaining == 400 && w.count == 600
                         && v.retry == 23 * 3600000LL - 1,
                         "401 more do not fit: refused whole, not counted");

    ngx_http_llmgw_limit_quota_adjust(&w, &first, -450);
    NGX_HTTP_LLMGW_CHECK(w.count == 150, "trued down to a usage of 150");

    v.amount = 850;
    ngx_http_llmgw_limit_quota_take(&limit, &w, now + 2, &v);
    NGX_HTTP_LLMGW_CHECK(v.allowed && v.remaining == 0 && w.count == 1000,
                         "850 more then fit exactly");

    ngx_http_llmgw_limit_quota_adjust(&w, &v, 200);
    NGX_HTTP_LLMGW_CHECK(w.count == 1200,
                         "a call that used more than reserved counts it all");

    v.amount = 1;
    ngx_http_llmgw_limit_quota_take(&limit, &w, now + 3, &v);
    NGX_HTTP_LLMGW_CHECK(!v.allowed && v.remaining == 0,
                         "over the budget: nothing left, not negative");

    ngx_http_llmgw_limit_quota_adjust(&w, &first, -5000);
    NGX_HTTP_LLMGW_CHECK(w.count == 0, "never below 0");

    v.amount = 10;
    ngx_http_llmgw_limit_quota_take(&limit, &w, now + 86400000, &v);
    ngx_http_llmgw_limit_quota_adjust(&w, &first, 500);
    ngx_http_llmgw_limit_quota_release(&w, &first);
    NGX_HTTP_LLMGW_CHECK(w.count == 10,
                         "the next day: the last day's take moves nothing");
}


static void
ngx_http_llmgw_test_concurrent(void)
{
    int64_t                          inflight;
    ngx_http_llmgw_limit_t           limit;
    ngx_http_llmgw_limit_verdict_t   v;

    ngx_memzero(&limit, sizeof(ngx_http_llmgw_limit_t));

    limit.kind = NGX_HTTP_LLMGW_LIMIT_CONCURRENT;
    limit.quota = 2;
    inflight = 0;

    ngx_http_llmgw_limit_concurrent_take(&limit, &inflight, &v);
    ngx_http_llmgw_limit_concurrent_take(&limit, &inflight, &v);

    NGX_HTTP_LLMGW_CHECK(v.allowed && v.remaining == 0 && inflight == 2,
                         "two in flight of 2");

    ngx_http_llmgw_limit_concurrent_take(&limit, &inflight, &v);

    NGX_HTTP_LLMGW_CHECK(!v.allowed && inflight == 2 && v.retry == 1000,
                         "a third refused, retry in a second");
}


static ngx_int_t
ngx_http_llmgw_test_tz(ngx_pool_t *pool, const char *name,
    ngx_http_llmgw_limit_tz_t *tz)
{
    ngx_str_t  s;

    s.data = (u_char *) name;
    s.len = ngx_strlen(name);

    return ngx_http_llmgw_limit_tz_build(pool, &s, NGX_HTTP_LLMGW_TEST_FROM,
                                         2, tz);
}


static ngx_uint_t
ngx_http_llmgw_test_window(ngx_http_llmgw_limit_tz_t *tz,
    ngx_http_llmgw_limit_period_e period, int64_t now, int64_t start,
    int64_t end)
{
    int64_t  s, e;

    ngx_http_llmgw_limit_window(tz, period, now, &s, &e);

    if (s != start || e != end) {
        printf("# window of %lld: [%lld, %lld), expected [%lld, %lld)\n",
               (long long) now, (long long) s, (long long) e,
               (long long) start, (long long) end);
        return 0;
    }

    return 1;
}


static void
ngx_http_llmgw_test_windows(ngx_pool_t *pool)
{
    char                       *tz_env;
    ngx_http_llmgw_limit_tz_t   tokyo, berlin, santiago, bad;

    (void) setenv("TZ", "UTC", 1);
    tzset();

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_tz(pool, "Asia/Tokyo", &tokyo)
                         == NGX_OK
                         && tokyo.n == 1
                         && tokyo.entries[0].offset == 9 * 3600,
                         "Asia/Tokyo: one offset, +09:00");

    tz_env = getenv("TZ");
    NGX_HTTP_LLMGW_CHECK(tz_env != NULL && ngx_strcmp(tz_env, "UTC") == 0,
                         "TZ restored after the table is built");

    /* 2026-02-01T00:00 JST is 2026-01-31T15:00Z */

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_window(&tokyo,
                             NGX_HTTP_LLMGW_LIMIT_MONTH, 1769871599999LL,
                             1767193200000LL, 1769871600000LL),
                         "Tokyo: the last ms of January (14:59:59.999Z) "
                         "is January's");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_window(&tokyo,
                             NGX_HTTP_LLMGW_LIMIT_MONTH, 1769871600000LL,
                             1769871600000LL, 1772290800000LL),
                         "Tokyo: 15:00:00Z on January 31 is February's "
                         "first ms");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_window(&tokyo,
                             NGX_HTTP_LLMGW_LIMIT_DAY, 1769871600000LL,
                             1769871600000LL, 1769958000000LL),
                         "Tokyo: a day from 15:00Z to 15:00Z");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_tz(pool, "Europe/Berlin",
                                                &berlin) == NGX_OK
                         && berlin.n == 7,
                         "Europe/Berlin: six changes from 2025 to 2027");

    /* 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00Z */

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_window(&berlin,
                             NGX_HTTP_LLMGW_LIMIT_DAY, 1774785600000LL,
                             1774738800000LL, 1774821600000LL),
                         "Berlin, March 29 2026: a day of 23 hours");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_window(&berlin,
                             NGX_HTTP_LLMGW_LIMIT_DAY, 1792929600000LL,
                             1792879200000LL, 1792969200000LL),
                         "Berlin, October 25 2026: a day of 25 hours");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_window(&berlin,
                             NGX_HTTP_LLMGW_LIMIT_HOUR, 1774746000000LL,
                             1774746000000LL, 1774749600000LL),
                         "Berlin: the hour after the change (03:00 CEST) "
                         "starts at 01:00Z");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_window(&berlin,
                             NGX_HTTP_LLMGW_LIMIT_HOUR, 1774745999000LL,
                             1774742400000LL, 1774746000000LL),
                         "Berlin: the hour before it (01:00 CET) is "
                         "00:00Z-01:00Z");

    /* Chile skips 00:00 on 2026-09-06: the day starts at 01:00 -03 */

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_tz(pool, "America/Santiago",
                                                &santiago) == NGX_OK,
                         "America/Santiago built");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_window(&santiago,
                             NGX_HTTP_LLMGW_LIMIT_DAY, 1788696000000LL,
                             1788667200000LL, 1788750000000LL),
                         "Santiago, September 6 2026: no midnight, the "
                         "day starts at the change");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_tz(pool, "Mars/Olympus", &bad)
                         == NGX_DECLINED
                         && ngx_http_llmgw_test_tz(pool, "../etc/passwd",
                                                   &bad) == NGX_DECLINED
                         && ngx_http_llmgw_test_tz(pool, "/etc/localtime",
                                                   &bad) == NGX_DECLINED
                         && ngx_http_llmgw_test_tz(pool, "", &bad)
                            == NGX_DECLINED,
                         "unknown zones and paths refused");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_limit_tz_offset(&berlin, 0)
                         == 3600,
                         "before the table: its first offset");
}


static void
ngx_http_llmgw_test_days(void)
{
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_limit_days(1970, 1, 1) == 0
                         && ngx_http_llmgw_limit_days(2026, 1, 1) == 20454
                         && ngx_http_llmgw_limit_days(2024, 3, 1)
                            - ngx_http_llmgw_limit_days(2024, 2, 1) == 29
                         && ngx_http_llmgw_limit_days(2100, 3, 1)
                            - ngx_http_llmgw_limit_days(2100, 2, 1) == 28
                         && ngx_http_llmgw_limit_days(1969, 12, 31) == -1,
                         "civil days: epoch, 2026, leap years");
}


static void
ngx_http_llmgw_test_durations(void)
{
    ngx_uint_t   i, ok;
    u_char      *p, buf[NGX_HTTP_LLMGW_LIMIT_DURATION_LEN];

    static struct {
        int64_t      ms;
        const char  *text;
    } cases[] = {
        { 0, "0ms" }, { 120, "120ms" }, { 1000, "1s" }, { 1500, "1.5s" },
        { 1050, "1.05s" }, { 1007, "1.007s" }, { 59999, "59.999s" },
        { 60000, "1m0s" }, { 360000, "6m0s" }, { 3723000, "1h2m3s" },
        { 86400000, "24h0m0s" }, { -5, "0ms" }
    };

    ok = 1;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        p = ngx_http_llmgw_limit_duration(buf, cases[i].ms);

        if ((size_t) (p - buf) != ngx_strlen(cases[i].text)
            || ngx_memcmp(buf, cases[i].text, p - buf) != 0)
        {
            printf("# %lld ms: \"%.*s\"\n", (long long) cases[i].ms,
                   (int) (p - buf), buf);
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "durations as OpenAI writes them");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_limit_seconds(1) == 1
                         && ngx_http_llmgw_limit_seconds(1000) == 1
                         && ngx_http_llmgw_limit_seconds(1001) == 2
                         && ngx_http_llmgw_limit_seconds(0) == 0
                         && ngx_http_llmgw_limit_seconds(-3) == 0,
                         "whole seconds, rounded up");
}


int
main(void)
{
    ngx_pool_t  *pool;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 1;
    }

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        return 1;
    }

    ngx_http_llmgw_test_gcra();
    ngx_http_llmgw_test_gcra_fraction();
    ngx_http_llmgw_test_quota();
    ngx_http_llmgw_test_budget();
    ngx_http_llmgw_test_concurrent();
    ngx_http_llmgw_test_windows(pool);
    ngx_http_llmgw_test_days();
    ngx_http_llmgw_test_durations();

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
