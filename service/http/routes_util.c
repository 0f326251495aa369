/*
 * routes_util.c - what every route file shares to answer (routes_int.h):
 * problems, the cache headers and 304, content negotiation, the query
 * parameter checks, loading a job, its kind and its grid's spec, CSV
 * answers, and answers built on the reader thread (route_task_run()).
 *
 * Owns: nothing beyond a call (route_metrics is borrowed from the app).
 * Threads: loop thread only, but a route_task's build(), which runs on
 * the reader thread (reader.h) with its store; the reader tasks call back
 * on the loop thread, once their work is done.
 */
#include "routes_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "router.h"
#include "kind.h"
#include "utf8.h"
#include "xalloc.h"

/* The counters of the running server, for the busy count in problem()
 * (loop thread; set by routes_handlers()). */
struct metrics *route_metrics;

/* ---- answers ------------------------------------------------------------ */

/* Answers a problem of kind with a printf-style detail. */
void problem(struct http_response *resp, const struct http_request *req, enum problem_kind kind,
             const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    json_t *doc;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    doc = problem_new(kind, req->path, "%s", detail);
    http_response_json(resp, problem_type(kind)->status, CT_PROBLEM, doc);
    if (kind == PROBLEM_QUEUE_FULL)
        http_response_header(resp, "Retry-After", "10");
    else if (kind == PROBLEM_BUSY)
        http_response_header(resp, "Retry-After", "1");
    if (kind == PROBLEM_BUSY)
        metrics_busy(route_metrics);
    else if (kind == PROBLEM_NOT_READY || kind == PROBLEM_READ_ONLY)
        http_response_header(resp, "Retry-After", "5");
    else if (kind == PROBLEM_DISK_FULL)
        http_response_header(resp, "Retry-After", "60");
    else if (kind == PROBLEM_UNAUTHORIZED)
        http_response_header(resp, "WWW-Authenticate", "Bearer realm=\"trainbound\"");
}

/* Answers a problem for a queue error, naming what was being done. */
void queue_problem(struct http_response *resp, const struct http_request *req, int rc,
                   const char *doing)
{
    enum problem_kind kind = problem_from_queue(rc);

    if (kind >= PROBLEM_INTERNAL)
        log_event(LOG_ERROR, "store_error", "s:s, s:s, s:s", "path", req->path, "doing", doing,
                  "error", queue_strerror(rc));
    problem(resp, req, kind, "%s: %s", doing, queue_strerror(rc));
}

/* A parameter problem with the parameter's name as an extension member. */
void param_problem(struct http_response *resp, const struct http_request *req,
                   enum problem_kind kind, const char *name, const char *fmt, ...)
{
    char detail[512], safe[65];
    va_list ap;
    json_t *doc;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    doc = problem_new(kind, req->path, "%s", detail);
    if (doc)
        json_object_set_new(doc, "parameter", json_string(utf8_sanitize(name, safe, sizeof safe)));
    http_response_json(resp, problem_type(kind)->status, CT_PROBLEM, doc);
}

/* Headers every job-derived answer carries: ETag and Cache-Control. */
void cache_headers(struct http_response *resp, const char *etag)
{
    http_response_header(resp, "ETag", etag);
    http_response_header(resp, "Cache-Control", "no-cache");
}

/* 304 when If-None-Match matches etag: returns 1 after answering. */
int not_modified(const struct http_request *req, struct http_response *resp, const char *etag)
{
    if (!router_etag_match(http_header(req, "If-None-Match"), etag))
        return 0;
    http_response_body(resp, 304, NULL, NULL, 0);
    cache_headers(resp, etag);
    return 1;
}

/* ---- content negotiation ------------------------------------------------ */

/* The representation Accept asks for among offered (n; offered[0] is the
 * default, also for an absent Accept and for wildcards): its index, or
 * -1 after answering 406 naming what the route offers. Call it only when
 * no format= parameter chose the representation. */
