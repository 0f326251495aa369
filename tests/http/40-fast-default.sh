#!/bin/sh
# 40-fast-default.sh - a spec without "precision" runs the fast path through
# the server: the job's canonical spec says "fast", the result names the
# engine and its ISA, and the stored result equals `trainbound run` on the
# same spec (but elapsed_s). An explicit "reference" still runs on libm.
. "$TB_ROOT/tests/lib/http.sh"

spec=$TB_TMP/spec.json
printf '%s\n' '{"model":{"family":"additive","amplitude":0.2,"wavelength":0.1},"lr":{"levels":16}}' > "$spec"

tb_start a --workers 2 --tile-points 4096
id=$(submit "$spec")
check_eq "$(body_json .spec.precision)" fast "canonical spec's precision"
wait_job "$id" succeeded 120

expect_status 200 GET "/v1/jobs/$id/result"
jq -e '.spec.precision == "fast" and .engine.precision == "fast"
       and (.engine.isa | test("^(sse2|avx2|avx512)$"))' "$TB_TMP/body" > /dev/null ||
    fail "engine: $(jq -c .engine "$TB_TMP/body")"
jq -S 'del(.elapsed_s)' "$TB_TMP/body" > "$TB_TMP/a.json"
"$TB_BIN" run --threads 2 --quiet "$spec" | jq -S 'del(.elapsed_s)' > "$TB_TMP/b.json"
cmp -s "$TB_TMP/a.json" "$TB_TMP/b.json" || fail "server's fast result differs from the CLI's"

jq '.precision = "reference" | .lr.levels = 10' "$spec" > "$TB_TMP/ref.json"
id=$(submit "$TB_TMP/ref.json")
wait_job "$id" succeeded 120
expect_status 200 GET "/v1/jobs/$id/result"
check_eq "$(jq -c .engine "$TB_TMP/body")" '{"precision":"reference","isa":"libm"}' "reference engine"
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
