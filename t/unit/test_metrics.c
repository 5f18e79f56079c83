/* llmgw-unit-srcs: src/ngx_http_llmgw_metrics.c src/ngx_http_llmgw_zone.c */
/* llmgw-unit-srcs: t/unit/ngx_http_llmgw_unit_shm.c */
/* llmgw-unit-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * Prometheus metrics: label value escaping; the renderer on a snapshot
 * made by hand, compared with the exact text; then the zone on a real
 * slab pool: counters, histogram buckets at and past their bounds, label
 * values escaped once and kept, models and departments bounded, a label
 * text too long and a full zone counted as dropped, the snapshot's order,
 * the audit-failure counter found through the cycle (and a no-op without
 * a zone), and the counters of a reload's old zone kept.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_unit_shm.h"
#include "ngx_http_llmgw_metrics.h"


static ngx_shm_zone_t *ngx_http_llmgw_test_zone(ngx_pool_t *pool,
    ngx_http_llmgw_metrics_t *m, const char *arg, ngx_shm_zone_t *old);
static ngx_uint_t ngx_http_llmgw_test_text(ngx_pool_t *pool,
    ngx_http_llmgw_metrics_t *m, const char *expect);
static ngx_uint_t ngx_http_llmgw_test_has(ngx_pool_t *pool,
    ngx_http_llmgw_metrics_t *m, const char *line);
static void ngx_http_llmgw_test_escape(void);
static void ngx_http_llmgw_test_render(ngx_pool_t *pool);
static void ngx_http_llmgw_test_store(ngx_pool_t *pool);
static void ngx_http_llmgw_test_bounds(ngx_pool_t *pool);
static void ngx_http_llmgw_test_full(ngx_pool_t *pool);


/* the directive, then what the cycle does for the zone */

static ngx_shm_zone_t *
ngx_http_llmgw_test_zone(ngx_pool_t *pool, ngx_http_llmgw_metrics_t *m,
    const char *arg, ngx_shm_zone_t *old)
{
    ngx_str_t   value;
    ngx_conf_t  cf;

    ngx_http_llmgw_unit_conf(&cf, pool);

    value.data = (u_char *) arg;
    value.len = ngx_strlen(arg);

    if (ngx_http_llmgw_metrics_zone_add(&cf, m, &value) != NGX_OK
        || ngx_http_llmgw_unit_zone_map(m->zone, old) != NGX_OK)
    {
        return NULL;
    }

    return m->zone;
}


/* the exposition of m's zone equals expect; prints both when not */

static ngx_uint_t
ngx_http_llmgw_test_text(ngx_pool_t *pool, ngx_http_llmgw_metrics_t *m,
    const char *expect)
{
    ngx_str_t                          text;
    ngx_http_llmgw_metrics_snapshot_t  snap;

    if (ngx_http_llmgw_metrics_snapshot(m, pool, &snap) != NGX_OK
        || ngx_http_llmgw_metrics_render(pool, &snap, &text) != NGX_OK)
    {
        return 0;
    }

    if (text.len == ngx_strlen(expect)
        && ngx_memcmp(text.data, expect, text.len) == 0)
    {
        return 1;
    }

    printf("# got:\n%.*s# expected:\n%s", (int) text.len, text.data, expect);

    return 0;
}


/* the exposition of m's zone has line (without its newline) */

static ngx_uint_t
ngx_http_llmgw_test_has(ngx_pool_t *pool, ngx_http_llmgw_metrics_t *m,
    const char *line)
{
    u_char                             *p, *last;
    size_t                              len;
    ngx_str_t                           text;
    ngx_http_llmgw_metrics_snapshot_t   snap;

    if (ngx_http_llmgw_metrics_snapshot(m, pool, &snap) != NGX_OK
        || ngx_http_llmgw_metrics_render(pool, &snap, &text) != NGX_OK)
    {
        return 0;
    }

    len = ngx_strlen(line);
    p = text.data;
    last = text.data + text.len;

    while (p < last) {
        if ((size_t) (last - p) > len
            && ngx_memcmp(p, line, len) == 0 && p[len] == '\n')
        {
            return 1;
        }

        p = ngx_strlchr(p, last, '\n');
        if (p == NULL) {
            break;
        }

        p++;
    }

    printf("# no line \"%s\" in:\n%.*s", line, (int) text.len, text.data);

    return 0;
}


