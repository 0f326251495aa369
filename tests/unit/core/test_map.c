/*
 * test_map.c - unit tests for core/map.c (tb_map.h) and the explicit
 * learning rates of tb_axis.values it runs on.
 *
 * Covers: a sweep of explicit rates equal to the levels grid gives the
 * levels sweep's labels bit for bit, on the reference path and on every
 * ISA of the fast path (proofs on and off), for any tile split, and
 * reversed rates give the reversed labels; the heavy-ball map of f = x^2
 * over (lr, beta) is divergent exactly where s passes the detected edge
 * (1 + r)(r + b) / 2r, the finite-T form of s > 1 + beta; a dummy y axis
 * gives identical rows, each the 1-D sweep; lr on y is the transpose of lr
 * on x; a map without lr (one run per pixel) equals the lr map's column at
 * its rate; labels do not depend on the tile split; the edge map and box
 * counts of hand-made maps (a straight line: D about 1; a checkerboard:
 * D = 2); tb_map_check()'s refusals.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tb_map.h"
#include "tbtest.h"

static int isa_count(enum tb_isa *out)
{
    static const enum tb_isa all[] = {TB_ISA_SSE2, TB_ISA_AVX2, TB_ISA_AVX512};
    static const char *names[] = {"sse2", "avx2", "avx512"};
    int n = 0, k;

    for (k = 0; k < 3; k++)
        if (strcmp(tb_fast_isa(all[k]), names[k]) == 0)
            out[n++] = all[k];
    return n;
}

static double *linspace(double a, double b, uint64_t n)
{
    double *v = malloc(n * sizeof *v);
    uint64_t j;

    ck_assert_ptr_nonnull(v);
    for (j = 0; j < n; j++)
        v[j] = n == 1 ? a : j == n - 1 ? b : a + (double)j * ((b - a) / (double)(n - 1));
    return v;
}

/* Sweeps spec in tiles of `tile` points (0: one tile). */
static uint64_t *sweep_tiled(const struct tb_spec *s, uint64_t tile)
{
    uint64_t n = tb_grid_points(s), *b = tbt_labels_alloc(n), *t = tbt_labels_alloc(n), at;

    if (tile == 0)
        tile = n;
    for (at = 0; at < n; at += tile) {
        uint64_t c = n - at < tile ? n - at : tile;
        ck_assert_int_eq(tb_sweep_tile(s, at, c, t, NULL, NULL, NULL, NULL), TB_OK);
        tb_labels_put(b, at, t, c);
    }
    free(t);
    return b;
}

static void values_vs_levels(struct tb_spec s)
{
    const uint64_t n = tb_grid_points(&s);
    double *v = malloc(n * sizeof *v), *rv = malloc(n * sizeof *rv);
    struct tb_spec e = s, r = s;
    uint64_t *a, *b, *c, j;
    static const uint64_t tiles[] = {0, 100, 64};
    int t;

    for (j = 0; j < n; j++) {
        v[j] = tb_grid_lr(&s, j);
        rv[n - 1 - j] = v[j];
    }
    e.axes[0].values = v;
    e.axes[0].n_values = n;
    r.axes[0].values = rv;
    r.axes[0].n_values = n;
    ck_assert_uint_eq(tb_grid_points(&e), n);
    a = sweep_tiled(&s, 0);
    for (t = 0; t < 3; t++) {
        b = sweep_tiled(&e, tiles[t]);
        ck_assert_msg(memcmp(a, b, tb_label_words(n) * sizeof *a) == 0,
                      "family %d precision %d isa %d tile %d: values differ from levels",
                      s.model.family, s.precision, s.isa_cap, (int)tiles[t]);
        free(b);
    }
    c = sweep_tiled(&r, 77);
    for (j = 0; j < n; j++)
        ck_assert_int_eq(tb_label_get(c, n - 1 - j), tb_label_get(a, j));
    free(a);
    free(c);
    free(v);
    free(rv);
}

