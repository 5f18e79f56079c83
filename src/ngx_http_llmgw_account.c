
/*
 * Copyright (C) llmgw authors
 *
 * The account state zone.  Every entry (a revoked jti, a not-before time,
 * a revoked client, a directory account) sits in one rbtree keyed by a
 * hash of its kind and id and compared exactly on both, so a lookup is
 * O(log n) under the zone's mutex.  Revoked jti are also queued oldest
 * first: expired ones are dropped a few at a time before each insertion,
 * all of them when the slab is full, and when a lookup meets one.  A live
 * revocation is never evicted to make room: forgetting it would let the
 * token in again.
 *
 * The state file keeps the zone across restarts: JSON lines, the first
 * {"llmgw_state":1}, then an entry a line; written whole to a new file
 * and renamed over the old one, so a reader sees the old or the new.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_account.h"
#include "ngx_http_llmgw_zone.h"


#define NGX_HTTP_LLMGW_ACCOUNT_VERSION    1

/* expired jti examined before each insertion */
#define NGX_HTTP_LLMGW_ACCOUNT_EXPIRE_N   3

/* a state file larger than this is refused */
#define NGX_HTTP_LLMGW_ACCOUNT_MAX_FILE   (1024 * 1024 * 1024)

#define NGX_HTTP_LLMGW_ACCOUNT_DAY        86400


/*
 * 76 bytes before data on 64-bit: a revoked jti (32 bytes of id) takes a
 * 128-byte slab chunk.
 */

typedef struct {
    ngx_rbtree_node_t          node;
    ngx_queue_t                queue;      /* jtis or others of the sh */
    time_t                     time;
    time_t                     end;
    u_char                     kind;
    u_char                     active;
    u_char                     id_len;
    u_char                     dept_len;
    u_char                     data[1];    /* id, then department */
} ngx_http_llmgw_account_node_t;


typedef struct {
    ngx_rbtree_t               rbtree;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                jtis;       /* oldest first */
    ngx_queue_t                others;
    ngx_uint_t                 count[5];   /* entries by kind */
    ngx_uint_t                 directory;  /* a directory was loaded */
} ngx_http_llmgw_account_sh_t;


typedef struct {
    ngx_http_llmgw_account_sh_t  *sh;
    ngx_slab_pool_t              *shpool;
    size_t                        size;
    ngx_str_t                     state_file;
    ngx_array_t                  *users;   /* ngx_http_llmgw_user_t */
    time_t                        utc_offset;
} ngx_http_llmgw_account_ctx_t;


extern ngx_module_t  ngx_http_llmgw_module;


static ngx_int_t ngx_http_llmgw_account_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_llmgw_account_startup(ngx_shm_zone_t *shm_zone,
    ngx_http_llmgw_account_ctx_t *ctx);
static void ngx_http_llmgw_account_rbtree_insert_value(
    ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel);
static ngx_int_t ngx_http_llmgw_account_key(ngx_uint_t kind, ngx_str_t *id,
    u_char *buf, ngx_str_t *key);
static ngx_rbtree_key_t ngx_http_llmgw_account_hash(ngx_uint_t kind,
    ngx_str_t *key);
static ngx_http_llmgw_account_node_t *ngx_http_llmgw_account_find(
    ngx_http_llmgw_account_ctx_t *ctx, ngx_uint_t kind, ngx_str_t *key);
static ngx_int_t ngx_http_llmgw_account_apply_locked(
    ngx_http_llmgw_account_ctx_t *ctx, ngx_http_llmgw_account_change_t *ch,
    time_t now, ngx_log_t *log);
static void ngx_http_llmgw_account_delete(ngx_http_llmgw_account_ctx_t *ctx,
    ngx_http_llmgw_account_node_t *an);
static void ngx_http_llmgw_account_expire(ngx_http_llmgw_account_ctx_t *ctx,
    time_t now, ngx_uint_t n);
static ngx_int_t ngx_http_llmgw_account_directory(
    ngx_http_llmgw_account_ctx_t *ctx, ngx_log_t *log);
static ngx_int_t ngx_http_llmgw_account_load(ngx_http_llmgw_account_ctx_t *ctx,
    ngx_log_t *log);
static ngx_int_t ngx_http_llmgw_account_load_line(
    ngx_http_llmgw_account_ctx_t *ctx, u_char *p, size_t len, time_t now,
    ngx_log_t *log, const char **err);
static size_t ngx_http_llmgw_account_line_len(
    ngx_http_llmgw_account_node_t *an);
static u_char *ngx_http_llmgw_account_line(u_char *p,
    ngx_http_llmgw_account_node_t *an);
