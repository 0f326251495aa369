/*
 * queue_backend.h - the storage seam behind queue.h and queue_study.h: the
 * table of functions a database backend implements, and the layout of
 * `struct store` (one connection of one backend). Included by the
 * dispatch layer (store.c, queue.c, queue_study.c), the shared SQL
 * (queue_sql.c, queue_study_sql.c) and the backends; callers never see
 * it: they hold an opaque `struct store *` and call queue.h /
 * queue_study.h, which check their arguments, do what does not depend on
 * the database (label encoding and assembly, names, frees) and dispatch
 * the rest: what every backend runs with the same SQL to queue_sql.h's
 * sq_* (on the statement primitives of the table's `sql`), what each runs
 * its own way through s->ops.
 *
 * Backends: "sqlite" (store_sqlite.c, queue_sqlite.c, queue_study_sqlite.c)
 * for a plain path, and "postgresql" (libpq, issue 15: store_pg.c,
 * queue_pg.c, queue_study_pg.c) for a postgresql:// or postgres:// URI;
 * store_open() chooses by the list in store.c. Each has its own member of
 * the union in struct store; nothing above this header knows which one it
 * talks to. Both number their schema versions alike (migrations/ and
 * migrations/pg/ one for one), so a version means the same tables.
 *
 * THE CONTRACT a backend honours (the semantics of every call are those
 * documented in queue.h and queue_study.h; this is what comes on top):
 *
 *  - Threads: one connection per `struct store`, used by one thread at a
 *    time (the loop thread has one, every worker and reader thread opens
 *    its own). A backend keeps no global mutable state; calls on different
 *    stores run at the same time, from different threads and processes,
 *    and the database serializes them.
 *  - Errors: 0, or a negative QUEUE_E* code (queue.h), never the engine's
 *    own codes: busy or locked past busy_timeout_ms = QUEUE_EBUSY (the
 *    server answers 503); a read-only database or connection =
 *    QUEUE_EREADONLY; out of space = QUEUE_ENOSPC (507); a schema this
 *    binary does not know = QUEUE_ESCHEMA; a lost lease = QUEUE_ESTALE;
 *    anything else the store cannot do = QUEUE_EIO. After a failure,
 *    errmsg() gives the engine's text for the log.
 *  - Transactions: every op below is atomic: it commits as a whole or
 *    changes nothing, and a read-then-write takes its write locks before
 *    it reads (SQLite: BEGIN IMMEDIATE; PostgreSQL: SELECT ... FOR UPDATE,
 *    SKIP LOCKED for the claim). No transaction, cursor or statement
 *    outlives the op: the next op may come from the same thread at once.
 *  - Durability: enqueue, enqueue_study, cancel, delete and complete are
 *    durable when they return (sync_full: fsync'd; SQLite synchronous =
 *    FULL, PostgreSQL synchronous_commit = on). claim, heartbeat,
 *    finish_tile, release and requeue_expired may be lighter (SQLite:
 *    synchronous = NORMAL, PostgreSQL: synchronous_commit = off): a power
 *    cut only lets a tile be computed again.
 *  - Values: every value reaches the database through a bound parameter.
 *    Times are the caller's now_ms. Labels are stored exactly as the
 *    dispatcher hands them over (queue__labels_encode(): tb_label_words()
 *    64-bit words, little-endian) and handed back the same way.
 *  - Output structs: the dispatcher has zeroed them before the op and
 *    frees them when the op fails; strings the op puts there are malloc'd.
 *  - Kinds: jobs.kind is a name (queue.h QUEUE_KIND_*); the queue stores
 *    it and returns it, and never branches on it except where a study's
 *    own rows are (the study ops, cell tiles).
 */
#ifndef TB_QUEUE_BACKEND_H
#define TB_QUEUE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "queue.h"
#include "queue_study.h"

/* How store_open() was asked to open the connection. */
struct store_options {
    int migrate;         /* 1: apply the migrations (the loop thread); 0: refuse an older schema */
    int busy_timeout_ms; /* wait this long for a lock, then QUEUE_EBUSY */
    int sync_full;       /* 1: durable commits (the accepting connection) */
    char *why;           /* NULL, or where open() writes why it failed (the engine's text:
                            "connection refused", "password authentication failed") */
    size_t why_cap;      /* bytes at why */
};

/* One tile of a labels load (sq_scan_tiles, queue_sql.h). Borrowed for the call. */
struct queue_tile_row {
    uint64_t points;             /* points of the job (cell < 0) or of the cell */
    int has_tile;                /* 0: the row only carries `points` (no tile) */
    int done;                    /* the tile's labels are saved */
    uint64_t begin, count;       /* the tile's points [begin, begin + count) */
    const unsigned char *labels; /* when done: the stored words; else NULL */
    size_t len;                  /* bytes at labels */
};
/* Called once per row; 0 goes on, a QUEUE_E* code stops the scan with it. */
typedef int (*queue_tile_fn)(void *ctx, const struct queue_tile_row *row);

struct sq_ops; /* queue_sql.h */

struct queue_backend {
    const char *name; /* "sqlite": for logs */
    /* 1: a server that processes on many hosts share (PostgreSQL), so a
     * lease in it may belong to a live process elsewhere; 0: one process
     * owns the database (a SQLite file), so at its start-up every lease in
     * it is a dead process's (store_shared()). */
    int shared;

