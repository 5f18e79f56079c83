
/*
 * Copyright (C) llmgw authors
 *
 * Account changes made durable and replicated (ngx_http_llmgw_state.h).
 *
 * The stream entry and the snapshot's value are the state file's JSON
 * line of the change (ngx_http_llmgw_account_change_line), so the three
 * share one parser.  The snapshot's field is the kind's letter and the
 * id ("j:<jti hash>", "s:E1001", "c:app", "u:E1001", "r:app").
 *
 * The reader, in the worker holding the lease, one command at a time:
 *
 *   resync   the library's state_tail (the last ID given, T), then HSCAN
 *            SNAPSHOT in pages, each value applied (a revoked jti whose
 *            token expired is HDEL'd from the snapshot); then the last
 *            ID is T.  An entry added meanwhile is in both: applied
 *            twice, harmless, as every change is a whole value.
 *   read     the library's state_read: the entries after LAST (up to
 *            1000), unless LAST is gone from the stream and is not its
 *            tail (trimmed past: what came after it may be lost), then a
 *            resync; one script, so no trimming falls between the look
 *            and the read.  Entries applied in order, the last ID moved
 *            on, read_at set.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_state.h"
#include "ngx_http_llmgw_redis.h"


/* a worker's lease on the stream, renewed every poll= */
#define NGX_HTTP_LLMGW_STATE_LEASE      2000

/* a journal longer than this is worth a reload (logged once) */
#define NGX_HTTP_LLMGW_STATE_JOURNAL    (64 * 1024 * 1024)

/* changes per state_publish call: 2 keys + 1 + 3 a change <= 16 */
#define NGX_HTTP_LLMGW_STATE_CHUNK      4

#define NGX_HTTP_LLMGW_STATE_COUNT      "1000"
#define NGX_HTTP_LLMGW_STATE_BATCH      1000
#define NGX_HTTP_LLMGW_STATE_SCAN       "500"


typedef enum {
    NGX_HTTP_LLMGW_STATE_IDLE = 0,
    NGX_HTTP_LLMGW_STATE_TAIL,
    NGX_HTTP_LLMGW_STATE_PAGE,
    NGX_HTTP_LLMGW_STATE_READ
} ngx_http_llmgw_state_step_e;


typedef struct {
    ngx_http_llmgw_state_conf_t    *conf;
    ngx_shm_zone_t                 *zone;
    ngx_http_llmgw_account_repl_t  *repl;
    ngx_log_t                      *log;
    ngx_event_t                     tick;
    ngx_http_llmgw_redis_cmd_t     *cmd;      /* the one in flight */
    ngx_http_llmgw_state_step_e     step;
    ngx_msec_t                      resync_at;
    unsigned                        leader:1;
    unsigned                        resync:1; /* a full resync is due */
    unsigned                        stale:1;  /* logged as stale */
    unsigned                        long_journal:1; /* logged */
    size_t                          cursor_len;
    size_t                          tail_len;
    u_char                          cursor[NGX_INT64_LEN];
    u_char                          tail[NGX_HTTP_LLMGW_ACCOUNT_LAST_ID];
} ngx_http_llmgw_state_worker_t;


typedef struct {
    ngx_uint_t                      n;
    ngx_uint_t                      pending;
    ngx_int_t                       rc;
    ngx_http_llmgw_redis_cmd_t    **cmds;
    void                          (*done)(void *data, ngx_int_t rc);
    void                           *data;
} ngx_http_llmgw_state_pub_t;


typedef struct {
    ngx_http_llmgw_state_pub_t     *pub;
    ngx_uint_t                      i;
} ngx_http_llmgw_state_part_t;


static ngx_int_t ngx_http_llmgw_state_send(ngx_http_request_t *r,
    ngx_http_llmgw_state_pub_t *pub, ngx_http_llmgw_account_change_t *ch,
    ngx_uint_t n, ngx_uint_t i);
