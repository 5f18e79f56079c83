/* llmgw-fuzz-srcs: src/ngx_http_llmgw_provider.c */
/* llmgw-fuzz-libs: -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: what llmgw_pass does with a request target before
 * anything is forwarded: the path guard, the API classifier, the query
 * guard and the credential filter, and the model from the path.
 *
 * Input: a byte choosing the provider (azure_openai, bedrock, gemini,
 * openai, or none), then a request target, split at its first '?' into the
 * raw path and the raw query.
 *
 * Besides the sanitizers, what is checked:
 *
 *   - a path the guard forwards reads the same to nginx: percent-decoded
 *     it has no "." or ".." segment, no empty one but a final one, no NUL
 *     or '\'; a decoded '/' that was not sent as one only comes from
 *     Bedrock's ARN segment;
 *   - a classified path gives a kind its provider knows, and the same kind
 *     again; with a '/' or "%20" added it is unknown;
 *   - the query guard refuses exactly the queries with a space, '#',
 *     control or non-ASCII byte;
 *   - the filtered query is no longer than the query, has no empty piece
 *     when it was rebuilt (an unchanged one is the client's, a final '&'
 *     included), and filtering it again removes nothing.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <ctype.h>

#include "ngx_http_llmgw_provider.h"
#include "ngx_http_llmgw_unit.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void ngx_http_llmgw_fuzz_path(ngx_http_llmgw_provider_t *pv,
    u_char *p, size_t len);
static void ngx_http_llmgw_fuzz_api(ngx_pool_t *pool,
    ngx_http_llmgw_provider_t *pv, u_char *p, size_t len);
static void ngx_http_llmgw_fuzz_query(ngx_pool_t *pool,
    ngx_http_llmgw_provider_t *pv, u_char *p, size_t len);


static ngx_str_t  ngx_http_llmgw_fuzz_names[] = {
    ngx_string("azure_openai"),
    ngx_string("bedrock"),
    ngx_string("gemini"),
    ngx_string("openai")
};


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_http_llmgw_unit_quiet = 1;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        abort();
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                     *copy, *q;
    size_t                      len;
    ngx_uint_t                  which;
    ngx_str_t                   path, model;
    ngx_pool_t                 *pool;
    ngx_http_llmgw_provider_t  *pv;

    if (size < 1) {
        return 0;
    }

    which = data[0] % 5;
    pv = (which < 4)
         ? ngx_http_llmgw_provider_find(&ngx_http_llmgw_fuzz_names[which])
         : NULL;

    if (which < 4 && pv == NULL) {
        abort();
    }

    len = size - 1;

    /* a copy of its own, so that reading past it is caught */

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        return 0;
    }

    ngx_memcpy(copy, data + 1, len);

    pool = ngx_create_pool(1024, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        free(copy);
        return 0;
    }

    q = ngx_strlchr(copy, copy + len, '?');

    path.data = copy;
    path.len = q ? (size_t) (q - copy) : len;

    ngx_http_llmgw_fuzz_path(pv, path.data, path.len);

    if (pv) {
        ngx_http_llmgw_fuzz_api(pool, pv, path.data, path.len);

        if (ngx_http_llmgw_provider_model_from_path(pool, pv, &path, &model)
            == NGX_OK
            && (model.len == 0 || model.len > NGX_HTTP_LLMGW_MODEL_MAX))
        {
            abort();
        }
    }

    if (q) {
        ngx_http_llmgw_fuzz_query(pool, pv, q + 1, copy + len - (q + 1));
    }

    ngx_destroy_pool(pool);
    free(copy);

    return 0;
}


