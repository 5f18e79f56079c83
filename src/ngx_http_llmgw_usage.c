
/*
 * Copyright (C) llmgw authors
 *
 * The token usage parser, see ngx_http_llmgw_usage.h.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_usage.h"


/* how a format frames its documents */
#define NGX_HTTP_LLMGW_USAGE_JSON         0
#define NGX_HTTP_LLMGW_USAGE_SSE          1
#define NGX_HTTP_LLMGW_USAGE_EVENTSTREAM  2

/* the result's fields, in the order of ngx_http_llmgw_usage_result_t */
#define NGX_HTTP_LLMGW_USAGE_INPUT        0
#define NGX_HTTP_LLMGW_USAGE_OUTPUT       1
#define NGX_HTTP_LLMGW_USAGE_CACHE_READ   2
#define NGX_HTTP_LLMGW_USAGE_CACHE_WRITE  3
#define NGX_HTTP_LLMGW_USAGE_REASONING    4
#define NGX_HTTP_LLMGW_USAGE_TOTAL        5

/* what a node of a path table is */
#define NGX_HTTP_LLMGW_USAGE_NODE         0   /* an object on a path */
#define NGX_HTTP_LLMGW_USAGE_COUNT        1   /* a count */
#define NGX_HTTP_LLMGW_USAGE_TYPE         2   /* the event's "type" */
#define NGX_HTTP_LLMGW_USAGE_BASE64       3   /* a document in base64 */
#define NGX_HTTP_LLMGW_USAGE_ERROR        4   /* a provider's error */

/* node flags */
#define NGX_HTTP_LLMGW_USAGE_PRIO         1   /* authoritative */
#define NGX_HTTP_LLMGW_USAGE_FINAL        2   /* the last word on usage */

/* scanner states */
#define NGX_HTTP_LLMGW_USAGE_J_VALUE      0
#define NGX_HTTP_LLMGW_USAGE_J_OBJECT     1   /* after '{' */
#define NGX_HTTP_LLMGW_USAGE_J_KEY        2   /* after ',' in an object */
#define NGX_HTTP_LLMGW_USAGE_J_COLON      3
#define NGX_HTTP_LLMGW_USAGE_J_AFTER      4   /* after a member or element */
#define NGX_HTTP_LLMGW_USAGE_J_ARRAY      5   /* after '[' */
#define NGX_HTTP_LLMGW_USAGE_J_STRING     6
#define NGX_HTTP_LLMGW_USAGE_J_ESCAPE     7
#define NGX_HTTP_LLMGW_USAGE_J_UNICODE    8
#define NGX_HTTP_LLMGW_USAGE_J_NUMBER     9
#define NGX_HTTP_LLMGW_USAGE_J_LITERAL    10
#define NGX_HTTP_LLMGW_USAGE_J_END        11

/* number substates, after: */
#define NGX_HTTP_LLMGW_USAGE_N_MINUS      0   /* '-' */
#define NGX_HTTP_LLMGW_USAGE_N_ZERO       1   /* a leading '0' */
#define NGX_HTTP_LLMGW_USAGE_N_INT        2   /* digits */
#define NGX_HTTP_LLMGW_USAGE_N_DOT        3
#define NGX_HTTP_LLMGW_USAGE_N_FRAC       4
#define NGX_HTTP_LLMGW_USAGE_N_E          5
#define NGX_HTTP_LLMGW_USAGE_N_ESIGN      6
#define NGX_HTTP_LLMGW_USAGE_N_EXP        7

/* what a string is read for */
#define NGX_HTTP_LLMGW_USAGE_C_NONE       0
#define NGX_HTTP_LLMGW_USAGE_C_KEY        1
#define NGX_HTTP_LLMGW_USAGE_C_TYPE       2
#define NGX_HTTP_LLMGW_USAGE_C_BASE64     3

/* a stack entry: the container's kind, and its node + 1 (0: off path) */
#define NGX_HTTP_LLMGW_USAGE_ARRAY        0x80
#define NGX_HTTP_LLMGW_USAGE_NODE_MASK    0x7f

/* SSE states, at: */
#define NGX_HTTP_LLMGW_USAGE_S_LINE       0   /* the start of a line */
#define NGX_HTTP_LLMGW_USAGE_S_FIELD      1   /* a field name */
#define NGX_HTTP_LLMGW_USAGE_S_SPACE      2   /* after "data:" */
#define NGX_HTTP_LLMGW_USAGE_S_DONE       3   /* what may be "[DONE]" */
#define NGX_HTTP_LLMGW_USAGE_S_DATA       4
#define NGX_HTTP_LLMGW_USAGE_S_SKIP       5   /* another field, a comment */

/*
 * The event-stream parser's own pool: small enough that each of its
 * buffers is a large allocation, which ngx_pfree() gives back at once.
 */
#define NGX_HTTP_LLMGW_USAGE_ES_POOL      256


struct ngx_http_llmgw_usage_node_s {
    ngx_str_t                  name;
    u_char                     parent;
    u_char                     kind;
    u_char                     field;
    u_char                     flags;
};


/* an SSE event's "type" in the Responses API, and what it means */

typedef struct {
    ngx_str_t                  name;
    ngx_uint_t                 fail;
} ngx_http_llmgw_usage_type_t;


typedef struct {
    ngx_uint_t                           framing;
    const ngx_http_llmgw_usage_node_t   *nodes;
    ngx_uint_t                           nnodes;
    const ngx_http_llmgw_usage_node_t   *inner;
    ngx_uint_t                           ninner;
    ngx_str_t                            event;
    const ngx_http_llmgw_usage_type_t   *types;
    ngx_uint_t                           array_root;
} ngx_http_llmgw_usage_format_t;


static void ngx_http_llmgw_usage_json_init(ngx_http_llmgw_usage_json_t *j,
    const ngx_http_llmgw_usage_node_t *nodes, ngx_uint_t nnodes,
    ngx_uint_t unit, ngx_uint_t array_root);
static void ngx_http_llmgw_usage_json_reset(ngx_http_llmgw_usage_json_t *j);
static ngx_int_t ngx_http_llmgw_usage_json(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, u_char *p, u_char *last);
static ngx_int_t ngx_http_llmgw_usage_json_end(
    ngx_http_llmgw_usage_json_t *j);
static ngx_int_t ngx_http_llmgw_usage_value(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, u_char c);
static ngx_int_t ngx_http_llmgw_usage_push(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, u_char entry);
static ngx_int_t ngx_http_llmgw_usage_close(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, u_char c);
static void ngx_http_llmgw_usage_done(ngx_http_llmgw_usage_json_t *j);
static ngx_int_t ngx_http_llmgw_usage_number(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, u_char c);
static ngx_int_t ngx_http_llmgw_usage_char(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, uint32_t c);
static ngx_int_t ngx_http_llmgw_usage_string_end(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j);
static ngx_int_t ngx_http_llmgw_usage_base64(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, uint32_t c);
static ngx_uint_t ngx_http_llmgw_usage_lookup(
    ngx_http_llmgw_usage_json_t *j, ngx_uint_t parent);
static ngx_int_t ngx_http_llmgw_usage_commit(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j);
static ngx_int_t ngx_http_llmgw_usage_sse(ngx_http_llmgw_usage_t *u,
    u_char *p, u_char *last);
static ngx_int_t ngx_http_llmgw_usage_sse_line(ngx_http_llmgw_usage_t *u);
static ngx_int_t ngx_http_llmgw_usage_sse_data(ngx_http_llmgw_usage_t *u);
static ngx_int_t ngx_http_llmgw_usage_sse_event(ngx_http_llmgw_usage_t *u);
static ngx_int_t ngx_http_llmgw_usage_es(ngx_http_llmgw_usage_t *u,
    u_char *p, u_char *last);
