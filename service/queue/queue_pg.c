/*
 * queue_pg.c - the PostgreSQL backend of the job queue (queue_backend.h,
 * issue 15): the SQL of jobs of every kind and their tiles, tile claims
 * with `FOR UPDATE SKIP LOCKED`, leases and heartbeats, idempotent tile
 * results keyed by (job, tile, attempt), lease expiry with bounded
 * attempts, the job lifecycle, the tile scan behind every labels load,
 * listing and retention; the primitives the study rows build on
 * (store_pg.h); and the backend's ops table. Same semantics as the SQLite
 * backend (queue_sqlite.c), in PostgreSQL's terms.
 *
 * Threads: every call runs on the thread that owns the store. Calls on
 * different stores, threads and processes (any number of hosts) run at
 * once; row locks serialize what must be.
 *
 * Invariants (schema in migrations/pg/):
 *  - every op is one transaction, read committed, short: no lock outlives
 *    the call, and a deadlock or serialization failure runs it again
 *    (pq_tx);
 *  - lock order: a job's row before its tiles (cancel, fail, finish,
 *    expiry, delete); only a claim locks a tile first, a pending one, with
 *    SKIP LOCKED, so that claimers never wait on each other's tiles. A
 *    delete racing a claim on the same job can still deadlock; PostgreSQL
 *    breaks it and pq_tx retries;
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

/* Statement ids (prepared once per connection), below STORE_STUDY_STMT_BASE. */
enum {
    G_IDEM,
    G_ADMIT_LOCK,
    G_ACTIVE,
    G_JOB_NEW,
    G_TILES_NEW,
    G_JOB,
    G_JOB_LOCK,
    G_KIND,
    G_PICK_JOB,
    G_PICK_TILE,
    G_LEASE,
    G_HEARTBEAT,
    G_FINISH_READ,
    G_FINISH_SAVE,
    G_EXPIRED,
    G_EXPIRE_ONE,
    G_JOB_END,
    G_TILES_FREE,
    G_RELEASE,
    G_SCAN_JOB,
    G_SCAN_CELL,
    G_SUCCEED,
    G_EXISTS,
    G_DELETE,
    G_RESULT,
    G_LIST,
    G_LIST_STATUS,
    G_COUNTS,
    G_PRUNE,
    G_ATTEMPTS,
    G_LIGHT,
    G__COUNT
};
_Static_assert(G__COUNT <= STORE_STUDY_STMT_BASE, "grow STORE_STUDY_STMT_BASE");

#define JOB_COLS                                                                                   \
    "id, status, name, spec_json, points_total, points_done, tiles_total, tiles_done, "            \
    "created_ms, started_ms, finished_ms, revision, error, summary_json, kind"

