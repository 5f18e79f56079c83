/* llmgw-unit-srcs: src/ngx_http_llmgw_sigv4.c */
/* llmgw-unit-libs: -lcrypto */

/*
 * Copyright (C) llmgw authors
 *
 * AWS Signature Version 4: AWS's published test suite (re-typed under
 * sigv4/, see sigv4/README), Bedrock requests signed by botocore
 * (sigv4-botocore.py, run here), and the signer's own rules and refusals.
 * Runs from t/unit (t/unit/run.sh does so).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdio.h>
#include <openssl/evp.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_sigv4.h"


#define NGX_HTTP_LLMGW_TEST_SUITE_TIME   1440938160  /* 20150830T123600Z */
#define NGX_HTTP_LLMGW_TEST_BOTOCORE                                          \
    "/usr/bin/python3 sigv4-botocore.py"

/* botocore's script signs 4 operations x 2 regions x 2 credentials + 1 */
#define NGX_HTTP_LLMGW_TEST_BOTOCORE_CASES  17


typedef struct {
    ngx_str_t                  method;
    ngx_str_t                  path;
    ngx_str_t                  query;
    ngx_str_t                  body;
    ngx_str_t                  token;
    ngx_uint_t                 s3;
    ngx_array_t                headers;   /* ngx_http_llmgw_sigv4_header_t */
    ngx_str_t                  creq;
    ngx_str_t                  sts;
    ngx_str_t                  authz;
} ngx_http_llmgw_test_case_t;


static ngx_int_t ngx_http_llmgw_test_load(ngx_pool_t *pool, char *name,
    ngx_str_t *text);
static ngx_int_t ngx_http_llmgw_test_parse(ngx_pool_t *pool, ngx_str_t *text,
    ngx_http_llmgw_test_case_t *tc);
static ngx_uint_t ngx_http_llmgw_test_key(ngx_str_t *line, char *key,
    ngx_str_t *value);
static ngx_uint_t ngx_http_llmgw_test_eq(ngx_str_t *s, ngx_str_t *expect);
static void ngx_http_llmgw_test_req(ngx_http_llmgw_sigv4_req_t *req,
    ngx_str_t *method, ngx_str_t *path, ngx_str_t *query,
    ngx_array_t *headers);
static ngx_int_t ngx_http_llmgw_test_body_hash(ngx_pool_t *pool,
    ngx_str_t *body, ngx_str_t *hex);
static void ngx_http_llmgw_test_suite_case(char *name);
static void ngx_http_llmgw_test_suite(void);
static void ngx_http_llmgw_test_botocore(void);
static void ngx_http_llmgw_test_botocore_case(ngx_pool_t *pool,
    ngx_array_t *fields, ngx_uint_t *cases);
static ngx_str_t *ngx_http_llmgw_test_field(ngx_array_t *fields, char *key);
static ngx_int_t ngx_http_llmgw_test_unhex(ngx_pool_t *pool, ngx_str_t *hex,
    ngx_str_t *out);
static ngx_int_t ngx_http_llmgw_test_creq(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_req_t *req, ngx_str_t *creq);
static ngx_str_t ngx_http_llmgw_test_line(ngx_str_t *text, ngx_uint_t n);
static void ngx_http_llmgw_test_uris(void);
static void ngx_http_llmgw_test_queries(void);
static void ngx_http_llmgw_test_headers(void);
static void ngx_http_llmgw_test_refusals(void);
static void ngx_http_llmgw_test_dates(void);
static void ngx_http_llmgw_test_hash_chain(void);
ssize_t ngx_read_file(ngx_file_t *file, u_char *buf, size_t size,
    off_t offset)
#if defined(__GNUC__)
    __attribute__((weak))
#endif
    ;


static ngx_str_t  ngx_http_llmgw_test_access_key = ngx_string("AKIDEXAMPLE");
static ngx_str_t  ngx_http_llmgw_test_secret_key =
    ngx_string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
static ngx_str_t  ngx_http_llmgw_test_token = ngx_string(
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsK"
    "WHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeeh"
    "M4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q"
    "6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypN"
    "C9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==");


/* every case of sigv4/, by file name without ".txt" */

static char  *ngx_http_llmgw_test_cases[] = {
    "get-vanilla",
    "get-vanilla-query",
    "get-vanilla-empty-query-key",
    "get-vanilla-query-order-key",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-order-value",
    "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query",
    "get-vanilla-utf8-query.wire",
    "get-utf8",
    "get-utf8.wire-s3",
    "get-space",
    "get-space.wire-s3",
    "get-unreserved",
    "get-header-key-duplicate",
    "get-header-value-multiline",
    "get-header-value-order",
    "get-header-value-trim",
    "post-vanilla",
    "post-vanilla-query",
    "post-vanilla-empty-query-value",
    "post-header-key-case",
    "post-header-key-sort",
    "post-header-value-case",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
    "post-sts-header-before",
    "get-relative",
    "get-relative-relative",
    "get-slash",
    "get-slash-dot-slash",
    "get-slash-pointless-dot",
    "get-slashes",
    NULL
};


