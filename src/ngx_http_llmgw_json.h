
/*
 * Copyright (C) llmgw authors
 *
 * JSON strings written by llmgw (error bodies, audit lines): the exact
 * length first, then the bytes, so a line is allocated once.  Whatever
 * the input (a claim, a path, a header), the output is valid JSON text
 * (RFC 8259): '"' and '\' escaped, control bytes as \u00XX, and every byte
 * that is not part of well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence) replaced by
 * \ufffd, so a parser never refuses a line and nothing invalid is stored.
 */


#ifndef _NGX_HTTP_LLMGW_JSON_H_INCLUDED_
#define _NGX_HTTP_LLMGW_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* the length of s escaped as a JSON string's content (no quotes) */
size_t ngx_http_llmgw_json_str_len(u_char *s, size_t len);

/* s escaped as a JSON string's content at p; returns the end */
u_char *ngx_http_llmgw_json_str(u_char *p, u_char *s, size_t len);


#endif /* _NGX_HTTP_LLMGW_JSON_H_INCLUDED_ */
