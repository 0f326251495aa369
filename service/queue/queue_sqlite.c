/*
 * queue_sqlite.c - the SQLite backend of the job queue (queue_backend.h):
 * the SQL of jobs of every kind, their tiles (with or without a cell),
 * fair tile claims with leases and heartbeats, idempotent tile results
 * keyed by (job, tile, attempt), lease expiry with bounded attempts, the
 * job lifecycle, the one tile scan behind every labels load, listing and
 * retention; the primitives the study rows build on (store_int.h: submit,
 * job and tile rows, job state); and the backend's ops table.
 *
 * Threads: every call runs on the thread that owns the store (the loop
 * thread, or a worker thread on its own store). Calls on different stores
 * may run at once; SQLite serializes the writers.
 *
 * Invariants (schema in migrations/):
 *  - every read-then-write runs in one BEGIN IMMEDIATE transaction, so it
 *    takes the write lock before reading and never hits the busy-handler
 *    deadlock of an upgraded read transaction;
 *  - a tile is leased to one attempt at a time; only the attempt holding
 *    the lease of a running job may save it, and a done tile is never
 *    leased again;
 *  - every lease ever granted has a row in tile_attempts;
 *  - every change of a jobs row bumps its revision;
 *  - no statement outlives the call: each is reset before returning.
 * Every value reaches SQL through a bound parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Slots in the store's statement cache, one per SQL text below. */
enum {
    Q_IDEM_GET,
    Q_ACTIVE_COUNT,
    Q_JOB_INSERT,
    Q_TILE_INSERT,
    Q_JOB_GET,
    Q_JOB_KIND,
    Q_CLAIM_JOB,
    Q_CLAIM_TILE,
    Q_TILE_LEASE,
    Q_ATTEMPT_INSERT,
    Q_JOB_CLAIMED,
    Q_HEARTBEAT,
    Q_FINISH_GET,
    Q_TILE_DONE,
    Q_ATTEMPT_END,
    Q_JOB_PROGRESS,
    Q_EXPIRED_LIST,
    Q_TILE_UNLEASE,
    Q_JOB_END,
    Q_ABANDON_ATTEMPTS,
    Q_RELEASE_TILES,
    Q_TILES_OF_JOB,
    Q_TILES_OF_CELL,
    Q_JOB_STATE,
    Q_JOB_SUCCEED,
    Q_RESULT_PUT,
    Q_JOB_DELETE,
    Q_RESULT_GET,
    Q_LIST_ALL,
    Q_LIST_STATUS,
    Q_COUNTS,
    Q_PRUNE,
    Q_JOB_EXISTS,
    Q_ATTEMPTS_LIST,
    Q_EXPIRED_COUNT,
    Q__COUNT
};
_Static_assert(Q__COUNT <= STORE_STUDY_STMT_BASE, "grow STORE_STUDY_STMT_BASE");

#define JOB_COLS                                                                                   \
    "id, status, name, spec_json, points_total, points_done, tiles_total, tiles_done, "            \
    "created_ms, started_ms, finished_ms, revision, error, summary_json, kind"

