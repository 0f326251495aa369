/*
 * test_codec.c - unit tests of service/format/codec.c: spec defaults, every error
 * path with its exact message, malformed JSON, the canonical form and its
 * round trip, the example specs, and the result encoder on real sweeps.
 * Runs from the repository root (api/examples is read from there, or from
 * TB_EXAMPLES_DIR). Single-threaded; Check forks each test.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "codec.h"
#include "jsonfmt.h"
#include "tb.h"

#ifndef TB_EXAMPLES_DIR
#define TB_EXAMPLES_DIR "api/examples"
#endif

/* ---- helpers ------------------------------------------------------------- */

static int parse(const char *text, struct codec_spec *s, struct codec_errors *e)
{
    return codec_parse_spec(text, strlen(text), NULL, s, e);
}

static int has_error(const struct codec_errors *e, const char *path, const char *msg)
{
    int i;

    for (i = 0; i < e->n; i++)
        if (strcmp(e->e[i].path, path) == 0 && strcmp(e->e[i].message, msg) == 0)
            return 1;
    return 0;
}

static void dump_errors(const struct codec_errors *e)
{
    int i;

    for (i = 0; i < e->n; i++)
        fprintf(stderr, "    got: %s: %s\n", e->e[i].path, e->e[i].message);
}

/* Parses text; asserts it is invalid with exactly the error (path, msg). */
static void expect_error(const char *text, const char *path, const char *msg)
{
    struct codec_spec s;
    struct codec_errors e;
    int rc = parse(text, &s, &e);

    if (rc != CODEC_EINVALID || !has_error(&e, path, msg)) {
        fprintf(stderr, "spec: %s\n  want: %s: %s (rc %d)\n", text, path, msg, rc);
        dump_errors(&e);
    }
    ck_assert_int_eq(rc, CODEC_EINVALID);
    ck_assert_msg(has_error(&e, path, msg), "missing error %s: %s", path, msg);
    ck_assert_ptr_null(s.x0);
    ck_assert_ptr_null(s.name);
}

static struct codec_spec parse_ok(const char *text)
{
    struct codec_spec s;
    struct codec_errors e;
    int rc = parse(text, &s, &e);

    if (rc != CODEC_OK) {
        fprintf(stderr, "spec: %s\n", text);
        dump_errors(&e);
    }
    ck_assert_int_eq(rc, CODEC_OK);
    return s;
}

static char *canonical_of(const char *text)
{
    struct codec_spec s = parse_ok(text);
    char *c = codec_spec_canonical(&s);

    ck_assert_ptr_nonnull(c);
    codec_spec_free(&s);
    return c;
}

/* Asserts canonical(text) parses to the same canonical text. */
static void check_round_trip(const char *text)
{
    char *c1 = canonical_of(text), *c2 = canonical_of(c1);

    ck_assert_str_eq(c1, c2);
    free(c1);
    free(c2);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Runs the whole sweep of s on this thread; caller frees the labels. */
static uint64_t *sweep_all(const struct codec_spec *s)
{
    uint64_t n = tb_grid_points(&s->core);
    uint64_t *labels = calloc(tb_label_words(n), sizeof *labels);

    ck_assert_ptr_nonnull(labels);
    ck_assert_int_eq(tb_sweep_tile(&s->core, 0, n, labels, NULL, NULL, NULL, NULL), TB_OK);
    return labels;
}

static json_t *load_json(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);

    ck_assert_msg(j != NULL, "result is not JSON: %s", err.text);
    return j;
}

/* ---- defaults ------------------------------------------------------------- */

START_TEST(test_defaults)
{
    struct codec_spec s = parse_ok(
        "{\"model\":{\"family\":\"multiplicative\",\"amplitude\":0.2,\"wavelength\":0.1}}");

    ck_assert_int_eq(s.core.model.family, TB_MULTIPLICATIVE);
    ck_assert_int_eq(s.core.model.dim, 1);
    ck_assert_int_eq(s.core.model.n_terms, 1);
    ck_assert_double_eq(s.core.model.terms[0].amplitude, 0.2);
    ck_assert_double_eq(s.core.model.terms[0].wavelength, 0.1);
    ck_assert_ptr_null(s.core.x0);
    ck_assert_ptr_null(s.x0);
    ck_assert_double_eq(s.core.x0_scalar, 1.0);
    ck_assert_int_eq(s.core.steps, 1000);
    ck_assert_int_eq(s.core.criterion, TB_MAX_LOSS);
    ck_assert_double_eq(s.core.threshold, 1e8);
    ck_assert_int_eq(s.core.nan_policy, TB_NAN_DIVERGENT);
    ck_assert_int_eq(s.core.precision, TB_PRECISION_FAST);
    ck_assert_int_eq(s.core.n_axes, 1);
    ck_assert_int_eq(s.core.axes[0].kind, TB_AXIS_LR);
    ck_assert_double_eq(s.core.axes[0].min, 0.0);
    ck_assert_double_eq(s.core.axes[0].max, 1.5);
    ck_assert_int_eq(s.core.axes[0].levels, 20);
    ck_assert_int_eq(s.fit.min_level, 0);
    ck_assert_int_eq(s.fit.max_level, 20);
    ck_assert_int_eq(s.fit.min_levels, 3);
    ck_assert_uint_eq(s.max_flips, 10000);
    ck_assert_ptr_null(s.name);
    ck_assert_int_eq(tb_spec_check(&s.core), TB_OK);
    codec_spec_free(&s);
}
END_TEST

START_TEST(test_default_threshold)
{
    struct codec_spec s;

    s = parse_ok("{\"model\":{\"family\":\"quadratic\",\"dim\":3}}");
    ck_assert_double_eq(s.core.threshold, 3e8);
    codec_spec_free(&s);
    s = parse_ok("{\"model\":{\"family\":\"quadratic\",\"dim\":2},"
                 "\"divergence\":{\"criterion\":\"final_loss\"}}");
    ck_assert_int_eq(s.core.criterion, TB_FINAL_LOSS);
    ck_assert_double_eq(s.core.threshold, 2e8);
    codec_spec_free(&s);
    s = parse_ok("{\"model\":{\"family\":\"quadratic\",\"dim\":2},"
                 "\"divergence\":{\"criterion\":\"loss_sum\",\"nan\":\"bounded\"}}");
    ck_assert_int_eq(s.core.criterion, TB_LOSS_SUM);
    ck_assert_double_eq(s.core.threshold, 1e16);
    ck_assert_int_eq(s.core.nan_policy, TB_NAN_BOUNDED);
    codec_spec_free(&s);
    s = parse_ok("{\"model\":{\"family\":\"quadratic\",\"dim\":2},"
                 "\"divergence\":{\"threshold\":5}}");
    ck_assert_double_eq(s.core.threshold, 5.0);
    codec_spec_free(&s);
}
END_TEST

START_TEST(test_fields_resolved)
{
    struct codec_spec s;

    s = parse_ok("{\"name\":\"r\\u00e9sum\\u00e9\",\"model\":{\"family\":\"quadratic\",\"dim\":3},"
                 "\"x0\":[1,2.5,-3],\"steps\":7,\"lr\":{\"min\":-1,\"max\":2,\"levels\":5},"
                 "\"fit\":{\"min_level\":1,\"max_level\":4,\"min_levels\":4},"
                 "\"precision\":\"reference\",\"output\":{\"max_flips\":0}}");
    ck_assert_str_eq(s.name, "r\xc3\xa9sum\xc3\xa9");
    ck_assert_int_eq(s.core.model.n_terms, 0);
    ck_assert_ptr_nonnull(s.x0);
    ck_assert_ptr_eq(s.core.x0, s.x0);
    ck_assert_double_eq(s.x0[1], 2.5);
    ck_assert_double_eq(s.x0[2], -3.0);
    ck_assert_int_eq(s.core.steps, 7);
    ck_assert_double_eq(s.core.axes[0].min, -1.0);
    ck_assert_int_eq(s.core.axes[0].levels, 5);
    ck_assert_int_eq(s.fit.min_level, 1);
    ck_assert_int_eq(s.fit.max_level, 4);
    ck_assert_int_eq(s.fit.min_levels, 4);
    ck_assert_uint_eq(s.max_flips, 0);
    codec_spec_free(&s);
    ck_assert_ptr_null(s.x0);

    /* An array of equal coordinates is the scalar. */
    s = parse_ok("{\"model\":{\"family\":\"quadratic\",\"dim\":3},\"x0\":[2,2,2.0]}");
    ck_assert_ptr_null(s.x0);
    ck_assert_double_eq(s.core.x0_scalar, 2.0);
    codec_spec_free(&s);

    /* Additive terms, and amplitude/wavelength stored as one term. */
    s = parse_ok("{\"model\":{\"family\":\"additive\",\"terms\":[{\"amplitude\":0.2,"
                 "\"wavelength\":0.1},{\"amplitude\":0,\"wavelength\":3}]}}");
    ck_assert_int_eq(s.core.model.n_terms, 2);
    ck_assert_double_eq(s.core.model.terms[1].wavelength, 3.0);
    codec_spec_free(&s);
    s = parse_ok("{\"model\":{\"family\":\"additive\",\"amplitude\":0.01,\"wavelength\":1}}");
    ck_assert_int_eq(s.core.model.n_terms, 1);
    ck_assert_double_eq(s.core.model.terms[0].amplitude, 0.01);
    codec_spec_free(&s);

    /* Levels 0 and 32 are in range (cost permitting). */
    s = parse_ok("{\"model\":{\"family\":\"quadratic\"},\"lr\":{\"levels\":0}}");
    ck_assert_int_eq(s.fit.max_level, 0);
    codec_spec_free(&s);
    s = parse_ok("{\"model\":{\"family\":\"quadratic\"},\"steps\":1000,\"lr\":{\"levels\":32}}");
    ck_assert_int_eq(s.core.axes[0].levels, 32);
    codec_spec_free(&s);
}
END_TEST

