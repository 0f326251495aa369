/*
 * view.h - the JSON representation of a job (the "job resource" of
 * GET /v1/jobs/{id}, of list items and of the 202 answer) and its ETag.
 *
 *   {"id", "status", "name", "revision",
 *    "progress": {"done", "total", "fraction", "tiles_done", "tiles_total"},
 *    "created_at", "started_at", "finished_at",      RFC 3339 or null
 *    "timings": {"wait_ms", "run_ms"},                null until known
 *    "spec": {...canonical spec...},                  with_spec only
 *    "summary": {...} (succeeded), "error": "..." (failed),
 *    "links": {"self", "result", "dimension", "boundary", "cancel"}}
 *
 * Threads: any thread; no state. The struct job is borrowed.
 */
#ifndef TB_VIEW_H
#define TB_VIEW_H

#include <jansson.h>
#include <stdint.h>

#include "queue.h"

/* A new JSON object for j (caller owns the reference), or NULL on ENOMEM.
 * now_ms sets the running timings of unfinished jobs. */
json_t *view_job(const struct job *j, int with_spec, int64_t now_ms);

/* The weak ETag of a job's revision, e.g. W/"12-7", into out (VIEW_ETAG_LEN). */
#define VIEW_ETAG_LEN 64
void view_etag(const struct job *j, char *out);

/* The path of a job, "/v1/jobs/12", into out (VIEW_PATH_LEN). */
#define VIEW_PATH_LEN 48
void view_job_path(int64_t id, char *out);

#endif /* TB_VIEW_H */
