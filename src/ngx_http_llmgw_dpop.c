
/*
 * Copyright (C) llmgw authors
 *
 * DPoP proofs (RFC 9449): parsing, the checks of section 4.3 that need
 * only the proof and the request's facts, RFC 7638 thumbprints, htu
 * normalisation, stateless nonces.  The replay cache and the stage that
 * runs these are elsewhere (ngx_http_llmgw_replay.c, the access module).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "ngx_http_llmgw_jws.h"
#include "ngx_http_llmgw_jwk.h"
#include "ngx_http_llmgw_dpop.h"


static ngx_int_t ngx_http_llmgw_dpop_public_jwk(json_t *jwk,
    const char **reason);
static ngx_int_t ngx_http_llmgw_dpop_claims(ngx_http_llmgw_dpop_proof_t *proof,
    const char **reason);
static ngx_int_t ngx_http_llmgw_dpop_claim_str(json_t *claims,
    const char *name, ngx_uint_t required, ngx_str_t *value);
static ngx_int_t ngx_http_llmgw_dpop_member(json_t *jwk, const char *name,
    ngx_str_t *value);
static ngx_uint_t ngx_http_llmgw_dpop_unreserved(u_char c);
static ngx_int_t ngx_http_llmgw_dpop_hex(u_char c);
static ngx_int_t ngx_http_llmgw_dpop_nonce_mac(u_char *key, uint64_t slot,
    u_char *out);


/* RFC 7517/7518: members that only a private or symmetric key has */

typedef struct {
    u_char                     jkt[NGX_HTTP_LLMGW_DPOP_JKT_LEN];
    ngx_pool_t                *pool;        /* the key's; NULL: empty */
    ngx_http_llmgw_key_t      *key;
} ngx_http_llmgw_dpop_slot_t;


static ngx_http_llmgw_dpop_slot_t
    ngx_http_llmgw_dpop_keys[NGX_HTTP_LLMGW_DPOP_KEYS];


static const char  *ngx_http_llmgw_dpop_private[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL
};


ngx_int_t
ngx_http_llmgw_dpop_parse(ngx_pool_t *pool, ngx_str_t *text,
    ngx_uint_t algs, ngx_http_llmgw_dpop_proof_t *proof,
    const char **reason)
{
    ngx_int_t              rc;
    ngx_http_llmgw_jws_t  *jws;

    ngx_memzero(proof, sizeof(ngx_http_llmgw_dpop_proof_t));

    if (text->len > NGX_HTTP_LLMGW_DPOP_MAX_LEN) {
        *reason = "DPoP proof too large";
        return NGX_DECLINED;
    }

    jws = &proof->jws;

    rc = ngx_http_llmgw_jws_parse(pool, text, jws, reason);

    if (rc != NGX_OK) {
        if (rc == NGX_DECLINED) {
            /* "none", HS256 and the like are refused there */
            *reason = (ngx_strcmp(*reason, "unsupported alg") == 0)
                      ? "DPoP proof algorithm not allowed"
                      : "malformed DPoP proof";
        }

        return rc;
    }

    /* section 4.3 check 4: "typ" is "dpop+jwt" (media types are caseless) */

    if (jws->typ.len != sizeof("dpop+jwt") - 1
        || ngx_strncasecmp(jws->typ.data, (u_char *) "dpop+jwt",
                           jws->typ.len) != 0)
    {
        *reason = "DPoP proof typ is not dpop+jwt";
        return NGX_DECLINED;
    }

    /* check 5: an asymmetric algorithm the location allows */

    if (!(algs & NGX_HTTP_LLMGW_ALG_BIT(jws->alg))) {
        *reason = "DPoP proof algorithm not allowed";
        return NGX_DECLINED;
    }

    proof->jwk = json_object_get(jws->header, "jwk");

    rc = ngx_http_llmgw_dpop_public_jwk(proof->jwk, reason);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_llmgw_dpop_thumbprint(pool, proof->jwk, proof->jkt);

    if (rc == NGX_DECLINED) {
        *reason = "invalid DPoP proof jwk";
    }

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_llmgw_dpop_claims(proof, reason);
}


