
/*
 * Copyright (C) llmgw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_redact.h"


typedef enum {
    NGX_HTTP_LLMGW_REDACT_JSON = 0,      /* between tokens, or in an atom */
    NGX_HTTP_LLMGW_REDACT_STRING,        /* in a string that is a value */
    NGX_HTTP_LLMGW_REDACT_NAME,          /* in a member name */
    NGX_HTTP_LLMGW_REDACT_AFTER_NAME,    /* a name ended, ':' expected */
    NGX_HTTP_LLMGW_REDACT_VALUE,         /* after ':' of a redacted name */
    NGX_HTTP_LLMGW_REDACT_SKIP_STRING,   /* in a redacted string */
    NGX_HTTP_LLMGW_REDACT_SKIP_NEST,     /* in a redacted object, array */
    NGX_HTTP_LLMGW_REDACT_SKIP_ATOM      /* in a redacted number, literal */
} ngx_http_llmgw_redact_state_e;


typedef struct {
    ngx_http_llmgw_redact_conf_t   *conf;
    u_char                         *out;       /* NULL: counting */
    size_t                          n;         /* output so far */

    ngx_http_llmgw_redact_state_e   state;
    ngx_uint_t                      depth;
    u_char                          stack[NGX_HTTP_LLMGW_REDACT_MAX_DEPTH];
    ngx_uint_t                      name_next; /* a string now is a name */
    ngx_uint_t                      matched;   /* the name is redacted */

    /* a member name, decoded */
    u_char                          name[NGX_HTTP_LLMGW_REDACT_MAX_NAME];
    size_t                          name_len;
    ngx_uint_t                      name_bad;  /* too long, a bad escape */
    ngx_uint_t                      esc;       /* 1: after '\', 2-5: \u */
    ngx_uint_t                      code;      /* \u's value so far */

    size_t                          skip;      /* nesting of a skipped
                                                  object or array */
    ngx_uint_t                      skip_str;  /* in a string in it */
} ngx_http_llmgw_redact_t;


static void ngx_http_llmgw_redact_emit(ngx_http_llmgw_redact_t *st,
    u_char *p, size_t len);
static void ngx_http_llmgw_redact_byte(ngx_http_llmgw_redact_t *st,
    u_char *p);
static void ngx_http_llmgw_redact_token(ngx_http_llmgw_redact_t *st,
    u_char *p);
static void ngx_http_llmgw_redact_name(ngx_http_llmgw_redact_t *st,
    u_char c);
static void ngx_http_llmgw_redact_name_add(ngx_http_llmgw_redact_t *st,
    ngx_uint_t code);
static ngx_uint_t ngx_http_llmgw_redact_match(ngx_http_llmgw_redact_t *st);
static void ngx_http_llmgw_redact_start(ngx_http_llmgw_redact_t *st,
    u_char c);
static void ngx_http_llmgw_redact_reset(ngx_http_llmgw_redact_t *st);


#define ngx_http_llmgw_redact_space(c)                                        \
    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

#define ngx_http_llmgw_redact_delim(c)                                        \
    (ngx_http_llmgw_redact_space(c) || (c) == ',' || (c) == '}'               \
     || (c) == ']' || (c) == ':' || (c) == '"' || (c) == '{' || (c) == '[')


size_t
ngx_http_llmgw_redact(ngx_http_llmgw_redact_conf_t *conf, u_char *in,
    size_t len, u_char *out)
{
    u_char                   *p, *last, *start;
    ngx_uint_t                data;
    ngx_http_llmgw_redact_t   st;

    ngx_memzero(&st, sizeof(ngx_http_llmgw_redact_t));

    st.conf = conf;
    st.out = out;

    p = in;
    last = in + len;

    if (!conf->sse) {
        while (p < last) {
            ngx_http_llmgw_redact_byte(&st, p++);
        }

        return st.n;
    }

    /*
     * an event stream: the JSON of the "data:" lines of an event is one
     * document (the lines are joined, the line ends are not part of it);
     * other lines are copied; a blank line ends the event and its document
     */

    while (p < last) {

        if (*p == '\r' || *p == '\n') {
            start = p;
            p += (*p == '\r' && p + 1 < last && p[1] == '\n') ? 2 : 1;

            ngx_http_llmgw_redact_emit(&st, start, p - start);
            ngx_http_llmgw_redact_reset(&st);
            continue;
        }

        data = 0;

        if (last - p >= 5 && ngx_strncmp(p, "data:", 5) == 0) {
            ngx_http_llmgw_redact_emit(&st, p, 5);
            p += 5;
            data = 1;
        }

        while (p < last && *p != '\r' && *p != '\n') {
            if (data) {
                ngx_http_llmgw_redact_byte(&st, p);

            } else {
                ngx_http_llmgw_redact_emit(&st, p, 1);
            }

            p++;
        }

        if (p == last) {
            break;
        }

        start = p;
        p += (*p == '\r' && p + 1 < last && p[1] == '\n') ? 2 : 1;

        ngx_http_llmgw_redact_emit(&st, start, p - start);
    }

    return st.n;
}


