
/*
 * Copyright (C) llmgw authors
 *
 * Fetched JWKS key sets.  A shared zone per "llmgw_jwks_zone" holds the
 * last good document, its generation, when it was fetched, when the last
 * attempt started and until when a fetch is in progress (so that one
 * worker fetches at a time, and a fetch that died is retried once its
 * timeout has passed).  A fetch is a subrequest to an internal location
 * written by the user (it proxy_passes to the IdP); its body is collected
 * by ngx_http_llmgw_jwks_body(), which the module's body filter calls,
 * bounded by max_size, and never reaches the client.  A document replaces
 * the last good one only when it parses and yields at least one key.
 * Each worker parses the shared document into keys of its own, in a pool
 * of its own, when the generation changes.
 *
 * A request that needs keys waits: for its own subrequest (auth_request's
 * way: nginx runs the parent's phases again when the subrequest is done),
 * or on a timer that polls the shared zone while another request or
 * worker fetches.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_wait.h"
#include "ngx_http_llmgw_jwks.h"
#include "ngx_http_llmgw_jwk.h"
#include "ngx_http_llmgw_zone.h"
#include "ngx_http_llmgw_param.h"


/* how often a waiting request looks at a fetch of another request, ms */
#define NGX_HTTP_LLMGW_JWKS_POLL          25

/* the first buffer for a body of unknown length */
#define NGX_HTTP_LLMGW_JWKS_FIRST_BUF     (16 * 1024)


typedef struct {
    ngx_uint_t                    generation;   /* changes with the data */
    ngx_uint_t                    fetch_id;     /* changes at every fetch */
    ngx_msec_t                    fetched;      /* the data, 0: none */
    ngx_msec_t                    attempted;    /* last start, 0: none */
    ngx_msec_t                    busy_until;   /* a fetch runs, 0: none */
    size_t                        len;
    u_char                       *data;         /* max_size bytes */
} ngx_http_llmgw_jwks_sh_t;


struct ngx_http_llmgw_jwks_s {
    ngx_str_t                     name;
    ngx_str_t                     uri;
    ngx_str_t                     args;
    ngx_msec_t                    refresh;
    ngx_msec_t                    cooldown;
    ngx_msec_t                    timeout;
    size_t                        max_size;

    ngx_shm_zone_t               *shm_zone;
    ngx_http_llmgw_jwks_sh_t     *sh;
    ngx_slab_pool_t              *shpool;

    u_char                       *ref_file;     /* first llmgw_jwt_jwks */
    ngx_uint_t                    ref_line;
    ngx_uint_t                    declared;

    /* this worker's keys, parsed from the shared document */
    ngx_uint_t                    generation;
    ngx_array_t                  *keys;
    ngx_array_t                  *none;         /* empty, from the conf */
    ngx_pool_t                   *pool;         /* holds keys, or NULL */
};


/* one fetch: the subrequest's post_subrequest data */

typedef struct {
    ngx_http_llmgw_jwks_t        *jwks;
    ngx_http_llmgw_jwks_req_t    *req;          /* waits for it, or NULL */
    ngx_event_t                   timer;        /* the fetch's timeout */
    ngx_uint_t                    id;
    ngx_msec_t                    prev_attempted;
    u_char                       *buf;          /* the body collected */
    size_t                        len;
    size_t                        size;
    unsigned                      done:1;
    unsigned                      timed_out:1;
    unsigned                      too_large:1;
    unsigned                      broken:1;     /* no memory, read error */
    unsigned                      complete:1;   /* the last buffer came */
} ngx_http_llmgw_jwks_fetch_t;


/*
 * What a (main) request did with a zone: allocated as a cleanup of its
 * pool (which removes the poll timer), found through the slot the caller
 * keeps in its request ctx.
 */

struct ngx_http_llmgw_jwks_req_s {
    ngx_http_request_t           *request;
    ngx_http_llmgw_jwks_t        *jwks;
    ngx_event_t                   poll;
    ngx_msec_t                    deadline;
    ngx_uint_t                    fetch_id;     /* the fetch polled for */
    unsigned                      waiting:1;
    unsigned                      polling:1;
    unsigned                      waited:1;     /* update(0) has waited */
    unsigned                      forced:1;     /* update(1) was called */
};


extern ngx_module_t  ngx_http_llmgw_module;

/* the JWKS zones' own tag: see ngx_http_llmgw_account.c */
static ngx_uint_t  ngx_http_llmgw_jwks_tag;


static ngx_http_llmgw_jwks_t *ngx_http_llmgw_jwks_find(ngx_array_t *zones,
    ngx_str_t *name);
static ngx_http_llmgw_jwks_t *ngx_http_llmgw_jwks_new(ngx_conf_t *cf,
    ngx_array_t **zones, ngx_str_t *name);
static void ngx_http_llmgw_jwks_conf_cleanup(void *data);
static ngx_int_t ngx_http_llmgw_jwks_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_msec_t ngx_http_llmgw_jwks_now(void);
static void ngx_http_llmgw_jwks_install(ngx_http_llmgw_jwks_t *jwks,
    ngx_pool_t *pool, ngx_array_t *keys, ngx_uint_t generation);
