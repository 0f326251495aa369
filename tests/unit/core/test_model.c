/*
 * test_model.c - unit tests for core/model.c.
 *
 * Covers: tb_loss and tb_grad (closed-form values, separability, the
 * gradient against a central finite difference for every family in d = 1
 * and 3), tb_roughness (theta, critical value, convexity, several terms),
 * tb_spec_check (every field it guards), the grid (tb_grid_points,
 * tb_grid_lr: endpoints, spacing, last point exactly max) and tb_strerror.
 * The sweep and the analysis have their own suites.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"
#include "tbtest.h"

#define THETA_C 0.05066059182116889 /* 1/(2 pi^2) */

static struct tb_model model_of(enum tb_family fam, int dim, double eps, double lam)
{
    struct tb_model m;

    memset(&m, 0, sizeof m);
    m.family = fam;
    m.dim = dim;
    m.n_terms = fam == TB_QUADRATIC ? 0 : 1;
    m.terms[0].amplitude = eps;
    m.terms[0].wavelength = lam;
    return m;
}

/* A small deterministic generator (the tests must not depend on rand()). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
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

/* ---- tb_loss / tb_grad: closed forms ------------------------------------ */

START_TEST(loss_closed_forms)
{
    double x[3] = {1.5, -2.0, 0.25}, g[3];
    struct tb_model q = model_of(TB_QUADRATIC, 3, 0, 0);
    struct tb_model a = model_of(TB_ADDITIVE, 3, 0.2, 0.1);
    struct tb_model mu = model_of(TB_MULTIPLICATIVE, 3, 0.2, 1.0);
    double zero[3] = {0, 0, 0}, one[1] = {1.0};

    /* quadratic: sum x^2, gradient 2x, all exact in binary */
    ck_assert(tb_loss(&q, x) == 2.25 + 4.0 + 0.0625);
    tb_grad(&q, x, g);
    ck_assert(g[0] == 3.0 && g[1] == -4.0 && g[2] == 0.5);

    /* additive at 0: every cosine is 1, every sine 0 -> f = d * eps, g = 0 */
    ck_assert(tb_loss(&a, zero) == 3 * 0.2);
    tb_grad(&a, zero, g);
    ck_assert(g[0] == 0.0 && g[1] == 0.0 && g[2] == 0.0);

    /* multiplicative at 0 is 0 with zero gradient */
    ck_assert(tb_loss(&mu, zero) == 0.0);
    tb_grad(&mu, zero, g);
    ck_assert(g[0] == 0.0 && g[1] == 0.0 && g[2] == 0.0);

    /* multiplicative, d = 1, x = lam = 1: phase 2 pi, cos = 1: f = 1 + eps */
    mu.dim = 1;
    ck_assert_double_eq_tol(tb_loss(&mu, one), 1.2, 1e-15);
    /* additive, d = 1, x = lam/2: cos(pi) = -1: f = x^2 - eps */
    {
        struct tb_model a1 = model_of(TB_ADDITIVE, 1, 0.3, 2.0);
        ck_assert_double_eq_tol(tb_loss(&a1, one), 1.0 - 0.3, 1e-15);
    }
}
END_TEST

/* The additive family is separable: f = sum f1(x_i) and grad_i = f1'(x_i)
 * bit for bit (same expression per coordinate). A zero-amplitude extra
 * term changes nothing, bit for bit. */
START_TEST(additive_separable)
{
    struct tb_model a3 = model_of(TB_ADDITIVE, 3, 0.2, 0.1), a1 = model_of(TB_ADDITIVE, 1, 0.2, 0.1);
    struct tb_model a3z;
    int trial, i;

    a3.n_terms = 2;
    a3.terms[1].amplitude = 0.05;
    a3.terms[1].wavelength = 0.37;
    a1.n_terms = 2;
    a1.terms[1] = a3.terms[1];
    a3z = a3;
    a3z.n_terms = 3;
    a3z.terms[2].amplitude = 0.0;
    a3z.terms[2].wavelength = 0.9;
    for (trial = 0; trial < 1000; trial++) {
        double x[3], g[3], gz[3], sum = 0.0;
        for (i = 0; i < 3; i++)
            x[i] = rng_uniform(-3, 3);
        tb_grad(&a3, x, g);
        tb_grad(&a3z, x, gz);
        for (i = 0; i < 3; i++) {
            double g1;
            tb_grad(&a1, &x[i], &g1);
            ck_assert(g1 == g[i]);
            ck_assert(gz[i] == g[i]);
            sum += tb_loss(&a1, &x[i]);
        }
        ck_assert_double_eq_tol(tb_loss(&a3, x), sum, 1e-13 * (1 + fabs(sum)));
        ck_assert(tb_loss(&a3z, x) == tb_loss(&a3, x));
    }
}
END_TEST

