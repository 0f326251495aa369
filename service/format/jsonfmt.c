/*
 * jsonfmt.c - shortest round-trip real numbers in JSON text (jsonfmt.h).
 *
 * jansson 2.14 prints reals with "%.17g", which is lossless but shows
 * representation noise (0.10000000000000001). This pass finds each real
 * token outside strings and replaces it with the shortest of "%.1g" ..
 * "%.17g" that strtod() maps to the same double (found by bisection):
 * still lossless, and what a researcher typed comes back as typed.
 * Integers are left alone.
 * Threads: reentrant; any thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonfmt.h"

/* Writes the shortest exact form of v (finite) to out (>= 32 bytes); with
 * as_real, a '.0' is added where it would read as an integer. */
static size_t shortest(double v, char *out, int as_real)
{
    char buf[40], *e;
    int p;
    size_t n, k;

    int lo = 1, hi = 17;

    /* If p digits read back exactly, so do p + 1: search for the least. */
    while (lo < hi) {
        p = lo + (hi - lo) / 2;
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            hi = p;
        else
            lo = p + 1;
    }
    snprintf(buf, sizeof buf, "%.*g", lo, v);
    /* jansson's style: "1e8" (no '+', no leading exponent zeros), and a real
     * always shows a '.' or an exponent */
    n = 0;
    e = strchr(buf, 'e');
    if (e) {
        memcpy(out, buf, (size_t)(e - buf));
        n = (size_t)(e - buf);
        out[n++] = 'e';
        e++;
        if (*e == '+')
            e++;
        else if (*e == '-')
            out[n++] = *e++;
        while (*e == '0' && e[1])
            e++;
        k = strlen(e);
        memcpy(out + n, e, k);
        n += k;
    } else {
        n = strlen(buf);
        memcpy(out, buf, n);
        if (as_real && !strchr(buf, '.')) {
            out[n++] = '.';
            out[n++] = '0';
        }
    }
    out[n] = '\0';
    return n;
}

void jsonfmt_shorten(char *text)
{
    char *r = text, *w = text;
    int in_str = 0;

    if (!text)
        return;
    while (*r) {
        if (in_str) {
            if (*r == '\\' && r[1]) {
                *w++ = *r++;
            } else if (*r == '"') {
                in_str = 0;
            }
            *w++ = *r++;
        } else if (*r == '"') {
            in_str = 1;
            *w++ = *r++;
        } else if (*r == '-' || (*r >= '0' && *r <= '9')) {
            size_t len = strspn(r, "0123456789+-.eE");
            if (memchr(r, '.', len) || memchr(r, 'e', len) || memchr(r, 'E', len)) {
                char tok[64], out[40];
                size_t n;
                if (len < sizeof tok) {
                    memcpy(tok, r, len);
                    tok[len] = '\0';
                    n = shortest(strtod(tok, NULL), out, 1);
                    if (n <= len) {
                        memcpy(w, out, n);
                        w += n;
                        r += len;
                        continue;
                    }
                }
            }
            memmove(w, r, len);
            w += len;
            r += len;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

size_t jsonfmt_number(double v, char *out)
{
    return shortest(v, out, 0);
}

char *jsonfmt_dumps(const json_t *v, size_t flags)
{
    char *text = json_dumps(v, flags);

    jsonfmt_shorten(text);
    return text;
}
