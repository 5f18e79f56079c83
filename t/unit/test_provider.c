/* llmgw-unit-srcs: src/ngx_http_llmgw_provider.c */
/* llmgw-unit-libs: -ljansson */

/*
 * The provider adapters' pure parts: every documented endpoint of each
 * provider classified into its API kind, and each one turned unknown by a
 * case variant, a trailing '/', "%20" or "%09", an encoded letter, extra
 * segments or a missing segment; the path guard
 * (each ambiguous form refused, Bedrock's ARN segment the one place "%2F"
 * passes, "%3A" kept); the query guard and the credential filter; the
 * kind names known to configuration.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <ctype.h>
#include <stdio.h>

#include "ngx_http_llmgw_unit.h"
#include "ngx_http_llmgw_provider.h"


#define NGX_HTTP_LLMGW_TEST_PATH_MAX   512


/* a documented form: suffix after a prefix, its kind, flags */

typedef struct {
    const char                *path;
    const char                *kind;
    ngx_uint_t                 flags;
} ngx_http_llmgw_test_api_t;


/* the path ends with an id, not a literal */
#define NGX_HTTP_LLMGW_TEST_ID_LAST    1

/*
 * its last literal segment is an id in another form of the same kind
 * ("/video/generations/jobs", "/video/generations/{id}"): a variant of that
 * segment stays of that kind
 */
#define NGX_HTTP_LLMGW_TEST_ID_TOO     2

/*
 * without its first segment it is another documented form
 * ("/chat/completions", "/completions"; "/upload/v1beta/files",
 * "/v1beta/files"): the last segment is left out
 */
#define NGX_HTTP_LLMGW_TEST_DROP_LAST  4


typedef struct {
    const char                *provider;  /* NULL: no provider */
    const char                *path;
    ngx_int_t                  rc;
} ngx_http_llmgw_test_path_t;


static ngx_http_llmgw_provider_t *ngx_http_llmgw_test_provider(
    const char *name);
static const char *ngx_http_llmgw_test_kind(ngx_http_llmgw_provider_t *pv,
    u_char *p, size_t len);
static void ngx_http_llmgw_test_one(ngx_http_llmgw_provider_t *pv,
    const char *prefix, ngx_http_llmgw_test_api_t *t);
static void ngx_http_llmgw_test_unknown(ngx_http_llmgw_provider_t *pv,
    u_char *p, size_t len, const char *path, const char *what);
static void ngx_http_llmgw_test_table(const char *provider,
    const char *prefix, ngx_http_llmgw_test_api_t *t);
static void ngx_http_llmgw_test_kinds(void);
static void ngx_http_llmgw_test_missing(void);
static void ngx_http_llmgw_test_check_path(void);
static void ngx_http_llmgw_test_check_query(void);
static void ngx_http_llmgw_test_query(ngx_pool_t *pool);
static void ngx_http_llmgw_test_known(void);
static void ngx_http_llmgw_test_model(ngx_pool_t *pool);


#define NGX_HTTP_LLMGW_TEST_ARN                                              \
    "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile"     \
    "%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0"

#define NGX_HTTP_LLMGW_TEST_ASYNC_ARN                                        \
    "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aasync-invoke"          \
    "%2Fabc123def"

#define NGX_HTTP_LLMGW_TEST_GUARDRAIL_ARN                                    \
    "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aguardrail%2Fgr1abc"


/* Azure OpenAI's deployment-based forms, after "/openai" */

static ngx_http_llmgw_test_api_t  ngx_http_llmgw_test_azure[] = {
    { "/deployments/gpt-4o/chat/completions", "chat", 0 },
    { "/deployments/gpt-4o/extensions/chat/completions", "chat", 0 },
    { "/deployments/instruct/completions", "completions", 0 },
    { "/deployments/emb-3/embeddings", "embeddings", 0 },
    { "/deployments/dalle3/images/generations", "images", 0 },
    { "/deployments/gpt-image-1/images/edits", "images", 0 },
    { "/deployments/whisper/audio/transcriptions", "audio.transcription", 0 },
    { "/deployments/whisper/audio/translations", "audio.translation", 0 },
    { "/deployments/tts-hd/audio/speech", "audio.speech", 0 },
    { NULL, NULL, 0 }
};


/* Azure's v1 API only, after "/openai/v1" */

static ngx_http_llmgw_test_api_t  ngx_http_llmgw_test_azure_v1[] = {
    { "/video/generations/jobs", "video.generation",
      NGX_HTTP_LLMGW_TEST_ID_TOO },
    { "/video/generations/jobs/task_01jwcet0eje", "video.generation", 1 },
    { "/video/generations/gen_01jwcet0eje", "video.generation", 1 },
    { "/video/generations/gen_01jwcet0eje/content/video",
      "video.generation", 0 },
    { "/video/generations/gen_01jwcet0eje/content/thumbnail",
      "video.generation", 0 },
    { NULL, NULL, 0 }
};


/* OpenAI's resources, after "/v1", "/openai/v1" and "/openai" (Azure) */

static ngx_http_llmgw_test_api_t  ngx_http_llmgw_test_resources[] = {
    { "/responses", "responses", 0 },
    { "/responses/resp_67ccd2bed1ec8190", "responses", 1 },
    { "/responses/resp_67ccd2bed1ec8190/input_items", "responses", 0 },
    { "/responses/resp_67ccd2bed1ec8190/cancel", "responses", 0 },
    { "/batches", "batch", 0 },
    { "/batches/batch_abc123", "batch", 1 },
    { "/batches/batch_abc123/cancel", "batch", 0 },
    { "/files", "files", 0 },
    { "/files/file-abc123", "files", 1 },
    { "/files/file-abc123/content", "files", 0 },
    { "/models", "models", 0 },
    { "/models/gpt-4o-2024-08-06", "models", 1 },
    { NULL, NULL, 0 }
};


