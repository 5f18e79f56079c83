
/*
 * Copyright (C) llmgw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

#include "ngx_http_llmgw_json.h"
#include "ngx_http_llmgw_audit.h"


#define NGX_HTTP_LLMGW_AUDIT_NAME_MAX  64


static size_t ngx_http_llmgw_audit_value_len(
    ngx_http_llmgw_audit_field_t *f);
static u_char *ngx_http_llmgw_audit_value(u_char *p,
    ngx_http_llmgw_audit_field_t *f);
static u_char *ngx_http_llmgw_audit_int(u_char *p, int64_t v);


ngx_int_t
ngx_http_llmgw_audit_name_valid(ngx_str_t *name)
{
    u_char  *p, c;

    if (name->len == 0 || name->len > NGX_HTTP_LLMGW_AUDIT_NAME_MAX) {
        return NGX_ERROR;
    }

    for (p = name->data; p < name->data + name->len; p++) {
        c = *p;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '_' || c == '.' || c == ':' || c == '-'))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The exact length, escapes counted, as nginx's log module sizes a line
 * with escape=json before writing it: the strings are scanned twice, but
 * a bound without the scan (6 bytes for each byte that may need \u00XX)
 * would reserve 6 MiB for a line carrying a captured 1 MiB body.
 */

size_t
ngx_http_llmgw_audit_len(ngx_http_llmgw_audit_field_t *fields, ngx_uint_t n)
{
    size_t      len;
    ngx_uint_t  i, members;

    len = sizeof("{}\n") - 1;
    members = 0;

    for (i = 0; i < n; i++) {
        if (fields[i].type == NGX_HTTP_LLMGW_AUDIT_SKIP) {
            continue;
        }

        /* ,"name": */

        len += (members++ ? 1 : 0) + fields[i].name.len + 3
               + ngx_http_llmgw_audit_value_len(&fields[i]);
    }

    return len;
}


u_char *
ngx_http_llmgw_audit_write(u_char *p, ngx_http_llmgw_audit_field_t *fields,
    ngx_uint_t n)
{
    ngx_uint_t  i, members;

    *p++ = '{';
    members = 0;

    for (i = 0; i < n; i++) {
        if (fields[i].type == NGX_HTTP_LLMGW_AUDIT_SKIP) {
            continue;
        }

        if (members++) {
            *p++ = ',';
        }

        *p++ = '"';
        p = ngx_cpymem(p, fields[i].name.data, fields[i].name.len);
        *p++ = '"';
        *p++ = ':';

        p = ngx_http_llmgw_audit_value(p, &fields[i]);
    }

    *p++ = '}';
    *p++ = '\n';

    return p;
}


static size_t
ngx_http_llmgw_audit_value_len(ngx_http_llmgw_audit_field_t *f)
{
    u_char      digits[NGX_INT64_LEN];
    size_t      len;
    ngx_uint_t  i;

    switch (f->type) {

    case NGX_HTTP_LLMGW_AUDIT_STR:
        return 2 + ngx_http_llmgw_json_str_len(f->str.data, f->str.len);

    case NGX_HTTP_LLMGW_AUDIT_INT:
        return ngx_http_llmgw_audit_int(digits, f->num) - digits;

    case NGX_HTTP_LLMGW_AUDIT_BOOL:
        return f->num ? sizeof("true") - 1 : sizeof("false") - 1;

    case NGX_HTTP_LLMGW_AUDIT_STRS:
        len = 2;

        for (i = 0; i < f->nstrs; i++) {
            len += (i ? 1 : 0) + 2
                   + ngx_http_llmgw_json_str_len(f->strs[i].data,
                                                 f->strs[i].len);
        }

        return len;

    case NGX_HTTP_LLMGW_AUDIT_RAW:
        return f->str.len;

    default: /* NGX_HTTP_LLMGW_AUDIT_NULL */
        return sizeof("null") - 1;
    }
}


static u_char *
ngx_http_llmgw_audit_value(u_char *p, ngx_http_llmgw_audit_field_t *f)
{
    ngx_uint_t  i;

    switch (f->type) {

    case NGX_HTTP_LLMGW_AUDIT_STR:
        *p++ = '"';
        p = ngx_http_llmgw_json_str(p, f->str.data, f->str.len);
        *p++ = '"';
        return p;

    case NGX_HTTP_LLMGW_AUDIT_INT:
        return ngx_http_llmgw_audit_int(p, f->num);

    case NGX_HTTP_LLMGW_AUDIT_BOOL:
        return f->num ? ngx_cpymem(p, "true", sizeof("true") - 1)
                      : ngx_cpymem(p, "false", sizeof("false") - 1);

    case NGX_HTTP_LLMGW_AUDIT_STRS:
        *p++ = '[';

        for (i = 0; i < f->nstrs; i++) {
            if (i) {
                *p++ = ',';
            }

            *p++ = '"';
            p = ngx_http_llmgw_json_str(p, f->strs[i].data, f->strs[i].len);
            *p++ = '"';
        }

        *p++ = ']';
        return p;

    case NGX_HTTP_LLMGW_AUDIT_RAW:
        return ngx_cpymem(p, f->str.data, f->str.len);

    default: /* NGX_HTTP_LLMGW_AUDIT_NULL */
        return ngx_cpymem(p, "null", sizeof("null") - 1);
    }
}


/*
 * nginx's "%L" negates a negative value as it is, which the smallest
 * int64 does not survive: the magnitude is taken unsigned.
 */

static u_char *
ngx_http_llmgw_audit_int(u_char *p, int64_t v)
{
    if (v >= 0) {
        return ngx_sprintf(p, "%uL", (uint64_t) v);
    }

    *p++ = '-';

    return ngx_sprintf(p, "%uL", (uint64_t) 0 - (uint64_t) v);
}


EVP_MAC_CTX *
ngx_http_llmgw_audit_hmac_create(ngx_str_t *key)
{
    EVP_MAC      *mac;
    OSSL_PARAM    params[2];
    EVP_MAC_CTX  *hmac;

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        return NULL;
    }

    hmac = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);

    if (hmac == NULL) {
        return NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (!EVP_MAC_init(hmac, key->data, key->len, params)) {
        EVP_MAC_CTX_free(hmac);
        return NULL;
    }

    return hmac;
}


void
ngx_http_llmgw_audit_hmac_free(EVP_MAC_CTX *hmac)
{
    EVP_MAC_CTX_free(hmac);
}


/*
 * EVP_MAC_init() without a key starts a new MAC with the key set at
 * creation (OpenSSL 3.0's HMAC keeps the padded key's digest states);
 * the unit test checks lines in a row against one-shot HMAC().
 */

ngx_int_t
ngx_http_llmgw_audit_mac(EVP_MAC_CTX *hmac, u_char *line, size_t len,
    u_char mac[NGX_HTTP_LLMGW_AUDIT_MAC_LEN])
{
    size_t  n;

    if (!EVP_MAC_init(hmac, NULL, 0, NULL)
        || !EVP_MAC_update(hmac, line, len)
        || !EVP_MAC_final(hmac, mac, &n, NGX_HTTP_LLMGW_AUDIT_MAC_LEN)
        || n != NGX_HTTP_LLMGW_AUDIT_MAC_LEN)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
