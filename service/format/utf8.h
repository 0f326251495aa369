/*
 * utf8.h - makes text from a request safe to put in JSON: jansson refuses
 * strings that are not valid UTF-8, and a problem body or a log line must
 * never be lost because a client sent a stray byte.
 *
 * Threads: any thread; no state.
 */
#ifndef TB_UTF8_H
#define TB_UTF8_H

#include <stddef.h>

/*
 * Copies at most outlen - 1 bytes of in (may be NULL: "") into out
 * (caller-owned, outlen >= 1), NUL-terminated, replacing every byte that
 * is not part of a valid UTF-8 sequence, and every control character,
 * with '?'. A multi-byte character that would not fit is dropped whole.
 * Returns out.
 */
char *utf8_sanitize(const char *in, char *out, size_t outlen);

#endif /* TB_UTF8_H */