/* OpenAI's operations, after "/v1" (OpenAI) or "/openai/v1" (Azure) */

static ngx_http_llmgw_test_api_t  ngx_http_llmgw_test_openai[] = {
    { "/chat/completions", "chat", NGX_HTTP_LLMGW_TEST_DROP_LAST },
    { "/chat/completions/chatcmpl-abc123", "chat", 1 },
    { "/chat/completions/chatcmpl-abc123/messages", "chat", 0 },
    { "/completions", "completions", 0 },
    { "/embeddings", "embeddings", 0 },
    { "/images/generations", "images", 0 },
    { "/images/edits", "images", 0 },
    { "/images/variations", "images", 0 },
    { "/audio/transcriptions", "audio.transcription", 0 },
    { "/audio/translations", "audio.translation", 0 },
    { "/audio/speech", "audio.speech", 0 },
    { "/videos", "video.generation", 0 },
    { "/videos/video_123", "video.generation", 1 },
    { "/videos/video_123/content", "video.generation", 0 },
    { "/videos/video_123/remix", "video.generation", 0 },
    { NULL, NULL, 0 }
};


static ngx_http_llmgw_test_api_t  ngx_http_llmgw_test_bedrock[] = {
    { "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke",
      "invoke", 0 },
    { "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0"
      "/invoke-with-response-stream", "invoke", 0 },
    { "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
      "converse", 0 },
    { "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream",
      "converse", 0 },
    { "/model/anthropic.claude-v2:1/converse", "converse", 0 },
    { "/model/" NGX_HTTP_LLMGW_TEST_ARN "/converse", "converse", 0 },
    { "/model/" NGX_HTTP_LLMGW_TEST_ARN "/invoke", "invoke", 0 },
    { "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/count-tokens",
      "count-tokens", 0 },
    { "/model/amazon.nova-sonic-v1%3A0/invoke-with-bidirectional-stream",
      "invoke-bidirectional", 0 },
    { "/async-invoke", "async-invoke", 0 },
    { "/async-invoke/" NGX_HTTP_LLMGW_TEST_ASYNC_ARN, "async-invoke", 1 },
    { "/guardrail/gr1abc/version/1/apply", "apply-guardrail", 0 },
    { "/guardrail/" NGX_HTTP_LLMGW_TEST_GUARDRAIL_ARN "/version/DRAFT/apply",
      "apply-guardrail", 0 },
    { NULL, NULL, 0 }
};


/* after "/v1beta", "/v1" or "/v1alpha" */

static ngx_http_llmgw_test_api_t  ngx_http_llmgw_test_gemini[] = {
    { "/models/gemini-2.0-flash:generateContent", "generateContent", 0 },
    { "/models/gemini-2.0-flash:streamGenerateContent",
      "generateContent", 0 },
    { "/tunedModels/my-model-1:generateContent", "generateContent", 0 },
    { "/tunedModels/my-model-1:streamGenerateContent",
      "generateContent", 0 },
    { "/models/gemini-embedding-001:embedContent", "embedContent", 0 },
    { "/models/gemini-embedding-001:batchEmbedContents",
      "embedContent", 0 },
    { "/models/gemini-2.0-flash:countTokens", "countTokens", 0 },
    { "/models/imagen-3.0-generate-002:predict", "predict", 0 },
    { "/models/veo-3.0-generate-preview:predictLongRunning",
      "predictLongRunning", 0 },
    { "/models/gemini-2.5-flash:batchGenerateContent", "batch", 0 },
    { "/models/gemini-embedding-001:asyncBatchEmbedContent", "batch", 0 },
    { "/batches", "batch", 0 },
    { "/batches/b123abc", "batch", 1 },
    { "/batches/b123abc:cancel", "batch", 0 },
    { "/batches/b123abc:updateGenerateContentBatch", "batch", 0 },
    { "/batches/b123abc:updateEmbedContentBatch", "batch", 0 },
    { "/models/veo-3.0-generate-preview/operations", "operations", 0 },
    { "/models/veo-3.0-generate-preview/operations/op123abc",
      "operations", 1 },
    { "/models", "models", 0 },
    { "/models/gemini-2.0-flash", "models", 1 },
    { "/files", "files", 0 },
    { "/files/abc-123", "files", 1 },
    { "/files/abc-123:download", "files", 0 },
    { "/cachedContents", "cachedContents", 0 },
    { "/cachedContents/cc123abc", "cachedContents", 1 },
    { NULL, NULL, 0 }
};


static ngx_http_llmgw_test_api_t  ngx_http_llmgw_test_gemini_media[] = {
    { "/upload/v1beta/files", "files", NGX_HTTP_LLMGW_TEST_DROP_LAST },
    { "/download/v1beta/files/abc-123:download", "files",
      NGX_HTTP_LLMGW_TEST_DROP_LAST },
    { NULL, NULL, 0 }
};


/* a segment left out: unknown, not the form it resembles */

