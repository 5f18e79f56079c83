
/*
 * Copyright (C) llmgw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_include_usage.h"


typedef struct {
    u_char      *start;      /* the key's opening quote */
    u_char      *value;      /* the value's first byte */
    u_char      *end;        /* after the value */
    u_char      *prev_end;   /* after the previous member's value, or NULL */
    u_char      *next_start; /* the next member's opening quote, or NULL */
} ngx_http_llmgw_include_usage_member_t;


typedef struct {
    u_char      *open;       /* '{' */
    u_char      *close;      /* '}' */
    ngx_uint_t   members;
} ngx_http_llmgw_include_usage_object_t;


static ngx_int_t ngx_http_llmgw_include_usage_splice(ngx_pool_t *pool,
    u_char *body, size_t len, u_char *from, u_char *to, ngx_str_t *insert,
    ngx_str_t *out);
static ngx_int_t ngx_http_llmgw_include_usage_object(u_char *p, u_char *last,
    const char **names, ngx_http_llmgw_include_usage_member_t *m,
    ngx_uint_t n, ngx_http_llmgw_include_usage_object_t *o);
static u_char *ngx_http_llmgw_include_usage_value(u_char *p, u_char *last);
static u_char *ngx_http_llmgw_include_usage_key(u_char *p, u_char *last);
static u_char *ngx_http_llmgw_include_usage_string(u_char *p, u_char *last);
static u_char *ngx_http_llmgw_include_usage_number(u_char *p, u_char *last);
static u_char *ngx_http_llmgw_include_usage_literal(u_char *p, u_char *last,
    char *lit, size_t len);
static u_char *ngx_http_llmgw_include_usage_ws(u_char *p, u_char *last);
static ngx_uint_t ngx_http_llmgw_include_usage_key_is(u_char *p, u_char *last,
    const char *name);
static ngx_uint_t ngx_http_llmgw_include_usage_is(
    ngx_http_llmgw_include_usage_member_t *m, char *lit, size_t len);
static ngx_int_t ngx_http_llmgw_include_usage_event(
    ngx_http_llmgw_include_usage_sse_t *f, u_char *s, u_char *e,
    ngx_uint_t *dropped);
static ngx_int_t ngx_http_llmgw_include_usage_hold(
    ngx_http_llmgw_include_usage_sse_t *f, u_char *p, size_t n);
static ngx_int_t ngx_http_llmgw_include_usage_emit(
    ngx_http_llmgw_include_usage_sse_t *f, u_char *p, u_char *last);


static const char  *ngx_http_llmgw_include_usage_top[] = {
    "stream", "stream_options"
};

static const char  *ngx_http_llmgw_include_usage_options[] = {
    "include_usage"
};

static const char  *ngx_http_llmgw_include_usage_chunk[] = {
    "choices", "usage"
};


