/*
 * queue_study.c - the study and cell rows of queue_study.h on SQLite
 * (schema in migrations/0002_studies.sql).
 *
 * Owns: the statements in slots STORE_STUDY_STMT_BASE.. of the store's
 * cache, and everything declared in queue_study.h.
 *
 * Threads: every call runs on the thread that owns the store (the loop
 * thread for submits and reads, a pool thread for the analysis calls).
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
#include "queue_study.h"

#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "tb.h"

enum {
    S_ACTIVE_COUNT,
    S_REUSE_CELL,
    S_REUSE_SWEEP,
    S_JOB_INSERT,
    S_STUDY_INSERT,
    S_CELL_INSERT,
    S_TILE_INSERT,
    S_TILES_COPY,
    S_STUDY_GET,
    S_IS_STUDY,
    S_CELL_GET,
    S_TILES_LEFT,
    S_CELLS_READY,
    S_CELL_LABELS,
    S_JOB_STATUS,
    S_CELL_DONE,
    S_STUDY_DONE_INC,
    S_JOB_BUMP,
    S_CELLS_PAGE,
    S_CSV_PUT,
    S_CSV_GET,
    S__COUNT
};
_Static_assert(STORE_STUDY_STMT_BASE + S__COUNT <= STORE_MAX_STMTS, "grow STORE_MAX_STMTS");

/* The tiles of the cell whose labels cell (job ?1, idx ?2) uses. */
#define LABEL_TILES                                                                                \
    "FROM cells AS o JOIN tiles AS t ON t.job_id = o.job_id AND t.idx >= o.tile_first "           \
    "AND t.idx < o.tile_first + o.tiles WHERE o.job_id = ?1 AND o.idx = "                          \
    "(SELECT coalesce(dup_of, idx) FROM cells WHERE job_id = ?1 AND idx = ?2)"

#define CELL_COLS "idx, status, reused, dup_of, reused_from, tile_first, tiles, points, row_json"

