/* llmgw-unit-srcs: src/ngx_http_llmgw_error.c src/ngx_http_llmgw_json.c */
/* llmgw-unit-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * The errors llmgw answers itself: the fixed texts of each status, the
 * JSON body and the Bearer challenge of each error a client can get (as
 * README's "Errors clients see" lists them), escaping of both, and the
 * headers set on a request: WWW-Authenticate, Retry-After, those of a
 * JSON error body.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_error.h"


static void ngx_http_llmgw_test_err(ngx_http_llmgw_error_t *err,
    ngx_uint_t status, const char *error, const char *message,
    const char *scope);
static ngx_uint_t ngx_http_llmgw_test_is(ngx_str_t *s, const char *expect);
static void ngx_http_llmgw_test_texts(void);
static void ngx_http_llmgw_test_bodies(ngx_pool_t *pool);
static void ngx_http_llmgw_test_challenges(ngx_pool_t *pool);
static void ngx_http_llmgw_test_escaping(ngx_pool_t *pool);
static ngx_http_request_t *ngx_http_llmgw_test_request(ngx_pool_t *pool);
static ngx_table_elt_t *ngx_http_llmgw_test_header(ngx_http_request_t *r,
    const char *name);
static void ngx_http_llmgw_test_request_headers(ngx_pool_t *pool);


static ngx_str_t  ngx_http_llmgw_test_realm = ngx_string("llmgw");


/* an error as the access handler makes one: code from the RFC 6750 error */

static void
ngx_http_llmgw_test_err(ngx_http_llmgw_error_t *err, ngx_uint_t status,
    const char *error, const char *message, const char *scope)
{
    ngx_http_llmgw_error_status(err, status);

    if (error) {
        err->error.data = (u_char *) error;
        err->error.len = ngx_strlen(error);
        err->code = err->error;
    }

    if (message) {
        err->message.data = (u_char *) message;
        err->message.len = ngx_strlen(message);
    }

    if (scope) {
        err->scope.data = (u_char *) scope;
        err->scope.len = ngx_strlen(scope);
    }
}


static ngx_uint_t
ngx_http_llmgw_test_is(ngx_str_t *s, const char *expect)
{
    size_t  len;

    len = ngx_strlen(expect);

    if (s->len == len && ngx_memcmp(s->data, expect, len) == 0) {
        return 1;
    }

    printf("# got \"%.*s\"\n# expected \"%s\"\n", (int) s->len, s->data,
           expect);

    return 0;
}


static void
ngx_http_llmgw_test_texts(void)
{
    ngx_uint_t               i, ok;
    ngx_http_llmgw_error_t   err;

    static struct {
        ngx_uint_t           status;
        const char          *code;
        const char          *message;
    } texts[] = {
        { 400, "bad_request",
          "the request cannot be forwarded to the provider" },
        { 401, "unauthorized", "authentication required" },
        { 403, "forbidden", "access denied" },
        { 408, "request_timeout",
          "the request body was not received in time" },
        { 413, "payload_too_large", "the request body is too large" },
        { 429, "rate_limited", "too many requests" },
        { 500, "internal_error",
          "the gateway could not forward the request" },
        { 502, "bad_gateway",
          "the provider could not be reached or sent an invalid response" },
        { 503, "service_unavailable", "no provider server is available" },
        { 504, "gateway_timeout", "the provider did not respond in time" },
        { 501, "error", "the request failed" },
        { 418, "error", "the request failed" }
    };

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        ngx_http_llmgw_error_status(&err, texts[i].status);

        ok = err.status == texts[i].status
             && ngx_http_llmgw_test_is(&err.code, texts[i].code)
             && ngx_http_llmgw_test_is(&err.message, texts[i].message)
             && err.error.len == 0
             && err.scope.len == 0;

        ngx_http_llmgw_unit_check(ok, "status %u: %s",
                                  (unsigned) texts[i].status, texts[i].code);
    }
}