static void ngx_http_llmgw_state_published(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply);
static void ngx_http_llmgw_state_cancel(void *data);
static ngx_int_t ngx_http_llmgw_state_field(ngx_pool_t *pool,
    ngx_http_llmgw_account_change_t *ch, ngx_str_t *field);
static void ngx_http_llmgw_state_tick_handler(ngx_event_t *ev);
static void ngx_http_llmgw_state_lease(ngx_http_llmgw_state_worker_t *w);
static void ngx_http_llmgw_state_next(ngx_http_llmgw_state_worker_t *w);
static void ngx_http_llmgw_state_sent(ngx_http_llmgw_state_worker_t *w,
    ngx_http_llmgw_state_step_e step, int argc, const char **argv,
    size_t *argvlen);
static void ngx_http_llmgw_state_reply(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply);
static void ngx_http_llmgw_state_tail(ngx_http_llmgw_state_worker_t *w,
    redisReply *reply);
static ngx_int_t ngx_http_llmgw_state_page(ngx_http_llmgw_state_worker_t *w,
    redisReply *reply);
static ngx_int_t ngx_http_llmgw_state_entries(
    ngx_http_llmgw_state_worker_t *w, redisReply *reply);
static void ngx_http_llmgw_state_ignore(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply);


static ngx_http_llmgw_state_worker_t  ngx_http_llmgw_state_worker;


char *
ngx_http_llmgw_state_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_int_t                     n;
    ngx_str_t                    *value, v;
    ngx_msec_t                   *t;
    ngx_uint_t                    i;
    ngx_http_llmgw_state_conf_t  *scf, **slot;

    slot = (ngx_http_llmgw_state_conf_t **) (p + cmd->offset);

    if (*slot != NULL) {
        return "is duplicate";
    }

    scf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_state_conf_t));
    if (scf == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&scf->stream, "llmgw:state");
    ngx_str_set(&scf->maxlen, "100000");
    scf->poll = 100;
    scf->resync = 300000;
    scf->stale = 10000;
    scf->on_stale = NGX_HTTP_LLMGW_STATE_SERVE;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "stream=", 7) == 0) {
            scf->stream.data = value[i].data + 7;
            scf->stream.len = value[i].len - 7;

            if (scf->stream.len == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "maxlen=", 7) == 0) {
            n = ngx_atoi(value[i].data + 7, value[i].len - 7);

            if (n < 1000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"maxlen\" must be at least 1000");
                return NGX_CONF_ERROR;
            }

            scf->maxlen.data = value[i].data + 7;
            scf->maxlen.len = value[i].len - 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "on_stale=", 9) == 0) {
            if (ngx_strcmp(value[i].data + 9, "serve") == 0) {
                scf->on_stale = NGX_HTTP_LLMGW_STATE_SERVE;

            } else if (ngx_strcmp(value[i].data + 9, "refuse") == 0) {
                scf->on_stale = NGX_HTTP_LLMGW_STATE_REFUSE;

            } else if (ngx_strncmp(value[i].data + 9, "within:", 7) == 0
                       && value[i].len > 16)
            {
                /* checked against llmgw_scopes once the block is read */
                scf->on_stale = NGX_HTTP_LLMGW_STATE_WITHIN;
                scf->within.data = value[i].data + 16;
                scf->within.len = value[i].len - 16;

            } else {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "poll=", 5) == 0) {
            v.data = value[i].data + 5;
            v.len = value[i].len - 5;
            t = &scf->poll;

        } else if (ngx_strncmp(value[i].data, "resync=", 7) == 0) {
            v.data = value[i].data + 7;
            v.len = value[i].len - 7;
            t = &scf->resync;

        } else if (ngx_strncmp(value[i].data, "stale=", 6) == 0) {
            v.data = value[i].data + 6;
            v.len = value[i].len - 6;
            t = &scf->stale;

        } else {
            goto invalid;
        }

        if (t != &scf->poll && v.len == 3
            && ngx_strncmp(v.data, "off", 3) == 0)
        {
            *t = 0;
            continue;
        }

        *t = ngx_parse_time(&v, 0);

        if (*t == (ngx_msec_t) NGX_ERROR || *t == 0) {
            goto invalid;
        }
    }

    if (scf->poll > 10000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"poll\" must be at most 10s");
        return NGX_CONF_ERROR;
    }

    if (scf->stale && scf->stale < 2 * scf->poll) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"stale\" must be at least twice \"poll\"");
        return NGX_CONF_ERROR;
    }

    scf->snapshot.len = scf->stream.len + sizeof(":snapshot") - 1;
    scf->snapshot.data = ngx_pnalloc(cf->pool, scf->snapshot.len);
    if (scf->snapshot.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(scf->snapshot.data, "%V:snapshot", &scf->stream);

    *slot = scf;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);
    return NGX_CONF_ERROR;
}