static const char *const sql_text[S__COUNT] = {
    [S_ACTIVE_COUNT] = "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')",
    /* Index cells_reuse: the newest finished cell with its own labels. */
    [S_REUSE_CELL] = "SELECT job_id, tile_first, tiles FROM cells WHERE spec_hash = ?1 "
                     "AND status = 'done' AND tiles > 0 AND points = ?2 "
                     "ORDER BY job_id DESC LIMIT 1",
    /* Index jobs_succeeded_spec: a succeeded sweep of the same spec. */
    [S_REUSE_SWEEP] = "SELECT j.id, j.tiles_total FROM jobs AS j WHERE j.status = 'succeeded' "
                      "AND j.spec_json IN (?1, ?2) AND j.points_total = ?3 "
                      "AND NOT EXISTS (SELECT 1 FROM studies AS s WHERE s.job_id = j.id) "
                      "ORDER BY j.id DESC LIMIT 1",
    [S_JOB_INSERT] = "INSERT INTO jobs (status, name, spec_json, points_total, points_done, "
                     "tile_points, tiles_total, tiles_done, created_ms, started_ms, idem_key, "
                     "request_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [S_STUDY_INSERT] = "INSERT INTO studies (job_id, source_json, axes_json, cells_total, "
                       "cells_reused) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_CELL_INSERT] = "INSERT INTO cells (job_id, idx, spec_json, spec_hash, points, tile_first, "
                      "tiles, dup_of, reused_from, reused) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_TILE_INSERT] = "INSERT INTO tiles (job_id, idx, cell, begin_pt, count) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_TILES_COPY] = "INSERT INTO tiles (job_id, idx, cell, begin_pt, count, state, attempt, "
                     "labels, divergent, lane_steps, finished_ms) "
                     "SELECT ?1, ?2 + (idx - ?4), ?3, begin_pt, count, 'done', 0, labels, "
                     "divergent, lane_steps, ?7 FROM tiles WHERE job_id = ?5 AND idx >= ?4 "
                     "AND idx < ?4 + ?6 AND state = 'done' ORDER BY idx",
    [S_STUDY_GET] = "SELECT cells_total, cells_done, cells_reused, source_json, axes_json "
                    "FROM studies WHERE job_id = ?1",
    [S_IS_STUDY] = "SELECT 1 FROM studies WHERE job_id = ?1",
    [S_CELL_GET] = "SELECT " CELL_COLS ", spec_json FROM cells WHERE job_id = ?1 AND idx = ?2",
    [S_TILES_LEFT] = "SELECT count(*) " LABEL_TILES " AND t.state != 'done'",
    [S_CELLS_READY] =
        "SELECT c.idx FROM cells AS c WHERE c.job_id = ?1 AND c.status = 'pending' "
        "AND NOT EXISTS (SELECT 1 FROM cells AS o JOIN tiles AS t ON t.job_id = o.job_id "
        "AND t.idx >= o.tile_first AND t.idx < o.tile_first + o.tiles "
        "WHERE o.job_id = ?1 AND o.idx = coalesce(c.dup_of, c.idx) AND t.state != 'done') "
        "ORDER BY c.idx LIMIT ?2",
    [S_CELL_LABELS] = "SELECT o.points, t.begin_pt, t.count, t.labels, t.state " LABEL_TILES
                      " ORDER BY t.idx",
    [S_JOB_STATUS] = "SELECT status FROM jobs WHERE id = ?1",
    [S_CELL_DONE] = "UPDATE cells SET status = 'done', row_json = ?3, finished_ms = ?4 "
                    "WHERE job_id = ?1 AND idx = ?2 AND status = 'pending'",
    [S_STUDY_DONE_INC] = "UPDATE studies SET cells_done = cells_done + 1 WHERE job_id = ?1",
    [S_JOB_BUMP] = "UPDATE jobs SET revision = revision + 1 WHERE id = ?1",
    [S_CELLS_PAGE] = "SELECT " CELL_COLS " FROM cells WHERE job_id = ?1 AND idx >= ?2 "
                     "ORDER BY idx LIMIT ?3",
    [S_CSV_PUT] = "UPDATE studies SET csv = ?2 WHERE job_id = ?1",
    [S_CSV_GET] = "SELECT csv FROM studies WHERE job_id = ?1",
};

static int stmt(struct store *s, int id, sqlite3_stmt **out)
{
    return store__stmt(s, STORE_STUDY_STMT_BASE + id, sql_text[id], out);
}

/* Runs a one-integer query bound to (a, b); *v = its value (0 when no row). */
static int query_int(struct store *s, int id, int64_t a, int64_t b, int64_t *v, int *found)
{
    sqlite3_stmt *st = NULL;
    int ret;

    *v = 0;
    if (found)
        *found = 0;
    ret = stmt(s, id, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, a);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_int64(st, 2, b);
    ret = store__step_row(st);
    if (ret == 1) {
        *v = sqlite3_column_int64(st, 0);
        if (found)
            *found = 1;
        ret = QUEUE_OK;
    }
out:
    store__reset(st);
    return ret;
}

/* ---- submit ------------------------------------------------------------- */

/* Where a cell's tiles come from. */
struct plan {
    int64_t src_job; /* 0: new tiles */
    int64_t src_first, tiles;
};

/* Finds stored labels for cell c: a finished cell, else a succeeded sweep. */
static int find_reuse(struct store *s, const struct queue_cell_submit *c, struct plan *p)
{
    sqlite3_stmt *st = NULL;
    int ret;

    p->src_job = 0;
    ret = stmt(s, S_REUSE_CELL, &st);
    if (ret != QUEUE_OK)
        goto out;
    ret = store__bind_text(st, 1, c->reuse_key);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 2, (sqlite3_int64)c->points);
    ret = store__step_row(st);
    if (ret == 1) {
        p->src_job = sqlite3_column_int64(st, 0);
        p->src_first = sqlite3_column_int64(st, 1);
        p->tiles = sqlite3_column_int64(st, 2);
        ret = QUEUE_OK;
        goto out;
    }
    if (ret < 0)
        goto out;
    store__reset(st);
    ret = stmt(s, S_REUSE_SWEEP, &st);
    if (ret != QUEUE_OK)
        goto out;
    ret = store__bind_text(st, 1, c->spec_json);
    if (ret == QUEUE_OK)
        ret = store__bind_text(st, 2, c->alt_spec ? c->alt_spec : c->spec_json);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 3, (sqlite3_int64)c->points);
    ret = store__step_row(st);
    if (ret == 1) {
        p->src_job = sqlite3_column_int64(st, 0);
        p->src_first = 0;
        p->tiles = sqlite3_column_int64(st, 1);
        ret = QUEUE_OK;
    }