static void
ngx_http_llmgw_test_escape(void)
{
    u_char     buf[64], *p;
    ngx_str_t  v;

    static struct {
        const char  *in;
        const char  *out;
        const char  *what;
    } cases[] = {
        { "", "", "empty stays empty" },
        { "plain-1.2_x", "plain-1.2_x", "plain text as it is" },
        { "a\\b", "a\\\\b", "a backslash doubled" },
        { "say \"hi\"", "say \\\"hi\\\"", "double quotes escaped" },
        { "l1\nl2", "l1\\nl2", "a newline as backslash-n" },
        { "\\\"\n", "\\\\\\\"\\n", "all three together" },
        { "tab\there\r'", "tab\there\r'",
          "tab, CR and single quote as they are" },
        { "\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac",
          "UTF-8 as it is" },
        { NULL, NULL, NULL }
    };

    ngx_uint_t  i;

    for (i = 0; cases[i].in != NULL; i++) {
        v.data = (u_char *) cases[i].in;
        v.len = ngx_strlen(cases[i].in);

        p = ngx_http_llmgw_metrics_escape(buf, &v);

        NGX_HTTP_LLMGW_CHECK((size_t) (p - buf) == ngx_strlen(cases[i].out)
                             && ngx_memcmp(buf, cases[i].out, p - buf) == 0,
                             cases[i].what);
        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_metrics_escape_len(&v)
                             == (size_t) (p - buf),
                             "escape_len is what escape writes");
    }
}


/* the renderer alone, on series made by hand */

static void
ngx_http_llmgw_test_render(ngx_pool_t *pool)
{
    ngx_str_t                          text;
    ngx_http_llmgw_metrics_series_t    s[4];
    ngx_http_llmgw_metrics_snapshot_t  snap;

    static const char  expect[] =
        "# HELP llmgw_requests_total Requests of llmgw locations, by "
        "provider, status class and access decision.\n"
        "# TYPE llmgw_requests_total counter\n"
        "llmgw_requests_total{provider=\"bedrock\",status_class=\"2xx\","
        "decision=\"allow\"} 18446744073709551615\n"
        "# HELP llmgw_denials_total Requests the access check denied, by "
        "status and reason.\n"
        "# TYPE llmgw_denials_total counter\n"
        "# HELP llmgw_tokens_total LLM tokens the providers reported, by "
        "provider, model, token type and department.\n"
        "# TYPE llmgw_tokens_total counter\n"
        "llmgw_tokens_total{department=\"a\\\"b\"} 7\n"
        "# HELP llmgw_upstream_response_seconds Time from the first "
        "attempt to reach the provider to the end of its response.\n"
        "# TYPE llmgw_upstream_response_seconds histogram\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"0.025\"} 1\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"0.05\"} 1\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"0.1\"} 3\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"0.25\"} 3\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"0.5\"} 3\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"1\"} 3\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"2.5\"} 3\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"5\"} 3\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"10\"} 3\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"30\"} 3\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"60\"} 3\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"120\"} 3\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"300\"} 3\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"600\"} 3\n"
        "llmgw_upstream_response_seconds_bucket{provider=\"p\","
        "le=\"+Inf\"} 4\n"
        "llmgw_upstream_response_seconds_sum{provider=\"p\"} 1234.5\n"
        "llmgw_upstream_response_seconds_count{provider=\"p\"} 4\n"
        "# HELP llmgw_upstream_first_byte_seconds Time from the first "
        "attempt to reach the provider to the header of the response "
        "passed on.\n"
        "# TYPE llmgw_upstream_first_byte_seconds histogram\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"0.025\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"0.05\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"0.1\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"0.25\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"0.5\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"1\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"2.5\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"5\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"10\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"30\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"60\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"120\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"300\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"600\"} 0\n"
        "llmgw_upstream_first_byte_seconds_bucket{le=\"+Inf\"} 0\n"
        "llmgw_upstream_first_byte_seconds_sum 0.025\n"
        "llmgw_upstream_first_byte_seconds_count 0\n"
        "# HELP llmgw_audit_write_failures_total Audit lines that could not "
        "be written.\n"
        "# TYPE llmgw_audit_write_failures_total counter\n"
        "llmgw_audit_write_failures_total 3\n"
        "# HELP llmgw_metrics_series_dropped_total Metric updates lost "
        "because the metrics zone was full.\n"
        "# TYPE llmgw_metrics_series_dropped_total counter\n"
        "llmgw_metrics_series_dropped_total 0\n";

    ngx_memzero(s, sizeof(s));

    s[0].family = NGX_HTTP_LLMGW_METRICS_REQUESTS;
    ngx_str_set(&s[0].labels,
                "provider=\"bedrock\",status_class=\"2xx\","
                "decision=\"allow\"");
    s[0].values[0] = (uint64_t) -1;

    s[1].family = NGX_HTTP_LLMGW_METRICS_TOKENS;
    ngx_str_set(&s[1].labels, "department=\"a\\\"b\"");
    s[1].values[0] = 7;

    /* one at 25 ms, two at 100 ms, one past 600 s; buckets not cumulative */
    s[2].family = NGX_HTTP_LLMGW_METRICS_UPSTREAM;
    ngx_str_set(&s[2].labels, "provider=\"p\"");
    s[2].values[0] = 1;
    s[2].values[2] = 2;
    s[2].values[NGX_HTTP_LLMGW_METRICS_BUCKETS] = 1;
    s[2].values[NGX_HTTP_LLMGW_METRICS_BUCKETS + 1] = 1234500;

    /* no labels; a sum caught before its buckets: the count is theirs */
    s[3].family = NGX_HTTP_LLMGW_METRICS_FIRST_BYTE;
    s[3].values[NGX_HTTP_LLMGW_METRICS_BUCKETS + 1] = 25;

    snap.series = s;
    snap.nseries = 4;
    snap.audit_failures = 3;
    snap.dropped = 0;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_metrics_render(pool, &snap, &text)
                         == NGX_OK
                         && text.len == sizeof(expect) - 1
                         && ngx_memcmp(text.data, expect, text.len) == 0,
                         "render: the exact text of every family");

    if (text.len != sizeof(expect) - 1
        || ngx_memcmp(text.data, expect, text.len) != 0)
    {
        printf("# got:\n%.*s", (int) text.len, text.data);
    }

    snap.nseries = 0;
    snap.audit_failures = 0;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_metrics_render(pool, &snap, &text)
                         == NGX_OK
                         && ngx_strnstr(text.data, "\nllmgw_tokens_total",
                                        text.len)
                            == NULL
                         && ngx_strnstr(text.data, "# TYPE llmgw_tokens_total"
                                        " counter\n", text.len)
                            != NULL,
                         "render: a family without series keeps HELP and "
                         "TYPE");
}


