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
static ngx_array_t *ngx_http_llmgw_test_typs(ngx_pool_t *pool,
    const char *typ);
static void ngx_http_llmgw_test_require(ngx_pool_t *pool,
    ngx_array_t *checks, const char *path, const char *a, const char *b);
static const char *ngx_http_llmgw_test_path(ngx_pool_t *pool,
    const char *text);
static void ngx_http_llmgw_test_paths(ngx_pool_t *pool);
static void ngx_http_llmgw_test_values(ngx_pool_t *pool);
static void ngx_http_llmgw_test_audience_claim(ngx_pool_t *pool);


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

    /* RFC 7515 section 4.1.9: "application/" may be left out, either side */

    ngx_memzero(&ccf, sizeof(ngx_http_llmgw_claims_conf_t));
    ccf.typs = ngx_http_llmgw_test_typs(pool, "at+jwt");

    CHECK_OK(&ccf, "{}", "at+jwt");
    CHECK_OK(&ccf, "{}", "AT+JWT");
    CHECK_OK(&ccf, "{}", "application/at+jwt");
    CHECK_OK(&ccf, "{}", "Application/AT+JWT");
    CHECK_NO(&ccf, "{}", "JWT", "token type not accepted");
    CHECK_NO(&ccf, "{}", "", "token type not accepted");
    CHECK_NO(&ccf, "{}", "application/", "token type not accepted");
    CHECK_NO(&ccf, "{}", "text/at+jwt", "token type not accepted");
    CHECK_NO(&ccf, "{}", "application/x/at+jwt", "token type not accepted");

    ccf.typs = ngx_http_llmgw_test_typs(pool, "application/at+jwt");

    CHECK_OK(&ccf, "{}", "at+jwt");
    CHECK_OK(&ccf, "{}", "application/at+jwt");
    CHECK_NO(&ccf, "{}", "jwt", "token type not accepted");

    /* a DPoP proof is never an access token, whatever typs allows */

    CHECK_NO(&ccf, "{}", "dpop+jwt", "a DPoP proof is not an access token");

    ngx_memzero(&ccf, sizeof(ngx_http_llmgw_claims_conf_t));

    CHECK_NO(&ccf, "{}", "dpop+jwt", "a DPoP proof is not an access token");
    CHECK_NO(&ccf, "{}", "DPoP+JWT", "a DPoP proof is not an access token");
    CHECK_NO(&ccf, "{}", "application/dpop+jwt",
             "a DPoP proof is not an access token");
    CHECK_OK(&ccf, "{}", "dpop+jwt2");
    CHECK_OK(&ccf, "{}", "text/dpop+jwt");

    ccf.typs = ngx_http_llmgw_test_typs(pool, "dpop+jwt");

    CHECK_NO(&ccf, "{}", "dpop+jwt", "a DPoP proof is not an access token");

    ngx_memzero(&ccf, sizeof(ngx_http_llmgw_claims_conf_t));
    ccf.checks = ngx_array_create(pool, 2,
                                  sizeof(ngx_http_llmgw_claim_check_t));
    ngx_http_llmgw_test_require(pool, ccf.checks, "sub", NULL, NULL);
    ngx_http_llmgw_test_require(pool, ccf.checks, "department", NULL, NULL);

    CHECK_OK(&ccf, "{\"sub\":\"u1\",\"department\":\"finance\"}", "");
    CHECK_NO(&ccf, "{\"sub\":\"u1\"}", "", "claim department missing");
    CHECK_NO(&ccf, "{\"sub\":\"u1\",\"department\":null}", "",
             "claim department missing");

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
    json_t                       *claims;
    ngx_str_t                     name, value;
    ngx_http_llmgw_claim_path_t   path;

    claims = json_loads("{\"sub\":\"alice\",\"n\":42,\"b\":false,"
                        "\"groups\":[\"eng\",\"llm-users\",3,true],"
                        "\"o\":{\"k\":1},\"z\":null}", 0, NULL);

#define TEXT_IS(claim, expected)                                              \
    ngx_str_set(&name, claim);                                                \
    ngx_http_llmgw_claim_path_single(&path, &name);                           \
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_claim_text(pool, claims, &path,       \
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
    ngx_http_llmgw_claim_path_single(&path, &name);
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_claim_text(pool, claims, &path,
                                                   &value) == NGX_DECLINED,
                         "an object claim has no text");
    ngx_str_set(&name, "z");
    ngx_http_llmgw_claim_path_single(&path, &name);
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_claim_text(pool, claims, &path,
                                                   &value) == NGX_DECLINED,
                         "a null claim has no text");
    ngx_str_set(&name, "missing");
    ngx_http_llmgw_claim_path_single(&path, &name);
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_claim_text(pool, claims, &path,
                                                   &value) == NGX_DECLINED,
                         "an absent claim has no text");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_claims_exp(claims) == 0,
                         "no exp reads as 0");

    json_decref(claims);
}


