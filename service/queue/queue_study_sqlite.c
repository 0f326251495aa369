/*
 * queue_study_sqlite.c - the SQLite backend of the study rows
 * (queue_study.h; schema in migrations/0002_studies.sql): what a study
 * adds on top of the queue's shared primitives (store_int.h: one submit
 * transaction with idempotency and backpressure, the jobs row, tiles that
 * name their cell): its studies row and cells, cell reuse from the store,
 * cell readiness, a cell's row, the rows page and the CSV. Claims, leases,
 * tile results, labels, cancel, delete and retention are the queue's own
 * (queue_sqlite.c).
 *
 * Owns: the statements in slots STORE_STUDY_STMT_BASE.. of the store's
 * cache, and the study ops table queue_study_sqlite (queue_backend.h).
 *
 * Threads: every call runs on the thread that owns the store.
 *
 * Invariants:
 *  - a study job, its studies row, its cells and all its tiles are
 *    inserted in one transaction, so a study is never half-submitted;
 *  - a cell with tiles owns the contiguous tile range [tile_first,
 *    tile_first + tiles) of its job; a duplicate owns none and reads the
 *    labels of the cell it duplicates;
 *  - a reused cell's tiles are copies of saved tiles (state done, attempt
 *    0, no tile_attempts row): nothing of it is computed again;
 *  - a cell becomes done once, with its row, while its job is active.
 * Every value reaches SQL through a bound parameter.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

enum {
    S_REUSE_CELL,
    S_REUSE_SWEEP,
    S_STUDY_INSERT,
    S_CELL_INSERT,
    S_TILES_COPY,
    S_STUDY_GET,
    S_CELL_GET,
    S_TILES_LEFT,
    S_CELLS_READY,
    S_CELL_DONE,
    S_STUDY_DONE_INC,
    S_JOB_BUMP,
    S_CELLS_PAGE,
    S_CSV_PUT,
    S_CSV_GET,
    S__COUNT
};
_Static_assert(STORE_STUDY_STMT_BASE + S__COUNT <= STORE_MAX_STMTS, "grow STORE_MAX_STMTS");

/* The saved-or-not tiles of the cell whose labels cell (job ?1, idx ?2)
 * uses: its own, or those of the cell it duplicates. */
