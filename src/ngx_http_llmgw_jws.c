
/*
 * Copyright (C) llmgw authors
 *
 * Compact JWS (RFC 7515) parsing and signature verification with OpenSSL 3
 * EVP over keys parsed once (RFC 7518 section 3, RFC 8037 section 3.1).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "ngx_http_llmgw_jws.h"


/* a JOSE ECDSA signature as DER: SEQUENCE of two INTEGERs of up to 67 bytes */
#define NGX_HTTP_LLMGW_JWS_ECDSA_DER_MAX  (3 + 2 * (2 + 67))


/* what ngx_http_llmgw_jws_prepare made for a key: a cleanup frees it */

typedef struct {
    EVP_PKEY_CTX              *verify[NGX_HTTP_LLMGW_ALG_COUNT];
    EVP_MD_CTX                *eddsa;
} ngx_http_llmgw_jws_prepared_t;


static void ngx_http_llmgw_jws_json_cleanup(void *data);
static ngx_int_t ngx_http_llmgw_jws_decode(ngx_pool_t *pool, ngx_str_t *src,
    ngx_str_t *dst, const char **reason);
static ngx_int_t ngx_http_llmgw_jws_json(ngx_pool_t *pool, ngx_str_t *text,
    json_t **json, const char **reason);
static ngx_int_t ngx_http_llmgw_jws_header(ngx_http_llmgw_jws_t *jws,
    const char **reason);
static ngx_uint_t ngx_http_llmgw_jws_key_fits(ngx_http_llmgw_alg_e alg,
    EVP_PKEY *pkey, size_t *sig_len);
static const EVP_MD *ngx_http_llmgw_jws_md(ngx_http_llmgw_alg_e alg);
static ngx_int_t ngx_http_llmgw_jws_digest(const EVP_MD *md, u_char *data,
    size_t len, u_char *out, unsigned int *out_len);
static EVP_PKEY_CTX *ngx_http_llmgw_jws_prepare_alg(EVP_PKEY *pkey,
    ngx_http_llmgw_alg_e alg);
static void ngx_http_llmgw_jws_prepared_cleanup(void *data);
static size_t ngx_http_llmgw_jws_der_integer(u_char *p, u_char *n,
    size_t len);
static size_t ngx_http_llmgw_jws_ecdsa_der(u_char *der, u_char *sig,
    size_t len);


static ngx_str_t  ngx_http_llmgw_alg_names[] = {
    ngx_string("RS256"),
    ngx_string("RS384"),
    ngx_string("RS512"),
    ngx_string("PS256"),
    ngx_string("PS384"),
    ngx_string("PS512"),
    ngx_string("ES256"),
    ngx_string("ES384"),
    ngx_string("ES512"),
    ngx_string("EdDSA")
};


/*
 * SHA-256, SHA-384, SHA-512 fetched once per process (the master's fetch
 * is inherited by the workers): OpenSSL 3 looks an implementation up again
 * on every use of EVP_sha256() and the like
 */

static EVP_MD      *ngx_http_llmgw_jws_mds[3];

/* one digest context per process, initialised again for each digest */
static EVP_MD_CTX  *ngx_http_llmgw_jws_mdctx;

static const char  *ngx_http_llmgw_jws_md_names[3] = {
    "SHA2-256", "SHA2-384", "SHA2-512"
};


/* the base64url alphabet, RFC 4648 section 5; 0xff: not in it */

static u_char  ngx_http_llmgw_base64url[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff,   62, 0xff, 0xff,     /* '-' */
      52,   53,   54,   55,   56,   57,   58,   59,     /* '0' - '7' */
      60,   61, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,     /* '8' '9' */
    0xff,    0,    1,    2,    3,    4,    5,    6,     /* 'A' - 'G' */
       7,    8,    9,   10,   11,   12,   13,   14,
      15,   16,   17,   18,   19,   20,   21,   22,
      23,   24,   25, 0xff, 0xff, 0xff, 0xff,   63,     /* 'Z', '_' */
    0xff,   26,   27,   28,   29,   30,   31,   32,     /* 'a' - 'g' */
      33,   34,   35,   36,   37,   38,   39,   40,
      41,   42,   43,   44,   45,   46,   47,   48,
      49,   50,   51, 0xff, 0xff, 0xff, 0xff, 0xff,     /* 'z' */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
};


