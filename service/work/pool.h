/*
 * pool.h - the worker pool: the dispatcher that claims tiles from the
 * queue, the libuv thread pool that computes them with the core, and the
 * final analysis of a job once its last tile is saved.
 *
 * Design (service-notes.md section 5, "one owner thread"):
 * - The loop thread owns the pool, the dispatcher and the loop's `struct
 *   store`. It claims tiles (queue_claim, fair across jobs) and keeps at
 *   most `workers` tasks in flight with uv_queue_work(); the thread pool
 *   has exactly `workers` threads (UV_THREADPOOL_SIZE, set by serve.c
 *   before any libuv call), so the rest of the work waits in SQLite.
 * - A tile task runs its kind's tile function on a pool thread with that thread's
 *   own `struct store` (opened on first use, kept in a uv_key_t), renews
 *   its lease from the progress callback at most once a second, and saves
 *   its labels with queue_finish_tile(). A task that reports no progress
 *   for a third of the lease (huge dimensions) is renewed by the loop.
 *   Cancel is an atomic flag per task, raised by pool_cancel_job(), by a
 *   stale lease (QUEUE_ESTALE) and by shutdown.
 * - When the last tile of a job lands, an analysis task (also on the
 *   pool) loads the labels, encodes the result with the codec and stores
 *   it with a summary; at start-up and every few seconds, running jobs
 *   whose tiles are all done but that have no result are analysed too
 *   (a crash between the last tile and the result).
 * - A maintenance timer requeues expired leases and re-runs the dispatcher;
 *   once the owner says that wake-ups arrive (pool_notified: a shared
 *   PostgreSQL queue's notifications, notify.h), new work comes through
 *   pool_kick() and the tick claims only after a failed claim.
 * - A lost database connection (a PostgreSQL server that went away): the
 *   dispatcher claims nothing and the tick reconnects the loop's store
 *   with backoff; a running tile computes on, its thread reconnects its
 *   own store (from the heartbeat, and when the tile is done, waiting up
 *   to a lease plus a minute), then renews or saves under the lease if it
 *   is still this attempt's, or drops the tile if not (QUEUE_ESTALE).
 *   Every try is logged ("db_reconnect").
 *
 * Threads: every function here is for the loop thread.
 */
#ifndef TB_POOL_H
#define TB_POOL_H

#include <stdint.h>
#include <uv.h>

#include "notify.h"
#include "queue.h"
#include "tb.h"

struct pool;

struct pool_config {
    const char *db_path; /* borrowed; must outlive the pool */
    int workers;         /* tasks in flight = libuv pool threads */
    int lease_ms;        /* tile lease length */
    int max_attempts;    /* for queue_requeue_expired() */
    int busy_timeout_ms; /* of the worker connections */
    /* Called on the loop thread when a job changed: it started, a tile of
     * `points` points was saved, it was analysed or failed (points 0).
     * For event streams and metrics; may be NULL. */
    void (*on_change)(void *user, int64_t job_id, uint64_t points);
    void *on_change_user;
};

/* Creates the pool on loop with the loop's store (borrowed; outlives the
 * pool). Analyses leftover finished jobs and starts dispatching. *out is
 * owned by the caller: pool_close(). Returns 0 or a negative UV_E*. */
int pool_start(uv_loop_t *loop, struct store *loop_store, const struct pool_config *cfg,
               struct pool **out);

/* Asks the dispatcher to claim work soon (after a submit). */
void pool_kick(struct pool *p);

/* A notification from the shared queue (notify.h): NOTIFY_WORK kicks the
 * dispatcher; NOTIFY_RESYNC (the notifier listens) kicks it and stops the
 * maintenance tick's claim polling, since every change that makes tiles
 * claimable is announced from now on; NOTIFY_DOWN turns the polling back
 * on. NOTIFY_JOB is not the pool's. NULL p: nothing. */
void pool_notified(struct pool *p, enum notify_what what);

/* Queues an analysis of the job now (a study whose cells were taken from
 * the store has rows to store, or nothing left to compute). */
void pool_analyze_job(struct pool *p, int64_t job_id);

/* Raises the cancel flag of every running tile of the job. */
void pool_cancel_job(struct pool *p, int64_t job_id);

/* Tile and analysis tasks in flight: running, or claimed and queued behind
 * a running one (the pool claims up to one tile ahead per worker). */
int pool_in_flight(const struct pool *p);

/*
 * Graceful stop: no more claims; running tiles may finish for timeout_ms,
 * then they are canceled and their leases released with queue_release()
 * (not counted as lost attempts), as are tiles that had not started.
 * done(user) is called once nothing is in flight. A second call cancels
 * the running tiles at once.
 */
void pool_drain(struct pool *p, int64_t timeout_ms, void (*done)(void *user), void *user);

/* After the drain finished: closes the pool's handles and worker
 * connections; p is freed during the next loop iteration. */
void pool_close(struct pool *p);


#endif /* TB_POOL_H */
