"""The single-factor LMM path (``y ~ x + (x | g)``, REML) at two revisions of ctssw, interleaved.

The crossed-effects work (sparse factorisation, derivative-free search with restarts, the
local-optimum check) must not slow the one-pass sufficient-statistics path that single-factor
models take. On a shared machine absolute times move with the load, so this compares a
revision against the working tree in the same run: each revision is checked out into a
temporary worktree, and for each size the two are timed alternately (``--rounds`` times, each
a child process that warms up on a small fit and reports the median of ``--repeats`` fits of
the data, which every child builds with the same seed as ``bench_lmm.py``). The ratio of the
best times is the figure; estimates are compared so both fit the same model.

    python benchmarks/bench_lmm_revisions.py [--base a7fe793] [--rounds 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _marks import write_latest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "lmm_revisions.md"
# (groups, rows per group), as bench_lmm.py
SIZES = [(1_000, 100), (10_000, 100), (100_000, 10), (10_000, 260)]

CHILD = r"""
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np, pandas as pd
from ctssw.estimators.lmm import lmm
groups, per, repeats = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(20260101)
g = np.repeat(np.arange(groups), per)
x = rng.normal(size=g.size)
b0 = rng.normal(scale=1.0, size=groups)
b1 = 0.4 * b0 + rng.normal(scale=0.3, size=groups)
y = 1.0 + 0.5 * x + b0[g] + b1[g] * x + rng.normal(size=g.size)
d = pd.DataFrame({"y": y, "x": x, "g": g})
lmm("y ~ x + (x | g)", d[d.g < 50])
times, cpu = [], []
for _ in range(repeats):
    t, c = time.perf_counter(), time.process_time()
    r = lmm("y ~ x + (x | g)", d)
    times.append(time.perf_counter() - t); cpu.append(time.process_time() - c)
print(json.dumps({"seconds": statistics.median(times), "cpu": statistics.median(cpu),
                  "params": r.params.tolist(), "sigma2": float(r.sigma2)}))
"""


def _time(src: Path, groups: int, per: int, repeats: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(groups), str(per), str(repeats)],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="a7fe793", help="the revision before the crossed-effects work")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(base), args.base], check=True)
        try:
            rows = []
            for groups, per in SIZES:
                best = {k: float("inf") for k in ("base", "now", "base_cpu", "now_cpu")}
                fits = {}
                for _ in range(args.rounds):
                    for name, src in (("base", base / "src"), ("now", ROOT / "src")):
                        r = _time(src, groups, per, args.repeats)
                        best[name] = min(best[name], r["seconds"])
                        best[name + "_cpu"] = min(best[name + "_cpu"], r["cpu"])
                        fits[name] = r
                diff = max(abs(a - b) for a, b in zip(fits["base"]["params"], fits["now"]["params"], strict=True))
                rows.append((groups * per, groups, best["base"], best["now"], best["base_cpu"], best["now_cpu"],
                             best["now_cpu"] / best["base_cpu"], diff))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    load = os.getloadavg()
    lines = [
        f"## Single-factor LMM path: {args.base} against the working tree",
        "",
        f"`y ~ x + (x | g)` by REML; best of {args.rounds} interleaved rounds, each the median of {args.repeats} fits "
        f"after a warm-up; one BLAS thread, so a fit's CPU time is its work and the ratio is taken on it (wall "
        f"time moves with whatever else runs on the cores). Load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.",
        "",
        f"| rows | groups | {args.base} wall s | now wall s | {args.base} CPU s | now CPU s | now ÷ {args.base} (CPU) | max diff of β |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {n:,} | {g:,} | {a:.3f} | {b:.3f} | {ac:.3f} | {bc:.3f} | {r:.2f}× | {d:.1e} |"
              for n, g, a, b, ac, bc, r, d in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(exist_ok=True)
    write_latest(RESULTS, text)


if __name__ == "__main__":
    main()