static ngx_http_llmgw_test_path_t  ngx_http_llmgw_test_missing_paths[] = {
    { "azure_openai", "/openai/deployments/gpt-4o/chat", 0 },
    { "azure_openai", "/openai/deployments/chat/completions", 1 },
    { "azure_openai", "/openai/deployments/gpt-4o/audio", 0 },
    { "azure_openai", "/openai/deployments/gpt-4o/speech", 0 },
    { "azure_openai", "/openai/deployments/audio/speech", 0 },
    { "azure_openai", "/openai/deployments/gpt-4o/completions/x", 0 },
    { "azure_openai", "/openai/v1/audio", 0 },
    { "azure_openai", "/openai/v1/video/generations", 0 },
    { "azure_openai", "/openai/v1/video/generations/jobs/x/y", 0 },
    { "azure_openai", "/openai/audio/speech", 0 },
    { "azure_openai", "/openai", 0 },
    { "azure_openai", "/", 0 },
    { "azure_openai", "/deployments/gpt-4o/chat/completions", 0 },
    { "azure_openai", "/v1/chat/completions", 0 },
    { "openai", "/v1/audio", 0 },
    { "openai", "/v1/images", 0 },
    { "openai", "/v1/chat", 0 },
    { "openai", "/v1", 0 },
    { "openai", "/chat/completions", 0 },
    { "openai", "/openai/v1/chat/completions", 0 },
    { "openai", "/v2/chat/completions", 0 },
    { "bedrock", "/model/converse", 0 },
    { "bedrock", "/model//converse", 0 },
    { "bedrock", "/model/m", 0 },
    { "bedrock", "/model", 0 },
    { "bedrock", "/guardrail/g/apply", 0 },
    { "bedrock", "/guardrail/g/version/apply", 0 },
    { "bedrock", "/guardrail/version/1/apply", 0 },
    { "bedrock", "/async-invoke/", 0 },
    { "bedrock", "/v1/chat/completions", 0 },
    { "gemini", "/v1beta/models:generateContent", 0 },
    { "gemini", "/v1beta/models/:generateContent", 0 },
    { "gemini", "/v1beta/gemini-2.0-flash:generateContent", 0 },
    { "gemini", "/models/gemini-2.0-flash:generateContent", 0 },
    { "gemini", "/v2/models/gemini-2.0-flash:generateContent", 0 },
    { "gemini", "/v1beta/models/veo:", 0 },
    { "gemini", "/v1beta/models/veo", 1 },
    { "gemini", "/v1beta/models/veo/operations/", 0 },
    { "gemini", "/v1beta/batches/:cancel", 0 },
    { "gemini", "/upload/v1/files", 0 },
    { "gemini", "/upload/v1beta", 0 },
    { "gemini", "/download/v1beta/files/abc", 0 },
    { "gemini", "/v1beta/models/m%3ApredictLongRunning", 0 },
    { "gemini", "/v1beta/models/m%3apredictLongRunning", 0 },
    { NULL, NULL, 0 }
};


