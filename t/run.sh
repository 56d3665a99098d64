#!/bin/bash
# Runs the Apache::Test suite of mod_mcp_auth from a clean state.
#
#   t/run.sh [extra Apache::Test options, e.g. -verbose t/02-tokens.t]
#
# Environment: MCP_AUTH_SO (module under test, default .libs/mod_mcp_auth.so),
# APXS (default /usr/bin/apxs). Exits non-zero on any failure; the output
# ends with the prove summary.
set -u
cd "$(dirname "$0")/.." || exit 2
TOP=$PWD
export MCP_AUTH_SO="${MCP_AUTH_SO:-$TOP/.libs/mod_mcp_auth.so}"
APXS="${APXS:-/usr/bin/apxs}"

if [ ! -f "$MCP_AUTH_SO" ]; then
    echo "module not built: $MCP_AUTH_SO (run make)" >&2
    exit 2
fi
MCP_AUTH_SO=$(cd "$(dirname "$MCP_AUTH_SO")" && pwd)/$(basename "$MCP_AUTH_SO")

# As root, Apache::Test runs the children as nobody, and they execute the
# fixture CGIs under t/. A clone inside a directory nobody may not enter
# (mktemp -d, /root: mode 0700) would answer every fixture with 403, so the
# suite then runs from a copy in a directory they can read.
if [ "$(id -u)" = 0 ] && [ -z "${MCP_T_COPY:-}" ] \
    && ! runuser -u nobody -- test -r "$TOP/t/cgi-bin/echo" 2>/dev/null; then
    copy=$(mktemp -d "${TMPDIR:-/tmp}/mcp-auth-t.XXXXXX") || exit 2
    chmod 755 "$copy"
    trap 'rm -rf "$copy"' EXIT
    echo "t/run.sh: the httpd children (user nobody) cannot read $TOP/t;" \
         "running the suite from a copy in $copy"
    cp -a "$TOP/t" "$copy/" || exit 2
    # t/38-audit-log.t compares its log format with the documented one
    for f in conf-examples README.md; do
        [ -e "$TOP/$f" ] && cp -a "$TOP/$f" "$copy/"
    done
    chmod -R a+rX "$copy"
    MCP_T_COPY=1 MCP_AUTH_SO="$MCP_AUTH_SO" "$copy/t/run.sh" "$@"
    exit $?
fi

# Clean state: no generated config, logs, fixtures or fixture logs.
perl t/TEST.PL -clean >/dev/null 2>&1
rm -rf t/fixtures

log=$(mktemp)
trap 'rm -f "$log"' EXIT
perl t/TEST.PL -apxs "$APXS" -httpd_conf "$TOP/t/conf/base.conf" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

# Never leave a server behind.
perl t/TEST.PL -stop >/dev/null 2>&1

echo
awk '/^(Test Summary Report|All tests successful)/ { on = 1 }
     on && !/^\[/ { print }
     /^Result:/ { on = 0 }' "$log"
if [ "$rc" -eq 0 ] && ! grep -q '^Result: PASS' "$log"; then
    rc=1
fi
exit "$rc"