ngx_int_t
ngx_http_llmgw_state_init_process(ngx_cycle_t *cycle, ngx_shm_zone_t *zone,
    ngx_http_llmgw_state_conf_t *scf)
{
    ngx_http_llmgw_state_worker_t  *w = &ngx_http_llmgw_state_worker;

    ngx_memzero(w, sizeof(ngx_http_llmgw_state_worker_t));

    w->zone = zone;
    w->log = cycle->log;

    if (zone == NULL || scf == NULL) {
        return NGX_OK;
    }

    w->conf = scf;
    w->repl = ngx_http_llmgw_account_repl(zone);

    /* the staleness clock starts with the first worker */
    (void) ngx_atomic_cmp_set(&w->repl->read_at, 0, ngx_current_msec);

    w->tick.handler = ngx_http_llmgw_state_tick_handler;
    w->tick.log = cycle->log;
    w->tick.data = w;
    w->tick.cancelable = 1;

    ngx_add_timer(&w->tick, scf->poll);

    return NGX_OK;
}


void
ngx_http_llmgw_state_exit_process(void)
{
    ngx_http_llmgw_state_worker_t  *w = &ngx_http_llmgw_state_worker;

    if (w->tick.timer_set) {
        ngx_del_timer(&w->tick);
    }

    if (w->cmd) {
        ngx_http_llmgw_redis_cancel(w->cmd);
        w->cmd = NULL;
    }

    /* another worker may read at once */

    if (w->leader) {
        w->repl->lease_until = ngx_current_msec;
        (void) ngx_atomic_cmp_set(&w->repl->lease_pid, ngx_pid, 0);
        w->leader = 0;
    }
}


ngx_int_t
ngx_http_llmgw_state_publish(ngx_http_request_t *r, ngx_shm_zone_t *zone,
    ngx_http_llmgw_account_change_t *changes, ngx_uint_t n,
    void (*done)(void *data, ngx_int_t rc), void *data)
{
    ngx_int_t                       rc;
    ngx_uint_t                      i, compact;
    ngx_pool_cleanup_t             *cln;
    ngx_http_llmgw_state_pub_t     *pub;
    ngx_http_llmgw_state_worker_t  *w = &ngx_http_llmgw_state_worker;

    rc = ngx_http_llmgw_account_commit(zone, changes, n, ngx_time(),
                                       NGX_HTTP_LLMGW_STATE_JOURNAL,
                                       &compact, r->connection->log);

    if (compact && !w->long_journal) {
        w->long_journal = 1;
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "llmgw state journal over %uz bytes: a reload folds "
                      "it into the state file", NGX_HTTP_LLMGW_STATE_JOURNAL);
    }

    if (rc != NGX_OK || w->conf == NULL || n == 0) {
        return rc;
    }

    pub = ngx_pcalloc(r->pool, sizeof(ngx_http_llmgw_state_pub_t));
    if (pub == NULL) {
        return NGX_ERROR;
    }

    pub->n = (n + NGX_HTTP_LLMGW_STATE_CHUNK - 1) / NGX_HTTP_LLMGW_STATE_CHUNK;
    pub->cmds = ngx_pcalloc(r->pool,
                            pub->n * sizeof(ngx_http_llmgw_redis_cmd_t *));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (pub->cmds == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    pub->rc = NGX_OK;
    pub->done = done;
    pub->data = data;

    cln->handler = ngx_http_llmgw_state_cancel;
    cln->data = pub;

    /* pipelined: the calls go out together, one round trip */

    for (i = 0; i < pub->n; i++) {
        if (ngx_http_llmgw_state_send(r, pub, changes, n, i) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "llmgw state change applied on this node, not "
                          "published: Redis is not reachable");
            ngx_http_llmgw_state_cancel(pub);
            return NGX_ERROR;
        }
    }

    return NGX_AGAIN;
}


