
/*
 * Copyright (C) llmgw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <openssl/evp.h>

#include "ngx_http_llmgw_redis.h"
#include "ngx_http_llmgw_redis_lib.h"
#include "ngx_http_llmgw_secret.h"


/* the workers' counters: a slot each, for at most this many workers */
#define NGX_HTTP_LLMGW_REDIS_SLOTS       128
#define NGX_HTTP_LLMGW_REDIS_ZONE_SIZE   (64 * 1024)

/* PINGs unanswered in a row before the connection is given up */
#define NGX_HTTP_LLMGW_REDIS_PING_LOST   3

/* reads of 16k in a row before other events get their turn */
#define NGX_HTTP_LLMGW_REDIS_READS       64

/* failure lines a worker writes in one second, at most */
#define NGX_HTTP_LLMGW_REDIS_LOG_BURST   3


typedef struct {
    ngx_pid_t                  pid;          /* the worker writing it */
    ngx_uint_t                 up;
    uint64_t                   commands;
    uint64_t                   errors;
    uint64_t                   timeouts;
    uint64_t                   reconnects;
} ngx_http_llmgw_redis_slot_t;


typedef struct {
    ngx_http_llmgw_redis_slot_t  slots[NGX_HTTP_LLMGW_REDIS_SLOTS];
} ngx_http_llmgw_redis_sh_t;


struct ngx_http_llmgw_redis_cmd_s {
    ngx_http_llmgw_redis_handler_pt  handler;  /* NULL: ended or canceled */
    void                            *data;
    ngx_event_t                      timer;
    ngx_queue_t                      queue;    /* in flight, handler set */
    char                            *formatted; /* kept for a retry */
    size_t                           len;
    unsigned                         call:1;
    unsigned                         retried:1;
};


/* the worker's one connection and what belongs to it */

typedef struct {
    ngx_http_llmgw_redis_conf_t   *conf;
    redisAsyncContext             *ac;       /* NULL: no connection */
    ngx_connection_t              *c;
    ngx_log_t                     *log;
    ngx_event_t                    reconnect;
    ngx_event_t                    setup;    /* connect and set up by */
    ngx_event_t                    ping;
    ngx_queue_t                    cmds;
    ngx_msec_t                     backoff;
    ngx_uint_t                     ping_lost;
    ngx_http_llmgw_redis_slot_t   *slot;     /* NULL: no counters */
    ngx_http_llmgw_redis_sh_t     *sh;
    time_t                         log_sec;
    ngx_uint_t                     log_lines;
    unsigned                       up:1;
    unsigned                       functions:1; /* FCALL, else EVALSHA */
    unsigned                       writing:1;
    unsigned                       connected_once:1;
    unsigned                       closing:1;
} ngx_http_llmgw_redis_t;


static char *ngx_http_llmgw_redis_param(ngx_conf_t *cf,
    ngx_http_llmgw_redis_conf_t *rcf, ngx_str_t *v);
static char *ngx_http_llmgw_redis_address(ngx_conf_t *cf,
    ngx_http_llmgw_redis_conf_t *rcf, ngx_str_t *v);
static ngx_int_t ngx_http_llmgw_redis_sha1(ngx_str_t *text, u_char *hex);
static ngx_int_t ngx_http_llmgw_redis_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);

static void ngx_http_llmgw_redis_connect(void);
static ngx_int_t ngx_http_llmgw_redis_attach(redisAsyncContext *ac);
static void ngx_http_llmgw_redis_session(redisAsyncContext *ac);
static void ngx_http_llmgw_redis_schedule(void);
static void ngx_http_llmgw_redis_set_up(ngx_uint_t up);
static ngx_uint_t ngx_http_llmgw_redis_log_ok(void);

static void ngx_http_llmgw_redis_read_handler(ngx_event_t *rev);
static void ngx_http_llmgw_redis_write_handler(ngx_event_t *wev);
static void ngx_http_llmgw_redis_add_read(void *privdata);
static void ngx_http_llmgw_redis_del_read(void *privdata);
static void ngx_http_llmgw_redis_add_write(void *privdata);
static void ngx_http_llmgw_redis_del_write(void *privdata);
static void ngx_http_llmgw_redis_cleanup(void *privdata);

static void ngx_http_llmgw_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_llmgw_redis_setup_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_llmgw_redis_library_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_llmgw_redis_ready_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_llmgw_redis_load(redisAsyncContext *ac,
    ngx_uint_t functions, void *privdata);

static void ngx_http_llmgw_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_http_llmgw_redis_setup_handler(ngx_event_t *ev);
static void ngx_http_llmgw_redis_ping_handler(ngx_event_t *ev);
static void ngx_http_llmgw_redis_pong(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply);

static ngx_http_llmgw_redis_cmd_t *ngx_http_llmgw_redis_send(
    ngx_msec_t timeout, ngx_http_llmgw_redis_handler_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen,
    ngx_uint_t call);
static void ngx_http_llmgw_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static ngx_uint_t ngx_http_llmgw_redis_missing(redisReply *reply);
static void ngx_http_llmgw_redis_timeout_handler(ngx_event_t *ev);
static void ngx_http_llmgw_redis_finish(ngx_http_llmgw_redis_cmd_t *cmd,
    ngx_http_llmgw_redis_status_e status, redisReply *reply);
static void ngx_http_llmgw_redis_free(ngx_http_llmgw_redis_cmd_t *cmd);

static u_char *ngx_http_llmgw_redis_family(u_char *p, const char *name,
    const char *type, const char *help, ngx_uint_t nworkers, size_t field);


