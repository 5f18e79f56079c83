
/*
 * Copyright (C) llmgw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llmgw_claims.h"


static ngx_int_t ngx_http_llmgw_claims_time(json_t *claims, const char *name,
    time_t *value);
static ngx_int_t ngx_http_llmgw_claims_times(ngx_http_llmgw_claims_conf_t *ccf,
    json_t *claims, time_t now, const char **reason);
static ngx_uint_t ngx_http_llmgw_str_in(ngx_array_t *list, const char *s,
    size_t len, ngx_uint_t caseless);
static ngx_uint_t ngx_http_llmgw_json_in(ngx_array_t *list, json_t *value);
static ngx_uint_t ngx_http_llmgw_json_any_in(ngx_array_t *list, json_t *v);
static json_t *ngx_http_llmgw_claims_audience(ngx_http_llmgw_claims_conf_t *ccf,
    json_t *claims);
static ngx_int_t ngx_http_llmgw_claims_values(ngx_array_t *checks,
    json_t *claims, const char **reason);
static ngx_uint_t ngx_http_llmgw_claim_matches(json_t *v, ngx_array_t *values);
static ngx_uint_t ngx_http_llmgw_claim_scalar_is(json_t *v, ngx_str_t *value);
static ngx_int_t ngx_http_llmgw_claim_number(ngx_str_t *value, double *d);
static ngx_int_t ngx_http_llmgw_claim_path_name(ngx_pool_t *pool, u_char **pp,
    u_char *last, ngx_str_t *name, const char **err);
static const char *ngx_http_llmgw_claim_reason(ngx_pool_t *pool,
    ngx_str_t *text, const char *what, size_t len);
static size_t ngx_http_llmgw_claim_scalar_len(json_t *v);
static u_char *ngx_http_llmgw_claim_scalar(u_char *p, json_t *v);


ngx_int_t
ngx_http_llmgw_claim_path_parse(ngx_pool_t *pool, ngx_str_t *text,
    ngx_http_llmgw_claim_path_t *path, const char **err)
{
    u_char     *p, *last;
    ngx_int_t   rc;
    ngx_str_t  *names;
    ngx_uint_t  n;

    if (text->len == 0) {
        *err = "is empty";
        return NGX_DECLINED;
    }

    names = ngx_palloc(pool, NGX_HTTP_LLMGW_CLAIM_PATH_MAX * sizeof(ngx_str_t));
    if (names == NULL) {
        return NGX_ERROR;
    }

    p = text->data;
    last = p + text->len;

    for (n = 0; /* void */ ; n++) {

        if (n == NGX_HTTP_LLMGW_CLAIM_PATH_MAX) {
            *err = "names more than 8 levels";
            return NGX_DECLINED;
        }

        rc = ngx_http_llmgw_claim_path_name(pool, &p, last, &names[n], err);

        if (rc != NGX_OK) {
            return rc;
        }

        if (p == last) {
            break;
        }

        if (*p != '.') {
            *err = "has text after a closing quote";
            return NGX_DECLINED;
        }

        if (++p == last) {
            *err = "ends with a dot";
            return NGX_DECLINED;
        }
    }

    path->names = names;
    path->nnames = n + 1;
    path->text = *text;

    return NGX_OK;
}


/* one member name at *pp, plain up to a '.' or double-quoted */