static const char *const sql_text[Q__COUNT] = {
    [Q_IDEM_GET] = "SELECT id, request_hash FROM jobs WHERE idem_key = ?1",
    [Q_ACTIVE_COUNT] = "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')",
    [Q_JOB_INSERT] =
        "INSERT INTO jobs (kind, status, name, spec_json, points_total, points_done, "
        "tile_points, tiles_total, tiles_done, created_ms, started_ms, idem_key, "
        "request_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    /* cell NULL: a sweep's tile, points of the job's grid. */
    [Q_TILE_INSERT] = "INSERT INTO tiles (job_id, idx, cell, begin_pt, count) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
    [Q_JOB_KIND] = "SELECT kind FROM jobs WHERE id = ?1",
    /* Fairness: among runnable jobs with a pending tile, the one leased the
     * fewest times so far, then the oldest (index jobs_claim). */
    [Q_CLAIM_JOB] = "SELECT j.id, j.spec_json, j.kind FROM jobs AS j "
                    "WHERE j.status IN ('queued', 'running') AND EXISTS (SELECT 1 FROM tiles AS t "
                    "WHERE t.job_id = j.id AND t.state = 'pending') "
                    "ORDER BY j.tiles_leased, j.id LIMIT 1",
    /* A study's tile computes its cell's spec (queue_study.h); a sweep's
     * tile has no cell and computes the job's spec. */
    [Q_CLAIM_TILE] = "SELECT idx, begin_pt, count, attempt, cell, (SELECT c.spec_json FROM cells "
                     "AS c WHERE c.job_id = tiles.job_id AND c.idx = tiles.cell) FROM tiles "
                     "WHERE job_id = ?1 AND state = 'pending' ORDER BY idx LIMIT 1",
    [Q_TILE_LEASE] = "UPDATE tiles SET state = 'leased', attempt = ?3, lease_until = ?4 "
                     "WHERE job_id = ?1 AND idx = ?2 AND state = 'pending'",
    [Q_ATTEMPT_INSERT] = "INSERT INTO tile_attempts (job_id, idx, attempt, leased_ms) "
                         "VALUES (?1, ?2, ?3, ?4)",
    [Q_JOB_CLAIMED] = "UPDATE jobs SET status = 'running', "
                      "started_ms = CASE WHEN started_ms = 0 THEN ?2 ELSE started_ms END, "
                      "tiles_leased = tiles_leased + 1, revision = revision + 1 WHERE id = ?1",
    [Q_HEARTBEAT] = "UPDATE tiles SET lease_until = ?4 WHERE job_id = ?1 AND idx = ?2 "
                    "AND attempt = ?3 AND state = 'leased' "
                    "AND (SELECT status FROM jobs WHERE id = ?1) = 'running'",
    [Q_FINISH_GET] = "SELECT t.state, t.attempt, t.count, j.status, j.tiles_done, j.tiles_total "
                     "FROM tiles AS t JOIN jobs AS j ON j.id = t.job_id "
                     "WHERE t.job_id = ?1 AND t.idx = ?2",
    [Q_TILE_DONE] = "UPDATE tiles SET state = 'done', labels = ?3, divergent = ?4, "
                    "lane_steps = ?5, finished_ms = ?6, lease_until = 0 "
                    "WHERE job_id = ?1 AND idx = ?2",
    [Q_ATTEMPT_END] = "UPDATE tile_attempts SET outcome = ?4, ended_ms = ?5 "
                      "WHERE job_id = ?1 AND idx = ?2 AND attempt = ?3",
    [Q_JOB_PROGRESS] =
        "UPDATE jobs SET points_done = points_done + ?2, tiles_done = tiles_done + 1, "
        "revision = revision + 1 WHERE id = ?1 RETURNING tiles_done = tiles_total",
    /* Ordered by the partial index tiles_leased: never a scan of all tiles. */
    [Q_EXPIRED_LIST] = "SELECT job_id, idx, attempt FROM tiles "
                       "WHERE state = 'leased' AND lease_until < ?1 ORDER BY lease_until",
    /* Back to pending: a lost lease (requeue) or a released one. */
    [Q_TILE_UNLEASE] = "UPDATE tiles SET state = 'pending', lease_until = 0 "
                       "WHERE job_id = ?1 AND idx = ?2 AND attempt = ?3 AND state = 'leased'",
    /* Ends an active job: failed or canceled, with its reason. */
    [Q_JOB_END] = "UPDATE jobs SET status = ?2, error = ?3, finished_ms = ?4, "
                  "revision = revision + 1 WHERE id = ?1 AND status IN ('queued', 'running')",
    [Q_ABANDON_ATTEMPTS] = "UPDATE tile_attempts SET outcome = 'abandoned', ended_ms = ?2 "
                           "WHERE job_id = ?1 AND outcome = 'leased'",
    [Q_RELEASE_TILES] = "UPDATE tiles SET state = 'pending', lease_until = 0 "
                        "WHERE job_id = ?1 AND state = 'leased'",
    /* The labels scans: one statement each, so one snapshot of the size and
     * the tiles. A job: every tile (a row of NULLs when it has none). */
    [Q_TILES_OF_JOB] = "SELECT j.points_total, t.begin_pt, t.count, t.labels, t.state "
                       "FROM jobs AS j LEFT JOIN tiles AS t ON t.job_id = j.id "
                       "WHERE j.id = ?1 ORDER BY t.idx",
    /* A cell: the tiles of the cell whose labels it uses (itself, or the
     * cell it duplicates), with its own points. */
    [Q_TILES_OF_CELL] =
        "SELECT c.points, t.begin_pt, t.count, t.labels, t.state FROM cells AS c "
        "JOIN cells AS o ON o.job_id = c.job_id AND o.idx = coalesce(c.dup_of, c.idx) "
        "JOIN tiles AS t ON t.job_id = o.job_id AND t.idx >= o.tile_first "
        "AND t.idx < o.tile_first + o.tiles WHERE c.job_id = ?1 AND c.idx = ?2 ORDER BY t.idx",
    [Q_JOB_STATE] = "SELECT status, tiles_total - tiles_done FROM jobs WHERE id = ?1",
    [Q_JOB_SUCCEED] = "UPDATE jobs SET status = 'succeeded', summary_json = ?2, finished_ms = ?3, "
                      "revision = revision + 1 WHERE id = ?1 AND status = 'running'",
    [Q_RESULT_PUT] = "INSERT OR REPLACE INTO results (job_id, result_json) VALUES (?1, ?2)",
    [Q_JOB_DELETE] = "DELETE FROM jobs WHERE id = ?1",
    [Q_RESULT_GET] = "SELECT result_json FROM results WHERE job_id = ?1",
    [Q_LIST_ALL] = "SELECT " JOB_COLS " FROM jobs WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
    [Q_LIST_STATUS] = "SELECT " JOB_COLS " FROM jobs WHERE status = ?3 AND id < ?1 "
                      "ORDER BY id DESC LIMIT ?2",
    [Q_COUNTS] = "SELECT status, count(*) FROM jobs GROUP BY status",
    [Q_PRUNE] = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE "
                "(?1 > 0 AND status = 'succeeded' AND finished_ms < ?1) OR "
                "(?2 > 0 AND status IN ('failed', 'canceled') AND finished_ms < ?2) "
                "ORDER BY finished_ms, id LIMIT ?3)",
    [Q_JOB_EXISTS] = "SELECT 1 FROM jobs WHERE id = ?1",
    [Q_ATTEMPTS_LIST] = "SELECT idx, attempt, leased_ms, ended_ms, outcome FROM tile_attempts "
                        "WHERE job_id = ?1 ORDER BY idx, attempt LIMIT ?2",
    /* Leases of a tile that were lost (worker died): what max_attempts counts. */
    [Q_EXPIRED_COUNT] = "SELECT count(*) FROM tile_attempts "
                        "WHERE job_id = ?1 AND idx = ?2 AND outcome = 'expired'",
};

