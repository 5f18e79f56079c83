/* llmgw-unit-srcs: src/ngx_http_llmgw_redis.c src/ngx_http_llmgw_redis_lib.c */
/* llmgw-unit-libs: -lhiredis -lcrypto */

/*
 * Copyright (C) llmgw authors
 *
 * The Redis adapter's command API against a redis-server this test
 * starts, driven by a small event loop standing in for nginx's, run
 * twice: level-triggered on poll() (as nginx's poll and select modules)
 * and edge-triggered on epoll (as nginx's epoll module, where a reply
 * must be drained and a full socket waited for): replies of 1 MB, 2000
 * commands in one go, error replies, deadlines, a late reply
 * after a timeout and the reply of a canceled command dropped (under
 * AddressSanitizer: never a freed privdata), a library deleted on the
 * server loaded again and the call retried once, commands lost with the
 * connection told DOWN and the reconnect, and commands in flight at exit
 * freed without their handlers.  Skipped when redis-server is absent.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <hiredis/hiredis.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_redis.h"
#include "ngx_http_llmgw_redis_lib.h"


/* what a handler saw */

typedef struct {
    ngx_uint_t                     called;
    ngx_http_llmgw_redis_status_e  status;
    int                            type;
    long long                      integer;
    u_char                         str[128];
    size_t                         len;
    ngx_uint_t                     elements;
    long long                      first;
    ngx_msec_t                     at;
} ngx_http_llmgw_test_seen_t;


static void ngx_http_llmgw_test_handler(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply);
static ngx_int_t ngx_http_llmgw_test_add(ngx_event_t *ev, ngx_int_t event,
    ngx_uint_t flags);
static ngx_int_t ngx_http_llmgw_test_del(ngx_event_t *ev, ngx_int_t event,
    ngx_uint_t flags);
static ngx_int_t ngx_http_llmgw_test_add_conn(ngx_connection_t *c);
static ngx_int_t ngx_http_llmgw_test_del_conn(ngx_connection_t *c,
    ngx_uint_t flags);
static void ngx_http_llmgw_test_count(void *data,
    ngx_http_llmgw_redis_status_e status, redisReply *reply);
static void ngx_http_llmgw_test_dispatch(ngx_uint_t wr, ngx_uint_t rd);
static void ngx_http_llmgw_test_run(ngx_uint_t edge, int port);
static void ngx_http_llmgw_test_loop(ngx_msec_t ms,
    ngx_http_llmgw_test_seen_t *until);
static ngx_http_llmgw_redis_cmd_t *ngx_http_llmgw_test_cmd(ngx_msec_t timeout,
    ngx_http_llmgw_test_seen_t *seen, const char *a0, const char *a1,
    const char *a2, const char *a3);
static int ngx_http_llmgw_test_free_port(void);
static ngx_int_t ngx_http_llmgw_test_redis_start(int port);
static void ngx_http_llmgw_test_kill_clients(int port);


/* what nginx's event module and cycle would provide */

ngx_uint_t              ngx_event_flags = NGX_USE_LEVEL_EVENT;
ngx_event_actions_t     ngx_event_actions = {
    ngx_http_llmgw_test_add, ngx_http_llmgw_test_del, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL
};
ngx_rbtree_t            ngx_event_timer_rbtree;
static ngx_rbtree_node_t  ngx_http_llmgw_test_sentinel;
ngx_queue_t             ngx_posted_events;
sig_atomic_t            ngx_terminate;
sig_atomic_t            ngx_quit;
ngx_uint_t              ngx_exiting;
ngx_uint_t              ngx_worker;
ngx_module_t            ngx_core_module;

static ngx_connection_t   ngx_http_llmgw_test_conn;
static ngx_event_t        ngx_http_llmgw_test_rev, ngx_http_llmgw_test_wev;
static ngx_uint_t         ngx_http_llmgw_test_conn_used;
static ngx_uint_t         ngx_http_llmgw_test_edge;
static int                ngx_http_llmgw_test_ep = -1;


