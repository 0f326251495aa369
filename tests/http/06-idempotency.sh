#!/bin/sh
# 06-idempotency.sh - Idempotency-Key on POST /v1/jobs: the same key with
# the same spec (even written differently) returns the original job (200,
# same id, Idempotent-Replayed); with another spec it is 422; another key
# is a new job.
. "$TB_ROOT/tests/lib/http.sh"

JSON='Content-Type: application/json'
tb_start a --workers 1
write_spec "$TB_TMP/a.json" quadratic 6
# The same spec with its defaults spelled out and other whitespace.
cat > "$TB_TMP/a2.json" <<'SPEC'
{ "lr": {"levels": 6, "min": 0, "max": 1.5},
  "divergence": {"threshold": 100000000, "criterion": "max_loss", "nan": "divergent"},
  "steps": 1000, "x0": 1, "model": {"dim": 1, "family": "quadratic"}, "precision": "reference" }
SPEC
write_spec "$TB_TMP/b.json" quadratic 7

id=$(submit "$TB_TMP/a.json" -H 'Idempotency-Key: key-1')
expect_status 200 POST /v1/jobs -H "$JSON" -H 'Idempotency-Key: key-1' --data-binary "@$TB_TMP/a.json"
check_eq "$(body_json .id)" "$id" "replayed id"
check_eq "$(hdr Idempotent-Replayed)" true "Idempotent-Replayed"
check_eq "$(hdr Location)" "/v1/jobs/$id" "replayed Location"
expect_status 200 POST /v1/jobs -H "$JSON" -H 'Idempotency-Key: key-1' --data-binary "@$TB_TMP/a2.json"
check_eq "$(body_json .id)" "$id" "same canonical spec"

expect_problem 422 POST /v1/jobs -H "$JSON" -H 'Idempotency-Key: key-1' --data-binary "@$TB_TMP/b.json"
body_json .type | grep -q idempotency || fail "422 type: $(body_json .type)"

id2=$(submit "$TB_TMP/a.json" -H 'Idempotency-Key: key-2')
[ "$id2" != "$id" ] || fail "another key gave the same job"
id3=$(submit "$TB_TMP/a.json")
[ "$id3" != "$id" ] && [ "$id3" != "$id2" ] || fail "no key must make a new job"

# Still replayed after the job finished.
wait_job "$id" succeeded
expect_status 200 POST /v1/jobs -H "$JSON" -H 'Idempotency-Key: key-1' --data-binary "@$TB_TMP/a.json"
check_eq "$(body_json .status)" succeeded "replay of a finished job"

# And after a restart (the key is stored with the job).
tb_stop
tb_start a --workers 1
expect_status 200 POST /v1/jobs -H "$JSON" -H 'Idempotency-Key: key-1' --data-binary "@$TB_TMP/a.json"
check_eq "$(body_json .id)" "$id" "replay after restart"
expect_status 200 GET /v1/jobs
check_eq "$(jq '.items | length' "$TB_TMP/body")" 3 "jobs in the store"
tb_stop
echo ok
