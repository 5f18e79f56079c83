/* llmgw-unit-srcs: src/ngx_http_llmgw_scope.c src/ngx_http_llmgw_claims.c */
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
#include "ngx_http_llmgw_claims.h"
#include "ngx_http_llmgw_scope.h"


static char *ngx_http_llmgw_test_tree(ngx_pool_t *pool, const char **lines,
    ngx_http_llmgw_scope_tree_t *tree);
static ngx_uint_t ngx_http_llmgw_test_satisfied(ngx_pool_t *pool,
    ngx_http_llmgw_scope_tree_t *tree, const char *required,
    const char *granted);
static ngx_uint_t ngx_http_llmgw_test_within(ngx_pool_t *pool,
    ngx_http_llmgw_scope_tree_t *tree, const char *required,
    const char *top);
static void ngx_http_llmgw_test_hierarchy(ngx_pool_t *pool);
static void ngx_http_llmgw_test_within_tree(ngx_pool_t *pool);
static void ngx_http_llmgw_test_bad_trees(ngx_pool_t *pool);
static void ngx_http_llmgw_test_source(ngx_pool_t *pool,
    ngx_http_llmgw_scope_source_t *src, const char *a, const char *b,
    const char *prefix);
static const char *ngx_http_llmgw_test_granted_text(ngx_pool_t *pool,
    ngx_http_llmgw_scope_source_t *src, const char *json);
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
    ngx_array_t                     req, got;
    ngx_http_llmgw_scope_t        **r;
    ngx_http_llmgw_scope_source_t   src;

    ngx_http_llmgw_test_source(pool, &src, "scope", NULL, NULL);

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


/* required a space-separated list of the tree's scopes, or "" */

static ngx_uint_t
ngx_http_llmgw_test_within(ngx_pool_t *pool,
    ngx_http_llmgw_scope_tree_t *tree, const char *required,
    const char *top)
{
    char                     *list, *word, *save;
    ngx_str_t                 name;
    ngx_array_t               req;
    ngx_http_llmgw_scope_t  **r, *t;

    ngx_array_init(&req, pool, 4, sizeof(ngx_http_llmgw_scope_t *));

    list = strdup(required);

    for (word = strtok_r(list, " ", &save); word;
         word = strtok_r(NULL, " ", &save))
    {
        name.data = (u_char *) word;
        name.len = ngx_strlen(word);

        r = ngx_array_push(&req);
        *r = ngx_http_llmgw_scope_find(tree, &name);
    }

    free(list);

    name.data = (u_char *) top;
    name.len = ngx_strlen(top);
    t = ngx_http_llmgw_scope_find(tree, &name);

    return ngx_http_llmgw_scope_within(&req, t);
}


static void
ngx_http_llmgw_test_within_tree(ngx_pool_t *pool)
{
    ngx_http_llmgw_scope_tree_t  tree;

    static const char *dag[] = { "all text vendor", "text claude",
                                 "vendor claude gemini.text", NULL };

    ngx_http_llmgw_test_tree(pool, ngx_http_llmgw_design_tree, &tree);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_within(pool, &tree, "text",
                                                    "text"),
                         "text is within text");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_within(pool, &tree, "claude",
                                                    "text"),
                         "claude is within text");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_within(pool, &tree,
                             "claude gemini.text", "text"),
                         "claude and gemini.text are within text");
    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_within(pool, &tree,
                             "claude video.generate", "text"),
                         "one required scope outside: not within");
    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_within(pool, &tree, "all",
                                                     "text"),
                         "a parent is not within its child");
    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_within(pool, &tree,
                             "openai.stt", "text"),
                         "a cousin is not within");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_within(pool, &tree,
                             "video.analyze", "all"),
                         "everything is within the root");
    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_within(pool, &tree, "",
                                                     "all"),
                         "nothing required: not within");

    ngx_http_llmgw_test_tree(pool, dag, &tree);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_within(pool, &tree, "claude",
                                                    "vendor"),
                         "a scope of two parents is within each");
    NGX_HTTP_LLMGW_CHECK(!ngx_http_llmgw_test_within(pool, &tree,
                             "gemini.text", "text"),
                         "within one parent, not the other");
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


/*
 * A source of up to two claims; a claim path with "=PREFIX" after it has
 * that prefix of its own.
 */

static void
ngx_http_llmgw_test_source(ngx_pool_t *pool,
    ngx_http_llmgw_scope_source_t *src, const char *a, const char *b,
    const char *prefix)
{
    u_char                        *eq;
    ngx_str_t                      text;
    const char                    *err, *claim[2];
    ngx_uint_t                     i;
    ngx_http_llmgw_scope_claim_t  *sc;

    claim[0] = a;
    claim[1] = b;

    src->claims = ngx_array_create(pool, 2,
                                   sizeof(ngx_http_llmgw_scope_claim_t));

    for (i = 0; i < 2 && claim[i]; i++) {
        sc = ngx_array_push(src->claims);
        ngx_memzero(sc, sizeof(ngx_http_llmgw_scope_claim_t));

        text.data = (u_char *) claim[i];
        text.len = ngx_strlen(claim[i]);

        eq = ngx_strlchr(text.data, text.data + text.len, '=');

        if (eq) {
            sc->own_prefix = 1;
            sc->prefix.data = eq + 1;
            sc->prefix.len = text.data + text.len - (eq + 1);
            text.len = eq - text.data;
        }

        (void) ngx_http_llmgw_claim_path_parse(pool, &text, &sc->path, &err);
    }

    src->prefix.data = (u_char *) prefix;
    src->prefix.len = prefix ? ngx_strlen(prefix) : 0;
}


