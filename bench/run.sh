#!/bin/bash
# Copyright (C) llmgw authors
#
# make bench: wrk against nginx on 127.0.0.1, every row in one run, so the
# ratios against the plain row compare like with like.
#
#   bench/run.sh NGINX MODULE_SO
#
# Row a is the request of row b (same Authorization header, ~480 bytes)
# to a location without auth: the ratios measure the checks, not the
# parsing of a longer request.
#
# LLMGW_BENCH_SECONDS (default 4) per row and round, LLMGW_BENCH_ROUNDS
# (default 5; medians reported), LLMGW_BENCH_CONNECTIONS (default 32),
# LLMGW_BENCH_ONLY (a regex of row names, e.g. '^[abc]:'),
# LLMGW_BENCH_TTFB_N (default 1000), LLMGW_BENCH_CG=0 (no callgrind
# count), LLMGW_BENCH_PIN=0 (no CPU pinning), LLMGW_BENCH_IDLE_POLL=0
# (idle CPUs may halt), LLMGW_BENCH_PERF=1 (row c's added time by
# library, with perf), LLMGW_BENCH_STREAM_MB (default 100, the memory
# row's stream), LLMGW_BENCH_PORT (default 18480, and the next four).
# One nginx worker, one wrk thread.  Uncached rows turn the token cache
# off and cycle through 2000 distinct tokens, so every request verifies a
# signature.  Row h is row g with the audit on (buffered, chained), set
# against row g.  Row i is row g with the account state check on, against
# a zone that holds one million revoked jti (loaded from a state file made
# once), set against row g.  Row j is row g with a shared-memory limit
# (llmgw_limit, a GCRA rate that never refuses, its RateLimit fields on
# every response), set against row g.  Row k is row g with the same rate
# in Redis (llmgw_limit_zone ... redis, a redis-server of the bench's own
# on CPU 0), row l the same location with that Redis stopped (down=open,
# timeout=50ms), both set against row g; Redis is started again after row
# l, for the next round.  After the rows: time to the first
# Row n is row g with llmgw_clients (100000 registered clients; the
# token's "all" cut to its client's ceiling "text", which 1000 records of
# the admin API in the state zone override, its client's among them: the
# ceiling is looked up there first), set against g.  Row o
# is row k's location with a token budget in Redis (reserved once the body
# is read, settled in the log phase), set against g.
# streamed body byte with usage extraction on and off (bench/ttfb.py), and
# the worker's RSS while a 100 MiB stream passes with usage on.
# Rows m are two cached RS256 tokens on one TLS listener with client
# certificates (ssl_verify_client optional_no_ca): a bearer token, and
# one bound to the client's certificate (cnf.x5t#S256, checked on every
# request); wrk cannot present a client certificate, so it talks plain
# HTTP to a proxy in the upstream nginx that holds one, over kept-alive
# TLS connections to the gateway.  The bound row is set against the
# bearer row.

set -euo pipefail

nginx=$1
module=$2
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${LLMGW_BENCH_SECONDS:-4}
conns=${LLMGW_BENCH_CONNECTIONS:-32}
work=$root/build/bench
keys=$work/keys
port=${LLMGW_BENCH_PORT:-18480}
up_port=$((port + 1))
mock_port=$((port + 2))
redis_port=$((port + 3))
client_port=$((port + 4))
tls_port=$((port + 5))

# On 2 or more CPUs the gateway's worker has CPU 1 to itself; wrk and the
# upstream's worker share CPU 0, so every row runs on the same placement
# (LLMGW_BENCH_PIN=0 leaves it to the scheduler).
affinity= up_affinity= pin=() speed_pin=()
if [ "${LLMGW_BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
    affinity="worker_cpu_affinity 10;"
    up_affinity="worker_cpu_affinity 01;"
    pin=(taskset -c 0)
    speed_pin=(taskset -c 1)
fi

rm -rf "$work/prefix" "$work/upstream" "$work/redis"
mkdir -p "$work/prefix/logs" "$work/prefix/html" "$work/jwt" \
         "$work/upstream/logs" "$work/upstream/html" "$work/redis"
printf '{"ok":true}\n' > "$work/prefix/html/ok.json"
printf 'bench-provider-key' > "$work/prefix/provider.key"
printf 'bench-audit-chain-key-0123456789abcdefghijklmnop\n' \
    > "$work/prefix/audit-chain.key"

# the upstream every proxy row talks to: another nginx, one worker,
# a small JSON body like a provider's error or embedding answer
printf '{"object":"list","data":[{"embedding":[0.1,0.2,0.3]}]}\n' \
    > "$work/upstream/html/v1.json"

cat > "$work/upstream/nginx.conf" <<_EOC_
worker_processes 1;
$up_affinity
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/json;
    keepalive_requests 100000;
    types { text/event-stream sse; }
    # rows k: the client with a certificate, in front of the gateway's
    # TLS listener
    upstream tls_gateway {
        server 127.0.0.1:$tls_port;
        keepalive 64;
    }

    server {
        listen 127.0.0.1:$client_port;
        location / {
            proxy_pass https://tls_gateway;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_ssl_certificate $work/tls/client.crt;
            proxy_ssl_certificate_key $work/tls/client.key;
        }
    }

    server {
        listen 127.0.0.1:$up_port;
        location / { try_files /v1.json =404; root html; }

        # the memory row's 100 MB stream, for a POST (the static module
        # answers 405 to one, turned into the file by a GET redirect)
        location /openai/ { return 405; error_page 405 =200 /big.sse; }
        location = /big.sse { root html; }
    }
}
_EOC_

