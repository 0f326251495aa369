/*
 * npy.c - NumPy .npy format 1.0 encoding (see npy.h).
 *
 * Format: the magic "\x93NUMPY", version bytes 1 0, a little-endian uint16
 * header length, then an ASCII Python dict literal padded with spaces and
 * ending in '\n' so that magic + length + dict is a multiple of 64 bytes.
 * Threads: pure; any thread.
 */
#include <stdio.h>
#include <string.h>

#include "npy.h"

int npy_header(char *buf, size_t cap, const char *descr, uint64_t n, size_t *len)
{
    char dict[96];
    int dlen;
    size_t total, pad;

    if (!buf || !descr || !len)
        return -1;
    dlen = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%llu,), }",
                    descr, (unsigned long long)n);
    if (dlen < 0 || (size_t)dlen >= sizeof dict)
        return -1;
    total = 10 + (size_t)dlen + 1; /* preamble + dict + '\n' */
    pad = (64 - total % 64) % 64;
    total += pad;
    if (total > cap || total > NPY_HEADER_MAX)
        return -1;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)((total - 10) & 0xff);
    buf[9] = (char)(((total - 10) >> 8) & 0xff);
    memcpy(buf + 10, dict, (size_t)dlen);
    memset(buf + 10 + dlen, ' ', pad);
    buf[total - 1] = '\n';
    *len = total;
    return 0;
}

void npy_unpack_bits(const uint64_t *bits, uint64_t first, size_t count, unsigned char *out)
{
    size_t i;

    for (i = 0; i < count; i++) {
        uint64_t j = first + i;
        out[i] = (unsigned char)((bits[j >> 6] >> (j & 63)) & 1u);
    }
}

void npy_put_u64le(const uint64_t *v, size_t n, unsigned char *out)
{
    size_t i;
    int b;

    for (i = 0; i < n; i++)
        for (b = 0; b < 8; b++)
            out[8 * i + (size_t)b] = (unsigned char)(v[i] >> (8 * b));
}
