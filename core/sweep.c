/*
 * sweep.c - gradient descent over a tile of the learning-rate grid, and the
 * divergence label of each run (science.md section 2).
 *
 * Owns: tb_sweep_tile() (with the split of a tile over replicates),
 * tb_labels_put(), tb_labels_get().
 * Threads: runs on whichever thread calls it (a CLI worker or a libuv pool
 * thread); reentrant. The only shared state it reads is the spec and the
 * caller's cancel flag (an atomic, read relaxed).
 *
 * Every run is independent, so a label depends only on the spec and the
 * point index: never on the tile split or the thread. The expressions are
 * the reference order from model_int.h. glibc's sincos() returns exactly
 * sin() and cos() (one shared kernel), which a unit test checks.
 */
#define _GNU_SOURCE /* sincos */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_int.h"
#include "tb.h"
#include "tb_int.h"

/* ---- one-dimensional runs: no arrays, the hot case ---------------------- */

static int run_quadratic_1d(double x, double s, int steps, const struct tb__judge *j,
                            uint64_t *done)
{
    double f = 0.0, sum = 0.0;
    int t, v;

    for (t = 1; t <= steps; t++) {
        x = x - s * (2 * x);
        f = x * x;
        v = tb__judge_step(j, f, &sum);
        if (v != VERDICT_GO) {
            *done = (uint64_t)t;
            return v;
        }
    }
    *done = (uint64_t)steps;
    return tb__judge_final(j, f);
}

static int run_additive_1d(double x, double s, int steps, double eps, double lam,
                           const struct tb__judge *j, uint64_t *done)
{
    double f = 0.0, sum = 0.0, sn, cs;
    int t, v;

    sincos(TB_PHASE(x, lam), &sn, &cs);
    for (t = 1; t <= steps; t++) {
        x = x - s * TB_ADD_GRAD_TERM(2 * x, eps, lam, sn);
        sincos(TB_PHASE(x, lam), &sn, &cs);
        f = x * x + eps * cs;
        v = tb__judge_step(j, f, &sum);
        if (v != VERDICT_GO) {
            *done = (uint64_t)t;
            return v;
        }
    }
    *done = (uint64_t)steps;
    return tb__judge_final(j, f);
}

static int run_multiplicative_1d(double x, double s, int steps, double eps, double lam,
                                 const struct tb__judge *j, uint64_t *done)
{
    double f = 0.0, sum = 0.0, sn, cs, r;
    int t, v;

    sincos(TB_PHASE(x, lam), &sn, &cs);
    r = x * x;
    for (t = 1; t <= steps; t++) {
        x = x - s * TB_MUL_GRAD(x, r, cs, eps, lam, sn);
        sincos(TB_PHASE(x, lam), &sn, &cs);
        r = x * x;
        f = TB_MUL_LOSS(r, cs, eps);
        v = tb__judge_step(j, f, &sum);
        if (v != VERDICT_GO) {
            *done = (uint64_t)t;
            return v;
        }
    }
    *done = (uint64_t)steps;
    return tb__judge_final(j, f);
}

/* ---- d-dimensional runs ------------------------------------------------- */

/*
 * Step t computes f(x_t) and, in the same pass, x_{t+1} for the separable
 * families (each coordinate's gradient needs only that coordinate); poly
 * and gauss terms (model_int.h's tb__term_eval) run here in every d. The
 * multiplicative family couples coordinates through R and C, so it keeps
 * the sines of step t in sn[] and updates in a second pass.
 */
