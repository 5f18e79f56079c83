/* llmgw-unit-srcs: src/ngx_http_llmgw_jws.c src/ngx_http_llmgw_jwk.c */
/* llmgw-unit-srcs: t/unit/ngx_http_llmgw_unit_jose.c */
/* llmgw-unit-libs: -lcrypto -ljansson -ljwt */

/*
 * Copyright (C) llmgw authors
 *
 * Compact JWS parsing and verification: every algorithm with keys and
 * tokens made at run time, every refusal the parser and the verifier owe,
 * and a cross-check with libjwt 1.10.2.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <jwt.h>

#include "ngx_http_llmgw_jws.h"
#include "ngx_http_llmgw_jwk.h"
#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_unit_jose.h"


typedef struct {
    ngx_http_llmgw_alg_e       alg;
    EVP_PKEY                  *pkey;
    ngx_http_llmgw_key_t      *key;
} ngx_http_llmgw_test_alg_t;


static ngx_http_llmgw_key_t *ngx_http_llmgw_test_key(EVP_PKEY *pkey,
    const char *extra);
static ngx_int_t ngx_http_llmgw_test_parse(const char *token,
    ngx_http_llmgw_jws_t *jws, const char **reason);
static ngx_uint_t ngx_http_llmgw_test_refused(const char *token,
    const char *want);
static ngx_uint_t ngx_http_llmgw_test_verifies(ngx_str_t *token,
    ngx_http_llmgw_key_t *key);
static void ngx_http_llmgw_test_alg_names(void);
static void ngx_http_llmgw_test_base64url(void);
static void ngx_http_llmgw_test_valid(void);
static void ngx_http_llmgw_test_tampered(void);
static void ngx_http_llmgw_test_alg_refusals(void);
static void ngx_http_llmgw_test_ecdsa_forms(void);
static void ngx_http_llmgw_test_pss_params(void);
static void ngx_http_llmgw_test_bad_base64url(void);
static void ngx_http_llmgw_test_bad_json(void);
static void ngx_http_llmgw_test_structure(void);
static void ngx_http_llmgw_test_kid(void);
static void ngx_http_llmgw_test_libjwt(void);
static void ngx_http_llmgw_test_prepared(void);
static void ngx_http_llmgw_test_sha256(void);


static ngx_pool_t                 *pool;
static ngx_array_t                *keys;
static EVP_PKEY                   *rsa, *ec256, *ec384, *ec521, *ed, *other;
static EVP_PKEY                   *others[5];
static ngx_http_llmgw_key_t       *other_keys[5];
static ngx_http_llmgw_test_alg_t   algs[NGX_HTTP_LLMGW_ALG_COUNT];


static const char  *payload = "{\"sub\":\"alice\",\"scope\":\"text\","
                              "\"exp\":4102444800}";


/* a key of ours from pkey's JWK, with extra JWK members */

static ngx_http_llmgw_key_t *
ngx_http_llmgw_test_key(EVP_PKEY *pkey, const char *extra)
{
    ngx_str_t     jwk;
    ngx_uint_t    n;
    const char   *reason;
    u_char        buf[8192], *p;

    if (ngx_http_llmgw_unit_jwk(pool, pkey, extra, &jwk) != NGX_OK) {
        return NULL;
    }

    p = ngx_snprintf(buf, sizeof(buf), "{\"keys\":[%V]}", &jwk);

    n = keys->nelts;
    reason = NULL;

    if (ngx_http_llmgw_jwks_parse(pool, buf, p - buf, keys, &reason)
        != NGX_OK
        || keys->nelts != n + 1)
    {
        fprintf(stderr, "jwks: %s\n", reason ? reason : "no key");
        return NULL;
    }

    return (ngx_http_llmgw_key_t *) keys->elts + n;
}


static ngx_int_t
ngx_http_llmgw_test_parse(const char *token, ngx_http_llmgw_jws_t *jws,
    const char **reason)
{
    ngx_str_t  t;

    t.data = (u_char *) token;
    t.len = ngx_strlen(token);
    *reason = NULL;

    return ngx_http_llmgw_jws_parse(pool, &t, jws, reason);
}


/* refused by the parser with exactly the reason want */

static ngx_uint_t
ngx_http_llmgw_test_refused(const char *token, const char *want)
{
    ngx_int_t              rc;
    const char            *reason;
    ngx_http_llmgw_jws_t   jws;

    rc = ngx_http_llmgw_test_parse(token, &jws, &reason);

    if (rc != NGX_DECLINED || reason == NULL) {
        printf("# rc %d\n", (int) rc);
        return 0;
    }

    if (ngx_strcmp(reason, want) != 0) {
        printf("# reason \"%s\", want \"%s\"\n", reason, want);
        return 0;
    }

    return 1;
}


static ngx_uint_t
ngx_http_llmgw_test_verifies(ngx_str_t *token, ngx_http_llmgw_key_t *key)
{
    const char            *reason;
    ngx_http_llmgw_jws_t   jws;

    if (ngx_http_llmgw_jws_parse(pool, token, &jws, &reason) != NGX_OK) {
        printf("# parse: %s\n", reason);
        return 0;
    }

    return ngx_http_llmgw_jws_verify(&jws, key) == NGX_OK;
}


