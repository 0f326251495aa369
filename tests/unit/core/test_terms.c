/*
 * test_terms.c - unit tests for the poly and gauss perturbation terms
 * (issue 16): model.c's tb_loss/tb_grad with them, sweep.c's runs of them,
 * convex.c's roughness and convexity, tb_spec_check's ranges and the fast
 * path's coverage.
 *
 * Covers: closed-form values of h and h'; the gradient against a central
 * finite difference (additive d = 1 and 3, multiplicative gauss) and f''
 * (tb__f2) against a finite difference of the gradient; convexity at
 * thresholds known in closed form, on both sides, through the closed form
 * and through the numeric search (a zero-amplitude cosine forces it): one
 * bump (a/w^2 = 2), one well (a/w^2 = -e^1.5), a polynomial in x/s
 * (degree 4: c2 >= -s^2; degree 6: c4^2/c6 <= 5/3 in units of s), odd and
 * negative-leading degrees, a multiplicative bump (a <= 2 e^(t/2) /
 * -(t^2 - 5t + 2), t = (9 - sqrt 33)/2, and a >= -1); a zero-amplitude
 * bump added to the paper's cosine changes no label; a convex perturbation
 * has the plain quadratic's single boundary (a bump near 1.0046264; x^2 +
 * 0.5 x^2 in the cell of its analytic edge); such specs run on the
 * reference path even when precision is fast.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tb_int.h"
#include "tbtest.h"

static struct tb_model additive(void)
{
    struct tb_model m;

    memset(&m, 0, sizeof m);
    m.family = TB_ADDITIVE;
    m.dim = 1;
    return m;
}

static struct tb_term gauss(double a, double w, double c)
{
    struct tb_term t;

    memset(&t, 0, sizeof t);
    t.kind = TB_TERM_GAUSS;
    t.amplitude = a;
    t.width = w;
    t.centre = c;
    return t;
}

static struct tb_term poly(const double *c, int degree, double scale)
{
    struct tb_term t;
    int j;

    memset(&t, 0, sizeof t);
    t.kind = TB_TERM_POLY;
    t.degree = degree;
    t.scale = scale;
    for (j = 0; j <= degree; j++)
        t.coef[j] = c[j];
    return t;
}

static struct tb_term cosine(double eps, double lam)
{
    struct tb_term t;

    memset(&t, 0, sizeof t);
    t.kind = TB_TERM_COS;
    t.amplitude = eps;
    t.wavelength = lam;
    return t;
}

static void add_term(struct tb_model *m, struct tb_term t)
{
    m->terms[m->n_terms++] = t;
}

/* ---- values and gradients ----------------------------------------------- */

START_TEST(closed_forms)
{
    static const double c[] = {1.0, -2.0, 0.5, 0.25};
    struct tb_model m = additive();
    double x = 1.5, g, want;

    /* x^2 + 0.3 exp(-(x - 0.5)^2 / (2 * 0.4^2)) */
    add_term(&m, gauss(0.3, 0.4, 0.5));
    want = 2.25 + 0.3 * exp(-1.0 / 0.32);
    ck_assert_double_eq_tol(tb_loss(&m, &x), want, 1e-15);
    tb_grad(&m, &x, &g);
    ck_assert_double_eq_tol(g, 3.0 - 0.3 * exp(-1.0 / 0.32) * 1.0 / 0.16, 1e-15);
    /* at the centre the bump is a and flat */
    x = 0.5;
    tb_grad(&m, &x, &g);
    ck_assert_double_eq_tol(tb_loss(&m, &x), 0.25 + 0.3, 1e-15);
    ck_assert_double_eq_tol(g, 1.0, 1e-15);

    /* x^2 + 1 - 2u + 0.5u^2 + 0.25u^3, u = x / 2 */
    m = additive();
    add_term(&m, poly(c, 3, 2.0));
    x = 3.0;
    want = 9.0 + 1.0 - 3.0 + 0.5 * 2.25 + 0.25 * 3.375;
    ck_assert_double_eq_tol(tb_loss(&m, &x), want, 1e-14);
    tb_grad(&m, &x, &g);
    /* d/dx = (-2 + u + 0.75 u^2) / 2 */
    ck_assert_double_eq_tol(g, 6.0 + (-2.0 + 1.5 + 0.75 * 2.25) / 2.0, 1e-14);
}
END_TEST

