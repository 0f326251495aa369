/*
 * test_study.c - unit tests of service/work/study.c: every error of a study spec
 * with its path and message (unknown parameter, empty list, too many
 * parameters, zip lengths, integer parameters, linspace/logspace forms, a
 * value that makes a cell invalid, the cost over all cells), numpy's
 * linspace and logspace semantics, the order of the cells (product: the
 * first axis is the row; zip), study_cell_value(), the canonical study and
 * its stability, the study table as JSON and CSV built from analyses of
 * small real sweeps, and study_analyze() over a source (duplicates
 * analysed once, a failing cell). Single-threaded; Check forks each test.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "codec.h"
#include "jsonfmt.h"
#include "study.h"
#include "tb.h"

/* A valid base: everything but "vary" (and the closing brace). */
#define MUL "{\"model\":{\"family\":\"multiplicative\",\"amplitude\":0.2,\"wavelength\":0.1}"
#define QUAD "{\"model\":{\"family\":\"quadratic\"}"

/* ---- helpers ------------------------------------------------------------- */

static int parse_lim(const char *text, const struct codec_limits *lim, struct study *st,
                     struct codec_errors *e)
{
    return study_parse(text, strlen(text), lim, st, e);
}

static void dump_errors(const struct codec_errors *e)
{
    int i;

    for (i = 0; i < e->n; i++)
        fprintf(stderr, "    got: %s (%s): %s\n", e->e[i].path, e->e[i].pointer, e->e[i].message);
}

static int count_path(const struct codec_errors *e, const char *path)
{
    int i, n = 0;

    for (i = 0; i < e->n; i++)
        n += strcmp(e->e[i].path, path) == 0;
    return n;
}

static const struct codec_error *find_error(const struct codec_errors *e, const char *path)
{
    int i;

    for (i = 0; i < e->n; i++)
        if (strcmp(e->e[i].path, path) == 0)
            return &e->e[i];
    return NULL;
}

/* Parses text under lim (NULL: defaults); asserts it is invalid with the
 * error (path, msg), and that a failed parse leaves nothing to free. */
static void expect_error_lim(const char *text, const struct codec_limits *lim, const char *path,
                             const char *msg)
{
    struct study st;
    struct codec_errors e;
    const struct codec_error *found;
    int rc = parse_lim(text, lim, &st, &e);

    found = find_error(&e, path);
    if (rc != CODEC_EINVALID || !found || strcmp(found->message, msg) != 0) {
        fprintf(stderr, "study: %s\n  want: %s: %s (rc %d)\n", text, path, msg, rc);
        dump_errors(&e);
    }
    ck_assert_int_eq(rc, CODEC_EINVALID);
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(found->message, msg);
    ck_assert_int_eq(st.n_axes, 0);
    ck_assert_uint_eq(st.n_cells, 0);
    ck_assert_ptr_null(st.cells);
    ck_assert_ptr_null(st.canonical);
}

static void expect_error(const char *text, const char *path, const char *msg)
{
    expect_error_lim(text, NULL, path, msg);
}

static struct study parse_ok_lim(const char *text, const struct codec_limits *lim)
{
    struct study st;
    struct codec_errors e;
    int rc = parse_lim(text, lim, &st, &e);

    if (rc != CODEC_OK) {
        fprintf(stderr, "study: %s\n", text);
        dump_errors(&e);
    }
    ck_assert_int_eq(rc, CODEC_OK);
    ck_assert_ptr_nonnull(st.canonical);
    return st;
}

static struct study parse_ok(const char *text)
{
    return parse_ok_lim(text, NULL);
}

static json_t *load_json(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);

    ck_assert_msg(j != NULL, "not JSON: %s", err.text);
    return j;
}

