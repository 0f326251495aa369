/*
 * convex.c - the roughness and the convexity of models with poly or gauss
 * terms (issue 16; tb.h's struct tb_roughness says what theta measures).
 * The cosine models keep model.c's closed forms.
 *
 * Owns: tb__roughness_terms(), tb__f2(), tb__f2_search().
 * Threads: pure functions; any thread. No allocation.
 *
 * f'' is of one coordinate: the additive family is separable, so f is
 * convex iff phi(x) = x^2 + sum_k h_k(x) is; the multiplicative gauss term
 * is 1-D only (tb_spec_check), phi(x) = x^2 (1 + h(x)).
 *
 * How inf f'' is found, additive (Q(x) = the poly terms' second derivative,
 * summed into one polynomial in x of degree dq):
 *  1. dq >= 1 and odd, or even with a negative leading coefficient: f'' is
 *     unbounded below (cosines and bumps have bounded h''). Exact.
 *  2. dq >= 2 even, leading > 0, poly terms only: inf f'' = 2 + min Q, at
 *     the real roots of Q' (all inside Cauchy's bound), which are isolated
 *     between the roots of Q'' (recursively) and bisected. Exact up to
 *     rounding.
 *  3. dq >= 2 with cosines or bumps: outside |x| <= X, where X is Cauchy's
 *     bound for Q(x) - (f''(0) - 2 + B), with B = sum |eps|(2 pi/lam)^2 +
 *     sum |a|/w^2 (the bound on |h''| of the cosines and bumps), f'' >=
 *     f''(0); so the search below on [-X, X] finds inf f''.
 *  4. dq <= 0 (Q = q0 constant): without bumps, inf f'' = 2 + q0 -
 *     sum eps (2 pi/lam)^2, at x = 0 where every cosine is 1 (exact for
 *     eps >= 0). One bump and no cosine: 2 + q0 + min h'', with min h'' =
 *     -a/w^2 at x = c for a > 0 and 2 a e^-1.5 / w^2 at x = c +- sqrt(3) w
 *     for a < 0. Otherwise the far field's infimum 2 + q0 - sum eps
 *     (2 pi/lam)^2 (approached at large |x| by Dirichlet's simultaneous
 *     approximation, where the bumps have died out) and the search on
 *     [min c_k - 12 w_k, max c_k + 12 w_k] (beyond 12 widths a bump's
 *     |h''| < 1e-29 |a|/w^2).
 * Multiplicative gauss: min(2, the search on [c - 12 w, c + 12 w]); far
 * away phi'' -> 2.
 *
 * The bounded numeric search (tb__f2_search): SEARCH_PER_FEATURE samples
 * per shortest wavelength or width, at least 256 and at most SEARCH_SAMPLES
 * (65536) over the interval, so a long interval is sampled more coarsely;
 * the SEARCH_REFINE lowest local minima of the samples are refined by a
 * golden-section search on their two neighbouring cells. A minimum
 * narrower than the sampling step can be missed. A numeric verdict is
 * convex when inf f'' >= -1e-9 (2 + B): rounding at an exact threshold
 * does not decide it.
 */
#include <math.h>

#include "model_int.h"
#include "tb.h"
#include "tb_int.h"

#define SEARCH_SAMPLES 65536
#define SEARCH_MIN_SAMPLES 256
#define SEARCH_PER_FEATURE 32
#define SEARCH_REFINE 16
#define GOLDEN_ITERS 80
#define GAUSS_REACH 12.0
#define NUMERIC_TOL 1e-9
#define E_ONE_HALF 4.4816890703380648226 /* e^1.5 */

/* h, h' and h'' of one term at x (h'' returned). */
static double term_d012(const struct tb_term *t, double x, double *h, double *dh)
{
    switch (t->kind) {
    case TB_TERM_COS: {
        const double k = TB_TWO_PI / t->wavelength, ph = TB_PHASE(x, t->wavelength);
        const double c = t->amplitude * cos(ph);
        *h = c;
        *dh = -(t->amplitude * k) * sin(ph);
        return -(k * k) * c;
    }
    case TB_TERM_POLY: {
        const double u = x / t->scale;
        double q = 0.0;
        int j;
        *h = tb__term_eval(t, x, dh);
        for (j = t->degree; j >= 2; j--)
            q = q * u + (double)(j * (j - 1)) * t->coef[j];
        return q / (t->scale * t->scale);
    }
    case TB_TERM_GAUSS:
    default: {
        const double z = (x - t->centre) / t->width;
        const double e = t->amplitude * exp(-0.5 * (z * z));
        *h = e;
        *dh = -(e * z) / t->width;
        return e * (z * z - 1.0) / (t->width * t->width);
    }
    }
}

double tb__f2(const struct tb_model *m, double x)
{
    double h, dh, f2 = 2.0;
    int k;

    if (m->family == TB_MULTIPLICATIVE) {
        const double h2 = term_d012(&m->terms[0], x, &h, &dh);
        return 2.0 * (1.0 + h) + 4.0 * x * dh + x * x * h2;
    }
    if (m->family != TB_ADDITIVE)
        return 2.0;
    for (k = 0; k < m->n_terms; k++)
        f2 += term_d012(&m->terms[k], x, &h, &dh);
    return f2;
}

