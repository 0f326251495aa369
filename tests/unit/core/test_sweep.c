/*
 * test_sweep.c - unit tests for core/sweep.c (reference precision).
 *
 * Covers, against science.md:
 *  - the pure quadratic, where every label is known in closed form, under
 *    all three criteria (B(n) = 1, D = 0, the flip cell holds s*), a
 *    boundary that falls exactly on a grid point, and the early stop
 *    (tile stats' lane_steps);
 *  - the convex additive case (one boundary, D = 0);
 *  - the multiplicative reference counts (levels 0-9 exactly) and, at
 *    K = 20, the reference dimension;
 *  - the exact d-dimensional reductions of science.md 1;
 *  - labels independent of the tile split and of the number of threads;
 *  - the sweep against a naive loop built on tb_loss/tb_grad, bit for bit;
 *  - glibc sincos() against sin() and cos(), bit for bit;
 *  - the NaN policy with each criterion, on cases built to hit NaN and -inf;
 *  - the tile API: cancel, progress, stats, argument checks, tb_labels_put,
 *    tb_labels_get;
 *  - replicates: replicate r is the one-replicate sweep from x0 moved r
 *    ulps (scalar and vector x0, both precisions), whatever the tile split;
 *    a regular case gives the same counts in every replicate.
 */
#define _GNU_SOURCE /* sincos */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"
#include "tbtest.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_uniform(double lo, double hi)
{
    return lo + (hi - lo) * ((double)(rng_next() >> 11) * 0x1.0p-53);
}

static struct tb_fit_opts full_window(int levels)
{
    struct tb_fit_opts o = {0, levels, 3};
    return o;
}

/* ---- the pure quadratic: every label in closed form --------------------- */

/*
 * GD on x^2 from x0: x_t = (1-2s)^t x0, so f_t = a^(2t) x0^2 with
 * a = |1-2s|. f_t is monotone in t: largest at t = 1 when a < 1 and at
 * t = T when a > 1. Hence, with M the threshold:
 *   max_loss   divergent iff x0^2 max(a^2, a^(2T)) > M      (strict)
 *   final_loss divergent iff x0^2 a^(2T) >= M
 *   loss_sum   divergent iff x0^2 sum_{t=1..T} a^(2t) >= M (all terms >= 0,
 *              so stopping once the sum passes changes nothing)
 * quad_margin returns log(quantity) - log(M) in long double; the label is
 * margin > 0 (max_loss) or margin >= 0 (the others). Points with
 * |margin| < 1e-9 are too close to call in double and are skipped: the
 * sweep's own rounding (~T ulps in f) is ~1e-13 relative.
 */
static long double quad_margin(enum tb_criterion c, double x0, double M, int T, double s)
{
    long double a = fabsl(1.0L - 2.0L * (long double)s), la, lx, lf;
    int t;

    if (a == 0)
        return -INFINITY;
    la = logl(a);
    lx = 2 * logl(fabsl((long double)x0));
    if (c == TB_MAX_LOSS) {
        lf = lx + 2 * fmaxl(la, T * la);
    } else if (c == TB_FINAL_LOSS) {
        lf = lx + 2 * T * la;
    } else if (a <= 1) {
        long double sum = 0, p = 1;
        for (t = 1; t <= T; t++) {
            p *= a * a;
            sum += p;
        }
        lf = lx + logl(sum);
    } else {
        /* sum = a^(2T) * sum_{k=0..T-1} a^(-2k): no overflow */
        long double sum = 0, p = 1;
        for (t = 0; t < T; t++) {
            sum += p;
            p /= a * a;
        }
        lf = lx + 2 * T * la + logl(sum);
    }
    return lf - logl((long double)M);
}

/* Checks every label of the grid against the closed form; returns the
 * number of points skipped as too close to call. */
static uint64_t check_quadratic_labels(const struct tb_spec *sp, const uint64_t *bits)
{
    uint64_t n = tb_grid_points(sp), j, skipped = 0;

    for (j = 0; j < n; j++) {
        double s = tb_grid_lr(sp, j);
        long double mg = quad_margin(sp->criterion, sp->x0_scalar, sp->threshold, sp->steps, s);
        int want = sp->criterion == TB_MAX_LOSS ? mg > 0 : mg >= 0;
        if (fabsl(mg) < 1e-9L) {
            skipped++;
            continue;
        }
        ck_assert_msg(tb_label_get(bits, j) == want,
                      "quadratic x0=%g M=%g T=%d crit=%d K=%d: s=%.17g label %d, want %d",
                      sp->x0_scalar, sp->threshold, sp->steps, (int)sp->criterion,
                      sp->axes[0].levels, s, tb_label_get(bits, j), want);
    }
    return skipped;
}

struct quad_case {
    double x0, M;
    int T;
};
static const struct quad_case quad_cases[] = {
    {1, 1e8, 1000}, {5, 1e16, 1000}, {0.3, 1e6, 50}, {2, 1e4, 10}, {1, 3, 1},
};
static const int quad_levels[] = {0, 1, 4, 10, 16};

/*
 * max_loss on [0, 1.5]. With M > x0^2 the runs with a <= 1 never cross, so
 * the run diverges iff a^(2T) x0^2 > M, i.e. s > s* = (1 + q)/2 with
 * q = (M/x0^2)^(1/(2T)) (the branch s < (1-q)/2 < 0 is off the grid).
 * The inequality is strict: at s = s* exactly f_T = M is not > M and the
 * point is bounded. So the single flip cell [s_j, s_j+1] satisfies
 * s_j <= s* < s_j+1: s* may sit on its left end, never on its right end.
 * The comparison allows 1e-12 for rounding in q and in the sweep's f_T.
 */
START_TEST(quadratic_max_loss)
{
    const struct quad_case *qc = &quad_cases[_i];
    double q = pow(qc->M / (qc->x0 * qc->x0), 1.0 / (2.0 * qc->T)), sstar = (1 + q) / 2;
    size_t li;

    ck_assert(sstar > 0 && sstar < 1.5);
    for (li = 0; li < sizeof quad_levels / sizeof quad_levels[0]; li++) {
        int K = quad_levels[li], n;
        struct tb_spec sp = tbt_spec_quadratic(qc->x0, qc->M, qc->T, K);
        uint64_t *bits = tbt_sweep(&sp), counts[TB_MAX_LEVELS + 1], npts = tb_grid_points(&sp);
        uint64_t pos = 0, flip[4];
        struct tb_fit_opts o = full_window(K);
        struct tb_fit fit;

        ck_assert_uint_le(check_quadratic_labels(&sp, bits), 1);
        ck_assert_uint_eq(tbt_flip_count(bits, npts), 1);
        ck_assert_uint_eq(tb_flips_next(bits, npts, &pos, flip, 4), 1);
        ck_assert_msg(tb_grid_lr(&sp, flip[0]) <= sstar + 1e-12 &&
                          sstar < tb_grid_lr(&sp, flip[0] + 1) + 1e-12,
                      "x0=%g M=%g T=%d K=%d: flip cell [%.17g, %.17g] misses s*=%.17g", qc->x0,
                      qc->M, qc->T, K, tb_grid_lr(&sp, flip[0]), tb_grid_lr(&sp, flip[0] + 1),
                      sstar);
        ck_assert_int_eq(tb_label_get(bits, flip[0]), 0);
        ck_assert_int_eq(tb_first_set(bits, npts), (int64_t)flip[0] + 1);

        ck_assert_int_eq(tb_box_counts(bits, K, counts), TB_OK);
        for (n = 0; n <= K; n++)
            ck_assert_uint_eq(counts[n], 1);
        ck_assert_int_eq(tb_fit_dimension(counts, K, &o, &fit), TB_OK);
        ck_assert_int_eq(fit.fractal, 0);
        ck_assert(fit.value == 0.0);
        ck_assert_int_eq(fit.levels_used, 0);
        free(bits);
    }
}
END_TEST