"$root/tools/llmgw-keygen" -q "$keys"

# the memory row's stream, made once and kept
big_mib=${LLMGW_BENCH_STREAM_MB:-100}
if [ ! -s "$work/big-$big_mib.sse" ]; then
    echo "bench: writing a $big_mib MiB SSE stream"
    /usr/bin/python3 "$root/bench/sse-file.py" "$work/big-$big_mib.sse" \
        "$big_mib" > /dev/null
fi
ln "$work/big-$big_mib.sse" "$work/upstream/html/big.sse"

# row i's state file: one million revoked jti (none of them a bench
# token's), made once and kept
if [ ! -s "$work/state-1m.jsonl" ]; then
    echo "bench: writing a state file of 1000000 revoked jti"
    /usr/bin/python3 - "$work/state-1m.jsonl" <<'_EOP_'
import hashlib, sys, time
exp = int(time.time()) + 10 * 365 * 86400
with open(sys.argv[1], 'w') as f:
    f.write('{"llmgw_state":1}\n')
    for n in range(1000000):
        h = hashlib.sha256(b'bench-revoked-%d' % n).hexdigest()
        f.write('{"jti_hash":"%s","exp":%d}\n' % (h, exp))
_EOP_
fi
cp "$work/state-1m.jsonl" "$work/prefix/state.jsonl"

# and 1000 client records of the admin API, row n's client among them: its
# ceiling comes from the state zone (a lookup under the lock), not the file
awk 'BEGIN { for (i = 49500; i < 50500; i++)
                 printf "{\"registered_client\":\"bench-client-%d\"," \
                        "\"status\":\"approved\",\"ceiling\":\"text\"," \
                        "\"pending_ceiling\":\"\"}\n", i }' \
    >> "$work/prefix/state.jsonl"

# row k: 100000 registered clients
awk 'BEGIN { print "client_id,status,ceiling,pending_ceiling"
             for (i = 0; i < 100000; i++)
                 printf "bench-client-%d,approved,text,\n", i }' \
    > "$work/prefix/clients.csv"

mint() {    # name, then llmgw-token options
    local name=$1
    shift
    [ -s "$work/jwt/$name" ] && [ "$(find "$work/jwt/$name" -mmin -50)" ] \
        && return
    "$root/tools/llmgw-token" --exp 3600 --scope text \
        --iss https://idp.example.com/ --aud llmgw "$@" \
        > "$work/jwt/$name"
}

# rows k: a server and a client certificate, made once and kept; the
# bound token names the client's (its SHA-256 thumbprint)
if [ ! -s "$work/tls/client.crt" ]; then
    mkdir -p "$work/tls"
    for c in server client; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
            -nodes -keyout "$work/tls/$c.key" -out "$work/tls/$c.crt" \
            -subj "/CN=bench-$c" -days 3650 2> /dev/null
    done
    rm -f "$work/jwt/rs256-bound"