/* A statement's slot and text, for the sq_* helpers. */
#define SQL(id) (id), sql_text[(id)]

/* Text column i, or "" when NULL. Borrowed until the statement moves on. */
static const char *column_str(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? (const char *)t : "";
}

static const char *const outcome_names[] = {"leased", "done", "expired", "abandoned"};

/* Fills j (owned by the caller afterwards) from a row of JOB_COLS. */
static int job_from_row(sqlite3_stmt *st, struct job *j)
{
    int ret;

    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    if (job_status_parse((const char *)sqlite3_column_text(st, 1), &j->status) != QUEUE_OK ||
        queue__kind_copy(j->kind, column_str(st, 14)) != QUEUE_OK)
        return QUEUE_EIO;
    j->points_total = (uint64_t)sqlite3_column_int64(st, 4);
    j->points_done = (uint64_t)sqlite3_column_int64(st, 5);
    j->tiles_total = sqlite3_column_int64(st, 6);
    j->tiles_done = sqlite3_column_int64(st, 7);
    j->created_ms = sqlite3_column_int64(st, 8);
    j->started_ms = sqlite3_column_int64(st, 9);
    j->finished_ms = sqlite3_column_int64(st, 10);
    j->revision = sqlite3_column_int64(st, 11);
    ret = store__column_dups(st, (const int[]){2, 3, 12, 13},
                             (char **const[]){&j->name, &j->spec_json, &j->error, &j->summary_json},
                             4);
    if (ret != QUEUE_OK)
        job_free(j);
    return ret;
}

static int read_job(sqlite3_stmt *st, void *ctx)
{
    return job_from_row(st, ctx);
}

/* Reads job id into out (owned by the caller). QUEUE_ENOENT if none. */
static int load_job(struct store *s, int64_t id, struct job *out)
{
    return sq_row(s, SQL(Q_JOB_GET), SQ_ARGS(SQ_I(id)), read_job, out);
}

/* ---- the shared primitives (store_int.h) -------------------------------- */

/* sq_job_state's row. */
struct job_state {
    enum job_status status;
    int64_t tiles_left;
};

static int read_state(sqlite3_stmt *st, void *ctx)
{
    struct job_state *j = ctx;

    j->tiles_left = sqlite3_column_int64(st, 1);
    return job_status_parse(column_str(st, 0), &j->status) == QUEUE_OK ? QUEUE_OK : QUEUE_EIO;
}

int sq_job_state(struct store *s, int64_t job_id, enum job_status *status, int64_t *tiles_left)
{
    struct job_state j = {JOB_QUEUED, 0};
    int ret = sq_row(s, SQL(Q_JOB_STATE), SQ_ARGS(SQ_I(job_id)), read_state, &j);

    *status = j.status;
    if (tiles_left)
        *tiles_left = j.tiles_left;
    return ret;
}

/* idem_lookup's row: the request hash wanted, and the job found. */
struct idem {
    const char *want;
    int64_t job_id;
};

static int read_idem(sqlite3_stmt *st, void *ctx)
{
    struct idem *k = ctx;

    if (strcmp(column_str(st, 1), k->want) != 0)
        return QUEUE_ECONFLICT;
    k->job_id = sqlite3_column_int64(st, 0);
    return QUEUE_OK;
}

int sq_admit(struct store *s, const char *idem_key, const char *request_hash, int64_t max_queued,
             int64_t *job_id, int *replayed)
{
    struct idem k = {request_hash ? request_hash : "", 0};
    int64_t active;
    int ret;

    *job_id = 0;
    ret = store__begin(s);
    if (ret == QUEUE_OK && idem_key) {
        ret = sq_row(s, SQL(Q_IDEM_GET), SQ_ARGS(SQ_T(idem_key)), read_idem, &k);
        if (ret == QUEUE_ENOENT)
            ret = QUEUE_OK; /* a new key */
        *job_id = k.job_id;
        if (ret == QUEUE_OK && k.job_id != 0 && replayed)
            *replayed = 1;
    }
    /* A replay is answered even when the queue is full. */
    if (ret == QUEUE_OK && *job_id == 0 && max_queued > 0) {
        ret = sq_int(s, SQL(Q_ACTIVE_COUNT), SQ_NOARGS, &active);
        if (ret == QUEUE_OK && active >= max_queued)
            ret = QUEUE_EFULL;
    }
    if (ret != QUEUE_OK)
        store__rollback(s);
    return ret;
}

