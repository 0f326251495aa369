#!/bin/sh
# run.sh BINARY [bench.py options] - entry point of `make bench`.
set -eu
sh "$(dirname "$0")/../docker/install-deps.sh"
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