static void
ngx_http_llmgw_redact_emit(ngx_http_llmgw_redact_t *st, u_char *p,
    size_t len)
{
    if (st->out != NULL) {
        if (len == 1) {
            st->out[st->n] = *p;

        } else {
            ngx_memcpy(st->out + st->n, p, len);
        }
    }

    st->n += len;
}


static void
ngx_http_llmgw_redact_byte(ngx_http_llmgw_redact_t *st, u_char *p)
{
    u_char  c;

    c = *p;

    switch (st->state) {

    case NGX_HTTP_LLMGW_REDACT_JSON:
        ngx_http_llmgw_redact_token(st, p);
        return;

    case NGX_HTTP_LLMGW_REDACT_STRING:
        ngx_http_llmgw_redact_emit(st, p, 1);

        if (st->esc) {
            st->esc = 0;

        } else if (c == '\\') {
            st->esc = 1;

        } else if (c == '"') {
            st->state = NGX_HTTP_LLMGW_REDACT_JSON;
        }

        return;

    case NGX_HTTP_LLMGW_REDACT_NAME:
        ngx_http_llmgw_redact_name(st, c);
        ngx_http_llmgw_redact_emit(st, p, 1);
        return;

    case NGX_HTTP_LLMGW_REDACT_AFTER_NAME:
        if (ngx_http_llmgw_redact_space(c)) {
            ngx_http_llmgw_redact_emit(st, p, 1);
            return;
        }

        if (c == ':') {
            ngx_http_llmgw_redact_emit(st, p, 1);
            st->state = st->matched ? NGX_HTTP_LLMGW_REDACT_VALUE
                                    : NGX_HTTP_LLMGW_REDACT_JSON;
            st->matched = 0;
            return;
        }

        st->matched = 0;
        ngx_http_llmgw_redact_token(st, p);
        return;

    case NGX_HTTP_LLMGW_REDACT_VALUE:
        if (ngx_http_llmgw_redact_space(c)) {
            ngx_http_llmgw_redact_emit(st, p, 1);
            return;
        }

        if (c == ',' || c == '}' || c == ']') {
            /* no value at all */
            ngx_http_llmgw_redact_token(st, p);
            return;
        }

        ngx_http_llmgw_redact_start(st, c);
        return;

    case NGX_HTTP_LLMGW_REDACT_SKIP_STRING:
        if (st->esc) {
            st->esc = 0;

        } else if (c == '\\') {
            st->esc = 1;

        } else if (c == '"') {
            st->state = NGX_HTTP_LLMGW_REDACT_JSON;
        }

        return;

    case NGX_HTTP_LLMGW_REDACT_SKIP_NEST:
        if (st->skip_str) {
            if (st->esc) {
                st->esc = 0;

            } else if (c == '\\') {
                st->esc = 1;

            } else if (c == '"') {
                st->skip_str = 0;
            }

            return;
        }

        if (c == '"') {
            st->skip_str = 1;

        } else if (c == '{' || c == '[') {
            st->skip++;

        } else if ((c == '}' || c == ']') && --st->skip == 0) {
            st->state = NGX_HTTP_LLMGW_REDACT_JSON;
        }

        return;

    default: /* NGX_HTTP_LLMGW_REDACT_SKIP_ATOM */
        if (ngx_http_llmgw_redact_delim(c)) {
            st->state = NGX_HTTP_LLMGW_REDACT_JSON;
            ngx_http_llmgw_redact_token(st, p);
        }

        return;
    }
}


/* a byte between tokens, or of a number or literal that is kept */

static void
ngx_http_llmgw_redact_token(ngx_http_llmgw_redact_t *st, u_char *p)
{
    u_char  c;

    c = *p;
    st->state = NGX_HTTP_LLMGW_REDACT_JSON;

    switch (c) {

    case '{':
    case '[':
        if (st->depth == NGX_HTTP_LLMGW_REDACT_MAX_DEPTH) {
            /* too deep to tell names from values: the whole of it goes */
            ngx_http_llmgw_redact_start(st, c);
            return;
        }

        st->stack[st->depth++] = c;
        st->name_next = (c == '{');
        break;

    case '}':
    case ']':
        if (st->depth) {
            st->depth--;
        }

        st->name_next = 0;
        break;

    case ',':
        st->name_next = (st->depth && st->stack[st->depth - 1] == '{');
        break;

    case ':':
        st->name_next = 0;
        break;

    case '"':
        if (st->name_next) {
            st->state = NGX_HTTP_LLMGW_REDACT_NAME;
            st->name_len = 0;
            st->name_bad = 0;

        } else {
            st->state = NGX_HTTP_LLMGW_REDACT_STRING;
        }

        st->esc = 0;
        st->name_next = 0;
        break;

    default:
        break;
    }

    ngx_http_llmgw_redact_emit(st, p, 1);
}


