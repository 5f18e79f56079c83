
/*
 * Copyright (C) llmgw authors
 *
 * The audit writer: one JSON line (ngx_http_llmgw_audit) for every request
 * of a location where llmgw_auth or llmgw_pass is on, allowed or denied,
 * written in the log phase to the files llmgw_audit names.  Files are
 * opened with ngx_conf_open_file, so USR1 reopens them; a line goes out
 * whole with one write(), or into a buffer that is written whole lines at
 * a time and flushed by a timer, as the log module does.
 *
 * The chain (llmgw_audit_chain, llmgw_audit_zone): every worker keeps one
 * chain per audit file, named by its pid and start time; each line
 * carries "chain", "seq" and "prev", the HMAC-SHA256 of the line before it
 * in that chain.  A worker never adopts another's chain: it starts its
 * own at seq 1 and announces it with a checkpoint line listing the heads
 * (last seq and MAC) the zone holds for the file, those of exited workers
 * included, which is how a verifier tells a restart from a removed line.
 * Checkpoints are also written at each reopen, at exit and every
 * checkpoint= interval.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw.h"
#include "ngx_http_llmgw_audit.h"
#include "ngx_http_llmgw_claims.h"
#include "ngx_http_llmgw_metrics.h"
#include "ngx_http_llmgw_redis.h"
#include "ngx_http_llmgw_provider.h"
#include "ngx_http_llmgw_secret.h"
#include "ngx_http_llmgw_zone.h"


/* the line's own fields, before the configured ones */
#define NGX_HTTP_LLMGW_LOG_FIELDS      31

/* "chain", "seq", "prev", after the configured ones */
#define NGX_HTTP_LLMGW_LOG_CHAIN_FIELDS  3

#define NGX_HTTP_LLMGW_LOG_KEY_MIN     32

/* a chain id: the worker's pid and start time in ms, in hex */
#define NGX_HTTP_LLMGW_LOG_ID_LEN      (2 * NGX_INT64_LEN + 1)

#define NGX_HTTP_LLMGW_LOG_MAC_HEX     (2 * NGX_HTTP_LLMGW_AUDIT_MAC_LEN)

#define NGX_HTTP_LLMGW_LOG_TIME_LEN    (sizeof("1970-01-01T00:00:00.000Z") - 1)


/* a chain's head in the zone: the last line's seq and MAC */

typedef struct {
    uint32_t                   file;         /* crc32 of the file's name */
    ngx_pid_t                  pid;          /* 0: a free slot */
    ngx_uint_t                 active;       /* its worker still runs */
    time_t                     updated;
    uint64_t                   seq;
    size_t                     id_len;
    u_char                     id[NGX_HTTP_LLMGW_LOG_ID_LEN];
    u_char                     mac[NGX_HTTP_LLMGW_AUDIT_MAC_LEN];
} ngx_http_llmgw_log_head_t;


typedef struct {
    ngx_uint_t                 nheads;
    ngx_http_llmgw_log_head_t  heads[1];
} ngx_http_llmgw_log_sh_t;


typedef struct {
    ngx_http_llmgw_log_sh_t   *sh;
    ngx_slab_pool_t           *shpool;
    size_t                     size;
} ngx_http_llmgw_log_zone_t;


/* a worker's chain in one audit file */

typedef struct {
    ngx_str_t                 *key;
    ngx_http_llmgw_log_zone_t *zone;
    ngx_http_llmgw_log_head_t *head;         /* its slot, or NULL */
    uint32_t                   file;
    uint64_t                   seq;          /* of the last line */
    size_t                     id_len;
    u_char                     id[NGX_HTTP_LLMGW_LOG_ID_LEN];
    u_char                     mac[NGX_HTTP_LLMGW_AUDIT_MAC_LEN];
} ngx_http_llmgw_log_chain_t;


/*
 * An audit file, one per name however many locations write to it, kept in
 * its ngx_open_file_t's data: the buffer (or none), the write failures and
 * the worker's chain (NULL without llmgw_audit_chain, and in the master).
 */

typedef struct {
    ngx_http_llmgw_log_chain_t *chain;
    ngx_open_file_t           *file;
    u_char                    *start;        /* the buffer, or NULL */
    u_char                    *pos;
    u_char                    *last;
    ngx_event_t               *event;        /* the flush timer */
    ngx_msec_t                 flush;
    ngx_uint_t                 failures;     /* lines lost, ever */
    ngx_uint_t                 unreported;   /* lost since the last alert */
    time_t                     error_time;   /* of the last alert */
} ngx_http_llmgw_log_file_t;


/* llmgw_audit_field name value; */

typedef struct {
    ngx_str_t                  name;
    ngx_http_complex_value_t   value;
} ngx_http_llmgw_log_field_t;


typedef struct {
    ngx_int_t                  request_id;   /* $request_id's index */
    ngx_array_t               *files;        /* ngx_http_llmgw_log_file_t *,
                                                every audit file */
    ngx_str_t                  key;          /* empty: no chain */
    ngx_msec_t                 checkpoint;   /* 0: no periodic checkpoint */
    ngx_shm_zone_t            *zone;
    ngx_event_t                timer;        /* the checkpoint timer */
    ngx_http_llmgw_metrics_t  *metrics;      /* NULL: no llmgw_metrics_* */
} ngx_http_llmgw_log_main_conf_t;


typedef struct {
    ngx_array_t               *files;        /* ngx_http_llmgw_log_file_t *;
                                                NULL: off */
    ngx_http_llmgw_claim_path_t  *department;
    ngx_array_t               *fields;       /* ngx_http_llmgw_log_field_t */
} ngx_http_llmgw_log_loc_conf_t;


static ngx_int_t ngx_http_llmgw_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llmgw_log_line(ngx_http_request_t *r,
    ngx_http_llmgw_log_loc_conf_t *llcf,
    ngx_http_llmgw_audit_field_t **fields, ngx_uint_t *n);
static ngx_int_t ngx_http_llmgw_log_time(ngx_pool_t *pool, ngx_str_t *time);
static ngx_int_t ngx_http_llmgw_log_emit(ngx_http_llmgw_log_file_t *lf,
    ngx_pool_t *pool, ngx_http_llmgw_audit_field_t *fields, ngx_uint_t n,
    ngx_log_t *log);
static void ngx_http_llmgw_log_chain_next(ngx_http_llmgw_log_chain_t *ch,
    u_char *line, size_t len, ngx_log_t *log);
static void ngx_http_llmgw_log_checkpoint(ngx_http_llmgw_log_file_t *lf,
    ngx_log_t *log);
static void ngx_http_llmgw_log_checkpoint_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_llmgw_log_strs(ngx_http_request_t *r,
    ngx_array_t *a, ngx_uint_t scopes, ngx_http_llmgw_audit_field_t *f);
static void ngx_http_llmgw_log_name(ngx_http_llmgw_audit_field_t *f,
    char *name);
static void ngx_http_llmgw_log_str(ngx_http_llmgw_audit_field_t *f,
    char *name, ngx_str_t *value);
static void ngx_http_llmgw_log_int(ngx_http_llmgw_audit_field_t *f,
    char *name, int64_t value);
static void ngx_http_llmgw_log_usage(ngx_http_llmgw_audit_field_t *f,
    char *name, ngx_http_llmgw_usage_count_t *count);
static void ngx_http_llmgw_log_write(ngx_http_llmgw_log_file_t *lf,
    u_char *line, size_t len, ngx_log_t *log);
static void ngx_http_llmgw_log_write_fd(ngx_http_llmgw_log_file_t *lf,
    u_char *data, size_t len, ngx_uint_t lines, ngx_log_t *log);
