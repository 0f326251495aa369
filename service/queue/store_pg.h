/*
 * store_pg.h - private to the PostgreSQL backend (store_pg.c, queue_pg.c,
 * queue_study_pg.c) and its white-box unit tests: the backend's statement
 * primitives of struct sq_ops (queue_sql.h: libpq statements with bound
 * arguments, prepared once per connection, results in binary, rows read
 * through struct sq_cols), transactions that retry a deadlock or a
 * serialization failure, the SQLSTATE -> QUEUE_E* mapping, and what its
 * queue and study ops share. The connection itself is `struct store`
 * (queue_backend.h, the pg member of its union).
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

/* queue_study_pg.c: a study's cell done with its row (queue_backend.h). */
int pg_cell_finish(struct store *s, int64_t job_id, int64_t idx, const char *row_json,
                   int64_t now_ms);

/* ---- statements (store_pg.c): the sq_ops of queue_backend_pg ---------- */

/*
 * Statement (id, sql) - sql numbers the arguments a[0..n) $1, $2, ... or
 * ?1, ?2, ... (the shared SQL's form) - prepared on the connection on
 * first use (sql must be the same text on every call for that id, and
 * each argument keep its type: SQ_I and SQ_OPT are bigint, SQ_T text,
 * SQ_B bytea). Results come back in binary; rows are read through the
 * column readers of struct sq_cols. No result outlives the call. The rest
 * of the backend calls them through sq_exec() and sq_rows() (queue_sql.h).
 */
int pq_exec(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            int *changes);
int pq_rows(struct store *s, int id, const char *sql, const struct sq_arg *a, size_t n,
            sq_row_fn fn, void *ctx);

/*
 * One transaction: BEGIN, fn(s, ctx), COMMIT, or ROLLBACK when fn (or the
 * commit) fails. A deadlock, a serialization failure or a unique-key race
 * (another submit with the same Idempotency-Key committed first) runs it
 * again, a few times: fn must start from scratch on each call (reset what
 * it returns). Its result: fn's, or the commit's.
 */
int pq_tx(struct store *s, sq_tx_fn fn, void *ctx);

/* ---- shared by the queue and the study code (queue_pg.c) -------------- */

/* The status of job_id, locked (FOR NO KEY UPDATE) until the transaction
 * ends: the job row is always locked before its tiles. QUEUE_ENOENT if none. */
int pq_lock_job(struct store *s, int64_t job_id, enum job_status *status);

#endif /* TB_STORE_PG_H */
