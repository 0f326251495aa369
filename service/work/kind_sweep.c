/*
 * kind_sweep.c - the `sweep` job kind (kind.h): one spec (codec.h), its
 * learning-rate grid once per replicate, cut into tiles of the queue; the
 * grid behind its views (/dimension, /boundary); `trainbound run` of a
 * sweep on the CLI's threads. Also what every sweep-like kind shares
 * (kind_int.h): the parse wrapper, the tile runners, and kind_analyze(),
 * the one analysis of a grid's replicates that turns a finished sweep's
 * labels (from the store or the CLI's runner) into its result document.
 *
 * Threads: as kind.h (parse/submit/views on the loop thread, the tile and
 * the analysis on a pool thread, run_local() on the CLI's main thread).
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

static int sweep_fill(const json_t *root, const struct codec_limits *lim, struct kind_spec *k,
                      struct codec_errors *errs)
{
    return codec_spec_from_json(root, lim, &k->spec, errs);
}

static int sweep_parse(const struct json_t *root, const struct codec_limits *lim,
                       struct kind_spec **out, struct codec_errors *errs)
{
    return kind_parse_new(sizeof **out, sweep_fill, root, lim, out, errs);
}

int kind_parse_new(size_t size, kind_parse_fn *fill, const json_t *root,
                   const struct codec_limits *lim, struct kind_spec **out,
                   struct codec_errors *errs)
{
    struct kind_spec *k = calloc(1, size);
    int rc;

    *out = NULL;
    if (!k) {
        memset(errs, 0, sizeof *errs);
        return CODEC_ENOMEM;
    }
    rc = fill(root, lim, k, errs);
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

static char *sweep_canonical(const struct kind_spec *k)
{
    return codec_spec_canonical(&k->spec);
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

/* A sweep's resource has nothing besides view_job()'s fields and "kind". */
static struct json_t *sweep_view(struct store *s, const struct job *job, struct json_t *doc)
{
    (void)s;
    (void)job;
    return doc;
}

/* The stored spec is the grid's. */
static int sweep_grid_spec(const struct job *job, struct codec_spec *spec)
{
    struct codec_errors *errs = malloc(sizeof *errs);
    struct codec_limits lim;
    int rc;

    if (!errs)
        return KIND_ESPEC;
    kind_stored_limits(&lim);
    rc = codec_parse_spec(job->spec_json, strlen(job->spec_json), &lim, spec, errs);
    free(errs);
    return rc == CODEC_OK ? 0 : KIND_ESPEC;
}

