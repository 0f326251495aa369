/*
 * test_fast.c - unit tests for core/fast.c and fast_kernel.h, the SIMD
 * fast path ("precision": "fast").
 *
 * Covers: every family, d = 1 and d > 1, several cosine terms, and every
 * criterion and NaN policy agree with the reference path on at least 99%
 * of the labels of a chaotic grid (they may differ only where the
 * dynamics are chaotic), and exactly on regular ones (the quadratic, a
 * convex additive loss); science.md's multiplicative counts at levels 0-9
 * hold; labels do not depend on the tile split; lane-steps are counted
 * like the reference's on regular grids; every ISA this CPU has (capped
 * with isa_cap) is checked; proofs end runs early without changing a
 * label; heavy ball and Nesterov agree with the reference; cancel works; the vector sin/cos stay
 * within 2.5e-16 of libm.
 */
#include <check.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tb_int.h"
#include "tbtest.h"

/* The ISA caps this CPU can run. */
static int isa_count(enum tb_isa *out)
{
    static const enum tb_isa all[] = {TB_ISA_SSE2, TB_ISA_AVX2, TB_ISA_AVX512};
    static const char *names[] = {"sse2", "avx2", "avx512"};
    int n = 0, k;

    for (k = 0; k < 3; k++)
        if (strcmp(tb_fast_isa(all[k]), names[k]) == 0)
            out[n++] = all[k];
    return n;
}

static uint64_t *sweep_with(struct tb_spec s, enum tb_precision p, enum tb_isa cap,
                            struct tb_tile_stats *st)
{
    uint64_t n = tb_grid_points(&s), *b = tbt_labels_alloc(n);

    s.precision = p;
    s.isa_cap = cap;
    ck_assert_int_eq(tb_sweep_tile(&s, 0, n, b, NULL, NULL, NULL, st), TB_OK);
    return b;
}

/* Compares the fast path on every ISA with the reference; returns the
 * largest number of differing labels. */
static uint64_t worst_diff(const struct tb_spec *s)
{
    enum tb_isa isas[3];
    int k, n = isa_count(isas);
    uint64_t pts = tb_grid_points(s), worst = 0;
    uint64_t *ref = sweep_with(*s, TB_PRECISION_REFERENCE, TB_ISA_BEST, NULL);

    ck_assert_int_ge(n, 1);
    for (k = 0; k < n; k++) {
        uint64_t *f = sweep_with(*s, TB_PRECISION_FAST, isas[k], NULL);
        uint64_t d = tbt_label_diff(ref, f, pts);
        if (d > worst)
            worst = d;
        free(f);
    }
    free(ref);
    return worst;
}

/* Each case's fast labels, on every ISA, differ from the reference on at
 * most 1% of the points. */
static void agree_on_99_percent(const struct tb_spec *cases, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        uint64_t pts = tb_grid_points(&cases[i]);
        uint64_t d = worst_diff(&cases[i]);
        ck_assert_msg(d * 100 <= pts, "case %d: %llu of %llu labels differ", i,
                      (unsigned long long)d, (unsigned long long)pts);
    }
}

START_TEST(regular_cases_exact)
{
    struct tb_spec q = tbt_spec_quadratic(1.0, 1e8, 1000, 12);
    struct tb_spec c = tbt_spec_additive(0.01, 1.0, 12); /* convex */
    struct tb_spec qd = q;

    ck_assert_uint_eq(worst_diff(&q), 0);
    ck_assert_uint_eq(worst_diff(&c), 0);
    qd.model.dim = 4;
    qd.threshold = 4e8;
    ck_assert_uint_eq(worst_diff(&qd), 0);
    /* the other criteria on the quadratic */
    q.criterion = TB_LOSS_SUM;
    q.threshold = 1e16;
    ck_assert_uint_eq(worst_diff(&q), 0);
    q.criterion = TB_FINAL_LOSS;
    q.threshold = 1e8;
    ck_assert_uint_eq(worst_diff(&q), 0);
}
END_TEST

