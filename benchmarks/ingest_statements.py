"""Where a first ``ctssw ingest canonical`` spends its time above plain DuckDB, statement by statement.

    python benchmarks/ingest_statements.py DATA_DIR [--work DIR] [--rounds 2]

DATA_DIR is a folder of canonical Parquet files (``bench_ingest.py`` simulates one under
``.bench-data/ingest-TEAMSxWEEKS``). Three parts, each into new DuckDB files under ``--work``:

1. one first ingest by ctssw, every statement it sends to DuckDB timed (the ten slowest printed,
   and the time spent outside statements);
2. the floor, plain ``CREATE TABLE AS SELECT * FROM read_parquet(...)`` of each table, each
   statement timed;
3. the ``deployment_commits`` insert taken apart, ``--rounds`` times: the floor's copy of its
   columns; the same with ctssw's NOT NULL checks, ``source`` and ``ingested_at``; with the two
   identifier keys as well (what ctssw writes); and the same with a constant ``source``.

The figures in results/ingest.md ("Where the ... s above the floor go") come from this script.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench_ingest import floor_connect


def ctssw_statements(data: Path, db: Path) -> None:
    import duckdb

    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    os.environ.setdefault("CTSSW_IDENTITY_KEY", str(db.parent / "identity.key"))
    from ctssw.store import Store, ingest_canonical

    timed: list[tuple[float, str]] = []
    execute = duckdb.DuckDBPyConnection.execute

    def timed_execute(self, query, *args, **kw):
        t = time.perf_counter()
        try:
            return execute(self, query, *args, **kw)
        finally:
            timed.append((time.perf_counter() - t, " ".join(str(query).split())[:90]))

    duckdb.DuckDBPyConnection.execute = timed_execute
    try:
        t = time.perf_counter()
        with Store(db) as s:
            ingest_canonical(s, data)
        total = time.perf_counter() - t
    finally:
        duckdb.DuckDBPyConnection.execute = execute
    inside = sum(x for x, _ in timed)
    print(f"ctssw first ingest: {total:.2f} s, {len(timed)} statements {inside:.2f} s, outside them {total - inside:.2f} s")
    for x, q in sorted(timed, reverse=True)[:10]:
        print(f"  {x:6.2f} s  {q}")


def floor_statements(data: Path, db: Path) -> None:
    from ctssw.store import LOAD_ORDER

    con = floor_connect(db)
    con.execute("BEGIN TRANSACTION")
    t0 = time.perf_counter()
    for name in LOAD_ORDER:
        if (data / name).is_dir():
            t = time.perf_counter()
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{data / name}/*.parquet')")
            print(f"  {time.perf_counter() - t:6.2f} s  {name}")
    t = time.perf_counter()
    con.execute("COMMIT")
    print(f"  {time.perf_counter() - t:6.2f} s  commit")
    print(f"floor: {time.perf_counter() - t0:.2f} s")
    con.close()


def one_insert(data: Path, db: Path, rounds: int) -> None:
    files = sorted(str(p) for p in (data / "deployment_commits").glob("*.parquet"))
    names = "([" + ", ".join(f"'{f}'" for f in files) + "]::VARCHAR[])"
    scan = f"(SELECT *, CAST(file_index AS BIGINT) AS _src FROM read_parquet({files}, file_row_number = true))"
    fit = "WHERE deployment_id IS NOT NULL AND sha IS NOT NULL"
    keys = ("CASE WHEN deployment_id IS NOT NULL THEN hash(deployment_id) END, "
            "CASE WHEN sha IS NOT NULL THEN hash(sha) END, ")
    variants = {
        "floor (the files' columns)": f"SELECT deployment_id, sha, repo_id FROM read_parquet({files})",
        "checks, source, ingested_at": f"SELECT deployment_id, sha, repo_id, {names}[_src + 1], now() FROM {scan} {fit}",
        "and the two keys (ctssw)": f"SELECT deployment_id, sha, repo_id, {keys}{names}[_src + 1], now() FROM {scan} {fit}",
        "the same, constant source": f"SELECT deployment_id, sha, repo_id, {keys}'x', now() FROM {scan} {fit}",
    }
    for r in range(rounds):
        for label, sql in variants.items():
            con = floor_connect(db)
            con.execute("BEGIN TRANSACTION")
            t = time.perf_counter()
            con.execute(f"CREATE TABLE t AS {sql}")
            con.execute("COMMIT")
            print(f"round {r + 1}  {label:30s} {time.perf_counter() - t:6.2f} s", flush=True)
            con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ctssw-ingest-statements"))
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    ctssw_statements(a.data, a.work / "ctssw.duckdb")
    floor_statements(a.data, a.work / "floor.duckdb")
    one_insert(a.data, a.work / "one.duckdb", a.rounds)


if __name__ == "__main__":
    main()
