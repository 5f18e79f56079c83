
/*
 * Copyright (C) llmgw authors
 *
 * Redaction of captured bodies (llmgw_audit_body, llmgw_audit_redact): the
 * value of every JSON member whose name is configured, at any depth, is
 * replaced by "[redacted]" (with its quotes), whatever the value is: a
 * string, a number, a literal, an object, an array.
 *
 * The text is what was captured: a JSON document, a sequence of them (a
 * Gemini stream without alt=sse), or an event stream whose "data:" lines
 * are JSON (SSE, and Bedrock's event stream as llmgw_pass renders it), and
 * it may end anywhere: a prefix cut at the capture's size, a provider's
 * broken body.  Nothing is validated; the scanner only tracks what it must
 * to know where a member's value starts and ends (strings and their
 * escapes, nesting), so a redacted value never reaches the output, even
 * when the text ends inside it: "[redacted]" is written as soon as the
 * value starts.  A member name is compared after its escapes are decoded
 * ("mess\u0061ges" is "messages").
 *
 * Bounded: the state is a fixed structure on the stack.  Nesting deeper
 * than NGX_HTTP_LLMGW_REDACT_MAX_DEPTH outside a redacted value is
 * redacted whole (the scanner can no longer tell names from values there);
 * inside a redacted value only a counter is kept.
 *
 * The output is bytes, not yet JSON string content: the audit line escapes
 * it (ngx_http_llmgw_json), ill-formed UTF-8 included.
 */


#ifndef _NGX_HTTP_LLMGW_REDACT_H_INCLUDED_
#define _NGX_HTTP_LLMGW_REDACT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_LLMGW_REDACT_MAX_DEPTH  64

/* the longest name that can be configured */
#define NGX_HTTP_LLMGW_REDACT_MAX_NAME   64

#define NGX_HTTP_LLMGW_REDACTED          "\"[redacted]\""


typedef struct {
    ngx_str_t                 *names;   /* member names, exact bytes */
    ngx_uint_t                 nnames;
    unsigned                   sse:1;   /* the text is an event stream */
} ngx_http_llmgw_redact_conf_t;


/*
 * in[0 .. len - 1] with the values of conf's names replaced: written at out
 * when out is not NULL; returns the length of the output either way, so a
 * caller counts first (out NULL), allocates, then writes.
 */
size_t ngx_http_llmgw_redact(ngx_http_llmgw_redact_conf_t *conf,
    u_char *in, size_t len, u_char *out);


#endif /* _NGX_HTTP_LLMGW_REDACT_H_INCLUDED_ */