static void
ngx_http_llmgw_test_alg_names(void)
{
    ngx_uint_t   i, ok;
    ngx_str_t    s, *name;

    static const char  *bad[] = {
        "none", "None", "HS256", "HS384", "HS512", "rs256", "RS256 ", "ES256K",
        "Ed25519", "RS", "", "RS2560", NULL
    };

    ok = 1;

    for (i = 0; i < NGX_HTTP_LLMGW_ALG_COUNT; i++) {
        name = ngx_http_llmgw_alg_name(i);
        if (name == NULL || ngx_http_llmgw_alg_parse(name) != (ngx_int_t) i) {
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "alg names round trip");

    ok = ngx_http_llmgw_alg_name(NGX_HTTP_LLMGW_ALG_COUNT) == NULL;

    for (i = 0; bad[i] != NULL; i++) {
        s.data = (u_char *) bad[i];
        s.len = ngx_strlen(bad[i]);
        if (ngx_http_llmgw_alg_parse(&s) != NGX_ERROR) {
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "none, HS*, case variants are not algs");
}


static void
ngx_http_llmgw_test_base64url(void)
{
    u_char      buf[64];
    ngx_str_t   src, dst;
    ngx_uint_t  i, ok;

    static const char  *good[][2] = {
        { "", "" }, { "Zg", "f" }, { "Zm8", "fo" }, { "Zm9v", "foo" },
        { "Zm9vYg", "foob" }, { "Zm9vYmE", "fooba" }, { "Zm9vYmFy", "foobar" },
        { "-_8", "\xfb\xff" }, { "__-_", "\xff\xff\xbf" }, { NULL, NULL }
    };

    static const char  *bad[] = {
        "Zg==", "Zm8=", "Zm+v", "Zm/v", "Zm9 v", " Zm9v", "Zm9v\n", "Zm\t9v",
        "Zh", "Zm9", "Zm9vY", "Z", "Zm9v=", "Zm9v.", "Zm9\x80", "Zm9\xff",
        "Zm\0v", NULL
    };

    ok = 1;

    for (i = 0; good[i][0] != NULL; i++) {
        src.data = (u_char *) good[i][0];
        src.len = ngx_strlen(good[i][0]);
        dst.data = buf;

        if (ngx_http_llmgw_base64url_decode_strict(&dst, &src) != NGX_OK
            || dst.len != ngx_strlen(good[i][1])
            || ngx_memcmp(dst.data, good[i][1], dst.len) != 0)
        {
            printf("# \"%s\"\n", good[i][0]);
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "base64url decodes RFC 4648 vectors");

    ok = 1;

    for (i = 0; bad[i] != NULL; i++) {
        src.data = (u_char *) bad[i];
        src.len = (i == 16) ? 4 : ngx_strlen(bad[i]);
        dst.data = buf;

        if (ngx_http_llmgw_base64url_decode_strict(&dst, &src) != NGX_ERROR) {
            printf("# accepted bad[%u]\n", (unsigned) i);
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "base64url refuses padding, +, /, white space, "
                         "non-zero trailing bits, len%%4 == 1, NUL, 8-bit");
}


static void
ngx_http_llmgw_test_valid(void)
{
    u_char                 header[128];
    ngx_str_t              token, *name;
    ngx_uint_t             i;
    const char            *reason;
    ngx_http_llmgw_jws_t   jws;

    for (i = 0; i < NGX_HTTP_LLMGW_ALG_COUNT; i++) {
        name = ngx_http_llmgw_alg_name(algs[i].alg);

        ngx_sprintf(header, "{\"alg\":\"%V\",\"typ\":\"at+jwt\","
                    "\"kid\":\"k-%V\"}%Z", name, name);

        if (ngx_http_llmgw_unit_token(pool, algs[i].pkey, algs[i].alg,
                                      (char *) header, payload, &token)
            != NGX_OK)
        {
            NGX_HTTP_LLMGW_CHECK(0, "token signed");
            continue;
        }

        reason = NULL;

        if (ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason) != NGX_OK) {
            ngx_http_llmgw_unit_check(0, "%.*s parses: %s", (int) name->len,
                                      name->data, reason);
            continue;
        }

        ngx_http_llmgw_unit_check(jws.alg == algs[i].alg
                                  && jws.kid.len == 2 + name->len
                                  && ngx_strncmp(jws.kid.data, "k-", 2) == 0
                                  && jws.typ.len == 6
                                  && ngx_strncmp(jws.typ.data, "at+jwt", 6)
                                     == 0
                                  && json_is_object(jws.claims)
                                  && ngx_strcmp(json_string_value(
                                         json_object_get(jws.claims, "sub")),
                                         "alice") == 0
                                  && jws.payload.len == ngx_strlen(payload)
                                  && ngx_strncmp(jws.payload.data, payload,
                                                 jws.payload.len) == 0
                                  && jws.signing_input.data == token.data
                                  && jws.signing_input.len
                                     == (size_t) (ngx_strlchr(
                                            ngx_strlchr(token.data,
                                                token.data + token.len, '.')
                                            + 1, token.data + token.len, '.')
                                        - token.data),
                                  "%.*s parses: alg, kid, typ, claims",
                                  (int) name->len, name->data);

        ngx_http_llmgw_unit_check(
            ngx_http_llmgw_jws_verify(&jws, algs[i].key) == NGX_OK,
            "%.*s verifies", (int) name->len, name->data);
    }
}


static void
ngx_http_llmgw_test_tampered(void)
{
    u_char                *p;
    ngx_str_t              token, t;
    ngx_uint_t             i, ok, okp;
    const char            *reason;
    ngx_http_llmgw_key_t  *wrong;
    ngx_http_llmgw_jws_t   jws;

    ok = 1;
    okp = 1;

    for (i = 0; i < NGX_HTTP_LLMGW_ALG_COUNT; i++) {
        p = ngx_pnalloc(pool, 64);
        ngx_sprintf(p, "{\"alg\":\"%V\"}%Z",
                    ngx_http_llmgw_alg_name(algs[i].alg));

        if (ngx_http_llmgw_unit_token(pool, algs[i].pkey, algs[i].alg,
                                      (char *) p, payload, &token)
            != NGX_OK)
        {
            ok = 0;
            continue;
        }

        /* one bit of the signature flipped */

        t.len = token.len;
        t.data = ngx_pstrdup(pool, &token);
        p = (u_char *) ngx_strlchr(t.data, t.data + t.len, '.');
        p = (u_char *) ngx_strlchr(p + 1, t.data + t.len, '.') + 5;
        *p = (*p == 'A') ? 'B' : 'A';

        if (ngx_http_llmgw_jws_parse(pool, &t, &jws, &reason) != NGX_OK
            || ngx_http_llmgw_jws_verify(&jws, algs[i].key) != NGX_DECLINED
            || ERR_peek_error() != 0)
        {
            printf("# signature flip accepted for alg %u\n", (unsigned) i);
            ok = 0;
        }

        /* the payload changed, signature kept */

        t.data = ngx_pstrdup(pool, &token);
        p = (u_char *) ngx_strlchr(t.data, t.data + t.len, '.') + 3;
        *p = (*p == 'B') ? 'C' : 'B';

        if (ngx_http_llmgw_jws_parse(pool, &t, &jws, &reason) == NGX_OK
            && ngx_http_llmgw_jws_verify(&jws, algs[i].key) != NGX_DECLINED)
        {
            printf("# payload change accepted for alg %u\n", (unsigned) i);
            okp = 0;
        }

        /* a key of the same kind and curve that did not sign it */

        wrong = other_keys[(i < 6) ? 0 : i - 5];

        if (ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason) != NGX_OK
            || ngx_http_llmgw_jws_verify(&jws, wrong) != NGX_DECLINED)
        {
            printf("# other key accepted for alg %u\n", (unsigned) i);
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "flipped signature bit or other key refused, "
                         "OpenSSL error queue left empty (all algs)");
    NGX_HTTP_LLMGW_CHECK(okp, "changed payload refused (all algs)");

    /* the real key of another family: RSA for EC, EC for RSA, ... */

    ok = 1;

    for (i = 0; i < NGX_HTTP_LLMGW_ALG_COUNT; i++) {
        p = ngx_pnalloc(pool, 64);
        ngx_sprintf(p, "{\"alg\":\"%V\"}%Z",
                    ngx_http_llmgw_alg_name(algs[i].alg));

        if (ngx_http_llmgw_unit_token(pool, algs[i].pkey, algs[i].alg,
                                      (char *) p, payload, &token)
            != NGX_OK
            || ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason)
               != NGX_OK)
        {
            ok = 0;
            continue;
        }

        if ((i < 6 && ngx_http_llmgw_jws_verify(&jws, algs[6].key)
                      != NGX_DECLINED)
            || (i >= 6 && ngx_http_llmgw_jws_verify(&jws, algs[0].key)
                          != NGX_DECLINED)
            || (i != 9 && ngx_http_llmgw_jws_verify(&jws, algs[9].key)
                          != NGX_DECLINED))
        {
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "alg and key family mismatch refused");
}


static void
ngx_http_llmgw_test_alg_refusals(void)
{
    u_char                *p, buf[4096];
    ngx_str_t              token, pem, h, b, sig, input;
    const char            *reason;
    unsigned int           len;
    ngx_http_llmgw_key_t  *key, forged;
    ngx_http_llmgw_jws_t   jws;

    /* alg none, unsigned (empty signature) and with a signature */

    ngx_http_llmgw_unit_b64url(pool, (u_char *) "{\"alg\":\"none\"}", 14,
                               &h);
    ngx_http_llmgw_unit_b64url(pool, (u_char *) payload, ngx_strlen(payload),
                               &b);

    p = ngx_snprintf(buf, sizeof(buf), "%V.%V.%Z", &h, &b);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused((char *) buf,
                                                     "malformed token"),
                         "alg none without signature refused");

    p = ngx_snprintf(buf, sizeof(buf), "%V.%V.c2ln%Z", &h, &b);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused((char *) buf,
                                                     "unsupported alg"),
                         "alg none refused");

    /* HS256 "signed" with the RSA public key's PEM as the HMAC secret */

    ngx_http_llmgw_unit_pem_public(pool, rsa, 0, &pem);
    ngx_http_llmgw_unit_b64url(pool, (u_char *) "{\"alg\":\"HS256\"}", 15,
                               &h);

    p = ngx_snprintf(buf, sizeof(buf), "%V.%V", &h, &b);
    input.data = buf;
    input.len = p - buf;

    sig.data = ngx_pnalloc(pool, EVP_MAX_MD_SIZE);
    HMAC(EVP_sha256(), pem.data, pem.len, input.data, input.len, sig.data,
         &len);
    sig.len = len;

    ngx_http_llmgw_unit_b64url(pool, sig.data, sig.len, &sig);
    p = ngx_snprintf(p, buf + sizeof(buf) - p, ".%V%Z", &sig);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused((char *) buf,
                                                     "unsupported alg"),
                         "HS256 with the RSA public key as secret refused");

    /* and if an HS256 token were handed to the verifier as RS256 */

    token.data = buf;
    token.len = ngx_strlen(buf);

    if (ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason)
        == NGX_DECLINED)
    {
        ngx_memzero(&jws, sizeof(jws));
        jws.alg = NGX_HTTP_LLMGW_ALG_RS256;
        jws.signing_input = input;
        jws.signature.data = ngx_pnalloc(pool, 32);
        HMAC(EVP_sha256(), pem.data, pem.len, input.data, input.len,
             jws.signature.data, &len);
        jws.signature.len = len;

        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_jws_verify(&jws, algs[0].key)
                             == NGX_DECLINED,
                             "HMAC bytes as an RS256 signature refused");
    }

    /* other algs of no use here */

    NGX_HTTP_LLMGW_CHECK(
        ngx_http_llmgw_test_refused("eyJhbGciOiJIUzM4NCJ9.e30.c2ln",
                                    "unsupported alg")
        && ngx_http_llmgw_test_refused("eyJhbGciOiJFUzI1NksifQ.e30.c2ln",
                                       "unsupported alg")
        && ngx_http_llmgw_test_refused("eyJhbGciOjI1Nn0.e30.c2ln",
                                       "unsupported alg")
        && ngx_http_llmgw_test_refused("eyJ0eXAiOiJKV1QifQ.e30.c2ln",
                                       "missing alg"),
        "HS384, ES256K, a number, no alg refused");

    /* a JWK "alg" binds the key to that one algorithm */

    key = ngx_http_llmgw_test_key(rsa, "\"alg\":\"RS256\"");

    ngx_http_llmgw_unit_token(pool, rsa, NGX_HTTP_LLMGW_ALG_RS256,
                              "{\"alg\":\"RS256\"}", payload, &token);

    NGX_HTTP_LLMGW_CHECK(key != NULL
                         && key->algs == NGX_HTTP_LLMGW_ALG_BIT(
                                            NGX_HTTP_LLMGW_ALG_RS256)
                         && ngx_http_llmgw_test_verifies(&token, key),
                         "JWK alg RS256: RS256 token verifies");

    ngx_http_llmgw_unit_token(pool, rsa, NGX_HTTP_LLMGW_ALG_PS256,
                              "{\"alg\":\"PS256\"}", payload, &token);

    NGX_HTTP_LLMGW_CHECK(key != NULL
                         && !ngx_http_llmgw_test_verifies(&token, key)
                         && ngx_http_llmgw_test_verifies(&token,
                                                         algs[3].key),
                         "JWK alg RS256: a good PS256 token refused");

    ngx_http_llmgw_unit_token(pool, rsa, NGX_HTTP_LLMGW_ALG_RS384,
                              "{\"alg\":\"RS384\"}", payload, &token);

    NGX_HTTP_LLMGW_CHECK(key != NULL
                         && !ngx_http_llmgw_test_verifies(&token, key),
                         "JWK alg RS256: a good RS384 token refused");

    /* a key whose mask was widened by mistake: the type is checked too */

    forged = *algs[0].key;
    forged.algs = NGX_HTTP_LLMGW_ALGS_ALL;

    ngx_http_llmgw_unit_token(pool, ec256, NGX_HTTP_LLMGW_ALG_ES256,
                              "{\"alg\":\"ES256\"}", payload, &token);

    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_verifies(&token, &forged),
                         "ES256 token, RSA key with every alg bit: refused");

    forged = *algs[6].key;
    forged.algs = NGX_HTTP_LLMGW_ALGS_ALL;

    ngx_http_llmgw_unit_token(pool, ec384, NGX_HTTP_LLMGW_ALG_ES384,
                              "{\"alg\":\"ES384\"}", payload, &token);

    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_verifies(&token, &forged),
                         "ES384 token, P-256 key with every alg bit: refused");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason)
                         == NGX_OK
                         && ngx_http_llmgw_jws_verify(&jws, NULL)
                            == NGX_DECLINED,
                         "no key: refused");
}