static const char *const sql_text[G__COUNT] = {
    [G_IDEM] = "SELECT id, request_hash FROM jobs WHERE idem_key = $1",
    /* Submits that count the queue take turns: "tbadmit" in ASCII. */
    [G_ADMIT_LOCK] = "SELECT pg_advisory_xact_lock(128021907761524)",
    [G_ACTIVE] = "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')",
    [G_JOB_NEW] = "INSERT INTO jobs (kind, status, name, spec_json, points_total, points_done, "
                  "tile_points, tiles_total, tiles_done, created_ms, started_ms, idem_key, "
                  "request_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
                  "RETURNING id",
    /* All of a job's (or a cell's) tiles in one statement. */
    [G_TILES_NEW] = "INSERT INTO tiles (job_id, idx, cell, begin_pt, count) "
                    "SELECT $1, $2 + k, $3, k * $5, least($5, $4 - k * $5) "
                    "FROM generate_series(0, $6 - 1) AS k",
    [G_JOB] = "SELECT " JOB_COLS " FROM jobs WHERE id = $1",
    [G_JOB_LOCK] = "SELECT status FROM jobs WHERE id = $1 FOR NO KEY UPDATE",
    [G_KIND] = "SELECT kind FROM jobs WHERE id = $1",
    /* Fairness: among runnable jobs with a pending tile, the one leased the
     * fewest times so far, then the oldest, after (tiles_leased, id) =
     * ($1, $2): the next one when every pending tile of a job is being
     * claimed by someone else. No lock: the tile's is the claim's. */
    [G_PICK_JOB] = "SELECT j.id, j.tiles_leased FROM jobs AS j "
                   "WHERE j.status IN ('queued', 'running') AND (j.tiles_leased, j.id) > ($1, $2) "
                   "AND EXISTS (SELECT 1 FROM tiles AS t WHERE t.job_id = j.id "
                   "AND t.state = 'pending') ORDER BY j.tiles_leased, j.id LIMIT 1",
    [G_PICK_TILE] = "SELECT idx FROM tiles WHERE job_id = $1 AND state = 'pending' "
                    "ORDER BY idx LIMIT 1 FOR UPDATE SKIP LOCKED",
    /* The lease, its log row and the job's claim count in one statement;
     * no row when the job stopped being runnable meanwhile. A study's tile
     * computes its cell's spec, a sweep's the job's. */
    [G_LEASE] = "WITH j AS (UPDATE jobs SET status = 'running', started_ms = CASE WHEN "
                "started_ms = 0 THEN $3 ELSE started_ms END, tiles_leased = tiles_leased + 1, "
                "revision = revision + 1 WHERE id = $1 AND status IN ('queued', 'running') "
                "RETURNING spec_json, kind), "
                "t AS (UPDATE tiles SET state = 'leased', attempt = attempt + 1, "
                "lease_until = $4 WHERE job_id = $1 AND idx = $2 AND state = 'pending' "
                "AND EXISTS (SELECT 1 FROM j) RETURNING idx, begin_pt, count, attempt, cell), "
                "a AS (INSERT INTO tile_attempts (job_id, idx, attempt, leased_ms) "
                "SELECT $1, idx, attempt, $3 FROM t) "
                "SELECT t.begin_pt, t.count, t.attempt, t.cell, j.spec_json, j.kind, c.spec_json "
                "FROM t CROSS JOIN j LEFT JOIN cells AS c ON c.job_id = $1 AND c.idx = t.cell",
    [G_HEARTBEAT] = "UPDATE tiles SET lease_until = $4 WHERE job_id = $1 AND idx = $2 "
                    "AND attempt = $3 AND state = 'leased' "
                    "AND (SELECT status FROM jobs WHERE id = $1) = 'running'",
    /* The job row locked (before the tile), with the tile as it stands. */
    [G_FINISH_READ] = "SELECT j.status, j.tiles_done, j.tiles_total, t.state, t.attempt, "
                      "t.count FROM jobs AS j LEFT JOIN tiles AS t ON t.job_id = j.id "
                      "AND t.idx = $2 WHERE j.id = $1 FOR NO KEY UPDATE OF j",
    /* The tile, its attempt and the job's progress; no row when the lease
     * went away meanwhile (a release does not lock the job). */
    [G_FINISH_SAVE] = "WITH t AS (UPDATE tiles SET state = 'done', labels = $4, divergent = $5, "
                      "lane_steps = $6, finished_ms = $7, lease_until = 0 WHERE job_id = $1 "
                      "AND idx = $2 AND attempt = $3 AND state = 'leased' RETURNING count), "
                      "a AS (UPDATE tile_attempts SET outcome = 'done', ended_ms = $7 "
                      "WHERE job_id = $1 AND idx = $2 AND attempt = $3 "
                      "AND EXISTS (SELECT 1 FROM t)) "
                      "UPDATE jobs SET points_done = points_done + t.count, "
                      "tiles_done = tiles_done + 1, revision = revision + 1 FROM t "
                      "WHERE id = $1 RETURNING tiles_done = tiles_total",
    /* By job, so that jobs are locked in one order (index tiles_leased). */
    [G_EXPIRED] = "SELECT job_id, idx, attempt FROM tiles WHERE state = 'leased' "
                  "AND lease_until < $1 ORDER BY job_id, idx",
    /* Back to pending, logged expired; with the tile's earlier lost leases
     * (the snapshot does not see this one's). */
    [G_EXPIRE_ONE] = "WITH t AS (UPDATE tiles SET state = 'pending', lease_until = 0 "
                     "WHERE job_id = $1 AND idx = $2 AND attempt = $3 AND state = 'leased' "
                     "AND lease_until < $4 RETURNING 1), "
                     "a AS (UPDATE tile_attempts SET outcome = 'expired', ended_ms = $4 "
                     "WHERE job_id = $1 AND idx = $2 AND attempt = $3 "
                     "AND EXISTS (SELECT 1 FROM t) RETURNING 1) "
                     "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM tile_attempts "
                     "WHERE job_id = $1 AND idx = $2 AND outcome = 'expired')",
    [G_JOB_END] = "UPDATE jobs SET status = $2, error = $3, finished_ms = $4, "
                  "revision = revision + 1 WHERE id = $1 AND status IN ('queued', 'running')",
    /* A stopped job's leases: abandoned, and their tiles pending again. */
    [G_TILES_FREE] = "WITH a AS (UPDATE tile_attempts SET outcome = 'abandoned', ended_ms = $2 "
                     "WHERE job_id = $1 AND outcome = 'leased') "
                     "UPDATE tiles SET state = 'pending', lease_until = 0 "
                     "WHERE job_id = $1 AND state = 'leased'",
    [G_RELEASE] = "WITH t AS (UPDATE tiles SET state = 'pending', lease_until = 0 "
                  "WHERE job_id = $1 AND idx = $2 AND attempt = $3 AND state = 'leased' "
                  "RETURNING 1) "
                  "UPDATE tile_attempts SET outcome = 'abandoned', ended_ms = $4 "
                  "WHERE job_id = $1 AND idx = $2 AND attempt = $3 AND EXISTS (SELECT 1 FROM t)",
    [G_SCAN_JOB] = "SELECT j.points_total, t.begin_pt, t.count, t.labels, t.state "
                   "FROM jobs AS j LEFT JOIN tiles AS t ON t.job_id = j.id "
                   "WHERE j.id = $1 ORDER BY t.idx",
    [G_SCAN_CELL] =
        "SELECT c.points, t.begin_pt, t.count, t.labels, t.state FROM cells AS c "
        "JOIN cells AS o ON o.job_id = c.job_id AND o.idx = coalesce(c.dup_of, c.idx) "
        "JOIN tiles AS t ON t.job_id = o.job_id AND t.idx >= o.tile_first "
        "AND t.idx < o.tile_first + o.tiles WHERE c.job_id = $1 AND c.idx = $2 ORDER BY t.idx",
    /* Succeeds a running job whose tiles are all saved, and stores its result. */
    [G_SUCCEED] = "WITH j AS (UPDATE jobs SET status = 'succeeded', summary_json = $2, "
                  "finished_ms = $3, revision = revision + 1 WHERE id = $1 AND status = "
                  "'running' AND tiles_done = tiles_total RETURNING id) "
                  "INSERT INTO results (job_id, result_json) SELECT id, $4 FROM j "
                  "ON CONFLICT (job_id) DO UPDATE SET result_json = EXCLUDED.result_json",
    [G_EXISTS] = "SELECT 1 FROM jobs WHERE id = $1",
    [G_DELETE] = "DELETE FROM jobs WHERE id = $1",
    [G_RESULT] = "SELECT result_json FROM results WHERE job_id = $1",
    [G_LIST] = "SELECT " JOB_COLS " FROM jobs WHERE id < $1 ORDER BY id DESC LIMIT $2",
    [G_LIST_STATUS] = "SELECT " JOB_COLS " FROM jobs WHERE status = $3 AND id < $1 "
                      "ORDER BY id DESC LIMIT $2",
    [G_COUNTS] = "SELECT status, count(*) FROM jobs GROUP BY status",
    [G_PRUNE] = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE "
                "($1 > 0 AND status = 'succeeded' AND finished_ms < $1) OR "
                "($2 > 0 AND status IN ('failed', 'canceled') AND finished_ms < $2) "
                "ORDER BY finished_ms, id LIMIT $3)",
    [G_ATTEMPTS] = "SELECT idx, attempt, leased_ms, ended_ms, outcome FROM tile_attempts "
                   "WHERE job_id = $1 ORDER BY idx, attempt LIMIT $2",
    /* This transaction's commit may skip the WAL flush (queue_backend.h:
     * a power cut only lets a tile be computed again). */
    [G_LIGHT] = "SET LOCAL synchronous_commit = off",
};

