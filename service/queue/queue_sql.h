/*
 * queue_sql.h - the SQL layer every backend shares: the seam a SQL engine
 * implements (struct sq_ops: run a statement with bound arguments, read
 * its rows through struct sq_cols, one transaction, and the two steps that
 * are one statement on one engine and several on the other), the helpers
 * built on it (one row, an integer, a text, typed column reads), the
 * statement slots, and the ops both backends run alike with the same SQL:
 * jobs rows and submits (queue_sql.c), study rows (queue_study_sql.c),
 * which implement part of queue.h and queue_study.h; what the engines do
 * differently (claims, saving a tile, expiry, ending a job) stays in the
 * backend's ops table (queue_backend.h).
 *
 * Included by the neutral queue.c / queue_study.c, by queue_sql.c /
 * queue_study_sql.c that implement it, and by the backends' private
 * headers (store_int.h, store_pg.h).
 *
 * SQL text: the shared statements number their arguments ?1, ?2, ...
 * (SQLite's own form); the PostgreSQL backend prepares them as $1, $2, ...
 * Both dialects run the same text otherwise.
 *
 * Threads: like a `struct store`, whoever owns the store owns these calls.
 * Errors: 0 or a negative QUEUE_E* code (queue.h), as everywhere in the
 * queue.
 */
#ifndef TB_QUEUE_SQL_H
#define TB_QUEUE_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "queue.h"
#include "queue_backend.h"
#include "queue_study.h"

/* Slots of a backend's statement cache (STORE_MAX_STMTS in all,
 * queue_backend.h), by who owns the SQL text:
 *   [0, STORE_OWN_STMT_BASE)                       queue_sql.c
 *   [STORE_OWN_STMT_BASE, STORE_STUDY_STMT_BASE)   a backend's queue statements
 *   [STORE_STUDY_STMT_BASE, STORE_STUDY_OWN_BASE)  queue_study_sql.c
 *   [STORE_STUDY_OWN_BASE, STORE_MAX_STMTS)        a backend's study statements
 *                                                  (and store_pg.c's top six) */
#define STORE_OWN_STMT_BASE 32
#define STORE_STUDY_STMT_BASE 64
#define STORE_STUDY_OWN_BASE 80

/*
 * Bound arguments: a statement's ?1, ?2, ... ($1, $2, ... on PostgreSQL)
 * in order, written SQ_ARGS(SQ_I(job_id), SQ_T(name), ...). SQ_I: an
 * integer (converted to int64_t; a 64-bit integer on PostgreSQL); SQ_T:
 * text, NULL binds SQL NULL; SQ_B: a blob (ptr, bytes); SQ_OPT: an integer,
 * or SQL NULL (of an integer column) when it is negative (a cell -1). Text
 * and blobs are bound without a copy: they must outlive the statement.
 */
struct sq_arg {
    int type; /* SQ_INT, SQ_TEXT, SQ_BLOB, SQ_NULL (an integer's NULL) */
    int64_t i;
    const void *p; /* borrowed */
    size_t len;
};
enum { SQ_NULL, SQ_INT, SQ_TEXT, SQ_BLOB };
/* clang-format off */
#define SQ_I(v) {SQ_INT, (int64_t)(v), NULL, 0}
#define SQ_T(v) {SQ_TEXT, 0, (v), 0}
#define SQ_B(v, n) {SQ_BLOB, 0, (v), (n)}
#define SQ_OPT(v) {(v) >= 0 ? SQ_INT : SQ_NULL, (int64_t)(v), NULL, 0}
/* clang-format on */
#define SQ_ARGS(...)                                                                               \
    (const struct sq_arg[]){__VA_ARGS__},                                                          \
        sizeof((const struct sq_arg[]){__VA_ARGS__}) / sizeof(struct sq_arg)
#define SQ_NOARGS NULL, 0

/* ---- rows ---------------------------------------------------------------- */

/* One row of a result, as a backend hands it to a reader: borrowed for
 * the reader's call. */
struct sq_row {
    const struct sq_cols *cols; /* the backend's column readers */
    const void *res;            /* borrowed: the engine's statement or result */
    int row;                    /* the row's number in res, where the engine needs it */
};

