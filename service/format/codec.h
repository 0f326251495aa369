/*
 * codec.h - the job spec and the result, as JSON (jansson). Shared by the
 * CLI (`trainbound run|validate`) and the server (POST /v1/jobs,
 * GET /v1/jobs/{id}/result), so both accept the same specs with the same
 * messages and print byte-identical results for the same labels.
 *
 * Threads: reentrant; any thread. Errors: 0 or a negative CODEC_E* code.
 * The front ends parse a body once (codec_load_json) and hand the json_t
 * to the parser of its kind (kind.h).
 */
#ifndef TB_CODEC_H
#define TB_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "tb.h"

enum codec_status {
    CODEC_OK = 0,
    CODEC_EJSON = -1,    /* not JSON at all: one error with line/column */
    CODEC_EINVALID = -2, /* JSON, but the spec breaks the schema or a limit */
    CODEC_ENOMEM = -3,
};

/* Limits a front end enforces on top of the schema. Every one is
 * documented in the README and answered with a field-level message. */
struct codec_limits {
    int max_levels;  /* lr.levels <= this (schema ceiling 32) */
    int max_steps;   /* steps <= this */
    int max_dim;     /* model.dim <= this */
    double max_cost; /* (2^levels + 1) * steps <= this */
};

/* Fills the CLI defaults: levels 32, steps 1e6, dim 4096, cost 2^50. */
void codec_limits_default(struct codec_limits *lim);

/* A parsed spec. Owns its buffers; release with codec_spec_free(). */
struct codec_spec {
    struct tb_spec core;    /* core.x0 points into x0 below when non-NULL */
    double *x0;             /* owned; NULL when x0 is a scalar */
    char *name;             /* owned; NULL when absent */
    struct tb_fit_opts fit; /* defaults resolved against lr.levels */
    uint64_t max_flips;     /* output.max_flips: flips listed in a result */
};

#define CODEC_MAX_ERRORS 32
struct codec_error {
    char path[96];     /* dotted field path, e.g. "lr.levels", "x0[2]"; "" = whole body */
    char pointer[96];  /* the same as a JSON pointer, e.g. "/lr/levels" */
    char message[192]; /* e.g. "must be an integer in 0..32" */
};
struct codec_errors {
    int n;         /* errors recorded (at most CODEC_MAX_ERRORS) */
    int truncated; /* 1 when more errors were found than recorded */
    struct codec_error e[CODEC_MAX_ERRORS];
};

/*
 * Parses and validates a spec from len bytes of buf (no NUL needed).
 * On CODEC_OK, out is filled and owned by the caller. On CODEC_EJSON or
 * CODEC_EINVALID, errs lists every problem and out needs no free.
 * Unknown fields, duplicate keys, NaN/inf and wrong types are rejected.
 */
int codec_parse_spec(const char *buf, size_t len, const struct codec_limits *lim,
                     struct codec_spec *out, struct codec_errors *errs);

void codec_spec_free(struct codec_spec *s);

/* The spec with every default filled in, as compact JSON with a fixed key
 * order: two specs that mean the same thing give the same text.
 * Caller frees the result with free(); NULL on ENOMEM. */
char *codec_spec_canonical(const struct codec_spec *s);

/*
 * The result document of a finished sweep, as JSON text (caller frees with
 * free(); NULL on ENOMEM). labels holds all tb_sweep_points() labels,
 * replicate after replicate (borrowed). `trainbound run` prints exactly this, followed by a newline,
 * and GET /v1/jobs/{id}/result serves exactly this.
 */
char *codec_result_encode(const struct codec_spec *s, const uint64_t *labels, double elapsed_s);

/* ---- additions for reuse (server refits, parsed bodies, timed analysis) - */

/* jansson's json_t, declared here so that this header needs no jansson.h. */
struct json_t;

/*
 * Parses len bytes of buf (no NUL needed) as the JSON text of a spec: any
 * JSON value, duplicate keys refused. CODEC_OK with *root (the caller's
 * reference: json_decref()), or CODEC_EJSON with one error in errs (path
 * "", jansson's line, column and text), as codec_parse_spec() reports it.
 */
int codec_load_json(const char *buf, size_t len, struct json_t **root, struct codec_errors *errs);

/*
 * Like codec_parse_spec(), on a JSON value that is already parsed (root is
 * borrowed and not modified). Same rules, same messages; never returns
 * CODEC_EJSON. lim may be NULL for codec_limits_default().
 */
int codec_spec_from_json(const struct json_t *root, const struct codec_limits *lim,
                         struct codec_spec *out, struct codec_errors *errs);

/* The canonical spec as a new JSON object: the caller owns the reference
 * (json_decref()). codec_spec_canonical() prints exactly this, and the
 * result's "spec" member is this. NULL on ENOMEM. */
struct json_t *codec_spec_to_json(const struct codec_spec *s);

/*
 * Everything a result reports that is computed from the labels, computed
 * once: the CLI times it as part of elapsed_s, and a server may keep it.
 * Filled by codec_analyze(); release with codec_analysis_free().
 */
