#!/bin/bash
# t/run-tests.sh NGINX_BINARY MODULE_SO
#
# Runs the llmgw suites with prove (used by `make test` and `make asan`):
#   - TEST_NGINX_BINARY / TEST_NGINX_LOAD_MODULES point at the nginx and the
#     module (absolute path) for Test::Nginx;
#   - t/lib (our Test::Nginx::Socket-compatible runner) goes on PERL5LIB only
#     when perl finds no other Test::Nginx::Socket (the CPAN one, installed
#     or on PERL5LIB); LLMGW_RUNNER=cpan makes that a failure instead;
#   - a Redis server and the mock provider are started on 127.0.0.1 when
#     their programs exist (ports in TEST_NGINX_REDIS_PORT, TEST_NGINX_MOCK_*)
#     and stopped on exit;
#   - LLMGW_TESTS="t/a.t t/b.t" runs only those files (default: every t/*.t
#     under t/, recursively, outside node_modules and server roots);
#   - LLMGW_ASAN=1: ASAN_OPTIONS=detect_leaks=1, the ASan runtime preloaded
#     into nginx when the module needs it, and any AddressSanitizer /
#     LeakSanitizer report in the error logs fails the run;
#   - LLMGW_KEEP=1 keeps the work directory (server root, logs) even when
#     everything passed; it is always kept when something failed.
#
# Environment honoured as Test::Nginx does: TEST_NGINX_SERVER_PORT (default:
# a free port), TEST_NGINX_SERVROOT (default: a server
# root in the work directory), TEST_NGINX_NO_CLEAN, TEST_NGINX_USE_VALGRIND.

set -u

usage() {
    echo "usage: $0 NGINX_BINARY MODULE_SO" >&2
    exit 2
}

