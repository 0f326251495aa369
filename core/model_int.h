/*
 * model_int.h - the loss and gradient expressions in science.md's reference
 * evaluation order, shared by model.c and sweep.c so that the single-point
 * functions and the sweep loops compute bit-identical values.
 * Private to core/. Pure expressions; any thread.
 */
#ifndef TB_MODEL_INT_H
#define TB_MODEL_INT_H

#include <math.h>

#include "tb.h"

#define TB_TWO_PI 6.283185307179586476925286766559 /* 2*pi rounded once */
#define TB_THETA_C 0.050660591821168885722           /* 1/(2 pi^2) */

/* phase = (2*pi*x)/lam */
#define TB_PHASE(x, lam) ((TB_TWO_PI * (x)) / (lam))

/* additive gradient, one cosine term folded into g: g - ((2*pi*eps)*sin)/lam */
#define TB_ADD_GRAD_TERM(g, eps, lam, sn) ((g) - ((TB_TWO_PI * (eps)) * (sn)) / (lam))

/* multiplicative loss R*(1+eps*C) */
#define TB_MUL_LOSS(r, c, eps) ((r) * (1 + (eps) * (c)))

/* multiplicative gradient (2x)(1+eps*C) - (((2*pi*R)*eps)*sin)/lam */
#define TB_MUL_GRAD(x, r, c, eps, lam, sn)                                                        \
    ((2 * (x)) * (1 + (eps) * (c)) - (((TB_TWO_PI * (r)) * (eps)) * (sn)) / (lam))

/* multiplicative gradient with a non-cosine term: (2x)(1+H) + R*h'(x), H = sum h */
#define TB_MUL_GRAD_TERM(x, r, hsum, dh) ((2 * (x)) * (1 + (hsum)) + (r) * (dh))

/*
 * A poly or gauss term (tb.h's struct tb_term) at x: returns h(x) and
 * writes h'(x) to *dh. Horner's rule in u = x/scale for the polynomial and
 * its derivative; the bump shares one exp() between h and h'. The cosine
 * keeps the expressions above (its evaluation order is the paper's).
 */
static inline double tb__term_eval(const struct tb_term *t, double x, double *dh)
{
    if (t->kind == TB_TERM_POLY) {
        const double u = x / t->scale;
        double p = t->coef[t->degree], q = 0.0;
        int j;

        for (j = t->degree; j >= 1; j--)
            q = q * u + j * t->coef[j];
        for (j = t->degree - 1; j >= 0; j--)
            p = p * u + t->coef[j];
        *dh = q / t->scale;
        return p;
    } else {
        const double z = (x - t->centre) / t->width;
        const double e = t->amplitude * exp(-0.5 * (z * z));

        *dh = -(e * z) / t->width;
        return e;
    }
}

#endif