static ngx_int_t
ngx_http_llmgw_test_load(ngx_pool_t *pool, char *name, ngx_str_t *text)
{
    long     size;
    FILE    *f;
    u_char  *buf;
    char     path[256];

    ngx_sprintf((u_char *) path, "sigv4/%s.txt%Z", name);

    f = fopen(path, "rb");
    if (f == NULL) {
        return NGX_ERROR;
    }

    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fclose(f);
        return NGX_ERROR;
    }

    buf = ngx_pnalloc(pool, size + 1);
    if (buf == NULL || fread(buf, 1, size, f) != (size_t) size) {
        fclose(f);
        return NGX_ERROR;
    }

    fclose(f);

    text->data = buf;
    text->len = size;

    return NGX_OK;
}


/* the format of sigv4/README */

static ngx_int_t
ngx_http_llmgw_test_parse(ngx_pool_t *pool, ngx_str_t *text,
    ngx_http_llmgw_test_case_t *tc)
{
    u_char                         *p, *nl, *end, *colon;
    ngx_str_t                       line, value, *section;
    ngx_http_llmgw_sigv4_header_t  *h;

    ngx_memzero(tc, sizeof(ngx_http_llmgw_test_case_t));

    if (ngx_array_init(&tc->headers, pool, 4,
                       sizeof(ngx_http_llmgw_sigv4_header_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    section = NULL;
    p = text->data;
    end = text->data + text->len;

    while (p < end) {
        nl = ngx_strlchr(p, end, '\n');
        if (nl == NULL) {
            nl = end;
        }

        line.data = p;
        line.len = nl - p;
        p = (nl < end) ? nl + 1 : end;

        if (line.len >= 4 && ngx_strncmp(line.data, "--- ", 4) == 0) {

            if (section != NULL && section->len) {
                section->len--;     /* the newline before "--- " */
            }

            value.data = line.data + 4;
            value.len = line.len - 4;

            if (value.len == 4 && ngx_strncmp(value.data, "creq", 4) == 0) {
                section = &tc->creq;

            } else if (value.len == 3
                       && ngx_strncmp(value.data, "sts", 3) == 0)
            {
                section = &tc->sts;

            } else if (value.len == 5
                       && ngx_strncmp(value.data, "authz", 5) == 0)
            {
                section = &tc->authz;

            } else if (value.len == 3
                       && ngx_strncmp(value.data, "end", 3) == 0)
            {
                return tc->method.len ? NGX_OK : NGX_ERROR;

            } else {
                return NGX_ERROR;
            }

            section->data = p;
            section->len = 0;
            continue;
        }

        if (section != NULL) {
            section->len = p - section->data;
            continue;
        }

        if (line.len == 0 || line.data[0] == '#') {
            continue;
        }

        if (ngx_http_llmgw_test_key(&line, "method", &tc->method)
            || ngx_http_llmgw_test_key(&line, "path", &tc->path)
            || ngx_http_llmgw_test_key(&line, "query", &tc->query)
            || ngx_http_llmgw_test_key(&line, "body", &tc->body)
            || ngx_http_llmgw_test_key(&line, "token", &tc->token))
        {
            continue;
        }

        if (ngx_http_llmgw_test_key(&line, "s3", &value)) {
            tc->s3 = (value.len == 1 && value.data[0] == '1');
            continue;
        }

        if (ngx_http_llmgw_test_key(&line, "header", &value)) {
            colon = ngx_strlchr(value.data, value.data + value.len, ':');
            if (colon == NULL) {
                return NGX_ERROR;
            }

            h = ngx_array_push(&tc->headers);
            if (h == NULL) {
                return NGX_ERROR;
            }

            h->name.data = value.data;
            h->name.len = colon - value.data;
            h->value.data = colon + 1;
            h->value.len = value.data + value.len - colon - 1;
            continue;
        }

        return NGX_ERROR;
    }

    /* no "--- end" */

    return NGX_ERROR;
}


/* "key: value" or "key:" */

static ngx_uint_t
ngx_http_llmgw_test_key(ngx_str_t *line, char *key, ngx_str_t *value)
{
    size_t  len;

    len = ngx_strlen(key);

    if (line->len < len + 1 || ngx_strncmp(line->data, key, len) != 0
        || line->data[len] != ':')
    {
        return 0;
    }

    value->data = line->data + len + 1;
    value->len = line->len - len - 1;

    if (value->len && value->data[0] == ' ') {
        value->data++;
        value->len--;
    }

    return 1;
}


static ngx_uint_t
ngx_http_llmgw_test_eq(ngx_str_t *s, ngx_str_t *expect)
{
    if (s->len == expect->len
        && ngx_memcmp(s->data, expect->data, s->len) == 0)
    {
        return 1;
    }

    printf("# got:      \"%.*s\"\n# expected: \"%.*s\"\n",
           (int) s->len, s->data, (int) expect->len, expect->data);

    return 0;
}


static void
ngx_http_llmgw_test_req(ngx_http_llmgw_sigv4_req_t *req, ngx_str_t *method,
    ngx_str_t *path, ngx_str_t *query, ngx_array_t *headers)
{
    ngx_memzero(req, sizeof(ngx_http_llmgw_sigv4_req_t));

    req->method = *method;
    req->path = *path;
    req->query = *query;
    req->headers = headers;
    ngx_str_set(&req->region, "us-east-1");
    ngx_str_set(&req->service, "service");
    req->access_key = ngx_http_llmgw_test_access_key;
    req->secret_key = ngx_http_llmgw_test_secret_key;
    req->now = NGX_HTTP_LLMGW_TEST_SUITE_TIME;
    req->normalize_path = 1;
    req->double_encode = 1;
}


/* the body hashed in three pieces, as a body held in several buffers */

static ngx_int_t
ngx_http_llmgw_test_body_hash(ngx_pool_t *pool, ngx_str_t *body,
    ngx_str_t *hex)
{
    size_t                        a, b;
    ngx_http_llmgw_sigv4_hash_t   h;

    hex->data = ngx_pnalloc(pool, NGX_HTTP_LLMGW_SIGV4_HASH_LEN);
    if (hex->data == NULL) {
        return NGX_ERROR;
    }

    hex->len = NGX_HTTP_LLMGW_SIGV4_HASH_LEN;

    a = body->len / 3;
    b = body->len - a;

    if (ngx_http_llmgw_sigv4_hash_init(pool, &h) != NGX_OK
        || ngx_http_llmgw_sigv4_hash_update(&h, body->data, a) != NGX_OK
        || ngx_http_llmgw_sigv4_hash_update(&h, body->data + a, 0) != NGX_OK
        || ngx_http_llmgw_sigv4_hash_update(&h, body->data + a, b) != NGX_OK
        || ngx_http_llmgw_sigv4_hash_final(&h, hex->data) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_llmgw_test_suite_case(char *name)
{
    u_char                      what[128];
    ngx_str_t                   text, amz_date, creq, sts, sh, authz, date;
    ngx_pool_t                 *pool;
    ngx_http_llmgw_test_case_t  tc;
    ngx_http_llmgw_sigv4_req_t  req;

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "pool");
        return;
    }

    if (ngx_http_llmgw_test_load(pool, name, &text) != NGX_OK
        || ngx_http_llmgw_test_parse(pool, &text, &tc) != NGX_OK)
    {
        ngx_sprintf(what, "suite %s: case file read%Z", name);
        NGX_HTTP_LLMGW_CHECK(0, (char *) what);
        goto done;
    }

    ngx_http_llmgw_test_req(&req, &tc.method, &tc.path, &tc.query,
                            &tc.headers);

    req.session_token = tc.token;

    if (tc.s3) {
        req.normalize_path = 0;
        req.double_encode = 0;
    }

    if (ngx_http_llmgw_test_body_hash(pool, &tc.body, &req.payload_hash)
        != NGX_OK)
    {
        NGX_HTTP_LLMGW_CHECK(0, "body hash");
        goto done;
    }

    ngx_sprintf(what, "suite %s: signs%Z", name);

    if (!NGX_HTTP_LLMGW_CHECK(
            ngx_http_llmgw_sigv4_amz_date(pool, req.now, &amz_date) == NGX_OK
            && ngx_http_llmgw_sigv4_canonical_request(pool, &req, &amz_date,
                                                      &creq, &sh) == NGX_OK
            && ngx_http_llmgw_sigv4_string_to_sign(pool, &req, &amz_date,
                                                   &creq, &sts) == NGX_OK
            && ngx_http_llmgw_sigv4_sign(pool, &req, &authz, &date)
               == NGX_OK,
            (char *) what))
    {
        goto done;
    }

    if (tc.creq.data != NULL) {
        ngx_sprintf(what, "suite %s: canonical request%Z", name);
        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_eq(&creq, &tc.creq),
                             (char *) what);
    }

    if (tc.sts.data != NULL) {
        ngx_sprintf(what, "suite %s: string to sign%Z", name);
        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_eq(&sts, &tc.sts),
                             (char *) what);
    }

    ngx_sprintf(what, "suite %s: Authorization%Z", name);
    NGX_HTTP_LLMGW_CHECK(tc.authz.data != NULL
                         && ngx_http_llmgw_test_eq(&authz, &tc.authz),
                         (char *) what);

    ngx_sprintf(what, "suite %s: X-Amz-Date%Z", name);
    NGX_HTTP_LLMGW_CHECK(date.len == 16
                         && ngx_strncmp(date.data, "20150830T123600Z", 16)
                            == 0,
                         (char *) what);

done:

    ngx_destroy_pool(pool);
}


static void
ngx_http_llmgw_test_suite(void)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_llmgw_test_cases[i]; i++) {
        ngx_http_llmgw_test_suite_case(ngx_http_llmgw_test_cases[i]);
    }
}


