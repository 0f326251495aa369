#!/bin/sh
# 36-boundary-offloop.sh - /boundary reads and encodes a job's labels on
# the reader thread, not the event loop (issue 12). While three large
# downloads (npy, labels=true, packed words) are held half-read by a slow
# client, /healthz, GET /v1/jobs/{id}, a small boundary page and the PNG
# still answer. The npy keeps the headers of a buffered body (a
# Content-Length, not chunked) and equals the CLI's --labels file for the
# same spec; the labels are the quadratic's analytic ones (20 steps from
# x0 = 1: divergent where (2 s - 1)^40 > 1e8, one flip), and the other
# forms agree with them. A SIGTERM with a download in flight exits 0.
# Behaviour only: the loop's latency is measured by `make load`.
. "$TB_ROOT/tests/lib/http.sh"
PY=/usr/bin/python3
$PY -c 'import numpy' 2> /dev/null || fail "needs Debian's python3-numpy"

# 2^22 + 1 points: a 4 MiB npy body, computed in well under a second.
printf '{"model":{"family":"quadratic","dim":1},"x0":1.0,"steps":20,"lr":{"min":0.0,"max":1.5,"levels":22},"precision":"fast"}\n' > "$TB_TMP/q.json"
points=4194305
tb_start a --workers 2
id=$(submit "$TB_TMP/q.json")
wait_job "$id" succeeded 60
"$TB_BIN" run --threads 2 --quiet --labels "$TB_TMP/cli.npy" "$TB_TMP/q.json" > "$TB_TMP/cli.json" ||
    fail "trainbound run --labels"

# A slow client: it reads the headers and the first 256 KiB, says so
# (the file NAME.started), and reads the rest only once NAME.go exists.
# Its socket buffer is small, so the rest stays on the server's side.
cat > "$TB_TMP/slow.py" << 'PYEOF'
import os, socket, sys, time, urllib.parse
url, out, path = urllib.parse.urlparse(sys.argv[1]), sys.argv[2], sys.argv[3]
accept = sys.argv[4] if len(sys.argv) > 4 else "*/*"
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect((url.hostname, url.port))
s.sendall(f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: {accept}\r\n"
          f"Connection: close\r\n\r\n".encode())
data = b""
while b"\r\n\r\n" not in data or len(data) < 262144:
    b = s.recv(65536)
    if not b:
        break
    data += b
open(out + ".started", "w").close()
for _ in range(1200):  # at most 60 s
    if os.path.exists(out + ".go"):
        break
    time.sleep(0.05)
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
open(out + ".hdr", "wb").write(head)
open(out, "wb").write(body)
PYEOF
# Three big downloads held half-read: npy, labels=true, packed words.
$PY "$TB_TMP/slow.py" "$TB_URL" "$TB_TMP/big.npy" "/v1/jobs/$id/boundary?format=npy" &
c1=$!
$PY "$TB_TMP/slow.py" "$TB_URL" "$TB_TMP/big.json" "/v1/jobs/$id/boundary?labels=true&limit=10" &
c2=$!
$PY "$TB_TMP/slow.py" "$TB_URL" "$TB_TMP/big.words" "/v1/jobs/$id/boundary" application/octet-stream &
c3=$!
for f in big.npy big.json big.words; do
    i=0
    while [ ! -e "$TB_TMP/$f.started" ]; do
        i=$((i + 1))
        [ $i -lt 600 ] || fail "the $f download never started"
        sleep 0.05
    done
done
# All three are in flight: the server answers everything else meanwhile.
expect_status 200 GET /healthz
expect_status 200 GET "/v1/jobs/$id"
check_eq "$(body_json .status)" succeeded "the job, during the downloads"
expect_status 200 GET "/v1/jobs/$id/boundary?limit=10"
check_eq "$(body_json .transitions)" 1 "a small page, during the downloads"
expect_status 200 GET "/v1/jobs/$id/boundary.png"
kill -0 "$c1" 2> /dev/null || fail "the npy download ended before its go"
touch "$TB_TMP/big.npy.go" "$TB_TMP/big.json.go" "$TB_TMP/big.words.go"
wait "$c1" || fail "the npy download failed"
wait "$c2" || fail "the labels=true download failed"
wait "$c3" || fail "the words download failed"

