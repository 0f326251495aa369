/*
 * model.c - the loss families, their gradients and their roughness.
 *
 * Owns: tb_loss(), tb_grad(), tb_roughness() (the cosine models; convex.c
 * the others), tb_model_cos_only(), tb_spec_check(), the grid
 * (tb_grid_points(), tb_grid_lr()), the replicates (tb_replicates(),
 * tb_sweep_points(), tb_replicate_x0()), tb_engine_precision() and
 * tb_strerror().
 * Threads: pure functions; any thread.
 *
 * Evaluation order is science.md's reference order ([L]): the phase is
 * (2*pi*x)/lam, the additive gradient 2x - ((2*pi*eps)*sin)/lam, the
 * multiplicative one (2x)(1+eps*C) - (((2*pi*R)*eps)*sin)/lam. sweep.c uses
 * the same expressions through model_int.h, so tb_loss/tb_grad and the
 * sweep cannot drift apart. This file is built with -ffp-contract=off.
 */
#include <math.h>

#include "model_int.h"
#include "tb.h"
#include "tb_int.h"

const char *tb_strerror(int code)
{
    switch (code) {
    case TB_OK:
        return "ok";
    case TB_EINVAL:
        return "invalid argument";
    case TB_ENOMEM:
        return "out of memory";
    case TB_ECANCELED:
        return "canceled";
    default:
        return "unknown error";
    }
}

static int pos_finite(double v)
{
    return isfinite(v) && v > 0;
}

/* One term of m: its kind is allowed in the family, its fields in range. */
static int term_check(const struct tb_model *m, const struct tb_term *t)
{
    int j;

    switch (t->kind) {
    case TB_TERM_COS:
        if (!isfinite(t->amplitude) || !pos_finite(t->wavelength))
            return TB_EINVAL;
        return TB_OK;
    case TB_TERM_POLY:
        if (m->family != TB_ADDITIVE || !pos_finite(t->scale) || t->degree < 0 ||
            t->degree > TB_MAX_POLY_DEGREE)
            return TB_EINVAL;
        for (j = 0; j <= t->degree; j++)
            if (!isfinite(t->coef[j]))
                return TB_EINVAL;
        return TB_OK;
    case TB_TERM_GAUSS:
        /* multiplicative: 1-D only (the convexity check is of one coordinate) */
        if (m->family == TB_MULTIPLICATIVE && m->dim != 1)
            return TB_EINVAL;
        if (!isfinite(t->amplitude) || !pos_finite(t->width) || !isfinite(t->centre))
            return TB_EINVAL;
        return TB_OK;
    }
    return TB_EINVAL;
}

int tb_model_cos_only(const struct tb_model *m)
{
    int k;

    for (k = 0; k < m->n_terms; k++)
        if (m->terms[k].kind != TB_TERM_COS)
            return 0;
    return 1;
}

