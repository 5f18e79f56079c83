
/*
 * Copyright (C) llmgw authors
 *
 * ngx_http_llmgw_module: directives, configuration, the access handler that
 * authenticates and authorizes LLM API calls, and its variables.  The
 * concerns live under src/; this file wires them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw.h"
#include "ngx_http_llmgw_jws.h"
#include "ngx_http_llmgw_jwk.h"
#include "ngx_http_llmgw_jwks.h"
#include "ngx_http_llmgw_claims.h"
#include "ngx_http_llmgw_scope.h"
#include "ngx_http_llmgw_cache.h"
#include "ngx_http_llmgw_provider.h"
#include "ngx_http_llmgw_error.h"
#include "ngx_http_llmgw_redis.h"
#include "ngx_http_llmgw_account.h"
#include "ngx_http_llmgw_state.h"
#include "ngx_http_llmgw_users.h"
#include "ngx_http_llmgw_clients.h"
#include "ngx_http_llmgw_metadata.h"
#include "ngx_http_llmgw_limit.h"
#include "ngx_http_llmgw_limit_shm.h"
#include "ngx_http_llmgw_price.h"
#include "ngx_http_llmgw_estimate.h"
#include "ngx_http_llmgw_limit_redis.h"
#include "ngx_http_llmgw_replay_redis.h"
#include "ngx_http_llmgw_dpop.h"
#include "ngx_http_llmgw_replay.h"
#include "ngx_http_llmgw_secret.h"
#include "ngx_http_llmgw_mtls.h"

#include <openssl/rand.h>


#define NGX_HTTP_LLMGW_AUTH_OFF        0
#define NGX_HTTP_LLMGW_AUTH_JWT        1

#define NGX_HTTP_LLMGW_API_DENY        0
#define NGX_HTTP_LLMGW_API_ALLOW       1

#define NGX_HTTP_LLMGW_UNKNOWN_ALLOW   0
#define NGX_HTTP_LLMGW_UNKNOWN_DENY    1

/* clients in an llmgw_clients file at most */
#define NGX_HTTP_LLMGW_CLIENTS_MAX     1000000

/* users in an llmgw_users file at most */
#define NGX_HTTP_LLMGW_USERS_MAX       10000000
#define NGX_HTTP_LLMGW_LIMIT_HEADERS_OFF     0
#define NGX_HTTP_LLMGW_LIMIT_HEADERS_ON      1
#define NGX_HTTP_LLMGW_LIMIT_HEADERS_OPENAI  2

/* the span of years a time zone's offsets are known for, from startup */
#define NGX_HTTP_LLMGW_LIMIT_TZ_YEARS  20

/* a budget's output tokens reserved for a call that names no maximum */
#define NGX_HTTP_LLMGW_LIMIT_ESTIMATE  4096

#define NGX_HTTP_LLMGW_DPOP_OFF       0
#define NGX_HTTP_LLMGW_DPOP_OPTIONAL  1
#define NGX_HTTP_LLMGW_DPOP_REQUIRED  2

/* FAPI 2.0's algorithms: the default of llmgw_dpop_algorithms */
#define NGX_HTTP_LLMGW_DPOP_ALGS                                              \
    (NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES256)                         \
     |NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_PS256)                        \
     |NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_EDDSA))

/* llmgw_cert_binding */
#define NGX_HTTP_LLMGW_BINDING_OFF       0
#define NGX_HTTP_LLMGW_BINDING_OPTIONAL  1
#define NGX_HTTP_LLMGW_BINDING_REQUIRED  2

/* the algorithms llmgw_fapi allows (FAPI 2.0 Security Profile 5.4) */
#define NGX_HTTP_LLMGW_ALGS_FAPI                                              \
    (NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_PS256)                         \
     |NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES256)                        \
     |NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_EDDSA))

/* how long a verified token without exp stays cached */
#define NGX_HTTP_LLMGW_CACHE_NOEXP_TTL 60


/* "llmgw_api_scope": the scopes a request of one API kind needs */

typedef struct {
    ngx_str_t                      kind;
    ngx_array_t                   *names;    /* ngx_str_t, as configured */
    ngx_array_t                   *required; /* scope_t *, at merge */
} ngx_http_llmgw_api_scope_t;


/*
 * "llmgw_clients": the registered clients and what the others get.  The
 * ceilings are resolved in the scope tree at postconfiguration (the
 * llmgw_scopes block may come after the directive).
 */

typedef struct {
    ngx_str_t                      file;
    ngx_array_t                   *clients;  /* ngx_http_llmgw_client_t */
    ngx_array_t                   *unknown_names;  /* ngx_str_t; NULL:
                                                      deny */
    ngx_array_t                   *pending_names;  /* ngx_str_t; NULL:
                                                      nothing */
    ngx_array_t                   *unknown;  /* scope_t *, or NULL */
    ngx_array_t                   *pending;  /* scope_t *, or NULL */
} ngx_http_llmgw_clients_conf_t;


typedef struct {
    ngx_http_llmgw_scope_tree_t    scopes;
    ngx_shm_zone_t                *cache_zone;
    ngx_array_t                   *jwks_zones; /* ngx_http_llmgw_jwks_t * */
    ngx_http_llmgw_redis_conf_t   *redis;      /* NULL: no llmgw_redis */
    ngx_shm_zone_t                *state_zone; /* NULL: no account state */
    ngx_str_t                      state_file; /* empty: none */
    ngx_http_llmgw_state_conf_t   *state_redis; /* NULL: one node */
    ngx_array_t                   *users;      /* ngx_http_llmgw_user_t of
                                                  llmgw_users, or NULL */
    time_t                         users_utc_offset;
    ngx_array_t                   *limits;   /* every llmgw_limit line:
                                                ngx_http_llmgw_limit_t * */
    ngx_http_llmgw_limit_tz_t     *limit_tz; /* llmgw_limit_timezone */
    ngx_int_t                      model_var; /* $llmgw_model's index + 1,
                                                 0: no limit names it */
    ngx_array_t                   *limit_redis; /* the Redis zones:
                                      ngx_http_llmgw_limit_redis_zone_t * */
    ngx_shm_zone_t                *dpop_zone; /* seen DPoP proofs */
    time_t                         dpop_window_max; /* the longest
                                      llmgw_dpop_window of a location
                                      with llmgw_dpop: how long a seen
                                      proof is remembered */
    ngx_http_llmgw_replay_redis_conf_t *dpop_redis; /* NULL: the zone
                                                       alone */
    u_char                         dpop_nonce_key[
                                       NGX_HTTP_LLMGW_DPOP_NONCE_KEY_LEN];
                                             /* random per configuration,
                                                or llmgw_dpop_nonce_secret's
                                                SHA-256 */
    ngx_flag_t                     dpop_nonce_secret;
    ngx_int_t                      realip_index; /* $realip_remote_addr,
                                                    or NGX_ERROR */
    ngx_http_llmgw_clients_conf_t *clients;  /* NULL: no llmgw_clients */
} ngx_http_llmgw_main_conf_t;


/*
 * How the location's tokens are bound to their client, as the protected-
 * resource metadata says it (llmgw_resource_metadata): set from
 * llmgw_dpop and llmgw_cert_binding at the end of the merge, before
 * ngx_http_llmgw_merge_metadata() renders the document (the last step of
 * ngx_http_llmgw_merge_loc_conf): nothing else reads them.
 */

typedef struct {
    ngx_uint_t                     dpop_algs;     /* ALG_BIT mask of the
                                                     proofs accepted; 0:
                                                     no DPoP */
    unsigned                       dpop_required:1;  /* only DPoP-bound
                                                        tokens */
    unsigned                       cert_bound:1;  /* tokens must be bound
                                                     to the client's
                                                     certificate
                                                     (RFC 8705) */
} ngx_http_llmgw_binding_t;


typedef struct {
    ngx_uint_t                     auth;
    ngx_array_t                   *token_headers;   /* ngx_str_t */
    ngx_uint_t                     algs;
    ngx_array_t                   *keys;     /* ngx_http_llmgw_key_t */
    ngx_http_llmgw_jwks_t         *jwks;
    ngx_array_t                   *issuers;  /* ngx_str_t; NULL: any */
    ngx_array_t                   *audiences;       /* likewise */
    ngx_http_llmgw_claims_conf_t   claims;
    size_t                         max_token_size;
    ngx_array_t                   *scope_names;     /* ngx_str_t */
    ngx_array_t                   *required_scopes; /* scope_t * */
    ngx_array_t                   *api_scopes;   /* api_scope_t, or NULL */
    ngx_uint_t                     api_unknown;
    ngx_http_llmgw_scope_source_t  scope_source;
    ngx_flag_t                     cache;
    ngx_str_t                      realm;
    ngx_flag_t                     state;
    ngx_flag_t                     client_ceiling;
    ngx_http_llmgw_claim_path_t   *user_claim;    /* NULL: sub */
    ngx_uint_t                     unknown_user;  /* UNSET: by directory */
    ngx_array_t                   *limits;   /* ngx_http_llmgw_limit_t *,
                                                the outer levels' first */
    ngx_str_t                      limit_policy; /* RateLimit-Policy */
    ngx_uint_t                     limit_headers;
    ngx_uint_t                     dpop;          /* off/optional/required */
    ngx_uint_t                     dpop_algs;
    ngx_str_t                      dpop_algs_text; /* for algs="..." */
    time_t                         dpop_window;
    time_t                         dpop_nonce;    /* lifetime; 0: off */
    ngx_str_t                      dpop_url;      /* external origin, or
                                                     empty: the request's */
    ngx_uint_t                     cert_binding;
    ngx_array_t                   *cert_proxies; /* ngx_cidr_t, or NULL */
    ngx_flag_t                     fapi;
    ngx_http_complex_value_t      *metadata_url; /* the challenges'
                                                    resource_metadata */
    ngx_str_t                      resource;  /* llmgw_resource_metadata:
                                                 empty where it is not */
    ngx_str_t                      metadata;  /* its document */
    ngx_http_llmgw_binding_t       binding;
} ngx_http_llmgw_loc_conf_t;


/* what the limits stage did with one limit of the location */

typedef struct {
    ngx_str_t                        key;
    ngx_http_llmgw_limit_verdict_t   v;
    unsigned                         checked:1;  /* v is set */
    unsigned                         taken:1;    /* counted, not released */
    unsigned                         body:1;     /* waits for the body */
    unsigned                         estimated:1; /* v.amount is set */
} ngx_http_llmgw_limit_taken_t;


/*
 * A file of line-numbered records read whole by a directive and given to
 * one of the pure parsers (llmgw_users, llmgw_clients): parse() fills
 * out (size bytes) and says how many errors it found, error_text() writes
 * the i-th error it kept (at most max_errors).
 */

typedef ngx_int_t (*ngx_http_llmgw_conf_file_parse_pt)(ngx_pool_t *pool,
    ngx_str_t *content, void *out, ngx_uint_t *nerrors);
typedef u_char *(*ngx_http_llmgw_conf_file_error_pt)(u_char *buf,
    u_char *last, void *out, ngx_uint_t i);

typedef struct {
    const char                          *directive;
    size_t                               size;
    ngx_uint_t                           max_errors;
    ngx_http_llmgw_conf_file_parse_pt    parse;
    ngx_http_llmgw_conf_file_error_pt    error_text;
} ngx_http_llmgw_conf_file_t;


/*
 * The stages of the access check, in the order they run (see
 * ngx_http_llmgw_run_stages); a request's ctx keeps the one it is at, so
 * a stage that waits (a JWKS fetch, later a Redis reply) is where the
 * request resumes, and the stages before it never run twice.
 */

typedef enum {
    NGX_HTTP_LLMGW_STAGE_TOKEN = 0,
    NGX_HTTP_LLMGW_STAGE_KEYS,
    NGX_HTTP_LLMGW_STAGE_SIGNATURE,
    NGX_HTTP_LLMGW_STAGE_CLAIMS,
    NGX_HTTP_LLMGW_STAGE_DPOP,
    NGX_HTTP_LLMGW_STAGE_BINDING,
    NGX_HTTP_LLMGW_STAGE_SCOPE,
    NGX_HTTP_LLMGW_STAGE_STATE,
    NGX_HTTP_LLMGW_STAGE_LIMITS,
    NGX_HTTP_LLMGW_STAGE_DONE
} ngx_http_llmgw_stage_e;


typedef struct {
    ngx_http_llmgw_stage_e         stage;
    ngx_str_t                      token;    /* in the request's header */
    u_char                         hash[NGX_HTTP_LLMGW_SHA256_LEN];
                                             /* of token, when cached */
    ngx_http_llmgw_jws_t          *jws;      /* parsed, on a cache miss */
    ngx_str_t                      typ;      /* of the authentic token */
    const char                    *error;    /* RFC 6750 error code */
    const char                    *reason;
    json_t                        *claims;   /* once the token is authentic */
    ngx_array_t                    granted;  /* ngx_str_t */
    ngx_array_t                   *ceiling;  /* scope_t * of the client's
                                                ceiling, or NULL: none */
    ngx_str_t                      client_status; /* "approved" ...; empty:
                                                     no llmgw_clients */
    ngx_array_t                   *required; /* the scopes not satisfied */
    ngx_array_t                   *api_required; /* the API's scopes, or
                                                    NULL */
    ngx_uint_t                     status;   /* 0: allowed, or the denial */
    ngx_http_llmgw_error_t         denial;   /* what the client is told */
    ngx_str_t                      json;     /* the error filter's body */
    ngx_http_llmgw_jwks_req_t     *jwks;     /* waiting for the keys */
    ngx_str_t                      jti_hash; /* made at its first read */
    ngx_str_t                      department; /* the user directory's */
    ngx_array_t                   *limits;   /* the location's */
    ngx_http_llmgw_limit_taken_t  *taken;    /* one for each of limits */
    ngx_uint_t                     limit_next; /* the one to check next */
    ngx_uint_t                     body_next;  /* likewise, after the body */
    int64_t                        body_max;   /* output tokens the body
                                                  allows, -1: not named */
    off_t                          body_len;
    unsigned                       body_limits:1;  /* some wait for it */
    unsigned                       body_read:1;    /* body_max, body_len */
    unsigned                       body_decided:1;
    unsigned                       late:1;     /* denied after the body */
    unsigned                       requests_told:1; /* x-ratelimit-*-
                                                       requests sent */
    ngx_str_t                      client_cert; /* DER, of a trusted
                                                   Client-Cert header */
    unsigned                       decided:1;
    unsigned                       cert_bound:1;  /* x5t#S256 matched */
    unsigned                       jti_done:1;
    unsigned                       json_sent:1;
    unsigned                       cache_hit:1;
    unsigned                       dpop_scheme:1;  /* Authorization: DPoP */
    unsigned                       dpop_verified:1; /* the proof passed:
                                                      sender-constrained */
    void                          *dpop_redis;  /* the replay check in
                                                   Redis, once sent */
} ngx_http_llmgw_ctx_t;


