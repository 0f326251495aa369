#!/usr/bin/python3
"""bench.py - `make bench`: trainbound's speed, measured against peers in
the same run, on this machine, with issue 12's targets checked as ratios.

Rows: additive and multiplicative eps=0.2 lam=0.1, x0=1, max_loss 1e8,
1000 steps, at levels 16, 20 and 24, on the fast path, once per ISA: the
best this CPU has and, when that is wider, AVX2 (forced for the whole
process with TRAINBOUND_ISA, which core/fast.c reads). Columns: the ISA,
sweep time with all threads, the lane-steps trainbound executed, ns per
lane-step per core, peak RSS, the 1-thread / all-threads speed-up, the
numpy peer's time (bench/peer_numpy.py, both cores) on the same spec and
the ratio, and the CPU model. Then the fast path against the reference at
levels 20 (identical labels, counts at levels 0-9, D), the peak RSS of a
levels-28 grid, whether a study's cells run on the fast path by default,
the levels-20 jobs through the server against the CLI, this machine's
ceiling on multi-core scaling (bench/fpscale.c), and the targets:

    >= 30x the numpy peer on both families at levels 20
    <= 0.9 ns per lane-step per core, additive, on AVX2
    >= 1.8x from 1 to 2 threads at levels 16 and 20
    server within 1.05x of the CLI
    momentum and Nesterov within 1.3x of plain GD per lane-step, Adam
    within 2x (issue 16)

each computed from this run's own figures and marked PASS or FAIL. Each
row runs twice: as users get it (proofs on: core/fast.c ends a run early
once it is proved bounded, with the same label), which gives the time
against numpy; and with TRAINBOUND_PROOFS=off, every run to its end, which
gives the kernel's ns per lane-step and thread scaling. The server/CLI
target is judged with proofs off, where both do the work they did before
proofs (with proofs on a levels-20 sweep is a few tens of milliseconds and
the ratio measures the job's fixed costs; it is printed as information).

Noise: the machine may be shared, so every timing is the least of
--repeat runs (default 5 at levels <= 20, trainbound's and the peer's
alike; levels 24 runs once), and the runs being compared are interleaved
(peer, default, 1 thread, all threads, for every row and ISA; CLI, then
server). A levels-16 kernel sweep is over in 15-30 ms, where one
preemption by another process moves the time by a scheduler tick (4 ms),
so its 1-thread and all-thread kernel runs are repeated 4x as often
(KERNEL_REPEAT_16; about 0.1 s a pair).
The load average is printed at the start and at the end, and fpscale's
ceiling shows what the load left of the second core.

    bench.py BINARY [--quick] [--peer-max-levels N] [--repeat N] [--fpscale PATH]

Uses only the standard library plus Debian's python3-numpy (for the peer
and the label comparison). Numbers are what this run measured; nothing is
cached.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FAMILIES = ("additive", "multiplicative")
TARGET_VS_NUMPY = 30.0
TARGET_NS_AVX2 = 0.9
TARGET_SPEEDUP = 1.8
TARGET_SERVER = 1.05
KERNEL_REPEAT_16 = 4  # kernel pairs per round at levels <= 16 (see above)


def spec_for(family, levels, precision="fast", steps=1000):
    return {
        "model": {"family": family, "dim": 1, "amplitude": 0.2, "wavelength": 0.1},
        "x0": 1.0, "steps": steps,
        "divergence": {"criterion": "max_loss", "threshold": 1e8, "nan": "divergent"},
        "lr": {"min": 0.0, "max": 1.5, "levels": levels},
        "precision": precision,
    }


def isa_env(isa, proofs=True):
    """The environment of a trainbound run: the ISA cap, and proofs on (the
    default users get) or off (TRAINBOUND_PROOFS=off: every run to its
    end, the kernel's own speed)."""
    env = dict(os.environ)
    env.pop("TRAINBOUND_ISA", None)
    env.pop("TRAINBOUND_PROOFS", None)
    if isa:
        env["TRAINBOUND_ISA"] = isa
    if not proofs:
        env["TRAINBOUND_PROOFS"] = "off"
    return env


def run_tb(binary, spec, threads, tmp, isa=None, labels=None, proofs=True):
    path = os.path.join(tmp, "spec.json")
    with open(path, "w") as fh:
        json.dump(spec, fh)
    argv = [binary, "run", "--quiet", "--stats", "--threads", str(threads), path]
    if labels:
        argv[2:2] = ["--labels", labels]
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=isa_env(isa, proofs))
    # read both pipes, then reap with wait4 for this child's own peak RSS
    out = p.stdout.read()  # stderr holds one --stats line: no deadlock
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("bench: trainbound failed (%d): %s" % (p.returncode, err.decode().strip()))
    stats = json.loads(err.decode().strip().splitlines()[-1])
    return {"wall": wall, "rss": ru.ru_maxrss * 1024, "result": json.loads(out), "stats": stats}


