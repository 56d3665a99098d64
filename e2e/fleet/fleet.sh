# shellcheck shell=bash
# The fleet suite's stack: Redis, the IdP and the SDK 2.x MCP server (e2e/stack.sh), two gateway
# httpd instances gw1 and gw2 (httpd-gateway.conf.in) and a front httpd balancing over them
# (httpd-front.conf.in). Source it (run.sh does), or run it as a command, which the tests do:
#
#   fleet.sh cold-start      stop both gateways, empty Redis, start both gateways again
#   fleet.sh graceful gwN    graceful restart of one gateway (httpd -k graceful, same -f), waiting
#                            until its new generation is serving
#   fleet.sh redis-stop      stop Redis (an outage of the shared cache; the gateways keep running)
#   fleet.sh redis-start     start Redis again, empty, on the same port, waiting for its PONG
#
# Expects STATE, APACHE_BIN, APACHE_MODULES, MCP_AUTH_SO, FRONT_PORT, FRONT_URL, GW1_PORT, GW2_PORT,
# IDP_PORT, MCP_V2_PORT, REDIS_PORT, RELAY_KEY in the environment (run.sh exports them); every
# instance NAME keeps its files in $STATE/NAME (httpd: $STATE/NAME/logs/error_log, access_log).

FLEET_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_DIR=${E2E_DIR:-$(cd "$FLEET_DIR/.." && pwd)}
export E2E_DIR
# shellcheck source=e2e/stack.sh
. "$E2E_DIR/stack.sh"

# Overall deadline, in seconds, of each wait (a busy CI machine is slow, never stuck).
FLEET_WAIT=${FLEET_WAIT:-60}

# fleet_gen_conf NAME TEMPLATE [HOST_PORT]: writes $STATE/NAME.conf from TEMPLATE, with server root
# $STATE/NAME; HOST_PORT is a gateway's own port.
fleet_gen_conf() {
  local name=$1 template=$2 port=${3:-0} root=$STATE/$1
  stack_httpd_root "$root"
  sed -e "s|@SERVER_ROOT@|$root|g" \
      -e "s|@HOST_NAME@|$name|g" \
      -e "s|@HOST_PORT@|$port|g" \
      -e "s|@FRONT_PORT@|$FRONT_PORT|g" \
      -e "s|@FRONT_URL@|$FRONT_URL|g" \
      -e "s|@GW1_PORT@|$GW1_PORT|g" \
      -e "s|@GW2_PORT@|$GW2_PORT|g" \
      -e "s|@IDP_ISSUER@|$IDP_ISSUER|g" \
      -e "s|@MCP_V2_PORT@|$MCP_V2_PORT|g" \
      -e "s|@REDIS_PORT@|$REDIS_PORT|g" \
      -e "s|@RELAY_KEY@|$RELAY_KEY|g" \
      -e "s|@EXCHANGER_SECRET@|$EXCHANGER_SECRET|g" \
      -e "s|@MCP_AUTH_SO@|$MCP_AUTH_SO|g" \
      -e "s|@APACHE_MODULES@|$APACHE_MODULES|g" \
      -e "s|@LOGLEVEL@|${HTTPD_LOGLEVEL:-warn mcp_auth:debug}|g" \
      -e "s|@USER_GROUP@|$STACK_USER_GROUP|g" \
      "$FLEET_DIR/$template" >"$STATE/$name.conf"
}

# fleet_redis CMD...: a Redis command on the suite's Redis; prints the answer.
fleet_redis() {
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

# fleet_start_redis: Redis on 127.0.0.1:$REDIS_PORT, nothing written to disk.
fleet_start_redis() {
  local i
  mkdir -p "$STATE/redis-data"
  stack_start redis /usr/bin/redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --dir "$STATE/redis-data" --protected-mode yes
  for ((i = 0; i < FLEET_WAIT * 5; i++)); do
    if ! stack_running redis; then
      stack_log "redis exited early; its log ($STATE/redis.log):"
      tail -n 40 "$STATE/redis.log" >&2 || true
      return 1
    fi
    [ "$(fleet_redis ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.2
  done
  stack_log "redis: no PONG on port $REDIS_PORT after ${FLEET_WAIT}s"
  return 1
}

# fleet_gateway_port gwN: the gateway's own port.
fleet_gateway_port() {
  case $1 in
    gw1) echo "$GW1_PORT" ;;
    gw2) echo "$GW2_PORT" ;;
    *) stack_log "fleet: no gateway $1"; return 1 ;;
  esac
}

