
/*
 * Copyright (C) llmgw authors
 *
 * The clients file.  Each line is split at commas (no quoting: nothing in
 * it needs one), then every value is checked strictly: a client_id of
 * visible ASCII, a known status, ceilings of scope-tokens separated by
 * single spaces, each client once.  Every error is kept with its line;
 * one error refuses the file.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <stdlib.h>

#include "ngx_http_llmgw_clients.h"
#include "ngx_http_llmgw_scope.h"


#define NGX_HTTP_LLMGW_CLIENTS_COLUMNS  4


static ngx_int_t ngx_http_llmgw_clients_line(ngx_pool_t *pool,
    ngx_http_llmgw_clients_t *out, ngx_str_t *fields, ngx_uint_t line);
static const char *ngx_http_llmgw_clients_id(ngx_str_t *v);
static const char *ngx_http_llmgw_clients_names(ngx_pool_t *pool,
    ngx_str_t *v, ngx_array_t **names, ngx_str_t *bad);
static ngx_int_t ngx_http_llmgw_clients_copy(ngx_pool_t *pool,
    ngx_str_t *dst, ngx_str_t *src);
static void ngx_http_llmgw_clients_error(ngx_http_llmgw_clients_t *out,
    ngx_uint_t line, const char *field, const char *text, ngx_str_t *value,
    ngx_uint_t first);
static void ngx_http_llmgw_clients_duplicates(ngx_http_llmgw_clients_t *out);
static int ngx_http_llmgw_clients_cmp(const void *a, const void *b);
static int ngx_http_llmgw_clients_cmp_error(const void *a, const void *b);
static ngx_int_t ngx_http_llmgw_clients_add(ngx_array_t *out,
    ngx_str_t *name);
static size_t ngx_http_llmgw_clients_names_len(ngx_array_t *names);
static u_char *ngx_http_llmgw_clients_names_cpy(u_char *p,
    ngx_array_t *names);


static const char  *ngx_http_llmgw_clients_columns[] = {
    "client_id", "status", "ceiling", "pending_ceiling"
};

static const char  ngx_http_llmgw_clients_header[] =
    "client_id,status,ceiling,pending_ceiling";

/* what a check returns when the pool is out of memory */
static const char  ngx_http_llmgw_clients_nomem[] = "no memory";