static ngx_http_llmgw_jwks_req_t *ngx_http_llmgw_jwks_state(
    ngx_http_request_t *r, ngx_http_llmgw_jwks_t *jwks,
    ngx_http_llmgw_jwks_req_t **slot);
static void ngx_http_llmgw_jwks_req_cleanup(void *data);
static ngx_int_t ngx_http_llmgw_jwks_start(ngx_http_request_t *r,
    ngx_http_llmgw_jwks_t *jwks, ngx_http_llmgw_jwks_req_t *st,
    ngx_uint_t id, ngx_msec_t prev, ngx_uint_t background);
static void ngx_http_llmgw_jwks_unbusy(ngx_http_llmgw_jwks_t *jwks,
    ngx_uint_t id, ngx_msec_t prev);
static void ngx_http_llmgw_jwks_release(ngx_http_llmgw_jwks_fetch_t *f);
static void ngx_http_llmgw_jwks_abandon(ngx_http_llmgw_jwks_fetch_t *f);
static void ngx_http_llmgw_jwks_fetch_cleanup(void *data);
static void ngx_http_llmgw_jwks_timeout_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_llmgw_jwks_wait(ngx_http_request_t *r,
    ngx_http_llmgw_jwks_t *jwks, ngx_http_llmgw_jwks_req_t *st,
    ngx_uint_t id, ngx_msec_t until);
static void ngx_http_llmgw_jwks_poll_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_llmgw_jwks_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_llmgw_jwks_finish(ngx_http_request_t *sr,
    ngx_http_llmgw_jwks_fetch_t *f, ngx_int_t rc);
static void ngx_http_llmgw_jwks_store(ngx_http_request_t *sr,
    ngx_http_llmgw_jwks_fetch_t *f, u_char *data, size_t len);
static void ngx_http_llmgw_jwks_collect(ngx_http_request_t *r,
    ngx_http_llmgw_jwks_fetch_t *f, ngx_buf_t *b);


char *
ngx_http_llmgw_jwks_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char                 *q;
    size_t                  max_size;
    ssize_t                 size;
    ngx_int_t               rc;
    ngx_str_t              *value, name, uri;
    ngx_msec_t              refresh, cooldown, timeout;
    ngx_uint_t              i;
    ngx_array_t           **zones;
    ngx_shm_zone_t         *shm_zone;
    ngx_http_llmgw_jwks_t  *jwks;

    zones = (ngx_array_t **) (p + cmd->offset);

    value = cf->args->elts;

    /* the bound that max_size sets is checked once max_size is known */

    if (ngx_http_llmgw_zone_parse(cf, &value[1], &name, &size,
                                  NGX_HTTP_LLMGW_ZONE_MIN_SIZE)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_str_null(&uri);
    refresh = 15 * 60 * 1000;
    cooldown = 30 * 1000;
    timeout = 10 * 1000;
    max_size = NGX_HTTP_LLMGW_JWKS_DEFAULT_MAX_SIZE;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "uri=", 4) == 0) {

            uri.data = value[i].data + 4;
            uri.len = value[i].len - 4;

            if (uri.len == 0 || uri.data[0] != '/') {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": a location's URI "
                                   "starting with \"/\" is expected",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        rc = ngx_http_llmgw_param_size(cf, &value[i], "max_size=", 1,
                                       NGX_HTTP_LLMGW_JWKS_MAX_LEN,
                                       &max_size);
        if (rc == NGX_DECLINED) {
            rc = ngx_http_llmgw_param_msec(cf, &value[i], "refresh=", 1,
                                           &refresh);
        }

        if (rc == NGX_DECLINED) {
            rc = ngx_http_llmgw_param_msec(cf, &value[i], "cooldown=", 0,
                                           &cooldown);
        }

        if (rc == NGX_DECLINED) {
            rc = ngx_http_llmgw_param_msec(cf, &value[i], "timeout=", 1,
                                           &timeout);
        }

        if (rc == NGX_OK) {
            continue;
        }

        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        goto invalid;
    }

    if (uri.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have the \"uri\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (max_size + 16 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small for max_size=%uz, "
                           "at least %uz is needed", &value[1],
                           (size_t) max_size,
                           (size_t) (max_size + 16 * ngx_pagesize));
        return NGX_CONF_ERROR;
    }

    jwks = ngx_http_llmgw_jwks_find(*zones, &name);

    if (jwks != NULL && jwks->declared) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate llmgw_jwks_zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    if (jwks == NULL) {
        jwks = ngx_http_llmgw_jwks_new(cf, zones, &name);
        if (jwks == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    shm_zone = ngx_shared_memory_add(cf, &jwks->name, size,
                                     &ngx_http_llmgw_jwks_tag);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used by another "
                           "llmgw directive", &name);
        return NGX_CONF_ERROR;
    }

    q = (u_char *) ngx_strlchr(uri.data, uri.data + uri.len, '?');

    if (q != NULL) {
        jwks->args.data = q + 1;
        jwks->args.len = uri.data + uri.len - jwks->args.data;
        uri.len = q - uri.data;
    }

    jwks->uri = uri;
    jwks->refresh = refresh;
    jwks->cooldown = cooldown;
    jwks->timeout = timeout;
    jwks->max_size = max_size;
    jwks->shm_zone = shm_zone;
    jwks->declared = 1;

    shm_zone->init = ngx_http_llmgw_jwks_init_zone;
    shm_zone->data = jwks;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


