#!/usr/bin/env bash
# End-to-end tests of mod_mcp_auth: starts a Keycloak-like IdP, the sample MCP servers (SDK 1.x,
# and SDK 2.x for protocol 2026-07-28) and httpd with the module on free loopback ports, runs
# `node --test` on e2e/*.test.mjs, stops everything and exits with the tests' status.
#
# Environment:
#   MCP_AUTH_SO     module under test (default: <repo>/.libs/mod_mcp_auth.so)
#   APACHE_BIN      httpd binary (default: /usr/sbin/apache2)
#   APACHE_MODULES  httpd's module folder (default: /usr/lib/apache2/modules)
#   HTTPD_LOGLEVEL  LogLevel of the test httpd (default: "warn mcp_auth:debug")
#   E2E_KEEP=1      keep the state folder (logs, generated httpd.conf) even when the tests pass
#   E2E_TIMEOUT     seconds allowed to the test run (default 240)
#   Arguments are passed to `node --test` (e.g. --test-reporter=spec); default: all *.test.mjs.
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$E2E_DIR/.." && pwd)
export E2E_DIR
# shellcheck source=e2e/stack.sh
. "$E2E_DIR/stack.sh"

MCP_AUTH_SO=${MCP_AUTH_SO:-$REPO_ROOT/.libs/mod_mcp_auth.so}
APACHE_BIN=${APACHE_BIN:-/usr/sbin/apache2}
APACHE_MODULES=$(stack_apache_modules)

command -v node >/dev/null || { echo "run.sh: node is not installed" >&2; exit 2; }
[ -x "$APACHE_BIN" ] || { echo "run.sh: $APACHE_BIN not found (apt-get install apache2)" >&2; exit 2; }
[ -f "$MCP_AUTH_SO" ] || { echo "run.sh: $MCP_AUTH_SO not found: build the module first (autoreconf -fi && ./configure && make)" >&2; exit 2; }
MCP_AUTH_SO=$(cd "$(dirname "$MCP_AUTH_SO")" && pwd)/$(basename "$MCP_AUTH_SO")

