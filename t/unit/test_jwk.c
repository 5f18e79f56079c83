/* llmgw-unit-srcs: src/ngx_http_llmgw_jws.c src/ngx_http_llmgw_jwk.c */
/* llmgw-unit-srcs: t/unit/ngx_http_llmgw_unit_jose.c */
/* llmgw-unit-libs: -lcrypto -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * JWKS and PEM key parsing, key files, and key selection by kid and alg,
 * with keys made at run time.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/err.h>

#include "ngx_http_llmgw_jws.h"
#include "ngx_http_llmgw_jwk.h"
#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_unit_jose.h"


static ngx_int_t ngx_http_llmgw_test_jwks(const char *doc, ngx_array_t **out,
    const char **reason);
static ngx_str_t *ngx_http_llmgw_test_jwk(EVP_PKEY *pkey, const char *extra);
static ngx_str_t *ngx_http_llmgw_test_doc(ngx_str_t *a, ngx_str_t *b);
static ngx_uint_t ngx_http_llmgw_test_declined(const char *doc,
    const char *want);
static ngx_uint_t ngx_http_llmgw_test_skipped(ngx_str_t *doc);
static void ngx_http_llmgw_test_good_jwks(void);
static void ngx_http_llmgw_test_skips(void);
static void ngx_http_llmgw_test_malformed(void);
static void ngx_http_llmgw_test_limits(void);
static void ngx_http_llmgw_test_pem(void);
static void ngx_http_llmgw_test_files(void);
static void ngx_http_llmgw_test_next(void);
static ngx_http_llmgw_key_t *ngx_http_llmgw_test_first(ngx_array_t *keys,
    ngx_str_t *kid, ngx_http_llmgw_alg_e alg);
static ngx_int_t ngx_http_llmgw_test_write(const char *name, u_char *data,
    size_t len);


static ngx_pool_t  *pool;
static EVP_PKEY    *rsa, *rsa1024, *rsapss, *ec256, *ec384, *ec521, *ed;
static EVP_PKEY    *k1, *x25519;
static char         dir[] = "/tmp/llmgw-unit-jwk-XXXXXX";


static ngx_int_t
ngx_http_llmgw_test_jwks(const char *doc, ngx_array_t **out,
    const char **reason)
{
    ngx_array_t  *keys;

    keys = ngx_array_create(pool, 4, sizeof(ngx_http_llmgw_key_t));
    if (keys == NULL) {
        return NGX_ERROR;
    }

    *out = keys;
    *reason = NULL;

    return ngx_http_llmgw_jwks_parse(pool, (u_char *) doc, ngx_strlen(doc),
                                     keys, reason);
}


static ngx_str_t *
ngx_http_llmgw_test_jwk(EVP_PKEY *pkey, const char *extra)
{
    ngx_str_t  *jwk;

    jwk = ngx_palloc(pool, sizeof(ngx_str_t));

    if (jwk == NULL
        || ngx_http_llmgw_unit_jwk(pool, pkey, extra, jwk) != NGX_OK)
    {
        printf("# no JWK\n");
        return NULL;
    }

    return jwk;
}


/* {"keys":[a, b]}, NUL-terminated; b may be NULL */

static ngx_str_t *
ngx_http_llmgw_test_doc(ngx_str_t *a, ngx_str_t *b)
{
    u_char     *p;
    ngx_str_t  *doc;

    doc = ngx_palloc(pool, sizeof(ngx_str_t));
    if (doc == NULL || a == NULL) {
        return NULL;
    }

    doc->data = ngx_pnalloc(pool, a->len + (b ? b->len : 0) + 32);
    if (doc->data == NULL) {
        return NULL;
    }

    if (b != NULL) {
        p = ngx_sprintf(doc->data, "{\"keys\":[%V,%V]}", a, b);

    } else {
        p = ngx_sprintf(doc->data, "{\"keys\":[%V]}", a);
    }

    *p = '\0';
    doc->len = p - doc->data;

    return doc;
}


static ngx_uint_t
ngx_http_llmgw_test_declined(const char *doc, const char *want)
{
    ngx_int_t     rc;
    const char   *reason;
    ngx_array_t  *keys;

    if (doc == NULL) {
        return 0;
    }

    rc = ngx_http_llmgw_test_jwks(doc, &keys, &reason);

    if (rc != NGX_DECLINED || reason == NULL || keys->nelts != 0) {
        printf("# rc %d, %u keys\n", (int) rc, (unsigned) keys->nelts);
        return 0;
    }

    if (want != NULL && ngx_strcmp(reason, want) != 0) {
        printf("# reason \"%s\", want \"%s\"\n", reason, want);
        return 0;
    }

    return 1;
}


/* NGX_OK and no key */

static ngx_uint_t
ngx_http_llmgw_test_skipped(ngx_str_t *doc)
{
    ngx_int_t     rc;
    const char   *reason;
    ngx_array_t  *keys;

    if (doc == NULL) {
        return 0;
    }

    rc = ngx_http_llmgw_test_jwks((char *) doc->data, &keys, &reason);

    if (rc != NGX_OK || keys->nelts != 0) {
        printf("# rc %d, %u keys, %s\n", (int) rc, (unsigned) keys->nelts,
               reason ? reason : "-");
        return 0;
    }

    return 1;
}


