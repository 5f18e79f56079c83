
/*
 * Copyright (C) llmgw authors
 *
 * Token usage read from a provider's response body as it streams by.
 *
 * The caller picks the format (it knows the provider, the API and the
 * response's content type) and feeds the body after chunked decoding, in
 * pieces of any size.  Usage is read at these paths from the document's
 * root, never deeper (a "usage" key inside message content does not count):
 *
 *   OPENAI_JSON, OPENAI_SSE       Azure OpenAI / OpenAI chat completions,
 *                                 completions, embeddings
 *       usage.prompt_tokens                           input
 *       usage.completion_tokens                       output
 *       usage.total_tokens                            total
 *       usage.prompt_tokens_details.cached_tokens     cache read
 *       usage.completion_tokens_details.reasoning_tokens  reasoning
 *
 *   RESPONSES_JSON                the Responses API
 *       usage.input_tokens, usage.output_tokens, usage.total_tokens,
 *       usage.input_tokens_details.cached_tokens      cache read
 *       usage.output_tokens_details.reasoning_tokens  reasoning
 *   RESPONSES_SSE                 the same under "response.", read only
 *                                 from an event whose "type" is
 *                                 "response.completed" or
 *                                 "response.incomplete"
 *
 *   ANTHROPIC_JSON                Bedrock InvokeModel, Anthropic body
 *       usage.input_tokens, usage.output_tokens,
 *       usage.cache_read_input_tokens, usage.cache_creation_input_tokens
 *   ANTHROPIC_EVENTSTREAM         InvokeModelWithResponseStream: each
 *                                 "chunk" event's payload {"bytes": base64}
 *                                 holds an Anthropic stream event:
 *       message.usage.*           (message_start) the four fields above
 *       usage.*                   (message_delta) the same
 *       amazon-bedrock-invocationMetrics.inputTokenCount, outputTokenCount,
 *           cacheReadInputTokenCount, cacheWriteInputTokenCount
 *                                 (message_stop) authoritative: a later
 *                                 event's value does not replace them
 *
 *   CONVERSE_JSON                 Bedrock Converse
 *   CONVERSE_EVENTSTREAM          ConverseStream, the "metadata" event
 *       usage.inputTokens, usage.outputTokens, usage.totalTokens,
 *       usage.cacheReadInputTokens, usage.cacheWriteInputTokens (creation)
 *
 *   GEMINI_JSON                   generateContent; also streamGenerateContent
 *                                 without alt=sse, a JSON array of
 *                                 responses, the last one's usage winning
 *   GEMINI_SSE                    streamGenerateContent?alt=sse, each event
 *                                 cumulative, the last one winning
 *       usageMetadata.promptTokenCount, candidatesTokenCount,
 *       totalTokenCount, cachedContentTokenCount (cache read),
 *       thoughtsTokenCount (reasoning)
 *
 * Values are as reported: OpenAI counts reasoning inside output and cached
 * tokens inside input; Gemini counts cached tokens inside input
 * (promptTokenCount) but thoughts apart from output; Anthropic's input
 * excludes the cache.  What they mean is for the reader of the result to
 * say (ngx_http_llmgw_price.c prices each way).
 *
 * SSE: events end at a blank line (LF, CRLF or CR line ends); the data
 * lines of one event are one JSON document, scanned as it arrives without
 * holding the line; "data: [DONE]" ends the stream; other fields and
 * comments are skipped.  An event with a root "error" key (and, in the
 * Responses API, a "response.failed" or "error" type) makes the usage
 * missing.  Values are taken from an event only once it ended and its
 * document was whole, field by field, later events replacing earlier ones.
 *
 * Event-stream: framed by ngx_http_llmgw_eventstream.c; an exception or
 * error message makes the usage missing unless it is complete already.
 *
 * What is accepted, and what is refused (NGX_ERROR, usage missing):
 *   - a count is a JSON integer 0 to 2^53, digits only: a negative number,
 *     a fraction or an exponent (even 12.0 or 1e2), a string, true or false
 *     is refused rather than rounded or guessed; null is "not reported";
 *   - a count given twice in one document (duplicate keys) is refused: JSON
 *     leaves that undefined and parsers differ, so no value is trusted;
 *   - the whole body must be valid JSON (each SSE event's data, each
 *     event-stream payload read), else refused; bytes above 0x7f inside
 *     strings are not checked as UTF-8 (usage is never in them);
 *   - nesting deeper than 32 levels is refused.
 *
 * Memory: the state is the structure below, embedded by the caller (no
 * allocation for JSON and SSE), plus, for the event-stream formats, the
 * framing parser's message buffer in a pool of its own.  The limit given to
 * init bounds the sum, peaks included: messages up to half of what the
 * structure leaves over are accepted (the framing parser grows its buffer
 * by doubling and holds the old one until the new one is filled): 7568
 * bytes of the default 16 KiB on x86-64, the structure being 992 bytes and
 * the framing parser's pool 256.  Bedrock sends one delta of model output
 * per message, a few hundred bytes; a larger message is refused, so a
 * caller expecting large ones (guardrail traces) raises the limit.
 */


