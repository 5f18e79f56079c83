/* llmgw-unit-srcs: src/ngx_http_llmgw_jws.c src/ngx_http_llmgw_jwk.c */
/* llmgw-unit-srcs: src/ngx_http_llmgw_dpop.c */
/* llmgw-unit-srcs: t/unit/ngx_http_llmgw_unit_jose.c */
/* llmgw-unit-libs: -lcrypto -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * DPoP proofs (RFC 9449): parsing, the checks against a request, RFC 7638
 * thumbprints (the RFC's own example), htu normalisation, cnf.jkt and the
 * stateless nonces, with keys made at run time.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_jws.h"
#include "ngx_http_llmgw_dpop.h"
#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_unit_jose.h"


#define NGX_HTTP_LLMGW_TEST_NOW   1800000000
#define NGX_HTTP_LLMGW_TEST_URL   "https://gw.example/v1/chat"
#define NGX_HTTP_LLMGW_TEST_TOKEN "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"
/* base64url(SHA-256(NGX_HTTP_LLMGW_TEST_TOKEN)), made in main */


static ngx_int_t ngx_http_llmgw_test_proof(EVP_PKEY *signer, EVP_PKEY *shown,
    ngx_http_llmgw_alg_e alg, const char *typ, const char *jwk_extra,
    const char *claims, ngx_str_t *proof);
static ngx_int_t ngx_http_llmgw_test_run(ngx_str_t *text, ngx_uint_t algs,
    const char **reason);
static void ngx_http_llmgw_test_thumbprint(void);
static void ngx_http_llmgw_test_normalize(void);
static void ngx_http_llmgw_test_proofs(void);
static void ngx_http_llmgw_test_token_jkt(void);
static void ngx_http_llmgw_test_nonces(void);
static void ngx_http_llmgw_test_key_table(void);


static ngx_pool_t  *pool;
static EVP_PKEY    *ec256, *ed, *rsa;
static ngx_str_t    ath;


/* a proof signed by signer, whose jwk header shows shown's public key */

static ngx_int_t
ngx_http_llmgw_test_proof(EVP_PKEY *signer, EVP_PKEY *shown,
    ngx_http_llmgw_alg_e alg, const char *typ, const char *jwk_extra,
    const char *claims, ngx_str_t *proof)
{
    u_char     *header;
    ngx_str_t   jwk;

    if (ngx_http_llmgw_unit_jwk(pool, shown, jwk_extra, &jwk) != NGX_OK) {
        return NGX_ERROR;
    }

    header = ngx_pnalloc(pool, jwk.len + 128);
    if (header == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(header, "{\"typ\":\"%s\",\"alg\":\"%V\",\"jwk\":%V}%Z", typ,
                ngx_http_llmgw_alg_name(alg), &jwk);

    return ngx_http_llmgw_unit_token(pool, signer, alg, (char *) header,
                                     claims, proof);
}


/* parse, key, verify, check against the test request: NGX_OK or why not */

static ngx_int_t
ngx_http_llmgw_test_run(ngx_str_t *text, ngx_uint_t algs,
    const char **reason)
{
    ngx_int_t                      rc;
    ngx_array_t                   *keys;
    ngx_http_llmgw_dpop_proof_t    proof;
    ngx_http_llmgw_dpop_request_t  req;

    *reason = "";

    rc = ngx_http_llmgw_dpop_parse(pool, text, algs, &proof, reason);
    if (rc != NGX_OK) {
        return rc;
    }

    keys = ngx_array_create(pool, 1, sizeof(ngx_http_llmgw_key_t));
    if (keys == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_dpop_key(pool, &proof, keys, reason);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_llmgw_dpop_verify(&proof, keys->elts) != NGX_OK) {
        *reason = "signature";
        return NGX_DECLINED;
    }

    ngx_str_set(&req.method, "POST");
    ngx_str_set(&req.url, NGX_HTTP_LLMGW_TEST_URL);
    ngx_str_set(&req.token, NGX_HTTP_LLMGW_TEST_TOKEN);
    req.now = NGX_HTTP_LLMGW_TEST_NOW;
    req.window = 60;

    return ngx_http_llmgw_dpop_check(pool, &proof, &req, reason);
}


/* RFC 7638 section 3.1's example, and refusals */

static void
ngx_http_llmgw_test_thumbprint(void)
{
    u_char       jkt[NGX_HTTP_LLMGW_DPOP_JKT_LEN];
    json_t      *jwk;
    const char  *rfc;

    rfc = "{\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAF"
          "bWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
          "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
          "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpb"
          "ISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0"
          "Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\",\"e\":\"AQAB\",\"alg\":\"RS256\""
          ",\"kid\":\"2011-04-29\"}";

    jwk = json_loads(rfc, 0, NULL);

    NGX_HTTP_LLMGW_CHECK(jwk != NULL
                         && ngx_http_llmgw_dpop_thumbprint(pool, jwk, jkt)
                            == NGX_OK
                         && ngx_strncmp(jkt, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZ"
                                        "AfHkxZsRGC9Xs",
                                        NGX_HTTP_LLMGW_DPOP_JKT_LEN) == 0,
                         "RFC 7638 example thumbprint");

    json_decref(jwk);

    jwk = json_loads("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"a\"}", 0,
                     NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_thumbprint(pool, jwk, jkt)
                         == NGX_DECLINED, "EC JWK without y: no thumbprint");

    json_decref(jwk);

    jwk = json_loads("{\"kty\":\"oct\",\"k\":\"a\"}", 0, NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_thumbprint(pool, jwk, jkt)
                         == NGX_DECLINED, "oct JWK: no thumbprint");

    json_decref(jwk);

    jwk = json_loads("{\"kty\":\"OKP\",\"crv\":\"Ed\\\"25519\",\"x\":\"a\"}",
                     0, NULL);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_thumbprint(pool, jwk, jkt)
                         == NGX_DECLINED, "a member needing escapes refused");

    json_decref(jwk);
}


