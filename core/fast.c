/*
 * fast.c - the fast path: SIMD gradient descent over learning rates with
 * runtime ISA dispatch (AVX-512, AVX2+FMA, SSE2), selected by
 * "precision": "fast". One binary runs on any x86-64.
 *
 * Owns: tb__fast_sweep_tile(), tb_fast_covers(), tb_fast_isa(), tb__fast_sincos() (the unit
 * tests' accuracy hook).
 * Threads: reentrant; the ISA probe is a pure CPUID query.
 *
 * Coverage: every model. One-dimensional single-term models (the paper's
 * cases and the quadratic) run in a kernel that keeps each lane's state in
 * registers; d > 1 or several cosine terms run in the d-dimensional kernel,
 * which keeps coordinate-major lane arrays on the heap.
 * Built with -ffp-contract=fast (FMA allowed), unlike the reference path.
 * A tile runs with subnormals flushed to zero (the thread's MXCSR is
 * restored before return).
 */
#define _GNU_SOURCE /* sincos */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_int.h"
#include "tb.h"
#include "tb_int.h"

/* pi in two parts: the first has 33 significant bits, so n * FAST_PI_1
 * and x - n * FAST_PI_1 are exact for |n| < 2^20, which |x| <= FAST_BIG
 * guarantees; the second is the rest, rounded (n times its error is below
 * 1e-20). */
#define FAST_PI_1 0x1.921fb544p+1
#define FAST_PI_2 0x1.0b4611a626331p-33
#define FAST_ONE_OVER_PI 0x1.45f306dc9c883p-2
#define FAST_BIG 1.5e6

/* Near-minimax coefficients of sin r = r + r^3 P(r^2) and
 * cos r = 1 - r^2/2 + r^4 Q(r^2) on |r| <= pi/2, from tools/fit-sincos.py
 * (truncation error about 1e-18). */
#define FAST_S3 -0x1.5555555555555p-3
#define FAST_S5 0x1.1111111111107p-7
#define FAST_S7 -0x1.a01a01a018aaap-13
#define FAST_S9 0x1.71de3a54564dfp-19
#define FAST_S11 -0x1.ae6455a1c0795p-26
#define FAST_S13 0x1.612401540ed0fp-33
#define FAST_S15 -0x1.ae51366b753a9p-41
#define FAST_S17 0x1.89a43bea5b135p-49
/* S: worst truncation error 1.3e-18 */
#define FAST_C4 0x1.5555555555555p-5
#define FAST_C6 -0x1.6c16c16c16c13p-10
#define FAST_C8 0x1.a01a01a019782p-16
#define FAST_C10 -0x1.27e4fb771a78ap-22
#define FAST_C12 0x1.1eed8ea6be897p-29
#define FAST_C14 -0x1.9396fdae91b7cp-37
#define FAST_C16 0x1.ae5a5b5825427p-45
#define FAST_C18 -0x1.5eeac0500ceebp-53
/* C: worst truncation error 1.02e-19 */
/* The same polynomials in units of pi, for the lean loops (fast_kernel.h):
 * sin(pi r) = r (pi + z SP(z)) and cos(pi r) = 1 + z CP(z), z = r^2,
 * |r| <= 1/2; each coefficient is the one above times a power of pi, in
 * 60-digit arithmetic, rounded once (tools/fit-sincos.py prints both). */
#define FAST_PI 0x1.921fb54442d18p+1
#define FAST_SP0 -0x1.4abbce625be52p+2
#define FAST_SP1 0x1.466bc6775aad6p+1
#define FAST_SP2 -0x1.32d2cce62adb7p-1
#define FAST_SP3 0x1.50783486f1709p-4
#define FAST_SP4 -0x1.e3074ee5db54ap-8
#define FAST_SP5 0x1.e8f3b007faa65p-12
#define FAST_SP6 -0x1.6f8669723cc57p-16
#define FAST_SP7 0x1.9ec57f39f1716p-21
#define FAST_CP0 -0x1.3bd3cc9be45dep+2
#define FAST_CP1 0x1.03c1f081b5ac3p+2
#define FAST_CP2 -0x1.55d3c7e3cbff6p+0
#define FAST_CP3 0x1.e1f506891b0c7p-3
#define FAST_CP4 -0x1.a6d1f2a16558bp-6
#define FAST_CP5 0x1.f9d3899ad42f5p-10
#define FAST_CP6 -0x1.b6e1fbae7c316p-14
#define FAST_CP7 0x1.20ad6dd24af91p-18
#define FAST_CP8 -0x1.22675d265119cp-23

