// openai's AzureOpenAI client with DPoP (RFC 9449): a custom fetch signs a
// proof for every request (ES256, Node's crypto) and presents the bound
// token with the DPoP scheme.  Gateway mode only: LLMGW_SDK_DPOP_TOKEN (a
// token whose cnf.jkt is the key's thumbprint) and LLMGW_SDK_DPOP_KEY (the
// client's PEM private key) set by t/sdk.t; LLMGW_SDK_DPOP_PREFIX is the
// location that requires DPoP.

import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, randomUUID,
         sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import { AzureOpenAI } from 'openai';

import * as t from './lib.mjs';

const env = process.env;
const API_VERSION = '2024-10-21';
const prefix = (env.LLMGW_SDK_DPOP_PREFIX || '/dpop-azure-openai')
    .replace(/\/+$/, '');

const skip = t.skipReason ?? (t.direct || !env.LLMGW_SDK_DPOP_TOKEN
                              || !env.LLMGW_SDK_DPOP_KEY
    ? 'DPoP needs the gateway, LLMGW_SDK_DPOP_TOKEN and LLMGW_SDK_DPOP_KEY'
    : false);

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// the proof of RFC 9449 section 4.2 for one request
function proof(key, jwk, method, url, token) {
    const u = new URL(url);
    const header = { typ: 'dpop+jwt', alg: 'ES256', jwk };
    const claims = {
        jti: randomUUID(), htm: method, htu: u.origin + u.pathname,
        iat: Math.floor(Date.now() / 1000),
        ath: b64url(createHash('sha256').update(token).digest()),
    };
    const input = b64url(JSON.stringify(header)) + '.'
                  + b64url(JSON.stringify(claims));
    const sig = sign('sha256', Buffer.from(input),
                     { key, dsaEncoding: 'ieee-p1363' });
    return input + '.' + b64url(sig);
}

// a fetch that adds Authorization: DPoP and a fresh proof, and keeps
// count of the proofs it made
function dpopFetch(token, pem, proofs) {
    const key = createPrivateKey(pem);
    const { kty, crv, x, y } = createPublicKey(key).export({ format: 'jwk' });
    const jwk = { kty, crv, x, y };
    return async (url, init = {}) => {
        const headers = new Headers(init.headers);
        const method = (init.method || 'GET').toUpperCase();
        headers.delete('api-key');
        headers.set('authorization', 'DPoP ' + token);
        headers.set('dpop', proof(key, jwk, method, String(url), token));
        proofs.push(method);
        return fetch(url, { ...init, headers });
    };
}

function client(fetchFn) {
    return new AzureOpenAI({
        endpoint: t.base + prefix,
        apiKey: 'unused: the custom fetch sends the DPoP token',
        apiVersion: API_VERSION,
        maxRetries: 0,
        timeout: 30000,
        fetch: fetchFn,
    });
}

const messages = [{ role: 'user', content: 'Say hello to the gateway tests' }];

describe('Azure OpenAI SDK with DPoP', { skip }, () => {

    it('chat completions, a fresh proof each, never forwarded', async () => {
        const proofs = [];
        const pem = readFileSync(env.LLMGW_SDK_DPOP_KEY);
        const c = client(dpopFetch(env.LLMGW_SDK_DPOP_TOKEN, pem, proofs));

        for (let i = 0; i < 2; i++) {
            const id = t.testId();
            const res = await c.chat.completions.create(
                { model: 'gpt-4o', messages },
                { headers: { 'x-llmgw-test-id': id } });
            assert.equal(res.choices[0].message.content,
                         'Hello from the llmgw mock.');
            const rec = await t.mockRecord(id);
            if (rec !== null) {
                const names = rec.headers.map(([k]) => k.toLowerCase());
                assert.equal(names.includes('dpop'), false);
                assert.equal(rec.auth.verdict, 'ok');
                assert.equal(rec.auth.scheme, 'api-key');
                assert.equal(rec.jwt_in, null);
            }
        }

        assert.deepEqual(proofs, ['POST', 'POST']);
    });
});