/* ---- every error path ------------------------------------------------------ */

struct bad_case {
    const char *json, *path, *message;
};

#define Q "{\"model\":{\"family\":\"quadratic\"}"
#define M "{\"model\":{\"family\":\"multiplicative\",\"amplitude\":0.2,\"wavelength\":0.1}"

static const struct bad_case bad_cases[] = {
    /* missing and wrong top-level shapes */
    {"{}", "model", "is required"},
    {"[1,2]", "", "the spec must be a JSON object"},
    {"\"spec\"", "", "the spec must be a JSON object"},
    {"null", "", "the spec must be a JSON object"},
    {Q ",\"foo\":1}", "foo", "unknown field"},
    {"{\"model\":\"quadratic\"}", "model", "must be an object"},
    {"{\"model\":null}", "model", "must be an object"},
    /* model.family */
    {"{\"model\":{}}", "model.family",
     "is required: \"quadratic\", \"additive\" or \"multiplicative\""},
    {"{\"model\":{\"family\":\"cubic\"}}", "model.family",
     "must be one of \"quadratic\", \"additive\" or \"multiplicative\""},
    {"{\"model\":{\"family\":2}}", "model.family",
     "must be one of \"quadratic\", \"additive\" or \"multiplicative\""},
    {"{\"model\":{\"family\":\"quadratic\",\"foo\":1}}", "model.foo", "unknown field"},
    /* model.dim */
    {"{\"model\":{\"family\":\"quadratic\",\"dim\":0}}", "model.dim",
     "must be an integer in 1..4096"},
    {"{\"model\":{\"family\":\"quadratic\",\"dim\":4097}}", "model.dim",
     "must be an integer in 1..4096"},
    {"{\"model\":{\"family\":\"quadratic\",\"dim\":2.0}}", "model.dim",
     "must be an integer in 1..4096"},
    {"{\"model\":{\"family\":\"quadratic\",\"dim\":\"2\"}}", "model.dim",
     "must be an integer in 1..4096"},
    /* amplitude, wavelength, terms by family */
    {"{\"model\":{\"family\":\"quadratic\",\"amplitude\":0.2}}", "model.amplitude",
     "not used by the quadratic family"},
    {"{\"model\":{\"family\":\"quadratic\",\"wavelength\":0.1}}", "model.wavelength",
     "not used by the quadratic family"},
    {"{\"model\":{\"family\":\"quadratic\",\"terms\":[{\"amplitude\":0.1,\"wavelength\":1}]}}",
     "model.terms", "not used by the quadratic family"},
    {"{\"model\":{\"family\":\"multiplicative\",\"wavelength\":0.1}}", "model.amplitude",
     "is required for the multiplicative family (or give model.terms)"},
    {"{\"model\":{\"family\":\"multiplicative\",\"amplitude\":0.1}}", "model.wavelength",
     "is required for the multiplicative family (or give model.terms)"},
    {"{\"model\":{\"family\":\"multiplicative\",\"amplitude\":0.2,\"wavelength\":0}}",
     "model.wavelength", "must be a finite number > 0"},
    {"{\"model\":{\"family\":\"multiplicative\",\"amplitude\":-0.5,\"wavelength\":1}}",
     "model.amplitude", "must be a finite number >= 0"},
    {"{\"model\":{\"family\":\"multiplicative\",\"amplitude\":\"0.2\",\"wavelength\":1}}",
     "model.amplitude", "must be a finite number >= 0"},
    {"{\"model\":{\"family\":\"multiplicative\",\"amplitude\":0.2,\"wavelength\":1,"
     "\"terms\":[{\"amplitude\":0.1,\"wavelength\":1}]}}",
     "model.amplitude",
     "cannot be combined with model.terms: give amplitude and wavelength, or terms"},
    {"{\"model\":{\"family\":\"additive\",\"wavelength\":0.1}}", "model.amplitude",
     "is required for the additive family (or give model.terms)"},
    {"{\"model\":{\"family\":\"additive\",\"amplitude\":0.1}}", "model.wavelength",
     "is required for the additive family (or give model.terms)"},
    {"{\"model\":{\"family\":\"additive\",\"amplitude\":0.1,"
     "\"terms\":[{\"amplitude\":0.1,\"wavelength\":1}]}}",
     "model.amplitude",
     "cannot be combined with model.terms: give amplitude and wavelength, or terms"},
    {"{\"model\":{\"family\":\"additive\",\"wavelength\":0.1,"
     "\"terms\":[{\"amplitude\":0.1,\"wavelength\":1}]}}",
     "model.wavelength",
     "cannot be combined with model.terms: give amplitude and wavelength, or terms"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[]}}", "model.terms",
     "must be a list of 1..16 term objects (type cos, poly or gauss)"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":{\"amplitude\":1}}}", "model.terms",
     "must be a list of 1..16 term objects (type cos, poly or gauss)"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[3]}}", "model.terms[0]",
     "must be an object: a cos, poly or gauss term"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"amplitude\":0.1,\"wavelength\":1},"
     "{\"amplitude\":0.1}]}}",
     "model.terms[1].wavelength", "is required"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"wavelength\":1}]}}",
     "model.terms[0].amplitude", "is required"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"amplitude\":0.1,\"wavelength\":-1}]}}",
     "model.terms[0].wavelength", "must be a finite number > 0"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"amplitude\":0.1,\"wavelength\":1,"
     "\"phase\":0}]}}",
     "model.terms[0].phase", "unknown field"},
    /* typed terms (issue 16) */
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"sin\"}]}}",
     "model.terms[0].type", "must be one of \"cos\", \"poly\" or \"gauss\""},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":null}]}}",
     "model.terms[0].type", "must be one of \"cos\", \"poly\" or \"gauss\""},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"cos\",\"amplitude\":0.1,"
     "\"wavelength\":1,\"width\":2}]}}",
     "model.terms[0].width", "not used by a cos term"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"gauss\",\"amplitude\":0.1}]}}",
     "model.terms[0].width", "is required"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"gauss\",\"width\":1}]}}",
     "model.terms[0].amplitude", "is required"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"gauss\",\"amplitude\":0.1,"
     "\"width\":0}]}}",
     "model.terms[0].width", "must be a finite number > 0"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"gauss\",\"amplitude\":\"a\","
     "\"width\":1}]}}",
     "model.terms[0].amplitude", "must be a finite number"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"gauss\",\"amplitude\":0.1,"
     "\"width\":1,\"centre\":[]}]}}",
     "model.terms[0].centre", "must be a finite number"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"gauss\",\"amplitude\":0.1,"
     "\"width\":1,\"wavelength\":1}]}}",
     "model.terms[0].wavelength", "not used by a gauss term"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"poly\"}]}}",
     "model.terms[0].coefficients", "is required: a list of 1..9 numbers c_j of sum c_j (x/scale)^j"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"poly\",\"coefficients\":[]}]}}",
     "model.terms[0].coefficients", "must be a list of 1..9 finite numbers (degree at most 8)"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"poly\","
     "\"coefficients\":[0,1,2,3,4,5,6,7,8,9]}]}}",
     "model.terms[0].coefficients", "must be a list of 1..9 finite numbers (degree at most 8)"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"poly\","
     "\"coefficients\":[0,true]}]}}",
     "model.terms[0].coefficients[1]", "must be a finite number"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"poly\","
     "\"coefficients\":[1],\"scale\":-2}]}}",
     "model.terms[0].scale", "must be a finite number > 0"},
    {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"poly\","
     "\"coefficients\":[1],\"amplitude\":2}]}}",
     "model.terms[0].amplitude", "not used by a poly term"},
    {"{\"model\":{\"family\":\"multiplicative\",\"terms\":[{\"type\":\"poly\","
     "\"coefficients\":[1]}]}}",
     "model.terms[0].type",
     "must be \"cos\" or \"gauss\" for the multiplicative family (x^2 times a polynomial is a "
     "polynomial: use the additive family)"},
    {"{\"model\":{\"family\":\"multiplicative\",\"terms\":[{\"amplitude\":0.1,\"wavelength\":1},"
     "{\"amplitude\":0.1,\"wavelength\":1}]}}",
     "model.terms", "must hold exactly one term for the multiplicative family"},
    {"{\"model\":{\"family\":\"multiplicative\",\"dim\":2,\"terms\":[{\"type\":\"gauss\","
     "\"amplitude\":0.1,\"width\":1}]}}",
     "model.dim", "must be 1 with a multiplicative gauss term (its convexity check is 1-D)"},
    /* x0 */
    {Q ",\"x0\":\"1\"}", "x0", "must be a finite number or an array of model.dim finite numbers"},
    {Q ",\"x0\":null}", "x0", "must be a finite number or an array of model.dim finite numbers"},
    {"{\"model\":{\"family\":\"quadratic\",\"dim\":3},\"x0\":[1,2]}", "x0",
     "must have exactly 3 elements (model.dim), not 2"},
    {Q ",\"x0\":[1,2]}", "x0", "must have exactly 1 element (model.dim), not 2"},
    {Q ",\"x0\":[]}", "x0", "must have exactly 1 element (model.dim), not 0"},
    {"{\"model\":{\"family\":\"quadratic\",\"dim\":3},\"x0\":[1,\"a\",3]}", "x0[1]",
     "must be a finite number"},
    /* steps */
    {Q ",\"steps\":0}", "steps", "must be an integer in 1..1000000"},
    {Q ",\"steps\":1000001}", "steps", "must be an integer in 1..1000000"},
    {Q ",\"steps\":-5}", "steps", "must be an integer in 1..1000000"},
    {Q ",\"steps\":1000.0}", "steps", "must be an integer in 1..1000000"},
    {Q ",\"steps\":\"1000\"}", "steps", "must be an integer in 1..1000000"},
    {Q ",\"steps\":true}", "steps", "must be an integer in 1..1000000"},
    /* divergence */
    {Q ",\"divergence\":[]}", "divergence", "must be an object"},
    {Q ",\"divergence\":{\"criterion\":\"max\"}}", "divergence.criterion",
     "must be one of \"max_loss\", \"loss_sum\" or \"final_loss\""},
    {Q ",\"divergence\":{\"threshold\":0}}", "divergence.threshold", "must be a finite number > 0"},
    {Q ",\"divergence\":{\"threshold\":-1e8}}", "divergence.threshold",
     "must be a finite number > 0"},
    {Q ",\"divergence\":{\"nan\":\"ignore\"}}", "divergence.nan",
     "must be \"divergent\" or \"bounded\""},
    {Q ",\"divergence\":{\"limit\":1}}", "divergence.limit", "unknown field"},
    /* lr */
    {Q ",\"lr\":1.5}", "lr", "must be an object"},
    {Q ",\"lr\":{\"min\":1.5,\"max\":1.5}}", "lr.max",
     "must be greater than lr.min (min 1.5, max 1.5)"},
    {Q ",\"lr\":{\"min\":2}}", "lr.max", "must be greater than lr.min (min 2, max 1.5)"},
    {Q ",\"lr\":{\"min\":1,\"max\":0.5}}", "lr.max",
     "must be greater than lr.min (min 1, max 0.5)"},
    {Q ",\"lr\":{\"min\":-1e308,\"max\":1e308}}", "lr.max",
     "lr.max - lr.min must be a finite number"},
    {Q ",\"lr\":{\"min\":\"0\"}}", "lr.min", "must be a finite number"},
    {Q ",\"lr\":{\"levels\":33}}", "lr.levels", "must be an integer in 0..32"},
    {Q ",\"lr\":{\"levels\":-1}}", "lr.levels", "must be an integer in 0..32"},
    {Q ",\"lr\":{\"levels\":20.0}}", "lr.levels", "must be an integer in 0..32"},
    {Q ",\"lr\":{\"step\":0.1}}", "lr.step", "unknown field"},
    {Q ",\"steps\":1000000,\"lr\":{\"levels\":32}}", "lr.levels",
     "the sweep would cost (2^32 + 1) * 1000000 steps = 4294967297000000 steps, over the limit "
     "of 1125899906842624: lower lr.levels or steps"},
    /* fit */
    {Q ",\"lr\":{\"levels\":10},\"fit\":{\"min_level\":11}}", "fit.min_level",
     "must be an integer in 0..10 (at most lr.levels)"},
    {Q ",\"lr\":{\"levels\":10},\"fit\":{\"max_level\":11}}", "fit.max_level",
     "must be an integer in 0..10 (at most lr.levels)"},
    {Q ",\"fit\":{\"min_level\":5,\"max_level\":4}}", "fit.max_level",
     "must be >= fit.min_level (5)"},
    {Q ",\"fit\":{\"min_level\":-1}}", "fit.min_level",
     "must be an integer in 0..20 (at most lr.levels)"},
    {Q ",\"fit\":{\"min_levels\":2}}", "fit.min_levels", "must be an integer in 3..33"},
    {Q ",\"fit\":{\"min_levels\":34}}", "fit.min_levels", "must be an integer in 3..33"},
    {Q ",\"fit\":{\"window\":3}}", "fit.window", "unknown field"},
    /* name, precision, output */
    {Q ",\"name\":\"\"}", "name", "must be a UTF-8 string of 1..200 bytes"},
    {Q ",\"name\":42}", "name", "must be a UTF-8 string of 1..200 bytes"},
    {Q ",\"precision\":\"turbo\"}", "precision", "must be \"reference\" or \"fast\""},
    {Q ",\"output\":{\"max_flips\":-1}}", "output.max_flips", "must be an integer in 0..10000000"},
    {Q ",\"output\":{\"max_flips\":10000001}}", "output.max_flips",
     "must be an integer in 0..10000000"},
    {Q ",\"output\":{\"format\":\"csv\"}}", "output.format", "unknown field"},
    {Q ",\"output\":3}", "output", "must be an object"},
    {Q ",\"replicates\":0}", "replicates", "must be an integer in 1..32"},
    {Q ",\"replicates\":33}", "replicates", "must be an integer in 1..32"},
    {Q ",\"replicates\":2.0}", "replicates", "must be an integer in 1..32"},
    {Q ",\"replicates\":\"4\"}", "replicates", "must be an integer in 1..32"},
    {Q ",\"optimizer\":{\"name\":\"momentum\",\"beta\":1}}", "optimizer.beta",
     "must be a number in [0, 1)"},
    {Q ",\"optimizer\":{\"name\":\"nesterov\"}}", "optimizer.beta",
     "is required for the nesterov optimizer"},
    {Q ",\"optimizer\":{\"name\":\"adam\",\"eps\":0}}", "optimizer.eps", "must be a finite number > 0"},
    {Q ",\"optimizer\":{\"name\":\"gd\",\"beta1\":0.9}}", "optimizer.beta1",
     "not used by the gd optimizer"},
    {Q ",\"optimizer\":{\"name\":\"lbfgs\"}}", "optimizer.name",
     "must be one of \"gd\", \"momentum\", \"nesterov\" or \"adam\""},
    /* unusual keys */
    {Q ",\"a/b~c\":1}", "a/b~c", "unknown field"},
    {Q ",\"a\\u0001b\":1}", "a?b", "unknown field"},
    {M ",\"model2\":{}}", "model2", "unknown field"},
};

