
/*
 * Copyright (C) llmgw authors
 *
 * Account state in shared memory (llmgw_state_zone): revoked tokens by
 * jti until their exp, per-user not-before times, revoked clients, the
 * user directory's accounts (active or not, department, start and end),
 * and the clients registered through the admin API (over llmgw_clients).
 * The access check reads it; changes come through
 * ngx_http_llmgw_account_apply() (the state file, the user directory) and
 * ngx_http_llmgw_account_commit() (a change made durable: the journal
 * beside the state file, see ngx_http_llmgw_state.h).
 */


#ifndef _NGX_HTTP_LLMGW_ACCOUNT_H_INCLUDED_
#define _NGX_HTTP_LLMGW_ACCOUNT_H_INCLUDED_


#include "ngx_http_llmgw.h"
#include "ngx_http_llmgw_users.h"


/* what an entry is */
#define NGX_HTTP_LLMGW_ACCOUNT_JTI       1     /* a revoked token */
#define NGX_HTTP_LLMGW_ACCOUNT_SUBJECT   2     /* a user's not-before */
#define NGX_HTTP_LLMGW_ACCOUNT_CLIENT    3     /* a revoked client */
#define NGX_HTTP_LLMGW_ACCOUNT_USER      4     /* a directory account */
#define NGX_HTTP_LLMGW_ACCOUNT_REGISTERED 5    /* a client's registration
                                                  made through the admin
                                                  API */
#define NGX_HTTP_LLMGW_ACCOUNT_KINDS     6

/*
 * A registered client's status.  Deleted is a tombstone: it hides a
 * client of the llmgw_clients file, and it replicates (a full resync only
 * adds and replaces, so a removal would not).
 */
#define NGX_HTTP_LLMGW_ACCOUNT_APPROVED  0
#define NGX_HTTP_LLMGW_ACCOUNT_PENDING   1
#define NGX_HTTP_LLMGW_ACCOUNT_DELETED   2

/* the longest ceiling (scope names separated by single spaces) kept */
#define NGX_HTTP_LLMGW_ACCOUNT_MAX_CEILING  4096

/*
 * A revoked jti is kept this long after the token's exp: a token is still
 * accepted within the claims' leeway after its exp, and must stay refused.
 */
#define NGX_HTTP_LLMGW_ACCOUNT_JTI_GRACE  600

/* the longest id (subject, client_id, user_id) the zone keeps */
#define NGX_HTTP_LLMGW_ACCOUNT_MAX_ID     255

#define NGX_HTTP_LLMGW_ACCOUNT_NO_END     NGX_MAX_TIME_T_VALUE

/* the longest Redis stream entry ID kept ("ms-seq", two 64-bit numbers) */
#define NGX_HTTP_LLMGW_ACCOUNT_LAST_ID    48


/*
 * One change.  id: for a jti the 64 hex digits of its SHA-256 (what the
 * audit line's jti_hash shows: the jti itself is never kept), else the
 * subject, client_id or user_id.  A registered client's ceilings are
 * scope names separated by single spaces; pending_ceiling may be empty
 * (the default pending ceiling applies, as in the file).
 *
 * expect makes a commit conditional (compare-and-set): the entry must
 * still be what the caller read (as a lookup copies it; its kind 0: there
 * was none), else nothing is committed.  Only ngx_http_llmgw_account_
 * commit() looks at it; it is not part of the change's line, so what a
 * node replays from the journal or the stream is never conditional.
 */

typedef struct ngx_http_llmgw_account_change_s
    ngx_http_llmgw_account_change_t;

struct ngx_http_llmgw_account_change_s {
    ngx_uint_t                 kind;
    ngx_str_t                  id;
    time_t                     time;       /* jti: the token's exp;
                                              subject: not-before;
                                              user: start */
    time_t                     end;        /* user: first second after its
                                              last day, or _NO_END */
    ngx_str_t                  department; /* user */
    ngx_str_t                  ceiling;    /* registered */
    ngx_str_t                  pending_ceiling; /* registered */
    ngx_uint_t                 status;     /* registered: _APPROVED ... */
    ngx_http_llmgw_account_change_t  *expect; /* NULL: unconditional */
    unsigned                   active:1;   /* user */
    unsigned                   remove:1;   /* the entry goes */
};


