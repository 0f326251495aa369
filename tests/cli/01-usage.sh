#!/bin/sh
# 01-usage.sh - top-level usage, --help, --version, and usage errors of
# `run` and `validate`: exit 2, a message on stderr, nothing on stdout.
set -eu
cd "$TB_TMP"

# expect CODE STDERR-SUBSTRING ARGS... : exit code and a stderr line, empty stdout.
expect() {
    code=$1; want=$2; shift 2
    rc=0
    "$TB_BIN" "$@" > out 2> err || rc=$?
    [ "$rc" -eq "$code" ] || { echo "trainbound $*: exit $rc, want $code"; cat err; exit 1; }
    [ ! -s out ] || { echo "trainbound $*: unexpected stdout"; cat out; exit 1; }
    grep -qF -- "$want" err || { echo "trainbound $*: stderr lacks '$want'"; cat err; exit 1; }
}

"$TB_BIN" --help > out
grep -q '^usage: trainbound <command>' out
grep -q 'run \[--threads N\] \[--quiet\] \[--precision reference|fast\] \[--labels OUT.npy\]$' out
grep -q '^      \[--csv OUT.csv\] \[--stats\] SPEC.json|-$' out
grep -q 'validate SPEC.json|-' out
"$TB_BIN" --version | grep -Eq '^trainbound [0-9]+\.[0-9]+\.[0-9]+$'
"$TB_BIN" run --help | grep -q '^usage: trainbound run'
"$TB_BIN" validate --help | grep -q '^usage: trainbound validate'

expect 2 'usage: trainbound <command>'
expect 2 "trainbound: unknown command 'frobnicate'" frobnicate
expect 2 'trainbound: run: missing SPEC.json (or - for stdin)' run
expect 2 'trainbound: validate: missing SPEC.json (or - for stdin)' validate
expect 2 "trainbound: run: unknown option '--bogus'" run --bogus spec.json
expect 2 "trainbound: validate: unknown option '--threads'" validate --threads 2 spec.json
expect 2 "trainbound: run: unexpected argument 'b.json'" run a.json b.json
expect 2 'trainbound: --threads: must be an integer in 1..1024' run --threads 0 spec.json
expect 2 'trainbound: --threads: must be an integer in 1..1024' run --threads 1025 spec.json
expect 2 'trainbound: --threads: must be an integer in 1..1024' run --threads=2x spec.json
expect 2 'trainbound: --threads: needs a value' run spec.json --threads
expect 2 'trainbound: missing.json: cannot open: No such file or directory' run missing.json
expect 2 'trainbound: missing.json: cannot open: No such file or directory' validate missing.json
mkdir adir
expect 2 'trainbound: adir: cannot read' validate adir
echo ok
