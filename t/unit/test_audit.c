/* llmgw-unit-srcs: src/ngx_http_llmgw_audit.c src/ngx_http_llmgw_json.c */
/* llmgw-unit-libs: -lcrypto -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * Audit lines: every type of field, the exact length, hostile values
 * (quotes, controls, ill-formed UTF-8) still giving one JSON object a
 * line that parses back to the values given, a raw member written as it
 * is, member names checked, and the chain's HMAC-SHA256 against RFC 4231's
 * test case 2.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>
#include <openssl/hmac.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_audit.h"


static json_t *ngx_http_llmgw_test_line(ngx_pool_t *pool,
    ngx_http_llmgw_audit_field_t *f, ngx_uint_t n, ngx_str_t *line);
static void ngx_http_llmgw_test_types(ngx_pool_t *pool);
static void ngx_http_llmgw_test_hostile(ngx_pool_t *pool);
static void ngx_http_llmgw_test_raw(ngx_pool_t *pool);
static void ngx_http_llmgw_test_names(void);
static void ngx_http_llmgw_test_mac(void);


#define FIELD_STR(f, n, v)                                                    \
    ngx_str_set(&(f)->name, n); (f)->type = NGX_HTTP_LLMGW_AUDIT_STR;         \
    (f)->str.data = (u_char *) (v); (f)->str.len = sizeof(v) - 1

#define FIELD_INT(f, n, v)                                                    \
    ngx_str_set(&(f)->name, n); (f)->type = NGX_HTTP_LLMGW_AUDIT_INT;         \
    (f)->num = (v)


/* the line of f, checked for length and shape, parsed; NULL on failure */

