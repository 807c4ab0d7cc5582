"""Size of the tool-effect equality test across architectures, on the simulator (equal effects everywhere).

    .venv/bin/python scripts/validate_architecture.py --orgs 40 --workers 2

Each organisation is ``simulate_panel(teams=200, weeks=104, seed=4000+r,
extra_tools=(("review_agent", 0.03), ("build_fix", 0.0)), org_trend=0.05)``;
the simulator's tool effects do not depend on the architecture, so every
rejection of equality at 5% is a false positive.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import sys
import warnings
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ctssw.estimators.attribution import effects_by_architecture, normalise_team_mean
from ctssw.simulate import simulate_panel

TOOLS = ["share_assistant", "share_review_agent", "share_build_fix"]


def one(r: int) -> list[bool]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, _ = simulate_panel(teams=200, weeks=104, seed=4000 + r, extra_tools=(("review_agent", 0.03), ("build_fix", 0.0)), org_trend=0.05)
        p["y"] = normalise_team_mean(p, "deploys_per_builder")
        res = effects_by_architecture(p, tools=TOOLS, y="y")
    return list(res.equality["p_value"] < 0.05)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orgs", type=int, default=40)
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    with Pool(a.workers) as pool:
        rej = np.array(pool.map(one, range(a.orgs)))
    for t, x in zip(TOOLS, rej.T, strict=True):
        print(f"{t}: rejects equality in {x.mean():.3f} of {x.size}")
    print(f"all: {rej.mean():.3f} of {rej.size} tests (Monte Carlo SE {np.sqrt(rej.mean() * (1 - rej.mean()) / rej.size):.3f})")


if __name__ == "__main__":
    main()