out:
    store__reset(st);
    return ret;
}

static int insert_job(struct store *s, const struct queue_study_submit *sub, int running,
                      uint64_t points, uint64_t points_done, uint64_t tile_points, int64_t tiles,
                      int64_t tiles_done, int64_t now_ms, int64_t *job_id)
{
    sqlite3_stmt *st = NULL;
    int ret;

    ret = stmt(s, S_JOB_INSERT, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_text(st, 1, running ? "running" : "queued", -1, SQLITE_STATIC);
    ret = store__bind_text(st, 2, sub->name);
    if (ret == QUEUE_OK)
        ret = store__bind_text(st, 3, sub->spec_json);
    if (ret == QUEUE_OK)
        ret = store__bind_text(st, 11, sub->idem_key);
    if (ret == QUEUE_OK)
        ret = store__bind_text(st, 12, sub->idem_key ? sub->request_hash : NULL);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 4, (sqlite3_int64)points);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)points_done);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)tile_points);
    sqlite3_bind_int64(st, 7, tiles);
    sqlite3_bind_int64(st, 8, tiles_done);
    sqlite3_bind_int64(st, 9, now_ms);
    sqlite3_bind_int64(st, 10, running ? now_ms : 0);
    ret = store__step_done(st);
    if (ret == QUEUE_OK)
        *job_id = sqlite3_last_insert_rowid(s->db);
out:
    store__reset(st);
    return ret;
}

/* Inserts cell i's row and its tiles (new or copied) from tile index first. */
static int insert_cell(struct store *s, int64_t job_id, size_t i, const struct queue_cell_submit *c,
                       const struct plan *p, int64_t first, int64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    int64_t k;
    int ret;

    ret = stmt(s, S_CELL_INSERT, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
    ret = store__bind_text(st, 3, c->spec_json);
    if (ret == QUEUE_OK)
        ret = store__bind_text(st, 4, c->reuse_key);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 5, (sqlite3_int64)c->points);
    sqlite3_bind_int64(st, 6, first);
    sqlite3_bind_int64(st, 7, p->tiles);
    if (c->dup_of >= 0)
        sqlite3_bind_int64(st, 8, c->dup_of);
    else
        sqlite3_bind_null(st, 8);
    if (p->src_job > 0)
        sqlite3_bind_int64(st, 9, p->src_job);
    else
        sqlite3_bind_null(st, 9);
    sqlite3_bind_int(st, 10, c->dup_of >= 0 || p->src_job > 0);
    ret = store__step_done(st);
    store__reset(st);
    st = NULL;
    if (ret != QUEUE_OK || p->tiles == 0)
        goto out;

    if (p->src_job > 0) {
        ret = stmt(s, S_TILES_COPY, &st);
        if (ret != QUEUE_OK)
            goto out;
        sqlite3_bind_int64(st, 1, job_id);
        sqlite3_bind_int64(st, 2, first);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)i);
        sqlite3_bind_int64(st, 4, p->src_first);
        sqlite3_bind_int64(st, 5, p->src_job);
        sqlite3_bind_int64(st, 6, p->tiles);
        sqlite3_bind_int64(st, 7, now_ms);
        ret = store__step_done(st);
        if (ret == QUEUE_OK && sqlite3_changes(s->db) != p->tiles)
            ret = QUEUE_EIO; /* the source lost a tile: cannot happen in one transaction */
        goto out;
    }
    ret = stmt(s, S_TILE_INSERT, &st);
    if (ret != QUEUE_OK)
        goto out;
    for (k = 0; k < p->tiles; k++) {
        uint64_t begin = (uint64_t)k * c->tile_points;
        uint64_t count = c->points - begin < c->tile_points ? c->points - begin : c->tile_points;

        sqlite3_bind_int64(st, 1, job_id);
        sqlite3_bind_int64(st, 2, first + k);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)i);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)begin);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)count);
        ret = store__step_done(st);
        sqlite3_reset(st);
        if (ret != QUEUE_OK)
            goto out;
    }
out:
    store__reset(st);
    return ret;
}

int queue_enqueue_study(struct store *s, const struct queue_study_submit *sub, int64_t now_ms,
                        struct job *out, int *replayed, size_t *copied)
{
    struct plan *plan = NULL;
    uint64_t points = 0, points_done = 0, tile_points = 0;
    int64_t tiles = 0, tiles_done = 0, job_id = 0, active, first;
    size_t i, n_reused = 0, n_copied = 0;
    int ret;

