/*
 * pngenc.c - in-memory PNG writer and the boundary strip picture (pngenc.h).
 * (Not png.c: -Iservice would make <png.h> find our header.)
 *
 * Owns: nothing past a call. libpng reports errors by longjmp() to the
 * setjmp() in png_encode_rgb(); the output buffer is grown in the write
 * callback and released on that path.
 *
 * Threads: any thread (libpng structs are per call).
 */
#include "pngenc.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

struct membuf {
    unsigned char *p;
    size_t len, cap;
    int failed;
};

static void mem_write(png_structp png, png_bytep data, png_size_t n)
{
    struct membuf *m = png_get_io_ptr(png);

    if (m->failed)
        return;
    if (m->len + n > m->cap) {
        size_t want = m->cap ? m->cap * 2 : 4096;
        unsigned char *q;
        while (want < m->len + n)
            want *= 2;
        q = realloc(m->p, want);
        if (!q) {
            m->failed = 1;
            png_error(png, "out of memory");
        }
        m->p = q;
        m->cap = want;
    }
    memcpy(m->p + m->len, data, n);
    m->len += n;
}

static void mem_flush(png_structp png)
{
    (void)png;
}

int png_encode_rgb(const unsigned char *rgb, int width, int height, unsigned char **out,
                   size_t *len)
{
    /* volatile: modified between setjmp() and a possible longjmp(). */
    struct membuf *volatile m = NULL;
    png_structp png;
    png_infop info = NULL;
    int y;

    if (!rgb || width < 1 || height < 1 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE)
        return -1;
    m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (png)
        info = png_create_info_struct(png);
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        free(m);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(m->p);
        free(m);
        return -1;
    }
    png_set_write_fn(png, m, mem_write, mem_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)width * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = m->p;
    *len = m->len;
    free(m);
    return 0;
}

static int bit(const uint64_t *bits, uint64_t i)
{
    return (int)((bits[i >> 6] >> (i & 63)) & 1);
}

int png_draw_strip(const uint64_t *bits, uint64_t points, int width, int height, unsigned char *rgb)
{
    static const unsigned char bounded[3] = {0x3b, 0x6e, 0xc4}, divergent[3] = {0xd6, 0x3b, 0x3b},
                               flip[3] = {0x10, 0x10, 0x10}, blank[3] = {0xf4, 0xf4, 0xf4};
    const int mark_rows = height >= 4 ? height / 4 : 0;
    int x, y, k;

    if (!bits || points == 0 || width < 1 || height < 1 || (uint64_t)width > points)
        return -1;
    for (x = 0; x < width; x++) {
        uint64_t lo = (uint64_t)x * points / (uint64_t)width;
        uint64_t hi = (uint64_t)(x + 1) * points / (uint64_t)width, i, ndiv = 0;
        int has_flip = lo > 0 && bit(bits, lo - 1) != bit(bits, lo);
        unsigned char c[3];
        double f;

        for (i = lo; i < hi; i++) {
            int b = bit(bits, i);
            ndiv += (uint64_t)b;
            if (i > lo && b != bit(bits, i - 1))
                has_flip = 1;
        }
        f = (double)ndiv / (double)(hi - lo);
        for (k = 0; k < 3; k++)
            c[k] = (unsigned char)((1 - f) * bounded[k] + f * divergent[k] + 0.5);
        for (y = 0; y < height; y++) {
            const unsigned char *px = y < height - mark_rows ? c : has_flip ? flip : blank;
            memcpy(rgb + ((size_t)y * (size_t)width + (size_t)x) * 3, px, 3);
        }
    }
    return 0;
}

/* A viridis-like ramp through five anchors, t in [0, 1]. */
static void ramp(double t, unsigned char *px)
{
    static const unsigned char anchors[5][3] = {
        {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    double x = (t < 0 ? 0 : t > 1 ? 1 : t) * 4.0;
    int k = x >= 4.0 ? 3 : (int)x, c;
    double f = x - k;

    for (c = 0; c < 3; c++)
        px[c] = (unsigned char)(anchors[k][c] + f * (anchors[k + 1][c] - anchors[k][c]) + 0.5);
}

int png_draw_heatmap(const double *v, const unsigned char *mark, int rows, int cols, int cell,
                     double vmax, unsigned char *rgb)
{
    int r, c, y, x, w;

    if (!v || !rgb || rows < 1 || cols < 1 || cell < 1 || cols * cell > PNG_MAX_SIDE ||
        rows * cell > PNG_MAX_SIDE)
        return -1;
    w = cols * cell;
    for (r = 0; r < rows; r++) {
        for (c = 0; c < cols; c++) {
            double val = v[r * cols + c];
            unsigned char px[3];
            int framed = mark && mark[r * cols + c] && cell >= 3;

            if (val != val)
                px[0] = px[1] = px[2] = 128;
            else
                ramp(vmax > 0 ? val / vmax : 0.0, px);
            for (y = 0; y < cell; y++) {
                for (x = 0; x < cell; x++) {
                    unsigned char *p = rgb + 3 * ((size_t)(r * cell + y) * w + c * cell + x);
                    int edge = y == 0 || x == 0 || y == cell - 1 || x == cell - 1;
                    if (framed && edge) {
                        p[0] = p[1] = p[2] = 255;
                    } else {
                        p[0] = px[0];
                        p[1] = px[1];
                        p[2] = px[2];
                    }
                }
            }
        }
    }
    return 0;
}