#define CELL_TILES_LEFT                                                                            \
    "FROM cells AS o JOIN tiles AS t ON t.job_id = o.job_id AND t.idx >= o.tile_first "            \
    "AND t.idx < o.tile_first + o.tiles WHERE o.job_id = ?1 AND t.state != 'done' AND o.idx = "

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
    [S_STUDY_INSERT] = "INSERT INTO studies (job_id, source_json, axes_json, cells_total, "
                       "cells_reused) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_CELL_INSERT] = "INSERT INTO cells (job_id, idx, spec_json, spec_hash, points, tile_first, "
                      "tiles, dup_of, reused_from, reused) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_TILES_COPY] = "INSERT INTO tiles (job_id, idx, cell, begin_pt, count, state, attempt, "
                     "labels, divergent, lane_steps, finished_ms) "
                     "SELECT ?1, ?2 + (idx - ?4), ?3, begin_pt, count, 'done', 0, labels, "
                     "divergent, lane_steps, ?7 FROM tiles WHERE job_id = ?5 AND idx >= ?4 "
                     "AND idx < ?4 + ?6 AND state = 'done' ORDER BY idx",
    [S_STUDY_GET] = "SELECT cells_total, cells_done, cells_reused, source_json, axes_json "
                    "FROM studies WHERE job_id = ?1",
    [S_CELL_GET] = "SELECT " CELL_COLS ", spec_json FROM cells WHERE job_id = ?1 AND idx = ?2",
    [S_TILES_LEFT] = "SELECT count(*) " CELL_TILES_LEFT
                     "(SELECT coalesce(dup_of, idx) FROM cells WHERE job_id = ?1 AND idx = ?2)",
    [S_CELLS_READY] = "SELECT c.idx FROM cells AS c WHERE c.job_id = ?1 AND c.status = 'pending' "
                      "AND NOT EXISTS (SELECT 1 " CELL_TILES_LEFT "coalesce(c.dup_of, c.idx)) "
                      "ORDER BY c.idx LIMIT ?2",
    [S_CELL_DONE] = "UPDATE cells SET status = 'done', row_json = ?3, finished_ms = ?4 "
                    "WHERE job_id = ?1 AND idx = ?2 AND status = 'pending'",
    [S_STUDY_DONE_INC] = "UPDATE studies SET cells_done = cells_done + 1 WHERE job_id = ?1",
    [S_JOB_BUMP] = "UPDATE jobs SET revision = revision + 1 WHERE id = ?1",
    [S_CELLS_PAGE] = "SELECT " CELL_COLS " FROM cells WHERE job_id = ?1 AND idx >= ?2 "
                     "ORDER BY idx LIMIT ?3",
    [S_CSV_PUT] = "UPDATE studies SET csv = ?2 WHERE job_id = ?1",
    [S_CSV_GET] = "SELECT csv FROM studies WHERE job_id = ?1",
};

/* A statement's slot and text, for the sq_* helpers. */
#define SQL(id) STORE_STUDY_STMT_BASE + (id), sql_text[(id)]

/* ---- submit ------------------------------------------------------------- */

static int read_plan(sqlite3_stmt *st, void *ctx)
{
    struct queue_cell_plan *p = ctx;

    p->src_job = sqlite3_column_int64(st, 0);
    p->src_first = sqlite3_column_int64(st, 1);
    p->tiles = sqlite3_column_int64(st, 2);
    return QUEUE_OK;
}

/* Finds stored labels for cell c: a finished cell, else a succeeded sweep. */
static int find_reuse(struct store *s, const struct queue_cell_submit *c, struct queue_cell_plan *p)
{
    int ret;

    p->src_job = 0;
    ret = sq_row(s, SQL(S_REUSE_CELL), SQ_ARGS(SQ_T(c->reuse_key), SQ_I(c->points)), read_plan, p);
    if (ret == QUEUE_ENOENT)
        ret = sq_row(s, SQL(S_REUSE_SWEEP),
                     SQ_ARGS(SQ_T(c->spec_json), SQ_T(c->alt_spec ? c->alt_spec : c->spec_json),
                             SQ_I(c->points)),
                     read_plan, p);
    return ret == QUEUE_ENOENT ? QUEUE_OK : ret; /* none: new tiles */
}

/* Inserts cell i's row and its tiles (new or copied) from tile index first. */
static int insert_cell(struct store *s, int64_t job_id, size_t i, const struct queue_cell_submit *c,
                       const struct queue_cell_plan *p, int64_t first, int64_t now_ms)
{
    int changed, ret;

    ret = sq_exec(s, SQL(S_CELL_INSERT),
                  SQ_ARGS(SQ_I(job_id), SQ_I(i), SQ_T(c->spec_json), SQ_T(c->reuse_key),
                          SQ_I(c->points), SQ_I(first), SQ_I(p->tiles), SQ_OPT(c->dup_of),
                          SQ_OPT(p->src_job > 0 ? p->src_job : -1),
                          SQ_I(c->dup_of >= 0 || p->src_job > 0)),
                  NULL);
    if (ret != QUEUE_OK || p->tiles == 0)
        return ret;
    if (p->src_job == 0)
        return sq_insert_tiles(s, job_id, first, (int64_t)i, c->points, c->tile_points, p->tiles);
    ret = sq_exec(s, SQL(S_TILES_COPY),
                  SQ_ARGS(SQ_I(job_id), SQ_I(first), SQ_I(i), SQ_I(p->src_first), SQ_I(p->src_job),
                          SQ_I(p->tiles), SQ_I(now_ms)),
                  &changed);
    if (ret == QUEUE_OK && changed != p->tiles)
        ret = QUEUE_EIO; /* the source lost a tile: cannot happen in one transaction */
    return ret;
}

/* Inserts the study job, its studies row, its cells and their tiles. */
static int insert_study(struct store *s, const struct queue_study_submit *sub,
                        struct queue_cell_plan *plan, int64_t now_ms, int64_t *job_id,
                        size_t *n_copied)
{
    /* queue__study_plan() sums up the rest. */
    struct sq_job_row r = {.kind = QUEUE_KIND_STUDY,
                           .name = sub->name,
                           .spec_json = sub->spec_json,
                           .idem_key = sub->idem_key,
                           .request_hash = sub->request_hash};
    size_t i, n_reused = 0;
    int64_t first = 0;
    int ret;

    ret = queue__study_plan(s, sub, plan, &r, &n_reused, n_copied, find_reuse);
    if (ret == QUEUE_OK)
        ret = sq_insert_job(s, &r, now_ms, job_id);
    if (ret == QUEUE_OK)
        ret = sq_exec(s, SQL(S_STUDY_INSERT),
                      SQ_ARGS(SQ_I(*job_id), SQ_T(sub->source_json), SQ_T(sub->axes_json),
                              SQ_I(sub->n_cells), SQ_I(n_reused)),
                      NULL);
    for (i = 0; ret == QUEUE_OK && i < sub->n_cells; i++) {
        ret = insert_cell(s, *job_id, i, &sub->cells[i], &plan[i], first, now_ms);
        first += plan[i].tiles;
    }
    return ret;
}

static int study_enqueue(struct store *s, const struct queue_study_submit *sub, int64_t now_ms,
                         struct job *out, int *replayed, size_t *copied)
{
    struct queue_cell_plan *plan = calloc(sub->n_cells, sizeof *plan);
    size_t n_copied = 0;
    int64_t job_id;
    int ret;

    if (!plan)
        return QUEUE_ENOMEM;
    ret = sq_admit(s, sub->idem_key, sub->request_hash, sub->max_queued, &job_id, replayed);
    if (ret == QUEUE_OK) {
        if (job_id == 0)
            ret = insert_study(s, sub, plan, now_ms, &job_id, &n_copied);
        ret = sq_admitted(s, ret, job_id, out);
    }
    free(plan);
    if (ret == QUEUE_OK)
        *copied = n_copied;
    return ret;
}

/* ---- reads -------------------------------------------------------------- */

static int read_study(sqlite3_stmt *st, void *ctx)
{
    struct study_info *out = ctx;
    int ret;

    out->cells_total = sqlite3_column_int64(st, 0);
    out->cells_done = sqlite3_column_int64(st, 1);
    out->cells_reused = sqlite3_column_int64(st, 2);
    ret = store__column_dups(st, (const int[]){3, 4},
                             (char **const[]){&out->source_json, &out->axes_json}, 2);
    if (ret == QUEUE_OK && (!out->source_json || !out->axes_json))
        ret = QUEUE_EIO;
    return ret;
}

static int study_get(struct store *s, int64_t job_id, struct study_info *out)
{
    return sq_row(s, SQL(S_STUDY_GET), SQ_ARGS(SQ_I(job_id)), read_study, out);
}

/* Fills c from a row of CELL_COLS (and spec_json at column 9 if with_spec). */
static int cell_from_row(sqlite3_stmt *st, struct study_cell *c, int with_spec)
{
    const unsigned char *status = sqlite3_column_text(st, 1);
    int ret;

    memset(c, 0, sizeof *c);
    c->idx = sqlite3_column_int64(st, 0);
    c->done = status && strcmp((const char *)status, "done") == 0;
    c->reused = sqlite3_column_int(st, 2);
    c->dup_of = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3);
    c->reused_from = sqlite3_column_int64(st, 4);
    c->tile_first = sqlite3_column_int64(st, 5);
    c->tiles = sqlite3_column_int64(st, 6);
    c->points = (uint64_t)sqlite3_column_int64(st, 7);
    ret = store__column_dup(st, 8, &c->row_json);
    if (ret == QUEUE_OK && with_spec)
        ret = store__column_dup(st, 9, &c->spec_json);
    if (ret != QUEUE_OK)
        study_cell_free(c);
    return ret;
}

