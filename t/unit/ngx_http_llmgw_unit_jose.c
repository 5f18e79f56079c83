
/*
 * Copyright (C) llmgw authors
 *
 * Keys and tokens made at run time with OpenSSL, for the unit tests.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "ngx_http_llmgw_unit_jose.h"


static const EVP_MD *ngx_http_llmgw_unit_md(ngx_http_llmgw_alg_e alg);
static ngx_int_t ngx_http_llmgw_unit_bn(ngx_pool_t *pool, EVP_PKEY *pkey,
    const char *name, size_t pad, ngx_str_t *out);
static ngx_int_t ngx_http_llmgw_unit_bio(ngx_pool_t *pool, BIO *bio,
    ngx_str_t *out);


EVP_PKEY *
ngx_http_llmgw_unit_keygen(const char *type, size_t bits, const char *curve)
{
    EVP_PKEY      *pkey;
    EVP_PKEY_CTX  *ctx;

    if (ngx_strcmp(type, "RSA") == 0) {
        return EVP_PKEY_Q_keygen(NULL, NULL, type, bits);
    }

    if (ngx_strcmp(type, "RSA-PSS") == 0) {
        pkey = NULL;
        ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

        if (ctx == NULL
            || EVP_PKEY_keygen_init(ctx) != 1
            || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int) bits) != 1
            || EVP_PKEY_generate(ctx, &pkey) != 1)
        {
            pkey = NULL;
        }

        EVP_PKEY_CTX_free(ctx);

        return pkey;
    }

    if (ngx_strcmp(type, "EC") == 0) {
        return EVP_PKEY_Q_keygen(NULL, NULL, type, curve);
    }

    return EVP_PKEY_Q_keygen(NULL, NULL, type);
}


ngx_int_t
ngx_http_llmgw_unit_b64url(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_str_t *out)
{
    ngx_str_t  src;

    src.data = data;
    src.len = len;

    out->data = ngx_pnalloc(pool, ngx_base64_encoded_length(len) + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(out, &src);
    out->data[out->len] = '\0';

    return NGX_OK;
}


static const EVP_MD *
ngx_http_llmgw_unit_md(ngx_http_llmgw_alg_e alg)
{
    switch (alg) {

    case NGX_HTTP_LLMGW_ALG_RS256:
    case NGX_HTTP_LLMGW_ALG_PS256:
    case NGX_HTTP_LLMGW_ALG_ES256:
        return EVP_sha256();

    case NGX_HTTP_LLMGW_ALG_RS384:
    case NGX_HTTP_LLMGW_ALG_PS384:
    case NGX_HTTP_LLMGW_ALG_ES384:
        return EVP_sha384();

    case NGX_HTTP_LLMGW_ALG_RS512:
    case NGX_HTTP_LLMGW_ALG_PS512:
    case NGX_HTTP_LLMGW_ALG_ES512:
        return EVP_sha512();

    default:
        return NULL;
    }
}


ngx_int_t
ngx_http_llmgw_unit_sign(ngx_pool_t *pool, EVP_PKEY *pkey,
    ngx_http_llmgw_alg_e alg, ngx_str_t *input, ngx_uint_t der,
    ngx_str_t *sig)
{
    int                  ok;
    u_char              *buf;
    size_t               len, n;
    ECDSA_SIG           *es;
    EVP_MD_CTX          *ctx;
    EVP_PKEY_CTX        *pctx;
    const BIGNUM        *r, *s;
    const u_char        *p;

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    pctx = NULL;

    ok = EVP_DigestSignInit(ctx, &pctx, ngx_http_llmgw_unit_md(alg), NULL,
                            pkey) == 1;

    if (ok
        && alg >= NGX_HTTP_LLMGW_ALG_PS256 && alg <= NGX_HTTP_LLMGW_ALG_PS512)
    {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
                == 1;
    }

    len = 0;
    buf = NULL;

    if (ok) {
        ok = EVP_DigestSign(ctx, NULL, &len, input->data, input->len) == 1;
    }

    if (ok) {
        buf = ngx_pnalloc(pool, len);
        ok = buf != NULL
             && EVP_DigestSign(ctx, buf, &len, input->data, input->len) == 1;
    }

    EVP_MD_CTX_free(ctx);

    if (!ok) {
        return NGX_ERROR;
    }

    sig->data = buf;
    sig->len = len;

    if (der
        || alg < NGX_HTTP_LLMGW_ALG_ES256 || alg > NGX_HTTP_LLMGW_ALG_ES512)
    {
        return NGX_OK;
    }

    /* DER ECDSA-Sig-Value to R || S */

    n = (alg == NGX_HTTP_LLMGW_ALG_ES256) ? 32
        : (alg == NGX_HTTP_LLMGW_ALG_ES384) ? 48 : 66;

    p = buf;
    es = d2i_ECDSA_SIG(NULL, &p, len);
    if (es == NULL) {
        return NGX_ERROR;
    }

    ECDSA_SIG_get0(es, &r, &s);

    sig->data = ngx_pnalloc(pool, 2 * n);
    ok = sig->data != NULL
         && BN_bn2binpad(r, sig->data, n) == (int) n
         && BN_bn2binpad(s, sig->data + n, n) == (int) n;

    ECDSA_SIG_free(es);

    sig->len = 2 * n;

    return ok ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_http_llmgw_unit_join(ngx_pool_t *pool, ngx_str_t *header,
    ngx_str_t *payload, ngx_str_t *sig, ngx_str_t *token)
{
    u_char     *p;
    ngx_str_t   h, b, s;

    if (ngx_http_llmgw_unit_b64url(pool, header->data, header->len, &h)
        != NGX_OK
        || ngx_http_llmgw_unit_b64url(pool, payload->data, payload->len, &b)
           != NGX_OK
        || ngx_http_llmgw_unit_b64url(pool, sig->data, sig->len, &s)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    token->len = h.len + 1 + b.len + 1 + s.len;
    token->data = ngx_pnalloc(pool, token->len + 1);
    if (token->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(token->data, "%V.%V.%V", &h, &b, &s);
    *p = '\0';

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_unit_token(ngx_pool_t *pool, EVP_PKEY *pkey,
    ngx_http_llmgw_alg_e alg, const char *header, const char *payload,
    ngx_str_t *token)
{
    u_char     *p;
    ngx_str_t   h, b, input, sig;

    if (ngx_http_llmgw_unit_b64url(pool, (u_char *) header,
                                   ngx_strlen(header), &h)
        != NGX_OK
        || ngx_http_llmgw_unit_b64url(pool, (u_char *) payload,
                                      ngx_strlen(payload), &b)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    input.len = h.len + 1 + b.len;
    input.data = ngx_pnalloc(pool, input.len);
    if (input.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(input.data, "%V.%V", &h, &b);

    if (ngx_http_llmgw_unit_sign(pool, pkey, alg, &input, 0, &sig) != NGX_OK
        || ngx_http_llmgw_unit_b64url(pool, sig.data, sig.len, &sig)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    token->len = input.len + 1 + sig.len;
    token->data = ngx_pnalloc(pool, token->len + 1);
    if (token->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(token->data, "%V.%V", &input, &sig);
    *p = '\0';

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_unit_bn(ngx_pool_t *pool, EVP_PKEY *pkey, const char *name,
    size_t pad, ngx_str_t *out)
{
    int      n;
    u_char  *buf;
    BIGNUM  *bn;

    bn = NULL;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
        return NGX_ERROR;
    }

    if (pad == 0) {
        pad = BN_num_bytes(bn);
    }

    buf = ngx_pnalloc(pool, pad);
    n = (buf != NULL) ? BN_bn2binpad(bn, buf, pad) : -1;

    BN_free(bn);

    if (n != (int) pad) {
        return NGX_ERROR;
    }

    return ngx_http_llmgw_unit_b64url(pool, buf, pad, out);
}


ngx_int_t
ngx_http_llmgw_unit_jwk(ngx_pool_t *pool, EVP_PKEY *pkey, const char *extra,
    ngx_str_t *jwk)
{
    u_char     *p, raw[32];
    size_t      len, size;
    ngx_str_t   a, b, crv;
    char        group[64];

    size = 256 + (extra ? ngx_strlen(extra) : 0) + 4096;

    jwk->data = ngx_pnalloc(pool, size);
    if (jwk->data == NULL) {
        return NGX_ERROR;
    }

    if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS")) {
        if (ngx_http_llmgw_unit_bn(pool, pkey, OSSL_PKEY_PARAM_RSA_N, 0, &a)
            != NGX_OK
            || ngx_http_llmgw_unit_bn(pool, pkey, OSSL_PKEY_PARAM_RSA_E, 0,
                                      &b)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = ngx_snprintf(jwk->data, size, "{\"kty\":\"RSA\",\"n\":\"%V\","
                         "\"e\":\"%V\"", &a, &b);

    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                           group, sizeof(group), &len)
            != 1)
        {
            return NGX_ERROR;
        }

        if (ngx_strcmp(group, "prime256v1") == 0) {
            ngx_str_set(&crv, "P-256");
            len = 32;

        } else if (ngx_strcmp(group, "secp384r1") == 0) {
            ngx_str_set(&crv, "P-384");
            len = 48;

        } else if (ngx_strcmp(group, "secp521r1") == 0) {
            ngx_str_set(&crv, "P-521");
            len = 66;

        } else {
            crv.data = (u_char *) group;
            crv.len = ngx_strlen(group);
            len = (EVP_PKEY_get_bits(pkey) + 7) / 8;
        }

        if (ngx_http_llmgw_unit_bn(pool, pkey, OSSL_PKEY_PARAM_EC_PUB_X, len,
                                   &a)
            != NGX_OK
            || ngx_http_llmgw_unit_bn(pool, pkey, OSSL_PKEY_PARAM_EC_PUB_Y,
                                      len, &b)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = ngx_snprintf(jwk->data, size, "{\"kty\":\"EC\",\"crv\":\"%V\","
                         "\"x\":\"%V\",\"y\":\"%V\"", &crv, &a, &b);

    } else if (EVP_PKEY_is_a(pkey, "ED25519")) {
        len = sizeof(raw);

        if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1
            || ngx_http_llmgw_unit_b64url(pool, raw, len, &a) != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = ngx_snprintf(jwk->data, size,
                         "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%V\"",
                         &a);

    } else {
        return NGX_ERROR;
    }

    if (extra != NULL) {
        p = ngx_snprintf(p, size - (p - jwk->data) - 2, ",%s", extra);
    }

    *p++ = '}';
    *p = '\0';

    jwk->len = p - jwk->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_unit_bio(ngx_pool_t *pool, BIO *bio, ngx_str_t *out)
{
    char  *data;
    long   len;

    len = BIO_get_mem_data(bio, &data);

    if (len <= 0) {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(pool, len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, data, len);
    out->data[len] = '\0';
    out->len = len;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_unit_pem_public(ngx_pool_t *pool, EVP_PKEY *pkey,
    ngx_uint_t pkcs1, ngx_str_t *pem)
{
    BIO               *bio;
    ngx_int_t          rc;
    OSSL_ENCODER_CTX  *ectx;

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (pkcs1) {
        ectx = OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_PUBLIC_KEY, "PEM",
                                             "type-specific", NULL);
        if (ectx != NULL && OSSL_ENCODER_to_bio(ectx, bio) == 1) {
            rc = ngx_http_llmgw_unit_bio(pool, bio, pem);
        }

        OSSL_ENCODER_CTX_free(ectx);

    } else if (PEM_write_bio_PUBKEY(bio, pkey) == 1) {
        rc = ngx_http_llmgw_unit_bio(pool, bio, pem);
    }

    BIO_free(bio);

    return rc;
}


ngx_int_t
ngx_http_llmgw_unit_pem_private(ngx_pool_t *pool, EVP_PKEY *pkey,
    ngx_str_t *pem)
{
    BIO        *bio;
    ngx_int_t   rc;

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1) {
        rc = ngx_http_llmgw_unit_bio(pool, bio, pem);
    }

    BIO_free(bio);

    return rc;
}


ngx_int_t
ngx_http_llmgw_unit_fp(EVP_PKEY *pkey, u_char *fp)
{
    int            len;
    u_char        *der;
    unsigned int   n;
    ngx_int_t      rc;

    der = NULL;
    len = i2d_PUBKEY(pkey, &der);

    if (len <= 0) {
        return NGX_ERROR;
    }

    rc = (EVP_Digest(der, len, fp, &n, EVP_sha256(), NULL) == 1 && n == 32)
         ? NGX_OK : NGX_ERROR;

    OPENSSL_free(der);

    return rc;
}
