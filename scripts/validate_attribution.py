"""Monte Carlo validation of ``ctssw.attribute`` on organisations with several tools.

    .venv/bin/python scripts/validate_attribution.py --reps 200 --workers 2 --out /tmp/validation_attribution.md

Each replication simulates ``simulate_panel(teams, weeks, seed=2000+r,
extra_tools=(("review_agent", 0.03), ("build_fix", 0.0)), org_trend=0.05)``:
the assistant (+8%), a review agent (+3%) and a build-fix agent (no effect),
rolled out in overlapping waves whose order is correlated across tools (0.6),
with an organisation-wide trend of +5% a year. The outcome is production
deployments per builder-week divided by each team's mean over all weeks
(``normalise_team_mean``); ``--outcome pre`` divides by the mean before the
team's first tool instead. Every method estimates the three tools jointly, and one model per tool.

Truth: for the dynamic methods, each tool's long-run effect of full use
(``truth["tools"]``); for ``did``, the sample effect of tool k on the
team-weeks where it alone is adopted, ``mean(y * (1 - exp(-(w - w_without_k))))``,
from the same organisation re-simulated with tool k's effect set to zero.
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
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ctssw.estimators.attribution import adoption_matrix, attribute, normalise_team_mean
from ctssw.estimators.dynamic import normalise_pre_adoption
from ctssw.simulate import simulate_panel

EXTRA = (("review_agent", 0.03), ("build_fix", 0.0))
NAMES = ["assistant", "review_agent", "build_fix"]
TOOLS = [f"share_{n}" for n in NAMES]


OUTCOME = {"outcome": "team"}


def organisation(seed: int, teams: int, weeks: int, extra=EXTRA, effect: float = 0.08, **kw):
    p, truth = simulate_panel(teams=teams, weeks=weeks, seed=seed, effect=effect, extra_tools=extra, org_trend=0.05, **kw)
    if OUTCOME["outcome"] == "pre":
        p["any_tool"] = p[TOOLS].max(axis=1)
        p["y"] = normalise_pre_adoption(p, "deploys_per_builder", unit="team_id", time="week", treatment="any_tool")
    else:
        p["y"] = normalise_team_mean(p, "deploys_per_builder")
    return p, truth


def did_truth(p: pd.DataFrame, seed: int, teams: int, weeks: int, threshold: float) -> dict[str, float]:
    d = p.loc[p["y"].notna()]
    _, _, D = adoption_matrix(d, TOOLS, unit="team_id", time="week", threshold=threshold)
    out = {}
    for k, name in enumerate(NAMES):
        if name == "assistant":
            q, _ = organisation(seed, teams, weeks, effect=0.0)
        else:
            q, _ = organisation(seed, teams, weeks, extra=tuple((n, 0.0 if n == name else e) for n, e in EXTRA))
        dw = (d["w"] - q.loc[d.index, "w"]).to_numpy()
        alone = D[:, k] & (D.sum(axis=1) == 1)
        out[f"share_{name}"] = float(np.mean(d["y"].to_numpy()[alone] * (1 - np.exp(-dw[alone]))))
    return out


def one(args) -> list[dict]:
    r, teams, weeks, methods, threshold, outcome, naive = args
    OUTCOME["outcome"] = outcome
    seed = 2000 + r
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, truth = organisation(seed, teams, weeks)
        rows = []
        for m in methods:
            res = attribute(p, tools=TOOLS, y="y", method=m, threshold=threshold, naive=naive)
            tr = did_truth(p, seed, teams, weeks, threshold) if m == "did" else {f"share_{n}": truth["tools"][n] for n in NAMES}
            ci = res.conf_int(0.95)
            for t in TOOLS:
                rows.append({"rep": r, "method": m, "tool": t, "truth": tr[t], "estimate": res.params[t], "se": res.std_errors[t],
                             "lo": ci.loc[t, "lower"], "hi": ci.loc[t, "upper"],
                             "naive": res.naive.loc[t, "estimate"] if naive else np.nan})
            tot = sum(tr.values())
            rows.append({"rep": r, "method": m, "tool": "sum", "truth": tot, "estimate": res.total.estimate, "se": res.total.std_error,
                         "lo": res.total.ci_low, "hi": res.total.ci_high, "naive": res.naive_total})
    return rows


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby(["method", "tool"], sort=False)
    out = g.apply(lambda x: pd.Series({
        "reps": len(x),
        "truth (mean)": x["truth"].mean(),
        "mean estimate": x["estimate"].mean(),
        "bias": (x["estimate"] - x["truth"]).mean(),
        "MC SE of bias": (x["estimate"] - x["truth"]).std(ddof=1) / np.sqrt(len(x)),
        "SD of estimates": x["estimate"].std(ddof=1),
        "mean SE": x["se"].mean(),
        "coverage 95%": ((x["lo"] <= x["truth"]) & (x["truth"] <= x["hi"])).mean(),
        "rejects 0 at 5%": ((x["lo"] > 0) | (x["hi"] < 0)).mean(),
        "one-model-per-tool mean": x["naive"].mean(),
        "one-model-per-tool bias": (x["naive"] - x["truth"]).mean(),
    }), include_groups=False)
    return out.reset_index()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--teams", type=int, default=200)
    ap.add_argument("--weeks", type=int, default=104)
    ap.add_argument("--methods", nargs="+", default=["fe", "jackknife", "did"])
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--outcome", choices=["team", "pre"], default="team")
    ap.add_argument("--no-naive", action="store_true", help="skip the one-model-per-tool fits")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--csv", type=Path, default=None)
    a = ap.parse_args()
    t0 = time.time()
    jobs = [(r, a.teams, a.weeks, a.methods, a.threshold, a.outcome, not a.no_naive) for r in range(a.reps)]
    if a.workers > 1:
        with Pool(a.workers) as pool:
            rows = [x for chunk in pool.imap_unordered(one, jobs) for x in chunk]
    else:
        rows = [x for j in jobs for x in one(j)]
    df = pd.DataFrame(rows)
    if a.csv:
        df.to_csv(a.csv, index=False)
    s = summarise(df)
    text = f"{a.reps} replications, {a.teams} teams x {a.weeks} weeks, outcome {a.outcome}, {time.time() - t0:.0f} s\n\n" + s.to_markdown(index=False, floatfmt=".4f")
    if a.out:
        a.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