ngx_int_t
ngx_http_llmgw_include_usage_request(ngx_pool_t *pool, u_char *body,
    size_t len, ngx_str_t *out, const char **reason)
{
    u_char                                 *p, *last;
    ngx_int_t                               rc;
    ngx_str_t                               insert;
    ngx_http_llmgw_include_usage_member_t   m[2], im[1];
    ngx_http_llmgw_include_usage_object_t   o, io;

    last = body + len;

    p = ngx_http_llmgw_include_usage_ws(body, last);

    if (p == last || *p != '{') {
        *reason = "the body is not a JSON object";
        return NGX_DECLINED;
    }

    rc = ngx_http_llmgw_include_usage_object(p, last,
                                             ngx_http_llmgw_include_usage_top,
                                             m, 2, &o);

    if (rc == NGX_DECLINED) {
        *reason = "\"stream\" or \"stream_options\" is duplicate";
        return NGX_DECLINED;
    }

    if (rc != NGX_OK
        || ngx_http_llmgw_include_usage_ws(o.close + 1, last) != last)
    {
        *reason = "the body is not one valid JSON object";
        return NGX_DECLINED;
    }

    if (m[0].start == NULL
        || !ngx_http_llmgw_include_usage_is(&m[0], "true", 4))
    {
        *reason = "not streamed";
        return NGX_DECLINED;
    }

    if (m[1].start == NULL) {
        ngx_str_set(&insert, ",\"stream_options\":{\"include_usage\":true}");

        return ngx_http_llmgw_include_usage_splice(pool, body, len,
                                                   m[0].end, m[0].end,
                                                   &insert, out);
    }

    if (*m[1].value != '{') {
        *reason = "\"stream_options\" is not an object";
        return NGX_DECLINED;
    }

    rc = ngx_http_llmgw_include_usage_object(m[1].value, m[1].end,
                                      ngx_http_llmgw_include_usage_options,
                                      im, 1, &io);

    if (rc == NGX_DECLINED) {
        *reason = "\"include_usage\" is duplicate";
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        /* scanned once already as part of the body */
        *reason = "the body is not one valid JSON object";
        return NGX_DECLINED;
    }

    if (im[0].start == NULL) {
        if (io.members) {
            ngx_str_set(&insert, "\"include_usage\":true,");

        } else {
            ngx_str_set(&insert, "\"include_usage\":true");
        }

        return ngx_http_llmgw_include_usage_splice(pool, body, len,
                                                   io.open + 1, io.open + 1,
                                                   &insert, out);
    }

    if (ngx_http_llmgw_include_usage_is(&im[0], "true", 4)) {
        *reason = "the client asked for usage itself";
        return NGX_DECLINED;
    }

    if (ngx_http_llmgw_include_usage_is(&im[0], "false", 5)) {
        ngx_str_set(&insert, "true");

        return ngx_http_llmgw_include_usage_splice(pool, body, len,
                                                   im[0].value, im[0].end,
                                                   &insert, out);
    }

    *reason = "\"include_usage\" is not a boolean";

    return NGX_DECLINED;
}


ngx_uint_t
ngx_http_llmgw_include_usage_azure_version(u_char *v, size_t len)
{
    char        *first;
    ngx_uint_t   i;

    if (len == sizeof("2024-10-21") - 1) {
        first = "2024-10-21";

    } else if (len == sizeof("2024-09-01-preview") - 1
               && ngx_memcmp(v + 10, "-preview", 8) == 0)
    {
        first = "2024-09-01";

    } else {
        return 0;
    }

    for (i = 0; i < 10; i++) {
        if ((i == 4 || i == 7) ? v[i] != '-' : (v[i] < '0' || v[i] > '9')) {
            return 0;
        }
    }

    return (ngx_memcmp(v, first, 10) >= 0);
}


/* body with [from, to) replaced by insert */