START_TEST(chaotic_cases_agree)
{
    struct tb_spec cases[8];
    int n = 0;

    cases[n++] = tbt_spec_multiplicative(0.2, 0.1, 12);
    cases[n] = tbt_spec_additive(0.2, 0.1, 12);
    cases[n].x0_scalar = 5.0;
    cases[n].criterion = TB_LOSS_SUM;
    cases[n++].threshold = 1e16;
    cases[n] = tbt_spec_additive(0.2, 0.1, 12);
    cases[n].model.dim = 3;
    cases[n].x0_scalar = 1.0 / 3;
    cases[n++].threshold = 3e8;
    cases[n] = tbt_spec_additive(0.2, 0.1, 12);
    cases[n].model.n_terms = 2;
    cases[n].model.terms[1].amplitude = 0.05;
    cases[n++].model.terms[1].wavelength = 0.37;
    cases[n] = tbt_spec_multiplicative(0.2, 0.1, 12);
    cases[n].model.dim = 2;
    cases[n].x0_scalar = 0.5;
    cases[n++].threshold = 2e8;
    cases[n] = tbt_spec_multiplicative(0.2, 0.1, 10);
    cases[n].model.dim = 8; /* eps*d > 1: unbounded below, NaNs */
    cases[n].x0_scalar = 2.0;
    cases[n++].nan_policy = TB_NAN_BOUNDED;
    cases[n] = tbt_spec_multiplicative(0.2, 0.1, 10);
    cases[n].model.dim = 8;
    cases[n++].x0_scalar = 2.0;
    cases[n] = tbt_spec_additive(0.2, 0.1, 12);
    cases[n].model.dim = 2;
    cases[n].x0_scalar = 5.0;
    cases[n].criterion = TB_FINAL_LOSS;
    cases[n++].threshold = 1e8;

    agree_on_99_percent(cases, n);
}
END_TEST

/* The 1-D kernel's modes: lean (max loss, NaN divergent) including lanes
 * whose phase leaves the vector sine's range (x0 = 3e4 with a 1e16
 * threshold; a 1e14 multiplicative threshold), and the general loop (NaN
 * bounded; eps > 1, where the loss is unbounded below). */
START_TEST(one_dim_modes_agree)
{
    struct tb_spec cases[6];
    int n = 0;

    cases[n++] = tbt_spec_additive(0.2, 0.1, 12);
    cases[n] = tbt_spec_additive(0.2, 0.1, 12);
    cases[n++].nan_policy = TB_NAN_BOUNDED;
    cases[n] = tbt_spec_additive(0.2, 0.1, 12);
    cases[n].x0_scalar = 3e4;
    cases[n++].threshold = 1e16;
    cases[n] = tbt_spec_multiplicative(0.2, 0.1, 12);
    cases[n++].threshold = 1e14;
    cases[n] = tbt_spec_multiplicative(1.5, 0.1, 12);
    cases[n++].x0_scalar = 0.3;
    cases[n] = tbt_spec_multiplicative(1.5, 0.1, 12);
    cases[n].x0_scalar = 0.3;
    cases[n++].nan_policy = TB_NAN_BOUNDED;
    agree_on_99_percent(cases, n);
}
END_TEST

START_TEST(reference_counts)
{
    struct tb_spec s = tbt_spec_reference(12);
    static const uint64_t want[10] = {1, 1, 1, 1, 3, 5, 7, 13, 21, 27};
    uint64_t counts[TB_MAX_LEVELS + 1], *b;
    struct tb_tile_stats st;
    int n;

    /* On FMA hardware (AVX2, AVX-512) the fast path keeps science.md's exact
     * counts at levels 0-9; SSE2 has no FMA and may differ by a few there. */
    if (strcmp(tb_fast_isa(TB_ISA_BEST), "sse2") == 0)
        return;
    b = sweep_with(s, TB_PRECISION_FAST, TB_ISA_BEST, &st);
    ck_assert_int_eq(tb_box_counts(b, 12, counts), TB_OK);
    for (n = 0; n < 10; n++)
        ck_assert_uint_eq(counts[n], want[n]);
    ck_assert_uint_eq(st.points, tb_grid_points(&s));
    ck_assert_uint_eq(st.divergent, tb_labels_popcount(b, st.points));
    free(b);
}
END_TEST

/* Heavy ball and Nesterov on the fast path (loop_1d_mom): the quadratic's
 * labels are the reference's exactly, on grids crossing each rule's edge;
 * the cosine families agree on 99% of a chaotic grid, on every ISA; the
 * engine is the fast path for them, and the reference for Adam and for
 * the criteria without a lean loop. */