/* check 6: a public key, never a private or a symmetric one */

static ngx_int_t
ngx_http_llmgw_dpop_public_jwk(json_t *jwk, const char **reason)
{
    const char  **name;

    if (!json_is_object(jwk)) {
        *reason = "DPoP proof without a jwk";
        return NGX_DECLINED;
    }

    for (name = ngx_http_llmgw_dpop_private; *name; name++) {
        if (json_object_get(jwk, *name) != NULL) {
            *reason = "DPoP proof jwk holds a private key";
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* check 3: the claims a proof must have, of their types */

static ngx_int_t
ngx_http_llmgw_dpop_claims(ngx_http_llmgw_dpop_proof_t *proof,
    const char **reason)
{
    json_t  *claims, *v;

    claims = proof->jws.claims;

    if (ngx_http_llmgw_dpop_claim_str(claims, "jti", 1, &proof->jti)
        != NGX_OK
        || proof->jti.len == 0
        || proof->jti.len > NGX_HTTP_LLMGW_DPOP_MAX_JTI)
    {
        *reason = "DPoP proof jti missing or invalid";
        return NGX_DECLINED;
    }

    if (ngx_http_llmgw_dpop_claim_str(claims, "htm", 1, &proof->htm)
        != NGX_OK)
    {
        *reason = "DPoP proof htm missing or invalid";
        return NGX_DECLINED;
    }

    if (ngx_http_llmgw_dpop_claim_str(claims, "htu", 1, &proof->htu)
        != NGX_OK)
    {
        *reason = "DPoP proof htu missing or invalid";
        return NGX_DECLINED;
    }

    v = json_object_get(claims, "iat");

    if (!json_is_integer(v)) {
        *reason = "DPoP proof iat missing or invalid";
        return NGX_DECLINED;
    }

    proof->iat = (time_t) json_integer_value(v);

    if (ngx_http_llmgw_dpop_claim_str(claims, "ath", 0, &proof->ath)
        != NGX_OK)
    {
        *reason = "DPoP proof ath invalid";
        return NGX_DECLINED;
    }

    if (ngx_http_llmgw_dpop_claim_str(claims, "nonce", 0, &proof->nonce)
        != NGX_OK)
    {
        *reason = "DPoP proof nonce invalid";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* NGX_OK (value empty when absent and not required) or NGX_DECLINED */

static ngx_int_t
ngx_http_llmgw_dpop_claim_str(json_t *claims, const char *name,
    ngx_uint_t required, ngx_str_t *value)
{
    json_t  *v;

    ngx_str_null(value);

    v = json_object_get(claims, name);

    if (v == NULL) {
        return required ? NGX_DECLINED : NGX_OK;
    }

    if (!json_is_string(v)) {
        return NGX_DECLINED;
    }

    value->data = (u_char *) json_string_value(v);
    value->len = json_string_length(v);

    return NGX_OK;
}


/*
 * The key is made from the members its thumbprint covers, and those
 * alone: "alg", "use" or "key_ops" in a proof's jwk would otherwise bind
 * the key kept under that thumbprint (ngx_http_llmgw_dpop_key_cached) to
 * what a stranger's proof, which need not even verify, said of it.
 */

ngx_int_t
ngx_http_llmgw_dpop_key(ngx_pool_t *pool, ngx_http_llmgw_dpop_proof_t *proof,
    ngx_array_t *keys, const char **reason)
{
    json_t       *jwk, *v;
    ngx_int_t     rc;
    const char  **name;

    static const char  *members[] = { "kty", "crv", "x", "y", "n", "e",
                                      NULL };

    jwk = json_object();
    if (jwk == NULL) {
        return NGX_ERROR;
    }

    for (name = members; *name; name++) {
        v = json_object_get(proof->jwk, *name);

        if (v != NULL && json_object_set(jwk, *name, v) != 0) {
            json_decref(jwk);
            return NGX_ERROR;
        }
    }

    rc = ngx_http_llmgw_jwk_key(pool, jwk, keys, reason);

    json_decref(jwk);

    if (rc == NGX_DECLINED) {
        *reason = "invalid DPoP proof jwk";
    }

    return rc;
}


ngx_int_t
ngx_http_llmgw_dpop_key_cached(ngx_http_llmgw_dpop_proof_t *proof,
    ngx_log_t *log, ngx_http_llmgw_key_t **key, const char **reason)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i;
    ngx_pool_t                  *pool;
    ngx_array_t                 *keys;
    ngx_http_llmgw_dpop_slot_t  *slot;

    /* the thumbprint is base64url of a hash: any 2 characters are uniform */

    i = (ngx_uint_t) (proof->jkt[0] << 8 | proof->jkt[1])
        & (NGX_HTTP_LLMGW_DPOP_KEYS - 1);

    slot = &ngx_http_llmgw_dpop_keys[i];

    if (slot->pool != NULL
        && ngx_memcmp(slot->jkt, proof->jkt, NGX_HTTP_LLMGW_DPOP_JKT_LEN)
           == 0)
    {
        *key = slot->key;
        return NGX_OK;
    }

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    keys = ngx_array_create(pool, 1, sizeof(ngx_http_llmgw_key_t));
    if (keys == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_dpop_key(pool, proof, keys, reason);

    if (rc != NGX_OK) {
        ngx_destroy_pool(pool);
        return rc;
    }

    if (slot->pool != NULL) {
        ngx_destroy_pool(slot->pool);
    }

    ngx_memcpy(slot->jkt, proof->jkt, NGX_HTTP_LLMGW_DPOP_JKT_LEN);
    slot->pool = pool;
    slot->key = keys->elts;

    *key = slot->key;

    return NGX_OK;
}


void
ngx_http_llmgw_dpop_keys_cleanup(void)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LLMGW_DPOP_KEYS; i++) {
        if (ngx_http_llmgw_dpop_keys[i].pool != NULL) {
            ngx_destroy_pool(ngx_http_llmgw_dpop_keys[i].pool);
            ngx_http_llmgw_dpop_keys[i].pool = NULL;
        }
    }
}


ngx_int_t
ngx_http_llmgw_dpop_verify(ngx_http_llmgw_dpop_proof_t *proof,
    ngx_http_llmgw_key_t *key)
{
    /* check 7: signed by the key of its own header */

    if (!(key->algs & NGX_HTTP_LLMGW_ALG_BIT(proof->jws.alg))) {
        return NGX_DECLINED;
    }

    return ngx_http_llmgw_jws_verify(&proof->jws, key);
}


ngx_int_t
ngx_http_llmgw_dpop_check(ngx_pool_t *pool, ngx_http_llmgw_dpop_proof_t *proof,
    ngx_http_llmgw_dpop_request_t *req, const char **reason)
{
    u_char     hash[NGX_HTTP_LLMGW_SHA256_LEN];
    u_char     ath[NGX_HTTP_LLMGW_DPOP_JKT_LEN + 1];
    ngx_int_t  rc;
    ngx_str_t  htu, src, dst;

    /* check 8: the method, exactly (methods are case-sensitive) */

    if (proof->htm.len != req->method.len
        || ngx_strncmp(proof->htm.data, req->method.data, req->method.len)
           != 0)
    {
        *reason = "DPoP proof htm does not match the request";
        return NGX_DECLINED;
    }

    /*
     * check 9: the URI without query and fragment, both normalised; an
     * htu with either is not one (section 4.2)
     */

    if (ngx_strlchr(proof->htu.data, proof->htu.data + proof->htu.len, '?')
        != NULL
        || ngx_strlchr(proof->htu.data, proof->htu.data + proof->htu.len,
                       '#')
           != NULL)
    {
        *reason = "DPoP proof htu has a query or fragment";
        return NGX_DECLINED;
    }

    rc = ngx_http_llmgw_dpop_normalize_url(pool, &proof->htu, &htu);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK
        || htu.len != req->url.len
        || ngx_strncmp(htu.data, req->url.data, htu.len) != 0)
    {
        *reason = "DPoP proof htu does not match the request";
        return NGX_DECLINED;
    }

    /* check 11: created within the window around now */

    if (proof->iat < req->now - req->window
        || proof->iat > req->now + req->window)
    {
        *reason = "DPoP proof iat outside the accepted window";
        return NGX_DECLINED;
    }

    /* check 12: bound to this access token */

    if (proof->ath.len == 0) {
        *reason = "DPoP proof without ath";
        return NGX_DECLINED;
    }

    if (ngx_http_llmgw_sha256(req->token.data, req->token.len, hash)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    src.data = hash;
    src.len = sizeof(hash);
    dst.data = ath;

    ngx_encode_base64url(&dst, &src);

    if (proof->ath.len != dst.len
        || CRYPTO_memcmp(proof->ath.data, dst.data, dst.len) != 0)
    {
        *reason = "DPoP proof ath does not match the access token";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_dpop_normalize_url(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out)
{
    u_char      *p, *last, *s, *host, *host_end, *colon, *o;
    ngx_int_t    hi, lo;
    ngx_uint_t   https, port, c;

    p = in->data;
    last = p + in->len;

    /* the URI ends at its query or fragment; what precedes is printable */

    for (s = p; s < last && *s != '?' && *s != '#'; s++) {
        if (*s <= 0x20 || *s >= 0x7f) {
            return NGX_DECLINED;
        }
    }

    last = s;

    o = ngx_pnalloc(pool, in->len + 1);
    if (o == NULL) {
        return NGX_ERROR;
    }

    out->data = o;

    /* scheme: http or https, any case */

    for (s = p; s < last && *s != ':'; s++) {
        *o++ = ngx_tolower(*s);
    }

    if (o - out->data == 4 && ngx_strncmp(out->data, "http", 4) == 0) {
        https = 0;

    } else if (o - out->data == 5 && ngx_strncmp(out->data, "https", 5) == 0)
    {
        https = 1;

    } else {
        return NGX_DECLINED;
    }

    if (last - s < 3 || ngx_strncmp(s, "://", 3) != 0) {
        return NGX_DECLINED;
    }

    o = ngx_cpymem(o, "://", 3);

    /* authority: host[:port], no userinfo */

    host = s + 3;

    for (host_end = host; host_end < last && *host_end != '/'; host_end++) {
        if (*host_end == '@') {
            return NGX_DECLINED;
        }
    }

    colon = NULL;

    for (s = host_end; s > host; s--) {
        if (s[-1] == ']') {
            break;
        }

        if (s[-1] == ':') {
            colon = s - 1;
            break;
        }
    }

    if ((colon ? colon : host_end) == host) {
        return NGX_DECLINED;
    }

    for (s = host; s < (colon ? colon : host_end); s++) {
        *o++ = ngx_tolower(*s);
    }

    if (colon != NULL && colon + 1 < host_end) {
        port = 0;

        for (s = colon + 1; s < host_end; s++) {
            if (*s < '0' || *s > '9') {
                return NGX_DECLINED;
            }

            port = port * 10 + (*s - '0');

            if (port > 65535) {
                return NGX_DECLINED;
            }
        }

        if (port != (https ? 443 : 80)) {
            o = ngx_sprintf(o, ":%ui", port);
        }
    }

    /* path: "/" when empty; percent-encodings normalised */

    if (host_end == last) {
        *o++ = '/';
    }

    for (s = host_end; s < last; s++) {

        if (*s != '%') {
            *o++ = *s;
            continue;
        }

        if (last - s < 3) {
            return NGX_DECLINED;
        }

        hi = ngx_http_llmgw_dpop_hex(s[1]);
        lo = ngx_http_llmgw_dpop_hex(s[2]);

        if (hi < 0 || lo < 0) {
            return NGX_DECLINED;
        }

        c = (ngx_uint_t) (hi << 4 | lo);

        if (ngx_http_llmgw_dpop_unreserved((u_char) c)) {
            *o++ = (u_char) c;

        } else {
            *o++ = '%';
            *o++ = "0123456789ABCDEF"[hi];
            *o++ = "0123456789ABCDEF"[lo];
        }

        s += 2;
    }

    out->len = o - out->data;

    return NGX_OK;
}


/* RFC 3986 section 2.3 */

static ngx_uint_t
ngx_http_llmgw_dpop_unreserved(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || c == '-' || c == '.' || c == '_' || c == '~';
}


static ngx_int_t
ngx_http_llmgw_dpop_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c = (u_char) (c | 0x20);

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/*
 * RFC 7638 section 3: the required members in lexicographic order, no
 * white space; the members are base64url or curve names, which need no
 * JSON escaping (anything that would is refused)
 */

ngx_int_t
ngx_http_llmgw_dpop_thumbprint(ngx_pool_t *pool, json_t *jwk, u_char *jkt)
{
    u_char     *text, *p;
    u_char      hash[NGX_HTTP_LLMGW_SHA256_LEN];
    size_t      len;
    ngx_str_t   kty, a, b, c, src, dst;

    if (ngx_http_llmgw_dpop_member(jwk, "kty", &kty) != NGX_OK) {
        return NGX_DECLINED;
    }

    ngx_str_null(&c);

    if (kty.len == 2 && ngx_strncmp(kty.data, "EC", 2) == 0) {
        /* {"crv":a,"kty":"EC","x":b,"y":c} */
        if (ngx_http_llmgw_dpop_member(jwk, "crv", &a) != NGX_OK
            || ngx_http_llmgw_dpop_member(jwk, "x", &b) != NGX_OK
            || ngx_http_llmgw_dpop_member(jwk, "y", &c) != NGX_OK)
        {
            return NGX_DECLINED;
        }

    } else if (kty.len == 3 && ngx_strncmp(kty.data, "RSA", 3) == 0) {
        /* {"e":a,"kty":"RSA","n":b} */
        if (ngx_http_llmgw_dpop_member(jwk, "e", &a) != NGX_OK
            || ngx_http_llmgw_dpop_member(jwk, "n", &b) != NGX_OK)
        {
            return NGX_DECLINED;
        }

    } else if (kty.len == 3 && ngx_strncmp(kty.data, "OKP", 3) == 0) {
        /* {"crv":a,"kty":"OKP","x":b} */
        if (ngx_http_llmgw_dpop_member(jwk, "crv", &a) != NGX_OK
            || ngx_http_llmgw_dpop_member(jwk, "x", &b) != NGX_OK)
        {
            return NGX_DECLINED;
        }

    } else {
        return NGX_DECLINED;
    }

    len = sizeof("{\"crv\":\"\",\"kty\":\"OKP\",\"x\":\"\",\"y\":\"\"}") - 1
          + a.len + b.len + c.len;

    text = ngx_pnalloc(pool, len);
    if (text == NULL) {
        return NGX_ERROR;
    }

    if (kty.data[0] == 'E') {
        p = ngx_sprintf(text, "{\"crv\":\"%V\",\"kty\":\"EC\",\"x\":\"%V\","
                        "\"y\":\"%V\"}", &a, &b, &c);

    } else if (kty.data[0] == 'R') {
        p = ngx_sprintf(text, "{\"e\":\"%V\",\"kty\":\"RSA\",\"n\":\"%V\"}",
                        &a, &b);

    } else {
        p = ngx_sprintf(text, "{\"crv\":\"%V\",\"kty\":\"OKP\",\"x\":\"%V\"}",
                        &a, &b);
    }

    if (ngx_http_llmgw_sha256(text, p - text, hash) != NGX_OK) {
        return NGX_ERROR;
    }

    src.data = hash;
    src.len = sizeof(hash);
    dst.data = jkt;

    ngx_encode_base64url(&dst, &src);

    return NGX_OK;
}


/* a string member of printable ASCII that JSON writes without escapes */

static ngx_int_t
ngx_http_llmgw_dpop_member(json_t *jwk, const char *name, ngx_str_t *value)
{
    u_char  *p, *last;
    json_t  *v;

    v = json_object_get(jwk, name);

    if (!json_is_string(v)) {
        return NGX_DECLINED;
    }

    value->data = (u_char *) json_string_value(v);
    value->len = json_string_length(v);

    last = value->data + value->len;

    for (p = value->data; p < last; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') {
            return NGX_DECLINED;
        }
    }

    return value->len ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_http_llmgw_dpop_token_jkt(json_t *claims, ngx_str_t *jkt)
{
    json_t  *cnf, *v;

    cnf = json_object_get(claims, "cnf");

    if (cnf == NULL) {
        return NGX_DECLINED;
    }

    if (!json_is_object(cnf)) {
        return NGX_ERROR;
    }

    v = json_object_get(cnf, "jkt");

    if (v == NULL) {
        return NGX_DECLINED;
    }

    if (!json_is_string(v)) {
        return NGX_ERROR;
    }

    jkt->data = (u_char *) json_string_value(v);
    jkt->len = json_string_length(v);

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_dpop_nonce_make(u_char *key, time_t now, time_t lifetime,
    u_char *out)
{
    u_char     raw[8 + 24];
    uint64_t   slot;
    ngx_str_t  src, dst;

    slot = (uint64_t) now / (uint64_t) lifetime;

    if (ngx_http_llmgw_dpop_nonce_mac(key, slot, raw) != NGX_OK) {
        return NGX_ERROR;
    }

    src.data = raw;
    src.len = sizeof(raw);
    dst.data = out;

    ngx_encode_base64url(&dst, &src);

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_dpop_nonce_check(u_char *key, time_t now, time_t lifetime,
    ngx_str_t *nonce)
{
    u_char      raw[8 + 24 + 2], want[8 + 24];
    uint64_t    slot, cur;
    ngx_str_t   dst;
    ngx_uint_t  i;

    if (nonce->len != NGX_HTTP_LLMGW_DPOP_NONCE_LEN) {
        return NGX_DECLINED;
    }

    dst.data = raw;

    if (ngx_http_llmgw_base64url_decode_strict(&dst, nonce) != NGX_OK
        || dst.len != 8 + 24)
    {
        return NGX_DECLINED;
    }

    slot = 0;

    for (i = 0; i < 8; i++) {
        slot = slot << 8 | raw[i];
    }

    cur = (uint64_t) now / (uint64_t) lifetime;

    if (slot != cur && slot + 1 != cur) {
        return NGX_DECLINED;
    }

    if (ngx_http_llmgw_dpop_nonce_mac(key, slot, want) != NGX_OK
        || CRYPTO_memcmp(raw + 8, want + 8, 24) != 0)
    {
        return NGX_DECLINED;
    }

    return slot == cur ? NGX_OK : NGX_DONE;
}


/* the slot, big-endian, then the first 24 bytes of its HMAC-SHA256 */

static ngx_int_t
ngx_http_llmgw_dpop_nonce_mac(u_char *key, uint64_t slot, u_char *out)
{
    u_char        mac[EVP_MAX_MD_SIZE];
    ngx_uint_t    i;
    unsigned int  n;

    for (i = 0; i < 8; i++) {
        out[i] = (u_char) (slot >> (56 - 8 * i));
    }

    n = 0;

    if (HMAC(EVP_sha256(), key, NGX_HTTP_LLMGW_DPOP_NONCE_KEY_LEN, out, 8,
             mac, &n)
        == NULL || n < 24)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(out + 8, mac, 24);

    return NGX_OK;
}
