
/*
 * Copyright (C) llmgw authors
 *
 * Public keys: JWKS documents (RFC 7517, RFC 7518 section 6, RFC 8037) and
 * PEM files parsed into EVP_PKEY once, with OpenSSL 3's EVP_PKEY_fromdata
 * and decoders, and the selection of the keys that may verify a token.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "ngx_http_llmgw_jws.h"
#include "ngx_http_llmgw_jwk.h"


#define NGX_HTTP_LLMGW_RSA_MIN_BITS    2048
#define NGX_HTTP_LLMGW_RSA_MAX_BITS    16384
#define NGX_HTTP_LLMGW_RSA_MAX_E       32     /* bytes: e < 2^256 */

#define NGX_HTTP_LLMGW_ALGS_EC                                                \
    (NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES256)                         \
     |NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES384)                        \
     |NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES512))

#define NGX_HTTP_LLMGW_ALGS_PS                                                \
    (NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_PS256)                         \
     |NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_PS384)                        \
     |NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_PS512))


typedef struct {
    ngx_str_t                  crv;       /* JWK name, RFC 7518 6.2.1.1 */
    const char                *group;     /* OpenSSL name */
    size_t                     len;       /* coordinate length */
    ngx_http_llmgw_alg_e       alg;
} ngx_http_llmgw_jwk_curve_t;


static ngx_int_t ngx_http_llmgw_jwk_parse(ngx_pool_t *pool, json_t *jwk,
    ngx_array_t *keys, const char **reason);
static ngx_int_t ngx_http_llmgw_jwk_usable(json_t *jwk, ngx_int_t *alg,
    const char **reason);
static ngx_int_t ngx_http_llmgw_jwk_member(json_t *jwk, const char *name,
    u_char *buf, size_t size, ngx_str_t *value);
static ngx_int_t ngx_http_llmgw_jwk_rsa(json_t *jwk, EVP_PKEY **pkey,
    const char **reason);
static ngx_int_t ngx_http_llmgw_jwk_ec(json_t *jwk, EVP_PKEY **pkey,
    ngx_uint_t *algs, const char **reason);
static ngx_int_t ngx_http_llmgw_jwk_okp(json_t *jwk, EVP_PKEY **pkey,
    const char **reason);
static EVP_PKEY *ngx_http_llmgw_jwk_fromdata(const char *type,
    OSSL_PARAM *params);
static ngx_int_t ngx_http_llmgw_key_add(ngx_pool_t *pool, EVP_PKEY *pkey,
    ngx_str_t *kid, ngx_uint_t algs, ngx_array_t *keys, const char **reason);
static void ngx_http_llmgw_key_cleanup(void *data);
static ngx_uint_t ngx_http_llmgw_pem_algs(EVP_PKEY *pkey,
    const char **reason);


static ngx_http_llmgw_jwk_curve_t  ngx_http_llmgw_jwk_curves[] = {
    { ngx_string("P-256"), "prime256v1", 32, NGX_HTTP_LLMGW_ALG_ES256 },
    { ngx_string("P-384"), "secp384r1", 48, NGX_HTTP_LLMGW_ALG_ES384 },
    { ngx_string("P-521"), "secp521r1", 66, NGX_HTTP_LLMGW_ALG_ES512 },
    { ngx_null_string, NULL, 0, 0 }
};


