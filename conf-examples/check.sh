#!/bin/sh
# Syntax-checks every conf-examples/*.conf (and the shipped debian/mcp_auth.conf)
# with "httpd -t", each wrapped in a minimal standalone configuration that
# loads mod_mcp_auth and the modules the examples use. Needs no root, no
# network and no free port; touches nothing outside a temporary directory.
#
#   MCP_AUTH_SO     module to load (default: <repo>/.libs/mod_mcp_auth.so)
#   HTTPD           httpd binary (default: apache2, else httpd, from PATH or /usr/sbin)
#   APACHE_MODULES  directory of the stock modules (default: apxs -q LIBEXECDIR,
#                   else /usr/lib/apache2/modules)
#   CHECK_START=1   also start each configuration on a free 127.0.0.1 port and
#                   stop it again: runs post_config too (shared cache and mutex
#                   set-up), which -t skips.
#
# Files an example names for the gateway's IdP clients (MCPAuthTokenExchangeClient,
# MCPAuthIntrospectionClient, MCPAuthClientSecret) are read while httpd reads
# the configuration, so they must exist. Examples name them relative to
# ServerRoot (/etc/apache2 on Debian); here ServerRoot is the temporary
# directory, and each such file is created there: a made-up secret, or a fresh
# P-256 key (openssl) for a name ending in .pem or .key. Absolute paths are
# left alone: the file must exist.
#
# Usage: conf-examples/check.sh [example.conf ...]
# Prints one line per file and "N passed, M failed"; exits 1 on any failure.

set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
so=${MCP_AUTH_SO:-$repo/.libs/mod_mcp_auth.so}

find_httpd() {
    for name in apache2 httpd; do
        p=$(command -v "$name" 2>/dev/null) && { echo "$p"; return; }
        [ -x "/usr/sbin/$name" ] && { echo "/usr/sbin/$name"; return; }
    done
}
httpd=${HTTPD:-$(find_httpd)}
if [ -z "$httpd" ] || [ ! -x "$httpd" ]; then
    echo "check.sh: no httpd binary found (set HTTPD)" >&2
    exit 2
fi

if [ -z "${APACHE_MODULES:-}" ]; then
    for apxs in apxs apxs2; do
        APACHE_MODULES=$($apxs -q LIBEXECDIR 2>/dev/null) && [ -n "$APACHE_MODULES" ] && break
    done
    [ -n "${APACHE_MODULES:-}" ] || APACHE_MODULES=/usr/lib/apache2/modules
fi

