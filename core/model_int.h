/*
 * model_int.h - the loss and gradient expressions in science.md's reference
 * evaluation order, shared by model.c and sweep.c so that the single-point
 * functions and the sweep loops compute bit-identical values.
 * Private to core/. Pure expressions; any thread.
 */
#ifndef TB_MODEL_INT_H
#define TB_MODEL_INT_H

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

#endif
