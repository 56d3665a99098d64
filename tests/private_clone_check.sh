#!/bin/bash
# README command 2 from a clone inside a directory the httpd children cannot
# enter (mktemp -d and /root are mode 0700, where root usually clones): the
# Apache::Test suite must still pass. Runs one test file of t/ from such a
# copy of this tree, with the module already built here. Ends with
# "N passed, M failed".
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
SO="$TOP/.libs/mod_mcp_auth.so"
[ -f "$SO" ] || { echo "build the module first"; echo "0 passed, 1 failed"; exit 1; }
if [ "$(id -u)" != 0 ]; then
    echo "not root: the children run as this user and can read any clone it can"
    echo "1 passed, 0 failed"
    exit 0
fi
private=$(mktemp -d) || exit 2
trap 'rm -rf "$private"' EXIT
chmod 700 "$private"
(cd "$TOP" && git ls-files -z --cached --others --exclude-standard -- t \
    | tar --null -T - -cf -) | (mkdir -p "$private/clone" && tar -xf - -C "$private/clone")
out=$(MCP_AUTH_SO="$SO" "$private/clone/t/run.sh" t/01-challenge.t 2>&1)
rc=$?
pass=0
fail=0
check() {
    if [ "$2" = yes ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "failed: $1"; fi
}
check "the suite passes from a 0700 directory (exit $rc)" "$([ "$rc" -eq 0 ] && echo yes || echo no)"
check "it says why it runs from a copy" "$(grep -q 'cannot read .* running the suite from a copy' <<<"$out" && echo yes || echo no)"
check "the prove summary says PASS" "$(grep -q '^Result: PASS' <<<"$out" && echo yes || echo no)"
[ "$fail" -eq 0 ] || tail -30 <<<"$out"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