static ngx_http_llmgw_test_path_t  ngx_http_llmgw_test_paths[] = {

    /* forwarded */
    { NULL, "/", NGX_OK },
    { NULL, "/a", NGX_OK },
    { NULL, "/a/", NGX_OK },
    { NULL, "/a/b", NGX_OK },
    { NULL, "/a%20b", NGX_OK },
    { NULL, "/a%25b", NGX_OK },
    { NULL, "/a%3Ab", NGX_OK },
    { NULL, "/a..b/.c/d./...", NGX_OK },
    { NULL, "/a:b@c!$&'()*+,=~-_", NGX_OK },
    { "bedrock", "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0"
                 "/converse", NGX_OK },
    { "azure_openai", "/model/anthropic.claude-v1%3A0/converse", NGX_OK },
    { "gemini", "/v1beta/models/gemini-2.0-flash:generateContent",
      NGX_OK },

    /* refused: path parameters */
    { NULL, "/a;x", NGX_DECLINED },
    { NULL, "/a/b;x/c", NGX_DECLINED },
    { NULL, "/;", NGX_DECLINED },
    { "azure_openai", "/openai/deployments/t/audio/speech;x", NGX_DECLINED },

    /* refused: encoded slash, dot, backslash, NUL */
    { NULL, "/a%2Fb", NGX_DECLINED },
    { NULL, "/a%2fb", NGX_DECLINED },
    { NULL, "/a/%2F..", NGX_DECLINED },
    { NULL, "/a%2F..%2Fb", NGX_DECLINED },
    { NULL, "/%2E%2E/x", NGX_DECLINED },
    { NULL, "/a/%2e", NGX_DECLINED },
    { NULL, "/a/x%2Ey", NGX_DECLINED },
    { NULL, "/a%5Cb", NGX_DECLINED },
    { NULL, "/a%5cb", NGX_DECLINED },
    { NULL, "/a%00", NGX_DECLINED },
    { "azure_openai", "/openai/deployments/t/audio/speech%2F",
      NGX_DECLINED },
    { "azure_openai", "/openai/deployments/t/audio/speech%2F..",
      NGX_DECLINED },
    { "openai", "/v1/audio%2Fspeech", NGX_DECLINED },

    /* refused: empty and dot segments */
    { NULL, "//", NGX_DECLINED },
    { NULL, "//a", NGX_DECLINED },
    { NULL, "/a//b", NGX_DECLINED },
    { NULL, "/a//", NGX_DECLINED },
    { NULL, "/.", NGX_DECLINED },
    { NULL, "/..", NGX_DECLINED },
    { NULL, "/a/./b", NGX_DECLINED },
    { NULL, "/a/../b", NGX_DECLINED },
    { NULL, "/a/.", NGX_DECLINED },
    { NULL, "/a/..", NGX_DECLINED },
    { NULL, "/./", NGX_DECLINED },
    { "azure_openai", "/openai/deployments//audio/speech", NGX_DECLINED },

    /* refused: bytes with no place in a request line, or read apart */
    { NULL, "", NGX_DECLINED },
    { NULL, "a/b", NGX_DECLINED },
    { NULL, "/a\\b", NGX_DECLINED },
    { NULL, "/a#b", NGX_DECLINED },
    { NULL, "/a b", NGX_DECLINED },
    { NULL, "/a\tb", NGX_DECLINED },
    { NULL, "/a\x7f", NGX_DECLINED },
    { NULL, "/a\x80", NGX_DECLINED },
    { NULL, "/a\xff", NGX_DECLINED },
    { NULL, "/a%", NGX_DECLINED },
    { NULL, "/a%2", NGX_DECLINED },
    { NULL, "/a%zz", NGX_DECLINED },
    { NULL, "/a%%32F", NGX_DECLINED },

    /* Gemini: an encoded ':' could be read as the method separator */
    { "gemini", "/v1beta/models/m%3ApredictLongRunning", NGX_DECLINED },
    { "gemini", "/v1beta/models/m%3apredictLongRunning", NGX_DECLINED },
    { "bedrock", "/v1beta/models/m%3ApredictLongRunning", NGX_OK },

    /* Bedrock: an ARN segment may carry "%2F", nowhere else */
    { "bedrock", "/model/" NGX_HTTP_LLMGW_TEST_ARN "/converse", NGX_OK },
    { "bedrock", "/model/" NGX_HTTP_LLMGW_TEST_ARN, NGX_OK },
    { "bedrock", "/model/arn%3aaws%3abedrock%3aus-east-1%3a1%3a"
                 "inference-profile%2fus.x/invoke", NGX_OK },
    { "bedrock", "/model/ARN%3Aaws%3Ab%2Fc/invoke", NGX_OK },
    { "bedrock", "/async-invoke/" NGX_HTTP_LLMGW_TEST_ASYNC_ARN, NGX_OK },
    { "bedrock", "/guardrail/" NGX_HTTP_LLMGW_TEST_GUARDRAIL_ARN
                 "/version/1/apply", NGX_OK },
    { "azure_openai", "/model/" NGX_HTTP_LLMGW_TEST_ARN "/converse",
      NGX_DECLINED },
    { "gemini", "/model/" NGX_HTTP_LLMGW_TEST_ARN "/converse",
      NGX_DECLINED },
    { "openai", "/model/" NGX_HTTP_LLMGW_TEST_ARN "/converse",
      NGX_DECLINED },
    { NULL, "/model/" NGX_HTTP_LLMGW_TEST_ARN "/converse", NGX_DECLINED },
    { "bedrock", "/model/x%2Farn%3Aaws/converse", NGX_DECLINED },
    { "bedrock", "/model/arn%2Fx/converse", NGX_DECLINED },
    { "bedrock", "/model/arn%3Ax/converse%2Fx", NGX_DECLINED },
    { "bedrock", "/model/arn%3Ax/y%2Fz", NGX_DECLINED },
    { "bedrock", "/x/model/arn%3Ax%2Fy/converse", NGX_DECLINED },
    { "bedrock", "/modelx/arn%3Ax%2Fy/converse", NGX_DECLINED },
    { "bedrock", "/model/arn%3Ax%2F..%2F..%2Fy/converse", NGX_DECLINED },
    { "bedrock", "/model/arn%3Ax%2F.%2Fy/converse", NGX_DECLINED },
    { "bedrock", "/model/arn%3Ax%2F..", NGX_DECLINED },
    { "bedrock", "/model/arn%3Ax%2F%2Fy/converse", NGX_DECLINED },
    { "bedrock", "/model/arn%3Ax%2F/converse", NGX_DECLINED },
    { "bedrock", "/model/arn%3Ax%2F", NGX_DECLINED },
    { "bedrock", "/model/arn%3Ax%2E%2Fy/converse", NGX_DECLINED },
    { "bedrock", "/model/arn%3Ax%2F;y/converse", NGX_DECLINED },
    { "bedrock", "/model/arn%3A/../converse", NGX_DECLINED },

    { NULL, NULL, 0 }
};


static ngx_http_llmgw_provider_t *
ngx_http_llmgw_test_provider(const char *name)
{
    ngx_str_t  s;

    if (name == NULL) {
        return NULL;
    }

    s.data = (u_char *) name;
    s.len = ngx_strlen(name);

    return ngx_http_llmgw_provider_find(&s);
}


/* the kind as a C string for messages: "" when unknown */

static const char *
ngx_http_llmgw_test_kind(ngx_http_llmgw_provider_t *pv, u_char *p,
    size_t len)
{
    ngx_int_t    rc;
    ngx_str_t    kind;
    static char  buf[64];

    rc = ngx_http_llmgw_provider_api(pv, p, len, &kind);

    if (rc != NGX_OK) {
        if (kind.len != 0 || rc != NGX_DECLINED) {
            return "(bad result)";
        }

        return "";
    }

    if (kind.len == 0 || kind.len >= sizeof(buf)) {
        return "(bad kind)";
    }

    ngx_memcpy(buf, kind.data, kind.len);
    buf[kind.len] = '\0';

    return buf;
}