START_TEST(momentum_fast_path)
{
    static const double betas[] = {0.0, 0.3, 0.9};
    struct tb_spec cases[3];
    int k, i, c;

    for (k = TB_OPT_MOMENTUM; k <= TB_OPT_NESTEROV; k++) {
        for (i = 0; i < 3; i++) {
            struct tb_spec q = tbt_spec_quadratic(1.0, 1e8, 1000, 12);

            q.axes[0].max = 2.5;
            q.opt.kind = (enum tb_opt_kind)k;
            q.opt.beta = betas[i];
            q.precision = TB_PRECISION_FAST;
            ck_assert_int_eq(tb_engine_precision(&q), TB_PRECISION_FAST);
            ck_assert_uint_eq(worst_diff(&q), 0);
        }
        cases[0] = tbt_spec_additive(0.2, 0.1, 12);
        cases[1] = tbt_spec_multiplicative(0.2, 0.1, 12);
        cases[2] = tbt_spec_additive(0.05, 0.3, 12);
        for (c = 0; c < 3; c++) {
            cases[c].axes[0].max = 3.0;
            cases[c].opt.kind = (enum tb_opt_kind)k;
            cases[c].opt.beta = 0.5;
        }
        agree_on_99_percent(cases, 3);
        cases[0].criterion = TB_LOSS_SUM;
        cases[0].precision = TB_PRECISION_FAST;
        ck_assert_int_eq(tb_engine_precision(&cases[0]), TB_PRECISION_REFERENCE);
    }
}
END_TEST

/* The share of a grid's points that the reference path calls divergent,
 * in parts per thousand. */
static uint64_t divergent_permille(const struct tb_spec *s)
{
    uint64_t n = tb_grid_points(s);
    uint64_t *b = sweep_with(*s, TB_PRECISION_REFERENCE, TB_ISA_BEST, NULL);
    uint64_t d = tb_labels_popcount(b, n);

    free(b);
    return d * 1000 / n;
}

/* Where a grid is chaotic, a 1-ulp change of x0 alone moves labels on the
 * reference path; the fast path (its own sine, FMA contractions) can do no
 * better than that. Each case's fast labels, on every ISA, differ from the
 * reference on at most 1% of the points or on at most twice as many as the
 * reference's own labels move when x0 moves by one ulp. */
static void agree_within_chaos(const struct tb_spec *cases, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        struct tb_spec nudged = cases[i];
        uint64_t pts = tb_grid_points(&cases[i]);
        uint64_t *ref = sweep_with(cases[i], TB_PRECISION_REFERENCE, TB_ISA_BEST, NULL);
        uint64_t *moved, self, d;

        nudged.x0_scalar = nextafter(nudged.x0_scalar, INFINITY);
        moved = sweep_with(nudged, TB_PRECISION_REFERENCE, TB_ISA_BEST, NULL);
        self = tbt_label_diff(ref, moved, pts);
        d = worst_diff(&cases[i]);
        ck_assert_msg(d * 100 <= pts || d <= 2 * self,
                      "case %d: %llu of %llu labels differ (a 1-ulp x0 moves %llu)", i,
                      (unsigned long long)d, (unsigned long long)pts, (unsigned long long)self);
        free(ref);
        free(moved);
    }
}

/* Adam on the fast path (loop_1d_adam, lean criterion only): on every ISA
 * each family's labels agree with the reference's (within the chaos bound
 * above) on grids that cross Adam's edges, for the usual and for other betas and eps; a
 * loss-sum criterion stays on the reference path. Adam's first step is
 * about s long whatever the gradient, so with max_loss 1e2 on x^2 from
 * x0 = 1 its edge sits near s = 11: lr [0, 30] holds both outcomes, and
 * the test checks that each case has at least 5% of each. */
