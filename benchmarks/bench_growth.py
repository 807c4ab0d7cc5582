"""The growth curve: time and peak memory of each stage at 100, 1,000 and 10,000 teams × 260 weeks.

    python benchmarks/bench_growth.py [--teams 100 1000 10000] [--weeks 260] [--work DIR]
                                      [--spark-workers 2] [--no-spark | --spark-only] [--timeout 3600]

Each stage is the command a user types, run in its own process under ``/usr/bin/time`` so
its wall time and peak memory (max RSS) are its own:

- ingest: ``ctssw ingest canonical SIM --db STORE`` into a fresh store;
- ingest floor: plain DuckDB ``CREATE TABLE t AS SELECT * FROM read_parquet(...)`` of the same
  files (``bench_ingest.py``'s floor, in its own process, run before the ingest so that the
  stages after it follow a user's own sequence), so each run carries its own yardstick;
- panel: ``ctssw panel --db STORE --out PANEL``;
- metrics: ``ctssw metrics --db STORE --json``;
- impact: ``ctssw impact --panel PANEL --method fe --json`` (the article's model on the panel);
- ingest (lake): the same ingest into a Parquet lake (``--lake DIR``);
- on a Spark standalone cluster (one master and ``--spark-workers`` one-core workers on
  127.0.0.1, started with pyspark's ``bin/spark-class``): the panel and the metrics read from
  that lake in place, ``--lake DIR --backend spark --spark-url spark://…``. The Spark panel and
  metrics are compared with the DuckDB panel file and ``metrics --json`` document of the same size
  (kept under ``--work``, so a ``--spark-only`` run compares with an earlier DuckDB run's).

``--spark-only`` runs the lake ingest and the two Spark stages alone, into a table of their own
(between the "spark run" markers), so the long Spark column can be measured apart from the
quiet DuckDB one. The full pipeline is ingest + panel + metrics + impact (its peak memory the largest of
theirs). The organisation is simulated once per size (seed 1, not timed) under ``--work``,
and kept there, so a later run reuses it. The time exponent k (time ∝ rows^k) is fitted by
least squares on log time against log canonical rows over the sizes that completed.
Results go to ``results/growth.md`` after each size; a stage that fails or times out is recorded as such.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _marks import LATEST, replace_block

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "results" / "growth.md"
SPARK_MARKS = "<!-- spark run -->", "<!-- /spark run -->"
SPARK_STAGES = ["ingest (lake)", "spark panel", "spark metrics"]
CTSSW = [sys.executable, "-m", "ctssw.cli"]


def _run(cmd: list[str], timeout: float, env: dict) -> dict:
    """Wall seconds and peak RSS (GiB) of ``cmd``, or why it did not finish."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        full = ["/usr/bin/time", "-o", tf.name, "-f", "%e %M", *cmd]
        try:
            r = subprocess.run(full, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"ok": False, "why": f"timed out after {timeout:.0f} s"}
        parts = Path(tf.name).read_text().split()
    if r.returncode != 0:
        last = (r.stderr.strip() or r.stdout.strip() or "no output").splitlines()[-1]
        return {"ok": False, "why": f"exit {r.returncode}: {last[:160]}"}
    wall, rss_kib = float(parts[-2]), float(parts[-1])
    return {"ok": True, "s": wall, "gib": rss_kib / 2**20, "stdout": r.stdout}


# The organisation's first Monday: 260 weeks from it end in December 2025, so no row lies in
# the future, which an ingest would quarantine (it refuses times after the day of the load).
START = dt.date(2021, 1, 4)


def _simulate(sim: Path, teams: int, weeks: int) -> int:
    truth = sim / "truth.json"
    if not truth.exists():
        from ctssw.simulate import simulate

        simulate(sim, teams=teams, weeks=weeks, seed=1, start=START)
    return int(sum(json.loads(truth.read_text())["rows"].values()))


def _read_through(folder: Path) -> None:
    """Read every file under ``folder`` once (not timed), into the page cache as far as it fits."""
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass


def _remove_store(db: Path) -> None:
    """A DuckDB file and its write-ahead log, so the next stage starts from nothing."""
    for p in (db, Path(f"{db}.wal")):
        p.unlink(missing_ok=True)


def _same(a: Path, b: Path) -> str:
    """Whether two panel files hold the same rows (all columns; floats to 1e-9 relative)."""
    import pandas as pd
    from backends.compare import assert_frames_equal

    try:
        assert_frames_equal(pd.read_parquet(b), pd.read_parquet(a))
    except AssertionError as e:
        return f"no ({str(e).splitlines()[0][:160]})"
    return "yes"


