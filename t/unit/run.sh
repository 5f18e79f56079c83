#!/bin/bash
# Copyright (C) llmgw authors
#
# Builds and runs the C unit tests under AddressSanitizer (leak detection
# on) and UndefinedBehaviorSanitizer:
#
#   t/unit/run.sh [BUILD_DIR] [t/unit/test_x.c ...]
#
# BUILD_DIR (default $BUILD, else build/ of the repository) is the directory
# `make BUILD=...` configures; made first when it is not configured.  With no
# test named, every t/unit/test_*.c runs.  Each test prints "ok N - ..." or
# "not ok N - ..." per check; a test that does not build, or exits non-zero
# without reporting a failed check (a crash, a sanitizer report, a leak),
# counts as one more failure.  A test running longer than $LLMGW_UNIT_TIMEOUT
# seconds (default 180) is stopped and failed.  The last line is
# "N passed, N failed"; the exit status is non-zero when anything failed.

set -o pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${BUILD:-$repo/build}}
shift || true

if [ $# -gt 0 ]; then
    tests=("$@")
else
    tests=("$repo"/t/unit/test_*.c)
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-report_objects=1}

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "${tests[@]}"; do
    name=$(basename "$t" .c)
    echo "# $name"

    if ! bin=$("$repo/t/unit/build.sh" -k unit "$build" "$t" 2>"$log" \
               | tail -1)
    then
        cat "$log"
        echo "not ok - $name: build failed"
        failed=$((failed + 1))
        continue
    fi

    (cd "$repo/t/unit" && timeout "${LLMGW_UNIT_TIMEOUT:-180}" "$bin") \
        >"$log" 2>&1
    rc=$?

    cat "$log"

    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")

    passed=$((passed + p))
    failed=$((failed + f))

    if [ $rc -eq 124 ]; then
        echo "not ok - $name: timed out"
        failed=$((failed + 1))

    elif [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name: exit status $rc"
        failed=$((failed + 1))

    elif [ $rc -eq 0 ] && [ "$f" -ne 0 ]; then
        echo "not ok - $name: failed checks but exit status 0"
        failed=$((failed + 1))

    elif [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name: no check ran"
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"

[ $failed -eq 0 ]