int tb_spec_check(const struct tb_spec *spec)
{
    const struct tb_model *m;
    int i;

    if (!spec)
        return TB_EINVAL;
    m = &spec->model;
    if (m->dim < 1 || m->dim > TB_MAX_DIM)
        return TB_EINVAL;
    switch (m->family) {
    case TB_QUADRATIC:
        if (m->n_terms != 0)
            return TB_EINVAL;
        break;
    case TB_ADDITIVE:
        if (m->n_terms < 1 || m->n_terms > TB_MAX_TERMS)
            return TB_EINVAL;
        break;
    case TB_MULTIPLICATIVE:
        if (m->n_terms != 1)
            return TB_EINVAL;
        break;
    default:
        return TB_EINVAL;
    }
    for (i = 0; i < m->n_terms; i++)
        if (term_check(m, &m->terms[i]) != TB_OK)
            return TB_EINVAL;
    if (spec->x0) {
        for (i = 0; i < m->dim; i++)
            if (!isfinite(spec->x0[i]))
                return TB_EINVAL;
    } else if (!isfinite(spec->x0_scalar)) {
        return TB_EINVAL;
    }
    if (spec->steps < 1)
        return TB_EINVAL;
    if (spec->criterion != TB_MAX_LOSS && spec->criterion != TB_LOSS_SUM &&
        spec->criterion != TB_FINAL_LOSS)
        return TB_EINVAL;
    if (!isfinite(spec->threshold))
        return TB_EINVAL;
    if (spec->nan_policy != TB_NAN_DIVERGENT && spec->nan_policy != TB_NAN_BOUNDED)
        return TB_EINVAL;
    if (spec->precision != TB_PRECISION_REFERENCE && spec->precision != TB_PRECISION_FAST)
        return TB_EINVAL;
    if (spec->isa_cap < TB_ISA_BEST || spec->isa_cap > TB_ISA_AVX512)
        return TB_EINVAL;
    if (spec->n_axes != 1 || spec->axes[0].kind != TB_AXIS_LR)
        return TB_EINVAL;
    if (spec->axes[0].values) {
        uint64_t j;
        if (spec->axes[0].n_values < 1)
            return TB_EINVAL;
        for (j = 0; j < spec->axes[0].n_values; j++)
            if (!isfinite(spec->axes[0].values[j]))
                return TB_EINVAL;
    } else {
        if (!isfinite(spec->axes[0].min) || !isfinite(spec->axes[0].max) ||
            !(spec->axes[0].min < spec->axes[0].max))
            return TB_EINVAL;
        if (!isfinite(spec->axes[0].max - spec->axes[0].min))
            return TB_EINVAL;
        if (spec->axes[0].levels < 0 || spec->axes[0].levels > TB_MAX_LEVELS)
            return TB_EINVAL;
    }
    switch (spec->opt.kind) {
    case TB_OPT_GD:
        break;
    case TB_OPT_MOMENTUM:
    case TB_OPT_NESTEROV:
        if (!(spec->opt.beta >= 0.0 && spec->opt.beta < 1.0))
            return TB_EINVAL;
        break;
    case TB_OPT_ADAM:
        if (!(spec->opt.beta1 >= 0.0 && spec->opt.beta1 < 1.0) ||
            !(spec->opt.beta2 >= 0.0 && spec->opt.beta2 < 1.0) ||
            !(spec->opt.eps > 0.0 && isfinite(spec->opt.eps)))
            return TB_EINVAL;
        break;
    default:
        return TB_EINVAL;
    }
    if (spec->replicates < 0 || spec->replicates > TB_MAX_REPLICATES)
        return TB_EINVAL;
    return TB_OK;
}

int tb_replicates(const struct tb_spec *spec)
{
    return spec->replicates > 1 ? spec->replicates : 1;
}

uint64_t tb_sweep_points(const struct tb_spec *spec)
{
    return (uint64_t)tb_replicates(spec) * tb_grid_points(spec);
}

double tb_replicate_x0(double x, int k)
{
    while (k-- > 0)
        x = nextafter(x, INFINITY);
    return x;
}

uint64_t tb_grid_points(const struct tb_spec *spec)
{
    if (spec->axes[0].values)
        return spec->axes[0].n_values;
    return ((uint64_t)1 << spec->axes[0].levels) + 1;
}

double tb_grid_lr(const struct tb_spec *spec, uint64_t j)
{
    const struct tb_axis *a = &spec->axes[0];
    uint64_t last = (uint64_t)1 << a->levels;
    double h = (a->max - a->min) / (double)last; /* exact: a power-of-two scale */

    if (a->values)
        return a->values[j];
    /* Like numpy.linspace: the last point is exactly max. */
    if (j >= last)
        return a->max;
    return a->min + (double)j * h;
}

double tb_loss(const struct tb_model *m, const double *x)
{
    double f = 0.0, r = 0.0, c = 0.0;
    int i, k;

    switch (m->family) {
    case TB_QUADRATIC:
        for (i = 0; i < m->dim; i++)
            f += x[i] * x[i];
        return f;
    case TB_ADDITIVE:
        for (i = 0; i < m->dim; i++) {
            double fi = x[i] * x[i], dh;
            for (k = 0; k < m->n_terms; k++) {
                const struct tb_term *t = &m->terms[k];
                if (t->kind == TB_TERM_COS)
                    fi = fi + t->amplitude * cos(TB_PHASE(x[i], t->wavelength));
                else
                    fi = fi + tb__term_eval(t, x[i], &dh);
            }
            f += fi;
        }
        return f;
    case TB_MULTIPLICATIVE:
        if (m->terms[0].kind != TB_TERM_COS) {
            double dh;
            for (i = 0; i < m->dim; i++) {
                r += x[i] * x[i];
                c += tb__term_eval(&m->terms[0], x[i], &dh);
            }
            return r * (1 + c);
        }
        for (i = 0; i < m->dim; i++) {
            r += x[i] * x[i];
            c += cos(TB_PHASE(x[i], m->terms[0].wavelength));
        }
        return TB_MUL_LOSS(r, c, m->terms[0].amplitude);
    }
    return NAN;
}

