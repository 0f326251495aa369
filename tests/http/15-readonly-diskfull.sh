#!/bin/sh
# 15-readonly-diskfull.sh - storage faults are answered as such and reads
# go on:
#  - a read-only database file (mode 0444): the server starts, serves GET
#    jobs and results, answers writes 503 "database-read-only" with
#    Retry-After, and /readyz says 503 with the reason;
#  - a full disk (a 1 MiB tmpfs, when this user may mount one; skipped
#    otherwise): writes are 507 "disk-full" problems (never 500), reads go
#    on, and writes work again once space is freed.
. "$TB_ROOT/tests/lib/http.sh"
tb_sqlite_only "a read-only file and a full file system"

JSON='Content-Type: application/json'
small=$TB_TMP/small.json
write_spec "$small" quadratic 4 100

# ---- read-only ---------------------------------------------------------------
tb_start ro --workers 1
id=$(submit "$small")
wait_job "$id" succeeded 60
tb_stop
chmod 0444 "$TB_TMP/ro.db"
tb_start ro --workers 1
grep -q '"event":"listening"' "$TB_LOG" || fail "no start on a read-only file"
expect_status 200 GET "/v1/jobs/$id"
expect_status 200 GET "/v1/jobs/$id/result"
expect_status 200 GET "/v1/jobs/$id/dimension"
expect_status 200 GET /v1/jobs
check_eq "$(jq '.items | length' "$TB_TMP/body")" 1 "jobs listed"
expect_problem 503 POST /v1/jobs -H "$JSON" --data-binary "@$small"
body_json .type | grep -q database-read-only || fail "type: $(body_json .type)"
body_json .detail | grep -q 'read-only' || fail "detail: $(body_json .detail)"
[ -n "$(hdr Retry-After)" ] || fail "read-only 503 without Retry-After"
expect_problem 503 DELETE "/v1/jobs/$id"
expect_problem 503 GET /readyz
body_json .detail | grep -q 'read-only' || fail "readyz detail: $(body_json .detail)"
expect_status 200 GET /healthz
tb_stop
check_eq "$TB_EXIT" 0 "exit status (read-only)"
if grep '"status":500' "$TB_LOG" > /dev/null; then fail "a 500 was answered"; fi
chmod 0644 "$TB_TMP/ro.db"

# ---- disk full -----------------------------------------------------------------
mnt=$TB_TMP/mnt
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=1m tmpfs "$mnt" 2> /dev/null; then
    echo "skipped the disk-full part: cannot mount a tmpfs here (needs root)"
    echo ok
    exit 0
fi
trap 'tb_cleanup; umount "$mnt" 2>/dev/null' EXIT
tb_start full --workers 1 --db "$mnt/full.db"
id=$(submit "$small")
wait_job "$id" succeeded 60
# Fill the file system, then submit until a write needs a new block.
dd if=/dev/zero of="$mnt/filler" bs=4k 2> /dev/null || true
got507=0
i=0
while [ $i -lt 30 ]; do
    code=$(req POST /v1/jobs -H "$JSON" --data-binary "@$small")
    case "$code" in
    202) ;;
    507) got507=1; break ;;
    *) fail "POST on a full disk: $code $(cat "$TB_TMP/body")" ;;
    esac
    i=$((i + 1))
done
check_eq "$got507" 1 "a 507 once the disk is full"
expect_problem 507 POST /v1/jobs -H "$JSON" --data-binary "@$small"
body_json .type | grep -q disk-full || fail "type: $(body_json .type)"
expect_status 200 GET "/v1/jobs/$id"
expect_status 200 GET "/v1/jobs/$id/result"
rm -f "$mnt/filler"
new=$(submit "$small")
wait_job "$new" succeeded 60
tb_stop
check_eq "$TB_EXIT" 0 "exit status (disk full)"
if grep '"status":500' "$TB_LOG" > /dev/null; then fail "a 500 was answered"; fi
umount "$mnt"
echo ok