static void
ngx_http_llmgw_test_ecdsa_forms(void)
{
    ngx_str_t              h, b, sig, input, token, s;
    ngx_uint_t             i, ok;
    ngx_http_llmgw_jws_t   jws;
    const char            *reason;
    u_char                 buf[1024], *p;

    static ngx_uint_t  which[] = { 6, 7, 8 };

    ok = 1;

    for (i = 0; i < 3; i++) {
        ngx_http_llmgw_alg_e  alg = algs[which[i]].alg;

        p = ngx_snprintf(buf, sizeof(buf), "{\"alg\":\"%V\"}",
                         ngx_http_llmgw_alg_name(alg));
        ngx_http_llmgw_unit_b64url(pool, buf, p - buf, &h);
        ngx_http_llmgw_unit_b64url(pool, (u_char *) payload,
                                   ngx_strlen(payload), &b);

        p = ngx_snprintf(buf, sizeof(buf), "%V.%V", &h, &b);
        input.data = ngx_pnalloc(pool, p - buf);
        input.len = p - buf;
        ngx_memcpy(input.data, buf, input.len);

        /* DER as OpenSSL makes it: the wrong form for JOSE */

        if (ngx_http_llmgw_unit_sign(pool, algs[which[i]].pkey, alg, &input,
                                     1, &sig)
            != NGX_OK)
        {
            ok = 0;
            continue;
        }

        ngx_http_llmgw_unit_b64url(pool, sig.data, sig.len, &s);
        p = ngx_snprintf(buf, sizeof(buf), "%V.%V", &input, &s);
        token.data = buf;
        token.len = p - buf;

        if (ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason) != NGX_OK
            || ngx_http_llmgw_jws_verify(&jws, algs[which[i]].key)
               != NGX_DECLINED)
        {
            printf("# DER accepted for alg %u\n", (unsigned) which[i]);
            ok = 0;
        }

        /* R || S one byte short, one byte long */

        if (ngx_http_llmgw_unit_sign(pool, algs[which[i]].pkey, alg, &input,
                                     0, &sig)
            != NGX_OK)
        {
            ok = 0;
            continue;
        }

        ngx_memzero(&jws, sizeof(jws));
        jws.alg = alg;
        jws.signing_input = input;
        jws.signature = sig;

        if (ngx_http_llmgw_jws_verify(&jws, algs[which[i]].key) != NGX_OK) {
            printf("# R || S refused for alg %u\n", (unsigned) which[i]);
            ok = 0;
        }

        jws.signature.len = sig.len - 1;

        if (ngx_http_llmgw_jws_verify(&jws, algs[which[i]].key)
            != NGX_DECLINED)
        {
            ok = 0;
        }

        jws.signature.data = ngx_pnalloc(pool, sig.len + 1);
        ngx_memcpy(jws.signature.data, sig.data, sig.len);
        jws.signature.data[sig.len] = 0;
        jws.signature.len = sig.len + 1;

        if (ngx_http_llmgw_jws_verify(&jws, algs[which[i]].key)
            != NGX_DECLINED)
        {
            ok = 0;
        }

        /* zero R and S: a classic ECDSA bypass */

        ngx_memzero(jws.signature.data, sig.len);
        jws.signature.len = sig.len;

        if (ngx_http_llmgw_jws_verify(&jws, algs[which[i]].key)
            != NGX_DECLINED)
        {
            printf("# zero R, S accepted for alg %u\n", (unsigned) which[i]);
            ok = 0;
        }

        /* R and S as large as the field allows */

        ngx_memset(jws.signature.data, 0xff, sig.len);

        if (ngx_http_llmgw_jws_verify(&jws, algs[which[i]].key)
            != NGX_DECLINED)
        {
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "ES*: DER form, wrong length, zero and "
                         "all-ones R || S refused; R || S accepted");

    /* Ed25519 and RSA signature lengths */

    ngx_http_llmgw_unit_token(pool, ed, NGX_HTTP_LLMGW_ALG_EDDSA,
                              "{\"alg\":\"EdDSA\"}", payload, &token);

    ok = ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason) == NGX_OK;

    jws.signature.len--;
    ok = ok && ngx_http_llmgw_jws_verify(&jws, algs[9].key) == NGX_DECLINED;

    ngx_http_llmgw_unit_token(pool, rsa, NGX_HTTP_LLMGW_ALG_RS256,
                              "{\"alg\":\"RS256\"}", payload, &token);

    ok = ok && ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason) == NGX_OK;

    jws.signature.len--;
    ok = ok && ngx_http_llmgw_jws_verify(&jws, algs[0].key) == NGX_DECLINED;

    NGX_HTTP_LLMGW_CHECK(ok, "EdDSA and RS256 short signatures refused");
}