static ngx_uint_t               ngx_http_llmgw_redis_tag;

/* one a worker: nginx workers are single-threaded processes */
static ngx_http_llmgw_redis_t   ngx_http_llmgw_redis;


/* the Prometheus families: name, type, help, the slot's field */

typedef struct {
    const char                    *name;
    const char                    *type;
    const char                    *help;
    size_t                         field;
} ngx_http_llmgw_redis_family_t;


static ngx_http_llmgw_redis_family_t  ngx_http_llmgw_redis_families[] = {

    { "llmgw_redis_up", "gauge",
      "Whether the worker's Redis connection is up and set up (1) or not (0).",
      offsetof(ngx_http_llmgw_redis_slot_t, up) },

    { "llmgw_redis_commands_total", "counter",
      "Commands the worker sent to Redis, PINGs included.",
      offsetof(ngx_http_llmgw_redis_slot_t, commands) },

    { "llmgw_redis_errors_total", "counter",
      "Commands answered with an error or lost with the connection.",
      offsetof(ngx_http_llmgw_redis_slot_t, errors) },

    { "llmgw_redis_timeouts_total", "counter",
      "Commands not answered within their deadline.",
      offsetof(ngx_http_llmgw_redis_slot_t, timeouts) },

    { "llmgw_redis_reconnects_total", "counter",
      "Connection attempts after a failure or a lost connection.",
      offsetof(ngx_http_llmgw_redis_slot_t, reconnects) },

    { NULL, NULL, NULL, 0 }
};


/* configuration */

/*
 * llmgw_redis ADDRESS [db=N] [user=NAME] [password=file=PATH|env=NAME]
 *     [timeout=TIME] [connect_timeout=TIME] [ping=TIME]
 *     [backoff=MIN:MAX];
 */

char *
ngx_http_llmgw_redis_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    char                          *rv;
    ngx_str_t                     *value, name;
    ngx_uint_t                     i;
    ngx_http_llmgw_redis_conf_t  **field, *rcf;

    field = (ngx_http_llmgw_redis_conf_t **) (p + cmd->offset);

    if (*field != NULL) {
        return "is duplicate";
    }

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_redis_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    rcf->timeout = 100;
    rcf->connect_timeout = 1000;
    rcf->ping = 1000;
    rcf->backoff_min = 100;
    rcf->backoff_max = 10000;

    value = cf->args->elts;

    rv = ngx_http_llmgw_redis_address(cf, rcf, &value[1]);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        rv = ngx_http_llmgw_redis_param(cf, rcf, &value[i]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (rcf->backoff_min > rcf->backoff_max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw_redis backoff= minimum exceeds maximum");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llmgw_redis_lib(cf->pool, &rcf->library, &rcf->script)
        != NGX_OK
        || ngx_http_llmgw_redis_sha1(&rcf->script, rcf->sha) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&name, "llmgw_redis");

    rcf->zone = ngx_shared_memory_add(cf, &name,
                                      NGX_HTTP_LLMGW_REDIS_ZONE_SIZE,
                                      &ngx_http_llmgw_redis_tag);
    if (rcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    rcf->zone->init = ngx_http_llmgw_redis_init_zone;

    *field = rcf;

    return NGX_CONF_OK;
}


/*
 * The address resolved now: hiredis's connect would resolve a name
 * synchronously in the worker.  The first address is used.
 */

static char *
ngx_http_llmgw_redis_address(ngx_conf_t *cf, ngx_http_llmgw_redis_conf_t *rcf,
    ngx_str_t *v)
{
    u_char     *p;
    size_t      len;
    ngx_url_t   u;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *v;
    u.default_port = 6379;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in llmgw_redis \"%V\"", u.err, v);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw_redis \"%V\" has no address", v);
        return NGX_CONF_ERROR;
    }

    rcf->name = *v;

#if (NGX_HAVE_UNIX_DOMAIN)

    if (u.family == AF_UNIX) {
        rcf->host = (char *) ((struct sockaddr_un *) u.addrs[0].sockaddr)
                                 ->sun_path;
        rcf->port = 0;
        return NGX_CONF_OK;
    }

#endif

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, p,
                        NGX_SOCKADDR_STRLEN, 0);
    p[len] = '\0';

    rcf->host = (char *) p;
    rcf->port = ngx_inet_get_port(u.addrs[0].sockaddr);

    return NGX_CONF_OK;
}