static void
ngx_http_llmgw_test_good_jwks(void)
{
    u_char                 fp[NGX_HTTP_LLMGW_SHA256_LEN], *p, buf[16384];
    ngx_int_t              rc;
    ngx_uint_t             i, ok;
    ngx_array_t           *keys;
    const char            *reason;
    ngx_str_t             *jwk[6];
    EVP_PKEY              *pk[6];
    ngx_http_llmgw_key_t  *key;

    static ngx_uint_t  want[6] = {
        NGX_HTTP_LLMGW_ALGS_RSA,
        NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES256),
        NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES384),
        NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES512),
        NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_EDDSA),
        NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_PS384)
    };

    pk[0] = rsa;
    pk[1] = ec256;
    pk[2] = ec384;
    pk[3] = ec521;
    pk[4] = ed;
    pk[5] = rsa;

    jwk[0] = ngx_http_llmgw_test_jwk(rsa, "\"kid\":\"rsa\",\"use\":\"sig\"");
    jwk[1] = ngx_http_llmgw_test_jwk(ec256, "\"kid\":\"p256\","
                                     "\"key_ops\":[\"verify\",\"sign\"]");
    jwk[2] = ngx_http_llmgw_test_jwk(ec384, "\"kid\":\"p384\","
                                     "\"alg\":\"ES384\"");
    jwk[3] = ngx_http_llmgw_test_jwk(ec521, "\"kid\":\"p521\"");
    jwk[4] = ngx_http_llmgw_test_jwk(ed, "\"kid\":\"ed\",\"alg\":\"EdDSA\"");
    jwk[5] = ngx_http_llmgw_test_jwk(rsa, "\"alg\":\"PS384\",\"x5t\":\"x\","
                                     "\"x5c\":[\"MII\"],\"ext\":true");

    for (i = 0; i < 6; i++) {
        if (jwk[i] == NULL) {
            NGX_HTTP_LLMGW_CHECK(0, "JWK made");
            return;
        }
    }

    p = ngx_snprintf(buf, sizeof(buf) - 1, "{\"other\":1,\"keys\":[%V,%V,%V,"
                     "%V,%V,%V]}", jwk[0], jwk[1], jwk[2], jwk[3], jwk[4],
                     jwk[5]);
    *p = '\0';

    rc = ngx_http_llmgw_test_jwks((char *) buf, &keys, &reason);

    ngx_http_llmgw_unit_check(rc == NGX_OK && keys->nelts == 6,
                              "JWKS with RSA, P-256, P-384, P-521, Ed25519, "
                              "RSA bound to PS384: %u keys",
                              (unsigned) keys->nelts);

    if (rc != NGX_OK || keys->nelts != 6) {
        return;
    }

    /* the document's memory is gone: the kids must be copies */

    ngx_memset(buf, 'Z', sizeof(buf));

    key = keys->elts;
    ok = 1;

    for (i = 0; i < 6; i++) {
        if (key[i].algs != want[i]) {
            printf("# key %u algs %lx\n", (unsigned) i,
                   (unsigned long) key[i].algs);
            ok = 0;
        }

        if (ngx_http_llmgw_unit_fp(pk[i], fp) != NGX_OK
            || ngx_memcmp(fp, key[i].fp, sizeof(fp)) != 0
            || !ngx_http_llmgw_keys_have(keys, fp))
        {
            printf("# key %u fingerprint\n", (unsigned) i);
            ok = 0;
        }

        if (EVP_PKEY_eq(pk[i], key[i].pkey) != 1) {
            printf("# key %u differs\n", (unsigned) i);
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "algs bound by type, curve and JWK alg; "
                         "fingerprints are SHA-256 of the SPKI; keys equal");

    NGX_HTTP_LLMGW_CHECK(key[0].kid.len == 3
                         && ngx_strncmp(key[0].kid.data, "rsa", 3) == 0
                         && key[1].kid.len == 4
                         && ngx_strncmp(key[1].kid.data, "p256", 4) == 0
                         && key[4].kid.len == 2
                         && ngx_strncmp(key[4].kid.data, "ed", 2) == 0
                         && key[5].kid.len == 0,
                         "kids copied, absent kid empty");

    ngx_memzero(fp, sizeof(fp));

    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_keys_have(keys, fp)
                         && !ngx_http_llmgw_keys_have(NULL, fp),
                         "unknown fingerprint not had");

    /* an empty key set is a valid document */

    rc = ngx_http_llmgw_test_jwks("{\"keys\":[]}", &keys, &reason);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && keys->nelts == 0,
                         "empty keys array: no key, no error");

    /* a modulus with a leading zero byte (seen in the wild) */

    {
        u_char      n[600], *q;
        BIGNUM     *bn;
        ngx_str_t   nb, eb;
        int         len;

        bn = NULL;
        EVP_PKEY_get_bn_param(rsa, "n", &bn);
        n[0] = 0;
        len = BN_bn2bin(bn, n + 1);
        BN_free(bn);

        ngx_http_llmgw_unit_b64url(pool, n, len + 1, &nb);
        ngx_http_llmgw_unit_b64url(pool, (u_char *) "\x01\x00\x01", 3, &eb);

        q = ngx_snprintf(buf, sizeof(buf) - 1, "{\"keys\":[{\"kty\":\"RSA\","
                         "\"n\":\"%V\",\"e\":\"%V\"}]}", &nb, &eb);
        *q = '\0';

        rc = ngx_http_llmgw_test_jwks((char *) buf, &keys, &reason);

        NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && keys->nelts == 1
                             && EVP_PKEY_eq(rsa,
                                 ((ngx_http_llmgw_key_t *) keys->elts)->pkey)
                                == 1,
                             "RSA modulus with a leading zero byte");
    }
}


