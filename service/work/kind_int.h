/*
 * kind_int.h - what the kind modules (kind_sweep.c, kind_study.c) share
 * and nothing else uses: the tile runner of kinds whose tiles are runs of
 * a sweep spec's points, and the limits for re-parsing stored specs.
 *
 * Threads: as kind.h.
 */
#ifndef TB_KIND_INT_H
#define TB_KIND_INT_H

#include "kind.h"

/* run_tile() of a tile whose claim's spec_json is a sweep spec (a sweep's,
 * or a study cell's): tb_sweep_tile() over the claim's points. */
int kind_sweep_tile(const struct tile_claim *c, uint64_t *labels, const atomic_int *cancel,
                    tb_progress_fn progress, void *progress_user, struct tb_tile_stats *stats);

/* Limits for re-parsing stored specs: they were validated on submit, and
 * limits lowered since must not strand accepted jobs. */
void kind_stored_limits(struct codec_limits *lim);

#endif /* TB_KIND_INT_H */
