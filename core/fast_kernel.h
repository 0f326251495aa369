/*
 * fast_kernel.h - the SIMD lane engine, written once and instantiated per
 * ISA by fast.c (AVX-512, AVX2+FMA, SSE2) under `#pragma GCC target`.
 * Included only by fast.c, with FK_W (doubles per vector), FK_NAME(x)
 * (name suffix), FK_ANY(mask) (a bit per lane of a mask) and FK_SQRT(v)
 * (the ISA's vector square root, correctly rounded) defined.
 * Runs on the caller's thread; reentrant.
 *
 * Each lane is one learning rate. Several vectors (nu) are stepped
 * together so that the latency of one sine hides behind the others, and a lane whose
 * run ends (divergent, or T steps done) is refilled at once with the next
 * point of the tile, so early-stopped lanes never idle. A lane's step
 * count is implicit: it holds the iteration at which its run ends (its
 * deadline), so the hot loop spends one compare per vector on time.
 *
 * Lean mode (max loss with NaN divergent, the paper's CPU runs): the hot
 * loop does not compute f. It compares |x| with a bound below which f
 * cannot pass the threshold and the sine's argument is in range; only a
 * lane over that bound goes to the scalar path, which computes f with
 * libm and judges it exactly. The additive family then needs no cosine.
 * Its sine and cosine work in units of pi (vsinpi below: exact reduction,
 * no Cody-Waite), and a multiplicative run that reaches x = 0 exactly (a
 * fixed point: bounded for ever; with subnormals flushed most bounded runs
 * get there) stops at once; its lane-steps count the steps it ran.
 *
 * Accuracy: sin/cos reduce by pi in two parts (Cody-Waite; the first step
 * is exact for |x| <= 1.5e6) and use near-minimax polynomials to r^17 and
 * r^18 on |r| <= pi/2 (tools/fit-sincos.py; truncation about 1e-18). The
 * error is absolute, at most about 2 ulp of 1 (not relative near the
 * zeros of cos); the unit tests bound it against libm. Larger or
 * non-finite arguments go to libm lane by lane. Labels may differ from the reference path only
 * where the dynamics are chaotic (tests and `make bench` measure it).
 */

#define FK_VD FK_NAME(vd)
#define FK_VL FK_NAME(vl)
typedef double FK_VD __attribute__((vector_size(FK_W * 8), aligned(FK_W * 8)));
typedef long long FK_VL __attribute__((vector_size(FK_W * 8), aligned(FK_W * 8)));

/* Vectors in flight, per loop: a compile-time constant nu <= FK_UMAX
 * after inlining (see sweep_1d for the 1-D choices). */
#define FK_UMAX 8
#define FK_U_ND 4
#ifndef FK_U_ADD
#define FK_U_ADD 5
#endif
#ifndef FK_U_MUL
#define FK_U_MUL 5
#endif
#ifndef FK_U_ADAM
#define FK_U_ADAM 4
#endif
#define FK_L (FK_W * FK_UMAX)
#define FK_AI static inline __attribute__((always_inline))

FK_AI FK_VD FK_NAME(sel)(FK_VL m, FK_VD a, FK_VD b)
{
    return (FK_VD)(((FK_VL)a & m) | ((FK_VL)b & ~m));
}

FK_AI FK_VD FK_NAME(vabs)(FK_VD x)
{
    return (FK_VD)((FK_VL)x & 0x7fffffffffffffffLL);
}

#define FK_EACH(u) _Pragma("GCC unroll 8") for (u = 0; u < nu; u++)

/* x = n*pi + r for nu vectors: r, and a mask whose sign bit is set
 * where n is odd (sin and cos of x are those of r, negated there). */
FK_AI void FK_NAME(reduce)(const int nu, const FK_VD *x, FK_VD *r, FK_VL *odd)
{
    const FK_VD magic = (FK_VD){0} + 0x1.8p52;
    FK_VD n[FK_UMAX];
    int u;

    FK_EACH(u)
    {
        FK_VD t = x[u] * FAST_ONE_OVER_PI + magic;
        n[u] = t - magic;
        odd[u] = (FK_VL)t << 63;
    }
    FK_EACH(u) r[u] = x[u] - n[u] * FAST_PI_1;
    FK_EACH(u) r[u] = r[u] - n[u] * FAST_PI_2;
}

/* Lanes whose argument is out of range (|x| > FAST_BIG, or NaN) get libm's
 * values; c may be NULL for sine only. */
FK_AI void FK_NAME(fixbig)(const int nu, const FK_VD *x, FK_VD *s, FK_VD *c)
{
    FK_VL big = (FK_VL){0};
    int u, i;

    FK_EACH(u) big |= ~(FK_NAME(vabs)(x[u]) <= FAST_BIG);
    if (__builtin_expect(FK_ANY(big) != 0, 0)) {
        for (u = 0; u < nu; u++) {
            for (i = 0; i < FK_W; i++) {
                if (!(fabs(x[u][i]) <= FAST_BIG)) {
                    s[u][i] = sin(x[u][i]);
                    if (c)
                        c[u][i] = cos(x[u][i]);
                }
            }
        }
    }
}

/* sin of nu vectors; each stage runs over all of them, so that nu
 * polynomial chains are in flight together. check: fix out-of-range
 * lanes (see fixbig); the lean loop passes 0 and screens them itself. */
FK_AI void FK_NAME(vsin)(const int nu, const FK_VD *x, FK_VD *s, const int check)
{
    FK_VD r[FK_UMAX], r2[FK_UMAX], p[FK_UMAX];
    FK_VL odd[FK_UMAX];
    int u;

    FK_NAME(reduce)(nu, x, r, odd);
    FK_EACH(u) r2[u] = r[u] * r[u];
    FK_EACH(u) p[u] = r2[u] * FAST_S17 + FAST_S15;
    FK_EACH(u) p[u] = p[u] * r2[u] + FAST_S13;
    FK_EACH(u) p[u] = p[u] * r2[u] + FAST_S11;
    FK_EACH(u) p[u] = p[u] * r2[u] + FAST_S9;
    FK_EACH(u) p[u] = p[u] * r2[u] + FAST_S7;
    FK_EACH(u) p[u] = p[u] * r2[u] + FAST_S5;
    FK_EACH(u) p[u] = p[u] * r2[u] + FAST_S3;
    FK_EACH(u) s[u] = (FK_VD)((FK_VL)(r[u] + (r[u] * r2[u]) * p[u]) ^ odd[u]);
    if (check)
        FK_NAME(fixbig)(nu, x, s, NULL);
}

