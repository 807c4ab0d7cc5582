"""``ctssw demo`` end to end: simulate, ingest, panel and DORA metrics, estimates with every
check, and the report, as ``make demo`` runs it.

Each run is a fresh interpreter writing to a new folder; the table gives every run's
wall-clock, the best, and the machine's load average at the start. ``--pythonpath DIR``
times another source tree the same way (interleaved with this one), e.g. a checkout of the
revision before a change.

Run:  .venv/bin/python benchmarks/bench_demo.py [--rounds 3] [--pythonpath OTHER/src]
Writes benchmarks/results/demo.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _marks import write_latest

HERE = Path(__file__).resolve().parent


def _run(src: str | None, out: Path) -> float:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ctssw.cli", "demo", "--out", str(out)], check=True, capture_output=True, env=env)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pythonpath", default=None, help="another source tree to time alongside")
    a = ap.parse_args()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    trees = {"this revision": None} | ({f"`{a.pythonpath}`": a.pythonpath} if a.pythonpath else {})
    runs: dict[str, list[float]] = {k: [] for k in trees}
    with tempfile.TemporaryDirectory() as d:
        for i in range(a.rounds):
            for k, src in trees.items():
                runs[k].append(_run(src, Path(d) / f"demo-{i}-{len(runs[k])}-{hash(k) & 0xffff}"))
    bytecode = "off (PYTHONDONTWRITEBYTECODE)" if sys.dont_write_bytecode else "on"
    lines = [f"200 teams × 104 weeks, seed 0 (the defaults `make demo` uses); a fresh interpreter per run, "
             f"{os.cpu_count()} cores, load average (1, 5, 15 min) at the start: {load}; bytecode cache {bytecode}.", "",
             "| source tree | best s | all runs s |", "|---|---:|---|"]
    lines += [f"| {k} | {min(v):.1f} | {', '.join(f'{x:.1f}' for x in v)} |" for k, v in runs.items()]
    write_latest(HERE / "results" / "demo.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