int sq_admitted(struct store *s, int ret, int64_t job_id, struct job *out)
{
    if (ret == QUEUE_OK && out)
        ret = load_job(s, job_id, out);
    if (ret == QUEUE_OK)
        ret = store__commit(s);
    store__rollback(s);
    return ret;
}

int sq_insert_job(struct store *s, const struct sq_job_row *r, int64_t now_ms, int64_t *job_id)
{
    int ret = sq_exec(s, SQL(Q_JOB_INSERT),
                      SQ_ARGS(SQ_T(r->kind), SQ_T(r->running ? "running" : "queued"), SQ_T(r->name),
                              SQ_T(r->spec_json), SQ_I(r->points), SQ_I(r->points_done),
                              SQ_I(r->tile_points), SQ_I(r->tiles), SQ_I(r->tiles_done),
                              SQ_I(now_ms), SQ_I(r->running ? now_ms : 0), SQ_T(r->idem_key),
                              SQ_T(r->idem_key ? r->request_hash : NULL)),
                      NULL);

    if (ret == QUEUE_OK)
        *job_id = sqlite3_last_insert_rowid(s->db);
    return ret;
}

int sq_insert_tiles(struct store *s, int64_t job_id, int64_t first_idx, int64_t cell,
                    uint64_t points, uint64_t tile_points, int64_t tiles)
{
    int64_t k;
    int ret = QUEUE_OK;

    for (k = 0; k < tiles && ret == QUEUE_OK; k++) {
        uint64_t begin = (uint64_t)k * tile_points;
        uint64_t count = points - begin < tile_points ? points - begin : tile_points;

        ret = sq_exec(
            s, SQL(Q_TILE_INSERT),
            SQ_ARGS(SQ_I(job_id), SQ_I(first_idx + k), SQ_OPT(cell), SQ_I(begin), SQ_I(count)),
            NULL);
    }
    return ret;
}

/* ---- enqueue ------------------------------------------------------------ */

static int sqlite_enqueue(struct store *s, const struct queue_submit *sub, const char *kind,
                          int64_t tiles, int64_t now_ms, struct job *out, int *replayed)
{
    struct sq_job_row r = {
        .kind = kind,
        .name = sub->name,
        .spec_json = sub->spec_json,
        .idem_key = sub->idem_key,
        .request_hash = sub->request_hash,
        .points = sub->points,
        .tile_points = sub->tile_points,
        .tiles = tiles,
    };
    int64_t job_id;
    int ret;

    ret = sq_admit(s, sub->idem_key, sub->request_hash, sub->max_queued, &job_id, replayed);
    if (ret != QUEUE_OK)
        return ret;
    if (job_id == 0) {
        ret = sq_insert_job(s, &r, now_ms, &job_id);
        if (ret == QUEUE_OK)
            ret = sq_insert_tiles(s, job_id, 0, -1, sub->points, sub->tile_points, tiles);
    }
    return sq_admitted(s, ret, job_id, out);
}

/* ---- claim and heartbeat ------------------------------------------------ */

/* The claim's reads: the job (its id, spec and kind), then its tile. */
static int read_claim_job(sqlite3_stmt *st, void *ctx)
{
    struct tile_claim *out = ctx;
    int ret;

    out->job_id = sqlite3_column_int64(st, 0);
    ret = store__column_dup(st, 1, &out->spec_json);
    if (ret == QUEUE_OK &&
        (!out->spec_json || queue__kind_copy(out->kind, column_str(st, 2)) != QUEUE_OK))
        ret = QUEUE_EIO;
    return ret;
}

static int read_claim_tile(sqlite3_stmt *st, void *ctx)
{
    struct tile_claim *out = ctx;
    int ret = QUEUE_OK;

    out->idx = sqlite3_column_int64(st, 0);
    out->begin = (uint64_t)sqlite3_column_int64(st, 1);
    out->count = (uint64_t)sqlite3_column_int64(st, 2);
    out->attempt = sqlite3_column_int(st, 3) + 1;
    out->cell = -1;
    if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
        out->cell = sqlite3_column_int64(st, 4);
        free(out->spec_json);
        ret = store__column_dup(st, 5, &out->spec_json);
        if (ret == QUEUE_OK && !out->spec_json)
            ret = QUEUE_EIO; /* a study tile without its cell */
    }
    return ret;
}

/* Picks the next tile into out. */
static int claim_pick(struct store *s, struct tile_claim *out)
{
    int ret = sq_row(s, SQL(Q_CLAIM_JOB), SQ_NOARGS, read_claim_job, out);

    if (ret != QUEUE_OK)
        return ret; /* QUEUE_ENOENT: nothing pending */
    ret = sq_row(s, SQL(Q_CLAIM_TILE), SQ_ARGS(SQ_I(out->job_id)), read_claim_tile, out);
    return ret == QUEUE_ENOENT ? QUEUE_EIO : ret; /* the job query just saw a pending tile */
}