ngx_connection_t *
ngx_get_connection(ngx_socket_t s, ngx_log_t *log)
{
    ngx_connection_t  *c = &ngx_http_llmgw_test_conn;

    if (ngx_http_llmgw_test_conn_used) {
        return NULL;
    }

    ngx_http_llmgw_test_conn_used = 1;

    ngx_memzero(c, sizeof(ngx_connection_t));
    ngx_memzero(&ngx_http_llmgw_test_rev, sizeof(ngx_event_t));
    ngx_memzero(&ngx_http_llmgw_test_wev, sizeof(ngx_event_t));

    c->fd = s;
    c->log = log;
    c->read = &ngx_http_llmgw_test_rev;
    c->write = &ngx_http_llmgw_test_wev;
    c->read->data = c;
    c->write->data = c;
    c->write->write = 1;

    return c;
}


void
ngx_free_connection(ngx_connection_t *c)
{
    ngx_http_llmgw_test_conn_used = 0;
}


ngx_int_t
ngx_handle_read_event(ngx_event_t *rev, ngx_uint_t flags)
{
    if (!rev->active && !rev->ready) {
        return ngx_http_llmgw_test_add(rev, NGX_READ_EVENT, 0);
    }

    return NGX_OK;
}


ngx_int_t
ngx_handle_write_event(ngx_event_t *wev, size_t lowat)
{
    if (!wev->active && !wev->ready) {
        return ngx_http_llmgw_test_add(wev, NGX_WRITE_EVENT, 0);
    }

    if (!ngx_http_llmgw_test_edge && wev->active && wev->ready) {
        return ngx_http_llmgw_test_del(wev, NGX_WRITE_EVENT, 0);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_test_add(ngx_event_t *ev, ngx_int_t event, ngx_uint_t flags)
{
    ev->active = 1;
    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_test_del(ngx_event_t *ev, ngx_int_t event, ngx_uint_t flags)
{
    ev->active = 0;
    return NGX_OK;
}


/* epoll, as nginx's module registers a connection: both, edge-triggered */

static ngx_int_t
ngx_http_llmgw_test_add_conn(ngx_connection_t *c)
{
    struct epoll_event  ee;

    ee.events = EPOLLIN|EPOLLOUT|EPOLLET|EPOLLRDHUP;
    ee.data.ptr = c;

    if (epoll_ctl(ngx_http_llmgw_test_ep, EPOLL_CTL_ADD, c->fd, &ee) == -1) {
        return NGX_ERROR;
    }

    c->read->active = 1;
    c->write->active = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_test_del_conn(ngx_connection_t *c, ngx_uint_t flags)
{
    /* NGX_CLOSE_EVENT: the fd is closed next, epoll forgets it then */

    if (!(flags & NGX_CLOSE_EVENT)) {
        (void) epoll_ctl(ngx_http_llmgw_test_ep, EPOLL_CTL_DEL, c->fd, NULL);
    }

    c->read->active = 0;
    c->write->active = 0;

    return NGX_OK;
}


/* not reached: the configuration is built by hand below */

ngx_shm_zone_t *
ngx_shared_memory_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    void *tag)
{
    return NULL;
}


ngx_int_t
ngx_parse_url(ngx_pool_t *pool, ngx_url_t *u)
{
    return NGX_ERROR;
}


size_t
ngx_sock_ntop(struct sockaddr *sa, socklen_t socklen, u_char *text,
    size_t len, ngx_uint_t port)
{
    return 0;
}


in_port_t
ngx_inet_get_port(struct sockaddr *sa)
{
    return 0;
}


ngx_int_t
ngx_http_llmgw_secret_load(ngx_conf_t *cf, ngx_str_t *spec,
    ngx_str_t *secret)
{
    return NGX_ERROR;
}


/* the loop: posted events, poll, timers, until ms pass or until->called */

static void
ngx_http_llmgw_test_loop(ngx_msec_t ms, ngx_http_llmgw_test_seen_t *until)
{
    int                 n, wait;
    uint32_t            revents;
    ngx_msec_t          end;
    ngx_queue_t        *q;
    ngx_event_t        *ev;
    struct pollfd       pfd;
    struct epoll_event  ee;
    ngx_rbtree_node_t  *node, *root, *sentinel;

    ngx_time_update();
    end = ngx_current_msec + ms;

    while (ngx_current_msec < end && (until == NULL || !until->called)) {

        while (!ngx_queue_empty(&ngx_posted_events)) {
            q = ngx_queue_head(&ngx_posted_events);
            ev = ngx_queue_data(q, ngx_event_t, queue);
            ngx_delete_posted_event(ev);
            ev->handler(ev);
        }

        wait = 5;
        n = 0;
        revents = 0;

        if (ngx_http_llmgw_test_edge) {
            n = epoll_wait(ngx_http_llmgw_test_ep, &ee, 1, wait);

            if (n > 0) {
                revents = ee.events;
            }

        } else if (ngx_http_llmgw_test_conn_used) {
            pfd.fd = ngx_http_llmgw_test_conn.fd;
            pfd.events = (ngx_http_llmgw_test_rev.active ? POLLIN : 0)
                         | (ngx_http_llmgw_test_wev.active ? POLLOUT : 0);
            pfd.revents = 0;

            n = poll(&pfd, 1, wait);

            if (n > 0) {
                revents = (pfd.revents & POLLIN ? EPOLLIN : 0)
                          | (pfd.revents & POLLOUT ? EPOLLOUT : 0)
                          | (pfd.revents & POLLERR ? EPOLLERR : 0)
                          | (pfd.revents & POLLHUP ? EPOLLHUP : 0);
            }

        } else {
            (void) poll(NULL, 0, wait);
        }

        ngx_time_update();

        if (n > 0 && ngx_http_llmgw_test_conn_used) {
            ngx_http_llmgw_test_dispatch(
                revents & (EPOLLOUT|EPOLLERR|EPOLLHUP),
                revents & (EPOLLIN|EPOLLERR|EPOLLHUP|EPOLLRDHUP));
        }

        /* the timers due, as ngx_event_expire_timers() runs them */

        sentinel = ngx_event_timer_rbtree.sentinel;

        for ( ;; ) {
            root = ngx_event_timer_rbtree.root;

            if (root == sentinel) {
                break;
            }

            node = ngx_rbtree_min(root, sentinel);

            if ((ngx_msec_int_t) (node->key - ngx_current_msec) > 0) {
                break;
            }

            ev = ngx_rbtree_data(node, ngx_event_t, timer);
            ngx_rbtree_delete(&ngx_event_timer_rbtree, &ev->timer);
            ev->timer_set = 0;
            ev->timedout = 1;
            ev->handler(ev);
        }
    }
}


/* an event for the connection: write first, then read, as epoll does */

static void
ngx_http_llmgw_test_dispatch(ngx_uint_t wr, ngx_uint_t rd)
{
    if (wr && ngx_http_llmgw_test_wev.active) {
        ngx_http_llmgw_test_wev.ready = 1;
        ngx_http_llmgw_test_wev.handler(&ngx_http_llmgw_test_wev);
    }

    /* the write handler may have freed the connection */

    if (rd && ngx_http_llmgw_test_conn_used
        && ngx_http_llmgw_test_rev.active)
    {
        ngx_http_llmgw_test_rev.ready = 1;
        ngx_http_llmgw_test_rev.handler(&ngx_http_llmgw_test_rev);
    }
}


static void
ngx_http_llmgw_test_count(void *data, ngx_http_llmgw_redis_status_e status,
    redisReply *reply)
{
    ngx_uint_t *n = data;

    if (status == NGX_HTTP_LLMGW_REDIS_OK) {
        (*n)++;
    }
}


static void
ngx_http_llmgw_test_handler(void *data, ngx_http_llmgw_redis_status_e status,
    redisReply *reply)
{
    ngx_http_llmgw_test_seen_t *seen = data;

    seen->called++;
    seen->status = status;
    seen->at = ngx_current_msec;

    if (reply == NULL) {
        return;
    }

    seen->type = reply->type;
    seen->integer = reply->integer;
    seen->elements = reply->elements;
    seen->len = reply->len;

    if (reply->str != NULL) {
        ngx_cpystrn(seen->str, (u_char *) reply->str, sizeof(seen->str));
    }

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0) {
        seen->first = reply->element[0]->integer;
    }
}


static ngx_http_llmgw_redis_cmd_t *
ngx_http_llmgw_test_cmd(ngx_msec_t timeout, ngx_http_llmgw_test_seen_t *seen,
    const char *a0, const char *a1, const char *a2, const char *a3)
{
    int          i, argc;
    size_t       len[4];
    const char  *argv[4], *given[4];

    given[0] = a0;
    given[1] = a1;
    given[2] = a2;
    given[3] = a3;

    argc = 0;

    for (i = 0; i < 4 && given[i] != NULL; i++) {
        argv[argc] = given[i];
        len[argc++] = strlen(given[i]);
    }

    ngx_memzero(seen, sizeof(ngx_http_llmgw_test_seen_t));

    return ngx_http_llmgw_redis_command(timeout, ngx_http_llmgw_test_handler,
                                        seen, argc, argv, len);
}


/* a port nothing listens on now: the kernel's choice for port 0 */

static int
ngx_http_llmgw_test_free_port(void)
{
    int                 s, port;
    socklen_t           len;
    struct sockaddr_in  sin;

    s = socket(AF_INET, SOCK_STREAM, 0);
    if (s == -1) {
        return -1;
    }

    ngx_memzero(&sin, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(sin);

    if (bind(s, (struct sockaddr *) &sin, sizeof(sin)) == -1
        || getsockname(s, (struct sockaddr *) &sin, &len) == -1)
    {
        close(s);
        return -1;
    }

    port = ntohs(sin.sin_port);
    close(s);

    return port;
}


static ngx_int_t
ngx_http_llmgw_test_redis_start(int port)
{
    int            i;
    char           cmd[512];
    redisContext  *c;

    snprintf(cmd, sizeof(cmd),
             "redis-server --bind 127.0.0.1 --port %d --save '' "
             "--appendonly no --daemonize yes --enable-debug-command yes "
             "--dir /tmp --pidfile /tmp/llmgw-unit-redis-%d.pid "
             "--logfile /dev/null", port, port);

    if (system(cmd) != 0) {
        return NGX_ERROR;
    }

    for (i = 0; i < 100; i++) {
        c = redisConnect("127.0.0.1", port);

        if (c != NULL && c->err == 0) {
            redisFree(c);
            return NGX_OK;
        }

        if (c != NULL) {
            redisFree(c);
        }

        usleep(20000);
    }

    return NGX_ERROR;
}


/* a second, blocking client: kill every other client, or stop Redis */

static void
ngx_http_llmgw_test_kill_clients(int port)
{
    redisReply    *r;
    redisContext  *c;

    c = redisConnect("127.0.0.1", port);
    if (c == NULL || c->err) {
        if (c) {
            redisFree(c);
        }
        return;
    }

    r = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
    if (r) {
        freeReplyObject(r);
    }

    redisFree(c);
}


static void
ngx_http_llmgw_test_run(ngx_uint_t edge, int port)
{
    u_char                       *big;
    ngx_uint_t                    i, answered;
    ngx_msec_t                    start;
    ngx_str_t                     keys[1], args[3];
    ngx_pool_t                   *pool;
    const char                   *mode;
    ngx_shm_zone_t                zone;
    ngx_http_llmgw_redis_cmd_t   *h;
    ngx_http_llmgw_test_seen_t    a, b, c;
    ngx_http_llmgw_redis_conf_t   rcf;

    static const char   *pipeline[2] = { "INCR", "{unit}:n" };
    static const size_t  pipeline_len[2] = { 4, 8 };

    mode = edge ? "epoll, edge" : "poll, level";

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);

    ngx_memzero(&rcf, sizeof(rcf));
    ngx_str_set(&rcf.name, "127.0.0.1:test");
    rcf.host = "127.0.0.1";
    rcf.port = port;
    rcf.timeout = 100;
    rcf.connect_timeout = 1000;
    rcf.ping = 1000;
    rcf.backoff_min = 20;
    rcf.backoff_max = 40;
    (void) ngx_http_llmgw_redis_lib(pool, &rcf.library, &rcf.script);

    ngx_memzero(&zone, sizeof(zone));
    zone.data = ngx_pcalloc(pool, 64 * 1024);
    rcf.zone = &zone;

    ngx_http_llmgw_test_edge = edge;

    if (edge) {
        ngx_event_flags = NGX_USE_CLEAR_EVENT|NGX_USE_EPOLL_EVENT;
        ngx_event_actions.add_conn = ngx_http_llmgw_test_add_conn;
        ngx_event_actions.del_conn = ngx_http_llmgw_test_del_conn;
        ngx_http_llmgw_test_ep = epoll_create1(0);

    } else {
        ngx_event_flags = NGX_USE_LEVEL_EVENT;
        ngx_event_actions.add_conn = NULL;
        ngx_event_actions.del_conn = NULL;
    }

    (void) ngx_http_llmgw_redis_init_process((ngx_cycle_t *) ngx_cycle,
                                             &rcf);

    ngx_http_llmgw_test_loop(2000, NULL);
    ngx_http_llmgw_unit_check(ngx_http_llmgw_redis_up() == 1, "%s: connected",
                              mode);

    /* a reply of 1 MB: read to its end (edge-triggered: drained) */

    big = ngx_palloc(pool, 1024 * 1024);
    ngx_memset(big, 'x', 1024 * 1024);
    big[1024 * 1024 - 1] = '\0';

    (void) ngx_http_llmgw_test_cmd(1000, &a, "SET", "{unit}:big",
                                   (char *) big, NULL);
    ngx_http_llmgw_test_loop(2000, &a);
    (void) ngx_http_llmgw_test_cmd(1000, &a, "GET", "{unit}:big", NULL,
                                   NULL);
    ngx_http_llmgw_test_loop(2000, &a);
    ngx_http_llmgw_unit_check(a.called == 1
                              && a.status == NGX_HTTP_LLMGW_REDIS_OK
                              && a.len == 1024 * 1024 - 1,
                              "%s: a 1 MB value written and read back "
                              "(%zu bytes)", mode, a.len);

    /* 2000 commands at once: one write of many, every reply */

    answered = 0;

    for (i = 0; i < 2000; i++) {
        (void) ngx_http_llmgw_redis_command(2000, ngx_http_llmgw_test_count,
                                            &answered, 2, pipeline,
                                            pipeline_len);
    }

    ngx_time_update();
    start = ngx_current_msec;

    while (answered < 2000 && ngx_current_msec - start < 3000) {
        ngx_http_llmgw_test_loop(10, NULL);
    }

    ngx_http_llmgw_unit_check(answered == 2000, "%s: 2000 pipelined "
                              "commands answered in %lu ms", mode,
                              (unsigned long) (ngx_current_msec - start));

    /* a reply, an error reply */

    h = ngx_http_llmgw_test_cmd(0, &a, "PING", NULL, NULL, NULL);
    ngx_http_llmgw_test_loop(1000, &a);
    ngx_http_llmgw_unit_check(h != NULL && a.called == 1
                              && a.status == NGX_HTTP_LLMGW_REDIS_OK
                              && a.type == REDIS_REPLY_STATUS
                              && ngx_strcmp(a.str, "PONG") == 0,
                              "%s: PING: PONG", mode);

    (void) ngx_http_llmgw_test_cmd(0, &a, "NOSUCHCOMMAND", NULL, NULL, NULL);
    ngx_http_llmgw_test_loop(1000, &a);
    ngx_http_llmgw_unit_check(a.called == 1
                              && a.status == NGX_HTTP_LLMGW_REDIS_ERROR
                              && ngx_strncmp(a.str, "ERR unknown command",
                                             19) == 0,
                              "%s: an error reply: ERROR, its text", mode);

    /* a library call; the library deleted on the server: reloaded */

    ngx_str_set(&keys[0], "{unit}:q");
    ngx_str_set(&args[0], "5");
    ngx_str_set(&args[1], "1");
    ngx_str_set(&args[2], "99999999999999");

    ngx_memzero(&b, sizeof(b));
    h = ngx_http_llmgw_redis_call(0, ngx_http_llmgw_test_handler, &b,
                                  "quota", 1, keys, 3, args);
    ngx_http_llmgw_test_loop(1000, &b);
    ngx_http_llmgw_unit_check(h != NULL && b.called == 1
                              && b.status == NGX_HTTP_LLMGW_REDIS_OK
                              && b.elements == 3 && b.first == 1,
                              "%s: FCALL llmgw_quota: allowed", mode);

    (void) ngx_http_llmgw_test_cmd(0, &a, "FUNCTION", "DELETE", "llmgw",
                                   NULL);
    ngx_http_llmgw_test_loop(1000, &a);

    ngx_memzero(&b, sizeof(b));
    (void) ngx_http_llmgw_redis_call(0, ngx_http_llmgw_test_handler, &b,
                                     "quota", 1, keys, 3, args);
    ngx_http_llmgw_test_loop(1000, &b);
    ngx_http_llmgw_unit_check(a.status == NGX_HTTP_LLMGW_REDIS_OK
                              && b.called == 1
                              && b.status == NGX_HTTP_LLMGW_REDIS_OK
                              && b.elements == 3 && b.first == 1,
                              "%s: library deleted: loaded again, call retried", mode);

    /* a deadline: the timeout first, the late reply dropped */

    (void) ngx_http_llmgw_test_cmd(1000, &a, "DEBUG", "SLEEP", "0.3", NULL);
    (void) ngx_http_llmgw_test_cmd(50, &b, "PING", NULL, NULL, NULL);
    h = ngx_http_llmgw_test_cmd(1000, &c, "PING", NULL, NULL, NULL);
    ngx_http_llmgw_redis_cancel(h);

    ngx_http_llmgw_test_loop(1000, &b);
    ngx_http_llmgw_unit_check(b.called == 1
                              && b.status == NGX_HTTP_LLMGW_REDIS_TIMEOUT
                              && a.called == 0,
                              "%s: Redis asleep: the 50 ms deadline fires first", mode);

    ngx_http_llmgw_test_loop(1000, &a);
    ngx_http_llmgw_test_loop(50, NULL);
    ngx_http_llmgw_unit_check(a.called == 1
                              && a.status == NGX_HTTP_LLMGW_REDIS_OK
                              && b.called == 1 && c.called == 0,
                              "%s: late reply dropped, canceled one not called", mode);

    /* the connection lost: DOWN, then up again */

    (void) ngx_http_llmgw_test_cmd(5000, &a, "BLPOP", "{unit}:nothing",
                                   "10", NULL);
    ngx_http_llmgw_test_loop(50, NULL);
    ngx_http_llmgw_test_kill_clients(port);
    ngx_http_llmgw_test_loop(1000, &a);
    ngx_http_llmgw_unit_check(a.called == 1
                              && a.status == NGX_HTTP_LLMGW_REDIS_DOWN,
                              "%s: connection killed: DOWN", mode);

    h = ngx_http_llmgw_test_cmd(0, &b, "PING", NULL, NULL, NULL);
    ngx_http_llmgw_unit_check(h == NULL && b.called == 0,
                              "%s: no connection: not sent, NULL", mode);

    ngx_http_llmgw_test_loop(1000, NULL);
    ngx_http_llmgw_unit_check(ngx_http_llmgw_redis_up() == 1,
                              "%s: reconnected", mode);

    /* exit with a command in flight: freed, its handler not called */

    (void) ngx_http_llmgw_test_cmd(1000, &a, "DEBUG", "SLEEP", "0.1", NULL);
    ngx_http_llmgw_test_loop(20, NULL);
    ngx_http_llmgw_redis_exit_process();
    ngx_http_llmgw_unit_check(a.called == 0 && ngx_http_llmgw_redis_up() == 0
                              && !ngx_http_llmgw_test_conn_used,
                              "%s: exit: handler not called, connection freed", mode);

    ngx_destroy_pool(pool);

    if (edge) {
        close(ngx_http_llmgw_test_ep);
        ngx_http_llmgw_test_ep = -1;
    }
}


int
main(void)
{
    int   port;
    char  cmd[256];

    if (system("command -v redis-server > /dev/null") != 0) {
        printf("# skipped: redis-server is not installed\n");
        return 0;
    }

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 1;
    }

    ngx_http_llmgw_unit_quiet = 1;
    ngx_process = NGX_PROCESS_WORKER;

    ngx_rbtree_init(&ngx_event_timer_rbtree, &ngx_http_llmgw_test_sentinel,
                    ngx_rbtree_insert_timer_value);
    ngx_queue_init(&ngx_posted_events);

    port = ngx_http_llmgw_test_free_port();

    if (ngx_http_llmgw_unit_check(port > 0
                                  && ngx_http_llmgw_test_redis_start(port)
                                     == NGX_OK,
                                  "redis-server started on %d", port)
        == 0)
    {
        return ngx_http_llmgw_unit_done();
    }

    ngx_http_llmgw_test_run(0, port);
    ngx_http_llmgw_test_run(1, port);

    snprintf(cmd, sizeof(cmd), "redis-cli -p %d shutdown nosave "
             "> /dev/null 2>&1", port);
    (void) system(cmd);

    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