ngx_int_t
ngx_http_llmgw_jwks_parse(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_array_t *keys, const char **reason)
{
    json_t        *doc, *arr;
    size_t         i, n;
    ngx_int_t      rc;
    ngx_uint_t     nelts;
    json_error_t   error;

    if (len > NGX_HTTP_LLMGW_JWKS_MAX_LEN) {
        *reason = "JWKS too large";
        return NGX_DECLINED;
    }

    doc = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES,
                     &error);
    if (doc == NULL) {
        *reason = "invalid JSON in JWKS";
        return NGX_DECLINED;
    }

    arr = json_is_object(doc) ? json_object_get(doc, "keys") : NULL;

    if (!json_is_array(arr)) {
        json_decref(doc);
        *reason = "JWKS without a \"keys\" array";
        return NGX_DECLINED;
    }

    n = json_array_size(arr);

    if (n > NGX_HTTP_LLMGW_JWKS_MAX_KEYS) {
        json_decref(doc);
        *reason = "too many keys in JWKS";
        return NGX_DECLINED;
    }

    /* all or nothing: a declined document adds no key */

    nelts = keys->nelts;
    rc = NGX_OK;

    for (i = 0; i < n; i++) {
        rc = ngx_http_llmgw_jwk_parse(pool, json_array_get(arr, i), keys,
                                      reason);
        if (rc == NGX_DONE) {
            rc = NGX_OK;
            continue;
        }

        if (rc != NGX_OK) {
            keys->nelts = nelts;
            break;
        }
    }

    json_decref(doc);
    ERR_clear_error();

    return rc;
}


ngx_int_t
ngx_http_llmgw_jwk_key(ngx_pool_t *pool, json_t *jwk, ngx_array_t *keys,
    const char **reason)
{
    ngx_int_t  rc;

    rc = ngx_http_llmgw_jwk_parse(pool, jwk, keys, reason);

    if (rc == NGX_DONE) {
        *reason = "unsupported JWK";
        rc = NGX_DECLINED;
    }

    ERR_clear_error();

    return rc;
}


/* NGX_OK: added; NGX_DONE: skipped; NGX_DECLINED: malformed; NGX_ERROR */

static ngx_int_t
ngx_http_llmgw_jwk_parse(ngx_pool_t *pool, json_t *jwk, ngx_array_t *keys,
    const char **reason)
{
    json_t      *v;
    EVP_PKEY    *pkey;
    ngx_int_t    rc, alg;
    ngx_str_t    kty, kid;
    ngx_uint_t   algs;

    if (!json_is_object(jwk)) {
        *reason = "JWK is not an object";
        return NGX_DECLINED;
    }

    v = json_object_get(jwk, "kty");

    if (!json_is_string(v)) {
        *reason = "JWK without kty";
        return NGX_DECLINED;
    }

    kty.data = (u_char *) json_string_value(v);
    kty.len = json_string_length(v);

    rc = ngx_http_llmgw_jwk_usable(jwk, &alg, reason);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_str_null(&kid);

    v = json_object_get(jwk, "kid");

    if (v != NULL) {
        if (!json_is_string(v)) {
            *reason = "invalid JWK kid";
            return NGX_DECLINED;
        }

        kid.data = (u_char *) json_string_value(v);
        kid.len = json_string_length(v);
    }

    pkey = NULL;

    if (kty.len == 3 && ngx_strncmp(kty.data, "RSA", 3) == 0) {
        algs = NGX_HTTP_LLMGW_ALGS_RSA;
        rc = ngx_http_llmgw_jwk_rsa(jwk, &pkey, reason);

    } else if (kty.len == 2 && ngx_strncmp(kty.data, "EC", 2) == 0) {
        rc = ngx_http_llmgw_jwk_ec(jwk, &pkey, &algs, reason);

    } else if (kty.len == 3 && ngx_strncmp(kty.data, "OKP", 3) == 0) {
        algs = NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_EDDSA);
        rc = ngx_http_llmgw_jwk_okp(jwk, &pkey, reason);

    } else {
        /* "oct" (a shared secret) and anything else: not for us */
        return NGX_DONE;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    /* "alg" binds the key to that one algorithm, of the key's family */

    if (alg != NGX_ERROR) {
        if (!(algs & NGX_HTTP_LLMGW_ALG_BIT(alg))) {
            EVP_PKEY_free(pkey);
            return NGX_DONE;
        }

        algs = NGX_HTTP_LLMGW_ALG_BIT(alg);
    }

    return ngx_http_llmgw_key_add(pool, pkey, &kid, algs, keys, reason);
}