static ngx_int_t ngx_http_llmgw_access_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llmgw_run_stages(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_stage_token(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_stage_keys(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_stage_signature(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_stage_claims(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_stage_dpop(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_dpop_header(ngx_http_request_t *r,
    ngx_str_t *proof);
static ngx_int_t ngx_http_llmgw_dpop_url(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_str_t *url);
static ngx_int_t ngx_http_llmgw_dpop_proof(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_http_llmgw_dpop_proof_t *proof);
static ngx_int_t ngx_http_llmgw_dpop_nonce(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_http_llmgw_dpop_proof_t *proof);
static ngx_int_t ngx_http_llmgw_dpop_replay(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx, ngx_http_llmgw_dpop_proof_t *proof);
static ngx_int_t ngx_http_llmgw_dpop_replay_redis(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx, u_char *key, time_t expires);
static ngx_int_t ngx_http_llmgw_stage_binding(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_client_cert(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx);
static ngx_uint_t ngx_http_llmgw_client_cert_trusted(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf);
static ngx_int_t ngx_http_llmgw_cert_thumbprint(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx, u_char *tp);
static ngx_int_t ngx_http_llmgw_stage_scope(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_client_record(ngx_http_request_t *r,
    ngx_http_llmgw_main_conf_t *mcf, ngx_str_t *id,
    ngx_http_llmgw_client_t **c);
static ngx_int_t ngx_http_llmgw_client_ceiling(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_stage_state(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_stage_limits(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx);
static ngx_uint_t ngx_http_llmgw_state_within(
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_http_llmgw_scope_t *top);
static ngx_int_t ngx_http_llmgw_state_unavailable(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx, const char *reason);
static ngx_int_t ngx_http_llmgw_state_query(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_http_llmgw_account_query_t *q);
static ngx_int_t ngx_http_llmgw_limit_take(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx, ngx_uint_t i, int64_t now);
static ngx_int_t ngx_http_llmgw_limit_after_body(ngx_http_request_t *r,
    ngx_http_llmgw_limit_t *limit);
static ngx_int_t ngx_http_llmgw_limit_estimate(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx, ngx_http_llmgw_limit_t *limit,
    int64_t *amount);
static ngx_int_t ngx_http_llmgw_limit_denied(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_uint_t i, ngx_int_t rc, int64_t now);
static ngx_int_t ngx_http_llmgw_limits_log_handler(ngx_http_request_t *r);
static int64_t ngx_http_llmgw_limit_used(ngx_http_request_t *r,
    ngx_http_llmgw_limit_t *limit, ngx_http_llmgw_pass_result_t *pres);
static void ngx_http_llmgw_limit_release_all(ngx_http_llmgw_ctx_t *ctx,
    ngx_log_t *log, int64_t now);
static void ngx_http_llmgw_limit_cleanup(void *data);
static ngx_int_t ngx_http_llmgw_limit_refused(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_uint_t hit);
static ngx_int_t ngx_http_llmgw_limit_headers(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_uint_t body);
static ngx_int_t ngx_http_llmgw_limit_openai_headers(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx, ngx_uint_t body, ngx_uint_t tokens);
static ngx_int_t ngx_http_llmgw_header_add(ngx_http_request_t *r,
    const char *name, u_char *value, size_t len);
static int64_t ngx_http_llmgw_limit_now(void);
static const char *ngx_http_llmgw_limit_busy(ngx_http_llmgw_ctx_t *ctx,
    ngx_uint_t i);
static ngx_int_t ngx_http_llmgw_find_token(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_str_t *token, ngx_uint_t *dpop);
static ngx_int_t ngx_http_llmgw_cached(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_array_t *jwks_keys);
static ngx_int_t ngx_http_llmgw_verify(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_array_t *jwks_keys);
static ngx_http_llmgw_key_t *ngx_http_llmgw_verifying_key(
    ngx_http_request_t *r, ngx_http_llmgw_loc_conf_t *llcf,
    ngx_http_llmgw_jws_t *jws, ngx_array_t *jwks_keys,
    ngx_uint_t *candidates);
static void ngx_http_llmgw_cache_verified(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_http_llmgw_key_t *key);
static ngx_int_t ngx_http_llmgw_api_check(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_array_t **required);
static ngx_int_t ngx_http_llmgw_deny(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx, ngx_uint_t status, const char *error,
    const char *reason);
static ngx_int_t ngx_http_llmgw_denial(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_scope_list(ngx_pool_t *pool,
    ngx_array_t *required, ngx_str_t *list);
static ngx_int_t ngx_http_llmgw_metadata_handler(ngx_http_request_t *r);

static ngx_int_t ngx_http_llmgw_error_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_llmgw_error_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_uint_t ngx_http_llmgw_denial_enforced(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_jwks_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);

static ngx_int_t ngx_http_llmgw_jti_hash(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx);
static ngx_uint_t ngx_http_llmgw_identified(ngx_http_llmgw_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_first_claim(ngx_http_request_t *r,
    json_t *claims, ngx_str_t *names, ngx_str_t *value);

static ngx_int_t ngx_http_llmgw_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_llmgw_str_variable(ngx_http_variable_value_t *v,
    ngx_str_t *value);
static ngx_int_t ngx_http_llmgw_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llmgw_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llmgw_scopes_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llmgw_claim_path_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llmgw_claim_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_http_llmgw_claim_path_t *path);

static ngx_int_t ngx_http_llmgw_init_process(ngx_cycle_t *cycle);
static void ngx_http_llmgw_exit_process(ngx_cycle_t *cycle);

static void *ngx_http_llmgw_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_llmgw_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_llmgw_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_llmgw_merge_checks(ngx_conf_t *cf,
    ngx_http_llmgw_loc_conf_t *conf, ngx_http_llmgw_loc_conf_t *prev);
static char *ngx_http_llmgw_merge_scopes(ngx_conf_t *cf,
    ngx_http_llmgw_loc_conf_t *conf);
static ngx_array_t *ngx_http_llmgw_resolve_scopes(ngx_conf_t *cf,
    ngx_array_t *names);
static ngx_array_t *ngx_http_llmgw_default_scope_claims(ngx_conf_t *cf);
static char *ngx_http_llmgw_merge_metadata(ngx_conf_t *cf,
    ngx_http_llmgw_loc_conf_t *conf);
static ngx_int_t ngx_http_llmgw_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_llmgw_state_within_conf(ngx_conf_t *cf,
    ngx_http_llmgw_main_conf_t *mcf);
static ngx_uint_t ngx_http_llmgw_has_variable(
    ngx_http_core_main_conf_t *cmcf, ngx_str_t *name);
static void ngx_http_llmgw_exit(ngx_cycle_t *cycle);

static char *ngx_http_llmgw_scopes_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_set_str_list(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_set_any_list(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_set_typ(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_set_claim_paths(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_set_claim_check(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_set_scope_claim(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_set_api_scope(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_claim_variable_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_llmgw_claim_path(ngx_conf_t *cf, ngx_str_t *text,
    ngx_http_llmgw_claim_path_t *path);
static ngx_int_t ngx_http_llmgw_push_check(ngx_conf_t *cf,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_str_t *path, ngx_str_t *values,
    ngx_uint_t nvalues);
static char *ngx_http_llmgw_set_token_header(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_set_algorithms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_set_keys(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_set_dpop_nonce(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_set_dpop_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_set_dpop_zone(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_set_dpop_nonce_secret(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_llmgw_merge_dpop(ngx_conf_t *cf,
    ngx_http_llmgw_loc_conf_t *conf, ngx_http_llmgw_loc_conf_t *prev);
static char *ngx_http_llmgw_set_jwks(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_set_realm(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_set_cert_proxy(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_llmgw_merge_fapi(ngx_conf_t *cf,
    ngx_http_llmgw_loc_conf_t *conf);
static char *ngx_http_llmgw_set_user_claim(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_set_state_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_set_users(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_set_clients(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_resource_metadata(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_clients_param(ngx_conf_t *cf, ngx_str_t *value,
    const char *off, ngx_array_t **names);
static ngx_int_t ngx_http_llmgw_clients_init(ngx_conf_t *cf,
    ngx_http_llmgw_main_conf_t *mcf);
static ngx_int_t ngx_http_llmgw_utc_offset(ngx_str_t *value, time_t *offset);
static ngx_int_t ngx_http_llmgw_users_file_parse(ngx_pool_t *pool,
    ngx_str_t *content, void *out, ngx_uint_t *nerrors);
static u_char *ngx_http_llmgw_users_file_error(u_char *buf, u_char *last,
    void *out, ngx_uint_t i);
static ngx_int_t ngx_http_llmgw_clients_file_parse(ngx_pool_t *pool,
    ngx_str_t *content, void *out, ngx_uint_t *nerrors);
static u_char *ngx_http_llmgw_clients_file_error(u_char *buf, u_char *last,
    void *out, ngx_uint_t i);
static void *ngx_http_llmgw_conf_parse_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_http_llmgw_conf_file_t *file);
static ngx_int_t ngx_http_llmgw_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *content);
static char *ngx_http_llmgw_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_limit_timezone(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llmgw_set_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llmgw_limit_param(ngx_conf_t *cf,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *param, ngx_str_t *zone);
static char *ngx_http_llmgw_limit_amount(ngx_conf_t *cf,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *param, ngx_str_t *value);
static ngx_int_t ngx_http_llmgw_limit_name(ngx_conf_t *cf,
    ngx_http_llmgw_limit_t *limit, ngx_str_t *name);
static ngx_int_t ngx_http_llmgw_limit_texts(ngx_conf_t *cf,
    ngx_http_llmgw_limit_t *limit);
static ngx_flag_t ngx_http_llmgw_limit_names_model(ngx_str_t *key);
static ngx_int_t ngx_http_llmgw_limit_same(ngx_conf_t *cf,
    ngx_http_llmgw_limit_t *limit);
static ngx_int_t ngx_http_llmgw_merge_limits(ngx_conf_t *cf,
    ngx_http_llmgw_loc_conf_t *conf, ngx_http_llmgw_loc_conf_t *prev);
static ngx_int_t ngx_http_llmgw_limit_policy(ngx_conf_t *cf,
    ngx_http_llmgw_loc_conf_t *conf);
static ngx_int_t ngx_http_llmgw_limits_redis(ngx_conf_t *cf,
    ngx_http_llmgw_main_conf_t *mcf, ngx_http_llmgw_limit_t *limit);
static ngx_int_t ngx_http_llmgw_limits_init(ngx_conf_t *cf,
    ngx_http_llmgw_main_conf_t *mcf);


static ngx_conf_enum_t  ngx_http_llmgw_auth_modes[] = {
    { ngx_string("off"), NGX_HTTP_LLMGW_AUTH_OFF },
    { ngx_string("jwt"), NGX_HTTP_LLMGW_AUTH_JWT },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_llmgw_dpop_modes[] = {
    { ngx_string("off"), NGX_HTTP_LLMGW_DPOP_OFF },
    { ngx_string("optional"), NGX_HTTP_LLMGW_DPOP_OPTIONAL },
    { ngx_string("required"), NGX_HTTP_LLMGW_DPOP_REQUIRED },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_llmgw_limit_headers_modes[] = {
    { ngx_string("off"), NGX_HTTP_LLMGW_LIMIT_HEADERS_OFF },
    { ngx_string("on"), NGX_HTTP_LLMGW_LIMIT_HEADERS_ON },
    { ngx_string("openai"), NGX_HTTP_LLMGW_LIMIT_HEADERS_OPENAI },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_llmgw_cert_binding_modes[] = {
    { ngx_string("off"), NGX_HTTP_LLMGW_BINDING_OFF },
    { ngx_string("optional"), NGX_HTTP_LLMGW_BINDING_OPTIONAL },
    { ngx_string("required"), NGX_HTTP_LLMGW_BINDING_REQUIRED },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_llmgw_api_unknown_modes[] = {
    { ngx_string("deny"), NGX_HTTP_LLMGW_API_DENY },
    { ngx_string("allow"), NGX_HTTP_LLMGW_API_ALLOW },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_llmgw_unknown_user_modes[] = {
    { ngx_string("allow"), NGX_HTTP_LLMGW_UNKNOWN_ALLOW },
    { ngx_string("deny"), NGX_HTTP_LLMGW_UNKNOWN_DENY },
    { ngx_null_string, 0 }
};


static ngx_http_llmgw_conf_file_t  ngx_http_llmgw_users_file = {
    "llmgw_users",
    sizeof(ngx_http_llmgw_users_t),
    NGX_HTTP_LLMGW_USERS_MAX_ERRORS,
    ngx_http_llmgw_users_file_parse,
    ngx_http_llmgw_users_file_error
};


static ngx_http_llmgw_conf_file_t  ngx_http_llmgw_clients_file = {
    "llmgw_clients",
    sizeof(ngx_http_llmgw_clients_t),
    NGX_HTTP_LLMGW_CLIENTS_MAX_ERRORS,
    ngx_http_llmgw_clients_file_parse,
    ngx_http_llmgw_clients_file_error
};


static ngx_command_t  ngx_http_llmgw_commands[] = {

    { ngx_string("llmgw_scopes"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_NOARGS,
      ngx_http_llmgw_scopes_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_claim_variable"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_llmgw_claim_variable_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_token_cache_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_cache_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_llmgw_main_conf_t, cache_zone),
      NULL },

    { ngx_string("llmgw_jwks_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_llmgw_jwks_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_llmgw_main_conf_t, jwks_zones),
      NULL },

    { ngx_string("llmgw_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_redis_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_llmgw_main_conf_t, redis),
      NULL },

    { ngx_string("llmgw_state_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_account_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_llmgw_main_conf_t, state_zone),
      NULL },

    { ngx_string("llmgw_state_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_set_state_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_state_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_ANY,
      ngx_http_llmgw_state_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_llmgw_main_conf_t, state_redis),
      NULL },

    { ngx_string("llmgw_users"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_llmgw_set_users,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_clients"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_llmgw_set_clients,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, auth),
      &ngx_http_llmgw_auth_modes },

    { ngx_string("llmgw_token_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_set_token_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, token_headers),
      NULL },

    { ngx_string("llmgw_jwt_algorithms"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_set_algorithms,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, algs),
      NULL },

    { ngx_string("llmgw_jwt_keys"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_llmgw_set_keys,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_jwt_jwks"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_set_jwks,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_set_any_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, issuers),
      NULL },

    { ngx_string("llmgw_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_set_any_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, audiences),
      NULL },

    { ngx_string("llmgw_jwt_audience_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_set_claim_paths,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, claims.audience_claims),
      NULL },

    { ngx_string("llmgw_jwt_typ"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_set_typ,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, claims.typs),
      NULL },

    { ngx_string("llmgw_jwt_require_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_set_claim_check,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_jwt_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_llmgw_set_claim_check,
      NGX_HTTP_LOC_CONF_OFFSET,
      1,
      NULL },

    { ngx_string("llmgw_jwt_mfa"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_set_str_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, claims.amr),
      NULL },

    { ngx_string("llmgw_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, claims.leeway),
      NULL },

    { ngx_string("llmgw_jwt_require_exp"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, claims.require_exp),
      NULL },

    { ngx_string("llmgw_jwt_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, max_token_size),
      NULL },

    { ngx_string("llmgw_require_scope"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_set_str_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, scope_names),
      NULL },

    { ngx_string("llmgw_api_scope"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_llmgw_set_api_scope,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_api_unknown"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, api_unknown),
      &ngx_http_llmgw_api_unknown_modes },

    { ngx_string("llmgw_scope_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_set_scope_claim,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_scope_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, scope_source.prefix),
      NULL },

    { ngx_string("llmgw_token_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, cache),
      NULL },

    { ngx_string("llmgw_realm"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_set_realm,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, realm),
      NULL },

    { ngx_string("llmgw_state"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, state),
      NULL },

    { ngx_string("llmgw_client_ceiling"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, client_ceiling),
      NULL },

    { ngx_string("llmgw_state_user_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_set_user_claim,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, user_claim),
      NULL },

    { ngx_string("llmgw_state_unknown_user"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, unknown_user),
      &ngx_http_llmgw_unknown_user_modes },
    { ngx_string("llmgw_resource_metadata"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_resource_metadata,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_resource_metadata_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, metadata_url),
      NULL },

    { ngx_string("llmgw_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_limit_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_limit_timezone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_limit_timezone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_llmgw_set_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_limit_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, limit_headers),
      &ngx_http_llmgw_limit_headers_modes },

    { ngx_string("llmgw_dpop"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, dpop),
      &ngx_http_llmgw_dpop_modes },

    { ngx_string("llmgw_dpop_algorithms"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_set_algorithms,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, dpop_algs),
      NULL },

    { ngx_string("llmgw_dpop_window"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, dpop_window),
      NULL },

    { ngx_string("llmgw_dpop_nonce"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_set_dpop_nonce,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_dpop_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_set_dpop_url,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_dpop_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_set_dpop_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_llmgw_main_conf_t, dpop_zone),
      NULL },

    { ngx_string("llmgw_dpop_nonce_secret"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_llmgw_set_dpop_nonce_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llmgw_cert_binding"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, cert_binding),
      &ngx_http_llmgw_cert_binding_modes },

    { ngx_string("llmgw_client_cert_proxy"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_llmgw_set_cert_proxy,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, cert_proxies),
      NULL },

    { ngx_string("llmgw_fapi"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llmgw_loc_conf_t, fapi),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_llmgw_module_ctx = {
    ngx_http_llmgw_add_variables,          /* preconfiguration */
    ngx_http_llmgw_init,                   /* postconfiguration */

    ngx_http_llmgw_create_main_conf,       /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_llmgw_create_loc_conf,        /* create location configuration */
    ngx_http_llmgw_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_llmgw_module = {
    NGX_MODULE_V1,
    &ngx_http_llmgw_module_ctx,            /* module context */
    ngx_http_llmgw_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_llmgw_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_llmgw_exit_process,           /* exit process */
    ngx_http_llmgw_exit,                   /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the access result's fields a variable shows, its data */

#define NGX_HTTP_LLMGW_VAR_SUB          0
#define NGX_HTTP_LLMGW_VAR_CLIENT_ID    1
#define NGX_HTTP_LLMGW_VAR_JTI_HASH     2
#define NGX_HTTP_LLMGW_VAR_DECISION     3
#define NGX_HTTP_LLMGW_VAR_REASON       4
#define NGX_HTTP_LLMGW_VAR_STATUS       5
#define NGX_HTTP_LLMGW_VAR_CACHE        6
#define NGX_HTTP_LLMGW_VAR_FAILED       7
#define NGX_HTTP_LLMGW_VAR_BINDING      8


static ngx_http_variable_t  ngx_http_llmgw_vars[] = {

    { ngx_string("llmgw_sub"), NULL, ngx_http_llmgw_result_variable,
      NGX_HTTP_LLMGW_VAR_SUB, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_client_id"), NULL, ngx_http_llmgw_result_variable,
      NGX_HTTP_LLMGW_VAR_CLIENT_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_jti_hash"), NULL, ngx_http_llmgw_result_variable,
      NGX_HTTP_LLMGW_VAR_JTI_HASH, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_claim_"), NULL, ngx_http_llmgw_claim_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("llmgw_scopes"), NULL, ngx_http_llmgw_scopes_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_scopes_failed"), NULL,
      ngx_http_llmgw_result_variable,
      NGX_HTTP_LLMGW_VAR_FAILED, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_auth_status"), NULL, ngx_http_llmgw_result_variable,
      NGX_HTTP_LLMGW_VAR_DECISION, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_auth_error"), NULL, ngx_http_llmgw_result_variable,
      NGX_HTTP_LLMGW_VAR_REASON, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_auth_http_status"), NULL,
      ngx_http_llmgw_result_variable,
      NGX_HTTP_LLMGW_VAR_STATUS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_token_cache"), NULL, ngx_http_llmgw_result_variable,
      NGX_HTTP_LLMGW_VAR_CACHE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llmgw_token_binding"), NULL,
      ngx_http_llmgw_result_variable,
      NGX_HTTP_LLMGW_VAR_BINDING, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_llmgw_default_header = ngx_string("authorization");
static ngx_str_t  ngx_http_llmgw_default_scope_claim_names[] = {
    ngx_string("scope"),
    ngx_string("scp"),
    ngx_null_string
};

/* where IdPs put the OAuth client: RFC 9068, OIDC, Okta, Entra ID v1 */
static ngx_str_t  ngx_http_llmgw_client_id_claims[] = {
    ngx_string("client_id"),
    ngx_string("azp"),
    ngx_string("cid"),
    ngx_string("appid"),
    ngx_null_string
};

static ngx_str_t  ngx_http_llmgw_sub_claim[] = {
    ngx_string("sub"),
    ngx_null_string
};

static ngx_str_t  ngx_http_llmgw_jti_claim = ngx_string("jti");

static ngx_str_t  ngx_http_llmgw_realip_var =
    ngx_string("realip_remote_addr");


#if (NGX_DEBUG)

static const char  *ngx_http_llmgw_stage_names[] = {
    "token",
    "keys",
    "signature",
    "claims",
    "dpop",
    "binding",
    "scope",
    "state",
    "limits",
    "done"
};

#endif


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;
static ngx_http_output_body_filter_pt    ngx_http_llmgw_jwks_next_body_filter;


/*
 * The one access handler: the stages of ngx_http_llmgw_run_stages(),
 * then the verdict.  Subrequests never reach it (the access phase skips them).
 *
 * A denial follows nginx's access contract, as auth_basic and
 * auth_request do: WWW-Authenticate set, the status returned.  nginx then
 * applies satisfy (any: another handler's allow lets the request in and
 * hides the challenge), auth_delay (a 401 waits) and error_page; the JSON
 * body comes from the error filter below when nginx's own error page is
 * sent for the denial.  An internal redirect (error_page, a named
 * location) clears every module's ctx, so the target location decides
 * afresh by its own configuration: no verdict travels with the request.
 */

static ngx_int_t
ngx_http_llmgw_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_llmgw_ctx_t       *ctx;
    ngx_http_llmgw_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_module);

    if (llcf->auth == NGX_HTTP_LLMGW_AUTH_OFF) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_llmgw_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_llmgw_module);
    }

    if (ctx->decided) {
        /*
         * called again in the same location (a redirect would have
         * cleared the ctx): the verdict stands, its challenge is set
         */
        return ctx->status ? (ngx_int_t) ctx->status : NGX_OK;
    }

    rc = ngx_http_llmgw_run_stages(r, llcf, ctx);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->decided = 1;

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "llmgw: access denied with %ui: %s",
                  ctx->status, ctx->reason);

    if (ngx_http_llmgw_denial(r, llcf, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ctx->status;
}


/*
 * The checks, in their order, from the stage ctx is at.  A stage returns
 * NGX_OK (passed: the next one runs), NGX_AGAIN (waiting: ctx stays at
 * that stage, which runs again when the request resumes), NGX_DECLINED
 * (denied: ngx_http_llmgw_deny() recorded why) or NGX_ERROR; so does this
 * function, NGX_OK once every stage has passed.  What a stage found that
 * a later one needs (the token, its claims, the granted scopes) is kept
 * in ctx, never found again.
 */

static ngx_int_t
ngx_http_llmgw_run_stages(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx)
{
    ngx_int_t  rc;

    for ( ;; ) {

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llmgw access stage: %s",
                       ngx_http_llmgw_stage_names[ctx->stage]);

        switch (ctx->stage) {

        case NGX_HTTP_LLMGW_STAGE_TOKEN:
            rc = ngx_http_llmgw_stage_token(r, llcf, ctx);
            break;

        case NGX_HTTP_LLMGW_STAGE_KEYS:
            rc = ngx_http_llmgw_stage_keys(r, llcf, ctx);
            break;

        case NGX_HTTP_LLMGW_STAGE_SIGNATURE:
            rc = ngx_http_llmgw_stage_signature(r, llcf, ctx);
            break;

        case NGX_HTTP_LLMGW_STAGE_CLAIMS:
            rc = ngx_http_llmgw_stage_claims(r, llcf, ctx);
            break;

        case NGX_HTTP_LLMGW_STAGE_DPOP:
            rc = ngx_http_llmgw_stage_dpop(r, llcf, ctx);
            break;

        case NGX_HTTP_LLMGW_STAGE_BINDING:
            rc = ngx_http_llmgw_stage_binding(r, llcf, ctx);
            break;

        case NGX_HTTP_LLMGW_STAGE_SCOPE:
            rc = ngx_http_llmgw_stage_scope(r, llcf, ctx);
            break;

        case NGX_HTTP_LLMGW_STAGE_STATE:
            rc = ngx_http_llmgw_stage_state(r, llcf, ctx);
            break;

        case NGX_HTTP_LLMGW_STAGE_LIMITS:
            rc = ngx_http_llmgw_stage_limits(r, llcf, ctx);
            break;

        default: /* NGX_HTTP_LLMGW_STAGE_DONE */
            return NGX_OK;
        }

        if (rc != NGX_OK) {
            return rc;
        }

        ctx->stage++;
    }
}


/*
 * The credential, from the first configured header that has one; and
 * a Client-Cert header, judged before any signature is verified.
 */

static ngx_int_t
ngx_http_llmgw_stage_token(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx)
{
    ngx_int_t   rc;
    ngx_uint_t  dpop;

    if (llcf->cert_binding != NGX_HTTP_LLMGW_BINDING_OFF || llcf->fapi) {
        rc = ngx_http_llmgw_client_cert(r, llcf, ctx);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    rc = ngx_http_llmgw_find_token(r, llcf, &ctx->token, &dpop);


    if (rc == NGX_DECLINED) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED, NULL,
                                   llcf->dpop == NGX_HTTP_LLMGW_DPOP_REQUIRED
                                   ? "missing DPoP token"
                                   : "missing bearer token");
    }

    if (rc != NGX_OK) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_request",
                                   "more than one credential given");
    }

    ctx->dpop_scheme = dpop;

    if (llcf->dpop == NGX_HTTP_LLMGW_DPOP_REQUIRED && !dpop) {
        /* RFC 9449 section 7.1: a challenge without error code */
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED, NULL,
                                   "DPoP required");
    }

    if (ctx->token.len > llcf->max_token_size) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_token", "token too large");
    }

    return NGX_OK;
}


/*
 * The IdP's keys: the request waits while a zone without keys yet is
 * fetched (a due refresh of keys there are runs in the background).
 */

static ngx_int_t
ngx_http_llmgw_stage_keys(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (llcf->jwks == NULL) {
        return NGX_OK;
    }

    rc = ngx_http_llmgw_jwks_update(r, llcf->jwks, 0, &ctx->jwks);

    if (rc == NGX_AGAIN || rc == NGX_ERROR) {
        return rc;
    }

    return NGX_OK;
}


/*
 * The token made authentic: verified before (the cache), else parsed and
 * its signature verified.  A token whose kid no key has waits for one
 * refetch of the keys; the stage then runs again with the token parsed
 * the first time (ctx->jws), so only the key search and the one
 * verification follow.
 */

static ngx_int_t
ngx_http_llmgw_stage_signature(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx)
{
    ngx_int_t      rc;
    const char    *reason;
    ngx_array_t   *jwks_keys;

    if (ctx->jws != NULL) {

        /*
         * the stage waited for a refetch (only a zone's update waits
         * here): it must have ended before the keys are searched again,
         * and the phase engine may run while it is pending (a write event
         * on the client's connection)
         */

        rc = ngx_http_llmgw_jwks_update(r, llcf->jwks, 1, &ctx->jwks);

        if (rc == NGX_AGAIN || rc == NGX_ERROR) {
            return rc;
        }
    }

    /* a worker's keys of a zone are valid until its next update or wait */

    jwks_keys = NULL;

    if (llcf->jwks) {
        jwks_keys = ngx_http_llmgw_jwks_keys(llcf->jwks, r->connection->log);
    }

    if (ctx->jws == NULL) {
        rc = ngx_http_llmgw_cached(r, llcf, ctx, jwks_keys);

        if (rc != NGX_DECLINED) {
            return rc;
        }

        ctx->jws = ngx_palloc(r->pool, sizeof(ngx_http_llmgw_jws_t));
        if (ctx->jws == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_http_llmgw_jws_parse(r->pool, &ctx->token, ctx->jws,
                                      &reason);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                       "invalid_token", reason);
        }

        if (!(llcf->algs & NGX_HTTP_LLMGW_ALG_BIT(ctx->jws->alg))) {
            return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                       "invalid_token",
                                       "algorithm not allowed");
        }
    }

    return ngx_http_llmgw_verify(r, llcf, ctx, jwks_keys);
}


/* iss, aud, exp and the rest; the token is authentic by now */

static ngx_int_t
ngx_http_llmgw_stage_claims(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx)
{
    const char  *reason;

    if (ngx_http_llmgw_claims_check(&llcf->claims, ctx->claims, &ctx->typ,
                                    ngx_time(), &reason)
        != NGX_OK)
    {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_token", reason);
    }

    return NGX_OK;
}


/*
 * RFC 9449: a token presented with the DPoP scheme comes with one proof,
 * signed by the key the token is bound to (cnf.jkt), made for this
 * request, fresh and never seen before; a token bound to a key is never
 * accepted as a bearer token (section 7.2), whatever llmgw_dpop says.
 * Runs on every request, a cached token's too: a proof is per request.
 */

static ngx_int_t
ngx_http_llmgw_stage_dpop(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx)
{
    ngx_int_t                    rc;
    ngx_str_t                    jkt;
    ngx_http_llmgw_dpop_proof_t  proof;

    if (ctx->dpop_redis != NULL) {
        /* resumed: the proof passed every check but Redis's */

        rc = ngx_http_llmgw_dpop_replay_redis(r, ctx, NULL, 0);
        if (rc == NGX_OK) {
            ctx->dpop_verified = 1;
        }

        return rc;
    }

    rc = ngx_http_llmgw_dpop_token_jkt(ctx->claims, &jkt);

    if (rc == NGX_ERROR) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_token", "invalid cnf claim");
    }

    if (!ctx->dpop_scheme) {
        if (rc == NGX_OK) {
            return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                       "invalid_token",
                                       "DPoP-bound token presented as a "
                                       "bearer token");
        }

        return NGX_OK;
    }

    if (rc != NGX_OK) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_token",
                                   "token is not DPoP-bound");
    }

    rc = ngx_http_llmgw_dpop_proof(r, llcf, ctx, &proof);
    if (rc != NGX_OK) {
        return rc;
    }

    if (jkt.len != NGX_HTTP_LLMGW_DPOP_JKT_LEN
        || ngx_memcmp(jkt.data, proof.jkt, NGX_HTTP_LLMGW_DPOP_JKT_LEN) != 0)
    {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_token",
                                   "DPoP proof key does not match the "
                                   "token's cnf.jkt");
    }

    rc = ngx_http_llmgw_dpop_nonce(r, llcf, ctx, &proof);
    if (rc != NGX_OK) {
        return rc;
    }

    /* last: a proof refused for another reason takes no room */

    rc = ngx_http_llmgw_dpop_replay(r, ctx, &proof);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->dpop_verified = 1;

    return NGX_OK;
}


/*
 * The token's sender binding (RFC 8705 section 3): a token with
 * cnf.x5t#S256 is the certificate's it names, whoever presents it, and
 * is refused without that certificate; it runs on every request, a
 * token from the cache too, since the certificate is the connection's.
 * "llmgw_cert_binding required" refuses a token without x5t#S256;
 * llmgw_fapi refuses one bound neither to the certificate nor by DPoP.
 */

static ngx_int_t
ngx_http_llmgw_stage_binding(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx)
{
    u_char     want[NGX_HTTP_LLMGW_SHA256_LEN];
    u_char     have[NGX_HTTP_LLMGW_SHA256_LEN];
    ngx_int_t  rc;

    if (llcf->cert_binding == NGX_HTTP_LLMGW_BINDING_OFF && !llcf->fapi) {
        return NGX_OK;
    }

    rc = ngx_http_llmgw_mtls_cnf_x5t(ctx->claims, want);

    if (rc == NGX_ABORT) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_token",
                                   "malformed certificate binding (cnf)");
    }

    if (rc == NGX_OK) {
        rc = ngx_http_llmgw_cert_thumbprint(r, ctx, have);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                       "invalid_token",
                                       "certificate-bound token without a "
                                       "client certificate");
        }

        if (!ngx_http_llmgw_mtls_match(want, have)) {
            return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                       "invalid_token",
                                       "client certificate does not match "
                                       "the token");
        }

        ctx->cert_bound = 1;

        return NGX_OK;
    }

    if (llcf->cert_binding == NGX_HTTP_LLMGW_BINDING_REQUIRED) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_token",
                                   "certificate-bound token required");
    }

    if (llcf->fapi && !ctx->dpop_verified) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_token",
                                   "sender-constrained token required: "
                                   "bearer token without binding");
    }

    return NGX_OK;
}


/* the one DPoP header: NGX_OK, NGX_DECLINED (none), NGX_BUSY (several) */

static ngx_int_t
ngx_http_llmgw_dpop_header(ngx_http_request_t *r, ngx_str_t *proof)
{
    ngx_uint_t        i, found;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    found = 0;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("dpop") - 1
            || ngx_memcmp(h[i].lowcase_key, "dpop", sizeof("dpop") - 1) != 0)
        {
            continue;
        }

        if (found++) {
            return NGX_BUSY;
        }

        *proof = h[i].value;
    }

    return found ? NGX_OK : NGX_DECLINED;
}


/*
 * The URL a proof's htu must name: the configured external origin
 * (llmgw_dpop_url, behind a proxy) or the request's scheme and authority
 * (the request line's in absolute-form, else Host), then the path as the
 * client sent it; normalised as htu is.
 */

static ngx_int_t
ngx_http_llmgw_dpop_url(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_str_t *url)
{
    u_char     *p, *q, *last;
    ngx_str_t   origin, host, raw;

    if (llcf->dpop_url.len) {
        origin = llcf->dpop_url;
        ngx_str_null(&host);

    } else {
#if (NGX_HTTP_SSL)
        if (r->connection->ssl) {
            ngx_str_set(&origin, "https://");

        } else
#endif
        {
            ngx_str_set(&origin, "http://");
        }

        if (r->host_start && r->host_end) {
            /*
             * absolute-form: the request line's authority wins over Host
             * (RFC 9110 section 7.2), as it does when nginx picks a server
             */
            host.data = r->host_start;
            host.len = (r->port_end ? r->port_end : r->host_end)
                       - r->host_start;

        } else {
            host = r->headers_in.host ? r->headers_in.host->value
                                      : r->headers_in.server;
        }

        if (host.len == 0) {
            return NGX_DECLINED;
        }
    }

    last = r->unparsed_uri.data + r->unparsed_uri.len;

    for (q = r->unparsed_uri.data; q < last && *q != '?' && *q != '#'; q++) {
        /* void */
    }

    raw.len = origin.len + host.len + (q - r->unparsed_uri.data);
    raw.data = ngx_pnalloc(r->pool, raw.len);
    if (raw.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(raw.data, origin.data, origin.len);
    p = ngx_cpymem(p, host.data, host.len);
    ngx_memcpy(p, r->unparsed_uri.data, q - r->unparsed_uri.data);

    return ngx_http_llmgw_dpop_normalize_url(r->pool, &raw, url);
}


/* section 4.3: the proof itself, and against this request and token */

static ngx_int_t
ngx_http_llmgw_dpop_proof(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_http_llmgw_dpop_proof_t *proof)
{
    ngx_int_t                      rc;
    ngx_str_t                      text;
    const char                    *reason;
    ngx_http_llmgw_key_t          *key;
    ngx_http_llmgw_dpop_request_t  req;

    rc = ngx_http_llmgw_dpop_header(r, &text);

    if (rc != NGX_OK) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_dpop_proof",
                                   rc == NGX_BUSY ? "more than one DPoP proof"
                                                  : "missing DPoP proof");
    }

    rc = ngx_http_llmgw_dpop_parse(r->pool, &text, llcf->dpop_algs, proof,
                                   &reason);

    if (rc == NGX_OK) {
        rc = ngx_http_llmgw_dpop_key_cached(proof, ngx_cycle->log, &key,
                                            &reason);

        if (rc == NGX_OK && ngx_http_llmgw_dpop_verify(proof, key) != NGX_OK)
        {
            reason = "invalid DPoP proof signature";
            rc = NGX_DECLINED;
        }
    }

    if (rc == NGX_OK) {
        rc = ngx_http_llmgw_dpop_url(r, llcf, &req.url);

        if (rc == NGX_DECLINED) {
            reason = "DPoP proof htu does not match the request";
        }
    }

    if (rc == NGX_OK) {
        req.method = r->method_name;
        req.token = ctx->token;
        req.now = ngx_time();
        req.window = llcf->dpop_window;

        rc = ngx_http_llmgw_dpop_check(r->pool, proof, &req, &reason);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_dpop_proof", reason);
    }

    return rc;
}


/*
 * Server nonces (section 9), where llmgw_dpop_nonce is on: a proof
 * without the current or the previous slot's nonce is refused with
 * use_dpop_nonce and a fresh one; a proof with the previous slot's passes
 * and gets a fresh one (section 8.2).
 */

static ngx_int_t
ngx_http_llmgw_dpop_nonce(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_http_llmgw_dpop_proof_t *proof)
{
    u_char                      *fresh;
    time_t                       now;
    ngx_int_t                    rc;
    ngx_http_llmgw_main_conf_t  *mcf;

    if (llcf->dpop_nonce == 0) {
        return NGX_OK;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_module);
    now = ngx_time();

    rc = NGX_DECLINED;

    if (proof->nonce.len) {
        rc = ngx_http_llmgw_dpop_nonce_check(mcf->dpop_nonce_key, now,
                                             llcf->dpop_nonce, &proof->nonce);
    }

    if (rc == NGX_OK || rc == NGX_ERROR) {
        return rc;
    }

    fresh = ngx_pnalloc(r->pool, NGX_HTTP_LLMGW_DPOP_NONCE_LEN);
    if (fresh == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_dpop_nonce_make(mcf->dpop_nonce_key, now,
                                       llcf->dpop_nonce, fresh)
        != NGX_OK
        || ngx_http_llmgw_header_add(r, "DPoP-Nonce", fresh,
                                     NGX_HTTP_LLMGW_DPOP_NONCE_LEN)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (rc == NGX_DONE) {
        return NGX_OK;
    }

    return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                               "use_dpop_nonce",
                               proof->nonce.len ? "DPoP nonce invalid or stale"
                                                : "DPoP nonce required");
}


/*
 * A Client-Cert header (RFC 9440) is the client certificate a
 * TLS-terminating proxy saw, and is believed only from the addresses of
 * llmgw_client_cert_proxy; from any other a request carrying it is
 * refused, so that nobody can name a certificate they do not hold.  The
 * address judged is the TCP peer's, before realip replaced it: the proxy
 * is the peer, and a client may write X-Forwarded-For.  The certificate
 * chain is not verified here: the proxy did that, at its handshake.
 */

static ngx_int_t
ngx_http_llmgw_client_cert(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx)
{
    ngx_str_t        *value;
    ngx_uint_t        i, n;
    const char       *reason;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    n = 0;
    value = NULL;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("client-cert") - 1
            && ngx_memcmp(h[i].lowcase_key, "client-cert",
                          sizeof("client-cert") - 1) == 0)
        {
            n++;
            value = &h[i].value;
        }
    }

    if (n == 0) {
        return NGX_OK;
    }

    if (!ngx_http_llmgw_client_cert_trusted(r, llcf)) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_BAD_REQUEST,
                                   "invalid_request",
                                   "Client-Cert header from an untrusted "
                                   "address");
    }

    if (n > 1) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_BAD_REQUEST,
                                   "invalid_request",
                                   "more than one Client-Cert header");
    }

    switch (ngx_http_llmgw_mtls_client_cert_parse(r->pool, value,
                                                  &ctx->client_cert,
                                                  &reason))
    {
    case NGX_OK:
        return NGX_OK;

    case NGX_DECLINED:
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_BAD_REQUEST,
                                   "invalid_request", reason);

    default:
        return NGX_ERROR;
    }
}


/* whether the TCP peer is one of llmgw_client_cert_proxy's addresses */

static ngx_uint_t
ngx_http_llmgw_client_cert_trusted(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf)
{
    ngx_addr_t                   addr;
    ngx_http_variable_value_t   *v;
    ngx_http_llmgw_main_conf_t  *mcf;

    if (llcf->cert_proxies == NULL) {
        return 0;
    }

    addr.sockaddr = r->connection->sockaddr;
    addr.socklen = r->connection->socklen;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_module);

    if (mcf->realip_index != NGX_ERROR) {
        v = ngx_http_get_indexed_variable(r, mcf->realip_index);

        if (v == NULL || v->not_found
            || ngx_parse_addr(r->pool, &addr, v->data, v->len) != NGX_OK)
        {
            /* "unix:", or an address nginx cannot read: not a proxy's */
            return 0;
        }
    }

    return ngx_cidr_match(addr.sockaddr, llcf->cert_proxies) == NGX_OK;
}


/* the thumbprint of the client's certificate: a trusted header's, or TLS's */

static ngx_int_t
ngx_http_llmgw_cert_thumbprint(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx, u_char *tp)
{
    if (ctx->client_cert.data != NULL) {
        return ngx_http_llmgw_sha256(ctx->client_cert.data,
                                     ctx->client_cert.len, tp);
    }

    return ngx_http_llmgw_mtls_peer_thumbprint(r->connection, tp);
}


/*
 * Section 11.1: a proof's jti once per key within the window; the entry
 * outlives the last moment its iat is accepted, in any location
 */

static ngx_int_t
ngx_http_llmgw_dpop_replay(ngx_http_request_t *r, ngx_http_llmgw_ctx_t *ctx,
    ngx_http_llmgw_dpop_proof_t *proof)
{
    u_char                       buf[NGX_HTTP_LLMGW_DPOP_JKT_LEN
                                     + NGX_HTTP_LLMGW_DPOP_MAX_JTI];
    u_char                       key[NGX_HTTP_LLMGW_SHA256_LEN];
    ngx_int_t                    rc;
    ngx_http_llmgw_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_module);

    ngx_memcpy(buf, proof->jkt, NGX_HTTP_LLMGW_DPOP_JKT_LEN);
    ngx_memcpy(buf + NGX_HTTP_LLMGW_DPOP_JKT_LEN, proof->jti.data,
               proof->jti.len);

    if (ngx_http_llmgw_sha256(buf, NGX_HTTP_LLMGW_DPOP_JKT_LEN
                                   + proof->jti.len, key)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_replay_check(mcf->dpop_zone, key,
                                     proof->iat + mcf->dpop_window_max + 1,
                                     ngx_time());

    if (rc == NGX_DECLINED) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_dpop_proof",
                                   "DPoP proof replayed");
    }

    if (rc == NGX_BUSY) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llmgw: DPoP zone \"%V\" is full of live proofs",
                      &mcf->dpop_zone->shm.name);

        if (ngx_http_llmgw_error_retry_after(r, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   NULL, "DPoP replay cache full");
    }

    if (rc != NGX_OK || mcf->dpop_redis == NULL) {
        return rc;
    }

    /* not seen here: perhaps by another node sharing the Redis */

    return ngx_http_llmgw_dpop_replay_redis(r, ctx, key,
                                            proof->iat
                                            + mcf->dpop_window_max + 1);
}


/*
 * The replay check in Redis ("llmgw_dpop_zone ... redis"): sent once
 * (key, expires), then asked again on each resume until it answers
 */

static ngx_int_t
ngx_http_llmgw_dpop_replay_redis(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx, u_char *key, time_t expires)
{
    ngx_int_t                    rc;
    ngx_http_llmgw_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_module);

    rc = ngx_http_llmgw_replay_redis_check(r, mcf->dpop_redis, key,
                                           (int64_t) expires * 1000,
                                           &ctx->dpop_redis);

    if (rc == NGX_DECLINED) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_dpop_proof",
                                   "DPoP proof replayed");
    }

    if (rc == NGX_BUSY) {
        if (ngx_http_llmgw_error_retry_after(r, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   NULL, "DPoP replay store unavailable");
    }

    return rc;
}


/* the API called, then the scopes it and the location require */

static ngx_int_t
ngx_http_llmgw_stage_scope(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_array_t  *api_required;

    rc = ngx_http_llmgw_api_check(r, llcf, ctx, &api_required);

    if (rc != NGX_OK) {
        return rc;
    }

    ctx->api_required = api_required;

    if (ngx_array_init(&ctx->granted, r->pool, 8, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_scopes_granted(r->pool, &llcf->scope_source,
                                      ctx->claims, &ctx->granted)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_client_ceiling(r, llcf, ctx);

    if (rc != NGX_OK) {
        return rc;
    }

    /* the API's scopes and the location's, when both are set */

    if (api_required
        && !ngx_http_llmgw_scope_satisfied(api_required, &ctx->granted))
    {
        ctx->required = api_required;

    } else if (llcf->required_scopes
               && !ngx_http_llmgw_scope_satisfied(llcf->required_scopes,
                                                  &ctx->granted))
    {
        ctx->required = llcf->required_scopes;
    }

    if (ctx->required) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_FORBIDDEN,
                                   "insufficient_scope",
                                   "insufficient scope");
    }

    return NGX_OK;
}


/*
 * The most the token's client may be granted (llmgw_clients): ctx->granted
 * cut down to the client's ceiling, its pending ceiling while it waits
 * for approval, or the ceiling of clients not registered.  The admin
 * API's record of the client in the state zone wins over the file's line.
 * A client that gets no ceiling at all is refused: 403 without a
 * challenge, as no other token of the same client would do.
 */

static ngx_int_t
ngx_http_llmgw_client_ceiling(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_str_t                       id;
    ngx_uint_t                      granted;
    ngx_array_t                     cut;
    ngx_http_llmgw_client_t        *c;
    ngx_http_llmgw_main_conf_t     *mcf;
    ngx_http_llmgw_clients_conf_t  *ccf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_module);
    ccf = mcf->clients;

    if (ccf == NULL || !llcf->client_ceiling) {
        return NGX_OK;
    }

    if (ngx_http_llmgw_clients_token_id(ctx->claims,
                                        ngx_http_llmgw_client_id_claims, &id)
        != NGX_OK)
    {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                                   "token's client claim is not a string");
    }

    c = NULL;

    rc = ngx_http_llmgw_client_record(r, mcf, &id, &c);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        c = id.len ? ngx_http_llmgw_clients_find(ccf->clients, &id) : NULL;
    }

    /* a client refused is granted nothing, whatever its token says */

    granted = ctx->granted.nelts;
    ctx->granted.nelts = 0;

    if (c == NULL) {
        ngx_str_set(&ctx->client_status, "unknown");
        ctx->ceiling = ccf->unknown;

        if (ctx->ceiling == NULL) {
            return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                                       id.len ? "client not registered"
                                              : "token names no client");
        }

    } else if (c->status == NGX_HTTP_LLMGW_CLIENT_PENDING) {
        ngx_str_set(&ctx->client_status, "pending");
        ctx->ceiling = c->pending ? c->pending : ccf->pending;

        if (ctx->ceiling == NULL || ctx->ceiling->nelts == 0) {
            return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                                       "client pending approval");
        }

    } else {
        ngx_str_set(&ctx->client_status, "approved");
        ctx->ceiling = c->ceiling;

        /* a record whose every scope left llmgw_scopes */

        if (ctx->ceiling->nelts == 0) {
            return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                                       "client has no ceiling");
        }
    }

    ctx->granted.nelts = granted;

    if (ngx_array_init(&cut, r->pool, ctx->granted.nelts + 1,
                       sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_clients_cut(&mcf->scopes, ctx->ceiling, &ctx->granted,
                                   &cut)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llmgw client \"%V\" %V: %ui scopes within its ceiling",
                   &id, &ctx->client_status, cut.nelts);

    ctx->granted = cut;

    return NGX_OK;
}


/*
 * The client's record made through the admin API (llmgw_state_zone), if
 * any: NGX_OK with *c a client made of it in r's pool, or NULL when the
 * record deletes the client (not registered, whatever the file says);
 * NGX_DECLINED: no record, the file decides; NGX_ERROR.  The count is
 * read first: a gateway whose API never changed a client takes no lock.
 */

static ngx_int_t
ngx_http_llmgw_client_record(ngx_http_request_t *r,
    ngx_http_llmgw_main_conf_t *mcf, ngx_str_t *id,
    ngx_http_llmgw_client_t **c)
{
    ngx_int_t                         rc;
    ngx_str_t                         bad, bad2;
    ngx_http_llmgw_client_t          *client;
    ngx_http_llmgw_account_change_t   rec;

    static time_t                     warned;

    if (mcf->state_zone == NULL
        || id->len == 0
        || ngx_http_llmgw_account_count(mcf->state_zone,
                                        NGX_HTTP_LLMGW_ACCOUNT_REGISTERED)
           == 0)
    {
        return NGX_DECLINED;
    }

    rc = ngx_http_llmgw_account_lookup(mcf->state_zone,
                                       NGX_HTTP_LLMGW_ACCOUNT_REGISTERED,
                                       id, ngx_time(), r->pool, &rec);
    if (rc != NGX_OK) {
        return rc;
    }

    *c = NULL;

    if (rec.status == NGX_HTTP_LLMGW_ACCOUNT_DELETED) {
        return NGX_OK;
    }

    client = ngx_pcalloc(r->pool, sizeof(ngx_http_llmgw_client_t));
    if (client == NULL) {
        return NGX_ERROR;
    }

    client->client_id = rec.id;
    client->status = (rec.status == NGX_HTTP_LLMGW_ACCOUNT_PENDING)
                     ? NGX_HTTP_LLMGW_CLIENT_PENDING
                     : NGX_HTTP_LLMGW_CLIENT_APPROVED;

    client->ceiling = ngx_http_llmgw_clients_ceiling(r->pool, &mcf->scopes,
                                                     &rec.ceiling, &bad);
    if (client->ceiling == NULL) {
        return NGX_ERROR;
    }

    ngx_str_null(&bad2);

    if (rec.pending_ceiling.len) {
        client->pending = ngx_http_llmgw_clients_ceiling(r->pool,
                                                         &mcf->scopes,
                                                         &rec.pending_ceiling,
                                                         &bad2);
        if (client->pending == NULL) {
            return NGX_ERROR;
        }
    }

    /* said once a minute per worker, not on every request of the client */

    if ((bad.len || bad2.len) && ngx_time() - warned >= 60) {
        warned = ngx_time();

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "llmgw client \"%V\": scope \"%V\" of its record is "
                      "not in \"llmgw_scopes\", dropped from its ceiling "
                      "(said at most once a minute)",
                      id, bad.len ? &bad : &bad2);
    }

    *c = client;

    return NGX_OK;
}


/*
 * The token's and the account's state in the llmgw_state_zone, checked
 * on every request, a token from the cache too: a revoked jti, a user's
 * not-before time, a revoked client (401 invalid_token: another token may
 * do), then the user directory's account (403 without a challenge: no
 * token will do until the account changes).
 */

static ngx_int_t
ngx_http_llmgw_stage_state(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx)
{
    ngx_uint_t                        deny;
    ngx_http_llmgw_main_conf_t       *mcf;
    ngx_http_llmgw_account_query_t    q;
    ngx_http_llmgw_account_result_t   res;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_module);

    if (mcf->state_zone == NULL || !llcf->state) {
        return NGX_OK;
    }

    /*
     * Stale: revocations may have been missed.  on_stale=refuse: none
     * passes; within:SCOPE: only what requires SCOPE or scopes below it.
     */

    switch (ngx_http_llmgw_state_stale()) {

    case NGX_HTTP_LLMGW_STATE_REFUSE:
        return ngx_http_llmgw_state_unavailable(r, ctx,
                                                "account state stale");

    case NGX_HTTP_LLMGW_STATE_WITHIN:
        if (!ngx_http_llmgw_state_within(llcf, ctx,
                                         mcf->state_redis->scope))
        {
            return ngx_http_llmgw_state_unavailable(r, ctx,
                                                  mcf->state_redis->reason);
        }

        break;

    default: /* NGX_HTTP_LLMGW_STATE_SERVE */
        break;
    }

    if (ngx_http_llmgw_state_query(r, llcf, ctx, &q) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_account_check(mcf->state_zone, &q, ngx_time(),
                                     r->pool, &res)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->department = res.department;

    switch (res.verdict) {

    case NGX_HTTP_LLMGW_ACCOUNT_JTI_REVOKED:
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_token", "token revoked");

    case NGX_HTTP_LLMGW_ACCOUNT_NOT_BEFORE:
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_token",
                                   "token issued before the user's "
                                   "not-before time");

    case NGX_HTTP_LLMGW_ACCOUNT_CLIENT_REVOKED:
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_token", "client revoked");

    case NGX_HTTP_LLMGW_ACCOUNT_DISABLED:
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                                   "account disabled");

    case NGX_HTTP_LLMGW_ACCOUNT_NOT_STARTED:
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                                   "account not yet started");

    case NGX_HTTP_LLMGW_ACCOUNT_ENDED:
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                                   "account ended");

    case NGX_HTTP_LLMGW_ACCOUNT_UNKNOWN:

        /* unset: deny once a directory says who the users are */

        deny = (llcf->unknown_user == NGX_CONF_UNSET_UINT)
               ? res.directory
               : (llcf->unknown_user == NGX_HTTP_LLMGW_UNKNOWN_DENY);

        if (deny) {
            return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                                       "account unknown");
        }

        return NGX_OK;

    default: /* NGX_HTTP_LLMGW_ACCOUNT_OK */
        return NGX_OK;
    }
}


/*
 * on_stale=within:SCOPE: whether every scope r requires (its API's, the
 * location's) is top or below it.  A request that requires none is not
 * within: nothing says what it may reach.
 */

static ngx_uint_t
ngx_http_llmgw_state_within(ngx_http_llmgw_loc_conf_t *llcf,
    ngx_http_llmgw_ctx_t *ctx, ngx_http_llmgw_scope_t *top)
{
    if (ctx->api_required == NULL && llcf->required_scopes == NULL) {
        return 0;
    }

    return (ctx->api_required == NULL
            || ngx_http_llmgw_scope_within(ctx->api_required, top))
           && (llcf->required_scopes == NULL
               || ngx_http_llmgw_scope_within(llcf->required_scopes, top));
}


/* 503 with Retry-After: the state cannot be trusted for this request */

static ngx_int_t
ngx_http_llmgw_state_unavailable(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx, const char *reason)
{
    if (ngx_http_llmgw_error_retry_after(r, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE, NULL,
                               reason);
}


/* what the state check asks: the jti's hash, the user, client and iat */

static ngx_int_t
ngx_http_llmgw_state_query(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_http_llmgw_account_query_t *q)
{
    json_t                       *iat;
    ngx_int_t                     rc;
    ngx_http_llmgw_claim_path_t   path;

    ngx_memzero(q, sizeof(ngx_http_llmgw_account_query_t));

    if (ngx_http_llmgw_jti_hash(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    q->jti_hash = ctx->jti_hash;

    if (llcf->user_claim) {
        rc = ngx_http_llmgw_claim_text(r->pool, ctx->claims, llcf->user_claim,
                                       &q->user);

    } else {
        ngx_http_llmgw_claim_path_single(&path, ngx_http_llmgw_sub_claim);
        rc = ngx_http_llmgw_claim_text(r->pool, ctx->claims, &path, &q->user);
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_str_null(&q->user);
    }

    if (ngx_http_llmgw_first_claim(r, ctx->claims,
                                   ngx_http_llmgw_client_id_claims,
                                   &q->client_id)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    iat = json_object_get(ctx->claims, "iat");

    q->iat = json_is_integer(iat) ? (time_t) json_integer_value(iat)
             : json_is_real(iat) ? (time_t) json_real_value(iat) : -1;

    return NGX_OK;
}


/*
 * Rates, quotas and concurrency, all of the location's limits in their
 * order (the outer levels' first), each taken from its backend: every
 * one must pass.  A limit that refuses undoes the takes before it, so a
 * refused request counts nowhere.  A backend that waits (Redis) returns
 * NGX_AGAIN; the stage then resumes at that limit, and the ones before
 * it are not taken again.  The budgets, and the limits keyed by a model
 * the path does not name, wait for the body: llmgw_pass takes them
 * through ngx_http_llmgw_limits_body().
 */

static ngx_int_t
ngx_http_llmgw_stage_limits(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx)
{
    int64_t                  now;
    ngx_int_t                rc;
    ngx_uint_t               i, n;
    ngx_pool_cleanup_t      *cln;
    ngx_http_llmgw_limit_t  *limit;

    if (llcf->limits == NULL) {
        return NGX_OK;
    }

    n = llcf->limits->nelts;

    if (ctx->taken == NULL) {
        ctx->limits = llcf->limits;

        ctx->taken = ngx_pcalloc(r->pool,
                                 n * sizeof(ngx_http_llmgw_limit_taken_t));
        if (ctx->taken == NULL) {
            return NGX_ERROR;
        }

        /* what is in flight is given back however the request ends */

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_llmgw_limit_cleanup;
        cln->data = ctx;

        for (i = 0; i < n; i++) {
            limit = ((ngx_http_llmgw_limit_t **) ctx->limits->elts)[i];

            rc = ngx_http_llmgw_limit_after_body(r, limit);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_OK) {
                ctx->taken[i].body = 1;
                ctx->body_limits = 1;
            }
        }
    }

    now = ngx_http_llmgw_limit_now();

    for (i = ctx->limit_next; i < n; i++) {

        if (ctx->taken[i].body) {
            continue;
        }

        rc = ngx_http_llmgw_limit_take(r, ctx, i, now);

        if (rc == NGX_AGAIN) {
            ctx->limit_next = i;
            return NGX_AGAIN;
        }

        if (rc != NGX_OK) {
            return ngx_http_llmgw_limit_denied(r, llcf, ctx, i, rc, now);
        }
    }

    ctx->limit_next = n;

    if (llcf->limit_headers == NGX_HTTP_LLMGW_LIMIT_HEADERS_OFF) {
        return NGX_OK;
    }

    return ngx_http_llmgw_limit_headers(r, llcf, ctx, 0);
}


/*
 * Whether a limit waits for the body (NGX_OK) or is taken in the access
 * phase (NGX_DECLINED): a budget waits, where llmgw_pass will read a
 * body (elsewhere it counts nothing); a limit keyed by $llmgw_model
 * waits where llmgw_pass finds no model in the path.
 */

static ngx_int_t
ngx_http_llmgw_limit_after_body(ngx_http_request_t *r,
    ngx_http_llmgw_limit_t *limit)
{
    ngx_int_t                    rc;
    ngx_http_llmgw_api_t         api;
    ngx_http_variable_value_t   *vv;
    ngx_http_llmgw_main_conf_t  *mcf;

    if (!ngx_http_llmgw_limit_budget(limit->kind) && !limit->model) {
        return NGX_DECLINED;
    }

    rc = ngx_http_llmgw_pass_api(r, &api);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        /* no llmgw_pass: a budget is skipped, a model-keyed limit is not */
        return ngx_http_llmgw_limit_budget(limit->kind) ? NGX_OK
                                                        : NGX_DECLINED;
    }

    if (ngx_http_llmgw_limit_budget(limit->kind)) {
        return NGX_OK;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_module);

    vv = ngx_http_get_indexed_variable(r, mcf->model_var - 1);
    if (vv == NULL) {
        return NGX_ERROR;
    }

    return (vv->not_found || vv->len == 0) ? NGX_OK : NGX_DECLINED;
}


/*
 * A take that did not pass: every take of the request given back, and
 * the denial recorded (NGX_DECLINED, as a stage denies).
 */

static ngx_int_t
ngx_http_llmgw_limit_denied(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_uint_t i, ngx_int_t rc, int64_t now)
{
    ngx_http_llmgw_limit_release_all(ctx, r->connection->log, now);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_HTTP_TOO_MANY_REQUESTS) {
        return ngx_http_llmgw_limit_refused(r, llcf, ctx, i);
    }

    if (rc == NGX_BUSY) {
        if (ngx_http_llmgw_error_retry_after(r, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   NULL, ngx_http_llmgw_limit_busy(ctx, i));
    }

    /* NGX_DECLINED: no key (or one too long) */

    return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                               ctx->reason);
}


/*
 * The limits that waited for the body, in their order, like the access
 * stage's: a budget reserves its estimate.  Called again after a backend
 * waited (the content handler runs again), it goes on at that limit, and
 * once decided it says the same.  A refusal gives back every take of
 * the request, the access phase's too.
 */

ngx_int_t
ngx_http_llmgw_limits_body(ngx_http_request_t *r)
{
    int64_t                     now;
    ngx_int_t                   rc;
    ngx_uint_t                  i, n;
    ngx_http_llmgw_ctx_t       *ctx;
    ngx_http_llmgw_limit_t     *limit;
    ngx_http_llmgw_loc_conf_t  *llcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_module);

    if (ctx == NULL || !ctx->body_limits) {
        return NGX_OK;
    }

    if (ctx->body_decided) {
        return ctx->status ? (ngx_int_t) ctx->status : NGX_OK;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_module);

    now = ngx_http_llmgw_limit_now();
    n = ctx->limits->nelts;

    for (i = ctx->body_next; i < n; i++) {

        if (!ctx->taken[i].body) {
            continue;
        }

        limit = ((ngx_http_llmgw_limit_t **) ctx->limits->elts)[i];

        if (ngx_http_llmgw_limit_budget(limit->kind)
            && !ctx->taken[i].estimated)
        {
            if (ngx_http_llmgw_limit_estimate(r, ctx, limit,
                                              &ctx->taken[i].v.amount)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            ctx->taken[i].estimated = 1;
        }

        rc = ngx_http_llmgw_limit_take(r, ctx, i, now);

        if (rc == NGX_AGAIN) {
            ctx->body_next = i;
            return NGX_AGAIN;
        }

        if (rc == NGX_OK) {
            continue;
        }

        ctx->body_decided = 1;

        rc = ngx_http_llmgw_limit_denied(r, llcf, ctx, i, rc, now);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        ctx->late = 1;

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llmgw: denied with %ui after the body: %s",
                      ctx->status, ctx->reason);

        if (ngx_http_llmgw_denial(r, llcf, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        return ctx->status;
    }

    ctx->body_next = n;
    ctx->body_decided = 1;

    if (llcf->limit_headers == NGX_HTTP_LLMGW_LIMIT_HEADERS_OFF) {
        return NGX_OK;
    }

    return ngx_http_llmgw_limit_headers(r, llcf, ctx, 1);
}


/*
 * What a budget reserves for r's call: the output tokens its body allows
 * (or the limit's estimate= when it names none) and the prompt guessed
 * from the body's size; a cost budget, those tokens at the price of r's
 * model (0 when the location has no price for it).
 */

static ngx_int_t
ngx_http_llmgw_limit_estimate(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx, ngx_http_llmgw_limit_t *limit,
    int64_t *amount)
{
    int64_t                        out, in;
    ngx_http_llmgw_cost_t          cost;
    ngx_http_llmgw_usage_result_t  usage;

    if (!ctx->body_read) {
        if (ngx_http_llmgw_pass_body_tokens(r, &ctx->body_max,
                                            &ctx->body_len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ctx->body_read = 1;
    }

    out = (ctx->body_max >= 0) ? ctx->body_max : limit->estimate;
    in = ngx_http_llmgw_estimate_prompt(ctx->body_len);

    if (limit->kind == NGX_HTTP_LLMGW_LIMIT_TOKENS) {
        *amount = in + out;

    } else {
        ngx_memzero(&usage, sizeof(ngx_http_llmgw_usage_result_t));

        usage.input_tokens.value = in;
        usage.input_tokens.present = 1;
        usage.output_tokens.value = out;
        usage.output_tokens.present = 1;
        usage.complete = 1;

        if (ngx_http_llmgw_cost_of(r, &usage, &cost) != NGX_OK) {
            return NGX_ERROR;
        }

        *amount = cost.currency.len ? cost.micros : 0;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llmgw limit \"%V\": estimate %L (%L output tokens)",
                   &limit->name, *amount, out);

    return NGX_OK;
}


/*
 * Limit i of the location for r's key: NGX_OK (taken, or skipped: an
 * empty key that the limit allows), NGX_AGAIN, NGX_HTTP_TOO_MANY_REQUESTS
 * (refused), NGX_DECLINED with ctx->reason (no usable key), NGX_BUSY (the
 * backend keeps no more keys), NGX_ERROR.
 */

static ngx_int_t
ngx_http_llmgw_limit_take(ngx_http_request_t *r, ngx_http_llmgw_ctx_t *ctx,
    ngx_uint_t i, int64_t now)
{
    ngx_int_t                      rc;
    ngx_http_llmgw_limit_t        *limit;
    ngx_http_llmgw_limit_taken_t  *lt;

    limit = ((ngx_http_llmgw_limit_t **) ctx->limits->elts)[i];
    lt = &ctx->taken[i];

    if (lt->key.data == NULL) {
        if (ngx_http_complex_value(r, &limit->key, &lt->key) != NGX_OK) {
            return NGX_ERROR;
        }

        if (lt->key.len == 0) {
            if (limit->empty_allow) {
                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "llmgw limit \"%V\": empty key, skipped",
                               &limit->name);
                return NGX_OK;
            }

            ctx->reason = (const char *) limit->no_key.data;
            return NGX_DECLINED;
        }
    }

    if (lt->key.len == 0) {
        return NGX_OK;
    }

    if (!ngx_http_llmgw_limit_budget(limit->kind)) {
        lt->v.amount = 1;
    }

    rc = limit->backend->take(r, limit, &lt->key, now, &lt->v);

    if (rc == NGX_DECLINED) {
        ctx->reason = (const char *) limit->no_key.data;
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    lt->checked = 1;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llmgw limit \"%V\": %s, remaining %L, retry %L ms",
                   &limit->name, lt->v.allowed ? "allowed" : "refused",
                   lt->v.remaining, lt->v.retry);

    if (!lt->v.allowed) {
        return NGX_HTTP_TOO_MANY_REQUESTS;
    }

    lt->taken = 1;

    return NGX_OK;
}


/* every take not given back yet (a refusal after them, the request end) */

static void
ngx_http_llmgw_limit_release_all(ngx_http_llmgw_ctx_t *ctx, ngx_log_t *log,
    int64_t now)
{
    ngx_uint_t                     i;
    ngx_http_llmgw_limit_t       **limit;
    ngx_http_llmgw_limit_taken_t  *lt;

    limit = ctx->limits->elts;

    for (i = 0; i < ctx->limits->nelts; i++) {
        lt = &ctx->taken[i];

        if (!lt->taken) {
            continue;
        }

        limit[i]->backend->release(log, limit[i], &lt->key, now, &lt->v);
        lt->taken = 0;

        /* what a 429's RateLimit then says of it */
        lt->v.remaining += lt->v.amount;
    }
}


/*
 * The request's pool goes: it ended, whichever way (response sent,
 * client gone mid-stream, error).  Only what is in flight is given back;
 * a rate or a quota counted a request that was let through.  A budget's
 * reservation is trued up in the log phase; one the log phase did not
 * see (an internal redirect cleared the ctx) is given back here.
 */

static void
ngx_http_llmgw_limit_cleanup(void *data)
{
    ngx_http_llmgw_ctx_t *ctx = data;

    int64_t                        now;
    ngx_uint_t                     i;
    ngx_http_llmgw_limit_t       **limit;
    ngx_http_llmgw_limit_taken_t  *lt;

    now = ngx_http_llmgw_limit_now();
    limit = ctx->limits->elts;

    for (i = 0; i < ctx->limits->nelts; i++) {
        lt = &ctx->taken[i];

        if (!lt->taken
            || (limit[i]->kind != NGX_HTTP_LLMGW_LIMIT_CONCURRENT
                && !ngx_http_llmgw_limit_budget(limit[i]->kind)))
        {
            continue;
        }

        limit[i]->backend->release(ngx_cycle->log, limit[i], &lt->key, now,
                                   &lt->v);
        lt->taken = 0;
    }
}


/*
 * After the response: each budget's reservation trued up to what the
 * call used, by the usage llmgw_pass read (the provider's own count),
 * once; a call that reported no usage (it failed, the provider or the
 * client went away first) gives its reservation back whole.
 */

static ngx_int_t
ngx_http_llmgw_limits_log_handler(ngx_http_request_t *r)
{
    int64_t                        now, used;
    ngx_uint_t                     i;
    ngx_http_llmgw_ctx_t          *ctx;
    ngx_http_llmgw_limit_t       **limit;
    ngx_http_llmgw_limit_taken_t  *lt;
    ngx_http_llmgw_pass_result_t   pres;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_module);

    if (ctx == NULL || !ctx->body_limits || ctx->taken == NULL) {
        return NGX_OK;
    }

    if (ngx_http_llmgw_pass_result(r, &pres) != NGX_OK) {
        return NGX_OK;
    }

    now = ngx_http_llmgw_limit_now();
    limit = ctx->limits->elts;

    for (i = 0; i < ctx->limits->nelts; i++) {
        lt = &ctx->taken[i];

        if (!lt->taken || !ngx_http_llmgw_limit_budget(limit[i]->kind)) {
            continue;
        }

        used = ngx_http_llmgw_limit_used(r, limit[i], &pres);

        limit[i]->backend->adjust(r->connection->log, limit[i], &lt->key,
                                  now, &lt->v, used - lt->v.amount);
        lt->taken = 0;

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llmgw limit \"%V\": reserved %L, used %L",
                       &limit[i]->name, lt->v.amount, used);
    }

    return NGX_OK;
}


/*
 * What r's call used of a budget: input plus output tokens as the
 * provider counted them, or their cost at r's price; 0 when no usage was
 * reported or (cost) the model has no price.
 */

static int64_t
ngx_http_llmgw_limit_used(ngx_http_request_t *r,
    ngx_http_llmgw_limit_t *limit, ngx_http_llmgw_pass_result_t *pres)
{
    ngx_http_llmgw_cost_t           cost;
    ngx_http_llmgw_usage_result_t  *u;

    u = &pres->usage;

    if (!u->input_tokens.present && !u->output_tokens.present) {
        return 0;
    }

    if (limit->kind == NGX_HTTP_LLMGW_LIMIT_TOKENS) {
        return u->input_tokens.value + u->output_tokens.value;
    }

    if (ngx_http_llmgw_cost_of(r, u, &cost) != NGX_OK
        || cost.currency.len == 0)
    {
        return 0;
    }

    return cost.micros;
}


/*
 * 429: Retry-After in whole seconds rounded up, retry-after-ms exact (the
 * OpenAI SDKs read it first), the rate-limit fields of the limits checked
 * so far, the limit's name in the reason (the body, the audit).
 */

static ngx_int_t
ngx_http_llmgw_limit_refused(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_uint_t hit)
{
    u_char                  *p;
    int64_t                  retry;
    ngx_http_llmgw_limit_t  *limit;

    limit = ((ngx_http_llmgw_limit_t **) ctx->limits->elts)[hit];
    retry = ctx->taken[hit].v.retry;

    if (ngx_http_llmgw_error_retry_after(r,
                                   (time_t) ngx_http_llmgw_limit_seconds(retry))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_header_add(r, "retry-after-ms", p,
                                  ngx_sprintf(p, "%L", retry) - p)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (llcf->limit_headers != NGX_HTTP_LLMGW_LIMIT_HEADERS_OFF
        && ngx_http_llmgw_limit_headers(r, llcf, ctx, ctx->taken[hit].body)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_TOO_MANY_REQUESTS,
                               NULL, (const char *) limit->reason.data);
}


/*
 * draft-ietf-httpapi-ratelimit-headers-11: RateLimit-Policy lists every
 * limit of the location (made at configuration time), RateLimit the
 * ones this request was checked against, with what remains and the
 * seconds until the limit is whole again.  The limits taken after the
 * body add a second RateLimit line (a list field's lines are one list),
 * and the policy is not said twice.
 */

static ngx_int_t
ngx_http_llmgw_limit_headers(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_uint_t body)
{
    u_char                        *p, *start;
    size_t                         len;
    ngx_uint_t                     i;
    ngx_http_llmgw_limit_t       **limit;
    ngx_http_llmgw_limit_taken_t  *lt;

    limit = ctx->limits->elts;
    len = 0;

    for (i = 0; i < ctx->limits->nelts; i++) {
        len += limit[i]->name.len
               + sizeof(",\"\";r=;t=") - 1 + 2 * NGX_INT64_LEN;
    }

    start = ngx_pnalloc(r->pool, len);
    if (start == NULL) {
        return NGX_ERROR;
    }

    p = start;

    for (i = 0; i < ctx->limits->nelts; i++) {
        lt = &ctx->taken[i];

        if (!lt->checked || lt->body != body) {
            continue;
        }

        if (p != start) {
            *p++ = ',';
        }

        p = ngx_sprintf(p, "\"%V\";r=%L", &limit[i]->name, lt->v.remaining);

        if (limit[i]->kind != NGX_HTTP_LLMGW_LIMIT_CONCURRENT) {
            p = ngx_sprintf(p, ";t=%L",
                            ngx_http_llmgw_limit_seconds(lt->v.reset));
        }
    }

    if (!body
        && ngx_http_llmgw_header_add(r, "RateLimit-Policy",
                                     llcf->limit_policy.data,
                                     llcf->limit_policy.len)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (p != start
        && ngx_http_llmgw_header_add(r, "RateLimit", start, p - start)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (llcf->limit_headers != NGX_HTTP_LLMGW_LIMIT_HEADERS_OPENAI) {
        return NGX_OK;
    }

    if (ngx_http_llmgw_limit_openai_headers(r, ctx, body, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_llmgw_limit_openai_headers(r, ctx, body, 1);
}


/*
 * x-ratelimit-limit-requests, -remaining-requests, -reset-requests as
 * OpenAI sends them, for the limit with the least remaining: one number
 * each, where the IETF fields can list several; the -tokens family
 * likewise of the token budgets.  Each family is sent once: the requests
 * family after the body only when the access phase checked no limit.
 */

static ngx_int_t
ngx_http_llmgw_limit_openai_headers(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx, ngx_uint_t body, ngx_uint_t tokens)
{
    u_char                        *p, *start;
    int64_t                        quota;
    ngx_uint_t                     i, least;
    ngx_http_llmgw_limit_t       **limit;
    ngx_http_llmgw_limit_taken_t  *lt;

    static const char  *names[2][3] = {
        { "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
          "x-ratelimit-reset-requests" },
        { "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens",
          "x-ratelimit-reset-tokens" }
    };

    if (!tokens && ctx->requests_told) {
        return NGX_OK;
    }

    limit = ctx->limits->elts;
    lt = ctx->taken;
    least = ctx->limits->nelts;

    for (i = 0; i < ctx->limits->nelts; i++) {
        if (!lt[i].checked
            || lt[i].body != body
            || (limit[i]->kind == NGX_HTTP_LLMGW_LIMIT_TOKENS) != tokens
            || limit[i]->kind == NGX_HTTP_LLMGW_LIMIT_COST)
        {
            continue;
        }

        if (least == ctx->limits->nelts
            || lt[i].v.remaining < lt[least].v.remaining)
        {
            least = i;
        }
    }

    if (least == ctx->limits->nelts) {
        return NGX_OK;
    }

    if (!tokens) {
        ctx->requests_told = 1;
    }

    quota = (limit[least]->kind == NGX_HTTP_LLMGW_LIMIT_RATE)
            ? limit[least]->burst + 1 : limit[least]->quota;

    start = ngx_pnalloc(r->pool, 2 * NGX_INT64_LEN
                                 + NGX_HTTP_LLMGW_LIMIT_DURATION_LEN);
    if (start == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(start, "%L", quota);

    if (ngx_http_llmgw_header_add(r, names[tokens][0], start, p - start)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    start = p;
    p = ngx_sprintf(start, "%L", lt[least].v.remaining);

    if (ngx_http_llmgw_header_add(r, names[tokens][1], start, p - start)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    start = p;
    p = ngx_http_llmgw_limit_duration(start, lt[least].v.reset);

    return ngx_http_llmgw_header_add(r, names[tokens][2], start, p - start);
}


static ngx_int_t
ngx_http_llmgw_header_add(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->lowcase_key = NULL;
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


/* why limit i answered NGX_BUSY: its backend cannot decide now */

static const char *
ngx_http_llmgw_limit_busy(ngx_http_llmgw_ctx_t *ctx, ngx_uint_t i)
{
    ngx_http_llmgw_limit_t  *limit;

    limit = ((ngx_http_llmgw_limit_t **) ctx->limits->elts)[i];

    return (limit->backend == &ngx_http_llmgw_limit_redis_backend)
           ? "limit store unavailable" : "limit zone full";
}


/* wall-clock ms: windows are calendar time, and Redis's clock is one too */

static int64_t
ngx_http_llmgw_limit_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + tp->msec;
}


/*
 * The token from the first configured header present.  Authorization must
 * use the Bearer scheme (RFC 6750 section 2.1), or DPoP (RFC 9449 section
 * 7.1, *dpop set) where llmgw_dpop is on; other headers (the api-key of
 * Azure SDKs, the x-goog-api-key of Gemini SDKs) carry the bare token.
 * NGX_DECLINED: none; NGX_ERROR: a header given twice.
 */

static ngx_int_t
ngx_http_llmgw_find_token(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_str_t *token, ngx_uint_t *dpop)
{
    u_char           *p, *last;
    ngx_str_t        *name, value;
    ngx_uint_t        i, n, found, scheme;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    *dpop = 0;
    ngx_str_null(&value);
    name = llcf->token_headers->elts;

    for (n = 0; n < llcf->token_headers->nelts; n++) {

        found = 0;
        part = &r->headers_in.headers.part;
        h = part->elts;

        for (i = 0; /* void */; i++) {

            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                h = part->elts;
                i = 0;
            }

            /* names are kept lowercase: a plain compare, no case folding */

            if (h[i].key.len != name[n].len
                || ngx_memcmp(h[i].lowcase_key, name[n].data, name[n].len)
                   != 0)
            {
                continue;
            }

            if (found++) {
                return NGX_ERROR;
            }

            value = h[i].value;
        }

        if (!found) {
            continue;
        }

        p = value.data;
        last = p + value.len;
        scheme = 0;

        if (name[n].len == sizeof("authorization") - 1
            && ngx_memcmp(name[n].data, "authorization", name[n].len) == 0)
        {
            if (value.len >= sizeof("Bearer ") - 1
                && ngx_strncasecmp(p, (u_char *) "Bearer ",
                                   sizeof("Bearer ") - 1) == 0)
            {
                p += sizeof("Bearer ") - 1;

            } else if (llcf->dpop != NGX_HTTP_LLMGW_DPOP_OFF
                       && value.len >= sizeof("DPoP ") - 1
                       && ngx_strncasecmp(p, (u_char *) "DPoP ",
                                          sizeof("DPoP ") - 1) == 0)
            {
                p += sizeof("DPoP ") - 1;
                scheme = 1;

            } else {
                continue;
            }

            while (p < last && *p == ' ') {
                p++;
            }
        }

        while (last > p && last[-1] == ' ') {
            last--;
        }

        if (p == last) {
            continue;
        }

        token->data = p;
        token->len = last - p;
        *dpop = scheme;

        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * A token verified before: its signature is not checked again, but the
 * key that verified it must still be one of this location's, and every
 * claim and scope check runs again.  The worker's local table is asked
 * first (claims already parsed, no lock), then the shared zone, whose hit
 * is parsed and kept in the local table.  NGX_OK: authentic (ctx->claims,
 * ctx->typ set); NGX_DECLINED: not cached; NGX_ERROR.
 */

static ngx_int_t
ngx_http_llmgw_cached(ngx_http_request_t *r, ngx_http_llmgw_loc_conf_t *llcf,
    ngx_http_llmgw_ctx_t *ctx, ngx_array_t *jwks_keys)
{
    time_t                         now;
    json_t                        *claims;
    ngx_int_t                      rc;
    ngx_uint_t                     known;
    ngx_pool_cleanup_t            *cln;
    ngx_http_llmgw_main_conf_t    *mcf;
    ngx_http_llmgw_cache_entry_t   entry;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_module);

    if (mcf->cache_zone == NULL || !llcf->cache) {
        return NGX_DECLINED;
    }

    if (ngx_http_llmgw_sha256(ctx->token.data, ctx->token.len, ctx->hash)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    now = ngx_time();

    rc = ngx_http_llmgw_cache_local_lookup(mcf->cache_zone, ctx->hash, now,
                                           r->pool, &entry);

    if (rc == NGX_DECLINED) {
        rc = ngx_http_llmgw_cache_lookup(mcf->cache_zone, ctx->hash, now,
                                         r->pool, &entry);
        entry.claims = NULL;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    known = (llcf->keys && ngx_http_llmgw_keys_have(llcf->keys, entry.key_fp))
            || (jwks_keys && ngx_http_llmgw_keys_have(jwks_keys, entry.key_fp));

    /* verified by an algorithm this location refuses: parsed, refused */

    if (!known || !(llcf->algs & NGX_HTTP_LLMGW_ALG_BIT(entry.alg))) {
        return NGX_DECLINED;
    }

    if (entry.claims == NULL) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        claims = json_loadb((const char *) entry.payload.data,
                            entry.payload.len, JSON_REJECT_DUPLICATES, NULL);

        if (!json_is_object(claims)) {
            /* cannot happen: only parsed payloads are stored */
            json_decref(claims);
            return NGX_DECLINED;
        }

        cln->handler = (ngx_pool_cleanup_pt) json_decref;
        cln->data = claims;

        entry.claims = claims;

        (void) ngx_http_llmgw_cache_local_store(mcf->cache_zone, ctx->hash,
                                                &entry, now);
    }

    ctx->claims = entry.claims;
    ctx->typ = entry.typ;
    ctx->cache_hit = 1;

    return NGX_OK;
}


/*
 * The signature of ctx->jws, by a key of the location.  A kid that no key
 * has may mean the IdP rotated its keys: one refetch is waited for
 * (NGX_AGAIN), and the search runs again over what it brought when the
 * stage resumes (the zone's state in ctx->jwks answers NGX_DECLINED to a
 * second forced update, so the refetch is never repeated).
 */

static ngx_int_t
ngx_http_llmgw_verify(ngx_http_request_t *r, ngx_http_llmgw_loc_conf_t *llcf,
    ngx_http_llmgw_ctx_t *ctx, ngx_array_t *jwks_keys)
{
    ngx_int_t              rc;
    ngx_uint_t             candidates;
    ngx_http_llmgw_key_t  *key;

    key = ngx_http_llmgw_verifying_key(r, llcf, ctx->jws, jwks_keys,
                                       &candidates);

    if (candidates == 0 && llcf->jwks) {

        rc = ngx_http_llmgw_jwks_update(r, llcf->jwks, 1, &ctx->jwks);

        if (rc == NGX_AGAIN || rc == NGX_ERROR) {
            return rc;
        }

        /* no refetch now (the cooldown), or the one done already */

        jwks_keys = ngx_http_llmgw_jwks_keys(llcf->jwks, r->connection->log);
        key = ngx_http_llmgw_verifying_key(r, llcf, ctx->jws, jwks_keys,
                                           &candidates);
    }

    if (candidates == 0) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_token", "unknown signing key");
    }

    if (key == NULL) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   "invalid_token", "invalid signature");
    }

    ctx->claims = ctx->jws->claims;
    ctx->typ = ctx->jws->typ;

    ngx_http_llmgw_cache_verified(r, llcf, ctx, key);

    return NGX_OK;
}


/* the key among the location's that verifies the signature, or NULL */

static ngx_http_llmgw_key_t *
ngx_http_llmgw_verifying_key(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_jws_t *jws,
    ngx_array_t *jwks_keys, ngx_uint_t *candidates)
{
    ngx_int_t              rc;
    ngx_uint_t             i, next;
    ngx_array_t           *sets[2];
    ngx_http_llmgw_key_t  *key;

    sets[0] = llcf->keys;
    sets[1] = jwks_keys;

    *candidates = 0;

    for (i = 0; i < 2; i++) {
        if (sets[i] == NULL) {
            continue;
        }

        next = 0;

        for ( ;; ) {
            key = ngx_http_llmgw_keys_next(sets[i], &jws->kid, jws->alg,
                                           &next);
            if (key == NULL) {
                break;
            }

            (*candidates)++;

            rc = ngx_http_llmgw_jws_verify(jws, key);

            /* the tests count these: one per key tried, never again */

            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "llmgw access: signature checked with key "
                           "\"%V\": %s", &key->kid,
                           rc == NGX_OK ? "valid" : "invalid");

            if (rc == NGX_OK) {
                return key;
            }
        }
    }

    return NULL;
}


/*
 * A verified signature is remembered whatever the claims say: they are
 * checked on every hit, against the location the hit is for.
 */

static void
ngx_http_llmgw_cache_verified(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_http_llmgw_key_t *key)
{
    time_t                         now, exp;
    ngx_http_llmgw_main_conf_t    *mcf;
    ngx_http_llmgw_cache_entry_t   entry;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llmgw_module);

    if (mcf->cache_zone == NULL || !llcf->cache) {
        return;
    }

    now = ngx_time();
    exp = ngx_http_llmgw_claims_exp(ctx->jws->claims);

    if (exp == 0) {
        exp = now + NGX_HTTP_LLMGW_CACHE_NOEXP_TTL;
    }

    if (exp <= now) {
        return;
    }

    entry.expires = exp;
    ngx_memcpy(entry.key_fp, key->fp, NGX_HTTP_LLMGW_SHA256_LEN);
    entry.alg = ctx->jws->alg;
    entry.typ = ctx->jws->typ;
    entry.payload = ctx->jws->payload;
    entry.claims = ctx->jws->claims;

    (void) ngx_http_llmgw_cache_store(mcf->cache_zone, ctx->hash, &entry,
                                      now);

    /* and parsed, for this worker's next hits */

    (void) ngx_http_llmgw_cache_local_store(mcf->cache_zone, ctx->hash,
                                            &entry, now);
}


/*
 * The API kind llmgw_pass will forward the request as decides which
 * scopes it needs (llmgw_api_scope), so that a new provider endpoint
 * never inherits the location's scope: an endpoint the adapter does not
 * know is refused unless "llmgw_api_unknown allow"; with llmgw_api_scope
 * lines, a known kind they do not list is refused too.  A path that
 * cannot be forwarded unambiguously is refused here, before its kind
 * could matter.  NGX_OK with *required the API's scopes (or NULL),
 * NGX_DECLINED (denied), NGX_ERROR.
 */

static ngx_int_t
ngx_http_llmgw_api_check(ngx_http_request_t *r,
    ngx_http_llmgw_loc_conf_t *llcf, ngx_http_llmgw_ctx_t *ctx,
    ngx_array_t **required)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i;
    ngx_http_llmgw_api_t         api;
    ngx_http_llmgw_api_scope_t  *as;

    *required = NULL;

    rc = ngx_http_llmgw_pass_api(r, &api);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_HTTP_BAD_REQUEST) {
        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_BAD_REQUEST,
                                   "invalid_request",
                                   "request path cannot be forwarded");
    }

    if (rc == NGX_DECLINED) {

        /* no llmgw_pass: nothing is forwarded as an API of a provider */

        if (llcf->api_scopes) {
            return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                                       "unknown API");
        }

        return NGX_OK;
    }

    if (api.api.len == 0) {
        if (llcf->api_unknown == NGX_HTTP_LLMGW_API_ALLOW) {
            return NGX_OK;
        }

        return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                                   "unknown API");
    }

    if (llcf->api_scopes == NULL) {
        return NGX_OK;
    }

    as = llcf->api_scopes->elts;

    for (i = 0; i < llcf->api_scopes->nelts; i++) {
        if (as[i].kind.len == api.api.len
            && ngx_strncmp(as[i].kind.data, api.api.data, api.api.len) == 0)
        {
            *required = as[i].required;
            return NGX_OK;
        }
    }

    return ngx_http_llmgw_deny(r, ctx, NGX_HTTP_FORBIDDEN, NULL,
                               "API not allowed here");
}


static ngx_int_t
ngx_http_llmgw_deny(ngx_http_request_t *r, ngx_http_llmgw_ctx_t *ctx,
    ngx_uint_t status, const char *error, const char *reason)
{
    ctx->status = status;
    ctx->error = error;
    ctx->reason = reason;

    return NGX_DECLINED;
}


/*
 * What the client is told of a denial, and its WWW-Authenticate: a
 * challenge for every token problem (401, 400, 403 insufficient_scope); a
 * refusal that no other token would change (403, an API the location does
 * not allow) has none.  The words are fixed texts, claim names made safe
 * at configuration time and scope-tokens.
 */

static ngx_int_t
ngx_http_llmgw_denial(ngx_http_request_t *r, ngx_http_llmgw_loc_conf_t *llcf,
    ngx_http_llmgw_ctx_t *ctx)
{
    ngx_http_llmgw_error_t  *err;

    err = &ctx->denial;

    ngx_http_llmgw_error_status(err, ctx->status);

    if (ctx->error) {
        err->error.data = (u_char *) ctx->error;
        err->error.len = ngx_strlen(ctx->error);
        err->code = err->error;
    }

    err->message.data = (u_char *) ctx->reason;
    err->message.len = ngx_strlen(ctx->reason);

    /* RFC 9449 section 7.1: the DPoP scheme, with the algorithms */

    if (llcf->dpop == NGX_HTTP_LLMGW_DPOP_REQUIRED
        || (llcf->dpop == NGX_HTTP_LLMGW_DPOP_OPTIONAL && ctx->dpop_scheme))
    {
        ngx_str_set(&err->scheme, "DPoP");
        err->algs = llcf->dpop_algs_text;
    }

    if (ctx->required != NULL
        && ngx_http_llmgw_scope_list(r->pool, ctx->required, &err->scope)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (llcf->metadata_url != NULL
        && ngx_http_llmgw_error_challenged(err)
        && ngx_http_complex_value(r, llcf->metadata_url,
                                  &err->resource_metadata)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_llmgw_error_www_authenticate(r, &llcf->realm, err);
}


/* the scopes, space-separated, as a challenge's scope lists them */

static ngx_int_t
ngx_http_llmgw_scope_list(ngx_pool_t *pool, ngx_array_t *required,
    ngx_str_t *list)
{
    u_char                   *p;
    size_t                    len;
    ngx_uint_t                i;
    ngx_http_llmgw_scope_t  **s;

    len = 0;
    s = required->elts;

    for (i = 0; i < required->nelts; i++) {
        len += s[i]->name.len + 1;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    list->data = p;

    for (i = 0; i < required->nelts; i++) {
        if (i) {
            *p++ = ' ';
        }

        p = ngx_cpymem(p, s[i]->name.data, s[i]->name.len);
    }

    list->len = p - list->data;

    return NGX_OK;
}


/* the protected-resource metadata, made at configuration time */

static ngx_int_t
ngx_http_llmgw_metadata_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_buf_t                  *b;
    ngx_chain_t                 out;
    ngx_http_llmgw_loc_conf_t  *llcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_module);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = llcf->metadata.len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (r->method == NGX_HTTP_HEAD) {
        return ngx_http_send_header(r);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = llcf->metadata.data;
    b->last = llcf->metadata.data + llcf->metadata.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


/*
 * The one error filter of llmgw: nginx's own error page becomes the JSON
 * body of the error when llmgw decided the response (a denial that nginx
 * enforced, llmgw_audit_required's 503) or llmgw_pass answered it
 * (ngx_http_llmgw_pass_error).  Any
 * other response passes unchanged: a provider's own errors, the target
 * of an error_page (its ctx is cleared by the redirect), a request that
 * satisfy any let in.
 */

static ngx_int_t
ngx_http_llmgw_error_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t               status;
    ngx_http_llmgw_ctx_t    *ctx;
    ngx_http_llmgw_error_t   fixed, *err;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_module);

    if (ctx != NULL && ngx_http_llmgw_denial_enforced(r, ctx)) {
        err = &ctx->denial;

    } else {
        err = ngx_http_llmgw_audit_error(r);

        if (err == NULL) {
            status = ngx_http_llmgw_pass_error(r);

            if (status == 0) {
                status = ngx_http_llmgw_admin_error(r);
            }

            if (status == 0) {
                return ngx_http_next_header_filter(r);
            }

            ngx_http_llmgw_error_status(&fixed, status);
            err = &fixed;
        }

        if (ctx == NULL) {
            ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_llmgw_ctx_t));
            if (ctx == NULL) {
                return NGX_ERROR;
            }

            ngx_http_set_ctx(r, ctx, ngx_http_llmgw_module);
        }
    }

    if (ngx_http_llmgw_error_body(r->pool, err, &ctx->json) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_error_headers(r, &ctx->json) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


/* nginx's error page is swallowed, the JSON goes out in its place */

static ngx_int_t
ngx_http_llmgw_error_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t             *b;
    ngx_uint_t             last;
    ngx_chain_t           *cl, out;
    ngx_http_llmgw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llmgw_module);

    if (ctx == NULL || ctx->json.data == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;

        if (cl->buf->last_buf || cl->buf->last_in_chain) {
            last = 1;
        }
    }

    if (!last || ctx->json_sent) {
        return NGX_OK;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->json.data;
    b->last = ctx->json.data + ctx->json.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    ctx->json_sent = 1;

    return ngx_http_next_body_filter(r, &out);
}


/*
 * Whether the response is nginx's error page for this request's denial:
 * sent while the request is still in the access phase, by the access
 * checker (satisfy all, at once or after auth_delay) or the post-access
 * one (satisfy any, every handler refused).  A request that satisfy any
 * let in has moved on to later phases, and its content handler's own
 * errors are not llmgw's to word, even of the same status.
 */

static ngx_uint_t
ngx_http_llmgw_denial_enforced(ngx_http_request_t *r,
    ngx_http_llmgw_ctx_t *ctx)
{
    ngx_http_phase_handler_t   *ph;
    ngx_http_core_main_conf_t  *cmcf;

    if (!ctx->decided
        || ctx->status == 0
        || r->err_status != ctx->status)
    {
        return 0;
    }

    if (ctx->late) {
        /* denied by a limit after the body, before the provider's call */
        return 1;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);
    ph = &cmcf->phase_engine.handlers[r->phase_handler];

    return ph->checker == ngx_http_core_access_phase
           || ph->checker == ngx_http_core_post_access_phase;
}


/*
 * A JWKS fetch's response is kept for its zone (ngx_http_llmgw_jwks.c)
 * and goes no further; any other passes.  Installed whether zones are
 * declared or not: it costs two comparisons a body, and no fetch then
 * depends on which configuration last built the process-wide chain.
 */

static ngx_int_t
ngx_http_llmgw_jwks_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    if (ngx_http_llmgw_jwks_body(r, in) == NGX_OK) {
        return NGX_OK;
    }

    return ngx_http_llmgw_jwks_next_body_filter(r, in);
}


/* the typed results */

ngx_int_t
ngx_http_llmgw_challenge(ngx_http_request_t *r, ngx_http_llmgw_error_t *err)
{
    ngx_http_llmgw_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_module);

    return ngx_http_llmgw_error_www_authenticate(r, &llcf->realm, err);
}


ngx_array_t *
ngx_http_llmgw_jwks_conf(ngx_conf_t *cf)
{
    ngx_http_llmgw_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llmgw_module);

    return mcf->jwks_zones;
}


ngx_int_t
ngx_http_llmgw_registered_clients_conf(ngx_conf_t *cf,
    ngx_array_t **clients, ngx_http_llmgw_scope_tree_t **tree)
{
    ngx_http_llmgw_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llmgw_module);

    if (mcf->clients == NULL) {
        return NGX_DECLINED;
    }

    *clients = mcf->clients->clients;
    *tree = &mcf->scopes;

    return NGX_OK;
}


ngx_shm_zone_t *
ngx_http_llmgw_state_conf(ngx_conf_t *cf, time_t *utc_offset)
{
    ngx_http_llmgw_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llmgw_module);

    *utc_offset = (mcf->users_utc_offset == NGX_CONF_UNSET)
                  ? 0 : mcf->users_utc_offset;

    return mcf->state_zone;
}