#ifndef _NGX_HTTP_LLMGW_USAGE_H_INCLUDED_
#define _NGX_HTTP_LLMGW_USAGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_eventstream.h"


#define NGX_HTTP_LLMGW_USAGE_LIMIT       (16 * 1024)
#define NGX_HTTP_LLMGW_USAGE_MIN_LIMIT   (4 * 1024)
#define NGX_HTTP_LLMGW_USAGE_MAX_LIMIT   (32 * 1024 * 1024)

/* the largest count accepted: 2^53, exact in a double */
#define NGX_HTTP_LLMGW_USAGE_MAX_COUNT   9007199254740992LL

#define NGX_HTTP_LLMGW_USAGE_MAX_DEPTH   32
#define NGX_HTTP_LLMGW_USAGE_MAX_KEY     40
#define NGX_HTTP_LLMGW_USAGE_FIELDS      6


typedef enum {
    NGX_HTTP_LLMGW_USAGE_OPENAI_JSON = 0,
    NGX_HTTP_LLMGW_USAGE_OPENAI_SSE,
    NGX_HTTP_LLMGW_USAGE_RESPONSES_JSON,
    NGX_HTTP_LLMGW_USAGE_RESPONSES_SSE,
    NGX_HTTP_LLMGW_USAGE_ANTHROPIC_JSON,
    NGX_HTTP_LLMGW_USAGE_ANTHROPIC_EVENTSTREAM,
    NGX_HTTP_LLMGW_USAGE_CONVERSE_JSON,
    NGX_HTTP_LLMGW_USAGE_CONVERSE_EVENTSTREAM,
    NGX_HTTP_LLMGW_USAGE_GEMINI_JSON,
    NGX_HTTP_LLMGW_USAGE_GEMINI_SSE,
    NGX_HTTP_LLMGW_USAGE_FORMATS
} ngx_http_llmgw_usage_format_e;


typedef struct {
    int64_t                    value;
    unsigned                   present:1;
} ngx_http_llmgw_usage_count_t;


typedef struct {
    ngx_http_llmgw_usage_count_t  input_tokens;
    ngx_http_llmgw_usage_count_t  output_tokens;
    ngx_http_llmgw_usage_count_t  cache_read_input_tokens;
    ngx_http_llmgw_usage_count_t  cache_creation_input_tokens;
    ngx_http_llmgw_usage_count_t  reasoning_output_tokens;
    ngx_http_llmgw_usage_count_t  total_tokens;

    /* the body said its last word on usage: nothing later can change it */
    unsigned                      complete:1;
} ngx_http_llmgw_usage_result_t;


typedef struct ngx_http_llmgw_usage_node_s  ngx_http_llmgw_usage_node_t;


/* one JSON document being scanned; internal to the parser */

