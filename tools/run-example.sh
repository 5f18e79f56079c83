#!/bin/bash
# Copyright (C) llmgw authors
#
# make run / make stop: the example gateway on 127.0.0.1 under a local
# prefix (never /etc/nginx), with the mock provider standing in for Azure
# OpenAI, Bedrock and Gemini.
#
#   tools/run-example.sh NGINX MODULE_SO PREFIX
#   tools/run-example.sh --stop PREFIX

set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

stop() {
    local prefix=$1

    if [ -f "$prefix/logs/nginx.pid" ]; then
        kill -QUIT "$(cat "$prefix/logs/nginx.pid")" 2>/dev/null || true
    fi

    if [ -f "$prefix/logs/mock.pid" ]; then
        kill "$(cat "$prefix/logs/mock.pid")" 2>/dev/null || true
        rm -f "$prefix/logs/mock.pid"
    fi
}

if [ "${1:-}" = --stop ]; then
    stop "$2"
    echo "stopped"
    exit 0
fi

nginx=$1
module=$2
prefix=$3
conf=$prefix/conf

stop "$prefix"
sleep 0.3

mkdir -p "$conf" "$prefix/logs" "$prefix/modules"
cp "$module" "$prefix/modules/ngx_http_llmgw_module.so"
cp "$root/examples/nginx.conf" "$root/examples/scopes.conf" \
   "$root/examples/prices.conf" "$conf/"
rm -rf "$conf/apis"
cp -r "$root/examples/apis" "$conf/apis"

"$root/tools/llmgw-keygen" -q "$conf/keys"
"$root/t/mock/certs.sh" "$conf/certs" > /dev/null
# the audit chain's key: made once, readable by the master only
if [ ! -s "$conf/audit-chain.key" ]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' \
        > "$conf/audit-chain.key")
fi
rm -rf "$conf/secrets"
cp -r "$root/t/mock/secrets" "$conf/secrets"
chmod 0700 "$conf/secrets"

# the mock provider: what the upstream llmgw_mock of the example points at
/usr/bin/python3 "$root/t/mock/llmgw-mock" --port 8091 \
    --secrets "$conf/secrets" --pid-file "$prefix/logs/mock.pid" \
    > "$prefix/logs/mock.log" 2>&1 &

for _ in $(seq 50); do
    curl -sf http://127.0.0.1:8091/__mock/health > /dev/null && break
    sleep 0.1
done

"$nginx" -t -q -p "$prefix" -c "$conf/nginx.conf" -e "$prefix/logs/error.log"
"$nginx" -p "$prefix" -c "$conf/nginx.conf" -e "$prefix/logs/error.log"

keys=${conf#"$root"/}/keys
cat <<_EOM_
llmgw is running on http://127.0.0.1:8080 (and https://127.0.0.1:8443,
HTTP/2, certificate from $conf/certs/ca.crt), providers mocked on
127.0.0.1:8091. Logs: $prefix/logs/.

Mint a token with the text scope (all text APIs, no audio):

  TOKEN=\$(tools/llmgw-token --key $keys/rsa.key --iss https://idp.example.com/ \\
          --aud llmgw --sub alice --scope text --exp 3600)

Call Azure OpenAI chat completions and Gemini the way the SDKs do:

  curl -s http://127.0.0.1:8080/azure-openai/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21 \\
       -H "api-key: \$TOKEN" -H 'content-type: application/json' \\
       -d '{"messages":[{"role":"user","content":"Hello"}]}'

  curl -s http://127.0.0.1:8080/gemini/v1beta/models/gemini-2.0-flash:generateContent \\
       -H "x-goog-api-key: \$TOKEN" -H 'content-type: application/json' \\
       -d '{"contents":[{"parts":[{"text":"Hello"}]}]}'

Speech needs openai.tts (under audio): this one is refused with 403 insufficient_scope:

  curl -si http://127.0.0.1:8080/azure-openai/openai/deployments/whisper/audio/speech?api-version=2024-10-21 \\
       -H "api-key: \$TOKEN" -H 'content-type: application/json' -d '{"input":"hi","voice":"alloy"}'

Stop with: make stop
_EOM_