/*
 * "use", "key_ops" and "alg": NGX_DONE when they say the key is not for
 * verifying JWS signatures of an algorithm this module knows; *alg is the
 * algorithm the key is bound to, or NGX_ERROR when there is no "alg"
 */

static ngx_int_t
ngx_http_llmgw_jwk_usable(json_t *jwk, ngx_int_t *alg, const char **reason)
{
    json_t      *v, *op;
    size_t       i;
    ngx_str_t    s;
    ngx_uint_t   verify;

    *alg = NGX_ERROR;

    v = json_object_get(jwk, "use");

    if (v != NULL) {
        if (!json_is_string(v)) {
            *reason = "invalid JWK use";
            return NGX_DECLINED;
        }

        if (json_string_length(v) != 3
            || ngx_strncmp(json_string_value(v), "sig", 3) != 0)
        {
            return NGX_DONE;
        }
    }

    v = json_object_get(jwk, "key_ops");

    if (v != NULL) {
        if (!json_is_array(v)) {
            *reason = "invalid JWK key_ops";
            return NGX_DECLINED;
        }

        verify = 0;

        for (i = 0; i < json_array_size(v); i++) {
            op = json_array_get(v, i);

            if (!json_is_string(op)) {
                *reason = "invalid JWK key_ops";
                return NGX_DECLINED;
            }

            if (json_string_length(op) == 6
                && ngx_strncmp(json_string_value(op), "verify", 6) == 0)
            {
                verify = 1;
            }
        }

        if (!verify) {
            return NGX_DONE;
        }
    }

    v = json_object_get(jwk, "alg");

    if (v != NULL) {
        if (!json_is_string(v)) {
            *reason = "invalid JWK alg";
            return NGX_DECLINED;
        }

        s.data = (u_char *) json_string_value(v);
        s.len = json_string_length(v);

        *alg = ngx_http_llmgw_alg_parse(&s);

        if (*alg == NGX_ERROR) {
            /* HS256, RSA-OAEP, none ...: not a key this module verifies */
            return NGX_DONE;
        }
    }

    return NGX_OK;
}


/*
 * A base64url member decoded into buf: NGX_OK; NGX_DECLINED when it is
 * missing, not a string, not strict base64url; NGX_DONE when it would not
 * fit in size bytes.
 */

