/*
 * problem.h - RFC 9457 problem details: the body of every error answer
 * (Content-Type: application/problem+json). One table maps each kind of
 * problem to its HTTP status, its `type` URI and its `title`, and another
 * maps queue errors to kinds, so every route answers the same failure the
 * same way.
 *
 * Body: {"type", "title", "status", "detail", "instance"} plus optional
 * extension members (e.g. "errors": [{"pointer", "field", "detail"}] for an
 * invalid spec, "parameter" for a bad query parameter).
 *
 * Threads: any thread; no state.
 */
#ifndef TB_PROBLEM_H
#define TB_PROBLEM_H

#include <jansson.h>

#include "codec.h"

enum problem_kind {
    PROBLEM_BAD_REQUEST,        /* 400 a request that makes no sense */
    PROBLEM_MALFORMED_JSON,     /* 400 the body is not JSON */
    PROBLEM_INVALID_PARAMETER,  /* 400 a query parameter or header has a bad value */
    PROBLEM_UNAUTHORIZED,       /* 401 no or unknown bearer token (--token-file) */
    PROBLEM_FORBIDDEN,          /* 403 a read-only token on a write method */
    PROBLEM_NOT_FOUND,          /* 404 no such route or job */
    PROBLEM_METHOD_NOT_ALLOWED, /* 405 the route exists, not with this method */
    PROBLEM_NOT_ACCEPTABLE,     /* 406 no representation matches Accept */
    PROBLEM_JOB_NOT_DONE,       /* 409 the job has no result (yet) */
    PROBLEM_JOB_FINISHED,       /* 409 the job is already finished */
    PROBLEM_BODY_TOO_LARGE,     /* 413 body over --max-body */
    PROBLEM_UNSUPPORTED_MEDIA,  /* 415 body is not application/json */
    PROBLEM_URI_TOO_LONG,       /* 414 request target over HTTP_MAX_TARGET */
    PROBLEM_HEADERS_TOO_LARGE,  /* 431 header fields over HTTP_MAX_HEADER_BYTES */
    PROBLEM_INVALID_SPEC,       /* 422 JSON, but not a valid spec or over a limit */
    PROBLEM_IDEMPOTENCY_REUSE,  /* 422 Idempotency-Key used before for another spec */
    PROBLEM_INVALID_WINDOW,     /* 422 a fit window outside the job's levels */
    PROBLEM_QUEUE_FULL,         /* 429 --max-queued reached */
    PROBLEM_INTERNAL,           /* 500 a bug or an out-of-memory */
    PROBLEM_STORAGE,            /* 500 I/O error or corrupt database */
    PROBLEM_BUSY,               /* 503 database busy past the busy timeout */
    PROBLEM_READ_ONLY,          /* 503 database is read-only */
    PROBLEM_DISK_FULL,          /* 507 SQLITE_FULL: the disk is full (Insufficient Storage) */
    PROBLEM_NOT_READY,          /* 503 draining or database not ready */
    PROBLEM__COUNT
};

struct problem_type {
    const char *slug;  /* last part of the type URI, e.g. "invalid-spec" */
    int status;        /* HTTP status */
    const char *title; /* short, constant summary */
};

/* The prefix of every problem type URI; the slug follows. */
#define PROBLEM_TYPE_PREFIX "urn:trainbound:problem:"

/* Static description of a kind (never NULL; the internal one if out of range). */
const struct problem_type *problem_type(enum problem_kind kind);

/*
 * A new problem document (caller owns the reference), or NULL on ENOMEM.
 * instance: the request path (borrowed, may be NULL: then absent).
 * detail: printf-style, may be NULL (then the title is repeated).
 * Both may quote request text: bytes that are not UTF-8 and control
 * characters become '?', and the instance is cut at 511 bytes.
 */
json_t *problem_new(enum problem_kind kind, const char *instance, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds "errors": [{"pointer", "field", "detail"}, ...] from codec errors
 * (borrowed) to a problem document (borrowed). 0, or -1 on ENOMEM. */
int problem_add_codec_errors(json_t *problem, const struct codec_errors *errs);

/* The problem kind for a negative QUEUE_E* code. */
enum problem_kind problem_from_queue(int queue_rc);

#endif /* TB_PROBLEM_H */
