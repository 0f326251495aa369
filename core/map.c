/*
 * map.c - 2-D maps over two hyperparameters (tb_map.h): pixels run as
 * sweeps of explicit learning rates, and the box counts of the map's
 * edges.
 *
 * Owns: tb_map_pixels(), tb_map_set(), tb_map_check(), tb_map_tile(),
 * tb_map_levels(), tb_map_edges(), tb_map_box_counts().
 * Threads: reentrant; pure functions over the caller's buffers.
 *
 * A row (lr on x) or a column (lr on y) is one tb_sweep_tile() of a spec
 * whose lr axis holds that row's or column's rates (tb_axis.values), so it
 * runs on the fast path's lanes like any sweep, with its proofs: every
 * proof there is a function of the lane's own rate (fast.c, "Proofs"), and
 * holds for rates in any order and spacing.
 */
#include <stdlib.h>
#include <string.h>

#include "tb.h"
#include "tb_map.h"

uint64_t tb_map_pixels(const struct tb_map *m)
{
    return m->x.n * m->y.n;
}

int tb_map_set(struct tb_spec *spec, enum tb_param p, int term, double v)
{
    struct tb_model *md = &spec->model;

    switch (p) {
    case TB_PARAM_BETA:
        if (spec->opt.kind != TB_OPT_MOMENTUM && spec->opt.kind != TB_OPT_NESTEROV)
            return TB_EINVAL;
        spec->opt.beta = v;
        return TB_OK;
    case TB_PARAM_BETA1:
    case TB_PARAM_BETA2:
        if (spec->opt.kind != TB_OPT_ADAM)
            return TB_EINVAL;
        if (p == TB_PARAM_BETA1)
            spec->opt.beta1 = v;
        else
            spec->opt.beta2 = v;
        return TB_OK;
    case TB_PARAM_AMPLITUDE:
    case TB_PARAM_WAVELENGTH:
        if (term < 0 || term >= md->n_terms)
            return TB_EINVAL;
        if (p == TB_PARAM_AMPLITUDE)
            md->terms[term].amplitude = v;
        else
            md->terms[term].wavelength = v;
        return TB_OK;
    case TB_PARAM_X0:
        spec->x0 = NULL;
        spec->x0_scalar = v;
        return TB_OK;
    default:
        return TB_EINVAL; /* lr is an axis of explicit values, not a field */
    }
}

static int same_param(const struct tb_map_axis *a, const struct tb_map_axis *b)
{
    if (a->param != b->param)
        return 0;
    return !(a->param == TB_PARAM_AMPLITUDE || a->param == TB_PARAM_WAVELENGTH) ||
           a->term == b->term;
}

/* spec with the rates of axis a (lr) or one point at the fixed rate. */
static void set_rates(struct tb_spec *spec, const struct tb_map *m, const struct tb_map_axis *a)
{
    spec->n_axes = 1;
    spec->axes[0].kind = TB_AXIS_LR;
    spec->axes[0].values = a ? a->values : &m->lr;
    spec->axes[0].n_values = a ? a->n : 1;
    spec->replicates = 1;
}

/* Every value of axis a applied to the base (with the other axis o at its
 * first value) passes tb_spec_check(). */
static int axis_check(const struct tb_map *m, const struct tb_map_axis *a,
                      const struct tb_map_axis *o)
{
    struct tb_spec spec = m->base;
    uint64_t k;

    if (!a->values || a->n < 1 || a->n > TB_MAP_MAX_POINTS)
        return TB_EINVAL;
    if (o->param != TB_PARAM_LR && tb_map_set(&spec, o->param, o->term, o->values[0]) != TB_OK)
        return TB_EINVAL;
    if (a->param == TB_PARAM_LR) {
        set_rates(&spec, m, a);
        return tb_spec_check(&spec);
    }
    set_rates(&spec, m, o->param == TB_PARAM_LR ? o : NULL);
    for (k = 0; k < a->n; k++) {
        if (tb_map_set(&spec, a->param, a->term, a->values[k]) != TB_OK ||
            tb_spec_check(&spec) != TB_OK)
            return TB_EINVAL;
    }
    return TB_OK;
}