static void
ngx_http_llmgw_test_unknown(ngx_http_llmgw_provider_t *pv, u_char *p,
    size_t len, const char *path, const char *what)
{
    const char  *got;

    got = ngx_http_llmgw_test_kind(pv, p, len);

    ngx_http_llmgw_unit_check(got[0] == '\0',
                              "%s: %s of %s is unknown (got \"%s\")",
                              (char *) pv->name.data, what, path, got);
}


/* one documented form, then each variant that must be unknown */

static void
ngx_http_llmgw_test_one(ngx_http_llmgw_provider_t *pv, const char *prefix,
    ngx_http_llmgw_test_api_t *t)
{
    u_char       *q;
    size_t        len, n, i, at, last, prev;
    const char   *got;
    u_char        path[NGX_HTTP_LLMGW_TEST_PATH_MAX];
    u_char        v[NGX_HTTP_LLMGW_TEST_PATH_MAX + 16];

    len = ngx_snprintf(path, sizeof(path) - 1, "%s%s", prefix, t->path)
          - path;
    path[len] = '\0';

    got = ngx_http_llmgw_test_kind(pv, path, len);

    ngx_http_llmgw_unit_check(strcmp(got, t->kind) == 0,
                              "%s: %s is \"%s\" (got \"%s\")",
                              (char *) pv->name.data, path, t->kind, got);

    ngx_http_llmgw_unit_check(
        ngx_http_llmgw_provider_check_path(pv, path, len) == NGX_OK,
        "%s: %s is forwarded", (char *) pv->name.data, path);

    /*
     * a letter of a literal part: the last one of the path, or when the
     * path ends with an id, the first one of the segment before it
     */

    at = len;

    if (t->flags & NGX_HTTP_LLMGW_TEST_ID_LAST) {
        last = len;
        prev = 0;

        for (i = 0; i < len; i++) {
            if (path[i] == '/') {
                prev = last == len ? 0 : last;
                last = i;
            }
        }

        for (i = prev + 1; i < last; i++) {
            if (islower(path[i])) {
                at = i;
                break;
            }
        }

    } else {
        for (i = len; i > 0; i--) {
            if (islower(path[i - 1])) {
                at = i - 1;
                break;
            }
        }
    }

    ngx_http_llmgw_unit_check(at < len, "%s: a literal letter in %s",
                              (char *) pv->name.data, path);

    if (at >= len) {
        return;
    }

    ngx_memcpy(v, path, len);
    v[at] = (u_char) toupper(v[at]);

    if (t->flags & NGX_HTTP_LLMGW_TEST_ID_TOO) {
        got = ngx_http_llmgw_test_kind(pv, v, len);

        ngx_http_llmgw_unit_check(strcmp(got, t->kind) == 0,
                                  "%s: case variant of %s is an id of "
                                  "\"%s\" (got \"%s\")",
                                  (char *) pv->name.data, path, t->kind,
                                  got);

    } else {
        ngx_http_llmgw_test_unknown(pv, v, len, (char *) path,
                                    "case variant");

        n = ngx_sprintf(v, "%*s%%%02Xd%s", at, path, (int) path[at],
                        path + at + 1) - v;
        ngx_http_llmgw_test_unknown(pv, v, n, (char *) path,
                                    "encoded letter");
    }

    n = ngx_sprintf(v, "%s/", path) - v;
    ngx_http_llmgw_test_unknown(pv, v, n, (char *) path, "trailing slash");

    n = ngx_sprintf(v, "%s%%20", path) - v;
    ngx_http_llmgw_test_unknown(pv, v, n, (char *) path, "trailing %20");

    n = ngx_sprintf(v, "%s%%09", path) - v;
    ngx_http_llmgw_test_unknown(pv, v, n, (char *) path, "trailing %09");

    n = ngx_sprintf(v, "%s/x/y", path) - v;
    ngx_http_llmgw_test_unknown(pv, v, n, (char *) path, "extra segments");

    /*
     * a segment left out: the first one after the prefix, or the last one
     * when the rest is another documented form
     */

    if (t->flags & NGX_HTTP_LLMGW_TEST_DROP_LAST) {
        q = (u_char *) ngx_strlchr(path + ngx_strlen(prefix) + 1,
                                   path + len, '/');
        n = ngx_sprintf(v, "%*s", q ? (size_t) (q - path) : len, path) - v;

    } else {
        q = (u_char *) ngx_strlchr(path + ngx_strlen(prefix) + 1,
                                   path + len, '/');
        n = ngx_sprintf(v, "%s%s", prefix, q ? q : (u_char *) "/") - v;
    }

    ngx_http_llmgw_test_unknown(pv, v, n, (char *) path, "missing segment");
}


static void
ngx_http_llmgw_test_table(const char *provider, const char *prefix,
    ngx_http_llmgw_test_api_t *t)
{
    ngx_http_llmgw_provider_t  *pv;

    pv = ngx_http_llmgw_test_provider(provider);

    if (!NGX_HTTP_LLMGW_CHECK(pv != NULL, "provider found")) {
        return;
    }

    for ( /* void */ ; t->path; t++) {
        ngx_http_llmgw_test_one(pv, prefix, t);
    }
}