/* science.md's number: x0=1, M=1e8, T=1000 gives s* = 1.0046264. */
START_TEST(quadratic_reference_sstar)
{
    double sstar = (1 + pow(1e8, 1.0 / 2000)) / 2;
    struct tb_spec sp = tbt_spec_quadratic(1, 1e8, 1000, 20);
    uint64_t *bits = tbt_sweep(&sp), pos = 0, flip;

    ck_assert_double_eq_tol(sstar, 1.0046264, 1e-7);
    ck_assert_uint_eq(tb_flips_next(bits, tb_grid_points(&sp), &pos, &flip, 1), 1);
    ck_assert(tb_grid_lr(&sp, flip) <= sstar && sstar < tb_grid_lr(&sp, flip + 1));
    ck_assert_uint_eq(tbt_flip_count(bits, tb_grid_points(&sp)), 1);
    free(bits);
}
END_TEST

/*
 * A boundary exactly on a grid point: x0 = 1, T = 1, M = 2.25 on [0, 2]
 * with K = 3 (h = 0.25). At s = 1.25, x1 = 1 - 2.5 = -1.5 and f1 = 2.25 = M
 * exactly. max_loss (strict >) keeps s = 1.25 bounded: flip cell
 * [1.25, 1.5]. final_loss and loss_sum (>=) make it divergent: flip cell
 * [1.0, 1.25]. With T = 2 and M = 5.0625 = 1.5^4 the same holds.
 */
START_TEST(quadratic_boundary_on_grid)
{
    static const struct {
        int T;
        double M;
    } cases[] = {{1, 2.25}, {2, 5.0625}};
    const enum tb_criterion crit[3] = {TB_MAX_LOSS, TB_FINAL_LOSS, TB_LOSS_SUM};
    size_t c, k;

    for (c = 0; c < 2; c++) {
        for (k = 0; k < 3; k++) {
            struct tb_spec sp = tbt_spec_quadratic(1, cases[c].M, cases[c].T, 3);
            uint64_t *bits, pos = 0, flip;
            sp.axes[0].max = 2.0;
            sp.criterion = crit[k];
            bits = tbt_sweep(&sp);
            ck_assert(tb_grid_lr(&sp, 5) == 1.25);
            ck_assert_uint_eq(tbt_flip_count(bits, 9), 1);
            ck_assert_uint_eq(tb_flips_next(bits, 9, &pos, &flip, 1), 1);
            /* loss_sum with T = 2 sums f1 + f2 = 2.25 + 5.0625 > M at s = 1.25,
             * and at s = 1.0: 1 + 1 = 2 < M; so the flip is still [1.0, 1.25]. */
            ck_assert_uint_eq(flip, (crit[k] == TB_MAX_LOSS ? 5u : 4u));
            free(bits);
        }
    }
}
END_TEST

/*
 * final_loss on a contracting run: x0 = 100, M = 1e3, T = 10. Divergent iff
 * a^20 * 1e4 >= 1e3, i.e. a >= q = 0.1^(1/20): two flips, near
 * s = (1-q)/2 and s = (1+q)/2 (s = 0 is divergent: f_T = x0^2 > M).
 * max_loss instead fires at t = 1 whenever a^2 * 1e4 > 1e3.
 */
START_TEST(quadratic_final_and_sum)
{
    const enum tb_criterion crit[3] = {TB_MAX_LOSS, TB_FINAL_LOSS, TB_LOSS_SUM};
    static const struct quad_case cases[] = {
        {100, 1e3, 10}, {1, 1e8, 1000}, {5, 1e16, 1000}, {0.3, 1e6, 50}};
    double q = pow(0.1, 1.0 / 20);
    size_t c, k;

    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (k = 0; k < 3; k++) {
            struct tb_spec sp = tbt_spec_quadratic(cases[c].x0, cases[c].M, cases[c].T, 12);
            uint64_t *bits;
            sp.criterion = crit[k];
            bits = tbt_sweep(&sp);
            ck_assert_uint_le(check_quadratic_labels(&sp, bits), 1);
            if (c == 0 && crit[k] == TB_FINAL_LOSS) {
                uint64_t pos = 0, flip[3];
                ck_assert_uint_eq(tb_flips_next(bits, tb_grid_points(&sp), &pos, flip, 3), 2);
                ck_assert(tb_grid_lr(&sp, flip[0]) <= (1 - q) / 2 &&
                          (1 - q) / 2 <= tb_grid_lr(&sp, flip[0] + 1));
                ck_assert(tb_grid_lr(&sp, flip[1]) <= (1 + q) / 2 &&
                          (1 + q) / 2 <= tb_grid_lr(&sp, flip[1] + 1));
                ck_assert_int_eq(tb_label_get(bits, 0), 1);
            }
            free(bits);
        }
    }
}
END_TEST

/* One point where the criteria disagree: x0 = 100, M = 1e3, T = 10,
 * s = 0.25: x_t = 100 / 2^t, f1 = 2500 > M but f_T = 1e4/2^20 < M and the
 * sum 1e4 (1/4 + 1/16 + ...) ~ 3333 >= M. */
START_TEST(quadratic_criteria_disagree)
{
    struct tb_spec sp = tbt_spec_quadratic(100, 1e3, 10, 3); /* s_2 = 0.375 */

    sp.axes[0].max = 2.0; /* h = 0.25: s_1 = 0.25 */
    ck_assert(tb_grid_lr(&sp, 1) == 0.25);
    sp.criterion = TB_MAX_LOSS;
    ck_assert_int_eq(tbt_label_at(&sp, 1), 1);
    sp.criterion = TB_LOSS_SUM;
    ck_assert_int_eq(tbt_label_at(&sp, 1), 1);
    sp.criterion = TB_FINAL_LOSS;
    ck_assert_int_eq(tbt_label_at(&sp, 1), 0);
    sp.threshold = 1e4 / 1048576.0; /* f_T exactly: >= fires */
    ck_assert_int_eq(tbt_label_at(&sp, 1), 1);
    sp.threshold = nextafter(sp.threshold, INFINITY);
    ck_assert_int_eq(tbt_label_at(&sp, 1), 0);
}
END_TEST

/* The early stop: tile stats' lane_steps is the sum over points of the step
 * at which each run was decided (max_loss: first f_t > M; loss_sum: first
 * time the sum passes M; bounded runs and final_loss: T). */