static ngx_int_t
ngx_http_llmgw_jwk_member(json_t *jwk, const char *name, u_char *buf,
    size_t size, ngx_str_t *value)
{
    json_t     *v;
    ngx_str_t   src;

    v = json_object_get(jwk, name);

    if (!json_is_string(v)) {
        return NGX_DECLINED;
    }

    src.data = (u_char *) json_string_value(v);
    src.len = json_string_length(v);

    if (ngx_base64_decoded_length(src.len) > size) {
        return NGX_DONE;
    }

    value->data = buf;

    if (ngx_http_llmgw_base64url_decode_strict(value, &src) != NGX_OK) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_jwk_rsa(json_t *jwk, EVP_PKEY **pkey, const char **reason)
{
    int              bits;
    u_char           nbuf[NGX_HTTP_LLMGW_RSA_MAX_BITS / 8 + 3];
    u_char           ebuf[NGX_HTTP_LLMGW_RSA_MAX_E + 3];
    BIGNUM          *n, *e;
    EVP_PKEY        *k;
    ngx_int_t        rc;
    ngx_str_t        nv, ev;
    OSSL_PARAM      *params;
    OSSL_PARAM_BLD  *bld;

    rc = ngx_http_llmgw_jwk_member(jwk, "n", nbuf, sizeof(nbuf), &nv);

    if (rc == NGX_DONE) {
        /* longer than NGX_HTTP_LLMGW_RSA_MAX_BITS */
        return NGX_DONE;
    }

    if (rc != NGX_OK) {
        *reason = "invalid RSA JWK \"n\"";
        return NGX_DECLINED;
    }

    rc = ngx_http_llmgw_jwk_member(jwk, "e", ebuf, sizeof(ebuf), &ev);

    if (rc != NGX_OK) {
        *reason = "invalid RSA JWK \"e\"";
        return NGX_DECLINED;
    }

    /* Base64urlUInt: big-endian, odd, e > 1, e shorter than n */

    if (nv.len == 0
        || (nv.data[nv.len - 1] & 1) == 0
        || ev.len == 0
        || ev.len > NGX_HTTP_LLMGW_RSA_MAX_E
        || (ev.data[ev.len - 1] & 1) == 0
        || ev.len > nv.len)
    {
        *reason = "invalid RSA JWK";
        return NGX_DECLINED;
    }

    n = BN_bin2bn(nv.data, nv.len, NULL);
    e = BN_bin2bn(ev.data, ev.len, NULL);
    bld = OSSL_PARAM_BLD_new();
    params = NULL;

    if (n != NULL && e != NULL && bld != NULL
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
    {
        params = OSSL_PARAM_BLD_to_param(bld);
    }

    if (params == NULL || BN_is_one(e) || BN_cmp(e, n) >= 0) {
        k = NULL;

    } else {
        k = ngx_http_llmgw_jwk_fromdata("RSA", params);
    }

    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(e);
    BN_free(n);

    if (k == NULL) {
        *reason = "invalid RSA JWK";
        return NGX_DECLINED;
    }

    bits = EVP_PKEY_get_bits(k);

    if (bits < NGX_HTTP_LLMGW_RSA_MIN_BITS
        || bits > NGX_HTTP_LLMGW_RSA_MAX_BITS)
    {
        /* too weak (RFC 7518 section 3.3), or too slow: skipped */
        EVP_PKEY_free(k);
        return NGX_DONE;
    }

    *pkey = k;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_jwk_ec(json_t *jwk, EVP_PKEY **pkey, ngx_uint_t *algs,
    const char **reason)
{
    int                          ok;
    u_char                       pub[1 + 2 * 66], buf[66 + 3];
    json_t                      *v;
    EVP_PKEY                    *k;
    ngx_str_t                    crv, x, y;
    OSSL_PARAM                   params[3];
    EVP_PKEY_CTX                *ctx;
    ngx_http_llmgw_jwk_curve_t  *c;

    v = json_object_get(jwk, "crv");

    if (!json_is_string(v)) {
        *reason = "invalid EC JWK \"crv\"";
        return NGX_DECLINED;
    }

    crv.data = (u_char *) json_string_value(v);
    crv.len = json_string_length(v);

    for (c = ngx_http_llmgw_jwk_curves; c->group != NULL; c++) {
        if (crv.len == c->crv.len
            && ngx_strncmp(crv.data, c->crv.data, crv.len) == 0)
        {
            break;
        }
    }

    if (c->group == NULL) {
        /* secp256k1 and the like: no JWS algorithm here uses them */
        return NGX_DONE;
    }

    if (ngx_http_llmgw_jwk_member(jwk, "x", buf, sizeof(buf), &x) != NGX_OK
        || x.len != c->len)
    {
        *reason = "invalid EC JWK \"x\"";
        return NGX_DECLINED;
    }

    pub[0] = 0x04;   /* uncompressed point, SEC 1 section 2.3.3 */
    ngx_memcpy(pub + 1, x.data, c->len);

    if (ngx_http_llmgw_jwk_member(jwk, "y", buf, sizeof(buf), &y) != NGX_OK
        || y.len != c->len)
    {
        *reason = "invalid EC JWK \"y\"";
        return NGX_DECLINED;
    }

    ngx_memcpy(pub + 1 + c->len, y.data, c->len);

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *) c->group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  pub, 1 + 2 * c->len);
    params[2] = OSSL_PARAM_construct_end();

    k = ngx_http_llmgw_jwk_fromdata("EC", params);

    if (k == NULL) {
        *reason = "invalid EC JWK: point not on the curve";
        return NGX_DECLINED;
    }

    /* not the point at infinity, on the curve, of the right order */

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    ok = (ctx != NULL && EVP_PKEY_public_check(ctx) == 1);
    EVP_PKEY_CTX_free(ctx);

    if (!ok) {
        EVP_PKEY_free(k);
        *reason = "invalid EC JWK: point not on the curve";
        return NGX_DECLINED;
    }

    *algs = NGX_HTTP_LLMGW_ALG_BIT(c->alg);
    *pkey = k;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_jwk_okp(json_t *jwk, EVP_PKEY **pkey, const char **reason)
{
    u_char       buf[32 + 3];
    json_t      *v;
    EVP_PKEY    *k;
    ngx_str_t    x;
    OSSL_PARAM   params[2];

    v = json_object_get(jwk, "crv");

    if (!json_is_string(v)) {
        *reason = "invalid OKP JWK \"crv\"";
        return NGX_DECLINED;
    }

    if (json_string_length(v) != 7
        || ngx_strncmp(json_string_value(v), "Ed25519", 7) != 0)
    {
        /* Ed448, X25519, X448: not verified here */
        return NGX_DONE;
    }

    if (ngx_http_llmgw_jwk_member(jwk, "x", buf, sizeof(buf), &x) != NGX_OK
        || x.len != 32)
    {
        *reason = "invalid OKP JWK \"x\"";
        return NGX_DECLINED;
    }

    params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  x.data, 32);
    params[1] = OSSL_PARAM_construct_end();

    k = ngx_http_llmgw_jwk_fromdata("ED25519", params);

    if (k == NULL) {
        *reason = "invalid OKP JWK";
        return NGX_DECLINED;
    }

    *pkey = k;

    return NGX_OK;
}


static EVP_PKEY *
ngx_http_llmgw_jwk_fromdata(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY      *pkey;
    EVP_PKEY_CTX  *ctx;

    pkey = NULL;

    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);

    return pkey;
}