fi
x5t=$(openssl x509 -in "$work/tls/client.crt" -outform DER \
      | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=')

echo "bench: minting tokens"
# a sub and a jti: row i looks both up (the other rows ignore them)
mint rs256-one --key "$keys/rsa.key" --sub bench-user --jti bench-jti-1
mint rs256-bound --key "$keys/rsa.key" --sub bench-user --jti bench-jti-2 \
    --claim "cnf={\"x5t#S256\":\"$x5t\"}"
mint rs256-client --key "$keys/rsa.key" --sub bench-user --scope all \
    --claim client_id='"bench-client-50000"'
mint rs256 --key "$keys/rsa.key" --count 2000
mint ps256 --key "$keys/rsa.key" --alg PS256 --kid rsa1-ps --count 2000
mint es256 --key "$keys/ec256.key" --count 2000
mint eddsa --key "$keys/ed25519.key" --count 2000

# row d of the instructions: a token bound to ec256's key (cnf.jkt), and
# one ES256 proof per request for /jwt/dpop ("TOKEN<tab>PROOF" lines; a
# proof is good once, so as many as requests are counted)
mint dpop-token --key "$keys/rsa.key" --sub bench-user \
    --claim "cnf={\"jkt\":\"$("$root/tools/llmgw-dpop" --key "$keys/ec256.key" --jkt)\"}"
if [ ! -s "$work/jwt/dpop" ] || [ -z "$(find "$work/jwt/dpop" -mmin -50)" ] \
    || [ "$work/jwt/dpop-token" -nt "$work/jwt/dpop" ] \
    || [ "$(wc -l < "$work/jwt/dpop")" -lt "${LLMGW_BENCH_CG_REQUESTS:-1000}" ]
then
    "$root/tools/llmgw-dpop" --key "$keys/ec256.key" \
        --htu "http://127.0.0.1:$port/jwt/dpop" \
        --token "$(cat "$work/jwt/dpop-token")" \
        --count "${LLMGW_BENCH_CG_REQUESTS:-1000}" \
        | sed "s/^/$(cat "$work/jwt/dpop-token")\t/" > "$work/jwt/dpop"
fi

cat > "$work/prefix/nginx.conf" <<_EOC_
load_module $module;
worker_processes 1;
$affinity
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/json;
    llmgw_token_cache_zone bench_tokens:16m;
    llmgw_dpop_zone bench_dpop:16m;
    llmgw_jwt_issuer https://idp.example.com/;
    llmgw_jwt_audience llmgw;
    keepalive_requests 100000;
    log_format bench_usage '\$status \$llmgw_usage_source'
                           ' \$llmgw_usage_output_tokens \$body_bytes_sent';

    upstream bench_upstream {
        server 127.0.0.1:$up_port;
        keepalive 64;
    }

    llmgw_audit_chain key=audit-chain.key;
    llmgw_audit_zone bench_audit:1m;
    llmgw_limit_zone bench_limits:1m;

    # rows k and l: a limit in Redis, which row l stops
    llmgw_redis 127.0.0.1:$redis_port backoff=50ms:200ms;
    llmgw_limit_zone bench_redis:1m redis timeout=50ms down=open;

    # row i: 1M revoked jti take 122 MiB
    llmgw_state_zone bench_state:160m;
    llmgw_state_file state.jsonl;

    llmgw_scopes {
        all   text audio;
        text  claude;
    }

    # row k alone cuts scopes to a client's ceiling
    llmgw_clients clients.csv;
    llmgw_client_ceiling off;

    server {
        listen 127.0.0.1:$port;
        root html;

        location = /plain { alias html/ok.json; }

        location /proxy/ {
            proxy_pass http://bench_upstream/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        location /pass/ {
            llmgw_provider openai;
            llmgw_pass_api_key file=provider.key;
            llmgw_pass http://bench_upstream;
        }

        location /full/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope claude;
            llmgw_state off;
            llmgw_provider openai;
            llmgw_pass_api_key file=provider.key;
            llmgw_pass http://bench_upstream;
        }

        # row g with the audit: a buffered, chained file
        location /full-audit/ {
            llmgw_audit logs/audit.log buffer=64k flush=1s;
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope claude;
            llmgw_state off;
            llmgw_provider openai;
            llmgw_pass_api_key file=provider.key;
            llmgw_pass http://bench_upstream;
        }

        # row g with the account state check, 1M revoked jti in the zone
        location /full-state/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope claude;
            llmgw_provider openai;
            llmgw_pass_api_key file=provider.key;
            llmgw_pass http://bench_upstream;
        }

        # row g with a client ceiling: the token's all cut to text
        location /full-clients/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope claude;
            llmgw_state off;
            llmgw_client_ceiling on;
            llmgw_provider openai;
            llmgw_pass_api_key file=provider.key;
            llmgw_pass http://bench_upstream;
        }

        # row g with a limit: one key, taken and answered on every request
        location /full-limit/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope claude;
            llmgw_limit bench zone=bench_limits key=\$llmgw_claim_iss
                        rate=1000000r/s burst=1000000;
            llmgw_provider openai;
            llmgw_pass_api_key file=provider.key;
            llmgw_pass http://bench_upstream;
        }

        # row g with the limit of row j in Redis (rows k and l)
        location /full-redis/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope claude;
            llmgw_state off;
            llmgw_limit bench-redis zone=bench_redis key=\$llmgw_claim_iss
                        rate=1000000r/s burst=1000000;
            llmgw_provider openai;
            llmgw_pass_api_key file=provider.key;
            llmgw_pass http://bench_upstream;
        }

        # row k's location with a token budget in Redis instead (row o):
        # reserved after the body is read, settled in the log phase
        location /full-redis-budget/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope claude;
            llmgw_state off;
            llmgw_limit bench-tokens zone=bench_redis key=\$llmgw_claim_iss
                        tokens=1000000000/minute estimate=10;
            llmgw_provider openai;
            llmgw_pass_api_key file=provider.key;
            llmgw_pass http://bench_upstream;
        }

        location /stream/ {
            llmgw_provider azure_openai;
            llmgw_pass_api_key file=secrets/azure.key;
            llmgw_pass http://127.0.0.1:$mock_port;
            llmgw_pass_usage on;
            access_log logs/stream-on.log bench_usage;
        }

        location /stream-nousage/ {
            llmgw_provider azure_openai;
            llmgw_pass_api_key file=secrets/azure.key;
            llmgw_pass http://127.0.0.1:$mock_port;
            llmgw_pass_usage off;
            access_log logs/stream-off.log bench_usage;
        }

        # the memory row: 100 MB of SSE from the upstream nginx, usage read
        location /stream-big/ {
            llmgw_provider azure_openai;
            llmgw_pass_api_key file=secrets/azure.key;
            llmgw_pass http://bench_upstream;
            llmgw_pass_usage on;
            access_log logs/big.log bench_usage;
        }

        location /jwt/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope claude;

            location = /jwt/cached { alias html/ok.json; }
            location = /jwt/dpop {
                # the proofs are minted before the run
                llmgw_dpop required;
                llmgw_dpop_window 3600s;
                alias html/ok.json;
            }
            location = /jwt/uncached {
                llmgw_token_cache off;
                alias html/ok.json;
            }
        }
    }

    # rows k: TLS, a client certificate asked for, any accepted
    server {
        listen 127.0.0.1:$tls_port ssl;
        ssl_certificate $work/tls/server.crt;
        ssl_certificate_key $work/tls/server.key;
        ssl_verify_client optional_no_ca;

        location = /tls/cached {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope claude;
            alias html/ok.json;
        }
    }
}
_EOC_