START_TEST(early_stop_lane_steps)
{
    const enum tb_criterion crit[3] = {TB_MAX_LOSS, TB_FINAL_LOSS, TB_LOSS_SUM};
    struct tb_spec specs[3];
    size_t c, k;

    specs[0] = tbt_spec_quadratic(5, 1e16, 1000, 10);
    specs[1] = tbt_spec_additive(0.2, 0.1, 10);
    specs[2] = tbt_spec_reference(10);
    for (c = 0; c < 3; c++) {
        for (k = 0; k < 3; k++) {
            struct tb_spec sp = specs[c];
            uint64_t n = tb_grid_points(&sp), *bits = tbt_labels_alloc(n), j, want = 0, div = 0;
            struct tb_tile_stats st;
            sp.criterion = crit[k];
            if (crit[k] == TB_LOSS_SUM)
                sp.threshold = 1e10;
            ck_assert_int_eq(tb_sweep_tile(&sp, 0, n, bits, NULL, NULL, NULL, &st), TB_OK);
            for (j = 0; j < n; j++) {
                uint64_t steps;
                div += (uint64_t)tbt_ref_run(&sp, tb_grid_lr(&sp, j), &steps);
                want += steps;
            }
            ck_assert_uint_eq(st.points, n);
            ck_assert_uint_eq(st.divergent, div);
            ck_assert_uint_eq(st.divergent, tb_labels_popcount(bits, n));
            ck_assert_uint_eq(st.lane_steps, want);
            /* final_loss too stops early here: divergent runs overflow to
             * inf before T and NaN policy "divergent" ends them there */
            ck_assert_uint_lt(st.lane_steps, n * (uint64_t)sp.steps);
            free(bits);
        }
    }
}
END_TEST

/* ---- convex additive: a single boundary --------------------------------- */

/* eps = 0.01, lam = 1: theta = 0.01 < theta_c, f is convex, so the
 * boundary is a single point at every level (science.md 4). */
START_TEST(convex_additive_single_boundary)
{
    const int K = _i;
    struct tb_spec sp = tbt_spec_additive(0.01, 1.0, K);
    uint64_t *bits = tbt_sweep(&sp), n = tb_grid_points(&sp), counts[TB_MAX_LEVELS + 1];
    struct tb_fit_opts o = full_window(K);
    struct tb_fit fit;
    struct tb_roughness r;
    int lev;

    tb_roughness(&sp.model, &r);
    ck_assert_int_eq(r.convex, 1);
    ck_assert_double_eq_tol(r.theta, 0.01, 1e-15);
    ck_assert_int_eq(tb_label_get(bits, 0), 0);     /* s = 0: x stays at x0 */
    ck_assert_int_eq(tb_label_get(bits, n - 1), 1); /* s = 1.5 */
    ck_assert_uint_eq(tbt_flip_count(bits, n), 1);
    ck_assert_int_eq(tb_box_counts(bits, K, counts), TB_OK);
    for (lev = 0; lev <= K; lev++)
        ck_assert_uint_eq(counts[lev], 1);
    ck_assert_int_eq(tb_fit_dimension(counts, K, &o, &fit), TB_OK);
    ck_assert(fit.fractal == 0 && fit.value == 0.0);
    free(bits);
}
END_TEST

/* ---- the multiplicative reference case ----------------------------------- */

static const uint64_t ref_counts[21] = {1,   1,   1,   1,    3,    5,    7,
                                        13,  21,  27,  57,   115,  247,  423,
                                        683, 1215, 2303, 4245, 7619, 13365, 22885};

/* Levels 0..9 are reproducible exactly (science.md 4). Level n of a K grid
 * is exactly the level-n grid (the points are j * 1.5 / 2^n in binary), so
 * a K = 9 sweep must equal the K = 12 sweep subsampled every 8th point. */
START_TEST(reference_counts_exact)
{
    struct tb_spec s12 = tbt_spec_reference(12), s9 = tbt_spec_reference(9);
    uint64_t *b12 = tbt_sweep(&s12), *b9 = tbt_sweep(&s9), c12[13], c9[10], j;
    int n;

    ck_assert_int_eq(tb_box_counts(b12, 12, c12), TB_OK);
    ck_assert_int_eq(tb_box_counts(b9, 9, c9), TB_OK);
    for (n = 0; n <= 9; n++) {
        ck_assert_msg(c12[n] == ref_counts[n], "K=12: B(%d) = %llu, reference %llu", n,
                      (unsigned long long)c12[n], (unsigned long long)ref_counts[n]);
        ck_assert_uint_eq(c9[n], ref_counts[n]);
    }
    for (j = 0; j <= 512; j++)
        ck_assert_int_eq(tb_label_get(b9, j), tb_label_get(b12, 8 * j));
    free(b12);
    free(b9);
}
END_TEST

/* K = 20 (2^20 + 1 runs, ~9 s on one core): D over levels 4..20 must be
 * 0.828 +- 0.03 (science.md: 0.8279 +- 0.0113) and fractal. Two threads. */
START_TEST(reference_dimension_k20)
{
    struct tb_spec sp = tbt_spec_reference(20);
    uint64_t *bits = tbt_sweep_tiled(&sp, 16384, 2), counts[21];
    struct tb_fit_opts o = {4, 20, 3};
    struct tb_fit fit;
    int n;

    ck_assert_int_eq(tb_box_counts(bits, 20, counts), TB_OK);
    for (n = 0; n <= 9; n++)
        ck_assert_uint_eq(counts[n], ref_counts[n]);
    ck_assert_int_eq(tb_fit_dimension(counts, 20, &o, &fit), TB_OK);
    ck_assert_int_eq(fit.fractal, 1);
    ck_assert_int_eq(fit.levels_used, 17);
    ck_assert_msg(fabs(fit.value - 0.828) <= 0.03, "D = %.4f +- %.4f over 4..20", fit.value,
                  fit.se);
    ck_assert(fit.se > 0 && fit.se < 0.03);
    free(bits);
}
END_TEST

/* ---- exact reductions (science.md 1) ------------------------------------- */

/*
 * Additive, d dims from (a,...,a), threshold d*M == 1-D from a, threshold M.
 * On [0, 1.5] the case eps=0.2, lam=0.1 has B(n) = 1 up to n = 13, so the
 * grid is [1, 1.01], where it is chaotic at K = 11 (~120 flips).
 * Each coordinate runs exactly the 1-D recurrence (separable, same
 * expressions), so the trajectories are bit-identical; only the loss is
 * the rounded sum of d equal terms, which matches d*f1 against d*M except
 * within a few ulps of the threshold, which a chaotic run never lands on.
 * So the labels are identical. Tried with max_loss and loss_sum.
 */
START_TEST(reduction_additive)
{
    static const int dims[] = {2, 3, 8};
    const enum tb_criterion crit[2] = {TB_MAX_LOSS, TB_LOSS_SUM};
    size_t di, k;

    for (k = 0; k < 2; k++) {
        struct tb_spec one = tbt_spec_additive(0.2, 0.1, 11);
        uint64_t *b1, n = tb_grid_points(&one);
        one.axes[0].min = 1.0;
        one.axes[0].max = 1.01;
        one.criterion = crit[k];
        if (crit[k] == TB_LOSS_SUM) {
            one.x0_scalar = 5; /* [L]'s GPU protocol */
            one.threshold = 1e16;
        }
        b1 = tbt_sweep(&one);
        ck_assert_uint_gt(tbt_flip_count(b1, n), 10); /* a chaotic case */
        for (di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            struct tb_spec dd = one;
            uint64_t *bd;
            dd.model.dim = dims[di];
            dd.threshold = one.threshold * dims[di];
            bd = tbt_sweep(&dd);
            ck_assert_msg(memcmp(b1, bd, tb_label_words(n) * sizeof *b1) == 0,
                          "additive d=%d crit=%d: %llu labels differ", dims[di], (int)crit[k],
                          (unsigned long long)tbt_label_diff(b1, bd, n));
            free(bd);
        }
        free(b1);
    }
}
END_TEST

