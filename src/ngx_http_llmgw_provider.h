
/*
 * Copyright (C) llmgw authors
 *
 * Provider adapters for llmgw_pass: what each provider's requests lose on
 * the way (the client's credential, hop-by-hop headers, credential query
 * parameters), what the gateway injects instead, and where the model is.
 *
 * Everything here is pure: strings and a pool in, strings out; nothing
 * knows of requests or configuration, so unit tests and fuzz targets call
 * it directly.
 */


#ifndef _NGX_HTTP_LLMGW_PROVIDER_H_INCLUDED_
#define _NGX_HTTP_LLMGW_PROVIDER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* a model name longer than this is not reported */
#define NGX_HTTP_LLMGW_MODEL_MAX       256


typedef enum {
    NGX_HTTP_LLMGW_PROVIDER_AZURE_OPENAI = 1,
    NGX_HTTP_LLMGW_PROVIDER_BEDROCK,
    NGX_HTTP_LLMGW_PROVIDER_GEMINI,
    NGX_HTTP_LLMGW_PROVIDER_OPENAI
} ngx_http_llmgw_provider_e;


/*
 * One documented URL form of a provider and the API kind it belongs to.
 * A pattern is matched against the raw path byte for byte, except '*':
 * one non-empty run of bytes up to the next '/' (or the provider's
 * name_stop, Gemini's ':'), a placeholder such as {deployment} or
 * {modelId}.
 */

typedef struct {
    ngx_str_t                           pattern; /* '*': a placeholder */
    ngx_str_t                           kind;    /* "chat" ... */
} ngx_http_llmgw_provider_api_t;


/* patterns that all follow one literal prefix ("/openai/v1", "/v1beta") */

typedef struct {
    ngx_str_t                           prefix;
    ngx_http_llmgw_provider_api_t      *apis; /* ends with an empty one */
} ngx_http_llmgw_provider_api_set_t;


typedef struct {
    ngx_str_t                           name;     /* "azure_openai", ... */
    ngx_http_llmgw_provider_e           id;

    /* the header the provider's key goes in, and what precedes the key */
    ngx_str_t                           key_header;
    ngx_str_t                           key_prefix;

    /* the path segment the model follows, "/deployments/" ...; or empty */
    ngx_str_t                           model_segment;

    /*
     * ends a model or another name in the path besides '/' (Gemini's
     * "models/{m}:method"); its encoded form is refused in a path
     */
    u_char                              name_stop;

    /* query parameters never forwarded (names compared decoded, caseless) */
    ngx_str_t                          *query_drop; /* ends with empty */
    ngx_str_t                           query_drop_prefix;

    /* the API kinds; ends with a set whose apis is NULL */
    ngx_http_llmgw_provider_api_set_t  *api_sets;

    /*
     * path prefixes ("/model/") whose next segment may be an ARN with an
     * encoded '/' ("arn%3A...%2F..."); ends with an empty one, or NULL
     */
    ngx_str_t                          *arn_segments;
} ngx_http_llmgw_provider_t;


/* the adapter of that name, or NULL */
ngx_http_llmgw_provider_t *ngx_http_llmgw_provider_find(ngx_str_t *name);

/*
 * 1 when a client request header (name in lowercase) is never forwarded:
 * hop-by-hop (Connection, Keep-Alive, TE, Trailer, Transfer-Encoding,
 * Upgrade, Proxy-*), what the gateway sets itself (Host, Content-Length,
 * Expect, Accept-Encoding) and every credential a client may send
 * (Authorization, api-key, x-goog-api-key, x-amz-date,
 * x-amz-security-token, x-amz-content-sha256, Cookie) and the client
 * certificate a TLS-terminating proxy forwards (Client-Cert,
 * Client-Cert-Chain, RFC 9440).
 */
ngx_uint_t ngx_http_llmgw_provider_drop_request_header(u_char *lowcase,
    size_t len);

/*
 * 1 when an upstream response header (name in lowercase) names a
 * credential and never reaches the client.
 */
ngx_uint_t ngx_http_llmgw_provider_credential_header(u_char *lowcase,
    size_t len);

/* 1 when name is one of the tokens of a comma-separated list, caseless */
ngx_uint_t ngx_http_llmgw_provider_in_list(ngx_str_t *list, u_char *name,
    size_t len);

