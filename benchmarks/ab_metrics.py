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
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "src"


def _run(src: Path, db: Path, out: Path) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, "-m", "ctssw.cli", "metrics", "--db", str(db), "--json"]
    t = time.perf_counter()
    with open(out, "w") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{src}: ctssw metrics failed")
    return wall, usage.ru_maxrss / 2**20  # KiB on Linux -> GiB


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db", type=Path)
    ap.add_argument("--other", type=Path, required=True, help="the other tree's src folder")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    trees = {"this tree": HERE, str(a.other): a.other.resolve()}
    lines = [f"`ctssw metrics --json` on {a.db.name}, {a.rounds} interleaved round(s); load at start "
             f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}", "",
             "| round | tree | wall s | peak GiB |", "|---:|---|---:|---:|"]
    docs: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(1, a.rounds + 1):
            for name, src in trees.items():
                out = Path(tmp) / f"{r}-{len(docs)}.json"
                wall, gib = _run(src, a.db, out)
                docs.setdefault(name, json.loads(out.read_text()))
                lines.append(f"| {r} | {name} | {wall:.1f} | {gib:.1f} |")
                print(lines[-1], flush=True)
    first, second = docs.values()
    lines += ["", f"same rows: {_same(first, second)}"]
    print(lines[-1])
    if a.out:
        a.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