#define FAST_RADII 24

struct fast_args {
    const struct tb_spec *spec;
    enum tb_family family;
    uint64_t begin, count;
    double x0, eps;
    double phase_scale; /* 2*pi/lam */
    double grad_scale;  /* 2*pi*eps/lam */
    double sn0, g0;     /* at the start: sin of the phase, 2*(1 + eps*cos) */
    int lean;           /* 1-D lean mode (see fast_kernel.h), with its bounds on x^2: */
    double lean_xc;     /* at most this: f cannot pass the threshold, phase in range */
    double lean_xd;     /* over this: f surely passes the threshold */
    enum tb_opt_kind opt; /* GD, or (lean 1-D only) momentum / Nesterov / Adam */
    double beta;
    double beta1, beta2, adam_eps; /* Adam */
    int proofs;         /* 1: runs may end early on a proof (fast_proved_bounded) */
    double proof_r;     /* additive, quadratic: the largest invariant radius that is bounded */
    int n_radii;        /* multiplicative proofs: the ladder of fast_radius_setup() */
    double radius[FAST_RADII], rad_a[FAST_RADII], rad_b[FAST_RADII];
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

/* Per-ISA code generation for the kernels that follow: GCC's target
 * pragma, or clang's equivalent attribute block. */
#if defined(__clang__)
/* clang-format off */
#define FAST_TARGET_AVX512 _Pragma("clang attribute push(__attribute__((target(\"avx512f,avx512dq,fma\"))), apply_to = function)")
#define FAST_TARGET_AVX2 _Pragma("clang attribute push(__attribute__((target(\"avx2,fma\"))), apply_to = function)")
/* clang-format on */
#define FAST_TARGET_END _Pragma("clang attribute pop")
#else
#define FAST_TARGET_AVX512                                                                         \
    _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512dq,fma\")")
#define FAST_TARGET_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define FAST_TARGET_END _Pragma("GCC pop_options")
#endif

/*
 * Proofs: a run whose verdict is already certain ends early, with the
 * label it would have reached after all T steps (1-D runs of plain GD:
 * lean ones of every family, and additive and quadratic ones under every
 * criterion). Both are exact, not
 * approximations: a proof holds for the rounded arithmetic of the loops in
 * fast_kernel.h, with margins far above its rounding.
 *
 * Additive and quadratic: the lean update is x' = g x + b sin(.), with
 * g = 1 - 2s and b = s * 2 pi eps / lam (0 for the quadratic), and
 * |sin| <= 1. If q = |g| < 1, every |x| <= R = max(|x0|, |b| / (1 - q)) maps
 * into |x'| <= q R + |b| <= R. So when R <= xr (the lean loop's own bound
 * under which f cannot pass the threshold; for the other criteria, R^2 +
 * |eps| under the threshold, or under threshold / T for the loss sum), the
 * run stays bounded for all T steps: it is decided before its first step. On [L]'s grid [0, 1.5]
 * that is every rate below about 0.9994, two thirds of the grid and almost all of the bounded
 * (full-length) runs.
 *
 * Multiplicative: x' = x h(x), h = 1 - s G + s c1 x sin(k x), with
 * G = 2 (1 + eps cos(k x)), k = 2 pi / lam, c1 = k eps. On |x| <= r with
 * k r <= pi / 2, cos(k x) lies in [cos(k r), 1] and x sin(k x) in
 * [0, r sin(k r)], which bound h. If |h| <= 1 - 2^-20 there, |x| only
 * shrinks once it is inside r: bounded for ever. fast_radius() finds the
 * largest such r for a rate (0 when there is none), and the loop ends a
 * run whose |x| is at most that (also covering x == 0 exactly, a fixed
 * point).
 */