static void
ngx_http_llmgw_test_kinds(void)
{
    ngx_http_llmgw_test_table("azure_openai", "/openai",
                              ngx_http_llmgw_test_azure);
    ngx_http_llmgw_test_table("azure_openai", "/openai",
                              ngx_http_llmgw_test_resources);
    ngx_http_llmgw_test_table("azure_openai", "/openai/v1",
                              ngx_http_llmgw_test_openai);
    ngx_http_llmgw_test_table("azure_openai", "/openai/v1",
                              ngx_http_llmgw_test_resources);
    ngx_http_llmgw_test_table("azure_openai", "/openai/v1",
                              ngx_http_llmgw_test_azure_v1);
    ngx_http_llmgw_test_table("openai", "/v1", ngx_http_llmgw_test_openai);
    ngx_http_llmgw_test_table("openai", "/v1", ngx_http_llmgw_test_resources);
    ngx_http_llmgw_test_table("bedrock", "", ngx_http_llmgw_test_bedrock);
    ngx_http_llmgw_test_table("gemini", "/v1beta",
                              ngx_http_llmgw_test_gemini);
    ngx_http_llmgw_test_table("gemini", "/v1", ngx_http_llmgw_test_gemini);
    ngx_http_llmgw_test_table("gemini", "/v1alpha",
                              ngx_http_llmgw_test_gemini);
    ngx_http_llmgw_test_table("gemini", "",
                              ngx_http_llmgw_test_gemini_media);
}


static void
ngx_http_llmgw_test_missing(void)
{
    const char                  *got;
    ngx_http_llmgw_provider_t   *pv;
    ngx_http_llmgw_test_path_t  *t;

    for (t = ngx_http_llmgw_test_missing_paths; t->path; t++) {
        pv = ngx_http_llmgw_test_provider(t->provider);

        got = ngx_http_llmgw_test_kind(pv, (u_char *) t->path,
                                       ngx_strlen(t->path));

        if (t->rc) {
            /* a form that looks like a missing segment but is not */
            ngx_http_llmgw_unit_check(got[0] != '\0',
                                      "%s: %s is known (\"%s\")",
                                      t->provider, t->path, got);
            continue;
        }

        ngx_http_llmgw_unit_check(got[0] == '\0',
                                  "%s: %s is unknown (got \"%s\")",
                                  t->provider, t->path, got);
    }

    /* one provider's endpoint under another provider */

    pv = ngx_http_llmgw_test_provider("bedrock");
    got = ngx_http_llmgw_test_kind(pv,
              (u_char *) "/openai/deployments/d/chat/completions",
              sizeof("/openai/deployments/d/chat/completions") - 1);
    NGX_HTTP_LLMGW_CHECK(got[0] == '\0', "an Azure path is no Bedrock API");

    pv = ngx_http_llmgw_test_provider("openai");
    got = ngx_http_llmgw_test_kind(pv,
              (u_char *) "/openai/v1/audio/speech",
              sizeof("/openai/v1/audio/speech") - 1);
    NGX_HTTP_LLMGW_CHECK(got[0] == '\0',
                         "Azure's v1 prefix is not OpenAI's");

    pv = ngx_http_llmgw_test_provider("azure_openai");
    got = ngx_http_llmgw_test_kind(pv,
              (u_char *) "/openai/v1/video/generations/jobs",
              sizeof("/openai/v1/video/generations/jobs") - 1);
    NGX_HTTP_LLMGW_CHECK(strcmp(got, "video.generation") == 0,
                         "Azure's video jobs are video.generation");

    pv = ngx_http_llmgw_test_provider("openai");
    got = ngx_http_llmgw_test_kind(pv,
              (u_char *) "/v1/video/generations/jobs",
              sizeof("/v1/video/generations/jobs") - 1);
    NGX_HTTP_LLMGW_CHECK(got[0] == '\0',
                         "Azure's video jobs are not an OpenAI form");
}


static void
ngx_http_llmgw_test_check_path(void)
{
    size_t                       len;
    ngx_int_t                    rc;
    ngx_http_llmgw_provider_t   *pv;
    ngx_http_llmgw_test_path_t  *t;
    u_char                       nul[] = "/a\0b";

    for (t = ngx_http_llmgw_test_paths; t->path; t++) {
        pv = ngx_http_llmgw_test_provider(t->provider);
        len = ngx_strlen(t->path);

        rc = ngx_http_llmgw_provider_check_path(pv, (u_char *) t->path,
                                                len);

        ngx_http_llmgw_unit_check(rc == t->rc, "check_path %s \"%s\" %s",
                                  t->provider ? t->provider : "-",
                                  t->path,
                                  t->rc == NGX_OK ? "forwarded" : "refused");
    }

    rc = ngx_http_llmgw_provider_check_path(NULL, nul, sizeof(nul) - 1);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_DECLINED, "a raw NUL is refused");

    /* the ARN segment classifies by its place */

    pv = ngx_http_llmgw_test_provider("bedrock");

    NGX_HTTP_LLMGW_CHECK(
        strcmp(ngx_http_llmgw_test_kind(pv, (u_char *) "/model/"
                   NGX_HTTP_LLMGW_TEST_ARN "/converse-stream",
                   sizeof("/model/" NGX_HTTP_LLMGW_TEST_ARN
                          "/converse-stream") - 1),
               "converse") == 0,
        "an inference-profile ARN's converse-stream is converse");
}