/* How a backend reads column col (from 0) of a row. */
struct sq_cols {
    /* 1 when the value is SQL NULL. */
    int (*null)(const struct sq_row *r, int col);
    /* An integer or boolean column; 0 for NULL. */
    int64_t (*int64)(const struct sq_row *r, int col);
    /* A text or blob column: *p = its bytes (borrowed until the reader
     * returns; a text is NUL-terminated after len), *len = their count;
     * *p = NULL for SQL NULL. QUEUE_ENOMEM when the engine could not
     * produce them. */
    int (*bytes)(const struct sq_row *r, int col, const void **p, size_t *len);
};

/* Reads one row: 0 goes on, SQ_STOP ends the rows without an error, a
 * QUEUE_E* code ends them with it. */
typedef int (*sq_row_fn)(const struct sq_row *r, void *ctx);
#define SQ_STOP 1

/* Column reads of a row (through r->cols). sq_col_str: a text, "" for NULL
 * (borrowed from the row); sq_col_dup: a malloc'd copy into *out (NULL for
 * NULL; the caller frees); sq_col_dups: sq_col_dup of cols[0..n) into
 * *outs[0..n), up to the first error. */
int sq_col_null(const struct sq_row *r, int col);
int64_t sq_col_int(const struct sq_row *r, int col);
const char *sq_col_str(const struct sq_row *r, int col);
int sq_col_dup(const struct sq_row *r, int col, char **out);
int sq_col_dups(const struct sq_row *r, const int *cols, char **const *outs, size_t n);
/* A row's integer columns into a struct's 64-bit fields: for each map
 * entry, sq_col_int(col) is stored at base + off (an int64_t or uint64_t). */
struct sq_col {
    size_t off;
    int col;
};
void sq_col_ints(const struct sq_row *r, void *base, const struct sq_col *map, size_t n);

/* ---- the seam: what a SQL backend implements ----------------------------- */

/* One transaction's work (sq_ops.tx): 0 commits, a QUEUE_E* code rolls
 * back. It may run more than once: it starts from scratch on each call. */
typedef int (*sq_tx_fn)(struct store *s, void *ctx);

struct sq_ops {
    /* Statement (id, sql) with arguments a[0..n), prepared on first use
     * (sql is the same text on every call for that id). exec runs it to
     * its end, *changes (may be NULL) = the rows it changed; rows calls fn
     * for every row, in order, until it stops (0 or the first error). No
     * statement or result outlives the call. */
    int (*exec)(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
                int *changes);
    int (*rows)(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
                sq_row_fn fn, void *ctx);
    /* One write transaction around fn (SQLite: BEGIN IMMEDIATE; PostgreSQL:
     * run again after a deadlock, a serialization failure or a unique-key
     * race). fn's result, or the commit's. */
    int (*tx)(struct store *s, sq_tx_fn fn, void *ctx);
    /* Inside a submit's transaction, before it counts the active jobs: makes
     * concurrent submits count one after another. NULL where the
     * transaction already does (SQLite's write lock). */
    int (*admit_lock)(struct store *s);
    /* Pending tiles first_idx .. first_idx + tiles - 1 of job_id, covering
     * points [0, points) of the job (cell < 0) or of cell `cell` in runs
     * of tile_points. */
    int (*insert_tiles)(struct store *s, int64_t job_id, int64_t first_idx, int64_t cell,
                        uint64_t points, uint64_t tile_points, int64_t tiles);
};

/* The store's statements (s->ops->sql). sq_exec and sq_rows: sq_ops';
 * sq_row: the same for the first row only, QUEUE_ENOENT when there is
 * none; sq_int: integer column 0 of the first row into *v (NULL reads 0),
 * QUEUE_ENOENT when there is no row; sq_text: text column 0 of the first
 * row into *out (the caller frees), QUEUE_ENOENT when there is no row or
 * the value is NULL. */
int sq_exec(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            int *changes);
int sq_rows(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            sq_row_fn fn, void *ctx);
int sq_row(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n, sq_row_fn fn,
           void *ctx);
int sq_int(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n, int64_t *v);
int sq_text(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n, char **out);

/* ---- the jobs rows both backends run alike (queue_sql.c) ----------------- */

/* The semantics are queue.h's; the dispatcher (queue.c) has checked the
 * arguments and zeroed the outputs, and frees them when a call fails.
 * queue_heartbeat, queue_get, queue_get_kind, queue_get_result,
 * queue_list, queue_counts, queue_prune and queue_tile_attempts of queue.h
 * are implemented here too, with their own checks.
 *
 * sq_enqueue: sub is checked; tiles = ceil(points / tile_points); kind is a valid
 * name. The job's tiles are idx 0..tiles-1 with no cell. */