#define FAST_PROOF_ROOM (1.0 - 0x1p-20)

/* 1 when the lean run at learning rate s is certain to stay bounded. */
static int fast_proved_bounded(const struct fast_args *a, double s)
{
    double q, b, R;

    if (!a->proofs || a->family == TB_MULTIPLICATIVE || !(fabs(a->x0) < INFINITY))
        return 0;
    q = fabs(1.0 - 2.0 * s) + 0x1p-48;
    b = a->family == TB_ADDITIVE ? fabs(s * a->grad_scale) * (1.0 + 0x1p-48) : 0.0;
    if (!(q < FAST_PROOF_ROOM))
        return 0;
    R = fmax(fabs(a->x0), b / (1.0 - q));
    return R <= a->proof_r;
}

/* The multiplicative lean run's proof radius at rate s (see above), or 0:
 * the largest radius of fast_radius_setup()'s ladder where
 * |1 + s A| and |1 - s B| are both within the room. */
static double fast_radius(const struct fast_args *a, double s)
{
    int j;

    if (!(s >= 0.0))
        return 0.0;
    for (j = 0; j < a->n_radii; j++) {
        if (fabs(1.0 + s * a->rad_a[j]) <= FAST_PROOF_ROOM &&
            fabs(1.0 - s * a->rad_b[j]) <= FAST_PROOF_ROOM)
            return a->radius[j];
    }
    return 0.0;
}

/* The ladder of proof radii r_j = (pi / 2k) 2^-j (multiplicative lean runs
 * with proofs on): on |x| <= r_j, h lies in [1 + s A_j, 1 - s B_j] for
 * every rate s >= 0, so fast_radius() costs two tests per rung. */
static void fast_radius_setup(struct fast_args *a)
{
    const double k = fabs(a->phase_scale), eps = a->eps, c1 = a->grad_scale;
    const double xr = sqrt(a->lean_xc) * FAST_PROOF_ROOM;
    double r = (TB_TWO_PI / 4.0) / k;
    int j;

    a->n_radii = 0;
    if (!a->proofs || a->family != TB_MULTIPLICATIVE || !isfinite(r))
        return;
    for (j = 0; j < FAST_RADII; j++, r *= 0.5) {
        const double cr = cos(k * r), t = c1 * r * sin(k * r);
        const double elo = eps >= 0.0 ? eps * cr : eps, ehi = eps >= 0.0 ? eps : eps * cr;

        if (!(r <= xr))
            continue;
        a->rad_a[a->n_radii] = -2.0 * (1.0 + ehi) + fmin(0.0, t);
        a->rad_b[a->n_radii] = 2.0 * (1.0 + elo) - fmax(0.0, t);
        a->radius[a->n_radii] = r * FAST_PROOF_ROOM;
        a->n_radii++;
    }
}

FAST_TARGET_AVX512
#define FK_W 8
#define FK_NAME(x) x##_avx512
#define FK_ANY(m) ((int)_mm512_test_epi64_mask((__m512i)(m), (__m512i)(m)))
#define FK_SQRT(x) ((vd_avx512)_mm512_sqrt_pd((__m512d)(x)))
#include "fast_kernel.h"
#undef FK_W
#undef FK_NAME
#undef FK_ANY
#undef FK_SQRT
FAST_TARGET_END

FAST_TARGET_AVX2
#define FK_W 4
#define FK_NAME(x) x##_avx2
#define FK_ANY(m) _mm256_movemask_pd((__m256d)(m))
#define FK_SQRT(x) ((vd_avx2)_mm256_sqrt_pd((__m256d)(x)))
#include "fast_kernel.h"
#undef FK_W
#undef FK_NAME
#undef FK_ANY
#undef FK_SQRT
FAST_TARGET_END

#define FK_W 2
#define FK_NAME(x) x##_sse2
#define FK_ANY(m) _mm_movemask_pd((__m128d)(m))
#define FK_SQRT(x) ((vd_sse2)_mm_sqrt_pd((__m128d)(x)))
#include "fast_kernel.h"
#undef FK_W
#undef FK_NAME
#undef FK_ANY
#undef FK_SQRT

