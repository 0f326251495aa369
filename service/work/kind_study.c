/*
 * kind_study.c - the `study` job kind (kind.h): a base spec and a `vary`
 * block over one or two parameters (study.h), one cell per combination,
 * each cell's grid cut into tiles of the same job (studyjob.h); its views
 * (the job resource's cell progress, /cells as a JSON page, the CSV table
 * or the PNG heat map of D); and `trainbound run` of a study, every cell
 * on the CLI's threads, analysed by the server's code (study_analyze()).
 *
 * Threads: as kind.h (parse/submit/views on the loop thread in the
 * server, the heat map on the reader thread, tiles and steps on a pool
 * thread; run_local() on the CLI's main thread).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kind_int.h"
#include "pngenc.h"
#include "queue_study.h"
#include "study.h"
#include "studyjob.h"
#include "view.h"
#include "xalloc.h"

struct kind_spec {
    struct study study;
};

static int study_matches(const json_t *root)
{
    return study_is_study_json(root);
}

static int study_fill(const json_t *root, const struct codec_limits *lim, struct kind_spec *k,
                      struct codec_errors *errs)
{
    return study_parse_json(root, lim, &k->study, errs);
}

static int study_kind_parse(const json_t *root, const struct codec_limits *lim,
                            struct kind_spec **out, struct codec_errors *errs)
{
    return kind_parse_new(sizeof **out, study_fill, root, lim, out, errs);
}

static void study_kind_free(struct kind_spec *k)
{
    if (!k)
        return;
    study_free(&k->study);
    free(k);
}

static char *study_kind_canonical(const struct kind_spec *k)
{
    return strdup(k->study.canonical);
}

static int study_kind_submit(struct store *s, struct kind_spec *k, const struct kind_submit_opts *o,
                             int64_t now_ms, struct kind_submitted *out)
{
    struct studyjob_submit_opts so;
    int rc;

    memset(out, 0, sizeof *out);
    memset(&so, 0, sizeof so);
    so.workers = o->workers;
    so.tile_points = o->tile_points;
    so.idem_key = o->idem_key;
    so.max_queued = o->max_queued;
    so.reuse = o->reuse;
    out->units = k->study.n_cells;
    rc = studyjob_submit(s, &k->study, o->source, o->source_len, &so, now_ms, &out->job,
                         &out->replayed, &out->from_store);
    if (rc == QUEUE_EINVAL)
        snprintf(out->reason, sizeof out->reason,
                 "the study's %zu cells make more than %lld tiles; use fewer cells or levels",
                 k->study.n_cells, (long long)QUEUE_MAX_TILES);
    return rc;
}

/* Progress in cells and links.cells; nothing for a job that has no study
 * row. */
static json_t *study_kind_view(struct store *s, const struct job *job, json_t *doc)
{
    struct study_info info;
    char link[VIEW_PATH_LEN + 16];
    json_t *progress, *links;

    if (!doc || queue_study_get(s, job->id, &info) != QUEUE_OK)
        return doc;
    progress = json_object_get(doc, "progress");
    if (progress) {
        json_object_set_new(progress, "cells_done", json_integer((json_int_t)info.cells_done));
        json_object_set_new(progress, "cells_total", json_integer((json_int_t)info.cells_total));
        json_object_set_new(progress, "cells_reused", json_integer((json_int_t)info.cells_reused));
    }
    links = json_object_get(doc, "links");
    if (links) {
        view_job_path(job->id, link);
        strncat(link, "/cells", sizeof link - strlen(link) - 1);
        json_object_set_new(links, "cells", json_string(link));
    }
    study_info_free(&info);
    return doc;
}

/* A study cell whose last tile this was gets its row now. */
static int study_tile_saved(struct store *s, const struct tile_claim *c, int *step)
{
    int64_t left = 1;
    int rc;

    *step = 0;
    if (c->cell < 0)
        return QUEUE_OK;
    rc = queue_cell_tiles_left(s, c->job_id, c->cell, &left);
    *step = rc == QUEUE_OK && left == 0;
    return rc;
}

static int study_step(struct store *s, int64_t job_id, struct kind_step *out)
{
    memset(out, 0, sizeof *out);
    return studyjob_step(s, job_id, out->reason, sizeof out->reason, &out->failed_job,
                         &out->finished, &out->units);
}

/* ---- views: /cells --------------------------------------------------- */

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

/* The page [offset, offset + limit) of job's cells in index order, each
 * with its status; a done cell's item is its row as in the result. */
static int cells_page(struct store *s, const struct job *job, int64_t offset, int limit,
                      json_t **doc)
{
    struct study_info info;
    struct study_cell *cells = NULL;
    json_t *items;
    int n = 0, i, rc;

    rc = queue_study_get(s, job->id, &info);
    if (rc != QUEUE_OK)
        return rc;
    cells = xcalloc((size_t)limit, sizeof *cells);
    rc = queue_cells_page(s, job->id, offset, limit, cells, &n);
    if (rc != QUEUE_OK)
        goto out;
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
    *doc = items
               ? json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "job",
                           (json_int_t)job->id, "status", job_status_name(job->status),
                           "cells_total", (json_int_t)info.cells_total, "cells_done",
                           (json_int_t)info.cells_done, "offset", (json_int_t)offset, "limit",
                           (json_int_t)limit, "count", (json_int_t)n, "items", items, "next_offset",
                           offset + n < info.cells_total && n > 0
                               ? json_integer((json_int_t)(offset + n))
                               : json_null())
               : NULL; /* the route answers the out-of-memory 500 */
