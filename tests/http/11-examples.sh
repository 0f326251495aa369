#!/bin/sh
# 11-examples.sh - every spec in api/examples/ is accepted by the server
# with its default limits (the README and openapi.yaml point at them),
# and the canonical spec it stores is what `trainbound validate` prints.
. "$TB_ROOT/tests/lib/http.sh"

tb_start a --workers 1
n=0
for f in "$TB_ROOT"/api/examples/*.json; do
    [ -e "$f" ] || continue
    id=$(submit "$f")
    jq -S -c .spec "$TB_TMP/body" > "$TB_TMP/server.json"
    "$TB_BIN" validate "$f" | jq -S -c . > "$TB_TMP/cli.json" || fail "validate $f"
    cmp -s "$TB_TMP/server.json" "$TB_TMP/cli.json" ||
        fail "$f: stored spec $(cat "$TB_TMP/server.json") differs from validate's $(cat "$TB_TMP/cli.json")"
    expect_status 204 DELETE "/v1/jobs/$id"
    n=$((n + 1))
done
[ $n -gt 0 ] || fail "no examples in api/examples"
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
