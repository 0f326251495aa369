/*
 * queue.c - the job queue of queue.h on SQLite: enqueue a job with its
 * tiles, fair tile claims with leases and heartbeats, idempotent tile
 * results keyed by (job, tile, attempt), lease expiry with bounded
 * attempts, the job lifecycle, listing, and retention.
 *
 * Threads: every call runs on the thread that owns the store (the loop
 * thread, or a worker thread on its own store). Calls on different stores
 * may run at once; SQLite serializes the writers.
 *
 * Invariants (schema in migrations/0001_init.sql):
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
#include "tb.h"

/* Slots in the store's statement cache, one per SQL text below. */
enum {
    Q_IDEM_GET,
    Q_ACTIVE_COUNT,
    Q_JOB_INSERT,
    Q_TILE_INSERT,
    Q_JOB_GET,
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
    Q_TILE_REQUEUE,
    Q_JOB_END,
    Q_ABANDON_ATTEMPTS,
    Q_RELEASE_TILES,
    Q_LABELS,
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
    Q_TILE_RELEASE,
    Q_EXPIRED_COUNT,
    Q__COUNT
};
_Static_assert(Q__COUNT <= STORE_STUDY_STMT_BASE, "grow STORE_STUDY_STMT_BASE");

#define JOB_COLS                                                                                   \
    "id, status, name, spec_json, points_total, points_done, tiles_total, tiles_done, "            \
    "created_ms, started_ms, finished_ms, revision, error, summary_json"

static const char *const sql_text[Q__COUNT] = {
    [Q_IDEM_GET] = "SELECT id, request_hash FROM jobs WHERE idem_key = ?1",
    [Q_ACTIVE_COUNT] = "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')",
    [Q_JOB_INSERT] = "INSERT INTO jobs (name, spec_json, points_total, tile_points, tiles_total, "
                     "created_ms, idem_key, request_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_TILE_INSERT] = "INSERT INTO tiles (job_id, idx, begin_pt, count) VALUES (?1, ?2, ?3, ?4)",
    [Q_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
    /* Fairness: among runnable jobs with a pending tile, the one leased the
     * fewest times so far, then the oldest (index jobs_claim). */
    [Q_CLAIM_JOB] = "SELECT j.id, j.spec_json FROM jobs AS j "
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
    [Q_TILE_REQUEUE] = "UPDATE tiles SET state = 'pending', lease_until = 0 "
                       "WHERE job_id = ?1 AND idx = ?2 AND attempt = ?3 AND state = 'leased'",
    /* Ends an active job: failed or canceled, with its reason. */
    [Q_JOB_END] = "UPDATE jobs SET status = ?2, error = ?3, finished_ms = ?4, "
                  "revision = revision + 1 WHERE id = ?1 AND status IN ('queued', 'running')",
    [Q_ABANDON_ATTEMPTS] = "UPDATE tile_attempts SET outcome = 'abandoned', ended_ms = ?2 "
                           "WHERE job_id = ?1 AND outcome = 'leased'",
    [Q_RELEASE_TILES] = "UPDATE tiles SET state = 'pending', lease_until = 0 "
                        "WHERE job_id = ?1 AND state = 'leased'",
    /* One statement, so one snapshot: the job's size and its saved tiles. */
    [Q_LABELS] = "SELECT j.points_total, t.begin_pt, t.count, t.labels FROM jobs AS j "
                 "LEFT JOIN tiles AS t ON t.job_id = j.id AND t.state = 'done' "
                 "WHERE j.id = ?1 ORDER BY t.idx",
    [Q_JOB_STATE] = "SELECT status, tiles_done, tiles_total FROM jobs WHERE id = ?1",
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
    /* queue_release: like a requeue, but the attempt is not counted. */
    [Q_TILE_RELEASE] = "UPDATE tiles SET state = 'pending', lease_until = 0 "
                       "WHERE job_id = ?1 AND idx = ?2 AND attempt = ?3 AND state = 'leased'",
    /* Leases of a tile that were lost (worker died): what max_attempts counts. */
    [Q_EXPIRED_COUNT] = "SELECT count(*) FROM tile_attempts "
                        "WHERE job_id = ?1 AND idx = ?2 AND outcome = 'expired'",
};

static int stmt(struct store *s, int id, sqlite3_stmt **out)
{
    return store__stmt(s, id, sql_text[id], out);
}

/* Text column i, or "" when NULL. Borrowed until the statement moves on. */
static const char *column_str(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? (const char *)t : "";
}

/* ---- names -------------------------------------------------------------- */

static const char *const status_names[] = {"queued", "running", "succeeded", "failed", "canceled"};

const char *job_status_name(enum job_status st)
{
    if ((unsigned)st >= sizeof status_names / sizeof status_names[0])
        return "unknown";
    return status_names[st];
}

int job_status_parse(const char *name, enum job_status *out)
{
    size_t i;

    for (i = 0; name && i < sizeof status_names / sizeof status_names[0]; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (enum job_status)i;
            return QUEUE_OK;
        }
    }
    return QUEUE_ENOENT;
}