cp -r "$root/t/mock/secrets" "$work/prefix/secrets"

stop_gateway() {
    "$nginx" -p "$work/prefix" -c "$work/prefix/nginx.conf" \
        -e "$work/prefix/logs/error.log" -s quit 2>/dev/null || true
}

# the bench's own Redis, on CPU 0 with wrk and the upstream
start_redis() {
    "${pin[@]}" redis-server --bind 127.0.0.1 --port "$redis_port" \
        --save '' --appendonly no --dir "$work/redis" --daemonize yes \
        --pidfile "$work/redis/redis.pid" --logfile "$work/redis/redis.log"
    for _ in $(seq 100); do
        redis-cli -p "$redis_port" ping > /dev/null 2>&1 && return
        sleep 0.05
    done
    echo "bench: redis-server did not start" >&2
    exit 1
}

stop_redis() {
    redis-cli -p "$redis_port" shutdown nosave > /dev/null 2>&1 || true
    for _ in $(seq 100); do
        redis-cli -p "$redis_port" ping > /dev/null 2>&1 || return 0
        sleep 0.05
    done
}

stop_all() {
    stop_gateway
    stop_redis
    "$nginx" -p "$work/upstream" -c "$work/upstream/nginx.conf" \
        -e "$work/upstream/logs/error.log" -s quit 2>/dev/null || true
    if [ -f "$work/mock.pid" ]; then
        kill "$(cat "$work/mock.pid")" 2>/dev/null || true
        rm -f "$work/mock.pid"
    fi
}
trap stop_all EXIT

start_redis
"$nginx" -p "$work/upstream" -c "$work/upstream/nginx.conf" \
    -e "$work/upstream/logs/error.log"
"$nginx" -p "$work/prefix" -c "$work/prefix/nginx.conf" \
    -e "$work/prefix/logs/error.log"
/usr/bin/python3 "$root/t/mock/llmgw-mock" --port "$mock_port" \
    --secrets "$root/t/mock/secrets" --delay-ms 200 \
    --pid-file "$work/mock.pid" > "$work/mock.log" 2>&1 &
sleep 1

# On a VM a halted vCPU takes an exit to the hypervisor to wake.  A row
# whose worker is the bottleneck leaves wrk idle, and the worker then pays
# that exit to wake it on nearly every response: a cost of the VM, not of
# the module, that the faster rows do not pay.  While the rows run the
# CPUs are kept out of halt with a PM QoS request of 0 us, as cyclictest
# and tuned's latency profiles do (LLMGW_BENCH_IDLE_POLL=0: left alone).
idle="may halt (LLMGW_BENCH_IDLE_POLL=0 or no /dev/cpu_dma_latency)"
if [ "${LLMGW_BENCH_IDLE_POLL:-1}" = 1 ] \
   && { exec 9> /dev/cpu_dma_latency; } 2> /dev/null