START_TEST(adam_fast_path)
{
    struct tb_spec cases[6];
    int c;

    cases[0] = tbt_spec_quadratic(1.0, 1e8, 1000, 12);
    cases[1] = tbt_spec_additive(0.2, 0.1, 12);
    cases[2] = tbt_spec_multiplicative(0.2, 0.1, 12);
    cases[3] = tbt_spec_additive(0.05, 0.3, 12);
    cases[4] = tbt_spec_multiplicative(0.05, 0.3, 12);
    cases[5] = tbt_spec_additive(0.2, 0.1, 12);
    for (c = 0; c < 6; c++) {
        cases[c].opt.kind = TB_OPT_ADAM;
        cases[c].opt.beta1 = 0.9;
        cases[c].opt.beta2 = 0.999;
        cases[c].opt.eps = 1e-8;
        cases[c].axes[0].max = 30.0;
        cases[c].threshold = 1e2;
        cases[c].precision = TB_PRECISION_FAST;
        ck_assert_int_eq(tb_engine_precision(&cases[c]), TB_PRECISION_FAST);
    }
    cases[3].opt.beta1 = 0.5;
    cases[4].opt.beta2 = 0.9;
    cases[5].opt.eps = 0.1;
    cases[5].x0_scalar = 3.0;
    for (c = 0; c < 6; c++) {
        uint64_t pm = divergent_permille(&cases[c]);
        ck_assert_msg(pm >= 50 && pm <= 950, "case %d: %llu permille divergent", c,
                      (unsigned long long)pm);
    }
    agree_within_chaos(cases, 6);
    cases[1].criterion = TB_LOSS_SUM;
    cases[1].threshold = 1e16;
    ck_assert_int_eq(tb_engine_precision(&cases[1]), TB_PRECISION_REFERENCE);
}
END_TEST

START_TEST(tile_invariance_and_stats)
{
    struct tb_spec s = tbt_spec_multiplicative(0.2, 0.1, 11);
    uint64_t n = tb_grid_points(&s), begin, tile = 448;
    uint64_t *whole, *tiled = tbt_labels_alloc(n), *buf = tbt_labels_alloc(tile);
    struct tb_tile_stats st, part;
    uint64_t steps = 0, div = 0;

    s.precision = TB_PRECISION_FAST;
    whole = sweep_with(s, TB_PRECISION_FAST, TB_ISA_BEST, &st);
    for (begin = 0; begin < n; begin += tile) {
        uint64_t cnt = n - begin < tile ? n - begin : tile;
        ck_assert_int_eq(tb_sweep_tile(&s, begin, cnt, buf, NULL, NULL, NULL, &part), TB_OK);
        tb_labels_put(tiled, begin, buf, cnt);
        steps += part.lane_steps;
        div += part.divergent;
    }
    ck_assert_uint_eq(tbt_label_diff(whole, tiled, n), 0);
    ck_assert_uint_eq(steps, st.lane_steps);
    ck_assert_uint_eq(div, st.divergent);
    free(whole);
    free(tiled);
    free(buf);
}
END_TEST

START_TEST(lane_steps_match_reference_when_regular)
{
    struct tb_spec q = tbt_spec_quadratic(1.0, 1e8, 1000, 10);
    struct tb_tile_stats a, b;

    setenv("TRAINBOUND_PROOFS", "off", 1); /* every run to its end, like the reference */
    uint64_t *x = sweep_with(q, TB_PRECISION_REFERENCE, TB_ISA_BEST, &a);
    uint64_t *y = sweep_with(q, TB_PRECISION_FAST, TB_ISA_BEST, &b);

    ck_assert_uint_eq(a.lane_steps, b.lane_steps);
    free(x);
    free(y);
    q.model.dim = 3;
    q.threshold = 3e8;
    x = sweep_with(q, TB_PRECISION_REFERENCE, TB_ISA_BEST, &a);
    y = sweep_with(q, TB_PRECISION_FAST, TB_ISA_BEST, &b);
    ck_assert_uint_eq(a.lane_steps, b.lane_steps);
    free(x);
    free(y);
    unsetenv("TRAINBOUND_PROOFS");
}
END_TEST

/* The cases of proofs_keep_labels: the paper's two, other amplitudes,
 * signs, wavelengths, starts and thresholds, every criterion, and grids
 * reaching negative rates and rates past 2. */