/*
 * botocore's records ("key value" lines up to "end") are read one by one;
 * each is signed here and compared.
 */

static void
ngx_http_llmgw_test_botocore(void)
{
    int           status;
    FILE         *f;
    size_t        len;
    ngx_str_t    *field;
    ngx_uint_t    cases;
    ngx_pool_t   *pool;
    ngx_array_t   fields;
    char          line[8192];

    f = popen(NGX_HTTP_LLMGW_TEST_BOTOCORE, "r");

    if (!NGX_HTTP_LLMGW_CHECK(f != NULL, "botocore: script started")) {
        return;
    }

    pool = NULL;
    cases = 0;

    while (fgets(line, sizeof(line), f) != NULL) {

        if (pool == NULL) {
            pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
            if (pool == NULL
                || ngx_array_init(&fields, pool, 16, sizeof(ngx_str_t))
                   != NGX_OK)
            {
                NGX_HTTP_LLMGW_CHECK(0, "botocore: pool");
                break;
            }
        }

        len = ngx_strlen(line);

        if (len == 0 || line[len - 1] != '\n') {
            NGX_HTTP_LLMGW_CHECK(0, "botocore: line too long");
            break;
        }

        len--;

        if (len == 3 && ngx_strncmp(line, "end", 3) == 0) {
            ngx_http_llmgw_test_botocore_case(pool, &fields, &cases);
            ngx_destroy_pool(pool);
            pool = NULL;
            continue;
        }

        field = ngx_array_push(&fields);
        if (field == NULL) {
            break;
        }

        field->data = ngx_pnalloc(pool, len);
        if (field->data == NULL) {
            break;
        }

        field->len = len;
        ngx_memcpy(field->data, line, len);
    }

    if (pool != NULL) {
        ngx_destroy_pool(pool);
    }

    status = pclose(f);

    NGX_HTTP_LLMGW_CHECK(status == 0, "botocore: script exited with 0");

    printf("# botocore: %u requests compared\n", (unsigned) cases);

    NGX_HTTP_LLMGW_CHECK(cases == NGX_HTTP_LLMGW_TEST_BOTOCORE_CASES,
                         "botocore: every request compared");
}


