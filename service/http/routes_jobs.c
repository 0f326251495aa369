/*
 * routes_jobs.c - the job resource: POST /v1/jobs (submit, dispatched on
 * the job kind, kind.h), GET /v1/jobs (the list), GET and DELETE
 * /v1/jobs/{id}, POST /v1/jobs/{id}/cancel and GET /v1/jobs/{id}/result.
 * A request that fails validation (query, Idempotency-Key, spec) is
 * answered here and never reaches the queue.
 *
 * Owns: nothing beyond a call.
 * Threads: loop thread only. The queue calls use the loop's connection
 * and are short (single-row reads and writes, one transaction each);
 * QUEUE_EBUSY past the busy timeout becomes 503 with Retry-After.
 */
#include "routes_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kind.h"
#include "log.h"
#include "pool.h"
#include "router.h"
#include "sha256.h"
#include "sse.h"
#include "view.h"
#include "xalloc.h"

#define LIST_DEFAULT_LIMIT 20
#define LIST_MAX_LIMIT 100
#define IDEM_KEY_MAX 255

static const char *const offer_json[] = {CT_JSON};

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
        json_t *doc = problem_new(PROBLEM_INVALID_SPEC, req->path,
                                  "the %s has %d problem%s%s; see errors", what, errs->n,
                                  errs->n == 1 ? "" : "s", errs->truncated ? " (or more)" : "");
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

/* The job resource: view_job()'s fields, "kind" and what the job's kind
 * adds (kind_view_job(); a study's cells), to doc (a new view_job()
 * object, taken and returned). */
static json_t *job_view(struct app *app, const struct job *job, json_t *doc)
{
    return kind_view_job(app->store, job, doc);
}

/* POST /v1/jobs: the body is parsed as JSON once; its kind (a study has
 * "vary") validates it against the server's limits and plans its tiles. */
void post_jobs(struct app *app, const struct http_request *req, struct http_response *resp)
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
    rc = kind_parse_body(req->body, req->body_len, &app->limits, &kind, &spec, errs);
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
                           job_view(app, job, view_job(job, 1, now)));
        http_response_header(resp, "Location", path);
        cache_headers(resp, etag);
        if (sub->replayed) {
            http_response_header(resp, "Idempotent-Replayed", "true");
        } else {
            if (kind->units) /* a study: its cells, and those taken from the store */
                log_event(LOG_INFO, "job_state", "s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:s*", "job",
                          (json_int_t)job->id, "status", job_status_name(job->status), "kind",
                          kind->name, kind->units, (json_int_t)sub->units, kind->units_from_store,
                          (json_int_t)sub->from_store, "points", (json_int_t)job->points_total,
                          "tiles", (json_int_t)job->tiles_total, "name", job->name);
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

void get_jobs(struct app *app, const struct http_request *req, struct http_response *resp)
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
        if (items && json_array_append_new(
                         items, job_view(app, &jobs[i], view_job(&jobs[i], 0, now))) != 0) {
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

void get_job(struct app *app, const struct http_request *req, struct http_response *resp,
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

void delete_job(struct app *app, const struct http_request *req, struct http_response *resp,
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

void post_cancel(struct app *app, const struct http_request *req, struct http_response *resp,
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

void get_result(struct app *app, const struct http_request *req, struct http_response *resp,
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