ngx_int_t
ngx_http_llmgw_access_result(ngx_http_request_t *r,
    ngx_http_llmgw_access_result_t *res)
{
    ngx_http_llmgw_ctx_t       *ctx;
    ngx_http_llmgw_loc_conf_t  *llcf;

    ngx_memzero(res, sizeof(ngx_http_llmgw_access_result_t));

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llmgw_module);

    res->enabled = (llcf->auth != NGX_HTTP_LLMGW_AUTH_OFF);

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_llmgw_module);

    if (ctx == NULL || !ngx_http_llmgw_identified(ctx)) {
        return NGX_OK;
    }

    /* in the limits stage, who the token names is known, no verdict */

    if (ctx->decided && ctx->status == 0) {
        res->decision = NGX_HTTP_LLMGW_DECISION_ALLOWED;

    } else if (ctx->decided) {
        res->decision = NGX_HTTP_LLMGW_DECISION_DENIED;
        res->status = ctx->status;
        res->failed = ctx->required;

        if (ctx->error) {
            res->error.data = (u_char *) ctx->error;
            res->error.len = ngx_strlen(ctx->error);
        }

        res->reason.data = (u_char *) ctx->reason;
        res->reason.len = ngx_strlen(ctx->reason);
    }

    if (ctx->claims == NULL) {
        return NGX_OK;
    }

    /* the token is authentic: who it names, whatever the verdict */

    res->verified = 1;
    res->cache_hit = ctx->cache_hit;
    res->granted = ctx->granted.elts ? &ctx->granted : NULL;
    res->ceiling = ctx->ceiling;
    res->client_status = ctx->client_status;

    if (ngx_http_llmgw_first_claim(r, ctx->claims,
                                   ngx_http_llmgw_sub_claim, &res->sub)
        == NGX_ERROR
        || ngx_http_llmgw_first_claim(r, ctx->claims,
                                      ngx_http_llmgw_client_id_claims,
                                      &res->client_id)
           == NGX_ERROR
        || ngx_http_llmgw_jti_hash(r, ctx) != NGX_OK)
    {
        return NGX_ERROR;
    }

    res->jti_hash = ctx->jti_hash;
    res->department = ctx->department;

    if (ctx->dpop_verified) {
        ngx_str_set(&res->binding, "dpop");

    } else if (ctx->cert_bound) {
        ngx_str_set(&res->binding, "x5t#S256");
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_access_department(ngx_http_request_t *r,
    ngx_http_llmgw_claim_path_t *path, ngx_str_t *value)
{
    ngx_int_t              rc;
    ngx_http_llmgw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_llmgw_module);

    if (ctx == NULL || !ctx->decided || ctx->claims == NULL) {
        return NGX_DECLINED;
    }

    if (path) {
        rc = ngx_http_llmgw_claim_text(r->pool, ctx->claims, path, value);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (ctx->department.len == 0) {
        return NGX_DECLINED;
    }

    *value = ctx->department;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_access_claim(ngx_http_request_t *r,
    ngx_http_llmgw_claim_path_t *path, ngx_str_t *value)
{
    ngx_http_llmgw_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_llmgw_module);

    if (ctx == NULL || !ngx_http_llmgw_identified(ctx)
        || ctx->claims == NULL)
    {
        return NGX_DECLINED;
    }

    return ngx_http_llmgw_claim_text(r->pool, ctx->claims, path, value);
}


/*
 * Whether the token's claims may be read: once the verdict is in, and
 * during the limits stage, whose keys ($llmgw_sub, $llmgw_claim_...) are
 * the claims of a token that passed every check before it.
 */

static ngx_uint_t
ngx_http_llmgw_identified(ngx_http_llmgw_ctx_t *ctx)
{
    return ctx->decided || ctx->stage >= NGX_HTTP_LLMGW_STAGE_LIMITS;
}


/* the first of names present as a top-level claim, or empty */

static ngx_int_t
ngx_http_llmgw_first_claim(ngx_http_request_t *r, json_t *claims,
    ngx_str_t *names, ngx_str_t *value)
{
    ngx_int_t                    rc;
    ngx_http_llmgw_claim_path_t  path;

    for ( /* void */ ; names->len; names++) {
        ngx_http_llmgw_claim_path_single(&path, names);

        rc = ngx_http_llmgw_claim_text(r->pool, claims, &path, value);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    ngx_str_null(value);

    return NGX_OK;
}


/*
 * The jti as its SHA-256 in hex, once a request: the audit may name a
 * token without anything that could be replayed or looked up elsewhere.
 * Empty when the token has no jti (or one that is not a string).
 */

static ngx_int_t
ngx_http_llmgw_jti_hash(ngx_http_request_t *r, ngx_http_llmgw_ctx_t *ctx)
{
    u_char      *p;
    json_t      *jti;
    const char  *text;
    u_char       hash[NGX_HTTP_LLMGW_SHA256_LEN];

    if (ctx->jti_done) {
        return NGX_OK;
    }

    jti = json_object_getn(ctx->claims,
                           (const char *) ngx_http_llmgw_jti_claim.data,
                           ngx_http_llmgw_jti_claim.len);

    if (json_is_string(jti)) {
        text = json_string_value(jti);

        if (ngx_http_llmgw_sha256((u_char *) text, json_string_length(jti),
                                  hash)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = ngx_pnalloc(r->pool, NGX_HTTP_LLMGW_JTI_HASH_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_hex_dump(p, hash, NGX_HTTP_LLMGW_SHA256_LEN);

        ctx->jti_hash.data = p;
        ctx->jti_hash.len = NGX_HTTP_LLMGW_JTI_HASH_LEN;
    }

    ctx->jti_done = 1;

    return NGX_OK;
}


/* variables */

ngx_int_t
ngx_http_llmgw_variable_set(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->data = data;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* a string of a result: not found when absent */

static ngx_int_t
ngx_http_llmgw_str_variable(ngx_http_variable_value_t *v, ngx_str_t *value)
{
    if (value->data == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llmgw_variable_set(v, value->data, value->len);
}


static ngx_int_t
ngx_http_llmgw_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_llmgw_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* a field of the access result, data NGX_HTTP_LLMGW_VAR_* */

static ngx_int_t
ngx_http_llmgw_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                          *p;
    ngx_str_t                        list;
    ngx_http_llmgw_access_result_t   res;

    if (ngx_http_llmgw_access_result(r, &res) != NGX_OK) {
        return NGX_ERROR;
    }

    switch (data) {

    case NGX_HTTP_LLMGW_VAR_SUB:
        return ngx_http_llmgw_str_variable(v, &res.sub);

    case NGX_HTTP_LLMGW_VAR_CLIENT_ID:
        return ngx_http_llmgw_str_variable(v, &res.client_id);

    case NGX_HTTP_LLMGW_VAR_JTI_HASH:
        return ngx_http_llmgw_str_variable(v, &res.jti_hash);

    case NGX_HTTP_LLMGW_VAR_DECISION:

        if (res.decision == NGX_HTTP_LLMGW_DECISION_ALLOWED) {
            return ngx_http_llmgw_variable_set(v, (u_char *) "allowed",
                                               sizeof("allowed") - 1);
        }

        if (res.decision == NGX_HTTP_LLMGW_DECISION_DENIED) {
            return ngx_http_llmgw_variable_set(v, (u_char *) "denied",
                                               sizeof("denied") - 1);
        }

        break;

    case NGX_HTTP_LLMGW_VAR_REASON:
        return ngx_http_llmgw_str_variable(v, &res.reason);

    case NGX_HTTP_LLMGW_VAR_STATUS:

        if (res.status == 0) {
            break;
        }

        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        return ngx_http_llmgw_variable_set(v, p,
                                           ngx_sprintf(p, "%ui", res.status)
                                           - p);

    case NGX_HTTP_LLMGW_VAR_BINDING:
        return ngx_http_llmgw_str_variable(v, &res.binding);

    case NGX_HTTP_LLMGW_VAR_CACHE:

        if (!res.verified) {
            break;
        }

        if (res.cache_hit) {
            return ngx_http_llmgw_variable_set(v, (u_char *) "HIT",
                                               sizeof("HIT") - 1);
        }

        return ngx_http_llmgw_variable_set(v, (u_char *) "MISS",
                                           sizeof("MISS") - 1);

    case NGX_HTTP_LLMGW_VAR_FAILED:

        if (res.failed == NULL) {
            break;
        }

        if (ngx_http_llmgw_scope_list(r->pool, res.failed, &list) != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_llmgw_variable_set(v, list.data, list.len);
    }

    v->not_found = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *var = (ngx_str_t *) data;

    ngx_str_t                    name;
    ngx_http_llmgw_claim_path_t  path;

    name.data = var->data + sizeof("llmgw_claim_") - 1;
    name.len = var->len - (sizeof("llmgw_claim_") - 1);

    ngx_http_llmgw_claim_path_single(&path, &name);

    return ngx_http_llmgw_claim_value(r, v, &path);
}


/* a variable of "llmgw_claim_variable": data is its parsed claim path */

static ngx_int_t
ngx_http_llmgw_claim_path_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    return ngx_http_llmgw_claim_value(r, v,
                                      (ngx_http_llmgw_claim_path_t *) data);
}


/* a claim of a token that verified, whatever the verdict on its scope */

static ngx_int_t
ngx_http_llmgw_claim_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_http_llmgw_claim_path_t *path)
{
    ngx_int_t  rc;
    ngx_str_t  value;

    rc = ngx_http_llmgw_access_claim(r, path, &value);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llmgw_variable_set(v, value.data, value.len);
}


static ngx_int_t
ngx_http_llmgw_scopes_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                          *p, *start;
    size_t                           len;
    ngx_str_t                       *g;
    ngx_uint_t                       i;
    ngx_http_llmgw_access_result_t   res;

    if (ngx_http_llmgw_access_result(r, &res) != NGX_OK) {
        return NGX_ERROR;
    }

    if (res.granted == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    g = res.granted->elts;
    len = 0;

    for (i = 0; i < res.granted->nelts; i++) {
        len += g[i].len + 1;
    }

    start = ngx_pnalloc(r->pool, len);
    if (start == NULL) {
        return NGX_ERROR;
    }

    p = start;

    for (i = 0; i < res.granted->nelts; i++) {
        if (i) {
            *p++ = ' ';
        }

        p = ngx_cpymem(p, g[i].data, g[i].len);
    }

    return ngx_http_llmgw_variable_set(v, start, p - start);
}


/* configuration */

static void *
ngx_http_llmgw_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_llmgw_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->scopes.scopes = { NULL };
     *     mcf->cache_zone = NULL;
     *     mcf->jwks_zones = NULL;
     *     mcf->redis = NULL;
     *     mcf->state_zone = NULL;
     *     mcf->state_file = { 0, NULL };
     *     mcf->users = NULL;
     */

    mcf->users_utc_offset = NGX_CONF_UNSET;
    mcf->realip_index = NGX_ERROR;

    /* a reload makes a new key: older nonces get use_dpop_nonce once */

    if (RAND_bytes(mcf->dpop_nonce_key, NGX_HTTP_LLMGW_DPOP_NONCE_KEY_LEN)
        != 1)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "RAND_bytes() failed");
        return NULL;
    }

    return mcf;
}


static void *
ngx_http_llmgw_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_llmgw_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->required_scopes = NULL;
     *     conf->realm = { 0, NULL };
     *     conf->scope_source.prefix = { 0, NULL };
     */

    conf->auth = NGX_CONF_UNSET_UINT;
    conf->token_headers = NGX_CONF_UNSET_PTR;
    conf->algs = NGX_CONF_UNSET_UINT;
    conf->keys = NGX_CONF_UNSET_PTR;
    conf->jwks = NGX_CONF_UNSET_PTR;
    conf->issuers = NGX_CONF_UNSET_PTR;
    conf->audiences = NGX_CONF_UNSET_PTR;
    conf->claims.audience_claims = NGX_CONF_UNSET_PTR;
    conf->claims.typs = NGX_CONF_UNSET_PTR;
    conf->claims.checks = NGX_CONF_UNSET_PTR;
    conf->claims.amr = NGX_CONF_UNSET_PTR;
    conf->claims.leeway = NGX_CONF_UNSET;
    conf->claims.require_exp = NGX_CONF_UNSET;
    conf->max_token_size = NGX_CONF_UNSET_SIZE;
    conf->scope_names = NGX_CONF_UNSET_PTR;
    conf->scope_source.claims = NGX_CONF_UNSET_PTR;
    conf->api_scopes = NGX_CONF_UNSET_PTR;
    conf->api_unknown = NGX_CONF_UNSET_UINT;
    conf->cache = NGX_CONF_UNSET;
    conf->state = NGX_CONF_UNSET;
    conf->client_ceiling = NGX_CONF_UNSET;
    conf->user_claim = NGX_CONF_UNSET_PTR;
    conf->unknown_user = NGX_CONF_UNSET_UINT;
    conf->limits = NGX_CONF_UNSET_PTR;
    conf->limit_headers = NGX_CONF_UNSET_UINT;
    conf->dpop = NGX_CONF_UNSET_UINT;
    conf->dpop_algs = NGX_CONF_UNSET_UINT;
    conf->dpop_window = NGX_CONF_UNSET;
    conf->dpop_nonce = NGX_CONF_UNSET;
    conf->cert_binding = NGX_CONF_UNSET_UINT;
    conf->cert_proxies = NGX_CONF_UNSET_PTR;
    conf->fapi = NGX_CONF_UNSET;
    conf->metadata_url = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_llmgw_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_llmgw_loc_conf_t *prev = parent;
    ngx_http_llmgw_loc_conf_t *conf = child;

    ngx_array_t  *a;

    ngx_conf_merge_uint_value(conf->auth, prev->auth,
                              NGX_HTTP_LLMGW_AUTH_OFF);

    if (conf->token_headers == NGX_CONF_UNSET_PTR) {
        if (prev->token_headers == NGX_CONF_UNSET_PTR) {
            a = ngx_array_create(cf->pool, 1, sizeof(ngx_str_t));
            if (a == NULL) {
                return NGX_CONF_ERROR;
            }

            *(ngx_str_t *) ngx_array_push(a) = ngx_http_llmgw_default_header;
            prev->token_headers = a;
        }

        conf->token_headers = prev->token_headers;
    }

    ngx_conf_merge_uint_value(conf->algs, prev->algs,
                              NGX_HTTP_LLMGW_ALGS_ALL);
    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_ptr_value(conf->jwks, prev->jwks, NULL);
    ngx_conf_merge_ptr_value(conf->issuers, prev->issuers,
                             NGX_CONF_UNSET_PTR);
    ngx_conf_merge_ptr_value(conf->audiences, prev->audiences,
                             NGX_CONF_UNSET_PTR);
    ngx_conf_merge_ptr_value(conf->claims.audience_claims,
                             prev->claims.audience_claims, NULL);
    ngx_conf_merge_ptr_value(conf->claims.typs, prev->claims.typs, NULL);

    if (ngx_http_llmgw_merge_checks(cf, conf, prev) != NGX_OK) {
        return NGX_CONF_ERROR;
    }
    ngx_conf_merge_ptr_value(conf->claims.amr, prev->claims.amr, NULL);
    ngx_conf_merge_sec_value(conf->claims.leeway, prev->claims.leeway, 0);
    ngx_conf_merge_value(conf->claims.require_exp, prev->claims.require_exp,
                         1);
    ngx_conf_merge_size_value(conf->max_token_size, prev->max_token_size,
                              8192);
    ngx_conf_merge_ptr_value(conf->scope_names, prev->scope_names, NULL);
    ngx_conf_merge_ptr_value(conf->api_scopes, prev->api_scopes, NULL);
    ngx_conf_merge_uint_value(conf->api_unknown, prev->api_unknown,
                              NGX_HTTP_LLMGW_API_DENY);
    ngx_conf_merge_str_value(conf->scope_source.prefix,
                             prev->scope_source.prefix, "");
    ngx_conf_merge_value(conf->cache, prev->cache, 1);
    ngx_conf_merge_str_value(conf->realm, prev->realm, "llmgw");
    ngx_conf_merge_value(conf->state, prev->state, 1);
    ngx_conf_merge_value(conf->client_ceiling, prev->client_ceiling, 1);
    ngx_conf_merge_ptr_value(conf->user_claim, prev->user_claim, NULL);

    /* left unset: the state stage decides by whether a directory is in */
    if (conf->unknown_user == NGX_CONF_UNSET_UINT) {
        conf->unknown_user = prev->unknown_user;
    }

    ngx_conf_merge_uint_value(conf->limit_headers, prev->limit_headers,
                              NGX_HTTP_LLMGW_LIMIT_HEADERS_ON);
    ngx_conf_merge_uint_value(conf->cert_binding, prev->cert_binding,
                              NGX_HTTP_LLMGW_BINDING_OPTIONAL);
    ngx_conf_merge_ptr_value(conf->cert_proxies, prev->cert_proxies, NULL);
    ngx_conf_merge_value(conf->fapi, prev->fapi, 0);

    if (conf->fapi && ngx_http_llmgw_merge_fapi(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llmgw_merge_limits(cf, conf, prev) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llmgw_merge_dpop(cf, conf, prev) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->scope_source.claims == NGX_CONF_UNSET_PTR) {
        if (prev->scope_source.claims == NGX_CONF_UNSET_PTR) {
            prev->scope_source.claims = ngx_http_llmgw_default_scope_claims(cf);
            if (prev->scope_source.claims == NULL) {
                return NGX_CONF_ERROR;
            }
        }

        conf->scope_source.claims = prev->scope_source.claims;
    }

    if (conf->max_token_size > NGX_HTTP_LLMGW_JWS_MAX_LEN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_jwt_max_size\" must not exceed %uz",
                           (size_t) NGX_HTTP_LLMGW_JWS_MAX_LEN);
        return NGX_CONF_ERROR;
    }

    if (conf->auth == NGX_HTTP_LLMGW_AUTH_JWT
        && conf->keys == NULL && conf->jwks == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_auth jwt\" needs keys: add "
                           "\"llmgw_jwt_keys\" or \"llmgw_jwt_jwks\"");
        return NGX_CONF_ERROR;
    }

    /*
     * RFC 9068 section 4 and RFC 8725 sections 3.8-3.9: a resource server
     * checks both; accepting any issuer or audience must be said.
     */

    if (conf->auth == NGX_HTTP_LLMGW_AUTH_JWT
        && conf->issuers == NGX_CONF_UNSET_PTR)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_auth jwt\" needs \"llmgw_jwt_issuer\": "
                           "the issuers accepted, or \"any\"");
        return NGX_CONF_ERROR;
    }

    if (conf->auth == NGX_HTTP_LLMGW_AUTH_JWT
        && conf->audiences == NGX_CONF_UNSET_PTR)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_auth jwt\" needs \"llmgw_jwt_audience\": "
                           "the audiences accepted, or \"any\"");
        return NGX_CONF_ERROR;
    }

    conf->claims.issuers = (conf->issuers == NGX_CONF_UNSET_PTR)
                           ? NULL : conf->issuers;
    conf->claims.audiences = (conf->audiences == NGX_CONF_UNSET_PTR)
                             ? NULL : conf->audiences;

    ngx_conf_merge_ptr_value(conf->metadata_url, prev->metadata_url, NULL);

    if (ngx_http_llmgw_merge_scopes(cf, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * last: the document says what the merge above decided, the binding
     * as the location's DPoP and certificate directives (inherited from
     * the server where they are set for all its locations) require it
     */

    conf->binding.dpop_algs = (conf->dpop == NGX_HTTP_LLMGW_DPOP_OFF)
                              ? 0 : conf->dpop_algs;
    conf->binding.dpop_required = (conf->dpop
                                   == NGX_HTTP_LLMGW_DPOP_REQUIRED);
    conf->binding.cert_bound = (conf->cert_binding
                                == NGX_HTTP_LLMGW_BINDING_REQUIRED);

    return ngx_http_llmgw_merge_metadata(cf, conf);
}