/* changes i * CHUNK ... of n: one state_publish call */

static ngx_int_t
ngx_http_llmgw_state_send(ngx_http_request_t *r,
    ngx_http_llmgw_state_pub_t *pub, ngx_http_llmgw_account_change_t *ch,
    ngx_uint_t n, ngx_uint_t i)
{
    u_char                       *p;
    ngx_str_t                     keys[2], args[NGX_HTTP_LLMGW_REDIS_MAX_ARGS];
    ngx_uint_t                    j, k, nargs;
    ngx_http_llmgw_state_part_t  *part;

    part = ngx_palloc(r->pool, sizeof(ngx_http_llmgw_state_part_t));
    if (part == NULL) {
        return NGX_ERROR;
    }

    part->pub = pub;
    part->i = i;

    keys[0] = ngx_http_llmgw_state_worker.conf->stream;
    keys[1] = ngx_http_llmgw_state_worker.conf->snapshot;
    args[0] = ngx_http_llmgw_state_worker.conf->maxlen;
    nargs = 1;

    for (j = i * NGX_HTTP_LLMGW_STATE_CHUNK;
         j < n && j < (i + 1) * NGX_HTTP_LLMGW_STATE_CHUNK;
         j++)
    {
        if (ngx_http_llmgw_state_field(r->pool, &ch[j], &args[nargs])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = ngx_pnalloc(r->pool, ngx_http_llmgw_account_change_len(&ch[j]));
        if (p == NULL) {
            return NGX_ERROR;
        }

        k = nargs + 1;
        args[k].data = p;
        p = ngx_http_llmgw_account_change_line(p, &ch[j]);
        args[k].len = p - args[k].data - 1;   /* no newline */

        ngx_str_set(&args[k + 1], "0");
        if (ch[j].remove) {
            ngx_str_set(&args[k + 1], "1");
        }

        nargs += 3;
    }

    pub->cmds[i] = ngx_http_llmgw_redis_call(0,
                                             ngx_http_llmgw_state_published,
                                             part, "state_publish", 2, keys,
                                             nargs, args);
    if (pub->cmds[i] == NULL) {
        return NGX_ERROR;
    }

    pub->pending++;

    return NGX_OK;
}


static void
ngx_http_llmgw_state_published(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply)
{
    ngx_http_llmgw_state_part_t  *part = data;

    ngx_http_llmgw_state_pub_t  *pub;

    pub = part->pub;
    pub->cmds[part->i] = NULL;

    if (status != NGX_HTTP_LLMGW_REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "llmgw state change applied on this node, not "
                      "published: %s",
                      status == NGX_HTTP_LLMGW_REDIS_ERROR && reply
                      ? reply->str
                      : status == NGX_HTTP_LLMGW_REDIS_TIMEOUT
                        ? "Redis timed out" : "Redis went away");
        pub->rc = NGX_ERROR;
    }

    if (--pub->pending == 0 && pub->done) {
        pub->done(pub->data, pub->rc);
    }
}