    if (out)
        memset(out, 0, sizeof *out);
    if (replayed)
        *replayed = 0;
    if (copied)
        *copied = 0;
    if (!s || !sub || !sub->spec_json || !sub->source_json || !sub->axes_json ||
        sub->n_cells == 0 || !sub->cells || sub->n_cells > (size_t)INT32_MAX)
        return QUEUE_EINVAL;
    for (i = 0; i < sub->n_cells; i++) {
        const struct queue_cell_submit *c = &sub->cells[i];
        if (!c->spec_json || !c->reuse_key || c->points == 0 || c->points > (uint64_t)INT64_MAX ||
            c->tile_points == 0 || c->tile_points % 64 != 0 ||
            c->tile_points > (uint64_t)INT64_MAX || c->dup_of >= (int64_t)i ||
            (c->dup_of >= 0 && sub->cells[c->dup_of].dup_of >= 0))
            return QUEUE_EINVAL;
    }
    plan = calloc(sub->n_cells, sizeof *plan);
    if (!plan)
        return QUEUE_ENOMEM;

    ret = store__begin(s);
    if (ret != QUEUE_OK)
        goto out;
    if (sub->idem_key) {
        ret = queue__idem_lookup(s, sub->idem_key, sub->request_hash, &job_id);
        if (ret != QUEUE_OK)
            goto out;
        if (job_id != 0) {
            if (replayed)
                *replayed = 1;
            goto load;
        }
    }
    if (sub->max_queued > 0) {
        ret = query_int(s, S_ACTIVE_COUNT, 0, 0, &active, NULL);
        if (ret != QUEUE_OK)
            goto out;
        if (active >= sub->max_queued) {
            ret = QUEUE_EFULL;
            goto out;
        }
    }

    /* Plan every cell first: the job row needs the totals. */
    for (i = 0; i < sub->n_cells; i++) {
        const struct queue_cell_submit *c = &sub->cells[i];

        if (c->dup_of >= 0) {
            n_reused++;
            continue;
        }
        if (sub->reuse) {
            ret = find_reuse(s, c, &plan[i]);
            if (ret != QUEUE_OK)
                goto out;
        }
        if (plan[i].src_job > 0) {
            n_reused++;
            n_copied++;
            tiles_done += plan[i].tiles;
            points_done += c->points;
        } else {
            plan[i].tiles =
                (int64_t)(c->points / c->tile_points + (c->points % c->tile_points != 0));
        }
        if (tile_points == 0)
            tile_points = c->tile_points;
        tiles += plan[i].tiles;
        points += c->points;
        if (tiles > QUEUE_MAX_TILES) {
            ret = QUEUE_EINVAL;
            goto out;
        }
    }
    ret = insert_job(s, sub, tiles_done == tiles, points, points_done, tile_points, tiles,
                     tiles_done, now_ms, &job_id);
    if (ret != QUEUE_OK)
        goto out;
    {
        sqlite3_stmt *st = NULL;

        ret = stmt(s, S_STUDY_INSERT, &st);
        if (ret == QUEUE_OK) {
            sqlite3_bind_int64(st, 1, job_id);
            ret = store__bind_text(st, 2, sub->source_json);
            if (ret == QUEUE_OK)
                ret = store__bind_text(st, 3, sub->axes_json);
            sqlite3_bind_int64(st, 4, (sqlite3_int64)sub->n_cells);
            sqlite3_bind_int64(st, 5, (sqlite3_int64)n_reused);
            if (ret == QUEUE_OK)
                ret = store__step_done(st);
        }
        store__reset(st);
        if (ret != QUEUE_OK)
            goto out;
    }
    first = 0;
    for (i = 0; i < sub->n_cells; i++) {
        ret = insert_cell(s, job_id, i, &sub->cells[i], &plan[i], first, now_ms);
        if (ret != QUEUE_OK)
            goto out;
        first += plan[i].tiles;
    }
load:
    if (out)
        ret = queue_get(s, job_id, out);
    if (ret == QUEUE_OK)
        ret = store__commit(s);
out:
    store__rollback(s);
    free(plan);
    if (ret != QUEUE_OK) {
        if (out)
            job_free(out);
        if (replayed)
            *replayed = 0;
    } else if (copied) {
        *copied = n_copied;
    }
    return ret;
}

