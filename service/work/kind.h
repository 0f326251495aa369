/*
 * kind.h - the job-kind interface: one small table of functions per kind
 * of job, so that the server, the CLI and the pool dispatch on the kind
 * instead of asking "is this a study?" in every handler. Today's kinds are
 * `sweep` (kind_sweep.c: one spec, its grid once per replicate) and
 * `study` (kind_study.c: a base spec and a `vary` block, one cell per
 * combination). A new kind (a neural-network map) is a new kind_*.c module
 * with its core, listed in kind.c.
 *
 * A kind's table covers a job's whole life:
 *   parse    a parsed body (kind_parse_body(): JSON once, then the kind's
 *            parse()), canonical() for `trainbound validate`;
 *   plan     submit(): its tiles, enqueued in one transaction;
 *   run      run_tile() of one claimed tile on the core (the pool);
 *   finish   tile_saved() and step(): the analysis, the stored result;
 *   views    view() (the job resource), grid_spec() (the grid behind
 *            /dimension and /boundary), cells() (a study's cells as JSON,
 *            CSV or PNG), no_view() (the 404 of a view it has not got);
 *            the stored result is what step() wrote, served as it is;
 *   local    run_local(): `trainbound run`, the whole spec in memory on
 *            the caller's threads, without the queue.
 *
 * Threads: the table is constant. parse(), canonical(), free_spec() and
 * submit() run on the thread that owns the store they are given (the loop
 * thread in the server); view(), grid_spec(), no_view() and cells() on the
 * loop thread, except cells() of a PNG, on the reader thread with its own
 * store; run_tile(), tile_saved() and step() on a pool thread, with that
 * thread's own store; run_local() on the CLI's main thread, whose runner
 * computes the tiles on its own threads. No global state.
 *
 * Errors: parse() returns a CODEC_* code (codec.h) with errs filled;
 * run_tile() a TB_* code (tb.h), or KIND_ESPEC when the stored spec no
 * longer parses; submit(), tile_saved(), step() and cells() 0 or a
 * negative QUEUE_* code (queue.h); grid_spec() 0 or KIND_ESPEC; cells()
 * also KIND_ERENDER; run_local() a TB_* code or KIND_ENOCSV.
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

/* run_tile(), grid_spec(): the stored spec no longer parses (a bug or a
 * downgrade; the job fails with that reason, a view answers 500). */
#define KIND_ESPEC (-100)
/* cells(): the stored result could not be drawn or encoded. */
#define KIND_ERENDER (-101)
/* run_local(): a CSV table was asked of a kind that has none. */
#define KIND_ENOCSV (-102)

struct json_t;
struct kind_spec; /* a parsed, validated spec of one kind (opaque) */

/* The representations of a view (cells()). */
enum kind_format { KIND_JSON, KIND_CSV, KIND_PNG };

/* A rendered view (cells()): doc for KIND_JSON, else data (len bytes).
 * Both owned by the caller (json_decref(), free()). */
struct kind_body {
    struct json_t *doc;
    char *data;
    size_t len;
};

/* Computes the labels of points [begin, begin + count) into labels
 * (tb_label_words(count) words, bit 0 = point begin), begin a multiple of
 * 64; cancel, progress and stats as tb_sweep_tile(). user is the kind's
 * (read-only, shared by every thread). */
typedef int kind_tile_fn(void *user, uint64_t begin, uint64_t count, uint64_t *labels,
                         const atomic_int *cancel, tb_progress_fn progress, void *progress_user,
                         struct tb_tile_stats *stats);

/* What run_local() runs on: the caller's threads (the CLI's pool). */
struct kind_local {
    /* Computes points [first, first + n) with tile(tile_user, ...) into
     * labels (tb_label_words(n) words), in tiles of a multiple of 64
     * points; adds the lanes' steps to *lane_steps. 0, a TB_E* code, or
     * TB_ECANCELED when the user interrupted it. */
    int (*run)(void *user, kind_tile_fn *tile, void *tile_user, uint64_t first, uint64_t n,
               uint64_t *labels, uint64_t *lane_steps);
    /* A progress line between units ("cell 2/11"); NULL: none. */
    void (*note)(void *user, const char *line);
    void *user;
    int precision;   /* -1: as the spec says, else a tb_precision for every grid */
    int threads;     /* the runner's threads, for the stats line */
    int want_csv;    /* 1: out->csv too (KIND_ENOCSV when the kind has no table) */
    int want_labels; /* 1: out->labels too, when the kind has one grid */
};

/* What run_local() made; every pointer owned by the caller (free()). */
struct kind_local_out {
    char *result;      /* the result document, as the server stores it */
    char *csv;         /* the table, when asked for and the kind has one */
    uint64_t *labels;  /* replicate 0's labels, when asked for and the kind has one grid */
    uint64_t n_labels; /* points in labels */
    char stats[512];   /* one JSON line of run statistics (--stats) */
    char error[256];   /* why it failed (TB_ECANCELED: empty) */
};

