#!/bin/sh
# 07-crash-burst.sh - 200 distinct jobs submitted in a burst (16 at a time,
# each with its own Idempotency-Key) to an API-only server (`serve
# --workers 0`) on PostgreSQL, while three `trainbound worker`s are killed
# with -9 and started again, one every ~0.7 s, through the burst and for
# a while after (issue 15). Then:
#  - every submit was accepted (202; a retry with the same key: 200 and the
#    same id), and the database holds exactly those 200 jobs, one per key:
#    zero lost, none duplicated;
#  - every one of them succeeded, with the counts `trainbound run` gives on
#    the same spec (all 200, from the results table), and the whole result
#    of a sample through GET /result;
#  - no tile result stored twice: one 'done' attempt per tile, every tile
#    done, the jobs' counters (bumped once per save) equal their totals;
#  - the kills did take leases with them (some attempts 'expired').
# Short leases (--lease 2) bring a killed worker's tiles back quickly;
# --max-attempts 20 so that a tile caught by several kills does not fail
# its job (that limit has its own tests).
. "$TB_ROOT/tests/lib/http.sh"
tb_pg || {
    echo "skip: needs PostgreSQL (make check-pg)"
    exit 0
}
TB_DBNAME=q
N=200
PAR=16
NW=3
LEASE=2
out=$TB_TMP/burst
mkdir -p "$out/specs" "$out/b" "$out/cli"

# Distinct specs: family, amplitude, levels (9..11), steps and, every
# seventh, the reference path (slower tiles, so that kills land mid-tile).
si=1
while [ $si -le $N ]; do
    fam=additive
    [ $((si % 2)) = 0 ] && fam=multiplicative
    prec=fast
    [ $((si % 7)) = 0 ] && prec=reference
    printf '{"name":"burst %d","model":{"family":"%s","dim":1,"amplitude":%s,"wavelength":0.1},"x0":1.0,"steps":%d,"lr":{"min":0.0,"max":1.5,"levels":%d},"precision":"%s"}\n' \
        $si $fam "$(awk -v i=$si 'BEGIN { printf "%.4f", 0.1 + i / 1000 }')" $((500 + 7 * si)) \
        $((9 + si % 3)) $prec > "$out/specs/$si.json"
    si=$((si + 1))
done

tb_start api --workers 0 --tile-points 256 --lease $LEASE --max-attempts 20
# Workers: w1..w3, their pids in $TB_TMP/w<k>.pid (the killer below).
start_worker() {
    tb_worker "w$1" --workers 1 --lease $LEASE --max-attempts 20
    echo "$TB_WPID" > "$TB_TMP/w$1.pid"
}
k=1
while [ $k -le $NW ]; do
    start_worker $k
    k=$((k + 1))
done

# burst CODES I...: POST spec I with key crash-I; one "I CODE" line per request.
post_all() {
    xargs -P $PAR -I{} curl -s -o "$out/b/{}" -w '{} %{http_code}\n' --max-time 20 \
        -X POST -H 'Content-Type: application/json' -H 'Idempotency-Key: crash-{}' \
        --data-binary "@$out/specs/{}.json" "$TB_URL/v1/jobs" 2> /dev/null
}
seq 1 $N | post_all > "$out/codes" &
bpid=$!

# The killer: round robin over the workers, kill -9 and start again at
# once, through the burst and for 8 s after it.
kills=0
burst_done_at=""
t=0
while :; do
    k=$((kills % NW + 1))
    pid=$(cat "$TB_TMP/w$k.pid")
    kill -9 "$pid" 2> /dev/null || fail "worker w$k (pid $pid) was not running when its kill came"
    wait "$pid" 2> /dev/null
    tb_forget "$pid"
    start_worker $k
    kills=$((kills + 1))
    sleep 0.7
    t=$((t + 1))
    if [ -z "$burst_done_at" ] && ! kill -0 $bpid 2> /dev/null; then
        burst_done_at=$t
    fi
    [ -n "$burst_done_at" ] && [ $((t - burst_done_at)) -ge 11 ] && break
    [ $t -lt 200 ] || fail "the burst did not end"
done
wait $bpid || true
killing_ended_ms=$(date +%s%3N)
echo "kills: $kills (every ~0.7 s), burst ended after ~$((burst_done_at * 7 / 10)) s"

# Every request answered; anything else than 202 is retried with its key
# (a retry of an accepted key answers 200 with the same id).
check_eq "$(wc -l < "$out/codes" | tr -d ' ')" "$N" "requests finished"
awk '$2 != "202"' "$out/codes" > "$out/retry"
if [ -s "$out/retry" ]; then
    echo "retrying $(wc -l < "$out/retry" | tr -d ' ') submits with their keys: $(cut -d' ' -f2 "$out/retry" | sort | uniq -c | tr '\n' ' ')"
    cut -d' ' -f1 "$out/retry" | post_all > "$out/codes2"
    bad=$(awk '$2 != "202" && $2 != "200"' "$out/codes2" | head -3)
    [ -z "$bad" ] || fail "submits refused twice: $bad"