# The headers a buffered body had: a length, the type, the file name, the ETag.
tr -d '\r' < "$TB_TMP/big.npy.hdr" > "$TB_TMP/big.h"; echo >> "$TB_TMP/big.h"
grep -qx 'HTTP/1.1 200 OK' "$TB_TMP/big.h" || fail "npy status: $(head -1 "$TB_TMP/big.h")"
grep -qix "content-length: $((points + 128))" "$TB_TMP/big.h" || fail "npy Content-Length: $(cat "$TB_TMP/big.h")"
grep -qix 'content-type: application/octet-stream' "$TB_TMP/big.h" || fail "npy Content-Type"
grep -qix 'content-disposition: attachment; filename="labels.npy"' "$TB_TMP/big.h" || fail "npy Content-Disposition"
grep -qi '^etag: W/"' "$TB_TMP/big.h" || fail "npy ETag"
grep -qi '^transfer-encoding' "$TB_TMP/big.h" && fail "npy is chunked"
cmp -s "$TB_TMP/big.npy" "$TB_TMP/cli.npy" || fail "the npy body differs from trainbound run --labels"

$PY - "$TB_TMP" "$points" << 'PYEOF' || fail "the labels are not the quadratic's"
import base64, json, sys
import numpy as np
d, n = sys.argv[1], int(sys.argv[2])
labels = np.load(f"{d}/big.npy")
assert labels.dtype == np.bool_ and labels.shape == (n,), (labels.dtype, labels.shape)
# Analytic: x_T = (1 - 2 s)^T, divergent once x^2 > 1e8: (2 s - 1)^40 > 1e8.
s = 0.0 + np.arange(n) * (1.5 / (n - 1))
want = np.abs(2 * s - 1) ** 40 > 1e8
flips = np.flatnonzero(labels[1:] != labels[:-1])
assert len(flips) == 1, len(flips)
k = int(flips[0]) + 1  # the first divergent point
kw = int(np.argmax(want))
assert abs(k - kw) <= 1, (k, kw)  # rounding at the very edge only
assert not labels[:k].any() and labels[k:].all()
b = json.load(open(f"{d}/big.json"))
assert b["points"] == n and b["transitions"] == 1 and b["divergent_points"] == n - k, b["points"]
assert b["flips"]["index"] == [k - 1], b["flips"]
raw = base64.b64decode(b["labels"]["data"])
assert raw == open(f"{d}/big.words", "rb").read(), "labels=true and the packed words differ"
bits = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")[:n].astype(bool)
assert (bits == labels).all(), "the packed words differ from the npy"
PYEOF
check_eq "$(jq -r .divergent_points "$TB_TMP/cli.json")" "$($PY -c "import numpy as np; print(int(np.load('$TB_TMP/big.npy').sum()))")" "divergent points vs the CLI"

# A SIGTERM while a download is held half-read: a clean exit 0.
$PY "$TB_TMP/slow.py" "$TB_URL" "$TB_TMP/cut.npy" "/v1/jobs/$id/boundary?format=npy" &
c4=$!
i=0
while [ ! -e "$TB_TMP/cut.npy.started" ]; do
    i=$((i + 1))
    [ $i -lt 600 ] || fail "the last download never started"
    sleep 0.05
done
tb_stop
check_eq "$TB_EXIT" 0 "exit status after SIGTERM during a download"
grep -q '"event":"drained"' "$TB_LOG" || fail "no drained event"
touch "$TB_TMP/cut.npy.go"
wait "$c4" 2> /dev/null || true
echo ok