/*
 * Multiplicative, d dims from (a,...,a), eps, threshold d*M vs 1-D with
 * eps*d, threshold M. Exact in real arithmetic, not always in floating
 * point: C = sum of d equal cosines is rounded at every addition and
 * eps*C differs from (eps*d)*cos in the last bit; a chaotic run amplifies
 * that.
 *  - d = 2 is exact: 0+c+c = 2c, 2a^2, eps*(2c) = (2 eps)*c and
 *    (2 pi 2a^2) eps = 2 (2 pi a^2) eps are scalings by 2, which commute
 *    with rounding. So f_d = 2 f_1 and x is the same bit for bit.
 *  - d = 4: 3c is rounded but 3c + c rounds back to 4c except on a tie;
 *    identical here.
 *  - d = 3, 5, 8: measured at K = 14 with glibc 2.36, 1 to 3 labels of
 *    16385 differ (0.02%) and B(n) agrees at levels 0..9. We assert that:
 *    identical B(n) at levels 0..9 and >= 99.9% identical labels.
 * eps = 0.2 for d <= 4 (1-D eps 0.8 at most, bounded below); 0.1 above.
 */
START_TEST(reduction_multiplicative)
{
    static const int dims[] = {2, 4, 3, 5, 8};
    size_t di;

    for (di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        const int d = dims[di], K = 14;
        const double eps = d <= 4 ? 0.2 : 0.1;
        struct tb_spec sd = tbt_spec_multiplicative(eps, 0.1, K);
        struct tb_spec s1 = tbt_spec_multiplicative(eps * d, 0.1, K);
        uint64_t *bd, *b1, n = tb_grid_points(&s1), diff, cd[15], c1[15];
        int lev;

        sd.model.dim = d;
        sd.threshold = 1e8 * d;
        bd = tbt_sweep(&sd);
        b1 = tbt_sweep(&s1);
        diff = tbt_label_diff(bd, b1, n);
        if (d == 2 || d == 4) {
            ck_assert_msg(diff == 0, "multiplicative d=%d: %llu labels differ", d,
                          (unsigned long long)diff);
        } else {
            ck_assert_msg(diff * 1000 <= n, "multiplicative d=%d: %llu of %llu labels differ", d,
                          (unsigned long long)diff, (unsigned long long)n);
        }
        ck_assert_int_eq(tb_box_counts(bd, K, cd), TB_OK);
        ck_assert_int_eq(tb_box_counts(b1, K, c1), TB_OK);
        for (lev = 0; lev <= 9; lev++)
            ck_assert_uint_eq(cd[lev], c1[lev]);
        ck_assert_uint_gt(c1[K], 100); /* a chaotic case */
        free(bd);
        free(b1);
    }
}
END_TEST

/* A vector x0 with equal entries is the scalar x0, bit for bit, for every
 * family; for d = 1 the vector path reads x0[0]. */
START_TEST(vector_x0_equals_scalar)
{
    static const int dims[] = {1, 3};
    double v[3] = {1.0, 1.0, 1.0};
    struct tb_spec specs[3];
    size_t c, di;

    specs[0] = tbt_spec_quadratic(1.0, 1e8, 1000, 10);
    specs[1] = tbt_spec_additive(0.2, 0.1, 10);
    specs[2] = tbt_spec_reference(10);
    for (c = 0; c < 3; c++) {
        for (di = 0; di < 2; di++) {
            struct tb_spec ss = specs[c], sv;
            uint64_t *bs, *bv, n = tb_grid_points(&ss);
            ss.model.dim = dims[di];
            ss.threshold *= dims[di];
            sv = ss;
            sv.x0 = v;
            sv.x0_scalar = 42.0; /* ignored */
            bs = tbt_sweep(&ss);
            bv = tbt_sweep(&sv);
            ck_assert_mem_eq(bs, bv, tb_label_words(n) * sizeof *bs);
            free(bs);
            free(bv);
        }
    }
}
END_TEST

/* ---- tile and thread invariance ------------------------------------------ */

static void check_invariance(const struct tb_spec *sp)
{
    static const uint64_t tiles[] = {64, 1000, 4096};
    static const int threads[] = {1, 2, 7};
    uint64_t n = tb_grid_points(sp), *whole = tbt_sweep(sp), *b;
    size_t w = tb_label_words(n) * sizeof *whole, i;

    ck_assert_uint_gt(tbt_flip_count(whole, n), 50); /* chaotic: a meaningful check */
    for (i = 0; i < 3; i++) {
        b = tbt_sweep_tiled(sp, tiles[i], 1);
        ck_assert_msg(memcmp(whole, b, w) == 0, "tile %llu: %llu labels differ",
                      (unsigned long long)tiles[i], (unsigned long long)tbt_label_diff(whole, b, n));
        free(b);
    }
    for (i = 0; i < 3; i++) {
        b = tbt_sweep_tiled(sp, 1000, threads[i]);
        ck_assert_msg(memcmp(whole, b, w) == 0, "%d threads: %llu labels differ", threads[i],
                      (unsigned long long)tbt_label_diff(whole, b, n));
        free(b);
        b = tbt_sweep_tiled(sp, 64, threads[i]);
        ck_assert_msg(memcmp(whole, b, w) == 0, "%d threads, tile 64: labels differ", threads[i]);
        free(b);
    }
    /* a tile size that is not a multiple of 64 and splits the last word */
    b = tbt_sweep_tiled(sp, 777, 7);
    ck_assert(memcmp(whole, b, w) == 0);
    free(b);
    free(whole);
}

START_TEST(invariance_multiplicative)
{
    struct tb_spec sp = tbt_spec_reference(14);
    check_invariance(&sp);
}
END_TEST

START_TEST(invariance_additive_d3)
{
    struct tb_spec sp = tbt_spec_additive(0.2, 0.1, 11);
    double x0[3] = {1.0, -0.6, 0.35};

    sp.model.dim = 3;
    sp.x0 = x0;
    sp.threshold = 3e8;
    sp.axes[0].min = 1.0; /* the chaotic window: see reduction_additive */
    sp.axes[0].max = 1.01;
    check_invariance(&sp);
}
END_TEST

/* ---- the sweep against a naive tb_loss/tb_grad loop, bit for bit --------- */

static struct tb_spec family_spec(int which, int dim, const double *x0v)
{
    struct tb_spec sp;

    switch (which) {
    case 0:
        sp = tbt_spec_quadratic(1.0, 1e8, 1000, 8);
        break;
    case 1:
        sp = tbt_spec_additive(0.2, 0.1, 8);
        break;
    case 2: /* several cosines: the general path even for d = 1 */
        sp = tbt_spec_additive(0.2, 0.1, 8);
        sp.model.n_terms = 3;
        sp.model.terms[1].amplitude = 0.05;
        sp.model.terms[1].wavelength = 0.37;
        sp.model.terms[2].amplitude = -0.1;
        sp.model.terms[2].wavelength = 0.23;
        break;
    default:
        sp = tbt_spec_reference(8);
        break;
    }
    sp.model.dim = dim;
    sp.threshold *= dim;
    if (dim > 1)
        sp.x0 = x0v;
    return sp;
}

/* Every family, d = 1 and 2 (distinct coordinates), every criterion: the
 * sweep's labels equal those of x <- x - s * tb_grad(x) judged on tb_loss. */