static u_char *ngx_http_llmgw_account_json_str(u_char *p, u_char *s,
    size_t len);
static ngx_int_t ngx_http_llmgw_account_copy(
    ngx_http_llmgw_account_node_t *an, ngx_pool_t *pool,
    ngx_http_llmgw_account_change_t *ch);


char *
ngx_http_llmgw_account_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ssize_t                        size;
    ngx_str_t                     *value, name;
    ngx_shm_zone_t                *shm_zone, **slot;
    ngx_http_llmgw_account_ctx_t  *ctx;

    slot = (ngx_shm_zone_t **) (p + cmd->offset);

    if (*slot != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_llmgw_zone_parse(cf, &value[1], &name, &size,
                                  NGX_HTTP_LLMGW_ZONE_MIN_SIZE)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_account_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_llmgw_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used by another "
                           "llmgw directive", &name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_llmgw_account_init_zone;
    shm_zone->data = ctx;

    *slot = shm_zone;

    return NGX_CONF_OK;
}


void
ngx_http_llmgw_account_configure(ngx_shm_zone_t *zone, ngx_str_t *state_file,
    ngx_array_t *users, time_t utc_offset)
{
    ngx_http_llmgw_account_ctx_t  *ctx;

    ctx = zone->data;

    ctx->state_file = *state_file;
    ctx->users = users;
    ctx->utc_offset = utc_offset;
}


