
/*
 * Copyright (C) llmgw authors
 *
 * Types shared by the concerns of ngx_http_llmgw_module.
 */


#ifndef _NGX_HTTP_LLMGW_H_INCLUDED_
#define _NGX_HTTP_LLMGW_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ngx_http_llmgw_error.h"
#include "ngx_http_llmgw_provider.h"
#include "ngx_http_llmgw_usage.h"


#define NGX_HTTP_LLMGW_SHA256_LEN      32


/* JWS algorithms, RFC 7518 section 3.1 and RFC 8037; a bit each in masks */

typedef enum {
    NGX_HTTP_LLMGW_ALG_RS256 = 0,
    NGX_HTTP_LLMGW_ALG_RS384,
    NGX_HTTP_LLMGW_ALG_RS512,
    NGX_HTTP_LLMGW_ALG_PS256,
    NGX_HTTP_LLMGW_ALG_PS384,
    NGX_HTTP_LLMGW_ALG_PS512,
    NGX_HTTP_LLMGW_ALG_ES256,
    NGX_HTTP_LLMGW_ALG_ES384,
    NGX_HTTP_LLMGW_ALG_ES512,
    NGX_HTTP_LLMGW_ALG_EDDSA,
    NGX_HTTP_LLMGW_ALG_COUNT
} ngx_http_llmgw_alg_e;


#define NGX_HTTP_LLMGW_ALG_BIT(alg)    ((ngx_uint_t) 1 << (alg))

#define NGX_HTTP_LLMGW_ALGS_RSA                                               \
    (NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_RS256)                         \
     |NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_RS384)                        \
     |NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_RS512)                        \
     |NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_PS256)                        \
     |NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_PS384)                        \
     |NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_PS512))

#define NGX_HTTP_LLMGW_ALGS_ALL                                               \
    (NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_COUNT) - 1)


/*
 * A public key parsed once (configuration time, or when a fetched JWKS
 * changes) and bound to the algorithms it may verify: an RSA key to RS* and
 * PS* (or the one its JWK "alg" names), an EC key to the ES* of its curve,
 * an Ed25519 key to EdDSA.  Verification is prepared once too, per
 * algorithm of algs (ngx_http_llmgw_jws_prepare): an EVP_PKEY_CTX set up
 * for verify (RS*, PS*, ES*; copied for each signature, never used itself)
 * or an EVP_MD_CTX set up for EdDSA (likewise).  The EVP_PKEY and the
 * prepared contexts are freed by cleanups of the pool the key was parsed
 * into.
 */

typedef struct {
    ngx_str_t                  kid;       /* empty when the key has none */
    ngx_uint_t                 algs;      /* NGX_HTTP_LLMGW_ALG_BIT mask */
    EVP_PKEY                  *pkey;
    EVP_PKEY_CTX              *verify[NGX_HTTP_LLMGW_ALG_COUNT];
    EVP_MD_CTX                *eddsa;
    size_t                     sig_len;   /* every signature's length */
    u_char                     fp[NGX_HTTP_LLMGW_SHA256_LEN];
                                          /* SHA-256 of the DER public key */
} ngx_http_llmgw_key_t;


/*
 * A compact JWS split and decoded; nothing verified yet.  All strings live
 * in the pool given to the parser; the two json_t are released by a cleanup
 * of that pool.
 */

typedef struct {
    ngx_str_t                  signing_input; /* "header.payload", in token */
    ngx_str_t                  signature;     /* decoded bytes */
    ngx_str_t                  payload;       /* decoded claims JSON text */
    ngx_str_t                  kid;           /* empty when absent */
    ngx_str_t                  typ;           /* empty when absent */
    ngx_http_llmgw_alg_e       alg;
    json_t                    *header;
    json_t                    *claims;        /* always a JSON object */
} ngx_http_llmgw_jws_t;


/*
 * A claim named in configuration: the member names from the top of the
 * claims down through nested objects (one name for a top-level claim).
 */

typedef struct {
    ngx_str_t                 *names;
    ngx_uint_t                 nnames;
    ngx_str_t                  text;         /* as configured, for logs */
} ngx_http_llmgw_claim_path_t;