static const char *const outcome_names[] = {"leased", "done", "expired", "abandoned"};

/* ---- rows --------------------------------------------------------------- */

void job_free(struct job *j)
{
    if (!j)
        return;
    free(j->name);
    free(j->spec_json);
    free(j->error);
    free(j->summary_json);
    memset(j, 0, sizeof *j);
}

void tile_claim_free(struct tile_claim *c)
{
    if (!c)
        return;
    free(c->spec_json);
    memset(c, 0, sizeof *c);
}

/* Fills j (owned by the caller afterwards) from a row of JOB_COLS. */
static int job_from_row(sqlite3_stmt *st, struct job *j)
{
    int ret;

    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    if (job_status_parse((const char *)sqlite3_column_text(st, 1), &j->status) != QUEUE_OK)
        return QUEUE_EIO;
    j->points_total = (uint64_t)sqlite3_column_int64(st, 4);
    j->points_done = (uint64_t)sqlite3_column_int64(st, 5);
    j->tiles_total = sqlite3_column_int64(st, 6);
    j->tiles_done = sqlite3_column_int64(st, 7);
    j->created_ms = sqlite3_column_int64(st, 8);
    j->started_ms = sqlite3_column_int64(st, 9);
    j->finished_ms = sqlite3_column_int64(st, 10);
    j->revision = sqlite3_column_int64(st, 11);
    ret = store__column_dup(st, 2, &j->name);
    if (ret == QUEUE_OK)
        ret = store__column_dup(st, 3, &j->spec_json);
    if (ret == QUEUE_OK)
        ret = store__column_dup(st, 12, &j->error);
    if (ret == QUEUE_OK)
        ret = store__column_dup(st, 13, &j->summary_json);
    if (ret != QUEUE_OK)
        job_free(j);
    return ret;
}

/* Reads job id into out (owned by the caller). QUEUE_ENOENT if none. */
static int load_job(struct store *s, int64_t id, struct job *out)
{
    sqlite3_stmt *st = NULL;
    int ret;

    ret = stmt(s, Q_JOB_GET, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, id);
    ret = store__step_row(st);
    if (ret == 1)
        ret = job_from_row(st, out);
    else if (ret == 0)
        ret = QUEUE_ENOENT;
out:
    store__reset(st);
    return ret;
}

/* ---- enqueue ------------------------------------------------------------ */

int queue__idem_lookup(struct store *s, const char *key, const char *request_hash,
                       int64_t *job_id)
{
    sqlite3_stmt *st = NULL;
    const char *hash, *want = request_hash ? request_hash : "";
    int ret;

    *job_id = 0;
    ret = stmt(s, Q_IDEM_GET, &st);
    if (ret != QUEUE_OK)
        goto out;
    ret = store__bind_text(st, 1, key);
    if (ret != QUEUE_OK)
        goto out;
    ret = store__step_row(st);
    if (ret <= 0)
        goto out;
    hash = (const char *)sqlite3_column_text(st, 1);
    if (strcmp(hash ? hash : "", want) != 0) {
        ret = QUEUE_ECONFLICT;
        goto out;
    }
    *job_id = sqlite3_column_int64(st, 0);
    ret = QUEUE_OK;
out:
    store__reset(st);
    return ret;
}

static int active_count(struct store *s, int64_t *n)
{
    sqlite3_stmt *st = NULL;
    int ret;

    ret = stmt(s, Q_ACTIVE_COUNT, &st);
    if (ret != QUEUE_OK)
        goto out;
    ret = store__step_row(st);
    if (ret == 1) {
        *n = sqlite3_column_int64(st, 0);
        ret = QUEUE_OK;
    } else if (ret == 0) {
        ret = QUEUE_EIO;
    }
out:
    store__reset(st);
    return ret;
}

static int insert_job(struct store *s, const struct queue_submit *sub, int64_t tiles,
                      int64_t now_ms, int64_t *job_id)
{
    sqlite3_stmt *st = NULL;
    int ret;

    ret = stmt(s, Q_JOB_INSERT, &st);
    if (ret != QUEUE_OK)
        goto out;
    ret = store__bind_text(st, 1, sub->name);
    if (ret == QUEUE_OK)
        ret = store__bind_text(st, 2, sub->spec_json);
    if (ret == QUEUE_OK)
        ret = store__bind_text(st, 7, sub->idem_key);
    if (ret == QUEUE_OK)
        ret = store__bind_text(st, 8, sub->idem_key ? sub->request_hash : NULL);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 3, (sqlite3_int64)sub->points);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)sub->tile_points);
    sqlite3_bind_int64(st, 5, tiles);
    sqlite3_bind_int64(st, 6, now_ms);
    ret = store__step_done(st);
    if (ret == QUEUE_OK)
        *job_id = sqlite3_last_insert_rowid(s->db);