/* 1 when s is valid UTF-8 (jansson checks it) without control characters. */
static int clean(const char *s)
{
    json_t *j;
    size_t i;

    for (i = 0; s[i]; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7F)
            return 0;
    j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* ---- detection and errors ------------------------------------------------- */

START_TEST(test_is_study)
{
    static const char yes[] = MUL ",\"vary\":{\"steps\":[1]}}";
    static const char no[] = MUL "}";
    static const char bad[] = "{\"vary\":";
    struct study st;
    struct codec_errors e;

    ck_assert_int_eq(study_is_study(yes, strlen(yes)), 1);
    ck_assert_int_eq(study_is_study(no, strlen(no)), 0);
    ck_assert_int_eq(study_is_study(bad, strlen(bad)), 0);
    ck_assert_int_eq(study_is_study("[1]", 3), 0);

    /* Not a study at all, and not JSON at all. */
    expect_error(no, "vary", "a study needs a \"vary\" object");
    ck_assert_int_eq(parse_lim(bad, NULL, &st, &e), CODEC_EJSON);
    ck_assert_int_eq(e.n, 1);
    ck_assert_str_eq(e.e[0].path, "");
    ck_assert_ptr_nonnull(strstr(e.e[0].message, "invalid JSON at line 1"));
    ck_assert_ptr_null(st.canonical);
}
END_TEST

START_TEST(test_unknown_parameter)
{
    struct study st;
    struct codec_errors e;
    const char *text = MUL ",\"vary\":{\"model.colour\":[1]}}";

    expect_error(text, "vary.model.colour",
                 "unknown parameter (one of model.amplitude, model.wavelength, model.dim, x0, "
                 "steps, divergence.threshold)");
    ck_assert_int_eq(parse_lim(text, NULL, &st, &e), CODEC_EINVALID);
    ck_assert_str_eq(e.e[0].pointer, "/vary/model.colour");
    /* lr.levels is a spec member but not a study parameter */
    expect_error(MUL ",\"vary\":{\"lr.levels\":[1, 2]}}", "vary.lr.levels",
                 "unknown parameter (one of model.amplitude, model.wavelength, model.dim, x0, "
                 "steps, divergence.threshold)");
}
END_TEST

/* Keys with control characters, '/' and '~', or too long for a path, give
 * clean UTF-8 errors and a well-formed JSON pointer (a fuzzing finding). */
START_TEST(test_unknown_parameter_odd_key)
{
    char text[1024], key[400];
    struct study st;
    struct codec_errors e;
    size_t i;

    ck_assert_int_eq(parse_lim(MUL ",\"vary\":{\"a\\u0001/~b\":[1]}}", NULL, &st, &e),
                     CODEC_EINVALID);
    ck_assert_int_eq(e.n, 1);
    ck_assert_str_eq(e.e[0].path, "vary.a?/~b");
    ck_assert_str_eq(e.e[0].pointer, "/vary/a?~1~0b");

    /* 150 two-byte characters: the path is cut, never inside a character */
    for (i = 0; i < 150; i++)
        memcpy(key + 2 * i, "\xc3\xa9", 2);
    key[300] = '\0';
    snprintf(text, sizeof text, MUL ",\"vary\":{\"%s\":[1]}}", key);
    ck_assert_int_eq(parse_lim(text, NULL, &st, &e), CODEC_EINVALID);
    ck_assert_int_eq(e.n, 1);
    ck_assert_msg(clean(e.e[0].path), "path not clean: %s", e.e[0].path);
    ck_assert_msg(clean(e.e[0].pointer), "pointer not clean: %s", e.e[0].pointer);
    ck_assert_msg(clean(e.e[0].message), "message not clean");
    ck_assert_int_eq(strncmp(e.e[0].path, "vary.\xc3\xa9", 7), 0);
}
END_TEST

START_TEST(test_vary_shape)
{
    expect_error(MUL ",\"vary\":{}}", "vary", "must be an object naming 1 or 2 parameters");
    expect_error(MUL ",\"vary\":[1]}", "vary", "must be an object naming 1 or 2 parameters");
    expect_error(MUL ",\"vary\":{\"model.amplitude\":[0.1],\"model.wavelength\":[1],"
                     "\"x0\":[1]}}",
                 "vary", "must be an object naming 1 or 2 parameters");
    expect_error(MUL ",\"vary\":{\"model.amplitude\":[]}}", "vary.model.amplitude",
                 "must list 1..1000 values");
    expect_error(MUL ",\"vary\":{\"model.amplitude\":0.1}}", "vary.model.amplitude",
                 "must be a list of numbers, {\"linspace\": [a, b, n]} or {\"logspace\": "
                 "[a, b, n]}");
    expect_error(MUL ",\"vary\":{\"x0\":[1,\"2\"]}}", "vary.x0[1]", "must be a number");
    expect_error(MUL ",\"vary\":{\"x0\":[1]},\"combine\":\"diagonal\"}", "combine",
                 "must be \"product\" or \"zip\"");
}
END_TEST

START_TEST(test_too_many_values)
{
    char *text = malloc(8192);
    size_t n;
    int i;

    ck_assert_ptr_nonnull(text);
    n = (size_t)snprintf(text, 8192, MUL ",\"vary\":{\"x0\":[");
    for (i = 0; i < 1001; i++)
        n += (size_t)snprintf(text + n, 8192 - n, "%s1", i ? "," : "");
    snprintf(text + n, 8192 - n, "]}}");
    expect_error(text, "vary.x0", "must list 1..1000 values");
    free(text);
    expect_error(MUL ",\"vary\":{\"x0\":{\"linspace\":[0, 1, 1001]}}}", "vary.x0",
                 "the count must be an integer in 1..1000");
    /* 200 x 100 cells: each axis is fine, the product is not */
    expect_error(QUAD ",\"lr\":{\"levels\":0},\"steps\":1,\"vary\":{"
                      "\"x0\":{\"linspace\":[0, 1, 200]},"
                      "\"divergence.threshold\":{\"linspace\":[1, 2, 100]}}}",
                 "vary", "makes 20000 cells, more than the limit of 10000");
}
END_TEST

START_TEST(test_zip_length)
{
    expect_error(MUL ",\"vary\":{\"model.amplitude\":[0.1,0.2],\"model.wavelength\":[1,2,3]},"
                     "\"combine\":\"zip\"}",
                 "combine", "zip needs axes of the same length (2 and 3)");
}
END_TEST

START_TEST(test_integer_params)
{
    expect_error(QUAD ",\"vary\":{\"steps\":[10, 1.5]}}", "vary.steps[1]", "must be an integer");
    expect_error(QUAD ",\"vary\":{\"model.dim\":[1, 2.0]}}", "vary.model.dim[1]",
                 "must be an integer");
    expect_error(QUAD ",\"vary\":{\"model.dim\":{\"linspace\":[1, 2, 3]}}}", "vary.model.dim",
                 "must give integers (value 1 is 1.5)");
    /* integers too large for any limit (or for a 64-bit integer once they
     * went through a double) are invalid cells, not undefined behaviour */
    expect_error(QUAD ",\"vary\":{\"steps\":[9223372036854775807]}}", "vary.steps[0]",
                 "must be an integer in 1..1000000");
    expect_error(QUAD ",\"vary\":{\"model.dim\":{\"linspace\":[1e300, 1e300, 1]}}}",
                 "vary.model.dim[0]", "must be an integer in 1..4096");

    /* a linspace of integers is fine */
    {
        struct study st = parse_ok(QUAD ",\"lr\":{\"levels\":2},"
                                        "\"vary\":{\"steps\":{\"linspace\":[10, 40, 4]}}}");
        ck_assert_uint_eq(st.n_cells, 4);
        ck_assert_int_eq(st.cells[0].core.steps, 10);
        ck_assert_int_eq(st.cells[3].core.steps, 40);
        study_free(&st);
    }
}
END_TEST

START_TEST(test_space_forms)
{
    expect_error(MUL ",\"vary\":{\"x0\":{\"linspace\":[0, 1]}}}", "vary.x0",
                 "linspace must be [start, stop, count] with an integer count");
    expect_error(MUL ",\"vary\":{\"x0\":{\"logspace\":[0, 1, 2.0]}}}", "vary.x0",
                 "logspace must be [start, stop, count] with an integer count");
    expect_error(MUL ",\"vary\":{\"x0\":{\"linspace\":[\"0\", 1, 2]}}}", "vary.x0",
                 "linspace must be [start, stop, count] with an integer count");
    expect_error(MUL ",\"vary\":{\"x0\":{\"linspace\":[0, 1, 0]}}}", "vary.x0",
                 "the count must be an integer in 1..1000");
    expect_error(MUL ",\"vary\":{\"x0\":{\"linspace\":[0, 1, 2],\"logspace\":[0, 1, 2]}}}",
                 "vary.x0",
                 "must be a list of numbers, {\"linspace\": [a, b, n]} or {\"logspace\": "
                 "[a, b, n]}");
    expect_error(MUL ",\"vary\":{\"x0\":{\"arange\":[0, 1, 2]}}}", "vary.x0",
                 "must be a list of numbers, {\"linspace\": [a, b, n]} or {\"logspace\": "
                 "[a, b, n]}");
    expect_error(MUL ",\"vary\":{\"divergence.threshold\":{\"logspace\":[0, 400, 2]}}}",
                 "vary.divergence.threshold", "gives a value that is not a finite number");
}
END_TEST

/* numpy.linspace(a, b, n): a + i * ((b - a) / (n - 1)), the last point b
 * exactly; numpy.logspace(a, b, n) = 10 ** linspace(a, b, n). */
START_TEST(test_linspace_logspace)
{
    struct study st;
    size_t i;

    st = parse_ok(MUL ",\"vary\":{\"model.amplitude\":{\"linspace\":[0.01, 0.2, 10]}}}");
    ck_assert_uint_eq(st.axes[0].n, 10);
    ck_assert_double_eq(st.axes[0].values[0], 0.01);
    ck_assert_double_eq(st.axes[0].values[9], 0.2);
    for (i = 0; i < 9; i++)
        ck_assert_double_eq(st.axes[0].values[i], 0.01 + (double)i * ((0.2 - 0.01) / 9.0));
    ck_assert_double_eq(st.cells[9].core.model.terms[0].amplitude, 0.2);
    study_free(&st);

    st = parse_ok(MUL ",\"vary\":{\"model.amplitude\":{\"logspace\":[-2, 0, 3]}}}");
    ck_assert_uint_eq(st.axes[0].n, 3);
    ck_assert_double_eq(st.axes[0].values[0], 0.01);
    ck_assert_double_eq(st.axes[0].values[1], 0.1);
    ck_assert_double_eq(st.axes[0].values[2], 1.0);
    study_free(&st);

    /* a single point is the start; a decreasing range works */
    st = parse_ok(MUL ",\"vary\":{\"x0\":{\"linspace\":[3, 7, 1]}}}");
    ck_assert_uint_eq(st.n_cells, 1);
    ck_assert_double_eq(st.axes[0].values[0], 3.0);
    study_free(&st);
    st = parse_ok(MUL ",\"vary\":{\"x0\":{\"linspace\":[1, 0, 5]}}}");
    ck_assert_double_eq(st.axes[0].values[0], 1.0);
    ck_assert_double_eq(st.axes[0].values[2], 0.5);
    ck_assert_double_eq(st.axes[0].values[4], 0.0);
    study_free(&st);

    /* logspace endpoints are 10^a and 10^b exactly */
    st = parse_ok(MUL ",\"vary\":{\"divergence.threshold\":{\"logspace\":[2, 8, 4]}}}");
    ck_assert_double_eq(st.axes[0].values[0], 100.0);
    ck_assert_double_eq(st.axes[0].values[1], 10000.0);
    ck_assert_double_eq(st.axes[0].values[3], 1e8);
    ck_assert_double_eq(st.cells[3].core.threshold, 1e8);
    study_free(&st);
}
END_TEST

/* A value that makes a cell invalid is reported at vary.<param>[i] with
 * the codec's message, once even when several cells hold it. */
START_TEST(test_cell_invalid)
{
    struct study st;
    struct codec_errors e;
    const struct codec_error *f;

    expect_error(MUL ",\"vary\":{\"model.amplitude\":[0.1, -1, 0.3]}}", "vary.model.amplitude[1]",
                 "must be a finite number >= 0");
    ck_assert_int_eq(parse_lim(MUL ",\"vary\":{\"model.amplitude\":[0.1, 0.2],"
                                   "\"model.wavelength\":[1, 0, 2]}}",
                               NULL, &st, &e),
                     CODEC_EINVALID);
    ck_assert_int_eq(count_path(&e, "vary.model.wavelength[1]"), 1);
    ck_assert_int_eq(e.n, 1);
    f = find_error(&e, "vary.model.wavelength[1]");
    ck_assert_str_eq(f->pointer, "/vary/model.wavelength/1");
    ck_assert_str_eq(f->message, "must be a finite number > 0");

    expect_error(QUAD ",\"vary\":{\"model.dim\":[1, 5000]}}", "vary.model.dim[1]",
                 "must be an integer in 1..4096");
    expect_error(QUAD ",\"vary\":{\"model.amplitude\":[1]}}", "vary.model.amplitude[0]",
                 "not used by the quadratic family");
    /* a problem of the base spec is reported at its own path, once */
    ck_assert_int_eq(parse_lim(QUAD ",\"colour\":1,\"vary\":{\"x0\":[1, 2, 3]}}", NULL, &st, &e),
                     CODEC_EINVALID);
    ck_assert_int_eq(e.n, 1);
    ck_assert_str_eq(e.e[0].path, "colour");
    ck_assert_str_eq(e.e[0].message, "unknown field");
}
END_TEST

/* Every cell is under the limit; their sum is not. */
START_TEST(test_cost_limit)
{
    struct codec_limits lim;
    struct study st;
    struct codec_errors e;
    const char *text = QUAD ",\"lr\":{\"levels\":4},\"vary\":{\"steps\":[10, 20, 30]}}";

    codec_limits_default(&lim);
    lim.max_cost = 17.0 * 60.0; /* (2^4 + 1) * (10 + 20 + 30) */
    st = parse_ok_lim(text, &lim);
    ck_assert_double_eq(st.cost, 17.0 * 60.0);
    study_free(&st);

    lim.max_cost = 17.0 * 60.0 - 1.0;
    expect_error_lim(text, &lim, "vary",
                     "the study costs 1020 point-steps over 3 cells, more than the limit of 1019");

    /* one cell over the limit by itself: the codec's error at lr.levels,
     * naming the cell */
    lim.max_cost = 17.0 * 25.0;
    ck_assert_int_eq(parse_lim(text, &lim, &st, &e), CODEC_EINVALID);
    ck_assert_int_eq(e.n, 1);
    ck_assert_str_eq(e.e[0].path, "lr.levels");
    ck_assert_str_eq(e.e[0].message, "the sweep would cost (2^4 + 1) * 30 steps = 510 steps, "
                                     "over the limit of 425: lower lr.levels or steps (in cell 2)");
    ck_assert_ptr_null(st.cells);
}
END_TEST

/* ---- cells ----------------------------------------------------------------- */

/* Product: the first vary member is the row, the second the column. */
START_TEST(test_product_order)
{
    struct study st = parse_ok(MUL ",\"vary\":{\"model.wavelength\":[0.5, 1, 2],"
                                   "\"model.amplitude\":[0.1, 0.2]}}");
    static const double lam[] = {0.5, 0.5, 1, 1, 2, 2}, eps[] = {0.1, 0.2, 0.1, 0.2, 0.1, 0.2};
    size_t i;

    ck_assert_int_eq(st.n_axes, 2);
    ck_assert_int_eq(st.zip, 0);
    ck_assert_int_eq(st.axes[0].param, STUDY_WAVELENGTH);
    ck_assert_str_eq(st.axes[0].name, "model.wavelength");
    ck_assert_int_eq(st.axes[1].param, STUDY_AMPLITUDE);
    ck_assert_uint_eq(st.n_cells, 6);
    for (i = 0; i < 6; i++) {
        ck_assert_double_eq(st.cells[i].core.model.terms[0].wavelength, lam[i]);
        ck_assert_double_eq(st.cells[i].core.model.terms[0].amplitude, eps[i]);
        ck_assert_double_eq(study_cell_value(&st, i, 0), lam[i]);
        ck_assert_double_eq(study_cell_value(&st, i, 1), eps[i]);
        ck_assert_ptr_nonnull(st.cell_canonical[i]);
    }
    ck_assert_double_eq(st.cost, 6.0 * (1048577.0 * 1000.0));
    study_free(&st);
}
END_TEST

START_TEST(test_zip_order)
{
    struct study st = parse_ok(QUAD ",\"vary\":{\"model.dim\":[1, 2, 4],"
                                    "\"x0\":[1, 0.5, 0.25]},\"combine\":\"zip\"}");
    size_t i;

    ck_assert_int_eq(st.zip, 1);
    ck_assert_uint_eq(st.n_cells, 3);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(st.cells[i].core.model.dim, 1 << i);
        ck_assert_double_eq(st.cells[i].core.x0_scalar, 1.0 / (double)(1 << i));
        ck_assert_double_eq(study_cell_value(&st, i, 0), (double)(1 << i));
        ck_assert_double_eq(study_cell_value(&st, i, 1), 1.0 / (double)(1 << i));
        /* the default threshold follows the cell's dim */
        ck_assert_double_eq(st.cells[i].core.threshold, 1e8 * (double)(1 << i));
    }
    study_free(&st);
}
END_TEST