static void
ngx_http_llmgw_test_normalize(void)
{
    ngx_str_t    in, out;
    ngx_uint_t   i;

    static const char  *cases[][2] = {
        { "https://gw.example/v1/chat", "https://gw.example/v1/chat" },
        { "HTTPS://GW.Example:443/v1/chat", "https://gw.example/v1/chat" },
        { "http://gw.example:80", "http://gw.example/" },
        { "http://gw.example:443/", "http://gw.example:443/" },
        { "https://gw.example:/x", "https://gw.example/x" },
        { "https://gw.example/%7e%41%2f%2F", "https://gw.example/~A%2F%2F" },
        { "https://gw.example/a?b=c#d", "https://gw.example/a" },
        { "https://[::1]:8443/a", "https://[::1]:8443/a" },
        { "https://[::1]/a", "https://[::1]/a" },
        { "ftp://gw.example/a", NULL },
        { "https:/gw.example/a", NULL },
        { "https://user@gw.example/a", NULL },
        { "https:///a", NULL },
        { "https://gw.example:99999/a", NULL },
        { "https://gw.example:8a/a", NULL },
        { "https://gw.example/%4", NULL },
        { "https://gw.example/%zz", NULL },
        { "https://gw.example/a b", NULL },
        { "", NULL },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        in.data = (u_char *) cases[i][0];
        in.len = ngx_strlen(cases[i][0]);

        if (cases[i][1] == NULL) {
            ngx_http_llmgw_unit_check(
                ngx_http_llmgw_dpop_normalize_url(pool, &in, &out)
                == NGX_DECLINED, "\"%s\" refused", cases[i][0]);
            continue;
        }

        ngx_http_llmgw_unit_check(
            ngx_http_llmgw_dpop_normalize_url(pool, &in, &out) == NGX_OK
            && out.len == ngx_strlen(cases[i][1])
            && ngx_strncmp(out.data, cases[i][1], out.len) == 0,
            "\"%s\" normalised to \"%s\"", cases[i][0], cases[i][1]);
    }
}


