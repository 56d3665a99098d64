#!/bin/sh
# Every directive in the command table is documented in README.md and in the
# shipped mcp_auth.conf. Ends with "N passed, M failed".
cd "$(dirname "$0")/.." || exit 2
table=modules/httpd/operations/mcp_config.c
pass=0
fail=0
directives=$(grep -oE '(DIR_CMD|AP_INIT_[A-Z0-9]+)\("MCPAuth[A-Za-z]+"' "$table" | grep -oE 'MCPAuth[A-Za-z]+' | sort -u)
if [ -z "$directives" ]; then
    echo "no directives found in $table: the check is looking in the wrong place"
    fail=1
fi
for d in $directives; do
    for doc in README.md debian/mcp_auth.conf; do
        if grep -q "$d" "$doc"; then
            pass=$((pass + 1))
        else
            echo "not documented: $d in $doc"
            fail=$((fail + 1))
        fi
    done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