ngx_http_llmgw_jwks_t *
ngx_http_llmgw_jwks_ref(ngx_conf_t *cf, ngx_array_t **zones, ngx_str_t *name)
{
    ngx_http_llmgw_jwks_t  *jwks;

    jwks = ngx_http_llmgw_jwks_find(*zones, name);

    if (jwks != NULL) {
        return jwks;
    }

    jwks = ngx_http_llmgw_jwks_new(cf, zones, name);
    if (jwks == NULL) {
        return NULL;
    }

    if (cf->conf_file != NULL) {
        jwks->ref_file = cf->conf_file->file.name.data;
        jwks->ref_line = cf->conf_file->line;
    }

    return jwks;
}


ngx_int_t
ngx_http_llmgw_jwks_check(ngx_conf_t *cf, ngx_array_t *zones)
{
    ngx_uint_t               i;
    ngx_http_llmgw_jwks_t  **jwks;

    if (zones == NULL) {
        return NGX_OK;
    }

    jwks = zones->elts;

    for (i = 0; i < zones->nelts; i++) {

        if (jwks[i]->declared) {
            continue;
        }

        if (jwks[i]->ref_file != NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown llmgw_jwks_zone \"%V\" in %s:%ui",
                          &jwks[i]->name, jwks[i]->ref_file,
                          jwks[i]->ref_line);

        } else {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown llmgw_jwks_zone \"%V\"", &jwks[i]->name);
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_str_t *
ngx_http_llmgw_jwks_name(ngx_http_llmgw_jwks_t *jwks)
{
    return &jwks->name;
}


ngx_int_t
ngx_http_llmgw_jwks_age(ngx_http_llmgw_jwks_t *jwks, ngx_msec_t *age)
{
    ngx_msec_t  fetched;

    if (jwks->sh == NULL) {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&jwks->shpool->mutex);
    fetched = jwks->sh->fetched;
    ngx_shmtx_unlock(&jwks->shpool->mutex);

    if (fetched == 0) {
        return NGX_DECLINED;
    }

    *age = ngx_http_llmgw_jwks_now() - fetched;

    return NGX_OK;
}


static ngx_http_llmgw_jwks_t *
ngx_http_llmgw_jwks_find(ngx_array_t *zones, ngx_str_t *name)
{
    ngx_uint_t               i;
    ngx_http_llmgw_jwks_t  **jwks;

    if (zones == NULL) {
        return NULL;
    }

    jwks = zones->elts;

    for (i = 0; i < zones->nelts; i++) {
        if (jwks[i]->name.len == name->len
            && ngx_strncmp(jwks[i]->name.data, name->data, name->len) == 0)
        {
            return jwks[i];
        }
    }

    return NULL;
}


static ngx_http_llmgw_jwks_t *
ngx_http_llmgw_jwks_new(ngx_conf_t *cf, ngx_array_t **zones, ngx_str_t *name)
{
    ngx_pool_cleanup_t      *cln;
    ngx_http_llmgw_jwks_t   *jwks, **slot;

    if (*zones == NULL) {
        *zones = ngx_array_create(cf->pool, 2,
                                  sizeof(ngx_http_llmgw_jwks_t *));
        if (*zones == NULL) {
            return NULL;
        }
    }

    jwks = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_jwks_t));
    if (jwks == NULL) {
        return NULL;
    }

    jwks->name.data = ngx_pstrdup(cf->pool, name);
    if (jwks->name.data == NULL) {
        return NULL;
    }

    jwks->name.len = name->len;

    jwks->none = ngx_array_create(cf->pool, 1, sizeof(ngx_http_llmgw_key_t));
    if (jwks->none == NULL) {
        return NULL;
    }

    jwks->keys = jwks->none;

    /* a worker's keys go when the worker's cycle does */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_llmgw_jwks_conf_cleanup;
    cln->data = jwks;

    slot = ngx_array_push(*zones);
    if (slot == NULL) {
        return NULL;
    }

    *slot = jwks;

    return jwks;
}


static void
ngx_http_llmgw_jwks_conf_cleanup(void *data)
{
    ngx_http_llmgw_jwks_t  *jwks = data;

    if (jwks->pool != NULL) {
        ngx_destroy_pool(jwks->pool);
        jwks->pool = NULL;
    }

    jwks->keys = jwks->none;
}


/*
 * The document's zone: its state and a buffer of max_size for the
 * document, both allocated here only (the slab's own messages stay on).
 */

