"""Regenerate the mpdta reference outputs: ours and the Python peers.

    .venv/bin/python tests/reference/did_mpdta/generate.py

Writes ours.json (ctssw), moderndid.json and diff_diff.json beside this file.
The R did package's published numbers are in published_r_did.json (see README.md).
Settings everywhere: outcome lemp, never-treated controls, outcome regression,
no covariates, varying base period, analytic (influence-function) standard errors.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
KINDS = ("simple", "dynamic", "group", "calendar")


def ours(df: pd.DataFrame) -> dict:
    from ctssw.estimators.did import staggered_did

    r = staggered_did(df, y="lemp", unit="countyreal", time="year", cohort="first.treat", control="never", est_method="reg", bootstrap=0, inference="analytic")
    out = {"att_gt": r.att_gt[["group", "time", "att", "se"]].to_dict(orient="records"), "pretest": r.pretest()}
    for k in KINDS:
        a = r.aggregate(k)
        out[k] = {"overall": {"att": a.overall.estimate, "se": a.overall.std_error}, "components": {"label": [str(x) for x in a.table.iloc[:, 0]], "att": a.table["att"].tolist(), "se": a.table["se"].tolist()}}
    return out


def moderndid(df: pd.DataFrame) -> dict:
    import moderndid as md

    r = md.att_gt(data=df, yname="lemp", tname="year", idname="countyreal", gname="first.treat", est_method="reg", control_group="nevertreated", boot=False)
    out = {"version": md.__version__, "att_gt": [{"group": int(g), "time": int(t), "att": float(a), "se": float(s)} for g, t, a, s in zip(r.groups, r.times, r.att_gt, r.se_gt)], "pretest_p_value": float(r.wald_pvalue)}
    for k in KINDS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = md.aggte(r, type=k, boot=False)
        comp = None
        if a.att_by_event is not None:
            comp = {"label": [str(int(x)) for x in a.event_times], "att": [float(x) for x in a.att_by_event], "se": [float(x) for x in a.se_by_event]}
        out[k] = {"overall": {"att": float(a.overall_att), "se": float(a.overall_se)}, "components": comp}
    return out


def diff_diff(df: pd.DataFrame) -> dict:
    import diff_diff as dd

    d = df.copy()
    d["g"] = d["first.treat"].astype(int)
    cs = dd.CallawaySantAnna(control_group="never_treated", estimation_method="reg", n_bootstrap=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = cs.fit(d, outcome="lemp", unit="countyreal", time="year", first_treat="g")
    tab = r.to_dataframe() if callable(getattr(r, "to_dataframe", None)) else None
    out = {"version": dd.__version__, "overall_att": float(r.att) if np.isscalar(r.att) else None, "overall_se": float(r.se) if np.isscalar(r.se) else None}
    if tab is not None:
        out["att_gt"] = json.loads(tab.to_json(orient="records"))
    return out


def main() -> None:
    df = pd.read_csv(HERE / "mpdta.csv")
    for name, fn in (("ours", ours), ("moderndid", moderndid), ("diff_diff", diff_diff)):
        (HERE / f"{name}.json").write_text(json.dumps(fn(df), indent=1, default=float) + "\n")
        print("wrote", name)


if __name__ == "__main__":
    main()
