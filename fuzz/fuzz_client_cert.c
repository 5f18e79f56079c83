/* llmgw-fuzz-srcs: src/ngx_http_llmgw_mtls.c src/ngx_http_llmgw_jws.c */
/* llmgw-fuzz-libs: -lssl -lcrypto -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: the RFC 9440 Client-Cert parser.  The input is the
 * header's value, in a buffer of its own size.  NGX_OK must come with
 * the DER of exactly one X.509 certificate (d2i_X509 takes all of it and
 * nothing more), no longer than the value allows; NGX_DECLINED with a
 * reason.  Anything else aborts.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/x509.h>

#include "ngx_http_llmgw_mtls.h"
#include "ngx_http_llmgw_unit.h"


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_http_llmgw_unit_quiet = 1;

    return ngx_http_llmgw_unit_init() == NGX_OK ? 0 : 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    X509                 *x;
    u_char               *copy;
    ngx_int_t             rc;
    ngx_str_t             value, der;
    ngx_pool_t           *pool;
    const char           *reason;
    const unsigned char  *p;

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
    if (pool == NULL) {
        return 0;
    }

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        ngx_destroy_pool(pool);
        return 0;
    }

    memcpy(copy, data, size);

    value.data = copy;
    value.len = size;
    reason = NULL;

    rc = ngx_http_llmgw_mtls_client_cert_parse(pool, &value, &der, &reason);

    if (rc == NGX_OK) {
        if (der.len == 0 || der.len > size) {
            abort();
        }

        p = der.data;
        x = d2i_X509(NULL, &p, (long) der.len);

        if (x == NULL || p != der.data + der.len) {
            abort();
        }

        X509_free(x);

    } else if (rc == NGX_DECLINED) {
        if (reason == NULL) {
            abort();
        }

    } else if (rc != NGX_ERROR) {
        abort();
    }

    free(copy);
    ngx_destroy_pool(pool);

    return 0;
}