static ngx_int_t
ngx_http_llmgw_account_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llmgw_account_ctx_t  *octx = data;

    ngx_http_llmgw_account_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {

        /* a reload: the entries stay; a directory given is applied */

        if (ngx_http_llmgw_zone_same_size(shm_zone, octx->size,
                                          "llmgw state zone")
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        ctx->size = octx->size;

        return ngx_http_llmgw_account_startup(shm_zone, ctx);
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    ctx->size = shm_zone->shm.size;

    ctx->sh = ngx_http_llmgw_zone_state(shm_zone);

    if (ctx->sh != NULL) {
        return NGX_OK;
    }

    ctx->sh = ngx_slab_calloc(ctx->shpool,
                              sizeof(ngx_http_llmgw_account_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_llmgw_account_rbtree_insert_value);

    ngx_queue_init(&ctx->sh->jtis);
    ngx_queue_init(&ctx->sh->others);

    if (ngx_http_llmgw_zone_publish(shm_zone, ctx->sh, "llmgw state zone")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a full zone is reported by apply, once per change */
    ctx->shpool->log_nomem = 0;

    if (ctx->state_file.len
        && ngx_http_llmgw_account_load(ctx, shm_zone->shm.log) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_llmgw_account_startup(shm_zone, ctx);
}


/* the directory applied and the state file written, at start and reload */

static ngx_int_t
ngx_http_llmgw_account_startup(ngx_shm_zone_t *shm_zone,
    ngx_http_llmgw_account_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->users == NULL) {
        return NGX_OK;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);

    rc = ngx_http_llmgw_account_directory(ctx, shm_zone->shm.log);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_test_config) {
        return NGX_OK;
    }

    return ngx_http_llmgw_account_save(shm_zone, shm_zone->shm.log);
}


static void
ngx_http_llmgw_account_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t              **p;
    ngx_http_llmgw_account_node_t   *an, *ant;

    for ( ;; ) {

        if (node->key < temp->key) {

            p = &temp->left;

        } else if (node->key > temp->key) {

            p = &temp->right;

        } else { /* node->key == temp->key */

            an = (ngx_http_llmgw_account_node_t *) node;
            ant = (ngx_http_llmgw_account_node_t *) temp;

            if (an->kind != ant->kind) {
                p = (an->kind < ant->kind) ? &temp->left : &temp->right;

            } else {
                p = (ngx_memn2cmp(an->data, ant->data, an->id_len,
                                  ant->id_len) < 0)
                    ? &temp->left : &temp->right;
            }
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/*
 * The bytes an id is kept as: a jti hash's 64 hex digits as 32 bytes
 * (into buf), anything else as it is.  NGX_DECLINED: not a valid id.
 */

static ngx_int_t
ngx_http_llmgw_account_key(ngx_uint_t kind, ngx_str_t *id, u_char *buf,
    ngx_str_t *key)
{
    ngx_int_t   n;
    ngx_uint_t  i;

    if (kind == NGX_HTTP_LLMGW_ACCOUNT_JTI) {

        if (id->len != NGX_HTTP_LLMGW_JTI_HASH_LEN) {
            return NGX_DECLINED;
        }

        for (i = 0; i < NGX_HTTP_LLMGW_SHA256_LEN; i++) {
            n = ngx_hextoi(&id->data[2 * i], 2);
            if (n == NGX_ERROR) {
                return NGX_DECLINED;
            }

            buf[i] = (u_char) n;
        }

        key->data = buf;
        key->len = NGX_HTTP_LLMGW_SHA256_LEN;

        return NGX_OK;
    }

    if (id->len == 0 || id->len > NGX_HTTP_LLMGW_ACCOUNT_MAX_ID) {
        return NGX_DECLINED;
    }

    *key = *id;

    return NGX_OK;
}


static ngx_rbtree_key_t
ngx_http_llmgw_account_hash(ngx_uint_t kind, ngx_str_t *key)
{
    uint32_t  crc;
    u_char    k;

    k = (u_char) kind;

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, &k, 1);
    ngx_crc32_update(&crc, key->data, key->len);
    ngx_crc32_final(crc);

    return crc;
}


static ngx_http_llmgw_account_node_t *
ngx_http_llmgw_account_find(ngx_http_llmgw_account_ctx_t *ctx,
    ngx_uint_t kind, ngx_str_t *key)
{
    ngx_int_t                       rc;
    ngx_rbtree_key_t                hash;
    ngx_rbtree_node_t              *node, *sentinel;
    ngx_http_llmgw_account_node_t  *an;

    hash = ngx_http_llmgw_account_hash(kind, key);

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        an = (ngx_http_llmgw_account_node_t *) node;

        if (kind != an->kind) {
            node = (kind < an->kind) ? node->left : node->right;
            continue;
        }

        rc = ngx_memn2cmp(key->data, an->data, key->len, an->id_len);

        if (rc == 0) {
            return an;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


ngx_int_t
ngx_http_llmgw_account_apply(ngx_shm_zone_t *zone,
    ngx_http_llmgw_account_change_t *ch, time_t now, ngx_log_t *log)
{
    ngx_int_t                      rc;
    ngx_http_llmgw_account_ctx_t  *ctx;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    rc = ngx_http_llmgw_account_apply_locked(ctx, ch, now, log);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


static ngx_int_t
ngx_http_llmgw_account_apply_locked(ngx_http_llmgw_account_ctx_t *ctx,
    ngx_http_llmgw_account_change_t *ch, time_t now, ngx_log_t *log)
{
    size_t                          size, dept_len;
    ngx_str_t                       key;
    u_char                          buf[NGX_HTTP_LLMGW_SHA256_LEN];
    ngx_http_llmgw_account_node_t  *an;

    if (ch->kind < NGX_HTTP_LLMGW_ACCOUNT_JTI
        || ch->kind > NGX_HTTP_LLMGW_ACCOUNT_USER
        || ngx_http_llmgw_account_key(ch->kind, &ch->id, buf, &key) != NGX_OK
        || ch->department.len > 255)
    {
        return NGX_DECLINED;
    }

    an = ngx_http_llmgw_account_find(ctx, ch->kind, &key);

    if (an) {
        ngx_http_llmgw_account_delete(ctx, an);
    }

    if (ch->remove) {
        return NGX_OK;
    }

    if (ch->kind == NGX_HTTP_LLMGW_ACCOUNT_JTI
        && ch->time + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE < now)
    {
        /* the token is refused by its exp by now: nothing to keep */
        return NGX_OK;
    }

    ngx_http_llmgw_account_expire(ctx, now, NGX_HTTP_LLMGW_ACCOUNT_EXPIRE_N);

    dept_len = (ch->kind == NGX_HTTP_LLMGW_ACCOUNT_USER)
               ? ch->department.len : 0;

    size = offsetof(ngx_http_llmgw_account_node_t, data) + key.len + dept_len;

    an = ngx_slab_alloc_locked(ctx->shpool, size);

    if (an == NULL) {
        ngx_http_llmgw_account_expire(ctx, now, 0);

        an = ngx_slab_alloc_locked(ctx->shpool, size);

        if (an == NULL) {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "no room for a change%s: live revocations are "
                          "never evicted, the zone needs to be larger",
                          ctx->shpool->log_ctx);
            return NGX_DECLINED;
        }
    }

    an->node.key = ngx_http_llmgw_account_hash(ch->kind, &key);
    an->kind = (u_char) ch->kind;
    an->active = ch->active;
    an->time = ch->time;
    an->end = ch->end;
    an->id_len = (u_char) key.len;
    an->dept_len = (u_char) dept_len;

    ngx_memcpy(an->data, key.data, key.len);
    if (dept_len) {
        ngx_memcpy(an->data + key.len, ch->department.data, dept_len);
    }

    ngx_rbtree_insert(&ctx->sh->rbtree, &an->node);

    ngx_queue_insert_tail(ch->kind == NGX_HTTP_LLMGW_ACCOUNT_JTI
                          ? &ctx->sh->jtis : &ctx->sh->others, &an->queue);

    ctx->sh->count[ch->kind]++;

    /* accounts from anywhere (a CSV, the state file, the admin API) */

    if (ch->kind == NGX_HTTP_LLMGW_ACCOUNT_USER) {
        ctx->sh->directory = 1;
    }

    return NGX_OK;
}


static void
ngx_http_llmgw_account_delete(ngx_http_llmgw_account_ctx_t *ctx,
    ngx_http_llmgw_account_node_t *an)
{
    ngx_queue_remove(&an->queue);
    ngx_rbtree_delete(&ctx->sh->rbtree, &an->node);

    ctx->sh->count[an->kind]--;

    ngx_slab_free_locked(ctx->shpool, an);
}


/*
 * Revoked jti whose token expired (plus the grace) are dropped, the oldest
 * first: at most n of those examined, every one when n is 0.
 */

static void
ngx_http_llmgw_account_expire(ngx_http_llmgw_account_ctx_t *ctx, time_t now,
    ngx_uint_t n)
{
    ngx_uint_t                      i;
    ngx_queue_t                    *q, *next;
    ngx_http_llmgw_account_node_t  *an;

    q = ngx_queue_head(&ctx->sh->jtis);

    for (i = 0; q != ngx_queue_sentinel(&ctx->sh->jtis); i++) {

        if (n && i == n) {
            return;
        }

        next = ngx_queue_next(q);
        an = ngx_queue_data(q, ngx_http_llmgw_account_node_t, queue);

        if (an->time + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE < now) {
            ngx_http_llmgw_account_delete(ctx, an);
        }

        q = next;
    }
}


/*
 * The user directory replaces the accounts: every account the zone had is
 * disabled first (a user missing from the new directory is disabled, never
 * deleted and so never "unknown"), then each user is set as the CSV says.
 */

static ngx_int_t
ngx_http_llmgw_account_directory(ngx_http_llmgw_account_ctx_t *ctx,
    ngx_log_t *log)
{
    time_t                            now;
    ngx_uint_t                        i;
    ngx_queue_t                      *q;
    ngx_http_llmgw_user_t            *u;
    ngx_http_llmgw_account_node_t    *an;
    ngx_http_llmgw_account_change_t   ch;

    for (q = ngx_queue_head(&ctx->sh->others);
         q != ngx_queue_sentinel(&ctx->sh->others);
         q = ngx_queue_next(q))
    {
        an = ngx_queue_data(q, ngx_http_llmgw_account_node_t, queue);

        if (an->kind == NGX_HTTP_LLMGW_ACCOUNT_USER) {
            an->active = 0;
        }
    }

    now = ngx_time();
    u = ctx->users->elts;

    for (i = 0; i < ctx->users->nelts; i++) {
        ngx_memzero(&ch, sizeof(ngx_http_llmgw_account_change_t));

        ch.kind = NGX_HTTP_LLMGW_ACCOUNT_USER;
        ch.id = u[i].user_id;
        ch.department = u[i].department;
        ch.active = u[i].active;
        ch.time = (time_t) u[i].start * NGX_HTTP_LLMGW_ACCOUNT_DAY
                  - ctx->utc_offset;
        ch.end = (u[i].end == NGX_HTTP_LLMGW_USERS_NO_END)
                 ? NGX_HTTP_LLMGW_ACCOUNT_NO_END
                 : (time_t) (u[i].end + 1) * NGX_HTTP_LLMGW_ACCOUNT_DAY
                   - ctx->utc_offset;

        if (ngx_http_llmgw_account_apply_locked(ctx, &ch, now, log)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "llmgw_users: user on line %ui not stored in "
                          "the state zone (too small?)", u[i].line);
            return NGX_ERROR;
        }
    }

    ctx->sh->directory = 1;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_account_check(ngx_shm_zone_t *zone,
    ngx_http_llmgw_account_query_t *q, time_t now, ngx_pool_t *pool,
    ngx_http_llmgw_account_result_t *res)
{
    ngx_str_t                       key;
    u_char                          buf[NGX_HTTP_LLMGW_SHA256_LEN];
    ngx_http_llmgw_account_ctx_t   *ctx;
    ngx_http_llmgw_account_node_t  *an, *user, *nbf;

    ctx = zone->data;

    ngx_memzero(res, sizeof(ngx_http_llmgw_account_result_t));

    ngx_shmtx_lock(&ctx->shpool->mutex);

    res->directory = ctx->sh->directory;

    user = NULL;
    nbf = NULL;

    if (q->user.len) {
        user = ngx_http_llmgw_account_find(ctx, NGX_HTTP_LLMGW_ACCOUNT_USER,
                                           &q->user);
        nbf = ngx_http_llmgw_account_find(ctx,
                                          NGX_HTTP_LLMGW_ACCOUNT_SUBJECT,
                                          &q->user);
    }

    /* the department is the audit's, whatever the verdict */

    if (user && user->dept_len) {
        res->department.data = ngx_pnalloc(pool, user->dept_len);
        if (res->department.data == NULL) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return NGX_ERROR;
        }

        ngx_memcpy(res->department.data, user->data + user->id_len,
                   user->dept_len);
        res->department.len = user->dept_len;
    }

    an = NULL;

    if (q->jti_hash.len
        && ngx_http_llmgw_account_key(NGX_HTTP_LLMGW_ACCOUNT_JTI,
                                      &q->jti_hash, buf, &key)
           == NGX_OK)
    {
        an = ngx_http_llmgw_account_find(ctx, NGX_HTTP_LLMGW_ACCOUNT_JTI,
                                         &key);

        if (an && an->time + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE < now) {
            ngx_http_llmgw_account_delete(ctx, an);
            an = NULL;
        }
    }

    /*
     * a token issued in the second of the not-before time is refused too:
     * iat has whole seconds, and "log out everywhere" must let none through
     */

    if (an) {
        res->verdict = NGX_HTTP_LLMGW_ACCOUNT_JTI_REVOKED;

    } else if (nbf && (q->iat < 0 || q->iat <= nbf->time)) {
        res->verdict = NGX_HTTP_LLMGW_ACCOUNT_NOT_BEFORE;

    } else if (q->client_id.len
               && ngx_http_llmgw_account_find(ctx,
                                              NGX_HTTP_LLMGW_ACCOUNT_CLIENT,
                                              &q->client_id)
                  != NULL)
    {
        res->verdict = NGX_HTTP_LLMGW_ACCOUNT_CLIENT_REVOKED;

    } else if (user == NULL) {
        res->verdict = NGX_HTTP_LLMGW_ACCOUNT_UNKNOWN;

    } else if (!user->active) {
        res->verdict = NGX_HTTP_LLMGW_ACCOUNT_DISABLED;

    } else if (now < user->time) {
        res->verdict = NGX_HTTP_LLMGW_ACCOUNT_NOT_STARTED;

    } else if (now >= user->end) {
        res->verdict = NGX_HTTP_LLMGW_ACCOUNT_ENDED;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_account_save(ngx_shm_zone_t *zone, ngx_log_t *log)
{
    u_char                         *buf, *p, *tmp;
    size_t                          len;
    ssize_t                         n;
    ngx_fd_t                        fd;
    ngx_err_t                       err;
    ngx_uint_t                      i;
    ngx_queue_t                    *q, *queues[2];
    ngx_http_llmgw_account_ctx_t   *ctx;
    ngx_http_llmgw_account_node_t  *an;

    ctx = zone->data;

    if (ctx->state_file.len == 0) {
        return NGX_OK;
    }

    queues[0] = &ctx->sh->jtis;
    queues[1] = &ctx->sh->others;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    len = sizeof("{\"llmgw_state\":}\n") - 1 + NGX_INT_T_LEN;

    for (i = 0; i < 2; i++) {
        for (q = ngx_queue_head(queues[i]);
             q != ngx_queue_sentinel(queues[i]);
             q = ngx_queue_next(q))
        {
            an = ngx_queue_data(q, ngx_http_llmgw_account_node_t, queue);
            len += ngx_http_llmgw_account_line_len(an);
        }
    }

    buf = ngx_alloc(len, log);
    if (buf == NULL) {
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return NGX_ERROR;
    }

    p = ngx_sprintf(buf, "{\"llmgw_state\":%d}\n",
                    NGX_HTTP_LLMGW_ACCOUNT_VERSION);

    for (i = 0; i < 2; i++) {
        for (q = ngx_queue_head(queues[i]);
             q != ngx_queue_sentinel(queues[i]);
             q = ngx_queue_next(q))
        {
            an = ngx_queue_data(q, ngx_http_llmgw_account_node_t, queue);
            p = ngx_http_llmgw_account_line(p, an);
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    /* FILE.tmp, then renamed over FILE */

    tmp = ngx_alloc(ctx->state_file.len + sizeof(".tmp"), log);
    if (tmp == NULL) {
        ngx_free(buf);
        return NGX_ERROR;
    }

    ngx_sprintf(tmp, "%V.tmp%Z", &ctx->state_file);

    fd = ngx_open_file(tmp, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE, 0600);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", tmp);
        goto failed;
    }

    n = ngx_write_fd(fd, buf, p - buf);
    err = ngx_errno;

    if (n != p - buf || fsync(fd) == -1) {
        ngx_log_error(NGX_LOG_EMERG, log, n == -1 ? err : ngx_errno,
                      "writing llmgw state file \"%s\" failed", tmp);
        (void) ngx_close_file(fd);
        (void) ngx_delete_file(tmp);
        goto failed;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR
        || ngx_rename_file(tmp, ctx->state_file.data) == NGX_FILE_ERROR)
    {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      "writing llmgw state file \"%V\" failed",
                      &ctx->state_file);
        (void) ngx_delete_file(tmp);
        goto failed;
    }

    ngx_free(tmp);
    ngx_free(buf);

    return NGX_OK;

failed:

    ngx_free(tmp);
    ngx_free(buf);

    return NGX_ERROR;
}


static size_t
ngx_http_llmgw_account_line_len(ngx_http_llmgw_account_node_t *an)
{
    size_t  len;

    len = 2 + an->id_len + ngx_escape_json(NULL, an->data, an->id_len)
          + 2 * NGX_TIME_T_LEN + 2;

    switch (an->kind) {

    case NGX_HTTP_LLMGW_ACCOUNT_JTI:
        return sizeof("{\"jti_hash\":,\"exp\":}") - 1
               + NGX_HTTP_LLMGW_JTI_HASH_LEN + 2 + NGX_TIME_T_LEN + 1;

    case NGX_HTTP_LLMGW_ACCOUNT_SUBJECT:
        return len + sizeof("{\"subject\":,\"not_before\":}") - 1;

    case NGX_HTTP_LLMGW_ACCOUNT_CLIENT:
        return len + sizeof("{\"client_id\":}") - 1;

    default: /* NGX_HTTP_LLMGW_ACCOUNT_USER */
        return len + sizeof("{\"user_id\":,\"active\":false,"
                            "\"department\":,\"start\":,\"end\":}") - 1
               + 2 + an->dept_len
               + ngx_escape_json(NULL, an->data + an->id_len, an->dept_len);
    }
}


static u_char *
ngx_http_llmgw_account_line(u_char *p, ngx_http_llmgw_account_node_t *an)
{
    switch (an->kind) {

    case NGX_HTTP_LLMGW_ACCOUNT_JTI:
        p = ngx_cpymem(p, "{\"jti_hash\":\"", sizeof("{\"jti_hash\":\"") - 1);
        p = ngx_hex_dump(p, an->data, an->id_len);
        return ngx_sprintf(p, "\",\"exp\":%T}\n", an->time);

    case NGX_HTTP_LLMGW_ACCOUNT_SUBJECT:
        p = ngx_cpymem(p, "{\"subject\":", sizeof("{\"subject\":") - 1);
        p = ngx_http_llmgw_account_json_str(p, an->data, an->id_len);
        return ngx_sprintf(p, ",\"not_before\":%T}\n", an->time);

    case NGX_HTTP_LLMGW_ACCOUNT_CLIENT:
        p = ngx_cpymem(p, "{\"client_id\":", sizeof("{\"client_id\":") - 1);
        p = ngx_http_llmgw_account_json_str(p, an->data, an->id_len);
        return ngx_cpymem(p, "}\n", 2);

    default: /* NGX_HTTP_LLMGW_ACCOUNT_USER */
        p = ngx_cpymem(p, "{\"user_id\":", sizeof("{\"user_id\":") - 1);
        p = ngx_http_llmgw_account_json_str(p, an->data, an->id_len);
        p = ngx_sprintf(p, ",\"active\":%s,\"department\":",
                        an->active ? "true" : "false");
        p = ngx_http_llmgw_account_json_str(p, an->data + an->id_len,
                                            an->dept_len);
        p = ngx_sprintf(p, ",\"start\":%T", an->time);

        if (an->end != NGX_HTTP_LLMGW_ACCOUNT_NO_END) {
            p = ngx_sprintf(p, ",\"end\":%T", an->end);
        }

        return ngx_cpymem(p, "}\n", 2);
    }
}


static u_char *
ngx_http_llmgw_account_json_str(u_char *p, u_char *s, size_t len)
{
    *p++ = '"';
    p = (u_char *) ngx_escape_json(p, s, len);
    *p++ = '"';

    return p;
}


/*
 * The state file into the new zone, at start.  No file yet is an empty
 * state; a file that is not what save() writes stops nginx with its line,
 * as losing the revocations it holds would let tokens in.
 */

static ngx_int_t
ngx_http_llmgw_account_load(ngx_http_llmgw_account_ctx_t *ctx,
    ngx_log_t *log)
{
    u_char           *buf, *p, *last, *nl;
    off_t             size;
    time_t            now;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_int_t         rc;
    ngx_uint_t        line;
    const char       *err;
    ngx_file_info_t   fi;

    fd = ngx_open_file(ctx->state_file.data, NGX_FILE_RDONLY,
                       NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno == NGX_ENOENT) {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_open_file_n " \"%V\" failed", &ctx->state_file);
        return NGX_ERROR;
    }

    buf = NULL;
    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_fd_info_n " \"%V\" failed", &ctx->state_file);
        goto done;
    }

    size = ngx_file_size(&fi);

    if (size > NGX_HTTP_LLMGW_ACCOUNT_MAX_FILE) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "llmgw state file \"%V\" is too large",
                      &ctx->state_file);
        goto done;
    }

    buf = ngx_alloc((size_t) size + 1, log);
    if (buf == NULL) {
        goto done;
    }

    n = ngx_read_fd(fd, buf, (size_t) size);

    if (n != (ssize_t) size) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      "reading llmgw state file \"%V\" failed",
                      &ctx->state_file);
        goto done;
    }

    p = buf;
    last = buf + size;
    now = ngx_time();

    for (line = 1; p < last; line++) {
        nl = ngx_strlchr(p, last, '\n');

        if (nl == NULL) {
            err = "line not ended";
            goto invalid;
        }

        if (line == 1) {
            if (nl - p != sizeof("{\"llmgw_state\":1}") - 1
                || ngx_strncmp(p, "{\"llmgw_state\":1}", nl - p) != 0)
            {
                err = "not an llmgw state file of version 1";
                goto invalid;
            }

        } else if (ngx_http_llmgw_account_load_line(ctx, p, nl - p, now, log,
                                                    &err)
                   != NGX_OK)
        {
            goto invalid;
        }

        p = nl + 1;
    }

    if (line == 1) {
        err = "empty";
        goto invalid;
    }

    rc = NGX_OK;
    goto done;