static void ngx_http_llmgw_log_flush(ngx_open_file_t *file, ngx_log_t *log);
static void ngx_http_llmgw_log_flush_handler(ngx_event_t *ev);
static void ngx_http_llmgw_log_reopen(ngx_open_file_t *file, ngx_log_t *log);

static void *ngx_http_llmgw_log_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_llmgw_log_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_llmgw_log_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_llmgw_log_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_llmgw_log_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_llmgw_log_init_process(ngx_cycle_t *cycle);
static void ngx_http_llmgw_log_exit_process(ngx_cycle_t *cycle);
static void ngx_http_llmgw_log_key_cleanup(void *data);

static char *ngx_http_llmgw_log_audit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_log_department(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_log_field(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_log_chain(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_log_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static void ngx_http_llmgw_log_metrics_record(ngx_http_request_t *r);
static ngx_int_t ngx_http_llmgw_log_metrics_handler(ngx_http_request_t *r);
static char *ngx_http_llmgw_log_metrics_init(ngx_conf_t *cf, void *conf);
static ngx_http_llmgw_metrics_t *ngx_http_llmgw_log_metrics_conf(
    ngx_conf_t *cf, ngx_http_llmgw_log_main_conf_t *lmcf);
static char *ngx_http_llmgw_log_metrics_zone(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_log_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_log_metrics_names(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);


static ngx_command_t  ngx_http_llmgw_log_commands[] = {

    { ngx_string("llmgw_audit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_llmgw_log_audit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_audit_department_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_log_department,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_audit_field"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_llmgw_log_field,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_audit_chain"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_llmgw_log_chain,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_audit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_log_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_metrics_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_log_metrics_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_llmgw_log_metrics,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_metrics_departments"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_log_metrics_names,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_metrics_models"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_log_metrics_names,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_llmgw_log_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_llmgw_log_init,               /* postconfiguration */

    ngx_http_llmgw_log_create_main_conf,   /* create main configuration */
    ngx_http_llmgw_log_metrics_init,       /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_llmgw_log_create_loc_conf,    /* create location configuration */
    ngx_http_llmgw_log_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_llmgw_log_module = {
    NGX_MODULE_V1,
    &ngx_http_llmgw_log_module_ctx,        /* module context */
    ngx_http_llmgw_log_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_llmgw_log_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_llmgw_log_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_llmgw_log_decisions[] = {
    ngx_string("none"),
    ngx_string("allow"),
    ngx_string("deny")
};


/* the schema's own names, which llmgw_audit_field may not take */

static char  *ngx_http_llmgw_log_reserved[] = {
    "v", "type", "time", "id", "client", "method", "path", "status",
    "decision", "reason", "sub", "client_id", "department", "scopes",
    "required", "jti_sha256", "provider", "api", "model", "upstream_addr",
    "upstream_status", "outcome", "stream", "duration_ms", "upstream_ms",
    "bytes_in", "bytes_out", "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.reasoning.output_tokens", "usage_source", "chain", "seq",
    "prev", "heads", NULL
};


static ngx_int_t
ngx_http_llmgw_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t                      i, n;
    ngx_http_llmgw_log_file_t     **lf;
    ngx_http_llmgw_audit_field_t   *fields;
    ngx_http_llmgw_log_loc_conf_t  *llcf;

    ngx_http_llmgw_log_metrics_record(r);

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_log_module);

    if (llcf->files == NULL) {
        return NGX_OK;
    }

    switch (ngx_http_llmgw_log_line(r, llcf, &fields, &n)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        return NGX_OK;

    default:
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "llmgw_audit: no memory for the audit line");
        return NGX_ERROR;
    }

    lf = llcf->files->elts;

    for (i = 0; i < llcf->files->nelts; i++) {
        if (ngx_http_llmgw_log_emit(lf[i], r->pool, fields, n,
                                    r->connection->log)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "llmgw_audit: no memory for the audit line");
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The fields of r's audit line, the last three left for the chain:
 * NGX_OK, NGX_DECLINED when neither llmgw_auth nor llmgw_pass is on in
 * r's location, NGX_ERROR.
 */

static ngx_int_t
ngx_http_llmgw_log_line(ngx_http_request_t *r,
    ngx_http_llmgw_log_loc_conf_t *llcf,
    ngx_http_llmgw_audit_field_t **fieldsp, ngx_uint_t *np)
{
    u_char                          *p, *q;
    size_t                           len;
    ngx_str_t                        dept, path, query, time;
    ngx_int_t                        rc;
    ngx_msec_t                       ms;
    ngx_uint_t                       i, n, status;
    ngx_time_t                      *tp;
    ngx_msec_int_t                   duration;
    ngx_http_variable_value_t       *vv;
    ngx_http_llmgw_log_field_t      *lfld;
    ngx_http_upstream_state_t       *state;
    ngx_http_llmgw_pass_result_t     pres;
    ngx_http_llmgw_audit_field_t    *f, *fields;
    ngx_http_llmgw_access_result_t   ares;
    ngx_http_llmgw_log_main_conf_t  *lmcf;

    if (ngx_http_llmgw_access_result(r, &ares) != NGX_OK
        || ngx_http_llmgw_pass_result(r, &pres) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!ares.enabled && !pres.enabled) {
        return NGX_DECLINED;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_log_module);

    n = NGX_HTTP_LLMGW_LOG_FIELDS + NGX_HTTP_LLMGW_LOG_CHAIN_FIELDS
        + (llcf->fields ? llcf->fields->nelts : 0);

    fields = ngx_pcalloc(r->pool, n * sizeof(ngx_http_llmgw_audit_field_t));
    if (fields == NULL) {
        return NGX_ERROR;
    }

    f = fields;

    /* "v" */

    ngx_http_llmgw_log_int(f, "v", 1);
    f++;

    /* "time": the line's, RFC 3339 UTC with milliseconds */

    tp = ngx_timeofday();

    if (ngx_http_llmgw_log_time(r->pool, &time) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_llmgw_log_str(f, "time", &time);
    f++;

    /* "id": $request_id */

    ngx_http_llmgw_log_name(f, "id");

    vv = ngx_http_get_indexed_variable(r, lmcf->request_id);

    if (vv != NULL && !vv->not_found) {
        f->type = NGX_HTTP_LLMGW_AUDIT_STR;
        f->str.data = vv->data;
        f->str.len = vv->len;
    }

    f++;

    ngx_http_llmgw_log_str(f, "client", &r->connection->addr_text);
    f++;

    ngx_http_llmgw_log_str(f, "method", &r->method_name);
    f++;

    /*
     * "path": as the client sent it, the values of credential parameters
     * in the query replaced
     */

    path = r->unparsed_uri;
    q = ngx_strlchr(path.data, path.data + path.len, '?');

    if (q != NULL) {
        query.data = q + 1;
        query.len = path.data + path.len - query.data;

        if (ngx_http_llmgw_provider_query_redact(r->pool, &query, &query)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        len = q - path.data;

        p = ngx_pnalloc(r->pool, len + 1 + query.len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        path.data = p;
        p = ngx_cpymem(p, r->unparsed_uri.data, len);
        *p++ = '?';
        p = ngx_cpymem(p, query.data, query.len);
        path.len = p - path.data;
    }

    ngx_http_llmgw_log_str(f, "path", &path);
    f++;

    /* "status": as $status */

    if (r->err_status) {
        status = r->err_status;

    } else if (r->headers_out.status) {
        status = r->headers_out.status;

    } else {
        status = 0;
    }

    ngx_http_llmgw_log_int(f, "status", status);
    f++;

    /* the access check: decision, reason, identity */

    ngx_http_llmgw_log_str(f, "decision",
                           &ngx_http_llmgw_log_decisions[ares.decision]);
    f++;

    ngx_http_llmgw_log_str(f, "reason", &ares.reason);
    f++;

    ngx_http_llmgw_log_str(f, "sub", &ares.sub);
    f++;

    ngx_http_llmgw_log_str(f, "client_id", &ares.client_id);
    f++;

    ngx_str_null(&dept);

    if (llcf->department != NULL) {
        rc = ngx_http_llmgw_access_claim(r, llcf->department, &dept);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            ngx_str_null(&dept);
        }
    }

    ngx_http_llmgw_log_str(f, "department", &dept);
    f++;

    ngx_http_llmgw_log_name(f, "scopes");

    if (ares.granted != NULL
        && ngx_http_llmgw_log_strs(r, ares.granted, 0, f) != NGX_OK)
    {
        return NGX_ERROR;
    }

    f++;

    ngx_http_llmgw_log_name(f, "required");
    f->type = NGX_HTTP_LLMGW_AUDIT_STRS;

    if (ares.failed != NULL
        && ngx_http_llmgw_log_strs(r, ares.failed, 1, f) != NGX_OK)
    {
        return NGX_ERROR;
    }

    f++;

    ngx_http_llmgw_log_str(f, "jti_sha256", &ares.jti_hash);
    f++;

    /* llmgw_pass: the provider and how the call went */

    ngx_http_llmgw_log_str(f, "provider", &pres.provider);
    f++;

    ngx_http_llmgw_log_str(f, "api", &pres.api);
    f++;

    ngx_http_llmgw_log_str(f, "model", &pres.model);
    f++;

    state = NULL;
    ms = 0;

    if (r->upstream_states != NULL && r->upstream_states->nelts) {
        state = r->upstream_states->elts;

        for (i = 0; i < r->upstream_states->nelts; i++) {
            if (state[i].response_time != (ngx_msec_t) -1) {
                ms += state[i].response_time;
            }
        }

        state = &state[r->upstream_states->nelts - 1];
    }

    ngx_http_llmgw_log_name(f, "upstream_addr");

    if (state != NULL && state->peer != NULL) {
        f->type = NGX_HTTP_LLMGW_AUDIT_STR;
        f->str = *state->peer;
    }

    f++;

    ngx_http_llmgw_log_name(f, "upstream_status");

    if (state != NULL && state->status) {
        f->type = NGX_HTTP_LLMGW_AUDIT_INT;
        f->num = state->status;
    }

    f++;

    ngx_http_llmgw_log_str(f, "outcome", &pres.outcome_name);
    f++;

    ngx_http_llmgw_log_name(f, "stream");
    f->type = NGX_HTTP_LLMGW_AUDIT_BOOL;
    f->num = pres.stream;
    f++;

    duration = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                                 + (tp->msec - r->start_msec));

    ngx_http_llmgw_log_int(f, "duration_ms", ngx_max(duration, 0));
    f++;

    ngx_http_llmgw_log_name(f, "upstream_ms");

    if (state != NULL) {
        f->type = NGX_HTTP_LLMGW_AUDIT_INT;
        f->num = ms;
    }

    f++;

    ngx_http_llmgw_log_int(f, "bytes_in", r->request_length);
    f++;

    ngx_http_llmgw_log_int(f, "bytes_out", r->connection->sent);
    f++;

    /* usage, only what the provider reported */

    ngx_http_llmgw_log_usage(f++, "gen_ai.usage.input_tokens",
                             &pres.usage.input_tokens);
    ngx_http_llmgw_log_usage(f++, "gen_ai.usage.output_tokens",
                             &pres.usage.output_tokens);
    ngx_http_llmgw_log_usage(f++, "gen_ai.usage.cache_read.input_tokens",
                             &pres.usage.cache_read_input_tokens);
    ngx_http_llmgw_log_usage(f++, "gen_ai.usage.reasoning.output_tokens",
                             &pres.usage.reasoning_output_tokens);

    ngx_http_llmgw_log_name(f, "usage_source");
    f->type = NGX_HTTP_LLMGW_AUDIT_STR;

    if (pres.usage.input_tokens.present
        || pres.usage.output_tokens.present
        || pres.usage.cache_read_input_tokens.present
        || pres.usage.reasoning_output_tokens.present
        || pres.usage.total_tokens.present)
    {
        ngx_str_set(&f->str, "provider");

    } else {
        ngx_str_set(&f->str, "missing");
    }

    f++;

    /* the configured fields, as strings */

    if (llcf->fields != NULL) {
        lfld = llcf->fields->elts;

        for (i = 0; i < llcf->fields->nelts; i++) {
            f->name = lfld[i].name;
            f->type = NGX_HTTP_LLMGW_AUDIT_STR;

            if (ngx_http_complex_value(r, &lfld[i].value, &f->str)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            f++;
        }
    }

    /* NGX_HTTP_LLMGW_LOG_FIELDS counts the fields above */

    f += NGX_HTTP_LLMGW_LOG_CHAIN_FIELDS;

    *fieldsp = fields;
    *np = f - fields;

    return NGX_OK;
}


/* now, RFC 3339 UTC with milliseconds */

static ngx_int_t
ngx_http_llmgw_log_time(ngx_pool_t *pool, ngx_str_t *time)
{
    ngx_tm_t     tm;
    ngx_time_t  *tp;

    tp = ngx_timeofday();
    ngx_gmtime(tp->sec, &tm);

    time->data = ngx_pnalloc(pool, NGX_HTTP_LLMGW_LOG_TIME_LEN);
    if (time->data == NULL) {
        return NGX_ERROR;
    }

    time->len = ngx_sprintf(time->data,
                            "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ",
                            tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                            tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                            tp->msec)
                - time->data;

    return NGX_OK;
}


/*
 * The line of fields[0 .. n - 1] into lf; the last three fields are the
 * chain's, filled here from lf's chain (left out without one), so the
 * MACs follow the order in which lines enter the buffer or the file.
 */

static ngx_int_t
ngx_http_llmgw_log_emit(ngx_http_llmgw_log_file_t *lf, ngx_pool_t *pool,
    ngx_http_llmgw_audit_field_t *fields, ngx_uint_t n, ngx_log_t *log)
{
    u_char                        *line;
    size_t                         len;
    ngx_uint_t                     i;
    ngx_http_llmgw_log_chain_t    *ch;
    ngx_http_llmgw_audit_field_t  *f;

    ch = lf->chain;
    f = &fields[n - NGX_HTTP_LLMGW_LOG_CHAIN_FIELDS];

    if (ch == NULL) {
        for (i = 0; i < NGX_HTTP_LLMGW_LOG_CHAIN_FIELDS; i++) {
            f[i].type = NGX_HTTP_LLMGW_AUDIT_SKIP;
        }

    } else {
        ngx_http_llmgw_log_name(&f[0], "chain");
        f[0].type = NGX_HTTP_LLMGW_AUDIT_STR;
        f[0].str.data = ch->id;
        f[0].str.len = ch->id_len;

        ngx_http_llmgw_log_int(&f[1], "seq", (int64_t) (ch->seq + 1));

        ngx_http_llmgw_log_name(&f[2], "prev");
        f[2].type = NGX_HTTP_LLMGW_AUDIT_STR;
        f[2].str.len = NGX_HTTP_LLMGW_LOG_MAC_HEX;
        f[2].str.data = ngx_pnalloc(pool, NGX_HTTP_LLMGW_LOG_MAC_HEX);
        if (f[2].str.data == NULL) {
            return NGX_ERROR;
        }

        ngx_hex_dump(f[2].str.data, ch->mac, NGX_HTTP_LLMGW_AUDIT_MAC_LEN);
    }

    len = ngx_http_llmgw_audit_len(fields, n);

    line = ngx_pnalloc(pool, len);
    if (line == NULL) {
        return NGX_ERROR;
    }

    ngx_http_llmgw_audit_write(line, fields, n);

    if (ch != NULL) {
        ngx_http_llmgw_log_chain_next(ch, line, len, log);
    }

    ngx_http_llmgw_log_write(lf, line, len, log);

    return NGX_OK;
}


/*
 * The chain moves on to the line: its MAC becomes the next line's "prev",
 * and the head in the zone follows.  A line that fails to be written
 * afterwards leaves a gap the verifier reports, as it should.
 */

static void
ngx_http_llmgw_log_chain_next(ngx_http_llmgw_log_chain_t *ch, u_char *line,
    size_t len, ngx_log_t *log)
{
    ngx_http_llmgw_log_head_t  *head;

    if (ngx_http_llmgw_audit_mac(ch->key, line, len, ch->mac) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "llmgw_audit_chain: HMAC failed, chain \"%*s\" "
                      "breaks at seq %uL", ch->id_len, ch->id, ch->seq + 1);

        ngx_memzero(ch->mac, NGX_HTTP_LLMGW_AUDIT_MAC_LEN);
    }

    ch->seq++;

    head = ch->head;

    if (head == NULL) {
        return;
    }

    ngx_shmtx_lock(&ch->zone->shpool->mutex);

    if (head->pid == ngx_pid && head->file == ch->file
        && head->id_len == ch->id_len
        && ngx_memcmp(head->id, ch->id, ch->id_len) == 0)
    {
        head->seq = ch->seq;
        ngx_memcpy(head->mac, ch->mac, NGX_HTTP_LLMGW_AUDIT_MAC_LEN);
        head->updated = ngx_time();

    } else {
        ch->head = NULL;    /* the slot was taken over */
    }

    ngx_shmtx_unlock(&ch->zone->shpool->mutex);
}


/*
 * A checkpoint line in lf's chain: the heads the zone holds for lf's
 * file, copied under the lock and written outside it.  The heads of
 * exited workers are freed once announced.
 */

static void
ngx_http_llmgw_log_checkpoint(ngx_http_llmgw_log_file_t *lf, ngx_log_t *log)
{
    u_char                        *p, mac[NGX_HTTP_LLMGW_LOG_MAC_HEX];
    size_t                         len;
    ngx_str_t                      time, heads;
    ngx_uint_t                     i, n;
    ngx_pool_t                    *pool;
    ngx_http_llmgw_log_sh_t       *sh;
    ngx_http_llmgw_log_head_t     *copy, *head;
    ngx_http_llmgw_log_chain_t    *ch;
    ngx_http_llmgw_audit_field_t   fields[4 + NGX_HTTP_LLMGW_LOG_CHAIN_FIELDS];

    ch = lf->chain;
    sh = ch->zone->sh;

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (pool == NULL) {
        goto failed;
    }

    copy = ngx_palloc(pool, sh->nheads * sizeof(ngx_http_llmgw_log_head_t));
    if (copy == NULL) {
        goto failed;
    }

    n = 0;

    ngx_shmtx_lock(&ch->zone->shpool->mutex);

    for (i = 0; i < sh->nheads; i++) {
        head = &sh->heads[i];

        if (head->pid == 0 || head->file != ch->file) {
            continue;
        }

        copy[n++] = *head;

        if (!head->active) {
            head->pid = 0;
        }
    }

    ngx_shmtx_unlock(&ch->zone->shpool->mutex);

    len = sizeof("[]") - 1
          + n * (sizeof(",{\"chain\":\"\",\"seq\":,\"mac\":\"\"}") - 1
                 + NGX_HTTP_LLMGW_LOG_ID_LEN + NGX_INT64_LEN
                 + NGX_HTTP_LLMGW_LOG_MAC_HEX);

    heads.data = ngx_pnalloc(pool, len);
    if (heads.data == NULL) {
        goto failed;
    }

    p = heads.data;
    *p++ = '[';

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        ngx_hex_dump(mac, copy[i].mac, NGX_HTTP_LLMGW_AUDIT_MAC_LEN);

        p = ngx_sprintf(p, "{\"chain\":\"%*s\",\"seq\":%uL,\"mac\":\"%*s\"}",
                        copy[i].id_len, copy[i].id, copy[i].seq,
                        (size_t) NGX_HTTP_LLMGW_LOG_MAC_HEX, mac);
    }

    *p++ = ']';
    heads.len = p - heads.data;

    if (ngx_http_llmgw_log_time(pool, &time) != NGX_OK) {
        goto failed;
    }

    ngx_memzero(fields, sizeof(fields));

    ngx_http_llmgw_log_int(&fields[0], "v", 1);

    ngx_http_llmgw_log_name(&fields[1], "type");
    fields[1].type = NGX_HTTP_LLMGW_AUDIT_STR;
    ngx_str_set(&fields[1].str, "checkpoint");

    ngx_http_llmgw_log_str(&fields[2], "time", &time);

    ngx_http_llmgw_log_name(&fields[3], "heads");
    fields[3].type = NGX_HTTP_LLMGW_AUDIT_RAW;
    fields[3].str = heads;

    if (ngx_http_llmgw_log_emit(lf, pool, fields,
                                sizeof(fields) / sizeof(fields[0]), log)
        != NGX_OK)
    {
        goto failed;
    }

    ngx_destroy_pool(pool);

    return;

failed:

    ngx_log_error(NGX_LOG_ALERT, log, 0,
                  "llmgw_audit_chain: no memory for a checkpoint of \"%s\"",
                  lf->file->name.data);

    if (pool != NULL) {
        ngx_destroy_pool(pool);
    }
}


static void
ngx_http_llmgw_log_checkpoint_handler(ngx_event_t *ev)
{
    ngx_uint_t                       i;
    ngx_http_llmgw_log_file_t      **lf;
    ngx_http_llmgw_log_main_conf_t  *lmcf;

    lmcf = ev->data;
    lf = lmcf->files->elts;

    for (i = 0; i < lmcf->files->nelts; i++) {
        if (lf[i]->chain != NULL) {
            ngx_http_llmgw_log_checkpoint(lf[i], ev->log);
        }
    }

    if (!ngx_exiting) {
        ngx_add_timer(ev, lmcf->checkpoint);
    }
}


/*
 * An array of names as a field: granted scopes (ngx_str_t), or the
 * required scopes that failed (ngx_http_llmgw_scope_t *)
 */

static ngx_int_t
ngx_http_llmgw_log_strs(ngx_http_request_t *r, ngx_array_t *a,
    ngx_uint_t scopes, ngx_http_llmgw_audit_field_t *f)
{
    ngx_uint_t               i;
    ngx_http_llmgw_scope_t **s;

    f->type = NGX_HTTP_LLMGW_AUDIT_STRS;

    if (!scopes) {
        f->strs = a->elts;
        f->nstrs = a->nelts;
        return NGX_OK;
    }

    f->strs = ngx_palloc(r->pool, (a->nelts + 1) * sizeof(ngx_str_t));
    if (f->strs == NULL) {
        return NGX_ERROR;
    }

    s = a->elts;

    for (i = 0; i < a->nelts; i++) {
        f->strs[i] = s[i]->name;
    }

    f->nstrs = a->nelts;

    return NGX_OK;
}


/* a field's name; its value null until set */

static void
ngx_http_llmgw_log_name(ngx_http_llmgw_audit_field_t *f, char *name)
{
    f->name.data = (u_char *) name;
    f->name.len = ngx_strlen(name);
}


/* a string field, null when the value is empty */

static void
ngx_http_llmgw_log_str(ngx_http_llmgw_audit_field_t *f, char *name,
    ngx_str_t *value)
{
    ngx_http_llmgw_log_name(f, name);

    if (value->len) {
        f->type = NGX_HTTP_LLMGW_AUDIT_STR;
        f->str = *value;
    }
}


static void
ngx_http_llmgw_log_int(ngx_http_llmgw_audit_field_t *f, char *name,
    int64_t value)
{
    ngx_http_llmgw_log_name(f, name);

    f->type = NGX_HTTP_LLMGW_AUDIT_INT;
    f->num = value;
}


/* a usage count, left out unless the provider reported it */

static void
ngx_http_llmgw_log_usage(ngx_http_llmgw_audit_field_t *f, char *name,
    ngx_http_llmgw_usage_count_t *count)
{
    ngx_http_llmgw_log_name(f, name);

    if (count->present) {
        f->type = NGX_HTTP_LLMGW_AUDIT_INT;
        f->num = count->value;

    } else {
        f->type = NGX_HTTP_LLMGW_AUDIT_SKIP;
    }
}


/*
 * A line into the file's buffer, or straight to the file: whole lines
 * only, so workers sharing the file never interleave inside a line.
 */

static void
ngx_http_llmgw_log_write(ngx_http_llmgw_log_file_t *lf, u_char *line,
    size_t len, ngx_log_t *log)
{
    if (lf->start != NULL) {

        if (len > (size_t) (lf->last - lf->pos)) {
            ngx_http_llmgw_log_flush(lf->file, log);
        }

        if (len <= (size_t) (lf->last - lf->pos)) {
            lf->pos = ngx_cpymem(lf->pos, line, len);

            if (lf->flush && lf->pos > lf->start && !lf->event->timer_set) {
                lf->event->log = log;
                ngx_add_timer(lf->event, lf->flush);
            }

            return;
        }

        /* a line longer than the buffer goes out alone */
    }

    ngx_http_llmgw_log_write_fd(lf, line, len, 1, log);
}


/*
 * One write() of whole lines; a failure is counted, and reported at most
 * once a second per file with the lines lost since the last report.
 */

static void
ngx_http_llmgw_log_write_fd(ngx_http_llmgw_log_file_t *lf, u_char *data,
    size_t len, ngx_uint_t lines, ngx_log_t *log)
{
    time_t     now;
    ssize_t    n;
    ngx_err_t  err;

    n = ngx_write_fd(lf->file->fd, data, len);

    if (n == (ssize_t) len) {
        return;
    }

    err = (n == -1) ? ngx_errno : 0;

    lf->failures += lines;
    lf->unreported += lines;

    now = ngx_time();

    if (now == lf->error_time) {
        return;
    }

    if (n == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, err,
                      "llmgw_audit: " ngx_write_fd_n " to \"%s\" failed, "
                      "audit lines lost: %ui since the last report, "
                      "%ui in all",
                      lf->file->name.data, lf->unreported, lf->failures);

    } else {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "llmgw_audit: " ngx_write_fd_n " to \"%s\" was "
                      "incomplete: %z of %uz, audit lines lost: %ui since "
                      "the last report, %ui in all",
                      lf->file->name.data, n, len, lf->unreported,
                      lf->failures);
    }

    lf->unreported = 0;
    lf->error_time = now;
}


/* the buffer out: by the timer, when full, at a reopen and at exit */

static void
ngx_http_llmgw_log_flush(ngx_open_file_t *file, ngx_log_t *log)
{
    u_char                     *p;
    ngx_uint_t                  lines;
    ngx_http_llmgw_log_file_t  *lf;

    lf = file->data;

    if (lf->pos > lf->start) {
        lines = 0;

        for (p = lf->start; p < lf->pos; p++) {
            if (*p == '\n') {
                lines++;
            }
        }

        ngx_http_llmgw_log_write_fd(lf, lf->start, lf->pos - lf->start,
                                    lines, log);
    }

    lf->pos = lf->start;

    if (lf->event != NULL && lf->event->timer_set) {
        ngx_del_timer(lf->event);
    }
}


static void
ngx_http_llmgw_log_flush_handler(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, ev->log, 0,
                   "llmgw audit buffer flush handler");

    ngx_http_llmgw_log_flush(ev->data, ev->log);
}


/*
 * The file's flush hook, run before a reopen (USR1) and at exit: a
 * checkpoint ends the old file, then the buffer goes out.  In the master
 * there is no chain and no buffered line.
 */

static void
ngx_http_llmgw_log_reopen(ngx_open_file_t *file, ngx_log_t *log)
{
    ngx_http_llmgw_log_file_t  *lf;

    lf = file->data;

    if (lf->chain != NULL) {
        ngx_http_llmgw_log_checkpoint(lf, log);
    }

    ngx_http_llmgw_log_flush(file, log);
}


static void *
ngx_http_llmgw_log_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_llmgw_log_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_log_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    lmcf->request_id = NGX_ERROR;

    return lmcf;
}


static void *
ngx_http_llmgw_log_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_llmgw_log_loc_conf_t  *llcf;

    llcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_log_loc_conf_t));
    if (llcf == NULL) {
        return NULL;
    }

    llcf->files = NGX_CONF_UNSET_PTR;
    llcf->department = NGX_CONF_UNSET_PTR;
    llcf->fields = NGX_CONF_UNSET_PTR;

    return llcf;
}


