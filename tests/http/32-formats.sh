#!/bin/sh
# 32-formats.sh - ?format=npy of the labels (bool) and of the counts (<u8)
# load with numpy and equal the JSON answers; the boundary strip is a PNG
# (boundary.png and ?format=png) of min(points, 4096) x 32 pixels that
# decodes; ?format=csv of the flips equals the JSON ones; a bad format is 400.
. "$TB_ROOT/tests/lib/http.sh"
PY=/usr/bin/python3
$PY -c 'import numpy' 2> /dev/null || fail "needs Debian's python3-numpy"

tb_start a --workers 2 --tile-points 64
write_spec "$TB_TMP/s.json" multiplicative 12
id=$(submit "$TB_TMP/s.json")
write_spec "$TB_TMP/q.json" multiplicative 5
id2=$(submit "$TB_TMP/q.json")
wait_job "$id" succeeded
wait_job "$id2" succeeded

for j in "$id" "$id2"; do
    expect_status 200 GET "/v1/jobs/$j/boundary?limit=100000&labels=true"
    cp "$TB_TMP/body" "$TB_TMP/b$j.json"
    expect_status 200 GET "/v1/jobs/$j/boundary?format=npy"
    cp "$TB_TMP/body" "$TB_TMP/l$j.npy"
    expect_status 200 GET "/v1/jobs/$j/dimension"
    cp "$TB_TMP/body" "$TB_TMP/d$j.json"
    expect_status 200 GET "/v1/jobs/$j/dimension?format=npy"
    cp "$TB_TMP/body" "$TB_TMP/c$j.npy"
    expect_status 200 GET "/v1/jobs/$j/boundary.png"
    check_eq "$(hdr Content-Type)" image/png "PNG type"
    [ -n "$(hdr ETag)" ] || fail "PNG without ETag"
    cp "$TB_TMP/body" "$TB_TMP/p$j.png"
    expect_status 200 GET "/v1/jobs/$j/boundary?format=png"
    cmp -s "$TB_TMP/body" "$TB_TMP/p$j.png" || fail "format=png differs from boundary.png"
    $PY - "$TB_TMP" "$j" << 'PYEOF' || fail "job $j: the NPY/PNG checks failed"
import base64, json, struct, sys, zlib
import numpy as np
d, j = sys.argv[1], sys.argv[2]
b = json.load(open(f"{d}/b{j}.json"))
labels = np.load(f"{d}/l{j}.npy")
assert labels.dtype == np.bool_ and labels.shape == (b["points"],), (labels.dtype, labels.shape)
# The JSON labels: packed uint64 words, little-endian, bit i = point i.
raw = np.frombuffer(base64.b64decode(b["labels"]["data"]), dtype="<u8")
bits = np.unpackbits(raw.view(np.uint8), bitorder="little")[: b["points"]].astype(bool)
assert (bits == labels).all(), "labels differ"
assert int(labels.sum()) == b["divergent_points"]
flips = np.flatnonzero(labels[1:] != labels[:-1])
assert list(flips) == b["flips"]["index"], "flips differ"
c = np.load(f"{d}/c{j}.npy")
dj = json.load(open(f"{d}/d{j}.json"))
assert c.dtype == np.dtype("<u8") and list(c) == dj["counts"], (c, dj["counts"])
# The PNG: signature, IHDR size, and the IDAT stream inflates to the rows.
p = open(f"{d}/p{j}.png", "rb").read()
assert p[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w = 8, b"", None
while pos < len(p):
    n, t = struct.unpack(">I4s", p[pos:pos + 8])
    data = p[pos + 8:pos + 8 + n]
    assert zlib.crc32(t + data) == struct.unpack(">I", p[pos + 8 + n:pos + 12 + n])[0], "CRC"
    if t == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", data[:10])
    elif t == b"IDAT":
        idat += data
    pos += 12 + n
want = min(b["points"], 4096)
assert (w, h, depth, ctype) == (want, 32, 8, 2), (w, h, depth, ctype)
assert len(zlib.decompress(idat)) == h * (1 + 3 * w)
PYEOF
done
# format=csv: the same page of flips as the JSON, "index,lr" rows, with a
# Link rel="next" while flips remain; the whole list equals the JSON's.
expect_status 200 GET "/v1/jobs/$id/boundary?limit=100000"
cp "$TB_TMP/body" "$TB_TMP/all.json"
expect_status 200 GET "/v1/jobs/$id/boundary?format=csv&limit=100000"
case "$(hdr Content-Type)" in text/csv*) ;; *) fail "boundary csv Content-Type: $(hdr Content-Type)" ;; esac
[ -n "$(hdr ETag)" ] || fail "boundary csv without ETag"
[ -z "$(hdr Link)" ] || fail "Link on the only page: $(hdr Link)"
cp "$TB_TMP/body" "$TB_TMP/all.csv"
expect_status 200 GET "/v1/jobs/$id/boundary?format=csv&offset=1&limit=2"
cp "$TB_TMP/body" "$TB_TMP/page.csv"
case "$(hdr Link)" in *'offset=3&limit=2>; rel="next"'*) ;; *) fail "boundary csv Link: $(hdr Link)" ;; esac
$PY - "$TB_TMP" << 'PYEOF' || fail "the boundary CSV differs from the JSON flips"
import csv, json, sys
d = sys.argv[1]
b = json.load(open(f"{d}/all.json"))
rows = list(csv.reader(open(f"{d}/all.csv")))
assert rows[0] == ["index", "lr"], rows[0]
assert [int(r[0]) for r in rows[1:]] == b["flips"]["index"], "indices"
assert [float(r[1]) for r in rows[1:]] == b["flips"]["lr"], "lrs"
assert all(len(r[1]) <= len(repr(float(r[1]))) for r in rows[1:]), "lrs not in shortest form"
assert len(rows) - 1 == b["transitions"] and len(rows) >= 5, len(rows)
page = list(csv.reader(open(f"{d}/page.csv")))
assert page == [rows[0]] + rows[2:4], page
PYEOF
expect_problem 400 GET "/v1/jobs/$id/boundary?format=gif"
expect_problem 400 GET "/v1/jobs/$id/dimension?format=png"
expect_problem 404 GET "/v1/jobs/999/boundary.png"
tb_stop
echo ok
