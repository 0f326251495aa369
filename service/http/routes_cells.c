/*
 * routes_cells.c - GET /v1/jobs/{id}/cells: a study's cells (issue 4),
 * paged as JSON with each cell's status, the table as CSV, or the heat
 * map of D over the grid as a PNG. The request, the job and its ETag are
 * checked here; the job's kind renders the cells (kind.h cells(): the
 * study's), and a kind without cells gets its no_view() 404.
 *
 * Owns: a struct heatmap_task per heat-map request, until it is answered.
 * Threads: the handler on the loop thread (the pages and the table are
 * short reads); the heat map parses a study's whole result, so it is
 * drawn on the reader thread (reader.h) with its own store while its
 * request waits deferred (route_task_run()), and answered back on the
 * loop thread.
 */
#include "routes_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"
#include "view.h"
#include "xalloc.h"

#define CELLS_DEFAULT_LIMIT 100
#define CELLS_MAX_LIMIT 1000

/* The heat map of a succeeded job (GET .../cells?format=png), drawn from
 * its stored result on the reader thread like /boundary: owned by
 * get_cells() until route_task_run() takes it, then freed by its answer. */
struct heatmap_task {
    struct route_task rt; /* first member */
    const struct job_kind *kind;
    struct job job; /* owned */
    char etag[VIEW_ETAG_LEN];
    int rc;               /* the kind's cells() */
    struct kind_body png; /* owned */
};

static void heatmap_free(struct route_task *t)
{
    struct heatmap_task *ht = (struct heatmap_task *)t;

    free(ht->png.data);
    job_free(&ht->job);
    free(ht);
}

/* Reads the result and draws the map, with whichever thread's store. */
static void heatmap_build(struct route_task *t, struct store *s)
{
    struct heatmap_task *ht = (struct heatmap_task *)t;

    ht->rc = ht->kind->cells(s, &ht->job, KIND_PNG, 0, 0, &ht->png);
}

/* Fills resp from a built map (the answers get_cells() always gave) and
 * frees ht. */
static void heatmap_answer(struct route_task *t, const struct http_request *req,
                           struct http_response *resp)
{
    struct heatmap_task *ht = (struct heatmap_task *)t;

    if (ht->rc == KIND_ERENDER) {
        problem(resp, req, PROBLEM_INTERNAL, "the heat map of study %" PRId64 " failed",
                ht->job.id);
    } else if (ht->rc != QUEUE_OK) {
        queue_problem(resp, req, ht->rc, "reading the result");
    } else {
        http_response_body(resp, 200, CT_PNG, ht->png.data, ht->png.len);
        ht->png.data = NULL;
        cache_headers(resp, ht->etag);
    }
    heatmap_free(t);
}

static const struct route_task_ops heatmap_ops = {
    .doing = "reading the result",
    .build = heatmap_build,
    .answer = heatmap_answer,
    .free = heatmap_free,
};

/* GET /v1/jobs/{id}/cells?offset=&limit=&format=json|csv|png: the study's
 * cells in index order, each with its status; a done cell's item is its
 * row as in the result. format=csv: the table (text/csv) once succeeded;
 * format=png: the heat map of D over the grid, once succeeded. */
void get_cells(struct app *app, const struct http_request *req, struct http_response *resp,
               int64_t id)
{
    static const char *const params[] = {"offset", "limit", "format", NULL};
    static const char *const offered[] = {CT_JSON, "text/csv", CT_PNG};
    const char *fv = http_query(req, "format");
    int64_t offset = 0, limit = CELLS_DEFAULT_LIMIT;
    char etag[VIEW_ETAG_LEN], detail[256];
    const struct job_kind *kind;
    struct kind_body body;
    struct job job;
    int rc;

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
    if (!(kind = job_kind(req, resp, &job)))
        goto out;
    if (!kind->cells) {
        kind->no_view(&job, "cells", detail, sizeof detail);
        problem(resp, req, PROBLEM_NOT_FOUND, "%s", detail);
        goto out;
    }
    view_etag(&job, etag);
    if (fv && strcmp(fv, "csv") == 0) {
        if (require_succeeded(req, resp, &job) != 0 || not_modified(req, resp, etag))
            goto out;
        rc = kind->cells(app->store, &job, KIND_CSV, 0, 0, &body);
        if (rc != QUEUE_OK) {
            queue_problem(resp, req, rc, "reading the table");
            goto out;
        }
        csv_answer(resp, etag, body.data);
        goto out;
    }
    if (fv && strcmp(fv, "png") == 0) {
        struct heatmap_task *ht;
        if (require_succeeded(req, resp, &job) != 0 || not_modified(req, resp, etag))
            goto out;
        /* Parsing a big study's result takes long: on the reader thread. */
        ht = xcalloc(1, sizeof *ht);
        ht->rt.app = app;
        ht->rt.ops = &heatmap_ops;
        ht->kind = kind;
        ht->job = job; /* the task's now */
        snprintf(ht->etag, sizeof ht->etag, "%s", etag);
        route_task_run(&ht->rt, req, resp);
        return;
    }
    if (not_modified(req, resp, etag))
        goto out;
    rc = kind->cells(app->store, &job, KIND_JSON, offset, (int)limit, &body);
    if (rc != QUEUE_OK) {
        queue_problem(resp, req, rc, "reading the cells");
        goto out;
    }
    http_response_json(resp, 200, CT_JSON, body.doc); /* NULL: the out-of-memory 500 */
    cache_headers(resp, etag);
out:
    job_free(&job);
}
