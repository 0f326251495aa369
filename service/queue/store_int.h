/*
 * store_int.h - private to the SQLite backend (store_sqlite.c,
 * queue_sqlite.c, queue_study_sqlite.c) and its white-box unit tests: the
 * prepared-statement cache, bound-argument helpers, transactions, the
 * SQLite -> QUEUE_E* mapping, and the primitives the sweep and the study
 * code share (submit, job and tile rows, job state). The connection
 * itself is `struct store` (queue_backend.h, the sqlite member of its
 * union). Nothing else includes it: everything else sees the queue through
 * queue.h and queue_study.h.
 *
 * Threads: like a `struct store`, whoever owns the store owns these calls.
 */
#ifndef TB_STORE_INT_H
#define TB_STORE_INT_H

#include <sqlite3.h>
#include <stddef.h>

#include "queue.h"
#include "queue_backend.h"
#include "queue_sql.h"

struct embed_file; /* embed.h */

/* Maps a SQLite result code (primary or extended) to 0 or a QUEUE_E* code. */
int store__map(int rc);

/*
 * The cached statement in slot id, prepared from sql on first use (sql must
 * be the same string on every call for that slot). *out is borrowed from
 * the cache: reset it with store__reset() when done, before the function
 * returns, so no read transaction outlives the call.
 */
int store__stmt(struct store *s, int id, const char *sql, sqlite3_stmt **out);
void store__reset(sqlite3_stmt *st);

/* step_row: 1 for a row, 0 when done, or a QUEUE_E* code. column_dup:
 * copies text column i into *out (caller frees; NULL for SQL NULL). */
int store__step_row(sqlite3_stmt *st);
int store__column_dup(sqlite3_stmt *st, int i, char **out);
/* store__column_dup of text columns cols[0..n) into *outs[0..n), up to
 * the first error. */
int store__column_dups(sqlite3_stmt *st, const int *cols, char **const *outs, size_t n);

/* Bound arguments (struct sq_arg, SQ_ARGS...): queue_sql.h. */

/* The cached statement of slot (id, sql) with args bound, in *out
 * (borrowed: store__reset() it before returning). */
int sq_open(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            sqlite3_stmt **out);
/* Runs statement (id, sql) to its end; *changes (may be NULL) = rows it
 * changed. Resets it. */
int sq_exec(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            int *changes);

/* Reads one row of a query: 0 goes on, SQ_STOP ends the rows without an
 * error, a QUEUE_E* code ends them with it. */
typedef int (*sq_row_fn)(sqlite3_stmt *st, void *ctx); /* SQ_STOP: queue_sql.h */
/* Calls fn for every row of statement (id, sql) with args, in order, until
 * it stops; 0 or the first error. Resets the statement. */
int sq_rows(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            sq_row_fn fn, void *ctx);
/* The same for the first row only; QUEUE_ENOENT when there is none. */
int sq_row(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n, sq_row_fn fn,
           void *ctx);
/* Integer column 0 of the first row into *v (SQL NULL reads 0);
 * QUEUE_ENOENT when there is no row. */
int sq_int(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n, int64_t *v);
/* Text column 0 of the first row into *out (caller frees); QUEUE_ENOENT
 * when there is no row or the value is NULL. */
int sq_text(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n, char **out);

/* BEGIN IMMEDIATE / COMMIT; rollback is a no-op outside a transaction.
 * store__commit rolls back by itself when COMMIT fails. */
int store__begin(struct store *s);
int store__commit(struct store *s);
void store__rollback(struct store *s);

/* light 1: the next commits of s skip the fsync (synchronous = NORMAL),
 * for writes that can be redone if a power cut loses them; light 0: back
 * to the level s was opened with. Call outside a transaction. */
int store__light(struct store *s, int light);

/*
 * Applies the migrations in files[0..n) (sorted; file i must be numbered
 * i + 1, "migrations/0001_x.sql") above the current user_version, each in
 * its own BEGIN IMMEDIATE transaction with `PRAGMA user_version = N`.
 * store_open() passes the embedded set; tests pass their own.
 */
int store__migrate(struct store *s, const struct embed_file *files, size_t n);

/* ---- the ops of queue_backend_sqlite (queue_sqlite.c lists them) ------ */

/* store_sqlite.c: the connection. */
int store_sqlite_open(const char *path, const struct store_options *o, struct store **out);
void store_sqlite_close(struct store *s);
int store_sqlite_schema_version(struct store *s, int *version);
int store_sqlite_known_version(void);
int store_sqlite_check_writable(struct store *s);
const char *store_sqlite_errmsg(struct store *s);

/* queue_study_sqlite.c: the studies and cells rows. */
extern const struct queue_study_backend queue_study_sqlite;

/* ---- shared by the sweep and the study code (queue_sqlite.c) ---------- */

/* A new jobs row (struct sq_job_row: queue_sql.h). */
int sq_insert_job(struct store *s, const struct sq_job_row *r, int64_t now_ms, int64_t *job_id);

/* Pending tiles first_idx .. first_idx + tiles - 1 of job_id, covering
 * points [0, points) of the job (cell < 0) or of cell `cell` in runs of
 * tile_points. */
int sq_insert_tiles(struct store *s, int64_t job_id, int64_t first_idx, int64_t cell,
                    uint64_t points, uint64_t tile_points, int64_t tiles);

/*
 * A submit is one BEGIN IMMEDIATE transaction: sq_admit() opens it and
 * checks an Idempotency-Key (used with the same request hash: *job_id =
 * the original job and *replayed = 1 (replayed may be NULL); with another
 * hash: QUEUE_ECONFLICT), else the backpressure (max_queued > 0:
 * QUEUE_EFULL at that many queued + running jobs), leaving *job_id 0. The
 * caller then inserts its rows when *job_id is 0, and passes its result to
 * sq_admitted(), which loads the job into out (may be NULL) and commits,
 * or rolls back when ret is an error; it returns the submit's result.
 */
int sq_admit(struct store *s, const char *idem_key, const char *request_hash, int64_t max_queued,
             int64_t *job_id, int *replayed);
int sq_admitted(struct store *s, int ret, int64_t job_id, struct job *out);

/* The status of job_id and its tiles not saved yet; QUEUE_ENOENT if none. */
int sq_job_state(struct store *s, int64_t job_id, enum job_status *st, int64_t *tiles_left);

#endif /* TB_STORE_INT_H */
