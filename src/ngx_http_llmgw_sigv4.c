
/*
 * Copyright (C) llmgw authors
 *
 * AWS Signature Version 4, see ngx_http_llmgw_sigv4.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>

#include "ngx_http_llmgw_sigv4.h"


#define NGX_HTTP_LLMGW_SIGV4_ALGORITHM  "AWS4-HMAC-SHA256"
#define NGX_HTTP_LLMGW_SIGV4_TERMINATOR "aws4_request"
#define NGX_HTTP_LLMGW_SIGV4_UNSIGNED   "UNSIGNED-PAYLOAD"
#define NGX_HTTP_LLMGW_SIGV4_EMPTY_HASH                                       \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define NGX_HTTP_LLMGW_SIGV4_KEY_LEN    32

/* how much of a body held in a file is read at a time */
#define NGX_HTTP_LLMGW_SIGV4_READ_SIZE  16384


typedef struct {
    ngx_str_t                  name;      /* lowercased */
    ngx_str_t                  value;     /* trimmed, runs of spaces one */
} ngx_http_llmgw_sigv4_entry_t;


static ngx_int_t ngx_http_llmgw_sigv4_validate(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_req_t *req);
static ngx_uint_t ngx_http_llmgw_sigv4_is_token(ngx_str_t *s);
static ngx_uint_t ngx_http_llmgw_sigv4_is_scope_part(ngx_str_t *s,
    ngx_uint_t slash);
static ngx_uint_t ngx_http_llmgw_sigv4_is_payload_hash(ngx_str_t *s);
static size_t ngx_http_llmgw_sigv4_escape(u_char *dst, u_char *src,
    size_t len, ngx_uint_t decode);
static ngx_int_t ngx_http_llmgw_sigv4_hexval(u_char c);
static ngx_int_t ngx_http_llmgw_sigv4_uri(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_req_t *req, ngx_str_t *uri);
static ngx_int_t ngx_http_llmgw_sigv4_query(ngx_pool_t *pool,
    ngx_str_t *query, ngx_str_t *out);
static ngx_int_t ngx_http_llmgw_sigv4_cmp_pairs(const void *one,
    const void *two);
static ngx_int_t ngx_http_llmgw_sigv4_headers(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_req_t *req, ngx_str_t *amz_date,
    ngx_str_t *canonical, ngx_str_t *signed_headers);
static ngx_int_t ngx_http_llmgw_sigv4_add_entry(ngx_pool_t *pool,
    ngx_array_t *entries, ngx_str_t *name, ngx_str_t *value, ngx_uint_t own);
static ngx_uint_t ngx_http_llmgw_sigv4_is_name(ngx_str_t *name, char *lc);
static ngx_int_t ngx_http_llmgw_sigv4_cmp_entries(const void *one,
    const void *two);
static ngx_int_t ngx_http_llmgw_sigv4_cmp_str(ngx_str_t *one,
    ngx_str_t *two);
static ngx_uint_t ngx_http_llmgw_sigv4_is_space(u_char c);
static ngx_int_t ngx_http_llmgw_sigv4_sha256_hex(u_char *p, size_t len,
    u_char *hex);
static ngx_int_t ngx_http_llmgw_sigv4_hmac(u_char *key, size_t key_len,
    u_char *data, size_t len, u_char *out);
static ngx_int_t ngx_http_llmgw_sigv4_signature(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_req_t *req, ngx_str_t *amz_date, ngx_str_t *sts,
    u_char *hex);
static void ngx_http_llmgw_sigv4_hash_cleanup(void *data);


/* RFC 3986 unreserved: ALPHA DIGIT "-" "." "_" "~", a bit per byte */

static uint32_t  ngx_http_llmgw_sigv4_unreserved[] = {
    0x00000000,
    0x03ff6000,     /* "-", ".", "0" - "9" */
    0x87fffffe,     /* "A" - "Z", "_" */
    0x47fffffe,     /* "a" - "z", "~" */
    0x00000000,
    0x00000000,
    0x00000000,
    0x00000000
};


#define ngx_http_llmgw_sigv4_keep(c)                                          \
    (ngx_http_llmgw_sigv4_unreserved[(c) >> 5] & (1U << ((c) & 0x1f)))


