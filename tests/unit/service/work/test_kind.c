/*
 * test_kind.c - unit tests for service/work/kind.c and the kinds' tables:
 * which kind a body is, a body parsed once (the kind, its noun for the
 * 422, errors), canonical(), the job resource's "kind" for every kind,
 * the views each kind has (grid_spec, cells, no_view's texts), and
 * run_local() of a sweep on a one-thread runner (the result, the labels,
 * --csv refused). No store: only the calls that need none.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kind.h"
#include "view.h"

#define SWEEP "{\"model\":{\"family\":\"quadratic\"},\"lr\":{\"levels\":8}}"
#define STUDY                                                                                      \
    "{\"model\":{\"family\":\"multiplicative\",\"amplitude\":0.2,\"wavelength\":0.1},"             \
    "\"lr\":{\"levels\":8},\"vary\":{\"model.amplitude\":[0.1,0.2]}}"

static const struct job_kind *parse(const char *text, struct kind_spec **spec, int *rc)
{
    struct codec_errors *errs = malloc(sizeof *errs);
    struct codec_limits lim;
    const struct job_kind *kind = NULL;

    ck_assert_ptr_nonnull(errs);
    codec_limits_default(&lim);
    *rc = kind_parse_body(text, strlen(text), &lim, &kind, spec, errs);
    free(errs);
    ck_assert_ptr_nonnull(kind);
    return kind;
}

START_TEST(parse_body)
{
    struct kind_spec *spec;
    const struct job_kind *kind;
    char *text;
    int rc;

    kind = parse(SWEEP, &spec, &rc);
    ck_assert_int_eq(rc, CODEC_OK);
    ck_assert_ptr_eq(kind, &kind_sweep);
    text = kind->canonical(spec);
    ck_assert_ptr_nonnull(strstr(text, "\"family\":\"quadratic\""));
    free(text);
    kind->free_spec(spec);

    kind = parse(STUDY, &spec, &rc);
    ck_assert_int_eq(rc, CODEC_OK);
    ck_assert_ptr_eq(kind, &kind_study);
    text = kind->canonical(spec);
    ck_assert_ptr_nonnull(strstr(text, "\"vary\""));
    free(text);
    kind->free_spec(spec);

    /* not JSON: the sweep's noun; a bad study: the study's */
    kind = parse("{", &spec, &rc);
    ck_assert_int_eq(rc, CODEC_EJSON);
    ck_assert_ptr_null(spec);
    ck_assert_str_eq(kind->noun, "spec");
    kind = parse("{\"vary\":{\"model.colour\":[1]}}", &spec, &rc);
    ck_assert_int_eq(rc, CODEC_EINVALID);
    ck_assert_ptr_null(spec);
    ck_assert_str_eq(kind->noun, "study");
    ck_assert_ptr_eq(kind_by_name("sweep"), &kind_sweep);
    ck_assert_ptr_eq(kind_by_name("study"), &kind_study);
    ck_assert_ptr_null(kind_by_name("nn_map"));
}
END_TEST

START_TEST(job_resource_kind)
{
    struct job j;
    json_t *o;

    memset(&j, 0, sizeof j);
    j.id = 3;
    j.status = JOB_QUEUED;
    strcpy(j.kind, "sweep");
    o = kind_view_job(NULL, &j, view_job(&j, 0, 0));
    ck_assert_str_eq(json_string_value(json_object_get(o, "kind")), "sweep");
    json_decref(o);
    /* a kind this binary does not know: named, nothing added */
    strcpy(j.kind, "nn_map");
    o = kind_view_job(NULL, &j, view_job(&j, 0, 0));
    ck_assert_str_eq(json_string_value(json_object_get(o, "kind")), "nn_map");
    ck_assert_ptr_null(json_object_get(json_object_get(o, "links"), "cells"));
    json_decref(o);
    ck_assert_ptr_null(kind_view_job(NULL, &j, NULL));
}
END_TEST

START_TEST(views)
{
    struct job j;
    struct codec_spec spec;
    char detail[256];

    memset(&j, 0, sizeof j);
    j.id = 9;
    j.spec_json = (char *)SWEEP;
    ck_assert_ptr_nonnull(kind_sweep.grid_spec);
    ck_assert_ptr_null(kind_sweep.cells);
    ck_assert_int_eq(kind_sweep.grid_spec(&j, &spec), 0);
    ck_assert_int_eq(spec.core.axes[0].levels, 8);
    codec_spec_free(&spec);
    j.spec_json = (char *)"{";
    ck_assert_int_eq(kind_sweep.grid_spec(&j, &spec), KIND_ESPEC);
    kind_sweep.no_view(&j, "cells", detail, sizeof detail);
    ck_assert_str_eq(detail, "job 9 is a sweep, not a study: it has no cells");

    ck_assert_ptr_null(kind_study.grid_spec);
    ck_assert_ptr_nonnull(kind_study.cells);
    kind_study.no_view(&j, "boundary", detail, sizeof detail);
    ck_assert_str_eq(detail, "job 9 is a study: its dimensions are per cell, at /v1/jobs/9/cells");
}
END_TEST

/* A runner on this thread, in one tile per call. */
static int one_thread(void *user, kind_tile_fn *tile, void *tile_user, uint64_t first, uint64_t n,
                      uint64_t *labels, uint64_t *lane_steps)
{
    struct tb_tile_stats st;
    int rc;

    (*(int *)user)++;
    memset(&st, 0, sizeof st);
    rc = tile(tile_user, first, n, labels, NULL, NULL, NULL, &st);
    *lane_steps += st.lane_steps;
    return rc;
}

START_TEST(run_local_sweep)
{
    struct kind_spec *spec;
    struct kind_local env;
    struct kind_local_out out;
    int rc, runs = 0;
    json_t *doc, *stats;

    parse(SWEEP, &spec, &rc);
    memset(&env, 0, sizeof env);
    env.run = one_thread;
    env.user = &runs;
    env.precision = -1;
    env.threads = 1;
    env.want_labels = 1;
    ck_assert_int_eq(kind_sweep.run_local(spec, &env, &out), 0);
    ck_assert_int_eq(runs, 1);
    doc = json_loads(out.result, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "points")), 257);
    ck_assert_ptr_nonnull(out.labels);
    ck_assert_uint_eq(out.n_labels, 257);
    ck_assert_ptr_null(out.csv);
    stats = json_loads(out.stats, 0, NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(stats, "points")), 257);
    json_decref(stats);
    json_decref(doc);
    free(out.result);
    free(out.labels);

    env.want_csv = 1; /* a sweep has no table */
    ck_assert_int_eq(kind_sweep.run_local(spec, &env, &out), KIND_ENOCSV);
    ck_assert_ptr_null(out.result);
    kind_sweep.free_spec(spec);
}
END_TEST

static Suite *kind_suite(void)
{
    Suite *s = suite_create("work/kind");
    TCase *tc = tcase_create("table");

    tcase_add_test(tc, parse_body);
    tcase_add_test(tc, job_resource_kind);
    tcase_add_test(tc, views);
    tcase_add_test(tc, run_local_sweep);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kind_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
