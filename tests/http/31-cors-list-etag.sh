#!/bin/sh
# 31-cors-list-etag.sh - --cors-origin (repeatable, comma lists, and the
# TRAINBOUND_CORS_ORIGIN variable): an allowed Origin is echoed with
# Vary: Origin and the exposed Location, ETag and Retry-After; a preflight
# OPTIONS answers 204 with the methods, headers and Max-Age; any other
# origin gets no CORS headers; without the flag, no CORS at all. The job
# list has a weak ETag and answers 304.
. "$TB_ROOT/tests/lib/http.sh"

A=http://a.example
B=http://b.example:8080
TRAINBOUND_CORS_ORIGIN=http://c.example tb_start a --workers 1 --tile-points 64 \
    --cors-origin "$A" --cors-origin "https://x.example, $B"
write_spec "$TB_TMP/s.json" quadratic 6

for o in "$A" "$B" http://c.example; do
    expect_status 204 OPTIONS /v1/jobs -H "Origin: $o" -H 'Access-Control-Request-Method: POST' \
        -H 'Access-Control-Request-Headers: content-type, idempotency-key'
    check_eq "$(hdr Access-Control-Allow-Origin)" "$o" "preflight origin"
    check_eq "$(hdr Vary)" Origin "Vary"
    hdr Access-Control-Allow-Methods | grep -q POST || fail "Allow-Methods: $(hdr Access-Control-Allow-Methods)"
    for h in Idempotency-Key If-None-Match Last-Event-ID Authorization Content-Type; do
        hdr Access-Control-Allow-Headers | grep -q "$h" || fail "Allow-Headers lacks $h"
    done
    [ "$(hdr Access-Control-Max-Age)" -gt 0 ] || fail "no Max-Age"
done
# A preflight for a job route names that route's methods.
expect_status 204 OPTIONS /v1/jobs/5/cancel -H "Origin: $A" -H 'Access-Control-Request-Method: POST'
check_eq "$(hdr Access-Control-Allow-Methods)" "POST, OPTIONS" "cancel methods"

# An actual request: echoed origin and the exposed headers.
code=$(req POST /v1/jobs -H "Origin: $A" -H 'Content-Type: application/json' --data-binary "@$TB_TMP/s.json")
check_eq "$code" 202 "submit"
id=$(body_json .id)
check_eq "$(hdr Access-Control-Allow-Origin)" "$A" "origin on 202"
check_eq "$(hdr Access-Control-Expose-Headers)" "Location, ETag, Retry-After" "exposed headers"
check_eq "$(hdr Vary)" Origin "Vary on 202"
# Errors carry them too (a browser must read a problem).
expect_problem 404 GET /v1/jobs/999 -H "Origin: $A"
check_eq "$(hdr Access-Control-Allow-Origin)" "$A" "origin on 404"

# Another origin: Vary only, nothing allowed.
expect_status 204 OPTIONS /v1/jobs -H 'Origin: http://evil.example' -H 'Access-Control-Request-Method: POST'
[ -z "$(hdr Access-Control-Allow-Origin)" ] || fail "evil origin allowed"
[ -z "$(hdr Access-Control-Allow-Methods)" ] || fail "evil origin got Allow-Methods"
check_eq "$(hdr Vary)" Origin "Vary for another origin"
expect_status 200 GET /v1/jobs -H 'Origin: http://a.example.evil'
[ -z "$(hdr Access-Control-Allow-Origin)" ] || fail "prefix origin allowed"

# The list: weak ETag, 304, a new ETag once a job changes.
wait_job "$id" succeeded
expect_status 200 GET /v1/jobs
e1=$(hdr ETag)
case "$e1" in W/\"*\") ;; *) fail "list ETag '$e1' is not weak" ;; esac
check_eq "$(hdr Cache-Control)" no-cache "list Cache-Control"
expect_status 304 GET /v1/jobs -H "If-None-Match: $e1"
check_eq "$(hdr ETag)" "$e1" "ETag on the list's 304"
expect_status 200 GET '/v1/jobs?limit=5' -H "If-None-Match: $e1"
[ "$(hdr ETag)" != "$e1" ] || fail "another page, same ETag"
submit "$TB_TMP/s.json" > /dev/null
expect_status 200 GET /v1/jobs -H "If-None-Match: $e1"
[ "$(hdr ETag)" != "$e1" ] || fail "a new job did not change the list ETag"
tb_stop

# Without --cors-origin: no CORS headers at all.
tb_start b --workers 1
expect_status 204 OPTIONS /v1/jobs -H "Origin: $A" -H 'Access-Control-Request-Method: POST'
[ -z "$(hdr Access-Control-Allow-Origin)$(hdr Vary)" ] || fail "CORS without --cors-origin"
tb_stop
echo ok