/* A statement's id and text, for the pq_* helpers. */
#define SQL(id) (id), sql_text[(id)]

static const char *const outcome_names[] = {"leased", "done", "expired", "abandoned"};

/* The 64-bit fields of struct job and their JOB_COLS columns. */
static const struct pq_col job_ints[] = {
    {offsetof(struct job, id), 0},          {offsetof(struct job, points_total), 4},
    {offsetof(struct job, points_done), 5}, {offsetof(struct job, tiles_total), 6},
    {offsetof(struct job, tiles_done), 7},  {offsetof(struct job, created_ms), 8},
    {offsetof(struct job, started_ms), 9},  {offsetof(struct job, finished_ms), 10},
    {offsetof(struct job, revision), 11},
};

/* Fills j (owned by the caller afterwards) from row `row` of JOB_COLS. */
static int job_from(const PGresult *r, int row, struct job *j)
{
    int ret;

    memset(j, 0, sizeof *j);
    pq_col_ints(r, row, j, job_ints, sizeof job_ints / sizeof job_ints[0]);
    if (job_status_parse(pq_col_str(r, row, 1), &j->status) != QUEUE_OK ||
        queue__kind_copy(j->kind, pq_col_str(r, row, 14)) != QUEUE_OK)
        return QUEUE_EIO;
    ret = pq_col_dups(r, row, (const int[]){2, 3, 12, 13},
                      (char **const[]){&j->name, &j->spec_json, &j->error, &j->summary_json}, 4);
    if (ret != QUEUE_OK)
        job_free(j);
    return ret;
}