static void
ngx_http_llmgw_test_skips(void)
{
    ngx_int_t     rc;
    ngx_str_t    *jwk;
    ngx_array_t  *keys;
    const char   *reason;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_skipped(
                             ngx_http_llmgw_test_doc(
                                 ngx_http_llmgw_test_jwk(rsa1024, NULL),
                                 NULL)),
                         "RSA 1024-bit key skipped");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_skipped(
                             ngx_http_llmgw_test_doc(
                                 ngx_http_llmgw_test_jwk(rsa,
                                     "\"use\":\"enc\""),
                                 NULL)),
                         "\"use\":\"enc\" skipped");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_skipped(
                             ngx_http_llmgw_test_doc(
                                 ngx_http_llmgw_test_jwk(ec256,
                                     "\"key_ops\":[\"encrypt\",\"sign\"]"),
                                 NULL)),
                         "key_ops without verify skipped");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_skipped(
                             ngx_http_llmgw_test_doc(
                                 ngx_http_llmgw_test_jwk(ec256,
                                     "\"key_ops\":[]"),
                                 NULL)),
                         "empty key_ops skipped");

    rc = ngx_http_llmgw_test_jwks("{\"keys\":[{\"kty\":\"oct\",\"k\":"
                                  "\"c2VjcmV0\",\"alg\":\"HS256\"},"
                                  "{\"kty\":\"XYZ\"},{\"kty\":\"rsa\"}]}",
                                  &keys, &reason);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && keys->nelts == 0,
                         "oct, unknown and lower-case kty skipped");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_skipped(
                             ngx_http_llmgw_test_doc(
                                 ngx_http_llmgw_test_jwk(rsa,
                                     "\"alg\":\"ES256\""),
                                 ngx_http_llmgw_test_jwk(ec256,
                                     "\"alg\":\"RS256\""))),
                         "JWK alg of another family skipped");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_skipped(
                             ngx_http_llmgw_test_doc(
                                 ngx_http_llmgw_test_jwk(ec256,
                                     "\"alg\":\"ES384\""),
                                 ngx_http_llmgw_test_jwk(ec521,
                                     "\"alg\":\"ES256\""))),
                         "JWK alg of another curve skipped");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_skipped(
                             ngx_http_llmgw_test_doc(
                                 ngx_http_llmgw_test_jwk(rsa,
                                     "\"alg\":\"HS256\""),
                                 ngx_http_llmgw_test_jwk(rsa,
                                     "\"alg\":\"none\""))),
                         "JWK alg HS256 or none skipped");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_skipped(
                             ngx_http_llmgw_test_doc(
                                 ngx_http_llmgw_test_jwk(rsa,
                                     "\"alg\":\"RSA-OAEP\""),
                                 ngx_http_llmgw_test_jwk(k1, NULL))),
                         "JWK alg RSA-OAEP, curve secp256k1 skipped");

    /* a skipped key does not stop the good one after it */

    jwk = ngx_http_llmgw_test_jwk(rsa, "\"use\":\"enc\"");

    rc = NGX_ERROR;
    keys = NULL;

    if (jwk != NULL) {
        ngx_str_t  *doc;

        doc = ngx_http_llmgw_test_doc(jwk,
                                      ngx_http_llmgw_test_jwk(ed, NULL));
        if (doc != NULL) {
            rc = ngx_http_llmgw_test_jwks((char *) doc->data, &keys,
                                          &reason);
        }
    }

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && keys->nelts == 1
                         && ((ngx_http_llmgw_key_t *) keys->elts)->algs
                            == NGX_HTTP_LLMGW_ALG_BIT(
                                   NGX_HTTP_LLMGW_ALG_EDDSA),
                         "skipped key, then a good one taken");

    NGX_HTTP_LLMGW_CHECK(ERR_peek_error() == 0,
                         "OpenSSL error queue left empty");
}


