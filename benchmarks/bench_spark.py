"""Time the panel on Spark (local[2]) against DuckDB, and check they agree row for row.

    python benchmarks/bench_spark.py --size 40x60 --size 200x104 --work /tmp/ctssw-bench-spark

For each size: simulates the organisation (seed 0, once; kept under --work),
ingests it into a store (once), times the DuckDB panel, then on one Spark session
(started once) loads the store's tables and times the Spark panel, and compares
the two panels (all columns; floats to 1e-9 relative). Writes
its table into benchmarks/results/spark.md, between the "latest run" markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import ibis

from ctssw.panel import panel_expr
from ctssw.panel.backend import load_into_spark, spark_session
from ctssw.simulate import simulate
from ctssw.store import Store, ingest_canonical

OUT = Path(__file__).resolve().parent / "results" / "spark.md"
START, END = "<!-- latest run -->", "<!-- /latest run -->"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _store(work: Path, teams: int, weeks: int) -> Path:
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
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    sizes = [tuple(int(x) for x in s.split("x")) for s in (a.size or ["40x60", "200x104"])]
    a.work.mkdir(parents=True, exist_ok=True)
    # tests/backends, put on the path above
    from backends.compare import assert_frames_equal

    rows: list[tuple[str, float, str]] = []

    def add(step: str, sec: float, out: str) -> None:
        rows.append((step, sec, out))
        print(f"{step}: {sec:.1f} s {out}", flush=True)

    t = time.perf_counter()
    session, tmp = spark_session(None, cores=2, app="ctssw-bench", memory=a.memory)
    session.sparkContext.setLogLevel("ERROR")
    con = ibis.pyspark.connect(session)
    session.range(1).count()
    heap = session.sparkContext.getConf().get("spark.driver.memory")
    add("Spark session start (local[2], JVM up)", time.perf_counter() - t, f"heap {heap}")
    try:
        for teams, weeks in sizes:
            db = _store(a.work, teams, weeks)
            with Store(db, read_only=True) as s:
                n = sum(s.count(k) for k in ("changes", "commits", "deployments", "deployment_commits", "incidents", "pages", "tool_usage"))
                t = time.perf_counter()
                want = panel_expr(s.ibis()).to_pandas()
                add(f"{teams}×{weeks}: DuckDB panel", time.perf_counter() - t, f"{len(want):,} team-weeks")
                t = time.perf_counter()
                folder = tmp / f"tables-{teams}x{weeks}" if a.load == "parquet" else None
                load_into_spark(s, con, folder=folder)
                add(f"{teams}×{weeks}: load into Spark ({a.load})", time.perf_counter() - t, f"{n:,} event rows")
            t = time.perf_counter()
            got = panel_expr(con).to_pandas()
            add(f"{teams}×{weeks}: Spark panel", time.perf_counter() - t, f"{len(got):,} team-weeks")
            assert_frames_equal(got, want)
            add(f"{teams}×{weeks}: Spark panel equals DuckDB panel", 0.0, "all columns, rtol 1e-9")
    finally:
        session.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    cmd = "python benchmarks/bench_spark.py " + " ".join(f"--size {t}x{w}" for t, w in sizes)
    if a.load != "parquet":
        cmd += f" --load {a.load}"
    if a.memory:
        cmd += f" --memory {a.memory}"
    lines = [
        "# Panel on Spark (local[2]) and DuckDB",
        "",
        (
            f"Simulated organisations (seed 0); machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the end; "
            "one run each, wall-clock."
        ),
        f"Reproduce: `{cmd}` (simulates and ingests under `--work` first; those steps are not timed).",
        "",
        "| step | seconds | output |",
        "|---|---:|---|",
        *[f"| {s} | {sec:.1f} | {o} |" for s, sec, o in rows],
        "",
    ]
    text = "\n".join(lines)
    print(text)
    # the results file keeps its notes: only the part between the markers is replaced
    old = a.out.read_text() if a.out.exists() else ""
    if START in old and END in old:
        head, rest = old.split(START, 1)
        text = head + START + "\n" + "\n".join(lines[2:]) + END + rest.split(END, 1)[1]
    a.out.write_text(text)


if __name__ == "__main__":
    main()