/* sin and cos of nu vectors (see vsin). */
FK_AI void FK_NAME(vsincos)(const int nu, const FK_VD *x, FK_VD *s, FK_VD *c, const int check)
{
    FK_VD r[FK_UMAX], r2[FK_UMAX], p[FK_UMAX], q[FK_UMAX];
    FK_VL odd[FK_UMAX];
    int u;

    FK_NAME(reduce)(nu, x, r, odd);
    FK_EACH(u) r2[u] = r[u] * r[u];
    FK_EACH(u) p[u] = r2[u] * FAST_S17 + FAST_S15;
    FK_EACH(u) q[u] = r2[u] * FAST_C18 + FAST_C16;
    FK_EACH(u) p[u] = p[u] * r2[u] + FAST_S13;
    FK_EACH(u) q[u] = q[u] * r2[u] + FAST_C14;
    FK_EACH(u) p[u] = p[u] * r2[u] + FAST_S11;
    FK_EACH(u) q[u] = q[u] * r2[u] + FAST_C12;
    FK_EACH(u) p[u] = p[u] * r2[u] + FAST_S9;
    FK_EACH(u) q[u] = q[u] * r2[u] + FAST_C10;
    FK_EACH(u) p[u] = p[u] * r2[u] + FAST_S7;
    FK_EACH(u) q[u] = q[u] * r2[u] + FAST_C8;
    FK_EACH(u) p[u] = p[u] * r2[u] + FAST_S5;
    FK_EACH(u) q[u] = q[u] * r2[u] + FAST_C6;
    FK_EACH(u) p[u] = p[u] * r2[u] + FAST_S3;
    FK_EACH(u) q[u] = q[u] * r2[u] + FAST_C4;
    FK_EACH(u)
    {
        s[u] = (FK_VD)((FK_VL)(r[u] + (r[u] * r2[u]) * p[u]) ^ odd[u]);
        c[u] = (FK_VD)((FK_VL)((1.0 - (0.5 * r[u]) * r[u]) + (r2[u] * r2[u]) * q[u]) ^ odd[u]);
    }
    if (check)
        FK_NAME(fixbig)(nu, x, s, c);
}

/*
 * The lean loops' sine and cosine: sin(pi v) and cos(pi v) of v = x * kpi
 * (kpi = k/pi), the phase in units of pi. The reduction is then
 * v = n + r with |r| <= 1/2, three additions and all of them exact, in
 * place of a multiply and three FMAs; the polynomials are the ones above
 * with r scaled by pi, sin(pi r) = r (pi + z P(z)) and cos(pi r) =
 * 1 + z Q(z), z = r^2. The phase's rounding is the same as that of
 * ph = x * k; the products round the result once more (within about
 * 2.3e-16 of sin(pi v), where the forms above keep the leading term
 * exact). Lean mode keeps |v| far under 2^51 (lean_xc), so nothing
 * here checks the range.
 */
FK_AI void FK_NAME(reduce_pi)(const int nu, const FK_VD *x, const double kpi, FK_VD *r, FK_VL *odd)
{
    const FK_VD magic = (FK_VD){0} + 0x1.8p52;
    int u;

    FK_EACH(u)
    {
        FK_VD v = x[u] * kpi, t = v + magic;
        odd[u] = (FK_VL)t << 63;
        r[u] = v - (t - magic);
    }
}

/* Each stage runs over all nu vectors before the next, as in vsin, so that
 * nu polynomials are in flight together whatever the register allocator
 * does. */
FK_AI void FK_NAME(vsinpi)(const int nu, const FK_VD *x, const double kpi, FK_VD *s)
{
    FK_VD r[FK_UMAX], z[FK_UMAX], p[FK_UMAX];
    FK_VL odd[FK_UMAX];
    int u;

    FK_NAME(reduce_pi)(nu, x, kpi, r, odd);
    FK_EACH(u) z[u] = r[u] * r[u];
    FK_EACH(u) p[u] = z[u] * FAST_SP7 + FAST_SP6;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_SP5;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_SP4;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_SP3;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_SP2;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_SP1;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_SP0;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_PI;
    FK_EACH(u) s[u] = (FK_VD)((FK_VL)(r[u] * p[u]) ^ odd[u]);
}

FK_AI void FK_NAME(vsincospi)(const int nu, const FK_VD *x, const double kpi, FK_VD *s, FK_VD *c)
{
    FK_VD r[FK_UMAX], z[FK_UMAX], p[FK_UMAX], q[FK_UMAX];
    FK_VL odd[FK_UMAX];
    int u;

    FK_NAME(reduce_pi)(nu, x, kpi, r, odd);
    FK_EACH(u) z[u] = r[u] * r[u];
    FK_EACH(u) p[u] = z[u] * FAST_SP7 + FAST_SP6;
    FK_EACH(u) q[u] = z[u] * FAST_CP8 + FAST_CP7;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_SP5;
    FK_EACH(u) q[u] = q[u] * z[u] + FAST_CP6;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_SP4;
    FK_EACH(u) q[u] = q[u] * z[u] + FAST_CP5;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_SP3;
    FK_EACH(u) q[u] = q[u] * z[u] + FAST_CP4;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_SP2;
    FK_EACH(u) q[u] = q[u] * z[u] + FAST_CP3;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_SP1;
    FK_EACH(u) q[u] = q[u] * z[u] + FAST_CP2;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_SP0;
    FK_EACH(u) q[u] = q[u] * z[u] + FAST_CP1;
    FK_EACH(u) p[u] = p[u] * z[u] + FAST_PI;
    FK_EACH(u) q[u] = q[u] * z[u] + FAST_CP0;
    FK_EACH(u)
    {
        s[u] = (FK_VD)((FK_VL)(r[u] * p[u]) ^ odd[u]);
        c[u] = (FK_VD)((FK_VL)(q[u] * z[u] + 1.0) ^ odd[u]);
    }
}

