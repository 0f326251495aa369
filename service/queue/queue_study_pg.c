/*
 * queue_study_pg.c - the PostgreSQL backend of the study rows
 * (queue_study.h, issue 15; schema in migrations/pg/0002_studies.sql):
 * a study's submit (its job, studies row, cells and tiles, new or copied
 * from stored ones, in one transaction), cell readiness, a cell's row, the
 * rows page and the CSV. The same semantics as queue_study_sqlite.c; the
 * plan of a submit is the neutral queue__study_plan() (queue_study.c).
 * Claims, leases, tile results, labels, cancel, delete and retention are
 * the queue's own (queue_pg.c).
 *
 * Owns: the statements STORE_STUDY_STMT_BASE.. of the connection, and the
 * study ops table queue_study_pg (queue_backend.h).
 *
 * Threads: every call runs on the thread that owns the store.
 *
 * Invariants: those of queue_study_sqlite.c (a study is never
 * half-submitted; a cell with tiles owns the contiguous range [tile_first,
 * tile_first + tiles); a reused cell's tiles are copies of saved tiles with
 * attempt 0 and no tile_attempts row; a cell becomes done once, while its
 * job is active), and the job row is locked before the cell's.
 * Every value reaches SQL through a bound parameter.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

enum {
    C_REUSE_CELL,
    C_REUSE_SWEEP,
    C_STUDY_NEW,
    C_CELL_NEW,
    C_TILES_COPY,
    C_STUDY,
    C_CELL,
    C_LEFT,
    C_READY,
    C_CELL_DONE,
    C_PAGE,
    C_CSV_PUT,
    C_CSV,
    C__COUNT
};
_Static_assert(STORE_STUDY_STMT_BASE + C__COUNT <= STORE_MAX_STMTS - 6, "grow STORE_MAX_STMTS");

/* The tiles not saved yet of the cell whose labels cell (job $1) uses. */
#define CELL_TILES_LEFT                                                                            \
    "FROM cells AS o JOIN tiles AS t ON t.job_id = o.job_id AND t.idx >= o.tile_first "            \
    "AND t.idx < o.tile_first + o.tiles WHERE o.job_id = $1 AND t.state <> 'done' AND o.idx = "

#define CELL_COLS "idx, status, reused, dup_of, reused_from, tile_first, tiles, points, row_json"

