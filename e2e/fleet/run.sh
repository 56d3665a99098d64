#!/usr/bin/env bash
# Fleet end-to-end tests of mod_mcp_auth: two gateway hosts (httpd + the module, relay in keycloak
# mode) behind a round-robin front httpd (mod_proxy_balancer, no stickiness), sharing one Redis
# (MCPAuthCache redis:...) and one MCPAuthRelayKey file, in front of the e2e IdP (e2e/idp.mjs) and
# the SDK 2.x MCP server (e2e/mcp-server-v2.mjs); everything on free loopback ports. Runs
# `node --test` on fleet.test.mjs and dpop.test.mjs (DPoP across the hosts, at /dpop: a plain
# resource server taking the IdP's DPoP-bound tokens, with nonces; its Redis outage ends with a
# fresh start of both gateways, so whichever file comes next finds a healthy fleet), stops
# everything and exits with the tests' status; on failure it prints the tail of each httpd's error
# log and of the Redis log.
#
# Environment:
#   MCP_AUTH_SO     module under test (default: <repo>/.libs/mod_mcp_auth.so)
#   APACHE_BIN      httpd binary (default: /usr/sbin/apache2)
#   APACHE_MODULES  httpd's module folder (default: /usr/lib/apache2/modules)
#   HTTPD_LOGLEVEL  LogLevel of the httpd instances (default: "warn mcp_auth:debug")
#   FLEET_KEEP=1    keep the state folder (logs, generated configurations) even when the tests pass
#   FLEET_TIMEOUT   seconds allowed to the test run (default 120)
#   Arguments are passed to `node --test` (e.g. --test-reporter=spec); default: fleet.test.mjs
#   dpop.test.mjs (one file at a time; node takes them in name order).
set -euo pipefail

FLEET_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_DIR=$(cd "$FLEET_DIR/.." && pwd)
REPO_ROOT=$(cd "$E2E_DIR/.." && pwd)
export FLEET_DIR E2E_DIR
# shellcheck source=e2e/fleet/fleet.sh
. "$FLEET_DIR/fleet.sh"

MCP_AUTH_SO=${MCP_AUTH_SO:-$REPO_ROOT/.libs/mod_mcp_auth.so}
APACHE_BIN=${APACHE_BIN:-/usr/sbin/apache2}
APACHE_MODULES=$(stack_apache_modules)

command -v node >/dev/null || { echo "fleet: node is not installed" >&2; exit 2; }
[ -x "$APACHE_BIN" ] || { echo "fleet: $APACHE_BIN not found (apt-get install apache2)" >&2; exit 2; }
if [ ! -x /usr/bin/redis-server ] || ! command -v redis-cli >/dev/null; then
  echo "fleet: redis-server/redis-cli not found (apt-get install redis-server)" >&2
  exit 2
fi
for m in socache_redis proxy proxy_http proxy_balancer lbmethod_byrequests slotmem_shm headers setenvif; do
  [ -f "$APACHE_MODULES/mod_$m.so" ] || { echo "fleet: $APACHE_MODULES/mod_$m.so not found" >&2; exit 2; }
done
[ -f "$MCP_AUTH_SO" ] || { echo "fleet: $MCP_AUTH_SO not found: build the module first (./scripts/build)" >&2; exit 2; }
MCP_AUTH_SO=$(cd "$(dirname "$MCP_AUTH_SO")" && pwd)/$(basename "$MCP_AUTH_SO")

for pkg in oidc-provider jose @modelcontextprotocol/sdk @modelcontextprotocol/client @modelcontextprotocol/server \
  @modelcontextprotocol/node; do
  if [ ! -d "$E2E_DIR/node_modules/$pkg" ]; then
    (cd "$E2E_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    break
  fi
done

STATE=$(mktemp -d "${TMPDIR:-/tmp}/mcp-auth-fleet.XXXXXX")
export STATE
read -r FRONT_PORT GW1_PORT GW2_PORT IDP_PORT MCP_V2_PORT REDIS_PORT < <(stack_free_ports 6)
FRONT_URL="http://127.0.0.1:$FRONT_PORT" # the public URL of the fleet
GW1_URL="http://127.0.0.1:$GW1_PORT"     # the hosts themselves, for the tests' direct requests
GW2_URL="http://127.0.0.1:$GW2_PORT"
# A client that names no resource gets tokens for the fleet's MCP URL.
IDP_DEFAULT_RESOURCE="$FRONT_URL/mcp"
# The relay key every host names (as root-only as an admin would keep it).
RELAY_KEY=$STATE/relay.key
head -c 48 /dev/urandom >"$RELAY_KEY"
chmod 600 "$RELAY_KEY"
# The gateway's client for token exchange (/exchange), known to the IdP with this secret.
EXCHANGER_SECRET=$STATE/exchanger.secret
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$EXCHANGER_SECRET"
chmod 600 "$EXCHANGER_SECRET"
IDP_EXCHANGER_SECRET_FILE=$EXCHANGER_SECRET IDP_EXCHANGE_AUDIENCES=https://tickets.example.test
export FRONT_PORT GW1_PORT GW2_PORT IDP_PORT MCP_V2_PORT REDIS_PORT FRONT_URL GW1_URL GW2_URL IDP_DEFAULT_RESOURCE \
  RELAY_KEY MCP_AUTH_SO APACHE_MODULES APACHE_BIN EXCHANGER_SECRET IDP_EXCHANGER_SECRET_FILE IDP_EXCHANGE_AUDIENCES
export IDP_QUIET=${IDP_QUIET:-0} MCP_QUIET=${MCP_QUIET:-0}

status=1
cleanup() {
  fleet_stop_all
  if [ -s "$STATE/crashed" ]; then
    sed 's/^/# crashed: /' "$STATE/crashed"
    status=1
  fi
  if [ "$status" -ne 0 ]; then
    echo "# fleet run.sh: failed (status $status); logs kept in $STATE:"
    fleet_show_logs
    # the output ends with node's summary all the same
    grep -E '^(# |ℹ )(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' "$STATE/tap.log" 2>/dev/null || true
  elif [ "${FLEET_KEEP:-0}" = 1 ]; then
    echo "# fleet run.sh: logs kept in $STATE" >&2
  else
    rm -rf "$STATE"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fleet_start_all
echo "# fleet: front $FRONT_URL (round robin) -> gw1 $GW1_URL, gw2 $GW2_URL (relay, keycloak mode;" \
  "Redis :$REDIS_PORT; one relay key) -> MCP server :$MCP_V2_PORT (SDK 2.x); IdP $IDP_ISSUER"

export IDP_KEY_FILE=$STATE/idp-key.json
cd "$FLEET_DIR"
if [ "$#" -eq 0 ]; then
  set -- fleet.test.mjs dpop.test.mjs
fi
status=0
stack_run_node_tests "${FLEET_TIMEOUT:-120}" "$STATE/tap.log" "$@" || status=$?
exit "$status"
