
/*
 * Copyright (C) llmgw authors
 *
 * What a call will use at most, from its request body, for the token and
 * cost budgets of llmgw_limit to reserve before the call: the output
 * tokens the body allows (each API names them its own way), and the
 * prompt's tokens guessed from the body's size.  Pure: bytes in, integers
 * out; no request.
 */


#ifndef _NGX_HTTP_LLMGW_ESTIMATE_H_INCLUDED_
#define _NGX_HTTP_LLMGW_ESTIMATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* a body larger than this is not parsed (its maximum is not looked for) */
#define NGX_HTTP_LLMGW_ESTIMATE_BODY_MAX  (1024 * 1024)

/* the largest maximum believed; a larger one is read as this */
#define NGX_HTTP_LLMGW_ESTIMATE_MAX       100000000


/*
 * The output tokens a JSON request body allows at most, from the first
 * of these that is a non-negative integer:
 *
 *   max_completion_tokens               OpenAI, Azure OpenAI chat
 *   max_tokens                          OpenAI, Azure (older), Bedrock's
 *                                       Anthropic messages, Mistral ...
 *   max_output_tokens                   OpenAI, Azure responses
 *   generationConfig.maxOutputTokens    Gemini (and its snake_case form
 *   generation_config.max_output_tokens  the REST API accepts too)
 *   inferenceConfig.maxTokens           Bedrock Converse
 *   textGenerationConfig.maxTokenCount  Bedrock Titan
 *
 * NGX_OK with *max; NGX_DECLINED when the body names none, is not a JSON
 * object, or is larger than NGX_HTTP_LLMGW_ESTIMATE_BODY_MAX.  Memory:
 * the parsed document only, freed before it returns.
 */
ngx_int_t ngx_http_llmgw_estimate_max_output(u_char *p, size_t len,
    int64_t *max);

/*
 * The tokens of a prompt of len bytes, guessed as one token per 4 bytes
 * of the whole body, rounded up (English text runs at about 4 bytes a
 * token; JSON syntax and base64 images make the guess high rather than
 * low, which is the side a reservation should err on).
 */
int64_t ngx_http_llmgw_estimate_prompt(off_t len);


#endif /* _NGX_HTTP_LLMGW_ESTIMATE_H_INCLUDED_ */
