
/*
 * Copyright (C) llmgw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_secret.h"


static ngx_int_t ngx_http_llmgw_secret_read_file(ngx_conf_t *cf,
    ngx_str_t *path, ngx_pool_t *pool, ngx_str_t *out);
static ngx_int_t ngx_http_llmgw_secret_env(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *out, ngx_uint_t optional);
static void ngx_http_llmgw_secret_trim(ngx_str_t *s);
static ngx_int_t ngx_http_llmgw_secret_copy(ngx_conf_t *cf, ngx_str_t *src,
    ngx_str_t *dst, const char *what, ngx_str_t *where);


ngx_int_t
ngx_http_llmgw_secret_load(ngx_conf_t *cf, ngx_str_t *spec,
    ngx_str_t *secret)
{
    ngx_str_t  name, raw;

    if (spec->len > 5 && ngx_strncmp(spec->data, "file=", 5) == 0) {
        name.data = spec->data + 5;
        name.len = spec->len - 5;

        if (ngx_http_llmgw_secret_read_file(cf, &name, cf->temp_pool, &raw)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* a secret file ends with at most a line break */

        while (raw.len
               && (raw.data[raw.len - 1] == LF || raw.data[raw.len - 1] == CR))
        {
            raw.len--;
        }

        if (ngx_http_llmgw_secret_copy(cf, &raw, secret, "file", &name)
            != NGX_OK)
        {
            ngx_explicit_memzero(raw.data, raw.len);
            return NGX_ERROR;
        }

        ngx_explicit_memzero(raw.data, raw.len);

        return NGX_OK;
    }

    if (spec->len > 4 && ngx_strncmp(spec->data, "env=", 4) == 0) {
        name.data = spec->data + 4;
        name.len = spec->len - 4;

        return ngx_http_llmgw_secret_env(cf, &name, secret, 0);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid secret \"%V\": "
                       "expected \"file=PATH\" or \"env=NAME\"", spec);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_llmgw_secret_load_aws(ngx_conf_t *cf, ngx_str_t *args,
    ngx_uint_t n, ngx_http_llmgw_aws_credentials_t *creds)
{
    ngx_int_t                         rc;
    ngx_str_t                         path, profile, text, name;
    ngx_uint_t                        i, line;
    ngx_http_llmgw_aws_credentials_t  raw;

    ngx_memzero(creds, sizeof(ngx_http_llmgw_aws_credentials_t));

    if (n == 1 && args[0].len == 3 && ngx_strncmp(args[0].data, "env", 3) == 0)
    {
        ngx_str_set(&name, "AWS_ACCESS_KEY_ID");

        if (ngx_http_llmgw_secret_env(cf, &name, &creds->access_key, 0)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_str_set(&name, "AWS_SECRET_ACCESS_KEY");

        if (ngx_http_llmgw_secret_env(cf, &name, &creds->secret_key, 0)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_str_set(&name, "AWS_SESSION_TOKEN");

        return ngx_http_llmgw_secret_env(cf, &name, &creds->session_token, 1);
    }

    ngx_str_null(&path);
    ngx_str_set(&profile, "default");

    for (i = 0; i < n; i++) {

        if (args[i].len > 5 && ngx_strncmp(args[i].data, "file=", 5) == 0) {
            path.data = args[i].data + 5;
            path.len = args[i].len - 5;
            continue;
        }

        if (args[i].len > 8 && ngx_strncmp(args[i].data, "profile=", 8) == 0)
        {
            profile.data = args[i].data + 8;
            profile.len = args[i].len - 8;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid AWS credentials parameter \"%V\"",
                           &args[i]);
        return NGX_ERROR;
    }

    if (path.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "AWS credentials: expected \"env\" or "
                           "\"file=PATH [profile=NAME]\"");
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_secret_read_file(cf, &path, cf->temp_pool, &text)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_secret_parse_aws(text.data, text.len, &profile, &raw,
                                         &line);

    if (rc == NGX_ERROR) {
        ngx_explicit_memzero(text.data, text.len);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "malformed line %ui in AWS credentials file "
                           "\"%V\"", line, &path);
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_explicit_memzero(text.data, text.len);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no profile \"%V\" with aws_access_key_id and "
                           "aws_secret_access_key in \"%V\"",
                           &profile, &path);
        return NGX_ERROR;
    }

    rc = NGX_OK;

    if (ngx_http_llmgw_secret_copy(cf, &raw.access_key, &creds->access_key,
                                   "file", &path)
        != NGX_OK
        || ngx_http_llmgw_secret_copy(cf, &raw.secret_key, &creds->secret_key,
                                      "file", &path)
           != NGX_OK)
    {
        rc = NGX_ERROR;
    }

    if (rc == NGX_OK && raw.session_token.len) {
        rc = ngx_http_llmgw_secret_copy(cf, &raw.session_token,
                                        &creds->session_token, "file", &path);
    }

    ngx_explicit_memzero(text.data, text.len);

    return rc;
}


