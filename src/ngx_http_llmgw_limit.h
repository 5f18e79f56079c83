
/*
 * Copyright (C) llmgw authors
 *
 * Limits (llmgw_limit): what one limit is, the arithmetic of its kinds
 * (GCRA for rates, fixed windows in a time zone for quotas, a count of
 * requests in flight), and the interface every backend of limits offers
 * (shared memory, ngx_http_llmgw_limit_shm.c; Redis,
 * ngx_http_llmgw_limit_redis.c).
 *
 * The arithmetic is pure: integer milliseconds of wall-clock time in,
 * a verdict out, no request, no lock, no clock read; the unit test and
 * the backends call the same functions.
 */


#ifndef _NGX_HTTP_LLMGW_LIMIT_H_INCLUDED_
#define _NGX_HTTP_LLMGW_LIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef enum {
    NGX_HTTP_LLMGW_LIMIT_RATE = 1,         /* GCRA: rate=Nr/s|m burst=B */
    NGX_HTTP_LLMGW_LIMIT_QUOTA,            /* quota=N/minute|hour|day|month */
    NGX_HTTP_LLMGW_LIMIT_CONCURRENT,       /* concurrent=N */
    NGX_HTTP_LLMGW_LIMIT_TOKENS,           /* tokens=N/minute|...|month */
    NGX_HTTP_LLMGW_LIMIT_COST              /* cost=D.DD/minute|...|month */
} ngx_http_llmgw_limit_kind_e;


/*
 * The budgets (TOKENS, COST) are quotas whose takes count an amount (an
 * estimate of the call, in tokens or in micro-units of the price's
 * currency) rather than 1, taken once llmgw_pass has read the body and
 * trued up by adjust in the log phase; their windows are a quota's.
 */
#define ngx_http_llmgw_limit_budget(kind)                                     \
    ((kind) == NGX_HTTP_LLMGW_LIMIT_TOKENS                                    \
     || (kind) == NGX_HTTP_LLMGW_LIMIT_COST)

/* the kinds counted in a calendar window: quotas and budgets */
#define ngx_http_llmgw_limit_windowed(kind)                                   \
    ((kind) == NGX_HTTP_LLMGW_LIMIT_QUOTA                                     \
     || ngx_http_llmgw_limit_budget(kind))


typedef enum {
    NGX_HTTP_LLMGW_LIMIT_MINUTE = 0,
    NGX_HTTP_LLMGW_LIMIT_HOUR,
    NGX_HTTP_LLMGW_LIMIT_DAY,
    NGX_HTTP_LLMGW_LIMIT_MONTH
} ngx_http_llmgw_limit_period_e;


/*
 * A time zone's UTC offsets: from each transition on (UTC seconds), the
 * offset east of UTC in seconds.  Built at configuration time over a span
 * of years (ngx_http_llmgw_limit_tz_build); before the first transition
 * the first offset holds, after the last the last one.  UTC: one entry.
 */

typedef struct {
    time_t                     at;
    time_t                     offset;
} ngx_http_llmgw_limit_tz_entry_t;


typedef struct {
    ngx_str_t                          name;     /* "Asia/Tokyo" */
    ngx_http_llmgw_limit_tz_entry_t   *entries;  /* by at, ascending */
    ngx_uint_t                         n;
} ngx_http_llmgw_limit_tz_t;


typedef struct ngx_http_llmgw_limit_backend_s  ngx_http_llmgw_limit_backend_t;


/* one llmgw_limit line: read-only at request time */

