// @aws-sdk/client-bedrock-runtime against the gateway (or the mock
// directly): InvokeModel, InvokeModelWithResponseStream, Converse,
// ConverseStream with a bearer token; SigV4 straight to the mock.
//
// The client's default request handler speaks HTTP/2 only.  Through the
// gateway it is kept (TLS + h2, as in production).  The mock is an
// HTTP/1.1 server, so in direct mode the client gets the SDK's own
// HTTP/1.1 handler (@smithy/node-http-handler); nothing else differs.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import {
    BedrockRuntimeClient,
    ConverseCommand,
    ConverseStreamCommand,
    InvokeModelCommand,
    InvokeModelWithResponseStreamCommand,
    ThrottlingException,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';

import * as t from './lib.mjs';

const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const WIRE_MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1%3A0';

// every client made, destroyed at the end so no keep-alive socket holds
// the process open
const clients = [];
after(() => {
    for (const c of clients) {
        c.destroy();
    }
});

// extra request headers for the next call (x-llmgw-test-id, x-mock-fault)
function withHeaders(client, headers) {
    client.middlewareStack.add((next) => async (args) => {
        Object.assign(args.request.headers, headers);
        return next(args);
    }, { step: 'build', name: 'llmgwTestHeaders' });
    return client;
}

function client(headers = {}, auth = null) {
    const cfg = {
        region: 'us-east-1',
        endpoint: t.bedrockBase + t.bedrockPrefix,
        maxAttempts: 1,
    };
    if (auth === null) {
        // the bearer token the SDK would take from AWS_BEARER_TOKEN_BEDROCK
        cfg.token = { token: t.credential('bedrock') };
        cfg.authSchemePreference = ['httpBearerAuth'];
    } else {
        cfg.credentials = auth;
        cfg.authSchemePreference = ['sigv4'];
    }
    if (t.direct) {
        cfg.requestHandler = new NodeHttpHandler({ requestTimeout: 30000 });
    }
    const c = new BedrockRuntimeClient(cfg);
    clients.push(c);
    return withHeaders(c, headers);
}

const anthropicBody = (text) => JSON.stringify({
    anthropic_version: 'bedrock-2023-05-31',
    max_tokens: 256,
    system: 'You are terse.',
    messages: [{ role: 'user', content: text }],
});

const converseInput = (text) => ({
    modelId: MODEL,
    system: [{ text: 'You are terse.' }],
    messages: [{ role: 'user', content: [{ text }] }],
    inferenceConfig: { maxTokens: 256 },
});

async function checkRecord(id, op) {
    const rec = await t.mockRecord(id);
    if (rec !== null) {
        assert.equal(rec.path, `/model/${WIRE_MODEL}/${op}`);
        assert.equal(rec.model, MODEL);
        assert.equal(rec.auth.verdict, 'ok');
        assert.equal(rec.jwt_in, null);
    }
    return rec;
}

