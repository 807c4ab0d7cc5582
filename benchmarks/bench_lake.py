"""The lake layout: ``ctssw ingest canonical --lake`` against plain DuckDB writing the same partitions,
and the panel read from the lake against the panel read from the store file.

Usage: python benchmarks/bench_lake.py [--teams 200 1000] [--weeks 260] [--repeat 2] [--out FILE]

The organisation is the one ``bench_ingest.py`` simulates (Parquet parts per table, every date in
the past). For each size, interleaved round by round so a change in the machine's load hits all
alike, each in a fresh process (the call's own seconds; peak memory = max RSS):

- **floor**: plain DuckDB, for every table ``COPY (SELECT *, strftime(date, '%Y-%m') AS month FROM
  read_parquet('DIR/t/*.parquet')) TO 'LAKE/t' (FORMAT parquet, PARTITION_BY (month))`` (the lake's
  month partitions; unpartitioned tables as one file), with the store's memory limit;
- **lake first**: :func:`ctssw.store.ingest_canonical` into a new store with a new lake;
- **lake again**: the same folder again (nothing changes, nothing is written);
- **file first**: the same into a store keeping its tables in the file (for the panel below);
- **copy floor**: plain DuckDB copying that store file's canonical tables to the same month
  partitions (``ATTACH`` read-only, then the ``COPY ... PARTITION_BY (month)`` above per table);
- **copy to lake**: :func:`ctssw.store.copy_to_lake` of that store file to a new store with a lake
  (``ctssw copy-to-lake``);
- **panel lake** / **panel file**: ``ctssw.panel.panel`` (unit deployment) on DuckDB from the lake
  (views over its Parquet files) and from the store file.

Best of ``--repeat`` rounds. Writes ``benchmarks/results/lake.md`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _marks import write_latest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_ingest import DATA, _simulate, best_of_rounds  # noqa: E402


def _partition_copy(tables: dict[str, str], floor: Path, attach: Path | None = None) -> int:
    """The floor: plain DuckDB, with the store's settings, copying each table (name → what to read
    it FROM) to the lake's month partitions under ``floor`` (unpartitioned tables as one file),
    reading the store file ``attach`` as ``src`` when given; returns the rows copied."""
    import duckdb

    from ctssw.store._lake import MONTH_OF
    from ctssw.store._open import _memory_budget

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{_memory_budget()}'")
    con.execute("SET preserve_insertion_order = false")
    if attach is not None:
        con.execute(f"ATTACH '{attach}' AS src (READ_ONLY)")
    rows = 0
    for name, src in tables.items():
        rows += con.execute(f"SELECT count(*) FROM {src}").fetchall()[0][0]
        (floor / name).parent.mkdir(parents=True, exist_ok=True)
        if name in MONTH_OF:
            con.execute(
                f"COPY (SELECT *, strftime(\"{MONTH_OF[name]}\", '%Y-%m') AS month FROM {src}) "
                f"TO '{floor / name}' (FORMAT parquet, PARTITION_BY (month))"
            )
        else:
            (floor / name).mkdir(parents=True, exist_ok=True)
            con.execute(f"COPY (SELECT * FROM {src}) TO '{floor / name / 'part-0.parquet'}' (FORMAT parquet)")
    con.close()
    return rows


def _child(kind: str, data: Path, work: Path) -> dict:
    import resource

    from ctssw.store import (
        LAKE_TABLES,
        LOAD_ORDER,
        Store,
        copy_to_lake,
        ingest_canonical,
        open_lake,
    )

    db, lake, floor, plain = work / "lake.duckdb", work / "lake", work / "floor-lake", work / "file.duckdb"
    copied, copied_lake = work / "copied.duckdb", work / "copied-lake"
    # each run that creates something starts from nothing: (store file or None, folder or None)
    fresh = {"floor": (None, floor), "copy_floor": (None, floor), "copy_to_lake": (copied, copied_lake),
             "lake_first": (db, lake), "file_first": (plain, None)}
    store_file, folder = fresh.get(kind, (None, None))
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    if store_file is not None:
        for p in (store_file, Path(str(store_file) + ".wal")):
            p.unlink(missing_ok=True)
    out: dict = {}
    t = time.perf_counter()
    if kind == "floor":
        out["rows"] = _partition_copy({n: f"read_parquet('{data / n}/*.parquet')" for n in LOAD_ORDER if (data / n).is_dir()}, floor)
    elif kind == "copy_floor":
        out["rows"] = _partition_copy({n: f'src."{n}"' for n in LOAD_ORDER if n in LAKE_TABLES}, floor, attach=plain)
    elif kind == "copy_to_lake":
        res = copy_to_lake(plain, copied, copied_lake)
        out["rows"] = sum(n for table, n in res["rows"].items() if table in LAKE_TABLES)
    elif kind in ("lake_first", "lake_again", "file_first"):
        with Store(plain if kind == "file_first" else db, lake=None if kind == "file_first" else lake) as s:
            counts = ingest_canonical(s, data)
        out.update(rows=sum(c.read for c in counts), loaded=sum(c.loaded for c in counts),
                   duplicate=sum(c.duplicate for c in counts), quarantined=sum(c.quarantined for c in counts))
    else:
        from ctssw.panel import panel

        with open_lake(db=db if kind == "panel_lake" else plain) as s:
            df = panel(s.ibis(), unit="deployment")
        out["rows"] = len(df)
    out["seconds"] = time.perf_counter() - t
    out["rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def _run(kind: str, data: Path, work: Path) -> dict:
    env = {**os.environ, "CTSSW_IDENTITY_KEY": str(work / "identity.key")}
    p = subprocess.run([sys.executable, __file__, "--child", kind, str(data), str(work)], capture_output=True, text=True, env=env)
    if p.returncode:
        raise SystemExit(f"{kind} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


LABEL = {
    "floor": "plain DuckDB COPY ... PARTITION_BY (month) (floor)",
    "lake_first": "ctssw ingest canonical --lake, first",
    "lake_again": "ctssw ingest canonical --lake, again (nothing changed)",
    "file_first": "ctssw ingest canonical into the store file, first",
    "copy_floor": "plain DuckDB COPY of the store file's tables ... PARTITION_BY (month) (copy floor)",
    "copy_to_lake": "ctssw copy-to-lake of that store file",
    "panel_lake": "panel from the lake (DuckDB views over Parquet)",
    "panel_file": "panel from the store file",
}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teams", type=int, nargs="+", default=[200, 1000])
    ap.add_argument("--weeks", type=int, default=260)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "lake.md")
    a = ap.parse_args()
    lines = [
        "## The lake layout: ingest against plain DuckDB writing the same partitions, and the panel from the lake",
        "",
        f"`python benchmarks/bench_lake.py --teams {' '.join(map(str, a.teams))} --weeks {a.weeks} --repeat {a.repeat}`",
        "",
    ]
    for teams in a.teams:
        data = _simulate(teams, a.weeks)
        work = DATA / f"lake-{teams}x{a.weeks}"
        work.mkdir(parents=True, exist_ok=True)
        load0 = os.getloadavg()
        kinds = ("floor", "lake_first", "lake_again", "file_first", "copy_floor", "copy_to_lake", "panel_lake", "panel_file")
        runs, best = best_of_rounds(kinds, a.repeat, lambda k: _run(k, data, work), label=f"{teams} ")
        load1 = os.getloadavg()
        floor, pfile, cfloor = best["floor"]["seconds"], best["panel_file"]["seconds"], best["copy_floor"]["seconds"]
        lines += [
            f"### {teams:,} teams × {a.weeks} weeks, {best['floor']['rows']:,} rows",
            "",
            f"{os.cpu_count()} cores; load average {load0[0]:.1f} at the start and {load1[0]:.1f} at the end (1-minute). "
            f"Each run in a fresh process, interleaved, best of {a.repeat}.",
            "",
            "| run | best s | all runs s | × floor (ingest), × copy floor (copy) or × file (panel) | peak GiB |",
            "|---|---:|---|---:|---:|",
        ]
        for k in kinds:
            b = best[k]
            base = pfile if k.startswith("panel") else cfloor if k.startswith("copy") else floor
            lines.append(
                f"| {LABEL[k]} | {b['seconds']:.2f} | {', '.join(format(x['seconds'], '.2f') for x in runs[k])} | "
                f"{b['seconds'] / base:.2f} | {max(x['rss_gib'] for x in runs[k]):.2f} |"
            )
        lines.append("")
    text = "\n".join(lines)
    print(text)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    write_latest(a.out, text)


if __name__ == "__main__":
    main()