ngx_int_t
ngx_http_llmgw_sigv4_sign(ngx_pool_t *pool, ngx_http_llmgw_sigv4_req_t *req,
    ngx_str_t *authorization, ngx_str_t *amz_date)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   creq, sts, signed_headers;
    u_char      signature[NGX_HTTP_LLMGW_SIGV4_HASH_LEN];

    if (ngx_http_llmgw_sigv4_amz_date(pool, req->now, amz_date) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_sigv4_canonical_request(pool, req, amz_date, &creq,
                                               &signed_headers)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_sigv4_string_to_sign(pool, req, amz_date, &creq, &sts)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_sigv4_signature(pool, req, amz_date, &sts, signature)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/
     * aws4_request, SignedHeaders=<names>, Signature=<hex>
     */

    len = sizeof(NGX_HTTP_LLMGW_SIGV4_ALGORITHM " Credential=") - 1
          + req->access_key.len + 1 + 8 + 1 + req->region.len + 1
          + req->service.len + 1
          + sizeof(NGX_HTTP_LLMGW_SIGV4_TERMINATOR ", SignedHeaders=") - 1
          + signed_headers.len
          + sizeof(", Signature=") - 1 + NGX_HTTP_LLMGW_SIGV4_HASH_LEN;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    authorization->data = p;

    p = ngx_cpymem(p, NGX_HTTP_LLMGW_SIGV4_ALGORITHM " Credential=",
                   sizeof(NGX_HTTP_LLMGW_SIGV4_ALGORITHM " Credential=") - 1);
    p = ngx_cpymem(p, req->access_key.data, req->access_key.len);
    *p++ = '/';
    p = ngx_cpymem(p, amz_date->data, 8);
    *p++ = '/';
    p = ngx_cpymem(p, req->region.data, req->region.len);
    *p++ = '/';
    p = ngx_cpymem(p, req->service.data, req->service.len);
    *p++ = '/';
    p = ngx_cpymem(p, NGX_HTTP_LLMGW_SIGV4_TERMINATOR ", SignedHeaders=",
                   sizeof(NGX_HTTP_LLMGW_SIGV4_TERMINATOR ", SignedHeaders=")
                   - 1);
    p = ngx_cpymem(p, signed_headers.data, signed_headers.len);
    p = ngx_cpymem(p, ", Signature=", sizeof(", Signature=") - 1);
    p = ngx_cpymem(p, signature, NGX_HTTP_LLMGW_SIGV4_HASH_LEN);

    authorization->len = p - authorization->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_sigv4_amz_date(ngx_pool_t *pool, time_t now,
    ngx_str_t *amz_date)
{
    u_char    *p;
    ngx_tm_t   tm;

    if (now < 0) {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "llmgw sigv4: negative signing time");
        return NGX_ERROR;
    }

    ngx_gmtime(now, &tm);

    if (tm.ngx_tm_year > 9999) {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "llmgw sigv4: signing time out of range");
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, NGX_HTTP_LLMGW_SIGV4_DATE_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    amz_date->data = p;
    amz_date->len = ngx_sprintf(p, "%04d%02d%02dT%02d%02d%02dZ",
                                tm.ngx_tm_year, tm.ngx_tm_mon,
                                tm.ngx_tm_mday, tm.ngx_tm_hour,
                                tm.ngx_tm_min, tm.ngx_tm_sec)
                    - p;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_sigv4_canonical_request(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_req_t *req, ngx_str_t *amz_date, ngx_str_t *creq,
    ngx_str_t *signed_headers)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   uri, query, headers, payload;

    if (ngx_http_llmgw_sigv4_validate(pool, req) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_sigv4_uri(pool, req, &uri) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_sigv4_query(pool, &req->query, &query) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_sigv4_headers(pool, req, amz_date, &headers,
                                     signed_headers)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (req->payload_hash.len) {
        payload = req->payload_hash;

    } else {
        ngx_str_set(&payload, NGX_HTTP_LLMGW_SIGV4_EMPTY_HASH);
    }

    /* canonical headers end with '\n' each, then the empty line */

    len = req->method.len + 1 + uri.len + 1 + query.len + 1 + headers.len + 1
          + signed_headers->len + 1 + payload.len;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    creq->data = p;

    p = ngx_cpymem(p, req->method.data, req->method.len);
    *p++ = '\n';
    p = ngx_cpymem(p, uri.data, uri.len);
    *p++ = '\n';

    if (query.len) {
        p = ngx_cpymem(p, query.data, query.len);
    }

    *p++ = '\n';
    p = ngx_cpymem(p, headers.data, headers.len);
    *p++ = '\n';
    p = ngx_cpymem(p, signed_headers->data, signed_headers->len);
    *p++ = '\n';
    p = ngx_cpymem(p, payload.data, payload.len);

    creq->len = p - creq->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_sigv4_string_to_sign(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_req_t *req, ngx_str_t *amz_date, ngx_str_t *creq,
    ngx_str_t *sts)
{
    u_char  *p;
    size_t   len;

    if (amz_date->len != NGX_HTTP_LLMGW_SIGV4_DATE_LEN) {
        return NGX_ERROR;
    }

    /* algorithm \n date \n scope \n hex(SHA-256(canonical request)) */

    len = sizeof(NGX_HTTP_LLMGW_SIGV4_ALGORITHM) - 1 + 1 + amz_date->len + 1
          + 8 + 1 + req->region.len + 1 + req->service.len + 1
          + sizeof(NGX_HTTP_LLMGW_SIGV4_TERMINATOR) - 1 + 1
          + NGX_HTTP_LLMGW_SIGV4_HASH_LEN;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    sts->data = p;

    p = ngx_cpymem(p, NGX_HTTP_LLMGW_SIGV4_ALGORITHM,
                   sizeof(NGX_HTTP_LLMGW_SIGV4_ALGORITHM) - 1);
    *p++ = '\n';
    p = ngx_cpymem(p, amz_date->data, amz_date->len);
    *p++ = '\n';
    p = ngx_cpymem(p, amz_date->data, 8);
    *p++ = '/';
    p = ngx_cpymem(p, req->region.data, req->region.len);
    *p++ = '/';
    p = ngx_cpymem(p, req->service.data, req->service.len);
    *p++ = '/';
    p = ngx_cpymem(p, NGX_HTTP_LLMGW_SIGV4_TERMINATOR,
                   sizeof(NGX_HTTP_LLMGW_SIGV4_TERMINATOR) - 1);
    *p++ = '\n';

    if (ngx_http_llmgw_sigv4_sha256_hex(creq->data, creq->len, p) != NGX_OK)
    {
        return NGX_ERROR;
    }

    p += NGX_HTTP_LLMGW_SIGV4_HASH_LEN;

    sts->len = p - sts->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_sigv4_validate(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_req_t *req)
{
    const char  *err;

    err = NULL;

    if (!ngx_http_llmgw_sigv4_is_token(&req->method)) {
        err = "method";

    } else if (req->path.len && req->path.data[0] != '/') {
        err = "path";

    } else if (!ngx_http_llmgw_sigv4_is_scope_part(&req->region, 0)) {
        err = "region";

    } else if (!ngx_http_llmgw_sigv4_is_scope_part(&req->service, 0)) {
        err = "service";

    } else if (!ngx_http_llmgw_sigv4_is_scope_part(&req->access_key, 0)) {
        err = "access key";

    } else if (req->secret_key.len == 0) {
        err = "secret key";

    } else if (req->session_token.len
               && !ngx_http_llmgw_sigv4_is_scope_part(&req->session_token, 1))
    {
        err = "session token";

    } else if (req->payload_hash.len
               && !ngx_http_llmgw_sigv4_is_payload_hash(&req->payload_hash))
    {
        err = "payload hash";
    }

    if (err != NULL) {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "llmgw sigv4: invalid %s", err);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* an HTTP token (RFC 9110 tchar), as a method or a header name */

static ngx_uint_t
ngx_http_llmgw_sigv4_is_token(ngx_str_t *s)
{
    u_char      c;
    ngx_uint_t  i;

    if (s->len == 0) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if ((c >= '0' && c <= '9')
            || (c >= 'a' && c <= 'z')
            || (c >= 'A' && c <= 'Z'))
        {
            continue;
        }

        switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'':
        case '*': case '+': case '-': case '.': case '^': case '_':
        case '`': case '|': case '~':
            continue;
        }

        return 0;
    }

    return 1;
}


/*
 * A part of the credential scope or a credential: visible ASCII without
 * the separators of the Authorization header, and without the scope's '/'
 * unless slash (a session token is base64 and has '/').
 */

static ngx_uint_t
ngx_http_llmgw_sigv4_is_scope_part(ngx_str_t *s, ngx_uint_t slash)
{
    u_char      c;
    ngx_uint_t  i;

    if (s->len == 0) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (c <= ' ' || c >= 0x7f || c == ',' || c == ';'
            || (c == '/' && !slash))
        {
            return 0;
        }
    }

    return 1;
}


static ngx_uint_t
ngx_http_llmgw_sigv4_is_payload_hash(ngx_str_t *s)
{
    u_char      c;
    ngx_uint_t  i;

    if (s->len == sizeof(NGX_HTTP_LLMGW_SIGV4_UNSIGNED) - 1
        && ngx_strncmp(s->data, NGX_HTTP_LLMGW_SIGV4_UNSIGNED, s->len) == 0)
    {
        return 1;
    }

    if (s->len != NGX_HTTP_LLMGW_SIGV4_HASH_LEN) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }

    return 1;
}


