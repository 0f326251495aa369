/*
 * fast_kernel.h - the SIMD lane engine, written once and instantiated per
 * ISA by fast.c (AVX-512, AVX2+FMA, SSE2) under `#pragma GCC target`.
 * Included only by fast.c, with FK_W (doubles per vector), FK_NAME(x)
 * (name suffix) and FK_ANY(mask) (non-zero if any lane of a mask is set)
 * defined. Runs on the caller's thread; reentrant.
 *
 * Each lane is one learning rate. FK_U vectors are stepped together so
 * that the latency of one sine hides behind the others, and a lane whose
 * run ends (divergent, bounded early, or T steps done) is refilled at
 * once with the next point of the tile, so early-stopped lanes never idle.
 *
 * Accuracy: sin/cos use Cody-Waite reduction by pi/2 in three parts and
 * Taylor polynomials to r^15 / r^16 on |r| <= pi/4 (truncation below
 * 1e-16), within a few ulp of libm; arguments past 1.5e6 or non-finite
 * go to libm lane by lane. Labels may differ from the reference path only
 * where the dynamics are chaotic (tests and `make bench` measure it).
 */

#define FK_VD FK_NAME(vd)
#define FK_VL FK_NAME(vl)
typedef double FK_VD __attribute__((vector_size(FK_W * 8), aligned(FK_W * 8)));
typedef long long FK_VL __attribute__((vector_size(FK_W * 8), aligned(FK_W * 8)));

#define FK_U 4 /* vectors in flight */
#define FK_L (FK_W * FK_U)

static inline __attribute__((always_inline)) FK_VD FK_NAME(sel)(FK_VL m, FK_VD a, FK_VD b)
{
    return (FK_VD)(((FK_VL)a & m) | ((FK_VL)b & ~m));
}

#define FK_EACH(u) _Pragma("GCC unroll 8") for (u = 0; u < FK_U; u++)

/* sin and cos of FK_U vectors at once: each stage runs over all vectors so
 * that FK_U independent polynomial chains are in flight together. */
static inline __attribute__((always_inline)) void FK_NAME(vsincos)(const FK_VD *x, FK_VD *s,
                                                                  FK_VD *c)
{
    const FK_VD magic = (FK_VD){0} + 0x1.8p52;
    FK_VD n[FK_U], r[FK_U], r2[FK_U], ps[FK_U], pc[FK_U];
    FK_VL q[FK_U], big = (FK_VL){0};
    int u, i;

    FK_EACH(u)
    {
        FK_VD t = x[u] * FAST_TWO_OVER_PI + magic;
        n[u] = t - magic;
        q[u] = (FK_VL)t & 3;
    }
    FK_EACH(u) r[u] = x[u] - n[u] * FAST_PIO2_1;
    FK_EACH(u) r[u] = r[u] - n[u] * FAST_PIO2_2;
    FK_EACH(u) r[u] = r[u] - n[u] * FAST_PIO2_3;
    FK_EACH(u) r2[u] = r[u] * r[u];
    FK_EACH(u) ps[u] = r2[u] * FAST_S15 + FAST_S13;
    FK_EACH(u) pc[u] = r2[u] * FAST_C16 + FAST_C14;
    FK_EACH(u) ps[u] = ps[u] * r2[u] + FAST_S11;
    FK_EACH(u) pc[u] = pc[u] * r2[u] + FAST_C12;
    FK_EACH(u) ps[u] = ps[u] * r2[u] + FAST_S9;
    FK_EACH(u) pc[u] = pc[u] * r2[u] + FAST_C10;
    FK_EACH(u) ps[u] = ps[u] * r2[u] + FAST_S7;
    FK_EACH(u) pc[u] = pc[u] * r2[u] + FAST_C8;
    FK_EACH(u) ps[u] = ps[u] * r2[u] + FAST_S5;
    FK_EACH(u) pc[u] = pc[u] * r2[u] + FAST_C6;
    FK_EACH(u) ps[u] = ps[u] * r2[u] + FAST_S3;
    FK_EACH(u) pc[u] = pc[u] * r2[u] + FAST_C4;
    FK_EACH(u) ps[u] = r[u] + (r[u] * r2[u]) * ps[u];
    FK_EACH(u) pc[u] = (1.0 - 0.5 * r2[u]) + (r2[u] * r2[u]) * pc[u];
    FK_EACH(u)
    {
        FK_VL odd = (q[u] & 1) != 0;
        FK_VL sneg = (q[u] & 2) << 62;
        FK_VL cneg = ((q[u] ^ (q[u] >> 1)) & 1) << 63;
        s[u] = (FK_VD)((FK_VL)FK_NAME(sel)(odd, pc[u], ps[u]) ^ sneg);
        c[u] = (FK_VD)((FK_VL)FK_NAME(sel)(odd, ps[u], pc[u]) ^ cneg);
        /* |x| <= 1.5e6 keeps n*PIO2_1 and n*PIO2_2 exact; NaN fails it. */
        big |= ~(((FK_VD)((FK_VL)x[u] & 0x7fffffffffffffffLL)) <= 1.5e6);
    }
    if (__builtin_expect(FK_ANY(big) != 0, 0)) {
        for (u = 0; u < FK_U; u++) {
            for (i = 0; i < FK_W; i++) {
                if (!(fabs(x[u][i]) <= 1.5e6)) {
                    double si, ci;
                    sincos(x[u][i], &si, &ci);
                    s[u][i] = si;
                    c[u][i] = ci;
                }
            }
        }
    }
}

