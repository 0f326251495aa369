/*
 * boundary.c - loading and encoding a job's whole labels for /boundary
 * (boundary.h). The encodings are the ones routes.c wrote before they
 * moved here, byte for byte.
 *
 * Owns: nothing beyond the struct boundary_work it fills.
 * Threads: whichever thread owns the store it is given (boundary.h).
 */
#include "boundary.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "jsonfmt.h"
#include "pngenc.h"
#include "queue.h"
#include "xalloc.h"

#define STRIP_MAX_WIDTH 4096
#define STRIP_HEIGHT 32

/* The flips [offset, offset + limit) into idx (caller array of limit);
 * returns the count written and sets *more when flips remain after them. */
static size_t flips_page(const uint64_t *bits, uint64_t n, uint64_t offset, size_t limit,
                         uint64_t *idx, int *more)
{
    uint64_t pos = 0, skipped = 0, probe;
    size_t got = 0;

    while (skipped < offset) {
        uint64_t want = offset - skipped;
        size_t k = tb_flips_next(bits, n, &pos, idx, want < limit ? (size_t)want : limit);
        if (k == 0)
            break;
        skipped += k;
    }
    if (skipped < offset) {
        *more = 0;
        return 0;
    }
    while (got < limit) {
        size_t k = tb_flips_next(bits, n, &pos, idx + got, limit - got);
        if (k == 0)
            break;
        got += k;
    }
    *more = tb_flips_next(bits, n, &pos, &probe, 1) > 0;
    return got;
}

/* The packed words, little-endian whatever the host: words * 8 bytes. */
static unsigned char *words_le(const uint64_t *bits, uint64_t words)
{
    unsigned char *out = xmalloc((size_t)words * 8);
    uint64_t i;

    for (i = 0; i < words; i++) {
        int b;
        for (b = 0; b < 8; b++)
            out[i * 8 + (uint64_t)b] = (unsigned char)(bits[i] >> (8 * b));
    }
    return out;
}

/* The page of flips as CSV, "index,lr" rows under a header. */
static void build_csv(struct boundary_work *w)
{
    const double lo = w->spec.axes[0].min, hi = w->spec.axes[0].max;
    const double h = (hi - lo) / (double)((uint64_t)1 << w->spec.axes[0].levels);
    uint64_t *idx = xmalloc(w->limit * sizeof *idx);
    size_t cap, len = 0, i;
    char *csv;

    w->got = flips_page(w->bits, w->points, w->offset, w->limit, idx, &w->more);
    cap = 16 + w->got * 48;
    csv = xmalloc(cap);
    len += (size_t)snprintf(csv, cap, "index,lr\n");
    for (i = 0; i < w->got; i++) {
        char lrs[JSONFMT_NUMBER_MAX];
        jsonfmt_number(lo + ((double)idx[i] + 0.5) * h, lrs);
        len += (size_t)snprintf(csv + len, cap - len, "%" PRIu64 ",%s\n", idx[i], lrs);
    }
    free(idx);
    w->body = csv;
    w->body_len = len;
}

/* The label strip as a PNG of min(points, 4096) x 32 pixels. */
static int build_png(struct boundary_work *w)
{
    int width = w->points < STRIP_MAX_WIDTH ? (int)w->points : STRIP_MAX_WIDTH;
    unsigned char *rgb = xmalloc((size_t)width * STRIP_HEIGHT * 3), *png = NULL;
    size_t len = 0;
    int rc = BOUNDARY_OK;

    if (png_draw_strip(w->bits, w->points, width, STRIP_HEIGHT, rgb) != 0 ||
        png_encode_rgb(rgb, width, STRIP_HEIGHT, &png, &len) != 0)
        rc = BOUNDARY_EPNG;
    free(rgb);
    if (rc == BOUNDARY_OK) {
        w->body = (char *)png;
        w->body_len = len;
    }
    return rc;
}

/* The JSON document: the grid, the totals, the page of flips and, with
 * labels, every label as base64 packed words. */