static void
ngx_http_llmgw_test_store(ngx_pool_t *pool)
{
    ngx_str_t                  v[4], label;
    ngx_uint_t                 i;
    ngx_shm_zone_t            *zone, *again;
    ngx_http_llmgw_metrics_t   m, m2;

    ngx_memzero(&m, sizeof(m));

    zone = ngx_http_llmgw_test_zone(pool, &m, "metrics:64k", NULL);
    if (!NGX_HTTP_LLMGW_CHECK(zone != NULL, "zone made")) {
        return;
    }

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_has(pool, &m,
                                         "llmgw_audit_write_failures_total 0"),
                         "a new zone: no audit failure");

    ngx_str_set(&v[0], "bedrock");
    ngx_str_set(&v[1], "2xx");
    ngx_str_set(&v[2], "allow");

    for (i = 0; i < 3; i++) {
        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_metrics_add(&m,
                                         NGX_HTTP_LLMGW_METRICS_REQUESTS,
                                         v, 3, 1)
                             == NGX_OK, "a request counted");
    }

    ngx_str_set(&v[0], "");

    (void) ngx_http_llmgw_metrics_add(&m, NGX_HTTP_LLMGW_METRICS_REQUESTS,
                                      v, 3, 2);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_has(pool, &m,
                             "llmgw_requests_total{provider=\"bedrock\","
                             "status_class=\"2xx\",decision=\"allow\"} 3"),
                         "three adds of 1: 3");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_has(pool, &m,
                             "llmgw_requests_total{provider=\"\","
                             "status_class=\"2xx\",decision=\"allow\"} 2"),
                         "an empty value is a series of its own");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_metrics_add(&m,
                                         NGX_HTTP_LLMGW_METRICS_REQUESTS,
                                         v, 2, 1)
                         == NGX_DECLINED,
                         "too few label values refused");

    /* a reason with every byte to escape, kept escaped once */

    ngx_str_set(&v[0], "403");
    ngx_str_set(&v[1], "claim \"a\\b\nc\" missing");

    (void) ngx_http_llmgw_metrics_add(&m, NGX_HTTP_LLMGW_METRICS_DENIALS,
                                      v, 2, 1);
    (void) ngx_http_llmgw_metrics_add(&m, NGX_HTTP_LLMGW_METRICS_DENIALS,
                                      v, 2, 1);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_has(pool, &m,
                             "llmgw_denials_total{status=\"403\","
                             "reason=\"claim \\\"a\\\\b\\nc\\\" missing\"} 2"),
                         "label values escaped, the same series found");

    /* histogram: at a bound is in its bucket, one past is in the next */

    ngx_str_set(&v[0], "gemini");

    (void) ngx_http_llmgw_metrics_add(&m, NGX_HTTP_LLMGW_METRICS_FIRST_BYTE,
                                      v, 1, 25);
    (void) ngx_http_llmgw_metrics_add(&m, NGX_HTTP_LLMGW_METRICS_FIRST_BYTE,
                                      v, 1, 26);
    (void) ngx_http_llmgw_metrics_add(&m, NGX_HTTP_LLMGW_METRICS_FIRST_BYTE,
                                      v, 1, 600001);
    (void) ngx_http_llmgw_metrics_add(&m, NGX_HTTP_LLMGW_METRICS_FIRST_BYTE,
                                      v, 1, 0);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_has(pool, &m,
                             "llmgw_upstream_first_byte_seconds_bucket"
                             "{provider=\"gemini\",le=\"0.025\"} 2"),
                         "0 and 25 ms in le=0.025");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_has(pool, &m,
                             "llmgw_upstream_first_byte_seconds_bucket"
                             "{provider=\"gemini\",le=\"0.05\"} 3"),
                         "26 ms in le=0.05");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_has(pool, &m,
                             "llmgw_upstream_first_byte_seconds_bucket"
                             "{provider=\"gemini\",le=\"600\"} 3"),
                         "600.001 s not in le=600");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_has(pool, &m,
                             "llmgw_upstream_first_byte_seconds_bucket"
                             "{provider=\"gemini\",le=\"+Inf\"} 4"),
                         "+Inf has all four");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_has(pool, &m,
                             "llmgw_upstream_first_byte_seconds_sum"
                             "{provider=\"gemini\"} 600.052"),
                         "the sum in seconds");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_has(pool, &m,
                             "llmgw_upstream_first_byte_seconds_count"
                             "{provider=\"gemini\"} 4"),
                         "the count");

    /* the audit writer's lost lines, through the cycle */

    ngx_http_llmgw_metrics_audit_failure(2);
    ngx_http_llmgw_metrics_audit_failure(5);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_has(pool, &m,
                                         "llmgw_audit_write_failures_total 7"),
                         "audit failures found through the cycle's zones");

    /* a reload: the same zone handed over, its counters kept */

    ngx_memzero(&m2, sizeof(m2));

    ngx_http_llmgw_unit_zone_forget(zone);    /* the old cycle's is gone */

    again = ngx_http_llmgw_test_zone(pool, &m2, "metrics:64k", zone);

    NGX_HTTP_LLMGW_CHECK(again != NULL && m2.sh == m.sh,
                         "reload: the old zone's table taken over");

    ngx_http_llmgw_metrics_audit_failure(1);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_has(pool, &m2,
                                         "llmgw_audit_write_failures_total 8"),
                         "reload: counters kept, added to");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_has(pool, &m2,
                             "llmgw_requests_total{provider=\"bedrock\","
                             "status_class=\"2xx\",decision=\"allow\"} 3"),
                         "reload: series kept");

    /* departments: listed, other, empty */

    m2.departments = ngx_array_create(pool, 2, sizeof(ngx_str_t));
    ngx_str_set(&v[0], "finance");
    *(ngx_str_t *) ngx_array_push(m2.departments) = v[0];

    ngx_http_llmgw_metrics_department(&m2, &v[0], &label);
    NGX_HTTP_LLMGW_CHECK(label.len == 7
                         && ngx_strncmp(label.data, "finance", 7) == 0,
                         "a listed department is itself");

    ngx_str_set(&v[1], "sales");
    ngx_http_llmgw_metrics_department(&m2, &v[1], &label);
    NGX_HTTP_LLMGW_CHECK(label.len == 5
                         && ngx_strncmp(label.data, "other", 5) == 0,
                         "another department is other");

    ngx_str_set(&v[1], "financ");
    ngx_http_llmgw_metrics_department(&m2, &v[1], &label);
    NGX_HTTP_LLMGW_CHECK(label.len == 5
                         && ngx_strncmp(label.data, "other", 5) == 0,
                         "a prefix of a department is other");

    ngx_str_null(&v[1]);
    ngx_http_llmgw_metrics_department(&m2, &v[1], &label);
    NGX_HTTP_LLMGW_CHECK(label.len == 0, "no department stays empty");

    ngx_http_llmgw_unit_zone_free(again);

    ngx_http_llmgw_metrics_audit_failure(1);

    NGX_HTTP_LLMGW_CHECK(1, "no zone: audit failure is a no-op");
}