static void
ngx_http_llmgw_test_proofs(void)
{
    u_char       claims[512];
    ngx_str_t    text;
    ngx_uint_t   i, algs;
    const char  *reason;

    static const struct {
        const char  *claims;    /* %V: ath; %T: iat */
        const char  *reason;
    } bad[] = {
        { "{\"jti\":\"j\",\"htm\":\"GET\",\"htu\":\"" NGX_HTTP_LLMGW_TEST_URL
          "\",\"iat\":%T,\"ath\":\"%V\"}",
          "DPoP proof htm does not match the request" },
        { "{\"jti\":\"j\",\"htm\":\"post\",\"htu\":\"" NGX_HTTP_LLMGW_TEST_URL
          "\",\"iat\":%T,\"ath\":\"%V\"}",
          "DPoP proof htm does not match the request" },
        { "{\"jti\":\"j\",\"htm\":\"POST\",\"htu\":\"" NGX_HTTP_LLMGW_TEST_URL
          "?a=b\",\"iat\":%T,\"ath\":\"%V\"}",
          "DPoP proof htu has a query or fragment" },
        { "{\"jti\":\"j\",\"htm\":\"POST\",\"htu\":\"https://evil.example/v1/"
          "chat\",\"iat\":%T,\"ath\":\"%V\"}",
          "DPoP proof htu does not match the request" },
        { "{\"jti\":\"j\",\"htm\":\"POST\",\"htu\":\"" NGX_HTTP_LLMGW_TEST_URL
          "\",\"iat\":%T,\"ath\":\"%Vx\"}",
          "DPoP proof ath does not match the access token" },
        { "{\"jti\":\"j\",\"htm\":\"POST\",\"htu\":\"" NGX_HTTP_LLMGW_TEST_URL
          "\",\"iat\":%T}",
          "DPoP proof without ath" },
        { "{\"htm\":\"POST\",\"htu\":\"" NGX_HTTP_LLMGW_TEST_URL
          "\",\"iat\":%T,\"ath\":\"%V\"}",
          "DPoP proof jti missing or invalid" },
        { "{\"jti\":\"\",\"htm\":\"POST\",\"htu\":\"" NGX_HTTP_LLMGW_TEST_URL
          "\",\"iat\":%T,\"ath\":\"%V\"}",
          "DPoP proof jti missing or invalid" },
        { "{\"jti\":\"j\",\"htu\":\"" NGX_HTTP_LLMGW_TEST_URL
          "\",\"iat\":%T,\"ath\":\"%V\"}",
          "DPoP proof htm missing or invalid" },
        { "{\"jti\":\"j\",\"htm\":\"POST\",\"htu\":1,\"iat\":%T,"
          "\"ath\":\"%V\"}",
          "DPoP proof htu missing or invalid" },
        { "{\"jti\":\"j\",\"htm\":\"POST\",\"htu\":\"" NGX_HTTP_LLMGW_TEST_URL
          "\",\"iat\":\"%T\",\"ath\":\"%V\"}",
          "DPoP proof iat missing or invalid" },
        { "{\"jti\":\"j\",\"htm\":\"POST\",\"htu\":\"" NGX_HTTP_LLMGW_TEST_URL
          "\",\"iat\":%T,\"ath\":\"%V\",\"nonce\":3}",
          "DPoP proof nonce invalid" },
    };

    algs = NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_ES256)
           | NGX_HTTP_LLMGW_ALG_BIT(NGX_HTTP_LLMGW_ALG_EDDSA);

    /* a good one, ES256 and EdDSA; iat at both ends of the window */

    ngx_sprintf(claims, "{\"jti\":\"j\",\"htm\":\"POST\",\"htu\":\"HTTPS://gw"
                ".example:443/v1/ch%%61t\",\"iat\":%T,\"ath\":\"%V\"}%Z",
                (time_t) NGX_HTTP_LLMGW_TEST_NOW - 60, &ath);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_proof(ec256, ec256,
                             NGX_HTTP_LLMGW_ALG_ES256, "dpop+jwt", NULL,
                             (char *) claims, &text) == NGX_OK
                         && ngx_http_llmgw_test_run(&text, algs, &reason)
                            == NGX_OK,
                         "ES256 proof accepted");

    ngx_sprintf(claims, "{\"jti\":\"j\",\"htm\":\"POST\",\"htu\":\""
                NGX_HTTP_LLMGW_TEST_URL "\",\"iat\":%T,\"ath\":\"%V\"}%Z",
                (time_t) NGX_HTTP_LLMGW_TEST_NOW + 60, &ath);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_proof(ed, ed,
                             NGX_HTTP_LLMGW_ALG_EDDSA, "DPoP+JWT", NULL,
                             (char *) claims, &text) == NGX_OK
                         && ngx_http_llmgw_test_run(&text, algs, &reason)
                            == NGX_OK,
                         "EdDSA proof accepted");

    /* the proof's own properties */

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_proof(rsa, rsa,
                             NGX_HTTP_LLMGW_ALG_PS256, "dpop+jwt", NULL,
                             (char *) claims, &text) == NGX_OK
                         && ngx_http_llmgw_test_run(&text, algs, &reason)
                            == NGX_DECLINED
                         && ngx_strcmp(reason,
                                       "DPoP proof algorithm not allowed")
                            == 0,
                         "PS256 refused where not allowed");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_proof(ec256, ec256,
                             NGX_HTTP_LLMGW_ALG_ES256, "jwt", NULL,
                             (char *) claims, &text) == NGX_OK
                         && ngx_http_llmgw_test_run(&text, algs, &reason)
                            == NGX_DECLINED
                         && ngx_strcmp(reason,
                                       "DPoP proof typ is not dpop+jwt") == 0,
                         "typ jwt refused");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_proof(ec256, ec256,
                             NGX_HTTP_LLMGW_ALG_ES256, "dpop+jwt",
                             "\"d\":\"AAAA\"", (char *) claims, &text)
                         == NGX_OK
                         && ngx_http_llmgw_test_run(&text, algs, &reason)
                            == NGX_DECLINED
                         && ngx_strcmp(reason,
                                       "DPoP proof jwk holds a private key")
                            == 0,
                         "jwk with d refused");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_proof(ed, ec256,
                             NGX_HTTP_LLMGW_ALG_EDDSA, "dpop+jwt", NULL,
                             (char *) claims, &text) == NGX_OK
                         && ngx_http_llmgw_test_run(&text, algs, &reason)
                            == NGX_DECLINED
                         && ngx_strcmp(reason, "signature") == 0,
                         "proof not signed by its jwk refused");

    ngx_sprintf(claims, "{\"jti\":\"j\",\"htm\":\"POST\",\"htu\":\""
                NGX_HTTP_LLMGW_TEST_URL "\",\"iat\":%T,\"ath\":\"%V\"}%Z",
                (time_t) NGX_HTTP_LLMGW_TEST_NOW - 61, &ath);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_proof(ec256, ec256,
                             NGX_HTTP_LLMGW_ALG_ES256, "dpop+jwt", NULL,
                             (char *) claims, &text) == NGX_OK
                         && ngx_http_llmgw_test_run(&text, algs, &reason)
                            == NGX_DECLINED
                         && ngx_strcmp(reason, "DPoP proof iat outside the "
                                       "accepted window") == 0,
                         "iat 61 s old refused");

    ngx_str_set(&text, "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkhTMjU2In0.e30.AA");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_run(&text, algs, &reason)
                         == NGX_DECLINED
                         && ngx_strcmp(reason,
                                       "DPoP proof algorithm not allowed")
                            == 0,
                         "HS256 proof refused");

    ngx_str_set(&text, "not.a.proof");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_run(&text, algs, &reason)
                         == NGX_DECLINED
                         && ngx_strcmp(reason, "malformed DPoP proof") == 0,
                         "garbage refused");

    /* the claims, one wrong at a time */

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        *ngx_sprintf(claims, bad[i].claims, (time_t) NGX_HTTP_LLMGW_TEST_NOW,
                     &ath) = '\0';

        ngx_http_llmgw_unit_check(
            ngx_http_llmgw_test_proof(ec256, ec256, NGX_HTTP_LLMGW_ALG_ES256,
                                      "dpop+jwt", NULL, (char *) claims,
                                      &text) == NGX_OK
            && ngx_http_llmgw_test_run(&text, algs, &reason) == NGX_DECLINED
            && ngx_strcmp(reason, bad[i].reason) == 0,
            "claims %u: \"%s\"", (unsigned) i, bad[i].reason);
    }
}