/* a byte of a member name: decoded into st->name, the name compared */

static void
ngx_http_llmgw_redact_name(ngx_http_llmgw_redact_t *st, u_char c)
{
    u_char      lc;
    ngx_uint_t  hex;

    if (st->esc >= 2) {
        lc = ngx_tolower(c);

        if (lc >= '0' && lc <= '9') {
            hex = lc - '0';

        } else if (lc >= 'a' && lc <= 'f') {
            hex = lc - 'a' + 10;

        } else {
            /*
             * not a name any provider accepts: never matched, and c is
             * taken as a character of the name
             */
            st->name_bad = 1;
            st->esc = 0;
            goto plain;
        }

        st->code = st->code * 16 + hex;

        if (++st->esc == 6) {
            ngx_http_llmgw_redact_name_add(st, st->code);
            st->esc = 0;
        }

        return;
    }

    if (st->esc == 1) {
        st->esc = 0;

        switch (c) {
        case 'u':
            st->esc = 2;
            st->code = 0;
            return;
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;
        default:
            break;
        }

        ngx_http_llmgw_redact_name_add(st, c);
        return;
    }

plain:

    if (c == '\\') {
        st->esc = 1;
        return;
    }

    if (c == '"') {
        st->matched = ngx_http_llmgw_redact_match(st);
        st->state = NGX_HTTP_LLMGW_REDACT_AFTER_NAME;
        return;
    }

    ngx_http_llmgw_redact_name_add(st, c);
}


/* a character of a name, UTF-8 encoded */

static void
ngx_http_llmgw_redact_name_add(ngx_http_llmgw_redact_t *st, ngx_uint_t code)
{
    u_char  buf[3], *p;
    size_t  n;

    p = buf;

    if (code < 0x80) {
        *p++ = (u_char) code;

    } else if (code < 0x800) {
        *p++ = (u_char) (0xc0 | (code >> 6));
        *p++ = (u_char) (0x80 | (code & 0x3f));

    } else {
        *p++ = (u_char) (0xe0 | (code >> 12));
        *p++ = (u_char) (0x80 | ((code >> 6) & 0x3f));
        *p++ = (u_char) (0x80 | (code & 0x3f));
    }

    n = p - buf;

    if (st->name_len + n > NGX_HTTP_LLMGW_REDACT_MAX_NAME) {
        st->name_bad = 1;
        return;
    }

    ngx_memcpy(st->name + st->name_len, buf, n);
    st->name_len += n;
}


static ngx_uint_t
ngx_http_llmgw_redact_match(ngx_http_llmgw_redact_t *st)
{
    ngx_uint_t  i;
    ngx_str_t  *name;

    if (st->name_bad) {
        return 0;
    }

    name = st->conf->names;

    for (i = 0; i < st->conf->nnames; i++) {
        if (name[i].len == st->name_len
            && ngx_memcmp(name[i].data, st->name, st->name_len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* a redacted value starts with c: the replacement now, the value skipped */

static void
ngx_http_llmgw_redact_start(ngx_http_llmgw_redact_t *st, u_char c)
{
    ngx_http_llmgw_redact_emit(st, (u_char *) NGX_HTTP_LLMGW_REDACTED,
                               sizeof(NGX_HTTP_LLMGW_REDACTED) - 1);

    st->esc = 0;
    st->name_next = 0;

    if (c == '"') {
        st->state = NGX_HTTP_LLMGW_REDACT_SKIP_STRING;

    } else if (c == '{' || c == '[') {
        st->state = NGX_HTTP_LLMGW_REDACT_SKIP_NEST;
        st->skip = 1;
        st->skip_str = 0;

    } else {
        st->state = NGX_HTTP_LLMGW_REDACT_SKIP_ATOM;
    }
}


/* an event ended: the next one's data is a document of its own */

static void
ngx_http_llmgw_redact_reset(ngx_http_llmgw_redact_t *st)
{
    st->state = NGX_HTTP_LLMGW_REDACT_JSON;
    st->depth = 0;
    st->name_next = 0;
    st->matched = 0;
    st->esc = 0;
    st->skip = 0;
    st->skip_str = 0;
}
