/*
 * queue_sql.c - the jobs rows that every SQL backend runs alike
 * (queue_sql.h): one SQL text and one row decoder for each, run on the
 * store's statement primitives (s->ops->sql: struct sq_ops). Owns the
 * typed column reads of a row, the one-row / integer / text reads, the
 * submit of a sweep (idempotency, backpressure, the job and its tiles in
 * one transaction), heartbeats, the tile scan behind every labels load,
 * and, as the queue.h calls themselves (arguments checked here), the
 * heartbeat, the reads of jobs, kinds, results, pages, counts and the
 * lease log, and retention; and the finish check both backends'
 * finish_tile apply.
 * What the engines do their own way (claims, saving a tile, lease expiry,
 * ending a job) is in queue_sqlite.c and queue_pg.c.
 *
 * Owns: the statements in slots [0, STORE_OWN_STMT_BASE) of every
 * backend's cache.
 *
 * Threads: every call runs on the thread that owns the store. No state
 * but the constant SQL.
 *
 * Invariants: every value reaches SQL through a bound parameter; a
 * submit is one transaction (sq_ops.tx), so a job is never half-inserted;
 * each read is one statement, so one snapshot.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "queue_sql.h"

/* Slots in the store's statement cache, one per SQL text below. */
enum {
    Q_IDEM,
    Q_ACTIVE,
    Q_JOB_NEW,
    Q_JOB,
    Q_KIND,
    Q_HEARTBEAT,
    Q_SCAN_JOB,
    Q_SCAN_CELL,
    Q_EXISTS,
    Q_RESULT,
    Q_LIST,
    Q_LIST_STATUS,
    Q_COUNTS,
    Q_PRUNE,
    Q_ATTEMPTS,
    Q__COUNT
};
_Static_assert(Q__COUNT <= STORE_OWN_STMT_BASE, "grow STORE_OWN_STMT_BASE");

#define JOB_COLS                                                                                   \
    "id, status, name, spec_json, points_total, points_done, tiles_total, tiles_done, "            \
    "created_ms, started_ms, finished_ms, revision, error, summary_json, kind"

static const char *const sql_text[Q__COUNT] = {
    [Q_IDEM] = "SELECT id, request_hash FROM jobs WHERE idem_key = ?1",
    [Q_ACTIVE] = "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')",
    [Q_JOB_NEW] = "INSERT INTO jobs (kind, status, name, spec_json, points_total, points_done, "
                  "tile_points, tiles_total, tiles_done, created_ms, started_ms, idem_key, "
                  "request_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
                  "RETURNING id",
    [Q_JOB] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
    [Q_KIND] = "SELECT kind FROM jobs WHERE id = ?1",
    [Q_HEARTBEAT] = "UPDATE tiles SET lease_until = ?4 WHERE job_id = ?1 AND idx = ?2 "
                    "AND attempt = ?3 AND state = 'leased' "
                    "AND (SELECT status FROM jobs WHERE id = ?1) = 'running'",
    /* The labels scans: one statement each, so one snapshot of the size and
     * the tiles. A job: every tile (a row of NULLs when it has none). */
    [Q_SCAN_JOB] = "SELECT j.points_total, t.begin_pt, t.count, t.labels, t.state "
                   "FROM jobs AS j LEFT JOIN tiles AS t ON t.job_id = j.id "
                   "WHERE j.id = ?1 ORDER BY t.idx",
    /* A cell: the tiles of the cell whose labels it uses (itself, or the
     * cell it duplicates), with its own points. */
    [Q_SCAN_CELL] =
        "SELECT c.points, t.begin_pt, t.count, t.labels, t.state FROM cells AS c "
        "JOIN cells AS o ON o.job_id = c.job_id AND o.idx = coalesce(c.dup_of, c.idx) "
        "JOIN tiles AS t ON t.job_id = o.job_id AND t.idx >= o.tile_first "
        "AND t.idx < o.tile_first + o.tiles WHERE c.job_id = ?1 AND c.idx = ?2 ORDER BY t.idx",
    [Q_EXISTS] = "SELECT 1 FROM jobs WHERE id = ?1",
    [Q_RESULT] = "SELECT result_json FROM results WHERE job_id = ?1",
    [Q_LIST] = "SELECT " JOB_COLS " FROM jobs WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
    [Q_LIST_STATUS] = "SELECT " JOB_COLS " FROM jobs WHERE status = ?3 AND id < ?1 "
                      "ORDER BY id DESC LIMIT ?2",
    [Q_COUNTS] = "SELECT status, count(*) FROM jobs GROUP BY status",
    /* At most ?3 jobs, so one short transaction; the cascade removes their
     * tiles, attempts, results and study rows, and only the jobs count. */
    [Q_PRUNE] = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE "
                "(?1 > 0 AND status = 'succeeded' AND finished_ms < ?1) OR "
                "(?2 > 0 AND status IN ('failed', 'canceled') AND finished_ms < ?2) "
                "ORDER BY finished_ms, id LIMIT ?3)",
    [Q_ATTEMPTS] = "SELECT idx, attempt, leased_ms, ended_ms, outcome FROM tile_attempts "
                   "WHERE job_id = ?1 ORDER BY idx, attempt LIMIT ?2",
};

