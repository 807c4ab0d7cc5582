"""``ctssw --help`` and ``ctssw status`` start-up time: the CLI imports its stages only when a command runs.

Each command runs 5 times in a fresh interpreter; the table gives the median wall-clock and CPU
(user + system) seconds, and the machine's load average at the start, since wall-clock on a
shared machine waits for the cores. The store for ``status`` is a small real one: one git
repository of 200 commits ingested with ``ctssw ingest git``.

Run:  .venv/bin/python benchmarks/bench_cli.py
Writes benchmarks/results/cli.md.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _marks import write_latest

HERE = Path(__file__).resolve().parent
CTSSW = [sys.executable, "-m", "ctssw.cli"]


def _time(cmd: list[str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        repo = tmp / "svc"
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@corp.example",
               "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@corp.example"}
        for i in range(200):
            (repo / f"f{i % 10}.txt").write_text(f"{i}\n")
            subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=env)
            subprocess.run(["git", "-C", str(repo), "commit", "-qm", f"c{i}"], check=True, env=env)
        subprocess.run([*CTSSW, "ingest", "git", str(repo)], cwd=tmp, check=True, capture_output=True)
        load = os.getloadavg()[0]
        rows = []
        for name, cmd in (("ctssw --help", [*CTSSW, "--help"]), ("ctssw status", [*CTSSW, "status"]),
                          ("python -c pass", [sys.executable, "-c", "pass"])):
            runs = [_time(cmd, tmp) for _ in range(5)]
            rows.append((name, statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)))
    lines = ["# CLI start-up", "", f"Load average at the start: {load:.1f} on {os.cpu_count()} cores.", "",
             "| command | wall s (median of 5) | CPU s (median of 5) |", "|---|---:|---:|"]
    lines += [f"| `{n}` | {w:.2f} | {c:.2f} |" for n, w, c in rows]
    write_latest(HERE / "results" / "cli.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