out:
    store__reset(st);
    return ret;
}

static int insert_tiles(struct store *s, int64_t job_id, uint64_t points, uint64_t tile_points,
                        int64_t tiles)
{
    sqlite3_stmt *st = NULL;
    int64_t i;
    int ret;

    ret = stmt(s, Q_TILE_INSERT, &st);
    if (ret != QUEUE_OK)
        goto out;
    for (i = 0; i < tiles; i++) {
        uint64_t begin = (uint64_t)i * tile_points;
        uint64_t count = points - begin < tile_points ? points - begin : tile_points;

        sqlite3_bind_int64(st, 1, job_id);
        sqlite3_bind_int64(st, 2, i);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)begin);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)count);
        ret = store__step_done(st);
        sqlite3_reset(st);
        if (ret != QUEUE_OK)
            goto out;
    }
out:
    store__reset(st);
    return ret;
}

int queue_enqueue(struct store *s, const struct queue_submit *sub, int64_t now_ms, struct job *out,
                  int *replayed)
{
    int64_t tiles, job_id = 0, active;
    int ret;

    if (out)
        memset(out, 0, sizeof *out);
    if (replayed)
        *replayed = 0;
    if (!s || !sub || !sub->spec_json || sub->points == 0 || sub->points > (uint64_t)INT64_MAX ||
        sub->tile_points == 0 || sub->tile_points % 64 != 0 ||
        sub->tile_points > (uint64_t)INT64_MAX)
        return QUEUE_EINVAL;
    tiles = (int64_t)(sub->points / sub->tile_points + (sub->points % sub->tile_points != 0));
    if (tiles > QUEUE_MAX_TILES)
        return QUEUE_EINVAL;

    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    if (sub->idem_key) {
        ret = queue__idem_lookup(s, sub->idem_key, sub->request_hash, &job_id);
        if (ret != QUEUE_OK)
            goto out;
        if (job_id != 0) {
            if (replayed)
                *replayed = 1;
            goto load; /* a replay is answered even when the queue is full */
        }
    }
    if (sub->max_queued > 0) {
        ret = active_count(s, &active);
        if (ret != QUEUE_OK)
            goto out;
        if (active >= sub->max_queued) {
            ret = QUEUE_EFULL;
            goto out;
        }
    }
    ret = insert_job(s, sub, tiles, now_ms, &job_id);
    if (ret == QUEUE_OK)
        ret = insert_tiles(s, job_id, sub->points, sub->tile_points, tiles);
    if (ret != QUEUE_OK)
        goto out;
load:
    if (out)
        ret = load_job(s, job_id, out);
    if (ret == QUEUE_OK)
        ret = store__commit(s);
out:
    store__rollback(s);
    if (ret != QUEUE_OK) {
        if (out)
            job_free(out);
        if (replayed)
            *replayed = 0;
    }
    return ret;
}

/* ---- claim and heartbeat ------------------------------------------------ */

int queue_claim(struct store *s, int64_t now_ms, int64_t lease_ms, struct tile_claim *out)
{
    sqlite3_stmt *st = NULL;
    int64_t job_id;
    int ret;

    memset(out, 0, sizeof *out);
    /* A lease lost to a power cut only lets the tile be claimed again. */
    ret = store__light(s, 1);
    if (ret == QUEUE_OK)
        ret = store__begin(s);
    if (ret != QUEUE_OK) {
        store__light(s, 0);
        return ret;
    }

    ret = stmt(s, Q_CLAIM_JOB, &st);
    if (ret != QUEUE_OK)
        goto out;
    ret = store__step_row(st);
    if (ret == 0)
        ret = QUEUE_ENOENT;
    if (ret < 0)
        goto out;
    job_id = sqlite3_column_int64(st, 0);
    ret = store__column_dup(st, 1, &out->spec_json);
    store__reset(st);
    if (ret != QUEUE_OK)
        goto out;
    if (!out->spec_json) {
        ret = QUEUE_EIO;
        goto out;
    }

    ret = stmt(s, Q_CLAIM_TILE, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    ret = store__step_row(st);
    if (ret == 0)
        ret = QUEUE_EIO; /* the job query just saw a pending tile */
    if (ret < 0)
        goto out;
    out->job_id = job_id;
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
        if (ret != QUEUE_OK)
            goto out;
    }
    store__reset(st);

    ret = stmt(s, Q_TILE_LEASE, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, out->idx);
    sqlite3_bind_int(st, 3, out->attempt);
    sqlite3_bind_int64(st, 4, now_ms + lease_ms);
    ret = store__step_done(st);
    store__reset(st);
    if (ret != QUEUE_OK)
        goto out;

    ret = stmt(s, Q_ATTEMPT_INSERT, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, out->idx);
    sqlite3_bind_int(st, 3, out->attempt);
    sqlite3_bind_int64(st, 4, now_ms);
    ret = store__step_done(st);
    store__reset(st);
    if (ret != QUEUE_OK)
        goto out;

    ret = stmt(s, Q_JOB_CLAIMED, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, now_ms);
    ret = store__step_done(st);
    store__reset(st);
    if (ret == QUEUE_OK)
        ret = store__commit(s);
out:
    store__reset(st);
    store__rollback(s);
    if (store__light(s, 0) != QUEUE_OK && ret == QUEUE_OK)
        ret = QUEUE_EIO;
    if (ret != QUEUE_OK)
        tile_claim_free(out);
    return ret;
}