static char *
ngx_http_llmgw_redis_param(ngx_conf_t *cf, ngx_http_llmgw_redis_conf_t *rcf,
    ngx_str_t *v)
{
    u_char      *colon;
    ngx_int_t    n;
    ngx_str_t    s, t;
    ngx_msec_t  *ms;

    if (v->len > 3 && ngx_strncmp(v->data, "db=", 3) == 0) {
        n = ngx_atoi(v->data + 3, v->len - 3);

        if (n == NGX_ERROR) {
            goto invalid;
        }

        rcf->db = n;
        return NGX_CONF_OK;
    }

    if (v->len > 5 && ngx_strncmp(v->data, "user=", 5) == 0) {
        rcf->user.data = v->data + 5;
        rcf->user.len = v->len - 5;
        return NGX_CONF_OK;
    }

    if (v->len > 9 && ngx_strncmp(v->data, "password=", 9) == 0) {
        s.data = v->data + 9;
        s.len = v->len - 9;

        /* read here, in the master; the value is never logged */

        if (ngx_http_llmgw_secret_load(cf, &s, &rcf->password) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (v->len > 8 && ngx_strncmp(v->data, "backoff=", 8) == 0) {
        colon = ngx_strlchr(v->data + 8, v->data + v->len, ':');

        if (colon == NULL) {
            goto invalid;
        }

        s.data = v->data + 8;
        s.len = colon - s.data;
        t.data = colon + 1;
        t.len = v->data + v->len - t.data;

        rcf->backoff_min = ngx_parse_time(&s, 0);
        rcf->backoff_max = ngx_parse_time(&t, 0);

        if (rcf->backoff_min == (ngx_msec_t) NGX_ERROR
            || rcf->backoff_max == (ngx_msec_t) NGX_ERROR
            || rcf->backoff_min == 0)
        {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (v->len > 8 && ngx_strncmp(v->data, "timeout=", 8) == 0) {
        ms = &rcf->timeout;
        s.data = v->data + 8;

    } else if (v->len > 16
               && ngx_strncmp(v->data, "connect_timeout=", 16) == 0)
    {
        ms = &rcf->connect_timeout;
        s.data = v->data + 16;

    } else if (v->len > 5 && ngx_strncmp(v->data, "ping=", 5) == 0) {
        ms = &rcf->ping;
        s.data = v->data + 5;

    } else {
        goto invalid;
    }

    s.len = v->data + v->len - s.data;

    *ms = ngx_parse_time(&s, 0);

    if (*ms == (ngx_msec_t) NGX_ERROR || *ms == 0) {
        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid llmgw_redis parameter \"%V\"", v);

    return NGX_CONF_ERROR;
}


/* EVALSHA names the script by the SHA1 of its text, lowercase hex */

static ngx_int_t
ngx_http_llmgw_redis_sha1(ngx_str_t *text, u_char *hex)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  len;

    if (EVP_Digest(text->data, text->len, md, &len, EVP_sha1(), NULL) != 1
        || len != 20)
    {
        return NGX_ERROR;
    }

    *ngx_hex_dump(hex, md, len) = '\0';

    return NGX_OK;
}


/* the counters survive a reload: the new cycle takes the old zone over */

static ngx_int_t
ngx_http_llmgw_redis_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data != NULL) {
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    shm_zone->data = ngx_slab_calloc(shpool,
                                     sizeof(ngx_http_llmgw_redis_sh_t));
    if (shm_zone->data == NULL) {
        return NGX_ERROR;
    }

    shpool->data = shm_zone->data;
    shpool->log_ctx = (u_char *) " in llmgw_redis zone";

    return NGX_OK;
}


/* the worker's connection */

ngx_int_t
ngx_http_llmgw_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_llmgw_redis_conf_t *rcf)
{
    ngx_http_llmgw_redis_t  *rd = &ngx_http_llmgw_redis;

    ngx_memzero(rd, sizeof(ngx_http_llmgw_redis_t));

    rd->conf = rcf;
    rd->log = cycle->log;
    rd->backoff = rcf->backoff_min;
    ngx_queue_init(&rd->cmds);

    rd->sh = rcf->zone->data;

    if (ngx_worker < NGX_HTTP_LLMGW_REDIS_SLOTS) {
        rd->slot = &rd->sh->slots[ngx_worker];

        /* a worker of an older cycle may still run: this slot is ours */
        rd->slot->pid = ngx_pid;
        rd->slot->up = 0;
    }

    rd->reconnect.handler = ngx_http_llmgw_redis_reconnect_handler;
    rd->reconnect.log = cycle->log;
    rd->reconnect.data = rd;
    rd->reconnect.cancelable = 1;

    rd->setup.handler = ngx_http_llmgw_redis_setup_handler;
    rd->setup.log = cycle->log;
    rd->setup.data = rd;
    rd->setup.cancelable = 1;

    rd->ping.handler = ngx_http_llmgw_redis_ping_handler;
    rd->ping.log = cycle->log;
    rd->ping.data = rd;
    rd->ping.cancelable = 1;

    ngx_http_llmgw_redis_connect();

    return NGX_OK;
}


void
ngx_http_llmgw_redis_exit_process(void)
{
    ngx_queue_t                 *q;
    ngx_http_llmgw_redis_t      *rd = &ngx_http_llmgw_redis;
    ngx_http_llmgw_redis_cmd_t  *cmd;

    if (rd->conf == NULL) {
        return;
    }

    rd->closing = 1;

    if (rd->reconnect.timer_set) {
        ngx_del_timer(&rd->reconnect);
    }

    /* the requests are gone: nobody is told of the commands in flight */

    while (!ngx_queue_empty(&rd->cmds)) {
        q = ngx_queue_head(&rd->cmds);
        cmd = ngx_queue_data(q, ngx_http_llmgw_redis_cmd_t, queue);
        ngx_http_llmgw_redis_cancel(cmd);
    }

    if (rd->ac != NULL) {
        redisAsyncFree(rd->ac);
    }

    ngx_http_llmgw_redis_set_up(0);
}


static void
ngx_http_llmgw_redis_connect(void)
{
    redisAsyncContext            *ac;
    ngx_http_llmgw_redis_t       *rd = &ngx_http_llmgw_redis;
    ngx_http_llmgw_redis_conf_t  *rcf = rd->conf;

    if (rcf->port) {
        ac = redisAsyncConnect(rcf->host, rcf->port);

    } else {
        ac = redisAsyncConnectUnix(rcf->host);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ALERT, rd->log, 0,
                      "llmgw_redis: no memory for a connection");
        ngx_http_llmgw_redis_schedule();
        return;
    }

    if (ac->err) {
        if (ngx_http_llmgw_redis_log_ok()) {
            ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                          "llmgw_redis: connecting to %V failed: %s",
                          &rcf->name, ac->errstr);
        }

        redisAsyncFree(ac);
        ngx_http_llmgw_redis_schedule();
        return;
    }

    if (ngx_http_llmgw_redis_attach(ac) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_http_llmgw_redis_schedule();
        return;
    }

    rd->ac = ac;
    rd->functions = 1;
    rd->ping_lost = 0;

    ngx_add_timer(&rd->setup, rcf->connect_timeout);

    ngx_http_llmgw_redis_session(ac);
}