static void
ngx_http_llmgw_test_token_jkt(void)
{
    json_t     *claims;
    ngx_str_t   jkt;

    claims = json_loads("{\"cnf\":{\"jkt\":\"abc\"}}", 0, NULL);
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_token_jkt(claims, &jkt) == NGX_OK
                         && jkt.len == 3
                         && ngx_strncmp(jkt.data, "abc", 3) == 0,
                         "cnf.jkt read");
    json_decref(claims);

    claims = json_loads("{\"cnf\":{\"x5t#S256\":\"abc\"}}", 0, NULL);
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_token_jkt(claims, &jkt)
                         == NGX_DECLINED, "cnf without jkt: not bound");
    json_decref(claims);

    claims = json_loads("{\"sub\":\"a\"}", 0, NULL);
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_token_jkt(claims, &jkt)
                         == NGX_DECLINED, "no cnf: not bound");
    json_decref(claims);

    claims = json_loads("{\"cnf\":\"abc\"}", 0, NULL);
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_token_jkt(claims, &jkt)
                         == NGX_ERROR, "cnf not an object: error");
    json_decref(claims);

    claims = json_loads("{\"cnf\":{\"jkt\":1}}", 0, NULL);
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_token_jkt(claims, &jkt)
                         == NGX_ERROR, "cnf.jkt not a string: error");
    json_decref(claims);
}


