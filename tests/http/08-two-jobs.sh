#!/bin/sh
# 08-two-jobs.sh - two jobs at once: the second is not starved by the
# first (it starts before the first finishes: fair claims), and both
# finish with the CLI's counts.
. "$TB_ROOT/tests/lib/http.sh"

write_spec "$TB_TMP/big.json" multiplicative 15 3000
write_spec "$TB_TMP/small.json" additive 13
tb_start a --workers 2 --tile-points 256
big=$(submit "$TB_TMP/big.json")
small=$(submit "$TB_TMP/small.json")
wait_job "$small" succeeded 150
wait_job "$big" succeeded 150

started_small=$(job_field "$small" .started_at)
finished_big=$(job_field "$big" .finished_at)
finished_small=$(job_field "$small" .finished_at)
# RFC 3339 UTC with milliseconds compares as text.
[ "$started_small" \< "$finished_big" ] || fail "the second job waited for the first ($started_small >= $finished_big)"
[ "$finished_small" \< "$finished_big" ] || fail "the small job finished after the big one"

for j in big small; do
    eval "id=\$$j"
    expect_status 200 GET "/v1/jobs/$id/result"
    jq -S 'del(.elapsed_s)' "$TB_TMP/body" > "$TB_TMP/a.json"
    "$TB_BIN" run --threads 2 --quiet "$TB_TMP/$j.json" | jq -S 'del(.elapsed_s)' > "$TB_TMP/b.json"
    cmp -s "$TB_TMP/a.json" "$TB_TMP/b.json" || fail "$j job result differs from the CLI's"
done
tb_stop
echo ok