int tb_map_check(const struct tb_map *m)
{
    if (!m || m->base.replicates > 1 || same_param(&m->x, &m->y))
        return TB_EINVAL;
    if (!m->x.values || !m->y.values || m->x.n < 1 || m->y.n < 1)
        return TB_EINVAL;
    if (axis_check(m, &m->x, &m->y) != TB_OK || axis_check(m, &m->y, &m->x) != TB_OK)
        return TB_EINVAL;
    return TB_OK;
}

static void stats_add(struct tb_tile_stats *sum, const struct tb_tile_stats *part)
{
    sum->points += part->points;
    sum->divergent += part->divergent;
    sum->lane_steps += part->lane_steps;
    sum->proved += part->proved;
}

/* lr on x: the tile's part of each row, one sweep of the row's rates. */
static int tile_rows(const struct tb_map *m, uint64_t begin, uint64_t count, uint64_t *out,
                     uint64_t *buf, const atomic_int *cancel, tb_progress_fn progress,
                     void *progress_user, struct tb_tile_stats *sum)
{
    const uint64_t cols = m->x.n, end = begin + count;
    struct tb_tile_stats st;
    struct tb_spec spec;
    uint64_t p = begin;
    int rc;

    while (p < end) {
        const uint64_t i = p / cols, j0 = p % cols;
        const uint64_t n = cols - j0 < end - p ? cols - j0 : end - p;

        spec = m->base;
        tb_map_set(&spec, m->y.param, m->y.term, m->y.values[i]);
        set_rates(&spec, m, &m->x);
        rc = tb_sweep_tile(&spec, j0, n, buf, cancel, NULL, NULL, &st);
        if (rc != TB_OK)
            return rc;
        tb_labels_put(out, p - begin, buf, n);
        stats_add(sum, &st);
        p += n;
        if (progress)
            progress(progress_user, p - begin);
    }
    return TB_OK;
}

/* lr on y: for each column, the tile's rows of it as one sweep of the
 * column's rates. */
static int tile_cols(const struct tb_map *m, uint64_t begin, uint64_t count, uint64_t *out,
                     uint64_t *buf, const atomic_int *cancel, tb_progress_fn progress,
                     void *progress_user, struct tb_tile_stats *sum)
{
    const uint64_t cols = m->x.n, last = begin + count - 1;
    const uint64_t i_first = begin / cols, i_last = last / cols;
    struct tb_tile_stats st;
    struct tb_spec spec;
    uint64_t j, k, done = 0;
    int rc;

    for (j = 0; j < cols; j++) {
        /* rows i with begin <= i * cols + j <= last */
        const uint64_t lo = i_first * cols + j >= begin ? i_first : i_first + 1;
        const uint64_t hi = i_last * cols + j <= last ? i_last : i_last - 1;

        if (i_last == 0 && i_last * cols + j > last)
            continue; /* hi would wrap below row 0 */
        if (lo > hi)
            continue;
        spec = m->base;
        tb_map_set(&spec, m->x.param, m->x.term, m->x.values[j]);
        set_rates(&spec, m, &m->y);
        rc = tb_sweep_tile(&spec, lo, hi - lo + 1, buf, cancel, NULL, NULL, &st);
        if (rc != TB_OK)
            return rc;
        for (k = 0; k <= hi - lo; k++)
            if (tb_label_get(buf, k)) {
                const uint64_t q = (lo + k) * cols + j - begin;
                out[q >> 6] |= (uint64_t)1 << (q & 63);
            }
        stats_add(sum, &st);
        done += hi - lo + 1;
        if (progress)
            progress(progress_user, done);
    }
    return TB_OK;
}

/* Neither axis is lr: every pixel one run at the fixed rate. */
static int tile_pixels(const struct tb_map *m, uint64_t begin, uint64_t count, uint64_t *out,
                       const atomic_int *cancel, tb_progress_fn progress, void *progress_user,
                       struct tb_tile_stats *sum)
{
    const uint64_t cols = m->x.n;
    struct tb_tile_stats st;
    struct tb_spec spec;
    uint64_t k, w;
    int rc;

    for (k = 0; k < count; k++) {
        const uint64_t p = begin + k;

        spec = m->base;
        tb_map_set(&spec, m->x.param, m->x.term, m->x.values[p % cols]);
        tb_map_set(&spec, m->y.param, m->y.term, m->y.values[p / cols]);
        set_rates(&spec, m, NULL);
        rc = tb_sweep_tile(&spec, 0, 1, &w, cancel, NULL, NULL, &st);
        if (rc != TB_OK)
            return rc;
        if (w & 1)
            out[k >> 6] |= (uint64_t)1 << (k & 63);
        stats_add(sum, &st);
        if (progress && ((k + 1) & 255) == 0)
            progress(progress_user, k + 1);
    }
    return TB_OK;
}

