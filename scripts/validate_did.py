"""Monte Carlo validation of the staggered-DiD estimators on simulated organisations.

    .venv/bin/python scripts/validate_did.py --orgs 200 --workers 2 --out /tmp/validation_did.md

For each organisation (``ctssw.simulate._did_scenarios.did_scenario``: adoption
is share >= threshold, effects differ by rollout cohort) every method estimates
the simple ATT on ``deploys_per_builder_norm`` and is compared with the true ATT
computed from the simulator's latent index (same seed, effect 0 counterfactual).
Reports bias, RMSE, mean standard error, 95% coverage and the rejection rate
(the false-positive rate where the true effect is zero).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import sys
import time
import warnings
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ctssw.estimators.did._agg import aggregate_cells
from ctssw.estimators.did._data import prepare_panel
from ctssw.estimators.did._fit import _config, fit_panel
from ctssw.estimators.did.model import _aggregate_imputation
from ctssw.simulate._did_scenarios import did_scenario

HET = (0.15, 0.10, 0.08, 0.05, 0.03)
SCENARIOS = {
    "heterogeneous, unconfounded": dict(effects=HET, confounded=False),
    "heterogeneous, confounded": dict(effects=HET, confounded=True),
    "null, unconfounded": dict(effects=0.0, confounded=False),
    "null, confounded": dict(effects=0.0, confounded=True),
}
METHODS = {
    "cs (not-yet)": dict(method="cs", control="notyet"),
    "cs (never)": dict(method="cs", control="never"),
    "sun-abraham": dict(method="sun-abraham", control=None),
    "imputation": dict(method="imputation", control=None),
    "twfe (naive)": dict(method="twfe", control=None),
}
Y = "deploys_per_builder_norm"


def one(args: tuple) -> list[dict]:
    scen, seed, teams, weeks, threshold, anticipation = args
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel, truth = did_scenario(teams=teams, weeks=weeks, seed=seed, threshold=threshold, **SCENARIOS[scen])
        dp = prepare_panel(panel, y=Y, unit="team_id", time="week", cohort="adoption_week")
        rows = []
        for name, m in METHODS.items():
            cfg = _config(y=Y, unit="team_id", time="week", cohort="adoption_week", method=m["method"], control=m["control"], est_method="reg", covariates=None, anticipation=anticipation, bootstrap=0, level=0.95, seed=0, pre_periods=0)
            try:
                fit, _, _ = fit_panel(dp, cfg)
                if cfg.method == "twfe":
                    est, se = fit.beta, fit.se
                elif cfg.method == "imputation":
                    a = _aggregate_imputation(fit, None, "simple", -np.inf, np.inf)
                    est, se = a.overall_att, a.overall_se
                else:
                    a = aggregate_cells(fit, "simple")
                    est, se = a.overall_att, a.overall_se
            except Exception:  # a failed fit counts as missing, reported below
                est, se = np.nan, np.nan
            rows.append({"scenario": scen, "seed": seed, "method": name, "estimate": est, "se": se, "truth": truth["att"]})
    return rows


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    def f(g: pd.DataFrame) -> pd.Series:
        ok = g.dropna(subset=["estimate", "se"])
        err = ok.estimate - ok.truth
        z = 1.959963984540054
        return pd.Series(
            {
                "runs": len(ok),
                "true ATT": ok.truth.mean(),
                "mean estimate": ok.estimate.mean(),
                "bias": err.mean(),
                "RMSE": np.sqrt((err**2).mean()),
                "mean SE": ok.se.mean(),
                "SD of estimates": ok.estimate.std(),
                "coverage 95%": (err.abs() <= z * ok.se).mean(),
                "rejects 0 at 5%": (ok.estimate.abs() > z * ok.se).mean(),
            }
        )

    return df.groupby(["scenario", "method"], sort=False).apply(f, include_groups=False).reset_index()


def to_markdown(tab: pd.DataFrame, args: argparse.Namespace, seconds: float) -> str:
    lines = [
        "# Staggered DiD: validation on simulated organisations",
        "",
        f"Regenerate: `.venv/bin/python scripts/validate_did.py --orgs {args.orgs} --teams {args.teams} --weeks {args.weeks} --anticipation {args.anticipation} --workers {args.workers} --out /tmp/validation_did.md`",
        f"({seconds / 60:.1f} minutes on this machine).",
        "",
        f"Each scenario simulates {args.orgs} organisations of {args.teams} teams over {args.weeks} weeks "
        "(`ctssw.simulate._did_scenarios.did_scenario`, seeds "
        f"{args.seed0}..{args.seed0 + args.orgs - 1}; 20% never treated, rollouts at 30-70% of the horizon). "
        f"A team adopts in the first week its tool share reaches {args.threshold:.0%}. "
        f"Heterogeneous scenarios give the five rollout cohorts long-run effects of {', '.join(f'{e:+.0%}' for e in HET)} "
        "(earliest first); null scenarios have no effect. Confounded scenarios roll the tool out first to the teams "
        "whose deployment rate is already rising, which breaks parallel trends by design.",
        "",
        "**Estimand.** The simple ATT of binary adoption on `deploys_per_builder_norm` (deployments per builder "
        "divided by the team's mean over the weeks before the organisation's first adoption): the average over adopted team-weeks of "
        "E[Y(1) - Y(0)] / norm. The simulator's random draws are fixed by the seed up to the effect, so the run "
        "with `effect=0` gives each team's untreated latent index w0; the true ATT is the mean over adopted "
        "team-weeks of `dpb0 * (exp(w - w0) - 1) / norm` (`dpb0`: deployments per builder in the effect-0 run, "
        "unbiased for the untreated mean). It is smaller than the simulator's `truth['effect']` (full adoption, "
        "long run) because usage ramps up and the effect builds up through persistence.",
        "",
        f"All methods run with anticipation = {args.anticipation}: usage ramps up over a couple of weeks before a team's "
        "share crosses the threshold, so the weeks just before the adoption week are already partly treated and are "
        "left out of the comparison (the default of `impact_did`). With anticipation 0, CS and Sun-Abraham, which "
        "compare with the single week before adoption, were biased towards zero by about half the effect "
        "(24 organisations: bias -0.036 against a true ATT of 0.076), imputation by -0.005.",
        "",
        "Coverage: share of runs whose 95% interval (estimate +/- 1.96 SE, analytic influence-function SEs; "
        "BJS conservative SE for imputation; CR1 for TWFE) contains the true ATT. "
        "`rejects 0 at 5%` is the false-positive rate in the null scenarios and the power elsewhere.",
        "",
    ]
    for scen, g in tab.groupby("scenario", sort=False):
        lines += [f"## {scen}", "", "| method | runs | true ATT | mean estimate | bias | RMSE | mean SE | SD of estimates | coverage 95% | rejects 0 at 5% |", "|---|---|---|---|---|---|---|---|---|---|"]
        for _, r in g.iterrows():
            lines.append(
                f"| {r['method']} | {int(r['runs'])} | {r['true ATT']:.4f} | {r['mean estimate']:.4f} | {r['bias']:+.4f} | {r['RMSE']:.4f} | "
                f"{r['mean SE']:.4f} | {r['SD of estimates']:.4f} | {r['coverage 95%']:.3f} | {r['rejects 0 at 5%']:.3f} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orgs", type=int, default=200)
    ap.add_argument("--teams", type=int, default=200)
    ap.add_argument("--weeks", type=int, default=104)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--anticipation", type=int, default=0)
    ap.add_argument("--seed0", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--raw", type=Path, default=None, help="optional CSV of every run")
    args = ap.parse_args(argv)
    jobs = [(s, args.seed0 + i, args.teams, args.weeks, args.threshold, args.anticipation) for s in args.scenarios for i in range(args.orgs)]
    t0 = time.time()
    with Pool(args.workers) as pool:
        rows = [r for chunk in pool.imap_unordered(one, jobs, chunksize=4) for r in chunk]
    secs = time.time() - t0
    df = pd.DataFrame(rows)
    if args.raw:
        df.to_csv(args.raw, index=False)
    tab = summarise(df)
    tab["scenario"] = pd.Categorical(tab["scenario"], categories=args.scenarios, ordered=True)
    tab["method"] = pd.Categorical(tab["method"], categories=list(METHODS), ordered=True)
    tab = tab.sort_values(["scenario", "method"])
    md = to_markdown(tab, args, secs)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(md)
    print(md)


if __name__ == "__main__":
    main()
