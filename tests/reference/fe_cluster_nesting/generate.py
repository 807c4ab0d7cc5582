"""Reference output of pyfixest for the within estimator with clusters that do
and do not nest the unit (tests/estimators/test_dynamic.py reads pyfixest.json).

Run from this folder after ``Rscript inputs.R``: ``python generate.py``.
Each fit is ``y ~ ylag + x | unit + year`` on the rows that have the previous
year's outcome, with ``vcov={"CRV1": cluster}`` and pyfixest's default
small-sample correction (``ssc(k_adj=True, k_fixef="nonnested", G_adj=True)``).
"""

from __future__ import annotations

import json

import pandas as pd
import pyfixest as pf

CASES = [
    # (input, outcome, regressors, cluster)
    ("grunfeld.csv", "value", ["capital"], "firm"),
    ("grunfeld.csv", "value", ["capital"], "year"),
    ("emplUK.csv", "n", ["w", "k"], "firm"),
    ("emplUK.csv", "n", ["w", "k"], "year"),
    ("emplUK.csv", "n", ["w", "k"], "sector"),
]


def with_lag(d: pd.DataFrame, y: str) -> pd.DataFrame:
    d = d.sort_values(["firm", "year"]).copy()
    prev = d.groupby("firm")["year"].shift(1)
    d["ylag"] = d.groupby("firm")[y].shift(1).where(prev == d["year"] - 1)
    return d.dropna(subset=["ylag"])


out = []
for path, y, x, cluster in CASES:
    d = with_lag(pd.read_csv(path), y)
    fml = f"{y} ~ ylag + {' + '.join(x)} | firm + year"
    fit = pf.feols(fml, data=d, vcov={"CRV1": cluster})
    out.append(
        {
            "input": path,
            "y": y,
            "x": x,
            "cluster": cluster,
            "formula": fml,
            "nobs": int(fit._N),
            "coef": fit.coef().tolist(),
            "se": fit.se().tolist(),
            "pvalue": fit.pvalue().tolist(),
        }
    )
ref = {"pyfixest": pf.__version__, "tolerance": {"coef": 1e-6, "se": 1e-6, "pvalue": 1e-7, "kind": "relative (p-values absolute)"}, "cases": out}
with open("pyfixest.json", "w") as f:
    json.dump(ref, f, indent=2)
    f.write("\n")