static void
ngx_http_llmgw_test_nonces(void)
{
    u_char     key[NGX_HTTP_LLMGW_DPOP_NONCE_KEY_LEN];
    u_char     other[NGX_HTTP_LLMGW_DPOP_NONCE_KEY_LEN];
    u_char     buf[NGX_HTTP_LLMGW_DPOP_NONCE_LEN];
    time_t     now;
    ngx_str_t  nonce;

    ngx_memset(key, 'k', sizeof(key));
    ngx_memset(other, 'o', sizeof(other));

    now = NGX_HTTP_LLMGW_TEST_NOW;
    nonce.data = buf;
    nonce.len = sizeof(buf);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_nonce_make(key, now, 300, buf)
                         == NGX_OK, "nonce made");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_nonce_check(key, now + 1, 300,
                                                         &nonce) == NGX_OK,
                         "nonce of the current slot: OK");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_nonce_check(key, now + 300, 300,
                                                         &nonce) == NGX_DONE,
                         "nonce of the previous slot: DONE (renew)");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_nonce_check(key, now + 600, 300,
                                                         &nonce)
                         == NGX_DECLINED, "nonce two slots old: refused");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_nonce_check(key, now - 300, 300,
                                                         &nonce)
                         == NGX_DECLINED, "nonce of a future slot: refused");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_nonce_check(other, now, 300,
                                                         &nonce)
                         == NGX_DECLINED, "nonce of another key: refused");

    buf[20] = (buf[20] == 'A') ? 'B' : 'A';

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_nonce_check(key, now, 300,
                                                         &nonce)
                         == NGX_DECLINED, "altered nonce: refused");

    nonce.len--;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_dpop_nonce_check(key, now, 300,
                                                         &nonce)
                         == NGX_DECLINED, "short nonce: refused");
}


/* the process's table of proof keys: one key per thumbprint, reused */