/* sin and cos of n values (the unit tests' accuracy hook). */
static void FK_NAME(sincos_array)(const double *x, double *s, double *c, size_t n)
{
    FK_VD xv[FK_UMAX], sv[FK_UMAX], cv[FK_UMAX];
    const int nu = FK_U_ND;
    size_t j, k;
    int u, i;

    for (j = 0; j < n; j += (size_t)(nu * FK_W)) {
        for (u = 0; u < nu; u++)
            for (i = 0; i < FK_W; i++) {
                k = j + (size_t)(u * FK_W + i);
                xv[u][i] = k < n ? x[k] : 0.0;
            }
        FK_NAME(vsincos)(nu, xv, sv, cv, 1);
        for (u = 0; u < nu; u++)
            for (i = 0; i < FK_W; i++) {
                k = j + (size_t)(u * FK_W + i);
                if (k < n) {
                    s[k] = sv[u][i];
                    c[k] = cv[u][i];
                }
            }
    }
}

/* Which point each lane runs, and the tile's tallies. */
struct FK_NAME(book) {
    int64_t idx[FK_L]; /* point offset in the tile, or -1 for an idle lane */
    uint64_t next;     /* next point to hand out */
    uint64_t finished, lane_steps, divergent;
    uint64_t proved; /* runs ended early on a proof (fast.c, "Proofs") */
    int active;      /* lanes with a point */
};

/* Gives lane l the tile's next point: returns 1 and its learning rate in
 * *s, or 0 (the lane goes idle, *s = 0) when none is left. Points proved
 * bounded before their first step (fast_proved_bounded) are finished here,
 * with their label 0, and never reach a lane. */
static inline int FK_NAME(take)(const struct fast_args *a, struct FK_NAME(book) * b, int l,
                                double *s)
{
    while (b->next < a->count) {
        const uint64_t j = b->next++;
        const double sj = fast_lr(a, j);

        if (fast_proved_bounded(a, sj)) {
            b->finished++;
            b->proved++;
            continue;
        }
        b->idx[l] = (int64_t)j;
        *s = sj;
        return 1;
    }
    b->idx[l] = -1;
    *s = 0.0;
    b->active--;
    return 0;
}

/* Lane l's run ended after `steps` steps: records its label, then takes
 * the next point (see take). */
