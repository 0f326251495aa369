/*
 * tb_map.h - 2-D maps of the trainability boundary over any two
 * hyperparameters of a 1-D family's spec (issue 16): the learning rate,
 * the optimiser's coefficients, a cosine term's amplitude or wavelength,
 * or the starting point. Pixel (i, j) is the run of the base spec with
 * the x axis's parameter at x.values[j] and the y axis's at y.values[i];
 * it is pixel p = i * cols + j of a map of rows = y.n by cols = x.n, so
 * row 0 is the first y value (the bottom of a picture).
 *
 * How a tile runs (tb_map_tile):
 *  - lr on x: each row is one sweep whose explicit learning rates
 *    (tb_axis.values) are the x values: SIMD lanes are pixels of the row;
 *  - lr on y: each column of the tile is one such sweep over the y values;
 *  - neither: every pixel is a sweep of one point at the fixed rate
 *    (slower: one lane of the fast path's vectors does the work).
 * Labels depend only on the map and the pixel, never on the tile split.
 *
 * The analysis: the edge map (a pixel is an edge when its label differs
 * from its right or its upper neighbour's), and box counts of the edges at
 * box sides 2^(K - n) pixels for levels n = 0..K, K = tb_map_levels(),
 * so that tb_fit_dimension() fits the dimension of the boundary exactly as
 * it fits a sweep's (the slope of log2 B(n) on n).
 *
 * Threads, errors and ownership: as tb.h. Every pointer is borrowed.
 */
#ifndef TB_MAP_H
#define TB_MAP_H

#include "tb.h"

/* The parameters an axis may vary. */
enum tb_param {
    TB_PARAM_LR = 0,         /* the learning rate s */
    TB_PARAM_BETA,           /* opt.beta (momentum, nesterov) */
    TB_PARAM_BETA1,          /* opt.beta1 (adam) */
    TB_PARAM_BETA2,          /* opt.beta2 (adam) */
    TB_PARAM_AMPLITUDE,      /* model.terms[term].amplitude */
    TB_PARAM_WAVELENGTH,     /* model.terms[term].wavelength */
    TB_PARAM_X0,             /* every coordinate of x0 (x0_scalar) */
};

#define TB_MAP_MAX_POINTS 4096 /* per axis: a hard ceiling; services may set lower */

struct tb_map_axis {
    enum tb_param param;
    int term;             /* TB_PARAM_AMPLITUDE, _WAVELENGTH: the term's index */
    const double *values; /* n values, borrowed */
    uint64_t n;           /* 1..TB_MAP_MAX_POINTS */
};

struct tb_map {
    struct tb_spec base; /* one replicate; its lr axis is not used */
    double lr;           /* the fixed learning rate when neither axis is lr */
    struct tb_map_axis x, y;
};

/* rows * cols = y.n * x.n. */
uint64_t tb_map_pixels(const struct tb_map *m);

/* Sets parameter p (term for the model's) of spec to v. TB_EINVAL when
 * spec has no such parameter (beta under plain GD, a term it lacks, lr:
 * an axis, not a field). The spec is not checked. */
int tb_map_set(struct tb_spec *spec, enum tb_param p, int term, double v);

/* Checks the map: distinct parameters, 1..TB_MAP_MAX_POINTS values per
 * axis, every value applicable and in range (tb_spec_check() of the base
 * with each axis's values in turn), one replicate. TB_OK or TB_EINVAL. */
int tb_map_check(const struct tb_map *m);

/* Runs pixels [begin, begin + count) of the map into out (bit i = pixel
 * begin + i, tb_label_words(count) words, the caller's); cancel, progress
 * and stats as tb_sweep_tile(). Any begin and count within the pixels. */
int tb_map_tile(const struct tb_map *m, uint64_t begin, uint64_t count, uint64_t *out,
                const atomic_int *cancel, tb_progress_fn progress, void *progress_user,
                struct tb_tile_stats *stats);

/* K: the smallest k with 2^k >= max(rows, cols) (0 for 1 x 1). */
int tb_map_levels(uint64_t rows, uint64_t cols);

/* The edge map of rows x cols labels (pixel p = i * cols + j) into edges
 * (tb_label_words(rows * cols) words): bit p is 1 when label p differs
 * from label p + 1 in the same row or from label p + cols. */
void tb_map_edges(const uint64_t *labels, uint64_t rows, uint64_t cols, uint64_t *edges);

/* Box counts of an edge map: counts[n], n = 0..tb_map_levels(), is the
 * number of boxes of side 2^(K - n) pixels, aligned at pixel (0, 0), that
 * hold at least one edge (boxes cut by the map's top or right side count
 * as any other). Needs about rows * cols / 4 bytes of scratch. TB_OK,
 * TB_ENOMEM. */
int tb_map_box_counts(const uint64_t *edges, uint64_t rows, uint64_t cols, uint64_t *counts);

#endif /* TB_MAP_H */
