/*
 * test_router.c - unit tests for service/http/router.c: the route table (404,
 * 405 + Allow, HEAD/OPTIONS, ids), integer/bool parameters, JSON media
 * types, Accept, If-None-Match and list cursors.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

START_TEST(routes)
{
    struct route_match m;

    ck_assert_int_eq(router_match("GET", "/v1/jobs", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_JOBS);
    ck_assert_int_eq(m.has_body, 0);
    ck_assert_int_eq(router_match("POST", "/v1/jobs", &m), ROUTER_OK);
    ck_assert_int_eq(m.has_body, 1);
    ck_assert_int_eq(router_match("DELETE", "/v1/jobs", &m), ROUTER_EMETHOD);
    ck_assert_str_eq(m.allow, "GET, HEAD, POST, OPTIONS");
    ck_assert_int_eq(router_match("GET", "/v1/jobs/42", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_JOB);
    ck_assert_int_eq(m.job_id, 42);
    ck_assert_str_eq(m.name, "/v1/jobs/{id}");
    ck_assert_int_eq(router_match("DELETE", "/v1/jobs/42", &m), ROUTER_OK);
    ck_assert_int_eq(router_match("HEAD", "/v1/jobs/42/result", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_JOB_RESULT);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/42/dimension", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_JOB_DIMENSION);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/42/boundary", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_JOB_BOUNDARY);
    ck_assert_int_eq(router_match("POST", "/v1/jobs/42/cancel", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_JOB_CANCEL);
    ck_assert_int_eq(m.has_body, 0);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/42/cancel", &m), ROUTER_EMETHOD);
    ck_assert_str_eq(m.allow, "POST, OPTIONS");
    ck_assert_int_eq(router_match("OPTIONS", "/v1/jobs/42/cancel", &m), ROUTER_OK);
    ck_assert_int_eq(router_match("GET", "/healthz", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_HEALTHZ);
    ck_assert_int_eq(router_match("GET", "/livez", &m), ROUTER_OK);
    ck_assert_int_eq(router_match("GET", "/readyz", &m), ROUTER_OK);
    ck_assert_int_eq(m.id, ROUTE_READYZ);
    ck_assert_int_eq(router_match("POST", "/readyz", &m), ROUTER_EMETHOD);

    ck_assert_int_eq(router_match("GET", "/", &m), ROUTER_OK); /* the dashboard */
    ck_assert_int_eq(m.id, ROUTE_WEB);
    ck_assert_int_eq(router_match("GET", "//", &m), ROUTER_ENOTFOUND);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/", &m), ROUTER_ENOTFOUND);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/42/", &m), ROUTER_ENOTFOUND);
    /* A known route with a bad id: 400 (malformed) or 404 (too big). */
    ck_assert_int_eq(router_match("GET", "/v1/jobs/abc", &m), ROUTER_EBADID);
    ck_assert_int_eq(m.id, ROUTE_JOB);
    ck_assert_str_eq(m.name, "/v1/jobs/{id}");
    ck_assert_int_eq(router_match("GET", "/v1/jobs/0", &m), ROUTER_EBADID);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/042", &m), ROUTER_EBADID);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/01", &m), ROUTER_EBADID);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/-1", &m), ROUTER_EBADID);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/+1", &m), ROUTER_EBADID);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/abc/result", &m), ROUTER_EBADID);
    ck_assert_int_eq(m.id, ROUTE_JOB_RESULT);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/-1/boundary", &m), ROUTER_EBADID);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/01/dimension", &m), ROUTER_EBADID);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/x/cells", &m), ROUTER_EBADID);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/x/events", &m), ROUTER_EBADID);
    ck_assert_int_eq(router_match("POST", "/v1/jobs/x/cancel", &m), ROUTER_EBADID);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/x/cancel", &m), ROUTER_EMETHOD);
    ck_assert_int_eq(router_match("OPTIONS", "/v1/jobs/x", &m), ROUTER_OK);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/99999999999999999", &m), ROUTER_EIDRANGE);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/9007199254740993", &m), ROUTER_EIDRANGE);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/123456789012345678901234567890/result", &m),
                     ROUTER_EIDRANGE);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/42/result/x", &m), ROUTER_ENOTFOUND);
    ck_assert_int_eq(router_match("GET", "/v1/jobs/abc/nothing", &m), ROUTER_ENOTFOUND);
    ck_assert_int_eq(router_match("GET", "/V1/JOBS", &m), ROUTER_ENOTFOUND);
    ck_assert_int_eq(router_match(NULL, "/v1/jobs", &m), ROUTER_ENOTFOUND);
}
END_TEST