START_TEST(values_equal_levels)
{
    enum tb_isa isas[3];
    int n = isa_count(isas), k, f, p;

    for (f = 0; f < 3; f++) {
        struct tb_spec s = f == 0   ? tbt_spec_multiplicative(0.2, 0.1, 12)
                           : f == 1 ? tbt_spec_additive(0.2, 0.1, 12)
                                    : tbt_spec_quadratic(1.0, 1e8, 1000, 12);
        s.precision = TB_PRECISION_REFERENCE;
        values_vs_levels(s);
        s.precision = TB_PRECISION_FAST;
        for (p = 0; p < 2; p++) {
            if (p == 1)
                setenv("TRAINBOUND_PROOFS", "off", 1);
            for (k = 0; k < n; k++) {
                s.isa_cap = isas[k];
                values_vs_levels(s);
            }
            unsetenv("TRAINBOUND_PROOFS");
        }
        /* heavy ball's lean loop too */
        s.opt.kind = TB_OPT_MOMENTUM;
        s.opt.beta = 0.5;
        for (k = 0; k < n; k++) {
            s.isa_cap = isas[k];
            values_vs_levels(s);
        }
    }
}
END_TEST

/* The whole map in tiles of `tile` pixels (0: one tile). */
static uint64_t *map_run(const struct tb_map *m, uint64_t tile)
{
    uint64_t n = tb_map_pixels(m), *b = tbt_labels_alloc(n), *t = tbt_labels_alloc(n), at;
    struct tb_tile_stats st;

    if (tile == 0)
        tile = n;
    for (at = 0; at < n; at += tile) {
        uint64_t c = n - at < tile ? n - at : tile;
        ck_assert_int_eq(tb_map_tile(m, at, c, t, NULL, NULL, NULL, &st), TB_OK);
        ck_assert_uint_eq(st.points, c);
        tb_labels_put(b, at, t, c);
    }
    free(t);
    return b;
}

static int px(const uint64_t *b, const struct tb_map *m, uint64_t i, uint64_t j)
{
    return tb_label_get(b, i * m->x.n + j);
}

/* f = x^2, heavy ball, x = lr in [0, 2.5], y = beta in [0, 0.9]: away from
 * the detected edge by more than the O(1/T) term, a pixel is divergent iff
 * s is past it (test_optim.c's quadratic_edges derives it). */
START_TEST(heavy_ball_quadratic)
{
    const double r = pow(1e8, 1.0 / 2000.0), tol = 1e-3;
    struct tb_map m;
    uint64_t *a, *b, i, j, near = 0;
    int k;

    memset(&m, 0, sizeof m);
    m.base = tbt_spec_quadratic(1.0, 1e8, 1000, 0);
    m.base.opt.kind = TB_OPT_MOMENTUM;
    m.base.opt.beta = 0.5;
    m.base.precision = TB_PRECISION_FAST;
    m.x.param = TB_PARAM_LR;
    m.x.values = linspace(0.0, 2.5, 501);
    m.x.n = 501;
    m.y.param = TB_PARAM_BETA;
    m.y.values = linspace(0.0, 0.9, 46);
    m.y.n = 46;
    for (k = 0; k < 2; k++) {
        m.base.precision = k ? TB_PRECISION_REFERENCE : TB_PRECISION_FAST;
        a = map_run(&m, 0);
        for (i = 0; i < m.y.n; i++) {
            const double bt = m.y.values[i], want = (1.0 + r) * (r + bt) / (2.0 * r);
            ck_assert(want > 1.0 + bt);
            for (j = 0; j < m.x.n; j++) {
                const double s = m.x.values[j];
                if (fabs(s - want) <= tol) {
                    near++;
                    continue;
                }
                ck_assert_msg(px(a, &m, i, j) == (s > want),
                              "beta %g lr %g: label %d, edge %.9g", bt, s, px(a, &m, i, j), want);
            }
        }
        b = map_run(&m, 333); /* rows cut anywhere */
        ck_assert(memcmp(a, b, tb_label_words(tb_map_pixels(&m)) * 8) == 0);
        free(a);
        free(b);
    }
    ck_assert_uint_le(near, 2 * 46); /* at most a pixel or two per row is within tol */
    free((void *)m.x.values);
    free((void *)m.y.values);
}
END_TEST

/* A y axis the loss does not feel (amplitude 0.2 everywhere): every row is
 * the 1-D sweep of the x rates. */
