/*
 * queue.h - the durable job queue: jobs of any kind (a `kind` name: sweep,
 * study, ...) split into tiles, tile leases with heartbeats, saved tile
 * labels, results. One set of tables and one claim, lease, heartbeat,
 * cancel, delete and retention path serve every kind; a study adds its
 * own rows (queue_study.h). This header is where the semantics of every
 * call are documented.
 *
 * Backends: everything the server and the workers do to jobs goes through
 * these calls on an opaque `struct store`, which dispatches to a database
 * backend (queue_backend.h: the ops table and the contract a backend
 * honours). SQLite is the one in this build; nothing outside its files
 * (store_sqlite.c, queue_sqlite.c, queue_study_sqlite.c) sees SQLite.
 *
 * Threads: a `struct store` is one database connection and belongs to
 * exactly one thread at a time (the loop thread has one; each worker
 * thread opens its own). Calls on different stores may run at once.
 *
 * Errors: 0, or a negative QUEUE_E* code. Every read-then-write runs in
 * BEGIN IMMEDIATE. Times are milliseconds since the Unix epoch, given by
 * the caller (so tests can drive the clock).
 *
 * Ownership: strings and arrays written into out-structs are owned by the
 * caller and released with the matching *_free(); input pointers are
 * borrowed for the call.
 */
#ifndef TB_QUEUE_H
#define TB_QUEUE_H

#include <stddef.h>
#include <stdint.h>

enum queue_status {
    QUEUE_OK = 0,
    QUEUE_ENOENT = -1,    /* no such job / nothing to claim */
    QUEUE_EFULL = -2,     /* max_queued reached: answer 429 */
    QUEUE_ECONFLICT = -3, /* idempotency key reused with another body: 422;
                             or a state that forbids the call: 409 */
    QUEUE_EBUSY = -4,     /* SQLITE_BUSY past the busy timeout: answer 503 */
    QUEUE_EIO = -5,       /* I/O error, corrupt file */
    QUEUE_EREADONLY = -6, /* database is read-only */
    QUEUE_ESCHEMA = -7,   /* database schema newer than this binary knows */
    QUEUE_ENOMEM = -8,
    QUEUE_ESTALE = -9,  /* the lease was lost: tile requeued or job canceled */
    QUEUE_EINVAL = -10, /* an argument breaks this contract (a caller bug: 500) */
    QUEUE_ENOSPC = -11, /* SQLITE_FULL: the disk (or the database's page limit) is full */
};
const char *queue_strerror(int code);

struct store;

/* Opens a connection to the database named by path (the --db value: a
 * SQLite file path, or a postgresql:// URI, see store_target_check()),
 * creating a SQLite file if needed; sets WAL, synchronous (FULL unless
 * `synchronous_normal`), busy_timeout_ms and foreign keys, and applies the
 * embedded migrations (loop thread only: pass migrate = 1 there, 0 on
 * worker connections). *out is owned by the caller: store_close().
 * QUEUE_ESCHEMA also when migrate = 0 finds an older schema than this binary
 * needs. A database file without any write permission bit is opened
 * read-only (even by root): reads work, writes answer QUEUE_EREADONLY.
 * QUEUE_EINVAL for a target no backend of this build serves. */
int store_open(const char *path, int migrate, int busy_timeout_ms, int synchronous_normal,
               struct store **out);
/* store_open(), and when it fails, why (why_cap bytes; may be NULL) holds
 * the engine's reason on one line ("connection refused", "password
 * authentication failed"), or "" when it has none. */
int store_open_why(const char *path, int migrate, int busy_timeout_ms, int synchronous_normal,
                   struct store **out, char *why, size_t why_cap);
void store_close(struct store *s);
/* 1 when s (or the database target names) is a server that processes on
 * many hosts share (PostgreSQL): a lease in it may be a live process's,
 * so start-up recovery requeues only leases expired by the clock. 0 for a
 * SQLite file, which one process owns: every lease in it at start-up is a
 * dead process's. */
