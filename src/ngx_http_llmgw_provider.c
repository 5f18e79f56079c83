
/*
 * Copyright (C) llmgw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "ngx_http_llmgw_provider.h"


/* how much of a query parameter name is decoded to compare it */
#define NGX_HTTP_LLMGW_QUERY_NAME_MAX  256


static ngx_uint_t ngx_http_llmgw_provider_in_table(ngx_str_t *table,
    u_char *lowcase, size_t len);
static ngx_uint_t ngx_http_llmgw_provider_drop_param(
    ngx_http_llmgw_provider_t *pv, u_char *name, size_t len);
static ngx_uint_t ngx_http_llmgw_provider_credential_param(u_char *name,
    size_t len);
static u_char *ngx_http_llmgw_provider_find_segment(u_char *p, u_char *last,
    ngx_str_t *segment);
static ngx_int_t ngx_http_llmgw_provider_model_valid(ngx_str_t *model);
static ngx_int_t ngx_http_llmgw_provider_hex(u_char c);
static ngx_int_t ngx_http_llmgw_provider_decoded(u_char *p, u_char *last);
static u_char *ngx_http_llmgw_provider_arn(ngx_http_llmgw_provider_t *pv,
    u_char *p, u_char *last);
static ngx_uint_t ngx_http_llmgw_provider_match(ngx_str_t *pattern,
    u_char stop, u_char *p, u_char *last);


static ngx_str_t  ngx_http_llmgw_provider_azure_query[] = {
    ngx_string("api-key"),
    ngx_null_string
};


static ngx_str_t  ngx_http_llmgw_provider_gemini_query[] = {
    ngx_string("key"),
    ngx_string("access_token"),
    ngx_null_string
};


static ngx_str_t  ngx_http_llmgw_provider_no_query[] = {
    ngx_null_string
};

/*
 * The API kinds, from each provider's REST reference.  A pattern follows
 * its set's prefix; '*' is one path segment (a deployment, model id, file
 * or job id).  Several patterns may give one kind; no path matches two
 * patterns of different kinds.
 */

/* Azure OpenAI's deployment-based API (api-version=2024-10-21 and later) */

static ngx_http_llmgw_provider_api_t  ngx_http_llmgw_provider_azure_apis[] = {
    { ngx_string("/deployments/*/chat/completions"), ngx_string("chat") },
    { ngx_string("/deployments/*/extensions/chat/completions"),
      ngx_string("chat") },
    { ngx_string("/deployments/*/completions"), ngx_string("completions") },
    { ngx_string("/deployments/*/embeddings"), ngx_string("embeddings") },
    { ngx_string("/deployments/*/images/generations"), ngx_string("images") },
    { ngx_string("/deployments/*/images/edits"), ngx_string("images") },
    { ngx_string("/deployments/*/audio/transcriptions"),
      ngx_string("audio.transcription") },
    { ngx_string("/deployments/*/audio/translations"),
      ngx_string("audio.translation") },
    { ngx_string("/deployments/*/audio/speech"), ngx_string("audio.speech") },
    { ngx_null_string, ngx_null_string }
};


/* Azure's v1 API only: Sora video generation jobs */

static ngx_http_llmgw_provider_api_t  ngx_http_llmgw_provider_azure_v1_apis[] =
{
    { ngx_string("/video/generations/jobs"), ngx_string("video.generation") },
    { ngx_string("/video/generations/jobs/*"),
      ngx_string("video.generation") },
    { ngx_string("/video/generations/*"), ngx_string("video.generation") },
    { ngx_string("/video/generations/*/content/video"),
      ngx_string("video.generation") },
    { ngx_string("/video/generations/*/content/thumbnail"),
      ngx_string("video.generation") },
    { ngx_null_string, ngx_null_string }
};


/*
 * OpenAI's resources, the same under api.openai.com/v1, Azure's /openai/v1
 * and Azure's /openai (with api-version)
 */

static ngx_http_llmgw_provider_api_t  ngx_http_llmgw_provider_resources[] = {
    { ngx_string("/responses"), ngx_string("responses") },
    { ngx_string("/responses/*"), ngx_string("responses") },
    { ngx_string("/responses/*/input_items"), ngx_string("responses") },
    { ngx_string("/responses/*/cancel"), ngx_string("responses") },
    { ngx_string("/batches"), ngx_string("batch") },
    { ngx_string("/batches/*"), ngx_string("batch") },
    { ngx_string("/batches/*/cancel"), ngx_string("batch") },
    { ngx_string("/files"), ngx_string("files") },
    { ngx_string("/files/*"), ngx_string("files") },
    { ngx_string("/files/*/content"), ngx_string("files") },
    { ngx_string("/models"), ngx_string("models") },
    { ngx_string("/models/*"), ngx_string("models") },
    { ngx_null_string, ngx_null_string }
};


