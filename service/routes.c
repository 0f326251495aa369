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
 * QUEUE_EBUSY past the busy timeout becomes 503 with Retry-After. The one
 * long read, a job's whole labels for /boundary, runs on the reader
 * thread (reader.h) while its request waits deferred (http_defer()).
 */
#include "routes.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "base64.h"
#include "boundary.h"
#include "clock.h"
#include "cors.h"
#include "embed.h"
#include "log.h"
#include "jsonfmt.h"
#include "kind.h"
#include "metrics.h"
#include "npy.h"
#include "pngenc.h"
#include "pool.h"
#include "problem.h"
#include "queue.h"
#include "reader.h"
#include "router.h"
#include "queue_study.h"
#include "sha256.h"
#include "study.h"
#include "studyjob.h"
#include "sse.h"
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
#define CT_NPY "application/octet-stream"
#define CT_PNG "image/png"

/* The counters of the running server, for the busy count in problem()
 * (loop thread; set by routes_handlers()). */
static struct metrics *route_metrics;

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

/* ---- content negotiation ------------------------------------------------ */

static const char *const offer_json[] = {CT_JSON};

/* The representation Accept asks for among offered (n; offered[0] is the
 * default, also for an absent Accept and for wildcards): its index, or
 * -1 after answering 406 naming what the route offers. Call it only when
 * no format= parameter chose the representation. */