/* Central difference of f, step 1e-5: error O(h^2 f''') plus rounding. */
static void check_grad(const struct tb_model *m, const double *x)
{
    double g[3], xp[3], xm[3], h = 1e-5;
    int i, d = m->dim;

    tb_grad(m, x, g);
    for (i = 0; i < d; i++) {
        double fd;
        memcpy(xp, x, (size_t)d * sizeof *x);
        memcpy(xm, x, (size_t)d * sizeof *x);
        xp[i] += h;
        xm[i] -= h;
        fd = (tb_loss(m, xp) - tb_loss(m, xm)) / (2 * h);
        ck_assert_msg(fabs(fd - g[i]) <= 1e-6 * (1 + fabs(g[i])), "coordinate %d: %.17g vs %.17g",
                      i, g[i], fd);
    }
}

START_TEST(gradients_vs_differences)
{
    static const double c[] = {0.3, -0.2, -1.1, 0.05, 0.4};
    static const double xs[][3] = {{1.0, -0.3, 0.7}, {-2.2, 0.0, 1.9}, {0.05, 3.1, -1.4}};
    struct tb_model m = additive(), mu;
    int i;

    add_term(&m, gauss(0.7, 0.3, 0.2));
    add_term(&m, poly(c, 4, 1.7));
    add_term(&m, cosine(0.1, 0.9));
    add_term(&m, gauss(-0.4, 1.1, -1.0));
    for (i = 0; i < 3; i++)
        check_grad(&m, xs[i]);
    m.dim = 3;
    for (i = 0; i < 3; i++)
        check_grad(&m, xs[i]);

    memset(&mu, 0, sizeof mu);
    mu.family = TB_MULTIPLICATIVE;
    mu.dim = 1;
    add_term(&mu, gauss(0.8, 0.5, 0.3));
    for (i = 0; i < 3; i++)
        check_grad(&mu, xs[i]);
}
END_TEST

/* tb__f2 is the second derivative: against a central difference of the
 * gradient. */
START_TEST(f2_vs_differences)
{
    static const double c[] = {0.3, -0.2, -1.1, 0.05, 0.4, 0.0, 0.01};
    struct tb_model models[3];
    int k, i;

    models[0] = additive();
    add_term(&models[0], gauss(0.7, 0.3, 0.2));
    add_term(&models[0], poly(c, 6, 1.7));
    add_term(&models[0], cosine(0.1, 0.9));
    memset(&models[1], 0, sizeof models[1]);
    models[1].family = TB_MULTIPLICATIVE;
    models[1].dim = 1;
    add_term(&models[1], gauss(-0.6, 0.4, -0.2));
    models[2] = additive();
    add_term(&models[2], gauss(-2.0, 0.2, 1.0));
    for (k = 0; k < 3; k++) {
        for (i = -20; i <= 20; i++) {
            double x = i * 0.13, h = 1e-5, xp = x + h, xm = x - h, gp, gm, fd, f2;
            tb_grad(&models[k], &xp, &gp);
            tb_grad(&models[k], &xm, &gm);
            fd = (gp - gm) / (2 * h);
            f2 = tb__f2(&models[k], x);
            ck_assert_msg(fabs(fd - f2) <= 1e-5 * (1 + fabs(f2)), "model %d x %g: %.12g vs %.12g",
                          k, x, f2, fd);
        }
    }
}
END_TEST

/* ---- convexity ---------------------------------------------------------- */

static struct tb_roughness rough(const struct tb_model *m)
{
    struct tb_roughness r;

    tb_roughness(m, &r);
    return r;
}

/* One bump: f'' = 2 - a/w^2 at x = c; one well: 2 + 2 a e^-1.5 / w^2 at
 * c +- sqrt(3) w. Closed form, then the numeric search (a cosine of zero
 * amplitude makes the model mixed), on both sides of each threshold. */