typedef struct {
    const ngx_http_llmgw_usage_node_t  *nodes;
    ngx_uint_t                 nnodes;

    ngx_uint_t                 state;
    ngx_uint_t                 depth;
    ngx_uint_t                 node;      /* of the value to come, + 1 */
    ngx_uint_t                 key_node;  /* the key just read, + 1 */
    ngx_uint_t                 capture;   /* what the string is read for */
    ngx_uint_t                 len;       /* of buf, or of a literal */
    ngx_uint_t                 field;     /* the count being read, + 1 */
    int64_t                    number;
    uint32_t                   code;      /* of a \u escape */
    ngx_uint_t                 hex;       /* its digits read */
    ngx_uint_t                 sub;       /* number or literal substate */

    uint32_t                   seen;      /* leaves given in this unit */
    uint32_t                   pend_mask;
    uint32_t                   pend_prio;
    int64_t                    pend[NGX_HTTP_LLMGW_USAGE_FIELDS];
    ngx_uint_t                 type;      /* the root "type", + 1 */
    unsigned                   final:1;
    unsigned                   error:1;
    unsigned                   in_key:1;
    unsigned                   unit:1;    /* commit when a unit closes */
    unsigned                   array_root:1;

    ngx_uint_t                 b64n;      /* base64 quantum */
    ngx_uint_t                 b64pad;
    u_char                     b64[4];

    u_char                     stack[NGX_HTTP_LLMGW_USAGE_MAX_DEPTH];
    u_char                     buf[NGX_HTTP_LLMGW_USAGE_MAX_KEY];
} ngx_http_llmgw_usage_json_t;


typedef struct {
    ngx_http_llmgw_usage_result_t  result;

    ngx_http_llmgw_usage_format_e  format;
    size_t                     limit;
    size_t                     peak;      /* the most the state held */
    const char                *err;       /* why the usage is missing */

    ngx_http_llmgw_usage_json_t  json;
    ngx_http_llmgw_usage_json_t  inner;   /* a base64 document inside */

    /* SSE */
    ngx_uint_t                 sse_state;
    ngx_uint_t                 sse_len;   /* of a field name or "[DONE]" */
    ngx_uint_t                 sse_data;  /* data lines in this event */
    u_char                     sse_name[8];
    unsigned                   sse_cr:1;

    /* event-stream */
    ngx_pool_t                *es_pool;
    size_t                     es_size;
    size_t                     max_message;
    ngx_http_llmgw_eventstream_t  es;

    ngx_uint_t                 prio;      /* fields set authoritatively */
    unsigned                   updated:1;
} ngx_http_llmgw_usage_t;


/*
 * limit: the bound on the state, NGX_HTTP_LLMGW_USAGE_MIN_LIMIT to
 * NGX_HTTP_LLMGW_USAGE_MAX_LIMIT (clamped); 0 for
 * NGX_HTTP_LLMGW_USAGE_LIMIT.  The pool is used for the event-stream
 * formats only, and must outlive the parser.  NGX_ERROR: out of memory.
 */
ngx_int_t ngx_http_llmgw_usage_init(ngx_http_llmgw_usage_t *u,
    ngx_pool_t *pool, ngx_http_llmgw_usage_format_e format, size_t limit);

/*
 * Consumes every byte from p up to last:
 *   NGX_OK     u->result changed in this call, or is complete (then later
 *              bytes are not looked at)
 *   NGX_AGAIN  nothing new, more bytes are needed
 *   NGX_ERROR  the body is malformed, or a provider error came before the
 *              usage was complete: u->err says why, u->result is cleared
 *              (usage missing) and every later call returns NGX_ERROR
 */
ngx_int_t ngx_http_llmgw_usage_feed(ngx_http_llmgw_usage_t *u, u_char *p,
    u_char *last);

/*
 * At the end of the body, as its framing says (not on a broken
 * connection: the usage then is what u->result.complete says):
 *   NGX_OK     u->result is final and complete (no count present: the
 *              body reported no usage)
 *   NGX_ERROR  as for feed(), a body cut short included
 */
ngx_int_t ngx_http_llmgw_usage_finish(ngx_http_llmgw_usage_t *u);

/* what the state holds now: the structure and any buffer it owns */
size_t ngx_http_llmgw_usage_size(ngx_http_llmgw_usage_t *u);

/*
 * A count in a header value (X-Amzn-Bedrock-Input-Token-Count): digits
 * only, no sign, space or leading zero, at most 2^53.  NGX_OK with *value
 * set, or NGX_ERROR.
 */
ngx_int_t ngx_http_llmgw_usage_parse_count(u_char *p, size_t len,
    int64_t *value);


#endif /* _NGX_HTTP_LLMGW_USAGE_H_INCLUDED_ */
