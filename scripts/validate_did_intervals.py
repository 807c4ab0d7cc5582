"""Monte Carlo of staggered-DiD intervals with few never-treated units.

    .venv/bin/python scripts/validate_did_intervals.py --reps 1000 --large-reps 500 --out /tmp/did_intervals.md

Data come from diff-diff's own generator, ``diff_diff.prep_dgp.generate_staggered_data``
(unit effects, a common trend, iid noise, cohorts first treated in periods 3, 5 and 7,
effects 2 * (1 + 0.1 * periods since adoption); ``treatment_effect=0`` for the null):

* small design: 100 units, 10% never treated, 10 periods;
* large design: 1,000 units, 10% never treated, 10 periods.

Each replication (seed ``r``) fits Callaway-Sant'Anna with not-yet-treated and with
never-treated controls, and the imputation estimator, under each interval choice
(``inference="analytic"``, ``"small-sample"`` and the default ``"auto"``), and records
whether the 95% interval of the simple ATT and of the overall event-study effect
contains the truth. The truth is the same method's aggregate of the generator's
``true_effect`` column (the estimand weights follow the realised cohort sizes).
Under the null the truth is 0 and a miss is a false positive.
Monte Carlo standard errors are ``sqrt(p (1 - p) / reps)``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ctssw.estimators.did import staggered_did  # noqa: E402

FITS = {
    "cs (not-yet)": dict(method="cs", control="notyet"),
    "cs (never)": dict(method="cs", control="never"),
    "imputation": dict(method="imputation"),
}
INFERENCES = ("analytic", "small-sample", "auto")
TARGETS = ("simple", "dynamic")


def replicate(n_units: int, effect: float, seed: int) -> list[dict]:
    """One data set, every fit, interval choice and target."""
    from diff_diff.prep_dgp import generate_staggered_data

    d = generate_staggered_data(n_units=n_units, n_periods=10, never_treated_frac=0.1, treatment_effect=effect, seed=seed)
    kw = dict(y="outcome", unit="unit", time="period", cohort="first_treat", bootstrap=0, pre_periods=0)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, spec in FITS.items():
            truth_fit = staggered_did(d.assign(outcome=d["true_effect"]), **kw, **spec, inference="analytic")
            truth = {t: truth_fit.aggregate(t).overall.estimate for t in TARGETS}
            fits = {"auto": staggered_did(d, **kw, **spec, inference="auto")}
            chosen = fits["auto"].settings["inference"].split(" ")[0]
            fits[chosen] = fits["auto"]
            other = "analytic" if chosen == "small-sample" else "small-sample"
            fits[other] = staggered_did(d, **kw, **spec, inference=other)
            for inf in INFERENCES:
                fit = fits[inf]
                for t in TARGETS:
                    o = fit.aggregate(t).overall
                    rows.append(
                        {
                            "fit": name,
                            "inference": inf,
                            "chosen": fit.settings["inference"].split(" ")[0],
                            "target": t,
                            "truth": truth[t],
                            "estimate": o.estimate,
                            "se": o.std_error,
                            "covers": bool(o.ci_low <= truth[t] <= o.ci_high),
                        }
                    )
    return rows


def run(n_units: int, effect: float, reps: int) -> pd.DataFrame:
    out = []
    for r in range(reps):
        out += [{**row, "rep": r} for row in replicate(n_units, effect, r)]
    return pd.DataFrame(out)


def table(df: pd.DataFrame, null: bool) -> str:
    g = df.groupby(["fit", "target", "inference"], sort=False)
    rate = g["covers"].mean()
    reps = g.size()
    p = (1 - rate) if null else rate
    mcse = np.sqrt(p * (1 - p) / reps)
    chosen = g["chosen"].agg(lambda s: ", ".join(sorted(set(s))))
    sd = g["estimate"].std()
    mse = g["se"].mean()
    col = "false-positive rate" if null else "coverage"
    lines = [f"| fit | target | interval | chosen | reps | mean SE | SD of estimates | {col} | MC error |", "|---|---|---|---|---|---|---|---|---|"]
    for key in rate.index:
        f, t, i = key
        lines.append(f"| {f} | {t} | {i} | {chosen[key]} | {reps[key]} | {mse[key]:.4f} | {sd[key]:.4f} | {p[key]:.3f} | {mcse[key]:.3f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=1000, help="replications of the small design (100 units)")
    ap.add_argument("--large-reps", type=int, default=500, help="replications of the large design (1,000 units)")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown tables here")
    a = ap.parse_args()
    parts = []
    for label, n, reps in (("small design: 100 units", 100, a.reps), ("large design: 1,000 units", 1000, a.large_reps)):
        for null in (False, True):
            t0 = time.time()
            df = run(n, 0.0 if null else 2.0, reps)
            what = "null effect" if null else "effect 2 * (1 + 0.1 e)"
            parts.append(f"### {label}, 10% never treated, {what}\n\n{table(df, null)}\n\n({time.time() - t0:.0f} s)\n")
            print(parts[-1], flush=True)
    if a.out:
        a.out.write_text("\n".join(parts))


if __name__ == "__main__":
    main()
