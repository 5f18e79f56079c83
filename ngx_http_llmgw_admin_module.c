
/*
 * Copyright (C) llmgw authors
 *
 * The admin API (llmgw_admin): the user directory, revocations, usage by
 * department, registered clients' ceilings and the gateway's health,
 * JSON in and out, on a location that llmgw's own access check
 * protects.  Every call needs the admin scope granted by the token itself
 * (no scope tree grants it), and every call, allowed or refused, gets an
 * "admin" object in its audit line.
 * Changes go through one function, ngx_http_llmgw_state_publish(): on
 * this node now, durable in the journal or the Redis stream.  A change
 * made from an entry read is conditional on that entry (its expect): when
 * another call changed it in between, the handler runs again (see run).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw.h"
#include "ngx_http_llmgw_account.h"
#include "ngx_http_llmgw_clients.h"
#include "ngx_http_llmgw_jwks.h"
#include "ngx_http_llmgw_jws.h"
#include "ngx_http_llmgw_metrics.h"
#include "ngx_http_llmgw_redis.h"
#include "ngx_http_llmgw_state.h"
#include "ngx_http_llmgw_users.h"


/* a JSON body of a call other than the CSV upload, at most */
#define NGX_HTTP_LLMGW_ADMIN_MAX_JSON   16384

/* a jti given to /tokens/revoke, at most */
#define NGX_HTTP_LLMGW_ADMIN_MAX_JTI    1024

/* path segments after the location's prefix, at most */
#define NGX_HTTP_LLMGW_ADMIN_SEGMENTS   4

/* users of an uploaded CSV, at most (as llmgw_users) */
#define NGX_HTTP_LLMGW_ADMIN_MAX_USERS  10000000

#define NGX_HTTP_LLMGW_ADMIN_DAY        86400

/*
 * A change whose entry another call changed between the read and the
 * write is made again from a new read, this many times at most, then
 * answered 409.  A read and its write are a few microseconds apart in one
 * worker, so a second try almost always succeeds.
 */
#define NGX_HTTP_LLMGW_ADMIN_TRIES      5

/* GET /revocations: revocations a page, by default and at most */
#define NGX_HTTP_LLMGW_ADMIN_PAGE       1000
#define NGX_HTTP_LLMGW_ADMIN_MAX_PAGE   10000


typedef struct {
    ngx_shm_zone_t            *zone;        /* llmgw_state_zone, or NULL */
    time_t                     utc_offset;  /* llmgw_users' */
    ngx_str_t                  csv_file;    /* llmgw_admin_csv; or empty */
    ngx_http_llmgw_metrics_t  *metrics;     /* NULL: no metrics zone */
    ngx_array_t               *jwks;        /* ngx_http_llmgw_jwks_t *,
                                               or NULL */
    ngx_array_t               *clients;     /* ngx_http_llmgw_client_t
                                               of the llmgw_clients file,
                                               or NULL: none */
    ngx_http_llmgw_scope_tree_t  *tree;
} ngx_http_llmgw_admin_main_conf_t;


typedef struct {
    ngx_flag_t                 enable;      /* llmgw_admin */
} ngx_http_llmgw_admin_loc_conf_t;


typedef struct ngx_http_llmgw_admin_ctx_s  ngx_http_llmgw_admin_ctx_t;

typedef ngx_int_t (*ngx_http_llmgw_admin_handler_pt)(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);


/* an endpoint: method, path ("*" a segment that is the target id) */

typedef struct {
    ngx_uint_t                       method;
    char                            *path;
    char                            *name;     /* the audit's "action" */
    ngx_http_llmgw_admin_handler_pt  handler;
    size_t                           body;     /* 0: none read; 1: the
                                                  CSV (memory-bound) */
} ngx_http_llmgw_admin_action_t;


struct ngx_http_llmgw_admin_ctx_s {
    ngx_http_llmgw_admin_action_t   *action;   /* NULL: no such endpoint */
    ngx_str_t                        target;   /* the id in the path, a
                                                  revoked jti's hash ... */
    ngx_str_t                        in;       /* the request body */
    ngx_uint_t                       status;
    ngx_str_t                        type;     /* of the response body */
    ngx_str_t                        out;      /* the response body */
    ngx_str_t                        before;   /* JSON; empty: null */
    ngx_str_t                        after;
    unsigned                         allowed:1;
    unsigned                         routed:1;
};