/*
 * The protected-resource metadata of a location with
 * llmgw_resource_metadata, rendered once: the issuers the location
 * accepts are its authorization servers, the scope tree its scopes, the
 * binding what the DPoP and mTLS directives set.  The document is public
 * (RFC 9728 section 3): llmgw_auth is off where it is served.
 */

static char *
ngx_http_llmgw_merge_metadata(ngx_conf_t *cf, ngx_http_llmgw_loc_conf_t *conf)
{
    ngx_str_t                   *name;
    ngx_uint_t                   i;
    ngx_http_llmgw_scope_t      *scope;
    ngx_http_llmgw_metadata_t    md;
    ngx_http_llmgw_main_conf_t  *mcf;

    if (conf->resource.len == 0) {
        return NGX_CONF_OK;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llmgw_module);

    ngx_memzero(&md, sizeof(ngx_http_llmgw_metadata_t));

    md.resource = conf->resource;
    md.servers = conf->claims.issuers;
    md.cert_bound = conf->binding.cert_bound;
    md.dpop_required = conf->binding.dpop_required;

    if (mcf->scopes.scopes.elts) {
        md.scopes = ngx_array_create(cf->pool, mcf->scopes.scopes.nelts,
                                     sizeof(ngx_str_t));
        if (md.scopes == NULL) {
            return NGX_CONF_ERROR;
        }

        scope = mcf->scopes.scopes.elts;

        for (i = 0; i < mcf->scopes.scopes.nelts; i++) {
            name = ngx_array_push(md.scopes);
            if (name == NULL) {
                return NGX_CONF_ERROR;
            }

            *name = scope[i].name;
        }
    }

    if (conf->binding.dpop_algs) {
        md.dpop_algs = ngx_array_create(cf->pool, NGX_HTTP_LLMGW_ALG_COUNT,
                                        sizeof(ngx_str_t));
        if (md.dpop_algs == NULL) {
            return NGX_CONF_ERROR;
        }

        for (i = 0; i < NGX_HTTP_LLMGW_ALG_COUNT; i++) {
            if (!(conf->binding.dpop_algs & NGX_HTTP_LLMGW_ALG_BIT(i))) {
                continue;
            }

            name = ngx_array_push(md.dpop_algs);
            if (name == NULL) {
                return NGX_CONF_ERROR;
            }

            *name = *ngx_http_llmgw_alg_name(i);
        }
    }

    if (ngx_http_llmgw_metadata_document(cf->pool, &md, &conf->metadata)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the resource metadata document of \"%V\" "
                           "could not be made", &conf->resource);
        return NGX_CONF_ERROR;
    }

    conf->auth = NGX_HTTP_LLMGW_AUTH_OFF;

    return NGX_CONF_OK;
}


