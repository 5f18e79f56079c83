
/*
 * Copyright (C) llmgw authors
 *
 * The DPoP replay check in Redis: one SET NX a proof, sent through the
 * worker's Redis connection; the request waits for it as STYLE.md rule 8
 * says and is resumed with the verdict, or with the zone's down= policy
 * when the command could not be sent, failed or timed out.  The key's
 * expiry is absolute (PXAT, Redis 6.2): every node agrees on when a proof
 * stops mattering, however late its command arrives.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_wait.h"
#include "ngx_http_llmgw_redis.h"
#include "ngx_http_llmgw_replay_redis.h"


#define NGX_HTTP_LLMGW_REPLAY_REDIS_TIMEOUT  50
#define NGX_HTTP_LLMGW_REPLAY_REDIS_KEY_LEN  32


/* one check of a request, in its pool */

typedef struct {
    ngx_http_request_t                    *request;
    ngx_http_llmgw_replay_redis_conf_t    *conf;
    ngx_http_llmgw_redis_cmd_t            *cmd;
    ngx_int_t                              rc;
    unsigned                               done:1;
    unsigned                               waiting:1;
} ngx_http_llmgw_replay_redis_op_t;


static ngx_int_t ngx_http_llmgw_replay_redis_send(
    ngx_http_llmgw_replay_redis_op_t *op, u_char *key, int64_t expires);
static void ngx_http_llmgw_replay_redis_reply(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply);
static void ngx_http_llmgw_replay_redis_down(
    ngx_http_llmgw_replay_redis_op_t *op, const char *what);
static void ngx_http_llmgw_replay_redis_cleanup(void *data);


static const char  *ngx_http_llmgw_replay_redis_policies[] = {
    "closed", "open"
};

static time_t      ngx_http_llmgw_replay_redis_logged;


ngx_http_llmgw_replay_redis_conf_t *
ngx_http_llmgw_replay_redis_conf(ngx_conf_t *cf, ngx_str_t *params,
    ngx_uint_t n)
{
    ngx_str_t                            v;
    ngx_uint_t                           i;
    ngx_msec_t                           ms;
    ngx_http_llmgw_replay_redis_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_replay_redis_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->timeout = NGX_HTTP_LLMGW_REPLAY_REDIS_TIMEOUT;
    conf->down = NGX_HTTP_LLMGW_REPLAY_REDIS_CLOSED;

    for (i = 0; i < n; i++) {

        if (params[i].len > 8
            && ngx_strncmp(params[i].data, "timeout=", 8) == 0)
        {
            v.data = params[i].data + 8;
            v.len = params[i].len - 8;

            ms = ngx_parse_time(&v, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                goto invalid;
            }

            conf->timeout = ms;
            continue;
        }

        if (params[i].len == 9
            && ngx_strncmp(params[i].data, "down=open", 9) == 0)
        {
            conf->down = NGX_HTTP_LLMGW_REPLAY_REDIS_OPEN;
            continue;
        }

        if (params[i].len == 11
            && ngx_strncmp(params[i].data, "down=closed", 11) == 0)
        {
            conf->down = NGX_HTTP_LLMGW_REPLAY_REDIS_CLOSED;
            continue;
        }

        goto invalid;
    }

    return conf;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "llmgw_dpop_zone: invalid parameter \"%V\"",
                       &params[i]);

    return NULL;
}


ngx_int_t
ngx_http_llmgw_replay_redis_check(ngx_http_request_t *r,
    ngx_http_llmgw_replay_redis_conf_t *conf, u_char *key, int64_t expires,
    void **state)
{
    ngx_pool_cleanup_t                *cln;
    ngx_http_llmgw_replay_redis_op_t  *op;

    op = *state;

    if (op != NULL) {
        return op->done ? op->rc : NGX_AGAIN;
    }

    op = ngx_pcalloc(r->pool, sizeof(ngx_http_llmgw_replay_redis_op_t));
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->request = r;
    op->conf = conf;

    *state = op;

    /* a pending command is canceled however the request ends */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_llmgw_replay_redis_cleanup;
    cln->data = op;

    if (ngx_http_llmgw_replay_redis_send(op, key, expires) != NGX_OK) {
        ngx_http_llmgw_replay_redis_down(op, "not connected");
        op->done = 1;
        return op->rc;
    }

    op->waiting = 1;

    return ngx_http_llmgw_wait_start(r);
}