START_TEST(test_bad_spec)
{
    expect_error(bad_cases[_i].json, bad_cases[_i].path, bad_cases[_i].message);
}
END_TEST

START_TEST(test_error_pointer)
{
    struct codec_spec s;
    struct codec_errors e;

    ck_assert_int_eq(parse(Q ",\"a/b~c\":1}", &s, &e), CODEC_EINVALID);
    ck_assert_int_eq(e.n, 1);
    ck_assert_str_eq(e.e[0].pointer, "/a~1b~0c");
    ck_assert_int_eq(parse("{\"model\":{\"family\":\"additive\",\"terms\":[{\"amplitude\":1,"
                           "\"wavelength\":1},{\"amplitude\":-1,\"wavelength\":1}]}}",
                           &s, &e),
                     CODEC_EINVALID);
    ck_assert_int_eq(e.n, 1);
    ck_assert_str_eq(e.e[0].path, "model.terms[1].amplitude");
    ck_assert_str_eq(e.e[0].pointer, "/model/terms/1/amplitude");
    ck_assert_int_eq(parse("{}", &s, &e), CODEC_EINVALID);
    ck_assert_str_eq(e.e[0].pointer, "/model");
    ck_assert_int_eq(parse("{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"poly\","
                           "\"coefficients\":[1]},{\"type\":\"gauss\",\"amplitude\":1,"
                           "\"width\":-1},{\"type\":\"poly\",\"coefficients\":[0,1e999]}]}}",
                           &s, &e),
                     CODEC_EJSON); /* 1e999 does not lex */
    ck_assert_int_eq(parse("{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"poly\","
                           "\"coefficients\":[1]},{\"type\":\"gauss\",\"amplitude\":1,"
                           "\"width\":-1},{\"type\":\"poly\",\"coefficients\":[0,\"x\"]}]}}",
                           &s, &e),
                     CODEC_EINVALID);
    ck_assert_int_eq(e.n, 2);
    ck_assert_str_eq(e.e[0].pointer, "/model/terms/1/width");
    ck_assert_str_eq(e.e[0].message, "must be a finite number > 0");
    ck_assert_str_eq(e.e[1].pointer, "/model/terms/2/coefficients/1");
}
END_TEST

