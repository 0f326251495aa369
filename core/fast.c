/*
 * fast.c - the fast path: SIMD gradient descent over learning rates with
 * runtime ISA dispatch (AVX-512, AVX2+FMA, SSE2), selected by
 * "precision": "fast". One binary runs on any x86-64.
 *
 * Owns: tb__fast_sweep_tile(), tb_fast_isa().
 * Threads: reentrant; the ISA probe is a pure CPUID query.
 *
 * Coverage: every model. One-dimensional single-term models (the paper's
 * cases and the quadratic) run in a kernel that keeps each lane's state in
 * registers; d > 1 or several cosine terms run in the d-dimensional kernel,
 * which keeps coordinate-major lane arrays on the heap.
 * Built with -ffp-contract=fast (FMA allowed), unlike the reference path.
 */
#define _GNU_SOURCE /* sincos */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_int.h"
#include "tb.h"
#include "tb_int.h"

/* pi/2 in three parts; the first two have 33 significant bits, so n * part
 * is exact for |n| < 2^20 (checked by the caller's range test). */
#define FAST_PIO2_1 0x1.921fb544p+0
#define FAST_PIO2_2 0x1.0b4611a6p-34
#define FAST_PIO2_3 0x1.3198a2e037073p-69
#define FAST_TWO_OVER_PI 0x1.45f306dc9c883p-1

/* Taylor coefficients (-1)^k / (2k+1)! and (-1)^k / (2k)!, rounded once. */
#define FAST_S3 (-1.0 / 6.0)
#define FAST_S5 (1.0 / 120.0)
#define FAST_S7 (-1.0 / 5040.0)
#define FAST_S9 (1.0 / 362880.0)
#define FAST_S11 (-1.0 / 39916800.0)
#define FAST_S13 (1.0 / 6227020800.0)
#define FAST_S15 (-1.0 / 1307674368000.0)
#define FAST_C4 (1.0 / 24.0)
#define FAST_C6 (-1.0 / 720.0)
#define FAST_C8 (1.0 / 40320.0)
#define FAST_C10 (-1.0 / 3628800.0)
#define FAST_C12 (1.0 / 479001600.0)
#define FAST_C14 (-1.0 / 87178291200.0)
#define FAST_C16 (1.0 / 20922789888000.0)

struct fast_args {
    const struct tb_spec *spec;
    enum tb_family family;
    uint64_t begin, count;
    double x0, eps;
    double phase_scale; /* 2*pi/lam */
    double grad_scale;  /* 2*pi*eps/lam */
    int steps;
    enum tb_criterion criterion;
    double threshold;
    int nan_divergent;
    const atomic_int *cancel;
    tb_progress_fn progress;
    void *progress_user;
};

static inline double fast_lr(const struct fast_args *a, uint64_t j)
{
    return tb_grid_lr(a->spec, a->begin + j);
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,fma")
#define FK_W 8
#define FK_NAME(x) x##_avx512
#define FK_ANY(m) ((int)_mm512_test_epi64_mask((__m512i)(m), (__m512i)(m)))
#include "fast_kernel.h"
#undef FK_W
#undef FK_NAME
#undef FK_ANY
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define FK_W 4
#define FK_NAME(x) x##_avx2
#define FK_ANY(m) _mm256_movemask_pd((__m256d)(m))
#include "fast_kernel.h"
#undef FK_W
#undef FK_NAME
#undef FK_ANY
#pragma GCC pop_options

#define FK_W 2
#define FK_NAME(x) x##_sse2
#define FK_ANY(m) _mm_movemask_pd((__m128d)(m))
#include "fast_kernel.h"
#undef FK_W
#undef FK_NAME
#undef FK_ANY

/* The best ISA this CPU has, capped by cap. */
static enum tb_isa fast_pick(enum tb_isa cap)
{
    enum tb_isa best = TB_ISA_SSE2;

    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
        best = TB_ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = TB_ISA_AVX2;
    return (cap != TB_ISA_BEST && cap < best) ? cap : best;
}

const char *tb_fast_isa(enum tb_isa cap)
{
    switch (fast_pick(cap)) {
    case TB_ISA_AVX512:
        return "avx512";
    case TB_ISA_AVX2:
        return "avx2";
    default:
        return "sse2";
    }
}

int tb__fast_sweep_tile(const struct tb_spec *spec, uint64_t begin, uint64_t count, uint64_t *out,
                        const atomic_int *cancel, tb_progress_fn progress, void *progress_user,
                        struct tb_tile_stats *stats)
{
    const struct tb_model *m = &spec->model;
    struct fast_args a;
    uint64_t lane_steps = 0, divergent = 0;
    int rc;

    int nd = m->dim != 1 || m->n_terms > 1;

    memset(&a, 0, sizeof a);
    a.spec = spec;
    a.family = m->family;
    a.begin = begin;
    a.count = count;
    a.x0 = spec->x0 ? spec->x0[0] : spec->x0_scalar;
    if (m->n_terms == 1) {
        a.eps = m->terms[0].amplitude;
        a.phase_scale = TB_TWO_PI / m->terms[0].wavelength;
        a.grad_scale = TB_TWO_PI * m->terms[0].amplitude / m->terms[0].wavelength;
    }
    a.steps = spec->steps;
    a.criterion = spec->criterion;
    a.threshold = spec->threshold;
    a.nan_divergent = spec->nan_policy == TB_NAN_DIVERGENT;
    a.cancel = cancel;
    a.progress = progress;
    a.progress_user = progress_user;

    memset(out, 0, tb_label_words(count) * sizeof *out);
    switch (fast_pick(spec->isa_cap)) {
    case TB_ISA_AVX512:
        rc = nd ? sweep_nd_avx512(&a, out, &lane_steps, &divergent)
                : sweep_1d_avx512(&a, out, &lane_steps, &divergent);
        break;
    case TB_ISA_AVX2:
        rc = nd ? sweep_nd_avx2(&a, out, &lane_steps, &divergent)
                : sweep_1d_avx2(&a, out, &lane_steps, &divergent);
        break;
    default:
        rc = nd ? sweep_nd_sse2(&a, out, &lane_steps, &divergent)
                : sweep_1d_sse2(&a, out, &lane_steps, &divergent);
        break;
    }
    if (rc != TB_OK)
        return rc;
    if (progress)
        progress(progress_user, count);
    if (stats) {
        stats->points = count;
        stats->divergent = divergent;
        stats->lane_steps = lane_steps;
    }
    return TB_OK;
}