static ngx_array_t *
ngx_http_llmgw_test_typs(ngx_pool_t *pool, const char *typ)
{
    ngx_str_t    *s;
    ngx_array_t  *list;

    list = ngx_http_llmgw_test_list(pool, typ, NULL);
    s = list->elts;
    ngx_http_llmgw_typ_normalize(&s[0]);

    return list;
}


/* a check of path (parsed), equal to a or b when given */

static void
ngx_http_llmgw_test_require(ngx_pool_t *pool, ngx_array_t *checks,
    const char *path, const char *a, const char *b)
{
    ngx_str_t                     *v, text;
    const char                    *err;
    ngx_http_llmgw_claim_check_t  *check;

    check = ngx_array_push(checks);
    ngx_memzero(check, sizeof(ngx_http_llmgw_claim_check_t));

    text.data = (u_char *) path;
    text.len = ngx_strlen(path);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_claim_path_parse(pool, &text,
                                                         &check->path, &err)
                         == NGX_OK, "a test path parses");

    ngx_array_init(&check->values, pool, 2, sizeof(ngx_str_t));

    if (a) {
        v = ngx_array_push(&check->values);
        v->data = (u_char *) a;
        v->len = ngx_strlen(a);
    }

    if (b) {
        v = ngx_array_push(&check->values);
        v->data = (u_char *) b;
        v->len = ngx_strlen(b);
    }

    ngx_http_llmgw_claim_check_init(pool, check);
}


/* the names of a parsed path joined by '|', or the parser's refusal */

static const char *
ngx_http_llmgw_test_path(ngx_pool_t *pool, const char *text)
{
    u_char                       *p;
    ngx_str_t                     t;
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    const char                   *err;
    ngx_http_llmgw_claim_path_t   path;
    static u_char                 buf[256];

    t.data = (u_char *) text;
    t.len = ngx_strlen(text);

    rc = ngx_http_llmgw_claim_path_parse(pool, &t, &path, &err);

    if (rc != NGX_OK) {
        return rc == NGX_DECLINED ? err : "error";
    }

    p = buf;

    for (i = 0; i < path.nnames; i++) {
        if (i) {
            *p++ = '|';
        }

        p = ngx_cpymem(p, path.names[i].data, path.names[i].len);
    }

    *p = '\0';

    return (const char *) buf;
}


#define PATH_IS(text, expected)                                               \
    NGX_HTTP_LLMGW_CHECK(ngx_strcmp(ngx_http_llmgw_test_path(pool, text),     \
                                    expected) == 0,                           \
                         "path " text " -> " expected)


static void
ngx_http_llmgw_test_paths(ngx_pool_t *pool)
{
    PATH_IS("sub", "sub");
    PATH_IS("cognito:groups", "cognito:groups");
    PATH_IS("realm_access.roles", "realm_access|roles");
    PATH_IS("resource_access.\"llm.gateway\".roles",
            "resource_access|llm.gateway|roles");
    PATH_IS("\"https://gw.example.com/dept\"", "https://gw.example.com/dept");
    PATH_IS("\"a\\\"b\\\\c\".d", "a\"b\\c|d");
    PATH_IS("a.b.c.d.e.f.g.h", "a|b|c|d|e|f|g|h");

    PATH_IS("", "is empty");
    PATH_IS("a..b", "has an empty name");
    PATH_IS(".a", "has an empty name");
    PATH_IS("a.", "ends with a dot");
    PATH_IS("a.\"\"", "has an empty name");
    PATH_IS("a.\"b", "has an unterminated quote");
    PATH_IS("a.\"b\"c", "has text after a closing quote");
    PATH_IS("a\"b\"", "has a quote, backslash or control character "
            "outside quotes");
    PATH_IS("a\\.b", "has a quote, backslash or control character "
            "outside quotes");
    PATH_IS("\"a\\b\"", "has a backslash not before '\"' or '\\'");
    PATH_IS("\"a\tb\"", "has a control character");
    PATH_IS("a.b.c.d.e.f.g.h.i", "names more than 8 levels");
}


