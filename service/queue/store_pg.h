/*
 * store_pg.h - private to the PostgreSQL backend (store_pg.c, queue_pg.c,
 * queue_study_pg.c) and its white-box unit tests: libpq statements with
 * bound arguments (prepared once per connection, results in binary),
 * column readers, transactions that retry a deadlock or a serialization
 * failure, and the SQLSTATE -> QUEUE_E* mapping. The connection itself is
 * `struct store` (queue_backend.h, the pg member of its union).
 *
 * Threads: like a `struct store`, whoever owns the store owns these calls.
 */
#ifndef TB_STORE_PG_H
#define TB_STORE_PG_H

#include <libpq-fe.h>
#include <stddef.h>

#include "embed.h"
#include "queue.h"
#include "queue_backend.h"
#include "queue_sql.h"

/* migrations/pg/NNNN_name.sql, embedded (the Makefile's gen/pg_migrations.c). */
extern const struct embed_file pg_migrations_files[];
extern const size_t pg_migrations_count;

/* ---- the connection ops of queue_backend_pg (queue_pg.c lists them) ---- */

/* target: a libpq connection URI (postgresql://user@host:port/db?...). */
int store_pg_open(const char *target, const struct store_options *o, struct store **out);
void store_pg_close(struct store *s);
int store_pg_schema_version(struct store *s, int *version);
int store_pg_known_version(void);
int store_pg_check_writable(struct store *s);
const char *store_pg_errmsg(struct store *s);
int store_pg_connected(struct store *s);
int store_pg_reconnect(struct store *s);

/* queue_study_pg.c: the studies and cells rows. */
extern const struct queue_study_backend queue_study_pg;

/* ---- statements (store_pg.c) ------------------------------------------- */

/*
 * Statement (id, sql) - sql uses $1, $2, ... for the arguments a[0..n) -
 * prepared on the connection on first use (sql must be the same text on
 * every call for that id, and each argument keep its type: SQ_I and SQ_OPT
 * are bigint, SQ_T text, SQ_B bytea). Results come back in binary; the
 * readers below decode them. No result outlives the call.
 */
/* Runs it; *changes (may be NULL) = the rows it changed (or returned). */
int pq_exec(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            int *changes);
/* Reads row `row` of r: 0 goes on, SQ_STOP ends the rows without an error,
 * a QUEUE_E* code ends them with it. */
typedef int (*pq_row_fn)(const PGresult *r, int row, void *ctx);
/* Calls fn for every row, in order, until it stops; 0 or the first error. */
int pq_rows(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            pq_row_fn fn, void *ctx);
/* The same for the first row only; QUEUE_ENOENT when there is none. */
int pq_row(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n, pq_row_fn fn,
           void *ctx);
/* Integer column 0 of the first row (NULL reads 0); QUEUE_ENOENT: no row. */
int pq_int(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n, int64_t *v);
/* Text column 0 of the first row into *out (caller frees); QUEUE_ENOENT
 * when there is no row or the value is NULL. */
int pq_text(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n, char **out);

/* Column readers of a binary result. pq_col_int: bigint, integer,
 * smallint or boolean, 0 for NULL; pq_col_str: text, "" for NULL
 * (borrowed from r); pq_col_dup: a malloc'd copy (NULL for NULL). */
int pq_col_null(const PGresult *r, int row, int col);
int64_t pq_col_int(const PGresult *r, int row, int col);
const char *pq_col_str(const PGresult *r, int row, int col);
int pq_col_dup(const PGresult *r, int row, int col, char **out);
/* pq_col_dup of columns cols[0..n) into *outs[0..n), up to the first error. */
int pq_col_dups(const PGresult *r, int row, const int *cols, char **const *outs, size_t n);
/* A row's integer columns into a struct's 64-bit fields: for each map
 * entry, pq_col_int(col) is stored at base + off (an int64_t or uint64_t). */
struct pq_col {
    size_t off;
    int col;
};
void pq_col_ints(const PGresult *r, int row, void *base, const struct pq_col *map, size_t n);

/*
 * One transaction: BEGIN, fn(s, ctx), COMMIT, or ROLLBACK when fn (or the
 * commit) fails. A deadlock, a serialization failure or a unique-key race
 * (another submit with the same Idempotency-Key committed first) runs it
 * again, a few times: fn must start from scratch on each call (reset what
 * it returns). Its result: fn's, or the commit's.
 */
typedef int (*pq_tx_fn)(struct store *s, void *ctx);
int pq_tx(struct store *s, pq_tx_fn fn, void *ctx);

/* ---- shared by the sweep and the study code (queue_pg.c) -------------- */

/*
 * Inside a submit's transaction (pq_tx): checks an Idempotency-Key (used
 * with the same request hash: *job_id = the original job, *replayed = 1;
 * with another hash: QUEUE_ECONFLICT), else the backpressure (max_queued
 * > 0: QUEUE_EFULL at that many queued + running jobs, counted under a
 * transaction-scoped advisory lock so that concurrent submits count one
 * after another), leaving *job_id 0 for the caller to insert.
 */
int pq_admit(struct store *s, const char *idem_key, const char *request_hash, int64_t max_queued,
             int64_t *job_id, int *replayed);
/* A new jobs row; its id in *job_id. */
int pq_insert_job(struct store *s, const struct sq_job_row *r, int64_t now_ms, int64_t *job_id);
/* Pending tiles first_idx .. first_idx + tiles - 1 of job_id over points
 * [0, points) of the job (cell < 0) or of cell `cell`, in runs of
 * tile_points: one statement. */
int pq_insert_tiles(struct store *s, int64_t job_id, int64_t first_idx, int64_t cell,
                    uint64_t points, uint64_t tile_points, int64_t tiles);
/* Job id into out (owned by the caller); QUEUE_ENOENT if none. */
int pq_load_job(struct store *s, int64_t job_id, struct job *out);
/* The status of job_id, locked (FOR NO KEY UPDATE) until the transaction
 * ends: the job row is always locked before its tiles. QUEUE_ENOENT if none. */
int pq_lock_job(struct store *s, int64_t job_id, enum job_status *status);

#endif /* TB_STORE_PG_H */