static ngx_int_t
ngx_http_llmgw_jwks_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llmgw_jwks_t  *ojwks = data;

    ngx_uint_t                 made;
    ngx_http_llmgw_jwks_t     *jwks;
    ngx_http_llmgw_jwks_sh_t  *sh;

    jwks = shm_zone->data;

    /* a reload at another max_size: the buffer would not fit */

    if (ojwks && ojwks->max_size != jwks->max_size) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "llmgw_jwks_zone \"%V\" uses max_size=%uz "
                      "while previously it used %uz",
                      &shm_zone->shm.name, jwks->max_size, ojwks->max_size);
        return NGX_ERROR;
    }

    sh = ngx_http_llmgw_zone_init_sh(shm_zone, data,
                                     sizeof(ngx_http_llmgw_jwks_sh_t),
                                     "llmgw_jwks_zone", 1, &made);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    jwks->sh = sh;
    jwks->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (ojwks) {

        /* a reload: keep the document unless it came from elsewhere */

        if (jwks->uri.len != ojwks->uri.len
            || ngx_strncmp(jwks->uri.data, ojwks->uri.data, jwks->uri.len)
               != 0
            || jwks->args.len != ojwks->args.len
            || ngx_strncmp(jwks->args.data, ojwks->args.data,
                           jwks->args.len)
               != 0)
        {
            ngx_shmtx_lock(&jwks->shpool->mutex);

            sh->len = 0;
            sh->generation++;
            sh->fetched = 0;
            sh->attempted = 0;
            sh->busy_until = 0;

            ngx_shmtx_unlock(&jwks->shpool->mutex);
        }

        return NGX_OK;
    }

    if (!made) {
        /* the zone a master kept (shm.exists) */
        return NGX_OK;
    }

    sh->data = ngx_slab_alloc(jwks->shpool, jwks->max_size);
    if (sh->data == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "llmgw_jwks_zone \"%V\" is too small for "
                      "max_size=%uz", &shm_zone->shm.name, jwks->max_size);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_msec_t
ngx_http_llmgw_jwks_now(void)
{
    ngx_time_t  *tp;

    /* wall-clock time: comparable between the workers */

    tp = ngx_timeofday();

    return (ngx_msec_t) tp->sec * 1000 + tp->msec;
}


ngx_array_t *
ngx_http_llmgw_jwks_keys(ngx_http_llmgw_jwks_t *jwks, ngx_log_t *log)
{
    u_char                    *buf;
    size_t                     len, size;
    ngx_int_t                  rc;
    ngx_uint_t                 gen;
    ngx_pool_t                *pool;
    const char                *reason;
    ngx_array_t               *keys;
    ngx_http_llmgw_jwks_sh_t  *sh;

    sh = jwks->sh;

    if (sh == NULL) {
        return jwks->keys;
    }

    if (((volatile ngx_http_llmgw_jwks_sh_t *) sh)->generation
        == jwks->generation)
    {
        return jwks->keys;
    }

    /* copy the document out; parsing is too slow to hold the lock */

    buf = NULL;
    size = 0;

    for ( ;; ) {
        ngx_shmtx_lock(&jwks->shpool->mutex);

        gen = sh->generation;
        len = sh->len;

        if (len <= size) {
            if (len) {
                ngx_memcpy(buf, sh->data, len);
            }

            ngx_shmtx_unlock(&jwks->shpool->mutex);
            break;
        }

        ngx_shmtx_unlock(&jwks->shpool->mutex);

        if (buf != NULL) {
            ngx_free(buf);
        }

        buf = ngx_alloc(len, log);
        if (buf == NULL) {
            return jwks->keys;
        }

        size = len;
    }

    if (len == 0) {
        ngx_http_llmgw_jwks_install(jwks, NULL, jwks->none, gen);
        goto done;
    }

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, ngx_cycle->log);
    if (pool == NULL) {
        goto done;
    }

    keys = ngx_array_create(pool, 4, sizeof(ngx_http_llmgw_key_t));
    if (keys == NULL) {
        ngx_destroy_pool(pool);
        goto done;
    }

    reason = "";

    rc = ngx_http_llmgw_jwks_parse(pool, buf, len, keys, &reason);

    if (rc == NGX_ERROR) {
        /* no memory: try again with the next request */
        ngx_destroy_pool(pool);
        goto done;
    }

    if (rc != NGX_OK || keys->nelts == 0) {

        /* it was checked before it was stored; keep what there is */

        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "llmgw_jwks_zone \"%V\": stored JWKS unusable: %s",
                      &jwks->name, rc == NGX_OK ? "no usable key" : reason);

        ngx_destroy_pool(pool);
        jwks->generation = gen;
        goto done;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "llmgw_jwks_zone \"%V\": %ui keys, generation %ui",
                   &jwks->name, keys->nelts, gen);

    ngx_http_llmgw_jwks_install(jwks, pool, keys, gen);

done:

    if (buf != NULL) {
        ngx_free(buf);
    }

    return jwks->keys;
}


static void
ngx_http_llmgw_jwks_install(ngx_http_llmgw_jwks_t *jwks, ngx_pool_t *pool,
    ngx_array_t *keys, ngx_uint_t generation)
{
    ngx_pool_t  *old;

    old = jwks->pool;

    jwks->pool = pool;
    jwks->keys = keys;
    jwks->generation = generation;

    if (old != NULL) {
        ngx_destroy_pool(old);
    }
}


