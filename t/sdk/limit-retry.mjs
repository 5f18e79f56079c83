// The openai SDK's own retry on the gateway's 429 (run by t/limit-sdk.t,
// not by node --test: its gateway has a limit the other SDK tests would
// hit).  The location allows one chat a second per user (GCRA, no
// burst).  The SDK reads retry-after-ms first and, when it is under a
// minute, waits exactly that long before it tries again (maxRetries);
// with maxRetries 0 the 429 reaches the caller as a RateLimitError with
// the gateway's headers and JSON error.
//
// Environment: LLMGW_SDK_BASE (http://127.0.0.1:PORT), LLMGW_SDK_TOKEN.
// Prints one JSON object of findings; t/limit-sdk.t checks them.

import { AzureOpenAI, RateLimitError } from 'openai';

const attempts = [];

// every HTTP attempt the SDK makes: when, and what came back
async function recordingFetch(url, init) {
    const start = Date.now();
    const res = await fetch(url, init);
    attempts.push({ start, status: res.status,
                    retryAfterMs: res.headers.get('retry-after-ms'),
                    retryAfter: res.headers.get('retry-after') });
    return res;
}

function client(maxRetries) {
    return new AzureOpenAI({
        endpoint: process.env.LLMGW_SDK_BASE + '/azure-openai',
        apiKey: process.env.LLMGW_SDK_TOKEN,
        apiVersion: '2024-10-21',
        maxRetries,
        timeout: 30000,
        fetch: recordingFetch,
    });
}

const messages = [{ role: 'user', content: 'hello' }];
const out = {};

// 1. two at once: the second is refused, waits retry-after-ms, retries
await client(0).chat.completions.create({ model: 'gpt-4o', messages });
attempts.length = 0;

const t0 = Date.now();
const res = await client(2).chat.completions.create({ model: 'gpt-4o',
                                                     messages });
out.retried = {
    content: res.choices[0].message.content,
    statuses: attempts.map((a) => a.status),
    retryAfterMs: Number(attempts[0].retryAfterMs),
    gapMs: attempts.length > 1 ? attempts[1].start - attempts[0].start
                                : null,
    totalMs: Date.now() - t0,
};

// 2. no retries: the caller gets the 429 as a RateLimitError
attempts.length = 0;

try {
    await client(0).chat.completions.create({ model: 'gpt-4o', messages });
    out.refused = { thrown: false };
} catch (err) {
    out.refused = {
        thrown: true,
        rateLimitError: err instanceof RateLimitError,
        status: err.status,
        retryAfter: err.headers?.get?.('retry-after') ?? null,
        message: err.error?.message ?? null,
        code: err.error?.code ?? err.code ?? null,
        attempts: attempts.length,
    };
}

console.log(JSON.stringify(out));
