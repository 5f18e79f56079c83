
/*
 * Copyright (C) llmgw authors
 *
 * The account state zone.  Every entry (a revoked jti, a not-before time,
 * a revoked client, a directory account, a registered client) sits in
 * one rbtree keyed by a hash of its kind and id and compared exactly on
 * both, so a lookup is O(log n) under the zone's mutex.  Revoked jti are also queued oldest
 * first: expired ones are dropped a few at a time before each insertion,
 * all of them when the slab is full, and when a lookup meets one.  A live
 * revocation is never evicted to make room: forgetting it would let the
 * token in again.
 *
 * The state file keeps the zone across restarts: JSON lines, the first
 * {"llmgw_state":1}, then an entry a line; written whole to a new file
 * and renamed over the old one, so a reader sees the old or the new.
 * A change made at run time is not worth a whole file: a worker appends
 * it to the journal (FILE.journal, a line a change in the same form,
 * removals with "remove":true) under the zone's lock, through a
 * descriptor the master opened (O_APPEND) and the workers inherit, as
 * they do log files: the workers' user needs no right on FILE's
 * directory.  The master folds the journal in at start and reload
 * (save()): it copies the entries and notes the journal's length under
 * the lock, writes FILE, then under the lock again truncates the journal
 * to what was appended meanwhile.  A start replays FILE, then the
 * journal; a change is a whole value, so a line replayed twice is
 * harmless.
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

/* entries a page looks at under the lock, at most */
#define NGX_HTTP_LLMGW_ACCOUNT_PAGE_SCAN  65536


/*
 * 80 bytes before data on 64-bit: a revoked jti (32 bytes of id) takes a
 * 128-byte slab chunk.  value is a user's department or a registered
 * client's ceiling, value2 its pending ceiling.
 */

typedef struct {
    ngx_rbtree_node_t          node;
    ngx_queue_t                queue;      /* jtis or others of the sh */
    time_t                     time;
    time_t                     end;
    u_char                     kind;
    u_char                     active;
    u_char                     id_len;
    u_char                     status;     /* registered */
    u_short                    value_len;
    u_short                    value2_len;
    u_char                     data[1];    /* id, value, value2 */
} ngx_http_llmgw_account_node_t;


typedef struct {
    ngx_rbtree_t               rbtree;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                jtis;       /* oldest first */
    ngx_queue_t                others;
    ngx_uint_t                 count[NGX_HTTP_LLMGW_ACCOUNT_KINDS];
                                           /* entries by kind */
    ngx_uint_t                 directory;  /* a directory was loaded */
    ngx_http_llmgw_account_repl_t  repl;
} ngx_http_llmgw_account_sh_t;


typedef struct {
    ngx_http_llmgw_account_sh_t  *sh;
    ngx_slab_pool_t              *shpool;
    ngx_str_t                     state_file;
    u_char                       *journal;     /* FILE.journal */
    ngx_pool_cleanup_file_t      *journal_clnf; /* fd: the master's,
                                                   inherited; or invalid */
    ngx_array_t                  *users;   /* ngx_http_llmgw_user_t */
    time_t                        utc_offset;
} ngx_http_llmgw_account_ctx_t;


/*
 * The zones of each kind have a tag of their own: on a reload nginx hands
 * a zone of the same name and size over to its new owner only under the
 * same tag, so one kind never inherits another kind's layout.
 */
static ngx_uint_t  ngx_http_llmgw_account_tag;


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
static ngx_int_t ngx_http_llmgw_account_replay(
    ngx_http_llmgw_account_ctx_t *ctx, u_char *name, ngx_log_t *log);
static ngx_int_t ngx_http_llmgw_account_read(u_char *name, u_char **buf,
    size_t *size, ngx_log_t *log);
static ngx_int_t ngx_http_llmgw_account_load_line(
    ngx_http_llmgw_account_ctx_t *ctx, u_char *p, size_t len, time_t now,
    ngx_log_t *log, const char **err);
static json_t *ngx_http_llmgw_account_parse(u_char *p, size_t len,
    ngx_http_llmgw_account_change_t *ch, const char **err);
static ngx_int_t ngx_http_llmgw_account_valid(
    ngx_http_llmgw_account_change_t *ch);
static ngx_int_t ngx_http_llmgw_account_names_valid(ngx_str_t *names);
static json_t *ngx_http_llmgw_account_parse_registered(json_t *o,
    ngx_http_llmgw_account_change_t *ch, const char **err);
static void ngx_http_llmgw_account_journal_close(void *data);
static off_t ngx_http_llmgw_account_journal_len(
    ngx_http_llmgw_account_ctx_t *ctx, ngx_log_t *log);
static void ngx_http_llmgw_account_journal_cut(
    ngx_http_llmgw_account_ctx_t *ctx, off_t start, ngx_log_t *log);
static ngx_uint_t ngx_http_llmgw_account_expected(
    ngx_http_llmgw_account_ctx_t *ctx, ngx_http_llmgw_account_change_t *ch,
    time_t now);
static ngx_uint_t ngx_http_llmgw_account_same(
    ngx_http_llmgw_account_change_t *one,
    ngx_http_llmgw_account_change_t *two);
static ngx_uint_t ngx_http_llmgw_account_str_eq(ngx_str_t *one,
    ngx_str_t *two);
static ngx_int_t ngx_http_llmgw_account_append(
    ngx_http_llmgw_account_ctx_t *ctx, u_char *buf, size_t len,
    ngx_log_t *log);
static void ngx_http_llmgw_account_node_change(
    ngx_http_llmgw_account_node_t *an, ngx_http_llmgw_account_change_t *ch,
    u_char *hex);
static u_char *ngx_http_llmgw_account_json_str(u_char *p, u_char *s,
    size_t len);
