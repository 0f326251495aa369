/*
 * queue_pg.c - the PostgreSQL backend of the job queue (queue_backend.h,
 * issue 15): what it runs its own way, in PostgreSQL's terms: tile claims
 * with `FOR UPDATE SKIP LOCKED`, saving a tile result keyed by (job, tile,
 * attempt) in one statement, lease expiry with bounded attempts, release,
 * completion, cancel and delete; its statement primitives for the shared
 * SQL (struct sq_ops: pq_exec/pq_rows/pq_tx of store_pg.c, the submits'
 * advisory lock, all of a job's tiles in one INSERT); and the backend's
 * ops table. Submits, heartbeats, the labels scan and the reads are the
 * SQL both backends share (queue_sql.c). Same semantics as the SQLite
 * backend (queue_sqlite.c).
 *
 * Threads: every call runs on the thread that owns the store. Calls on
 * different stores, threads and processes (any number of hosts) run at
 * once; row locks serialize what must be.
 *
 * Invariants (schema in migrations/pg/):
 *  - every op is one transaction, read committed, short: no lock outlives
 *    the call, and a deadlock or serialization failure runs it again
 *    (pq_tx);
 *  - lock order: a job's row before its tiles, in every op (claim, cancel,
 *    fail, finish, expiry, delete). A claim locks the job it picked, then
 *    one of its pending tiles (SKIP LOCKED: not one a heartbeat or an
 *    expiry holds). Locking the tile first deadlocked claims against
 *    saves: in read committed, FOR UPDATE keeps the lock of a row it
 *    rechecked and dropped (a tile another claim had just leased), which
 *    the save of that tile then waited for while holding the job's row;
 *    each such cycle cost PostgreSQL's deadlock_timeout (1 s). Claims and
 *    saves of one job take turns on its row (they did before too: each
 *    updates it);
 *  - a tile is leased to one attempt at a time; only the attempt holding
 *    the lease of a running job may save it, and a done tile is never
 *    leased again;
 *  - every lease ever granted has a row in tile_attempts; every change of
 *    a jobs row bumps its revision.
 * Every value reaches SQL through a bound parameter.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

/* Statement ids (prepared once per connection): this backend's own. */
enum {
    G_ADMIT_LOCK = STORE_OWN_STMT_BASE,
    G_TILES_NEW,
    G_JOB_LOCK,
    G_PICK_JOB,
    G_CLAIM,
    G_FINISH_READ,
    G_FINISH_SAVE,
    G_FINISH_FAST,
    G_EXPIRED,
    G_EXPIRE_ONE,
    G_JOB_END,
    G_TILES_FREE,
    G_RELEASE,
    G_SUCCEED,
    G_DELETE,
    G_LIGHT,
    G__END
};
_Static_assert(G__END <= STORE_STUDY_STMT_BASE, "grow STORE_STUDY_STMT_BASE");

