/*
 * study.h - a study: one job made of many sweeps over a grid of one or two
 * spec parameters (issue 4). The spec is a base sweep spec plus
 *
 *   "vary": {"model.amplitude": {"linspace": [0.01, 0.2, 10]},
 *            "model.wavelength": [0.1, 0.5, 1]},
 *   "combine": "product" | "zip"          (optional, default "product")
 *
 * The first vary member is the row axis, the second the column axis. Each
 * cell is the base spec with the cell's values written in, validated by the
 * codec with the same limits as a sweep. Shared by the CLI and the server,
 * and so is the analysis of a whole study (study_analyze()): the CLI hands
 * it cells computed on its threads, the server cells from the store.
 *
 * Threads: reentrant; any thread. Errors: CODEC_* codes from codec.h.
 * Ownership: a struct study owns everything it points to (study_free()).
 */
#ifndef TB_STUDY_H
#define TB_STUDY_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

#define STUDY_MAX_AXES 2
#define STUDY_MAX_VALUES 1000           /* values per axis */
#define STUDY_MAX_CELLS 10000           /* cells per study */
#define STUDY_MAX_SPEC_BYTES (16 << 20) /* the cells' canonical specs together */

enum study_param {
    STUDY_AMPLITUDE,  /* model.amplitude */
    STUDY_WAVELENGTH, /* model.wavelength */
    STUDY_DIM,        /* model.dim (integers) */
    STUDY_X0,         /* x0 (a scalar) */
    STUDY_STEPS,      /* steps (integers) */
    STUDY_THRESHOLD,  /* divergence.threshold */
};

struct study_axis {
    enum study_param param;
    const char *name; /* static: "model.amplitude", ... */
    size_t n;         /* number of values, 1..STUDY_MAX_VALUES */
    double *values;   /* owned */
};

struct study {
    int n_axes; /* 1 or 2 */
    struct study_axis axes[STUDY_MAX_AXES];
    int zip;                  /* 1: cell i takes value i of every axis */
    size_t n_cells;           /* product or zip length */
    struct codec_spec *cells; /* owned: n_cells parsed cell specs */
    char **cell_canonical;    /* owned: canonical text of each cell (reuse key) */
    char *canonical;          /* owned: the canonical study spec */
    char *name;               /* owned; NULL when the base spec has none */
    double cost;              /* sum over cells of points x steps */
};

/* 1 if the JSON text (or value) is a study (an object with a "vary"
 * member), 0 otherwise (including text that is not JSON). */
int study_is_study(const char *buf, size_t len);
int study_is_study_json(const struct json_t *root);

/* Parses and validates a study. lim bounds every cell like a sweep, and
 * lim->max_cost bounds the sum over all cells. On CODEC_OK out is owned by
 * the caller (study_free()); otherwise errs lists the problems, with paths
 * like "vary.model.amplitude[3]" for a value that makes a cell invalid. */
int study_parse(const char *buf, size_t len, const struct codec_limits *lim, struct study *out,
                struct codec_errors *errs);
int study_parse_json(const struct json_t *root, const struct codec_limits *lim, struct study *out,
                     struct codec_errors *errs);
void study_free(struct study *st);

/* The value of axis a in cell i. */
double study_cell_value(const struct study *st, size_t cell, int axis);

/* The study result document: the spec, the axes, one row per cell (the
 * parameter values, theta, convex, D, stderr, fractal, counts, ...) and a
 * summary with the transition roughness. an holds st->n_cells analyses and
 * reused[i] says whether cell i was taken from earlier work (both
 * borrowed; reused may be NULL). Caller frees the text; NULL on ENOMEM. */
char *study_result_encode(const struct study *st, const struct codec_analysis *an,
                          const int *reused, double elapsed_s);

/* One cell's row object as compact JSON text (caller frees), for paging. */
char *study_row_encode(const struct study *st, size_t cell, const struct codec_analysis *an,
                       int reused);

/* The table as CSV text: a header, then one line per cell. Caller frees. */
char *study_csv(const struct study *st, const struct codec_analysis *an, const int *reused);

/* The earlier cell whose canonical spec equals cell's (the first one), or
 * -1: a duplicate, computed once (the CLI's rule and the server's). */
ptrdiff_t study_dup_of(const struct study *st, size_t cell);

/* Where study_analyze() takes each cell's analysis from: the CLI computes
 * it on its threads, the server from the cell's saved labels. */
struct study_source {
    /* Cell i: *dup_of, the earlier cell whose analysis it shares, or -1;
     * *reused, whether its row says it was taken from earlier work.
     * 0 or the source's non-zero code. */
    int (*cell)(void *user, size_t i, int64_t *dup_of, int *reused);
    /* Analyses cell i (not a duplicate) into *an (zeroed; its flips
     * dropped, as rows have none). 0, the source's non-zero code, or 1
     * after writing reason (cap bytes). */
    int (*analyze)(void *user, size_t i, struct codec_analysis *an, char *reason, size_t cap);
    /* The study's seconds so far, for the result's elapsed_s; asked once,
     * when every cell is analysed. */
    double (*elapsed_s)(void *user);
    void *user;
};

/* Analyses every cell of st (borrowed) through src, a duplicate sharing
 * its original's analysis, and encodes the study result into *result
 * and, csv not NULL, the table into *csv (study_result_encode(),
 * study_csv(); the caller frees both). Returns 0, a code of src, or 1
 * after writing reason (cap bytes): a cell failed, or memory ran out. */
int study_analyze(const struct study *st, const struct study_source *src, char **result, char **csv,
                  char *reason, size_t cap);

#endif /* TB_STUDY_H */