static int read_job(const PGresult *r, int row, void *ctx)
{
    return job_from(r, row, ctx);
}

int pq_load_job(struct store *s, int64_t job_id, struct job *out)
{
    return pq_row(s, SQL(G_JOB), SQ_ARGS(SQ_I(job_id)), read_job, out);
}

static int read_status(const PGresult *r, int row, void *ctx)
{
    return job_status_parse(pq_col_str(r, row, 0), ctx) == QUEUE_OK ? QUEUE_OK : QUEUE_EIO;
}

int pq_lock_job(struct store *s, int64_t job_id, enum job_status *status)
{
    return pq_row(s, SQL(G_JOB_LOCK), SQ_ARGS(SQ_I(job_id)), read_status, status);
}

/* QUEUE_ENOENT when job_id does not exist, else `otherwise`. */
static int exists_or(struct store *s, int64_t job_id, int otherwise)
{
    int64_t one;
    int ret = pq_int(s, SQL(G_EXISTS), SQ_ARGS(SQ_I(job_id)), &one);

    return ret == QUEUE_OK ? otherwise : ret;
}

/* ---- submit ------------------------------------------------------------- */

/* The idempotency lookup: the hash wanted, and the job found. */
struct idem {
    const char *want;
    int64_t job_id;
};

static int read_idem(const PGresult *r, int row, void *ctx)
{
    struct idem *k = ctx;

    if (strcmp(pq_col_str(r, row, 1), k->want) != 0)
        return QUEUE_ECONFLICT;
    k->job_id = pq_col_int(r, row, 0);
    return QUEUE_OK;
}

int pq_admit(struct store *s, const char *idem_key, const char *request_hash, int64_t max_queued,
             int64_t *job_id, int *replayed)
{
    struct idem k = {request_hash ? request_hash : "", 0};
    int64_t active = 0;
    int ret = QUEUE_OK;

    *job_id = 0;
    if (idem_key) {
        /* A racing submit of the same key fails the insert on the unique
         * index; pq_tx runs this again, and then finds its job. */
        ret = pq_row(s, SQL(G_IDEM), SQ_ARGS(SQ_T(idem_key)), read_idem, &k);
        if (ret == QUEUE_ENOENT)
            ret = QUEUE_OK;
        *job_id = k.job_id;
        if (ret == QUEUE_OK && k.job_id != 0 && replayed)
            *replayed = 1;
    }
    if (ret != QUEUE_OK || *job_id != 0 || max_queued <= 0)
        return ret; /* a replay is answered even when the queue is full */
    ret = pq_exec(s, SQL(G_ADMIT_LOCK), SQ_NOARGS, NULL);
    if (ret == QUEUE_OK)
        ret = pq_int(s, SQL(G_ACTIVE), SQ_NOARGS, &active);
    return ret == QUEUE_OK && active >= max_queued ? QUEUE_EFULL : ret;
}

static int read_id(const PGresult *r, int row, void *ctx)
{
    *(int64_t *)ctx = pq_col_int(r, row, 0);
    return QUEUE_OK;
}

int pq_insert_job(struct store *s, const struct sq_job_row *r, int64_t now_ms, int64_t *job_id)
{
    return pq_row(s, SQL(G_JOB_NEW),
                  SQ_ARGS(SQ_T(r->kind), SQ_T(r->running ? "running" : "queued"), SQ_T(r->name),
                          SQ_T(r->spec_json), SQ_I(r->points), SQ_I(r->points_done),
                          SQ_I(r->tile_points), SQ_I(r->tiles), SQ_I(r->tiles_done), SQ_I(now_ms),
                          SQ_I(r->running ? now_ms : 0), SQ_T(r->idem_key),
                          SQ_T(r->idem_key ? r->request_hash : NULL)),
                  read_id, job_id);
}