typedef struct {
    ngx_str_t                        name;      /* token chars only */
    ngx_http_llmgw_limit_kind_e      kind;
    ngx_http_complex_value_t         key;
    ngx_flag_t                       empty_allow;

    /*
     * RATE: rate requests every interval ms (1000 or 60000), burst more
     * at once.  GCRA runs in units of 1/rate ms, so 3r/s is exact.
     */
    int64_t                          rate;
    int64_t                          interval;
    int64_t                          burst;

    /*
     * QUOTA, CONCURRENT: how many (a window's, or at once); TOKENS: the
     * tokens of a window; COST: its micro-units of currency
     */
    int64_t                          quota;
    ngx_http_llmgw_limit_period_e    period;

    /* TOKENS, COST: the output tokens reserved when a call names none */
    int64_t                          estimate;

    /*
     * the key names $llmgw_model: where the path does not name the model
     * (it is in the body), the limit waits for the body as budgets do
     */
    ngx_flag_t                       model;

    ngx_http_llmgw_limit_tz_t       *tz;        /* QUOTA, from main conf */
    ngx_http_llmgw_limit_backend_t  *backend;
    void                            *data;      /* the backend's (zone) */
    ngx_str_t                        reason;    /* "limit NAME exceeded" */
    ngx_str_t                        no_key;    /* "no key for limit NAME" */
    ngx_str_t                        policy;    /* RateLimit-Policy item */
} ngx_http_llmgw_limit_t;


/*
 * What a take decided: allowed or not; how many more would be allowed
 * now (remaining), in ms until the limit is whole again (reset), and for
 * a refusal in ms until a retry can pass (retry).  window is where the
 * take counted (a quota's window start), for a release to undo it only
 * in the same window.  amount is set by the caller before the take: 1
 * for a request, the estimate for a budget.
 */

typedef struct {
    int64_t                    amount;   /* units this take counts */
    int64_t                    remaining;
    int64_t                    reset;
    int64_t                    retry;
    int64_t                    window;
    void                      *pending;   /* the backend's: NULL at the
                                             first take of a request */
    unsigned                   allowed:1;
} ngx_http_llmgw_limit_verdict_t;


/*
 * A backend of limits.  take counts one request against limit for key
 * at now (ms of wall-clock time) if it fits, exactly across every worker
 * (and node) the backend spans, and says so in *v: NGX_OK with *v set;
 * NGX_AGAIN when the answer comes later (a Redis round trip): the
 * backend keeps its operation in v->pending (v lives in the request's
 * pool as long as the request), detaches it in a cleanup of r's pool,
 * resumes r's phases once the reply is in *v (STYLE.md rule 8), and the
 * access stage then calls take again with the same v, which answers
 * NGX_OK at once; NGX_BUSY: the backend keeps no state for a new key
 * now (503); NGX_DECLINED: the key cannot be kept (too long; 403);
 * NGX_ERROR.
 *
 * release undoes a take that was allowed (a later limit of the same
 * request refused it; a concurrent request ended); it never waits and
 * cannot fail in a way the request could act on.
 *
 * adjust moves the count of the take v in the window v->window by
 * delta (positive or negative; a budget's true-up in the log phase: the
 * usage llmgw_pass read minus the reservation, or minus the reservation
 * when the call failed); a window that ended, or a state gone, owes
 * nothing.  It never waits and needs no request.
 *
 * A budget, and a limit keyed by a model only the body names, is taken
 * in the content phase, once llmgw_pass has read the body: a take that
 * returns NGX_AGAIN there resumes r's phases all the same, which calls
 * llmgw_pass's content handler again, and the limits then go on where
 * they waited (ngx_http_llmgw_limits_body).
 */

struct ngx_http_llmgw_limit_backend_s {
    const char                *name;
    ngx_int_t                (*take)(ngx_http_request_t *r,
                                     ngx_http_llmgw_limit_t *limit,
                                     ngx_str_t *key, int64_t now,
                                     ngx_http_llmgw_limit_verdict_t *v);
    void                     (*release)(ngx_log_t *log,
                                        ngx_http_llmgw_limit_t *limit,
                                        ngx_str_t *key, int64_t now,
                                        ngx_http_llmgw_limit_verdict_t *v);
    void                     (*adjust)(ngx_log_t *log,
                                       ngx_http_llmgw_limit_t *limit,
                                       ngx_str_t *key, int64_t now,
                                       ngx_http_llmgw_limit_verdict_t *v,
                                       int64_t delta);
};


