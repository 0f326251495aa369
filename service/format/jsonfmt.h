/*
 * jsonfmt.h - JSON text with the shortest real numbers that read back
 * exactly: 0.2 rather than jansson 2.14's 0.20000000000000001. Every
 * document the CLI prints and the server sends goes through here.
 *
 * Threads: reentrant; any thread. Ownership: the returned text is the
 * caller's (free()); input values are borrowed.
 */
#ifndef TB_JSONFMT_H
#define TB_JSONFMT_H

#include <stddef.h>

struct json_t;

/* json_dumps(v, flags), then jsonfmt_shorten(). NULL on ENOMEM. */
char *jsonfmt_dumps(const struct json_t *v, size_t flags);

/* Rewrites, in place, every real number outside strings in the JSON text
 * to the shortest form that strtod() reads back as the same double; the
 * text never grows. A real keeps a '.' or an exponent, so it stays a real. */
void jsonfmt_shorten(char *text);

/*
 * Writes the same shortest exact text of a finite v to out (at least
 * JSONFMT_NUMBER_MAX bytes), for other formats (the study CSV), but
 * without the '.0' a JSON real keeps: 0.1, 2, 1e-5. Returns its length.
 */
#define JSONFMT_NUMBER_MAX 40
size_t jsonfmt_number(double v, char *out);

#endif