int pq_insert_tiles(struct store *s, int64_t job_id, int64_t first_idx, int64_t cell,
                    uint64_t points, uint64_t tile_points, int64_t tiles)
{
    int n = 0;
    int ret = pq_exec(s, SQL(G_TILES_NEW),
                      SQ_ARGS(SQ_I(job_id), SQ_I(first_idx), SQ_OPT(cell), SQ_I(points),
                              SQ_I(tile_points), SQ_I(tiles)),
                      &n);

    return ret == QUEUE_OK && n != tiles ? QUEUE_EIO : ret;
}

/* A sweep's submit: the op's arguments and what it returns. */
struct enqueue {
    const struct queue_submit *sub;
    const char *kind;
    int64_t tiles, now_ms;
    struct job *out;
    int *replayed;
};

static int enqueue_tx(struct store *s, void *ctx)
{
    struct enqueue *e = ctx;
    struct sq_job_row row = {.kind = e->kind,
                             .name = e->sub->name,
                             .spec_json = e->sub->spec_json,
                             .idem_key = e->sub->idem_key,
                             .request_hash = e->sub->request_hash,
                             .points = e->sub->points,
                             .tile_points = e->sub->tile_points,
                             .tiles = e->tiles};
    int64_t id = 0;
    int ret;

    *e->replayed = 0;
    if (e->out)
        job_free(e->out); /* a second try starts afresh */
    ret = pq_admit(s, e->sub->idem_key, e->sub->request_hash, e->sub->max_queued, &id, e->replayed);
    if (ret == QUEUE_OK && id == 0) {
        ret = pq_insert_job(s, &row, e->now_ms, &id);
        if (ret == QUEUE_OK)
            ret = pq_insert_tiles(s, id, 0, -1, e->sub->points, e->sub->tile_points, e->tiles);
    }
    if (ret == QUEUE_OK && e->out)
        ret = pq_load_job(s, id, e->out);
    return ret;
}

static int pg_enqueue(struct store *s, const struct queue_submit *sub, const char *kind,
                      int64_t tiles, int64_t now_ms, struct job *out, int *replayed)
{
    int again = 0;
    struct enqueue e = {sub, kind, tiles, now_ms, out, replayed ? replayed : &again};

    return pq_tx(s, enqueue_tx, &e);
}

/* Makes the open transaction's commit light on a durable store. */
static int light(struct store *s)
{
    return s->sync_full ? pq_exec(s, SQL(G_LIGHT), SQ_NOARGS, NULL) : QUEUE_OK;
}

/* ---- claim and heartbeat ------------------------------------------------ */

/* A claim in progress: its arguments, and the pick so far. */
struct claim {
    int64_t now_ms, lease_ms;
    struct tile_claim *out;
    int64_t after_leased, after_id; /* the pick's cursor over jobs */
};

static int read_pick(const PGresult *r, int row, void *ctx)
{
    struct claim *c = ctx;

    c->after_id = pq_col_int(r, row, 0);
    c->after_leased = pq_col_int(r, row, 1);
    return QUEUE_OK;
}

static int read_lease(const PGresult *r, int row, void *ctx)
{
    struct tile_claim *out = ctx;
    int study = !pq_col_null(r, row, 3);
    int ret;

    out->begin = (uint64_t)pq_col_int(r, row, 0);
    out->count = (uint64_t)pq_col_int(r, row, 1);
    out->attempt = (int)pq_col_int(r, row, 2);
    out->cell = study ? pq_col_int(r, row, 3) : -1;
    if (queue__kind_copy(out->kind, pq_col_str(r, row, 5)) != QUEUE_OK)
        return QUEUE_EIO;
    ret = pq_col_dup(r, row, study ? 6 : 4, &out->spec_json);
    return ret == QUEUE_OK && !out->spec_json ? QUEUE_EIO : ret; /* a study tile needs its cell */
}

/* Tries this many runnable jobs, in fairness order, for a pending tile
 * nobody else is claiming, before saying there is none. */
#define CLAIM_JOBS 16