int store_shared(struct store *s);
int store_target_shared(const char *target);
/* 1 while s's connection is up (always, for a SQLite file); 0 once the
 * server is lost: calls fail with QUEUE_EIO until store_reconnect(s)
 * succeeds. store_reconnect() opens the connection again in place
 * (blocking up to the connect timeout, 10 s): 0, or QUEUE_EIO with
 * store_errmsg() saying why. Same thread rules as every call on s. */
int store_connected(struct store *s);
int store_reconnect(struct store *s);
/* NULL when store_open() can open target with a backend of this build;
 * else a one-line reason (static). For config checks before anything
 * opens. */
const char *store_target_check(const char *target);
/* target as it may be logged: a URI's password (user:PASSWORD@, or a
 * password= parameter) written as ***. Into buf (cap bytes, truncated);
 * returns buf. */
const char *store_target_redact(const char *target, char *buf, size_t cap);
/* The schema version of the database (SQLite: PRAGMA user_version), and
 * the highest version this binary embeds. */
int store_schema_version(struct store *s, int *version);
int store_known_version(void);
/* 0 if the database answers and is writable (for /readyz). */
int store_check_writable(struct store *s);
/* The last SQLite message on this connection, for logs next to a failed
 * call's code. Borrowed: valid until the next call on s. Never NULL. */
const char *store_errmsg(struct store *s);

enum job_status { JOB_QUEUED, JOB_RUNNING, JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELED };
const char *job_status_name(enum job_status st);
int job_status_parse(const char *name, enum job_status *out); /* 0 or QUEUE_ENOENT */

/* A job's kind is a name stored with it (jobs.kind, migrations/0003): the
 * queue keeps it and hands it back, so that callers dispatch on it without
 * parsing the spec. 1..QUEUE_KIND_MAX-1 characters of [a-z0-9_]. */
#define QUEUE_KIND_MAX 16
#define QUEUE_KIND_SWEEP "sweep" /* queue_enqueue()'s default */
#define QUEUE_KIND_STUDY "study" /* queue_enqueue_study() (queue_study.h) */

struct job {
    int64_t id;
    enum job_status status;
    char kind[QUEUE_KIND_MAX]; /* "sweep", "study", ... */
    char *name;                /* owned; may be NULL */
    char *spec_json;           /* owned: the canonical spec */
    uint64_t points_total, points_done;
    int64_t tiles_total, tiles_done;
    int64_t created_ms, started_ms, finished_ms; /* 0 when not yet */
    int64_t revision;                            /* bumps on every change: the weak ETag */
    char *error;                                 /* owned; failure reason, or NULL */
    char *summary_json; /* owned; when succeeded: {dimension, stderr, ...} */
};
void job_free(struct job *j); /* frees the members, not j itself */

struct queue_submit {
    const char *spec_json;    /* canonical spec (borrowed) */
    const char *name;         /* may be NULL */
    uint64_t points;          /* grid points */
    uint64_t tile_points;     /* points per tile, a multiple of 64 */
    const char *idem_key;     /* Idempotency-Key header, or NULL */
    const char *request_hash; /* hash of the canonical spec, for the key */
    int64_t max_queued;       /* queued + running jobs allowed; <= 0: no limit */
};

/* Inserts a queued job and its tiles in one transaction (durable before the
 * call returns). With an idempotency key already used for the same request
 * hash, returns the original job and sets *replayed = 1; for another hash,
 * QUEUE_ECONFLICT. A kind that is not a valid name: QUEUE_EINVAL. */
int queue_enqueue(struct store *s, const struct queue_submit *sub, int64_t now_ms, struct job *out,
                  int *replayed);
/* queue_enqueue() for a job of another kind whose tiles are runs of points
 * like a sweep's (queue_enqueue is kind QUEUE_KIND_SWEEP). */
int queue_enqueue_kind(struct store *s, const char *kind, const struct queue_submit *sub,
                       int64_t now_ms, struct job *out, int *replayed);
