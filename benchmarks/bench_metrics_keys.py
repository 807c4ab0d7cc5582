"""What 64-bit keys in the store would buy the metrics: the floor's facts on string ids against the
same SQL on 64-bit keys.

    python benchmarks/bench_metrics_keys.py                       # 1,000 teams x 260 weeks, simulated
    python benchmarks/bench_metrics_keys.py --db STORE.duckdb --rounds 2

Both sides copy the columns the floor (``metrics_floor.py``) reads into in-memory tables, one
keeping the store's strings, the other with every identifier replaced by its 64-bit hash (as a store
could keep beside the strings, computed once at ingest), then build the same three fact tables
from the copies. Each side runs in its own process; rounds are interleaved and every run is shown.
The two must agree on row counts and sums (``metrics_floor.summary``; tests/metrics/test_metrics_floor.py
checks it on the test organisation). Writes benchmarks/results/metrics_keys.md.
"""

from __future__ import annotations

from pathlib import Path

import metrics_floor
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
OUT = HERE / "results" / "metrics_keys.md"
HEAD = """## Metrics facts on 64-bit keys against string ids (the floor's SQL)

The floor's three fact tables (`benchmarks/metrics_floor.py`) built twice from in-memory copies of
the store's tables: with the store's string ids and shas, and with each replaced by its 64-bit hash.
"copy" is the time to make the copies (for the keys, what an ingest would add to compute them once);
the steps are the facts themselves. Each store's latest run replaces its own section below.
"""
STEPS = tuple(name for name, _ in metrics_floor.STEPS)
SIDES = ("strings", "keys")


def _stage(db: str, keyed: bool) -> dict:
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        secs = metrics_floor.build_copies(con, keyed=keyed)
        return {"seconds": secs, "summary": metrics_floor.summary(con)}


def stage_strings(db: str) -> dict:
    return _stage(db, False)


def stage_keys(db: str) -> dict:
    return _stage(db, True)


def _close(a: dict, b: dict) -> bool:
    for t, xs in a.items():
        for x, y in zip(xs, b[t]):
            if (x is None) != (y is None) or (x is not None and abs(x - y) > 1e-9 * max(1.0, abs(x))):
                return False
    return True


def main() -> None:
    if run_stage(globals()):
        return
    a = arguments(OUT).parse_args()
    db = a.db or simulated_store(a.teams, a.weeks, a.work)[0]
    load = load_average()
    runs: dict[str, list[dict]] = {k: [] for k in SIDES}
    for i in range(a.rounds):
        for k in SIDES if i % 2 == 0 else SIDES[::-1]:
            runs[k].append(child(k, db, __file__))
    for v in runs.values():
        for r in v:
            r["facts"] = sum(r["seconds"][s] for s in STEPS)
    best = {k: min(v, key=lambda r: r["facts"]) for k, v in runs.items()}
    s, k = best["strings"], best["keys"]
    if not _close(s["summary"], k["summary"]):
        raise SystemExit(f"the keyed facts differ: {k['summary']} against {s['summary']}")

    lines = [
        *store_run_head("bench_metrics_keys.py", a, db, (
            f"best of {a.rounds} interleaved round(s) by the facts' total, each side in its own process; load "
            f"average at the start {load}. Same rows and sums on both sides (change facts: "
            f"{s['summary']['change_facts'][0]:,} rows).")),
        "| step | string ids s | 64-bit keys s | strings / keys | string ids, all runs | keys, all runs |",
        "|---|---:|---:|---:|---|---|",
        *[f"| {st} | {s['seconds'][st]:.1f} | {k['seconds'][st]:.1f} | {s['seconds'][st] / k['seconds'][st]:.2f}× | "
          f"{listed(runs['strings'], lambda r: r['seconds'][st])} | {listed(runs['keys'], lambda r: r['seconds'][st])} |" for st in ("copy", *STEPS)],
        f"| facts (without the copy) | {s['facts']:.1f} | {k['facts']:.1f} | {s['facts'] / k['facts']:.2f}× | "
        f"{listed(runs['strings'], lambda r: r['facts'])} | {listed(runs['keys'], lambda r: r['facts'])} |",
        f"| peak memory (process) | {s['max_rss_gib']:.2f} GiB | {k['max_rss_gib']:.2f} GiB | | | |",
        "",
    ]
    replace_block(a.out, f"<!-- store {db.name} -->", f"<!-- /store {db.name} -->", "\n".join(lines), head=HEAD)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
