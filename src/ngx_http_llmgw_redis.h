
/*
 * Copyright (C) llmgw authors
 *
 * The project's one way to talk to Redis: hiredis's async API on nginx's
 * event loop.  One connection per worker, opened in init_process and
 * closed in exit_process; the fd wrapped in an ngx_connection_t; a
 * non-blocking connect to an address resolved when the configuration is
 * read; AUTH and SELECT and the llmgw library (ngx_http_llmgw_redis_lib.h)
 * loaded on every (re)connect; reconnects with jittered exponential
 * backoff; a periodic PING as the liveness check.
 *
 * Every command has a deadline (an nginx timer: hiredis 0.14 has no async
 * timeout) and a handle its caller may cancel.  hiredis keeps the
 * command's privdata until it calls back (with the reply, or NULL when
 * the connection goes): the handle lives until then, so the late reply of
 * a timed-out or canceled command is dropped without touching its caller.
 *
 * The worker's state and counters (up, commands, errors, timeouts,
 * reconnects) live in a small shared zone, a slot per worker, for the
 * metrics endpoint of any worker to show.
 */


#ifndef _NGX_HTTP_LLMGW_REDIS_H_INCLUDED_
#define _NGX_HTTP_LLMGW_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/hiredis.h>


/* the most keys and arguments a script call passes */
#define NGX_HTTP_LLMGW_REDIS_MAX_ARGS  16


typedef enum {
    NGX_HTTP_LLMGW_REDIS_OK = 0,        /* a reply, not an error reply */
    NGX_HTTP_LLMGW_REDIS_ERROR,         /* Redis answered with an error */
    NGX_HTTP_LLMGW_REDIS_TIMEOUT,       /* no answer within the deadline */
    NGX_HTTP_LLMGW_REDIS_DOWN           /* the connection went first */
} ngx_http_llmgw_redis_status_e;


typedef struct ngx_http_llmgw_redis_cmd_s  ngx_http_llmgw_redis_cmd_t;


/*
 * How a command ended, called once per command unless it was canceled.
 * reply: the reply for OK and ERROR (an error reply: reply->str), NULL
 * otherwise; valid only during the call: copy what is needed.  After the
 * call the handle is gone: never cancel it then.
 */
typedef void (*ngx_http_llmgw_redis_handler_pt)(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply);


/* llmgw_redis: read-only once the configuration is read */

typedef struct {
    ngx_str_t                  name;         /* the address as given */
    char                      *host;         /* IP text, or a unix path */
    int                        port;         /* 0: a unix socket */
    ngx_str_t                  user;         /* empty: AUTH password */
    ngx_str_t                  password;     /* empty: no AUTH */
    ngx_uint_t                 db;
    ngx_msec_t                 timeout;      /* a command's default */
    ngx_msec_t                 connect_timeout;
    ngx_msec_t                 ping;
    ngx_msec_t                 backoff_min;
    ngx_msec_t                 backoff_max;
    ngx_str_t                  library;      /* FUNCTION LOAD text */
    ngx_str_t                  script;       /* EVAL text */
    u_char                     sha[41];      /* the script's SHA1, hex */
    ngx_shm_zone_t            *zone;         /* the workers' counters */
} ngx_http_llmgw_redis_conf_t;


/*
 * The llmgw_redis directive of a main configuration: sets the
 * ngx_http_llmgw_redis_conf_t * at cmd->offset of conf.
 */
char *ngx_http_llmgw_redis_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* from the module's init_process and exit_process hooks */
ngx_int_t ngx_http_llmgw_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_llmgw_redis_conf_t *rcf);
void ngx_http_llmgw_redis_exit_process(void);

/*
 * Sends argv[0 .. argc - 1] with a deadline of timeout ms (0: the
 * configured timeout=).  The handle, or NULL when the command could not
 * be sent (no connection, no memory): then handler is never called and
 * the caller decides at once (its Redis-down policy).
 */
ngx_http_llmgw_redis_cmd_t *ngx_http_llmgw_redis_command(ngx_msec_t timeout,
    ngx_http_llmgw_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen);

/*
 * Calls the llmgw library's function name (ngx_http_llmgw_redis_lib.h:
 * "gcra", "quota" ...) with keys and args: FCALL llmgw_NAME, or EVALSHA
 * where Functions are unavailable.  When Redis lost the library (a
 * restart: "Function not found", NOSCRIPT) it is loaded again and the call
 * retried once, within the same deadline.  As ..._command otherwise.
 */
ngx_http_llmgw_redis_cmd_t *ngx_http_llmgw_redis_call(ngx_msec_t timeout,
    ngx_http_llmgw_redis_handler_pt handler, void *data, const char *name,
    ngx_uint_t nkeys, ngx_str_t *keys, ngx_uint_t nargs, ngx_str_t *args);

/*
 * The caller is gone (its request ended): handler is not called and the
 * reply, whenever it comes, is dropped.  Only before handler was called.
 */
void ngx_http_llmgw_redis_cancel(ngx_http_llmgw_redis_cmd_t *cmd);

/* 1 when this worker's connection is up and set up, else 0 */
ngx_uint_t ngx_http_llmgw_redis_up(void);

/*
 * The llmgw_redis_* families of the Prometheus exposition, every worker's
 * slot, into pool; empty when llmgw_redis is not configured.  NGX_OK or
 * NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_redis_metrics(ngx_pool_t *pool, ngx_str_t *text);


#endif /* _NGX_HTTP_LLMGW_REDIS_H_INCLUDED_ */
