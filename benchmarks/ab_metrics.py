"""``ctssw metrics --json`` (or ``ctssw panel``) on one store, this source tree against another,
interleaved.

    python benchmarks/ab_metrics.py STORE.duckdb --other CHECKOUT/src [--other-db STORE2.duckdb]
                                    [--command panel] [--rounds 2] [--out FILE]

Each run is a fresh interpreter (``python -m ctssw.cli metrics --db STORE --json``, or
``... panel --db STORE --out FILE``) with ``PYTHONPATH`` set to the tree it times; the trees take
turns, this one first, so a slow spell of a shared machine falls on both. Prints (and with
``--out`` writes) wall seconds and peak memory per run, and whether the two trees gave the same
rows (to 1e-9 relative: the sums of a parallel aggregate may differ in their last digits from run
to run; the panel files are compared as frames, their column types aside).

``--other-db`` gives the other tree a store of its own: a copy of the same organisation in the
schema that tree writes, for a change to the store's schema.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from bench_growth import _run
from bench_metrics import load_average

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # backends.compare
HOUR = 3600.0


def _time(command: str, src: Path, db: Path, tmp: Path):
    """Wall seconds, peak GiB and the rows of one run with ``src`` first on the path: the printed
    document of ``metrics``, the frame ``panel`` wrote."""
    out = tmp / "panel.parquet"  # each run's file is read back before the next run writes it
    args = ["--json"] if command == "metrics" else ["--out", str(out)]
    cmd = [sys.executable, "-m", "ctssw.cli", command, "--db", str(db), *args]
    r = _run(cmd, HOUR, {**os.environ, "PYTHONPATH": str(src)})
    if not r["ok"]:
        raise SystemExit(f"{src}: ctssw {command} failed: {r['why']}")
    if command == "metrics":
        return r["s"], r["gib"], json.loads(r["stdout"])
    import pandas as pd

    return r["s"], r["gib"], pd.read_parquet(out)


def _same(a, b) -> bool:
    import pandas as pd
    from backends.compare import same_json

    try:
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9)
        else:
            same_json(a, b)
    except AssertionError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db", type=Path)
    ap.add_argument("--other", type=Path, required=True, help="the other tree's src folder")
    ap.add_argument("--other-db", type=Path, help="the store the other tree reads (default: STORE)")
    ap.add_argument("--command", choices=("metrics", "panel"), default="metrics")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    trees = {"this tree": ROOT / "src", str(a.other): a.other.resolve()}
    dbs = {"this tree": a.db, str(a.other): a.other_db or a.db}
    what = "ctssw metrics --json" if a.command == "metrics" else "ctssw panel"
    on = a.db.name if a.other_db is None else f"{a.db.name} (the other tree: {a.other_db.name})"
    lines = [f"`{what}` on {on}, {a.rounds} interleaved round(s); load at start "
             f"{load_average()}", "", "| round | tree | wall s | peak GiB |", "|---:|---|---:|---:|"]
    docs: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(1, a.rounds + 1):
            for name, src in trees.items():
                wall, gib, doc = _time(a.command, src, dbs[name], Path(tmp))
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