static ngx_int_t ngx_http_llmgw_account_copy(
    ngx_http_llmgw_account_node_t *an, ngx_pool_t *pool,
    ngx_http_llmgw_account_change_t *ch);
static ngx_rbtree_node_t *ngx_http_llmgw_account_after(
    ngx_http_llmgw_account_ctx_t *ctx, ngx_uint_t kind, ngx_str_t *key);
static u_char *ngx_http_llmgw_account_copy_str(u_char *p, ngx_str_t *s);


/* a registered client's status in a line, by its value */
static char  *ngx_http_llmgw_account_statuses[] = {
    "approved", "pending", "deleted"
};


/* an entry's key: its kind, then its id's bytes */
static const ngx_http_llmgw_zone_key_t  ngx_http_llmgw_account_zone_key = {
    offsetof(ngx_http_llmgw_account_node_t, data),
    offsetof(ngx_http_llmgw_account_node_t, id_len),
    sizeof(u_char),
    offsetof(ngx_http_llmgw_account_node_t, kind)
};


char *
ngx_http_llmgw_account_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t                     *value;
    ngx_shm_zone_t               **slot;
    ngx_http_llmgw_account_ctx_t  *ctx;

    slot = (ngx_shm_zone_t **) (p + cmd->offset);

    if (*slot != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_account_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = ngx_http_llmgw_zone_add(cf, &value[1], &ngx_http_llmgw_account_tag,
                                    ngx_http_llmgw_account_init_zone, ctx);
    if (*slot == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_llmgw_account_configure(ngx_conf_t *cf, ngx_shm_zone_t *zone,
    ngx_str_t *state_file, ngx_array_t *users, time_t utc_offset)
{
    ngx_pool_cleanup_t            *cln;
    ngx_pool_cleanup_file_t       *clnf;
    ngx_http_llmgw_account_ctx_t  *ctx;

    ctx = zone->data;

    ctx->state_file = *state_file;
    ctx->users = users;
    ctx->utc_offset = utc_offset;

    if (state_file->len == 0) {
        return NGX_OK;
    }

    ctx->journal = ngx_pnalloc(cf->pool,
                               state_file->len + sizeof(".journal"));
    if (ctx->journal == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->journal, "%V.journal%Z", state_file);

    /* opened by the zone's init, closed with the configuration */

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_pool_cleanup_file_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_llmgw_account_journal_close;

    clnf = cln->data;
    clnf->fd = NGX_INVALID_FILE;
    clnf->name = ctx->journal;

    /*
     * not ngx_cycle->log: on a reload that is the old cycle's, freed
     * before this configuration's pool is destroyed (at a worker's exit)
     */
    clnf->log = &cf->cycle->new_log;

    ctx->journal_clnf = clnf;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_account_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_uint_t                     made;
    ngx_http_llmgw_account_ctx_t  *ctx;

    ctx = shm_zone->data;

    /* a full zone is reported by apply, once per change */

    ctx->sh = ngx_http_llmgw_zone_init_sh(shm_zone, data,
                                          sizeof(ngx_http_llmgw_account_sh_t),
                                          "llmgw state zone", 0, &made);
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (data != NULL) {
        /* a reload: the entries stay; a directory given is applied */
        return ngx_http_llmgw_account_startup(shm_zone, ctx);
    }

    if (!made) {
        /* the zone a master kept (shm.exists) */
        return NGX_OK;
    }

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_llmgw_account_rbtree_insert_value);

    ngx_queue_init(&ctx->sh->jtis);
    ngx_queue_init(&ctx->sh->others);

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

    if (ctx->users) {
        ngx_shmtx_lock(&ctx->shpool->mutex);

        rc = ngx_http_llmgw_account_directory(ctx, shm_zone->shm.log);

        ngx_shmtx_unlock(&ctx->shpool->mutex);

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ngx_test_config || ctx->state_file.len == 0) {
        return NGX_OK;
    }

    /* read too: save() reads back what was appended while it wrote */

    ctx->journal_clnf->fd = ngx_open_file(ctx->journal,
                                          NGX_FILE_RDWR|O_APPEND,
                                          NGX_FILE_CREATE_OR_OPEN, 0600);

    if (ctx->journal_clnf->fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", ctx->journal);
        return NGX_ERROR;
    }

    /* the journal folded in */

    return ngx_http_llmgw_account_save(shm_zone, shm_zone->shm.log);
}


static void
ngx_http_llmgw_account_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_http_llmgw_zone_insert(temp, node, sentinel,
                               &ngx_http_llmgw_account_zone_key);
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
    return (ngx_http_llmgw_account_node_t *)
               ngx_http_llmgw_zone_find(&ctx->sh->rbtree,
                                        &ngx_http_llmgw_account_zone_key,
                                        ngx_http_llmgw_account_hash(kind, key),
                                        kind, NULL, key);
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
    size_t                          size;
    ngx_str_t                       key, value, value2;
    u_char                          buf[NGX_HTTP_LLMGW_SHA256_LEN];
    ngx_http_llmgw_account_node_t  *an;

    if (ngx_http_llmgw_account_valid(ch) != NGX_OK) {
        return NGX_DECLINED;
    }

    (void) ngx_http_llmgw_account_key(ch->kind, &ch->id, buf, &key);

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

    ngx_str_null(&value);
    ngx_str_null(&value2);

    if (ch->kind == NGX_HTTP_LLMGW_ACCOUNT_USER) {
        value = ch->department;

    } else if (ch->kind == NGX_HTTP_LLMGW_ACCOUNT_REGISTERED) {
        value = ch->ceiling;
        value2 = ch->pending_ceiling;
    }

    size = offsetof(ngx_http_llmgw_account_node_t, data) + key.len
           + value.len + value2.len;

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
    an->status = (u_char) ch->status;
    an->value_len = (u_short) value.len;
    an->value2_len = (u_short) value2.len;

    /* an empty value's data may be NULL */

    ngx_memcpy(an->data, key.data, key.len);

    if (value.len) {
        ngx_memcpy(an->data + key.len, value.data, value.len);
    }

    if (value2.len) {
        ngx_memcpy(an->data + key.len + value.len, value2.data, value2.len);
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

    if (user && user->value_len) {
        res->department.data = ngx_pnalloc(pool, user->value_len);
        if (res->department.data == NULL) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return NGX_ERROR;
        }

        ngx_memcpy(res->department.data, user->data + user->id_len,
                   user->value_len);
        res->department.len = user->value_len;
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
ngx_http_llmgw_account_commit(ngx_shm_zone_t *zone,
    ngx_http_llmgw_account_change_t *ch, ngx_uint_t n, time_t now,
    size_t bound, ngx_uint_t *compact, ngx_log_t *log)
{
    u_char                        *buf, *p;
    size_t                         len;
    ngx_int_t                      rc, rc2;
    ngx_uint_t                     i;
    ngx_http_llmgw_account_ctx_t  *ctx;

    ctx = zone->data;
    *compact = 0;

    len = 0;

    for (i = 0; i < n; i++) {
        if (ngx_http_llmgw_account_valid(&ch[i]) != NGX_OK) {
            return NGX_DECLINED;
        }

        len += ngx_http_llmgw_account_change_len(&ch[i]);
    }

    buf = NULL;

    if (ctx->state_file.len) {
        buf = ngx_alloc(len, log);
        if (buf == NULL) {
            return NGX_ERROR;
        }

        p = buf;

        for (i = 0; i < n; i++) {
            p = ngx_http_llmgw_account_change_line(p, &ch[i]);
        }

        len = p - buf;
    }

    rc = NGX_OK;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    /* all or nothing: the entries read are checked before any is changed */

    for (i = 0; i < n; i++) {
        if (ch[i].expect != NULL
            && !ngx_http_llmgw_account_expected(ctx, &ch[i], now))
        {
            ngx_shmtx_unlock(&ctx->shpool->mutex);

            if (buf) {
                ngx_free(buf);
            }

            return NGX_BUSY;
        }
    }

    for (i = 0; i < n; i++) {
        rc2 = ngx_http_llmgw_account_apply_locked(ctx, &ch[i], now, log);

        if (rc2 != NGX_OK) {
            rc = rc2;
        }
    }

    /* in the lock: a save() copies the entries and moves the journal */

    if (buf) {
        if (ngx_http_llmgw_account_append(ctx, buf, len, log) != NGX_OK) {
            rc = NGX_ERROR;

        } else {
            ctx->sh->repl.journal += len;
            *compact = (bound && ctx->sh->repl.journal > bound);
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (buf) {
        ngx_free(buf);
    }

    return rc;
}


/*
 * Whether ch's entry is still ch->expect, under the mutex.  An expired
 * jti is no entry, as a lookup has it.
 */

static ngx_uint_t
ngx_http_llmgw_account_expected(ngx_http_llmgw_account_ctx_t *ctx,
    ngx_http_llmgw_account_change_t *ch, time_t now)
{
    u_char                           buf[NGX_HTTP_LLMGW_SHA256_LEN];
    u_char                           hex[NGX_HTTP_LLMGW_JTI_HASH_LEN];
    ngx_str_t                        key;
    ngx_http_llmgw_account_node_t   *an;
    ngx_http_llmgw_account_change_t  cur;

    (void) ngx_http_llmgw_account_key(ch->kind, &ch->id, buf, &key);

    an = ngx_http_llmgw_account_find(ctx, ch->kind, &key);

    if (an != NULL
        && an->kind == NGX_HTTP_LLMGW_ACCOUNT_JTI
        && an->time + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE < now)
    {
        an = NULL;
    }

    if (an == NULL || ch->expect->kind == 0) {
        return (an == NULL && ch->expect->kind == 0);
    }

    ngx_http_llmgw_account_node_change(an, &cur, hex);

    return ngx_http_llmgw_account_same(&cur, ch->expect);
}


/* the same entry's values: what a lookup copies */

static ngx_uint_t
ngx_http_llmgw_account_same(ngx_http_llmgw_account_change_t *one,
    ngx_http_llmgw_account_change_t *two)
{
    return one->kind == two->kind
           && one->time == two->time
           && one->end == two->end
           && one->active == two->active
           && one->status == two->status
           && ngx_http_llmgw_account_str_eq(&one->department,
                                            &two->department)
           && ngx_http_llmgw_account_str_eq(&one->ceiling, &two->ceiling)
           && ngx_http_llmgw_account_str_eq(&one->pending_ceiling,
                                            &two->pending_ceiling);
}


/* an empty string's data may be NULL */

static ngx_uint_t
ngx_http_llmgw_account_str_eq(ngx_str_t *one, ngx_str_t *two)
{
    return one->len == two->len
           && (one->len == 0
               || ngx_memcmp(one->data, two->data, one->len) == 0);
}


/* a short write to the page cache, whole or not at all in practice */

static ngx_int_t
ngx_http_llmgw_account_append(ngx_http_llmgw_account_ctx_t *ctx, u_char *buf,
    size_t len, ngx_log_t *log)
{
    ssize_t  n;

    if (ctx->journal_clnf->fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "llmgw state journal \"%s\" is not open",
                      ctx->journal);
        return NGX_ERROR;
    }

    n = ngx_write_fd(ctx->journal_clnf->fd, buf, len);

    if (n != (ssize_t) len) {
        ngx_log_error(NGX_LOG_ALERT, log, n == -1 ? ngx_errno : 0,
                      "writing llmgw state journal \"%s\" failed",
                      ctx->journal);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_account_commit_line(ngx_shm_zone_t *zone, u_char *p,
    size_t len, time_t now, ngx_uint_t *expired, ngx_log_t *log)
{
    json_t                           *o;
    ngx_int_t                         rc;
    ngx_uint_t                        compact;
    const char                       *err;
    ngx_http_llmgw_account_change_t   ch;

    *expired = 0;

    o = ngx_http_llmgw_account_parse(p, len, &ch, &err);

    if (o == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "llmgw state change \"%*s\" ignored: %s",
                      ngx_min(len, 128), p, err);
        return NGX_DECLINED;
    }

    if (ch.kind == NGX_HTTP_LLMGW_ACCOUNT_JTI
        && ch.time + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE < now)
    {
        *expired = 1;
    }

    rc = ngx_http_llmgw_account_commit(zone, &ch, 1, now, 0, &compact, log);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "llmgw state change \"%*s\" not applied",
                      ngx_min(len, 128), p);
    }

    json_decref(o);

    return rc;
}


ngx_http_llmgw_account_repl_t *
ngx_http_llmgw_account_repl(ngx_shm_zone_t *zone)
{
    ngx_http_llmgw_account_ctx_t  *ctx;

    ctx = zone->data;

    return &ctx->sh->repl;
}


size_t
ngx_http_llmgw_account_last_id(ngx_shm_zone_t *zone, u_char *buf)
{
    size_t                         len;
    ngx_http_llmgw_account_ctx_t  *ctx;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    len = ctx->sh->repl.last_id_len;
    ngx_memcpy(buf, ctx->sh->repl.last_id, len);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return len;
}


/* stream IDs "ms-seq" compare as the pair of numbers */

void
ngx_http_llmgw_account_set_last_id(ngx_shm_zone_t *zone, u_char *id,
    size_t len, ngx_uint_t force)
{
    u_char                        *dash, *odash;
    ngx_int_t                      ms, seq, oms, oseq;
    ngx_http_llmgw_account_ctx_t  *ctx;
    ngx_http_llmgw_account_repl_t *repl;

    ctx = zone->data;
    repl = &ctx->sh->repl;

    if (len == 0 || len > NGX_HTTP_LLMGW_ACCOUNT_LAST_ID) {
        return;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (!force && repl->last_id_len) {
        dash = ngx_strlchr(id, id + len, '-');
        odash = ngx_strlchr(repl->last_id, repl->last_id + repl->last_id_len,
                            '-');

        if (dash && odash) {
            ms = ngx_atoi(id, dash - id);
            seq = ngx_atoi(dash + 1, id + len - dash - 1);
            oms = ngx_atoi(repl->last_id, odash - repl->last_id);
            oseq = ngx_atoi(odash + 1,
                            repl->last_id + repl->last_id_len - odash - 1);

            if (ms < oms || (ms == oms && seq <= oseq)) {
                ngx_shmtx_unlock(&ctx->shpool->mutex);
                return;
            }
        }
    }

    ngx_memcpy(repl->last_id, id, len);
    repl->last_id_len = len;

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


ngx_int_t
ngx_http_llmgw_account_save(ngx_shm_zone_t *zone, ngx_log_t *log)
{
    u_char                          *buf, *p, *tmp;
    off_t                            start;
    size_t                           len;
    ssize_t                          n;
    ngx_fd_t                         fd;
    ngx_err_t                        err;
    ngx_uint_t                       i;
    ngx_queue_t                     *q, *queues[2];
    ngx_http_llmgw_account_ctx_t    *ctx;
    ngx_http_llmgw_account_node_t   *an;
    ngx_http_llmgw_account_change_t  ch;
    u_char                           hex[NGX_HTTP_LLMGW_JTI_HASH_LEN];

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
            ngx_http_llmgw_account_node_change(an, &ch, hex);
            len += ngx_http_llmgw_account_change_len(&ch);
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
            ngx_http_llmgw_account_node_change(an, &ch, hex);
            p = ngx_http_llmgw_account_change_line(p, &ch);
        }
    }

    /* the journal up to here is in buf */
    start = ngx_http_llmgw_account_journal_len(ctx, log);

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

    /* what FILE has now leaves the journal */

    if (start > 0) {
        ngx_shmtx_lock(&ctx->shpool->mutex);
        ngx_http_llmgw_account_journal_cut(ctx, start, log);
        ngx_shmtx_unlock(&ctx->shpool->mutex);
    }

    return NGX_OK;

failed:

    /* the journal stays whole: the next start replays it */

    ngx_free(tmp);
    ngx_free(buf);

    return NGX_ERROR;
}


/* the configuration's journal descriptor, when it was opened */

static void
ngx_http_llmgw_account_journal_close(void *data)
{
    ngx_pool_cleanup_file_t  *c = data;

    if (c->fd != NGX_INVALID_FILE) {
        ngx_pool_cleanup_file(c);
        c->fd = NGX_INVALID_FILE;
    }
}


/* the journal's length, or 0 when there is none (or it cannot be told) */

static off_t
ngx_http_llmgw_account_journal_len(ngx_http_llmgw_account_ctx_t *ctx,
    ngx_log_t *log)
{
    ngx_file_info_t  fi;

    if (ctx->journal_clnf == NULL
        || ctx->journal_clnf->fd == NGX_INVALID_FILE)
    {
        return 0;
    }

    if (ngx_fd_info(ctx->journal_clnf->fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_fd_info_n " \"%s\" failed", ctx->journal);
        return 0;
    }

    return ngx_file_size(&fi);
}


/*
 * The journal's first start bytes dropped, under the lock: what was
 * appended after them (while FILE was written) read, the journal
 * truncated, and that written again.  A failure leaves lines twice
 * (harmless), never none.
 */

static void
ngx_http_llmgw_account_journal_cut(ngx_http_llmgw_account_ctx_t *ctx,
    off_t start, ngx_log_t *log)
{
    off_t     end;
    u_char   *tail;
    size_t    len;
    ssize_t   n;
    ngx_fd_t  fd;

    fd = ctx->journal_clnf->fd;
    end = ngx_http_llmgw_account_journal_len(ctx, log);
    len = (size_t) (end - start);
    tail = NULL;

    if (end < start) {
        return;
    }

    if (len) {
        tail = ngx_alloc(len, log);
        if (tail == NULL) {
            return;
        }

        n = pread(fd, tail, len, start);

        if (n != (ssize_t) len) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          "reading llmgw state journal \"%s\" failed, "
                          "kept whole", ctx->journal);
            ngx_free(tail);
            return;
        }
    }

    if (ftruncate(fd, 0) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "ftruncate() \"%s\" failed", ctx->journal);

    } else if (len && ngx_write_fd(fd, tail, len) != (ssize_t) len) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "writing llmgw state journal \"%s\" failed: %uz "
                      "bytes of changes lost", ctx->journal, len);
    }

    ctx->sh->repl.journal = len;

    if (tail) {
        ngx_free(tail);
    }
}


