#!/bin/bash
# Runs the Apache::Test suite against an AddressSanitizer + UBSan build of
# mod_mcp_auth.
#
#   t/asan.sh [Apache::Test options/test files, e.g. t/13-hardening.t]
#   t/asan.sh --self-test      proves that reports are caught: preloads a
#                              canary library with one ASan and one UBSan
#                              error; must end in FAIL with reports shown
#
# What it does:
#   1. copies the worktree (tracked and untracked, non-ignored files, as they
#      are on disk) to a temp dir and builds it there with
#      autoreconf -fi && ./configure -q --enable-sanitizers && make
#   2. runs that copy's t/run.sh on port $MCP_ASAN_PORT (default 8650) with
#      MCP_AUTH_SO=<asan .so> and an httpd wrapper (-httpd) that preloads
#      libasan and libubsan and sets ASAN_OPTIONS/UBSAN_OPTIONS, so only
#      httpd (not perl, node or the CGIs) runs with the sanitizer runtime
#   3. fails (exit 1) if the suite failed, any asan.* / ubsan.* report was
#      written, or a sanitizer report reached the error log (all printed)
# Environment: APACHE_BIN (default /usr/sbin/apache2), MCP_ASAN_PORT,
# MCP_ASAN_KEEP=1 keeps the temp dir.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
PORT="${MCP_ASAN_PORT:-8650}"
APACHE_BIN="${APACHE_BIN:-/usr/sbin/apache2}"
SELF_TEST=0
if [ "${1:-}" = "--self-test" ]; then
    SELF_TEST=1
    shift
fi

WORK=$(mktemp -d /tmp/mcp-asan.XXXXXX) || exit 2
chmod 755 "$WORK"                 # the httpd children (User nobody) run the CGIs here
SRC="$WORK/src"
SAN="$WORK/reports"
mkdir -p "$SRC" "$SAN"
chmod 1777 "$SAN"                 # children write their reports as nobody
cleanup() {
    [ -f "$SRC/t/conf/httpd.conf" ] && (cd "$SRC" && perl t/TEST.PL -stop >/dev/null 2>&1)
    if [ "${MCP_ASAN_KEEP:-0}" = 1 ]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. copy and build ------------------------------------------------------------
echo "asan.sh: copying $TOP to $SRC"
(cd "$TOP" && git ls-files -z --cached --others --exclude-standard \
    | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$SRC" || {
    echo "asan.sh: copy failed" >&2; exit 2; }
echo "asan.sh: building with --enable-sanitizers"
if ! (cd "$SRC" && autoreconf -fi >"$WORK/build.log" 2>&1 \
        && ./configure -q --enable-sanitizers >>"$WORK/build.log" 2>&1 \
        && make -s >>"$WORK/build.log" 2>&1); then
    tail -40 "$WORK/build.log"
    echo "asan.sh: build failed" >&2
    exit 2
fi
SO="$SRC/.libs/mod_mcp_auth.so"
if ! nm -D "$SO" 2>/dev/null | grep -q '__asan_'; then
    echo "asan.sh: $SO is not instrumented" >&2
    exit 2
fi

ASAN_LIB=$(gcc -print-file-name=libasan.so)
UBSAN_LIB=$(gcc -print-file-name=libubsan.so)
for l in "$ASAN_LIB" "$UBSAN_LIB"; do
    [ -e "$l" ] || { echo "asan.sh: sanitizer runtime not found: $l" >&2; exit 2; }
done
PRELOAD="$ASAN_LIB $UBSAN_LIB"
ASAN_OPTS="detect_leaks=0:abort_on_error=0:log_path=$SAN/asan"
UBSAN_OPTS="print_stacktrace=1:log_path=$SAN/ubsan"

if [ "$SELF_TEST" = 1 ]; then
    # A canary with one heap overflow and one signed overflow at load time,
    # both recoverable: httpd keeps running, the reports must be found.
    cat >"$WORK/canary.c" <<'EOF'
#include <limits.h>
#include <stdlib.h>
__attribute__((constructor)) static void mcp_asan_canary(void)
{
    volatile int big = INT_MAX;
    volatile int sum = big + 1;                 /* UBSan: signed integer overflow */
    char *volatile p = malloc(8);
    volatile char c = p[8];                     /* ASan: heap-buffer-overflow */
    (void)sum; (void)c;
    free(p);
}
EOF
    gcc -shared -fPIC -O0 -g -fsanitize=address,undefined -fsanitize-recover=address,undefined \
        -o "$WORK/canary.so" "$WORK/canary.c" || exit 2
    PRELOAD="$PRELOAD $WORK/canary.so"
    ASAN_OPTS="$ASAN_OPTS:halt_on_error=0"
    echo "asan.sh: SELF-TEST: canary preloaded, this run must FAIL"
fi

# --- 2. the httpd wrapper and the suite --------------------------------------------------
cat >"$WORK/httpd-asan" <<EOF
#!/bin/sh
# httpd under the sanitizer runtime (made by t/asan.sh)
LD_PRELOAD="$PRELOAD"
ASAN_OPTIONS="$ASAN_OPTS"
UBSAN_OPTIONS="$UBSAN_OPTS"
export LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
exec "$APACHE_BIN" "\$@"
EOF
chmod 755 "$WORK/httpd-asan"

echo "asan.sh: running the suite on port $PORT (module $SO)"
MCP_AUTH_SO="$SO" "$SRC/t/run.sh" -port "$PORT" -httpd "$WORK/httpd-asan" "$@" 2>&1 | tee "$WORK/suite.log"
suite_rc=${PIPESTATUS[0]}
(cd "$SRC" && perl t/TEST.PL -stop >/dev/null 2>&1)
sleep 1                           # children flush their reports on exit

# --- 3. verdict ------------------------------------------------------------------------
shopt -s nullglob
reports=("$SAN"/asan.* "$SAN"/ubsan.*)
for f in "${reports[@]}"; do
    echo
    echo "===== sanitizer report $(basename "$f") ====="
    cat "$f"
done
# Reports on stderr, i.e. in the error log: with ASan and UBSan combined,
# GCC's runtime writes fatal UBSan reports (-fno-sanitize-recover=undefined)
# there and ignores log_path.
errlog="$SRC/t/logs/error_log"
san_in_log=$(grep -c -E 'ERROR: AddressSanitizer|runtime error:' "$errlog" 2>/dev/null)
[ -n "$san_in_log" ] || san_in_log=0
if [ "$san_in_log" -gt 0 ]; then
    echo
    echo "===== sanitizer reports in $errlog ====="
    awk '/ERROR: AddressSanitizer|runtime error:/ { n = 40 } n > 0 && (/ERROR: AddressSanitizer|runtime error:|^ +#[0-9]|^SUMMARY|^ *$/) { print; n-- }' "$errlog" | head -200
fi
summary=$(grep -E '^Files=[0-9]+, Tests=[0-9]+' "$WORK/suite.log" | tail -1)
echo
echo "asan.sh: ${summary:-no prove summary}"
echo "asan.sh: suite $([ "$suite_rc" -eq 0 ] && echo PASS || echo "FAIL (rc $suite_rc)"),"\
     "${#reports[@]} sanitizer report file(s), $san_in_log sanitizer line(s) in the error log"
if [ "$suite_rc" -ne 0 ] || [ "${#reports[@]}" -gt 0 ] || [ "$san_in_log" -gt 0 ]; then
    echo "asan.sh: FAIL"
    exit 1
fi
echo "asan.sh: PASS"
exit 0