static const char *const sql_text[G__END - STORE_OWN_STMT_BASE] = {
#define S(id) [(id) - STORE_OWN_STMT_BASE]
    /* Submits that count the queue take turns: "tbadmit" in ASCII. */
    S(G_ADMIT_LOCK) = "SELECT pg_advisory_xact_lock(128021907761524)",
    /* All of a job's (or a cell's) tiles in one statement. */
    S(G_TILES_NEW) = "INSERT INTO tiles (job_id, idx, cell, begin_pt, count) "
                     "SELECT $1, $2 + k, $3, k * $5, least($5, $4 - k * $5) "
                     "FROM generate_series(0, $6 - 1) AS k",
    S(G_JOB_LOCK) = "SELECT status FROM jobs WHERE id = $1 FOR NO KEY UPDATE",
    /* Fairness: among runnable jobs with a pending tile, the one leased the
     * fewest times so far, then the oldest, after (tiles_leased, id) =
     * ($1, $2): the next one when every pending tile of a job is being
     * claimed by someone else. No lock here: G_CLAIM then locks the
     * job's row, then the tile. */
    S(G_PICK_JOB) = "SELECT j.id, j.tiles_leased FROM jobs AS j "
                    "WHERE j.status IN ('queued', 'running') AND (j.tiles_leased, j.id) > ($1, $2) "
                    "AND EXISTS (SELECT 1 FROM tiles AS t WHERE t.job_id = j.id "
                    "AND t.state = 'pending') ORDER BY j.tiles_leased, j.id LIMIT 1",
    /* The claim, in one statement so that the job's row (which every
     * claim and save of the job updates, and so locks) is held only from
     * here to the commit: the job's row locked, then its first pending
     * tile that nobody else is claiming (SKIP LOCKED), the lease, its log
     * row and the job's claim count. No row when the job stopped or every
     * pending tile is being claimed. A study's tile computes its cell's
     * spec, a sweep's the job's. The CTEs run in the order they reference
     * each other: lk, p, j, t, a. */
    S(G_CLAIM) = "WITH lk AS (SELECT id FROM jobs WHERE id = $1 "
                 "AND status IN ('queued', 'running') FOR NO KEY UPDATE), "
                 "p AS (SELECT idx FROM tiles WHERE job_id = $1 AND state = 'pending' "
                 "AND EXISTS (SELECT 1 FROM lk) ORDER BY idx LIMIT 1 FOR UPDATE SKIP LOCKED), "
                 "j AS (UPDATE jobs SET status = 'running', started_ms = CASE WHEN "
                 "started_ms = 0 THEN $2 ELSE started_ms END, tiles_leased = tiles_leased + 1, "
                 "revision = revision + 1 WHERE id = $1 AND status IN ('queued', 'running') "
                 "AND EXISTS (SELECT 1 FROM p) RETURNING spec_json, kind), "
                 "t AS (UPDATE tiles SET state = 'leased', attempt = attempt + 1, "
                 "lease_until = $3 WHERE job_id = $1 AND idx = (SELECT idx FROM p) "
                 "AND state = 'pending' AND EXISTS (SELECT 1 FROM j) "
                 "RETURNING idx, begin_pt, count, attempt, cell), "
                 "a AS (INSERT INTO tile_attempts (job_id, idx, attempt, leased_ms) "
                 "SELECT $1, idx, attempt, $2 FROM t) "
                 "SELECT t.begin_pt, t.count, t.attempt, t.cell, j.spec_json, j.kind, c.spec_json, "
                 "t.idx FROM t CROSS JOIN j LEFT JOIN cells AS c ON c.job_id = $1 AND c.idx = t.cell",
    /* The job row locked (before the tile), with the tile as it stands. */
    S(G_FINISH_READ) = "SELECT j.status, j.tiles_done, j.tiles_total, t.state, t.attempt, "
                       "t.count FROM jobs AS j LEFT JOIN tiles AS t ON t.job_id = j.id "
                       "AND t.idx = $2 WHERE j.id = $1 FOR NO KEY UPDATE OF j",
    /* The tile, its attempt and the job's progress; no row when the lease
     * went away meanwhile (a release does not lock the job). */
    S(G_FINISH_SAVE) = "WITH t AS (UPDATE tiles SET state = 'done', labels = $4, divergent = $5, "
                       "lane_steps = $6, finished_ms = $7, lease_until = 0 WHERE job_id = $1 "
                       "AND idx = $2 AND attempt = $3 AND state = 'leased' RETURNING count), "
                       "a AS (UPDATE tile_attempts SET outcome = 'done', ended_ms = $7 "
                       "WHERE job_id = $1 AND idx = $2 AND attempt = $3 "
                       "AND EXISTS (SELECT 1 FROM t)) "
                       "UPDATE jobs SET points_done = points_done + t.count, "
                       "tiles_done = tiles_done + 1, revision = revision + 1 FROM t "
                       "WHERE id = $1 RETURNING tiles_done = tiles_total",
    /* The save as it mostly goes, in one statement (the job's row held
     * only to the commit): the job's row locked first (lock order), and
     * the tile saved when this attempt holds its lease, the job runs and
     * count is the tile's. No row otherwise: finish_tx then reads why. */
    S(G_FINISH_FAST) = "WITH lk AS (SELECT id FROM jobs WHERE id = $1 AND status = 'running' "
                       "FOR NO KEY UPDATE), "
                       "t AS (UPDATE tiles SET state = 'done', labels = $4, divergent = $5, "
                       "lane_steps = $6, finished_ms = $7, lease_until = 0 WHERE job_id = $1 "
                       "AND idx = $2 AND attempt = $3 AND state = 'leased' AND count = $8 "
                       "AND EXISTS (SELECT 1 FROM lk) RETURNING count), "
                       "a AS (UPDATE tile_attempts SET outcome = 'done', ended_ms = $7 "
                       "WHERE job_id = $1 AND idx = $2 AND attempt = $3 "
                       "AND EXISTS (SELECT 1 FROM t)) "
                       "UPDATE jobs SET points_done = points_done + t.count, "
                       "tiles_done = tiles_done + 1, revision = revision + 1 FROM t "
                       "WHERE id = $1 RETURNING tiles_done = tiles_total",
    /* By job, so that jobs are locked in one order (index tiles_leased). */
    S(G_EXPIRED) = "SELECT job_id, idx, attempt FROM tiles WHERE state = 'leased' "
                   "AND lease_until < $1 ORDER BY job_id, idx",
    /* Back to pending, logged expired; with the tile's earlier lost leases
     * (the snapshot does not see this one's). */
    S(G_EXPIRE_ONE) = "WITH t AS (UPDATE tiles SET state = 'pending', lease_until = 0 "
                      "WHERE job_id = $1 AND idx = $2 AND attempt = $3 AND state = 'leased' "
                      "AND lease_until < $4 RETURNING 1), "
                      "a AS (UPDATE tile_attempts SET outcome = 'expired', ended_ms = $4 "
                      "WHERE job_id = $1 AND idx = $2 AND attempt = $3 "
                      "AND EXISTS (SELECT 1 FROM t) RETURNING 1) "
                      "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM tile_attempts "
                      "WHERE job_id = $1 AND idx = $2 AND outcome = 'expired')",
    S(G_JOB_END) = "UPDATE jobs SET status = $2, error = $3, finished_ms = $4, "
                   "revision = revision + 1 WHERE id = $1 AND status IN ('queued', 'running')",
    /* A stopped job's leases: abandoned, and their tiles pending again. */
    S(G_TILES_FREE) = "WITH a AS (UPDATE tile_attempts SET outcome = 'abandoned', ended_ms = $2 "
                      "WHERE job_id = $1 AND outcome = 'leased') "
                      "UPDATE tiles SET state = 'pending', lease_until = 0 "
                      "WHERE job_id = $1 AND state = 'leased'",
    S(G_RELEASE) = "WITH t AS (UPDATE tiles SET state = 'pending', lease_until = 0 "
                   "WHERE job_id = $1 AND idx = $2 AND attempt = $3 AND state = 'leased' "
                   "RETURNING 1) "
                   "UPDATE tile_attempts SET outcome = 'abandoned', ended_ms = $4 "
                   "WHERE job_id = $1 AND idx = $2 AND attempt = $3 AND EXISTS (SELECT 1 FROM t)",
    /* Succeeds a running job whose tiles are all saved, and stores its result. */
    S(G_SUCCEED) = "WITH j AS (UPDATE jobs SET status = 'succeeded', summary_json = $2, "
                   "finished_ms = $3, revision = revision + 1 WHERE id = $1 AND status = "
                   "'running' AND tiles_done = tiles_total RETURNING id) "
                   "INSERT INTO results (job_id, result_json) SELECT id, $4 FROM j "
                   "ON CONFLICT (job_id) DO UPDATE SET result_json = EXCLUDED.result_json",
    S(G_DELETE) = "DELETE FROM jobs WHERE id = $1",
    /* This transaction's commit may skip the WAL flush (queue_backend.h:
     * a power cut only lets a tile be computed again). */
    S(G_LIGHT) = "SET LOCAL synchronous_commit = off",
#undef S
};