then
    printf 0 >&9
    idle="polled, not halted (/dev/cpu_dma_latency 0)"
fi

worker_pid() {
    pgrep -P "$(cat "$work/prefix/logs/nginx.pid")" | head -1
}

# CPU time (user + system, in clock ticks) the nginx worker has used
worker_ticks() {
    awk '{ print $14 + $15 }' "/proc/$(worker_pid)/stat"
}

# wrk on url for $secs seconds: one token (or none), wrk's static request;
# several, the script cycles them
load() {    # url, token file or "-"
    local url=$1 tokens=$2 hdr=()

    if [ "$tokens" = - ] || [ "$(wc -l < "$tokens")" = 1 ]; then
        if [ "$tokens" != - ]; then
            hdr=(-H "Authorization: Bearer $(head -1 "$tokens")")
        fi
        "${pin[@]}" wrk -t1 -c"$conns" -d"${secs}s" --latency "${hdr[@]}" \
            "$url"
    else
        LLMGW_BENCH_TOKENS=$tokens "${pin[@]}" wrk -t1 -c"$conns" \
            -d"${secs}s" --latency -s "$root/bench/tokens.lua" "$url"
    fi
}

# row name, url, token file or "-"; prints "name rps p99 cpu-us-per-request
# requests"
row() {
    local name=$1 url=$2 tokens=$3 out rps p99 code hdr=() t0 t1 n cpu

    [[ $name =~ ${LLMGW_BENCH_ONLY:-.} ]] || return 0

    if [ "$tokens" != - ]; then
        hdr=(-H "Authorization: Bearer $(head -1 "$tokens")")
    fi

    code=$(curl -s -o /dev/null -w '%{http_code}' "${hdr[@]}" "$url")
    if [ "$code" != 200 ]; then
        echo "bench: $name answered $code, not 200" >&2
        exit 1
    fi

    t0=$(worker_ticks)
    out=$(load "$url" "$tokens")
    t1=$(worker_ticks)

    # a row measures answers of 200 only (a limit row must never refuse)
    if grep -q '^ *Non-2xx' <<< "$out"; then
        echo "bench: $name: $(grep '^ *Non-2xx' <<< "$out")" >&2
    fi
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<< "$out")
    p99=$(awk '$1 == "99%" { v = $2 + 0
                              if ($2 ~ /us$/) v /= 1000
                              else if ($2 ~ /[^m]s$/) v *= 1000
                              printf "%.2fms", v }' <<< "$out")
    n=$(awk '/requests in/ { print $1 }' <<< "$out")
    cpu=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$n" \
          'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    echo "$name $rps $p99 $cpu $n"
}

base="http://127.0.0.1:$port"
client="http://127.0.0.1:$client_port"

echo "bench: ${secs}s a row, ${LLMGW_BENCH_ROUNDS:-5} rounds (medians)," \
     "$conns connections, 1 nginx worker, 1 wrk thread; idle CPUs $idle"

# every row once a round, LLMGW_BENCH_ROUNDS rounds: a row and the row it
# is compared with run minutes apart at most, and the median of the rounds
# is reported, so one slow moment of the VM does not decide a ratio
rounds=${LLMGW_BENCH_ROUNDS:-5}

all_rows() {
    row "a:no-auth" "$base/plain" "$work/jwt/rs256-one"
    row "b:RS256-cached" "$base/jwt/cached" "$work/jwt/rs256-one"
    row "c:RS256-uncached" "$base/jwt/uncached" "$work/jwt/rs256"
    row "d:PS256-uncached" "$base/jwt/uncached" "$work/jwt/ps256"
    row "d:ES256-uncached" "$base/jwt/uncached" "$work/jwt/es256"
    row "d:EdDSA-uncached" "$base/jwt/uncached" "$work/jwt/eddsa"
    row "e:proxy_pass" "$base/proxy/v1/embeddings" -
    row "f:llmgw_pass" "$base/pass/v1/embeddings" -
    row "g:full-gateway" "$base/full/v1/embeddings" "$work/jwt/rs256-one"
    # a round's lines only: the file would grow by ~1 KB a request
    : > "$work/prefix/logs/audit.log"
    row "h:full+audit" "$base/full-audit/v1/embeddings" "$work/jwt/rs256-one"
    row "i:full+state" "$base/full-state/v1/embeddings" "$work/jwt/rs256-one"
    row "j:full+limit" "$base/full-limit/v1/embeddings" "$work/jwt/rs256-one"
    row "k:full+redis" "$base/full-redis/v1/embeddings" "$work/jwt/rs256-one"
    if [[ l:full+redis-down =~ ${LLMGW_BENCH_ONLY:-.} ]]; then
        stop_redis
        row "l:full+redis-down" "$base/full-redis/v1/embeddings" \
            "$work/jwt/rs256-one"
        start_redis
        sleep 0.5       # the worker reconnects (backoff=50ms:200ms)
    fi
    row "m:TLS-bearer" "$client/tls/cached" "$work/jwt/rs256-one"
    row "m:TLS-bound" "$client/tls/cached" "$work/jwt/rs256-bound"
    row "n:full+clients" "$base/full-clients/v1/embeddings" \
        "$work/jwt/rs256-client"
    row "o:full+redis-budget" "$base/full-redis-budget/v1/embeddings" \
        "$work/jwt/rs256-one"
}