static void
ngx_http_llmgw_test_bodies(ngx_pool_t *pool)
{
    ngx_str_t               body;
    ngx_http_llmgw_error_t  err;

    ngx_http_llmgw_test_err(&err, 401, NULL, "missing bearer token", NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_body(pool, &err, &body) == NGX_OK
        && ngx_http_llmgw_test_is(&body,
               "{\"error\":{\"code\":\"unauthorized\","
               "\"message\":\"missing bearer token\"}}\n"),
        "401 without a token");

    ngx_http_llmgw_test_err(&err, 401, "invalid_token", "token expired", NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_body(pool, &err, &body) == NGX_OK
        && ngx_http_llmgw_test_is(&body,
               "{\"error\":{\"code\":\"invalid_token\","
               "\"message\":\"token expired\"}}\n"),
        "401 invalid_token");

    ngx_http_llmgw_test_err(&err, 403, "insufficient_scope",
                            "insufficient scope", "openai.stt openai.tts");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_body(pool, &err, &body) == NGX_OK
        && ngx_http_llmgw_test_is(&body,
               "{\"error\":{\"code\":\"insufficient_scope\","
               "\"message\":\"insufficient scope\","
               "\"scope\":\"openai.stt openai.tts\"}}\n"),
        "403 insufficient_scope names the scopes");

    ngx_http_llmgw_test_err(&err, 403, NULL, "unknown API", NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_body(pool, &err, &body) == NGX_OK
        && ngx_http_llmgw_test_is(&body,
               "{\"error\":{\"code\":\"forbidden\","
               "\"message\":\"unknown API\"}}\n"),
        "403 without an error code");

    ngx_http_llmgw_test_err(&err, 400, "invalid_request",
                            "request path cannot be forwarded", NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_body(pool, &err, &body) == NGX_OK
        && ngx_http_llmgw_test_is(&body,
               "{\"error\":{\"code\":\"invalid_request\","
               "\"message\":\"request path cannot be forwarded\"}}\n"),
        "400 invalid_request");

    ngx_http_llmgw_error_status(&err, 502);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_body(pool, &err, &body) == NGX_OK
        && ngx_http_llmgw_test_is(&body,
               "{\"error\":{\"code\":\"bad_gateway\",\"message\":\"the "
               "provider could not be reached or sent an invalid "
               "response\"}}\n"),
        "502 as llmgw_pass answered it");

    ngx_http_llmgw_error_status(&err, 413);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_body(pool, &err, &body) == NGX_OK
        && ngx_http_llmgw_test_is(&body,
               "{\"error\":{\"code\":\"payload_too_large\",\"message\":"
               "\"the request body is too large\"}}\n"),
        "413 as llmgw_pass answered it");
}


static void
ngx_http_llmgw_test_challenges(ngx_pool_t *pool)
{
    ngx_str_t               v, realm;
    ngx_http_llmgw_error_t  err;

    ngx_http_llmgw_test_err(&err, 401, NULL, "missing bearer token", NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_challenged(&err)
        && ngx_http_llmgw_error_challenge(pool, &ngx_http_llmgw_test_realm,
                                          &err, &v) == NGX_OK
        && ngx_http_llmgw_test_is(&v, "Bearer realm=\"llmgw\""),
        "no token: a bare challenge (RFC 6750 section 3.1)");

    ngx_http_llmgw_test_err(&err, 401, "invalid_token", "token expired", NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_challenged(&err)
        && ngx_http_llmgw_error_challenge(pool, &ngx_http_llmgw_test_realm,
                                          &err, &v) == NGX_OK
        && ngx_http_llmgw_test_is(&v, "Bearer realm=\"llmgw\", "
                                  "error=\"invalid_token\", "
                                  "error_description=\"token expired\""),
        "invalid_token with its description");

    ngx_http_llmgw_test_err(&err, 401, "invalid_request",
                            "more than one credential given", NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_challenge(pool,
                             &ngx_http_llmgw_test_realm, &err, &v) == NGX_OK
        && ngx_http_llmgw_test_is(&v, "Bearer realm=\"llmgw\", "
                                  "error=\"invalid_request\", "
                                  "error_description=\"more than one "
                                  "credential given\""),
        "invalid_request");

    ngx_http_llmgw_test_err(&err, 403, "insufficient_scope",
                            "insufficient scope", "openai.stt");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_challenged(&err)
        && ngx_http_llmgw_error_challenge(pool, &ngx_http_llmgw_test_realm,
                                          &err, &v) == NGX_OK
        && ngx_http_llmgw_test_is(&v, "Bearer realm=\"llmgw\", "
                                  "error=\"insufficient_scope\", "
                                  "error_description=\"insufficient scope\", "
                                  "scope=\"openai.stt\""),
        "insufficient_scope with the scope");

    /* RFC 9728 section 5.1, quoted like the rest */

    ngx_str_set(&err.resource_metadata,
                "https://gw.example.com/.well-known/oauth-protected-resource");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_challenge(pool,
                             &ngx_http_llmgw_test_realm, &err, &v) == NGX_OK
        && ngx_http_llmgw_test_is(&v, "Bearer realm=\"llmgw\", "
                                  "error=\"insufficient_scope\", "
                                  "error_description=\"insufficient scope\", "
                                  "scope=\"openai.stt\", resource_metadata="
                                  "\"https://gw.example.com/.well-known/"
                                  "oauth-protected-resource\""),
        "resource_metadata after the scope");

    ngx_str_set(&err.resource_metadata, "https://a\"b\\c");
    ngx_str_null(&err.scope);
    ngx_str_null(&err.error);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_challenge(pool,
                             &ngx_http_llmgw_test_realm, &err, &v) == NGX_OK
        && ngx_http_llmgw_test_is(&v, "Bearer realm=\"llmgw\", "
                                  "resource_metadata=\"https://a\\\"b"
                                  "\\\\c\""),
        "resource_metadata alone, quote and backslash escaped");

    ngx_str_null(&err.resource_metadata);

    ngx_http_llmgw_test_err(&err, 400, "invalid_request",
                            "request path cannot be forwarded", NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_challenged(&err),
                         "400 invalid_request is challenged");

    ngx_http_llmgw_test_err(&err, 403, NULL, "API not allowed here", NULL);

    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_error_challenged(&err),
                         "403 without an error code: no challenge");

    ngx_http_llmgw_error_status(&err, 502);

    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_error_challenged(&err),
                         "502: no challenge");

    ngx_str_set(&realm, "LLM gateway");
    ngx_http_llmgw_test_err(&err, 401, NULL, "missing bearer token", NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_challenge(pool, &realm, &err,
                                                        &v) == NGX_OK
        && ngx_http_llmgw_test_is(&v, "Bearer realm=\"LLM gateway\""),
        "the configured realm");
}


