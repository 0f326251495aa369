#!/bin/sh
# run.sh BINARY [bench.py options] - entry point of `make bench`.
set -eu
sh "$(dirname "$0")/../docker/install-deps.sh"
# the machine's multi-core FP ceiling, built for this CPU
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -march=native -pthread -o "$tmp/fpscale" "$(dirname "$0")/fpscale.c"
/usr/bin/python3 "$(dirname "$0")/bench.py" "$@" --fpscale "$tmp/fpscale"
# the queue rows (issue 15): a throwaway PostgreSQL with fsync on
if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
    TB_PG_DURABLE=1 sh "$(dirname "$0")/../tests/lib/pg.sh" run \
        /usr/bin/python3 "$(dirname "$0")/queue.py" "$@"
else
    echo "# queue rows skipped: no PostgreSQL 15 (make deps installs it)"
fi