static ngx_int_t ngx_http_llmgw_usage_es_message(ngx_http_llmgw_usage_t *u);
static void ngx_http_llmgw_usage_cleanup(void *data);
static ngx_int_t ngx_http_llmgw_usage_fail(ngx_http_llmgw_usage_t *u,
    const char *err);


#define ngx_http_llmgw_usage_ws(c)                                            \
    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

#define ngx_http_llmgw_usage_node(parent, name, kind, field, flags)           \
    { ngx_string(name), parent, NGX_HTTP_LLMGW_USAGE_##kind,                  \
      NGX_HTTP_LLMGW_USAGE_##field, flags }


/*
 * Path tables: entry 0 is the document's root, each entry names its
 * parent's index; a count names the result's field it fills.  At most 32
 * entries (the "seen" bits) and 127 (the stack's node bits).
 */

static const ngx_http_llmgw_usage_node_t  ngx_http_llmgw_usage_openai[] = {
    ngx_http_llmgw_usage_node(0, "", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(0, "usage", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(1, "prompt_tokens", COUNT, INPUT, 0),
    ngx_http_llmgw_usage_node(1, "completion_tokens", COUNT, OUTPUT, 0),
    ngx_http_llmgw_usage_node(1, "total_tokens", COUNT, TOTAL, 0),
    ngx_http_llmgw_usage_node(1, "prompt_tokens_details", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(5, "cached_tokens", COUNT, CACHE_READ, 0),
    ngx_http_llmgw_usage_node(1, "completion_tokens_details", NODE, INPUT,
                              0),
    ngx_http_llmgw_usage_node(7, "reasoning_tokens", COUNT, REASONING, 0),
    ngx_http_llmgw_usage_node(0, "error", ERROR, INPUT, 0)
};


static const ngx_http_llmgw_usage_node_t  ngx_http_llmgw_usage_responses[] = {
    ngx_http_llmgw_usage_node(0, "", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(0, "usage", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(1, "input_tokens", COUNT, INPUT, 0),
    ngx_http_llmgw_usage_node(1, "output_tokens", COUNT, OUTPUT, 0),
    ngx_http_llmgw_usage_node(1, "total_tokens", COUNT, TOTAL, 0),
    ngx_http_llmgw_usage_node(1, "input_tokens_details", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(5, "cached_tokens", COUNT, CACHE_READ, 0),
    ngx_http_llmgw_usage_node(1, "output_tokens_details", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(7, "reasoning_tokens", COUNT, REASONING, 0),
    ngx_http_llmgw_usage_node(0, "error", ERROR, INPUT, 0)
};


static const ngx_http_llmgw_usage_node_t
    ngx_http_llmgw_usage_responses_sse[] =
{
    ngx_http_llmgw_usage_node(0, "", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(0, "response", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(1, "usage", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(2, "input_tokens", COUNT, INPUT, 0),
    ngx_http_llmgw_usage_node(2, "output_tokens", COUNT, OUTPUT, 0),
    ngx_http_llmgw_usage_node(2, "total_tokens", COUNT, TOTAL, 0),
    ngx_http_llmgw_usage_node(2, "input_tokens_details", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(6, "cached_tokens", COUNT, CACHE_READ, 0),
    ngx_http_llmgw_usage_node(2, "output_tokens_details", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(8, "reasoning_tokens", COUNT, REASONING, 0),
    ngx_http_llmgw_usage_node(0, "type", TYPE, INPUT, 0)
};


static const ngx_http_llmgw_usage_node_t  ngx_http_llmgw_usage_anthropic[] = {
    ngx_http_llmgw_usage_node(0, "", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(0, "usage", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(1, "input_tokens", COUNT, INPUT, 0),
    ngx_http_llmgw_usage_node(1, "output_tokens", COUNT, OUTPUT, 0),
    ngx_http_llmgw_usage_node(1, "cache_read_input_tokens", COUNT,
                              CACHE_READ, 0),
    ngx_http_llmgw_usage_node(1, "cache_creation_input_tokens", COUNT,
                              CACHE_WRITE, 0),
    ngx_http_llmgw_usage_node(0, "error", ERROR, INPUT, 0)
};


/* a "chunk" event's payload, and the Anthropic event its "bytes" hold */

static const ngx_http_llmgw_usage_node_t  ngx_http_llmgw_usage_chunk[] = {
    ngx_http_llmgw_usage_node(0, "", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(0, "bytes", BASE64, INPUT, 0)
};


static const ngx_http_llmgw_usage_node_t
    ngx_http_llmgw_usage_anthropic_event[] =
{
    ngx_http_llmgw_usage_node(0, "", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(0, "message", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(1, "usage", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(2, "input_tokens", COUNT, INPUT, 0),
    ngx_http_llmgw_usage_node(2, "output_tokens", COUNT, OUTPUT, 0),
    ngx_http_llmgw_usage_node(2, "cache_read_input_tokens", COUNT,
                              CACHE_READ, 0),
    ngx_http_llmgw_usage_node(2, "cache_creation_input_tokens", COUNT,
                              CACHE_WRITE, 0),
    ngx_http_llmgw_usage_node(0, "usage", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(7, "input_tokens", COUNT, INPUT, 0),
    ngx_http_llmgw_usage_node(7, "output_tokens", COUNT, OUTPUT, 0),
    ngx_http_llmgw_usage_node(7, "cache_read_input_tokens", COUNT,
                              CACHE_READ, 0),
    ngx_http_llmgw_usage_node(7, "cache_creation_input_tokens", COUNT,
                              CACHE_WRITE, 0),
    ngx_http_llmgw_usage_node(0, "amazon-bedrock-invocationMetrics", NODE,
                              INPUT, 0),
    ngx_http_llmgw_usage_node(12, "inputTokenCount", COUNT, INPUT,
                              NGX_HTTP_LLMGW_USAGE_PRIO
                              |NGX_HTTP_LLMGW_USAGE_FINAL),
    ngx_http_llmgw_usage_node(12, "outputTokenCount", COUNT, OUTPUT,
                              NGX_HTTP_LLMGW_USAGE_PRIO
                              |NGX_HTTP_LLMGW_USAGE_FINAL),
    ngx_http_llmgw_usage_node(12, "cacheReadInputTokenCount", COUNT,
                              CACHE_READ,
                              NGX_HTTP_LLMGW_USAGE_PRIO
                              |NGX_HTTP_LLMGW_USAGE_FINAL),
    ngx_http_llmgw_usage_node(12, "cacheWriteInputTokenCount", COUNT,
                              CACHE_WRITE,
                              NGX_HTTP_LLMGW_USAGE_PRIO
                              |NGX_HTTP_LLMGW_USAGE_FINAL),
    ngx_http_llmgw_usage_node(0, "error", ERROR, INPUT, 0)
};


/* FINAL counts only in a stream: a JSON body is final at its end */

static const ngx_http_llmgw_usage_node_t  ngx_http_llmgw_usage_converse[] = {
    ngx_http_llmgw_usage_node(0, "", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(0, "usage", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(1, "inputTokens", COUNT, INPUT,
                              NGX_HTTP_LLMGW_USAGE_FINAL),
    ngx_http_llmgw_usage_node(1, "outputTokens", COUNT, OUTPUT,
                              NGX_HTTP_LLMGW_USAGE_FINAL),
    ngx_http_llmgw_usage_node(1, "totalTokens", COUNT, TOTAL,
                              NGX_HTTP_LLMGW_USAGE_FINAL),
    ngx_http_llmgw_usage_node(1, "cacheReadInputTokens", COUNT, CACHE_READ,
                              NGX_HTTP_LLMGW_USAGE_FINAL),
    ngx_http_llmgw_usage_node(1, "cacheWriteInputTokens", COUNT,
                              CACHE_WRITE, NGX_HTTP_LLMGW_USAGE_FINAL)
};


static const ngx_http_llmgw_usage_node_t  ngx_http_llmgw_usage_gemini[] = {
    ngx_http_llmgw_usage_node(0, "", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(0, "usageMetadata", NODE, INPUT, 0),
    ngx_http_llmgw_usage_node(1, "promptTokenCount", COUNT, INPUT, 0),
    ngx_http_llmgw_usage_node(1, "candidatesTokenCount", COUNT, OUTPUT, 0),
    ngx_http_llmgw_usage_node(1, "totalTokenCount", COUNT, TOTAL, 0),
    ngx_http_llmgw_usage_node(1, "cachedContentTokenCount", COUNT,
                              CACHE_READ, 0),
    ngx_http_llmgw_usage_node(1, "thoughtsTokenCount", COUNT, REASONING, 0),
    ngx_http_llmgw_usage_node(0, "error", ERROR, INPUT, 0)
};


/*
 * The Responses API's stream: usage is read from the events that end a
 * response; "response.incomplete" (max_output_tokens reached) is billed
 * too.
 */

static const ngx_http_llmgw_usage_type_t  ngx_http_llmgw_usage_types[] = {
    { ngx_string("response.completed"), 0 },
    { ngx_string("response.incomplete"), 0 },
    { ngx_string("response.failed"), 1 },
    { ngx_string("error"), 1 },
    { ngx_null_string, 0 }
};


#define ngx_http_llmgw_usage_table(t)  t, sizeof(t) / sizeof(t[0])

static const ngx_http_llmgw_usage_format_t  ngx_http_llmgw_usage_formats[] = {

    /* NGX_HTTP_LLMGW_USAGE_OPENAI_JSON */
    { NGX_HTTP_LLMGW_USAGE_JSON,
      ngx_http_llmgw_usage_table(ngx_http_llmgw_usage_openai),
      NULL, 0, ngx_null_string, NULL, 0 },

    /* NGX_HTTP_LLMGW_USAGE_OPENAI_SSE */
    { NGX_HTTP_LLMGW_USAGE_SSE,
      ngx_http_llmgw_usage_table(ngx_http_llmgw_usage_openai),
      NULL, 0, ngx_null_string, NULL, 0 },

    /* NGX_HTTP_LLMGW_USAGE_RESPONSES_JSON */
    { NGX_HTTP_LLMGW_USAGE_JSON,
      ngx_http_llmgw_usage_table(ngx_http_llmgw_usage_responses),
      NULL, 0, ngx_null_string, NULL, 0 },

    /* NGX_HTTP_LLMGW_USAGE_RESPONSES_SSE */
    { NGX_HTTP_LLMGW_USAGE_SSE,
      ngx_http_llmgw_usage_table(ngx_http_llmgw_usage_responses_sse),
      NULL, 0, ngx_null_string, ngx_http_llmgw_usage_types, 0 },

    /* NGX_HTTP_LLMGW_USAGE_ANTHROPIC_JSON */
    { NGX_HTTP_LLMGW_USAGE_JSON,
      ngx_http_llmgw_usage_table(ngx_http_llmgw_usage_anthropic),
      NULL, 0, ngx_null_string, NULL, 0 },

    /* NGX_HTTP_LLMGW_USAGE_ANTHROPIC_EVENTSTREAM */
    { NGX_HTTP_LLMGW_USAGE_EVENTSTREAM,
      ngx_http_llmgw_usage_table(ngx_http_llmgw_usage_chunk),
      ngx_http_llmgw_usage_table(ngx_http_llmgw_usage_anthropic_event),
      ngx_string("chunk"), NULL, 0 },

    /* NGX_HTTP_LLMGW_USAGE_CONVERSE_JSON */
    { NGX_HTTP_LLMGW_USAGE_JSON,
      ngx_http_llmgw_usage_table(ngx_http_llmgw_usage_converse),
      NULL, 0, ngx_null_string, NULL, 0 },

    /* NGX_HTTP_LLMGW_USAGE_CONVERSE_EVENTSTREAM */
    { NGX_HTTP_LLMGW_USAGE_EVENTSTREAM,
      ngx_http_llmgw_usage_table(ngx_http_llmgw_usage_converse),
      NULL, 0, ngx_string("metadata"), NULL, 0 },

    /* NGX_HTTP_LLMGW_USAGE_GEMINI_JSON */
    { NGX_HTTP_LLMGW_USAGE_JSON,
      ngx_http_llmgw_usage_table(ngx_http_llmgw_usage_gemini),
      NULL, 0, ngx_null_string, NULL, 1 },

    /* NGX_HTTP_LLMGW_USAGE_GEMINI_SSE */
    { NGX_HTTP_LLMGW_USAGE_SSE,
      ngx_http_llmgw_usage_table(ngx_http_llmgw_usage_gemini),
      NULL, 0, ngx_null_string, NULL, 0 }
};


static const size_t  ngx_http_llmgw_usage_fields[] = {
    offsetof(ngx_http_llmgw_usage_result_t, input_tokens),
    offsetof(ngx_http_llmgw_usage_result_t, output_tokens),
    offsetof(ngx_http_llmgw_usage_result_t, cache_read_input_tokens),
    offsetof(ngx_http_llmgw_usage_result_t, cache_creation_input_tokens),
    offsetof(ngx_http_llmgw_usage_result_t, reasoning_output_tokens),
    offsetof(ngx_http_llmgw_usage_result_t, total_tokens)
};


static const char  *ngx_http_llmgw_usage_literals[] = {
    "true", "false", "null"
};


static const u_char  ngx_http_llmgw_usage_sse_done[] = "[DONE]";


ngx_int_t
ngx_http_llmgw_usage_init(ngx_http_llmgw_usage_t *u, ngx_pool_t *pool,
    ngx_http_llmgw_usage_format_e format, size_t limit)
{
    size_t                                max;
    ngx_pool_cleanup_t                   *cln;
    const ngx_http_llmgw_usage_format_t  *f;

    ngx_memzero(u, sizeof(ngx_http_llmgw_usage_t));

    if ((ngx_uint_t) format >= NGX_HTTP_LLMGW_USAGE_FORMATS) {
        return NGX_ERROR;
    }

    if (limit == 0) {
        limit = NGX_HTTP_LLMGW_USAGE_LIMIT;
    }

    u->format = format;
    u->limit = ngx_min(ngx_max(limit, NGX_HTTP_LLMGW_USAGE_MIN_LIMIT),
                       NGX_HTTP_LLMGW_USAGE_MAX_LIMIT);
    u->peak = sizeof(ngx_http_llmgw_usage_t);

    f = &ngx_http_llmgw_usage_formats[format];

    ngx_http_llmgw_usage_json_init(&u->json, f->nodes, f->nnodes,
                                   f->framing == NGX_HTTP_LLMGW_USAGE_JSON,
                                   f->array_root);

    if (f->inner != NULL) {
        ngx_http_llmgw_usage_json_init(&u->inner, f->inner, f->ninner, 0, 0);
    }

    if (f->framing != NGX_HTTP_LLMGW_USAGE_EVENTSTREAM) {
        return NGX_OK;
    }

    u->es_pool = ngx_create_pool(NGX_HTTP_LLMGW_USAGE_ES_POOL, pool->log);
    if (u->es_pool == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        ngx_destroy_pool(u->es_pool);
        u->es_pool = NULL;
        return NGX_ERROR;
    }

    cln->handler = ngx_http_llmgw_usage_cleanup;
    cln->data = u->es_pool;

    /* a buffer and the one it replaces fit in what the structure leaves */

    max = (u->limit - sizeof(ngx_http_llmgw_usage_t)
           - NGX_HTTP_LLMGW_USAGE_ES_POOL) / 2;

    u->max_message = max;
    u->peak += NGX_HTTP_LLMGW_USAGE_ES_POOL;

    ngx_http_llmgw_eventstream_init(&u->es, u->es_pool, max);

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_usage_feed(ngx_http_llmgw_usage_t *u, u_char *p, u_char *last)
{
    ngx_int_t  rc;

    if (u->err != NULL) {
        return NGX_ERROR;
    }

    if (u->result.complete) {
        return NGX_OK;
    }

    u->updated = 0;

    switch (ngx_http_llmgw_usage_formats[u->format].framing) {

    case NGX_HTTP_LLMGW_USAGE_JSON:
        rc = ngx_http_llmgw_usage_json(u, &u->json, p, last);
        break;

    case NGX_HTTP_LLMGW_USAGE_SSE:
        rc = ngx_http_llmgw_usage_sse(u, p, last);
        break;

    default: /* NGX_HTTP_LLMGW_USAGE_EVENTSTREAM */
        rc = ngx_http_llmgw_usage_es(u, p, last);
        break;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    return (u->updated || u->result.complete) ? NGX_OK : NGX_AGAIN;
}


ngx_int_t
ngx_http_llmgw_usage_finish(ngx_http_llmgw_usage_t *u)
{
    if (u->err != NULL) {
        return NGX_ERROR;
    }

    if (u->result.complete) {
        return NGX_OK;
    }

    switch (ngx_http_llmgw_usage_formats[u->format].framing) {

    case NGX_HTTP_LLMGW_USAGE_JSON:

        /* a root object or array element was committed when it closed */

        if (ngx_http_llmgw_usage_json_end(&u->json) != NGX_OK) {
            return ngx_http_llmgw_usage_fail(u, "truncated JSON body");
        }

        break;

    case NGX_HTTP_LLMGW_USAGE_SSE:

        /*
         * A last event not followed by a blank line still counts when its
         * data is whole; one cut short is refused by its JSON.
         */

        if (u->sse_state != NGX_HTTP_LLMGW_USAGE_S_LINE
            && ngx_http_llmgw_usage_sse_line(u) != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (u->result.complete) {
            return NGX_OK;
        }

        if (ngx_http_llmgw_usage_sse_event(u) != NGX_OK) {
            return NGX_ERROR;
        }

        break;

    default: /* NGX_HTTP_LLMGW_USAGE_EVENTSTREAM */

        if (ngx_http_llmgw_eventstream_finish(&u->es) != NGX_OK) {
            return ngx_http_llmgw_usage_fail(u, u->es.err);
        }

        break;
    }

    u->result.complete = 1;

    return NGX_OK;
}


size_t
ngx_http_llmgw_usage_size(ngx_http_llmgw_usage_t *u)
{
    size_t  size;

    size = sizeof(ngx_http_llmgw_usage_t);

    if (u->es_pool != NULL) {
        size += NGX_HTTP_LLMGW_USAGE_ES_POOL + u->es.size;
    }

    return size;
}


ngx_int_t
ngx_http_llmgw_usage_parse_count(u_char *p, size_t len, int64_t *value)
{
    int64_t  n;
    u_char  *last;

    if (len == 0 || (p[0] == '0' && len > 1)) {
        return NGX_ERROR;
    }

    n = 0;

    for (last = p + len; p < last; p++) {

        if (*p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        if (n > (NGX_HTTP_LLMGW_USAGE_MAX_COUNT - (*p - '0')) / 10) {
            return NGX_ERROR;
        }

        n = n * 10 + (*p - '0');
    }

    *value = n;

    return NGX_OK;
}


static void
ngx_http_llmgw_usage_json_init(ngx_http_llmgw_usage_json_t *j,
    const ngx_http_llmgw_usage_node_t *nodes, ngx_uint_t nnodes,
    ngx_uint_t unit, ngx_uint_t array_root)
{
    j->nodes = nodes;
    j->nnodes = nnodes;
    j->unit = unit ? 1 : 0;
    j->array_root = array_root ? 1 : 0;

    ngx_http_llmgw_usage_json_reset(j);
}


/* ready for a new document, what was read but not committed dropped */

static void
ngx_http_llmgw_usage_json_reset(ngx_http_llmgw_usage_json_t *j)
{
    j->state = NGX_HTTP_LLMGW_USAGE_J_VALUE;
    j->depth = 0;
    j->node = 1;
    j->key_node = 0;
    j->capture = NGX_HTTP_LLMGW_USAGE_C_NONE;
    j->field = 0;
    j->seen = 0;
    j->pend_mask = 0;
    j->pend_prio = 0;
    j->type = 0;
    j->final = 0;
    j->error = 0;
    j->in_key = 0;
}


/* scans bytes of a document; NGX_OK when all were taken */

static ngx_int_t
ngx_http_llmgw_usage_json(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, u_char *p, u_char *last)
{
    u_char      c;
    ngx_int_t   rc;
    ngx_uint_t  n;

    while (p < last) {
        c = *p;

        switch (j->state) {

        case NGX_HTTP_LLMGW_USAGE_J_STRING:

            /* the bulk of a body: skipped, not copied */

            if (j->capture == NGX_HTTP_LLMGW_USAGE_C_NONE) {
                while (p < last && *p != '"' && *p != '\\' && *p >= 0x20) {
                    p++;
                }

                if (p == last) {
                    return NGX_OK;
                }

                c = *p;
            }

            if (c == '"') {
                if (ngx_http_llmgw_usage_string_end(u, j) != NGX_OK) {
                    return NGX_ERROR;
                }

            } else if (c == '\\') {
                j->state = NGX_HTTP_LLMGW_USAGE_J_ESCAPE;

            } else if (c < 0x20) {
                return ngx_http_llmgw_usage_fail(u,
                                           "control character in a string");

            } else if (ngx_http_llmgw_usage_char(u, j, c) != NGX_OK) {
                return NGX_ERROR;
            }

            p++;
            break;

        case NGX_HTTP_LLMGW_USAGE_J_ESCAPE:

            switch (c) {
            case '"':
            case '\\':
            case '/':
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'u':
                j->state = NGX_HTTP_LLMGW_USAGE_J_UNICODE;
                j->code = 0;
                j->hex = 0;
                p++;
                continue;
            default:
                return ngx_http_llmgw_usage_fail(u, "invalid escape");
            }

            if (ngx_http_llmgw_usage_char(u, j, c) != NGX_OK) {
                return NGX_ERROR;
            }

            j->state = NGX_HTTP_LLMGW_USAGE_J_STRING;
            p++;
            break;

        case NGX_HTTP_LLMGW_USAGE_J_UNICODE:

            if (c >= '0' && c <= '9') {
                n = c - '0';

            } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
                n = (c | 0x20) - 'a' + 10;

            } else {
                return ngx_http_llmgw_usage_fail(u, "invalid \\u escape");
            }

            j->code = (j->code << 4) | n;
            p++;

            if (++j->hex == 4) {
                j->state = NGX_HTTP_LLMGW_USAGE_J_STRING;

                /* a surrogate is taken alone: never part of a usage path */

                if (ngx_http_llmgw_usage_char(u, j, j->code) != NGX_OK) {
                    return NGX_ERROR;
                }
            }

            break;

        case NGX_HTTP_LLMGW_USAGE_J_NUMBER:

            rc = ngx_http_llmgw_usage_number(u, j, c);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_OK) {
                p++;
            }

            /* NGX_DONE: the number ended before c, which is read again */

            break;

        case NGX_HTTP_LLMGW_USAGE_J_LITERAL:

            if (c != (u_char) ngx_http_llmgw_usage_literals[j->sub][j->len]) {
                return ngx_http_llmgw_usage_fail(u, "invalid literal");
            }

            p++;

            if (ngx_http_llmgw_usage_literals[j->sub][++j->len] == '\0') {
                ngx_http_llmgw_usage_done(j);
            }

            break;

        case NGX_HTTP_LLMGW_USAGE_J_VALUE:
        case NGX_HTTP_LLMGW_USAGE_J_ARRAY:

            if (ngx_http_llmgw_usage_ws(c)) {
                p++;
                break;
            }

            p++;

            if (c == ']' && j->state == NGX_HTTP_LLMGW_USAGE_J_ARRAY) {
                rc = ngx_http_llmgw_usage_close(u, j, c);

            } else {
                rc = ngx_http_llmgw_usage_value(u, j, c);
            }

            if (rc != NGX_OK) {
                return NGX_ERROR;
            }

            break;

        case NGX_HTTP_LLMGW_USAGE_J_OBJECT:
        case NGX_HTTP_LLMGW_USAGE_J_KEY:

            if (ngx_http_llmgw_usage_ws(c)) {
                p++;
                break;
            }

            p++;

            if (c == '}' && j->state == NGX_HTTP_LLMGW_USAGE_J_OBJECT) {
                if (ngx_http_llmgw_usage_close(u, j, c) != NGX_OK) {
                    return NGX_ERROR;
                }

                break;
            }

            if (c != '"') {
                return ngx_http_llmgw_usage_fail(u, "expected a key");
            }

            /* a key is kept only inside an object on a path */

            j->capture = (j->stack[j->depth - 1]
                          & NGX_HTTP_LLMGW_USAGE_NODE_MASK)
                         ? NGX_HTTP_LLMGW_USAGE_C_KEY
                         : NGX_HTTP_LLMGW_USAGE_C_NONE;
            j->len = 0;
            j->in_key = 1;
            j->state = NGX_HTTP_LLMGW_USAGE_J_STRING;
            break;

        case NGX_HTTP_LLMGW_USAGE_J_COLON:

            if (ngx_http_llmgw_usage_ws(c)) {
                p++;
                break;
            }

            if (c != ':') {
                return ngx_http_llmgw_usage_fail(u, "expected a colon");
            }

            j->node = j->key_node;
            j->state = NGX_HTTP_LLMGW_USAGE_J_VALUE;
            p++;
            break;

        case NGX_HTTP_LLMGW_USAGE_J_AFTER:

            if (ngx_http_llmgw_usage_ws(c)) {
                p++;
                break;
            }

            p++;

            if (c == '}' || c == ']') {
                if (ngx_http_llmgw_usage_close(u, j, c) != NGX_OK) {
                    return NGX_ERROR;
                }

                break;
            }

            if (c != ',') {
                return ngx_http_llmgw_usage_fail(u, "expected a comma");
            }

            if (j->stack[j->depth - 1] & NGX_HTTP_LLMGW_USAGE_ARRAY) {
                j->node = j->stack[j->depth - 1]
                          & NGX_HTTP_LLMGW_USAGE_NODE_MASK;
                j->state = NGX_HTTP_LLMGW_USAGE_J_VALUE;

            } else {
                j->state = NGX_HTTP_LLMGW_USAGE_J_KEY;
            }

            break;

        default: /* NGX_HTTP_LLMGW_USAGE_J_END */

            if (!ngx_http_llmgw_usage_ws(c)) {
                return ngx_http_llmgw_usage_fail(u,
                                             "data after the JSON document");
            }

            p++;
            break;
        }
    }

    return NGX_OK;
}


/*
 * At the end of a document: NGX_OK when it is whole, NGX_DECLINED when
 * there was nothing but white space, NGX_ERROR when it was cut short.
 */

static ngx_int_t
ngx_http_llmgw_usage_json_end(ngx_http_llmgw_usage_json_t *j)
{
    if (j->state == NGX_HTTP_LLMGW_USAGE_J_END) {
        return NGX_OK;
    }

    if (j->depth > 0) {
        return NGX_ERROR;
    }

    if (j->state == NGX_HTTP_LLMGW_USAGE_J_VALUE) {
        return NGX_DECLINED;
    }

    /* a number at the root ends with the document */

    if (j->state == NGX_HTTP_LLMGW_USAGE_J_NUMBER
        && (j->sub == NGX_HTTP_LLMGW_USAGE_N_ZERO
            || j->sub == NGX_HTTP_LLMGW_USAGE_N_INT
            || j->sub == NGX_HTTP_LLMGW_USAGE_N_FRAC
            || j->sub == NGX_HTTP_LLMGW_USAGE_N_EXP))
    {
        return NGX_OK;
    }

    return NGX_ERROR;
}


/* the first byte of a value, at the node j->node names */

static ngx_int_t
ngx_http_llmgw_usage_value(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, u_char c)
{
    ngx_uint_t                          kind, bit, node;
    const ngx_http_llmgw_usage_node_t  *n;

    node = j->node;
    n = node ? &j->nodes[node - 1] : NULL;
    kind = n ? n->kind : NGX_HTTP_LLMGW_USAGE_NODE;

    j->capture = NGX_HTTP_LLMGW_USAGE_C_NONE;
    j->field = 0;

    if (n != NULL && kind != NGX_HTTP_LLMGW_USAGE_NODE) {

        /* a leaf given twice: parsers differ on which wins, so none does */

        bit = (uint32_t) 1 << (node - 1);

        if (j->seen & bit) {
            return ngx_http_llmgw_usage_fail(u, "duplicate usage key");
        }

        j->seen |= bit;
    }

    switch (kind) {

    case NGX_HTTP_LLMGW_USAGE_COUNT:

        if (c == 'n') {
            break;
        }

        if (c < '0' || c > '9') {
            return ngx_http_llmgw_usage_fail(u,
                                 "usage count is not a non-negative integer");
        }

        j->field = node;
        break;

    case NGX_HTTP_LLMGW_USAGE_TYPE:

        if (c == '"') {
            j->capture = NGX_HTTP_LLMGW_USAGE_C_TYPE;
        }

        break;

    case NGX_HTTP_LLMGW_USAGE_BASE64:

        if (c != '"') {
            return ngx_http_llmgw_usage_fail(u, "\"bytes\" is not a string");
        }

        j->capture = NGX_HTTP_LLMGW_USAGE_C_BASE64;
        j->b64n = 0;
        j->b64pad = 0;
        ngx_http_llmgw_usage_json_reset(&u->inner);
        break;

    case NGX_HTTP_LLMGW_USAGE_ERROR:

        if (c != 'n') {
            j->error = 1;
        }

        break;

    default: /* NGX_HTTP_LLMGW_USAGE_NODE */
        break;
    }

    switch (c) {

    case '{':
        return ngx_http_llmgw_usage_push(u, j, n ? (u_char) node : 0);

    case '[':

        /* Gemini's streamed array: each element is a response */

        if (j->depth == 0 && j->array_root) {
            return ngx_http_llmgw_usage_push(u, j,
                                         NGX_HTTP_LLMGW_USAGE_ARRAY | 1);
        }

        return ngx_http_llmgw_usage_push(u, j, NGX_HTTP_LLMGW_USAGE_ARRAY);

    case '"':
        j->len = 0;
        j->in_key = 0;
        j->state = NGX_HTTP_LLMGW_USAGE_J_STRING;
        return NGX_OK;

    case 't':
    case 'f':
    case 'n':
        j->sub = (c == 't') ? 0 : (c == 'f') ? 1 : 2;
        j->len = 1;
        j->state = NGX_HTTP_LLMGW_USAGE_J_LITERAL;
        return NGX_OK;

    case '-':
        j->sub = NGX_HTTP_LLMGW_USAGE_N_MINUS;
        j->state = NGX_HTTP_LLMGW_USAGE_J_NUMBER;
        return NGX_OK;

    default:

        if (c < '0' || c > '9') {
            return ngx_http_llmgw_usage_fail(u, "invalid JSON value");
        }

        j->sub = (c == '0') ? NGX_HTTP_LLMGW_USAGE_N_ZERO
                            : NGX_HTTP_LLMGW_USAGE_N_INT;
        j->number = c - '0';
        j->state = NGX_HTTP_LLMGW_USAGE_J_NUMBER;
        return NGX_OK;
    }
}


/* entry: the container's kind and, for an object on a path, its node */

static ngx_int_t
ngx_http_llmgw_usage_push(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, u_char entry)
{
    if (j->depth == NGX_HTTP_LLMGW_USAGE_MAX_DEPTH) {
        return ngx_http_llmgw_usage_fail(u, "JSON nested too deep");
    }

    if (!(entry & NGX_HTTP_LLMGW_USAGE_ARRAY)
        && entry != 0
        && j->nodes[entry - 1].kind != NGX_HTTP_LLMGW_USAGE_NODE)
    {
        entry = 0;
    }

    j->stack[j->depth++] = entry;

    if (entry & NGX_HTTP_LLMGW_USAGE_ARRAY) {
        j->node = entry & NGX_HTTP_LLMGW_USAGE_NODE_MASK;
        j->state = NGX_HTTP_LLMGW_USAGE_J_ARRAY;

    } else {
        j->state = NGX_HTTP_LLMGW_USAGE_J_OBJECT;
    }

    return NGX_OK;
}


/*
 * A closing bracket.  Where a body is one document (or, Gemini's array,
 * one per element) its usage is committed when the root object closes:
 * anything wrong after it still makes the usage missing, as the body is
 * never complete before its end.
 */

static ngx_int_t
ngx_http_llmgw_usage_close(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, u_char c)
{
    u_char  entry;

    entry = j->stack[j->depth - 1];

    if ((c == ']') != ((entry & NGX_HTTP_LLMGW_USAGE_ARRAY) != 0)) {
        return ngx_http_llmgw_usage_fail(u, "mismatched bracket");
    }

    j->depth--;

    if (entry == 1
        && j->unit
        && ngx_http_llmgw_usage_commit(u, j) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_llmgw_usage_done(j);

    return NGX_OK;
}


/* a value ended */

static void
ngx_http_llmgw_usage_done(ngx_http_llmgw_usage_json_t *j)
{
    j->field = 0;
    j->capture = NGX_HTTP_LLMGW_USAGE_C_NONE;

    j->state = (j->depth == 0) ? NGX_HTTP_LLMGW_USAGE_J_END
                               : NGX_HTTP_LLMGW_USAGE_J_AFTER;
}


/*
 * A byte of a number in JSON's grammar: NGX_OK taken, NGX_DONE the number
 * ended before it, NGX_ERROR.  A count is read as it goes: digits only,
 * never past 2^53.
 */

static ngx_int_t
ngx_http_llmgw_usage_number(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, u_char c)
{
    ngx_uint_t                          digit, f;
    const ngx_http_llmgw_usage_node_t  *n;

    digit = (c >= '0' && c <= '9');

    if (j->field
        && (c == '.' || c == 'e' || c == 'E')
        && (j->sub == NGX_HTTP_LLMGW_USAGE_N_ZERO
            || j->sub == NGX_HTTP_LLMGW_USAGE_N_INT))
    {
        return ngx_http_llmgw_usage_fail(u, "usage count is not an integer");
    }

    switch (j->sub) {

    case NGX_HTTP_LLMGW_USAGE_N_MINUS:

        if (!digit) {
            return ngx_http_llmgw_usage_fail(u, "invalid number");
        }

        j->sub = (c == '0') ? NGX_HTTP_LLMGW_USAGE_N_ZERO
                            : NGX_HTTP_LLMGW_USAGE_N_INT;
        return NGX_OK;

    case NGX_HTTP_LLMGW_USAGE_N_ZERO:
    case NGX_HTTP_LLMGW_USAGE_N_INT:

        if (digit) {
            if (j->sub == NGX_HTTP_LLMGW_USAGE_N_ZERO) {
                return ngx_http_llmgw_usage_fail(u, "invalid number");
            }

            if (j->field) {
                if (j->number > (NGX_HTTP_LLMGW_USAGE_MAX_COUNT - (c - '0'))
                                / 10)
                {
                    return ngx_http_llmgw_usage_fail(u,
                                                "usage count out of range");
                }

                j->number = j->number * 10 + (c - '0');
            }

            return NGX_OK;
        }

        if (c == '.') {
            j->sub = NGX_HTTP_LLMGW_USAGE_N_DOT;
            return NGX_OK;
        }

        if (c == 'e' || c == 'E') {
            j->sub = NGX_HTTP_LLMGW_USAGE_N_E;
            return NGX_OK;
        }

        break;

    case NGX_HTTP_LLMGW_USAGE_N_DOT:

        if (!digit) {
            return ngx_http_llmgw_usage_fail(u, "invalid number");
        }

        j->sub = NGX_HTTP_LLMGW_USAGE_N_FRAC;
        return NGX_OK;

    case NGX_HTTP_LLMGW_USAGE_N_FRAC:

        if (digit) {
            return NGX_OK;
        }

        if (c == 'e' || c == 'E') {
            j->sub = NGX_HTTP_LLMGW_USAGE_N_E;
            return NGX_OK;
        }

        break;

    case NGX_HTTP_LLMGW_USAGE_N_E:

        if (c == '+' || c == '-') {
            j->sub = NGX_HTTP_LLMGW_USAGE_N_ESIGN;
            return NGX_OK;
        }

        /* fall through */

    case NGX_HTTP_LLMGW_USAGE_N_ESIGN:

        if (!digit) {
            return ngx_http_llmgw_usage_fail(u, "invalid number");
        }

        j->sub = NGX_HTTP_LLMGW_USAGE_N_EXP;
        return NGX_OK;

    default: /* NGX_HTTP_LLMGW_USAGE_N_EXP */

        if (digit) {
            return NGX_OK;
        }

        break;
    }

    /* the number ended before c */

    if (j->field) {
        n = &j->nodes[j->field - 1];
        f = n->field;

        j->pend[f] = j->number;
        j->pend_mask |= 1 << f;

        if (n->flags & NGX_HTTP_LLMGW_USAGE_PRIO) {
            j->pend_prio |= 1 << f;
        }

        if (n->flags & NGX_HTTP_LLMGW_USAGE_FINAL) {
            j->final = 1;
        }
    }

    ngx_http_llmgw_usage_done(j);

    return NGX_DONE;
}


/* a character of a string, escapes decoded, for what the string is read */

static ngx_int_t
ngx_http_llmgw_usage_char(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, uint32_t c)
{
    switch (j->capture) {

    case NGX_HTTP_LLMGW_USAGE_C_KEY:
    case NGX_HTTP_LLMGW_USAGE_C_TYPE:

        /* names are ASCII: a longer or other one just matches nothing */

        if (c < 0x80 && j->len < NGX_HTTP_LLMGW_USAGE_MAX_KEY) {
            j->buf[j->len++] = (u_char) c;

        } else {
            j->len = NGX_HTTP_LLMGW_USAGE_MAX_KEY + 1;
        }

        return NGX_OK;

    case NGX_HTTP_LLMGW_USAGE_C_BASE64:
        return ngx_http_llmgw_usage_base64(u, j, c);

    default:
        return NGX_OK;
    }
}


static ngx_int_t
ngx_http_llmgw_usage_string_end(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j)
{
    ngx_uint_t                          i;
    const ngx_http_llmgw_usage_type_t  *t;

    if (j->in_key) {
        j->key_node = (j->capture == NGX_HTTP_LLMGW_USAGE_C_KEY)
                      ? ngx_http_llmgw_usage_lookup(j,
                                        (j->stack[j->depth - 1]
                                         & NGX_HTTP_LLMGW_USAGE_NODE_MASK)
                                        - 1)
                      : 0;
        j->in_key = 0;
        j->capture = NGX_HTTP_LLMGW_USAGE_C_NONE;
        j->state = NGX_HTTP_LLMGW_USAGE_J_COLON;
        return NGX_OK;
    }

    switch (j->capture) {

    case NGX_HTTP_LLMGW_USAGE_C_TYPE:

        t = ngx_http_llmgw_usage_formats[u->format].types;
        j->type = 0;

        for (i = 0; t != NULL && t[i].name.len; i++) {
            if (j->len == t[i].name.len
                && ngx_strncmp(j->buf, t[i].name.data, j->len) == 0)
            {
                j->type = i + 1;
                break;
            }
        }

        break;

    case NGX_HTTP_LLMGW_USAGE_C_BASE64:

        if (j->b64n != 0) {
            return ngx_http_llmgw_usage_fail(u, "invalid base64");
        }

        if (ngx_http_llmgw_usage_json_end(&u->inner) == NGX_ERROR) {
            return ngx_http_llmgw_usage_fail(u,
                                         "truncated JSON inside \"bytes\"");
        }

        break;

    default:
        break;
    }

    ngx_http_llmgw_usage_done(j);

    return NGX_OK;
}


/* a base64 character: each 4 decoded into the inner document */

static ngx_int_t
ngx_http_llmgw_usage_base64(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j, uint32_t c)
{
    u_char  v, out[3];

    if (c == '=') {
        if (j->b64n < 2) {
            return ngx_http_llmgw_usage_fail(u, "invalid base64");
        }

        j->b64pad++;
        v = 0;

    } else {
        if (j->b64pad) {
            return ngx_http_llmgw_usage_fail(u, "invalid base64");
        }

        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';

        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;

        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;

        } else if (c == '+') {
            v = 62;

        } else if (c == '/') {
            v = 63;

        } else {
            return ngx_http_llmgw_usage_fail(u, "invalid base64");
        }
    }

    j->b64[j->b64n++] = v;

    if (j->b64n < 4) {
        return NGX_OK;
    }

    j->b64n = 0;

    out[0] = (u_char) ((j->b64[0] << 2) | (j->b64[1] >> 4));
    out[1] = (u_char) ((j->b64[1] << 4) | (j->b64[2] >> 2));
    out[2] = (u_char) ((j->b64[2] << 6) | j->b64[3]);

    return ngx_http_llmgw_usage_json(u, &u->inner, out, out + 3 - j->b64pad);
}


/* the child of parent named by the key in j->buf, + 1; 0 for none */

static ngx_uint_t
ngx_http_llmgw_usage_lookup(ngx_http_llmgw_usage_json_t *j,
    ngx_uint_t parent)
{
    ngx_uint_t                          i;
    const ngx_http_llmgw_usage_node_t  *n;

    if (j->len > NGX_HTTP_LLMGW_USAGE_MAX_KEY) {
        return 0;
    }

    for (i = 1; i < j->nnodes; i++) {
        n = &j->nodes[i];

        if (n->parent == parent
            && n->name.len == j->len
            && ngx_strncmp(n->name.data, j->buf, j->len) == 0)
        {
            return i + 1;
        }
    }

    return 0;
}


/*
 * A document (an SSE event's data, an event-stream payload, a JSON body's
 * root object) is whole: what it said goes into the result, field by
 * field, except over a value set authoritatively by an earlier one.
 */

static ngx_int_t
ngx_http_llmgw_usage_commit(ngx_http_llmgw_usage_t *u,
    ngx_http_llmgw_usage_json_t *j)
{
    uint32_t                             bit;
    ngx_uint_t                           f, final;
    ngx_http_llmgw_usage_count_t        *count;
    const ngx_http_llmgw_usage_format_t *fmt;

    fmt = &ngx_http_llmgw_usage_formats[u->format];
    final = j->final;

    if (j->error) {
        return ngx_http_llmgw_usage_fail(u, "the provider reported an error");
    }

    if (fmt->types != NULL) {

        if (j->type == 0) {
            j->pend_mask = 0;
            goto done;
        }

        if (fmt->types[j->type - 1].fail) {
            return ngx_http_llmgw_usage_fail(u,
                                             "the provider reported an error");
        }

        final = 1;
    }

    for (f = 0; f < NGX_HTTP_LLMGW_USAGE_FIELDS; f++) {
        bit = 1 << f;

        if (!(j->pend_mask & bit)
            || ((u->prio & bit) && !(j->pend_prio & bit)))
        {
            continue;
        }

        count = (ngx_http_llmgw_usage_count_t *)
                    ((u_char *) &u->result + ngx_http_llmgw_usage_fields[f]);

        count->value = j->pend[f];
        count->present = 1;

        u->prio |= j->pend_prio & bit;
        u->updated = 1;
    }

    if (final && fmt->framing != NGX_HTTP_LLMGW_USAGE_JSON) {
        u->result.complete = 1;
    }

done:

    j->seen = 0;
    j->pend_mask = 0;
    j->pend_prio = 0;
    j->type = 0;
    j->final = 0;
    j->error = 0;

    return NGX_OK;
}


/* server-sent events: lines, fields, and the data lines' JSON streamed */

static ngx_int_t
ngx_http_llmgw_usage_sse(ngx_http_llmgw_usage_t *u, u_char *p, u_char *last)
{
    u_char  c, *q;

    while (p < last) {
        c = *p;

        /* CRLF is one line end */

        if (u->sse_cr) {
            u->sse_cr = 0;

            if (c == '\n') {
                p++;
                continue;
            }
        }

        if (c == '\r' || c == '\n') {
            u->sse_cr = (c == '\r');
            p++;

            if (ngx_http_llmgw_usage_sse_line(u) != NGX_OK) {
                return NGX_ERROR;
            }

            if (u->result.complete) {
                return NGX_OK;
            }

            continue;
        }

        switch (u->sse_state) {

        case NGX_HTTP_LLMGW_USAGE_S_LINE:

            if (c == ':') {
                u->sse_state = NGX_HTTP_LLMGW_USAGE_S_SKIP;
                p++;
                break;
            }

            u->sse_len = 0;
            u->sse_state = NGX_HTTP_LLMGW_USAGE_S_FIELD;

            /* fall through */

        case NGX_HTTP_LLMGW_USAGE_S_FIELD:

            p++;

            if (c != ':') {
                if (u->sse_len < sizeof(u->sse_name)) {
                    u->sse_name[u->sse_len++] = c;

                } else {
                    u->sse_len = sizeof(u->sse_name) + 1;
                }

                break;
            }

            if (u->sse_len != 4 || ngx_strncmp(u->sse_name, "data", 4) != 0) {
                u->sse_state = NGX_HTTP_LLMGW_USAGE_S_SKIP;
                break;
            }

            if (ngx_http_llmgw_usage_sse_data(u) != NGX_OK) {
                return NGX_ERROR;
            }

            u->sse_state = NGX_HTTP_LLMGW_USAGE_S_SPACE;
            break;

        case NGX_HTTP_LLMGW_USAGE_S_SPACE:

            if (c == ' ') {
                p++;
            }

            u->sse_len = 0;
            u->sse_state = (u->sse_data == 1) ? NGX_HTTP_LLMGW_USAGE_S_DONE
                                              : NGX_HTTP_LLMGW_USAGE_S_DATA;
            break;

        case NGX_HTTP_LLMGW_USAGE_S_DONE:

            if (u->sse_len < sizeof(ngx_http_llmgw_usage_sse_done) - 1
                && c == ngx_http_llmgw_usage_sse_done[u->sse_len])
            {
                u->sse_len++;
                p++;
                break;
            }

            /* not "[DONE]" after all: what was held back is data */

            if (ngx_http_llmgw_usage_json(u, &u->json,
                                      (u_char *) ngx_http_llmgw_usage_sse_done,
                                      (u_char *) ngx_http_llmgw_usage_sse_done
                                      + u->sse_len)
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            u->sse_state = NGX_HTTP_LLMGW_USAGE_S_DATA;
            break;

        case NGX_HTTP_LLMGW_USAGE_S_DATA:

            for (q = p; q < last && *q != '\r' && *q != '\n'; q++) {
                /* void */
            }

            if (ngx_http_llmgw_usage_json(u, &u->json, p, q) != NGX_OK) {
                return NGX_ERROR;
            }

            p = q;
            break;

        default: /* NGX_HTTP_LLMGW_USAGE_S_SKIP */

            while (p < last && *p != '\r' && *p != '\n') {
                p++;
            }

            break;
        }
    }

    return NGX_OK;
}


/* the end of a line */

static ngx_int_t
ngx_http_llmgw_usage_sse_line(ngx_http_llmgw_usage_t *u)
{
    ngx_uint_t  state;

    state = u->sse_state;
    u->sse_state = NGX_HTTP_LLMGW_USAGE_S_LINE;

    switch (state) {

    case NGX_HTTP_LLMGW_USAGE_S_LINE:
        return ngx_http_llmgw_usage_sse_event(u);

    case NGX_HTTP_LLMGW_USAGE_S_FIELD:

        /* "data" alone is a data line with an empty value */

        if (u->sse_len == 4 && ngx_strncmp(u->sse_name, "data", 4) == 0) {
            return ngx_http_llmgw_usage_sse_data(u);
        }

        return NGX_OK;

    case NGX_HTTP_LLMGW_USAGE_S_DONE:

        if (u->sse_len == sizeof(ngx_http_llmgw_usage_sse_done) - 1) {
            u->result.complete = 1;
            return NGX_OK;
        }

        return ngx_http_llmgw_usage_json(u, &u->json,
                                      (u_char *) ngx_http_llmgw_usage_sse_done,
                                      (u_char *) ngx_http_llmgw_usage_sse_done
                                      + u->sse_len);

    default:
        return NGX_OK;
    }
}


/* a data line starts: lines of one event are joined by a line feed */

static ngx_int_t
ngx_http_llmgw_usage_sse_data(ngx_http_llmgw_usage_t *u)
{
    static u_char  lf = '\n';

    if (u->sse_data++ == 0) {
        return NGX_OK;
    }

    return ngx_http_llmgw_usage_json(u, &u->json, &lf, &lf + 1);
}


/* a blank line: the event is dispatched */

static ngx_int_t
ngx_http_llmgw_usage_sse_event(ngx_http_llmgw_usage_t *u)
{
    ngx_int_t  rc;

    if (u->sse_data == 0) {
        return NGX_OK;
    }

    u->sse_data = 0;

    rc = ngx_http_llmgw_usage_json_end(&u->json);

    if (rc == NGX_ERROR) {
        return ngx_http_llmgw_usage_fail(u, "truncated JSON in an event");
    }

    if (rc == NGX_OK && ngx_http_llmgw_usage_commit(u, &u->json) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_llmgw_usage_json_reset(&u->json);

    return NGX_OK;
}


/* the AWS event-stream: whole messages from the framing parser */

static ngx_int_t
ngx_http_llmgw_usage_es(ngx_http_llmgw_usage_t *u, u_char *p, u_char *last)
{
    size_t     size;
    ngx_int_t  rc;

    for ( ;; ) {
        rc = ngx_http_llmgw_eventstream_feed(&u->es, &p, last);

        /* a grown buffer was allocated while the old one was still held */

        if (u->es.size != u->es_size) {
            size = sizeof(ngx_http_llmgw_usage_t)
                   + NGX_HTTP_LLMGW_USAGE_ES_POOL + u->es.size + u->es_size;

            u->peak = ngx_max(u->peak, size);
            u->es_size = u->es.size;
        }

        if (rc == NGX_AGAIN) {
            return NGX_OK;
        }

        if (rc == NGX_ERROR) {
            return ngx_http_llmgw_usage_fail(u, u->es.err);
        }

        if (ngx_http_llmgw_usage_es_message(u) != NGX_OK) {
            return NGX_ERROR;
        }

        if (u->result.complete) {
            return NGX_OK;
        }
    }
}


static ngx_int_t
ngx_http_llmgw_usage_es_message(ngx_http_llmgw_usage_t *u)
{
    ngx_int_t                              rc;
    const ngx_str_t                       *event;
    ngx_http_llmgw_eventstream_message_t  *msg;

    msg = &u->es.msg;
    event = &ngx_http_llmgw_usage_formats[u->format].event;

    if (msg->kind == NGX_HTTP_LLMGW_EVENTSTREAM_EXCEPTION
        || msg->kind == NGX_HTTP_LLMGW_EVENTSTREAM_ERROR)
    {
        return ngx_http_llmgw_usage_fail(u, "the provider sent an exception");
    }

    if (msg->kind != NGX_HTTP_LLMGW_EVENTSTREAM_EVENT
        || msg->event_type.len != event->len
        || ngx_strncmp(msg->event_type.data, event->data, event->len) != 0)
    {
        return NGX_OK;
    }

    ngx_http_llmgw_usage_json_reset(&u->json);
    ngx_http_llmgw_usage_json_reset(&u->inner);

    if (ngx_http_llmgw_usage_json(u, &u->json, msg->payload.data,
                                  msg->payload.data + msg->payload.len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_llmgw_usage_json_end(&u->json);

    if (rc == NGX_ERROR) {
        return ngx_http_llmgw_usage_fail(u, "truncated JSON in an event");
    }

    if (rc == NGX_DECLINED) {
        return NGX_OK;
    }

    if (ngx_http_llmgw_usage_commit(u, &u->json) != NGX_OK) {
        return NGX_ERROR;
    }

    if (u->inner.nodes != NULL) {
        return ngx_http_llmgw_usage_commit(u, &u->inner);
    }

    return NGX_OK;
}


static void
ngx_http_llmgw_usage_cleanup(void *data)
{
    ngx_pool_t  *pool = data;

    ngx_destroy_pool(pool);
}


/* the usage is missing: nothing half-read is reported */

static ngx_int_t
ngx_http_llmgw_usage_fail(ngx_http_llmgw_usage_t *u, const char *err)
{
    u->err = err;
    ngx_memzero(&u->result, sizeof(ngx_http_llmgw_usage_result_t));

    return NGX_ERROR;
}