int tb_map_tile(const struct tb_map *m, uint64_t begin, uint64_t count, uint64_t *out,
                const atomic_int *cancel, tb_progress_fn progress, void *progress_user,
                struct tb_tile_stats *stats)
{
    struct tb_tile_stats sum = {0, 0, 0, 0};
    uint64_t *buf = NULL, total;
    int rc;

    if (tb_map_check(m) != TB_OK || !out)
        return TB_EINVAL;
    total = tb_map_pixels(m);
    if (begin > total || count > total - begin)
        return TB_EINVAL;
    memset(out, 0, tb_label_words(count) * sizeof *out);
    if (count == 0)
        goto done;
    if (m->x.param == TB_PARAM_LR || m->y.param == TB_PARAM_LR) {
        const uint64_t n = m->x.param == TB_PARAM_LR ? m->x.n : m->y.n;
        buf = malloc(tb_label_words(n) * sizeof *buf);
        if (!buf)
            return TB_ENOMEM;
    }
    if (m->x.param == TB_PARAM_LR)
        rc = tile_rows(m, begin, count, out, buf, cancel, progress, progress_user, &sum);
    else if (m->y.param == TB_PARAM_LR)
        rc = tile_cols(m, begin, count, out, buf, cancel, progress, progress_user, &sum);
    else
        rc = tile_pixels(m, begin, count, out, cancel, progress, progress_user, &sum);
    free(buf);
    if (rc != TB_OK)
        return rc;
done:
    if (progress)
        progress(progress_user, count);
    if (stats)
        *stats = sum;
    return TB_OK;
}

/* ---- the analysis ------------------------------------------------------- */

int tb_map_levels(uint64_t rows, uint64_t cols)
{
    const uint64_t side = rows > cols ? rows : cols;
    int k = 0;

    while (((uint64_t)1 << k) < side)
        k++;
    return k;
}

void tb_map_edges(const uint64_t *labels, uint64_t rows, uint64_t cols, uint64_t *edges)
{
    const uint64_t n = rows * cols;
    uint64_t i, j, p = 0;

    memset(edges, 0, tb_label_words(n) * sizeof *edges);
    for (i = 0; i < rows; i++) {
        for (j = 0; j < cols; j++, p++) {
            const int l = tb_label_get(labels, p);
            if ((j + 1 < cols && tb_label_get(labels, p + 1) != l) ||
                (i + 1 < rows && tb_label_get(labels, p + cols) != l))
                edges[p >> 6] |= (uint64_t)1 << (p & 63);
        }
    }
}

int tb_map_box_counts(const uint64_t *edges, uint64_t rows, uint64_t cols, uint64_t *counts)
{
    const int K = tb_map_levels(rows, cols);
    uint64_t r = (rows + 1) / 2, c = (cols + 1) / 2, i, j, n;
    unsigned char *g;
    int lev;

    counts[K] = tb_labels_popcount(edges, rows * cols);
    if (K == 0)
        return TB_OK;
    /* Level K - 1 from the bits: box (i, j) covers pixels 2i..2i+1 by
     * 2j..2j+1; then each coarser level ORs 2 x 2 boxes of the last, in
     * place (the coarser grid is written behind the reads). */
    g = calloc(r * c, 1);
    if (!g)
        return TB_ENOMEM;
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++)
            if (tb_label_get(edges, i * cols + j))
                g[(i / 2) * c + j / 2] = 1;
    for (lev = K - 1;; lev--) {
        uint64_t nr, nc;
        for (n = 0, i = 0; i < r * c; i++)
            n += g[i];
        counts[lev] = n;
        if (lev == 0)
            break;
        nr = (r + 1) / 2;
        nc = (c + 1) / 2;
        for (i = 0; i < nr; i++)
            for (j = 0; j < nc; j++) {
                unsigned char v = 0;
                uint64_t a, b;
                for (a = 2 * i; a < 2 * i + 2 && a < r; a++)
                    for (b = 2 * j; b < 2 * j + 2 && b < c; b++)
                        v |= g[a * c + b];
                g[i * nc + j] = v;
            }
        r = nr;
        c = nc;
    }
    free(g);
    return TB_OK;
}
