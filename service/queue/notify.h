/*
 * notify.h - wake-ups from a shared queue (PostgreSQL LISTEN/NOTIFY).
 *
 * Several processes share one PostgreSQL queue: an API server that
 * computes nothing, workers on other machines. What one of them commits
 * (a new job, a tile given back, a job's progress or end) reaches the
 * others as a notification, sent by triggers (migrations/pg/0004_notify.sql)
 * in the committing transaction, so that an idle worker claims at once and
 * an event stream moves at once, without polling the tables. Two
 * channels: work (tiles may be claimable) and jobs (a job changed), so
 * that workers, which need only the first, are not woken by every saved
 * tile. The job changes of one read are delivered once per job. A SQLite
 * file has one process: nothing to listen to.
 *
 * A notifier holds its own connection, opened without blocking the loop
 * (PQconnectStart) and watched with a uv_poll. When it is lost, or
 * cannot be opened, it retries with backoff (0.2 s doubling to 5 s) and
 * says so in the log; while it is down notify_live() is 0 and the callers
 * fall back to their ticks. Each time it (re)starts listening it reports
 * NOTIFY_RESYNC, since what was committed meanwhile was not heard, and
 * when it loses a live connection NOTIFY_DOWN.
 *
 * Threads: loop thread only. Errors: 0 or a negative QUEUE_* code.
 * Ownership: the notifier is the caller's until notify_close(), which
 * frees it once its handles are closed; the target string is copied.
 */
#ifndef TB_NOTIFY_H
#define TB_NOTIFY_H

#include <stdint.h>

#include <uv.h>

struct notifier;

enum notify_what {
    NOTIFY_WORK,  /* tiles may be claimable: a new job, a tile given back */
    NOTIFY_JOB,   /* job job_id changed (progress, state, deletion) */
    NOTIFY_RESYNC, /* listening (again), or too much at once: anything may have changed */
    NOTIFY_DOWN    /* stopped listening (the connection was lost) */
};

/* Called on the loop thread for each notification (job_id 0 unless
 * NOTIFY_JOB). */
typedef void notify_fn(void *user, enum notify_what what, int64_t job_id);

/* The channels to listen to (a mask). */
#define NOTIFY_CH_WORK 1u /* NOTIFY_WORK */
#define NOTIFY_CH_JOBS 2u /* NOTIFY_JOB */

/* Starts listening on target (a postgresql:// URI) to channels (a mask;
 * 0: work). 0 with *out set, even when the server cannot be reached yet
 * (it keeps trying); QUEUE_ENOMEM. */
int notify_start(uv_loop_t *loop, const char *target, unsigned channels, notify_fn *cb,
                 void *user, struct notifier **out);

/* 1 while the notifier listens (its LISTEN was acknowledged). NULL: 0. */
int notify_live(const struct notifier *n);

/* Notifications received so far (for /metrics). NULL: 0. */
uint64_t notify_count(const struct notifier *n);

/* Stops listening and releases n (NULL is fine); no callback after this. */
void notify_close(struct notifier *n);

#endif /* TB_NOTIFY_H */