/* Which point each lane runs, and the tile's tallies. */
struct FK_NAME(book) {
    int64_t idx[FK_L]; /* point offset in the tile, or -1 for an idle lane */
    uint64_t next;     /* next point to hand out */
    uint64_t finished, lane_steps, divergent;
    int active; /* lanes with a point */
};

/* Gives lane l the tile's next point: returns 1 and its learning rate in
 * *s, or 0 (the lane goes idle, *s = 0) when none is left. */
static inline int FK_NAME(take)(const struct fast_args *a, struct FK_NAME(book) *b, int l,
                                double *s)
{
    if (b->next < a->count) {
        b->idx[l] = (int64_t)b->next;
        *s = fast_lr(a, b->next);
        b->next++;
        return 1;
    }
    b->idx[l] = -1;
    *s = 0.0;
    b->active--;
    return 0;
}

/* Lane l's run ended after `steps` steps: records its label, then takes
 * the next point (see take). */
static inline int FK_NAME(retire)(const struct fast_args *a, struct FK_NAME(book) *b,
                                  uint64_t *out, int l, int divergent, uint64_t steps, double *s)
{
    uint64_t j = (uint64_t)b->idx[l];

    b->lane_steps += steps;
    if (divergent) {
        out[j >> 6] |= (uint64_t)1 << (j & 63);
        b->divergent++;
    }
    b->finished++;
    return FK_NAME(take)(a, b, l, s);
}

/*
 * The verdict of a vector of runs whose loss after step tt is f (the same
 * rules as sweep.c's judge_step/judge_final). valid masks the lanes being
 * judged; the others keep their sums. Returns the lanes that stop, and the
 * divergent ones in *dv.
 */
static inline __attribute__((always_inline)) FK_VL FK_NAME(judge)(const struct fast_args *a,
                                                                  FK_VD f, FK_VD *sum, FK_VD tt,
                                                                  FK_VL valid, FK_VL *dv)
{
    const double M = a->threshold, T = (double)a->steps;
    FK_VL d, stop, nonfin;

    if (a->criterion == TB_MAX_LOSS) {
        d = f > M;
    } else if (a->criterion == TB_LOSS_SUM) {
        *sum = FK_NAME(sel)(valid, *sum + f, *sum);
        d = *sum >= M;
    } else {
        d = (tt == T) & (f >= M);
    }
    nonfin = ~(((FK_VD)((FK_VL)f & 0x7fffffffffffffffLL)) <= 0x1.fffffffffffffp1023);
    if (a->nan_divergent) {
        d = d | nonfin;
        stop = d;
    } else {
        stop = d | (f != f);
        if (a->criterion == TB_LOSS_SUM)
            stop = stop | (*sum != *sum);
    }
    stop = (stop | (tt == T)) & valid;
    *dv = d; /* read only where the returned mask is set */
    return stop;
}

/*
 * Sweeps a tile of a one-dimensional, single-term model. Same contract as
 * tb_sweep_tile for out/cancel/progress; writes lane-steps and divergent.
 */