def run_peer(spec, tmp, labels=None):
    path = os.path.join(tmp, "peer.json")
    with open(path, "w") as fh:
        json.dump(spec, fh)
    argv = [sys.executable, os.path.join(HERE, "peer_numpy.py"), path]
    if labels:
        argv += ["--labels", labels]
    t0 = time.perf_counter()
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    res = json.loads(out)
    res["wall_total"] = time.perf_counter() - t0
    return res


def best_runs(binary, spec, ncpu, tmp, n, isa, peer, kernel_pairs=1):
    """n interleaved rounds of (the numpy peer when peer; trainbound on
    ncpu threads as users run it; and with proofs off, kernel_pairs times
    on 1 thread and on ncpu threads): the run with the least time of each (the peer's is None
    when not run), so that the machine's load weighs on the compared runs
    alike."""
    one, allt, dflt, peers = [], [], [], []
    for _ in range(n):
        if peer:
            peers.append(run_peer(spec, tmp))
        dflt.append(run_tb(binary, spec, ncpu, tmp, isa))
        for _ in range(kernel_pairs):
            one.append(run_tb(binary, spec, 1, tmp, isa, proofs=False))
            allt.append(run_tb(binary, spec, ncpu, tmp, isa, proofs=False))
    key = lambda r: r["stats"]["sweep_s"]
    return (min(dflt, key=key), min(one, key=key), min(allt, key=key),
            min(peers, key=lambda r: r["wall_s"]) if peers else None)


class Server:
    """trainbound serve on a free loopback port with a fresh database: a
    SQLite file in tmp, or db (a postgresql:// URI, bench/queue.py), with
    extra flags."""

    def __init__(self, binary, workers, tmp, isa=None, proofs=True, db=None, flags=()):
        self.log = open(os.path.join(tmp, "serve-%d.log" % time.monotonic_ns()), "w+")
        if db is None:
            db = os.path.join(tmp, "bench-%d-%s-%d-%d.db" % (os.getpid(), isa or "best", proofs,
                                                             time.monotonic_ns()))
        self.db = db
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--db", db, "--workers", str(workers)]
            + list(flags), stdout=subprocess.DEVNULL, stderr=self.log, env=isa_env(isa, proofs))
        self.url = None
        for _ in range(200):
            self.log.seek(0)
            for line in self.log:
                if '"listening"' in line:
                    self.url = "http://" + json.loads(line)["addr"]
            if self.url or self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if not self.url:
            sys.exit("bench: the server did not start (see %s)" % self.log.name)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read())

    def job(self, spec):
        """Seconds from POST to a succeeded job, waiting on the job's event
        stream (which ends at the terminal state), as a dashboard would;
        and the job's result (with its "id" added)."""
        t0 = time.perf_counter()
        job = self.call("POST", "/v1/jobs", spec)
        with urllib.request.urlopen(self.url + "/v1/jobs/%s/events" % job["id"]) as stream:
            for _ in stream:
                pass
        wall = time.perf_counter() - t0
        st = self.call("GET", "/v1/jobs/%s" % job["id"])
        if st["status"] != "succeeded":
            sys.exit("bench: server job %s: %s" % (job["id"], st["status"]))
        res = self.call("GET", "/v1/jobs/%s/result" % job["id"])
        res["id"] = job["id"]
        return wall, res

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_avg():
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "unknown"


def numpy_simd():
    try:
        feats = np.core._multiarray_umath.__cpu_features__
        for f in ("AVX512_SKX", "AVX512F", "AVX2", "SSE2"):
            if feats.get(f):
                return f.lower()
    except AttributeError:
        pass
    return "unknown"


