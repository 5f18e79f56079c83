// openai's AzureOpenAI client against the gateway (or the mock directly):
// chat, streamed chat, audio transcription upload, speech; error shapes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { AzureOpenAI, OpenAI, RateLimitError, toFile } from 'openai';

import * as t from './lib.mjs';

const API_VERSION = '2024-10-21';

function client() {
    return new AzureOpenAI({
        endpoint: t.base + t.azurePrefix,
        apiKey: t.credential('azure'),
        apiVersion: API_VERSION,
        maxRetries: 0,
        timeout: 30000,
    });
}

const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Say hello to the gateway tests' },
];

describe('Azure OpenAI SDK', { skip: t.skipReason ?? false }, () => {

    it('chat completion', async () => {
        const id = t.testId();
        const res = await client().chat.completions.create(
            { model: 'gpt-4o', messages },
            { headers: { 'x-llmgw-test-id': id } });
        assert.equal(res.object, 'chat.completion');
        assert.equal(res.choices[0].message.role, 'assistant');
        assert.equal(res.choices[0].message.content,
                     'Hello from the llmgw mock.');
        assert.equal(res.choices[0].finish_reason, 'stop');
        // 3 + 6 words in the messages, 6 reply pieces
        assert.deepEqual(res.usage, { prompt_tokens: 9,
                                      completion_tokens: 6,
                                      total_tokens: 15 });
        const rec = await t.mockRecord(id);
        if (rec !== null) {
            assert.equal(rec.path, '/openai/deployments/gpt-4o/chat/' +
                         `completions?api-version=${API_VERSION}`);
            assert.equal(rec.auth.verdict, 'ok');
            assert.equal(rec.jwt_in, null);
        }
    });

    it('streamed chat completion arrives incrementally, with usage',
       async () => {
        const id = t.testId();
        const stream = await client().chat.completions.create(
            { model: 'gpt-4o', messages, stream: true,
              stream_options: { include_usage: true } },
            { headers: { 'x-llmgw-test-id': id } });
        const times = [];
        let text = '';
        let usage = null;
        for await (const chunk of stream) {
            if (chunk.choices.length > 0 && chunk.choices[0].delta.content) {
                times.push(Date.now());
                text += chunk.choices[0].delta.content;
            }
            if (chunk.usage) {
                usage = chunk.usage;
            }
        }
        assert.equal(text, 'Hello from the llmgw mock.');
        assert.deepEqual(usage, { prompt_tokens: 9, completion_tokens: 6,
                                  total_tokens: 15 });
        await t.assertIncremental(assert, times, id, 6);
    });

    // Through the gateway, which adds stream_options.include_usage to
    // bill the stream, the client still gets the stream it asked for:
    // no usage chunk, no "usage": null in the others.
    it('streamed chat completion without include_usage: as asked for',
       async () => {
        const id = t.testId();
        const stream = await client().chat.completions.create(
            { model: 'gpt-4o', messages, stream: true },
            { headers: { 'x-llmgw-test-id': id } });
        const times = [];
        const chunks = [];
        let text = '';
        for await (const chunk of stream) {
            chunks.push(chunk);
            if (chunk.choices.length > 0 && chunk.choices[0].delta.content) {
                times.push(Date.now());
                text += chunk.choices[0].delta.content;
            }
        }
        assert.equal(text, 'Hello from the llmgw mock.');
        // the prompt filter results, the role, 6 pieces, the stop
        assert.equal(chunks.length, 9);
        for (const c of chunks) {
            assert.ok(!('usage' in c), 'a chunk with usage: ' +
                      JSON.stringify(c));
            if (c.choices.length === 0) {
                assert.ok('prompt_filter_results' in c, JSON.stringify(c));
            }
        }
        const rec = await t.assertIncremental(assert, times, id, 6);
        if (rec !== null) {
            assert.deepEqual(rec.stream_options,
                             t.direct ? null : { include_usage: true });
        }
    });

    it('audio transcription uploads a 200 KiB WAV whole', async () => {
        const wav = t.makeWav(200 * 1024);
        const digest = t.sha256hex(wav);
        const res = await client().audio.transcriptions.create({
            model: 'whisper',
            file: await toFile(wav, 'llmgw-test.wav', { type: 'audio/wav' }),
        });
        assert.equal(res.text, 'llmgw-mock transcription of ' +
                     `llmgw-test.wav: ${wav.length} bytes, sha256 ${digest}`);
    });

    it('speech returns audio', async () => {
        const input = 'Hello from the llmgw SDK tests.';
        const res = await client().audio.speech.create({
            model: 'tts', voice: 'alloy', input, response_format: 'wav',
        });
        const audio = Buffer.from(await res.arrayBuffer());
        assert.equal(audio.subarray(0, 4).toString('latin1'), 'RIFF');
        assert.equal(audio.subarray(8, 12).toString('latin1'), 'WAVE');
        // the mock makes 0.2 s + 20 ms per input character of 16 kHz
        // 16-bit mono audio
        const seconds = Math.min(10, 0.2 + 0.02 * input.length);
        assert.equal(audio.length, 44 + 2 * Math.floor(seconds * 16000));
        assert.equal(audio.readUInt32LE(4), audio.length - 8);
    });

    it('a 429 surfaces as RateLimitError', async () => {
        await assert.rejects(
            client().chat.completions.create(
                { model: 'gpt-4o', messages },
                { headers: { 'x-mock-fault': 'status-429' } }),
            (err) => {
                assert.ok(err instanceof RateLimitError, String(err));
                assert.equal(err.status, 429);
                assert.match(err.message, /rate limit/);
                return true;
            });
    });

    it('a stream reset mid-way fails the iteration', async () => {
        const stream = await client().chat.completions.create(
            { model: 'gpt-4o', messages, stream: true },
            { headers: { 'x-mock-fault': 'reset-mid-stream' } });
        let parts = 0;
        await assert.rejects(async () => {
            for await (const chunk of stream) {
                if (chunk.choices[0]?.delta?.content) {
                    parts++;
                }
            }
        });
        assert.ok(parts >= 1 && parts < 6, `${parts} parts before reset`);
    });
});

describe('OpenAI-compatible SDK (direct mode only)',
         { skip: t.skipReason ?? (t.direct ? false : 'gateway mode') },
         () => {

    it('chat completion with a bearer key', async () => {
        const c = new OpenAI({ baseURL: t.base + '/v1',
                               apiKey: t.credential('openai'),
                               maxRetries: 0 });
        const res = await c.chat.completions.create(
            { model: 'gpt-4o-mini', messages });
        assert.equal(res.choices[0].message.content,
                     'Hello from the llmgw mock.');
        assert.equal(res.model, 'gpt-4o-mini');
    });

    it('a wrong key is refused with 401', async () => {
        const c = new OpenAI({ baseURL: t.base + '/v1', apiKey: 'sk-wrong',
                               maxRetries: 0 });
        await assert.rejects(
            c.chat.completions.create({ model: 'gpt-4o-mini', messages }),
            (err) => err.status === 401 && err.code === 'invalid_api_key');
    });
});