static ngx_int_t
ngx_http_llmgw_claim_path_name(ngx_pool_t *pool, u_char **pp, u_char *last,
    ngx_str_t *name, const char **err)
{
    u_char  *p, *d;

    p = *pp;

    if (*p != '"') {
        name->data = p;

        while (p < last && *p != '.') {
            if (*p == '"' || *p == '\\' || *p < 0x20 || *p == 0x7f) {
                *err = "has a quote, backslash or control character "
                       "outside quotes";
                return NGX_DECLINED;
            }

            p++;
        }

        name->len = p - name->data;

        if (name->len == 0) {
            *err = "has an empty name";
            return NGX_DECLINED;
        }

        *pp = p;
        return NGX_OK;
    }

    d = ngx_pnalloc(pool, last - p);
    if (d == NULL) {
        return NGX_ERROR;
    }

    name->data = d;

    for (p++; /* void */ ; p++) {

        if (p == last) {
            *err = "has an unterminated quote";
            return NGX_DECLINED;
        }

        if (*p == '"') {
            break;
        }

        if (*p == '\\') {
            if (++p == last || (*p != '"' && *p != '\\')) {
                *err = "has a backslash not before '\"' or '\\'";
                return NGX_DECLINED;
            }

        } else if (*p < 0x20 || *p == 0x7f) {
            *err = "has a control character";
            return NGX_DECLINED;
        }

        *d++ = *p;
    }

    name->len = d - name->data;

    if (name->len == 0) {
        *err = "has an empty name";
        return NGX_DECLINED;
    }

    *pp = p + 1;

    return NGX_OK;
}


void
ngx_http_llmgw_claim_path_single(ngx_http_llmgw_claim_path_t *path,
    ngx_str_t *name)
{
    path->names = name;
    path->nnames = 1;
    path->text = *name;
}


json_t *
ngx_http_llmgw_claim_get(json_t *claims, ngx_http_llmgw_claim_path_t *path)
{
    json_t      *v;
    ngx_uint_t   i;

    v = claims;

    for (i = 0; i < path->nnames; i++) {
        if (!json_is_object(v)) {
            return NULL;
        }

        v = json_object_getn(v, (const char *) path->names[i].data,
                             path->names[i].len);
    }

    return v;
}