/* Cells are the base with the values written in: a missing parent object
 * is created, and every other member comes from the base. */
START_TEST(test_cell_contents)
{
    struct study st = parse_ok("{\"name\":\"n\",\"model\":{\"family\":\"additive\","
                               "\"amplitude\":0.2,\"wavelength\":0.1},\"steps\":7,"
                               "\"lr\":{\"levels\":3},"
                               "\"vary\":{\"divergence.threshold\":[5, 6]}}");

    ck_assert_uint_eq(st.n_cells, 2);
    ck_assert_str_eq(st.name, "n");
    ck_assert_double_eq(st.cells[0].core.threshold, 5.0);
    ck_assert_double_eq(st.cells[1].core.threshold, 6.0);
    ck_assert_int_eq(st.cells[1].core.steps, 7);
    ck_assert_int_eq(st.cells[1].core.axes[0].levels, 3);
    ck_assert_int_eq(st.cells[1].core.model.family, TB_ADDITIVE);
    ck_assert_ptr_nonnull(strstr(st.cell_canonical[1], "\"threshold\":6.0"));
    study_free(&st);
}
END_TEST

/* ---- canonical --------------------------------------------------------------- */

static char *canonical_of(const char *text)
{
    struct study st = parse_ok(text);
    char *c = strdup(st.canonical);

    ck_assert_ptr_nonnull(c);
    study_free(&st);
    return c;
}