static void
ngx_http_llmgw_test_malformed(void)
{
    u_char       *p, buf[4096];
    ngx_str_t    *jwk, x, y;
    ngx_uint_t    ok, i;
    ngx_str_t    *ecjwk;

    /* not a point of P-256: y of the real key with its last bit flipped */

    {
        u_char   yb[32], xb[32];
        BIGNUM  *bx, *by;

        bx = NULL;
        by = NULL;

        EVP_PKEY_get_bn_param(ec256, "qx", &bx);
        EVP_PKEY_get_bn_param(ec256, "qy", &by);
        BN_bn2binpad(bx, xb, 32);
        BN_bn2binpad(by, yb, 32);
        BN_free(bx);
        BN_free(by);

        yb[31] ^= 1;

        ngx_http_llmgw_unit_b64url(pool, xb, 32, &x);
        ngx_http_llmgw_unit_b64url(pool, yb, 32, &y);

        p = ngx_snprintf(buf, sizeof(buf) - 1, "{\"keys\":[{\"kty\":\"EC\","
                         "\"crv\":\"P-256\",\"x\":\"%V\",\"y\":\"%V\"}]}",
                         &x, &y);
        *p = '\0';

        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_declined((char *) buf,
                                 "invalid EC JWK: point not on the curve"),
                             "EC point not on the curve refused");

        /* the P-256 point given as a P-384 key, zero-padded */

        ngx_memzero(buf, 48);
        yb[31] ^= 1;

        {
            u_char  x48[48], y48[48];

            ngx_memzero(x48, 16);
            ngx_memzero(y48, 16);
            ngx_memcpy(x48 + 16, xb, 32);
            ngx_memcpy(y48 + 16, yb, 32);

            ngx_http_llmgw_unit_b64url(pool, x48, 48, &x);
            ngx_http_llmgw_unit_b64url(pool, y48, 48, &y);
        }

        p = ngx_snprintf(buf, sizeof(buf) - 1, "{\"keys\":[{\"kty\":\"EC\","
                         "\"crv\":\"P-384\",\"x\":\"%V\",\"y\":\"%V\"}]}",
                         &x, &y);
        *p = '\0';

        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_declined((char *) buf,
                                 "invalid EC JWK: point not on the curve"),
                             "P-256 point as a P-384 key refused");

        /* the point at infinity has no affine form: all zeros */

        ngx_memzero(xb, 32);
        ngx_memzero(yb, 32);
        ngx_http_llmgw_unit_b64url(pool, xb, 32, &x);

        p = ngx_snprintf(buf, sizeof(buf) - 1, "{\"keys\":[{\"kty\":\"EC\","
                         "\"crv\":\"P-256\",\"x\":\"%V\",\"y\":\"%V\"}]}",
                         &x, &x);
        *p = '\0';

        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_declined((char *) buf,
                                 NULL),
                             "EC point (0, 0) refused");
    }

    /* members missing, of the wrong type or length, not base64url */

    ecjwk = ngx_http_llmgw_test_jwk(ec256, NULL);

    {
        static const char  *docs[][2] = {
            { "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}",
              "invalid RSA JWK \"n\"" },
            { "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\"}]}",
              "invalid RSA JWK \"e\"" },
            { "{\"keys\":[{\"kty\":\"RSA\",\"n\":7,\"e\":\"AQAB\"}]}",
              "invalid RSA JWK \"n\"" },
            { "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQ==\",\"e\":\"AQAB\"}]}",
              "invalid RSA JWK \"n\"" },
            { "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"\",\"e\":\"AQAB\"}]}",
              "invalid RSA JWK" },
            { "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"\"}]}",
              "invalid RSA JWK" },
            { "{\"keys\":[{\"kty\":\"EC\",\"x\":\"AA\",\"y\":\"AA\"}]}",
              "invalid EC JWK \"crv\"" },
            { "{\"keys\":[{\"kty\":\"EC\",\"crv\":256,\"x\":\"AA\"}]}",
              "invalid EC JWK \"crv\"" },
            { "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\"}]}",
              "invalid EC JWK \"x\"" },
            { "{\"keys\":[{\"kty\":\"OKP\",\"x\":\"AA\"}]}",
              "invalid OKP JWK \"crv\"" },
            { "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}]}",
              "invalid OKP JWK \"x\"" },
            { "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
              "\"x\":\"AAAA\"}]}",
              "invalid OKP JWK \"x\"" },
            { "{\"keys\":[{\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
              "JWK without kty" },
            { "{\"keys\":[{\"kty\":7}]}", "JWK without kty" },
            { "{\"keys\":[\"RSA\"]}", "JWK is not an object" },
            { "{\"keys\":[[]]}", "JWK is not an object" },
            { "{\"keys\":[{\"kty\":\"RSA\",\"use\":1}]}", "invalid JWK use" },
            { "{\"keys\":[{\"kty\":\"RSA\",\"key_ops\":\"verify\"}]}",
              "invalid JWK key_ops" },
            { "{\"keys\":[{\"kty\":\"RSA\",\"key_ops\":[1]}]}",
              "invalid JWK key_ops" },
            { "{\"keys\":[{\"kty\":\"RSA\",\"alg\":256}]}",
              "invalid JWK alg" },
            { "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":1,"
              "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}",
              "invalid JWK kid" },
            { NULL, NULL }
        };

        ok = 1;

        for (i = 0; docs[i][0] != NULL; i++) {
            if (!ngx_http_llmgw_test_declined(docs[i][0], docs[i][1])) {
                printf("# %s\n", docs[i][0]);
                ok = 0;
            }
        }

        NGX_HTTP_LLMGW_CHECK(ok, "missing, mistyped, malformed members "
                             "refused with their reasons");
    }

    /* the EC key with x one byte short and y one byte long */

    ok = 0;

    if (ecjwk != NULL) {
        u_char  xb[33];

        ngx_memset(xb, 1, sizeof(xb));
        ngx_http_llmgw_unit_b64url(pool, xb, 31, &x);
        ngx_http_llmgw_unit_b64url(pool, xb, 33, &y);

        p = ngx_snprintf(buf, sizeof(buf) - 1, "{\"keys\":[{\"kty\":\"EC\","
                         "\"crv\":\"P-256\",\"x\":\"%V\",\"y\":\"%V\"}]}",
                         &x, &y);
        *p = '\0';

        ok = ngx_http_llmgw_test_declined((char *) buf,
                                          "invalid EC JWK \"x\"");

        ngx_http_llmgw_unit_b64url(pool, xb, 32, &x);

        p = ngx_snprintf(buf, sizeof(buf) - 1, "{\"keys\":[{\"kty\":\"EC\","
                         "\"crv\":\"P-256\",\"x\":\"%V\",\"y\":\"%V\"}]}",
                         &x, &y);
        *p = '\0';

        ok = ok && ngx_http_llmgw_test_declined((char *) buf,
                                                "invalid EC JWK \"y\"");
    }

    NGX_HTTP_LLMGW_CHECK(ok, "EC coordinates of the wrong length refused");

    /* even modulus, even exponent, e = 1 */

    {
        static const char  *bad[] = {
            "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAC\",\"e\":\"AQAB\"}]}",
            "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAC\"}]}",
            "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQ\"}]}",
            "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AAE\"}]}",
            NULL
        };

        ok = 1;

        for (i = 0; bad[i] != NULL; i++) {
            if (!ngx_http_llmgw_test_declined(bad[i], "invalid RSA JWK")) {
                printf("# %s\n", bad[i]);
                ok = 0;
            }
        }

        NGX_HTTP_LLMGW_CHECK(ok, "RSA even n, even e, e = 1 refused");
    }

    /* all or nothing: a good key, then a malformed one */

    jwk = ngx_http_llmgw_test_jwk(rsa, NULL);

    ok = 0;

    if (jwk != NULL) {
        ngx_str_t  bad = ngx_string("{\"kty\":\"EC\",\"crv\":\"P-256\"}");
        ngx_str_t *doc = ngx_http_llmgw_test_doc(jwk, &bad);

        ok = doc != NULL
             && ngx_http_llmgw_test_declined((char *) doc->data, NULL);
    }

    NGX_HTTP_LLMGW_CHECK(ok, "a declined document adds no key");

    /* top level */

    {
        static const char  *docs[][2] = {
            { "[]", "JWKS without a \"keys\" array" },
            { "{}", "JWKS without a \"keys\" array" },
            { "{\"keys\":{}}", "JWKS without a \"keys\" array" },
            { "{\"keys\":\"a\"}", "JWKS without a \"keys\" array" },
            { "{\"keys\":null}", "JWKS without a \"keys\" array" },
            { "{\"keys\":[]", "invalid JSON in JWKS" },
            { "{\"keys\":[],\"keys\":[]}", "invalid JSON in JWKS" },
            { "{\"keys\":[{\"kty\":\"RSA\",\"kty\":\"EC\"}]}",
              "invalid JSON in JWKS" },
            { "", "invalid JSON in JWKS" },
            { "\"keys\"", "invalid JSON in JWKS" },
            { NULL, NULL }
        };

        ok = 1;

        for (i = 0; docs[i][0] != NULL; i++) {
            if (!ngx_http_llmgw_test_declined(docs[i][0], docs[i][1])) {
                printf("# %s\n", docs[i][0]);
                ok = 0;
            }
        }

        NGX_HTTP_LLMGW_CHECK(ok, "non-object, non-array keys, broken JSON, "
                             "duplicate members refused");
    }
}