START_TEST(sweep_matches_naive_loop)
{
    static const double x0v[2] = {1.0, -0.7};
    const enum tb_criterion crit[3] = {TB_MAX_LOSS, TB_LOSS_SUM, TB_FINAL_LOSS};
    int fam, dim;
    size_t k;

    for (fam = 0; fam < 4; fam++) {
        for (dim = 1; dim <= 2; dim++) {
            for (k = 0; k < 3; k++) {
                struct tb_spec sp = family_spec(fam, dim, x0v);
                uint64_t *a, *b, n = tb_grid_points(&sp);
                sp.criterion = crit[k];
                if (crit[k] == TB_LOSS_SUM)
                    sp.threshold *= 1e3;
                a = tbt_sweep(&sp);
                b = tbt_ref_sweep(&sp);
                ck_assert_msg(memcmp(a, b, tb_label_words(n) * sizeof *a) == 0,
                              "family case %d d=%d crit=%d: %llu labels differ", fam, dim,
                              (int)crit[k], (unsigned long long)tbt_label_diff(a, b, n));
                free(a);
                free(b);
            }
        }
    }
}
END_TEST

/*
 * The step itself, bit for bit: after T = 1, 2, 3 steps, f(x_T) of the
 * sweep equals f of the naive loop exactly. final_loss is divergent iff
 * f_T >= M, so with M = f_ref the label must be 1 and with M = the next
 * double above f_ref it must be 0: together, f_sweep == f_ref.
 */
START_TEST(sweep_step_bit_exact)
{
    static const double x0v[2] = {1.0, -0.7};
    int fam, dim, T, i;
    uint64_t j;

    for (fam = 0; fam < 4; fam++) {
        for (dim = 1; dim <= 2; dim++) {
            for (T = 1; T <= 3; T++) {
                struct tb_spec sp = family_spec(fam, dim, x0v);
                sp.axes[0].levels = 4;
                sp.criterion = TB_FINAL_LOSS;
                sp.steps = T;
                for (j = 0; j < tb_grid_points(&sp); j++) {
                    double x[2], g[2], s = tb_grid_lr(&sp, j), f;
                    int t;
                    for (i = 0; i < dim; i++)
                        x[i] = dim > 1 ? x0v[i] : sp.x0_scalar;
                    for (t = 0; t < T; t++) {
                        tb_grad(&sp.model, x, g);
                        for (i = 0; i < dim; i++)
                            x[i] = x[i] - s * g[i];
                    }
                    f = tb_loss(&sp.model, x);
                    ck_assert(isfinite(f));
                    sp.threshold = f;
                    ck_assert_msg(tbt_label_at(&sp, j) == 1,
                                  "family %d d=%d T=%d s=%.17g: sweep f_T < %.17g", fam, dim, T,
                                  s, f);
                    sp.threshold = nextafter(f, INFINITY);
                    ck_assert_msg(tbt_label_at(&sp, j) == 0,
                                  "family %d d=%d T=%d s=%.17g: sweep f_T > %.17g", fam, dim, T,
                                  s, f);
                }
            }
        }
    }
}
END_TEST

/* ---- sincos == sin, cos --------------------------------------------------- */

/* Called through volatile pointers so the compiler can neither fold the
 * calls nor merge sin(x) and cos(x) into the sincos under test. */
static double (*volatile p_sin)(double) = sin;
static double (*volatile p_cos)(double) = cos;
static void (*volatile p_sincos)(double, double *, double *) = sincos;

static int same_double(double a, double b)
{
    uint64_t ua, ub;

    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    return ua == ub; /* also tells -0 from +0 */
}

static void check_sincos(double x)
{
    double s, c, s1 = p_sin(x), c1 = p_cos(x);

    p_sincos(x, &s, &c);
    ck_assert_msg(same_double(s, s1) && same_double(c, c1),
                  "x=%a: sincos (%a, %a) vs sin %a, cos %a", x, s, c, s1, c1);
}

START_TEST(sincos_matches_sin_cos)
{
    static const double edges[] = {0.0, -0.0, DBL_TRUE_MIN, -DBL_TRUE_MIN, DBL_MIN, -DBL_MIN,
                                   1e-300, 1e-20, 1e-8, 0x1p-27, 0x1p-26, 1.0, -1.0,
                                   0.7853981633974483, 1e5, 1e9, -1e9, 0x1p27, 0x1p30, 1e15,
                                   1e22, -1e22, 1e100, 1e300, DBL_MAX, -DBL_MAX, INFINITY,
                                   -INFINITY, NAN, 6.283185307179586, 3.141592653589793};
    size_t i;
    long k;
    int r;

    for (i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        check_sincos(edges[i]);
        check_sincos(nextafter(edges[i], INFINITY));
        check_sincos(nextafter(edges[i], -INFINITY));
    }
    /* multiples of pi/4 and their neighbours, where the reduction is delicate */
    for (k = -100000; k <= 100000; k++) {
        double x = (double)k * 0.78539816339744830962;
        check_sincos(x);
        check_sincos(nextafter(x, INFINITY));
        check_sincos(nextafter(x, -INFINITY));
    }
    /* 700k random arguments: the sweep's own phases (2 pi x)/lam, moderate
     * and huge magnitudes, and arbitrary bit patterns (every exponent) */
    for (r = 0; r < 175000; r++) {
        uint64_t bitsv = rng_next();
        double x;
        check_sincos(6.283185307179586 * rng_uniform(-20, 20) / 0.1);
        check_sincos(rng_uniform(-1e6, 1e6));
        check_sincos(ldexp(rng_uniform(0.5, 1.0), (int)(rng_next() % 2100) - 1074) *
                     (rng_next() & 1 ? 1 : -1));
        memcpy(&x, &bitsv, sizeof x);
        check_sincos(x);
    }
}
END_TEST

/* ---- the NaN policy -------------------------------------------------------- */

static const enum tb_criterion all_crit[3] = {TB_MAX_LOSS, TB_LOSS_SUM, TB_FINAL_LOSS};

/*
 * NaN at step 1: additive eps=0.2, lam=1, x0=1, learning rates in
 * [1e308, 1.5e308]. grad(1) ~ 2, so s*grad overflows to inf, x1 = -inf and
 * f1 = inf + eps*cos(-inf) = NaN; x stays NaN after that. NaN never
 * crosses a threshold: divergent under nan=divergent, bounded under
 * nan=bounded, for every criterion and every T.
 */
START_TEST(nan_policy_nan_at_step_one)
{
    struct tb_spec sp = tbt_spec_additive(0.2, 1.0, 2);
    double x = 1.0, g;
    size_t k;
    int T;

    sp.axes[0].min = 1e308;
    sp.axes[0].max = 1.5e308;
    tb_grad(&sp.model, &x, &g);
    x = x - sp.axes[0].min * g;
    ck_assert(isinf(x) && x < 0);
    ck_assert(isnan(tb_loss(&sp.model, &x)));
    for (T = 1; T <= 5; T += 4) {
        for (k = 0; k < 3; k++) {
            uint64_t *b;
            sp.steps = T;
            sp.criterion = all_crit[k];
            sp.nan_policy = TB_NAN_DIVERGENT;
            b = tbt_sweep(&sp);
            ck_assert_uint_eq(b[0], 0x1F); /* all 5 points */
            free(b);
            sp.nan_policy = TB_NAN_BOUNDED;
            b = tbt_sweep(&sp);
            ck_assert_uint_eq(b[0], 0);
            free(b);
        }
    }
}
END_TEST