static void
ngx_http_llmgw_test_escaping(ngx_pool_t *pool)
{
    ngx_str_t               v, realm;
    ngx_http_llmgw_error_t  err;

    ngx_http_llmgw_test_err(&err, 401, "invalid_token",
                            "claim \"a\\b\" \x01\n\x7f missing", NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_body(pool, &err, &v) == NGX_OK
        && ngx_http_llmgw_test_is(&v,
               "{\"error\":{\"code\":\"invalid_token\",\"message\":"
               "\"claim \\\"a\\\\b\\\" \\u0001\\u000a\\u007f missing\"}}\n"),
        "JSON: quote, backslash and control bytes escaped");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_challenge(pool,
                             &ngx_http_llmgw_test_realm, &err, &v) == NGX_OK
        && ngx_http_llmgw_test_is(&v, "Bearer realm=\"llmgw\", "
                                  "error=\"invalid_token\", "
                                  "error_description=\"claim \\\"a\\\\b\\\" "
                                  "??? missing\""),
        "challenge: quoted-pairs, no control byte (no header injection)");

    ngx_str_set(&realm, "a\"b\r\nX-Injected: 1");
    ngx_http_llmgw_test_err(&err, 401, NULL, "missing bearer token", NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_challenge(pool, &realm, &err,
                                                        &v) == NGX_OK
        && ngx_http_llmgw_test_is(&v,
                                  "Bearer realm=\"a\\\"b??X-Injected: 1\""),
        "realm escaped too");

    ngx_http_llmgw_test_err(&err, 403, "insufficient_scope",
                            "insufficient scope", "a\"b");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_body(pool, &err, &v) == NGX_OK
        && ngx_http_llmgw_test_is(&v,
               "{\"error\":{\"code\":\"insufficient_scope\",\"message\":"
               "\"insufficient scope\",\"scope\":\"a\\\"b\"}}\n"),
        "JSON: scope escaped");
}


static ngx_http_request_t *
ngx_http_llmgw_test_request(ngx_pool_t *pool)
{
    ngx_http_request_t  *r;

    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    if (r == NULL) {
        return NULL;
    }

    r->pool = pool;

    if (ngx_list_init(&r->headers_out.headers, pool, 4,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NULL;
    }

    r->headers_out.content_length_n = -1;
    r->headers_out.last_modified_time = -1;

    return r;
}


/* the one header of that name that would be sent, or NULL */

static ngx_table_elt_t *
ngx_http_llmgw_test_header(ngx_http_request_t *r, const char *name)
{
    ngx_uint_t        i, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *found;

    found = NULL;
    n = 0;

    for (part = &r->headers_out.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].hash != 0
                && h[i].key.len == ngx_strlen(name)
                && ngx_strncasecmp(h[i].key.data, (u_char *) name,
                                   h[i].key.len) == 0)
            {
                found = &h[i];
                n++;
            }
        }
    }

    return n == 1 ? found : NULL;
}


