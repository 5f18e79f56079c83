
/*
 * Copyright (C) llmgw authors
 *
 * The maximum output tokens of a request body, and the prompt's tokens
 * guessed from its size (see ngx_http_llmgw_estimate.h).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "ngx_http_llmgw_estimate.h"


/* where a body names its maximum: an object member's member, or a member */

typedef struct {
    const char                *object;     /* NULL: a top-level member */
    const char                *member;
} ngx_http_llmgw_estimate_path_t;


static ngx_int_t ngx_http_llmgw_estimate_integer(json_t *value,
    int64_t *max);


static ngx_http_llmgw_estimate_path_t  ngx_http_llmgw_estimate_paths[] = {
    { NULL, "max_completion_tokens" },
    { NULL, "max_tokens" },
    { NULL, "max_output_tokens" },
    { "generationConfig", "maxOutputTokens" },
    { "generation_config", "max_output_tokens" },
    { "inferenceConfig", "maxTokens" },
    { "textGenerationConfig", "maxTokenCount" },
    { NULL, NULL }
};


ngx_int_t
ngx_http_llmgw_estimate_max_output(u_char *p, size_t len, int64_t *max)
{
    json_t                          *root, *object, *value;
    ngx_int_t                        rc;
    json_error_t                     err;
    ngx_http_llmgw_estimate_path_t  *path;

    if (len == 0 || len > NGX_HTTP_LLMGW_ESTIMATE_BODY_MAX) {
        return NGX_DECLINED;
    }

    root = json_loadb((const char *) p, len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    if (!json_is_object(root)) {
        goto done;
    }

    for (path = ngx_http_llmgw_estimate_paths; path->member; path++) {
        object = root;

        if (path->object != NULL) {
            object = json_object_get(root, path->object);

            if (!json_is_object(object)) {
                continue;
            }
        }

        value = json_object_get(object, path->member);

        if (ngx_http_llmgw_estimate_integer(value, max) == NGX_OK) {
            rc = NGX_OK;
            break;
        }
    }

done:

    json_decref(root);

    return rc;
}


/* a non-negative integer (10.0 is not one), capped */

static ngx_int_t
ngx_http_llmgw_estimate_integer(json_t *value, int64_t *max)
{
    json_int_t  n;

    if (!json_is_integer(value)) {
        return NGX_DECLINED;
    }

    n = json_integer_value(value);

    if (n < 0) {
        return NGX_DECLINED;
    }

    *max = (n > NGX_HTTP_LLMGW_ESTIMATE_MAX) ? NGX_HTTP_LLMGW_ESTIMATE_MAX
                                             : (int64_t) n;

    return NGX_OK;
}


int64_t
ngx_http_llmgw_estimate_prompt(off_t len)
{
    if (len <= 0) {
        return 0;
    }

    return ((int64_t) len + 3) / 4;
}
