/* llmgw-unit-srcs: src/ngx_http_llmgw_claims.c */
/* llmgw-unit-libs: -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * Registered-claim checks: times with and without leeway, iss, aud as a
 * string and an array, typ, required claims, amr; and claim text for
 * variables.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_claims.h"


#define NOW  1800000000


static ngx_int_t ngx_http_llmgw_test_check(ngx_http_llmgw_claims_conf_t *ccf,
    const char *json, const char *typ, const char **reason);
static ngx_array_t *ngx_http_llmgw_test_list(ngx_pool_t *pool,
    const char *a, const char *b);
static void ngx_http_llmgw_test_times(void);
static void ngx_http_llmgw_test_identity(ngx_pool_t *pool);
static void ngx_http_llmgw_test_text(ngx_pool_t *pool);


static ngx_int_t
ngx_http_llmgw_test_check(ngx_http_llmgw_claims_conf_t *ccf, const char *json,
    const char *typ, const char **reason)
{
    json_t     *claims;
    ngx_int_t   rc;
    ngx_str_t   t;

    claims = json_loads(json, 0, NULL);

    t.data = (u_char *) typ;
    t.len = ngx_strlen(typ);
    *reason = "";

    rc = ngx_http_llmgw_claims_check(ccf, claims, &t, NOW, reason);

    json_decref(claims);

    return rc;
}


static ngx_array_t *
ngx_http_llmgw_test_list(ngx_pool_t *pool, const char *a, const char *b)
{
    ngx_str_t    *s;
    ngx_array_t  *list;

    list = ngx_array_create(pool, 2, sizeof(ngx_str_t));

    s = ngx_array_push(list);
    s->data = (u_char *) a;
    s->len = ngx_strlen(a);

    if (b) {
        s = ngx_array_push(list);
        s->data = (u_char *) b;
        s->len = ngx_strlen(b);
    }

    return list;
}


#define CHECK_OK(ccf, json, typ)                                              \
    do {                                                                      \
        const char *reason_;                                                  \
        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_check(ccf, json, typ,        \
                                                       &reason_) == NGX_OK,   \
                             "accepted: " json);                              \
    } while (0)

#define CHECK_NO(ccf, json, typ, why)                                         \
    do {                                                                      \
        const char *reason_;                                                  \
        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_check(ccf, json, typ,        \
                                                       &reason_)              \
                             == NGX_DECLINED                                  \
                             && ngx_strcmp(reason_, why) == 0,                \
                             "refused (" why "): " json);                     \
    } while (0)


static void
ngx_http_llmgw_test_times(void)
{
    ngx_http_llmgw_claims_conf_t  ccf;

    ngx_memzero(&ccf, sizeof(ngx_http_llmgw_claims_conf_t));
    ccf.require_exp = 1;

    CHECK_OK(&ccf, "{\"exp\":1800000060}", "");
    CHECK_OK(&ccf, "{\"exp\":1800000010.5e0}", "");
    CHECK_NO(&ccf, "{}", "", "missing exp claim");
    CHECK_NO(&ccf, "{\"exp\":1800000000}", "", "token expired");
    CHECK_NO(&ccf, "{\"exp\":1799999999}", "", "token expired");
    CHECK_NO(&ccf, "{\"exp\":\"1800000060\"}", "", "malformed exp claim");
    CHECK_NO(&ccf, "{\"exp\":-1e300}", "", "malformed exp claim");
    CHECK_NO(&ccf, "{\"exp\":1800000060,\"nbf\":1800000001}", "",
             "token not yet valid");
    CHECK_OK(&ccf, "{\"exp\":1800000060,\"nbf\":1800000000}", "");
    CHECK_NO(&ccf, "{\"exp\":1800000060,\"nbf\":true}", "",
             "malformed nbf claim");
    CHECK_NO(&ccf, "{\"exp\":1800000060,\"iat\":1800000001}", "",
             "token issued in the future");
    CHECK_NO(&ccf, "{\"exp\":1800000060,\"iat\":null}", "",
             "malformed iat claim");

    ccf.require_exp = 0;

    CHECK_OK(&ccf, "{}", "");
    CHECK_NO(&ccf, "{\"exp\":1799999999}", "", "token expired");

    ccf.require_exp = 1;
    ccf.leeway = 30;

    CHECK_OK(&ccf, "{\"exp\":1799999980}", "");
    CHECK_NO(&ccf, "{\"exp\":1799999970}", "", "token expired");
    CHECK_OK(&ccf, "{\"exp\":1800000060,\"nbf\":1800000030}", "");
    CHECK_NO(&ccf, "{\"exp\":1800000060,\"nbf\":1800000031}", "",
             "token not yet valid");
    CHECK_OK(&ccf, "{\"exp\":1800000060,\"iat\":1800000030}", "");
    CHECK_NO(&ccf, "{\"exp\":1800000060,\"iat\":1800000031}", "",
             "token issued in the future");
}


static void
ngx_http_llmgw_test_identity(ngx_pool_t *pool)
{
    ngx_http_llmgw_claims_conf_t  ccf;

    ngx_memzero(&ccf, sizeof(ngx_http_llmgw_claims_conf_t));
    ccf.issuers = ngx_http_llmgw_test_list(pool, "https://idp.example.com",
                                           "https://login.example.org/t");
    ccf.audiences = ngx_http_llmgw_test_list(pool, "llmgw", "api://gw");

    CHECK_OK(&ccf, "{\"iss\":\"https://idp.example.com\",\"aud\":\"llmgw\"}",
             "");
    CHECK_OK(&ccf, "{\"iss\":\"https://login.example.org/t\","
             "\"aud\":[\"other\",\"api://gw\"]}", "");
    CHECK_NO(&ccf, "{\"iss\":\"https://idp.example.com/\",\"aud\":\"llmgw\"}",
             "", "issuer not accepted");
    CHECK_NO(&ccf, "{\"iss\":\"https://idp.example.co\",\"aud\":\"llmgw\"}",
             "", "issuer not accepted");
    CHECK_NO(&ccf, "{\"aud\":\"llmgw\"}", "", "issuer not accepted");
    CHECK_NO(&ccf, "{\"iss\":[\"https://idp.example.com\"],\"aud\":\"llmgw\"}",
             "", "issuer not accepted");
    CHECK_NO(&ccf, "{\"iss\":\"https://idp.example.com\",\"aud\":\"llmg\"}",
             "", "audience not accepted");
    CHECK_NO(&ccf, "{\"iss\":\"https://idp.example.com\","
             "\"aud\":[\"other\",7]}", "", "audience not accepted");
    CHECK_NO(&ccf, "{\"iss\":\"https://idp.example.com\",\"aud\":[]}", "",
             "audience not accepted");
    CHECK_NO(&ccf, "{\"iss\":\"https://idp.example.com\"}", "",
             "audience not accepted");

    ngx_memzero(&ccf, sizeof(ngx_http_llmgw_claims_conf_t));
    ccf.typs = ngx_http_llmgw_test_list(pool, "at+jwt", "application/at+jwt");

    CHECK_OK(&ccf, "{}", "at+jwt");
    CHECK_OK(&ccf, "{}", "AT+JWT");
    CHECK_OK(&ccf, "{}", "application/at+jwt");
    CHECK_NO(&ccf, "{}", "JWT", "token type not accepted");
    CHECK_NO(&ccf, "{}", "", "token type not accepted");

    ngx_memzero(&ccf, sizeof(ngx_http_llmgw_claims_conf_t));
    ccf.required = ngx_http_llmgw_test_list(pool, "sub", "department");

    CHECK_OK(&ccf, "{\"sub\":\"u1\",\"department\":\"finance\"}", "");
    CHECK_NO(&ccf, "{\"sub\":\"u1\"}", "", "required claim missing");
    CHECK_NO(&ccf, "{\"sub\":\"u1\",\"department\":null}", "",
             "required claim missing");

    ngx_memzero(&ccf, sizeof(ngx_http_llmgw_claims_conf_t));
    ccf.amr = ngx_http_llmgw_test_list(pool, "mfa", "hwk");

    CHECK_OK(&ccf, "{\"amr\":[\"pwd\",\"mfa\"]}", "");
    CHECK_OK(&ccf, "{\"amr\":[\"hwk\"]}", "");
    CHECK_NO(&ccf, "{\"amr\":[\"pwd\"]}", "",
             "multi-factor authentication required");
    CHECK_NO(&ccf, "{\"amr\":\"mfa\"}", "",
             "multi-factor authentication required");
    CHECK_NO(&ccf, "{}", "", "multi-factor authentication required");
}


static void
ngx_http_llmgw_test_text(ngx_pool_t *pool)
{
    json_t     *claims;
    ngx_str_t   name, value;

    claims = json_loads("{\"sub\":\"alice\",\"n\":42,\"b\":false,"
                        "\"groups\":[\"eng\",\"llm-users\",3,true],"
                        "\"o\":{\"k\":1},\"z\":null}", 0, NULL);

#define TEXT_IS(claim, expected)                                              \
    ngx_str_set(&name, claim);                                                \
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_claim_text(pool, claims, &name,       \
                                                   &value) == NGX_OK          \
                         && value.len == sizeof(expected) - 1                 \
                         && ngx_strncmp(value.data, expected, value.len)      \
                            == 0,                                             \
                         "claim " claim " reads " expected)

    TEXT_IS("sub", "alice");
    TEXT_IS("n", "42");
    TEXT_IS("b", "false");
    TEXT_IS("groups", "eng,llm-users,3,true");

    ngx_str_set(&name, "o");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_claim_text(pool, claims, &name,
                                                   &value) == NGX_DECLINED,
                         "an object claim has no text");
    ngx_str_set(&name, "z");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_claim_text(pool, claims, &name,
                                                   &value) == NGX_DECLINED,
                         "a null claim has no text");
    ngx_str_set(&name, "missing");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_claim_text(pool, claims, &name,
                                                   &value) == NGX_DECLINED,
                         "an absent claim has no text");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_claims_exp(claims) == 0,
                         "no exp reads as 0");

    json_decref(claims);
}


int
main(void)
{
    ngx_pool_t  *pool;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);

    ngx_http_llmgw_test_times();
    ngx_http_llmgw_test_identity(pool);
    ngx_http_llmgw_test_text(pool);

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