def fmt_s(x):
    return "%.3f" % x if x < 100 else "%.0f" % x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--quick", action="store_true", help="levels 16 and 20 only")
    ap.add_argument("--peer-max-levels", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5, help="least of N timings at levels <= 20")
    ap.add_argument("--fpscale", help="bench/fpscale.c, built (optional)")
    a = ap.parse_args()
    ncpu = os.cpu_count() or 1
    levels_list = (16, 20) if a.quick else (16, 20, 24)
    tmp = tempfile.mkdtemp(prefix="tb-bench-")
    cpu = cpu_model()

    best = run_tb(a.binary, spec_for("additive", 6), 1, tmp)["stats"]["isa"]
    tag = "  [isa %s; cpu %s]" % ("+".join([best] + (["avx2"] if best == "avx512" else [])), cpu)
    isas = [best]
    if best == "avx512":
        isas.append("avx2")
    elif best == "sse2":
        print("# note: no AVX2 on this CPU; the AVX2 target cannot be measured" + tag)
    load0 = load_avg()
    print("# trainbound bench  %s" % time.strftime("%Y-%m-%d %H:%M") + tag)
    print("# machine: %s, %d cores; fast-path ISAs measured: %s; numpy %s (its own SIMD: %s)"
          % (cpu, ncpu, ", ".join(isas), np.__version__, numpy_simd()))
    print("# load average at start (1, 5, 15 min): %s" % load0 + tag)
    print("# spec: eps=0.2 lam=0.1 x0=1 max_loss 1e8, 1000 steps, lr [0,1.5], precision fast" + tag)
    print("# sweep_s, lane_steps: trainbound as users run it (%d threads), proofs on: a run"
          " proved bounded ends early (core/fast.c, same labels)" % ncpu + tag)
    print("# kernel_s, kernel_ls: the same sweep with TRAINBOUND_PROOFS=off, every run to its"
          " end: the kernel's own speed" + tag)
    print("# ns/ls/core = kernel_s x threads / kernel_ls; speed-up = 1-thread kernel_s /"
          " %d-thread kernel_s" % ncpu + tag)
    print("# vs numpy = numpy peer wall (%d processes) / sweep_s;"
          " the peer's lane-steps are in its own column" % ncpu + tag)
    print("# timings at levels <= 20: least of %d interleaved runs each (peer, 1 thread, all"
          " threads, per row); levels 24: one run; levels 16's kernel runs: least of %d"
          % (a.repeat, a.repeat * KERNEL_REPEAT_16) + tag)
    if a.fpscale:
        fs = json.loads(subprocess.run([a.fpscale, str(ncpu)], check=True, capture_output=True,
                                       text=True).stdout)
        print("# this machine's ceiling on %d-core scaling (fpscale: vector FMAs on %d cores vs 1): %.2fx"
              % (ncpu, ncpu, fs["scaling"]) + tag)
    print()

    hdr = "%-7s %-15s %6s %9s %12s %9s %12s %10s %7s %12s %8s %9s %8s  %s" % (
        "isa", "family", "levels", "sweep_s", "lane_steps", "kernel_s", "kernel_ls", "ns/ls/core",
        "rss_MiB", "peer_steps", "speedup", "numpy_s", "vs_numpy", "cpu")
    print(hdr)
    print("-" * len(hdr))
    rows = {}
    for isa in isas:
        for fam in FAMILIES:
            for lv in levels_list:
                sp = spec_for(fam, lv)
                rep = a.repeat if lv <= 20 else 1
                dflt, one, allt, peer = best_runs(a.binary, sp, ncpu, tmp, rep, isa,
                                                  lv <= a.peer_max_levels,
                                                  KERNEL_REPEAT_16 if lv <= 16 else 1)
                for r in (dflt, allt):
                    if r["stats"]["isa"] != isa:
                        sys.exit("bench: asked for %s, ran %s" % (isa, r["stats"]["isa"]))
                if dflt["result"]["counts"] != allt["result"]["counts"]:
                    sys.exit("bench: %s %s levels %d: counts differ with proofs on and off"
                             % (isa, fam, lv))
                sw = dflt["stats"]["sweep_s"]
                ks = allt["stats"]["sweep_s"]
                kls = allt["stats"]["lane_steps"]
                nsls = ks * ncpu / kls * 1e9
                speed = one["stats"]["sweep_s"] / ks
                if peer:
                    ratio = peer["wall_s"] / sw
                    pws, rs, psteps = fmt_s(peer["wall_s"]), "%.1fx" % ratio, str(peer["lane_steps"])
                    if peer["counts"][:10] != dflt["result"]["counts"][:10]:
                        pws += "*"
                else:
                    ratio, pws, rs, psteps = None, "skipped", "-", "-"
                rows[(isa, fam, lv)] = {"nsls": nsls, "speed": speed, "ratio": ratio, "sweep": sw}
                print("%-7s %-15s %6d %9s %12d %9s %12d %10.3f %7.1f %12s %7.2fx %9s %8s  %s" % (
                    isa, fam, lv, fmt_s(sw), dflt["stats"]["lane_steps"], fmt_s(ks), kls, nsls,
                    dflt["rss"] / 2**20, psteps, speed, pws, rs, cpu))
                sys.stdout.flush()
    print("(* the peer's counts at levels 0-9 differ from trainbound's)" + tag)
    if not a.quick:
        print("(numpy peer skipped above levels %d: it would take about 16x the levels-20 time)"
              % a.peer_max_levels + tag)

    # optimisers on the fast path (issue 16): ns per lane-step against plain
    # GD in the same run, proofs off so that GD runs every lane to its end
    # as the others do; interleaved, least of --repeat
    print()
    print("%-7s %-15s %-10s %9s %12s %10s %8s  %s" % ("isa", "family", "optimizer", "kernel_s",
                                                      "kernel_ls", "ns/ls/core", "vs_gd", "cpu"))
    opt_ratio = {}
    opts = (("gd", {"name": "gd"}), ("momentum", {"name": "momentum", "beta": 0.5}),
            ("nesterov", {"name": "nesterov", "beta": 0.5}), ("adam", {"name": "adam"}))
    for isa in isas:
        for fam in FAMILIES:
            runs = {name: [] for name, _ in opts}
            for _ in range(a.repeat):
                for name, o in opts:
                    runs[name].append(run_tb(a.binary, dict(spec_for(fam, 20), optimizer=o), ncpu,
                                             tmp, isa, proofs=False))
            ns = {}
            for name, _ in opts:
                r = min(runs[name], key=lambda r: r["stats"]["sweep_s"])
                if r["result"]["engine"]["precision"] != "fast":
                    sys.exit("bench: %s did not run on the fast path" % name)
                ns[name] = r["stats"]["sweep_s"] * ncpu / r["stats"]["lane_steps"] * 1e9
                print("%-7s %-15s %-10s %9s %12d %10.3f %7.2fx  %s" % (
                    isa, fam, name, fmt_s(r["stats"]["sweep_s"]), r["stats"]["lane_steps"],
                    ns[name], ns[name] / ns["gd"], cpu))
                opt_ratio[(isa, fam, name)] = ns[name] / ns["gd"]
            sys.stdout.flush()

    # RSS at levels 28: memory does not depend on the steps, so 10 steps.
    big = run_tb(a.binary, spec_for("additive", 28, steps=10), ncpu, tmp)
    print()
    print("peak RSS, additive levels 28 (2^28+1 points, 10 steps): %.1f MiB  [isa %s, cpu %s]"
          % (big["rss"] / 2**20, big["stats"]["isa"], cpu))

    # fast vs reference at levels 20
    print()
    print("%-7s %-15s %10s %10s %18s %20s %8s  %s" % (
        "isa", "fast vs ref", "identical", "counts0-9", "D fast", "D reference", "|dD|/se", "cpu"))
    refs = {}
    for fam in FAMILIES:
        lr_ = os.path.join(tmp, "r-%s.npy" % fam)
        refs[fam] = (run_tb(a.binary, spec_for(fam, 20, "reference"), ncpu, tmp, labels=lr_)["result"],
                     np.load(lr_))
    for isa in isas:
        for fam in FAMILIES:
            lf = os.path.join(tmp, "f.npy")
            f = run_tb(a.binary, spec_for(fam, 20, "fast"), ncpu, tmp, isa, labels=lf)["result"]
            r, rl = refs[fam]
            same = float(np.mean(np.load(lf) == rl))
            c09 = "equal" if f["counts"][:10] == r["counts"][:10] else "DIFFER"
            df, dr = f["dimension"], r["dimension"]
            se = max(dr["stderr"], 1e-300)
            print("%-7s %-15s %9.4f%% %10s %18s %20s %8.2f  %s" % (
                isa, fam, 100 * same, c09, "%.4f+-%.4f" % (df["value"], df["stderr"]),
                "%.4f+-%.4f" % (dr["value"], dr["stderr"]), abs(df["value"] - dr["value"]) / se,
                cpu))
            sys.stdout.flush()

    # a study's cells run on the fast path unless the base spec says otherwise:
    # its cell's counts are those of the fast single run, not the reference's
    print()
    base = spec_for("multiplicative", 14)
    del base["precision"]
    study = dict(base, vary={"model.amplitude": {"linspace": [0.2, 0.2, 1]}})
    cell = run_tb(a.binary, study, ncpu, tmp)["result"]["cells"][0]["counts"]
    fast1 = run_tb(a.binary, dict(base, precision="fast"), ncpu, tmp)["result"]["counts"]
    ref1 = run_tb(a.binary, dict(base, precision="reference"), ncpu, tmp)["result"]["counts"]
    verdict = ("fast" if cell == fast1 and cell != ref1 else
               "reference" if cell == ref1 and cell != fast1 else "undecided (fast = reference)")
    print("study cell precision by default (CLI, multiplicative levels 14): %s  [isa %s, cpu %s]"
          % (verdict, best, cpu))

    # the same job through the server (POST, then its event stream to the
    # end) against the CLI's whole process; interleaved, least of --repeat
    print()
    print("%-7s %-15s %-7s %10s %10s %8s  %s" % ("isa", "server vs CLI", "proofs", "cli_s",
                                                 "server_s", "ratio", "cpu"))
    server_ratio = {}
    server_verdict = "not run"
    for isa in isas:
        for proofs in (False, True):
            srv = Server(a.binary, ncpu, tmp, isa, proofs)
            try:
                if isa == best and proofs:
                    _, res = srv.job(study)
                    sc = res["cells"][0]["counts"]
                    server_verdict = ("fast" if sc == fast1 and sc != ref1 else
                                      "reference" if sc == ref1 and sc != fast1 else "undecided")
                    print("%-7s %-15s study cell precision by default, through the server: %s  %s"
                          % (isa, "", server_verdict, cpu))
                for fam in FAMILIES:
                    sp = spec_for(fam, 20)
                    cli, server = [], []
                    for _ in range(a.repeat):
                        cli.append(run_tb(a.binary, sp, ncpu, tmp, isa, proofs=proofs)["wall"])
                        server.append(srv.job(sp)[0])
                    server_ratio[(isa, fam, proofs)] = min(server) / min(cli)
                    print("%-7s %-15s %-7s %10.3f %10.3f %7.3fx  %s" % (
                        isa, fam, "on" if proofs else "off", min(cli), min(server),
                        min(server) / min(cli), cpu))
                    sys.stdout.flush()
            finally:
                srv.close()

    # the targets, each a ratio from this run
    print()
    print("targets (issue 12), from the figures above; load average at end: %s" % load_avg() + tag)
    print("%-7s %-58s %10s %10s  %s" % ("isa", "target", "measured", "verdict", "cpu"))

    def verdict_line(isa, what, value, ok, unit):
        print("%-7s %-58s %9.3f%s %10s  %s" % (isa, what, value, unit, "PASS" if ok else "FAIL",
                                              cpu))

    for isa in isas:
        for fam in FAMILIES:
            r = rows.get((isa, fam, 20))
            if r and r["ratio"] is not None:
                verdict_line(isa, "%s levels 20 vs numpy >= %.0fx" % (fam, TARGET_VS_NUMPY),
                             r["ratio"], r["ratio"] >= TARGET_VS_NUMPY, "x")
        r = rows[(isa, "additive", 20)]
        if isa == "avx2":
            verdict_line(isa, "additive levels 20 kernel ns/lane-step/core <= %.1f" % TARGET_NS_AVX2,
                         r["nsls"], r["nsls"] <= TARGET_NS_AVX2, " ")
        else:
            print("%-7s %-58s %9.3f  %10s  %s" % (
                isa, "additive levels 20 ns/lane-step/core (info: target on avx2)",
                r["nsls"], "-", cpu))
        for fam in FAMILIES:
            for lv in (16, 20):
                r = rows[(isa, fam, lv)]
                verdict_line(isa, "%s levels %d kernel: 1 -> %d threads >= %.1fx" % (
                    fam, lv, ncpu, TARGET_SPEEDUP), r["speed"], r["speed"] >= TARGET_SPEEDUP, "x")
        for fam in FAMILIES:
            v = server_ratio[(isa, fam, False)]
            verdict_line(isa, "%s levels 20, proofs off: server / CLI <= %.2fx" % (
                fam, TARGET_SERVER), v, v <= TARGET_SERVER, "x")
            print("%-7s %-58s %9.3fx %10s  %s" % (
                isa, "%s levels 20, proofs on (info): server / CLI" % fam,
                server_ratio[(isa, fam, True)], "-", cpu))
    for isa in isas:
        for fam in FAMILIES:
            for name, limit in (("momentum", 1.3), ("nesterov", 1.3), ("adam", 2.0)):
                v = opt_ratio[(isa, fam, name)]
                verdict_line(isa, "%s levels 20: %s ns/lane-step <= %.1fx GD's" % (
                    fam, name, limit), v, v <= limit, "x")
    print("%-7s %-58s %10s %10s  %s" % (best, "study cells default to the fast path (CLI)", verdict,
                                        "PASS" if verdict == "fast" else "FAIL", cpu))
    print("%-7s %-58s %10s %10s  %s" % (best, "study cells default to the fast path (server)",
                                        server_verdict,
                                        "PASS" if server_verdict == "fast" else "FAIL", cpu))


if __name__ == "__main__":
    main()
