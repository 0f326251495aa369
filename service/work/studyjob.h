/*
 * studyjob.h - studies in the server (issue 4): turning a parsed study
 * into a queued job (queue_study.h), and the analysis steps that turn its
 * saved tiles into cell rows and, once every cell is done, into the study
 * result that `trainbound run` prints for the same spec (the same code:
 * study_analyze(), study.h).
 *
 * Threads: studyjob_submit() runs on the loop thread (its store);
 * studyjob_step() on a pool thread with that thread's own store (it is
 * called from pool.c's analysis task). No global state.
 *
 * Errors: 0 or a negative QUEUE_E* code.
 */
#ifndef TB_STUDYJOB_H
#define TB_STUDYJOB_H

#include <stddef.h>
#include <stdint.h>

#include "queue_study.h"
#include "study.h"

struct studyjob_submit_opts {
    int workers;          /* pool threads, for kind_tile_points() */
    uint64_t tile_points; /* fixed tile size (a multiple of 64), 0 = automatic */
    const char *idem_key; /* Idempotency-Key, or NULL */
    int64_t max_queued;   /* as queue_submit */
    int reuse;            /* 1: take cells already in the store */
};

/*
 * Enqueues study st (borrowed; its cells' names are touched and restored
 * while computing the reuse keys) submitted as source (len bytes, the
 * request body; borrowed). Cells with the same canonical spec as an
 * earlier cell are duplicates; others may be copied from the store.
 * out, replayed, copied as queue_enqueue_study().
 */
int studyjob_submit(struct store *s, struct study *st, const char *source, size_t len,
                    const struct studyjob_submit_opts *o, int64_t now_ms, struct job *out,
                    int *replayed, size_t *copied);

/*
 * One analysis step of study job_id on store s: stores the row of every
 * pending cell whose labels are all saved (codec_analyze(), then
 * study_row_encode()); then, when every cell is done and every tile saved,
 * encodes the study result (study_result_encode()) and the CSV, and
 * completes the job with a summary. A cell or study that cannot be
 * analysed fails the job: *failed = 1 and reason (cap bytes) says why.
 * *finished = 1 when this step completed the job. *cells = rows stored.
 * QUEUE_ECONFLICT when the job is not active.
 */
int studyjob_step(struct store *s, int64_t job_id, char *reason, size_t cap, int *failed,
                  int *finished, int *cells);

#endif /* TB_STUDYJOB_H */