static int read_cell_with_spec(sqlite3_stmt *st, void *ctx)
{
    return cell_from_row(st, ctx, 1);
}

static int cell_get(struct store *s, int64_t job_id, int64_t idx, struct study_cell *out)
{
    return sq_row(s, SQL(S_CELL_GET), SQ_ARGS(SQ_I(job_id), SQ_I(idx)), read_cell_with_spec, out);
}

static int cell_tiles_left(struct store *s, int64_t job_id, int64_t idx, int64_t *left)
{
    return sq_int(s, SQL(S_TILES_LEFT), SQ_ARGS(SQ_I(job_id), SQ_I(idx)), left);
}

/* A list being read into the caller's array: cell indexes or cells. */
struct cell_list {
    int64_t *idx;
    struct study_cell *cells;
    int *n;
};

static int read_ready(sqlite3_stmt *st, void *ctx)
{
    struct cell_list *l = ctx;

    l->idx[(*l->n)++] = sqlite3_column_int64(st, 0);
    return QUEUE_OK;
}

static int cells_ready(struct store *s, int64_t job_id, int64_t *idx, int cap, int *n)
{
    struct cell_list l = {idx, NULL, n};
    int ret = sq_rows(s, SQL(S_CELLS_READY), SQ_ARGS(SQ_I(job_id), SQ_I(cap)), read_ready, &l);

    if (ret != QUEUE_OK)
        *n = 0;
    return ret;
}