/* Multiplicative against the science.md formulas written independently:
 * f = R (1 + eps C), g_i = 2 x_i (1 + eps C) - 2 pi eps R sin(2 pi x_i/lam)/lam. */
START_TEST(multiplicative_formula)
{
    const double eps = 0.2, lam = 0.1, pi = 3.14159265358979323846;
    struct tb_model m = model_of(TB_MULTIPLICATIVE, 3, eps, lam);
    int trial, i;

    for (trial = 0; trial < 1000; trial++) {
        double x[3], g[3], r = 0, c = 0, f;
        for (i = 0; i < 3; i++) {
            x[i] = rng_uniform(-2, 2);
            r += x[i] * x[i];
            c += cos(2 * pi * x[i] / lam);
        }
        f = r * (1 + eps * c);
        ck_assert_double_eq_tol(tb_loss(&m, x), f, 1e-12 * (1 + fabs(f)));
        tb_grad(&m, x, g);
        for (i = 0; i < 3; i++) {
            double gi = 2 * x[i] * (1 + eps * c) - 2 * pi * eps * r * sin(2 * pi * x[i] / lam) / lam;
            ck_assert_double_eq_tol(g[i], gi, 1e-11 * (1 + fabs(gi)));
        }
    }
}
END_TEST

/* ---- tb_grad against a central finite difference ------------------------ */

/* Step h = 1e-6: the truncation error h^2/6 |f'''| stays below ~1e-7 even
 * for lam = 0.1 (|f'''| ~ eps R (2 pi/lam)^3 ~ 1e5..1e6 here) and the
 * rounding error ~ 1e-16 |f| / h ~ 1e-9. Tolerance 1e-6 relative to
 * max(1, |g|). */
static void check_grad_fd(const struct tb_model *m)
{
    const double h = 1e-6;
    double x[3], xp[3], g[3];
    int trial, i, k;

    for (trial = 0; trial < 200; trial++) {
        for (i = 0; i < m->dim; i++)
            x[i] = rng_uniform(-2, 2);
        tb_grad(m, x, g);
        for (i = 0; i < m->dim; i++) {
            double fp, fm, fd;
            for (k = 0; k < m->dim; k++)
                xp[k] = x[k];
            xp[i] = x[i] + h;
            fp = tb_loss(m, xp);
            xp[i] = x[i] - h;
            fm = tb_loss(m, xp);
            fd = (fp - fm) / (2 * h);
            ck_assert_msg(fabs(fd - g[i]) <= 1e-6 * fmax(1.0, fabs(g[i])),
                          "family %d d=%d x[%d]=%.17g: grad %.17g, finite difference %.17g",
                          (int)m->family, m->dim, i, x[i], g[i], fd);
        }
    }
}

static const int fd_dims[2] = {1, 3};

START_TEST(grad_fd_quadratic)
{
    struct tb_model m = model_of(TB_QUADRATIC, fd_dims[_i], 0, 0);
    check_grad_fd(&m);
}
END_TEST

START_TEST(grad_fd_additive)
{
    struct tb_model m = model_of(TB_ADDITIVE, fd_dims[_i], 0.2, 0.1);
    check_grad_fd(&m);
    m = model_of(TB_ADDITIVE, fd_dims[_i], 0.01, 1.0);
    check_grad_fd(&m);
    m = model_of(TB_ADDITIVE, fd_dims[_i], -0.3, 0.7);
    check_grad_fd(&m);
}
END_TEST

START_TEST(grad_fd_additive_terms)
{
    struct tb_model m = model_of(TB_ADDITIVE, fd_dims[_i], 0.2, 0.1);
    m.n_terms = 3;
    m.terms[1].amplitude = 0.05;
    m.terms[1].wavelength = 0.37;
    m.terms[2].amplitude = -0.4;
    m.terms[2].wavelength = 1.3;
    check_grad_fd(&m);
}
END_TEST

START_TEST(grad_fd_multiplicative)
{
    struct tb_model m = model_of(TB_MULTIPLICATIVE, fd_dims[_i], 0.2, 0.1);
    check_grad_fd(&m);
    m = model_of(TB_MULTIPLICATIVE, fd_dims[_i], 1.5, 0.5); /* unbounded below */
    check_grad_fd(&m);
}
END_TEST

/* ---- roughness ---------------------------------------------------------- */