static char *
ngx_http_llmgw_log_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_llmgw_log_loc_conf_t  *prev = parent;
    ngx_http_llmgw_log_loc_conf_t  *conf = child;

    ngx_conf_merge_ptr_value(conf->files, prev->files, NULL);
    ngx_conf_merge_ptr_value(conf->department, prev->department, NULL);
    ngx_conf_merge_ptr_value(conf->fields, prev->fields, NULL);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llmgw_log_init(ngx_conf_t *cf)
{
    ngx_str_t                        name;
    ngx_http_handler_pt             *h;
    ngx_http_core_main_conf_t       *cmcf;
    ngx_http_llmgw_log_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llmgw_log_module);

    if (lmcf->key.len && lmcf->zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_audit_chain\" requires "
                           "\"llmgw_audit_zone\"");
        return NGX_ERROR;
    }

    if (lmcf->zone != NULL && lmcf->key.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_audit_zone\" is of no use without "
                           "\"llmgw_audit_chain\"");
        return NGX_ERROR;
    }

    ngx_str_set(&name, "request_id");

    lmcf->request_id = ngx_http_get_variable_index(cf, &name);
    if (lmcf->request_id == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_llmgw_log_handler;

    return NGX_OK;
}


/* llmgw_audit path [buffer=size [flush=time]] | off; */