invalid:

    ngx_log_error(NGX_LOG_EMERG, log, 0,
                  "llmgw state file \"%V\", line %ui: %s",
                  &ctx->state_file, line, err);

done:

    if (buf) {
        ngx_free(buf);
    }

    (void) ngx_close_file(fd);

    return rc;
}


/* one entry: exactly the members save() writes for its kind */

static ngx_int_t
ngx_http_llmgw_account_load_line(ngx_http_llmgw_account_ctx_t *ctx,
    u_char *p, size_t len, time_t now, ngx_log_t *log, const char **err)
{
    json_t                           *o, *v, *t;
    ngx_int_t                         rc;
    ngx_uint_t                        members;
    ngx_http_llmgw_account_change_t   ch;

    o = json_loadb((const char *) p, len, JSON_REJECT_DUPLICATES, NULL);

    if (!json_is_object(o)) {
        json_decref(o);
        *err = "not a JSON object";
        return NGX_ERROR;
    }

    ngx_memzero(&ch, sizeof(ngx_http_llmgw_account_change_t));

    *err = "unknown entry";
    rc = NGX_ERROR;
    members = 0;
    t = NULL;

    if ((v = json_object_get(o, "jti_hash")) != NULL) {
        ch.kind = NGX_HTTP_LLMGW_ACCOUNT_JTI;
        t = json_object_get(o, "exp");
        members = 2;

    } else if ((v = json_object_get(o, "subject")) != NULL) {
        ch.kind = NGX_HTTP_LLMGW_ACCOUNT_SUBJECT;
        t = json_object_get(o, "not_before");
        members = 2;

    } else if ((v = json_object_get(o, "client_id")) != NULL) {
        ch.kind = NGX_HTTP_LLMGW_ACCOUNT_CLIENT;
        members = 1;

    } else if ((v = json_object_get(o, "user_id")) != NULL) {
        ch.kind = NGX_HTTP_LLMGW_ACCOUNT_USER;
        t = json_object_get(o, "start");
        members = 4;

        if (!json_is_boolean(json_object_get(o, "active"))
            || !json_is_string(json_object_get(o, "department")))
        {
            *err = "user without active or department";
            goto done;
        }

        ch.active = json_is_true(json_object_get(o, "active"));
        ch.department.data = (u_char *) json_string_value(
                                    json_object_get(o, "department"));
        ch.department.len = json_string_length(
                                    json_object_get(o, "department"));
        ch.end = NGX_HTTP_LLMGW_ACCOUNT_NO_END;

        if (json_object_get(o, "end")) {
            if (!json_is_integer(json_object_get(o, "end"))) {
                *err = "end not an integer";
                goto done;
            }

            ch.end = (time_t) json_integer_value(json_object_get(o, "end"));
            members++;
        }

    } else {
        goto done;
    }

    if (!json_is_string(v)
        || (members > 1 && ch.kind != NGX_HTTP_LLMGW_ACCOUNT_USER
            && !json_is_integer(t))
        || (ch.kind == NGX_HTTP_LLMGW_ACCOUNT_USER && !json_is_integer(t)))
    {
        *err = "wrong member type";
        goto done;
    }

    if (json_object_size(o) != members) {
        *err = "unknown member";
        goto done;
    }

    ch.id.data = (u_char *) json_string_value(v);
    ch.id.len = json_string_length(v);
    ch.time = t ? (time_t) json_integer_value(t) : 0;

    rc = ngx_http_llmgw_account_apply_locked(ctx, &ch, now, log);

    if (rc == NGX_DECLINED) {
        *err = "invalid id or department, or the zone is full";
        rc = NGX_ERROR;
    }

done:

    json_decref(o);

    return rc;
}