/* What submit() needs besides the spec (all borrowed). */
struct kind_submit_opts {
    const char *source; /* the request body as received (a study keeps it) */
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
    int replayed;      /* an Idempotency-Key replay: job is the original */
    size_t units;      /* cells of a study; 1 for a sweep */
    size_t from_store; /* units taken from the store (nothing to compute) */
    char reason[192];  /* why, when submit() returned QUEUE_EINVAL */
};

/* What one analysis step did (step()). */
struct kind_step {
    int failed_job; /* the step failed the job; reason says why */
    char reason[256];
    int finished;         /* the step completed the job */
    int units;            /* units (a study's cell rows) stored by this step */
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
    int (*parse)(const struct json_t *root, const struct codec_limits *lim, struct kind_spec **out,
                 struct codec_errors *errs);
    void (*free_spec)(struct kind_spec *spec);

    /* The canonical spec (borrowed), every default filled in, as text the
     * caller frees; NULL on ENOMEM. */
    char *(*canonical)(const struct kind_spec *spec);

    /* Plans the spec's tiles and enqueues the job on s, in one transaction. */
    int (*submit)(struct store *s, struct kind_spec *spec, const struct kind_submit_opts *o,
                  int64_t now_ms, struct kind_submitted *out);

    /* Adds what this kind's job resource has besides view_job()'s fields to
     * doc (borrowed, returned): a study's cell progress and its link. */
    struct json_t *(*view)(struct store *s, const struct job *job, struct json_t *doc);

    /* /dimension and /boundary of job (borrowed): the sweep spec whose
     * grid replicate 0 of its labels are and whose counts its summary
     * holds, into *spec (codec_spec_free() it). NULL for a kind without
     * one grid. 0, or KIND_ESPEC (also when memory ran out). */
    int (*grid_spec)(const struct job *job, struct codec_spec *spec);

    /* /cells of a succeeded job (or, KIND_JSON, a running one): the page
     * [offset, offset + limit) as a document, the table as CSV, the heat
     * map as PNG, into *out. NULL for a kind without cells. */
    int (*cells)(struct store *s, const struct job *job, enum kind_format f, int64_t offset,
                 int limit, struct kind_body *out);

    /* The detail of the 404 for a view ("dimension", "boundary",
     * "cells") whose function this kind leaves NULL, into detail. */
    void (*no_view)(const struct job *job, const char *view, char *detail, size_t cap);

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

    /* `trainbound run`: computes spec (borrowed; env->precision applied to
     * it) on env's runner and analyses it as step() would, into *out
     * (zeroed first; free its pointers also after an error). 0,
     * TB_ECANCELED when interrupted, KIND_ENOCSV, or another negative
     * code with out->error saying why. */
    int (*run_local)(struct kind_spec *spec, const struct kind_local *env,
                     struct kind_local_out *out);
};

extern const struct job_kind kind_sweep;
extern const struct job_kind kind_study;

/* The kind named name (a job's or a claim's kind), or NULL. */
const struct job_kind *kind_by_name(const char *name);

/* The kind of a parsed body: the first kind whose matches() says so,
 * else the sweep (whose parser then says what is wrong). */
const struct job_kind *kind_of_body(const struct json_t *root);

/*
 * Parses body (len bytes, borrowed) as JSON once and validates it as the
 * kind it is (kind_of_body()) against lim. *kind is always set (the sweep
 * when the text is not JSON), for the caller's messages (its noun); on
 * CODEC_OK *spec is the caller's (that kind's free_spec()), otherwise errs
 * says what is wrong and *spec is NULL. Returns a CODEC_* code.
 */
int kind_parse_body(const char *body, size_t len, const struct codec_limits *lim,
                    const struct job_kind **kind, struct kind_spec **spec,
                    struct codec_errors *errs);

/* The job resource of job (borrowed) with its kind's additions: doc (a new
 * view_job() object, taken and returned, NULL passes through) gets
 * "kind" and whatever the job's kind's view() adds. */
struct json_t *kind_view_job(struct store *s, const struct job *job, struct json_t *doc);

/*
 * Points per tile for a spec: a multiple of 64 that keeps a tile near
 * 2^26 point-steps (steps * dim * cosines per point) and gives every one
 * of `workers` threads about 16 tiles (like `trainbound run`), clamped to
 * 64..2^20. fixed > 0 (a multiple of 64) overrides it.
 */
uint64_t kind_tile_points(const struct tb_spec *spec, int workers, uint64_t fixed);

#endif /* TB_KIND_H */