/*
 * The fd in an ngx_connection_t of the worker; hiredis's hooks drive its
 * events.  With epoll both events are registered once, edge-triggered.
 */

static ngx_int_t
ngx_http_llmgw_redis_attach(redisAsyncContext *ac)
{
    ngx_int_t                flags;
    ngx_connection_t        *c;
    ngx_http_llmgw_redis_t  *rd = &ngx_http_llmgw_redis;

    c = ngx_get_connection(ac->c.fd, rd->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = rd;
    c->log = rd->log;
    c->read->log = rd->log;
    c->write->log = rd->log;
    c->read->handler = ngx_http_llmgw_redis_read_handler;
    c->write->handler = ngx_http_llmgw_redis_write_handler;

    if (ngx_add_conn) {
        if (ngx_add_conn(c) == NGX_ERROR) {
            goto failed;
        }

    } else {
        flags = (ngx_event_flags & NGX_USE_CLEAR_EVENT) ? NGX_CLEAR_EVENT
                                                        : NGX_LEVEL_EVENT;

        if (ngx_add_event(c->read, NGX_READ_EVENT, flags) != NGX_OK
            || ngx_add_event(c->write, NGX_WRITE_EVENT, flags) != NGX_OK)
        {
            goto failed;
        }
    }

    rd->c = c;

    ac->data = rd;
    ac->ev.data = rd;
    ac->ev.addRead = ngx_http_llmgw_redis_add_read;
    ac->ev.delRead = ngx_http_llmgw_redis_del_read;
    ac->ev.addWrite = ngx_http_llmgw_redis_add_write;
    ac->ev.delWrite = ngx_http_llmgw_redis_del_write;
    ac->ev.cleanup = ngx_http_llmgw_redis_cleanup;

    (void) redisAsyncSetConnectCallback(ac, ngx_http_llmgw_redis_connected);

    return NGX_OK;

failed:

    /* hiredis closes the fd when the context is freed */

    if (ngx_del_conn) {
        (void) ngx_del_conn(c, NGX_CLOSE_EVENT);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    return NGX_ERROR;
}


/*
 * Queued before the connect completes, in the order Redis runs them:
 * AUTH, SELECT, the library, then a PING whose answer marks the
 * connection up.
 */

static void
ngx_http_llmgw_redis_session(redisAsyncContext *ac)
{
    int                           argc;
    size_t                        argvlen[3];
    const char                   *argv[3];
    ngx_http_llmgw_redis_conf_t  *rcf = ngx_http_llmgw_redis.conf;

    if (rcf->password.len) {
        argc = 0;

        argv[argc] = "AUTH";
        argvlen[argc++] = 4;

        if (rcf->user.len) {
            argv[argc] = (const char *) rcf->user.data;
            argvlen[argc++] = rcf->user.len;
        }

        argv[argc] = (const char *) rcf->password.data;
        argvlen[argc++] = rcf->password.len;

        (void) redisAsyncCommandArgv(ac, ngx_http_llmgw_redis_setup_reply,
                                     "AUTH", argc, argv, argvlen);
    }

    if (rcf->db) {
        (void) redisAsyncCommand(ac, ngx_http_llmgw_redis_setup_reply,
                                 "SELECT", "SELECT %d", (int) rcf->db);
    }

    ngx_http_llmgw_redis_load(ac, 1, "setup");

    (void) redisAsyncCommand(ac, ngx_http_llmgw_redis_ready_reply, NULL,
                             "PING");
}


/* FUNCTION LOAD REPLACE, or SCRIPT LOAD where Functions are unavailable */

static void
ngx_http_llmgw_redis_load(redisAsyncContext *ac, ngx_uint_t functions,
    void *privdata)
{
    size_t                        argvlen[4];
    const char                   *argv[4];
    ngx_http_llmgw_redis_conf_t  *rcf = ngx_http_llmgw_redis.conf;

    if (functions) {
        argv[0] = "FUNCTION";
        argvlen[0] = 8;
        argv[1] = "LOAD";
        argvlen[1] = 4;
        argv[2] = "REPLACE";
        argvlen[2] = 7;
        argv[3] = (const char *) rcf->library.data;
        argvlen[3] = rcf->library.len;

        (void) redisAsyncCommandArgv(ac, ngx_http_llmgw_redis_library_reply,
                                     privdata, 4, argv, argvlen);
        return;
    }

    argv[0] = "SCRIPT";
    argvlen[0] = 6;
    argv[1] = "LOAD";
    argvlen[1] = 4;
    argv[2] = (const char *) rcf->script.data;
    argvlen[2] = rcf->script.len;

    (void) redisAsyncCommandArgv(ac, ngx_http_llmgw_redis_library_reply,
                                 privdata, 3, argv, argvlen);
}


static void
ngx_http_llmgw_redis_schedule(void)
{
    ngx_msec_t               delay;
    ngx_http_llmgw_redis_t  *rd = &ngx_http_llmgw_redis;

    if (rd->closing || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    /* jitter: the workers of many nodes do not come back all at once */

    delay = rd->backoff / 2 + (ngx_msec_t) ngx_random() % (rd->backoff / 2 + 1);

    rd->backoff = ngx_min(rd->backoff * 2, rd->conf->backoff_max);

    if (!rd->reconnect.timer_set) {
        ngx_add_timer(&rd->reconnect, delay);
    }
}


static void
ngx_http_llmgw_redis_set_up(ngx_uint_t up)
{
    ngx_http_llmgw_redis_t  *rd = &ngx_http_llmgw_redis;

    rd->up = up;

    if (rd->slot != NULL && rd->slot->pid == ngx_pid) {
        rd->slot->up = up;
    }
}


/* failures are logged at a bounded rate: a few lines a second at most */

static ngx_uint_t
ngx_http_llmgw_redis_log_ok(void)
{
    ngx_http_llmgw_redis_t  *rd = &ngx_http_llmgw_redis;

    if (rd->log_sec != ngx_time()) {
        rd->log_sec = ngx_time();
        rd->log_lines = 0;
    }

    return rd->log_lines++ < NGX_HTTP_LLMGW_REDIS_LOG_BURST;
}


/* the event hooks */

/*
 * hiredis reads at most 16k at a time and does not say whether the
 * socket is drained; with edge-triggered events the rest would wait for
 * the next packet.  Read until a peek finds nothing, or post the event
 * to go on after other work.  Any call into hiredis may free the context
 * (and with it, through the cleanup hook, the connection): rd->ac tells.
 */

static void
ngx_http_llmgw_redis_read_handler(ngx_event_t *rev)
{
    u_char                   byte;
    ssize_t                  n;
    ngx_err_t                err;
    ngx_uint_t               i;
    ngx_socket_t             fd;
    redisAsyncContext       *ac;
    ngx_connection_t        *c;
    ngx_http_llmgw_redis_t  *rd;

    c = rev->data;
    rd = c->data;
    ac = rd->ac;
    fd = c->fd;

    for (i = 0; /* void */ ; i++) {
        redisAsyncHandleRead(ac);

        if (rd->ac != ac) {
            return;
        }

        if (!(ac->c.flags & REDIS_CONNECTED)) {
            /* the connect is still in progress */
            return;
        }

        if (i == NGX_HTTP_LLMGW_REDIS_READS) {
            ngx_post_event(rev, &ngx_posted_events);
            return;
        }

        n = recv(fd, &byte, 1, MSG_PEEK);

        if (n == -1) {
            err = ngx_socket_errno;

            if (err == NGX_EAGAIN) {
                rev->ready = 0;
                break;
            }

            if (err == NGX_EINTR) {
                continue;
            }
        }

        /* data, the end, or an error: hiredis reads and sees it */
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        redisAsyncFree(ac);
    }
}


static void
ngx_http_llmgw_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t        *c;
    ngx_http_llmgw_redis_t  *rd;

    c = wev->data;
    rd = c->data;

    rd->writing = 1;
    redisAsyncHandleWrite(rd->ac);
    rd->writing = 0;
}


static void
ngx_http_llmgw_redis_add_read(void *privdata)
{
    ngx_http_llmgw_redis_t *rd = privdata;

    if (ngx_handle_read_event(rd->c->read, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, rd->log, 0,
                      "llmgw_redis: could not add the read event");
    }
}


static void
ngx_http_llmgw_redis_del_read(void *privdata)
{
    ngx_http_llmgw_redis_t *rd = privdata;

    ngx_event_t  *rev = rd->c->read;

    if (!(ngx_event_flags & NGX_USE_CLEAR_EVENT) && rev->active) {
        (void) ngx_del_event(rev, NGX_READ_EVENT, 0);
    }
}


/*
 * A command was queued.  A socket known to be writable is written from
 * the posted events of this loop iteration (commands queued meanwhile
 * go out together); a short write inside the write handler means the
 * socket is full: wait for the edge.
 */

static void
ngx_http_llmgw_redis_add_write(void *privdata)
{
    ngx_http_llmgw_redis_t *rd = privdata;

    ngx_event_t  *wev = rd->c->write;

    if (rd->writing) {
        wev->ready = 0;
    }

    if (wev->ready) {
        if (!wev->posted) {
            ngx_post_event(wev, &ngx_posted_events);
        }

        return;
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, rd->log, 0,
                      "llmgw_redis: could not add the write event");
    }
}


static void
ngx_http_llmgw_redis_del_write(void *privdata)
{
    ngx_http_llmgw_redis_t *rd = privdata;

    ngx_event_t  *wev = rd->c->write;

    if (!(ngx_event_flags & NGX_USE_CLEAR_EVENT) && wev->active) {
        (void) ngx_del_event(wev, NGX_WRITE_EVENT, 0);
    }
}


/*
 * hiredis frees the context: every command in flight has been called back
 * with NULL already.  The nginx connection goes, the fd stays for hiredis
 * to close (closing it here too would close whatever reused the number).
 */

static void
ngx_http_llmgw_redis_cleanup(void *privdata)
{
    ngx_http_llmgw_redis_t *rd = privdata;

    ngx_connection_t  *c;

    c = rd->c;

    if (c != NULL) {
        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        if (ngx_del_conn) {
            (void) ngx_del_conn(c, NGX_CLOSE_EVENT);

        } else {
            if (c->read->active) {
                (void) ngx_del_event(c->read, NGX_READ_EVENT,
                                     NGX_CLOSE_EVENT);
            }

            if (c->write->active) {
                (void) ngx_del_event(c->write, NGX_WRITE_EVENT,
                                     NGX_CLOSE_EVENT);
            }
        }

        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;
        rd->c = NULL;
    }

    rd->ac = NULL;

    if (rd->up && !rd->closing && ngx_http_llmgw_redis_log_ok()) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "llmgw_redis: connection to %V lost",
                      &rd->conf->name);
    }

    ngx_http_llmgw_redis_set_up(0);

    if (rd->setup.timer_set) {
        ngx_del_timer(&rd->setup);
    }

    if (rd->ping.timer_set) {
        ngx_del_timer(&rd->ping);
    }

    ngx_http_llmgw_redis_schedule();
}