int negotiate(const struct http_request *req, struct http_response *resp,
              const char *const *offered, size_t n)
{
    const char *accept = http_header(req, "Accept");
    char list[160] = "";
    size_t i;
    int k = router_negotiate(accept, offered, n);

    if (k >= 0)
        return k;
    for (i = 0; i < n; i++) {
        if (i)
            strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, offered[i], sizeof list - strlen(list) - 1);
    }
    problem(resp, req, PROBLEM_NOT_ACCEPTABLE,
            "nothing here fits Accept: %.200s; this route offers %s%s", accept, list,
            n > 1 ? " (or choose with ?format=)" : "");
    return -1;
}

/* ---- query parameters --------------------------------------------------- */

struct allowed {
    const char *const *names;
    const char *bad;      /* the first unknown key (borrowed from MHD) */
    const char *repeated; /* the first known key given twice (borrowed) */
    unsigned long seen;   /* bit i: names[i] was given */
};

static int check_key(void *user, const char *key, const char *value)
{
    struct allowed *a = user;
    size_t i;

    (void)value;
    for (i = 0; a->names[i]; i++)
        if (strcmp(key, a->names[i]) == 0) {
            /* ?limit=2&limit=3: which one was meant is a guess; refuse. */
            if (i < 8 * sizeof a->seen && (a->seen >> i & 1UL)) {
                a->repeated = key;
                return 1;
            }
            if (i < 8 * sizeof a->seen)
                a->seen |= 1UL << i;
            return 0;
        }
    a->bad = key;
    return 1;
}

/* 400 for a query parameter the route does not know, or one given more
 * than once. Returns 1 after answering. names is NULL-terminated. */
int unknown_params(const struct http_request *req, struct http_response *resp,
                   const char *const *names)
{
    struct allowed a = {names, NULL, NULL, 0};
    char list[256] = "";
    size_t i;

    if (http_query_each(req, check_key, &a) == 0)
        return 0;
    if (a.repeated) {
        param_problem(resp, req, PROBLEM_INVALID_PARAMETER, a.repeated,
                      "query parameter \"%.64s\" is given more than once; give it once",
                      a.repeated);
        return 1;
    }
    for (i = 0; names[i]; i++) {
        if (i)
            strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, names[i], sizeof list - strlen(list) - 1);
    }
    param_problem(resp, req, PROBLEM_INVALID_PARAMETER, a.bad,
                  "unknown query parameter \"%.64s\"; this route takes: %s", a.bad,
                  names[0] ? list : "none");
    return 1;
}

/* Reads an optional integer parameter in [min, max]. Returns 1 when
 * present (written to *out), 0 when absent, -1 after answering 400. */
int int_param(const struct http_request *req, struct http_response *resp, const char *name,
              int64_t min, int64_t max, int64_t *out)
{
    const char *v = http_query(req, name);

    if (!v)
        return 0;
    if (router_parse_int(v, min, max, out) != 0) {
        param_problem(resp, req, PROBLEM_INVALID_PARAMETER, name,
                      "%s must be an integer in %" PRId64 "..%" PRId64 ", got \"%.64s\"", name, min,
                      max, v);
        return -1;
    }
    return 1;
}

/* ---- jobs --------------------------------------------------------------- */

/* Loads job id into *job; answers 404/503/500 and returns -1 on failure. */
int load_job(struct app *app, const struct http_request *req, struct http_response *resp,
             int64_t id, struct job *job)
{
    int rc;

    memset(job, 0, sizeof *job);
    rc = queue_get(app->store, id, job);
    if (rc == QUEUE_ENOENT) {
        problem(resp, req, PROBLEM_NOT_FOUND, "no job %" PRId64, id);
        return -1;
    }
    if (rc != QUEUE_OK) {
        queue_problem(resp, req, rc, "reading the job");
        return -1;
    }
    return 0;
}