static int build_json(struct boundary_work *w)
{
    const double lo = w->spec.axes[0].min, hi = w->spec.axes[0].max;
    const int levels = w->spec.axes[0].levels;
    const double h = (hi - lo) / (double)((uint64_t)1 << levels);
    const uint64_t *bits = w->bits;
    const uint64_t points = w->points, words = w->words;
    json_t *doc, *lrs = json_array(), *ids = json_array(), *labels = json_null();
    int64_t first = tb_first_set(bits, points);
    uint64_t total = 0, *idx = xmalloc(w->limit * sizeof *idx);
    size_t i;

    w->got = flips_page(bits, points, w->offset, w->limit, idx, &w->more);
    for (i = 0; i < w->got && lrs && ids; i++) {
        json_array_append_new(lrs, json_real(lo + ((double)idx[i] + 0.5) * h));
        json_array_append_new(ids, json_integer((json_int_t)idx[i]));
    }
    free(idx);
    if (w->with_labels) {
        size_t nbytes = (size_t)words * 8, elen = base64_encoded_len(nbytes, 0);
        unsigned char *raw = words_le(bits, words);
        char *b64 = xmalloc(elen + 1);
        base64_encode(raw, nbytes, 0, b64);
        free(raw);
        labels =
            json_pack("{s:s, s:s, s:I, s:I, s:s}", "encoding", "base64", "format", "uint64-le-lsb0",
                      "points", (json_int_t)points, "words", (json_int_t)words, "data", b64);
        free(b64);
    }
    {
        /* transitions = B(levels): the count of all flips. */
        uint64_t pos = 0, scratch[1024];
        size_t k;
        while ((k = tb_flips_next(bits, points, &pos, scratch, 1024)) > 0)
            total += k;
    }
    /* On failure json_pack has released the "o" values (OOM only). */
    doc =
        lrs && ids && labels
            ? json_pack("{s:I, s:I, s:{s:f, s:f, s:i, s:f}, s:I, s:I, s:o,"
                        " s:{s:I, s:I, s:I, s:o, s:o, s:o}, s:o}",
                        "job", (json_int_t)w->job_id, "points", (json_int_t)points, "lr", "min", lo,
                        "max", hi, "levels", levels, "step", h, "divergent_points",
                        (json_int_t)tb_labels_popcount(bits, points), "transitions",
                        (json_int_t)total, "first_divergent_lr",
                        first < 0 ? json_null() : json_real(tb_grid_lr(&w->spec, (uint64_t)first)),
                        "flips", "offset", (json_int_t)w->offset, "limit", (json_int_t)w->limit,
                        "count", (json_int_t)w->got, "lr", lrs, "index", ids, "next_offset",
                        w->more ? json_integer((json_int_t)(w->offset + w->got)) : json_null(),
                        "labels", labels)
            : NULL;
    w->body = doc ? jsonfmt_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!w->body)
        return BOUNDARY_EENCODE;
    w->body_len = strlen(w->body);
    return BOUNDARY_OK;
}

int boundary_build(struct store *s, struct boundary_work *w)
{
    int rc = BOUNDARY_OK;

    w->points = tb_grid_points(&w->spec);
    w->words = tb_label_words(w->points);
    w->bits = calloc((size_t)w->words, sizeof *w->bits);
    if (!w->bits)
        return BOUNDARY_ENOMEM;
    /* Replicate 0's grid (the spec's own run): the whole job unless it
     * has replicates. */
    w->queue_rc = queue_load_range(s, w->job_id, 0, w->points, w->bits);
    if (w->queue_rc != QUEUE_OK) {
        rc = BOUNDARY_ELOAD;
        goto out;
    }
    switch (w->format) {
    case BOUNDARY_NPY: /* streamed from the bits by boundary_npy_read() */
        npy_header(w->npy_head, sizeof w->npy_head, "|b1", w->points, &w->npy_head_len);
        w->npy_pos = 0;
        return BOUNDARY_OK;
    case BOUNDARY_CSV:
        build_csv(w);
        break;
    case BOUNDARY_PNG:
        rc = build_png(w);
        break;
    case BOUNDARY_WORDS:
        w->body = (char *)words_le(w->bits, w->words);
        w->body_len = (size_t)w->words * 8;
        break;
    case BOUNDARY_JSON:
        rc = build_json(w);
        break;
    }
out:
    free(w->bits);
    w->bits = NULL;
    return rc;
}

/* npy_unpack_bits(), eight labels at a time where the position is on a
 * byte of the packed words: this runs on the loop thread, 2^26 labels
 * for a levels-26 download. */
static void unpack_bits(const uint64_t *bits, uint64_t first, size_t count, unsigned char *out)
{
    size_t i = 0;

    while (i < count && ((first + i) & 7) != 0) {
        npy_unpack_bits(bits, first + i, 1, out + i);
        i++;
    }
    for (; i + 8 <= count; i += 8) {
        const uint64_t j = first + i;
        /* Byte b of the labels' word, each bit k spread to the low bit of
         * byte k: replicate, keep bit k in byte k, carry it to bit 7. */
        const uint64_t b = (bits[j >> 6] >> (j & 63)) & 0xffu;
        uint64_t v = ((((b * UINT64_C(0x0101010101010101)) & UINT64_C(0x8040201008040201)) +
                       UINT64_C(0x7f7f7f7f7f7f7f7f)) >>
                      7) &
                     UINT64_C(0x0101010101010101);
        int k;
        for (k = 0; k < 8; k++)
            out[i + (size_t)k] = (unsigned char)(v >> (8 * k));
    }
    if (i < count)
        npy_unpack_bits(bits, first + i, count - i, out + i);
}

uint64_t boundary_npy_size(const struct boundary_work *w)
{
    return (uint64_t)w->npy_head_len + w->points;
}

size_t boundary_npy_read(struct boundary_work *w, char *buf, size_t max)
{
    size_t n = 0;

    if (w->npy_pos < w->npy_head_len) {
        n = w->npy_head_len - (size_t)w->npy_pos;
        if (n > max)
            n = max;
        memcpy(buf, w->npy_head + w->npy_pos, n);
        w->npy_pos += n;
    }
    if (n < max && w->bits && w->npy_pos < boundary_npy_size(w)) {
        uint64_t first = w->npy_pos - w->npy_head_len, left = w->points - first;
        size_t k = max - n < left ? max - n : (size_t)left;
        unpack_bits(w->bits, first, k, (unsigned char *)buf + n);
        w->npy_pos += k;
        n += k;
    }
    return n;
}

void boundary_work_free(struct boundary_work *w)
{
    free(w->bits);
    free(w->body);
    w->bits = NULL;
    w->body = NULL;
}
