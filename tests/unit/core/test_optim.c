/*
 * test_optim.c - unit tests for core/optim.c: gradient descent with
 * momentum, Nesterov momentum and Adam (the reference path).
 *
 * Covers: momentum and Nesterov with beta = 0 are plain GD bit for bit;
 * on f = x^2 the first divergent rate of a sweep sits at each rule's
 * closed-form stability edge moved by the finite-T threshold (heavy ball:
 * 1 + beta; Nesterov: (1 + beta) / (1 + 2 beta)), with one transition;
 * Adam equals a scalar implementation written from its definition, and is
 * invariant under the renormalisation x = b y (which scales the gradient
 * by 1/b) with the rate and eps scaled by 1/b; tb_spec_check's ranges.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tb_int.h"
#include "tbtest.h"

static uint64_t *sweep(const struct tb_spec *s, struct tb_tile_stats *st)
{
    uint64_t n = tb_sweep_points(s), *b = tbt_labels_alloc(n);

    ck_assert_int_eq(tb_sweep_tile(s, 0, n, b, NULL, NULL, NULL, st), TB_OK);
    return b;
}

/* beta = 0 leaves v = -(s g), and x + (-(s g)) is x - s g exactly. */
START_TEST(beta_zero_is_gd)
{
    struct tb_spec cases[3];
    int c, k;

    cases[0] = tbt_spec_additive(0.2, 0.1, 12);
    cases[1] = tbt_spec_multiplicative(0.2, 0.1, 12);
    cases[2] = tbt_spec_additive(0.3, 0.17, 10);
    cases[2].model.dim = 2;
    cases[2].threshold = 2e8;
    for (c = 0; c < 3; c++) {
        uint64_t n = tb_grid_points(&cases[c]), *gd = sweep(&cases[c], NULL);

        for (k = TB_OPT_MOMENTUM; k <= TB_OPT_NESTEROV; k++) {
            struct tb_spec o = cases[c];
            uint64_t *b;

            o.opt.kind = (enum tb_opt_kind)k;
            o.opt.beta = 0.0;
            b = sweep(&o, NULL);
            ck_assert_msg(tbt_label_diff(gd, b, n) == 0, "case %d rule %d: %llu differ", c, k,
                          (unsigned long long)tbt_label_diff(gd, b, n));
            free(b);
        }
        free(gd);
    }
}
END_TEST

/* The first divergent point of the sweep (its rate), and the number of
 * label changes along the grid. */
static double first_divergent(const struct tb_spec *s, int *transitions)
{
    uint64_t n = tb_grid_points(s), *b = sweep(s, NULL), j;
    double first = NAN;

    *transitions = 0;
    for (j = 0; j < n; j++) {
        if (j > 0 && tb_label_get(b, j) != tb_label_get(b, j - 1))
            (*transitions)++;
        if (isnan(first) && tb_label_get(b, j))
            first = tb_grid_lr(s, j);
    }
    free(b);
    return first;
}

/*
 * On f = x^2 from x0 = 1 both rules are linear; at rates past the edge the
 * dominant root lambda is negative, and the run diverges within T steps
 * once |lambda|^T passes r^T, r = (M / x0^2)^(1 / 2T) (as for plain GD,
 * whose detected edge is (1 + r) / 2). Setting lambda = -r in each
 * characteristic polynomial gives the detected edge:
 *   heavy ball  l^2 - (1 + b - 2s) l + b = 0          ->  s = (1 + r)(r + b) / 2r
 *   Nesterov    l^2 - (1 + b) q l + b q = 0, q = 1-2s  ->  s = (1 + r^2 / ((1 + b) r + b)) / 2
 * Both tend to the stability edges 1 + b and (1 + b) / (1 + 2b) as T grows.
 * The solution's coefficient on the dominant root (not 1 when b > 0)
 * moves the edge by O(1/T); at T = 1000 that is under 1e-3 here.
 */