static const char *const sql_text[C__COUNT] = {
    [C_REUSE_CELL] = "SELECT job_id, tile_first, tiles FROM cells WHERE spec_hash = $1 "
                     "AND status = 'done' AND tiles > 0 AND points = $2 "
                     "ORDER BY job_id DESC LIMIT 1",
    [C_REUSE_SWEEP] = "SELECT j.id, 0, j.tiles_total FROM jobs AS j WHERE j.status = 'succeeded' "
                      "AND j.spec_json IN ($1, $2) AND j.points_total = $3 "
                      "AND NOT EXISTS (SELECT 1 FROM studies AS s WHERE s.job_id = j.id) "
                      "ORDER BY j.id DESC LIMIT 1",
    [C_STUDY_NEW] = "INSERT INTO studies (job_id, source_json, axes_json, cells_total, "
                    "cells_reused) VALUES ($1, $2, $3, $4, $5)",
    [C_CELL_NEW] = "INSERT INTO cells (job_id, idx, spec_json, spec_hash, points, tile_first, "
                   "tiles, dup_of, reused_from, reused) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    [C_TILES_COPY] = "INSERT INTO tiles (job_id, idx, cell, begin_pt, count, state, attempt, "
                     "labels, divergent, lane_steps, finished_ms) "
                     "SELECT $1, $2 + (idx - $4), $3, begin_pt, count, 'done', 0, labels, "
                     "divergent, lane_steps, $7 FROM tiles WHERE job_id = $5 AND idx >= $4 "
                     "AND idx < $4 + $6 AND state = 'done' ORDER BY idx",
    [C_STUDY] = "SELECT cells_total, cells_done, cells_reused, source_json, axes_json "
                "FROM studies WHERE job_id = $1",
    [C_CELL] = "SELECT " CELL_COLS ", spec_json FROM cells WHERE job_id = $1 AND idx = $2",
    [C_LEFT] = "SELECT count(*) " CELL_TILES_LEFT
               "(SELECT coalesce(dup_of, idx) FROM cells WHERE job_id = $1 AND idx = $2)",
    [C_READY] = "SELECT c.idx FROM cells AS c WHERE c.job_id = $1 AND c.status = 'pending' "
                "AND NOT EXISTS (SELECT 1 " CELL_TILES_LEFT "coalesce(c.dup_of, c.idx)) "
                "ORDER BY c.idx LIMIT $2",
    /* The cell's row, the study's count and the job's revision at once. */
    [C_CELL_DONE] = "WITH c AS (UPDATE cells SET status = 'done', row_json = $3, "
                    "finished_ms = $4 WHERE job_id = $1 AND idx = $2 AND status = 'pending' "
                    "RETURNING job_id), "
                    "st AS (UPDATE studies SET cells_done = cells_done + 1 "
                    "WHERE job_id IN (SELECT job_id FROM c)) "
                    "UPDATE jobs SET revision = revision + 1 WHERE id IN (SELECT job_id FROM c)",
    [C_PAGE] = "SELECT " CELL_COLS " FROM cells WHERE job_id = $1 AND idx >= $2 "
               "ORDER BY idx LIMIT $3",
    [C_CSV_PUT] = "UPDATE studies SET csv = $2 WHERE job_id = $1",
    [C_CSV] = "SELECT csv FROM studies WHERE job_id = $1",
};

#define SQL(id) STORE_STUDY_STMT_BASE + (id), sql_text[(id)]

/* ---- submit ------------------------------------------------------------- */

static const struct pq_col plan_cols[] = {
    {offsetof(struct queue_cell_plan, src_job), 0},
    {offsetof(struct queue_cell_plan, src_first), 1},
    {offsetof(struct queue_cell_plan, tiles), 2},
};

static int read_plan(const PGresult *r, int row, void *ctx)
{
    pq_col_ints(r, row, ctx, plan_cols, sizeof plan_cols / sizeof plan_cols[0]);
    return QUEUE_OK;
}

/* queue__study_plan's lookup: a finished cell of the same key, else a
 * succeeded sweep of the same spec; none: new tiles. */
static int find_reuse(struct store *s, const struct queue_cell_submit *c, struct queue_cell_plan *p)
{
    const char *alt = c->alt_spec ? c->alt_spec : c->spec_json;
    int ret =
        pq_row(s, SQL(C_REUSE_CELL), SQ_ARGS(SQ_T(c->reuse_key), SQ_I(c->points)), read_plan, p);

    if (ret == QUEUE_ENOENT)
        ret = pq_row(s, SQL(C_REUSE_SWEEP), SQ_ARGS(SQ_T(c->spec_json), SQ_T(alt), SQ_I(c->points)),
                     read_plan, p);
    if (ret == QUEUE_ENOENT)
        p->src_job = 0;
    return ret == QUEUE_ENOENT ? QUEUE_OK : ret;
}

/* A study's submit: the op's arguments, the plan, and what it returns. */
struct submit {
    const struct queue_study_submit *sub;
    int64_t now_ms;
    struct job *out;
    int *replayed;
    size_t copied;
    struct queue_cell_plan *plan; /* sub->n_cells, owned by the op */
};

/* Cell i's row and its tiles (new, or copies of stored ones) from tile
 * index first. */
static int put_cell(struct store *s, int64_t job_id, size_t i, const struct submit *t,
                    int64_t first)
{
    const struct queue_cell_submit *c = &t->sub->cells[i];
    const struct queue_cell_plan *p = &t->plan[i];
    int copied = 0;
    int ret = pq_exec(s, SQL(C_CELL_NEW),
                      SQ_ARGS(SQ_I(job_id), SQ_I(i), SQ_T(c->spec_json), SQ_T(c->reuse_key),
                              SQ_I(c->points), SQ_I(first), SQ_I(p->tiles), SQ_OPT(c->dup_of),
                              SQ_OPT(p->src_job > 0 ? p->src_job : -1),
                              SQ_I(c->dup_of >= 0 || p->src_job > 0)),
                      NULL);

    if (ret != QUEUE_OK || p->tiles == 0)
        return ret;
    if (p->src_job == 0)
        return pq_insert_tiles(s, job_id, first, (int64_t)i, c->points, c->tile_points, p->tiles);
    ret = pq_exec(s, SQL(C_TILES_COPY),
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
    ret = pq_admit(s, sub->idem_key, sub->request_hash, sub->max_queued, &id, t->replayed);
    if (ret == QUEUE_OK && id == 0) {
        ret = queue__study_plan(s, sub, t->plan, &row, &reused, &t->copied, find_reuse);
        if (ret == QUEUE_OK)
            ret = pq_insert_job(s, &row, t->now_ms, &id);
        if (ret == QUEUE_OK)
            ret = pq_exec(s, SQL(C_STUDY_NEW),
                          SQ_ARGS(SQ_I(id), SQ_T(sub->source_json), SQ_T(sub->axes_json),
                                  SQ_I(sub->n_cells), SQ_I(reused)),
                          NULL);
        for (i = 0; ret == QUEUE_OK && i < sub->n_cells; i++) {
            ret = put_cell(s, id, i, t, first);
            first += t->plan[i].tiles;
        }
    }
    if (ret == QUEUE_OK && t->out)
        ret = pq_load_job(s, id, t->out);
    return ret;
}

static int pg_study_enqueue(struct store *s, const struct queue_study_submit *sub, int64_t now_ms,
                            struct job *out, int *replayed, size_t *copied)
{
    struct submit t = {sub, now_ms, out, replayed, 0, calloc(sub->n_cells, sizeof *t.plan)};
    int ret;

    if (!t.plan)
        return QUEUE_ENOMEM;
    ret = pq_tx(s, submit_tx, &t);
    free(t.plan);
    if (ret == QUEUE_OK)
        *copied = t.copied;
    return ret;
}

/* ---- reads -------------------------------------------------------------- */

static const struct pq_col study_cols[] = {
    {offsetof(struct study_info, cells_total), 0},
    {offsetof(struct study_info, cells_done), 1},
    {offsetof(struct study_info, cells_reused), 2},
};

static int read_study(const PGresult *r, int row, void *ctx)
{
    struct study_info *out = ctx;
    int ret;

    pq_col_ints(r, row, out, study_cols, sizeof study_cols / sizeof study_cols[0]);
    ret = pq_col_dups(r, row, (const int[]){3, 4},
                      (char **const[]){&out->source_json, &out->axes_json}, 2);
    return ret == QUEUE_OK && (!out->source_json || !out->axes_json) ? QUEUE_EIO : ret;
}

static int pg_study_get(struct store *s, int64_t job_id, struct study_info *out)
{
    return pq_row(s, SQL(C_STUDY), SQ_ARGS(SQ_I(job_id)), read_study, out);
}

static const struct pq_col cell_cols[] = {
    {offsetof(struct study_cell, idx), 0},        {offsetof(struct study_cell, reused_from), 4},
    {offsetof(struct study_cell, tile_first), 5}, {offsetof(struct study_cell, tiles), 6},
    {offsetof(struct study_cell, points), 7},
};

/* Cell c from a row of CELL_COLS, with spec_json at column 9 if with_spec. */
static int cell_from(const PGresult *r, int row, struct study_cell *c, int with_spec)
{
    int ret;

    memset(c, 0, sizeof *c);
    pq_col_ints(r, row, c, cell_cols, sizeof cell_cols / sizeof cell_cols[0]);
    c->done = strcmp(pq_col_str(r, row, 1), "done") == 0;
    c->reused = pq_col_int(r, row, 2) != 0;
    c->dup_of = pq_col_null(r, row, 3) ? -1 : pq_col_int(r, row, 3);
    ret = pq_col_dup(r, row, 8, &c->row_json);
    if (ret == QUEUE_OK && with_spec)
        ret = pq_col_dup(r, row, 9, &c->spec_json);
    if (ret != QUEUE_OK)
        study_cell_free(c);
    return ret;
}

static int read_cell(const PGresult *r, int row, void *ctx)
{
    return cell_from(r, row, ctx, 1);
}

static int pg_cell_get(struct store *s, int64_t job_id, int64_t idx, struct study_cell *out)
{
    return pq_row(s, SQL(C_CELL), SQ_ARGS(SQ_I(job_id), SQ_I(idx)), read_cell, out);
}

static int pg_cell_tiles_left(struct store *s, int64_t job_id, int64_t idx, int64_t *left)
{
    return pq_int(s, SQL(C_LEFT), SQ_ARGS(SQ_I(job_id), SQ_I(idx)), left);
}

/* The caller's array being filled: cell indexes or cells. */
struct fill {
    int64_t *idx;
    struct study_cell *cells;
    int *n;
};

static int read_fill(const PGresult *r, int row, void *ctx)
{
    struct fill *f = ctx;
    int ret = QUEUE_OK;

    if (f->idx)
        f->idx[*f->n] = pq_col_int(r, row, 0);
    else
        ret = cell_from(r, row, &f->cells[*f->n], 0);
    if (ret == QUEUE_OK)
        (*f->n)++;
    return ret;
}

static int pg_cells_ready(struct store *s, int64_t job_id, int64_t *idx, int cap, int *n)
{
    struct fill f = {idx, NULL, n};
    int ret = pq_rows(s, SQL(C_READY), SQ_ARGS(SQ_I(job_id), SQ_I(cap)), read_fill, &f);

    if (ret != QUEUE_OK)
        *n = 0;
    return ret;
}

static int pg_cells_page(struct store *s, int64_t job_id, int64_t offset, int limit,
                         struct study_cell *out, int *n)
{
    struct fill f = {NULL, out, n};
    int ret =
        pq_rows(s, SQL(C_PAGE), SQ_ARGS(SQ_I(job_id), SQ_I(offset), SQ_I(limit)), read_fill, &f);

    while (ret != QUEUE_OK && *n > 0)
        study_cell_free(&out[--*n]);
    return ret;
}

/* ---- writes ------------------------------------------------------------- */

struct cell_done {
    int64_t job_id, idx, now_ms;
    const char *row_json;
};

static int cell_finish_tx(struct store *s, void *ctx)
{
    const struct cell_done *d = ctx;
    enum job_status st;
    int ret = pq_lock_job(s, d->job_id, &st); /* the job before its cells */

    if (ret == QUEUE_OK && st != JOB_QUEUED && st != JOB_RUNNING)
        ret = QUEUE_ECONFLICT;
    if (ret == QUEUE_OK)
        ret = pq_exec(s, SQL(C_CELL_DONE),
                      SQ_ARGS(SQ_I(d->job_id), SQ_I(d->idx), SQ_T(d->row_json), SQ_I(d->now_ms)),
                      NULL);
    return ret;
}

static int pg_cell_finish(struct store *s, int64_t job_id, int64_t idx, const char *row_json,
                          int64_t now_ms)
{
    struct cell_done d = {job_id, idx, now_ms, row_json};

    return pq_tx(s, cell_finish_tx, &d);
}

static int pg_put_csv(struct store *s, int64_t job_id, const char *csv)
{
    int changed = 0, ret = pq_exec(s, SQL(C_CSV_PUT), SQ_ARGS(SQ_I(job_id), SQ_T(csv)), &changed);

    return ret == QUEUE_OK && changed == 0 ? QUEUE_ENOENT : ret;
}

static int pg_get_csv(struct store *s, int64_t job_id, char **csv)
{
    return pq_text(s, SQL(C_CSV), SQ_ARGS(SQ_I(job_id)), csv);
}

const struct queue_study_backend queue_study_pg = {
    .enqueue = pg_study_enqueue,
    .get = pg_study_get,
    .cell_get = pg_cell_get,
    .cell_tiles_left = pg_cell_tiles_left,
    .cells_ready = pg_cells_ready,
    .cell_finish = pg_cell_finish,
    .cells_page = pg_cells_page,
    .put_csv = pg_put_csv,
    .get_csv = pg_get_csv,
};
