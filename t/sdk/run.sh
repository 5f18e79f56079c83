#!/bin/bash
# t/sdk/run.sh: the official provider SDKs (openai, @aws-sdk/client-bedrock-
# runtime, @google/genai) as clients, with node:test.
#
#   LLMGW_SDK_BASE=https://127.0.0.1:1993 LLMGW_SDK_TOKEN=<jwt> \
#   NODE_EXTRA_CA_CERTS=<test CA> t/sdk/run.sh      through the gateway
#
#   t/sdk/run.sh                                    direct mode: starts
#       t/mock/llmgw-mock on free ports (TLS, test CA from t/mock/certs.sh)
#       and points the SDKs straight at it with its fake credentials
#
# Other settings: see t/sdk/lib.mjs.  Extra arguments go to node --test.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mock_dir=$here/../mock

if [ ! -d "$here/node_modules" ]; then
    npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
fi

mock_pid=
work=
cleanup() {
    if [ -n "$mock_pid" ]; then
        kill "$mock_pid" 2>/dev/null || true
        wait "$mock_pid" 2>/dev/null || true
    fi
    if [ -n "$work" ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT

if [ -z "${LLMGW_SDK_BASE:-}" ]; then
    work=$(mktemp -d /tmp/llmgw-sdk.XXXXXX)
    "$mock_dir/certs.sh" "$work/certs"
    read -r port tls_port < <(/usr/bin/python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
    delay=${LLMGW_SDK_DELAY_MS:-50}
    "$mock_dir/llmgw-mock" --port "$port" --tls-port "$tls_port" \
        --certs "$work/certs" --secrets "$mock_dir/secrets" \
        --delay-ms "$delay" 2> "$work/mock.log" &
    mock_pid=$!
    for _ in $(seq 1 100); do
        if curl -sf "http://127.0.0.1:$port/__mock/health" >/dev/null 2>&1
        then
            break
        fi
        if ! kill -0 "$mock_pid" 2>/dev/null; then
            cat "$work/mock.log" >&2
            echo "run.sh: the mock did not start" >&2
            exit 1
        fi
        sleep 0.1
    done
    if [ "${LLMGW_SDK_DIRECT_SCHEME:-https}" = http ]; then
        export LLMGW_SDK_BASE=http://127.0.0.1:$port
    else
        export LLMGW_SDK_BASE=https://127.0.0.1:$tls_port
        export NODE_EXTRA_CA_CERTS=$work/certs/ca.crt
    fi
    export LLMGW_SDK_DIRECT=1 LLMGW_SDK_DELAY_MS=$delay
    echo "# direct mode: SDKs -> mock at $LLMGW_SDK_BASE"
fi

rc=0
node --test "$@" "$here"/*.test.mjs || rc=$?
if [ $rc -ne 0 ] && [ -n "$work" ] && [ -s "$work/mock.log" ]; then
    echo "# mock log (last 40 lines):"
    tail -40 "$work/mock.log" | sed 's/^/# /'
fi
exit $rc
