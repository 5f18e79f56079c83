
/*
 * Copyright (C) llmgw authors
 *
 * Certificate-bound access tokens (RFC 8705 section 3), see
 * ngx_http_llmgw_mtls.h.  The thumbprint is SHA-256 over the DER
 * certificate (nginx's $ssl_client_fingerprint is SHA-1 and cannot serve).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ngx_http_llmgw_mtls.h"
#include "ngx_http_llmgw_jws.h"


/* the thumbprint of a connection's peer certificate, kept with its SSL */

typedef struct {
    X509                          *cert;     /* compared, never used */
    u_char                         tp[NGX_HTTP_LLMGW_SHA256_LEN];
} ngx_http_llmgw_mtls_memo_t;


static ngx_int_t ngx_http_llmgw_mtls_base64(ngx_pool_t *pool, u_char *p,
    u_char *last, ngx_str_t *der);
static void ngx_http_llmgw_mtls_memo_free(void *parent, void *ptr,
    CRYPTO_EX_DATA *ad, int idx, long argl, void *argp);


/* the SSL ex_data index of the memo; -1 until ngx_http_llmgw_mtls_init */
static int  ngx_http_llmgw_mtls_index = -1;


ngx_int_t
ngx_http_llmgw_mtls_client_cert_parse(ngx_pool_t *pool, ngx_str_t *value,
    ngx_str_t *der, const char **reason)
{
    u_char               *p, *last, *colon;
    X509                 *x;
    ngx_int_t             rc;
    const unsigned char  *d;

    if (value->len > NGX_HTTP_LLMGW_MTLS_HEADER_MAX) {
        *reason = "Client-Cert header too large";
        return NGX_DECLINED;
    }

    p = value->data;
    last = p + value->len;

    /* RFC 8941 section 4.2: spaces before and after the item */

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    if (last - p < 2 || *p != ':' || last[-1] != ':') {
        *reason = "Client-Cert header is not a byte sequence";
        return NGX_DECLINED;
    }

    p++;
    last--;

    colon = ngx_strlchr(p, last, ':');

    if (colon != NULL) {
        /* a second byte sequence, or parameters after the first */
        *reason = "Client-Cert header is not a single byte sequence";
        return NGX_DECLINED;
    }

    rc = ngx_http_llmgw_mtls_base64(pool, p, last, der);

    if (rc != NGX_OK) {
        if (rc == NGX_DECLINED) {
            *reason = "Client-Cert header is not valid base64";
        }

        return rc;
    }

    d = der->data;
    x = d2i_X509(NULL, &d, (long) der->len);

    if (x == NULL) {
        ERR_clear_error();
        *reason = "Client-Cert header is not an X.509 certificate";
        return NGX_DECLINED;
    }

    X509_free(x);

    if (d != der->data + der->len) {
        *reason = "Client-Cert header has bytes after the certificate";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * RFC 8941 section 4.2.7: A-Z a-z 0-9 + / and "=" only; padding may be
 * absent (synthesized), and if present only at the end, making a
 * multiple of four.  An empty sequence is no certificate.
 */

static ngx_int_t
ngx_http_llmgw_mtls_base64(ngx_pool_t *pool, u_char *p, u_char *last,
    ngx_str_t *der)
{
    u_char     *q, *end;
    size_t      pad;
    ngx_str_t   src;

    for (q = p; q < last && *q != '='; q++) {
        if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z')
              || (*q >= '0' && *q <= '9') || *q == '+' || *q == '/'))
        {
            return NGX_DECLINED;
        }
    }

    end = q;
    pad = last - end;

    for ( /* void */ ; q < last; q++) {
        if (*q != '=') {
            return NGX_DECLINED;
        }
    }

    if (end == p || pad > 2 || (end - p) % 4 == 1
        || (pad && ((end - p) + pad) % 4 != 0))
    {
        return NGX_DECLINED;
    }

    src.data = p;
    src.len = end - p;

    der->data = ngx_pnalloc(pool, ngx_base64_decoded_length(src.len));
    if (der->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64(der, &src) != NGX_OK) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_mtls_cnf_x5t(json_t *claims, u_char *tp)
{
    json_t     *cnf, *x5t;
    u_char      buf[NGX_HTTP_LLMGW_SHA256_LEN + 3];
    ngx_str_t   src, dst;

    cnf = json_object_get(claims, "cnf");

    if (cnf == NULL) {
        return NGX_DECLINED;
    }

    if (!json_is_object(cnf)) {
        return NGX_ABORT;
    }

    x5t = json_object_get(cnf, "x5t#S256");

    if (x5t == NULL) {
        return NGX_DECLINED;
    }

    /* 32 bytes are 43 base64url characters, unpadded */

    if (!json_is_string(x5t) || json_string_length(x5t) != 43) {
        return NGX_ABORT;
    }

    src.data = (u_char *) json_string_value(x5t);
    src.len = 43;
    dst.data = buf;

    if (ngx_http_llmgw_base64url_decode_strict(&dst, &src) != NGX_OK
        || dst.len != NGX_HTTP_LLMGW_SHA256_LEN)
    {
        return NGX_ABORT;
    }

    ngx_memcpy(tp, buf, NGX_HTTP_LLMGW_SHA256_LEN);

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_mtls_init(ngx_log_t *log)
{
    if (ngx_http_llmgw_mtls_index != -1) {
        return NGX_OK;
    }

    ngx_http_llmgw_mtls_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
                                            ngx_http_llmgw_mtls_memo_free);

    if (ngx_http_llmgw_mtls_index == -1) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "llmgw: SSL_get_ex_new_index() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A TLS connection's client certificate does not change (nginx refuses
 * renegotiation and asks for no post-handshake authentication); the memo
 * keeps the certificate's address all the same, and is made again for
 * another one.  It lives as long as the SSL object (freed with it by the
 * ex_data callback), so HTTP/2 streams, whose fake connections share the
 * SSL of the real one, find it too.
 */

ngx_int_t
ngx_http_llmgw_mtls_peer_thumbprint(ngx_connection_t *c, u_char *tp)
{
    int                          len;
    SSL                         *ssl;
    X509                        *cert;
    u_char                      *der, *p;
    ngx_int_t                    rc;
    ngx_http_llmgw_mtls_memo_t  *memo;

#if (NGX_SSL)

    if (c->ssl == NULL || ngx_http_llmgw_mtls_index == -1) {
        return NGX_DECLINED;
    }

    ssl = c->ssl->connection;

    cert = SSL_get0_peer_certificate(ssl);

    if (cert == NULL) {
        return NGX_DECLINED;
    }

    memo = SSL_get_ex_data(ssl, ngx_http_llmgw_mtls_index);

    if (memo != NULL && memo->cert == cert) {
        ngx_memcpy(tp, memo->tp, NGX_HTTP_LLMGW_SHA256_LEN);
        return NGX_OK;
    }

    len = i2d_X509(cert, NULL);

    if (len <= 0) {
        ERR_clear_error();
        ngx_log_error(NGX_LOG_ALERT, c->log, 0, "llmgw: i2d_X509() failed");
        return NGX_ERROR;
    }

    der = ngx_alloc(len, c->log);
    if (der == NULL) {
        return NGX_ERROR;
    }

    p = der;

    if (i2d_X509(cert, &p) != len) {
        ERR_clear_error();
        ngx_log_error(NGX_LOG_ALERT, c->log, 0, "llmgw: i2d_X509() failed");
        ngx_free(der);
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_sha256(der, len, tp);

    ngx_free(der);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (memo == NULL) {
        memo = OPENSSL_malloc(sizeof(ngx_http_llmgw_mtls_memo_t));

        if (memo == NULL || SSL_set_ex_data(ssl, ngx_http_llmgw_mtls_index,
                                            memo)
                            == 0)
        {
            /* no memo: computed again next time */
            OPENSSL_free(memo);
            return NGX_OK;
        }
    }

    memo->cert = cert;
    ngx_memcpy(memo->tp, tp, NGX_HTTP_LLMGW_SHA256_LEN);

    return NGX_OK;

#else

    return NGX_DECLINED;

#endif
}


static void
ngx_http_llmgw_mtls_memo_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
    int idx, long argl, void *argp)
{
    OPENSSL_free(ptr);
}


ngx_uint_t
ngx_http_llmgw_mtls_match(u_char *a, u_char *b)
{
    return CRYPTO_memcmp(a, b, NGX_HTTP_LLMGW_SHA256_LEN) == 0;
}