/* 409 unless the job succeeded. Returns -1 after answering. */
int require_succeeded(const struct http_request *req, struct http_response *resp,
                      const struct job *job)
{
    if (job->status == JOB_SUCCEEDED)
        return 0;
    if (job->status == JOB_QUEUED || job->status == JOB_RUNNING)
        problem(resp, req, PROBLEM_JOB_NOT_DONE,
                "job %" PRId64 " is %s (%" PRIu64 " of %" PRIu64
                " points done); poll it until it succeeds",
                job->id, job_status_name(job->status), job->points_done, job->points_total);
    else
        problem(resp, req, PROBLEM_JOB_NOT_DONE, "job %" PRId64 " %s and has no result", job->id,
                job->status == JOB_FAILED ? "failed" : "was canceled");
    return -1;
}

const struct job_kind *job_kind(const struct http_request *req, struct http_response *resp,
                                const struct job *job)
{
    const struct job_kind *kind = kind_by_name(job->kind);

    if (!kind)
        problem(resp, req, PROBLEM_INTERNAL,
                "job %" PRId64 " is of kind \"%s\", unknown to this binary", job->id, job->kind);
    return kind;
}

/* The spec of the job's grid (validated on submit). 0, or -1 after
 * answering 404 (no grid) or 500. */
int job_spec(const struct http_request *req, struct http_response *resp, const struct job *job,
             const char *view, struct codec_spec *spec)
{
    const struct job_kind *kind = job_kind(req, resp, job);
    char detail[256];

    if (!kind)
        return -1;
    if (!kind->grid_spec) {
        kind->no_view(job, view, detail, sizeof detail);
        problem(resp, req, PROBLEM_NOT_FOUND, "%s", detail);
        return -1;
    }
    if (kind->grid_spec(job, spec) != 0) {
        problem(resp, req, PROBLEM_INTERNAL, "the stored spec of job %" PRId64 " does not parse",
                job->id);
        return -1;
    }
    return 0;
}

/* Answers 200 with a CSV text (taken) and the job's cache headers: the
 * one way /cells and /boundary send CSV. */
void csv_answer(struct http_response *resp, const char *etag, char *csv)
{
    http_response_body(resp, 200, CT_CSV, csv, strlen(csv));
    cache_headers(resp, etag);
}

/* ---- answers from the reader thread ------------------------------------- */

/* On the reader thread, with its store. */
static void route_task_work(struct reader_task *rt, struct store *s)
{
    struct route_task *t = (struct route_task *)rt;

    t->ops->build(t, s);
}

/* Back on the loop thread, the task ran or was dropped (rc, reader.h):
 * answer the deferred request. */
static void route_task_done(struct reader_task *rt, int rc)
{
    struct route_task *t = (struct route_task *)rt;
    struct app *app = t->app;
    struct http_deferred *d = t->deferred;
    const struct http_request *req = http_deferred_request(d);
    struct http_response *resp = http_deferred_response(d);

    if (rc == 0) {
        t->ops->answer(t, req, resp);
    } else {
        if (rc == READER_ECANCELED)
            problem(resp, req, PROBLEM_NOT_READY, "the server is shutting down");
        else /* the reader's store could not be opened */
            queue_problem(resp, req, rc, t->ops->doing);
        t->ops->free(t);
    }
    add_cors(app, req, resp); /* on_handle_cors() left it to the answer */
    http_deferred_resume(d);
}

void route_task_run(struct route_task *t, const struct http_request *req,
                    struct http_response *resp)
{
    t->task.work = route_task_work;
    t->task.done = route_task_done;
    if (t->app->reader) {
        t->deferred = http_defer(req);
        if (reader_submit(t->app->reader, &t->task) == 0)
            return;         /* route_task_done() answers */
        t->deferred = NULL; /* the reader is closing: answer here */
    }
    t->ops->build(t, t->app->store);
    t->ops->answer(t, req, resp);
}