/* At most this many tiles per job (one row each): choose tile_points so
 * that ceil(points / tile_points) stays below it, else QUEUE_EINVAL, as for
 * tile_points 0 or not a multiple of 64, or points 0. out and replayed may
 * be NULL. */
#define QUEUE_MAX_TILES (INT64_C(1) << 20)

struct tile_claim {
    int64_t job_id;
    int64_t idx;               /* tile index within the job */
    uint64_t begin;            /* first grid point */
    uint64_t count;            /* points */
    int attempt;               /* 1 on the first lease of this tile */
    char *spec_json;           /* owned: the job's canonical spec, or for a study its
                                  cell's (queue_study.h) */
    int64_t cell;              /* the study cell of the tile; -1 for a sweep */
    char kind[QUEUE_KIND_MAX]; /* the job's kind */
};
void tile_claim_free(struct tile_claim *c);

/* Leases the next pending tile, fairly across jobs: the job that has had
 * the fewest tiles leased so far among runnable jobs (ties: oldest job)
 * goes first, so a huge job cannot starve a small one. Marks the job
 * running. QUEUE_ENOENT when nothing is pending. */
int queue_claim(struct store *s, int64_t now_ms, int64_t lease_ms, struct tile_claim *out);

/* Extends a held lease. QUEUE_ESTALE if the lease is gone (expired and
 * requeued, or the job canceled/deleted): the worker should stop. */
int queue_heartbeat(struct store *s, int64_t job_id, int64_t idx, int attempt, int64_t until_ms);

/* Saves a finished tile's labels (tb_label_words(count) words, little-endian
 * on disk) idempotently, keyed by (job, tile, attempt): a stale attempt
 * gets QUEUE_ESTALE and changes nothing. Adds to points_done. Sets
 * *job_complete = 1 when this was the last tile. Repeating the call of the
 * attempt that saved the tile changes nothing and returns 0, with
 * *job_complete = 1 while the job still waits for queue_complete (so a
 * retried call cannot lose the completion). count must be the tile's count
 * (QUEUE_EINVAL otherwise). */
int queue_finish_tile(struct store *s, int64_t job_id, int64_t idx, int attempt,
                      const uint64_t *labels, uint64_t count, uint64_t divergent,
                      uint64_t lane_steps, int64_t now_ms, int *job_complete);

/* Returns leased tiles whose lease ended before now_ms to pending; a tile
 * whose lease was lost max_attempts times (expired attempts; released ones
 * do not count) fails its job with a stored reason.
 * *requeued = tiles returned. Also used at start-up with now_ms = +inf-ish
 * to recover every lease of a previous process. max_attempts <= 0: no limit.
 * The reason reads like "tile 3 failed 3 attempts (worker lost)". */
int queue_requeue_expired(struct store *s, int64_t now_ms, int max_attempts, int *requeued);

/* Returns a tile leased by this attempt to pending without counting the
 * attempt as lost: for a graceful shutdown that stopped the tile before it
 * finished (its worker no longer runs). The attempt is logged as
 * ATTEMPT_ABANDONED, so max_attempts (which counts ATTEMPT_EXPIRED leases
 * only) is not used up, and the next claim leases the tile again with the
 * next attempt number. QUEUE_ESTALE if this attempt no longer holds the
 * lease (saved, requeued, or the job ended). One transaction. */
int queue_release(struct store *s, int64_t job_id, int64_t idx, int attempt, int64_t now_ms);

/*
 * The one labels loader: the labels of points [first, first + n) into bits
 * (caller-allocated, tb_label_words(n) words; bit 0 = point first; tiles
 * that straddle the range's ends contribute their part), either of a job's
 * points (cell < 0: its tiles' points, a sweep's grid once per replicate)
 * or of study cell `cell`'s points (its own tiles, or those of the cell it
 * duplicates; queue_study.h). first = n = 0 means every point. One
 * replicate r of a job (or cell) with several is first = r * grid points,
 * n = grid points.
 * A job's tiles not saved yet read as 0 (bounded); a cell must have every
 * tile in the range saved, else QUEUE_EIO (as for a stored tile that does
 * not fit). QUEUE_EINVAL when the range is not within the points;
 * QUEUE_ENOENT when there is no such job or cell.
 */
