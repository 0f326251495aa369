#!/usr/bin/python3
"""bench.py - `make bench`: trainbound's speed, measured against peers in
the same run, on this machine.

Rows: additive and multiplicative eps=0.2 lam=0.1, x0=1, max_loss 1e8,
1000 steps, at levels 16, 20 and 24, on the fast path. Columns: wall time
with all threads, lane-steps, ns per lane-step per core, peak RSS, the
1-thread / all-threads speed-up, and the ratio against the numpy peer
(bench/peer_numpy.py, both cores) on the same spec. Then the fast path
against the reference path at levels 20 (identical labels, counts at levels
0-9, D), the peak RSS of a levels-28 grid, the same levels-20 jobs through
the server against the CLI, and this machine's ceiling on multi-core
scaling (bench/fpscale.c: N cores of vector FMAs against one).

The VM this runs on is noisy, so every timing at levels <= 20 is the best
of --repeat runs (default 3), trainbound's and the peer's alike; levels 24
runs once.

    bench.py BINARY [--quick] [--peer-max-levels N] [--repeat N] [--fpscale PATH]

Uses only the standard library plus Debian's python3-numpy (for the peer
and the label comparison). Prints one table; numbers are what this run
measured, nothing is cached.
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


def spec_for(family, levels, precision="fast", steps=1000):
    return {
        "model": {"family": family, "dim": 1, "amplitude": 0.2, "wavelength": 0.1},
        "x0": 1.0, "steps": steps,
        "divergence": {"criterion": "max_loss", "threshold": 1e8, "nan": "divergent"},
        "lr": {"min": 0.0, "max": 1.5, "levels": levels},
        "precision": precision,
    }


def run_tb(binary, spec, threads, tmp, labels=None):
    path = os.path.join(tmp, "spec.json")
    with open(path, "w") as fh:
        json.dump(spec, fh)
    argv = [binary, "run", "--quiet", "--stats", "--threads", str(threads), path]
    if labels:
        argv[2:2] = ["--labels", labels]
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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


def best_tb(binary, spec, threads, tmp, n):
    """The run with the least sweep time of n."""
    runs = [run_tb(binary, spec, threads, tmp) for _ in range(n)]
    return min(runs, key=lambda r: r["stats"]["sweep_s"])


def best_peer(spec, tmp, n):
    runs = [run_peer(spec, tmp) for _ in range(n)]
    return min(runs, key=lambda r: r["wall_s"])


class Server:
    """trainbound serve on a free loopback port with a fresh database."""

    def __init__(self, binary, workers, tmp):
        self.log = open(os.path.join(tmp, "serve.log"), "w+")
        db = os.path.join(tmp, "bench-%d.db" % os.getpid())
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--db", db, "--workers", str(workers)],
            stdout=subprocess.DEVNULL, stderr=self.log)
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

    def job_wall(self, spec):
        """Seconds from POST to a succeeded job, waiting on the job's event
        stream (which ends at the terminal state), as a dashboard would."""
        t0 = time.perf_counter()
        job = self.call("POST", "/v1/jobs", spec)
        with urllib.request.urlopen(self.url + "/v1/jobs/%s/events" % job["id"]) as stream:
            for _ in stream:
                pass
        wall = time.perf_counter() - t0
        st = self.call("GET", "/v1/jobs/%s" % job["id"])
        if st["status"] != "succeeded":
            sys.exit("bench: server job %s: %s" % (job["id"], st["status"]))
        return wall

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


def fmt_s(x):
    return "%.2f" % x if x < 100 else "%.0f" % x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--quick", action="store_true", help="levels 16 and 20 only")
    ap.add_argument("--peer-max-levels", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3, help="best of N timings at levels <= 20")
    ap.add_argument("--fpscale", help="bench/fpscale.c, built (optional)")
    a = ap.parse_args()
    ncpu = os.cpu_count() or 1
    levels_list = (16, 20) if a.quick else (16, 20, 24)
    tmp = tempfile.mkdtemp(prefix="tb-bench-")

    isa = run_tb(a.binary, spec_for("additive", 6), 1, tmp)["stats"]["isa"]
    print("# trainbound bench  %s" % time.strftime("%Y-%m-%d %H:%M"))
    print("# machine: %s, %d cores, fast-path ISA: %s, numpy %s" % (cpu_model(), ncpu, isa, np.__version__))
    print("# spec: eps=0.2 lam=0.1 x0=1 max_loss 1e8, 1000 steps, lr [0,1.5], precision fast")
    print("# ns/lane-step/core = wall x threads / lane-steps; speed-up = 1-thread wall / %d-thread wall;" % ncpu)
    print("# vs numpy = numpy peer wall (%d processes) / trainbound wall (%d threads)" % (ncpu, ncpu))
    print("# timings at levels <= 20: best of %d runs each (trainbound and the peer); levels 24: one run" % a.repeat)
    if a.fpscale:
        fs = json.loads(subprocess.run([a.fpscale, str(ncpu)], check=True, capture_output=True,
                                       text=True).stdout)
        print("# this machine's ceiling on %d-core scaling (fpscale: vector FMAs on %d cores vs 1): %.2fx"
              % (ncpu, ncpu, fs["scaling"]))
    print()
    hdr = "%-15s %6s %9s %14s %10s %9s %8s %9s %9s" % (
        "family", "levels", "wall_s", "lane_steps", "ns/ls/core", "rss_MiB", "speedup", "numpy_s", "vs_numpy")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for fam in FAMILIES:
        for lv in levels_list:
            sp = spec_for(fam, lv)
            rep = a.repeat if lv <= 20 else 1
            allt = best_tb(a.binary, sp, ncpu, tmp, rep)
            one = best_tb(a.binary, sp, 1, tmp, rep)
            ls = allt["stats"]["lane_steps"]
            nsls = allt["stats"]["sweep_s"] * ncpu / ls * 1e9
            speed = one["stats"]["sweep_s"] / allt["stats"]["sweep_s"]
            if lv <= a.peer_max_levels:
                peer = best_peer(spec_for(fam, lv), tmp, rep)
                pw = peer["wall_s"]
                ratio = "%.1fx" % (pw / allt["stats"]["sweep_s"])
                pws = fmt_s(pw)
                if peer["counts"][:10] != allt["result"]["counts"][:10]:
                    pws += "*"
            else:
                pws, ratio = "skipped", "-"
            rows.append((fam, lv, nsls, speed))
            print("%-15s %6d %9s %14d %10.2f %9.1f %8.2fx %9s %9s" % (
                fam, lv, fmt_s(allt["stats"]["sweep_s"]), ls, nsls, allt["rss"] / 2**20, speed, pws, ratio))
            sys.stdout.flush()
    if not a.quick:
        print("(numpy peer skipped above levels %d: it would take about 16x the levels-20 time)" % a.peer_max_levels)

    # RSS at levels 28: memory does not depend on the steps, so 10 steps.
    big = run_tb(a.binary, spec_for("additive", 28, steps=10), ncpu, tmp)
    print()
    print("peak RSS, additive levels 28 (2^28+1 points, 10 steps): %.1f MiB" % (big["rss"] / 2**20))

    # fast vs reference at levels 20
    print()
    print("%-15s %10s %10s %18s %20s %20s" % ("fast vs ref", "identical", "counts0-9", "D fast", "D reference", "|dD|/se"))
    for fam in FAMILIES:
        lf = os.path.join(tmp, "f.npy")
        lr_ = os.path.join(tmp, "r.npy")
        f = run_tb(a.binary, spec_for(fam, 20, "fast"), ncpu, tmp, labels=lf)["result"]
        r = run_tb(a.binary, spec_for(fam, 20, "reference"), ncpu, tmp, labels=lr_)["result"]
        same = float(np.mean(np.load(lf) == np.load(lr_)))
        c09 = "equal" if f["counts"][:10] == r["counts"][:10] else "DIFFER"
        df, dr = f["dimension"], r["dimension"]
        se = max(dr["stderr"], 1e-300)
        print("%-15s %9.4f%% %10s %18s %20s %20.2f" % (
            fam, 100 * same, c09, "%.4f+-%.4f" % (df["value"], df["stderr"]),
            "%.4f+-%.4f" % (dr["value"], dr["stderr"]), abs(df["value"] - dr["value"]) / se))
        sys.stdout.flush()

    # the same job through the server (POST, then its event stream to the
    # end) against the CLI's whole process; interleaved, best of --repeat
    print()
    print("%-15s %12s %12s %8s" % ("server vs CLI", "cli_s", "server_s", "ratio"))
    srv = Server(a.binary, ncpu, tmp)
    try:
        for fam in FAMILIES:
            sp = spec_for(fam, 20)
            cli, server = [], []
            for _ in range(a.repeat):
                cli.append(run_tb(a.binary, sp, ncpu, tmp)["wall"])
                server.append(srv.job_wall(sp))
            print("%-15s %12.3f %12.3f %7.3fx" % (fam, min(cli), min(server), min(server) / min(cli)))
            sys.stdout.flush()
    finally:
        srv.close()


if __name__ == "__main__":
    main()