static int sqlite_claim(struct store *s, int64_t now_ms, int64_t lease_ms, struct tile_claim *out)
{
    int ret;

    /* A lease lost to a power cut only lets the tile be claimed again. */
    ret = store__light(s, 1);
    if (ret == QUEUE_OK)
        ret = store__begin(s);
    if (ret != QUEUE_OK) {
        store__light(s, 0);
        return ret;
    }
    ret = claim_pick(s, out);
    if (ret == QUEUE_OK)
        ret = sq_exec(
            s, SQL(Q_TILE_LEASE),
            SQ_ARGS(SQ_I(out->job_id), SQ_I(out->idx), SQ_I(out->attempt), SQ_I(now_ms + lease_ms)),
            NULL);
    if (ret == QUEUE_OK)
        ret = sq_exec(s, SQL(Q_ATTEMPT_INSERT),
                      SQ_ARGS(SQ_I(out->job_id), SQ_I(out->idx), SQ_I(out->attempt), SQ_I(now_ms)),
                      NULL);
    if (ret == QUEUE_OK)
        ret = sq_exec(s, SQL(Q_JOB_CLAIMED), SQ_ARGS(SQ_I(out->job_id), SQ_I(now_ms)), NULL);
    if (ret == QUEUE_OK)
        ret = store__commit(s);
    store__rollback(s);
    if (store__light(s, 0) != QUEUE_OK && ret == QUEUE_OK)
        ret = QUEUE_EIO;
    return ret;
}

static int sqlite_heartbeat(struct store *s, int64_t job_id, int64_t idx, int attempt,
                            int64_t until_ms)
{
    int changed,
        ret = sq_exec(s, SQL(Q_HEARTBEAT),
                      SQ_ARGS(SQ_I(job_id), SQ_I(idx), SQ_I(attempt), SQ_I(until_ms)), &changed);

    return ret == QUEUE_OK && changed == 0 ? QUEUE_ESTALE : ret;
}

/* ---- finishing tiles ---------------------------------------------------- */

/* Sets attempt (job, idx, attempt)'s outcome in the lease log. */
static int end_attempt(struct store *s, int64_t job_id, int64_t idx, int attempt,
                       enum attempt_outcome outcome, int64_t now_ms)
{
    return sq_exec(
        s, SQL(Q_ATTEMPT_END),
        SQ_ARGS(SQ_I(job_id), SQ_I(idx), SQ_I(attempt), SQ_T(outcome_names[outcome]), SQ_I(now_ms)),
        NULL);
}

/* What queue_finish_tile checks before it saves a tile. */
struct finish_state {
    char tile_state[16], job_state[16];
    int held_attempt;
    int64_t tile_count, tiles_done, tiles_total;
};

static int read_finish(sqlite3_stmt *st, void *ctx)
{
    struct finish_state *f = ctx;

    snprintf(f->tile_state, sizeof f->tile_state, "%s", column_str(st, 0));
    f->held_attempt = sqlite3_column_int(st, 1);
    f->tile_count = sqlite3_column_int64(st, 2);
    snprintf(f->job_state, sizeof f->job_state, "%s", column_str(st, 3));
    f->tiles_done = sqlite3_column_int64(st, 4);
    f->tiles_total = sqlite3_column_int64(st, 5);
    return QUEUE_OK;
}

static int finish_state(struct store *s, int64_t job_id, int64_t idx, struct finish_state *f)
{
    int ret = sq_row(s, SQL(Q_FINISH_GET), SQ_ARGS(SQ_I(job_id), SQ_I(idx)), read_finish, f);

    return ret == QUEUE_ENOENT ? QUEUE_ESTALE : ret; /* job (or tile) deleted */
}

static int sqlite_finish_tile(struct store *s, int64_t job_id, int64_t idx, int attempt,
                              const unsigned char *labels, size_t len, uint64_t count,
                              uint64_t divergent, uint64_t lane_steps, int64_t now_ms,
                              int *job_complete)
{
    struct finish_state f;
    int64_t complete;
    int ret;

    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = finish_state(s, job_id, idx, &f);
    if (ret != QUEUE_OK)
        goto out;
    if (f.held_attempt != attempt) {
        ret = QUEUE_ESTALE; /* another attempt holds or saved the tile */
        goto out;
    }
    if (strcmp(f.tile_state, "done") == 0) {
        /* This very attempt saved it already: a retried call. */
        *job_complete = strcmp(f.job_state, "running") == 0 && f.tiles_done == f.tiles_total;
        goto out;
    }
    if (strcmp(f.tile_state, "leased") != 0 || strcmp(f.job_state, "running") != 0) {
        ret = QUEUE_ESTALE; /* requeued, or the job was canceled or failed */
        goto out;
    }
    if ((int64_t)count != f.tile_count) {
        ret = QUEUE_EINVAL;
        goto out;
    }
    ret = sq_exec(s, SQL(Q_TILE_DONE),
                  SQ_ARGS(SQ_I(job_id), SQ_I(idx), SQ_B(labels, len), SQ_I(divergent),
                          SQ_I(lane_steps), SQ_I(now_ms)),
                  NULL);
    if (ret == QUEUE_OK)
        ret = end_attempt(s, job_id, idx, attempt, ATTEMPT_DONE, now_ms);
    if (ret == QUEUE_OK)
        ret = sq_int(s, SQL(Q_JOB_PROGRESS), SQ_ARGS(SQ_I(job_id), SQ_I(count)), &complete);
    if (ret == QUEUE_ENOENT)
        ret = QUEUE_EIO;
    if (ret == QUEUE_OK) {
        *job_complete = complete != 0;
        ret = store__commit(s);
    }
out:
    store__rollback(s);
    if (ret != QUEUE_OK)
        *job_complete = 0;
    return ret;
}