static ngx_int_t
ngx_http_llmgw_include_usage_splice(ngx_pool_t *pool, u_char *body,
    size_t len, u_char *from, u_char *to, ngx_str_t *insert, ngx_str_t *out)
{
    u_char  *p;

    out->len = len - (to - from) + insert->len;

    out->data = ngx_pnalloc(pool, out->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(out->data, body, from - body);
    p = ngx_cpymem(p, insert->data, insert->len);
    ngx_memcpy(p, to, body + len - to);

    return NGX_OK;
}


/*
 * The object at p ('{'), validated whole; for each of the n names, its
 * member or a zeroed one.  NGX_OK; NGX_DECLINED: a name given twice;
 * NGX_ERROR: not valid JSON.
 */

static ngx_int_t
ngx_http_llmgw_include_usage_object(u_char *p, u_char *last,
    const char **names, ngx_http_llmgw_include_usage_member_t *m,
    ngx_uint_t n, ngx_http_llmgw_include_usage_object_t *o)
{
    u_char                                 *key, *prev;
    ngx_uint_t                              i, dup;
    ngx_http_llmgw_include_usage_member_t  *found;

    ngx_memzero(m, n * sizeof(ngx_http_llmgw_include_usage_member_t));

    o->open = p;
    o->members = 0;

    found = NULL;
    prev = NULL;
    dup = 0;

    p = ngx_http_llmgw_include_usage_ws(p + 1, last);

    if (p < last && *p == '}') {
        o->close = p;
        return NGX_OK;
    }

    for ( ;; ) {

        if (p == last || *p != '"') {
            return NGX_ERROR;
        }

        key = p;

        if (found) {
            found->next_start = key;
            found = NULL;
        }

        p = ngx_http_llmgw_include_usage_string(p, last);
        if (p == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < n; i++) {
            if (ngx_http_llmgw_include_usage_key_is(key + 1, p - 1,
                                                    names[i]))
            {
                if (m[i].start) {
                    dup = 1;
                }

                found = &m[i];
                found->start = key;
                found->prev_end = prev;
                found->next_start = NULL;
                break;
            }
        }

        p = ngx_http_llmgw_include_usage_ws(p, last);

        if (p == last || *p != ':') {
            return NGX_ERROR;
        }

        p = ngx_http_llmgw_include_usage_ws(p + 1, last);

        if (found) {
            found->value = p;
        }

        p = ngx_http_llmgw_include_usage_value(p, last);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (found) {
            found->end = p;
        }

        prev = p;
        o->members++;

        p = ngx_http_llmgw_include_usage_ws(p, last);

        if (p == last) {
            return NGX_ERROR;
        }

        if (*p == '}') {
            o->close = p;
            return dup ? NGX_DECLINED : NGX_OK;
        }

        if (*p != ',') {
            return NGX_ERROR;
        }

        p = ngx_http_llmgw_include_usage_ws(p + 1, last);
    }
}


/*
 * One JSON value at p (no whitespace before it), validated: its end, or
 * NULL.  Containers are walked with a stack of fixed depth, not recursion.
 */

static u_char *
ngx_http_llmgw_include_usage_value(u_char *p, u_char *last)
{
    u_char      stack[NGX_HTTP_LLMGW_INCLUDE_USAGE_MAX_DEPTH];
    ngx_uint_t  depth;

    depth = 0;

    for ( ;; ) {

        /* a value starts at p */

        p = ngx_http_llmgw_include_usage_ws(p, last);

        if (p == last) {
            return NULL;
        }

        switch (*p) {

        case '{':
        case '[':
            if (depth == NGX_HTTP_LLMGW_INCLUDE_USAGE_MAX_DEPTH) {
                return NULL;
            }

            stack[depth++] = (*p == '{') ? '}' : ']';

            p = ngx_http_llmgw_include_usage_ws(p + 1, last);

            if (p < last && *p == stack[depth - 1]) {
                depth--;
                p++;
                break;
            }

            if (stack[depth - 1] == '}') {
                p = ngx_http_llmgw_include_usage_key(p, last);
                if (p == NULL) {
                    return NULL;
                }
            }

            continue;

        case '"':
            p = ngx_http_llmgw_include_usage_string(p, last);
            break;

        case 't':
            p = ngx_http_llmgw_include_usage_literal(p, last, "true", 4);
            break;

        case 'f':
            p = ngx_http_llmgw_include_usage_literal(p, last, "false", 5);
            break;

        case 'n':
            p = ngx_http_llmgw_include_usage_literal(p, last, "null", 4);
            break;

        default:
            p = ngx_http_llmgw_include_usage_number(p, last);
            break;
        }

        if (p == NULL) {
            return NULL;
        }

        /* after a value: containers end, or the next value follows */

        for ( ;; ) {

            if (depth == 0) {
                return p;
            }

            p = ngx_http_llmgw_include_usage_ws(p, last);

            if (p == last) {
                return NULL;
            }

            if (*p == stack[depth - 1]) {
                depth--;
                p++;
                continue;
            }

            if (*p != ',') {
                return NULL;
            }

            p++;

            if (stack[depth - 1] == '}') {
                p = ngx_http_llmgw_include_usage_key(
                        ngx_http_llmgw_include_usage_ws(p, last), last);
                if (p == NULL) {
                    return NULL;
                }
            }

            break;
        }
    }
}


/* a member's key and colon at p: what follows the colon, or NULL */

static u_char *
ngx_http_llmgw_include_usage_key(u_char *p, u_char *last)
{
    if (p == last || *p != '"') {
        return NULL;
    }

    p = ngx_http_llmgw_include_usage_string(p, last);
    if (p == NULL) {
        return NULL;
    }

    p = ngx_http_llmgw_include_usage_ws(p, last);

    if (p == last || *p != ':') {
        return NULL;
    }

    return p + 1;
}


/* the string at p ('"'): after its closing quote, or NULL */

static u_char *
ngx_http_llmgw_include_usage_string(u_char *p, u_char *last)
{
    ngx_uint_t  i;

    for (p++; p < last; p++) {

        if (*p == '"') {
            return p + 1;
        }

        if (*p < 0x20) {
            return NULL;
        }

        if (*p != '\\') {
            continue;
        }

        if (++p == last) {
            return NULL;
        }

        switch (*p) {

        case '"': case '\\': case '/':
        case 'b': case 'f': case 'n': case 'r': case 't':
            break;

        case 'u':
            if (last - p < 5) {
                return NULL;
            }

            for (i = 1; i <= 4; i++) {
                if (!isxdigit(p[i])) {
                    return NULL;
                }
            }

            p += 4;
            break;

        default:
            return NULL;
        }
    }

    return NULL;
}


static u_char *
ngx_http_llmgw_include_usage_number(u_char *p, u_char *last)
{
    u_char  *d;

    if (p < last && *p == '-') {
        p++;
    }

    if (p == last || *p < '0' || *p > '9') {
        return NULL;
    }

    if (*p == '0') {
        p++;

    } else {
        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < last && *p == '.') {
        d = ++p;

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == d) {
            return NULL;
        }
    }

    if (p < last && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < last && (*p == '+' || *p == '-')) {
            p++;
        }

        d = p;

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == d) {
            return NULL;
        }
    }

    return p;
}


