/*
 * test_problem.c - unit tests for service/http/problem.c: every kind has a
 * status, a type URI and a title; documents carry the RFC 9457 members;
 * codec errors become errors[] with pointers; queue codes map to the
 * documented statuses.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "problem.h"
#include "queue.h"

START_TEST(table_complete)
{
    int k;

    for (k = 0; k < PROBLEM__COUNT; k++) {
        const struct problem_type *t = problem_type((enum problem_kind)k);
        ck_assert_ptr_nonnull(t->slug);
        ck_assert_ptr_nonnull(t->title);
        ck_assert_int_ge(t->status, 400);
        ck_assert_int_le(t->status, 599);
    }
    ck_assert_int_eq(problem_type(PROBLEM__COUNT)->status, 500);
    ck_assert_int_eq(problem_type(PROBLEM_BODY_TOO_LARGE)->status, 413);
    ck_assert_int_eq(problem_type(PROBLEM_UNSUPPORTED_MEDIA)->status, 415);
    ck_assert_int_eq(problem_type(PROBLEM_INVALID_SPEC)->status, 422);
    ck_assert_int_eq(problem_type(PROBLEM_QUEUE_FULL)->status, 429);
}
END_TEST

START_TEST(document)
{
    json_t *p = problem_new(PROBLEM_NOT_FOUND, "/v1/jobs/9", "no job %d", 9);

    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(json_string_value(json_object_get(p, "type")),
                     "urn:trainbound:problem:not-found");
    ck_assert_str_eq(json_string_value(json_object_get(p, "title")), "Not found");
    ck_assert_int_eq(json_integer_value(json_object_get(p, "status")), 404);
    ck_assert_str_eq(json_string_value(json_object_get(p, "detail")), "no job 9");
    ck_assert_str_eq(json_string_value(json_object_get(p, "instance")), "/v1/jobs/9");
    json_decref(p);

    p = problem_new(PROBLEM_INTERNAL, NULL, NULL);
    ck_assert_ptr_null(json_object_get(p, "instance"));
    ck_assert_str_eq(json_string_value(json_object_get(p, "detail")), "Internal server error");
    json_decref(p);
}
END_TEST

START_TEST(codec_errors)
{
    struct codec_errors errs;
    json_t *p = problem_new(PROBLEM_INVALID_SPEC, "/v1/jobs", NULL), *arr, *e;

    memset(&errs, 0, sizeof errs);
    errs.n = 2;
    strcpy(errs.e[0].path, "lr.levels");
    strcpy(errs.e[0].pointer, "/lr/levels");
    strcpy(errs.e[0].message, "must be an integer in 0..26");
    strcpy(errs.e[1].path, "x0[2]");
    strcpy(errs.e[1].pointer, "/x0/2");
    strcpy(errs.e[1].message, "must be finite");
    errs.truncated = 1;
    ck_assert_int_eq(problem_add_codec_errors(p, &errs), 0);
    arr = json_object_get(p, "errors");
    ck_assert_uint_eq(json_array_size(arr), 2);
    e = json_array_get(arr, 1);
    ck_assert_str_eq(json_string_value(json_object_get(e, "pointer")), "/x0/2");
    ck_assert_str_eq(json_string_value(json_object_get(e, "field")), "x0[2]");
    ck_assert_str_eq(json_string_value(json_object_get(e, "detail")), "must be finite");
    ck_assert(json_is_true(json_object_get(p, "errors_truncated")));
    json_decref(p);
}
END_TEST

START_TEST(queue_mapping)
{
    ck_assert_int_eq(problem_from_queue(QUEUE_ENOENT), PROBLEM_NOT_FOUND);
    ck_assert_int_eq(problem_from_queue(QUEUE_EFULL), PROBLEM_QUEUE_FULL);
    ck_assert_int_eq(problem_from_queue(QUEUE_EBUSY), PROBLEM_BUSY);
    ck_assert_int_eq(problem_type(problem_from_queue(QUEUE_EBUSY))->status, 503);
    ck_assert_int_eq(problem_from_queue(QUEUE_EREADONLY), PROBLEM_READ_ONLY);
    ck_assert_int_eq(problem_from_queue(QUEUE_EIO), PROBLEM_STORAGE);
    ck_assert_int_eq(problem_from_queue(QUEUE_ENOSPC), PROBLEM_DISK_FULL);
    ck_assert_int_eq(problem_type(PROBLEM_DISK_FULL)->status, 507);
    ck_assert_str_eq(problem_type(PROBLEM_DISK_FULL)->slug, "disk-full");
    ck_assert_int_eq(problem_type(PROBLEM_READ_ONLY)->status, 503);
    ck_assert_int_eq(problem_type(PROBLEM_UNAUTHORIZED)->status, 401);
    ck_assert_int_eq(problem_type(PROBLEM_FORBIDDEN)->status, 403);
    ck_assert_int_eq(problem_from_queue(QUEUE_ENOMEM), PROBLEM_INTERNAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("problem");
    TCase *tc = tcase_create("problem");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, table_complete);
    tcase_add_test(tc, document);
    tcase_add_test(tc, codec_errors);
    tcase_add_test(tc, queue_mapping);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
