/*
 * routes_dimension.c - GET /v1/jobs/{id}/dimension: a succeeded sweep's
 * counts B(n) and the fit of its dimension, refitted over a window from
 * the stored counts (min_level, max_level, min_levels), as JSON or as a
 * NumPy array (format=npy).
 *
 * Owns: nothing beyond a call.
 * Threads: loop thread only (the counts are in the job's summary, or in
 * its stored result: one row each).
 */
#include "routes_int.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "router.h"
#include "view.h"
#include "xalloc.h"

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

void get_dimension(struct app *app, const struct http_request *req, struct http_response *resp,
                   int64_t id)
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
    if (require_succeeded(req, resp, &job) != 0 ||
        job_spec(req, resp, &job, "dimension", &spec) != 0)
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
    dim = codec_dimension_reps_json(fits, (const uint64_t(*)[TB_MAX_LEVELS + 1]) counts, reps,
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
