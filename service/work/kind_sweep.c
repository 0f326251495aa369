/*
 * kind_sweep.c - the `sweep` job kind (kind.h): one spec (codec.h), its
 * learning-rate grid once per replicate, cut into tiles of the queue; the
 * tile runner every sweep-like kind shares; the analysis that turns a
 * finished sweep's labels into its result document and summary.
 *
 * Threads: as kind.h (parse/submit/view on the loop thread, the tile and
 * the analysis on a pool thread).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "jsonfmt.h"
#include "kind_int.h"
#include "sha256.h"

struct kind_spec {
    struct codec_spec spec;
};

static int sweep_matches(const struct json_t *root)
{
    (void)root;
    return 1;
}

static int sweep_parse(const struct json_t *root, const struct codec_limits *lim,
                       struct kind_spec **out, struct codec_errors *errs)
{
    struct kind_spec *k = malloc(sizeof *k);
    int rc;

    *out = NULL;
    if (!k) {
        memset(errs, 0, sizeof *errs);
        return CODEC_ENOMEM;
    }
    rc = codec_spec_from_json(root, lim, &k->spec, errs);
    if (rc != CODEC_OK) {
        free(k);
        return rc;
    }
    *out = k;
    return CODEC_OK;
}

static void sweep_free(struct kind_spec *k)
{
    if (!k)
        return;
    codec_spec_free(&k->spec);
    free(k);
}

static int sweep_submit(struct store *s, struct kind_spec *k, const struct kind_submit_opts *o,
                        int64_t now_ms, struct kind_submitted *out)
{
    char hash[SHA256_HEX_LEN], *canonical = codec_spec_canonical(&k->spec);
    struct queue_submit sub;
    int rc;

    memset(out, 0, sizeof *out);
    if (!canonical)
        return QUEUE_ENOMEM;
    sha256_hex(canonical, strlen(canonical), hash);
    memset(&sub, 0, sizeof sub);
    sub.spec_json = canonical;
    sub.name = k->spec.name;
    sub.points = tb_sweep_points(&k->spec.core);
    sub.tile_points = kind_tile_points(&k->spec.core, o->workers, o->tile_points);
    sub.idem_key = o->idem_key;
    sub.request_hash = hash;
    sub.max_queued = o->max_queued;
    rc = queue_enqueue(s, &sub, now_ms, &out->job, &out->replayed);
    free(canonical);
    out->units = 1;
    return rc;
}

static struct json_t *sweep_view(struct store *s, const struct job *job, struct json_t *doc)
{
    (void)s;
    (void)job;
    return doc;
}

void kind_stored_limits(struct codec_limits *lim)
{
    lim->max_levels = TB_MAX_LEVELS;
    lim->max_steps = INT_MAX;
    lim->max_dim = TB_MAX_DIM;
    lim->max_cost = HUGE_VAL;
}

uint64_t kind_tile_points(const struct tb_spec *spec, int workers, uint64_t fixed)
{
    double per_point, t, share;
    uint64_t n;

    if (fixed > 0)
        return fixed;
    per_point = (double)spec->steps * (double)spec->model.dim *
                (spec->model.n_terms > 1 ? spec->model.n_terms : 1);
    if (per_point < 1)
        per_point = 1;
    t = ldexp(1.0, 26) / per_point;
    /* Enough tiles that the last ones do not leave threads idle (16 per
     * worker), and no more: each tile costs a claim and a commit, about
     * 0.4 ms, which at 32 per worker made a levels-20 fast job several
     * percent slower than the CLI. */
    share = ceil((double)tb_sweep_points(spec) / (16.0 * (workers > 0 ? workers : 1)) / 64.0) * 64.0;
    if (share < t)
        t = share;
    if (t < 64)
        t = 64;
    if (t > 1048576)
        t = 1048576;
    n = (uint64_t)t / 64 * 64;
    return n < 64 ? 64 : n;
}

int kind_sweep_tile(const struct tile_claim *c, uint64_t *labels, const atomic_int *cancel,
                    tb_progress_fn progress, void *progress_user, struct tb_tile_stats *stats)
{
    struct codec_errors *errs = malloc(sizeof *errs);
    struct codec_limits lim;
    struct codec_spec spec;
    int rc;

    if (!errs)
        return TB_ENOMEM;
    kind_stored_limits(&lim);
    rc = codec_parse_spec(c->spec_json, strlen(c->spec_json), &lim, &spec, errs);
    free(errs);
    if (rc == CODEC_ENOMEM)
        return TB_ENOMEM;
    if (rc != CODEC_OK)
        return KIND_ESPEC;
    rc = tb_sweep_tile(&spec.core, c->begin, c->count, labels, cancel, progress, progress_user,
                       stats);
    codec_spec_free(&spec);
    return rc;
}

static int sweep_tile_saved(struct store *s, const struct tile_claim *c, int *step)
{
    (void)s;
    (void)c;
    *step = 0; /* only the last tile, which the queue reports, completes a sweep */
    return QUEUE_OK;
}