static void
ngx_http_llmgw_test_limits(void)
{
    u_char       *doc, *p;
    size_t        size;
    ngx_int_t     rc;
    ngx_uint_t    i;
    ngx_array_t  *keys;
    const char   *reason;

    size = (NGX_HTTP_LLMGW_JWKS_MAX_KEYS + 1) * 64 + 32;
    doc = ngx_pnalloc(pool, size);

    /* exactly the maximum number of keys */

    p = ngx_sprintf(doc, "{\"keys\":[");
    for (i = 0; i < NGX_HTTP_LLMGW_JWKS_MAX_KEYS; i++) {
        p = ngx_sprintf(p, "%s{\"kty\":\"oct\",\"k\":\"AA\"}", i ? "," : "");
    }
    p = ngx_sprintf(p, "]}%Z");

    rc = ngx_http_llmgw_test_jwks((char *) doc, &keys, &reason);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK, "64 keys accepted");

    /* one more */

    p = ngx_sprintf(doc, "{\"keys\":[");
    for (i = 0; i <= NGX_HTTP_LLMGW_JWKS_MAX_KEYS; i++) {
        p = ngx_sprintf(p, "%s{\"kty\":\"oct\",\"k\":\"AA\"}", i ? "," : "");
    }
    p = ngx_sprintf(p, "]}%Z");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_declined((char *) doc,
                                                      "too many keys in JWKS"),
                         "65 keys refused");

    /* larger than the document limit, whatever it holds */

    size = NGX_HTTP_LLMGW_JWKS_MAX_LEN + 1;
    doc = ngx_pnalloc(pool, size + 1);
    p = ngx_sprintf(doc, "{\"keys\":[],\"x\":\"");
    ngx_memset(p, 'a', doc + size - 2 - p);
    doc[size - 2] = '"';
    doc[size - 1] = '}';
    doc[size] = '\0';

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_declined((char *) doc,
                                                      "JWKS too large"),
                         "JWKS over 1 MB refused");

    doc[size - 3] = '"';
    doc[size - 2] = '}';
    doc[size - 1] = '\0';

    rc = ngx_http_llmgw_test_jwks((char *) doc, &keys, &reason);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK, "JWKS of exactly 1 MB parsed");

    /* deep nesting: jansson's depth limit, no stack overflow */

    size = 100000;
    doc = ngx_pnalloc(pool, size * 2 + 32);
    p = ngx_sprintf(doc, "{\"keys\":[],\"x\":");
    ngx_memset(p, '[', size);
    p += size;
    ngx_memset(p, ']', size);
    p += size;
    ngx_sprintf(p, "}%Z");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_declined((char *) doc,
                                                      "invalid JSON in JWKS"),
                         "deeply nested JSON refused");
}


static void
ngx_http_llmgw_test_pem(void)
{
    u_char                 fp[NGX_HTTP_LLMGW_SHA256_LEN];
    ngx_int_t              rc;
    ngx_str_t              pem, kid;
    ngx_uint_t             i, ok;
    ngx_array_t           *keys;
    const char            *reason;
    ngx_http_llmgw_key_t  *key;

    struct {
        EVP_PKEY     *pkey;
        ngx_uint_t    pkcs1;
        ngx_uint_t    algs;
        const char   *what;
    } good[] = {
        { rsa, 0, NGX_HTTP_LLMGW_ALGS_RSA, "RSA SubjectPublicKeyInfo" },
        { rsa, 1, NGX_HTTP_LLMGW_ALGS_RSA, "RSA PKCS#1" },
        { rsapss, 0,
          NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_PS256)
          | NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_PS384)
          | NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_PS512), "RSA-PSS" },
        { ec256, 0, NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES256),
          "EC P-256" },
        { ec384, 0, NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES384),
          "EC P-384" },
        { ec521, 0, NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES512),
          "EC P-521" },
        { ed, 0, NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_EDDSA),
          "Ed25519" }
    };

    ngx_str_set(&kid, "pem-1");

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        keys = ngx_array_create(pool, 2, sizeof(ngx_http_llmgw_key_t));

        if (ngx_http_llmgw_unit_pem_public(pool, good[i].pkey, good[i].pkcs1,
                                           &pem)
            != NGX_OK)
        {
            ngx_http_llmgw_unit_check(0, "PEM of %s", good[i].what);
            continue;
        }

        reason = NULL;
        rc = ngx_http_llmgw_pem_parse(pool, pem.data, pem.len,
                                      (i == 0) ? &kid : NULL, keys, &reason);

        key = keys->elts;

        ok = rc == NGX_OK
             && keys->nelts == 1
             && key->algs == good[i].algs
             && EVP_PKEY_eq(key->pkey, good[i].pkey) == 1
             && ngx_http_llmgw_unit_fp(good[i].pkey, fp) == NGX_OK
             && ngx_memcmp(fp, key->fp, sizeof(fp)) == 0
             && (i == 0 ? key->kid.len == 5
                          && ngx_strncmp(key->kid.data, "pem-1", 5) == 0
                        : key->kid.len == 0);

        ngx_http_llmgw_unit_check(ok, "PEM %s: algs, key, fingerprint, kid "
                                  "(%s)", good[i].what, reason ? reason : "");
    }

    /* a token signed by the RSA-PSS key verifies with it as PS256 only */

    {
        ngx_str_t              token;
        ngx_http_llmgw_jws_t   jws;

        keys = ngx_array_create(pool, 2, sizeof(ngx_http_llmgw_key_t));

        ok = ngx_http_llmgw_unit_pem_public(pool, rsapss, 0, &pem) == NGX_OK
             && ngx_http_llmgw_pem_parse(pool, pem.data, pem.len, NULL, keys,
                                         &reason)
                == NGX_OK
             && ngx_http_llmgw_unit_token(pool, rsapss,
                                          NGX_HTTP_LLMGW_ALG_PS256,
                                          "{\"alg\":\"PS256\"}", "{}", &token)
                == NGX_OK
             && ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason)
                == NGX_OK
             && ngx_http_llmgw_jws_verify(&jws, keys->elts) == NGX_OK;

        jws.alg = NGX_HTTP_LLMGW_ALG_RS256;

        ok = ok && ngx_http_llmgw_jws_verify(&jws, keys->elts)
                   == NGX_DECLINED;

        NGX_HTTP_LLMGW_CHECK(ok, "RSA-PSS PEM key verifies PS256, not RS*");
    }

    /* refusals */

    {
        struct {
            EVP_PKEY    *pkey;
            ngx_uint_t   private;
            const char  *reason;
            const char  *what;
        } bad[] = {
            { rsa, 1, "private key given, public key expected",
              "RSA private key" },
            { ec256, 1, "private key given, public key expected",
              "EC private key" },
            { ed, 1, "private key given, public key expected",
              "Ed25519 private key" },
            { rsa1024, 0, "RSA key shorter than 2048 bits", "RSA 1024" },
            { k1, 0, "unsupported EC curve", "EC secp256k1" },
            { x25519, 0, "unsupported key type", "X25519" }
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            keys = ngx_array_create(pool, 2, sizeof(ngx_http_llmgw_key_t));

            rc = bad[i].private
                 ? ngx_http_llmgw_unit_pem_private(pool, bad[i].pkey, &pem)
                 : ngx_http_llmgw_unit_pem_public(pool, bad[i].pkey, 0,
                                                  &pem);
            reason = NULL;

            if (rc == NGX_OK) {
                rc = ngx_http_llmgw_pem_parse(pool, pem.data, pem.len, NULL,
                                              keys, &reason);
            }

            ngx_http_llmgw_unit_check(rc == NGX_DECLINED
                                      && keys->nelts == 0
                                      && reason != NULL
                                      && ngx_strcmp(reason, bad[i].reason)
                                         == 0,
                                      "PEM %s refused: %s", bad[i].what,
                                      reason ? reason : "-");
        }
    }

    {
        static const char  *junk[] = {
            "",
            "hello",
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
            "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "-----BEGIN PUBLIC KEY-----\n",
            NULL
        };

        ok = 1;

        for (i = 0; junk[i] != NULL; i++) {
            keys = ngx_array_create(pool, 2, sizeof(ngx_http_llmgw_key_t));

            reason = NULL;
            rc = ngx_http_llmgw_pem_parse(pool, (u_char *) junk[i],
                                          ngx_strlen(junk[i]), NULL, keys,
                                          &reason);

            if (rc != NGX_DECLINED || keys->nelts != 0
                || ngx_strcmp(reason, "no public key in PEM") != 0)
            {
                printf("# junk %u: %s\n", (unsigned) i, reason);
                ok = 0;
            }
        }

        NGX_HTTP_LLMGW_CHECK(ok && ERR_peek_error() == 0,
                             "PEM junk, truncated, certificate refused; "
                             "error queue empty");
    }
}