static ngx_int_t
ngx_http_llmgw_replay_redis_send(ngx_http_llmgw_replay_redis_op_t *op,
    u_char *key, int64_t expires)
{
    u_char       *p;
    u_char        name[sizeof("llmgw:dpop:{}") - 1
                       + 2 * NGX_HTTP_LLMGW_REPLAY_REDIS_KEY_LEN];
    u_char        at[NGX_INT64_LEN];
    size_t        argvlen[6];
    const char   *argv[6];

    p = ngx_cpymem(name, "llmgw:dpop:{", sizeof("llmgw:dpop:{") - 1);
    p = ngx_hex_dump(p, key, NGX_HTTP_LLMGW_REPLAY_REDIS_KEY_LEN);
    *p++ = '}';

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (const char *) name;
    argvlen[1] = p - name;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = "NX";
    argvlen[3] = 2;
    argv[4] = "PXAT";
    argvlen[4] = 4;
    argv[5] = (const char *) at;
    argvlen[5] = ngx_sprintf(at, "%L", expires) - at;

    /* hiredis copies the arguments into its output buffer at once */

    op->cmd = ngx_http_llmgw_redis_command(op->conf->timeout,
                                           ngx_http_llmgw_replay_redis_reply,
                                           op, 6, argv, argvlen);

    return (op->cmd != NULL) ? NGX_OK : NGX_ERROR;
}


/* OK: first seen; nil: NX found the key, the proof was seen before */

static void
ngx_http_llmgw_replay_redis_reply(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply)
{
    ngx_http_llmgw_replay_redis_op_t *op = data;

    op->cmd = NULL;
    op->waiting = 0;

    if (status == NGX_HTTP_LLMGW_REDIS_OK
        && reply->type == REDIS_REPLY_NIL)
    {
        op->rc = NGX_DECLINED;

    } else if (status == NGX_HTTP_LLMGW_REDIS_OK
               && reply->type == REDIS_REPLY_STATUS
               && reply->len == 2
               && ngx_strncmp(reply->str, "OK", 2) == 0)
    {
        op->rc = NGX_OK;

    } else {
        ngx_http_llmgw_replay_redis_down(op,
            (status == NGX_HTTP_LLMGW_REDIS_TIMEOUT) ? "timed out"
            : (status == NGX_HTTP_LLMGW_REDIS_DOWN) ? "connection lost"
            : "error reply");
    }

    op->done = 1;

    ngx_http_llmgw_wait_resume(op->request);
}


/*
 * Redis did not answer: the zone's policy answers now, and a line says
 * so at most once a second per worker.
 */

static void
ngx_http_llmgw_replay_redis_down(ngx_http_llmgw_replay_redis_op_t *op,
    const char *what)
{
    if (ngx_http_llmgw_replay_redis_logged != ngx_time()) {
        ngx_http_llmgw_replay_redis_logged = ngx_time();

        ngx_log_error(NGX_LOG_ERR, op->request->connection->log, 0,
                      "llmgw: DPoP replay check: Redis %s, down=%s applies",
                      what,
                      ngx_http_llmgw_replay_redis_policies[op->conf->down]);
    }

    op->rc = (op->conf->down == NGX_HTTP_LLMGW_REPLAY_REDIS_OPEN)
             ? NGX_OK : NGX_BUSY;
}



/* the request went while its command was in flight: the reply is dropped */

static void
ngx_http_llmgw_replay_redis_cleanup(void *data)
{
    ngx_http_llmgw_replay_redis_op_t *op = data;

    if (op->waiting) {
        ngx_http_llmgw_redis_cancel(op->cmd);
        op->waiting = 0;
        op->cmd = NULL;
    }
}