static void
ngx_http_llmgw_test_botocore_case(ngx_pool_t *pool, ngx_array_t *fields,
    ngx_uint_t *cases)
{
    u_char                          *sp, md[EVP_MAX_MD_SIZE], what[160];
    u_char                           hex[NGX_HTTP_LLMGW_SIGV4_HASH_LEN];
    ngx_str_t                       *name, *v, body, authz, date, creq, uri;
    ngx_str_t                        expect;
    ngx_uint_t                       i, ok;
    ngx_array_t                      headers;
    unsigned int                     n;
    ngx_http_llmgw_sigv4_req_t       req;
    ngx_http_llmgw_sigv4_header_t   *h;

    name = ngx_http_llmgw_test_field(fields, "case");

    if (name == NULL
        || ngx_array_init(&headers, pool, 4,
                          sizeof(ngx_http_llmgw_sigv4_header_t))
           != NGX_OK)
    {
        NGX_HTTP_LLMGW_CHECK(0, "botocore: record without a name");
        return;
    }

    ngx_memzero(&req, sizeof(ngx_http_llmgw_sigv4_req_t));

    ok = 1;

    v = fields->elts;

    for (i = 0; i < fields->nelts; i++) {
        if (v[i].len > 7 && ngx_strncmp(v[i].data, "header ", 7) == 0) {
            sp = ngx_strlchr(v[i].data + 7, v[i].data + v[i].len, ' ');
            if (sp == NULL) {
                ok = 0;
                break;
            }

            h = ngx_array_push(&headers);
            if (h == NULL) {
                ok = 0;
                break;
            }

            h->name.data = v[i].data + 7;
            h->name.len = sp - h->name.data;
            h->value.data = sp + 1;
            h->value.len = v[i].data + v[i].len - sp - 1;
        }
    }

#define ngx_http_llmgw_test_get(dst, key)                                     \
    v = ngx_http_llmgw_test_field(fields, key);                               \
    if (v == NULL) {                                                          \
        ok = 0;                                                               \
    } else {                                                                  \
        dst = *v;                                                             \
    }

    ngx_http_llmgw_test_get(req.method, "method");
    ngx_http_llmgw_test_get(req.path, "path");
    ngx_http_llmgw_test_get(req.query, "query");
    ngx_http_llmgw_test_get(req.region, "region");
    ngx_http_llmgw_test_get(req.service, "service");
    ngx_http_llmgw_test_get(expect, "time");

    if (ok) {
        req.now = ngx_atotm(expect.data, expect.len);
    }

    ngx_http_llmgw_test_get(expect, "token");

    if (ok && expect.len == 1 && expect.data[0] == '1') {
        req.session_token = ngx_http_llmgw_test_token;
    }

    ngx_http_llmgw_test_get(expect, "body");

    if (ok && ngx_http_llmgw_test_unhex(pool, &expect, &body) != NGX_OK) {
        ok = 0;
    }

    ngx_sprintf(what, "botocore %V: record complete%Z", name);

    if (!NGX_HTTP_LLMGW_CHECK(ok && req.now > 0, (char *) what)) {
        return;
    }

    req.headers = &headers;
    req.access_key = ngx_http_llmgw_test_access_key;
    req.secret_key = ngx_http_llmgw_test_secret_key;
    req.normalize_path = 1;
    req.double_encode = 1;

    ngx_sprintf(what, "botocore %V: payload hash%Z", name);

    v = ngx_http_llmgw_test_field(fields, "payload-hash");

    if (!NGX_HTTP_LLMGW_CHECK(
            v != NULL
            && ngx_http_llmgw_test_body_hash(pool, &body, &req.payload_hash)
               == NGX_OK
            && ngx_http_llmgw_test_eq(&req.payload_hash, v),
            (char *) what))
    {
        return;
    }

    ngx_sprintf(what, "botocore %V: canonical request%Z", name);

    if (!NGX_HTTP_LLMGW_CHECK(
            ngx_http_llmgw_test_creq(pool, &req, &creq) == NGX_OK,
            (char *) what))
    {
        return;
    }

    uri = ngx_http_llmgw_test_line(&creq, 1);
    v = ngx_http_llmgw_test_field(fields, "uri");

    ngx_sprintf(what, "botocore %V: canonical URI%Z", name);
    NGX_HTTP_LLMGW_CHECK(v != NULL && ngx_http_llmgw_test_eq(&uri, v),
                         (char *) what);

    if (EVP_Digest(creq.data, creq.len, md, &n, EVP_sha256(), NULL) != 1) {
        NGX_HTTP_LLMGW_CHECK(0, "SHA-256");
        return;
    }

    ngx_hex_dump(hex, md, n);
    expect.data = hex;
    expect.len = 2 * n;

    v = ngx_http_llmgw_test_field(fields, "creq-sha256");

    ngx_sprintf(what, "botocore %V: canonical request hash%Z", name);

    if (!NGX_HTTP_LLMGW_CHECK(v != NULL
                              && ngx_http_llmgw_test_eq(&expect, v),
                              (char *) what))
    {
        printf("# ours:\n%.*s\n", (int) creq.len, creq.data);
    }

    ngx_sprintf(what, "botocore %V: Authorization%Z", name);

    v = ngx_http_llmgw_test_field(fields, "authz");

    NGX_HTTP_LLMGW_CHECK(
        v != NULL
        && ngx_http_llmgw_sigv4_sign(pool, &req, &authz, &date) == NGX_OK
        && ngx_http_llmgw_test_eq(&authz, v),
        (char *) what);

    (*cases)++;

#undef ngx_http_llmgw_test_get
}


