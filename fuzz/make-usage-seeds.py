#!/usr/bin/python3
# Copyright (C) llmgw authors
#
# Writes the seed corpus of fuzz/fuzz_usage.c:
#
#   /usr/bin/python3 fuzz/make-usage-seeds.py
#
# Each seed: a format byte (the order of ngx_http_llmgw_usage_format_e), a
# flags byte, 4 bytes of cut seed, then a body in the shapes
# t/mock/llmgw-mock and the providers' documentation give.

import hashlib
import json
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, 'seeds', 'fuzz_usage')

(OPENAI_JSON, OPENAI_SSE, RESPONSES_JSON, RESPONSES_SSE, ANTHROPIC_JSON,
 ANTHROPIC_ES, CONVERSE_JSON, CONVERSE_ES, GEMINI_JSON, GEMINI_SSE) = range(10)


def js(obj, compact=True):
    if compact:
        return json.dumps(obj, separators=(',', ':'))
    return json.dumps(obj)


def sse(objs, eol='\n', done=True):
    s = ''.join('data: ' + js(o) + eol + eol for o in objs)
    if done:
        s += 'data: [DONE]' + eol + eol
    return s


def records(events):
    """(kind, bytes) pairs as fuzz_usage.c's framing records."""
    b = b''
    for kind, payload in events:
        b += struct.pack('>BH', kind, len(payload)) + payload
    return b


def seed(fmt, flags, body):
    if isinstance(body, str):
        body = body.encode()
    data = bytes([fmt, flags]) + b'\x12\x34\x56\x78' + body
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)


def main():
    os.makedirs(out, exist_ok=True)

    usage = {'prompt_tokens': 12, 'completion_tokens': 6, 'total_tokens': 18,
             'prompt_tokens_details': {'cached_tokens': 4},
             'completion_tokens_details': {'reasoning_tokens': 2}}
    chat = {'id': 'chatcmpl-mock1', 'object': 'chat.completion',
            'choices': [{'index': 0, 'message': {
                'role': 'assistant',
                'content': 'a "usage": {"prompt_tokens": 9} \u00e9\U0001f600'},
                'finish_reason': 'stop'}],
            'usage': usage}
    seed(OPENAI_JSON, 0, js(chat, False))
    seed(OPENAI_JSON, 1, js({'object': 'list', 'data': [
        {'embedding': [0.1, -2.5e-3, 0]}], 'usage': {'prompt_tokens': 8,
                                                     'total_tokens': 8}}))

    chunk = {'id': 'c', 'object': 'chat.completion.chunk',
             'choices': [{'index': 0, 'delta': {'content': 'hi'}}],
             'usage': None}
    last = {'id': 'c', 'choices': [], 'usage': usage}
    seed(OPENAI_SSE, 0, ': comment\n' + sse([chunk, chunk, last]))
    seed(OPENAI_SSE, 0, sse([{'error': {'message': 'x', 'code': 'y'}}],
                            done=False))

    rusage = {'input_tokens': 328, 'input_tokens_details': {
        'cached_tokens': 0}, 'output_tokens': 52, 'output_tokens_details': {
        'reasoning_tokens': 0}, 'total_tokens': 380}
    seed(RESPONSES_JSON, 0, js({'id': 'resp_1', 'object': 'response',
                                'error': None, 'output': [], 'usage': rusage},
                               False))
    evs = [{'type': 'response.created', 'response': {'usage': None}},
           {'type': 'response.output_text.delta', 'delta': 'Hi'},
           {'type': 'response.completed', 'response': {'usage': rusage}}]
    seed(RESPONSES_SSE, 0, ''.join('event: %s\ndata: %s\n\n'
                                   % (e['type'], js(e)) for e in evs))

    au = {'input_tokens': 21, 'output_tokens': 6,
          'cache_read_input_tokens': 100, 'cache_creation_input_tokens': 7}
    seed(ANTHROPIC_JSON, 0, js({'id': 'msg_1', 'type': 'message',
                                'content': [{'type': 'text', 'text': 'x'}],
                                'usage': au}, False))

    inner = [
        {'type': 'message_start', 'message': {'id': 'msg_1', 'content': [],
                                              'usage': dict(au)}},
        {'type': 'content_block_delta', 'index': 0,
         'delta': {'type': 'text_delta', 'text': 'piece'}},
        {'type': 'message_delta', 'delta': {'stop_reason': 'end_turn'},
         'usage': {'output_tokens': 15}},
        {'type': 'message_stop', 'amazon-bedrock-invocationMetrics': {
            'inputTokenCount': 26, 'outputTokenCount': 16,
            'cacheReadInputTokenCount': 10,
            'cacheWriteInputTokenCount': 3}}]
    seed(ANTHROPIC_ES, 4 | 8, records((0, js(e).encode()) for e in inner))
    seed(ANTHROPIC_ES, 4 | 8, records([(0, js(inner[0]).encode()),
                                       (2, b'{"message":"slow down"}')]))

    cu = {'inputTokens': 30, 'outputTokens': 6, 'totalTokens': 36,
          'cacheReadInputTokens': 4, 'cacheWriteInputTokens': 2}
    seed(CONVERSE_JSON, 0, js({'output': {'message': {'content': [
        {'text': 'x'}]}}, 'usage': cu, 'metrics': {'latencyMs': 42}}))
    seed(CONVERSE_ES, 4, records([
        (3, b'{"contentBlockIndex":0,"delta":{"text":"x"},"p":"abc"}'),
        (1, js({'usage': cu, 'metrics': {'latencyMs': 42},
                'p': 'abcdef'}).encode())]))

    gu = {'promptTokenCount': 5, 'candidatesTokenCount': 6,
          'totalTokenCount': 31, 'cachedContentTokenCount': 2,
          'thoughtsTokenCount': 20}
    resp = {'candidates': [{'content': {'parts': [{'text': 'x'}],
                                        'role': 'model'}, 'index': 0}],
            'usageMetadata': gu, 'modelVersion': 'gemini-2.0-flash'}
    seed(GEMINI_JSON, 0, js(resp, False))
    seed(GEMINI_JSON, 0, '[' + ',\r\n'.join(json.dumps(resp, indent=2)
                                            for _ in range(2)) + ']')
    seed(GEMINI_SSE, 0, sse([resp, resp], '\r\n', False))


main()
