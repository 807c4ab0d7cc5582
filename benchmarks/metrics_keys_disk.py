"""The floor's fact SQL on store files whose identifiers are kept as strings or as 64-bit keys.

    python benchmarks/metrics_keys_disk.py build STORE.duckdb OUT.duckdb KEYS   # KEYS: none, dep, all
    python benchmarks/metrics_keys_disk.py run OUT.duckdb KEYS

``bench_metrics_keys.py`` compares in-memory copies, which read differently from a store file
(its string copies were slower than the same SQL on the store). Here ``build`` writes the columns
the floor reads (``metrics_floor.KEYED``) into a new DuckDB file, with the identifiers of
``KEYS`` replaced by their 64-bit ``hash()``: none, ``dep`` (the deployment ids and the commit
shas, as the store keys them since schema version 2, plus the deployments' and the commits' shas
and the incidents' deployment ids), or ``all`` (every identifier). ``run`` builds the floor's
three fact tables from that file, in its own process, and prints each step's seconds and the
counts and sums every kind must share (``metrics_floor.summary``). Run each file in turn, more
than once, in one hour.
"""

from __future__ import annotations

import sys
import time

import duckdb
import metrics_floor as F

KEYS = {**F.KEYS, "dep": frozenset({"sha", "merge_sha", "deployment_id"})}


def build(store: str, out: str, keys: str) -> None:
    con = duckdb.connect(out)
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"ATTACH '{store}' AS s (READ_ONLY)")
    t = time.perf_counter()
    for table in F.KEYED:
        con.execute(f"CREATE TABLE {table} AS SELECT {F.keyed_select(table, KEYS[keys])} FROM s.main.{table}")
    con.execute("CHECKPOINT")
    print(f"build {keys}: {time.perf_counter() - t:.1f} s")


def run(db: str, keys: str) -> None:
    con = duckdb.connect(db, read_only=True)
    con.execute("SET preserve_insertion_order = false")
    # with "dep" the team ids stay strings: only the as-of probe's least deployment id changes
    secs = F._steps(con, keyed=keys != "none", teams=keys == "all")
    print(f"run {keys}: " + ", ".join(f"{k} {v:.1f} s" for k, v in secs.items()) + f"; facts {sum(secs.values()):.1f} s")
    print(F.summary(con))


if __name__ == "__main__":
    {"build": build, "run": run}[sys.argv[1]](*sys.argv[2:])