START_TEST(test_all_errors_collected)
{
    struct codec_spec s;
    struct codec_errors e;
    const char *text = "{\"bogus\":1,\"model\":{\"family\":\"multiplicative\",\"amplitude\":-1},"
                       "\"steps\":0,\"lr\":{\"levels\":33},\"x0\":\"x\"}";

    ck_assert_int_eq(parse(text, &s, &e), CODEC_EINVALID);
    if (e.n != 6)
        dump_errors(&e);
    ck_assert_int_eq(e.n, 6);
    ck_assert_int_eq(e.truncated, 0);
    ck_assert(has_error(&e, "bogus", "unknown field"));
    ck_assert(has_error(&e, "model.amplitude", "must be a finite number >= 0"));
    ck_assert(has_error(&e, "model.wavelength",
                        "is required for the multiplicative family (or give model.terms)"));
    ck_assert(has_error(&e, "steps", "must be an integer in 1..1000000"));
    ck_assert(has_error(&e, "lr.levels", "must be an integer in 0..32"));
    ck_assert(
        has_error(&e, "x0", "must be a finite number or an array of model.dim finite numbers"));
}
END_TEST

START_TEST(test_errors_truncated)
{
    struct codec_spec s;
    struct codec_errors e;
    char text[2048] = Q;
    int i;

    for (i = 0; i < 40; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), ",\"k%d\":%d", i, i);
    strcat(text, "}");
    ck_assert_int_eq(parse(text, &s, &e), CODEC_EINVALID);
    ck_assert_int_eq(e.n, CODEC_MAX_ERRORS);
    ck_assert_int_eq(e.truncated, 1);
    ck_assert_str_eq(e.e[0].path, "k0");
    ck_assert_str_eq(e.e[31].path, "k31");
}
END_TEST

START_TEST(test_too_many_terms_and_long_name)
{
    char text[4096] = "{\"model\":{\"family\":\"additive\",\"terms\":[";
    char name[300];
    int i;

    for (i = 0; i < 17; i++)
        strcat(text, i ? ",{\"amplitude\":0.1,\"wavelength\":1}"
                       : "{\"amplitude\":0.1,\"wavelength\":1}");
    strcat(text, "]}}");
    expect_error(text, "model.terms", "must be a list of 1..16 term objects (type cos, poly or gauss)");

    /* 16 terms are fine */
    strcpy(text, "{\"model\":{\"family\":\"additive\",\"terms\":[");
    for (i = 0; i < 16; i++)
        strcat(text, i ? ",{\"amplitude\":0.1,\"wavelength\":1}"
                       : "{\"amplitude\":0.1,\"wavelength\":1}");
    strcat(text, "]}}");
    {
        struct codec_spec s = parse_ok(text);
        ck_assert_int_eq(s.core.model.n_terms, 16);
        codec_spec_free(&s);
    }

    /* 200 bytes is the longest name */
    memset(name, 'n', 200);
    name[200] = '\0';
    snprintf(text, sizeof text, Q ",\"name\":\"%s\"}", name);
    {
        struct codec_spec s = parse_ok(text);
        ck_assert_uint_eq(strlen(s.name), 200);
        codec_spec_free(&s);
    }
    name[200] = 'n';
    name[201] = '\0';
    snprintf(text, sizeof text, Q ",\"name\":\"%s\"}", name);
    expect_error(text, "name", "must be a UTF-8 string of 1..200 bytes");
}
END_TEST

START_TEST(test_long_key_truncated_utf8)
{
    struct codec_spec s;
    struct codec_errors e;
    char text[2048] = Q ",\"";
    json_t *j;
    int i;

    for (i = 0; i < 150; i++)
        strcat(text, "\xc3\xa9"); /* e-acute, 2 bytes */
    strcat(text, "\":1}");
    ck_assert_int_eq(parse(text, &s, &e), CODEC_EINVALID);
    ck_assert_int_eq(e.n, 1);
    ck_assert_uint_lt(strlen(e.e[0].path), sizeof e.e[0].path);
    ck_assert_uint_eq(strlen(e.e[0].path) % 2, 0); /* whole characters only */
    j = json_string(e.e[0].path);                  /* valid UTF-8 */
    ck_assert_ptr_nonnull(j);
    json_decref(j);
    j = json_string(e.e[0].pointer);
    ck_assert_ptr_nonnull(j);
    json_decref(j);
}
END_TEST

START_TEST(test_custom_limits)
{
    struct codec_limits lim = {.max_levels = 10, .max_steps = 100, .max_dim = 2, .max_cost = 5000};
    struct codec_spec s;
    struct codec_errors e;
    const char *text = "{\"model\":{\"family\":\"quadratic\",\"dim\":3},\"steps\":101,"
                       "\"lr\":{\"levels\":11}}";

    ck_assert_int_eq(codec_parse_spec(text, strlen(text), &lim, &s, &e), CODEC_EINVALID);
    ck_assert(has_error(&e, "model.dim", "must be an integer in 1..2"));
    ck_assert(has_error(&e, "steps", "must be an integer in 1..100"));
    ck_assert(has_error(&e, "lr.levels", "must be an integer in 0..10"));
    text = "{\"model\":{\"family\":\"quadratic\"},\"steps\":10,\"lr\":{\"levels\":9}}";
    ck_assert_int_eq(codec_parse_spec(text, strlen(text), &lim, &s, &e), CODEC_EINVALID);
    ck_assert(has_error(&e, "lr.levels",
                        "the sweep would cost (2^9 + 1) * 10 steps = 5130 steps, over the limit "
                        "of 5000: lower lr.levels or steps"));
    text = "{\"model\":{\"family\":\"quadratic\"},\"steps\":10,\"lr\":{\"levels\":8}}";
    ck_assert_int_eq(codec_parse_spec(text, strlen(text), &lim, &s, &e), CODEC_OK);
    codec_spec_free(&s);
    /* replicates multiply the cost: 257 * 10 * 2 = 5140 > 5000 */
    text = "{\"model\":{\"family\":\"quadratic\"},\"steps\":10,\"lr\":{\"levels\":8},"
           "\"replicates\":2}";
    ck_assert_int_eq(codec_parse_spec(text, strlen(text), &lim, &s, &e), CODEC_EINVALID);
    ck_assert(has_error(&e, "lr.levels",
                        "the sweep would cost (2^8 + 1) * 10 steps * 2 replicates = 5140 steps, "
                        "over the limit of 5000: lower lr.levels, steps or replicates"));
    text = "{\"model\":{\"family\":\"quadratic\"},\"steps\":9,\"lr\":{\"levels\":8},"
           "\"replicates\":2}";
    ck_assert_int_eq(codec_parse_spec(text, strlen(text), &lim, &s, &e), CODEC_OK);
    ck_assert_int_eq(s.core.replicates, 2);
    codec_spec_free(&s);
}
END_TEST

/* ---- replicates ------------------------------------------------------------ */

static struct tb_fit fit_of(double value, int fractal)
{
    struct tb_fit f;

    memset(&f, 0, sizeof f);
    f.value = value;
    f.se = 0.01;
    f.fractal = fractal;
    return f;
}

START_TEST(test_spread_stats)
{
    struct tb_fit f[4] = {fit_of(0.8, 1), fit_of(1.0, 1), fit_of(0.9, 1), fit_of(1.1, 1)};
    struct codec_spread sp;

    codec_spread_of(f, 4, &sp);
    ck_assert_int_eq(sp.n, 4);
    ck_assert_double_eq_tol(sp.mean, 0.95, 1e-15);
    /* sample std: sqrt((0.0225 + 0.0025 + 0.0025 + 0.0225) / 3) */
    ck_assert_double_eq_tol(sp.std, sqrt(0.05 / 3.0), 1e-15);
    ck_assert(sp.min == 0.8 && sp.max == 1.1);
    ck_assert_int_eq(sp.fractal, 4);
    ck_assert(codec_spread_fractal(&sp));
    /* one replicate: std 0 and its own flag, even at D = 0 */
    codec_spread_of(f, 1, &sp);
    ck_assert(sp.std == 0.0 && sp.mean == 0.8 && sp.min == 0.8 && sp.max == 0.8);
    ck_assert(codec_spread_fractal(&sp));
    f[0] = fit_of(0.0, 1); /* two flat boundaries: fractal by the fit's rule, D = 0 */
    codec_spread_of(f, 1, &sp);
    ck_assert(codec_spread_fractal(&sp));
    f[0] = fit_of(0.0, 0);
    codec_spread_of(f, 1, &sp);
    ck_assert(!codec_spread_fractal(&sp));
}
END_TEST

