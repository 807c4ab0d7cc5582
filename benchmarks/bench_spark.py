"""Time the panel on DuckDB, local Spark and a standalone Spark cluster, and check they agree row for row.

    python benchmarks/bench_spark.py --size 200x104 --workers 0 --workers 1 --workers 2 --work /tmp/ctssw-bench-spark

For each size: simulates the organisation (seed 0, once; kept under --work),
ingests it into a store (once) and times the DuckDB panel. Then for each
``--workers`` (0: local[2]; N: a master and N one-core workers on 127.0.0.1,
started with pyspark's ``bin/spark-class`` and stopped at the end) it starts one
Spark session, loads the store's tables, times the Spark panel and compares the
two panels (all columns; floats to 1e-9 relative). Writes
its table into benchmarks/results/spark.md (or ``--out``), between the "latest run" markers.
``--store 10000x260=PATH`` times that size on a store already made (``bench_growth.py``'s)
instead of simulating and ingesting one.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import ibis
from _marks import write_latest

from ctssw.panel import panel_expr
from ctssw.panel.backend import load_into_spark, spark_session, stop_session
from ctssw.simulate import simulate
from ctssw.store import Store, ingest_canonical

OUT = Path(__file__).resolve().parent / "results" / "spark.md"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


STORES: dict[tuple[int, int], Path] = {}  # --store: a size timed on a store made elsewhere


def _store(work: Path, teams: int, weeks: int) -> Path:
    if (teams, weeks) in STORES:
        return STORES[teams, weeks]
    sim = work / f"sim-{teams}x{weeks}"
    db = work / f"store-{teams}x{weeks}.duckdb"
    if not (sim / "truth.json").exists():
        simulate(sim, teams=teams, weeks=weeks, seed=0)
    if not db.exists():
        with Store(db) as s:
            ingest_canonical(s, sim)
    return db


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", action="append", help="TEAMSxWEEKS (repeatable); default 40x60 and 200x104")
    ap.add_argument("--work", type=Path, default=Path("/tmp/ctssw-bench-spark"))
    ap.add_argument("--load", choices=("parquet", "arrow"), default="parquet")
    ap.add_argument("--memory", default=None, help="the JVM heap (default: $CTSSW_SPARK_MEMORY, else 4g)")
    ap.add_argument("--workers", type=int, action="append", default=None,
                    help="0 for local[2], N for a standalone cluster of N one-core workers on 127.0.0.1 (repeatable; default 0, 1 and 2)")
    ap.add_argument("--executor-memory", default="1g", help="each worker's memory and its executor's heap")
    ap.add_argument("--repeat", type=int, default=2, help="panel runs per session (the first is JIT-cold)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--store", action="append", default=[], metavar="TEAMSxWEEKS=PATH",
                    help="time this size on an existing store (e.g. bench_growth.py's) instead of simulating one")
    a = ap.parse_args()
    for arg in a.store:
        size, path = arg.split("=", 1)
        STORES[tuple(int(x) for x in size.split("x"))] = Path(path)
    sizes = [tuple(int(x) for x in s.split("x")) for s in (a.size or ["200x104"])]
    a.workers = a.workers or [0, 1, 2]
    a.work.mkdir(parents=True, exist_ok=True)
    # tests/backends, put on the path above
    from backends.compare import assert_frames_equal

    rows: list[tuple[str, float, str]] = []

    def add(step: str, sec: float, out: str) -> None:
        rows.append((step, sec, out))
        print(f"{step}: {sec:.1f} s {out}", flush=True)

    from backends.cluster import start_cluster

    wants: dict[tuple[int, int], object] = {}
    last: dict[tuple[int, int, int], float] = {}  # (workers, teams, weeks) → the last (warmest) panel's seconds
    duck: dict[tuple[int, int], float] = {}
    dbs: dict[tuple[int, int], Path] = {}
    for teams, weeks in sizes:
        db = dbs[teams, weeks] = _store(a.work, teams, weeks)
        with Store(db, read_only=True) as s:
            t = time.perf_counter()
            wants[teams, weeks] = panel_expr(s.ibis()).to_pandas()
            duck[teams, weeks] = time.perf_counter() - t
            add(f"{teams}×{weeks}: DuckDB panel", duck[teams, weeks], f"{len(wants[teams, weeks]):,} team-weeks")
    for workers in a.workers:
        cluster = None
        if workers:
            t = time.perf_counter()
            cluster = start_cluster(a.work / f"cluster-{workers}", workers=workers, worker_memory=a.executor_memory,
                                    executor_memory=a.executor_memory)
            os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
            add(f"standalone cluster up ({workers} one-core worker(s) on 127.0.0.1)", time.perf_counter() - t, cluster.master_url)
        mode = f"cluster {workers}×1 core" if workers else "local[2]"
        t = time.perf_counter()
        session, tmp = spark_session(cluster.master_url if cluster else None, cores=2, app="ctssw-bench", memory=a.memory,
                                     conf={"spark.executor.memory": a.executor_memory} if cluster else None,
                                     # the JVMs' JIT as `ctssw --backend spark` picks it for the largest store loaded
                                     input_bytes=max(p.stat().st_size for p in dbs.values()))
        try:
            cores = session.conf.get("spark.sql.shuffle.partitions")  # one per granted core
            session.sparkContext.setLogLevel("ERROR")
            con = ibis.pyspark.connect(session)
            session.range(4).count()
            heap = session.sparkContext.getConf().get("spark.driver.memory")
            add(f"{mode}: Spark session start (driver JVM up, executors granted)", time.perf_counter() - t, f"driver heap {heap}")
            for teams, weeks in sizes:
                db = _store(a.work, teams, weeks)
                with Store(db, read_only=True) as s:
                    n = sum(s.count(k) for k in ("changes", "commits", "deployments", "deployment_commits", "incidents", "pages", "tool_usage"))
                    t = time.perf_counter()
                    # the executors run on this machine, so they read the Parquet files the driver's DuckDB writes
                    folder = tmp / f"tables-{teams}x{weeks}" if a.load == "parquet" else None
                    session.conf.set("spark.sql.shuffle.partitions", cores)  # each size sized afresh
                    load_into_spark(s, con, folder=folder)
                    parts = session.conf.get("spark.sql.shuffle.partitions")
                    mb = sum(f.stat().st_size for f in folder.glob("*.parquet")) / 2**20 if folder else None
                    add(f"{mode}, {teams}×{weeks}: load into Spark ({a.load})", time.perf_counter() - t,
                        f"{n:,} event rows" + (f", {mb:,.0f} MiB of Parquet" if mb is not None else "")
                        + f", {parts} shuffle partitions")
                tracker = session.sparkContext.statusTracker()
                for i in range(a.repeat):
                    before = set(tracker.getJobIdsForGroup(None))
                    t = time.perf_counter()
                    got = panel_expr(con).to_pandas()
                    sec = time.perf_counter() - t
                    # where a small panel's time goes: Spark runs it as this many jobs and stages
                    jobs = [tracker.getJobInfo(j) for j in set(tracker.getJobIdsForGroup(None)) - before]
                    stages = sum(len(j.stageIds) for j in jobs if j is not None)
                    add(f"{mode}, {teams}×{weeks}: Spark panel{' (again)' if i else ''}", sec,
                        f"{len(got):,} team-weeks; {len(jobs)} Spark jobs, {stages} stages")
                    last[workers, teams, weeks] = sec
                assert_frames_equal(got, wants[teams, weeks])
                add(f"{mode}, {teams}×{weeks}: Spark panel equals DuckDB panel", 0.0, "all columns, rtol 1e-9")
        finally:
            # as a command closes it: a JVM writing the class-data archive is let finish first
            stop_session(session, tmp)
            if cluster:
                cluster.stop()
    ratios = []
    which = "warm" if a.repeat > 1 else "first (JIT-cold)"
    for teams, weeks in sizes:
        for w in a.workers:
            if (w, teams, weeks) in last:
                mode = f"cluster {w}×1 core" if w else "local[2]"
                ratios.append(f"| {teams}×{weeks}, {mode}: {which} Spark panel ÷ DuckDB panel | "
                              f"{last[w, teams, weeks] / duck[teams, weeks]:.1f}× | |")
        if (1, teams, weeks) in last and (2, teams, weeks) in last:
            ratios.append(f"| {teams}×{weeks}: 1 → 2 workers, {which} panel speed-up | "
                          f"{last[1, teams, weeks] / last[2, teams, weeks]:.2f}× | |")
    cmd = "python benchmarks/bench_spark.py " + " ".join(f"--size {t}x{w}" for t, w in sizes)
    cmd += " " + " ".join(f"--workers {w}" for w in a.workers)
    if a.load != "parquet":
        cmd += f" --load {a.load}"
    if a.memory:
        cmd += f" --memory {a.memory}"
    if a.executor_memory != "1g":
        cmd += f" --executor-memory {a.executor_memory}"
    if a.repeat != 2:
        cmd += f" --repeat {a.repeat}"
    cmd += "".join(f" --store {x}" for x in a.store)
    lines = [
        "# Panel on DuckDB, local Spark and a standalone Spark cluster",
        "",
        (
            ("The stores given by --store; simulated organisations (seed 0) for the other sizes" if a.store
             else "Simulated organisations (seed 0)")
            + f"; machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the end; "
            "one run each, wall-clock."
        ),
        f"Reproduce: `{cmd}` (simulates and ingests under `--work` first; those steps are not timed).",
        "",
        "| step | seconds | output |",
        "|---|---:|---|",
        *[f"| {s} | {sec:.1f} | {o} |" for s, sec, o in rows],
        *ratios,
        "",
    ]
    print("\n".join(lines))
    write_latest(a.out, "\n".join(lines[2:]), head=lines[0] + "\n")


if __name__ == "__main__":
    main()