static int run_general(const struct tb_spec *sp, double s, double *x, double *sn,
                       const struct tb__judge *j, uint64_t *done)
{
    const struct tb_model *m = &sp->model;
    const int d = m->dim, steps = sp->steps;
    double sum = 0.0, f = 0.0, r = 0.0, c = 0.0;
    int i, k, t, v;

    for (i = 0; i < d; i++)
        x[i] = sp->x0 ? sp->x0[i] : sp->x0_scalar;

    for (t = 0;; t++) {
        f = 0.0;
        if (m->family == TB_QUADRATIC) {
            for (i = 0; i < d; i++) {
                double xi = x[i];
                f += xi * xi;
                x[i] = xi - s * (2 * xi);
            }
        } else if (m->family == TB_ADDITIVE) {
            for (i = 0; i < d; i++) {
                double xi = x[i], fi = xi * xi, gi = 2 * xi, si, ci;
                for (k = 0; k < m->n_terms; k++) {
                    const struct tb_term *tk = &m->terms[k];
                    if (tk->kind == TB_TERM_COS) {
                        sincos(TB_PHASE(xi, tk->wavelength), &si, &ci);
                        fi = fi + tk->amplitude * ci;
                        gi = TB_ADD_GRAD_TERM(gi, tk->amplitude, tk->wavelength, si);
                    } else {
                        fi = fi + tb__term_eval(tk, xi, &si);
                        gi = gi + si;
                    }
                }
                f += fi;
                x[i] = xi - s * gi;
            }
        } else if (m->terms[0].kind != TB_TERM_COS) {
            /* c is H = sum h(x_i); sn[] holds h'(x_i) */
            r = 0.0;
            c = 0.0;
            for (i = 0; i < d; i++) {
                c += tb__term_eval(&m->terms[0], x[i], &sn[i]);
                r += x[i] * x[i];
            }
            f = r * (1 + c);
        } else {
            double ci;
            r = 0.0;
            c = 0.0;
            for (i = 0; i < d; i++) {
                sincos(TB_PHASE(x[i], m->terms[0].wavelength), &sn[i], &ci);
                r += x[i] * x[i];
                c += ci;
            }
            f = TB_MUL_LOSS(r, c, m->terms[0].amplitude);
        }
        if (t > 0) {
            v = tb__judge_step(j, f, &sum);
            if (v != VERDICT_GO) {
                *done = (uint64_t)t;
                return v;
            }
        }
        if (t == steps)
            break;
        if (m->family == TB_MULTIPLICATIVE && m->terms[0].kind != TB_TERM_COS) {
            for (i = 0; i < d; i++)
                x[i] = x[i] - s * TB_MUL_GRAD_TERM(x[i], r, c, sn[i]);
        } else if (m->family == TB_MULTIPLICATIVE) {
            const double eps = m->terms[0].amplitude, lam = m->terms[0].wavelength;
            for (i = 0; i < d; i++)
                x[i] = x[i] - s * TB_MUL_GRAD(x[i], r, c, eps, lam, sn[i]);
        }
    }
    *done = (uint64_t)steps;
    return tb__judge_final(j, f);
}

/* ---- tiles -------------------------------------------------------------- */

/* Points [begin, begin + count) of one replicate's grid (spec checked). */
static int sweep_grid(const struct tb_spec *spec, uint64_t begin, uint64_t count, uint64_t *out,
                      const atomic_int *cancel, tb_progress_fn progress, void *progress_user,
                      struct tb_tile_stats *stats)
{
    const struct tb_model *m;
    struct tb__judge j;
    double *work = NULL, x0;
    uint64_t i, steps_done, lane_steps = 0, divergent = 0;
    int one_d, rc = TB_OK;

    if (tb_engine_precision(spec) == TB_PRECISION_FAST)
        return tb__fast_sweep_tile(spec, begin, count, out, cancel, progress, progress_user, stats);
    m = &spec->model;
    j.kind = spec->criterion;
    j.threshold = spec->threshold;
    j.nan_divergent = spec->nan_policy == TB_NAN_DIVERGENT;
    memset(out, 0, tb_label_words(count) * sizeof *out);

    /* the 1-D loops are the paper's models: a poly or gauss term runs in
     * run_general() */
    one_d = m->dim == 1 && m->n_terms <= 1 && tb_model_cos_only(m) && spec->opt.kind == TB_OPT_GD;
    x0 = spec->x0 ? spec->x0[0] : spec->x0_scalar;
    if (!one_d) {
        work = malloc(5 * (size_t)m->dim * sizeof *work);
        if (!work)
            return TB_ENOMEM;
    }

    for (i = 0; i < count; i++) {
        const double s = tb_grid_lr(spec, begin + i);
        int v;

        if (cancel && atomic_load_explicit(cancel, memory_order_relaxed)) {
            rc = TB_ECANCELED;
            goto out;
        }
        if (spec->opt.kind != TB_OPT_GD)
            v = tb__run_optimized(spec, s, work, &j, &steps_done);
        else if (!one_d)
            v = run_general(spec, s, work, work + m->dim, &j, &steps_done);
        else if (m->family == TB_QUADRATIC)
            v = run_quadratic_1d(x0, s, spec->steps, &j, &steps_done);
        else if (m->family == TB_ADDITIVE)
            v = run_additive_1d(x0, s, spec->steps, m->terms[0].amplitude,
                                m->terms[0].wavelength, &j, &steps_done);
        else
            v = run_multiplicative_1d(x0, s, spec->steps, m->terms[0].amplitude,
                                      m->terms[0].wavelength, &j, &steps_done);
        lane_steps += steps_done;
        if (v == VERDICT_DIVERGENT) {
            out[i >> 6] |= (uint64_t)1 << (i & 63);
            divergent++;
        }
        if (progress && ((i + 1) & 1023) == 0)
            progress(progress_user, i + 1);
    }
    if (progress)
        progress(progress_user, count);
    if (stats) {
        stats->points = count;
        stats->divergent = divergent;
        stats->lane_steps = lane_steps;
    }
out:
    free(work);
    return rc;
}

