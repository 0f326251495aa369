/*
 * queue_sqlite.c - the SQLite backend of the job queue (queue_backend.h):
 * what it runs its own way: fair tile claims with leases, idempotent tile
 * results keyed by (job, tile, attempt), lease expiry with bounded
 * attempts, release, completion, cancel and delete, each several
 * statements in one BEGIN IMMEDIATE transaction; its statement primitives
 * for the shared SQL (struct sq_ops: store__exec/store__rows/store__tx of
 * store_sqlite.c, a job's tiles one INSERT each); the job state the study
 * rows build on (store_int.h); and the backend's ops table. Submits,
 * heartbeats, the labels scan and the reads are the SQL both backends
 * share (queue_sql.c).
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

/* Slots in the store's statement cache, one per SQL text below: this
 * backend's own. */
enum {
    Q_TILE_INSERT = STORE_OWN_STMT_BASE,
    Q_CLAIM_JOB,
    Q_CLAIM_TILE,
    Q_TILE_LEASE,
    Q_ATTEMPT_INSERT,
    Q_JOB_CLAIMED,
    Q_FINISH_GET,
    Q_TILE_DONE,
    Q_ATTEMPT_END,
    Q_JOB_PROGRESS,
    Q_EXPIRED_LIST,
    Q_TILE_UNLEASE,
    Q_JOB_END,
    Q_ABANDON_ATTEMPTS,
    Q_RELEASE_TILES,
    Q_JOB_STATE,
    Q_JOB_SUCCEED,
    Q_RESULT_PUT,
    Q_JOB_DELETE,
    Q_EXPIRED_COUNT,
    Q__END
};
_Static_assert(Q__END <= STORE_STUDY_STMT_BASE, "grow STORE_STUDY_STMT_BASE");

