"""A Spark command's fixed cost: ``ctssw panel --backend spark`` with and without the driver JVM's
class-data archive (``ctssw/panel/_cds.py``), beside the same command on DuckDB (the floor).

    python benchmarks/bench_spark_start.py --teams 6 --weeks 14 --repeat 3

Simulates the organisation (seed 11) and ingests it (not timed). Then each command runs in its
own process, as a user runs it: first with an empty cache folder (that run writes the archive),
then ``--repeat`` rounds of: with the archive, without it (``CTSSW_SPARK_CDS=0``), on DuckDB.
For each run: wall time, and the machine's busy CPU time over it (``/proc/stat``, so the JVM's
threads count too). Every Spark panel must equal the DuckDB one. Writes
results/spark_start_TEAMSxWEEKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _marks import write_latest

from ctssw.simulate import simulate
from ctssw.store import Store, ingest_canonical

RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _busy() -> float:
    """Seconds of CPU the whole machine has spent busy (user, nice, system, irq, softirq)."""
    f = open("/proc/stat").readline().split()[1:]
    return (int(f[0]) + int(f[1]) + int(f[2]) + int(f[5]) + int(f[6])) / os.sysconf("SC_CLK_TCK")


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    cpu, t = _busy(), time.perf_counter()
    r = subprocess.run([sys.executable, "-c", "from ctssw.cli import main; main()", *args],
                       env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode:
        sys.exit(f"ctssw {' '.join(args)} exited {r.returncode}\n{r.stderr[-2000:]}")
    return wall, _busy() - cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, default=6)
    ap.add_argument("--weeks", type=int, default=14)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="default: results/spark_start_TEAMSxWEEKS.md")
    a = ap.parse_args()
    a.out = a.out or RESULTS / f"spark_start_{a.teams}x{a.weeks}.md"
    from backends.compare import assert_frames_equal

    work = Path(tempfile.mkdtemp(prefix="ctssw-bench-start-"))
    simulate(work / "sim", teams=a.teams, weeks=a.weeks, seed=11)
    db = work / "ctssw.duckdb"
    with Store(db) as s:
        ingest_canonical(s, work / "sim")
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONF_DIR", "CTSSW_SPARK_CDS")}
    env.update(CTSSW_CACHE_DIR=str(work / "cache"), CTSSW_SPARK_MEMORY="1g")
    spark = ["--backend", "spark"]
    # (label, environment, backend options)
    cases = [
        ("Spark, with the archive", env, spark),
        ("Spark, without it (CTSSW_SPARK_CDS=0)", {**env, "CTSSW_SPARK_CDS": "0"}, spark),
        ("DuckDB (the floor)", env, []),
    ]
    times: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in cases}
    first = _run(["panel", "--db", str(db), "--out", str(work / "first.parquet"), *spark], env)
    archives = list((work / "cache").glob("*.jsa"))
    for i in range(a.repeat):
        for k, (name, e, backend) in enumerate(cases):
            out = work / f"{i}-{k}.parquet"
            times[name].append(_run(["panel", "--db", str(db), "--out", str(out), *backend], e))
            if backend:
                assert_frames_equal(pd.read_parquet(out), pd.read_parquet(work / "first.parquet"), rtol=1e-9)
    floor_out = work / f"0-{len(cases) - 1}.parquet"
    assert_frames_equal(pd.read_parquet(work / "first.parquet"), pd.read_parquet(floor_out), rtol=1e-9)

    def cell(v: list[tuple[float, float]]) -> str:
        return f"{statistics.median(w for w, _ in v):.1f} s | {statistics.median(c for _, c in v):.1f} s"

    load = os.getloadavg()
    rows = [
        f"| the first Spark run, which writes the archive ({archives[0].stat().st_size / 2**20:.0f} MiB) "
        f"| {first[0]:.1f} s | {first[1]:.1f} s |" if archives else "| the first Spark run wrote no archive | — | — |",
        *[f"| {name} | {cell(v)} |" for name, v in times.items()],
    ]
    med = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
    with_, without, floor = med.values()
    text = "\n".join([
        "# A Spark command's fixed cost: the driver JVM's class-data archive",
        "",
        f"`ctssw panel --backend spark` on a simulated {a.teams}-team × {a.weeks}-week organisation (seed 11), "
        f"each run its own process; machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. "
        f"Median of {a.repeat} interleaved rounds; CPU is the whole machine's busy time over the run "
        "(the JVM's threads included). Every Spark panel equals the DuckDB one (all columns, floats to 1e-9).",
        "",
        f"Reproduce: `python benchmarks/bench_spark_start.py --teams {a.teams} --weeks {a.weeks} --repeat {a.repeat}`.",
        "",
        "| run | wall | CPU |",
        "|---|---:|---:|",
        *rows,
        "",
        f"With the archive a Spark command takes {with_ / without:.2f}× the time it takes without "
        f"({without - with_:.1f} s less); the DuckDB command is {with_ / floor:.1f}× faster still.",
        "",
    ])
    write_latest(a.out, text)
    print(text)


if __name__ == "__main__":
    main()
