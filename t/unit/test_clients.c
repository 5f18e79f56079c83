/* llmgw-unit-srcs: src/ngx_http_llmgw_clients.c src/ngx_http_llmgw_scope.c src/ngx_http_llmgw_claims.c */
/* llmgw-unit-libs: -ljansson */

/*
 * Copyright (C) llmgw authors
 *
 * Registered clients: the clients file's parser (a good file sorted, each
 * kind of error with its line, every prefix of a good file without a
 * crash), the lookup, the cut of granted scopes down to a ceiling in the
 * design's scope tree, and the admin API's set and render (what render
 * writes, parse reads back the same).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <stdio.h>
#include <string.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_clients.h"
#include "ngx_http_llmgw_scope.h"


static ngx_int_t ngx_http_llmgw_test_parse(ngx_pool_t *pool,
    const char *text, ngx_http_llmgw_clients_t *out);
static const char *ngx_http_llmgw_test_errors(ngx_http_llmgw_clients_t *out);
static void ngx_http_llmgw_test_good(ngx_pool_t *pool);
static void ngx_http_llmgw_test_bad(ngx_pool_t *pool);
static void ngx_http_llmgw_test_prefixes(ngx_pool_t *pool);
static void ngx_http_llmgw_test_tree(ngx_pool_t *pool,
    ngx_http_llmgw_scope_tree_t *tree);
static const char *ngx_http_llmgw_test_cut(ngx_pool_t *pool,
    ngx_http_llmgw_scope_tree_t *tree, const char *ceiling,
    const char *granted);
static void ngx_http_llmgw_test_cuts(ngx_pool_t *pool);
static void ngx_http_llmgw_test_admin(ngx_pool_t *pool);
static void ngx_http_llmgw_test_token_id(void);
static const char *ngx_http_llmgw_test_id(const char *json);


static const char  **ngx_http_llmgw_test_lines;

static const char  *ngx_http_llmgw_design_tree[] = {
    "all text audio video",
    "text claude openai.text gemini.text",
    "audio openai.stt openai.tts",
    "video video.generate video.analyze",
    NULL
};

static const char  ngx_http_llmgw_good_file[] =
    "\xef\xbb\xbf# registered clients\r\n"
    "client_id,status,ceiling,pending_ceiling\r\n"
    "\r\n"
    "web-chat,approved,text,\r\n"
    "dcr-7f3a,pending,text audio,claude\r\n"
    "https://app.example.com/cb,approved,all,\r\n"
    "0oa1b2c3,approved,claude openai.stt,text\n";


/* the stand-in for nginx's parser: the tree's lines, one by one */

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


static ngx_int_t
ngx_http_llmgw_test_parse(ngx_pool_t *pool, const char *text,
    ngx_http_llmgw_clients_t *out)
{
    size_t   len;
    u_char  *copy;

    /* a buffer of the input's own size: a read past it is caught */

    len = strlen(text);
    copy = ngx_pnalloc(pool, len ? len : 1);
    ngx_memcpy(copy, text, len);

    return ngx_http_llmgw_clients_parse(pool, copy, len, 100, out);
}


/* the kept errors, "\n" after each, as nginx -t prints them */

static const char *
ngx_http_llmgw_test_errors(ngx_http_llmgw_clients_t *out)
{
    u_char      *p, *last;
    ngx_uint_t   i;

    static u_char  buf[4096];

    p = buf;
    last = buf + sizeof(buf) - 1;

    for (i = 0;
         i < ngx_min(out->nerrors, NGX_HTTP_LLMGW_CLIENTS_MAX_ERRORS);
         i++)
    {
        p = ngx_http_llmgw_clients_error_text(p, last, &out->errors[i]);

        if (p < last) {
            *p++ = '\n';
        }
    }

    *p = '\0';

    return (const char *) buf;
}