static int FK_NAME(sweep_1d)(const struct fast_args *a, uint64_t *out, uint64_t *lane_steps_out,
                             uint64_t *divergent_out)
{
    FK_VD x[FK_U], s[FK_U], sn[FK_U], cs[FK_U], sum[FK_U], t[FK_U];
    FK_VL live[FK_U];
    struct FK_NAME(book) b = {.active = FK_L};
    uint64_t last_progress = 0;
    const double k = a->phase_scale, eps = a->eps, c1 = a->grad_scale;
    unsigned iter = 0;
    int u, i;
    double sn0, cs0;

    sincos(a->x0 * k, &sn0, &cs0);
    for (u = 0; u < FK_U; u++) {
        for (i = 0; i < FK_W; i++) {
            live[u][i] = FK_NAME(take)(a, &b, u * FK_W + i, &s[u][i]) ? -1 : 0;
            x[u][i] = a->x0;
            sn[u][i] = sn0;
            cs[u][i] = cs0;
            sum[u][i] = 0.0;
            t[u][i] = 0.0;
        }
    }

    while (b.active > 0) {
        FK_VL done[FK_U], div[FK_U], any = (FK_VL){0};
        FK_VD ph[FK_U], f[FK_U];

        if (a->family == TB_ADDITIVE) {
            FK_EACH(u)
            {
                x[u] = x[u] - s[u] * (2.0 * x[u] - c1 * sn[u]);
                ph[u] = x[u] * k;
            }
            FK_NAME(vsincos)(ph, sn, cs);
            FK_EACH(u) f[u] = x[u] * x[u] + eps * cs[u];
        } else if (a->family == TB_MULTIPLICATIVE) {
            FK_EACH(u)
            {
                FK_VD r = x[u] * x[u];
                x[u] = x[u] - s[u] * ((2.0 * x[u]) * (1.0 + eps * cs[u]) - (c1 * r) * sn[u]);
                ph[u] = x[u] * k;
            }
            FK_NAME(vsincos)(ph, sn, cs);
            FK_EACH(u) f[u] = (x[u] * x[u]) * (1.0 + eps * cs[u]);
        } else {
            FK_EACH(u)
            {
                x[u] = x[u] - s[u] * (2.0 * x[u]);
                f[u] = x[u] * x[u];
            }
        }
        FK_EACH(u)
        {
            t[u] = t[u] + 1.0;
            done[u] = FK_NAME(judge)(a, f[u], &sum[u], t[u], live[u], &div[u]);
            any = any | done[u];
        }
        if (!FK_ANY(any))
            goto poll;

        for (u = 0; u < FK_U; u++) {
            unsigned bitsdone = (unsigned)FK_ANY(done[u]);
            while (bitsdone) {
                i = __builtin_ctz(bitsdone);
                bitsdone &= bitsdone - 1;
                if (!FK_NAME(retire)(a, &b, out, u * FK_W + i, div[u][i] != 0,
                                     (uint64_t)t[u][i], &s[u][i]))
                    live[u][i] = 0;
                x[u][i] = a->x0;
                sn[u][i] = sn0;
                cs[u][i] = cs0;
                sum[u][i] = 0.0;
                t[u][i] = 0.0;
            }
        }
        if (a->progress && b.finished - last_progress >= 1024) {
            a->progress(a->progress_user, b.finished);
            last_progress = b.finished;
        }
    poll:
        if ((++iter & 255) == 0 && a->cancel &&
            atomic_load_explicit(a->cancel, memory_order_relaxed))
            return TB_ECANCELED;
    }
    *lane_steps_out = b.lane_steps;
    *divergent_out = b.divergent;
    return TB_OK;
}

/*
 * Sweeps a tile of any model (d >= 1, any number of cosine terms). Lanes
 * hold whole runs: coordinate i of the lanes of vector u lives in
 * X[i * FK_U + u]. One iteration evaluates f at the current point of every
 * lane (the point after step tt), judges it when tt >= 1, and moves every
 * lane one step, like sweep.c's run_general. Needs scratch memory: returns
 * TB_ENOMEM if it cannot get it.
 */
