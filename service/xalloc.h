/*
 * xalloc.h - allocation wrappers for the server (not the core): the
 * service's OOM policy is to log and abort, so the process restarts and
 * the lease mechanism recovers in-flight tiles (style.md, "OOM policy").
 *
 * Threads: any thread. Results are owned by the caller (free()).
 */
#ifndef TB_XALLOC_H
#define TB_XALLOC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void xalloc_die(size_t n)
{
    fprintf(stderr, "{\"level\":\"error\",\"event\":\"out_of_memory\",\"bytes\":%zu}\n", n);
    abort();
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        xalloc_die(n);
    return p;
}

static inline void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        xalloc_die(n * size);
    return p;
}

static inline void *xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n ? n : 1);
    if (!p)
        xalloc_die(n);
    return p;
}

static inline char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

#endif /* TB_XALLOC_H */
