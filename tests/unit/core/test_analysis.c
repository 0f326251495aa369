/*
 * test_analysis.c - unit tests for core/analysis.c.
 *
 * Covers: tb_box_counts against a naive subsampling count (random labels
 * for K = 0..16 and K = 20, and hand-picked patterns), tb_fit_dimension
 * against a hand-computed OLS and against science.md's published fits of
 * the reference counts, the fit window (levels with B <= 1 skipped, too few
 * levels, invalid windows), tb_flips_next paging against a naive scan,
 * tb_first_set and tb_labels_popcount. Label arrays get random garbage in
 * the unused bits past the last label: the functions must ignore it.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"
#include "tbtest.h"

static uint64_t rng_state = 0xD1B54A32D192ED03ull;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* n labels in tb_label_words(n) words; label j is 1 with probability
 * p/64 (p = 0..64); the bits past n in the last word are random. */
static uint64_t *random_labels(uint64_t n, int p)
{
    uint64_t words = tb_label_words(n), *b = tbt_labels_alloc(n), j;

    for (j = 0; j < n; j++)
        if ((int)(rng_next() & 63) < p)
            b[j >> 6] |= (uint64_t)1 << (j & 63);
    if (n & 63)
        b[words - 1] |= rng_next() & ~(((uint64_t)1 << (n & 63)) - 1);
    return b;
}

static void set_label(uint64_t *b, uint64_t j, int v)
{
    if (v)
        b[j >> 6] |= (uint64_t)1 << (j & 63);
    else
        b[j >> 6] &= ~((uint64_t)1 << (j & 63));
}

/* science.md 3: B(n) = adjacent differing pairs among labels j * 2^(K-n). */
static void naive_counts(const uint64_t *b, int K, uint64_t *c)
{
    int n;

    for (n = 0; n <= K; n++) {
        uint64_t stride = (uint64_t)1 << (K - n), j;
        c[n] = 0;
        for (j = 0; j < ((uint64_t)1 << n); j++)
            c[n] += tb_label_get(b, j * stride) != tb_label_get(b, (j + 1) * stride);
    }
}

static void check_counts(const uint64_t *b, int K)
{
    uint64_t got[TB_MAX_LEVELS + 1], want[TB_MAX_LEVELS + 1];
    int n;

    ck_assert_int_eq(tb_box_counts(b, K, got), TB_OK);
    naive_counts(b, K, want);
    for (n = 0; n <= K; n++)
        ck_assert_msg(got[n] == want[n], "K=%d: B(%d) = %llu, naive %llu", K, n,
                      (unsigned long long)got[n], (unsigned long long)want[n]);
}

/* ---- tb_box_counts ------------------------------------------------------- */

START_TEST(box_counts_random)
{
    static const int density[] = {1, 8, 32, 56, 63};
    const int K = _i;
    size_t d;
    int rep;

    for (d = 0; d < sizeof density / sizeof density[0]; d++) {
        for (rep = 0; rep < (K < 10 ? 20 : 2); rep++) {
            uint64_t *b = random_labels(((uint64_t)1 << K) + 1, density[d]);
            check_counts(b, K);
            free(b);
        }
    }
}
END_TEST

START_TEST(box_counts_random_k20)
{
    uint64_t *b = random_labels(((uint64_t)1 << 20) + 1, 32);

    check_counts(b, 20);
    free(b);
}
END_TEST

