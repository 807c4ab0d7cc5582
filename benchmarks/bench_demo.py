"""``ctssw demo`` end to end: simulate, ingest, panel and DORA metrics, estimates with every
check, and the report, as ``make demo`` runs it; then ``ctssw report --tool assistant`` on the
store the demo wrote (drivers, the tool's impact with every estimator, the tools, the metrics).

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


def _run(src: str | None, out: Path) -> tuple[float, float]:
    """Seconds of ``ctssw demo`` and of ``ctssw report`` on the demo's store."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src
    took = []
    for args in (["demo", "--out", str(out)],
                 ["report", "--db", str(out / "ctssw.duckdb"), "--tool", "assistant", "--out", str(out / "store-report.html")]):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ctssw.cli", *args], check=True, capture_output=True, env=env)
        took.append(time.perf_counter() - t)
    return took[0], took[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pythonpath", default=None, help="another source tree to time alongside")
    a = ap.parse_args()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    trees = {"this revision": None} | ({f"`{a.pythonpath}`": a.pythonpath} if a.pythonpath else {})
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in trees}
    with tempfile.TemporaryDirectory() as d:
        for i in range(a.rounds):
            for k, src in trees.items():
                runs[k].append(_run(src, Path(d) / f"demo-{i}-{len(runs[k])}-{hash(k) & 0xffff}"))
    bytecode = "off (PYTHONDONTWRITEBYTECODE)" if sys.dont_write_bytecode else "on"
    lines = [f"200 teams × 104 weeks, seed 0 (the defaults `make demo` uses); a fresh interpreter per run, "
             f"{os.cpu_count()} cores, load average (1, 5, 15 min) at the start: {load}; bytecode cache {bytecode}.", "",
             "| source tree | demo best s | demo runs s | report best s | report runs s |", "|---|---:|---|---:|---|"]
    for k, v in runs.items():
        demo, rep = [x[0] for x in v], [x[1] for x in v]
        lines.append(f"| {k} | {min(demo):.1f} | {', '.join(f'{x:.1f}' for x in demo)} | {min(rep):.1f} | "
                     f"{', '.join(f'{x:.1f}' for x in rep)} |")
    write_latest(HERE / "results" / "demo.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