def _same_metrics(a: Path, b: Path) -> str:
    """Whether two ``ctssw metrics --json`` documents hold the same rows, suppressed count and
    unknown metrics (rows matched by group; numbers to 1e-9 relative)."""
    from backends.compare import same_json

    docs = [json.loads(f.read_text()) for f in (a, b)]
    for d in docs:
        d["rows"] = sorted(d["rows"], key=lambda r: str(r["group"]))
    try:
        same_json(docs[1], docs[0])
    except AssertionError as e:
        return f"no ({str(e).splitlines()[0][:160]})"
    return "yes"


def _keep(r: dict, path: Path) -> None:
    """The printed document of a command that finished, for a comparison by a later stage or run."""
    if r["ok"]:
        path.write_text(r["stdout"])


def _fit(points: list[tuple[int, float]]) -> str:
    """The exponent k of time ∝ rows^k (least squares on logs), from two sizes or more."""
    if len(points) < 2:
        return "—"
    xs = [math.log(r) for r, _ in points]
    ys = [math.log(s) for _, s in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return f"{k:.2f}"


def _cell(r: dict | None) -> str:
    if r is None:
        return "not run"
    return f"{r['s']:.1f} s ({r['gib']:.2f} GiB)" if r["ok"] else r["why"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teams", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--weeks", type=int, default=260)
    ap.add_argument("--work", type=Path, default=ROOT / ".bench-data" / "growth")
    ap.add_argument("--spark-workers", type=int, default=2)
    ap.add_argument("--worker-memory", default="4g", help="each Spark worker's memory and its executor's heap")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--no-spark", action="store_true", help="DuckDB only")
    mode.add_argument("--spark-only", action="store_true", help="the lake ingest and the Spark stages only")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed to one stage")
    ap.add_argument("--out", type=Path, default=OUT, help="the Markdown file whose marked block the table replaces")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    # a key file of the bench's own (the variable names a file, not the key itself)
    env.setdefault("CTSSW_IDENTITY_KEY", str(args.work / "identity.key"))

    sys.path.insert(0, str(ROOT / "tests"))  # backends.cluster and backends.compare
    cluster = url = None
    if not args.no_spark:
        from backends.cluster import start_cluster

        cluster = start_cluster(Path(tempfile.mkdtemp(prefix="ctssw-growth-spark-")), workers=args.spark_workers,
                                worker_memory=args.worker_memory, executor_memory=args.worker_memory)
        url = cluster.master_url
        spark_env = {**cluster.env(), "PYTHONPATH": env["PYTHONPATH"], "CTSSW_IDENTITY_KEY": env["CTSSW_IDENTITY_KEY"]}
    rows: dict[int, int] = {}
    res: dict[int, dict[str, dict | None]] = {}
    try:
        for teams in args.teams:
            tag = f"{teams}x{args.weeks}"
            sim, db, panel = args.work / f"sim-{tag}-{START:%Y%m%d}", args.work / f"store-{tag}.duckdb", args.work / f"panel-{tag}.parquet"
            metrics = args.work / f"metrics-{tag}.json"  # the DuckDB output, kept for the Spark run's comparison
            rows[teams] = _simulate(sim, teams, args.weeks)
            r: dict[str, dict | None] = {}
            print(f"{tag}: {rows[teams]:,} canonical rows", flush=True)
            if not args.spark_only:
                # the floor in the same run: plain DuckDB copying the same files, so a slower machine
                # or a busier day shows in both columns (bench_ingest's own floor, in a process of its own).
                # It runs first: between the ingest and the panel its 9 GB copy (at 10,000 teams) pushed
                # the store out of the page cache, which a user's ingest-then-metrics never does
                floor_db = args.work / f"floor-{tag}.duckdb"
                _read_through(sim)  # so neither the floor nor the ingest pays alone for reading the files cold
                r["ingest floor"] = _run([sys.executable, str(HERE / "bench_ingest.py"), "--child", "floor", str(sim), str(floor_db)],
                                         args.timeout, env)
                _remove_store(floor_db)
                _remove_store(db)
                r["ingest"] = _run([*CTSSW, "ingest", "canonical", str(sim), "--db", str(db), "--json"], args.timeout, env)
            if not args.spark_only and r["ingest"]["ok"]:
                counts = json.loads(r["ingest"]["stdout"])["counts"]
                bad = sum(c["quarantined"] for c in counts)
                if bad:
                    raise SystemExit(f"{tag}: the ingest quarantined {bad:,} rows; the timings would not be comparable")
                r["panel"] = _run([*CTSSW, "panel", "--db", str(db), "--out", str(panel)], args.timeout, env)
                r["metrics"] = _run([*CTSSW, "metrics", "--db", str(db), "--json"], args.timeout, env)
                _keep(r["metrics"], metrics)
                if r["panel"]["ok"]:
                    r["impact"] = _run([*CTSSW, "impact", "--panel", str(panel), "--method", "fe", "--json"], args.timeout, env)
            if url and (args.spark_only or r["ingest"]["ok"]):
                # Spark reads the tables from a lake in place, as an organisation past one machine would
                ldb, lake = args.work / f"lake-store-{tag}.duckdb", args.work / f"lake-{tag}"
                _remove_store(ldb)
                shutil.rmtree(lake, ignore_errors=True)
                r["ingest (lake)"] = _run([*CTSSW, "ingest", "canonical", str(sim), "--db", str(ldb), "--lake", str(lake)],
                                          args.timeout, env)
                if r["ingest (lake)"]["ok"]:
                    spark = ["--db", str(ldb), "--lake", str(lake), "--backend", "spark", "--spark-url", url]
                    r["spark panel"] = _run([*CTSSW, "panel", "--out", f"{panel}.spark.parquet", *spark], args.timeout, spark_env)
                    if r["spark panel"]["ok"] and panel.exists():
                        print(f"  spark panel equals the DuckDB panel: {_same(panel, Path(f'{panel}.spark.parquet'))}", flush=True)
                    r["spark metrics"] = _run([*CTSSW, "metrics", "--json", *spark], args.timeout, spark_env)
                    _keep(r["spark metrics"], Path(f"{metrics}.spark.json"))
                    if r["spark metrics"]["ok"] and metrics.exists():
                        print(f"  spark metrics equal the DuckDB metrics: {_same_metrics(metrics, Path(f'{metrics}.spark.json'))}",
                              flush=True)
            stages = [r.get(s) for s in ("ingest", "panel", "metrics", "impact")]
            if all(s is not None and s["ok"] for s in stages):
                r["pipeline"] = {"ok": True, "s": sum(s["s"] for s in stages), "gib": max(s["gib"] for s in stages)}
            for name, v in r.items():
                print(f"  {name}: {_cell(v)}", flush=True)
            res[teams] = r
            # after each size, so a long run that is stopped keeps the sizes it finished
            _write(args, rows, res, url is not None)
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


def _write(args, rows: dict[int, int], res: dict[int, dict], spark: bool) -> None:
    res = dict(sorted(res.items()))
    names = [] if args.spark_only else ["ingest floor", "ingest", "panel", "metrics", "impact", "pipeline"]
    names += SPARK_STAGES if spark else []
    load = os.getloadavg()
    lines = [
        "## Growth curve: each stage at 100, 1,000 and 10,000 teams × 260 weeks",
        "",
        f"Simulated organisations (seed 1, from {START:%Y-%m-%d}), each stage the CLI command in its own process; wall time and "
        f"peak memory (max RSS). Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. "
        + (f"Spark: a standalone cluster of {args.spark_workers} one-core workers ({args.worker_memory} each) "
           "on 127.0.0.1; the Spark rows give the Python process's peak memory only (the JVMs are not counted)." if spark else "Spark not run."),
        "",
        "Reproduce: `python benchmarks/bench_growth.py " + " ".join(["--teams", *map(str, args.teams), "--weeks", str(args.weeks)])
        + ("" if spark else " --no-spark") + (" --spark-only" if args.spark_only else "") + "`.",
        "",
        "| stage | " + " | ".join(f"{t:,} teams ({rows[t] / 1e6:.1f}M rows)" for t in res) + " | k (time ∝ rows^k) |",
        "|---|" + "---:|" * len(res) + "---:|",
    ]
    for n in names:
        cells = [_cell(res[t].get(n)) for t in res]
        pts = [(rows[t], res[t][n]["s"]) for t in res if res[t].get(n) and res[t][n]["ok"]]
        lines.append(f"| {n} | " + " | ".join(cells) + f" | {_fit(pts)} |")
    print("\n".join(lines))
    start, end = SPARK_MARKS if args.spark_only else LATEST
    replace_block(args.out, start, end, "\n".join(lines[2:]), head=lines[0] + "\n")


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - t0:.0f} s)")
    sys.exit(code)
