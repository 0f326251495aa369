#!/bin/sh
# 02-submit-result.sh - submit, poll and fetch: 202 + Location + the job
# resource; the stored result equals `trainbound run` on the same spec
# (but elapsed_s); /dimension gives the counts and the fit and refits a
# window; /boundary pages the flips and gives the labels as base64 JSON
# and as raw little-endian words.
. "$TB_ROOT/tests/lib/http.sh"

spec=$TB_TMP/spec.json
write_spec "$spec" multiplicative 14 1000 ',"name":"mult14"'

tb_start a --workers 2 --tile-points 1024

code=$(req POST /v1/jobs -H 'Content-Type: application/json' --data-binary "@$spec")
check_eq "$code" 202 "POST /v1/jobs"
id=$(body_json .id)
check_eq "$(hdr Location)" "/v1/jobs/$id" "Location"
hdr ETag | grep -q '^W/"' || fail "no weak ETag on 202"
body_json .status | grep -qE '^(queued|running)$' || fail "status after submit: $(body_json .status)"
check_eq "$(body_json .progress.total)" 16385 "progress.total"
check_eq "$(body_json .progress.tiles_total)" 17 "tiles_total (1024-point tiles)"
check_eq "$(body_json .name)" mult14 "name"
check_eq "$(body_json .spec.lr.levels)" 14 "spec.lr.levels"
check_eq "$(body_json .spec.fit.max_level)" 14 "canonical spec has defaults"
body_json .created_at | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z$' || fail "created_at"

wait_job "$id" succeeded 120

expect_status 200 GET "/v1/jobs/$id"
check_eq "$(body_json .progress.done)" 16385 "progress.done"
check_eq "$(body_json .progress.fraction)" 1 "progress.fraction"
jq -e '.summary.dimension > 0 and (.summary.stderr >= 0) and .summary.fractal == true
       and .summary.transitions > 0 and (.summary.divergent_fraction > 0)
       and (.started_at | type == "string") and (.finished_at | type == "string")
       and (.timings.run_ms >= 0)' "$TB_TMP/body" > /dev/null || fail "summary: $(cat "$TB_TMP/body")"

# The result is exactly what the CLI prints, but elapsed_s.
expect_status 200 GET "/v1/jobs/$id/result"
case "$(hdr Content-Type)" in application/json*) ;; *) fail "result Content-Type" ;; esac
cp "$TB_TMP/body" "$TB_TMP/result.json"
"$TB_BIN" run --threads 2 --quiet "$spec" > "$TB_TMP/cli.json" || fail "trainbound run"
jq -S 'del(.elapsed_s)' "$TB_TMP/result.json" > "$TB_TMP/a.json"
jq -S 'del(.elapsed_s)' "$TB_TMP/cli.json" > "$TB_TMP/b.json"
cmp -s "$TB_TMP/a.json" "$TB_TMP/b.json" || {
    diff "$TB_TMP/a.json" "$TB_TMP/b.json" | head -20 >&2
    fail "server result differs from the CLI's"
}
# Same keys in the same order as the CLI prints them.
check_eq "$(jq -c 'keys_unsorted' "$TB_TMP/result.json")" "$(jq -c 'keys_unsorted' "$TB_TMP/cli.json")" "key order"

# /dimension: counts and the spec's own window by default ...
expect_status 200 GET "/v1/jobs/$id/dimension"
check_eq "$(body_json .refit)" false "dimension.refit"
check_eq "$(jq -c .counts "$TB_TMP/body")" "$(jq -c .counts "$TB_TMP/result.json")" "counts"
check_eq "$(jq -S -c .dimension "$TB_TMP/body")" "$(jq -S -c .dimension "$TB_TMP/result.json")" "default fit"
# ... the same window given explicitly is the same fit ...
expect_status 200 GET "/v1/jobs/$id/dimension?min_level=0&max_level=14&min_levels=3"
check_eq "$(body_json .refit)" true "refit flag"
check_eq "$(body_json .dimension.value)" "$(jq -r .dimension.value "$TB_TMP/result.json")" "explicit window"
# ... another window refits from the stored counts ...
expect_status 200 GET "/v1/jobs/$id/dimension?min_level=4&max_level=12"
check_eq "$(body_json .dimension.min_level)" 4 "refit min_level"
check_eq "$(body_json .dimension.max_level)" 12 "refit max_level"
jq -e '.dimension.value > 0.5 and .dimension.value < 1.2 and .dimension.levels_used == 9' \
    "$TB_TMP/body" > /dev/null || fail "refit 4..12: $(cat "$TB_TMP/body")"
# ... and too few levels is "not fractal", D = 0.
expect_status 200 GET "/v1/jobs/$id/dimension?min_levels=20"
check_eq "$(body_json .dimension.fractal)" false "min_levels=20 fractal"
check_eq "$(body_json .dimension.value)" 0 "min_levels=20 value"

# /boundary: flips paged; the labels (as base64) only with labels=true.
expect_status 200 GET "/v1/jobs/$id/boundary?limit=10"
check_eq "$(body_json .labels)" null "labels are opt-in"
check_eq "$(body_json .flips.count)" 10 "limit=10 count"
[ "$(wc -c < "$TB_TMP/body")" -lt 2048 ] || fail "a 10-flip page is $(wc -c < "$TB_TMP/body") bytes"
expect_status 200 GET "/v1/jobs/$id/boundary?labels=true"
transitions=$(jq -r .boundary.transitions "$TB_TMP/result.json")
check_eq "$(body_json .points)" 16385 "boundary.points"
check_eq "$(body_json .transitions)" "$transitions" "boundary.transitions"
check_eq "$(body_json .divergent_points)" "$(jq -r .divergent_points "$TB_TMP/result.json")" "divergent_points"
check_eq "$(jq -c '.flips.lr' "$TB_TMP/body")" "$(jq -c '.boundary.flips[0:1000]' "$TB_TMP/result.json")" "first page of flips"
check_eq "$(body_json .labels.encoding)" base64 "labels.encoding"
body_json .labels.data | base64 -d > "$TB_TMP/labels.b64.bin" || fail "labels are not base64"
check_eq "$(wc -c < "$TB_TMP/labels.b64.bin" | tr -d ' ')" $((257 * 8)) "decoded label bytes"

expect_status 200 GET "/v1/jobs/$id/boundary?offset=5&limit=3&labels=false"
check_eq "$(jq -c '.flips.lr' "$TB_TMP/body")" "$(jq -c '.boundary.flips[5:8]' "$TB_TMP/result.json")" "flips 5..7"
check_eq "$(body_json .flips.next_offset)" 8 "next_offset"
check_eq "$(body_json .labels)" null "labels=false"
last=$((transitions - 1))
expect_status 200 GET "/v1/jobs/$id/boundary?offset=$last&limit=10&labels=false"
check_eq "$(body_json .flips.count)" 1 "last page count"
check_eq "$(body_json .flips.next_offset)" null "no next page"

# Binary labels with Accept: application/octet-stream.
code=$(curl -sS -o "$TB_TMP/labels.bin" -D "$TB_TMP/headers" -w '%{http_code}' \
    -H 'Accept: application/octet-stream' "$TB_URL/v1/jobs/$id/boundary")
check_eq "$code" 200 "binary boundary"
check_eq "$(hdr Content-Type)" application/octet-stream "binary Content-Type"
check_eq "$(hdr X-Points)" 16385 "X-Points"
cmp -s "$TB_TMP/labels.bin" "$TB_TMP/labels.b64.bin" || fail "binary labels differ from the base64 ones"

tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
