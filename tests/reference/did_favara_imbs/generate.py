"""Peer output on an unbalanced panel with a time-varying covariate: the Favara and
Imbs (2015) county panel of US bank branching deregulation, as moderndid ships it.

Run from this folder: ``python generate.py`` (writes favara_imbs.csv and peers.json).

* ``favara_imbs.csv``: moderndid 0.2.0 ``load_favara_imbs()`` (1,048 counties,
  1994-2005; outcome ``Dl_vloans_b`` and covariate ``Dl_hpi`` missing in some
  county-years, so the panel is unbalanced), plus ``g``, the first year with
  ``inter_bra > 0`` (0: never deregulated in the window).
* Imputation: diff-diff ``ImputationDiD`` (BJS, conservative variance, unit
  clusters) with and without the covariate, simple ATT, and its
  ``pretrend_test`` (leads regression) with all leads and with 3.
* Callaway-Sant'Anna without covariates, and with the covariate by outcome
  regression: moderndid ``att_gt`` with ``allow_unbalanced_panel=True`` (R
  did's repeated-cross-section path for unbalanced panels), never- and
  not-yet-treated controls.
* Callaway-Sant'Anna with the covariate by every estimator ("reg", "ipw",
  "dr": R DRDID's reg_did_rc, std_ipw_did_rc, drdid_rc on each cell's
  observations), never- and not-yet-treated controls, with the simple and
  dynamic aggregates and their analytic standard errors; and the same on
  ``mpdta_dropped.csv``: moderndid's ``load_mpdta()`` (500 counties,
  2003-2007, covariate ``lpop``) with 15% of its rows dropped at random
  (seed 20240601), so that every cohort loses observations.
* TWFE: pyfixest ``feols`` with county and year effects, CRV1 by county, for
  the absorbing indicator ``1{year >= g}`` and for the deregulation index
  ``inter_bra`` itself (an intensity that is not absorbing), both with the
  covariate.

diff-diff and pyfixest take the rows with the outcome (and covariate, where used) observed;
diff-diff also leaves out the counties deregulated in the first year (no
untreated year), as ctssw does.
"""

from __future__ import annotations

import json
import warnings

import diff_diff
import moderndid
import numpy as np
import pyfixest as pf
from moderndid import load_favara_imbs

warnings.simplefilter("ignore")

d = load_favara_imbs().to_pandas()
first = d[d["inter_bra"] > 0].groupby("county")["year"].min()
d["g"] = d["county"].map(first).fillna(0).astype(int)
d.to_csv("favara_imbs.csv", index=False)

obs = d.dropna(subset=["Dl_vloans_b", "Dl_hpi"])
out: dict = {"diff_diff": diff_diff.__version__, "pyfixest": pf.__version__}
for name, cov in (("imputation", None), ("imputation_cov", ["Dl_hpi"])):
    rows = d.dropna(subset=["Dl_vloans_b", *(cov or [])])
    est = rows[rows["g"] != rows["year"].min()]
    r = diff_diff.ImputationDiD().fit(est, outcome="Dl_vloans_b", unit="county", time="year", first_treat="g", covariates=cov)
    out[name] = {"att": r.overall_att, "se": r.overall_se}
    if cov:
        for k in (None, 3):
            pt = r.pretrend_test(n_leads=k)
            out[f"pretrend_leads_{k or 'all'}"] = {
                "f_stat": pt["f_stat"],
                "p_value": pt["p_value"],
                "df": pt["df"],
                "coefficients": {str(h): v for h, v in pt["lead_coefficients"].items()},
            }
twfe = obs[obs["g"] != obs["year"].min()].copy()
twfe["D"] = ((twfe["g"] > 0) & (twfe["year"] >= twfe["g"])).astype(float)
for name, data, fml in (
    ("twfe_absorbing", twfe, "Dl_vloans_b ~ D + Dl_hpi | county + year"),
    ("twfe_intensity", obs, "Dl_vloans_b ~ inter_bra + Dl_hpi | county + year"),
):
    f = pf.feols(fml, data=data, vcov={"CRV1": "county"})
    out[name] = {"formula": fml, "nobs": int(f._N), "coef": f.coef().tolist(), "se": f.se().tolist(), "pvalue": f.pvalue().tolist()}


