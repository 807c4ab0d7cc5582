"""Time the metrics layer on DuckDB: linkage, DORA per team-week and per period.

    python benchmarks/bench_metrics.py --teams 1000 --weeks 260 --work /tmp/ctssw-bench --rounds 3
    python benchmarks/bench_metrics.py --db /path/store-10000x260.duckdb

Simulates the organisation (once; kept under --work) and ingests it into a store
(once), or takes an existing store (--db); then times, each in its own process
so its peak memory is its own, ``team_week_metrics`` (the panel, the
deployment → commits → changes linkage and the DORA facts, materialised once,
then the weekly table to pandas), the period queries that reuse those facts, and
``ctssw metrics --json`` end to end. Rounds run interleaved; the best is
reported with every run and the machine's load average. Writes its table
into benchmarks/results/metrics.md, between the "latest run" markers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from _marks import write_latest

# a simulated organisation of 260 weeks from 2024 runs past today: without a far bound the load
# would quarantine its later weeks as implausible future times
NOT_AFTER = "2100-01-01"
OUT = Path(__file__).resolve().parent / "results" / "metrics.md"


def stage_metrics(db: str) -> dict:
    from ctssw.metrics import clear_cache, period_metrics, team_week_metrics
    from ctssw.store import Store

    out = {}
    with Store(db, read_only=True) as s:
        con = s.ibis()
        t = time.perf_counter()
        w = team_week_metrics(con)
        out["team_week_metrics"] = time.perf_counter() - t
        out["team_weeks"] = len(w)
        t = time.perf_counter()
        p = period_metrics(con, by="team")
        out["period_team"] = time.perf_counter() - t
        out["teams"] = len(p)
        t = time.perf_counter()
        period_metrics(con, by="org", since=str(w["week"].iloc[len(w) // 2].date()))
        out["period_org"] = time.perf_counter() - t
        clear_cache()
    return out


def stage_cli(db: str) -> dict:
    from typer.testing import CliRunner

    from ctssw.cli._app import app

    t = time.perf_counter()
    r = CliRunner().invoke(app, ["metrics", "--db", db, "--json"])
    if r.exit_code != 0:
        raise RuntimeError(r.output[-2000:])
    return {"metrics_json": time.perf_counter() - t, "rows": len(json.loads(r.stdout)["rows"])}


def child(stage: str, db: Path, script: str = __file__) -> dict:
    """Run ``script --stage STAGE DB`` in a process of its own (its peak memory is its own); its JSON."""
    r = subprocess.run([sys.executable, script, "--stage", stage, str(db)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_stage(stages: dict) -> bool:
    """In a child (``--stage NAME STORE``): print ``stage_NAME(STORE)`` with the peak memory, as JSON."""
    if len(sys.argv) < 2 or sys.argv[1] != "--stage":
        return False
    res = stages[f"stage_{sys.argv[2]}"](sys.argv[3])
    res["max_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps(res))
    return True


def arguments(out: Path) -> argparse.ArgumentParser:
    """The options both metrics benchmarks take: a simulated organisation's size, or a store."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, default=1_000)
    ap.add_argument("--weeks", type=int, default=260)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ctssw-bench-metrics"))
    ap.add_argument("--db", type=Path, default=None, help="an existing store to time instead of simulating")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", type=Path, default=out)
    return ap


def store_run_head(script: str, a, db: Path, what: str) -> list[str]:
    """The first lines of a store's section: the store, the machine, ``what`` was run, and the
    command that reproduces it (the store's path relative to the checkout when it is inside it)."""
    root = Path(__file__).resolve().parents[1]
    shown = db.resolve()
    shown = shown.relative_to(root) if shown.is_relative_to(root) else shown
    where = f"--db {shown}" if a.db else f"--teams {a.teams} --weeks {a.weeks}"
    rounds = f" --rounds {a.rounds}" if a.rounds > 1 else ""
    return [
        f"Store {db.name}. Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {what}",
        "",
        f"Reproduce: `python benchmarks/{script} {where}{rounds}`.",
        "",
    ]


