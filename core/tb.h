/*
 * tb.h - public interface of the trainbound numeric core.
 *
 * The core runs gradient descent x <- x - s * grad f(x) for every learning
 * rate s of a grid, labels each run bounded (0) or divergent (1), and
 * analyses the labels: box counts B(n) at every level, the OLS box-counting
 * dimension, the flip learning rates, and the roughness of the loss.
 * The formulas and their evaluation order follow docs/science.md.
 *
 * Threads: the core starts no threads and keeps no global state. Every
 * function here is reentrant and may be called from any thread at once, as
 * long as each call gets its own output buffers. A spec is only read.
 *
 * Errors: every fallible function returns TB_OK (0) or a negative TB_E*
 * code; tb_strerror() names it.
 *
 * Ownership: pointers passed in are borrowed for the duration of the call
 * unless a comment says otherwise. Output buffers are owned by the caller.
 */
#ifndef TB_H
#define TB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum tb_status {
    TB_OK = 0,
    TB_EINVAL = -1,    /* an argument or spec field is out of range */
    TB_ENOMEM = -2,    /* an allocation failed */
    TB_ECANCELED = -3, /* the cancel flag was raised */
};

/* Returns a static English description of a TB_* code. */
const char *tb_strerror(int code);

/* ---- the spec ----------------------------------------------------------- */

enum tb_family { TB_QUADRATIC = 0, TB_ADDITIVE = 1, TB_MULTIPLICATIVE = 2 };
enum tb_criterion { TB_MAX_LOSS = 0, TB_LOSS_SUM = 1, TB_FINAL_LOSS = 2 };
/* What a non-finite loss means when it does not by itself cross the
 * threshold (NaN, -inf): TB_NAN_DIVERGENT labels the run divergent at once;
 * TB_NAN_BOUNDED lets the comparison decide, as [L]'s CPU scripts did. */
enum tb_nan_policy { TB_NAN_DIVERGENT = 0, TB_NAN_BOUNDED = 1 };
/* REFERENCE follows science.md's evaluation order with libm, bit for bit.
 * FAST runs SIMD lanes (fast.c); it may differ only on chaotic labels. */
enum tb_precision { TB_PRECISION_REFERENCE = 0, TB_PRECISION_FAST = 1 };

/* The update rule (science.md section 2 for plain GD). All start with zero
 * velocity / moments; s is the learning rate of the grid point.
 *  - TB_OPT_GD:       x <- x - s g(x)                      (the default)
 *  - TB_OPT_MOMENTUM: v <- beta v - s g(x); x <- x + v      (heavy ball)
 *  - TB_OPT_NESTEROV: v <- beta v - s g(x + beta v); x <- x + v
 *  - TB_OPT_ADAM:     m <- b1 m + (1-b1) g; u <- b2 u + (1-b2) g^2;
 *                     x <- x - s (m / (1-b1^t)) / (sqrt(u / (1-b2^t)) + eps),
 *                     t = 1, 2, ... (bias-corrected, per coordinate) */
enum tb_opt_kind { TB_OPT_GD = 0, TB_OPT_MOMENTUM, TB_OPT_NESTEROV, TB_OPT_ADAM };

struct tb_optimizer {
    enum tb_opt_kind kind;
    double beta;         /* momentum, nesterov: 0 <= beta < 1 */
    double beta1, beta2; /* adam: 0 <= beta1, beta2 < 1 */
    double eps;          /* adam: > 0 */
};
/* Instruction sets of the fast path, for tb_spec.isa_cap. */
enum tb_isa { TB_ISA_BEST = 0, TB_ISA_SSE2 = 1, TB_ISA_AVX2 = 2, TB_ISA_AVX512 = 3 };
/* The grid is a product of named axes. Only the learning-rate axis exists
 * today; 2-D maps (per-layer learning rates) will add kinds here. */
enum tb_axis_kind { TB_AXIS_LR = 0 };