static void
ngx_http_llmgw_test_good(ngx_pool_t *pool)
{
    ngx_str_t                  id;
    ngx_http_llmgw_client_t   *c;
    ngx_http_llmgw_clients_t   out;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_parse(pool,
                             ngx_http_llmgw_good_file, &out)
                         == NGX_OK, "a good file (BOM, CRLF, comments)");

    NGX_HTTP_LLMGW_CHECK(out.clients.nelts == 4 && out.nerrors == 0,
                         "four clients, no error");

    c = out.clients.elts;

    NGX_HTTP_LLMGW_CHECK(c[0].client_id.len == 8
                         && ngx_strncmp(c[0].client_id.data, "0oa1b2c3", 8)
                            == 0
                         && c[0].line == 7
                         && c[0].names->nelts == 2
                         && c[0].pending_names->nelts == 1,
                         "sorted by id: 0oa1b2c3 first, from line 7");

    NGX_HTTP_LLMGW_CHECK(c[1].status == NGX_HTTP_LLMGW_CLIENT_PENDING
                         && c[1].line == 5
                         && ((ngx_str_t *) c[1].pending_names->elts)[0].len
                            == 6,
                         "dcr-7f3a pending, its pending ceiling claude");

    NGX_HTTP_LLMGW_CHECK(c[3].status == NGX_HTTP_LLMGW_CLIENT_APPROVED
                         && c[3].pending_names == NULL,
                         "web-chat approved, no pending ceiling");

    ngx_str_set(&id, "web-chat");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_clients_find(&out.clients, &id)
                         == &c[3], "find web-chat");

    ngx_str_set(&id, "https://app.example.com/cb");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_clients_find(&out.clients, &id)
                         == &c[2], "find a URL client_id");

    ngx_str_set(&id, "web-cha");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_clients_find(&out.clients, &id)
                         == NULL, "a prefix of an id is not the id");

    ngx_str_set(&id, "web-chat2");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_clients_find(&out.clients, &id)
                         == NULL, "an id with more is not the id");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_parse(pool,
                             "client_id,status,ceiling,pending_ceiling",
                             &out)
                         == NGX_OK && out.clients.nelts == 0,
                         "a header alone: no client");
}


static void
ngx_http_llmgw_test_bad(ngx_pool_t *pool)
{
    char                       label[64];
    ngx_uint_t                 i;
    ngx_http_llmgw_clients_t   out;

    static const struct {
        const char  *file;
        const char  *errors;
    } cases[] = {

        { "",
          "line 1: no header line\n" },

        { "# only a comment\n\n",
          "line 1: no header line\n" },

        { "client_id,status,ceiling\nx,approved,text,\n",
          "line 1: header must be \"client_id,status,ceiling,"
          "pending_ceiling\"\n" },

        { "client_id,status,ceiling,pending_ceiling\n"
          "a,approved,text\n"
          "b,approved,text,,\n"
          "c,approved,text,claude\n",
          "line 2: wrong number of columns (4)\n"
          "line 3: wrong number of columns (4)\n" },

        { "client_id,status,ceiling,pending_ceiling\n"
          "a,Approved,,te\"xt\n",
          "line 2: status: unknown status (approved or pending)\n"
          "line 2: ceiling: empty\n"
          "line 2: pending_ceiling: invalid character in scope "
          "\"te\"xt\"\n" },

        { "client_id,status,ceiling,pending_ceiling\n"
          "\"a\",approved,text,\n"
          "b c,approved,text,\n"
          ",approved,text,\n",
          "line 2: client_id: invalid character \"\"a\"\"\n"
          "line 3: client_id: invalid character \"b c\"\n"
          "line 4: client_id: empty\n" },

        { "client_id,status,ceiling,pending_ceiling\n"
          "a,approved,text  audio,\n"
          "b,approved, text,\n"
          "c,approved,text text,\n",
          "line 2: ceiling: empty scope (one space between scopes)\n"
          "line 3: ceiling: empty scope (one space between scopes)\n"
          "line 4: ceiling: scope listed twice \"text\"\n" },

        { "client_id,status,ceiling,pending_ceiling\n"
          "a,approved,text,\n"
          "# a comment keeps its line\n"
          "b,approved,text,\n"
          "a,pending,text,\n"
          "a,approved,audio,\n",
          "line 5: client_id: duplicate \"a\" (first on line 2)\n"
          "line 6: client_id: duplicate \"a\" (first on line 2)\n" },

        { "client_id,status,ceiling,pending_ceiling\r\n"
          "a,approved,text\r,\r\n",
          "line 2: ceiling: invalid character in scope \"text\r\"\n" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(label, sizeof(label), "bad file %u: its errors and lines",
                 (unsigned) i);

        NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_test_parse(pool, cases[i].file,
                                                       &out)
                             == NGX_DECLINED
                             && strcmp(ngx_http_llmgw_test_errors(&out),
                                       cases[i].errors) == 0,
                             label);

        if (strcmp(ngx_http_llmgw_test_errors(&out), cases[i].errors) != 0) {
            fprintf(stderr, "# got:\n%s", ngx_http_llmgw_test_errors(&out));
        }
    }
}