START_TEST(quadratic_edges)
{
    static const double betas[] = {0.0, 0.1, 0.5, 0.9};
    const double r = pow(1e8, 1.0 / 2000.0);
    int i, k, tr;

    for (k = TB_OPT_MOMENTUM; k <= TB_OPT_NESTEROV; k++) {
        for (i = 0; i < 4; i++) {
            const double b = betas[i];
            struct tb_spec s = tbt_spec_quadratic(1.0, 1e8, 1000, 14);
            double edge, want, got;

            s.axes[0].max = 2.5;
            s.opt.kind = (enum tb_opt_kind)k;
            s.opt.beta = b;
            if (k == TB_OPT_MOMENTUM) {
                edge = 1.0 + b;
                want = (1.0 + r) * (r + b) / (2.0 * r);
            } else {
                edge = (1.0 + b) / (1.0 + 2.0 * b);
                want = (1.0 + r * r / ((1.0 + b) * r + b)) / 2.0;
            }
            got = first_divergent(&s, &tr);
            ck_assert_msg(tr == 1, "rule %d beta %g: %d transitions", k, b, tr);
            ck_assert_msg(got > edge, "rule %d beta %g: first divergent %.9g below the edge %.9g",
                          k, b, got, edge);
            ck_assert_msg(fabs(got - want) < 1e-3,
                          "rule %d beta %g: first divergent %.9g, want %.9g", k, b, got, want);
            if (b == 0.0) /* plain GD's exact edge, to the grid point */
                ck_assert(fabs(got - want) <= 2.5 / 16384);
        }
    }
}
END_TEST

/* Adam on the 1-D additive loss, written from its definition. */
static int adam_scalar(double x, double s, const struct tb_spec *sp)
{
    const double eps = sp->model.terms[0].amplitude, lam = sp->model.terms[0].wavelength;
    const double b1 = sp->opt.beta1, b2 = sp->opt.beta2, e = sp->opt.eps;
    double m = 0.0, v = 0.0, p1 = 1.0, p2 = 1.0;
    int t;

    for (t = 1; t <= sp->steps; t++) {
        double ph = (2.0 * M_PI * x) / lam, g = 2.0 * x - ((2.0 * M_PI * eps) * sin(ph)) / lam, f;

        p1 *= b1;
        p2 *= b2;
        m = b1 * m + (1.0 - b1) * g;
        v = b2 * v + (1.0 - b2) * (g * g);
        x = x - s * (m / (1.0 - p1)) / (sqrt(v / (1.0 - p2)) + e);
        f = x * x + eps * cos((2.0 * M_PI * x) / lam);
        if (!(f <= sp->threshold))
            return 1;
    }
    return 0;
}

START_TEST(adam_matches_scalar)
{
    struct tb_spec s = tbt_spec_additive(0.2, 0.1, 10);
    uint64_t n, *b, j, div = 0;

    s.opt.kind = TB_OPT_ADAM;
    s.opt.beta1 = 0.9;
    s.opt.beta2 = 0.999;
    s.opt.eps = 1e-8;
    s.threshold = 30.0;
    s.axes[0].max = 8.0;
    n = tb_grid_points(&s);
    b = sweep(&s, NULL);
    for (j = 0; j < n; j++) {
        ck_assert_int_eq(tb_label_get(b, j), adam_scalar(1.0, tb_grid_lr(&s, j), &s));
        div += (uint64_t)tb_label_get(b, j);
    }
    ck_assert_uint_gt(div, 0); /* the grid has both labels */
    ck_assert_uint_lt(div, n);
    free(b);
}
END_TEST

/*
 * x = b y with b = 4 maps the additive loss (eps, lam, x0) to
 * (eps / b^2, lam / b, x0 / b), with f and the threshold over b^2 and the
 * gradient over b. Adam normalises the gradient, so its step in y is its
 * step in x over b only with the rate and eps over b as well; all these
 * scalings are by powers of 2, hence exact, and the labels are identical.
 * The loss-sum criterion makes each label depend on the whole trajectory.
 */
