/*
 * retention.h - the pruning timer: deletes finished jobs (with their tiles,
 * attempts and results) once they are older than the configured TTLs
 * (--retention-succeeded, --retention-failed; 0 keeps that class forever),
 * in small batches through queue_prune(), so no transaction holds the
 * write lock for long.
 *
 * Threads: loop thread only (a uv_timer_t on the loop, the loop's store).
 */
#ifndef TB_RETENTION_H
#define TB_RETENTION_H

#include <stdint.h>
#include <uv.h>

struct store;
struct retention;

#define RETENTION_BATCH 100      /* jobs per DELETE (one short transaction) */
#define RETENTION_MAX_BATCHES 10 /* batches per tick; the rest waits a tick */

/*
 * Starts the timer on loop with the loop's store (borrowed; outlives the
 * timer). TTLs in seconds, 0 = keep forever; with both 0 nothing starts and
 * *out is NULL. The tick is half the smallest TTL, clamped to 1..60 s, and
 * the first prune runs one tick after the start. *out is owned by the
 * caller: retention_close(). 0 or a negative UV_E*.
 */
int retention_start(uv_loop_t *loop, struct store *store, int64_t succeeded_s, int64_t failed_s,
                    struct retention **out);

/* Stops the timer; r is freed during the next loop iteration. NULL is fine. */
void retention_close(struct retention *r);

/* Runs one prune pass now (also what the timer does); returns the jobs
 * deleted, or a negative QUEUE_E* code. */
int retention_run(struct retention *r);

#endif /* TB_RETENTION_H */