int queue_labels(struct store *s, int64_t job_id, int64_t cell, uint64_t first, uint64_t n,
                 uint64_t *bits);
/* queue_labels(s, job_id, -1, 0, 0, bits): every saved label of a job
 * (tb_label_words(points_total) words). */
int queue_load_labels(struct store *s, int64_t job_id, uint64_t *bits);
/* queue_labels(s, job_id, -1, first, n, bits): sweep points [first,
 * first + n) of a job. */
int queue_load_range(struct store *s, int64_t job_id, uint64_t first, uint64_t n, uint64_t *bits);

/* Marks a running job succeeded with its result document and summary. */
int queue_complete(struct store *s, int64_t job_id, const char *result_json,
                   const char *summary_json, int64_t now_ms);
/* Marks a job failed with a reason (non-retryable). */
int queue_fail(struct store *s, int64_t job_id, const char *reason, int64_t now_ms);

/* Cancels a queued or running job (QUEUE_ECONFLICT if already finished);
 * running tiles notice through queue_heartbeat/queue_finish_tile -> ESTALE.
 * out (may be NULL) receives the canceled job. */
int queue_cancel(struct store *s, int64_t job_id, int64_t now_ms, struct job *out);
/* Removes a job and its tiles and result (cancels first if needed). */
int queue_delete(struct store *s, int64_t job_id);

int queue_get(struct store *s, int64_t job_id, struct job *out);
/* Just the kind of job job_id into kind (QUEUE_ENOENT if none). */
int queue_get_kind(struct store *s, int64_t job_id, char kind[QUEUE_KIND_MAX]);
/* The stored result document (caller frees); QUEUE_ENOENT if none. */
int queue_get_result(struct store *s, int64_t job_id, char **result_json);

/* Newest first. status may be NULL (all). cursor 0 = from the newest;
 * else jobs with id < cursor. Writes up to limit jobs to out (caller array,
 * free each with job_free), *n of them, and *next_cursor (0 when no more). */
int queue_list(struct store *s, const enum job_status *status, int64_t cursor, int limit,
               struct job *out, int *n, int64_t *next_cursor);

/* Jobs per state (array indexed by enum job_status), for metrics/backpressure. */
int queue_counts(struct store *s, int64_t counts[5]);

/* Retention (call from a timer): deletes up to batch finished jobs, with
 * their tiles, attempts and result, oldest first, in one short transaction:
 * succeeded jobs that finished before succeeded_before_ms, failed and
 * canceled ones that finished before failed_before_ms (a cutoff <= 0 keeps
 * that class). *deleted = jobs removed; call again while it equals batch. */
int queue_prune(struct store *s, int64_t succeeded_before_ms, int64_t failed_before_ms, int batch,
                int *deleted);

/* The lease log, one entry per attempt ever granted. */
enum attempt_outcome {
    ATTEMPT_LEASED,    /* still held */
    ATTEMPT_DONE,      /* its labels were saved */
    ATTEMPT_EXPIRED,   /* requeued by queue_requeue_expired (worker lost) */
    ATTEMPT_ABANDONED, /* the job was canceled or failed while it was held, or a
                          graceful shutdown released it (queue_release) */
};
struct tile_attempt {
    int64_t job_id, idx;
    int attempt;
    int64_t leased_ms, ended_ms; /* ended_ms 0 while leased */
    enum attempt_outcome outcome;
};
/* Writes up to cap attempts of a job to out (caller array), ordered by
 * (idx, attempt), and *n of them. For tests, forensics and crash checks;
 * QUEUE_ENOENT if the job does not exist. */
int queue_tile_attempts(struct store *s, int64_t job_id, struct tile_attempt *out, int cap, int *n);

#endif /* TB_QUEUE_H */