/* RFC 7518 section 3.5: MGF1 with the same hash, salt as long as the hash */

static void
ngx_http_llmgw_test_pss_params(void)
{
    int                    salt[3] = { RSA_PSS_SALTLEN_MAX, 0, 32 };
    u_char                *p, buf[1024];
    size_t                 len;
    ngx_str_t              h, b, input, sig, token;
    ngx_uint_t             i, ok;
    EVP_MD_CTX            *ctx;
    EVP_PKEY_CTX          *pctx;
    const char            *reason;
    const EVP_MD          *mgf1[3];
    ngx_http_llmgw_jws_t   jws;

    mgf1[0] = EVP_sha256();
    mgf1[1] = EVP_sha256();
    mgf1[2] = EVP_sha1();

    ngx_http_llmgw_unit_b64url(pool, (u_char *) "{\"alg\":\"PS256\"}", 15,
                               &h);
    ngx_http_llmgw_unit_b64url(pool, (u_char *) payload, ngx_strlen(payload),
                               &b);

    p = ngx_snprintf(buf, sizeof(buf), "%V.%V", &h, &b);
    input.data = ngx_pnalloc(pool, p - buf);
    input.len = p - buf;
    ngx_memcpy(input.data, buf, input.len);

    ok = 1;

    for (i = 0; i < 3; i++) {
        ctx = EVP_MD_CTX_new();
        pctx = NULL;
        len = 256;
        sig.data = ngx_pnalloc(pool, len);

        if (ctx == NULL
            || EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, rsa) != 1
            || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt[i]) != 1
            || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1[i]) != 1
            || EVP_DigestSign(ctx, sig.data, &len, input.data, input.len)
               != 1)
        {
            EVP_MD_CTX_free(ctx);
            ok = 0;
            continue;
        }

        EVP_MD_CTX_free(ctx);
        sig.len = len;

        ngx_http_llmgw_unit_b64url(pool, sig.data, sig.len, &sig);
        p = ngx_snprintf(buf, sizeof(buf), "%V.%V", &input, &sig);
        token.data = buf;
        token.len = p - buf;

        if (ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason) != NGX_OK
            || ngx_http_llmgw_jws_verify(&jws, algs[3].key) != NGX_DECLINED)
        {
            printf("# PSS variant %u accepted\n", (unsigned) i);
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "PS256 with the maximum salt, no salt, or "
                         "MGF1-SHA1 refused");

    NGX_HTTP_LLMGW_CHECK(ERR_peek_error() == 0, "OpenSSL error queue empty");
}


/* every way a part can be broken base64url, in each of the three parts */

