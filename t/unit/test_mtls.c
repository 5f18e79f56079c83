/* llmgw-unit-srcs: src/ngx_http_llmgw_mtls.c src/ngx_http_llmgw_jws.c */
/* llmgw-unit-libs: -lssl -lcrypto -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * Certificate-bound tokens: the RFC 9440 Client-Cert parser (RFC 8941
 * byte sequences, one DER certificate and nothing else) over a
 * certificate made here, the cnf.x5t#S256 reader against the SHA-256 of
 * that certificate, and the thumbprint comparison.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/ec.h>
#include <openssl/x509.h>

#include "ngx_http_llmgw_mtls.h"
#include "ngx_http_llmgw_jws.h"
#include "ngx_http_llmgw_unit.h"


static ngx_int_t ngx_http_llmgw_test_cert(ngx_pool_t *pool, ngx_str_t *der);
static ngx_int_t ngx_http_llmgw_test_parse(ngx_pool_t *pool,
    const char *value, ngx_str_t *der, const char **reason);
static ngx_uint_t ngx_http_llmgw_test_refused(ngx_pool_t *pool,
    const char *value, const char *want);
static void ngx_http_llmgw_test_client_cert(ngx_pool_t *pool,
    ngx_str_t *der);
static void ngx_http_llmgw_test_cnf(ngx_pool_t *pool, ngx_str_t *der);


/* a self-signed P-256 certificate, DER in pool */

static ngx_int_t
ngx_http_llmgw_test_cert(ngx_pool_t *pool, ngx_str_t *der)
{
    int          len;
    X509        *x;
    u_char      *p;
    EVP_PKEY    *pkey;
    X509_NAME   *name;
    ngx_int_t    rc;

    rc = NGX_ERROR;
    x = X509_new();
    pkey = EVP_EC_gen("P-256");

    if (x == NULL || pkey == NULL) {
        goto done;
    }

    name = X509_get_subject_name(x);

    if (!ASN1_INTEGER_set(X509_get_serialNumber(x), 7)
        || !X509_gmtime_adj(X509_getm_notBefore(x), 0)
        || !X509_gmtime_adj(X509_getm_notAfter(x), 3600)
        || !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       (u_char *) "alice", -1, -1, 0)
        || !X509_set_issuer_name(x, name)
        || !X509_set_pubkey(x, pkey)
        || !X509_sign(x, pkey, EVP_sha256()))
    {
        goto done;
    }

    len = i2d_X509(x, NULL);
    if (len <= 0) {
        goto done;
    }

    der->data = ngx_pnalloc(pool, len);
    if (der->data == NULL) {
        goto done;
    }

    p = der->data;
    der->len = i2d_X509(x, &p);

    rc = NGX_OK;

done:

    X509_free(x);
    EVP_PKEY_free(pkey);

    return rc;
}


static ngx_int_t
ngx_http_llmgw_test_parse(ngx_pool_t *pool, const char *value,
    ngx_str_t *der, const char **reason)
{
    ngx_str_t  v;

    v.data = (u_char *) value;
    v.len = ngx_strlen(value);
    *reason = NULL;

    return ngx_http_llmgw_mtls_client_cert_parse(pool, &v, der, reason);
}


static ngx_uint_t
ngx_http_llmgw_test_refused(ngx_pool_t *pool, const char *value,
    const char *want)
{
    ngx_int_t    rc;
    ngx_str_t    der;
    const char  *reason;

    rc = ngx_http_llmgw_test_parse(pool, value, &der, &reason);

    if (rc == NGX_DECLINED && reason != NULL
        && ngx_strcmp(reason, want) == 0)
    {
        return 1;
    }

    printf("# \"%.60s\": rc %d, reason \"%s\", wanted \"%s\"\n", value,
           (int) rc, reason ? reason : "(none)", want);

    return 0;
}