/* Ends an active (queued or running) job as failed or canceled, with a
 * reason (may be NULL), and returns its leased tiles to pending with their
 * attempts abandoned, so late heartbeats and results get ESTALE.
 * *changed = 0 when it was not active. */
static int end_job(struct store *s, int64_t job_id, enum job_status to, const char *reason,
                   int64_t now_ms, int *changed)
{
    int ret = sq_exec(s, SQL(Q_JOB_END),
                      SQ_ARGS(SQ_I(job_id), SQ_T(job_status_name(to)), SQ_T(reason), SQ_I(now_ms)),
                      changed);

    if (ret == QUEUE_OK && *changed)
        ret = sq_exec(s, SQL(Q_ABANDON_ATTEMPTS), SQ_ARGS(SQ_I(job_id), SQ_I(now_ms)), NULL);
    if (ret == QUEUE_OK && *changed)
        ret = sq_exec(s, SQL(Q_RELEASE_TILES), SQ_ARGS(SQ_I(job_id)), NULL);
    return ret;
}

/* ---- lease expiry ------------------------------------------------------- */

struct expired {
    int64_t job_id, idx;
    int attempt;
};

/* The leases that ended: a growing array (v is malloc'd). */
struct expired_list {
    struct expired *v;
    size_t n, cap;
};

static int read_expired(sqlite3_stmt *st, void *ctx)
{
    struct expired_list *l = ctx;
    struct expired *grown;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        grown = realloc(l->v, l->cap * sizeof *grown);
        if (!grown)
            return QUEUE_ENOMEM;
        l->v = grown;
    }
    l->v[l->n].job_id = sqlite3_column_int64(st, 0);
    l->v[l->n].idx = sqlite3_column_int64(st, 1);
    l->v[l->n].attempt = sqlite3_column_int(st, 2);
    l->n++;
    return QUEUE_OK;
}

/* Returns a lease of this attempt to pending and logs the attempt with
 * outcome; *back = 0 when the attempt no longer held it. */
static int unlease(struct store *s, int64_t job_id, int64_t idx, int attempt,
                   enum attempt_outcome outcome, int64_t now_ms, int *back)
{
    int ret =
        sq_exec(s, SQL(Q_TILE_UNLEASE), SQ_ARGS(SQ_I(job_id), SQ_I(idx), SQ_I(attempt)), back);

    if (ret == QUEUE_OK && *back)
        ret = end_attempt(s, job_id, idx, attempt, outcome, now_ms);
    return ret;
}

static int sqlite_release(struct store *s, int64_t job_id, int64_t idx, int attempt, int64_t now_ms)
{
    int ret, back = 0;

    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = unlease(s, job_id, idx, attempt, ATTEMPT_ABANDONED, now_ms, &back);
    if (ret == QUEUE_OK && !back)
        ret = QUEUE_ESTALE; /* saved, requeued, or the job ended meanwhile */
    if (ret == QUEUE_OK)
        ret = store__commit(s);
    store__rollback(s);
    return ret;
}

static int sqlite_requeue_expired(struct store *s, int64_t now_ms, int max_attempts, int *requeued)
{
    struct expired_list l = {NULL, 0, 0};
    struct expired *v;
    char reason[96];
    int64_t lost;
    size_t i;
    int ret, back, changed;

    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = sq_rows(s, SQL(Q_EXPIRED_LIST), SQ_ARGS(SQ_I(now_ms)), read_expired, &l);
    v = l.v;
    for (i = 0; ret == QUEUE_OK && i < l.n; i++) {
        /* An earlier entry may have failed this job and released its tiles:
         * unlease then finds the lease gone and does nothing. */
        ret = unlease(s, v[i].job_id, v[i].idx, v[i].attempt, ATTEMPT_EXPIRED, now_ms, &back);
        if (ret != QUEUE_OK || !back)
            continue;
        /* Only lost leases count: one released by queue_release() does not. */
        ret = sq_int(s, SQL(Q_EXPIRED_COUNT), SQ_ARGS(SQ_I(v[i].job_id), SQ_I(v[i].idx)), &lost);
        if (ret != QUEUE_OK)
            continue;
        if (max_attempts > 0 && lost >= max_attempts) {
            queue__lost_reason(reason, sizeof reason, v[i].idx, (int)lost);
            ret = end_job(s, v[i].job_id, JOB_FAILED, reason, now_ms, &changed);
        } else {
            (*requeued)++;
        }
    }
    if (ret == QUEUE_OK)
        ret = store__commit(s);
    store__rollback(s);
    free(v);
    return ret;
}

