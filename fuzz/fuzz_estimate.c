/* llmgw-fuzz-srcs: src/ngx_http_llmgw_estimate.c */
/* llmgw-fuzz-libs: -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: a budget's reading of a request body, the maximum
 * output tokens it names.  The input is the body, in a buffer of its own
 * size.  NGX_OK must come with a maximum in [0, the cap]; NGX_DECLINED
 * leaves it as it was; anything else aborts.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_estimate.h"
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
    u_char     *copy;
    int64_t     max;
    ngx_int_t   rc;

    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        return 0;
    }

    memcpy(copy, data, size);

    max = -7;

    rc = ngx_http_llmgw_estimate_max_output(copy, size, &max);

    if (rc == NGX_OK) {
        if (max < 0 || max > NGX_HTTP_LLMGW_ESTIMATE_MAX) {
            abort();
        }

    } else if (rc != NGX_DECLINED || max != -7) {
        abort();
    }

    if (ngx_http_llmgw_estimate_prompt((off_t) size) * 4 < (int64_t) size) {
        abort();
    }

    free(copy);

    return 0;
}