static void
ngx_http_llmgw_test_bad_base64url(void)
{
    u_char       *p, *q;
    size_t        n;
    ngx_str_t     token, part[3];
    ngx_uint_t    i, k, ok, count;
    const char   *hdr;

    static const char  *kinds[] = {
        "padding", "plus", "slash", "space", "newline", "trailing bits",
        "len % 4 == 1", "NUL"
    };

    /* header and payload padded with JSON white space so that their
     * encodings end in a partial quantum (len % 4 == 2) */

    hdr = "{\"alg\":\"RS256\"} ";

    ngx_http_llmgw_unit_token(pool, rsa, NGX_HTTP_LLMGW_ALG_RS256, hdr,
                              "{\"sub\":\"alice\"} ", &token);

    p = token.data;
    for (i = 0; i < 3; i++) {
        q = (i < 2) ? (u_char *) ngx_strlchr(p, token.data + token.len, '.')
                    : token.data + token.len;
        part[i].data = p;
        part[i].len = q - p;
        p = q + 1;
    }

    NGX_HTTP_LLMGW_CHECK(part[0].len % 4 == 2 && part[1].len % 4 == 2
                         && part[2].len % 4 == 2
                         && ngx_http_llmgw_test_verifies(&token,
                                                         algs[0].key),
                         "base64url test token is good to start with");

    count = 0;
    ok = 1;

    for (i = 0; i < 3; i++) {
        for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            u_char  buf[2048];

            /* the token with part i rewritten */

            p = buf;

            for (n = 0; n < 3; n++) {
                if (n > 0) {
                    *p++ = '.';
                }

                q = p;
                p = ngx_cpymem(p, part[n].data, part[n].len);

                if (n != i) {
                    continue;
                }

                switch (k) {
                case 0:
                    *p++ = '=';
                    *p++ = '=';
                    break;
                case 1:
                    q[1] = '+';
                    break;
                case 2:
                    q[1] = '/';
                    break;
                case 3:
                    q[3] = ' ';
                    break;
                case 4:
                    *p++ = '\n';
                    break;
                case 5:
                    /* last char of a 2-char quantum: 4 bits unused */
                    p[-1] = (p[-1] == 'A') ? 'B'
                            : (p[-1] == 'Q') ? 'R'
                            : (p[-1] == 'g') ? 'h' : 'x';
                    break;
                case 6:
                    *p++ = 'A';
                    *p++ = 'A';
                    *p++ = 'A';
                    break;
                default:
                    q[2] = '\0';
                    break;
                }
            }

            token.data = buf;
            token.len = p - buf;
            *p = '\0';

            {
                ngx_int_t              rc;
                const char            *reason;
                ngx_http_llmgw_jws_t   jws;

                reason = NULL;
                rc = ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason);

                if (rc != NGX_DECLINED || reason == NULL
                    || ngx_strcmp(reason, "invalid base64url") != 0)
                {
                    printf("# part %u, %s: rc %d, %s\n", (unsigned) i,
                           kinds[k], (int) rc, reason ? reason : "-");
                    ok = 0;
                }
            }

            count++;
        }
    }

    ngx_http_llmgw_unit_check(ok && count == 24,
                              "broken base64url refused in each part "
                              "(%u cases)", (unsigned) count);

    /* a bare trailing space after the whole token */

    ngx_http_llmgw_unit_token(pool, rsa, NGX_HTTP_LLMGW_ALG_RS256,
                              "{\"alg\":\"RS256\"}", payload, &token);
    token.data[token.len] = ' ';
    token.len++;

    {
        const char            *reason;
        ngx_http_llmgw_jws_t   jws;

        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_jws_parse(pool, &token, &jws,
                                                      &reason)
                             == NGX_DECLINED,
                             "token with a trailing space refused");
    }
}


