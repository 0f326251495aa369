/*
 * cors.h - the CORS allow-list (--cors-origin): which Origin values are
 * echoed, and the headers of actual and preflight answers. Pure functions
 * over borrowed strings, unit-tested on their own.
 *
 * Threads: any thread; no state.
 */
#ifndef TB_CORS_H
#define TB_CORS_H

#include "http.h"

/* 1 when origin (may be NULL) is in the comma-separated allow-list
 * (may be NULL or ""; "*" allows any origin), else 0. Exact, case-
 * sensitive match after trimming spaces; a trailing "/" is not stripped. */
int cors_allowed(const char *list, const char *origin);

/* Adds Vary: Origin whenever list is set, and for an allowed origin
 * Access-Control-Allow-Origin (the origin echoed) and
 * Access-Control-Expose-Headers: Location, ETag, Retry-After. */
void cors_headers(const char *list, const char *origin, struct http_response *resp);

/* The preflight extras for an allowed origin: Allow-Methods (allow, the
 * route's methods), Allow-Headers, Max-Age. Nothing for another origin. */
void cors_preflight(const char *list, const char *origin, const char *allow,
                    struct http_response *resp);

#define CORS_ALLOW_HEADERS                                                                         \
    "Content-Type, Accept, Authorization, Idempotency-Key, If-None-Match, Last-Event-ID"
#define CORS_EXPOSE_HEADERS "Location, ETag, Retry-After"
#define CORS_MAX_AGE "600"

#endif /* TB_CORS_H */
