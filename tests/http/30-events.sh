#!/bin/sh
# 30-events.sh - GET /v1/jobs/{id}/events (Server-Sent Events): the
# headers, a retry line, events whose ids (job revisions) increase, a first
# `state` event, `progress` events, the terminal `state` event and the end
# of the stream; Last-Event-ID resume skips what was seen; heartbeats
# (--sse-heartbeat) arrive while a job waits; 404 for no job.
. "$TB_ROOT/tests/lib/http.sh"

tb_start a --workers 1 --tile-points 64 --sse-heartbeat 200 --shutdown-timeout 1
# About a second of work in 65 tiles, so the stream opens while the job runs.
write_spec "$TB_TMP/s.json" multiplicative 12 20000
id=$(submit "$TB_TMP/s.json")

# The whole stream: curl ends by itself when the server closes it.
curl -sS -N --max-time 60 -D "$TB_TMP/eh" -o "$TB_TMP/ev" "$TB_URL/v1/jobs/$id/events" ||
    fail "the stream did not end by itself (curl status $?)"
tr -d '\r' < "$TB_TMP/eh" | grep -qi '^content-type: text/event-stream' || fail "content type: $(cat "$TB_TMP/eh")"
tr -d '\r' < "$TB_TMP/eh" | grep -qi '^cache-control: no-cache' || fail "no Cache-Control: no-cache"
tr -d '\r' < "$TB_TMP/eh" | grep -qi '^x-accel-buffering: no' || fail "no X-Accel-Buffering: no"
head -n 1 "$TB_TMP/ev" | grep -q '^retry: [0-9]' || fail "no retry line first"

# Events as "id event data" lines (heartbeats and retry are skipped).
awk '/^id: /{id=$2} /^event: /{ev=$2} /^data: /{print id, ev, substr($0, 7)}' "$TB_TMP/ev" > "$TB_TMP/events"
n=$(wc -l < "$TB_TMP/events")
[ "$n" -ge 3 ] || fail "only $n events: $(cat "$TB_TMP/ev")"
awk 'NR > 1 && $1 <= prev { bad = 1 } { prev = $1 } END { exit bad }' "$TB_TMP/events" ||
    fail "event ids do not increase: $(cut -c1-40 "$TB_TMP/events")"
check_eq "$(head -n 1 "$TB_TMP/events" | cut -d' ' -f2)" state "first event"
grep -q ' progress ' "$TB_TMP/events" || fail "no progress event"
last=$(tail -n 1 "$TB_TMP/events")
check_eq "$(echo "$last" | cut -d' ' -f2)" state "last event"
echo "$last" | cut -d' ' -f3- | jq -e '.status == "succeeded" and .progress.fraction == 1' > /dev/null ||
    fail "last event is not the success: $last"
# Every data line is one JSON job with the event's id as its revision.
while read -r eid ev data; do
    echo "$data" | jq -e --argjson r "$eid" --argjson i "$id" '.revision == $r and .id == $i' > /dev/null ||
        fail "event $eid $ev: bad data $data"
done < "$TB_TMP/events"
# Progress never goes back.
cut -d' ' -f3- "$TB_TMP/events" | jq -s -e '[.[].progress.done] as $d | $d == ($d | sort)' > /dev/null ||
    fail "progress went back"

# Resume from a middle event: only later events come, and the stream ends.
mid=$(sed -n "$(( (n + 1) / 2 ))p" "$TB_TMP/events" | cut -d' ' -f1)
curl -sS -N --max-time 30 -H "Last-Event-ID: $mid" -o "$TB_TMP/ev2" "$TB_URL/v1/jobs/$id/events" ||
    fail "the resumed stream did not end"
awk '/^id: /{print $2}' "$TB_TMP/ev2" > "$TB_TMP/ids2"
[ -s "$TB_TMP/ids2" ] || fail "resume from $mid got no event (the job changed after it)"
awk -v m="$mid" '$1 <= m { bad = 1 } END { exit bad }' "$TB_TMP/ids2" ||
    fail "resume from $mid repeated seen events: $(tr '\n' ' ' < "$TB_TMP/ids2")"
# Resume after the terminal event: nothing more, the stream ends at once.
final=$(echo "$last" | cut -d' ' -f1)
curl -sS -N --max-time 10 -H "Last-Event-ID: $final" -o "$TB_TMP/ev3" "$TB_URL/v1/jobs/$id/events" ||
    fail "a stream resumed after the end did not end"
! grep -q '^id: ' "$TB_TMP/ev3" || fail "events after the terminal one: $(cat "$TB_TMP/ev3")"

# Heartbeats while a job waits; the stream of a canceled job ends.
write_spec "$TB_TMP/slow.json" multiplicative 16 100000
id2=$(submit "$TB_TMP/slow.json")
curl -sS -N --max-time 1 -o "$TB_TMP/ev4" "$TB_URL/v1/jobs/$id2/events" || true
grep -q '^: heartbeat' "$TB_TMP/ev4" || fail "no heartbeat in 1 s at 200 ms: $(cat "$TB_TMP/ev4")"
expect_problem 404 GET /v1/jobs/999/events
expect_problem 400 GET "/v1/jobs/$id/events" -H 'Last-Event-ID: x'
tb_stop

# Cancel and delete end their streams at once (no heartbeat to help here).
tb_start b --workers 1 --tile-points 64 --sse-heartbeat 600000 --shutdown-timeout 1
id2=$(submit "$TB_TMP/slow.json")
curl -sS -N --max-time 10 -o "$TB_TMP/ev5" "$TB_URL/v1/jobs/$id2/events" &
cpid=$!
sleep 0.3
code=$(req POST "/v1/jobs/$id2/cancel")
case "$code" in 200 | 202) ;; *) fail "cancel: $code" ;; esac
wait $cpid || fail "the stream of a canceled job did not end (curl $?)"
grep -A2 '^id: ' "$TB_TMP/ev5" | grep '^data: ' | tail -n 1 | cut -c7- | jq -e '.status == "canceled"' > /dev/null ||
    fail "no canceled event: $(tail -c 400 "$TB_TMP/ev5")"
id4=$(submit "$TB_TMP/slow.json")
curl -sS -N --max-time 10 -o "$TB_TMP/ev8" "$TB_URL/v1/jobs/$id4/events" &
cpid=$!
sleep 0.3
expect_status 204 DELETE "/v1/jobs/$id4"
wait $cpid || fail "the stream of a deleted job did not end (curl $?)"
grep -q '^event: deleted' "$TB_TMP/ev8" || fail "no deleted event: $(tail -c 300 "$TB_TMP/ev8")"


# SIGTERM with streams open (suspended between heartbeats): MHD must not
# stop with suspended connections; the server resumes them and exits 0.
id3=$(submit "$TB_TMP/slow.json")
curl -sS -N --max-time 30 -o "$TB_TMP/ev6" "$TB_URL/v1/jobs/$id3/events" 2> /dev/null &
c1=$!
curl -sS -N --max-time 30 -o "$TB_TMP/ev7" "$TB_URL/v1/jobs/$id3/events" 2> /dev/null &
c2=$!
i=0
until curl -sS "$TB_URL/metrics" | grep -q '^trainbound_sse_clients 2$'; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "the metrics never counted 2 SSE clients"
    sleep 0.1
done
tb_stop
check_eq "$TB_EXIT" 0 "exit status with open streams"
wait $c1 || true
wait $c2 || true
grep -q '^event: state' "$TB_TMP/ev6" || fail "no event before the shutdown"
echo ok
