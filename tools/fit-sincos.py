#!/usr/bin/env python3
"""fit-sincos.py - derives the fast path's sin/cos polynomial coefficients.

core/fast.c evaluates, on |r| <= pi/2 (after reduction by pi),
    sin r = r + r^3 * P(r^2),   P of degree 7 (terms to r^17),
    cos r = 1 - r^2/2 + r^4 * Q(r^2),   Q of degree 7 (terms to r^18).
P and Q are Chebyshev fits (near-minimax) in 50-digit arithmetic on
[0, (pi/2)^2] widened by 1e-4, since the reduction may overshoot pi/2 by
an ulp. Prints the #defines for core/fast.c and the worst weighted
truncation error (the error in sin or cos itself), which is about 1e-18,
then the same polynomials in units of pi (FAST_SP*, FAST_CP*) for the lean
loops, whose reduction leaves |r| <= 1/2.

Needs mpmath (Debian: python3-mpmath). Run: python3 tools/fit-sincos.py
"""
import mpmath as mp

mp.mp.dps = 50
Z = (mp.pi / 2) ** 2 * mp.mpf("1.0001")


def p_target(z):
    if z == 0:
        return mp.mpf(-1) / 6
    r = mp.sqrt(z)
    return (mp.sin(r) - r) / r**3


def q_target(z):
    if z == 0:
        return mp.mpf(1) / 24
    r = mp.sqrt(z)
    return (mp.cos(r) - 1 + z / 2) / z**2


def fit(name, target, weight, first):
    coef, _ = mp.chebyfit(target, [0, Z], 8, error=True)
    coef = list(reversed(coef))  # lowest degree first
    worst = max(abs(mp.polyval(list(reversed(coef)), z) - target(z)) * weight(z)
                for z in mp.linspace(0, Z, 2000))
    for k, c in enumerate(coef):
        print("#define FAST_%s%d %s" % (name, first + 2 * k, float(c).hex()))
    print("/* %s: worst truncation error %s */" % (name, mp.nstr(worst, 3)))
    return [float(c) for c in coef]


S = fit("S", p_target, lambda z: mp.sqrt(z) ** 3, 3)
C = fit("C", q_target, lambda z: z**2, 4)

# The lean loops' polynomials in units of pi (fast_kernel.h, vsinpi):
# sin(pi r) = r (pi + z SP(z)), cos(pi r) = 1 + z CP(z), z = r^2: the
# rounded coefficients above times powers of pi, rounded once more.
print("#define FAST_PI %s" % float(mp.pi).hex())
for k, c in enumerate(S):
    print("#define FAST_SP%d %s" % (k, float(mp.mpf(c) * mp.pi ** (3 + 2 * k)).hex()))
print("#define FAST_CP0 %s" % float(-mp.pi ** 2 / 2).hex())
for k, c in enumerate(C):
    print("#define FAST_CP%d %s" % (k + 1, float(mp.mpf(c) * mp.pi ** (4 + 2 * k)).hex()))
