#!/bin/sh
# tests/load/run.sh BINARY - `make load`: 64 connections (wrk, 2 threads)
# poll one job's status for LOAD_SECONDS (default 30) while a sweep keeps
# every worker busy, on a fresh server bound to 127.0.0.1 with a temporary
# database. Reports requests/s, latency percentiles (p50, p99) and errors
# (socket errors, non-2xx answers), and whether the sweep was running for
# the whole run. Then (phase 2, LOAD_BOUNDARY_SECONDS, default 15) samples
# /healthz while a levels-26 job's whole labels are downloaded again and
# again, and fails when that p99 is 50 ms or more. Loopback only, bounded
# in time, not part of `make test`. Installs Debian's wrk with apt-get when
# it is missing (as root). Exit status: 0 when there were no errors and
# phase 2 met its target, 1 otherwise (phase 1's p99 target of 50 ms is
# reported, not enforced: it depends on the machine).
set -u
bin=${1:?usage: run.sh BINARY}
secs=${LOAD_SECONDS:-30}
conns=${LOAD_CONNECTIONS:-64}

if ! command -v wrk > /dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null 2>&1; then
        echo "load: installing wrk (apt-get)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk > /dev/null 2>&1 ||
            { apt-get update -q > /dev/null 2>&1 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk > /dev/null 2>&1; }
    fi
    command -v wrk > /dev/null 2>&1 || { echo "load: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
fi

tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

workers=$(nproc 2> /dev/null || echo 2)
# A free loopback port (--log-level warn keeps the per-request info lines,
# and with them the "listening" line, out of the measurement).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
addr=127.0.0.1:$port
"$bin" serve --listen "$addr" --db "$tmp/load.db" --workers "$workers" --log-level warn 2> "$tmp/log" &
pid=$!
i=0
until curl -s -o /dev/null "http://$addr/healthz"; do
    i=$((i + 1))
    [ $i -lt 100 ] && kill -0 "$pid" 2> /dev/null || { echo "load: the server did not start" >&2; cat "$tmp/log" >&2; exit 1; }
    sleep 0.1
done
url=http://$addr

# A sweep long enough to keep every worker busy past the run (the scalar
# reference path: the fast default finishes it within the 30 s).
printf '{"name":"load","model":{"family":"multiplicative","dim":1,"amplitude":0.2,"wavelength":0.1},"steps":8000,"lr":{"levels":22},"precision":"reference"}' > "$tmp/spec.json"
id=$(curl -sS -X POST -H 'Content-Type: application/json' --data-binary "@$tmp/spec.json" \
    "$url/v1/jobs" | jq -r .id)
[ -n "$id" ] && [ "$id" != null ] || { echo "load: submit failed" >&2; exit 1; }
sleep 1
st0=$(curl -sS "$url/v1/jobs/$id" | jq -r .status)

wrk -t2 -c"$conns" -d"${secs}s" --timeout 5s --latency "$url/v1/jobs/$id" > "$tmp/wrk" 2>&1
st1=$(curl -sS "$url/v1/jobs/$id" | jq -r .status)
busy=$(curl -sS "$url/readyz" | jq -r .in_flight)
done_pts=$(curl -sS "$url/v1/jobs/$id" | jq -r '.progress.done')
curl -sS -o /dev/null -X POST "$url/v1/jobs/$id/cancel"

rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk")
total=$(awk '/requests in/ { print $1 }' "$tmp/wrk")
p50=$(awk '$1 == "50%" { print $2 }' "$tmp/wrk")
p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk")
sock=$(awk '/Socket errors:/ { s = 0; for (i = 3; i <= NF; i++) { gsub(",", "", $i); if ($i ~ /^[0-9]+$/) s += $i } print s }' "$tmp/wrk")
non2xx=$(awk '/Non-2xx/ { print $NF }' "$tmp/wrk")
errors=$(( ${sock:-0} + ${non2xx:-0} ))
# p99 in ms for the target check (wrk prints us, ms or s).
p99ms=$(echo "$p99" | awk '{ v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[0-9]s$/ && $1 !~ /ms$/) v *= 1000; printf "%.2f", v }')

cat "$tmp/wrk"
echo
echo "load: GET /v1/jobs/$id, $conns connections, ${secs} s, $workers workers busy (job $st0 -> $st1, in_flight $busy, $done_pts points done)"
echo "load: requests/s $rps, requests $total, p50 $p50, p99 $p99, errors $errors (socket ${sock:-0}, non-2xx ${non2xx:-0})"
if awk -v v="$p99ms" 'BEGIN { exit !(v < 50) }'; then
    echo "load: p99 ${p99ms} ms: under the 50 ms target"
else
    echo "load: p99 ${p99ms} ms: OVER the 50 ms target"
fi
[ "$st0" = running ] && [ "$st1" = running ] || echo "load: WARNING: the sweep was not running for the whole run"

# Phase 2 (issue 12): a levels-26 job's whole labels (the largest
# boundary form, ?format=npy: 2^26 + 1 bool bytes) downloaded again and
# again by LOAD_DOWNLOADERS (2) clients for LOAD_BOUNDARY_SECONDS (15), and
# one more client cycling through its other whole-label forms (labels=true
# JSON, packed words, the PNG strip), while /healthz is sampled every 20 ms
# from a fresh connection each time.
# Fails when the p99 of those samples is 50 ms or more: reading and
# encoding the labels must not stall the event loop. Quadratic, 20 steps:
# divergent exactly where |1 - 2 s|^40 > 1e8, computed in about a second.
bsecs=${LOAD_BOUNDARY_SECONDS:-15}
bdl=${LOAD_DOWNLOADERS:-2}
printf '{"name":"load-boundary","model":{"family":"quadratic","dim":1},"steps":20,"lr":{"levels":26},"precision":"fast"}' > "$tmp/big.json"
bid=$(curl -sS -X POST -H 'Content-Type: application/json' --data-binary "@$tmp/big.json" \
    "$url/v1/jobs" | jq -r .id)
[ -n "$bid" ] && [ "$bid" != null ] || { echo "load: submit of the levels-26 job failed" >&2; exit 1; }
i=0
until [ "$(curl -sS "$url/v1/jobs/$bid" | jq -r .status)" = succeeded ]; do
    i=$((i + 1))
    [ $i -lt 1200 ] || { echo "load: the levels-26 job did not succeed" >&2; exit 1; }
    sleep 0.1
done
# The downloaders are curl processes (one loop each) at the lowest CPU
# priority, the sampler a Python process of its own: on a two-core machine
# the clients would otherwise take the server's CPU, and the sample would
# measure them, not the event loop.
end=$(( $(date +%s) + bsecs ))
dl() { # OUT "ACCEPT URL"...: downloads the URLs in turn until $end
    out=$1
    shift
    while [ "$(date +%s)" -lt "$end" ]; do
        for au in "$@"; do
            u=${au#* }
            nice -n 19 curl -sS -o /dev/null -H "Accept: ${au%% *}" \
                -w "%{http_code} %{size_download} ${u##*/}\n" "$u" >> "$out" 2> /dev/null ||
                echo "000 0 ${u##*/}" >> "$out"
        done
    done
}
dlp=""
k=0
while [ $k -lt "$bdl" ]; do
    dl "$tmp/dl.npy.$k" "*/* $url/v1/jobs/$bid/boundary?format=npy" &
    dlp="$dlp $!"
    k=$((k + 1))
done
# One more cycles through the other whole-label forms: labels=true JSON,
# the packed words (Accept: application/octet-stream), the PNG strip.
dl "$tmp/dl.other" "*/* $url/v1/jobs/$bid/boundary?labels=true&limit=10" \
    "application/octet-stream $url/v1/jobs/$bid/boundary" "*/* $url/v1/jobs/$bid/boundary.png" &
dlp="$dlp $!"
sleep 0.5 # the downloads are under way
python3 - "$url" "$end" > "$tmp/boundary" 2>&1 << 'PYEOF'
import http.client, sys, time, urllib.parse
host, end = urllib.parse.urlparse(sys.argv[1]).netloc, float(sys.argv[2])
lat, errors = [], 0
while time.time() < end:
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(host, timeout=10)
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        c.close()
        if r.status != 200:
            errors += 1
    except Exception:
        errors += 1
    lat.append((time.monotonic() - t0) * 1000)
    time.sleep(max(0.0, 0.02 - (time.monotonic() - t0)))
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"samples {len(lat)} p50 {p(0.50):.2f} p99 {p(0.99):.2f} max {lat[-1]:.2f} errors {errors}")
PYEOF
for p in $dlp; do wait "$p"; done
cat "$tmp/boundary"
read -r _ bn _ bp50 _ bp99 _ bmax _ berr < "$tmp/boundary" || true
bdls=$(cat "$tmp"/dl.npy.* | awk '$1 == 200 { n++ } END { print n + 0 }')
bbytes=$(cat "$tmp"/dl.npy.* | awk '$1 == 200 { print $2; exit }')
bdlerr=$(cat "$tmp"/dl.npy.* "$tmp/dl.other" | awk '$1 != 200 { n++ } END { print n + 0 }')
others=$(awk '$1 == 200 { n++; size[$3] = $2 }
    END { printf "%d (", n; sep = ""; for (k in size) { printf "%s%s %s bytes", sep, k, size[k]; sep = ", " } printf ")" }' "$tmp/dl.other")
echo "load: GET /healthz while $bdl clients download /v1/jobs/$bid/boundary?format=npy (levels 26, ${bbytes:-0} bytes each) and one the other forms, for ${bsecs} s:"
echo "load: $bn samples, p50 $bp50 ms, p99 $bp99 ms, max $bmax ms, errors $berr; $bdls npy downloads, other forms $others, $bdlerr failed"
bok=1
if awk -v v="$bp99" 'BEGIN { exit !(v + 0 < 50) }'; then
    echo "load: /healthz p99 $bp99 ms during the downloads: under the 50 ms target"
else
    echo "load: /healthz p99 $bp99 ms during the downloads: OVER the 50 ms target (FAIL)"
    bok=0
fi
[ "${berr:-1}" = 0 ] && [ "${bdlerr:-1}" = 0 ] && [ "${bdls:-0}" -gt 0 ] || bok=0
[ "$errors" -eq 0 ] && [ "$bok" = 1 ]
