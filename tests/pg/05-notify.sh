#!/bin/sh
# 05-notify.sh - LISTEN/NOTIFY on a shared PostgreSQL queue (issue 15):
# an API-only server whose event streams have no heartbeat to fall back on
# (--sse-heartbeat of an hour) follows a job that a worker process
# computes, event by event, from the queue's notifications alone; both
# processes listen and count what they hear (/metrics); a listener whose
# connection is cut (pg_terminate_backend) says so, listens again, and the
# next job is claimed and followed the same way.
. "$TB_ROOT/tests/lib/http.sh"
tb_pg || {
    echo "skip: needs PostgreSQL (make check-pg)"
    exit 0
}
TB_DBNAME=q

# wait_log FILE EVENT N: FILE holds at least N lines of EVENT (10 s).
wait_log() {
    i=0
    until [ "$(grep -c "\"event\":\"$2\"" "$1")" -ge "$3" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { TB_LOG=$1; fail "no $3 x $2 in $1"; }
        sleep 0.1
    done
}

# metric URL NAME: the value of a metric without labels.
metric() {
    curl -sS "$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

# follow ID: opens the job's event stream in the background (it ends by
# itself at the terminal state); followed ID checks it: a progress event
# before the end, and the end a success.
follow() {
    curl -sS -N --max-time 120 -o "$TB_TMP/ev$1" "$TB_URL/v1/jobs/$1/events" &
    TB_FPID=$!
}
followed() {
    wait "$TB_FPID" || fail "job $1's stream did not end (curl status $?): $(tail -c 300 "$TB_TMP/ev$1")"
    awk '/^event: /{ev=$2} /^data: /{print ev, substr($0, 7)}' "$TB_TMP/ev$1" > "$TB_TMP/e$1"
    grep -q '^progress ' "$TB_TMP/e$1" || fail "job $1: no progress event: $(cut -c1-60 "$TB_TMP/e$1")"
    tail -n 1 "$TB_TMP/e$1" | cut -d' ' -f2- | jq -e '.status == "succeeded"' > /dev/null ||
        fail "job $1: the stream did not end with the success: $(tail -n 1 "$TB_TMP/e$1" | cut -c1-200)"
}

spec=$TB_TMP/spec.json
write_spec "$spec" multiplicative 12 20000
tb_start api --workers 0 --tile-points 256 --sse-heartbeat 3600000
wait_log "$TB_LOG" notify_listening 1
id=$(submit "$spec")
# The stream opens before any worker runs: all it shows later comes from
# the worker's commits, announced by the triggers of pg/0004_notify.sql.
follow "$id"
sleep 0.3
tb_worker w1 --workers 1 --metrics-listen 127.0.0.1:0
murl="http://$(grep '"event":"worker_started"' "$TB_TMP/w1.log" | jq -r .metrics_addr)"
wait_log "$TB_TMP/w1.log" notify_listening 1
followed "$id"

# Both listen, and both heard.
check_eq "$(metric "$TB_URL" trainbound_notify_listening)" 1 "API listening"
check_eq "$(metric "$murl" trainbound_notify_listening)" 1 "worker listening"
[ "$(metric "$TB_URL" trainbound_notifications_total)" -gt 1 ] || fail "the API heard nothing"
# The job's result is the CLI's, every tile stored once.
expect_status 200 GET "/v1/jobs/$id/result"
"$TB_BIN" run --threads 1 --quiet "$spec" > "$TB_TMP/cli.json"
check_eq "$(jq -c .counts "$TB_TMP/body")" "$(jq -c .counts "$TB_TMP/cli.json")" "counts"
check_eq "$(tb_sql q "SELECT count(*) FROM tile_attempts WHERE job_id = $id")" \
    "$(tb_sql q "SELECT tiles_total FROM jobs WHERE id = $id")" "attempts (one per tile)"

# Cut both listeners' connections: each logs it, listens again (its
# backoff starts at 0.2 s) and catches up.
check_eq "$(tb_sql q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
    AND application_name = 'trainbound-listen'")" 2 "listening connections"
tb_sql q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()
    AND application_name = 'trainbound-listen'" > /dev/null
wait_log "$TB_LOG" notify_listening 2
wait_log "$TB_TMP/w1.log" notify_listening 2
grep -q '"event":"notify_down"' "$TB_LOG" || fail "the API did not log the lost listener"
grep -q '"event":"notify_down"' "$TB_TMP/w1.log" || fail "the worker did not log the lost listener"
id2=$(submit "$spec")
follow "$id2"
followed "$id2"
check_eq "$(metric "$murl" trainbound_notify_listening)" 1 "worker listening again"
# The worker listens to new work only: job 2's submit, at least.
[ "$(metric "$murl" trainbound_notifications_total)" -ge 1 ] || fail "the worker heard nothing"

# A SQLite server has nothing to listen to, and says nothing of it.
TB_TEST_PG=0
TB_DBNAME=lite
tb_start lite --workers 1
curl -sS "$TB_URL/metrics" | grep -q '^trainbound_notify' && fail "SQLite server shows notify metrics"
grep -q '"event":"notify_' "$TB_LOG" && fail "SQLite server logged a notifier"
echo ok