/* the session */

static void
ngx_http_llmgw_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_llmgw_redis_t  *rd = &ngx_http_llmgw_redis;

    if (status != REDIS_OK && ngx_http_llmgw_redis_log_ok()) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "llmgw_redis: connecting to %V failed: %s",
                      &rd->conf->name, ac->errstr);
    }
}


/* AUTH and SELECT: an error ends the connection (the reply never holds
   the password: Redis answers WRONGPASS or NOAUTH) */

static void
ngx_http_llmgw_redis_setup_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply              *reply = r;
    ngx_http_llmgw_redis_t  *rd = &ngx_http_llmgw_redis;

    if (reply == NULL || reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    if (ngx_http_llmgw_redis_log_ok()) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "llmgw_redis: %s on %V failed: %s",
                      (char *) privdata, &rd->conf->name, reply->str);
    }

    redisAsyncFree(ac);
}


/*
 * The library loaded.  Where FUNCTION LOAD is refused (Redis before 7, an
 * ACL without it), the script is loaded instead and calls use EVALSHA.
 */

static void
ngx_http_llmgw_redis_library_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply              *reply = r;
    ngx_http_llmgw_redis_t  *rd = &ngx_http_llmgw_redis;

    if (reply == NULL || reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    if (rd->functions) {
        rd->functions = 0;

        if (ngx_http_llmgw_redis_log_ok()) {
            ngx_log_error(NGX_LOG_NOTICE, rd->log, 0,
                          "llmgw_redis: FUNCTION LOAD on %V failed: %s; "
                          "using EVALSHA", &rd->conf->name, reply->str);
        }

        ngx_http_llmgw_redis_load(ac, 0, privdata);
        return;
    }

    if (ngx_http_llmgw_redis_log_ok()) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "llmgw_redis: SCRIPT LOAD on %V failed: %s",
                      &rd->conf->name, reply->str);
    }
}


