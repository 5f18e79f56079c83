#!/bin/bash
# Copyright (C) llmgw authors
#
# make bench: wrk against nginx on 127.0.0.1, every row in one run, so the
# ratios against the plain row compare like with like.
#
#   bench/run.sh NGINX MODULE_SO
#
# LLMGW_BENCH_SECONDS (default 10) per row, LLMGW_BENCH_CONNECTIONS
# (default 32).  One nginx worker, one wrk thread: on a 2-core machine each
# gets a core.  Uncached rows turn the token cache off and cycle through
# 2000 distinct tokens, so every request verifies a signature.

set -euo pipefail

nginx=$1
module=$2
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${LLMGW_BENCH_SECONDS:-10}
conns=${LLMGW_BENCH_CONNECTIONS:-32}
work=$root/build/bench
keys=$work/keys
port=${LLMGW_BENCH_PORT:-18480}

rm -rf "$work/prefix"
mkdir -p "$work/prefix/logs" "$work/prefix/html" "$work/tokens"
printf '{"ok":true}\n' > "$work/prefix/html/ok.json"

"$root/tools/llmgw-keygen" -q "$keys"

mint() {    # name, then llmgw-token options
    local name=$1
    shift
    [ -s "$work/tokens/$name" ] && [ "$(find "$work/tokens/$name" -mmin -50)" ] \
        && return
    "$root/tools/llmgw-token" --exp 3600 --scope text "$@" \
        > "$work/tokens/$name"
}

echo "bench: minting tokens"
mint rs256-one --key "$keys/rsa.key"
mint rs256 --key "$keys/rsa.key" --count 2000
mint ps256 --key "$keys/rsa.key" --alg PS256 --kid rsa1-ps --count 2000
mint es256 --key "$keys/ec256.key" --count 2000
mint eddsa --key "$keys/ed25519.key" --count 2000

cat > "$work/prefix/nginx.conf" <<_EOC_
load_module $module;
worker_processes 1;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/json;
    llmgw_token_cache_zone bench_tokens:16m;

    llmgw_scopes {
        all   text audio;
        text  claude;
    }

    server {
        listen 127.0.0.1:$port;
        root html;

        location = /plain { alias html/ok.json; }

        location /jwt/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope claude;

            location = /jwt/cached { alias html/ok.json; }
            location = /jwt/uncached {
                llmgw_token_cache off;
                alias html/ok.json;
            }
        }
    }
}
_EOC_

"$nginx" -p "$work/prefix" -c "$work/prefix/nginx.conf" \
    -e "$work/prefix/logs/error.log"
trap '"$nginx" -p "$work/prefix" -c "$work/prefix/nginx.conf" \
          -e "$work/prefix/logs/error.log" -s quit 2>/dev/null || true' EXIT
sleep 0.5

# row name, url, token file or "-"; prints "name rps p99"
row() {
    local name=$1 url=$2 tokens=$3 out rps p99 code hdr=()

    if [ "$tokens" != - ]; then
        hdr=(-H "Authorization: Bearer $(head -1 "$tokens")")
    fi

    code=$(curl -s -o /dev/null -w '%{http_code}' "${hdr[@]}" "$url")
    if [ "$code" != 200 ]; then
        echo "bench: $name answered $code, not 200" >&2
        exit 1
    fi

    # one token: wrk's static request; several: the script cycles them
    if [ "$tokens" = - ] || [ "$(wc -l < "$tokens")" = 1 ]; then
        out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "${hdr[@]}" "$url")
    else
        out=$(LLMGW_BENCH_TOKENS=$tokens \
              wrk -t1 -c"$conns" -d"${secs}s" --latency \
                  -s "$root/bench/tokens.lua" "$url")
    fi
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<< "$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<< "$out")
    echo "$name $rps $p99"
}

base="http://127.0.0.1:$port"

echo "bench: ${secs}s a row, $conns connections, 1 nginx worker, 1 wrk thread"

results=$(
    row "a:no-auth" "$base/plain" -
    row "b:RS256-cached" "$base/jwt/cached" "$work/tokens/rs256-one"
    row "c:RS256-uncached" "$base/jwt/uncached" "$work/tokens/rs256"
    row "d:PS256-uncached" "$base/jwt/uncached" "$work/tokens/ps256"
    row "d:ES256-uncached" "$base/jwt/uncached" "$work/tokens/es256"
    row "d:EdDSA-uncached" "$base/jwt/uncached" "$work/tokens/eddsa"
)

verify=$(openssl speed -seconds 2 rsa2048 2>/dev/null \
         | awk '/^rsa 2048 bits/ { print $5 }' | tr -d s)

awk -v verify="$verify" '
    NR == 1 { base = $2 }
    { rows[NR] = $0; rps[NR] = $2; p99[NR] = $3; name[NR] = $1 }
    END {
        printf "\n%-20s %12s %8s %10s %14s\n", "row", "req/s", "ratio",
               "p99", "added us/req"
        for (i = 1; i <= NR; i++) {
            added = (1e6 / rps[i]) - (1e6 / base)
            printf "%-20s %12.0f %8.3f %10s %14.1f\n", name[i], rps[i],
                   rps[i] / base, p99[i], added
        }
        printf "\nopenssl speed rsa2048: verify %.1f us; target for row c: " \
               "added <= %.1f us (1.3x)\n", verify * 1e6, verify * 1.3e6
        printf "target for row b: ratio >= 0.90\n"
    }' <<< "$results"