static ngx_str_t *
ngx_http_llmgw_test_field(ngx_array_t *fields, char *key)
{
    size_t      len;
    ngx_str_t  *v;
    ngx_uint_t  i;

    len = ngx_strlen(key);
    v = fields->elts;

    for (i = 0; i < fields->nelts; i++) {
        if (v[i].len >= len + 1 && ngx_strncmp(v[i].data, key, len) == 0
            && v[i].data[len] == ' ')
        {
            v[i].data += len + 1;
            v[i].len -= len + 1;

            return &v[i];
        }

        if (v[i].len == len && ngx_strncmp(v[i].data, key, len) == 0) {
            v[i].len = 0;
            return &v[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_llmgw_test_unhex(ngx_pool_t *pool, ngx_str_t *hex, ngx_str_t *out)
{
    ngx_int_t   hi, lo;
    ngx_uint_t  i;

    if (hex->len % 2) {
        return NGX_ERROR;
    }

    out->len = hex->len / 2;
    out->data = ngx_pnalloc(pool, out->len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < out->len; i++) {
        hi = ngx_hextoi(&hex->data[2 * i], 1);
        lo = ngx_hextoi(&hex->data[2 * i + 1], 1);

        if (hi == NGX_ERROR || lo == NGX_ERROR) {
            return NGX_ERROR;
        }

        out->data[i] = (u_char) (hi * 16 + lo);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_test_creq(ngx_pool_t *pool, ngx_http_llmgw_sigv4_req_t *req,
    ngx_str_t *creq)
{
    ngx_str_t  amz_date, sh;

    if (ngx_http_llmgw_sigv4_amz_date(pool, req->now, &amz_date) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_llmgw_sigv4_canonical_request(pool, req, &amz_date, creq,
                                                  &sh);
}


/* line n (from 0) of text */

static ngx_str_t
ngx_http_llmgw_test_line(ngx_str_t *text, ngx_uint_t n)
{
    u_char     *p, *end, *nl;
    ngx_str_t   line;

    p = text->data;
    end = text->data + text->len;

    for ( ;; ) {
        nl = ngx_strlchr(p, end, '\n');
        if (nl == NULL) {
            nl = end;
        }

        if (n-- == 0 || nl == end) {
            line.data = p;
            line.len = nl - p;
            return line;
        }

        p = nl + 1;
    }
}


static void
ngx_http_llmgw_test_uris(void)
{
    ngx_str_t                    method, path, query, creq, uri, expect;
    ngx_uint_t                   i;
    ngx_pool_t                  *pool;
    ngx_http_llmgw_sigv4_req_t   req;

    static struct {
        char        *path;
        ngx_uint_t   normalize;
        ngx_uint_t   double_encode;
        char        *uri;
        char        *what;
    } tests[] = {
        { "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", 1, 1,
          "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse",
          "uri: Bedrock's %3A is encoded again" },
        { "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", 0, 0,
          "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
          "uri: S3 rules keep the wire's escapes" },
        { "/a%3ab", 0, 0, "/a%3Ab", "uri: S3 rules: escapes made uppercase" },
        { "/%41%7e%2F", 0, 0, "/A~%2F",
          "uri: S3 rules: unreserved unescaped, %2F kept in its segment" },
        { "/a%zz%", 0, 0, "/a%25zz%25",
          "uri: S3 rules: a stray '%' is encoded" },
        { "", 1, 1, "/", "uri: empty path" },
        { "/", 1, 1, "/", "uri: root" },
        { "//a/./b/../c//", 0, 1, "//a/./b/../c//",
          "uri: no normalization keeps dots and empty segments" },
        { "/a/b/../../..", 1, 1, "/", "uri: '..' above the root" },
        { "/a/b/..", 1, 1, "/a", "uri: ending in '..', botocore's way" },
        { "/a/./", 1, 1, "/a/", "uri: trailing '/' kept" },
        { "/a%2F..", 1, 1, "/a%252F..",
          "uri: an encoded '/' is no separator" },
        { "/ a+b*c@d:e", 1, 1, "/%20a%2Bb%2Ac%40d%3Ae",
          "uri: reserved bytes encoded" },
        { "/\xff\x80", 1, 1, "/%FF%80", "uri: high bytes encoded" }
    };

    ngx_str_set(&method, "GET");
    ngx_str_null(&query);

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
        if (pool == NULL) {
            NGX_HTTP_LLMGW_CHECK(0, "pool");
            return;
        }

        path.data = (u_char *) tests[i].path;
        path.len = ngx_strlen(tests[i].path);

        ngx_http_llmgw_test_req(&req, &method, &path, &query, NULL);
        req.normalize_path = tests[i].normalize;
        req.double_encode = tests[i].double_encode;

        expect.data = (u_char *) tests[i].uri;
        expect.len = ngx_strlen(tests[i].uri);

        if (ngx_http_llmgw_test_creq(pool, &req, &creq) != NGX_OK) {
            NGX_HTTP_LLMGW_CHECK(0, tests[i].what);

        } else {
            uri = ngx_http_llmgw_test_line(&creq, 1);
            NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_eq(&uri, &expect),
                                 tests[i].what);
        }

        ngx_destroy_pool(pool);
    }
}


static void
ngx_http_llmgw_test_queries(void)
{
    ngx_str_t                    method, path, query, creq, line, expect;
    ngx_uint_t                   i;
    ngx_pool_t                  *pool;
    ngx_http_llmgw_sigv4_req_t   req;

    static struct {
        char  *query;
        char  *canonical;
        char  *what;
    } tests[] = {
        { "a&&b=&=c&", "=c&a=&b=", "query: empty pieces, no '=', no name" },
        { "x=a+b", "x=a%2Bb", "query: '+' is a plus sign" },
        { "x=%3d%3D=", "x=%3D%3D%3D", "query: '=' in a value" },
        { "x=%zz%4", "x=%25zz%254", "query: stray '%' encoded" },
        { "b=1&a=2&a=10&A=3", "A=3&a=10&a=2&b=1",
          "query: sorted by name, then value, bytewise" },
        { "%61=1&a=0", "a=0&a=1", "query: names compared once decoded" },
        { "k=v%20w&k2=%7E", "k=v%20w&k2=~", "query: re-encoded canonically" },
        { "&", "", "query: nothing but '&'" }
    };

    ngx_str_set(&method, "GET");
    ngx_str_set(&path, "/");

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
        if (pool == NULL) {
            NGX_HTTP_LLMGW_CHECK(0, "pool");
            return;
        }

        query.data = (u_char *) tests[i].query;
        query.len = ngx_strlen(tests[i].query);

        ngx_http_llmgw_test_req(&req, &method, &path, &query, NULL);

        expect.data = (u_char *) tests[i].canonical;
        expect.len = ngx_strlen(tests[i].canonical);

        if (ngx_http_llmgw_test_creq(pool, &req, &creq) != NGX_OK) {
            NGX_HTTP_LLMGW_CHECK(0, tests[i].what);

        } else {
            line = ngx_http_llmgw_test_line(&creq, 2);
            NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_eq(&line, &expect),
                                 tests[i].what);
        }

        ngx_destroy_pool(pool);
    }
}


static void
ngx_http_llmgw_test_headers(void)
{
    ngx_str_t                       method, path, query, creq, expect;
    ngx_pool_t                     *pool;
    ngx_array_t                     headers;
    ngx_http_llmgw_sigv4_req_t      req;
    ngx_http_llmgw_sigv4_header_t  *h;

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    if (pool == NULL
        || ngx_array_init(&headers, pool, 4,
                          sizeof(ngx_http_llmgw_sigv4_header_t))
           != NGX_OK)
    {
        NGX_HTTP_LLMGW_CHECK(0, "pool");
        return;
    }

    ngx_str_set(&method, "POST");
    ngx_str_set(&path, "/");
    ngx_str_null(&query);

    h = ngx_array_push_n(&headers, 5);
    if (h == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "array");
        ngx_destroy_pool(pool);
        return;
    }

    ngx_str_set(&h[0].name, "X-B");
    ngx_str_set(&h[0].value, "\t two\t\t words \t");
    ngx_str_set(&h[1].name, "x-a");
    ngx_str_set(&h[1].value, "");
    ngx_str_set(&h[2].name, "Host");
    ngx_str_set(&h[2].value, "h");
    ngx_str_set(&h[3].name, "X-B");
    ngx_str_set(&h[3].value, "  ");
    ngx_str_set(&h[4].name, "x-amz-content-sha256");
    ngx_str_set(&h[4].value, "UNSIGNED-PAYLOAD");

    ngx_http_llmgw_test_req(&req, &method, &path, &query, &headers);
    ngx_str_set(&req.payload_hash, "UNSIGNED-PAYLOAD");
    req.session_token = ngx_http_llmgw_test_token;

    ngx_str_set(&expect,
                "POST\n/\n\n"
                "host:h\n"
                "x-a:\n"
                "x-amz-content-sha256:UNSIGNED-PAYLOAD\n"
                "x-amz-date:20150830T123600Z\n"
                "x-amz-security-token:"
                "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4"
                "FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/"
                "qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQD"
                "YwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38"
                "xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSY"
                "vKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==\n"
                "x-b:two words,\n"
                "\n"
                "host;x-a;x-amz-content-sha256;x-amz-date;x-amz-security-token;"
                "x-b\n"
                "UNSIGNED-PAYLOAD");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_creq(pool, &req, &creq) == NGX_OK
                         && ngx_http_llmgw_test_eq(&creq, &expect),
                         "headers: tabs trimmed, empty values, duplicates, "
                         "token and UNSIGNED-PAYLOAD");

    ngx_destroy_pool(pool);
}


static void
ngx_http_llmgw_test_refusals(void)
{
    ngx_str_t                       method, path, query, authz, date;
    ngx_uint_t                      i;
    ngx_pool_t                     *pool;
    ngx_array_t                     headers;
    ngx_http_llmgw_sigv4_req_t      req;
    ngx_http_llmgw_sigv4_header_t  *h;

    static char  *what[] = {
        "refused: caller's x-amz-date",
        "refused: caller's X-Amz-Security-Token",
        "refused: caller's authorization",
        "refused: header name with a space",
        "refused: empty header name",
        "refused: control character in a header value",
        "refused: path not starting with '/'",
        "refused: region with '/'",
        "refused: empty service",
        "refused: access key with ','",
        "refused: empty secret key",
        "refused: session token with a space",
        "refused: payload hash in uppercase",
        "refused: payload hash too short",
        "refused: empty method",
        "refused: method with a space",
        "refused: negative time",
        NULL
    };

    ngx_str_set(&method, "GET");
    ngx_str_set(&path, "/");
    ngx_str_null(&query);

    ngx_http_llmgw_unit_quiet = 1;

    for (i = 0; what[i]; i++) {
        pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
        if (pool == NULL
            || ngx_array_init(&headers, pool, 1,
                              sizeof(ngx_http_llmgw_sigv4_header_t))
               != NGX_OK
            || (h = ngx_array_push(&headers)) == NULL)
        {
            NGX_HTTP_LLMGW_CHECK(0, "pool");
            break;
        }

        ngx_str_set(&h->name, "host");
        ngx_str_set(&h->value, "example.amazonaws.com");

        ngx_http_llmgw_test_req(&req, &method, &path, &query, &headers);

        switch (i) {
        case 0:
            ngx_str_set(&h->name, "x-amz-date");
            break;
        case 1:
            ngx_str_set(&h->name, "X-Amz-Security-Token");
            break;
        case 2:
            ngx_str_set(&h->name, "authorization");
            break;
        case 3:
            ngx_str_set(&h->name, "my header");
            break;
        case 4:
            ngx_str_set(&h->name, "");
            break;
        case 5:
            ngx_str_set(&h->value, "a\001b");
            break;
        case 6:
            ngx_str_set(&req.path, "model/x");
            break;
        case 7:
            ngx_str_set(&req.region, "us/east-1");
            break;
        case 8:
            ngx_str_null(&req.service);
            break;
        case 9:
            ngx_str_set(&req.access_key, "AKID,EXAMPLE");
            break;
        case 10:
            ngx_str_null(&req.secret_key);
            break;
        case 11:
            ngx_str_set(&req.session_token, "to ken");
            break;
        case 12:
            ngx_str_set(&req.payload_hash,
                        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495"
                        "991B7852B855");
            break;
        case 13:
            ngx_str_set(&req.payload_hash, "e3b0c442");
            break;
        case 14:
            ngx_str_null(&req.method);
            break;
        case 15:
            ngx_str_set(&req.method, "G T");
            break;
        case 16:
            req.now = -1;
            break;
        }

        NGX_HTTP_LLMGW_CHECK(
            ngx_http_llmgw_sigv4_sign(pool, &req, &authz, &date) == NGX_ERROR,
            what[i]);

        ngx_destroy_pool(pool);
    }

    ngx_http_llmgw_unit_quiet = 0;

    /* no refusal's log line shows the secret */

    NGX_HTTP_LLMGW_CHECK(ngx_strstr(ngx_http_llmgw_unit_last_log,
                                    "EXAMPLEKEY") == NULL,
                         "refusals: the secret is not logged");
}


static void
ngx_http_llmgw_test_dates(void)
{
    ngx_str_t    date;
    ngx_uint_t   i;
    ngx_pool_t  *pool;

    static struct {
        time_t   t;
        char    *date;
    } tests[] = {
        { 0, "19700101T000000Z" },
        { 951825600, "20000229T120000Z" },
        { 1718927999, "20240620T235959Z" },
        { 1718928000, "20240621T000000Z" },
        { 4102444799, "20991231T235959Z" }
    };

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "pool");
        return;
    }

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        NGX_HTTP_LLMGW_CHECK(
            ngx_http_llmgw_sigv4_amz_date(pool, tests[i].t, &date) == NGX_OK
            && date.len == 16
            && ngx_strncmp(date.data, tests[i].date, 16) == 0,
            tests[i].date);
    }

    ngx_destroy_pool(pool);
}


