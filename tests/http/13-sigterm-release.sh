#!/bin/sh
# 13-sigterm-release.sh - SIGTERM during a sweep with --shutdown-timeout 0:
# the running tiles are canceled at once and handed back with
# queue_release(), so the server exits 0 within the deadline, leaves no
# lease behind and uses up no attempt. Restarted with --max-attempts 1 (a
# single lost lease would fail the job), the job resumes from its saved
# tiles, finishes, its counts equal the CLI's, and every tile saved before
# the shutdown kept its single attempt. First, with a 2 s deadline: while
# draining, /readyz is 503 on an open connection and new connections are
# refused, and the process exits 0 within the deadline.
. "$TB_ROOT/tests/lib/http.sh"

spec=$TB_TMP/s.json
write_spec "$spec" multiplicative 14 8000

# While draining: /readyz is 503 on a connection opened before the SIGTERM,
# new connections are refused, and the exit comes within the deadline.
write_spec "$TB_TMP/big.json" multiplicative 18 8000
tb_start d --workers 2 --tile-points 4096 --shutdown-timeout 2
submit "$TB_TMP/big.json" > /dev/null
sleep 0.3
python3 - "${TB_URL#http://}" "$TB_PID" <<'PY' || fail "readyz while draining"
import http.client, os, signal, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port), timeout=5)
c.request("GET", "/readyz")
r = c.getresponse(); r.read()
assert r.status == 200, r.status
os.kill(int(sys.argv[2]), signal.SIGTERM)
time.sleep(0.3)
c.request("GET", "/readyz")
r = c.getresponse(); body = r.read()
assert r.status == 503, (r.status, body)
assert b"shutting down" in body, body
try:
    socket.create_connection((host, int(port)), timeout=2).close()
    sys.exit("a new connection was accepted while draining")
except OSError:
    pass
PY
t0=$(date +%s)
tb_stop
t1=$(date +%s)
check_eq "$TB_EXIT" 0 "exit status after SIGTERM (draining)"
[ $((t1 - t0)) -le 6 ] || fail "the drain took $((t1 - t0)) s with --shutdown-timeout 2"
tb_start a --workers 2 --tile-points 256 --shutdown-timeout 0 --max-attempts 1
id=$(submit "$spec")
i=0
while [ "$(job_field "$id" .progress.tiles_done)" -lt 2 ]; do
    i=$((i + 1))
    [ $i -lt 1200 ] || fail "no progress"
    sleep 0.05
done
t0=$(date +%s)
tb_stop
t1=$(date +%s)
check_eq "$TB_EXIT" 0 "exit status after SIGTERM"
[ $((t1 - t0)) -le 5 ] || fail "the shutdown took $((t1 - t0)) s"
grep -q '"event":"drained"' "$TB_LOG" || fail "no drained event"

leased=$(tb_sql a "SELECT count(*) FROM tiles WHERE job_id = $id AND state = 'leased'")
check_eq "$leased" 0 "tiles still leased after a graceful stop"
check_eq "$(tb_sql a "SELECT count(*) FROM tile_attempts WHERE outcome IN ('leased', 'expired')")" 0 \
    "attempts left leased or lost"
released=$(tb_sql a "SELECT count(*) FROM tile_attempts WHERE job_id = $id AND outcome = 'abandoned'")
[ "$released" -ge 1 ] || fail "no tile was released (none was running at the SIGTERM?)"
grep -q '"event":"tile_released"' "$TB_LOG" || fail "no tile_released event"
tb_sql a "SELECT idx FROM tiles WHERE job_id = $id AND state = 'done' ORDER BY idx" > "$TB_TMP/done-before"
ndone=$(wc -l < "$TB_TMP/done-before" | tr -d ' ')
[ "$ndone" -ge 2 ] || fail "saved tiles: $ndone"
total=$(tb_sql a "SELECT tiles_total FROM jobs WHERE id = $id")
[ "$ndone" -lt "$total" ] || fail "the job finished before the SIGTERM: make it bigger"
echo "released $released tiles, $ndone of $total saved before the SIGTERM"

tb_start a --workers 2 --tile-points 256 --max-attempts 1
if grep -q '"event":"recovered"' "$TB_LOG"; then fail "leases recovered after a graceful stop"; fi
[ "$(job_field "$id" .progress.tiles_done)" -ge "$ndone" ] || fail "progress went back"
wait_job "$id" succeeded 150
list=$(paste -sd, "$TB_TMP/done-before")
check_eq "$(tb_sql a "SELECT count(*) FROM tile_attempts WHERE job_id = $id AND idx IN ($list)")" \
    "$ndone" "attempts of the tiles saved before the SIGTERM"
check_eq "$(tb_sql a "SELECT count(*) FROM tile_attempts WHERE job_id = $id AND outcome = 'done'")" \
    "$total" "done attempts (one per tile)"
expect_status 200 GET "/v1/jobs/$id/result"
"$TB_BIN" run --threads 2 --quiet "$spec" > "$TB_TMP/cli.json"
check_eq "$(jq -c .counts "$TB_TMP/body")" "$(jq -c .counts "$TB_TMP/cli.json")" "counts vs the CLI"
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
