
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
#include "ngx_http_llmgw_error.h"
#include "ngx_http_llmgw_metrics.h"
#include "ngx_http_llmgw_price.h"
#include "ngx_http_llmgw_provider.h"
#include "ngx_http_llmgw_redact.h"
#include "ngx_http_llmgw_redis.h"
#include "ngx_http_llmgw_secret.h"
#include "ngx_http_llmgw_zone.h"
#include "ngx_http_llmgw_param.h"


/* the line's own fields, before the configured ones */
#define NGX_HTTP_LLMGW_LOG_FIELDS                                             \
    (sizeof(ngx_http_llmgw_log_builders)                                      \
     / sizeof(ngx_http_llmgw_log_builder_t) - 1)

/* "chain", "seq", "prev", after the configured ones */
#define NGX_HTTP_LLMGW_LOG_CHAIN_FIELDS  3

#define NGX_HTTP_LLMGW_LOG_KEY_MIN     32

/* a chain id: the worker's pid and start time in ms, in hex */
#define NGX_HTTP_LLMGW_LOG_ID_LEN      (2 * NGX_INT64_LEN + 1)

#define NGX_HTTP_LLMGW_LOG_MAC_HEX     (2 * NGX_HTTP_LLMGW_AUDIT_MAC_LEN)

#define NGX_HTTP_LLMGW_LOG_TIME_LEN    (sizeof("1970-01-01T00:00:00.000Z") - 1)

/* syslog's PRI and HEADER before a line, as the log module counts them */
#define NGX_HTTP_LLMGW_LOG_SYSLOG_HEADER(peer)                                \
    (sizeof("<255>Jan 01 00:00:00 ") - 1 + ngx_cycle->hostname.len + 1       \
     + (peer)->tag.len + 2)

/* llmgw_audit_body: which bodies, and the default and largest size */
#define NGX_HTTP_LLMGW_LOG_BODY_REQUEST   1
#define NGX_HTTP_LLMGW_LOG_BODY_RESPONSE  2
#define NGX_HTTP_LLMGW_LOG_BODY_MAX       (16 * 1024)
#define NGX_HTTP_LLMGW_LOG_BODY_LIMIT     (1024 * 1024)

/* llmgw_audit_required's 503: a sink is retried with every line */
#define NGX_HTTP_LLMGW_LOG_RETRY_AFTER 1


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
} ngx_http_llmgw_log_zone_t;


/* a worker's chain in one audit file */

typedef struct {
    EVP_MAC_CTX               *hmac;         /* the chain key, ready */
    ngx_http_llmgw_log_zone_t *zone;
    ngx_http_llmgw_log_head_t *head;         /* its slot, or NULL */
    uint32_t                   file;
    uint64_t                   seq;          /* of the last line */
    size_t                     id_len;
    u_char                     id[NGX_HTTP_LLMGW_LOG_ID_LEN];
    u_char                     mac[NGX_HTTP_LLMGW_AUDIT_MAC_LEN];
} ngx_http_llmgw_log_chain_t;


/*
 * An audit sink.  A file: one per name however many locations write to
 * it, kept in its ngx_open_file_t's data: the buffer (or none), the write
 * failures and the worker's chain (NULL without llmgw_audit_chain, and in
 * the master).  A syslog target: one per llmgw_audit directive, never
 * buffered, never chained.
 */

typedef struct {
    ngx_http_llmgw_log_chain_t *chain;
    ngx_open_file_t           *file;         /* NULL: a syslog sink */
    ngx_syslog_peer_t         *syslog;
    ngx_str_t                  name;         /* for messages, NUL ended */
    u_char                    *start;        /* the buffer, or NULL */
    u_char                    *pos;
    ngx_uint_t                 buffered;     /* lines between start, pos */
    u_char                    *last;
    ngx_event_t               *event;        /* the flush timer */
    ngx_msec_t                 flush;
    ngx_uint_t                 failures;     /* lines lost, ever */
    ngx_uint_t                 unreported;   /* lost since the last alert */
    time_t                     error_time;   /* of the last alert */
    ngx_uint_t                 failed;       /* the last write failed and
                                                none succeeded since */
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
    ngx_array_t               *prices;       /* ngx_http_llmgw_price_t */
    ngx_flag_t                 required;     /* llmgw_audit_required */
    ngx_uint_t                 body;         /* llmgw_audit_body: _BODY_*
                                                bits */
    size_t                     body_max;
    ngx_array_t               *redact;       /* ngx_str_t; NULL: none */
} ngx_http_llmgw_log_loc_conf_t;


/* what the builders of a line's fields read */

typedef struct {
    ngx_http_request_t              *r;
    ngx_http_llmgw_log_loc_conf_t   *llcf;
    ngx_time_t                      *tp;
    ngx_http_upstream_state_t       *state;       /* the last, or NULL */
    ngx_msec_t                       upstream_ms; /* all states summed */
    ngx_http_llmgw_access_result_t   ares;
    ngx_http_llmgw_pass_result_t     pres;
    ngx_http_llmgw_cost_t            cost;
    ngx_http_llmgw_capture_t         bodies[2];   /* request, response */
} ngx_http_llmgw_log_ctx_t;


/*
 * A field of the schema and its builder, which sets the field's value
 * (null when it leaves it); offset is the builder's own argument.
 */

typedef ngx_int_t (*ngx_http_llmgw_log_build_pt)(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);

typedef struct {
    char                           *name;
    ngx_http_llmgw_log_build_pt     build;
    size_t                          offset;
} ngx_http_llmgw_log_builder_t;


static ngx_int_t ngx_http_llmgw_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llmgw_log_required_handler(ngx_http_request_t *r);
static void ngx_http_llmgw_log_count_failure(ngx_http_llmgw_log_file_t *lf,
    ngx_uint_t lines);
static void ngx_http_llmgw_log_report(ngx_http_llmgw_log_file_t *lf,
    const char *what, ngx_err_t err, ssize_t n, size_t len, ngx_log_t *log);
static void ngx_http_llmgw_log_send(ngx_http_llmgw_log_file_t *lf,
    u_char *buf, size_t len, ngx_log_t *log);
static ngx_int_t ngx_http_llmgw_log_line(ngx_http_request_t *r,
    ngx_http_llmgw_log_loc_conf_t *llcf, ngx_http_llmgw_access_result_t *ares,
    ngx_http_llmgw_pass_result_t *pres,
    ngx_http_llmgw_audit_field_t **fields, ngx_uint_t *n);
