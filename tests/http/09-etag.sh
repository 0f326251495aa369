#!/bin/sh
# 09-etag.sh - weak ETags from the job revision: If-None-Match answers 304
# (with ETag and Cache-Control, no body) on the job and its result,
# dimension and boundary; a changed job gets a new ETag.
. "$TB_ROOT/tests/lib/http.sh"

tb_start a --workers 1 --tile-points 64
write_spec "$TB_TMP/s.json" multiplicative 8
id=$(submit "$TB_TMP/s.json")
wait_job "$id" succeeded

expect_status 200 GET "/v1/jobs/$id"
etag=$(hdr ETag)
case "$etag" in W/\"*\") ;; *) fail "ETag '$etag' is not weak" ;; esac
check_eq "$(hdr Cache-Control)" no-cache "Cache-Control"

expect_status 304 GET "/v1/jobs/$id" -H "If-None-Match: $etag"
check_eq "$(hdr ETag)" "$etag" "ETag on 304"
check_eq "$(hdr Cache-Control)" no-cache "Cache-Control on 304"
[ ! -s "$TB_TMP/body" ] || fail "304 with a body"
strong=${etag#W/}
expect_status 304 GET "/v1/jobs/$id" -H "If-None-Match: $strong"
expect_status 304 GET "/v1/jobs/$id" -H "If-None-Match: \"x\", $etag"
expect_status 304 GET "/v1/jobs/$id" -H 'If-None-Match: *'
expect_status 200 GET "/v1/jobs/$id" -H 'If-None-Match: W/"other"'
for r in result dimension boundary; do
    expect_status 200 GET "/v1/jobs/$id/$r"
    check_eq "$(hdr ETag)" "$etag" "ETag of /$r"
    expect_status 304 GET "/v1/jobs/$id/$r" -H "If-None-Match: $etag"
done

# A running job changes revision as tiles land.
write_spec "$TB_TMP/slow.json" multiplicative 14 20000
id2=$(submit "$TB_TMP/slow.json")
e1=$(hdr ETag)
i=0
while :; do
    code=$(req GET "/v1/jobs/$id2" -H "If-None-Match: $e1")
    [ "$code" = 200 ] && break
    check_eq "$code" 304 "unchanged job"
    i=$((i + 1))
    [ $i -lt 600 ] || fail "the ETag never changed"
    sleep 0.1
done
[ "$(hdr ETag)" != "$e1" ] || fail "200 with the old ETag"
code=$(req POST "/v1/jobs/$id2/cancel")
tb_stop
echo ok
