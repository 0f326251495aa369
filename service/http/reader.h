/*
 * reader.h - the reader thread: runs long read-only store work (a job's
 * whole labels for /boundary, boundary.h) off the loop thread, so that
 * the loop keeps answering every other request while it runs.
 *
 * One thread, its own `struct store` (opened on that thread at its first
 * task, without migrations; reopened at the next task if that failed), a
 * FIFO of tasks, and a uv_async_t that hands finished tasks back to the
 * loop. Not the libuv pool: its threads are the tile workers (pool.h),
 * and a download must not wait behind a tile.
 *
 * Ownership: a task is the caller's memory; the reader borrows it from
 * reader_submit() until its done() has run, exactly once, on the loop
 * thread. done's rc: 0 after work() ran; the QUEUE_E* code of store_open()
 * when the reader's store could not be opened (work() did not run);
 * READER_ECANCELED when reader_close() dropped the task before it ran.
 * Errors: 0 or a negative code.
 *
 * Threads: reader_start(), reader_submit(), reader_close() and every
 * done(): the loop thread. work(): the reader thread.
 */
#ifndef TB_READER_H
#define TB_READER_H

#include <uv.h>

struct store;
struct reader;

/* done()'s rc for a task that reader_close() dropped unrun (outside the
 * QUEUE_E* range). */
#define READER_ECANCELED (-100)

struct reader_task {
    void (*work)(struct reader_task *t, struct store *s); /* reader thread */
    void (*done)(struct reader_task *t, int rc);          /* loop thread */
    struct reader_task *next;                             /* the reader's */
    int rc;                                               /* the reader's: done's rc */
};

/* Starts the thread. db_path is copied. *out is owned by the caller:
 * reader_close(). Returns 0 or a negative UV_E* code. */
int reader_start(uv_loop_t *loop, const char *db_path, int busy_timeout_ms, struct reader **out);

/* Queues t (its work and done set). 0, or READER_ECANCELED once
 * reader_close() began (t is not taken). */
int reader_submit(struct reader *r, struct reader_task *t);

/* Stops the thread: tasks not yet started get done(READER_ECANCELED),
 * the running one finishes (this waits for it) and gets its done(), and
 * so do finished ones not yet handed back. The thread and its store are
 * gone when this returns; r is freed once its handle closed (during the
 * next loop iteration). NULL is ignored. */
void reader_close(struct reader *r);

#endif /* TB_READER_H */
