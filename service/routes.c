/*
 * routes.c - the REST API handlers (routes.h).
 *
 * Owns: nothing beyond a call; every answer is built into the struct
 * http_response that http.c hands in. A request that fails validation
 * (route, method, media type, size, query, spec) is answered here and
 * never reaches the queue.
 *
 * Threads: loop thread only. The queue calls use the loop's connection
 * and are short (single-row reads and writes, one transaction each);
 * QUEUE_EBUSY past the busy timeout becomes 503 with Retry-After.
 */
#include "routes.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "clock.h"
#include "embed.h"
#include "log.h"
#include "pool.h"
#include "problem.h"
#include "queue.h"
#include "router.h"
#include "sha256.h"
#include "utf8.h"
#include "view.h"
#include "xalloc.h"

#define CT_JSON "application/json"
#define CT_PROBLEM "application/problem+json"
#define CT_OCTETS "application/octet-stream"
#define CT_YAML "application/yaml"

#define LIST_DEFAULT_LIMIT 20
#define LIST_MAX_LIMIT 100
#define FLIPS_DEFAULT_LIMIT 1000
#define FLIPS_MAX_LIMIT 100000
#define IDEM_KEY_MAX 255

/* ---- answers ------------------------------------------------------------ */

/* Answers a problem of kind with a printf-style detail. */
static void problem(struct http_response *resp, const struct http_request *req,
                    enum problem_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct http_response *resp, const struct http_request *req,
                    enum problem_kind kind, const char *fmt, ...)
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
    else if (kind == PROBLEM_NOT_READY || kind == PROBLEM_READ_ONLY)
        http_response_header(resp, "Retry-After", "5");
}

/* Answers a problem for a queue error, naming what was being done. */
static void queue_problem(struct http_response *resp, const struct http_request *req, int rc,
                          const char *doing)
{
    enum problem_kind kind = problem_from_queue(rc);

    if (kind >= PROBLEM_INTERNAL)
        log_event(LOG_ERROR, "store_error", "s:s, s:s, s:s", "path", req->path, "doing", doing,
                  "error", queue_strerror(rc));
    problem(resp, req, kind, "%s: %s", doing, queue_strerror(rc));
}