/*
 * GCRA state: the theoretical arrival time of the key's next request, in
 * units of 1/rate ms; 0 for a key never seen.  take advances *tat when
 * allowed.
 */
void ngx_http_llmgw_limit_gcra_take(ngx_http_llmgw_limit_t *limit,
    int64_t *tat, int64_t now, ngx_http_llmgw_limit_verdict_t *v);
void ngx_http_llmgw_limit_gcra_release(ngx_http_llmgw_limit_t *limit,
    int64_t *tat);

/*
 * Quota state (and a budget's): the window the count belongs to (start
 * and end, ms) and the count.  A take in a later window starts a new one
 * from 0.  A take counts v->amount when it fits whole in what is left;
 * release takes it back, adjust moves the count by delta (never below 0),
 * both only in the window the take counted in.
 */

typedef struct {
    int64_t                    start;
    int64_t                    end;
    int64_t                    count;
} ngx_http_llmgw_limit_window_t;

void ngx_http_llmgw_limit_quota_take(ngx_http_llmgw_limit_t *limit,
    ngx_http_llmgw_limit_window_t *w, int64_t now,
    ngx_http_llmgw_limit_verdict_t *v);
void ngx_http_llmgw_limit_quota_release(ngx_http_llmgw_limit_window_t *w,
    ngx_http_llmgw_limit_verdict_t *v);
void ngx_http_llmgw_limit_quota_adjust(ngx_http_llmgw_limit_window_t *w,
    ngx_http_llmgw_limit_verdict_t *v, int64_t delta);

/* concurrency state: the requests of the key in flight */
void ngx_http_llmgw_limit_concurrent_take(ngx_http_llmgw_limit_t *limit,
    int64_t *inflight, ngx_http_llmgw_limit_verdict_t *v);

/*
 * The window of period that holds now (ms) in tz: local calendar
 * minutes, hours, days and months, as UTC ms [start, end).  A day of a
 * DST change is 23 or 25 hours long; a local midnight that does not exist
 * starts its day at the transition.
 */
void ngx_http_llmgw_limit_window(ngx_http_llmgw_limit_tz_t *tz,
    ngx_http_llmgw_limit_period_e period, int64_t now, int64_t *start,
    int64_t *end);

/* tz's offset east of UTC at t (seconds) */
time_t ngx_http_llmgw_limit_tz_offset(ngx_http_llmgw_limit_tz_t *tz,
    time_t t);

/*
 * The offsets of the IANA zone name (as TZ would name it, read by the C
 * library from /usr/share/zoneinfo) from the years around `from` to
 * `years` after it, found with localtime_r under TZ=name; TZ and tzset()
 * are restored before it returns.  Configuration time only: it is not
 * thread-safe and takes a few milliseconds.  NGX_DECLINED: no such zone;
 * NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_llmgw_limit_tz_build(ngx_pool_t *pool, ngx_str_t *name,
    time_t from, ngx_uint_t years, ngx_http_llmgw_limit_tz_t *tz);

/* days since 1970-01-01 of the proleptic Gregorian date y-m-d (m 1..12) */
int64_t ngx_http_llmgw_limit_days(int64_t y, int64_t m, int64_t d);

/*
 * The duration in ms as OpenAI writes its x-ratelimit-reset-* values:
 * "120ms", "1s", "1.5s", "6m0s", "1h2m3s"; at p, which has room for
 * NGX_HTTP_LLMGW_LIMIT_DURATION_LEN bytes; returns the end.
 */
#define NGX_HTTP_LLMGW_LIMIT_DURATION_LEN  (NGX_INT64_LEN + 16)

u_char *ngx_http_llmgw_limit_duration(u_char *p, int64_t ms);

/* ms rounded up to whole seconds, never negative */
int64_t ngx_http_llmgw_limit_seconds(int64_t ms);


#endif /* _NGX_HTTP_LLMGW_LIMIT_H_INCLUDED_ */