static int claim_tx(struct store *s, void *ctx)
{
    struct claim *c = ctx;
    int64_t idx;
    int ret, tries;

    tile_claim_free(c->out);
    c->after_leased = -1;
    c->after_id = 0;
    /* A lease lost to a crash only lets the tile be claimed again. */
    ret = light(s);
    for (tries = 0; ret == QUEUE_OK && tries < CLAIM_JOBS; tries++) {
        ret = pq_row(s, SQL(G_PICK_JOB), SQ_ARGS(SQ_I(c->after_leased), SQ_I(c->after_id)),
                     read_pick, c);
        if (ret != QUEUE_OK)
            break; /* QUEUE_ENOENT: nothing pending */
        ret = pq_int(s, SQL(G_PICK_TILE), SQ_ARGS(SQ_I(c->after_id)), &idx);
        if (ret == QUEUE_ENOENT) {
            ret = QUEUE_OK; /* all its pending tiles are being claimed: the next job */
            continue;
        }
        c->out->job_id = c->after_id;
        c->out->idx = idx;
        if (ret == QUEUE_OK)
            ret = pq_rows(s, SQL(G_LEASE),
                          SQ_ARGS(SQ_I(c->after_id), SQ_I(idx), SQ_I(c->now_ms),
                                  SQ_I(c->now_ms + c->lease_ms)),
                          read_lease, c->out);
        if (ret == QUEUE_OK && c->out->spec_json)
            return QUEUE_OK; /* else no row: the job stopped meanwhile; the next one */
    }
    return ret == QUEUE_OK ? QUEUE_ENOENT : ret;
}

static int pg_claim(struct store *s, int64_t now_ms, int64_t lease_ms, struct tile_claim *out)
{
    struct claim c = {now_ms, lease_ms, out, -1, 0};

    return pq_tx(s, claim_tx, &c);
}

static int pg_heartbeat(struct store *s, int64_t job_id, int64_t idx, int attempt, int64_t until_ms)
{
    int changed = 0,
        ret = pq_exec(s, SQL(G_HEARTBEAT),
                      SQ_ARGS(SQ_I(job_id), SQ_I(idx), SQ_I(attempt), SQ_I(until_ms)), &changed);

    return ret == QUEUE_OK && changed == 0 ? QUEUE_ESTALE : ret;
}

/* ---- finishing tiles ---------------------------------------------------- */

struct finish {
    int64_t job_id, idx;
    int attempt;
    const unsigned char *labels;
    size_t len;
    uint64_t count, divergent, lane_steps;
    int64_t now_ms;
    int *complete;
    /* read under the job's lock */
    int have_tile;
    char job_state[16], tile_state[16];
    int64_t tiles_done, tiles_total, held_attempt, tile_count;
};

static int read_finish(const PGresult *r, int row, void *ctx)
{
    struct finish *f = ctx;

    snprintf(f->job_state, sizeof f->job_state, "%s", pq_col_str(r, row, 0));
    f->tiles_done = pq_col_int(r, row, 1);
    f->tiles_total = pq_col_int(r, row, 2);
    f->have_tile = !pq_col_null(r, row, 3);
    snprintf(f->tile_state, sizeof f->tile_state, "%s", pq_col_str(r, row, 3));
    f->held_attempt = pq_col_int(r, row, 4);
    f->tile_count = pq_col_int(r, row, 5);
    return QUEUE_OK;
}

static int read_complete(const PGresult *r, int row, void *ctx)
{
    *(int *)ctx = pq_col_int(r, row, 0) != 0;
    return QUEUE_OK;
}

