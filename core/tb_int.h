/*
 * tb_int.h - declarations shared between core files; not part of the
 * public API (tb.h). Internal non-static names use the tb__ prefix.
 */
#ifndef TB_INT_H
#define TB_INT_H

#include <math.h>

#include "tb.h"

/* ---- the verdict of one run (science.md section 2) ---------------------- */

enum { VERDICT_GO = -1, VERDICT_BOUNDED = 0, VERDICT_DIVERGENT = 1 };

struct tb__judge {
    enum tb_criterion kind;
    double threshold;
    int nan_divergent;
};

/*
 * The verdict after step t >= 1 with loss f. The running sum is updated for
 * the loss-sum criterion. A NaN loss is absorbing (x stays NaN), so under
 * the bounded NaN policy no later step can cross the threshold: the run
 * stops there as bounded, which is what simulating to T would give.
 */
static inline int tb__judge_step(const struct tb__judge *j, double f, double *sum)
{
    if (j->kind == TB_MAX_LOSS) {
        if (f > j->threshold)
            return VERDICT_DIVERGENT;
    } else if (j->kind == TB_LOSS_SUM) {
        *sum += f;
        if (*sum >= j->threshold)
            return VERDICT_DIVERGENT;
        if (isnan(*sum) && !j->nan_divergent)
            return VERDICT_BOUNDED;
    }
    if (!isfinite(f)) {
        if (j->nan_divergent)
            return VERDICT_DIVERGENT;
        if (isnan(f))
            return VERDICT_BOUNDED;
    }
    return VERDICT_GO;
}

/* The verdict after the last step T with loss f (no earlier step stopped). */
static inline int tb__judge_final(const struct tb__judge *j, double f)
{
    if (j->kind == TB_FINAL_LOSS && f >= j->threshold)
        return VERDICT_DIVERGENT;
    return VERDICT_BOUNDED;
}

/* A run under an optimiser other than plain GD (optim.c), on the reference
 * path: like sweep.c's runs, returns the verdict and the steps run in
 * *done. work: 5 * dim doubles of scratch (the caller's). */
int tb__run_optimized(const struct tb_spec *sp, double s, double *work, const struct tb__judge *j,
                      uint64_t *done);

/* tb_roughness() of a model with a poly or gauss term (convex.c). */
void tb__roughness_terms(const struct tb_model *m, struct tb_roughness *out);

/* inf over x in [lo, hi] of f''(x) for one coordinate of m (additive: 2 +
 * sum_k h_k''; multiplicative: (x^2 (1 + h))''), by convex.c's bounded
 * numeric search (tests compare it with the closed forms). */
double tb__f2_search(const struct tb_model *m, double lo, double hi);

/* f''(x) of one coordinate of m, as tb__f2_search() sees it (tests). */
double tb__f2(const struct tb_model *m, double x);

/* The fast path (fast.c): same contract as tb_sweep_tile(). */
int tb__fast_sweep_tile(const struct tb_spec *spec, uint64_t begin, uint64_t count, uint64_t *out,
                        const atomic_int *cancel, tb_progress_fn progress, void *progress_user,
                        struct tb_tile_stats *stats);

/* The fast path's vector sin and cos of x[0..n-1] on ISA cap (tests). */
void tb__fast_sincos(enum tb_isa cap, const double *x, double *s, double *c, size_t n);

#endif