/* OpenAI's API: api.openai.com/v1 and Azure's /openai/v1 */

static ngx_http_llmgw_provider_api_t  ngx_http_llmgw_provider_openai_apis[] = {
    { ngx_string("/chat/completions"), ngx_string("chat") },
    { ngx_string("/chat/completions/*"), ngx_string("chat") },
    { ngx_string("/chat/completions/*/messages"), ngx_string("chat") },
    { ngx_string("/completions"), ngx_string("completions") },
    { ngx_string("/embeddings"), ngx_string("embeddings") },
    { ngx_string("/images/generations"), ngx_string("images") },
    { ngx_string("/images/edits"), ngx_string("images") },
    { ngx_string("/images/variations"), ngx_string("images") },
    { ngx_string("/audio/transcriptions"), ngx_string("audio.transcription") },
    { ngx_string("/audio/translations"), ngx_string("audio.translation") },
    { ngx_string("/audio/speech"), ngx_string("audio.speech") },
    { ngx_string("/videos"), ngx_string("video.generation") },
    { ngx_string("/videos/*"), ngx_string("video.generation") },
    { ngx_string("/videos/*/content"), ngx_string("video.generation") },
    { ngx_string("/videos/*/remix"), ngx_string("video.generation") },
    { ngx_null_string, ngx_null_string }
};


/* the Amazon Bedrock runtime */

static ngx_http_llmgw_provider_api_t  ngx_http_llmgw_provider_bedrock_apis[] =
{
    { ngx_string("/model/*/invoke"), ngx_string("invoke") },
    { ngx_string("/model/*/invoke-with-response-stream"),
      ngx_string("invoke") },
    { ngx_string("/model/*/converse"), ngx_string("converse") },
    { ngx_string("/model/*/converse-stream"), ngx_string("converse") },
    { ngx_string("/model/*/count-tokens"), ngx_string("count-tokens") },
    { ngx_string("/model/*/invoke-with-bidirectional-stream"),
      ngx_string("invoke-bidirectional") },
    { ngx_string("/async-invoke"), ngx_string("async-invoke") },
    { ngx_string("/async-invoke/*"), ngx_string("async-invoke") },
    { ngx_string("/guardrail/*/version/*/apply"),
      ngx_string("apply-guardrail") },
    { ngx_null_string, ngx_null_string }
};


/* the Gemini API under each version prefix; '*' ends at ':' too */

static ngx_http_llmgw_provider_api_t  ngx_http_llmgw_provider_gemini_apis[] = {
    { ngx_string("/models/*:generateContent"),
      ngx_string("generateContent") },
    { ngx_string("/models/*:streamGenerateContent"),
      ngx_string("generateContent") },
    { ngx_string("/tunedModels/*:generateContent"),
      ngx_string("generateContent") },
    { ngx_string("/tunedModels/*:streamGenerateContent"),
      ngx_string("generateContent") },
    { ngx_string("/models/*:embedContent"), ngx_string("embedContent") },
    { ngx_string("/models/*:batchEmbedContents"),
      ngx_string("embedContent") },
    { ngx_string("/models/*:countTokens"), ngx_string("countTokens") },
    { ngx_string("/models/*:predict"), ngx_string("predict") },
    { ngx_string("/models/*:predictLongRunning"),
      ngx_string("predictLongRunning") },
    { ngx_string("/models/*:batchGenerateContent"), ngx_string("batch") },
    { ngx_string("/models/*:asyncBatchEmbedContent"), ngx_string("batch") },
    { ngx_string("/batches"), ngx_string("batch") },
    { ngx_string("/batches/*"), ngx_string("batch") },
    { ngx_string("/batches/*:cancel"), ngx_string("batch") },
    { ngx_string("/batches/*:updateGenerateContentBatch"),
      ngx_string("batch") },
    { ngx_string("/batches/*:updateEmbedContentBatch"), ngx_string("batch") },
    { ngx_string("/models/*/operations"), ngx_string("operations") },
    { ngx_string("/models/*/operations/*"), ngx_string("operations") },
    { ngx_string("/models"), ngx_string("models") },
    { ngx_string("/models/*"), ngx_string("models") },
    { ngx_string("/files"), ngx_string("files") },
    { ngx_string("/files/*"), ngx_string("files") },
    { ngx_string("/files/*:download"), ngx_string("files") },
    { ngx_string("/cachedContents"), ngx_string("cachedContents") },
    { ngx_string("/cachedContents/*"), ngx_string("cachedContents") },
    { ngx_null_string, ngx_null_string }
};