static void
ngx_http_llmgw_test_check_query(void)
{
    ngx_uint_t  i;
    u_char      nul[] = "a=\0b";

    static const char  *ok[] = {
        "", "a=b", "a=b&c", "api-version=2024-10-21&alt=sse", "a=%20b",
        "a=b/c?d:e@f", "&&", NULL
    };

    static const char  *bad[] = {
        "a b", "a#b", "a=\x01", "a=\x7f", "a=\x80", "a=b\r\nX: y", "\t",
        NULL
    };

    for (i = 0; ok[i]; i++) {
        ngx_http_llmgw_unit_check(
            ngx_http_llmgw_provider_check_query((u_char *) ok[i],
                                                ngx_strlen(ok[i]))
            == NGX_OK, "query \"%s\" forwarded", ok[i]);
    }

    for (i = 0; bad[i]; i++) {
        ngx_http_llmgw_unit_check(
            ngx_http_llmgw_provider_check_query((u_char *) bad[i],
                                                ngx_strlen(bad[i]))
            == NGX_DECLINED, "query %u refused", (unsigned) i);
    }

    NGX_HTTP_LLMGW_CHECK(ngx_http_llmgw_provider_check_query(nul,
                                                             sizeof(nul) - 1)
                         == NGX_DECLINED, "a raw NUL in the query refused");
}


static void
ngx_http_llmgw_test_query(ngx_pool_t *pool)
{
    ngx_int_t                   rc;
    ngx_str_t                   in, out;
    ngx_uint_t                  i, ok;
    ngx_http_llmgw_provider_t  *pv;
    u_char                      longname[400];

    static const char  *cases[][3] = {
        { "azure_openai", "api-version=1&api-key=x", "api-version=1" },
        { "azure_openai", "API-KEY=x&a=1", "a=1" },
        { "azure_openai", "api%2Dkey=x&a=1", "a=1" },
        { "azure_openai", "api-key", "" },
        { "azure_openai", "a=1&&b=2", "a=1&b=2" },
        { "azure_openai", "&a=1&", "a=1" },
        { "azure_openai", "key=1&access_token=2", "key=1&access_token=2" },
        { "gemini", "key=x&alt=sse", "alt=sse" },
        { "gemini", "alt=sse&access_token=t&Key=k", "alt=sse" },
        { "gemini", "keyx=1&xkey=2", "keyx=1&xkey=2" },
        { "gemini", "%6Bey=1", "" },
        { "bedrock", "X-Amz-Signature=1&x=2", "x=2" },
        { "bedrock", "x-amz-date=1&X-AMZ-Credential=2&y", "y" },
        { "bedrock", "x-am=1", "x-am=1" },
        { "openai", "api-key=1&key=2", "api-key=1&key=2" },
        { NULL, NULL, NULL }
    };

    for (i = 0; cases[i][0]; i++) {
        pv = ngx_http_llmgw_test_provider(cases[i][0]);

        in.data = (u_char *) cases[i][1];
        in.len = ngx_strlen(cases[i][1]);

        rc = ngx_http_llmgw_provider_query(pool, pv, &in, &out);

        ok = (rc == NGX_OK
              && out.len == ngx_strlen(cases[i][2])
              && ngx_strncmp(out.data, cases[i][2], out.len) == 0);

        ngx_http_llmgw_unit_check(ok, "%s: query \"%s\" becomes \"%s\"",
                                  cases[i][0], cases[i][1], cases[i][2]);
    }

    /* nothing removed: the input itself */

    pv = ngx_http_llmgw_test_provider("gemini");
    ngx_str_set(&in, "alt=sse&x=1");
    rc = ngx_http_llmgw_provider_query(pool, pv, &in, &out);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && out.data == in.data
                         && out.len == in.len,
                         "an unchanged query is not copied");

    /* a name longer than what is decoded to compare it */

    ngx_memset(longname, 'a', sizeof(longname));
    longname[300] = '=';
    in.data = longname;
    in.len = 302;
    rc = ngx_http_llmgw_provider_query(pool, pv, &in, &out);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && out.len == in.len,
                         "a long parameter name is kept");

    pv = ngx_http_llmgw_test_provider("bedrock");
    ngx_memcpy(longname, "x-amz-", 6);
    rc = ngx_http_llmgw_provider_query(pool, pv, &in, &out);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK && out.len == 0,
                         "a long x-amz- parameter is removed");
}


static void
ngx_http_llmgw_test_query_redact(ngx_pool_t *pool)
{
    ngx_int_t   rc;
    ngx_str_t   in, out;
    ngx_uint_t  i, ok;

    static const char  *cases[][2] = {
        { "api-version=1&api-key=x", "api-version=1&api-key=REDACTED" },
        { "API-KEY=secret&a=1", "API-KEY=REDACTED&a=1" },
        { "api%2Dkey=x", "api%2Dkey=REDACTED" },
        { "key=k&access_token=t&alt=sse",
          "key=REDACTED&access_token=REDACTED&alt=sse" },
        { "X-Amz-Signature=1&x=2&x-amz-credential=3",
          "X-Amz-Signature=REDACTED&x=2&x-amz-credential=REDACTED" },
        { "key&a=1", "key&a=1" },
        { "key=", "key=REDACTED" },
        { "a=1&&key=2&", "a=1&&key=REDACTED&" },
        { "keyx=1&xkey=2", "keyx=1&xkey=2" },
        { "", "" },
        { NULL, NULL }
    };

    for (i = 0; cases[i][0]; i++) {
        in.data = (u_char *) cases[i][0];
        in.len = ngx_strlen(cases[i][0]);

        rc = ngx_http_llmgw_provider_query_redact(pool, &in, &out);

        ok = (rc == NGX_OK
              && out.len == ngx_strlen(cases[i][1])
              && ngx_strncmp(out.data, cases[i][1], out.len) == 0);

        ngx_http_llmgw_unit_check(ok, "query \"%s\" logged as \"%s\"",
                                  cases[i][0], cases[i][1]);
    }

    /* in and out the same string */

    ngx_str_set(&in, "a=1&key=abcdefgh");
    rc = ngx_http_llmgw_provider_query_redact(pool, &in, &in);
    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK
                         && in.len == sizeof("a=1&key=REDACTED") - 1
                         && ngx_strncmp(in.data, "a=1&key=REDACTED", in.len)
                            == 0,
                         "redacted in place");
}


