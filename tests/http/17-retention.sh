#!/bin/sh
# 17-retention.sh - --retention-succeeded / --retention-failed: a timer
# prunes finished jobs (succeeded; failed and canceled) once they are older
# than their TTL, with their results, tiles and attempts, and logs each
# prune; running and queued jobs stay whatever their age. TTL 0 keeps.
. "$TB_ROOT/tests/lib/http.sh"

small=$TB_TMP/small.json
long=$TB_TMP/long.json
write_spec "$small" quadratic 4 100
write_spec "$long" multiplicative 16 8000

tb_start a --workers 1 --tile-points 256 --retention-succeeded 1 --retention-failed 2
grep -q '"event":"retention"' "$TB_LOG" || fail "no retention line at start-up"
ok=$(submit "$small")
wait_job "$ok" succeeded 60
run=$(submit "$long")
gone=$(submit "$long")
code=$(req POST "/v1/jobs/$gone/cancel")
case "$code" in 200 | 202) ;; *) fail "cancel: $code" ;; esac
# Within a few ticks: the succeeded and the canceled job are gone (404)
# with every row they had; the running one stays.
i=0
while :; do
    a=$(curl -s -o /dev/null -w '%{http_code}' "$TB_URL/v1/jobs/$ok")
    b=$(curl -s -o /dev/null -w '%{http_code}' "$TB_URL/v1/jobs/$gone")
    [ "$a" = 404 ] && [ "$b" = 404 ] && break
    i=$((i + 1))
    [ $i -lt 100 ] || fail "not pruned after 10 s: succeeded $a, canceled $b"
    sleep 0.1
done
st=$(job_field "$run" .status)
case "$st" in queued | running) ;; *) fail "the long job is $st: make it longer" ;; esac
expect_problem 404 GET "/v1/jobs/$ok/result"
for t in tiles tile_attempts results; do
    check_eq "$(tb_sql a "SELECT count(*) FROM $t WHERE job_id IN ($ok, $gone)")" 0 "$t rows left"
done
grep -q '"event":"pruned"' "$TB_LOG" || fail "no pruned event"
# The running job is not touched: it goes on and finishes, then goes too.
expect_status 200 GET "/v1/jobs/$run"
code=$(req POST "/v1/jobs/$run/cancel")
case "$code" in 200 | 202) ;; *) fail "cancel: $code" ;; esac
tb_stop
check_eq "$TB_EXIT" 0 "exit status"

# TTL 0 keeps finished jobs forever.
tb_start a --workers 1 --retention-succeeded 0 --retention-failed 0
if grep '"event":"retention"' "$TB_LOG" | tail -1 | grep -q '"succeeded_ttl_s":0'; then
    fail "a retention timer with both TTLs 0"
fi
keep=$(submit "$small")
wait_job "$keep" succeeded 60
sleep 2.5
expect_status 200 GET "/v1/jobs/$keep"
expect_status 200 GET "/v1/jobs/$run"
tb_stop
echo ok