/* the Gemini API's media upload and download */

static ngx_http_llmgw_provider_api_t  ngx_http_llmgw_provider_gemini_media[] =
{
    { ngx_string("/upload/v1beta/files"), ngx_string("files") },
    { ngx_string("/download/v1beta/files/*:download"), ngx_string("files") },
    { ngx_null_string, ngx_null_string }
};


static ngx_http_llmgw_provider_api_set_t
    ngx_http_llmgw_provider_azure_sets[] =
{
    { ngx_string("/openai"), ngx_http_llmgw_provider_azure_apis },
    { ngx_string("/openai"), ngx_http_llmgw_provider_resources },
    { ngx_string("/openai/v1"), ngx_http_llmgw_provider_openai_apis },
    { ngx_string("/openai/v1"), ngx_http_llmgw_provider_resources },
    { ngx_string("/openai/v1"), ngx_http_llmgw_provider_azure_v1_apis },
    { ngx_null_string, NULL }
};


static ngx_http_llmgw_provider_api_set_t
    ngx_http_llmgw_provider_openai_sets[] =
{
    { ngx_string("/v1"), ngx_http_llmgw_provider_openai_apis },
    { ngx_string("/v1"), ngx_http_llmgw_provider_resources },
    { ngx_null_string, NULL }
};


static ngx_http_llmgw_provider_api_set_t
    ngx_http_llmgw_provider_bedrock_sets[] =
{
    { ngx_null_string, ngx_http_llmgw_provider_bedrock_apis },
    { ngx_null_string, NULL }
};


static ngx_http_llmgw_provider_api_set_t
    ngx_http_llmgw_provider_gemini_sets[] =
{
    { ngx_string("/v1beta"), ngx_http_llmgw_provider_gemini_apis },
    { ngx_string("/v1"), ngx_http_llmgw_provider_gemini_apis },
    { ngx_string("/v1alpha"), ngx_http_llmgw_provider_gemini_apis },
    { ngx_null_string, ngx_http_llmgw_provider_gemini_media },
    { ngx_null_string, NULL }
};


/* Bedrock labels that take an ARN: model, async invocation, guardrail */

static ngx_str_t  ngx_http_llmgw_provider_bedrock_arns[] = {
    ngx_string("/model/"),
    ngx_string("/async-invoke/"),
    ngx_string("/guardrail/"),
    ngx_null_string
};



static ngx_http_llmgw_provider_t  ngx_http_llmgw_providers[] = {

    { ngx_string("azure_openai"),
      NGX_HTTP_LLMGW_PROVIDER_AZURE_OPENAI,
      ngx_string("api-key"),
      ngx_null_string,
      ngx_string("/deployments/"),
      '\0',
      ngx_http_llmgw_provider_azure_query,
      ngx_null_string,
      ngx_http_llmgw_provider_azure_sets,
      NULL },

    { ngx_string("bedrock"),
      NGX_HTTP_LLMGW_PROVIDER_BEDROCK,
      ngx_string("Authorization"),
      ngx_string("Bearer "),
      ngx_string("/model/"),
      '\0',
      ngx_http_llmgw_provider_no_query,
      ngx_string("x-amz-"),
      ngx_http_llmgw_provider_bedrock_sets,
      ngx_http_llmgw_provider_bedrock_arns },

    { ngx_string("gemini"),
      NGX_HTTP_LLMGW_PROVIDER_GEMINI,
      ngx_string("x-goog-api-key"),
      ngx_null_string,
      ngx_string("/models/"),
      ':',
      ngx_http_llmgw_provider_gemini_query,
      ngx_null_string,
      ngx_http_llmgw_provider_gemini_sets,
      NULL },

    { ngx_string("openai"),
      NGX_HTTP_LLMGW_PROVIDER_OPENAI,
      ngx_string("Authorization"),
      ngx_string("Bearer "),
      ngx_null_string,
      '\0',
      ngx_http_llmgw_provider_no_query,
      ngx_null_string,
      ngx_http_llmgw_provider_openai_sets,
      NULL },

    { ngx_null_string, 0, ngx_null_string, ngx_null_string,
      ngx_null_string, '\0', NULL, ngx_null_string, NULL, NULL }
};


