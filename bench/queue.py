#!/usr/bin/python3
"""queue.py - `make bench`'s queue rows (issue 15): the shared PostgreSQL
queue against the embedded SQLite one, measured in the same run, on this
machine, with the issue's targets checked as ratios and counts.

Run by bench/run.sh inside `tests/lib/pg.sh run` with TB_PG_DURABLE=1: a
throwaway PostgreSQL 15 on loopback with fsync on (as a deployment runs
it), TB_PG_URI and TB_PG_BIN exported. Each measurement gets a database
of its own.

Rows:
- claims per second on tiny tiles (64 points of a 1-step quadratic, 4097
  tiles a job; the tiles cost microseconds, so the queue is what is
  timed): 8 workers as one `trainbound worker --workers 8` process next
  to an API-only `serve --workers 0`, the same 8 workers as 8 processes
  (`--workers 1` each), and SQLite's `serve --workers 8` as the peer.
  Claims/s = the job's tiles / (its last tile saved - its first lease),
  read from tile_attempts; best of --repeat jobs;
- the scaling of the queue: 1, 2 and 4 worker processes (`--workers 2`
  each) on the same tiny tiles, claims/s and the ratio to 1 process;
- end to end, bench.py's levels-20 cases (the fast path, 2^20+1 points):
  POST to the end of the event stream through a `serve` on PostgreSQL
  against a `serve` on a SQLite file, both with every core as workers,
  interleaved, least of --repeat; proofs off (every run to its end, as
  bench.py's server/CLI target) is the target, proofs on is shown.

Targets: >= 2000 claims/s with 8 workers (on this class of machine);
PostgreSQL / SQLite end to end <= 1.05x. Every tile is stored once (its
attempts are counted) and the results equal SQLite's.

    queue.py BINARY [--quick] [--repeat N]
"""
import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import FAMILIES, Server, cpu_model, load_avg, run_tb, spec_for  # noqa: E402

TARGET_CLAIMS = 2000.0
TARGET_PG = 1.05
TINY_LEVELS = 18  # 2^18 + 1 points: 4097 tiles of 64
TINY_TILE = 64


def tiny_spec():
    return {
        "model": {"family": "quadratic", "dim": 1}, "x0": 1.0, "steps": 1,
        "divergence": {"criterion": "max_loss", "threshold": 1e8, "nan": "divergent"},
        "lr": {"min": 0.0, "max": 1.5, "levels": TINY_LEVELS},
    }


class PG:
    """The throwaway cluster of tests/lib/pg.sh: a database per use."""

    def __init__(self):
        self.uri = os.environ.get("TB_PG_URI")
        self.bin = os.environ.get("TB_PG_BIN", "/usr/lib/postgresql/15/bin")
        self.n = 0
        if not self.uri:
            sys.exit("queue.py: needs TB_PG_URI (run it with sh tests/lib/pg.sh run)")

    def psql(self, db, sql):
        out = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t", "-v",
                              "ON_ERROR_STOP=1", "%s/%s" % (self.uri, db), "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return out.strip()

    def new_db(self):
        self.n += 1
        name = "bench_%d_%d" % (os.getpid(), self.n)
        self.psql("postgres", "CREATE DATABASE %s" % name)
        return name, "%s/%s" % (self.uri, name)


def span_sql(job_id):
    return ("SELECT count(*), min(leased_ms), max(ended_ms), "
            "count(*) FILTER (WHERE outcome = 'done') FROM tile_attempts WHERE job_id = %d"
            % job_id)


def claims_per_s(row, tiles):
    """(attempts, first lease, last save, done attempts) -> claims/s; every
    tile must have been stored once."""
    n, t0, t1, done = (int(x) for x in row)
    if done != tiles or n != tiles:
        sys.exit("queue.py: %d attempts, %d done, for %d tiles" % (n, done, tiles))
    return tiles / max((t1 - t0) / 1000.0, 1e-3)