/* every prefix of the good file: a verdict, never a crash or a leak */

static void
ngx_http_llmgw_test_prefixes(ngx_pool_t *pool)
{
    size_t                     n, len;
    u_char                    *copy;
    ngx_int_t                  rc;
    ngx_uint_t                 bad;
    ngx_pool_t                *p;
    ngx_http_llmgw_clients_t   out;

    len = sizeof(ngx_http_llmgw_good_file) - 1;
    bad = 0;

    for (n = 0; n <= len; n++) {
        p = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);
        copy = ngx_pnalloc(p, n ? n : 1);
        ngx_memcpy(copy, ngx_http_llmgw_good_file, n);

        rc = ngx_http_llmgw_clients_parse(p, copy, n, 100, &out);

        if (rc != NGX_OK && rc != NGX_DECLINED) {
            bad++;
        }

        ngx_destroy_pool(p);
    }

    NGX_HTTP_LLMGW_CHECK(bad == 0, "every prefix of a good file: a verdict");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_clients_parse(pool,
                             (u_char *) ngx_http_llmgw_good_file, len, 3,
                             &out)
                         == NGX_DECLINED
                         && strcmp(ngx_http_llmgw_test_errors(&out),
                                   "line 7: too many clients\n") == 0,
                         "a fourth client over a limit of three");
}


static void
ngx_http_llmgw_test_tree(ngx_pool_t *pool, ngx_http_llmgw_scope_tree_t *tree)
{
    ngx_conf_t  cf;

    ngx_http_llmgw_unit_conf(&cf, pool);

    if (cf.args == NULL) {
        cf.args = ngx_array_create(pool, 8, sizeof(ngx_str_t));
    }

    ngx_memzero(tree, sizeof(ngx_http_llmgw_scope_tree_t));
    ngx_http_llmgw_test_lines = ngx_http_llmgw_design_tree;

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_scope_tree_block(&cf, tree)
                         == NGX_CONF_OK, "the design's tree");
}


/* granted (space-separated) under ceiling: the scopes left, joined */

static const char *
ngx_http_llmgw_test_cut(ngx_pool_t *pool, ngx_http_llmgw_scope_tree_t *tree,
    const char *ceiling, const char *granted)
{
    u_char       *p;
    ngx_str_t     bad, *s;
    ngx_uint_t    i;
    ngx_array_t  *names, *g, *c, out;
    char         *text, *word, *save;

    static char  buf[512];

    names = ngx_array_create(pool, 4, sizeof(ngx_str_t));
    g = ngx_array_create(pool, 4, sizeof(ngx_str_t));
    ngx_array_init(&out, pool, 4, sizeof(ngx_str_t));

    text = strdup(ceiling);

    for (word = strtok_r(text, " ", &save); word;
         word = strtok_r(NULL, " ", &save))
    {
        s = ngx_array_push(names);
        s->len = strlen(word);
        s->data = ngx_pnalloc(pool, s->len);
        ngx_memcpy(s->data, word, s->len);
    }

    free(text);
    text = strdup(granted);

    for (word = strtok_r(text, " ", &save); word;
         word = strtok_r(NULL, " ", &save))
    {
        s = ngx_array_push(g);
        s->len = strlen(word);
        s->data = ngx_pnalloc(pool, s->len);
        ngx_memcpy(s->data, word, s->len);
    }

    free(text);

    c = ngx_http_llmgw_clients_scopes(pool, tree, names, &bad);

    if (c == NULL
        || ngx_http_llmgw_clients_cut(tree, c, g, &out) != NGX_OK)
    {
        return "(failed)";
    }

    p = (u_char *) buf;
    s = out.elts;

    for (i = 0; i < out.nelts; i++) {
        p = ngx_slprintf(p, (u_char *) buf + sizeof(buf) - 1, "%s%V",
                         i ? " " : "", &s[i]);
    }

    *p = '\0';

    return buf;
}