static void
ngx_http_llmgw_test_values(ngx_pool_t *pool)
{
    ngx_http_llmgw_claims_conf_t  ccf;

    ngx_memzero(&ccf, sizeof(ngx_http_llmgw_claims_conf_t));
    ccf.checks = ngx_array_create(pool, 2,
                                  sizeof(ngx_http_llmgw_claim_check_t));

    /* Cognito: an access token, never an id token */

    ngx_http_llmgw_test_require(pool, ccf.checks, "token_use", "access",
                                NULL);

    CHECK_OK(&ccf, "{\"token_use\":\"access\"}", "");
    CHECK_NO(&ccf, "{\"token_use\":\"id\"}", "",
             "claim token_use not accepted");
    CHECK_NO(&ccf, "{\"token_use\":\"Access\"}", "",
             "claim token_use not accepted");
    CHECK_NO(&ccf, "{\"token_use\":[\"id\"]}", "",
             "claim token_use not accepted");
    CHECK_NO(&ccf, "{\"token_use\":{\"access\":1}}", "",
             "claim token_use not accepted");
    CHECK_NO(&ccf, "{}", "", "claim token_use missing");
    CHECK_NO(&ccf, "{\"token_use\":null}", "", "claim token_use missing");

    /* a number by value, a string by its text */

    ccf.checks->nelts = 0;
    ngx_http_llmgw_test_require(pool, ccf.checks, "ver", "1", "2.0");

    CHECK_OK(&ccf, "{\"ver\":1}", "");
    CHECK_OK(&ccf, "{\"ver\":1.0}", "");
    CHECK_OK(&ccf, "{\"ver\":2}", "");
    CHECK_OK(&ccf, "{\"ver\":\"1\"}", "");
    CHECK_NO(&ccf, "{\"ver\":\"1.0\"}", "", "claim ver not accepted");
    CHECK_NO(&ccf, "{\"ver\":3}", "", "claim ver not accepted");
    CHECK_NO(&ccf, "{\"ver\":true}", "", "claim ver not accepted");

    ccf.checks->nelts = 0;
    ngx_http_llmgw_test_require(pool, ccf.checks, "ver", "2.0", NULL);

    CHECK_OK(&ccf, "{\"ver\":\"2.0\"}", "");
    CHECK_OK(&ccf, "{\"ver\":2}", "");

    ccf.checks->nelts = 0;
    ngx_http_llmgw_test_require(pool, ccf.checks, "n", "0x10", "inf");

    CHECK_NO(&ccf, "{\"n\":16}", "", "claim n not accepted");

    ccf.checks->nelts = 0;
    ngx_http_llmgw_test_require(pool, ccf.checks, "email_verified", "true",
                                NULL);

    CHECK_OK(&ccf, "{\"email_verified\":true}", "");
    CHECK_NO(&ccf, "{\"email_verified\":false}", "",
             "claim email_verified not accepted");
    CHECK_OK(&ccf, "{\"email_verified\":\"true\"}", "");
    CHECK_NO(&ccf, "{\"email_verified\":1}", "",
             "claim email_verified not accepted");

    /* arrays contain; nested and dotted names; the reason never quotes */

    ccf.checks->nelts = 0;
    ngx_http_llmgw_test_require(pool, ccf.checks,
                                "resource_access.\"llm.gateway\".roles",
                                "user", NULL);

    CHECK_OK(&ccf, "{\"resource_access\":{\"llm.gateway\":"
             "{\"roles\":[\"admin\",\"user\"]}}}", "");
    CHECK_NO(&ccf, "{\"resource_access\":{\"llm.gateway\":"
             "{\"roles\":[\"admin\"]}}}", "",
             "claim resource_access.'llm.gateway'.roles not accepted");
    CHECK_NO(&ccf, "{\"resource_access\":{\"llm\":{\"gateway\":"
             "{\"roles\":[\"user\"]}}}}", "",
             "claim resource_access.'llm.gateway'.roles missing");
}


static void
ngx_http_llmgw_test_audience_claim(ngx_pool_t *pool)
{
    ngx_str_t                     text;
    const char                   *err;
    ngx_http_llmgw_claim_path_t  *path;
    ngx_http_llmgw_claims_conf_t  ccf;

    ngx_memzero(&ccf, sizeof(ngx_http_llmgw_claims_conf_t));
    ccf.audiences = ngx_http_llmgw_test_list(pool, "7abc", NULL);
    ccf.audience_claims = ngx_array_create(pool, 2,
                                         sizeof(ngx_http_llmgw_claim_path_t));

    path = ngx_array_push(ccf.audience_claims);
    ngx_str_set(&text, "client_id");
    ngx_http_llmgw_claim_path_parse(pool, &text, path, &err);

    path = ngx_array_push(ccf.audience_claims);
    ngx_str_set(&text, "azp");
    ngx_http_llmgw_claim_path_parse(pool, &text, path, &err);

    /* AWS API Gateway's rule: client_id only when aud is absent */

    CHECK_OK(&ccf, "{\"client_id\":\"7abc\"}", "");
    CHECK_OK(&ccf, "{\"azp\":\"7abc\"}", "");
    CHECK_OK(&ccf, "{\"aud\":\"7abc\",\"client_id\":\"other\"}", "");
    CHECK_NO(&ccf, "{\"aud\":\"other\",\"client_id\":\"7abc\"}", "",
             "audience not accepted");
    CHECK_NO(&ccf, "{\"aud\":null,\"client_id\":\"7abc\"}", "",
             "audience not accepted");
    CHECK_NO(&ccf, "{\"client_id\":\"other\",\"azp\":\"7abc\"}", "",
             "audience not accepted");
    CHECK_NO(&ccf, "{\"client_id\":7}", "", "audience not accepted");
    CHECK_NO(&ccf, "{}", "", "audience not accepted");
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
    ngx_http_llmgw_test_paths(pool);
    ngx_http_llmgw_test_values(pool);
    ngx_http_llmgw_test_audience_claim(pool);

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
