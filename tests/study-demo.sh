#!/bin/sh
# study-demo.sh BINARY - the paper's 10x10 additive map through the API
# (issue 4): amplitude linspace(0.01, 0.2, 10) x wavelength linspace(0.01, 1,
# 10), x0 = 5, loss_sum 1e16, levels 20 (2^20 + 1 rates per cell), 1000
# steps. Starts a server on a free loopback port with a temporary database,
# submits the study, polls it to completion, prints the table (theta, D,
# fractal) and the wall time, and checks the science: D = 0 in every convex
# cell (theta <= theta_c = 1/(2 pi^2)), and the transition (the smallest
# fractal theta) in [theta_c, 0.1].
#
# It uses "precision": "fast" (SIMD lanes): 100 cells x 2^20 rates x 1000
# steps is about 10^11 point-steps, minutes on two cores with the fast path
# but hours with the reference path. Not part of `make test`: `make
# study-demo`. Knobs: DEMO_WORKERS (default: online cores), DEMO_TIMEOUT
# seconds (default 7200), DEMO_REPLICATES (default 1: each cell N times from
# x0 nudged by ulps, with the spread of D per cell; the cost is N times),
# DEMO_KEEP=1 keeps the temporary directory.
set -u
bin=${1:-build/trainbound}
[ -x "$bin" ] || { echo "study-demo: no binary $bin (run make first)" >&2; exit 2; }
for tool in curl jq; do
    command -v $tool > /dev/null || { echo "study-demo: needs $tool" >&2; exit 2; }
done
workers=${DEMO_WORKERS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
timeout=${DEMO_TIMEOUT:-7200}
replicates=${DEMO_REPLICATES:-1}
case "$replicates" in
'' | *[!0-9]*) echo "study-demo: DEMO_REPLICATES must be an integer in 1..32" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ "${DEMO_KEEP:-0}" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat > "$tmp/map.json" <<JSON
{"name": "additive 10x10 map (paper)",
 "model": {"family": "additive", "dim": 1, "amplitude": 0.01, "wavelength": 1},
 "x0": 5, "steps": 1000,
 "divergence": {"criterion": "loss_sum", "threshold": 1e16},
 "lr": {"levels": 20},
 "precision": "fast",
 "replicates": $replicates,
 "vary": {"model.amplitude": {"linspace": [0.01, 0.2, 10]},
          "model.wavelength": {"linspace": [0.01, 1, 10]}}}
JSON

# The map costs 100 x (2^20 + 1) x 1000 point-steps per replicate, over the
# default --max-cost of 2^36: raise it for this server.
"$bin" serve --listen 127.0.0.1:0 --db "$tmp/demo.db" --workers "$workers" \
    --max-cost 1e14 2> "$tmp/server.log" &
pid=$!
addr=""
i=0
while [ $i -lt 100 ] && [ -z "$addr" ]; do
    addr=$(grep '"event":"listening"' "$tmp/server.log" 2>/dev/null | head -1 | jq -r .addr 2>/dev/null)
    [ "$addr" = null ] && addr=""
    sleep 0.1
    i=$((i + 1))
done
[ -n "$addr" ] || { echo "study-demo: the server did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }
url="http://$addr"
echo "study-demo: server $url, $workers workers, database $tmp/demo.db"

start=$(date +%s)
code=$(curl -sS -o "$tmp/post.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary "@$tmp/map.json" "$url/v1/jobs")
[ "$code" = 202 ] || { echo "study-demo: POST answered $code: $(cat "$tmp/post.json")" >&2; exit 1; }
id=$(jq -r .id "$tmp/post.json")
echo "study-demo: job $id: $(jq -r '"\(.progress.cells_total) cells, \(.progress.total) points, \(.progress.tiles_total) tiles"' "$tmp/post.json")"

last=""
while :; do
    curl -sS "$url/v1/jobs/$id" > "$tmp/job.json" || { echo "study-demo: poll failed" >&2; exit 1; }
    st=$(jq -r .status "$tmp/job.json")
    line=$(jq -r '"\(.status): cells \(.progress.cells_done)/\(.progress.cells_total), points \(.progress.done)/\(.progress.total) (\(.progress.fraction * 1000 | floor / 10)%)"' "$tmp/job.json")
    now=$(date +%s)
    [ "$line" != "$last" ] && echo "study-demo: [$((now - start)) s] $line"
    last=$line
    case "$st" in
    succeeded) break ;;
    failed | canceled) echo "study-demo: the study $st: $(jq -c . "$tmp/job.json")" >&2; exit 1 ;;
    esac
    [ $((now - start)) -lt "$timeout" ] || { echo "study-demo: not done after $timeout s" >&2; exit 1; }
    sleep 5
done
wall=$(( $(date +%s) - start ))

curl -sS "$url/v1/jobs/$id/result" > "$tmp/result.json"
echo
printf '%10s %10s %14s %7s %7s %7s %7s  %s\n' amplitude wavelength theta D stderr D_mean D_std fractal
jq -r '.cells[] | [.params["model.amplitude"], .params["model.wavelength"], .theta, .D, .stderr,
       .spread.mean, .spread.std, .fractal] | @tsv' "$tmp/result.json" |
    awk -F '\t' '{ printf "%10.4g %10.4g %14.6g %7.3f %7.3f %7.3f %7.3f  %s\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
echo
jq -r '.summary | "summary: \(.fractal_cells) fractal of \(.cells) cells, \(.convex_cells) convex; transition theta \(.transition_theta) (largest smooth theta below it \(.largest_smooth_theta_below)), theta_c \(.theta_c), ratio \(.transition_ratio)"' "$tmp/result.json"
echo "study-demo: wall time ${wall} s (submit to succeeded, $workers workers, fast path, $replicates replicate(s))"

ok=1
jq -e '[.cells[] | select(.convex) | .D == 0 and .fractal == false] | all' "$tmp/result.json" > /dev/null ||
    { echo "study-demo: CHECK FAILED: a convex cell has D != 0"; ok=0; }
jq -e '.summary.transition_theta != null and .summary.transition_theta >= .summary.theta_c
       and .summary.transition_theta <= 0.1' "$tmp/result.json" > /dev/null ||
    { echo "study-demo: CHECK FAILED: the transition is not in [theta_c, 0.1]"; ok=0; }
n=$(jq '[.cells[] | select(.theta >= 0.1)] | length' "$tmp/result.json")
f=$(jq '[.cells[] | select(.theta >= 0.1 and .fractal)] | length' "$tmp/result.json")
echo "study-demo: cells with theta >= 0.1: $f of $n fractal"
[ $ok = 1 ] && echo "study-demo: checks passed (D = 0 in every convex cell; transition in [theta_c, 0.1])"
[ $ok = 1 ]