/*
 * NGX_OK when a raw path (as the client sent it, after the prefix, without
 * the query) is safe to forward unchanged, NGX_DECLINED when it holds
 * what nginx and the provider could read differently:
 *
 *   - not starting with '/', an empty segment ("//" anywhere; a single
 *     final '/' is let through and the classifier calls it unknown), a
 *     "." or ".." segment;
 *   - an encoded '/', '.', '\' or NUL ("%2F", "%2E", "%5C", "%00"), and
 *     an encoded name_stop (Gemini's "%3A": the provider may read it as
 *     the ":method" separator, the classifier reads a name);
 *   - a ';' (path parameters, which some servers strip), a '\' or '#', a
 *     space, a control or non-ASCII byte, a '%' without two hex digits.
 *
 * One exception, for a provider with arn_segments (Bedrock): the segment
 * right after such a prefix ("/model/") may carry "%2F" when it starts
 * with "arn%3A" (caseless): the SDKs send an inference-profile or
 * provisioned-model ARN percent-encoded as one segment.  nginx decodes it
 * into a '/' inside the location, the provider reads one path label;
 * with the pieces between the "%2F" held to the same rules (no empty, "."
 * or ".." piece), neither view can leave the location.  pv may be NULL:
 * no provider's exceptions.
 */
ngx_int_t ngx_http_llmgw_provider_check_path(ngx_http_llmgw_provider_t *pv,
    u_char *p, size_t len);

/*
 * The API kind of a raw path (as check_path takes it): NGX_OK with kind
 * pointing at the provider's table, or NGX_DECLINED with kind empty when
 * no documented form matches exactly (case, a trailing '/', an encoded
 * letter, an extra or missing segment: unknown, never the nearest form).
 * A placeholder is never empty and holds no encoded space, control byte
 * or name_stop.  Each pattern is matched in one pass without backtracking
 * ('*' takes the whole segment), so the work is bounded by the number of
 * patterns times the path's length.
 */
ngx_int_t ngx_http_llmgw_provider_api(ngx_http_llmgw_provider_t *pv,
    u_char *p, size_t len, ngx_str_t *kind);

/* 1 when kind is an API kind of pv (pv NULL: of any provider) */
ngx_uint_t ngx_http_llmgw_provider_api_known(ngx_http_llmgw_provider_t *pv,
    ngx_str_t *kind);

/*
 * NGX_OK when a raw query holds no space, '#', control or non-ASCII byte
 * (an HTTP/2 client's :path may): it goes into an HTTP/1.1 request line.
 */
ngx_int_t ngx_http_llmgw_provider_check_query(u_char *p, size_t len);

/*
 * The raw query (without '?') with the provider's credential parameters
 * removed, other parameters kept in order, byte for byte.  out may point
 * into in when nothing is removed.
 */
ngx_int_t ngx_http_llmgw_provider_query(ngx_pool_t *pool,
    ngx_http_llmgw_provider_t *pv, ngx_str_t *in, ngx_str_t *out);

/*
 * The raw query (without '?') for a log: every parameter that is a
 * credential of any provider (api-key, key, access_token, x-amz-*; names
 * compared decoded, caseless) keeps its name and has its value replaced
 * by "REDACTED"; everything else is kept byte for byte.  out may point
 * into in when nothing is replaced.  NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_provider_query_redact(ngx_pool_t *pool,
    ngx_str_t *in, ngx_str_t *out);

/*
 * The model from a raw path: the segment after model_segment up to '/',
 * '?' or name_stop, percent-decoded into pool.  NGX_OK, NGX_DECLINED when
 * the path has none (or an oversized or unprintable one), NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_provider_model_from_path(ngx_pool_t *pool,
    ngx_http_llmgw_provider_t *pv, ngx_str_t *path, ngx_str_t *model);

/*
 * The top-level "model" string of a JSON object text, copied into pool.
 * NGX_OK, NGX_DECLINED (not JSON, no such string, oversized or
 * unprintable), NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_provider_model_from_json(ngx_pool_t *pool,
    u_char *p, size_t len, ngx_str_t *model);


#endif /* _NGX_HTTP_LLMGW_PROVIDER_H_INCLUDED_ */
