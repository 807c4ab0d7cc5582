"""Regenerate the imputation reference on pyfixest's df_het data.

    .venv/bin/python tests/reference/did_df_het/generate.py

Input: pyfixest/did/data/df_het.csv inside the installed pyfixest (not copied
here). Writes did2s.json: pyfixest ``did2s`` (Gardner two-stage, whose point
estimates equal the BJS imputation estimator) for the static ATT and the
event-study coefficients, first stage ``~0 | unit + year``; and the BJS
conservative standard error of the overall ATT from diff-diff's ImputationDiD
(unit clusters), which ours reproduces.
"""

from __future__ import annotations

import importlib.resources as ir
import json
import warnings
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent


def load() -> pd.DataFrame:
    return pd.read_csv(str(ir.files("pyfixest") / "did/data/df_het.csv"))


def main() -> None:
    import diff_diff as dd
    import pyfixest as pf

    df = load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        static = pf.did2s(df, yname="dep_var", first_stage="~0|unit+year", second_stage="~treat", treatment="treat", cluster="state").tidy()
        dyn = pf.did2s(df, yname="dep_var", first_stage="~0|unit+year", second_stage="~i(rel_year,ref=-1.0)", treatment="treat", cluster="state").tidy()
        bjs = dd.ImputationDiD().fit(df.assign(first=df["g"]), outcome="dep_var", unit="unit", time="year", first_treat="first")
    ev = {}
    for name, row in dyn.iterrows():
        e = float(str(name).split("::")[1])
        if e >= 0:
            ev[str(int(e))] = float(row["Estimate"])
    out = {
        "pyfixest_version": pf.__version__,
        "diff_diff_version": dd.__version__,
        "static_att": float(static.loc["treat", "Estimate"]),
        "event_study": ev,
        "bjs_overall_se_unit_cluster": float(bjs.overall_se),
        "tolerance": {"point": 1e-6, "se": 1e-8},
    }
    (HERE / "did2s.json").write_text(json.dumps(out, indent=1) + "\n")
    print("wrote did2s.json")


if __name__ == "__main__":
    main()