ngx_int_t
ngx_http_llmgw_claim_check_init(ngx_pool_t *pool,
    ngx_http_llmgw_claim_check_t *check)
{
    check->missing = ngx_http_llmgw_claim_reason(pool, &check->path.text,
                                                 " missing",
                                                 sizeof(" missing") - 1);
    if (check->missing == NULL) {
        return NGX_ERROR;
    }

    check->rejected = ngx_http_llmgw_claim_reason(pool, &check->path.text,
                                                  " not accepted",
                                                  sizeof(" not accepted") - 1);
    if (check->rejected == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * "claim NAME what", NUL-terminated: NAME goes into a quoted-string of
 * WWW-Authenticate and a JSON string as it is, so a '"' is shown as '\''
 * and a backslash, control or non-ASCII byte as '?'.
 */

static const char *
ngx_http_llmgw_claim_reason(ngx_pool_t *pool, ngx_str_t *text,
    const char *what, size_t len)
{
    u_char  *p, *s, *last;
    u_char  *reason;

    reason = ngx_pnalloc(pool, sizeof("claim ") - 1 + text->len + len + 1);
    if (reason == NULL) {
        return NULL;
    }

    p = ngx_cpymem(reason, "claim ", sizeof("claim ") - 1);
    last = text->data + text->len;

    for (s = text->data; s < last; s++) {
        if (*s == '"') {
            *p++ = '\'';

        } else if (*s == '\\' || *s < 0x20 || *s >= 0x7f) {
            *p++ = '?';

        } else {
            *p++ = *s;
        }
    }

    p = ngx_cpymem(p, what, len);
    *p = '\0';

    return (const char *) reason;
}


void
ngx_http_llmgw_typ_normalize(ngx_str_t *typ)
{
    size_t  n;

    n = sizeof("application/") - 1;

    if (typ->len > n
        && ngx_strncasecmp(typ->data, (u_char *) "application/", n) == 0
        && ngx_strlchr(typ->data + n, typ->data + typ->len, '/') == NULL)
    {
        typ->data += n;
        typ->len -= n;
    }
}


/*
 * Numeric dates are seconds since the epoch, possibly fractional
 * (RFC 7519 section 2); anything else in such a claim is an error.
 */

static ngx_int_t
ngx_http_llmgw_claims_time(json_t *claims, const char *name, time_t *value)
{
    double   d;
    json_t  *v;

    v = json_object_get(claims, name);

    if (v == NULL) {
        return NGX_DECLINED;
    }

    if (json_is_integer(v)) {
        *value = (time_t) json_integer_value(v);
        return NGX_OK;
    }

    if (json_is_real(v)) {
        d = json_real_value(v);

        if (d < 0 || d > 253402300799.0) {
            return NGX_ERROR;
        }

        *value = (time_t) d;
        return NGX_OK;
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_llmgw_claims_times(ngx_http_llmgw_claims_conf_t *ccf, json_t *claims,
    time_t now, const char **reason)
{
    time_t     t;
    ngx_int_t  rc;

    rc = ngx_http_llmgw_claims_time(claims, "exp", &t);

    if (rc == NGX_ERROR) {
        *reason = "malformed exp claim";
        return NGX_DECLINED;
    }

    if (rc == NGX_DECLINED) {
        if (ccf->require_exp) {
            *reason = "missing exp claim";
            return NGX_DECLINED;
        }

    } else if (now >= t + ccf->leeway) {
        *reason = "token expired";
        return NGX_DECLINED;
    }

    rc = ngx_http_llmgw_claims_time(claims, "nbf", &t);

    if (rc == NGX_ERROR) {
        *reason = "malformed nbf claim";
        return NGX_DECLINED;
    }

    if (rc == NGX_OK && now + ccf->leeway < t) {
        *reason = "token not yet valid";
        return NGX_DECLINED;
    }

    rc = ngx_http_llmgw_claims_time(claims, "iat", &t);

    if (rc == NGX_ERROR) {
        *reason = "malformed iat claim";
        return NGX_DECLINED;
    }

    if (rc == NGX_OK && now + ccf->leeway < t) {
        *reason = "token issued in the future";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_claims_check(ngx_http_llmgw_claims_conf_t *ccf, json_t *claims,
    ngx_str_t *typ, time_t now, const char **reason)
{
    size_t      i;
    json_t     *v, *e;
    ngx_str_t   t;
    ngx_uint_t  found;

    if (ngx_http_llmgw_claims_times(ccf, claims, now, reason) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ccf->issuers) {
        v = json_object_get(claims, "iss");

        if (!ngx_http_llmgw_json_in(ccf->issuers, v)) {
            *reason = "issuer not accepted";
            return NGX_DECLINED;
        }
    }

    if (ccf->audiences
        && !ngx_http_llmgw_json_any_in(ccf->audiences,
                                       ngx_http_llmgw_claims_audience(ccf,
                                                                      claims)))
    {
        *reason = "audience not accepted";
        return NGX_DECLINED;
    }

    t = *typ;
    ngx_http_llmgw_typ_normalize(&t);

    /*
     * RFC 9449 section 4.2, RFC 8725 section 3.11: a DPoP proof is typed
     * so that it is never taken for another JWT; signed by a key the
     * location trusts, it would otherwise pass as a token, whatever
     * llmgw_jwt_typ says
     */

    if (t.len == sizeof("dpop+jwt") - 1
        && ngx_strncasecmp(t.data, (u_char *) "dpop+jwt", t.len) == 0)
    {
        *reason = "a DPoP proof is not an access token";
        return NGX_DECLINED;
    }

    if (ccf->typs) {
        if (!ngx_http_llmgw_str_in(ccf->typs, (const char *) t.data, t.len,
                                   1))
        {
            *reason = "token type not accepted";
            return NGX_DECLINED;
        }
    }

    if (ccf->checks
        && ngx_http_llmgw_claims_values(ccf->checks, claims, reason)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ccf->amr) {
        v = json_object_get(claims, "amr");
        found = 0;

        if (json_is_array(v)) {
            json_array_foreach(v, i, e) {
                if (ngx_http_llmgw_json_in(ccf->amr, e)) {
                    found = 1;
                    break;
                }
            }
        }

        if (!found) {
            *reason = "multi-factor authentication required";
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * The audience: "aud" when the token has one, else the first configured
 * claim present (Cognito's access tokens have no "aud" and name their app
 * client in "client_id"; AWS API Gateway checks it only when "aud" is
 * absent, and so does this).
 */

static json_t *
ngx_http_llmgw_claims_audience(ngx_http_llmgw_claims_conf_t *ccf,
    json_t *claims)
{
    json_t                       *v;
    ngx_uint_t                    i;
    ngx_http_llmgw_claim_path_t  *path;

    v = json_object_get(claims, "aud");

    if (v != NULL || ccf->audience_claims == NULL) {
        return v;
    }

    path = ccf->audience_claims->elts;

    for (i = 0; i < ccf->audience_claims->nelts; i++) {
        v = ngx_http_llmgw_claim_get(claims, &path[i]);

        if (v != NULL) {
            return v;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_llmgw_claims_values(ngx_array_t *checks, json_t *claims,
    const char **reason)
{
    json_t                        *v;
    ngx_uint_t                     i;
    ngx_http_llmgw_claim_check_t  *check;

    check = checks->elts;

    for (i = 0; i < checks->nelts; i++) {
        v = ngx_http_llmgw_claim_get(claims, &check[i].path);

        if (v == NULL || json_is_null(v)) {
            *reason = check[i].missing;
            return NGX_DECLINED;
        }

        if (check[i].values.nelts
            && !ngx_http_llmgw_claim_matches(v, &check[i].values))
        {
            *reason = check[i].rejected;
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* a scalar equal to one of values, or an array with such an element */

static ngx_uint_t
ngx_http_llmgw_claim_matches(json_t *v, ngx_array_t *values)
{
    size_t       k;
    json_t      *e;
    ngx_str_t   *value;
    ngx_uint_t   i;

    value = values->elts;

    if (!json_is_array(v)) {
        for (i = 0; i < values->nelts; i++) {
            if (ngx_http_llmgw_claim_scalar_is(v, &value[i])) {
                return 1;
            }
        }

        return 0;
    }

    json_array_foreach(v, k, e) {
        for (i = 0; i < values->nelts; i++) {
            if (ngx_http_llmgw_claim_scalar_is(e, &value[i])) {
                return 1;
            }
        }
    }

    return 0;
}


/*
 * A string claim equals the value's text byte for byte; a number claim
 * the value read as a number (the configured "1" matches 1, 1.0 and the
 * string "1", not "1.0"); true and false the texts "true" and "false".
 */

static ngx_uint_t
ngx_http_llmgw_claim_scalar_is(json_t *v, ngx_str_t *value)
{
    double  d;

    if (json_is_string(v)) {
        return json_string_length(v) == value->len
               && ngx_memcmp(json_string_value(v), value->data, value->len)
                  == 0;
    }

    if (json_is_number(v)) {
        return ngx_http_llmgw_claim_number(value, &d) == NGX_OK
               && d == json_number_value(v);
    }

    if (json_is_true(v)) {
        return value->len == 4 && ngx_strncmp(value->data, "true", 4) == 0;
    }

    if (json_is_false(v)) {
        return value->len == 5 && ngx_strncmp(value->data, "false", 5) == 0;
    }

    return 0;
}


/* a configured value read as a JSON number; its text is NUL-terminated */

static ngx_int_t
ngx_http_llmgw_claim_number(ngx_str_t *value, double *d)
{
    char    *end;
    u_char  *p;

    if (value->len == 0
        || !(value->data[0] == '-'
             || (value->data[0] >= '0' && value->data[0] <= '9')))
    {
        return NGX_DECLINED;
    }

    /* JSON's number grammar, not strtod's (no hex, no "inf") */

    for (p = value->data; p < value->data + value->len; p++) {
        if (ngx_strchr("0123456789+-.eE", *p) == NULL) {
            return NGX_DECLINED;
        }
    }

    *d = strtod((const char *) value->data, &end);

    if (end != (char *) value->data + value->len) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


time_t
ngx_http_llmgw_claims_exp(json_t *claims)
{
    time_t  exp;

    if (ngx_http_llmgw_claims_time(claims, "exp", &exp) != NGX_OK) {
        return 0;
    }

    return exp;
}


static ngx_uint_t
ngx_http_llmgw_str_in(ngx_array_t *list, const char *s, size_t len,
    ngx_uint_t caseless)
{
    ngx_str_t   *str;
    ngx_uint_t   i;

    str = list->elts;

    for (i = 0; i < list->nelts; i++) {
        if (str[i].len != len) {
            continue;
        }

        if (caseless) {
            if (ngx_strncasecmp(str[i].data, (u_char *) s, len) == 0) {
                return 1;
            }

        } else if (ngx_memcmp(str[i].data, s, len) == 0) {
            return 1;
        }
    }

    return 0;
}


static ngx_uint_t
ngx_http_llmgw_json_in(ngx_array_t *list, json_t *value)
{
    if (!json_is_string(value)) {
        return 0;
    }

    return ngx_http_llmgw_str_in(list, json_string_value(value),
                                 json_string_length(value), 0);
}


/* a string in list, or an array with such a string */

static ngx_uint_t
ngx_http_llmgw_json_any_in(ngx_array_t *list, json_t *v)
{
    size_t   i;
    json_t  *e;

    if (!json_is_array(v)) {
        return ngx_http_llmgw_json_in(list, v);
    }

    json_array_foreach(v, i, e) {
        if (ngx_http_llmgw_json_in(list, e)) {
            return 1;
        }
    }

    return 0;
}


ngx_int_t
ngx_http_llmgw_claim_text(ngx_pool_t *pool, json_t *claims,
    ngx_http_llmgw_claim_path_t *path, ngx_str_t *value)
{
    u_char  *p;
    size_t   i, len;
    json_t  *v, *e;

    v = ngx_http_llmgw_claim_get(claims, path);

    if (v == NULL || json_is_null(v) || json_is_object(v)) {
        return NGX_DECLINED;
    }

    if (json_is_string(v)) {
        value->data = (u_char *) json_string_value(v);
        value->len = json_string_length(v);
        return NGX_OK;
    }

    if (!json_is_array(v)) {
        len = ngx_http_llmgw_claim_scalar_len(v);

    } else {
        len = 0;

        json_array_foreach(v, i, e) {
            len += ngx_http_llmgw_claim_scalar_len(e) + 1;
        }
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value->data = p;

    if (!json_is_array(v)) {
        p = ngx_http_llmgw_claim_scalar(p, v);

    } else {
        json_array_foreach(v, i, e) {
            if (i > 0) {
                *p++ = ',';
            }

            p = ngx_http_llmgw_claim_scalar(p, e);
        }
    }

    value->len = p - value->data;

    return NGX_OK;
}


/* longest text of a scalar; objects and nested arrays print as nothing */

static size_t
ngx_http_llmgw_claim_scalar_len(json_t *v)
{
    if (json_is_string(v)) {
        return json_string_length(v);
    }

    if (json_is_integer(v) || json_is_real(v)) {
        return NGX_INT64_LEN + 32;
    }

    if (json_is_boolean(v)) {
        return sizeof("false") - 1;
    }

    return 0;
}


static u_char *
ngx_http_llmgw_claim_scalar(u_char *p, json_t *v)
{
    if (json_is_string(v)) {
        return ngx_cpymem(p, json_string_value(v), json_string_length(v));
    }

    if (json_is_integer(v)) {
        return ngx_sprintf(p, "%L", (int64_t) json_integer_value(v));
    }

    if (json_is_real(v)) {
        return ngx_sprintf(p, "%.6f", json_real_value(v));
    }

    if (json_is_true(v)) {
        return ngx_cpymem(p, "true", sizeof("true") - 1);
    }

    if (json_is_false(v)) {
        return ngx_cpymem(p, "false", sizeof("false") - 1);
    }

    return p;
}