/*
 * Takes pkey over: it is freed here on failure, by the pool otherwise.
 * The key is prepared for verification here, once.
 */

static ngx_int_t
ngx_http_llmgw_key_add(ngx_pool_t *pool, EVP_PKEY *pkey, ngx_str_t *kid,
    ngx_uint_t algs, ngx_array_t *keys, const char **reason)
{
    int                    len;
    u_char                *der, *p;
    ngx_int_t              rc;
    unsigned int           fp_len;
    ngx_pool_cleanup_t    *cln;
    ngx_http_llmgw_key_t  *key;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        EVP_PKEY_free(pkey);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_llmgw_key_cleanup;
    cln->data = pkey;

    key = ngx_array_push(keys);
    if (key == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(key, sizeof(ngx_http_llmgw_key_t));

    key->algs = algs;
    key->pkey = pkey;

    if (kid->len) {
        key->kid.data = ngx_pnalloc(pool, kid->len);
        if (key->kid.data == NULL) {
            keys->nelts--;
            return NGX_ERROR;
        }

        ngx_memcpy(key->kid.data, kid->data, kid->len);
        key->kid.len = kid->len;
    }

    /* the fingerprint: SHA-256 of the DER SubjectPublicKeyInfo */

    der = NULL;
    len = i2d_PUBKEY(pkey, &der);

    rc = NGX_ERROR;

    if (len > 0) {
        p = der;
        fp_len = 0;

        if (EVP_Digest(p, len, key->fp, &fp_len, EVP_sha256(), NULL) == 1
            && fp_len == NGX_HTTP_LLMGW_SHA256_LEN)
        {
            rc = NGX_OK;
        }
    }

    OPENSSL_free(der);

    if (rc == NGX_OK) {
        rc = ngx_http_llmgw_jws_prepare(pool, key);

        if (rc == NGX_DECLINED) {
            *reason = "key does not fit its algorithms";
        }
    }

    if (rc != NGX_OK) {
        keys->nelts--;
        ERR_clear_error();
    }

    return rc;
}


static void
ngx_http_llmgw_key_cleanup(void *data)
{
    EVP_PKEY_free(data);
}


ngx_int_t
ngx_http_llmgw_pem_parse(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_str_t *kid, ngx_array_t *keys, const char **reason)
{
    size_t                left;
    EVP_PKEY             *pkey;
    ngx_str_t             none;
    ngx_uint_t            algs;
    const u_char         *p;
    OSSL_DECODER_CTX     *dctx;

    if (len == 0 || len > NGX_HTTP_LLMGW_JWKS_MAX_LEN) {
        *reason = "no public key in PEM";
        return NGX_DECLINED;
    }

    /* "PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY" ... */

    if (ngx_strlcasestrn(data, data + len, (u_char *) "PRIVATE KEY-----",
                         sizeof("PRIVATE KEY-----") - 2)
        != NULL)
    {
        *reason = "private key given, public key expected";
        return NGX_DECLINED;
    }

    pkey = NULL;

    /*
     * SubjectPublicKeyInfo ("PUBLIC KEY") or PKCS#1 ("RSA PUBLIC KEY"):
     * the decoder finds which from the PEM label
     */

    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL,
                                         EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    if (dctx == NULL) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    p = data;
    left = len;

    if (OSSL_DECODER_from_data(dctx, &p, &left) != 1) {
        pkey = NULL;
    }

    OSSL_DECODER_CTX_free(dctx);
    ERR_clear_error();

    if (pkey == NULL) {
        *reason = "no public key in PEM";
        return NGX_DECLINED;
    }

    algs = ngx_http_llmgw_pem_algs(pkey, reason);

    if (algs == 0) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        return NGX_DECLINED;
    }

    if (kid == NULL) {
        ngx_str_null(&none);
        kid = &none;
    }

    return ngx_http_llmgw_key_add(pool, pkey, kid, algs, keys, reason);
}