describe('Bedrock runtime SDK', { skip: t.skipReason ?? false }, () => {

    it('InvokeModel (Anthropic Messages body)', async () => {
        const id = t.testId();
        const res = await client({ 'x-llmgw-test-id': id }).send(
            new InvokeModelCommand({
                modelId: MODEL, contentType: 'application/json',
                accept: 'application/json',
                body: anthropicBody('Say hello to the tests') }));
        const msg = JSON.parse(Buffer.from(res.body).toString('utf8'));
        assert.equal(msg.type, 'message');
        assert.equal(msg.content[0].text, 'Hello from the llmgw mock.');
        assert.equal(msg.stop_reason, 'end_turn');
        // 3 system + 5 user words; 6 reply pieces
        assert.deepEqual(msg.usage, { input_tokens: 8, output_tokens: 6 });
        await checkRecord(id, 'invoke');
    });

    it('InvokeModelWithResponseStream arrives incrementally', async () => {
        const id = t.testId();
        const res = await client({ 'x-llmgw-test-id': id }).send(
            new InvokeModelWithResponseStreamCommand({
                modelId: MODEL, contentType: 'application/json',
                body: anthropicBody('Say hello to the tests') }));
        const times = [];
        const types = [];
        let text = '';
        let metrics = null;
        for await (const ev of res.body) {
            assert.ok(ev.chunk, 'only chunk events: ' + JSON.stringify(ev));
            const e = JSON.parse(Buffer.from(ev.chunk.bytes)
                .toString('utf8'));
            types.push(e.type);
            if (e.type === 'content_block_delta') {
                times.push(Date.now());
                text += e.delta.text;
            }
            if (e.type === 'message_stop') {
                metrics = e['amazon-bedrock-invocationMetrics'];
            }
        }
        assert.equal(text, 'Hello from the llmgw mock.');
        assert.equal(types[0], 'message_start');
        assert.equal(types[types.length - 1], 'message_stop');
        assert.equal(metrics.inputTokenCount, 8);
        assert.equal(metrics.outputTokenCount, 6);
        await t.assertIncremental(assert, times, id, 6);
        await checkRecord(id, 'invoke-with-response-stream');
    });

    it('Converse', async () => {
        const id = t.testId();
        const res = await client({ 'x-llmgw-test-id': id }).send(
            new ConverseCommand(converseInput('Say hello to the tests')));
        assert.equal(res.output.message.role, 'assistant');
        assert.equal(res.output.message.content[0].text,
                     'Hello from the llmgw mock.');
        assert.equal(res.stopReason, 'end_turn');
        assert.deepEqual(res.usage, { inputTokens: 8, outputTokens: 6,
                                      totalTokens: 14 });
        await checkRecord(id, 'converse');
    });

    it('ConverseStream arrives incrementally, with usage', async () => {
        const id = t.testId();
        const res = await client({ 'x-llmgw-test-id': id }).send(
            new ConverseStreamCommand(converseInput('Say hello to the tests')));
        const times = [];
        const kinds = [];
        let text = '';
        let usage = null;
        for await (const ev of res.stream) {
            const kind = Object.keys(ev).find((k) => ev[k] !== undefined);
            kinds.push(kind);
            if (ev.contentBlockDelta) {
                times.push(Date.now());
                text += ev.contentBlockDelta.delta.text;
            }
            if (ev.metadata) {
                usage = ev.metadata.usage;
            }
        }
        assert.equal(text, 'Hello from the llmgw mock.');
        assert.deepEqual([kinds[0], ...kinds.slice(-3)],
                         ['messageStart', 'contentBlockStop', 'messageStop',
                          'metadata']);
        assert.deepEqual(usage, { inputTokens: 8, outputTokens: 6,
                                  totalTokens: 14 });
        await t.assertIncremental(assert, times, id, 6);
        await checkRecord(id, 'converse-stream');
    });

    it('a throttled call surfaces as ThrottlingException', async () => {
        await assert.rejects(
            client({ 'x-mock-fault': 'status-429' }).send(
                new ConverseCommand(converseInput('hello'))),
            (err) => {
                assert.ok(err instanceof ThrottlingException, String(err));
                assert.equal(err.$metadata.httpStatusCode, 429);
                return true;
            });
    });

    it('an exception frame mid-stream surfaces as ThrottlingException',
       async () => {
        const res = await client({ 'x-mock-fault': 'exception' }).send(
            new ConverseStreamCommand(converseInput('hello')));
        let deltas = 0;
        await assert.rejects(async () => {
            for await (const ev of res.stream) {
                if (ev.contentBlockDelta) {
                    deltas++;
                }
            }
        }, (err) => {
            assert.ok(err instanceof ThrottlingException, String(err));
            return true;
        });
        assert.ok(deltas >= 1 && deltas < 6, `${deltas} deltas first`);
    });
});

describe('Bedrock runtime SDK with SigV4 (direct mode only)',
         { skip: t.skipReason ?? (t.direct ? false : 'gateway mode') },
         () => {

    // the JS SDK's signer against the mock's botocore verifier
    for (const file of ['aws-credentials', 'aws-credentials-session']) {
        it(`Converse signed with ${file}`, async () => {
            const id = t.testId();
            const res = await client({ 'x-llmgw-test-id': id },
                                     t.awsCredentials(file))
                .send(new ConverseCommand(converseInput('hello')));
            assert.equal(res.output.message.content[0].text,
                         'Hello from the llmgw mock.');
            const rec = await checkRecord(id, 'converse');
            assert.equal(rec.auth.scheme, 'sigv4');
            assert.equal(rec.auth.session, file.endsWith('-session'));
        });

        it(`InvokeModelWithResponseStream signed with ${file}`, async () => {
            const res = await client({}, t.awsCredentials(file)).send(
                new InvokeModelWithResponseStreamCommand({
                    modelId: MODEL, contentType: 'application/json',
                    body: anthropicBody('hello') }));
            let n = 0;
            for await (const ev of res.body) {
                n += ev.chunk ? 1 : 0;
            }
            assert.equal(n, 11);
        });
    }

    it('a wrong secret key is refused', async () => {
        const c = t.awsCredentials('aws-credentials');
        c.secretAccessKey = 'x' + c.secretAccessKey.slice(1);
        await assert.rejects(
            client({}, c).send(new ConverseCommand(converseInput('hello'))),
            (err) => err.name === 'InvalidSignatureException'
                && err.$metadata.httpStatusCode === 403);
    });
});
