/*
 * queue_study.h - the durable side of studies (issue 4), next to queue.h:
 * a study is one job of kind QUEUE_KIND_STUDY whose cells are scheduled as
 * tiles of that job (a tile names its cell), so claims, leases,
 * heartbeats, saved tiles, labels (queue_labels), restart-resume, cancel,
 * delete and retention are the queue's own. This adds only what a study
 * must: the study and cell rows (migrations/0002_studies.sql), submitting
 * a study with reuse of cells already in the store, finding cells whose
 * tiles are all saved, storing a cell's row, paging rows, the CSV. Each
 * call dispatches to the store's backend (queue_backend.h).
 *
 * Threads, errors, ownership: as queue.h. Each call runs on the thread
 * that owns the store; every read-then-write is one BEGIN IMMEDIATE
 * transaction; 0 or a negative QUEUE_E* code; strings written into
 * out-structs are owned by the caller (the matching *_free()).
 */
#ifndef TB_QUEUE_STUDY_H
#define TB_QUEUE_STUDY_H

#include <stddef.h>
#include <stdint.h>

#include "queue.h"

/* One cell of a study to submit (all borrowed). */
struct queue_cell_submit {
    const char *spec_json; /* the cell's canonical spec: what its tiles compute */
    const char *reuse_key; /* SHA-256 hex of the canonical spec without "name" */
    const char *alt_spec;  /* the canonical spec without "name" (matches sweeps); may be NULL */
    uint64_t points;       /* 2^levels + 1 */
    uint64_t tile_points;  /* points per tile, a multiple of 64 */
    int64_t dup_of;        /* an earlier cell of this study with the same spec, or -1 */
};

struct queue_study_submit {
    const char *spec_json;   /* the canonical study (jobs.spec_json) */
    const char *name;        /* may be NULL */
    const char *source_json; /* the study as submitted (re-parses to the same cells) */
    const char *axes_json;   /* {"combine", "axes": [{"param", "values"}]} */
    size_t n_cells;
    const struct queue_cell_submit *cells; /* n_cells of them */
    int reuse;                /* 1: take finished cells with the same key from the store */
    const char *idem_key;     /* Idempotency-Key, or NULL */
    const char *request_hash; /* hash of the canonical study, for the key */
    int64_t max_queued;       /* queued + running jobs allowed; <= 0: no limit */
};

/*
 * Inserts a study job, its cells and its tiles in one transaction. A cell
 * with dup_of >= 0 gets no tiles. Otherwise, with sub->reuse, a finished
 * cell of any job (or a succeeded sweep) with the same key has its saved
 * tiles copied into this job as done tiles (no attempt is logged: nothing
 * is computed), and the cell is marked reused; else the cell gets pending
 * tiles. The job's points and tiles count the cells that have tiles, the
 * copied ones as done already. When every tile was copied the job starts
 * running at once (it has nothing to claim): the caller asks the pool to
 * analyse it. Idempotency and max_queued as queue_enqueue(). *copied
 * (may be NULL) = cells taken from the store.
 */
int queue_enqueue_study(struct store *s, const struct queue_study_submit *sub, int64_t now_ms,
                        struct job *out, int *replayed, size_t *copied);

/* What a study job has besides its jobs row. */
struct study_info {
    int64_t cells_total, cells_done, cells_reused;
    char *source_json; /* owned */
    char *axes_json;   /* owned */
};
void study_info_free(struct study_info *i);

/* QUEUE_ENOENT when job_id is not a study (a sweep, or no such job). */
int queue_study_get(struct store *s, int64_t job_id, struct study_info *out);
/* 1 if job_id is a study, 0 if not (or no such job), or a QUEUE_E* code:
 * its kind (queue_get_kind) is QUEUE_KIND_STUDY. */
int queue_is_study(struct store *s, int64_t job_id);

struct study_cell {
    int64_t idx;
    int done; /* status done: row_json is set */
    int reused;
    int64_t dup_of;      /* -1 when none */
    int64_t reused_from; /* 0 when none */
    int64_t tile_first, tiles;
    uint64_t points;
    char *spec_json; /* owned */
    char *row_json;  /* owned; NULL while pending */
};
void study_cell_free(struct study_cell *c);

int queue_cell_get(struct store *s, int64_t job_id, int64_t idx, struct study_cell *out);

/* Tiles of cell idx (or of the cell it duplicates) not saved yet. */
int queue_cell_tiles_left(struct store *s, int64_t job_id, int64_t idx, int64_t *left);

/* Up to cap pending cells (ascending idx) whose labels are all saved:
 * their own tiles, or those of the cell they duplicate. */
int queue_cells_ready(struct store *s, int64_t job_id, int64_t *idx, int cap, int *n);

/* Assembles the labels of cell idx (its own tiles, or those of the cell it
 * duplicates) into bits (caller-allocated, tb_label_words(points) words):
 * queue_labels(s, job_id, idx, 0, 0, bits), which also loads a part of a
 * cell (one replicate). QUEUE_EIO when a tile is missing or does not fit
 * the cell. */
int queue_cell_labels(struct store *s, int64_t job_id, int64_t idx, uint64_t *bits);

/* Stores the row of a pending cell and marks it done (bumps the job's
 * revision and the study's cells_done), if the job is queued or running.
 * QUEUE_ECONFLICT when the job has ended; done already: 0, no change. */
int queue_cell_finish(struct store *s, int64_t job_id, int64_t idx, const char *row_json,
                      int64_t now_ms);

/* Cells [offset, offset + limit) in idx order, into out (caller array of
 * limit; study_cell_free each; spec_json is not loaded), *n of them. */
int queue_cells_page(struct store *s, int64_t job_id, int64_t offset, int limit,
                     struct study_cell *out, int *n);

/* Stores / reads the table as CSV (study_csv()). Get: QUEUE_ENOENT when
 * none is stored; caller frees *csv. */
int queue_study_put_csv(struct store *s, int64_t job_id, const char *csv);
int queue_study_get_csv(struct store *s, int64_t job_id, char **csv);

#endif /* TB_QUEUE_STUDY_H */