static inline int FK_NAME(retire)(const struct fast_args *a, struct FK_NAME(book) * b,
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
 * The verdict of a vector of runs whose loss after its latest step is f
 * (the same rules as sweep.c's judge_step/judge_final). atend: the lanes
 * at step T. valid: the lanes being judged; the others keep their sums.
 * Returns the lanes that stop, and the divergent ones in *dv.
 */
FK_AI FK_VL FK_NAME(judge)(const struct fast_args *a, FK_VD f, FK_VD *sum, FK_VL atend, FK_VL valid,
                           FK_VL *dv)
{
    const double M = a->threshold;
    FK_VL d, stop, nonfin;

    if (a->criterion == TB_MAX_LOSS) {
        d = f > M;
    } else if (a->criterion == TB_LOSS_SUM) {
        *sum = FK_NAME(sel)(valid, *sum + f, *sum);
        d = *sum >= M;
    } else {
        d = atend & (f >= M);
    }
    nonfin = ~(FK_NAME(vabs)(f) <= 0x1.fffffffffffffp1023);
    if (a->nan_divergent) {
        d = d | nonfin;
        stop = d;
    } else {
        stop = d | (f != f);
        if (a->criterion == TB_LOSS_SUM)
            stop = stop | (*sum != *sum);
    }
    *dv = d; /* read only where the returned mask is set */
    return (stop | atend) & valid;
}

/* One vector of 1-D lanes, spilled for the scalar path. s: the learning
 * rate (additive lean: times c1); g: 2(1 + eps cos) at x
 * (multiplicative), 1 - 2s (additive lean). dl: the iteration at which
 * the run reaches step T. */
struct FK_NAME(vec1) {
    FK_VD x, s, sn, g, dl, sum, pr;
    FK_VD v; /* momentum and Nesterov: the velocity (else unused) */
    FK_VD m, q, w1, w2; /* Adam: the moments and 1 - beta^t (else unused) */
};

/*
 * The scalar path of the 1-D kernel, for the lanes of one vector (lanes
 * base.. of the book) set in bits, at iteration it. In lean mode it judges
 * them exactly: x^2 under a->lean_xc cannot pass the threshold, over
 * a->lean_xd (or NaN) surely does, and in between f is the core's own
 * tb_loss(); a lane that goes on gets libm's sin/cos. Else dbits holds the
 * divergent lanes. A lane that stops is retired and refilled.
 */
static __attribute__((noinline)) void FK_NAME(settle)(const struct fast_args *a,
                                                      struct FK_NAME(book) * b, uint64_t *out,
                                                      struct FK_NAME(vec1) * v, unsigned bits,
                                                      unsigned dbits, int base, double it, int lean)
{
    const double T = (double)a->steps, eps = a->eps;

    while (bits) {
        int i = __builtin_ctz(bits), div;
        double s;

        bits &= bits - 1;
        if (b->idx[base + i] < 0)
            continue; /* idle lane */
        if (lean) {
            double x = v->x[i], r = x * x;

            if (r <= a->lean_xc) {
                div = 0;
            } else if (r > a->lean_xd || r != r) {
                div = 1;
            } else {
                const double f = tb_loss(&a->spec->model, &x); /* libm, reference order */

                div = !(f <= a->threshold) || f < -0x1.fffffffffffffp1023;
                if (!div && a->family != TB_QUADRATIC) {
                    /* Nesterov takes its gradient at x + beta v */
                    const double p = a->opt == TB_OPT_NESTEROV ? x + a->beta * v->v[i] : x;
                    double si, ci;
                    sincos(p * a->phase_scale, &si, &ci);
                    v->sn[i] = si;
                    if (a->family == TB_MULTIPLICATIVE)
                        v->g[i] = 2.0 * (1.0 + eps * ci);
                }
            }
            if (!div && v->dl[i] != it) {
                if (!(a->family == TB_MULTIPLICATIVE && a->opt == TB_OPT_GD && fabs(x) <= v->pr[i]))
                    continue;
                if (v->pr[i] > 0.0)
                    b->proved++; /* inside its proof radius: bounded for ever */
            }
        } else {
            div = (int)(dbits >> i) & 1;
        }
        if (FK_NAME(retire)(a, b, out, base + i, div, (uint64_t)(T - (v->dl[i] - it)), &s)) {
            v->dl[i] = it + T;
            v->sum[i] = 0.0;
        } else {
            v->dl[i] = INFINITY;   /* idle: never at its end, */
            v->sum[i] = -INFINITY; /* and never past a loss sum */
        }
        v->s[i] = a->family == TB_ADDITIVE && lean && a->opt != TB_OPT_ADAM ? s * a->grad_scale : s;
        v->x[i] = a->x0;
        v->sn[i] = a->sn0;
        v->g[i] = a->family == TB_ADDITIVE && lean ? 1.0 - 2.0 * s : a->g0;
        v->pr[i] = lean ? fast_radius(a, s) : 0.0;
        v->v[i] = 0.0;
        v->m[i] = v->q[i] = v->w1[i] = v->w2[i] = 0.0;
        if (a->opt != TB_OPT_GD && a->family != TB_MULTIPLICATIVE)
            v->g[i] = -2.0 * s; /* loop_1d_mom: v <- beta v + (g p + s sin) */
    }
}

/* The nearest deadline of nu vectors of lanes (INFINITY when all idle). */
FK_AI double FK_NAME(min_dl)(const int nu, const FK_VD *dl)
{
    FK_VD m = dl[0];
    double r;
    int u, i;

    FK_EACH(u) m = FK_NAME(sel)(dl[u] < m, dl[u], m);
    r = m[0];
    for (i = 1; i < FK_W; i++)
        r = m[i] < r ? m[i] : r;
    return r;
}

/*
 * The 1-D kernel's loop for one family (fam), mode (lean) and number of
 * vectors in flight (nu), all compile-time constants after inlining, so
 * the loop has no branches on them.
 */
FK_AI int FK_NAME(loop_1d)(const struct fast_args *a, uint64_t *out, struct FK_NAME(book) * b,
                           const enum tb_family fam, const int lean, const int nu)
{
    FK_VD x[FK_UMAX], s[FK_UMAX], sn[FK_UMAX], g[FK_UMAX], dl[FK_UMAX], sum[FK_UMAX];
    FK_VD pr[FK_UMAX]; /* multiplicative lean: each lane's proof radius */
    const double k = a->phase_scale, eps = a->eps, c1 = a->grad_scale;
    const double eps2 = 2.0 * eps, kpi = k * FAST_ONE_OVER_PI;
    /* |x| <= xr implies x^2 <= lean_xc, in rounded arithmetic too */
    const double xr = sqrt(a->lean_xc) * (1.0 - 0x1p-40);
    const FK_VL ones = ~(FK_VL){0};
    uint64_t last_progress = 0;
    double it = 0.0, next_dl;
    unsigned iter = 0;
    int u, i;

    b->active = nu * FK_W;
    FK_EACH(u)
    {
        for (i = 0; i < FK_W; i++) {
            double si;
            int busy = FK_NAME(take)(a, b, u * FK_W + i, &si);
            s[u][i] = fam == TB_ADDITIVE && lean ? si * c1 : si;
            g[u][i] = fam == TB_ADDITIVE && lean ? 1.0 - 2.0 * si : a->g0;
            dl[u][i] = busy ? (double)a->steps : INFINITY;
            sum[u][i] = busy ? 0.0 : -INFINITY;
            pr[u][i] = lean ? fast_radius(a, si) : 0.0;
        }
        x[u] = (FK_VD){0} + a->x0;
        sn[u] = (FK_VD){0} + a->sn0;
    }
    next_dl = FK_NAME(min_dl)(nu, dl);

    while (b->active > 0) {
        FK_VD ph[FK_UMAX], cs[FK_UMAX], itv;
        FK_VL stop[FK_UMAX], div[FK_UMAX], any = (FK_VL){0};

        it += 1.0;
        itv = (FK_VD){0} + it;
        if (fam == TB_ADDITIVE) {
            if (lean) {
                /* x - s (2x - c1 sin) as (1 - 2s) x + (s c1) sin, with g
                 * holding 1 - 2s and s holding s c1: one FMA deep */
                FK_EACH(u) x[u] = s[u] * sn[u] + g[u] * x[u];
                FK_NAME(vsinpi)(nu, x, kpi, sn);
            } else {
                /* the other criteria keep the rounding they always had */
                FK_EACH(u)
                {
                    x[u] = x[u] - s[u] * (2.0 * x[u] - c1 * sn[u]);
                    ph[u] = x[u] * k;
                }
                FK_NAME(vsincos)(nu, ph, sn, cs, 1);
            }
        } else if (fam == TB_MULTIPLICATIVE) {
            /* g holds G = 2(1 + eps cos): grad = x (G - (c1 x) sin); lean,
             * x - (s x)(G - (c1 x) sin) keeps s x and c1 x off the chain
             * from one sine to the next */
            if (lean) {
                FK_EACH(u) x[u] = x[u] - (s[u] * x[u]) * (g[u] - (c1 * x[u]) * sn[u]);
                FK_NAME(vsincospi)(nu, x, kpi, sn, cs);
            } else {
                FK_EACH(u)
                {
                    x[u] = x[u] - s[u] * (x[u] * (g[u] - (c1 * x[u]) * sn[u]));
                    ph[u] = x[u] * k;
                }
                FK_NAME(vsincos)(nu, ph, sn, cs, 1);
            }
            FK_EACH(u) g[u] = 2.0 + eps2 * cs[u];
        } else {
            FK_EACH(u) x[u] = x[u] - s[u] * (2.0 * x[u]);
        }
        if (lean) {
            FK_EACH(u)
            {
                /* |x| against the root of xc: an AND, not a multiply; a
                 * multiplicative run inside its proof radius (or at
                 * exactly 0) only shrinks from there: bounded */
                const FK_VD ax = FK_NAME(vabs)(x[u]);
                stop[u] = ~(ax <= xr);
                if (fam == TB_MULTIPLICATIVE)
                    stop[u] = stop[u] | (ax <= pr[u]);
                any = any | stop[u];
            }
            /* deadlines only when the nearest one is due: the per-lane
             * compare leaves the hot path, and dl its registers */
            if (__builtin_expect(it >= next_dl, 0)) {
                FK_EACH(u)
                {
                    stop[u] = stop[u] | (dl[u] == itv);
                    any = any | stop[u];
                }
            }
        } else {
            FK_EACH(u)
            {
                FK_VD f;
                if (fam == TB_ADDITIVE)
                    f = x[u] * x[u] + eps * cs[u];
                else if (fam == TB_MULTIPLICATIVE)
                    f = (x[u] * x[u]) * (0.5 * g[u]);
                else
                    f = x[u] * x[u];
                stop[u] = FK_NAME(judge)(a, f, &sum[u], dl[u] == itv, ones, &div[u]);
                any = any | stop[u];
            }
        }
        if (__builtin_expect(FK_ANY(any) != 0, 0)) {
            FK_EACH(u)
            {
                unsigned bits = (unsigned)FK_ANY(stop[u]);
                if (bits) {
                    struct FK_NAME(vec1) v = {.x = x[u], .s = s[u], .sn = sn[u], .g = g[u],
                                              .dl = dl[u], .sum = sum[u], .pr = pr[u]};
                    FK_NAME(settle)
                    (a, b, out, &v, bits, lean ? 0u : (unsigned)FK_ANY(div[u]), u * FK_W, it, lean);
                    x[u] = v.x;
                    s[u] = v.s;
                    sn[u] = v.sn;
                    g[u] = v.g;
                    dl[u] = v.dl;
                    sum[u] = v.sum;
                    pr[u] = v.pr;
                }
            }
            if (lean)
                next_dl = FK_NAME(min_dl)(nu, dl);
            if (a->progress && b->finished - last_progress >= 1024) {
                a->progress(a->progress_user, b->finished);
                last_progress = b->finished;
            }
        }
        if ((++iter & 255) == 0 && a->cancel &&
            atomic_load_explicit(a->cancel, memory_order_relaxed))
            return TB_ECANCELED;
    }
    return TB_OK;
}

/*
 * The lean 1-D loop under heavy ball (nest = 0) or Nesterov momentum
 * (nest = 1), for one family and nu: v <- beta v - s grad f(p), x <- x + v,
 * with p = x (heavy ball) or x + beta v (Nesterov), from v = 0. sn (and g,
 * multiplicative) hold the sine (2 (1 + eps cos)) at p. Additive and
 * quadratic: g holds -2s and s holds s c1, so that -s grad f(p) is
 * g p + s sn. The lean test is on x, the point whose loss is judged; no
 * proofs (they are GD's). Same book, settle() and refills as loop_1d.
 */
FK_AI int FK_NAME(loop_1d_mom)(const struct fast_args *a, uint64_t *out, struct FK_NAME(book) * b,
                               const enum tb_family fam, const int nest, const int nu)
{
    FK_VD x[FK_UMAX], s[FK_UMAX], sn[FK_UMAX], g[FK_UMAX], dl[FK_UMAX], v[FK_UMAX];
    FK_VD p[FK_UMAX]; /* the gradient's point: x, or x + beta v (Nesterov) */
    const double k = a->phase_scale, eps = a->eps, c1 = a->grad_scale, beta = a->beta;
    const double eps2 = 2.0 * eps, kpi = k * FAST_ONE_OVER_PI;
    const double xr = sqrt(a->lean_xc) * (1.0 - 0x1p-40);
    uint64_t last_progress = 0;
    double it = 0.0, next_dl;
    unsigned iter = 0;
    int u, i;

    b->active = nu * FK_W;
    FK_EACH(u)
    {
        for (i = 0; i < FK_W; i++) {
            double si;
            int busy = FK_NAME(take)(a, b, u * FK_W + i, &si);
            s[u][i] = fam == TB_ADDITIVE ? si * c1 : si;
            g[u][i] = fam == TB_MULTIPLICATIVE ? a->g0 : -2.0 * si;
            dl[u][i] = busy ? (double)a->steps : INFINITY;
        }
        x[u] = (FK_VD){0} + a->x0;
        p[u] = x[u];
        v[u] = (FK_VD){0};
        sn[u] = (FK_VD){0} + a->sn0;
    }
    next_dl = FK_NAME(min_dl)(nu, dl);

    while (b->active > 0) {
        FK_VD cs[FK_UMAX], itv;
        FK_VL stop[FK_UMAX], any = (FK_VL){0};

        it += 1.0;
        itv = (FK_VD){0} + it;
        /* p is the gradient's point of this step: set after the last one */
        if (fam == TB_ADDITIVE)
            FK_EACH(u) v[u] = beta * v[u] + (g[u] * p[u] + s[u] * sn[u]);
        else if (fam == TB_MULTIPLICATIVE)
            FK_EACH(u) v[u] = beta * v[u] - (s[u] * p[u]) * (g[u] - (c1 * p[u]) * sn[u]);
        else
            FK_EACH(u) v[u] = beta * v[u] + g[u] * p[u];
        FK_EACH(u)
        {
            x[u] = x[u] + v[u];
            p[u] = nest ? x[u] + beta * v[u] : x[u];
        }
        if (fam == TB_ADDITIVE) {
            FK_NAME(vsinpi)(nu, p, kpi, sn);
        } else if (fam == TB_MULTIPLICATIVE) {
            FK_NAME(vsincospi)(nu, p, kpi, sn, cs);
            FK_EACH(u) g[u] = 2.0 + eps2 * cs[u];
        }
        /* |x_t|, |x_t-1| <= sqrt(lean_xd) keeps |p| under about 3 xr: the
         * sine's argument stays in range (see vsinpi) */
        FK_EACH(u)
        {
            stop[u] = ~(FK_NAME(vabs)(x[u]) <= xr);
            any = any | stop[u];
        }
        if (__builtin_expect(it >= next_dl, 0)) {
            FK_EACH(u)
            {
                stop[u] = stop[u] | (dl[u] == itv);
                any = any | stop[u];
            }
        }
        if (__builtin_expect(FK_ANY(any) != 0, 0)) {
            FK_EACH(u)
            {
                unsigned bits = (unsigned)FK_ANY(stop[u]);
                if (bits) {
                    struct FK_NAME(vec1) w = {.x = x[u], .s = s[u], .sn = sn[u], .g = g[u],
                                              .dl = dl[u], .v = v[u]};
                    FK_NAME(settle)(a, b, out, &w, bits, 0u, u * FK_W, it, 1);
                    x[u] = w.x;
                    s[u] = w.s;
                    sn[u] = w.sn;
                    g[u] = w.g;
                    dl[u] = w.dl;
                    v[u] = w.v;
                    p[u] = nest ? x[u] + beta * v[u] : x[u]; /* refills start at x0 */
                }
            }
            next_dl = FK_NAME(min_dl)(nu, dl);
            if (a->progress && b->finished - last_progress >= 1024) {
                a->progress(a->progress_user, b->finished);
                last_progress = b->finished;
            }
        }
        if ((++iter & 255) == 0 && a->cancel &&
            atomic_load_explicit(a->cancel, memory_order_relaxed))
            return TB_ECANCELED;
    }
    return TB_OK;
}

/*
 * The lean 1-D loop under Adam, for one family and nu (tb.h): with
 * gr = grad f(x), m <- b1 m + (1 - b1) gr, q <- b2 q + (1 - b2) gr^2 and
 * x <- x - s (m / w1) / (sqrt(q / w2) + eps), w1 = 1 - b1^t, w2 = 1 - b2^t,
 * from m = q = 0. The loop keeps these scaled by constants that cancel:
 *  - M = m / (1 - b1), W1 = w1 / (1 - b1), Q = q / (1 - b2) and
 *    W2 = w2 / (1 - b2): M <- b1 M + gr, Q <- b2 Q + gr^2, W <- b W + 1
 *    from 0 (one FMA each, Q two), and m / w1 = M / W1, q / w2 = Q / W2.
 *  - A lane is refilled as soon as its run ends, so the lanes of a vector
 *    are at different steps t: W1 and W2 are the lane's own, two FMAs off
 *    the chain through x (a table by t would cost two gathers).
 *  - Multiplying the step's numerator and denominator by W2 leaves one
 *    square root and one division:
 *    x <- x - (s M W2) / (W1 (sqrt(Q W2) + eps W2)); W1 >= 1 and eps > 0
 *    keep the denominator positive.
 *  - Additive and quadratic: gr is half the gradient, x - (c1 / 2) sin
 *    (one FMA; x itself for the quadratic), with eps halved: scaling the
 *    gradient and eps by 1/2 scales M, sqrt(Q W2), the numerator and the
 *    denominator by 1/2 exactly, so the step is the same, bit for bit.
 * sn (and g, multiplicative) hold the sine (2 (1 + eps cos)) at x; s holds
 * the learning rate. The lean test is loop_1d's; no proofs (they are
 * GD's). Same book, settle() and refills as loop_1d.
 */
FK_AI int FK_NAME(loop_1d_adam)(const struct fast_args *a, uint64_t *out,
                                struct FK_NAME(book) * b, const enum tb_family fam, const int nu)
{
    FK_VD x[FK_UMAX], s[FK_UMAX], sn[FK_UMAX], g[FK_UMAX], dl[FK_UMAX];
    FK_VD m[FK_UMAX], q[FK_UMAX], w1[FK_UMAX], w2[FK_UMAX];
    const double k = a->phase_scale, eps = a->eps, eps2 = 2.0 * eps, kpi = k * FAST_ONE_OVER_PI;
    const double half = fam == TB_MULTIPLICATIVE ? 1.0 : 0.5; /* see above */
    const double c1 = a->grad_scale * half, ae = a->adam_eps * half;
    const double b1 = a->beta1, b2 = a->beta2;
    const double xr = sqrt(a->lean_xc) * (1.0 - 0x1p-40);
    uint64_t last_progress = 0;
    double it = 0.0, next_dl;
    unsigned iter = 0;
    int u, i;

    b->active = nu * FK_W;
    FK_EACH(u)
    {
        for (i = 0; i < FK_W; i++) {
            double si;
            int busy = FK_NAME(take)(a, b, u * FK_W + i, &si);
            s[u][i] = si;
            g[u][i] = a->g0;
            dl[u][i] = busy ? (double)a->steps : INFINITY;
        }
        x[u] = (FK_VD){0} + a->x0;
        sn[u] = (FK_VD){0} + a->sn0;
        m[u] = q[u] = w1[u] = w2[u] = (FK_VD){0};
    }
    next_dl = FK_NAME(min_dl)(nu, dl);

    while (b->active > 0) {
        FK_VD cs[FK_UMAX], gr[FK_UMAX], itv;
        FK_VL stop[FK_UMAX], any = (FK_VL){0};

        it += 1.0;
        itv = (FK_VD){0} + it;
        if (fam == TB_ADDITIVE)
            FK_EACH(u) gr[u] = x[u] - c1 * sn[u];
        else if (fam == TB_MULTIPLICATIVE)
            FK_EACH(u) gr[u] = x[u] * (g[u] - (c1 * x[u]) * sn[u]);
        else
            FK_EACH(u) gr[u] = x[u];
        FK_EACH(u)
        {
            m[u] = b1 * m[u] + gr[u];
            q[u] = b2 * q[u] + gr[u] * gr[u];
            w1[u] = b1 * w1[u] + 1.0;
            w2[u] = b2 * w2[u] + 1.0;
        }
        FK_EACH(u)
        {
            const FK_VD num = (s[u] * m[u]) * w2[u];
            const FK_VD den = w1[u] * (FK_SQRT(q[u] * w2[u]) + ae * w2[u]);
            x[u] = x[u] - num / den;
        }
        if (fam == TB_ADDITIVE) {
            FK_NAME(vsinpi)(nu, x, kpi, sn);
        } else if (fam == TB_MULTIPLICATIVE) {
            FK_NAME(vsincospi)(nu, x, kpi, sn, cs);
            FK_EACH(u) g[u] = 2.0 + eps2 * cs[u];
        }
        FK_EACH(u)
        {
            stop[u] = ~(FK_NAME(vabs)(x[u]) <= xr);
            any = any | stop[u];
        }
        if (__builtin_expect(it >= next_dl, 0)) {
            FK_EACH(u)
            {
                stop[u] = stop[u] | (dl[u] == itv);
                any = any | stop[u];
            }
        }
        if (__builtin_expect(FK_ANY(any) != 0, 0)) {
            FK_EACH(u)
            {
                unsigned bits = (unsigned)FK_ANY(stop[u]);
                if (bits) {
                    struct FK_NAME(vec1) w = {.x = x[u], .s = s[u], .sn = sn[u], .g = g[u],
                                              .dl = dl[u], .m = m[u], .q = q[u], .w1 = w1[u],
                                              .w2 = w2[u]};
                    FK_NAME(settle)(a, b, out, &w, bits, 0u, u * FK_W, it, 1);
                    x[u] = w.x;
                    s[u] = w.s;
                    sn[u] = w.sn;
                    g[u] = w.g;
                    dl[u] = w.dl;
                    m[u] = w.m;
                    q[u] = w.q;
                    w1[u] = w.w1;
                    w2[u] = w.w2;
                }
            }
            next_dl = FK_NAME(min_dl)(nu, dl);
            if (a->progress && b->finished - last_progress >= 1024) {
                a->progress(a->progress_user, b->finished);
                last_progress = b->finished;
            }
        }
        if ((++iter & 255) == 0 && a->cancel &&
            atomic_load_explicit(a->cancel, memory_order_relaxed))
            return TB_ECANCELED;
    }
    return TB_OK;
}

/*
 * Sweeps a tile of a one-dimensional, single-term model. Same contract as
 * tb_sweep_tile for out/cancel/progress; writes lane-steps and divergent.
 * Vectors in flight (FK_U_ADD, FK_U_MUL): 5 for both, on every ISA. Chosen
 * on an AMD EPYC with AVX-512 by runs of the two builds interleaved tile by
 * tile in one process (the machine was shared, so separate runs could not
 * tell 10% apart): with the lean loops' sine in units of pi, the additive
 * loop on AVX-512 took 0.78, 0.70, 0.65 and 0.70-0.86 ns per lane-step
 * with 3, 4, 5 and 6 vectors; AVX2 took the same with 3 to 6 (about 1.05);
 * the multiplicative loop is best at 5 on both (6 was 7% slower).
 */
static int FK_NAME(sweep_1d)(const struct fast_args *a, uint64_t *out, uint64_t *lane_steps_out,
                             uint64_t *divergent_out, uint64_t *proved_out)
{
    struct FK_NAME(book) b = {.active = 0};
    int rc;

    if (a->opt == TB_OPT_ADAM) { /* lean only: tb_fast_covers() */
        if (a->family == TB_ADDITIVE)
            rc = FK_NAME(loop_1d_adam)(a, out, &b, TB_ADDITIVE, FK_U_ADAM);
        else if (a->family == TB_MULTIPLICATIVE)
            rc = FK_NAME(loop_1d_adam)(a, out, &b, TB_MULTIPLICATIVE, FK_U_ADAM);
        else
            rc = FK_NAME(loop_1d_adam)(a, out, &b, TB_QUADRATIC, FK_U_ADAM);
    } else if (a->opt != TB_OPT_GD) { /* lean only: tb_fast_covers() */
        const int nest = a->opt == TB_OPT_NESTEROV;
        if (a->family == TB_ADDITIVE)
            rc = nest ? FK_NAME(loop_1d_mom)(a, out, &b, TB_ADDITIVE, 1, FK_U_ADD)
                      : FK_NAME(loop_1d_mom)(a, out, &b, TB_ADDITIVE, 0, FK_U_ADD);
        else if (a->family == TB_MULTIPLICATIVE)
            rc = nest ? FK_NAME(loop_1d_mom)(a, out, &b, TB_MULTIPLICATIVE, 1, FK_U_MUL)
                      : FK_NAME(loop_1d_mom)(a, out, &b, TB_MULTIPLICATIVE, 0, FK_U_MUL);
        else
            rc = nest ? FK_NAME(loop_1d_mom)(a, out, &b, TB_QUADRATIC, 1, FK_U_MUL)
                      : FK_NAME(loop_1d_mom)(a, out, &b, TB_QUADRATIC, 0, FK_U_MUL);
    } else if (a->family == TB_ADDITIVE)
        rc = a->lean ? FK_NAME(loop_1d)(a, out, &b, TB_ADDITIVE, 1, FK_U_ADD)
                     : FK_NAME(loop_1d)(a, out, &b, TB_ADDITIVE, 0, FK_U_ADD);
    else if (a->family == TB_MULTIPLICATIVE)
        rc = a->lean ? FK_NAME(loop_1d)(a, out, &b, TB_MULTIPLICATIVE, 1, FK_U_MUL)
                     : FK_NAME(loop_1d)(a, out, &b, TB_MULTIPLICATIVE, 0, FK_U_MUL);
    else
        rc = a->lean ? FK_NAME(loop_1d)(a, out, &b, TB_QUADRATIC, 1, FK_U_MUL)
                     : FK_NAME(loop_1d)(a, out, &b, TB_QUADRATIC, 0, FK_U_MUL);
    if (rc == TB_OK) {
        *lane_steps_out = b.lane_steps;
        *divergent_out = b.divergent;
        *proved_out = b.proved;
    }
    return rc;
}

/*
 * Sweeps a tile of any model (d >= 1, any number of cosine terms). Lanes
 * hold whole runs: coordinate i of the lanes of vector u lives in
 * X[i * nu + u]. One iteration evaluates f at the current point of every
 * lane (the point after step tt), judges it when tt >= 1, and moves every
 * lane one step, like sweep.c's run_general. Needs scratch memory: returns
 * TB_ENOMEM if it cannot get it.
 */
static int FK_NAME(sweep_nd)(const struct fast_args *a, uint64_t *out, uint64_t *lane_steps_out,
                             uint64_t *divergent_out)
{
    const struct tb_model *m = &a->spec->model;
    const int d = m->dim, nt = m->n_terms;
    FK_VD s[FK_UMAX], sum[FK_UMAX], t[FK_UMAX];
    FK_VL live[FK_UMAX];
    const int nu = FK_U_ND;
    struct FK_NAME(book) b = {.active = nu * FK_W};
    FK_VD *X, *SN = NULL;
    double kk[TB_MAX_TERMS], ee[TB_MAX_TERMS], gg[TB_MAX_TERMS];
    uint64_t last_progress = 0;
    unsigned iter = 0;
    int u, i, q, rc = TB_OK;

    X = aligned_alloc(FK_W * 8, (size_t)d * nu * sizeof *X);
    if (!X)
        return TB_ENOMEM;
    if (m->family == TB_MULTIPLICATIVE) {
        SN = aligned_alloc(FK_W * 8, (size_t)d * nu * sizeof *SN);
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
    for (u = 0; u < nu; u++) {
        for (i = 0; i < FK_W; i++) {
            double si;
            int c;
            live[u][i] = FK_NAME(take)(a, &b, u * FK_W + i, &si) ? -1 : 0;
            s[u][i] = si;
            for (c = 0; c < d; c++)
                X[c * nu + u][i] = a->spec->x0 ? a->spec->x0[c] : a->spec->x0_scalar;
            sum[u][i] = 0.0;
            t[u][i] = 0.0;
        }
    }

    while (b.active > 0) {
        FK_VL done[FK_UMAX], div[FK_UMAX], any = (FK_VL){0};
        FK_VD f[FK_UMAX];
        int c;

        FK_EACH(u) f[u] = (FK_VD){0};
        if (m->family == TB_QUADRATIC) {
            for (c = 0; c < d; c++) {
                FK_VD *xc = X + c * nu;
                FK_EACH(u)
                {
                    f[u] = f[u] + xc[u] * xc[u];
                    xc[u] = xc[u] - s[u] * (2.0 * xc[u]);
                }
            }
        } else if (m->family == TB_ADDITIVE) {
            for (c = 0; c < d; c++) {
                FK_VD *xc = X + c * nu, fi[FK_UMAX], gi[FK_UMAX], ph[FK_UMAX], sv[FK_UMAX],
                      cv[FK_UMAX];
                FK_EACH(u)
                {
                    fi[u] = xc[u] * xc[u];
                    gi[u] = 2.0 * xc[u];
                }
                for (q = 0; q < nt; q++) {
                    FK_EACH(u) ph[u] = xc[u] * kk[q];
                    FK_NAME(vsincos)(nu, ph, sv, cv, 1);
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
            FK_VD r[FK_UMAX], cc[FK_UMAX];
            FK_EACH(u) r[u] = cc[u] = (FK_VD){0};
            for (c = 0; c < d; c++) {
                FK_VD *xc = X + c * nu, ph[FK_UMAX], cv[FK_UMAX];
                FK_EACH(u) ph[u] = xc[u] * kk[0];
                FK_NAME(vsincos)(nu, ph, SN + c * nu, cv, 1);
                FK_EACH(u)
                {
                    r[u] = r[u] + xc[u] * xc[u];
                    cc[u] = cc[u] + cv[u];
                }
            }
            FK_EACH(u) f[u] = r[u] * (1.0 + ee[0] * cc[u]);
            for (c = 0; c < d; c++) {
                FK_VD *xc = X + c * nu, *sc = SN + c * nu;
                FK_EACH(u)
                {
                    xc[u] = xc[u] -
                            s[u] * ((2.0 * xc[u]) * (1.0 + ee[0] * cc[u]) - (gg[0] * r[u]) * sc[u]);
                }
            }
        }
        FK_EACH(u)
        {
            FK_VL valid = live[u] & (t[u] > 0.0);
            done[u] = FK_NAME(judge)(a, f[u], &sum[u], t[u] == (double)a->steps, valid, &div[u]);
            t[u] = t[u] + 1.0;
            any = any | done[u];
        }
        if (!FK_ANY(any))
            goto poll;

        for (u = 0; u < nu; u++) {
            unsigned bitsdone = (unsigned)FK_ANY(done[u]);
            while (bitsdone) {
                i = __builtin_ctz(bitsdone);
                bitsdone &= bitsdone - 1;
                double si;
                if (!FK_NAME(retire)(a, &b, out, u * FK_W + i, div[u][i] != 0,
                                     (uint64_t)t[u][i] - 1, &si))
                    live[u][i] = 0;
                s[u][i] = si;
                for (c = 0; c < d; c++)
                    X[c * nu + u][i] = a->spec->x0 ? a->spec->x0[c] : a->spec->x0_scalar;
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
#undef FK_UMAX
#undef FK_U_ND
#undef FK_U_ADD
#undef FK_U_MUL
#undef FK_U_ADAM
#undef FK_L
#undef FK_EACH
#undef FK_AI