static json_t *
ngx_http_llmgw_test_line(ngx_pool_t *pool, ngx_http_llmgw_audit_field_t *f,
    ngx_uint_t n, ngx_str_t *line)
{
    u_char  *p, *end;
    size_t   len;

    len = ngx_http_llmgw_audit_len(f, n);
    p = ngx_pnalloc(pool, len);
    end = ngx_http_llmgw_audit_write(p, f, n);

    line->data = p;
    line->len = end - p;

    if (line->len != len || line->len < 3 || end[-1] != '\n'
        || ngx_strlchr(p, end - 1, '\n') != NULL)
    {
        return NULL;
    }

    return json_loadb((const char *) p, line->len - 1,
                      JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
}


static void
ngx_http_llmgw_test_types(ngx_pool_t *pool)
{
    json_t                        *j;
    ngx_str_t                      line, scopes[2];
    ngx_http_llmgw_audit_field_t   f[8];

    ngx_memzero(f, sizeof(f));

    FIELD_INT(&f[0], "v", 1);
    FIELD_STR(&f[1], "sub", "alice");
    FIELD_INT(&f[2], "gen_ai.usage.input_tokens", 9007199254740991LL);
    FIELD_INT(&f[3], "neg", -9223372036854775807LL - 1);
    ngx_str_set(&f[4].name, "stream");
    f[4].type = NGX_HTTP_LLMGW_AUDIT_BOOL;
    f[4].num = 1;
    ngx_str_set(&f[5].name, "reason");
    f[5].type = NGX_HTTP_LLMGW_AUDIT_NULL;
    ngx_str_set(&scopes[0], "text");
    ngx_str_set(&scopes[1], "audio");
    ngx_str_set(&f[6].name, "scopes");
    f[6].type = NGX_HTTP_LLMGW_AUDIT_STRS;
    f[6].strs = scopes;
    f[6].nstrs = 2;
    ngx_str_set(&f[7].name, "hidden");
    f[7].type = NGX_HTTP_LLMGW_AUDIT_SKIP;

    j = ngx_http_llmgw_test_line(pool, f, 8, &line);

    NGX_HTTP_LLMGW_CHECK(j != NULL, "a line of every type parses");
    NGX_HTTP_LLMGW_CHECK(line.len == sizeof("{\"v\":1,\"sub\":\"alice\","
                         "\"gen_ai.usage.input_tokens\":9007199254740991,"
                         "\"neg\":-9223372036854775808,\"stream\":true,"
                         "\"reason\":null,\"scopes\":[\"text\",\"audio\"]}\n")
                         - 1
                         && ngx_strncmp(line.data, "{\"v\":1,\"sub\":\"alice\","
                                        "\"gen_ai.usage.input_tokens\":"
                                        "9007199254740991,", 63) == 0,
                         "the line, byte for byte, skipped field left out");
    NGX_HTTP_LLMGW_CHECK(j && json_integer_value(json_object_get(j, "neg"))
                              == -9223372036854775807LL - 1,
                         "the smallest integer round-trips");
    NGX_HTTP_LLMGW_CHECK(j && json_object_get(j, "hidden") == NULL
                         && json_is_null(json_object_get(j, "reason"))
                         && json_is_true(json_object_get(j, "stream"))
                         && json_array_size(json_object_get(j, "scopes"))
                            == 2,
                         "null, true, an array of strings");
    json_decref(j);

    j = ngx_http_llmgw_test_line(pool, f, 0, &line);
    NGX_HTTP_LLMGW_CHECK(j && json_object_size(j) == 0
                         && line.len == 3, "no field: {}");
    json_decref(j);
}


static void
ngx_http_llmgw_test_hostile(ngx_pool_t *pool)
{
    json_t                        *j;
    ngx_str_t                      line, strs[1];
    const char                    *s;
    ngx_http_llmgw_audit_field_t   f[3];

    ngx_memzero(f, sizeof(f));

    /* a claim value with a quote, a newline, a NUL, a lone byte */

    FIELD_STR(&f[0], "sub", "a\"},\"decision\":\"allow\n\x00\xff\\");
    FIELD_STR(&f[1], "path", "/x?\r\n{\"v\":2}");
    strs[0].data = (u_char *) "\xe5\xb1\xb1\xe7\x94\xb0\xc0";
    strs[0].len = 7;
    ngx_str_set(&f[2].name, "scopes");
    f[2].type = NGX_HTTP_LLMGW_AUDIT_STRS;
    f[2].strs = strs;
    f[2].nstrs = 1;

    j = ngx_http_llmgw_test_line(pool, f, 3, &line);

    NGX_HTTP_LLMGW_CHECK(j != NULL && json_object_size(j) == 3,
                         "hostile values stay inside their members, "
                         "one line");

    s = j ? json_string_value(json_object_get(j, "sub")) : NULL;

    NGX_HTTP_LLMGW_CHECK(s && json_string_length(json_object_get(j, "sub"))
                              == 27
                         && ngx_strncmp(s, "a\"},\"decision\":\"allow\n", 22)
                            == 0,
                         "a quote and a newline come back as they were");
    NGX_HTTP_LLMGW_CHECK(j && json_object_get(j, "decision") == NULL,
                         "no member injected");
    json_decref(j);
}



/* a checkpoint's heads: JSON the caller built, neither quoted nor escaped */

static void
ngx_http_llmgw_test_raw(ngx_pool_t *pool)
{
    json_t                        *j, *h;
    ngx_str_t                      line;
    ngx_http_llmgw_audit_field_t   f[3];

    ngx_memzero(f, sizeof(f));

    FIELD_STR(&f[0], "type", "checkpoint");
    ngx_str_set(&f[1].name, "heads");
    f[1].type = NGX_HTTP_LLMGW_AUDIT_RAW;
    ngx_str_set(&f[1].str, "[{\"chain\":\"1f-2e\",\"seq\":3}]");
    FIELD_INT(&f[2], "seq", 4);

    j = ngx_http_llmgw_test_line(pool, f, 3, &line);

    NGX_HTTP_LLMGW_CHECK(j != NULL
                         && line.len == sizeof("{\"type\":\"checkpoint\","
                                               "\"heads\":[{\"chain\":"
                                               "\"1f-2e\",\"seq\":3}],"
                                               "\"seq\":4}\n") - 1,
                         "a raw member, written as it is");

    h = j ? json_array_get(json_object_get(j, "heads"), 0) : NULL;

    NGX_HTTP_LLMGW_CHECK(h != NULL
                         && json_integer_value(json_object_get(h, "seq"))
                            == 3,
                         "a raw member parses back");
    json_decref(j);
}

static void
ngx_http_llmgw_test_names(void)
{
    ngx_str_t  name;

#define NAME(n, ok)                                                           \
    ngx_str_set(&name, n);                                                    \
    NGX_HTTP_LLMGW_CHECK((ngx_http_llmgw_audit_name_valid(&name) == NGX_OK)   \
                         == ok, "member name " n)

    NAME("cost_center", 1);
    NAME("gen_ai.usage.input_tokens", 1);
    NAME("x-team:id", 1);
    NAME("", 0);
    NAME("a\"b", 0);
    NAME("a b", 0);
    NAME("a\\b", 0);
    NAME("\xc3\xa9", 0);
    NAME("a123456789012345678901234567890123456789012345678901234567890123",
         1);
    NAME("ab123456789012345678901234567890123456789012345678901234567890123",
         0);
}


/* RFC 4231 section 4.3, test case 2 */

static void
ngx_http_llmgw_test_mac(void)
{
    u_char        mac[NGX_HTTP_LLMGW_AUDIT_MAC_LEN];
    u_char        one[NGX_HTTP_LLMGW_AUDIT_MAC_LEN];
    u_char        hex[2 * NGX_HTTP_LLMGW_AUDIT_MAC_LEN];
    ngx_str_t     key;
    ngx_uint_t    i;
    unsigned int  n;
    EVP_MAC_CTX  *hmac;

    ngx_str_set(&key, "Jefe");

    hmac = ngx_http_llmgw_audit_hmac_create(&key);

    NGX_HTTP_LLMGW_CHECK(hmac != NULL, "chain key made ready");

    if (hmac == NULL) {
        return;
    }

    /* the same context for lines in a row: each MAC starts afresh */

    for (i = 0; i < 3; i++) {
        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_audit_mac(hmac,
                                 (u_char *) "what do ya want for nothing?",
                                 28, mac) == NGX_OK, "HMAC computed");

        ngx_hex_dump(hex, mac, NGX_HTTP_LLMGW_AUDIT_MAC_LEN);

        NGX_HTTP_LLMGW_CHECK(ngx_strncmp(hex,
                                         "5bdcc146bf60754e6a042426089575c7"
                                         "5a003f089d2739839dec58b964ec3843",
                                         sizeof(hex)) == 0,
                             "HMAC-SHA256 of RFC 4231 test case 2");

        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_audit_mac(hmac,
                                 (u_char *) "another line", 12, mac)
                             == NGX_OK, "HMAC of another line computed");

        NGX_HTTP_LLMGW_CHECK(HMAC(EVP_sha256(), "Jefe", 4,
                                  (u_char *) "another line", 12, one, &n)
                             != NULL
                             && n == NGX_HTTP_LLMGW_AUDIT_MAC_LEN
                             && ngx_memcmp(mac, one, n) == 0,
                             "a line after another: as one-shot HMAC()");
    }

    ngx_http_llmgw_audit_hmac_free(hmac);
}


int
main(void)
{
    ngx_pool_t  *pool;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);

    ngx_http_llmgw_test_types(pool);
    ngx_http_llmgw_test_hostile(pool);
    ngx_http_llmgw_test_raw(pool);
    ngx_http_llmgw_test_names();
    ngx_http_llmgw_test_mac();

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