/* ---- writes ------------------------------------------------------------- */

static int cell_finish(struct store *s, int64_t job_id, int64_t idx, const char *row_json,
                       int64_t now_ms)
{
    enum job_status status;
    int ret, changed = 0;

    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = sq_job_state(s, job_id, &status, NULL);
    if (ret == QUEUE_OK && status != JOB_QUEUED && status != JOB_RUNNING)
        ret = QUEUE_ECONFLICT;
    if (ret == QUEUE_OK)
        ret = sq_exec(s, SQL(S_CELL_DONE),
                      SQ_ARGS(SQ_I(job_id), SQ_I(idx), SQ_T(row_json), SQ_I(now_ms)), &changed);
    if (ret == QUEUE_OK && changed)
        ret = sq_exec(s, SQL(S_STUDY_DONE_INC), SQ_ARGS(SQ_I(job_id)), NULL);
    if (ret == QUEUE_OK && changed)
        ret = sq_exec(s, SQL(S_JOB_BUMP), SQ_ARGS(SQ_I(job_id)), NULL);
    if (ret == QUEUE_OK)
        ret = store__commit(s);
    store__rollback(s);
    return ret;
}

static int read_page_cell(sqlite3_stmt *st, void *ctx)
{
    struct cell_list *l = ctx;
    int ret = cell_from_row(st, &l->cells[*l->n], 0);

    if (ret == QUEUE_OK)
        (*l->n)++;
    return ret;
}

static int cells_page(struct store *s, int64_t job_id, int64_t offset, int limit,
                      struct study_cell *out, int *n)
{
    struct cell_list l = {NULL, out, n};
    int ret, i;

    ret = sq_rows(s, SQL(S_CELLS_PAGE), SQ_ARGS(SQ_I(job_id), SQ_I(offset), SQ_I(limit)),
                  read_page_cell, &l);
    if (ret != QUEUE_OK) {
        for (i = 0; i < *n; i++)
            study_cell_free(&out[i]);
        *n = 0;
    }
    return ret;
}

static int put_csv(struct store *s, int64_t job_id, const char *csv)
{
    int changed, ret = sq_exec(s, SQL(S_CSV_PUT), SQ_ARGS(SQ_I(job_id), SQ_T(csv)), &changed);

    return ret == QUEUE_OK && changed == 0 ? QUEUE_ENOENT : ret;
}

static int get_csv(struct store *s, int64_t job_id, char **csv)
{
    return sq_text(s, SQL(S_CSV_GET), SQ_ARGS(SQ_I(job_id)), csv);
}

const struct queue_study_backend queue_study_sqlite = {
    .enqueue = study_enqueue,
    .get = study_get,
    .cell_get = cell_get,
    .cell_tiles_left = cell_tiles_left,
    .cells_ready = cells_ready,
    .cell_finish = cell_finish,
    .cells_page = cells_page,
    .put_csv = put_csv,
    .get_csv = get_csv,
};