#define TB_MAX_TERMS 16   /* perturbation terms of the additive family */
#define TB_MAX_POLY_DEGREE 8 /* a poly term has at most 9 coefficients */
#define TB_MAX_LEVELS 32  /* grid of at most 2^32 + 1 points per axis */
#define TB_MAX_AXES 1
#define TB_MAX_DIM 65536  /* hard ceiling; services set lower limits */
#define TB_MAX_REPLICATES 32 /* runs of the same grid from nudged starting points */

/*
 * A perturbation term h(x) of one coordinate (issue 16). The additive
 * family is f = sum_i [x_i^2 + sum_k h_k(x_i)]; the multiplicative family
 * is f = (sum_i x_i^2) * (1 + sum_i h(x_i)) with exactly one term.
 *  - TB_TERM_COS:   h = amplitude * cos(2 pi x / wavelength)   (the paper's; the default, 0)
 *  - TB_TERM_POLY:  h = sum_{j=0..degree} coef[j] * (x / scale)^j   (additive only)
 *  - TB_TERM_GAUSS: h = amplitude * exp(-z^2 / 2), z = (x - centre) / width
 *                   (additive; multiplicative with dim 1 only)
 * Fields another kind does not use are ignored (zero them).
 */
enum tb_term_kind { TB_TERM_COS = 0, TB_TERM_POLY = 1, TB_TERM_GAUSS = 2 };

struct tb_term {
    double amplitude;  /* cos: eps_k; gauss: a (any sign; a < 0 is a well) */
    double wavelength; /* cos: lam_k > 0 */
    enum tb_term_kind kind;
    double width;      /* gauss: w > 0 */
    double centre;     /* gauss: c */
    double scale;      /* poly: s > 0 */
    int degree;        /* poly: 0..TB_MAX_POLY_DEGREE; coef[0..degree] are used */
    double coef[TB_MAX_POLY_DEGREE + 1];
};

struct tb_model {
    enum tb_family family;
    int dim;      /* d >= 1 */
    int n_terms;  /* 0 for quadratic, 1 for multiplicative, 1..TB_MAX_TERMS additive */
    struct tb_term terms[TB_MAX_TERMS];
};

/* 1 when every term is a cosine (the paper's models; quadratic included). */
int tb_model_cos_only(const struct tb_model *m);

struct tb_axis {
    enum tb_axis_kind kind;
    double min, max; /* min < max, both finite */
    int levels;      /* K: the axis has 2^K + 1 points */
    /* Explicit learning rates (a map's row or column, tb_map.h): when
     * values is non-NULL the axis is values[0..n_values), in any order and
     * spacing (each finite, n_values >= 1), and min, max and levels are
     * not used. Borrowed: it must outlive every call that reads the spec.
     * NULL (the default, zeroed) is the levels grid. */
    const double *values;
    uint64_t n_values;
};

struct tb_spec {
    struct tb_model model;
    /* Initial point: x0[i] for i < dim when x0 is non-NULL (borrowed; it must
     * outlive every call that reads the spec), else x0_scalar everywhere. */
    const double *x0;
    double x0_scalar;
    int steps; /* T >= 1 */
    enum tb_criterion criterion;
    double threshold;
    enum tb_nan_policy nan_policy;
    enum tb_precision precision;
    enum tb_isa isa_cap; /* fast path: highest ISA to use; TB_ISA_BEST = all the CPU has */
    int n_axes; /* 1 */
    struct tb_axis axes[TB_MAX_AXES];
    /* Replicates R (0 means 1): the sweep runs the whole grid R times.
     * Replicate r starts from x0 moved r ulps up in every coordinate
     * (tb_replicate_x0), so replicate 0 is the spec's own run. Sweep point
     * g is replicate g / N at grid point g % N, N = tb_grid_points(). */
    int replicates;
    /* The update rule; all zero (the default) is plain GD. */
    struct tb_optimizer opt;
};

/* Checks the ranges of every field the core relies on. Returns TB_OK or
 * TB_EINVAL. Front ends validate first and give field-level messages; this
 * is the core's own guard. */