static int negotiate(const struct http_request *req, struct http_response *resp,
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
static int unknown_params(const struct http_request *req, struct http_response *resp,
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

/* Answers a body the codec (or the study parser) refused: 400 for text
 * that is not JSON, 422 with errors[] for an invalid `what` ("spec" or
 * "study"), 500 when memory ran out. Frees errs (taken) in every case.
 * Returns 1 after answering, 0 when rc is CODEC_OK. */
static int parse_refused(const struct http_request *req, struct http_response *resp, int rc,
                         struct codec_errors *errs, const char *what)
{
    if (rc == CODEC_EJSON) {
        problem(resp, req, PROBLEM_MALFORMED_JSON, "%s",
                errs->n > 0 ? errs->e[0].message : "the body is not JSON");
    } else if (rc == CODEC_EINVALID) {
        json_t *doc =
            problem_new(PROBLEM_INVALID_SPEC, req->path, "the %s has %d problem%s%s; see errors",
                        what, errs->n, errs->n == 1 ? "" : "s",
                        errs->truncated ? " (or more)" : "");
        if (doc && problem_add_codec_errors(doc, errs) != 0) {
            json_decref(doc);
            doc = NULL;
        }
        http_response_json(resp, 422, CT_PROBLEM, doc);
    } else if (rc != CODEC_OK) {
        problem(resp, req, PROBLEM_INTERNAL, "out of memory while reading the %s", what);
    }
    free(errs);
    return rc != CODEC_OK;
}

/* What a job's resource has besides view_job()'s fields (a study's cells),
 * added to doc (a new view_job() object, taken and returned). */
static json_t *job_view(struct app *app, const struct job *job, json_t *doc)
{
    return kind_study.view(app->store, job, doc);
}

/* POST /v1/jobs: the body is parsed as JSON once; its kind (a study has
 * "vary") validates it against the server's limits and plans its tiles. */
static void post_jobs(struct app *app, const struct http_request *req, struct http_response *resp)
{
    static const char *const params[] = {"reuse", NULL};
    struct codec_errors *errs;
    const struct job_kind *kind;
    struct kind_submit_opts o;
    struct kind_submitted *sub;
    struct kind_spec *spec = NULL;
    char path[VIEW_PATH_LEN], etag[VIEW_ETAG_LEN];
    const char *idem = http_header(req, "Idempotency-Key");
    int64_t now = clock_now_ms();
    const char *rv = http_query(req, "reuse");
    json_t *root = NULL;
    int rc, reuse = 1;

    if (unknown_params(req, resp, params))
        return;
    /* reuse=false: a study computes every cell, taking none from the store.
     * A sweep never takes tiles from other jobs, so it has no effect there. */
    if (rv && router_parse_bool(rv, &reuse) != 0) {
        param_problem(resp, req, PROBLEM_INVALID_PARAMETER, "reuse",
                      "reuse must be true or false, got \"%.64s\"", rv);
        return;
    }
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
    rc = codec_load_json(req->body, req->body_len, &root, errs);
    kind = rc == CODEC_OK ? kind_of_body(root) : &kind_sweep;
    if (rc == CODEC_OK)
        rc = kind->parse(root, &app->limits, &spec, errs);
    json_decref(root);
    if (parse_refused(req, resp, rc, errs, kind->noun))
        return;
    memset(&o, 0, sizeof o);
    o.source = req->body;
    o.source_len = req->body_len;
    o.workers = app->cfg->workers;
    o.tile_points = app->cfg->tile_points;
    o.idem_key = idem;
    o.max_queued = app->cfg->max_queued;
    o.reuse = reuse;
    sub = xmalloc(sizeof *sub);
    rc = kind->submit(app->store, spec, &o, now, sub);
    kind->free_spec(spec);
    if (rc == QUEUE_ECONFLICT) {
        problem(resp, req, PROBLEM_IDEMPOTENCY_REUSE,
                "Idempotency-Key \"%.64s\" was used before with a different spec", idem);
    } else if (rc == QUEUE_EFULL) {
        problem(resp, req, PROBLEM_QUEUE_FULL,
                "%" PRId64 " jobs are queued or running (--max-queued); retry later",
                app->cfg->max_queued);
    } else if (rc == QUEUE_EINVAL && sub->reason[0]) {
        problem(resp, req, PROBLEM_INVALID_SPEC, "%s", sub->reason);
    } else if (rc != QUEUE_OK) {
        queue_problem(resp, req, rc, "saving the job");
    } else {
        struct job *job = &sub->job;
        view_job_path(job->id, path);
        view_etag(job, etag);
        http_response_json(resp, sub->replayed ? 200 : 202, CT_JSON,
                           kind->view(app->store, job, view_job(job, 1, now)));
        http_response_header(resp, "Location", path);
        cache_headers(resp, etag);
        if (sub->replayed) {
            http_response_header(resp, "Idempotent-Replayed", "true");
        } else {
            if (kind->units) /* a study: its cells, and those taken from the store */
                log_event(LOG_INFO, "job_state", "s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:s*",
                          "job", (json_int_t)job->id, "status", job_status_name(job->status),
                          "kind", kind->name, kind->units, (json_int_t)sub->units,
                          kind->units_from_store, (json_int_t)sub->from_store, "points",
                          (json_int_t)job->points_total, "tiles", (json_int_t)job->tiles_total,
                          "name", job->name);
            else
                log_event(LOG_INFO, "job_state", "s:I, s:s, s:I, s:I, s:s*", "job",
                          (json_int_t)job->id, "status", "queued", "points",
                          (json_int_t)job->points_total, "tiles", (json_int_t)job->tiles_total,
                          "name", job->name);
            if (app->pool) {
                pool_kick(app->pool);
                if (sub->from_store > 0)
                    pool_analyze_job(app->pool, job->id);
            }
        }
    }
    job_free(&sub->job);
    free(sub);
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

    if (unknown_params(req, resp, params) || negotiate(req, resp, offer_json, 1) < 0)
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
    {
        /* A weak ETag over what the page shows: its ids and revisions. */
        char etag[VIEW_ETAG_LEN], hash[SHA256_HEX_LEN], *key = xmalloc((size_t)n * 44 + 128);
        size_t kl = (size_t)snprintf(key, 128, "%s|%" PRId64 "|%" PRId64 "|%" PRId64, sv ? sv : "",
                                     cursor, limit, next);
        for (i = 0; i < n; i++)
            kl += (size_t)snprintf(key + kl, 44, ",%" PRId64 ":%" PRId64, jobs[i].id,
                                   jobs[i].revision);
        sha256_hex(key, kl, hash);
        free(key);
        snprintf(etag, sizeof etag, "W/\"l-%.24s\"", hash);
        if (not_modified(req, resp, etag)) {
            for (i = 0; i < n; i++)
                job_free(&jobs[i]);
            free(jobs);
            return;
        }
        http_response_header(resp, "ETag", etag);
    }
    items = json_array();
    for (i = 0; i < n; i++) {
        if (items &&
            json_array_append_new(items, job_view(app, &jobs[i], view_job(&jobs[i], 0, now))) !=
                0) {
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

    if (unknown_params(req, resp, params) || negotiate(req, resp, offer_json, 1) < 0 ||
        load_job(app, req, resp, id, &job) != 0)
        return;
    view_etag(&job, etag);
    if (!not_modified(req, resp, etag)) {
        http_response_json(resp, 200, CT_JSON,
                           job_view(app, &job, view_job(&job, 1, clock_now_ms())));
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
    sse_job_changed(app->sse, id); /* streams get "deleted" and end */
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
        http_response_json(resp, 200, CT_JSON,
                           job_view(app, &before, view_job(&before, 1, clock_now_ms())));
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
    sse_job_changed(app->sse, id); /* streams get the terminal state */
    log_event(LOG_INFO, "job_state", "s:I, s:s, s:I", "job", (json_int_t)id, "status", "canceled",
              "points_done", (json_int_t)after.points_done);
    /* 202 when tiles were running: they stop within moments. */
    status = before.status == JOB_RUNNING ? 202 : 200;
    view_etag(&after, etag);
    http_response_json(resp, status, CT_JSON,
                       job_view(app, &after, view_job(&after, 1, clock_now_ms())));
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

    if (unknown_params(req, resp, params) || negotiate(req, resp, offer_json, 1) < 0 ||
        load_job(app, req, resp, id, &job) != 0)
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
    struct codec_errors *errs;
    int rc;

    if (study_is_study(job->spec_json, strlen(job->spec_json))) {
        problem(resp, req, PROBLEM_NOT_FOUND,
                "job %" PRId64 " is a study: its dimensions are per cell, at /v1/jobs/%" PRId64
                "/cells",
                job->id, job->id);
        return -1;
    }
    errs = xmalloc(sizeof *errs);
    rc = codec_parse_spec(job->spec_json, strlen(job->spec_json), &lim, spec, errs);
    free(errs);
    if (rc != CODEC_OK) {
        problem(resp, req, PROBLEM_INTERNAL, "the stored spec of job %" PRId64 " does not parse",
                job->id);
        return -1;
    }
    return 0;
}

/* Reads an optional fit-window integer: as int_param over the int range,
 * but a value that is not one says the range that fits this job, lo..hi
 * (why: `why`), not the int range. 1 present, 0 absent, -1 after 400. */
static int window_param(const struct http_request *req, struct http_response *resp,
                        const char *name, int lo, int hi, const char *why, int64_t *out)
{
    const char *v = http_query(req, name);

    if (!v)
        return 0;
    if (router_parse_int(v, INT_MIN, INT_MAX, out) != 0) {
        param_problem(resp, req, PROBLEM_INVALID_PARAMETER, name,
                      "%s must be an integer in %d..%d (%s), got \"%.64s\"", name, lo, hi, why, v);
        return -1;
    }
    return 1;
}

static void get_dimension(struct app *app, const struct http_request *req,
                          struct http_response *resp, int64_t id)
{
    static const char *const params[] = {"min_level", "max_level", "min_levels", "format", NULL};
    static const char *const offered[] = {CT_JSON, CT_NPY};
    const char *fmt = http_query(req, "format");
    uint64_t counts[TB_MAX_REPLICATES][TB_MAX_LEVELS + 1]; /* about 8 KiB */
    struct tb_fit fits[TB_MAX_REPLICATES];
    char etag[VIEW_ETAG_LEN];
    struct codec_spec spec;
    struct tb_fit_opts opts;
    struct job job;
    int64_t v;
    int levels, refit = 0, r, n, have_spec = 0, reps = 0;
    json_t *doc, *carr, *dim;

    if (unknown_params(req, resp, params))
        return;
    if (fmt && strcmp(fmt, "json") != 0 && strcmp(fmt, "npy") != 0) {
        param_problem(resp, req, PROBLEM_INVALID_PARAMETER, "format",
                      "format must be json or npy, got \"%.64s\"", fmt);
        return;
    }
    if (!fmt) { /* no format=: Accept chooses */
        int k = negotiate(req, resp, offered, 2);
        if (k < 0)
            return;
        fmt = k == 1 ? "npy" : NULL;
    }
    if (load_job(app, req, resp, id, &job) != 0)
        return;
    if (require_succeeded(req, resp, &job) != 0 || job_spec(req, resp, &job, &spec) != 0)
        goto out;
    have_spec = 1;
    levels = spec.core.axes[0].levels;
    opts = spec.fit;
    /* Syntax first (400), then the window against the job's levels (422);
     * both name the job's real range. */
    if ((r = window_param(req, resp, "min_level", 0, levels, "the job's lr.levels", &v)) < 0)
        goto out;
    if (r > 0) {
        opts.min_level = (int)v;
        refit = 1;
    }
    if ((r = window_param(req, resp, "max_level", opts.min_level, levels,
                          "min_level..the job's lr.levels", &v)) < 0)
        goto out;
    if (r > 0) {
        opts.max_level = (int)v;
        refit = 1;
    }
    if ((r = window_param(req, resp, "min_levels", 3, TB_MAX_LEVELS + 1, "at least 3 levels", &v)) <
        0)
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
    /* Every replicate's counts were stored with the summary (and are in
     * the result); each replicate is refitted over the window. */
    if (codec_result_rep_counts(job.summary_json, levels, counts, &reps) != CODEC_OK ||
        reps != tb_replicates(&spec.core)) {
        char *text = NULL;
        int rc = queue_get_result(app->store, id, &text);
        if (rc != QUEUE_OK || codec_result_rep_counts(text, levels, counts, &reps) != CODEC_OK) {
            free(text);
            problem(resp, req, PROBLEM_INTERNAL, "job %" PRId64 " has no stored counts", id);
            goto out;
        }
        free(text);
    }
    for (r = 0; r < reps; r++)
        if (tb_fit_dimension(counts[r], levels, &opts, &fits[r]) != TB_OK) {
            problem(resp, req, PROBLEM_INVALID_WINDOW, "the fit window %d..%d is not usable",
                    opts.min_level, opts.max_level);
            goto out;
        }
    if (fmt && strcmp(fmt, "npy") == 0) {
        /* B(n) for n = 0..levels as a 1-D <u8 array. */
        char *out = xmalloc(NPY_HEADER_MAX + 8 * ((size_t)levels + 1));
        size_t hl = 0;
        npy_header(out, NPY_HEADER_MAX, "<u8", (uint64_t)levels + 1, &hl);
        npy_put_u64le(counts[0], (size_t)levels + 1, (unsigned char *)out + hl);
        http_response_body(resp, 200, CT_NPY, out, hl + 8 * ((size_t)levels + 1));
        http_response_header(resp, "Content-Disposition", "attachment; filename=\"counts.npy\"");
        cache_headers(resp, etag);
        goto out;
    }
    carr = json_array();
    for (n = 0; carr && n <= levels; n++)
        json_array_append_new(carr, json_integer((json_int_t)counts[0][n]));
    dim = codec_dimension_reps_json(fits, (const uint64_t(*)[TB_MAX_LEVELS + 1])counts, reps,
                                    levels, &opts);
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

#define CT_CSV "text/csv; charset=utf-8"

/* Answers 200 with a CSV text (taken) and the job's cache headers: the
 * one way /cells and /boundary send CSV. */
static void csv_answer(struct http_response *resp, const char *etag, char *csv)
{
    http_response_body(resp, 200, CT_CSV, csv, strlen(csv));
    cache_headers(resp, etag);
}

/* A /boundary request whose labels are loaded and encoded by the reader
 * thread (boundary.h, reader.h): the task, the work and the deferred
 * request it answers. Owned by get_boundary() until submitted, then by
 * the reader until boundary_done(), which answers and frees it. */
struct boundary_task {
    struct reader_task task; /* first member: the reader hands it back */
    struct app *app;
    struct http_deferred *deferred; /* NULL when run on the loop thread */
    struct boundary_work w;
    int status; /* boundary_build()'s, set by the reader thread */
    char etag[VIEW_ETAG_LEN];
};

/* The NumPy body, a block at a time from the packed labels. */
static long boundary_npy_stream(void *user, struct http_stream *st, char *buf, size_t max)
{
    struct boundary_task *bt = user;
    size_t n = boundary_npy_read(&bt->w, buf, max);

    (void)st;
    return n > 0 ? (long)n : HTTP_STREAM_END;
}

static void boundary_task_free(void *user)
{
    struct boundary_task *bt = user;

    boundary_work_free(&bt->w);
    free(bt);
}

/* Fills resp from a built boundary, rc being boundary_build()'s (the same
 * answers, headers and problems whichever thread built it), and frees bt
 * or hands it to the NumPy stream. */
static void boundary_answer(struct boundary_task *bt, int rc, const struct http_request *req,
                            struct http_response *resp)
{
    struct boundary_work *w = &bt->w;
    const char *etag = bt->etag;
    char num[32];

    switch (rc) {
    case BOUNDARY_OK:
        break;
    case BOUNDARY_ENOMEM:
        problem(resp, req, PROBLEM_INTERNAL, "out of memory for %" PRIu64 " labels", w->points);
        goto out;
    case BOUNDARY_ELOAD:
        queue_problem(resp, req, w->queue_rc, "loading the labels");
        goto out;
    case BOUNDARY_EPNG:
        problem(resp, req, PROBLEM_INTERNAL, "the PNG of job %" PRId64 " failed", w->job_id);
        goto out;
    default: /* BOUNDARY_EENCODE */
        http_response_json(resp, 200, CT_JSON, NULL); /* the out-of-memory 500 */
        cache_headers(resp, etag);
        goto out;
    }
    switch (w->format) {
    case BOUNDARY_NPY: /* one bool byte per point, unpacked as it is sent */
        http_response_stream_sized(resp, 200, CT_NPY, boundary_npy_size(w), boundary_npy_stream,
                                   boundary_task_free, bt);
        http_response_header(resp, "Content-Disposition", "attachment; filename=\"labels.npy\"");
        cache_headers(resp, etag);
        return; /* bt is the stream's now */
    case BOUNDARY_CSV:
        csv_answer(resp, etag, w->body);
        w->body = NULL;
        if (w->more) {
            char link[128];
            snprintf(link, sizeof link,
                     "</v1/jobs/%" PRId64 "/boundary?format=csv&offset=%" PRIu64 "&limit=%zu"
                     ">; rel=\"next\"",
                     w->job_id, w->offset + (uint64_t)w->got, w->limit);
            http_response_header(resp, "Link", link);
        }
        break;
    case BOUNDARY_PNG:
        http_response_body(resp, 200, CT_PNG, w->body, w->body_len);
        w->body = NULL;
        cache_headers(resp, etag);
        break;
    case BOUNDARY_WORDS:
        http_response_body(resp, 200, CT_OCTETS, w->body, w->body_len);
        w->body = NULL;
        snprintf(num, sizeof num, "%" PRIu64, w->points);
        http_response_header(resp, "X-Points", num);
        snprintf(num, sizeof num, "%" PRIu64, w->words);
        http_response_header(resp, "X-Label-Words", num);
        http_response_header(resp, "X-Label-Format", "uint64-le-lsb0");
        cache_headers(resp, etag);
        break;
    case BOUNDARY_JSON:
        http_response_body(resp, 200, CT_JSON, w->body, w->body_len);
        w->body = NULL;
        cache_headers(resp, etag);
        break;
    }
out:
    boundary_task_free(bt);
}

static void add_cors(struct app *app, const struct http_request *req, struct http_response *resp);

/* On the reader thread, with its store. */
static void boundary_work_run(struct reader_task *t, struct store *s)
{
    struct boundary_task *bt = (struct boundary_task *)t;

    bt->status = boundary_build(s, &bt->w);
}

/* Back on the loop thread, the task ran or was dropped (rc, reader.h):
 * answer the deferred request. */
static void boundary_done(struct reader_task *t, int rc)
{
    struct boundary_task *bt = (struct boundary_task *)t;
    struct app *app = bt->app;
    struct http_deferred *d = bt->deferred;
    const struct http_request *req = http_deferred_request(d);
    struct http_response *resp = http_deferred_response(d);

    if (rc == 0) {
        boundary_answer(bt, bt->status, req, resp);
    } else {
        if (rc == READER_ECANCELED)
            problem(resp, req, PROBLEM_NOT_READY, "the server is shutting down");
        else /* the reader's store could not be opened */
            queue_problem(resp, req, rc, "loading the labels");
        boundary_task_free(bt);
    }
    add_cors(app, req, resp); /* on_handle_cors() left it to the answer */
    http_deferred_resume(d);
}

/*
 * GET /v1/jobs/{id}/boundary (and boundary.png). The request, the job and
 * its ETag (304) are checked here; loading every label and encoding them
 * takes the reader thread (reader.h), so the loop goes on serving while a
 * large job's labels are read: the request is deferred (http_defer()) and
 * answered from boundary_done(). Without a reader, it all runs here.
 */
static void get_boundary(struct app *app, const struct http_request *req,
                         struct http_response *resp, int64_t id)
{
    static const char *const params[] = {"offset", "limit", "labels", "format", NULL};
    static const char *const offered[] = {CT_JSON, "text/csv", CT_OCTETS, CT_PNG};
    int binary = 0;
    const size_t plen = strlen(req->path);
    const char *fmt =
        plen > 4 && strcmp(req->path + plen - 4, ".png") == 0 ? "png" : http_query(req, "format");
    char etag[VIEW_ETAG_LEN];
    struct codec_spec spec;
    struct job job;
    struct boundary_task *bt;
    int64_t offset = 0, limit = FLIPS_DEFAULT_LIMIT;
    int with_labels = 0; /* labels: opt-in */
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
    if (fmt && strcmp(fmt, "json") != 0 && strcmp(fmt, "npy") != 0 && strcmp(fmt, "png") != 0 &&
        strcmp(fmt, "csv") != 0) {
        param_problem(resp, req, PROBLEM_INVALID_PARAMETER, "format",
                      "format must be json, csv, npy or png, got \"%.64s\"", fmt);
        return;
    }
    if (!fmt) { /* no format= (nor .png): Accept chooses */
        int k = negotiate(req, resp, offered, 4);
        if (k < 0)
            return;
        fmt = k == 1 ? "csv" : k == 3 ? "png" : NULL;
        binary = k == 2;
    }
    if (fmt && strcmp(fmt, "json") == 0)
        fmt = NULL;
    if (load_job(app, req, resp, id, &job) != 0)
        return;
    if (require_succeeded(req, resp, &job) != 0 || job_spec(req, resp, &job, &spec) != 0) {
        job_free(&job);
        return;
    }
    view_etag(&job, etag);
    if (not_modified(req, resp, etag)) {
        job_free(&job);
        codec_spec_free(&spec);
        return;
    }
    bt = xcalloc(1, sizeof *bt);
    bt->app = app;
    bt->w.job_id = id;
    job_free(&job);
    bt->w.spec = spec.core;
    bt->w.spec.x0 = NULL; /* owned by spec, freed below; never read */
    codec_spec_free(&spec);
    bt->w.format = !fmt                       ? (binary ? BOUNDARY_WORDS : BOUNDARY_JSON)
                   : strcmp(fmt, "npy") == 0 ? BOUNDARY_NPY
                   : strcmp(fmt, "csv") == 0 ? BOUNDARY_CSV
                                             : BOUNDARY_PNG;
    bt->w.with_labels = with_labels;
    bt->w.offset = (uint64_t)offset;
    bt->w.limit = (size_t)limit;
    snprintf(bt->etag, sizeof bt->etag, "%s", etag);
    bt->task.work = boundary_work_run;
    bt->task.done = boundary_done;
    if (app->reader) {
        bt->deferred = http_defer(req);
        if (reader_submit(app->reader, &bt->task) == 0)
            return; /* boundary_done() answers */
        bt->deferred = NULL; /* the reader is closing: answer here */
    }
    boundary_answer(bt, boundary_build(app->store, &bt->w), req, resp);
}

/* ---- live progress, operations, the dashboard --------------------------- */

static void get_events(struct app *app, const struct http_request *req, struct http_response *resp,
                       int64_t id)
{
    static const char *const params[] = {NULL};
    const char *lv = http_header(req, "Last-Event-ID");
    int64_t last = -1;
    struct job job;

    if (unknown_params(req, resp, params))
        return;
    if (lv && *lv && router_parse_int(lv, 0, INT64_MAX, &last) != 0) {
        param_problem(resp, req, PROBLEM_INVALID_PARAMETER, "Last-Event-ID",
                      "Last-Event-ID must be an event id this server sent, got \"%.64s\"", lv);
        return;
    }
    if (load_job(app, req, resp, id, &job) != 0)
        return;
    job_free(&job);
    if (!app->sse || app->draining) {
        problem(resp, req, PROBLEM_NOT_READY, "event streams are not available now");
        return;
    }
    if (sse_open(app->sse, id, last, resp) != 0)
        problem(resp, req, PROBLEM_INTERNAL, "out of memory for an event stream");
}

static void get_metrics(struct app *app, const struct http_request *req, struct http_response *resp)
{
    static const char *const params[] = {NULL};
    struct metrics_gauges g;
    size_t len = 0;
    char *text;

    if (unknown_params(req, resp, params))
        return;
    memset(&g, 0, sizeof g);
    g.have_jobs = queue_counts(app->store, g.jobs) == QUEUE_OK;
    g.running_tiles = app->pool ? pool_in_flight(app->pool) : 0;
    g.sse_clients = sse_clients(app->sse);
    text = metrics_render(app->metrics, &g, clock_mono_ms(), &len);
    if (!text) {
        problem(resp, req, PROBLEM_INTERNAL, "no metrics in this process");
        return;
    }
    http_response_body(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    http_response_header(resp, "Cache-Control", "no-store");
}

/* The embedded file whose name ends with suffix (after a '/'), or NULL. */
static const struct embed_file *asset(const char *suffix)
{
    size_t i, n = strlen(suffix);

    for (i = 0; i < assets_count && assets_files[i].name; i++) {
        size_t k = strlen(assets_files[i].name);
        if (k > n && strcmp(assets_files[i].name + k - n, suffix) == 0 &&
            assets_files[i].name[k - n - 1] == '/')
            return &assets_files[i];
    }
    return NULL;
}

static void send_asset(struct http_response *resp, const struct embed_file *f, const char *type)
{
    char *copy = xmalloc(f->len + 1);

    memcpy(copy, f->data, f->len + 1);
    http_response_body(resp, 200, type, copy, f->len);
    http_response_header(resp, "Cache-Control", "no-cache");
    http_response_header(resp, "X-Content-Type-Options", "nosniff");
}

static void get_openapi_json(struct app *app, const struct http_request *req,
                             struct http_response *resp)
{
    const struct embed_file *f = asset("gen/openapi.json");

    (void)app;
    if (f)
        send_asset(resp, f, CT_JSON);
    else
        problem(resp, req, PROBLEM_NOT_FOUND, "this build embeds no openapi.json");
}

/* GET / and /web/FILE: service/web/index.html and service/web/FILE;
 * /web/examples/NAME.json is api/examples/NAME.json. */
static void get_web(struct app *app, const struct http_request *req, struct http_response *resp)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".svg", "image/svg+xml"},
                 {".json", CT_JSON},
                 {".txt", "text/plain; charset=utf-8"}};
    char name[256];
    const struct embed_file *f = NULL;
    const char *type = CT_OCTETS;
    size_t i, n;

    (void)app;
    if (strcmp(req->path, "/") == 0)
        snprintf(name, sizeof name, "service/web/index.html");
    else if (strncmp(req->path, "/web/examples/", 14) == 0 && strlen(req->path) < 200 &&
             !strchr(req->path + 14, '/'))
        snprintf(name, sizeof name, "api/examples/%s", req->path + 14); /* the presets */
    else if (strlen(req->path) < 200 && !strstr(req->path, ".."))
        snprintf(name, sizeof name, "service/web/%s", req->path + 5);
    else
        name[0] = '\0';
    for (i = 0; name[0] && i < assets_count && assets_files[i].name; i++)
        if (strcmp(assets_files[i].name, name) == 0)
            f = &assets_files[i];
    if (!f) {
        problem(resp, req, PROBLEM_NOT_FOUND, "no file %.200s", req->path);
        return;
    }
    n = strlen(name);
    for (i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t k = strlen(types[i].ext);
        if (n > k && strcmp(name + n - k, types[i].ext) == 0)
            type = types[i].type;
    }
    send_asset(resp, f, type);
    http_response_header(resp, "Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data: blob:; "
                         "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
}

/* ---- studies (issue 4) -------------------------------------------------- */

#define CELLS_DEFAULT_LIMIT 100
#define CELLS_MAX_LIMIT 1000

/* The heat map of D over a finished study's grid as a PNG: rows are the
 * first vary parameter, columns the second (one row for one parameter or
 * zip); convex cells (theta <= theta_c) are framed in white. result_json
 * is the stored study result (borrowed). 0, or -1 on a malformed result. */
static int study_heatmap_png(const char *result_json, unsigned char **png, size_t *len)
{
    json_t *doc = json_loads(result_json, 0, NULL), *axes, *cells, *row;
    double *v = NULL, vmax = 0;
    unsigned char *mark = NULL, *rgb = NULL;
    size_t n, i;
    int rows = 1, cols, cell, rc = -1;

    axes = json_object_get(doc, "axes");
    cells = json_object_get(doc, "cells");
    n = json_array_size(cells);
    if (!json_is_array(axes) || n == 0)
        goto out;
    cols = (int)n;
    if (json_array_size(axes) == 2 && json_is_string(json_object_get(doc, "combine")) &&
        strcmp(json_string_value(json_object_get(doc, "combine")), "product") == 0) {
        rows = (int)json_array_size(json_object_get(json_array_get(axes, 0), "values"));
        cols = (int)json_array_size(json_object_get(json_array_get(axes, 1), "values"));
        if (rows < 1 || cols < 1 || (size_t)rows * (size_t)cols != n)
            goto out;
    }
    cell = 512 / (rows > cols ? rows : cols);
    cell = cell < 4 ? 4 : cell > 64 ? 64 : cell;
    if (cols * cell > PNG_MAX_SIDE)
        cell = PNG_MAX_SIDE / cols;
    if (rows * cell > PNG_MAX_SIDE || cell < 1)
        goto out;
    v = xcalloc(n, sizeof *v);
    mark = xcalloc(n, 1);
    for (i = 0; i < n; i++) {
        json_t *d, *th, *cr;
        row = json_array_get(cells, i);
        d = json_object_get(row, "D");
        th = json_object_get(row, "theta");
        cr = json_object_get(row, "critical");
        v[i] = json_is_number(d) ? json_number_value(d) : NAN;
        if (v[i] > vmax)
            vmax = v[i];
        mark[i] = json_is_number(th) && json_is_number(cr) &&
                  json_number_value(th) <= json_number_value(cr);
    }
    rgb = xmalloc((size_t)rows * cell * (size_t)cols * cell * 3);
    if (png_draw_heatmap(v, mark, rows, cols, cell, vmax, rgb) == 0 &&
        png_encode_rgb(rgb, cols * cell, rows * cell, png, len) == 0)
        rc = 0;
out:
    free(v);
    free(mark);
    free(rgb);
    json_decref(doc);
    return rc;
}

/* The heat map of a succeeded study (GET .../cells?format=png), drawn from
 * its stored result by the reader thread (reader.h) like /boundary: owned
 * by get_cells() until submitted, by the reader until heatmap_done(). */
struct heatmap_task {
    struct reader_task task; /* first member */
    struct app *app;
    struct http_deferred *deferred; /* NULL when run on the loop thread */
    int64_t job_id;
    char etag[VIEW_ETAG_LEN];
    int queue_rc, png_rc;     /* queue_get_result()'s, study_heatmap_png()'s */
    unsigned char *png;       /* owned */
    size_t png_len;
};

/* Reads the result and draws the map, with whichever thread's store. */
static void heatmap_build(struct heatmap_task *ht, struct store *s)
{
    char *result = NULL;

    ht->queue_rc = queue_get_result(s, ht->job_id, &result);
    if (ht->queue_rc == QUEUE_OK)
        ht->png_rc = study_heatmap_png(result, &ht->png, &ht->png_len);
    free(result);
}

/* Fills resp from a built map (the answers get_cells() always gave) and
 * frees ht. */
static void heatmap_answer(struct heatmap_task *ht, const struct http_request *req,
                           struct http_response *resp)
{
    if (ht->queue_rc != QUEUE_OK) {
        queue_problem(resp, req, ht->queue_rc, "reading the result");
    } else if (ht->png_rc != 0) {
        problem(resp, req, PROBLEM_INTERNAL, "the heat map of study %" PRId64 " failed",
                ht->job_id);
    } else {
        http_response_body(resp, 200, CT_PNG, (char *)ht->png, ht->png_len);
        ht->png = NULL;
        cache_headers(resp, ht->etag);
    }
    free(ht->png);
    free(ht);
}

static void heatmap_work(struct reader_task *t, struct store *s)
{
    heatmap_build((struct heatmap_task *)t, s);
}

/* Back on the loop thread (rc: reader.h): answer the deferred request. */
static void heatmap_done(struct reader_task *t, int rc)
{
    struct heatmap_task *ht = (struct heatmap_task *)t;
    struct app *app = ht->app;
    struct http_deferred *d = ht->deferred;
    const struct http_request *req = http_deferred_request(d);
    struct http_response *resp = http_deferred_response(d);

    if (rc == 0) {
        heatmap_answer(ht, req, resp);
    } else {
        if (rc == READER_ECANCELED)
            problem(resp, req, PROBLEM_NOT_READY, "the server is shutting down");
        else /* the reader's store could not be opened */
            queue_problem(resp, req, rc, "reading the result");
        free(ht);
    }
    add_cors(app, req, resp); /* on_handle_cors() left it to the answer */
    http_deferred_resume(d);
}

/* GET /v1/jobs/{id}/cells?offset=&limit=&format=json|csv|png: the study's
 * cells in index order, each with its status; a done cell's item is its
 * row as in the result. format=csv: the table (text/csv) once succeeded;
 * format=png: the heat map of D over the grid, once succeeded. */
static void get_cells(struct app *app, const struct http_request *req, struct http_response *resp,
                      int64_t id)
{
    static const char *const params[] = {"offset", "limit", "format", NULL};
    static const char *const offered[] = {CT_JSON, "text/csv", CT_PNG};
    const char *fv = http_query(req, "format");
    int64_t offset = 0, limit = CELLS_DEFAULT_LIMIT;
    char etag[VIEW_ETAG_LEN], *csv = NULL;
    struct study_info info;
    struct study_cell *cells = NULL;
    struct job job;
    json_t *items, *doc;
    int n = 0, i, rc, have_info = 0;

    if (unknown_params(req, resp, params))
        return;
    if (int_param(req, resp, "offset", 0, INT64_MAX / 2, &offset) < 0 ||
        int_param(req, resp, "limit", 1, CELLS_MAX_LIMIT, &limit) < 0)
        return;
    if (fv && strcmp(fv, "json") != 0 && strcmp(fv, "csv") != 0 && strcmp(fv, "png") != 0) {
        param_problem(resp, req, PROBLEM_INVALID_PARAMETER, "format",
                      "format must be json, csv or png, got \"%.64s\"", fv);
        return;
    }
    if (!fv) { /* no format=: Accept chooses */
        int k = negotiate(req, resp, offered, 3);
        if (k < 0)
            return;
        fv = k == 1 ? "csv" : k == 2 ? "png" : NULL;
    }
    if (load_job(app, req, resp, id, &job) != 0)
        return;
    rc = queue_study_get(app->store, id, &info);
    if (rc == QUEUE_ENOENT) {
        problem(resp, req, PROBLEM_NOT_FOUND,
                "job %" PRId64 " is a sweep, not a study: it has no cells", id);
        goto out;
    }
    if (rc != QUEUE_OK) {
        queue_problem(resp, req, rc, "reading the study");
        goto out;
    }
    have_info = 1;
    view_etag(&job, etag);
    if (fv && strcmp(fv, "csv") == 0) {
        if (require_succeeded(req, resp, &job) != 0 || not_modified(req, resp, etag))
            goto out;
        rc = queue_study_get_csv(app->store, id, &csv);
        if (rc != QUEUE_OK) {
            queue_problem(resp, req, rc, "reading the table");
            goto out;
        }
        csv_answer(resp, etag, csv);
        goto out;
    }
    if (fv && strcmp(fv, "png") == 0) {
        struct heatmap_task *ht;
        if (require_succeeded(req, resp, &job) != 0 || not_modified(req, resp, etag))
            goto out;
        /* Parsing a big study's result takes long: on the reader thread. */
        ht = xcalloc(1, sizeof *ht);
        ht->app = app;
        ht->job_id = id;
        snprintf(ht->etag, sizeof ht->etag, "%s", etag);
        ht->task.work = heatmap_work;
        ht->task.done = heatmap_done;
        if (app->reader) {
            ht->deferred = http_defer(req);
            if (reader_submit(app->reader, &ht->task) == 0)
                goto out; /* heatmap_done() answers */
            ht->deferred = NULL;
        }
        heatmap_build(ht, app->store);
        heatmap_answer(ht, req, resp);
        goto out;
    }
    if (not_modified(req, resp, etag))
        goto out;
    cells = xcalloc((size_t)limit, sizeof *cells);
    rc = queue_cells_page(app->store, id, offset, (int)limit, cells, &n);
    if (rc != QUEUE_OK) {
        queue_problem(resp, req, rc, "reading the cells");
        goto out;
    }
    items = json_array();
    for (i = 0; i < n && items; i++) {
        json_t *item = cells[i].done ? json_loads(cells[i].row_json, 0, NULL) : json_object();
        if (!item) {
            json_decref(items);
            items = NULL;
            break;
        }
        if (!cells[i].done) {
            json_object_set_new(item, "index", json_integer((json_int_t)cells[i].idx));
            json_object_set_new(item, "reused", json_boolean(cells[i].reused));
        }
        json_object_set_new(item, "status", json_string(cells[i].done ? "done" : "pending"));
        if (cells[i].reused_from > 0)
            json_object_set_new(item, "reused_from", json_integer(cells[i].reused_from));
        json_array_append_new(items, item);
    }
    doc = items ? json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "job", (json_int_t)id,
                            "status", job_status_name(job.status), "cells_total",
                            (json_int_t)info.cells_total, "cells_done",
                            (json_int_t)info.cells_done, "offset", (json_int_t)offset, "limit",
                            (json_int_t)limit, "count", (json_int_t)n, "items", items,
                            "next_offset",
                            offset + n < info.cells_total && n > 0
                                ? json_integer((json_int_t)(offset + n))
                                : json_null())
                  : NULL;
    http_response_json(resp, 200, CT_JSON, doc);
    cache_headers(resp, etag);
out:
    if (cells)
        for (i = 0; i < n; i++)
            study_cell_free(&cells[i]);
    free(cells);
    if (have_info)
        study_info_free(&info);
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
    if (rc == ROUTER_EBADID || rc == ROUTER_EIDRANGE) {
        const char *seg = req->path + strlen("/v1/jobs/");
        int n = (int)strcspn(seg, "/");
        char safe[72];
        char cut[65];

        snprintf(cut, sizeof cut, "%.*s", n < 64 ? n : 64, seg);
        utf8_sanitize(cut, safe, sizeof safe);
        if (rc == ROUTER_EBADID) {
            json_t *doc = problem_new(PROBLEM_INVALID_PARAMETER, req->path,
                                      "the job id must be a positive integer (1..2^53, decimal, no "
                                      "sign or leading zero), got \"%s\"",
                                      safe);
            if (doc)
                json_object_set_new(doc, "parameter", json_string("id"));
            http_response_json(resp, 400, CT_PROBLEM, doc);
        } else {
            problem(resp, req, PROBLEM_NOT_FOUND,
                    "no job %s: a job id is a positive integer up to 2^53 = 9007199254740992",
                    safe);
        }
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

/* The bearer-token gate (auth.h), before routing so that an anonymous
 * client learns nothing about /v1. Returns 1 after answering 401/403. */
static int auth_refused(struct app *app, const struct http_request *req,
                        struct http_response *resp)
{
    switch (auth_decide(app->auth, req->method, req->path, http_header(req, "Authorization"))) {
    case AUTH_ALLOW:
        return 0;
    case AUTH_MISSING:
        problem(resp, req, PROBLEM_UNAUTHORIZED,
                "this route needs an Authorization: Bearer token (--token-file)");
        return 1;
    case AUTH_INVALID:
        problem(resp, req, PROBLEM_UNAUTHORIZED, "the bearer token is not valid");
        return 1;
    case AUTH_FORBIDDEN:
        problem(resp, req, PROBLEM_FORBIDDEN, "a read-only token may only GET; %.16s is a write",
                req->method);
        return 1;
    }
    return 0;
}

static int64_t on_headers(void *user, const struct http_request *req, struct http_response *resp)
{
    struct app *app = user;
    struct route_match m;

    if (req->target_bytes > HTTP_MAX_TARGET) {
        problem(resp, req, PROBLEM_URI_TOO_LONG, "the request target has %zu bytes; at most %d",
                req->target_bytes, HTTP_MAX_TARGET);
        return -1;
    }
    if (req->header_bytes > HTTP_MAX_HEADER_BYTES) {
        problem(resp, req, PROBLEM_HEADERS_TOO_LARGE,
                "the header fields have %zu bytes; at most %d",
                req->header_bytes, HTTP_MAX_HEADER_BYTES);
        return -1;
    }
    if (auth_refused(app, req, resp))
        return -1;
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
    case ROUTE_JOB_EVENTS:
        get_events(app, req, resp, m.job_id);
        return;
    case ROUTE_METRICS:
        get_metrics(app, req, resp);
        return;
    case ROUTE_OPENAPI_JSON:
        get_openapi_json(app, req, resp);
        return;
    case ROUTE_WEB:
        get_web(app, req, resp);
        return;
    case ROUTE_JOB_CELLS:
        get_cells(app, req, resp, m.job_id);
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

/* CORS (cors.h) on every answer, and the preflight extras on OPTIONS. */
static void add_cors(struct app *app, const struct http_request *req, struct http_response *resp)
{
    const char *origin = http_header(req, "Origin");

    if (!app->cfg->cors_origin[0])
        return;
    cors_headers(app->cfg->cors_origin, origin, resp);
    if (strcmp(req->method, "OPTIONS") == 0 && resp->status == 204) {
        struct route_match m;
        router_match(req->method, req->path, &m);
        if (m.allow)
            cors_preflight(app->cfg->cors_origin, origin, m.allow, resp);
    }
}

static int64_t on_headers_cors(void *user, const struct http_request *req,
                               struct http_response *resp)
{
    int64_t cap = on_headers(user, req, resp);

    if (cap < 0)
        add_cors(user, req, resp);
    return cap;
}

static void on_handle_cors(void *user, const struct http_request *req, struct http_response *resp)
{
    on_handle(user, req, resp);
    if (resp->status != 0) /* else deferred (http_defer()): added with the answer */
        add_cors(user, req, resp);
}

static void on_completed(void *user, const char *route, int status, double seconds)
{
    struct app *app = user;

    metrics_request(app->metrics, route, status, seconds);
}

void routes_handlers(struct app *app, struct http_handlers *h)
{
    route_metrics = app->metrics;
    h->headers = on_headers_cors;
    h->handle = on_handle_cors;
    h->route_name = on_route_name;
    h->completed = on_completed;
    h->user = app;
}