struct codec_analysis {
    int levels;                         /* lr.levels */
    uint64_t points;                    /* 2^levels + 1 */
    uint64_t divergent;                 /* divergent labels */
    int64_t first_divergent;            /* grid index of the first one; -1 when none */
    uint64_t counts[TB_MAX_LEVELS + 1]; /* B(n), n = 0..levels */
    struct tb_fit_opts fit_opts;        /* the spec's fit window */
    struct tb_fit fit;                  /* tb_fit_dimension() over that window */
    struct tb_roughness roughness;      /* tb_roughness() of the model */
    uint64_t *flips;                    /* owned: the first n_flips flip indices j */
    size_t n_flips;                     /* min(max_flips, counts[levels]) */
    /* Replicates (tb_replicates() of the spec): B(n) and the fit of each,
     * entry 0 being counts and fit above. Owned arrays of `replicates`
     * entries; entry r is filled by codec_analyze_replicate(). */
    int replicates;
    uint64_t (*rep_counts)[TB_MAX_LEVELS + 1];
    struct tb_fit *rep_fits;
};

/* Analyses labels (all tb_grid_points() of them; borrowed) for spec s
 * (borrowed). Returns CODEC_OK, CODEC_ENOMEM, or CODEC_EINVALID for bad
 * arguments; on error out needs no free. */
int codec_analyze(const struct codec_spec *s, const uint64_t *labels, struct codec_analysis *out);

/* Adds replicate r (1 <= r < a->replicates) from its labels (the
 * tb_grid_points() labels of sweep points r*N .. r*N+N-1; borrowed): its
 * box counts and its fit over the spec's window. CODEC_OK, CODEC_ENOMEM
 * or CODEC_EINVALID. */
int codec_analyze_replicate(const struct codec_spec *s, int r, const uint64_t *labels,
                            struct codec_analysis *a);

/* Frees what codec_analyze() allocated; a zeroed struct is fine. */
void codec_analysis_free(struct codec_analysis *a);

/* The spec's optimizer as the API writes it: {"name"} plus the rule's own
 * coefficients. New reference (the caller's), or NULL without memory. */
struct json_t *codec_optimizer_json(const struct tb_optimizer *o);

/* {"precision": "fast"|"reference", "isa": "avx512"|"avx2"|"sse2"|"libm"}:
 * the engine that runs (ran) spec c on this machine. New reference; NULL
 * when out of memory. */
struct json_t *codec_engine_json(const struct tb_spec *c);

/* codec_result_encode() from an analysis of the same spec (both borrowed).
 * Caller frees the text with free(); NULL on ENOMEM. */
char *codec_result_encode_analysis(const struct codec_spec *s, const struct codec_analysis *a,
                                   double elapsed_s);

/* The result's "dimension" object for fit (borrowed) made with opts
 * (borrowed), as a new JSON object (caller owns the reference); NULL on
 * ENOMEM. Lets a server refit another window from stored counts. */
/* The fit's warnings as a JSON array of strings (empty when none): a
 * fractal D above 1, the embedding dimension of the learning-rate line,
 * says the window is pre-asymptotic. New reference; NULL when out of memory. */
struct json_t *codec_fit_warnings(const struct tb_fit *fit);
struct json_t *codec_dimension_json(const struct tb_fit *fit, const struct tb_fit_opts *opts);

/* The spread of D over n >= 1 replicate fits: mean, sample standard
 * deviation (n - 1 in the denominator; 0 when n = 1), min and max of the
 * values (0 for a fit that is not fractal), and how many are fractal. */
struct codec_spread {
    int n;
    double mean, std, min, max;
    int fractal; /* replicates whose fit is fractal */
};
void codec_spread_of(const struct tb_fit *fits, int n, struct codec_spread *out);

/* Whether a dimension over replicates is fractal: with one replicate its
 * fit's own flag; with more, a majority of fractal fits and a mean D more
 * than two standard errors (std / sqrt(n)) above zero. */
int codec_spread_fractal(const struct codec_spread *sp);

/* codec_spread_fractal() of an analysis's replicates (its fit's own flag
 * when it has none). */
int codec_analysis_fractal(const struct codec_analysis *a);

/* The "spread" object of n >= 1 fits: {n, mean, std, min, max,
 * fractal_replicates, fractal (the verdict)}. New reference; NULL on ENOMEM. */
struct json_t *codec_spread_json(const struct tb_fit *fits, int n);

/* codec_fit_warnings() of fits[0], plus one when n > 1 replicates scatter
 * by more than twice fits[0]'s OLS standard error. New reference. */
struct json_t *codec_reps_warnings(const struct tb_fit *fits, int n);

/* The "dimension" object of n replicate fits (fits[0] first, each made
 * with opts from counts[r][0..levels]; all borrowed): codec_dimension_json()
 * of fits[0], plus "replicates" (each one's value, stderr, r2, fractal and
 * counts), "spread" (codec_spread_of, with "fractal" the verdict) and a
 * warning when the replicates disagree by more than the OLS error says.
 * New reference; NULL on ENOMEM. */
struct json_t *codec_dimension_reps_json(const struct tb_fit *fits,
                                         const uint64_t (*counts)[TB_MAX_LEVELS + 1], int n,
                                         int levels, const struct tb_fit_opts *opts);

/* Reads the replicates' counts of a stored result document or job summary
 * (text, borrowed) with `levels` levels into counts (caller array of
 * TB_MAX_REPLICATES rows): dimension.replicates[r].counts of a result, the
 * rows of a summary's "replicate_counts", or else (one replicate, or a
 * document written before replicates) its top-level "counts".
 * *n = replicates read. CODEC_OK, or CODEC_EINVALID when absent or
 * malformed. */
int codec_result_rep_counts(const char *text, int levels,
                            uint64_t (*counts)[TB_MAX_LEVELS + 1], int *n);

#endif /* TB_CODEC_H */
