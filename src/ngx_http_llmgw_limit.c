
/*
 * Copyright (C) llmgw authors
 *
 * The arithmetic of limits: GCRA for rates, fixed windows in a time zone
 * for quotas, a count in flight for concurrency; time zones as tables of
 * UTC offsets made at configuration time.  Pure: no request, no lock,
 * no clock read (the caller gives now).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_limit.h"


#define NGX_HTTP_LLMGW_LIMIT_DAY_S     86400
#define NGX_HTTP_LLMGW_LIMIT_ZONEINFO  "/usr/share/zoneinfo/"

/* a concurrent refusal knows no time: a second, as a client's pause */
#define NGX_HTTP_LLMGW_LIMIT_CONCURRENT_RETRY  1000


static int64_t ngx_http_llmgw_limit_floor_div(int64_t a, int64_t b);
static void ngx_http_llmgw_limit_civil(int64_t days, int64_t *y,
    int64_t *m);
static time_t ngx_http_llmgw_limit_utc(ngx_http_llmgw_limit_tz_t *tz,
    time_t local);
static ngx_uint_t ngx_http_llmgw_limit_tz_index(
    ngx_http_llmgw_limit_tz_t *tz, time_t t);
static ngx_int_t ngx_http_llmgw_limit_tz_name_valid(ngx_str_t *name);
static time_t ngx_http_llmgw_limit_gmtoff(time_t t);
static time_t ngx_http_llmgw_limit_transition(time_t lo, time_t hi);


void
ngx_http_llmgw_limit_gcra_take(ngx_http_llmgw_limit_t *limit, int64_t *tat,
    int64_t now, ngx_http_llmgw_limit_verdict_t *v)
{
    int64_t  t, tau, next, rate;

    /* in units of 1/rate ms: one request costs interval exactly */

    rate = limit->rate;
    now *= rate;
    tau = limit->burst * limit->interval;
    t = ngx_max(*tat, now);

    v->window = 0;

    if (t - now > tau) {
        v->allowed = 0;
        v->remaining = 0;
        v->retry = (t - now - tau + rate - 1) / rate;
        v->reset = (t - now + rate - 1) / rate;
        return;
    }

    next = t + limit->interval;
    *tat = next;

    /* the requests that would still pass at now, one interval apart */

    v->allowed = 1;
    v->remaining = (tau + limit->interval - (next - now)) / limit->interval;
    v->retry = 0;
    v->reset = (next - now + rate - 1) / rate;
}


/*
 * One interval back: a TAT at or before now means a fresh key either
 * way, so the state equals the one before the take for every later
 * decision, whatever other takes came in between.
 */

void
ngx_http_llmgw_limit_gcra_release(ngx_http_llmgw_limit_t *limit,
    int64_t *tat)
{
    *tat -= limit->interval;
}


void
ngx_http_llmgw_limit_quota_take(ngx_http_llmgw_limit_t *limit,
    ngx_http_llmgw_limit_window_t *w, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v)
{
    if (now >= w->end || now < w->start) {
        ngx_http_llmgw_limit_window(limit->tz, limit->period, now, &w->start,
                                    &w->end);
        w->count = 0;
    }

    v->window = w->start;
    v->reset = w->end - now;

    if (v->amount > limit->quota - w->count) {
        v->allowed = 0;
        v->remaining = ngx_max(limit->quota - w->count, 0);
        v->retry = w->end - now;
        return;
    }

    w->count += v->amount;

    v->allowed = 1;
    v->remaining = limit->quota - w->count;
    v->retry = 0;
}


/* only in the window the take counted in: a new window owes nothing */

void
ngx_http_llmgw_limit_quota_release(ngx_http_llmgw_limit_window_t *w,
    ngx_http_llmgw_limit_verdict_t *v)
{
    ngx_http_llmgw_limit_quota_adjust(w, v, -v->amount);
}


void
ngx_http_llmgw_limit_quota_adjust(ngx_http_llmgw_limit_window_t *w,
    ngx_http_llmgw_limit_verdict_t *v, int64_t delta)
{
    if (w->start != v->window) {
        return;
    }

    w->count = (delta < 0 && -delta > w->count) ? 0 : w->count + delta;
}


void
ngx_http_llmgw_limit_concurrent_take(ngx_http_llmgw_limit_t *limit,
    int64_t *inflight, ngx_http_llmgw_limit_verdict_t *v)
{
    v->window = 0;
    v->reset = 0;

    if (*inflight >= limit->quota) {
        v->allowed = 0;
        v->remaining = 0;
        v->retry = NGX_HTTP_LLMGW_LIMIT_CONCURRENT_RETRY;
        return;
    }

    (*inflight)++;

    v->allowed = 1;
    v->remaining = limit->quota - *inflight;
    v->retry = 0;
}