static int FK_NAME(sweep_nd)(const struct fast_args *a, uint64_t *out, uint64_t *lane_steps_out,
                             uint64_t *divergent_out)
{
    const struct tb_model *m = &a->spec->model;
    const int d = m->dim, nt = m->n_terms;
    FK_VD s[FK_U], sum[FK_U], t[FK_U];
    FK_VL live[FK_U];
    struct FK_NAME(book) b = {.active = FK_L};
    FK_VD *X, *SN = NULL;
    double kk[TB_MAX_TERMS], ee[TB_MAX_TERMS], gg[TB_MAX_TERMS];
    uint64_t last_progress = 0;
    unsigned iter = 0;
    int u, i, q, rc = TB_OK;

    X = aligned_alloc(FK_W * 8, (size_t)d * FK_U * sizeof *X);
    if (!X)
        return TB_ENOMEM;
    if (m->family == TB_MULTIPLICATIVE) {
        SN = aligned_alloc(FK_W * 8, (size_t)d * FK_U * sizeof *SN);
        if (!SN) {
            free(X);
            return TB_ENOMEM;
        }
    }
    for (q = 0; q < nt; q++) {
        kk[q] = TB_TWO_PI / m->terms[q].wavelength;
        ee[q] = m->terms[q].amplitude;
        gg[q] = TB_TWO_PI * m->terms[q].amplitude / m->terms[q].wavelength;
    }
    for (u = 0; u < FK_U; u++) {
        for (i = 0; i < FK_W; i++) {
            int c;
            live[u][i] = FK_NAME(take)(a, &b, u * FK_W + i, &s[u][i]) ? -1 : 0;
            for (c = 0; c < d; c++)
                X[c * FK_U + u][i] = a->spec->x0 ? a->spec->x0[c] : a->spec->x0_scalar;
            sum[u][i] = 0.0;
            t[u][i] = 0.0;
        }
    }

    while (b.active > 0) {
        FK_VL done[FK_U], div[FK_U], any = (FK_VL){0};
        FK_VD f[FK_U];
        int c;

        FK_EACH(u) f[u] = (FK_VD){0};
        if (m->family == TB_QUADRATIC) {
            for (c = 0; c < d; c++) {
                FK_VD *xc = X + c * FK_U;
                FK_EACH(u)
                {
                    f[u] = f[u] + xc[u] * xc[u];
                    xc[u] = xc[u] - s[u] * (2.0 * xc[u]);
                }
            }
        } else if (m->family == TB_ADDITIVE) {
            for (c = 0; c < d; c++) {
                FK_VD *xc = X + c * FK_U, fi[FK_U], gi[FK_U], ph[FK_U], sv[FK_U], cv[FK_U];
                FK_EACH(u)
                {
                    fi[u] = xc[u] * xc[u];
                    gi[u] = 2.0 * xc[u];
                }
                for (q = 0; q < nt; q++) {
                    FK_EACH(u) ph[u] = xc[u] * kk[q];
                    FK_NAME(vsincos)(ph, sv, cv);
                    FK_EACH(u)
                    {
                        fi[u] = fi[u] + ee[q] * cv[u];
                        gi[u] = gi[u] - gg[q] * sv[u];
                    }
                }
                FK_EACH(u)
                {
                    f[u] = f[u] + fi[u];
                    xc[u] = xc[u] - s[u] * gi[u];
                }
            }
        } else {
            FK_VD r[FK_U], cc[FK_U];
            FK_EACH(u) r[u] = cc[u] = (FK_VD){0};
            for (c = 0; c < d; c++) {
                FK_VD *xc = X + c * FK_U, ph[FK_U], cv[FK_U];
                FK_EACH(u) ph[u] = xc[u] * kk[0];
                FK_NAME(vsincos)(ph, SN + c * FK_U, cv);
                FK_EACH(u)
                {
                    r[u] = r[u] + xc[u] * xc[u];
                    cc[u] = cc[u] + cv[u];
                }
            }
            FK_EACH(u) f[u] = r[u] * (1.0 + ee[0] * cc[u]);
            for (c = 0; c < d; c++) {
                FK_VD *xc = X + c * FK_U, *sc = SN + c * FK_U;
                FK_EACH(u)
                {
                    xc[u] = xc[u] - s[u] * ((2.0 * xc[u]) * (1.0 + ee[0] * cc[u]) -
                                            (gg[0] * r[u]) * sc[u]);
                }
            }
        }
        FK_EACH(u)
        {
            FK_VL valid = live[u] & (t[u] > 0.0);
            done[u] = FK_NAME(judge)(a, f[u], &sum[u], t[u], valid, &div[u]);
            t[u] = t[u] + 1.0;
            any = any | done[u];
        }
        if (!FK_ANY(any))
            goto poll;

        for (u = 0; u < FK_U; u++) {
            unsigned bitsdone = (unsigned)FK_ANY(done[u]);
            while (bitsdone) {
                i = __builtin_ctz(bitsdone);
                bitsdone &= bitsdone - 1;
                if (!FK_NAME(retire)(a, &b, out, u * FK_W + i, div[u][i] != 0,
                                     (uint64_t)t[u][i] - 1, &s[u][i]))
                    live[u][i] = 0;
                for (c = 0; c < d; c++)
                    X[c * FK_U + u][i] = a->spec->x0 ? a->spec->x0[c] : a->spec->x0_scalar;
                sum[u][i] = 0.0;
                t[u][i] = 0.0;
            }
        }
        if (a->progress && b.finished - last_progress >= 1024) {
            a->progress(a->progress_user, b.finished);
            last_progress = b.finished;
        }
    poll:
        if ((++iter & 255) == 0 && a->cancel &&
            atomic_load_explicit(a->cancel, memory_order_relaxed)) {
            rc = TB_ECANCELED;
            break;
        }
    }
    free(X);
    free(SN);
    if (rc == TB_OK) {
        *lane_steps_out = b.lane_steps;
        *divergent_out = b.divergent;
    }
    return rc;
}

#undef FK_VD
#undef FK_VL
#undef FK_U
#undef FK_L
#undef FK_EACH