def moderndid_order(rows, unit, time, cohort):
    """Relabel units 1..n in the order moderndid 0.2.0 stacks its unit-level cohort
    vector on this path (first observed period, then cohort with the never treated
    last, then unit), so that it lines up with its influence-function rows (sorted
    by unit id) and its aggregate standard errors are the estimator's. ATT(g,t),
    aggregates and standard errors do not depend on the labels."""
    first = rows.assign(_g=rows[cohort].where(rows[cohort] > 0, np.inf)).sort_values([time, "_g", unit]).drop_duplicates(unit)
    return rows.assign(**{unit: rows[unit].map(dict(zip(first[unit], range(1, len(first) + 1))))})


def cs_reference(rows, unit, time, cohort, yname, cov, est, cg):
    rows = moderndid_order(rows[rows[cohort] != rows[time].min()], unit, time, cohort)
    r = moderndid.att_gt(data=rows, yname=yname, tname=time, idname=unit, gname=cohort, control_group=cg, boot=False,
                         allow_unbalanced_panel=True, panel=False, xformla=f"~{cov}", est_method=est)
    out = {"group": np.asarray(r.groups).tolist(), "time": np.asarray(r.times).tolist(),
           "att": np.asarray(r.att_gt).tolist(), "se": np.asarray(r.se_gt).tolist(), "n_units": int(r.n_units)}
    for kind in ("simple", "dynamic"):
        a = moderndid.aggte(r, type=kind, boot=False)
        out[kind] = a.overall_att
        out[f"{kind}_se"] = a.overall_se
        if kind == "dynamic":
            out["event_times"] = np.asarray(a.event_times).tolist()
            out["event_att"] = np.asarray(a.att_by_event).tolist()
            out["event_se"] = np.asarray(a.se_by_event).tolist()
    return out


mp = moderndid.load_mpdta().to_pandas()
mp = mp.drop(index=np.random.default_rng(20240601).choice(len(mp), size=int(0.15 * len(mp)), replace=False)).sort_values(["countyreal", "year"])
mp[["year", "countyreal", "lpop", "lemp", "first.treat"]].to_csv("mpdta_dropped.csv", index=False)
for est in ("reg", "ipw", "dr"):
    for cg in ("nevertreated", "notyettreated"):
        out[f"cs_rc_{est}_{cg}"] = cs_reference(d.dropna(subset=["Dl_vloans_b", "Dl_hpi"]), "county", "year", "g", "Dl_vloans_b", "Dl_hpi", est, cg)
    out[f"mpdta_rc_{est}_notyettreated"] = cs_reference(mp, "countyreal", "year", "first.treat", "lemp", "lpop", est, "notyettreated")
# Callaway-Sant'Anna on the unbalanced panel, R did's path (allow_unbalanced_panel=TRUE):
# ATT(g,t) cells and the aggregates' point estimates. moderndid 0.2.0 attaches its unit-level
# cohort vector (in its own order, see moderndid_order) to influence-function rows sorted by
# unit id on this path, so these aggregate standard errors are not used as a reference (the
# cs_rc_* and mpdta_rc_* entries above relabel the units so that they are).
for cg, cov in (("nevertreated", None), ("notyettreated", None), ("nevertreated", "Dl_hpi"), ("notyettreated", "Dl_hpi")):
    extra = {"xformla": f"~{cov}", "est_method": "reg"} if cov else {}
    r = moderndid.att_gt(data=d.dropna(subset=["Dl_vloans_b", *([cov] if cov else [])]), yname="Dl_vloans_b", tname="year",
                         idname="county", gname="g", control_group=cg, boot=False, allow_unbalanced_panel=True, panel=False, **extra)
    out[f"cs_unbalanced_{cg}" + ("_reg_cov" if cov else "")] = {
        "group": np.asarray(r.groups).tolist(), "time": np.asarray(r.times).tolist(),
        "att": np.asarray(r.att_gt).tolist(), "se": np.asarray(r.se_gt).tolist(),
        "simple": moderndid.aggte(r, type="simple", boot=False).overall_att,
        "dynamic": moderndid.aggte(r, type="dynamic", boot=False).overall_att,
    }
out["moderndid"] = moderndid.__version__
out["tolerance"] = {
    "cs_unbalanced": "1e-10 absolute on cells and aggregate estimates (closed forms on both sides)",
    "cs_rc": "1e-8 absolute on cells, aggregates and standard errors (the propensity logit is iterated on both sides)",
    "imputation": "1e-9 relative (direct solves on both sides)",
    "pretrend": "1e-8 relative (diff-diff demeans iteratively to 1e-10)",
    "twfe": "1e-7 relative on coefficients and standard errors (pyfixest demeans iteratively), 1e-9 absolute on p-values",
}
with open("peers.json", "w") as fh:
    json.dump(out, fh, indent=2, default=lambda v: v.item() if isinstance(v, np.generic) else str(v))
    fh.write("\n")