/* A statement's id and text, for the sq_* helpers. */
#define SQL(id) (id), sql_text[(id) - STORE_OWN_STMT_BASE]

static int read_status(const struct sq_row *r, void *ctx)
{
    return job_status_parse(sq_col_str(r, 0), ctx) == QUEUE_OK ? QUEUE_OK : QUEUE_EIO;
}

int pq_lock_job(struct store *s, int64_t job_id, enum job_status *status)
{
    return sq_row(s, SQL(G_JOB_LOCK), SQ_ARGS(SQ_I(job_id)), read_status, status);
}

/* ---- the statement primitives (struct sq_ops) ---------------------------- */

static int admit_lock(struct store *s)
{
    return pq_exec(s, SQL(G_ADMIT_LOCK), SQ_NOARGS, NULL);
}

static int insert_tiles(struct store *s, int64_t job_id, int64_t first_idx, int64_t cell,
                        uint64_t points, uint64_t tile_points, int64_t tiles)
{
    int n = 0;
    int ret = pq_exec(s, SQL(G_TILES_NEW),
                      SQ_ARGS(SQ_I(job_id), SQ_I(first_idx), SQ_OPT(cell), SQ_I(points),
                              SQ_I(tile_points), SQ_I(tiles)),
                      &n);

    return ret == QUEUE_OK && n != tiles ? QUEUE_EIO : ret;
}