out:
    for (i = 0; i < n; i++)
        study_cell_free(&cells[i]);
    free(cells);
    study_info_free(&info);
    return rc;
}

static int study_cells(struct store *s, const struct job *job, enum kind_format f, int64_t offset,
                       int limit, struct kind_body *out)
{
    char *result = NULL;
    unsigned char *png = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    switch (f) {
    case KIND_CSV: /* stored with the result */
        rc = queue_study_get_csv(s, job->id, &out->data);
        if (rc == QUEUE_OK)
            out->len = strlen(out->data);
        return rc;
    case KIND_PNG: /* drawn from the stored result */
        rc = queue_get_result(s, job->id, &result);
        if (rc == QUEUE_OK && study_heatmap_png(result, &png, &out->len) != 0)
            rc = KIND_ERENDER;
        free(result);
        out->data = (char *)png;
        return rc;
    default:
        return cells_page(s, job, offset, limit, &out->doc);
    }
}

/* A study has cells, not one grid: its dimensions and boundaries are per
 * cell. */
static void study_no_view(const struct job *job, const char *view, char *detail, size_t cap)
{
    (void)view;
    snprintf(detail, cap,
             "job %lld is a study: its dimensions are per cell, at /v1/jobs/%lld/cells",
             (long long)job->id, (long long)job->id);
}

/* ---- trainbound run ---------------------------------------------------- */

/* run_local()'s cells for study_analyze(): each computed on env's runner,
 * one after another, on all its threads. */
struct local_study {
    const struct kind_local *env;
    const struct study *st;
    uint64_t lane_steps;
    double t0;
};

static int local_cell(void *user, size_t i, int64_t *dup_of, int *reused)
{
    struct local_study *ls = user;

    *dup_of = (int64_t)study_dup_of(ls->st, i);
    *reused = *dup_of >= 0;
    return 0;
}

static int local_analyze(void *user, size_t i, struct codec_analysis *an, char *reason, size_t cap)
{
    struct local_study *ls = user;
    const struct codec_spec *c = &ls->st->cells[i];
    struct kind_local_grid g;
    char line[64];
    int rc;

    if (ls->env->note) {
        snprintf(line, sizeof line, "cell %zu/%zu", i + 1, ls->st->n_cells);
        ls->env->note(ls->env->user, line);
    }
    memset(&g, 0, sizeof g);
    g.env = ls->env;
    g.spec = &c->core;
    g.grid = calloc(tb_label_words(tb_grid_points(&c->core)), sizeof *g.grid);
    if (!g.grid) {
        snprintf(reason, cap, "out of memory for a cell's labels");
        return 1;
    }
    rc = kind_analyze(c, kind_local_grid_fn, &g, 0, an);
    ls->lane_steps += g.lane_steps;
    free(g.grid);
    free(g.scratch);
    if (rc == TB_ECANCELED)
        return rc;
    if (rc != 0) {
        snprintf(reason, cap, "cell %zu failed: %s", i,
                 tb_strerror(rc == KIND_EANALYZE ? TB_ENOMEM : rc));
        return 1;
    }
    return 0;
}

static double local_elapsed(void *user)
{
    return kind_now_s() - ((struct local_study *)user)->t0;
}

/* trainbound run of a study: every cell in turn (a duplicate of an earlier
 * cell is not run again: its row says "reused"), then the study result and
 * the table. */
static int study_run_local(struct kind_spec *k, const struct kind_local *env,
                           struct kind_local_out *out)
{
    struct study *st = &k->study;
    struct local_study ls = {env, st, 0, kind_now_s()};
    struct study_source src = {local_cell, local_analyze, local_elapsed, &ls};
    size_t i;
    int rc;

    memset(out, 0, sizeof *out);
    if (env->precision >= 0)
        for (i = 0; i < st->n_cells; i++)
            st->cells[i].core.precision = (enum tb_precision)env->precision;
    rc = study_analyze(st, &src, &out->result, env->want_csv ? &out->csv : NULL, out->error,
                       sizeof out->error);
    if (rc == TB_ECANCELED)
        return rc;
    if (rc != 0)
        return TB_EINVAL; /* out->error says why */
    snprintf(out->stats, sizeof out->stats,
             "{\"cells\":%zu,\"lane_steps\":%llu,\"threads\":%d,\"elapsed_s\":%.6f}", st->n_cells,
             (unsigned long long)ls.lane_steps, env->threads, local_elapsed(&ls));
    return 0;
}

const struct job_kind kind_study = {
    .name = "study",
    .noun = "study",
    .units = "cells",
    .units_from_store = "cells_from_store",
    .matches = study_matches,
    .parse = study_kind_parse,
    .free_spec = study_kind_free,
    .canonical = study_kind_canonical,
    .submit = study_kind_submit,
    .view = study_kind_view,
    .cells = study_cells,
    .no_view = study_no_view,
    .run_tile = kind_sweep_tile, /* a cell's tile is a sweep tile of the cell's spec */
    .tile_saved = study_tile_saved,
    .step = study_step,
    .run_local = study_run_local,
};