START_TEST(gauss_thresholds)
{
    static const double ws[] = {0.1, 0.3, 1.0, 4.0};
    const double well = -exp(1.5);
    int i, side, numeric;

    for (numeric = 0; numeric < 2; numeric++) {
        for (i = 0; i < 4; i++) {
            const double w = ws[i], w2 = w * w;
            for (side = -1; side <= 1; side += 2) {
                struct tb_model m = additive();
                struct tb_roughness r;
                const double th = 2.0 * (1 + side * 1e-4);
                add_term(&m, gauss(th * w2, w, 0.37));
                if (numeric)
                    add_term(&m, cosine(0.0, 1.0));
                r = rough(&m);
                ck_assert_int_eq(r.numeric, numeric);
                ck_assert_int_eq(r.convex, side < 0);
                ck_assert_double_eq_tol(r.min_f2, 2.0 - th, 1e-9);
                if (!numeric) {
                    ck_assert_double_eq_tol(r.theta, th, 1e-12);
                    ck_assert(r.critical == 2.0);
                } else {
                    ck_assert_double_eq_tol(r.theta, th / 2.0, 1e-9); /* the deficit */
                    ck_assert(r.critical == 1.0);
                }

                m = additive();
                add_term(&m, gauss(well * (1 + side * 1e-4) * w2, w, -1.0));
                if (numeric)
                    add_term(&m, cosine(0.0, 1.0));
                r = rough(&m);
                ck_assert_int_eq(r.convex, side < 0);
                ck_assert_double_eq_tol(r.min_f2, -2.0 * side * 1e-4, 1e-9);
            }
        }
    }
}
END_TEST

/* Two bumps far apart are each judged on their own; close together they
 * add (the numeric search sees the sum). */
START_TEST(two_bumps)
{
    struct tb_model m = additive();
    struct tb_roughness r;

    add_term(&m, gauss(1.5 * 0.04, 0.2, -5.0));
    add_term(&m, gauss(1.9 * 0.04, 0.2, 5.0));
    r = rough(&m);
    ck_assert_int_eq(r.numeric, 1);
    ck_assert_int_eq(r.convex, 1);
    ck_assert_double_eq_tol(r.min_f2, 2.0 - 1.9, 1e-9);
    ck_assert_double_eq_tol(r.theta, 3.4, 1e-12);
    m.terms[1].centre = -5.0; /* the same place: 3.4 > 2 */
    r = rough(&m);
    ck_assert_int_eq(r.convex, 0);
    ck_assert_double_eq_tol(r.min_f2, 2.0 - 3.4, 1e-9);
}
END_TEST

/* Polynomials in u = x/s (f'' = 2 + p''(x)):
 *  degree 4, c = (0, 0, c2, 0, c4 > 0): min f'' = 2 + 2 c2 / s^2 at 0;
 *  degree 6, c = (0, 0, 0, 0, c4 < 0, 0, c6 > 0): p'' = (12 c4 u^2 + 30 c6 u^4)/s^2
 *  has min -1.2 c4^2/c6 / s^2: convex iff c4^2/c6 <= (5/3) s^2. */
START_TEST(poly_thresholds)
{
    static const double scales[] = {0.5, 1.0, 3.0};
    int i, side;

    for (i = 0; i < 3; i++) {
        const double s = scales[i], s2 = s * s;
        for (side = -1; side <= 1; side += 2) {
            struct tb_model m = additive();
            struct tb_roughness r;
            double c4[] = {0.1, 0.2, -s2 * (1 + side * 1e-6), 0.0, 0.3};
            double c6[] = {0, 0, 0, 0, -0.6, 0, 0.0};
            double want;

            add_term(&m, poly(c4, 4, s));
            r = rough(&m);
            ck_assert_int_eq(r.numeric, 0);
            ck_assert_int_eq(r.convex, side < 0);
            ck_assert_double_eq_tol(r.min_f2, 2.0 - 2.0 * (1 + side * 1e-6), 1e-12);
            ck_assert(r.critical == 1.0);

            /* c4^2 / c6 = (5/3) s^2 (1 + side 1e-6): c6 = 0.36 / ((5/3) s^2 (1 +- ...)) */
            c6[6] = 0.36 / (5.0 / 3.0 * s2 * (1 + side * 1e-6));
            m = additive();
            add_term(&m, poly(c6, 6, s));
            r = rough(&m);
            want = 2.0 - 1.2 * 0.36 / c6[6] / s2;
            ck_assert_int_eq(r.numeric, 0);
            ck_assert_int_eq(r.convex, side < 0);
            ck_assert_double_eq_tol(r.min_f2, want, 1e-10);
            ck_assert_double_eq_tol(r.theta, 1.0 - want / 2.0, 1e-10);

            /* the same through the numeric search */
            add_term(&m, cosine(0.0, 0.7));
            r = rough(&m);
            ck_assert_int_eq(r.numeric, 1);
            ck_assert_int_eq(r.convex, side < 0);
            ck_assert_double_eq_tol(r.min_f2, want, 1e-9);
        }
    }
}
END_TEST