static ngx_uint_t
ngx_http_llmgw_pem_algs(EVP_PKEY *pkey, const char **reason)
{
    int                          bits, ok;
    char                         group[64];
    size_t                       len;
    EVP_PKEY_CTX                *ctx;
    ngx_http_llmgw_jwk_curve_t  *c;

    if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS")) {
        bits = EVP_PKEY_get_bits(pkey);

        if (bits < NGX_HTTP_LLMGW_RSA_MIN_BITS) {
            *reason = "RSA key shorter than 2048 bits";
            return 0;
        }

        if (bits > NGX_HTTP_LLMGW_RSA_MAX_BITS) {
            *reason = "RSA key longer than 16384 bits";
            return 0;
        }

        return EVP_PKEY_is_a(pkey, "RSA") ? NGX_HTTP_LLMGW_ALGS_RSA
                                          : NGX_HTTP_LLMGW_ALGS_PS;
    }

    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        return NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_EDDSA);
    }

    if (!EVP_PKEY_is_a(pkey, "EC")) {
        *reason = "unsupported key type";
        return 0;
    }

    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                       group, sizeof(group), &len)
        != 1)
    {
        *reason = "unsupported EC curve";
        return 0;
    }

    for (c = ngx_http_llmgw_jwk_curves; c->group != NULL; c++) {
        if (ngx_strcmp(group, c->group) == 0) {
            break;
        }
    }

    if (c->group == NULL) {
        *reason = "unsupported EC curve";
        return 0;
    }

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    ok = (ctx != NULL && EVP_PKEY_public_check(ctx) == 1);
    EVP_PKEY_CTX_free(ctx);

    if (!ok) {
        *reason = "invalid EC public key";
        return 0;
    }

    return NGX_HTTP_LLMGW_ALG_BIT(c->alg);
}