def listed(runs: list[dict], get) -> str:
    """Every run's figure ``get(run)``, in seconds, for a table cell."""
    return ", ".join(f"{get(r):.1f}" for r in runs)


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def simulated_store(teams: int, weeks: int, work: Path) -> tuple[Path, list[tuple[str, float]]]:
    """The store of a simulated organisation (seed 0) under ``work``, simulated and ingested unless
    it is there already; (its path, the seconds of each step that ran)."""
    from ctssw.simulate import simulate
    from ctssw.store import Store, ingest_canonical

    sim, db = work / f"sim-{teams}x{weeks}", work / f"store-{teams}x{weeks}.duckdb"
    prep = []
    if not (sim / "truth.json").exists():
        t = time.perf_counter()
        simulate(sim, teams=teams, weeks=weeks, seed=0)
        prep.append(("simulate (Parquet)", time.perf_counter() - t))
    if not db.exists():
        t = time.perf_counter()
        with Store(db, not_after=NOT_AFTER) as s:
            ingest_canonical(s, sim)
        prep.append(("ingest_canonical", time.perf_counter() - t))
    return db, prep


def main() -> None:
    if run_stage(globals()):
        return
    a = arguments(OUT).parse_args()
    db, prep = (a.db, []) if a.db else simulated_store(a.teams, a.weeks, a.work)
    import duckdb

    with duckdb.connect(str(db), read_only=True) as c:
        rows = {k: c.execute(f'SELECT count(*) FROM "{k}"').fetchone()[0]
                for k in ("changes", "commits", "deployments", "deployment_commits", "incidents")}
    load = load_average()
    runs: dict[str, list[dict]] = {"metrics": [], "cli": []}
    for _ in range(a.rounds):
        for k in runs:
            runs[k].append(child(k, db))
    best = {k: min(v, key=lambda r: r["metrics_json" if k == "cli" else "team_week_metrics"]) for k, v in runs.items()}
    m, c = best["metrics"], best["cli"]

    def all_s(k, f):
        return ", ".join(f"{r[f]:.1f}" for r in runs[k])

    lines = [
        "# Metrics benchmark (DuckDB)",
        "",
        f"Organisation: store {db.name}; " + ", ".join(f"{k} {v:,}" for k, v in rows.items()) + ".",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores; "
        f"best of {a.rounds} interleaved round(s), wall-clock; load average (1, 5, 15 min) at the start: {load}.",
        "",
        "| step | seconds (best) | all runs | output | peak GiB (process) |",
        "|---|---:|---|---|---:|",
        *[f"| {n} | {s:,.1f} | once | | |" for n, s in prep],
        f"| team_week_metrics: panel + linkage + DORA, materialised, to pandas | {m['team_week_metrics']:,.1f} | "
        f"{all_s('metrics', 'team_week_metrics')} | {m['team_weeks']:,} team-weeks | {m['max_rss_gib']:.2f} |",
        f"| period_metrics(by='team'), facts reused | {m['period_team']:,.1f} | {all_s('metrics', 'period_team')} | "
        f"{m['teams']:,} teams | |",
        f"| period_metrics(by='org', since=…) | {m['period_org']:,.1f} | {all_s('metrics', 'period_org')} | 1 row | |",
        f"| `ctssw metrics --json` (panel, linkage, DORA, per team and org) | {c['metrics_json']:,.1f} | "
        f"{all_s('cli', 'metrics_json')} | {c['rows']:,} rows | {c['max_rss_gib']:.2f} |",
        "",
    ]
    print("\n".join(lines))
    # the results file keeps its notes (the 10,000-team runs): only the latest run's block is rewritten
    write_latest(a.out, "\n".join(lines[2:]), head=lines[0] + "\n")


if __name__ == "__main__":
    main()
