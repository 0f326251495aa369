/*
 * router.h - the route table of the REST API and the pure parsing of what
 * a request carries (path ids, query integers, media types, Accept,
 * If-None-Match, cursors). Nothing here touches MHD, SQLite or the pool,
 * so it is unit-tested and fuzzed on its own.
 *
 * Threads: any thread; no state.
 */
#ifndef TB_ROUTER_H
#define TB_ROUTER_H

#include <stddef.h>
#include <stdint.h>

enum route_id {
    ROUTE_NONE = 0,
    ROUTE_HEALTHZ,       /* GET /healthz, /livez */
    ROUTE_READYZ,        /* GET /readyz */
    ROUTE_OPENAPI,       /* GET /openapi.yaml */
    ROUTE_JOBS,          /* GET, POST /v1/jobs */
    ROUTE_JOB,           /* GET, DELETE /v1/jobs/{id} */
    ROUTE_JOB_RESULT,    /* GET /v1/jobs/{id}/result */
    ROUTE_JOB_DIMENSION, /* GET /v1/jobs/{id}/dimension */
    ROUTE_JOB_BOUNDARY,  /* GET /v1/jobs/{id}/boundary */
    ROUTE_JOB_CANCEL,    /* POST /v1/jobs/{id}/cancel */
    ROUTE_JOB_EVENTS,    /* GET /v1/jobs/{id}/events (text/event-stream) */
    ROUTE_METRICS,       /* GET /metrics */
    ROUTE_OPENAPI_JSON,  /* GET /openapi.json */
    ROUTE_WEB,           /* GET /, /web/... : the dashboard's embedded files */
    ROUTE_JOB_CELLS,     /* GET /v1/jobs/{id}/cells: a study's rows (issue 4) */
};

enum router_status {
    ROUTER_OK = 0,
    ROUTER_ENOTFOUND = -1, /* no route: 404 */
    ROUTER_EMETHOD = -2,   /* route exists, method not allowed: 405 + Allow */
    ROUTER_EBADID = -3,    /* route exists, the {id} is not a positive decimal: 400 */
    ROUTER_EIDRANGE = -4,  /* route exists, the {id} is digits over 2^53: no such job, 404 */
};

struct route_match {
    enum route_id id;
    const char *name;  /* route template for logs, e.g. "/v1/jobs/{id}" (static) */
    const char *allow; /* the Allow header value of the route (static) */
    int64_t job_id;    /* the {id}, when the route has one */
    int has_body;      /* 1 when the method takes a JSON body (POST /v1/jobs) */
};

/*
 * Matches method and path (no query string; borrowed). Routes with {id}
 * need a decimal id in 1..2^53. When the rest of the path names a route
 * but the id segment is not such an id, m is filled (id 0) and the answer
 * is ROUTER_EBADID (not a positive integer: sign, leading zero, "0",
 * non-digits) or ROUTER_EIDRANGE (digits over 2^53, so no job has it);
 * ROUTER_EMETHOD still wins, and OPTIONS is ROUTER_OK. An empty id
 * segment, or an unknown rest, is ROUTER_ENOTFOUND.
 * HEAD is accepted wherever GET is; OPTIONS matches every route (the
 * caller answers 204 with Allow). A trailing slash is not stripped.
 */
int router_match(const char *method, const char *path, struct route_match *m);

/* Parses a job id: 1..2^53, decimal digits only, no sign, no leading
 * zero, n bytes of s. 0 or -1. */
int router_parse_id(const char *s, size_t n, int64_t *id);

/* As router_parse_id, but tells the failures apart: -1 malformed (empty,
 * not all digits, leading zero, "0"), -2 well-formed but over 2^53. */
int router_check_id(const char *s, size_t n, int64_t *id);

/* Parses a whole decimal integer in [min, max] (no sign for >= 0 ranges,
 * no spaces). 0 or -1. NULL and "" are -1. */
int router_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* Parses "true"/"false"/"1"/"0". 0 or -1. */
int router_parse_bool(const char *s, int *out);

/* 1 if a Content-Type value (may be NULL) is JSON: application/json or
 * any application/...+json, with parameters ignored except that a charset
 * must be utf-8. 0 otherwise. */
int router_is_json_type(const char *content_type);

/* 1 if an Accept value (may be NULL) lists media type `type` explicitly
 * (exact type, q > 0), else 0. Wildcards do not count. */
int router_accepts(const char *accept, const char *type);

/* Content negotiation (RFC 9110 12.5.1): the index of the offered media
 * type (offered[0] is the default) that an Accept value prefers: the
 * highest q of the most specific range matching each type, ties to the
 * lower index. 0 when Accept is NULL or empty (so also for the full
 * wildcard and, when offered[0] is application/..., for application/x);
 * -1 when no offered type is acceptable (answer 406). Parameters other
 * than q are ignored. */
int router_negotiate(const char *accept, const char *const *offered, size_t n);

/* 1 if an If-None-Match value (may be NULL) matches etag by the weak
 * comparison of RFC 9110 (W/ prefixes ignored) or is "*". */
int router_etag_match(const char *if_none_match, const char *etag);

/* The opaque list cursor for "jobs with id < next": writes a NUL-
 * terminated string into out (ROUTER_CURSOR_LEN bytes). Decoding
 * rejects anything this did not produce: 0 or -1. */
#define ROUTER_CURSOR_LEN 40
void router_cursor_encode(int64_t next, char *out);
int router_cursor_decode(const char *s, int64_t *next);

#endif /* TB_ROUTER_H */