static void
ngx_http_llmgw_account_node_change(ngx_http_llmgw_account_node_t *an,
    ngx_http_llmgw_account_change_t *ch, u_char *hex)
{
    ngx_memzero(ch, sizeof(ngx_http_llmgw_account_change_t));

    ch->kind = an->kind;
    ch->time = an->time;
    ch->end = an->end;
    ch->active = an->active;

    if (an->kind == NGX_HTTP_LLMGW_ACCOUNT_JTI) {
        ngx_hex_dump(hex, an->data, an->id_len);
        ch->id.data = hex;
        ch->id.len = 2 * an->id_len;
        return;
    }

    ch->id.data = an->data;
    ch->id.len = an->id_len;

    if (an->kind == NGX_HTTP_LLMGW_ACCOUNT_USER) {
        ch->department.data = an->data + an->id_len;
        ch->department.len = an->value_len;

    } else if (an->kind == NGX_HTTP_LLMGW_ACCOUNT_REGISTERED) {
        ch->status = an->status;
        ch->ceiling.data = an->data + an->id_len;
        ch->ceiling.len = an->value_len;
        ch->pending_ceiling.data = ch->ceiling.data + an->value_len;
        ch->pending_ceiling.len = an->value2_len;
    }
}


static ngx_int_t
ngx_http_llmgw_account_valid(ngx_http_llmgw_account_change_t *ch)
{
    ngx_str_t  key;
    u_char     buf[NGX_HTTP_LLMGW_SHA256_LEN];

    if (ch->kind < NGX_HTTP_LLMGW_ACCOUNT_JTI
        || ch->kind > NGX_HTTP_LLMGW_ACCOUNT_REGISTERED
        || ngx_http_llmgw_account_key(ch->kind, &ch->id, buf, &key) != NGX_OK
        || ch->department.len > 255)
    {
        return NGX_DECLINED;
    }

    if (ch->kind != NGX_HTTP_LLMGW_ACCOUNT_REGISTERED) {
        return NGX_OK;
    }

    if (ch->status > NGX_HTTP_LLMGW_ACCOUNT_DELETED
        || (ch->ceiling.len == 0
            && ch->status != NGX_HTTP_LLMGW_ACCOUNT_DELETED)
        || ngx_http_llmgw_account_names_valid(&ch->ceiling) != NGX_OK
        || ngx_http_llmgw_account_names_valid(&ch->pending_ceiling) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * Scope names separated by single spaces (or none), bounded, without
 * control characters or ',': what the clients file's column would hold.
 */

static ngx_int_t
ngx_http_llmgw_account_names_valid(ngx_str_t *names)
{
    size_t  i;
    u_char  c;

    if (names->len > NGX_HTTP_LLMGW_ACCOUNT_MAX_CEILING) {
        return NGX_DECLINED;
    }

    for (i = 0; i < names->len; i++) {
        c = names->data[i];

        if (c < ' ' || c == 0x7f || c == ',') {
            return NGX_DECLINED;
        }

        if (c == ' '
            && (i == 0 || i == names->len - 1 || names->data[i - 1] == ' '))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


size_t
ngx_http_llmgw_account_change_len(ngx_http_llmgw_account_change_t *ch)
{
    size_t  len;

    len = 2 + ch->id.len + ngx_escape_json(NULL, ch->id.data, ch->id.len)
          + NGX_TIME_T_LEN + 2 + sizeof(",\"remove\":true") - 1;

    switch (ch->kind) {

    case NGX_HTTP_LLMGW_ACCOUNT_JTI:
        return len + sizeof("{\"jti_hash\":,\"exp\":}") - 1;

    case NGX_HTTP_LLMGW_ACCOUNT_SUBJECT:
        return len + sizeof("{\"subject\":,\"not_before\":}") - 1;

    case NGX_HTTP_LLMGW_ACCOUNT_CLIENT:
        return len + sizeof("{\"client_id\":}") - 1;

    case NGX_HTTP_LLMGW_ACCOUNT_REGISTERED:
        return len + sizeof("{\"registered_client\":,\"status\":\"approved\","
                            "\"ceiling\":,\"pending_ceiling\":}") - 1
               + 2 + ch->ceiling.len
               + ngx_escape_json(NULL, ch->ceiling.data, ch->ceiling.len)
               + 2 + ch->pending_ceiling.len
               + ngx_escape_json(NULL, ch->pending_ceiling.data,
                                 ch->pending_ceiling.len);

    default: /* NGX_HTTP_LLMGW_ACCOUNT_USER */
        return len + sizeof("{\"user_id\":,\"active\":false,"
                            "\"department\":,\"start\":,\"end\":}") - 1
               + NGX_TIME_T_LEN + 2 + ch->department.len
               + ngx_escape_json(NULL, ch->department.data,
                                 ch->department.len);
    }
}


u_char *
ngx_http_llmgw_account_change_line(u_char *p,
    ngx_http_llmgw_account_change_t *ch)
{
    switch (ch->kind) {

    case NGX_HTTP_LLMGW_ACCOUNT_JTI:
        p = ngx_cpymem(p, "{\"jti_hash\":", sizeof("{\"jti_hash\":") - 1);
        p = ngx_http_llmgw_account_json_str(p, ch->id.data, ch->id.len);
        p = ngx_sprintf(p, ",\"exp\":%T", ch->time);
        break;

    case NGX_HTTP_LLMGW_ACCOUNT_SUBJECT:
        p = ngx_cpymem(p, "{\"subject\":", sizeof("{\"subject\":") - 1);
        p = ngx_http_llmgw_account_json_str(p, ch->id.data, ch->id.len);
        p = ngx_sprintf(p, ",\"not_before\":%T", ch->time);
        break;

    case NGX_HTTP_LLMGW_ACCOUNT_CLIENT:
        p = ngx_cpymem(p, "{\"client_id\":", sizeof("{\"client_id\":") - 1);
        p = ngx_http_llmgw_account_json_str(p, ch->id.data, ch->id.len);
        break;

    case NGX_HTTP_LLMGW_ACCOUNT_REGISTERED:
        p = ngx_cpymem(p, "{\"registered_client\":",
                       sizeof("{\"registered_client\":") - 1);
        p = ngx_http_llmgw_account_json_str(p, ch->id.data, ch->id.len);
        p = ngx_sprintf(p, ",\"status\":\"%s\",\"ceiling\":",
                        ngx_http_llmgw_account_statuses[ch->status]);
        p = ngx_http_llmgw_account_json_str(p, ch->ceiling.data,
                                            ch->ceiling.len);
        p = ngx_cpymem(p, ",\"pending_ceiling\":",
                       sizeof(",\"pending_ceiling\":") - 1);
        p = ngx_http_llmgw_account_json_str(p, ch->pending_ceiling.data,
                                            ch->pending_ceiling.len);
        break;

    default: /* NGX_HTTP_LLMGW_ACCOUNT_USER */
        p = ngx_cpymem(p, "{\"user_id\":", sizeof("{\"user_id\":") - 1);
        p = ngx_http_llmgw_account_json_str(p, ch->id.data, ch->id.len);
        p = ngx_sprintf(p, ",\"active\":%s,\"department\":",
                        ch->active ? "true" : "false");
        p = ngx_http_llmgw_account_json_str(p, ch->department.data,
                                            ch->department.len);
        p = ngx_sprintf(p, ",\"start\":%T", ch->time);

        if (ch->end != NGX_HTTP_LLMGW_ACCOUNT_NO_END) {
            p = ngx_sprintf(p, ",\"end\":%T", ch->end);
        }

        break;
    }

    if (ch->remove) {
        p = ngx_cpymem(p, ",\"remove\":true", sizeof(",\"remove\":true") - 1);
    }

    return ngx_cpymem(p, "}\n", 2);
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
 * The state file into the new zone, at start, then its journals.  No
 * file yet is an empty state; a file that is not what save() writes stops
 * nginx with its line, as losing the revocations it holds would let
 * tokens in.
 */

static ngx_int_t
ngx_http_llmgw_account_load(ngx_http_llmgw_account_ctx_t *ctx,
    ngx_log_t *log)
{
    u_char      *buf, *p, *last, *nl;
    size_t       size;
    time_t       now;
    ngx_int_t    rc;
    ngx_uint_t   line;
    const char  *err;

    rc = ngx_http_llmgw_account_read(ctx->state_file.data, &buf, &size, log);

    if (rc == NGX_DECLINED) {
        goto journals;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
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

    ngx_free(buf);

journals:

    if (ngx_http_llmgw_account_replay(ctx, ctx->journal, log) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;

invalid:

    ngx_log_error(NGX_LOG_EMERG, log, 0,
                  "llmgw state file \"%V\", line %ui: %s",
                  &ctx->state_file, line, err);

    ngx_free(buf);

    return rc;
}


/*
 * A journal's lines, in order.  A last line without its newline is a
 * write cut short (a full disk): that change was never acknowledged, and
 * is skipped with a warning.
 */

static ngx_int_t
ngx_http_llmgw_account_replay(ngx_http_llmgw_account_ctx_t *ctx,
    u_char *name, ngx_log_t *log)
{
    u_char      *buf, *p, *last, *nl;
    size_t       size;
    time_t       now;
    ngx_int_t    rc;
    ngx_uint_t   line;
    const char  *err;

    rc = ngx_http_llmgw_account_read(name, &buf, &size, log);

    if (rc != NGX_OK) {
        return (rc == NGX_DECLINED) ? NGX_OK : NGX_ERROR;
    }

    p = buf;
    last = buf + size;
    now = ngx_time();

    for (line = 1; p < last; line++) {
        nl = ngx_strlchr(p, last, '\n');

        if (nl == NULL) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "llmgw state journal \"%s\", line %ui: not "
                          "ended, skipped", name, line);
            break;
        }

        if (ngx_http_llmgw_account_load_line(ctx, p, nl - p, now, log, &err)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "llmgw state journal \"%s\", line %ui: %s",
                          name, line, err);
            ngx_free(buf);
            return NGX_ERROR;
        }

        p = nl + 1;
    }

    ngx_free(buf);

    return NGX_OK;
}


/* a whole file into *buf (ngx_alloc); NGX_DECLINED: there is none */

static ngx_int_t
ngx_http_llmgw_account_read(u_char *name, u_char **buf, size_t *size,
    ngx_log_t *log)
{
    off_t            len;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_info_t  fi;

    *buf = NULL;

    fd = ngx_open_file(name, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno == NGX_ENOENT) {
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", name);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_fd_info_n " \"%s\" failed", name);
        goto failed;
    }

    len = ngx_file_size(&fi);

    if (len > NGX_HTTP_LLMGW_ACCOUNT_MAX_FILE) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "llmgw state file \"%s\" is too large", name);
        goto failed;
    }

    *buf = ngx_alloc((size_t) len + 1, log);
    if (*buf == NULL) {
        goto failed;
    }

    n = ngx_read_fd(fd, *buf, (size_t) len);

    if (n != (ssize_t) len) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      "reading llmgw state file \"%s\" failed", name);
        ngx_free(*buf);
        *buf = NULL;
        goto failed;
    }

    (void) ngx_close_file(fd);

    *size = (size_t) len;

    return NGX_OK;