/* A parameter problem with the parameter's name as an extension member. */
static void param_problem(struct http_response *resp, const struct http_request *req,
                          enum problem_kind kind, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void param_problem(struct http_response *resp, const struct http_request *req,
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
static void cache_headers(struct http_response *resp, const char *etag)
{
    http_response_header(resp, "ETag", etag);
    http_response_header(resp, "Cache-Control", "no-cache");
}

/* 304 when If-None-Match matches etag: returns 1 after answering. */
static int not_modified(const struct http_request *req, struct http_response *resp,
                        const char *etag)
{
    if (!router_etag_match(http_header(req, "If-None-Match"), etag))
        return 0;
    http_response_body(resp, 304, NULL, NULL, 0);
    cache_headers(resp, etag);
    return 1;
}

/* ---- query parameters --------------------------------------------------- */

struct allowed {
    const char *const *names;
    const char *bad; /* the first unknown key (borrowed from MHD) */
};

static int check_key(void *user, const char *key, const char *value)
{
    struct allowed *a = user;
    size_t i;

    (void)value;
    for (i = 0; a->names[i]; i++)
        if (strcmp(key, a->names[i]) == 0)
            return 0;
    a->bad = key;
    return 1;
}

/* 400 for a query parameter the route does not know. Returns 1 after
 * answering. names is NULL-terminated. */
static int unknown_params(const struct http_request *req, struct http_response *resp,
                          const char *const *names)
{
    struct allowed a = {names, NULL};
    char list[256] = "";
    size_t i;

    if (http_query_each(req, check_key, &a) == 0)
        return 0;
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
static int int_param(const struct http_request *req, struct http_response *resp, const char *name,
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

/* ---- health ------------------------------------------------------------- */

static void get_healthz(struct app *app, const struct http_request *req, struct http_response *resp)
{
    (void)app;
    (void)req;
    http_response_json(resp, 200, CT_JSON, json_pack("{s:s}", "status", "ok"));
    http_response_header(resp, "Cache-Control", "no-store");
}

static void get_readyz(struct app *app, const struct http_request *req, struct http_response *resp)
{
    int version = 0, rc;

    if (app->draining) {
        problem(resp, req, PROBLEM_NOT_READY, "the server is shutting down");
        return;
    }
    rc = store_schema_version(app->store, &version);
    if (rc != QUEUE_OK) {
        problem(resp, req, PROBLEM_NOT_READY, "the database does not answer: %s",
                queue_strerror(rc));
        return;
    }
    if (version != store_known_version()) {
        problem(resp, req, PROBLEM_NOT_READY, "database schema version %d, expected %d", version,
                store_known_version());
        return;
    }
    rc = store_check_writable(app->store);
    if (rc != QUEUE_OK) {
        problem(resp, req, rc == QUEUE_EBUSY ? PROBLEM_BUSY : PROBLEM_NOT_READY,
                "the database is not writable: %s", queue_strerror(rc));
        return;
    }
    http_response_json(resp, 200, CT_JSON,
                       json_pack("{s:s, s:i, s:i, s:i}", "status", "ready", "schema_version",
                                 version, "workers", app->cfg->workers, "in_flight",
                                 app->pool ? pool_in_flight(app->pool) : 0));
    http_response_header(resp, "Cache-Control", "no-store");
}

static void get_openapi(struct app *app, const struct http_request *req, struct http_response *resp)
{
    size_t i;

    (void)app;
    for (i = 0; i < assets_count && assets_files[i].name; i++) {
        if (strcmp(assets_files[i].name, "api/openapi.yaml") == 0) {
            char *copy = xmalloc(assets_files[i].len + 1);
            memcpy(copy, assets_files[i].data, assets_files[i].len + 1);
            http_response_body(resp, 200, CT_YAML, copy, assets_files[i].len);
            http_response_header(resp, "Cache-Control", "no-cache");
            return;
        }
    }
    problem(resp, req, PROBLEM_NOT_FOUND, "this build embeds no api/openapi.yaml");
}

/* ---- jobs: submit and list ---------------------------------------------- */

/* 1 if an Idempotency-Key is 1..255 visible ASCII characters. */
static int idem_key_ok(const char *k)
{
    size_t n = strlen(k), i;

    if (n == 0 || n > IDEM_KEY_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (k[i] < 0x20 || k[i] > 0x7e)
            return 0;
    return 1;
}

static void post_jobs(struct app *app, const struct http_request *req, struct http_response *resp)
{
    static const char *const params[] = {NULL};
    struct codec_errors *errs;
    struct codec_spec spec;
    struct queue_submit sub;
    struct job job;
    char hash[SHA256_HEX_LEN], path[VIEW_PATH_LEN], etag[VIEW_ETAG_LEN], *canonical;
    const char *idem = http_header(req, "Idempotency-Key");
    int64_t now = clock_now_ms();
    int rc, replayed = 0;

    if (unknown_params(req, resp, params))
        return;
    if (app->draining) {
        problem(resp, req, PROBLEM_NOT_READY, "the server is shutting down; submit again later");
        return;
    }
    if (req->body_too_large) {
        problem(resp, req, PROBLEM_BODY_TOO_LARGE,
                "the body is over the limit of %" PRIu64 " bytes (--max-body)", app->cfg->max_body);
        return;
    }
    if (!req->body || req->body_len == 0) {
        problem(resp, req, PROBLEM_MALFORMED_JSON, "the body is empty: send the job spec as JSON");
        return;
    }
    if (idem && !idem_key_ok(idem)) {
        param_problem(resp, req, PROBLEM_INVALID_PARAMETER, "Idempotency-Key",
                      "Idempotency-Key must be 1..%d visible ASCII characters", IDEM_KEY_MAX);
        return;
    }
    errs = xmalloc(sizeof *errs);
    rc = codec_parse_spec(req->body, req->body_len, &app->limits, &spec, errs);
    if (rc == CODEC_EJSON) {
        problem(resp, req, PROBLEM_MALFORMED_JSON, "%s",
                errs->n > 0 ? errs->e[0].message : "the body is not JSON");
        free(errs);
        return;
    }
    if (rc == CODEC_EINVALID) {
        json_t *doc =
            problem_new(PROBLEM_INVALID_SPEC, req->path, "the spec has %d problem%s%s; see errors",
                        errs->n, errs->n == 1 ? "" : "s", errs->truncated ? " (or more)" : "");
        if (doc && problem_add_codec_errors(doc, errs) != 0) {
            json_decref(doc);
            doc = NULL;
        }
        http_response_json(resp, 422, CT_PROBLEM, doc);
        free(errs);
        return;
    }
    free(errs);
    if (rc != CODEC_OK) {
        problem(resp, req, PROBLEM_INTERNAL, "out of memory while reading the spec");
        return;
    }
    canonical = codec_spec_canonical(&spec);
    if (!canonical) {
        codec_spec_free(&spec);
        problem(resp, req, PROBLEM_INTERNAL, "out of memory while reading the spec");
        return;
    }
    sha256_hex(canonical, strlen(canonical), hash);
    memset(&sub, 0, sizeof sub);
    sub.spec_json = canonical;
    sub.name = spec.name;
    sub.points = tb_grid_points(&spec.core);
    sub.tile_points = pool_tile_points(&spec.core, app->cfg->workers, app->cfg->tile_points);
    sub.idem_key = idem;
    sub.request_hash = hash;
    sub.max_queued = app->cfg->max_queued;
    memset(&job, 0, sizeof job);
    rc = queue_enqueue(app->store, &sub, now, &job, &replayed);
    free(canonical);
    codec_spec_free(&spec);
    if (rc == QUEUE_ECONFLICT) {
        problem(resp, req, PROBLEM_IDEMPOTENCY_REUSE,
                "Idempotency-Key \"%.64s\" was used before with a different spec", idem);
        return;
    }
    if (rc == QUEUE_EFULL) {
        problem(resp, req, PROBLEM_QUEUE_FULL,
                "%" PRId64 " jobs are queued or running (--max-queued); retry later",
                app->cfg->max_queued);
        return;
    }
    if (rc != QUEUE_OK) {
        queue_problem(resp, req, rc, "saving the job");
        return;
    }
    view_job_path(job.id, path);
    view_etag(&job, etag);
    http_response_json(resp, replayed ? 200 : 202, CT_JSON, view_job(&job, 1, now));
    http_response_header(resp, "Location", path);
    cache_headers(resp, etag);
    if (replayed) {
        http_response_header(resp, "Idempotent-Replayed", "true");
    } else {
        log_event(LOG_INFO, "job_state", "s:I, s:s, s:I, s:I, s:s*", "job", (json_int_t)job.id,
                  "status", "queued", "points", (json_int_t)job.points_total, "tiles",
                  (json_int_t)job.tiles_total, "name", job.name);
        if (app->pool)
            pool_kick(app->pool);
    }
    job_free(&job);
}

static void get_jobs(struct app *app, const struct http_request *req, struct http_response *resp)
{
    static const char *const params[] = {"status", "limit", "cursor", NULL};
    enum job_status st;
    const char *sv = http_query(req, "status"), *cv = http_query(req, "cursor");
    int64_t limit = LIST_DEFAULT_LIMIT, cursor = 0, next = 0, now = clock_now_ms();
    struct job *jobs;
    json_t *doc, *items;
    char enc[ROUTER_CURSOR_LEN];
    int n = 0, i, rc;

    if (unknown_params(req, resp, params))
        return;
    if (sv && job_status_parse(sv, &st) != 0) {
        param_problem(resp, req, PROBLEM_INVALID_PARAMETER, "status",
                      "status must be one of queued, running, succeeded, failed, canceled; "
                      "got \"%.64s\"",
                      sv);
        return;
    }
    if (int_param(req, resp, "limit", 1, LIST_MAX_LIMIT, &limit) < 0)
        return;
    if (cv && router_cursor_decode(cv, &cursor) != 0) {
        param_problem(resp, req, PROBLEM_INVALID_PARAMETER, "cursor",
                      "cursor is not one this server gave out as next_cursor");
        return;
    }
    jobs = xcalloc((size_t)limit, sizeof *jobs);
    rc = queue_list(app->store, sv ? &st : NULL, cursor, (int)limit, jobs, &n, &next);
    if (rc != QUEUE_OK) {
        free(jobs);
        queue_problem(resp, req, rc, "listing jobs");
        return;
    }
    items = json_array();
    for (i = 0; i < n; i++) {
        if (items && json_array_append_new(items, view_job(&jobs[i], 0, now)) != 0) {
            json_decref(items);
            items = NULL;
        }
        job_free(&jobs[i]);
    }
    free(jobs);
    if (next > 0)
        router_cursor_encode(next, enc);
    doc = items ? json_pack("{s:o, s:s?, s:I}", "items", items, "next_cursor",
                            next > 0 ? enc : NULL, "limit", (json_int_t)limit)
                : NULL;
    http_response_json(resp, 200, CT_JSON, doc);
    http_response_header(resp, "Cache-Control", "no-cache");
}

/* ---- one job ------------------------------------------------------------ */

/* Loads job id into *job; answers 404/503/500 and returns -1 on failure. */
static int load_job(struct app *app, const struct http_request *req, struct http_response *resp,
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
static int require_succeeded(const struct http_request *req, struct http_response *resp,
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

static void get_job(struct app *app, const struct http_request *req, struct http_response *resp,
                    int64_t id)
{
    static const char *const params[] = {NULL};
    char etag[VIEW_ETAG_LEN];
    struct job job;

    if (unknown_params(req, resp, params) || load_job(app, req, resp, id, &job) != 0)
        return;
    view_etag(&job, etag);
    if (!not_modified(req, resp, etag)) {
        http_response_json(resp, 200, CT_JSON, view_job(&job, 1, clock_now_ms()));
        cache_headers(resp, etag);
    }
    job_free(&job);
}

static void delete_job(struct app *app, const struct http_request *req, struct http_response *resp,
                       int64_t id)
{
    static const char *const params[] = {NULL};
    int rc;

    if (unknown_params(req, resp, params))
        return;
    rc = queue_delete(app->store, id);
    if (rc == QUEUE_ENOENT) {
        problem(resp, req, PROBLEM_NOT_FOUND, "no job %" PRId64, id);
        return;
    }
    if (rc != QUEUE_OK) {
        queue_problem(resp, req, rc, "deleting the job");
        return;
    }
    if (app->pool)
        pool_cancel_job(app->pool, id);
    log_event(LOG_INFO, "job_state", "s:I, s:s", "job", (json_int_t)id, "status", "deleted");
    http_response_body(resp, 204, NULL, NULL, 0);
}

static void post_cancel(struct app *app, const struct http_request *req, struct http_response *resp,
                        int64_t id)
{
    static const char *const params[] = {NULL};
    char etag[VIEW_ETAG_LEN];
    struct job before, after;
    int rc, status;

    if (unknown_params(req, resp, params) || load_job(app, req, resp, id, &before) != 0)
        return;
    if (before.status == JOB_CANCELED) {
        /* Canceling twice is harmless: answer with the job as it is. */
        view_etag(&before, etag);
        http_response_json(resp, 200, CT_JSON, view_job(&before, 1, clock_now_ms()));
        cache_headers(resp, etag);
        job_free(&before);
        return;
    }
    if (before.status == JOB_SUCCEEDED || before.status == JOB_FAILED) {
        problem(resp, req, PROBLEM_JOB_FINISHED, "job %" PRId64 " already %s", id,
                job_status_name(before.status));
        job_free(&before);
        return;
    }
    memset(&after, 0, sizeof after);
    rc = queue_cancel(app->store, id, clock_now_ms(), &after);
    if (rc == QUEUE_ECONFLICT) {
        problem(resp, req, PROBLEM_JOB_FINISHED, "job %" PRId64 " finished meanwhile", id);
        job_free(&before);
        return;
    }
    if (rc == QUEUE_ENOENT) {
        problem(resp, req, PROBLEM_NOT_FOUND, "no job %" PRId64, id);
        job_free(&before);
        return;
    }
    if (rc != QUEUE_OK) {
        queue_problem(resp, req, rc, "canceling the job");
        job_free(&before);
        return;
    }
    if (app->pool)
        pool_cancel_job(app->pool, id);
    log_event(LOG_INFO, "job_state", "s:I, s:s, s:I", "job", (json_int_t)id, "status", "canceled",
              "points_done", (json_int_t)after.points_done);
    /* 202 when tiles were running: they stop within moments. */
    status = before.status == JOB_RUNNING ? 202 : 200;
    view_etag(&after, etag);
    http_response_json(resp, status, CT_JSON, view_job(&after, 1, clock_now_ms()));
    cache_headers(resp, etag);
    job_free(&before);
    job_free(&after);
}

static void get_result(struct app *app, const struct http_request *req, struct http_response *resp,
                       int64_t id)
{
    static const char *const params[] = {NULL};
    char etag[VIEW_ETAG_LEN], *text = NULL;
    struct job job;
    int rc;

    if (unknown_params(req, resp, params) || load_job(app, req, resp, id, &job) != 0)
        return;
    if (require_succeeded(req, resp, &job) != 0)
        goto out;
    view_etag(&job, etag);
    if (not_modified(req, resp, etag))
        goto out;
    rc = queue_get_result(app->store, id, &text);
    if (rc != QUEUE_OK) {
        if (rc == QUEUE_ENOENT)
            problem(resp, req, PROBLEM_JOB_NOT_DONE, "job %" PRId64 " has no stored result", id);
        else
            queue_problem(resp, req, rc, "reading the result");
        goto out;
    }
    http_response_body(resp, 200, CT_JSON, text, strlen(text));
    cache_headers(resp, etag);
out:
    job_free(&job);
}

/* Parses the stored spec of a job (validated on submit). 0 or -1 after
 * answering 500. */
static int job_spec(const struct http_request *req, struct http_response *resp,
                    const struct job *job, struct codec_spec *spec)
{
    struct codec_limits lim = {TB_MAX_LEVELS, INT_MAX, TB_MAX_DIM, HUGE_VAL};
    struct codec_errors *errs = xmalloc(sizeof *errs);
    int rc = codec_parse_spec(job->spec_json, strlen(job->spec_json), &lim, spec, errs);

    free(errs);
    if (rc != CODEC_OK) {
        problem(resp, req, PROBLEM_INTERNAL, "the stored spec of job %" PRId64 " does not parse",
                job->id);
        return -1;
    }
    return 0;
}

/* Reads counts[0..levels] from a JSON document that has a "counts" array
 * of levels + 1 integers. 0 or -1. */
static int counts_from(const char *text, int levels, uint64_t *counts)
{
    json_t *doc, *arr;
    int n, ok = -1;

    if (!text)
        return -1;
    doc = json_loads(text, 0, NULL);
    arr = doc ? json_object_get(doc, "counts") : NULL;
    if (arr && json_is_array(arr) && json_array_size(arr) == (size_t)levels + 1) {
        ok = 0;
        for (n = 0; n <= levels; n++) {
            json_t *v = json_array_get(arr, (size_t)n);
            if (!json_is_integer(v) || json_integer_value(v) < 0) {
                ok = -1;
                break;
            }
            counts[n] = (uint64_t)json_integer_value(v);
        }
    }
    json_decref(doc);
    return ok;
}

static void get_dimension(struct app *app, const struct http_request *req,
                          struct http_response *resp, int64_t id)
{
    static const char *const params[] = {"min_level", "max_level", "min_levels", NULL};
    uint64_t counts[TB_MAX_LEVELS + 1];
    char etag[VIEW_ETAG_LEN];
    struct codec_spec spec;
    struct tb_fit_opts opts;
    struct tb_fit fit;
    struct job job;
    int64_t v;
    int levels, refit = 0, r, n, have_spec = 0;
    json_t *doc, *carr, *dim;

    if (unknown_params(req, resp, params) || load_job(app, req, resp, id, &job) != 0)
        return;
    if (require_succeeded(req, resp, &job) != 0 || job_spec(req, resp, &job, &spec) != 0)
        goto out;
    have_spec = 1;
    levels = spec.core.axes[0].levels;
    opts = spec.fit;
    /* Syntax first (400), then the window against the job's levels (422). */
    if ((r = int_param(req, resp, "min_level", INT_MIN, INT_MAX, &v)) < 0)
        goto out;
    if (r > 0) {
        opts.min_level = (int)v;
        refit = 1;
    }
    if ((r = int_param(req, resp, "max_level", INT_MIN, INT_MAX, &v)) < 0)
        goto out;
    if (r > 0) {
        opts.max_level = (int)v;
        refit = 1;
    }
    if ((r = int_param(req, resp, "min_levels", INT_MIN, INT_MAX, &v)) < 0)
        goto out;
    if (r > 0) {
        opts.min_levels = (int)v;
        refit = 1;
    }
    if (opts.min_level < 0 || opts.min_level > levels) {
        param_problem(resp, req, PROBLEM_INVALID_WINDOW, "min_level",
                      "min_level must be in 0..%d (the job's lr.levels), got %d", levels,
                      opts.min_level);
        goto out;
    }
    if (opts.max_level < opts.min_level || opts.max_level > levels) {
        param_problem(resp, req, PROBLEM_INVALID_WINDOW, "max_level",
                      "max_level must be in min_level..lr.levels = %d..%d, got %d", opts.min_level,
                      levels, opts.max_level);
        goto out;
    }
    if (opts.min_levels < 3 || opts.min_levels > TB_MAX_LEVELS + 1) {
        param_problem(resp, req, PROBLEM_INVALID_WINDOW, "min_levels",
                      "min_levels must be in 3..%d, got %d", TB_MAX_LEVELS + 1, opts.min_levels);
        goto out;
    }
    view_etag(&job, etag);
    if (not_modified(req, resp, etag))
        goto out;
    /* The counts were stored with the summary (and are in the result). */
    if (counts_from(job.summary_json, levels, counts) != 0) {
        char *text = NULL;
        int rc = queue_get_result(app->store, id, &text);
        if (rc != QUEUE_OK || counts_from(text, levels, counts) != 0) {
            free(text);
            problem(resp, req, PROBLEM_INTERNAL, "job %" PRId64 " has no stored counts", id);
            goto out;
        }
        free(text);
    }
    if (tb_fit_dimension(counts, levels, &opts, &fit) != TB_OK) {
        problem(resp, req, PROBLEM_INVALID_WINDOW, "the fit window %d..%d is not usable",
                opts.min_level, opts.max_level);
        goto out;
    }
    carr = json_array();
    for (n = 0; carr && n <= levels; n++)
        json_array_append_new(carr, json_integer((json_int_t)counts[n]));
    dim = codec_dimension_json(&fit, &opts);
    doc = carr && dim ? json_pack("{s:I, s:i, s:o, s:o, s:b}", "job", (json_int_t)id, "levels",
                                  levels, "counts", carr, "dimension", dim, "refit", refit)
                      : NULL;
    http_response_json(resp, 200, CT_JSON, doc);
    cache_headers(resp, etag);
out:
    if (have_spec)
        codec_spec_free(&spec);
    job_free(&job);
}

/* The flips [offset, offset + limit) into idx (caller array of limit);
 * returns the count written and sets *more when flips remain after them. */
static size_t flips_page(const uint64_t *bits, uint64_t n, uint64_t offset, size_t limit,
                         uint64_t *idx, int *more)
{
    uint64_t pos = 0, skipped = 0, probe;
    size_t got = 0;

    while (skipped < offset) {
        uint64_t want = offset - skipped;
        size_t k = tb_flips_next(bits, n, &pos, idx, want < limit ? (size_t)want : limit);
        if (k == 0)
            break;
        skipped += k;
    }
    if (skipped < offset) {
        *more = 0;
        return 0;
    }
    while (got < limit) {
        size_t k = tb_flips_next(bits, n, &pos, idx + got, limit - got);
        if (k == 0)
            break;
        got += k;
    }
    *more = tb_flips_next(bits, n, &pos, &probe, 1) > 0;
    return got;
}

static void get_boundary(struct app *app, const struct http_request *req,
                         struct http_response *resp, int64_t id)
{
    static const char *const params[] = {"offset", "limit", "labels", NULL};
    const int binary = router_accepts(http_header(req, "Accept"), CT_OCTETS);
    char etag[VIEW_ETAG_LEN], num[32];
    struct codec_spec spec;
    struct job job;
    uint64_t *bits = NULL, *idx = NULL, words, points, i;
    int64_t offset = 0, limit = FLIPS_DEFAULT_LIMIT;
    int have_spec = 0, with_labels = 1, more = 0, rc;
    const char *lv = http_query(req, "labels");

    if (unknown_params(req, resp, params))
        return;
    if (int_param(req, resp, "offset", 0, INT64_MAX / 2, &offset) < 0 ||
        int_param(req, resp, "limit", 1, FLIPS_MAX_LIMIT, &limit) < 0)
        return;
    if (lv && router_parse_bool(lv, &with_labels) != 0) {
        param_problem(resp, req, PROBLEM_INVALID_PARAMETER, "labels",
                      "labels must be true or false, got \"%.64s\"", lv);
        return;
    }
    if (load_job(app, req, resp, id, &job) != 0)
        return;
    if (require_succeeded(req, resp, &job) != 0 || job_spec(req, resp, &job, &spec) != 0)
        goto out;
    have_spec = 1;
    view_etag(&job, etag);
    if (not_modified(req, resp, etag))
        goto out;
    points = tb_grid_points(&spec.core);
    words = tb_label_words(points);
    bits = calloc(words, sizeof *bits);
    if (!bits) {
        problem(resp, req, PROBLEM_INTERNAL, "out of memory for %" PRIu64 " labels", points);
        goto out;
    }
    rc = queue_load_labels(app->store, id, bits);
    if (rc != QUEUE_OK) {
        queue_problem(resp, req, rc, "loading the labels");
        goto out;
    }
    if (binary) {
        /* Raw packed words, little-endian on the wire whatever the host. */
        unsigned char *out = xmalloc(words * 8);
        for (i = 0; i < words; i++) {
            int b;
            for (b = 0; b < 8; b++)
                out[i * 8 + (uint64_t)b] = (unsigned char)(bits[i] >> (8 * b));
        }
        http_response_body(resp, 200, CT_OCTETS, (char *)out, words * 8);
        snprintf(num, sizeof num, "%" PRIu64, points);
        http_response_header(resp, "X-Points", num);
        snprintf(num, sizeof num, "%" PRIu64, words);
        http_response_header(resp, "X-Label-Words", num);
        http_response_header(resp, "X-Label-Format", "uint64-le-lsb0");
        cache_headers(resp, etag);
        goto out;
    }
    {
        const double lo = spec.core.axes[0].min, hi = spec.core.axes[0].max;
        const int levels = spec.core.axes[0].levels;
        const double h = (hi - lo) / (double)((uint64_t)1 << levels);
        json_t *doc, *lrs = json_array(), *ids = json_array(), *labels = json_null();
        int64_t first = tb_first_set(bits, points);
        uint64_t total = 0;
        size_t got;

        idx = xmalloc((size_t)limit * sizeof *idx);
        got = flips_page(bits, points, (uint64_t)offset, (size_t)limit, idx, &more);
        for (i = 0; i < got && lrs && ids; i++) {
            json_array_append_new(lrs, json_real(lo + ((double)idx[i] + 0.5) * h));
            json_array_append_new(ids, json_integer((json_int_t)idx[i]));
        }
        if (with_labels) {
            size_t nbytes = (size_t)words * 8, elen = base64_encoded_len(nbytes, 0);
            unsigned char *raw = xmalloc(nbytes);
            char *b64 = xmalloc(elen + 1);
            for (i = 0; i < words; i++) {
                int b;
                for (b = 0; b < 8; b++)
                    raw[i * 8 + (uint64_t)b] = (unsigned char)(bits[i] >> (8 * b));
            }
            base64_encode(raw, nbytes, 0, b64);
            free(raw);
            labels = json_pack("{s:s, s:s, s:I, s:I, s:s}", "encoding", "base64", "format",
                               "uint64-le-lsb0", "points", (json_int_t)points, "words",
                               (json_int_t)words, "data", b64);
            free(b64);
        }
        {
            /* transitions = B(levels): the count of all flips. */
            uint64_t pos = 0, scratch[1024];
            size_t k;
            while ((k = tb_flips_next(bits, points, &pos, scratch, 1024)) > 0)
                total += k;
        }
        /* On failure json_pack has released the "o" values (OOM only). */
        doc =
            lrs && ids && labels
                ? json_pack("{s:I, s:I, s:{s:f, s:f, s:i, s:f}, s:I, s:I, s:o,"
                            " s:{s:I, s:I, s:I, s:o, s:o, s:o}, s:o}",
                            "job", (json_int_t)id, "points", (json_int_t)points, "lr", "min", lo,
                            "max", hi, "levels", levels, "step", h, "divergent_points",
                            (json_int_t)tb_labels_popcount(bits, points), "transitions",
                            (json_int_t)total, "first_divergent_lr",
                            first < 0 ? json_null()
                                      : json_real(tb_grid_lr(&spec.core, (uint64_t)first)),
                            "flips", "offset", (json_int_t)offset, "limit", (json_int_t)limit,
                            "count", (json_int_t)got, "lr", lrs, "index", ids, "next_offset",
                            more ? json_integer((json_int_t)(offset + (int64_t)got)) : json_null(),
                            "labels", labels)
                : NULL;
        http_response_json(resp, 200, CT_JSON, doc);
        cache_headers(resp, etag);
    }
out:
    free(idx);
    free(bits);
    if (have_spec)
        codec_spec_free(&spec);
    job_free(&job);
}

/* ---- dispatch ----------------------------------------------------------- */

/* Answers 404 / 405 / OPTIONS for a request whose route did not match or
 * whose method is not allowed. Returns 1 after answering. */
static int route_or_answer(const struct http_request *req, struct http_response *resp,
                           struct route_match *m)
{
    int rc = router_match(req->method, req->path, m);

    if (rc == ROUTER_ENOTFOUND) {
        problem(resp, req, PROBLEM_NOT_FOUND, "no route %.200s", req->path);
        return 1;
    }
    if (rc == ROUTER_EMETHOD) {
        problem(resp, req, PROBLEM_METHOD_NOT_ALLOWED, "%.16s is not allowed on %.200s; use %s",
                req->method, m->name, m->allow);
        http_response_header(resp, "Allow", m->allow);
        return 1;
    }
    if (strcmp(req->method, "OPTIONS") == 0) {
        http_response_body(resp, 204, NULL, NULL, 0);
        http_response_header(resp, "Allow", m->allow);
        return 1;
    }
    return 0;
}

static int64_t on_headers(void *user, const struct http_request *req, struct http_response *resp)
{
    struct app *app = user;
    struct route_match m;

    if (route_or_answer(req, resp, &m))
        return -1;
    if (!m.has_body)
        return 0;
    if (!router_is_json_type(http_header(req, "Content-Type"))) {
        const char *ct = http_header(req, "Content-Type");
        problem(resp, req, PROBLEM_UNSUPPORTED_MEDIA,
                "send the spec as application/json (UTF-8), not %.100s",
                ct ? ct : "a body without Content-Type");
        return -1;
    }
    if (req->content_length >= 0 && (uint64_t)req->content_length > app->cfg->max_body) {
        problem(resp, req, PROBLEM_BODY_TOO_LARGE,
                "the body is %" PRId64 " bytes, over the limit of %" PRIu64 " bytes (--max-body)",
                req->content_length, app->cfg->max_body);
        return -1;
    }
    return (int64_t)app->cfg->max_body;
}

static void on_handle(void *user, const struct http_request *req, struct http_response *resp)
{
    struct app *app = user;
    struct route_match m;
    const int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;

    if (route_or_answer(req, resp, &m))
        return;
    switch (m.id) {
    case ROUTE_HEALTHZ:
        get_healthz(app, req, resp);
        return;
    case ROUTE_READYZ:
        get_readyz(app, req, resp);
        return;
    case ROUTE_OPENAPI:
        get_openapi(app, req, resp);
        return;
    case ROUTE_JOBS:
        if (get)
            get_jobs(app, req, resp);
        else
            post_jobs(app, req, resp);
        return;
    case ROUTE_JOB:
        if (get)
            get_job(app, req, resp, m.job_id);
        else
            delete_job(app, req, resp, m.job_id);
        return;
    case ROUTE_JOB_RESULT:
        get_result(app, req, resp, m.job_id);
        return;
    case ROUTE_JOB_DIMENSION:
        get_dimension(app, req, resp, m.job_id);
        return;
    case ROUTE_JOB_BOUNDARY:
        get_boundary(app, req, resp, m.job_id);
        return;
    case ROUTE_JOB_CANCEL:
        post_cancel(app, req, resp, m.job_id);
        return;
    case ROUTE_NONE:
        break;
    }
    problem(resp, req, PROBLEM_NOT_FOUND, "no route %.200s", req->path);
}

static const char *on_route_name(void *user, const char *method, const char *path)
{
    struct route_match m;

    (void)user;
    router_match(method, path, &m);
    return m.name;
}

void routes_handlers(struct app *app, struct http_handlers *h)
{
    h->headers = on_headers;
    h->handle = on_handle;
    h->route_name = on_route_name;
    h->user = app;
}
