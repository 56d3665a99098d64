# shellcheck shell=bash
# Shell functions shared by e2e/run.sh and scripts/demo: start and stop the IdP, the sample MCP
# server and httpd with mod_mcp_auth. Source it; it expects E2E_DIR (this folder) and STATE
# (a folder for pid files, logs and the generated httpd configuration).

# stack_log MESSAGE...
stack_log() { printf '%s\n' "$*" >&2; }

# stack_free_ports N: prints N free loopback TCP ports, space-separated.
stack_free_ports() {
  node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]);
    const servers = [];
    let done = 0;
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      s.listen(0, "127.0.0.1", () => {
        if (++done === n) {
          console.log(servers.map((x) => x.address().port).join(" "));
          servers.forEach((x) => x.close());
        }
      });
    }' "$1"
}

# stack_start NAME COMMAND...: starts COMMAND in its own session (process group) in the
# background, output to $STATE/NAME.log, pid (= process group id) in $STATE/NAME.pid.
stack_start() {
  local name=$1; shift
  setsid "$@" >"$STATE/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
}

# stack_pid_alive PID: true if PID exists and is not a zombie (an orphan's exit status may wait a
# while for init to collect it).
stack_pid_alive() {
  local st rest
  kill -0 "$1" 2>/dev/null || return 1
  read -r st 2>/dev/null <"/proc/$1/stat" || return 0
  rest=${st##*) }
  [ "${rest%% *}" != Z ]
}

# stack_group_alive PGID: true if a process of that process group is alive (not a zombie).
stack_group_alive() {
  local g=$1 f st rest state pgrp
  kill -0 -- "-$g" 2>/dev/null || return 1
  [ -d /proc/self ] || return 0
  for f in /proc/[0-9]*/stat; do
    read -r st 2>/dev/null <"$f" || continue
    rest=${st##*) }
    read -r state _ pgrp _ <<<"$rest"
    [ "$pgrp" = "$g" ] && [ "$state" != Z ] && return 0
  done
  return 1
}

# stack_running NAME: true if the process recorded in $STATE/NAME.pid is alive.
stack_running() {
  local pid
  pid=$(cat "$STATE/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && stack_pid_alive "$pid"
}

# stack_reap NAME PID: collects the exit status of a process this shell started; one that died
# of a crash (SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE: an httpd parent calling into an unloaded
# module at exit, say) is noted in $STATE/crashed, for run.sh to fail on.
stack_reap() {
  local rc=0
  wait "$2" 2>/dev/null || rc=$?
  case $rc in
    132 | 134 | 135 | 136 | 139) echo "$1 (pid $2) died of signal $((rc - 128)) when stopped" >>"$STATE/crashed" ;;
  esac
}

# stack_stop NAME [GRACE_SECONDS]: SIGTERM to the process group recorded in $STATE/NAME.pid,
# SIGKILL after the grace period (httpd waits for open SSE streams).
stack_stop() {
  local name=$1 grace=${2:-3} pid i
  pid=$(cat "$STATE/$name.pid" 2>/dev/null) || return 0
  rm -f "$STATE/$name.pid"
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    stack_group_alive "$pid" || { stack_reap "$name" "$pid"; return 0; }
    sleep 0.1
  done
  stack_log "$name: still running after ${grace}s, killing"
  kill -KILL -- "-$pid" 2>/dev/null || true
}

# stack_wait_http NAME URL [TIMEOUT_SECONDS]: waits until URL answers with any HTTP status.
stack_wait_http() {
  local name=$1 url=$2 timeout=${3:-20} i
  for ((i = 0; i < timeout * 5; i++)); do
    if ! stack_running "$name"; then
      stack_log "$name exited early; its log ($STATE/$name.log):"
      tail -n 40 "$STATE/$name.log" >&2 || true
      return 1
    fi
    if node -e 'fetch(process.argv[1], { redirect: "manual" }).then(() => process.exit(0), () => process.exit(1))' "$url" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  stack_log "$name: no answer from $url after ${timeout}s; its log ($STATE/$name.log):"
  tail -n 40 "$STATE/$name.log" >&2 || true
  return 1
}

# stack_httpd_root ROOT: creates ROOT/run, ROOT/logs and ROOT/htdocs for an httpd instance, readable
# by its children, and sets STACK_USER_GROUP to the configuration's User/Group lines (as a sed
# replacement: lines joined by \n), or to a comment when not root.
stack_httpd_root() {
  local root=$1
  mkdir -p "$root/run" "$root/logs" "$root/htdocs"
  if [ "$(id -u)" = 0 ]; then
    local u=${HTTPD_USER:-www-data} g=${HTTPD_GROUP:-www-data}
    id "$u" >/dev/null 2>&1 || { u=nobody; g=nogroup; }
    STACK_USER_GROUP="User $u\nGroup $g"
    chown "$u:$g" "$root/run" 2>/dev/null || true
  else
    STACK_USER_GROUP="# not root: the children keep the current user"
  fi
  chmod 755 "$STATE" "$root" "$root/run" "$root/htdocs"
}

# stack_gen_conf: writes $STATE/httpd.conf from $E2E_DIR/httpd.conf.in. Uses GW_BIND, GW_HOST,
# GW_PORT, GW2_PORT, GW3_PORT, BROWSER_ORIGIN, GW_URL, IDP_ISSUER, MCP_PORT, MCP_V2_PORT, CIMD_CA,
# INTROSPECTOR_SECRET, INTROSPECTOR_KEY, EXCHANGER_SECRET, EXCHANGER_KEY, EXCHANGE_DOWN_URL, MCP_AUTH_SO,
# APACHE_MODULES, HTTPD_LOGLEVEL.
stack_gen_conf() {
  local root=$STATE/httpd
  stack_httpd_root "$root"
  sed -e "s|@SERVER_ROOT@|$root|g" \
      -e "s|@GW_BIND@|${GW_BIND:-127.0.0.1}|g" \
      -e "s|@GW_HOST@|${GW_HOST:-127.0.0.1}|g" \
      -e "s|@GW_PORT@|$GW_PORT|g" \
      -e "s|@GW2_PORT@|${GW2_PORT:-0}|g" \
      -e "s|@GW3_PORT@|${GW3_PORT:-0}|g" \
      -e "s|@BROWSER_ORIGIN@|${BROWSER_ORIGIN:-http://127.0.0.1:0}|g" \
      -e "s|@GW_URL@|$GW_URL|g" \
      -e "s|@IDP_ISSUER@|$IDP_ISSUER|g" \
      -e "s|@MCP_PORT@|${MCP_PORT:-0}|g" \
      -e "s|@MCP_V2_PORT@|${MCP_V2_PORT:-0}|g" \
      -e "s|@CIMD_CA@|${CIMD_CA:-}|g" \
      -e "s|@INTROSPECTOR_SECRET@|${INTROSPECTOR_SECRET:-}|g" \
      -e "s|@INTROSPECTOR_KEY@|${INTROSPECTOR_KEY:-}|g" \
      -e "s|@EXCHANGER_SECRET@|${EXCHANGER_SECRET:-}|g" \
      -e "s|@EXCHANGER_KEY@|${EXCHANGER_KEY:-}|g" \
      -e "s|@EXCHANGE_DOWN_URL@|${EXCHANGE_DOWN_URL:-http://127.0.0.1:1/token}|g" \
      -e "s|@MCP_AUTH_SO@|$MCP_AUTH_SO|g" \
      -e "s|@APACHE_MODULES@|$APACHE_MODULES|g" \
      -e "s|@LOGLEVEL@|${HTTPD_LOGLEVEL:-warn mcp_auth:debug}|g" \
      -e "s|@USER_GROUP@|$STACK_USER_GROUP|g" \
      "$E2E_DIR/httpd.conf.in" >"$STATE/httpd.conf"
}

# stack_apache_modules: prints httpd's module folder.
stack_apache_modules() {
  if [ -n "${APACHE_MODULES:-}" ]; then
    echo "$APACHE_MODULES"
  elif [ -d /usr/lib/apache2/modules ]; then
    echo /usr/lib/apache2/modules
  elif command -v apxs >/dev/null 2>&1; then
    apxs -q LIBEXECDIR
  else
    echo /usr/lib/apache2/modules
  fi
}

# stack_start_backends: starts idp and the MCP servers and waits for them. Uses IDP_PORT,
# IDP_PUBLIC_HOST, IDP_DEFAULT_RESOURCE (default $GW_URL/mcp), IDP_STATIC_CLIENT_REDIRECTS,
# IDP_OPAQUE_RESOURCES, IDP_INTROSPECTOR_SECRET_FILE, IDP_INTROSPECTOR_KEY_FILE, IDP_EXCHANGER_SECRET_FILE,
# IDP_EXCHANGER_KEY_FILE, IDP_EXCHANGE_AUDIENCES, IDP_EXCHANGE_SHORT_AUDIENCES, IDP_EXCHANGE_SLOW_AUDIENCES,
# IDP_EXCHANGE_SLOW_MS, IDP_EXCHANGE_BROKEN_AUDIENCES (see idp.mjs), MCP_PORT
# (the SDK 1.x server mcp-server.mjs; not started when empty), MCP_V2_PORT (the SDK 2.x server
# mcp-server-v2.mjs; not started when empty); sets IDP_ISSUER (the MCP servers' exchange endpoints
# read it); IdP signing key in $STATE/idp-key.json.
stack_start_backends() {
  IDP_ISSUER="http://${IDP_PUBLIC_HOST:-127.0.0.1}:$IDP_PORT/realms/master"
  export IDP_ISSUER
  IDP_PORT=$IDP_PORT IDP_PUBLIC_HOST=${IDP_PUBLIC_HOST:-127.0.0.1} IDP_KEY_FILE=$STATE/idp-key.json \
    IDP_DEFAULT_RESOURCE=${IDP_DEFAULT_RESOURCE:-$GW_URL/mcp} \
    IDP_STATIC_CLIENT_REDIRECTS=${IDP_STATIC_CLIENT_REDIRECTS:-} \
    IDP_OPAQUE_RESOURCES=${IDP_OPAQUE_RESOURCES:-} \
    IDP_INTROSPECTOR_SECRET_FILE=${IDP_INTROSPECTOR_SECRET_FILE:-} IDP_INTROSPECTOR_KEY_FILE=${IDP_INTROSPECTOR_KEY_FILE:-} \
    IDP_EXCHANGER_SECRET_FILE=${IDP_EXCHANGER_SECRET_FILE:-} IDP_EXCHANGER_KEY_FILE=${IDP_EXCHANGER_KEY_FILE:-} \
    IDP_EXCHANGE_AUDIENCES=${IDP_EXCHANGE_AUDIENCES:-} IDP_EXCHANGE_SHORT_AUDIENCES=${IDP_EXCHANGE_SHORT_AUDIENCES:-} \
    IDP_EXCHANGE_SLOW_AUDIENCES=${IDP_EXCHANGE_SLOW_AUDIENCES:-} IDP_EXCHANGE_SLOW_MS=${IDP_EXCHANGE_SLOW_MS:-} \
    IDP_EXCHANGE_BROKEN_AUDIENCES=${IDP_EXCHANGE_BROKEN_AUDIENCES:-} \
    stack_start idp node "$E2E_DIR/idp.mjs"
  if [ -n "${MCP_PORT:-}" ]; then
    MCP_PORT=$MCP_PORT stack_start mcp node "$E2E_DIR/mcp-server.mjs"
  fi
  if [ -n "${MCP_V2_PORT:-}" ]; then
    MCP_V2_PORT=$MCP_V2_PORT stack_start mcp2 node "$E2E_DIR/mcp-server-v2.mjs"
  fi
  stack_wait_http idp "http://127.0.0.1:$IDP_PORT/realms/master/.well-known/openid-configuration" 30 || return 1
  if [ -n "${MCP_PORT:-}" ]; then
    stack_wait_http mcp "http://127.0.0.1:$MCP_PORT/mcp" 30 || return 1
  fi
  if [ -n "${MCP_V2_PORT:-}" ]; then
    stack_wait_http mcp2 "http://127.0.0.1:$MCP_V2_PORT/mcp" 30 || return 1
  fi
}

# stack_start_httpd NAME CONF READY_URL [DEFINES...]: checks the httpd configuration CONF
# (apache2 -t), starts httpd in the foreground as NAME (stack_start) and waits until READY_URL
# answers. The instance's error log is expected in $STATE/NAME/logs/error_log (shown on failure).
stack_start_httpd() {
  local name=$1 conf=$2 url=$3
  shift 3
  if ! "$APACHE_BIN" -t -f "$conf" "$@" >"$STATE/$name-configtest.log" 2>&1; then
    stack_log "$name: httpd configuration test failed ($conf):"
    cat "$STATE/$name-configtest.log" >&2
    return 1
  fi
  stack_start "$name" "$APACHE_BIN" -f "$conf" "$@" -DFOREGROUND
  stack_wait_http "$name" "$url" 30 || {
    tail -n 40 "$STATE/$name/logs/error_log" >&2 2>/dev/null || true
    return 1
  }
}

# stack_start_all: starts idp, the MCP servers and httpd and waits for them (stack_start_backends,
# then httpd on $STATE/httpd.conf). Uses the variables of stack_start_backends and stack_gen_conf,
# APACHE_BIN and HTTPD_DEFINES (e.g. -DMCP_E2E_SINGLE).
stack_start_all() {
  stack_start_backends || return 1
  stack_gen_conf
  # shellcheck disable=SC2086
  stack_start_httpd httpd "$STATE/httpd.conf" "http://127.0.0.1:$GW_PORT/.well-known/oauth-protected-resource/mcp" \
    ${HTTPD_DEFINES:-}
}

# stack_stop_all: stops the MCP servers first (which ends the SSE streams httpd is proxying), then
# httpd (with a grace period), then the IdP.
stack_stop_all() {
  stack_stop mcp 2
  stack_stop mcp2 2
  stack_stop httpd "${HTTPD_STOP_GRACE:-5}"
  stack_stop idp 2
}

# Runs `node --test` on the given files with a deadline, its TAP output into TAP_LOG (and the
# terminal), and returns non-zero when any test failed, was cancelled or reported not ok (a
# failing todo included: node counts it as a pass), or when none passed. The summary lines start
# with "# " (TAP) or "ℹ " (--test-reporter=spec).
stack_run_node_tests() {
  local deadline=$1 tap_log=$2 status sum='^(# |ℹ )'
  shift 2
  set +e
  timeout "$deadline" node --test --test-concurrency=1 "$@" 2>&1 | tee "$tap_log"
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -eq 0 ]; then
    if ! grep -qE "${sum}pass [1-9]" "$tap_log" || ! grep -qE "${sum}fail 0\$" "$tap_log" \
      || ! grep -qE "${sum}cancelled 0\$" "$tap_log" || grep -qE '^not ok ' "$tap_log"; then
      echo "# a test failed, was cancelled or reported not ok" >&2
      status=1
    fi
  fi
  return "$status"
}