/* models: listed, first=N, other */

static void
ngx_http_llmgw_test_bounds(ngx_pool_t *pool)
{
    u_char                     longname[NGX_HTTP_LLMGW_METRICS_MODEL_MAX + 1];
    ngx_str_t                  v, label;
    ngx_shm_zone_t            *zone;
    ngx_http_llmgw_metrics_t   m;

    ngx_memzero(&m, sizeof(m));

    zone = ngx_http_llmgw_test_zone(pool, &m, "models:64k", NULL);
    if (!NGX_HTTP_LLMGW_CHECK(zone != NULL, "zone made")) {
        return;
    }

    m.models = ngx_array_create(pool, 2, sizeof(ngx_str_t));
    ngx_str_set(&v, "gpt-4o");
    *(ngx_str_t *) ngx_array_push(m.models) = v;
    m.first = 2;

    ngx_http_llmgw_metrics_model(&m, &v, &label);
    NGX_HTTP_LLMGW_CHECK(label.data == v.data, "a listed model is itself");

#define NGX_HTTP_LLMGW_TEST_MODEL(name, expect, what)                         \
    ngx_str_set(&v, name);                                                    \
    ngx_http_llmgw_metrics_model(&m, &v, &label);                             \
    NGX_HTTP_LLMGW_CHECK(label.len == sizeof(expect) - 1                      \
                         && ngx_strncmp(label.data, expect, label.len) == 0,  \
                         what)

    NGX_HTTP_LLMGW_TEST_MODEL("a", "a", "first unlisted: itself");
    NGX_HTTP_LLMGW_TEST_MODEL("a", "a", "first unlisted again: itself");
    NGX_HTTP_LLMGW_TEST_MODEL("b", "b", "second unlisted: itself");
    NGX_HTTP_LLMGW_TEST_MODEL("c", "other", "third unlisted: other");
    NGX_HTTP_LLMGW_TEST_MODEL("a", "a", "an admitted model stays");
    NGX_HTTP_LLMGW_TEST_MODEL("gpt-4o", "gpt-4o",
                              "a listed model takes no place");
    NGX_HTTP_LLMGW_TEST_MODEL("", "", "no model stays empty");

    m.first = 10;

    NGX_HTTP_LLMGW_TEST_MODEL("bad\"q", "bad\"q",
                              "a quote is printable: admitted");
    NGX_HTTP_LLMGW_TEST_MODEL("ctl\n", "other", "a control byte: other");
    NGX_HTTP_LLMGW_TEST_MODEL("\xc3\xa9", "other", "non-ASCII: other");

    ngx_memset(longname, 'm', sizeof(longname));
    v.data = longname;
    v.len = sizeof(longname);
    ngx_http_llmgw_metrics_model(&m, &v, &label);
    NGX_HTTP_LLMGW_CHECK(label.len == 5, "a name too long: other");

    v.len = sizeof(longname) - 1;
    ngx_http_llmgw_metrics_model(&m, &v, &label);
    NGX_HTTP_LLMGW_CHECK(label.data == longname,
                         "a name of the maximum length: itself");

    NGX_HTTP_LLMGW_CHECK(m.sh->models == 4, "four places taken");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_text(pool, &m,
        "# HELP llmgw_requests_total Requests of llmgw locations, by "
        "provider, status class and access decision.\n"
        "# TYPE llmgw_requests_total counter\n"
        "# HELP llmgw_denials_total Requests the access check denied, by "
        "status and reason.\n"
        "# TYPE llmgw_denials_total counter\n"
        "# HELP llmgw_tokens_total LLM tokens the providers reported, by "
        "provider, model, token type and department.\n"
        "# TYPE llmgw_tokens_total counter\n"
        "# HELP llmgw_upstream_response_seconds Time from the first "
        "attempt to reach the provider to the end of its response.\n"
        "# TYPE llmgw_upstream_response_seconds histogram\n"
        "# HELP llmgw_upstream_first_byte_seconds Time from the first "
        "attempt to reach the provider to the header of the response "
        "passed on.\n"
        "# TYPE llmgw_upstream_first_byte_seconds histogram\n"
        "# HELP llmgw_audit_write_failures_total Audit lines that could not "
        "be written.\n"
        "# TYPE llmgw_audit_write_failures_total counter\n"
        "llmgw_audit_write_failures_total 0\n"
        "# HELP llmgw_metrics_series_dropped_total Metric updates lost "
        "because the metrics zone was full.\n"
        "# TYPE llmgw_metrics_series_dropped_total counter\n"
        "llmgw_metrics_series_dropped_total 0\n"),
        "admitted models are not rendered");

    m.first = 0;
    NGX_HTTP_LLMGW_TEST_MODEL("a", "other", "first=0: only listed models");

    ngx_http_llmgw_unit_zone_free(zone);
}


