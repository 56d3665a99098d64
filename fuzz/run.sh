#!/bin/sh
# Builds the libFuzzer targets into fuzz/build/ and runs each for SECONDS
# (default 60) on a temporary copy of its seed corpus in fuzz/corpus/<target>/.
# Crash artifacts land in fuzz/build/artifacts/. Exit status is non-zero when
# any target failed (non-zero libFuzzer exit or a crash artifact).
#
#   fuzz/run.sh [SECONDS]
#   FUZZ_TARGETS="fuzz_jwt" fuzz/run.sh 30      # a subset
#   FUZZ_SKIP_KNOWN=1 fuzz/run.sh 60            # ignore the known bugs in fuzz/crashes/
#   fuzz/build/fuzz_jwks fuzz/crashes/<file>    # replay one input
set -u

SECONDS_PER_TARGET=${1:-60}
case $SECONDS_PER_TARGET in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

FUZZ_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$FUZZ_DIR")
MODULES=$TOP/modules/engine
# the engine is grouped by capability: every sub-folder is on the include path
INCLUDES=$(for d in "$MODULES"/*/; do printf -- '-I%s ' "${d%/}"; done)
ARTIFACTS=$FUZZ_DIR/build/artifacts
LOGS=$FUZZ_DIR/build/logs
BUILD=$FUZZ_DIR/build
TARGETS=${FUZZ_TARGETS:-"fuzz_token fuzz_jwt fuzz_claims fuzz_jwks fuzz_jsonrpc fuzz_sse fuzz_dpop fuzz_introspect fuzz_exchange"}
CC=${CC:-clang}

DEPS=$(pkg-config --cflags --libs apr-1 apr-util-1 cjose jansson libcurl libcrypto) || {
    echo "pkg-config failed: need libapr1-dev libaprutil1-dev libcjose-dev libjansson-dev libcurl4-openssl-dev libssl-dev" >&2
    exit 2
}
CFLAGS="-g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
if [ -n "${FUZZ_SKIP_KNOWN:-}" ]; then
    CFLAGS="$CFLAGS -DFUZZ_SKIP_KNOWN"
    BUILD=$FUZZ_DIR/build/skip-known
fi

# where an engine unit's source is
src() { find "$MODULES" -name "$1" | head -n 1; }

# the token check: mcp_jwt.c and what it is built on
jwt_sources() { echo "$(src mcp_jwt.c) $(src mcp_thread_state.c) $(src mcp_digest.c) $(src mcp_jwks.c) $(src mcp_b64url.c)"; }

sources_for() {
    case $1 in
        fuzz_token) echo "$(src mcp_token.c)" ;;
        fuzz_jwt|fuzz_claims) echo "$(jwt_sources)" ;;
        fuzz_jwks) echo "$(src mcp_jwks.c) $(src mcp_b64url.c)" ;;
        fuzz_jsonrpc) echo "$(src mcp_jsonrpc.c) $(src mcp_era.c) $(src mcp_field.c) $(src mcp_policy.c) $(src mcp_scope.c) $(jwt_sources)" ;;
        fuzz_sse) echo "$(src mcp_listfilter.c) $(src mcp_buffer.c) $(src mcp_jsonrpc.c)" ;;
        fuzz_dpop) echo "$(src mcp_dpop.c) $(jwt_sources)" ;;
        fuzz_introspect) echo "$(src mcp_introspect.c) $(jwt_sources)" ;;
        fuzz_exchange) echo "$(src mcp_exchange.c) $(src mcp_seal.c) $(jwt_sources)" ;;
    esac
}

max_len_for() {
    case $1 in
        fuzz_token) echo 8192 ;;    # about httpd's LimitRequestFieldSize
        fuzz_jwt) echo 20000 ;;     # past MCP_JWT_DEFAULT_MAX_LEN (16 KiB)
        fuzz_claims) echo 4096 ;;   # a payload, signed by the target
        fuzz_jwks) echo 16384 ;;
        fuzz_jsonrpc) echo 8192 ;;
        fuzz_sse) echo 16384 ;;     # past the target's 4 KiB event bound
        fuzz_dpop) echo 10000 ;;    # past MCP_DPOP_MAX_LEN (8 KiB)
        fuzz_introspect) echo 8192 ;;
        fuzz_exchange) echo 20000 ;;   # past the 16 KiB token bound
    esac
}

mkdir -p "$BUILD" "$ARTIFACTS" "$LOGS"
build_failed=""
for t in $TARGETS; do
    echo "== build $t"
    # shellcheck disable=SC2046,SC2086
    if ! $CC $CFLAGS $INCLUDES -I/usr/include/apache2 \
            -o "$BUILD/$t" "$FUZZ_DIR/$t.c" $(sources_for "$t") $DEPS -lm; then
        build_failed="$build_failed $t"
    fi
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
summary=""
for t in $TARGETS; do
    case " $build_failed " in
        *" $t "*)
            failed=$((failed + 1))
            summary="$summary
$t: FAILED (build)"
            continue ;;
    esac
    work=$(mktemp -d "${TMPDIR:-/tmp}/mcp-fuzz-$t.XXXXXX")
    if [ -d "$FUZZ_DIR/corpus/$t" ]; then
        cp -R "$FUZZ_DIR/corpus/$t/." "$work/"
    fi
    dict=""
    [ -f "$FUZZ_DIR/$t.dict" ] && dict="-dict=$FUZZ_DIR/$t.dict"
    stamp=$BUILD/.stamp-$t
    touch "$stamp"
    sleep 1    # so that artifacts of this run are strictly newer than the stamp
    log=$LOGS/$t.log
    echo "== run $t for ${SECONDS_PER_TARGET}s (log: $log)"
    # shellcheck disable=SC2086
    "$BUILD/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$(max_len_for "$t")" -print_final_stats=1 \
        -artifact_prefix="$ARTIFACTS/$t-" $dict "$work" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log" | tail -n 1)
    artifacts=$(find "$ARTIFACTS" -maxdepth 1 -type f -name "$t-*" -newer "$stamp" | sort)
    rm -rf "$work"
    if [ "$rc" -eq 0 ] && [ -z "$artifacts" ]; then
        passed=$((passed + 1))
        line="$t: passed, ${execs:-?} executions"
    else
        failed=$((failed + 1))
        line="$t: FAILED (exit $rc), ${execs:-?} executions"
        for a in $artifacts; do
            line="$line
    artifact: $a"
        done
        grep -m 1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*invariant violated|.*Assertion)' "$log" |
            sed 's/^/    /' >"$log.first"
        line="$line
$(cat "$log.first")"
        rm -f "$log.first"
    fi
    echo "$line"
    summary="$summary
$line"
done

echo "== summary$summary"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
