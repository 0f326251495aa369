#!/bin/sh
# 24-proofs.sh - the fast path's proofs (core/fast.c) end runs early but
# never change a label: for 40 random 1-D specs of every family and
# criterion (amplitude, wavelength, start, steps, threshold, NaN policy and
# rate range drawn from a fixed seed), on every ISA this CPU has, the labels with proofs are those of
# the same run with TRAINBOUND_PROOFS=off, bit for bit, and never take more
# lane-steps; on [L]'s additive case they save most of them.
set -eu
cd "$TB_TMP"

/usr/bin/python3 - "$TB_BIN" <<'PY'
import filecmp, json, os, random, subprocess, sys

tb = sys.argv[1]
rng = random.Random(24)


def run(spec, isa, proofs, tag):
    env = dict(os.environ, TRAINBOUND_ISA=isa, TRAINBOUND_PROOFS="on" if proofs else "off")
    with open("s.json", "w") as fh:
        json.dump(spec, fh)
    p = subprocess.run([tb, "run", "--quiet", "--stats", "--labels", tag + ".npy", "s.json"],
                       env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("trainbound failed on %s: %s" % (json.dumps(spec), p.stderr))
    return json.loads(p.stderr.strip().splitlines()[-1])


isas = []
for isa in ("sse2", "avx2", "avx512"):
    st = run({"model": {"family": "quadratic"}, "lr": {"levels": 2}}, isa, True, "probe")
    if st["isa"] == isa:
        isas.append(isa)
bad = 0
for i in range(40):
    fam = ("additive", "multiplicative", "quadratic")[i % 3]
    model = {"family": fam, "dim": 1}
    if fam != "quadratic":
        model["amplitude"] = rng.uniform(0.0, 0.9)
        model["wavelength"] = 10 ** rng.uniform(-2, 0.5)
    lo = rng.uniform(-0.5, 1.0)
    spec = {"model": model, "x0": rng.choice([1.0, 0.01, 5.0, -3.0, rng.uniform(-10, 10)]),
            "steps": rng.choice([50, 1000, 3000]),
            "divergence": {"criterion": ("max_loss", "max_loss", "loss_sum", "final_loss")[i % 4],
                           "threshold": 10 ** rng.uniform(1, 12),
                           "nan": ("divergent", "bounded")[(i // 4) % 2]},
            "lr": {"min": lo, "max": lo + rng.uniform(0.1, 2.5), "levels": 12}}
    isa = isas[i % len(isas)]
    on, off = run(spec, isa, True, "on"), run(spec, isa, False, "off")
    if not filecmp.cmp("on.npy", "off.npy", shallow=False):
        bad += 1
        print("labels differ on %s (%s)" % (json.dumps(spec), isa))
    if on["lane_steps"] > off["lane_steps"]:
        bad += 1
        print("more lane-steps with proofs on %s (%s)" % (json.dumps(spec), isa))
paper = {"model": {"family": "additive", "dim": 1, "amplitude": 0.2, "wavelength": 0.1},
         "x0": 1.0, "steps": 1000, "lr": {"min": 0.0, "max": 1.5, "levels": 14}}
on, off = run(paper, isas[-1], True, "on"), run(paper, isas[-1], False, "off")
if not (filecmp.cmp("on.npy", "off.npy", shallow=False) and on["lane_steps"] * 10 < off["lane_steps"]):
    bad += 1
    print("paper case: lane-steps %d with proofs, %d without" % (on["lane_steps"], off["lane_steps"]))
sys.exit(1 if bad else 0)
PY
echo ok