failed:

    (void) ngx_close_file(fd);

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_llmgw_account_load_line(ngx_http_llmgw_account_ctx_t *ctx,
    u_char *p, size_t len, time_t now, ngx_log_t *log, const char **err)
{
    json_t                           *o;
    ngx_int_t                         rc;
    ngx_http_llmgw_account_change_t   ch;

    o = ngx_http_llmgw_account_parse(p, len, &ch, err);

    if (o == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_account_apply_locked(ctx, &ch, now, log);

    if (rc == NGX_DECLINED) {
        *err = "invalid id or department, or the zone is full";
        rc = NGX_ERROR;
    }

    json_decref(o);

    return rc;
}


/*
 * One line: exactly the members change_line() writes for its kind.  The
 * object (holding ch's strings) to json_decref(), or NULL and *err.
 */

static json_t *
ngx_http_llmgw_account_parse(u_char *p, size_t len,
    ngx_http_llmgw_account_change_t *ch, const char **err)
{
    json_t      *o, *v, *t, *rm;
    ngx_uint_t   members, timed;

    o = json_loadb((const char *) p, len, JSON_REJECT_DUPLICATES, NULL);

    if (!json_is_object(o)) {
        json_decref(o);
        *err = "not a JSON object";
        return NULL;
    }

    ngx_memzero(ch, sizeof(ngx_http_llmgw_account_change_t));

    *err = "unknown entry";
    members = 0;
    t = NULL;
    timed = 1;

    if ((v = json_object_get(o, "jti_hash")) != NULL) {
        ch->kind = NGX_HTTP_LLMGW_ACCOUNT_JTI;
        t = json_object_get(o, "exp");
        members = 2;

    } else if ((v = json_object_get(o, "subject")) != NULL) {
        ch->kind = NGX_HTTP_LLMGW_ACCOUNT_SUBJECT;
        t = json_object_get(o, "not_before");
        members = 2;

    } else if ((v = json_object_get(o, "client_id")) != NULL) {
        ch->kind = NGX_HTTP_LLMGW_ACCOUNT_CLIENT;
        members = 1;
        timed = 0;

    } else if ((v = json_object_get(o, "registered_client")) != NULL) {
        if (ngx_http_llmgw_account_parse_registered(o, ch, err) == NULL) {
            goto failed;
        }

        members = 4;
        timed = 0;

    } else if ((v = json_object_get(o, "user_id")) != NULL) {
        ch->kind = NGX_HTTP_LLMGW_ACCOUNT_USER;
        t = json_object_get(o, "start");
        members = 4;

        if (!json_is_boolean(json_object_get(o, "active"))
            || !json_is_string(json_object_get(o, "department")))
        {
            *err = "user without active or department";
            goto failed;
        }

        ch->active = json_is_true(json_object_get(o, "active"));
        ch->department.data = (u_char *) json_string_value(
                                    json_object_get(o, "department"));
        ch->department.len = json_string_length(
                                    json_object_get(o, "department"));
        ch->end = NGX_HTTP_LLMGW_ACCOUNT_NO_END;

        if (json_object_get(o, "end")) {
            if (!json_is_integer(json_object_get(o, "end"))) {
                *err = "end not an integer";
                goto failed;
            }

            ch->end = (time_t) json_integer_value(json_object_get(o, "end"));
            members++;
        }

    } else {
        goto failed;
    }

    if (!json_is_string(v) || (timed && !json_is_integer(t))) {
        *err = "wrong member type";
        goto failed;
    }

    rm = json_object_get(o, "remove");

    if (rm) {
        if (!json_is_true(rm)) {
            *err = "remove not true";
            goto failed;
        }

        ch->remove = 1;
        members++;
    }

    if (json_object_size(o) != members) {
        *err = "unknown member";
        goto failed;
    }

    ch->id.data = (u_char *) json_string_value(v);
    ch->id.len = json_string_length(v);
    ch->time = t ? (time_t) json_integer_value(t) : 0;

    return o;

failed:

    json_decref(o);

    return NULL;
}


/*
 * A registered client's members: "status" one of the three words,
 * "ceiling" and "pending_ceiling" strings (checked by valid()).  o, or
 * NULL and *err.
 */

static json_t *
ngx_http_llmgw_account_parse_registered(json_t *o,
    ngx_http_llmgw_account_change_t *ch, const char **err)
{
    json_t      *status, *ceiling, *pending;
    ngx_uint_t   i;

    ch->kind = NGX_HTTP_LLMGW_ACCOUNT_REGISTERED;

    status = json_object_get(o, "status");
    ceiling = json_object_get(o, "ceiling");
    pending = json_object_get(o, "pending_ceiling");

    if (!json_is_string(status) || !json_is_string(ceiling)
        || !json_is_string(pending))
    {
        *err = "registered client without status, ceiling or "
               "pending_ceiling";
        return NULL;
    }

    for (i = 0; i < 3; i++) {
        if (ngx_strcmp(json_string_value(status),
                       ngx_http_llmgw_account_statuses[i])
            == 0)
        {
            break;
        }
    }

    if (i == 3) {
        *err = "status not approved, pending or deleted";
        return NULL;
    }

    ch->status = i;
    ch->ceiling.data = (u_char *) json_string_value(ceiling);
    ch->ceiling.len = json_string_length(ceiling);
    ch->pending_ceiling.data = (u_char *) json_string_value(pending);
    ch->pending_ceiling.len = json_string_length(pending);

    return o;
}


ngx_uint_t
ngx_http_llmgw_account_count(ngx_shm_zone_t *zone, ngx_uint_t kind)
{
    ngx_http_llmgw_account_ctx_t  *ctx;

    ctx = zone->data;

    return *(volatile ngx_uint_t *) &ctx->sh->count[kind];
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


/*
 * An entry as a change, its strings copied into pool (the change
 * node_change makes points into the zone, valid only under its lock).
 */

static ngx_int_t
ngx_http_llmgw_account_copy(ngx_http_llmgw_account_node_t *an,
    ngx_pool_t *pool, ngx_http_llmgw_account_change_t *ch)
{
    u_char  *p;
    u_char   hex[NGX_HTTP_LLMGW_JTI_HASH_LEN];

    ngx_http_llmgw_account_node_change(an, ch, hex);

    p = ngx_pnalloc(pool, ch->id.len + ch->department.len + ch->ceiling.len
                          + ch->pending_ceiling.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, ch->id.data, ch->id.len);
    ch->id.data = p;
    p += ch->id.len;

    p = ngx_http_llmgw_account_copy_str(p, &ch->department);
    p = ngx_http_llmgw_account_copy_str(p, &ch->ceiling);
    (void) ngx_http_llmgw_account_copy_str(p, &ch->pending_ceiling);

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_account_page(ngx_shm_zone_t *zone, ngx_uint_t kinds,
    ngx_http_llmgw_account_change_t *after, ngx_uint_t n, time_t now,
    ngx_pool_t *pool, ngx_array_t *out, ngx_http_llmgw_account_change_t *next)
{
    u_char                            buf[NGX_HTTP_LLMGW_SHA256_LEN];
    ngx_int_t                         rc;
    ngx_str_t                         key;
    ngx_uint_t                        seen;
    ngx_rbtree_t                     *tree;
    ngx_rbtree_node_t                *node;
    ngx_http_llmgw_account_ctx_t     *ctx;
    ngx_http_llmgw_account_node_t    *an, *last;
    ngx_http_llmgw_account_change_t  *ch;

    ctx = zone->data;
    tree = &ctx->sh->rbtree;

    ngx_memzero(next, sizeof(ngx_http_llmgw_account_change_t));

    if (n == 0
        || (after != NULL
            && (after->kind == 0
                || ngx_http_llmgw_account_key(after->kind, &after->id, buf,
                                              &key)
                   != NGX_OK)))
    {
        return NGX_DECLINED;
    }

    rc = NGX_OK;
    last = NULL;
    seen = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (after != NULL) {
        node = ngx_http_llmgw_account_after(ctx, after->kind, &key);

    } else if (tree->root != tree->sentinel) {
        node = ngx_rbtree_min(tree->root, tree->sentinel);

    } else {
        node = NULL;
    }

    /*
     * Stops at the entry past a full page, or after SCAN looked at;
     * ngx_rbtree_next() is NULL after the last.
     */

    for ( /* void */ ; node != NULL; node = ngx_rbtree_next(tree, node))
    {
        if (seen++ == NGX_HTTP_LLMGW_ACCOUNT_PAGE_SCAN) {
            break;
        }

        an = (ngx_http_llmgw_account_node_t *) node;

        if (an->kind < 8 * sizeof(ngx_uint_t)
            && (kinds & ((ngx_uint_t) 1 << an->kind))
            && !(an->kind == NGX_HTTP_LLMGW_ACCOUNT_JTI
                 && an->time + NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE < now))
        {
            if (out->nelts == n) {
                break;
            }

            ch = ngx_array_push(out);
            if (ch == NULL
                || ngx_http_llmgw_account_copy(an, pool, ch) != NGX_OK)
            {
                rc = NGX_ERROR;
                break;
            }
        }

        last = an;
    }

    /* more to come: the next page starts after the last one looked at */

    if (rc == NGX_OK && node != NULL && last != NULL) {
        rc = ngx_http_llmgw_account_copy(last, pool, next);
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


/*
 * The first node above (kind, key) in the tree's order (hash, kind, key),
 * or NULL: a position, whether an entry is there or not.
 */

static ngx_rbtree_node_t *
ngx_http_llmgw_account_after(ngx_http_llmgw_account_ctx_t *ctx,
    ngx_uint_t kind, ngx_str_t *key)
{
    ngx_int_t                       rc;
    ngx_rbtree_key_t                hash;
    ngx_rbtree_node_t              *node, *sentinel, *above;
    ngx_http_llmgw_account_node_t  *an;

    hash = ngx_http_llmgw_account_hash(kind, key);

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;
    above = NULL;

    while (node != sentinel) {
        an = (ngx_http_llmgw_account_node_t *) node;

        if (hash != node->key) {
            rc = (hash < node->key) ? -1 : 1;

        } else if (kind != an->kind) {
            rc = (kind < an->kind) ? -1 : 1;

        } else {
            rc = ngx_memn2cmp(key->data, an->data, key->len, an->id_len);
        }

        if (rc < 0) {
            above = node;
            node = node->left;

        } else {
            node = node->right;
        }
    }

    return above;
}


/* s copied to p, unless empty (a jti's department: data NULL) */

static u_char *
ngx_http_llmgw_account_copy_str(u_char *p, ngx_str_t *s)
{
    if (s->len == 0) {
        return p;
    }

    ngx_memcpy(p, s->data, s->len);
    s->data = p;

    return p + s->len;
}
