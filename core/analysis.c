/*
 * analysis.c - what the labels say: box counts B(n) by subsampling, the OLS
 * box-counting dimension, the flips at the finest level (science.md 3).
 *
 * Owns: tb_box_counts(), tb_fit_dimension(), tb_labels_popcount(),
 * tb_flips_next(), tb_first_set().
 * Threads: pure functions over caller-owned buffers; any thread.
 *
 * Box counts work level by level on packed bits: level n keeps the labels
 * j * 2^(K-n), so level n-1 is the even-indexed bits of level n. Each level
 * is counted with XOR + popcount, then compacted in place. The whole
 * analysis costs about two passes over the label array at K = 32.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tb.h"

/* Number of adjacent pairs (j, j+1), j + 1 < n, whose bits differ. */
static uint64_t count_changes(const uint64_t *w, uint64_t n)
{
    uint64_t words = tb_label_words(n), total = 0, i;

    if (n < 2)
        return 0;
    for (i = 0; i < words; i++) {
        uint64_t next = i + 1 < words ? w[i + 1] : 0;
        uint64_t diff = w[i] ^ ((w[i] >> 1) | (next << 63));
        /* valid pair starts: j = 64 i + b with j <= n - 2 */
        uint64_t last = n - 2;
        if (64 * i > last)
            break;
        if (last - 64 * i < 63)
            diff &= ((uint64_t)1 << (last - 64 * i + 1)) - 1;
        total += (uint64_t)__builtin_popcountll(diff);
    }
    return total;
}

/* The even-indexed bits of x, packed into the low 32 bits. */
static inline uint64_t even_bits(uint64_t x)
{
    x &= 0x5555555555555555ull;
    x = (x | (x >> 1)) & 0x3333333333333333ull;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0Full;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFull;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFull;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFull;
    return x;
}

/* dst[m] = even bits of src over n source bits; dst may equal src. */
static void compact_even(uint64_t *dst, const uint64_t *src, uint64_t n)
{
    uint64_t words = tb_label_words(n), out_words = tb_label_words((n + 1) / 2), m;

    for (m = 0; m < out_words; m++) {
        uint64_t lo = 2 * m < words ? src[2 * m] : 0;
        uint64_t hi = 2 * m + 1 < words ? src[2 * m + 1] : 0;
        dst[m] = even_bits(lo) | (even_bits(hi) << 32);
    }
}

int tb_box_counts(const uint64_t *bits, int levels, uint64_t *counts)
{
    uint64_t n, *buf;
    int lev;

    if (!bits || !counts || levels < 0 || levels > TB_MAX_LEVELS)
        return TB_EINVAL;
    n = ((uint64_t)1 << levels) + 1;
    counts[levels] = count_changes(bits, n);
    if (levels == 0)
        return TB_OK;
    buf = malloc(tb_label_words(n / 2 + 1) * sizeof *buf);
    if (!buf)
        return TB_ENOMEM;
    /* Mask bits past n so compaction never reads stale labels. */
    compact_even(buf, bits, n);
    n = n / 2 + 1;
    if (n & 63)
        buf[n >> 6] &= ((uint64_t)1 << (n & 63)) - 1;
    for (lev = levels - 1;; lev--) {
        counts[lev] = count_changes(buf, n);
        if (lev == 0)
            break;
        compact_even(buf, buf, n);
        n = n / 2 + 1;
    }
    free(buf);
    return TB_OK;
}

int tb_fit_dimension(const uint64_t *counts, int levels, const struct tb_fit_opts *o,
                     struct tb_fit *out)
{
    double sx = 0, sy = 0, xm, ym, sxx = 0, sxy = 0, syy = 0, ssr = 0, b, a;
    int n, m = 0;

    if (!counts || !o || !out || levels < 0 || levels > TB_MAX_LEVELS)
        return TB_EINVAL;
    if (o->min_level < 0 || o->max_level > levels || o->min_level > o->max_level ||
        o->min_levels < 3)
        return TB_EINVAL;
    memset(out, 0, sizeof *out);
    out->min_level = o->min_level;
    out->max_level = o->max_level;
    out->first_used = out->last_used = -1;

    for (n = o->min_level; n <= o->max_level; n++) {
        if (counts[n] > 1) {
            sx += n;
            sy += log2((double)counts[n]);
            if (out->first_used < 0)
                out->first_used = n;
            out->last_used = n;
            m++;
        }
    }
    out->levels_used = m;
    if (m < o->min_levels)
        return TB_OK; /* not fractal: D = 0 */

    xm = sx / m;
    ym = sy / m;
    for (n = o->min_level; n <= o->max_level; n++) {
        if (counts[n] > 1) {
            double dx = n - xm, dy = log2((double)counts[n]) - ym;
            sxx += dx * dx;
            sxy += dx * dy;
            syy += dy * dy;
        }
    }
    b = sxy / sxx;
    a = ym - b * xm;
    for (n = o->min_level; n <= o->max_level; n++) {
        if (counts[n] > 1) {
            double e = log2((double)counts[n]) - (a + b * n);
            ssr += e * e;
        }
    }
    out->value = b;
    out->intercept = a;
    /* se = sqrt(SSR/(M-2) * [(X^T X)^-1]_slope) and that entry is 1/Sxx. */
    out->se = sqrt(ssr / (m - 2) / sxx);
    out->r2 = syy > 0 ? 1.0 - ssr / syy : 1.0;
    out->fractal = 1;
    return TB_OK;
}

uint64_t tb_labels_popcount(const uint64_t *bits, uint64_t n)
{
    uint64_t full = n >> 6, i, total = 0;

    for (i = 0; i < full; i++)
        total += (uint64_t)__builtin_popcountll(bits[i]);
    if (n & 63)
        total += (uint64_t)__builtin_popcountll(bits[full] & (((uint64_t)1 << (n & 63)) - 1));
    return total;
}

size_t tb_flips_next(const uint64_t *bits, uint64_t n, uint64_t *pos, uint64_t *out, size_t cap)
{
    size_t got = 0;
    uint64_t j = *pos;

    if (n < 2)
        return 0;
    while (got < cap && j < n - 1) {
        uint64_t i = j >> 6, words = tb_label_words(n);
        uint64_t next = i + 1 < words ? bits[i + 1] : 0;
        uint64_t diff = bits[i] ^ ((bits[i] >> 1) | (next << 63));
        diff &= ~(uint64_t)0 << (j & 63); /* from j on */
        while (diff && got < cap) {
            uint64_t k = 64 * i + (uint64_t)__builtin_ctzll(diff);
            if (k >= n - 1) {
                j = n - 1;
                break;
            }
            out[got++] = k;
            j = k + 1;
            diff &= diff - 1;
        }
        if (!diff && j < 64 * (i + 1))
            j = 64 * (i + 1);
    }
    *pos = j;
    return got;
}

int64_t tb_first_set(const uint64_t *bits, uint64_t n)
{
    uint64_t words = tb_label_words(n), i;

    for (i = 0; i < words; i++) {
        if (bits[i]) {
            uint64_t k = 64 * i + (uint64_t)__builtin_ctzll(bits[i]);
            return k < n ? (int64_t)k : -1;
        }
    }
    return -1;
}