/* ---- labels ------------------------------------------------------------- */

/* A scan in progress: the caller's callback. */
struct scan {
    queue_tile_fn fn;
    void *ctx;
};

static int read_tile(sqlite3_stmt *st, void *ctx)
{
    const struct scan *sc = ctx;
    struct queue_tile_row r;

    memset(&r, 0, sizeof r);
    r.points = (uint64_t)sqlite3_column_int64(st, 0);
    r.has_tile = sqlite3_column_type(st, 1) != SQLITE_NULL;
    r.done = strcmp(column_str(st, 4), "done") == 0;
    r.begin = (uint64_t)sqlite3_column_int64(st, 1);
    r.count = (uint64_t)sqlite3_column_int64(st, 2);
    if (r.done) {
        r.labels = sqlite3_column_blob(st, 3);
        r.len = (size_t)sqlite3_column_bytes(st, 3);
        if (!r.labels && sqlite3_errcode(sqlite3_db_handle(st)) == SQLITE_NOMEM)
            return QUEUE_ENOMEM;
    }
    return sc->fn(sc->ctx, &r);
}

static int sqlite_scan_tiles(struct store *s, int64_t job_id, int64_t cell, queue_tile_fn fn,
                             void *ctx)
{
    struct scan sc = {fn, ctx};

    if (cell < 0)
        return sq_rows(s, SQL(Q_TILES_OF_JOB), SQ_ARGS(SQ_I(job_id)), read_tile, &sc);
    return sq_rows(s, SQL(Q_TILES_OF_CELL), SQ_ARGS(SQ_I(job_id), SQ_I(cell)), read_tile, &sc);
}

/* ---- the lifecycle ------------------------------------------------------ */

static int sqlite_complete(struct store *s, int64_t job_id, const char *result_json,
                           const char *summary_json, int64_t now_ms)
{
    enum job_status st;
    int64_t left;
    int ret;

    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = sq_job_state(s, job_id, &st, &left);
    if (ret == QUEUE_OK && (st != JOB_RUNNING || left != 0))
        ret = QUEUE_ECONFLICT; /* finished already, or tiles still missing */
    if (ret == QUEUE_OK)
        ret = sq_exec(s, SQL(Q_JOB_SUCCEED),
                      SQ_ARGS(SQ_I(job_id), SQ_T(summary_json), SQ_I(now_ms)), NULL);
    if (ret == QUEUE_OK)
        ret = sq_exec(s, SQL(Q_RESULT_PUT), SQ_ARGS(SQ_I(job_id), SQ_T(result_json)), NULL);
    if (ret == QUEUE_OK)
        ret = store__commit(s);
    store__rollback(s);
    return ret;
}

/* Fails or cancels an active job in one transaction; QUEUE_ECONFLICT when
 * it has finished, QUEUE_ENOENT when it does not exist. out may be NULL. */
static int sqlite_stop(struct store *s, int64_t job_id, enum job_status to, const char *reason,
                       int64_t now_ms, struct job *out)
{
    enum job_status st;
    int ret, changed = 0;

    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = end_job(s, job_id, to, reason, now_ms, &changed);
    if (ret == QUEUE_OK && !changed) {
        ret = sq_job_state(s, job_id, &st, NULL); /* tell a finished job from none */
        if (ret == QUEUE_OK)
            ret = QUEUE_ECONFLICT;
    }
    if (ret == QUEUE_OK && out)
        ret = load_job(s, job_id, out);
    if (ret == QUEUE_OK)
        ret = store__commit(s);
    store__rollback(s);
    return ret;
}

static int sqlite_remove(struct store *s, int64_t job_id)
{
    int changed, ret;

    /* One statement, so one transaction; tiles, attempts, the result and a
     * study's rows go with the job (ON DELETE CASCADE). A worker still
     * running one of its tiles gets QUEUE_ESTALE on its next heartbeat or
     * result. */
    ret = sq_exec(s, SQL(Q_JOB_DELETE), SQ_ARGS(SQ_I(job_id)), &changed);
    return ret == QUEUE_OK && changed == 0 ? QUEUE_ENOENT : ret;
}

/* ---- reads -------------------------------------------------------------- */

static int sqlite_get_kind(struct store *s, int64_t job_id, char kind[QUEUE_KIND_MAX])
{
    char *name = NULL;
    int ret = sq_text(s, SQL(Q_JOB_KIND), SQ_ARGS(SQ_I(job_id)), &name);

    if (ret == QUEUE_OK)
        ret = queue__kind_copy(kind, name);
    free(name);
    return ret;
}

static int sqlite_get_result(struct store *s, int64_t job_id, char **result_json)
{
    return sq_text(s, SQL(Q_RESULT_GET), SQ_ARGS(SQ_I(job_id)), result_json);
}

/* A page of jobs in progress: one row more than limit means a next page. */
struct page {
    struct job *out;
    int *n, limit;
    int64_t *next_cursor;
};

