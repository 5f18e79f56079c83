#!/bin/bash
# Copyright (C) llmgw authors
#
# Builds and runs every libFuzzer target fuzz/fuzz_*.c for a bounded time:
#
#   fuzz/run.sh [BUILD_DIR] [SECONDS]
#
# BUILD_DIR (default $BUILD, else build/ of the repository) is the directory
# `make BUILD=...` configures (made first when it is not); SECONDS (default
# 60) is split between the targets.  Each target names its sources in
# "llmgw-fuzz-srcs:" / "llmgw-fuzz-libs:" comments and is built by
# t/unit/build.sh -k fuzz (clang, -fsanitize=fuzzer,address,undefined).
# The working corpus lives in BUILD_DIR/fuzz/corpus-<name>, started from the
# committed seeds fuzz/seeds/<name>/; fuzz/<name>.dict is used when present.
# Crashes, leaks, timeouts and out-of-memory are failures: their inputs are
# left in BUILD_DIR/fuzz/artifacts/ and the exit status is non-zero.

set -o pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${BUILD:-$repo/build}}
seconds=${2:-60}

case $seconds in
    ''|*[!0-9]*) echo "usage: $0 [BUILD_DIR] [SECONDS]" >&2; exit 2 ;;
esac

mkdir -p "$build"
build=$(cd "$build" && pwd)

targets=("$repo"/fuzz/fuzz_*.c)

if [ ! -f "${targets[0]}" ]; then
    echo "$0: no fuzz/fuzz_*.c" >&2
    exit 1
fi

per=$((seconds / ${#targets[@]}))
[ $per -lt 1 ] && per=1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
artifacts=$build/fuzz/artifacts
mkdir -p "$artifacts"

for t in "${targets[@]}"; do
    name=$(basename "$t" .c)

    if ! bin=$("$repo/t/unit/build.sh" -k fuzz "$build" "$t" | tail -1); then
        echo "FAIL $name: build failed"
        failed=$((failed + 1))
        continue
    fi

    corpus=$build/fuzz/corpus-$name
    mkdir -p "$corpus"

    dirs=("$corpus")
    [ -d "$repo/fuzz/seeds/$name" ] && dirs+=("$repo/fuzz/seeds/$name")

    opts=(-max_total_time="$per" -rss_limit_mb=2048 -malloc_limit_mb=1024
          -timeout=10 -detect_leaks=1 -max_len=131072 -print_final_stats=1
          -artifact_prefix="$artifacts/$name-")
    [ -f "$repo/fuzz/$name.dict" ] && opts+=(-dict="$repo/fuzz/$name.dict")

    echo "# $name: ${per}s"

    log=$build/fuzz/$name.log

    "$bin" "${opts[@]}" "${dirs[@]}" >"$log" 2>&1
    rc=$?

    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' \
        "$log"

    if [ $rc -ne 0 ]; then
        grep -E 'ERROR|SUMMARY|leak|Test unit written' "$log" | head -20
        echo "FAIL $name: exit status $rc, log $log"
        failed=$((failed + 1))
    else
        echo "ok $name"
    fi
done

if [ $failed -ne 0 ]; then
    echo "$failed fuzz target(s) failed"
    exit 1
fi

echo "all ${#targets[@]} fuzz targets ran ${per}s each without a finding"