START_TEST(dummy_axis_rows)
{
    struct tb_map m;
    struct tb_spec s = tbt_spec_additive(0.2, 0.1, 0);
    uint64_t *a, *row, i, j;
    double *amp = malloc(8 * sizeof *amp);

    for (i = 0; i < 8; i++)
        amp[i] = 0.2;
    s.precision = TB_PRECISION_FAST;
    memset(&m, 0, sizeof m);
    m.base = s;
    m.x.param = TB_PARAM_LR;
    m.x.values = linspace(0.0, 1.5, 1025);
    m.x.n = 1025;
    m.y.param = TB_PARAM_AMPLITUDE;
    m.y.term = 0;
    m.y.values = amp;
    m.y.n = 8;
    a = map_run(&m, 1000);
    s.axes[0].values = m.x.values;
    s.axes[0].n_values = m.x.n;
    row = tbt_sweep(&s);
    for (i = 0; i < m.y.n; i++)
        for (j = 0; j < m.x.n; j++)
            ck_assert_int_eq(px(a, &m, i, j), tb_label_get(row, j));
    /* the same 1-D sweep as the levels grid */
    free(row);
    s.axes[0].values = NULL;
    s.axes[0].levels = 10;
    row = tbt_sweep(&s);
    for (j = 0; j < m.x.n; j++)
        ck_assert_int_eq(px(a, &m, 3, j), tb_label_get(row, j));
    free(row);
    free(a);
    free((void *)m.x.values);
    free(amp);
}
END_TEST

/* lr on y is lr on x transposed; a map without lr is a column of it. */
START_TEST(transpose_and_fixed_rate)
{
    struct tb_map m, t, f;
    uint64_t *a, *b, *c, i, j;
    const uint64_t jc = 17;

    memset(&m, 0, sizeof m);
    m.base = tbt_spec_additive(0.2, 0.1, 0);
    m.base.opt.kind = TB_OPT_MOMENTUM;
    m.base.precision = TB_PRECISION_FAST;
    m.x.param = TB_PARAM_LR;
    m.x.values = linspace(0.5, 2.0, 70);
    m.x.n = 70;
    m.y.param = TB_PARAM_BETA;
    m.y.values = linspace(0.0, 0.95, 30);
    m.y.n = 30;
    t = m;
    t.x = m.y;
    t.y = m.x;
    a = map_run(&m, 0);
    b = map_run(&t, 129);
    for (i = 0; i < m.y.n; i++)
        for (j = 0; j < m.x.n; j++)
            ck_assert_int_eq(px(a, &m, i, j), px(b, &t, j, i));
    /* x = beta, y = x0 (one value, the base's), at the fixed rate of
     * column jc */
    f = m;
    f.lr = m.x.values[jc];
    f.x = m.y;
    f.y.param = TB_PARAM_X0;
    f.y.values = &m.base.x0_scalar;
    f.y.n = 1;
    c = map_run(&f, 7);
    for (i = 0; i < m.y.n; i++)
        ck_assert_int_eq(tb_label_get(c, i), px(a, &m, i, jc));
    free(a);
    free(b);
    free(c);
    free((void *)m.x.values);
    free((void *)m.y.values);
}
END_TEST

/* Fits D over levels 2..K of a hand-made map. */
static double map_dim(const uint64_t *labels, uint64_t rows, uint64_t cols, uint64_t *counts)
{
    uint64_t *e = tbt_labels_alloc(rows * cols);
    struct tb_fit_opts o;
    struct tb_fit fit;
    int K = tb_map_levels(rows, cols);

    tb_map_edges(labels, rows, cols, e);
    ck_assert_int_eq(tb_map_box_counts(e, rows, cols, counts), TB_OK);
    o.min_level = 2;
    o.max_level = K;
    o.min_levels = 3;
    ck_assert_int_eq(tb_fit_dimension(counts, K, &o, &fit), TB_OK);
    free(e);
    return fit.value;
}

