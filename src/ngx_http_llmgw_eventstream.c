
/*
 * Copyright (C) llmgw authors
 *
 * The AWS event-stream parser, see ngx_http_llmgw_eventstream.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_eventstream.h"


/* the format's own bound on a message: 16 MiB */
#define NGX_HTTP_LLMGW_EVENTSTREAM_LIMIT         (16 * 1024 * 1024)

/* the first buffer for a message that spans pieces */
#define NGX_HTTP_LLMGW_EVENTSTREAM_BUF_MIN       1024


/* the headers the message exposes, all of type string */

typedef struct {
    ngx_str_t                  name;
    size_t                     offset;
} ngx_http_llmgw_eventstream_known_t;


static ngx_int_t ngx_http_llmgw_eventstream_prelude(
    ngx_http_llmgw_eventstream_t *es, u_char *p);
static ngx_int_t ngx_http_llmgw_eventstream_message(
    ngx_http_llmgw_eventstream_t *es, u_char *m, size_t len);
static ngx_int_t ngx_http_llmgw_eventstream_known(
    ngx_http_llmgw_eventstream_t *es, ngx_http_llmgw_eventstream_header_t *h);
static ngx_int_t ngx_http_llmgw_eventstream_alloc(
    ngx_http_llmgw_eventstream_t *es, size_t len);
static uint32_t ngx_http_llmgw_eventstream_u32(u_char *p);
static ngx_int_t ngx_http_llmgw_eventstream_fail(
    ngx_http_llmgw_eventstream_t *es, const char *err);


/* the headers the message exposes, all of type string */

static ngx_http_llmgw_eventstream_known_t
    ngx_http_llmgw_eventstream_known_headers[] =
{
    { ngx_string(":message-type"),
      offsetof(ngx_http_llmgw_eventstream_message_t, message_type) },
    { ngx_string(":event-type"),
      offsetof(ngx_http_llmgw_eventstream_message_t, event_type) },
    { ngx_string(":exception-type"),
      offsetof(ngx_http_llmgw_eventstream_message_t, exception_type) },
    { ngx_string(":content-type"),
      offsetof(ngx_http_llmgw_eventstream_message_t, content_type) },
    { ngx_string(":error-code"),
      offsetof(ngx_http_llmgw_eventstream_message_t, error_code) },
    { ngx_string(":error-message"),
      offsetof(ngx_http_llmgw_eventstream_message_t, error_message) },
    { ngx_null_string, 0 }
};


void
ngx_http_llmgw_eventstream_init(ngx_http_llmgw_eventstream_t *es,
    ngx_pool_t *pool, size_t max_message)
{
    ngx_memzero(es, sizeof(ngx_http_llmgw_eventstream_t));

    es->pool = pool;

    if (max_message == 0) {
        max_message = NGX_HTTP_LLMGW_EVENTSTREAM_MAX_MESSAGE;
    }

    es->max_message = ngx_min(ngx_max(max_message,
                                      NGX_HTTP_LLMGW_EVENTSTREAM_MIN_MESSAGE),
                              NGX_HTTP_LLMGW_EVENTSTREAM_LIMIT);
}


