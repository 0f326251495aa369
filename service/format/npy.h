/*
 * npy.h - NumPy .npy (format 1.0) encoding of 1-D arrays: labels as bool
 * and counts as little-endian uint64, so that `numpy.load` reads what the
 * CLI writes and the server sends.
 *
 * Threads: pure functions; any thread. Errors: 0 or -1 (buffer too small
 * or bad arguments). Buffers are owned by the caller.
 */
#ifndef TB_NPY_H
#define TB_NPY_H

#include <stddef.h>
#include <stdint.h>

#define NPY_HEADER_MAX 128 /* our headers are always 64 or 128 bytes */

/* Writes the .npy preamble for a 1-D array of n items of dtype descr
 * ("|b1" for bool, "<u8" for uint64) to buf; *len gets its size, a multiple
 * of 64. The data follows it directly. */
int npy_header(char *buf, size_t cap, const char *descr, uint64_t n, size_t *len);

/* Expands count packed labels starting at bit `first` of bits into one byte
 * per label (0 or 1) in out (count bytes). */
void npy_unpack_bits(const uint64_t *bits, uint64_t first, size_t count, unsigned char *out);

/* Writes n uint64 values little-endian to out (8 * n bytes). */
void npy_put_u64le(const uint64_t *v, size_t n, unsigned char *out);

#endif