/* the request's pool is going: the replies that come are dropped */

static void
ngx_http_llmgw_state_cancel(void *data)
{
    ngx_http_llmgw_state_pub_t  *pub = data;

    ngx_uint_t  i;

    for (i = 0; i < pub->n; i++) {
        if (pub->cmds[i]) {
            ngx_http_llmgw_redis_cancel(pub->cmds[i]);
            pub->cmds[i] = NULL;
        }
    }

    pub->pending = 0;
    pub->done = NULL;
}


static ngx_int_t
ngx_http_llmgw_state_field(ngx_pool_t *pool,
    ngx_http_llmgw_account_change_t *ch, ngx_str_t *field)
{
    static const char  kinds[] = "?jscur";

    field->data = ngx_pnalloc(pool, ch->id.len + 2);
    if (field->data == NULL) {
        return NGX_ERROR;
    }

    field->data[0] = kinds[ch->kind];
    field->data[1] = ':';
    ngx_memcpy(field->data + 2, ch->id.data, ch->id.len);
    field->len = ch->id.len + 2;

    return NGX_OK;
}


static void
ngx_http_llmgw_state_tick_handler(ngx_event_t *ev)
{
    ngx_http_llmgw_state_worker_t  *w = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_http_llmgw_state_lease(w);

    if (w->leader && w->cmd == NULL) {
        ngx_http_llmgw_state_next(w);
    }

    if (w->leader && w->conf->stale && !w->stale
        && (ngx_msec_int_t) (ngx_current_msec - w->repl->read_at)
           > (ngx_msec_int_t) w->conf->stale)
    {
        w->stale = 1;
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "llmgw state stream not read for over %M ms%s",
                      w->conf->stale,
                      w->conf->on_stale == NGX_HTTP_LLMGW_STATE_REFUSE
                      ? ": tokens refused"
                      : w->conf->on_stale == NGX_HTTP_LLMGW_STATE_WITHIN
                      ? ": scopes above on_stale's refused" : "");
    }

    ngx_add_timer(&w->tick, w->conf->poll);
}


/* the lease: renewed by its holder, taken when it lapsed */

static void
ngx_http_llmgw_state_lease(ngx_http_llmgw_state_worker_t *w)
{
    ngx_atomic_uint_t               pid;
    ngx_http_llmgw_account_repl_t  *repl = w->repl;

    pid = repl->lease_pid;

    if (pid == (ngx_atomic_uint_t) ngx_pid) {
        repl->lease_until = ngx_current_msec + NGX_HTTP_LLMGW_STATE_LEASE;
        return;
    }

    w->leader = 0;

    if (pid != 0
        && (ngx_msec_int_t) (repl->lease_until - ngx_current_msec) > 0)
    {
        return;
    }

    if (!ngx_atomic_cmp_set(&repl->lease_pid, pid, ngx_pid)) {
        return;
    }

    repl->lease_until = ngx_current_msec + NGX_HTTP_LLMGW_STATE_LEASE;

    w->leader = 1;

    ngx_log_error(NGX_LOG_NOTICE, w->log, 0,
                  "llmgw state: worker %P reads the stream \"%V\"",
                  ngx_pid, &w->conf->stream);
}


