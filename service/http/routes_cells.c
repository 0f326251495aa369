/*
 * routes_cells.c - GET /v1/jobs/{id}/cells: a study's cells (issue 4),
 * paged as JSON with each cell's status, the table as CSV, or the heat
 * map of D over the grid as a PNG.
 *
 * Owns: a struct heatmap_task per heat-map request, until it is answered.
 * Threads: the handler on the loop thread (the pages and the table are
 * short reads); the heat map parses a study's whole result, so it is
 * drawn on the reader thread (reader.h) with its own store while its
 * request waits deferred, and answered back on the loop thread.
 */
#include "routes_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pngenc.h"
#include "queue_study.h"
#include "reader.h"
#include "view.h"
#include "xalloc.h"

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
void get_cells(struct app *app, const struct http_request *req, struct http_response *resp,
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