START_TEST(ids_and_ints)
{
    int64_t v;
    int b;

    ck_assert_int_eq(router_parse_id("1", 1, &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(router_parse_id("9007199254740992", 16, &v), 0);
    ck_assert_int_eq(router_parse_id("9007199254740993", 16, &v), -1);
    ck_assert_int_eq(router_parse_id("12x", 3, &v), -1);
    ck_assert_int_eq(router_parse_id("", 0, &v), -1);
    ck_assert_int_eq(router_check_id("12x", 3, &v), -1);
    ck_assert_int_eq(router_check_id("0", 1, &v), -1);
    ck_assert_int_eq(router_check_id("01", 2, &v), -1);
    ck_assert_int_eq(router_check_id("9007199254740993", 16, &v), -2);
    ck_assert_int_eq(router_check_id("123456789012345678901234567890", 30, &v), -2);
    ck_assert_int_eq(router_check_id("77", 2, &v), 0);
    ck_assert_int_eq(v, 77);

    ck_assert_int_eq(router_parse_int("20", 1, 100, &v), 0);
    ck_assert_int_eq(v, 20);
    ck_assert_int_eq(router_parse_int("-3", -5, 5, &v), 0);
    ck_assert_int_eq(v, -3);
    ck_assert_int_eq(router_parse_int("0", 1, 100, &v), -1);
    ck_assert_int_eq(router_parse_int("101", 1, 100, &v), -1);
    ck_assert_int_eq(router_parse_int("1e2", 1, 100, &v), -1);
    ck_assert_int_eq(router_parse_int(" 5", 1, 100, &v), -1);
    ck_assert_int_eq(router_parse_int("", 1, 100, &v), -1);
    ck_assert_int_eq(router_parse_int("-", -5, 5, &v), -1);
    ck_assert_int_eq(router_parse_int(NULL, 1, 100, &v), -1);
    ck_assert_int_eq(router_parse_int("99999999999999999999999", 0, INT64_MAX, &v), -1);

    ck_assert_int_eq(router_parse_bool("true", &b), 0);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(router_parse_bool("0", &b), 0);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(router_parse_bool("yes", &b), -1);
}
END_TEST

START_TEST(negotiation)
{
    static const char *const json[] = {"application/json"};
    static const char *const bnd[] = {"application/json", "text/csv", "application/octet-stream",
                                      "image/png"};

    /* Absent, empty, and wildcards: the default. */
    ck_assert_int_eq(router_negotiate(NULL, bnd, 4), 0);
    ck_assert_int_eq(router_negotiate("", bnd, 4), 0);
    ck_assert_int_eq(router_negotiate("*/*", bnd, 4), 0);
    ck_assert_int_eq(router_negotiate("application/*", bnd, 4), 0);
    ck_assert_int_eq(router_negotiate("text/html,application/xhtml+xml,*/*;q=0.8", bnd, 4), 0);
    /* An explicit type. */
    ck_assert_int_eq(router_negotiate("text/csv", bnd, 4), 1);
    ck_assert_int_eq(router_negotiate("TEXT/CSV; charset=utf-8", bnd, 4), 1);
    ck_assert_int_eq(router_negotiate("text/*", bnd, 4), 1);
    ck_assert_int_eq(router_negotiate("application/octet-stream", bnd, 4), 2);
    ck_assert_int_eq(router_negotiate("image/png", bnd, 4), 3);
    /* q decides; the most specific range gives a type its q. */
    ck_assert_int_eq(router_negotiate("application/json;q=0.5, text/csv", bnd, 4), 1);
    ck_assert_int_eq(router_negotiate("text/csv;q=0.2, */*;q=0.9", bnd, 4), 0);
    ck_assert_int_eq(router_negotiate("application/json;q=0, */*", bnd, 4), 1);
    ck_assert_int_eq(router_negotiate("text/csv, application/json", bnd, 4), 0); /* tie */
    /* Nothing fits: 406. */
    ck_assert_int_eq(router_negotiate("application/xml", json, 1), -1);
    ck_assert_int_eq(router_negotiate("text/csv", json, 1), -1);
    ck_assert_int_eq(router_negotiate("application/json;q=0", json, 1), -1);
    ck_assert_int_eq(router_negotiate("*/*;q=0.000", json, 1), -1);
    ck_assert_int_eq(router_negotiate("application/xml", bnd, 4), -1);
    ck_assert_int_eq(router_negotiate("application/json", json, 1), 0);
    ck_assert_int_eq(router_negotiate("application/*;q=0.1", json, 1), 0);
}
END_TEST

START_TEST(media_types)
{
    ck_assert(router_is_json_type("application/json"));
    ck_assert(router_is_json_type("Application/JSON"));
    ck_assert(router_is_json_type("application/json; charset=utf-8"));
    ck_assert(router_is_json_type("application/json;charset=\"UTF-8\""));
    ck_assert(router_is_json_type("application/merge-patch+json"));
    ck_assert(!router_is_json_type("application/json; charset=latin1"));
    ck_assert(!router_is_json_type("text/plain"));
    ck_assert(!router_is_json_type("application/x-www-form-urlencoded"));
    ck_assert(!router_is_json_type("application/jsonx"));
    ck_assert(!router_is_json_type("text/json"));
    ck_assert(!router_is_json_type(""));
    ck_assert(!router_is_json_type(NULL));

    ck_assert(router_accepts("application/octet-stream", "application/octet-stream"));
    ck_assert(router_accepts("application/json, application/octet-stream;q=0.5",
                             "application/octet-stream"));
    ck_assert(!router_accepts("application/octet-stream;q=0", "application/octet-stream"));
    ck_assert(!router_accepts("application/octet-stream; q=0.000", "application/octet-stream"));
    ck_assert(router_accepts("application/octet-stream;q=0.1", "application/octet-stream"));
    ck_assert(!router_accepts("*/*", "application/octet-stream"));
    ck_assert(!router_accepts("application/json", "application/octet-stream"));
    ck_assert(!router_accepts(NULL, "application/octet-stream"));
}
END_TEST

START_TEST(etags)
{
    const char *e = "W/\"3-7\"";

    ck_assert(router_etag_match("W/\"3-7\"", e));
    ck_assert(router_etag_match("\"3-7\"", e));
    ck_assert(router_etag_match("\"1-1\", W/\"3-7\"", e));
    ck_assert(router_etag_match("*", e));
    ck_assert(!router_etag_match("W/\"3-8\"", e));
    ck_assert(!router_etag_match("\"3-7", e));
    ck_assert(!router_etag_match("", e));
    ck_assert(!router_etag_match(NULL, e));
}
END_TEST

START_TEST(cursors)
{
    char buf[ROUTER_CURSOR_LEN];
    int64_t v;
    int64_t ids[] = {1, 20, 123456789, 9007199254740992LL};
    size_t k;

    for (k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        router_cursor_encode(ids[k], buf);
        ck_assert_int_eq(router_cursor_decode(buf, &v), 0);
        ck_assert_int_eq(v, ids[k]);
        ck_assert(strspn(buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                  strlen(buf));
    }
    ck_assert_int_eq(router_cursor_decode("", &v), -1);
    ck_assert_int_eq(router_cursor_decode("12", &v), -1);
    ck_assert_int_eq(router_cursor_decode("bogus", &v), -1);
    ck_assert_int_eq(router_cursor_decode("am9iczww", &v), -1); /* "jobs<0" */
    ck_assert_int_eq(router_cursor_decode("a b", &v), -1);
    ck_assert_int_eq(router_cursor_decode(NULL, &v), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("router");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, routes);
    tcase_add_test(tc, ids_and_ints);
    tcase_add_test(tc, media_types);
    tcase_add_test(tc, negotiation);
    tcase_add_test(tc, etags);
    tcase_add_test(tc, cursors);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