START_TEST(edges_and_counts)
{
    uint64_t counts[TB_MAX_LEVELS + 1], *b, i, j, e[1];
    const uint64_t R = 512, C = 512;
    double d;

    ck_assert_int_eq(tb_map_levels(1, 1), 0);
    ck_assert_int_eq(tb_map_levels(2, 1), 1);
    ck_assert_int_eq(tb_map_levels(512, 300), 9);
    ck_assert_int_eq(tb_map_levels(513, 3), 10);

    /* 4 x 4, divergent from column 2 on: the edges are column 1, every
     * row; boxes of 2 hold them in the left column of boxes, 1 box of 4 */
    b = tbt_labels_alloc(16);
    for (i = 0; i < 4; i++)
        for (j = 2; j < 4; j++)
            b[0] |= (uint64_t)1 << (i * 4 + j);
    tb_map_edges(b, 4, 4, e);
    ck_assert_uint_eq(e[0], 0x2222u);
    ck_assert_int_eq(tb_map_box_counts(e, 4, 4, counts), TB_OK);
    ck_assert_uint_eq(counts[2], 4);
    ck_assert_uint_eq(counts[1], 2);
    ck_assert_uint_eq(counts[0], 1);
    /* one divergent pixel at the top right corner: its left and lower
     * neighbours are the edges */
    b[0] = (uint64_t)1 << 15;
    tb_map_edges(b, 4, 4, e);
    ck_assert_uint_eq(e[0], ((uint64_t)1 << 14) | ((uint64_t)1 << 11));
    free(b);

    /* a straight line: divergent where j > 0.7 i + 40 */
    b = tbt_labels_alloc(R * C);
    for (i = 0; i < R; i++)
        for (j = 0; j < C; j++)
            if ((double)j > 0.7 * (double)i + 40.0)
                b[(i * C + j) >> 6] |= (uint64_t)1 << ((i * C + j) & 63);
    d = map_dim(b, R, C, counts);
    ck_assert_msg(fabs(d - 1.0) < 0.05, "a straight line: D = %g", d);
    free(b);

    /* a checkerboard of single pixels: every pixel an edge but the last */
    b = tbt_labels_alloc(R * C);
    for (i = 0; i < R; i++)
        for (j = 0; j < C; j++)
            if ((i + j) & 1)
                b[(i * C + j) >> 6] |= (uint64_t)1 << ((i * C + j) & 63);
    d = map_dim(b, R, C, counts);
    ck_assert_uint_eq(counts[9], R * C - 1);
    ck_assert_msg(fabs(d - 2.0) < 1e-3, "a checkerboard: D = %g", d);
    free(b);

    /* a non-square map with odd sides: boxes cut by the edge count */
    b = tbt_labels_alloc(5 * 3);
    b[0] = (uint64_t)1 << 14; /* the top right pixel of 5 rows x 3 cols */
    tb_map_edges(b, 5, 3, e);
    ck_assert_int_eq(tb_map_box_counts(e, 5, 3, counts), TB_OK);
    ck_assert_uint_eq(counts[3], 2);
    /* the edges (4, 1) and (3, 2) lie in different boxes of 2 and of 4 */
    ck_assert_uint_eq(counts[2], 2);
    ck_assert_uint_eq(counts[1], 2);
    ck_assert_uint_eq(counts[0], 1);
    free(b);
}
END_TEST

START_TEST(check_refusals)
{
    struct tb_map m;
    double lr[4] = {0.1, 0.2, 0.3, 0.4}, beta[3] = {0.0, 0.5, 0.99}, bad[2] = {0.5, 1.0};
    uint64_t w;

    memset(&m, 0, sizeof m);
    m.base = tbt_spec_quadratic(1.0, 1e8, 10, 0);
    m.base.opt.kind = TB_OPT_MOMENTUM;
    m.x.param = TB_PARAM_LR;
    m.x.values = lr;
    m.x.n = 4;
    m.y.param = TB_PARAM_BETA;
    m.y.values = beta;
    m.y.n = 3;
    ck_assert_int_eq(tb_map_check(&m), TB_OK);
    m.y.values = bad; /* beta = 1 at the top */
    m.y.n = 2;
    ck_assert_int_eq(tb_map_check(&m), TB_EINVAL);
    m.y.values = beta;
    m.y.n = 3;
    m.base.opt.kind = TB_OPT_GD; /* plain GD has no beta */
    ck_assert_int_eq(tb_map_check(&m), TB_EINVAL);
    m.base.opt.kind = TB_OPT_MOMENTUM;
    m.y.param = TB_PARAM_LR; /* the same parameter twice */
    ck_assert_int_eq(tb_map_check(&m), TB_EINVAL);
    m.y.param = TB_PARAM_AMPLITUDE; /* the quadratic has no term */
    ck_assert_int_eq(tb_map_check(&m), TB_EINVAL);
    m.y.param = TB_PARAM_BETA;
    ck_assert_int_eq(tb_map_tile(&m, 10, 3, &w, NULL, NULL, NULL, NULL), TB_EINVAL);
    m.x.param = TB_PARAM_X0;
    m.lr = NAN; /* no lr axis: the fixed rate must be finite */
    ck_assert_int_eq(tb_map_check(&m), TB_EINVAL);
    m.lr = 0.5;
    ck_assert_int_eq(tb_map_check(&m), TB_OK);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core/map");
    TCase *tc = tcase_create("map");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, values_equal_levels);
    tcase_add_test(tc, heavy_ball_quadratic);
    tcase_add_test(tc, dummy_axis_rows);
    tcase_add_test(tc, transpose_and_fixed_rate);
    tcase_add_test(tc, edges_and_counts);
    tcase_add_test(tc, check_refusals);
    suite_add_tcase(s, tc);
    return tbt_run_suite(s);
}