/*
 * -inf at step 1 (loss unbounded below: eps = 2 > 1). Multiplicative
 * eps = 2, lam = 1.2e161, x0 = 1, grid [0, 2e160] with K = 1:
 *   s = 0:      x1 = 1, f1 = 1 * (1 + 2 cos(tiny)) = 3;
 *   s = 1e160:  grad(1) = 6 (the sine term is ~1e-321), x1 ~ -6e160 =
 *               -lam/2, cos = -1: f1 = inf * (1 - 2) = -inf;
 *   s = 2e160:  x1 ~ -lam, cos = +1: f1 = inf * 3 = +inf.
 * After a non-finite loss x goes to inf/NaN and f stays NaN.
 * T = 1: nan=divergent -> 0,1,1 for every criterion; nan=bounded -> 0,0,1
 *        (-inf crosses nothing; +inf crosses max, sum and final).
 * T = 3: same, except final_loss under nan=bounded: f_3 = NaN at s = 2e160
 *        -> 0,0,0 (final_loss looks only at f(x_T)).
 */
START_TEST(nan_policy_minus_inf)
{
    struct tb_spec sp = tbt_spec_multiplicative(2.0, 1.2e161, 1);
    const double want_f1[3] = {3.0, -INFINITY, INFINITY};
    uint64_t j;
    size_t k;
    int T;

    sp.axes[0].max = 2e160;
    for (j = 0; j < 3; j++) {
        double x = 1.0, g, s = tb_grid_lr(&sp, j);
        tb_grad(&sp.model, &x, &g);
        x = x - s * g;
        ck_assert_msg(tb_loss(&sp.model, &x) == want_f1[j], "s=%g: f1=%g", s,
                      tb_loss(&sp.model, &x));
    }
    for (T = 1; T <= 3; T += 2) {
        for (k = 0; k < 3; k++) {
            uint64_t *b;
            sp.steps = T;
            sp.criterion = all_crit[k];
            sp.nan_policy = TB_NAN_DIVERGENT;
            b = tbt_sweep(&sp);
            ck_assert_uint_eq(b[0], 0x6); /* 0,1,1 */
            free(b);
            sp.nan_policy = TB_NAN_BOUNDED;
            b = tbt_sweep(&sp);
            ck_assert_msg(b[0] == (T == 3 && all_crit[k] == TB_FINAL_LOSS ? 0x0u : 0x4u),
                          "T=%d crit=%d nan=bounded: labels %#llx", T, (int)all_crit[k],
                          (unsigned long long)b[0]);
            free(b);
        }
    }
}
END_TEST

/*
 * Whole grids where the loss is unbounded below (multiplicative eps in
 * {1.5, 2, 3}, d = 1; and eps = 0.6, d = 2, i.e. 1-D eps 1.2): the sweep
 * equals the naive loop (tbtest.h's rule) under both policies and all
 * criteria, and the policies really differ on some runs (NaN / -inf
 * reached without crossing the threshold first). Under nan=bounded with
 * final_loss every run that blows up ends at NaN, hence bounded.
 */
START_TEST(nan_policy_unbounded_grids)
{
    static const double eps[] = {1.5, 2.0, 3.0, 0.6};
    uint64_t policy_diff = 0;
    size_t e, k;

    for (e = 0; e < sizeof eps / sizeof eps[0]; e++) {
        for (k = 0; k < 3; k++) {
            struct tb_spec sd = tbt_spec_multiplicative(eps[e], 0.1, 9), sb;
            uint64_t *ld, *lb, *rd, *rb, n = tb_grid_points(&sd);
            if (eps[e] < 1) {
                sd.model.dim = 2;
                sd.threshold = 2e8;
            }
            sd.criterion = all_crit[k];
            if (all_crit[k] == TB_LOSS_SUM)
                sd.threshold *= 1e8;
            sb = sd;
            sb.nan_policy = TB_NAN_BOUNDED;
            ld = tbt_sweep(&sd);
            lb = tbt_sweep(&sb);
            rd = tbt_ref_sweep(&sd);
            rb = tbt_ref_sweep(&sb);
            ck_assert_msg(memcmp(ld, rd, tb_label_words(n) * sizeof *ld) == 0,
                          "eps=%g crit=%d nan=divergent: %llu labels differ from naive", eps[e],
                          (int)all_crit[k], (unsigned long long)tbt_label_diff(ld, rd, n));
            ck_assert_msg(memcmp(lb, rb, tb_label_words(n) * sizeof *ld) == 0,
                          "eps=%g crit=%d nan=bounded: %llu labels differ from naive", eps[e],
                          (int)all_crit[k], (unsigned long long)tbt_label_diff(lb, rb, n));
            /* bounded never labels more runs divergent than divergent does */
            ck_assert_uint_le(tb_labels_popcount(lb, n), tb_labels_popcount(ld, n));
            if (all_crit[k] != TB_FINAL_LOSS)
                policy_diff += tbt_label_diff(ld, lb, n);
            if (all_crit[k] == TB_FINAL_LOSS) {
                ck_assert_uint_eq(tb_labels_popcount(lb, n), 0);
                ck_assert_uint_gt(tb_labels_popcount(ld, n), n / 2);
            }
            free(ld);
            free(lb);
            free(rd);
            free(rb);
        }
    }
    /* measured: 11 runs (eps 1.5: 1+1, eps 2: 0+1, eps 3: 4+4) */
    ck_assert_uint_gt(policy_diff, 0);
}
END_TEST

/* ---- the tile API ------------------------------------------------------------ */

struct progress_log {
    uint64_t calls, last;
    int monotone;
    atomic_int *cancel_at_first;
};

static void on_progress(void *user, uint64_t done)
{
    struct progress_log *p = user;

    if (done < p->last)
        p->monotone = 0;
    p->last = done;
    p->calls++;
    if (p->cancel_at_first)
        atomic_store(p->cancel_at_first, 1);
}

START_TEST(tile_progress_and_cancel)
{
    struct tb_spec sp = tbt_spec_quadratic(1, 1e8, 100, 13);
    uint64_t n = 5000, *out = tbt_labels_alloc(n);
    struct progress_log log = {0, 0, 1, NULL};
    atomic_int cancel;

    ck_assert_int_eq(tb_sweep_tile(&sp, 100, n, out, NULL, on_progress, &log, NULL), TB_OK);
    ck_assert_uint_ge(log.calls, 2);
    ck_assert_uint_eq(log.last, n);
    ck_assert_int_eq(log.monotone, 1);

    atomic_init(&cancel, 1);
    ck_assert_int_eq(tb_sweep_tile(&sp, 0, n, out, &cancel, NULL, NULL, NULL), TB_ECANCELED);

    atomic_init(&cancel, 0);
    memset(&log, 0, sizeof log);
    log.monotone = 1;
    log.cancel_at_first = &cancel;
    ck_assert_int_eq(tb_sweep_tile(&sp, 0, n, out, &cancel, on_progress, &log, NULL),
                     TB_ECANCELED);
    ck_assert_uint_eq(log.calls, 1);
    ck_assert_uint_lt(log.last, n);
    free(out);
}
END_TEST