static char *
ngx_http_llmgw_log_audit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_log_loc_conf_t *llcf = conf;

    ssize_t                      size;
    ngx_str_t                   *value, s;
    ngx_msec_t                   flush;
    ngx_uint_t                   i;
    ngx_event_t                 *ev;
    ngx_open_file_t                 *file;
    ngx_http_llmgw_log_file_t       *lf, **slot;
    ngx_http_llmgw_log_main_conf_t  *lmcf;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts != 2) {
            return "takes no parameters with \"off\"";
        }

        if (llcf->files != NGX_CONF_UNSET_PTR) {
            return "is duplicate";
        }

        llcf->files = NULL;
        return NGX_CONF_OK;
    }

    if (llcf->files == NULL) {
        return "is duplicate";
    }

    size = 0;
    flush = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "buffer=", 7) == 0) {
            s.len = value[i].len - 7;
            s.data = value[i].data + 7;

            size = ngx_parse_size(&s);

            if (size <= 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid buffer size \"%V\"", &s);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "flush=", 6) == 0) {
            s.len = value[i].len - 6;
            s.data = value[i].data + 6;

            flush = ngx_parse_time(&s, 0);

            if (flush == (ngx_msec_t) NGX_ERROR || flush == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid flush time \"%V\"", &s);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (flush && size == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no buffer is defined for llmgw_audit \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    file = ngx_conf_open_file(cf->cycle, &value[1]);
    if (file == NULL) {
        return NGX_CONF_ERROR;
    }

    if (file->data != NULL) {
        lf = file->data;

        if (file->flush != ngx_http_llmgw_log_reopen) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" is already written by another log",
                               &value[1]);
            return NGX_CONF_ERROR;
        }

        if ((size_t) size != (size_t) (lf->last - lf->start)
            || flush != lf->flush)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "llmgw_audit \"%V\" is already defined with "
                               "other buffer parameters", &value[1]);
            return NGX_CONF_ERROR;
        }

    } else {
        lf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_log_file_t));
        if (lf == NULL) {
            return NGX_CONF_ERROR;
        }

        lf->file = file;

        if (size) {
            lf->start = ngx_pnalloc(cf->pool, size);
            if (lf->start == NULL) {
                return NGX_CONF_ERROR;
            }

            lf->pos = lf->start;
            lf->last = lf->start + size;
        }

        if (flush) {
            ev = ngx_pcalloc(cf->pool, sizeof(ngx_event_t));
            if (ev == NULL) {
                return NGX_CONF_ERROR;
            }

            ev->data = file;
            ev->handler = ngx_http_llmgw_log_flush_handler;
            ev->log = &cf->cycle->new_log;
            ev->cancelable = 1;

            lf->event = ev;
            lf->flush = flush;
        }

        file->data = lf;
        file->flush = ngx_http_llmgw_log_reopen;

        lmcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_llmgw_log_module);

        if (lmcf->files == NULL) {
            lmcf->files = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_llmgw_log_file_t *));
            if (lmcf->files == NULL) {
                return NGX_CONF_ERROR;
            }
        }

        slot = ngx_array_push(lmcf->files);
        if (slot == NULL) {
            return NGX_CONF_ERROR;
        }

        *slot = lf;
    }

    if (llcf->files == NGX_CONF_UNSET_PTR) {
        llcf->files = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_llmgw_log_file_t *));
        if (llcf->files == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    for (i = 0; i < llcf->files->nelts; i++) {
        slot = llcf->files->elts;

        if (slot[i] == lf) {
            return "is duplicate";
        }
    }

    slot = ngx_array_push(llcf->files);
    if (slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = lf;

    return NGX_CONF_OK;
}


/* llmgw_audit_department_claim PATH; */

static char *
ngx_http_llmgw_log_department(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llmgw_log_loc_conf_t *llcf = conf;

    ngx_int_t     rc;
    ngx_str_t    *value;
    const char   *err;

    if (llcf->department != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    llcf->department = ngx_pcalloc(cf->pool,
                                   sizeof(ngx_http_llmgw_claim_path_t));
    if (llcf->department == NULL) {
        return NGX_CONF_ERROR;
    }

    rc = ngx_http_llmgw_claim_path_parse(cf->pool, &value[1],
                                         llcf->department, &err);

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid claim path \"%V\": it %s",
                           &value[1], err);
    }

    return rc == NGX_OK ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* llmgw_audit_field name value; */

static char *
ngx_http_llmgw_log_field(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_log_loc_conf_t *llcf = conf;

    ngx_str_t                          *value;
    ngx_uint_t                          i;
    ngx_http_llmgw_log_field_t         *fld;
    ngx_http_compile_complex_value_t    ccv;

    value = cf->args->elts;

    if (ngx_http_llmgw_audit_name_valid(&value[1]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid audit field name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    for (i = 0; ngx_http_llmgw_log_reserved[i] != NULL; i++) {
        if (ngx_strlen(ngx_http_llmgw_log_reserved[i]) == value[1].len
            && ngx_strncmp(ngx_http_llmgw_log_reserved[i], value[1].data,
                           value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "audit field \"%V\" is a field of the "
                               "schema", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (llcf->fields == NGX_CONF_UNSET_PTR) {
        llcf->fields = ngx_array_create(cf->pool, 4,
                                        sizeof(ngx_http_llmgw_log_field_t));
        if (llcf->fields == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    fld = llcf->fields->elts;

    for (i = 0; i < llcf->fields->nelts; i++) {
        if (fld[i].name.len == value[1].len
            && ngx_strncmp(fld[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "audit field \"%V\" is duplicate", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    fld = ngx_array_push(llcf->fields);
    if (fld == NULL) {
        return NGX_CONF_ERROR;
    }

    fld->name = value[1];

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &fld->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* llmgw_audit_chain key=FILE [checkpoint=TIME]; */

static char *
ngx_http_llmgw_log_chain(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_log_main_conf_t *lmcf = conf;

    u_char              *p;
    ngx_str_t           *value, s, spec;
    ngx_uint_t           i;
    ngx_msec_t           checkpoint;
    ngx_pool_cleanup_t  *cln;

    if (lmcf->key.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_str_null(&spec);
    checkpoint = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "key=", 4) == 0
            && value[i].len > 4)
        {
            /* the secret loader's "file=PATH" */

            spec.len = sizeof("file=") - 1 + value[i].len - 4;
            spec.data = ngx_pnalloc(cf->pool, spec.len);
            if (spec.data == NULL) {
                return NGX_CONF_ERROR;
            }

            p = ngx_cpymem(spec.data, "file=", sizeof("file=") - 1);
            ngx_memcpy(p, value[i].data + 4, value[i].len - 4);

            continue;
        }

        if (ngx_strncmp(value[i].data, "checkpoint=", 11) == 0) {
            s.len = value[i].len - 11;
            s.data = value[i].data + 11;

            checkpoint = ngx_parse_time(&s, 0);

            if (checkpoint == (ngx_msec_t) NGX_ERROR || checkpoint == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid checkpoint time \"%V\"", &s);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (spec.len == 0) {
        return "needs key=FILE";
    }

    if (ngx_http_llmgw_secret_load(cf, &spec, &lmcf->key) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_llmgw_log_key_cleanup;
    cln->data = &lmcf->key;

    if (lmcf->key.len < NGX_HTTP_LLMGW_LOG_KEY_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the audit chain key in \"%V\" is shorter than "
                           "%d bytes", &value[1],
                           NGX_HTTP_LLMGW_LOG_KEY_MIN);
        return NGX_CONF_ERROR;
    }

    lmcf->checkpoint = checkpoint;

    return NGX_CONF_OK;
}


/* the key wiped with the cycle's pool */

static void
ngx_http_llmgw_log_key_cleanup(void *data)
{
    ngx_str_t  *key = data;

    if (key->data != NULL) {
        ngx_explicit_memzero(key->data, key->len);
    }
}


/* llmgw_audit_zone name:size; */

static char *
ngx_http_llmgw_log_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_log_main_conf_t *lmcf = conf;

    ssize_t                     size;
    ngx_str_t                  *value, name;
    ngx_shm_zone_t             *shm_zone;
    ngx_http_llmgw_log_zone_t  *ctx;

    if (lmcf->zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_llmgw_zone_parse(cf, &value[1], &name, &size,
                                  NGX_HTTP_LLMGW_ZONE_MIN_SIZE)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_log_zone_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_llmgw_log_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used by another "
                           "llmgw directive", &name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_llmgw_log_init_zone;
    shm_zone->data = ctx;

    lmcf->zone = shm_zone;

    return NGX_CONF_OK;
}


/*
 * The heads' zone: an array of slots filling half of it (the slab's
 * pages and headers take the rest), kept as it is on reload.
 */

static ngx_int_t
ngx_http_llmgw_log_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llmgw_log_zone_t  *octx = data;

    size_t                      len;
    ngx_uint_t                  n;
    ngx_http_llmgw_log_zone_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        if (octx->size != shm_zone->shm.size) {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "llmgw audit zone \"%V\" has size %uz "
                          "while previously it had %uz",
                          &shm_zone->shm.name, shm_zone->shm.size,
                          octx->size);
            return NGX_ERROR;
        }

        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        ctx->size = octx->size;

        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    ctx->size = shm_zone->shm.size;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;

        return NGX_OK;
    }

    n = shm_zone->shm.size / 2 / sizeof(ngx_http_llmgw_log_head_t);

    len = sizeof(ngx_http_llmgw_log_sh_t)
          + (n - 1) * sizeof(ngx_http_llmgw_log_head_t);

    ctx->sh = ngx_slab_calloc(ctx->shpool, len);
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->sh->nheads = n;
    ctx->shpool->data = ctx->sh;

    len = sizeof(" in llmgw_audit_zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in llmgw_audit_zone \"%V\"%Z",
                &shm_zone->shm.name);

    return NGX_OK;
}


/*
 * A worker's chains, one per audit file, each in a slot of the zone (a
 * free one, else the least recently updated of an exited worker, else the
 * least recently updated), announced by a checkpoint.
 */

static ngx_int_t
ngx_http_llmgw_log_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i, j;
    ngx_msec_t                       start;
    ngx_time_t                      *tp;
    ngx_http_llmgw_log_sh_t         *sh;
    ngx_http_llmgw_log_file_t      **lf;
    ngx_http_llmgw_log_head_t       *head, *h;
    ngx_http_llmgw_log_chain_t      *ch;
    ngx_http_llmgw_log_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_llmgw_log_module);

    if (lmcf == NULL || lmcf->key.len == 0 || lmcf->files == NULL) {
        return NGX_OK;
    }

    tp = ngx_timeofday();
    start = (ngx_msec_t) tp->sec * 1000 + tp->msec;

    lf = lmcf->files->elts;

    for (i = 0; i < lmcf->files->nelts; i++) {
        ch = ngx_pcalloc(cycle->pool, sizeof(ngx_http_llmgw_log_chain_t));
        if (ch == NULL) {
            return NGX_ERROR;
        }

        ch->key = &lmcf->key;
        ch->zone = lmcf->zone->data;
        ch->file = ngx_crc32_short(lf[i]->file->name.data,
                                   lf[i]->file->name.len);
        ch->id_len = ngx_sprintf(ch->id, "%xL-%xL", (int64_t) ngx_pid,
                                 (int64_t) start)
                     - ch->id;

        sh = ch->zone->sh;
        head = NULL;

        ngx_shmtx_lock(&ch->zone->shpool->mutex);

        for (j = 0; j < sh->nheads; j++) {
            h = &sh->heads[j];

            if (h->pid == 0) {
                head = h;
                break;
            }

            if (head == NULL
                || (!h->active && head->active)
                || (h->active == head->active && h->updated < head->updated))
            {
                head = h;
            }
        }

        if (head != NULL) {
            if (head->pid != 0) {
                ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                              "llmgw_audit_zone is full: the head of chain "
                              "\"%*s\" is dropped", head->id_len, head->id);
            }

            head->file = ch->file;
            head->pid = ngx_pid;
            head->active = 1;
            head->updated = ngx_time();
            head->seq = 0;
            head->id_len = ch->id_len;
            ngx_memcpy(head->id, ch->id, ch->id_len);
            ngx_memzero(head->mac, NGX_HTTP_LLMGW_AUDIT_MAC_LEN);
        }

        ngx_shmtx_unlock(&ch->zone->shpool->mutex);

        ch->head = head;
        lf[i]->chain = ch;

        ngx_http_llmgw_log_checkpoint(lf[i], cycle->log);
    }

    if (lmcf->checkpoint) {
        lmcf->timer.handler = ngx_http_llmgw_log_checkpoint_handler;
        lmcf->timer.data = lmcf;
        lmcf->timer.log = cycle->log;
        lmcf->timer.cancelable = 1;

        ngx_add_timer(&lmcf->timer, lmcf->checkpoint);
    }

    return NGX_OK;
}


/* the worker's heads stay in the zone, marked exited, until announced */

static void
ngx_http_llmgw_log_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_http_llmgw_log_file_t      **lf;
    ngx_http_llmgw_log_chain_t      *ch;
    ngx_http_llmgw_log_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_llmgw_log_module);

    if (lmcf == NULL || lmcf->files == NULL) {
        return;
    }

    lf = lmcf->files->elts;

    for (i = 0; i < lmcf->files->nelts; i++) {
        ch = lf[i]->chain;

        if (ch == NULL || ch->head == NULL) {
            continue;
        }

        ngx_shmtx_lock(&ch->zone->shpool->mutex);

        if (ch->head->pid == ngx_pid && ch->head->file == ch->file) {
            ch->head->active = 0;
        }

        ngx_shmtx_unlock(&ch->zone->shpool->mutex);
    }
}


/*
 * The metrics of r (llmgw_metrics_zone), for every request of an llmgw
 * location, whether or not it has an audit sink: the request by provider,
 * status class and decision, a denial by status and reason, the times of
 * the provider's response, and the tokens it reported, by provider,
 * model, type and department.  Never a per-user label.
 */

static void
ngx_http_llmgw_log_metrics_record(ngx_http_request_t *r)
{
    u_char                          *p, digits[NGX_INT_T_LEN];
    ngx_str_t                        labels[4], dept;
    ngx_int_t                        rc;
    ngx_uint_t                       i, status;
    ngx_msec_t                       ms, ttfb;
    ngx_http_llmgw_metrics_t        *m;
    ngx_http_upstream_state_t       *state;
    ngx_http_llmgw_pass_result_t     pres;
    ngx_http_llmgw_usage_count_t    *counts[4];
    ngx_http_llmgw_access_result_t   ares;
    ngx_http_llmgw_log_loc_conf_t   *llcf;
    ngx_http_llmgw_log_main_conf_t  *lmcf;

    static ngx_str_t  classes[] = {
        ngx_string("other"), ngx_string("1xx"), ngx_string("2xx"),
        ngx_string("3xx"), ngx_string("4xx"), ngx_string("5xx")
    };

    /* the audit's gen_ai.usage.* counts, in order */
    static ngx_str_t  types[] = {
        ngx_string("input"), ngx_string("output"),
        ngx_string("cache_read_input"), ngx_string("reasoning_output")
    };

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_log_module);
    m = lmcf->metrics;

    if (m == NULL || m->sh == NULL) {
        return;
    }

    if (ngx_http_llmgw_access_result(r, &ares) != NGX_OK
        || ngx_http_llmgw_pass_result(r, &pres) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "llmgw_metrics: no memory for the request's results");
        return;
    }

    if (!ares.enabled && !pres.enabled) {
        return;
    }

    /* the status as $status, by class */

    status = r->err_status ? r->err_status : r->headers_out.status;

    labels[0] = pres.provider;
    labels[1] = classes[(status >= 100 && status < 600) ? status / 100 : 0];
    labels[2] = ngx_http_llmgw_log_decisions[ares.decision];

    (void) ngx_http_llmgw_metrics_add(m, NGX_HTTP_LLMGW_METRICS_REQUESTS,
                                      labels, 3, 1);

    if (ares.decision == NGX_HTTP_LLMGW_DECISION_DENIED) {
        p = ngx_sprintf(digits, "%ui", ares.status);

        labels[0].data = digits;
        labels[0].len = p - digits;
        labels[1] = ares.reason;

        (void) ngx_http_llmgw_metrics_add(m, NGX_HTTP_LLMGW_METRICS_DENIALS,
                                          labels, 2, 1);
    }

    /*
     * the provider's times: every attempt's, and to the header of the
     * response that was passed on (llmgw_pass does not record the first
     * body byte; for a stream the header comes with the first event)
     */

    if (r->upstream_states != NULL && r->upstream_states->nelts) {
        state = r->upstream_states->elts;
        ms = 0;

        for (i = 0; i < r->upstream_states->nelts; i++) {
            if (state[i].response_time != (ngx_msec_t) -1) {
                ms += state[i].response_time;
            }
        }

        (void) ngx_http_llmgw_metrics_add(m, NGX_HTTP_LLMGW_METRICS_UPSTREAM,
                                          &pres.provider, 1, ms);

        state = &state[r->upstream_states->nelts - 1];

        if (state->header_time != (ngx_msec_t) -1) {
            ttfb = ms - (state->response_time != (ngx_msec_t) -1
                         ? state->response_time : 0)
                   + state->header_time;

            (void) ngx_http_llmgw_metrics_add(m,
                                          NGX_HTTP_LLMGW_METRICS_FIRST_BYTE,
                                          &pres.provider, 1, ttfb);
        }
    }

    /* tokens, only what the provider reported */

    if (!pres.usage.input_tokens.present
        && !pres.usage.output_tokens.present
        && !pres.usage.cache_read_input_tokens.present
        && !pres.usage.reasoning_output_tokens.present)
    {
        return;
    }

    ngx_str_null(&dept);

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_log_module);

    if (llcf->department != NULL) {
        rc = ngx_http_llmgw_access_claim(r, llcf->department, &dept);

        if (rc != NGX_OK) {
            ngx_str_null(&dept);
        }
    }

    labels[0] = pres.provider;
    ngx_http_llmgw_metrics_model(m, &pres.model, &labels[1]);
    ngx_http_llmgw_metrics_department(m, &dept, &labels[3]);

    counts[0] = &pres.usage.input_tokens;
    counts[1] = &pres.usage.output_tokens;
    counts[2] = &pres.usage.cache_read_input_tokens;
    counts[3] = &pres.usage.reasoning_output_tokens;

    for (i = 0; i < 4; i++) {
        if (!counts[i]->present || counts[i]->value < 0) {
            continue;
        }

        labels[2] = types[i];

        (void) ngx_http_llmgw_metrics_add(m, NGX_HTTP_LLMGW_METRICS_TOKENS,
                                          labels, 4,
                                          (uint64_t) counts[i]->value);
    }
}


/* llmgw_metrics: the exposition of the zone's counters, GET or HEAD */

static ngx_int_t
ngx_http_llmgw_log_metrics_handler(ngx_http_request_t *r)
{
    u_char                             *p;
    ngx_int_t                           rc;
    ngx_buf_t                          *b;
    ngx_str_t                           text, redis;
    ngx_chain_t                         out;
    ngx_http_llmgw_log_main_conf_t     *lmcf;
    ngx_http_llmgw_metrics_snapshot_t   snap;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    lmcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_log_module);

    if (ngx_http_llmgw_metrics_snapshot(lmcf->metrics, r->pool, &snap)
        != NGX_OK
        || ngx_http_llmgw_metrics_render(r->pool, &snap, &text) != NGX_OK
        || ngx_http_llmgw_redis_metrics(r->pool, &redis) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the Redis connections' families follow the zone's */

    if (redis.len) {
        p = ngx_pnalloc(r->pool, text.len + redis.len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ngx_cpymem(p, text.data, text.len), redis.data,
                   redis.len);

        text.data = p;
        text.len += redis.len;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = text.len;

    ngx_str_set(&r->headers_out.content_type,
                NGX_HTTP_LLMGW_METRICS_CONTENT_TYPE);
    r->headers_out.content_type_len = sizeof("text/plain") - 1;
    r->headers_out.content_type_lowcase = NULL;

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = text.data;
    b->last = text.data + text.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * After the http block: the metrics need their zone, wherever in the
 * block it was given; first= defaults to 20 models.
 */

static char *
ngx_http_llmgw_log_metrics_init(ngx_conf_t *cf, void *conf)
{
    ngx_http_llmgw_log_main_conf_t *lmcf = conf;

    ngx_http_llmgw_metrics_t  *m;

    m = lmcf->metrics;

    if (m == NULL) {
        return NGX_CONF_OK;
    }

    if (m->zone == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" requires \"llmgw_metrics_zone\"",
                           m->used ? "llmgw_metrics"
                                   : "llmgw_metrics_departments\" or "
                                     "\"llmgw_metrics_models");
        return NGX_CONF_ERROR;
    }

    if (m->first == NGX_CONF_UNSET_UINT) {
        m->first = 20;
    }

    return NGX_CONF_OK;
}


static ngx_http_llmgw_metrics_t *
ngx_http_llmgw_log_metrics_conf(ngx_conf_t *cf,
    ngx_http_llmgw_log_main_conf_t *lmcf)
{
    ngx_http_llmgw_metrics_t  *m;

    if (lmcf->metrics != NULL) {
        return lmcf->metrics;
    }

    m = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_metrics_t));
    if (m == NULL) {
        return NULL;
    }

    m->first = NGX_CONF_UNSET_UINT;

    lmcf->metrics = m;

    return m;
}


/* llmgw_metrics_zone name:size; */

static char *
ngx_http_llmgw_log_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t                 *value;
    ngx_http_llmgw_metrics_t  *m;

    m = ngx_http_llmgw_log_metrics_conf(cf, conf);
    if (m == NULL) {
        return NGX_CONF_ERROR;
    }

    if (m->zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_llmgw_metrics_zone_add(cf, m, &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* llmgw_metrics; */

static char *
ngx_http_llmgw_log_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_metrics_t  *m;
    ngx_http_core_loc_conf_t  *clcf;

    m = ngx_http_llmgw_log_metrics_conf(cf, conf);
    if (m == NULL) {
        return NGX_CONF_ERROR;
    }

    m->used = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_llmgw_log_metrics_handler;

    return NGX_CONF_OK;
}


/*
 * llmgw_metrics_departments NAME ...;
 * llmgw_metrics_models [first=N] NAME ...;
 *
 * Label values that come from outside, bounded: a department not listed
 * is counted as "other"; a model not listed takes one of N places, the
 * rest are "other".
 */

static char *
ngx_http_llmgw_log_metrics_names(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_int_t                  n;
    ngx_str_t                 *value, *name;
    ngx_uint_t                 i, j, models;
    ngx_array_t               *names, **slot;
    ngx_http_llmgw_metrics_t  *m;

    m = ngx_http_llmgw_log_metrics_conf(cf, conf);
    if (m == NULL) {
        return NGX_CONF_ERROR;
    }

    models = (cmd->name.len == sizeof("llmgw_metrics_models") - 1);
    slot = models ? &m->models : &m->departments;

    if (*slot != NULL || (models && m->first != NGX_CONF_UNSET_UINT)) {
        return "is duplicate";
    }

    names = ngx_array_create(cf->pool, cf->args->nelts,
                             sizeof(ngx_str_t));
    if (names == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (models && ngx_strncmp(value[i].data, "first=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (n == NGX_ERROR || m->first != NGX_CONF_UNSET_UINT) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            m->first = n;
            continue;
        }

        if (value[i].len == 0
            || value[i].len > NGX_HTTP_LLMGW_METRICS_MODEL_MAX)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid label value \"%V\": empty or longer "
                               "than %d bytes", &value[i],
                               NGX_HTTP_LLMGW_METRICS_MODEL_MAX);
            return NGX_CONF_ERROR;
        }

        for (j = 0; j < value[i].len; j++) {
            if (value[i].data[j] < 0x20 || value[i].data[j] == 0x7f) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid label value \"%V\": a control "
                                   "character", &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        name = ngx_array_push(names);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    *slot = names;

    return NGX_CONF_OK;
}
