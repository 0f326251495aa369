#!/bin/sh
# 06-compose.sh - docker/compose.yaml's deployment without Docker (issue
# 15): the processes it declares, started with its own commands and
# environment on one PostgreSQL: the API (`serve` plus the service's
# command: --workers 0) and `replicas` workers (the service's entrypoint
# and command). Every worker computes tiles, the job gives the CLI's
# counts, every tile stored once. The file's wiring is checked too: the
# entrypoint is the binary the Dockerfile installs, the API and the
# workers name the same database (the db service's user and database),
# and the workers' health check asks the port their metrics listen on.
# Needs yq (Debian's, installed by make deps); skipped without it.
. "$TB_ROOT/tests/lib/http.sh"
tb_pg || {
    echo "skip: needs PostgreSQL (make check-pg)"
    exit 0
}
command -v yq > /dev/null || {
    echo "skip: needs yq (make deps)"
    exit 0
}
TB_DBNAME=q
c=$TB_ROOT/docker/compose.yaml
y() { yq -r "$1" "$c"; }

# The file's wiring.
check_eq "$(y '.services | keys | sort | join(" ")')" "api db worker" "services"
check_eq "$(y '.services.db.image')" postgres:15 "db image"
bin=$(y '.services.worker.entrypoint[0]')
check_eq "$(y '.services.worker.entrypoint[1]')" worker "worker entrypoint"
grep -q "^COPY --from=build /out/trainbound $bin\$" "$TB_ROOT/docker/Dockerfile" ||
    fail "the workers' entrypoint $bin is not what the Dockerfile installs"
grep -q "^ENTRYPOINT \[\"$bin\", \"serve\"\]" "$TB_ROOT/docker/Dockerfile" ||
    fail "the API's command is not appended to \`$bin serve\`"
db=$(y '.services.api.environment.TRAINBOUND_DB')
check_eq "$(y '.services.worker.environment.TRAINBOUND_DB')" "$db" "the workers' database"
want="postgresql://$(y '.services.db.environment.POSTGRES_USER'):"
case "$db" in "$want"*"@db:5432/$(y '.services.db.environment.POSTGRES_DB')") ;;
*) fail "TRAINBOUND_DB $db is not the db service's" ;; esac
mport=$(y '.services.worker.command | join(" ")' | sed -n 's/.*--metrics-listen [^ ]*:\([0-9]*\).*/\1/p')
[ -n "$mport" ] || fail "the workers serve no metrics"
y '.services.worker.healthcheck.test | join(" ")' | grep -q "127.0.0.1:$mport/readyz" ||
    fail "the workers' health check does not ask port $mport"
n=$(y '.services.worker.deploy.replicas')
check_eq "$n" 3 "workers"

# The processes, as compose starts them: this test's database in place of
# the db service, loopback addresses in place of 0.0.0.0 and free ports.
loopback() { sed 's/0\.0\.0\.0:[0-9]*/127.0.0.1:0/g'; }
# shellcheck disable=SC2046 # the commands are lists of plain words
tb_start api $(y '.services.api.command | join(" ")' | loopback) --tile-points 256
grep '"event":"listening"' "$TB_LOG" | jq -e '.role == "api" and .workers == 0' > /dev/null ||
    fail "the API's listening line: $(grep listening "$TB_LOG")"
k=1
while [ $k -le "$n" ]; do
    # shellcheck disable=SC2046
    tb_worker "w$k" $(y '.services.worker.command | join(" ")' | loopback) --workers 1
    k=$((k + 1))
done

spec=$TB_TMP/spec.json
write_spec "$spec" multiplicative 12 20000
id=$(submit "$spec")
wait_job "$id" succeeded 120

k=1
while [ $k -le "$n" ]; do
    addr=$(grep '"event":"worker_started"' "$TB_TMP/w$k.log" | jq -r .metrics_addr)
    pts=$(curl -sS "http://$addr/metrics" | awk '$1 == "trainbound_points_computed_total" { print $2 }')
    [ "${pts:-0}" -gt 0 ] || fail "worker $k computed nothing"
    curl -sS "http://$addr/readyz" | jq -e '.status == "ready"' > /dev/null || fail "worker $k not ready"
    k=$((k + 1))
done
expect_status 200 GET "/v1/jobs/$id/result"
"$TB_BIN" run --threads 1 --quiet "$spec" > "$TB_TMP/cli.json"
check_eq "$(jq -c .counts "$TB_TMP/body")" "$(jq -c .counts "$TB_TMP/cli.json")" "counts"
check_eq "$(tb_sql q "SELECT count(*) FROM tile_attempts WHERE job_id = $id AND outcome = 'done'")" \
    "$(tb_sql q "SELECT tiles_total FROM jobs WHERE id = $id")" "done attempts (one per tile)"
echo ok
