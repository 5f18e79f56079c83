#!/bin/bash
# Copyright (C) llmgw authors
#
# Instructions per request, counted by callgrind: a figure that does not
# move with the machine's load, next to the wall-clock rows of make bench.
#
#   bench/instructions.sh NGINX PREFIX PORT TOKENS_DIR
#
# PREFIX holds the bench's nginx.conf (its server stopped).  The server
# runs under callgrind as one process, counting only what happens inside
# ngx_process_events_and_timers (start and exit are left out), for N
# requests (LLMGW_BENCH_CG_REQUESTS, default 1000) of row a (no auth),
# b (RS256, cached), c (RS256, uncached, distinct tokens) and d (b's
# token bound to a key, with an ES256 DPoP proof each, distinct), and of
# rows g (the full gateway, to the bench's upstream, which must be up)
# and h (g with the buffered, chained audit file) and i (g with a limit
# in shared memory): their added instructions are set against g's, a
# load-free view of rows h's and i's ratios.  The same
# is done to `openssl speed rsa2048` around RSA_public_decrypt (the RSA
# operation under both its verify and the gateway's), so row c's added
# instructions are set against those of one RSA-2048 verification on the
# same code paths of the same libcrypto; and to `openssl speed ecdsap256`
# around ECDSA_do_verify, for row d's added instructions over b's.

set -euo pipefail

nginx=$1
prefix=$2
port=$3
tokens=$4
root=$(cd "$(dirname "$0")/.." && pwd)
n=${LLMGW_BENCH_CG_REQUESTS:-1000}
out=$prefix/callgrind
python=/usr/bin/python3

rm -rf "$out"
mkdir -p "$out"

# the instructions a callgrind output file counted
cg_total() {
    awk '/^summary:|^totals:/ { print $2; exit }' "$1"
}

# row name, path, token file -> instructions per request
count_row() {
    local name=$1 path=$2 file=$3 vg i total

    valgrind --tool=callgrind --toggle-collect=ngx_process_events_and_timers \
        --callgrind-out-file="$out/$name.out" \
        "$nginx" -p "$prefix" -c "$prefix/nginx.conf" \
        -e "$prefix/logs/error.log" -g 'daemon off; master_process off;' \
        2> "$out/$name.log" &
    vg=$!

    for i in $(seq 300); do
        if curl -s -o /dev/null "http://127.0.0.1:$port/plain"; then
            break
        fi
        sleep 0.1
    done

    "$python" "$root/bench/requests.py" "$port" "$path" "$file" "$n"

    kill -QUIT "$vg"
    wait "$vg" || true

    total=$(cg_total "$out/$name.out")
    awk -v t="$total" -v n="$n" 'BEGIN { printf "%.0f", t / n }'
}

a=$(count_row a /plain "$tokens/rs256-one")
b=$(count_row b /jwt/cached "$tokens/rs256-one")
c=$(count_row c /jwt/uncached "$tokens/rs256")
d=$(count_row d /jwt/dpop "$tokens/dpop")
g=$(count_row g /full/v1/embeddings "$tokens/rs256-one")
h=$(count_row h /full-audit/v1/embeddings "$tokens/rs256-one")
j=$(count_row j /full-limit/v1/embeddings "$tokens/rs256-one")

# one RSA-2048 verification as openssl speed does it
valgrind --tool=callgrind --toggle-collect=RSA_public_decrypt \
    --callgrind-out-file="$out/speed.out" \
    openssl speed -seconds 1 rsa2048 > "$out/speed.txt" 2>&1

# "Doing 2048 bits public rsa's for 1s: 2003 2048 bits public RSA's in 1.00s"
verifies=$(awk '/public RSA.s in/ { for (i = 1; i <= NF; i++)
                    if ($i ~ /:$/) { print $(i + 1); exit } }' \
           "$out/speed.txt")
speed=$(cg_total "$out/speed.out")

# one ECDSA P-256 verification as openssl speed does it
valgrind --tool=callgrind --toggle-collect=ECDSA_do_verify \
    --callgrind-out-file="$out/speed-ec.out" \
    openssl speed -seconds 1 ecdsap256 > "$out/speed-ec.txt" 2>&1

# "Doing 256 bits verify ecdsa's for 1s: 130 256 bits ECDSA verify in 0.25s"
ec_verifies=$(awk '/bits verify ecdsa.s for/ { for (i = 1; i <= NF; i++)
                       if ($i ~ /:$/) { print $(i + 1); exit } }' \
              "$out/speed-ec.txt")
ec_speed=$(cg_total "$out/speed-ec.out")

awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" -v g="$g" -v h="$h" -v j="$j" \
    -v s="$speed" -v es="$ec_speed" -v ev="$ec_verifies" \
    -v v="$verifies" -v n="$n" 'BEGIN {
    verify = s / v
    ec_verify = es / ev
    printf "\ninstructions per request (callgrind, %d requests a row):\n", n
    printf "%-18s %10d\n", "a:no-auth", a
    printf "%-18s %10d   added %7d\n", "b:RS256-cached", b, b - a
    printf "%-18s %10d   added %7d = %.2fx one RSA-2048 verify\n",
           "c:RS256-uncached", c, c - a, (c - a) / verify
    printf "%-18s %10d   added over b %7d = %.2fx one ES256 verify\n",
           "d:DPoP-ES256", d, d - b, (d - b) / ec_verify
    printf "%-18s %10d\n", "g:full-gateway", g
    printf "%-18s %10d   added %7d over g: g/h %.3f\n", "h:full+audit",
           h, h - g, g / h
    printf "%-18s %10d   added %7d over g: g/j %.3f\n", "j:full+limit",
           j, j - g, g / j
    printf "openssl speed rsa2048, inside RSA_public_decrypt: %d" \
           " instructions a verify (%d verifies)\n", verify, v
    printf "openssl speed ecdsap256, inside ECDSA_do_verify: %d" \
           " instructions a verify (%d verifies)\n", ec_verify, ev
}'
