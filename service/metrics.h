/*
 * metrics.h - the counters behind GET /metrics (Prometheus text format
 * 0.0.4): HTTP requests by route and code, request durations by route
 * (histogram), SQLite busy answers, points computed (a counter and a
 * per-second gauge over the last 10 s). Gauges read at scrape time (jobs
 * by state, queue depth, running tiles, SSE clients) are passed in.
 *
 * Threads: loop thread only. Owns its tables; no allocation after
 * metrics_new() except in metrics_render().
 */
#ifndef TB_METRICS_H
#define TB_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct metrics;

/* NULL on ENOMEM. Freed by metrics_free(). */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* One finished request: route template (static string, or NULL for an
 * unmatched path), status code and duration. Every function accepts a
 * NULL m and then does nothing. */
void metrics_request(struct metrics *m, const char *route, int status, double seconds);

/* The store answered QUEUE_EBUSY (SQLite busy past its timeout). */
void metrics_busy(struct metrics *m);

/* n grid points were computed (a tile landed), at monotonic time now_ms. */
void metrics_points(struct metrics *m, uint64_t n, int64_t now_ms);

/* What the scrape reads from elsewhere. */
struct metrics_gauges {
    int64_t jobs[5]; /* by enum job_status: queued, running, succeeded, failed, canceled */
    int have_jobs;   /* 0 when the store did not answer */
    int running_tiles;
    int sse_clients;
    int shared;             /* a shared queue: the two below are shown */
    int listening;          /* its notifier listens (notify_live) */
    uint64_t notifications; /* received so far (notify_count) */
};

/* The exposition text (malloc'd, NUL-terminated, *len bytes), or NULL. */
char *metrics_render(struct metrics *m, const struct metrics_gauges *g, int64_t now_ms,
                     size_t *len);

#endif /* TB_METRICS_H */