/* what the access check asks about a token; empty strings: absent */

typedef struct {
    ngx_str_t                  jti_hash;
    ngx_str_t                  user;       /* llmgw_state_user_claim */
    ngx_str_t                  client_id;
    time_t                     iat;        /* -1: absent */
} ngx_http_llmgw_account_query_t;


typedef enum {
    NGX_HTTP_LLMGW_ACCOUNT_OK = 0,
    NGX_HTTP_LLMGW_ACCOUNT_JTI_REVOKED,
    NGX_HTTP_LLMGW_ACCOUNT_NOT_BEFORE,
    NGX_HTTP_LLMGW_ACCOUNT_CLIENT_REVOKED,
    NGX_HTTP_LLMGW_ACCOUNT_DISABLED,
    NGX_HTTP_LLMGW_ACCOUNT_NOT_STARTED,
    NGX_HTTP_LLMGW_ACCOUNT_ENDED,
    NGX_HTTP_LLMGW_ACCOUNT_UNKNOWN        /* not in the directory */
} ngx_http_llmgw_account_verdict_e;


typedef struct {
    ngx_http_llmgw_account_verdict_e  verdict;
    ngx_str_t                  department; /* the directory's, or empty */
    unsigned                   directory:1; /* a directory is loaded */
} ngx_http_llmgw_account_result_t;


/*
 * What the replication of ngx_http_llmgw_state.c keeps in the zone, for
 * every worker of the node: who reads the stream (a lease), when it last
 * read it, and the ID it read up to.  Times are ngx_current_msec (the
 * monotonic clock, the same in every process of the machine).
 */

typedef struct {
    ngx_atomic_t               lease_pid;   /* the reading worker */
    ngx_atomic_t               lease_until;
    ngx_atomic_t               read_at;     /* the last read that answered */
    ngx_atomic_t               resyncs;     /* full resyncs done */
    ngx_atomic_t               applied;     /* stream entries applied */
    size_t                     journal;     /* bytes, under the mutex */
    size_t                     last_id_len; /* under the mutex */
    u_char                     last_id[NGX_HTTP_LLMGW_ACCOUNT_LAST_ID];
} ngx_http_llmgw_account_repl_t;


/*
 * "llmgw_state_zone name:size": a conf setter for the http main conf;
 * stores the ngx_shm_zone_t * at cmd->offset.
 */
char *ngx_http_llmgw_account_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * What the zone's init does besides keeping the old state on a reload:
 * load state_file (a full name, or empty) when the zone is new, then
 * apply the user directory users (or NULL) read from a CSV with day
 * boundaries at utc_offset seconds east of UTC, then write the state
 * file (and fold its journal in).  Called at configuration time, before
 * the zone's init; state_file stays in the caller's memory.  NGX_OK or
 * NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_account_configure(ngx_conf_t *cf,
    ngx_shm_zone_t *zone, ngx_str_t *state_file, ngx_array_t *users,
    time_t utc_offset);

/*
 * Applies ch under the zone's mutex: adds or replaces an entry, or
 * removes it.  Expired revoked jti are dropped first; a live revocation
 * is never evicted.  NGX_OK; NGX_DECLINED when the zone is full (logged)
 * or ch is not valid; NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_account_apply(ngx_shm_zone_t *zone,
    ngx_http_llmgw_account_change_t *ch, time_t now, ngx_log_t *log);

/*
 * Writes every entry to the state file, if one is configured: a new file
 * beside it, then renamed over it; then the journal loses what the file
 * has.  NGX_OK, or NGX_ERROR (logged).  Blocks on the file system for as
 * long as the zone takes to write: the master's, at start and reload.
 */
ngx_int_t ngx_http_llmgw_account_save(ngx_shm_zone_t *zone, ngx_log_t *log);

/*
 * The durable way: checks every change, then under one lock applies them
 * and appends them to the journal (FILE.journal beside the state file, a
 * line a change, one write() with O_APPEND; nothing when there is no
 * state file).  The journal is replayed after the state file at start,
 * and folded into it by ngx_http_llmgw_account_save().  *compact is set
 * when the journal is over bound bytes.  NGX_OK; NGX_BUSY: the entry of
 * a change with an expect is no longer what it expects (nothing applied:
 * read it again); NGX_DECLINED: a change is not valid (nothing applied)
 * or the zone is full; NGX_ERROR: the journal could not be written (the
 * changes are applied, not durable).
 */