static void
ngx_http_llmgw_test_known(void)
{
    ngx_uint_t                  i;
    ngx_str_t                   kind;
    ngx_http_llmgw_provider_t  *pv;

    static const char  *cases[][3] = {
        { NULL, "chat", "1" },
        { NULL, "audio.speech", "1" },
        { NULL, "converse", "1" },
        { NULL, "predictLongRunning", "1" },
        { NULL, "bogus", "0" },
        { NULL, "", "0" },
        { NULL, "Chat", "0" },
        { NULL, "chat ", "0" },
        { "azure_openai", "video.generation", "1" },
        { "azure_openai", "audio.transcription", "1" },
        { "azure_openai", "converse", "0" },
        { "openai", "models", "1" },
        { "openai", "audio.translation", "1" },
        { "openai", "generateContent", "0" },
        { "bedrock", "async-invoke", "1" },
        { "bedrock", "apply-guardrail", "1" },
        { "bedrock", "invoke-bidirectional", "1" },
        { "bedrock", "count-tokens", "1" },
        { "bedrock", "chat", "0" },
        { "gemini", "operations", "1" },
        { "gemini", "cachedContents", "1" },
        { "gemini", "files", "1" },
        { "gemini", "chat", "0" },
        { NULL, NULL, NULL }
    };

    static const char  *openai_kinds[] = {
        "chat", "completions", "embeddings", "responses", "images",
        "audio.transcription", "audio.translation", "audio.speech",
        "video.generation", "batch", "files", "models", NULL
    };

    for (i = 0; cases[i][1]; i++) {
        pv = ngx_http_llmgw_test_provider(cases[i][0]);

        kind.data = (u_char *) cases[i][1];
        kind.len = ngx_strlen(cases[i][1]);

        ngx_http_llmgw_unit_check(
            ngx_http_llmgw_provider_api_known(pv, &kind)
            == (ngx_uint_t) (cases[i][2][0] - '0'),
            "api_known %s \"%s\" is %s", cases[i][0] ? cases[i][0] : "-",
            cases[i][1], cases[i][2]);
    }

    for (i = 0; openai_kinds[i]; i++) {
        kind.data = (u_char *) openai_kinds[i];
        kind.len = ngx_strlen(openai_kinds[i]);

        ngx_http_llmgw_unit_check(
            ngx_http_llmgw_provider_api_known(
                ngx_http_llmgw_test_provider("azure_openai"), &kind)
            && ngx_http_llmgw_provider_api_known(
                ngx_http_llmgw_test_provider("openai"), &kind),
            "azure_openai and openai know \"%s\"", openai_kinds[i]);
    }
}


static void
ngx_http_llmgw_test_model(ngx_pool_t *pool)
{
    ngx_int_t                   rc;
    ngx_str_t                   path, model;
    ngx_http_llmgw_provider_t  *pv;

    pv = ngx_http_llmgw_test_provider("bedrock");

    ngx_str_set(&path, "/model/" NGX_HTTP_LLMGW_TEST_ARN "/converse");
    rc = ngx_http_llmgw_provider_model_from_path(pool, pv, &path, &model);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK
        && model.len == sizeof("arn:aws:bedrock:us-east-1:123456789012:"
                               "inference-profile/us.anthropic.claude-3-5-"
                               "sonnet-20240620-v1:0") - 1
        && ngx_strncmp(model.data, "arn:aws:bedrock:us-east-1:123456789012:"
                       "inference-profile/us.anthropic.claude-3-5-"
                       "sonnet-20240620-v1:0", model.len) == 0,
        "the model of an ARN path is the decoded ARN");

    pv = ngx_http_llmgw_test_provider("gemini");

    ngx_str_set(&path, "/v1beta/models/veo-3.0-generate-preview"
                       ":predictLongRunning");
    rc = ngx_http_llmgw_provider_model_from_path(pool, pv, &path, &model);

    NGX_HTTP_LLMGW_CHECK(rc == NGX_OK
        && model.len == sizeof("veo-3.0-generate-preview") - 1
        && ngx_strncmp(model.data, "veo-3.0-generate-preview", model.len)
           == 0,
        "Gemini's model ends at ':'");
}


int
main(void)
{
    ngx_pool_t  *pool;

    if (ngx_http_llmgw_unit_init() != NGX_OK) {
        return 2;
    }

    ngx_http_llmgw_unit_quiet = 1;

    pool = ngx_create_pool(4096, &ngx_http_llmgw_unit_log);

    ngx_http_llmgw_test_kinds();
    ngx_http_llmgw_test_missing();
    ngx_http_llmgw_test_check_path();
    ngx_http_llmgw_test_check_query();
    ngx_http_llmgw_test_query(pool);
    ngx_http_llmgw_test_query_redact(pool);
    ngx_http_llmgw_test_known();
    ngx_http_llmgw_test_model(pool);

    ngx_destroy_pool(pool);
    ngx_http_llmgw_unit_cleanup();

    return ngx_http_llmgw_unit_done();
}