/* a claim that must be present, or equal one of values when any are given */

typedef struct {
    ngx_http_llmgw_claim_path_t  path;
    ngx_array_t                  values;     /* ngx_str_t */
    const char                  *missing;    /* "claim NAME missing" */
    const char                  *rejected;   /* "claim NAME not accepted" */
} ngx_http_llmgw_claim_check_t;


/*
 * Claim checks of a location, see ngx_http_llmgw_claims.c.  issuers and
 * audiences are NULL when any is accepted (said explicitly: "any").
 */

typedef struct {
    ngx_array_t               *issuers;      /* ngx_str_t, any of */
    ngx_array_t               *audiences;    /* ngx_str_t, any of */
    ngx_array_t               *audience_claims;
                                  /* claim_path_t read when aud is absent */
    ngx_array_t               *typs;         /* ngx_str_t, normalized */
    ngx_array_t               *checks;       /* claim_check_t, all of */
    ngx_array_t               *amr;          /* ngx_str_t, any of; or NULL */
    time_t                     leeway;
    ngx_flag_t                 require_exp;
} ngx_http_llmgw_claims_conf_t;


/* the scope tree: every scope with the scopes that satisfy it */

typedef struct {
    ngx_str_t                  name;
    ngx_array_t                satisfied_by; /* ngx_str_t: itself, ancestors */
} ngx_http_llmgw_scope_t;


typedef struct {
    ngx_array_t                scopes;       /* ngx_http_llmgw_scope_t */
} ngx_http_llmgw_scope_tree_t;


/*
 * What the verified-token cache keeps of a token whose signature verified:
 * enough to re-run every claim and scope check on a hit without the
 * signature, and to refuse the hit when the verifying key is gone.  The
 * shared zone keeps the claims as text (payload); a worker's own table
 * keeps them parsed (claims).
 */

typedef struct {
    time_t                     expires;      /* never after the token's exp */
    u_char                     key_fp[NGX_HTTP_LLMGW_SHA256_LEN];
    ngx_http_llmgw_alg_e       alg;          /* that verified it: a hit is
                                                refused where it is not
                                                allowed */
    ngx_str_t                  typ;
    ngx_str_t                  payload;      /* claims JSON text */
    json_t                    *claims;       /* payload parsed, or NULL */
} ngx_http_llmgw_cache_entry_t;


/*
 * The typed per-request results: what the access check and llmgw_pass
 * decided, for the variables and the audit, read through the accessors
 * below instead of from variables.  Strings point into the request's
 * memory or the configuration and stay valid for the request; an empty
 * string (data NULL) is an absent value.
 */

typedef enum {
    NGX_HTTP_LLMGW_DECISION_NONE = 0,    /* not checked: llmgw_auth off,
                                            a subrequest, not decided yet */
    NGX_HTTP_LLMGW_DECISION_ALLOWED,
    NGX_HTTP_LLMGW_DECISION_DENIED
} ngx_http_llmgw_decision_e;


/* hex digits of the SHA-256 of the token's jti */
#define NGX_HTTP_LLMGW_JTI_HASH_LEN    (2 * NGX_HTTP_LLMGW_SHA256_LEN)


typedef struct {
    ngx_http_llmgw_decision_e  decision;
    ngx_uint_t                 status;       /* the denial's, else 0 */
    ngx_str_t                  error;        /* RFC 6750 code, or empty */
    ngx_str_t                  reason;       /* a denial's fixed text */

    /* of a token whose signature verified (now or when it was cached) */
    ngx_str_t                  sub;
    ngx_str_t                  client_id;    /* client_id, azp or cid */
    ngx_str_t                  jti_hash;     /* lowercase hex, never jti */
    ngx_str_t                  binding;      /* "dpop" when a DPoP proof
                                                bound the token to this
                                                request, else empty */
    ngx_str_t                  department;   /* the user directory's, when
                                                the state check found the
                                                user there */
    ngx_array_t               *granted;      /* ngx_str_t, or NULL when
                                                the scope check was not
                                                reached */
    ngx_array_t               *failed;       /* ngx_http_llmgw_scope_t *:
                                                the required scopes not
                                                satisfied, or NULL */
    ngx_array_t               *ceiling;      /* ngx_http_llmgw_scope_t *:
                                                the client's ceiling that
                                                cut granted (llmgw_clients),
                                                or NULL */
    ngx_str_t                  client_status; /* "approved", "pending",
                                                 "unknown"; empty: no
                                                 llmgw_clients, or the
                                                 scope check not reached */
    unsigned                   verified:1;
    unsigned                   cache_hit:1;
    unsigned                   enabled:1;    /* llmgw_auth is on in r's
                                                location */
} ngx_http_llmgw_access_result_t;