/* client request headers never forwarded, lowercase */

static ngx_str_t  ngx_http_llmgw_provider_dropped[] = {
    ngx_string("host"),
    ngx_string("connection"),
    ngx_string("keep-alive"),
    ngx_string("te"),
    ngx_string("trailer"),
    ngx_string("transfer-encoding"),
    ngx_string("upgrade"),
    ngx_string("http2-settings"),
    ngx_string("content-length"),
    ngx_string("expect"),
    ngx_string("accept-encoding"),
    ngx_string("authorization"),
    ngx_string("dpop"),
    ngx_string("api-key"),
    ngx_string("x-api-key"),
    ngx_string("x-goog-api-key"),
    ngx_string("x-amz-date"),
    ngx_string("x-amz-security-token"),
    ngx_string("x-amz-content-sha256"),
    ngx_string("cookie"),
    ngx_string("client-cert"),
    ngx_string("client-cert-chain"),
    ngx_null_string
};


/* upstream response headers that name a credential, lowercase */

static ngx_str_t  ngx_http_llmgw_provider_credentials[] = {
    ngx_string("authorization"),
    ngx_string("proxy-authorization"),
    ngx_string("api-key"),
    ngx_string("x-api-key"),
    ngx_string("x-goog-api-key"),
    ngx_string("x-amz-security-token"),
    ngx_null_string
};


ngx_http_llmgw_provider_t *
ngx_http_llmgw_provider_find(ngx_str_t *name)
{
    ngx_http_llmgw_provider_t  *pv;

    for (pv = ngx_http_llmgw_providers; pv->name.len; pv++) {
        if (pv->name.len == name->len
            && ngx_strncmp(pv->name.data, name->data, name->len) == 0)
        {
            return pv;
        }
    }

    return NULL;
}


ngx_uint_t
ngx_http_llmgw_provider_drop_request_header(u_char *lowcase, size_t len)
{
    if (len >= sizeof("proxy-") - 1
        && ngx_strncmp(lowcase, "proxy-", sizeof("proxy-") - 1) == 0)
    {
        return 1;
    }

    return ngx_http_llmgw_provider_in_table(ngx_http_llmgw_provider_dropped,
                                            lowcase, len);
}


ngx_uint_t
ngx_http_llmgw_provider_credential_header(u_char *lowcase, size_t len)
{
    return ngx_http_llmgw_provider_in_table(
                                   ngx_http_llmgw_provider_credentials,
                                   lowcase, len);
}


