/* llmgw-unit-srcs: src/ngx_http_llmgw_users.c */
/* llmgw-unit-libs: */

/*
 * Copyright (C) llmgw authors
 *
 * The user directory's CSV parser: the shared vectors of t/users (the
 * same files tools/llmgw-users is run on by t/users.t, so both must say
 * the same, line by line), then what the vectors do not show: values kept
 * as written (Japanese text, quotes, commas), dates to days, the limits
 * on users and on a value's length, every prefix of a good file.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_users.h"


static void ngx_http_llmgw_test_vectors(void);
static void ngx_http_llmgw_test_vector(const char *dir, const char *name);
static size_t ngx_http_llmgw_test_result(ngx_int_t rc,
    ngx_http_llmgw_users_t *users, u_char *buf, size_t size);
static u_char *ngx_http_llmgw_test_slurp(const char *path, size_t *len);
static void ngx_http_llmgw_test_values(void);
static void ngx_http_llmgw_test_days(void);
static void ngx_http_llmgw_test_limits(void);
static void ngx_http_llmgw_test_prefixes(void);


static char  ngx_http_llmgw_test_dir[512];


static void
ngx_http_llmgw_test_vectors(void)
{
    char            path[256];
    size_t          n;
    DIR            *d;
    struct dirent  *e;

    d = opendir(ngx_http_llmgw_test_dir);

    NGX_HTTP_LLMGW_CHECK(d != NULL, "t/users opened");

    if (d == NULL) {
        return;
    }

    while ((e = readdir(d)) != NULL) {
        n = strlen(e->d_name);

        if (n > 4 && strcmp(e->d_name + n - 4, ".csv") == 0) {
            snprintf(path, sizeof(path), "%.*s", (int) ngx_min(n - 4, 200),
                     e->d_name);
            ngx_http_llmgw_test_vector(ngx_http_llmgw_test_dir, path);
        }
    }

    closedir(d);
}


static void
ngx_http_llmgw_test_vector(const char *dir, const char *name)
{
    char                     path[1024];
    u_char                  *csv, *expect, got[4096];
    size_t                   len, elen, glen;
    ngx_int_t                rc;
    ngx_pool_t              *pool;
    ngx_http_llmgw_users_t   users;

    snprintf(path, sizeof(path), "%s/%s.csv", dir, name);
    csv = ngx_http_llmgw_test_slurp(path, &len);

    snprintf(path, sizeof(path), "%s/%s.expect", dir, name);
    expect = ngx_http_llmgw_test_slurp(path, &elen);

    if (csv == NULL || expect == NULL) {
        ngx_http_llmgw_unit_check(0, "%s: csv and expect read", name);
        free(csv);
        free(expect);
        return;
    }

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);

    rc = ngx_http_llmgw_users_parse(pool, csv, len, 1000, &users);
    glen = ngx_http_llmgw_test_result(rc, &users, got, sizeof(got));

    if (!ngx_http_llmgw_unit_check(glen == elen
                                   && memcmp(got, expect, elen) == 0,
                                   "%s: as %s.expect says", name, name))
    {
        printf("# got:\n%.*s# expected:\n%.*s", (int) glen, got, (int) elen,
               expect);
    }

    ngx_destroy_pool(pool);
    free(csv);
    free(expect);
}


/* "ok N\n", or each error line: the format tools/llmgw-users prints */

static size_t
ngx_http_llmgw_test_result(ngx_int_t rc, ngx_http_llmgw_users_t *users,
    u_char *buf, size_t size)
{
    u_char      *p, *last;
    ngx_uint_t   i;

    p = buf;
    last = buf + size;

    if (rc == NGX_OK) {
        p = ngx_slprintf(p, last, "ok %ui\n", users->users.nelts);
        return p - buf;
    }

    for (i = 0;
         i < ngx_min(users->nerrors, NGX_HTTP_LLMGW_USERS_MAX_ERRORS);
         i++)
    {
        p = ngx_http_llmgw_users_error_text(p, last, &users->errors[i]);
        p = ngx_slprintf(p, last, "\n");
    }

    return p - buf;
}


