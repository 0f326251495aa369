/*
 * sha256.h - SHA-256 (FIPS 180-4), used to fingerprint the canonical spec
 * of a submit for Idempotency-Key matching.
 *
 * Threads: any thread; no state.
 */
#ifndef TB_SHA256_H
#define TB_SHA256_H

#include <stddef.h>

#define SHA256_HEX_LEN 65 /* 64 hex digits + NUL */

/* Writes the digest of n bytes of data (borrowed) as lowercase hex into
 * hex (SHA256_HEX_LEN bytes, caller-owned). */
void sha256_hex(const void *data, size_t n, char *hex);

#endif /* TB_SHA256_H */