void
ngx_http_llmgw_limit_window(ngx_http_llmgw_limit_tz_t *tz,
    ngx_http_llmgw_limit_period_e period, int64_t now, int64_t *start,
    int64_t *end)
{
    time_t   t, local, ls, le;
    int64_t  days, y, m, len;

    t = (time_t) ngx_http_llmgw_limit_floor_div(now, 1000);
    local = t + ngx_http_llmgw_limit_tz_offset(tz, t);

    switch (period) {

    case NGX_HTTP_LLMGW_LIMIT_MINUTE:
        len = 60;
        break;

    case NGX_HTTP_LLMGW_LIMIT_HOUR:
        len = 3600;
        break;

    case NGX_HTTP_LLMGW_LIMIT_DAY:
        len = NGX_HTTP_LLMGW_LIMIT_DAY_S;
        break;

    default: /* NGX_HTTP_LLMGW_LIMIT_MONTH */
        len = 0;
        break;
    }

    if (len) {
        ls = (time_t) (ngx_http_llmgw_limit_floor_div(local, len) * len);
        le = ls + len;

    } else {
        days = ngx_http_llmgw_limit_floor_div(local,
                                              NGX_HTTP_LLMGW_LIMIT_DAY_S);
        ngx_http_llmgw_limit_civil(days, &y, &m);

        ls = (time_t) (ngx_http_llmgw_limit_days(y, m, 1)
                       * NGX_HTTP_LLMGW_LIMIT_DAY_S);
        le = (time_t) ((m == 12 ? ngx_http_llmgw_limit_days(y + 1, 1, 1)
                                : ngx_http_llmgw_limit_days(y, m + 1, 1))
                       * NGX_HTTP_LLMGW_LIMIT_DAY_S);
    }

    *start = (int64_t) ngx_http_llmgw_limit_utc(tz, ls) * 1000;
    *end = (int64_t) ngx_http_llmgw_limit_utc(tz, le) * 1000;
}


time_t
ngx_http_llmgw_limit_tz_offset(ngx_http_llmgw_limit_tz_t *tz, time_t t)
{
    return tz->entries[ngx_http_llmgw_limit_tz_index(tz, t)].offset;
}


/* the entry in force at t: the last one at or before t, else the first */

static ngx_uint_t
ngx_http_llmgw_limit_tz_index(ngx_http_llmgw_limit_tz_t *tz, time_t t)
{
    ngx_uint_t  lo, hi, mid;

    lo = 0;
    hi = tz->n;

    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;

        if (tz->entries[mid].at <= t) {
            lo = mid;

        } else {
            hi = mid;
        }
    }

    return lo;
}


/*
 * The first UTC second whose local time is at or after local: the
 * instant itself where it exists once, its first occurrence where a
 * clock set back repeats it, the transition where a clock set forward
 * skips it.  Each span between transitions maps to local time
 * increasingly; the spans are tried in order from two days before,
 * which is before local under any offset.
 */

static time_t
ngx_http_llmgw_limit_utc(ngx_http_llmgw_limit_tz_t *tz, time_t local)
{
    time_t      from, lo, u;
    ngx_uint_t  j;

    from = local - 2 * NGX_HTTP_LLMGW_LIMIT_DAY_S;

    for (j = ngx_http_llmgw_limit_tz_index(tz, from); /* void */ ; j++) {

        lo = (j == 0 || tz->entries[j].at < from) ? from : tz->entries[j].at;
        u = ngx_max(lo, local - tz->entries[j].offset);

        if (j + 1 == tz->n || u < tz->entries[j + 1].at) {
            return u;
        }
    }
}


/* Howard Hinnant's days_from_civil, in integers */

int64_t
ngx_http_llmgw_limit_days(int64_t y, int64_t m, int64_t d)
{
    int64_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = ngx_http_llmgw_limit_floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


/* and its inverse, civil_from_days, for the year and month */

static void
ngx_http_llmgw_limit_civil(int64_t days, int64_t *y, int64_t *m)
{
    int64_t  z, era, doe, yoe, doy, mp;

    z = days + 719468;
    era = ngx_http_llmgw_limit_floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;

    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}


static int64_t
ngx_http_llmgw_limit_floor_div(int64_t a, int64_t b)
{
    int64_t  q;

    q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }

    return q;
}


/*
 * The C library reads the zone (TZif under /usr/share/zoneinfo) and
 * knows its rules: the table is its localtime_r() sampled a day apart,
 * each change of offset then found to the second.  No zone changes its
 * offset twice within a day.  glibc falls back to UTC silently for a
 * name it cannot read, so the file is looked for first.
 */

