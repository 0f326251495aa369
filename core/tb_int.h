/*
 * tb_int.h - declarations shared between core files; not part of the
 * public API (tb.h). Internal non-static names use the tb__ prefix.
 */
#ifndef TB_INT_H
#define TB_INT_H

#include "tb.h"

/* The fast path (fast.c): same contract as tb_sweep_tile(). */
int tb__fast_sweep_tile(const struct tb_spec *spec, uint64_t begin, uint64_t count, uint64_t *out,
                        const atomic_int *cancel, tb_progress_fn progress, void *progress_user,
                        struct tb_tile_stats *stats);

/* The fast path's vector sin and cos of x[0..n-1] on ISA cap (tests). */
void tb__fast_sincos(enum tb_isa cap, const double *x, double *s, double *c, size_t n);

#endif
