/*
 * routes_boundary.c - GET /v1/jobs/{id}/boundary (flips as JSON or CSV,
 * every label as NumPy, packed words or a PNG strip) and
 * GET /v1/jobs/{id}/boundary.png. The request, the job and its ETag are
 * checked here; loading and encoding the labels is boundary.h's.
 *
 * Owns: a struct boundary_task per request, until it is answered (or
 * handed to the NumPy stream of the answer).
 * Threads: the handler and the answer on the loop thread; the one long
 * read, a job's whole labels, runs on the reader thread (reader.h) with
 * its own store while its request waits deferred (route_task_run()).
 * Without a reader it all runs on the loop thread.
 *
 * Kinds: any kind whose jobs have one grid of labels (kind.h grid_spec():
 * the sweep); job_spec() answers 404 for the others.
 */
#include "routes_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boundary.h"
#include "router.h"
#include "view.h"
#include "xalloc.h"

#define FLIPS_DEFAULT_LIMIT 1000
#define FLIPS_MAX_LIMIT 100000

/* A /boundary request whose labels are loaded and encoded by the reader
 * thread (boundary.h, route_task_run()): the task, the work and the
 * answer. Owned by get_boundary() until route_task_run() takes it; its
 * answer frees it, or hands it to the NumPy stream. */
struct boundary_task {
    struct route_task rt; /* first member: route_task_run() hands it back */
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

static void boundary_task_drop(struct route_task *t)
{
    boundary_task_free(t);
}

/* Fills resp from a built boundary, rc being boundary_build()'s (the same
 * answers, headers and problems whichever thread built it), and frees bt
 * or hands it to the NumPy stream. */
static void boundary_answer(struct route_task *t, const struct http_request *req,
                            struct http_response *resp)
{
    struct boundary_task *bt = (struct boundary_task *)t;
    struct boundary_work *w = &bt->w;
    const int rc = bt->status;
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
    default:                                          /* BOUNDARY_EENCODE */
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

/* On the reader thread with its store, or on the loop thread with its. */
static void boundary_build_task(struct route_task *t, struct store *s)
{
    struct boundary_task *bt = (struct boundary_task *)t;

    bt->status = boundary_build(s, &bt->w);
}

static const struct route_task_ops boundary_ops = {
    .doing = "loading the labels",
    .build = boundary_build_task,
    .answer = boundary_answer,
    .free = boundary_task_drop,
};

/*
 * GET /v1/jobs/{id}/boundary (and boundary.png). The request, the job and
 * its ETag (304) are checked here; loading every label and encoding them
 * takes the reader thread (reader.h), so the loop goes on serving while a
 * large job's labels are read (route_task_run()). Without a reader, it all
 * runs here.
 */
void get_boundary(struct app *app, const struct http_request *req, struct http_response *resp,
                  int64_t id)
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
    if (require_succeeded(req, resp, &job) != 0 ||
        job_spec(req, resp, &job, "boundary", &spec) != 0) {
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
    bt->rt.app = app;
    bt->rt.ops = &boundary_ops;
    bt->w.job_id = id;
    job_free(&job);
    bt->w.spec = spec.core;
    bt->w.spec.x0 = NULL; /* owned by spec, freed below; never read */
    codec_spec_free(&spec);
    bt->w.format = !fmt                      ? (binary ? BOUNDARY_WORDS : BOUNDARY_JSON)
                   : strcmp(fmt, "npy") == 0 ? BOUNDARY_NPY
                   : strcmp(fmt, "csv") == 0 ? BOUNDARY_CSV
                                             : BOUNDARY_PNG;
    bt->w.with_labels = with_labels;
    bt->w.offset = (uint64_t)offset;
    bt->w.limit = (size_t)limit;
    snprintf(bt->etag, sizeof bt->etag, "%s", etag);
    route_task_run(&bt->rt, req, resp);
}