/* A real for JSON, or null when not finite. */
static json_t *jreal(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* The summary stored with the job: what a dashboard polls for, and every
 * replicate's counts (the dimension refit reads them). */
static char *summary_json(const struct codec_spec *spec, const struct codec_analysis *a,
                          double elapsed_s)
{
    json_t *o, *counts = json_array();
    char *text;
    int n;

    for (n = 0; counts && n <= a->levels; n++)
        json_array_append_new(counts, json_integer((json_int_t)a->counts[n]));
    o = json_pack("{s:o, s:o, s:o, s:b, s:i, s:I, s:I, s:o, s:I, s:o, s:o, s:o}", "dimension",
                  jreal(a->fit.value), "stderr", jreal(a->fit.se), "r2", jreal(a->fit.r2),
                  "fractal", a->fit.fractal, "levels_used", a->fit.levels_used, "points",
                  (json_int_t)a->points, "divergent_points", (json_int_t)a->divergent,
                  "divergent_fraction", jreal((double)a->divergent / (double)a->points),
                  "transitions", (json_int_t)a->counts[a->levels], "first_divergent_lr",
                  a->first_divergent < 0
                      ? json_null()
                      : jreal(tb_grid_lr(&spec->core, (uint64_t)a->first_divergent)),
                  "counts", counts ? counts : json_null(), "elapsed_s", jreal(elapsed_s));
    if (!o)
        return NULL;
    json_object_set_new(o, "spread", codec_spread_json(a->rep_fits, a->replicates));
    if (a->replicates > 1) {
        json_t *rows = json_array();
        int r;
        for (r = 0; rows && r < a->replicates; r++) {
            json_t *c = json_array();
            for (n = 0; c && n <= a->levels; n++)
                json_array_append_new(c, json_integer((json_int_t)a->rep_counts[r][n]));
            json_array_append_new(rows, c);
        }
        json_object_set_new(o, "replicate_counts", rows ? rows : json_null());
    }
    text = jsonfmt_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

/* Loads every replicate of the finished job (one grid at a time) and
 * analyses it into an. 0, a QUEUE_* code, or 1 after writing reason. */
static int analyze_labels(struct store *s, const struct job *job, const struct codec_spec *spec,
                          struct codec_analysis *an, char *reason, size_t cap)
{
    const uint64_t n = tb_grid_points(&spec->core);
    uint64_t *bits = calloc(tb_label_words(n), sizeof *bits);
    int r, rc = QUEUE_OK;

    if (!bits) {
        snprintf(reason, cap, "out of memory for %llu labels", (unsigned long long)n);
        return 1;
    }
    /* Replicate 0 gives the flips. */
    for (r = 0; rc == QUEUE_OK && r < tb_replicates(&spec->core); r++) {
        rc = queue_load_range(s, job->id, (uint64_t)r * n, n, bits);
        if (rc == QUEUE_OK && (r == 0 ? codec_analyze(spec, bits, an)
                                      : codec_analyze_replicate(spec, r, bits, an)) != CODEC_OK) {
            snprintf(reason, cap, "the analysis failed (out of memory)");
            rc = 1;
        }
    }
    free(bits);
    return rc;
}

static int sweep_step(struct store *s, int64_t job_id, struct kind_step *out)
{
    struct codec_errors *errs = malloc(sizeof *errs);
    struct codec_limits lim;
    struct codec_spec spec;
    struct codec_analysis an;
    struct job job;
    char *result = NULL, *summary = NULL;
    int64_t now;
    int rc, spec_ok = 0;

    memset(out, 0, sizeof *out);
    memset(&job, 0, sizeof job);
    memset(&an, 0, sizeof an);
    if (!errs)
        return QUEUE_ENOMEM;
    rc = queue_get(s, job_id, &job);
    if (rc != QUEUE_OK)
        goto out;
    if (job.status != JOB_RUNNING || job.tiles_done != job.tiles_total) {
        rc = QUEUE_ECONFLICT; /* canceled, or already analysed */
        goto out;
    }
    kind_stored_limits(&lim);
    if (codec_parse_spec(job.spec_json, strlen(job.spec_json), &lim, &spec, errs) != CODEC_OK) {
        snprintf(out->reason, sizeof out->reason, "the stored spec no longer parses");
        goto fail;
    }
    spec_ok = 1;
    if (tb_sweep_points(&spec.core) != job.points_total) {
        snprintf(out->reason, sizeof out->reason, "stored points do not match the spec");
        goto fail;
    }
    rc = analyze_labels(s, &job, &spec, &an, out->reason, sizeof out->reason);
    if (rc == 1)
        goto fail;
    if (rc != QUEUE_OK)
        goto out;
    now = clock_now_ms();
    {
        double elapsed = job.started_ms > 0 ? (double)(now - job.started_ms) / 1000.0 : 0.0;
        result = codec_result_encode_analysis(&spec, &an, elapsed);
        summary = summary_json(&spec, &an, elapsed);
    }
    if (!result || !summary) {
        snprintf(out->reason, sizeof out->reason, "out of memory while encoding the result");
        goto fail;
    }
    rc = queue_complete(s, job_id, result, summary, now);
    out->finished = rc == QUEUE_OK;
    out->dimension = an.fit.value;
    out->se = an.fit.se;
    out->fractal = an.fit.fractal;
    goto out;
fail:
    rc = queue_fail(s, job_id, out->reason, clock_now_ms());
    if (rc == QUEUE_OK)
        out->failed_job = 1;
out:
    free(result);
    free(summary);
    codec_analysis_free(&an);
    if (spec_ok)
        codec_spec_free(&spec);
    job_free(&job);
    free(errs);
    return rc;
}

const struct job_kind kind_sweep = {
    .name = "sweep",
    .noun = "spec",
    .matches = sweep_matches,
    .parse = sweep_parse,
    .free_spec = sweep_free,
    .submit = sweep_submit,
    .view = sweep_view,
    .run_tile = kind_sweep_tile,
    .tile_saved = sweep_tile_saved,
    .step = sweep_step,
};