# openssl speed's RSA-2048 verification time, in us, on the worker's CPU:
# measured in every round, as the VM's speed drifts by a fifth over minutes
speed_verify() {
    "${speed_pin[@]}" openssl speed -seconds 1 rsa2048 2> /dev/null \
        | awk '/^rsa 2048 bits/ { printf "%.2f", 1e6 / $7 }'
}

raw=$(for r in $(seq "$rounds"); do
          echo "bench: round $r of $rounds" >&2
          all_rows | sed "s/^/$r /"
          echo "$r verify $(speed_verify)"
      done)

# Ratios and added CPU are taken within a round (a row against its
# baseline minutes apart at most, the added CPU against that round's
# openssl speed), then the median over the rounds is reported with the
# lowest and highest round: a slow minute of the VM moves one round, not
# the figure.
awk '
    function median(list,    n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++)
            for (j = i + 1; j <= n; j++)
                if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        lo = a[1]; hi = a[n]
        return a[int((n + 1) / 2)]
    }
    $2 == "verify" { verify[$1] = $3; l_verify = l_verify " " $3; next }
    { round = $1; name = $2
      if (!(name in seen)) { seen[name] = 1; order[++n] = name }
      rps[round, name] = $3; p99s[name] = p99s[name] " " $4
      cpu[round, name] = $5; rounds[round] = 1 }
    END {
        printf "\n%-18s %9s %7s %13s %9s %8s %8s %7s\n", "row", "req/s",
               "ratio", "(low-high)", "p99", "us/req", "added", "xRSA"
        for (i = 1; i <= n; i++) {
            r = order[i]
            base = r ~ /^[hijklno]:/ ? "g:full-gateway" \
                   : r ~ /^[efg]:/ ? "e:proxy_pass" \
                   : r ~ /^m:/ ? "m:TLS-bearer" : "a:no-auth"
            l_rps = l_ratio = l_cpu = l_add = l_x = ""
            for (k in rounds) {
                if (!((k, r) in rps) || !((k, base) in rps)) continue
                l_rps = l_rps " " rps[k, r]
                l_ratio = l_ratio " " rps[k, r] / rps[k, base]
                l_cpu = l_cpu " " cpu[k, r]
                l_add = l_add " " cpu[k, r] - cpu[k, base]
                if (verify[k] > 0)
                    l_x = l_x " " (cpu[k, r] - cpu[k, base]) / verify[k]
            }
            if (l_rps == "") {
                # LLMGW_BENCH_ONLY left out the row it is compared with
                printf "%-18s (no %s row to compare with)\n", r, base
                continue
            }
            m_ratio = median(l_ratio); rlo = lo; rhi = hi
            printf "%-18s %9.0f %7.3f %13s %9s %8.1f %8.1f %7.2f\n", r,
                   median(l_rps), m_ratio,
                   sprintf("(%.3f-%.3f)", rlo, rhi), median(p99s[r]),
                   median(l_cpu), median(l_add), median(l_x)
            if (r ~ /^c:/) {
                m_x = median(l_x); xlo = lo; xhi = hi
            }
        }
        printf "\nratio and added: rows a-d against a (static file, no" \
               " auth, same request as b), rows e-g against e (nginx" \
               " proxy_pass),\nrow h (g with llmgw_audit buffer=64k" \
               " flush=1s and llmgw_audit_chain), row i (g with the" \
               " account state check, 1M revoked jti), row j (g with" \
               " an llmgw_limit in shared memory), row k (the limit in" \
               " Redis)\nand row l (k with Redis stopped, down=open" \
               " timeout=50ms) against g;\nrow m:TLS-bound" \
               " (a certificate-bound token, cached) against m:TLS-bearer" \
               " (a bearer token, cached), on one TLS listener;\nrow n (g with llmgw_clients," \
               " 100000 clients, its own from a record of the state" \
               " zone) and row o (k with a token budget in" \
               " Redis instead) against g; taken" \
               " within each round; medians over the rounds, (low-high)" \
               " the extreme rounds\n"
        printf "us/req: nginx worker CPU per request (user + system," \
               " /proc); added: above the baseline row\n"
        m_verify = median(l_verify); vlo = lo; vhi = hi
        printf "xRSA: added / the round'"'"'s openssl speed rsa2048 verify," \
               " on the worker'"'"'s CPU: median %.1f us (%.1f-%.1f)\n",
               m_verify, vlo, vhi
        if (m_x != "") {
            printf "row c: %.2fx one RSA-2048 verify (rounds %.2f-%.2f);" \
                   " target <= 1.30x\n", m_x, xlo, xhi
        }
        printf "targets: b >= 0.90, f >= 0.95, g >= 0.85, h >= 0.95," \
               " i >= 0.97, j >= 0.97, k >= 0.85 with p99 < g + 1 ms," \
               " l p99 <= 51 ms, m:TLS-bound >= 0.97, n >= 0.97," \
               " o >= 0.85\n"
    }' <<< "$raw"