/* TRAINBOUND_PROOFS=off runs every lean run to its end, proofs or not
 * (benchmarks of the kernel itself, and the tests that compare the two);
 * the labels are the same either way. Read at each call: no state. */
static int fast_env_proofs(void)
{
    const char *e = getenv("TRAINBOUND_PROOFS");

    return !(e && strcmp(e, "off") == 0);
}

/*
 * Lean mode for 1-D single-term runs judged by max loss with NaN
 * divergent: the bounds on x^2 that let the hot loop skip f (see
 * fast_kernel.h). The margins of 2^-30 cover rounding in f.
 */
static int fast_lean_ok(const struct tb_spec *sp)
{
    const struct tb_model *m = &sp->model;
    const double M = sp->threshold, ae = m->n_terms == 1 ? fabs(m->terms[0].amplitude) : 0.0;

    if (m->dim != 1 || m->n_terms > 1 || sp->criterion != TB_MAX_LOSS ||
        sp->nan_policy != TB_NAN_DIVERGENT || !isfinite(M) || !(M > 0.0))
        return 0;
    if (m->family == TB_ADDITIVE)
        return M > 4.0 * ae;
    if (m->family == TB_MULTIPLICATIVE)
        return ae < 1.0;
    return 1;
}

/* Plain GD everywhere; momentum and Nesterov (loop_1d_mom) and Adam
 * (loop_1d_adam) in lean mode. */
int tb_fast_covers(const struct tb_spec *spec)
{
    if (!tb_model_cos_only(&spec->model))
        return 0; /* poly and gauss terms: reference only (issue 16) */
    switch (spec->opt.kind) {
    case TB_OPT_GD:
        return 1;
    case TB_OPT_MOMENTUM:
    case TB_OPT_NESTEROV:
    case TB_OPT_ADAM:
        return fast_lean_ok(spec);
    default:
        return 0;
    }
}

static void fast_lean_setup(struct fast_args *a)
{
    const double M = a->threshold, ae = fabs(a->eps), room = 1.0 - 0x1p-30;
    const double kb = a->family == TB_QUADRATIC ? INFINITY : FAST_BIG / fabs(a->phase_scale);

    a->lean = fast_lean_ok(a->spec);
    if (a->family == TB_ADDITIVE) {
        a->lean_xc = fmin(M - 2.0 * ae, kb * kb) * room;
        a->lean_xd = (M + 2.0 * ae) / room;
    } else if (a->family == TB_MULTIPLICATIVE) {
        a->lean_xc = fmin(M / (1.0 + ae), kb * kb) * room;
        a->lean_xd = M / (1.0 - ae) / room;
    } else {
        a->lean_xc = a->lean_xd = M; /* f = x^2 exactly */
    }
    a->proofs = a->opt == TB_OPT_GD && fast_env_proofs() && isfinite(M) && M > 0.0;
    if (a->lean) {
        a->proof_r = sqrt(a->lean_xc) * FAST_PROOF_ROOM;
    } else if (a->family != TB_MULTIPLICATIVE) {
        /* the other criteria: |x| <= R keeps f <= R^2 + |eps| at every step,
         * so the loss sum under T (R^2 + |eps|) */
        const double cap =
            (a->criterion == TB_LOSS_SUM ? M / (double)a->steps : M) * FAST_PROOF_ROOM - ae;
        a->proof_r = cap > 0.0 ? sqrt(cap) * FAST_PROOF_ROOM : 0.0;
        a->proofs = a->proofs && cap > 0.0;
    } else {
        a->proofs = 0; /* the contraction radius is the lean loop's */
    }
}

/* TRAINBOUND_ISA=avx512|avx2|sse2 caps the fast path for the whole
 * process (benchmarks and tests of the narrower kernels on a wide CPU);
 * a spec's own isa_cap, when set, wins. Read at each call: no state. */
static enum tb_isa fast_env_cap(void)
{
    const char *e = getenv("TRAINBOUND_ISA");