static void
ngx_http_llmgw_test_bad_json(void)
{
    ngx_uint_t   i, ok;
    ngx_str_t    token;

    static const char  *headers[][2] = {
        { "{\"alg\":\"RS256\"", "invalid JSON" },
        { "{\"alg\":\"RS256\",}", "invalid JSON" },
        { "{\"alg\":\"RS256\"} x", "invalid JSON" },
        { "{\"alg\":\"RS256\"}{}", "invalid JSON" },
        { "{'alg':'RS256'}", "invalid JSON" },
        { "{\"alg\":\"RS\\u0000256\"}", "invalid JSON" },
        { "{\"alg\":\"RS256\",\"alg\":\"none\"}", "invalid JSON" },
        { "{\"alg\":\"RS256\",\"kid\":\"a\",\"kid\":\"b\"}", "invalid JSON" },
        { "[\"RS256\"]", "JSON is not an object" },
        { "\"RS256\"", "invalid JSON" },
        { "42", "invalid JSON" },
        { "null", "invalid JSON" },
        { "", "malformed token" },
        { "{\"alg\":\"RS256\",\"crit\":[\"exp\"],\"exp\":1}",
          "crit header not supported" },
        { "{\"alg\":\"RS256\",\"crit\":[]}", "crit header not supported" },
        { "{\"alg\":\"RS256\",\"kid\":7}", "invalid kid" },
        { "{\"alg\":\"RS256\",\"typ\":[\"JWT\"]}", "invalid typ" },
        { "{\"alg\":[\"RS256\"]}", "unsupported alg" },
        { NULL, NULL }
    };

    static const char  *payloads[][2] = {
        { "{\"sub\":\"a\"", "invalid JSON" },
        { "{\"sub\":\"a\",\"sub\":\"b\"}", "invalid JSON" },
        { "{\"sub\":\"a\"}}", "invalid JSON" },
        { "[]", "JSON is not an object" },
        { "[{\"sub\":\"a\"}]", "JSON is not an object" },
        { "\"sub\"", "invalid JSON" },
        { "true", "invalid JSON" },
        { "{\"a\":\"\\ud800\"}", "invalid JSON" },
        { "{\"a\":\"\xc3\x28\"}", "invalid JSON" },
        { "", "malformed token" },
        { NULL, NULL }
    };

    ok = 1;

    for (i = 0; headers[i][0] != NULL; i++) {
        if (ngx_http_llmgw_unit_token(pool, rsa, NGX_HTTP_LLMGW_ALG_RS256,
                                      headers[i][0], payload, &token)
            != NGX_OK
            || !ngx_http_llmgw_test_refused((char *) token.data,
                                            headers[i][1]))
        {
            printf("# header %s\n", headers[i][0]);
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "broken, non-object, duplicate-key, crit "
                         "headers refused with their reasons");

    ok = 1;

    for (i = 0; payloads[i][0] != NULL; i++) {
        if (ngx_http_llmgw_unit_token(pool, rsa, NGX_HTTP_LLMGW_ALG_RS256,
                                      "{\"alg\":\"RS256\"}", payloads[i][0],
                                      &token)
            != NGX_OK
            || !ngx_http_llmgw_test_refused((char *) token.data,
                                            payloads[i][1]))
        {
            printf("# payload %s\n", payloads[i][0]);
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "broken, non-object, duplicate-key payloads "
                         "refused with their reasons");
}


static void
ngx_http_llmgw_test_structure(void)
{
    u_char                *big;
    size_t                 n;
    ngx_str_t              token, t;
    ngx_uint_t             i, ok;
    const char            *reason;
    ngx_http_llmgw_jws_t   jws;

    static const char  *bad[] = {
        "", ".", "..", "...", "a", "a.b", "a.b.c.d", "a.b.c.", ".a.b.c",
        "eyJhbGciOiJSUzI1NiJ9..c2ln", ".e30.c2ln", "eyJhbGciOiJSUzI1NiJ9.e30.",
        "eyJhbGciOiJSUzI1NiJ9.e30", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln.c2ln",
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln.", NULL
    };

    ok = 1;

    for (i = 0; bad[i] != NULL; i++) {
        if (!ngx_http_llmgw_test_refused(bad[i], "malformed token")) {
            printf("# \"%s\"\n", bad[i]);
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "0, 1, 2 and 4 parts, empty parts refused");

    /* JWE-like five parts */

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_refused(
                             "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d",
                             "malformed token"),
                         "five parts (JWE) refused");

    /* oversized: a good signature over a 70 KB payload */

    n = 70 * 1024;
    big = ngx_pnalloc(pool, n + 32);
    ngx_memcpy(big, "{\"pad\":\"", 8);
    ngx_memset(big + 8, 'x', n);
    ngx_memcpy(big + 8 + n, "\"}", 3);

    ok = ngx_http_llmgw_unit_token(pool, rsa, NGX_HTTP_LLMGW_ALG_RS256,
                                   "{\"alg\":\"RS256\"}", (char *) big, &token)
         == NGX_OK
         && token.len > NGX_HTTP_LLMGW_JWS_MAX_LEN
         && ngx_http_llmgw_test_refused((char *) token.data,
                                        "token too long");

    NGX_HTTP_LLMGW_CHECK(ok, "token longer than 64 KB refused");

    /* just under the limit: parsed and verified */

    n = 47 * 1024;
    ngx_memcpy(big + 8 + n, "\"}", 3);

    ok = ngx_http_llmgw_unit_token(pool, rsa, NGX_HTTP_LLMGW_ALG_RS256,
                                   "{\"alg\":\"RS256\"}", (char *) big, &token)
         == NGX_OK
         && token.len <= NGX_HTTP_LLMGW_JWS_MAX_LEN
         && token.len > NGX_HTTP_LLMGW_JWS_MAX_LEN - 2048
         && ngx_http_llmgw_test_verifies(&token, algs[0].key);

    NGX_HTTP_LLMGW_CHECK(ok, "token just under 64 KB accepted");

    /* a token inside a larger buffer: only token->len bytes are read */

    ngx_http_llmgw_unit_token(pool, rsa, NGX_HTTP_LLMGW_ALG_RS256,
                              "{\"alg\":\"RS256\"}", payload, &token);

    t.data = ngx_pnalloc(pool, token.len + 10);
    ngx_memcpy(t.data, token.data, token.len);
    ngx_memcpy(t.data + token.len, ".xx.yy", 6);
    t.len = token.len;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_jws_parse(pool, &t, &jws, &reason)
                         == NGX_OK
                         && ngx_http_llmgw_jws_verify(&jws, algs[0].key)
                            == NGX_OK,
                         "token not NUL-terminated, bytes after it ignored");

    /* jku, x5u, jwk, x5c never find a key: the attacker's own key here */

    {
        u_char      hdr[4096], *p;
        ngx_str_t   jwk;

        ngx_http_llmgw_unit_jwk(pool, other, NULL, &jwk);

        p = ngx_snprintf(hdr, sizeof(hdr) - 1,
                         "{\"alg\":\"RS256\",\"jku\":\"http://127.0.0.1:1/k\","
                         "\"x5u\":\"http://127.0.0.1:1/c\",\"x5c\":[\"MII\"],"
                         "\"jwk\":%V}", &jwk);
        *p = '\0';

        ok = ngx_http_llmgw_unit_token(pool, other, NGX_HTTP_LLMGW_ALG_RS256,
                                       (char *) hdr, payload, &token)
             == NGX_OK
             && ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason)
                == NGX_OK
             && ngx_http_llmgw_jws_verify(&jws, algs[0].key) == NGX_DECLINED;

        NGX_HTTP_LLMGW_CHECK(ok, "embedded jwk/jku/x5u/x5c ignored: token "
                             "signed by the embedded key refused");
    }
}


static void
ngx_http_llmgw_test_kid(void)
{
    ngx_str_t              token;
    ngx_uint_t             next, ok;
    const char            *reason;
    ngx_http_llmgw_jws_t   jws;

    static const char  *hdrs[] = {
        "{\"alg\":\"RS256\",\"kid\":\"../../../../etc/passwd\"}",
        "{\"alg\":\"RS256\",\"kid\":\"a\\\"b' OR 1=1 --\"}",
        "{\"alg\":\"RS256\",\"kid\":\"/dev/zero\"}",
        "{\"alg\":\"RS256\",\"kid\":\"%00%2e%2e\"}",
        "{\"alg\":\"RS256\",\"kid\":\"\"}",
        NULL
    };

    ngx_uint_t  i;

    ok = 1;

    for (i = 0; hdrs[i] != NULL; i++) {
        if (ngx_http_llmgw_unit_token(pool, rsa, NGX_HTTP_LLMGW_ALG_RS256,
                                      hdrs[i], payload, &token)
            != NGX_OK
            || ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason)
               != NGX_OK)
        {
            ok = 0;
            continue;
        }

        next = 0;

        /* keys of the test all have kids "k-..." or none */

        if (jws.kid.len) {
            if (ngx_http_llmgw_keys_next(keys, &jws.kid, jws.alg, &next)
                != NULL)
            {
                printf("# kid %s found a key\n", hdrs[i]);
                ok = 0;
            }

        } else if (ngx_http_llmgw_keys_next(keys, &jws.kid, jws.alg, &next)
                   == NULL)
        {
            /* "kid":"" is no kid: the no-kid RSA key of the set */
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "kid with ../, quotes, paths: opaque, no match");

    ngx_http_llmgw_unit_token(pool, rsa, NGX_HTTP_LLMGW_ALG_RS256,
                              "{\"alg\":\"RS256\",\"kid\":\"k-RS256\"}",
                              payload, &token);

    next = 0;

    ok = ngx_http_llmgw_jws_parse(pool, &token, &jws, &reason) == NGX_OK
         && ngx_http_llmgw_keys_next(keys, &jws.kid, jws.alg, &next)
            == algs[0].key
         && ngx_http_llmgw_jws_verify(&jws, algs[0].key) == NGX_OK;

    NGX_HTTP_LLMGW_CHECK(ok, "kid k-RS256 selects its key, which verifies");
}