static int proof_cases(struct tb_spec *c)
{
    int n = 0, k;

    c[n++] = tbt_spec_additive(0.2, 0.1, 13);
    c[n++] = tbt_spec_multiplicative(0.2, 0.1, 13);
    c[n] = tbt_spec_additive(-0.3, 0.37, 12);
    c[n].x0_scalar = 5.0;
    c[n++].threshold = 1e4;
    c[n] = tbt_spec_additive(0.01, 0.5, 12); /* convex: theta = 0.04 */
    c[n].axes[0].min = -0.5;
    c[n++].axes[0].max = 2.5;
    c[n] = tbt_spec_multiplicative(0.05, 0.3, 12);
    c[n].x0_scalar = 3.0;
    c[n++].threshold = 1e3;
    c[n] = tbt_spec_multiplicative(-0.4, 0.07, 12);
    c[n].x0_scalar = 0.3;
    c[n].axes[0].min = -0.2;
    c[n++].axes[0].max = 1.9;
    c[n] = tbt_spec_multiplicative(0.9, 1.3, 12);
    c[n++].x0_scalar = -2.0;
    c[n++] = tbt_spec_quadratic(1.0, 1e8, 1000, 12);
    c[n] = tbt_spec_additive(0.2, 0.1, 12); /* [L]'s GPU criterion, x0 = 5 */
    c[n].x0_scalar = 5.0;
    c[n].criterion = TB_LOSS_SUM;
    c[n++].threshold = 1e16;
    c[n] = tbt_spec_additive(0.3, 0.2, 12);
    c[n].criterion = TB_LOSS_SUM;
    c[n++].threshold = 2e3; /* tight: the sum bound decides */
    c[n] = tbt_spec_additive(0.1, 0.05, 12);
    c[n].criterion = TB_FINAL_LOSS;
    c[n].nan_policy = TB_NAN_BOUNDED;
    c[n].axes[0].max = 2.2;
    c[n++].threshold = 50.0;
    c[n] = tbt_spec_quadratic(7.0, 60.0, 300, 11);
    c[n].axes[0].min = -1.0;
    c[n++].axes[0].max = 3.0;
    for (k = 0; k < n; k++)
        c[k].precision = TB_PRECISION_FAST;
    return n;
}

/* Proofs (fast.c) end runs early but never change a label: on every ISA,
 * the labels and the divergent count with proofs are those of the same
 * sweep run to the end (TRAINBOUND_PROOFS=off), for any tile split; the
 * proofs do fire on the paper's cases and save most of their steps; with
 * them off nothing is proved. */
START_TEST(proofs_keep_labels)
{
    struct tb_spec cases[16];
    enum tb_isa isas[3];
    int nc = proof_cases(cases), ni = isa_count(isas), c, k;

    for (c = 0; c < nc; c++) {
        uint64_t n = tb_grid_points(&cases[c]);

        for (k = 0; k < ni; k++) {
            struct tb_tile_stats on, off, part;
            uint64_t *a, *b, *t = tbt_labels_alloc(n), *buf = tbt_labels_alloc(300), begin;

            setenv("TRAINBOUND_PROOFS", "off", 1);
            b = sweep_with(cases[c], TB_PRECISION_FAST, isas[k], &off);
            unsetenv("TRAINBOUND_PROOFS");
            a = sweep_with(cases[c], TB_PRECISION_FAST, isas[k], &on);
            ck_assert_msg(tbt_label_diff(a, b, n) == 0, "case %d isa %d: %llu labels differ", c, k,
                          (unsigned long long)tbt_label_diff(a, b, n));
            ck_assert_uint_eq(on.divergent, off.divergent);
            ck_assert_uint_eq(off.proved, 0);
            ck_assert_uint_le(on.lane_steps, off.lane_steps);
            if (c < 2) { /* [L]'s cases: most steps are proved away */
                ck_assert_uint_gt(on.proved * 4, n);
                ck_assert_uint_lt(on.lane_steps * 3, off.lane_steps);
            }
            for (begin = 0; begin < n; begin += 300) {
                uint64_t cnt = n - begin < 300 ? n - begin : 300;
                cases[c].isa_cap = isas[k];
                ck_assert_int_eq(tb_sweep_tile(&cases[c], begin, cnt, buf, NULL, NULL, NULL, &part),
                                 TB_OK);
                tb_labels_put(t, begin, buf, cnt);
            }
            ck_assert_uint_eq(tbt_label_diff(a, t, n), 0);
            free(a);
            free(b);
            free(t);
            free(buf);
        }
    }
}
END_TEST