ngx_int_t
ngx_http_llmgw_jwks_update(ngx_http_request_t *r, ngx_http_llmgw_jwks_t *jwks,
    ngx_uint_t force, ngx_http_llmgw_jwks_req_t **state)
{
    ngx_uint_t                  have, due, id;
    ngx_msec_t                  now, prev, until;
    ngx_msec_int_t              since, age;
    ngx_http_llmgw_jwks_sh_t   *sh;
    ngx_http_llmgw_jwks_req_t  *st;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    sh = jwks->sh;

    st = *state;

    if (st != NULL && st->jwks == jwks) {
        if (st->waiting) {
            return NGX_AGAIN;
        }

        if (force ? st->forced : st->waited) {
            return NGX_DECLINED;
        }
    }

    now = ngx_http_llmgw_jwks_now();

    if (!force && ((volatile ngx_http_llmgw_jwks_sh_t *) sh)->len != 0) {

        /* the common case, seen without the lock: a fresh document */

        age = (ngx_msec_int_t) (now - sh->fetched);

        if (age < (ngx_msec_int_t) jwks->refresh) {
            return NGX_DECLINED;
        }
    }

    ngx_shmtx_lock(&jwks->shpool->mutex);

    have = (sh->len != 0);

    if (sh->busy_until != 0
        && (ngx_msec_int_t) (sh->busy_until - now) > 0)
    {
        id = sh->fetch_id;
        until = sh->busy_until;

        ngx_shmtx_unlock(&jwks->shpool->mutex);

        if (have && !force) {
            /* a refresh runs elsewhere; the keys there are still good */
            return NGX_DECLINED;
        }

        st = ngx_http_llmgw_jwks_state(r, jwks, state);
        if (st == NULL) {
            return NGX_ERROR;
        }

        if (force) {
            st->forced = 1;

        } else {
            st->waited = 1;
        }

        return ngx_http_llmgw_jwks_wait(r, jwks, st, id, until);
    }

    since = (ngx_msec_int_t) (now - sh->attempted);

    age = (ngx_msec_int_t) (now - sh->fetched);

    due = (!have || force || age >= (ngx_msec_int_t) jwks->refresh);

    if (due
        && sh->attempted != 0
        && since >= 0
        && since < (ngx_msec_int_t) jwks->cooldown)
    {
        due = 0;
    }

    if (!due) {
        ngx_shmtx_unlock(&jwks->shpool->mutex);

        if (force) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "llmgw_jwks_zone \"%V\": no refetch for an "
                          "unknown key during the cooldown", &jwks->name);
        }

        return NGX_DECLINED;
    }

    prev = sh->attempted;
    sh->attempted = now;
    sh->busy_until = now + jwks->timeout;
    id = ++sh->fetch_id;

    ngx_shmtx_unlock(&jwks->shpool->mutex);

    st = ngx_http_llmgw_jwks_state(r, jwks, state);

    if (st == NULL) {
        ngx_http_llmgw_jwks_unbusy(jwks, id, prev);
        return NGX_ERROR;
    }

    if (force) {
        st->forced = 1;

    } else if (!have) {
        st->waited = 1;
    }

    return ngx_http_llmgw_jwks_start(r, jwks, st, id, prev, have && !force);
}


/*
 * The request's state for the zone: the one its caller keeps in *slot
 * (the access handler's request ctx), or a new one put there.
 */

static ngx_http_llmgw_jwks_req_t *
ngx_http_llmgw_jwks_state(ngx_http_request_t *r, ngx_http_llmgw_jwks_t *jwks,
    ngx_http_llmgw_jwks_req_t **slot)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_llmgw_jwks_req_t  *st;

    st = *slot;

    if (st != NULL && st->jwks == jwks) {
        return st;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_llmgw_jwks_req_t));
    if (cln == NULL) {
        return NULL;
    }

    st = cln->data;
    ngx_memzero(st, sizeof(ngx_http_llmgw_jwks_req_t));

    st->request = r;
    st->jwks = jwks;

    cln->handler = ngx_http_llmgw_jwks_req_cleanup;

    *slot = st;

    return st;
}


static void
ngx_http_llmgw_jwks_req_cleanup(void *data)
{
    ngx_http_llmgw_jwks_req_t  *st = data;

    if (st->poll.timer_set) {
        ngx_del_timer(&st->poll);
    }
}


static ngx_int_t
ngx_http_llmgw_jwks_start(ngx_http_request_t *r, ngx_http_llmgw_jwks_t *jwks,
    ngx_http_llmgw_jwks_req_t *st, ngx_uint_t id, ngx_msec_t prev,
    ngx_uint_t background)
{
    ngx_str_t                    *args;
    ngx_uint_t                    flags;
    ngx_pool_cleanup_t           *cln;
    ngx_http_request_t           *sr;
    ngx_http_post_subrequest_t   *ps;
    ngx_http_llmgw_jwks_fetch_t  *f;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_llmgw_jwks_fetch_t));
    if (cln == NULL) {
        ngx_http_llmgw_jwks_unbusy(jwks, id, prev);
        return NGX_ERROR;
    }

    f = cln->data;
    ngx_memzero(f, sizeof(ngx_http_llmgw_jwks_fetch_t));

    f->jwks = jwks;
    f->id = id;
    f->prev_attempted = prev;

    cln->handler = ngx_http_llmgw_jwks_fetch_cleanup;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        goto failed;
    }

    ps->handler = ngx_http_llmgw_jwks_done;
    ps->data = f;

    flags = NGX_HTTP_SUBREQUEST_IN_MEMORY;
    flags |= background ? NGX_HTTP_SUBREQUEST_BACKGROUND
                        : NGX_HTTP_SUBREQUEST_WAITED;

    args = jwks->args.len ? &jwks->args : NULL;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "llmgw_jwks_zone \"%V\": fetching \"%V\"%s",
                  &jwks->name, &jwks->uri,
                  background ? " in the background" : "");

    if (ngx_http_subrequest(r, &jwks->uri, args, &sr, ps, flags) != NGX_OK) {
        goto failed;
    }

    /*
     * The IdP gets none of the client's headers (its credentials, its
     * Accept-Encoding) and no body.
     */

    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));

    if (ngx_list_init(&sr->headers_in.headers, r->pool, 1,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        goto failed;
    }

    sr->headers_in.content_length_n = -1;
    sr->headers_in.keep_alive_n = -1;
    sr->headers_in.server = r->headers_in.server;

    sr->request_body = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (sr->request_body == NULL) {
        goto failed;
    }

    f->timer.handler = ngx_http_llmgw_jwks_timeout_handler;
    f->timer.data = f;
    f->timer.log = r->connection->log;

    ngx_add_timer(&f->timer, jwks->timeout);

    if (background) {
        return NGX_DECLINED;
    }

    f->req = st;
    st->waiting = 1;

    return NGX_AGAIN;

failed:

    f->done = 1;
    ngx_http_llmgw_jwks_unbusy(jwks, id, prev);

    return NGX_ERROR;
}


