#!/bin/sh
# Every directive in the command table is documented in README.md and in the
# shipped mcp_auth.conf. Ends with "N passed, M failed".
cd "$(dirname "$0")/.." || exit 2
pass=0
fail=0
for d in $(grep -oE '(DIR_CMD|AP_INIT_[A-Z0-9]+)\("MCPAuth[A-Za-z]+"' mod_mcp_auth.c | grep -oE 'MCPAuth[A-Za-z]+' | sort -u); do
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