ngx_int_t
ngx_http_llmgw_account_lookup(ngx_shm_zone_t *zone, ngx_uint_t kind,
    ngx_str_t *id, time_t now, ngx_pool_t *pool,
    ngx_http_llmgw_account_change_t *ch)
{
    ngx_int_t                       rc;
    ngx_str_t                       key;
    u_char                          buf[NGX_HTTP_LLMGW_SHA256_LEN];
    ngx_http_llmgw_account_ctx_t   *ctx;
    ngx_http_llmgw_account_node_t  *an;

    if (ngx_http_llmgw_account_key(kind, id, buf, &key) != NGX_OK) {
        return NGX_DECLINED;
    }

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    an = ngx_http_llmgw_account_find(ctx, kind, &key);

    if (an == NULL
        || (kind == NGX_HTTP_LLMGW_ACCOUNT_JTI
            && an->time + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE < now))
    {
        rc = NGX_DECLINED;

    } else {
        rc = ngx_http_llmgw_account_copy(an, pool, ch);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


ngx_int_t
ngx_http_llmgw_account_list(ngx_shm_zone_t *zone, ngx_uint_t kind,
    time_t now, ngx_pool_t *pool, ngx_array_t *out)
{
    ngx_int_t                         rc;
    ngx_queue_t                      *q, *queue;
    ngx_http_llmgw_account_ctx_t     *ctx;
    ngx_http_llmgw_account_node_t    *an;
    ngx_http_llmgw_account_change_t  *ch;

    ctx = zone->data;

    queue = (kind == NGX_HTTP_LLMGW_ACCOUNT_JTI) ? &ctx->sh->jtis
                                                 : &ctx->sh->others;
    rc = NGX_OK;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (q = ngx_queue_head(queue);
         q != ngx_queue_sentinel(queue);
         q = ngx_queue_next(q))
    {
        an = ngx_queue_data(q, ngx_http_llmgw_account_node_t, queue);

        if (an->kind != kind
            || (kind == NGX_HTTP_LLMGW_ACCOUNT_JTI
                && an->time + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE < now))
        {
            continue;
        }

        ch = ngx_array_push(out);
        if (ch == NULL
            || ngx_http_llmgw_account_copy(an, pool, ch) != NGX_OK)
        {
            rc = NGX_ERROR;
            break;
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


/* an entry as a change, its strings in pool; a jti's id in hex */

static ngx_int_t
ngx_http_llmgw_account_copy(ngx_http_llmgw_account_node_t *an,
    ngx_pool_t *pool, ngx_http_llmgw_account_change_t *ch)
{
    size_t   len;
    u_char  *p;

    ngx_memzero(ch, sizeof(ngx_http_llmgw_account_change_t));

    ch->kind = an->kind;
    ch->time = an->time;
    ch->end = an->end;
    ch->active = an->active;

    len = (an->kind == NGX_HTTP_LLMGW_ACCOUNT_JTI) ? 2 * an->id_len
                                                   : an->id_len;

    p = ngx_pnalloc(pool, len + an->dept_len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ch->id.data = p;
    ch->id.len = len;

    if (an->kind == NGX_HTTP_LLMGW_ACCOUNT_JTI) {
        p = ngx_hex_dump(p, an->data, an->id_len);

    } else {
        p = ngx_cpymem(p, an->data, an->id_len);
    }

    ch->department.data = p;
    ch->department.len = an->dept_len;
    ngx_memcpy(p, an->data + an->id_len, an->dept_len);

    return NGX_OK;
}