START_TEST(roughness_families)
{
    struct tb_roughness r;
    struct tb_model m;

    m = model_of(TB_QUADRATIC, 1, 0, 0);
    tb_roughness(&m, &r);
    ck_assert(r.theta == 0.0 && r.convex == 1);
    ck_assert_double_eq_tol(r.critical, THETA_C, 1e-15);

    /* convex additive of science.md 4: eps=0.01, lam=1 -> theta 0.01 < theta_c */
    m = model_of(TB_ADDITIVE, 1, 0.01, 1.0);
    tb_roughness(&m, &r);
    ck_assert_double_eq_tol(r.theta, 0.01, 1e-15);
    ck_assert_double_eq_tol(r.critical, THETA_C, 1e-15);
    ck_assert_int_eq(r.convex, 1);

    /* the rough additive case: theta = 0.2/0.01 = 20 */
    m = model_of(TB_ADDITIVE, 1, 0.2, 0.1);
    tb_roughness(&m, &r);
    ck_assert_double_eq_tol(r.theta, 20.0, 1e-12);
    ck_assert_int_eq(r.convex, 0);

    /* either side of theta_c: 0.05/1 (convex), 0.051/1 (not) */
    m = model_of(TB_ADDITIVE, 1, 0.05, 1.0);
    tb_roughness(&m, &r);
    ck_assert_int_eq(r.convex, 1);
    m = model_of(TB_ADDITIVE, 1, 0.051, 1.0);
    tb_roughness(&m, &r);
    ck_assert_int_eq(r.convex, 0);
    /* a negative amplitude is a shifted cosine: |eps| decides convexity */
    m = model_of(TB_ADDITIVE, 1, -0.06, 1.0);
    tb_roughness(&m, &r);
    ck_assert_int_eq(r.convex, 0);

    /* multiplicative: theta = eps, no finite critical value, non-convex for eps > 0 */
    m = model_of(TB_MULTIPLICATIVE, 1, 0.2, 0.1);
    tb_roughness(&m, &r);
    ck_assert(r.theta == 0.2);
    ck_assert(isinf(r.critical) && r.critical > 0);
    ck_assert_int_eq(r.convex, 0);
    m = model_of(TB_MULTIPLICATIVE, 1, 1e-6, 100.0); /* tiny eps is still non-convex */
    tb_roughness(&m, &r);
    ck_assert_int_eq(r.convex, 0);
    ck_assert(isinf(r.critical));
}
END_TEST

START_TEST(roughness_terms_sum)
{
    struct tb_roughness r;
    struct tb_model m = model_of(TB_ADDITIVE, 2, 0.01, 1.0);

    /* theta = 0.01/1 + 0.02/0.25 + 0.001/0.01 = 0.01 + 0.08 + 0.1 */
    m.n_terms = 3;
    m.terms[1].amplitude = 0.02;
    m.terms[1].wavelength = 0.5;
    m.terms[2].amplitude = 0.001;
    m.terms[2].wavelength = 0.1;
    tb_roughness(&m, &r);
    ck_assert_double_eq_tol(r.theta, 0.19, 1e-14);
    ck_assert_int_eq(r.convex, 0);
    ck_assert_double_eq_tol(r.critical, THETA_C, 1e-15);

    /* two terms each convex alone but not together: 0.03 + 0.03 > theta_c */
    m.n_terms = 2;
    m.terms[0].amplitude = 0.03;
    m.terms[0].wavelength = 1.0;
    m.terms[1].amplitude = 0.0075;
    m.terms[1].wavelength = 0.5;
    tb_roughness(&m, &r);
    ck_assert_double_eq_tol(r.theta, 0.06, 1e-15);
    ck_assert_int_eq(r.convex, 0);
    /* ... and with the second halved, 0.045 <= theta_c */
    m.terms[1].amplitude = 0.00375;
    tb_roughness(&m, &r);
    ck_assert_double_eq_tol(r.theta, 0.045, 1e-15);
    ck_assert_int_eq(r.convex, 1);
}
END_TEST

/* With positive amplitudes every cosine is 1 at x = 0, so min f'' =
 * 2 - 4 pi^2 theta there: convex iff theta <= theta_c. Check the flag
 * against a numerical f'' on random term sets. */
