
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


static void ngx_http_llmgw_jws_json_cleanup(void *data);
static ngx_int_t ngx_http_llmgw_jws_decode(ngx_pool_t *pool, ngx_str_t *src,
    ngx_str_t *dst, const char **reason);
static ngx_int_t ngx_http_llmgw_jws_json(ngx_pool_t *pool, ngx_str_t *text,
    json_t **json, const char **reason);
static ngx_int_t ngx_http_llmgw_jws_header(ngx_http_llmgw_jws_t *jws,
    const char **reason);
static ngx_uint_t ngx_http_llmgw_jws_key_fits(ngx_http_llmgw_alg_e alg,
    EVP_PKEY *pkey, size_t *ec_len);
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
ngx_http_llmgw_jws_verify(ngx_http_llmgw_jws_t *jws,
    ngx_http_llmgw_key_t *key)
{
    int            rc, padding;
    u_char         der[NGX_HTTP_LLMGW_JWS_ECDSA_DER_MAX];
    u_char        *sig;
    size_t         sig_len, ec_len;
    EVP_PKEY_CTX  *pctx;
    EVP_MD_CTX    *ctx;
    const EVP_MD  *md;

    if ((ngx_uint_t) jws->alg >= NGX_HTTP_LLMGW_ALG_COUNT
        || key == NULL
        || key->pkey == NULL
        || !(key->algs & NGX_HTTP_LLMGW_ALG_BIT(jws->alg)))
    {
        return NGX_DECLINED;
    }

    /* the key's type checked again: the algs mask is not all we trust */

    if (!ngx_http_llmgw_jws_key_fits(jws->alg, key->pkey, &ec_len)) {
        return NGX_DECLINED;
    }

    sig = jws->signature.data;
    sig_len = jws->signature.len;
    padding = 0;

    switch (jws->alg) {

    case NGX_HTTP_LLMGW_ALG_RS256:
    case NGX_HTTP_LLMGW_ALG_PS256:
    case NGX_HTTP_LLMGW_ALG_ES256:
        md = EVP_sha256();
        break;

    case NGX_HTTP_LLMGW_ALG_RS384:
    case NGX_HTTP_LLMGW_ALG_PS384:
    case NGX_HTTP_LLMGW_ALG_ES384:
        md = EVP_sha384();
        break;

    case NGX_HTTP_LLMGW_ALG_RS512:
    case NGX_HTTP_LLMGW_ALG_PS512:
    case NGX_HTTP_LLMGW_ALG_ES512:
        md = EVP_sha512();
        break;

    default: /* NGX_HTTP_LLMGW_ALG_EDDSA: the one-shot form, no digest */
        md = NULL;
        break;
    }

    switch (jws->alg) {

    case NGX_HTTP_LLMGW_ALG_RS256:
    case NGX_HTTP_LLMGW_ALG_RS384:
    case NGX_HTTP_LLMGW_ALG_RS512:
    case NGX_HTTP_LLMGW_ALG_PS256:
    case NGX_HTTP_LLMGW_ALG_PS384:
    case NGX_HTTP_LLMGW_ALG_PS512:
        padding = (jws->alg <= NGX_HTTP_LLMGW_ALG_RS512)
                  ? RSA_PKCS1_PADDING : RSA_PKCS1_PSS_PADDING;

        /* RSA signatures are exactly as long as the modulus */

        if (sig_len != (size_t) EVP_PKEY_get_size(key->pkey)) {
            return NGX_DECLINED;
        }

        break;

    case NGX_HTTP_LLMGW_ALG_ES256:
    case NGX_HTTP_LLMGW_ALG_ES384:
    case NGX_HTTP_LLMGW_ALG_ES512:

        /* R || S, each exactly the curve's length (RFC 7518 section 3.4) */

        if (sig_len != 2 * ec_len) {
            return NGX_DECLINED;
        }

        sig_len = ngx_http_llmgw_jws_ecdsa_der(der, sig, ec_len);
        sig = der;
        break;

    default: /* NGX_HTTP_LLMGW_ALG_EDDSA */

        if (sig_len != 64) {
            return NGX_DECLINED;
        }

        break;
    }

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        ERR_clear_error();
        return NGX_DECLINED;
    }

    pctx = NULL;

    rc = EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key->pkey);

    if (rc == 1 && padding != 0) {
        rc = EVP_PKEY_CTX_set_rsa_padding(pctx, padding);

        if (rc == 1 && padding == RSA_PKCS1_PSS_PADDING) {

            /* MGF1 with the same hash, salt as long as the hash */

            rc = EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md);

            if (rc == 1) {
                rc = EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                                                      RSA_PSS_SALTLEN_DIGEST);
            }
        }
    }

    if (rc == 1) {
        rc = EVP_DigestVerify(ctx, sig, sig_len, jws->signing_input.data,
                              jws->signing_input.len);
    }

    EVP_MD_CTX_free(ctx);

    if (rc != 1) {
        ERR_clear_error();
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_llmgw_jws_key_fits(ngx_http_llmgw_alg_e alg, EVP_PKEY *pkey,
    size_t *ec_len)
{
    size_t  len;

    *ec_len = 0;

    switch (alg) {

    case NGX_HTTP_LLMGW_ALG_RS256:
    case NGX_HTTP_LLMGW_ALG_RS384:
    case NGX_HTTP_LLMGW_ALG_RS512:
        return EVP_PKEY_is_a(pkey, "RSA");

    case NGX_HTTP_LLMGW_ALG_PS256:
    case NGX_HTTP_LLMGW_ALG_PS384:
    case NGX_HTTP_LLMGW_ALG_PS512:
        return EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS");

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
        return EVP_PKEY_is_a(pkey, "ED25519");

    default:
        return 0;
    }

    if (!EVP_PKEY_is_a(pkey, "EC")
        || (size_t) (EVP_PKEY_get_bits(pkey) + 7) / 8 != len)
    {
        return 0;
    }

    *ec_len = len;

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
