/*
 * problem.c - RFC 9457 problem documents and the error-to-status table
 * (problem.h).
 *
 * Threads: any thread; the tables are constant.
 */
#include "problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "queue.h"
#include "utf8.h"

static const struct problem_type types[PROBLEM__COUNT] = {
    [PROBLEM_BAD_REQUEST] = {"bad-request", 400, "Bad request"},
    [PROBLEM_MALFORMED_JSON] = {"malformed-json", 400, "Malformed JSON"},
    [PROBLEM_INVALID_PARAMETER] = {"invalid-parameter", 400, "Invalid parameter"},
    [PROBLEM_UNAUTHORIZED] = {"unauthorized", 401, "Unauthorized"},
    [PROBLEM_FORBIDDEN] = {"forbidden", 403, "Forbidden"},
    [PROBLEM_NOT_FOUND] = {"not-found", 404, "Not found"},
    [PROBLEM_METHOD_NOT_ALLOWED] = {"method-not-allowed", 405, "Method not allowed"},
    [PROBLEM_NOT_ACCEPTABLE] = {"not-acceptable", 406, "Not acceptable"},
    [PROBLEM_JOB_NOT_DONE] = {"job-not-done", 409, "Job has no result"},
    [PROBLEM_JOB_FINISHED] = {"job-finished", 409, "Job already finished"},
    [PROBLEM_BODY_TOO_LARGE] = {"body-too-large", 413, "Request body too large"},
    [PROBLEM_UNSUPPORTED_MEDIA] = {"unsupported-media-type", 415, "Unsupported media type"},
    [PROBLEM_URI_TOO_LONG] = {"uri-too-long", 414, "Request target too long"},
    [PROBLEM_HEADERS_TOO_LARGE] = {"headers-too-large", 431, "Request header fields too large"},
    [PROBLEM_INVALID_SPEC] = {"invalid-spec", 422, "Invalid job spec"},
    [PROBLEM_IDEMPOTENCY_REUSE] = {"idempotency-key-reused", 422,
                                   "Idempotency-Key reused with a different spec"},
    [PROBLEM_INVALID_WINDOW] = {"invalid-fit-window", 422, "Invalid fit window"},
    [PROBLEM_QUEUE_FULL] = {"queue-full", 429, "Queue full"},
    [PROBLEM_INTERNAL] = {"internal-error", 500, "Internal server error"},
    [PROBLEM_STORAGE] = {"storage-error", 500, "Storage error"},
    [PROBLEM_BUSY] = {"database-busy", 503, "Database busy"},
    [PROBLEM_READ_ONLY] = {"database-read-only", 503, "Database read-only"},
    [PROBLEM_DISK_FULL] = {"disk-full", 507, "Disk full"},
    [PROBLEM_NOT_READY] = {"not-ready", 503, "Service not ready"},
};

const struct problem_type *problem_type(enum problem_kind kind)
{
    if ((int)kind < 0 || kind >= PROBLEM__COUNT)
        kind = PROBLEM_INTERNAL;
    return &types[kind];
}

json_t *problem_new(enum problem_kind kind, const char *instance, const char *detail_fmt, ...)
{
    const struct problem_type *t = problem_type(kind);
    char uri[96], raw[1024], detail[1024], where[512];
    json_t *p;

    snprintf(uri, sizeof uri, "%s%s", PROBLEM_TYPE_PREFIX, t->slug);
    if (detail_fmt) {
        va_list ap;
        va_start(ap, detail_fmt);
        vsnprintf(raw, sizeof raw, detail_fmt, ap);
        va_end(ap);
    } else {
        snprintf(raw, sizeof raw, "%s", t->title);
    }
    /* Details quote request text: keep the body valid UTF-8 whatever came in. */
    utf8_sanitize(raw, detail, sizeof detail);
    p = json_pack("{s:s, s:s, s:i, s:s}", "type", uri, "title", t->title, "status", t->status,
                  "detail", detail);
    if (p && instance &&
        json_object_set_new(p, "instance",
                            json_string(utf8_sanitize(instance, where, sizeof where))) != 0) {
        json_decref(p);
        return NULL;
    }
    return p;
}

int problem_add_codec_errors(json_t *problem, const struct codec_errors *errs)
{
    json_t *arr = json_array();
    int i;

    if (!arr || json_object_set_new(problem, "errors", arr) != 0)
        return -1;
    for (i = 0; i < errs->n && i < CODEC_MAX_ERRORS; i++) {
        const struct codec_error *e = &errs->e[i];
        json_t *item = json_pack("{s:s, s:s, s:s}", "pointer", e->pointer, "field", e->path,
                                 "detail", e->message);
        if (!item || json_array_append_new(arr, item) != 0)
            return -1;
    }
    if (errs->truncated && json_object_set_new(problem, "errors_truncated", json_true()) != 0)
        return -1;
    return 0;
}

enum problem_kind problem_from_queue(int rc)
{
    switch (rc) {
    case QUEUE_ENOENT:
        return PROBLEM_NOT_FOUND;
    case QUEUE_EFULL:
        return PROBLEM_QUEUE_FULL;
    case QUEUE_ECONFLICT:
        return PROBLEM_JOB_FINISHED;
    case QUEUE_EBUSY:
        return PROBLEM_BUSY;
    case QUEUE_EREADONLY:
        return PROBLEM_READ_ONLY;
    case QUEUE_ENOSPC:
        return PROBLEM_DISK_FULL;
    case QUEUE_EIO:
    case QUEUE_ESCHEMA:
        return PROBLEM_STORAGE;
    default:
        return PROBLEM_INTERNAL;
    }
}
