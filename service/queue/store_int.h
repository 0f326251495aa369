/*
 * store_int.h - private to the SQLite backend (store_sqlite.c,
 * queue_sqlite.c, queue_study_sqlite.c) and its white-box unit tests: the
 * prepared-statement cache, bound arguments, the backend's statement
 * primitives of struct sq_ops (queue_sql.h: statements, rows read through
 * struct sq_cols, transactions), the SQLite -> QUEUE_E* mapping, and what
 * its queue and study ops share (job state). The connection
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

/* Bound arguments (struct sq_arg, SQ_ARGS...): queue_sql.h. */

/* The cached statement of slot (id, sql) with args bound, in *out
 * (borrowed: store__reset() it before returning). */
int sq_open(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            sqlite3_stmt **out);

/* The statement primitives of queue_backend_sqlite (struct sq_ops,
 * queue_sql.h; the rest of the backend calls them through sq_exec() and
 * sq_rows()). store__exec runs statement (id, sql) to its end, *changes
 * (may be NULL) = rows it changed; store__rows calls fn for every row, in
 * order, until it stops, 0 or the first error. Both reset the statement.
 * store__tx: BEGIN IMMEDIATE, fn, COMMIT, or ROLLBACK when either fails;
 * fn's result or the commit's (no retry: a busy database waits in the
 * busy handler, then QUEUE_EBUSY). */
int store__exec(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
                int *changes);
int store__rows(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
                sq_row_fn fn, void *ctx);
int store__tx(struct store *s, sq_tx_fn fn, void *ctx);

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

/* queue_study_sqlite.c: a study's cell done with its row (queue_backend.h). */
int sqlite_cell_finish(struct store *s, int64_t job_id, int64_t idx, const char *row_json,
                       int64_t now_ms);

/* ---- shared by the queue and the study code (queue_sqlite.c) ---------- */

/* The status of job_id and its tiles not saved yet; QUEUE_ENOENT if none. */
int sq_job_state(struct store *s, int64_t job_id, enum job_status *st, int64_t *tiles_left);

#endif /* TB_STORE_INT_H */
