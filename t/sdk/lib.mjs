// Shared configuration and helpers of the SDK tests (not a test file).
//
// Environment:
//   LLMGW_SDK_BASE        base URL of the gateway (or of the mock in direct
//                         mode), e.g. https://127.0.0.1:1993
//   LLMGW_SDK_TOKEN       the JWT every SDK sends as its key (gateway mode)
//   LLMGW_SDK_DIRECT=1    point the SDKs straight at the mock, with the
//                         mock's fake provider credentials (t/mock/secrets)
//   LLMGW_SDK_SECRETS     secrets directory for direct mode
//                         (default: t/mock/secrets)
//   LLMGW_SDK_BEDROCK_BASE  base URL for the Bedrock client if it differs
//                         (the gateway's TLS + HTTP/2 listener)
//   LLMGW_SDK_MOCK        the mock's own base URL (its /__mock/ endpoints);
//                         optional in gateway mode, LLMGW_SDK_BASE in direct
//   LLMGW_SDK_DELAY_MS    the mock's --delay-ms (default 50)
//   LLMGW_SDK_AZURE_PREFIX, LLMGW_SDK_BEDROCK_PREFIX, LLMGW_SDK_GEMINI_PREFIX
//                         gateway location prefixes (defaults /azure-openai,
//                         /bedrock-claude, /gemini; empty in direct mode)
//   NODE_EXTRA_CA_CERTS   the test CA when a base URL is https

import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;

export const direct = env.LLMGW_SDK_DIRECT === '1';
export const base = (env.LLMGW_SDK_BASE || '').replace(/\/+$/, '');
export const bedrockBase =
    (env.LLMGW_SDK_BEDROCK_BASE || base).replace(/\/+$/, '');
export const mockBase =
    (env.LLMGW_SDK_MOCK || (direct ? base : '')).replace(/\/+$/, '');
export const delayMs = Number(env.LLMGW_SDK_DELAY_MS || 50);

function prefix(name, dflt) {
    const v = env[name];
    if (v !== undefined) {
        return v.replace(/\/+$/, '');
    }
    return direct ? '' : dflt;
}

export const azurePrefix = prefix('LLMGW_SDK_AZURE_PREFIX', '/azure-openai');
export const bedrockPrefix =
    prefix('LLMGW_SDK_BEDROCK_PREFIX', '/bedrock-claude');
export const geminiPrefix = prefix('LLMGW_SDK_GEMINI_PREFIX', '/gemini');

// why the suite cannot run, or null
export const skipReason = !base
    ? 'LLMGW_SDK_BASE is not set (t/sdk/run.sh starts a mock for you)'
    : (!direct && !env.LLMGW_SDK_TOKEN
        ? 'LLMGW_SDK_TOKEN is not set (gateway mode needs a JWT)' : null);

const secretsDir = env.LLMGW_SDK_SECRETS || join(here, '..', 'mock',
                                                  'secrets');

function secretFile(name) {
    return readFileSync(join(secretsDir, name), 'utf8').trim();
}

// the credential each SDK sends: the JWT through the gateway, the
// provider's (fake) key straight to the mock
export function credential(provider) {
    if (!direct) {
        return env.LLMGW_SDK_TOKEN;
    }
    return secretFile({ azure: 'azure.key', gemini: 'gemini.key',
                        openai: 'openai.key',
                        bedrock: 'bedrock-api.key' }[provider]);
}

// AWS keys from t/mock/secrets/aws-credentials[-session] (direct mode)
export function awsCredentials(file) {
    const out = {};
    for (const line of readFileSync(join(secretsDir, file), 'utf8')
        .split('\n'))
    {
        const m = line.match(/^\s*([a-z_]+)\s*=\s*(\S+)\s*$/);
        if (m) {
            out[m[1]] = m[2];
        }
    }
    const c = { accessKeyId: out.aws_access_key_id,
                secretAccessKey: out.aws_secret_access_key };
    if (out.aws_session_token) {
        c.sessionToken = out.aws_session_token;
    }
    return c;
}

export function testId() {
    return 'sdk-' + randomUUID();
}

export function sha256hex(buf) {
    return createHash('sha256').update(buf).digest('hex');
}

// The mock's record of the request carrying x-llmgw-test-id: id; null
// when no mock URL is known.  With a mock URL the record must be there (the
// gateway has to pass x-llmgw-test-id through).
export async function mockRecord(id) {
    if (!mockBase) {
        return null;
    }
    const res = await fetch(mockBase + '/__mock/requests');
    if (!res.ok) {
        throw new Error('mock /__mock/requests: ' + res.status);
    }
    const list = await res.json();
    for (const r of list) {
        for (const [k, v] of r.headers) {
            if (k.toLowerCase() === 'x-llmgw-test-id' && v === id) {
                return r;
            }
        }
    }
    throw new Error(`the mock at ${mockBase} has no request with ` +
                    `x-llmgw-test-id: ${id}`);
}

// A mono 16-bit PCM WAV of about `bytes` bytes: a 440 Hz tone.
export function makeWav(bytes) {
    const rate = 16000;
    const samples = Math.floor((bytes - 44) / 2);
    const buf = Buffer.alloc(44 + samples * 2);
    buf.write('RIFF', 0);
    buf.writeUInt32LE(36 + samples * 2, 4);
    buf.write('WAVE', 8);
    buf.write('fmt ', 12);
    buf.writeUInt32LE(16, 16);
    buf.writeUInt16LE(1, 20);
    buf.writeUInt16LE(1, 22);
    buf.writeUInt32LE(rate, 24);
    buf.writeUInt32LE(rate * 2, 28);
    buf.writeUInt16LE(2, 32);
    buf.writeUInt16LE(16, 34);
    buf.write('data', 36);
    buf.writeUInt32LE(samples * 2, 40);
    for (let i = 0; i < samples; i++) {
        buf.writeInt16LE(
            Math.round(9000 * Math.sin(2 * Math.PI * 440 * i / rate)),
            44 + i * 2);
    }
    return buf;
}

// Streamed parts arrived one by one: the first and the last are several
// mock delays apart, and (when the mock's record is at hand) the first
// reached us before the mock wrote its last event.
export async function assertIncremental(assert, times, id, minParts) {
    assert.ok(times.length >= minParts,
              `at least ${minParts} streamed parts, got ${times.length}`);
    const span = times[times.length - 1] - times[0];
    const need = 3 * delayMs * 0.8;
    assert.ok(span >= need,
              `first to last part ${span} ms, expected >= ${need} ms ` +
              '(parts were buffered, not streamed)');
    const rec = await mockRecord(id);
    if (rec !== null) {
        assert.ok(rec.events.length >= minParts,
                  `mock wrote ${rec.events.length} events`);
        const lastWrite = rec.events[rec.events.length - 1] * 1000;
        assert.ok(times[0] < lastWrite,
                  `first part at ${times[0]} arrived before the mock ` +
                  `wrote its last event at ${lastWrite}`);
    }
    return rec;
}