static int read_page_job(sqlite3_stmt *st, void *ctx)
{
    struct page *p = ctx;
    int ret;

    if (*p->n == p->limit) {
        *p->next_cursor = p->out[p->limit - 1].id;
        return SQ_STOP;
    }
    ret = job_from_row(st, &p->out[*p->n]);
    if (ret == QUEUE_OK)
        (*p->n)++;
    return ret;
}

static int sqlite_list(struct store *s, const enum job_status *status, int64_t cursor, int limit,
                       struct job *out, int *n, int64_t *next_cursor)
{
    struct page p = {out, n, limit, next_cursor};
    int64_t below = cursor > 0 ? cursor : INT64_MAX, rows = (int64_t)limit + 1;
    int ret, i;

    ret = status ? sq_rows(s, SQL(Q_LIST_STATUS),
                           SQ_ARGS(SQ_I(below), SQ_I(rows), SQ_T(job_status_name(*status))),
                           read_page_job, &p)
                 : sq_rows(s, SQL(Q_LIST_ALL), SQ_ARGS(SQ_I(below), SQ_I(rows)), read_page_job, &p);
    if (ret != QUEUE_OK) {
        for (i = 0; i < *n; i++)
            job_free(&out[i]);
        *n = 0;
        *next_cursor = 0;
    }
    return ret;
}

static int read_count(sqlite3_stmt *st, void *ctx)
{
    int64_t *counts = ctx;
    enum job_status js;

    if (job_status_parse(column_str(st, 0), &js) != QUEUE_OK)
        return QUEUE_EIO;
    counts[js] = sqlite3_column_int64(st, 1);
    return QUEUE_OK;
}

static int sqlite_counts(struct store *s, int64_t counts[5])
{
    return sq_rows(s, SQL(Q_COUNTS), SQ_NOARGS, read_count, counts);
}

static int sqlite_prune(struct store *s, int64_t succeeded_before_ms, int64_t failed_before_ms,
                        int batch, int *deleted)
{
    /* One DELETE of at most batch jobs, so one short transaction; the
     * cascade removes their tiles, attempts, results and study rows.
     * sqlite3_changes() counts the jobs only. */
    return sq_exec(s, SQL(Q_PRUNE),
                   SQ_ARGS(SQ_I(succeeded_before_ms), SQ_I(failed_before_ms), SQ_I(batch)),
                   deleted);
}

/* The lease log being read: the caller's array. */
struct attempts {
    int64_t job_id;
    struct tile_attempt *out;
    int *n;
};

static int read_attempt(sqlite3_stmt *st, void *ctx)
{
    struct attempts *l = ctx;
    struct tile_attempt *a = &l->out[*l->n];
    const char *name = column_str(st, 4);
    size_t k, names = sizeof outcome_names / sizeof outcome_names[0];

    a->job_id = l->job_id;
    a->idx = sqlite3_column_int64(st, 0);
    a->attempt = sqlite3_column_int(st, 1);
    a->leased_ms = sqlite3_column_int64(st, 2);
    a->ended_ms = sqlite3_column_int64(st, 3);
    for (k = 0; k < names && strcmp(name, outcome_names[k]) != 0; k++)
        ;
    if (k == names)
        return QUEUE_EIO;
    a->outcome = (enum attempt_outcome)k;
    (*l->n)++;
    return QUEUE_OK;
}

static int sqlite_tile_attempts(struct store *s, int64_t job_id, struct tile_attempt *out, int cap,
                                int *n)
{
    struct attempts l = {job_id, out, n};
    int64_t one;
    int ret;

    ret = sq_int(s, SQL(Q_JOB_EXISTS), SQ_ARGS(SQ_I(job_id)), &one);
    if (ret == QUEUE_OK)
        ret = sq_rows(s, SQL(Q_ATTEMPTS_LIST), SQ_ARGS(SQ_I(job_id), SQ_I(cap)), read_attempt, &l);
    if (ret != QUEUE_OK)
        *n = 0;
    return ret;
}

/* ---- the ops table ------------------------------------------------------ */

const struct queue_backend queue_backend_sqlite = {
    .name = "sqlite",
    .shared = 0,
    .open = store_sqlite_open,
    .close = store_sqlite_close,
    .schema_version = store_sqlite_schema_version,
    .known_version = store_sqlite_known_version,
    .check_writable = store_sqlite_check_writable,
    .errmsg = store_sqlite_errmsg,
    .enqueue = sqlite_enqueue,
    .claim = sqlite_claim,
    .heartbeat = sqlite_heartbeat,
    .finish_tile = sqlite_finish_tile,
    .requeue_expired = sqlite_requeue_expired,
    .release = sqlite_release,
    .scan_tiles = sqlite_scan_tiles,
    .complete = sqlite_complete,
    .stop = sqlite_stop,
    .remove = sqlite_remove,
    .get = load_job,
    .get_kind = sqlite_get_kind,
    .get_result = sqlite_get_result,
    .list = sqlite_list,
    .counts = sqlite_counts,
    .prune = sqlite_prune,
    .tile_attempts = sqlite_tile_attempts,
    .study = &queue_study_sqlite,
};
