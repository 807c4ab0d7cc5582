"""Monte Carlo check that ``ctssw plan``'s stated power is the power the rollout achieves.

    .venv/bin/python scripts/validate_plan.py --orgs-plan 100 --orgs-true 1000 --workers 2
    .venv/bin/python scripts/validate_plan.py --method jackknife --pre 13 --rollout 39 --orgs-plan 60 --orgs-true 400

``--pre`` and ``--rollout`` set the analysis window: ``pre`` weeks before the
first wave and ``rollout`` weeks from it (26 and 26 by default). The half-panel
jackknife needs the tool in use in the first half of that window, so its study
uses 13 weeks before and 39 after (two of the four waves start in the first half).

For each organisation the simulator (``simulate_panel``, never-treated share 0,
the assistant rolled out in 4 waves over weeks 52..77 of 78, true long-run
effect ``--effect``) gives 52 weeks of history without the tool and 26 weeks
of rollout. *Stated power*: ``plan`` on the 52-week history (26 weeks before,
26 after, 4 waves, ``--plan-reps`` replications; uptake 0.81 with SD 0.1
across teams and ramp 2.5 weeks, which is what the simulator's adopters
reach: take-up Beta(9, 1.5) times 95% weekly activity, geometric delay of
mean 2 weeks). *Achieved
power*: the share of organisations in which the same estimator (the joint
dynamic model of ``attribute``, ``--method``, on weeks 26..77, outcome over each team's mean)
rejects zero at 5%.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import sys
import time
import warnings
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ctssw.estimators.attribution import attribute, normalise_team_mean, plan
from ctssw.simulate import simulate_panel

HISTORY, WAVES = 52, 4
DESIGN = {"pre": 26, "rollout": 26}
METHOD = {"m": "fe"}


def organisation(seed: int, teams: int, effect: float, rollout: int):
    W = HISTORY + rollout
    waves = tuple((HISTORY + round(c * rollout / WAVES)) / W for c in range(WAVES))
    p, _ = simulate_panel(teams=teams, weeks=W, seed=seed, effect=effect, cohorts=waves, never_treated=0.0)
    p["cost"] = p["builders"] * 200_000 / 52
    p["units"] = p["deployments"]
    return p


def achieved(args) -> bool:
    seed, teams, effect, method, pre, rollout = args
    METHOD["m"] = method
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = organisation(seed, teams, effect, rollout)
        weeks = sorted(p["week"].unique())
        d = p[p["week"] >= weeks[HISTORY - pre]].copy()
        d["y"] = normalise_team_mean(d, "deploys_per_builder")
        ci = attribute(d, tools=["ai_share"], y="y", method=METHOD["m"], naive=False).conf_int(0.95).loc["ai_share"]
    return bool(ci["lower"] > 0 or ci["upper"] < 0)


def stated(args) -> float:
    seed, teams, effect, reps, method, pre, rollout = args
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = organisation(seed, teams, effect, rollout)
        hist = p[p["week"] < sorted(p["week"].unique())[HISTORY]]
        return plan(hist, tool="assistant", effect=effect, weeks=rollout, cohorts=WAVES, pre_weeks=pre, reps=reps,
                    uptake=0.81, uptake_sd=0.1, ramp=2.5, seed=seed, method=method).power.estimate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teams", type=int, default=100)
    ap.add_argument("--effect", type=float, nargs="+", default=[0.15])
    ap.add_argument("--orgs-plan", type=int, default=100)
    ap.add_argument("--plan-reps", type=int, default=100)
    ap.add_argument("--orgs-true", type=int, default=1000)
    ap.add_argument("--method", choices=["fe", "jackknife"], default="fe")
    ap.add_argument("--pre", type=int, default=26, help="weeks of the analysis window before the first wave")
    ap.add_argument("--rollout", type=int, default=26, help="weeks of the analysis window from the first wave")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    t0 = time.time()
    lines = ["| effect | teams | stated power (mean over orgs) | MC SE | achieved power | MC SE | difference |", "|---|---|---|---|---|---|---|"]
    with Pool(a.workers) as pool:
        for e in a.effect:
            s = np.array(pool.map(stated, [(5000 + r, a.teams, e, a.plan_reps, a.method, a.pre, a.rollout) for r in range(a.orgs_plan)]))
            t = np.array(pool.map(achieved, [(9000 + r, a.teams, e, a.method, a.pre, a.rollout) for r in range(a.orgs_true)]))
            se_s = s.std(ddof=1) / np.sqrt(s.size)
            se_t = np.sqrt(t.mean() * (1 - t.mean()) / t.size)
            lines.append(f"| {e:+.2f} | {a.teams} | {s.mean():.3f} | {se_s:.3f} | {t.mean():.3f} | {se_t:.3f} | {s.mean() - t.mean():+.3f} |")
    text = f"method {a.method}; window {a.pre} + {a.rollout} weeks; {a.orgs_plan} planned organisations x {a.plan_reps} replications; {a.orgs_true} rolled-out organisations; {time.time() - t0:.0f} s\n\n" + "\n".join(lines)
    if a.out:
        a.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
