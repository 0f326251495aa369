/*
 * pngenc.h - PNG encoding of an 8-bit RGB image into memory (libpng), for the
 * boundary strip (GET /v1/jobs/{id}/boundary.png) and other pictures
 * (a study's heat map). Also the boundary strip's drawing.
 *
 * Threads: any thread; no shared state. Errors: 0 or -1 (bad size, libpng
 * error, ENOMEM). Buffers are owned by the caller.
 */
#ifndef TB_PNGENC_H
#define TB_PNGENC_H

#include <stddef.h>
#include <stdint.h>

#define PNG_MAX_SIDE 16384

/* Encodes width x height pixels of rgb (3 bytes each, rows top to bottom,
 * no padding) as a PNG: *out (malloc'd, *len bytes) on success. */
int png_encode_rgb(const unsigned char *rgb, int width, int height, unsigned char **out,
                   size_t *len);

/*
 * Draws the label strip of `points` packed labels (bit i = point i is
 * divergent) into a width x height RGB image (caller buffer of
 * 3 * width * height bytes): column x covers points
 * [x * points / width, (x + 1) * points / width). The top rows are
 * blue where every label of the column is bounded, red where every one is
 * divergent and purple-ish by the divergent fraction otherwise; the bottom
 * quarter marks in black the columns that hold a flip (a label change,
 * including one at the column's left edge). 0 or -1.
 */
int png_draw_strip(const uint64_t *bits, uint64_t points, int width, int height,
                   unsigned char *rgb);

/*
 * Draws a heat map of rows x cols values v (row-major; NaN = no value,
 * drawn grey) into an RGB image of (cols * cell) x (rows * cell) pixels
 * (caller buffer). Colour runs from dark purple at 0 to yellow at vmax
 * (vmax <= 0: all dark). Cells with mark[i] != 0 get a white frame (the
 * convex cells, theta <= theta_c, in a study's map). 0 or -1.
 */
int png_draw_heatmap(const double *v, const unsigned char *mark, int rows, int cols, int cell,
                     double vmax, unsigned char *rgb);

#endif /* TB_PNGENC_H */