ngx_int_t
ngx_http_llmgw_limit_tz_build(ngx_pool_t *pool, ngx_str_t *name, time_t from,
    ngx_uint_t years, ngx_http_llmgw_limit_tz_t *tz)
{
    char         *old, *saved, *path;
    time_t        t, end, off, prev;
    ngx_int_t     rc;
    ngx_array_t   a;

    ngx_http_llmgw_limit_tz_entry_t  *e;

    if (ngx_http_llmgw_limit_tz_name_valid(name) != NGX_OK) {
        return NGX_DECLINED;
    }

    path = ngx_pnalloc(pool, sizeof(NGX_HTTP_LLMGW_LIMIT_ZONEINFO)
                             + name->len);
    if (path == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf((u_char *) path, NGX_HTTP_LLMGW_LIMIT_ZONEINFO "%V%Z", name);

    if (access(path, R_OK) != 0) {
        return NGX_DECLINED;
    }

    if (ngx_array_init(&a, pool, 64, sizeof(ngx_http_llmgw_limit_tz_entry_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    saved = NULL;
    old = getenv("TZ");

    if (old != NULL) {
        saved = ngx_pnalloc(pool, ngx_strlen(old) + 1);
        if (saved == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn((u_char *) saved, (u_char *) old, ngx_strlen(old) + 1);
    }

    /* "TZ=:Asia/Tokyo": a file of the zoneinfo directory, no POSIX rule */

    path[sizeof(NGX_HTTP_LLMGW_LIMIT_ZONEINFO) - 2] = ':';

    rc = NGX_OK;

    if (setenv("TZ", path + sizeof(NGX_HTTP_LLMGW_LIMIT_ZONEINFO) - 2, 1)
        != 0)
    {
        return NGX_ERROR;
    }

    tzset();

    t = from - 366 * NGX_HTTP_LLMGW_LIMIT_DAY_S;
    end = from + (time_t) years * 366 * NGX_HTTP_LLMGW_LIMIT_DAY_S;

    prev = ngx_http_llmgw_limit_gmtoff(t);

    e = ngx_array_push(&a);
    if (e == NULL) {
        rc = NGX_ERROR;
        goto restore;
    }

    e->at = t;
    e->offset = prev;

    for ( /* void */ ; t < end; t += NGX_HTTP_LLMGW_LIMIT_DAY_S) {

        off = ngx_http_llmgw_limit_gmtoff(t + NGX_HTTP_LLMGW_LIMIT_DAY_S);

        if (off == prev) {
            continue;
        }

        e = ngx_array_push(&a);
        if (e == NULL) {
            rc = NGX_ERROR;
            goto restore;
        }

        e->at = ngx_http_llmgw_limit_transition(t,
                                            t + NGX_HTTP_LLMGW_LIMIT_DAY_S);
        e->offset = off;
        prev = off;
    }

restore:

    if (saved) {
        (void) setenv("TZ", saved, 1);

    } else {
        (void) unsetenv("TZ");
    }

    tzset();

    if (rc != NGX_OK) {
        return rc;
    }

    tz->name = *name;
    tz->entries = a.elts;
    tz->n = a.nelts;

    return NGX_OK;
}


/* a name of the zoneinfo tree: letters, digits, "_+-/", no ".." */

static ngx_int_t
ngx_http_llmgw_limit_tz_name_valid(ngx_str_t *name)
{
    u_char      c;
    ngx_uint_t  i;

    if (name->len == 0 || name->len > 64 || name->data[0] == '/') {
        return NGX_DECLINED;
    }

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-'
            || (c == '/' && name->data[i - 1] != '/'))
        {
            continue;
        }

        return NGX_DECLINED;
    }

    return NGX_OK;
}


static time_t
ngx_http_llmgw_limit_gmtoff(time_t t)
{
    struct tm  tm;

    if (localtime_r(&t, &tm) == NULL) {
        return 0;
    }

    return tm.tm_gmtoff;
}


/* the first second of (lo, hi] whose offset differs from lo's */

static time_t
ngx_http_llmgw_limit_transition(time_t lo, time_t hi)
{
    time_t  mid, off;

    off = ngx_http_llmgw_limit_gmtoff(lo);

    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;

        if (ngx_http_llmgw_limit_gmtoff(mid) == off) {
            lo = mid;

        } else {
            hi = mid;
        }
    }

    return hi;
}


u_char *
ngx_http_llmgw_limit_duration(u_char *p, int64_t ms)
{
    int64_t  h, m, s, frac;

    if (ms < 0) {
        ms = 0;
    }

    if (ms < 1000) {
        return ngx_sprintf(p, "%Lms", ms);
    }

    h = ms / 3600000;
    m = ms / 60000 % 60;
    s = ms / 1000 % 60;
    frac = ms % 1000;

    if (h) {
        p = ngx_sprintf(p, "%Lh", h);
    }

    if (h || m) {
        p = ngx_sprintf(p, "%Lm", m);
    }

    p = ngx_sprintf(p, "%L", s);

    if (frac) {
        *p++ = '.';
        *p++ = (u_char) ('0' + frac / 100);

        if (frac % 100) {
            *p++ = (u_char) ('0' + frac / 10 % 10);

            if (frac % 10) {
                *p++ = (u_char) ('0' + frac % 10);
            }
        }
    }

    *p++ = 's';

    return p;
}


int64_t
ngx_http_llmgw_limit_seconds(int64_t ms)
{
    if (ms <= 0) {
        return 0;
    }

    return (ms + 999) / 1000;
}
