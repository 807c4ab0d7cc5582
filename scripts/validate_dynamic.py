"""Monte Carlo check of the dynamic panel estimators on simulated organisations.

For each panel length T and each of ``--reps`` seeds, simulate an organisation
with ``ctssw.simulate.simulate_panel``, normalise deployments per builder to each
team's pre-adoption mean, fit the article's model

    y_it = a_i + lambda_t + beta y_i,t-1 + gamma ai_share_it + controls + e_it

with every method, and record bias and 95% coverage of gamma (truth:
``gamma_log``), beta (truth: ``beta``) and the long-run effect
gamma / (1 - beta) (truth: ``effect``). The truths for gamma and beta belong
to the simulator's latent log deployment index; the observed outcome is a
Poisson count of it, so they are what an estimator would recover if the
observed-outcome model were the data-generating process.

Usage::

    python scripts/validate_dynamic.py --reps 200 --teams 200 --weeks 39 104 --out /tmp/validation_dynamic.md  (the table; docs/validation.md explains it)
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
import pandas as pd

from ctssw.estimators.dynamic import METHODS, dynamic_panel, normalise_pre_adoption
from ctssw.simulate import simulate_panel

X = ["ai_share", "rollback_rate", "interventions_per_deploy"]


def one_rep(seed: int, teams: int, weeks: int, methods: list[str]) -> list[dict]:
    panel, truth = simulate_panel(teams=teams, weeks=weeks, seed=seed)
    panel["yn"] = normalise_pre_adoption(panel, "deploys_per_builder", unit="team_id", time="week", treatment="ai_share")
    rows = []
    for m in methods:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = dynamic_panel(panel, y="yn", x=X, unit="team_id", time="week", method=m)
        except Exception as exc:  # recorded, never hidden
            rows.append({"seed": seed, "weeks": weeks, "method": m, "error": str(exc)})
            continue
        ci = fit.conf_int(0.95)
        lr = fit.long_run["ai_share"]
        b = "L1.yn"
        rows.append(
            {
                "seed": seed,
                "weeks": weeks,
                "method": m,
                "gamma": fit.params["ai_share"],
                "gamma_cover": ci.loc["ai_share", "lower"] <= truth["gamma_log"] <= ci.loc["ai_share", "upper"],
                "beta": fit.params[b],
                "beta_cover": ci.loc[b, "lower"] <= truth["beta"] <= ci.loc[b, "upper"],
                "long_run": lr.estimate,
                "long_run_se": lr.std_error,
                "long_run_cover": lr.ci_low <= truth["effect"] <= lr.ci_high,
                "ar2_p": fit.diagnostics.get("AR(2)", {}).get("p_value", np.nan),
                "hansen_p": fit.diagnostics.get("hansen", {}).get("p_value", np.nan),
                "truth_gamma": truth["gamma_log"],
                "truth_beta": truth["beta"],
                "truth_effect": truth["effect"],
                "error": "",
            }
        )
    return rows


def summarise(res: pd.DataFrame) -> pd.DataFrame:
    ok = res[res["error"] == ""]
    g = ok.groupby(["weeks", "method"], sort=False)
    out = pd.DataFrame(
        {
            "reps": g.size(),
            "gamma_mean": g["gamma"].mean(),
            "gamma_bias": g.apply(lambda d: (d["gamma"] - d["truth_gamma"]).mean()),
            "gamma_cover": g["gamma_cover"].mean(),
            "beta_mean": g["beta"].mean(),
            "beta_bias": g.apply(lambda d: (d["beta"] - d["truth_beta"]).mean()),
            "beta_cover": g["beta_cover"].mean(),
            "lr_mean": g["long_run"].mean(),
            "lr_bias": g.apply(lambda d: (d["long_run"] - d["truth_effect"]).mean()),
            "lr_sd": g["long_run"].std(),
            "lr_mean_se": g["long_run_se"].mean(),
            "lr_cover": g["long_run_cover"].mean(),
            "ar2_reject": g["ar2_p"].apply(lambda s: (s < 0.05).mean() if s.notna().any() else np.nan),
            "hansen_reject": g["hansen_p"].apply(lambda s: (s < 0.05).mean() if s.notna().any() else np.nan),
        }
    ).reset_index()
    out["failed"] = res.groupby(["weeks", "method"], sort=False)["error"].apply(lambda s: (s != "").sum()).to_numpy()
    return out


def markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in table.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append(f"{v:.4f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--teams", type=int, default=200)
    ap.add_argument("--weeks", type=int, nargs="+", default=[39, 104])
    ap.add_argument("--seed0", type=int, default=1000)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--csv", help="write every replication here")
    ap.add_argument("--out", help="write the summary table (markdown) here")
    a = ap.parse_args(argv)
    rows = []
    t0 = time.time()
    for weeks in a.weeks:
        for r in range(a.reps):
            rows.extend(one_rep(a.seed0 + r, a.teams, weeks, a.methods))
            if (r + 1) % 25 == 0:
                print(f"T={weeks}: {r + 1}/{a.reps} reps, {time.time() - t0:.0f} s", file=sys.stderr)
    res = pd.DataFrame(rows)
    if a.csv:
        res.to_csv(a.csv, index=False)
    table = summarise(res)
    text = markdown(table)
    cmd = "python scripts/validate_dynamic.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(text)
    print(f"\n{len(res)} fits in {time.time() - t0:.0f} s; command: {cmd}")
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