static void
ngx_http_llmgw_test_libjwt(void)
{
    int                    rc;
    char                  *out, *t;
    jwt_t                 *jwt, *dec;
    ngx_str_t              priv, pub, token;
    ngx_uint_t             i;
    jwt_alg_t              jalg[2] = { JWT_ALG_RS256, JWT_ALG_ES256 };
    EVP_PKEY              *pk[2];
    ngx_http_llmgw_key_t  *key[2];

    pk[0] = rsa;
    pk[1] = ec256;
    key[0] = algs[0].key;
    key[1] = algs[6].key;

    for (i = 0; i < 2; i++) {
        const char  *name = i ? "ES256" : "RS256";

        if (ngx_http_llmgw_unit_pem_private(pool, pk[i], &priv) != NGX_OK
            || ngx_http_llmgw_unit_pem_public(pool, pk[i], 0, &pub)
               != NGX_OK
            || jwt_new(&jwt) != 0)
        {
            ngx_http_llmgw_unit_check(0, "libjwt %s setup", name);
            continue;
        }

        jwt_add_grant(jwt, "sub", "alice");
        jwt_add_grant_int(jwt, "exp", 4102444800);

        rc = jwt_set_alg(jwt, jalg[i], priv.data, priv.len);
        out = (rc == 0) ? jwt_encode_str(jwt) : NULL;
        jwt_free(jwt);

        ngx_explicit_memzero(priv.data, priv.len);

        if (out == NULL) {
            ngx_http_llmgw_unit_check(0, "libjwt signs %s", name);
            continue;
        }

        token.len = ngx_strlen(out);
        token.data = (u_char *) out;

        ngx_http_llmgw_unit_check(ngx_http_llmgw_test_verifies(&token, key[i]),
                                  "a %s token libjwt signs verifies", name);

        /* libjwt's own verdicts: good, then tampered */

        dec = NULL;
        rc = jwt_decode(&dec, out, pub.data, pub.len);
        jwt_free(dec);

        ngx_http_llmgw_unit_check(rc == 0, "libjwt verifies its %s token",
                                  name);

        t = strdup(out);
        if (t == NULL) {
            free(out);
            continue;
        }

        /* the payload changed */

        {
            u_char  *dot1, *dot2;
            size_t   k;

            dot1 = (u_char *) ngx_strchr(t, '.');
            dot2 = (u_char *) ngx_strchr(dot1 + 1, '.');
            k = dot2 - dot1 - 1;

            /* a middle character of the payload */

            dot1[1 + k / 2] = (dot1[1 + k / 2] == 'A') ? 'B' : 'A';
        }

        dec = NULL;
        rc = jwt_decode(&dec, t, pub.data, pub.len);
        jwt_free(dec);

        token.data = (u_char *) t;

        ngx_http_llmgw_unit_check(rc != 0
                                  && !ngx_http_llmgw_test_verifies(&token,
                                                                   key[i]),
                                  "a %s token libjwt rejects as tampered "
                                  "is refused", name);

        /* the signature tampered with */

        ngx_memcpy(t, out, token.len);
        t[token.len - 3] = (t[token.len - 3] == 'A') ? 'B' : 'A';

        dec = NULL;
        rc = jwt_decode(&dec, t, pub.data, pub.len);
        jwt_free(dec);

        ngx_http_llmgw_unit_check(rc != 0
                                  && !ngx_http_llmgw_test_verifies(&token,
                                                                   key[i]),
                                  "a %s token with a signature libjwt "
                                  "rejects is refused", name);

        free(t);
        free(out);
    }
}


/*
 * Verification prepared once per key and algorithm: the contexts made for
 * exactly the key's algs, the signature length, contexts that survive any
 * number of verifications (good and bad, in any order), and keys that do
 * not fit their algs refused at preparation.
 */

static void
ngx_http_llmgw_test_prepared(void)
{
    u_char                *p;
    size_t                 want;
    ngx_int_t              rc;
    ngx_str_t              token, bad;
    ngx_uint_t             i, j, n, ok, fits;
    ngx_http_llmgw_key_t   k;

    static size_t  lens[NGX_HTTP_LLMGW_ALG_COUNT] = {
        256, 256, 256, 256, 256, 256, 64, 96, 132, 64
    };

    static struct {
        EVP_PKEY     **pkey;
        ngx_uint_t     algs;
        ngx_uint_t     fits;
    } cases[] = {
        { &rsa, NGX_HTTP_LLMGW_ALGS_RSA, 1 },
        { &rsa, NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES256), 0 },
        { &rsa, NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_EDDSA), 0 },
        { &rsa, NGX_HTTP_LLMGW_ALGS_RSA
                | NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES256), 0 },
        { &rsa, 0, 0 },
        { &ec256, NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES256), 1 },
        { &ec256, NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES384), 0 },
        { &ec256, NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_RS256), 0 },
        { &ec521, NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES512), 1 },
        { &ed, NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_EDDSA), 1 },
        { &ed, NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_PS256), 0 },
        { &ed, NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES256), 0 }
    };

    ok = 1;

    for (i = 0; i < NGX_HTTP_LLMGW_ALG_COUNT; i++) {
        k = *algs[i].key;

        for (j = 0; j < NGX_HTTP_LLMGW_ALG_COUNT; j++) {
            want = (k.algs & NGX_HTTP_LLMGW_ALG_BIT(j))
                   && j != NGX_HTTP_LLMGW_ALG_EDDSA;

            if ((k.verify[j] != NULL) != want) {
                printf("# key for alg %u: context for alg %u\n",
                       (unsigned) i, (unsigned) j);
                ok = 0;
            }
        }

        if ((k.eddsa != NULL) != (i == NGX_HTTP_LLMGW_ALG_EDDSA)
            || k.sig_len != lens[i])
        {
            printf("# key for alg %u: eddsa context or sig_len %u\n",
                   (unsigned) i, (unsigned) k.sig_len);
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "a context per alg of the key, no other; "
                         "signature length of the key");

    /* the same contexts, many times, good and bad signatures interleaved */

    ok = 1;

    for (i = 0; i < NGX_HTTP_LLMGW_ALG_COUNT; i++) {
        p = ngx_pnalloc(pool, 64);
        ngx_sprintf(p, "{\"alg\":\"%V\"}%Z",
                    ngx_http_llmgw_alg_name(algs[i].alg));

        if (ngx_http_llmgw_unit_token(pool, algs[i].pkey, algs[i].alg,
                                      (char *) p, payload, &token)
            != NGX_OK)
        {
            ok = 0;
            continue;
        }

        bad.len = token.len;
        bad.data = ngx_pnalloc(pool, token.len);
        ngx_memcpy(bad.data, token.data, token.len);

        /* a different last signature character: a different signature */
        bad.data[bad.len - 2] = (bad.data[bad.len - 2] == 'A') ? 'B' : 'A';

        n = 0;

        for (j = 0; j < 6; j++) {
            n += ngx_http_llmgw_test_verifies(&token, algs[i].key);
            n += !ngx_http_llmgw_test_verifies(&bad, algs[i].key);
        }

        if (n != 12) {
            printf("# alg %u: %u of 12 right\n", (unsigned) i, (unsigned) n);
            ok = 0;
        }

        /* without its prepared context, or of another length: refused */

        k = *algs[i].key;

        if (i == NGX_HTTP_LLMGW_ALG_EDDSA) {
            k.eddsa = NULL;

        } else {
            k.verify[i] = NULL;
        }

        if (ngx_http_llmgw_test_verifies(&token, &k)) {
            printf("# alg %u: verified without a context\n", (unsigned) i);
            ok = 0;
        }

        k = *algs[i].key;
        k.sig_len++;

        if (ngx_http_llmgw_test_verifies(&token, &k)) {
            printf("# alg %u: verified with sig_len off\n", (unsigned) i);
            ok = 0;
        }

        if (ERR_peek_error() != 0) {
            printf("# alg %u: OpenSSL error queue not empty\n", (unsigned) i);
            ERR_clear_error();
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "prepared contexts verify again and again, "
                         "good and bad signatures interleaved; none, or a "
                         "wrong signature length, refuses (all algs)");

    /* preparation refuses a key whose algs its type does not fit */

    ok = 1;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ngx_memzero(&k, sizeof(ngx_http_llmgw_key_t));
        k.pkey = *cases[i].pkey;
        k.algs = cases[i].algs;

        rc = ngx_http_llmgw_jws_prepare(pool, &k);
        fits = (rc == NGX_OK);

        if (fits != cases[i].fits || (!fits && rc != NGX_DECLINED)
            || (!fits && k.sig_len != 0)
            || ERR_peek_error() != 0)
        {
            printf("# case %u: rc %d\n", (unsigned) i, (int) rc);
            ok = 0;
        }
    }

    NGX_HTTP_LLMGW_CHECK(ok, "preparation refuses a key its algs do not fit");
}


