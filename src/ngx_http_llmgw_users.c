
/*
 * Copyright (C) llmgw authors
 *
 * The user directory's CSV.  Records are split by RFC 4180 (quoted values
 * may hold commas, quotes written twice and line breaks; a quote anywhere
 * else is an error), then every value is checked strictly: UTF-8, no
 * control characters, nothing a spreadsheet would run as a formula (a
 * text value starting with = + - @), real calendar dates, a known status,
 * each user_id once.  Every error is kept with the line its record starts
 * on; one error refuses the file.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <stdlib.h>

#include "ngx_http_llmgw_users.h"


#define NGX_HTTP_LLMGW_USERS_COLUMNS   9


typedef struct {
    u_char                        *pos;
    u_char                        *last;
    ngx_uint_t                     line;      /* of pos */
    ngx_str_t                      fields[NGX_HTTP_LLMGW_USERS_COLUMNS];
    ngx_uint_t                     nfields;   /* may exceed COLUMNS */
    u_char                        *buf;       /* COLUMNS * MAX_FIELD */
    ngx_http_llmgw_users_t        *out;
} ngx_http_llmgw_users_ctx_t;


static ngx_int_t ngx_http_llmgw_users_record(ngx_http_llmgw_users_ctx_t *ctx,
    const char **err);
