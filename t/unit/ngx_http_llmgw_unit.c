
/*
 * Copyright (C) llmgw authors
 *
 * Stand-ins for the nginx core symbols that the linked core objects
 * (palloc, string, array, list, hash, rbtree, queue, slab, shmtx, times,
 * shmem ...) need but whose real homes (ngx_cycle.c, ngx_log.c,
 * ngx_conf_file.c, ngx_process.c) would pull in all of nginx, plus the
 * check counters of the harness.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdio.h>

#include "ngx_http_llmgw_unit.h"


static void ngx_http_llmgw_unit_write(u_char *buf, u_char *p, u_char *last,
    ngx_uint_t level, ngx_err_t err, const char *fmt, va_list args);
static u_char *ngx_http_llmgw_unit_es_header(u_char *p, const char *name,
    const char *value);
static u_char *ngx_http_llmgw_unit_u32(u_char *p, uint32_t v);


volatile ngx_cycle_t  *ngx_cycle;
ngx_pid_t              ngx_pid;
ngx_int_t              ngx_ncpu;
ngx_uint_t             ngx_process;

ngx_log_t              ngx_http_llmgw_unit_log;
ngx_uint_t             ngx_http_llmgw_unit_quiet;
u_char                 ngx_http_llmgw_unit_last_log[NGX_MAX_ERROR_STR];
u_char                 ngx_http_llmgw_unit_last_conf_error[NGX_MAX_ERROR_STR];
ngx_uint_t             ngx_http_llmgw_unit_log_count;
ngx_uint_t             ngx_http_llmgw_unit_conf_error_count;


static ngx_cycle_t     ngx_http_llmgw_unit_cycle;
static ngx_uint_t      ngx_http_llmgw_unit_passed;
static ngx_uint_t      ngx_http_llmgw_unit_failed;


static const char     *ngx_http_llmgw_unit_levels[] = {
    "", "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"
};


ngx_int_t
ngx_http_llmgw_unit_init(void)
{
    u_char       *cwd;
    ngx_uint_t    n;
    ngx_pool_t   *pool;
    ngx_cycle_t  *cycle;

    ngx_pagesize = getpagesize();
    ngx_cacheline_size = NGX_CPU_CACHE_LINE;

    for (n = ngx_pagesize; n >>= 1; ngx_pagesize_shift++) { /* void */ }

    ngx_ncpu = 1;
    ngx_pid = ngx_getpid();
    ngx_process = NGX_PROCESS_SINGLE;

    ngx_http_llmgw_unit_log.log_level = NGX_LOG_DEBUG;
    ngx_http_llmgw_unit_log.file = NULL;

    ngx_time_init();
    ngx_slab_sizes_init();

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    cycle = &ngx_http_llmgw_unit_cycle;
    ngx_memzero(cycle, sizeof(ngx_cycle_t));

    cycle->pool = pool;
    cycle->log = &ngx_http_llmgw_unit_log;

    cwd = ngx_pnalloc(pool, NGX_MAX_PATH + 1);
    if (cwd == NULL) {
        return NGX_ERROR;
    }

    if (ngx_getcwd(cwd, NGX_MAX_PATH) == 0) {
        return NGX_ERROR;
    }

    n = ngx_strlen(cwd);
    cwd[n++] = '/';

    cycle->prefix.len = n;
    cycle->prefix.data = cwd;
    cycle->conf_prefix = cycle->prefix;

    ngx_cycle = cycle;

    return NGX_OK;
}


void
ngx_http_llmgw_unit_cleanup(void)
{
    if (ngx_http_llmgw_unit_cycle.pool != NULL) {
        ngx_destroy_pool(ngx_http_llmgw_unit_cycle.pool);
        ngx_http_llmgw_unit_cycle.pool = NULL;
    }

    ngx_cycle = NULL;
}


void
ngx_http_llmgw_unit_conf(ngx_conf_t *cf, ngx_pool_t *pool)
{
    ngx_memzero(cf, sizeof(ngx_conf_t));

    cf->pool = pool;
    cf->temp_pool = pool;
    cf->cycle = (ngx_cycle_t *) ngx_cycle;
    cf->log = &ngx_http_llmgw_unit_log;
}


ngx_uint_t
ngx_http_llmgw_unit_check(ngx_uint_t ok, const char *fmt, ...)
{
    va_list  args;

    if (ok) {
        ngx_http_llmgw_unit_passed++;
        printf("ok %lu - ", (unsigned long) (ngx_http_llmgw_unit_passed
                                            + ngx_http_llmgw_unit_failed));

    } else {
        ngx_http_llmgw_unit_failed++;
        printf("not ok %lu - ", (unsigned long) (ngx_http_llmgw_unit_passed
                                                + ngx_http_llmgw_unit_failed));
    }

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);

    printf("\n");
    fflush(stdout);

    return ok;
}


int
ngx_http_llmgw_unit_done(void)
{
    printf("# %lu passed, %lu failed\n",
           (unsigned long) ngx_http_llmgw_unit_passed,
           (unsigned long) ngx_http_llmgw_unit_failed);
    fflush(stdout);

    return ngx_http_llmgw_unit_failed ? 1 : 0;
}