static ngx_int_t
ngx_http_llmgw_test_write(const char *name, u_char *data, size_t len)
{
    FILE  *f;
    char   path[256];

    ngx_sprintf((u_char *) path, "%s/%s%Z", dir, name);

    f = fopen(path, "w");
    if (f == NULL) {
        return NGX_ERROR;
    }

    if (len && fwrite(data, 1, len, f) != len) {
        fclose(f);
        return NGX_ERROR;
    }

    return (fclose(f) == 0) ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_llmgw_test_files(void)
{
    u_char        buf[512];
    ngx_str_t     pem, priv, name, kid, *jwk, *doc, saved;
    ngx_conf_t    cf;
    ngx_uint_t    ok, errors;
    ngx_array_t  *keys;

    ngx_http_llmgw_unit_conf(&cf, pool);

    /* relative names are relative to the configuration prefix */

    saved = cf.cycle->conf_prefix;
    cf.cycle->conf_prefix.data = ngx_pnalloc(pool, ngx_strlen(dir) + 2);
    cf.cycle->conf_prefix.len = ngx_sprintf(cf.cycle->conf_prefix.data,
                                            "%s/", dir)
                                - cf.cycle->conf_prefix.data;

    ngx_http_llmgw_unit_pem_public(pool, ec256, 0, &pem);
    ngx_http_llmgw_unit_pem_private(pool, rsa, &priv);

    jwk = ngx_http_llmgw_test_jwk(rsa, "\"kid\":\"f1\"");
    doc = ngx_http_llmgw_test_doc(jwk, ngx_http_llmgw_test_jwk(ed, NULL));

    if (doc == NULL
        || ngx_http_llmgw_test_write("ec.pem", pem.data, pem.len) != NGX_OK
        || ngx_http_llmgw_test_write("priv.pem", priv.data, priv.len)
           != NGX_OK
        || ngx_http_llmgw_test_write("empty", NULL, 0) != NGX_OK
        || ngx_http_llmgw_test_write("oct.json",
               (u_char *) "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AA\"}]}", 33)
           != NGX_OK
        || ngx_http_llmgw_test_write("bad.json", (u_char *) "{\"keys\":", 8)
           != NGX_OK)
    {
        NGX_HTTP_LLMGW_CHECK(0, "key files written");
        return;
    }

    /* JWKS after white space */

    {
        u_char  *p = ngx_pnalloc(pool, doc->len + 4);

        ngx_memcpy(p, " \n\t", 3);
        ngx_memcpy(p + 3, doc->data, doc->len);

        if (ngx_http_llmgw_test_write("keys.json", p, doc->len + 3)
            != NGX_OK)
        {
            NGX_HTTP_LLMGW_CHECK(0, "key files written");
            return;
        }
    }

    ngx_explicit_memzero(priv.data, priv.len);

    keys = ngx_array_create(pool, 2, sizeof(ngx_http_llmgw_key_t));
    errors = ngx_http_llmgw_unit_conf_error_count;

    ngx_str_set(&name, "keys.json");

    ok = ngx_http_llmgw_keys_load_file(&cf, &name, NULL, keys) == NGX_OK
         && keys->nelts == 2
         && name.len == 9 && ngx_strncmp(name.data, "keys.json", 9) == 0
         && ngx_http_llmgw_unit_conf_error_count == errors;

    NGX_HTTP_LLMGW_CHECK(ok, "JWKS file by relative name: 2 keys, name "
                         "left as given");

    ngx_sprintf(buf, "%s/ec.pem%Z", dir);
    name.data = buf;
    name.len = ngx_strlen(buf);
    ngx_str_set(&kid, "pem-kid");

    ok = ngx_http_llmgw_keys_load_file(&cf, &name, &kid, keys) == NGX_OK
         && keys->nelts == 3
         && ((ngx_http_llmgw_key_t *) keys->elts)[2].kid.len == 7;

    NGX_HTTP_LLMGW_CHECK(ok, "PEM file by absolute name, with a kid");

    /* failures: each one logged with the file name and the reason */

    {
        static const char  *cases[][3] = {
            { "missing.pem", "open() failed", "no such file" },
            { ".", "not a regular file", "a directory" },
            { "empty", "no public key in PEM", "an empty file" },
            { "priv.pem", "private key given, public key expected",
              "a private key" },
            { "oct.json", "no usable key", "a JWKS with no usable key" },
            { "bad.json", "invalid JSON in JWKS", "broken JWKS" },
            { NULL, NULL, NULL }
        };

        ngx_uint_t  i;

        ngx_http_llmgw_unit_quiet = 1;

        for (i = 0; cases[i][0] != NULL; i++) {
            name.data = (u_char *) cases[i][0];
            name.len = ngx_strlen(cases[i][0]);

            errors = ngx_http_llmgw_unit_conf_error_count;

            ok = ngx_http_llmgw_keys_load_file(&cf, &name, NULL, keys)
                    == NGX_ERROR
                 && keys->nelts == 3
                 && ngx_http_llmgw_unit_conf_error_count == errors + 1
                 && ngx_strstr(ngx_http_llmgw_unit_last_conf_error,
                               "llmgw: key file \"/") != NULL
                 && ngx_strstr(ngx_http_llmgw_unit_last_conf_error,
                               cases[i][0]) != NULL
                 && ngx_strstr(ngx_http_llmgw_unit_last_conf_error,
                               cases[i][1]) != NULL
                 && ngx_strstr(ngx_http_llmgw_unit_last_conf_error, "MII")
                    == NULL;

            ngx_http_llmgw_unit_check(ok, "key file: %s refused and logged",
                                      cases[i][2]);

            if (!ok) {
                printf("# %s\n", ngx_http_llmgw_unit_last_conf_error);
            }
        }

        /* a kid makes no sense for a JWKS file */

        ngx_str_set(&name, "keys.json");
        ngx_str_set(&kid, "x");

        ok = ngx_http_llmgw_keys_load_file(&cf, &name, &kid, keys)
             == NGX_ERROR
             && keys->nelts == 3
             && ngx_strstr(ngx_http_llmgw_unit_last_conf_error,
                           "kid is given for a JWKS") != NULL;

        NGX_HTTP_LLMGW_CHECK(ok, "key file: kid with a JWKS file refused");

        /* larger than the limit: a sparse file */

        ngx_sprintf(buf, "%s/big%Z", dir);

        ok = 0;

        {
            FILE  *f = fopen((char *) buf, "w");

            if (f != NULL) {
                ok = ftruncate(fileno(f), NGX_HTTP_LLMGW_JWKS_MAX_LEN + 1)
                     == 0;
                fclose(f);
            }
        }

        ngx_str_set(&name, "big");

        ok = ok
             && ngx_http_llmgw_keys_load_file(&cf, &name, NULL, keys)
                == NGX_ERROR
             && ngx_strstr(ngx_http_llmgw_unit_last_conf_error,
                           "file too large") != NULL;

        NGX_HTTP_LLMGW_CHECK(ok, "key file over 1 MB refused");

        unlink((char *) buf);

        ngx_http_llmgw_unit_quiet = 0;
    }

    {
        static const char  *names[] = {
            "keys.json", "ec.pem", "priv.pem", "empty", "oct.json",
            "bad.json", NULL
        };

        ngx_uint_t  i;

        for (i = 0; names[i] != NULL; i++) {
            ngx_sprintf(buf, "%s/%s%Z", dir, names[i]);
            unlink((char *) buf);
        }
    }

    cf.cycle->conf_prefix = saved;
}


static ngx_http_llmgw_key_t *
ngx_http_llmgw_test_first(ngx_array_t *keys, ngx_str_t *kid,
    ngx_http_llmgw_alg_e alg)
{
    ngx_uint_t  next;

    next = 0;

    return ngx_http_llmgw_keys_next(keys, kid, alg, &next);
}


static void
ngx_http_llmgw_test_next(void)
{
    u_char                 *p, buf[16384];
    ngx_str_t               kid, *j[5];
    ngx_uint_t              next, ok;
    ngx_array_t            *keys;
    const char             *reason;
    ngx_http_llmgw_key_t   *k, *key;

    /* a: RSA; b: P-256; none: RSA; a again: RSA bound to PS256 */

    j[0] = ngx_http_llmgw_test_jwk(rsa, "\"kid\":\"a\"");
    j[1] = ngx_http_llmgw_test_jwk(ec256, "\"kid\":\"b\"");
    j[2] = ngx_http_llmgw_test_jwk(rsa, NULL);
    j[3] = ngx_http_llmgw_test_jwk(rsa1024, "\"kid\":\"a\"");
    j[4] = ngx_http_llmgw_test_jwk(rsa, "\"kid\":\"a\",\"alg\":\"PS256\"");

    if (j[0] == NULL || j[1] == NULL || j[2] == NULL || j[3] == NULL
        || j[4] == NULL)
    {
        NGX_HTTP_LLMGW_CHECK(0, "JWKs made");
        return;
    }

    p = ngx_snprintf(buf, sizeof(buf) - 1, "{\"keys\":[%V,%V,%V,%V,%V]}",
                     j[0], j[1], j[2], j[3], j[4]);
    *p = '\0';

    if (ngx_http_llmgw_test_jwks((char *) buf, &keys, &reason) != NGX_OK
        || keys->nelts != 4)
    {
        NGX_HTTP_LLMGW_CHECK(0, "key set parsed");
        return;
    }

    key = keys->elts;

    ngx_str_set(&kid, "a");
    next = 0;

    k = ngx_http_llmgw_keys_next(keys, &kid, NGX_HTTP_LLMGW_ALG_PS256, &next);
    ok = (k == &key[0]);
    k = ngx_http_llmgw_keys_next(keys, &kid, NGX_HTTP_LLMGW_ALG_PS256, &next);
    ok = ok && (k == &key[3]);
    k = ngx_http_llmgw_keys_next(keys, &kid, NGX_HTTP_LLMGW_ALG_PS256, &next);
    ok = ok && k == NULL;
    k = ngx_http_llmgw_keys_next(keys, &kid, NGX_HTTP_LLMGW_ALG_PS256, &next);
    ok = ok && k == NULL;

    NGX_HTTP_LLMGW_CHECK(ok, "kid a, PS256: both a keys in order, then none");

    next = 0;
    k = ngx_http_llmgw_keys_next(keys, &kid, NGX_HTTP_LLMGW_ALG_RS256, &next);
    ok = (k == &key[0]);
    k = ngx_http_llmgw_keys_next(keys, &kid, NGX_HTTP_LLMGW_ALG_RS256, &next);
    ok = ok && k == NULL;

    NGX_HTTP_LLMGW_CHECK(ok, "kid a, RS256: the key bound to PS256 not "
                         "offered");

    next = 0;
    ok = ngx_http_llmgw_keys_next(keys, &kid, NGX_HTTP_LLMGW_ALG_ES256, &next)
         == NULL;

    ngx_str_set(&kid, "b");
    next = 0;
    ok = ok
         && ngx_http_llmgw_keys_next(keys, &kid, NGX_HTTP_LLMGW_ALG_ES256,
                                     &next)
            == &key[1]
         && ngx_http_llmgw_test_first(keys, &kid, NGX_HTTP_LLMGW_ALG_ES384)
            == NULL;

    NGX_HTTP_LLMGW_CHECK(ok, "kid and alg must both match");

    ngx_str_null(&kid);
    next = 0;
    k = ngx_http_llmgw_keys_next(keys, &kid, NGX_HTTP_LLMGW_ALG_RS256, &next);
    ok = (k == &key[2]);
    k = ngx_http_llmgw_keys_next(keys, &kid, NGX_HTTP_LLMGW_ALG_RS256, &next);
    ok = ok && k == NULL;

    next = 0;
    ok = ok
         && ngx_http_llmgw_keys_next(keys, NULL, NGX_HTTP_LLMGW_ALG_RS512,
                                     &next)
            == &key[2]
         && ngx_http_llmgw_test_first(keys, NULL, NGX_HTTP_LLMGW_ALG_ES256)
            == NULL;

    NGX_HTTP_LLMGW_CHECK(ok, "no kid: only the key without a kid");

    ngx_str_set(&kid, "../a");
    next = 0;
    ok = ngx_http_llmgw_keys_next(keys, &kid, NGX_HTTP_LLMGW_ALG_RS256, &next)
         == NULL;

    kid.data = (u_char *) "a\0";
    kid.len = 2;
    next = 0;
    ok = ok
         && ngx_http_llmgw_keys_next(keys, &kid, NGX_HTTP_LLMGW_ALG_RS256,
                                     &next)
            == NULL;

    ngx_str_set(&kid, "A");
    next = 0;
    ok = ok
         && ngx_http_llmgw_keys_next(keys, &kid, NGX_HTTP_LLMGW_ALG_RS256,
                                     &next)
            == NULL
         && ngx_http_llmgw_test_first(keys, &kid, NGX_HTTP_LLMGW_ALG_COUNT)
            == NULL
         && ngx_http_llmgw_test_first(NULL, &kid, NGX_HTTP_LLMGW_ALG_RS256)
            == NULL;

    NGX_HTTP_LLMGW_CHECK(ok, "kid compared byte for byte: ../a, a\\0, A "
                         "match nothing");
}


int
main(void)
{
    int  rc;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    pool = ngx_create_pool(16384, &ngx_http_llmgw_unit_log);

    rsa = ngx_http_llmgw_unit_keygen("RSA", 2048, NULL);
    rsa1024 = ngx_http_llmgw_unit_keygen("RSA", 1024, NULL);
    rsapss = ngx_http_llmgw_unit_keygen("RSA-PSS", 2048, NULL);
    ec256 = ngx_http_llmgw_unit_keygen("EC", 0, "P-256");
    ec384 = ngx_http_llmgw_unit_keygen("EC", 0, "P-384");
    ec521 = ngx_http_llmgw_unit_keygen("EC", 0, "P-521");
    ed = ngx_http_llmgw_unit_keygen("ED25519", 0, NULL);
    k1 = ngx_http_llmgw_unit_keygen("EC", 0, "secp256k1");
    x25519 = ngx_http_llmgw_unit_keygen("X25519", 0, NULL);

    if (pool == NULL || rsa == NULL || rsa1024 == NULL || rsapss == NULL
        || ec256 == NULL || ec384 == NULL || ec521 == NULL || ed == NULL
        || k1 == NULL || x25519 == NULL || mkdtemp(dir) == NULL)
    {
        NGX_HTTP_LLMGW_CHECK(0, "keys generated");
        return ngx_http_llmgw_unit_done();
    }

    ngx_http_llmgw_test_good_jwks();
    ngx_http_llmgw_test_skips();
    ngx_http_llmgw_test_malformed();
    ngx_http_llmgw_test_limits();
    ngx_http_llmgw_test_pem();
    ngx_http_llmgw_test_files();
    ngx_http_llmgw_test_next();

    rmdir(dir);

    rc = ngx_http_llmgw_unit_done();

    ngx_destroy_pool(pool);

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa1024);
    EVP_PKEY_free(rsapss);
    EVP_PKEY_free(ec256);
    EVP_PKEY_free(ec384);
    EVP_PKEY_free(ec521);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(x25519);

    ngx_http_llmgw_unit_cleanup();

    return rc;
}