static void
ngx_http_llmgw_redis_ready_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_uint_t               level;
    redisReply              *reply = r;
    ngx_http_llmgw_redis_t  *rd = &ngx_http_llmgw_redis;

    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        if (ngx_http_llmgw_redis_log_ok()) {
            ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                          "llmgw_redis: %V not ready: %s",
                          &rd->conf->name, reply->str);
        }

        redisAsyncFree(ac);
        return;
    }

    if (rd->setup.timer_set) {
        ngx_del_timer(&rd->setup);
    }

    level = rd->connected_once ? NGX_LOG_NOTICE : NGX_LOG_INFO;

    ngx_log_error(level, rd->log, 0, "llmgw_redis: %s to %V%s",
                  rd->connected_once ? "reconnected" : "connected",
                  &rd->conf->name,
                  rd->functions ? "" : " (scripts, no Functions)");

    rd->connected_once = 1;
    rd->backoff = rd->conf->backoff_min;

    ngx_http_llmgw_redis_set_up(1);

    ngx_add_timer(&rd->ping, rd->conf->ping);
}


/* timers */

static void
ngx_http_llmgw_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_http_llmgw_redis_t  *rd = ev->data;

    if (rd->closing || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (rd->slot != NULL && rd->slot->pid == ngx_pid) {
        rd->slot->reconnects++;
    }

    ngx_http_llmgw_redis_connect();
}


static void
ngx_http_llmgw_redis_setup_handler(ngx_event_t *ev)
{
    ngx_http_llmgw_redis_t  *rd = ev->data;

    if (ngx_http_llmgw_redis_log_ok()) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "llmgw_redis: %V not connected and set up within "
                      "%M ms", &rd->conf->name, rd->conf->connect_timeout);
    }

    if (rd->ac != NULL) {
        redisAsyncFree(rd->ac);
    }
}


static void
ngx_http_llmgw_redis_ping_handler(ngx_event_t *ev)
{
    ngx_http_llmgw_redis_t  *rd = ev->data;

    const char  *argv[1] = { "PING" };
    size_t       argvlen[1] = { 4 };

    /* a worker shutting down gracefully keeps the connection for the
       requests it still serves, but checks it no more */

    if (rd->ac == NULL || rd->closing || ngx_exiting) {
        return;
    }

    (void) ngx_http_llmgw_redis_command(rd->conf->ping,
                                        ngx_http_llmgw_redis_pong, rd, 1,
                                        argv, argvlen);

    ngx_add_timer(&rd->ping, rd->conf->ping);
}


/*
 * A slow Redis is not a lost one: the connection is given up only when
 * several PINGs in a row went unanswered (a peer gone without a FIN).
 */