static int finish_tx(struct store *s, void *ctx)
{
    struct finish *f = ctx;
    int running, ret;

    *f->complete = 0;
    ret = light(s);
    if (ret == QUEUE_OK)
        ret = pq_row(s, SQL(G_FINISH_READ), SQ_ARGS(SQ_I(f->job_id), SQ_I(f->idx)), read_finish, f);
    if (ret == QUEUE_ENOENT || (ret == QUEUE_OK && !f->have_tile))
        return QUEUE_ESTALE; /* the job (or the tile) was deleted */
    if (ret != QUEUE_OK)
        return ret;
    running = strcmp(f->job_state, "running") == 0;
    if (f->held_attempt != f->attempt)
        return QUEUE_ESTALE; /* another attempt holds or saved it */
    if (strcmp(f->tile_state, "done") == 0) {
        /* This very attempt saved it already: a retried call. */
        *f->complete = running && f->tiles_done == f->tiles_total;
        return QUEUE_OK;
    }
    if (strcmp(f->tile_state, "leased") != 0 || !running)
        return QUEUE_ESTALE; /* requeued, or the job was canceled or failed */
    if ((int64_t)f->count != f->tile_count)
        return QUEUE_EINVAL;
    ret = pq_row(s, SQL(G_FINISH_SAVE),
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
    int ret = pq_tx(s, finish_tx, &f);

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
    const char *reason;
    struct job *out;
};

static int stop_tx(struct store *s, void *ctx)
{
    struct stop *st = ctx;
    int changed = 0, ret;

    if (st->out)
        job_free(st->out);
    ret = end_job(s, st->job_id, st->to, st->reason, st->now_ms, &changed);
    if (ret == QUEUE_OK && !changed)
        return exists_or(s, st->job_id, QUEUE_ECONFLICT); /* finished, or none */
    if (ret == QUEUE_OK && st->out)
        ret = pq_load_job(s, st->job_id, st->out);
    return ret;
}

static int pg_stop(struct store *s, int64_t job_id, enum job_status to, const char *reason,
                   int64_t now_ms, struct job *out)
{
    struct stop st = {job_id, now_ms, to, reason, out};

    return pq_tx(s, stop_tx, &st);
}

struct expiry {
    struct store *store;
    int64_t now_ms;
    int max_attempts, *requeued;
    int64_t locked; /* the job whose row this transaction holds */
    int lost, back;
};

static int read_expire_one(const PGresult *r, int row, void *ctx)
{
    struct expiry *x = ctx;

    x->back = pq_col_int(r, row, 0) != 0;
    x->lost = (int)pq_col_int(r, row, 1) + x->back; /* this one included */
    return QUEUE_OK;
}

/* One expired lease (a row of G_EXPIRED): back to pending, or the job fails
 * when the tile lost max_attempts leases. */
static int expire_row(struct store *s, const PGresult *r, int row, struct expiry *x)
{
    int64_t job_id = pq_col_int(r, row, 0), idx = pq_col_int(r, row, 1);
    int64_t attempt = pq_col_int(r, row, 2);
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
        ret = pq_row(s, SQL(G_EXPIRE_ONE),
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

/* pq_rows' reader for the expired list: handles each row as it comes (the
 * whole result is in memory, so statements may run meanwhile). */
static int read_expired(const PGresult *r, int row, void *ctx)
{
    struct expiry *x = ctx;

    return expire_row(x->store, r, row, x);
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

/* ---- labels ------------------------------------------------------------- */

struct scan {
    queue_tile_fn fn;
    void *ctx;
};

static int read_scan(const PGresult *r, int row, void *ctx)
{
    const struct scan *sc = ctx;
    struct queue_tile_row t = {
        .points = (uint64_t)pq_col_int(r, row, 0),
        .has_tile = !pq_col_null(r, row, 1),
        .done = strcmp(pq_col_str(r, row, 4), "done") == 0,
        .begin = (uint64_t)pq_col_int(r, row, 1),
        .count = (uint64_t)pq_col_int(r, row, 2),
    };

    if (t.done && !pq_col_null(r, row, 3)) {
        t.labels = (const unsigned char *)PQgetvalue(r, row, 3);
        t.len = (size_t)PQgetlength(r, row, 3);
    }
    return sc->fn(sc->ctx, &t);
}

static int pg_scan_tiles(struct store *s, int64_t job_id, int64_t cell, queue_tile_fn fn, void *ctx)
{
    struct scan sc = {fn, ctx};

    /* One statement: one snapshot of the size and the tiles. */
    return cell < 0
               ? pq_rows(s, SQL(G_SCAN_JOB), SQ_ARGS(SQ_I(job_id)), read_scan, &sc)
               : pq_rows(s, SQL(G_SCAN_CELL), SQ_ARGS(SQ_I(job_id), SQ_I(cell)), read_scan, &sc);
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
    return ret == QUEUE_OK && changed == 0 ? exists_or(s, job_id, QUEUE_ECONFLICT) : ret;
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

/* ---- reads -------------------------------------------------------------- */

static int pg_get_kind(struct store *s, int64_t job_id, char kind[QUEUE_KIND_MAX])
{
    char *name = NULL;
    int ret = pq_text(s, SQL(G_KIND), SQ_ARGS(SQ_I(job_id)), &name);

    if (ret == QUEUE_OK)
        ret = queue__kind_copy(kind, name);
    free(name);
    return ret;
}

static int pg_get_result(struct store *s, int64_t job_id, char **result_json)
{
    return pq_text(s, SQL(G_RESULT), SQ_ARGS(SQ_I(job_id)), result_json);
}

/* A page of jobs: one row more than limit means a next page. */
struct page {
    struct job *out;
    int *n, limit;
    int64_t *next_cursor;
};

static int read_page(const PGresult *r, int row, void *ctx)
{
    struct page *p = ctx;
    int ret;

    if (*p->n == p->limit) {
        *p->next_cursor = p->out[p->limit - 1].id;
        return SQ_STOP;
    }
    ret = job_from(r, row, &p->out[*p->n]);
    if (ret == QUEUE_OK)
        (*p->n)++;
    return ret;
}

static int pg_list(struct store *s, const enum job_status *status, int64_t cursor, int limit,
                   struct job *out, int *n, int64_t *next_cursor)
{
    struct page p = {out, n, limit, next_cursor};
    int64_t below = cursor > 0 ? cursor : INT64_MAX;
    int ret, i;

    if (status)
        ret = pq_rows(s, SQL(G_LIST_STATUS),
                      SQ_ARGS(SQ_I(below), SQ_I(limit + 1), SQ_T(job_status_name(*status))),
                      read_page, &p);
    else
        ret = pq_rows(s, SQL(G_LIST), SQ_ARGS(SQ_I(below), SQ_I(limit + 1)), read_page, &p);
    if (ret != QUEUE_OK) {
        for (i = 0; i < *n; i++)
            job_free(&out[i]);
        *n = 0;
        *next_cursor = 0;
    }
    return ret;
}

static int read_counts(const PGresult *r, int row, void *ctx)
{
    enum job_status js;

    if (job_status_parse(pq_col_str(r, row, 0), &js) != QUEUE_OK)
        return QUEUE_EIO;
    ((int64_t *)ctx)[js] = pq_col_int(r, row, 1);
    return QUEUE_OK;
}

static int pg_counts(struct store *s, int64_t counts[5])
{
    return pq_rows(s, SQL(G_COUNTS), SQ_NOARGS, read_counts, counts);
}

static int pg_prune(struct store *s, int64_t succeeded_before_ms, int64_t failed_before_ms,
                    int batch, int *deleted)
{
    /* One DELETE of at most batch jobs; the cascade takes their rows. */
    return pq_exec(s, SQL(G_PRUNE),
                   SQ_ARGS(SQ_I(succeeded_before_ms), SQ_I(failed_before_ms), SQ_I(batch)),
                   deleted);
}

struct attempts {
    int64_t job_id;
    struct tile_attempt *out;
    int *n;
};

static int read_attempt(const PGresult *r, int row, void *ctx)
{
    struct attempts *l = ctx;
    struct tile_attempt *a = &l->out[*l->n];
    const char *name = pq_col_str(r, row, 4);
    size_t k = 0;

    while (k < sizeof outcome_names / sizeof outcome_names[0] && strcmp(outcome_names[k], name))
        k++;
    if (k == sizeof outcome_names / sizeof outcome_names[0])
        return QUEUE_EIO;
    *a = (struct tile_attempt){.job_id = l->job_id,
                               .idx = pq_col_int(r, row, 0),
                               .attempt = (int)pq_col_int(r, row, 1),
                               .leased_ms = pq_col_int(r, row, 2),
                               .ended_ms = pq_col_int(r, row, 3),
                               .outcome = (enum attempt_outcome)k};
    (*l->n)++;
    return QUEUE_OK;
}

static int pg_tile_attempts(struct store *s, int64_t job_id, struct tile_attempt *out, int cap,
                            int *n)
{
    struct attempts l = {job_id, out, n};
    int ret = exists_or(s, job_id, QUEUE_OK);

    if (ret == QUEUE_OK)
        ret = pq_rows(s, SQL(G_ATTEMPTS), SQ_ARGS(SQ_I(job_id), SQ_I(cap)), read_attempt, &l);
    if (ret != QUEUE_OK)
        *n = 0;
    return ret;
}

/* ---- the ops table ------------------------------------------------------ */

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
    .enqueue = pg_enqueue,
    .claim = pg_claim,
    .heartbeat = pg_heartbeat,
    .finish_tile = pg_finish_tile,
    .requeue_expired = pg_requeue_expired,
    .release = pg_release,
    .scan_tiles = pg_scan_tiles,
    .complete = pg_complete,
    .stop = pg_stop,
    .remove = pg_remove,
    .get = pq_load_job,
    .get_kind = pg_get_kind,
    .get_result = pg_get_result,
    .list = pg_list,
    .counts = pg_counts,
    .prune = pg_prune,
    .tile_attempts = pg_tile_attempts,
    .study = &queue_study_pg,
};