/* A statement's slot and text, for the sq_* helpers. */
#define SQL(id) (id), sql_text[(id)]

/* ---- column reads -------------------------------------------------------- */

int sq_col_null(const struct sq_row *r, int col)
{
    return r->cols->null(r, col);
}

int64_t sq_col_int(const struct sq_row *r, int col)
{
    return r->cols->int64(r, col);
}

const char *sq_col_str(const struct sq_row *r, int col)
{
    const void *p = NULL;
    size_t len;

    return r->cols->bytes(r, col, &p, &len) == QUEUE_OK && p ? p : "";
}

int sq_col_dup(const struct sq_row *r, int col, char **out)
{
    const void *p = NULL;
    size_t len = 0;
    int ret = r->cols->bytes(r, col, &p, &len);

    *out = NULL;
    if (ret != QUEUE_OK || !p)
        return ret;
    *out = malloc(len + 1);
    if (!*out)
        return QUEUE_ENOMEM;
    memcpy(*out, p, len);
    (*out)[len] = '\0';
    return QUEUE_OK;
}

int sq_col_dups(const struct sq_row *r, const int *cols, char **const *outs, size_t n)
{
    size_t i;
    int ret = QUEUE_OK;

    for (i = 0; i < n && ret == QUEUE_OK; i++)
        ret = sq_col_dup(r, cols[i], outs[i]);
    return ret;
}

void sq_col_ints(const struct sq_row *r, void *base, const struct sq_col *map, size_t n)
{
    size_t i;
    int64_t v;

    for (i = 0; i < n; i++) {
        v = sq_col_int(r, map[i].col);
        memcpy((char *)base + map[i].off, &v, sizeof v);
    }
}

/* ---- statements ---------------------------------------------------------- */

int sq_exec(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            int *changes)
{
    return s->ops->sql->exec(s, id, sql, a, n, changes);
}

int sq_rows(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            sq_row_fn fn, void *ctx)
{
    return s->ops->sql->rows(s, id, sql, a, n, fn, ctx);
}

/* sq_row's reader: the caller's for the first row, then stop. */
struct first_row {
    sq_row_fn fn;
    void *ctx;
    int seen;
};

static int first_row(const struct sq_row *r, void *ctx)
{
    struct first_row *f = ctx;
    int ret = f->fn(r, f->ctx);

    f->seen = 1;
    return ret == QUEUE_OK ? SQ_STOP : ret;
}

int sq_row(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n, sq_row_fn fn,
           void *ctx)
{
    struct first_row f = {fn, ctx, 0};
    int ret = sq_rows(s, id, sql, a, n, first_row, &f);

    return ret == QUEUE_OK && !f.seen ? QUEUE_ENOENT : ret;
}

static int read_int(const struct sq_row *r, void *ctx)
{
    *(int64_t *)ctx = sq_col_int(r, 0);
    return QUEUE_OK;
}

int sq_int(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n, int64_t *v)
{
    *v = 0;
    return sq_row(s, id, sql, a, n, read_int, v);
}

static int read_text(const struct sq_row *r, void *ctx)
{
    char **out = ctx;
    int ret = sq_col_dup(r, 0, out);

    return ret == QUEUE_OK && !*out ? QUEUE_ENOENT : ret;
}

int sq_text(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n, char **out)
{
    *out = NULL;
    return sq_row(s, id, sql, a, n, read_text, out);
}

/* ---- jobs rows ----------------------------------------------------------- */

/* The 64-bit fields of struct job and their JOB_COLS columns. */
static const struct sq_col job_ints[] = {
    {offsetof(struct job, id), 0},          {offsetof(struct job, points_total), 4},
    {offsetof(struct job, points_done), 5}, {offsetof(struct job, tiles_total), 6},
    {offsetof(struct job, tiles_done), 7},  {offsetof(struct job, created_ms), 8},
    {offsetof(struct job, started_ms), 9},  {offsetof(struct job, finished_ms), 10},
    {offsetof(struct job, revision), 11},
};

