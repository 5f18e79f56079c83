
/*
 * Copyright (C) llmgw authors
 *
 * stream_options.include_usage asked for by the gateway, and what the
 * provider sends only because of it taken out again (Azure OpenAI,
 * OpenAI: chat completions and completions).
 *
 * A streamed chat request reports its token usage only when the client
 * asked with "stream_options": {"include_usage": true}.  The gateway adds
 * that to a request that did not, so that every stream is billed, and
 * removes from the response what the provider then sends that the client
 * did not ask for, so that the client sees the stream it asked for:
 *
 *   - the usage chunk: an event whose JSON has a root "choices" that is an
 *     empty array and a root "usage" that is an object;
 *   - the root "usage": null member every other chunk then carries
 *     (OpenAI's documentation of stream_options).
 *
 * The request: ngx_http_llmgw_include_usage_request() rewrites a JSON body
 * given whole.  It is rewritten only when it is one JSON object with a root
 * "stream" that is true, and then:
 *
 *   - no root "stream_options": "stream_options":{"include_usage":true} is
 *     inserted right after the value of "stream";
 *   - "stream_options" an object without "include_usage":
 *     "include_usage":true is inserted as its first member;
 *   - "include_usage": false: the client declined usage chunks, not
 *     billing; false is replaced by true, and the client's stream stays
 *     as it asked (without them).
 *
 * Anything else leaves the body unchanged (NGX_DECLINED, with the reason):
 * "include_usage": true (the client asked itself: nothing to remove later),
 * "stream" absent or not true, "stream_options" or "include_usage" of any
 * other type (null included: the provider decides what it means), a key
 * the rules look at given twice at its level (JSON leaves duplicates
 * undefined and parsers differ), a body that is not exactly one valid JSON
 * object, nesting deeper than NGX_HTTP_LLMGW_INCLUDE_USAGE_MAX_DEPTH.  Keys
 * are compared after unescaping (a "stre\u0061m" key is "stream").  Memory:
 * the new body only; the scan itself uses a fixed stack.
 *
 * The response: an incremental filter of the SSE body (after chunked
 * decoding), fed pieces of any size.  Events end at a blank line (LF,
 * CRLF or CR line ends, mixed as they come).  An event whose bytes lie
 * whole in the piece given is inspected where it lies and handed out as
 * spans of the caller's bytes; an event that spans pieces is held in a
 * region of the filter's own until it ends, and handed out from there.
 * Only an event with exactly one "data" line holding one JSON object is
 * changed; any other event (comments, [DONE], several data lines, invalid
 * JSON, a "usage" key twice) passes unchanged.  An event longer than the
 * filter's maximum passes unchanged too: what is held is handed out as soon
 * as the event proves too long, the rest as it arrives, so memory stays
 * bounded; such events are counted in "oversized".
 *
 * The bytes handed out stay valid until the caller calls release(): for
 * spans of the caller's bytes, while those bytes are; for held ones, until
 * release(), which the caller calls once every span handed out before has
 * been consumed, and which moves a held incomplete event to the start of
 * the region.  A region that fills up before a release() is replaced by a
 * new one (counted in "regions"); sized as the caller's read buffer plus
 * the maximum, it does not fill when the caller releases whenever all its
 * output has gone and reads no more than its buffer before that.
 */


#ifndef _NGX_HTTP_LLMGW_INCLUDE_USAGE_H_INCLUDED_
#define _NGX_HTTP_LLMGW_INCLUDE_USAGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_LLMGW_INCLUDE_USAGE_MAX_DEPTH   64

/* the longest event inspected: an OpenAI chunk is a few hundred bytes */
#define NGX_HTTP_LLMGW_INCLUDE_USAGE_EVENT_MAX   (16 * 1024)


/* a span handed out: NGX_OK, or NGX_ERROR to stop (out of memory) */
typedef ngx_int_t (*ngx_http_llmgw_include_usage_emit_pt)(void *data,
    u_char *p, size_t len);


typedef struct {
    ngx_pool_t                             *pool;
    ngx_http_llmgw_include_usage_emit_pt    emit;
    void                                   *data;

    size_t                                  max;     /* of an event */
    size_t                                  size;    /* of a region */

    u_char                                 *start;   /* the region */
    u_char                                 *end;
    u_char                                 *hold;    /* the held event */
    u_char                                 *last;    /* its end */

    size_t                                  len;     /* of the event so
                                                        far */

    ngx_uint_t                              events;
    ngx_uint_t                              dropped;  /* usage chunks */
    ngx_uint_t                              stripped; /* "usage": null */
    ngx_uint_t                              oversized;
    ngx_uint_t                              regions;

    unsigned                                bol:1;   /* at a line start */
    unsigned                                cr:1;    /* after a CR */
    unsigned                                passing:1; /* oversized event
                                                          going by */
    unsigned                                lf:2;    /* the LF that may
                                                        follow an event's
                                                        final CR: 1 pass it,
                                                        2 drop it */
} ngx_http_llmgw_include_usage_sse_t;


/*
 * The body with include_usage added, in out (allocated from pool): NGX_OK;
 * NGX_DECLINED with *reason set: unchanged; NGX_ERROR: out of memory.
 */
ngx_int_t ngx_http_llmgw_include_usage_request(ngx_pool_t *pool,
    u_char *body, size_t len, ngx_str_t *out, const char **reason);

/*
 * 1 when an Azure OpenAI api-version (deployments API) accepts
 * stream_options: GA versions from 2024-10-21, previews from
 * 2024-09-01-preview; earlier ones answer 400 "Unrecognized request
 * argument supplied: stream_options".  0 for anything else.
 */
ngx_uint_t ngx_http_llmgw_include_usage_azure_version(u_char *v, size_t len);

/* max: the longest event inspected; size: the caller's read buffer */
void ngx_http_llmgw_include_usage_sse_init(
    ngx_http_llmgw_include_usage_sse_t *f, ngx_pool_t *pool, size_t max,
    size_t size, ngx_http_llmgw_include_usage_emit_pt emit, void *data);

/* NGX_OK, NGX_ERROR (out of memory, or emit failed) */
ngx_int_t ngx_http_llmgw_include_usage_sse_feed(
    ngx_http_llmgw_include_usage_sse_t *f, u_char *pos, u_char *last);

/* the body ended: a held incomplete event is handed out as it is */
ngx_int_t ngx_http_llmgw_include_usage_sse_finish(
    ngx_http_llmgw_include_usage_sse_t *f);

/* every span handed out so far has been consumed */
void ngx_http_llmgw_include_usage_sse_release(
    ngx_http_llmgw_include_usage_sse_t *f);


#endif /* _NGX_HTTP_LLMGW_INCLUDE_USAGE_H_INCLUDED_ */
