#!/bin/sh
# clean-build.sh - the container's build and run steps, without Docker:
# copies the sources as the Docker build context would (git's tracked and
# unignored files, minus .dockerignore's build dirs) into a fresh directory,
# runs the Dockerfile's RUN scripts there (docker/install-deps.sh build,
# docker/build.sh), then runs the binary the way the runtime stage does
# (TRAINBOUND_LISTEN / TRAINBOUND_DB in an empty data directory) and probes
# it with the HEALTHCHECK's command. `make docker-check`; not in `make test`
# (a full build).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$tmp/src" "$tmp/data"
(cd "$root" && git ls-files -co --exclude-standard | grep -Ev '^(build|build-[^/]*|data)/' |
    tar -cf - -T -) | tar -xf - -C "$tmp/src"
[ ! -e "$tmp/src/build" ] || { echo "clean-build: build/ leaked into the context" >&2; exit 1; }
# The Dockerfile's RUN lines, in order.
(cd "$tmp/src" && sh docker/install-deps.sh build && sh docker/build.sh "$tmp/out") > "$tmp/build.log" 2>&1 ||
    { tail -30 "$tmp/build.log"; exit 1; }
grep -q '^RUN sh docker/install-deps.sh build' "$root/docker/Dockerfile"
grep -q '^RUN sh docker/build.sh /out' "$root/docker/Dockerfile"
sh "$root/docker/install-deps.sh" runtime
# The runtime stage: env settings, a data volume, port 0 instead of 8080.
cd "$tmp/data"
TRAINBOUND_LISTEN=127.0.0.1:0 TRAINBOUND_DB="$tmp/data/trainbound.db" "$tmp/out/trainbound" serve \
    2> "$tmp/serve.log" &
pid=$!
addr=""
for _ in $(seq 100); do
    addr=$(grep -m1 '"event":"listening"' "$tmp/serve.log" 2> /dev/null | jq -r .addr) || true
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { cat "$tmp/serve.log"; exit 1; }
ok=0
for _ in $(seq 50); do
    # The HEALTHCHECK's command, against the bound port.
    if curl -fsS -o /dev/null "http://$addr/readyz"; then ok=1; break; fi
    sleep 0.1
done
[ "$ok" = 1 ] || { echo "clean-build: /readyz never answered 200" >&2; exit 1; }
curl -fsS "http://$addr/" | grep -q '<title>trainbound</title>' || { echo "no dashboard" >&2; exit 1; }
[ -f "$tmp/data/trainbound.db" ] || { echo "clean-build: no database in the data volume" >&2; exit 1; }
kill -TERM "$pid"
wait "$pid" || { echo "clean-build: serve exited $?" >&2; exit 1; }
pid=""
echo "clean-build: ok (built from a clean copy with the Dockerfile's scripts; /readyz 200)"