# fleet_start_gateway gwN: writes the gateway's configuration, starts it, waits for its metadata
# (which asks nothing of the IdP: no key set is fetched by this wait).
fleet_start_gateway() {
  local port
  port=$(fleet_gateway_port "$1") || return 1
  fleet_gen_conf "$1" httpd-gateway.conf.in "$port"
  stack_start_httpd "$1" "$STATE/$1.conf" "http://127.0.0.1:$port/.well-known/oauth-protected-resource/mcp"
}

fleet_start_front() {
  fleet_gen_conf front httpd-front.conf.in
  stack_start_httpd front "$STATE/front.conf" "$FRONT_URL/.well-known/oauth-protected-resource/mcp"
}

# fleet_start_all: Redis, the IdP and the SDK 2.x MCP server, both gateways, the front.
fleet_start_all() {
  fleet_start_redis || return 1
  MCP_PORT='' stack_start_backends || return 1
  fleet_start_gateway gw1 || return 1
  fleet_start_gateway gw2 || return 1
  fleet_start_front
}

# fleet_stop_all: the MCP server first (ends the streams httpd proxies), then the front, the
# gateways, the IdP and Redis.
fleet_stop_all() {
  stack_stop mcp2 2
  stack_stop front "${HTTPD_STOP_GRACE:-5}"
  stack_stop gw1 "${HTTPD_STOP_GRACE:-5}"
  stack_stop gw2 "${HTTPD_STOP_GRACE:-5}"
  stack_stop idp 2
  stack_stop redis 3
}

# fleet_cold_start: both gateways stopped, Redis emptied, both started again: the next requests
# find no key set and no IdP metadata anywhere.
fleet_cold_start() {
  local n
  stack_stop gw1 "${HTTPD_STOP_GRACE:-5}"
  stack_stop gw2 "${HTTPD_STOP_GRACE:-5}"
  fleet_redis flushall >/dev/null || return 1
  n=$(fleet_redis dbsize) || return 1
  [ "$n" = 0 ] || { stack_log "redis: $n keys left after FLUSHALL"; return 1; }
  fleet_start_gateway gw1 || return 1
  fleet_start_gateway gw2
}

# fleet_graceful gwN: httpd -k graceful with the gateway's -f, then waits until its error log says
# the new generation is running, and its port answers.
fleet_graceful() {
  local name=$1 log port offset i
  port=$(fleet_gateway_port "$name") || return 1
  log=$STATE/$name/logs/error_log
  offset=$(stat -c %s "$log" 2>/dev/null || echo 0)
  "$APACHE_BIN" -k graceful -f "$STATE/$name.conf" || return 1
  for ((i = 0; i < FLEET_WAIT * 5; i++)); do
    if tail -c "+$((offset + 1))" "$log" | grep -q 'resuming normal operations'; then
      stack_wait_http "$name" "http://127.0.0.1:$port/.well-known/oauth-protected-resource/mcp" "$FLEET_WAIT"
      return
    fi
    stack_running "$name" || { stack_log "$name exited during its graceful restart"; return 1; }
    sleep 0.2
  done
  stack_log "$name: no new generation after ${FLEET_WAIT}s; its error log:"
  tail -n 20 "$log" >&2 || true
  return 1
}

# fleet_show_logs: the tail of each httpd's error log and of the Redis log (on failure).
fleet_show_logs() {
  local f
  for f in gw1/logs/error_log gw2/logs/error_log front/logs/error_log redis.log idp.log mcp2.log; do
    [ -s "$STATE/$f" ] || continue
    echo "# ---- $f (last 40 lines)"
    tail -n 40 "$STATE/$f" | sed 's/^/# /'
  done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case ${1:-} in
    cold-start) fleet_cold_start ;;
    graceful) fleet_graceful "${2:?graceful: which gateway (gw1, gw2)?}" ;;
    redis-stop) stack_stop redis 3 ;;
    redis-start) stack_running redis || fleet_start_redis ;;
    *) echo "usage: $0 cold-start | graceful gwN | redis-stop | redis-start" >&2; exit 2 ;;
  esac
fi