ngx_int_t
ngx_http_llmgw_alg_parse(ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LLMGW_ALG_COUNT; i++) {
        if (name->len == ngx_http_llmgw_alg_names[i].len
            && ngx_memcmp(name->data, ngx_http_llmgw_alg_names[i].data,
                          name->len)
               == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


ngx_str_t *
ngx_http_llmgw_alg_name(ngx_http_llmgw_alg_e alg)
{
    if ((ngx_uint_t) alg >= NGX_HTTP_LLMGW_ALG_COUNT) {
        return NULL;
    }

    return &ngx_http_llmgw_alg_names[alg];
}


ngx_int_t
ngx_http_llmgw_base64url_decode_strict(ngx_str_t *dst, ngx_str_t *src)
{
    u_char    *d, *s, c0, c1, c2, c3;
    size_t     len;

    len = src->len;
    s = src->data;
    d = dst->data;

    if (len % 4 == 1) {
        return NGX_ERROR;
    }

    while (len >= 4) {
        c0 = ngx_http_llmgw_base64url[s[0]];
        c1 = ngx_http_llmgw_base64url[s[1]];
        c2 = ngx_http_llmgw_base64url[s[2]];
        c3 = ngx_http_llmgw_base64url[s[3]];

        if ((c0 | c1 | c2 | c3) == 0xff) {
            return NGX_ERROR;
        }

        *d++ = (u_char) (c0 << 2 | c1 >> 4);
        *d++ = (u_char) (c1 << 4 | c2 >> 2);
        *d++ = (u_char) (c2 << 6 | c3);

        s += 4;
        len -= 4;
    }

    if (len == 2) {
        c0 = ngx_http_llmgw_base64url[s[0]];
        c1 = ngx_http_llmgw_base64url[s[1]];

        /* the 4 bits of c1 that carry no data must be zero */

        if ((c0 | c1) == 0xff || (c1 & 0x0f)) {
            return NGX_ERROR;
        }

        *d++ = (u_char) (c0 << 2 | c1 >> 4);

    } else if (len == 3) {
        c0 = ngx_http_llmgw_base64url[s[0]];
        c1 = ngx_http_llmgw_base64url[s[1]];
        c2 = ngx_http_llmgw_base64url[s[2]];

        if ((c0 | c1 | c2) == 0xff || (c2 & 0x03)) {
            return NGX_ERROR;
        }

        *d++ = (u_char) (c0 << 2 | c1 >> 4);
        *d++ = (u_char) (c1 << 4 | c2 >> 2);
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_jws_parse(ngx_pool_t *pool, ngx_str_t *token,
    ngx_http_llmgw_jws_t *jws, const char **reason)
{
    u_char     *p, *last, *dot1, *dot2;
    ngx_int_t   rc;
    ngx_str_t   part, text;

    ngx_memzero(jws, sizeof(ngx_http_llmgw_jws_t));

    if (token->len > NGX_HTTP_LLMGW_JWS_MAX_LEN) {
        *reason = "token too long";
        return NGX_DECLINED;
    }

    p = token->data;
    last = p + token->len;

    dot1 = (token->len > 0) ? ngx_strlchr(p, last, '.') : NULL;
    dot2 = (dot1 != NULL) ? ngx_strlchr(dot1 + 1, last, '.') : NULL;

    if (dot2 == NULL || ngx_strlchr(dot2 + 1, last, '.') != NULL) {
        *reason = "malformed token";
        return NGX_DECLINED;
    }

    if (dot1 == p || dot2 == dot1 + 1 || dot2 + 1 == last) {
        *reason = "malformed token";
        return NGX_DECLINED;
    }

    /* header */

    part.data = p;
    part.len = dot1 - p;

    rc = ngx_http_llmgw_jws_decode(pool, &part, &text, reason);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_llmgw_jws_json(pool, &text, &jws->header, reason);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_llmgw_jws_header(jws, reason);
    if (rc != NGX_OK) {
        return rc;
    }

    /* payload */

    part.data = dot1 + 1;
    part.len = dot2 - part.data;

    rc = ngx_http_llmgw_jws_decode(pool, &part, &jws->payload, reason);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_llmgw_jws_json(pool, &jws->payload, &jws->claims, reason);
    if (rc != NGX_OK) {
        return rc;
    }

    /* signature */

    part.data = dot2 + 1;
    part.len = last - part.data;

    rc = ngx_http_llmgw_jws_decode(pool, &part, &jws->signature, reason);
    if (rc != NGX_OK) {
        return rc;
    }

    jws->signing_input.data = p;
    jws->signing_input.len = dot2 - p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_jws_decode(ngx_pool_t *pool, ngx_str_t *src, ngx_str_t *dst,
    const char **reason)
{
    dst->data = ngx_pnalloc(pool, ngx_base64_decoded_length(src->len));
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_base64url_decode_strict(dst, src) != NGX_OK) {
        *reason = "invalid base64url";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_jws_json(ngx_pool_t *pool, ngx_str_t *text, json_t **json,
    const char **reason)
{
    json_t              *j;
    json_error_t         error;
    ngx_pool_cleanup_t  *cln;

    /* the cleanup first: once parsed, the object must not leak */

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_llmgw_jws_json_cleanup;
    cln->data = NULL;

    j = json_loadb((const char *) text->data, text->len,
                   JSON_REJECT_DUPLICATES, &error);
    if (j == NULL) {
        *reason = "invalid JSON";
        return NGX_DECLINED;
    }

    cln->data = j;

    if (!json_is_object(j)) {
        *reason = "JSON is not an object";
        return NGX_DECLINED;
    }

    *json = j;

    return NGX_OK;
}


static void
ngx_http_llmgw_jws_json_cleanup(void *data)
{
    json_t  *j = data;

    if (j != NULL) {
        json_decref(j);
    }
}


static ngx_int_t
ngx_http_llmgw_jws_header(ngx_http_llmgw_jws_t *jws, const char **reason)
{
    json_t     *v;
    ngx_int_t   alg;
    ngx_str_t   name;

    /* extensions this module does not understand: RFC 7515 section 4.1.11 */

    if (json_object_get(jws->header, "crit") != NULL) {
        *reason = "crit header not supported";
        return NGX_DECLINED;
    }

    v = json_object_get(jws->header, "alg");

    if (v == NULL) {
        *reason = "missing alg";
        return NGX_DECLINED;
    }

    if (!json_is_string(v)) {
        *reason = "unsupported alg";
        return NGX_DECLINED;
    }

    name.data = (u_char *) json_string_value(v);
    name.len = json_string_length(v);

    alg = ngx_http_llmgw_alg_parse(&name);
    if (alg == NGX_ERROR) {
        *reason = "unsupported alg";
        return NGX_DECLINED;
    }

    jws->alg = (ngx_http_llmgw_alg_e) alg;

    /*
     * kid is an opaque string compared byte for byte with the keys' kids;
     * jku, x5u, jwk and x5c are never used to find a key
     */

    v = json_object_get(jws->header, "kid");

    if (v != NULL) {
        if (!json_is_string(v)) {
            *reason = "invalid kid";
            return NGX_DECLINED;
        }

        jws->kid.data = (u_char *) json_string_value(v);
        jws->kid.len = json_string_length(v);
    }

    v = json_object_get(jws->header, "typ");

    if (v != NULL) {
        if (!json_is_string(v)) {
            *reason = "invalid typ";
            return NGX_DECLINED;
        }

        jws->typ.data = (u_char *) json_string_value(v);
        jws->typ.len = json_string_length(v);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_jws_prepare(ngx_pool_t *pool, ngx_http_llmgw_key_t *key)
{
    size_t                          sig_len, len;
    ngx_uint_t                      alg;
    ngx_pool_cleanup_t             *cln;
    ngx_http_llmgw_jws_prepared_t  *prep;

    /* the key's type and size against every alg it is bound to, once */

    sig_len = 0;

    for (alg = 0; alg < NGX_HTTP_LLMGW_ALG_COUNT; alg++) {
        if (!(key->algs & NGX_HTTP_LLMGW_ALG_BIT(alg))) {
            continue;
        }

        if (!ngx_http_llmgw_jws_key_fits(alg, key->pkey, &len)
            || (sig_len != 0 && len != sig_len))
        {
            ERR_clear_error();
            return NGX_DECLINED;
        }

        sig_len = len;
    }

    if (sig_len == 0) {
        return NGX_DECLINED;
    }

    /* the cleanup first: what is made below must not leak */

    cln = ngx_pool_cleanup_add(pool, sizeof(ngx_http_llmgw_jws_prepared_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    prep = cln->data;
    ngx_memzero(prep, sizeof(ngx_http_llmgw_jws_prepared_t));

    cln->handler = ngx_http_llmgw_jws_prepared_cleanup;

    for (alg = 0; alg < NGX_HTTP_LLMGW_ALG_COUNT; alg++) {
        if (!(key->algs & NGX_HTTP_LLMGW_ALG_BIT(alg))) {
            continue;
        }

        if (alg != NGX_HTTP_LLMGW_ALG_EDDSA) {
            prep->verify[alg] = ngx_http_llmgw_jws_prepare_alg(key->pkey,
                                                               alg);
            continue;
        }

        /*
         * Ed25519 signs the message itself: no EVP_PKEY_verify in
         * OpenSSL 3.0, a DigestVerify context to copy instead
         */

        prep->eddsa = EVP_MD_CTX_new();

        if (prep->eddsa != NULL
            && EVP_DigestVerifyInit(prep->eddsa, NULL, NULL, NULL, key->pkey)
               != 1)
        {
            EVP_MD_CTX_free(prep->eddsa);
            prep->eddsa = NULL;
        }
    }

    ERR_clear_error();

    ngx_memcpy(key->verify, prep->verify, sizeof(prep->verify));
    key->eddsa = prep->eddsa;
    key->sig_len = sig_len;

    return NGX_OK;
}


/* an EVP_PKEY_CTX ready for EVP_PKEY_verify of alg's digests, or NULL */

static EVP_PKEY_CTX *
ngx_http_llmgw_jws_prepare_alg(EVP_PKEY *pkey, ngx_http_llmgw_alg_e alg)
{
    int            rc;
    EVP_PKEY_CTX  *ctx;
    const EVP_MD  *md;

    md = ngx_http_llmgw_jws_md(alg);
    if (md == NULL) {
        return NULL;
    }

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx == NULL) {
        return NULL;
    }

    rc = EVP_PKEY_verify_init(ctx);

    switch (alg) {

    case NGX_HTTP_LLMGW_ALG_RS256:
    case NGX_HTTP_LLMGW_ALG_RS384:
    case NGX_HTTP_LLMGW_ALG_RS512:
        if (rc == 1) {
            rc = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
        }

        if (rc == 1) {
            rc = EVP_PKEY_CTX_set_signature_md(ctx, md);
        }

        break;

    case NGX_HTTP_LLMGW_ALG_PS256:
    case NGX_HTTP_LLMGW_ALG_PS384:
    case NGX_HTTP_LLMGW_ALG_PS512:

        /* MGF1 with the same hash, salt as long as the hash */

        if (rc == 1) {
            rc = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING);
        }

        if (rc == 1) {
            rc = EVP_PKEY_CTX_set_signature_md(ctx, md);
        }

        if (rc == 1) {
            rc = EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md);
        }

        if (rc == 1) {
            rc = EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx,
                                                  RSA_PSS_SALTLEN_DIGEST);
        }

        break;

    default: /* ES256, ES384, ES512 */
        if (rc == 1) {
            rc = EVP_PKEY_CTX_set_signature_md(ctx, md);
        }

        break;
    }

    if (rc != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }

    return ctx;
}


static void
ngx_http_llmgw_jws_prepared_cleanup(void *data)
{
    ngx_http_llmgw_jws_prepared_t  *prep = data;

    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LLMGW_ALG_COUNT; i++) {
        EVP_PKEY_CTX_free(prep->verify[i]);
    }

    EVP_MD_CTX_free(prep->eddsa);
}


ngx_int_t
ngx_http_llmgw_jws_verify(ngx_http_llmgw_jws_t *jws,
    ngx_http_llmgw_key_t *key)
{
    int            rc;
    u_char         der[NGX_HTTP_LLMGW_JWS_ECDSA_DER_MAX];
    u_char         hash[EVP_MAX_MD_SIZE];
    u_char        *sig;
    size_t         sig_len;
    unsigned int   hash_len;
    EVP_MD_CTX    *mctx;
    EVP_PKEY_CTX  *pctx;
    const EVP_MD  *md;

    if ((ngx_uint_t) jws->alg >= NGX_HTTP_LLMGW_ALG_COUNT
        || key == NULL
        || !(key->algs & NGX_HTTP_LLMGW_ALG_BIT(jws->alg)))
    {
        return NGX_DECLINED;
    }

    sig = jws->signature.data;
    sig_len = jws->signature.len;

    /*
     * RSA signatures are exactly as long as the modulus, ES* ones are
     * R || S of exactly the curve's length each, Ed25519 ones 64 bytes
     */

    if (sig_len != key->sig_len) {
        return NGX_DECLINED;
    }

    if (jws->alg == NGX_HTTP_LLMGW_ALG_EDDSA) {

        /* the one-shot form, no digest, on a copy of the prepared context */

        if (key->eddsa == NULL) {
            return NGX_DECLINED;
        }

        mctx = EVP_MD_CTX_new();

        rc = (mctx != NULL && EVP_MD_CTX_copy_ex(mctx, key->eddsa) == 1);

        if (rc == 1) {
            rc = EVP_DigestVerify(mctx, sig, sig_len, jws->signing_input.data,
                                  jws->signing_input.len);
        }

        EVP_MD_CTX_free(mctx);

        goto done;
    }

    /* the context of the key's type: a widened algs mask finds none */

    if (key->verify[jws->alg] == NULL) {
        return NGX_DECLINED;
    }

    md = ngx_http_llmgw_jws_md(jws->alg);
    if (md == NULL) {
        ERR_clear_error();
        return NGX_DECLINED;
    }

    if (jws->alg >= NGX_HTTP_LLMGW_ALG_ES256) {
        sig_len = ngx_http_llmgw_jws_ecdsa_der(der, sig, sig_len / 2);
        sig = der;
    }

    if (ngx_http_llmgw_jws_digest(md, jws->signing_input.data,
                                  jws->signing_input.len, hash, &hash_len)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    /*
     * The prepared context is configuration, shared by every request of
     * the process: each verification works on a copy of it
     */

    pctx = EVP_PKEY_CTX_dup(key->verify[jws->alg]);

    rc = (pctx != NULL
          && EVP_PKEY_verify(pctx, sig, sig_len, hash, hash_len) == 1);

    EVP_PKEY_CTX_free(pctx);

done:

    if (rc != 1) {
        ERR_clear_error();
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_sha256(u_char *data, size_t len, u_char *out)
{
    unsigned int   n;
    const EVP_MD  *md;

    md = ngx_http_llmgw_jws_md(NGX_HTTP_LLMGW_ALG_RS256);

    if (md == NULL
        || ngx_http_llmgw_jws_digest(md, data, len, out, &n) != NGX_OK
        || n != NGX_HTTP_LLMGW_SHA256_LEN)
    {
        ERR_clear_error();
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * md of len bytes, on the process's digest context: no context allocated
 * per digest (nothing else runs between its init and its final)
 */

static ngx_int_t
ngx_http_llmgw_jws_digest(const EVP_MD *md, u_char *data, size_t len,
    u_char *out, unsigned int *out_len)
{
    if (ngx_http_llmgw_jws_mdctx == NULL) {
        ngx_http_llmgw_jws_mdctx = EVP_MD_CTX_new();

        if (ngx_http_llmgw_jws_mdctx == NULL) {
            ERR_clear_error();
            return NGX_ERROR;
        }
    }

    if (EVP_DigestInit_ex(ngx_http_llmgw_jws_mdctx, md, NULL) != 1
        || EVP_DigestUpdate(ngx_http_llmgw_jws_mdctx, data, len) != 1
        || EVP_DigestFinal_ex(ngx_http_llmgw_jws_mdctx, out, out_len) != 1)
    {
        ERR_clear_error();
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the digest of alg, fetched on first use; NULL for EdDSA or on failure */

static const EVP_MD *
ngx_http_llmgw_jws_md(ngx_http_llmgw_alg_e alg)
{
    ngx_uint_t  i;

    switch (alg) {

    case NGX_HTTP_LLMGW_ALG_RS256:
    case NGX_HTTP_LLMGW_ALG_PS256:
    case NGX_HTTP_LLMGW_ALG_ES256:
        i = 0;
        break;

    case NGX_HTTP_LLMGW_ALG_RS384:
    case NGX_HTTP_LLMGW_ALG_PS384:
    case NGX_HTTP_LLMGW_ALG_ES384:
        i = 1;
        break;

    case NGX_HTTP_LLMGW_ALG_RS512:
    case NGX_HTTP_LLMGW_ALG_PS512:
    case NGX_HTTP_LLMGW_ALG_ES512:
        i = 2;
        break;

    default:
        return NULL;
    }

    if (ngx_http_llmgw_jws_mds[i] == NULL) {
        ngx_http_llmgw_jws_mds[i] = EVP_MD_fetch(NULL,
                                            ngx_http_llmgw_jws_md_names[i],
                                            NULL);
    }

    return ngx_http_llmgw_jws_mds[i];
}


/*
 * Whether pkey is of the type alg needs (and for ES*, of its curve's
 * size), by name: at preparation only.  *sig_len: the signature length.
 */

static ngx_uint_t
ngx_http_llmgw_jws_key_fits(ngx_http_llmgw_alg_e alg, EVP_PKEY *pkey,
    size_t *sig_len)
{
    int     size;
    size_t  len;

    *sig_len = 0;

    switch (alg) {

    case NGX_HTTP_LLMGW_ALG_RS256:
    case NGX_HTTP_LLMGW_ALG_RS384:
    case NGX_HTTP_LLMGW_ALG_RS512:
    case NGX_HTTP_LLMGW_ALG_PS256:
    case NGX_HTTP_LLMGW_ALG_PS384:
    case NGX_HTTP_LLMGW_ALG_PS512:

        if (!EVP_PKEY_is_a(pkey, "RSA")
            && (alg < NGX_HTTP_LLMGW_ALG_PS256
                || !EVP_PKEY_is_a(pkey, "RSA-PSS")))
        {
            return 0;
        }

        size = EVP_PKEY_get_size(pkey);

        if (size <= 0) {
            return 0;
        }

        *sig_len = size;

        return 1;

    case NGX_HTTP_LLMGW_ALG_ES256:
        len = 32;
        break;

    case NGX_HTTP_LLMGW_ALG_ES384:
        len = 48;
        break;

    case NGX_HTTP_LLMGW_ALG_ES512:
        len = 66;
        break;

    case NGX_HTTP_LLMGW_ALG_EDDSA:
        if (!EVP_PKEY_is_a(pkey, "ED25519")) {
            return 0;
        }

        *sig_len = 64;

        return 1;

    default:
        return 0;
    }

    if (!EVP_PKEY_is_a(pkey, "EC")
        || (size_t) (EVP_PKEY_get_bits(pkey) + 7) / 8 != len)
    {
        return 0;
    }

    *sig_len = 2 * len;

    return 1;
}


/* one DER INTEGER of the unsigned big-endian n: minimal, non-negative */

static size_t
ngx_http_llmgw_jws_der_integer(u_char *p, u_char *n, size_t len)
{
    size_t  pad;

    while (len > 1 && n[0] == 0) {
        n++;
        len--;
    }

    pad = (n[0] & 0x80) ? 1 : 0;

    p[0] = 0x02;
    p[1] = (u_char) (len + pad);

    if (pad) {
        p[2] = 0;
    }

    ngx_memcpy(p + 2 + pad, n, len);

    return 2 + pad + len;
}


/* R || S, len bytes each (at most 66), to an ECDSA-Sig-Value (RFC 3279) */

static size_t
ngx_http_llmgw_jws_ecdsa_der(u_char *der, u_char *sig, size_t len)
{
    u_char  body[2 * (2 + 67)];
    size_t  n, hdr;

    n = ngx_http_llmgw_jws_der_integer(body, sig, len);
    n += ngx_http_llmgw_jws_der_integer(body + n, sig + len, len);

    der[0] = 0x30;

    if (n < 128) {
        der[1] = (u_char) n;
        hdr = 2;

    } else {
        der[1] = 0x81;
        der[2] = (u_char) n;
        hdr = 3;
    }

    ngx_memcpy(der + hdr, body, n);

    return hdr + n;
}


/*
 * At process exit: nginx unloads the module, so what only these statics
 * point at would be unreachable, a leak to the sanitizers.
 */

void
ngx_http_llmgw_jws_cleanup(void)
{
    ngx_uint_t  i;

    for (i = 0; i < sizeof(ngx_http_llmgw_jws_mds) / sizeof(EVP_MD *); i++) {
        EVP_MD_free(ngx_http_llmgw_jws_mds[i]);
        ngx_http_llmgw_jws_mds[i] = NULL;
    }

    EVP_MD_CTX_free(ngx_http_llmgw_jws_mdctx);
    ngx_http_llmgw_jws_mdctx = NULL;
}