/* Makes the open transaction's commit light on a durable store. */
static int light(struct store *s)
{
    return s->sync_full ? pq_exec(s, SQL(G_LIGHT), SQ_NOARGS, NULL) : QUEUE_OK;
}

/* ---- claim ------------------------------------------------------------- */

/* A claim in progress: its arguments, and the pick so far. */
struct claim {
    int64_t now_ms, lease_ms;
    struct tile_claim *out; /* the caller's */
    int64_t after_leased, after_id; /* the pick's cursor over jobs */
};

static int read_pick(const struct sq_row *r, void *ctx)
{
    struct claim *c = ctx;

    c->after_id = sq_col_int(r, 0);
    c->after_leased = sq_col_int(r, 1);
    return QUEUE_OK;
}

static int read_lease(const struct sq_row *r, void *ctx)
{
    struct tile_claim *out = ctx;
    int study = !sq_col_null(r, 3);
    int ret;

    out->begin = (uint64_t)sq_col_int(r, 0);
    out->count = (uint64_t)sq_col_int(r, 1);
    out->attempt = (int)sq_col_int(r, 2);
    out->cell = study ? sq_col_int(r, 3) : -1;
    if (queue__kind_copy(out->kind, sq_col_str(r, 5)) != QUEUE_OK)
        return QUEUE_EIO;
    ret = sq_col_dup(r, study ? 6 : 4, &out->spec_json);
    return ret == QUEUE_OK && !out->spec_json ? QUEUE_EIO : ret; /* a study tile needs its cell */
}

/* G_CLAIM's row: read_lease's columns, then the tile's index. */
static int read_claim(const struct sq_row *r, void *ctx)
{
    struct tile_claim *out = ctx;

    out->idx = sq_col_int(r, 7);
    return read_lease(r, ctx);
}

/* Tries this many runnable jobs, in fairness order, for a pending tile
 * nobody else is claiming, before saying there is none. */
#define CLAIM_JOBS 16

static int claim_tx(struct store *s, void *ctx)
{
    struct claim *c = ctx;
    int ret, tries;

    tile_claim_free(c->out);
    c->after_leased = -1;
    c->after_id = 0;
    /* A lease lost to a crash only lets the tile be claimed again. */
    ret = light(s);
    for (tries = 0; ret == QUEUE_OK && tries < CLAIM_JOBS; tries++) {
        ret = sq_row(s, SQL(G_PICK_JOB), SQ_ARGS(SQ_I(c->after_leased), SQ_I(c->after_id)),
                     read_pick, c);
        if (ret != QUEUE_OK)
            break; /* QUEUE_ENOENT: nothing pending */
        ret = pq_rows(s, SQL(G_CLAIM),
                      SQ_ARGS(SQ_I(c->after_id), SQ_I(c->now_ms), SQ_I(c->now_ms + c->lease_ms)),
                      read_claim, c->out);
        if (ret == QUEUE_OK && c->out->spec_json) {
            c->out->job_id = c->after_id;
            return QUEUE_OK;
        }
        /* else no row: the job stopped meanwhile, or every pending tile of
         * it is being claimed by someone else; the next one */
    }
    return ret == QUEUE_OK ? QUEUE_ENOENT : ret;
}

