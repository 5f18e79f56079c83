
/*
 * Copyright (C) llmgw authors
 *
 * The AWS event-stream framing (application/vnd.amazon.eventstream), as
 * Bedrock's InvokeModelWithResponseStream and ConverseStream send it:
 *
 *     total length      u32, big-endian, the whole message
 *     headers length    u32
 *     prelude CRC       u32, CRC-32 (IEEE) of the 8 bytes above
 *     headers           headers length bytes
 *     payload           total - headers length - 16 bytes
 *     message CRC       u32, CRC-32 of everything before it
 *
 * and each header: name length u8 (1-255), name, type u8, value by type:
 * 0 true, 1 false (no value), 2 byte, 3 short, 4 int, 5 long (1, 2, 4, 8
 * bytes, signed, big-endian), 6 bytes and 7 string (u16 length, then the
 * data), 8 timestamp (8 bytes, milliseconds since the epoch), 9 uuid (16).
 *
 * The parser is pure, incremental and bounded: the caller embeds a state,
 * initializes it with a pool and a limit, and feeds it bytes as they come
 * in, in pieces of any size.  Each NGX_OK hands out one complete, checked
 * message.  When a message lies whole in the bytes given it is not copied
 * (its strings point into the caller's buffer); a message that spans
 * pieces is gathered into a buffer of the state, never larger than the
 * limit.  Either way the message stays valid until the next call of feed()
 * and, when it points into the caller's bytes, while those bytes do.
 */


#ifndef _NGX_HTTP_LLMGW_EVENTSTREAM_H_INCLUDED_
#define _NGX_HTTP_LLMGW_EVENTSTREAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_LLMGW_EVENTSTREAM_PRELUDE_LEN   12
#define NGX_HTTP_LLMGW_EVENTSTREAM_MIN_MESSAGE   16

/*
 * The default largest message: 1 MiB.  The format allows 16 MiB, but a
 * Bedrock stream's messages are one chunk of model output each (a few
 * kilobytes of base64 JSON); a larger one is refused rather than buffered.
 */
#define NGX_HTTP_LLMGW_EVENTSTREAM_MAX_MESSAGE   (1024 * 1024)

/* the format's own limit for the headers of one message: 128 KiB */
#define NGX_HTTP_LLMGW_EVENTSTREAM_MAX_HEADERS   (128 * 1024)


typedef enum {
    NGX_HTTP_LLMGW_EVENTSTREAM_TRUE = 0,
    NGX_HTTP_LLMGW_EVENTSTREAM_FALSE,
    NGX_HTTP_LLMGW_EVENTSTREAM_BYTE,
    NGX_HTTP_LLMGW_EVENTSTREAM_SHORT,
    NGX_HTTP_LLMGW_EVENTSTREAM_INT,
    NGX_HTTP_LLMGW_EVENTSTREAM_LONG,
    NGX_HTTP_LLMGW_EVENTSTREAM_BYTES,
    NGX_HTTP_LLMGW_EVENTSTREAM_STRING,
    NGX_HTTP_LLMGW_EVENTSTREAM_TIMESTAMP,
    NGX_HTTP_LLMGW_EVENTSTREAM_UUID
} ngx_http_llmgw_eventstream_type_e;


/* what ":message-type" says */

typedef enum {
    NGX_HTTP_LLMGW_EVENTSTREAM_NONE = 0,       /* no :message-type */
    NGX_HTTP_LLMGW_EVENTSTREAM_EVENT,          /* "event" */
    NGX_HTTP_LLMGW_EVENTSTREAM_EXCEPTION,      /* "exception" */
    NGX_HTTP_LLMGW_EVENTSTREAM_ERROR,          /* "error" */
    NGX_HTTP_LLMGW_EVENTSTREAM_OTHER           /* anything else */
} ngx_http_llmgw_eventstream_kind_e;


typedef struct {
    ngx_str_t                  name;
    ngx_http_llmgw_eventstream_type_e  type;
    ngx_str_t                  value;   /* the value's bytes as sent; for
                                           bytes and string the data only */
    int64_t                    number;  /* true 1, false 0, byte, short,
                                           int, long, timestamp */
} ngx_http_llmgw_eventstream_header_t;


typedef struct {
    ngx_http_llmgw_eventstream_kind_e  kind;

    /* string headers, empty when absent */
    ngx_str_t                  message_type;    /* :message-type */
    ngx_str_t                  event_type;      /* :event-type */
    ngx_str_t                  exception_type;  /* :exception-type */
    ngx_str_t                  content_type;    /* :content-type */
    ngx_str_t                  error_code;      /* :error-code */
    ngx_str_t                  error_message;   /* :error-message */

    ngx_str_t                  headers;         /* the raw header block */
    ngx_str_t                  payload;
    size_t                     length;          /* of the whole message */
} ngx_http_llmgw_eventstream_message_t;


typedef struct {
    ngx_pool_t                *pool;
    size_t                     max_message;

    u_char                    *buf;      /* a message that spans pieces */
    size_t                     size;     /* allocated */
    size_t                     have;     /* bytes of it gathered */
    uint32_t                   total;    /* its length, once known */

    u_char                     prelude[NGX_HTTP_LLMGW_EVENTSTREAM_PRELUDE_LEN];

    ngx_uint_t                 messages; /* handed out so far */
    const char                *err;      /* why the stream was refused */

    ngx_http_llmgw_eventstream_message_t  msg;
} ngx_http_llmgw_eventstream_t;


/*
 * max_message: the largest message accepted, 16 to 16 MiB; 0 for
 * NGX_HTTP_LLMGW_EVENTSTREAM_MAX_MESSAGE.
 */
void ngx_http_llmgw_eventstream_init(ngx_http_llmgw_eventstream_t *es,
    ngx_pool_t *pool, size_t max_message);

/*
 * Consumes bytes from *pos up to last:
 *   NGX_OK     a message is in es->msg; *pos is just past its last byte
 *              consumed, call again with the rest
 *   NGX_AGAIN  every byte was consumed (*pos == last), more are needed
 *   NGX_ERROR  the stream is broken (es->err says why: a CRC mismatch, a
 *              length out of bounds, a malformed header) or out of memory;
 *              every later call returns NGX_ERROR again
 */
ngx_int_t ngx_http_llmgw_eventstream_feed(ngx_http_llmgw_eventstream_t *es,
    u_char **pos, u_char *last);

/*
 * At the end of the stream: NGX_OK when no message was left half-received,
 * NGX_ERROR (es->err set) when one was, or when the stream was broken.
 */
ngx_int_t ngx_http_llmgw_eventstream_finish(
    ngx_http_llmgw_eventstream_t *es);

/*
 * Walks a header block (es->msg.headers): NGX_OK with the next header in
 * *h, NGX_DONE at the end, NGX_ERROR when it is malformed.
 */
ngx_int_t ngx_http_llmgw_eventstream_next_header(u_char **pos, u_char *last,
    ngx_http_llmgw_eventstream_header_t *h);


#endif /* _NGX_HTTP_LLMGW_EVENTSTREAM_H_INCLUDED_ */