static void
ngx_http_llmgw_state_next(ngx_http_llmgw_state_worker_t *w)
{
    size_t                        len;
    ngx_str_t                     keys[1], args[2];
    ngx_http_llmgw_state_conf_t  *scf = w->conf;
    u_char                        last[NGX_HTTP_LLMGW_ACCOUNT_LAST_ID];

    len = ngx_http_llmgw_account_last_id(w->zone, last);

    if (len == 0
        || (scf->resync
            && (ngx_msec_int_t) (ngx_current_msec - w->resync_at) >= 0))
    {
        w->resync = 1;
    }

    keys[0] = scf->stream;

    if (w->resync) {
        w->cmd = ngx_http_llmgw_redis_call(0, ngx_http_llmgw_state_reply, w,
                                           "state_tail", 1, keys, 0, NULL);
        w->step = w->cmd ? NGX_HTTP_LLMGW_STATE_TAIL
                         : NGX_HTTP_LLMGW_STATE_IDLE;
        return;
    }

    /* read: the library's state_read */

    args[0].data = last;
    args[0].len = len;
    ngx_str_set(&args[1], NGX_HTTP_LLMGW_STATE_COUNT);

    w->cmd = ngx_http_llmgw_redis_call(0, ngx_http_llmgw_state_reply, w,
                                       "state_read", 1, keys, 2, args);

    w->step = w->cmd ? NGX_HTTP_LLMGW_STATE_READ : NGX_HTTP_LLMGW_STATE_IDLE;

}


static void
ngx_http_llmgw_state_sent(ngx_http_llmgw_state_worker_t *w,
    ngx_http_llmgw_state_step_e step, int argc, const char **argv,
    size_t *argvlen)
{
    w->cmd = ngx_http_llmgw_redis_command(0, ngx_http_llmgw_state_reply, w,
                                          argc, argv, argvlen);

    /* NULL: no connection now; the next tick tries again */

    w->step = w->cmd ? step : NGX_HTTP_LLMGW_STATE_IDLE;
}


static void
ngx_http_llmgw_state_reply(void *data, ngx_http_llmgw_redis_status_e status,
    redisReply *reply)
{
    ngx_http_llmgw_state_worker_t  *w = data;

    ngx_int_t                    rc;
    ngx_http_llmgw_state_step_e  step;

    w->cmd = NULL;
    step = w->step;
    w->step = NGX_HTTP_LLMGW_STATE_IDLE;

    if (status != NGX_HTTP_LLMGW_REDIS_OK) {
        /* the next read goes on from the last ID, gap-free */

        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "llmgw state stream: %s",
                      status == NGX_HTTP_LLMGW_REDIS_ERROR && reply
                      ? reply->str
                      : status == NGX_HTTP_LLMGW_REDIS_TIMEOUT
                        ? "Redis timed out" : "Redis went away");
        return;
    }

    rc = NGX_OK;

    switch (step) {

    case NGX_HTTP_LLMGW_STATE_TAIL:
        ngx_http_llmgw_state_tail(w, reply);
        break;

    case NGX_HTTP_LLMGW_STATE_PAGE:
        rc = ngx_http_llmgw_state_page(w, reply);
        break;

    case NGX_HTTP_LLMGW_STATE_READ:
        rc = ngx_http_llmgw_state_entries(w, reply);
        break;

    default:
        return;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "llmgw state stream: unexpected reply");
        return;
    }

    /* a full batch, or a resync to start, follows at once */

    if (w->leader && w->cmd == NULL && (rc == NGX_AGAIN || w->resync)) {
        ngx_http_llmgw_state_next(w);
    }
}


/* the stream's tail when a resync starts: read on from it after */

static void
ngx_http_llmgw_state_tail(ngx_http_llmgw_state_worker_t *w,
    redisReply *reply)
{
    int                            argc;
    size_t                         argvlen[8];
    const char                    *argv[8];
    ngx_http_llmgw_state_conf_t   *scf = w->conf;

    w->tail_len = sizeof("0-0") - 1;
    ngx_memcpy(w->tail, "0-0", w->tail_len);

    if (reply->type == REDIS_REPLY_STRING
        && reply->len <= NGX_HTTP_LLMGW_ACCOUNT_LAST_ID)
    {
        w->tail_len = reply->len;
        ngx_memcpy(w->tail, reply->str, w->tail_len);
    }

    w->cursor_len = 1;
    w->cursor[0] = '0';

    argc = 0;
    argv[argc] = "HSCAN"; argvlen[argc++] = 5;
    argv[argc] = (const char *) scf->snapshot.data;
    argvlen[argc++] = scf->snapshot.len;
    argv[argc] = (const char *) w->cursor; argvlen[argc++] = w->cursor_len;
    argv[argc] = "COUNT"; argvlen[argc++] = 5;
    argv[argc] = NGX_HTTP_LLMGW_STATE_SCAN;
    argvlen[argc++] = sizeof(NGX_HTTP_LLMGW_STATE_SCAN) - 1;

    ngx_http_llmgw_state_sent(w, NGX_HTTP_LLMGW_STATE_PAGE, argc, argv,
                              argvlen);

}