static u_char *
ngx_http_llmgw_include_usage_literal(u_char *p, u_char *last, char *lit,
    size_t len)
{
    if ((size_t) (last - p) < len || ngx_memcmp(p, lit, len) != 0) {
        return NULL;
    }

    return p + len;
}


static u_char *
ngx_http_llmgw_include_usage_ws(u_char *p, u_char *last)
{
    while (p < last
           && (*p == ' ' || *p == '\t' || *p == CR || *p == LF))
    {
        p++;
    }

    return p;
}


/*
 * A key's content [p, last) (valid: scanned already) against an ASCII
 * name, escapes decoded: "stre\u0061m" is "stream".
 */

static ngx_uint_t
ngx_http_llmgw_include_usage_key_is(u_char *p, u_char *last, const char *name)
{
    u_char      c;
    ngx_uint_t  i, n;

    for ( /* void */ ; p < last; name++) {

        if (*name == '\0') {
            return 0;
        }

        c = *p++;

        if (c == '\\') {
            c = *p++;

            switch (c) {

            case 'u':
                n = 0;

                for (i = 0; i < 4; i++) {
                    c = p[i];
                    n = n * 16 + ((c >= '0' && c <= '9') ? c - '0'
                                  : (c | 0x20) - 'a' + 10);
                }

                p += 4;

                if (n >= 0x80) {
                    return 0;
                }

                c = (u_char) n;
                break;

            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;

            default: /* '"', '\\', '/' */
                break;
            }
        }

        if (c != (u_char) *name) {
            return 0;
        }
    }

    return (*name == '\0');
}


static ngx_uint_t
ngx_http_llmgw_include_usage_is(ngx_http_llmgw_include_usage_member_t *m,
    char *lit, size_t len)
{
    return ((size_t) (m->end - m->value) == len
            && ngx_memcmp(m->value, lit, len) == 0);
}