u_char *
ngx_http_llmgw_unit_es_message(u_char *p, const char *message_type,
    const char *type, u_char *payload, size_t len)
{
    u_char  *start, *h, headers[512];

    h = ngx_http_llmgw_unit_es_header(headers,
                                      ngx_strcmp(message_type, "exception")
                                      ? ":event-type" : ":exception-type",
                                      type);
    h = ngx_http_llmgw_unit_es_header(h, ":content-type",
                                      "application/json");
    h = ngx_http_llmgw_unit_es_header(h, ":message-type", message_type);

    start = p;

    p = ngx_http_llmgw_unit_u32(p, 16 + (h - headers) + len);
    p = ngx_http_llmgw_unit_u32(p, h - headers);
    p = ngx_http_llmgw_unit_u32(p, ngx_crc32_long(start, 8));
    p = ngx_cpymem(p, headers, h - headers);
    p = ngx_cpymem(p, payload, len);

    return ngx_http_llmgw_unit_u32(p, ngx_crc32_long(start, p - start));
}


/* a header of type 7, string */

static u_char *
ngx_http_llmgw_unit_es_header(u_char *p, const char *name, const char *value)
{
    size_t  n, v;

    n = ngx_strlen(name);
    v = ngx_strlen(value);

    *p++ = (u_char) n;
    p = ngx_cpymem(p, name, n);
    *p++ = 7;
    *p++ = (u_char) (v >> 8);
    *p++ = (u_char) v;

    return ngx_cpymem(p, value, v);
}


static u_char *
ngx_http_llmgw_unit_u32(u_char *p, uint32_t v)
{
    *p++ = (u_char) (v >> 24);
    *p++ = (u_char) (v >> 16);
    *p++ = (u_char) (v >> 8);
    *p++ = (u_char) v;

    return p;
}


static void
ngx_http_llmgw_unit_write(u_char *buf, u_char *p, u_char *last,
    ngx_uint_t level, ngx_err_t err, const char *fmt, va_list args)
{
    size_t  len;

    p = ngx_vslprintf(p, last, fmt, args);

    if (err) {
        p = ngx_slprintf(p, last, " (%d: %s)", err, strerror(err));
    }

    len = p - buf;

    if (len >= NGX_MAX_ERROR_STR) {
        len = NGX_MAX_ERROR_STR - 1;
    }

    buf[len] = '\0';

    if (!ngx_http_llmgw_unit_quiet) {
        if (level > NGX_LOG_DEBUG) {
            level = NGX_LOG_DEBUG;
        }

        fprintf(stderr, "[%s] %s\n", ngx_http_llmgw_unit_levels[level], buf);
    }
}


#if (NGX_HAVE_VARIADIC_MACROS)

void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)

#else

void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, va_list args)

#endif
{
#if (NGX_HAVE_VARIADIC_MACROS)
    va_list  args;
#endif
    u_char   buf[NGX_MAX_ERROR_STR];

    ngx_http_llmgw_unit_log_count++;

#if (NGX_HAVE_VARIADIC_MACROS)
    va_start(args, fmt);
    ngx_http_llmgw_unit_write(buf, buf, buf + NGX_MAX_ERROR_STR - 1, level,
                              err, fmt, args);
    va_end(args);
#else
    ngx_http_llmgw_unit_write(buf, buf, buf + NGX_MAX_ERROR_STR - 1, level,
                              err, fmt, args);
#endif

    ngx_memcpy(ngx_http_llmgw_unit_last_log, buf, NGX_MAX_ERROR_STR);
}


#if !(NGX_HAVE_VARIADIC_MACROS)

void ngx_cdecl
ngx_log_error(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    va_list  args;

    if (log->log_level >= level) {
        va_start(args, fmt);
        ngx_log_error_core(level, log, err, fmt, args);
        va_end(args);
    }
}


void ngx_cdecl
ngx_log_debug_core(ngx_log_t *log, ngx_err_t err, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    ngx_log_error_core(NGX_LOG_DEBUG, log, err, fmt, args);
    va_end(args);
}

#endif


void ngx_cdecl
ngx_conf_log_error(ngx_uint_t level, ngx_conf_t *cf, ngx_err_t err,
    const char *fmt, ...)
{
    u_char   buf[NGX_MAX_ERROR_STR];
    va_list  args;

    ngx_http_llmgw_unit_conf_error_count++;

    va_start(args, fmt);
    ngx_http_llmgw_unit_write(buf, buf, buf + NGX_MAX_ERROR_STR - 1, level,
                              err, fmt, args);
    va_end(args);

    ngx_memcpy(ngx_http_llmgw_unit_last_conf_error, buf, NGX_MAX_ERROR_STR);
}


/* nginx calls it on internal inconsistencies (a slab double free ...) */

void
ngx_debug_point(void)
{
    fprintf(stderr, "ngx_debug_point() reached\n");
    abort();
}


ngx_int_t
ngx_conf_full_name(ngx_cycle_t *cycle, ngx_str_t *name,
    ngx_uint_t conf_prefix)
{
    u_char     *p;
    ngx_str_t  *prefix;

    if (name->len > 0 && name->data[0] == '/') {
        return NGX_OK;
    }

    prefix = conf_prefix ? &cycle->conf_prefix : &cycle->prefix;

    p = ngx_pnalloc(cycle->pool, prefix->len + name->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, prefix->data, prefix->len);
    ngx_memcpy(p + prefix->len, name->data, name->len);
    p[prefix->len + name->len] = '\0';

    name->len += prefix->len;
    name->data = p;

    return NGX_OK;
}
