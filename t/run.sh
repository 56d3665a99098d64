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