for pkg in oidc-provider @modelcontextprotocol/sdk @modelcontextprotocol/client @modelcontextprotocol/server @modelcontextprotocol/node \
  @modelcontextprotocol/inspector inspector2 mcp-remote playwright-core; do
  if [ ! -d "$E2E_DIR/node_modules/$pkg" ]; then
    (cd "$E2E_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    break
  fi
done

STATE=$(mktemp -d "${TMPDIR:-/tmp}/mcp-auth-e2e.XXXXXX")
export STATE
read -r GW_PORT GW2_PORT GW3_PORT IDP_PORT MCP_PORT MCP_V2_PORT BROWSER_PORT CLOSED_PORT < <(stack_free_ports 8)
GW_URL="http://127.0.0.1:$GW_PORT"
GW2_URL="http://127.0.0.1:$GW2_PORT" # second virtual host: one protected location, all defaults
GW3_URL="http://127.0.0.1:$GW3_PORT" # third virtual host: one location, MCPAuthProvider keycloak
BROWSER_ORIGIN="http://127.0.0.1:$BROWSER_PORT" # the browser test's page (another origin)
# The 2025-03-26-style client sends no resource parameter: the IdP's default audience is its MCP URL.
IDP_DEFAULT_RESOURCE="$GW3_URL/mcp"
HTTPD_DEFINES=-DMCP_E2E_SINGLE
# The client the IdP knows for the gateway's MCPAuthClientID location (its callback).
IDP_STATIC_CLIENT_REDIRECTS="$GW_URL/.well-known/mcp-auth/callback/mcp-static"
# Client ID Metadata Documents are served over https on loopback by the tests, with a
# certificate the gateway trusts through MCPAuthCAFile.
CIMD_CA=$STATE/cimd-cert.pem CIMD_KEY=$STATE/cimd-key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$CIMD_KEY" -out "$CIMD_CA" 2>"$STATE/openssl.log" \
  || { cat "$STATE/openssl.log" >&2; exit 2; }
chmod 644 "$CIMD_CA"
# Opaque tokens (opaque.test.mjs; exchange.test.mjs at /mcp-exchange-opaque): the IdP issues them
# for these resources, and knows the gateway's clients at its introspection endpoint:
# mcp-introspector with a secret (client_secret_basic) and mcp-introspector-jwt with an EC P-256 key
# (private_key_jwt).
IDP_OPAQUE_RESOURCES="$GW_URL/mcp-opaque $GW_URL/mcp-opaque-jwt $GW_URL/mcp-exchange-opaque"
INTROSPECTOR_SECRET=$STATE/introspector.secret INTROSPECTOR_KEY=$STATE/introspector-key.pem
openssl rand -hex 32 >"$INTROSPECTOR_SECRET"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$INTROSPECTOR_KEY" 2>"$STATE/openssl.log" \
  || { cat "$STATE/openssl.log" >&2; exit 2; }
IDP_INTROSPECTOR_SECRET_FILE=$INTROSPECTOR_SECRET IDP_INTROSPECTOR_KEY_FILE=$INTROSPECTOR_KEY
# Token exchange (exchange.test.mjs): the gateway's clients at the IdP's token endpoint,
# mcp-exchanger with a secret and mcp-exchanger-jwt with an RSA key (private_key_jwt); the
# audiences the IdP exchanges tokens for (the MCP servers' own, see upstream-token.mjs; a short-lived
# one, one answered after 15 s, past the gateway's MCPAuthFetchTimeout there, and one answered with
# a 502 page); a port nothing listens on, for a token endpoint that is down.
EXCHANGER_SECRET=$STATE/exchanger.secret EXCHANGER_KEY=$STATE/exchanger-key.pem
openssl rand -hex 32 >"$EXCHANGER_SECRET"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$EXCHANGER_KEY" 2>"$STATE/openssl.log" \
  || { cat "$STATE/openssl.log" >&2; exit 2; }
IDP_EXCHANGER_SECRET_FILE=$EXCHANGER_SECRET IDP_EXCHANGER_KEY_FILE=$EXCHANGER_KEY
IDP_EXCHANGE_AUDIENCES="https://tickets.example.test api://tickets"
IDP_EXCHANGE_SHORT_AUDIENCES=https://tickets-short.example.test
IDP_EXCHANGE_SLOW_AUDIENCES=https://slow.example.test IDP_EXCHANGE_SLOW_MS=15000
IDP_EXCHANGE_BROKEN_AUDIENCES=https://broken.example.test
EXCHANGE_DOWN_URL="http://127.0.0.1:$CLOSED_PORT/token"
export IDP_STATIC_CLIENT_REDIRECTS CIMD_CA CIMD_KEY IDP_OPAQUE_RESOURCES INTROSPECTOR_SECRET INTROSPECTOR_KEY \
  IDP_INTROSPECTOR_SECRET_FILE IDP_INTROSPECTOR_KEY_FILE EXCHANGER_SECRET EXCHANGER_KEY IDP_EXCHANGER_SECRET_FILE \
  IDP_EXCHANGER_KEY_FILE IDP_EXCHANGE_AUDIENCES IDP_EXCHANGE_SHORT_AUDIENCES IDP_EXCHANGE_SLOW_AUDIENCES \
  IDP_EXCHANGE_SLOW_MS IDP_EXCHANGE_BROKEN_AUDIENCES EXCHANGE_DOWN_URL
export GW_PORT GW2_PORT GW3_PORT IDP_PORT MCP_PORT MCP_V2_PORT BROWSER_PORT GW_URL GW2_URL GW3_URL BROWSER_ORIGIN \
  IDP_DEFAULT_RESOURCE HTTPD_DEFINES MCP_AUTH_SO APACHE_MODULES APACHE_BIN
export IDP_QUIET=${IDP_QUIET:-0} MCP_QUIET=${MCP_QUIET:-0}

status=1
cleanup() {
  stack_stop_all
  if [ -s "$STATE/crashed" ]; then
    sed 's/^/# crashed: /' "$STATE/crashed" >&2
    status=1
  fi
  if [ "$status" -ne 0 ]; then
    echo "# run.sh: failed (status $status); logs kept in $STATE:" >&2
    for f in httpd/logs/error_log httpd/logs/access_log idp.log mcp.log mcp2.log; do
      [ -s "$STATE/$f" ] || continue
      echo "# ---- $f (last 40 lines)" >&2
      tail -n 40 "$STATE/$f" | sed 's/^/# /' >&2
    done
  elif [ "${E2E_KEEP:-0}" = 1 ]; then
    echo "# run.sh: logs kept in $STATE" >&2
  else
    rm -rf "$STATE"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stack_start_all
echo "# gateway $GW_URL/mcp (SSE) and $GW_URL/mcp-json (JSON), $GW2_URL/mcp (defaults), $GW3_URL/mcp (keycloak)," \
  "$GW_URL/mcp-static (MCPAuthClientID, consent) -> MCP server :$MCP_PORT (SDK 1.x);" \
  "$GW_URL/mcp-v2 (rules), /mcp-dpop-nonce and /mcp-dpop-only (DPoP), /mcp-opaque and /mcp-opaque-jwt (introspection)" \
  "-> MCP server :$MCP_V2_PORT (SDK 2.x, 2026-07-28); token exchange: $GW_URL/mcp-exchange, /mcp-obo (SDK 1.x)," \
  "/mcp-exchange-jwt (SDK 2.x) and failing ones;" \
  "issuer $IDP_ISSUER"

export IDP_KEY_FILE=$STATE/idp-key.json
cd "$E2E_DIR"
if [ "$#" -eq 0 ]; then
  set -- *.test.mjs
fi
status=0
stack_run_node_tests "${E2E_TIMEOUT:-240}" "$STATE/tap.log" "$@" || status=$?
exit "$status"