static void
ngx_http_llmgw_test_cuts(ngx_pool_t *pool)
{
    ngx_str_t                     bad, *n;
    ngx_uint_t                    i;
    ngx_array_t                  *names;
    ngx_http_llmgw_scope_tree_t   tree;

    static const struct {
        const char  *ceiling;
        const char  *granted;
        const char  *left;
    } cases[] = {
        { "text", "all", "text" },
        { "text", "openid all", "text" },
        { "text", "claude", "claude" },
        { "text", "claude openai.stt", "claude" },
        { "text audio", "all", "text audio" },
        { "claude audio", "text", "claude" },
        { "claude audio", "all", "claude audio" },
        { "claude audio", "openai.tts text", "openai.tts claude" },
        { "all", "text video.analyze", "text video.analyze" },
        { "text", "audio video", "" },
        { "text", "", "" },
        { "claude", "claude claude text", "claude" },
        { "video.generate", "unknown.scope all", "video.generate" },
    };

    ngx_http_llmgw_test_tree(pool, &tree);

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        NGX_HTTP_LLMGW_CHECK(strcmp(ngx_http_llmgw_test_cut(pool, &tree,
                                        cases[i].ceiling, cases[i].granted),
                                    cases[i].left) == 0,
                             cases[i].left[0] ? cases[i].left
                                              : "(nothing left)");
    }

    names = ngx_array_create(pool, 1, sizeof(ngx_str_t));
    n = ngx_array_push(names);
    ngx_str_set(n, "image");
    ngx_str_null(&bad);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_clients_scopes(pool, &tree, names,
                                                       &bad)
                         == NULL
                         && bad.len == 5,
                         "a ceiling scope the tree lacks is named");
}