/* an attempt that never began: the next request may start one at once */

static void
ngx_http_llmgw_jwks_unbusy(ngx_http_llmgw_jwks_t *jwks, ngx_uint_t id,
    ngx_msec_t prev)
{
    ngx_shmtx_lock(&jwks->shpool->mutex);

    if (jwks->sh->fetch_id == id) {
        jwks->sh->busy_until = 0;
        jwks->sh->attempted = prev;
    }

    ngx_shmtx_unlock(&jwks->shpool->mutex);
}


/* a failed attempt is over: the cooldown runs from its start */

static void
ngx_http_llmgw_jwks_release(ngx_http_llmgw_jwks_fetch_t *f)
{
    ngx_http_llmgw_jwks_t  *jwks;

    jwks = f->jwks;

    ngx_shmtx_lock(&jwks->shpool->mutex);

    if (jwks->sh->fetch_id == f->id) {
        jwks->sh->busy_until = 0;
    }

    ngx_shmtx_unlock(&jwks->shpool->mutex);
}


/*
 * The client went away and took the fetch with it.  While there is no
 * document at all the attempt does not count, so that the next request
 * fetches at once; otherwise the cooldown applies, or aborted requests
 * could make the IdP serve one fetch each.
 */

static void
ngx_http_llmgw_jwks_abandon(ngx_http_llmgw_jwks_fetch_t *f)
{
    ngx_http_llmgw_jwks_t  *jwks;

    jwks = f->jwks;

    ngx_shmtx_lock(&jwks->shpool->mutex);

    if (jwks->sh->fetch_id == f->id) {
        jwks->sh->busy_until = 0;

        if (jwks->sh->len == 0) {
            jwks->sh->attempted = f->prev_attempted;
        }
    }

    ngx_shmtx_unlock(&jwks->shpool->mutex);
}


static void
ngx_http_llmgw_jwks_fetch_cleanup(void *data)
{
    ngx_http_llmgw_jwks_fetch_t  *f = data;

    if (f->timer.timer_set) {
        ngx_del_timer(&f->timer);
    }

    if (f->jwks == NULL || f->done) {
        return;
    }

    /* the request went away with its subrequest: the fetch never ended */

    f->done = 1;

    if (!f->timed_out) {
        ngx_http_llmgw_jwks_abandon(f);
    }
}


static void
ngx_http_llmgw_jwks_timeout_handler(ngx_event_t *ev)
{
    ngx_http_llmgw_jwks_fetch_t  *f = ev->data;

    if (f->done) {
        return;
    }

    /*
     * A failed attempt for everyone else.  The subrequest itself cannot
     * be cut short; its response, when it comes, is not used.
     */

    f->timed_out = 1;

    ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                  "llmgw_jwks_zone \"%V\": fetching \"%V\" timed out "
                  "after %M ms, keeping the previous keys",
                  &f->jwks->name, &f->jwks->uri, f->jwks->timeout);

    ngx_http_llmgw_jwks_release(f);
}


static ngx_int_t
ngx_http_llmgw_jwks_wait(ngx_http_request_t *r, ngx_http_llmgw_jwks_t *jwks,
    ngx_http_llmgw_jwks_req_t *st, ngx_uint_t id, ngx_msec_t until)
{
    ngx_msec_t      now;
    ngx_msec_int_t  left;

    now = ngx_http_llmgw_jwks_now();

    left = (ngx_msec_int_t) (until - now);

    if (left <= 0) {
        return NGX_DECLINED;
    }

    if (left > (ngx_msec_int_t) jwks->timeout) {
        left = jwks->timeout;
    }

    if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llmgw_jwks_zone \"%V\": waiting up to %M ms for "
                   "another fetch", &jwks->name, (ngx_msec_t) left);

    st->fetch_id = id;
    st->deadline = now + left;
    st->waiting = 1;
    st->polling = 1;

    st->poll.handler = ngx_http_llmgw_jwks_poll_handler;
    st->poll.data = st;
    st->poll.log = r->connection->log;

    ngx_add_timer(&st->poll, ngx_min(NGX_HTTP_LLMGW_JWKS_POLL,
                                     (ngx_msec_t) left));

    /* keep the request while the timer has it */

    return ngx_http_llmgw_wait_start(r);
}


