/* llmgw-unit-srcs: src/ngx_http_llmgw_scope.c */
/* llmgw-unit-libs: -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * The scope hierarchy: tree building from "llmgw_scopes" lines (fed by a
 * stand-in for ngx_conf_parse), satisfaction, and granted scopes read from
 * claims.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_scope.h"


static char *ngx_http_llmgw_test_tree(ngx_pool_t *pool, const char **lines,
    ngx_http_llmgw_scope_tree_t *tree);
static ngx_uint_t ngx_http_llmgw_test_satisfied(ngx_pool_t *pool,
    ngx_http_llmgw_scope_tree_t *tree, const char *required,
    const char *granted);
static void ngx_http_llmgw_test_hierarchy(ngx_pool_t *pool);
static void ngx_http_llmgw_test_bad_trees(ngx_pool_t *pool);
static void ngx_http_llmgw_test_granted(ngx_pool_t *pool);


/* the lines the stand-in parser hands to the block's handler */
static const char  **ngx_http_llmgw_test_lines;


static const char  *ngx_http_llmgw_design_tree[] = {
    "all text audio video",
    "text claude openai.text gemini.text",
    "audio openai.stt openai.tts",
    "video video.generate video.analyze",
    NULL
};


char *
ngx_conf_parse(ngx_conf_t *cf, ngx_str_t *filename)
{
    char         *rv, *line, *word, *save;
    ngx_str_t    *arg;
    const char  **l;

    for (l = ngx_http_llmgw_test_lines; *l; l++) {
        cf->args->nelts = 0;
        line = strdup(*l);

        for (word = strtok_r(line, " ", &save); word;
             word = strtok_r(NULL, " ", &save))
        {
            arg = ngx_array_push(cf->args);
            arg->len = ngx_strlen(word);
            arg->data = ngx_pnalloc(cf->pool, arg->len);
            ngx_memcpy(arg->data, word, arg->len);
        }

        free(line);

        rv = cf->handler(cf, NULL, cf->handler_conf);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llmgw_test_tree(ngx_pool_t *pool, const char **lines,
    ngx_http_llmgw_scope_tree_t *tree)
{
    ngx_conf_t  cf;

    ngx_http_llmgw_unit_conf(&cf, pool);

    if (cf.args == NULL) {
        cf.args = ngx_array_create(pool, 8, sizeof(ngx_str_t));
    }

    ngx_memzero(tree, sizeof(ngx_http_llmgw_scope_tree_t));
    ngx_http_llmgw_test_lines = lines;

    return ngx_http_llmgw_scope_tree_block(&cf, tree);
}


/* required and granted are space-separated lists */

static ngx_uint_t
ngx_http_llmgw_test_satisfied(ngx_pool_t *pool,
    ngx_http_llmgw_scope_tree_t *tree, const char *required,
    const char *granted)
{
    json_t                         *claims;
    ngx_str_t                       name, *s;
    ngx_uint_t                      i, ok;
    ngx_array_t                     req, got, names;
    ngx_http_llmgw_scope_t        **r;
    ngx_http_llmgw_scope_source_t   src;

    ngx_array_init(&names, pool, 1, sizeof(ngx_str_t));
    s = ngx_array_push(&names);
    ngx_str_set(s, "scope");

    src.claims = &names;
    ngx_str_null(&src.prefix);

    /* the required list is split the way granted scopes are */

    claims = json_pack("{ss}", "scope", required);
    ngx_array_init(&got, pool, 4, sizeof(ngx_str_t));
    ngx_http_llmgw_scopes_granted(pool, &src, claims, &got);

    ngx_array_init(&req, pool, 4, sizeof(ngx_http_llmgw_scope_t *));
    s = got.elts;

    for (i = 0; i < got.nelts; i++) {
        name = s[i];
        r = ngx_array_push(&req);
        *r = ngx_http_llmgw_scope_find(tree, &name);

        if (*r == NULL) {
            json_decref(claims);
            return 0;
        }
    }

    json_decref(claims);

    claims = json_pack("{ss}", "scope", granted);
    ngx_array_init(&got, pool, 4, sizeof(ngx_str_t));
    ngx_http_llmgw_scopes_granted(pool, &src, claims, &got);

    ok = ngx_http_llmgw_scope_satisfied(&req, &got);

    json_decref(claims);

    return ok;
}


static void
ngx_http_llmgw_test_hierarchy(ngx_pool_t *pool)
{
    ngx_http_llmgw_scope_tree_t  tree;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_tree(pool,
                             ngx_http_llmgw_design_tree, &tree)
                         == NGX_CONF_OK, "the design's tree is accepted");

    NGX_HTTP_LLMGW_CHECK(tree.scopes.nelts == 11, "eleven scopes");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_satisfied(pool, &tree,
                             "claude", "all"), "all satisfies claude");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_satisfied(pool, &tree,
                             "claude", "text"), "text satisfies claude");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_satisfied(pool, &tree,
                             "claude", "claude"), "claude satisfies claude");
    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_satisfied(pool, &tree,
                             "openai.stt", "text"),
                         "text does not satisfy openai.stt");
    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_satisfied(pool, &tree,
                             "text", "claude"),
                         "a child does not satisfy its parent");
    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_satisfied(pool, &tree,
                             "openai.tts", "openai.stt video"),
                         "siblings do not satisfy each other");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_satisfied(pool, &tree,
                             "openai.tts", "openid email audio"),
                         "one of several granted scopes is enough");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_satisfied(pool, &tree,
                             "openai.stt openai.tts", "openai.tts"),
                         "required scopes are any-of");
    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_satisfied(pool, &tree,
                             "video.generate", ""),
                         "nothing granted satisfies nothing");
    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_satisfied(pool, &tree,
                             "video.generate", "al vide video.gen"),
                         "prefixes of names do not match");
}