int sq_enqueue(struct store *s, const struct queue_submit *sub, const char *kind, int64_t tiles,
               int64_t now_ms, struct job *out, int *replayed);
/* The one labels source (queue_labels): calls fn for the tiles of job
 * job_id (cell < 0: every tile of the job, its points_total as `points`)
 * or of cell `cell` (the tiles of the cell it duplicates, if it is a
 * duplicate; the cell's points), in idx order and in one snapshot (one
 * statement). No call at all: no such job or cell. A job without tiles
 * gives one row with has_tile = 0 (struct queue_tile_row:
 * queue_backend.h). */
int sq_scan_tiles(struct store *s, int64_t job_id, int64_t cell, queue_tile_fn fn, void *ctx);
/* Job job_id into out (owned by the caller; cleared again when the read
 * fails); QUEUE_ENOENT if none. */
int sq_load_job(struct store *s, int64_t job_id, struct job *out);

/* A new jobs row (sq_insert_job). */
struct sq_job_row {
    const char *kind, *name, *spec_json;  /* borrowed */
    const char *idem_key, *request_hash; /* borrowed; request_hash is stored only with a key */
    int running;                         /* 1: starts running (nothing to claim) */
    uint64_t points, points_done, tile_points;
    int64_t tiles, tiles_done;
};

/* The steps of a submit, inside its transaction (sq_ops.tx). sq_admit:
 * checks an Idempotency-Key (used with the same request hash: *job_id =
 * the original job and *replayed = 1 (replayed may be NULL); with another
 * hash: QUEUE_ECONFLICT), else the backpressure (max_queued > 0:
 * QUEUE_EFULL at that many queued + running jobs, counted after
 * sq_ops.admit_lock), leaving *job_id 0 for the caller to insert.
 * sq_insert_job: the jobs row r, its id in *job_id. */
int sq_admit(struct store *s, const char *idem_key, const char *request_hash, int64_t max_queued,
             int64_t *job_id, int *replayed);
int sq_insert_job(struct store *s, const struct sq_job_row *r, int64_t now_ms, int64_t *job_id);

/* What the backends' own ops share. sq_exists_or: QUEUE_ENOENT when job_id does not exist, else `otherwise`. */
int sq_exists_or(struct store *s, int64_t job_id, int otherwise);
/* The stored name of an attempt's outcome ("leased", "done", ...). */
const char *sq_outcome_name(enum attempt_outcome o);
/* What queue_finish_tile() checks before it saves a tile, read under the
 * op's write lock: the tile (have_tile 0: it or its job is gone) and its
 * job. */
struct sq_finish_state {
    int have_tile;
    char tile_state[16], job_state[16];
    int64_t held_attempt, tile_count, tiles_done, tiles_total;
};
/* Whether attempt may save its count points over the tile f: 0 to save
 * it; SQ_STOP when this very attempt saved it already (a retried call),
 * with *job_complete set; else QUEUE_ESTALE (the tile or job is gone,
 * another attempt holds it, it was requeued, the job ended) or
 * QUEUE_EINVAL (count is not the tile's). */
int sq_finish_check(const struct sq_finish_state *f, int attempt, uint64_t count,
                    int *job_complete);

/* ---- the study rows both backends run alike (queue_study_sql.c) ---------- */

/* Semantics: queue_study.h; arguments checked and outputs zeroed by
 * queue_study.c, which frees them when a call fails. queue_study_get,
 * queue_cell_get, queue_cell_tiles_left, queue_cells_ready,
 * queue_cells_page, queue_study_put_csv and queue_study_get_csv of
 * queue_study.h are implemented here too, with their own checks. */
int sq_study_enqueue(struct store *s, const struct queue_study_submit *sub, int64_t now_ms,
                     struct job *out, int *replayed, size_t *copied);

/* ---- migrations (queue.c) ------------------------------------------------ */

/* The N of "migrations/NNNN_name.sql" (any folder), or -1 when the name
 * has no number. */
int queue__migration_number(const char *name);
/* 0 when names[0..n) are numbered 1..n in order, else QUEUE_ESCHEMA (a
 * gap or a bad name: a broken build). files is an embed_file array. */
struct embed_file;
int queue__migrations_check(const struct embed_file *files, size_t n);

#endif /* TB_QUEUE_SQL_H */
