/*
 * studyjob.c - studies in the server (studyjob.h): submit and analysis.
 * The analysis is the CLI's: each cell through kind_analyze(), the study
 * through study_analyze() (study.h), from the labels in the store.
 *
 * Owns: nothing beyond a call. studyjob_submit() runs on the loop thread;
 * studyjob_step() on a pool thread (pool.c's analysis task), with that
 * thread's store.
 *
 * Invariants:
 *  - a cell's row is what `trainbound run` would print for it: the same
 *    codec_analyze() over the same labels, encoded by study_row_encode();
 *  - the study result is study_result_encode() over every cell's analysis,
 *    recomputed from the saved labels when the last cell is done, so it
 *    equals the CLI's for the same spec (but elapsed_s, and the "reused"
 *    flags of cells taken from earlier jobs);
 *  - a row is encoded from a light study (the axes only, from the stored
 *    axes_json): parsing a 10000-cell study for each cell would cost
 *    quadratic time. study_row_encode() reads nothing else of the study.
 */
#include "studyjob.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "codec.h"
#include "jsonfmt.h"
#include "kind_int.h"
#include "sha256.h"
#include "tb.h"

#define READY_BATCH 64

static const struct {
    const char *name;
    enum study_param param;
} params[] = {
    {"model.amplitude", STUDY_AMPLITUDE},
    {"model.wavelength", STUDY_WAVELENGTH},
    {"model.dim", STUDY_DIM},
    {"x0", STUDY_X0},
    {"steps", STUDY_STEPS},
    {"divergence.threshold", STUDY_THRESHOLD},
};

/* ---- submit (loop thread) ----------------------------------------------- */

/* {"combine", "axes": [{"param", "values"}]}: caller frees; NULL on ENOMEM. */
static char *axes_json(const struct study *st)
{
    json_t *doc = json_object(), *axes = json_array();
    char *text = NULL;
    size_t i;
    int a;

    if (!doc || !axes) {
        json_decref(doc);
        json_decref(axes);
        return NULL;
    }
    for (a = 0; a < st->n_axes; a++) {
        const int integer = st->axes[a].param == STUDY_DIM || st->axes[a].param == STUDY_STEPS;
        json_t *vals = json_array();

        for (i = 0; vals && i < st->axes[a].n; i++)
            json_array_append_new(vals, integer ? json_integer((json_int_t)st->axes[a].values[i])
                                                : json_real(st->axes[a].values[i]));
        json_array_append_new(axes,
                              json_pack("{s:s, s:o*}", "param", st->axes[a].name, "values", vals));
    }
    json_object_set_new(doc, "combine", json_string(st->zip ? "zip" : "product"));
    json_object_set_new(doc, "axes", axes);
    text = jsonfmt_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return text;
}

int studyjob_submit(struct store *s, struct study *st, const char *source, size_t len,
                    const struct studyjob_submit_opts *o, int64_t now_ms, struct job *out,
                    int *replayed, size_t *copied)
{
    struct queue_study_submit sub;
    struct queue_cell_submit *cells = NULL;
    char(*keys)[SHA256_HEX_LEN] = NULL, **alts = NULL, *src = NULL, *axes = NULL;
    char hash[SHA256_HEX_LEN];
    size_t i;
    int ret = QUEUE_ENOMEM;

    cells = calloc(st->n_cells, sizeof *cells);
    keys = calloc(st->n_cells, sizeof *keys);
    alts = calloc(st->n_cells, sizeof *alts);
    src = malloc(len + 1);
    axes = axes_json(st);
    if (!cells || !keys || !alts || !src || !axes)
        goto out;
    memcpy(src, source, len);
    src[len] = '\0';
    for (i = 0; i < st->n_cells; i++) {
        struct codec_spec *c = &st->cells[i];
        char *name = c->name;

        /* The reuse key ignores the name: it changes nothing computed. */
        c->name = NULL;
        alts[i] = codec_spec_canonical(c);
        c->name = name;
        if (!alts[i])
            goto out;
        sha256_hex(alts[i], strlen(alts[i]), keys[i]);
        cells[i].spec_json = st->cell_canonical[i];
        cells[i].reuse_key = keys[i];
        cells[i].alt_spec = alts[i];
        cells[i].points = tb_sweep_points(&c->core);
        cells[i].tile_points = kind_tile_points(&c->core, o->workers, o->tile_points);
        /* The CLI's rule: the first earlier cell with the same canonical spec. */
        cells[i].dup_of = (int64_t)study_dup_of(st, i);
    }
    sha256_hex(st->canonical, strlen(st->canonical), hash);
    memset(&sub, 0, sizeof sub);
    sub.spec_json = st->canonical;
    sub.name = st->name;
    sub.source_json = src;
    sub.axes_json = axes;
    sub.n_cells = st->n_cells;
    sub.cells = cells;
    sub.reuse = o->reuse;
    sub.idem_key = o->idem_key;
    sub.request_hash = hash;
    sub.max_queued = o->max_queued;
    ret = queue_enqueue_study(s, &sub, now_ms, out, replayed, copied);
out:
    if (alts)
        for (i = 0; i < st->n_cells; i++)
            free(alts[i]);
    free(alts);
    free(keys);
    free(cells);
    free(src);
    free(axes);
    return ret;
}