static void
ngx_http_llmgw_test_bad_trees(ngx_pool_t *pool)
{
    static const char *cycle[] = { "a b", "b c", "c a", NULL };
    static const char *self[] = { "a a", NULL };
    static const char *lone[] = { "a", NULL };
    static const char *quote[] = { "a b\"c", NULL };
    static const char *dag[] = { "all text vendor", "text claude",
                                 "vendor claude", NULL };

    ngx_http_llmgw_scope_tree_t  tree;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_tree(pool, cycle, &tree)
                         != NGX_CONF_OK, "a cycle is refused");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_tree(pool, self, &tree)
                         != NGX_CONF_OK, "a scope as its own child is refused");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_tree(pool, lone, &tree)
                         != NGX_CONF_OK, "a line without children is refused");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_tree(pool, quote, &tree)
                         != NGX_CONF_OK, "a quote in a scope is refused");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_tree(pool, dag, &tree)
                         == NGX_CONF_OK, "a scope may have two parents");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_satisfied(pool, &tree,
                             "claude", "vendor")
                         && ngx_http_llmgw_test_satisfied(pool, &tree,
                             "claude", "text")
                         && ngx_http_llmgw_test_satisfied(pool, &tree,
                             "claude", "all"),
                         "each parent and the root satisfy the child");
}


static void
ngx_http_llmgw_test_granted(ngx_pool_t *pool)
{
    json_t                         *claims;
    ngx_str_t                      *s, *g;
    ngx_array_t                     names, got;
    ngx_http_llmgw_scope_source_t   src;

    ngx_array_init(&names, pool, 2, sizeof(ngx_str_t));
    s = ngx_array_push(&names);
    ngx_str_set(s, "scope");
    s = ngx_array_push(&names);
    ngx_str_set(s, "scp");

    src.claims = &names;
    ngx_str_null(&src.prefix);

    claims = json_loads("{\"scope\":\"  text   audio \",\"scp\":[\"video\","
                        "7,\"claude\"],\"other\":\"all\"}", 0, NULL);
    ngx_array_init(&got, pool, 4, sizeof(ngx_str_t));
    ngx_http_llmgw_scopes_granted(pool, &src, claims, &got);
    g = got.elts;

    NGX_HTTP_LLMGW_CHECK(got.nelts == 4
                         && ngx_strncmp(g[0].data, "text", 4) == 0
                         && g[0].len == 4
                         && ngx_strncmp(g[1].data, "audio", 5) == 0
                         && ngx_strncmp(g[2].data, "video", 5) == 0
                         && ngx_strncmp(g[3].data, "claude", 6) == 0,
                         "scope string and scp array, other claims ignored");
    json_decref(claims);

    /* Cognito: "<resource-server>/<scope>" */

    ngx_str_set(&src.prefix, "https://llm.example.com/");
    claims = json_loads("{\"scope\":\"openid https://llm.example.com/text "
                        "https://other.example.com/all "
                        "https://llm.example.com/\"}", 0, NULL);
    ngx_array_init(&got, pool, 4, sizeof(ngx_str_t));
    ngx_http_llmgw_scopes_granted(pool, &src, claims, &got);
    g = got.elts;

    NGX_HTTP_LLMGW_CHECK(got.nelts == 1 && g[0].len == 4
                         && ngx_strncmp(g[0].data, "text", 4) == 0,
                         "only prefixed scopes count, prefix removed");
    json_decref(claims);

    claims = json_loads("{\"scope\":7,\"scp\":{\"a\":\"b\"}}", 0, NULL);
    ngx_array_init(&got, pool, 4, sizeof(ngx_str_t));
    ngx_http_llmgw_scopes_granted(pool, &src, claims, &got);

    NGX_HTTP_LLMGW_CHECK(got.nelts == 0, "non-string scope claims grant none");
    json_decref(claims);
}


int
main(void)
{
    ngx_pool_t  *pool;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    ngx_http_llmgw_unit_quiet = 1;

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);

    ngx_http_llmgw_test_hierarchy(pool);
    ngx_http_llmgw_test_bad_trees(pool);
    ngx_http_llmgw_test_granted(pool);

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