START_TEST(poly_unbounded)
{
    static const double cubic[] = {0, 0, 0, 1e-6};
    static const double neg4[] = {0, 0, 5.0, 0, -1e-3};
    static const double flat[] = {3.0, -7.0}; /* degree <= 1: f'' = 2 */
    struct tb_model m = additive();
    struct tb_roughness r;

    add_term(&m, poly(cubic, 3, 1.0));
    r = rough(&m);
    ck_assert_int_eq(r.convex, 0);
    ck_assert(isinf(r.theta) && r.theta > 0);
    ck_assert(isinf(r.min_f2) && r.min_f2 < 0);
    m = additive();
    add_term(&m, poly(neg4, 4, 2.0));
    add_term(&m, gauss(0.1, 1.0, 0.0));
    ck_assert_int_eq(rough(&m).convex, 0);
    m = additive();
    add_term(&m, poly(flat, 1, 1.0));
    r = rough(&m);
    ck_assert_int_eq(r.convex, 1);
    ck_assert(r.min_f2 == 2.0 && r.theta == 0.0);
    /* cos plus a quadratic term: closed form, 2 + 2 c2 - 4 pi^2 eps/lam^2 */
    m.terms[0].coef[1] = 0.0;
    m.terms[0].degree = 2;
    m.terms[0].coef[2] = -0.25;
    add_term(&m, cosine(0.01, 1.0));
    r = rough(&m);
    ck_assert_int_eq(r.numeric, 0);
    ck_assert_double_eq_tol(r.min_f2, 1.5 - 4 * M_PI * M_PI * 0.01, 1e-12);
    ck_assert_int_eq(r.convex, 1);
}
END_TEST

/* x^2 (1 + a exp(-x^2 / 2w^2)): phi'' = 2 + a e^(-t/2) (t^2 - 5t + 2),
 * t = x^2 / w^2. Its minimum over t, at t1 = (9 - sqrt 33)/2, is k1 < 0,
 * so a bump is convex iff a <= -2 / k1 (about 1.2935); at t = 0 it is 2,
 * so a well is convex iff a >= -1. */
START_TEST(multiplicative_gauss_thresholds)
{
    const double t1 = (9.0 - sqrt(33.0)) / 2.0;
    const double k1 = exp(-t1 / 2.0) * (t1 * t1 - 5.0 * t1 + 2.0), up = -2.0 / k1;
    static const double ws[] = {0.2, 1.0, 5.0};
    int i, side;

    ck_assert(up > 1.29 && up < 1.30);
    for (i = 0; i < 3; i++) {
        for (side = -1; side <= 1; side += 2) {
            struct tb_model m;
            struct tb_roughness r;
            memset(&m, 0, sizeof m);
            m.family = TB_MULTIPLICATIVE;
            m.dim = 1;
            add_term(&m, gauss(up * (1 + side * 1e-4), ws[i], 0.0));
            r = rough(&m);
            ck_assert_int_eq(r.convex, side < 0);
            ck_assert_int_eq(r.numeric, 1);
            ck_assert(isnan(r.critical));
            ck_assert_double_eq_tol(r.theta, up * (1 + side * 1e-4), 1e-15);
            ck_assert_double_eq_tol(r.min_f2, 2.0 + up * (1 + side * 1e-4) * k1, 1e-9);
            m.terms[0].amplitude = -1.0 * (1 + side * 1e-4);
            r = rough(&m);
            ck_assert_int_eq(r.convex, side < 0);
        }
    }
}
END_TEST