START_TEST(test_canonical)
{
    static const char *const texts[] = {
        MUL ",\"vary\":{\"model.amplitude\":{\"linspace\":[0.01, 0.2, 10]}}}",
        MUL ",\"vary\":{\"model.amplitude\":{\"logspace\":[-2, 0, 7]},"
            "\"model.wavelength\":[0.1, 0.3]}}",
        QUAD ",\"vary\":{\"model.dim\":[1, 2],\"x0\":[1, 0.5]},\"combine\":\"zip\"}",
        "{\"name\":\"\xc3\xa9t\xc3\xa9\",\"model\":{\"family\":\"additive\",\"terms\":"
        "[{\"amplitude\":0.1,\"wavelength\":1},{\"amplitude\":0.2,\"wavelength\":2}]},"
        "\"lr\":{\"min\":0.1,\"max\":1.1,\"levels\":3},\"vary\":{\"steps\":[3, 1, 2]}}",
    };
    size_t i;

    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char *c1 = canonical_of(texts[i]), *c2 = canonical_of(c1), *c3 = canonical_of(c2);
        ck_assert_str_eq(c1, c2);
        ck_assert_str_eq(c2, c3);
        free(c1);
        free(c2);
        free(c3);
    }

    /* values written out as lists, the default combine, keys sorted */
    {
        char *c = canonical_of(MUL ",\"vary\":{\"model.amplitude\":{\"logspace\":[-2, 0, 3]}}}");
        json_t *j = load_json(c);
        json_t *vals = json_object_get(json_object_get(j, "vary"), "model.amplitude");

        ck_assert_str_eq(json_string_value(json_object_get(j, "combine")), "product");
        ck_assert_uint_eq(json_array_size(vals), 3);
        ck_assert_double_eq(json_real_value(json_array_get(vals, 0)), 0.01);
        ck_assert_double_eq(json_real_value(json_array_get(vals, 2)), 1.0);
        ck_assert_int_eq(strncmp(c, "{\"combine\":\"product\",\"model\":", 29), 0);
        json_decref(j);
        free(c);
    }
    /* the same study said two ways: the same canonical text */
    {
        char *a = canonical_of(MUL ",\"vary\":{\"steps\":{\"linspace\":[10, 30, 3]}}}");
        char *b = canonical_of(MUL ",\"combine\":\"product\",\"vary\":{\"steps\":[10, 20, 30]}}");
        ck_assert_str_eq(a, b);
        ck_assert_ptr_nonnull(strstr(a, "\"steps\":[10,20,30]"));
        free(a);
        free(b);
    }
}
END_TEST