START_TEST(roughness_convexity_numeric)
{
    int trial, k;

    for (trial = 0; trial < 200; trial++) {
        struct tb_model m = model_of(TB_ADDITIVE, 1, 0, 1);
        struct tb_roughness r;
        double x0 = 0.0, h = 1e-4, f2;
        m.n_terms = 1 + (int)(rng_next() % 4);
        for (k = 0; k < m.n_terms; k++) {
            m.terms[k].wavelength = rng_uniform(0.5, 2.0);
            m.terms[k].amplitude = rng_uniform(0, 0.04) * m.terms[k].wavelength *
                                   m.terms[k].wavelength / m.n_terms * 2;
        }
        tb_roughness(&m, &r);
        {
            double xp = x0 + h, xm = x0 - h;
            f2 = (tb_loss(&m, &xp) - 2 * tb_loss(&m, &x0) + tb_loss(&m, &xm)) / (h * h);
        }
        if (fabs(r.theta - THETA_C) < 1e-3)
            continue; /* too close to call numerically */
        ck_assert_int_eq(r.convex, f2 >= 0);
    }
}
END_TEST

/* ---- tb_spec_check ------------------------------------------------------ */

START_TEST(spec_check_valid)
{
    struct tb_spec s = tbt_spec_reference(20);
    double x0v[4] = {1, 2, 3, 4};

    ck_assert_int_eq(tb_spec_check(&s), TB_OK);
    s = tbt_spec_quadratic(1, 1e8, 1000, 0);
    ck_assert_int_eq(tb_spec_check(&s), TB_OK);
    s = tbt_spec_additive(0.2, 0.1, 32);
    s.model.n_terms = TB_MAX_TERMS;
    for (int k = 1; k < TB_MAX_TERMS; k++)
        s.model.terms[k] = s.model.terms[0];
    ck_assert_int_eq(tb_spec_check(&s), TB_OK);
    s = tbt_spec_reference(10);
    s.model.dim = 4;
    s.x0 = x0v;
    s.x0_scalar = NAN; /* ignored when x0 is given */
    ck_assert_int_eq(tb_spec_check(&s), TB_OK);
    s.criterion = TB_LOSS_SUM;
    s.nan_policy = TB_NAN_BOUNDED;
    ck_assert_int_eq(tb_spec_check(&s), TB_OK);
    s.criterion = TB_FINAL_LOSS;
    s.axes[0].min = -1.0; /* negative learning rates are allowed */
    ck_assert_int_eq(tb_spec_check(&s), TB_OK);
}
END_TEST