/* Fills j (owned by the caller afterwards) from a row of JOB_COLS. */
static int job_from(const struct sq_row *r, struct job *j)
{
    int ret;

    memset(j, 0, sizeof *j);
    sq_col_ints(r, j, job_ints, sizeof job_ints / sizeof job_ints[0]);
    if (job_status_parse(sq_col_str(r, 1), &j->status) != QUEUE_OK ||
        queue__kind_copy(j->kind, sq_col_str(r, 14)) != QUEUE_OK)
        return QUEUE_EIO;
    ret = sq_col_dups(r, (const int[]){2, 3, 12, 13},
                      (char **const[]){&j->name, &j->spec_json, &j->error, &j->summary_json}, 4);
    if (ret != QUEUE_OK)
        job_free(j);
    return ret;
}

static int read_job(const struct sq_row *r, void *ctx)
{
    return job_from(r, ctx);
}

int sq_load_job(struct store *s, int64_t job_id, struct job *out)
{
    return sq_row(s, SQL(Q_JOB), SQ_ARGS(SQ_I(job_id)), read_job, out);
}

int sq_exists_or(struct store *s, int64_t job_id, int otherwise)
{
    int64_t one;
    int ret = sq_int(s, SQL(Q_EXISTS), SQ_ARGS(SQ_I(job_id)), &one);

    return ret == QUEUE_OK ? otherwise : ret;
}

/* ---- submit -------------------------------------------------------------- */

/* The idempotency lookup: the hash wanted, and the job found. */
struct idem {
    const char *want;
    int64_t job_id;
};

static int read_idem(const struct sq_row *r, void *ctx)
{
    struct idem *k = ctx;

    if (strcmp(sq_col_str(r, 1), k->want) != 0)
        return QUEUE_ECONFLICT;
    k->job_id = sq_col_int(r, 0);
    return QUEUE_OK;
}

int sq_admit(struct store *s, const char *idem_key, const char *request_hash, int64_t max_queued,
             int64_t *job_id, int *replayed)
{
    struct idem k = {request_hash ? request_hash : "", 0};
    int64_t active = 0;
    int ret = QUEUE_OK;

    *job_id = 0;
    if (idem_key) {
        /* On PostgreSQL a racing submit of the same key fails the insert
         * on the unique index; the transaction runs again, and then finds
         * its job. */
        ret = sq_row(s, SQL(Q_IDEM), SQ_ARGS(SQ_T(idem_key)), read_idem, &k);
        if (ret == QUEUE_ENOENT)
            ret = QUEUE_OK; /* a new key */
        *job_id = k.job_id;
        if (ret == QUEUE_OK && k.job_id != 0 && replayed)
            *replayed = 1;
    }
    if (ret != QUEUE_OK || *job_id != 0 || max_queued <= 0)
        return ret; /* a replay is answered even when the queue is full */
    if (s->ops->sql->admit_lock)
        ret = s->ops->sql->admit_lock(s);
    if (ret == QUEUE_OK)
        ret = sq_int(s, SQL(Q_ACTIVE), SQ_NOARGS, &active);
    return ret == QUEUE_OK && active >= max_queued ? QUEUE_EFULL : ret;
}

int sq_insert_job(struct store *s, const struct sq_job_row *r, int64_t now_ms, int64_t *job_id)
{
    return sq_int(s, SQL(Q_JOB_NEW),
                  SQ_ARGS(SQ_T(r->kind), SQ_T(r->running ? "running" : "queued"), SQ_T(r->name),
                          SQ_T(r->spec_json), SQ_I(r->points), SQ_I(r->points_done),
                          SQ_I(r->tile_points), SQ_I(r->tiles), SQ_I(r->tiles_done), SQ_I(now_ms),
                          SQ_I(r->running ? now_ms : 0), SQ_T(r->idem_key),
                          SQ_T(r->idem_key ? r->request_hash : NULL)),
                  job_id);
}

/* A sweep's submit: the op's arguments and what it returns. */
struct enqueue {
    const struct queue_submit *sub; /* borrowed */
    const char *kind;               /* borrowed */
    int64_t tiles, now_ms;
    struct job *out; /* the caller's; may be NULL */
    int *replayed;   /* never NULL */
};