START_TEST(test_spread_verdict)
{
    /* half the replicates fractal: not a majority */
    struct tb_fit a[4] = {fit_of(0.9, 1), fit_of(0.0, 0), fit_of(1.0, 1), fit_of(0.0, 0)};
    /* all fractal, but the mean is within two standard errors of zero:
     * mean 0.1, std 0.1, standard error 0.0577 */
    struct tb_fit b[3] = {fit_of(0.0, 1), fit_of(0.1, 1), fit_of(0.2, 1)};
    /* three of four fractal and a spread well above zero */
    struct tb_fit c[4] = {fit_of(0.9, 1), fit_of(0.0, 0), fit_of(1.0, 1), fit_of(0.95, 1)};
    struct codec_spread sp;

    codec_spread_of(a, 4, &sp);
    ck_assert_int_eq(sp.fractal, 2);
    ck_assert(!codec_spread_fractal(&sp));
    codec_spread_of(b, 3, &sp);
    ck_assert(!codec_spread_fractal(&sp));
    codec_spread_of(c, 4, &sp);
    ck_assert(codec_spread_fractal(&sp)); /* mean 0.7125 > 2 * 0.4768 / sqrt(4) */
}
END_TEST

/* A result with replicates: the dimension keeps replicate 0's fit, lists
 * every replicate (each equal to a one-replicate run from its x0), and
 * its spread is the statistics of those values; the counts read back. */
START_TEST(test_result_replicates)
{
    struct codec_spec s = parse_ok("{\"model\":{\"family\":\"additive\",\"amplitude\":0.2,"
                                   "\"wavelength\":0.1},\"lr\":{\"levels\":15},\"replicates\":4}");
    const uint64_t n = tb_grid_points(&s.core);
    uint64_t *labels = calloc(tb_label_words(4 * n), sizeof *labels);
    uint64_t counts[TB_MAX_REPLICATES][TB_MAX_LEVELS + 1];
    double sum = 0, mn = INFINITY, mx = -INFINITY;
    json_t *j, *dim, *reps, *sp;
    char *res;
    int r, k, got;

    ck_assert_ptr_nonnull(labels);
    ck_assert_int_eq(tb_sweep_tile(&s.core, 0, 4 * n, labels, NULL, NULL, NULL, NULL), TB_OK);
    res = codec_result_encode(&s, labels, 0.0);
    ck_assert_ptr_nonnull(res);
    j = load_json(res);
    dim = json_object_get(j, "dimension");
    reps = json_object_get(dim, "replicates");
    ck_assert_uint_eq(json_array_size(reps), 4);
    ck_assert(json_equal(json_object_get(json_array_get(reps, 0), "counts"),
                         json_object_get(j, "counts")));
    ck_assert(json_real_value(json_object_get(json_array_get(reps, 0), "value")) ==
              json_real_value(json_object_get(dim, "value")));
    for (r = 0; r < 4; r++) {
        struct codec_spec one = s; /* shallow: x0 is a scalar */
        uint64_t *l1 = calloc(tb_label_words(n), sizeof *l1);
        struct codec_analysis an;
        json_t *e = json_array_get(reps, (size_t)r);
        double v = json_number_value(json_object_get(e, "value"));

        one.core.replicates = 1;
        one.core.x0_scalar = tb_replicate_x0(s.core.x0_scalar, r);
        ck_assert_int_eq(tb_sweep_tile(&one.core, 0, n, l1, NULL, NULL, NULL, NULL), TB_OK);
        ck_assert_int_eq(codec_analyze(&one, l1, &an), CODEC_OK);
        ck_assert_msg(v == an.fit.value, "replicate %d: %.17g vs %.17g", r, v, an.fit.value);
        for (k = 0; k <= 15; k++)
            ck_assert_uint_eq(
                json_integer_value(json_array_get(json_object_get(e, "counts"), (size_t)k)),
                an.counts[k]);
        codec_analysis_free(&an);
        free(l1);
        sum += v;
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
    }
    sp = json_object_get(dim, "spread");
    ck_assert_int_eq(json_integer_value(json_object_get(sp, "n")), 4);
    ck_assert_double_eq_tol(json_number_value(json_object_get(sp, "mean")), sum / 4, 1e-12);
    ck_assert(json_number_value(json_object_get(sp, "min")) == mn);
    ck_assert(json_number_value(json_object_get(sp, "max")) == mx);
    ck_assert(json_number_value(json_object_get(sp, "std")) > 0); /* chaotic: they differ */

    ck_assert_int_eq(codec_result_rep_counts(res, 15, counts, &got), CODEC_OK);
    ck_assert_int_eq(got, 4);
    for (r = 0; r < 4; r++)
        for (k = 0; k <= 15; k++)
            ck_assert_uint_eq(counts[r][k], json_integer_value(json_array_get(
                                                  json_object_get(json_array_get(reps, (size_t)r),
                                                                  "counts"),
                                                  (size_t)k)));
    ck_assert_int_eq(codec_result_rep_counts(res, 14, counts, &got), CODEC_EINVALID);
    ck_assert_int_eq(codec_result_rep_counts("{\"counts\":[1,2,3]}", 2, counts, &got), CODEC_OK);
    ck_assert_int_eq(got, 1);
    ck_assert_uint_eq(counts[0][2], 3);
    ck_assert_int_eq(codec_result_rep_counts("{\"replicate_counts\":[[1,2],[1,3]]}", 1, counts,
                                             &got),
                     CODEC_OK);
    ck_assert_int_eq(got, 2);
    ck_assert_uint_eq(counts[1][1], 3);
    ck_assert_int_eq(codec_result_rep_counts("not json", 1, counts, &got), CODEC_EINVALID);
    json_decref(j);
    free(res);
    free(labels);
    codec_spec_free(&s);
}
END_TEST

/* ---- malformed JSON -------------------------------------------------------- */

START_TEST(test_malformed_json)
{
    struct codec_spec s;
    struct codec_errors e;
    const char *text = "{\n  \"model\": {\n    \"family\" \"quadratic\"\n  }\n}";

    ck_assert_int_eq(parse(text, &s, &e), CODEC_EJSON);
    ck_assert_int_eq(e.n, 1);
    ck_assert_str_eq(e.e[0].path, "");
    ck_assert_msg(strncmp(e.e[0].message, "invalid JSON at line 3, column ", 31) == 0, "%s",
                  e.e[0].message);

    ck_assert_int_eq(parse("", &s, &e), CODEC_EJSON);
    ck_assert_int_eq(parse("{} x", &s, &e), CODEC_EJSON);
    ck_assert_int_eq(parse("{\"model\":", &s, &e), CODEC_EJSON);
    ck_assert_int_eq(parse("{\"steps\":NaN}", &s, &e), CODEC_EJSON);
    ck_assert_int_eq(parse("{\"steps\":Infinity}", &s, &e), CODEC_EJSON);
    ck_assert_int_eq(codec_parse_spec("{\"a\":1}\0", 8, NULL, &s, &e), CODEC_EJSON);
    ck_assert_int_eq(codec_parse_spec(NULL, 0, NULL, &s, &e), CODEC_EJSON);
}
END_TEST

START_TEST(test_huge_number)
{
    struct codec_spec s;
    struct codec_errors e;

    /* jansson refuses a literal that overflows a double while lexing. */
    ck_assert_int_eq(parse(Q ",\"divergence\":{\"threshold\":1e400}}", &s, &e), CODEC_EJSON);
    ck_assert_int_eq(e.n, 1);
    ck_assert_msg(strstr(e.e[0].message, "invalid JSON at line 1, column ") != NULL, "%s",
                  e.e[0].message);
    ck_assert_msg(strstr(e.e[0].message, "real number overflow") != NULL, "%s", e.e[0].message);
    ck_assert_int_eq(parse(Q ",\"x0\":-1e400}", &s, &e), CODEC_EJSON);
    ck_assert_int_eq(parse(Q ",\"steps\":100000000000000000000}", &s, &e), CODEC_EJSON);
    ck_assert_msg(strstr(e.e[0].message, "too big integer") != NULL, "%s", e.e[0].message);
    /* The largest finite double is a valid threshold. */
    s = parse_ok(Q ",\"divergence\":{\"threshold\":1.7976931348623157e308}}");
    ck_assert_double_eq(s.core.threshold, 1.7976931348623157e308);
    codec_spec_free(&s);
}
END_TEST

START_TEST(test_duplicate_key)
{
    struct codec_spec s;
    struct codec_errors e;

    ck_assert_int_eq(
        parse("{\"model\":{\"family\":\"quadratic\"},\"steps\":1,\"steps\":2}", &s, &e),
        CODEC_EJSON);
    ck_assert_int_eq(e.n, 1);
    ck_assert_msg(strstr(e.e[0].message, "duplicate object key") != NULL, "%s", e.e[0].message);
    ck_assert_msg(strstr(e.e[0].message, "line 1") != NULL, "%s", e.e[0].message);
    ck_assert_int_eq(
        parse("{\"model\":{\"family\":\"quadratic\",\"family\":\"additive\"}}", &s, &e),
        CODEC_EJSON);
}
END_TEST

START_TEST(test_invalid_utf8_message)
{
    struct codec_spec s;
    struct codec_errors e;
    json_t *j;

    ck_assert_int_eq(parse("{\"\xff\xfe\":1}", &s, &e), CODEC_EJSON);
    ck_assert_int_eq(e.n, 1);
    j = json_string(e.e[0].message);
    ck_assert_ptr_nonnull(j);
    json_decref(j);
}
END_TEST

