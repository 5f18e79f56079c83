
/*
 * Copyright (C) llmgw authors
 *
 * Prometheus metrics: counters and histograms in a shared-memory zone
 * (llmgw_metrics_zone), updated from the log phase and rendered in the
 * text exposition format 0.0.4 by the llmgw_metrics content handler.
 *
 * A series is a family and its label values, kept as the label text
 * already escaped ("provider=\"bedrock\",decision=\"allow\"") in a hash
 * table of the zone.  Series are only ever added: a lookup reads the
 * chains without a lock, an update is an atomic add, and a new series is
 * linked in under the zone's mutex once it is complete.  When the zone is
 * full the update is counted in llmgw_metrics_series_dropped_total.
 *
 * The renderer is pure: a snapshot (series copied out of the zone, sorted)
 * in, the exposition text out.
 */


#ifndef _NGX_HTTP_LLMGW_METRICS_H_INCLUDED_
#define _NGX_HTTP_LLMGW_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* the histograms' buckets, upper bounds in ms; +Inf follows */
#define NGX_HTTP_LLMGW_METRICS_BUCKETS     14

/* a series' label text, escaped, at most */
#define NGX_HTTP_LLMGW_METRICS_LABELS_MAX  512

/* a model name taken as a label value, at most (longer ones: "other") */
#define NGX_HTTP_LLMGW_METRICS_MODEL_MAX   128

#define NGX_HTTP_LLMGW_METRICS_CONTENT_TYPE  "text/plain; version=0.0.4"


typedef enum {
    NGX_HTTP_LLMGW_METRICS_REQUESTS = 0,  /* provider, status_class,
                                             decision */
    NGX_HTTP_LLMGW_METRICS_DENIALS,       /* status, reason */
    NGX_HTTP_LLMGW_METRICS_TOKENS,        /* provider, model, type,
                                             department */
    NGX_HTTP_LLMGW_METRICS_UPSTREAM,      /* histogram: provider */
    NGX_HTTP_LLMGW_METRICS_FIRST_BYTE,    /* histogram: provider */
    NGX_HTTP_LLMGW_METRICS_MODEL,         /* not rendered: the models
                                             admitted as label values */
    NGX_HTTP_LLMGW_METRICS_NFAMILIES
} ngx_http_llmgw_metrics_family_e;


typedef struct ngx_http_llmgw_metrics_node_s  ngx_http_llmgw_metrics_node_t;


typedef struct {
    ngx_atomic_t                    audit_failures;
    ngx_atomic_t                    dropped;
    ngx_uint_t                      models;    /* admitted by first=,
                                                  under the mutex */
    ngx_uint_t                      nbuckets;
    ngx_http_llmgw_metrics_node_t  *buckets[1];
} ngx_http_llmgw_metrics_sh_t;


/*
 * The metrics of a configuration: the zone and the bounds of the label
 * values that come from outside (departments, models).  Read-only once
 * the configuration is read, apart from the zone's contents.
 */

typedef struct {
    ngx_shm_zone_t                 *zone;
    ngx_http_llmgw_metrics_sh_t    *sh;
    ngx_slab_pool_t                *shpool;
    size_t                          size;
    ngx_array_t                    *departments;   /* ngx_str_t, or NULL */
    ngx_array_t                    *models;        /* ngx_str_t, or NULL */
    ngx_uint_t                      first;         /* unlisted models
                                                      admitted */
    ngx_uint_t                      used;          /* llmgw_metrics is in
                                                      some location */
} ngx_http_llmgw_metrics_t;


/* a series as the renderer sees it */

typedef struct {
    ngx_uint_t                      family;
    ngx_str_t                       labels;        /* escaped, no braces */
    uint64_t                        values[NGX_HTTP_LLMGW_METRICS_BUCKETS
                                           + 2];
                                  /* a counter: values[0]; a histogram:
                                     the count in each bucket (not
                                     cumulative, +Inf last), then the sum
                                     in ms */
} ngx_http_llmgw_metrics_series_t;


