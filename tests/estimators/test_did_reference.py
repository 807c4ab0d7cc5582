"""Staggered DiD against published and peer reference output (tests/reference/did_*)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctssw.estimators.did import staggered_did

REF = Path(__file__).parents[1] / "reference"
MP = REF / "did_mpdta"


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(MP / "mpdta.csv")


@pytest.fixture(scope="module")
def fit(mpdta):
    return staggered_did(mpdta, y="lemp", unit="countyreal", time="year", cohort="first.treat", control="never", est_method="reg", bootstrap=0, inference="analytic")


@pytest.fixture(scope="module")
def published():
    return json.loads((MP / "published_r_did.json").read_text())


def _cells(fit):
    return fit.att_gt.set_index(["group", "time"])


def test_att_gt_matches_published_r(fit, published):
    ours = _cells(fit)
    for row in published["att_gt"]:
        got = ours.loc[(row["group"], row["time"])]
        assert abs(got["att"] - row["att"]) <= 1e-4
        # published standard errors are multiplier-bootstrap draws
        assert abs(got["se"] / row["se_boot"] - 1) < 0.15


def test_pretest_matches_published_r(fit, published):
    assert abs(fit.pretest()["p_value"] - published["pretest_p_value"]) <= 1e-5


@pytest.mark.parametrize(
    ("kind", "key", "col"),
    [("dynamic", "by_event", "event"), ("group", "by_group", "group"), ("calendar", "by_time", "time"), ("simple", None, None)],
)
def test_aggregates_match_published_r(fit, published, kind, key, col):
    agg = fit.aggregate(kind)
    pub = published[kind]
    assert abs(agg.overall.estimate - pub["overall"]["att"]) <= 1e-4
    assert abs(agg.overall.std_error / pub["overall"]["se_boot"] - 1) < 0.15
    if key:
        tab = agg.table.set_index(agg.table.columns[0])
        for row in pub[key]:
            assert abs(tab.loc[row[col], "att"] - row["att"]) <= 1e-4
            assert abs(tab.loc[row[col], "se"] / row["se_boot"] - 1) < 0.15


def test_analytic_se_match_moderndid(fit):
    md = json.loads((MP / "moderndid.json").read_text())
    ours = _cells(fit)
    for row in md["att_gt"]:
        got = ours.loc[(row["group"], row["time"])]
        assert abs(got["att"] - row["att"]) < 1e-10
        assert abs(got["se"] - row["se"]) < 1e-10
    for kind in ("simple", "dynamic", "group", "calendar"):
        agg = fit.aggregate(kind)
        assert abs(agg.overall.estimate - md[kind]["overall"]["att"]) < 1e-10
        assert abs(agg.overall.std_error - md[kind]["overall"]["se"]) < 1e-10
        comp = md[kind]["components"]
        if comp:
            np.testing.assert_allclose(agg.table["att"], comp["att"], atol=1e-10)
            np.testing.assert_allclose(agg.table["se"], comp["se"], atol=1e-10)


def test_analytic_se_match_diff_diff(fit):
    dd = json.loads((MP / "diff_diff.json").read_text())
    ours = _cells(fit)
    for row in dd["att_gt"]:
        got = ours.loc[(row["group"], row["time"])]
        assert abs(got["att"] - row["effect"]) < 1e-9
        assert abs(got["se"] - row["se"]) < 1e-9
    assert abs(fit.aggregate("simple").overall.std_error - dd["overall_se"]) < 1e-10


@pytest.mark.parametrize("est_method", ["reg", "ipw", "dr"])
def test_covariates_match_moderndid(mpdta, est_method):
    md = pytest.importorskip("moderndid")
    ours = staggered_did(mpdta, y="lemp", unit="countyreal", time="year", cohort="first.treat", control="never", est_method=est_method, covariates="lpop", bootstrap=0, inference="analytic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = md.att_gt(data=mpdta, yname="lemp", tname="year", idname="countyreal", gname="first.treat", xformla="~lpop", est_method=est_method, control_group="nevertreated", boot=False)
        agg = md.aggte(ref, type="dynamic", boot=False)
    np.testing.assert_allclose(ours.att_gt["att"], ref.att_gt, atol=1e-10)
    np.testing.assert_allclose(ours.att_gt["se"], ref.se_gt, atol=1e-10)
    dyn = ours.aggregate("dynamic")
    assert abs(dyn.overall.estimate - agg.overall_att) < 1e-10
    assert abs(dyn.overall.std_error - agg.overall_se) < 1e-10


def test_not_yet_treated_matches_moderndid(mpdta):
    md = pytest.importorskip("moderndid")
    ours = staggered_did(mpdta, y="lemp", unit="countyreal", time="year", cohort="first.treat", control="notyet", bootstrap=0, inference="analytic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = md.att_gt(data=mpdta, yname="lemp", tname="year", idname="countyreal", gname="first.treat", est_method="reg", control_group="notyettreated", boot=False)
    np.testing.assert_allclose(ours.att_gt["att"], ref.att_gt, atol=1e-10)
    np.testing.assert_allclose(ours.att_gt["se"], ref.se_gt, atol=1e-10)


def test_imputation_matches_did2s():
    import importlib.resources as ir

    pf = pytest.importorskip("pyfixest")
    ref = json.loads((REF / "did_df_het" / "did2s.json").read_text())
    df = pd.read_csv(str(ir.files(pf) / "did/data/df_het.csv"))
    res = staggered_did(df, y="dep_var", unit="unit", time="year", cohort="g", method="imputation", bootstrap=0, pre_periods=0, inference="analytic")
    s = res.aggregate("simple")
    assert abs(s.overall.estimate - ref["static_att"]) < ref["tolerance"]["point"]
    assert abs(s.overall.std_error - ref["bjs_overall_se_unit_cluster"]) < ref["tolerance"]["se"]
    tab = res.aggregate("dynamic").table.set_index("event_time")
    for e, v in ref["event_study"].items():
        assert abs(tab.loc[int(e), "att"] - v) < ref["tolerance"]["point"]


@pytest.mark.parametrize("est_method", ["dr", "ipw", "reg"])
def test_covariates_with_a_two_unit_cohort_warn_and_continue_as_moderndid(mpdta, est_method):
    """A cohort of two counties, separated from the controls on the covariate: the
    propensity logit fails, R did / moderndid leave those cells out with a warning
    and keep the rest; so do we (no linear-algebra error)."""
    md = pytest.importorskip("moderndid")
    c04 = sorted(mpdta.loc[mpdta["first.treat"] == 2004, "countyreal"].unique())[:2]
    d = mpdta[(mpdta["first.treat"] != 2004) | mpdta["countyreal"].isin(c04)].copy()
    d.loc[d["countyreal"].isin(c04), "lpop"] = d["lpop"].max() + 3
    kw = dict(y="lemp", unit="countyreal", time="year", cohort="first.treat", control="never", est_method=est_method, covariates="lpop", bootstrap=0, inference="analytic")
    if est_method == "reg":
        ours = staggered_did(d, **kw)
    else:
        with pytest.warns(Warning, match=r"4 \(g,t\) cell\(s\) left out.*\(g=2004, t=2004\): the propensity-score logit"):
            ours = staggered_did(d, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = md.att_gt(data=d, yname="lemp", tname="year", idname="countyreal", gname="first.treat", xformla="~lpop", est_method=est_method, control_group="nevertreated", boot=False)
    r = pd.DataFrame({"group": np.asarray(ref.groups), "time": np.asarray(ref.times), "att_r": ref.att_gt, "se_r": ref.se_gt})
    j = ours.att_gt.merge(r, on=["group", "time"], how="left")
    assert np.array_equal(np.isnan(j["att"].to_numpy(float)), np.isnan(j["att_r"].to_numpy(float)))
    ok = j["att"].notna()
    np.testing.assert_allclose(j.loc[ok, "att"], j.loc[ok, "att_r"], atol=1e-10)
    np.testing.assert_allclose(j.loc[ok, "se"], j.loc[ok, "se_r"], atol=1e-10)
