#!/bin/sh
# 33-metrics-openapi.sh - GET /metrics is Prometheus text format 0.0.4
# (every sample line `name{labels} value`, HELP and TYPE for each family,
# histogram buckets cumulative) and its counters move after a job;
# GET /openapi.json is the YAML spec as JSON.
. "$TB_ROOT/tests/lib/http.sh"

# check_prom FILE: the text format's grammar, as far as we use it.
check_prom() {
    awk '
    /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* / { help[$3] = 1; next }
    /^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$/ { type[$3] = $4; next }
    /^#/ { print "bad comment: " $0; bad = 1; next }
    /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*)?\})? -?([0-9.]+([eE][-+]?[0-9]+)?|\+Inf|NaN)$/ {
        name = $0; sub(/[{ ].*/, "", name); fam = name
        if (!(fam in type)) { sub(/_(bucket|sum|count)$/, "", fam) }
        if (!(fam in type) || !(fam in help)) { print "no TYPE/HELP for " name; bad = 1 }
        next }
    { print "bad line: " $0; bad = 1 }
    END { exit bad }' "$1"
}

# metric FILE 'name{labels}': its value (0 when absent).
metric() {
    awk -v k="$2" 'index($0, k " ") == 1 { v = $NF } END { print v + 0 }' "$1"
}

tb_start a --workers 1 --tile-points 64
expect_status 200 GET /metrics
case "$(hdr Content-Type)" in text/plain\;\ version=0.0.4*) ;; *) fail "type $(hdr Content-Type)" ;; esac
cp "$TB_TMP/body" "$TB_TMP/m0"
tail -c 1 "$TB_TMP/m0" | od -c | grep -q '\\n' || fail "no trailing newline"
check_prom "$TB_TMP/m0" || fail "not Prometheus text: see above"

write_spec "$TB_TMP/s.json" multiplicative 9
id=$(submit "$TB_TMP/s.json")
wait_job "$id" succeeded
expect_problem 404 GET /v1/jobs/999
expect_status 200 GET /metrics
cp "$TB_TMP/body" "$TB_TMP/m1"
check_prom "$TB_TMP/m1" || fail "not Prometheus text after a job"
check_eq "$(metric "$TB_TMP/m1" 'trainbound_points_computed_total')" 513 "points computed"
check_eq "$(metric "$TB_TMP/m1" 'trainbound_jobs{state="succeeded"}')" 1 "succeeded jobs"
check_eq "$(metric "$TB_TMP/m1" 'trainbound_queue_depth')" 0 "queue depth"
check_eq "$(metric "$TB_TMP/m1" 'http_requests_total{route="/v1/jobs",code="202"}')" 1 "POST count"
check_eq "$(metric "$TB_TMP/m1" 'http_requests_total{route="/v1/jobs/{id}",code="404"}')" 1 "404 count"
[ "$(metric "$TB_TMP/m1" 'http_requests_total{route="/metrics",code="200"}')" -ge 1 ] || fail "no /metrics count"
polls=$(metric "$TB_TMP/m1" 'http_request_duration_seconds_count{route="/v1/jobs/{id}"}')
[ "$polls" -ge 2 ] || fail "histogram count of /v1/jobs/{id}: $polls"
inf=$(metric "$TB_TMP/m1" 'http_request_duration_seconds_bucket{route="/v1/jobs/{id}",le="+Inf"}')
check_eq "$inf" "$polls" "+Inf bucket = count"
# Buckets never decrease.
grep '^http_request_duration_seconds_bucket{route="/v1/jobs/{id}"' "$TB_TMP/m1" |
    awk '$NF < prev { exit 1 } { prev = $NF }' || fail "buckets not cumulative"
grep -q '^trainbound_points_per_second ' "$TB_TMP/m1" || fail "no points per second"
grep -q '^trainbound_sqlite_busy_total 0$' "$TB_TMP/m1" || fail "busy counter"
grep -q '^trainbound_sse_clients 0$' "$TB_TMP/m1" || fail "sse clients"

expect_status 200 GET /openapi.json
case "$(hdr Content-Type)" in application/json*) ;; *) fail "openapi.json type" ;; esac
jq -e '.openapi | startswith("3.")' "$TB_TMP/body" > /dev/null || fail "not an OpenAPI document"
yq -c . "$TB_ROOT/api/openapi.yaml" > "$TB_TMP/want.json" 2> /dev/null &&
    { jq -S . "$TB_TMP/body" | cmp -s - "$(jq -S . "$TB_TMP/want.json" > "$TB_TMP/w2"; echo "$TB_TMP/w2")" ||
        fail "openapi.json is not api/openapi.yaml"; }
tb_stop
echo ok
