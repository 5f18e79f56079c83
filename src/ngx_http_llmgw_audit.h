
/*
 * Copyright (C) llmgw authors
 *
 * Audit lines: one JSON object a line, built from a list of typed fields
 * with the exact length computed first (so a line is one allocation and
 * one write()), valid JSON whatever the values hold (ngx_http_llmgw_json),
 * and the tamper-evidence chain: each line of a chain carries the
 * HMAC-SHA256 of the exact bytes of the line before it in that chain.
 *
 * Everything here is pure: fields and a key in, bytes out; the log module
 * decides what goes into a line and where it is written.
 */


#ifndef _NGX_HTTP_LLMGW_AUDIT_H_INCLUDED_
#define _NGX_HTTP_LLMGW_AUDIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/evp.h>


#define NGX_HTTP_LLMGW_AUDIT_MAC_LEN   32


typedef enum {
    NGX_HTTP_LLMGW_AUDIT_NULL = 0,   /* null */
    NGX_HTTP_LLMGW_AUDIT_STR,        /* a string, escaped */
    NGX_HTTP_LLMGW_AUDIT_INT,        /* num */
    NGX_HTTP_LLMGW_AUDIT_BOOL,       /* num: 0 false, else true */
    NGX_HTTP_LLMGW_AUDIT_STRS,       /* an array of strings */
    NGX_HTTP_LLMGW_AUDIT_RAW,        /* str as it is: JSON the caller made */
    NGX_HTTP_LLMGW_AUDIT_SKIP        /* left out of the line */
} ngx_http_llmgw_audit_type_e;


/*
 * One member of a line.  name is written as it is: the code's own names
 * and names checked at configuration time (ngx_http_llmgw_audit_name_valid)
 * only.
 */

typedef struct {
    ngx_str_t                     name;
    ngx_http_llmgw_audit_type_e   type;
    ngx_str_t                     str;
    int64_t                       num;
    ngx_str_t                    *strs;
    ngx_uint_t                    nstrs;
} ngx_http_llmgw_audit_field_t;


/* NGX_OK when name may be a member name as it is: [A-Za-z0-9_.:-]{1,64} */
ngx_int_t ngx_http_llmgw_audit_name_valid(ngx_str_t *name);

/* the length of the line of these fields, newline included */
size_t ngx_http_llmgw_audit_len(ngx_http_llmgw_audit_field_t *fields,
    ngx_uint_t n);

/* the line "{...}\n" at p, exactly audit_len bytes; returns the end */
u_char *ngx_http_llmgw_audit_write(u_char *p,
    ngx_http_llmgw_audit_field_t *fields, ngx_uint_t n);

/*
 * The chain key made ready for HMAC-SHA256 once (a worker's, at start):
 * the algorithm fetched and the key's two padded blocks hashed, so a line
 * costs only its own bytes.  NULL on failure; freed with
 * ngx_http_llmgw_audit_hmac_free(), which also wipes the key's state.
 */
EVP_MAC_CTX *ngx_http_llmgw_audit_hmac_create(ngx_str_t *key);
void ngx_http_llmgw_audit_hmac_free(EVP_MAC_CTX *hmac);

/*
 * HMAC-SHA256 of a line's bytes with the key hmac was made for, into
 * mac; the next line of the chain carries it in hex.  NGX_OK or
 * NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_audit_mac(EVP_MAC_CTX *hmac, u_char *line,
    size_t len, u_char mac[NGX_HTTP_LLMGW_AUDIT_MAC_LEN]);


#endif /* _NGX_HTTP_LLMGW_AUDIT_H_INCLUDED_ */
