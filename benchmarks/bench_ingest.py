"""Bulk ingest against plain DuckDB: ``ctssw ingest canonical`` of a simulated organisation.

Usage: python benchmarks/bench_ingest.py [--teams 1000] [--weeks 260] [--repeat 3] [--out FILE]

The simulator writes the organisation's canonical tables (Parquet parts per table) once, with
every date in the past so no row is quarantined as implausible. Three things are then timed,
interleaved round by round so a change in the machine's load hits all three alike:

- **floor**: plain DuckDB, ``CREATE TABLE t AS SELECT * FROM read_parquet('DIR/t/*.parquet')`` for
  every table in one transaction, with the store's memory limit, closed (checkpointed);
- **first ingest**: :func:`ctssw.store.ingest_canonical` into a new store, closed;
- **re-ingest**: the same folder again into that store (nothing changes).

Each run is a fresh process; the figures are the call's own seconds (interpreter start and imports
left out) and the process's peak memory (max RSS). Best of ``--repeat`` rounds is reported.
Writes ``benchmarks/results/ingest.md`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _marks import write_latest

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / ".bench-data"
START = "2020-01-06"  # 260 weeks from here end before today: every row is plausible


def floor_connect(db: Path):
    """A new DuckDB file for the floor, with the store's memory limit and insertion order setting
    (the settings ctssw's own loads run under), any file of that name removed first."""
    import duckdb

    from ctssw.store._open import _memory_budget

    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute(f"SET memory_limit = '{_memory_budget()}'")
    con.execute("SET preserve_insertion_order = false")
    return con


def _child(kind: str, data: Path, db: Path) -> dict:
    """One timed run, inside its own process."""
    import resource

    from ctssw.store import LOAD_ORDER, Store, ingest_canonical

    if kind in ("floor", "first"):  # before the clock starts
        for p in (db, Path(str(db) + ".wal")):
            p.unlink(missing_ok=True)
    out: dict = {}
    t = time.perf_counter()
    if kind == "floor":
        con = floor_connect(db)
        con.execute("BEGIN TRANSACTION")
        rows = 0
        for name in LOAD_ORDER:
            if (data / name).is_dir():
                con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{data / name}/*.parquet')")
                rows += con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
        con.execute("COMMIT")
        con.close()
        out["rows"] = rows
    else:
        with Store(db) as s:
            counts = ingest_canonical(s, data)
        out.update(
            rows=sum(c.read for c in counts), loaded=sum(c.loaded for c in counts),
            updated=sum(c.updated for c in counts), duplicate=sum(c.duplicate for c in counts),
            quarantined=sum(c.quarantined for c in counts),
        )
    out["seconds"] = time.perf_counter() - t
    out["rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def _run(kind: str, data: Path, db: Path) -> dict:
    env = {**os.environ, "CTSSW_IDENTITY_KEY": str(db.parent / "identity.key")}
    p = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(data), str(db)], capture_output=True, text=True, env=env
    )
    if p.returncode:
        raise SystemExit(f"{kind} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def best_of_rounds(kinds: tuple[str, ...], repeat: int, run, label: str = "") -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """``run(kind)`` for each kind in turn, ``repeat`` rounds (so the load on the cores falls on
    every kind alike); every run and each kind's fastest, by kind."""
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    width = max(len(k) for k in kinds)
    for r in range(repeat):
        for k in kinds:
            res = run(k)
            runs[k].append(res)
            print(f"{label}round {r + 1} {k:{width}s} {res['seconds']:7.2f} s  peak {res['rss_gib']:.2f} GiB  "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    return runs, {k: min(runs[k], key=lambda x: x["seconds"]) for k in kinds}


def _simulate(teams: int, weeks: int) -> Path:
    from ctssw.simulate import simulate

    d = DATA / f"ingest-{teams}x{weeks}"
    stamp = d / "truth.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("config", {}).get("start") == START:
        return d
    shutil.rmtree(d, ignore_errors=True)
    t = time.perf_counter()
    simulate(d, teams=teams, weeks=weeks, seed=1, start=dt.date.fromisoformat(START))
    print(f"simulated {teams} teams x {weeks} weeks in {time.perf_counter() - t:.1f} s", flush=True)
    return d


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, data, db = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
        print(json.dumps(_child(kind, data, db)))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teams", type=int, default=1000)
    ap.add_argument("--weeks", type=int, default=260)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "ingest.md")
    a = ap.parse_args()
    data = _simulate(a.teams, a.weeks)
    work = DATA / "ingest-stores"
    work.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    kinds = ("floor", "first", "again")
    runs, best = best_of_rounds(kinds, a.repeat, lambda k: _run(k, data, work / ("floor.duckdb" if k == "floor" else "ctssw.duckdb")))
    load1 = os.getloadavg()
    floor = best["floor"]["seconds"]
    label = {"floor": "plain DuckDB CREATE TABLE AS read_parquet (floor)", "first": "ctssw first ingest",
             "again": "ctssw re-ingest, nothing changed"}
    lines = [
        "## Bulk ingest: ctssw ingest canonical against plain DuckDB",
        "",
        f"`python benchmarks/bench_ingest.py --teams {a.teams} --weeks {a.weeks} --repeat {a.repeat}`",
        "",
        f"{a.teams:,} teams × {a.weeks} weeks, {best['floor']['rows']:,} rows in {len(list(data.glob('*/*.parquet')))} "
        f"Parquet files; {os.cpu_count()} cores; load average {load0[0]:.1f} at the start and {load1[0]:.1f} at the end "
        "(1-minute). Each run in a fresh process, interleaved, best of "
        f"{a.repeat}; seconds of the call, peak memory = max RSS of the process.",
        "",
        "| run | best s | all runs s | × floor | peak GiB | loaded | duplicate | quarantined |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for k in kinds:
        b = best[k]
        lines.append(
            f"| {label[k]} | {b['seconds']:.2f} | {', '.join(format(x['seconds'], '.2f') for x in runs[k])} | "
            f"{b['seconds'] / floor:.2f} | {max(x['rss_gib'] for x in runs[k]):.2f} | "
            f"{b.get('loaded', b['rows']):,} | {b.get('duplicate', 0):,} | {b.get('quarantined', 0):,} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    print(f"first ingest ÷ floor: {best['first']['seconds'] / floor:.2f}; re-ingest ÷ floor: {best['again']['seconds'] / floor:.2f}")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_latest(a.out, text)


if __name__ == "__main__":
    main()