fi
check_eq "$(awk '$2 == "202"' "$out/codes" | wc -l | tr -d ' ')" "$N" "202s in the burst (none refused)"
si=1
while [ $si -le $N ]; do
    printf '%s %s\n' "$si" "$(jq -r '.id // "-"' "$out/b/$si")"
    si=$((si + 1))
done | sort > "$out/accepted"
if grep -q ' -$' "$out/accepted"; then fail "an answer without an id: $(grep ' -$' "$out/accepted" | head -3)"; fi

# Zero lost, none duplicated: exactly the accepted jobs, under their keys.
tb_sql q "SELECT substr(idem_key, 7), id FROM jobs" | tr '|' ' ' | sort > "$out/stored"
missing=$(comm -23 "$out/accepted" "$out/stored" | head -5)
[ -z "$missing" ] || fail "accepted jobs missing (key id): $missing"
extra=$(comm -13 "$out/accepted" "$out/stored" | head -5)
[ -z "$extra" ] || fail "jobs nobody was given (key id): $extra"

# Every accepted job succeeds (the killing has stopped: the workers finish).
si=0
while :; do
    left=$(tb_sql q "SELECT count(*) FROM jobs WHERE status <> 'succeeded'")
    [ "$left" = 0 ] && break
    failed=$(tb_sql q "SELECT id, status, error FROM jobs WHERE status IN ('failed', 'canceled') LIMIT 3")
    [ -z "$failed" ] || fail "jobs ended unsucceeded: $failed"
    si=$((si + 1))
    [ $si -lt 600 ] || fail "$left jobs not succeeded 60 s after the kills: $(tb_sql q "SELECT id, status, tiles_done, tiles_total FROM jobs WHERE status <> 'succeeded' LIMIT 5")"
    sleep 0.1
done
while read -r key id; do
    check_eq "$(job_field "$id" .status)" succeeded "GET job $id (key crash-$key)"
done < "$out/accepted"

# No tile stored twice.
check_eq "$(tb_sql q "SELECT count(*) FROM (SELECT job_id, idx FROM tile_attempts WHERE outcome = 'done' GROUP BY job_id, idx HAVING count(*) <> 1) AS x")" \
    0 "tiles with other than one done attempt"
check_eq "$(tb_sql q "SELECT (SELECT sum(tiles_total) FROM jobs) = (SELECT count(*) FROM tiles WHERE state = 'done') AND (SELECT count(*) FROM tiles) = (SELECT count(*) FROM tile_attempts WHERE outcome = 'done')")" \
    t "tiles done = tiles in all = done attempts"
check_eq "$(tb_sql q "SELECT count(*) FROM jobs WHERE tiles_done <> tiles_total OR points_done <> points_total")" \
    0 "jobs whose counters are not their totals"
expired=$(tb_sql q "SELECT count(*) FROM tile_attempts WHERE outcome = 'expired'")
echo "jobs finished while the workers were being killed: $(tb_sql q "SELECT count(*) FROM jobs WHERE finished_ms <= $killing_ended_ms") of $N"
echo "tiles: $(tb_sql q "SELECT count(*) FROM tiles"); attempts: $(tb_sql q "SELECT count(*) FROM tile_attempts"), of which expired (leases the kills took): $expired"
[ "$expired" -ge 1 ] || fail "no lease expired: the kills took no lease with them"

# The counts of every job are the CLI's on the same spec.
tb_sql q "SELECT substr(j.idem_key, 7), (r.result_json::json -> 'counts')::text FROM jobs j JOIN results r ON r.job_id = j.id" |
    awk -F'|' '{ gsub(/ /, "", $2); print $1 " " $2 }' | sort > "$out/server-counts"
seq 1 $N | xargs -P 2 -I{} sh -c '"$1" run --threads 1 --quiet "$2/specs/$3.json" > "$2/cli/$3.json"' \
    _ "$TB_BIN" "$out" {} || fail "trainbound run failed on a spec"
si=1
while [ $si -le $N ]; do
    printf '%s %s\n' $si "$(jq -c .counts "$out/cli/$si.json")"
    si=$((si + 1))
done | sort > "$out/cli-counts"
d=$(diff "$out/cli-counts" "$out/server-counts" | head -6)
[ -z "$d" ] || fail "counts differ from trainbound run's (< CLI, > server): $d"
# And a sample of whole results through the API.
for key in 1 7 50 99 140 200; do
    id=$(awk -v k=$key '$1 == k { print $2 }' "$out/accepted")
    expect_status 200 GET "/v1/jobs/$id/result"
    jq -S 'del(.elapsed_s)' "$TB_TMP/body" > "$out/a.json"
    jq -S 'del(.elapsed_s)' "$out/cli/$key.json" > "$out/c.json"
    cmp -s "$out/a.json" "$out/c.json" || fail "job $id (spec $key): the result differs from the CLI's"
done
echo ok