void tb_grad(const struct tb_model *m, const double *x, double *g)
{
    double r = 0.0, c = 0.0, eps, lam;
    int i, k;

    switch (m->family) {
    case TB_QUADRATIC:
        for (i = 0; i < m->dim; i++)
            g[i] = 2 * x[i];
        return;
    case TB_ADDITIVE:
        for (i = 0; i < m->dim; i++) {
            double gi = 2 * x[i], dh;
            for (k = 0; k < m->n_terms; k++) {
                const struct tb_term *t = &m->terms[k];
                if (t->kind == TB_TERM_COS) {
                    gi = TB_ADD_GRAD_TERM(gi, t->amplitude, t->wavelength,
                                          sin(TB_PHASE(x[i], t->wavelength)));
                } else {
                    (void)tb__term_eval(t, x[i], &dh);
                    gi = gi + dh;
                }
            }
            g[i] = gi;
        }
        return;
    case TB_MULTIPLICATIVE:
        if (m->terms[0].kind != TB_TERM_COS) {
            /* g[] holds h'(x_i) until H = sum h(x_i) is known */
            for (i = 0; i < m->dim; i++) {
                r += x[i] * x[i];
                c += tb__term_eval(&m->terms[0], x[i], &g[i]);
            }
            for (i = 0; i < m->dim; i++)
                g[i] = TB_MUL_GRAD_TERM(x[i], r, c, g[i]);
            return;
        }
        eps = m->terms[0].amplitude;
        lam = m->terms[0].wavelength;
        for (i = 0; i < m->dim; i++) {
            r += x[i] * x[i];
            c += cos(TB_PHASE(x[i], lam));
        }
        for (i = 0; i < m->dim; i++)
            g[i] = TB_MUL_GRAD(x[i], r, c, eps, lam, sin(TB_PHASE(x[i], lam)));
        return;
    }
}

void tb_roughness(const struct tb_model *m, struct tb_roughness *out)
{
    int k;

    out->numeric = 0;
    if (!tb_model_cos_only(m)) {
        tb__roughness_terms(m, out); /* convex.c */
        return;
    }
    out->critical = TB_THETA_C;
    switch (m->family) {
    case TB_QUADRATIC:
        out->theta = 0.0;
        out->convex = 1;
        out->min_f2 = 2.0;
        return;
    case TB_ADDITIVE:
        out->theta = 0.0;
        for (k = 0; k < m->n_terms; k++)
            out->theta += m->terms[k].amplitude /
                          (m->terms[k].wavelength * m->terms[k].wavelength);
        /* f'' = 2 - sum eps_k (2 pi/lam_k)^2 cos(.) >= 0 everywhere iff
         * sum |eps_k|/lam_k^2 <= theta_c (the cosines can all reach -sign). */
        {
            double worst = 0.0;
            for (k = 0; k < m->n_terms; k++)
                worst += fabs(m->terms[k].amplitude) /
                         (m->terms[k].wavelength * m->terms[k].wavelength);
            out->convex = worst <= TB_THETA_C;
            out->min_f2 = 2.0 - TB_TWO_PI * TB_TWO_PI * worst; /* at x = 0 */
        }
        return;
    case TB_MULTIPLICATIVE:
        out->theta = m->terms[0].amplitude;
        out->critical = INFINITY; /* no finite critical value */
        out->convex = m->terms[0].amplitude == 0.0;
        out->min_f2 = out->convex ? 2.0 : -INFINITY; /* the x^2 cos term wins */
        return;
    }
}

enum tb_precision tb_engine_precision(const struct tb_spec *spec)
{
    /* tb_fast_covers() says no to poly and gauss terms too; asked here as
     * well, since the fast kernels read only cosines */
    if (spec->precision != TB_PRECISION_FAST || !tb_model_cos_only(&spec->model))
        return TB_PRECISION_REFERENCE;
    return tb_fast_covers(spec) ? TB_PRECISION_FAST : TB_PRECISION_REFERENCE;
}