void
ngx_http_llmgw_include_usage_sse_init(ngx_http_llmgw_include_usage_sse_t *f,
    ngx_pool_t *pool, size_t max, size_t size,
    ngx_http_llmgw_include_usage_emit_pt emit, void *data)
{
    ngx_memzero(f, sizeof(ngx_http_llmgw_include_usage_sse_t));

    f->pool = pool;
    f->emit = emit;
    f->data = data;
    f->max = max;
    f->size = size + max;
    f->bol = 1;
}


ngx_int_t
ngx_http_llmgw_include_usage_sse_feed(ngx_http_llmgw_include_usage_sse_t *f,
    u_char *pos, u_char *last)
{
    u_char      *p, *ev, c;
    ngx_uint_t   end, dropped;

    ev = pos;

    for (p = pos; p < last; p++) {

        c = *p;

        /* the LF of an event's final CR LF goes, or not, with the event */

        if (f->lf) {
            if (c == LF) {
                if (f->lf == 1
                    && ngx_http_llmgw_include_usage_emit(f, p, p + 1)
                       != NGX_OK)
                {
                    return NGX_ERROR;
                }

                f->lf = 0;
                ev = p + 1;
                continue;
            }

            f->lf = 0;
        }

        end = 0;

        if (c == CR) {
            if (f->bol) {
                end = 1;

            } else {
                f->bol = 1;
                f->cr = 1;
            }

        } else if (c == LF) {
            if (f->cr) {
                f->cr = 0;

            } else if (f->bol) {
                end = 1;

            } else {
                f->bol = 1;
            }

        } else {
            f->bol = 0;
            f->cr = 0;
        }

        f->len++;

        if (f->len > f->max && !f->passing) {

            /* too long to inspect: what came goes, the rest as it comes */

            if (ngx_http_llmgw_include_usage_emit(f, f->hold, f->last)
                != NGX_OK
                || ngx_http_llmgw_include_usage_emit(f, ev, p + 1)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

            f->hold = f->last;
            ev = p + 1;
            f->passing = 1;
        }

        if (!end) {
            continue;
        }

        dropped = 0;

        if (f->passing) {
            if (ngx_http_llmgw_include_usage_emit(f, ev, p + 1) != NGX_OK) {
                return NGX_ERROR;
            }

            f->passing = 0;
            f->oversized++;

        } else if (f->last != f->hold) {
            if (ngx_http_llmgw_include_usage_hold(f, ev, p + 1 - ev)
                != NGX_OK
                || ngx_http_llmgw_include_usage_event(f, f->hold, f->last,
                                                      &dropped)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

            f->hold = f->last;

        } else if (ngx_http_llmgw_include_usage_event(f, ev, p + 1, &dropped)
                   != NGX_OK)
        {
            return NGX_ERROR;
        }

        f->events++;
        f->len = 0;
        f->bol = 1;
        f->cr = 0;

        if (c == CR) {
            f->lf = dropped ? 2 : 1;
        }

        ev = p + 1;
    }

    if (ev == last) {
        return NGX_OK;
    }

    if (f->passing) {
        return ngx_http_llmgw_include_usage_emit(f, ev, last);
    }

    return ngx_http_llmgw_include_usage_hold(f, ev, last - ev);
}


ngx_int_t
ngx_http_llmgw_include_usage_sse_finish(ngx_http_llmgw_include_usage_sse_t *f)
{
    if (ngx_http_llmgw_include_usage_emit(f, f->hold, f->last) != NGX_OK) {
        return NGX_ERROR;
    }

    f->hold = f->last;
    f->len = 0;

    return NGX_OK;
}


void
ngx_http_llmgw_include_usage_sse_release(ngx_http_llmgw_include_usage_sse_t *f)
{
    size_t  held;

    if (f->start == NULL || f->hold == f->start) {
        return;
    }

    held = f->last - f->hold;

    ngx_memmove(f->start, f->hold, held);

    f->hold = f->start;
    f->last = f->start + held;
}


/*
 * A whole event [s, e): handed out without what include_usage added to it,
 * or not at all when it is the usage chunk.
 */

static ngx_int_t
ngx_http_llmgw_include_usage_event(ngx_http_llmgw_include_usage_sse_t *f,
    u_char *s, u_char *e, ngx_uint_t *dropped)
{
    u_char                                 *p, *ls, *le, *vs, *ve, *from, *to;
    ngx_uint_t                              data;
    ngx_http_llmgw_include_usage_member_t   m[2], *usage;
    ngx_http_llmgw_include_usage_object_t   o;

    data = 0;
    vs = NULL;
    ve = NULL;

    for (p = s; p < e; /* void */ ) {
        ls = p;

        while (p < e && *p != CR && *p != LF) {
            p++;
        }

        le = p;

        if (p < e) {
            p += (*p == CR && p + 1 < e && p[1] == LF) ? 2 : 1;
        }

        if (le - ls >= 4
            && ngx_memcmp(ls, "data", 4) == 0
            && (le - ls == 4 || ls[4] == ':'))
        {
            data++;

            vs = ls + ((le - ls == 4) ? 4 : 5);

            if (vs < le && *vs == ' ') {
                vs++;
            }

            ve = le;
        }
    }

    if (data != 1) {
        return ngx_http_llmgw_include_usage_emit(f, s, e);
    }

    vs = ngx_http_llmgw_include_usage_ws(vs, ve);

    if (vs == ve
        || *vs != '{'
        || ngx_http_llmgw_include_usage_object(vs, ve,
                                            ngx_http_llmgw_include_usage_chunk,
                                            m, 2, &o)
           != NGX_OK
        || ngx_http_llmgw_include_usage_ws(o.close + 1, ve) != ve
        || m[1].start == NULL)
    {
        return ngx_http_llmgw_include_usage_emit(f, s, e);
    }

    usage = &m[1];

    if (ngx_http_llmgw_include_usage_is(usage, "null", 4)) {

        /* the member goes with the comma before it, or else after it */

        if (usage->prev_end) {
            from = usage->prev_end;
            to = usage->end;

        } else if (usage->next_start) {
            from = usage->start;
            to = usage->next_start;

        } else {
            from = usage->start;
            to = usage->end;
        }

        f->stripped++;

        if (ngx_http_llmgw_include_usage_emit(f, s, from) != NGX_OK) {
            return NGX_ERROR;
        }

        return ngx_http_llmgw_include_usage_emit(f, to, e);
    }

    if (*usage->value == '{' && m[0].start && *m[0].value == '[') {
        p = ngx_http_llmgw_include_usage_ws(m[0].value + 1, m[0].end);

        if (p + 1 == m[0].end) {
            f->dropped++;
            *dropped = 1;
            return NGX_OK;
        }
    }

    return ngx_http_llmgw_include_usage_emit(f, s, e);
}


/* n more bytes of the event in progress, which fits the maximum */

static ngx_int_t
ngx_http_llmgw_include_usage_hold(ngx_http_llmgw_include_usage_sse_t *f,
    u_char *p, size_t n)
{
    u_char  *start;
    size_t   held;

    if ((size_t) (f->end - f->last) < n) {

        /*
         * the region is full of what may not have gone yet: a new one, the
         * old one left to the pool
         */

        held = f->last - f->hold;

        start = ngx_pnalloc(f->pool, f->size);
        if (start == NULL) {
            return NGX_ERROR;
        }

        if (held) {
            ngx_memcpy(start, f->hold, held);
        }

        f->start = start;
        f->end = start + f->size;
        f->hold = start;
        f->last = start + held;
        f->regions++;
    }

    f->last = ngx_cpymem(f->last, p, n);

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_include_usage_emit(ngx_http_llmgw_include_usage_sse_t *f,
    u_char *p, u_char *last)
{
    if (p == last) {
        return NGX_OK;
    }

    return f->emit(f->data, p, last - p);
}