/* how a call to the provider ended, for $llmgw_upstream_outcome */

typedef enum {
    NGX_HTTP_LLMGW_OUTCOME_NONE = 0,        /* the provider was not called */
    NGX_HTTP_LLMGW_OUTCOME_OK,              /* complete 1xx-3xx response */
    NGX_HTTP_LLMGW_OUTCOME_HTTP_ERROR,      /* complete 4xx/5xx response */
    NGX_HTTP_LLMGW_OUTCOME_STREAM_CUT,      /* body ended before its end */
    NGX_HTTP_LLMGW_OUTCOME_STREAM_EXCEPTION, /* event-stream exception */
    NGX_HTTP_LLMGW_OUTCOME_CONNECT_ERROR,   /* no connection, TLS failed */
    NGX_HTTP_LLMGW_OUTCOME_TIMEOUT,         /* connect, send or read */
    NGX_HTTP_LLMGW_OUTCOME_BAD_RESPONSE,    /* unparsable header, framing */
    NGX_HTTP_LLMGW_OUTCOME_CLIENT_CLOSED,   /* the client went away */
    NGX_HTTP_LLMGW_OUTCOME_ERROR            /* the gateway failed */
} ngx_http_llmgw_outcome_e;


typedef struct {
    ngx_str_t                      provider;     /* adapter, or empty */
    ngx_str_t                      api;          /* API kind, or empty */
    ngx_str_t                      model;        /* or empty */
    ngx_http_llmgw_outcome_e       outcome;
    ngx_str_t                      outcome_name; /* empty: NONE */
    ngx_http_llmgw_usage_result_t  usage;        /* nothing present:
                                                    missing (not read yet) */
    unsigned                       stream:1;     /* an event stream came
                                                    back */
    unsigned                       enabled:1;    /* r's location has
                                                    llmgw_pass */
} ngx_http_llmgw_pass_result_t;


/*
 * What the access check decided for r's main request (the variables of a
 * subrequest read the main request's).  NGX_OK, or NGX_ERROR (no memory).
 */
ngx_int_t ngx_http_llmgw_access_result(ngx_http_request_t *r,
    ngx_http_llmgw_access_result_t *res);

/*
 * A claim of the verified token at path (a department, a tenant) as text,
 * as ngx_http_llmgw_claim_text() gives it: NGX_OK; NGX_DECLINED when no
 * token verified or the claim is absent or an object; NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_access_claim(ngx_http_request_t *r,
    ngx_http_llmgw_claim_path_t *path, ngx_str_t *value);

/*
 * The department of r's user for the audit and limits: the claim at path
 * (llmgw_audit_department_claim, or NULL) when the token carries it, else
 * the user directory's (llmgw_users).  NGX_OK; NGX_DECLINED when neither
 * has one; NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_access_department(ngx_http_request_t *r,
    ngx_http_llmgw_claim_path_t *path, ngx_str_t *value);

/*
 * What llmgw_pass made of r: its provider, API kind and model, how the
 * call ended, whether a stream came back, the usage.  The model is looked
 * for on every call (from the path, else a body in memory) until the
 * request has gone out.  NGX_OK, or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_pass_result(ngx_http_request_t *r,
    ngx_http_llmgw_pass_result_t *res);

/*
 * What r's call cost by the llmgw_price table of r's location: micro-units
 * (millionths) of currency.  currency is empty when the cost is unknown:
 * no price for the model, no usage reported, or a cost over INT64_MAX.
 */