/*
 * URI-encodes len bytes of src into dst, or only counts when dst is NULL;
 * returns the length of the result.  With decode, a valid "%XX" of the
 * input stands for the byte it encodes.
 */

static size_t
ngx_http_llmgw_sigv4_escape(u_char *dst, u_char *src, size_t len,
    ngx_uint_t decode)
{
    u_char         c, *end;
    size_t         n;
    ngx_int_t      hi, lo;
    static u_char  hex[] = "0123456789ABCDEF";

    n = 0;
    end = src + len;

    while (src < end) {
        c = *src++;

        if (decode && c == '%' && end - src >= 2) {
            hi = ngx_http_llmgw_sigv4_hexval(src[0]);
            lo = ngx_http_llmgw_sigv4_hexval(src[1]);

            if (hi >= 0 && lo >= 0) {
                c = (u_char) ((hi << 4) | lo);
                src += 2;
            }
        }

        if (ngx_http_llmgw_sigv4_keep(c)) {
            if (dst) {
                *dst++ = c;
            }

            n++;
            continue;
        }

        if (dst) {
            *dst++ = '%';
            *dst++ = hex[c >> 4];
            *dst++ = hex[c & 0xf];
        }

        n += 3;
    }

    return n;
}


static ngx_int_t
ngx_http_llmgw_sigv4_hexval(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/*
 * The canonical URI: the path split at '/', dot segments and empty
 * segments removed when normalizing, each segment encoded.
 */

static ngx_int_t
ngx_http_llmgw_sigv4_uri(ngx_pool_t *pool, ngx_http_llmgw_sigv4_req_t *req,
    ngx_str_t *uri)
{
    u_char       *p, *s, *end;
    size_t        len;
    ngx_str_t    *seg;
    ngx_uint_t    i, trailing, decode;
    ngx_array_t   segs;

    if (req->path.len == 0) {
        ngx_str_set(uri, "/");
        return NGX_OK;
    }

    decode = req->double_encode ? 0 : 1;

    if (ngx_array_init(&segs, pool, 8, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the path starts with '/': segments follow each '/' */

    p = req->path.data + 1;
    end = req->path.data + req->path.len;

    for ( ;; ) {
        s = ngx_strlchr(p, end, '/');
        if (s == NULL) {
            s = end;
        }

        len = s - p;

        if (req->normalize_path) {

            if (len == 0 || (len == 1 && p[0] == '.')) {
                goto next;
            }

            if (len == 2 && p[0] == '.' && p[1] == '.') {
                if (segs.nelts) {
                    segs.nelts--;
                }

                goto next;
            }
        }

        seg = ngx_array_push(&segs);
        if (seg == NULL) {
            return NGX_ERROR;
        }

        seg->data = p;
        seg->len = len;

    next:

        if (s == end) {
            break;
        }

        p = s + 1;
    }

    /* with normalization, as botocore: a trailing '/' stays if any is left */

    trailing = req->normalize_path && end[-1] == '/' && segs.nelts;

    seg = segs.elts;
    len = 1 + trailing;

    for (i = 0; i < segs.nelts; i++) {
        len += (i ? 1 : 0)
               + ngx_http_llmgw_sigv4_escape(NULL, seg[i].data, seg[i].len,
                                             decode);
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    uri->data = p;

    *p++ = '/';

    for (i = 0; i < segs.nelts; i++) {
        if (i) {
            *p++ = '/';
        }

        p += ngx_http_llmgw_sigv4_escape(p, seg[i].data, seg[i].len, decode);
    }

    if (trailing) {
        *p++ = '/';
    }

    uri->len = p - uri->data;

    return NGX_OK;
}


/* the canonical query string: pairs encoded, then sorted */

static ngx_int_t
ngx_http_llmgw_sigv4_query(ngx_pool_t *pool, ngx_str_t *query, ngx_str_t *out)
{
    u_char       *p, *s, *eq, *end, *q;
    size_t        len, nlen, vlen;
    ngx_str_t    *pair;
    ngx_uint_t    i;
    ngx_array_t   pairs;

    if (query->len == 0) {
        ngx_str_null(out);
        return NGX_OK;
    }

    if (ngx_array_init(&pairs, pool, 8, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    /* each pair becomes one string "name=value", both parts encoded */

    len = 0;
    p = query->data;
    end = query->data + query->len;

    while (p < end) {
        s = ngx_strlchr(p, end, '&');
        if (s == NULL) {
            s = end;
        }

        if (s == p) {
            p = s + 1;
            continue;
        }

        eq = ngx_strlchr(p, s, '=');
        if (eq == NULL) {
            eq = s;
        }

        nlen = ngx_http_llmgw_sigv4_escape(NULL, p, eq - p, 1);
        vlen = (eq < s) ? ngx_http_llmgw_sigv4_escape(NULL, eq + 1,
                                                      s - eq - 1, 1)
                        : 0;

        q = ngx_pnalloc(pool, nlen + 1 + vlen);
        if (q == NULL) {
            return NGX_ERROR;
        }

        pair = ngx_array_push(&pairs);
        if (pair == NULL) {
            return NGX_ERROR;
        }

        pair->data = q;
        pair->len = nlen + 1 + vlen;

        q += ngx_http_llmgw_sigv4_escape(q, p, eq - p, 1);
        *q++ = '=';

        if (eq < s) {
            ngx_http_llmgw_sigv4_escape(q, eq + 1, s - eq - 1, 1);
        }

        len += (pairs.nelts > 1 ? 1 : 0) + pair->len;

        if (s == end) {
            break;
        }

        p = s + 1;
    }

    if (pairs.nelts == 0) {
        ngx_str_null(out);
        return NGX_OK;
    }

    ngx_sort(pairs.elts, pairs.nelts, sizeof(ngx_str_t),
             ngx_http_llmgw_sigv4_cmp_pairs);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    pair = pairs.elts;

    for (i = 0; i < pairs.nelts; i++) {
        if (i) {
            *p++ = '&';
        }

        p = ngx_cpymem(p, pair[i].data, pair[i].len);
    }

    out->len = p - out->data;

    return NGX_OK;
}


/*
 * Pairs sort by encoded name, then by encoded value.  The encoded name
 * holds no '=' (it would be "%3D"), so comparing the name part first and
 * then the value part is comparing ("name", "value") tuples.
 */

static ngx_int_t
ngx_http_llmgw_sigv4_cmp_pairs(const void *one, const void *two)
{
    u_char     *e1, *e2;
    ngx_int_t   rc;
    ngx_str_t   n1, n2, v1, v2;

    n1 = *(ngx_str_t *) one;
    n2 = *(ngx_str_t *) two;

    e1 = ngx_strlchr(n1.data, n1.data + n1.len, '=');
    e2 = ngx_strlchr(n2.data, n2.data + n2.len, '=');

    v1.data = e1 + 1;
    v1.len = n1.data + n1.len - v1.data;
    n1.len = e1 - n1.data;

    v2.data = e2 + 1;
    v2.len = n2.data + n2.len - v2.data;
    n2.len = e2 - n2.data;

    rc = ngx_http_llmgw_sigv4_cmp_str(&n1, &n2);
    if (rc != 0) {
        return rc;
    }

    return ngx_http_llmgw_sigv4_cmp_str(&v1, &v2);
}


/* canonical headers ("name:value\n" each) and the signed headers list */

static ngx_int_t
ngx_http_llmgw_sigv4_headers(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_req_t *req, ngx_str_t *amz_date,
    ngx_str_t *canonical, ngx_str_t *signed_headers)
{
    u_char                         *p, *q;
    size_t                          len, slen;
    ngx_str_t                       name;
    ngx_uint_t                      i, n;
    ngx_array_t                     entries;
    ngx_http_llmgw_sigv4_entry_t   *e;
    ngx_http_llmgw_sigv4_header_t  *h;

    n = req->headers ? req->headers->nelts : 0;

    if (ngx_array_init(&entries, pool, n + 2,
                       sizeof(ngx_http_llmgw_sigv4_entry_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    h = req->headers ? req->headers->elts : NULL;

    for (i = 0; i < n; i++) {
        if (ngx_http_llmgw_sigv4_add_entry(pool, &entries, &h[i].name,
                                           &h[i].value, 0)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ngx_str_set(&name, "x-amz-date");

    if (ngx_http_llmgw_sigv4_add_entry(pool, &entries, &name, amz_date, 1)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (req->session_token.len) {
        ngx_str_set(&name, "x-amz-security-token");

        if (ngx_http_llmgw_sigv4_add_entry(pool, &entries, &name,
                                           &req->session_token, 1)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* a stable sort: values of one name stay in the order given */

    ngx_sort(entries.elts, entries.nelts,
             sizeof(ngx_http_llmgw_sigv4_entry_t),
             ngx_http_llmgw_sigv4_cmp_entries);

    e = entries.elts;
    len = 0;
    slen = 0;

    for (i = 0; i < entries.nelts; i++) {
        if (i && ngx_http_llmgw_sigv4_cmp_str(&e[i].name, &e[i - 1].name)
                 == 0)
        {
            len += 1 + e[i].value.len;
            continue;
        }

        len += e[i].name.len + 1 + e[i].value.len + 1;
        slen += (slen ? 1 : 0) + e[i].name.len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    q = ngx_pnalloc(pool, slen);
    if (q == NULL) {
        return NGX_ERROR;
    }

    canonical->data = p;
    signed_headers->data = q;

    for (i = 0; i < entries.nelts; i++) {
        if (i && ngx_http_llmgw_sigv4_cmp_str(&e[i].name, &e[i - 1].name)
                 == 0)
        {
            /* replace the '\n' of the previous value */
            p[-1] = ',';
            p = ngx_cpymem(p, e[i].value.data, e[i].value.len);
            *p++ = '\n';
            continue;
        }

        p = ngx_cpymem(p, e[i].name.data, e[i].name.len);
        *p++ = ':';
        p = ngx_cpymem(p, e[i].value.data, e[i].value.len);
        *p++ = '\n';

        if (q != signed_headers->data) {
            *q++ = ';';
        }

        q = ngx_cpymem(q, e[i].name.data, e[i].name.len);
    }

    canonical->len = p - canonical->data;
    signed_headers->len = q - signed_headers->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_sigv4_add_entry(ngx_pool_t *pool, ngx_array_t *entries,
    ngx_str_t *name, ngx_str_t *value, ngx_uint_t own)
{
    u_char                        *p, *s, *end;
    ngx_uint_t                     space;
    ngx_http_llmgw_sigv4_entry_t  *e;

    if (!ngx_http_llmgw_sigv4_is_token(name)) {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "llmgw sigv4: invalid header name");
        return NGX_ERROR;
    }

    e = ngx_array_push(entries);
    if (e == NULL) {
        return NGX_ERROR;
    }

    e->name.data = ngx_pnalloc(pool, name->len);
    if (e->name.data == NULL) {
        return NGX_ERROR;
    }

    e->name.len = name->len;
    ngx_strlow(e->name.data, name->data, name->len);

    /* the signer owns these: a second value would break the signature */

    if (!own
        && (ngx_http_llmgw_sigv4_is_name(&e->name, "x-amz-date")
            || ngx_http_llmgw_sigv4_is_name(&e->name, "x-amz-security-token")
            || ngx_http_llmgw_sigv4_is_name(&e->name, "authorization")))
    {
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "llmgw sigv4: header \"%V\" is set by the signer",
                      &e->name);
        return NGX_ERROR;
    }

    /* trim, and make every run of white space one space */

    p = ngx_pnalloc(pool, value->len ? value->len : 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    e->value.data = p;
    e->value.len = 0;

    if (value->len == 0) {
        return NGX_OK;
    }

    s = value->data;
    end = value->data + value->len;
    space = 0;

    while (s < end && ngx_http_llmgw_sigv4_is_space(*s)) {
        s++;
    }

    for ( /* void */ ; s < end; s++) {

        if (ngx_http_llmgw_sigv4_is_space(*s)) {
            space = 1;
            continue;
        }

        if (*s < ' ' || *s == 0x7f) {
            ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                          "llmgw sigv4: control character in header value");
            return NGX_ERROR;
        }

        if (space) {
            *p++ = ' ';
            space = 0;
        }

        *p++ = *s;
    }

    e->value.len = p - e->value.data;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_llmgw_sigv4_is_name(ngx_str_t *name, char *lc)
{
    size_t  len;

    len = ngx_strlen(lc);

    return name->len == len && ngx_strncmp(name->data, lc, len) == 0;
}


static ngx_int_t
ngx_http_llmgw_sigv4_cmp_entries(const void *one, const void *two)
{
    ngx_http_llmgw_sigv4_entry_t  *e1, *e2;

    e1 = (ngx_http_llmgw_sigv4_entry_t *) one;
    e2 = (ngx_http_llmgw_sigv4_entry_t *) two;

    return ngx_http_llmgw_sigv4_cmp_str(&e1->name, &e2->name);
}


static ngx_int_t
ngx_http_llmgw_sigv4_cmp_str(ngx_str_t *one, ngx_str_t *two)
{
    ngx_int_t  rc;

    rc = ngx_memcmp(one->data, two->data, ngx_min(one->len, two->len));

    if (rc != 0) {
        return rc;
    }

    if (one->len == two->len) {
        return 0;
    }

    return one->len < two->len ? -1 : 1;
}


static ngx_uint_t
ngx_http_llmgw_sigv4_is_space(u_char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v'
           || c == '\f';
}


static ngx_int_t
ngx_http_llmgw_sigv4_sha256_hex(u_char *p, size_t len, u_char *hex)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  n;

    if (EVP_Digest(p, len, md, &n, EVP_sha256(), NULL) != 1
        || n != NGX_HTTP_LLMGW_SIGV4_KEY_LEN)
    {
        return NGX_ERROR;
    }

    ngx_hex_dump(hex, md, n);

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_sigv4_hmac(u_char *key, size_t key_len, u_char *data,
    size_t len, u_char *out)
{
    unsigned int  n;

    n = 0;

    if (HMAC(EVP_sha256(), key, (int) key_len, data, len, out, &n) == NULL
        || n != NGX_HTTP_LLMGW_SIGV4_KEY_LEN)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * kDate = HMAC("AWS4" + secret, date), kRegion = HMAC(kDate, region),
 * kService = HMAC(kRegion, service), kSigning = HMAC(kService,
 * "aws4_request"); the signature is hex(HMAC(kSigning, string to sign)).
 */

static ngx_int_t
ngx_http_llmgw_sigv4_signature(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_req_t *req, ngx_str_t *amz_date, ngx_str_t *sts,
    u_char *hex)
{
    u_char     *secret;
    size_t      len;
    ngx_int_t   rc;
    u_char      k1[NGX_HTTP_LLMGW_SIGV4_KEY_LEN];
    u_char      k2[NGX_HTTP_LLMGW_SIGV4_KEY_LEN];

    if (req->secret_key.len > (size_t) NGX_MAX_INT32_VALUE - 4) {
        return NGX_ERROR;
    }

    len = 4 + req->secret_key.len;

    secret = ngx_pnalloc(pool, len);
    if (secret == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(secret, "AWS4", 4);
    ngx_memcpy(secret + 4, req->secret_key.data, req->secret_key.len);

    rc = NGX_ERROR;

    if (ngx_http_llmgw_sigv4_hmac(secret, len, amz_date->data, 8, k1)
        != NGX_OK)
    {
        goto done;
    }

    if (ngx_http_llmgw_sigv4_hmac(k1, sizeof(k1), req->region.data,
                                  req->region.len, k2)
        != NGX_OK)
    {
        goto done;
    }

    if (ngx_http_llmgw_sigv4_hmac(k2, sizeof(k2), req->service.data,
                                  req->service.len, k1)
        != NGX_OK)
    {
        goto done;
    }

    if (ngx_http_llmgw_sigv4_hmac(k1, sizeof(k1),
                                  (u_char *) NGX_HTTP_LLMGW_SIGV4_TERMINATOR,
                                  sizeof(NGX_HTTP_LLMGW_SIGV4_TERMINATOR) - 1,
                                  k2)
        != NGX_OK)
    {
        goto done;
    }

    if (ngx_http_llmgw_sigv4_hmac(k2, sizeof(k2), sts->data, sts->len, k1)
        != NGX_OK)
    {
        goto done;
    }

    ngx_hex_dump(hex, k1, sizeof(k1));

    rc = NGX_OK;

done:

    OPENSSL_cleanse(secret, len);
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));

    ngx_pfree(pool, secret);

    return rc;
}


ngx_int_t
ngx_http_llmgw_sigv4_hash_init(ngx_pool_t *pool,
    ngx_http_llmgw_sigv4_hash_t *h)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    h->md = EVP_MD_CTX_new();
    if (h->md == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_llmgw_sigv4_hash_cleanup;
    cln->data = h->md;

    if (EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_sigv4_hash_update(ngx_http_llmgw_sigv4_hash_t *h, u_char *p,
    size_t len)
{
    if (len == 0) {
        return NGX_OK;
    }

    if (EVP_DigestUpdate(h->md, p, len) != 1) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_sigv4_hash_final(ngx_http_llmgw_sigv4_hash_t *h, u_char *hex)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  n;

    if (EVP_DigestFinal_ex(h->md, md, &n) != 1
        || n != NGX_HTTP_LLMGW_SIGV4_KEY_LEN)
    {
        return NGX_ERROR;
    }

    ngx_hex_dump(hex, md, n);

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_sigv4_hash_chain(ngx_pool_t *pool, ngx_chain_t *in,
    ngx_str_t *hex)
{
    u_char                       *buf;
    off_t                         offset, left;
    size_t                        size;
    ssize_t                       n;
    ngx_buf_t                    *b;
    ngx_file_t                    file;
    ngx_chain_t                  *cl;
    ngx_http_llmgw_sigv4_hash_t   h;

    if (ngx_http_llmgw_sigv4_hash_init(pool, &h) != NGX_OK) {
        return NGX_ERROR;
    }

    buf = NULL;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            if (ngx_http_llmgw_sigv4_hash_update(&h, b->pos, b->last - b->pos)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        if (!b->in_file || b->file == NULL) {
            continue;
        }

        if (buf == NULL) {
            buf = ngx_pnalloc(pool, NGX_HTTP_LLMGW_SIGV4_READ_SIZE);
            if (buf == NULL) {
                return NGX_ERROR;
            }
        }

        /* a copy: the buffer's file offset is not ours to move */

        file = *b->file;
        offset = b->file_pos;
        left = b->file_last - b->file_pos;

        while (left > 0) {
            size = (size_t) ngx_min(left, NGX_HTTP_LLMGW_SIGV4_READ_SIZE);

            n = ngx_read_file(&file, buf, size, offset);

            if (n == NGX_ERROR) {
                return NGX_ERROR;
            }

            if ((size_t) n != size) {
                ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                              "llmgw sigv4: body file \"%V\" was truncated",
                              &b->file->name);
                return NGX_ERROR;
            }

            if (ngx_http_llmgw_sigv4_hash_update(&h, buf, size) != NGX_OK) {
                return NGX_ERROR;
            }

            offset += n;
            left -= n;
        }
    }

    hex->data = ngx_pnalloc(pool, NGX_HTTP_LLMGW_SIGV4_HASH_LEN);
    if (hex->data == NULL) {
        return NGX_ERROR;
    }

    hex->len = NGX_HTTP_LLMGW_SIGV4_HASH_LEN;

    return ngx_http_llmgw_sigv4_hash_final(&h, hex->data);
}


static void
ngx_http_llmgw_sigv4_hash_cleanup(void *data)
{
    EVP_MD_CTX  *md = data;

    EVP_MD_CTX_free(md);
}
