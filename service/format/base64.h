/*
 * base64.h - RFC 4648 base64 (standard alphabet, padded) for label arrays
 * in JSON, and base64url (no padding) for opaque cursors.
 *
 * Threads: any thread; no state. Buffers are owned by the caller.
 */
#ifndef TB_BASE64_H
#define TB_BASE64_H

#include <stddef.h>

/* Characters base64_encode() writes for n bytes, not counting the NUL. */
size_t base64_encoded_len(size_t n, int url);

/* Encodes n bytes of in into out (base64_encoded_len(n, url) + 1 bytes),
 * NUL-terminated. url = 1: base64url without padding. Returns the length. */
size_t base64_encode(const void *in, size_t n, int url, char *out);

/* Decodes a base64url string (no padding, no whitespace) of len chars into
 * out (cap bytes). Returns the byte count, or -1 on a bad character,
 * a bad length or not enough room. */
long base64url_decode(const char *s, size_t len, unsigned char *out, size_t cap);

#endif /* TB_BASE64_H */