START_TEST(test_spec_from_json)
{
    json_t *root = json_pack("{s:{s:s}, s:i}", "model", "family", "quadratic", "steps", 3);
    struct codec_spec s;
    struct codec_errors e;

    ck_assert_int_eq(codec_spec_from_json(root, NULL, &s, &e), CODEC_OK);
    ck_assert_int_eq(s.core.steps, 3);
    codec_spec_free(&s);
    json_decref(root);
    ck_assert_int_eq(codec_spec_from_json(NULL, NULL, &s, &e), CODEC_EINVALID);
}
END_TEST

/* ---- canonical form ---------------------------------------------------------- */

START_TEST(test_canonical_text)
{
    char *c;

    c = canonical_of("{\"model\":{\"wavelength\":0.5,\"family\":\"multiplicative\","
                     "\"amplitude\":0.25},\"fit\":{\"min_level\":4}}");
    ck_assert_str_eq(c, "{\"model\":{\"family\":\"multiplicative\",\"dim\":1,\"amplitude\":0.25,"
                        "\"wavelength\":0.5},\"x0\":1.0,\"steps\":1000,\"divergence\":{"
                        "\"criterion\":\"max_loss\",\"threshold\":1e8,\"nan\":"
                        "\"divergent\"},\"lr\":{\"min\":0.0,\"max\":1.5,\"levels\":20},\"fit\":{"
                        "\"min_level\":4,\"max_level\":20,\"min_levels\":3},\"precision\":"
                        "\"fast\",\"replicates\":1,\"optimizer\":{\"name\":\"gd\"},\"output\":{\"max_flips\":10000}}");
    free(c);
    c = canonical_of("{\"name\":\"q\",\"model\":{\"family\":\"quadratic\",\"dim\":2},"
                     "\"x0\":[1,-2]}");
    ck_assert_str_eq(c, "{\"name\":\"q\",\"model\":{\"family\":\"quadratic\",\"dim\":2},"
                        "\"x0\":[1.0,-2.0],\"steps\":1000,\"divergence\":{"
                        "\"criterion\":\"max_loss\",\"threshold\":2e8,\"nan\":"
                        "\"divergent\"},\"lr\":{\"min\":0.0,\"max\":1.5,\"levels\":20},\"fit\":{"
                        "\"min_level\":0,\"max_level\":20,\"min_levels\":3},\"precision\":"
                        "\"fast\",\"replicates\":1,\"optimizer\":{\"name\":\"gd\"},\"output\":{\"max_flips\":10000}}");
    free(c);
    /* Terms: "type" first, every member of the type with its default. */
    c = canonical_of("{\"model\":{\"family\":\"additive\",\"terms\":[{\"width\":0.5,"
                     "\"amplitude\":-0.25,\"type\":\"gauss\"},{\"type\":\"poly\","
                     "\"coefficients\":[0,0,1,-0.5]},{\"wavelength\":1,\"amplitude\":0.01}]}}");
    ck_assert_str_eq(c, "{\"model\":{\"family\":\"additive\",\"dim\":1,\"terms\":[{\"type\":"
                        "\"gauss\",\"amplitude\":-0.25,\"width\":0.5,\"centre\":0.0},{\"type\":"
                        "\"poly\",\"coefficients\":[0.0,0.0,1.0,-0.5],\"scale\":1.0},{\"type\":"
                        "\"cos\",\"amplitude\":0.01,\"wavelength\":1.0}]},\"x0\":1.0,\"steps\":1000,"
                        "\"divergence\":{\"criterion\":\"max_loss\",\"threshold\":1e8,\"nan\":"
                        "\"divergent\"},\"lr\":{\"min\":0.0,\"max\":1.5,\"levels\":20},\"fit\":{"
                        "\"min_level\":0,\"max_level\":20,\"min_levels\":3},\"precision\":"
                        "\"fast\",\"replicates\":1,\"optimizer\":{\"name\":\"gd\"},\"output\":{\"max_flips\":10000}}");
    free(c);
    c = canonical_of("{\"model\":{\"family\":\"multiplicative\",\"terms\":[{\"type\":\"gauss\","
                     "\"amplitude\":1,\"width\":2,\"centre\":-1}]},\"lr\":{\"levels\":4}}");
    ck_assert_ptr_nonnull(strstr(c, "{\"model\":{\"family\":\"multiplicative\",\"dim\":1,"
                                    "\"terms\":[{\"type\":\"gauss\",\"amplitude\":1.0,"
                                    "\"width\":2.0,\"centre\":-1.0}]},\"x0\""));
    free(c);
}
END_TEST

START_TEST(test_canonical_same_meaning)
{
    char *a, *b;

    /* One cosine term and amplitude/wavelength are the same model. */
    a = canonical_of("{\"model\":{\"family\":\"additive\",\"amplitude\":0.2,\"wavelength\":0.1}}");
    b = canonical_of("{\"model\":{\"family\":\"additive\",\"terms\":[{\"wavelength\":0.1,"
                     "\"amplitude\":0.2}]},\"x0\":[1]}");
    ck_assert_str_eq(a, b);
    free(b);
    /* ... and so is one typed cos term, for either family */
    b = canonical_of("{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"cos\","
                     "\"wavelength\":0.1,\"amplitude\":0.2}]}}");
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    a = canonical_of(M "}");
    b = canonical_of("{\"model\":{\"family\":\"multiplicative\",\"terms\":[{\"type\":\"cos\","
                     "\"amplitude\":0.2,\"wavelength\":0.1}]}}");
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    /* several cosines, with "type" or without */
    a = canonical_of("{\"model\":{\"family\":\"additive\",\"terms\":[{\"amplitude\":0.2,"
                     "\"wavelength\":0.1},{\"amplitude\":0.05,\"wavelength\":0.37}]}}");
    b = canonical_of("{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"cos\","
                     "\"amplitude\":0.2,\"wavelength\":0.1},{\"amplitude\":0.05,\"type\":\"cos\","
                     "\"wavelength\":0.37}]}}");
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    /* Defaults written out or left out. */
    a = canonical_of(Q "}");
    b = canonical_of("{\"precision\":\"fast\",\"output\":{\"max_flips\":10000},"
                     "\"fit\":{\"max_level\":20},\"lr\":{\"levels\":20,\"max\":1.5},"
                     "\"steps\":1000,\"x0\":1,\"model\":{\"dim\":1,\"family\":\"quadratic\"},"
                     "\"divergence\":{\"threshold\":1e8,\"nan\":\"divergent\"}}");
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_canonical_round_trip)
{
    static const char *const specs[] = {
        Q "}",
        M "}",
        "{\"model\":{\"family\":\"additive\",\"dim\":3,\"terms\":[{\"amplitude\":0.2,"
        "\"wavelength\":0.1},{\"amplitude\":0.05,\"wavelength\":0.37}]},\"x0\":[0.1,0.2,0.3]}",
        "{\"name\":\"tiny \\\"quoted\\\" \\u00e9\",\"model\":{\"family\":\"multiplicative\","
        "\"amplitude\":5e-324,\"wavelength\":1.7976931348623157e308},\"x0\":-0.0,"
        "\"divergence\":{\"criterion\":\"final_loss\",\"threshold\":0.1,\"nan\":\"bounded\"},"
        "\"lr\":{\"min\":-0.3,\"max\":0.30000000000000004,\"levels\":3},"
        "\"fit\":{\"min_level\":1,\"max_level\":2,\"min_levels\":33},\"output\":{\"max_flips\":0}}",
        "{\"model\":{\"family\":\"quadratic\",\"dim\":4},\"x0\":[1,1,1,-1],\"steps\":1,"
        "\"divergence\":{\"criterion\":\"loss_sum\"}}",
        "{\"model\":{\"family\":\"additive\",\"dim\":2,\"terms\":[{\"type\":\"poly\","
        "\"coefficients\":[1e-300,-0.0,3,0,0,0,0,0,5e-324],\"scale\":0.1},{\"type\":\"gauss\","
        "\"amplitude\":-3,\"width\":1e-3,\"centre\":0.30000000000000004}]}}",
    };
    size_t i;

    for (i = 0; i < sizeof specs / sizeof specs[0]; i++)
        check_round_trip(specs[i]);
}
END_TEST

START_TEST(test_examples_valid)
{
    DIR *d = opendir(TB_EXAMPLES_DIR);
    struct dirent *de;
    char path[1024];
    int seen = 0;

    ck_assert_msg(d != NULL, "cannot open %s (run from the repository root)", TB_EXAMPLES_DIR);
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name), len;
        struct codec_spec s;
        struct codec_errors e;
        char *text, *c;
        int rc;

        if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", TB_EXAMPLES_DIR, de->d_name);
        text = read_file(path, &len);
        rc = codec_parse_spec(text, len, NULL, &s, &e);
        if (rc != CODEC_OK) {
            fprintf(stderr, "%s:\n", path);
            dump_errors(&e);
        }
        ck_assert_msg(rc == CODEC_OK, "%s is not a valid spec", path);
        c = codec_spec_canonical(&s);
        codec_spec_free(&s);
        check_round_trip(c);
        free(c);
        free(text);
        seen++;
    }
    closedir(d);
    ck_assert_int_ge(seen, 6);
}
END_TEST