static void
ngx_http_llmgw_fuzz_path(ngx_http_llmgw_provider_t *pv, u_char *p,
    size_t len)
{
    u_char      *d, *last, *segment, *decoded;
    size_t       n;
    ngx_uint_t   i, encoded_slash;

    if (ngx_http_llmgw_provider_check_path(pv, p, len) != NGX_OK) {
        return;
    }

    if (len == 0 || p[0] != '/') {
        abort();
    }

    /* decoded as nginx decodes it for the location match */

    decoded = malloc(len);
    if (decoded == NULL) {
        return;
    }

    d = decoded;
    encoded_slash = 0;

    for (i = 0; i < len; i++) {
        if (p[i] == ';' || p[i] == '\\' || p[i] <= 0x20 || p[i] >= 0x7f) {
            abort();
        }

        if (p[i] == '%') {
            if (i + 2 >= len
                || !isxdigit(p[i + 1]) || !isxdigit(p[i + 2]))
            {
                abort();
            }

            *d = (u_char) ((isdigit(p[i + 1]) ? p[i + 1] - '0'
                            : (p[i + 1] | 0x20) - 'a' + 10) * 16
                           + (isdigit(p[i + 2]) ? p[i + 2] - '0'
                              : (p[i + 2] | 0x20) - 'a' + 10));

            if (*d == '/') {
                encoded_slash = 1;
            }

            if (*d == '\0' || *d == '\\' || *d == '.'
                || (pv && pv->name_stop && *d == pv->name_stop))
            {
                abort();
            }

            d++;
            i += 2;
            continue;
        }

        *d++ = p[i];
    }

    if (encoded_slash
        && (pv == NULL || pv->id != NGX_HTTP_LLMGW_PROVIDER_BEDROCK))
    {
        abort();
    }

    last = d;
    segment = decoded + 1;

    for (d = segment; ; d++) {
        if (d == last || *d == '/') {
            n = d - segment;

            if ((n == 0 && d != last)
                || (n == 1 && segment[0] == '.')
                || (n == 2 && segment[0] == '.' && segment[1] == '.'))
            {
                abort();
            }

            if (d == last) {
                break;
            }

            segment = d + 1;
        }
    }

    free(decoded);
}


static void
ngx_http_llmgw_fuzz_api(ngx_pool_t *pool, ngx_http_llmgw_provider_t *pv,
    u_char *p, size_t len)
{
    u_char     *v;
    ngx_int_t   rc;
    ngx_str_t   kind, again;

    rc = ngx_http_llmgw_provider_api(pv, p, len, &kind);

    if (rc == NGX_DECLINED) {
        if (kind.len != 0) {
            abort();
        }

        return;
    }

    if (rc != NGX_OK
        || !ngx_http_llmgw_provider_api_known(pv, &kind)
        || !ngx_http_llmgw_provider_api_known(NULL, &kind))
    {
        abort();
    }

    if (ngx_http_llmgw_provider_api(pv, p, len, &again) != NGX_OK
        || again.data != kind.data || again.len != kind.len)
    {
        abort();
    }

    v = ngx_pnalloc(pool, len + 3);
    if (v == NULL) {
        return;
    }

    ngx_memcpy(v, p, len);
    v[len] = '/';

    if (ngx_http_llmgw_provider_api(pv, v, len + 1, &again) != NGX_DECLINED) {
        abort();
    }

    ngx_memcpy(v + len, "%20", 3);

    if (ngx_http_llmgw_provider_api(pv, v, len + 3, &again) != NGX_DECLINED) {
        abort();
    }
}


static void
ngx_http_llmgw_fuzz_query(ngx_pool_t *pool, ngx_http_llmgw_provider_t *pv,
    u_char *p, size_t len)
{
    u_char                     *a, *last;
    ngx_int_t                   rc;
    ngx_str_t                   in, out, again;
    ngx_uint_t                  bad;
    ngx_http_llmgw_provider_t  *one;

    /*
     * The guard in front of the request line: it lets through exactly
     * the queries with no space, '#', control or non-ASCII byte.
     */

    rc = ngx_http_llmgw_provider_check_query(p, len);

    bad = 0;

    for (a = p; a < p + len; a++) {
        if (*a <= ' ' || *a >= 0x7f || *a == '#') {
            bad = 1;
            break;
        }
    }

    if (rc != (bad ? NGX_DECLINED : NGX_OK)) {
        abort();
    }

    /* no provider: Azure's filter */

    one = pv ? pv
             : ngx_http_llmgw_provider_find(&ngx_http_llmgw_fuzz_names[0]);

    in.data = p;
    in.len = len;

    if (ngx_http_llmgw_provider_query(pool, one, &in, &out) != NGX_OK) {
        return;
    }

    if (out.len > in.len) {
        abort();
    }

    /* rebuilt: the pieces kept, joined by one '&' each */

    last = (out.data == in.data) ? out.data : out.data + out.len;

    for (a = out.data; a < last; a++) {
        if (*a == '&' && (a == out.data || a + 1 == last || a[1] == '&')) {
            abort();
        }
    }

    if (ngx_http_llmgw_provider_query(pool, one, &out, &again) != NGX_OK) {
        return;
    }

    if (again.data != out.data || again.len != out.len) {
        abort();
    }
}