START_TEST(cancel_stops)
{
    struct tb_spec s = tbt_spec_additive(0.2, 0.1, 14);
    uint64_t n = tb_grid_points(&s), *b = tbt_labels_alloc(n);
    atomic_int cancel;

    atomic_init(&cancel, 1);
    s.precision = TB_PRECISION_FAST;
    ck_assert_int_eq(tb_sweep_tile(&s, 0, n, b, &cancel, NULL, NULL, NULL), TB_ECANCELED);
    s.model.dim = 2;
    s.threshold = 2e8;
    ck_assert_int_eq(tb_sweep_tile(&s, 0, n, b, &cancel, NULL, NULL, NULL), TB_ECANCELED);
    free(b);
}
END_TEST

/* The vector sin/cos against libm on every ISA: within 2.5e-16 absolute
 * (about 2 ulp below 1) over the reduced range, near multiples of pi/2
 * and up to the 1.5e6 range limit; libm's own values past it, and NaN for
 * NaN and inf. */
START_TEST(sincos_matches_libm)
{
    enum tb_isa isas[3];
    int k, n_isa = isa_count(isas);
    const size_t n = 200000;
    double *x = malloc(n * sizeof *x), *s = malloc(n * sizeof *s), *c = malloc(n * sizeof *c);
    uint64_t seed = 12345;
    size_t j;

    ck_assert(x && s && c);
    for (j = 0; j < n; j++) {
        double u;
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        u = (double)(seed >> 11) * 0x1p-53 * 2.0 - 1.0; /* [-1, 1) */
        switch (j % 5) {
        case 0:
            x[j] = u * 4.0;
            break;
        case 1:
            x[j] = u * 1e4;
            break;
        case 2:
            x[j] = u * 1.5e6;
            break;
        case 3: /* within 1e-6 of a multiple of pi/2 */
            x[j] = (double)(long)(u * 1e5) * (M_PI / 2) + u * 1e-6;
            break;
        default:
            x[j] = u * 1e-3;
            break;
        }
    }
    x[0] = 0.0;
    x[1] = -0.0;
    x[2] = 2e6;
    x[3] = -1e300;
    x[4] = INFINITY;
    x[5] = NAN;
    x[6] = 1.5e6;
    for (k = 0; k < n_isa; k++) {
        double worst = 0.0;
        tb__fast_sincos(isas[k], x, s, c, n);
        for (j = 0; j < n; j++) {
            if (!isfinite(x[j])) {
                ck_assert(isnan(s[j]) && isnan(c[j]));
                continue;
            }
            if (fabs(x[j]) > 1.5e6) {
                ck_assert(s[j] == sin(x[j]) && c[j] == cos(x[j]));
                continue;
            }
            worst = fmax(worst, fmax(fabs(s[j] - sin(x[j])), fabs(c[j] - cos(x[j]))));
            if (fabs(x[j]) < 1e-3) /* sin stays accurate relative to |x| near 0 */
                ck_assert_msg(fabs(s[j] - sin(x[j])) <= 0x1p-52 * fabs(x[j]), "x=%a", x[j]);
        }
        ck_assert_msg(worst <= 2.5e-16, "isa %d: worst abs error %g", (int)isas[k], worst);
    }
    ck_assert(s[0] == 0.0 && c[0] == 1.0);
    free(x);
    free(s);
    free(c);
}
END_TEST

START_TEST(isa_names)
{
    const char *best = tb_fast_isa(TB_ISA_BEST);

    ck_assert(strcmp(best, "sse2") == 0 || strcmp(best, "avx2") == 0 ||
              strcmp(best, "avx512") == 0);
    ck_assert_str_eq(tb_fast_isa(TB_ISA_SSE2), "sse2");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core/fast");
    TCase *tc = tcase_create("fast");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, regular_cases_exact);
    tcase_add_test(tc, chaotic_cases_agree);
    tcase_add_test(tc, one_dim_modes_agree);
    tcase_add_test(tc, reference_counts);
    tcase_add_test(tc, tile_invariance_and_stats);
    tcase_add_test(tc, lane_steps_match_reference_when_regular);
    tcase_add_test(tc, proofs_keep_labels);
    tcase_add_test(tc, momentum_fast_path);
    tcase_add_test(tc, adam_fast_path);
    tcase_add_test(tc, cancel_stops);
    tcase_add_test(tc, sincos_matches_libm);
    tcase_add_test(tc, isa_names);
    suite_add_tcase(s, tc);
    return tbt_run_suite(s);
}