/* the granted scopes joined by ' ', in a static buffer */

static const char *
ngx_http_llmgw_test_granted_text(ngx_pool_t *pool,
    ngx_http_llmgw_scope_source_t *src, const char *json)
{
    u_char        *p;
    json_t        *claims;
    ngx_str_t     *g;
    ngx_uint_t     i;
    ngx_array_t    got;
    static u_char  buf[512];

    claims = json_loads(json, 0, NULL);
    ngx_array_init(&got, pool, 4, sizeof(ngx_str_t));
    ngx_http_llmgw_scopes_granted(pool, src, claims, &got);

    p = buf;
    g = got.elts;

    for (i = 0; i < got.nelts && p + g[i].len + 1 < buf + sizeof(buf); i++) {
        if (i) {
            *p++ = ' ';
        }

        p = ngx_cpymem(p, g[i].data, g[i].len);
    }

    *p = '\0';

    json_decref(claims);

    return (const char *) buf;
}


#define GRANTS(src, json, expected, what)                                     \
    NGX_HTTP_LLMGW_CHECK(ngx_strcmp(ngx_http_llmgw_test_granted_text(pool,    \
                                        src, json), expected) == 0, what)


static void
ngx_http_llmgw_test_granted(ngx_pool_t *pool)
{
    ngx_http_llmgw_scope_source_t  src;

    ngx_http_llmgw_test_source(pool, &src, "scope", "scp", NULL);

    GRANTS(&src, "{\"scope\":\"  text   audio \",\"scp\":[\"video\","
           "7,\"claude\"],\"other\":\"all\"}", "text audio video claude",
           "scope string and scp array, other claims ignored");

    /* RFC 6749 section 3.3: an array element is one scope-token */

    GRANTS(&src, "{\"scp\":[\"openai.text text\",\"Team all\",\"ok\"]}",
           "ok", "an array element with a space grants nothing");
    GRANTS(&src, "{\"scp\":\"openai.text text\"}", "openai.text text",
           "a string scp (Entra ID) is space-separated");
    GRANTS(&src, "{\"scope\":\"a\\\"b c\\u0001 d\"}", "d",
           "tokens with a quote or control byte grant nothing");
    GRANTS(&src, "{\"scope\":7,\"scp\":{\"a\":\"b\"}}", "",
           "non-string scope claims grant none");

    /* Cognito: "<resource-server>/<scope>" for every claim */

    ngx_http_llmgw_test_source(pool, &src, "scope", NULL,
                               "https://llm.example.com/");

    GRANTS(&src, "{\"scope\":\"openid https://llm.example.com/text "
           "https://other.example.com/all https://llm.example.com/\"}",
           "text", "only prefixed scopes count, prefix removed");

    /* a prefix of its own: cognito:groups keeps plain names */

    ngx_http_llmgw_test_source(pool, &src,
                               "scope=https://llm.example.com/",
                               "cognito:groups", NULL);

    GRANTS(&src, "{\"scope\":\"openid https://llm.example.com/claude\","
           "\"cognito:groups\":[\"audio\",\"https://llm.example.com/all\"]}",
           "claude audio https://llm.example.com/all",
           "each claim with its own prefix");

    ngx_http_llmgw_test_source(pool, &src, "scope=", "cognito:groups",
                               "https://llm.example.com/");

    GRANTS(&src, "{\"scope\":\"text\",\"cognito:groups\":"
           "[\"https://llm.example.com/audio\",\"video\"]}",
           "text audio", "an empty own prefix, others the default");

    /* nested: Keycloak's roles */

    ngx_http_llmgw_test_source(pool, &src, "realm_access.roles",
                               "resource_access.\"llm.gateway\".roles", NULL);

    GRANTS(&src, "{\"realm_access\":{\"roles\":[\"text\"]},"
           "\"resource_access\":{\"llm.gateway\":{\"roles\":[\"audio\"]},"
           "\"llm\":{\"gateway\":{\"roles\":[\"all\"]}}}}",
           "text audio", "nested paths, a dotted name quoted");
    GRANTS(&src, "{\"realm_access\":[\"roles\"],\"resource_access\":"
           "{\"llm.gateway\":\"roles\"}}", "",
           "a path through a non-object grants nothing");
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
    ngx_http_llmgw_test_within_tree(pool);
    ngx_http_llmgw_test_bad_trees(pool);
    ngx_http_llmgw_test_granted(pool);

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