/*
 * llmgw_dpop and its companions: the algorithms' names for algs="...",
 * the external origin normalised once, and the replay zone that any
 * location checking proofs needs.
 */

static ngx_int_t
ngx_http_llmgw_merge_dpop(ngx_conf_t *cf, ngx_http_llmgw_loc_conf_t *conf,
    ngx_http_llmgw_loc_conf_t *prev)
{
    u_char                      *p;
    ngx_str_t                   *name;
    ngx_uint_t                   alg;
    ngx_http_llmgw_main_conf_t  *mcf;

    ngx_conf_merge_uint_value(conf->dpop, prev->dpop, NGX_HTTP_LLMGW_DPOP_OFF);
    ngx_conf_merge_uint_value(conf->dpop_algs, prev->dpop_algs,
                              NGX_HTTP_LLMGW_DPOP_ALGS);
    ngx_conf_merge_sec_value(conf->dpop_window, prev->dpop_window, 60);
    ngx_conf_merge_sec_value(conf->dpop_nonce, prev->dpop_nonce, 0);
    ngx_conf_merge_str_value(conf->dpop_url, prev->dpop_url, "");

    if (conf->dpop_algs == prev->dpop_algs && prev->dpop_algs_text.len) {
        conf->dpop_algs_text = prev->dpop_algs_text;

    } else {
        p = ngx_pnalloc(cf->pool, NGX_HTTP_LLMGW_ALG_COUNT * 6);
        if (p == NULL) {
            return NGX_ERROR;
        }

        conf->dpop_algs_text.data = p;

        for (alg = 0; alg < NGX_HTTP_LLMGW_ALG_COUNT; alg++) {
            if (!(conf->dpop_algs & NGX_HTTP_LLMGW_ALG_BIT(alg))) {
                continue;
            }

            if (p != conf->dpop_algs_text.data) {
                *p++ = ' ';
            }

            name = ngx_http_llmgw_alg_name(alg);
            p = ngx_cpymem(p, name->data, name->len);
        }

        conf->dpop_algs_text.len = p - conf->dpop_algs_text.data;
    }

    if (conf->dpop != NGX_HTTP_LLMGW_DPOP_OFF) {
        mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llmgw_module);

        if (mcf->dpop_zone == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"llmgw_dpop\" needs \"llmgw_dpop_zone\": "
                               "the replay cache of proofs");
            return NGX_ERROR;
        }

        /*
         * one zone serves every location: a proof refused as replayed in
         * one must be refused in all that accept its htu, so the zone
         * remembers it as long as the longest window accepts its iat
         */

        if (conf->dpop_window > mcf->dpop_window_max) {
            mcf->dpop_window_max = conf->dpop_window;
        }
    }

    return NGX_OK;
}