static int pg_claim(struct store *s, int64_t now_ms, int64_t lease_ms, struct tile_claim *out)
{
    struct claim c = {now_ms, lease_ms, out, -1, 0};

    return pq_tx(s, claim_tx, &c);
}

/* ---- finishing tiles ---------------------------------------------------- */

struct finish {
    int64_t job_id, idx;
    int attempt;
    const unsigned char *labels; /* borrowed */
    size_t len;
    uint64_t count, divergent, lane_steps;
    int64_t now_ms;
    int *complete;             /* the caller's */
    struct sq_finish_state st; /* read under the job's lock */
};

static int read_finish(const struct sq_row *r, void *ctx)
{
    struct sq_finish_state *f = ctx;

    snprintf(f->job_state, sizeof f->job_state, "%s", sq_col_str(r, 0));
    f->tiles_done = sq_col_int(r, 1);
    f->tiles_total = sq_col_int(r, 2);
    f->have_tile = !sq_col_null(r, 3);
    snprintf(f->tile_state, sizeof f->tile_state, "%s", sq_col_str(r, 3));
    f->held_attempt = sq_col_int(r, 4);
    f->tile_count = sq_col_int(r, 5);
    return QUEUE_OK;
}

static int read_complete(const struct sq_row *r, void *ctx)
{
    *(int *)ctx = sq_col_int(r, 0) != 0;
    return QUEUE_OK;
}

static int finish_tx(struct store *s, void *ctx)
{
    struct finish *f = ctx;
    int ret;

    *f->complete = 0;
    memset(&f->st, 0, sizeof f->st);
    ret = light(s);
    if (ret == QUEUE_OK)
        ret = sq_row(s, SQL(G_FINISH_FAST),
                     SQ_ARGS(SQ_I(f->job_id), SQ_I(f->idx), SQ_I(f->attempt),
                             SQ_B(f->labels, f->len), SQ_I(f->divergent), SQ_I(f->lane_steps),
                             SQ_I(f->now_ms), SQ_I(f->count)),
                     read_complete, f->complete);
    if (ret != QUEUE_ENOENT)
        return ret; /* saved, or an error */
    /* Not saved: read under the job's lock why (or whether this attempt
     * saved it already: a retried call), as a save with no fast path. */
    ret = sq_row(s, SQL(G_FINISH_READ), SQ_ARGS(SQ_I(f->job_id), SQ_I(f->idx)), read_finish,
                     &f->st);
    if (ret == QUEUE_OK)
        ret = sq_finish_check(&f->st, f->attempt, f->count, f->complete);
    if (ret == QUEUE_ENOENT)
        return QUEUE_ESTALE; /* the job was deleted */
    if (ret != QUEUE_OK)
        return ret == SQ_STOP ? QUEUE_OK : ret; /* SQ_STOP: saved by this attempt already */
    ret = sq_row(s, SQL(G_FINISH_SAVE),
                 SQ_ARGS(SQ_I(f->job_id), SQ_I(f->idx), SQ_I(f->attempt), SQ_B(f->labels, f->len),
                         SQ_I(f->divergent), SQ_I(f->lane_steps), SQ_I(f->now_ms)),
                 read_complete, f->complete);
    return ret == QUEUE_ENOENT ? QUEUE_ESTALE : ret; /* released meanwhile */
}