ngx_int_t
ngx_http_llmgw_clients_parse(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_uint_t max_clients, ngx_http_llmgw_clients_t *out)
{
    u_char      *p, *last, *eol, *end, *comma;
    ngx_str_t    fields[NGX_HTTP_LLMGW_CLIENTS_COLUMNS];
    ngx_uint_t   line, n, header;

    ngx_memzero(out, sizeof(ngx_http_llmgw_clients_t));

    if (ngx_array_init(&out->clients, pool, 16,
                       sizeof(ngx_http_llmgw_client_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = data;
    last = data + len;

    /* a BOM, as spreadsheets write UTF-8 */

    if (len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
        p += 3;
    }

    header = 0;

    for (line = 1; p < last; line++, p = eol + 1) {

        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            eol = last;
        }

        end = eol;

        if (end > p && end[-1] == '\r') {
            end--;
        }

        if (end == p || *p == '#') {
            continue;
        }

        if (!header) {
            if ((size_t) (end - p)
                    != sizeof(ngx_http_llmgw_clients_header) - 1
                || ngx_strncmp(p, ngx_http_llmgw_clients_header,
                               end - p) != 0)
            {
                ngx_http_llmgw_clients_error(out, line, NULL,
                                    "header must be \"client_id,status,"
                                    "ceiling,pending_ceiling\"", NULL, 0);
                return NGX_DECLINED;
            }

            header = 1;
            continue;
        }

        if (end - p > NGX_HTTP_LLMGW_CLIENTS_MAX_LINE) {
            ngx_http_llmgw_clients_error(out, line, NULL, "line too long",
                                         NULL, 0);
            continue;
        }

        for (n = 0; n < NGX_HTTP_LLMGW_CLIENTS_COLUMNS; n++) {
            comma = ngx_strlchr(p, end, ',');

            fields[n].data = p;
            fields[n].len = (comma ? comma : end) - p;

            if (comma == NULL) {
                break;
            }

            p = comma + 1;
        }

        if (n != NGX_HTTP_LLMGW_CLIENTS_COLUMNS - 1) {
            ngx_http_llmgw_clients_error(out, line, NULL,
                                         "wrong number of columns (4)",
                                         NULL, 0);
            continue;
        }

        if (out->clients.nelts == max_clients) {
            ngx_http_llmgw_clients_error(out, line, NULL, "too many clients",
                                         NULL, 0);
            break;
        }

        if (ngx_http_llmgw_clients_line(pool, out, fields, line) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (!header) {
        ngx_http_llmgw_clients_error(out, 1, NULL, "no header line", NULL, 0);
        return NGX_DECLINED;
    }

    if (out->clients.nelts > 1) {
        qsort(out->clients.elts, out->clients.nelts,
              sizeof(ngx_http_llmgw_client_t), ngx_http_llmgw_clients_cmp);

        ngx_http_llmgw_clients_duplicates(out);
    }

    if (out->nerrors == 0) {
        return NGX_OK;
    }

    qsort(out->errors,
          ngx_min(out->nerrors, NGX_HTTP_LLMGW_CLIENTS_MAX_ERRORS),
          sizeof(ngx_http_llmgw_clients_error_t),
          ngx_http_llmgw_clients_cmp_error);

    return NGX_DECLINED;
}


/* one line's values checked, the client added when all are right */

static ngx_int_t
ngx_http_llmgw_clients_line(ngx_pool_t *pool, ngx_http_llmgw_clients_t *out,
    ngx_str_t *fields, ngx_uint_t line)
{
    ngx_str_t                 bad[NGX_HTTP_LLMGW_CLIENTS_COLUMNS];
    ngx_uint_t                i, errors;
    const char               *err[NGX_HTTP_LLMGW_CLIENTS_COLUMNS];
    ngx_http_llmgw_client_t   c, *cp;

    ngx_memzero(&c, sizeof(ngx_http_llmgw_client_t));
    ngx_memzero(bad, sizeof(bad));

    err[0] = ngx_http_llmgw_clients_id(&fields[0]);

    if (err[0] != NULL && fields[0].len <= NGX_HTTP_LLMGW_CLIENTS_MAX_ID) {
        bad[0] = fields[0];
    }

    err[1] = NULL;

    if (fields[1].len == 8
        && ngx_strncmp(fields[1].data, "approved", 8) == 0)
    {
        c.status = NGX_HTTP_LLMGW_CLIENT_APPROVED;

    } else if (fields[1].len == 7
               && ngx_strncmp(fields[1].data, "pending", 7) == 0)
    {
        c.status = NGX_HTTP_LLMGW_CLIENT_PENDING;

    } else {
        err[1] = "unknown status (approved or pending)";
    }

    err[2] = ngx_http_llmgw_clients_names(pool, &fields[2], &c.names,
                                          &bad[2]);

    if (err[2] == NULL && c.names == NULL) {
        err[2] = "empty";
    }

    err[3] = ngx_http_llmgw_clients_names(pool, &fields[3], &c.pending_names,
                                          &bad[3]);

    if (err[2] == ngx_http_llmgw_clients_nomem
        || err[3] == ngx_http_llmgw_clients_nomem)
    {
        return NGX_ERROR;
    }

    errors = 0;

    for (i = 0; i < NGX_HTTP_LLMGW_CLIENTS_COLUMNS; i++) {
        if (err[i]) {
            ngx_http_llmgw_clients_error(out, line,
                                         ngx_http_llmgw_clients_columns[i],
                                         err[i], &bad[i], 0);
            errors++;
        }
    }

    if (errors) {
        return NGX_OK;
    }

    if (ngx_http_llmgw_clients_copy(pool, &c.client_id, &fields[0])
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    c.line = line;

    cp = ngx_array_push(&out->clients);
    if (cp == NULL) {
        return NGX_ERROR;
    }

    *cp = c;

    return NGX_OK;
}


/*
 * RFC 6749 section 2.2 allows any VSCHAR; a comma, a quote, a backslash
 * and a space are refused here, so that the file needs no quoting and an
 * id is shown in a log or a JSON string as it is.
 */

static const char *
ngx_http_llmgw_clients_id(ngx_str_t *v)
{
    u_char  c;
    size_t  i;

    if (v->len == 0) {
        return "empty";
    }

    if (v->len > NGX_HTTP_LLMGW_CLIENTS_MAX_ID) {
        return "too long";
    }

    for (i = 0; i < v->len; i++) {
        c = v->data[i];

        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ',') {
            return "invalid character";
        }
    }

    return NULL;
}


/*
 * A ceiling: scope-tokens separated by single spaces, each once, into a
 * new array of names copied into pool; *names stays NULL when v is
 * empty.  NULL, an error text with *bad set, or
 * ngx_http_llmgw_clients_nomem.
 */

static const char *
ngx_http_llmgw_clients_names(ngx_pool_t *pool, ngx_str_t *v,
    ngx_array_t **names, ngx_str_t *bad)
{
    u_char       *p, *last, *sp;
    ngx_str_t     name, *n;
    ngx_uint_t    i;
    ngx_array_t  *a;

    *names = NULL;

    if (v->len == 0) {
        return NULL;
    }

    a = ngx_array_create(pool, 4, sizeof(ngx_str_t));
    if (a == NULL) {
        return ngx_http_llmgw_clients_nomem;
    }

    p = v->data;
    last = p + v->len;

    for ( ;; ) {
        sp = ngx_strlchr(p, last, ' ');

        name.data = p;
        name.len = (sp ? sp : last) - p;

        if (name.len == 0) {
            return "empty scope (one space between scopes)";
        }

        if (ngx_http_llmgw_scope_name_valid(&name) != NGX_OK) {
            *bad = name;
            return "invalid character in scope";
        }

        n = a->elts;

        for (i = 0; i < a->nelts; i++) {
            if (n[i].len == name.len
                && ngx_strncmp(n[i].data, name.data, name.len) == 0)
            {
                *bad = name;
                return "scope listed twice";
            }
        }

        if (a->nelts == NGX_HTTP_LLMGW_CLIENTS_MAX_SCOPES) {
            return "too many scopes";
        }

        n = ngx_array_push(a);
        if (n == NULL) {
            return ngx_http_llmgw_clients_nomem;
        }

        if (ngx_http_llmgw_clients_copy(pool, n, &name) != NGX_OK) {
            return ngx_http_llmgw_clients_nomem;
        }

        if (sp == NULL) {
            break;
        }

        p = sp + 1;
    }

    *names = a;

    return NULL;
}


static ngx_int_t
ngx_http_llmgw_clients_copy(ngx_pool_t *pool, ngx_str_t *dst, ngx_str_t *src)
{
    dst->data = ngx_pnalloc(pool, src->len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);
    dst->len = src->len;

    return NGX_OK;
}


static void
ngx_http_llmgw_clients_error(ngx_http_llmgw_clients_t *out, ngx_uint_t line,
    const char *field, const char *text, ngx_str_t *value, ngx_uint_t first)
{
    ngx_http_llmgw_clients_error_t  *e;

    if (out->nerrors < NGX_HTTP_LLMGW_CLIENTS_MAX_ERRORS) {
        e = &out->errors[out->nerrors];
        e->line = line;
        e->field = field;
        e->text = text;
        e->first = first;

        if (value) {
            e->value = *value;

        } else {
            ngx_str_null(&e->value);
        }
    }

    out->nerrors++;
}


/* sorted by id, then by line: equal neighbours are duplicates */

static void
ngx_http_llmgw_clients_duplicates(ngx_http_llmgw_clients_t *out)
{
    ngx_uint_t                i, first;
    ngx_http_llmgw_client_t  *c;

    c = out->clients.elts;
    first = 0;

    for (i = 1; i < out->clients.nelts; i++) {
        if (c[first].client_id.len == c[i].client_id.len
            && ngx_memcmp(c[first].client_id.data, c[i].client_id.data,
                          c[i].client_id.len)
               == 0)
        {
            ngx_http_llmgw_clients_error(out, c[i].line, "client_id",
                                         "duplicate", &c[i].client_id,
                                         c[first].line);
            continue;
        }

        first = i;
    }
}


static int
ngx_http_llmgw_clients_cmp(const void *a, const void *b)
{
    int                             rc;
    const ngx_http_llmgw_client_t  *ca = a, *cb = b;

    rc = ngx_memn2cmp(ca->client_id.data, cb->client_id.data,
                      ca->client_id.len, cb->client_id.len);

    if (rc != 0) {
        return rc;
    }

    return (ca->line > cb->line) - (ca->line < cb->line);
}


static int
ngx_http_llmgw_clients_cmp_error(const void *a, const void *b)
{
    const ngx_http_llmgw_clients_error_t  *ea = a, *eb = b;

    return (ea->line > eb->line) - (ea->line < eb->line);
}


u_char *
ngx_http_llmgw_clients_error_text(u_char *buf, u_char *last,
    ngx_http_llmgw_clients_error_t *e)
{
    buf = ngx_slprintf(buf, last, "line %ui: ", e->line);

    if (e->field) {
        buf = ngx_slprintf(buf, last, "%s: ", e->field);
    }

    buf = ngx_slprintf(buf, last, "%s", e->text);

    if (e->value.len) {
        buf = ngx_slprintf(buf, last, " \"%V\"", &e->value);
    }

    if (e->first) {
        buf = ngx_slprintf(buf, last, " (first on line %ui)", e->first);
    }

    return buf;
}


ngx_int_t
ngx_http_llmgw_clients_resolve(ngx_pool_t *pool,
    ngx_http_llmgw_scope_tree_t *tree, ngx_array_t *clients,
    ngx_http_llmgw_clients_error_t *e)
{
    ngx_str_t                 bad;
    ngx_uint_t                i;
    ngx_http_llmgw_client_t  *c;

    c = clients->elts;

    for (i = 0; i < clients->nelts; i++) {
        ngx_str_null(&bad);

        c[i].ceiling = ngx_http_llmgw_clients_scopes(pool, tree, c[i].names,
                                                     &bad);
        if (c[i].ceiling == NULL) {
            goto failed;
        }

        if (c[i].pending_names == NULL) {
            continue;
        }

        c[i].pending = ngx_http_llmgw_clients_scopes(pool, tree,
                                                     c[i].pending_names,
                                                     &bad);
        if (c[i].pending == NULL) {
            goto failed;
        }
    }

    return NGX_OK;

failed:

    if (bad.len == 0) {
        return NGX_ERROR;
    }

    ngx_memzero(e, sizeof(ngx_http_llmgw_clients_error_t));
    e->line = c[i].line;
    e->text = "scope not in \"llmgw_scopes\"";
    e->value = bad;

    return NGX_DECLINED;
}


ngx_array_t *
ngx_http_llmgw_clients_scopes(ngx_pool_t *pool,
    ngx_http_llmgw_scope_tree_t *tree, ngx_array_t *names, ngx_str_t *bad)
{
    ngx_str_t                *n;
    ngx_uint_t                i;
    ngx_array_t              *a;
    ngx_http_llmgw_scope_t  **s;

    a = ngx_array_create(pool, names->nelts, sizeof(ngx_http_llmgw_scope_t *));
    if (a == NULL) {
        return NULL;
    }

    n = names->elts;

    for (i = 0; i < names->nelts; i++) {
        s = ngx_array_push(a);
        if (s == NULL) {
            return NULL;
        }

        *s = ngx_http_llmgw_scope_find(tree, &n[i]);

        if (*s == NULL) {
            *bad = n[i];
            return NULL;
        }
    }

    return a;
}


ngx_int_t
ngx_http_llmgw_clients_token_id(json_t *claims, ngx_str_t *names,
    ngx_str_t *id)
{
    json_t  *v;

    ngx_str_null(id);

    for ( /* void */ ; names->len; names++) {
        v = json_object_getn(claims, (const char *) names->data, names->len);

        if (v == NULL || json_is_null(v)) {
            continue;
        }

        if (!json_is_string(v)) {
            return NGX_DECLINED;
        }

        id->data = (u_char *) json_string_value(v);
        id->len = json_string_length(v);

        return NGX_OK;
    }

    return NGX_OK;
}


ngx_http_llmgw_client_t *
ngx_http_llmgw_clients_find(ngx_array_t *clients, ngx_str_t *id)
{
    ngx_int_t                 rc;
    ngx_uint_t                lo, hi, mid;
    ngx_http_llmgw_client_t  *c;

    c = clients->elts;
    lo = 0;
    hi = clients->nelts;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        rc = ngx_memn2cmp(id->data, c[mid].client_id.data, id->len,
                          c[mid].client_id.len);

        if (rc == 0) {
            return &c[mid];
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


ngx_int_t
ngx_http_llmgw_clients_cut(ngx_http_llmgw_scope_tree_t *tree,
    ngx_array_t *ceiling, ngx_array_t *granted, ngx_array_t *out)
{
    ngx_str_t                *g, *by;
    ngx_uint_t                i, j, k;
    ngx_http_llmgw_scope_t   *node, **c;

    g = granted->elts;
    c = ceiling->elts;

    for (i = 0; i < granted->nelts; i++) {
        node = ngx_http_llmgw_scope_find(tree, &g[i]);

        if (node == NULL) {
            continue;
        }

        for (j = 0; j < ceiling->nelts; j++) {

            /* g at or below the ceiling scope: g itself */

            by = node->satisfied_by.elts;

            for (k = 0; k < node->satisfied_by.nelts; k++) {
                if (by[k].len == c[j]->name.len
                    && ngx_strncmp(by[k].data, c[j]->name.data, by[k].len)
                       == 0)
                {
                    break;
                }
            }

            if (k < node->satisfied_by.nelts) {
                if (ngx_http_llmgw_clients_add(out, &node->name) != NGX_OK) {
                    return NGX_ERROR;
                }

                continue;
            }

            /* the ceiling scope below g: the ceiling scope */

            by = c[j]->satisfied_by.elts;

            for (k = 0; k < c[j]->satisfied_by.nelts; k++) {
                if (by[k].len == node->name.len
                    && ngx_strncmp(by[k].data, node->name.data, by[k].len)
                       == 0)
                {
                    if (ngx_http_llmgw_clients_add(out, &c[j]->name)
                        != NGX_OK)
                    {
                        return NGX_ERROR;
                    }

                    break;
                }
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_clients_add(ngx_array_t *out, ngx_str_t *name)
{
    ngx_str_t   *s;
    ngx_uint_t   i;

    s = out->elts;

    for (i = 0; i < out->nelts; i++) {
        if (s[i].len == name->len
            && ngx_strncmp(s[i].data, name->data, name->len) == 0)
        {
            return NGX_OK;
        }
    }

    s = ngx_array_push(out);
    if (s == NULL) {
        return NGX_ERROR;
    }

    *s = *name;

    return NGX_OK;
}


ngx_array_t *
ngx_http_llmgw_clients_split(ngx_pool_t *pool, ngx_str_t *text)
{
    u_char       *p, *last, *sp;
    ngx_str_t    *n;
    ngx_uint_t    count;
    ngx_array_t  *a;

    last = text->data + text->len;
    count = 1;

    for (p = text->data; p < last; p++) {
        count += (*p == ' ');
    }

    a = ngx_array_create(pool, count, sizeof(ngx_str_t));
    if (a == NULL) {
        return NULL;
    }

    for (p = text->data; p < last; p = sp + 1) {
        sp = ngx_strlchr(p, last, ' ');
        if (sp == NULL) {
            sp = last;
        }

        if (sp == p) {
            continue;
        }

        n = ngx_array_push(a);
        if (n == NULL) {
            return NULL;
        }

        n->data = p;
        n->len = sp - p;
    }

    return a;
}


ngx_int_t
ngx_http_llmgw_clients_join(ngx_pool_t *pool, ngx_array_t *names,
    ngx_str_t *text)
{
    u_char  *p;

    ngx_str_null(text);

    if (names == NULL || names->nelts == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(pool, ngx_http_llmgw_clients_names_len(names));
    if (p == NULL) {
        return NGX_ERROR;
    }

    text->data = p;
    text->len = ngx_http_llmgw_clients_names_cpy(p, names) - p;

    return NGX_OK;
}


ngx_array_t *
ngx_http_llmgw_clients_ceiling(ngx_pool_t *pool,
    ngx_http_llmgw_scope_tree_t *tree, ngx_str_t *text, ngx_str_t *dropped)
{
    ngx_str_t                *n;
    ngx_uint_t                i;
    ngx_array_t              *names, *a;
    ngx_http_llmgw_scope_t  **s, *node;

    ngx_str_null(dropped);

    names = ngx_http_llmgw_clients_split(pool, text);
    if (names == NULL) {
        return NULL;
    }

    a = ngx_array_create(pool, names->nelts + 1,
                         sizeof(ngx_http_llmgw_scope_t *));
    if (a == NULL) {
        return NULL;
    }

    n = names->elts;

    for (i = 0; i < names->nelts; i++) {
        node = ngx_http_llmgw_scope_find(tree, &n[i]);

        /* a scope removed from llmgw_scopes since the record was made */

        if (node == NULL) {
            if (dropped->len == 0) {
                *dropped = n[i];
            }

            continue;
        }

        s = ngx_array_push(a);
        if (s == NULL) {
            return NULL;
        }

        *s = node;
    }

    return a;
}


ngx_int_t
ngx_http_llmgw_clients_render(ngx_pool_t *pool, ngx_array_t *clients,
    ngx_str_t *text)
{
    u_char                   *p;
    size_t                    len;
    ngx_uint_t                i;
    ngx_http_llmgw_client_t  *c;

    c = clients->elts;
    len = sizeof(ngx_http_llmgw_clients_header);

    for (i = 0; i < clients->nelts; i++) {
        len += c[i].client_id.len + sizeof(",approved,,\n") - 1
               + ngx_http_llmgw_clients_names_len(c[i].names)
               + ngx_http_llmgw_clients_names_len(c[i].pending_names);
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    text->data = p;

    p = ngx_cpymem(p, ngx_http_llmgw_clients_header,
                   sizeof(ngx_http_llmgw_clients_header) - 1);
    *p++ = '\n';

    for (i = 0; i < clients->nelts; i++) {
        p = ngx_cpymem(p, c[i].client_id.data, c[i].client_id.len);

        if (c[i].status == NGX_HTTP_LLMGW_CLIENT_PENDING) {
            p = ngx_cpymem(p, ",pending,", sizeof(",pending,") - 1);

        } else {
            p = ngx_cpymem(p, ",approved,", sizeof(",approved,") - 1);
        }

        p = ngx_http_llmgw_clients_names_cpy(p, c[i].names);
        *p++ = ',';
        p = ngx_http_llmgw_clients_names_cpy(p, c[i].pending_names);
        *p++ = '\n';
    }

    text->len = p - text->data;

    return NGX_OK;
}


static size_t
ngx_http_llmgw_clients_names_len(ngx_array_t *names)
{
    size_t       len;
    ngx_str_t   *n;
    ngx_uint_t   i;

    if (names == NULL) {
        return 0;
    }

    len = 0;
    n = names->elts;

    for (i = 0; i < names->nelts; i++) {
        len += n[i].len + 1;
    }

    return len;
}


static u_char *
ngx_http_llmgw_clients_names_cpy(u_char *p, ngx_array_t *names)
{
    ngx_str_t   *n;
    ngx_uint_t   i;

    if (names == NULL) {
        return p;
    }

    n = names->elts;

    for (i = 0; i < names->nelts; i++) {
        if (i) {
            *p++ = ' ';
        }

        p = ngx_cpymem(p, n[i].data, n[i].len);
    }

    return p;
}