/* Progress of one replicate's segment, reported as progress of the tile. */
struct seg_progress {
    tb_progress_fn fn;
    void *user;
    uint64_t before; /* points of the tile in earlier segments */
};

static void seg_progress(void *user, uint64_t done)
{
    struct seg_progress *sp = user;
    sp->fn(sp->user, sp->before + done);
}

int tb_sweep_tile(const struct tb_spec *spec, uint64_t begin, uint64_t count, uint64_t *out,
                  const atomic_int *cancel, tb_progress_fn progress, void *progress_user,
                  struct tb_tile_stats *stats)
{
    struct tb_tile_stats sum = {0, 0, 0, 0}, part;
    struct seg_progress sp = {progress, progress_user, 0};
    struct tb_spec rep;
    uint64_t *seg = NULL, done = 0, n;
    double *x0 = NULL;
    int rc = TB_OK, r, i;

    if (tb_spec_check(spec) != TB_OK || !out)
        return TB_EINVAL;
    if (begin > tb_sweep_points(spec) || count > tb_sweep_points(spec) - begin)
        return TB_EINVAL;
    if (tb_replicates(spec) == 1)
        return sweep_grid(spec, begin, count, out, cancel, progress, progress_user, stats);
    n = tb_grid_points(spec);

    /* Each replicate's part of the tile runs as a tile of its own grid with
     * the nudged x0, into a scratch buffer unless it starts at bit 0. */
    memset(out, 0, tb_label_words(count) * sizeof *out);
    seg = malloc(tb_label_words(count < n ? count : n) * sizeof *seg);
    x0 = spec->x0 ? malloc((size_t)spec->model.dim * sizeof *x0) : NULL;
    if (!seg || (spec->x0 && !x0)) {
        rc = TB_ENOMEM;
        goto out;
    }
    while (done < count && rc == TB_OK) {
        const uint64_t g = begin + done, j = g % n;
        const uint64_t c = count - done < n - j ? count - done : n - j;

        r = (int)(g / n);
        rep = *spec;
        rep.replicates = 1;
        if (spec->x0) {
            for (i = 0; i < spec->model.dim; i++)
                x0[i] = tb_replicate_x0(spec->x0[i], r);
            rep.x0 = x0;
        } else {
            rep.x0_scalar = tb_replicate_x0(spec->x0_scalar, r);
        }
        sp.before = done;
        rc = sweep_grid(&rep, j, c, done == 0 ? out : seg, cancel,
                        progress ? seg_progress : NULL, &sp, &part);
        if (rc != TB_OK)
            break;
        if (done > 0)
            tb_labels_put(out, done, seg, c);
        sum.points += part.points;
        sum.divergent += part.divergent;
        sum.lane_steps += part.lane_steps;
        sum.proved += part.proved;
        done += c;
    }
    if (rc == TB_OK && stats)
        *stats = sum;
out:
    free(seg);
    free(x0);
    return rc;
}

void tb_labels_put(uint64_t *dst, uint64_t dst_begin, const uint64_t *src, uint64_t count)
{
    uint64_t i;

    if ((dst_begin & 63) == 0) {
        uint64_t w = dst_begin >> 6, full = count >> 6, rest = count & 63;
        memcpy(dst + w, src, full * sizeof *dst);
        if (rest) {
            uint64_t mask = ((uint64_t)1 << rest) - 1;
            dst[w + full] = (dst[w + full] & ~mask) | (src[full] & mask);
        }
        return;
    }
    for (i = 0; i < count; i++) {
        uint64_t k = dst_begin + i, bit = (uint64_t)1 << (k & 63);
        if (tb_label_get(src, i))
            dst[k >> 6] |= bit;
        else
            dst[k >> 6] &= ~bit;
    }
}

void tb_labels_get(uint64_t *dst, const uint64_t *src, uint64_t src_begin, uint64_t count)
{
    const uint64_t w = src_begin >> 6, sh = src_begin & 63, words = tb_label_words(count);
    uint64_t i;

    for (i = 0; i < words; i++) {
        uint64_t v = src[w + i] >> sh;
        /* the high part comes from the next source word, when it exists */
        if (sh && ((i + 1) << 6) - sh < count)
            v |= src[w + i + 1] << (64 - sh);
        dst[i] = v;
    }
    if (count & 63)
        dst[words - 1] &= ((uint64_t)1 << (count & 63)) - 1;
}