static void
ngx_http_llmgw_jwks_poll_handler(ngx_event_t *ev)
{
    ngx_http_llmgw_jwks_req_t  *st = ev->data;

    ngx_uint_t                  over;
    ngx_msec_t                  now;
    ngx_msec_int_t              left;
    ngx_http_llmgw_jwks_t      *jwks;
    ngx_http_llmgw_jwks_sh_t   *sh;

    jwks = st->jwks;
    sh = jwks->sh;

    now = ngx_http_llmgw_jwks_now();

    ngx_shmtx_lock(&jwks->shpool->mutex);

    over = (sh->fetch_id != st->fetch_id
            || sh->busy_until == 0
            || (ngx_msec_int_t) (sh->busy_until - now) <= 0);

    ngx_shmtx_unlock(&jwks->shpool->mutex);

    left = (ngx_msec_int_t) (st->deadline - now);

    if (!over && left > 0) {
        ngx_add_timer(ev, ngx_min(NGX_HTTP_LLMGW_JWKS_POLL,
                                  (ngx_msec_t) left));
        return;
    }

    if (!over) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "llmgw_jwks_zone \"%V\": gave up waiting for "
                      "another fetch", &jwks->name);
    }

    st->waiting = 0;
    st->polling = 0;

    ngx_http_llmgw_wait_resume(st->request);
}



static ngx_int_t
ngx_http_llmgw_jwks_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_llmgw_jwks_fetch_t  *f = data;

    /* an error page after a failure calls this a second time */

    if (f->done) {
        return rc;
    }

    f->done = 1;

    if (f->timer.timer_set) {
        ngx_del_timer(&f->timer);
    }

    if (f->req != NULL) {
        /* nginx runs the parent's phases again when this returns */
        f->req->waiting = 0;
    }

    ngx_http_llmgw_jwks_finish(sr, f, rc);

    return rc;
}


static void
ngx_http_llmgw_jwks_finish(ngx_http_request_t *sr,
    ngx_http_llmgw_jwks_fetch_t *f, ngx_int_t rc)
{
    ngx_uint_t              status, whole;
    ngx_log_t              *log;
    ngx_http_llmgw_jwks_t  *jwks;

    jwks = f->jwks;
    log = sr->connection->log;

    if (f->timed_out) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "llmgw_jwks_zone \"%V\": late response not used",
                      &jwks->name);
        return;
    }

    status = (rc >= NGX_HTTP_SPECIAL_RESPONSE) ? (ngx_uint_t) rc
                                                : sr->headers_out.status;

    /* a whole 200 response is used, whatever became of the client */

    whole = (rc != NGX_ERROR
             && status == NGX_HTTP_OK
             && f->complete
             && !f->too_large
             && !f->broken
             && (sr->headers_out.content_length_n < 0
                 || sr->headers_out.content_length_n == (off_t) f->len));

    if (!whole
        && (rc == NGX_HTTP_CLIENT_CLOSED_REQUEST
            || (sr->connection->error && rc != NGX_ERROR)))
    {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "llmgw_jwks_zone \"%V\": fetching \"%V\" abandoned: "
                      "the client's connection was closed or failed",
                      &jwks->name, &jwks->uri);

        ngx_http_llmgw_jwks_abandon(f);
        return;
    }

    if (!whole && (rc == NGX_ERROR || sr->connection->error)) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "llmgw_jwks_zone \"%V\": fetching \"%V\" failed, "
                      "keeping the previous keys", &jwks->name, &jwks->uri);
        goto failed;
    }

    if (status != NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "llmgw_jwks_zone \"%V\": \"%V\" returned status %ui, "
                      "keeping the previous keys",
                      &jwks->name, &jwks->uri, status);
        goto failed;
    }

    if (f->too_large) {
        goto too_large;
    }

    if (f->broken) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "llmgw_jwks_zone \"%V\": reading the response of "
                      "\"%V\" failed, keeping the previous keys",
                      &jwks->name, &jwks->uri);
        goto failed;
    }

    if (!f->complete
        || (sr->headers_out.content_length_n >= 0
            && sr->headers_out.content_length_n != (off_t) f->len))
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "llmgw_jwks_zone \"%V\": the response of \"%V\" "
                      "is incomplete, keeping the previous keys",
                      &jwks->name, &jwks->uri);
        goto failed;
    }

    if (f->len == 0) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "llmgw_jwks_zone \"%V\": \"%V\" returned an empty "
                      "body, keeping the previous keys",
                      &jwks->name, &jwks->uri);
        goto failed;
    }

    ngx_http_llmgw_jwks_store(sr, f, f->buf, f->len);

    return;

too_large:

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "llmgw_jwks_zone \"%V\": the response of \"%V\" is larger "
                  "than max_size=%uz, keeping the previous keys",
                  &jwks->name, &jwks->uri, jwks->max_size);

failed:

    ngx_http_llmgw_jwks_release(f);
}


