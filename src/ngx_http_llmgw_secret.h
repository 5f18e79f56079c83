
/*
 * Copyright (C) llmgw authors
 *
 * Provider secrets, read once at configuration time (in the master, which
 * sees the whole environment; workers see only "env"-declared variables).
 *
 *     file=PATH    the file's content, trailing CR/LF stripped; a relative
 *                  PATH is taken from the configuration prefix
 *     env=NAME     the environment variable's value
 *
 * A secret must be non-empty and hold no control character (it goes into a
 * header line).  Errors name the file or the variable, never the value.
 */


#ifndef _NGX_HTTP_LLMGW_SECRET_H_INCLUDED_
#define _NGX_HTTP_LLMGW_SECRET_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* the longest secret or credentials file accepted */
#define NGX_HTTP_LLMGW_SECRET_MAX      65536


typedef struct {
    ngx_str_t                  access_key;
    ngx_str_t                  secret_key;
    ngx_str_t                  session_token;   /* empty when none */
} ngx_http_llmgw_aws_credentials_t;


/*
 * "file=PATH" or "env=NAME" into *secret (allocated from cf->pool).
 * NGX_OK, or NGX_ERROR with the reason logged by ngx_conf_log_error().
 */
ngx_int_t ngx_http_llmgw_secret_load(ngx_conf_t *cf, ngx_str_t *spec,
    ngx_str_t *secret);

/*
 * AWS credentials from the directive arguments args[0 .. n - 1]:
 *     "env"                        AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *                                  AWS_SESSION_TOKEN (optional)
 *     "file=PATH" ["profile=NAME"] an AWS-style credentials file, profile
 *                                  "default" unless named
 * NGX_OK, or NGX_ERROR with the reason logged.
 */
ngx_int_t ngx_http_llmgw_secret_load_aws(ngx_conf_t *cf, ngx_str_t *args,
    ngx_uint_t n, ngx_http_llmgw_aws_credentials_t *creds);

/*
 * Pure parser of an INI-like AWS credentials file: "[name]" or
 * "[profile name]" sections, "key = value" lines, '#' and ';' comments.
 * Fills creds with pointers into text for the profile's
 * aws_access_key_id, aws_secret_access_key and aws_session_token.
 * NGX_OK when the profile exists with both keys, NGX_DECLINED when it does
 * not, NGX_ERROR on a malformed line (*line gets its number).
 */
ngx_int_t ngx_http_llmgw_secret_parse_aws(u_char *text, size_t len,
    ngx_str_t *profile, ngx_http_llmgw_aws_credentials_t *creds,
    ngx_uint_t *line);

/* NGX_OK when s may go into a header line: non-empty, no control bytes */
ngx_int_t ngx_http_llmgw_secret_valid(ngx_str_t *s);


#endif /* _NGX_HTTP_LLMGW_SECRET_H_INCLUDED_ */