static u_char *
ngx_http_llmgw_test_slurp(const char *path, size_t *len)
{
    long     n;
    FILE    *f;
    u_char  *data;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    data = malloc(n + 1);

    if (data == NULL || fread(data, 1, n, f) != (size_t) n) {
        fclose(f);
        free(data);
        return NULL;
    }

    fclose(f);
    *len = n;

    return data;
}


static void
ngx_http_llmgw_test_values(void)
{
    char                     path[1024];
    u_char                  *csv;
    size_t                   len;
    ngx_int_t                rc;
    ngx_pool_t              *pool;
    ngx_http_llmgw_user_t   *u;
    ngx_http_llmgw_users_t   users;

    snprintf(path, sizeof(path), "%s/good-seed.csv", ngx_http_llmgw_test_dir);
    csv = ngx_http_llmgw_test_slurp(path, &len);

    if (csv == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "good-seed.csv read");
        return;
    }

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);

    rc = ngx_http_llmgw_users_parse(pool, csv, len, 1000, &users);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && users.users.nelts == 4,
                         "the seed's example: 4 users");

    if (rc == NGX_OK && users.users.nelts == 4) {
        u = users.users.elts;

#define STR_IS(s, text)                                                       \
        ((s).len == sizeof(text) - 1 && memcmp((s).data, text, (s).len) == 0)

        NGX_HTTP_LLMGW_CHECK(STR_IS(u[0].user_id, "E0001")
                             && STR_IS(u[0].name, "山田 太郎")
                             && STR_IS(u[0].department, "営業部")
                             && STR_IS(u[0].job_title, "課長")
                             && STR_IS(u[0].phone, "03-1234-5678")
                             && u[0].active && u[0].line == 2,
                             "Japanese values as written, BOM skipped");
        NGX_HTTP_LLMGW_CHECK(u[0].start
                             == ngx_http_llmgw_users_days(2020, 4, 1)
                             && u[0].end == NGX_HTTP_LLMGW_USERS_NO_END,
                             "YYYY/MM/DD; an empty end_date is no end");
        NGX_HTTP_LLMGW_CHECK(u[1].start
                             == ngx_http_llmgw_users_days(2021, 10, 1)
                             && u[1].end
                                == ngx_http_llmgw_users_days(2026, 3, 31)
                             && STR_IS(u[1].phone, "+81-3-1111-2222"),
                             "ISO dates; a phone may start with +");
        NGX_HTTP_LLMGW_CHECK(STR_IS(u[2].name, "鈴木, 一郎")
                             && STR_IS(u[2].department,
                                       "開発部 \"AI\" 推進室")
                             && !u[2].active
                             && u[2].start
                                == ngx_http_llmgw_users_days(2019, 4, 1),
                             "quoted comma and quotes; 2019/4/1; inactive");
        NGX_HTTP_LLMGW_CHECK(u[3].department.len == 0
                             && u[3].start == u[3].end,
                             "empty department; 2024/02/29 is a date");
    }

    ngx_destroy_pool(pool);
    free(csv);
}


static void
ngx_http_llmgw_test_days(void)
{
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_users_days(1970, 1, 1) == 0,
                         "1970-01-01 is day 0");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_users_days(2000, 3, 1) == 11017,
                         "2000-03-01 is day 11017");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_users_days(2026, 12, 4) * 86400LL
                         == 1796342400LL, "2026-12-04 00:00 UTC");
    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_users_days(1900, 1, 1) == -25567,
                         "1900-01-01 is day -25567");
}


