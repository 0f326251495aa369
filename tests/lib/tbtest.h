/*
 * tbtest.h - helpers shared by the core unit tests (tests/unit/core/).
 *
 * Covers: spec builders (the science.md reference case and its variants),
 * a one-tile whole-grid sweep, a tiled sweep on N pthreads with dynamic
 * tile assignment, and a naive reference labeller written straight from
 * science.md section 2 on top of tb_loss()/tb_grad() (no early stop except
 * where science.md allows it), used to check the sweep bit for bit.
 *
 * Header-only: everything is static inline. Failures go through Check's
 * ck_assert*, so call these from inside a test.
 */
#ifndef TBTEST_H
#define TBTEST_H

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

/* ---- spec builders ------------------------------------------------------ */

/* science.md 4's exact case: multiplicative eps=0.2, lam=0.1, d=1, x0=1,
 * T=1000, max loss 1e8, NaN divergent, [0, 1.5] at the given K. */
static inline struct tb_spec tbt_spec_reference(int levels)
{
    struct tb_spec s;

    memset(&s, 0, sizeof s);
    s.model.family = TB_MULTIPLICATIVE;
    s.model.dim = 1;
    s.model.n_terms = 1;
    s.model.terms[0].amplitude = 0.2;
    s.model.terms[0].wavelength = 0.1;
    s.x0 = NULL;
    s.x0_scalar = 1.0;
    s.steps = 1000;
    s.criterion = TB_MAX_LOSS;
    s.threshold = 1e8;
    s.nan_policy = TB_NAN_DIVERGENT;
    s.precision = TB_PRECISION_REFERENCE;
    s.n_axes = 1;
    s.axes[0].kind = TB_AXIS_LR;
    s.axes[0].min = 0.0;
    s.axes[0].max = 1.5;
    s.axes[0].levels = levels;
    return s;
}

static inline struct tb_spec tbt_spec_quadratic(double x0, double threshold, int steps,
                                                int levels)
{
    struct tb_spec s = tbt_spec_reference(levels);

    s.model.family = TB_QUADRATIC;
    s.model.n_terms = 0;
    memset(s.model.terms, 0, sizeof s.model.terms);
    s.x0_scalar = x0;
    s.threshold = threshold;
    s.steps = steps;
    return s;
}

static inline struct tb_spec tbt_spec_additive(double eps, double lam, int levels)
{
    struct tb_spec s = tbt_spec_reference(levels);

    s.model.family = TB_ADDITIVE;
    s.model.terms[0].amplitude = eps;
    s.model.terms[0].wavelength = lam;
    return s;
}

static inline struct tb_spec tbt_spec_multiplicative(double eps, double lam, int levels)
{
    struct tb_spec s = tbt_spec_reference(levels);

    s.model.terms[0].amplitude = eps;
    s.model.terms[0].wavelength = lam;
    return s;
}

/* ---- running a suite ---------------------------------------------------- */

/* Runs suite s (CK_ENV verbosity) and frees it: EXIT_SUCCESS when no test
 * failed, the return value of a test program's main(). */
static inline int tbt_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- sweeps ------------------------------------------------------------- */

static inline uint64_t *tbt_labels_alloc(uint64_t n)
{
    uint64_t *b = calloc(tb_label_words(n) + 1, sizeof *b);

    ck_assert_ptr_nonnull(b);
    return b;
}

/* The whole grid as one tile. Caller frees. */
static inline uint64_t *tbt_sweep(const struct tb_spec *spec)
{
    uint64_t n = tb_grid_points(spec), *b = tbt_labels_alloc(n);

    ck_assert_int_eq(tb_sweep_tile(spec, 0, n, b, NULL, NULL, NULL, NULL), TB_OK);
    return b;
}

/* Labels of point j alone (a one-point tile). */
static inline int tbt_label_at(const struct tb_spec *spec, uint64_t j)
{
    uint64_t w = 0;

    ck_assert_int_eq(tb_sweep_tile(spec, j, 1, &w, NULL, NULL, NULL, NULL), TB_OK);
    return (int)(w & 1u);
}

struct tbt_pool {
    const struct tb_spec *spec;
    uint64_t n, tile, n_tiles;
    atomic_uint_least64_t next; /* next tile to take: threads race for it */
    uint64_t **tile_bits;       /* one label buffer per tile */
    atomic_int failed;
};

static inline void *tbt_pool_worker(void *arg)
{
    struct tbt_pool *p = arg;

    for (;;) {
        uint64_t t = atomic_fetch_add(&p->next, 1), begin, count;
        if (t >= p->n_tiles)
            return NULL;
        begin = t * p->tile;
        count = p->n - begin < p->tile ? p->n - begin : p->tile;
        if (tb_sweep_tile(p->spec, begin, count, p->tile_bits[t], NULL, NULL, NULL, NULL) !=
            TB_OK)
            atomic_store(&p->failed, 1);
    }
}

/*
 * The whole grid in tiles of `tile` points on `threads` pthreads; each
 * thread takes the next free tile, so which thread runs which tile varies
 * from run to run. The tiles are assembled with tb_labels_put (unaligned
 * when tile % 64 != 0). Caller frees.
 */
