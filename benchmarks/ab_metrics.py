"""``ctssw metrics --json`` on one store, this source tree against another, interleaved.

    python benchmarks/ab_metrics.py STORE.duckdb --other CHECKOUT/src [--rounds 2] [--out FILE]

Each run is a fresh interpreter (``python -m ctssw.cli metrics --db STORE --json``) with
``PYTHONPATH`` set to the tree it times; the trees take turns, this one first, so a slow spell
of a shared machine falls on both. Prints (and with ``--out`` writes) wall seconds and peak
memory per run, and whether the two trees printed the same rows (to 1e-9 relative: the sums of
a parallel aggregate may differ in their last digits from run to run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bench_growth import _run
from bench_metrics import load_average

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # backends.compare
HOUR = 3600.0


def _metrics(src: Path, db: Path) -> tuple[float, float, dict]:
    """Wall seconds, peak GiB and the printed document of one run with ``src`` first on the path."""
    cmd = [sys.executable, "-m", "ctssw.cli", "metrics", "--db", str(db), "--json"]
    r = _run(cmd, HOUR, {**os.environ, "PYTHONPATH": str(src)})
    if not r["ok"]:
        raise SystemExit(f"{src}: ctssw metrics failed: {r['why']}")
    return r["s"], r["gib"], json.loads(r["stdout"])


def _same(a: dict, b: dict) -> bool:
    from backends.compare import same_json

    try:
        same_json(a, b)
    except AssertionError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db", type=Path)
    ap.add_argument("--other", type=Path, required=True, help="the other tree's src folder")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    trees = {"this tree": ROOT / "src", str(a.other): a.other.resolve()}
    lines = [f"`ctssw metrics --json` on {a.db.name}, {a.rounds} interleaved round(s); load at start "
             f"{load_average()}", "", "| round | tree | wall s | peak GiB |", "|---:|---|---:|---:|"]
    docs: dict[str, dict] = {}
    for r in range(1, a.rounds + 1):
        for name, src in trees.items():
            wall, gib, doc = _metrics(src, a.db)
            docs.setdefault(name, doc)
            lines.append(f"| {r} | {name} | {wall:.1f} | {gib:.1f} |")
            print(lines[-1], flush=True)
    first, second = docs.values()
    lines += ["", f"same rows: {_same(first, second)}"]
    print(lines[-1])
    if a.out:
        a.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