/* ---- sweeps ------------------------------------------------------------- */

static int transitions(const uint64_t *b, uint64_t n, int64_t *first)
{
    int t = 0;
    uint64_t j;

    *first = -1;
    for (j = 0; j < n; j++) {
        if (j > 0 && tb_label_get(b, j) != tb_label_get(b, j - 1))
            t++;
        if (*first < 0 && tb_label_get(b, j))
            *first = (int64_t)j;
    }
    return t;
}

/* A bump or a polynomial with zero amplitude adds +-0 to the loss and the
 * gradient: the paper's labels, bit for bit, though the run takes the
 * general loop instead of the 1-D one. */
START_TEST(zero_terms_change_nothing)
{
    static const double zero[] = {0.0, 0.0, 0.0};
    struct tb_spec base = tbt_spec_additive(0.2, 0.1, 13), s;
    uint64_t n = tb_grid_points(&base), *want = tbt_sweep(&base), *got;

    s = base;
    s.model.n_terms = 2;
    s.model.terms[1] = gauss(0.0, 0.3, 0.5);
    got = tbt_sweep(&s);
    ck_assert_uint_eq(tbt_label_diff(want, got, n), 0);
    free(got);
    s.model.terms[1] = poly(zero, 2, 1.0);
    got = tbt_sweep(&s);
    ck_assert_uint_eq(tbt_label_diff(want, got, n), 0);
    free(got);
    free(want);
}
END_TEST

/* A convex perturbation keeps the quadratic's single boundary: a bump
 * (a/w^2 = 1.1) at 0 is gone by the time |x| grows, so the edge stays near
 * science.md's 1.0046264; 0.5 x^2 makes f = 1.5 x^2, whose detected edge
 * is (1 + (M / 1.5)^(1/2T)) / 3, in the cell of the first divergent rate. */
START_TEST(convex_boundary)
{
    static const double half[] = {0.0, 0.0, 0.5};
    struct tb_spec s = tbt_spec_additive(0.0, 1.0, 14);
    const double h = 1.5 / 16384.0;
    uint64_t n = tb_grid_points(&s), *b;
    int64_t first;
    double edge;

    s.model.terms[0] = gauss(0.1, 0.3, 0.0);
    ck_assert_int_eq(rough(&s.model).convex, 1);
    b = tbt_sweep(&s);
    ck_assert_int_eq(transitions(b, n, &first), 1);
    ck_assert(fabs(tb_grid_lr(&s, (uint64_t)first) - 1.0046264) < 2e-3);
    free(b);

    s.model.terms[0] = poly(half, 2, 1.0);
    b = tbt_sweep(&s);
    edge = (1.0 + pow(1e8 / 1.5, 1.0 / 2000.0)) / 3.0;
    ck_assert_int_eq(transitions(b, n, &first), 1);
    ck_assert(tb_grid_lr(&s, (uint64_t)first) >= edge);
    ck_assert(tb_grid_lr(&s, (uint64_t)first) - h < edge);
    free(b);

    /* several coordinates from equal starts: the same labels (separable) */
    {
        struct tb_spec d3 = s;
        uint64_t *b3;
        d3.model.dim = 3;
        d3.threshold = 3e8;
        b = tbt_sweep(&s);
        b3 = tbt_sweep(&d3);
        ck_assert_uint_eq(tbt_label_diff(b, b3, n), 0);
        free(b);
        free(b3);
    }
}
END_TEST

/* Poly and gauss terms have no fast kernel: reference, whatever the
 * precision asks; a cosine given as a typed term is still covered. */
