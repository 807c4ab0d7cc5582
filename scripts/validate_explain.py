"""Monte Carlo check of ``ctssw explain``: is the tools' share of a CTS-SW change recovered?

    .venv/bin/python scripts/validate_explain.py --reps 100 --workers 2

Each replication simulates the three-tool organisation of
``validate_attribution.py`` (seed 6000+r) and, with the same seed, its
counterfactual without any tool effect (same teams, churn, rollout and
latent drivers; only the tools' terms in the latent rate are zero, and the
Poisson draws of the counts differ once their rates do). The true
contribution of the tools to the within-team change in units per
builder-week is ``within(actual) - within(counterfactual)`` (the same teams
and weights ``explain`` uses), and the true no-tool change is
``within(counterfactual)``. ``explain`` (tool effects from the joint ``fe``
model) is compared with both: its total tool contribution, and its trend
plus residual.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import math
import sys
import warnings
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ctssw.estimators.attribution import attribute, explain, normalise_team_mean
from ctssw.simulate import simulate_panel

TOOLS = ["share_assistant", "share_review_agent", "share_build_fix"]
SINCE, UNTIL, WINDOW = "2024-01-01", "2025-12-22", 8


def org(seed: int, effects: tuple[float, float, float]) -> pd.DataFrame:
    p, _ = simulate_panel(teams=200, weeks=104, seed=seed, effect=effects[0],
                          extra_tools=(("review_agent", effects[1]), ("build_fix", effects[2])), org_trend=0.05)
    p["y"] = normalise_team_mean(p, "deploys_per_builder")
    p["builder_weeks"], p["cost"], p["units"] = p["builders"], p["builders"] * 200_000 / 52, p["deployments"]
    return p


def within(p: pd.DataFrame) -> float:
    weeks = pd.Index(sorted(p["week"].unique()))
    wa = weeks[weeks >= pd.Timestamp(SINCE)][:WINDOW]
    wb = weeks[weeks <= pd.Timestamp(UNTIL)][-WINDOW:]

    def team(w):
        g = p[p["week"].isin(w)].groupby("team_id").agg(bw=("builder_weeks", "sum"), u=("units", "sum"))
        return g[g["bw"] > 0].assign(r=lambda d: d["u"] / d["bw"])

    ta, tb = team(wa), team(wb)
    c = ta.index.intersection(tb.index)
    s = tb.loc[c, "bw"] / tb.loc[c, "bw"].sum()
    return math.log(float((s * tb.loc[c, "r"]).sum())) - math.log(float((s * ta.loc[c, "r"]).sum()))


def one(r: int) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seed = 6000 + r
        p = org(seed, (0.08, 0.03, 0.0))
        q = org(seed, (0.0, 0.0, 0.0))
        fit = attribute(p, tools=TOOLS, y="y", method="fe", naive=False)
        d = explain(p, fit, since=SINCE, until=UNTIL, window=WINDOW)
    tools_est = float(d.details["tools_total"]["log_points"])
    tools_se = float(d.details["tools_total"]["std_error"])
    true_tools = -(within(p) - within(q))  # on CTS-SW: more units per builder-week is lower CTS-SW
    true_rest = -within(q)
    rest = float(d.params["trend"] + d.params["residual"])
    return {"tools_est": tools_est, "tools_se": tools_se, "true_tools": true_tools, "trend": float(d.params["trend"]),
            "trend_se": float(d.std_errors["trend"]), "rest": rest, "true_rest": true_rest,
            "adds_up": abs(float(d.params.sum()) - d.observed) < 1e-12}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    with Pool(a.workers) as pool:
        df = pd.DataFrame(pool.map(one, range(a.reps)))
    n = len(df)
    err = df["tools_est"] - df["true_tools"]
    cover = ((df["tools_est"] - 1.96 * df["tools_se"] <= df["true_tools"]) & (df["true_tools"] <= df["tools_est"] + 1.96 * df["tools_se"])).mean()
    terr = df["trend"] - df["true_rest"]
    print(f"{n} replications; components add up in {df['adds_up'].mean():.3f}")
    print(f"tools' contribution (log points on CTS-SW): true mean {df['true_tools'].mean():+.4f}, estimated {df['tools_est'].mean():+.4f}, "
          f"bias {err.mean():+.4f} (MC SE {err.std(ddof=1) / np.sqrt(n):.4f}), SD {df['tools_est'].std(ddof=1):.4f}, "
          f"mean SE {df['tools_se'].mean():.4f}, 95% coverage {cover:.3f}")
    print(f"no-tool change: true mean {df['true_rest'].mean():+.4f}; trend estimate {df['trend'].mean():+.4f} "
          f"(bias {terr.mean():+.4f}, MC SE {terr.std(ddof=1) / np.sqrt(n):.4f}; mean SE {df['trend_se'].mean():.4f}); "
          f"trend + residual {df['rest'].mean():+.4f}")


if __name__ == "__main__":
    main()