    /* ---- the connection (store_* of queue.h) ---- */
    /* target: the --db value (a path; a URI for a server backend). On
     * success *out has ops set to this table. */
    int (*open)(const char *target, const struct store_options *o, struct store **out);
    void (*close)(struct store *s);
    int (*schema_version)(struct store *s, int *version);
    int (*known_version)(void);
    int (*check_writable)(struct store *s);
    const char *(*errmsg)(struct store *s);
    /* A server backend: 1 while the connection is up, 0 once it is lost
     * (the server went away); reconnect() opens it again in place (the
     * session settings of open() restored), 0 or QUEUE_EIO with errmsg()
     * saying why. NULL for a file backend: always connected. */
    int (*connected)(struct store *s);
    int (*reconnect)(struct store *s);

    /* ---- the statements the shared SQL runs on (queue_sql.h) ---- */
    const struct sq_ops *sql;

    /* ---- jobs, tiles, leases (queue.h): what each backend runs its own
     * way. Submits, heartbeats, the labels scan and the reads are
     * queue_sql.h's, the same SQL on every backend. ---- */
    int (*claim)(struct store *s, int64_t now_ms, int64_t lease_ms, struct tile_claim *out);
    /* labels: len bytes from queue__labels_encode(); count > 0. */
    int (*finish_tile)(struct store *s, int64_t job_id, int64_t idx, int attempt,
                       const unsigned char *labels, size_t len, uint64_t count, uint64_t divergent,
                       uint64_t lane_steps, int64_t now_ms, int *job_complete);
    /* A tile whose lost leases reach max_attempts fails its job with
     * queue__lost_reason()'s text. */
    int (*requeue_expired)(struct store *s, int64_t now_ms, int max_attempts, int *requeued);
    int (*release)(struct store *s, int64_t job_id, int64_t idx, int attempt, int64_t now_ms);
    int (*complete)(struct store *s, int64_t job_id, const char *result_json,
                    const char *summary_json, int64_t now_ms);
    /* queue_fail (to = JOB_FAILED, reason set) and queue_cancel (to =
     * JOB_CANCELED, reason NULL); out may be NULL. */
    int (*stop)(struct store *s, int64_t job_id, enum job_status to, const char *reason,
                int64_t now_ms, struct job *out);
    int (*remove)(struct store *s, int64_t job_id);

    /* ---- what a kind with its own rows adds (queue_study.h) ---- */
    /* A study's cell done with its row, while its job is active. */
    int (*cell_finish)(struct store *s, int64_t job_id, int64_t idx, const char *row_json,
                       int64_t now_ms);
};

extern const struct queue_backend queue_backend_sqlite; /* queue_sqlite.c */
extern const struct queue_backend queue_backend_pg;     /* queue_pg.c */

/* Slots of the SQLite backend's prepared-statement cache (store_int.h). */
#define STORE_MAX_STMTS 96

struct sqlite3;
struct sqlite3_stmt;
struct pg_conn; /* libpq's PGconn */

/*
 * One connection. `ops` names the backend and which member of the union
 * is live; the fields before the union mean the same for every backend.
 */
struct store {
    const struct queue_backend *ops; /* never NULL on an open store */
    int readonly;                    /* opened read-only: reads work, writes QUEUE_EREADONLY */
    int busy_timeout_ms;             /* lock waits give up after this (QUEUE_EBUSY) */
    int sync_full;                   /* opened for durable commits */
    char errmsg[200];                /* the engine's message of the failure that rolled back
                                        the current op; "" when none */
    union {
        struct {                /* ops == &queue_backend_sqlite (store_sqlite.c) */
            struct sqlite3 *db; /* owned; closed by close() */
            struct sqlite3_stmt *begin, *commit, *rollback; /* owned, prepared at open */
            struct sqlite3_stmt *stmt[STORE_MAX_STMTS];     /* owned, prepared on first use */
        };
        struct {                /* ops == &queue_backend_pg (store_pg.c) */
            struct pg_conn *pg; /* owned; PQfinish'd by close() */
            uint64_t pg_prepared[(STORE_MAX_STMTS + 63) / 64]; /* bit i: statement i is
                                                                  prepared on pg */
            char pg_state[6]; /* SQLSTATE of the last failure, "" when none */
        };
    };
};

/* ---- shared by every backend (queue.c) ---- */

/* The stored form of count labels: tb_label_words(count) words,
 * little-endian, the bits past count cleared. *out is malloc'd. */
int queue__labels_encode(const uint64_t *labels, uint64_t count, unsigned char **out, size_t *len);
/* words little-endian 64-bit words from b into out. */
void queue__labels_decode(const unsigned char *b, uint64_t words, uint64_t *out);
/* The reason a job fails with when tile idx lost `lost` leases:
 * "tile 3 failed 3 attempts (worker lost)". */
void queue__lost_reason(char *buf, size_t cap, int64_t idx, int lost);
/* Frees strings[0..n) (members of row) and clears the size bytes of row:
 * the body of every *_free() of queue.h and queue_study.h. */
void queue__free_fields(void *row, size_t size, char *const *strings, size_t n);
/* Copies a kind name read from the database into kind; QUEUE_EIO when it
 * is not a valid name. */
int queue__kind_copy(char kind[QUEUE_KIND_MAX], const char *name);

#endif /* TB_QUEUE_BACKEND_H */