static void
ngx_http_llmgw_redis_pong(void *data, ngx_http_llmgw_redis_status_e status,
    redisReply *reply)
{
    ngx_http_llmgw_redis_t  *rd = data;

    if (status != NGX_HTTP_LLMGW_REDIS_TIMEOUT) {
        rd->ping_lost = 0;
        return;
    }

    if (++rd->ping_lost < NGX_HTTP_LLMGW_REDIS_PING_LOST || rd->ac == NULL) {
        return;
    }

    if (ngx_http_llmgw_redis_log_ok()) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "llmgw_redis: %V did not answer %ui PINGs, "
                      "reconnecting", &rd->conf->name, rd->ping_lost);
    }

    /* called from the command's timer, not from inside hiredis */

    redisAsyncFree(rd->ac);
}


/* commands */

ngx_http_llmgw_redis_cmd_t *
ngx_http_llmgw_redis_command(ngx_msec_t timeout,
    ngx_http_llmgw_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    return ngx_http_llmgw_redis_send(timeout, handler, data, argc, argv,
                                     argvlen, 0);
}


ngx_http_llmgw_redis_cmd_t *
ngx_http_llmgw_redis_call(ngx_msec_t timeout,
    ngx_http_llmgw_redis_handler_pt handler, void *data, const char *name,
    ngx_uint_t nkeys, ngx_str_t *keys, ngx_uint_t nargs, ngx_str_t *args)
{
    int                      argc;
    u_char                   fn[64], nk[NGX_INT_T_LEN];
    size_t                   argvlen[NGX_HTTP_LLMGW_REDIS_MAX_ARGS + 4];
    ngx_uint_t               i;
    const char              *argv[NGX_HTTP_LLMGW_REDIS_MAX_ARGS + 4];
    ngx_http_llmgw_redis_t  *rd = &ngx_http_llmgw_redis;

    if (rd->conf == NULL
        || nkeys + nargs > NGX_HTTP_LLMGW_REDIS_MAX_ARGS
        || ngx_strlen(name) > sizeof(fn) - sizeof("llmgw_"))
    {
        return NULL;
    }

    argc = 0;

    if (rd->functions) {
        argv[argc] = "FCALL";
        argvlen[argc++] = 5;
        argv[argc] = (const char *) fn;
        argvlen[argc++] = ngx_sprintf(fn, "llmgw_%s", name) - fn;

    } else {
        argv[argc] = "EVALSHA";
        argvlen[argc++] = 7;
        argv[argc] = (const char *) rd->conf->sha;
        argvlen[argc++] = 40;
    }

    argv[argc] = (const char *) nk;
    argvlen[argc++] = ngx_sprintf(nk, "%ui", nkeys) - nk;

    for (i = 0; i < nkeys; i++) {
        argv[argc] = (const char *) keys[i].data;
        argvlen[argc++] = keys[i].len;
    }

    if (!rd->functions) {
        argv[argc] = name;
        argvlen[argc++] = ngx_strlen(name);
    }

    for (i = 0; i < nargs; i++) {
        argv[argc] = (const char *) args[i].data;
        argvlen[argc++] = args[i].len;
    }

    return ngx_http_llmgw_redis_send(timeout, handler, data, argc, argv,
                                     argvlen, 1);
}


static ngx_http_llmgw_redis_cmd_t *
ngx_http_llmgw_redis_send(ngx_msec_t timeout,
    ngx_http_llmgw_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen, ngx_uint_t call)
{
    int                          len;
    ngx_http_llmgw_redis_t      *rd = &ngx_http_llmgw_redis;
    ngx_http_llmgw_redis_cmd_t  *cmd;

    if (rd->conf == NULL || rd->ac == NULL || rd->closing) {
        return NULL;
    }

    /* outlives any request: hiredis holds it until it calls back */

    cmd = ngx_calloc(sizeof(ngx_http_llmgw_redis_cmd_t), rd->log);
    if (cmd == NULL) {
        return NULL;
    }

    len = redisFormatCommandArgv(&cmd->formatted, argc, argv, argvlen);

    if (len < 0) {
        ngx_free(cmd);
        return NULL;
    }

    cmd->len = len;
    cmd->handler = handler;
    cmd->data = data;
    cmd->call = call;

    if (redisAsyncFormattedCommand(rd->ac, ngx_http_llmgw_redis_reply, cmd,
                                   cmd->formatted, cmd->len)
        != REDIS_OK)
    {
        ngx_http_llmgw_redis_free(cmd);
        return NULL;
    }

    cmd->timer.handler = ngx_http_llmgw_redis_timeout_handler;
    cmd->timer.data = cmd;
    cmd->timer.log = rd->log;

    ngx_add_timer(&cmd->timer, timeout ? timeout : rd->conf->timeout);

    ngx_queue_insert_tail(&rd->cmds, &cmd->queue);

    if (rd->slot != NULL && rd->slot->pid == ngx_pid) {
        rd->slot->commands++;
    }

    return cmd;
}


/*
 * hiredis's callback, exactly once a command: with the reply, or NULL
 * when the context goes.  The command is freed here and nowhere else
 * (but for one that never reached hiredis).
 */

