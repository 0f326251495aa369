/*
 * routes_int.h - private to the route files (routes.c and routes_*.c):
 * the handlers routes.c dispatches to, and the helpers every handler
 * shares to answer (problems, cache headers, 304, content negotiation,
 * query checks, loading a job). Nothing else includes it; the server
 * sees only routes.h.
 *
 *   routes.c           the dispatch: auth, route match, CORS, the table
 *   routes_util.c      the shared helpers declared here
 *   routes_jobs.c      POST/GET /v1/jobs, GET/DELETE /v1/jobs/{id},
 *                      .../cancel, .../result
 *   routes_dimension.c GET /v1/jobs/{id}/dimension
 *   routes_boundary.c  GET /v1/jobs/{id}/boundary, boundary.png
 *   routes_cells.c     GET /v1/jobs/{id}/cells (json, csv, png)
 *   routes_ops.c       /healthz, /livez, /readyz, /metrics, .../events
 *   routes_web.c       the embedded files: /, /web/..., /openapi.yaml|json
 *
 * Which views a job has is its kind's (kind.h): the routes never ask
 * whether a job is a study.
 *
 * Threads: loop thread only (inside MHD_run()), except the reader tasks
 * of routes_boundary.c and routes_cells.c (route_task_run()), whose build
 * runs on the reader thread (reader.h) with its own store and answers
 * back on the loop.
 */
#ifndef TB_ROUTES_INT_H
#define TB_ROUTES_INT_H

#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "codec.h"
#include "http.h"
#include "problem.h"
#include "queue.h"
#include "reader.h"

#define CT_JSON "application/json"
#define CT_PROBLEM "application/problem+json"
#define CT_OCTETS "application/octet-stream"
#define CT_YAML "application/yaml"
#define CT_NPY "application/octet-stream"
#define CT_PNG "image/png"
#define CT_CSV "text/csv; charset=utf-8"

struct metrics;
struct job_kind;

/* The counters of the running server (routes_util.c; set by
 * routes_handlers()), for the busy count in problem(). */
extern struct metrics *route_metrics;

/* ---- answers (routes_util.c) -------------------------------------------- */

/* A problem of kind with a printf-style detail (and its Retry-After or
 * WWW-Authenticate where the kind has one). */
void problem(struct http_response *resp, const struct http_request *req, enum problem_kind kind,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The problem for a queue error rc, naming what was being done. */
void queue_problem(struct http_response *resp, const struct http_request *req, int rc,
                   const char *doing);

/* A problem whose "parameter" member names the parameter name. */
void param_problem(struct http_response *resp, const struct http_request *req,
                   enum problem_kind kind, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ETag and Cache-Control: no-cache, on every job-derived answer. */
void cache_headers(struct http_response *resp, const char *etag);

/* 1 after answering 304 when If-None-Match matches etag, else 0. */
int not_modified(const struct http_request *req, struct http_response *resp, const char *etag);

/* Which of offered[0..n) Accept asks for (offered[0] by default), or -1
 * after answering 406. Only when no format= chose. */
int negotiate(const struct http_request *req, struct http_response *resp,
              const char *const *offered, size_t n);

/* 1 after answering 400 for an unknown or repeated query parameter;
 * names (NULL-terminated) are the route's. */
int unknown_params(const struct http_request *req, struct http_response *resp,
                   const char *const *names);

/* An optional integer parameter in [min, max]: 1 present, 0 absent, -1
 * after answering 400. */
int int_param(const struct http_request *req, struct http_response *resp, const char *name,
              int64_t min, int64_t max, int64_t *out);

/* ---- jobs (routes_util.c) ----------------------------------------------- */

/* Job id into *job (job_free() it), or -1 after answering 404/503/500. */
int load_job(struct app *app, const struct http_request *req, struct http_response *resp,
             int64_t id, struct job *job);

/* 0 when the job succeeded, else -1 after answering 409. */
int require_succeeded(const struct http_request *req, struct http_response *resp,
                      const struct job *job);

/* The job's kind (kind.h), or NULL after answering 500 for a kind this
 * binary does not know. */
const struct job_kind *job_kind(const struct http_request *req, struct http_response *resp,
                                const struct job *job);

/* The spec of the job's grid, for view ("dimension", "boundary": its
 * kind's grid_spec(); codec_spec_free() it), or -1 after answering 404
 * for a kind without one grid (its no_view() says why) or 500. */
int job_spec(const struct http_request *req, struct http_response *resp, const struct job *job,
             const char *view, struct codec_spec *spec);

/* 200 with the CSV text csv (taken) and the job's cache headers. */
void csv_answer(struct http_response *resp, const char *etag, char *csv);

/* ---- answers from the reader thread (routes_util.c) --------------------- */

struct route_task;

/* What one kind of route task does (a constant table per route). */
struct route_task_ops {
    const char *doing; /* what the reader's store was for, when it failed */
    /* Reads and encodes the answer with s (the reader's, or the loop's). */
    void (*build)(struct route_task *t, struct store *s);
    /* Fills resp from what build() left, and frees t (or hands it on). */
    void (*answer)(struct route_task *t, const struct http_request *req,
                   struct http_response *resp);
    /* Frees t unanswered (the reader dropped it, or its store failed). */
    void (*free)(struct route_task *t);
};

/* A request whose answer is built from the store off the loop: the first
 * member of the task of routes_boundary.c and routes_cells.c. The caller
 * sets app and ops; route_task_run() the rest. */
struct route_task {
    struct reader_task task; /* first member: the reader hands it back */
    struct app *app;
    const struct route_task_ops *ops;
    struct http_deferred *deferred; /* NULL when run on the loop thread */
};

/* Builds t (taken) on the reader thread while the request waits deferred
 * (http_defer()), and answers it back on the loop thread, with its CORS
 * headers; without a reader, or once it closes, builds and answers here. */
void route_task_run(struct route_task *t, const struct http_request *req,
                    struct http_response *resp);

/* ---- CORS (routes.c) ---------------------------------------------------- */

/* The CORS headers of an answer; a deferred answer adds them itself. */
void add_cors(struct app *app, const struct http_request *req, struct http_response *resp);

/* ---- the handlers ------------------------------------------------------- */

/* The two shapes of a handler: a route without and with a job {id}. */
typedef void route_fn(struct app *app, const struct http_request *req, struct http_response *resp);
typedef void job_route_fn(struct app *app, const struct http_request *req,
                          struct http_response *resp, int64_t id);

/* routes_jobs.c */
route_fn post_jobs, get_jobs;
job_route_fn get_job, delete_job, post_cancel, get_result;

/* routes_dimension.c, routes_boundary.c (.../boundary and boundary.png),
 * routes_cells.c */
job_route_fn get_dimension, get_boundary, get_cells;

/* routes_ops.c */
route_fn get_healthz, get_readyz, get_metrics;
job_route_fn get_events;

/* routes_web.c */
route_fn get_openapi, get_openapi_json, get_web;

#endif /* TB_ROUTES_INT_H */