class Workers:
    """n `trainbound worker` processes on db, `threads` workers each."""

    def __init__(self, binary, db, n, threads, tmp):
        self.procs, self.logs = [], []
        for i in range(n):
            log = open(os.path.join(tmp, "worker-%d-%d.log" % (time.monotonic_ns(), i)), "w+")
            self.logs.append(log)
            self.procs.append(subprocess.Popen(
                [binary, "worker", "--db", db, "--workers", str(threads)],
                stdout=subprocess.DEVNULL, stderr=log))
        # listening: an idle worker claims when work is announced
        deadline = time.monotonic() + 30
        for log in self.logs:
            while True:
                log.seek(0)
                if '"notify_listening"' in log.read():
                    break
                if time.monotonic() > deadline:
                    sys.exit("queue.py: a worker did not start (see %s)" % log.name)
                time.sleep(0.05)

    def close(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait()
        for log in self.logs:
            log.close()


def tiny_pg(binary, pg, tmp, procs, threads, repeat):
    """Best claims/s of repeat tiny jobs through an API-only server and
    procs worker processes of `threads` workers each; and the counts."""
    name, uri = pg.new_db()
    api = Server(binary, 0, tmp, db=uri, flags=["--tile-points", str(TINY_TILE)])
    best, counts = 0.0, None
    try:
        w = Workers(binary, uri, procs, threads, tmp)
        try:
            for _ in range(repeat):
                _, res = api.job(tiny_spec())
                tiles = int(pg.psql(name, "SELECT tiles_total FROM jobs WHERE id = %d" % res["id"]))
                row = pg.psql(name, span_sql(res["id"])).split("|")
                best = max(best, claims_per_s(row, tiles))
                counts = res["counts"]
        finally:
            w.close()
    finally:
        api.close()
    return best, counts


def tiny_sqlite(binary, tmp, workers, repeat):
    srv = Server(binary, workers, tmp, flags=["--tile-points", str(TINY_TILE)])
    best, counts = 0.0, None
    try:
        for _ in range(repeat):
            _, res = srv.job(tiny_spec())
            db = sqlite3.connect("file:%s?mode=ro" % srv.db, uri=True)
            try:
                tiles = db.execute("SELECT tiles_total FROM jobs WHERE id = ?",
                                   (res["id"],)).fetchone()[0]
                row = db.execute(span_sql(int(res["id"]))).fetchone()
            finally:
                db.close()
            best = max(best, claims_per_s(row, tiles))
            counts = res["counts"]
    finally:
        srv.close()
    return best, counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--peer-max-levels", type=int, help="(bench.py's; ignored)")
    ap.add_argument("--fpscale", help="(bench.py's; ignored)")
    a = ap.parse_args()
    repeat = 2 if a.quick else a.repeat
    tiny_repeat = 2 if a.quick else 3
    ncpu = os.cpu_count() or 1
    cpu = cpu_model()
    tmp = tempfile.mkdtemp(prefix="tb-bench-queue-")
    pg = PG()
    ver = subprocess.run([os.path.join(pg.bin, "postgres"), "-V"], capture_output=True,
                         text=True).stdout.split()[-1]
    isa = run_tb(a.binary, spec_for("additive", 6), 1, tmp)["stats"]["isa"]
    tag = "  [isa %s; cpu %s]" % (isa, cpu)

    print()
    print("# queue (issue 15): PostgreSQL %s on loopback, fsync on, against a SQLite file;"
          " load average %s" % (ver, load_avg()) + tag)
    print("# tiny tiles: %d points of a 1-step quadratic, %d tiles a job; claims/s = tiles /"
          " (last save - first lease), best of %d jobs" % (
              TINY_TILE, (2 ** TINY_LEVELS + TINY_TILE) // TINY_TILE, tiny_repeat) + tag)
    print("%-7s %-44s %12s %8s  %s" % ("isa", "queue, 8 workers, tiny tiles", "claims/s",
                                        "vs_sqlite", "cpu"))
    lite, lite_counts = tiny_sqlite(a.binary, tmp, 8, tiny_repeat)
    one, c1 = tiny_pg(a.binary, pg, tmp, 1, 8, tiny_repeat)
    eight, c8 = tiny_pg(a.binary, pg, tmp, 8, 1, tiny_repeat)
    if not (c1 == c8 == lite_counts):
        sys.exit("queue.py: the tiny jobs' counts differ between the queues")
    for what, v in (("sqlite: serve --workers 8", lite),
                    ("postgresql: 1 worker process x 8", one),
                    ("postgresql: 8 worker processes x 1", eight)):
        print("%-7s %-44s %12.0f %7.2fx  %s" % (isa, what, v, v / lite, cpu))
        sys.stdout.flush()

    print("%-7s %-44s %12s %8s  %s" % ("isa", "queue scaling, worker processes x 2", "claims/s",
                                        "vs_1", "cpu"))
    base = None
    for procs in (1, 2, 4):
        v, c = tiny_pg(a.binary, pg, tmp, procs, 2, tiny_repeat)
        if c != lite_counts:
            sys.exit("queue.py: the tiny job's counts differ with %d processes" % procs)
        base = base or v
        print("%-7s %-44s %12.0f %7.2fx  %s" % (isa, "postgresql: %d process%s" % (
            procs, "" if procs == 1 else "es"), v, v / base, cpu))
        sys.stdout.flush()

    print("%-7s %-15s %-7s %10s %10s %8s  %s" % ("isa", "pg vs sqlite", "proofs", "sqlite_s",
                                                 "pg_s", "ratio", "cpu"))
    ratio = {}
    for proofs in (False, True):
        _, uri = pg.new_db()
        spg = Server(a.binary, ncpu, tmp, proofs=proofs, db=uri)
        slite = Server(a.binary, ncpu, tmp, proofs=proofs)
        try:
            for fam in FAMILIES:
                sp = spec_for(fam, 20)
                tl, tp = [], []
                for _ in range(repeat):
                    w, rl = slite.job(sp)
                    tl.append(w)
                    w, rp = spg.job(sp)
                    tp.append(w)
                    if rl["counts"] != rp["counts"]:
                        sys.exit("queue.py: %s levels 20: PostgreSQL's counts differ" % fam)
                ratio[(fam, proofs)] = min(tp) / min(tl)
                print("%-7s %-15s %-7s %10.3f %10.3f %7.3fx  %s" % (
                    isa, fam, "on" if proofs else "off", min(tl), min(tp), min(tp) / min(tl), cpu))
                sys.stdout.flush()
        finally:
            spg.close()
            slite.close()

    print()
    print("targets (issue 15), from the figures above; load average at end: %s" % load_avg() + tag)
    print("%-7s %-58s %10s %10s  %s" % ("isa", "target", "measured", "verdict", "cpu"))
    best8 = max(one, eight)
    print("%-7s %-58s %10.0f %10s  %s" % (isa, "claims/s, 8 workers, tiny tiles >= %.0f" %
                                          TARGET_CLAIMS, best8,
                                          "PASS" if best8 >= TARGET_CLAIMS else "FAIL", cpu))
    for fam in FAMILIES:
        v = ratio[(fam, False)]
        print("%-7s %-58s %9.3fx %10s  %s" % (
            isa, "%s levels 20, proofs off: postgresql / sqlite <= %.2fx" % (fam, TARGET_PG), v,
            "PASS" if v <= TARGET_PG else "FAIL", cpu))
        print("%-7s %-58s %9.3fx %10s  %s" % (
            isa, "%s levels 20, proofs on (info): postgresql / sqlite" % fam,
            ratio[(fam, True)], "-", cpu))


if __name__ == "__main__":
    main()