static void
ngx_http_llmgw_jwks_store(ngx_http_request_t *sr,
    ngx_http_llmgw_jwks_fetch_t *f, u_char *data, size_t len)
{
    ngx_int_t                  rc;
    ngx_uint_t                 gen, same;
    ngx_log_t                 *log;
    ngx_pool_t                *pool;
    const char                *reason;
    ngx_array_t               *keys;
    ngx_http_llmgw_jwks_t     *jwks;
    ngx_http_llmgw_jwks_sh_t  *sh;

    jwks = f->jwks;
    sh = jwks->sh;
    log = sr->connection->log;

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, ngx_cycle->log);
    if (pool == NULL) {
        goto failed;
    }

    keys = ngx_array_create(pool, 4, sizeof(ngx_http_llmgw_key_t));
    if (keys == NULL) {
        goto failed;
    }

    reason = "";

    rc = ngx_http_llmgw_jwks_parse(pool, data, len, keys, &reason);

    if (rc == NGX_ERROR) {
        goto failed;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "llmgw_jwks_zone \"%V\": the JWKS from \"%V\" is "
                      "invalid: %s, keeping the previous keys",
                      &jwks->name, &jwks->uri, reason);
        goto failed;
    }

    if (keys->nelts == 0) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "llmgw_jwks_zone \"%V\": the JWKS from \"%V\" has no "
                      "usable key, keeping the previous keys",
                      &jwks->name, &jwks->uri);
        goto failed;
    }

    ngx_shmtx_lock(&jwks->shpool->mutex);

    same = (sh->len == len && ngx_memcmp(sh->data, data, len) == 0);

    if (!same) {
        ngx_memcpy(sh->data, data, len);
        sh->len = len;
        sh->generation++;
    }

    sh->fetched = ngx_http_llmgw_jwks_now();

    if (sh->fetch_id == f->id) {
        sh->busy_until = 0;
    }

    gen = sh->generation;

    ngx_shmtx_unlock(&jwks->shpool->mutex);

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "llmgw_jwks_zone \"%V\": %ui keys from \"%V\"%s, "
                  "generation %ui", &jwks->name, keys->nelts, &jwks->uri,
                  same ? " (unchanged)" : "", gen);

    if (jwks->generation == gen) {
        ngx_destroy_pool(pool);
        return;
    }

    ngx_http_llmgw_jwks_install(jwks, pool, keys, gen);

    return;

failed:

    if (pool != NULL) {
        ngx_destroy_pool(pool);
    }

    ngx_http_llmgw_jwks_release(f);
}


/*
 * A fetch is told from other subrequests by its post_subrequest handler,
 * which this file sets: the subrequest's ctx slot of ngx_http_llmgw_module
 * holds the access handler's ctx type, and a fetch has none.
 */

ngx_int_t
ngx_http_llmgw_jwks_body(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t                  *cl;
    ngx_http_llmgw_jwks_fetch_t  *f;

    if (r == r->main
        || r->post_subrequest == NULL
        || r->post_subrequest->handler != ngx_http_llmgw_jwks_done)
    {
        return NGX_DECLINED;
    }

    f = r->post_subrequest->data;

    for (cl = in; cl; cl = cl->next) {
        ngx_http_llmgw_jwks_collect(r, f, cl->buf);

        /*
         * A complete response ends with a last buffer; an upstream error
         * after the header (a connection closed or timed out mid-body)
         * ends with a flush only, and the subrequest still looks fine.
         */

        if (cl->buf->last_in_chain || cl->buf->last_buf) {
            f->complete = 1;
        }
    }

    return NGX_OK;
}


static void
ngx_http_llmgw_jwks_collect(ngx_http_request_t *r,
    ngx_http_llmgw_jwks_fetch_t *f, ngx_buf_t *b)
{
    u_char     *p;
    off_t       n;
    size_t      size, max;
    ssize_t     rd;
    ngx_uint_t  in_memory;

    in_memory = ngx_buf_in_memory(b);

    if (in_memory) {
        n = b->last - b->pos;

    } else if (b->in_file) {
        n = b->file_last - b->file_pos;

    } else {
        return;
    }

    if (n <= 0 || f->done || f->too_large || f->broken) {
        goto consumed;
    }

    max = f->jwks->max_size;

    if ((off_t) (max - f->len) < n) {
        f->too_large = 1;
        goto consumed;
    }

    if (f->len + (size_t) n > f->size) {

        if (f->size == 0
            && r->headers_out.content_length_n > 0
            && r->headers_out.content_length_n <= (off_t) max)
        {
            size = (size_t) r->headers_out.content_length_n;

        } else {
            size = ngx_max(f->size * 2, NGX_HTTP_LLMGW_JWKS_FIRST_BUF);
        }

        size = ngx_max(size, f->len + (size_t) n);
        size = ngx_min(size, max);

        p = ngx_pnalloc(r->pool, size);
        if (p == NULL) {
            f->broken = 1;
            goto consumed;
        }

        if (f->len) {
            ngx_memcpy(p, f->buf, f->len);
        }

        f->buf = p;
        f->size = size;
    }

    if (in_memory) {
        ngx_memcpy(f->buf + f->len, b->pos, (size_t) n);

    } else {
        rd = ngx_read_file(b->file, f->buf + f->len, (size_t) n, b->file_pos);

        if (rd != (ssize_t) n) {
            f->broken = 1;
            goto consumed;
        }
    }

    f->len += (size_t) n;

consumed:

    if (in_memory) {
        b->pos = b->last;
    }

    if (b->in_file) {
        b->file_pos = b->file_last;
    }
}
