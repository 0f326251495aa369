/*
 * cors.c - CORS allow-list matching and headers (cors.h).
 *
 * Threads: any thread; no state.
 */
#include "cors.h"

#include <string.h>

int cors_allowed(const char *list, const char *origin)
{
    const char *p = list;
    size_t olen;

    if (!list || !*list || !origin || !*origin)
        return 0;
    olen = strlen(origin);
    while (*p) {
        const char *end;
        size_t n;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        end = p + strcspn(p, ",");
        n = (size_t)(end - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if ((n == 1 && p[0] == '*') || (n == olen && memcmp(p, origin, n) == 0))
            return 1;
        p = end;
    }
    return 0;
}

void cors_headers(const char *list, const char *origin, struct http_response *resp)
{
    if (!list || !*list)
        return;
    http_response_header(resp, "Vary", "Origin");
    if (!cors_allowed(list, origin))
        return;
    http_response_header(resp, "Access-Control-Allow-Origin", origin);
    http_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
}

void cors_preflight(const char *list, const char *origin, const char *allow,
                    struct http_response *resp)
{
    if (!cors_allowed(list, origin))
        return;
    http_response_header(resp, "Access-Control-Allow-Methods", allow);
    http_response_header(resp, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
    http_response_header(resp, "Access-Control-Max-Age", CORS_MAX_AGE);
}
