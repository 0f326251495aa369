/*
 * test_view.c - unit tests for service/http/view.c and service/clock.c: the job
 * resource's members for a queued and a succeeded job, null timings,
 * stored JSON embedded as objects, the weak ETag and RFC 3339 times.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "view.h"

START_TEST(queued_job)
{
    struct job j;
    json_t *o;
    char etag[VIEW_ETAG_LEN];

    memset(&j, 0, sizeof j);
    j.id = 12;
    j.status = JOB_QUEUED;
    j.spec_json = "{\"steps\":1000}";
    j.points_total = 1025;
    j.tiles_total = 3;
    j.created_ms = 1700000000123;
    j.revision = 7;
    o = view_job(&j, 1, 1700000001123);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "id")), 12);
    ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "queued");
    ck_assert(json_is_null(json_object_get(o, "name")));
    ck_assert_str_eq(json_string_value(json_object_get(o, "created_at")),
                     "2023-11-14T22:13:20.123Z");
    ck_assert(json_is_null(json_object_get(o, "started_at")));
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(o, "timings"), "wait_ms")), 1000);
    ck_assert(json_is_null(json_object_get(json_object_get(o, "timings"), "run_ms")));
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(o, "progress"), "total")), 1025);
    ck_assert(json_real_value(json_object_get(json_object_get(o, "progress"), "fraction")) == 0);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(o, "spec"), "steps")), 1000);
    ck_assert_ptr_null(json_object_get(o, "summary"));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "links"), "cancel")),
                     "/v1/jobs/12/cancel");
    json_decref(o);

    o = view_job(&j, 0, 0);
    ck_assert_ptr_null(json_object_get(o, "spec"));
    json_decref(o);

    view_etag(&j, etag);
    ck_assert_str_eq(etag, "W/\"12-7\"");
}
END_TEST

START_TEST(finished_job)
{
    struct job j;
    json_t *o;

    memset(&j, 0, sizeof j);
    j.id = 3;
    j.status = JOB_SUCCEEDED;
    j.name = "run";
    j.spec_json = "{}";
    j.summary_json = "{\"dimension\":0.8}";
    j.points_total = j.points_done = 4;
    j.created_ms = 1000;
    j.started_ms = 1500;
    j.finished_ms = 4000;
    o = view_job(&j, 1, 999999);
    ck_assert_str_eq(json_string_value(json_object_get(o, "name")), "run");
    ck_assert(json_real_value(json_object_get(json_object_get(o, "progress"), "fraction")) == 1.0);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(o, "timings"), "run_ms")), 2500);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(o, "timings"), "wait_ms")), 500);
    ck_assert(json_real_value(json_object_get(json_object_get(o, "summary"), "dimension")) == 0.8);
    json_decref(o);

    j.status = JOB_FAILED;
    j.summary_json = NULL;
    j.error = "boom";
    o = view_job(&j, 0, 0);
    ck_assert_str_eq(json_string_value(json_object_get(o, "error")), "boom");
    json_decref(o);
}
END_TEST

START_TEST(times)
{
    char buf[CLOCK_ISO_LEN];

    ck_assert_str_eq(clock_iso8601(0, buf), "1970-01-01T00:00:00.000Z");
    ck_assert_str_eq(clock_iso8601(951782400999, buf), "2000-02-29T00:00:00.999Z");
    ck_assert_int_gt(clock_now_ms(), 1600000000000LL);
    ck_assert_int_ge(clock_mono_us(), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("view");
    TCase *tc = tcase_create("view");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, queued_job);
    tcase_add_test(tc, finished_job);
    tcase_add_test(tc, times);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