/* ---- the table ----------------------------------------------------------------- */

/* Additive, lam = 1, x0 = 5, loss sum 1e16 (the CLI's study): theta = eps,
 * with cells on both sides of theta_c = 1/(2 pi^2). */
#define TABLE_STUDY                                                                                \
    "{\"name\":\"t\",\"model\":{\"family\":\"additive\",\"amplitude\":0.01,\"wavelength\":1},"     \
    "\"x0\":5,\"divergence\":{\"criterion\":\"loss_sum\",\"threshold\":1e16},"                     \
    "\"lr\":{\"levels\":12},\"precision\":\"fast\","                                               \
    "\"vary\":{\"model.amplitude\":{\"logspace\":[-2, 0, 5]}}}"

/* Sweeps and analyses every cell; caller frees with free_analyses(). */
static struct codec_analysis *analyse_all(const struct study *st)
{
    struct codec_analysis *an = calloc(st->n_cells, sizeof *an);
    size_t i;

    ck_assert_ptr_nonnull(an);
    for (i = 0; i < st->n_cells; i++) {
        const struct tb_spec *c = &st->cells[i].core;
        uint64_t n = tb_grid_points(c), *labels = calloc(tb_label_words(n), sizeof *labels);

        ck_assert_ptr_nonnull(labels);
        ck_assert_int_eq(tb_sweep_tile(c, 0, n, labels, NULL, NULL, NULL, NULL), TB_OK);
        ck_assert_int_eq(codec_analyze(&st->cells[i], labels, &an[i]), CODEC_OK);
        free(labels);
    }
    return an;
}