static void
ngx_http_llmgw_test_request_headers(ngx_pool_t *pool)
{
    ngx_str_t                body;
    ngx_table_elt_t         *h, *cl;
    ngx_http_request_t      *r;
    ngx_http_llmgw_error_t   err;

    r = ngx_http_llmgw_test_request(pool);

    ngx_http_llmgw_test_err(&err, 403, "insufficient_scope",
                            "insufficient scope", "audio");

    NGX_HTTP_LLMGW_CHECK(r != NULL
        && ngx_http_llmgw_error_www_authenticate(r,
               &ngx_http_llmgw_test_realm, &err) == NGX_OK
        && (h = ngx_http_llmgw_test_header(r, "WWW-Authenticate")) != NULL
        && r->headers_out.www_authenticate == h
        && ngx_http_llmgw_test_is(&h->value, "Bearer realm=\"llmgw\", "
                                  "error=\"insufficient_scope\", "
                                  "error_description=\"insufficient scope\", "
                                  "scope=\"audio\""),
        "WWW-Authenticate set, as www_authenticate (satisfy any hides it)");

    r = ngx_http_llmgw_test_request(pool);

    ngx_http_llmgw_test_err(&err, 403, NULL, "unknown API", NULL);

    NGX_HTTP_LLMGW_CHECK(r != NULL
        && ngx_http_llmgw_error_www_authenticate(r,
               &ngx_http_llmgw_test_realm, &err) == NGX_OK
        && r->headers_out.headers.part.nelts == 0
        && r->headers_out.www_authenticate == NULL,
        "no WWW-Authenticate for a refusal without an error code");

    r = ngx_http_llmgw_test_request(pool);

    NGX_HTTP_LLMGW_CHECK(r != NULL
        && ngx_http_llmgw_error_retry_after(r, 30) == NGX_OK
        && (h = ngx_http_llmgw_test_header(r, "Retry-After")) != NULL
        && ngx_http_llmgw_test_is(&h->value, "30"),
        "Retry-After: 30");

    r = ngx_http_llmgw_test_request(pool);

    NGX_HTTP_LLMGW_CHECK(r != NULL
        && ngx_http_llmgw_error_retry_after(r, -5) == NGX_OK
        && (h = ngx_http_llmgw_test_header(r, "Retry-After")) != NULL
        && ngx_http_llmgw_test_is(&h->value, "0"),
        "Retry-After never negative");

    r = ngx_http_llmgw_test_request(pool);

    NGX_HTTP_LLMGW_CHECK(r != NULL
        && ngx_http_llmgw_error_retry_after(r, 86400 * 365) == NGX_OK
        && (h = ngx_http_llmgw_test_header(r, "Retry-After")) != NULL
        && ngx_http_llmgw_test_is(&h->value, "31536000"),
        "Retry-After: a year");

    /* the headers of a JSON body in place of nginx's HTML error page */

    r = ngx_http_llmgw_test_request(pool);

    if (r == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "request");
        return;
    }

    ngx_str_set(&r->headers_out.content_type, "text/html");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    ngx_str_set(&r->headers_out.charset, "utf-8");
    r->headers_out.content_length_n = 497;
    r->allow_ranges = 1;

    cl = ngx_list_push(&r->headers_out.headers);
    if (cl == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "Content-Length header");
        return;
    }

    cl->hash = 1;
    ngx_str_set(&cl->key, "Content-Length");
    ngx_str_set(&cl->value, "497");
    r->headers_out.content_length = cl;

    ngx_http_llmgw_error_status(&err, 504);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_error_body(pool, &err, &body) == NGX_OK
        && ngx_http_llmgw_error_headers(r, &body) == NGX_OK
        && ngx_http_llmgw_test_is(&r->headers_out.content_type,
                                  "application/json")
        && r->headers_out.content_type_len == sizeof("application/json") - 1
        && r->headers_out.charset.len == 0
        && r->headers_out.content_length_n == (off_t) body.len
        && r->headers_out.content_length == NULL
        && cl->hash == 0
        && !r->allow_ranges
        && (h = ngx_http_llmgw_test_header(r, "Cache-Control")) != NULL
        && ngx_http_llmgw_test_is(&h->value, "no-store"),
        "JSON error headers: type, length, no-store, no charset or ranges");
}


int
main(void)
{
    ngx_pool_t  *pool;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        return 2;
    }

    ngx_http_llmgw_test_texts();
    ngx_http_llmgw_test_bodies(pool);
    ngx_http_llmgw_test_challenges(pool);
    ngx_http_llmgw_test_escaping(pool);
    ngx_http_llmgw_test_request_headers(pool);

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