static void
ngx_http_llmgw_test_client_cert(ngx_pool_t *pool, ngx_str_t *der)
{
    u_char       *text, *p;
    size_t        n;
    ngx_str_t     b64, got;
    ngx_uint_t    ok;
    const char   *reason;

    b64.len = ngx_base64_encoded_length(der->len);
    b64.data = ngx_pnalloc(pool, b64.len);
    ngx_encode_base64(&b64, der);

    /* room for the value with spaces, colons, a tail and a NUL */
    text = ngx_pnalloc(pool, 2 * b64.len + 64);

    p = ngx_sprintf(text, ":%V:%Z", &b64);
    ok = ngx_http_llmgw_test_parse(pool, (char *) text, &got, &reason)
         == NGX_OK
         && got.len == der->len
         && ngx_memcmp(got.data, der->data, der->len) == 0;
    NGX_HTTP_LLMGW_CHECK(ok, "a byte sequence of one certificate");

    p = ngx_sprintf(text, "  :%V:  %Z", &b64);
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_parse(pool, (char *) text, &got,
                                                   &reason) == NGX_OK,
                         "spaces around the item");

    /* unpadded: RFC 8941 4.2.7 says synthesize the padding */

    n = b64.len;
    while (b64.data[n - 1] == '=') {
        n--;
    }

    p = ngx_sprintf(text, ":%*s:%Z", n, b64.data);
    ok = ngx_http_llmgw_test_parse(pool, (char *) text, &got, &reason)
         == NGX_OK && got.len == der->len;
    NGX_HTTP_LLMGW_CHECK(ok, "padding may be left out");

    p = ngx_sprintf(text, "%V%Z", &b64);
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused(pool, (char *) text,
                             "Client-Cert header is not a byte sequence"),
                         "bare base64 refused");

    p = ngx_sprintf(text, ":%V:;a=1%Z", &b64);
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused(pool, (char *) text,
                             "Client-Cert header is not a byte sequence"),
                         "parameters refused");

    p = ngx_sprintf(text, ":%V:, :%V:%Z", &b64, &b64);
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused(pool, (char *) text,
                      "Client-Cert header is not a single byte sequence"),
                         "a list refused");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused(pool, ":",
                             "Client-Cert header is not a byte sequence")
                         && ngx_http_llmgw_test_refused(pool, "",
                             "Client-Cert header is not a byte sequence")
                         && ngx_http_llmgw_test_refused(pool, "::",
                             "Client-Cert header is not valid base64"),
                         "empty values refused");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused(pool, ":AB*C:",
                             "Client-Cert header is not valid base64")
                         && ngx_http_llmgw_test_refused(pool, ":AB-_:",
                             "Client-Cert header is not valid base64")
                         && ngx_http_llmgw_test_refused(pool, ":A=BC:",
                             "Client-Cert header is not valid base64")
                         && ngx_http_llmgw_test_refused(pool, ":ABCDE:",
                             "Client-Cert header is not valid base64")
                         && ngx_http_llmgw_test_refused(pool, ":ABC===:",
                             "Client-Cert header is not valid base64")
                         && ngx_http_llmgw_test_refused(pool, ":AB=:",
                             "Client-Cert header is not valid base64")
                         && ngx_http_llmgw_test_refused(pool, ":AB C:",
                             "Client-Cert header is not valid base64"),
                         "base64 beyond RFC 8941's refused");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused(pool, ":aGVsbG8=:",
                         "Client-Cert header is not an X.509 certificate"),
                         "bytes that are no certificate refused");

    /* the certificate with one more byte after it */

    got.len = der->len + 1;
    got.data = ngx_pnalloc(pool, got.len);
    ngx_memcpy(got.data, der->data, der->len);
    got.data[der->len] = 0;

    b64.len = ngx_base64_encoded_length(got.len);
    b64.data = ngx_pnalloc(pool, b64.len);
    ngx_encode_base64(&b64, &got);

    p = ngx_sprintf(text, ":%V:%Z", &b64);
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused(pool, (char *) text,
                   "Client-Cert header has bytes after the certificate"),
                         "trailing bytes refused");

    /* the size bound comes first */

    p = ngx_pnalloc(pool, NGX_HTTP_LLMGW_MTLS_HEADER_MAX + 2);
    ngx_memset(p, 'A', NGX_HTTP_LLMGW_MTLS_HEADER_MAX + 1);
    p[0] = ':';
    p[NGX_HTTP_LLMGW_MTLS_HEADER_MAX] = ':';
    p[NGX_HTTP_LLMGW_MTLS_HEADER_MAX + 1] = '\0';

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused(pool, (char *) p,
                             "Client-Cert header too large"),
                         "a value over the bound refused");
}


