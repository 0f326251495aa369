#!/bin/sh
# 02-worker-api.sh - an API-only server (`serve --workers 0`) and a
# worker-only process (`trainbound worker`) on one PostgreSQL database: the
# API computes nothing, the worker computes the whole job, with counts and
# a result identical to `trainbound run`; the worker logs and serves
# /metrics as role "worker" (issue 15).
. "$TB_ROOT/tests/lib/http.sh"
tb_pg || {
    echo "skip: needs PostgreSQL (make check-pg)"
    exit 0
}
TB_DBNAME=q

# Usage: a worker refuses a SQLite file and --workers 0 (exit 2).
"$TB_BIN" worker --db "$TB_TMP/x.db" 2> "$TB_TMP/err" && fail "worker took a SQLite file"
[ $? = 2 ] || fail "worker on a SQLite file: exit status, want 2"
grep -q 'postgresql://' "$TB_TMP/err" || fail "unclear message: $(cat "$TB_TMP/err")"
[ ! -e "$TB_TMP/x.db" ] || fail "the refused worker created the SQLite file"
"$TB_BIN" worker --db "$(tb_db q)" --workers 0 2> /dev/null && fail "worker took --workers 0"
"$TB_BIN" worker --help | grep -q -- '--metrics-listen' || fail "worker --help"

spec=$TB_TMP/spec.json
write_spec "$spec" multiplicative 12 4000
tb_start api --workers 0 --tile-points 512
grep '"event":"listening"' "$TB_LOG" | jq -e '.role == "api" and .workers == 0' > /dev/null ||
    fail "API-only listening line: $(grep listening "$TB_LOG")"
id=$(submit "$spec")
total=$(body_json .progress.tiles_total)
[ "$total" -gt 4 ] || fail "tiles: $total"
sleep 1.5
check_eq "$(job_field "$id" .status)" queued "an API-only server computed"
check_eq "$(tb_sql q "SELECT count(*) FROM tile_attempts WHERE job_id = $id")" 0 "leases by the API"

tb_worker w1 --workers 2 --metrics-listen 127.0.0.1:0
maddr=$(grep '"event":"worker_started"' "$TB_TMP/w1.log" | jq -r .metrics_addr)
wait_job "$id" succeeded 60

# Every tile once, by the worker; the result is the CLI's.
check_eq "$(tb_sql q "SELECT count(*) FROM tiles WHERE job_id = $id AND state = 'done'")" "$total" \
    "tiles done"
check_eq "$(tb_sql q "SELECT count(*) FROM tile_attempts WHERE job_id = $id")" "$total" \
    "attempts (one per tile)"
expect_status 200 GET "/v1/jobs/$id/result"
jq -S 'del(.elapsed_s)' "$TB_TMP/body" > "$TB_TMP/a.json"
"$TB_BIN" run --threads 2 --quiet "$spec" | jq -S 'del(.elapsed_s)' > "$TB_TMP/b.json"
check_eq "$(jq -c .counts "$TB_TMP/a.json")" "$(jq -c .counts "$TB_TMP/b.json")" "counts"
cmp -s "$TB_TMP/a.json" "$TB_TMP/b.json" || fail "the result differs from the CLI's"

# The worker says what it is: in every log line, /healthz and /metrics.
check_eq "$(jq -r .role "$TB_TMP/w1.log" | sort -u)" worker "roles in the worker's log"
grep -q '"event":"tile_done"' "$TB_TMP/w1.log" || grep -q '"event":"job_state"' "$TB_TMP/w1.log" ||
    fail "the worker logged no work"
curl -sS "http://$maddr/healthz" | jq -e '.role == "worker"' > /dev/null || fail "worker /healthz"
curl -sS "http://$maddr/readyz" | jq -e '.status == "ready"' > /dev/null || fail "worker /readyz"
curl -sS "http://$maddr/metrics" > "$TB_TMP/metrics"
grep -q '^trainbound_process_info{role="worker"} 1$' "$TB_TMP/metrics" || fail "metrics: no role"
grep -q '^# TYPE' "$TB_TMP/metrics" || fail "metrics: not the exposition format"
check_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://$maddr/v1/jobs")" 404 "API on a worker"

tb_stop
check_eq "$TB_EXIT" 0 "API exit status"
kill -TERM "$TB_WPID"
wait "$TB_WPID"
check_eq "$?" 0 "worker exit status"
tb_forget "$TB_WPID"
grep -q '"event":"stopped"' "$TB_TMP/w1.log" || fail "the worker did not stop cleanly"
echo ok