/* Patterns with known counts, for K = 0..16. */
START_TEST(box_counts_patterns)
{
    int K, n;

    for (K = 0; K <= 16; K++) {
        uint64_t N = ((uint64_t)1 << K) + 1, *b = tbt_labels_alloc(N), c[TB_MAX_LEVELS + 1], j;

        /* all zero: no boundary */
        check_counts(b, K);
        ck_assert_int_eq(tb_box_counts(b, K, c), TB_OK);
        for (n = 0; n <= K; n++)
            ck_assert_uint_eq(c[n], 0);

        /* single divergent point at the end index 2^K: one box per level */
        set_label(b, N - 1, 1);
        check_counts(b, K);
        ck_assert_int_eq(tb_box_counts(b, K, c), TB_OK);
        for (n = 0; n <= K; n++)
            ck_assert_uint_eq(c[n], 1);

        /* all one: no boundary */
        for (j = 0; j < N; j++)
            set_label(b, j, 1);
        ck_assert_int_eq(tb_box_counts(b, K, c), TB_OK);
        for (n = 0; n <= K; n++)
            ck_assert_uint_eq(c[n], 0);

        /* alternating 0101...: level K sees 2^K flips; coarser levels see
         * only even indices, all 0 */
        for (j = 0; j < N; j++)
            set_label(b, j, (int)(j & 1));
        check_counts(b, K);
        ck_assert_int_eq(tb_box_counts(b, K, c), TB_OK);
        ck_assert_uint_eq(c[K], (uint64_t)1 << K);
        for (n = 0; n < K; n++)
            ck_assert_uint_eq(c[n], 0);

        /* a step at the middle: one box per level */
        for (j = 0; j < N; j++)
            set_label(b, j, j >= N / 2);
        ck_assert_int_eq(tb_box_counts(b, K, c), TB_OK);
        for (n = 0; n <= K; n++)
            ck_assert_uint_eq(c[n], 1);
        free(b);
    }
}
END_TEST

START_TEST(box_counts_arguments)
{
    uint64_t b[2] = {0, 0}, c[TB_MAX_LEVELS + 2];

    /* Regression: tb_box_counts once shifted by levels before checking it,
     * which the SANITIZER=undefined build caught for levels = -1. */
    ck_assert_int_eq(tb_box_counts(b, -1, c), TB_EINVAL);
    ck_assert_int_eq(tb_box_counts(b, TB_MAX_LEVELS + 1, c), TB_EINVAL);
    ck_assert_int_eq(tb_box_counts(NULL, 3, c), TB_EINVAL);
    ck_assert_int_eq(tb_box_counts(b, 3, NULL), TB_EINVAL);
    /* K = 0: two labels */
    b[0] = 2;
    ck_assert_int_eq(tb_box_counts(b, 0, c), TB_OK);
    ck_assert_uint_eq(c[0], 1);
}
END_TEST

/* ---- tb_fit_dimension ----------------------------------------------------- */

struct ols {
    int m;
    double slope, intercept, se, r2;
};

/* Ordinary least squares of y = log2 B(n) on x = n over the levels of
 * [lo, hi] with B(n) > 1, from the textbook sums, in long double:
 *   b  = (m Sxy - Sx Sy) / (m Sxx - Sx^2),  a = (Sy - b Sx) / m,
 *   se = sqrt(SSR / (m - 2) / (Sxx - Sx^2/m)),
 *   r2 = (m Sxy - Sx Sy)^2 / ((m Sxx - Sx^2)(m Syy - Sy^2)). */
static struct ols hand_ols(const uint64_t *c, int lo, int hi)
{
    long double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0, ssr = 0, b, a;
    struct ols r;
    int n;

    memset(&r, 0, sizeof r);
    for (n = lo; n <= hi; n++) {
        if (c[n] > 1) {
            long double y = log2l((long double)c[n]);
            r.m++;
            sx += n;
            sy += y;
            sxx += (long double)n * n;
            sxy += n * y;
            syy += y * y;
        }
    }
    if (r.m < 3)
        return r;
    b = (r.m * sxy - sx * sy) / (r.m * sxx - sx * sx);
    a = (sy - b * sx) / r.m;
    for (n = lo; n <= hi; n++) {
        if (c[n] > 1) {
            long double e = log2l((long double)c[n]) - a - b * n;
            ssr += e * e;
        }
    }
    r.slope = (double)b;
    r.intercept = (double)a;
    r.se = (double)sqrtl(ssr / (r.m - 2) / (sxx - sx * sx / r.m));
    r.r2 = (double)((r.m * sxy - sx * sy) * (r.m * sxy - sx * sy) /
                    ((r.m * sxx - sx * sx) * (r.m * syy - sy * sy)));
    return r;
}