typedef struct {
    int64_t                        micros;
    ngx_str_t                      currency;     /* ISO 4217, or empty */
} ngx_http_llmgw_cost_t;


/*
 * The cost of r's call from llmgw_pass's usage and model and the
 * location's prices (ngx_http_llmgw_log_module.c, ngx_http_llmgw_price.h
 * for the arithmetic).  NGX_OK, also when unknown, or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_cost(ngx_http_request_t *r,
    ngx_http_llmgw_cost_t *cost);

/*
 * A body captured for the audit (llmgw_audit_body): its first bytes as
 * they came, before redaction, at most the configured size.
 */

typedef struct {
    ngx_str_t                      body;
    unsigned                       captured:1;  /* 0: none, null in the
                                                   line */
    unsigned                       truncated:1; /* there was more */
    unsigned                       stream:1;    /* event-stream text */
} ngx_http_llmgw_capture_t;


/*
 * How many bytes of r's request body (response 0) or response body
 * (response 1) llmgw_pass captures for the audit: llmgw_audit_body's size
 * when it names that side and the location has an audit sink, else 0
 * (ngx_http_llmgw_log_module.c).
 */
size_t ngx_http_llmgw_audit_capture_max(ngx_http_request_t *r,
    ngx_uint_t response);

/*
 * What llmgw_pass captured of r's request body and of the response body
 * (ngx_http_llmgw_upstream.c); captured is 0 for a side it did not.
 */
void ngx_http_llmgw_pass_capture(ngx_http_request_t *r,
    ngx_http_llmgw_capture_t *request, ngx_http_llmgw_capture_t *response);

/*
 * What r's body, read by llmgw_pass and not sent yet, lets the call use:
 * *max the output tokens it names at most (max_tokens and the like, see
 * ngx_http_llmgw_estimate.h), -1 when it names none or is not in memory,
 * *len its length (ngx_http_llmgw_upstream.c).  NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_pass_body_tokens(ngx_http_request_t *r,
    int64_t *max, off_t *len);

/*
 * The limits that wait for the body (ngx_http_llmgw_module.c): token and
 * cost budgets, and limits keyed by a model only the body names, taken
 * once llmgw_pass has read r's body and before the upstream request is
 * made.  NGX_OK: go on; NGX_AGAIN: a backend waits, and resumes r's
 * phases (the content handler then calls again); an HTTP status (429,
 * 403, 503) to finalize r with, its JSON error prepared; NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_limits_body(ngx_http_request_t *r);

/*
 * The cost of a call of r's model that would use usage, by r's
 * location's llmgw_price (ngx_http_llmgw_log_module.c), as
 * ngx_http_llmgw_cost() gives it: a budget's estimate.
 */
ngx_int_t ngx_http_llmgw_cost_of(ngx_http_request_t *r,
    ngx_http_llmgw_usage_result_t *usage, ngx_http_llmgw_cost_t *cost);

/*
 * The error of a response llmgw_audit_required refused (503, no audit
 * sink accepts lines), for the error filter (ngx_http_llmgw_module.c);
 * NULL for any other response.
 */
ngx_http_llmgw_error_t *ngx_http_llmgw_audit_error(ngx_http_request_t *r);

/*
 * A variable's value found: len bytes at data, valid for the request; the
 * one setter of llmgw's variable handlers.  Always NGX_OK.
 */
ngx_int_t ngx_http_llmgw_variable_set(ngx_http_variable_value_t *v,
    u_char *data, size_t len);


/* what llmgw_pass forwards a request as, for the access checks */

typedef struct {
    ngx_str_t                  provider;     /* adapter, "azure_openai" ... */
    ngx_str_t                  api;          /* API kind, "chat" ...;
                                                empty: unknown */
} ngx_http_llmgw_api_t;