static void
ngx_http_llmgw_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply                  *reply = r;
    ngx_http_llmgw_redis_t      *rd = &ngx_http_llmgw_redis;
    ngx_http_llmgw_redis_cmd_t  *cmd = privdata;

    if (cmd->handler == NULL) {
        /* timed out or canceled: the late reply is dropped */
        ngx_http_llmgw_redis_free(cmd);
        return;
    }

    if (reply == NULL) {
        ngx_http_llmgw_redis_finish(cmd, NGX_HTTP_LLMGW_REDIS_DOWN, NULL);
        ngx_http_llmgw_redis_free(cmd);
        return;
    }

    if (reply->type != REDIS_REPLY_ERROR) {
        ngx_http_llmgw_redis_finish(cmd, NGX_HTTP_LLMGW_REDIS_OK, reply);
        ngx_http_llmgw_redis_free(cmd);
        return;
    }

    if (cmd->call && !cmd->retried && ngx_http_llmgw_redis_missing(reply)) {

        /*
         * Redis lost the library (a restart, a failover, SCRIPT FLUSH):
         * load it and send the call again behind it, once; the same
         * deadline runs on.
         */

        cmd->retried = 1;

        ngx_http_llmgw_redis_load(ac, rd->functions, "reload");

        if (redisAsyncFormattedCommand(ac, ngx_http_llmgw_redis_reply, cmd,
                                       cmd->formatted, cmd->len)
            == REDIS_OK)
        {
            if (rd->slot != NULL && rd->slot->pid == ngx_pid) {
                rd->slot->commands++;
            }

            return;
        }
    }

    ngx_http_llmgw_redis_finish(cmd, NGX_HTTP_LLMGW_REDIS_ERROR, reply);
    ngx_http_llmgw_redis_free(cmd);
}


static ngx_uint_t
ngx_http_llmgw_redis_missing(redisReply *reply)
{
    if (reply->len >= 8 && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        return 1;
    }

    return ngx_strlcasestrn((u_char *) reply->str,
                            (u_char *) reply->str + reply->len,
                            (u_char *) "function not found", 18 - 1)
           != NULL;
}


static void
ngx_http_llmgw_redis_timeout_handler(ngx_event_t *ev)
{
    ngx_http_llmgw_redis_cmd_t *cmd = ev->data;

    ngx_http_llmgw_redis_finish(cmd, NGX_HTTP_LLMGW_REDIS_TIMEOUT, NULL);
}


void
ngx_http_llmgw_redis_cancel(ngx_http_llmgw_redis_cmd_t *cmd)
{
    if (cmd->handler == NULL) {
        return;
    }

    cmd->handler = NULL;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    ngx_queue_remove(&cmd->queue);
}


/* the caller is told once; the command stays for hiredis to call back */

static void
ngx_http_llmgw_redis_finish(ngx_http_llmgw_redis_cmd_t *cmd,
    ngx_http_llmgw_redis_status_e status, redisReply *reply)
{
    ngx_http_llmgw_redis_t           *rd = &ngx_http_llmgw_redis;
    ngx_http_llmgw_redis_handler_pt   handler;

    handler = cmd->handler;

    ngx_http_llmgw_redis_cancel(cmd);

    if (rd->slot != NULL && rd->slot->pid == ngx_pid) {
        if (status == NGX_HTTP_LLMGW_REDIS_TIMEOUT) {
            rd->slot->timeouts++;

        } else if (status != NGX_HTTP_LLMGW_REDIS_OK) {
            rd->slot->errors++;
        }
    }

    handler(cmd->data, status, reply);
}


static void
ngx_http_llmgw_redis_free(ngx_http_llmgw_redis_cmd_t *cmd)
{
    if (cmd->formatted != NULL) {
        redisFreeCommand(cmd->formatted);
    }

    ngx_free(cmd);
}


ngx_uint_t
ngx_http_llmgw_redis_up(void)
{
    return ngx_http_llmgw_redis.up;
}


/* metrics */

ngx_int_t
ngx_http_llmgw_redis_metrics(ngx_pool_t *pool, ngx_str_t *text)
{
    u_char                         *p;
    size_t                          len;
    ngx_uint_t                      nworkers;
    ngx_core_conf_t                *ccf;
    ngx_http_llmgw_redis_family_t  *fam;

    ngx_str_null(text);

    if (ngx_http_llmgw_redis.sh == NULL) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(ngx_cycle->conf_ctx,
                                           ngx_core_module);

    nworkers = ngx_min((ngx_uint_t) ccf->worker_processes,
                       NGX_HTTP_LLMGW_REDIS_SLOTS);

    len = 0;

    for (fam = ngx_http_llmgw_redis_families; fam->name; fam++) {
        len += sizeof("# HELP  \n# TYPE  \n") - 1
               + 2 * ngx_strlen(fam->name) + ngx_strlen(fam->help)
               + ngx_strlen(fam->type)
               + nworkers * (ngx_strlen(fam->name)
                             + sizeof("{worker=\"\"} \n") - 1
                             + 2 * NGX_INT64_LEN);
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    text->data = p;

    for (fam = ngx_http_llmgw_redis_families; fam->name; fam++) {
        p = ngx_http_llmgw_redis_family(p, fam->name, fam->type, fam->help,
                                        nworkers, fam->field);
    }

    text->len = p - text->data;

    return NGX_OK;
}


static u_char *
ngx_http_llmgw_redis_family(u_char *p, const char *name, const char *type,
    const char *help, ngx_uint_t nworkers, size_t field)
{
    u_char                       *v;
    uint64_t                      n;
    ngx_uint_t                    i;
    ngx_http_llmgw_redis_slot_t  *slot;

    p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                    type);

    for (i = 0; i < nworkers; i++) {
        slot = &ngx_http_llmgw_redis.sh->slots[i];
        v = (u_char *) slot + field;

        if (field == offsetof(ngx_http_llmgw_redis_slot_t, up)) {
            n = (slot->pid != 0 && *(ngx_uint_t *) v) ? 1 : 0;

        } else {
            n = *(uint64_t *) v;
        }

        p = ngx_sprintf(p, "%s{worker=\"%ui\"} %uL\n", name, i, n);
    }

    return p;
}