static int pg_finish_tile(struct store *s, int64_t job_id, int64_t idx, int attempt,
                          const unsigned char *labels, size_t len, uint64_t count,
                          uint64_t divergent, uint64_t lane_steps, int64_t now_ms,
                          int *job_complete)
{
    struct finish f = {.job_id = job_id,
                       .idx = idx,
                       .attempt = attempt,
                       .labels = labels,
                       .len = len,
                       .count = count,
                       .divergent = divergent,
                       .lane_steps = lane_steps,
                       .now_ms = now_ms,
                       .complete = job_complete};
    int ret;

    /* A session that commits lightly (a worker's) saves with the one
     * statement alone, no BEGIN/COMMIT round trips around it: the job's
     * row is then held only while the statement runs. Anything but a save
     * (no row, a deadlock) goes the transaction's way, which says why. */
    *job_complete = 0;
    if (!s->sync_full &&
        sq_row(s, SQL(G_FINISH_FAST),
               SQ_ARGS(SQ_I(job_id), SQ_I(idx), SQ_I(attempt), SQ_B(labels, len),
                       SQ_I(divergent), SQ_I(lane_steps), SQ_I(now_ms), SQ_I(count)),
               read_complete, job_complete) == QUEUE_OK)
        return QUEUE_OK;
    ret = pq_tx(s, finish_tx, &f);
    if (ret != QUEUE_OK)
        *job_complete = 0;
    return ret;
}

/* ---- stopping jobs, lease expiry ---------------------------------------- */

/* Ends active job job_id as `to` with reason (may be NULL), its leases
 * abandoned and their tiles pending again (late heartbeats and results
 * get ESTALE); *changed = 0 when it was not active. */
static int end_job(struct store *s, int64_t job_id, enum job_status to, const char *reason,
                   int64_t now_ms, int *changed)
{
    int ret = pq_exec(s, SQL(G_JOB_END),
                      SQ_ARGS(SQ_I(job_id), SQ_T(job_status_name(to)), SQ_T(reason), SQ_I(now_ms)),
                      changed);

    if (ret == QUEUE_OK && *changed)
        ret = pq_exec(s, SQL(G_TILES_FREE), SQ_ARGS(SQ_I(job_id), SQ_I(now_ms)), NULL);
    return ret;
}

struct stop {
    int64_t job_id, now_ms;
    enum job_status to;
    const char *reason; /* borrowed; may be NULL */
    struct job *out;    /* the caller's; may be NULL */
};

static int stop_tx(struct store *s, void *ctx)
{
    struct stop *st = ctx;
    int changed = 0, ret;

    if (st->out)
        job_free(st->out);
    ret = end_job(s, st->job_id, st->to, st->reason, st->now_ms, &changed);
    if (ret == QUEUE_OK && !changed)
        return sq_exists_or(s, st->job_id, QUEUE_ECONFLICT); /* finished, or none */
    if (ret == QUEUE_OK && st->out)
        ret = sq_load_job(s, st->job_id, st->out);
    return ret;
}

static int pg_stop(struct store *s, int64_t job_id, enum job_status to, const char *reason,
                   int64_t now_ms, struct job *out)
{
    struct stop st = {job_id, now_ms, to, reason, out};

    return pq_tx(s, stop_tx, &st);
}

struct expiry {
    struct store *store; /* borrowed: the op's */
    int64_t now_ms;
    int max_attempts, *requeued;
    int64_t locked; /* the job whose row this transaction holds */
    int lost, back;
};

static int read_expire_one(const struct sq_row *r, void *ctx)
{
    struct expiry *x = ctx;

    x->back = sq_col_int(r, 0) != 0;
    x->lost = (int)sq_col_int(r, 1) + x->back; /* this one included */
    return QUEUE_OK;
}

/* One expired lease (a row of G_EXPIRED), handled as it comes (the whole
 * result is in memory, so statements may run meanwhile): back to pending,
 * or the job fails when the tile lost max_attempts leases. */
static int read_expired(const struct sq_row *r, void *ctx)
{
    struct expiry *x = ctx;
    struct store *s = x->store;
    int64_t job_id = sq_col_int(r, 0), idx = sq_col_int(r, 1), attempt = sq_col_int(r, 2);
    enum job_status st;
    char reason[96];
    int ret = QUEUE_OK, changed;

    if (job_id != x->locked) {
        ret = pq_lock_job(s, job_id, &st); /* the job before its tiles */
        if (ret == QUEUE_ENOENT)
            return QUEUE_OK; /* deleted meanwhile: its tiles went with it */
        x->locked = job_id;
    }
    if (ret == QUEUE_OK)
        ret = sq_row(s, SQL(G_EXPIRE_ONE),
                     SQ_ARGS(SQ_I(job_id), SQ_I(idx), SQ_I(attempt), SQ_I(x->now_ms)),
                     read_expire_one, x);
    if (ret != QUEUE_OK || !x->back)
        return ret; /* saved, released or heartbeaten meanwhile, or its job ended */
    if (x->max_attempts > 0 && x->lost >= x->max_attempts) {
        queue__lost_reason(reason, sizeof reason, idx, x->lost);
        return end_job(s, job_id, JOB_FAILED, reason, x->now_ms, &changed);
    }
    (*x->requeued)++;
    return QUEUE_OK;
}