static void
ngx_http_llmgw_test_admin(ngx_pool_t *pool)
{
    ngx_str_t                     text, dropped, *n;
    ngx_array_t                  *a;
    ngx_http_llmgw_clients_t      out;
    ngx_http_llmgw_client_t      *c;
    ngx_http_llmgw_scope_t      **s;
    ngx_http_llmgw_scope_tree_t   tree;

    ngx_http_llmgw_test_tree(pool, &tree);

    /* a file's names joined into a record's text, and split back */

    ngx_http_llmgw_test_parse(pool, ngx_http_llmgw_good_file, &out);

    c = ngx_http_llmgw_clients_find(&out.clients,
                                    &((ngx_http_llmgw_client_t *)
                                      out.clients.elts)[0].client_id);

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_clients_join(pool, c->names, &text)
                         == NGX_OK
                         && text.len == sizeof("claude openai.stt") - 1
                         && ngx_strncmp(text.data, "claude openai.stt",
                                        text.len) == 0,
                         "join: names separated by single spaces");

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_clients_join(pool, NULL, &text)
                         == NGX_OK && text.len == 0,
                         "join: no names, an empty text");

    a = ngx_http_llmgw_clients_split(pool, &text);

    NGX_HTTP_LLMGW_CHECK(a != NULL && a->nelts == 0,
                         "split: an empty text, no names");

    ngx_str_set(&text, "claude openai.stt");
    a = ngx_http_llmgw_clients_split(pool, &text);
    n = a ? a->elts : NULL;

    NGX_HTTP_LLMGW_CHECK(a != NULL && a->nelts == 2
                         && n[0].len == 6
                         && ngx_strncmp(n[0].data, "claude", 6) == 0
                         && n[1].len == 10
                         && ngx_strncmp(n[1].data, "openai.stt", 10) == 0,
                         "split: each name");

    /* a record's ceiling in the tree: a name it lacks is dropped */

    ngx_str_set(&text, "text gone audio");
    a = ngx_http_llmgw_clients_ceiling(pool, &tree, &text, &dropped);
    s = a ? a->elts : NULL;

    NGX_HTTP_LLMGW_CHECK(a != NULL && a->nelts == 2
                         && s[0]->name.len == 4
                         && ngx_strncmp(s[0]->name.data, "text", 4) == 0
                         && s[1]->name.len == 5
                         && ngx_strncmp(s[1]->name.data, "audio", 5) == 0
                         && dropped.len == 4
                         && ngx_strncmp(dropped.data, "gone", 4) == 0,
                         "ceiling: the tree's scopes, the first lacking "
                         "one named");

    ngx_str_set(&text, "gone");
    a = ngx_http_llmgw_clients_ceiling(pool, &tree, &text, &dropped);

    NGX_HTTP_LLMGW_CHECK(a != NULL && a->nelts == 0 && dropped.len == 4,
                         "ceiling: every scope gone, an empty ceiling");

    ngx_str_set(&text, "all");
    a = ngx_http_llmgw_clients_ceiling(pool, &tree, &text, &dropped);

    NGX_HTTP_LLMGW_CHECK(a != NULL && a->nelts == 1 && dropped.len == 0,
                         "ceiling: nothing dropped, nothing named");
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

    ngx_http_llmgw_test_good(pool);
    ngx_http_llmgw_test_bad(pool);
    ngx_http_llmgw_test_prefixes(pool);
    ngx_http_llmgw_test_cuts(pool);
    ngx_http_llmgw_test_admin(pool);
    ngx_http_llmgw_test_token_id();

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}


/* the id a token's claims name, "!" when refused, "" when none */

static const char *
ngx_http_llmgw_test_id(const char *json)
{
    json_t     *claims;
    ngx_int_t   rc;
    ngx_str_t   id;

    static u_char     buf[64];
    static ngx_str_t  names[] = {
        ngx_string("client_id"),
        ngx_string("azp"),
        ngx_null_string
    };

    claims = json_loads(json, 0, NULL);
    if (claims == NULL) {
        return "?";
    }

    rc = ngx_http_llmgw_clients_token_id(claims, names, &id);

    if (rc != NGX_OK) {
        json_decref(claims);
        return "!";
    }

    buf[0] = '\0';

    if (id.len) {
        *ngx_cpymem(buf, id.data, ngx_min(id.len, sizeof(buf) - 1)) = '\0';
    }

    json_decref(claims);

    return (const char *) buf;
}


#define ID_IS(json, want, what)                                               \
    NGX_HTTP_LLMGW_CHECK(ngx_strcmp(ngx_http_llmgw_test_id(json), want) == 0, \
                         what)

static void
ngx_http_llmgw_test_token_id(void)
{
    ID_IS("{\"client_id\":\"a\",\"azp\":\"b\"}", "a",
          "client_id goes before azp");
    ID_IS("{\"azp\":\"b\"}", "b", "azp without client_id");
    ID_IS("{\"client_id\":null,\"azp\":\"b\"}", "b",
          "a null client_id is absent");
    ID_IS("{}", "", "no client claim: no client");
    ID_IS("{\"client_id\":\"\",\"azp\":\"b\"}", "",
          "an empty client_id names no client, not azp's");
    ID_IS("{\"client_id\":[\"b\"],\"azp\":\"b\"}", "!",
          "an array client_id is refused");
    ID_IS("{\"client_id\":123}", "!", "a number client_id is refused");
    ID_IS("{\"client_id\":{},\"azp\":\"b\"}", "!",
          "an object client_id is refused, not passed over");
    ID_IS("{\"azp\":true}", "!", "a boolean azp is refused");
}
