#!/bin/sh
# 04-list.sh - GET /v1/jobs: newest first, cursor pagination through
# next_cursor with no job missed or repeated, the status filter, and list
# items without the spec.
. "$TB_ROOT/tests/lib/http.sh"

tb_start a --workers 1
write_spec "$TB_TMP/s.json" quadratic 4
ids=""
for n in 1 2 3 4 5; do
    ids="$(submit "$TB_TMP/s.json") $ids"
done
ids=$(echo $ids) # newest first, single spaces
for id in $ids; do wait_job "$id" succeeded; done
# One more, canceled, for the status filter.
write_spec "$TB_TMP/slow.json" multiplicative 16 100000
slow=$(submit "$TB_TMP/slow.json")
code=$(req POST "/v1/jobs/$slow/cancel")
case "$code" in 200 | 202) ;; *) fail "cancel: $code" ;; esac
wait_job "$slow" canceled

expect_status 200 GET /v1/jobs
check_eq "$(jq -r '[.items[].id] | map(tostring) | join(" ")' "$TB_TMP/body")" "$slow $ids" "all jobs, newest first"
check_eq "$(body_json .next_cursor)" null "one page only"
jq -e 'all(.items[]; has("spec") | not) and all(.items[]; .progress and .status and .links.self)' \
    "$TB_TMP/body" > /dev/null || fail "list items"

# Pages of 2: walk next_cursor to the end.
seen=""
path="/v1/jobs?limit=2&status=succeeded"
pages=0
while :; do
    expect_status 200 GET "$path"
    n=$(jq '.items | length' "$TB_TMP/body")
    [ "$n" -le 2 ] || fail "page larger than limit"
    seen="$seen $(jq -r '[.items[].id] | map(tostring) | join(" ")' "$TB_TMP/body")"
    cur=$(body_json .next_cursor)
    pages=$((pages + 1))
    [ "$cur" = null ] && break
    [ $pages -lt 10 ] || fail "pagination does not end"
    path="/v1/jobs?limit=2&status=succeeded&cursor=$cur"
done
check_eq "$(echo $seen)" "$ids" "paged ids"
check_eq "$pages" 3 "pages of 2 over 5 jobs"

expect_status 200 GET '/v1/jobs?status=canceled'
check_eq "$(jq -r '[.items[].id] | map(tostring) | join(" ")' "$TB_TMP/body")" "$slow" "status=canceled"
expect_status 200 GET '/v1/jobs?status=queued'
check_eq "$(jq '.items | length' "$TB_TMP/body")" 0 "status=queued"

# A cursor from another server is just an id bound: still valid syntax;
# garbage is 400 (03-errors), and a tampered one too.
expect_problem 400 GET "/v1/jobs?cursor=$(printf 'jobs<0' | base64 | tr '+/' '-_' | tr -d '=')"
tb_stop
echo ok
