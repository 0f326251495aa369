/*
 * queue_study_sql.c - the study rows that every SQL backend runs alike
 * (queue_sql.h; schema in migrations/0002_studies.sql and
 * migrations/pg/0002_studies.sql): a study's submit (its plan of which
 * cells reuse stored tiles, its job, studies row, cells and tiles, new or
 * copied from stored ones, in one transaction; queue_study.c checks it)
 * and, as the queue_study.h calls themselves (arguments checked here), the
 * studies row, a cell, the tiles a cell still waits for, cell readiness,
 * the rows page and the CSV; one SQL text and one row decoder each, run
 * on the store's statement primitives (s->ops->sql). A cell's row is saved by the
 * backend's own cell_finish (queue_study_sqlite.c, queue_study_pg.c);
 * claims, leases, tile results, labels, cancel, delete and retention are
 * the queue's own.
 *
 * Owns: the statements in slots [STORE_STUDY_STMT_BASE,
 * STORE_STUDY_OWN_BASE) of every backend's cache.
 *
 * Threads: every call runs on the thread that owns the store.
 *
 * Invariants:
 *  - a study job, its studies row, its cells and all its tiles are
 *    inserted in one transaction (sq_ops.tx), so a study is never
 *    half-submitted;
 *  - a cell with tiles owns the contiguous tile range [tile_first,
 *    tile_first + tiles) of its job; a duplicate owns none and reads the
 *    labels of the cell it duplicates;
 *  - a reused cell's tiles are copies of saved tiles (state done, attempt
 *    0, no tile_attempts row): nothing of it is computed again.
 * Every value reaches SQL through a bound parameter.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "queue_sql.h"

enum {
    S_REUSE_CELL,
    S_REUSE_SWEEP,
    S_STUDY_NEW,
    S_CELL_NEW,
    S_TILES_COPY,
    S_STUDY,
    S_CELL,
    S_LEFT,
    S_READY,
    S_PAGE,
    S_CSV_PUT,
    S_CSV,
    S__COUNT
};
_Static_assert(STORE_STUDY_STMT_BASE + S__COUNT <= STORE_STUDY_OWN_BASE,
               "grow STORE_STUDY_OWN_BASE");

/* The saved-or-not tiles of the cell whose labels cell (job ?1, idx ...)
 * uses: its own, or those of the cell it duplicates. */
#define CELL_TILES_LEFT                                                                            \
    "FROM cells AS o JOIN tiles AS t ON t.job_id = o.job_id AND t.idx >= o.tile_first "            \
    "AND t.idx < o.tile_first + o.tiles WHERE o.job_id = ?1 AND t.state <> 'done' AND o.idx = "

#define CELL_COLS "idx, status, reused, dup_of, reused_from, tile_first, tiles, points, row_json"