/* A sweep has every view but cells. */
static void sweep_no_view(const struct job *job, const char *view, char *detail, size_t cap)
{
    snprintf(detail, cap, "job %lld is a sweep, not a study: it has no %s", (long long)job->id,
             view);
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
    share =
        ceil((double)tb_sweep_points(spec) / (16.0 * (workers > 0 ? workers : 1)) / 64.0) * 64.0;
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

int kind_grid_tile(void *user, uint64_t begin, uint64_t count, uint64_t *labels,
                   const atomic_int *cancel, tb_progress_fn progress, void *progress_user,
                   struct tb_tile_stats *stats)
{
    return tb_sweep_tile(user, begin, count, labels, cancel, progress, progress_user, stats);
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

int kind_analyze(const struct codec_spec *spec, kind_grid_fn *grid, void *user, int keep_flips,
                 struct codec_analysis *an)
{
    const uint64_t *bits;
    int r, rc;

    /* Replicate 0 gives the flips. */
    for (r = 0; r < tb_replicates(&spec->core); r++) {
        rc = 0;
        bits = grid(user, r, &rc);
        if (!bits)
            return rc;
        if ((r == 0 ? codec_analyze(spec, bits, an) : codec_analyze_replicate(spec, r, bits, an)) !=
            CODEC_OK)
            return KIND_EANALYZE;
    }
    if (!keep_flips) {
        free(an->flips);
        an->flips = NULL;
        an->n_flips = 0;
    }
    return 0;
}

/* A finished sweep's labels, one replicate at a time from the store. */
struct stored_grid {
    struct store *s;
    int64_t job_id;
    uint64_t n;     /* points of a grid */
    uint64_t *bits; /* owned */
};

static const uint64_t *stored_grid_fn(void *user, int r, int *rc)
{
    struct stored_grid *g = user;

    *rc = queue_load_range(g->s, g->job_id, (uint64_t)r * g->n, g->n, g->bits);
    return *rc == QUEUE_OK ? g->bits : NULL;
}

const uint64_t *kind_local_grid_fn(void *user, int r, int *rc)
{
    struct kind_local_grid *g = user;
    const uint64_t n = tb_grid_points(g->spec);
    uint64_t *into = r == 0 ? g->grid : g->scratch;

    if (!into) {
        into = g->scratch = malloc(tb_label_words(n) * sizeof *g->scratch);
        if (!into) {
            *rc = TB_ENOMEM;
            return NULL;
        }
    }
    *rc = g->env->run(g->env->user, kind_grid_tile, (void *)g->spec, (uint64_t)r * n, n, into,
                      &g->lane_steps);
    return *rc == TB_OK ? into : NULL;
}

double kind_now_s(void)
{
    return (double)clock_mono_us() * 1e-6;
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
    {
        struct stored_grid g = {s, job_id, tb_grid_points(&spec.core), NULL};
        g.bits = calloc(tb_label_words(g.n), sizeof *g.bits);
        if (!g.bits) {
            snprintf(out->reason, sizeof out->reason, "out of memory for %llu labels",
                     (unsigned long long)g.n);
            goto fail;
        }
        rc = kind_analyze(&spec, stored_grid_fn, &g, 1, &an);
        free(g.bits);
    }
    if (rc == KIND_EANALYZE) {
        snprintf(out->reason, sizeof out->reason, "the analysis failed (out of memory)");
        goto fail;
    }
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

/* trainbound run of a sweep: every replicate on the runner, replicate 0's
 * labels kept (for --labels), the others through one scratch grid. */
static int sweep_run_local(struct kind_spec *k, const struct kind_local *env,
                           struct kind_local_out *out)
{
    struct codec_spec *spec = &k->spec;
    struct kind_local_grid g;
    struct codec_analysis an;
    double t0, t1, elapsed;
    int rc, fast;

    memset(out, 0, sizeof *out);
    if (env->want_csv)
        return KIND_ENOCSV;
    if (env->precision >= 0)
        spec->core.precision = (enum tb_precision)env->precision;
    memset(&g, 0, sizeof g);
    memset(&an, 0, sizeof an);
    g.env = env;
    g.spec = &spec->core;
    g.grid = calloc(tb_label_words(tb_grid_points(&spec->core)), sizeof *g.grid);
    if (!g.grid) {
        snprintf(out->error, sizeof out->error, "out of memory for the labels of %llu points",
                 (unsigned long long)tb_grid_points(&spec->core));
        return TB_ENOMEM;
    }
    t0 = kind_now_s();
    rc = kind_analyze(spec, kind_local_grid_fn, &g, 1, &an);
    t1 = kind_now_s();
    if (rc == KIND_EANALYZE)
        rc = TB_ENOMEM;
    if (rc == TB_ECANCELED)
        goto out;
    if (rc != TB_OK) {
        snprintf(out->error, sizeof out->error, "the sweep failed: %s", tb_strerror(rc));
        goto out;
    }
    elapsed = kind_now_s() - t0;
    out->result = codec_result_encode_analysis(spec, &an, elapsed);
    if (!out->result) {
        snprintf(out->error, sizeof out->error, "cannot build the result: out of memory");
        rc = TB_ENOMEM;
        goto out;
    }
    if (env->want_labels) {
        out->labels = g.grid;
        out->n_labels = tb_grid_points(&spec->core);
        g.grid = NULL;
    }
    fast = tb_engine_precision(&spec->core) == TB_PRECISION_FAST;
    snprintf(out->stats, sizeof out->stats,
             "{\"points\":%llu,\"lane_steps\":%llu,\"threads\":%d,\"precision\":\"%s\","
             "\"isa\":\"%s\",\"sweep_s\":%.6f,\"elapsed_s\":%.6f}",
             (unsigned long long)tb_sweep_points(&spec->core), (unsigned long long)g.lane_steps,
             env->threads, fast ? "fast" : "reference",
             fast ? tb_fast_isa(spec->core.isa_cap) : "libm", t1 - t0, elapsed);
out:
    codec_analysis_free(&an);
    free(g.grid);
    free(g.scratch);
    return rc;
}

const struct job_kind kind_sweep = {
    .name = "sweep",
    .noun = "spec",
    .matches = sweep_matches,
    .parse = sweep_parse,
    .free_spec = sweep_free,
    .canonical = sweep_canonical,
    .submit = sweep_submit,
    .view = sweep_view,
    .grid_spec = sweep_grid_spec,
    .no_view = sweep_no_view,
    .run_tile = kind_sweep_tile,
    .tile_saved = sweep_tile_saved,
    .step = sweep_step,
    .run_local = sweep_run_local,
};
