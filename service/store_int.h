/*
 * store_int.h - private to store.c and queue.c (and their white-box unit
 * tests): the connection object, the prepared-statement cache, transaction
 * helpers and the SQLite -> QUEUE_E* mapping. Nothing else includes it;
 * everything else sees SQLite only through queue.h.
 *
 * Threads: like a `struct store`, whoever owns the store owns these calls.
 */
#ifndef TB_STORE_INT_H
#define TB_STORE_INT_H

#include <sqlite3.h>
#include <stddef.h>

#include "queue.h"

struct embed_file; /* embed.h */

/* Slots of the prepared-statement cache; queue.c numbers its statements
 * below STORE_STUDY_STMT_BASE, queue_study.c from it up to STORE_MAX_STMTS. */
#define STORE_STUDY_STMT_BASE 64
#define STORE_MAX_STMTS 96

struct store {
    sqlite3 *db;  /* owned; closed by store_close() */
    int readonly; /* opened SQLITE_OPEN_READONLY (file without write bits) */
    sqlite3_stmt *begin, *commit, *rollback; /* owned, prepared at open */
    sqlite3_stmt *stmt[STORE_MAX_STMTS];     /* owned, prepared on first use */
    char errmsg[200];                        /* SQLite's message of the failure that rolled back the
                                                current operation; "" when none */
    int busy_timeout_ms;                     /* busy_wait() gives up after this */
    int sync_full;                           /* opened with synchronous = FULL */
};

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

/* Statement helpers shared by queue.c and queue_study.c. step_done: steps a
 * statement that returns no row (0 or a QUEUE_E* code); step_row: 1 for a
 * row, 0 when done, or a QUEUE_E* code; bind_text: binds v (NULL binds SQL
 * NULL; v must outlive the step); column_dup: copies text column i into *out
 * (caller frees; NULL for SQL NULL). The caller resets the statement. */
int store__step_done(sqlite3_stmt *st);
int store__step_row(sqlite3_stmt *st);
int store__bind_text(sqlite3_stmt *st, int i, const char *v);
int store__column_dup(sqlite3_stmt *st, int i, char **out);

/* Binds id to ?1 of the prepared query st, steps it, and copies text column
 * 0 of its row into *out (caller frees). QUEUE_ENOENT when there is no row
 * or the value is NULL. Resets st. */
int store__text_by_id(sqlite3_stmt *st, int64_t id, char **out);

/* The job that holds Idempotency-Key key: *job_id, or 0 when the key is
 * unused. QUEUE_ECONFLICT when it was used with another request hash. */
int queue__idem_lookup(struct store *s, const char *key, const char *request_hash,
                       int64_t *job_id);

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

#endif /* TB_STORE_INT_H */
