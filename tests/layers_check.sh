#!/bin/bash
# The three layers call one way (modules/README):
#   mod_mcp_auth.c -> modules/httpd/ -> modules/engine/
# Checked on the sources and on the built objects, so that a call against the
# direction is caught even when it comes without an #include. Run after the
# build. Ends with "N passed, M failed".
cd "$(dirname "$0")/.." || exit 2
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "layers: $*"; fail=$((fail + 1)); }

# each layer is grouped by capability in sub-folders
engine_files=$(find modules/engine -name '*.[ch]' | sort)
glue_files=$(find modules/httpd -name '*.[ch]' | sort)
engine_headers=$(for f in $engine_files; do case $f in *.h) basename "$f" ;; esac; done)
glue_headers=$(for f in $glue_files; do case $f in *.h) basename "$f" ;; esac; done)

# 1. No engine file includes a glue header or sees a request.
for f in $engine_files; do
    hit=""
    for h in $glue_headers; do
        grep -q "#include \"$h\"" "$f" && hit="$hit $h"
    done
    [ -n "$hit" ] && bad "$f includes glue header(s):$hit" || ok
    grep -qE '\b(request_rec|cmd_parms|conn_rec)\b' "$f" && bad "$f uses request_rec/cmd_parms/conn_rec" || ok
done

# 2. Every glue file is httpd glue, and includes nothing from the top.
for f in $glue_files; do
    grep -qE '#include "mod_mcp_auth' "$f" && bad "$f includes mod_mcp_auth" || ok
done
for h in $engine_headers; do
    echo "$glue_headers" | grep -qx "$h" && bad "header $h exists in both layers" || ok
done

# 2b. Rooms stay small enough to read: no source file above 800 lines.
for f in mod_mcp_auth.c $(echo "$glue_files $engine_files" | tr ' ' '\n' | grep '\.c$'); do
    n=$(wc -l < "$f")
    [ "$n" -le 800 ] && ok || bad "$f has $n lines (at most 800)"
done

# 3. On the objects: what each layer needs from outside.
engine_lib=.libs/libmcpengine.a
glue_lib=.libs/libmcpglue.a
top_obj=$(ls .libs/mod_mcp_auth_la-mod_mcp_auth.o 2>/dev/null)
if [ ! -f "$engine_lib" ] || [ ! -f "$glue_lib" ] || [ -z "$top_obj" ]; then
    bad "build the module first (./scripts/build): objects missing"
else
    defined() { nm --defined-only -g "$@" 2>/dev/null | awk 'NF==3 {print $3}' | sort -u; }
    undefined() { nm -u "$@" 2>/dev/null | awk '{print $NF}' | sort -u; }
    engine_def=$(defined "$engine_lib")
    glue_def=$(defined "$glue_lib")
    top_def=$(defined "$top_obj")
    # the top file defines the module record and nothing else anyone could call
    extra=$(comm -23 <(echo "$top_def") <(echo mcp_auth_module))
    [ -n "$extra" ] && bad "mod_mcp_auth.c exports more than mcp_auth_module: $extra" || ok
    # the engine calls neither the glue nor the top file nor httpd's request API
    up=$(comm -12 <(undefined "$engine_lib") <(printf '%s\n%s\n' "$glue_def" "$top_def" | sort -u))
    [ -n "$up" ] && bad "engine calls upwards: $up" || ok
    reqapi=$(undefined "$engine_lib" | grep -E '^ap_(rputs|rwrite|set_|get_brigade|construct_url|log_rerror|table_|getword)' || true)
    [ -n "$reqapi" ] && bad "engine uses httpd's request API: $reqapi" || ok
    # the glue uses only the module record from the top file
    up=$(comm -12 <(undefined "$glue_lib") <(echo "$top_def") | grep -vx mcp_auth_module)
    [ -n "$up" ] && bad "glue calls into mod_mcp_auth.c: $up" || ok
    # and the layers are really in use: a check on empty sets proves nothing
    [ -n "$engine_def" ] && [ -n "$glue_def" ] && ok || bad "no symbols found in the layer archives"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
