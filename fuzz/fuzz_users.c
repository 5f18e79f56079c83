/* llmgw-fuzz-srcs: src/ngx_http_llmgw_users.c */
/* llmgw-fuzz-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * libFuzzer target: the user directory's CSV parser.  The input is the
 * file, in a buffer of its own size.  NGX_OK must come with no error and
 * users whose values keep the rules (an id, dates in order, a department
 * under its bound); NGX_DECLINED with at least one error, the kept ones
 * in line order, each on a line of the input.  Anything else aborts.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_users.h"
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
    u_char                  *copy;
    size_t                   lines, i;
    ngx_int_t                rc;
    ngx_uint_t               kept;
    ngx_pool_t              *pool;
    ngx_http_llmgw_user_t   *u;
    ngx_http_llmgw_users_t   users;

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

    lines = 1;

    for (i = 0; i < size; i++) {
        lines += (data[i] == '\n');
    }

    rc = ngx_http_llmgw_users_parse(pool, copy, size, 64, &users);

    if (rc == NGX_OK) {
        if (users.nerrors != 0 || users.users.nelts > 64) {
            abort();
        }

        u = users.users.elts;

        for (i = 0; i < users.users.nelts; i++) {
            if (u[i].user_id.len == 0
                || u[i].user_id.len > NGX_HTTP_LLMGW_USERS_MAX_ID
                || u[i].name.len == 0
                || u[i].department.len > NGX_HTTP_LLMGW_USERS_MAX_DEPT
                || u[i].end < u[i].start
                || u[i].line < 2 || u[i].line > lines)
            {
                abort();
            }
        }

    } else if (rc == NGX_DECLINED) {
        kept = ngx_min(users.nerrors, NGX_HTTP_LLMGW_USERS_MAX_ERRORS);

        if (kept == 0) {
            abort();
        }

        for (i = 0; i < kept; i++) {
            if (users.errors[i].line < 1 || users.errors[i].line > lines
                || (i && users.errors[i].line < users.errors[i - 1].line))
            {
                abort();
            }
        }

    } else {
        abort();
    }

    free(copy);
    ngx_destroy_pool(pool);

    return 0;
}