static const char *const sql_text[Q__END - STORE_OWN_STMT_BASE] = {
#define S(id) [(id) - STORE_OWN_STMT_BASE]
    /* cell NULL: a sweep's tile, points of the job's grid. */
    S(Q_TILE_INSERT) = "INSERT INTO tiles (job_id, idx, cell, begin_pt, count) "
                       "VALUES (?1, ?2, ?3, ?4, ?5)",
    /* Fairness: among runnable jobs with a pending tile, the one leased the
     * fewest times so far, then the oldest (index jobs_claim). */
    S(Q_CLAIM_JOB) = "SELECT j.id, j.spec_json, j.kind FROM jobs AS j "
                     "WHERE j.status IN ('queued', 'running') AND EXISTS (SELECT 1 FROM tiles "
                     "AS t WHERE t.job_id = j.id AND t.state = 'pending') "
                     "ORDER BY j.tiles_leased, j.id LIMIT 1",
    /* A study's tile computes its cell's spec (queue_study.h); a sweep's
     * tile has no cell and computes the job's spec. */
    S(Q_CLAIM_TILE) = "SELECT idx, begin_pt, count, attempt, cell, (SELECT c.spec_json FROM "
                      "cells AS c WHERE c.job_id = tiles.job_id AND c.idx = tiles.cell) FROM "
                      "tiles WHERE job_id = ?1 AND state = 'pending' ORDER BY idx LIMIT 1",
    S(Q_TILE_LEASE) = "UPDATE tiles SET state = 'leased', attempt = ?3, lease_until = ?4 "
                      "WHERE job_id = ?1 AND idx = ?2 AND state = 'pending'",
    S(Q_ATTEMPT_INSERT) = "INSERT INTO tile_attempts (job_id, idx, attempt, leased_ms) "
                          "VALUES (?1, ?2, ?3, ?4)",
    S(Q_JOB_CLAIMED) = "UPDATE jobs SET status = 'running', "
                       "started_ms = CASE WHEN started_ms = 0 THEN ?2 ELSE started_ms END, "
                       "tiles_leased = tiles_leased + 1, revision = revision + 1 WHERE id = ?1",
    S(Q_FINISH_GET) = "SELECT t.state, t.attempt, t.count, j.status, j.tiles_done, "
                      "j.tiles_total FROM tiles AS t JOIN jobs AS j ON j.id = t.job_id "
                      "WHERE t.job_id = ?1 AND t.idx = ?2",
    S(Q_TILE_DONE) = "UPDATE tiles SET state = 'done', labels = ?3, divergent = ?4, "
                     "lane_steps = ?5, finished_ms = ?6, lease_until = 0 "
                     "WHERE job_id = ?1 AND idx = ?2",
    S(Q_ATTEMPT_END) = "UPDATE tile_attempts SET outcome = ?4, ended_ms = ?5 "
                       "WHERE job_id = ?1 AND idx = ?2 AND attempt = ?3",
    S(Q_JOB_PROGRESS) =
        "UPDATE jobs SET points_done = points_done + ?2, tiles_done = tiles_done + 1, "
        "revision = revision + 1 WHERE id = ?1 RETURNING tiles_done = tiles_total",
    /* Ordered by the partial index tiles_leased: never a scan of all tiles. */
    S(Q_EXPIRED_LIST) = "SELECT job_id, idx, attempt FROM tiles "
                        "WHERE state = 'leased' AND lease_until < ?1 ORDER BY lease_until",
    /* Back to pending: a lost lease (requeue) or a released one. */
    S(Q_TILE_UNLEASE) = "UPDATE tiles SET state = 'pending', lease_until = 0 "
                        "WHERE job_id = ?1 AND idx = ?2 AND attempt = ?3 AND state = 'leased'",
    /* Ends an active job: failed or canceled, with its reason. */
    S(Q_JOB_END) = "UPDATE jobs SET status = ?2, error = ?3, finished_ms = ?4, "
                   "revision = revision + 1 WHERE id = ?1 AND status IN ('queued', 'running')",
    S(Q_ABANDON_ATTEMPTS) = "UPDATE tile_attempts SET outcome = 'abandoned', ended_ms = ?2 "
                            "WHERE job_id = ?1 AND outcome = 'leased'",
    S(Q_RELEASE_TILES) = "UPDATE tiles SET state = 'pending', lease_until = 0 "
                         "WHERE job_id = ?1 AND state = 'leased'",
    S(Q_JOB_STATE) = "SELECT status, tiles_total - tiles_done FROM jobs WHERE id = ?1",
    S(Q_JOB_SUCCEED) = "UPDATE jobs SET status = 'succeeded', summary_json = ?2, "
                       "finished_ms = ?3, revision = revision + 1 "
                       "WHERE id = ?1 AND status = 'running'",
    S(Q_RESULT_PUT) = "INSERT OR REPLACE INTO results (job_id, result_json) VALUES (?1, ?2)",
    S(Q_JOB_DELETE) = "DELETE FROM jobs WHERE id = ?1",
    /* Leases of a tile that were lost (worker died): what max_attempts counts. */
    S(Q_EXPIRED_COUNT) = "SELECT count(*) FROM tile_attempts "
                         "WHERE job_id = ?1 AND idx = ?2 AND outcome = 'expired'",
#undef S
};

/* A statement's slot and text, for the sq_* helpers. */
#define SQL(id) (id), sql_text[(id) - STORE_OWN_STMT_BASE]

/* ---- the shared primitives (store_int.h) -------------------------------- */

/* sq_job_state's row. */
struct job_state {
    enum job_status status;
    int64_t tiles_left;
};