/* the label text's bound, and a full zone: dropped, counted */

static void
ngx_http_llmgw_test_full(ngx_pool_t *pool)
{
    u_char                     name[32], big[NGX_HTTP_LLMGW_METRICS_LABELS_MAX];
    ngx_str_t                  v[4];
    ngx_uint_t                 i, ok, dropped;
    ngx_shm_zone_t            *zone;
    ngx_http_llmgw_metrics_t   m;

    ngx_memzero(&m, sizeof(m));

    zone = ngx_http_llmgw_test_zone(pool, &m, "full:32k", NULL);
    if (!NGX_HTTP_LLMGW_CHECK(zone != NULL, "zone made")) {
        return;
    }

    ngx_memset(big, 'x', sizeof(big));
    v[0].data = big;
    v[0].len = sizeof(big);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_metrics_add(&m,
                                         NGX_HTTP_LLMGW_METRICS_UPSTREAM,
                                         v, 1, 1)
                         == NGX_DECLINED
                         && m.sh->dropped == 1,
                         "a label text too long: dropped, counted");

    ngx_str_set(&v[1], "m");
    ngx_str_set(&v[2], "input");
    ngx_str_set(&v[3], "d");

    ok = 0;
    dropped = 0;

    for (i = 0; i < 2000; i++) {
        v[0].data = name;
        v[0].len = ngx_sprintf(name, "provider-%ui", i) - name;

        if (ngx_http_llmgw_metrics_add(&m, NGX_HTTP_LLMGW_METRICS_TOKENS,
                                       v, 4, 1)
            == NGX_OK)
        {
            ok++;

        } else {
            dropped++;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok > 10 && dropped > 0 && ok + dropped == 2000,
                         "a full zone refuses new series");
    NGX_HTTP_LLMGW_CHECK(m.sh->dropped == 1 + dropped,
                         "each refusal counted as dropped");

    v[0].data = name;
    v[0].len = ngx_sprintf(name, "provider-%ui", (ngx_uint_t) 0) - name;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_metrics_add(&m,
                                         NGX_HTTP_LLMGW_METRICS_TOKENS,
                                         v, 4, 41)
                         == NGX_OK
                         && ngx_http_llmgw_test_has(pool, &m,
                                "llmgw_tokens_total{provider=\"provider-0\","
                                "model=\"m\",type=\"input\",department=\"d\"}"
                                " 42"),
                         "a full zone still counts its series");

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
    if (pool == NULL) {
        return 1;
    }

    ngx_http_llmgw_test_escape();
    ngx_http_llmgw_test_render(pool);
    ngx_http_llmgw_test_store(pool);
    ngx_http_llmgw_test_bounds(pool);
    ngx_http_llmgw_test_full(pool);

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