int queue_heartbeat(struct store *s, int64_t job_id, int64_t idx, int attempt, int64_t until_ms)
{
    sqlite3_stmt *st = NULL;
    int ret;

    ret = stmt(s, Q_HEARTBEAT, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, idx);
    sqlite3_bind_int(st, 3, attempt);
    sqlite3_bind_int64(st, 4, until_ms);
    ret = store__step_done(st);
    if (ret == QUEUE_OK && sqlite3_changes(s->db) == 0)
        ret = QUEUE_ESTALE;
out:
    store__reset(st);
    return ret;
}

/* ---- finishing tiles ---------------------------------------------------- */

/* Sets attempt (job, idx, attempt)'s outcome in the lease log. */
static int end_attempt(struct store *s, int64_t job_id, int64_t idx, int attempt,
                       enum attempt_outcome outcome, int64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    int ret;

    ret = stmt(s, Q_ATTEMPT_END, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, idx);
    sqlite3_bind_int(st, 3, attempt);
    sqlite3_bind_text(st, 4, outcome_names[outcome], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_ms);
    ret = store__step_done(st);
out:
    store__reset(st);
    return ret;
}

/* Encodes count labels as tb_label_words(count) little-endian words into a
 * new buffer (*out, owned by the caller: free()), with the bits past count
 * cleared. */
static int labels_encode(const uint64_t *labels, uint64_t count, unsigned char **out, size_t *len)
{
    uint64_t words = tb_label_words(count), i, w;
    unsigned char *b;
    int k;

    *out = NULL;
    *len = (size_t)(words * 8);
    b = malloc(*len);
    if (!b)
        return QUEUE_ENOMEM;
    for (i = 0; i < words; i++) {
        w = labels[i];
        if (i == words - 1 && count % 64 != 0)
            w &= ((uint64_t)1 << (count % 64)) - 1;
        for (k = 0; k < 8; k++)
            b[i * 8 + (uint64_t)k] = (unsigned char)(w >> (8 * k));
    }
    *out = b;
    return QUEUE_OK;
}

/* Decodes words little-endian 64-bit words from b into out. */
static void labels_decode(const unsigned char *b, uint64_t words, uint64_t *out)
{
    uint64_t i, w;
    int k;

    for (i = 0; i < words; i++) {
        w = 0;
        for (k = 7; k >= 0; k--)
            w = (w << 8) | b[i * 8 + (uint64_t)k];
        out[i] = w;
    }
}

int queue_finish_tile(struct store *s, int64_t job_id, int64_t idx, int attempt,
                      const uint64_t *labels, uint64_t count, uint64_t divergent,
                      uint64_t lane_steps, int64_t now_ms, int *job_complete)
{
    sqlite3_stmt *st = NULL;
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    char tile_state[16], job_state[16];
    int ret, held_attempt;
    int64_t tile_count, tiles_done, tiles_total;

    if (job_complete)
        *job_complete = 0;
    if (!labels || count == 0)
        return QUEUE_EINVAL;
    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;

    ret = stmt(s, Q_FINISH_GET, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, idx);
    ret = store__step_row(st);
    if (ret == 0)
        ret = QUEUE_ESTALE; /* job (or tile) deleted */
    if (ret < 0)
        goto out;
    snprintf(tile_state, sizeof tile_state, "%s", column_str(st, 0));
    held_attempt = sqlite3_column_int(st, 1);
    tile_count = sqlite3_column_int64(st, 2);
    snprintf(job_state, sizeof job_state, "%s", column_str(st, 3));
    tiles_done = sqlite3_column_int64(st, 4);
    tiles_total = sqlite3_column_int64(st, 5);
    store__reset(st);
    st = NULL;

    if (held_attempt != attempt) {
        ret = QUEUE_ESTALE; /* another attempt holds or saved the tile */
        goto out;
    }
    if (strcmp(tile_state, "done") == 0) {
        /* This very attempt saved it already: a retried call. */
        if (job_complete)
            *job_complete = strcmp(job_state, "running") == 0 && tiles_done == tiles_total;
        ret = QUEUE_OK;
        goto out;
    }
    if (strcmp(tile_state, "leased") != 0 || strcmp(job_state, "running") != 0) {
        ret = QUEUE_ESTALE; /* requeued, or the job was canceled or failed */
        goto out;
    }
    if ((int64_t)count != tile_count) {
        ret = QUEUE_EINVAL;
        goto out;
    }

    ret = labels_encode(labels, count, &blob, &blob_len);
    if (ret != QUEUE_OK)
        goto out;
    ret = stmt(s, Q_TILE_DONE, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, idx);
    /* blob outlives the step: the reset below clears the binding first. */
    sqlite3_bind_blob64(st, 3, blob, blob_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)divergent);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)lane_steps);
    sqlite3_bind_int64(st, 6, now_ms);
    ret = store__step_done(st);
    store__reset(st);
    st = NULL;
    if (ret != QUEUE_OK)
        goto out;

    ret = end_attempt(s, job_id, idx, attempt, ATTEMPT_DONE, now_ms);
    if (ret != QUEUE_OK)
        goto out;

    ret = stmt(s, Q_JOB_PROGRESS, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)count);
    ret = store__step_row(st);
    if (ret == 0)
        ret = QUEUE_EIO;
    if (ret < 0)
        goto out;
    if (job_complete)
        *job_complete = sqlite3_column_int(st, 0);
    ret = store__step_row(st); /* runs the RETURNING statement to its end */
    if (ret < 0)
        goto out;
    store__reset(st);
    st = NULL;
    ret = store__commit(s);