static void
ngx_http_llmgw_test_sha256(void)
{
    u_char      out[NGX_HTTP_LLMGW_SHA256_LEN], hex[65];
    ngx_uint_t  ok;

    /* FIPS 180-2 appendix B.1, and the empty message */

    ok = (ngx_http_llmgw_sha256((u_char *) "abc", 3, out) == NGX_OK);
    *ngx_hex_dump(hex, out, sizeof(out)) = '\0';

    ok = ok && ngx_strcmp(hex, "ba7816bf8f01cfea414140de5dae2223"
                               "b00361a396177a9cb410ff61f20015ad") == 0;

    ok = ok && ngx_http_llmgw_sha256((u_char *) "", 0, out) == NGX_OK;
    *ngx_hex_dump(hex, out, sizeof(out)) = '\0';

    ok = ok && ngx_strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb924"
                               "27ae41e4649b934ca495991b7852b855") == 0;

    NGX_HTTP_LLMGW_CHECK(ok, "SHA-256 of \"abc\" and of \"\"");
}


int
main(void)
{
    int         rc;
    ngx_uint_t  i;
    u_char      extra[64];

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    pool = ngx_create_pool(16384, &ngx_http_llmgw_unit_log);
    keys = ngx_array_create(pool, 64, sizeof(ngx_http_llmgw_key_t));

    rsa = ngx_http_llmgw_unit_keygen("RSA", 2048, NULL);
    other = ngx_http_llmgw_unit_keygen("RSA", 2048, NULL);
    ec256 = ngx_http_llmgw_unit_keygen("EC", 0, "P-256");
    ec384 = ngx_http_llmgw_unit_keygen("EC", 0, "P-384");
    ec521 = ngx_http_llmgw_unit_keygen("EC", 0, "P-521");
    ed = ngx_http_llmgw_unit_keygen("ED25519", 0, NULL);

    if (pool == NULL || keys == NULL || rsa == NULL || other == NULL
        || ec256 == NULL || ec384 == NULL || ec521 == NULL || ed == NULL)
    {
        NGX_HTTP_LLMGW_CHECK(0, "keys generated");
        return ngx_http_llmgw_unit_done();
    }

    /* one key of ours per alg, with kid "k-<alg>", from its JWK */

    for (i = 0; i < NGX_HTTP_LLMGW_ALG_COUNT; i++) {
        algs[i].alg = i;
        algs[i].pkey = (i < 6) ? rsa : (i == 6) ? ec256 : (i == 7) ? ec384
                       : (i == 8) ? ec521 : ed;

        ngx_sprintf(extra, "\"kid\":\"k-%V\"%Z", ngx_http_llmgw_alg_name(i));

        algs[i].key = ngx_http_llmgw_test_key(algs[i].pkey, (char *) extra);

        if (algs[i].key == NULL) {
            NGX_HTTP_LLMGW_CHECK(0, "key from JWK");
            return ngx_http_llmgw_unit_done();
        }
    }

    /* keys of each kind that sign nothing the tests verify */

    others[0] = other;
    others[1] = ngx_http_llmgw_unit_keygen("EC", 0, "P-256");
    others[2] = ngx_http_llmgw_unit_keygen("EC", 0, "P-384");
    others[3] = ngx_http_llmgw_unit_keygen("EC", 0, "P-521");
    others[4] = ngx_http_llmgw_unit_keygen("ED25519", 0, NULL);

    for (i = 0; i < 5; i++) {
        other_keys[i] = (others[i] != NULL)
                        ? ngx_http_llmgw_test_key(others[i], "\"kid\":\"o\"")
                        : NULL;
        if (other_keys[i] == NULL) {
            NGX_HTTP_LLMGW_CHECK(0, "other key from JWK");
            return ngx_http_llmgw_unit_done();
        }
    }

    /* and the RSA key again without a kid */

    if (ngx_http_llmgw_test_key(rsa, NULL) == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "key from JWK");
        return ngx_http_llmgw_unit_done();
    }

    ngx_http_llmgw_test_alg_names();
    ngx_http_llmgw_test_base64url();
    ngx_http_llmgw_test_valid();
    ngx_http_llmgw_test_tampered();
    ngx_http_llmgw_test_alg_refusals();
    ngx_http_llmgw_test_ecdsa_forms();
    ngx_http_llmgw_test_pss_params();
    ngx_http_llmgw_test_bad_base64url();
    ngx_http_llmgw_test_bad_json();
    ngx_http_llmgw_test_structure();
    ngx_http_llmgw_test_kid();
    ngx_http_llmgw_test_libjwt();
    ngx_http_llmgw_test_prepared();
    ngx_http_llmgw_test_sha256();

    rc = ngx_http_llmgw_unit_done();

    ngx_destroy_pool(pool);

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(other);
    EVP_PKEY_free(others[1]);
    EVP_PKEY_free(others[2]);
    EVP_PKEY_free(others[3]);
    EVP_PKEY_free(others[4]);
    EVP_PKEY_free(ec256);
    EVP_PKEY_free(ec384);
    EVP_PKEY_free(ec521);
    EVP_PKEY_free(ed);

    ngx_http_llmgw_unit_cleanup();

    return rc;
}