/* Golden-section search for the minimum of f'' on [a, b]; best is the
 * lowest value seen so far (updated). */
static double golden(const struct tb_model *m, double a, double b, double best)
{
    const double r = 0.6180339887498948482;
    double c = b - r * (b - a), d = a + r * (b - a), fc = tb__f2(m, c), fd = tb__f2(m, d);
    int i;

    for (i = 0; i < GOLDEN_ITERS && b - a > 0; i++) {
        if (fc < fd) {
            b = d;
            d = c;
            fd = fc;
            c = b - r * (b - a);
            fc = tb__f2(m, c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + r * (b - a);
            fd = tb__f2(m, d);
        }
        best = fmin(best, fmin(fc, fd));
    }
    return best;
}

double tb__f2_search(const struct tb_model *m, double lo, double hi)
{
    double feat = hi - lo, step, best = INFINITY, cand_x[SEARCH_REFINE], cand_v[SEARCH_REFINE];
    double v_prev = INFINITY, v_cur, x_cur;
    long n, i;
    int k, nc = 0, c;

    if (!(hi > lo))
        return tb__f2(m, lo);
    for (k = 0; k < m->n_terms; k++) {
        const struct tb_term *t = &m->terms[k];
        if (t->kind == TB_TERM_COS)
            feat = fmin(feat, t->wavelength);
        else if (t->kind == TB_TERM_GAUSS)
            feat = fmin(feat, t->width);
    }
    {
        double want = ceil((hi - lo) / feat * SEARCH_PER_FEATURE) + 1.0;
        n = want > SEARCH_SAMPLES ? SEARCH_SAMPLES
                                  : (want < SEARCH_MIN_SAMPLES ? SEARCH_MIN_SAMPLES : (long)want);
    }
    step = (hi - lo) / (double)(n - 1);

    /* One pass: keep the SEARCH_REFINE lowest local minima of the samples. */
    x_cur = lo;
    v_cur = tb__f2(m, lo);
    for (i = 0; i < n; i++) {
        const double x_next = i + 1 < n ? (i + 2 == n ? hi : lo + (double)(i + 1) * step) : 0.0;
        const double v_next = i + 1 < n ? tb__f2(m, x_next) : INFINITY;

        best = fmin(best, v_cur);
        if (v_cur <= v_prev && v_cur <= v_next) {
            int worst = 0;
            if (nc < SEARCH_REFINE) {
                worst = nc++;
            } else {
                for (c = 1; c < SEARCH_REFINE; c++)
                    if (cand_v[c] > cand_v[worst])
                        worst = c;
                if (!(v_cur < cand_v[worst]))
                    worst = -1;
            }
            if (worst >= 0) {
                cand_x[worst] = x_cur;
                cand_v[worst] = v_cur;
            }
        }
        v_prev = v_cur;
        v_cur = v_next;
        x_cur = x_next;
    }
    for (c = 0; c < nc; c++)
        best = golden(m, fmax(lo, cand_x[c] - step), fmin(hi, cand_x[c] + step), best);
    return best;
}

/* ---- polynomials -------------------------------------------------------- */

static double peval(const double *p, int n, double x)
{
    double v = p[n];
    int j;

    for (j = n - 1; j >= 0; j--)
        v = v * x + p[j];
    return v;
}

/* Cauchy's bound: every root of p (degree n, p[n] != 0) has |x| <= it. */
static double cauchy(const double *p, int n)
{
    double r = 0.0;
    int j;

    for (j = 0; j < n; j++)
        r = fmax(r, fabs(p[j] / p[n]));
    return 1.0 + r;
}

/* The roots of odd multiplicity (sign changes) of p (degree <= n) in
 * (lo, hi), ascending, into out (n entries at most). The extrema of p, the
 * sign changes of p', split (lo, hi) into intervals where p is monotone;
 * each with a sign change holds one root, bisected to the last bit. */
static int real_roots(const double *p, int n, double lo, double hi, double *out)
{
    double d[TB_MAX_POLY_DEGREE], pts[TB_MAX_POLY_DEGREE + 2];
    int i, k, np = 0, nr = 0;

    while (n > 0 && p[n] == 0.0)
        n--;
    if (n <= 0)
        return 0;
    if (n == 1) {
        const double r = -p[0] / p[1];
        if (r > lo && r < hi)
            out[nr++] = r;
        return nr;
    }
    for (i = 1; i <= n; i++)
        d[i - 1] = (double)i * p[i];
    pts[np++] = lo;
    np += real_roots(d, n - 1, lo, hi, pts + 1);
    pts[np++] = hi;
    for (k = 0; k + 1 < np; k++) {
        double a = pts[k], b = pts[k + 1], fa = peval(p, n, a), fb = peval(p, n, b);
        if (!((fa < 0 && fb > 0) || (fa > 0 && fb < 0)))
            continue;
        for (i = 0; i < 2200; i++) {
            const double mid = a + (b - a) / 2, fm = peval(p, n, mid);
            if (!(mid > a && mid < b))
                break;
            if (fm == 0.0) {
                a = b = mid;
                break;
            }
            if ((fm < 0) == (fa < 0)) {
                a = mid;
                fa = fm;
            } else {
                b = mid;
            }
        }
        out[nr++] = a + (b - a) / 2;
    }
    return nr;
}

/* ---- roughness ---------------------------------------------------------- */

/* min over x of a bump's h'' (closed form) */
static double gauss_min_f2(const struct tb_term *t)
{
    const double w2 = t->width * t->width;

    if (t->amplitude > 0)
        return -t->amplitude / w2; /* at x = c */
    return 2.0 * t->amplitude / E_ONE_HALF / w2; /* at x = c +- sqrt(3) w; 0 for a = 0 */
}

void tb__roughness_terms(const struct tb_model *m, struct tb_roughness *out)
{
    double b[TB_MAX_POLY_DEGREE + 1] = {0}, q[TB_MAX_POLY_DEGREE + 1] = {0};
    double cos_bound = 0.0, gauss_bound = 0.0, gauss_theta = 0.0, lo = INFINITY, hi = -INFINITY;
    double inf;
    const struct tb_term *g1 = NULL;
    int k, j, n_cos = 0, n_gauss = 0, n_poly = 0, dq = -1;

    out->numeric = 0;
    if (m->family == TB_MULTIPLICATIVE) {
        const struct tb_term *t = &m->terms[0];
        inf = fmin(2.0, tb__f2_search(m, t->centre - GAUSS_REACH * t->width,
                                      t->centre + GAUSS_REACH * t->width));
        out->theta = t->amplitude;
        out->critical = NAN;
        out->numeric = 1;
        out->min_f2 = inf;
        out->convex = inf >= -NUMERIC_TOL * (2.0 + fabs(t->amplitude));
        return;
    }
    for (k = 0; k < m->n_terms; k++) {
        const struct tb_term *t = &m->terms[k];
        switch (t->kind) {
        case TB_TERM_COS: {
            const double kk = TB_TWO_PI / t->wavelength;
            n_cos++;
            cos_bound += fabs(t->amplitude) * kk * kk;
            break;
        }
        case TB_TERM_POLY: {
            double pw = 1.0; /* scale^j */
            n_poly++;
            for (j = 0; j <= t->degree; j++) {
                b[j] += t->coef[j] / pw;
                pw *= t->scale;
            }
            break;
        }
        case TB_TERM_GAUSS:
            n_gauss++;
            g1 = t;
            gauss_bound += fabs(t->amplitude) / (t->width * t->width);
            gauss_theta += t->amplitude / (t->width * t->width);
            lo = fmin(lo, t->centre - GAUSS_REACH * t->width);
            hi = fmax(hi, t->centre + GAUSS_REACH * t->width);
            break;
        }
    }
    /* Q = (sum of the polynomials)'' = sum_i (i+2)(i+1) b[i+2] x^i */
    for (j = 0; j + 2 <= TB_MAX_POLY_DEGREE; j++) {
        q[j] = (double)((j + 2) * (j + 1)) * b[j + 2];
        if (q[j] != 0.0)
            dq = j;
    }

    if (dq >= 1 && (dq % 2 == 1 || q[dq] < 0)) {
        inf = -INFINITY;
    } else if (dq >= 2 && !n_cos && !n_gauss) {
        double d[TB_MAX_POLY_DEGREE], r[TB_MAX_POLY_DEGREE], bound;
        int nr;
        for (j = 1; j <= dq; j++)
            d[j - 1] = (double)j * q[j];
        bound = cauchy(d, dq - 1);
        nr = real_roots(d, dq - 1, -bound, bound, r);
        inf = tb__f2(m, 0.0);
        for (j = 0; j < nr; j++)
            inf = fmin(inf, tb__f2(m, r[j]));
    } else if (dq >= 2) {
        double r[TB_MAX_POLY_DEGREE + 1], x;
        for (j = 0; j <= dq; j++)
            r[j] = q[j];
        r[0] -= tb__f2(m, 0.0) - 2.0 + cos_bound + gauss_bound;
        x = cauchy(r, dq);
        inf = tb__f2_search(m, -x, x);
        out->numeric = 1;
    } else {
        const double far = 2.0 + q[0] - cos_bound;
        if (!n_gauss)
            inf = far;
        else if (n_gauss == 1 && !n_cos)
            inf = 2.0 + q[0] + gauss_min_f2(g1);
        else {
            inf = fmin(far, tb__f2_search(m, lo, hi));
            out->numeric = 1;
        }
    }

    out->min_f2 = inf;
    if (out->numeric)
        out->convex = inf >= -NUMERIC_TOL * (2.0 + cos_bound + gauss_bound);
    else
        out->convex = inf >= 0.0;
    if (n_gauss && !n_cos && !n_poly) {
        out->theta = gauss_theta;
        out->critical = 2.0;
    } else {
        out->theta = 1.0 - inf / 2.0; /* +inf when inf = -inf */
        out->critical = 1.0;
    }
}