START_TEST(adam_scale_invariance)
{
    const double b = 4.0;
    struct tb_spec x = tbt_spec_additive(0.2, 0.1, 11), y;
    uint64_t n, *lx, *ly, div;
    struct tb_tile_stats st;

    x.opt.kind = TB_OPT_ADAM;
    x.opt.beta1 = 0.8;
    x.opt.beta2 = 0.99;
    x.opt.eps = 1e-3;
    x.criterion = TB_LOSS_SUM;
    x.threshold = 3000.0;
    x.axes[0].max = 4.0;
    y = x;
    y.model.terms[0].amplitude = x.model.terms[0].amplitude / (b * b);
    y.model.terms[0].wavelength = x.model.terms[0].wavelength / b;
    y.x0_scalar = x.x0_scalar / b;
    y.threshold = x.threshold / (b * b);
    y.axes[0].min = x.axes[0].min / b;
    y.axes[0].max = x.axes[0].max / b;
    y.opt.eps = x.opt.eps / b;
    n = tb_grid_points(&x);
    lx = sweep(&x, &st);
    div = st.divergent;
    ly = sweep(&y, NULL);
    ck_assert_uint_eq(tbt_label_diff(lx, ly, n), 0);
    ck_assert_uint_gt(div, 0);
    ck_assert_uint_lt(div, n);
    free(lx);
    free(ly);
}
END_TEST

START_TEST(ranges)
{
    struct tb_spec s = tbt_spec_additive(0.2, 0.1, 4);

    s.opt.kind = TB_OPT_MOMENTUM;
    s.opt.beta = 0.99;
    ck_assert_int_eq(tb_spec_check(&s), TB_OK);
    s.opt.beta = 1.0;
    ck_assert_int_eq(tb_spec_check(&s), TB_EINVAL);
    s.opt.beta = -0.1;
    ck_assert_int_eq(tb_spec_check(&s), TB_EINVAL);
    s.opt.kind = TB_OPT_ADAM;
    s.opt.beta1 = 0.9;
    s.opt.beta2 = 0.999;
    s.opt.eps = 0.0;
    ck_assert_int_eq(tb_spec_check(&s), TB_EINVAL);
    s.opt.eps = 1e-8;
    ck_assert_int_eq(tb_spec_check(&s), TB_OK);
    s.opt.beta2 = 1.0;
    ck_assert_int_eq(tb_spec_check(&s), TB_EINVAL);
    s.opt.kind = (enum tb_opt_kind)7;
    ck_assert_int_eq(tb_spec_check(&s), TB_EINVAL);
    /* the fast path: plain GD; momentum, Nesterov and Adam on the lean
     * criterion */
    s.opt.kind = TB_OPT_GD;
    s.precision = TB_PRECISION_FAST;
    ck_assert_int_eq(tb_engine_precision(&s), TB_PRECISION_FAST);
    s.opt.kind = TB_OPT_NESTEROV;
    s.opt.beta = 0.5;
    ck_assert_int_eq(tb_engine_precision(&s), TB_PRECISION_FAST);
    s.criterion = TB_FINAL_LOSS;
    ck_assert_int_eq(tb_engine_precision(&s), TB_PRECISION_REFERENCE);
    s.criterion = TB_MAX_LOSS;
    s.opt.kind = TB_OPT_ADAM;
    ck_assert_int_eq(tb_engine_precision(&s), TB_PRECISION_FAST);
    s.criterion = TB_FINAL_LOSS;
    ck_assert_int_eq(tb_engine_precision(&s), TB_PRECISION_REFERENCE);
    s.criterion = TB_MAX_LOSS;
    s.opt.kind = TB_OPT_MOMENTUM;
    s.precision = TB_PRECISION_REFERENCE;
    ck_assert_int_eq(tb_engine_precision(&s), TB_PRECISION_REFERENCE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core/optim");
    TCase *tc = tcase_create("optim");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, beta_zero_is_gd);
    tcase_add_test(tc, quadratic_edges);
    tcase_add_test(tc, adam_matches_scalar);
    tcase_add_test(tc, adam_scale_invariance);
    tcase_add_test(tc, ranges);
    suite_add_tcase(s, tc);
    return tbt_run_suite(s);
}