    if (!e)
        return TB_ISA_BEST;
    if (strcmp(e, "sse2") == 0)
        return TB_ISA_SSE2;
    if (strcmp(e, "avx2") == 0)
        return TB_ISA_AVX2;
    if (strcmp(e, "avx512") == 0)
        return TB_ISA_AVX512;
    return TB_ISA_BEST;
}

/* The best ISA this CPU has, capped by cap (or by TRAINBOUND_ISA). */
static enum tb_isa fast_pick(enum tb_isa cap)
{
    enum tb_isa best = TB_ISA_SSE2;

    if (cap == TB_ISA_BEST)
        cap = fast_env_cap();
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

void tb__fast_sincos(enum tb_isa cap, const double *x, double *s, double *c, size_t n)
{
    switch (fast_pick(cap)) {
    case TB_ISA_AVX512:
        sincos_array_avx512(x, s, c, n);
        break;
    case TB_ISA_AVX2:
        sincos_array_avx2(x, s, c, n);
        break;
    default:
        sincos_array_sse2(x, s, c, n);
        break;
    }
}

int tb__fast_sweep_tile(const struct tb_spec *spec, uint64_t begin, uint64_t count, uint64_t *out,
                        const atomic_int *cancel, tb_progress_fn progress, void *progress_user,
                        struct tb_tile_stats *stats)
{
    const struct tb_model *m = &spec->model;
    struct fast_args a;
    uint64_t lane_steps = 0, divergent = 0, proved = 0;
    unsigned csr;
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
    a.sn0 = 0.0;
    a.g0 = 2.0 * (1.0 + a.eps);
    if (m->family != TB_QUADRATIC && m->n_terms == 1) {
        double cs0;
        sincos(a.x0 * a.phase_scale, &a.sn0, &cs0);
        a.g0 = 2.0 * (1.0 + a.eps * cs0);
    }
    a.opt = spec->opt.kind;
    a.beta = spec->opt.beta;
    a.beta1 = spec->opt.beta1;
    a.beta2 = spec->opt.beta2;
    a.adam_eps = spec->opt.eps;
    a.steps = spec->steps;
    a.criterion = spec->criterion;
    a.threshold = spec->threshold;
    a.nan_divergent = spec->nan_policy == TB_NAN_DIVERGENT;
    a.cancel = cancel;
    a.progress = progress;
    a.progress_user = progress_user;
    if (!nd) {
        fast_lean_setup(&a);
        fast_radius_setup(&a);
    }

    memset(out, 0, tb_label_words(count) * sizeof *out);
    /* Flush subnormals to zero for this tile (restored below): a run that
     * converges to 0, as most bounded multiplicative runs do, would
     * otherwise take a microcode assist on every step once |x| < 1e-308,
     * which made the multiplicative sweep 1.4x slower. Such a run stays
     * bounded either way, so no label depends on it. */
    csr = _mm_getcsr();
    _mm_setcsr(csr | _MM_FLUSH_ZERO_ON | _MM_DENORMALS_ZERO_ON);
    switch (fast_pick(spec->isa_cap)) {
    case TB_ISA_AVX512:
        rc = nd ? sweep_nd_avx512(&a, out, &lane_steps, &divergent)
                : sweep_1d_avx512(&a, out, &lane_steps, &divergent, &proved);
        break;
    case TB_ISA_AVX2:
        rc = nd ? sweep_nd_avx2(&a, out, &lane_steps, &divergent)
                : sweep_1d_avx2(&a, out, &lane_steps, &divergent, &proved);
        break;
    default:
        rc = nd ? sweep_nd_sse2(&a, out, &lane_steps, &divergent)
                : sweep_1d_sse2(&a, out, &lane_steps, &divergent, &proved);
        break;
    }
    _mm_setcsr(csr);
    if (rc != TB_OK)
        return rc;
    if (progress)
        progress(progress_user, count);
    if (stats) {
        stats->points = count;
        stats->divergent = divergent;
        stats->lane_steps = lane_steps;
        stats->proved = proved;
    }
    return TB_OK;
}