static void check_fit(const uint64_t *c, int levels, int lo, int hi, int min_levels)
{
    struct tb_fit_opts o = {lo, hi, min_levels};
    struct tb_fit f;
    struct ols h = hand_ols(c, lo, hi);

    ck_assert_int_eq(tb_fit_dimension(c, levels, &o, &f), TB_OK);
    ck_assert_int_eq(f.min_level, lo);
    ck_assert_int_eq(f.max_level, hi);
    ck_assert_int_eq(f.levels_used, h.m);
    if (h.m < min_levels) {
        ck_assert_int_eq(f.fractal, 0);
        ck_assert(f.value == 0.0 && f.se == 0.0 && f.r2 == 0.0);
        return;
    }
    ck_assert_int_eq(f.fractal, 1);
    ck_assert_msg(fabs(f.value - h.slope) <= 1e-12 * (1 + fabs(h.slope)),
                  "[%d,%d]: slope %.17g, hand %.17g", lo, hi, f.value, h.slope);
    ck_assert(fabs(f.intercept - h.intercept) <= 1e-11 * (1 + fabs(h.intercept)));
    ck_assert_msg(fabs(f.se - h.se) <= 1e-9 * h.se + 1e-13, "[%d,%d]: se %.17g, hand %.17g", lo,
                  hi, f.se, h.se);
    if (h.se > 1e-6) /* r2 is only well defined away from a perfect fit */
        ck_assert_msg(fabs(f.r2 - h.r2) <= 1e-10, "[%d,%d]: r2 %.17g, hand %.17g", lo, hi, f.r2,
                      h.r2);
}

/* science.md 4's full reference counts, levels 0..31. */
static const uint64_t mult_counts[32] = {
    1,     1,     1,     1,      3,      5,      7,       13,      21,      27,     57,
    115,   247,   423,   683,    1215,   2303,   4245,    7619,    13365,   22885,  40589,
    73361, 134187, 244291, 439969, 785943, 1399357, 2499319, 4501553, 8139197, 14745753};
static const uint64_t add_counts[32] = {
    1,    1,    1,    1,     1,     1,     1,     1,      1,      1,      1,
    1,    1,    1,    9,     13,    31,    51,    117,    225,    413,    863,
    1743, 3585, 7163, 14169, 28721, 57699, 114843, 231873, 461625, 923487};

/* The fit reproduces science.md's published dimensions from its counts:
 * multiplicative 0.8279 +- 0.0113 (4..20), 0.8344 +- 0.0062 (4..26),
 * 0.8375 +- 0.0042 (4..31); additive 0.954 +- 0.031 (14..20),
 * 0.988 +- 0.009 (14..26), 0.9956 +- 0.0050 (14..31). */
START_TEST(fit_science_numbers)
{
    static const struct {
        const uint64_t *c;
        int lo, hi;
        double d, se, tol;
    } cases[] = {
        {mult_counts, 4, 20, 0.8279, 0.0113, 1e-4},  {mult_counts, 4, 26, 0.8344, 0.0062, 1e-4},
        {mult_counts, 4, 31, 0.8375, 0.0042, 1e-4},  {add_counts, 14, 20, 0.954, 0.031, 1e-3},
        {add_counts, 14, 26, 0.988, 0.009, 1e-3},    {add_counts, 14, 31, 0.9956, 0.0050, 1e-4},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tb_fit_opts o = {cases[i].lo, cases[i].hi, 3};
        struct tb_fit f;
        ck_assert_int_eq(tb_fit_dimension(cases[i].c, 31, &o, &f), TB_OK);
        ck_assert_int_eq(f.fractal, 1);
        ck_assert_int_eq(f.levels_used, cases[i].hi - cases[i].lo + 1);
        ck_assert_msg(fabs(f.value - cases[i].d) <= cases[i].tol &&
                          fabs(f.se - cases[i].se) <= cases[i].tol,
                      "case %zu: D = %.5f +- %.5f, science.md %.4f +- %.4f", i, f.value, f.se,
                      cases[i].d, cases[i].se);
        check_fit(cases[i].c, 31, cases[i].lo, cases[i].hi, 3);
    }
    /* the additive window 0..31: levels 0..13 have B = 1 and are skipped */
    {
        struct tb_fit_opts o = {0, 31, 3};
        struct tb_fit f;
        ck_assert_int_eq(tb_fit_dimension(add_counts, 31, &o, &f), TB_OK);
        ck_assert_int_eq(f.levels_used, 18);
        ck_assert_int_eq(f.first_used, 14);
        ck_assert_int_eq(f.last_used, 31);
        ck_assert_double_eq_tol(f.value, 0.9956, 1e-4);
    }
}
END_TEST