START_TEST(fast_coverage)
{
    struct tb_spec s = tbt_spec_additive(0.2, 0.1, 8);

    s.precision = TB_PRECISION_FAST;
    ck_assert_int_eq(tb_fast_covers(&s), 1);
    ck_assert_int_eq(tb_engine_precision(&s), TB_PRECISION_FAST);
    s.model.terms[0] = cosine(0.2, 0.1);
    ck_assert_int_eq(tb_fast_covers(&s), 1);
    s.model.terms[0] = gauss(0.2, 0.1, 0.0);
    ck_assert_int_eq(tb_fast_covers(&s), 0);
    ck_assert_int_eq(tb_engine_precision(&s), TB_PRECISION_REFERENCE);
    s = tbt_spec_multiplicative(0.2, 0.1, 8);
    s.precision = TB_PRECISION_FAST;
    s.model.terms[0] = gauss(0.2, 0.1, 0.0);
    ck_assert_int_eq(tb_engine_precision(&s), TB_PRECISION_REFERENCE);
    s.opt.kind = TB_OPT_MOMENTUM;
    s.opt.beta = 0.5;
    ck_assert_int_eq(tb_fast_covers(&s), 0);
}
END_TEST

/* Momentum runs tb_loss/tb_grad: a term model runs and beta = 0 is GD. */
START_TEST(optimizer_with_terms)
{
    struct tb_spec s = tbt_spec_additive(0.0, 1.0, 10), o;
    uint64_t n = tb_grid_points(&s), *gd, *mo;

    s.model.terms[0] = gauss(0.5, 0.2, 0.3);
    o = s;
    o.opt.kind = TB_OPT_MOMENTUM;
    gd = tbt_sweep(&s);
    mo = tbt_sweep(&o);
    ck_assert_uint_eq(tbt_label_diff(gd, mo, n), 0);
    free(gd);
    free(mo);
}
END_TEST

START_TEST(spec_check_terms)
{
    static const double c[] = {1, 2, 3};
    struct tb_spec base = tbt_spec_additive(0.2, 0.1, 8), s;

    base.model.n_terms = 3;
    base.model.terms[1] = gauss(-0.5, 0.2, 1.0);
    base.model.terms[2] = poly(c, 2, 0.5);
    ck_assert_int_eq(tb_spec_check(&base), TB_OK);
#define REJECT(stmt)                                                                              \
    do {                                                                                          \
        s = base;                                                                                 \
        stmt;                                                                                     \
        ck_assert_msg(tb_spec_check(&s) == TB_EINVAL, "accepted: %s", #stmt);                     \
    } while (0)
    REJECT(s.model.terms[1].width = 0.0);
    REJECT(s.model.terms[1].width = NAN);
    REJECT(s.model.terms[1].centre = INFINITY);
    REJECT(s.model.terms[1].amplitude = NAN);
    REJECT(s.model.terms[2].scale = 0.0);
    REJECT(s.model.terms[2].degree = TB_MAX_POLY_DEGREE + 1);
    REJECT(s.model.terms[2].degree = -1);
    REJECT(s.model.terms[2].coef[1] = NAN);
    REJECT(s.model.terms[2].kind = (enum tb_term_kind)3);
    /* multiplicative: gauss in 1-D only, never poly */
    base = tbt_spec_multiplicative(0.2, 0.1, 8);
    base.model.terms[0] = gauss(0.5, 0.2, 0.0);
    ck_assert_int_eq(tb_spec_check(&base), TB_OK);
    REJECT(s.model.dim = 2);
    REJECT(s.model.terms[0] = poly(c, 2, 1.0));
#undef REJECT
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core/terms");
    TCase *tc = tcase_create("terms");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, closed_forms);
    tcase_add_test(tc, gradients_vs_differences);
    tcase_add_test(tc, f2_vs_differences);
    tcase_add_test(tc, gauss_thresholds);
    tcase_add_test(tc, two_bumps);
    tcase_add_test(tc, poly_thresholds);
    tcase_add_test(tc, poly_unbounded);
    tcase_add_test(tc, multiplicative_gauss_thresholds);
    tcase_add_test(tc, zero_terms_change_nothing);
    tcase_add_test(tc, convex_boundary);
    tcase_add_test(tc, fast_coverage);
    tcase_add_test(tc, optimizer_with_terms);
    tcase_add_test(tc, spec_check_terms);
    suite_add_tcase(s, tc);
    return tbt_run_suite(s);
}