static void ngx_http_llmgw_users_skip_line(ngx_http_llmgw_users_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_users_header(ngx_http_llmgw_users_ctx_t *ctx);
static ngx_int_t ngx_http_llmgw_users_user(ngx_pool_t *pool,
    ngx_http_llmgw_users_ctx_t *ctx, ngx_uint_t line);
static const char *ngx_http_llmgw_users_text(ngx_str_t *v,
    ngx_uint_t required);
static const char *ngx_http_llmgw_users_id(ngx_str_t *v);
static const char *ngx_http_llmgw_users_email(ngx_str_t *v);
static const char *ngx_http_llmgw_users_phone(ngx_str_t *v);
static const char *ngx_http_llmgw_users_date(ngx_str_t *v, ngx_int_t *days);
static ngx_uint_t ngx_http_llmgw_users_utf8(u_char *p, size_t len);
static void ngx_http_llmgw_users_error(ngx_http_llmgw_users_t *out,
    ngx_uint_t line, const char *field, const char *text, ngx_uint_t first);
static void ngx_http_llmgw_users_duplicates(ngx_http_llmgw_users_t *out,
    ngx_http_llmgw_user_t **sorted);
static int ngx_http_llmgw_users_cmp_id(const void *a, const void *b);
static int ngx_http_llmgw_users_cmp_error(const void *a, const void *b);


static const char  *ngx_http_llmgw_users_columns[] = {
    "user_id", "name", "email", "department", "job_title", "phone",
    "start_date", "end_date", "status"
};


ngx_int_t
ngx_http_llmgw_users_parse(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_uint_t max_users, ngx_http_llmgw_users_t *out)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i, line;
    const char                  *err;
    ngx_http_llmgw_user_t       *u, **sorted;
    ngx_http_llmgw_users_ctx_t   ctx;

    ngx_memzero(out, sizeof(ngx_http_llmgw_users_t));

    if (ngx_array_init(&out->users, pool, 64, sizeof(ngx_http_llmgw_user_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_memzero(&ctx, sizeof(ngx_http_llmgw_users_ctx_t));

    ctx.buf = ngx_pnalloc(pool, NGX_HTTP_LLMGW_USERS_COLUMNS
                                * NGX_HTTP_LLMGW_USERS_MAX_FIELD);
    if (ctx.buf == NULL) {
        return NGX_ERROR;
    }

    ctx.pos = data;
    ctx.last = data + len;
    ctx.line = 1;
    ctx.out = out;

    /* a BOM, as spreadsheets write UTF-8 */

    if (len >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) {
        ctx.pos += 3;
    }

    if (ctx.pos == ctx.last) {
        ngx_http_llmgw_users_error(out, 1, NULL, "empty file", 0);
        return NGX_DECLINED;
    }

    while (ctx.pos < ctx.last) {
        line = ctx.line;

        rc = ngx_http_llmgw_users_record(&ctx, &err);

        if (line == 1) {
            if (rc != NGX_OK || ngx_http_llmgw_users_header(&ctx) != NGX_OK) {
                ngx_http_llmgw_users_error(out, 1, NULL,
                                           "header must be \"user_id,name,"
                                           "email,department,job_title,"
                                           "phone,start_date,end_date,"
                                           "status\"", 0);
                return NGX_DECLINED;
            }

            continue;
        }

        if (rc == NGX_DECLINED) {
            ngx_http_llmgw_users_error(out, line, NULL, err, 0);
            continue;
        }

        if (ctx.nfields != NGX_HTTP_LLMGW_USERS_COLUMNS) {
            ngx_http_llmgw_users_error(out, line, NULL,
                                       "wrong number of columns", 0);
            continue;
        }

        if (out->users.nelts == max_users) {
            ngx_http_llmgw_users_error(out, line, NULL, "too many users", 0);
            break;
        }

        if (ngx_http_llmgw_users_user(pool, &ctx, line) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /* each user_id once: sorted, equal neighbours are duplicates */

    if (out->users.nelts > 1) {
        sorted = ngx_palloc(pool, out->users.nelts * sizeof(void *));
        if (sorted == NULL) {
            return NGX_ERROR;
        }

        u = out->users.elts;

        for (i = 0; i < out->users.nelts; i++) {
            sorted[i] = &u[i];
        }

        ngx_http_llmgw_users_duplicates(out, sorted);
    }

    if (out->nerrors == 0) {
        return NGX_OK;
    }

    qsort(out->errors, ngx_min(out->nerrors, NGX_HTTP_LLMGW_USERS_MAX_ERRORS),
          sizeof(ngx_http_llmgw_users_error_t),
          ngx_http_llmgw_users_cmp_error);

    return NGX_DECLINED;
}


/*
 * One record from ctx->pos into ctx->fields (unquoted into ctx->buf),
 * ctx->pos after its line break.  NGX_DECLINED with *err: a quote out of
 * place, a value too long, a bare CR; the rest of the line is skipped.
 */

static ngx_int_t
ngx_http_llmgw_users_record(ngx_http_llmgw_users_ctx_t *ctx,
    const char **err)
{
    u_char      *p, *last, *start, *b;
    ngx_uint_t   quoted, n;

    p = ctx->pos;
    last = ctx->last;
    n = 0;

    for ( ;; ) {

        start = ctx->buf + ngx_min(n, NGX_HTTP_LLMGW_USERS_COLUMNS - 1)
                           * NGX_HTTP_LLMGW_USERS_MAX_FIELD;
        b = start;
        quoted = (p < last && *p == '"');

        if (quoted) {
            p++;

            for ( ;; ) {
                if (p == last) {
                    ctx->pos = p;
                    *err = "quoted value not closed";
                    return NGX_DECLINED;
                }

                if (*p == '"') {
                    if (p + 1 < last && p[1] == '"') {
                        p++;

                    } else {
                        p++;
                        break;
                    }

                } else if (*p == '\n') {
                    ctx->line++;
                }

                if (b - start == NGX_HTTP_LLMGW_USERS_MAX_FIELD) {
                    ctx->pos = p;
                    ngx_http_llmgw_users_skip_line(ctx);
                    *err = "value too long";
                    return NGX_DECLINED;
                }

                *b++ = *p++;
            }

            if (p < last && *p != ',' && *p != '\r' && *p != '\n') {
                ctx->pos = p;
                ngx_http_llmgw_users_skip_line(ctx);
                *err = "text after a closing quote";
                return NGX_DECLINED;
            }

        } else {
            while (p < last && *p != ',' && *p != '\r' && *p != '\n') {

                if (*p == '"') {
                    ctx->pos = p;
                    ngx_http_llmgw_users_skip_line(ctx);
                    *err = "quote in an unquoted value";
                    return NGX_DECLINED;
                }

                if (b - start == NGX_HTTP_LLMGW_USERS_MAX_FIELD) {
                    ctx->pos = p;
                    ngx_http_llmgw_users_skip_line(ctx);
                    *err = "value too long";
                    return NGX_DECLINED;
                }

                *b++ = *p++;
            }
        }

        if (n < NGX_HTTP_LLMGW_USERS_COLUMNS) {
            ctx->fields[n].data = start;
            ctx->fields[n].len = b - start;
        }

        n++;

        if (p < last && *p == ',') {
            p++;
            continue;
        }

        break;
    }

    ctx->nfields = n;

    if (p == last) {
        ctx->pos = p;
        return NGX_OK;
    }

    if (*p == '\r') {
        if (p + 1 == last || p[1] != '\n') {
            ctx->pos = p;
            ngx_http_llmgw_users_skip_line(ctx);
            *err = "CR without LF";
            return NGX_DECLINED;
        }

        p++;
    }

    /* *p == '\n' */

    ctx->pos = p + 1;
    ctx->line++;

    return NGX_OK;
}


static void
ngx_http_llmgw_users_skip_line(ngx_http_llmgw_users_ctx_t *ctx)
{
    u_char  *p;

    p = ngx_strlchr(ctx->pos, ctx->last, '\n');

    if (p == NULL) {
        ctx->pos = ctx->last;
        return;
    }

    ctx->pos = p + 1;
    ctx->line++;
}


static ngx_int_t
ngx_http_llmgw_users_header(ngx_http_llmgw_users_ctx_t *ctx)
{
    size_t      len;
    ngx_uint_t  i;

    if (ctx->nfields != NGX_HTTP_LLMGW_USERS_COLUMNS) {
        return NGX_DECLINED;
    }

    for (i = 0; i < NGX_HTTP_LLMGW_USERS_COLUMNS; i++) {
        len = ngx_strlen(ngx_http_llmgw_users_columns[i]);

        if (ctx->fields[i].len != len
            || ngx_strncmp(ctx->fields[i].data,
                           ngx_http_llmgw_users_columns[i], len)
               != 0)
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* the record's values checked, the user added when all are right */

static ngx_int_t
ngx_http_llmgw_users_user(ngx_pool_t *pool, ngx_http_llmgw_users_ctx_t *ctx,
    ngx_uint_t line)
{
    ngx_str_t              *f, *dst[6];
    ngx_uint_t              i, errors;
    const char             *err[NGX_HTTP_LLMGW_USERS_COLUMNS];
    ngx_http_llmgw_user_t   u;

    ngx_memzero(&u, sizeof(ngx_http_llmgw_user_t));

    f = ctx->fields;

    err[0] = ngx_http_llmgw_users_id(&f[0]);
    err[1] = ngx_http_llmgw_users_text(&f[1], 1);
    err[2] = ngx_http_llmgw_users_email(&f[2]);
    err[3] = ngx_http_llmgw_users_text(&f[3], 0);

    if (err[3] == NULL && f[3].len > NGX_HTTP_LLMGW_USERS_MAX_DEPT) {
        err[3] = "too long";
    }

    err[4] = ngx_http_llmgw_users_text(&f[4], 0);
    err[5] = ngx_http_llmgw_users_phone(&f[5]);
    err[6] = ngx_http_llmgw_users_date(&f[6], &u.start);

    u.end = NGX_HTTP_LLMGW_USERS_NO_END;
    err[7] = NULL;

    if (f[7].len) {
        err[7] = ngx_http_llmgw_users_date(&f[7], &u.end);

        if (err[7] == NULL && err[6] == NULL && u.end < u.start) {
            err[7] = "before start_date";
        }
    }

    err[8] = NULL;

    if (f[8].len == 6 && ngx_strncmp(f[8].data, "active", 6) == 0) {
        u.active = 1;

    } else if (!(f[8].len == 8 && ngx_strncmp(f[8].data, "inactive", 8) == 0))
    {
        err[8] = "unknown status (active or inactive)";
    }

    errors = 0;

    for (i = 0; i < NGX_HTTP_LLMGW_USERS_COLUMNS; i++) {
        if (err[i]) {
            ngx_http_llmgw_users_error(ctx->out, line,
                                       ngx_http_llmgw_users_columns[i],
                                       err[i], 0);
            errors++;
        }
    }

    if (errors) {
        return NGX_OK;
    }

    dst[0] = &u.user_id;
    dst[1] = &u.name;
    dst[2] = &u.email;
    dst[3] = &u.department;
    dst[4] = &u.job_title;
    dst[5] = &u.phone;

    for (i = 0; i < 6; i++) {
        dst[i]->len = f[i].len;

        if (f[i].len == 0) {
            continue;
        }

        dst[i]->data = ngx_pnalloc(pool, f[i].len);
        if (dst[i]->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(dst[i]->data, f[i].data, f[i].len);
    }

    u.line = line;

    f = ngx_array_push(&ctx->out->users);
    if (f == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(f, &u, sizeof(ngx_http_llmgw_user_t));

    return NGX_OK;
}


/*
 * Free text (a name, a department, a job title): UTF-8 without control
 * characters, and not what a spreadsheet takes for a formula when the
 * file is opened or exported again (OWASP "CSV injection").
 */

static const char *
ngx_http_llmgw_users_text(ngx_str_t *v, ngx_uint_t required)
{
    size_t  i;

    if (v->len == 0) {
        return required ? "empty" : NULL;
    }

    if (!ngx_http_llmgw_users_utf8(v->data, v->len)) {
        return "not UTF-8";
    }

    for (i = 0; i < v->len; i++) {
        if (v->data[i] < 0x20 || v->data[i] == 0x7f) {
            return "control character";
        }
    }

    switch (v->data[0]) {
    case '=':
    case '+':
    case '-':
    case '@':
        return "starts with = + - or @ (formula injection)";
    }

    return NULL;
}


/* ASCII letters, digits and . _ @ + -, starting with a letter or digit */

static const char *
ngx_http_llmgw_users_id(ngx_str_t *v)
{
    u_char  c;
    size_t  i;

    if (v->len == 0) {
        return "empty";
    }

    if (v->len > NGX_HTTP_LLMGW_USERS_MAX_ID) {
        return "too long";
    }

    for (i = 0; i < v->len; i++) {
        c = v->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'))
        {
            continue;
        }

        if (i == 0) {
            return "must start with a letter or digit";
        }

        if (c != '.' && c != '_' && c != '@' && c != '+' && c != '-') {
            return "invalid character";
        }
    }

    return NULL;
}


/* local@domain, printable ASCII without spaces, one @ */

static const char *
ngx_http_llmgw_users_email(ngx_str_t *v)
{
    u_char      *at;
    size_t       i;
    const char  *err;

    err = ngx_http_llmgw_users_text(v, 1);
    if (err) {
        return err;
    }

    for (i = 0; i < v->len; i++) {
        if (v->data[i] <= 0x20 || v->data[i] >= 0x7f || v->data[i] == ',') {
            return "invalid character";
        }
    }

    at = ngx_strlchr(v->data, v->data + v->len, '@');

    if (at == NULL || at == v->data || at == v->data + v->len - 1
        || ngx_strlchr(at + 1, v->data + v->len, '@') != NULL)
    {
        return "not an address";
    }

    return NULL;
}


/*
 * Digits, spaces, - ( ) and a leading +: "+81-3-1234-5678" can never be
 * a formula that calls anything, so a phone may start with +.
 */

static const char *
ngx_http_llmgw_users_phone(ngx_str_t *v)
{
    u_char  c;
    size_t  i;

    for (i = 0; i < v->len; i++) {
        c = v->data[i];

        if ((c >= '0' && c <= '9') || c == ' ' || c == '(' || c == ')'
            || (c == '-' && i > 0) || (c == '+' && i == 0))
        {
            continue;
        }

        return "only digits, spaces, ( ) -, a leading +";
    }

    return NULL;
}


/* YYYY/MM/DD or YYYY-MM-DD (month and day also in one digit), real dates */

static const char *
ngx_http_llmgw_users_date(ngx_str_t *v, ngx_int_t *days)
{
    u_char      *p, *last, sep;
    ngx_int_t    n[3];
    ngx_uint_t   i, digits;

    static ngx_int_t  mdays[] = { 31, 29, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31 };

    if (v->len == 0) {
        return "empty";
    }

    p = v->data;
    last = p + v->len;
    sep = 0;

    for (i = 0; i < 3; i++) {
        n[i] = 0;
        digits = 0;

        while (p < last && *p >= '0' && *p <= '9' && digits < 4) {
            n[i] = n[i] * 10 + (*p++ - '0');
            digits++;
        }

        if (i == 0 ? digits != 4 : (digits == 0 || digits > 2)) {
            return "not a date (YYYY/MM/DD or YYYY-MM-DD)";
        }

        if (i == 2) {
            break;
        }

        if (p == last || (*p != '/' && *p != '-') || (sep && *p != sep)) {
            return "not a date (YYYY/MM/DD or YYYY-MM-DD)";
        }

        sep = *p++;
    }

    if (p != last) {
        return "not a date (YYYY/MM/DD or YYYY-MM-DD)";
    }

    if (n[0] < 1900 || n[1] < 1 || n[1] > 12 || n[2] < 1
        || n[2] > mdays[n[1] - 1]
        || (n[1] == 2 && n[2] == 29
            && !((n[0] % 4 == 0 && n[0] % 100 != 0) || n[0] % 400 == 0)))
    {
        return "no such date";
    }

    *days = ngx_http_llmgw_users_days(n[0], n[1], n[2]);

    return NULL;
}


/* days from civil (proleptic Gregorian), March-based years */

ngx_int_t
ngx_http_llmgw_users_days(ngx_int_t y, ngx_int_t m, ngx_int_t d)
{
    ngx_int_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}


/* well-formed UTF-8: no overlong forms, no surrogates, up to U+10FFFF */

static ngx_uint_t
ngx_http_llmgw_users_utf8(u_char *p, size_t len)
{
    u_char      *last;
    uint32_t     cp, min;
    ngx_uint_t   n, i;

    last = p + len;

    while (p < last) {

        if (*p < 0x80) {
            p++;
            continue;
        }

        if ((*p & 0xe0) == 0xc0) {
            n = 1; cp = *p & 0x1f; min = 0x80;

        } else if ((*p & 0xf0) == 0xe0) {
            n = 2; cp = *p & 0x0f; min = 0x800;

        } else if ((*p & 0xf8) == 0xf0) {
            n = 3; cp = *p & 0x07; min = 0x10000;

        } else {
            return 0;
        }

        if ((size_t) (last - p) <= n) {
            return 0;
        }

        for (i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0;
            }

            cp = (cp << 6) | (p[i] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }

        p += n + 1;
    }

    return 1;
}


static void
ngx_http_llmgw_users_error(ngx_http_llmgw_users_t *out, ngx_uint_t line,
    const char *field, const char *text, ngx_uint_t first)
{
    ngx_http_llmgw_users_error_t  *e;

    if (out->nerrors < NGX_HTTP_LLMGW_USERS_MAX_ERRORS) {
        e = &out->errors[out->nerrors];
        e->line = line;
        e->field = field;
        e->text = text;
        e->first = first;
    }

    out->nerrors++;
}


static void
ngx_http_llmgw_users_duplicates(ngx_http_llmgw_users_t *out,
    ngx_http_llmgw_user_t **sorted)
{
    ngx_uint_t  i, first;

    qsort(sorted, out->users.nelts, sizeof(void *),
          ngx_http_llmgw_users_cmp_id);

    first = 0;

    for (i = 1; i < out->users.nelts; i++) {
        if (sorted[first]->user_id.len == sorted[i]->user_id.len
            && ngx_memcmp(sorted[first]->user_id.data, sorted[i]->user_id.data,
                          sorted[i]->user_id.len)
               == 0)
        {
            ngx_http_llmgw_users_error(out, sorted[i]->line, "user_id",
                                       "duplicate", sorted[first]->line);
            continue;
        }

        first = i;
    }
}


/* by user_id, then by line (so the first of equal ids comes first) */

static int
ngx_http_llmgw_users_cmp_id(const void *a, const void *b)
{
    int                     rc;
    ngx_http_llmgw_user_t  *ua, *ub;

    ua = *(ngx_http_llmgw_user_t **) a;
    ub = *(ngx_http_llmgw_user_t **) b;

    rc = ngx_memn2cmp(ua->user_id.data, ub->user_id.data, ua->user_id.len,
                      ub->user_id.len);

    if (rc != 0) {
        return rc;
    }

    return (ua->line > ub->line) - (ua->line < ub->line);
}


static int
ngx_http_llmgw_users_cmp_error(const void *a, const void *b)
{
    const ngx_http_llmgw_users_error_t  *ea = a, *eb = b;

    return (ea->line > eb->line) - (ea->line < eb->line);
}


u_char *
ngx_http_llmgw_users_error_text(u_char *buf, u_char *last,
    ngx_http_llmgw_users_error_t *e)
{
    buf = ngx_slprintf(buf, last, "line %ui: ", e->line);

    if (e->field) {
        buf = ngx_slprintf(buf, last, "%s: ", e->field);
    }

    buf = ngx_slprintf(buf, last, "%s", e->text);

    if (e->first) {
        buf = ngx_slprintf(buf, last, " (first on line %ui)", e->first);
    }

    return buf;
}