ngx_int_t
ngx_http_llmgw_secret_parse_aws(u_char *text, size_t len, ngx_str_t *profile,
    ngx_http_llmgw_aws_credentials_t *creds, ngx_uint_t *line)
{
    u_char      *p, *end, *eol, *eq;
    ngx_str_t    key, value, section, *dst;
    ngx_uint_t   in_profile, found;

    ngx_memzero(creds, sizeof(ngx_http_llmgw_aws_credentials_t));

    p = text;
    end = text + len;
    in_profile = 0;
    found = 0;
    *line = 0;

    while (p < end) {
        (*line)++;

        eol = ngx_strlchr(p, end, LF);
        if (eol == NULL) {
            eol = end;
        }

        key.data = p;
        key.len = eol - p;
        ngx_http_llmgw_secret_trim(&key);

        p = (eol < end) ? eol + 1 : end;

        if (key.len == 0 || key.data[0] == '#' || key.data[0] == ';') {
            continue;
        }

        if (key.data[0] == '[') {
            if (key.data[key.len - 1] != ']') {
                return NGX_ERROR;
            }

            section.data = key.data + 1;
            section.len = key.len - 2;
            ngx_http_llmgw_secret_trim(&section);

            /* the config-file form "[profile name]" names the same profile */

            if (section.len > 8
                && ngx_strncmp(section.data, "profile ", 8) == 0)
            {
                section.data += 8;
                section.len -= 8;
                ngx_http_llmgw_secret_trim(&section);
            }

            in_profile = (section.len == profile->len
                          && ngx_strncmp(section.data, profile->data,
                                         profile->len) == 0);
            if (in_profile) {
                found = 1;
            }

            continue;
        }

        eq = ngx_strlchr(key.data, key.data + key.len, '=');
        if (eq == NULL) {
            return NGX_ERROR;
        }

        value.data = eq + 1;
        value.len = key.data + key.len - value.data;
        key.len = eq - key.data;

        ngx_http_llmgw_secret_trim(&key);
        ngx_http_llmgw_secret_trim(&value);

        if (key.len == 0) {
            return NGX_ERROR;
        }

        if (!in_profile) {
            continue;
        }

        if (key.len == sizeof("aws_access_key_id") - 1
            && ngx_strncasecmp(key.data, (u_char *) "aws_access_key_id",
                               key.len) == 0)
        {
            dst = &creds->access_key;

        } else if (key.len == sizeof("aws_secret_access_key") - 1
                   && ngx_strncasecmp(key.data,
                                      (u_char *) "aws_secret_access_key",
                                      key.len) == 0)
        {
            dst = &creds->secret_key;

        } else if (key.len == sizeof("aws_session_token") - 1
                   && ngx_strncasecmp(key.data,
                                      (u_char *) "aws_session_token",
                                      key.len) == 0)
        {
            dst = &creds->session_token;

        } else {
            continue;
        }

        *dst = value;
    }

    if (!found || creds->access_key.len == 0 || creds->secret_key.len == 0) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_secret_valid(ngx_str_t *s)
{
    size_t  i;

    if (s->len == 0) {
        return NGX_DECLINED;
    }

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == 0x7f) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_secret_read_file(ngx_conf_t *cf, ngx_str_t *path,
    ngx_pool_t *pool, ngx_str_t *out)
{
    u_char          *z;
    ssize_t          n;
    ngx_str_t        name;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    name = *path;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * open() and the "%s" of the messages below need a NUL: an absolute
     * name comes back from ngx_conf_full_name as it was given, which is
     * not always an argument of the configuration (those are terminated)
     */

    z = ngx_pnalloc(pool, name.len + 1);
    if (z == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(z, name.data, name.len + 1);
    name.data = z;

    ngx_memzero(&file, sizeof(ngx_file_t));

    file.name = name;
    file.log = cf->log;

    file.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", name.data);
        return NGX_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%s\" failed", name.data);
        goto failed;
    }

    if (ngx_file_size(&fi) > NGX_HTTP_LLMGW_SECRET_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%s\" is too large", name.data);
        goto failed;
    }

    out->len = (size_t) ngx_file_size(&fi);
    out->data = ngx_pnalloc(pool, out->len + 1);
    if (out->data == NULL) {
        goto failed;
    }

    n = ngx_read_file(&file, out->data, out->len, 0);

    if (n == NGX_ERROR) {
        goto failed;
    }

    if ((size_t) n != out->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           ngx_read_file_n " \"%s\" returned only %z bytes",
                           name.data, n);
        goto failed;
    }

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", name.data);
    }

    return NGX_OK;

failed:

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", name.data);
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_llmgw_secret_env(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *out,
    ngx_uint_t optional)
{
    char       *value;
    u_char     *var;
    ngx_str_t   raw;

    if (name->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty environment variable name");
        return NGX_ERROR;
    }

    var = ngx_pnalloc(cf->temp_pool, name->len + 1);
    if (var == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn(var, name->data, name->len + 1);

    value = getenv((char *) var);

    if (value == NULL || value[0] == '\0') {
        if (optional) {
            ngx_str_null(out);
            return NGX_OK;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "environment variable \"%V\" is not set", name);
        return NGX_ERROR;
    }

    raw.data = (u_char *) value;
    raw.len = ngx_strlen(value);

    return ngx_http_llmgw_secret_copy(cf, &raw, out, "environment variable",
                                      name);
}


static void
ngx_http_llmgw_secret_trim(ngx_str_t *s)
{
    while (s->len && (s->data[0] == ' ' || s->data[0] == '\t'
                      || s->data[0] == CR))
    {
        s->data++;
        s->len--;
    }

    while (s->len && (s->data[s->len - 1] == ' '
                      || s->data[s->len - 1] == '\t'
                      || s->data[s->len - 1] == CR))
    {
        s->len--;
    }
}


static ngx_int_t
ngx_http_llmgw_secret_copy(ngx_conf_t *cf, ngx_str_t *src, ngx_str_t *dst,
    const char *what, ngx_str_t *where)
{
    if (src->len > NGX_HTTP_LLMGW_SECRET_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the secret in %s \"%V\" is too long", what, where);
        return NGX_ERROR;
    }

    if (ngx_http_llmgw_secret_valid(src) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the secret in %s \"%V\" is empty or holds "
                           "control characters", what, where);
        return NGX_ERROR;
    }

    dst->len = src->len;
    dst->data = ngx_pnalloc(cf->pool, src->len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);

    return NGX_OK;
}