out:
    store__reset(st);
    store__rollback(s);
    free(blob);
    if (ret != QUEUE_OK && job_complete)
        *job_complete = 0;
    return ret;
}

/* Returns the leased tiles of a job that just ended to pending, and marks
 * their attempts abandoned, so late heartbeats and results get ESTALE. */
static int release_leases(struct store *s, int64_t job_id, int64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    int ret;

    ret = stmt(s, Q_ABANDON_ATTEMPTS, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, now_ms);
    ret = store__step_done(st);
    store__reset(st);
    st = NULL;
    if (ret != QUEUE_OK)
        goto out;
    ret = stmt(s, Q_RELEASE_TILES, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    ret = store__step_done(st);
out:
    store__reset(st);
    return ret;
}

/* Ends an active (queued or running) job as failed or canceled, with a
 * reason (may be NULL). *changed = 0 when it was not active. */
static int end_job(struct store *s, int64_t job_id, enum job_status to, const char *reason,
                   int64_t now_ms, int *changed)
{
    sqlite3_stmt *st = NULL;
    int ret;

    *changed = 0;
    ret = stmt(s, Q_JOB_END, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_text(st, 2, job_status_name(to), -1, SQLITE_STATIC);
    ret = store__bind_text(st, 3, reason);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 4, now_ms);
    ret = store__step_done(st);
    if (ret != QUEUE_OK)
        goto out;
    *changed = sqlite3_changes(s->db) > 0;
    store__reset(st);
    st = NULL;
    if (*changed)
        ret = release_leases(s, job_id, now_ms);
out:
    store__reset(st);
    return ret;
}

/* ---- lease expiry ------------------------------------------------------- */

struct expired {
    int64_t job_id, idx;
    int attempt;
};

/* Collects the leases that ended before now_ms into *out (owned by the
 * caller: free()), *n of them. */
static int list_expired(struct store *s, int64_t now_ms, struct expired **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct expired *v = NULL, *grown;
    size_t cap = 0;
    int ret;

    *out = NULL;
    *n = 0;
    ret = stmt(s, Q_EXPIRED_LIST, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, now_ms);
    while ((ret = store__step_row(st)) == 1) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            grown = realloc(v, cap * sizeof *v);
            if (!grown) {
                ret = QUEUE_ENOMEM;
                goto out;
            }
            v = grown;
        }
        v[*n].job_id = sqlite3_column_int64(st, 0);
        v[*n].idx = sqlite3_column_int64(st, 1);
        v[*n].attempt = sqlite3_column_int(st, 2);
        (*n)++;
    }
out:
    store__reset(st);
    if (ret == QUEUE_OK) {
        *out = v;
    } else {
        free(v);
        *n = 0;
    }
    return ret;
}

/* Returns one expired lease to pending; *requeued = 1 if it was still held. */
static int requeue_one(struct store *s, const struct expired *e, int64_t now_ms, int *requeued)
{
    sqlite3_stmt *st = NULL;
    int ret;

    *requeued = 0;
    ret = stmt(s, Q_TILE_REQUEUE, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, e->job_id);
    sqlite3_bind_int64(st, 2, e->idx);
    sqlite3_bind_int(st, 3, e->attempt);
    ret = store__step_done(st);
    if (ret != QUEUE_OK)
        goto out;
    *requeued = sqlite3_changes(s->db) > 0;
    if (*requeued)
        ret = end_attempt(s, e->job_id, e->idx, e->attempt, ATTEMPT_EXPIRED, now_ms);
out:
    store__reset(st);
    return ret;
}

