"""Run every benchmark and collect their tables into benchmarks/RESULTS.md.

Each ``bench_*.py`` writes its own ``results/<name>.md``; this script runs them
in turn (one at a time, so they do not compete for the 2 cores) and joins the
tables. Pass names to run a subset: ``python benchmarks/run.py pipeline lmm``;
``--collect`` only joins the existing tables.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    wanted = set(sys.argv[1:])
    collect_only = "--collect" in wanted  # only rebuild RESULTS.md from results/*.md
    wanted.discard("--collect")
    failed = []
    for script in [] if collect_only else sorted(HERE.glob("bench_*.py")):
        name = script.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"== {name}", flush=True)
        t = time.perf_counter()
        r = subprocess.run([sys.executable, str(script)])
        print(f"== {name}: exit {r.returncode} after {time.perf_counter() - t:.0f} s", flush=True)
        if r.returncode:
            failed.append(name)
    parts = [
        "# Benchmark results",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}. "
        "Regenerate with `make bench` (all) or `python benchmarks/run.py NAME...`.",
        "",
    ]
    for md in sorted((HERE / "results").glob("*.md")):
        parts.append(md.read_text().strip())
        parts.append("")
    (HERE / "RESULTS.md").write_text("\n".join(parts))
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