int tb_spec_check(const struct tb_spec *spec);

/* Number of grid points: 2^K + 1 for one axis (n_values for explicit
 * values). */
uint64_t tb_grid_points(const struct tb_spec *spec);

/* Replicates of the spec (1 when the field is 0), and points of the whole
 * sweep: replicates * tb_grid_points(). */
int tb_replicates(const struct tb_spec *spec);
uint64_t tb_sweep_points(const struct tb_spec *spec);

/* x moved k ulps towards +inf (k nextafter steps; k >= 0): the starting
 * coordinate of replicate k. */
double tb_replicate_x0(double x, int k);

/* Learning rate of grid point j: min + j * ((max - min) / 2^K), or
 * values[j] for an axis of explicit values. */
double tb_grid_lr(const struct tb_spec *spec, uint64_t j);

/* Loss f(x) and its gradient (written to g, dim values) at x. Reference
 * evaluation order. x and g are borrowed and must not overlap. */
double tb_loss(const struct tb_model *m, const double *x);
void tb_grad(const struct tb_model *m, const double *x, double *g);

/* 1 when the fast path has a kernel for this spec (plain GD; momentum and
 * Nesterov for 1-D single-term models judged by max loss with NaN
 * divergent; Adam not yet); a
 * spec with precision fast that it does not cover runs on the reference
 * path, and its engine says so (tb_engine_precision). A model with a poly
 * or gauss term is never covered (tb_model_cos_only). */
int tb_fast_covers(const struct tb_spec *spec);

/* The precision that runs the spec: its own, or the reference when the
 * fast path does not cover it. */
enum tb_precision tb_engine_precision(const struct tb_spec *spec);

/* The ISA the fast path would use under cap on this CPU:
 * "avx512", "avx2" or "sse2". Static string. */
const char *tb_fast_isa(enum tb_isa cap);

/* ---- roughness ---------------------------------------------------------- */

/*
 * What theta measures depends on the terms (README "Perturbations"):
 *  - cosines only (the paper's models): additive sum eps_k/lam_k^2 with
 *    critical 1/(2 pi^2); multiplicative eps with critical +inf (none);
 *    quadratic 0.
 *  - additive, gauss terms only: sum a_k/w_k^2, critical 2 (one bump with
 *    a > 0 is convex iff theta <= 2; one well, a < 0, iff theta >= -e^1.5).
 *  - additive with any poly term, or cosines and bumps mixed: the curvature
 *    deficit 1 - inf f''/2 = sup_x(-sum_k h_k''(x))/2, critical 1 (convex
 *    iff theta <= 1); +inf when f'' is unbounded below.
 *  - multiplicative gauss: the amplitude a; critical NaN (none in closed
 *    form: convex says).
 * convex: 1 when f'' >= 0 everywhere (per coordinate: the additive family is
 * separable). min_f2 is inf f'' (per coordinate; -inf when unbounded below,
 * as for the multiplicative cosine with eps != 0). numeric: 1 when a bounded numeric search decided (convex.c),
 * 0 for a closed form or exact polynomial roots.
 */
struct tb_roughness {
    double theta;
    double critical;
    int convex;      /* with cosine amplitudes of mixed signs (the core allows
                        them; the codec does not) the cosine test
                        sum |eps_k|/lam_k^2 <= theta_c is sufficient only */
    double min_f2;
    int numeric;
};

void tb_roughness(const struct tb_model *m, struct tb_roughness *out);

/* ---- the sweep ---------------------------------------------------------- */

/* Labels are packed bits: bit (j % 64) of word j / 64 is 1 when point j
 * diverged. A label array for n points has tb_label_words(n) words. */
static inline uint64_t tb_label_words(uint64_t n) { return (n + 63) / 64; }
static inline int tb_label_get(const uint64_t *bits, uint64_t j)
{
    return (int)((bits[j >> 6] >> (j & 63)) & 1u);
}

/* Called from the calling thread every so often with the number of points
 * of this tile finished so far. */