static void free_analyses(const struct study *st, struct codec_analysis *an)
{
    size_t i;

    for (i = 0; i < st->n_cells; i++)
        codec_analysis_free(&an[i]);
    free(an);
}

START_TEST(test_result_encode)
{
    struct study st = parse_ok(TABLE_STUDY);
    struct codec_analysis *an = analyse_all(&st);
    int reused[5] = {0, 0, 1, 0, 1};
    double trans = INFINITY;
    size_t i, fractal = 0;
    char *text = study_result_encode(&st, an, reused, 2.5), *row;
    json_t *j, *rows, *sum, *r;

    ck_assert_ptr_nonnull(text);
    j = load_json(text);
    for (i = 0; i < st.n_cells; i++)
        if (an[i].fit.fractal) {
            fractal++;
            if (an[i].roughness.theta < trans)
                trans = an[i].roughness.theta;
        }
    /* the study is only a good test with cells on both sides */
    ck_assert_uint_gt(fractal, 0);
    ck_assert_uint_lt(fractal, st.n_cells);

    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "study");
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "t");
    ck_assert_str_eq(json_string_value(json_object_get(j, "combine")), "product");
    ck_assert_double_eq(json_real_value(json_object_get(j, "elapsed_s")), 2.5);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "axes")), 1);
    ck_assert_uint_eq(
        json_array_size(json_object_get(json_array_get(json_object_get(j, "axes"), 0), "values")),
        5);
    rows = json_object_get(j, "cells");
    ck_assert_uint_eq(json_array_size(rows), 5);
    for (i = 0; i < 5; i++) {
        r = json_array_get(rows, i);
        ck_assert_int_eq(json_integer_value(json_object_get(r, "index")), (json_int_t)i);
        ck_assert_double_eq(
            json_real_value(json_object_get(json_object_get(r, "params"), "model.amplitude")),
            study_cell_value(&st, i, 0));
        ck_assert_double_eq(json_real_value(json_object_get(r, "theta")), an[i].roughness.theta);
        ck_assert_int_eq(json_is_true(json_object_get(r, "fractal")), an[i].fit.fractal);
        ck_assert_int_eq(json_is_true(json_object_get(r, "reused")), reused[i]);
        ck_assert_int_eq(json_integer_value(json_object_get(r, "transitions")),
                         (json_int_t)an[i].counts[12]);
        ck_assert_uint_eq(json_array_size(json_object_get(r, "counts")), 13);
        ck_assert_ptr_nonnull(json_object_get(r, "D"));
    }
    sum = json_object_get(j, "summary");
    ck_assert_int_eq(json_integer_value(json_object_get(sum, "cells")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(sum, "fractal_cells")),
                     (json_int_t)fractal);
    ck_assert_int_eq(json_integer_value(json_object_get(sum, "reused_cells")), 2);
    ck_assert_double_eq(json_real_value(json_object_get(sum, "transition_theta")), trans);
    ck_assert_double_eq_tol(json_real_value(json_object_get(sum, "transition_ratio")),
                            trans * 2.0 * M_PI * M_PI, 1e-12);
    ck_assert_double_eq_tol(json_real_value(json_object_get(sum, "theta_c")),
                            1.0 / (2.0 * M_PI * M_PI), 1e-15);
    /* the spec member is the canonical study */
    {
        char *spec = jsonfmt_dumps(json_object_get(j, "spec"), JSON_COMPACT | JSON_SORT_KEYS);
        ck_assert_str_eq(spec, st.canonical);
        free(spec);
    }
    json_decref(j);
    free(text);

    /* one row by itself is the same object as in the table */
    row = study_row_encode(&st, 3, &an[3], 0);
    ck_assert_ptr_nonnull(row);
    j = load_json(row);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "index")), 3);
    ck_assert_int_eq(json_is_false(json_object_get(j, "reused")), 1);
    json_decref(j);
    free(row);

    /* no reused array: nothing is reused */
    text = study_result_encode(&st, an, NULL, 0.0);
    j = load_json(text);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(j, "summary"), "reused_cells")), 0);
    json_decref(j);
    free(text);
    free_analyses(&st, an);
    study_free(&st);
}
END_TEST

