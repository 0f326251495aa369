#!/bin/sh
# 12-crash-burst.sh - kill -9 during a burst of 200 concurrent submits, each
# with its own Idempotency-Key. After a restart on the same database: every
# job that was answered 202 is there with the id it was given; replaying
# all 200 keys gives back those same ids (200 replayed) and creates only
# the ones never accepted, so the store ends with exactly 200 jobs and 200
# distinct keys: none lost, none duplicated.
. "$TB_ROOT/tests/lib/http.sh"

N=200
PAR=16
spec=$TB_TMP/s.json
write_spec "$spec" quadratic 4 100
out=$TB_TMP/burst
mkdir -p "$out/b" "$out/r"

# burst DIR: POSTs key burst-1..N, PAR at a time, bodies in DIR/I; one
# "I CODE" line per request in DIR/codes (000 = no answer).
burst() {
    seq 1 $N | xargs -P $PAR -I{} curl -s -o "$1/{}" -w '{} %{http_code}\n' --max-time 10 \
        -X POST -H 'Content-Type: application/json' -H 'Idempotency-Key: burst-{}' \
        --data-binary "@$spec" "$TB_URL/v1/jobs" >> "$1/codes" 2>/dev/null
}
# ids DIR CODE: "I ID" for every request of DIR answered CODE (sorted for comm).
ids() {
    awk -v c="$2" '$2 == c { print $1 }' "$1/codes" | while read -r i; do
        printf '%s %s\n' "$i" "$(jq -r '.id // "-"' "$1/$i")"
    done | sort
}

tb_start a --workers 1
: > "$out/b/codes"
burst "$out/b" &
bpid=$!
# Kill the server once some, not all, submits were accepted.
i=0
while [ "$(grep -c ' 202$' "$out/b/codes")" -lt 30 ]; do
    i=$((i + 1))
    [ $i -lt 1000 ] || fail "the burst got no 202s"
    sleep 0.01
done
tb_kill9
wait $bpid || true

check_eq "$(wc -l < "$out/b/codes" | tr -d ' ')" "$N" "requests finished"
accepted=$(grep -c ' 202$' "$out/b/codes")
echo "burst: $accepted of $N accepted before the kill"
[ "$accepted" -lt "$N" ] || echo "note: every submit finished before the kill"
bad=$(awk '$2 != "202" && $2 != "000"' "$out/b/codes" | head -3)
[ -z "$bad" ] || fail "unexpected answers during the burst: $bad"
ids "$out/b" 202 > "$TB_TMP/accepted"
if grep -q ' -$' "$TB_TMP/accepted"; then fail "a 202 without an id"; fi

tb_start a --workers 1
# Every accepted job is present, under its key, with the id it was given.
tb_sql a "SELECT substr(idem_key, 7), id FROM jobs" | tr '|' ' ' | sort > "$TB_TMP/stored"
missing=$(comm -23 "$TB_TMP/accepted" "$TB_TMP/stored")
[ -z "$missing" ] || fail "accepted jobs missing after the restart (key id): $missing"
while read -r i id; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$TB_URL/v1/jobs/$id")
    check_eq "$code" 200 "GET job $id (key burst-$i, accepted before the kill)"
done < "$TB_TMP/accepted"
# No duplicates: one row per key, no row without a key.
rows=$(tb_sql a "SELECT count(*) FROM jobs")
check_eq "$(tb_sql a "SELECT count(DISTINCT idem_key) FROM jobs")" "$rows" "distinct keys"
[ "$rows" -le "$N" ] || fail "$rows rows for $N submits"

# Replay every key: accepted ones come back (200, same id); the rest are new.
: > "$out/r/codes"
burst "$out/r"
bad=$(awk '$2 != "200" && $2 != "202"' "$out/r/codes" | head -3)
[ -z "$bad" ] || fail "replay answers: $bad"
ids "$out/r" 200 > "$TB_TMP/replayed"
# Every accepted key is replayed with its id (rows committed before the
# kill whose 202 never arrived are replayed too).
missing=$(comm -23 "$TB_TMP/accepted" "$TB_TMP/replayed")
[ -z "$missing" ] || fail "accepted keys not replayed with their id: $missing"
check_eq "$(tb_sql a "SELECT count(*) FROM jobs")" "$N" "jobs after replaying every key"
check_eq "$(tb_sql a "SELECT count(DISTINCT idem_key) FROM jobs")" "$N" "distinct keys"
# The accepted jobs run to the end after the restart.
wait_job "$(sort -k2n "$TB_TMP/accepted" | tail -1 | cut -d' ' -f2)" succeeded 60
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