static int read_state(const struct sq_row *r, void *ctx)
{
    struct job_state *j = ctx;

    j->tiles_left = sq_col_int(r, 1);
    return job_status_parse(sq_col_str(r, 0), &j->status) == QUEUE_OK ? QUEUE_OK : QUEUE_EIO;
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

/* sq_ops.insert_tiles: one INSERT a tile. */
static int insert_tiles(struct store *s, int64_t job_id, int64_t first_idx, int64_t cell,
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

/* ---- claim ------------------------------------------------------------- */

/* The claim's reads: the job (its id, spec and kind), then its tile. */
static int read_claim_job(const struct sq_row *r, void *ctx)
{
    struct tile_claim *out = ctx;
    int ret;

    out->job_id = sq_col_int(r, 0);
    ret = sq_col_dup(r, 1, &out->spec_json);
    if (ret == QUEUE_OK &&
        (!out->spec_json || queue__kind_copy(out->kind, sq_col_str(r, 2)) != QUEUE_OK))
        ret = QUEUE_EIO;
    return ret;
}

static int read_claim_tile(const struct sq_row *r, void *ctx)
{
    struct tile_claim *out = ctx;
    int ret = QUEUE_OK;

    out->idx = sq_col_int(r, 0);
    out->begin = (uint64_t)sq_col_int(r, 1);
    out->count = (uint64_t)sq_col_int(r, 2);
    out->attempt = (int)sq_col_int(r, 3) + 1;
    out->cell = -1;
    if (!sq_col_null(r, 4)) {
        out->cell = sq_col_int(r, 4);
        free(out->spec_json);
        ret = sq_col_dup(r, 5, &out->spec_json);
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

/* ---- finishing tiles ---------------------------------------------------- */

/* Sets attempt (job, idx, attempt)'s outcome in the lease log. */
static int end_attempt(struct store *s, int64_t job_id, int64_t idx, int attempt,
                       enum attempt_outcome outcome, int64_t now_ms)
{
    return sq_exec(s, SQL(Q_ATTEMPT_END),
                   SQ_ARGS(SQ_I(job_id), SQ_I(idx), SQ_I(attempt), SQ_T(sq_outcome_name(outcome)),
                           SQ_I(now_ms)),
                   NULL);
}

static int read_finish(const struct sq_row *r, void *ctx)
{
    struct sq_finish_state *f = ctx;

    f->have_tile = 1;
    snprintf(f->tile_state, sizeof f->tile_state, "%s", sq_col_str(r, 0));
    f->held_attempt = sq_col_int(r, 1);
    f->tile_count = sq_col_int(r, 2);
    snprintf(f->job_state, sizeof f->job_state, "%s", sq_col_str(r, 3));
    f->tiles_done = sq_col_int(r, 4);
    f->tiles_total = sq_col_int(r, 5);
    return QUEUE_OK;
}

static int sqlite_finish_tile(struct store *s, int64_t job_id, int64_t idx, int attempt,
                              const unsigned char *labels, size_t len, uint64_t count,
                              uint64_t divergent, uint64_t lane_steps, int64_t now_ms,
                              int *job_complete)
{
    struct sq_finish_state f;
    int64_t complete;
    int ret;

    memset(&f, 0, sizeof f);
    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = sq_row(s, SQL(Q_FINISH_GET), SQ_ARGS(SQ_I(job_id), SQ_I(idx)), read_finish, &f);
    if (ret == QUEUE_OK || ret == QUEUE_ENOENT) /* ENOENT: the job (or tile) was deleted */
        ret = sq_finish_check(&f, attempt, count, job_complete);
    if (ret != QUEUE_OK)
        goto out; /* SQ_STOP: this very attempt saved it already */
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
    if (ret == SQ_STOP)
        ret = QUEUE_OK;
    else if (ret != QUEUE_OK)
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

static int read_expired(const struct sq_row *r, void *ctx)
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
    l->v[l->n].job_id = sq_col_int(r, 0);
    l->v[l->n].idx = sq_col_int(r, 1);
    l->v[l->n].attempt = (int)sq_col_int(r, 2);
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
        ret = sq_load_job(s, job_id, out);
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

/* ---- the ops table ------------------------------------------------------ */

static const struct sq_ops sqlite_sql = {
    .exec = store__exec,
    .rows = store__rows,
    .tx = store__tx,
    .admit_lock = NULL, /* BEGIN IMMEDIATE holds the write lock */
    .insert_tiles = insert_tiles,
};

const struct queue_backend queue_backend_sqlite = {
    .name = "sqlite",
    .shared = 0,
    .open = store_sqlite_open,
    .close = store_sqlite_close,
    .schema_version = store_sqlite_schema_version,
    .known_version = store_sqlite_known_version,
    .check_writable = store_sqlite_check_writable,
    .errmsg = store_sqlite_errmsg,
    .sql = &sqlite_sql,
    .claim = sqlite_claim,
    .finish_tile = sqlite_finish_tile,
    .requeue_expired = sqlite_requeue_expired,
    .release = sqlite_release,
    .complete = sqlite_complete,
    .stop = sqlite_stop,
    .remove = sqlite_remove,
    .cell_finish = sqlite_cell_finish,
};
