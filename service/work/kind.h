/*
 * kind.h - the job-kind interface: one small table of functions per kind
 * of job, so that the server, the CLI and the pool dispatch on the kind
 * instead of asking "is this a study?" in every handler. Today's kinds are
 * `sweep` (kind_sweep.c: one spec, its grid once per replicate) and
 * `study` (kind_study.c: a base spec and a `vary` block, one cell per
 * combination). A new kind (a neural-network map) is a new kind_*.c module
 * with its core, listed in kind.c.
 *
 * A request body is parsed as JSON once (codec_load_json), the kind is
 * read from the parsed document (kind_of_body), and the kind's parse()
 * takes the parsed document from there.
 *
 * Threads: the table is constant. parse(), free_spec() and submit() run on
 * the thread that owns the store they are given (the loop thread in the
 * server); view() on the loop thread; run_tile(), tile_saved() and step()
 * on a pool thread, with that thread's own store. No global state.
 *
 * Errors: parse() returns a CODEC_* code (codec.h) with errs filled;
 * run_tile() a TB_* code (tb.h), or KIND_ESPEC when the stored spec no
 * longer parses; submit(), tile_saved() and step() 0 or a negative
 * QUEUE_* code (queue.h).
 *
 * Ownership: a kind_spec is owned by whoever parse() gave it to, and
 * released with that kind's free_spec(). Documents passed in are borrowed.
 */
#ifndef TB_KIND_H
#define TB_KIND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "queue.h"
#include "tb.h"

/* run_tile(): the stored spec of the tile no longer parses (a bug or a
 * downgrade; the job fails with that reason). */
#define KIND_ESPEC (-100)

struct json_t;
struct kind_spec; /* a parsed, validated spec of one kind (opaque) */

/* What submit() needs besides the spec (all borrowed). */
struct kind_submit_opts {
    const char *source;   /* the request body as received (a study keeps it) */
    size_t source_len;
    int workers;          /* pool threads, for kind_tile_points() */
    uint64_t tile_points; /* fixed tile size (a multiple of 64), 0 = automatic */
    const char *idem_key; /* Idempotency-Key, or NULL */
    int64_t max_queued;   /* queued + running jobs allowed; <= 0: no limit */
    int reuse;            /* 1: a study may take finished cells from the store */
};

/* What submit() did. job is owned by the caller (job_free()). */
struct kind_submitted {
    struct job job;
    int replayed;       /* an Idempotency-Key replay: job is the original */
    size_t units;       /* cells of a study; 1 for a sweep */
    size_t from_store;  /* units taken from the store (nothing to compute) */
    char reason[192];   /* why, when submit() returned QUEUE_EINVAL */
};

/* What one analysis step did (step()). */
struct kind_step {
    int failed_job;     /* the step failed the job; reason says why */
    char reason[256];
    int finished;       /* the step completed the job */
    int units;          /* units (a study's cell rows) stored by this step */
    double dimension, se; /* a finished sweep's D and its stderr, for the log */
    int fractal;
};

struct job_kind {
    const char *name; /* "sweep", "study": the API's and the log's "kind" */
    const char *noun; /* what a 422 says has problems: "spec", "study" */
    /* The log's names for the units a job is made of and for those taken
     * from the store ("cells", "cells_from_store"); NULL for a sweep. */
    const char *units, *units_from_store;

    /* 1 when the parsed body root (borrowed) is a spec of this kind. */
    int (*matches)(const struct json_t *root);

    /* Validates root (borrowed) against lim; on CODEC_OK *out is the spec. */
    int (*parse)(const struct json_t *root, const struct codec_limits *lim,
                 struct kind_spec **out, struct codec_errors *errs);
    void (*free_spec)(struct kind_spec *spec);

    /* Plans the spec's tiles and enqueues the job on s, in one transaction. */
    int (*submit)(struct store *s, struct kind_spec *spec, const struct kind_submit_opts *o,
                  int64_t now_ms, struct kind_submitted *out);

    /* Adds what this kind's job resource has besides view_job()'s fields to
     * doc (borrowed, returned): a study's cell progress and its link. */
    struct json_t *(*view)(struct store *s, const struct job *job, struct json_t *doc);

    /* Computes the claimed tile c (borrowed) into labels (tb_label_words(
     * c->count) words, the caller's); cancel, progress and stats as
     * tb_sweep_tile(). */
    int (*run_tile)(const struct tile_claim *c, uint64_t *labels, const atomic_int *cancel,
                    tb_progress_fn progress, void *progress_user, struct tb_tile_stats *stats);

    /* After tile c was saved and its job still has tiles to go: *step = 1
     * when an analysis step should run now (a study cell is complete). */
    int (*tile_saved)(struct store *s, const struct tile_claim *c, int *step);

    /* One analysis step of running job job_id: a sweep's result once every
     * tile is saved; a study's rows of complete cells, then its result.
     * QUEUE_ECONFLICT when the job is not running (canceled, or done). */
    int (*step)(struct store *s, int64_t job_id, struct kind_step *out);
};

extern const struct job_kind kind_sweep;
extern const struct job_kind kind_study;

/* The kind named name (a job's or a claim's kind), or NULL. */
const struct job_kind *kind_by_name(const char *name);

/* The kind of a parsed body: the first kind whose matches() says so,
 * else the sweep (whose parser then says what is wrong). */
const struct job_kind *kind_of_body(const struct json_t *root);

/*
 * Points per tile for a spec: a multiple of 64 that keeps a tile near
 * 2^26 point-steps (steps * dim * cosines per point) and gives every one
 * of `workers` threads about 16 tiles (like `trainbound run`), clamped to
 * 64..2^20. fixed > 0 (a multiple of 64) overrides it.
 */
uint64_t kind_tile_points(const struct tb_spec *spec, int workers, uint64_t fixed);

#endif /* TB_KIND_H */