START_TEST(spec_check_rejects)
{
    struct tb_spec base = tbt_spec_reference(10), s;
    double x0v[3] = {1, NAN, 3};

    ck_assert_int_eq(tb_spec_check(NULL), TB_EINVAL);
#define REJECT(stmt)                                                                              \
    do {                                                                                          \
        s = base;                                                                                 \
        stmt;                                                                                     \
        ck_assert_msg(tb_spec_check(&s) == TB_EINVAL, "accepted: %s", #stmt);                     \
    } while (0)
    REJECT(s.threshold = NAN);
    REJECT(s.threshold = INFINITY);
    REJECT(s.threshold = -INFINITY);
    REJECT(s.axes[0].min = 1.5);  /* min == max */
    REJECT(s.axes[0].min = 2.0);  /* min > max */
    REJECT(s.axes[0].min = NAN);
    REJECT(s.axes[0].max = INFINITY);
    REJECT(s.axes[0].min = -DBL_MAX; s.axes[0].max = DBL_MAX); /* max - min overflows */
    REJECT(s.axes[0].levels = 33);
    REJECT(s.axes[0].levels = -1);
    REJECT(s.steps = 0);
    REJECT(s.steps = -5);
    REJECT(s.model.dim = 0);
    REJECT(s.model.dim = -1);
    REJECT(s.model.dim = TB_MAX_DIM + 1);
    REJECT(s.model.terms[0].wavelength = 0.0);
    REJECT(s.model.terms[0].wavelength = -0.1);
    REJECT(s.model.terms[0].wavelength = NAN);
    REJECT(s.model.terms[0].wavelength = INFINITY);
    REJECT(s.model.terms[0].amplitude = NAN);
    REJECT(s.model.terms[0].amplitude = INFINITY);
    REJECT(s.model.n_terms = 0);                              /* multiplicative needs 1 */
    REJECT(s.model.n_terms = 2);                              /* ... exactly 1 */
    REJECT(s.model.family = TB_QUADRATIC);                    /* quadratic needs 0 */
    REJECT(s.model.family = TB_ADDITIVE; s.model.n_terms = 0);
    REJECT(s.model.family = TB_ADDITIVE; s.model.n_terms = TB_MAX_TERMS + 1);
    REJECT(s.model.family = TB_ADDITIVE; s.model.n_terms = 2; s.model.terms[1].wavelength = 0);
    REJECT(s.model.family = (enum tb_family)3);
    REJECT(s.x0_scalar = NAN);
    REJECT(s.x0_scalar = -INFINITY);
    REJECT(s.model.dim = 3; s.x0 = x0v);                      /* NaN inside the vector */
    REJECT(s.criterion = (enum tb_criterion)3);
    REJECT(s.nan_policy = (enum tb_nan_policy)2);
    REJECT(s.precision = (enum tb_precision)99);
    REJECT(s.n_axes = 0);
    REJECT(s.n_axes = 2);
    REJECT(s.axes[0].kind = (enum tb_axis_kind)1);
#undef REJECT
}
END_TEST

/* ---- the grid ----------------------------------------------------------- */

START_TEST(grid_points_and_lr)
{
    static const int ks[] = {0, 1, 2, 5, 10, 20, 31, 32};
    static const double ranges[][2] = {{0.0, 1.5}, {0.1, 0.7}, {-3.0, 1e-3}, {1e-9, 2e-9}};
    size_t ki, ri;

    for (ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++) {
        for (ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
            struct tb_spec s = tbt_spec_reference(ks[ki]);
            uint64_t last = (uint64_t)1 << ks[ki], j;
            double h;
            s.axes[0].min = ranges[ri][0];
            s.axes[0].max = ranges[ri][1];
            h = (s.axes[0].max - s.axes[0].min) / ldexp(1.0, ks[ki]);
            ck_assert_uint_eq(tb_grid_points(&s), last + 1);
            ck_assert(tb_grid_lr(&s, 0) == s.axes[0].min);
            ck_assert(tb_grid_lr(&s, last) == s.axes[0].max); /* exactly max */
            /* interior points: min + j*h, increasing, spacing h */
            for (j = 1; j < last && j < 5000; j++) {
                ck_assert(tb_grid_lr(&s, j) == s.axes[0].min + (double)j * h);
                ck_assert(tb_grid_lr(&s, j) > tb_grid_lr(&s, j - 1));
            }
            if (last > 1) {
                j = last - 1;
                ck_assert(tb_grid_lr(&s, j) == s.axes[0].min + (double)j * h);
                ck_assert(tb_grid_lr(&s, j) < s.axes[0].max);
                ck_assert_double_eq_tol(s.axes[0].max - tb_grid_lr(&s, j), h, 1e-9 * h + 1e-15);
            }
        }
    }
    /* on [0, 1.5] the points are exactly j * 1.5 / 2^K, so level n of a
     * K grid is the level-n grid itself (the subsampling of science.md 3) */
    {
        struct tb_spec a = tbt_spec_reference(20), b = tbt_spec_reference(9);
        uint64_t j;
        for (j = 0; j <= 512; j++) {
            ck_assert(tb_grid_lr(&a, j << 11) == tb_grid_lr(&b, j));
            ck_assert(tb_grid_lr(&b, j) == (double)j * 1.5 / 512);
        }
    }
}
END_TEST

START_TEST(strerror_codes)
{
    const int codes[] = {TB_OK, TB_EINVAL, TB_ENOMEM, TB_ECANCELED};
    size_t i, k;

    for (i = 0; i < 4; i++) {
        ck_assert_ptr_nonnull(tb_strerror(codes[i]));
        ck_assert(strlen(tb_strerror(codes[i])) > 0);
        for (k = 0; k < i; k++)
            ck_assert_str_ne(tb_strerror(codes[i]), tb_strerror(codes[k]));
    }
    ck_assert_ptr_nonnull(tb_strerror(-12345));
    ck_assert_ptr_nonnull(tb_strerror(7));
}
END_TEST

static Suite *model_suite(void)
{
    Suite *s = suite_create("core/model");
    TCase *tc;

    tc = tcase_create("loss");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, loss_closed_forms);
    tcase_add_test(tc, additive_separable);
    tcase_add_test(tc, multiplicative_formula);
    suite_add_tcase(s, tc);

    tc = tcase_create("grad_fd");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, grad_fd_quadratic, 0, 2);
    tcase_add_loop_test(tc, grad_fd_additive, 0, 2);
    tcase_add_loop_test(tc, grad_fd_additive_terms, 0, 2);
    tcase_add_loop_test(tc, grad_fd_multiplicative, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("roughness");
    tcase_add_test(tc, roughness_families);
    tcase_add_test(tc, roughness_terms_sum);
    tcase_add_test(tc, roughness_convexity_numeric);
    suite_add_tcase(s, tc);

    tc = tcase_create("spec");
    tcase_add_test(tc, spec_check_valid);
    tcase_add_test(tc, spec_check_rejects);
    tcase_add_test(tc, grid_points_and_lr);
    tcase_add_test(tc, strerror_codes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(model_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