# row h wrote what it should: after the flush interval, the last round's
# file holds a chained JSON line for every request wrk completed (and a
# few more: those cut off when wrk stopped still reach the log phase)
failed=
audit_n=$(awk '$2 == "h:full+audit" { n = $6 } END { print n }' <<< "$raw")
if [ -n "$audit_n" ]; then
    sleep 1.5
    if ! /usr/bin/python3 - "$work/prefix/logs/audit.log" "$audit_n" \
        <<'_EOP_'
import json, sys
n = cut = 0
with open(sys.argv[1], 'rb') as f:
    for line in f:
        rec = json.loads(line)
        assert rec['seq'] > 0 and len(rec['prev']) == 64, rec
        if rec.get('type') == 'checkpoint':
            continue
        assert rec['decision'] == 'allow', rec
        if rec['status'] == 200:
            n += 1
        else:
            cut += 1
want = int(sys.argv[2])
print('row h: %d audit lines of status 200 for the last round\'s %d'
      ' requests (and %d cut off by the end of the run), each chained'
      ' JSON%s' % (n, want, cut, '' if n >= want else ': LINES MISSING'))
sys.exit(n < want)
_EOP_
    then
        failed="row h lost audit lines"
    fi
fi

# LLMGW_BENCH_PERF=1: where row c's added time goes, by library.  perf
# samples the worker's CPU clock (no hardware counters needed) over one
# more run of rows a and c; a sample's period (ns) is charged to the
# library it landed in.  Sampling slows the worker a little, so these
# figures sit a few percent above the table's.
profile_row() {     # row name, url, token file -> "row library us" lines
    local name=$1 url=$2 tokens=$3 data=$work/perf-$1.data out n rec

    perf record -q -e cpu-clock -F 2000 -p "$(worker_pid)" -o "$data" \
        > /dev/null 2>&1 &
    rec=$!
    sleep 0.5
    out=$(load "$url" "$tokens")
    kill -INT "$rec"
    wait "$rec" || true

    n=$(awk '/requests in/ { print $1 }' <<< "$out")
    perf report -i "$data" --no-children --sort dso -F period,dso --stdio \
        2> /dev/null \
        | awk -v n="$n" -v row="$name" \
              '!/^#/ && NF == 2 { printf "%s %s %.2f\n", row, $2, $1 / 1e3 / n }'
}

if [ "${LLMGW_BENCH_PERF:-0}" = 1 ] && ! command -v perf > /dev/null; then
    echo "bench: LLMGW_BENCH_PERF=1 needs perf (Debian's linux-perf)" >&2
elif [ "${LLMGW_BENCH_PERF:-0}" = 1 ]; then
    # a row against its baseline: a and c (the signature), g and h (the
    # audit)
    perf_table() {  # baseline, row
        awk -v x="$1" -v y="$2" '
            { us[$1, $2] = $3
              if (!($2 in seen)) { seen[$2] = 1; l[++n] = $2 } }
            END {
                printf "\nworker CPU by library, us a request (perf," \
                       " cpu-clock):\n"
                printf "%-26s %8s %8s %8s\n", "", x, y, "added"
                for (i = 1; i <= n; i++) {
                    a = us[x, l[i]] + 0; c = us[y, l[i]] + 0
                    ta += a; tc += c
                    printf "%-26s %8.2f %8.2f %8.2f\n", l[i], a, c, c - a
                }
                printf "%-26s %8.2f %8.2f %8.2f\n", "total", ta, tc, tc - ta
            }'
    }
    { profile_row a "$base/plain" "$work/jwt/rs256-one"
      profile_row c "$base/jwt/uncached" "$work/jwt/rs256"; } \
    | perf_table a c
    { profile_row g "$base/full/v1/embeddings" "$work/jwt/rs256-one"
      profile_row h "$base/full-audit/v1/embeddings" "$work/jwt/rs256-one"; } \
    | perf_table g h
fi