/* A multiplicative study has no transition ratio (no theta_c). */
START_TEST(test_result_multiplicative)
{
    struct study st = parse_ok(MUL ",\"lr\":{\"levels\":8},\"steps\":200,"
                                   "\"vary\":{\"model.amplitude\":[0.1, 0.2]}}");
    struct codec_analysis *an = analyse_all(&st);
    char *text = study_result_encode(&st, an, NULL, 0.0);
    json_t *j = load_json(text), *sum = json_object_get(j, "summary");

    ck_assert_ptr_nonnull(json_object_get(sum, "transition_ratio"));
    ck_assert_int_eq(json_is_null(json_object_get(sum, "transition_ratio")), 1);
    ck_assert_int_eq(
        json_is_null(json_object_get(json_array_get(json_object_get(j, "cells"), 0), "critical")),
        1);
    json_decref(j);
    free(text);
    free_analyses(&st, an);
    study_free(&st);
}
END_TEST

START_TEST(test_csv)
{
    struct study st = parse_ok(TABLE_STUDY);
    struct codec_analysis *an = analyse_all(&st);
    int reused[5] = {0, 1, 0, 0, 0};
    char *csv = study_csv(&st, an, reused), *line, *save = NULL, field[64];
    char num[JSONFMT_NUMBER_MAX];
    const char *header =
        "index,model.amplitude,theta,critical,convex,D,stderr,r2,fractal,"
        "levels_used,transitions,divergent_fraction,reused,replicates,D_mean,D_std,"
        "D_min,D_max,B0,B1,B2,B3,B4,B5,"
        "B6,B7,B8,B9,B10,B11,B12";
    size_t lines = 0, i;

    ck_assert_ptr_nonnull(csv);
    for (i = 0; csv[i]; i++)
        lines += csv[i] == '\n';
    ck_assert_uint_eq(lines, 6);
    ck_assert_int_eq(strncmp(csv, header, strlen(header)), 0);
    ck_assert_int_eq(csv[strlen(header)], '\n');

    line = strtok_r(csv, "\n", &save); /* the header */
    for (i = 0; i < 5; i++) {
        const char *p;
        int col;

        line = strtok_r(NULL, "\n", &save);
        ck_assert_ptr_nonnull(line);
        /* index, the parameter in its shortest exact form (as in the JSON),
         * ..., reused (column 12) */
        jsonfmt_number(study_cell_value(&st, i, 0), num);
        ck_assert(strtod(num, NULL) == study_cell_value(&st, i, 0));
        snprintf(field, sizeof field, "%.17g", study_cell_value(&st, i, 0));
        ck_assert_uint_le(strlen(num), strlen(field));
        snprintf(field, sizeof field, "%zu,%s,", i, num);
        ck_assert_msg(strncmp(line, field, strlen(field)) == 0, "%s: want %s", line, field);
        for (p = line, col = 0; col < 12; p++)
            col += *p == ',';
        ck_assert_int_eq(strncmp(p, reused[i] ? "true," : "false,", reused[i] ? 5 : 6), 0);
        /* the last column is B12 = the transitions */
        snprintf(field, sizeof field, ",%llu", (unsigned long long)an[i].counts[12]);
        ck_assert_str_eq(strrchr(line, ','), field);
    }
    free(csv);
    free_analyses(&st, an);
    study_free(&st);
}
END_TEST

/* study_analyze()'s source for the tests: analyses cells with real sweeps,
 * takes duplicates by study_dup_of(), and counts what it was asked. */