case $so in /*) ;; *) so=$(pwd)/$so ;; esac
if [ ! -f "$so" ]; then
    echo "check.sh: module $so not found (build it, or set MCP_AUTH_SO)" >&2
    exit 2
fi

if [ $# -gt 0 ]; then
    files="$*"
else
    files="$here/*.conf $repo/debian/mcp_auth.conf"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcp-auth-check.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null
}

# Modules compiled into the binary (Debian: unixd, log_config, ...) must not
# be loaded again, hence the guards.
load() { # module_name file
    printf '<IfModule !%s>\n    LoadModule %s "%s/%s"\n</IfModule>\n' "$1" "$1" "$APACHE_MODULES" "$2"
}

wrap() { # example, run dir, port -> config on stdout
    ex=$1 dir=$2 port=$3
    cat <<EOF
ServerRoot "$dir"
DefaultRuntimeDir "$dir/run"
PidFile "$dir/run/httpd.pid"
ErrorLog "$dir/error_log"
LogLevel warn
ServerName localhost
Listen 127.0.0.1:$port
EOF
    load mpm_event_module mod_mpm_event.so
    load unixd_module mod_unixd.so
    load authn_core_module mod_authn_core.so
    load authz_core_module mod_authz_core.so
    load authz_user_module mod_authz_user.so
    load proxy_module mod_proxy.so
    load proxy_http_module mod_proxy_http.so
    load socache_shmcb_module mod_socache_shmcb.so
    if grep -q 'socache_redis\|MCPAuthCache[[:space:]]*redis' "$ex"; then
        load socache_redis_module mod_socache_redis.so
    fi
    printf 'LoadModule mcp_auth_module "%s"\n' "$so"
    if [ "$(id -u)" = 0 ]; then
        # children of a root-started server need an account to switch to
        printf 'User nobody\nGroup nogroup\n'
    fi
    printf 'Include "%s"\n' "$ex"
}

# Creates, under run dir $2, the relative client secret and key files that
# example $1 names (see above). Fails when a key cannot be made.
stand_ins() { # example, run dir
    word='[^[:space:]]\{1,\}' gap='[[:space:]]\{1,\}'
    sed -n -e "s/^[[:space:]]*MCPAuthTokenExchangeClient$gap$word$gap\\($word\\).*/\\1/p" \
           -e "s/^[[:space:]]*MCPAuthIntrospectionClient$gap$word$gap\\($word\\).*/\\1/p" \
           -e "s/^[[:space:]]*MCPAuthClientSecret$gap\\($word\\).*/\\1/p" "$1" |
    tr -d '"' |
    while read -r file; do
        case $file in /*|'') continue ;; esac
        mkdir -p "$2/$(dirname "$file")" || return 1
        case $file in
        *.pem|*.key)
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$2/$file" 2>/dev/null || {
                echo "cannot make a stand-in key $file (is openssl installed?)"
                return 1
            } ;;
        *)
            echo "check-only-secret-$$" > "$2/$file" ;;
        esac
        chmod 600 "$2/$file"
    done
}

passed=0
failed=0
for ex in $files; do
    [ -f "$ex" ] || { echo "FAIL $ex: no such file"; failed=$((failed + 1)); continue; }
    # httpd takes a relative Include from ServerRoot, the temporary directory
    case $ex in /*) ;; *) ex=$(pwd)/$ex ;; esac
    name=${ex#"$repo"/}
    dir=$tmp/$(echo "$name" | tr '/' '_')
    mkdir -p "$dir/run" && chmod 755 "$tmp" "$dir" "$dir/run"
    port=$(free_port); [ -n "$port" ] || port=8080
    wrap "$ex" "$dir" "$port" > "$dir/httpd.conf"
    if ! out=$(stand_ins "$ex" "$dir" 2>&1); then
        echo "FAIL $name (stand-in files):"
        echo "$out" | sed 's/^/    /'
        failed=$((failed + 1))
        continue
    fi

    if ! out=$("$httpd" -t -f "$dir/httpd.conf" 2>&1); then
        echo "FAIL $name (-t):"
        echo "$out" | sed 's/^/    /'
        failed=$((failed + 1))
        continue
    fi

    if [ "${CHECK_START:-0}" = 1 ]; then
        if ! out=$("$httpd" -f "$dir/httpd.conf" -k start 2>&1); then
            echo "FAIL $name (start):"
            { echo "$out"; cat "$dir/error_log" 2>/dev/null; } | sed 's/^/    /'
            failed=$((failed + 1))
            continue
        fi
        i=0
        while [ ! -s "$dir/run/httpd.pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        if [ ! -s "$dir/run/httpd.pid" ]; then
            echo "FAIL $name (start): server exited"
            sed 's/^/    /' "$dir/error_log" 2>/dev/null
            failed=$((failed + 1))
            continue
        fi
        "$httpd" -f "$dir/httpd.conf" -k stop >/dev/null 2>&1
        i=0
        while [ -e "$dir/run/httpd.pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        if grep -q 'emerg\|MCPAUTH00[0-9][0-9]: .*\(needs\|cannot\)' "$dir/error_log" 2>/dev/null; then
            echo "FAIL $name (start):"
            sed 's/^/    /' "$dir/error_log"
            failed=$((failed + 1))
            continue
        fi
    fi
    echo "ok   $name"
    passed=$((passed + 1))
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