/* ---- the result ------------------------------------------------------------ */

/* The quadratic's boundary: one flip, in the cell that holds s*. */
static void check_quadratic(double x0, double m, int steps)
{
    char text[512];
    struct codec_spec s;
    uint64_t *labels;
    char *res;
    json_t *j, *counts, *dim, *b, *flips, *v;
    double sstar = (1 + pow(m / (x0 * x0), 1.0 / (2.0 * steps))) / 2, step, flip;
    size_t i;

    snprintf(text, sizeof text,
             "{\"model\":{\"family\":\"quadratic\"},\"x0\":%.17g,\"steps\":%d,"
             "\"divergence\":{\"threshold\":%.17g},\"lr\":{\"levels\":12}}",
             x0, steps, m);
    s = parse_ok(text);
    labels = sweep_all(&s);
    res = codec_result_encode(&s, labels, 0.25);
    ck_assert_ptr_nonnull(res);
    j = load_json(res);

    counts = json_object_get(j, "counts");
    ck_assert_uint_eq(json_array_size(counts), 13);
    json_array_foreach(counts, i, v) ck_assert_int_eq(json_integer_value(v), 1);
    dim = json_object_get(j, "dimension");
    ck_assert_double_eq(json_real_value(json_object_get(dim, "value")), 0.0);
    ck_assert(json_is_false(json_object_get(dim, "fractal")));
    ck_assert_int_eq(json_integer_value(json_object_get(dim, "levels_used")), 0);
    ck_assert(json_is_null(json_object_get(dim, "first_level_used")));
    ck_assert(json_is_null(json_object_get(dim, "last_level_used")));

    b = json_object_get(j, "boundary");
    ck_assert_int_eq(json_integer_value(json_object_get(b, "transitions")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(b, "flips_total")), 1);
    ck_assert(json_is_false(json_object_get(b, "flips_truncated")));
    flips = json_object_get(b, "flips");
    ck_assert_uint_eq(json_array_size(flips), 1);
    step = json_real_value(json_object_get(json_object_get(j, "lr"), "step"));
    ck_assert_double_eq(step, 1.5 / 4096);
    flip = json_real_value(json_array_get(flips, 0));
    ck_assert_msg(fabs(flip - sstar) <= step / 2, "flip %.17g, s* %.17g", flip, sstar);
    v = json_object_get(b, "first_divergent_lr");
    ck_assert_double_eq(json_real_value(v), flip + step / 2);

    v = json_object_get(j, "roughness");
    ck_assert_double_eq(json_real_value(json_object_get(v, "theta")), 0.0);
    ck_assert(json_is_true(json_object_get(v, "convex")));
    ck_assert_double_eq_tol(json_real_value(json_object_get(v, "critical")), 0.0506606, 1e-7);
    ck_assert_double_eq(json_real_value(json_object_get(j, "elapsed_s")), 0.25);

    json_decref(j);
    free(res);
    free(labels);
    codec_spec_free(&s);
}

START_TEST(test_result_quadratic)
{
    check_quadratic(1.0, 1e8, 1000);
    check_quadratic(2.0, 1e6, 100);
    check_quadratic(0.5, 1e10, 50);
    check_quadratic(5.0, 1e16, 1000);
}
END_TEST

/* The result's engine member names the precision and the ISA. */
static void check_engine(const json_t *result, const char *precision, const char *isa)
{
    const json_t *e = json_object_get(result, "engine");

    ck_assert_str_eq(json_string_value(json_object_get(e, "precision")), precision);
    ck_assert_str_eq(json_string_value(json_object_get(e, "isa")), isa);
}

/* Issue 16: typed cos terms are the paper's models, label for label and
 * engine for engine (fast or reference); a poly or gauss term runs on the
 * reference path, which the engine says, with the roughness of its terms. */
START_TEST(test_result_terms)
{
    static const char *const pairs[][2] = {
        {M ",\"lr\":{\"levels\":10}}",
         "{\"model\":{\"family\":\"multiplicative\",\"terms\":[{\"type\":\"cos\","
         "\"amplitude\":0.2,\"wavelength\":0.1}]},\"lr\":{\"levels\":10}}"},
        {"{\"model\":{\"family\":\"additive\",\"terms\":[{\"amplitude\":0.2,\"wavelength\":0.1},"
         "{\"amplitude\":0.05,\"wavelength\":0.37}]},\"lr\":{\"levels\":10},"
         "\"precision\":\"reference\"}",
         "{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"cos\",\"amplitude\":0.2,"
         "\"wavelength\":0.1},{\"type\":\"cos\",\"amplitude\":0.05,\"wavelength\":0.37}]},"
         "\"lr\":{\"levels\":10},\"precision\":\"reference\"}"},
    };
    struct codec_spec s, t;
    uint64_t *a, *b, n;
    char *res;
    json_t *j, *r;
    size_t i;

    for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        s = parse_ok(pairs[i][0]);
        t = parse_ok(pairs[i][1]);
        ck_assert(memcmp(&s.core.model, &t.core.model, sizeof s.core.model) == 0);
        ck_assert_int_eq(tb_engine_precision(&s.core), tb_engine_precision(&t.core));
        n = tb_grid_points(&s.core);
        a = sweep_all(&s);
        b = sweep_all(&t);
        ck_assert(memcmp(a, b, tb_label_words(n) * sizeof *a) == 0);
        free(a);
        free(b);
        codec_spec_free(&s);
        codec_spec_free(&t);
    }

    /* x^2 + 0.1 exp(-x^2 / (2 0.3^2)): a/w^2 = 1.11 <= 2, convex; fast asked */
    s = parse_ok("{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"gauss\","
                 "\"amplitude\":0.1,\"width\":0.3}]},\"lr\":{\"levels\":10}}");
    ck_assert_int_eq(s.core.precision, TB_PRECISION_FAST);
    a = sweep_all(&s);
    res = codec_result_encode(&s, a, 0.0);
    ck_assert_ptr_nonnull(res);
    j = load_json(res);
    check_engine(j, "reference", "libm");
    r = json_object_get(j, "roughness");
    ck_assert_double_eq_tol(json_real_value(json_object_get(r, "theta")), 0.1 / 0.09, 1e-15);
    ck_assert_double_eq(json_real_value(json_object_get(r, "critical")), 2.0);
    ck_assert(json_is_true(json_object_get(r, "convex")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "boundary"),
                                                        "transitions")),
                     1);
    json_decref(j);
    free(res);
    free(a);
    codec_spec_free(&s);

    /* a double well -x^2 + x^4: the deficit 1 - inf f''/2 = 2 > 1 */
    s = parse_ok("{\"model\":{\"family\":\"additive\",\"terms\":[{\"type\":\"poly\","
                 "\"coefficients\":[0,0,-2,0,1]}]},\"lr\":{\"levels\":6}}");
    a = sweep_all(&s);
    res = codec_result_encode(&s, a, 0.0);
    j = load_json(res);
    r = json_object_get(j, "roughness");
    ck_assert_double_eq_tol(json_real_value(json_object_get(r, "theta")), 2.0, 1e-12);
    ck_assert_double_eq(json_real_value(json_object_get(r, "critical")), 1.0);
    ck_assert(json_is_false(json_object_get(r, "convex")));
    json_decref(j);
    free(res);
    free(a);
    codec_spec_free(&s);
}
END_TEST