static const char *const sql_text[S__COUNT] = {
    /* Index cells_reuse: the newest finished cell with its own labels. */
    [S_REUSE_CELL] = "SELECT job_id, tile_first, tiles FROM cells WHERE spec_hash = ?1 "
                     "AND status = 'done' AND tiles > 0 AND points = ?2 "
                     "ORDER BY job_id DESC LIMIT 1",
    /* Index jobs_succeeded_spec: a succeeded sweep of the same spec. */
    [S_REUSE_SWEEP] = "SELECT j.id, 0, j.tiles_total FROM jobs AS j WHERE j.status = 'succeeded' "
                      "AND j.spec_json IN (?1, ?2) AND j.points_total = ?3 "
                      "AND NOT EXISTS (SELECT 1 FROM studies AS s WHERE s.job_id = j.id) "
                      "ORDER BY j.id DESC LIMIT 1",
    [S_STUDY_NEW] = "INSERT INTO studies (job_id, source_json, axes_json, cells_total, "
                    "cells_reused) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_CELL_NEW] = "INSERT INTO cells (job_id, idx, spec_json, spec_hash, points, tile_first, "
                   "tiles, dup_of, reused_from, reused) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_TILES_COPY] = "INSERT INTO tiles (job_id, idx, cell, begin_pt, count, state, attempt, "
                     "labels, divergent, lane_steps, finished_ms) "
                     "SELECT ?1, ?2 + (idx - ?4), ?3, begin_pt, count, 'done', 0, labels, "
                     "divergent, lane_steps, ?7 FROM tiles WHERE job_id = ?5 AND idx >= ?4 "
                     "AND idx < ?4 + ?6 AND state = 'done' ORDER BY idx",
    [S_STUDY] = "SELECT cells_total, cells_done, cells_reused, source_json, axes_json "
                "FROM studies WHERE job_id = ?1",
    [S_CELL] = "SELECT " CELL_COLS ", spec_json FROM cells WHERE job_id = ?1 AND idx = ?2",
    [S_LEFT] = "SELECT count(*) " CELL_TILES_LEFT
               "(SELECT coalesce(dup_of, idx) FROM cells WHERE job_id = ?1 AND idx = ?2)",
    [S_READY] = "SELECT c.idx FROM cells AS c WHERE c.job_id = ?1 AND c.status = 'pending' "
                "AND NOT EXISTS (SELECT 1 " CELL_TILES_LEFT "coalesce(c.dup_of, c.idx)) "
                "ORDER BY c.idx LIMIT ?2",
    [S_PAGE] = "SELECT " CELL_COLS " FROM cells WHERE job_id = ?1 AND idx >= ?2 "
               "ORDER BY idx LIMIT ?3",
    [S_CSV_PUT] = "UPDATE studies SET csv = ?2 WHERE job_id = ?1",
    [S_CSV] = "SELECT csv FROM studies WHERE job_id = ?1",
};

/* A statement's slot and text, for the sq_* helpers. */
#define SQL(id) STORE_STUDY_STMT_BASE + (id), sql_text[(id)]

/* ---- the plan of a submit ------------------------------------------------ */

/* Where a cell's tiles come from. */
struct cell_plan {
    int64_t src_job; /* 0: new tiles */
    int64_t src_first, tiles;
};

static const struct sq_col plan_cols[] = {
    {offsetof(struct cell_plan, src_job), 0},
    {offsetof(struct cell_plan, src_first), 1},
    {offsetof(struct cell_plan, tiles), 2},
};

static int read_plan(const struct sq_row *r, void *ctx)
{
    sq_col_ints(r, ctx, plan_cols, sizeof plan_cols / sizeof plan_cols[0]);
    return QUEUE_OK;
}

/* Stored labels for cell c: a finished cell of the same key, else a
 * succeeded sweep of the same spec; none (p->src_job 0): new tiles. */
static int find_reuse(struct store *s, const struct queue_cell_submit *c, struct cell_plan *p)
{
    const char *alt = c->alt_spec ? c->alt_spec : c->spec_json;
    int ret =
        sq_row(s, SQL(S_REUSE_CELL), SQ_ARGS(SQ_T(c->reuse_key), SQ_I(c->points)), read_plan, p);

    if (ret == QUEUE_ENOENT)
        ret = sq_row(s, SQL(S_REUSE_SWEEP), SQ_ARGS(SQ_T(c->spec_json), SQ_T(alt), SQ_I(c->points)),
                     read_plan, p);
    if (ret == QUEUE_ENOENT)
        p->src_job = 0;
    return ret == QUEUE_ENOENT ? QUEUE_OK : ret;
}

/* Plans every cell of sub into plan[0..n_cells) (zeroed by the caller):
 * with sub->reuse, looks for stored labels of each cell that is not a
 * duplicate; sums up the job row r (tiles, points, what is done already,
 * running when nothing is left to claim) and counts the reused and the
 * copied cells. QUEUE_EINVAL past QUEUE_MAX_TILES. */
static int study_plan(struct store *s, const struct queue_study_submit *sub,
                      struct cell_plan *plan, struct sq_job_row *r, size_t *n_reused,
                      size_t *n_copied)
{
    size_t i;
    int ret;

    for (i = 0; i < sub->n_cells; i++) {
        const struct queue_cell_submit *c = &sub->cells[i];

        if (c->dup_of >= 0) {
            (*n_reused)++;
            continue;
        }
        if (sub->reuse) {
            ret = find_reuse(s, c, &plan[i]);
            if (ret != QUEUE_OK)
                return ret;
        }
        if (plan[i].src_job > 0) {
            (*n_reused)++;
            (*n_copied)++;
            r->tiles_done += plan[i].tiles;
            r->points_done += c->points;
        } else {
            plan[i].tiles =
                (int64_t)(c->points / c->tile_points + (c->points % c->tile_points != 0));
        }
        if (r->tile_points == 0)
            r->tile_points = c->tile_points;
        r->tiles += plan[i].tiles;
        r->points += c->points;
        if (r->tiles > QUEUE_MAX_TILES)
            return QUEUE_EINVAL;
    }
    r->running = r->tiles_done == r->tiles; /* nothing to claim: analyse at once */
    return QUEUE_OK;
}

/* ---- submit -------------------------------------------------------------- */

/* A study's submit: the op's arguments, the plan, and what it returns. */
struct submit {
    const struct queue_study_submit *sub; /* borrowed */
    int64_t now_ms;
    struct job *out; /* the caller's; may be NULL */
    int *replayed;   /* the caller's, never NULL */
    size_t copied;
    struct cell_plan *plan; /* sub->n_cells, owned by the op */
};

/* Cell i's row and its tiles (new, or copies of stored ones) from tile
 * index first. */
static int put_cell(struct store *s, int64_t job_id, size_t i, const struct submit *t,
                    int64_t first)
{
    const struct queue_cell_submit *c = &t->sub->cells[i];
    const struct cell_plan *p = &t->plan[i];
    int copied = 0;
    int ret = sq_exec(s, SQL(S_CELL_NEW),
                      SQ_ARGS(SQ_I(job_id), SQ_I(i), SQ_T(c->spec_json), SQ_T(c->reuse_key),
                              SQ_I(c->points), SQ_I(first), SQ_I(p->tiles), SQ_OPT(c->dup_of),
                              SQ_OPT(p->src_job > 0 ? p->src_job : -1),
                              SQ_I(c->dup_of >= 0 || p->src_job > 0)),
                      NULL);

    if (ret != QUEUE_OK || p->tiles == 0)
        return ret;
    if (p->src_job == 0)
        return s->ops->sql->insert_tiles(s, job_id, first, (int64_t)i, c->points, c->tile_points,
                                         p->tiles);
    ret = sq_exec(s, SQL(S_TILES_COPY),
                  SQ_ARGS(SQ_I(job_id), SQ_I(first), SQ_I(i), SQ_I(p->src_first), SQ_I(p->src_job),
                          SQ_I(p->tiles), SQ_I(t->now_ms)),
                  &copied);
    return ret == QUEUE_OK && copied != p->tiles ? QUEUE_EIO : ret; /* cannot happen in one tx */
}

static int submit_tx(struct store *s, void *ctx)
{
    struct submit *t = ctx;
    const struct queue_study_submit *sub = t->sub;
    struct sq_job_row row = {.kind = QUEUE_KIND_STUDY,
                             .name = sub->name,
                             .spec_json = sub->spec_json,
                             .idem_key = sub->idem_key,
                             .request_hash = sub->request_hash};
    size_t i, reused = 0;
    int64_t id = 0, first = 0;
    int ret;

    /* A second try starts afresh. */
    *t->replayed = 0;
    t->copied = 0;
    memset(t->plan, 0, sub->n_cells * sizeof *t->plan);
    if (t->out)
        job_free(t->out);
    ret = sq_admit(s, sub->idem_key, sub->request_hash, sub->max_queued, &id, t->replayed);
    if (ret == QUEUE_OK && id == 0) {
        ret = study_plan(s, sub, t->plan, &row, &reused, &t->copied);
        if (ret == QUEUE_OK)
            ret = sq_insert_job(s, &row, t->now_ms, &id);
        if (ret == QUEUE_OK)
            ret = sq_exec(s, SQL(S_STUDY_NEW),
                          SQ_ARGS(SQ_I(id), SQ_T(sub->source_json), SQ_T(sub->axes_json),
                                  SQ_I(sub->n_cells), SQ_I(reused)),
                          NULL);
        for (i = 0; ret == QUEUE_OK && i < sub->n_cells; i++) {
            ret = put_cell(s, id, i, t, first);
            first += t->plan[i].tiles;
        }
    }
    if (ret == QUEUE_OK && t->out)
        ret = sq_load_job(s, id, t->out);
    return ret;
}

int sq_study_enqueue(struct store *s, const struct queue_study_submit *sub, int64_t now_ms,
                     struct job *out, int *replayed, size_t *copied)
{
    struct submit t = {sub, now_ms, out, replayed, 0, calloc(sub->n_cells, sizeof *t.plan)};
    int ret;

    if (!t.plan)
        return QUEUE_ENOMEM;
    ret = s->ops->sql->tx(s, submit_tx, &t);
    free(t.plan);
    if (ret == QUEUE_OK)
        *copied = t.copied;
    return ret;
}

/* ---- reads --------------------------------------------------------------- */

static const struct sq_col study_cols[] = {
    {offsetof(struct study_info, cells_total), 0},
    {offsetof(struct study_info, cells_done), 1},
    {offsetof(struct study_info, cells_reused), 2},
};

static int read_study(const struct sq_row *r, void *ctx)
{
    struct study_info *out = ctx;
    int ret;

    sq_col_ints(r, out, study_cols, sizeof study_cols / sizeof study_cols[0]);
    ret = sq_col_dups(r, (const int[]){3, 4}, (char **const[]){&out->source_json, &out->axes_json},
                      2);
    if (ret == QUEUE_OK && (!out->source_json || !out->axes_json))
        ret = QUEUE_EIO;
    if (ret != QUEUE_OK)
        study_info_free(out);
    return ret;
}

int queue_study_get(struct store *s, int64_t job_id, struct study_info *out)
{
    memset(out, 0, sizeof *out); /* read_study clears it again when it fails */
    return sq_row(s, SQL(S_STUDY), SQ_ARGS(SQ_I(job_id)), read_study, out);
}

static const struct sq_col cell_cols[] = {
    {offsetof(struct study_cell, idx), 0},        {offsetof(struct study_cell, reused_from), 4},
    {offsetof(struct study_cell, tile_first), 5}, {offsetof(struct study_cell, tiles), 6},
    {offsetof(struct study_cell, points), 7},
};

/* Cell c from a row of CELL_COLS, with spec_json at column 9 if with_spec. */
static int cell_from(const struct sq_row *r, struct study_cell *c, int with_spec)
{
    int ret;

    memset(c, 0, sizeof *c);
    sq_col_ints(r, c, cell_cols, sizeof cell_cols / sizeof cell_cols[0]);
    c->done = strcmp(sq_col_str(r, 1), "done") == 0;
    c->reused = sq_col_int(r, 2) != 0;
    c->dup_of = sq_col_null(r, 3) ? -1 : sq_col_int(r, 3);
    ret = sq_col_dup(r, 8, &c->row_json);
    if (ret == QUEUE_OK && with_spec)
        ret = sq_col_dup(r, 9, &c->spec_json);
    if (ret != QUEUE_OK)
        study_cell_free(c);
    return ret;
}

static int read_cell(const struct sq_row *r, void *ctx)
{
    return cell_from(r, ctx, 1);
}

int queue_cell_get(struct store *s, int64_t job_id, int64_t idx, struct study_cell *out)
{
    memset(out, 0, sizeof *out); /* cell_from clears it again when it fails */
    return sq_row(s, SQL(S_CELL), SQ_ARGS(SQ_I(job_id), SQ_I(idx)), read_cell, out);
}

int queue_cell_tiles_left(struct store *s, int64_t job_id, int64_t idx, int64_t *left)
{
    /* sq_int sets *left 0 first. */
    return sq_int(s, SQL(S_LEFT), SQ_ARGS(SQ_I(job_id), SQ_I(idx)), left);
}

/* The caller's array being filled: cell indexes or cells. */
struct fill {
    int64_t *idx;             /* the caller's, or NULL */
    struct study_cell *cells; /* the caller's, or NULL */
    int *n;
};

static int read_fill(const struct sq_row *r, void *ctx)
{
    struct fill *f = ctx;
    int ret = QUEUE_OK;

    if (f->idx)
        f->idx[*f->n] = sq_col_int(r, 0);
    else
        ret = cell_from(r, &f->cells[*f->n], 0);
    if (ret == QUEUE_OK)
        (*f->n)++;
    return ret;
}

int queue_cells_ready(struct store *s, int64_t job_id, int64_t *idx, int cap, int *n)
{
    struct fill f = {idx, NULL, n};
    int ret;

    *n = 0;
    if (cap <= 0)
        return QUEUE_EINVAL;
    ret = sq_rows(s, SQL(S_READY), SQ_ARGS(SQ_I(job_id), SQ_I(cap)), read_fill, &f);

    if (ret != QUEUE_OK)
        *n = 0;
    return ret;
}

int queue_cells_page(struct store *s, int64_t job_id, int64_t offset, int limit,
                     struct study_cell *out, int *n)
{
    struct fill f = {NULL, out, n};
    int ret;

    *n = 0;
    if (limit <= 0 || offset < 0)
        return QUEUE_EINVAL;
    ret = sq_rows(s, SQL(S_PAGE), SQ_ARGS(SQ_I(job_id), SQ_I(offset), SQ_I(limit)), read_fill, &f);

    while (ret != QUEUE_OK && *n > 0)
        study_cell_free(&out[--*n]);
    return ret;
}

/* ---- the CSV ------------------------------------------------------------- */

int queue_study_put_csv(struct store *s, int64_t job_id, const char *csv)
{
    int changed = 0, ret;

    if (!csv)
        return QUEUE_EINVAL;
    ret = sq_exec(s, SQL(S_CSV_PUT), SQ_ARGS(SQ_I(job_id), SQ_T(csv)), &changed);

    return ret == QUEUE_OK && changed == 0 ? QUEUE_ENOENT : ret;
}

int queue_study_get_csv(struct store *s, int64_t job_id, char **csv)
{
    /* sq_text sets *csv NULL first. */
    return sq_text(s, SQL(S_CSV), SQ_ARGS(SQ_I(job_id)), csv);
}
