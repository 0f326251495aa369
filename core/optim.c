/*
 * optim.c - gradient descent with momentum, Nesterov momentum and Adam on
 * the reference path: one run of a learning rate from x0, judged like
 * plain GD's runs in sweep.c (the loss after each step, by the spec's
 * criterion).
 *
 * Owns: tb__run_optimized().
 * Threads: whichever thread runs the tile; reentrant, no state.
 *
 * The loss and the gradient are tb_loss() and tb_grad() (model.c: the
 * reference evaluation order). The update of each rule is written out in
 * tb.h's enum tb_opt_kind, in the order the expressions below evaluate.
 * Adam's bias corrections use running products beta^t (one rounding per
 * step), not pow(). Built with -ffp-contract=off like the rest of the
 * reference path.
 */
#include <math.h>

#include "tb.h"
#include "tb_int.h"

int tb__run_optimized(const struct tb_spec *sp, double s, double *work, const struct tb__judge *j,
                      uint64_t *done)
{
    const struct tb_model *m = &sp->model;
    const struct tb_optimizer *o = &sp->opt;
    const int d = m->dim, steps = sp->steps;
    double *x = work, *v = work + d, *u = work + 2 * d, *g = work + 3 * d, *y = work + 4 * d;
    double sum = 0.0, f = 0.0, p1 = 1.0, p2 = 1.0;
    int i, t, verdict;

    for (i = 0; i < d; i++) {
        x[i] = sp->x0 ? sp->x0[i] : sp->x0_scalar;
        v[i] = 0.0;
        u[i] = 0.0;
    }
    for (t = 0;; t++) {
        f = tb_loss(m, x);
        if (t > 0) {
            verdict = tb__judge_step(j, f, &sum);
            if (verdict != VERDICT_GO) {
                *done = (uint64_t)t;
                return verdict;
            }
        }
        if (t == steps)
            break;
        switch (o->kind) {
        case TB_OPT_NESTEROV:
            for (i = 0; i < d; i++)
                y[i] = x[i] + o->beta * v[i];
            tb_grad(m, y, g);
            for (i = 0; i < d; i++) {
                v[i] = o->beta * v[i] - s * g[i];
                x[i] = x[i] + v[i];
            }
            break;
        case TB_OPT_ADAM:
            tb_grad(m, x, g);
            p1 = p1 * o->beta1;
            p2 = p2 * o->beta2;
            for (i = 0; i < d; i++) {
                v[i] = o->beta1 * v[i] + (1.0 - o->beta1) * g[i];
                u[i] = o->beta2 * u[i] + (1.0 - o->beta2) * (g[i] * g[i]);
                x[i] = x[i] - s * (v[i] / (1.0 - p1)) / (sqrt(u[i] / (1.0 - p2)) + o->eps);
            }
            break;
        case TB_OPT_MOMENTUM:
        default:
            tb_grad(m, x, g);
            for (i = 0; i < d; i++) {
                v[i] = o->beta * v[i] - s * g[i];
                x[i] = x[i] + v[i];
            }
            break;
        }
    }
    *done = (uint64_t)steps;
    return tb__judge_final(j, f);
}