ngx_int_t ngx_http_llmgw_account_commit(ngx_shm_zone_t *zone,
    ngx_http_llmgw_account_change_t *ch, ngx_uint_t n, time_t now,
    size_t bound, ngx_uint_t *compact, ngx_log_t *log);

/*
 * A change as the state file's JSON line (with "remove":true when it
 * removes), newline included: its length, and the line written at p.
 */
size_t ngx_http_llmgw_account_change_len(ngx_http_llmgw_account_change_t *ch);
u_char *ngx_http_llmgw_account_change_line(u_char *p,
    ngx_http_llmgw_account_change_t *ch);

/*
 * A line of that form (without the newline: a stream entry's or a
 * snapshot's value) committed as above (bound 0: no compaction asked).
 * *expired is set when it is a revoked jti whose token expired (the
 * snapshot's copy may go).  NGX_OK, NGX_DECLINED (not a valid line,
 * logged), NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_account_commit_line(ngx_shm_zone_t *zone,
    u_char *p, size_t len, time_t now, ngx_uint_t *expired, ngx_log_t *log);

/* the replication's part of the zone */
ngx_http_llmgw_account_repl_t *ngx_http_llmgw_account_repl(
    ngx_shm_zone_t *zone);

/*
 * The stream ID read up to, copied into buf (NGX_HTTP_LLMGW_ACCOUNT_LAST_ID
 * bytes): its length, 0 when none.  _set_last_id moves it forward only,
 * unless force (a resync starts from the stream's tail).
 */
size_t ngx_http_llmgw_account_last_id(ngx_shm_zone_t *zone, u_char *buf);
void ngx_http_llmgw_account_set_last_id(ngx_shm_zone_t *zone, u_char *id,
    size_t len, ngx_uint_t force);

/*
 * The token's state, under one lock: revoked jti, not-before, revoked
 * client, then the account; the department copied into pool.  NGX_OK or
 * NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_account_check(ngx_shm_zone_t *zone,
    ngx_http_llmgw_account_query_t *q, time_t now, ngx_pool_t *pool,
    ngx_http_llmgw_account_result_t *res);

/*
 * The entry of kind and id (a jti as its hash's 64 hex digits), copied
 * into pool as a change (a jti's id in hex): NGX_OK; NGX_DECLINED when
 * there is none (or it is an expired jti); NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_account_lookup(ngx_shm_zone_t *zone,
    ngx_uint_t kind, ngx_str_t *id, time_t now, ngx_pool_t *pool,
    ngx_http_llmgw_account_change_t *ch);

/*
 * The entries of kind in the zone, read without the lock: a cheap look
 * before a lookup that is worth a lock only when there is any.
 */
ngx_uint_t ngx_http_llmgw_account_count(ngx_shm_zone_t *zone,
    ngx_uint_t kind);

/*
 * Every entry of kind, copied under one lock into out (an array of
 * ngx_http_llmgw_account_change_t in pool), live jti only.  NGX_OK or
 * NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_account_list(ngx_shm_zone_t *zone, ngx_uint_t kind,
    time_t now, ngx_pool_t *pool, ngx_array_t *out);

/*
 * A page of the entries of kinds (a bit 1 << kind each) in the tree's
 * order, from the first (after NULL) or from just after the position of
 * after's kind and id (an entry that may be gone by now): at most n (1 or
 * more) copied under one lock into out (ngx_http_llmgw_account_change_t,
 * strings in pool), live jti only.  At most 65536 entries are looked at
 * under the lock, so a page may hold fewer than n though more follow.
 * *next: the position the next page starts after (its kind 0: no more).
 * NGX_OK; NGX_DECLINED: n is 0 or after is no valid position; NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_account_page(ngx_shm_zone_t *zone,
    ngx_uint_t kinds, ngx_http_llmgw_account_change_t *after, ngx_uint_t n,
    time_t now, ngx_pool_t *pool, ngx_array_t *out,
    ngx_http_llmgw_account_change_t *next);


#endif /* _NGX_HTTP_LLMGW_ACCOUNT_H_INCLUDED_ */
