#!/bin/sh
# 01-health.sh - start-up and the operational routes: the first log line
# names the bound address, /healthz and /readyz answer, unknown routes are
# 404 and wrong methods 405 with Allow, OPTIONS lists the methods, and
# SIGTERM exits 0.
. "$TB_ROOT/tests/lib/http.sh"

tb_start a --workers 1

# The very first line of the log is the "listening" event.
first=$(head -n 1 "$TB_LOG" | jq -r .event)
check_eq "$first" listening "first log line"

expect_status 200 GET /healthz
check_eq "$(body_json .status)" ok "healthz status"
expect_status 200 GET /livez
expect_status 200 GET /readyz
check_eq "$(body_json .status)" ready "readyz status"
body_json .schema_version | grep -qE '^[0-9]+$' || fail "readyz schema_version"

# The embedded OpenAPI document, and every route in it.
expect_status 200 GET /openapi.yaml
case "$(hdr Content-Type)" in application/yaml*) ;; *) fail "openapi Content-Type" ;; esac
head -n 1 "$TB_TMP/body" | grep -q '^openapi: 3\.1' || fail "openapi version line"
cmp -s "$TB_TMP/body" "$TB_ROOT/api/openapi.yaml" || fail "served openapi.yaml differs from api/"
for p in /v1/jobs: '/v1/jobs/{id}:' '/v1/jobs/{id}/result:' '/v1/jobs/{id}/dimension:' \
    '/v1/jobs/{id}/boundary:' '/v1/jobs/{id}/cancel:' /healthz: /livez: /readyz: /openapi.yaml:; do
    grep -q "^  $p" "$TB_TMP/body" || fail "openapi.yaml does not document $p"
done

expect_problem 404 GET /nope
expect_problem 400 GET /v1/jobs/abc
expect_problem 400 GET /v1/jobs/0
expect_problem 400 GET /v1/jobs/007
expect_problem 404 GET /v1/jobs/1/nothing
expect_problem 404 GET /v1/jobs/123456
check_eq "$(body_json .instance)" /v1/jobs/123456 "problem instance"

expect_problem 405 DELETE /v1/jobs
allow=$(hdr Allow)
case "$allow" in *GET*POST*) ;; *) fail "Allow on /v1/jobs: '$allow'" ;; esac
expect_problem 405 PUT /v1/jobs/1
case "$(hdr Allow)" in *DELETE*) ;; *) fail "Allow on /v1/jobs/1: '$(hdr Allow)'" ;; esac
expect_problem 405 GET /v1/jobs/1/cancel
check_eq "$(hdr Allow)" "POST, OPTIONS" "Allow on cancel"
expect_problem 405 POST /healthz

expect_status 204 OPTIONS /v1/jobs
case "$(hdr Allow)" in *POST*) ;; *) fail "OPTIONS Allow: '$(hdr Allow)'" ;; esac

# HEAD works where GET does, without a body.
code=$(curl -sS -o /dev/null -w '%{http_code}' -I "$TB_URL/healthz")
check_eq "$code" 200 "HEAD /healthz"

# The request log has one JSON line per request with method/path/status.
grep '"event":"request"' "$TB_LOG" | tail -n 1 | jq -e '.method and .path and .status and (.duration_ms >= 0)' > /dev/null ||
    fail "request log line"
jq -c . "$TB_LOG" > /dev/null || fail "every log line is JSON"

tb_stop
check_eq "$TB_EXIT" 0 "exit status after SIGTERM"
grep -q '"event":"stopped"' "$TB_LOG" || fail "no stopped event"

# Bad settings: a one-line message and exit status 2, before binding.
"$TB_BIN" serve --workers -1 > /dev/null 2> "$TB_TMP/err" && fail "--workers -1 accepted"
grep -q -- '--workers' "$TB_TMP/err" || fail "bad flag message: $(cat "$TB_TMP/err")"
TRAINBOUND_MAX_BODY=nonsense "$TB_BIN" serve > /dev/null 2> "$TB_TMP/err" && fail "bad env accepted"
grep -q TRAINBOUND_MAX_BODY "$TB_TMP/err" || fail "bad env message: $(cat "$TB_TMP/err")"
"$TB_BIN" serve --help | grep -q -- '--max-cost' || fail "--help"
echo ok
