
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
static size_t ngx_http_llmgw_claim_scalar_len(json_t *v);
static u_char *ngx_http_llmgw_claim_scalar(u_char *p, json_t *v);


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
    size_t       i;
    json_t      *v, *e;
    ngx_str_t   *name;
    ngx_uint_t   n, found;

    if (ngx_http_llmgw_claims_times(ccf, claims, now, reason) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ccf->issuers) {
        v = json_object_get(claims, "iss");

        if (!json_is_string(v)
            || !ngx_http_llmgw_str_in(ccf->issuers, json_string_value(v),
                                      json_string_length(v), 0))
        {
            *reason = "issuer not accepted";
            return NGX_DECLINED;
        }
    }

    if (ccf->audiences) {
        v = json_object_get(claims, "aud");
        found = 0;

        if (json_is_string(v)) {
            found = ngx_http_llmgw_json_in(ccf->audiences, v);

        } else if (json_is_array(v)) {
            json_array_foreach(v, i, e) {
                if (ngx_http_llmgw_json_in(ccf->audiences, e)) {
                    found = 1;
                    break;
                }
            }
        }

        if (!found) {
            *reason = "audience not accepted";
            return NGX_DECLINED;
        }
    }

    if (ccf->typs
        && !ngx_http_llmgw_str_in(ccf->typs, (const char *) typ->data,
                                  typ->len, 1))
    {
        *reason = "token type not accepted";
        return NGX_DECLINED;
    }

    if (ccf->required) {
        name = ccf->required->elts;

        for (n = 0; n < ccf->required->nelts; n++) {
            v = json_object_getn(claims, (const char *) name[n].data,
                                 name[n].len);

            if (v == NULL || json_is_null(v)) {
                *reason = "required claim missing";
                return NGX_DECLINED;
            }
        }
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


ngx_int_t
ngx_http_llmgw_claim_text(ngx_pool_t *pool, json_t *claims, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char  *p;
    size_t   i, len;
    json_t  *v, *e;

    v = json_object_getn(claims, (const char *) name->data, name->len);

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