/*
 * A page of the snapshot applied; the next asked for, or the resync done.
 * NGX_OK, NGX_ERROR: not a page.
 */

static ngx_int_t
ngx_http_llmgw_state_page(ngx_http_llmgw_state_worker_t *w,
    redisReply *reply)
{
    int                            argc;
    size_t                         argvlen[NGX_HTTP_LLMGW_REDIS_MAX_ARGS + 2];
    time_t                         now;
    ngx_uint_t                     i, expired;
    redisReply                    *c, *kv;
    const char                    *argv[NGX_HTTP_LLMGW_REDIS_MAX_ARGS + 2];
    ngx_http_llmgw_state_conf_t   *scf = w->conf;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[0]->len > NGX_INT64_LEN
        || reply->element[1]->type != REDIS_REPLY_ARRAY)
    {
        return NGX_ERROR;
    }

    c = reply->element[0];
    kv = reply->element[1];
    now = ngx_time();

    argc = 0;
    argv[argc] = "HDEL"; argvlen[argc++] = 4;
    argv[argc] = (const char *) scf->snapshot.data;
    argvlen[argc++] = scf->snapshot.len;

    for (i = 0; i + 1 < kv->elements; i += 2) {
        if (kv->element[i + 1]->type != REDIS_REPLY_STRING) {
            continue;
        }

        (void) ngx_http_llmgw_account_commit_line(w->zone,
                                         (u_char *) kv->element[i + 1]->str,
                                         kv->element[i + 1]->len, now,
                                         &expired, w->log);

        /* the snapshot forgets a revoked token that expired */

        if (expired && argc < NGX_HTTP_LLMGW_REDIS_MAX_ARGS
            && kv->element[i]->type == REDIS_REPLY_STRING)
        {
            argv[argc] = kv->element[i]->str;
            argvlen[argc++] = kv->element[i]->len;
        }
    }

    if (argc > 2) {
        (void) ngx_http_llmgw_redis_command(0, ngx_http_llmgw_state_ignore,
                                            NULL, argc, argv, argvlen);
    }

    if (c->len == 1 && c->str[0] == '0') {
        ngx_http_llmgw_account_set_last_id(w->zone, w->tail, w->tail_len, 1);

        w->resync = 0;
        w->resync_at = ngx_current_msec + scf->resync;
        w->repl->read_at = ngx_current_msec;
        w->stale = 0;
        (void) ngx_atomic_fetch_add(&w->repl->resyncs, 1);

        ngx_log_error(NGX_LOG_NOTICE, w->log, 0,
                      "llmgw state: full resync from \"%V\" done, reading "
                      "the stream from %*s", &scf->snapshot,
                      w->tail_len, w->tail);
        return NGX_OK;
    }

    w->cursor_len = c->len;
    ngx_memcpy(w->cursor, c->str, c->len);

    argc = 0;
    argv[argc] = "HSCAN"; argvlen[argc++] = 5;
    argv[argc] = (const char *) scf->snapshot.data;
    argvlen[argc++] = scf->snapshot.len;
    argv[argc] = (const char *) w->cursor; argvlen[argc++] = w->cursor_len;
    argv[argc] = "COUNT"; argvlen[argc++] = 5;
    argv[argc] = NGX_HTTP_LLMGW_STATE_SCAN;
    argvlen[argc++] = sizeof(NGX_HTTP_LLMGW_STATE_SCAN) - 1;

    ngx_http_llmgw_state_sent(w, NGX_HTTP_LLMGW_STATE_PAGE, argc, argv,
                              argvlen);


    return NGX_OK;
}


