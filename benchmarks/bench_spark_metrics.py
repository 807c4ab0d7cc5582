"""The metrics (``period_metrics_many``, what ``ctssw metrics`` computes) on a Spark standalone cluster
against DuckDB, on a store made elsewhere (``bench_growth.py``'s), and the two compared row for row.

    python benchmarks/bench_spark_metrics.py STORE.duckdb [--workers 2] [--executor-memory 4g] [--work DIR]

Starts a master and ``--workers`` one-core workers on 127.0.0.1, loads the store's tables as
Parquet the executors read (DuckDB writes them under ``--work``), times the Spark metrics, then
DuckDB's on the store, and checks every row by team and for the organisation (floats to 1e-9
relative). The JVMs' JIT follows the store's size as ``ctssw --backend spark`` chooses it.
Prints the seconds; results/spark-10k.md records a run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import ibis

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from backends.cluster import start_cluster  # noqa: E402
from backends.compare import assert_frames_equal  # noqa: E402

from ctssw.metrics import period_metrics_many  # noqa: E402
from ctssw.panel.backend import load_into_spark, spark_session, stop_session  # noqa: E402
from ctssw.store import Store  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--executor-memory", default="4g")
    ap.add_argument("--work", type=Path, default=None, help="where the Parquet copies go (default: a temporary folder)")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ctssw-spark-metrics-", dir=a.work))
    cluster = start_cluster(work / "cluster", workers=a.workers, worker_memory=a.executor_memory,
                            executor_memory=a.executor_memory)
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    try:
        t = time.perf_counter()
        session, tmp = spark_session(cluster.master_url, cores=a.workers, app="ctssw-bench-metrics",
                                     conf={"spark.executor.memory": a.executor_memory}, input_bytes=a.store.stat().st_size)
        session.sparkContext.setLogLevel("ERROR")
        con = ibis.pyspark.connect(session)
        print(f"Spark session start: {time.perf_counter() - t:.1f} s", flush=True)
        try:
            with Store(a.store, read_only=True) as s:
                t = time.perf_counter()
                load_into_spark(s, con, folder=work / "tables")
                print(f"load into Spark (Parquet): {time.perf_counter() - t:.1f} s", flush=True)
            t = time.perf_counter()
            got = period_metrics_many(con)
            print(f"Spark metrics ({a.workers} one-core workers): {time.perf_counter() - t:.1f} s", flush=True)
        finally:
            stop_session(session, tmp)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    with Store(a.store, read_only=True) as s:
        t = time.perf_counter()
        want = period_metrics_many(s.ibis())
        print(f"DuckDB metrics: {time.perf_counter() - t:.1f} s", flush=True)
    for by in want:
        assert_frames_equal(got[by], want[by], keys=("group",))
        print(f"by {by}: {len(want[by]):,} rows, Spark equals DuckDB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
