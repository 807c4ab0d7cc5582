"""What 64-bit keys in the store would buy the metrics: the floor's facts on string ids against the
same SQL on 64-bit keys.

    python benchmarks/bench_metrics_keys.py                       # 1,000 teams x 260 weeks, simulated
    python benchmarks/bench_metrics_keys.py --db STORE.duckdb --rounds 2

Each side copies the columns the floor (``metrics_floor.py``) reads into in-memory tables: one
keeps the store's strings, one replaces every identifier by its 64-bit hash (as a store could keep
beside the strings, computed once at ingest), and one the commit shas alone (the widest strings;
ctssw's metrics hash those on the fly), to show what each part of the keys buys. Each then builds
the same three fact tables from its copies, in its own process; rounds are interleaved and every
run is shown. All three must agree on row counts and sums (``metrics_floor.summary``;
tests/metrics/test_metrics_floor.py checks it on the test organisation). Writes
benchmarks/results/metrics_keys.md.
"""

from __future__ import annotations

from functools import partial
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

The floor's three fact tables (`benchmarks/metrics_floor.py`) built three times from in-memory
copies of the store's tables: with the store's string ids and shas, with the commit shas alone
replaced by their 64-bit hash (ctssw's metrics hash those on the fly), and with every identifier
replaced. "copy" is the time to make the copies (for the keys, what an ingest would add to compute
them once); the steps are the facts themselves. Each store's latest run replaces its own section
below.
"""
STEPS = tuple(name for name, _ in metrics_floor.STEPS)
# each side's column heading, by the copies' keys (metrics_floor.KEYS), in the order they run
SIDES = {"none": "string ids", "sha": "sha keys only", "all": "64-bit keys"}


def _stage(db: str, keys: str) -> dict:
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        secs = metrics_floor.build_copies(con, keys=keys)
        return {"seconds": secs, "summary": metrics_floor.summary(con)}


def _close(a: dict, b: dict) -> bool:
    for t, xs in a.items():
        for x, y in zip(xs, b[t]):
            if (x is None) != (y is None) or (x is not None and abs(x - y) > 1e-9 * max(1.0, abs(x))):
                return False
    return True


def main() -> None:
    if run_stage({f"stage_{k}": partial(_stage, keys=k) for k in SIDES}):
        return
    a = arguments(OUT).parse_args()
    db = a.db or simulated_store(a.teams, a.weeks, a.work)[0]
    load = load_average()
    runs: dict[str, list[dict]] = {k: [] for k in SIDES}
    order = list(SIDES)
    for i in range(a.rounds):
        for k in order if i % 2 == 0 else order[::-1]:
            runs[k].append(child(k, db, __file__))
    for v in runs.values():
        for r in v:
            r["facts"] = sum(r["seconds"][s] for s in STEPS)
    best = {k: min(v, key=lambda r: r["facts"]) for k, v in runs.items()}
    s = best["none"]
    for k in order[1:]:
        if not _close(s["summary"], best[k]["summary"]):
            raise SystemExit(f"the facts on {SIDES[k]} differ: {best[k]['summary']} against {s['summary']}")

    def row(name, get):
        best_cells = " | ".join(f"{get(best[k]):.1f}" for k in order)
        ratios = " | ".join(f"{get(s) / get(best[k]):.2f}×" for k in order[1:])
        every = " | ".join(listed(runs[k], get) for k in order)
        return f"| {name} | {best_cells} | {ratios} | {every} |"

    heads = [SIDES[k] for k in order]
    lines = [
        *store_run_head("bench_metrics_keys.py", a, db, (
            f"best of {a.rounds} interleaved round(s) by the facts' total, each side in its own process; load "
            f"average at the start {load}. Same rows and sums on every side (change facts: "
            f"{s['summary']['change_facts'][0]:,} rows).")),
        "| step | " + " | ".join(f"{h} s" for h in heads) + " | "
        + " | ".join(f"strings / {h}" for h in heads[1:]) + " | " + " | ".join(f"{h}, all runs" for h in heads) + " |",
        "|---|" + "---:|" * (2 * len(order) - 1) + "---|" * len(order),
        *[row(st, lambda r, st=st: r["seconds"][st]) for st in ("copy", *STEPS)],
        row("facts (without the copy)", lambda r: r["facts"]),
        "| peak memory (process) | " + " | ".join(f"{best[k]['max_rss_gib']:.2f} GiB" for k in order)
        + " |" + " |" * (2 * len(order) - 1),
        "",
    ]
    replace_block(a.out, f"<!-- store {db.name} -->", f"<!-- /store {db.name} -->", "\n".join(lines), head=HEAD)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
