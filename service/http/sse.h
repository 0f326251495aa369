/*
 * sse.h - Server-Sent Events for GET /v1/jobs/{id}/events: a hub of
 * streaming clients, fed by job changes (the pool's tile completions, the
 * analysis, cancel and delete; on a shared PostgreSQL queue also other
 * processes' changes, through the notifier) and by a heartbeat timer.
 *
 * The stream: a `retry:` line, then one event per job revision the client
 * has not seen: `id:` = the job's revision (monotonic per job, durable),
 * `event: state` when the status changed (always the first event of a
 * connection) or `event: progress`, and `data:` the job resource (view.h,
 * without the spec) on one line. A `Last-Event-ID` resume skips the
 * revisions up to it. `: heartbeat` comments every heartbeat_ms. The
 * stream ends after the terminal state (succeeded, failed, canceled) or
 * `event: deleted`.
 *
 * Threads: loop thread only. Owns every client (freed when its stream
 * ends) and the heartbeat timer; the store is borrowed.
 */
#ifndef TB_SSE_H
#define TB_SSE_H

#include <stdint.h>
#include <uv.h>

#include "http.h"

struct store;
struct sse_hub;

/* Creates a hub on loop. 0 or a negative UV_E* code; *out is the caller's
 * until sse_hub_close(). */
int sse_hub_new(uv_loop_t *loop, struct store *store, int heartbeat_ms, struct sse_hub **out);

/* Stops the heartbeat; the hub is freed once its last client and its timer
 * are gone. Call after the HTTP server closed (which ends the streams). */
void sse_hub_close(struct sse_hub *h);

/* Job job_id changed: clients of that job get the events they lack. */
void sse_job_changed(struct sse_hub *h, int64_t job_id);

/* Looks at every watched job once (after missed changes: a notifier that
 * listens again). NULL h: nothing. */
void sse_refresh_all(struct sse_hub *h);

/* Clients connected now. */
int sse_clients(const struct sse_hub *h);

/* Fills resp with the event stream of job_id for a client that saw the
 * events up to last_id (-1: none). 0, or -1 on ENOMEM (resp untouched). */
int sse_open(struct sse_hub *h, int64_t job_id, int64_t last_id, struct http_response *resp);

#endif /* TB_SSE_H */
