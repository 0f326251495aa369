/*
 * kind_study.c - the `study` job kind (kind.h): a base spec and a `vary`
 * block over one or two parameters (study.h), one cell per combination,
 * each cell's grid cut into tiles of the same job (studyjob.h).
 *
 * Threads: as kind.h (the loop thread in the server).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kind_int.h"
#include "queue_study.h"
#include "study.h"
#include "studyjob.h"
#include "view.h"

struct kind_spec {
    struct study study;
};

static int study_matches(const json_t *root)
{
    return study_is_study_json(root);
}

static int study_kind_parse(const json_t *root, const struct codec_limits *lim,
                            struct kind_spec **out, struct codec_errors *errs)
{
    struct kind_spec *k = malloc(sizeof *k);
    int rc;

    *out = NULL;
    if (!k) {
        memset(errs, 0, sizeof *errs);
        return CODEC_ENOMEM;
    }
    rc = study_parse_json(root, lim, &k->study, errs);
    if (rc != CODEC_OK) {
        free(k);
        return rc;
    }
    *out = k;
    return CODEC_OK;
}

static void study_kind_free(struct kind_spec *k)
{
    if (!k)
        return;
    study_free(&k->study);
    free(k);
}

static int study_kind_submit(struct store *s, struct kind_spec *k,
                             const struct kind_submit_opts *o, int64_t now_ms,
                             struct kind_submitted *out)
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

/* "kind", progress in cells and links.cells; nothing for a job that has no
 * study row. */
static json_t *study_kind_view(struct store *s, const struct job *job, json_t *doc)
{
    struct study_info info;
    char link[VIEW_PATH_LEN + 16];
    json_t *progress, *links;

    if (!doc || queue_study_get(s, job->id, &info) != QUEUE_OK)
        return doc;
    json_object_set_new(doc, "kind", json_string("study"));
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

const struct job_kind kind_study = {
    .name = "study",
    .noun = "study",
    .units = "cells",
    .units_from_store = "cells_from_store",
    .matches = study_matches,
    .parse = study_kind_parse,
    .free_spec = study_kind_free,
    .submit = study_kind_submit,
    .view = study_kind_view,
    .run_tile = kind_sweep_tile, /* a cell's tile is a sweep tile of the cell's spec */
    .tile_saved = study_tile_saved,
    .step = study_step,
};