static int enqueue_tx(struct store *s, void *ctx)
{
    struct enqueue *e = ctx;
    const struct queue_submit *sub = e->sub;
    struct sq_job_row row = {.kind = e->kind,
                             .name = sub->name,
                             .spec_json = sub->spec_json,
                             .idem_key = sub->idem_key,
                             .request_hash = sub->request_hash,
                             .points = sub->points,
                             .tile_points = sub->tile_points,
                             .tiles = e->tiles};
    int64_t id = 0;
    int ret;

    *e->replayed = 0;
    if (e->out)
        job_free(e->out); /* a second try starts afresh */
    ret = sq_admit(s, sub->idem_key, sub->request_hash, sub->max_queued, &id, e->replayed);
    if (ret == QUEUE_OK && id == 0) {
        ret = sq_insert_job(s, &row, e->now_ms, &id);
        if (ret == QUEUE_OK)
            ret = s->ops->sql->insert_tiles(s, id, 0, -1, sub->points, sub->tile_points, e->tiles);
    }
    if (ret == QUEUE_OK && e->out)
        ret = sq_load_job(s, id, e->out);
    return ret;
}

int sq_enqueue(struct store *s, const struct queue_submit *sub, const char *kind, int64_t tiles,
               int64_t now_ms, struct job *out, int *replayed)
{
    int again = 0;
    struct enqueue e = {sub, kind, tiles, now_ms, out, replayed ? replayed : &again};

    return s->ops->sql->tx(s, enqueue_tx, &e);
}

/* ---- tiles --------------------------------------------------------------- */

int queue_heartbeat(struct store *s, int64_t job_id, int64_t idx, int attempt, int64_t until_ms)
{
    int changed = 0,
        ret = sq_exec(s, SQL(Q_HEARTBEAT),
                      SQ_ARGS(SQ_I(job_id), SQ_I(idx), SQ_I(attempt), SQ_I(until_ms)), &changed);

    return ret == QUEUE_OK && changed == 0 ? QUEUE_ESTALE : ret;
}

int sq_finish_check(const struct sq_finish_state *f, int attempt, uint64_t count,
                    int *job_complete)
{
    int running = strcmp(f->job_state, "running") == 0;

    if (!f->have_tile)
        return QUEUE_ESTALE; /* the job (or the tile) was deleted */
    if (f->held_attempt != attempt)
        return QUEUE_ESTALE; /* another attempt holds or saved the tile */
    if (strcmp(f->tile_state, "done") == 0) {
        /* This very attempt saved it already: a retried call. */
        *job_complete = running && f->tiles_done == f->tiles_total;
        return SQ_STOP;
    }
    if (strcmp(f->tile_state, "leased") != 0 || !running)
        return QUEUE_ESTALE; /* requeued, or the job was canceled or failed */
    return (int64_t)count != f->tile_count ? QUEUE_EINVAL : QUEUE_OK;
}

static const char *const outcome_names[] = {"leased", "done", "expired", "abandoned"};

const char *sq_outcome_name(enum attempt_outcome o)
{
    return outcome_names[o];
}

/* A scan in progress: the caller's callback. */
struct scan {
    queue_tile_fn fn;
    void *ctx;
};

static int read_tile(const struct sq_row *r, void *ctx)
{
    const struct scan *sc = ctx;
    struct queue_tile_row t = {
        .points = (uint64_t)sq_col_int(r, 0),
        .has_tile = !sq_col_null(r, 1),
        .done = strcmp(sq_col_str(r, 4), "done") == 0,
        .begin = (uint64_t)sq_col_int(r, 1),
        .count = (uint64_t)sq_col_int(r, 2),
    };
    const void *labels = NULL;
    int ret;

    if (t.done) {
        ret = r->cols->bytes(r, 3, &labels, &t.len);
        if (ret != QUEUE_OK)
            return ret;
        t.labels = labels;
    }
    return sc->fn(sc->ctx, &t);
}

int sq_scan_tiles(struct store *s, int64_t job_id, int64_t cell, queue_tile_fn fn, void *ctx)
{
    struct scan sc = {fn, ctx};

    if (cell < 0)
        return sq_rows(s, SQL(Q_SCAN_JOB), SQ_ARGS(SQ_I(job_id)), read_tile, &sc);
    return sq_rows(s, SQL(Q_SCAN_CELL), SQ_ARGS(SQ_I(job_id), SQ_I(cell)), read_tile, &sc);
}

/* ---- reads --------------------------------------------------------------- */

int queue_get(struct store *s, int64_t job_id, struct job *out)
{
    memset(out, 0, sizeof *out); /* read_job clears it again when it fails */
    return sq_load_job(s, job_id, out);
}

int queue_get_kind(struct store *s, int64_t job_id, char kind[QUEUE_KIND_MAX])
{
    char *name = NULL;
    int ret;

    kind[0] = '\0';
    ret = sq_text(s, SQL(Q_KIND), SQ_ARGS(SQ_I(job_id)), &name);

    if (ret == QUEUE_OK)
        ret = queue__kind_copy(kind, name);
    free(name);
    return ret;
}

