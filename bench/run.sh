#!/bin/sh
# run.sh BINARY [bench.py options] - entry point of `make bench`.
set -eu
sh "$(dirname "$0")/../docker/install-deps.sh"
# the machine's multi-core FP ceiling, built for this CPU
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -march=native -pthread -o "$tmp/fpscale" "$(dirname "$0")/fpscale.c"
/usr/bin/python3 "$(dirname "$0")/bench.py" "$@" --fpscale "$tmp/fpscale"