/* How many leases of tile (job_id, idx) were lost (outcome expired). */
static int expired_count(struct store *s, int64_t job_id, int64_t idx, int *n)
{
    sqlite3_stmt *st = NULL;
    int ret;

    *n = 0;
    ret = stmt(s, Q_EXPIRED_COUNT, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, idx);
    ret = store__step_row(st);
    if (ret == 1) {
        *n = sqlite3_column_int(st, 0);
        ret = QUEUE_OK;
    } else if (ret == 0) {
        ret = QUEUE_EIO;
    }
out:
    store__reset(st);
    return ret;
}

int queue_release(struct store *s, int64_t job_id, int64_t idx, int attempt, int64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    int ret;

    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = stmt(s, Q_TILE_RELEASE, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, idx);
    sqlite3_bind_int(st, 3, attempt);
    ret = store__step_done(st);
    if (ret != QUEUE_OK)
        goto out;
    if (sqlite3_changes(s->db) == 0) {
        ret = QUEUE_ESTALE; /* saved, requeued, or the job ended meanwhile */
        goto out;
    }
    store__reset(st);
    st = NULL;
    ret = end_attempt(s, job_id, idx, attempt, ATTEMPT_ABANDONED, now_ms);
    if (ret == QUEUE_OK)
        ret = store__commit(s);
out:
    store__reset(st);
    store__rollback(s);
    return ret;
}

int queue_requeue_expired(struct store *s, int64_t now_ms, int max_attempts, int *requeued)
{
    struct expired *v = NULL;
    size_t n = 0, i;
    char reason[96];
    int ret, back, changed, lost;

    if (requeued)
        *requeued = 0;
    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = list_expired(s, now_ms, &v, &n);
    if (ret != QUEUE_OK)
        goto out;
    for (i = 0; i < n; i++) {
        /* An earlier entry may have failed this job and released its tiles:
         * requeue_one then finds the lease gone and does nothing. */
        ret = requeue_one(s, &v[i], now_ms, &back);
        if (ret != QUEUE_OK)
            goto out;
        if (!back)
            continue;
        /* Only lost leases count: one released by queue_release() does not. */
        ret = expired_count(s, v[i].job_id, v[i].idx, &lost);
        if (ret != QUEUE_OK)
            goto out;
        if (max_attempts > 0 && lost >= max_attempts) {
            snprintf(reason, sizeof reason, "tile %lld failed %d attempts (worker lost)",
                     (long long)v[i].idx, lost);
            ret = end_job(s, v[i].job_id, JOB_FAILED, reason, now_ms, &changed);
            if (ret != QUEUE_OK)
                goto out;
        } else if (requeued) {
            (*requeued)++;
        }
    }
    ret = store__commit(s);
out:
    store__rollback(s);
    free(v);
    if (ret != QUEUE_OK && requeued)
        *requeued = 0;
    return ret;
}

/* ---- labels ------------------------------------------------------------- */

int queue_load_labels(struct store *s, int64_t job_id, uint64_t *bits)
{
    return queue_load_range(s, job_id, 0, 0, bits);
}

/* Copies the part of a decoded tile [begin, begin + count) that falls in
 * [first, first + n) into bits (bit 0 = point first). */
static void put_overlap(uint64_t *bits, uint64_t first, uint64_t n, const uint64_t *tile,
                        uint64_t begin, uint64_t count, uint64_t *scratch)
{
    uint64_t lo = begin > first ? begin : first;
    uint64_t hi = begin + count < first + n ? begin + count : first + n;

    if (lo >= hi)
        return;
    if (lo == begin) {
        tb_labels_put(bits, lo - first, tile, hi - lo);
        return;
    }
    tb_labels_get(scratch, tile, lo - begin, hi - lo);
    tb_labels_put(bits, lo - first, scratch, hi - lo);
}

