"""Time the metrics layer on DuckDB: linkage, DORA per team-week and per period.

    python benchmarks/bench_metrics.py --teams 10000 --weeks 260 --work /tmp/ctssw-bench

Simulates the organisation (once; kept under --work), ingests it into a store
(once), then times each metrics call and writes benchmarks/results/metrics.md.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from ctssw.metrics import clear_cache, period_metrics, team_week_metrics
from ctssw.simulate import simulate
from ctssw.store import Store, ingest_canonical

OUT = Path(__file__).resolve().parent / "results" / "metrics.md"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, default=10_000)
    ap.add_argument("--weeks", type=int, default=260)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ctssw-bench-metrics"))
    ap.add_argument("--db", type=Path, default=None, help="an existing store to time instead of simulating")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args()
    times: list[tuple[str, float, str]] = []
    db = a.db
    if db is None:
        sim = a.work / f"sim-{a.teams}x{a.weeks}"
        db = a.work / f"store-{a.teams}x{a.weeks}.duckdb"
        if not (sim / "truth.json").exists():
            t = time.perf_counter()
            simulate(sim, teams=a.teams, weeks=a.weeks, seed=0)
            times.append(("simulate (Parquet)", time.perf_counter() - t, ""))
        if not db.exists():
            t = time.perf_counter()
            with Store(db) as s:
                ingest_canonical(s, sim)
            times.append(("ingest_canonical", time.perf_counter() - t, ""))
    with Store(db, read_only=True) as s:
        rows = {k: s.count(k) for k in ("changes", "commits", "deployments", "deployment_commits", "incidents")}
        con = s.ibis()
        t = time.perf_counter()
        w = team_week_metrics(con)
        times.append(("team_week_metrics: panel + linkage + DORA, materialised, to pandas", time.perf_counter() - t, f"{len(w):,} team-weeks"))
        t = time.perf_counter()
        p = period_metrics(con, by="team")
        times.append(("period_metrics(by='team'), facts reused", time.perf_counter() - t, f"{len(p):,} teams"))
        t = time.perf_counter()
        period_metrics(con, by="org", since=str(w["week"].iloc[len(w) // 2].date()))
        times.append(("period_metrics(by='org', since=…)", time.perf_counter() - t, "1 row"))
        clear_cache()
    lines = [
        "# Metrics benchmark (DuckDB)",
        "",
        f"Organisation: {a.teams:,} teams × {a.weeks} weeks (store {db.name}); "
        + ", ".join(f"{k} {v:,}" for k, v in rows.items()) + ".",
        f"Machine: {platform.machine()}, Python {platform.python_version()}; one run each, wall-clock.",
        "",
        "| step | seconds | output |",
        "|---|---:|---|",
        *[f"| {n} | {s:,.1f} | {o} |" for n, s, o in times],
        "",
    ]
    a.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