START_TEST(test_result_layout)
{
    static const char *const keys[] = {
        "name",   "spec",      "lr",       "points",    "divergent_points", "divergent_fraction",
        "counts", "dimension", "boundary", "roughness", "engine",
        "elapsed_s"};
    static const char *const dim_keys[] = {"value",           "stderr",      "r2",
                                           "intercept",       "min_level",   "max_level",
                                           "min_levels",      "levels_used", "first_level_used",
                                           "last_level_used", "fractal",     "warnings",
                                           "replicates",      "spread"};
    static const char *const b_keys[] = {"transitions", "first_divergent_lr", "flips",
                                         "flips_total", "flips_truncated"};
    struct codec_spec s = parse_ok(M ",\"name\":\"m\",\"lr\":{\"levels\":6}}");
    uint64_t *labels = sweep_all(&s);
    char *res = codec_result_encode(&s, labels, 1.0), *canon = codec_spec_canonical(&s), *spec;
    json_t *j = load_json(res);
    void *it;
    size_t i;

    for (i = 0, it = json_object_iter(j); it; it = json_object_iter_next(j, it), i++)
        ck_assert_str_eq(json_object_iter_key(it), keys[i]);
    ck_assert_uint_eq(i, sizeof keys / sizeof keys[0]);
    it = json_object_iter(json_object_get(j, "dimension"));
    for (i = 0; it; it = json_object_iter_next(json_object_get(j, "dimension"), it), i++)
        ck_assert_str_eq(json_object_iter_key(it), dim_keys[i]);
    ck_assert_uint_eq(i, sizeof dim_keys / sizeof dim_keys[0]);
    it = json_object_iter(json_object_get(j, "boundary"));
    for (i = 0; it; it = json_object_iter_next(json_object_get(j, "boundary"), it), i++)
        ck_assert_str_eq(json_object_iter_key(it), b_keys[i]);
    ck_assert_uint_eq(i, sizeof b_keys / sizeof b_keys[0]);

    /* The spec member is the canonical spec, byte for byte. */
    spec = jsonfmt_dumps(json_object_get(j, "spec"), JSON_COMPACT | JSON_PRESERVE_ORDER);
    ck_assert_str_eq(spec, canon);
    ck_assert_ptr_nonnull(strstr(res, canon));
    /* Compact: no whitespace outside strings (the name has none). */
    ck_assert_ptr_null(strchr(res, ' '));
    ck_assert_ptr_null(strchr(res, '\n'));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "points")), 65);
    ck_assert(json_is_null(json_object_get(json_object_get(j, "roughness"), "critical")));
    ck_assert(json_is_false(json_object_get(json_object_get(j, "roughness"), "convex")));
    /* The default engine is the fast path, on the ISA this CPU runs. */
    check_engine(j, "fast", tb_fast_isa(TB_ISA_BEST));

    free(spec);
    free(canon);
    json_decref(j);
    free(res);
    /* No name: no name member. */
    codec_spec_free(&s);
    s = parse_ok(M ",\"lr\":{\"levels\":6}}");
    res = codec_result_encode(&s, labels, NAN);
    j = load_json(res);
    ck_assert_str_eq(json_object_iter_key(json_object_iter(j)), "spec");
    json_decref(j);
    free(res);
    codec_spec_free(&s);
    /* The reference path says so, and that libm ran it. */
    s = parse_ok(M ",\"lr\":{\"levels\":6},\"precision\":\"reference\"}");
    res = codec_result_encode(&s, labels, NAN);
    j = load_json(res);
    check_engine(j, "reference", "libm");
    ck_assert(json_is_null(json_object_get(j, "elapsed_s")));
    json_decref(j);
    free(res);
    ck_assert_ptr_null(codec_result_encode(&s, NULL, 0));
    free(labels);
    codec_spec_free(&s);
}
END_TEST

/* A fractal D above 1 (the line's own dimension) carries a warning that
 * names the window; D <= 1, or no fractal, carries none. */
START_TEST(test_fit_warnings)
{
    struct tb_fit fit;
    json_t *w;
    const char *msg;

    memset(&fit, 0, sizeof fit);
    fit.fractal = 1;
    fit.value = 1.11;
    fit.first_used = 11;
    fit.last_used = 16;
    w = codec_fit_warnings(&fit);
    ck_assert_uint_eq(json_array_size(w), 1);
    msg = json_string_value(json_array_get(w, 0));
    ck_assert_ptr_nonnull(strstr(msg, "D = 1.11 exceeds 1"));
    ck_assert_ptr_nonnull(strstr(msg, "levels 11..16"));
    ck_assert_ptr_nonnull(strstr(msg, "pre-asymptotic"));
    json_decref(w);
    fit.value = 1.0;
    w = codec_fit_warnings(&fit);
    ck_assert_uint_eq(json_array_size(w), 0);
    json_decref(w);
    fit.value = 1.5;
    fit.fractal = 0;
    w = codec_fit_warnings(&fit);
    ck_assert_uint_eq(json_array_size(w), 0);
    json_decref(w);
}
END_TEST

START_TEST(test_result_multiplicative)
{
    static const json_int_t want[] = {1, 1, 1, 1, 3, 5, 7, 13, 21, 27, 57};
    struct codec_spec s = parse_ok(M ",\"lr\":{\"levels\":10},\"fit\":{\"min_level\":4},"
                                   "\"precision\":\"reference\"}");
    uint64_t *labels = sweep_all(&s), pos = 0, idx[64];
    struct codec_analysis a;
    char *r1 = codec_result_encode(&s, labels, 2.0), *r2;
    json_t *j = load_json(r1), *counts, *flips, *dim;
    size_t i, n;

    counts = json_object_get(j, "counts");
    ck_assert_uint_eq(json_array_size(counts), 11);
    for (i = 0; i < 11; i++)
        ck_assert_int_eq(json_integer_value(json_array_get(counts, i)), want[i]);
    dim = json_object_get(j, "dimension");
    ck_assert(json_is_true(json_object_get(dim, "fractal")));
    ck_assert_int_eq(json_integer_value(json_object_get(dim, "levels_used")), 7);
    ck_assert_int_eq(json_integer_value(json_object_get(dim, "first_level_used")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(dim, "last_level_used")), 10);

    /* Every flip is the midpoint of the cell tb_flips_next() names. */
    flips = json_object_get(json_object_get(j, "boundary"), "flips");
    ck_assert_uint_eq(json_array_size(flips), 57);
    n = tb_flips_next(labels, 1025, &pos, idx, 64);
    ck_assert_uint_eq(n, 57);
    for (i = 0; i < n; i++)
        ck_assert_double_eq(json_real_value(json_array_get(flips, i)),
                            0.0 + ((double)idx[i] + 0.5) * (1.5 / 1024));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "divergent_points")),
                     (json_int_t)tb_labels_popcount(labels, 1025));

    /* The two entry points print the same bytes. */
    ck_assert_int_eq(codec_analyze(&s, labels, &a), CODEC_OK);
    r2 = codec_result_encode_analysis(&s, &a, 2.0);
    ck_assert_str_eq(r1, r2);
    codec_analysis_free(&a);
    free(r2);
    json_decref(j);
    free(r1);
    free(labels);
    codec_spec_free(&s);
}
END_TEST

START_TEST(test_result_flips_truncated)
{
    struct codec_spec s;
    uint64_t *labels;
    char *res;
    json_t *j, *b;

    s = parse_ok(M ",\"lr\":{\"levels\":10},\"output\":{\"max_flips\":5},"
                    "\"precision\":\"reference\"}");
    labels = sweep_all(&s);
    res = codec_result_encode(&s, labels, 0);
    j = load_json(res);
    b = json_object_get(j, "boundary");
    ck_assert_uint_eq(json_array_size(json_object_get(b, "flips")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(b, "flips_total")), 57);
    ck_assert(json_is_true(json_object_get(b, "flips_truncated")));
    json_decref(j);
    free(res);
    codec_spec_free(&s);

    s = parse_ok(M ",\"lr\":{\"levels\":10},\"output\":{\"max_flips\":0}}");
    res = codec_result_encode(&s, labels, 0);
    ck_assert_ptr_nonnull(strstr(res, "\"flips\":[],"));
    j = load_json(res);
    b = json_object_get(j, "boundary");
    ck_assert(json_is_true(json_object_get(b, "flips_truncated")));
    json_decref(j);
    free(res);
    codec_spec_free(&s);
    free(labels);
}
END_TEST

START_TEST(test_dimension_json)
{
    uint64_t counts[5] = {1, 2, 4, 8, 16};
    struct tb_fit_opts o = {.min_level = 0, .max_level = 4, .min_levels = 3};
    struct tb_fit f;
    json_t *d;

    ck_assert_int_eq(tb_fit_dimension(counts, 4, &o, &f), TB_OK);
    d = codec_dimension_json(&f, &o);
    ck_assert_ptr_nonnull(d);
    ck_assert_double_eq_tol(json_real_value(json_object_get(d, "value")), 1.0, 1e-12);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "levels_used")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "first_level_used")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(d, "min_levels")), 3);
    json_decref(d);
}
END_TEST

static Suite *codec_suite(void)
{
    TCase *tr;
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("spec");

    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_default_threshold);
    tcase_add_test(tc, test_fields_resolved);
    tcase_add_loop_test(tc, test_bad_spec, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, test_error_pointer);
    tcase_add_test(tc, test_all_errors_collected);
    tcase_add_test(tc, test_errors_truncated);
    tcase_add_test(tc, test_too_many_terms_and_long_name);
    tcase_add_test(tc, test_long_key_truncated_utf8);
    tcase_add_test(tc, test_custom_limits);
    tcase_add_test(tc, test_malformed_json);
    tcase_add_test(tc, test_huge_number);
    tcase_add_test(tc, test_duplicate_key);
    tcase_add_test(tc, test_invalid_utf8_message);
    tcase_add_test(tc, test_spec_from_json);
    suite_add_tcase(s, tc);

    tc = tcase_create("canonical");
    tcase_add_test(tc, test_canonical_text);
    tcase_add_test(tc, test_canonical_same_meaning);
    tcase_add_test(tc, test_canonical_round_trip);
    tcase_add_test(tc, test_examples_valid);
    suite_add_tcase(s, tc);

    tc = tcase_create("result");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_result_quadratic);
    tcase_add_test(tc, test_result_layout);
    tcase_add_test(tc, test_result_terms);
    tcase_add_test(tc, test_fit_warnings);
    tcase_add_test(tc, test_result_multiplicative);
    tcase_add_test(tc, test_result_flips_truncated);
    tcase_add_test(tc, test_dimension_json);
    suite_add_tcase(s, tc);
    tr = tcase_create("replicates");
    tcase_add_test(tr, test_spread_stats);
    tcase_add_test(tr, test_spread_verdict);
    tcase_add_test(tr, test_result_replicates);
    suite_add_tcase(s, tr);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(codec_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