int queue_load_range(struct store *s, int64_t job_id, uint64_t first, uint64_t n, uint64_t *bits)
{
    sqlite3_stmt *st = NULL;
    uint64_t *buf = NULL, *part = NULL, *grown, cap = 0, total = 0, begin, count, words;
    const unsigned char *blob;
    int ret, first_row = 1;

    ret = stmt(s, Q_LABELS, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    while ((ret = store__step_row(st)) == 1) {
        if (first_row) {
            total = (uint64_t)sqlite3_column_int64(st, 0);
            if (n == 0 && first == 0)
                n = total;
            if (first > total || n > total - first) {
                ret = QUEUE_EINVAL;
                goto out;
            }
            memset(bits, 0, (size_t)(tb_label_words(n) * sizeof *bits));
            first_row = 0;
        }
        if (sqlite3_column_type(st, 1) == SQLITE_NULL)
            continue; /* the job has no saved tile yet */
        begin = (uint64_t)sqlite3_column_int64(st, 1);
        count = (uint64_t)sqlite3_column_int64(st, 2);
        words = tb_label_words(count);
        blob = sqlite3_column_blob(st, 3);
        if (count == 0 || begin > total || count > total - begin || !blob ||
            (uint64_t)sqlite3_column_bytes(st, 3) != words * 8) {
            ret = blob || sqlite3_errcode(s->db) != SQLITE_NOMEM ? QUEUE_EIO : QUEUE_ENOMEM;
            goto out;
        }
        if (begin + count <= first || begin >= first + n)
            continue; /* outside the range */
        if (words > cap) {
            grown = realloc(buf, (size_t)(words * sizeof *buf));
            if (!grown) {
                ret = QUEUE_ENOMEM;
                goto out;
            }
            buf = grown;
            grown = realloc(part, (size_t)(words * sizeof *part));
            if (!grown) {
                ret = QUEUE_ENOMEM;
                goto out;
            }
            part = grown;
            cap = words;
        }
        labels_decode(blob, words, buf);
        put_overlap(bits, first, n, buf, begin, count, part);
    }
    if (ret == 0 && first_row)
        ret = QUEUE_ENOENT;
out:
    store__reset(st);
    free(buf);
    free(part);
    return ret;
}

/* ---- the lifecycle ------------------------------------------------------ */

int queue_complete(struct store *s, int64_t job_id, const char *result_json,
                   const char *summary_json, int64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    const char *status;
    int ret;

    if (!result_json)
        return QUEUE_EINVAL;
    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = stmt(s, Q_JOB_STATE, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    ret = store__step_row(st);
    if (ret == 0)
        ret = QUEUE_ENOENT;
    if (ret < 0)
        goto out;
    status = column_str(st, 0);
    if (strcmp(status, "running") != 0 ||
        sqlite3_column_int64(st, 1) != sqlite3_column_int64(st, 2)) {
        ret = QUEUE_ECONFLICT; /* finished already, or tiles still missing */
        goto out;
    }
    store__reset(st);

    ret = stmt(s, Q_JOB_SUCCEED, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    ret = store__bind_text(st, 2, summary_json);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 3, now_ms);
    ret = store__step_done(st);
    store__reset(st);
    if (ret != QUEUE_OK)
        goto out;

    ret = stmt(s, Q_RESULT_PUT, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    ret = store__bind_text(st, 2, result_json);
    if (ret == QUEUE_OK)
        ret = store__step_done(st);
    store__reset(st);
    if (ret == QUEUE_OK)
        ret = store__commit(s);
out:
    store__reset(st);
    store__rollback(s);
    return ret;
}

/* Fails or cancels an active job in one transaction; QUEUE_ECONFLICT when
 * it has finished, QUEUE_ENOENT when it does not exist. out may be NULL. */
static int stop_job(struct store *s, int64_t job_id, enum job_status to, const char *reason,
                    int64_t now_ms, struct job *out)
{
    int ret, changed;

    if (out)
        memset(out, 0, sizeof *out);
    ret = store__begin(s);
    if (ret != QUEUE_OK)
        return ret;
    ret = end_job(s, job_id, to, reason, now_ms, &changed);
    if (ret == QUEUE_OK && !changed) {
        struct job j;

        ret = load_job(s, job_id, &j); /* tell a finished job from none */
        if (ret == QUEUE_OK) {
            job_free(&j);
            ret = QUEUE_ECONFLICT;
        }
    }
    if (ret == QUEUE_OK && out)
        ret = load_job(s, job_id, out);
    if (ret == QUEUE_OK)
        ret = store__commit(s);
    store__rollback(s);
    if (ret != QUEUE_OK && out)
        job_free(out);
    return ret;
}

int queue_fail(struct store *s, int64_t job_id, const char *reason, int64_t now_ms)
{
    return stop_job(s, job_id, JOB_FAILED, reason, now_ms, NULL);
}

int queue_cancel(struct store *s, int64_t job_id, int64_t now_ms, struct job *out)
{
    return stop_job(s, job_id, JOB_CANCELED, NULL, now_ms, out);
}

int queue_delete(struct store *s, int64_t job_id)
{
    sqlite3_stmt *st = NULL;
    int ret;

    /* One statement, so one transaction; tiles, attempts and the result go
     * with the job (ON DELETE CASCADE). A worker still running one of its
     * tiles gets QUEUE_ESTALE on its next heartbeat or result. */
    ret = stmt(s, Q_JOB_DELETE, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    ret = store__step_done(st);
    if (ret == QUEUE_OK && sqlite3_changes(s->db) == 0)
        ret = QUEUE_ENOENT;
out:
    store__reset(st);
    return ret;
}

/* ---- reads -------------------------------------------------------------- */

int queue_get(struct store *s, int64_t job_id, struct job *out)
{
    return load_job(s, job_id, out);
}

int queue_get_result(struct store *s, int64_t job_id, char **result_json)
{
    sqlite3_stmt *st = NULL;
    int ret;

    *result_json = NULL;
    ret = stmt(s, Q_RESULT_GET, &st);
    return ret == QUEUE_OK ? store__text_by_id(st, job_id, result_json) : ret;
}

int queue_list(struct store *s, const enum job_status *status, int64_t cursor, int limit,
               struct job *out, int *n, int64_t *next_cursor)
{
    sqlite3_stmt *st = NULL;
    int ret, i;

    *n = 0;
    *next_cursor = 0;
    if (limit <= 0 || cursor < 0 || (status && (unsigned)*status > JOB_CANCELED))
        return QUEUE_EINVAL;
    ret = stmt(s, status ? Q_LIST_STATUS : Q_LIST_ALL, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, cursor > 0 ? cursor : INT64_MAX);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit + 1); /* one more: is there a next page? */
    if (status)
        sqlite3_bind_text(st, 3, job_status_name(*status), -1, SQLITE_STATIC);
    while ((ret = store__step_row(st)) == 1) {
        if (*n == limit) {
            *next_cursor = out[limit - 1].id;
            ret = 0;
            break;
        }
        ret = job_from_row(st, &out[*n]);
        if (ret != QUEUE_OK)
            goto out;
        (*n)++;
    }
out:
    store__reset(st);
    if (ret != QUEUE_OK) {
        for (i = 0; i < *n; i++)
            job_free(&out[i]);
        *n = 0;
        *next_cursor = 0;
    }
    return ret;
}

int queue_counts(struct store *s, int64_t counts[5])
{
    sqlite3_stmt *st = NULL;
    enum job_status js;
    int ret;

    memset(counts, 0, 5 * sizeof counts[0]);
    ret = stmt(s, Q_COUNTS, &st);
    if (ret != QUEUE_OK)
        goto out;
    while ((ret = store__step_row(st)) == 1) {
        if (job_status_parse((const char *)sqlite3_column_text(st, 0), &js) != QUEUE_OK) {
            ret = QUEUE_EIO;
            goto out;
        }
        counts[js] = sqlite3_column_int64(st, 1);
    }
out:
    store__reset(st);
    return ret;
}

/* ---- retention ---------------------------------------------------------- */

int queue_prune(struct store *s, int64_t succeeded_before_ms, int64_t failed_before_ms, int batch,
                int *deleted)
{
    sqlite3_stmt *st = NULL;
    int ret;

    *deleted = 0;
    if (batch <= 0)
        return QUEUE_EINVAL;
    /* One DELETE of at most batch jobs, so one short transaction; the
     * cascade removes their tiles, attempts and results. sqlite3_changes()
     * counts the jobs only. */
    ret = stmt(s, Q_PRUNE, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, succeeded_before_ms);
    sqlite3_bind_int64(st, 2, failed_before_ms);
    sqlite3_bind_int(st, 3, batch);
    ret = store__step_done(st);
    if (ret == QUEUE_OK)
        *deleted = sqlite3_changes(s->db);
out:
    store__reset(st);
    return ret;
}

/* ---- the lease log ------------------------------------------------------ */

int queue_tile_attempts(struct store *s, int64_t job_id, struct tile_attempt *out, int cap, int *n)
{
    sqlite3_stmt *st = NULL;
    const char *name;
    size_t k;
    int ret;

    *n = 0;
    if (cap < 0 || (cap > 0 && !out))
        return QUEUE_EINVAL;
    ret = stmt(s, Q_JOB_EXISTS, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    ret = store__step_row(st);
    store__reset(st);
    if (ret == 0)
        ret = QUEUE_ENOENT;
    if (ret < 0)
        goto out;

    ret = stmt(s, Q_ATTEMPTS_LIST, &st);
    if (ret != QUEUE_OK)
        goto out;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int(st, 2, cap);
    while ((ret = store__step_row(st)) == 1) {
        struct tile_attempt *a = &out[*n];

        a->job_id = job_id;
        a->idx = sqlite3_column_int64(st, 0);
        a->attempt = sqlite3_column_int(st, 1);
        a->leased_ms = sqlite3_column_int64(st, 2);
        a->ended_ms = sqlite3_column_int64(st, 3);
        name = (const char *)sqlite3_column_text(st, 4);
        for (k = 0; k < sizeof outcome_names / sizeof outcome_names[0]; k++)
            if (name && strcmp(name, outcome_names[k]) == 0)
                break;
        if (k == sizeof outcome_names / sizeof outcome_names[0]) {
            ret = QUEUE_EIO;
            goto out;
        }
        a->outcome = (enum attempt_outcome)k;
        (*n)++;
    }
out:
    store__reset(st);
    if (ret != QUEUE_OK)
        *n = 0;
    return ret;
}