static void
ngx_http_llmgw_test_key_table(void)
{
    u_char                        claims[256];
    ngx_str_t                     a, b;
    const char                   *reason;
    ngx_http_llmgw_key_t         *k1, *k2, *k3;
    ngx_http_llmgw_dpop_proof_t   p1, p2, p3;

    ngx_sprintf(claims, "{\"jti\":\"j\",\"htm\":\"POST\",\"htu\":\""
                NGX_HTTP_LLMGW_TEST_URL "\",\"iat\":1,\"ath\":\"x\"}%Z");

    k1 = k2 = k3 = NULL;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_proof(ec256, ec256,
                             NGX_HTTP_LLMGW_ALG_ES256, "dpop+jwt", NULL,
                             (char *) claims, &a) == NGX_OK
                         && ngx_http_llmgw_test_proof(ec256, ec256,
                                NGX_HTTP_LLMGW_ALG_ES256, "dpop+jwt",
                                "\"alg\":\"ES384\",\"use\":\"enc\"",
                                (char *) claims, &b) == NGX_OK
                         && ngx_http_llmgw_dpop_parse(pool, &a,
                                NGX_HTTP_LLMGW_ALGS_ALL, &p1, &reason)
                            == NGX_OK
                         && ngx_http_llmgw_dpop_parse(pool, &b,
                                NGX_HTTP_LLMGW_ALGS_ALL, &p2, &reason)
                            == NGX_OK
                         && ngx_http_llmgw_dpop_key_cached(&p2,
                                &ngx_http_llmgw_unit_log, &k2, &reason)
                            == NGX_OK
                         && ngx_http_llmgw_dpop_key_cached(&p1,
                                &ngx_http_llmgw_unit_log, &k1, &reason)
                            == NGX_OK
                         && k1 == k2
                         && ngx_http_llmgw_dpop_verify(&p1, k1) == NGX_OK,
                         "a key made once, whatever alg and use the first "
                         "jwk said, and reused");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_proof(ed, ed,
                             NGX_HTTP_LLMGW_ALG_EDDSA, "dpop+jwt", NULL,
                             (char *) claims, &a) == NGX_OK
                         && ngx_http_llmgw_dpop_parse(pool, &a,
                                NGX_HTTP_LLMGW_ALGS_ALL, &p3, &reason)
                            == NGX_OK
                         && ngx_http_llmgw_dpop_key_cached(&p3,
                                &ngx_http_llmgw_unit_log, &k3, &reason)
                            == NGX_OK
                         && k3 != k1
                         && ngx_http_llmgw_dpop_verify(&p3, k3) == NGX_OK
                         && ngx_http_llmgw_dpop_verify(&p1, k3)
                            == NGX_DECLINED,
                         "another key: its own entry");

    ngx_http_llmgw_dpop_keys_cleanup();
}


int
main(void)
{
    int        rc;
    u_char     hash[NGX_HTTP_LLMGW_SHA256_LEN];
    ngx_str_t  token;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    pool = ngx_create_pool(16384, &ngx_http_llmgw_unit_log);

    ec256 = ngx_http_llmgw_unit_keygen("EC", 0, "P-256");
    ed = ngx_http_llmgw_unit_keygen("ED25519", 0, NULL);
    rsa = ngx_http_llmgw_unit_keygen("RSA", 2048, NULL);

    ngx_str_set(&token, NGX_HTTP_LLMGW_TEST_TOKEN);

    if (pool == NULL || ec256 == NULL || ed == NULL || rsa == NULL
        || ngx_http_llmgw_sha256(token.data, token.len, hash) != NGX_OK
        || ngx_http_llmgw_unit_b64url(pool, hash, sizeof(hash), &ath)
           != NGX_OK)
    {
        NGX_HTTP_LLMGW_CHECK(0, "set up");
        return ngx_http_llmgw_unit_done();
    }

    ngx_http_llmgw_test_thumbprint();
    ngx_http_llmgw_test_normalize();
    ngx_http_llmgw_test_proofs();
    ngx_http_llmgw_test_token_jkt();
    ngx_http_llmgw_test_nonces();
    ngx_http_llmgw_test_key_table();

    rc = ngx_http_llmgw_unit_done();

    ngx_destroy_pool(pool);

    EVP_PKEY_free(ec256);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(rsa);

    ngx_http_llmgw_jws_cleanup();
    ngx_http_llmgw_unit_cleanup();

    return rc;
}