[ $# -eq 2 ] || usage

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

nginx=$1
module=$2

if ! nginx_path=$(command -v "$nginx"); then
    echo "run-tests: nginx binary not found: $nginx" >&2
    exit 1
fi

if [ ! -f "$module" ]; then
    echo "run-tests: module not built: $module (run make first)" >&2
    exit 1
fi

module=$(cd "$(dirname "$module")" && pwd)/$(basename "$module")

cd "$root" || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/llmgw-tests.XXXXXX") || exit 1

pids=()
status=1

log() {
    echo "run-tests: $*" >&2
}


cleanup() {
    local pid

    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done

    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null
    done

    if [ "$status" -eq 0 ] && [ -z "${LLMGW_KEEP:-}" ] \
       && [ -z "${TEST_NGINX_NO_CLEAN:-}" ]
    then
        rm -rf "$work"
    else
        log "logs and server root kept in $work"
    fi
}

trap cleanup EXIT
trap 'exit 130' INT TERM


# A TCP port on 127.0.0.1 that nothing listens on and that this script has
# not handed out yet, below the kernel's ephemeral range when there is room
# (a port of that range can become the source port of any client
# connection before nginx binds it: the suites start nginx again and
# again on TEST_NGINX_SERVER_PORT for the whole run).
used_ports=" "

free_port() {
    local want=${1:-} port

    port=$(perl -MIO::Socket::INET -e '
        my ($want, $used) = @ARGV;
        my $low = 32768;
        if (open my $fh, "<", "/proc/sys/net/ipv4/ip_local_port_range") {
            ($low) = (<$fh> // "") =~ /^(\d+)/;
            $low //= 32768;
        }
        my ($from, $n) = $low > 12000 ? (10000, $low - 10000)
                                      : (20000, 30000);
        for my $i (0 .. 500) {
            my $p = ($i == 0 && $want) ? $want : $from + int rand $n;
            next if $used =~ / $p /;
            my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
                                          LocalPort => $p, Listen => 1,
                                          ReuseAddr => 1) or next;
            close $s;
            print $p;
            exit 0;
        }
        exit 1;' "$want" "$used_ports") || return 1

    used_ports="$used_ports$port "
    echo "$port"
}


# Polls a command until it succeeds; fails after $1 seconds or when the
# process $2 has exited.
wait_until() {
    local secs=$1 pid=$2 i
    shift 2

    for ((i = 0; i < secs * 10; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.1
    done

    return 1
}


redis_ping() {
    local reply

    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'PING\r\n' >&3
    read -r -t 2 reply <&3
    exec 3<&- 3>&-
    [ "${reply%$'\r'}" = "+PONG" ]
}


http_ok() {
    curl -fsS -m 2 -o /dev/null "$1"
}


# ---------------------------------------------------------------------------
# start_redis: a throw-away Redis on 127.0.0.1 for the suites that need one
# (TEST_NGINX_REDIS_PORT).  Does nothing when redis-server is absent: suites
# using $TEST_NGINX_REDIS_PORT then bail out with "No environment ...".
start_redis() {
    local port pid

    if ! command -v redis-server >/dev/null 2>&1; then
        log "redis-server not found: Redis suites will not run"
        return 0
    fi

    port=$(free_port) || { log "no free port for Redis"; return 1; }

    mkdir -p "$work/redis"
    redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
        --save '' --appendonly no --dir "$work/redis" --daemonize no \
        --logfile "$work/redis/redis.log" >/dev/null 2>&1 &
    pid=$!
    pids+=("$pid")

    if ! wait_until 10 "$pid" redis_ping "$port"; then
        log "Redis did not start on 127.0.0.1:$port:"
        tail -5 "$work/redis/redis.log" >&2
        return 1
    fi

    export TEST_NGINX_REDIS_PORT=$port
    log "Redis on 127.0.0.1:$port"
}


# ---------------------------------------------------------------------------
# start_mock: the mock LLM provider t/mock/llmgw-mock (HTTP and TLS
# listeners, test CA from t/mock/certs.sh, fake secrets in t/mock/secrets).
# Does nothing while t/mock/llmgw-mock is absent.
start_mock() {
    local mock=t/mock/llmgw-mock certs=$work/mock-certs port tls pid
    local args

    if [ ! -x "$mock" ]; then
        log "$mock not present: mock-provider suites will not run"
        return 0
    fi

    port=$(free_port) || { log "no free port for the mock"; return 1; }
    args=(--port "$port" --secrets "$root/t/mock/secrets")

    if [ -x t/mock/certs.sh ]; then
        if ! t/mock/certs.sh "$certs" >"$work/mock-certs.log" 2>&1; then
            log "t/mock/certs.sh failed:"
            tail -5 "$work/mock-certs.log" >&2
            return 1
        fi

        tls=$(free_port) || { log "no free port for the mock"; return 1; }
        args+=(--tls-port "$tls" --certs "$certs")
    fi

    "$mock" "${args[@]}" >"$work/mock.log" 2>&1 &
    pid=$!
    pids+=("$pid")

    if ! wait_until 20 "$pid" http_ok \
            "http://127.0.0.1:$port/__mock/health"
    then
        log "the mock did not start on 127.0.0.1:$port:"
        tail -5 "$work/mock.log" >&2
        return 1
    fi

    export TEST_NGINX_MOCK_PORT=$port
    export TEST_NGINX_MOCK_SECRETS=$root/t/mock/secrets

    if [ -n "${tls:-}" ]; then
        export TEST_NGINX_MOCK_TLS_PORT=$tls
        export TEST_NGINX_MOCK_CERTS=$certs
    fi

    log "mock provider on 127.0.0.1:$port${tls:+ (TLS $tls)}"
}


# ---------------------------------------------------------------------------

export TEST_NGINX_BINARY=$nginx_path
export TEST_NGINX_LOAD_MODULES=$module

# t/lib's Test::Nginx::Socket sets $LlmgwRunner; a CPAN one that does not
# load (a Perl module missing) counts as absent
runner=cpan
if ! perl -MTest::Nginx::Socket \
        -e 'exit($Test::Nginx::Socket::LlmgwRunner ? 1 : 0)' 2>/dev/null
then
    if [ "${LLMGW_RUNNER:-}" = cpan ]; then
        log "LLMGW_RUNNER=cpan, but perl finds no CPAN Test::Nginx::Socket:"
        perl -MTest::Nginx::Socket \
            -e 'print $INC{"Test/Nginx/Socket.pm"}, "\n"' 2>&1 | head -5 >&2
        exit 1
    fi
    runner=llmgw
    export PERL5LIB="$root/t/lib${PERL5LIB:+:$PERL5LIB}"
fi

if [ -z "${TEST_NGINX_SERVER_PORT:-}" ]; then
    # not 1984: suites run by hand with prove use that one
    TEST_NGINX_SERVER_PORT=$(free_port) || {
        log "no free port for nginx"
        exit 1
    }
    export TEST_NGINX_SERVER_PORT
else
    used_ports="$used_ports$TEST_NGINX_SERVER_PORT "
fi

export TEST_NGINX_SERVROOT=${TEST_NGINX_SERVROOT:-$work/servroot}

asan_dir=
if [ -n "${LLMGW_ASAN:-}" ]; then
    asan_dir=$work/asan
    mkdir -p "$asan_dir"

    # full stacks (nginx has no frame pointers), so that a leak shows the
    # module frame that allocated it; no ODR check: nginx and each dynamic
    # module both define ngx_modules and ngx_module_names, by design
    opts=detect_leaks=1:fast_unwind_on_malloc=0:detect_odr_violation=0
    if [ "$runner" = cpan ]; then
        # the CPAN runner removes logs/ before nginx's exit is logged
        opts="$opts:log_path=$asan_dir/asan"
    fi
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}$opts"
    export TEST_NGINX_ERROR_LOG=$work/error-logs.txt

    # An ASan module in a non-ASan nginx needs the runtime loaded first;
    # a dlclose() that does nothing keeps the module mapped at exit, when
    # LeakSanitizer symbolizes its stacks.
    libasan=$(ldd "$module" 2>/dev/null | awk '/libasan/ { print $3 }')
    if [ -n "$libasan" ] \
       && ! ldd "$nginx_path" 2>/dev/null | grep -q libasan
    then
        preload=$libasan
        printf 'int dlclose(void *h) { (void) h; return 0; }\n' \
            >"$work/nodlclose.c"
        if cc -shared -fPIC -o "$work/nodlclose.so" "$work/nodlclose.c" \
               2>/dev/null
        then
            preload="$preload:$work/nodlclose.so"
        fi

        cat >"$work/nginx-asan" <<EOF
#!/bin/sh
LD_PRELOAD="$preload\${LD_PRELOAD:+:\$LD_PRELOAD}" exec "$nginx_path" "\$@"
EOF
        chmod +x "$work/nginx-asan"
        export TEST_NGINX_BINARY=$work/nginx-asan
    fi
fi

log "runner: $runner ($(perl -MTest::Nginx::Socket \
    -e 'print $INC{"Test/Nginx/Socket.pm"}' 2>/dev/null))"
log "nginx: $TEST_NGINX_BINARY, module: $module"
log "nginx on 127.0.0.1:$TEST_NGINX_SERVER_PORT," \
    "server root $TEST_NGINX_SERVROOT"

start_redis || exit 1
start_mock || exit 1

if [ -n "${LLMGW_TESTS:-}" ]; then
    read -r -a files <<<"$LLMGW_TESTS"
else
    # what `prove -r t/` finds, without npm packages and server roots
    mapfile -t files < <(find t \( -name node_modules -o -name 'servroot*' \) \
                              -prune -o -name '*.t' -type f -print | sort)
fi

if [ ${#files[@]} -eq 0 ]; then
    log "no test files found"
    exit 1
fi

prove ${LLMGW_PROVE_ARGS:-} "${files[@]}"
status=$?

# Sanitizer reports that reached files rather than a block's check (the
# CPAN runner, or reports written after a block's log was copied), judged
# as t/lib's runner does: nginx core's own exit-time allocations are not
# findings (Test::Nginx::Util::sanitizer_findings).
if [ -n "$asan_dir" ]; then
    found=0
    for f in "$asan_dir"/* "$TEST_NGINX_ERROR_LOG"; do
        [ -s "$f" ] || continue
        report=$(perl -I"$root/t/lib" -MTest::Nginx::Util -e '
            local $/;
            my $text = <STDIN>;
            print Test::Nginx::Util::sanitizer_findings($text, [@ARGV]);
            ' "$module" <"$f")
        if [ -n "$report" ]; then
            log "sanitizer findings in $f:"
            printf '%s\n' "$report" | head -80 >&2
            found=1
        fi
    done

    if [ "$found" = 1 ]; then
        status=1
    fi
fi

exit "$status"