START_TEST(tile_arguments)
{
    struct tb_spec sp = tbt_spec_quadratic(1, 1e8, 100, 6), bad = sp;
    uint64_t n = tb_grid_points(&sp), out[4] = {~0ull, ~0ull, ~0ull, ~0ull};
    struct tb_tile_stats st;

    ck_assert_int_eq(tb_sweep_tile(&sp, n + 1, 0, out, NULL, NULL, NULL, NULL), TB_EINVAL);
    ck_assert_int_eq(tb_sweep_tile(&sp, 1, n, out, NULL, NULL, NULL, NULL), TB_EINVAL);
    ck_assert_int_eq(tb_sweep_tile(&sp, 0, n + 1, out, NULL, NULL, NULL, NULL), TB_EINVAL);
    ck_assert_int_eq(tb_sweep_tile(&sp, 0, n, NULL, NULL, NULL, NULL, NULL), TB_EINVAL);
    bad.steps = 0;
    ck_assert_int_eq(tb_sweep_tile(&bad, 0, n, out, NULL, NULL, NULL, NULL), TB_EINVAL);
    ck_assert_int_eq(tb_sweep_tile(NULL, 0, n, out, NULL, NULL, NULL, NULL), TB_EINVAL);
    /* an empty tile at the end is fine */
    ck_assert_int_eq(tb_sweep_tile(&sp, n, 0, out, NULL, NULL, NULL, &st), TB_OK);
    ck_assert_uint_eq(st.points, 0);
    /* unused high bits of the last word are zeroed: 65 points, word 1 = bit 0 only */
    ck_assert_int_eq(tb_sweep_tile(&sp, 0, n, out, NULL, NULL, NULL, &st), TB_OK);
    ck_assert_uint_eq(out[1] >> 1, 0);
    ck_assert_uint_eq(out[2], ~0ull); /* past the tile's words: untouched */
    ck_assert_uint_eq(st.points, n);
    ck_assert_uint_eq(st.divergent, tb_labels_popcount(out, n));
}
END_TEST

/* tb_labels_put at every offset and length class against a bit loop; bits
 * outside [dst_begin, dst_begin + count) are kept. */
START_TEST(labels_put_vs_naive)
{
    enum { W = 12 };
    uint64_t src[W], dst[W], want[W + 1];
    uint64_t off, count;

    for (off = 0; off < 200; off += (off < 140 ? 1 : 7)) {
        for (count = 0; count + off <= 64 * (W - 1); count += (count < 130 ? 1 : 61)) {
            uint64_t i;
            for (i = 0; i < W; i++) {
                src[i] = rng_next();
                dst[i] = rng_next();
            }
            memcpy(want, dst, sizeof dst);
            for (i = 0; i < count; i++) {
                uint64_t k = off + i, bit = (uint64_t)1 << (k & 63);
                if (tb_label_get(src, i))
                    want[k >> 6] |= bit;
                else
                    want[k >> 6] &= ~bit;
            }
            tb_labels_put(dst, off, src, count);
            ck_assert_msg(memcmp(dst, want, sizeof dst) == 0, "off=%llu count=%llu",
                          (unsigned long long)off, (unsigned long long)count);
        }
    }
}
END_TEST

START_TEST(labels_get_vs_naive)
{
    enum { W = 8 };
    uint64_t src[W], dst[W], off, count, i;

    for (off = 0; off < 200; off += (off < 140 ? 1 : 7)) {
        for (count = 0; count + off <= 64 * W; count += (count < 130 ? 1 : 61)) {
            for (i = 0; i < W; i++) {
                src[i] = rng_next();
                dst[i] = rng_next();
            }
            tb_labels_get(dst, src, off, count);
            for (i = 0; i < count; i++)
                ck_assert_msg(tb_label_get(dst, i) == tb_label_get(src, off + i),
                              "off=%llu count=%llu i=%llu", (unsigned long long)off,
                              (unsigned long long)count, (unsigned long long)i);
            /* the unused high bits of the last word are zero */
            if (count & 63)
                ck_assert_uint_eq(dst[(count - 1) >> 6] >> (count & 63), 0);
        }
    }
}
END_TEST

START_TEST(replicate_x0_is_ulps)
{
    ck_assert(tb_replicate_x0(1.0, 0) == 1.0);
    ck_assert(tb_replicate_x0(1.0, 1) == 1.0 + DBL_EPSILON);
    ck_assert(tb_replicate_x0(1.0, 3) == 1.0 + 3 * DBL_EPSILON);
    ck_assert(tb_replicate_x0(-1.0, 1) == nextafter(-1.0, 0.0));
    ck_assert(tb_replicate_x0(0.0, 2) == 2 * DBL_TRUE_MIN);
    ck_assert(tb_replicate_x0(5.0, 2) == 5.0 + 2 * (4 * DBL_EPSILON));
}
END_TEST

/* Sweeps every replicate of sp in tiles of `tile` points (spanning
 * replicates) and checks each against the one-replicate sweep from the
 * nudged x0. */
static void check_replicates(struct tb_spec sp, int reps, uint64_t tile)
{
    const uint64_t n = tb_grid_points(&sp), total = (uint64_t)reps * n;
    uint64_t *all = calloc(tb_label_words(total), sizeof *all);
    uint64_t *buf = calloc(tb_label_words(tile), sizeof *buf);
    uint64_t *want = calloc(tb_label_words(n), sizeof *want);
    uint64_t *got = calloc(tb_label_words(n), sizeof *got);
    double x0v[3], *base = (double *)sp.x0;
    struct tb_tile_stats st;
    uint64_t b, steps = 0, div = 0;
    int r, i;

    ck_assert(all && buf && want && got);
    sp.replicates = reps;
    ck_assert_uint_eq(tb_sweep_points(&sp), total);
    for (b = 0; b < total; b += tile) {
        uint64_t c = total - b < tile ? total - b : tile;
        ck_assert_int_eq(tb_sweep_tile(&sp, b, c, buf, NULL, NULL, NULL, &st), TB_OK);
        ck_assert_uint_eq(st.points, c);
        ck_assert_uint_eq(st.divergent, tb_labels_popcount(buf, c));
        tb_labels_put(all, b, buf, c);
        steps += st.lane_steps;
        div += st.divergent;
    }
    ck_assert_uint_eq(div, tb_labels_popcount(all, total));
    ck_assert_uint_gt(steps, 0);
    for (r = 0; r < reps; r++) {
        struct tb_spec one = sp;
        one.replicates = 1;
        if (base) {
            for (i = 0; i < sp.model.dim; i++)
                x0v[i] = tb_replicate_x0(base[i], r);
            one.x0 = x0v;
        } else {
            one.x0_scalar = tb_replicate_x0(sp.x0_scalar, r);
        }
        ck_assert_int_eq(tb_sweep_tile(&one, 0, n, want, NULL, NULL, NULL, NULL), TB_OK);
        tb_labels_get(got, all, (uint64_t)r * n, n);
        ck_assert_msg(memcmp(got, want, tb_label_words(n) * sizeof *got) == 0,
                      "replicate %d differs from its own sweep (tile %llu)", r,
                      (unsigned long long)tile);
    }
    /* past the last replicate */
    ck_assert_int_eq(tb_sweep_tile(&sp, total, 1, buf, NULL, NULL, NULL, NULL), TB_EINVAL);
    free(all);
    free(buf);
    free(want);
    free(got);
}