struct fake_source {
    const struct study *st;
    int analyzed[8];
    int fail_at; /* -1: none; else analyze() of that cell fails with 1 */
    int asked_elapsed;
};

static int fake_cell(void *user, size_t i, int64_t *dup_of, int *reused)
{
    struct fake_source *f = user;

    *dup_of = (int64_t)study_dup_of(f->st, i);
    *reused = *dup_of >= 0;
    return 0;
}

static int fake_analyze(void *user, size_t i, struct codec_analysis *an, char *reason, size_t cap)
{
    struct fake_source *f = user;
    const struct tb_spec *c = &f->st->cells[i].core;
    uint64_t n = tb_grid_points(c), *labels;

    f->analyzed[i]++;
    if ((int)i == f->fail_at) {
        snprintf(reason, cap, "cell %zu failed", i);
        return 1;
    }
    labels = calloc(tb_label_words(n), sizeof *labels);
    ck_assert_ptr_nonnull(labels);
    ck_assert_int_eq(tb_sweep_tile(c, 0, n, labels, NULL, NULL, NULL, NULL), TB_OK);
    ck_assert_int_eq(codec_analyze(&f->st->cells[i], labels, an), CODEC_OK);
    free(labels);
    return 0;
}

static double fake_elapsed(void *user)
{
    ((struct fake_source *)user)->asked_elapsed++;
    return 2.5;
}

/* The CLI's and the server's study analysis: a duplicate is analysed once
 * and shares its original's row (reused), the result and the table are
 * what study_result_encode() and study_csv() make of the same analyses,
 * and a failing cell stops it with the source's reason. */
START_TEST(test_analyze)
{
    struct study st = parse_ok(MUL ",\"lr\":{\"levels\":8},\"precision\":\"fast\","
                                   "\"vary\":{\"model.amplitude\":[0.2, 0.1, 0.2, 0.1, 0.05]}}");
    struct fake_source f = {&st, {0}, -1, 0};
    struct study_source src = {fake_cell, fake_analyze, fake_elapsed, &f};
    struct codec_analysis *an;
    int reused[5] = {0, 0, 1, 1, 0};
    char *result, *csv, *want, reason[64];
    json_t *j;

    ck_assert_int_eq((int)study_dup_of(&st, 0), -1);
    ck_assert_int_eq((int)study_dup_of(&st, 2), 0);
    ck_assert_int_eq((int)study_dup_of(&st, 3), 1);
    ck_assert_int_eq((int)study_dup_of(&st, 4), -1);
    ck_assert_int_eq(study_analyze(&st, &src, &result, &csv, reason, sizeof reason), 0);
    ck_assert_int_eq(f.analyzed[0] + f.analyzed[1] + f.analyzed[4], 3);
    ck_assert_int_eq(f.analyzed[2] + f.analyzed[3], 0);
    ck_assert_int_eq(f.asked_elapsed, 1);
    an = analyse_all(&st);
    want = study_result_encode(&st, an, reused, 2.5);
    ck_assert_str_eq(result, want);
    free(want);
    want = study_csv(&st, an, reused);
    ck_assert_str_eq(csv, want);
    free(want);
    free_analyses(&st, an);
    j = load_json(result);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(j, "summary"), "reused_cells")), 2);
    json_decref(j);
    free(result);
    free(csv);

    /* no table asked for; then a cell that fails */
    ck_assert_int_eq(study_analyze(&st, &src, &result, NULL, reason, sizeof reason), 0);
    free(result);
    f.fail_at = 4;
    ck_assert_int_eq(study_analyze(&st, &src, &result, &csv, reason, sizeof reason), 1);
    ck_assert_ptr_null(result);
    ck_assert_ptr_null(csv);
    ck_assert_str_eq(reason, "cell 4 failed");
    study_free(&st);
}
END_TEST

static Suite *study_suite(void)
{
    Suite *s = suite_create("study");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, test_is_study);
    tcase_add_test(tc, test_unknown_parameter);
    tcase_add_test(tc, test_unknown_parameter_odd_key);
    tcase_add_test(tc, test_vary_shape);
    tcase_add_test(tc, test_too_many_values);
    tcase_add_test(tc, test_zip_length);
    tcase_add_test(tc, test_integer_params);
    tcase_add_test(tc, test_space_forms);
    tcase_add_test(tc, test_linspace_logspace);
    tcase_add_test(tc, test_cell_invalid);
    tcase_add_test(tc, test_cost_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("cells");
    tcase_add_test(tc, test_product_order);
    tcase_add_test(tc, test_zip_order);
    tcase_add_test(tc, test_cell_contents);
    tcase_add_test(tc, test_canonical);
    suite_add_tcase(s, tc);

    tc = tcase_create("table");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_result_encode);
    tcase_add_test(tc, test_result_multiplicative);
    tcase_add_test(tc, test_csv);
    tcase_add_test(tc, test_analyze);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(study_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