ngx_int_t
ngx_http_llmgw_eventstream_feed(ngx_http_llmgw_eventstream_t *es,
    u_char **pos, u_char *last)
{
    u_char  *p;
    size_t   n;

    if (es->err != NULL) {
        return NGX_ERROR;
    }

    p = *pos;

    /* a message whole in the bytes given is parsed where it is */

    if (es->have == 0
        && (size_t) (last - p) >= NGX_HTTP_LLMGW_EVENTSTREAM_PRELUDE_LEN)
    {
        if (ngx_http_llmgw_eventstream_prelude(es, p) != NGX_OK) {
            return NGX_ERROR;
        }

        if ((size_t) (last - p) >= es->total) {
            if (ngx_http_llmgw_eventstream_message(es, p, es->total)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            *pos = p + es->total;
            return NGX_OK;
        }
    }

    /* otherwise it is gathered */

    while (p < last) {

        if (es->have < NGX_HTTP_LLMGW_EVENTSTREAM_PRELUDE_LEN) {
            n = ngx_min((size_t) (last - p),
                        NGX_HTTP_LLMGW_EVENTSTREAM_PRELUDE_LEN - es->have);

            ngx_memcpy(es->prelude + es->have, p, n);
            es->have += n;
            p += n;

            if (es->have < NGX_HTTP_LLMGW_EVENTSTREAM_PRELUDE_LEN) {
                break;
            }

            if (ngx_http_llmgw_eventstream_prelude(es, es->prelude) != NGX_OK)
            {
                return NGX_ERROR;
            }

            if (ngx_http_llmgw_eventstream_alloc(es, es->total) != NGX_OK) {
                return NGX_ERROR;
            }

            ngx_memcpy(es->buf, es->prelude,
                       NGX_HTTP_LLMGW_EVENTSTREAM_PRELUDE_LEN);
            continue;
        }

        n = ngx_min((size_t) (last - p), es->total - es->have);

        ngx_memcpy(es->buf + es->have, p, n);
        es->have += n;
        p += n;

        if (es->have == es->total) {
            es->have = 0;
            *pos = p;

            return ngx_http_llmgw_eventstream_message(es, es->buf, es->total);
        }
    }

    *pos = p;

    return NGX_AGAIN;
}


ngx_int_t
ngx_http_llmgw_eventstream_finish(ngx_http_llmgw_eventstream_t *es)
{
    if (es->err != NULL) {
        return NGX_ERROR;
    }

    if (es->have) {
        return ngx_http_llmgw_eventstream_fail(es, "truncated message");
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_eventstream_next_header(u_char **pos, u_char *last,
    ngx_http_llmgw_eventstream_header_t *h)
{
    u_char      *p;
    size_t       len;
    uint64_t     v;
    ngx_uint_t   i;

    p = *pos;

    if (p == last) {
        return NGX_DONE;
    }

    len = *p++;

    /* the name, then at least the type */

    if (len == 0 || (size_t) (last - p) < len + 1) {
        return NGX_ERROR;
    }

    h->name.data = p;
    h->name.len = len;
    p += len;

    h->type = *p++;
    h->number = 0;

    switch (h->type) {

    case NGX_HTTP_LLMGW_EVENTSTREAM_TRUE:
    case NGX_HTTP_LLMGW_EVENTSTREAM_FALSE:
        h->number = (h->type == NGX_HTTP_LLMGW_EVENTSTREAM_TRUE);
        len = 0;
        break;

    case NGX_HTTP_LLMGW_EVENTSTREAM_BYTE:
        len = 1;
        break;

    case NGX_HTTP_LLMGW_EVENTSTREAM_SHORT:
        len = 2;
        break;

    case NGX_HTTP_LLMGW_EVENTSTREAM_INT:
        len = 4;
        break;

    case NGX_HTTP_LLMGW_EVENTSTREAM_LONG:
    case NGX_HTTP_LLMGW_EVENTSTREAM_TIMESTAMP:
        len = 8;
        break;

    case NGX_HTTP_LLMGW_EVENTSTREAM_BYTES:
    case NGX_HTTP_LLMGW_EVENTSTREAM_STRING:
        if (last - p < 2) {
            return NGX_ERROR;
        }

        len = ((size_t) p[0] << 8) | p[1];
        p += 2;
        break;

    case NGX_HTTP_LLMGW_EVENTSTREAM_UUID:
        len = 16;
        break;

    default:
        return NGX_ERROR;
    }

    if ((size_t) (last - p) < len) {
        return NGX_ERROR;
    }

    h->value.data = p;
    h->value.len = len;

    switch (h->type) {

    case NGX_HTTP_LLMGW_EVENTSTREAM_BYTE:
    case NGX_HTTP_LLMGW_EVENTSTREAM_SHORT:
    case NGX_HTTP_LLMGW_EVENTSTREAM_INT:
    case NGX_HTTP_LLMGW_EVENTSTREAM_LONG:
    case NGX_HTTP_LLMGW_EVENTSTREAM_TIMESTAMP:

        /* big-endian two's complement, sign-extended from len bytes */

        v = (p[0] & 0x80) ? (uint64_t) -1 : 0;

        for (i = 0; i < len; i++) {
            v = (v << 8) | p[i];
        }

        h->number = (int64_t) v;
        break;

    default:
        break;
    }

    *pos = p + len;

    return NGX_OK;
}


/* the 12 bytes that start a message: both lengths and their CRC */

static ngx_int_t
ngx_http_llmgw_eventstream_prelude(ngx_http_llmgw_eventstream_t *es,
    u_char *p)
{
    uint32_t  total, headers;

    if (ngx_crc32_long(p, 8) != ngx_http_llmgw_eventstream_u32(p + 8)) {
        return ngx_http_llmgw_eventstream_fail(es, "prelude CRC mismatch");
    }

    total = ngx_http_llmgw_eventstream_u32(p);
    headers = ngx_http_llmgw_eventstream_u32(p + 4);

    if (total < NGX_HTTP_LLMGW_EVENTSTREAM_MIN_MESSAGE) {
        return ngx_http_llmgw_eventstream_fail(es, "message too short");
    }

    if (total > es->max_message) {
        return ngx_http_llmgw_eventstream_fail(es, "message too long");
    }

    if (headers > NGX_HTTP_LLMGW_EVENTSTREAM_MAX_HEADERS
        || headers > total - NGX_HTTP_LLMGW_EVENTSTREAM_MIN_MESSAGE)
    {
        return ngx_http_llmgw_eventstream_fail(es,
                                               "headers length out of bounds");
    }

    es->total = total;

    return NGX_OK;
}


/* a whole message, its prelude already checked */

static ngx_int_t
ngx_http_llmgw_eventstream_message(ngx_http_llmgw_eventstream_t *es,
    u_char *m, size_t len)
{
    u_char                               *p, *last;
    uint32_t                              hlen, crc;
    ngx_int_t                             rc;
    ngx_str_t                            *field;
    ngx_http_llmgw_eventstream_known_t   *k;
    ngx_http_llmgw_eventstream_header_t   h;
    ngx_http_llmgw_eventstream_message_t *msg;

    crc = ngx_http_llmgw_eventstream_u32(m + len - 4);

    if (ngx_crc32_long(m, len - 4) != crc) {
        return ngx_http_llmgw_eventstream_fail(es, "message CRC mismatch");
    }

    hlen = ngx_http_llmgw_eventstream_u32(m + 4);

    msg = &es->msg;
    ngx_memzero(msg, sizeof(ngx_http_llmgw_eventstream_message_t));

    msg->length = len;
    msg->headers.data = m + NGX_HTTP_LLMGW_EVENTSTREAM_PRELUDE_LEN;
    msg->headers.len = hlen;
    msg->payload.data = msg->headers.data + hlen;
    msg->payload.len = len - NGX_HTTP_LLMGW_EVENTSTREAM_MIN_MESSAGE - hlen;

    p = msg->headers.data;
    last = p + hlen;

    for ( ;; ) {
        rc = ngx_http_llmgw_eventstream_next_header(&p, last, &h);

        if (rc == NGX_DONE) {
            break;
        }

        if (rc != NGX_OK) {
            return ngx_http_llmgw_eventstream_fail(es, "malformed header");
        }

        if (h.name.data[0] == ':'
            && ngx_http_llmgw_eventstream_known(es, &h) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* absent headers are empty strings, never NULL, for "%V" and memcpy */

    for (k = ngx_http_llmgw_eventstream_known_headers; k->name.len; k++) {
        field = (ngx_str_t *) ((u_char *) msg + k->offset);

        if (field->data == NULL) {
            field->data = (u_char *) "";
        }
    }

    if (msg->message_type.len == 0) {
        msg->kind = NGX_HTTP_LLMGW_EVENTSTREAM_NONE;

    } else if (msg->message_type.len == sizeof("event") - 1
               && ngx_strncmp(msg->message_type.data, "event",
                              sizeof("event") - 1) == 0)
    {
        msg->kind = NGX_HTTP_LLMGW_EVENTSTREAM_EVENT;

    } else if (msg->message_type.len == sizeof("exception") - 1
               && ngx_strncmp(msg->message_type.data, "exception",
                              sizeof("exception") - 1) == 0)
    {
        msg->kind = NGX_HTTP_LLMGW_EVENTSTREAM_EXCEPTION;

    } else if (msg->message_type.len == sizeof("error") - 1
               && ngx_strncmp(msg->message_type.data, "error",
                              sizeof("error") - 1) == 0)
    {
        msg->kind = NGX_HTTP_LLMGW_EVENTSTREAM_ERROR;

    } else {
        msg->kind = NGX_HTTP_LLMGW_EVENTSTREAM_OTHER;
    }

    es->messages++;

    return NGX_OK;
}


/*
 * A header the message exposes must be a non-empty string and come once:
 * a second ":message-type" could hide an exception behind an event.
 */

static ngx_int_t
ngx_http_llmgw_eventstream_known(ngx_http_llmgw_eventstream_t *es,
    ngx_http_llmgw_eventstream_header_t *h)
{
    ngx_str_t                           *field;
    ngx_http_llmgw_eventstream_known_t  *k;

    for (k = ngx_http_llmgw_eventstream_known_headers; k->name.len; k++) {

        if (h->name.len != k->name.len
            || ngx_strncmp(h->name.data, k->name.data, k->name.len) != 0)
        {
            continue;
        }

        if (h->type != NGX_HTTP_LLMGW_EVENTSTREAM_STRING
            || h->value.len == 0)
        {
            return ngx_http_llmgw_eventstream_fail(es,
                                                   "invalid reserved header");
        }

        field = (ngx_str_t *) ((u_char *) &es->msg + k->offset);

        if (field->data != NULL) {
            return ngx_http_llmgw_eventstream_fail(es,
                                                   "duplicate reserved header");
        }

        *field = h->value;

        return NGX_OK;
    }

    return NGX_OK;
}


/*
 * The gathering buffer grows by doubling up to the limit; a large block
 * given up goes back to the pool at once, so what is held stays bounded.
 */

static ngx_int_t
ngx_http_llmgw_eventstream_alloc(ngx_http_llmgw_eventstream_t *es,
    size_t len)
{
    u_char  *buf;
    size_t   size;

    if (len <= es->size) {
        return NGX_OK;
    }

    size = ngx_max(es->size * 2, NGX_HTTP_LLMGW_EVENTSTREAM_BUF_MIN);
    size = ngx_min(ngx_max(size, len), es->max_message);

    buf = ngx_pnalloc(es->pool, size);
    if (buf == NULL) {
        return ngx_http_llmgw_eventstream_fail(es, "out of memory");
    }

    if (es->buf != NULL) {
        ngx_pfree(es->pool, es->buf);
    }

    es->buf = buf;
    es->size = size;

    return NGX_OK;
}


static uint32_t
ngx_http_llmgw_eventstream_u32(u_char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}


static ngx_int_t
ngx_http_llmgw_eventstream_fail(ngx_http_llmgw_eventstream_t *es,
    const char *err)
{
    es->err = err;
    es->have = 0;

    return NGX_ERROR;
}