static ngx_int_t ngx_http_llmgw_admin_handler(ngx_http_request_t *r);
static void ngx_http_llmgw_admin_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llmgw_admin_run(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static void ngx_http_llmgw_admin_done(void *data, ngx_int_t rc);
static ngx_int_t ngx_http_llmgw_admin_route(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_uint_t ngx_http_llmgw_admin_match(char *pattern, ngx_str_t *seg,
    ngx_uint_t n, ngx_str_t *id);
static ngx_int_t ngx_http_llmgw_admin_authorized(ngx_http_request_t *r);
static ngx_int_t ngx_http_llmgw_admin_send(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_fail(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_uint_t status, char *code,
    char *message);
static ngx_int_t ngx_http_llmgw_admin_json(ngx_pool_t *pool, json_t *j,
    ngx_str_t *out);
static ngx_int_t ngx_http_llmgw_admin_answer(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, json_t *j);
static json_t *ngx_http_llmgw_admin_user_json(
    ngx_http_llmgw_account_change_t *ch);
static json_t *ngx_http_llmgw_admin_time_json(time_t t);

static ngx_int_t ngx_http_llmgw_admin_before(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_uint_t kind, ngx_str_t *id,
    ngx_http_llmgw_account_change_t *ch);
static ngx_int_t ngx_http_llmgw_admin_change(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_http_llmgw_account_change_t *ch,
    json_t *j);
static ngx_int_t ngx_http_llmgw_admin_expect(ngx_http_request_t *r,
    ngx_http_llmgw_account_change_t *ch, ngx_http_llmgw_account_change_t *old);
static ngx_int_t ngx_http_llmgw_admin_publish(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, json_t *j,
    ngx_http_llmgw_account_change_t *changes, ngx_uint_t n);
static ngx_int_t ngx_http_llmgw_admin_commit_rc(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_int_t rc);

static ngx_int_t ngx_http_llmgw_admin_user_get(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_user_disable(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_user_enable(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_user_set(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_uint_t active);
static ngx_int_t ngx_http_llmgw_admin_user_before(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_http_llmgw_account_change_t **chp);
static ngx_int_t ngx_http_llmgw_admin_user_delete(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_revoke(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_unrevoke(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_revocation(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_uint_t remove);
static ngx_int_t ngx_http_llmgw_admin_revoke_parse(ngx_http_request_t *r,
    json_t *o, ngx_uint_t remove, ngx_http_llmgw_account_change_t *ch,
    const char **err);
static json_t *ngx_http_llmgw_admin_key_json(
    ngx_http_llmgw_account_change_t *ch);
static ngx_int_t ngx_http_llmgw_admin_revocations(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_cursor(ngx_pool_t *pool,
    ngx_http_llmgw_account_change_t *pos, json_t **cursor);
static ngx_int_t ngx_http_llmgw_admin_cursor_parse(ngx_pool_t *pool,
    ngx_str_t *text, ngx_http_llmgw_account_change_t *pos);
static json_t *ngx_http_llmgw_admin_entry_json(
    ngx_http_llmgw_account_change_t *ch);
static ngx_int_t ngx_http_llmgw_admin_csv_upload(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_csv_errors(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_http_llmgw_users_t *users);
static ngx_int_t ngx_http_llmgw_admin_csv_diff(ngx_http_request_t *r,
    ngx_array_t *old, ngx_array_t *users, ngx_array_t *changes,
    json_t *summary);
static int ngx_libc_cdecl ngx_http_llmgw_admin_cmp_change(const void *one,
    const void *two);
static int ngx_libc_cdecl ngx_http_llmgw_admin_cmp_user(const void *one,
    const void *two);
static ngx_int_t ngx_http_llmgw_admin_save(ngx_http_request_t *r,
    ngx_str_t *file, ngx_str_t *text, ngx_uint_t access);
static ngx_int_t ngx_http_llmgw_admin_csv_save(ngx_http_request_t *r,
    ngx_str_t *csv);
static ngx_int_t ngx_http_llmgw_admin_csv_download(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_sync_status(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_health(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_department(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_departments(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_usage(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_str_t *department, json_t *out);
static ngx_int_t ngx_http_llmgw_admin_label(ngx_pool_t *pool,
    ngx_str_t *labels, char *name, ngx_str_t *value);
static ngx_int_t ngx_http_llmgw_admin_count(json_t *o, ngx_str_t *type,
    uint64_t n);
static ngx_int_t ngx_http_llmgw_admin_id_valid(ngx_str_t *id);

static json_t *ngx_http_llmgw_admin_names_json(ngx_array_t *names);
static json_t *ngx_http_llmgw_admin_client_json(ngx_http_llmgw_client_t *c);
static json_t *ngx_http_llmgw_admin_record_json(ngx_pool_t *pool,
    ngx_http_llmgw_account_change_t *ch);
static ngx_int_t ngx_http_llmgw_admin_clients_conf(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx,
    ngx_http_llmgw_admin_main_conf_t **amcf);
static ngx_int_t ngx_http_llmgw_admin_clients_list(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_http_llmgw_account_change_t *ngx_http_llmgw_admin_record_find(
    ngx_array_t *records, ngx_str_t *id);
static ngx_int_t ngx_http_llmgw_admin_client_current(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_http_llmgw_admin_main_conf_t *amcf,
    json_t **j, ngx_http_llmgw_account_change_t *rec,
    ngx_http_llmgw_client_t **file);
static ngx_int_t ngx_http_llmgw_admin_client_before(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, json_t **j,
    ngx_http_llmgw_account_change_t *rec, ngx_http_llmgw_client_t **file);
static ngx_int_t ngx_http_llmgw_admin_client_get(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_client_put(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_client_line(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_str_t *line);
static ngx_uint_t ngx_http_llmgw_admin_client_word(u_char *s, size_t len);
static ngx_int_t ngx_http_llmgw_admin_client_bad(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, char *message);
static ngx_int_t ngx_http_llmgw_admin_client_invalid(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_http_llmgw_clients_error_t *e);
static ngx_int_t ngx_http_llmgw_admin_client_approve(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_client_delete(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_admin_client_change(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_http_llmgw_account_change_t *ch,
    json_t *before);

static void *ngx_http_llmgw_admin_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_llmgw_admin_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_llmgw_admin_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_llmgw_admin_init(ngx_conf_t *cf);
static char *ngx_http_llmgw_admin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_admin_csv(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_llmgw_admin_commands[] = {

    { ngx_string("llmgw_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_llmgw_admin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_admin_csv"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_admin_csv,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_llmgw_admin_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_llmgw_admin_init,             /* postconfiguration */

    ngx_http_llmgw_admin_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_llmgw_admin_create_loc_conf,  /* create location configuration */
    ngx_http_llmgw_admin_merge_loc_conf    /* merge location configuration */
};


ngx_module_t  ngx_http_llmgw_admin_module = {
    NGX_MODULE_V1,
    &ngx_http_llmgw_admin_module_ctx,      /* module context */
    ngx_http_llmgw_admin_commands,         /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* what a change expects of an entry that was not there: kind 0 */
static ngx_http_llmgw_account_change_t  ngx_http_llmgw_admin_absent;


/* the scope a token must grant itself; no tree's scope satisfies it */
static ngx_str_t  ngx_http_llmgw_admin_scope = ngx_string("llmgw.admin");


static ngx_http_llmgw_admin_action_t  ngx_http_llmgw_admin_actions[] = {
    { NGX_HTTP_POST, "users/csv/upload", "users.csv.upload",
      ngx_http_llmgw_admin_csv_upload, 1 },
    { NGX_HTTP_GET, "users/csv/download", "users.csv.download",
      ngx_http_llmgw_admin_csv_download, 0 },
    { NGX_HTTP_GET, "users/sync/status", "users.sync.status",
      ngx_http_llmgw_admin_sync_status, 0 },
    { NGX_HTTP_PUT, "users/*/disable", "user.disable",
      ngx_http_llmgw_admin_user_disable, 0 },
    { NGX_HTTP_PUT, "users/*/enable", "user.enable",
      ngx_http_llmgw_admin_user_enable, 0 },
    { NGX_HTTP_DELETE, "users/*", "user.delete",
      ngx_http_llmgw_admin_user_delete, 0 },
    { NGX_HTTP_GET, "users/*", "user.get",
      ngx_http_llmgw_admin_user_get, 0 },
    { NGX_HTTP_POST, "tokens/revoke", "tokens.revoke",
      ngx_http_llmgw_admin_revoke, NGX_HTTP_LLMGW_ADMIN_MAX_JSON },
    { NGX_HTTP_POST, "tokens/unrevoke", "tokens.unrevoke",
      ngx_http_llmgw_admin_unrevoke, NGX_HTTP_LLMGW_ADMIN_MAX_JSON },
    { NGX_HTTP_GET, "revocations", "revocations.list",
      ngx_http_llmgw_admin_revocations, 0 },
    { NGX_HTTP_GET, "departments/usage/summary", "departments.usage",
      ngx_http_llmgw_admin_departments, 0 },
    { NGX_HTTP_GET, "departments/*/usage", "department.usage",
      ngx_http_llmgw_admin_department, 0 },
    { NGX_HTTP_GET, "system/health", "system.health",
      ngx_http_llmgw_admin_health, 0 },
    { NGX_HTTP_GET, "clients", "clients.list",
      ngx_http_llmgw_admin_clients_list, 0 },
    { NGX_HTTP_GET, "clients/*", "client.get",
      ngx_http_llmgw_admin_client_get, 0 },
    { NGX_HTTP_PUT, "clients/*", "client.set",
      ngx_http_llmgw_admin_client_put, NGX_HTTP_LLMGW_ADMIN_MAX_JSON },
    { NGX_HTTP_POST, "clients/*/approve", "client.approve",
      ngx_http_llmgw_admin_client_approve, 0 },
    { NGX_HTTP_DELETE, "clients/*", "client.delete",
      ngx_http_llmgw_admin_client_delete, 0 },
    { 0, NULL, NULL, NULL, 0 }
};


static ngx_int_t
ngx_http_llmgw_admin_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_llmgw_admin_ctx_t  *ctx;

    if (r != r->main) {
        return NGX_HTTP_NOT_FOUND;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_llmgw_admin_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_llmgw_admin_module);

    /* the endpoint first, for the audit; without the scope, 403 anyway */

    rc = ngx_http_llmgw_admin_route(r, ctx);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (ngx_http_llmgw_admin_authorized(r)) {

    case NGX_OK:
        ctx->allowed = 1;
        break;

    case NGX_DECLINED:
        if (ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_FORBIDDEN,
                                      "insufficient_scope",
                                      "the admin API needs a token "
                                      "that grants llmgw.admin itself")
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = NGX_DECLINED;
        break;

    default: /* NGX_ERROR */
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK || ctx->action->body == 0) {

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_OK) {
            rc = ngx_http_llmgw_admin_run(r, ctx);

            if (rc == NGX_AGAIN) {
                r->main->count++;
                return NGX_DONE;
            }
        }

        return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                 : ngx_http_llmgw_admin_send(r, ctx);
    }

    /* the body in one buffer in memory: see body_handler */

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                        ngx_http_llmgw_admin_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * The body must be in memory: a body larger than client_body_buffer_size
 * went to a temporary file, and reading that would block the worker, so
 * it is refused (413) with what to raise.
 */

static void
ngx_http_llmgw_admin_body_handler(ngx_http_request_t *r)
{
    size_t                       len;
    u_char                      *p;
    ngx_int_t                    rc;
    ngx_chain_t                 *cl;
    ngx_http_llmgw_admin_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_admin_module);

    len = 0;

    if (r->request_body != NULL) {

        if (r->request_body->temp_file != NULL) {
            rc = ngx_http_llmgw_admin_fail(r, ctx,
                                     NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     "payload_too_large",
                                     "the body must fit in "
                                     "client_body_buffer_size");
            goto send;
        }

        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            len += ngx_buf_size(cl->buf);
        }
    }

    if (ctx->action->body > 1 && len > ctx->action->body) {
        rc = ngx_http_llmgw_admin_fail(r, ctx,
                                       NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                       "payload_too_large",
                                       "the body is larger than 16384 "
                                       "bytes");
        goto send;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->in.data = p;
    ctx->in.len = len;

    if (r->request_body != NULL) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }

    *p = '\0';

    rc = ngx_http_llmgw_admin_run(r, ctx);

    if (rc == NGX_AGAIN) {
        r->main->count++;
        ngx_http_finalize_request(r, NGX_DONE);
        return;
    }

send:

    ngx_http_finalize_request(r, (rc == NGX_ERROR)
                                 ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                 : ngx_http_llmgw_admin_send(r, ctx));
}


/* the endpoint's handler: NGX_OK (ctx has the answer), NGX_AGAIN, error */

static ngx_int_t
ngx_http_llmgw_admin_run(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    ngx_int_t                          rc;
    ngx_uint_t                         n;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    if (amcf->zone == NULL
        && ctx->action->handler != ngx_http_llmgw_admin_health
        && ctx->action->handler != ngx_http_llmgw_admin_department
        && ctx->action->handler != ngx_http_llmgw_admin_departments)
    {
        return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_NOT_FOUND,
                                         "not_found",
                                         "no llmgw_state_zone");
    }

    /*
     * NGX_BUSY: an entry the handler read changed before its write, and
     * nothing was written; the handler reads it again, from scratch
     */

    for (n = 1; /* void */; n++) {
        rc = ctx->action->handler(r, ctx);

        if (rc != NGX_BUSY || n == NGX_HTTP_LLMGW_ADMIN_TRIES) {
            break;
        }

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llmgw admin %s: the entry changed between its read "
                      "and its write, read again", ctx->action->name);

        ngx_str_null(&ctx->before);
        ngx_str_null(&ctx->after);
        ngx_str_null(&ctx->out);
    }

    if (rc != NGX_BUSY) {
        return rc;
    }

    ngx_str_null(&ctx->before);
    ngx_str_null(&ctx->after);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "llmgw admin %s given up: the entry changed %ui times "
                  "between its read and its write", ctx->action->name, n);

    return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_CONFLICT, "conflict",
                                     "the entry was changed by other calls "
                                     "while this one was made; try again");
}


/* the change is durable (or failed): the answer prepared goes out */

static void
ngx_http_llmgw_admin_done(void *data, ngx_int_t rc)
{
    ngx_http_request_t *r = data;

    ngx_connection_t            *c;
    ngx_http_llmgw_admin_ctx_t  *ctx;

    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_admin_module);

    if (rc != NGX_OK) {
        ctx->after.len = 0;
        (void) ngx_http_llmgw_admin_fail(r, ctx,
                                         NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         "internal_error",
                                         "the change could not be made "
                                         "durable");
    }

    ngx_http_set_log_request(c->log, r);

    ngx_http_finalize_request(r, ngx_http_llmgw_admin_send(r, ctx));

    ngx_http_run_posted_requests(c);
}


/*
 * The endpoint of r's path after the location's prefix.  NGX_OK;
 * NGX_DECLINED: ctx has a 404 or 405 answer; NGX_ERROR.
 */

static ngx_int_t
ngx_http_llmgw_admin_route(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    u_char                         *p, *last, *s;
    ngx_str_t                       seg[NGX_HTTP_LLMGW_ADMIN_SEGMENTS], id;
    ngx_uint_t                      n, path_found;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_llmgw_admin_action_t  *a;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p = r->uri.data;
    last = r->uri.data + r->uri.len;

    if (!clcf->exact_match
#if (NGX_PCRE)
        && clcf->regex == NULL
#endif
        && r->uri.len >= clcf->name.len)
    {
        p += clcf->name.len;
    }

    /* segments, no empty one */

    n = 0;

    while (p < last) {
        if (*p == '/') {
            p++;
            continue;
        }

        if (n == NGX_HTTP_LLMGW_ADMIN_SEGMENTS) {
            n++;
            break;
        }

        s = p;
        while (p < last && *p != '/') {
            p++;
        }

        seg[n].data = s;
        seg[n].len = p - s;
        n++;
    }

    path_found = 0;
    ngx_str_null(&id);

    for (a = ngx_http_llmgw_admin_actions;
         a->path && n <= NGX_HTTP_LLMGW_ADMIN_SEGMENTS;
         a++)
    {

        if (!ngx_http_llmgw_admin_match(a->path, seg, n, &id)) {
            continue;
        }

        if (r->method != a->method) {
            path_found = 1;
            continue;
        }

        ctx->action = a;
        ctx->target = id;
        ctx->routed = 1;

        if (ngx_strncmp(a->path, "users/*", 7) == 0
            && !ngx_http_llmgw_admin_id_valid(&id))
        {
            return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_BAD_REQUEST,
                                             "invalid_request",
                                             "not a valid user_id")
                   == NGX_OK ? NGX_DECLINED : NGX_ERROR;
        }

        return NGX_OK;
    }

    if (path_found) {
        return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_NOT_ALLOWED,
                                         "method_not_allowed",
                                         "method not allowed here")
               == NGX_OK ? NGX_DECLINED : NGX_ERROR;
    }

    return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_NOT_FOUND, "not_found",
                                     "no such admin endpoint")
           == NGX_OK ? NGX_DECLINED : NGX_ERROR;
}


/* whether the n segments are the pattern's; "*" matches one, into id */

static ngx_uint_t
ngx_http_llmgw_admin_match(char *pattern, ngx_str_t *seg, ngx_uint_t n,
    ngx_str_t *id)
{
    size_t       len;
    char        *s, *e;
    ngx_uint_t   i;

    s = pattern;

    for (i = 0; i < n; i++) {
        if (s == NULL) {
            return 0;
        }

        e = ngx_strchr(s, '/');
        len = e ? (size_t) (e - s) : ngx_strlen(s);

        if (len == 1 && *s == '*') {
            *id = seg[i];

        } else if (len != seg[i].len
                   || ngx_strncmp(s, seg[i].data, len) != 0)
        {
            return 0;
        }

        s = e ? e + 1 : NULL;
    }

    return s == NULL;
}


/*
 * NGX_OK when llmgw's access check allowed r with a token that grants
 * the admin scope itself (the tree's ancestors, "all", do not count);
 * NGX_DECLINED otherwise.
 */

static ngx_int_t
ngx_http_llmgw_admin_authorized(ngx_http_request_t *r)
{
    ngx_str_t                       *g;
    ngx_uint_t                       i;
    ngx_http_llmgw_access_result_t   ares;

    if (ngx_http_llmgw_access_result(r, &ares) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!ares.enabled || ares.decision != NGX_HTTP_LLMGW_DECISION_ALLOWED
        || ares.granted == NULL)
    {
        if (!ares.enabled) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "llmgw_admin refused: the location has no "
                          "\"llmgw_auth jwt\"");
        }

        return NGX_DECLINED;
    }

    g = ares.granted->elts;

    for (i = 0; i < ares.granted->nelts; i++) {
        if (g[i].len == ngx_http_llmgw_admin_scope.len
            && ngx_strncmp(g[i].data, ngx_http_llmgw_admin_scope.data,
                           g[i].len)
               == 0)
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_llmgw_admin_send(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = ctx->status;
    r->headers_out.content_type = ctx->type;
    r->headers_out.content_type_len = ctx->type.len;
    r->headers_out.content_length_n = ctx->out.len;

    if (ctx->out.len == 0) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->out.data;
    b->last = ctx->out.data + ctx->out.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* a JSON error through the error concern: NGX_OK, or NGX_ERROR */

static ngx_int_t
ngx_http_llmgw_admin_fail(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_uint_t status, char *code,
    char *message)
{
    ngx_http_llmgw_error_t  err;

    ngx_memzero(&err, sizeof(ngx_http_llmgw_error_t));

    err.status = status;
    err.code.data = (u_char *) code;
    err.code.len = ngx_strlen(code);
    err.message.data = (u_char *) message;
    err.message.len = ngx_strlen(message);

    if (status == NGX_HTTP_FORBIDDEN) {
        err.error = err.code;
        err.scope = ngx_http_llmgw_admin_scope;

        if (ngx_http_llmgw_challenge(r, &err) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_llmgw_error_body(r->pool, &err, &ctx->out) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->status = status;
    ngx_str_set(&ctx->type, "application/json");

    return NGX_OK;
}


/* j's compact text in pool, j released; NGX_OK or NGX_ERROR */

static ngx_int_t
ngx_http_llmgw_admin_json(ngx_pool_t *pool, json_t *j, ngx_str_t *out)
{
    char    *s;
    size_t   len;

    if (j == NULL) {
        return NGX_ERROR;
    }

    s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

    json_decref(j);

    if (s == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(s);

    out->data = ngx_pnalloc(pool, len + 1);
    if (out->data == NULL) {
        free(s);
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, s, len);
    out->data[len] = '\n';
    out->len = len + 1;

    free(s);

    return NGX_OK;
}


/* a 200 with j (released) as its body */

static ngx_int_t
ngx_http_llmgw_admin_answer(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, json_t *j)
{
    if (ngx_http_llmgw_admin_json(r->pool, j, &ctx->out) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->status = NGX_HTTP_OK;
    ngx_str_set(&ctx->type, "application/json");

    return NGX_OK;
}


static json_t *
ngx_http_llmgw_admin_user_json(ngx_http_llmgw_account_change_t *ch)
{
    return json_pack("{s:s%,s:b,s:s%,s:I,s:o}",
                     "user_id", ch->id.data, ch->id.len,
                     "active", (int) ch->active,
                     "department", ch->department.data
                                   ? (char *) ch->department.data : "",
                     ch->department.len,
                     "start", (json_int_t) ch->time,
                     "end", ngx_http_llmgw_admin_time_json(ch->end));
}


static json_t *
ngx_http_llmgw_admin_time_json(time_t t)
{
    if (t == NGX_HTTP_LLMGW_ACCOUNT_NO_END) {
        return json_null();
    }

    return json_integer((json_int_t) t);
}


/*
 * The entry of kind and id as it is before a change, copied into ch and
 * recorded as the audit's before: NGX_OK; NGX_DECLINED: there is none
 * (before stays null); NGX_ERROR.
 */

static ngx_int_t
ngx_http_llmgw_admin_before(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_uint_t kind, ngx_str_t *id,
    ngx_http_llmgw_account_change_t *ch)
{
    ngx_int_t                          rc;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    rc = ngx_http_llmgw_account_lookup(amcf->zone, kind, id, ngx_time(),
                                       r->pool, ch);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_llmgw_admin_json(r->pool,
                                     ngx_http_llmgw_admin_entry_json(ch),
                                     &ctx->before);
}


/*
 * One change: the audit's after is what it makes (null for a removal),
 * j (released) the answer; then published as publish() does.
 */

static ngx_int_t
ngx_http_llmgw_admin_change(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_http_llmgw_account_change_t *ch,
    json_t *j)
{
    if (!ch->remove
        && ngx_http_llmgw_admin_json(r->pool,
                                     ngx_http_llmgw_admin_entry_json(ch),
                                     &ctx->after)
           != NGX_OK)
    {
        json_decref(j);
        return NGX_ERROR;
    }

    return ngx_http_llmgw_admin_publish(r, ctx, j, ch, 1);
}


/*
 * ch made conditional on its entry being still old (a copy is kept in
 * r's pool), or absent when old is NULL or of kind 0: NGX_OK, NGX_ERROR
 */

static ngx_int_t
ngx_http_llmgw_admin_expect(ngx_http_request_t *r,
    ngx_http_llmgw_account_change_t *ch, ngx_http_llmgw_account_change_t *old)
{
    if (old == NULL || old->kind == 0) {
        ch->expect = &ngx_http_llmgw_admin_absent;
        return NGX_OK;
    }

    ch->expect = ngx_palloc(r->pool, sizeof(ngx_http_llmgw_account_change_t));
    if (ch->expect == NULL) {
        return NGX_ERROR;
    }

    *ch->expect = *old;

    return NGX_OK;
}


/*
 * The end every change shares: j (released) prepared as the answer,
 * then the changes applied and made durable (the audit's after set
 * before).  NGX_OK answered now, NGX_AGAIN by done, else failed.
 */

static ngx_int_t
ngx_http_llmgw_admin_publish(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, json_t *j,
    ngx_http_llmgw_account_change_t *changes, ngx_uint_t n)
{
    ngx_int_t                          rc;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    if (ngx_http_llmgw_admin_answer(r, ctx, j) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_state_publish(r, amcf->zone, changes, n,
                                      ngx_http_llmgw_admin_done, r);

    return ngx_http_llmgw_admin_commit_rc(r, ctx, rc);
}


/* after commit: NGX_OK answered now, NGX_AGAIN by done, else failed */

static ngx_int_t
ngx_http_llmgw_admin_commit_rc(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_int_t rc)
{
    if (rc == NGX_OK || rc == NGX_AGAIN || rc == NGX_BUSY) {
        return rc;
    }

    ctx->after.len = 0;

    if (rc == NGX_DECLINED) {
        return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_BAD_REQUEST,
                                         "invalid_request",
                                         "the change is not valid "
                                         "(id or department)");
    }

    return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "internal_error",
                                     "the change could not be made "
                                     "(zone full or state file not "
                                     "written, see the error log)");
}


static ngx_int_t
ngx_http_llmgw_admin_user_get(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    json_t                            *j;
    ngx_int_t                          rc;
    ngx_http_llmgw_account_change_t    ch, nbf;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    rc = ngx_http_llmgw_account_lookup(amcf->zone,
                                       NGX_HTTP_LLMGW_ACCOUNT_USER,
                                       &ctx->target, ngx_time(), r->pool,
                                       &ch);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_NOT_FOUND,
                                         "not_found", "no such user");
    }

    j = ngx_http_llmgw_admin_user_json(&ch);
    if (j == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_account_lookup(amcf->zone,
                                       NGX_HTTP_LLMGW_ACCOUNT_SUBJECT,
                                       &ctx->target, ngx_time(), r->pool,
                                       &nbf);
    if (rc == NGX_ERROR) {
        json_decref(j);
        return NGX_ERROR;
    }

    json_object_set_new(j, "not_before", (rc == NGX_OK)
                                         ? json_integer(nbf.time)
                                         : json_null());

    return ngx_http_llmgw_admin_answer(r, ctx, j);
}


static ngx_int_t
ngx_http_llmgw_admin_user_disable(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    return ngx_http_llmgw_admin_user_set(r, ctx, 0);
}


static ngx_int_t
ngx_http_llmgw_admin_user_enable(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    return ngx_http_llmgw_admin_user_set(r, ctx, 1);
}


/*
 * The account ctx->target names, as a change in r's pool, recorded as
 * the audit's before: NGX_DECLINED with *chp set to go on, else what the
 * handler answers (404 no such user, NGX_ERROR).
 */

static ngx_int_t
ngx_http_llmgw_admin_user_before(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_http_llmgw_account_change_t **chp)
{
    ngx_int_t                         rc;
    ngx_http_llmgw_account_change_t  *ch;

    ch = ngx_palloc(r->pool, sizeof(ngx_http_llmgw_account_change_t));
    if (ch == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_admin_before(r, ctx, NGX_HTTP_LLMGW_ACCOUNT_USER,
                                     &ctx->target, ch);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_NOT_FOUND,
                                         "not_found", "no such user");
    }

    if (ngx_http_llmgw_admin_expect(r, ch, ch) != NGX_OK) {
        return NGX_ERROR;
    }

    *chp = ch;

    return NGX_DECLINED;
}


/* the account's active flag set, the rest of it kept */

static ngx_int_t
ngx_http_llmgw_admin_user_set(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_uint_t active)
{
    ngx_int_t                         rc;
    ngx_http_llmgw_account_change_t  *ch;

    rc = ngx_http_llmgw_admin_user_before(r, ctx, &ch);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    ch->active = active;

    return ngx_http_llmgw_admin_change(r, ctx, ch,
                                       ngx_http_llmgw_admin_user_json(ch));
}


static ngx_int_t
ngx_http_llmgw_admin_user_delete(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    ngx_int_t                         rc;
    ngx_http_llmgw_account_change_t  *ch;

    rc = ngx_http_llmgw_admin_user_before(r, ctx, &ch);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    ch->remove = 1;

    return ngx_http_llmgw_admin_change(r, ctx, ch,
                                       json_pack("{s:s%,s:b}",
                                                 "user_id", ch->id.data,
                                                 ch->id.len, "deleted", 1));
}


/*
 * POST /tokens/revoke: exactly one of {"jti":..,"exp":..} (one token
 * until its exp), {"sub":..} (every token of the user issued until now),
 * {"client_id":..} (a client).
 */

static ngx_int_t
ngx_http_llmgw_admin_revoke(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    return ngx_http_llmgw_admin_revocation(r, ctx, 0);
}


/*
 * POST /tokens/unrevoke: one of {"jti":..}, {"sub":..}, {"client_id":..}:
 * the revocation lifted (a client let back in, a not-before time
 * removed).  Lifting what is not revoked is no error: the removal is
 * published all the same, so that a node that missed an earlier one
 * gets it.
 */

static ngx_int_t
ngx_http_llmgw_admin_unrevoke(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    return ngx_http_llmgw_admin_revocation(r, ctx, 1);
}


static ngx_int_t
ngx_http_llmgw_admin_revocation(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_uint_t remove)
{
    json_t                           *o, *j;
    ngx_int_t                         rc;
    const char                       *err;
    json_error_t                      jerr;
    ngx_http_llmgw_account_change_t  *ch, old;

    ch = ngx_pcalloc(r->pool, sizeof(ngx_http_llmgw_account_change_t));
    if (ch == NULL) {
        return NGX_ERROR;
    }

    o = json_loadb((const char *) ctx->in.data, ctx->in.len,
                   JSON_REJECT_DUPLICATES, &jerr);

    rc = ngx_http_llmgw_admin_revoke_parse(r, o, remove, ch, &err);

    json_decref(o);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_BAD_REQUEST,
                                         "invalid_request", (char *) err);
    }

    ctx->target = ch->id;

    /* a blind write, conditional all the same: the audit's before is true */

    rc = ngx_http_llmgw_admin_before(r, ctx, ch->kind, &ch->id, &old);

    if (rc == NGX_ERROR
        || ngx_http_llmgw_admin_expect(r, ch, (rc == NGX_OK) ? &old : NULL)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a removal's answer names what is no longer revoked */

    j = remove ? json_pack("{s:o}", "unrevoked",
                           ngx_http_llmgw_admin_key_json(ch))
               : json_pack("{s:o}", "revoked",
                           ngx_http_llmgw_admin_entry_json(ch));

    return ngx_http_llmgw_admin_change(r, ctx, ch, j);
}


/*
 * NGX_OK: ch is the revocation (remove: its removal, a jti without exp);
 * NGX_DECLINED: *err says why not
 */

static ngx_int_t
ngx_http_llmgw_admin_revoke_parse(ngx_http_request_t *r, json_t *o,
    ngx_uint_t remove, ngx_http_llmgw_account_change_t *ch, const char **err)
{
    u_char       *p;
    json_t       *v, *exp;
    size_t        len;
    ngx_uint_t    i;
    const char   *s;
    u_char        hash[NGX_HTTP_LLMGW_SHA256_LEN];

    *err = remove
           ? "the body must be one of {\"jti\":..}, {\"sub\":..}, "
             "{\"client_id\":..}"
           : "the body must be one of {\"jti\":..,\"exp\":..}, "
             "{\"sub\":..}, {\"client_id\":..}";

    if (!json_is_object(o)) {
        return NGX_DECLINED;
    }

    ch->remove = remove;

    if ((v = json_object_get(o, "jti")) != NULL) {
        exp = json_object_get(o, "exp");

        if (remove) {
            if (json_object_size(o) != 1) {
                return NGX_DECLINED;
            }

        } else if (json_object_size(o) != 2 || !json_is_integer(exp)
                   || json_integer_value(exp) <= 0)
        {
            return NGX_DECLINED;
        }

        if (!json_is_string(v)
            || json_string_length(v) == 0
            || json_string_length(v) > NGX_HTTP_LLMGW_ADMIN_MAX_JTI)
        {
            return NGX_DECLINED;
        }

        if (ngx_http_llmgw_sha256((u_char *) json_string_value(v),
                                  json_string_length(v), hash)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = ngx_pnalloc(r->pool, NGX_HTTP_LLMGW_JTI_HASH_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_hex_dump(p, hash, NGX_HTTP_LLMGW_SHA256_LEN);

        ch->kind = NGX_HTTP_LLMGW_ACCOUNT_JTI;
        ch->id.data = p;
        ch->id.len = NGX_HTTP_LLMGW_JTI_HASH_LEN;
        ch->time = remove ? 0 : (time_t) json_integer_value(exp);

        if (!remove
            && ch->time + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE < ngx_time())
        {
            *err = "the token has expired: nothing to revoke";
            return NGX_DECLINED;
        }

        return NGX_OK;
    }

    if ((v = json_object_get(o, "sub")) != NULL) {
        ch->kind = NGX_HTTP_LLMGW_ACCOUNT_SUBJECT;
        ch->time = remove ? 0 : ngx_time();

    } else if ((v = json_object_get(o, "client_id")) != NULL) {
        ch->kind = NGX_HTTP_LLMGW_ACCOUNT_CLIENT;

    } else {
        return NGX_DECLINED;
    }

    if (json_object_size(o) != 1 || !json_is_string(v)) {
        return NGX_DECLINED;
    }

    s = json_string_value(v);
    len = json_string_length(v);

    if (len == 0 || len > NGX_HTTP_LLMGW_ACCOUNT_MAX_ID) {
        *err = "the id must have 1 to 255 bytes";
        return NGX_DECLINED;
    }

    for (i = 0; i < len; i++) {
        if ((u_char) s[i] < 0x20 || s[i] == 0x7f) {
            *err = "a control character in the id";
            return NGX_DECLINED;
        }
    }

    ch->id.data = ngx_pnalloc(r->pool, len);
    if (ch->id.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ch->id.data, s, len);
    ch->id.len = len;

    return NGX_OK;
}


/*
 * GET /revocations[?limit=N][&cursor=C]: a page of the live revocations
 * in the zone's order, {"revocations":[..],"next_cursor":C|null}.  The
 * cursor is the base64url of the position's kind (a byte) and id: opaque
 * to the caller, and a position rather than an entry, so a revocation
 * lifted between two pages loses nothing.
 */

static ngx_int_t
ngx_http_llmgw_admin_revocations(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    json_t                            *j, *list, *cursor;
    ngx_int_t                          rc, limit;
    ngx_str_t                          v;
    ngx_uint_t                         i;
    ngx_array_t                        entries;
    ngx_http_llmgw_account_change_t   *ch, after, next;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    limit = NGX_HTTP_LLMGW_ADMIN_PAGE;

    if (ngx_http_arg(r, (u_char *) "limit", 5, &v) == NGX_OK) {
        limit = ngx_atoi(v.data, v.len);

        if (limit < 1 || limit > NGX_HTTP_LLMGW_ADMIN_MAX_PAGE) {
            return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_BAD_REQUEST,
                                             "invalid_request",
                                             "limit must be 1 to 10000");
        }
    }

    ngx_memzero(&after, sizeof(ngx_http_llmgw_account_change_t));

    rc = NGX_OK;

    if (ngx_http_arg(r, (u_char *) "cursor", 6, &v) == NGX_OK) {
        rc = ngx_http_llmgw_admin_cursor_parse(r->pool, &v, &after);
    }

    if (rc == NGX_OK) {
        if (ngx_array_init(&entries, r->pool, 16,
                           sizeof(ngx_http_llmgw_account_change_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        rc = ngx_http_llmgw_account_page(amcf->zone,
                                     (1 << NGX_HTTP_LLMGW_ACCOUNT_JTI)
                                     | (1 << NGX_HTTP_LLMGW_ACCOUNT_SUBJECT)
                                     | (1 << NGX_HTTP_LLMGW_ACCOUNT_CLIENT),
                                     after.kind ? &after : NULL,
                                     (ngx_uint_t) limit, ngx_time(), r->pool,
                                     &entries, &next);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_BAD_REQUEST,
                                         "invalid_request",
                                         "not a cursor of this API");
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    cursor = json_null();

    if (next.kind
        && ngx_http_llmgw_admin_cursor(r->pool, &next, &cursor) != NGX_OK)
    {
        return NGX_ERROR;
    }

    j = json_pack("{s:[],s:o}", "revocations", "next_cursor", cursor);
    if (j == NULL) {
        return NGX_ERROR;
    }

    list = json_object_get(j, "revocations");
    ch = entries.elts;

    for (i = 0; i < entries.nelts; i++) {
        if (json_array_append_new(list,
                                  ngx_http_llmgw_admin_entry_json(&ch[i]))
            != 0)
        {
            json_decref(j);
            return NGX_ERROR;
        }
    }

    return ngx_http_llmgw_admin_answer(r, ctx, j);
}


/* the cursor of a position: base64url of its kind's byte and its id */

static ngx_int_t
ngx_http_llmgw_admin_cursor(ngx_pool_t *pool,
    ngx_http_llmgw_account_change_t *pos, json_t **cursor)
{
    ngx_str_t  raw, text;

    raw.len = 1 + pos->id.len;
    raw.data = ngx_pnalloc(pool, raw.len);
    if (raw.data == NULL) {
        return NGX_ERROR;
    }

    raw.data[0] = (u_char) pos->kind;
    ngx_memcpy(raw.data + 1, pos->id.data, pos->id.len);

    text.data = ngx_pnalloc(pool, ngx_base64_encoded_length(raw.len));
    if (text.data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(&text, &raw);

    *cursor = json_stringn((char *) text.data, text.len);

    return (*cursor == NULL) ? NGX_ERROR : NGX_OK;
}


/*
 * A cursor back into a position, its id in pool: NGX_OK; NGX_DECLINED
 * when it is no cursor (the page checks the id); NGX_ERROR.
 */

static ngx_int_t
ngx_http_llmgw_admin_cursor_parse(ngx_pool_t *pool, ngx_str_t *text,
    ngx_http_llmgw_account_change_t *pos)
{
    ngx_str_t  raw;

    if (text->len == 0
        || ngx_base64_decoded_length(text->len)
           > 1 + NGX_HTTP_LLMGW_ACCOUNT_MAX_ID)
    {
        return NGX_DECLINED;
    }

    raw.data = ngx_pnalloc(pool, ngx_base64_decoded_length(text->len));
    if (raw.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64url(&raw, text) != NGX_OK
        || raw.len < 2
        || raw.data[0] == 0)
    {
        return NGX_DECLINED;
    }

    pos->kind = raw.data[0];
    pos->id.data = raw.data + 1;
    pos->id.len = raw.len - 1;

    return NGX_OK;
}


/* what a revocation is of, as the API names it */

static json_t *
ngx_http_llmgw_admin_key_json(ngx_http_llmgw_account_change_t *ch)
{
    char  *name;

    name = (ch->kind == NGX_HTTP_LLMGW_ACCOUNT_JTI) ? "jti_sha256"
           : (ch->kind == NGX_HTTP_LLMGW_ACCOUNT_SUBJECT) ? "sub"
           : "client_id";

    return json_pack("{s:s%}", name, ch->id.data, ch->id.len);
}


/* a revocation as the API shows it */

static json_t *
ngx_http_llmgw_admin_entry_json(ngx_http_llmgw_account_change_t *ch)
{
    switch (ch->kind) {

    case NGX_HTTP_LLMGW_ACCOUNT_JTI:
        return json_pack("{s:s%,s:I}", "jti_sha256", ch->id.data, ch->id.len,
                         "exp", (json_int_t) ch->time);

    case NGX_HTTP_LLMGW_ACCOUNT_SUBJECT:
        return json_pack("{s:s%,s:I}", "sub", ch->id.data, ch->id.len,
                         "not_before", (json_int_t) ch->time);

    case NGX_HTTP_LLMGW_ACCOUNT_CLIENT:
        return json_pack("{s:s%}", "client_id", ch->id.data, ch->id.len);

    default:
        return ngx_http_llmgw_admin_user_json(ch);
    }
}


/*
 * POST /users/csv/upload: the CSV checked as llmgw_users does; a file
 * with any error changes nothing and the answer lists the errors; else
 * the new directory applied (a user missing from it disabled, never
 * deleted) and the changes summed up.
 */

static ngx_int_t
ngx_http_llmgw_admin_csv_upload(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    json_t                            *summary;
    ngx_int_t                          rc;
    ngx_uint_t                         i, active;
    ngx_array_t                        old, changes;
    ngx_http_llmgw_users_t            *users;
    ngx_http_llmgw_account_change_t   *ch;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    users = ngx_palloc(r->pool, sizeof(ngx_http_llmgw_users_t));
    if (users == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_users_parse(r->pool, ctx->in.data, ctx->in.len,
                                    NGX_HTTP_LLMGW_ADMIN_MAX_USERS, users);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_llmgw_admin_csv_errors(r, ctx, users);
    }

    if (ngx_array_init(&old, r->pool, 64,
                       sizeof(ngx_http_llmgw_account_change_t))
        != NGX_OK
        || ngx_array_init(&changes, r->pool, 64,
                          sizeof(ngx_http_llmgw_account_change_t))
           != NGX_OK
        || ngx_http_llmgw_account_list(amcf->zone,
                                       NGX_HTTP_LLMGW_ACCOUNT_USER,
                                       ngx_time(), r->pool, &old)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    summary = json_object();
    if (summary == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_admin_csv_diff(r, &old, &users->users, &changes,
                                      summary)
        != NGX_OK)
    {
        json_decref(summary);
        return NGX_ERROR;
    }

    ch = old.elts;
    active = 0;

    for (i = 0; i < old.nelts; i++) {
        active += ch[i].active;
    }

    if (ngx_http_llmgw_admin_json(r->pool,
                                  json_pack("{s:I,s:I}",
                                            "users", (json_int_t) old.nelts,
                                            "active", (json_int_t) active),
                                  &ctx->before)
        != NGX_OK)
    {
        json_decref(summary);
        return NGX_ERROR;
    }

    json_object_set_new(summary, "changes",
                        json_integer((json_int_t) changes.nelts));

    /* kept for the download before it is applied: a failure changes none */

    if (ngx_http_llmgw_admin_csv_save(r, &ctx->in) != NGX_OK) {
        json_decref(summary);
        return ngx_http_llmgw_admin_commit_rc(r, ctx, NGX_ERROR);
    }

    if (ngx_http_llmgw_admin_json(r->pool, json_deep_copy(summary),
                                  &ctx->after)
        != NGX_OK)
    {
        json_decref(summary);
        return NGX_ERROR;
    }

    return ngx_http_llmgw_admin_publish(r, ctx, summary, changes.elts,
                                        changes.nelts);
}


/* 400 with the error concern's body and the CSV's errors by line */

static ngx_int_t
ngx_http_llmgw_admin_csv_errors(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_http_llmgw_users_t *users)
{
    u_char      *p, text[NGX_HTTP_LLMGW_USERS_MAX_FIELD];
    char        *message;
    json_t      *list;
    ngx_str_t    errors;
    ngx_uint_t   i;

    message = ngx_pnalloc(r->pool, sizeof("the CSV has  errors; nothing "
                                          "changed") + NGX_INT_T_LEN);
    if (message == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf((u_char *) message, "the CSV has %ui error%s; nothing "
                "changed%Z", users->nerrors, users->nerrors == 1 ? "" : "s");

    if (ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_BAD_REQUEST,
                                  "invalid_request", message)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    list = json_array();
    if (list == NULL) {
        return NGX_ERROR;
    }

    for (i = 0;
         i < ngx_min(users->nerrors, NGX_HTTP_LLMGW_USERS_MAX_ERRORS);
         i++)
    {
        p = ngx_http_llmgw_users_error_text(text, text + sizeof(text),
                                            &users->errors[i]);

        json_array_append_new(list, json_stringn((char *) text, p - text));
    }

    if (ngx_http_llmgw_admin_json(r->pool, list, &errors) != NGX_OK) {
        return NGX_ERROR;
    }

    /* {"error":{...}}\n becomes {"error":{...},"errors":[...]}\n */

    p = ngx_pnalloc(r->pool, ctx->out.len + sizeof(",\"errors\":") - 1
                             + errors.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->out.data = ngx_cpymem(p, ctx->out.data, ctx->out.len - 2);
    ctx->out.data = ngx_cpymem(ctx->out.data, ",\"errors\":",
                               sizeof(",\"errors\":") - 1);
    ctx->out.data = ngx_cpymem(ctx->out.data, errors.data, errors.len - 1);
    ctx->out.data = ngx_cpymem(ctx->out.data, "}\n", 2);
    ctx->out.len = ctx->out.data - p;
    ctx->out.data = p;

    return NGX_OK;
}


/*
 * What the new directory changes, as the tool's diff: both lists sorted
 * by user_id and walked together.
 */

static ngx_int_t
ngx_http_llmgw_admin_csv_diff(ngx_http_request_t *r, ngx_array_t *old,
    ngx_array_t *users, ngx_array_t *changes, json_t *summary)
{
    time_t                             start, end;
    json_t                            *added, *disabled, *enabled, *moved;
    ngx_int_t                          cmp;
    ngx_uint_t                         i, k;
    ngx_http_llmgw_user_t             *u;
    ngx_http_llmgw_account_change_t   *o, *ch, *read;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    added = json_array();
    disabled = json_array();
    enabled = json_array();
    moved = json_array();

    json_object_set_new(summary, "users",
                        json_integer((json_int_t) users->nelts));
    json_object_set_new(summary, "added", added);
    json_object_set_new(summary, "disabled", disabled);
    json_object_set_new(summary, "re_enabled", enabled);
    json_object_set_new(summary, "moved", moved);

    if (added == NULL || disabled == NULL || enabled == NULL
        || moved == NULL)
    {
        return NGX_ERROR;
    }

    ngx_qsort(old->elts, old->nelts, sizeof(ngx_http_llmgw_account_change_t),
              ngx_http_llmgw_admin_cmp_change);
    ngx_qsort(users->elts, users->nelts, sizeof(ngx_http_llmgw_user_t),
              ngx_http_llmgw_admin_cmp_user);

    o = old->elts;
    u = users->elts;
    i = 0;
    k = 0;

    while (i < old->nelts || k < users->nelts) {

        if (i == old->nelts) {
            cmp = 1;

        } else if (k == users->nelts) {
            cmp = -1;

        } else {
            cmp = ngx_memn2cmp(o[i].id.data, u[k].user_id.data, o[i].id.len,
                               u[k].user_id.len);
        }

        if (cmp < 0) {

            /* missing from the new directory: disabled, kept */

            if (o[i].active) {
                json_array_append_new(disabled,
                                      json_stringn((char *) o[i].id.data,
                                                   o[i].id.len));

                ch = ngx_array_push(changes);
                if (ch == NULL) {
                    return NGX_ERROR;
                }

                *ch = o[i];
                ch->active = 0;
                ch->expect = &o[i];
            }

            i++;
            continue;
        }

        start = (time_t) u[k].start * NGX_HTTP_LLMGW_ADMIN_DAY
                - amcf->utc_offset;
        end = (u[k].end == NGX_HTTP_LLMGW_USERS_NO_END)
              ? NGX_HTTP_LLMGW_ACCOUNT_NO_END
              : (time_t) (u[k].end + 1) * NGX_HTTP_LLMGW_ADMIN_DAY
                - amcf->utc_offset;

        /* each change is conditional on the entry the diff read */

        if (cmp > 0) {
            read = &ngx_http_llmgw_admin_absent;

            json_array_append_new(added,
                                  json_stringn((char *) u[k].user_id.data,
                                               u[k].user_id.len));

        } else {
            read = &o[i];

            if (o[i].active && !u[k].active) {
                json_array_append_new(disabled,
                                      json_stringn((char *) o[i].id.data,
                                                   o[i].id.len));

            } else if (!o[i].active && u[k].active) {
                json_array_append_new(enabled,
                                      json_stringn((char *) o[i].id.data,
                                                   o[i].id.len));
            }

            if (o[i].department.len != u[k].department.len
                || ngx_strncmp(o[i].department.data, u[k].department.data,
                               o[i].department.len)
                   != 0)
            {
                json_array_append_new(moved,
                    json_pack("{s:s%,s:s%,s:s%}",
                              "user_id", o[i].id.data, o[i].id.len,
                              "from", o[i].department.data
                                      ? (char *) o[i].department.data : "",
                              o[i].department.len,
                              "to", u[k].department.data
                                    ? (char *) u[k].department.data : "",
                              u[k].department.len));

            } else if (o[i].active == u[k].active && o[i].time == start
                       && o[i].end == end)
            {
                /* unchanged: nothing to apply */
                i++;
                k++;
                continue;
            }

            i++;
        }

        ch = ngx_array_push(changes);
        if (ch == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(ch, sizeof(ngx_http_llmgw_account_change_t));

        ch->kind = NGX_HTTP_LLMGW_ACCOUNT_USER;
        ch->id = u[k].user_id;
        ch->department = u[k].department;
        ch->active = u[k].active;
        ch->time = start;
        ch->end = end;
        ch->expect = read;

        k++;
    }

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_llmgw_admin_cmp_change(const void *one, const void *two)
{
    const ngx_http_llmgw_account_change_t  *a = one, *b = two;

    return (int) ngx_memn2cmp(a->id.data, b->id.data, a->id.len, b->id.len);
}


static int ngx_libc_cdecl
ngx_http_llmgw_admin_cmp_user(const void *one, const void *two)
{
    const ngx_http_llmgw_user_t  *a = one, *b = two;

    return (int) ngx_memn2cmp(a->user_id.data, b->user_id.data,
                              a->user_id.len, b->user_id.len);
}


/*
 * The accepted CSV written to llmgw_admin_csv (FILE.tmp, synced, renamed
 * over FILE), for the download.  A blocking write, as the state file's:
 * a rare admin call, bounded by client_body_buffer_size.
 */

static ngx_int_t
ngx_http_llmgw_admin_csv_save(ngx_http_request_t *r, ngx_str_t *csv)
{
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    if (amcf->csv_file.len == 0) {
        return NGX_OK;
    }

    return ngx_http_llmgw_admin_save(r, &amcf->csv_file, csv, 0600);
}


/*
 * text written to FILE.tmp, synced, and renamed over file: a reader
 * sees the old file or the new one whole.  The workers' user must be
 * able to create files in file's directory.
 */

static ngx_int_t
ngx_http_llmgw_admin_save(ngx_http_request_t *r, ngx_str_t *file,
    ngx_str_t *text, ngx_uint_t access)
{
    u_char    *tmp;
    ssize_t    n;
    ngx_fd_t   fd;

    tmp = ngx_pnalloc(r->pool, file->len + sizeof(".tmp"));
    if (tmp == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(tmp, "%V.tmp%Z", file);

    fd = ngx_open_file(tmp, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE, access);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", tmp);
        return NGX_ERROR;
    }

    n = ngx_write_fd(fd, text->data, text->len);

    if (n != (ssize_t) text->len || fsync(fd) == -1) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "writing \"%s\" failed", tmp);
        (void) ngx_close_file(fd);
        (void) ngx_delete_file(tmp);
        return NGX_ERROR;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR
        || ngx_rename_file(tmp, file->data) == NGX_FILE_ERROR)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "writing \"%V\" failed", file);
        (void) ngx_delete_file(tmp);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * GET /users/csv/download: the last CSV accepted, byte for byte.  Read
 * with a blocking read, bounded: the file is one this module wrote from
 * a body that fit in client_body_buffer_size.
 */

static ngx_int_t
ngx_http_llmgw_admin_csv_download(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    off_t                              size;
    ssize_t                            n;
    ngx_fd_t                           fd;
    ngx_file_info_t                    fi;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (amcf->csv_file.len == 0) {
        return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_NOT_FOUND,
                                         "not_found", "no llmgw_admin_csv");
    }

    fd = ngx_open_file(amcf->csv_file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN,
                       0);

    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno == NGX_ENOENT) {
            return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_NOT_FOUND,
                                             "not_found",
                                             "no CSV uploaded yet");
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      ngx_open_file_n " \"%V\" failed", &amcf->csv_file);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        (void) ngx_close_file(fd);
        return NGX_ERROR;
    }

    size = ngx_file_size(&fi);

    if (size > (off_t) clcf->client_body_buffer_size) {
        (void) ngx_close_file(fd);
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "\"%V\" is larger than client_body_buffer_size",
                      &amcf->csv_file);
        return NGX_ERROR;
    }

    ctx->out.data = ngx_pnalloc(r->pool, (size_t) size + 1);
    if (ctx->out.data == NULL) {
        (void) ngx_close_file(fd);
        return NGX_ERROR;
    }

    n = ngx_read_fd(fd, ctx->out.data, (size_t) size);

    (void) ngx_close_file(fd);

    if (n != (ssize_t) size) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "reading \"%V\" failed", &amcf->csv_file);
        return NGX_ERROR;
    }

    ctx->out.len = (size_t) size;
    ctx->status = NGX_HTTP_OK;
    ngx_str_set(&ctx->type, "text/csv; charset=utf-8");

    return NGX_OK;
}


/* GET /users/sync/status: the directory in the zone, the last upload */

static ngx_int_t
ngx_http_llmgw_admin_sync_status(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    json_t                            *j, *uploaded;
    ngx_uint_t                         i, active;
    ngx_array_t                        users;
    ngx_file_info_t                    fi;
    ngx_http_llmgw_account_change_t   *ch;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    if (ngx_array_init(&users, r->pool, 64,
                       sizeof(ngx_http_llmgw_account_change_t))
        != NGX_OK
        || ngx_http_llmgw_account_list(amcf->zone,
                                       NGX_HTTP_LLMGW_ACCOUNT_USER,
                                       ngx_time(), r->pool, &users)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ch = users.elts;
    active = 0;

    for (i = 0; i < users.nelts; i++) {
        active += ch[i].active;
    }

    uploaded = json_null();

    if (amcf->csv_file.len
        && ngx_file_info(amcf->csv_file.data, &fi) != NGX_FILE_ERROR)
    {
        uploaded = json_integer((json_int_t) ngx_file_mtime(&fi));
    }

    j = json_pack("{s:I,s:I,s:I,s:o}",
                  "users", (json_int_t) users.nelts,
                  "active", (json_int_t) active,
                  "disabled", (json_int_t) (users.nelts - active),
                  "uploaded", uploaded);

    return ngx_http_llmgw_admin_answer(r, ctx, j);
}


/*
 * GET /system/health: this worker's Redis connection (false without
 * llmgw_redis), the account zone, the age of each JWKS zone's document,
 * the admin location's audit sinks as this worker sees them, and the ms
 * since this node last read the state stream (null without
 * llmgw_state_redis).
 */

static ngx_int_t
ngx_http_llmgw_admin_health(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    json_t                            *j, *jwks, *audit;
    ngx_str_t                         *name;
    ngx_uint_t                         i;
    ngx_msec_t                         age;
    ngx_array_t                        sinks;
    ngx_http_llmgw_jwks_t            **zones;
    ngx_http_llmgw_audit_sink_t       *s;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    if (ngx_array_init(&sinks, r->pool, 2,
                       sizeof(ngx_http_llmgw_audit_sink_t))
        != NGX_OK
        || ngx_http_llmgw_audit_sinks(r, &sinks) != NGX_OK)
    {
        return NGX_ERROR;
    }

    j = json_pack("{s:s,s:b,s:b,s:[],s:[],s:o}",
                  "status", "ok",
                  "redis", (int) ngx_http_llmgw_redis_up(),
                  "state_zone", amcf->zone != NULL,
                  "jwks", "audit", "stream_lag_ms",
                  ngx_http_llmgw_state_lag(&age) == NGX_OK
                  ? json_integer((json_int_t) age) : json_null());
    if (j == NULL) {
        return NGX_ERROR;
    }

    jwks = json_object_get(j, "jwks");
    audit = json_object_get(j, "audit");

    zones = amcf->jwks ? amcf->jwks->elts : NULL;

    for (i = 0; amcf->jwks && i < amcf->jwks->nelts; i++) {
        name = ngx_http_llmgw_jwks_name(zones[i]);

        json_array_append_new(jwks,
            json_pack("{s:s%,s:o}", "zone", name->data, name->len,
                      "age_ms",
                      ngx_http_llmgw_jwks_age(zones[i], &age) == NGX_OK
                      ? json_integer((json_int_t) age) : json_null()));
    }

    s = sinks.elts;

    for (i = 0; i < sinks.nelts; i++) {
        json_array_append_new(audit,
            json_pack("{s:s%,s:b,s:I}", "sink", s[i].name.data,
                      s[i].name.len, "failing", (int) s[i].failing,
                      "lines_lost", (json_int_t) s[i].lost));
    }

    return ngx_http_llmgw_admin_answer(r, ctx, j);
}


/*
 * GET /departments/{id}/usage: the tokens counted for the department
 * (llmgw_tokens_total of the metrics zone, since the zone was created),
 * in total and by provider and model.  A department is a label value of
 * its own only when llmgw_metrics_departments lists it; "other" holds
 * the rest.
 */

static ngx_int_t
ngx_http_llmgw_admin_department(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    json_t                            *j;
    ngx_str_t                         *d, other = ngx_string("other");
    ngx_uint_t                         i, found;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    if (amcf->metrics == NULL) {
        return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_NOT_FOUND,
                                         "not_found", "no llmgw_metrics_zone");
    }

    found = (ctx->target.len == other.len
             && ngx_strncmp(ctx->target.data, other.data, other.len) == 0);

    if (amcf->metrics->departments) {
        d = amcf->metrics->departments->elts;

        for (i = 0; !found && i < amcf->metrics->departments->nelts; i++) {
            found = (d[i].len == ctx->target.len
                     && ngx_strncmp(d[i].data, ctx->target.data, d[i].len)
                        == 0);
        }
    }

    if (!found) {
        return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_NOT_FOUND,
                                         "not_found",
                                         "not a department of "
                                         "llmgw_metrics_departments");
    }

    j = json_object();
    if (j == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_admin_usage(r, ctx, &ctx->target, j) != NGX_OK) {
        json_decref(j);
        return NGX_ERROR;
    }

    return ngx_http_llmgw_admin_answer(r, ctx, j);
}


/* GET /departments/usage/summary: the tokens of every department */

static ngx_int_t
ngx_http_llmgw_admin_departments(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    json_t                            *j;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    if (amcf->metrics == NULL) {
        return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_NOT_FOUND,
                                         "not_found", "no llmgw_metrics_zone");
    }

    j = json_object();
    if (j == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_admin_usage(r, ctx, NULL, j) != NGX_OK) {
        json_decref(j);
        return NGX_ERROR;
    }

    return ngx_http_llmgw_admin_answer(r, ctx, j);
}


/*
 * The token series of the zone summed into out: for one department
 * {"department":..,"tokens":{TYPE:N..},"models":[{"provider","model",
 * "tokens"}..]}; for every one (department NULL) {"departments":
 * {NAME:{TYPE:N..}..}}.  The series are sorted by their labels, so the
 * output is in a stable order.
 */

static ngx_int_t
ngx_http_llmgw_admin_usage(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_str_t *department, json_t *out)
{
    json_t                             *all, *tokens, *models, *m, *last;
    ngx_str_t                           dept, type, provider, model;
    ngx_uint_t                          i;
    ngx_http_llmgw_metrics_series_t    *s;
    ngx_http_llmgw_metrics_snapshot_t   snap;
    ngx_http_llmgw_admin_main_conf_t   *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    if (ngx_http_llmgw_metrics_snapshot(amcf->metrics, r->pool, &snap)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    all = NULL;
    tokens = NULL;
    models = NULL;
    last = NULL;

    if (department) {
        tokens = json_object();
        models = json_array();

        if (json_object_set_new(out, "department",
                                json_stringn((char *) department->data,
                                             department->len))
            || json_object_set_new(out, "tokens", tokens)
            || json_object_set_new(out, "models", models))
        {
            return NGX_ERROR;
        }

    } else {
        all = json_object();

        if (json_object_set_new(out, "departments", all)) {
            return NGX_ERROR;
        }
    }

    s = snap.series;

    for (i = 0; i < snap.nseries; i++) {

        if (s[i].family != NGX_HTTP_LLMGW_METRICS_TOKENS) {
            continue;
        }

        if (ngx_http_llmgw_admin_label(r->pool, &s[i].labels, "department",
                                       &dept)
            != NGX_OK
            || ngx_http_llmgw_admin_label(r->pool, &s[i].labels, "type",
                                          &type)
               != NGX_OK)
        {
            continue;
        }

        if (department == NULL) {

            /* NUL-terminated by the label parser */

            tokens = json_object_get(all, (char *) dept.data);

            if (tokens == NULL) {
                tokens = json_object();

                if (json_object_set_new(all, (char *) dept.data, tokens)) {
                    return NGX_ERROR;
                }
            }

            if (ngx_http_llmgw_admin_count(tokens, &type, s[i].values[0])
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        if (dept.len != department->len
            || ngx_strncmp(dept.data, department->data, dept.len) != 0
            || ngx_http_llmgw_admin_label(r->pool, &s[i].labels, "provider",
                                          &provider)
               != NGX_OK
            || ngx_http_llmgw_admin_label(r->pool, &s[i].labels, "model",
                                          &model)
               != NGX_OK)
        {
            continue;
        }

        if (ngx_http_llmgw_admin_count(tokens, &type, s[i].values[0])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* series of one provider and model are next to each other */

        if (last == NULL
            || ngx_strcmp(json_string_value(json_object_get(last,
                                                            "provider")),
                          provider.data) != 0
            || ngx_strcmp(json_string_value(json_object_get(last, "model")),
                          model.data) != 0)
        {
            m = json_pack("{s:s,s:s,s:{}}", "provider", provider.data,
                          "model", model.data, "tokens");

            if (m == NULL || json_array_append_new(models, m)) {
                return NGX_ERROR;
            }

            last = m;
        }

        if (ngx_http_llmgw_admin_count(json_object_get(last, "tokens"),
                                       &type, s[i].values[0])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The value of label name in an escaped label text (name="value",...),
 * unescaped and NUL-terminated into pool.  NGX_OK, or NGX_DECLINED when
 * absent or the text is not as the metrics concern writes it.
 */

static ngx_int_t
ngx_http_llmgw_admin_label(ngx_pool_t *pool, ngx_str_t *labels, char *name,
    ngx_str_t *value)
{
    size_t   n;
    u_char  *p, *last, *v;

    n = ngx_strlen(name);
    p = labels->data;
    last = labels->data + labels->len;

    while (p < last) {

        if ((size_t) (last - p) > n + 1 && ngx_strncmp(p, name, n) == 0
            && p[n] == '=' && p[n + 1] == '"')
        {
            p += n + 2;

            v = ngx_pnalloc(pool, last - p + 1);
            if (v == NULL) {
                return NGX_DECLINED;
            }

            value->data = v;

            while (p < last && *p != '"') {
                if (*p == '\\' && p + 1 < last) {
                    p++;
                    *v++ = (*p == 'n') ? '\n' : *p;

                } else {
                    *v++ = *p;
                }

                p++;
            }

            if (p == last) {
                return NGX_DECLINED;
            }

            value->len = v - value->data;
            *v = '\0';

            return NGX_OK;
        }

        /* the next label: past the closing quote of this one's value */

        p = ngx_strlchr(p, last, '"');
        if (p == NULL) {
            return NGX_DECLINED;
        }

        for (p++; p < last && *p != '"'; p++) {
            if (*p == '\\') {
                p++;
            }
        }

        p += 2;     /* the quote and the comma */
    }

    return NGX_DECLINED;
}


/* o[TYPE "_tokens"] += n */

static ngx_int_t
ngx_http_llmgw_admin_count(json_t *o, ngx_str_t *type, uint64_t n)
{
    u_char   key[64];
    json_t  *v;

    if (type->len > sizeof(key) - sizeof("_tokens")) {
        return NGX_OK;
    }

    ngx_sprintf(key, "%V_tokens%Z", type);

    v = json_object_get(o, (char *) key);

    return json_object_set_new(o, (char *) key,
                               json_integer((v ? json_integer_value(v) : 0)
                                            + (json_int_t) n))
           ? NGX_ERROR : NGX_OK;
}


/*
 * The registered clients: the llmgw_clients file is the baseline, read
 * with the configuration and never written here; a change through the
 * API is a record in the state zone (NGX_HTTP_LLMGW_ACCOUNT_REGISTERED)
 * that wins over the file's line for its client_id, published like the
 * users' changes: it applies at once on this node, survives a restart
 * through the state file's journal and reaches the other nodes through
 * llmgw_state_redis.  A DELETE is a record too (status deleted), so that
 * it hides a client of the file and replicates.
 */

static json_t *
ngx_http_llmgw_admin_names_json(ngx_array_t *names)
{
    json_t      *a;
    ngx_str_t   *n;
    ngx_uint_t   i;

    if (names == NULL) {
        return json_array();
    }

    a = json_array();
    if (a == NULL) {
        return NULL;
    }

    n = names->elts;

    for (i = 0; i < names->nelts; i++) {
        if (json_array_append_new(a, json_stringn((char *) n[i].data,
                                                  n[i].len))
            != 0)
        {
            json_decref(a);
            return NULL;
        }
    }

    return a;
}


/* a client of the file */

static json_t *
ngx_http_llmgw_admin_client_json(ngx_http_llmgw_client_t *c)
{
    return json_pack("{s:s%,s:s,s:o,s:o,s:s}",
                     "client_id", c->client_id.data, c->client_id.len,
                     "status", c->status == NGX_HTTP_LLMGW_CLIENT_PENDING
                               ? "pending" : "approved",
                     "ceiling", ngx_http_llmgw_admin_names_json(c->names),
                     "pending_ceiling",
                     ngx_http_llmgw_admin_names_json(c->pending_names),
                     "source", "file");
}


/* a client's record of the state zone (not a deleted one) */

static json_t *
ngx_http_llmgw_admin_record_json(ngx_pool_t *pool,
    ngx_http_llmgw_account_change_t *ch)
{
    ngx_array_t  *names, *pending;

    names = ngx_http_llmgw_clients_split(pool, &ch->ceiling);
    pending = ngx_http_llmgw_clients_split(pool, &ch->pending_ceiling);

    if (names == NULL || pending == NULL) {
        return NULL;
    }

    return json_pack("{s:s%,s:s,s:o,s:o,s:s}",
                     "client_id", ch->id.data, ch->id.len,
                     "status", ch->status == NGX_HTTP_LLMGW_ACCOUNT_PENDING
                               ? "pending" : "approved",
                     "ceiling", ngx_http_llmgw_admin_names_json(names),
                     "pending_ceiling",
                     ngx_http_llmgw_admin_names_json(pending),
                     "source", "admin");
}


/*
 * llmgw_clients configured (the state zone is, by admin_run): NGX_OK;
 * else ctx has the 404, NGX_DECLINED
 */

static ngx_int_t
ngx_http_llmgw_admin_clients_conf(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_http_llmgw_admin_main_conf_t **amcf)
{
    *amcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_admin_module);

    if ((*amcf)->clients == NULL) {
        return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_NOT_FOUND,
                                         "not_found", "no llmgw_clients")
               == NGX_OK ? NGX_DECLINED : NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * GET /clients: the file's clients with the zone's records over them,
 * then the records of clients the file lacks, each set sorted by id;
 * deleted ones left out
 */

static ngx_int_t
ngx_http_llmgw_admin_clients_list(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    json_t                            *a, *j;
    ngx_int_t                          rc;
    ngx_uint_t                         i;
    ngx_array_t                        records;
    ngx_http_llmgw_client_t           *c;
    ngx_http_llmgw_account_change_t   *rec;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    rc = ngx_http_llmgw_admin_clients_conf(r, ctx, &amcf);
    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    if (ngx_array_init(&records, r->pool, 16,
                       sizeof(ngx_http_llmgw_account_change_t))
        != NGX_OK
        || ngx_http_llmgw_account_list(amcf->zone,
                                       NGX_HTTP_LLMGW_ACCOUNT_REGISTERED,
                                       ngx_time(), r->pool, &records)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_qsort(records.elts, records.nelts,
              sizeof(ngx_http_llmgw_account_change_t),
              ngx_http_llmgw_admin_cmp_change);

    a = json_array();
    if (a == NULL) {
        return NGX_ERROR;
    }

    c = amcf->clients->elts;

    for (i = 0; i < amcf->clients->nelts; i++) {
        rec = ngx_http_llmgw_admin_record_find(&records, &c[i].client_id);

        if (rec && rec->status == NGX_HTTP_LLMGW_ACCOUNT_DELETED) {
            continue;
        }

        j = rec ? ngx_http_llmgw_admin_record_json(r->pool, rec)
                : ngx_http_llmgw_admin_client_json(&c[i]);

        if (json_array_append_new(a, j) != 0) {
            json_decref(a);
            return NGX_ERROR;
        }
    }

    rec = records.elts;

    for (i = 0; i < records.nelts; i++) {
        if (rec[i].status == NGX_HTTP_LLMGW_ACCOUNT_DELETED
            || ngx_http_llmgw_clients_find(amcf->clients, &rec[i].id))
        {
            continue;
        }

        if (json_array_append_new(a, ngx_http_llmgw_admin_record_json(
                                         r->pool, &rec[i]))
            != 0)
        {
            json_decref(a);
            return NGX_ERROR;
        }
    }

    return ngx_http_llmgw_admin_answer(r, ctx,
                                       json_pack("{s:o}", "clients", a));
}


/* the record of id in records (sorted by id), or NULL */

static ngx_http_llmgw_account_change_t *
ngx_http_llmgw_admin_record_find(ngx_array_t *records, ngx_str_t *id)
{
    ngx_int_t                          rc;
    ngx_uint_t                         lo, hi, mid;
    ngx_http_llmgw_account_change_t   *rec;

    rec = records->elts;
    lo = 0;
    hi = records->nelts;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        rc = ngx_memn2cmp(id->data, rec[mid].id.data, id->len,
                          rec[mid].id.len);

        if (rc == 0) {
            return &rec[mid];
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


/*
 * The client of the path as the gateway has it: the zone's record over
 * the file's line.  NGX_OK: *j its JSON (with "source"), *rec the record
 * (its kind 0: there is none), *file the file's client (or NULL);
 * NGX_DECLINED: there is none (deleted, or in neither); NGX_ERROR.
 */

static ngx_int_t
ngx_http_llmgw_admin_client_current(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_http_llmgw_admin_main_conf_t *amcf,
    json_t **j, ngx_http_llmgw_account_change_t *rec,
    ngx_http_llmgw_client_t **file)
{
    ngx_int_t  rc;

    *file = ngx_http_llmgw_clients_find(amcf->clients, &ctx->target);

    rc = ngx_http_llmgw_account_lookup(amcf->zone,
                                       NGX_HTTP_LLMGW_ACCOUNT_REGISTERED,
                                       &ctx->target, ngx_time(), r->pool,
                                       rec);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_memzero(rec, sizeof(ngx_http_llmgw_account_change_t));

        if (*file == NULL) {
            return NGX_DECLINED;
        }

        *j = ngx_http_llmgw_admin_client_json(*file);

    } else if (rec->status == NGX_HTTP_LLMGW_ACCOUNT_DELETED) {
        return NGX_DECLINED;

    } else {
        *j = ngx_http_llmgw_admin_record_json(r->pool, rec);
    }

    return (*j == NULL) ? NGX_ERROR : NGX_OK;
}


/*
 * What GET, approve and DELETE of /clients/{id} open with: llmgw_clients
 * configured and the client found, as _current.  NGX_DECLINED with ctx's
 * 404 (no llmgw_clients, no such client).
 */

static ngx_int_t
ngx_http_llmgw_admin_client_before(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, json_t **j,
    ngx_http_llmgw_account_change_t *rec, ngx_http_llmgw_client_t **file)
{
    ngx_int_t                          rc;
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    rc = ngx_http_llmgw_admin_clients_conf(r, ctx, &amcf);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_llmgw_admin_client_current(r, ctx, amcf, j, rec, file);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_NOT_FOUND,
                                     "not_found", "no such client")
           == NGX_OK ? NGX_DECLINED : NGX_ERROR;
}


static ngx_int_t
ngx_http_llmgw_admin_client_get(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    json_t                           *j;
    ngx_int_t                         rc;
    ngx_http_llmgw_client_t          *file;
    ngx_http_llmgw_account_change_t   rec;

    rc = ngx_http_llmgw_admin_client_before(r, ctx, &j, &rec, &file);
    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    return ngx_http_llmgw_admin_answer(r, ctx, j);
}


/*
 * PUT /clients/{id}: {"status":..,"ceiling":[..],"pending_ceiling":[..]}
 * made into the line of the file it stands for and read by the file's
 * own parser, then resolved in the scope tree: what the file would
 * refuse, the API refuses, with the same words.
 */

static ngx_int_t
ngx_http_llmgw_admin_client_put(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    json_t                            *before;
    ngx_int_t                          rc;
    ngx_str_t                          line;
    ngx_http_llmgw_client_t           *c, *file;
    ngx_http_llmgw_clients_t          *parsed;
    ngx_http_llmgw_admin_main_conf_t  *amcf;
    ngx_http_llmgw_account_change_t    ch, rec;
    ngx_http_llmgw_clients_error_t     e;

    rc = ngx_http_llmgw_admin_clients_conf(r, ctx, &amcf);
    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    rc = ngx_http_llmgw_admin_client_line(r, ctx, &line);
    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    parsed = ngx_palloc(r->pool, sizeof(ngx_http_llmgw_clients_t));
    if (parsed == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_clients_parse(r->pool, line.data, line.len, 1,
                                      parsed);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_llmgw_admin_client_invalid(r, ctx, &parsed->errors[0]);
    }

    /* the id is one the parser took whole: no line of its own hid in it */

    c = parsed->clients.elts;

    if (parsed->clients.nelts != 1
        || c->client_id.len != ctx->target.len
        || ngx_strncmp(c->client_id.data, ctx->target.data,
                       ctx->target.len) != 0)
    {
        return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_BAD_REQUEST,
                                         "invalid_request",
                                         "not a valid client_id");
    }

    rc = ngx_http_llmgw_clients_resolve(r->pool, amcf->tree,
                                        &parsed->clients, &e);

    if (rc == NGX_DECLINED) {
        return ngx_http_llmgw_admin_client_invalid(r, ctx, &e);
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&ch, sizeof(ngx_http_llmgw_account_change_t));

    ch.kind = NGX_HTTP_LLMGW_ACCOUNT_REGISTERED;
    ch.id = c->client_id;
    ch.status = (c->status == NGX_HTTP_LLMGW_CLIENT_PENDING)
                ? NGX_HTTP_LLMGW_ACCOUNT_PENDING
                : NGX_HTTP_LLMGW_ACCOUNT_APPROVED;

    if (ngx_http_llmgw_clients_join(r->pool, c->names, &ch.ceiling) != NGX_OK
        || ngx_http_llmgw_clients_join(r->pool, c->pending_names,
                                       &ch.pending_ceiling)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_admin_client_current(r, ctx, amcf, &before, &rec,
                                             &file);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    /* rec: the zone's record, a deleted one too, or kind 0: none */

    if (ngx_http_llmgw_admin_expect(r, &ch, &rec) != NGX_OK) {
        if (rc == NGX_OK) {
            json_decref(before);
        }

        return NGX_ERROR;
    }

    return ngx_http_llmgw_admin_client_change(r, ctx, &ch,
                                              (rc == NGX_OK) ? before : NULL);
}


/*
 * The body of a PUT as the file's line, after the header: NGX_OK;
 * NGX_DECLINED with ctx's 400 (not the JSON asked for, or a value that
 * would change the line's shape: a separator, a space in a scope, a
 * control character); NGX_ERROR.
 */

static ngx_int_t
ngx_http_llmgw_admin_client_line(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_str_t *line)
{
    u_char        *p;
    size_t         len;
    json_t        *o, *v, *status, *lists[2];
    const char    *key;
    ngx_uint_t     i, k;
    json_error_t   jerr;

    o = json_loadb((char *) ctx->in.data, ctx->in.len, JSON_REJECT_DUPLICATES,
                   &jerr);

    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return ngx_http_llmgw_admin_client_bad(r, ctx,
                                               "the body must be a JSON "
                                               "object");
    }

    status = json_object_get(o, "status");
    lists[0] = json_object_get(o, "ceiling");
    lists[1] = json_object_get(o, "pending_ceiling");

    json_object_foreach(o, key, v) {
        if (ngx_strcmp(key, "status") != 0
            && ngx_strcmp(key, "ceiling") != 0
            && ngx_strcmp(key, "pending_ceiling") != 0)
        {
            json_decref(o);
            return ngx_http_llmgw_admin_client_bad(r, ctx,
                                                   "unknown member (status, "
                                                   "ceiling, "
                                                   "pending_ceiling)");
        }
    }

    if (!json_is_string(status)
        || !json_is_array(lists[0])
        || !(lists[1] == NULL || json_is_null(lists[1])
             || json_is_array(lists[1])))
    {
        json_decref(o);
        return ngx_http_llmgw_admin_client_bad(r, ctx,
                                               "status must be a string, "
                                               "ceiling an array, "
                                               "pending_ceiling an array "
                                               "or null");
    }

    len = sizeof("client_id,status,ceiling,pending_ceiling\n") - 1
          + ctx->target.len + json_string_length(status) + sizeof(",,,\n");

    for (k = 0; k < 2; k++) {
        if (!json_is_array(lists[k])) {
            continue;
        }

        json_array_foreach(lists[k], i, v) {
            if (!json_is_string(v)
                || !ngx_http_llmgw_admin_client_word(
                        (u_char *) json_string_value(v),
                        json_string_length(v)))
            {
                json_decref(o);
                return ngx_http_llmgw_admin_client_bad(r, ctx,
                                                       "a scope must be a "
                                                       "string without "
                                                       "spaces, commas or "
                                                       "control characters");
            }

            len += json_string_length(v) + 1;
        }
    }

    if (!ngx_http_llmgw_admin_client_word(
             (u_char *) json_string_value(status), json_string_length(status))
        || !ngx_http_llmgw_admin_client_word(ctx->target.data,
                                             ctx->target.len))
    {
        json_decref(o);
        return ngx_http_llmgw_admin_client_bad(r, ctx,
                                               "status or client_id has a "
                                               "space, a comma or a control "
                                               "character");
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        json_decref(o);
        return NGX_ERROR;
    }

    line->data = p;

    p = ngx_sprintf(p, "client_id,status,ceiling,pending_ceiling\n%V,%s,",
                    &ctx->target, json_string_value(status));

    for (k = 0; k < 2; k++) {
        if (k) {
            *p++ = ',';
        }

        if (!json_is_array(lists[k])) {
            continue;
        }

        json_array_foreach(lists[k], i, v) {
            if (i) {
                *p++ = ' ';
            }

            p = ngx_cpymem(p, json_string_value(v), json_string_length(v));
        }
    }

    *p++ = '\n';

    line->len = p - line->data;

    json_decref(o);

    return NGX_OK;
}


/* no byte that would change a line's columns or lines */

static ngx_uint_t
ngx_http_llmgw_admin_client_word(u_char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] <= ' ' || s[i] == ',' || s[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_http_llmgw_admin_client_bad(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, char *message)
{
    return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_BAD_REQUEST,
                                     "invalid_request", message)
           == NGX_OK ? NGX_DECLINED : NGX_ERROR;
}


/* 400 with the file parser's words for the line ("ceiling: empty") */

static ngx_int_t
ngx_http_llmgw_admin_client_invalid(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_http_llmgw_clients_error_t *e)
{
    u_char  *p, *text;
    size_t   skip;

    text = ngx_pnalloc(r->pool, NGX_HTTP_LLMGW_CLIENTS_MAX_LINE);
    if (text == NULL) {
        return NGX_ERROR;
    }

    p = ngx_http_llmgw_clients_error_text(text,
                                          text + NGX_HTTP_LLMGW_CLIENTS_MAX_LINE
                                          - 1, e);
    *p = '\0';

    /* the line number is the API's own line 2: not the caller's */

    skip = ngx_strncmp(text, "line 2: ", sizeof("line 2: ") - 1) == 0
           ? sizeof("line 2: ") - 1 : 0;

    return ngx_http_llmgw_admin_fail(r, ctx, NGX_HTTP_BAD_REQUEST,
                                     "invalid_request", (char *) text + skip);
}



/*
 * POST /clients/{id}/approve: the status approved, the ceilings kept; a
 * client only in the file gets a record with the file's ceilings
 */

static ngx_int_t
ngx_http_llmgw_admin_client_approve(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    json_t                           *before;
    ngx_int_t                         rc;
    ngx_http_llmgw_client_t          *file;
    ngx_http_llmgw_account_change_t   rec;

    rc = ngx_http_llmgw_admin_client_before(r, ctx, &before, &rec, &file);
    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    /* the ceilings kept are the ones read: only if they are still there */

    if (ngx_http_llmgw_admin_expect(r, &rec, &rec) != NGX_OK) {
        json_decref(before);
        return NGX_ERROR;
    }

    if (rec.kind == 0) {
        rec.kind = NGX_HTTP_LLMGW_ACCOUNT_REGISTERED;
        rec.id = file->client_id;

        if (ngx_http_llmgw_clients_join(r->pool, file->names, &rec.ceiling)
            != NGX_OK
            || ngx_http_llmgw_clients_join(r->pool, file->pending_names,
                                           &rec.pending_ceiling)
               != NGX_OK)
        {
            json_decref(before);
            return NGX_ERROR;
        }
    }

    rec.status = NGX_HTTP_LLMGW_ACCOUNT_APPROVED;

    return ngx_http_llmgw_admin_client_change(r, ctx, &rec, before);
}


/* DELETE /clients/{id}: a deleted record, over the file's line too */

static ngx_int_t
ngx_http_llmgw_admin_client_delete(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx)
{
    json_t                           *before;
    ngx_int_t                         rc;
    ngx_http_llmgw_client_t          *file;
    ngx_http_llmgw_account_change_t   ch, rec;

    rc = ngx_http_llmgw_admin_client_before(r, ctx, &before, &rec, &file);
    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    ngx_memzero(&ch, sizeof(ngx_http_llmgw_account_change_t));

    ch.kind = NGX_HTTP_LLMGW_ACCOUNT_REGISTERED;
    ch.id = ctx->target;
    ch.status = NGX_HTTP_LLMGW_ACCOUNT_DELETED;

    if (ngx_http_llmgw_admin_expect(r, &ch, &rec) != NGX_OK) {
        json_decref(before);
        return NGX_ERROR;
    }

    return ngx_http_llmgw_admin_client_change(r, ctx, &ch, before);
}


/*
 * The record ch published: ctx has the audit's before (the JSON before,
 * released; NULL: none) and after, and the answer (the client, or
 * {"client_id":..,"deleted":true}) given once the change is durable.
 */

static ngx_int_t
ngx_http_llmgw_admin_client_change(ngx_http_request_t *r,
    ngx_http_llmgw_admin_ctx_t *ctx, ngx_http_llmgw_account_change_t *ch,
    json_t *before)
{
    json_t  *j;

    if (before != NULL
        && ngx_http_llmgw_admin_json(r->pool, before, &ctx->before) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ch->status == NGX_HTTP_LLMGW_ACCOUNT_DELETED) {
        j = json_pack("{s:s%,s:b}", "client_id", ch->id.data, ch->id.len,
                      "deleted", 1);

    } else {
        if (ngx_http_llmgw_admin_json(r->pool,
                                      ngx_http_llmgw_admin_record_json(
                                          r->pool, ch),
                                      &ctx->after)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        j = ngx_http_llmgw_admin_record_json(r->pool, ch);
    }

    return ngx_http_llmgw_admin_publish(r, ctx, j, ch, 1);
}


/* a user_id as the CSV allows it */

static ngx_int_t
ngx_http_llmgw_admin_id_valid(ngx_str_t *id)
{
    u_char      c;
    ngx_uint_t  i;

    if (id->len == 0 || id->len > NGX_HTTP_LLMGW_USERS_MAX_ID) {
        return 0;
    }

    for (i = 0; i < id->len; i++) {
        c = id->data[i];

        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
            || (c >= 'A' && c <= 'Z'))
        {
            continue;
        }

        if (i == 0 || ngx_strchr("._@+-", c) == NULL) {
            return 0;
        }
    }

    return 1;
}


ngx_int_t
ngx_http_llmgw_admin_audit(ngx_http_request_t *r, ngx_str_t *json)
{
    json_t                           *j, *before, *after;
    json_error_t                      jerr;
    ngx_http_llmgw_admin_ctx_t       *ctx, fresh;
    ngx_http_llmgw_admin_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_admin_module);

    if (!alcf->enable) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_admin_module);

    if (ctx == NULL) {

        /* refused before the content handler: what it would have been */

        ngx_memzero(&fresh, sizeof(ngx_http_llmgw_admin_ctx_t));
        ctx = &fresh;

        if (ngx_http_llmgw_admin_route(r, ctx) == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    before = ctx->before.len
             ? json_loadb((char *) ctx->before.data, ctx->before.len, 0,
                          &jerr)
             : json_null();
    after = (ctx->after.len && ctx->status < NGX_HTTP_BAD_REQUEST)
            ? json_loadb((char *) ctx->after.data, ctx->after.len, 0, &jerr)
            : json_null();

    j = json_pack("{s:s?,s:s%,s:s,s:o,s:o}",
                  "action", ctx->routed ? ctx->action->name : NULL,
                  "target", ctx->target.data ? (char *) ctx->target.data : "",
                  ctx->target.len,
                  "result", ctx->allowed ? "allowed" : "refused",
                  "before", before, "after", after);

    if (j != NULL && ctx->target.len == 0) {
        json_object_set_new(j, "target", json_null());
    }

    if (ngx_http_llmgw_admin_json(r->pool, j, json) != NGX_OK) {
        return NGX_ERROR;
    }

    json->len--;    /* no newline in the line */

    return NGX_OK;
}


ngx_uint_t
ngx_http_llmgw_admin_error(ngx_http_request_t *r)
{
    ngx_uint_t                        status;
    ngx_http_llmgw_admin_loc_conf_t  *alcf;

    status = r->headers_out.status;

    if (r->err_status == 0
        || (status != NGX_HTTP_BAD_REQUEST
            && status != NGX_HTTP_REQUEST_TIME_OUT
            && status != NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
            && status < NGX_HTTP_INTERNAL_SERVER_ERROR))
    {
        return 0;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_admin_module);

    return alcf->enable ? status : 0;
}


static void *
ngx_http_llmgw_admin_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_admin_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     amcf->zone = NULL;
     *     amcf->csv_file = { 0, NULL };
     */

    return amcf;
}


static void *
ngx_http_llmgw_admin_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_llmgw_admin_loc_conf_t  *alcf;

    alcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_admin_loc_conf_t));
    if (alcf == NULL) {
        return NULL;
    }

    alcf->enable = NGX_CONF_UNSET;

    return alcf;
}


static char *
ngx_http_llmgw_admin_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_llmgw_admin_loc_conf_t  *prev = parent;
    ngx_http_llmgw_admin_loc_conf_t  *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    return NGX_CONF_OK;
}


/* the account state the API works on, once the configuration is read */

static ngx_int_t
ngx_http_llmgw_admin_init(ngx_conf_t *cf)
{
    ngx_http_llmgw_admin_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_llmgw_admin_module);

    amcf->zone = ngx_http_llmgw_state_conf(cf, &amcf->utc_offset);
    amcf->metrics = ngx_http_llmgw_log_metrics_zone_conf(cf);
    amcf->jwks = ngx_http_llmgw_jwks_conf(cf);

    (void) ngx_http_llmgw_registered_clients_conf(cf, &amcf->clients,
                                                  &amcf->tree);

    return NGX_OK;
}


static char *
ngx_http_llmgw_admin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_admin_loc_conf_t *alcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (alcf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    alcf->enable = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_llmgw_admin_handler;

    return NGX_CONF_OK;
}


/* "llmgw_admin_csv FILE", relative to the prefix */

static char *
ngx_http_llmgw_admin_csv(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_admin_main_conf_t *amcf = conf;

    ngx_str_t  *value;

    if (amcf->csv_file.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    amcf->csv_file = value[1];

    if (ngx_conf_full_name(cf->cycle, &amcf->csv_file, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
