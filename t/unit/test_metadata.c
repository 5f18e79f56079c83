/* llmgw-unit-srcs: src/ngx_http_llmgw_metadata.c */
/* llmgw-unit-libs: -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * The protected-resource metadata document (RFC 9728): members in their
 * order, the optional ones only when they apply, strings escaped.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <string.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_metadata.h"


static ngx_array_t *ngx_http_llmgw_test_list(ngx_pool_t *pool,
    const char **items);
static ngx_uint_t ngx_http_llmgw_test_doc(ngx_pool_t *pool,
    ngx_http_llmgw_metadata_t *md, const char *expect);


static ngx_array_t *
ngx_http_llmgw_test_list(ngx_pool_t *pool, const char **items)
{
    ngx_str_t    *s;
    ngx_array_t  *a;

    a = ngx_array_create(pool, 4, sizeof(ngx_str_t));

    for ( /* void */ ; *items; items++) {
        s = ngx_array_push(a);
        s->data = (u_char *) *items;
        s->len = strlen(*items);
    }

    return a;
}


static ngx_uint_t
ngx_http_llmgw_test_doc(ngx_pool_t *pool, ngx_http_llmgw_metadata_t *md,
    const char *expect)
{
    ngx_str_t  doc;

    if (ngx_http_llmgw_metadata_document(pool, md, &doc) != NGX_OK) {
        return 0;
    }

    if (doc.len != strlen(expect)
        || ngx_strncmp(doc.data, expect, doc.len) != 0)
    {
        fprintf(stderr, "# got: %.*s", (int) doc.len, doc.data);
        return 0;
    }

    return 1;
}


int
main(void)
{
    ngx_pool_t                 *pool;
    ngx_http_llmgw_metadata_t   md;

    static const char  *servers[] = { "https://idp.example.com/", NULL };
    static const char  *scopes[] = { "all", "text", "claude", NULL };
    static const char  *algs[] = { "ES256", "EdDSA", NULL };

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    ngx_http_llmgw_unit_quiet = 1;

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);

    ngx_memzero(&md, sizeof(ngx_http_llmgw_metadata_t));
    ngx_str_set(&md.resource, "https://gw.example.com");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_doc(pool, &md,
        "{\"resource\":\"https://gw.example.com\","
        "\"bearer_methods_supported\":[\"header\"],"
        "\"tls_client_certificate_bound_access_tokens\":false}\n"),
        "the least document: resource, bearer methods, not bound");

    md.servers = ngx_http_llmgw_test_list(pool, servers);
    md.scopes = ngx_http_llmgw_test_list(pool, scopes);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_doc(pool, &md,
        "{\"resource\":\"https://gw.example.com\","
        "\"authorization_servers\":[\"https://idp.example.com/\"],"
        "\"scopes_supported\":[\"all\",\"text\",\"claude\"],"
        "\"bearer_methods_supported\":[\"header\"],"
        "\"tls_client_certificate_bound_access_tokens\":false}\n"),
        "servers and scopes in their order");

    md.dpop_algs = ngx_http_llmgw_test_list(pool, algs);
    md.dpop_required = 1;
    md.cert_bound = 1;
    md.servers = NULL;
    md.scopes = NULL;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_doc(pool, &md,
        "{\"resource\":\"https://gw.example.com\","
        "\"bearer_methods_supported\":[\"header\"],"
        "\"dpop_signing_alg_values_supported\":[\"ES256\",\"EdDSA\"],"
        "\"tls_client_certificate_bound_access_tokens\":true,"
        "\"dpop_bound_access_tokens_required\":true}\n"),
        "DPoP algorithms, required, certificate-bound");

    ngx_memzero(&md, sizeof(ngx_http_llmgw_metadata_t));
    ngx_str_set(&md.resource, "https://gw.example.com/a\"b\\c");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_doc(pool, &md,
        "{\"resource\":\"https://gw.example.com/a\\\"b\\\\c\","
        "\"bearer_methods_supported\":[\"header\"],"
        "\"tls_client_certificate_bound_access_tokens\":false}\n"),
        "a quote and a backslash escaped");

    ngx_str_set(&md.resource, "https://gw.example.com/\xff");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_doc(pool, &md, "") == 0,
                         "a resource that is not UTF-8: no document");

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