static void
ngx_http_llmgw_test_cnf(ngx_pool_t *pool, ngx_str_t *der)
{
    u_char       tp[NGX_HTTP_LLMGW_SHA256_LEN], want[NGX_HTTP_LLMGW_SHA256_LEN];
    u_char       text[64], other[NGX_HTTP_LLMGW_SHA256_LEN];
    json_t      *claims;
    ngx_str_t    src, dst;
    ngx_uint_t   i;
    ngx_int_t    rc;

    static const char  *bad[] = {
        "{\"cnf\":\"x\"}",
        "{\"cnf\":[]}",
        "{\"cnf\":{\"x5t#S256\":1}}",
        "{\"cnf\":{\"x5t#S256\":\"abc\"}}",
        "{\"cnf\":{\"x5t#S256\":"
            "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}}",
        "{\"cnf\":{\"x5t#S256\":"
            "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB\"}}",
        "{\"cnf\":{\"x5t#S256\":"
            "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+\"}}",
        NULL
    };

    static const char  *absent[] = {
        "{}",
        "{\"cnf\":{}}",
        "{\"cnf\":{\"jkt\":\"abc\"}}",
        "{\"x5t#S256\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
        NULL
    };

    for (i = 0; bad[i]; i++) {
        claims = json_loads(bad[i], 0, NULL);
        rc = ngx_http_llmgw_mtls_cnf_x5t(claims, tp);
        json_decref(claims);

        NGX_HTTP_LLMGW_CHECK(rc == NGX_ABORT, bad[i]);
    }

    for (i = 0; absent[i]; i++) {
        claims = json_loads(absent[i], 0, NULL);
        rc = ngx_http_llmgw_mtls_cnf_x5t(claims, tp);
        json_decref(claims);

        NGX_HTTP_LLMGW_CHECK(rc == NGX_DECLINED, absent[i]);
    }

    /* the certificate's thumbprint, as an authorization server puts it */

    if (ngx_http_llmgw_sha256(der->data, der->len, want) != NGX_OK) {
        NGX_HTTP_LLMGW_CHECK(0, "sha256");
        return;
    }

    src.data = want;
    src.len = sizeof(want);
    dst.data = text;
    ngx_encode_base64url(&dst, &src);

    claims = json_pack("{s:{s:s#}}", "cnf", "x5t#S256", text, (int) dst.len);
    ngx_memzero(tp, sizeof(tp));
    rc = ngx_http_llmgw_mtls_cnf_x5t(claims, tp);
    json_decref(claims);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && dst.len == 43
                         && ngx_http_llmgw_mtls_match(tp, want),
                         "the certificate's x5t#S256 read and matched");

    ngx_memcpy(other, want, sizeof(want));
    other[31] ^= 1;

    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_mtls_match(other, want),
                         "a thumbprint one bit off does not match");

    (void) pool;
}


int
main(void)
{
    ngx_str_t          der;
    ngx_pool_t        *pool;
    ngx_connection_t   c;
    u_char             tp[NGX_HTTP_LLMGW_SHA256_LEN];

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        return 2;
    }

    if (ngx_http_llmgw_test_cert(pool, &der) != NGX_OK) {
        NGX_HTTP_LLMGW_CHECK(0, "a test certificate made");
        return ngx_http_llmgw_unit_done();
    }

    ngx_http_llmgw_test_client_cert(pool, &der);
    ngx_http_llmgw_test_cnf(pool, &der);

    ngx_memzero(&c, sizeof(ngx_connection_t));

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_mtls_init(&ngx_http_llmgw_unit_log)
                         == NGX_OK
                         && ngx_http_llmgw_mtls_peer_thumbprint(&c, tp)
                            == NGX_DECLINED,
                         "a connection without TLS has no certificate");

    ngx_destroy_pool(pool);
    ngx_http_llmgw_jws_cleanup();
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