static void
ngx_http_llmgw_test_limits(void)
{
    u_char                  *p, *csv;
    size_t                   n;
    ngx_int_t                rc;
    ngx_pool_t              *pool;
    ngx_http_llmgw_users_t   users;

    static const char  header[] = "user_id,name,email,department,job_title,"
                                  "phone,start_date,end_date,status\n";
    static const char  row[] = ",N,a@b.c,,,,2024/01/01,,active\n";

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);

    csv = ngx_palloc(pool, 64 * 1024);
    p = ngx_cpymem(csv, header, sizeof(header) - 1);

    for (n = 0; n < 5; n++) {
        p = ngx_sprintf(p, "u%uz%s", n, row);
    }

    rc = ngx_http_llmgw_users_parse(pool, csv, p - csv, 4, &users);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_DECLINED && users.nerrors == 1
                         && users.errors[0].line == 6
                         && strcmp(users.errors[0].text, "too many users")
                            == 0,
                         "max_users: the first user over it is an error");

    p = ngx_cpymem(csv, header, sizeof(header) - 1);
    p = ngx_cpymem(p, "u1,\"", 4);
    ngx_memset(p, 'x', NGX_HTTP_LLMGW_USERS_MAX_FIELD + 1);
    p += NGX_HTTP_LLMGW_USERS_MAX_FIELD + 1;
    p = ngx_sprintf(p, "\"%s", row + 2);
    p = ngx_sprintf(p, "u2%s", row);

    rc = ngx_http_llmgw_users_parse(pool, csv, p - csv, 10, &users);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_DECLINED && users.nerrors == 1
                         && users.errors[0].line == 2
                         && strcmp(users.errors[0].text, "value too long")
                            == 0,
                         "a value over 1024 bytes, the next line read");

    p = ngx_cpymem(csv, header, sizeof(header) - 1);

    for (n = 0; n < 15; n++) {
        p = ngx_sprintf(p, "u%uz,N,a@b.c,,,,2024/02/30,,active\n", n);
    }

    rc = ngx_http_llmgw_users_parse(pool, csv, p - csv, 100, &users);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_DECLINED && users.nerrors == 15
                         && users.errors[0].line == 2
                         && users.errors[9].line == 11,
                         "15 errors counted, the first 10 kept in order");

    rc = ngx_http_llmgw_users_parse(pool, csv, 0, 100, &users);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_DECLINED && users.nerrors == 1
                         && strcmp(users.errors[0].text, "empty file") == 0,
                         "an empty file is refused");

    ngx_destroy_pool(pool);
}


/* every prefix of a good file: no crash, and the verdict is one of two */

static void
ngx_http_llmgw_test_prefixes(void)
{
    char                     path[1024];
    u_char                  *csv, *copy;
    size_t                   len, i, bad;
    ngx_int_t                rc;
    ngx_pool_t              *pool;
    ngx_http_llmgw_users_t   users;

    snprintf(path, sizeof(path), "%s/good-seed.csv", ngx_http_llmgw_test_dir);
    csv = ngx_http_llmgw_test_slurp(path, &len);

    if (csv == NULL) {
        NGX_HTTP_LLMGW_CHECK(0, "good-seed.csv read");
        return;
    }

    bad = 0;

    for (i = 0; i <= len; i++) {
        pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);

        /* a buffer of exactly i bytes, so ASan sees a read past it */
        copy = malloc(i ? i : 1);
        memcpy(copy, csv, i);

        rc = ngx_http_llmgw_users_parse(pool, copy, i, 1000, &users);

        if (rc != NGX_OK && rc != NGX_DECLINED) {
            bad++;
        }

        free(copy);
        ngx_destroy_pool(pool);
    }

    NGX_HTTP_LLMGW_CHECK(bad == 0, "every prefix of the seed parsed");

    free(csv);
}


int
main(void)
{
    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 1;
    }

    /* t/unit/run.sh runs a test in t/unit */
    ngx_cpystrn((u_char *) ngx_http_llmgw_test_dir, (u_char *) "../users",
                sizeof(ngx_http_llmgw_test_dir));

    ngx_http_llmgw_test_vectors();
    ngx_http_llmgw_test_values();
    ngx_http_llmgw_test_days();
    ngx_http_llmgw_test_limits();
    ngx_http_llmgw_test_prefixes();

    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
