/*
 * utf8.c - UTF-8 validation and repair for request text (utf8.h).
 * Accepts exactly RFC 3629 UTF-8: no overlong forms, no surrogates, no
 * code points above U+10FFFF.
 *
 * Threads: any thread; no state.
 */
#include "utf8.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len, i;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

char *utf8_sanitize(const char *in, char *out, size_t outlen)
{
    const unsigned char *s = (const unsigned char *)(in ? in : "");
    size_t n = 0, o = 0, len;

    while (s[n])
        n++;
    while (*s && o + 1 < outlen) {
        len = seq_len(s, n);
        if (len == 0 || (len == 1 && (*s < 0x20 || *s == 0x7f))) {
            out[o++] = '?';
            s++;
            n--;
            continue;
        }
        if (o + len >= outlen)
            break;
        while (len--) {
            out[o++] = (char)*s++;
            n--;
        }
    }
    out[o] = '\0';
    return out;
}