/* ---- analysis (pool thread) --------------------------------------------- */

/* A study with its axes only (no cells, no canonical text), from the
 * stored axes_json: enough for study_row_encode(). 0 or -1. */
static int light_study(const char *text, int64_t n_cells, struct study *st)
{
    json_t *doc = json_loads(text, 0, NULL), *axes, *ax, *vals;
    const char *combine, *name;
    size_t i, k, n;
    int a, ok = -1;

    memset(st, 0, sizeof *st);
    axes = doc ? json_object_get(doc, "axes") : NULL;
    combine = doc ? json_string_value(json_object_get(doc, "combine")) : NULL;
    if (!axes || !json_is_array(axes) || json_array_size(axes) < 1 ||
        json_array_size(axes) > STUDY_MAX_AXES || !combine)
        goto out;
    st->zip = strcmp(combine, "zip") == 0;
    json_array_foreach(axes, i, ax)
    {
        name = json_string_value(json_object_get(ax, "param"));
        vals = json_object_get(ax, "values");
        for (k = 0; name && k < sizeof params / sizeof params[0]; k++)
            if (strcmp(name, params[k].name) == 0)
                break;
        if (!name || k == sizeof params / sizeof params[0] || !json_is_array(vals) ||
            (n = json_array_size(vals)) == 0)
            goto out;
        a = st->n_axes;
        st->axes[a].param = params[k].param;
        st->axes[a].name = params[k].name;
        st->axes[a].values = malloc(n * sizeof *st->axes[a].values);
        if (!st->axes[a].values)
            goto out;
        st->n_axes++;
        st->axes[a].n = n;
        for (k = 0; k < n; k++)
            st->axes[a].values[k] = json_number_value(json_array_get(vals, k));
    }
    st->n_cells = (size_t)n_cells;
    ok = 0;
out:
    json_decref(doc);
    if (ok != 0)
        study_free(st);
    return ok;
}

/* A cell's saved labels (every replicate, one after another): replicate 0
 * is the first grid of them, the others are copied out one at a time. */
struct cell_grid {
    const uint64_t *bits; /* borrowed */
    uint64_t *rep;        /* owned by the caller once kind_analyze() is done */
    uint64_t n;           /* points of a grid */
};

static const uint64_t *cell_grid_fn(void *user, int r, int *rc)
{
    struct cell_grid *g = user;

    if (r == 0)
        return g->bits;
    if (!g->rep && !(g->rep = malloc(tb_label_words(g->n) * sizeof *g->rep))) {
        *rc = KIND_EANALYZE;
        return NULL;
    }
    tb_labels_get(g->rep, g->bits, (uint64_t)r * g->n, g->n);
    return g->rep;
}

/* Analyses cell idx from its saved labels (or from those of the cell it
 * duplicates) into *an (kind_analyze(); flips dropped, as the CLI's rows
 * have none).
 * *cell receives the cell (caller frees). Returns 0, a QUEUE_E* code, or
 * 1 after writing a reason that fails the job. */
static int analyze_cell(struct store *s, int64_t job_id, int64_t idx, struct study_cell *cell,
                        struct codec_analysis *an, char *reason, size_t cap)
{
    struct codec_limits lim;
    struct codec_errors *errs = NULL;
    struct codec_spec spec;
    uint64_t *bits = NULL, *rep = NULL;
    int ret, spec_ok = 0, rc;