typedef void (*tb_progress_fn)(void *user, uint64_t done_in_tile);

struct tb_tile_stats {
    uint64_t points;     /* points evaluated */
    uint64_t divergent;  /* of which divergent */
    uint64_t lane_steps; /* GD steps executed, summed over points */
    uint64_t proved;     /* runs the fast path ended early on a proof of boundedness */
};

/*
 * Runs points [begin, begin + count) of the sweep (tb_sweep_points(): the
 * grid once per replicate; a tile may span replicates) and writes their labels to
 * out: bit i of out is point begin + i, and out has tb_label_words(count)
 * words (owned by the caller; unused high bits are zeroed). A tile whose
 * begin is a multiple of 64 can be copied word for word into a full label
 * array. Labels depend only on the spec and the point index, never on the
 * tile split or the thread.
 *
 * cancel: optional (NULL); when it reads non-zero the call returns
 * TB_ECANCELED with out partly written. progress: optional.
 * stats: optional, written on success.
 */
int tb_sweep_tile(const struct tb_spec *spec, uint64_t begin, uint64_t count, uint64_t *out,
                  const atomic_int *cancel, tb_progress_fn progress, void *progress_user,
                  struct tb_tile_stats *stats);

/* Copies count labels from src (bit 0 = first) into dst at bit offset
 * dst_begin. Bits of dst outside the range are kept. */
void tb_labels_put(uint64_t *dst, uint64_t dst_begin, const uint64_t *src, uint64_t count);

/* The converse: copies count labels of src from bit offset src_begin into
 * dst (bit 0 = first; dst has tb_label_words(count) words, its unused high
 * bits are zeroed). */
void tb_labels_get(uint64_t *dst, const uint64_t *src, uint64_t src_begin, uint64_t count);

/* ---- analysis ----------------------------------------------------------- */

/*
 * Box counts by subsampling: counts[n] for n = 0..levels is the number of
 * adjacent pairs whose labels differ among the points j * 2^(levels - n).
 * bits holds the 2^levels + 1 labels of a full axis (borrowed, unchanged).
 * counts has levels + 1 entries. Needs 2^levels / 16 bytes of scratch.
 */
int tb_box_counts(const uint64_t *bits, int levels, uint64_t *counts);

struct tb_fit_opts {
    int min_level;  /* first level of the window, 0..levels */
    int max_level;  /* last level of the window, min_level..levels */
    int min_levels; /* fewer usable levels than this: not fractal, D = 0; >= 3 */
};

struct tb_fit {
    double value;    /* D: OLS slope of log2 B(n) on n; 0 when not fractal */
    double se;       /* OLS standard error of the slope; 0 when not fractal */
    double r2;       /* coefficient of determination; 0 when not fractal */
    double intercept;
    int min_level, max_level; /* the window asked for */
    int levels_used; /* levels in the window with B(n) > 1 */
    int first_used, last_used; /* first and last level used; -1 when none */
    int fractal;     /* levels_used >= min_levels */
};

/* Fits the dimension over the window. counts has levels + 1 entries. */
int tb_fit_dimension(const uint64_t *counts, int levels, const struct tb_fit_opts *opts,
                     struct tb_fit *out);

/* Number of divergent labels among the first n. */
uint64_t tb_labels_popcount(const uint64_t *bits, uint64_t n);

/*
 * Flips at the finest level: indices j with label(j) != label(j + 1), in
 * increasing order. Starting from *pos (0 at first), writes up to cap such
 * j to out and advances *pos past the last one written. Returns the number
 * written; 0 when there are no more. The flip learning rate of j is the
 * cell midpoint min + (j + 0.5) * h.
 */
size_t tb_flips_next(const uint64_t *bits, uint64_t n, uint64_t *pos, uint64_t *out, size_t cap);

/* Index of the first divergent point among n, or -1 when none. */
int64_t tb_first_set(const uint64_t *bits, uint64_t n);

#endif /* TB_H */
