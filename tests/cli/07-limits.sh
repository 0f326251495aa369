#!/bin/sh
# 07-limits.sh - a spec file over 16 MiB is refused before parsing (file and
# stdin), with exit 2 and nothing on stdout.
set -eu
cd "$TB_TMP"

{ printf '{"model":{"family":"quadratic"},"name":"'; head -c 17000000 /dev/zero | tr '\0' 'a'; printf '"}'; } > big.json
for src in file stdin; do
    rc=0
    if [ "$src" = file ]; then
        "$TB_BIN" validate big.json > out 2> err || rc=$?
        want='trainbound: big.json: the spec is larger than 16 MiB (16777216 bytes); refusing it'
    else
        "$TB_BIN" run - < big.json > out 2> err || rc=$?
        want='trainbound: stdin: the spec is larger than 16 MiB (16777216 bytes); refusing it'
    fi
    [ "$rc" -eq 2 ] || { echo "$src: exit $rc"; cat err; exit 1; }
    [ ! -s out ]
    grep -qxF "$want" err || { cat err; exit 1; }
done
echo ok
