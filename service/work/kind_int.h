/*
 * kind_int.h - what the kind modules (kind_sweep.c, kind_study.c,
 * studyjob.c) share and nothing else uses: the parse() every kind wraps,
 * the tile runner of kinds whose tiles are runs of a sweep spec's points,
 * the analysis of a grid's replicates from wherever its labels come from
 * (the store, or the CLI's runner), and the limits for re-parsing stored
 * specs.
 *
 * Threads: as kind.h.
 */
#ifndef TB_KIND_INT_H
#define TB_KIND_INT_H

#include "kind.h"

/* Fills spec (a new, zeroed struct kind_spec of the kind) from root as
 * parse() does. */
typedef int kind_parse_fn(const struct json_t *root, const struct codec_limits *lim,
                          struct kind_spec *spec, struct codec_errors *errs);

/* parse() of a kind whose struct kind_spec is size bytes: allocates it,
 * fills it with fill(), and frees it again when that fails. */
int kind_parse_new(size_t size, kind_parse_fn *fill, const struct json_t *root,
                   const struct codec_limits *lim, struct kind_spec **out,
                   struct codec_errors *errs);

/* run_tile() of a tile whose claim's spec_json is a sweep spec (a sweep's,
 * or a study cell's): tb_sweep_tile() over the claim's points. */
int kind_sweep_tile(const struct tile_claim *c, uint64_t *labels, const atomic_int *cancel,
                    tb_progress_fn progress, void *progress_user, struct tb_tile_stats *stats);

/* A kind_tile_fn (kind.h) whose user is a struct tb_spec: tb_sweep_tile(). */
kind_tile_fn kind_grid_tile;

/* The labels of replicate r of a grid (tb_grid_points() of its spec), in
 * the source's own buffer (borrowed until the next call); NULL with *rc
 * set (non-zero) when they could not be had. */
typedef const uint64_t *kind_grid_fn(void *user, int replicate, int *rc);

/* kind_analyze(): the analysis ran out of memory (outside every code
 * range a grid source uses: those are negative). */
#define KIND_EANALYZE 1

/* Analyses every replicate of spec into an (codec_analyze() on replicate
 * 0, codec_analyze_replicate() on the others, one at a time), with the
 * labels grid(user, r) gives; keep_flips 0 drops the flips (a study's
 * rows have none). an is the caller's (codec_analysis_free(), also after
 * an error). 0, the grid's *rc, or KIND_EANALYZE. */
int kind_analyze(const struct codec_spec *spec, kind_grid_fn *grid, void *user, int keep_flips,
                 struct codec_analysis *an);

/* run_local()'s labels of a grid: replicate r of spec computed by env's
 * runner into grid (replicate 0, kept) or scratch (the others, one at a
 * time, allocated at the first); memory is two grids whatever the
 * replicates. For kind_analyze() with kind_local_grid_fn. */
struct kind_local_grid {
    const struct kind_local *env;
    const struct tb_spec *spec;
    uint64_t *grid, *scratch; /* owned: free() both */
    uint64_t lane_steps;      /* summed over every replicate */
};
kind_grid_fn kind_local_grid_fn;

/* Seconds on the monotonic clock, for run_local()'s elapsed times. */
double kind_now_s(void);

/* Limits for re-parsing stored specs: they were validated on submit, and
 * limits lowered since must not strand accepted jobs. */
void kind_stored_limits(struct codec_limits *lim);

#endif /* TB_KIND_INT_H */