ngx_int_t
ngx_http_llmgw_keys_load_file(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *kid, ngx_array_t *keys)
{
    u_char           *buf, *p, *last;
    size_t            size;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_err_t         err;
    ngx_int_t         rc;
    ngx_str_t         name;
    ngx_uint_t        nelts;
    ngx_file_info_t   fi;
    const char       *reason;

    name = *path;

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw: key file \"\": empty name");
        return NGX_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    /* a NUL-terminated copy for open() */

    p = ngx_pnalloc(cf->pool, name.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, name.data, name.len);
    p[name.len] = '\0';
    name.data = p;

    if (ngx_strlen(name.data) != name.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw: key file \"%V\": %s", &name,
                           "NUL in the name");
        return NGX_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "llmgw: key file \"%V\": %s", &name,
                           ngx_open_file_n " failed");
        return NGX_ERROR;
    }

    buf = NULL;
    reason = NULL;
    err = 0;
    size = 0;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        err = ngx_errno;
        reason = ngx_fd_info_n " failed";

    } else if (!ngx_is_file(&fi)) {
        reason = "not a regular file";

    } else if (ngx_file_size(&fi) > NGX_HTTP_LLMGW_JWKS_MAX_LEN) {
        reason = "file too large";

    } else {
        size = (size_t) ngx_file_size(&fi);

        /* one byte more to notice a file that grew since fstat() */

        buf = ngx_alloc(size + 1, cf->log);

        if (buf == NULL) {
            reason = "no memory";

        } else {
            p = buf;
            last = buf + size + 1;

            while (p < last) {
                n = ngx_read_fd(fd, p, last - p);

                if (n == -1) {
                    err = ngx_errno;

                    if (err == NGX_EINTR) {
                        err = 0;
                        continue;
                    }

                    reason = ngx_read_fd_n " failed";
                    break;
                }

                if (n == 0) {
                    break;
                }

                p += n;
            }

            size = p - buf;

            if (reason == NULL && size > NGX_HTTP_LLMGW_JWKS_MAX_LEN) {
                reason = "file too large";
            }
        }
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &name);
    }

    if (reason != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, err,
                           "llmgw: key file \"%V\": %s", &name, reason);
        if (buf != NULL) {
            ngx_free(buf);
        }

        return NGX_ERROR;
    }

    /* JWKS when the first non-blank byte is '{', PEM otherwise */

    for (p = buf, last = buf + size; p < last; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            break;
        }
    }

    nelts = keys->nelts;
    reason = "no usable key";

    if (p < last && *p == '{') {
        if (kid != NULL && kid->len) {
            reason = "a kid is given for a JWKS file";
            rc = NGX_DECLINED;

        } else {
            rc = ngx_http_llmgw_jwks_parse(cf->pool, buf, size, keys,
                                           &reason);
        }

    } else {
        rc = ngx_http_llmgw_pem_parse(cf->pool, buf, size, kid, keys,
                                      &reason);
    }

    ngx_free(buf);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK && keys->nelts == nelts) {
        reason = "no usable key";
        rc = NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llmgw: key file \"%V\": %s", &name, reason);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_http_llmgw_key_t *
ngx_http_llmgw_keys_next(ngx_array_t *keys, ngx_str_t *kid,
    ngx_http_llmgw_alg_e alg, ngx_uint_t *next)
{
    ngx_uint_t             i;
    ngx_http_llmgw_key_t  *key;

    if (keys == NULL || (ngx_uint_t) alg >= NGX_HTTP_LLMGW_ALG_COUNT) {
        return NULL;
    }

    key = keys->elts;

    for (i = *next; i < keys->nelts; i++) {

        if (!(key[i].algs & NGX_HTTP_LLMGW_ALG_BIT(alg))) {
            continue;
        }

        if (kid != NULL && kid->len) {
            if (key[i].kid.len != kid->len
                || ngx_memcmp(key[i].kid.data, kid->data, kid->len) != 0)
            {
                continue;
            }

        } else if (key[i].kid.len) {
            continue;
        }

        *next = i + 1;

        return &key[i];
    }

    *next = keys->nelts;

    return NULL;
}


ngx_uint_t
ngx_http_llmgw_keys_have(ngx_array_t *keys, u_char *fp)
{
    ngx_uint_t             i;
    ngx_http_llmgw_key_t  *key;

    if (keys == NULL) {
        return 0;
    }

    key = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        if (ngx_memcmp(key[i].fp, fp, NGX_HTTP_LLMGW_SHA256_LEN) == 0) {
            return 1;
        }
    }

    return 0;
}