# time to the first streamed byte: an Azure SSE stream (include_usage
# asked, three events 10 ms apart, so the first comes while the mock still
# holds the rest) straight from the mock, through the gateway with usage
# extraction on, and with it off; one request at a time, the three taking
# turns (bench/ttfb.py), so that a hiccup of the machine hits all alike.
# The time runs to the first byte of the body, not of the header.
path="openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
chat='{"messages":[{"role":"user","content":"hi"}],"stream":true,'
chat=$chat'"stream_options":{"include_usage":true}}'
key="api-key: $(cat "$root/t/mock/secrets/azure.key")"

printf "\ntime to the first streamed body byte (ms, %s requests each, %s\n" \
       "${LLMGW_BENCH_TTFB_N:-1000}" "interleaved):"
LLMGW_TTFB_PAIRS="on-direct on-off" /usr/bin/python3 "$root/bench/ttfb.py" \
    "${LLMGW_BENCH_TTFB_N:-1000}" "$chat" \
    "direct:$mock_port:/$path:$key" \
    "on:$port:/stream/$path:api-key: unused" \
    "off:$port:/stream-nousage/$path:api-key: unused"
echo "on: through the gateway, llmgw_pass_usage on; off: the same, off;" \
     "targets: on - direct < 1 ms at p99;"
echo "usage extraction (on - off) < 0.1 ms at p50, < 1 ms at p99"

# the on requests had their usage read (3 output tokens), the off ones not
for u in "on provider 3" "off missing -"; do
    read -r name source tokens <<< "$u"
    if [ "$(grep -c "^200 $source $tokens " \
                 "$work/prefix/logs/stream-$name.log")" \
         != "${LLMGW_BENCH_TTFB_N:-1000}" ]
    then
        failed="${failed:+$failed; }the $name streams' usage: not $source"
    fi
done

# worker memory while a 100 MB stream passes with usage on: the worker's
# VmRSS sampled every 20 ms during the transfer; the client reads at
# 50 MB/s, so the stream takes about two seconds, as a long answer
# arrives over time rather than at loopback speed
# the worker's VmRSS in kB into $rss, without a fork: sampling must be
# quicker than the transfer
rss_of() {  # pid
    local k v u
    while read -r k v u; do
        if [ "$k" = VmRSS: ]; then
            rss=$v
            return
        fi
    done < "/proc/$1/status"
}

wpid=$(worker_pid)

big_url="$base/stream-big/$path"
big_body='{"messages":[{"role":"user","content":"hi"}],"stream":true}'
curl -s -o /dev/null -H 'content-type: application/json' -d "$big_body" \
    "$big_url"                                  # warm the worker up
rss_of "$wpid"
rss_before=$rss
rss_peak=$rss
curl -s -o /dev/null --limit-rate 50M -H 'content-type: application/json' \
    -d "$big_body" "$big_url" &
big_curl=$!
samples=0
while kill -0 "$big_curl" 2> /dev/null; do
    rss_of "$wpid"
    samples=$((samples + 1))
    if [ "$rss" -gt "$rss_peak" ]; then
        rss_peak=$rss
    fi
    sleep 0.02
done
wait "$big_curl"
sleep 0.2
rss_of "$wpid"
rss_after=$rss

big_log=$(tail -1 "$work/prefix/logs/big.log")
printf "\nworker RSS while a %s MiB SSE stream passes, usage on (%s %s\n" \
       "$big_mib" "$samples" "samples):"
awk -v b="$rss_before" -v p="$rss_peak" -v a="$rss_after" -v l="$big_log" \
    'BEGIN {
        printf "before %d kB, peak %d kB (+%d), after %d kB (+%d): %s\n",
               b, p, p - b, a, a - b, p - b <= 1024 ? "flat" : "NOT FLAT"
        split(l, f, " ")
        printf "the stream: status %s, usage %s, %s output tokens," \
               " %s body bytes\n", f[1], f[2], f[3], f[4]
        printf "flat: the peak within 1 MiB of before, 1%% of the" \
               " stream\n"
    }'
case $big_log in
    "200 provider "*) ;;
    *) failed="${failed:+$failed; }the big stream's usage was not read" ;;
esac

# instructions per request under callgrind: the same rows, counted rather
# than timed (LLMGW_BENCH_CG=0 skips it); the upstream stays for rows g, h
if [ "${LLMGW_BENCH_CG:-1}" = 1 ]; then
    stop_gateway
    for _ in $(seq 100); do
        [ -f "$work/prefix/logs/nginx.pid" ] || break
        sleep 0.1
    done
    "$root/bench/instructions.sh" "$nginx" "$work/prefix" "$port" \
        "$work/jwt"
fi

if [ -n "$failed" ]; then
    echo "bench: $failed" >&2
    exit 1
fi