/* Random count vectors (with 0s and 1s sprinkled in) and random windows. */
START_TEST(fit_random_vs_hand)
{
    int trial;

    for (trial = 0; trial < 5000; trial++) {
        uint64_t c[TB_MAX_LEVELS + 1];
        int levels = (int)(rng_next() % 33), n, lo, hi;
        double slope = (double)(rng_next() % 2000) / 1000.0;
        for (n = 0; n <= levels; n++) {
            uint64_t r = rng_next() % 10;
            if (r == 0)
                c[n] = 0;
            else if (r == 1)
                c[n] = 1;
            else
                c[n] = 2 + (uint64_t)(exp2(slope * n) * (0.5 + (double)(rng_next() % 1000) / 1000));
        }
        lo = (int)(rng_next() % (unsigned)(levels + 1));
        hi = lo + (int)(rng_next() % (unsigned)(levels - lo + 1));
        check_fit(c, levels, lo, hi, 3 + (int)(rng_next() % 3));
    }
}
END_TEST

/* B(n) = 2^n exactly: slope 1, intercept 0, se 0, r2 1. */
START_TEST(fit_exact_power_law)
{
    uint64_t c[21];
    struct tb_fit_opts o = {2, 20, 3};
    struct tb_fit f;
    int n;

    for (n = 0; n <= 20; n++)
        c[n] = (uint64_t)1 << n;
    ck_assert_int_eq(tb_fit_dimension(c, 20, &o, &f), TB_OK);
    ck_assert_int_eq(f.fractal, 1);
    ck_assert_double_eq_tol(f.value, 1.0, 1e-13);
    ck_assert_double_eq_tol(f.intercept, 0.0, 1e-12);
    ck_assert_double_eq_tol(f.se, 0.0, 1e-12);
    ck_assert_double_eq_tol(f.r2, 1.0, 1e-12);
    ck_assert_int_eq(f.levels_used, 19);
    ck_assert_int_eq(f.first_used, 2);
    ck_assert_int_eq(f.last_used, 20);
    /* level 0 has B = 1: skipped even when the window starts there */
    o.min_level = 0;
    ck_assert_int_eq(tb_fit_dimension(c, 20, &o, &f), TB_OK);
    ck_assert_int_eq(f.levels_used, 20);
    ck_assert_int_eq(f.first_used, 1);
}
END_TEST