static ngx_int_t ngx_http_llmgw_log_ctx_init(ngx_http_request_t *r,
    ngx_http_llmgw_access_result_t *ares, ngx_http_llmgw_pass_result_t *pres,
    ngx_http_llmgw_log_loc_conf_t *llcf, ngx_http_llmgw_log_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_log_build_v(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_time(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_id(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_request_str(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_client(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_path(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_status(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_decision(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_access_str(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_department(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_scopes(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_required(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_ceiling(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_pass_str(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_upstream_addr(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_upstream_status(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_stream(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_duration(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_upstream_ms(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_bytes_in(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_bytes_out(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_usage(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_usage_source(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_cost_micros(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_currency(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_body(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_admin(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_build_body_truncated(
    ngx_http_llmgw_log_ctx_t *ctx, ngx_http_llmgw_audit_field_t *f,
    size_t offset);
static ngx_int_t ngx_http_llmgw_log_cost(ngx_http_request_t *r,
    ngx_http_llmgw_pass_result_t *pres, ngx_http_llmgw_cost_t *cost);
static ngx_int_t ngx_http_llmgw_log_cost_micros_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llmgw_log_cost_currency_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llmgw_log_time(ngx_pool_t *pool, ngx_str_t *time);
static ngx_int_t ngx_http_llmgw_log_emit(ngx_http_llmgw_log_file_t *lf,
    ngx_pool_t *pool, ngx_http_llmgw_audit_field_t *fields, ngx_uint_t n,
    ngx_log_t *log);
static ngx_int_t ngx_http_llmgw_log_emit_syslog(
    ngx_http_llmgw_log_file_t *lf, ngx_pool_t *pool,
    ngx_http_llmgw_audit_field_t *fields, ngx_uint_t n, size_t len,
    ngx_log_t *log);
static void ngx_http_llmgw_log_chain_next(ngx_http_llmgw_log_chain_t *ch,
    u_char *line, size_t len, ngx_log_t *log);
static void ngx_http_llmgw_log_checkpoint(ngx_http_llmgw_log_file_t *lf,
    char *event, ngx_log_t *log);
static void ngx_http_llmgw_log_checkpoint_handler(ngx_event_t *ev);
static void ngx_http_llmgw_log_name(ngx_http_llmgw_audit_field_t *f,
    char *name);
static void ngx_http_llmgw_log_set_str(ngx_http_llmgw_audit_field_t *f,
    ngx_str_t *value);
static void ngx_http_llmgw_log_int(ngx_http_llmgw_audit_field_t *f,
    char *name, int64_t value);
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
static ngx_int_t ngx_http_llmgw_log_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_llmgw_log_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_llmgw_log_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_llmgw_log_init_process(ngx_cycle_t *cycle);
static void ngx_http_llmgw_log_exit_process(ngx_cycle_t *cycle);
static void ngx_http_llmgw_log_key_cleanup(void *data);
static void ngx_http_llmgw_log_hmac_cleanup(void *data);

static char *ngx_http_llmgw_log_audit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_log_audit_syslog(ngx_conf_t *cf,
    ngx_http_llmgw_log_loc_conf_t *llcf);
static char *ngx_http_llmgw_log_add_sink(ngx_conf_t *cf,
    ngx_http_llmgw_log_loc_conf_t *llcf, ngx_http_llmgw_log_file_t *lf);
static char *ngx_http_llmgw_log_department(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_log_field(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_uint_t ngx_http_llmgw_log_reserved_name(ngx_str_t *name);
static char *ngx_http_llmgw_log_chain(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_log_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_log_price(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_log_body(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_log_redact(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_log_price_param(ngx_conf_t *cf,
    ngx_http_llmgw_price_t *price, ngx_str_t *param);

static void ngx_http_llmgw_log_metrics_record(ngx_http_request_t *r,
    ngx_http_llmgw_access_result_t *ares, ngx_http_llmgw_pass_result_t *pres);
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

    { ngx_string("llmgw_audit_required"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_log_loc_conf_t, required),
      NULL },

    { ngx_string("llmgw_price"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_llmgw_log_price,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_audit_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_llmgw_log_body,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_audit_redact"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_log_redact,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_llmgw_log_module_ctx = {
    ngx_http_llmgw_log_add_variables,      /* preconfiguration */
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


static ngx_http_variable_t  ngx_http_llmgw_log_vars[] = {

    { ngx_string("llmgw_cost_micros"), NULL,
      ngx_http_llmgw_log_cost_micros_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_cost_currency"), NULL,
      ngx_http_llmgw_log_cost_currency_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* llmgw_audit_required's refusal; also the request ctx that marks it */

static ngx_http_llmgw_error_t  ngx_http_llmgw_log_unavailable = {
    NGX_HTTP_SERVICE_UNAVAILABLE,
    ngx_string("audit_unavailable"),
    ngx_string("the call cannot be recorded; try again later"),
    ngx_null_string,
    ngx_null_string,
    ngx_null_string,
    ngx_null_string,
    ngx_null_string
};


static ngx_str_t  ngx_http_llmgw_log_decisions[] = {
    ngx_string("none"),
    ngx_string("allow"),
    ngx_string("deny")
};


/* the fields of the schema, in the order of a line (README, v1) */

static ngx_http_llmgw_log_builder_t  ngx_http_llmgw_log_builders[] = {
    { "v", ngx_http_llmgw_log_build_v, 0 },
    { "time", ngx_http_llmgw_log_build_time, 0 },
    { "id", ngx_http_llmgw_log_build_id, 0 },
    { "client", ngx_http_llmgw_log_build_client, 0 },
    { "method", ngx_http_llmgw_log_build_request_str,
      offsetof(ngx_http_request_t, method_name) },
    { "path", ngx_http_llmgw_log_build_path, 0 },
    { "status", ngx_http_llmgw_log_build_status, 0 },
    { "decision", ngx_http_llmgw_log_build_decision, 0 },
    { "reason", ngx_http_llmgw_log_build_access_str,
      offsetof(ngx_http_llmgw_access_result_t, reason) },
    { "sub", ngx_http_llmgw_log_build_access_str,
      offsetof(ngx_http_llmgw_access_result_t, sub) },
    { "client_id", ngx_http_llmgw_log_build_access_str,
      offsetof(ngx_http_llmgw_access_result_t, client_id) },
    { "department", ngx_http_llmgw_log_build_department, 0 },
    { "scopes", ngx_http_llmgw_log_build_scopes, 0 },
    { "required", ngx_http_llmgw_log_build_required,
      offsetof(ngx_http_llmgw_access_result_t, failed) },
    { "client_status", ngx_http_llmgw_log_build_access_str,
      offsetof(ngx_http_llmgw_access_result_t, client_status) },
    { "ceiling", ngx_http_llmgw_log_build_ceiling,
      offsetof(ngx_http_llmgw_access_result_t, ceiling) },
    { "jti_sha256", ngx_http_llmgw_log_build_access_str,
      offsetof(ngx_http_llmgw_access_result_t, jti_hash) },
    { "token_binding", ngx_http_llmgw_log_build_access_str,
      offsetof(ngx_http_llmgw_access_result_t, binding) },
    { "provider", ngx_http_llmgw_log_build_pass_str,
      offsetof(ngx_http_llmgw_pass_result_t, provider) },
    { "api", ngx_http_llmgw_log_build_pass_str,
      offsetof(ngx_http_llmgw_pass_result_t, api) },
    { "model", ngx_http_llmgw_log_build_pass_str,
      offsetof(ngx_http_llmgw_pass_result_t, model) },
    { "upstream_addr", ngx_http_llmgw_log_build_upstream_addr, 0 },
    { "upstream_status", ngx_http_llmgw_log_build_upstream_status, 0 },
    { "outcome", ngx_http_llmgw_log_build_pass_str,
      offsetof(ngx_http_llmgw_pass_result_t, outcome_name) },
    { "stream", ngx_http_llmgw_log_build_stream, 0 },
    { "duration_ms", ngx_http_llmgw_log_build_duration, 0 },
    { "upstream_ms", ngx_http_llmgw_log_build_upstream_ms, 0 },
    { "bytes_in", ngx_http_llmgw_log_build_bytes_in, 0 },
    { "bytes_out", ngx_http_llmgw_log_build_bytes_out, 0 },
    { "gen_ai.usage.input_tokens", ngx_http_llmgw_log_build_usage,
      offsetof(ngx_http_llmgw_usage_result_t, input_tokens) },
    { "gen_ai.usage.output_tokens", ngx_http_llmgw_log_build_usage,
      offsetof(ngx_http_llmgw_usage_result_t, output_tokens) },
    { "gen_ai.usage.cache_read.input_tokens",
      ngx_http_llmgw_log_build_usage,
      offsetof(ngx_http_llmgw_usage_result_t, cache_read_input_tokens) },
    { "gen_ai.usage.reasoning.output_tokens",
      ngx_http_llmgw_log_build_usage,
      offsetof(ngx_http_llmgw_usage_result_t, reasoning_output_tokens) },
    { "usage_source", ngx_http_llmgw_log_build_usage_source, 0 },
    { "cost_micros", ngx_http_llmgw_log_build_cost_micros, 0 },
    { "currency", ngx_http_llmgw_log_build_currency, 0 },
    { "request_body", ngx_http_llmgw_log_build_body, 0 },
    { "request_body_truncated", ngx_http_llmgw_log_build_body_truncated, 0 },
    { "response_body", ngx_http_llmgw_log_build_body, 1 },
    { "response_body_truncated", ngx_http_llmgw_log_build_body_truncated,
      1 },
    { "admin", ngx_http_llmgw_log_build_admin, 0 },
    { NULL, NULL, 0 }
};


/*
 * Names of other lines and of the chain, which llmgw_audit_field may not
 * take either
 */

static char  *ngx_http_llmgw_log_reserved[] = {
    "type", "chain", "seq", "prev", "heads", NULL
};


static ngx_int_t
ngx_http_llmgw_log_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_uint_t                       i, n;
    ngx_http_llmgw_log_file_t      **lf;
    ngx_http_llmgw_pass_result_t     pres;
    ngx_http_llmgw_audit_field_t    *fields;
    ngx_http_llmgw_access_result_t   ares;
    ngx_http_llmgw_log_loc_conf_t   *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_log_module);

    /* what the access check and llmgw_pass did: read once for both uses */

    if (ngx_http_llmgw_access_result(r, &ares) != NGX_OK
        || ngx_http_llmgw_pass_result(r, &pres) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "llmgw: no memory for the request's results");
        rc = NGX_ERROR;

    } else if (!ares.enabled && !pres.enabled) {
        return NGX_OK;

    } else {
        ngx_http_llmgw_log_metrics_record(r, &ares, &pres);
        rc = NGX_OK;
    }

    if (llcf->files == NULL) {
        return rc;
    }

    if (rc == NGX_OK) {
        rc = ngx_http_llmgw_log_line(r, llcf, &ares, &pres, &fields, &n);
    }

    lf = llcf->files->elts;

    for (i = 0; i < llcf->files->nelts; i++) {
        if (rc == NGX_OK
            && ngx_http_llmgw_log_emit(lf[i], r->pool, fields, n,
                                       r->connection->log)
               == NGX_OK)
        {
            continue;
        }

        ngx_http_llmgw_log_count_failure(lf[i], 1);

        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "llmgw_audit: no memory for the audit line to \"%V\"",
                      &lf[i]->name);
    }

    return rc == NGX_OK ? NGX_OK : NGX_ERROR;
}


/*
 * llmgw_audit_required: while none of the location's sinks can accept a
 * line (the last write to each failed, none succeeded since), a request
 * of an llmgw location is refused with 503 before it reaches the
 * provider; its own audit line is still tried, which is how a sink that
 * works again is found.
 */

static ngx_int_t
ngx_http_llmgw_log_required_handler(ngx_http_request_t *r)
{
    ngx_uint_t                       i;
    ngx_http_llmgw_log_file_t      **lf;
    ngx_http_llmgw_pass_result_t     pres;
    ngx_http_llmgw_access_result_t   ares;
    ngx_http_llmgw_log_loc_conf_t   *llcf;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_log_module);

    if (!llcf->required || llcf->files == NULL) {
        return NGX_DECLINED;
    }

    lf = llcf->files->elts;

    for (i = 0; i < llcf->files->nelts; i++) {
        if (!lf[i]->failed) {
            return NGX_DECLINED;
        }
    }

    /* only where a line would be written: llmgw_auth or llmgw_pass on */

    if (ngx_http_llmgw_access_result(r, &ares) != NGX_OK
        || ngx_http_llmgw_pass_result(r, &pres) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ares.enabled && !pres.enabled) {
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "llmgw_audit_required: no audit sink accepts lines, "
                  "request refused");

    ngx_http_set_ctx(r, &ngx_http_llmgw_log_unavailable,
                     ngx_http_llmgw_log_module);

    if (ngx_http_llmgw_error_retry_after(r,
                                      NGX_HTTP_LLMGW_LOG_RETRY_AFTER)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


ngx_http_llmgw_error_t *
ngx_http_llmgw_audit_error(ngx_http_request_t *r)
{
    if (ngx_http_get_module_ctx(r, ngx_http_llmgw_log_module) == NULL
        || r->headers_out.status != NGX_HTTP_SERVICE_UNAVAILABLE)
    {
        return NULL;
    }

    return &ngx_http_llmgw_log_unavailable;
}


/*
 * The fields of r's audit line from the results ares and pres, the last
 * three left for the chain: NGX_OK or NGX_ERROR.  Each field of the
 * schema comes from its builder in ngx_http_llmgw_log_builders, in the
 * table's order.
 */

static ngx_int_t
ngx_http_llmgw_log_line(ngx_http_request_t *r,
    ngx_http_llmgw_log_loc_conf_t *llcf, ngx_http_llmgw_access_result_t *ares,
    ngx_http_llmgw_pass_result_t *pres,
    ngx_http_llmgw_audit_field_t **fieldsp, ngx_uint_t *np)
{
    ngx_uint_t                       i, n;
    ngx_http_llmgw_log_ctx_t         ctx;
    ngx_http_llmgw_log_field_t      *lfld;
    ngx_http_llmgw_log_builder_t    *b;
    ngx_http_llmgw_audit_field_t    *f, *fields;

    if (ngx_http_llmgw_log_ctx_init(r, ares, pres, llcf, &ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    n = NGX_HTTP_LLMGW_LOG_FIELDS + NGX_HTTP_LLMGW_LOG_CHAIN_FIELDS
        + (llcf->fields ? llcf->fields->nelts : 0);

    fields = ngx_pcalloc(r->pool, n * sizeof(ngx_http_llmgw_audit_field_t));
    if (fields == NULL) {
        return NGX_ERROR;
    }

    f = fields;

    for (b = ngx_http_llmgw_log_builders; b->name != NULL; b++, f++) {
        ngx_http_llmgw_log_name(f, b->name);

        if (b->build(&ctx, f, b->offset) != NGX_OK) {
            return NGX_ERROR;
        }
    }

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

    f += NGX_HTTP_LLMGW_LOG_CHAIN_FIELDS;

    *fieldsp = fields;
    *np = f - fields;

    return NGX_OK;
}


/*
 * What the builders read: the typed results of the access check and of
 * llmgw_pass, the time the line is made, the last upstream state and the
 * sum of the upstream response times.
 */

static ngx_int_t
ngx_http_llmgw_log_ctx_init(ngx_http_request_t *r,
    ngx_http_llmgw_access_result_t *ares, ngx_http_llmgw_pass_result_t *pres,
    ngx_http_llmgw_log_loc_conf_t *llcf, ngx_http_llmgw_log_ctx_t *ctx)
{
    ngx_uint_t                  i;
    ngx_http_upstream_state_t  *state;

    ngx_memzero(ctx, sizeof(ngx_http_llmgw_log_ctx_t));

    ctx->ares = *ares;
    ctx->pres = *pres;
    ctx->r = r;
    ctx->llcf = llcf;
    ctx->tp = ngx_timeofday();

    if (ngx_http_llmgw_log_cost(r, &ctx->pres, &ctx->cost) != NGX_OK) {
        return NGX_ERROR;
    }

    if (llcf->body) {
        ngx_http_llmgw_pass_capture(r, &ctx->bodies[0], &ctx->bodies[1]);
    }

    if (r->upstream_states == NULL || r->upstream_states->nelts == 0) {
        return NGX_OK;
    }

    state = r->upstream_states->elts;

    for (i = 0; i < r->upstream_states->nelts; i++) {
        if (state[i].response_time != (ngx_msec_t) -1) {
            ctx->upstream_ms += state[i].response_time;
        }
    }

    ctx->state = &state[r->upstream_states->nelts - 1];

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_log_build_v(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    f->type = NGX_HTTP_LLMGW_AUDIT_INT;
    f->num = 1;

    return NGX_OK;
}


/* the line's time, RFC 3339 UTC with milliseconds */

static ngx_int_t
ngx_http_llmgw_log_build_time(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    f->type = NGX_HTTP_LLMGW_AUDIT_STR;

    return ngx_http_llmgw_log_time(ctx->r->pool, &f->str);
}


/* $request_id */

static ngx_int_t
ngx_http_llmgw_log_build_id(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_http_variable_value_t       *vv;
    ngx_http_llmgw_log_main_conf_t  *lmcf;

    lmcf = ngx_http_get_module_main_conf(ctx->r, ngx_http_llmgw_log_module);

    vv = ngx_http_get_indexed_variable(ctx->r, lmcf->request_id);

    if (vv != NULL && !vv->not_found) {
        f->type = NGX_HTTP_LLMGW_AUDIT_STR;
        f->str.data = vv->data;
        f->str.len = vv->len;
    }

    return NGX_OK;
}


/* a string of the request at offset: the client's address, the method */

static ngx_int_t
ngx_http_llmgw_log_build_request_str(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_http_llmgw_log_set_str(f, (ngx_str_t *) ((u_char *) ctx->r + offset));

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_log_build_client(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_http_llmgw_log_set_str(f, &ctx->r->connection->addr_text);

    return NGX_OK;
}


/*
 * The path as the client sent it, the values of credential parameters in
 * the query replaced.
 */

static ngx_int_t
ngx_http_llmgw_log_build_path(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    u_char              *p, *q;
    size_t               len;
    ngx_str_t            path, query;
    ngx_http_request_t  *r;

    r = ctx->r;
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

    ngx_http_llmgw_log_set_str(f, &path);

    return NGX_OK;
}


/* as $status */

static ngx_int_t
ngx_http_llmgw_log_build_status(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_http_request_t  *r;

    r = ctx->r;

    f->type = NGX_HTTP_LLMGW_AUDIT_INT;

    if (r->err_status) {
        f->num = r->err_status;

    } else {
        f->num = r->headers_out.status;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_log_build_decision(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_http_llmgw_log_set_str(f,
                         &ngx_http_llmgw_log_decisions[ctx->ares.decision]);

    return NGX_OK;
}


/* a string of the access check's result at offset */

static ngx_int_t
ngx_http_llmgw_log_build_access_str(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_http_llmgw_log_set_str(f,
                               (ngx_str_t *) ((u_char *) &ctx->ares + offset));

    return NGX_OK;
}


/* the configured claim (llmgw_audit_department_claim), else the user
   directory's department */

static ngx_int_t
ngx_http_llmgw_log_build_department(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_int_t  rc;
    ngx_str_t  dept;

    rc = ngx_http_llmgw_access_department(ctx->r, ctx->llcf->department,
                                          &dept);

    if (rc == NGX_OK) {
        ngx_http_llmgw_log_set_str(f, &dept);
    }

    return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


/* the scopes granted, null when the scope check was not reached */

static ngx_int_t
ngx_http_llmgw_log_build_scopes(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    if (ctx->ares.granted != NULL) {
        f->type = NGX_HTTP_LLMGW_AUDIT_STRS;
        f->strs = ctx->ares.granted->elts;
        f->nstrs = ctx->ares.granted->nelts;
    }

    return NGX_OK;
}


/*
 * The names of scopes of the access check's result at offset (the
 * required scopes that failed), always an array
 */

static ngx_int_t
ngx_http_llmgw_log_build_required(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_uint_t                i;
    ngx_array_t              *a;
    ngx_http_llmgw_scope_t  **s;

    f->type = NGX_HTTP_LLMGW_AUDIT_STRS;

    a = *(ngx_array_t **) ((u_char *) &ctx->ares + offset);

    if (a == NULL) {
        return NGX_OK;
    }

    f->strs = ngx_palloc(ctx->r->pool, (a->nelts + 1) * sizeof(ngx_str_t));
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


/* the client's ceiling that applied (llmgw_clients), or null */

static ngx_int_t
ngx_http_llmgw_log_build_ceiling(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    if (ctx->ares.ceiling == NULL) {
        return NGX_OK;
    }

    return ngx_http_llmgw_log_build_required(ctx, f, offset);
}


/* a string of llmgw_pass's result at offset */

static ngx_int_t
ngx_http_llmgw_log_build_pass_str(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_http_llmgw_log_set_str(f,
                               (ngx_str_t *) ((u_char *) &ctx->pres + offset));

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_log_build_upstream_addr(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    if (ctx->state != NULL && ctx->state->peer != NULL) {
        f->type = NGX_HTTP_LLMGW_AUDIT_STR;
        f->str = *ctx->state->peer;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_log_build_upstream_status(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    if (ctx->state != NULL && ctx->state->status) {
        f->type = NGX_HTTP_LLMGW_AUDIT_INT;
        f->num = ctx->state->status;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_log_build_stream(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    f->type = NGX_HTTP_LLMGW_AUDIT_BOOL;
    f->num = ctx->pres.stream;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_log_build_duration(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_msec_int_t  ms;

    ms = (ngx_msec_int_t) ((ctx->tp->sec - ctx->r->start_sec) * 1000
                           + (ctx->tp->msec - ctx->r->start_msec));

    f->type = NGX_HTTP_LLMGW_AUDIT_INT;
    f->num = ngx_max(ms, 0);

    return NGX_OK;
}


/* the upstream response times summed, null when nothing was tried */

static ngx_int_t
ngx_http_llmgw_log_build_upstream_ms(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    if (ctx->state != NULL) {
        f->type = NGX_HTTP_LLMGW_AUDIT_INT;
        f->num = ctx->upstream_ms;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_log_build_bytes_in(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    f->type = NGX_HTTP_LLMGW_AUDIT_INT;
    f->num = ctx->r->request_length;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_log_build_bytes_out(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    f->type = NGX_HTTP_LLMGW_AUDIT_INT;
    f->num = ctx->r->connection->sent;

    return NGX_OK;
}


/* a usage count at offset, left out unless the provider reported it */

static ngx_int_t
ngx_http_llmgw_log_build_usage(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_http_llmgw_usage_count_t  *count;

    count = (ngx_http_llmgw_usage_count_t *)
                ((u_char *) &ctx->pres.usage + offset);

    if (count->present) {
        f->type = NGX_HTTP_LLMGW_AUDIT_INT;
        f->num = count->value;

    } else {
        f->type = NGX_HTTP_LLMGW_AUDIT_SKIP;
    }

    return NGX_OK;
}


/* "provider" when the provider reported any count, else "missing" */

static ngx_int_t
ngx_http_llmgw_log_build_usage_source(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_http_llmgw_usage_result_t  *u;

    u = &ctx->pres.usage;

    f->type = NGX_HTTP_LLMGW_AUDIT_STR;

    if (u->input_tokens.present
        || u->output_tokens.present
        || u->cache_read_input_tokens.present
        || u->reasoning_output_tokens.present
        || u->total_tokens.present)
    {
        ngx_str_set(&f->str, "provider");

    } else {
        ngx_str_set(&f->str, "missing");
    }

    return NGX_OK;
}


/* integer micro-units, null when the cost is unknown */

static ngx_int_t
ngx_http_llmgw_log_build_cost_micros(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    if (ctx->cost.currency.len) {
        f->type = NGX_HTTP_LLMGW_AUDIT_INT;
        f->num = ctx->cost.micros;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_log_build_currency(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_http_llmgw_log_set_str(f, &ctx->cost.currency);

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_audit_sinks(ngx_http_request_t *r, ngx_array_t *out)
{
    ngx_uint_t                      i;
    ngx_http_llmgw_log_file_t     **lf;
    ngx_http_llmgw_audit_sink_t    *s;
    ngx_http_llmgw_log_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_log_module);

    if (llcf->files == NULL) {
        return NGX_OK;
    }

    lf = llcf->files->elts;

    for (i = 0; i < llcf->files->nelts; i++) {
        s = ngx_array_push(out);
        if (s == NULL) {
            return NGX_ERROR;
        }

        s->name = lf[i]->name;
        s->lost = lf[i]->failures;
        s->failing = (lf[i]->failed != 0);
    }

    return NGX_OK;
}


/* an llmgw_admin call: its "admin" object; left out elsewhere */

static ngx_int_t
ngx_http_llmgw_log_build_admin(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_int_t  rc;

    rc = ngx_http_llmgw_admin_audit(ctx->r, &f->str);

    if (rc == NGX_DECLINED) {
        f->type = NGX_HTTP_LLMGW_AUDIT_SKIP;
        return NGX_OK;
    }

    f->type = NGX_HTTP_LLMGW_AUDIT_RAW;

    return rc;
}


/*
 * llmgw_audit_body: the body of the side at offset (0 request, 1
 * response), redacted; left out when that side is not captured, null
 * when nothing of it was (no body, not JSON, the call not made)
 */

static ngx_int_t
ngx_http_llmgw_log_build_body(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_http_llmgw_capture_t      *cap;
    ngx_http_llmgw_redact_conf_t   conf;

    if (!(ctx->llcf->body & (offset ? NGX_HTTP_LLMGW_LOG_BODY_RESPONSE
                                    : NGX_HTTP_LLMGW_LOG_BODY_REQUEST)))
    {
        f->type = NGX_HTTP_LLMGW_AUDIT_SKIP;
        return NGX_OK;
    }

    cap = &ctx->bodies[offset];

    if (!cap->captured) {
        return NGX_OK;
    }

    f->type = NGX_HTTP_LLMGW_AUDIT_STR;

    if (ctx->llcf->redact == NULL || cap->body.len == 0) {
        f->str = cap->body;
        return NGX_OK;
    }

    conf.names = ctx->llcf->redact->elts;
    conf.nnames = ctx->llcf->redact->nelts;
    conf.sse = cap->stream;

    f->str.len = ngx_http_llmgw_redact(&conf, cap->body.data, cap->body.len,
                                       NULL);

    f->str.data = ngx_pnalloc(ctx->r->pool, f->str.len);
    if (f->str.data == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_http_llmgw_redact(&conf, cap->body.data, cap->body.len,
                                 f->str.data);

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_log_build_body_truncated(ngx_http_llmgw_log_ctx_t *ctx,
    ngx_http_llmgw_audit_field_t *f, size_t offset)
{
    ngx_http_llmgw_capture_t  *cap;

    if (!(ctx->llcf->body & (offset ? NGX_HTTP_LLMGW_LOG_BODY_RESPONSE
                                    : NGX_HTTP_LLMGW_LOG_BODY_REQUEST)))
    {
        f->type = NGX_HTTP_LLMGW_AUDIT_SKIP;
        return NGX_OK;
    }

    cap = &ctx->bodies[offset];

    if (cap->captured) {
        f->type = NGX_HTTP_LLMGW_AUDIT_BOOL;
        f->num = cap->truncated;
    }

    return NGX_OK;
}


size_t
ngx_http_llmgw_audit_capture_max(ngx_http_request_t *r, ngx_uint_t response)
{
    ngx_http_llmgw_log_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_log_module);

    if (llcf->files == NULL
        || !(llcf->body & (response ? NGX_HTTP_LLMGW_LOG_BODY_RESPONSE
                                    : NGX_HTTP_LLMGW_LOG_BODY_REQUEST)))
    {
        return 0;
    }

    return llcf->body_max;
}


ngx_int_t
ngx_http_llmgw_cost(ngx_http_request_t *r, ngx_http_llmgw_cost_t *cost)
{
    ngx_http_llmgw_pass_result_t  pres;

    if (ngx_http_llmgw_pass_result(r, &pres) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_llmgw_log_cost(r, &pres, cost);
}


ngx_int_t
ngx_http_llmgw_cost_of(ngx_http_request_t *r,
    ngx_http_llmgw_usage_result_t *usage, ngx_http_llmgw_cost_t *cost)
{
    ngx_http_llmgw_pass_result_t  pres;

    if (ngx_http_llmgw_pass_result(r, &pres) != NGX_OK) {
        return NGX_ERROR;
    }

    pres.usage = *usage;

    return ngx_http_llmgw_log_cost(r, &pres, cost);
}


/*
 * The cost of pres's usage at the price of its model in r's location; a
 * cost too large for int64_t is unknown, and said once a request.
 */

static ngx_int_t
ngx_http_llmgw_log_cost(ngx_http_request_t *r,
    ngx_http_llmgw_pass_result_t *pres, ngx_http_llmgw_cost_t *cost)
{
    int64_t                         micros;
    ngx_int_t                       rc;
    ngx_http_llmgw_price_t         *price;
    ngx_http_llmgw_log_loc_conf_t  *llcf;

    ngx_memzero(cost, sizeof(ngx_http_llmgw_cost_t));

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_log_module);

    if (llcf->prices == NULL || pres->model.len == 0) {
        return NGX_OK;
    }

    price = ngx_http_llmgw_price_find(llcf->prices->elts,
                                      llcf->prices->nelts, &pres->model);
    if (price == NULL) {
        return NGX_OK;
    }

    rc = ngx_http_llmgw_price_cost(price,
                                   ngx_http_llmgw_price_flags(&pres->provider),
                                   &pres->usage, &micros);

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "llmgw_price: the cost of a call to \"%V\" is too "
                      "large to record", &pres->model);
        return NGX_OK;
    }

    if (rc == NGX_OK) {
        cost->micros = micros;
        cost->currency = price->currency;
    }

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

    if (lf->syslog != NULL) {
        return ngx_http_llmgw_log_emit_syslog(lf, pool, fields, n, len, log);
    }

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


/* the line of len bytes after the syslog header, sent without newline */

static ngx_int_t
ngx_http_llmgw_log_emit_syslog(ngx_http_llmgw_log_file_t *lf,
    ngx_pool_t *pool, ngx_http_llmgw_audit_field_t *fields, ngx_uint_t n,
    size_t len, ngx_log_t *log)
{
    u_char  *buf, *p;

    buf = ngx_pnalloc(pool, NGX_HTTP_LLMGW_LOG_SYSLOG_HEADER(lf->syslog)
                            + len);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    p = ngx_syslog_add_header(lf->syslog, buf);
    p = ngx_http_llmgw_audit_write(p, fields, n);

    ngx_http_llmgw_log_send(lf, buf, p - 1 - buf, log);

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

    if (ngx_http_llmgw_audit_mac(ch->hmac, line, len, ch->mac) != NGX_OK) {
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
 * exited workers are freed once announced.  event says why: "start",
 * "interval", or "close" (a reopen or the worker's exit: the chain's last
 * line in that file, which lets the verifier's --closed see a cut end).
 */

static void
ngx_http_llmgw_log_checkpoint(ngx_http_llmgw_log_file_t *lf, char *event,
    ngx_log_t *log)
{
    u_char                        *p, mac[NGX_HTTP_LLMGW_LOG_MAC_HEX];
    size_t                         len;
    ngx_str_t                      time, heads;
    ngx_uint_t                     i, n;
    ngx_pool_t                    *pool;
    ngx_http_llmgw_log_sh_t       *sh;
    ngx_http_llmgw_log_head_t     *copy, *head;
    ngx_http_llmgw_log_chain_t    *ch;
    ngx_http_llmgw_audit_field_t   fields[5 + NGX_HTTP_LLMGW_LOG_CHAIN_FIELDS];

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

    ngx_http_llmgw_log_name(&fields[2], "time");
    ngx_http_llmgw_log_set_str(&fields[2], &time);

    ngx_http_llmgw_log_name(&fields[3], "event");
    fields[3].type = NGX_HTTP_LLMGW_AUDIT_STR;
    fields[3].str.data = (u_char *) event;
    fields[3].str.len = ngx_strlen(event);

    ngx_http_llmgw_log_name(&fields[4], "heads");
    fields[4].type = NGX_HTTP_LLMGW_AUDIT_RAW;
    fields[4].str = heads;

    if (ngx_http_llmgw_log_emit(lf, pool, fields,
                                sizeof(fields) / sizeof(fields[0]), log)
        != NGX_OK)
    {
        goto failed;
    }

    ngx_destroy_pool(pool);

    return;

failed:

    ngx_http_llmgw_log_count_failure(lf, 1);

    ngx_log_error(NGX_LOG_ALERT, log, 0,
                  "llmgw_audit_chain: no memory for a checkpoint of \"%V\"",
                  &lf->name);

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
            ngx_http_llmgw_log_checkpoint(lf[i], "interval", ev->log);
        }
    }

    if (!ngx_exiting) {
        ngx_add_timer(ev, lmcf->checkpoint);
    }
}


/* a field's name; its value null until set */

static void
ngx_http_llmgw_log_name(ngx_http_llmgw_audit_field_t *f, char *name)
{
    f->name.data = (u_char *) name;
    f->name.len = ngx_strlen(name);
}


/* a string value, null when empty */

static void
ngx_http_llmgw_log_set_str(ngx_http_llmgw_audit_field_t *f, ngx_str_t *value)
{
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
            lf->buffered++;

            /*
             * the timer keeps the cycle's log it was made with: a
             * request's log goes with its connection, before the timer
             */

            if (lf->flush && lf->pos > lf->start && !lf->event->timer_set) {
                ngx_add_timer(lf->event, lf->flush);
            }

            return;
        }

        /* a line longer than the buffer goes out alone */
    }

    ngx_http_llmgw_log_write_fd(lf, line, len, 1, log);
}


/*
 * One write() of whole lines; a failure marks the sink failed until a
 * write succeeds again, and its lines are counted lost.
 */

static void
ngx_http_llmgw_log_write_fd(ngx_http_llmgw_log_file_t *lf, u_char *data,
    size_t len, ngx_uint_t lines, ngx_log_t *log)
{
    ssize_t    n;
    ngx_err_t  err;

    n = ngx_write_fd(lf->file->fd, data, len);

    if (n == (ssize_t) len) {
        lf->failed = 0;
        return;
    }

    err = (n == -1) ? ngx_errno : 0;

    lf->failed = 1;

    ngx_http_llmgw_log_count_failure(lf, lines);
    ngx_http_llmgw_log_report(lf, ngx_write_fd_n, err, n, len, log);
}


/*
 * A line to a syslog sink, one datagram: the syslog header and the line
 * without its newline, as the log module sends access_log lines.
 */

static void
ngx_http_llmgw_log_send(ngx_http_llmgw_log_file_t *lf, u_char *buf,
    size_t len, ngx_log_t *log)
{
    ssize_t  n;

    n = ngx_syslog_send(lf->syslog, buf, len);

    if (n == (ssize_t) len) {
        lf->failed = 0;
        return;
    }

    lf->failed = 1;

    ngx_http_llmgw_log_count_failure(lf, 1);
    ngx_http_llmgw_log_report(lf, "send()", 0, n, len, log);
}


/*
 * Every audit line lost, whatever the cause, is counted here and only
 * here: per sink for the error log's report, and in the metrics (all
 * workers, llmgw_audit_write_failures_total).
 */

static void
ngx_http_llmgw_log_count_failure(ngx_http_llmgw_log_file_t *lf,
    ngx_uint_t lines)
{
    lf->failures += lines;
    lf->unreported += lines;

    ngx_http_llmgw_metrics_audit_failure(lines);
}


/*
 * A failed write (what: "write()", "send()") in the error log, at most
 * once a second per sink, with the lines lost since the last report and
 * in all.
 */

static void
ngx_http_llmgw_log_report(ngx_http_llmgw_log_file_t *lf, const char *what,
    ngx_err_t err, ssize_t n, size_t len, ngx_log_t *log)
{
    time_t  now;

    now = ngx_time();

    if (now == lf->error_time) {
        return;
    }

    if (n < 0) {
        ngx_log_error(NGX_LOG_ALERT, log, err,
                      "llmgw_audit: %s to \"%V\" failed, audit lines lost: "
                      "%ui since the last report, %ui in all",
                      what, &lf->name, lf->unreported, lf->failures);

    } else {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "llmgw_audit: %s to \"%V\" was incomplete: %z of %uz, "
                      "audit lines lost: %ui since the last report, "
                      "%ui in all",
                      what, &lf->name, n, len, lf->unreported,
                      lf->failures);
    }

    lf->unreported = 0;
    lf->error_time = now;
}


/* the buffer out: by the timer, when full, at a reopen and at exit */

static void
ngx_http_llmgw_log_flush(ngx_open_file_t *file, ngx_log_t *log)
{
    ngx_http_llmgw_log_file_t  *lf;

    lf = file->data;

    if (lf->pos > lf->start) {
        ngx_http_llmgw_log_write_fd(lf, lf->start, lf->pos - lf->start,
                                    lf->buffered, log);
    }

    lf->pos = lf->start;
    lf->buffered = 0;

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
        ngx_http_llmgw_log_checkpoint(lf, "close", log);
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
    llcf->prices = NGX_CONF_UNSET_PTR;
    llcf->required = NGX_CONF_UNSET;
    llcf->body = NGX_CONF_UNSET_UINT;
    llcf->body_max = NGX_CONF_UNSET_SIZE;
    llcf->redact = NGX_CONF_UNSET_PTR;

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
    ngx_conf_merge_ptr_value(conf->prices, prev->prices, NULL);
    ngx_conf_merge_value(conf->required, prev->required, 0);
    ngx_conf_merge_uint_value(conf->body, prev->body, 0);
    ngx_conf_merge_size_value(conf->body_max, prev->body_max,
                              NGX_HTTP_LLMGW_LOG_BODY_MAX);
    ngx_conf_merge_ptr_value(conf->redact, prev->redact, NULL);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llmgw_log_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_llmgw_log_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_log_cost_micros_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                 *p;
    ngx_http_llmgw_cost_t   cost;

    if (ngx_http_llmgw_cost(r, &cost) != NGX_OK) {
        return NGX_ERROR;
    }

    if (cost.currency.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_llmgw_variable_set(v, p,
                                       ngx_sprintf(p, "%L", cost.micros) - p);
}


static ngx_int_t
ngx_http_llmgw_log_cost_currency_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_llmgw_cost_t  cost;

    if (ngx_http_llmgw_cost(r, &cost) != NGX_OK) {
        return NGX_ERROR;
    }

    if (cost.currency.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llmgw_variable_set(v, cost.currency.data,
                                       cost.currency.len);
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

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_llmgw_log_required_handler;

    return NGX_OK;
}


/* llmgw_audit path [buffer=size [flush=time]] | syslog:... | off; */

static char *
ngx_http_llmgw_log_audit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_log_loc_conf_t *llcf = conf;

    size_t                       size;
    ngx_int_t                    rc;
    ngx_str_t                   *value;
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

    if (ngx_strncmp(value[1].data, "syslog:", 7) == 0) {
        return ngx_http_llmgw_log_audit_syslog(cf, llcf);
    }

    size = 0;
    flush = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        rc = ngx_http_llmgw_param_size(cf, &value[i], "buffer=", 1,
                                       NGX_MAX_SIZE_T_VALUE, &size);
        if (rc == NGX_DECLINED) {
            rc = ngx_http_llmgw_param_msec(cf, &value[i], "flush=", 1,
                                           &flush);
        }

        if (rc == NGX_OK) {
            continue;
        }

        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
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
        lf->name = file->name;

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

    return ngx_http_llmgw_log_add_sink(cf, llcf, lf);
}


/*
 * llmgw_audit syslog:server=ADDRESS[,facility=...][,severity=...]
 * [,tag=...][,nohostname]; nginx's own syslog targets
 */

static char *
ngx_http_llmgw_log_audit_syslog(ngx_conf_t *cf,
    ngx_http_llmgw_log_loc_conf_t *llcf)
{
    ngx_str_t                  *value;
    ngx_http_llmgw_log_file_t  *lf;

    value = cf->args->elts;

    if (cf->args->nelts != 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "audit lines to syslog cannot be buffered");
        return NGX_CONF_ERROR;
    }

    lf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_log_file_t));
    if (lf == NULL) {
        return NGX_CONF_ERROR;
    }

    lf->syslog = ngx_pcalloc(cf->pool, sizeof(ngx_syslog_peer_t));
    if (lf->syslog == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_syslog_process_conf(cf, lf->syslog) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    lf->name = value[1];

    return ngx_http_llmgw_log_add_sink(cf, llcf, lf);
}


/* a sink of the location, each at most once */

static char *
ngx_http_llmgw_log_add_sink(ngx_conf_t *cf,
    ngx_http_llmgw_log_loc_conf_t *llcf, ngx_http_llmgw_log_file_t *lf)
{
    ngx_uint_t                   i;
    ngx_http_llmgw_log_file_t  **slot;

    if (llcf->files == NGX_CONF_UNSET_PTR) {
        llcf->files = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_llmgw_log_file_t *));
        if (llcf->files == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    slot = llcf->files->elts;

    for (i = 0; i < llcf->files->nelts; i++) {
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

/* llmgw_audit_body off | request | response | both [max=SIZE]; */

static char *
ngx_http_llmgw_log_body(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_log_loc_conf_t *llcf = conf;

    ngx_int_t   rc;
    ngx_str_t  *value;

    if (llcf->body != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        llcf->body = 0;

    } else if (ngx_strcmp(value[1].data, "request") == 0) {
        llcf->body = NGX_HTTP_LLMGW_LOG_BODY_REQUEST;

    } else if (ngx_strcmp(value[1].data, "response") == 0) {
        llcf->body = NGX_HTTP_LLMGW_LOG_BODY_RESPONSE;

    } else if (ngx_strcmp(value[1].data, "both") == 0) {
        llcf->body = NGX_HTTP_LLMGW_LOG_BODY_REQUEST
                     |NGX_HTTP_LLMGW_LOG_BODY_RESPONSE;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", it must be \"off\", "
                           "\"request\", \"response\" or \"both\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    rc = NGX_DECLINED;

    if (llcf->body) {
        rc = ngx_http_llmgw_param_size(cf, &value[2], "max=", 1,
                                       NGX_HTTP_LLMGW_LOG_BODY_LIMIT,
                                       &llcf->body_max);
    }

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[2]);
    }

    return rc == NGX_OK ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* llmgw_audit_redact NAME ... | off; */

static char *
ngx_http_llmgw_log_redact(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_log_loc_conf_t *llcf = conf;

    ngx_uint_t   i;
    ngx_str_t   *value, *name;

    if (llcf->redact != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        llcf->redact = NULL;
        return NGX_CONF_OK;
    }

    llcf->redact = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                    sizeof(ngx_str_t));
    if (llcf->redact == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0
            || value[i].len > NGX_HTTP_LLMGW_REDACT_MAX_NAME)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid member name \"%V\", it must be 1 "
                               "to %d bytes", &value[i],
                               NGX_HTTP_LLMGW_REDACT_MAX_NAME);
            return NGX_CONF_ERROR;
        }

        name = ngx_array_push(llcf->redact);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    return NGX_CONF_OK;
}


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


/* whether name is the schema's: a field of a line, of the chain */

static ngx_uint_t
ngx_http_llmgw_log_reserved_name(ngx_str_t *name)
{
    ngx_uint_t                     i;
    ngx_http_llmgw_log_builder_t  *b;

    for (b = ngx_http_llmgw_log_builders; b->name != NULL; b++) {
        if (ngx_strlen(b->name) == name->len
            && ngx_strncmp(b->name, name->data, name->len) == 0)
        {
            return 1;
        }
    }

    for (i = 0; ngx_http_llmgw_log_reserved[i] != NULL; i++) {
        if (ngx_strlen(ngx_http_llmgw_log_reserved[i]) == name->len
            && ngx_strncmp(ngx_http_llmgw_log_reserved[i], name->data,
                           name->len)
               == 0)
        {
            return 1;
        }
    }

    return 0;
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

    if (ngx_http_llmgw_log_reserved_name(&value[1])) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "audit field \"%V\" is a field of the schema",
                           &value[1]);
        return NGX_CONF_ERROR;
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
    ngx_int_t            rc;
    ngx_str_t           *value, spec;
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

        rc = ngx_http_llmgw_param_msec(cf, &value[i], "checkpoint=", 1,
                                       &checkpoint);
        if (rc == NGX_OK) {
            continue;
        }

        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
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


/* a worker's prepared chain key, freed (and wiped) with the cycle */

static void
ngx_http_llmgw_log_hmac_cleanup(void *data)
{
    ngx_http_llmgw_audit_hmac_free(data);
}


/*
 * llmgw_price MODEL input=P output=P [cache_read=P] [cache_write=P]
 *     [currency=CODE];
 *
 * MODEL is a name, or a prefix ending in '*' ("*" alone: any model).
 */

static char *
ngx_http_llmgw_log_price(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_log_loc_conf_t *llcf = conf;

    char                    *rv;
    ngx_str_t               *value, model;
    ngx_uint_t               i, prefix;
    ngx_http_llmgw_price_t  *price;

    value = cf->args->elts;
    model = value[1];
    prefix = 0;

    if (model.len && model.data[model.len - 1] == '*') {
        model.len--;
        prefix = 1;
    }

    if (model.len == 0 && !prefix) {
        return "needs a model";
    }

    if (ngx_strlchr(model.data, model.data + model.len, '*') != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid model \"%V\": '*' only at its end",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (llcf->prices == NGX_CONF_UNSET_PTR) {
        llcf->prices = ngx_array_create(cf->pool, 4,
                                        sizeof(ngx_http_llmgw_price_t));
        if (llcf->prices == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    price = llcf->prices->elts;

    for (i = 0; i < llcf->prices->nelts; i++) {
        if (price[i].prefix == prefix
            && price[i].model.len == model.len
            && ngx_memcmp(price[i].model.data, model.data, model.len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "llmgw_price \"%V\" is duplicate",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    price = ngx_array_push(llcf->prices);
    if (price == NULL) {
        return NGX_CONF_ERROR;
    }

    price->model = model;
    price->prefix = prefix;
    price->input = NGX_HTTP_LLMGW_PRICE_UNSET;
    price->output = NGX_HTTP_LLMGW_PRICE_UNSET;
    price->cache_read = NGX_HTTP_LLMGW_PRICE_UNSET;
    price->cache_write = NGX_HTTP_LLMGW_PRICE_UNSET;
    ngx_str_null(&price->currency);

    for (i = 2; i < cf->args->nelts; i++) {
        rv = ngx_http_llmgw_log_price_param(cf, price, &value[i]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (price->input == NGX_HTTP_LLMGW_PRICE_UNSET
        || price->output == NGX_HTTP_LLMGW_PRICE_UNSET)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw_price \"%V\" needs input= and output=",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (price->currency.len == 0) {
        ngx_str_set(&price->currency, "USD");
    }

    return NGX_CONF_OK;
}


/* one NAME=VALUE of llmgw_price, each at most once */

static char *
ngx_http_llmgw_log_price_param(ngx_conf_t *cf, ngx_http_llmgw_price_t *price,
    ngx_str_t *param)
{
    u_char     *eq;
    int64_t    *slot;
    ngx_str_t   name, value;

    eq = ngx_strlchr(param->data, param->data + param->len, '=');

    if (eq == NULL) {
        goto invalid;
    }

    name.data = param->data;
    name.len = eq - param->data;
    value.data = eq + 1;
    value.len = param->data + param->len - value.data;

    if (name.len == sizeof("currency") - 1
        && ngx_strncmp(name.data, "currency", name.len) == 0)
    {
        if (price->currency.len) {
            goto duplicate;
        }

        if (ngx_http_llmgw_price_currency(&value) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid currency \"%V\": an ISO 4217 code "
                               "is three uppercase letters", &value);
            return NGX_CONF_ERROR;
        }

        price->currency = value;
        return NGX_CONF_OK;
    }

    if (name.len == sizeof("input") - 1
        && ngx_strncmp(name.data, "input", name.len) == 0)
    {
        slot = &price->input;

    } else if (name.len == sizeof("output") - 1
               && ngx_strncmp(name.data, "output", name.len) == 0)
    {
        slot = &price->output;

    } else if (name.len == sizeof("cache_read") - 1
               && ngx_strncmp(name.data, "cache_read", name.len) == 0)
    {
        slot = &price->cache_read;

    } else if (name.len == sizeof("cache_write") - 1
               && ngx_strncmp(name.data, "cache_write", name.len) == 0)
    {
        slot = &price->cache_write;

    } else {
        goto invalid;
    }

    if (*slot != NGX_HTTP_LLMGW_PRICE_UNSET) {
        goto duplicate;
    }

    if (ngx_http_llmgw_price_decimal(value.data, value.len, slot) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid price \"%V\": a decimal per million "
                           "tokens, at most 6 digits after the point, "
                           "at most 1000000", param);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", param);
    return NGX_CONF_ERROR;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "parameter \"%V\" is duplicate", param);
    return NGX_CONF_ERROR;
}


/* llmgw_audit_zone name:size; */

static char *
ngx_http_llmgw_log_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_log_main_conf_t *lmcf = conf;

    ngx_str_t                  *value;
    ngx_http_llmgw_log_zone_t  *ctx;

    if (lmcf->zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_log_zone_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    lmcf->zone = ngx_http_llmgw_zone_add(cf, &value[1],
                                         &ngx_http_llmgw_log_module,
                                         ngx_http_llmgw_log_init_zone, ctx);

    return lmcf->zone ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/*
 * The heads' zone: an array of slots filling half of it (the slab's
 * pages and headers take the rest), kept as it is on reload.  Nothing
 * else is ever allocated in it: the slab's own messages stay on.
 */

static ngx_int_t
ngx_http_llmgw_log_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    size_t                      len;
    ngx_uint_t                  n, made;
    ngx_http_llmgw_log_zone_t  *ctx;

    ctx = shm_zone->data;

    n = shm_zone->shm.size / 2 / sizeof(ngx_http_llmgw_log_head_t);

    len = sizeof(ngx_http_llmgw_log_sh_t)
          + (n - 1) * sizeof(ngx_http_llmgw_log_head_t);

    ctx->sh = ngx_http_llmgw_zone_init_sh(shm_zone, data, len,
                                          "llmgw_audit_zone", 1, &made);
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (made) {
        ctx->sh->nheads = n;
    }

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
    ngx_pool_cleanup_t              *cln;
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

        ch->hmac = ngx_http_llmgw_audit_hmac_create(&lmcf->key);
        if (ch->hmac == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "llmgw_audit_chain: HMAC-SHA256 could not be "
                          "set up");
            return NGX_ERROR;
        }

        cln = ngx_pool_cleanup_add(cycle->pool, 0);
        if (cln == NULL) {
            ngx_http_llmgw_audit_hmac_free(ch->hmac);
            return NGX_ERROR;
        }

        cln->handler = ngx_http_llmgw_log_hmac_cleanup;
        cln->data = ch->hmac;
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

        ngx_http_llmgw_log_checkpoint(lf[i], "start", cycle->log);
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
ngx_http_llmgw_log_metrics_record(ngx_http_request_t *r,
    ngx_http_llmgw_access_result_t *ares, ngx_http_llmgw_pass_result_t *pres)
{
    u_char                          *p, digits[NGX_INT_T_LEN];
    ngx_str_t                        labels[4], dept;
    ngx_int_t                        rc;
    ngx_uint_t                       i, status;
    ngx_msec_t                       ms, ttfb;
    ngx_http_llmgw_metrics_t        *m;
    ngx_http_upstream_state_t       *state;
    ngx_http_llmgw_usage_count_t    *counts[4];
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

    /* the status as $status, by class */

    status = r->err_status ? r->err_status : r->headers_out.status;

    labels[0] = pres->provider;
    labels[1] = classes[(status >= 100 && status < 600) ? status / 100 : 0];
    labels[2] = ngx_http_llmgw_log_decisions[ares->decision];

    (void) ngx_http_llmgw_metrics_add(m, NGX_HTTP_LLMGW_METRICS_REQUESTS,
                                      labels, 3, 1);

    if (ares->decision == NGX_HTTP_LLMGW_DECISION_DENIED) {
        p = ngx_sprintf(digits, "%ui", ares->status);

        labels[0].data = digits;
        labels[0].len = p - digits;
        labels[1] = ares->reason;

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
                                          &pres->provider, 1, ms);

        state = &state[r->upstream_states->nelts - 1];

        if (state->header_time != (ngx_msec_t) -1) {
            ttfb = ms - (state->response_time != (ngx_msec_t) -1
                         ? state->response_time : 0)
                   + state->header_time;

            (void) ngx_http_llmgw_metrics_add(m,
                                          NGX_HTTP_LLMGW_METRICS_FIRST_BYTE,
                                          &pres->provider, 1, ttfb);
        }
    }

    /* tokens, only what the provider reported */

    if (!pres->usage.input_tokens.present
        && !pres->usage.output_tokens.present
        && !pres->usage.cache_read_input_tokens.present
        && !pres->usage.reasoning_output_tokens.present)
    {
        return;
    }

    ngx_str_null(&dept);

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_log_module);

    rc = ngx_http_llmgw_access_department(r, llcf->department, &dept);

    if (rc != NGX_OK) {
        ngx_str_null(&dept);
    }

    labels[0] = pres->provider;
    ngx_http_llmgw_metrics_model(m, &pres->model, &labels[1]);
    ngx_http_llmgw_metrics_department(m, &dept, &labels[3]);

    counts[0] = &pres->usage.input_tokens;
    counts[1] = &pres->usage.output_tokens;
    counts[2] = &pres->usage.cache_read_input_tokens;
    counts[3] = &pres->usage.reasoning_output_tokens;

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


ngx_http_llmgw_metrics_t *
ngx_http_llmgw_log_metrics_zone_conf(ngx_conf_t *cf)
{
    ngx_http_llmgw_log_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llmgw_log_module);

    if (lmcf->metrics == NULL || lmcf->metrics->zone == NULL) {
        return NULL;
    }

    return lmcf->metrics;
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