/*
 * What llmgw_pass will forward the request as: NGX_OK with *api set;
 * NGX_DECLINED when the location has no llmgw_pass provider;
 * NGX_HTTP_BAD_REQUEST when the path cannot be forwarded (ambiguous);
 * NGX_ERROR.  Computed once a request and kept in llmgw_pass's ctx, which
 * the content handler then reuses (it must not compute twice or differ).
 */
ngx_int_t ngx_http_llmgw_pass_api(ngx_http_request_t *r,
    ngx_http_llmgw_api_t *api);

/*
 * The status of the error response that llmgw_pass answers with a JSON
 * body (the provider could not be reached or timed out, the request cannot
 * be forwarded, nginx's own error page on an llmgw_pass location: a body
 * too large, read too slowly), or 0; for the error filter
 * (ngx_http_llmgw_module.c), when it sends the response header.
 */
ngx_uint_t ngx_http_llmgw_pass_error(ngx_http_request_t *r);

/*
 * For llmgw_pass's merge of a location: nginx -t fails when the location's
 * llmgw_api_scope names a kind its provider does not have
 * (ngx_http_llmgw_module.c).
 */
char *ngx_http_llmgw_api_conf_check(ngx_conf_t *cf,
    ngx_http_llmgw_provider_t *pv);

/*
 * WWW-Authenticate for err with the llmgw_realm of r's location, as the
 * access check's own refusals have it.  NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_challenge(ngx_http_request_t *r,
    ngx_http_llmgw_error_t *err);

/*
 * The account state of the configuration being read, for the admin API:
 * the llmgw_state_zone (NULL without one) and llmgw_users' utc_offset
 * (0 when not given) (ngx_http_llmgw_module.c).
 */
ngx_shm_zone_t *ngx_http_llmgw_state_conf(ngx_conf_t *cf,
    time_t *utc_offset);

/*
 * The llmgw_clients of the configuration being read, for the admin API:
 * NGX_OK with the file's clients (ngx_http_llmgw_client_t,
 * sorted; their ceilings resolved once the configuration is read) and
 * the scope tree; NGX_DECLINED without llmgw_clients
 * (ngx_http_llmgw_module.c).
 */
ngx_int_t ngx_http_llmgw_registered_clients_conf(ngx_conf_t *cf,
    ngx_array_t **clients, ngx_http_llmgw_scope_tree_t **tree);

/*
 * The llmgw_jwks_zone zones of the configuration being read: an array of
 * ngx_http_llmgw_jwks_t *, or NULL (ngx_http_llmgw_module.c).
 */
ngx_array_t *ngx_http_llmgw_jwks_conf(ngx_conf_t *cf);

/* an audit sink of a location as this worker sees it */

typedef struct {
    ngx_str_t                      name;       /* the file, or syslog's
                                                  server */
    ngx_uint_t                     lost;       /* lines this worker could
                                                  not write, ever */
    unsigned                       failing:1;  /* the last write failed */
} ngx_http_llmgw_audit_sink_t;

/*
 * The audit sinks of r's location into out (an array of
 * ngx_http_llmgw_audit_sink_t), none with llmgw_audit off.  NGX_OK or
 * NGX_ERROR (ngx_http_llmgw_log_module.c).
 */
ngx_int_t ngx_http_llmgw_audit_sinks(ngx_http_request_t *r,
    ngx_array_t *out);

/*
 * The "admin" object of r's audit line, JSON text in r's pool: what the
 * admin call was, on whom, the state before and after, allowed or
 * refused.  NGX_OK; NGX_DECLINED where r's location has no llmgw_admin;
 * NGX_ERROR (ngx_http_llmgw_admin_module.c).
 */
ngx_int_t ngx_http_llmgw_admin_audit(ngx_http_request_t *r,
    ngx_str_t *json);

/*
 * The status of nginx's own error page on an llmgw_admin location (a
 * body over client_max_body_size, read too slowly) that goes out as a
 * JSON error instead, or 0, for the error filter.
 */
ngx_uint_t ngx_http_llmgw_admin_error(ngx_http_request_t *r);


#endif /* _NGX_HTTP_LLMGW_H_INCLUDED_ */