ngx_uint_t
ngx_http_llmgw_provider_in_list(ngx_str_t *list, u_char *name, size_t len)
{
    u_char  *p, *last, *start, *end;

    p = list->data;
    last = list->data + list->len;

    while (p < last) {

        while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        end = p;

        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }

        if ((size_t) (end - start) == len
            && ngx_strncasecmp(start, name, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


ngx_int_t
ngx_http_llmgw_provider_check_path(ngx_http_llmgw_provider_t *pv, u_char *p,
    size_t len)
{
    u_char     *last, *segment, *arn;
    size_t      n;
    ngx_int_t   c;
    ngx_uint_t  encoded;

    last = p + len;

    if (p == last || *p != '/') {
        return NGX_DECLINED;
    }

    /* the end of an ARN segment, or NULL */
    arn = ngx_http_llmgw_provider_arn(pv, p, last);

    p++;
    segment = p;
    encoded = 0;

    for ( ;; ) {

        /*
         * the end of a segment; in an ARN segment "%2F" ends a piece that
         * nginx sees as a segment of its own
         */

        if (p == last
            || *p == '/'
            || (p < arn && *p == '%'
                && ngx_http_llmgw_provider_decoded(p, last) == '/'))
        {
            n = p - segment;

            /* empty: "//", "%2F/", "/%2F" ...; only a final '/' passes */

            if (n == 0 && (p != last || encoded)) {
                return NGX_DECLINED;
            }

            if ((n == 1 && segment[0] == '.')
                || (n == 2 && segment[0] == '.' && segment[1] == '.'))
            {
                return NGX_DECLINED;
            }

            if (p == last) {
                return NGX_OK;
            }

            encoded = (*p == '%');
            p += encoded ? 3 : 1;
            segment = p;
            continue;
        }

        if (*p <= 0x20 || *p >= 0x7f
            || *p == '\\' || *p == '#' || *p == ';')
        {
            return NGX_DECLINED;
        }

        if (*p == '%') {
            c = ngx_http_llmgw_provider_decoded(p, last);

            if (c < 0
                || c == 0x00 || c == '.' || c == '\\' || c == '/'
                || (pv && pv->name_stop != '\0' && c == pv->name_stop))
            {
                return NGX_DECLINED;
            }

            p += 3;
            continue;
        }

        p++;
    }
}


ngx_int_t
ngx_http_llmgw_provider_api(ngx_http_llmgw_provider_t *pv, u_char *p,
    size_t len, ngx_str_t *kind)
{
    u_char                             *last, *rest;
    ngx_http_llmgw_provider_api_t      *api;
    ngx_http_llmgw_provider_api_set_t  *set;

    last = p + len;

    for (set = pv->api_sets; set->apis; set++) {

        if (set->prefix.len
            && (len < set->prefix.len
                || ngx_strncmp(p, set->prefix.data, set->prefix.len) != 0))
        {
            continue;
        }

        rest = p + set->prefix.len;

        for (api = set->apis; api->pattern.len; api++) {
            if (ngx_http_llmgw_provider_match(&api->pattern, pv->name_stop,
                                              rest, last))
            {
                *kind = api->kind;
                return NGX_OK;
            }
        }
    }

    ngx_str_null(kind);

    return NGX_DECLINED;
}


ngx_uint_t
ngx_http_llmgw_provider_api_known(ngx_http_llmgw_provider_t *pv,
    ngx_str_t *kind)
{
    ngx_http_llmgw_provider_t          *one;
    ngx_http_llmgw_provider_api_t      *api;
    ngx_http_llmgw_provider_api_set_t  *set;

    for (one = pv ? pv : ngx_http_llmgw_providers; one->name.len; one++) {

        for (set = one->api_sets; set->apis; set++) {
            for (api = set->apis; api->pattern.len; api++) {
                if (api->kind.len == kind->len
                    && ngx_strncmp(api->kind.data, kind->data, kind->len)
                       == 0)
                {
                    return 1;
                }
            }
        }

        if (pv) {
            break;
        }
    }

    return 0;
}


ngx_int_t
ngx_http_llmgw_provider_check_query(u_char *p, size_t len)
{
    u_char  *last;

    for (last = p + len; p < last; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '#') {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_provider_query(ngx_pool_t *pool, ngx_http_llmgw_provider_t *pv,
    ngx_str_t *in, ngx_str_t *out)
{
    u_char      *p, *last, *start, *end, *name_end, *o;
    ngx_uint_t   changed;

    p = in->data;
    last = in->data + in->len;
    changed = 0;

    /* first pass: is anything removed? */

    while (p < last) {
        start = p;

        while (p < last && *p != '&') {
            p++;
        }

        end = p;

        if (p < last) {
            p++;
        }

        if (start == end) {
            changed = 1;
            continue;
        }

        name_end = ngx_strlchr(start, end, '=');
        if (name_end == NULL) {
            name_end = end;
        }

        if (ngx_http_llmgw_provider_drop_param(pv, start, name_end - start)) {
            changed = 1;
        }
    }

    if (!changed) {
        *out = *in;
        return NGX_OK;
    }

    o = ngx_pnalloc(pool, in->len + 1);
    if (o == NULL) {
        return NGX_ERROR;
    }

    out->data = o;
    p = in->data;

    while (p < last) {
        start = p;

        while (p < last && *p != '&') {
            p++;
        }

        end = p;

        if (p < last) {
            p++;
        }

        if (start == end) {
            continue;
        }

        name_end = ngx_strlchr(start, end, '=');
        if (name_end == NULL) {
            name_end = end;
        }

        if (ngx_http_llmgw_provider_drop_param(pv, start, name_end - start)) {
            continue;
        }

        if (o != out->data) {
            *o++ = '&';
        }

        o = ngx_cpymem(o, start, end - start);
    }

    out->len = o - out->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_provider_query_redact(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out)
{
    u_char      *p, *last, *start, *end, *name_end, *o;
    size_t       len;
    ngx_str_t    src;
    ngx_uint_t   pass, replaced;

    static ngx_str_t  redacted = ngx_string("REDACTED");

    src = *in;    /* out may be in */
    len = 0;
    replaced = 0;
    o = NULL;

    /* the first pass measures, the second writes */

    for (pass = 0; pass < 2; pass++) {
        p = src.data;
        last = src.data + src.len;

        while (p < last) {
            start = p;

            while (p < last && *p != '&') {
                p++;
            }

            end = p;

            name_end = ngx_strlchr(start, end, '=');

            if (name_end == NULL
                || !ngx_http_llmgw_provider_credential_param(start,
                                                         name_end - start))
            {
                name_end = end;
            }

            if (pass == 0) {
                if (name_end < end) {
                    len += 1 + redacted.len;
                    replaced++;
                }

                len += name_end - start;

            } else {
                o = ngx_cpymem(o, start, name_end - start);

                if (name_end < end) {
                    *o++ = '=';
                    o = ngx_cpymem(o, redacted.data, redacted.len);
                }
            }

            if (p < last) {
                p++;

                if (pass == 0) {
                    len++;

                } else {
                    *o++ = '&';
                }
            }
        }

        if (pass == 0) {
            if (replaced == 0) {
                *out = src;
                return NGX_OK;
            }

            o = ngx_pnalloc(pool, len);
            if (o == NULL) {
                return NGX_ERROR;
            }

            out->data = o;
            out->len = len;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llmgw_provider_model_from_path(ngx_pool_t *pool,
    ngx_http_llmgw_provider_t *pv, ngx_str_t *path, ngx_str_t *model)
{
    u_char  *p, *last, *start, *dst, *src;

    if (pv->model_segment.len == 0) {
        return NGX_DECLINED;
    }

    last = path->data + path->len;

    p = ngx_http_llmgw_provider_find_segment(path->data, last,
                                             &pv->model_segment);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    start = p;

    while (p < last && *p != '/' && *p != '?'
           && (pv->name_stop == '\0' || *p != pv->name_stop))
    {
        p++;
    }

    if (p == start || (size_t) (p - start) > 3 * NGX_HTTP_LLMGW_MODEL_MAX) {
        return NGX_DECLINED;
    }

    dst = ngx_pnalloc(pool, p - start);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    model->data = dst;
    src = start;

    ngx_unescape_uri(&dst, &src, p - start, 0);

    model->len = dst - model->data;

    return ngx_http_llmgw_provider_model_valid(model);
}


ngx_int_t
ngx_http_llmgw_provider_model_from_json(ngx_pool_t *pool, u_char *p,
    size_t len, ngx_str_t *model)
{
    size_t         n;
    json_t        *root, *value;
    const char    *s;
    json_error_t   err;

    root = json_loadb((const char *) p, len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        return NGX_DECLINED;
    }

    value = json_object_get(root, "model");

    if (!json_is_string(value)) {
        json_decref(root);
        return NGX_DECLINED;
    }

    s = json_string_value(value);
    n = json_string_length(value);

    if (n == 0 || n > NGX_HTTP_LLMGW_MODEL_MAX) {
        json_decref(root);
        return NGX_DECLINED;
    }

    model->data = ngx_pnalloc(pool, n);
    if (model->data == NULL) {
        json_decref(root);
        return NGX_ERROR;
    }

    ngx_memcpy(model->data, s, n);
    model->len = n;

    json_decref(root);

    return ngx_http_llmgw_provider_model_valid(model);
}


static ngx_uint_t
ngx_http_llmgw_provider_in_table(ngx_str_t *table, u_char *lowcase,
    size_t len)
{
    for ( /* void */ ; table->len; table++) {
        if (table->len == len
            && ngx_strncmp(table->data, lowcase, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static ngx_uint_t
ngx_http_llmgw_provider_drop_param(ngx_http_llmgw_provider_t *pv,
    u_char *name, size_t len)
{
    u_char      *dst, *src;
    size_t       n;
    ngx_str_t   *drop;
    u_char       decoded[NGX_HTTP_LLMGW_QUERY_NAME_MAX];

    if (len == 0) {
        return 0;
    }

    /*
     * decoding never lengthens a name; of a longer one the decoded start
     * is enough for the prefix, and it is longer than any dropped name
     */

    dst = decoded;
    src = name;

    ngx_unescape_uri(&dst, &src, ngx_min(len, NGX_HTTP_LLMGW_QUERY_NAME_MAX),
                     0);

    n = dst - decoded;

    for (drop = pv->query_drop;
         drop->len && len <= NGX_HTTP_LLMGW_QUERY_NAME_MAX;
         drop++)
    {
        if (drop->len == n && ngx_strncasecmp(drop->data, decoded, n) == 0) {
            return 1;
        }
    }

    if (pv->query_drop_prefix.len
        && n >= pv->query_drop_prefix.len
        && ngx_strncasecmp(pv->query_drop_prefix.data, decoded,
                           pv->query_drop_prefix.len) == 0)
    {
        return 1;
    }

    return 0;
}


/* 1 when a query parameter name is a credential of any provider */

static ngx_uint_t
ngx_http_llmgw_provider_credential_param(u_char *name, size_t len)
{
    ngx_http_llmgw_provider_t  *pv;

    for (pv = ngx_http_llmgw_providers; pv->name.len; pv++) {
        if (ngx_http_llmgw_provider_drop_param(pv, name, len)) {
            return 1;
        }
    }

    return 0;
}


static u_char *
ngx_http_llmgw_provider_find_segment(u_char *p, u_char *last,
    ngx_str_t *segment)
{
    for ( /* void */ ; (size_t) (last - p) >= segment->len; p++) {
        if (ngx_strncmp(p, segment->data, segment->len) == 0) {
            return p + segment->len;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_llmgw_provider_model_valid(ngx_str_t *model)
{
    size_t  i;

    if (model->len == 0 || model->len > NGX_HTTP_LLMGW_MODEL_MAX) {
        return NGX_DECLINED;
    }

    for (i = 0; i < model->len; i++) {
        if (model->data[i] <= 0x20 || model->data[i] >= 0x7f) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llmgw_provider_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/* the byte "%XX" at p stands for, or -1 */

static ngx_int_t
ngx_http_llmgw_provider_decoded(u_char *p, u_char *last)
{
    ngx_int_t  hi, lo;

    if (last - p < 3 || p[0] != '%') {
        return -1;
    }

    hi = ngx_http_llmgw_provider_hex(p[1]);
    lo = ngx_http_llmgw_provider_hex(p[2]);

    if (hi < 0 || lo < 0) {
        return -1;
    }

    return hi * 16 + lo;
}


/*
 * Where the ARN segment of a path ends (the next '/', or last), when the
 * path starts with one of pv's arn_segments followed by "arn%3A"; else
 * NULL.
 */

static u_char *
ngx_http_llmgw_provider_arn(ngx_http_llmgw_provider_t *pv, u_char *p,
    u_char *last)
{
    u_char     *end;
    ngx_str_t  *prefix;

    if (pv == NULL || pv->arn_segments == NULL) {
        return NULL;
    }

    for (prefix = pv->arn_segments; prefix->len; prefix++) {

        if ((size_t) (last - p) < prefix->len + sizeof("arn%3A") - 1
            || ngx_strncmp(p, prefix->data, prefix->len) != 0
            || ngx_strncasecmp(p + prefix->len, (u_char *) "arn%3A",
                               sizeof("arn%3A") - 1)
               != 0)
        {
            continue;
        }

        end = ngx_strlchr(p + prefix->len, last, '/');

        return end ? end : last;
    }

    return NULL;
}


/*
 * One pattern against the rest of a path, in one pass: literal bytes
 * compare exactly; '*' takes every byte up to the next '/' or stop, and
 * must take at least one, none of them an encoded space, control byte or
 * stop (a name never holds those; a trailing "%20" is not a name).
 */

static ngx_uint_t
ngx_http_llmgw_provider_match(ngx_str_t *pattern, u_char stop, u_char *p,
    u_char *last)
{
    u_char     *pat, *end, *start;
    ngx_int_t   c;

    pat = pattern->data;
    end = pattern->data + pattern->len;

    while (pat < end) {

        if (*pat != '*') {
            if (p == last || *p != *pat) {
                return 0;
            }

            p++;
            pat++;
            continue;
        }

        start = p;

        while (p < last && *p != '/' && (stop == '\0' || *p != stop)) {

            if (*p == '%') {
                c = ngx_http_llmgw_provider_decoded(p, last);

                if (c <= 0x20 || c == 0x7f
                    || (stop != '\0' && c == stop))
                {
                    return 0;
                }

                p += 3;
                continue;
            }

            p++;
        }

        if (p == start) {
            return 0;
        }

        pat++;
    }

    return p == last;
}