START_TEST(replicates_are_nudged_sweeps)
{
    static const double x0v[3] = {0.3, -0.2, 0.7};
    const uint64_t tiles[] = {64, 100, 257, 1000};
    struct tb_spec sp;
    size_t t;
    int prec;

    for (prec = TB_PRECISION_REFERENCE; prec <= TB_PRECISION_FAST; prec++) {
        for (t = 0; t < sizeof tiles / sizeof tiles[0]; t++) {
            sp = tbt_spec_additive(0.2, 0.1, 8); /* chaotic: replicates differ */
            sp.precision = (enum tb_precision)prec;
            check_replicates(sp, 4, tiles[t]);
            sp = tbt_spec_reference(8);
            sp.precision = (enum tb_precision)prec;
            check_replicates(sp, 3, tiles[t]);
        }
        sp = tbt_spec_additive(0.2, 0.1, 6);
        sp.model.dim = 3;
        sp.x0 = x0v;
        sp.precision = (enum tb_precision)prec;
        check_replicates(sp, 5, 96);
    }
}
END_TEST

/* A chaotic case is what replicates are for: at least two of eight
 * replicates of the additive theta = 20 case must differ somewhere, else
 * the nudge would not be doing anything. */
START_TEST(replicates_differ_when_chaotic)
{
    struct tb_spec sp = tbt_spec_additive(0.2, 0.1, 12);
    const uint64_t n = tb_grid_points(&sp);
    uint64_t *all, *a = calloc(tb_label_words(n), sizeof *a), *b = calloc(tb_label_words(n), 8);
    int r, differ = 0;

    sp.replicates = 8;
    all = calloc(tb_label_words(8 * n), sizeof *all);
    ck_assert(all && a && b);
    ck_assert_int_eq(tb_sweep_tile(&sp, 0, 8 * n, all, NULL, NULL, NULL, NULL), TB_OK);
    tb_labels_get(a, all, 0, n);
    for (r = 1; r < 8; r++) {
        tb_labels_get(b, all, (uint64_t)r * n, n);
        differ += memcmp(a, b, tb_label_words(n) * 8) != 0;
    }
    ck_assert_int_gt(differ, 0);
    free(all);
    free(a);
    free(b);
}
END_TEST

/* Regular cases stay regular: the quadratic (any criterion) and the
 * convex additive case have the same counts at every level in every
 * replicate, one boundary each. */
START_TEST(replicates_regular_cases_agree)
{
    struct tb_spec specs[3];
    const int K = 12, R = 8;
    uint64_t counts[13], first[13];
    int c, r, k;

    specs[0] = tbt_spec_quadratic(1, 1e8, 1000, K);
    specs[1] = tbt_spec_additive(0.01, 1.0, K);
    specs[2] = tbt_spec_quadratic(5, 1e16, 1000, K);
    specs[2].criterion = TB_LOSS_SUM;
    for (c = 0; c < 3; c++) {
        const uint64_t n = tb_grid_points(&specs[c]);
        uint64_t *all, *one = calloc(tb_label_words(n), sizeof *one);
        specs[c].replicates = R;
        all = calloc(tb_label_words((uint64_t)R * n), sizeof *all);
        ck_assert(all && one);
        ck_assert_int_eq(tb_sweep_tile(&specs[c], 0, (uint64_t)R * n, all, NULL, NULL, NULL, NULL),
                         TB_OK);
        for (r = 0; r < R; r++) {
            tb_labels_get(one, all, (uint64_t)r * n, n);
            ck_assert_int_eq(tb_box_counts(one, K, counts), TB_OK);
            for (k = 0; k <= K; k++) {
                ck_assert_uint_eq(counts[k], 1);
                if (r == 0)
                    first[k] = counts[k];
                ck_assert_uint_eq(counts[k], first[k]);
            }
        }
        free(all);
        free(one);
    }
}
END_TEST

START_TEST(replicates_spec_check)
{
    struct tb_spec sp = tbt_spec_quadratic(1, 1e8, 10, 4);

    sp.replicates = 0;
    ck_assert_int_eq(tb_spec_check(&sp), TB_OK);
    ck_assert_int_eq(tb_replicates(&sp), 1);
    ck_assert_uint_eq(tb_sweep_points(&sp), 17);
    sp.replicates = TB_MAX_REPLICATES;
    ck_assert_int_eq(tb_spec_check(&sp), TB_OK);
    ck_assert_uint_eq(tb_sweep_points(&sp), 17 * TB_MAX_REPLICATES);
    sp.replicates = TB_MAX_REPLICATES + 1;
    ck_assert_int_eq(tb_spec_check(&sp), TB_EINVAL);
    sp.replicates = -1;
    ck_assert_int_eq(tb_spec_check(&sp), TB_EINVAL);
}
END_TEST

static Suite *sweep_suite(void)
{
    Suite *s = suite_create("core/sweep");
    TCase *tc;

    tc = tcase_create("quadratic");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, quadratic_max_loss, 0, (int)(sizeof quad_cases / sizeof quad_cases[0]));
    tcase_add_test(tc, quadratic_reference_sstar);
    tcase_add_test(tc, quadratic_boundary_on_grid);
    tcase_add_test(tc, quadratic_final_and_sum);
    tcase_add_test(tc, quadratic_criteria_disagree);
    tcase_add_test(tc, early_stop_lane_steps);
    suite_add_tcase(s, tc);

    tc = tcase_create("convex_additive");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, convex_additive_single_boundary, 0, 15);
    suite_add_tcase(s, tc);

    tc = tcase_create("reference");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, reference_counts_exact);
    suite_add_tcase(s, tc);

    /* ~9 s of CPU single-threaded in -O2; sanitizers and a busy machine are
     * several times slower. Left out under valgrind (make valgrind sets
     * TB_VALGRIND=1), where it would take the better part of an hour: the
     * same code runs there in the K = 12 reference case. */
    if (!getenv("TB_VALGRIND") || strcmp(getenv("TB_VALGRIND"), "1") != 0) {
        tc = tcase_create("reference_k20");
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, reference_dimension_k20);
        suite_add_tcase(s, tc);
    }

    tc = tcase_create("reductions");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, reduction_additive);
    tcase_add_test(tc, reduction_multiplicative);
    tcase_add_test(tc, vector_x0_equals_scalar);
    suite_add_tcase(s, tc);

    tc = tcase_create("invariance");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, invariance_multiplicative);
    tcase_add_test(tc, invariance_additive_d3);
    suite_add_tcase(s, tc);

    tc = tcase_create("reference_path");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sweep_matches_naive_loop);
    tcase_add_test(tc, sweep_step_bit_exact);
    tcase_add_test(tc, sincos_matches_sin_cos);
    suite_add_tcase(s, tc);

    tc = tcase_create("nan_policy");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, nan_policy_nan_at_step_one);
    tcase_add_test(tc, nan_policy_minus_inf);
    tcase_add_test(tc, nan_policy_unbounded_grids);
    suite_add_tcase(s, tc);

    tc = tcase_create("tile_api");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tile_progress_and_cancel);
    tcase_add_test(tc, tile_arguments);
    tcase_add_test(tc, labels_put_vs_naive);
    tcase_add_test(tc, labels_get_vs_naive);
    suite_add_tcase(s, tc);
    tc = tcase_create("replicates");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, replicate_x0_is_ulps);
    tcase_add_test(tc, replicates_are_nudged_sweeps);
    tcase_add_test(tc, replicates_differ_when_chaotic);
    tcase_add_test(tc, replicates_regular_cases_agree);
    tcase_add_test(tc, replicates_spec_check);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sweep_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