/* ---- reads -------------------------------------------------------------- */

void study_info_free(struct study_info *i)
{
    if (!i)
        return;
    free(i->source_json);
    free(i->axes_json);
    memset(i, 0, sizeof *i);
}

void study_cell_free(struct study_cell *c)
{
    if (!c)
        return;
    free(c->spec_json);
    free(c->row_json);
    memset(c, 0, sizeof *c);
}

int queue_study_get(struct store *s, int64_t job_id, struct study_info *out)
{
    sqlite3_stmt *st = NULL;
    int ret;

    memset(out, 0, sizeof *out);
    ret = stmt(s, S_STUDY_GET, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    ret = store__step_row(st);
    if (ret == 0)
        ret = QUEUE_ENOENT;
    if (ret < 0)
        goto out;
    out->cells_total = sqlite3_column_int64(st, 0);
    out->cells_done = sqlite3_column_int64(st, 1);
    out->cells_reused = sqlite3_column_int64(st, 2);
    ret = store__column_dup(st, 3, &out->source_json);
    if (ret == QUEUE_OK)
        ret = store__column_dup(st, 4, &out->axes_json);
    if (ret == QUEUE_OK && (!out->source_json || !out->axes_json))
        ret = QUEUE_EIO;
out:
    store__reset(st);
    if (ret != QUEUE_OK)
        study_info_free(out);
    return ret;
}

int queue_is_study(struct store *s, int64_t job_id)
{
    int64_t v;
    int found, ret = query_int(s, S_IS_STUDY, job_id, 0, &v, &found);

    return ret != QUEUE_OK ? ret : found;
}

/* Fills c from a row of CELL_COLS (and spec_json at column 9 if with_spec). */
static int cell_from_row(sqlite3_stmt *st, struct study_cell *c, int with_spec)
{
    int ret;

    memset(c, 0, sizeof *c);
    c->idx = sqlite3_column_int64(st, 0);
    c->done = strcmp((const char *)sqlite3_column_text(st, 1), "done") == 0;
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

int queue_cell_get(struct store *s, int64_t job_id, int64_t idx, struct study_cell *out)
{
    sqlite3_stmt *st = NULL;
    int ret;

    memset(out, 0, sizeof *out);
    ret = stmt(s, S_CELL_GET, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, idx);
    ret = store__step_row(st);
    if (ret == 0)
        ret = QUEUE_ENOENT;
    if (ret == 1)
        ret = cell_from_row(st, out, 1);
out:
    store__reset(st);
    return ret;
}

int queue_cell_tiles_left(struct store *s, int64_t job_id, int64_t idx, int64_t *left)
{
    return query_int(s, S_TILES_LEFT, job_id, idx, left, NULL);
}

int queue_cells_ready(struct store *s, int64_t job_id, int64_t *idx, int cap, int *n)
{
    sqlite3_stmt *st = NULL;
    int ret;

    *n = 0;
    if (cap <= 0)
        return QUEUE_EINVAL;
    ret = stmt(s, S_CELLS_READY, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int(st, 2, cap);
    while ((ret = store__step_row(st)) == 1)
        idx[(*n)++] = sqlite3_column_int64(st, 0);
out:
    store__reset(st);
    if (ret != QUEUE_OK)
        *n = 0;
    return ret;
}

int queue_cell_labels(struct store *s, int64_t job_id, int64_t idx, uint64_t *bits)
{
    sqlite3_stmt *st = NULL;
    uint64_t *buf = NULL, *grown, cap = 0, total = 0, covered = 0, begin, count, words, i, w;
    const unsigned char *blob;
    int ret, first = 1, k;

    ret = stmt(s, S_CELL_LABELS, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, idx);
    while ((ret = store__step_row(st)) == 1) {
        if (first) {
            total = (uint64_t)sqlite3_column_int64(st, 0);
            memset(bits, 0, (size_t)(tb_label_words(total) * sizeof *bits));
            first = 0;
        }
        begin = (uint64_t)sqlite3_column_int64(st, 1);
        count = (uint64_t)sqlite3_column_int64(st, 2);
        words = tb_label_words(count);
        blob = sqlite3_column_blob(st, 3);
        if (strcmp((const char *)sqlite3_column_text(st, 4), "done") != 0 || count == 0 ||
            begin > total || count > total - begin || !blob ||
            (uint64_t)sqlite3_column_bytes(st, 3) != words * 8) {
            ret = QUEUE_EIO;
            goto out;
        }
        if (words > cap) {
            grown = realloc(buf, (size_t)(words * sizeof *buf));
            if (!grown) {
                ret = QUEUE_ENOMEM;
                goto out;
            }
            buf = grown;
            cap = words;
        }
        for (i = 0; i < words; i++) { /* little-endian words, as queue.c stores them */
            w = 0;
            for (k = 7; k >= 0; k--)
                w = (w << 8) | blob[i * 8 + (uint64_t)k];
            buf[i] = w;
        }
        tb_labels_put(bits, begin, buf, count);
        covered += count;
    }
    if (ret == 0)
        ret = first ? QUEUE_ENOENT : covered == total ? QUEUE_OK : QUEUE_EIO;
out:
    store__reset(st);
    free(buf);
    return ret;
}

/* ---- writes ------------------------------------------------------------- */

/* Runs statement id bound to (job_id) and, when b_text, (job_id, text). */
static int run_job_stmt(struct store *s, int id, int64_t job_id, const char *text)
{
    sqlite3_stmt *st = NULL;
    int ret;

    ret = stmt(s, id, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    if (text)
        ret = store__bind_text(st, 2, text);
    if (ret == QUEUE_OK)
        ret = store__step_done(st);
out:
    store__reset(st);
    return ret;
}

int queue_cell_finish(struct store *s, int64_t job_id, int64_t idx, const char *row_json,
                      int64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    const char *status;
    int ret, changed;

    if (!row_json)
        return QUEUE_EINVAL;
    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = stmt(s, S_JOB_STATUS, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    ret = store__step_row(st);
    if (ret == 0)
        ret = QUEUE_ENOENT;
    if (ret < 0)
        goto out;
    status = (const char *)sqlite3_column_text(st, 0);
    if (!status || (strcmp(status, "queued") != 0 && strcmp(status, "running") != 0)) {
        ret = QUEUE_ECONFLICT;
        goto out;
    }
    store__reset(st);

    ret = stmt(s, S_CELL_DONE, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, idx);
    ret = store__bind_text(st, 3, row_json);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 4, now_ms);
    ret = store__step_done(st);
    if (ret != QUEUE_OK)
        goto out;
    changed = sqlite3_changes(s->db) > 0;
    store__reset(st);
    st = NULL;
    if (changed) {
        ret = run_job_stmt(s, S_STUDY_DONE_INC, job_id, NULL);
        if (ret == QUEUE_OK)
            ret = run_job_stmt(s, S_JOB_BUMP, job_id, NULL);
        if (ret != QUEUE_OK)
            goto out;
    }
    ret = store__commit(s);
out:
    store__reset(st);
    store__rollback(s);
    return ret;
}

int queue_cells_page(struct store *s, int64_t job_id, int64_t offset, int limit,
                     struct study_cell *out, int *n)
{
    sqlite3_stmt *st = NULL;
    int ret, i;

    *n = 0;
    if (limit <= 0 || offset < 0)
        return QUEUE_EINVAL;
    ret = stmt(s, S_CELLS_PAGE, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, offset);
    sqlite3_bind_int(st, 3, limit);
    while ((ret = store__step_row(st)) == 1) {
        ret = cell_from_row(st, &out[*n], 0);
        if (ret != QUEUE_OK)
            goto out;
        (*n)++;
    }
out:
    store__reset(st);
    if (ret != QUEUE_OK) {
        for (i = 0; i < *n; i++)
            study_cell_free(&out[i]);
        *n = 0;
    }
    return ret;
}

int queue_study_put_csv(struct store *s, int64_t job_id, const char *csv)
{
    int ret;

    if (!csv)
        return QUEUE_EINVAL;
    ret = run_job_stmt(s, S_CSV_PUT, job_id, csv);
    if (ret == QUEUE_OK && sqlite3_changes(s->db) == 0)
        ret = QUEUE_ENOENT;
    return ret;
}

int queue_study_get_csv(struct store *s, int64_t job_id, char **csv)
{
    sqlite3_stmt *st = NULL;
    int ret;

    *csv = NULL;
    ret = stmt(s, S_CSV_GET, &st);
    return ret == QUEUE_OK ? store__text_by_id(st, job_id, csv) : ret;
}