/* "llmgw_dpop_nonce off | lifetime" */

static char *
ngx_http_llmgw_set_dpop_nonce(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_loc_conf_t *llcf = conf;

    ngx_str_t  *value;

    if (llcf->dpop_nonce != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        llcf->dpop_nonce = 0;
        return NGX_CONF_OK;
    }

    llcf->dpop_nonce = ngx_parse_time(&value[1], 1);

    if (llcf->dpop_nonce == (time_t) NGX_ERROR || llcf->dpop_nonce < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"llmgw_dpop_nonce\" \"%V\": expected "
                           "\"off\" or a lifetime", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}



/*
 * "llmgw_dpop_url http(s)://host[:port]": the origin clients see behind a
 * proxy, normalised now as every htu is, kept without its "/"
 */

static char *
ngx_http_llmgw_set_dpop_url(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_loc_conf_t *llcf = conf;

    u_char     *slash;
    ngx_str_t  *value, url;

    if (llcf->dpop_url.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strlchr(value[1].data, value[1].data + value[1].len, '?') != NULL
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, '#')
           != NULL
        || ngx_http_llmgw_dpop_normalize_url(cf->pool, &value[1], &url)
           != NGX_OK)
    {
        goto invalid;
    }

    /* the first '/' after "scheme://" must be the path's only one */

    slash = ngx_strlchr(url.data, url.data + url.len, ':') + 3;
    slash = ngx_strlchr(slash, url.data + url.len, '/');

    if (slash != url.data + url.len - 1) {
        goto invalid;
    }

    url.len--;
    llcf->dpop_url = url;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"llmgw_dpop_url\" \"%V\": expected "
                       "http(s)://host[:port]", &value[1]);

    return NGX_CONF_ERROR;
}


/*
 * llmgw_dpop_zone NAME:SIZE [redis [timeout=TIME] [down=open|closed]];
 * with "redis" a proof the zone has not seen is also checked in Redis,
 * for the nodes sharing it (llmgw_redis, checked at postconfiguration)
 */

static char *
ngx_http_llmgw_set_dpop_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_main_conf_t *mcf = conf;

    char       *rv;
    ngx_str_t  *value;

    value = cf->args->elts;

    if (cf->args->nelts > 2
        && (value[2].len != 5 || ngx_strncmp(value[2].data, "redis", 5) != 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw_dpop_zone: invalid parameter \"%V\" "
                           "(\"redis\" expected)", &value[2]);
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_llmgw_replay_zone(cf, cmd, conf);

    if (rv != NGX_CONF_OK || cf->args->nelts == 2) {
        return rv;
    }

    mcf->dpop_redis = ngx_http_llmgw_replay_redis_conf(cf, &value[3],
                                                       cf->args->nelts - 3);

    return (mcf->dpop_redis != NULL) ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/*
 * "llmgw_dpop_nonce_secret file=PATH | env=NAME": the nonces' key, shared
 * by the nodes of one gateway (a nonce one gave is good at the others)
 * and kept across reloads; its SHA-256, whatever the secret's length
 */

static char *
ngx_http_llmgw_set_dpop_nonce_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llmgw_main_conf_t *mcf = conf;

    ngx_str_t  *value, secret;

    if (mcf->dpop_nonce_secret) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_llmgw_secret_load(cf, &value[1], &secret) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llmgw_sha256(secret.data, secret.len, mcf->dpop_nonce_key)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_explicit_memzero(secret.data, secret.len);
    mcf->dpop_nonce_secret = 1;

    return NGX_CONF_OK;
}


/*
 * Claim checks add up across levels, unlike nginx's list directives: a
 * location that adds "llmgw_jwt_require_claim sub" inside a server that
 * includes an IdP recipe must not lose the recipe's "token_use access",
 * which keeps ID tokens out.  A check only ever refuses more.
 */

static ngx_int_t
ngx_http_llmgw_merge_checks(ngx_conf_t *cf, ngx_http_llmgw_loc_conf_t *conf,
    ngx_http_llmgw_loc_conf_t *prev)
{
    ngx_array_t  *a, *outer;

    outer = (prev->claims.checks == NGX_CONF_UNSET_PTR) ? NULL
                                                        : prev->claims.checks;

    if (conf->claims.checks == NGX_CONF_UNSET_PTR) {
        conf->claims.checks = outer;
        return NGX_OK;
    }

    if (outer == NULL || outer->nelts == 0) {
        return NGX_OK;
    }

    a = ngx_array_create(cf->pool, outer->nelts + conf->claims.checks->nelts,
                         sizeof(ngx_http_llmgw_claim_check_t));
    if (a == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_array_push_n(a, outer->nelts), outer->elts,
               outer->nelts * sizeof(ngx_http_llmgw_claim_check_t));
    ngx_memcpy(ngx_array_push_n(a, conf->claims.checks->nelts),
               conf->claims.checks->elts,
               conf->claims.checks->nelts
               * sizeof(ngx_http_llmgw_claim_check_t));

    conf->claims.checks = a;

    return NGX_OK;
}


/*
 * llmgw_fapi (FAPI 2.0 Security Profile): PS256, ES256 and EdDSA only,
 * of those the location allows; the token only from Authorization
 * (llmgw_token_header's other headers are not read); a sender-constrained
 * token, which ngx_http_llmgw_stage_binding() requires.
 */

static ngx_int_t
ngx_http_llmgw_merge_fapi(ngx_conf_t *cf, ngx_http_llmgw_loc_conf_t *conf)
{
    ngx_str_t    *name;
    ngx_array_t  *a;

    conf->algs &= NGX_HTTP_LLMGW_ALGS_FAPI;

    if (conf->algs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_fapi on\" allows PS256, ES256 and EdDSA "
                           "only, and \"llmgw_jwt_algorithms\" lists none "
                           "of them");
        return NGX_ERROR;
    }

    a = ngx_array_create(cf->pool, 1, sizeof(ngx_str_t));
    if (a == NULL) {
        return NGX_ERROR;
    }

    name = ngx_array_push(a);
    *name = ngx_http_llmgw_default_header;

    conf->token_headers = a;

    return NGX_OK;
}


/*
 * Limits add up across levels as claim checks do: a location's own
 * limit must not drop the server's daily quota.  The same limit twice in
 * one chain would count each request twice, and is refused.  Limits run
 * in llmgw's access check, so a level that declares one needs llmgw_auth.
 */

static ngx_int_t
ngx_http_llmgw_merge_limits(ngx_conf_t *cf, ngx_http_llmgw_loc_conf_t *conf,
    ngx_http_llmgw_loc_conf_t *prev)
{
    ngx_uint_t                i, j;
    ngx_array_t              *a, *outer;
    ngx_http_llmgw_limit_t  **own, **out;

    outer = (prev->limits == NGX_CONF_UNSET_PTR) ? NULL : prev->limits;

    if (conf->limits == NGX_CONF_UNSET_PTR) {
        conf->limits = outer;

        /* an http block's limits are never merged as a child: made here */

        if (outer == NULL || prev->limit_policy.data != NULL) {
            conf->limit_policy = prev->limit_policy;
            return NGX_OK;
        }

        return ngx_http_llmgw_limit_policy(cf, conf);
    }

    if (conf->auth == NGX_HTTP_LLMGW_AUTH_OFF) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_limit\" needs \"llmgw_auth jwt\": "
                           "limits are checked after the token");
        return NGX_ERROR;
    }

    if (outer != NULL && outer->nelts) {
        own = conf->limits->elts;
        out = outer->elts;

        for (i = 0; i < conf->limits->nelts; i++) {
            for (j = 0; j < outer->nelts; j++) {
                if (own[i] == out[j]
                    || (own[i]->data == out[j]->data
                        && own[i]->name.len == out[j]->name.len
                        && ngx_strncmp(own[i]->name.data, out[j]->name.data,
                                       own[i]->name.len) == 0))
                {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "llmgw_limit \"%V\" is already "
                                       "declared at an outer level",
                                       &own[i]->name);
                    return NGX_ERROR;
                }
            }
        }

        a = ngx_array_create(cf->pool, outer->nelts + conf->limits->nelts,
                             sizeof(ngx_http_llmgw_limit_t *));
        if (a == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(ngx_array_push_n(a, outer->nelts), outer->elts,
                   outer->nelts * sizeof(ngx_http_llmgw_limit_t *));
        ngx_memcpy(ngx_array_push_n(a, conf->limits->nelts),
                   conf->limits->elts,
                   conf->limits->nelts * sizeof(ngx_http_llmgw_limit_t *));

        conf->limits = a;
    }

    return ngx_http_llmgw_limit_policy(cf, conf);
}


/* RateLimit-Policy: every limit's item, once */

static ngx_int_t
ngx_http_llmgw_limit_policy(ngx_conf_t *cf, ngx_http_llmgw_loc_conf_t *conf)
{
    u_char                   *p;
    size_t                    len;
    ngx_uint_t                i;
    ngx_http_llmgw_limit_t  **l;

    l = conf->limits->elts;
    len = 0;

    for (i = 0; i < conf->limits->nelts; i++) {
        len += l[i]->policy.len + 1;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    conf->limit_policy.data = p;

    for (i = 0; i < conf->limits->nelts; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, l[i]->policy.data, l[i]->policy.len);
    }

    conf->limit_policy.len = p - conf->limit_policy.data;

    return NGX_OK;
}


/*
 * Required scopes are resolved against the tree once, here: merging runs
 * after the whole http block is read, so the tree is complete.  API
 * scopes inherited from an outer level were resolved there.
 */

static char *
ngx_http_llmgw_merge_scopes(ngx_conf_t *cf, ngx_http_llmgw_loc_conf_t *conf)
{
    ngx_uint_t                   i;
    ngx_http_llmgw_api_scope_t  *as;

    if (conf->scope_names) {
        conf->required_scopes = ngx_http_llmgw_resolve_scopes(cf,
                                                           conf->scope_names);
        if (conf->required_scopes == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (conf->api_scopes == NULL) {
        return NGX_CONF_OK;
    }

    as = conf->api_scopes->elts;

    for (i = 0; i < conf->api_scopes->nelts; i++) {
        if (as[i].required) {
            continue;
        }

        as[i].required = ngx_http_llmgw_resolve_scopes(cf, as[i].names);
        if (as[i].required == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* scope names to their nodes of the tree (scope_t *); NULL on error */

static ngx_array_t *
ngx_http_llmgw_resolve_scopes(ngx_conf_t *cf, ngx_array_t *names)
{
    ngx_str_t                    *name;
    ngx_uint_t                    i;
    ngx_array_t                  *required;
    ngx_http_llmgw_scope_t       *scope, **req;
    ngx_http_llmgw_main_conf_t   *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llmgw_module);

    required = ngx_array_create(cf->pool, names->nelts,
                                sizeof(ngx_http_llmgw_scope_t *));
    if (required == NULL) {
        return NULL;
    }

    name = names->elts;

    for (i = 0; i < names->nelts; i++) {

        if (mcf->scopes.scopes.elts) {
            scope = ngx_http_llmgw_scope_find(&mcf->scopes, &name[i]);

            if (scope == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "scope \"%V\" is not in \"llmgw_scopes\"",
                                   &name[i]);
                return NULL;
            }

        } else {

            /* no hierarchy: a scope is satisfied by itself only */

            if (ngx_http_llmgw_scope_name_valid(&name[i]) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid character in scope \"%V\"",
                                   &name[i]);
                return NULL;
            }

            scope = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_scope_t));
            if (scope == NULL) {
                return NULL;
            }

            scope->name = name[i];

            if (ngx_array_init(&scope->satisfied_by, cf->pool, 1,
                               sizeof(ngx_str_t))
                != NGX_OK)
            {
                return NULL;
            }

            *(ngx_str_t *) ngx_array_push(&scope->satisfied_by) = name[i];
        }

        req = ngx_array_push(required);
        if (req == NULL) {
            return NULL;
        }

        *req = scope;
    }

    return required;
}


/*
 * Called by llmgw_pass's merge for the same location, once both modules'
 * confs are merged: the kinds of llmgw_api_scope must be kinds of the
 * location's provider, or they would silently never match.
 */