    memset(an, 0, sizeof *an);
    ret = queue_cell_get(s, job_id, idx, cell);
    if (ret != QUEUE_OK)
        return ret;
    errs = malloc(sizeof *errs);
    if (!errs) {
        ret = QUEUE_ENOMEM;
        goto out;
    }
    kind_stored_limits(&lim);
    if (codec_parse_spec(cell->spec_json, strlen(cell->spec_json), &lim, &spec, errs) != CODEC_OK) {
        snprintf(reason, cap, "cell %lld: the stored spec no longer parses", (long long)idx);
        ret = 1;
        goto out;
    }
    spec_ok = 1;
    if (tb_sweep_points(&spec.core) != cell->points) {
        snprintf(reason, cap, "cell %lld: stored points do not match the spec", (long long)idx);
        ret = 1;
        goto out;
    }
    bits = calloc(tb_label_words(cell->points), sizeof *bits);
    if (!bits) {
        snprintf(reason, cap, "cell %lld: out of memory for %llu labels", (long long)idx,
                 (unsigned long long)cell->points);
        ret = 1;
        goto out;
    }
    ret = queue_cell_labels(s, job_id, idx, bits);
    if (ret != QUEUE_OK)
        goto out;
    {
        struct cell_grid g = {bits, NULL, tb_grid_points(&spec.core)};
        rc = kind_analyze(&spec, cell_grid_fn, &g, 0, an);
        rep = g.rep;
    }
    if (rc != 0) {
        snprintf(reason, cap, "cell %lld: the analysis failed (out of memory)", (long long)idx);
        ret = 1;
        goto out;
    }
out:
    free(bits);
    free(rep);
    free(errs);
    if (spec_ok)
        codec_spec_free(&spec);
    if (ret != QUEUE_OK)
        study_cell_free(cell);
    return ret;
}

