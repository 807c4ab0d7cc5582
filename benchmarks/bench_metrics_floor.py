"""ctssw's linkage and DORA facts beside the same facts in hand-written DuckDB SQL (the floor).

    python benchmarks/bench_metrics_floor.py                       # 1,000 teams x 260 weeks, simulated
    python benchmarks/bench_metrics_floor.py --db STORE.duckdb --rounds 2

The facts are most of ``ctssw metrics``: the production deployments with their previous
success, each shipped change's first deployment with its lead time and parts (through the
deployment -> commits -> changes linkage, deriving commits for deployments that stored none), and
each deployment's incidents, recovery and rework. Both sides build the same three tables on the
same store, step by step, each side in a process of its own; rounds run interleaved and every run
is shown. The floor is ``metrics_floor.py`` (tests/metrics/test_metrics_floor.py checks that its
tables equal ctssw's). Writes benchmarks/results/metrics_floor.md.
"""

from __future__ import annotations

import time
from pathlib import Path

from _marks import replace_block
from bench_metrics import (
    arguments,
    child,
    listed,
    load_average,
    run_stage,
    simulated_store,
    store_run_head,
)

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "metrics_floor.md"
HEAD = """## Metrics facts against hand-written DuckDB SQL (the floor)

The linkage and DORA facts `ctssw metrics` builds (most of its time), and the same three
tables from `benchmarks/metrics_floor.py`: plain SQL on a plain DuckDB connection, written for
speed alone. The stores under `.bench-data/growth/` are the growth curve's (`bench_growth.py`, seed 1).
Each store's latest run replaces its own section below.
"""
STEPS = ("deployments", "change facts", "deployment facts")


def stage_ctssw(db: str) -> dict:
    from ctssw.metrics import _api as A
    from ctssw.metrics import _dora as D
    from ctssw.store import Store

    out, rows = {}, {}
    with Store(db, read_only=True) as s:
        con = s.ibis()

        def step(name, build):
            t = time.perf_counter()
            table = build()
            out[name] = time.perf_counter() - t
            rows[name] = int(table.count().execute())
            return table

        # the code path of `ctssw metrics`, each of its steps timed
        A.fact_tables(con, D.dora_config(), step=step)
        A.clear_cache()
    return {"seconds": out, "rows": rows}


def stage_floor(db: str) -> dict:
    import duckdb
    import metrics_floor

    with duckdb.connect(db, read_only=True) as con:
        secs = metrics_floor.build(con)
        rows = {k: con.execute(f"SELECT count(*) FROM floor_{k.replace(' ', '_')}").fetchone()[0] for k in secs}
    return {"seconds": secs, "rows": rows}


def main() -> None:
    if run_stage(globals()):
        return
    a = arguments(OUT).parse_args()
    db = a.db or simulated_store(a.teams, a.weeks, a.work)[0]
    load = load_average()
    runs: dict[str, list[dict]] = {"ctssw": [], "floor": []}
    for _ in range(a.rounds):
        for k in runs:
            runs[k].append(child(k, db, __file__))
    for k, v in runs.items():
        for r in v:
            r["total"] = sum(r["seconds"].values())
    best = {k: min(v, key=lambda r: r["total"]) for k, v in runs.items()}
    c, f = best["ctssw"], best["floor"]
    if c["rows"] != f["rows"]:
        raise SystemExit(f"ctssw and the floor built different row counts: {c['rows']} against {f['rows']}")

    lines = [
        *store_run_head("bench_metrics_floor.py", a, db, (
            f"best of {a.rounds} interleaved round(s) by total, each side in its own process; load average at "
            f"the start {load}. Same rows on both sides (counts below; the values are checked equal by "
            "tests/metrics/test_metrics_floor.py).")),
        "| step | rows | ctssw s | floor s | ctssw / floor | ctssw, all runs | floor, all runs |",
        "|---|---:|---:|---:|---:|---|---|",
        *[f"| {s} | {c['rows'][s]:,} | {c['seconds'][s]:.1f} | {f['seconds'][s]:.1f} | "
          f"{c['seconds'][s] / f['seconds'][s]:.2f}× | {listed(runs['ctssw'], lambda r: r['seconds'][s])} | {listed(runs['floor'], lambda r: r['seconds'][s])} |" for s in STEPS],
        f"| total | | {c['total']:.1f} | {f['total']:.1f} | {c['total'] / f['total']:.2f}× | "
        f"{listed(runs['ctssw'], lambda r: r['total'])} | {listed(runs['floor'], lambda r: r['total'])} |",
        f"| peak memory (process) | | {c['max_rss_gib']:.2f} GiB | {f['max_rss_gib']:.2f} GiB | | | |",
        "",
    ]
    # each store's section is its own: a run replaces it and keeps the others
    replace_block(a.out, f"<!-- store {db.name} -->", f"<!-- /store {db.name} -->", "\n".join(lines), head=HEAD)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