START_TEST(fit_window_handling)
{
    /* usable (B > 1) at levels 3, 5, 6, 9 only */
    uint64_t c[11] = {0, 1, 1, 4, 1, 9, 20, 0, 1, 70, 1};
    struct tb_fit_opts o = {0, 10, 3};
    struct tb_fit f;

    ck_assert_int_eq(tb_fit_dimension(c, 10, &o, &f), TB_OK);
    ck_assert_int_eq(f.levels_used, 4);
    ck_assert_int_eq(f.first_used, 3);
    ck_assert_int_eq(f.last_used, 9);
    ck_assert_int_eq(f.fractal, 1);
    check_fit(c, 10, 0, 10, 3);

    /* min_levels 5 > 4 usable: not fractal, D = 0, window still reported */
    o.min_levels = 5;
    ck_assert_int_eq(tb_fit_dimension(c, 10, &o, &f), TB_OK);
    ck_assert_int_eq(f.fractal, 0);
    ck_assert(f.value == 0.0 && f.se == 0.0 && f.r2 == 0.0);
    ck_assert_int_eq(f.levels_used, 4);
    ck_assert_int_eq(f.min_level, 0);
    ck_assert_int_eq(f.max_level, 10);

    /* window [6, 10]: levels 6 and 9 only -> 2 < 3: not fractal */
    o.min_levels = 3;
    o.min_level = 6;
    ck_assert_int_eq(tb_fit_dimension(c, 10, &o, &f), TB_OK);
    ck_assert_int_eq(f.fractal, 0);
    ck_assert_int_eq(f.levels_used, 2);
    ck_assert_int_eq(f.first_used, 6);
    ck_assert_int_eq(f.last_used, 9);

    /* a window with nothing usable */
    o.min_level = 7;
    o.max_level = 8;
    ck_assert_int_eq(tb_fit_dimension(c, 10, &o, &f), TB_OK);
    ck_assert_int_eq(f.fractal, 0);
    ck_assert_int_eq(f.levels_used, 0);
    ck_assert_int_eq(f.first_used, -1);
    ck_assert_int_eq(f.last_used, -1);

    /* a one-level window */
    o.min_level = o.max_level = 5;
    ck_assert_int_eq(tb_fit_dimension(c, 10, &o, &f), TB_OK);
    ck_assert_int_eq(f.fractal, 0);
    ck_assert_int_eq(f.levels_used, 1);

    /* constant B > 1: slope 0, se 0 */
    {
        uint64_t k[6] = {7, 7, 7, 7, 7, 7};
        struct tb_fit_opts ko = {0, 5, 3};
        ck_assert_int_eq(tb_fit_dimension(k, 5, &ko, &f), TB_OK);
        ck_assert_int_eq(f.fractal, 1);
        ck_assert(fabs(f.value) < 1e-15 && fabs(f.se) < 1e-15);
    }
}
END_TEST

START_TEST(fit_invalid)
{
    uint64_t c[11] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    struct tb_fit f;
    struct tb_fit_opts o;

#define BAD(lo, hi, ml, lev)                                                                      \
    do {                                                                                          \
        o.min_level = (lo);                                                                       \
        o.max_level = (hi);                                                                       \
        o.min_levels = (ml);                                                                      \
        ck_assert_msg(tb_fit_dimension(c, (lev), &o, &f) == TB_EINVAL,                            \
                      "accepted window [%d,%d] min %d levels %d", lo, hi, ml, lev);               \
    } while (0)
    BAD(-1, 10, 3, 10);
    BAD(0, 11, 3, 10);  /* past the last level */
    BAD(6, 5, 3, 10);   /* min > max */
    BAD(0, 10, 2, 10);  /* min_levels < 3 */
    BAD(0, 10, 0, 10);
    BAD(0, 10, 3, -1);
    BAD(0, 10, 3, TB_MAX_LEVELS + 1);
#undef BAD
    o.min_level = 0;
    o.max_level = 10;
    o.min_levels = 3;
    ck_assert_int_eq(tb_fit_dimension(NULL, 10, &o, &f), TB_EINVAL);
    ck_assert_int_eq(tb_fit_dimension(c, 10, NULL, &f), TB_EINVAL);
    ck_assert_int_eq(tb_fit_dimension(c, 10, &o, NULL), TB_EINVAL);
    ck_assert_int_eq(tb_fit_dimension(c, 10, &o, &f), TB_OK);
}
END_TEST

/* ---- flips, first set, popcount ------------------------------------------- */

static const uint64_t sizes[] = {0, 1, 2, 3, 63, 64, 65, 66, 127, 128, 129, 1000, 4097, 65537};

static uint64_t naive_flips(const uint64_t *b, uint64_t n, uint64_t *out)
{
    uint64_t j, k = 0;

    for (j = 0; j + 1 < n; j++)
        if (tb_label_get(b, j) != tb_label_get(b, j + 1))
            out[k++] = j;
    return k;
}