typedef struct {
    ngx_http_llmgw_metrics_series_t  *series;      /* sorted */
    ngx_uint_t                        nseries;
    uint64_t                          audit_failures;
    uint64_t                          dropped;
} ngx_http_llmgw_metrics_snapshot_t;


/* the histograms' upper bounds in ms, ascending (+Inf not included) */
extern ngx_msec_t
    ngx_http_llmgw_metrics_bounds[NGX_HTTP_LLMGW_METRICS_BUCKETS];


/*
 * The zone "name:size" (ngx_http_llmgw_zone_parse) added to the
 * configuration for m, with the metrics' own tag, so that
 * ngx_http_llmgw_metrics_audit_failure() finds it in any cycle.
 * NGX_OK or NGX_ERROR (after an emerg message).
 */
ngx_int_t ngx_http_llmgw_metrics_zone_add(ngx_conf_t *cf,
    ngx_http_llmgw_metrics_t *m, ngx_str_t *value);

/*
 * Adds n to the counter of family whose label values are values[0 ..
 * nvalues - 1] under the family's label names; for a histogram family
 * observes n ms.  Label values are escaped here.  NGX_OK; NGX_DECLINED
 * when the series could not be added (the zone is full, the label text is
 * too long), counted as dropped.
 */
ngx_int_t ngx_http_llmgw_metrics_add(ngx_http_llmgw_metrics_t *m,
    ngx_uint_t family, ngx_str_t *values, ngx_uint_t nvalues, uint64_t n);

/*
 * The label value a model name is counted under: itself when it is listed
 * (llmgw_metrics_models), or admitted before, or among the first
 * m->first distinct unlisted names seen in the zone; "other" otherwise,
 * and for a name longer than NGX_HTTP_LLMGW_METRICS_MODEL_MAX or with
 * bytes outside printable ASCII.  An empty name stays empty.
 */
void ngx_http_llmgw_metrics_model(ngx_http_llmgw_metrics_t *m,
    ngx_str_t *model, ngx_str_t *label);

/* a department's label value: itself when configured, else "other" */
void ngx_http_llmgw_metrics_department(ngx_http_llmgw_metrics_t *m,
    ngx_str_t *department, ngx_str_t *label);

/*
 * Counts audit lines that could not be written, whichever worker lost
 * them; a no-op when no metrics zone is configured.
 */
void ngx_http_llmgw_metrics_audit_failure(ngx_uint_t lines);

/* every series of the zone copied into pool, sorted; NGX_OK, NGX_ERROR */
ngx_int_t ngx_http_llmgw_metrics_snapshot(ngx_http_llmgw_metrics_t *m,
    ngx_pool_t *pool, ngx_http_llmgw_metrics_snapshot_t *snap);

/* the exposition text of a snapshot into pool; NGX_OK, NGX_ERROR */
ngx_int_t ngx_http_llmgw_metrics_render(ngx_pool_t *pool,
    ngx_http_llmgw_metrics_snapshot_t *snap, ngx_str_t *text);

/*
 * A label value escaped for the exposition format: a backslash, a double
 * quote and a newline are written as backslash-backslash, backslash-quote
 * and backslash-n; every other byte as it is.  escape_len() is the length
 * escape() writes at p; escape() returns the end.
 */
size_t ngx_http_llmgw_metrics_escape_len(ngx_str_t *value);
u_char *ngx_http_llmgw_metrics_escape(u_char *p, ngx_str_t *value);


/*
 * The metrics of the configuration being read, or NULL without
 * llmgw_metrics_zone: for the admin API's usage by department
 * (ngx_http_llmgw_log_module.c).
 */
ngx_http_llmgw_metrics_t *ngx_http_llmgw_log_metrics_zone_conf(
    ngx_conf_t *cf);


#endif /* _NGX_HTTP_LLMGW_METRICS_H_INCLUDED_ */
