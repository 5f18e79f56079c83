
/*
 * Copyright (C) llmgw authors
 *
 * The user directory's CSV (the HR export): a pure parser, input bytes in,
 * users or line-numbered errors out, memory bounded by the input.
 */


#ifndef _NGX_HTTP_LLMGW_USERS_H_INCLUDED_
#define _NGX_HTTP_LLMGW_USERS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* bytes of one value, and of a user_id, a department */
#define NGX_HTTP_LLMGW_USERS_MAX_FIELD    1024
#define NGX_HTTP_LLMGW_USERS_MAX_ID       128
#define NGX_HTTP_LLMGW_USERS_MAX_DEPT     255

/* errors kept (more are counted) */
#define NGX_HTTP_LLMGW_USERS_MAX_ERRORS   10

/* no end date */
#define NGX_HTTP_LLMGW_USERS_NO_END       NGX_MAX_INT_T_VALUE


typedef struct {
    ngx_str_t                  user_id;
    ngx_str_t                  name;
    ngx_str_t                  email;
    ngx_str_t                  department;
    ngx_str_t                  job_title;
    ngx_str_t                  phone;
    ngx_int_t                  start;      /* days since 1970-01-01 */
    ngx_int_t                  end;        /* last day, or _NO_END */
    ngx_uint_t                 line;       /* where its record starts */
    unsigned                   active:1;
} ngx_http_llmgw_user_t;


typedef struct {
    ngx_uint_t                 line;
    const char                *field;     /* a column's name, or NULL */
    const char                *text;      /* a fixed text */
    ngx_uint_t                 first;     /* a duplicate's first line */
} ngx_http_llmgw_users_error_t;


typedef struct {
    ngx_array_t                    users;  /* ngx_http_llmgw_user_t */
    ngx_http_llmgw_users_error_t   errors[NGX_HTTP_LLMGW_USERS_MAX_ERRORS];
    ngx_uint_t                     nerrors; /* all found, may exceed the
                                               errors kept */
} ngx_http_llmgw_users_t;


/*
 * Parses the CSV in data: a header line
 * "user_id,name,email,department,job_title,phone,start_date,end_date,status"
 * (an UTF-8 BOM before it is allowed), then a user a record, RFC 4180
 * quoting, CRLF or LF.  At most max_users users.  NGX_OK: out->users
 * holds them, values copied into pool; NGX_DECLINED: out->errors holds the
 * first errors in line order (a file with any error is refused whole);
 * NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_llmgw_users_parse(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_uint_t max_users, ngx_http_llmgw_users_t *out);

/* "line N: FIELD: TEXT" into buf, at most last - buf bytes; the end */
u_char *ngx_http_llmgw_users_error_text(u_char *buf, u_char *last,
    ngx_http_llmgw_users_error_t *e);

/* days since 1970-01-01 of a valid date, for the unit test too */
ngx_int_t ngx_http_llmgw_users_days(ngx_int_t y, ngx_int_t m, ngx_int_t d);


#endif /* _NGX_HTTP_LLMGW_USERS_H_INCLUDED_ */
