// @google/genai against the gateway (or the mock directly):
// generateContent, generateContentStream (SSE), error shapes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ApiError, GoogleGenAI } from '@google/genai';

import * as t from './lib.mjs';

const MODEL = 'gemini-2.0-flash';

function client(apiKey = t.credential('gemini')) {
    return new GoogleGenAI({
        apiKey,
        httpOptions: { baseUrl: t.base + t.geminiPrefix },
    });
}

function request(id, extraHeaders = {}) {
    return {
        model: MODEL,
        contents: 'Say hello to the gateway tests',
        config: {
            systemInstruction: 'You are terse.',
            httpOptions: { headers: { 'x-llmgw-test-id': id,
                                      ...extraHeaders } },
        },
    };
}

describe('Gemini SDK', { skip: t.skipReason ?? false }, () => {

    it('generateContent', async () => {
        const id = t.testId();
        const res = await client().models.generateContent(request(id));
        assert.equal(res.text, 'Hello from the llmgw mock.');
        assert.equal(res.candidates[0].finishReason, 'STOP');
        // 6 + 3 words of prompt and system instruction, 6 reply pieces
        assert.equal(res.usageMetadata.promptTokenCount, 9);
        assert.equal(res.usageMetadata.candidatesTokenCount, 6);
        assert.equal(res.usageMetadata.totalTokenCount, 15);
        const rec = await t.mockRecord(id);
        if (rec !== null) {
            assert.equal(rec.path,
                         `/v1beta/models/${MODEL}:generateContent`);
            assert.equal(rec.auth.verdict, 'ok');
            assert.equal(rec.jwt_in, null);
        }
    });

    it('generateContentStream arrives incrementally, with usage',
       async () => {
        const id = t.testId();
        const stream = await client().models.generateContentStream(
            request(id));
        const times = [];
        let text = '';
        let usage = null;
        for await (const chunk of stream) {
            times.push(Date.now());
            text += chunk.text ?? '';
            usage = chunk.usageMetadata ?? usage;
        }
        assert.equal(text, 'Hello from the llmgw mock.');
        assert.equal(usage.promptTokenCount, 9);
        assert.equal(usage.candidatesTokenCount, 6);
        assert.equal(usage.totalTokenCount, 15);
        const rec = await t.assertIncremental(assert, times, id, 6);
        if (rec !== null) {
            assert.equal(rec.path, `/v1beta/models/${MODEL}:` +
                         'streamGenerateContent?alt=sse');
        }
    });

    it('a 429 surfaces as an ApiError with status 429', async () => {
        await assert.rejects(
            client().models.generateContent(
                request(t.testId(), { 'x-mock-fault': 'status-429' })),
            (err) => {
                assert.ok(err instanceof ApiError, String(err));
                assert.equal(err.status, 429);
                assert.match(err.message, /RESOURCE_EXHAUSTED/);
                return true;
            });
    });

    it('a wrong key is refused', { skip: t.direct ? false :
                                   'gateway mode: the gateway answers' },
       async () => {
        await assert.rejects(
            client('AIzaSy-wrong').models.generateContent(
                request(t.testId())),
            (err) => err instanceof ApiError && err.status === 400
                && /API_KEY_INVALID|API key not valid/.test(err.message));
    });
});