/*
 * state_read's entries applied in order.  NGX_OK; NGX_AGAIN: a full
 * batch, read on at once; NGX_ERROR: not state_read's reply.
 */

static ngx_int_t
ngx_http_llmgw_state_entries(ngx_http_llmgw_state_worker_t *w,
    redisReply *reply)
{
    time_t       now;
    ngx_uint_t   i, expired;
    redisReply  *entries, *e, *f;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_ARRAY)
    {
        return NGX_ERROR;
    }

    w->repl->read_at = ngx_current_msec;

    if (w->stale) {
        w->stale = 0;
        ngx_log_error(NGX_LOG_NOTICE, w->log, 0,
                      "llmgw state stream read again");
    }

    if (ngx_strcmp(reply->element[0]->str, "gone") == 0) {
        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "llmgw state stream \"%V\" trimmed past the last "
                      "entry read: full resync", &w->conf->stream);
        w->resync = 1;
        return NGX_OK;
    }

    entries = reply->element[1];
    now = ngx_time();

    for (i = 0; i < entries->elements; i++) {
        e = entries->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
            || e->element[0]->type != REDIS_REPLY_STRING
            || e->element[1]->type != REDIS_REPLY_ARRAY)
        {
            return NGX_ERROR;
        }

        f = e->element[1];

        if (f->elements == 2
            && f->element[0]->type == REDIS_REPLY_STRING
            && f->element[1]->type == REDIS_REPLY_STRING
            && ngx_strcmp(f->element[0]->str, "change") == 0)
        {
            (void) ngx_http_llmgw_account_commit_line(w->zone,
                                             (u_char *) f->element[1]->str,
                                             f->element[1]->len, now,
                                             &expired, w->log);

        } else {
            ngx_log_error(NGX_LOG_ERR, w->log, 0,
                          "llmgw state stream entry %s ignored: not a "
                          "change", e->element[0]->str);
        }

        ngx_http_llmgw_account_set_last_id(w->zone,
                                           (u_char *) e->element[0]->str,
                                           e->element[0]->len, 0);

        (void) ngx_atomic_fetch_add(&w->repl->applied, 1);
    }

    return (entries->elements >= NGX_HTTP_LLMGW_STATE_BATCH) ? NGX_AGAIN
                                                             : NGX_OK;
}


static void
ngx_http_llmgw_state_ignore(void *data, ngx_http_llmgw_redis_status_e status,
    redisReply *reply)
{
}


ngx_uint_t
ngx_http_llmgw_state_stale(void)
{
    ngx_http_llmgw_state_worker_t  *w = &ngx_http_llmgw_state_worker;

    if (w->conf == NULL
        || w->conf->on_stale == NGX_HTTP_LLMGW_STATE_SERVE
        || w->conf->stale == 0
        || (ngx_msec_int_t) (ngx_current_msec - w->repl->read_at)
           <= (ngx_msec_int_t) w->conf->stale)
    {
        return NGX_HTTP_LLMGW_STATE_SERVE;
    }

    return w->conf->on_stale;
}


ngx_int_t
ngx_http_llmgw_state_lag(ngx_msec_t *lag)
{
    ngx_msec_int_t                  d;
    ngx_http_llmgw_state_worker_t  *w = &ngx_http_llmgw_state_worker;

    if (w->conf == NULL) {
        return NGX_DECLINED;
    }

    /* read_at is another worker's clock, which may be a little ahead */

    d = (ngx_msec_int_t) (ngx_current_msec - w->repl->read_at);
    *lag = (d > 0) ? (ngx_msec_t) d : 0;

    return NGX_OK;
}
