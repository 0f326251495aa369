#!/usr/bin/python3
"""peer_numpy.py - the numpy peer for `make bench`.

A careful numpy implementation of the same sweep, as a researcher would
write it: float64, vectorised over learning rates in chunks, the active
set compacted as runs diverge, both cores used through multiprocessing.
It follows science.md's formulas and the max-loss / loss-sum / final-loss
criteria, so its labels can be compared with trainbound's.

    peer_numpy.py SPEC.json [--procs N] [--chunk N] [--labels OUT.npy]

Prints one JSON line: points, lane_steps, wall_s, counts, divergent.
"""
import argparse
import json
import multiprocessing as mp
import time

import numpy as np

TWO_PI = 2 * np.pi


def run_chunk(args):
    spec, lo, hi = args
    m = spec["model"]
    fam = m["family"]
    eps = m.get("amplitude", 0.0)
    lam = m.get("wavelength", 1.0)
    d = m.get("dim", 1)
    steps = spec.get("steps", 1000)
    div = spec.get("divergence", {})
    crit = div.get("criterion", "max_loss")
    thr = div.get("threshold", 1e16 if crit == "loss_sum" else 1e8 * d)
    nan_div = div.get("nan", "divergent") == "divergent"
    lr = spec.get("lr", {})
    lmin, lmax, k = lr.get("min", 0.0), lr.get("max", 1.5), lr.get("levels", 20)
    x0 = spec.get("x0", 1.0)
    if d != 1 or isinstance(x0, list) or "terms" in m:
        raise SystemExit("peer_numpy: only 1-D single-term specs")

    j = np.arange(lo, hi, dtype=np.float64)
    s_all = np.linspace(lmin, lmax, 2**k + 1)[lo:hi]
    n = hi - lo
    label = np.zeros(n, dtype=bool)
    idx = np.arange(n)
    x = np.full(n, float(x0))
    s = s_all.copy()
    total = np.zeros(n)
    lane_steps = 0
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            if fam == "additive":
                g = 2 * x - 2 * np.pi * eps * np.sin(2 * np.pi * x / lam) / lam
            elif fam == "multiplicative":
                g = (2 * x) * (1 + eps * np.cos(2 * np.pi * x / lam)) - \
                    2 * np.pi * x**2 * eps * np.sin(2 * np.pi * x / lam) / lam
            else:
                g = 2 * x
            x = x - s * g
            if fam == "additive":
                f = x**2 + eps * np.cos(2 * np.pi * x / lam)
            elif fam == "multiplicative":
                f = x**2 * (1 + eps * np.cos(2 * np.pi * x / lam))
            else:
                f = x**2
            lane_steps += x.size
            if crit == "max_loss":
                dv = f > thr
            elif crit == "loss_sum":
                total = total + f
                dv = total >= thr
            else:
                dv = (f >= thr) if t == steps else np.zeros(x.size, dtype=bool)
            bad = ~np.isfinite(f)
            if nan_div:
                dv |= bad
            label[idx[dv]] = True
            keep = ~dv
            if not nan_div:
                keep &= ~np.isnan(f)
            if not keep.all():
                idx, x, s, total = idx[keep], x[keep], s[keep], total[keep]
            if idx.size == 0:
                break
    del j
    return lo, label, lane_steps


def box_counts(labels, k):
    out = []
    for n in range(k + 1):
        sub = labels[:: 2 ** (k - n)]
        out.append(int(np.count_nonzero(sub[1:] != sub[:-1])))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--procs", type=int, default=mp.cpu_count())
    ap.add_argument("--chunk", type=int, default=1 << 16)
    ap.add_argument("--labels")
    a = ap.parse_args()
    with open(a.spec) as fh:
        spec = json.load(fh)
    k = spec.get("lr", {}).get("levels", 20)
    npts = 2**k + 1
    jobs = [(spec, lo, min(lo + a.chunk, npts)) for lo in range(0, npts, a.chunk)]
    t0 = time.perf_counter()
    labels = np.zeros(npts, dtype=bool)
    lane_steps = 0
    with mp.Pool(a.procs) as pool:
        for lo, lab, ls in pool.imap_unordered(run_chunk, jobs):
            labels[lo:lo + lab.size] = lab
            lane_steps += ls
    wall = time.perf_counter() - t0
    if a.labels:
        np.save(a.labels, labels)
    print(json.dumps({"points": npts, "lane_steps": lane_steps, "wall_s": wall,
                      "divergent": int(labels.sum()), "counts": box_counts(labels, k)}))


if __name__ == "__main__":
    main()