/* The stored summary: the result's "summary" plus kind and elapsed_s. */
static char *summary_from(const char *result, double elapsed_s)
{
    json_t *doc = json_loads(result, 0, NULL), *sum;
    char *text = NULL;

    sum = doc ? json_object_get(doc, "summary") : NULL;
    if (sum && json_is_object(sum)) {
        json_object_set_new(sum, "kind", json_string("study"));
        json_object_set_new(sum, "elapsed_s", json_real(elapsed_s));
        text = jsonfmt_dumps(sum, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(doc);
    return text;
}

/* finish_study()'s cells for study_analyze(): each cell's row says which
 * cell it duplicates and whether it was reused; its labels are in s. */
struct stored_study {
    struct store *s;
    const struct job *job;
    int64_t now;    /* set by stored_elapsed(): the completion's time */
    double elapsed; /* and the seconds since the job started */
};

static int stored_cell(void *user, size_t i, int64_t *dup_of, int *reused)
{
    struct stored_study *ss = user;
    struct study_cell cell;
    int ret = queue_cell_get(ss->s, ss->job->id, (int64_t)i, &cell);

    if (ret != QUEUE_OK)
        return ret;
    *dup_of = cell.dup_of;
    *reused = cell.reused;
    study_cell_free(&cell);
    return QUEUE_OK;
}

static int stored_analyze(void *user, size_t i, struct codec_analysis *an, char *reason, size_t cap)
{
    struct stored_study *ss = user;
    struct study_cell cell;
    int ret = analyze_cell(ss->s, ss->job->id, (int64_t)i, &cell, an, reason, cap);

    if (ret == QUEUE_OK)
        study_cell_free(&cell);
    return ret;
}

static double stored_elapsed(void *user)
{
    struct stored_study *ss = user;

    ss->now = clock_now_ms();
    ss->elapsed = ss->job->started_ms > 0 ? (double)(ss->now - ss->job->started_ms) / 1000.0 : 0.0;
    return ss->elapsed;
}

/* Encodes and stores the study result once every cell is done
 * (study_analyze(), the CLI's code). Returns as analyze_cell(). */
static int finish_study(struct store *s, const struct job *job, const struct study_info *info,
                        char *reason, size_t cap, int *finished)
{
    struct codec_limits lim;
    struct codec_errors *errs = malloc(sizeof *errs);
    struct stored_study ss = {s, job, 0, 0.0};
    struct study_source src = {stored_cell, stored_analyze, stored_elapsed, &ss};
    struct study st;
    int ret, st_ok = 0;
    char *result = NULL, *csv = NULL, *summary = NULL;

    memset(&st, 0, sizeof st);
    if (!errs)
        return QUEUE_ENOMEM;
    kind_stored_limits(&lim);
    if (study_parse(info->source_json, strlen(info->source_json), &lim, &st, errs) != CODEC_OK) {
        snprintf(reason, cap, "the stored study no longer parses");
        ret = 1;
        goto out;
    }
    st_ok = 1;
    if ((int64_t)st.n_cells != info->cells_total) {
        snprintf(reason, cap, "the stored study has %zu cells, not %lld", st.n_cells,
                 (long long)info->cells_total);
        ret = 1;
        goto out;
    }
    ret = study_analyze(&st, &src, &result, &csv, reason, cap);
    if (ret != QUEUE_OK)
        goto out;
    summary = summary_from(result, ss.elapsed);
    if (!summary) {
        snprintf(reason, cap, "out of memory while encoding the study result");
        ret = 1;
        goto out;
    }
    ret = queue_study_put_csv(s, job->id, csv);
    if (ret == QUEUE_OK)
        ret = queue_complete(s, job->id, result, summary, ss.now);
    if (ret == QUEUE_OK)
        *finished = 1;
out:
    free(result);
    free(csv);
    free(summary);
    free(errs);
    if (st_ok)
        study_free(&st);
    return ret;
}

int studyjob_step(struct store *s, int64_t job_id, char *reason, size_t cap, int *failed,
                  int *finished, int *cells)
{
    struct study_info info;
    struct study light;
    struct job job;
    struct study_cell cell;
    struct codec_analysis an;
    int64_t ready[READY_BATCH];
    int ret, n, k, light_ok = 0;
    char *row;

    *failed = 0;
    *finished = 0;
    *cells = 0;
    memset(&job, 0, sizeof job);
    memset(&info, 0, sizeof info);
    ret = queue_get(s, job_id, &job);
    if (ret != QUEUE_OK)
        return ret;
    if (job.status != JOB_QUEUED && job.status != JOB_RUNNING) {
        ret = QUEUE_ECONFLICT;
        goto out;
    }
    ret = queue_study_get(s, job_id, &info);
    if (ret != QUEUE_OK)
        goto out;
    if (light_study(info.axes_json, info.cells_total, &light) != 0) {
        snprintf(reason, cap, "the stored study axes do not parse");
        ret = 1;
        goto out;
    }
    light_ok = 1;

    /* Rows of the cells whose labels are all in. */
    do {
        ret = queue_cells_ready(s, job_id, ready, READY_BATCH, &n);
        if (ret != QUEUE_OK)
            goto out;
        for (k = 0; k < n; k++) {
            ret = analyze_cell(s, job_id, ready[k], &cell, &an, reason, cap);
            if (ret != QUEUE_OK)
                goto out;
            row = study_row_encode(&light, (size_t)ready[k], &an, cell.reused);
            study_cell_free(&cell);
            codec_analysis_free(&an);
            if (!row) {
                snprintf(reason, cap, "out of memory while encoding a cell's row");
                ret = 1;
                goto out;
            }
            ret = queue_cell_finish(s, job_id, ready[k], row, clock_now_ms());
            free(row);
            if (ret != QUEUE_OK)
                goto out; /* ECONFLICT: canceled meanwhile */
            (*cells)++;
        }
    } while (n == READY_BATCH);

    /* The study, once every cell is done and every tile saved. */
    study_info_free(&info);
    job_free(&job);
    ret = queue_get(s, job_id, &job);
    if (ret == QUEUE_OK)
        ret = queue_study_get(s, job_id, &info);
    if (ret != QUEUE_OK)
        goto out;
    if (info.cells_done == info.cells_total && job.status == JOB_RUNNING &&
        job.tiles_done == job.tiles_total)
        ret = finish_study(s, &job, &info, reason, cap, finished);
out:
    if (ret == 1) {
        ret = queue_fail(s, job_id, reason, clock_now_ms());
        if (ret == QUEUE_OK)
            *failed = 1;
    }
    if (light_ok)
        study_free(&light);
    study_info_free(&info);
    job_free(&job);
    return ret;
}