char *
ngx_http_llmgw_api_conf_check(ngx_conf_t *cf, ngx_http_llmgw_provider_t *pv)
{
    ngx_uint_t                   i;
    ngx_http_llmgw_loc_conf_t   *llcf;
    ngx_http_llmgw_api_scope_t  *as;

    llcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_llmgw_module);

    if (pv == NULL || llcf->api_scopes == NULL) {
        return NGX_CONF_OK;
    }

    as = llcf->api_scopes->elts;

    for (i = 0; i < llcf->api_scopes->nelts; i++) {
        if (!ngx_http_llmgw_provider_api_known(pv, &as[i].kind)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"llmgw_api_scope\": \"%V\" is not an API "
                               "of provider \"%V\"", &as[i].kind, &pv->name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* "scope" (RFC 8693, RFC 9068) and "scp" (Entra ID, Okta), no prefix */

static ngx_array_t *
ngx_http_llmgw_default_scope_claims(ngx_conf_t *cf)
{
    ngx_str_t                     *name;
    ngx_array_t                   *a;
    ngx_http_llmgw_scope_claim_t  *sc;

    a = ngx_array_create(cf->pool, 2, sizeof(ngx_http_llmgw_scope_claim_t));
    if (a == NULL) {
        return NULL;
    }

    for (name = ngx_http_llmgw_default_scope_claim_names; name->len; name++) {
        sc = ngx_array_push(a);
        if (sc == NULL) {
            return NULL;
        }

        ngx_memzero(sc, sizeof(ngx_http_llmgw_scope_claim_t));
        ngx_http_llmgw_claim_path_single(&sc->path, name);
    }

    return a;
}


static ngx_int_t
ngx_http_llmgw_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt         *h;
    ngx_http_core_main_conf_t   *cmcf;
    ngx_http_llmgw_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llmgw_module);

    if (ngx_http_llmgw_jwks_check(cf, mcf->jwks_zones) != NGX_OK) {
        return NGX_ERROR;
    }

    if (mcf->state_zone) {
        if (ngx_http_llmgw_account_configure(cf, mcf->state_zone,
                                             &mcf->state_file, mcf->users,
                                             mcf->users_utc_offset
                                             == NGX_CONF_UNSET
                                             ? 0 : mcf->users_utc_offset)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (mcf->state_redis && mcf->redis == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"llmgw_state_redis\" needs \"llmgw_redis\"");
            return NGX_ERROR;
        }

        if (mcf->state_redis
            && ngx_http_llmgw_state_within_conf(cf, mcf) != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (mcf->state_redis) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_state_redis\" needs "
                           "\"llmgw_state_zone\"");
        return NGX_ERROR;

    } else if (mcf->state_file.len || mcf->users) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" needs \"llmgw_state_zone\"",
                           mcf->users ? "llmgw_users" : "llmgw_state_file");
        return NGX_ERROR;
    }

    if (mcf->dpop_redis && mcf->redis == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw_dpop_zone \"%V\" is in Redis, but there "
                           "is no \"llmgw_redis\"",
                           &mcf->dpop_zone->shm.name);
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_limits_init(cf, mcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_clients_init(cf, mcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_mtls_init(cf->log) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * The TCP peer that sent a Client-Cert header: realip's
     * $realip_remote_addr when nginx has the realip module (it replaces
     * the connection's address before the access phase)
     */

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    if (ngx_http_llmgw_has_variable(cmcf, &ngx_http_llmgw_realip_var)) {
        mcf->realip_index = ngx_http_get_variable_index(cf,
                                                 &ngx_http_llmgw_realip_var);
        if (mcf->realip_index == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_llmgw_access_handler;

    /* budgets trued up to the usage, before the pool goes */

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_llmgw_limits_log_handler;

    /* below the error filter: a fetch's body never reaches the client */

    ngx_http_llmgw_jwks_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_llmgw_jwks_body_filter;

    /* the one error filter, for this module's denials and llmgw_pass's */

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_llmgw_error_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_llmgw_error_body_filter;

    return NGX_OK;
}


/*
 * on_stale=within:SCOPE: SCOPE must be in llmgw_scopes, which may come
 * after llmgw_state_redis in the http block; and the reason a refusal
 * gives names it.
 */

static ngx_int_t
ngx_http_llmgw_state_within_conf(ngx_conf_t *cf,
    ngx_http_llmgw_main_conf_t *mcf)
{
    u_char                       *p;
    size_t                        len;
    ngx_http_llmgw_state_conf_t  *scf;

    scf = mcf->state_redis;

    if (scf->on_stale != NGX_HTTP_LLMGW_STATE_WITHIN) {
        return NGX_OK;
    }

    scf->scope = ngx_http_llmgw_scope_find(&mcf->scopes, &scf->within);

    if (scf->scope == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"llmgw_state_redis\": on_stale=within:%V "
                           "names no scope of \"llmgw_scopes\"",
                           &scf->within);
        return NGX_ERROR;
    }

    len = sizeof("account state stale: only scopes within \"\" served")
          + scf->within.len;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(p, "account state stale: only scopes within \"%V\" "
                "served%Z", &scf->within);

    scf->reason = (char *) p;

    return NGX_OK;
}


/*
 * Whether a module declared the variable: ngx_http_get_variable_index()
 * would make an unknown one, and fail the configuration.
 */

static ngx_uint_t
ngx_http_llmgw_has_variable(ngx_http_core_main_conf_t *cmcf,
    ngx_str_t *name)
{
    ngx_uint_t       i;
    ngx_hash_key_t  *key;

    if (cmcf->variables_keys == NULL) {
        return 0;
    }

    key = cmcf->variables_keys->keys.elts;

    for (i = 0; i < cmcf->variables_keys->keys.nelts; i++) {
        if (key[i].key.len == name->len
            && ngx_strncmp(key[i].key.data, name->data, name->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * Once the whole http block is read: every zone a limit names was
 * declared (before or after it), and every quota counts its windows in
 * the one llmgw_limit_timezone (UTC when none is given).
 */

static ngx_int_t
ngx_http_llmgw_limits_init(ngx_conf_t *cf, ngx_http_llmgw_main_conf_t *mcf)
{
    ngx_uint_t                        i;
    ngx_shm_zone_t                   *shm_zone;
    ngx_http_llmgw_limit_t          **limit;
    ngx_http_llmgw_limit_tz_entry_t  *utc;

    if (mcf->limits == NULL) {
        return NGX_OK;
    }

    if (mcf->limit_tz == NULL) {
        mcf->limit_tz = ngx_pcalloc(cf->pool,
                                    sizeof(ngx_http_llmgw_limit_tz_t));
        utc = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_limit_tz_entry_t));

        if (mcf->limit_tz == NULL || utc == NULL) {
            return NGX_ERROR;
        }

        ngx_str_set(&mcf->limit_tz->name, "UTC");
        mcf->limit_tz->entries = utc;
        mcf->limit_tz->n = 1;
    }

    limit = mcf->limits->elts;

    for (i = 0; i < mcf->limits->nelts; i++) {
        shm_zone = limit[i]->data;

        if (!ngx_http_llmgw_limit_shm_declared(shm_zone)) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "llmgw_limit \"%V\": no \"llmgw_limit_zone\" "
                          "named \"%V\"", &limit[i]->name,
                          &shm_zone->shm.name);
            return NGX_ERROR;
        }

        limit[i]->tz = mcf->limit_tz;

        if (ngx_http_llmgw_limits_redis(cf, mcf, limit[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a limit in a zone declared with "redis" counts in Redis */

static ngx_int_t
ngx_http_llmgw_limits_redis(ngx_conf_t *cf, ngx_http_llmgw_main_conf_t *mcf,
    ngx_http_llmgw_limit_t *limit)
{
    ngx_uint_t                           i;
    ngx_http_llmgw_limit_redis_zone_t  **zone;

    if (mcf->limit_redis == NULL) {
        return NGX_OK;
    }

    zone = mcf->limit_redis->elts;

    for (i = 0; i < mcf->limit_redis->nelts; i++) {
        if (zone[i]->shm_zone != limit->data) {
            continue;
        }

        if (mcf->redis == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "llmgw_limit \"%V\": llmgw_limit_zone \"%V\" "
                          "is in Redis, but there is no \"llmgw_redis\"",
                          &limit->name, &zone[i]->shm_zone->shm.name);
            return NGX_ERROR;
        }

        return ngx_http_llmgw_limit_redis_init(cf, limit, zone[i]);
    }

    return NGX_OK;
}


static void
ngx_http_llmgw_exit(ngx_cycle_t *cycle)
{
    ngx_http_llmgw_dpop_keys_cleanup();
    ngx_http_llmgw_jws_cleanup();
}


/* a worker's own Redis connection (helper processes have none) */

static ngx_int_t
ngx_http_llmgw_init_process(ngx_cycle_t *cycle)
{
    ngx_http_llmgw_main_conf_t  *mcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_llmgw_module);

    if (mcf == NULL) {
        return NGX_OK;
    }

    if (mcf->redis
        && ngx_http_llmgw_redis_init_process(cycle, mcf->redis) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_llmgw_state_init_process(cycle, mcf->state_zone,
                                             mcf->state_redis);
}


static void
ngx_http_llmgw_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_llmgw_state_exit_process();
    ngx_http_llmgw_redis_exit_process();
    ngx_http_llmgw_exit(cycle);
}


/* directive setters */

static char *
ngx_http_llmgw_scopes_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_main_conf_t *mcf = conf;

    return ngx_http_llmgw_scope_tree_block(cf, &mcf->scopes);
}


/* every argument appended to a list; the directive may be repeated */

static char *
ngx_http_llmgw_set_str_list(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t     *value, *s;
    ngx_uint_t     i;
    ngx_array_t  **a;

    a = (ngx_array_t **) (p + cmd->offset);

    if (*a == NGX_CONF_UNSET_PTR) {
        *a = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (*a == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty value in \"%V\"", &cmd->name);
            return NGX_CONF_ERROR;
        }

        s = ngx_array_push(*a);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


/*
 * "llmgw_jwt_issuer any | VALUE ...", "llmgw_jwt_audience" alike: NULL is
 * "any", said alone; values may be added by repeating the directive.
 */

static char *
ngx_http_llmgw_set_any_list(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t     *value;
    ngx_uint_t     i;
    ngx_array_t  **a;

    a = (ngx_array_t **) (p + cmd->offset);
    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 3 && ngx_strncmp(value[i].data, "any", 3) == 0) {
            break;
        }
    }

    if (i == cf->args->nelts) {
        if (*a == NULL) {
            return "cannot add values to \"any\"";
        }

        return ngx_http_llmgw_set_str_list(cf, cmd, conf);
    }

    if (*a == NULL) {
        return "is duplicate";
    }

    if (cf->args->nelts != 2 || *a != NGX_CONF_UNSET_PTR) {
        return "takes \"any\" alone";
    }

    *a = NULL;

    return NGX_CONF_OK;
}


/* stored normalized, as the token's typ is compared */

static char *
ngx_http_llmgw_set_typ(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_loc_conf_t *llcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    if (ngx_http_llmgw_set_str_list(cf, cmd, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    value = llcf->claims.typs->elts;

    for (i = 0; i < llcf->claims.typs->nelts; i++) {
        ngx_http_llmgw_typ_normalize(&value[i]);
    }

    return NGX_CONF_OK;
}


/* a claim path of the configuration; nginx -t names what is wrong */

static ngx_int_t
ngx_http_llmgw_claim_path(ngx_conf_t *cf, ngx_str_t *text,
    ngx_http_llmgw_claim_path_t *path)
{
    ngx_int_t    rc;
    const char  *err;

    rc = ngx_http_llmgw_claim_path_parse(cf->pool, text, path, &err);

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid claim path \"%V\": it %s", text, err);
    }

    return rc;
}


/* "llmgw_jwt_audience_claim PATH ...": claim paths appended to a list */

static char *
ngx_http_llmgw_set_claim_paths(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t                    *value;
    ngx_uint_t                    i;
    ngx_array_t                 **a;
    ngx_http_llmgw_claim_path_t  *path;

    a = (ngx_array_t **) (p + cmd->offset);

    if (*a == NGX_CONF_UNSET_PTR) {
        *a = ngx_array_create(cf->pool, 2,
                              sizeof(ngx_http_llmgw_claim_path_t));
        if (*a == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        path = ngx_array_push(*a);
        if (path == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_http_llmgw_claim_path(cf, &value[i], path) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * "llmgw_jwt_require_claim PATH ..." (cmd->offset 0: each path a presence
 * check) and "llmgw_jwt_claim PATH VALUE ..." (1: one check, any of the
 * values); both add to the location's one list of checks.
 */

static char *
ngx_http_llmgw_set_claim_check(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llmgw_loc_conf_t *llcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    value = cf->args->elts;

    if (cmd->offset) {
        if (ngx_http_llmgw_push_check(cf, llcf, &value[1], &value[2],
                                      cf->args->nelts - 2)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_http_llmgw_push_check(cf, llcf, &value[i], NULL, 0)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_llmgw_push_check(ngx_conf_t *cf, ngx_http_llmgw_loc_conf_t *llcf,
    ngx_str_t *path, ngx_str_t *values, ngx_uint_t nvalues)
{
    ngx_str_t                     *v;
    ngx_http_llmgw_claim_check_t  *check;

    if (llcf->claims.checks == NGX_CONF_UNSET_PTR) {
        llcf->claims.checks = ngx_array_create(cf->pool, 2,
                                         sizeof(ngx_http_llmgw_claim_check_t));
        if (llcf->claims.checks == NULL) {
            return NGX_ERROR;
        }
    }

    check = ngx_array_push(llcf->claims.checks);
    if (check == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(check, sizeof(ngx_http_llmgw_claim_check_t));

    if (ngx_http_llmgw_claim_path(cf, path, &check->path) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_array_init(&check->values, cf->pool, nvalues ? nvalues : 1,
                       sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (nvalues) {
        v = ngx_array_push_n(&check->values, nvalues);
        if (v == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(v, values, nvalues * sizeof(ngx_str_t));
    }

    return ngx_http_llmgw_claim_check_init(cf->pool, check);
}


/*
 * "llmgw_scope_claim PATH ... [prefix=PREFIX]": the prefix applies to the
 * claims of this line only (Cognito's "scope" carries the resource
 * server's, its "cognito:groups" none); "prefix=" alone says "none".
 */

static char *
ngx_http_llmgw_set_scope_claim(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llmgw_loc_conf_t *llcf = conf;

    ngx_str_t                     *value, prefix;
    ngx_uint_t                     i, n, own;
    ngx_http_llmgw_scope_claim_t  *sc;

    value = cf->args->elts;
    n = cf->args->nelts;
    own = 0;
    ngx_str_null(&prefix);

    if (value[n - 1].len >= sizeof("prefix=") - 1
        && ngx_strncmp(value[n - 1].data, "prefix=", sizeof("prefix=") - 1)
           == 0)
    {
        own = 1;
        prefix.data = value[n - 1].data + sizeof("prefix=") - 1;
        prefix.len = value[n - 1].len - (sizeof("prefix=") - 1);
        n--;

        if (n == 1) {
            return "names no claim";
        }
    }

    if (llcf->scope_source.claims == NGX_CONF_UNSET_PTR) {
        llcf->scope_source.claims = ngx_array_create(cf->pool, 2,
                                         sizeof(ngx_http_llmgw_scope_claim_t));
        if (llcf->scope_source.claims == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    for (i = 1; i < n; i++) {
        sc = ngx_array_push(llcf->scope_source.claims);
        if (sc == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(sc, sizeof(ngx_http_llmgw_scope_claim_t));

        if (ngx_http_llmgw_claim_path(cf, &value[i], &sc->path) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        sc->prefix = prefix;
        sc->own_prefix = own;
    }

    return NGX_CONF_OK;
}


/*
 * "llmgw_api_scope KIND[,KIND...] SCOPE ...": requests of these API kinds
 * need one of the scopes.  Kinds are checked against every provider's
 * here, against the location's provider by llmgw_pass's merge.
 */

static char *
ngx_http_llmgw_set_api_scope(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_loc_conf_t *llcf = conf;

    u_char                      *p, *last, *start;
    ngx_str_t                   *value, kind;
    ngx_uint_t                   i;
    ngx_array_t                 *names;
    ngx_http_llmgw_api_scope_t  *as;

    value = cf->args->elts;

    if (llcf->api_scopes == NGX_CONF_UNSET_PTR) {
        llcf->api_scopes = ngx_array_create(cf->pool, 8,
                                           sizeof(ngx_http_llmgw_api_scope_t));
        if (llcf->api_scopes == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    names = ngx_array_create(cf->pool, cf->args->nelts - 2,
                             sizeof(ngx_str_t));
    if (names == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        *(ngx_str_t *) ngx_array_push(names) = value[i];
    }

    p = value[1].data;
    last = p + value[1].len;

    while (p <= last) {
        start = p;
        p = ngx_strlchr(p, last, ',');

        if (p == NULL) {
            p = last;
        }

        kind.data = start;
        kind.len = p - start;
        p++;

        if (!ngx_http_llmgw_provider_api_known(NULL, &kind)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown API kind \"%V\"", &kind);
            return NGX_CONF_ERROR;
        }

        as = llcf->api_scopes->elts;

        for (i = 0; i < llcf->api_scopes->nelts; i++) {
            if (as[i].kind.len == kind.len
                && ngx_strncmp(as[i].kind.data, kind.data, kind.len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "API kind \"%V\" is given twice", &kind);
                return NGX_CONF_ERROR;
            }
        }

        as = ngx_array_push(llcf->api_scopes);
        if (as == NULL) {
            return NGX_CONF_ERROR;
        }

        as->kind = kind;
        as->names = names;
        as->required = NULL;
    }

    return NGX_CONF_OK;
}


/* "llmgw_claim_variable $name PATH": a variable of any claim, nested too */

static char *
ngx_http_llmgw_claim_variable_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t                    *value, name;
    ngx_http_variable_t          *var;
    ngx_http_llmgw_claim_path_t  *path;

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '$') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid variable name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data + 1;
    name.len = value[1].len - 1;

    path = ngx_palloc(cf->pool, sizeof(ngx_http_llmgw_claim_path_t));
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llmgw_claim_path(cf, &value[2], path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_CONF_ERROR;
    }

    var->get_handler = ngx_http_llmgw_claim_path_variable;
    var->data = (uintptr_t) path;

    return NGX_CONF_OK;
}


static char *
ngx_http_llmgw_set_token_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llmgw_loc_conf_t *llcf = conf;

    u_char      *p;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (llcf->token_headers != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        for (p = value[i].data; p < value[i].data + value[i].len; p++) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                  || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid header name \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }
        }
    }

    if (ngx_http_llmgw_set_str_list(cf, cmd, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /* lowercase, as nginx keeps each request header's lowcase_key */

    value = llcf->token_headers->elts;

    for (i = 0; i < llcf->token_headers->nelts; i++) {
        p = ngx_pnalloc(cf->pool, value[i].len);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_strlow(p, value[i].data, value[i].len);
        value[i].data = p;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llmgw_set_algorithms(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_int_t    alg;
    ngx_str_t   *value;
    ngx_uint_t   i, *algs;

    algs = (ngx_uint_t *) (p + cmd->offset);

    if (*algs != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    *algs = 0;
    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        alg = ngx_http_llmgw_alg_parse(&value[i]);

        if (alg == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unsupported JWS algorithm \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        *algs |= NGX_HTTP_LLMGW_ALG_BIT(alg);
    }

    return NGX_CONF_OK;
}


/* "llmgw_jwt_keys file [kid=ID]": parsed now, once, into the conf pool */

static char *
ngx_http_llmgw_set_keys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_loc_conf_t *llcf = conf;

    ngx_str_t  *value, kid;

    value = cf->args->elts;
    ngx_str_null(&kid);

    if (cf->args->nelts == 3) {
        if (value[2].len <= sizeof("kid=") - 1
            || ngx_strncmp(value[2].data, "kid=", sizeof("kid=") - 1) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        kid.data = value[2].data + sizeof("kid=") - 1;
        kid.len = value[2].len - (sizeof("kid=") - 1);
    }

    if (llcf->keys == NGX_CONF_UNSET_PTR) {
        llcf->keys = ngx_array_create(cf->pool, 4,
                                      sizeof(ngx_http_llmgw_key_t));
        if (llcf->keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_llmgw_keys_load_file(cf, &value[1], &kid, llcf->keys)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llmgw_set_jwks(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_loc_conf_t *llcf = conf;

    ngx_str_t                   *value;
    ngx_http_llmgw_main_conf_t  *mcf;

    if (llcf->jwks != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llmgw_module);

    llcf->jwks = ngx_http_llmgw_jwks_ref(cf, &mcf->jwks_zones, &value[1]);
    if (llcf->jwks == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the realm goes into a quoted-string: no quote, backslash or control */

static char *
ngx_http_llmgw_set_realm(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char     *p;
    ngx_str_t  *value;

    value = cf->args->elts;

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
            return "must not contain quotes, backslashes or controls";
        }
    }

    return ngx_conf_set_str_slot(cf, cmd, conf);
}


/* "llmgw_user_claim PATH": the claim that names the directory's user */

/* "llmgw_client_cert_proxy address|CIDR ...", as set_real_ip_from reads */

static char *
ngx_http_llmgw_set_cert_proxy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_loc_conf_t *llcf = conf;

    ngx_int_t    rc;
    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_cidr_t  *cidr;

    if (llcf->cert_proxies != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    llcf->cert_proxies = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                          sizeof(ngx_cidr_t));
    if (llcf->cert_proxies == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        cidr = ngx_array_push(llcf->cert_proxies);
        if (cidr == NULL) {
            return NGX_CONF_ERROR;
        }

        rc = ngx_ptocidr(&value[i], cidr);

        if (rc == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid address or network \"%V\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_DONE) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "low address bits of %V are meaningless",
                               &value[i]);
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llmgw_set_user_claim(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llmgw_loc_conf_t *llcf = conf;

    ngx_str_t  *value;

    if (llcf->user_claim != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    llcf->user_claim = ngx_palloc(cf->pool,
                                  sizeof(ngx_http_llmgw_claim_path_t));
    if (llcf->user_claim == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llmgw_claim_path(cf, &value[1], llcf->user_claim)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* "llmgw_state_file FILE", relative to the prefix */

static char *
ngx_http_llmgw_set_state_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llmgw_main_conf_t *mcf = conf;

    ngx_str_t  *value;

    if (mcf->state_file.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "needs a file name";
    }

    mcf->state_file = value[1];

    if (ngx_conf_full_name(cf->cycle, &mcf->state_file, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * "llmgw_users FILE [utc_offset=+HH:MM]": the HR CSV read and checked now,
 * so that nginx -t names each wrong line; applied to the zone at its init.
 * The offset says where the CSV's days begin (+09:00 for Japan).
 */

static char *
ngx_http_llmgw_set_users(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_main_conf_t *mcf = conf;

    ngx_str_t               *value, name, offset;
    ngx_http_llmgw_users_t  *users;

    if (mcf->users) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mcf->users_utc_offset = 0;

    if (cf->args->nelts == 3) {
        if (value[2].len <= sizeof("utc_offset=") - 1
            || ngx_strncmp(value[2].data, "utc_offset=",
                           sizeof("utc_offset=") - 1)
               != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        offset.data = value[2].data + sizeof("utc_offset=") - 1;
        offset.len = value[2].len - (sizeof("utc_offset=") - 1);

        if (ngx_http_llmgw_utc_offset(&offset, &mcf->users_utc_offset)
            != NGX_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid utc_offset \"%V\", expected +HH:MM "
                               "or -HH:MM", &offset);
            return NGX_CONF_ERROR;
        }
    }

    name = value[1];

    users = ngx_http_llmgw_conf_parse_file(cf, &name,
                                           &ngx_http_llmgw_users_file);
    if (users == NULL) {
        return NGX_CONF_ERROR;
    }

    mcf->users = &users->users;

    return NGX_CONF_OK;
}


/*
 * "llmgw_clients FILE [unknown=deny|SCOPE,...] [pending=none|SCOPE,...]":
 * the file is read and checked here, so that nginx -t names each wrong
 * line; its scopes are looked up in the tree at postconfiguration.  A
 * reload reads it again.
 */

static char *
ngx_http_llmgw_set_clients(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_main_conf_t *mcf = conf;

    char                           *rv;
    ngx_str_t                      *value;
    ngx_uint_t                      i, seen;
    ngx_http_llmgw_clients_t       *parsed;
    ngx_http_llmgw_clients_conf_t  *ccf;

    if (mcf->clients) {
        return "is duplicate";
    }

    ccf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_clients_conf_t));
    if (ccf == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    seen = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "unknown=", 8) == 0 && !(seen & 1)) {
            rv = ngx_http_llmgw_clients_param(cf, &value[i], "deny",
                                              &ccf->unknown_names);
            seen |= 1;

        } else if (ngx_strncmp(value[i].data, "pending=", 8) == 0
                   && !(seen & 2))
        {
            rv = ngx_http_llmgw_clients_param(cf, &value[i], "none",
                                              &ccf->pending_names);
            seen |= 2;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    ccf->file = value[1];

    parsed = ngx_http_llmgw_conf_parse_file(cf, &ccf->file,
                                            &ngx_http_llmgw_clients_file);
    if (parsed == NULL) {
        return NGX_CONF_ERROR;
    }

    ccf->clients = &parsed->clients;
    mcf->clients = ccf;

    return NGX_CONF_OK;
}


/*
 * "NAME=" then the word off ("deny", "none": no ceiling, *names stays
 * NULL) or scopes separated by commas; both names are 8 bytes with '='.
 */

static char *
ngx_http_llmgw_clients_param(ngx_conf_t *cf, ngx_str_t *value,
    const char *off, ngx_array_t **names)
{
    u_char     *p, *last, *comma;
    ngx_str_t  *name;

    p = value->data + sizeof("unknown=") - 1;
    last = value->data + value->len;

    if ((size_t) (last - p) == ngx_strlen(off)
        && ngx_strncmp(p, off, last - p) == 0)
    {
        return NGX_CONF_OK;
    }

    *names = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (*names == NULL) {
        return NGX_CONF_ERROR;
    }

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');

        name = ngx_array_push(*names);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        name->data = p;
        name->len = (comma ? comma : last) - p;

        if (ngx_http_llmgw_scope_name_valid(name) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid scope in \"%V\"", value);
            return NGX_CONF_ERROR;
        }

        if (comma == NULL) {
            return NGX_CONF_OK;
        }

        p = comma + 1;
    }
}


/* the ceilings looked up in the complete scope tree */

static ngx_int_t
ngx_http_llmgw_clients_init(ngx_conf_t *cf, ngx_http_llmgw_main_conf_t *mcf)
{
    u_char                          *p, text[512];
    ngx_int_t                        rc;
    ngx_str_t                        bad;
    ngx_http_llmgw_clients_conf_t   *ccf;
    ngx_http_llmgw_clients_error_t   e;

    ccf = mcf->clients;

    if (ccf == NULL) {
        return NGX_OK;
    }

    if (mcf->scopes.scopes.elts == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"llmgw_clients\" needs \"llmgw_scopes\": a "
                      "ceiling is cut in the scope tree");
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_clients_resolve(cf->pool, &mcf->scopes, ccf->clients,
                                        &e);

    if (rc == NGX_DECLINED) {
        p = ngx_http_llmgw_clients_error_text(text, text + sizeof(text), &e);

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "llmgw_clients \"%V\", %*s", &ccf->file,
                      p - text, text);
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_null(&bad);

    if (ccf->unknown_names) {
        ccf->unknown = ngx_http_llmgw_clients_scopes(cf->pool, &mcf->scopes,
                                                     ccf->unknown_names,
                                                     &bad);
        if (ccf->unknown == NULL) {
            goto failed;
        }
    }

    if (ccf->pending_names) {
        ccf->pending = ngx_http_llmgw_clients_scopes(cf->pool, &mcf->scopes,
                                                     ccf->pending_names,
                                                     &bad);
        if (ccf->pending == NULL) {
            goto failed;
        }
    }

    return NGX_OK;

failed:

    if (bad.len) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "llmgw_clients: scope \"%V\" is not in "
                      "\"llmgw_scopes\"", &bad);
    }

    return NGX_ERROR;
}


/*
 * "llmgw_resource_metadata RESOURCE": the location serves the protected-
 * resource metadata of RESOURCE, the gateway's resource identifier (RFC
 * 9728 section 1.2: an http(s) URL without a fragment).
 */

static char *
ngx_http_llmgw_resource_metadata(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llmgw_loc_conf_t *llcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (llcf->resource.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (!(ngx_strncmp(value[1].data, "https://", 8) == 0
          || ngx_strncmp(value[1].data, "http://", 7) == 0)
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, '#')
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, '"')
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, '\\'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid resource \"%V\": an https URL "
                           "without a fragment", &value[1]);
        return NGX_CONF_ERROR;
    }

    llcf->resource = value[1];

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_llmgw_metadata_handler;

    return NGX_CONF_OK;
}


/* "+HH:MM" or "-HH:MM" into seconds east of UTC */

static ngx_int_t
ngx_http_llmgw_utc_offset(ngx_str_t *value, time_t *offset)
{
    u_char     *p;
    ngx_int_t   h, m;

    p = value->data;

    if (value->len != 6 || (p[0] != '+' && p[0] != '-') || p[3] != ':') {
        return NGX_ERROR;
    }

    h = ngx_atoi(p + 1, 2);
    m = ngx_atoi(p + 4, 2);

    if (h == NGX_ERROR || m == NGX_ERROR || h > 14 || m > 59) {
        return NGX_ERROR;
    }

    *offset = (h * 3600 + m * 60) * (p[0] == '-' ? -1 : 1);

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_users_file_parse(ngx_pool_t *pool, ngx_str_t *content,
    void *out, ngx_uint_t *nerrors)
{
    ngx_http_llmgw_users_t *users = out;

    ngx_int_t  rc;

    rc = ngx_http_llmgw_users_parse(pool, content->data, content->len,
                                    NGX_HTTP_LLMGW_USERS_MAX, users);
    *nerrors = users->nerrors;

    return rc;
}


static u_char *
ngx_http_llmgw_users_file_error(u_char *buf, u_char *last, void *out,
    ngx_uint_t i)
{
    ngx_http_llmgw_users_t *users = out;

    return ngx_http_llmgw_users_error_text(buf, last, &users->errors[i]);
}


static ngx_int_t
ngx_http_llmgw_clients_file_parse(ngx_pool_t *pool, ngx_str_t *content,
    void *out, ngx_uint_t *nerrors)
{
    ngx_http_llmgw_clients_t *clients = out;

    ngx_int_t  rc;

    rc = ngx_http_llmgw_clients_parse(pool, content->data, content->len,
                                      NGX_HTTP_LLMGW_CLIENTS_MAX, clients);
    *nerrors = clients->nerrors;

    return rc;
}


static u_char *
ngx_http_llmgw_clients_file_error(u_char *buf, u_char *last, void *out,
    ngx_uint_t i)
{
    ngx_http_llmgw_clients_t *clients = out;

    return ngx_http_llmgw_clients_error_text(buf, last, &clients->errors[i]);
}


/*
 * The file name (made absolute in place) read whole and parsed now, so
 * that nginx -t names each wrong line: the parser's result, or NULL once
 * the errors it kept, one a line, and their count are reported.
 */

static void *
ngx_http_llmgw_conf_parse_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_http_llmgw_conf_file_t *file)
{
    u_char      *p, text[512];
    void        *out;
    ngx_int_t    rc;
    ngx_str_t    content;
    ngx_uint_t   i, nerrors;

    if (ngx_conf_full_name(cf->cycle, name, 1) != NGX_OK) {
        return NULL;
    }

    if (ngx_http_llmgw_read_file(cf, name, &content) != NGX_OK) {
        return NULL;
    }

    out = ngx_palloc(cf->pool, file->size);
    if (out == NULL) {
        return NULL;
    }

    nerrors = 0;

    rc = file->parse(cf->pool, &content, out, &nerrors);

    if (rc == NGX_OK) {
        return out;
    }

    if (rc != NGX_DECLINED) {
        return NULL;
    }

    for (i = 0; i < ngx_min(nerrors, file->max_errors); i++) {
        p = file->error_text(text, text + sizeof(text), out, i);

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s \"%V\", %*s",
                           file->directive, name, p - text, text);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s \"%V\" refused: %ui error%s",
                       file->directive, name, nerrors,
                       nerrors == 1 ? "" : "s");

    return NULL;
}


/* a whole file into the configuration's pool */

static ngx_int_t
ngx_http_llmgw_read_file(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *content)
{
    off_t            size;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_int_t        rc;
    ngx_file_info_t  fi;

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", name);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", name);
        goto done;
    }

    size = ngx_file_size(&fi);

    /* 10 million users of about 200 bytes */

    if (size > 2048 * 1024 * 1024LL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" is too large", name);
        goto done;
    }

    content->len = (size_t) size;
    content->data = ngx_pnalloc(cf->pool, content->len + 1);
    if (content->data == NULL) {
        goto done;
    }

    n = ngx_read_fd(fd, content->data, content->len);

    if (n != (ssize_t) content->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%V\" failed", name);
        goto done;
    }

    rc = NGX_OK;

done:

    (void) ngx_close_file(fd);

    return rc;
}


/*
 * llmgw_limit_zone NAME:SIZE [redis [timeout=TIME] [down=open|closed|local]
 *                  [nodes=N] [lease=TIME]];
 * with "redis" the zone's limits count in Redis, and its shared memory
 * keeps what the node decides alone (refusals, the down=local share).
 */

static char *
ngx_http_llmgw_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_main_conf_t *mcf = conf;

    ngx_str_t                           *value;
    ngx_shm_zone_t                      *shm_zone;
    ngx_http_llmgw_limit_redis_zone_t   *zone, **slot;

    value = cf->args->elts;

    if (cf->args->nelts > 2
        && (value[2].len != 5 || ngx_strncmp(value[2].data, "redis", 5) != 0))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw_limit_zone: invalid parameter \"%V\" "
                           "(\"redis\" expected)", &value[2]);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_http_llmgw_limit_shm_zone(cf, &value[1]);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    zone = ngx_http_llmgw_limit_redis_zone(cf, shm_zone, &value[3],
                                           cf->args->nelts - 3);
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (mcf->limit_redis == NULL) {
        mcf->limit_redis = ngx_array_create(cf->pool, 2,
                               sizeof(ngx_http_llmgw_limit_redis_zone_t *));
        if (mcf->limit_redis == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    slot = ngx_array_push(mcf->limit_redis);
    if (slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = zone;

    return NGX_CONF_OK;
}


/* the zone's offsets for twenty years from now: a reload renews them */

static char *
ngx_http_llmgw_limit_timezone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_main_conf_t *mcf = conf;

    ngx_int_t   rc;
    ngx_str_t  *value;

    if (mcf->limit_tz != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mcf->limit_tz = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_limit_tz_t));
    if (mcf->limit_tz == NULL) {
        return NGX_CONF_ERROR;
    }

    rc = ngx_http_llmgw_limit_tz_build(cf->pool, &value[1], ngx_time(),
                                       NGX_HTTP_LLMGW_LIMIT_TZ_YEARS,
                                       mcf->limit_tz);

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown time zone \"%V\" (an IANA name under "
                           "/usr/share/zoneinfo, e.g. \"Europe/Berlin\")",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * llmgw_limit NAME zone=ZONE key=VALUE
 *             (rate=Nr/s|Nr/m [burst=N] | quota=N/minute|hour|day|month
 *              | concurrent=N) [empty=deny|allow];
 */

static char *
ngx_http_llmgw_set_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llmgw_loc_conf_t *llcf = conf;

    char                         *rv;
    ngx_str_t                    *value, zone;
    ngx_uint_t                    i;
    ngx_http_llmgw_limit_t       *limit, **slot, **own;
    ngx_http_llmgw_main_conf_t   *mcf;

    static ngx_str_t  model_name = ngx_string("llmgw_model");

    value = cf->args->elts;

    limit = ngx_pcalloc(cf->pool, sizeof(ngx_http_llmgw_limit_t));
    if (limit == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llmgw_limit_name(cf, limit, &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_str_null(&zone);
    limit->burst = NGX_CONF_UNSET;
    limit->estimate = NGX_CONF_UNSET;

    for (i = 2; i < cf->args->nelts; i++) {
        rv = ngx_http_llmgw_limit_param(cf, limit, &value[i], &zone);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (zone.len == 0 || limit->key.value.data == NULL || limit->kind == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw_limit \"%V\" needs zone=, key= and one of "
                           "rate=, quota=, concurrent=, tokens=, cost=",
                           &limit->name);
        return NGX_CONF_ERROR;
    }

    if (limit->burst != NGX_CONF_UNSET
        && limit->kind != NGX_HTTP_LLMGW_LIMIT_RATE)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw_limit \"%V\": burst= goes with rate= only",
                           &limit->name);
        return NGX_CONF_ERROR;
    }

    if (limit->burst == NGX_CONF_UNSET) {
        limit->burst = 0;
    }

    if (limit->estimate == NGX_CONF_UNSET) {
        limit->estimate = NGX_HTTP_LLMGW_LIMIT_ESTIMATE;

    } else if (!ngx_http_llmgw_limit_budget(limit->kind)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw_limit \"%V\": estimate= goes with tokens= "
                           "and cost= only", &limit->name);
        return NGX_CONF_ERROR;
    }

    limit->model = ngx_http_llmgw_limit_names_model(&limit->key.value);

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llmgw_module);

    if (limit->model && mcf->model_var == 0) {
        mcf->model_var = ngx_http_get_variable_index(cf, &model_name);
        if (mcf->model_var == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        mcf->model_var++;
    }

    limit->backend = &ngx_http_llmgw_limit_shm_backend;
    limit->data = ngx_http_llmgw_limit_shm_ref(cf, &zone);
    if (limit->data == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llmgw_limit_texts(cf, limit) != NGX_OK
        || ngx_http_llmgw_limit_same(cf, limit) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (llcf->limits == NGX_CONF_UNSET_PTR) {
        llcf->limits = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_llmgw_limit_t *));
        if (llcf->limits == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    own = llcf->limits->elts;

    for (i = 0; i < llcf->limits->nelts; i++) {
        if (own[i]->name.len == limit->name.len
            && ngx_strncmp(own[i]->name.data, limit->name.data,
                           limit->name.len) == 0)
        {
            return "is duplicate";
        }
    }

    slot = ngx_array_push(llcf->limits);
    if (slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = limit;

    if (mcf->limits == NULL) {
        mcf->limits = ngx_array_create(cf->pool, 4,
                                       sizeof(ngx_http_llmgw_limit_t *));
        if (mcf->limits == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    slot = ngx_array_push(mcf->limits);
    if (slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = limit;

    return NGX_CONF_OK;
}


static char *
ngx_http_llmgw_limit_param(ngx_conf_t *cf, ngx_http_llmgw_limit_t *limit,
    ngx_str_t *param, ngx_str_t *zone)
{
    u_char                            *eq;
    ngx_str_t                          name, v;
    ngx_http_compile_complex_value_t   ccv;

    eq = ngx_strlchr(param->data, param->data + param->len, '=');

    if (eq == NULL || eq + 1 == param->data + param->len) {
        goto invalid;
    }

    name.data = param->data;
    name.len = eq - param->data;
    v.data = eq + 1;
    v.len = param->data + param->len - v.data;

    if (name.len == 4 && ngx_strncmp(name.data, "zone", 4) == 0) {
        *zone = v;
        return NGX_CONF_OK;
    }

    if (name.len == 3 && ngx_strncmp(name.data, "key", 3) == 0) {
        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &v;
        ccv.complex_value = &limit->key;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (name.len == 5 && ngx_strncmp(name.data, "empty", 5) == 0) {
        if (v.len == 5 && ngx_strncmp(v.data, "allow", 5) == 0) {
            limit->empty_allow = 1;
            return NGX_CONF_OK;
        }

        if (v.len == 4 && ngx_strncmp(v.data, "deny", 4) == 0) {
            limit->empty_allow = 0;
            return NGX_CONF_OK;
        }

        goto invalid;
    }

    if (name.len == 8 && ngx_strncmp(name.data, "estimate", 8) == 0) {
        limit->estimate = ngx_atoof(v.data, v.len);

        if (limit->estimate == NGX_ERROR || limit->estimate > 10000000) {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (name.len == 5 && ngx_strncmp(name.data, "burst", 5) == 0) {
        limit->burst = ngx_atoi(v.data, v.len);

        if (limit->burst == NGX_ERROR || limit->burst > 1000000) {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (limit->kind != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw_limit \"%V\": one of rate=, quota=, "
                           "concurrent=, tokens=, cost= only", &limit->name);
        return NGX_CONF_ERROR;
    }

    return ngx_http_llmgw_limit_amount(cf, limit, &name, &v);

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "llmgw_limit \"%V\": invalid parameter \"%V\"",
                       &limit->name, param);

    return NGX_CONF_ERROR;
}


/*
 * rate=10r/s, rate=100r/m; quota=1000/day; concurrent=4;
 * tokens=100000/day; cost=5.00/month (micro-units of the price's currency
 * inside, as llmgw_price reads its prices)
 */

static char *
ngx_http_llmgw_limit_amount(ngx_conf_t *cf, ngx_http_llmgw_limit_t *limit,
    ngx_str_t *name, ngx_str_t *value)
{
    u_char     *p, *last;
    int64_t     n, max;
    ngx_str_t   unit;

    static ngx_str_t  periods[] = {
        ngx_string("minute"),
        ngx_string("hour"),
        ngx_string("day"),
        ngx_string("month"),
        ngx_null_string
    };

    p = value->data;
    last = value->data + value->len;

    while (p < last && ((*p >= '0' && *p <= '9') || *p == '.')) {
        p++;
    }

    if (name->len == 4 && ngx_strncmp(name->data, "cost", 4) == 0) {
        if (ngx_http_llmgw_price_decimal(value->data, p - value->data, &n)
            != NGX_OK)
        {
            goto invalid;
        }

    } else {
        n = ngx_atoof(value->data, p - value->data);
    }

    unit.data = p;
    unit.len = last - p;

    if (name->len == 4 && ngx_strncmp(name->data, "rate", 4) == 0) {
        limit->kind = NGX_HTTP_LLMGW_LIMIT_RATE;
        max = 1000000;

        if (unit.len == 3 && ngx_strncmp(unit.data, "r/s", 3) == 0) {
            limit->interval = 1000;

        } else if (unit.len == 3 && ngx_strncmp(unit.data, "r/m", 3) == 0) {
            limit->interval = 60000;

        } else {
            goto invalid;
        }

        limit->rate = n;

    } else if (name->len == 10
               && ngx_strncmp(name->data, "concurrent", 10) == 0)
    {
        limit->kind = NGX_HTTP_LLMGW_LIMIT_CONCURRENT;
        max = 1000000;

        if (unit.len != 0) {
            goto invalid;
        }

        limit->quota = n;

    } else {
        if (name->len == 5 && ngx_strncmp(name->data, "quota", 5) == 0) {
            limit->kind = NGX_HTTP_LLMGW_LIMIT_QUOTA;
            max = (int64_t) 1000000000000LL;

        } else if (name->len == 6
                   && ngx_strncmp(name->data, "tokens", 6) == 0)
        {
            limit->kind = NGX_HTTP_LLMGW_LIMIT_TOKENS;
            max = (int64_t) 1000000000000LL;

        } else if (name->len == 4 && ngx_strncmp(name->data, "cost", 4) == 0)
        {
            limit->kind = NGX_HTTP_LLMGW_LIMIT_COST;
            max = NGX_HTTP_LLMGW_PRICE_MAX;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "llmgw_limit \"%V\": unknown parameter \"%V\"",
                               &limit->name, name);
            return NGX_CONF_ERROR;
        }

        if (unit.len < 2 || unit.data[0] != '/') {
            goto invalid;
        }

        unit.data++;
        unit.len--;

        for (limit->period = 0; periods[limit->period].len; limit->period++) {
            if (periods[limit->period].len == unit.len
                && ngx_strncmp(periods[limit->period].data, unit.data,
                               unit.len) == 0)
            {
                break;
            }
        }

        if (periods[limit->period].len == 0) {
            goto invalid;
        }

        limit->quota = n;
    }

    if (n == NGX_ERROR || n < 1 || n > max) {
        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "llmgw_limit \"%V\": invalid %V=\"%V\"",
                       &limit->name, name, value);

    return NGX_CONF_ERROR;
}


/*
 * A limit's name goes into a structured field's string, the JSON body
 * and the audit as it is: letters, digits, "-", "_", "."; kept with a
 * '\0' after it, which the shared-memory key includes.
 */

static ngx_int_t
ngx_http_llmgw_limit_name(ngx_conf_t *cf, ngx_http_llmgw_limit_t *limit,
    ngx_str_t *name)
{
    u_char      c;
    ngx_uint_t  i;

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')
        {
            continue;
        }

        break;
    }

    if (name->len == 0 || name->len > 64 || i != name->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid llmgw_limit name \"%V\": 1 to 64 of "
                           "letters, digits, \"-\", \"_\", \".\"", name);
        return NGX_ERROR;
    }

    limit->name.data = ngx_pnalloc(cf->pool, name->len + 1);
    if (limit->name.data == NULL) {
        return NGX_ERROR;
    }

    limit->name.len = name->len;
    *ngx_cpymem(limit->name.data, name->data, name->len) = '\0';

    return NGX_OK;
}


/*
 * The fixed texts of a limit, made once: the reason of its 429 (the body,
 * the audit), of a request without a key, its RateLimit-Policy item.  A
 * rate's item says its burst as the quota and the time the burst takes to
 * come back as the window; a month's window is nominally 30 days.
 */

static ngx_int_t
ngx_http_llmgw_limit_texts(ngx_conf_t *cf, ngx_http_llmgw_limit_t *limit)
{
    u_char   *p;
    size_t    len;
    int64_t   q, w;

    static int64_t  windows[] = { 60, 3600, 86400, 2592000 };

    len = sizeof("limit  exceeded") + limit->name.len;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    limit->reason.data = p;
    limit->reason.len = ngx_sprintf(p, "limit %V exceeded%Z", &limit->name)
                        - p - 1;

    len = sizeof("no key for limit ") + limit->name.len;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    limit->no_key.data = p;
    limit->no_key.len = ngx_sprintf(p, "no key for limit %V%Z", &limit->name)
                        - p - 1;

    len = limit->name.len + sizeof("\"\";q=;w=;qu=\"concurrent-requests\"")
          + sizeof(";llmgw-unit=\"cost-micros\"") + 2 * NGX_INT64_LEN;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    limit->policy.data = p;

    switch (limit->kind) {

    case NGX_HTTP_LLMGW_LIMIT_RATE:
        q = limit->burst + 1;
        w = ngx_http_llmgw_limit_seconds(q * limit->interval / limit->rate);
        p = ngx_sprintf(p, "\"%V\";q=%L;w=%L", &limit->name, q, w);
        break;

    case NGX_HTTP_LLMGW_LIMIT_QUOTA:
        p = ngx_sprintf(p, "\"%V\";q=%L;w=%L", &limit->name, limit->quota,
                        windows[limit->period]);
        break;

    case NGX_HTTP_LLMGW_LIMIT_TOKENS:
        p = ngx_sprintf(p, "\"%V\";q=%L;w=%L;llmgw-unit=\"tokens\"",
                        &limit->name, limit->quota, windows[limit->period]);
        break;

    case NGX_HTTP_LLMGW_LIMIT_COST:
        p = ngx_sprintf(p, "\"%V\";q=%L;w=%L;llmgw-unit=\"cost-micros\"",
                        &limit->name, limit->quota, windows[limit->period]);
        break;

    default: /* NGX_HTTP_LLMGW_LIMIT_CONCURRENT */
        p = ngx_sprintf(p, "\"%V\";q=%L;qu=\"concurrent-requests\"",
                        &limit->name, limit->quota);
        break;
    }

    limit->policy.len = p - limit->policy.data;

    return NGX_OK;
}


/*
 * Whether a key names $llmgw_model (or ${llmgw_model}): the model may be
 * known only from the body, so the limit may have to wait for it.
 */

static ngx_flag_t
ngx_http_llmgw_limit_names_model(ngx_str_t *key)
{
    u_char  *p, *last, c;

    static u_char  name[] = "llmgw_model";

    last = key->data + key->len;

    for (p = key->data; p < last; p++) {
        if (*p != '$') {
            continue;
        }

        p += (p + 1 < last && p[1] == '{') ? 2 : 1;

        if ((size_t) (last - p) < sizeof(name) - 1
            || ngx_strncmp(p, name, sizeof(name) - 1) != 0)
        {
            continue;
        }

        c = (p + sizeof(name) - 1 < last) ? p[sizeof(name) - 1] : '\0';

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_'))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * A limit is its name in its zone: declared in several places, it is one
 * count (a quota across locations), so every declaration must say the
 * same.
 */

static ngx_int_t
ngx_http_llmgw_limit_same(ngx_conf_t *cf, ngx_http_llmgw_limit_t *limit)
{
    ngx_uint_t                   i;
    ngx_http_llmgw_limit_t     **l;
    ngx_http_llmgw_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llmgw_module);

    if (mcf->limits == NULL) {
        return NGX_OK;
    }

    l = mcf->limits->elts;

    for (i = 0; i < mcf->limits->nelts; i++) {
        if (l[i]->data != limit->data
            || l[i]->name.len != limit->name.len
            || ngx_strncmp(l[i]->name.data, limit->name.data,
                           limit->name.len) != 0)
        {
            continue;
        }

        if (l[i]->kind == limit->kind
            && l[i]->rate == limit->rate
            && l[i]->interval == limit->interval
            && l[i]->burst == limit->burst
            && l[i]->quota == limit->quota
            && l[i]->period == limit->period
            && l[i]->estimate == limit->estimate
            && l[i]->key.value.len == limit->key.value.len
            && ngx_strncmp(l[i]->key.value.data, limit->key.value.data,
                           limit->key.value.len) == 0)
        {
            return NGX_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw_limit \"%V\" is declared elsewhere in "
                           "the same zone with other parameters",
                           &limit->name);
        return NGX_ERROR;
    }

    return NGX_OK;
}