/*
 * A body in several buffers, some in memory, some in a file (as a request
 * body spooled to a temporary file), hashed by hash_chain().
 */

static void
ngx_http_llmgw_test_hash_chain(void)
{
    int            fd;
    u_char        *big, md[EVP_MAX_MD_SIZE], hex[NGX_HTTP_LLMGW_SIGV4_HASH_LEN];
    size_t         i, size;
    ngx_buf_t      b[4];
    ngx_str_t      out, expect;
    ngx_file_t     file;
    ngx_pool_t    *pool;
    ngx_chain_t    cl[4];
    unsigned int   n;
    char           name[] = "/tmp/llmgw-sigv4-XXXXXX";

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "pool");
        return;
    }

    fd = mkstemp(name);
    if (fd == -1) {
        NGX_HTTP_LLMGW_CHECK(0, "hash chain: temporary file");
        ngx_destroy_pool(pool);
        return;
    }

    unlink(name);

    /* the file: "xx=val" then 40000 bytes of a pattern */

    size = 40000;

    big = ngx_pnalloc(pool, 6 + size);
    if (big == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "pool");
        goto done;
    }

    ngx_memcpy(big, "xx=val", 6);

    for (i = 0; i < size; i++) {
        big[6 + i] = (u_char) (i * 7 + (i >> 8));
    }

    if (write(fd, big, 6 + size) != (ssize_t) (6 + size)) {
        NGX_HTTP_LLMGW_CHECK(0, "hash chain: write");
        goto done;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    ngx_str_set(&file.name, "llmgw-sigv4-test");
    file.log = &ngx_http_llmgw_unit_log;

    ngx_memzero(b, sizeof(b));
    ngx_memzero(cl, sizeof(cl));

    /* "Param1" + "=val" (file 2..6) + "ue1": the suite's form body */

    b[0].pos = (u_char *) "Param1";
    b[0].last = b[0].pos + 6;
    b[0].memory = 1;

    b[1].in_file = 1;
    b[1].file = &file;
    b[1].file_pos = 2;
    b[1].file_last = 6;

    b[2].pos = (u_char *) "ue1";
    b[2].last = b[2].pos + 3;
    b[2].memory = 1;

    b[3].last_buf = 1;

    for (i = 0; i < 4; i++) {
        cl[i].buf = &b[i];
        cl[i].next = (i < 3) ? &cl[i + 1] : NULL;
    }

    ngx_str_set(&expect, "9095672bbd1f56dfc5b65f3e153adc87"
                         "31a4a654192329106275f4c7b24d0b6e");

    NGX_HTTP_LLMGW_CHECK(
        ngx_http_llmgw_sigv4_hash_chain(pool, cl, &out) == NGX_OK
        && ngx_http_llmgw_test_eq(&out, &expect),
        "hash chain: memory, file, memory");

    /* the file alone, from offset 6, larger than one read */

    b[1].file_pos = 6;
    b[1].file_last = 6 + size;
    cl[1].next = NULL;

    if (EVP_Digest(big + 6, size, md, &n, EVP_sha256(), NULL) != 1) {
        NGX_HTTP_LLMGW_CHECK(0, "SHA-256");
        goto done;
    }

    ngx_hex_dump(hex, md, n);
    expect.data = hex;
    expect.len = 2 * n;

    NGX_HTTP_LLMGW_CHECK(
        ngx_http_llmgw_sigv4_hash_chain(pool, &cl[1], &out) == NGX_OK
        && ngx_http_llmgw_test_eq(&out, &expect),
        "hash chain: 40000 bytes of a file, several reads");

    NGX_HTTP_LLMGW_CHECK(file.offset == 0,
                         "hash chain: the buffer's file offset not moved");

    /* a file shorter than its buffer says */

    b[1].file_last = 6 + size + 1;

    ngx_http_llmgw_unit_quiet = 1;

    NGX_HTTP_LLMGW_CHECK(
        ngx_http_llmgw_sigv4_hash_chain(pool, &cl[1], &out) == NGX_ERROR,
        "hash chain: truncated file refused");

    ngx_http_llmgw_unit_quiet = 0;

    /* nothing at all: the empty body's hash */

    ngx_str_set(&expect, "e3b0c44298fc1c149afbf4c8996fb924"
                         "27ae41e4649b934ca495991b7852b855");

    NGX_HTTP_LLMGW_CHECK(
        ngx_http_llmgw_sigv4_hash_chain(pool, &cl[3], &out) == NGX_OK
        && ngx_http_llmgw_test_eq(&out, &expect),
        "hash chain: empty body");

done:

    close(fd);
    ngx_destroy_pool(pool);
}


/*
 * The harness links no os/unix/ngx_files.c; this is its ngx_read_file()
 * for a system with pread(), weak so that the real one wins once linked.
 */

ssize_t
ngx_read_file(ngx_file_t *file, u_char *buf, size_t size, off_t offset)
{
    ssize_t  n;

    n = pread(file->fd, buf, size, offset);

    if (n == -1) {
        ngx_log_error(NGX_LOG_CRIT, file->log, ngx_errno,
                      "pread() \"%s\" failed", file->name.data);
        return NGX_ERROR;
    }

    file->offset += n;

    return n;
}


int
main(void)
{
    int  rc;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    ngx_http_llmgw_test_suite();
    ngx_http_llmgw_test_uris();
    ngx_http_llmgw_test_queries();
    ngx_http_llmgw_test_headers();
    ngx_http_llmgw_test_refusals();
    ngx_http_llmgw_test_dates();
    ngx_http_llmgw_test_hash_chain();
    ngx_http_llmgw_test_botocore();

    rc = ngx_http_llmgw_unit_done();

    ngx_http_llmgw_unit_cleanup();

    return rc;
}