int queue_get_result(struct store *s, int64_t job_id, char **result_json)
{
    /* sq_text sets *result_json NULL first. */
    return sq_text(s, SQL(Q_RESULT), SQ_ARGS(SQ_I(job_id)), result_json);
}

/* A page of jobs in progress: one row more than limit means a next page. */
struct page {
    struct job *out; /* the caller's, limit entries */
    int *n, limit;
    int64_t *next_cursor;
};

static int read_page(const struct sq_row *r, void *ctx)
{
    struct page *p = ctx;
    int ret;

    if (*p->n == p->limit) {
        *p->next_cursor = p->out[p->limit - 1].id;
        return SQ_STOP;
    }
    ret = job_from(r, &p->out[*p->n]);
    if (ret == QUEUE_OK)
        (*p->n)++;
    return ret;
}

int queue_list(struct store *s, const enum job_status *status, int64_t cursor, int limit,
               struct job *out, int *n, int64_t *next_cursor)
{
    struct page p = {out, n, limit, next_cursor};
    int64_t below = cursor > 0 ? cursor : INT64_MAX, rows = (int64_t)limit + 1;
    int ret, i;

    *n = 0;
    *next_cursor = 0;
    if (limit <= 0 || cursor < 0 || (status && (unsigned)*status > JOB_CANCELED))
        return QUEUE_EINVAL;

    if (status)
        ret = sq_rows(s, SQL(Q_LIST_STATUS),
                      SQ_ARGS(SQ_I(below), SQ_I(rows), SQ_T(job_status_name(*status))), read_page,
                      &p);
    else
        ret = sq_rows(s, SQL(Q_LIST), SQ_ARGS(SQ_I(below), SQ_I(rows)), read_page, &p);
    if (ret != QUEUE_OK) {
        for (i = 0; i < *n; i++)
            job_free(&out[i]);
        *n = 0;
        *next_cursor = 0;
    }
    return ret;
}

static int read_count(const struct sq_row *r, void *ctx)
{
    int64_t *counts = ctx;
    enum job_status js;

    if (job_status_parse(sq_col_str(r, 0), &js) != QUEUE_OK)
        return QUEUE_EIO;
    counts[js] = sq_col_int(r, 1);
    return QUEUE_OK;
}

int queue_counts(struct store *s, int64_t counts[5])
{
    memset(counts, 0, 5 * sizeof counts[0]);
    return sq_rows(s, SQL(Q_COUNTS), SQ_NOARGS, read_count, counts);
}

int queue_prune(struct store *s, int64_t succeeded_before_ms, int64_t failed_before_ms, int batch,
                int *deleted)
{
    *deleted = 0;
    if (batch <= 0)
        return QUEUE_EINVAL;
    return sq_exec(s, SQL(Q_PRUNE),
                   SQ_ARGS(SQ_I(succeeded_before_ms), SQ_I(failed_before_ms), SQ_I(batch)),
                   deleted);
}

/* The lease log being read: the caller's array. */
struct attempts {
    int64_t job_id;
    struct tile_attempt *out; /* the caller's, cap entries */
    int *n;
};

static int read_attempt(const struct sq_row *r, void *ctx)
{
    struct attempts *l = ctx;
    const char *name = sq_col_str(r, 4);
    size_t k, names = sizeof outcome_names / sizeof outcome_names[0];

    for (k = 0; k < names && strcmp(name, outcome_names[k]) != 0; k++)
        ;
    if (k == names)
        return QUEUE_EIO;
    l->out[*l->n] = (struct tile_attempt){.job_id = l->job_id,
                                          .idx = sq_col_int(r, 0),
                                          .attempt = (int)sq_col_int(r, 1),
                                          .leased_ms = sq_col_int(r, 2),
                                          .ended_ms = sq_col_int(r, 3),
                                          .outcome = (enum attempt_outcome)k};
    (*l->n)++;
    return QUEUE_OK;
}

int queue_tile_attempts(struct store *s, int64_t job_id, struct tile_attempt *out, int cap, int *n)
{
    struct attempts l = {job_id, out, n};
    int ret;

    *n = 0;
    if (cap < 0 || (cap > 0 && !out))
        return QUEUE_EINVAL;
    ret = sq_exists_or(s, job_id, QUEUE_OK);

    if (ret == QUEUE_OK)
        ret = sq_rows(s, SQL(Q_ATTEMPTS), SQ_ARGS(SQ_I(job_id), SQ_I(cap)), read_attempt, &l);
    if (ret != QUEUE_OK)
        *n = 0;
    return ret;
}