START_TEST(flips_paging)
{
    static const size_t caps[] = {1, 3, 64, 100000};
    static const int density[] = {0, 1, 32, 63, 64};
    size_t si, ci, di;

    for (si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (di = 0; di < sizeof density / sizeof density[0]; di++) {
            uint64_t n = sizes[si], *b = random_labels(n, density[di]);
            uint64_t *want = malloc((n + 1) * sizeof *want), *got = malloc((n + 1) * sizeof *got);
            uint64_t nw = naive_flips(b, n, want);
            ck_assert(want && got);
            for (ci = 0; ci < sizeof caps / sizeof caps[0]; ci++) {
                uint64_t pos = 0, total = 0;
                size_t r;
                while ((r = tb_flips_next(b, n, &pos, got + total, caps[ci])) > 0) {
                    ck_assert_uint_le(r, caps[ci]);
                    total += r;
                    ck_assert_uint_le(total, nw);
                }
                ck_assert_msg(total == nw, "n=%llu cap=%zu: %llu flips, naive %llu",
                              (unsigned long long)n, caps[ci], (unsigned long long)total,
                              (unsigned long long)nw);
                ck_assert(nw == 0 || memcmp(got, want, nw * sizeof *got) == 0);
                /* exhausted: stays exhausted */
                ck_assert_uint_eq(tb_flips_next(b, n, &pos, got, caps[ci]), 0);
            }
            /* resuming from an arbitrary position gives the flips >= pos */
            if (n > 10) {
                uint64_t pos = n / 3, k = 0, total = 0, r;
                while (k < nw && want[k] < n / 3)
                    k++;
                while ((r = tb_flips_next(b, n, &pos, got + total, 5)) > 0)
                    total += r;
                ck_assert_uint_eq(total, nw - k);
                ck_assert(total == 0 || memcmp(got, want + k, total * sizeof *got) == 0);
            }
            free(want);
            free(got);
            free(b);
        }
    }
}
END_TEST

START_TEST(first_set_and_popcount)
{
    static const int density[] = {0, 1, 32, 64};
    size_t si, di;

    for (si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (di = 0; di < sizeof density / sizeof density[0]; di++) {
            uint64_t n = sizes[si], *b = random_labels(n, density[di]), j, pop = 0;
            int64_t first = -1;
            for (j = 0; j < n; j++) {
                pop += (uint64_t)tb_label_get(b, j);
                if (first < 0 && tb_label_get(b, j))
                    first = (int64_t)j;
            }
            ck_assert_uint_eq(tb_labels_popcount(b, n), pop);
            ck_assert_int_eq(tb_first_set(b, n), first);
            free(b);
        }
    }
    /* one set bit at each position of a 200-label array */
    {
        uint64_t n = 200, j, *b = tbt_labels_alloc(n);
        for (j = 0; j < n; j++) {
            memset(b, 0, tb_label_words(n) * sizeof *b);
            set_label(b, j, 1);
            ck_assert_int_eq(tb_first_set(b, n), (int64_t)j);
            ck_assert_uint_eq(tb_labels_popcount(b, n), 1);
            ck_assert_int_eq(tb_first_set(b, j), -1); /* not among the first j */
            ck_assert_uint_eq(tb_labels_popcount(b, j), 0);
        }
        free(b);
    }
}
END_TEST

static Suite *analysis_suite(void)
{
    Suite *s = suite_create("core/analysis");
    TCase *tc;

    tc = tcase_create("box_counts");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, box_counts_random, 0, 17);
    tcase_add_test(tc, box_counts_random_k20);
    tcase_add_test(tc, box_counts_patterns);
    tcase_add_test(tc, box_counts_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("fit");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fit_science_numbers);
    tcase_add_test(tc, fit_random_vs_hand);
    tcase_add_test(tc, fit_exact_power_law);
    tcase_add_test(tc, fit_window_handling);
    tcase_add_test(tc, fit_invalid);
    suite_add_tcase(s, tc);

    tc = tcase_create("flips");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, flips_paging);
    tcase_add_test(tc, first_set_and_popcount);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(analysis_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