static inline uint64_t *tbt_sweep_tiled(const struct tb_spec *spec, uint64_t tile, int threads)
{
    struct tbt_pool p;
    pthread_t th[16];
    uint64_t *all, t;
    int i;

    ck_assert(tile > 0 && threads >= 1 && threads <= 16);
    memset(&p, 0, sizeof p);
    p.spec = spec;
    p.n = tb_grid_points(spec);
    p.tile = tile;
    p.n_tiles = (p.n + tile - 1) / tile;
    atomic_init(&p.next, 0);
    atomic_init(&p.failed, 0);
    p.tile_bits = calloc(p.n_tiles, sizeof *p.tile_bits);
    ck_assert_ptr_nonnull(p.tile_bits);
    for (t = 0; t < p.n_tiles; t++) {
        /* Poison the buffers: the sweep must write every word it owns. */
        p.tile_bits[t] = malloc(tb_label_words(tile) * sizeof **p.tile_bits);
        ck_assert_ptr_nonnull(p.tile_bits[t]);
        memset(p.tile_bits[t], 0xA5, tb_label_words(tile) * sizeof **p.tile_bits);
    }
    for (i = 0; i < threads; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, tbt_pool_worker, &p), 0);
    for (i = 0; i < threads; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    ck_assert_int_eq(atomic_load(&p.failed), 0);

    all = tbt_labels_alloc(p.n);
    for (t = 0; t < p.n_tiles; t++) {
        uint64_t begin = t * tile, count = p.n - begin < tile ? p.n - begin : tile;
        tb_labels_put(all, begin, p.tile_bits[t], count);
        free(p.tile_bits[t]);
    }
    free(p.tile_bits);
    return all;
}

/* ---- naive reference labeller ------------------------------------------- */

/*
 * The label of one run, straight from science.md 2 with tb_loss/tb_grad:
 * x_{t+1} = x_t - s * grad f(x_t), f_t = f(x_t) for t = 1..T.
 *   max_loss:   divergent iff f_t > M for some t;
 *   loss_sum:   divergent iff the running sum reaches M (>= M) at some t
 *               (science.md: "safe to stop once the sum passes");
 *   final_loss: divergent iff f_T >= M.
 * NaN policy divergent: also divergent iff some f_t is non-finite before
 * the criterion fired. NaN policy bounded ([L]): only the comparisons
 * decide (NaN and -inf compare false).
 * All T steps are simulated (no early stop on NaN). Bit-identical to the
 * sweep only if tb_loss/tb_grad and the sweep share evaluation order.
 * steps (optional) gets the step at which the run is decided: the first t
 * where the criterion fired or (NaN divergent) f_t was non-finite; T when
 * it ran to the end.
 */
static inline int tbt_ref_run(const struct tb_spec *sp, double s, uint64_t *steps)
{
    const struct tb_model *m = &sp->model;
    const int d = m->dim;
    double *x = malloc(2 * (size_t)d * sizeof *x), *g, f = 0.0, sum = 0.0;
    int i, t, first_nonfinite = 0, fired = 0, label;

    ck_assert_ptr_nonnull(x);
    g = x + d;
    for (i = 0; i < d; i++)
        x[i] = sp->x0 ? sp->x0[i] : sp->x0_scalar;
    for (t = 1; t <= sp->steps; t++) {
        tb_grad(m, x, g);
        for (i = 0; i < d; i++)
            x[i] = x[i] - s * g[i];
        f = tb_loss(m, x);
        if (!isfinite(f) && !first_nonfinite)
            first_nonfinite = t;
        if (sp->criterion == TB_MAX_LOSS && f > sp->threshold) {
            fired = t;
            break;
        }
        if (sp->criterion == TB_LOSS_SUM) {
            sum += f;
            if (sum >= sp->threshold) {
                fired = t;
                break;
            }
        }
    }
    if (sp->criterion == TB_FINAL_LOSS && f >= sp->threshold)
        fired = sp->steps;
    free(x);
    label = fired || (sp->nan_policy == TB_NAN_DIVERGENT && first_nonfinite);
    if (steps) {
        *steps = (uint64_t)sp->steps;
        if (fired)
            *steps = (uint64_t)fired;
        if (sp->nan_policy == TB_NAN_DIVERGENT && first_nonfinite &&
            (!fired || first_nonfinite < fired))
            *steps = (uint64_t)first_nonfinite;
    }
    return label;
}

static inline int tbt_ref_label(const struct tb_spec *sp, double s)
{
    return tbt_ref_run(sp, s, NULL);
}

/* The naive labels of a whole grid. Caller frees. */
static inline uint64_t *tbt_ref_sweep(const struct tb_spec *spec)
{
    uint64_t n = tb_grid_points(spec), *b = tbt_labels_alloc(n), j;

    for (j = 0; j < n; j++)
        if (tbt_ref_label(spec, tb_grid_lr(spec, j)))
            b[j >> 6] |= (uint64_t)1 << (j & 63);
    return b;
}

/* Number of points among n whose labels differ. */
static inline uint64_t tbt_label_diff(const uint64_t *a, const uint64_t *b, uint64_t n)
{
    uint64_t j, c = 0;

    for (j = 0; j < n; j++)
        c += tb_label_get(a, j) != tb_label_get(b, j);
    return c;
}

/* Number of flips (adjacent differing labels) among n labels. */
static inline uint64_t tbt_flip_count(const uint64_t *b, uint64_t n)
{
    uint64_t j, c = 0;

    for (j = 0; j + 1 < n; j++)
        c += tb_label_get(b, j) != tb_label_get(b, j + 1);
    return c;
}

#endif /* TBTEST_H */