static int expiry_tx(struct store *s, void *ctx)
{
    struct expiry *x = ctx;
    int ret;

    *x->requeued = 0;
    x->locked = 0;
    ret = light(s);
    if (ret == QUEUE_OK)
        ret = pq_rows(s, SQL(G_EXPIRED), SQ_ARGS(SQ_I(x->now_ms)), read_expired, x);
    return ret;
}

static int pg_requeue_expired(struct store *s, int64_t now_ms, int max_attempts, int *requeued)
{
    struct expiry x = {s, now_ms, max_attempts, requeued, 0, 0, 0};

    return pq_tx(s, expiry_tx, &x);
}

static int pg_release(struct store *s, int64_t job_id, int64_t idx, int attempt, int64_t now_ms)
{
    int changed = 0;
    int ret = pq_exec(s, SQL(G_RELEASE),
                      SQ_ARGS(SQ_I(job_id), SQ_I(idx), SQ_I(attempt), SQ_I(now_ms)), &changed);

    return ret == QUEUE_OK && changed == 0 ? QUEUE_ESTALE : ret; /* saved, requeued, or ended */
}

/* ---- the lifecycle ------------------------------------------------------ */

static int pg_complete(struct store *s, int64_t job_id, const char *result_json,
                       const char *summary_json, int64_t now_ms)
{
    int changed = 0;
    int ret = pq_exec(s, SQL(G_SUCCEED),
                      SQ_ARGS(SQ_I(job_id), SQ_T(summary_json), SQ_I(now_ms), SQ_T(result_json)),
                      &changed);

    /* Finished already, or tiles still missing: a conflict, if it exists. */
    return ret == QUEUE_OK && changed == 0 ? sq_exists_or(s, job_id, QUEUE_ECONFLICT) : ret;
}

struct remove {
    int64_t job_id;
};

static int remove_tx(struct store *s, void *ctx)
{
    int changed = 0;
    int ret = pq_exec(s, SQL(G_DELETE), SQ_ARGS(SQ_I(((struct remove *)ctx)->job_id)), &changed);

    return ret == QUEUE_OK && changed == 0 ? QUEUE_ENOENT : ret;
}

static int pg_remove(struct store *s, int64_t job_id)
{
    struct remove rm = {job_id};

    /* Tiles, attempts, the result and a study's rows go with the job (ON
     * DELETE CASCADE); in a transaction so that a deadlock is retried. */
    return pq_tx(s, remove_tx, &rm);
}

/* ---- the ops table ------------------------------------------------------ */

static const struct sq_ops pg_sql = {
    .exec = pq_exec,
    .rows = pq_rows,
    .tx = pq_tx,
    .admit_lock = admit_lock,
    .insert_tiles = insert_tiles,
};

const struct queue_backend queue_backend_pg = {
    .name = "postgresql",
    .shared = 1,
    .open = store_pg_open,
    .close = store_pg_close,
    .schema_version = store_pg_schema_version,
    .known_version = store_pg_known_version,
    .check_writable = store_pg_check_writable,
    .errmsg = store_pg_errmsg,
    .connected = store_pg_connected,
    .reconnect = store_pg_reconnect,
    .sql = &pg_sql,
    .claim = pg_claim,
    .finish_tile = pg_finish_tile,
    .requeue_expired = pg_requeue_expired,
    .release = pg_release,
    .complete = pg_complete,
    .stop = pg_stop,
    .remove = pg_remove,
    .cell_finish = pg_cell_finish,
};
