"""Staggered DiD on an unbalanced panel with a time-varying covariate (Favara-Imbs
county panel, tests/reference/did_favara_imbs) against diff-diff and pyfixest."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ctssw.errors import ConfigError, DataWarning, EstimationError
from ctssw.estimators.did import staggered_did

CASE = Path(__file__).parents[1] / "reference" / "did_favara_imbs"
KW = dict(y="Dl_vloans_b", unit="county", time="year", bootstrap=0)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(CASE / "favara_imbs.csv")


@pytest.fixture(scope="module")
def peers() -> dict:
    return json.loads((CASE / "peers.json").read_text())


def _imputation(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return staggered_did(data, **KW, cohort="g", method="imputation", inference="analytic", **kw)


@pytest.mark.parametrize(("case", "cov"), [("imputation", None), ("imputation_cov", "Dl_hpi")])
def test_imputation_unbalanced_matches_diff_diff(data, peers, case, cov):
    fit = _imputation(data, covariates=cov, pre_periods=0)
    assert not fit.settings["balanced"]
    o = fit.aggregate("simple").overall
    assert o.estimate == pytest.approx(peers[case]["att"], rel=1e-9)
    assert o.std_error == pytest.approx(peers[case]["se"], rel=1e-9)


def test_date_string_and_datetime_periods_give_the_same_fit(data, peers):
    as_text = data.assign(year=data["year"].astype(str) + "-01", g=np.where(data["g"] > 0, data["g"].astype(str) + "-01", "0"))
    as_dates = as_text.assign(year=pd.to_datetime(as_text["year"]))
    for d in (as_text, as_dates):
        o = _imputation(d, covariates="Dl_hpi", pre_periods=0).aggregate("simple").overall
        assert o.estimate == pytest.approx(peers["imputation_cov"]["att"], rel=1e-9)
    bad = data.assign(year="FY" + data["year"].astype(str))
    with pytest.raises(Exception, match="numbers or dates; 'FY1994' is neither"):
        _imputation(bad)


@pytest.mark.parametrize(("leads", "key"), [(None, "pretrend_leads_all"), (3, "pretrend_leads_3")])
def test_leads_regression_matches_diff_diff(data, peers, leads, key):
    ref = peers[key]
    res = _imputation(data, covariates="Dl_hpi", pre_periods=0).pretest("leads", leads=leads)
    assert res["statistic"] == pytest.approx(ref["f_stat"], rel=1e-8)
    assert res["p_value"] == pytest.approx(ref["p_value"], rel=1e-8)
    assert res["df"][0] == ref["df"]
    got = {str(r["event_time"]): r["estimate"] for r in res["leads"]}
    assert got.keys() == ref["coefficients"].keys()
    for h, v in ref["coefficients"].items():
        assert got[h] == pytest.approx(v, rel=1e-8)


def test_pre_period_event_study_on_imputation(data):
    fit = _imputation(data, covariates="Dl_hpi", pre_periods=6)
    es = fit.aggregate("dynamic", min_e=-6, max_e=-1)
    assert list(es.table["event_time"]) == [-6, -5, -4, -3, -2, -1]
    assert np.isfinite(es.table["se"]).all()
    assert np.isnan(es.overall.estimate)
    short = _imputation(data, pre_periods=2)
    with pytest.warns(DataWarning, match="fit with pre_periods=6 for min_e=-6"), pytest.raises(EstimationError, match="raise pre_periods"):
        short.aggregate("dynamic", min_e=-6, max_e=-4)
    twfe = staggered_did(data.dropna(subset=["Dl_vloans_b"]), **KW, cohort="g", method="twfe")
    with pytest.raises(ConfigError, match="leads"):
        twfe.pretest("leads")


@pytest.mark.parametrize("case", ["twfe_absorbing", "twfe_intensity"])
def test_twfe_covariates_unbalanced_matches_pyfixest(data, peers, case):
    ref = peers[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        if case == "twfe_absorbing":
            fit = staggered_did(data, **KW, cohort="g", method="twfe", covariates="Dl_hpi")
        else:
            fit = staggered_did(data, **KW, cohort=None, method="twfe", treatment="inter_bra", covariates="Dl_hpi")
    assert fit.nobs == ref["nobs"]
    np.testing.assert_allclose(fit.params.to_numpy(), ref["coef"], rtol=1e-7)
    np.testing.assert_allclose(fit.std_errors.to_numpy(), ref["se"], rtol=1e-7)
    np.testing.assert_allclose(fit.pvalues.to_numpy(), ref["pvalue"], atol=1e-9)
    assert fit.aggregate("simple").overall.std_error == pytest.approx(ref["se"][0], rel=1e-7)


def test_sun_abraham_says_how_many_units_it_drops(data):
    with pytest.warns(DataWarning, match=r"dropped \d+ of 1048 unit\(s\): not observed in every period \(Sun-Abraham"):
        fit = staggered_did(data.fillna({"Dl_hpi": 0.0}), **KW, cohort="g", method="sun-abraham")
    assert fit.settings["units_dropped"] > 0
    assert fit.settings["units"] + fit.settings["units_dropped"] == 1048
    assert fit.settings["panel"].startswith("balanced subset")


def _cs_against(fit, ref, tol):
    """Cells, simple and dynamic aggregates and their analytic standard errors
    against moderndid; cells moderndid leaves out must be left out (NaN) here."""
    r = pd.DataFrame({"group": ref["group"], "time": ref["time"], "att_r": ref["att"], "se_r": ref["se"]})
    j = fit.att_gt.merge(r, on=["group", "time"], how="left", indicator=True)
    assert len(j) == len(fit.att_gt) and (j["_merge"] == "both").sum() == len(r)
    both = j["_merge"] == "both"
    assert j.loc[~both, "att"].isna().all()
    np.testing.assert_allclose(j.loc[both, "att"], j.loc[both, "att_r"], rtol=0, atol=tol)
    np.testing.assert_allclose(j.loc[both, "se"], j.loc[both, "se_r"], rtol=0, atol=tol)
    for kind in ("simple", "dynamic"):
        o = fit.aggregate(kind).overall
        assert o.estimate == pytest.approx(ref[kind], abs=tol)
        assert o.std_error == pytest.approx(ref[f"{kind}_se"], abs=tol)
    es = fit.aggregate("dynamic").table
    assert es["event_time"].tolist() == ref["event_times"]
    np.testing.assert_allclose(es["att"], ref["event_att"], rtol=0, atol=tol)
    np.testing.assert_allclose(es["se"], ref["event_se"], rtol=0, atol=tol)


@pytest.mark.parametrize("est", ["reg", "ipw", "dr"])
@pytest.mark.parametrize("control", ["never", "notyet"])
def test_cs_covariates_unbalanced_every_estimator_matches_moderndid(data, peers, est, control):
    """Doubly robust, IPW and regression CS on the unbalanced county panel keep every
    unit with an observation (R did's repeated-cross-section path, drdid_rc,
    std_ipw_did_rc, reg_did_rc), with unit-clustered influence functions."""
    ref = peers[f"cs_rc_{est}_{control}treated"]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit = staggered_did(data, **KW, cohort="g", method="cs", control=control, covariates="Dl_hpi", est_method=est, inference="analytic")
    msgs = [str(w.message) for w in rec]
    assert any(m.startswith("dropped 29 of 1048 unit(s): no period") for m in msgs)
    assert not any("not observed in every period" in m for m in msgs)
    # the 1995 cohort (two counties) is too small for the treated-group regressions of "dr"
    assert any(m.startswith("11 (g,t) cell(s) left out") for m in msgs) == (est == "dr")
    assert fit.settings["units"] == ref["n_units"] == 1019 and not fit.settings["balanced"]
    assert fit.settings["panel"].startswith(f"unbalanced panel: every observation, repeated-cross-section 2x2 estimator ('{est}'")
    _cs_against(fit, ref, 1e-8)


@pytest.mark.parametrize("est", ["reg", "ipw", "dr"])
def test_cs_covariates_on_mpdta_with_dropped_rows_matches_moderndid(peers, est):
    ref = peers[f"mpdta_rc_{est}_notyettreated"]
    mp = pd.read_csv(CASE / "mpdta_dropped.csv")
    fit = staggered_did(mp, y="lemp", unit="countyreal", time="year", cohort="first.treat", method="cs",
                        covariates="lpop", est_method=est, inference="analytic", bootstrap=0)
    assert fit.settings["units"] == ref["n_units"] == 500 and not fit.settings["balanced"]
    _cs_against(fit, ref, 1e-8)
    # the multiplier bootstrap draws units (influence functions summed by unit)
    boot = staggered_did(mp, y="lemp", unit="countyreal", time="year", cohort="first.treat", method="cs",
                         covariates="lpop", est_method=est, inference="analytic", bootstrap=499, seed=1)
    assert boot.fit.inf.shape[0] == 500
    es = boot.aggregate("dynamic")
    assert np.isfinite(es.band_crit) and es.band_crit >= stats.norm.ppf(0.975) - 0.05


@pytest.mark.parametrize(
    ("control", "cov", "key"),
    [
        ("never", None, "cs_unbalanced_nevertreated"),
        ("notyet", None, "cs_unbalanced_notyettreated"),
        ("never", "Dl_hpi", "cs_unbalanced_nevertreated_reg_cov"),
        ("notyet", "Dl_hpi", "cs_unbalanced_notyettreated_reg_cov"),
    ],
)
def test_cs_unbalanced_matches_moderndid(data, peers, control, cov, key):
    """Without covariates, or with them by outcome regression, CS keeps every unit of
    an unbalanced panel, as R did's allow_unbalanced_panel path (through moderndid)."""
    ref = peers[key]
    units = 1019 if cov else 1046
    with pytest.warns(DataWarning, match=rf"dropped {1048 - units} of 1048 unit\(s\): no period"):
        fit = staggered_did(data, **KW, cohort="g", method="cs", control=control, covariates=cov, est_method="reg", inference="analytic")
    assert fit.settings["units"] == units and not fit.settings["balanced"]
    r = pd.DataFrame({"group": ref["group"], "time": ref["time"], "att_r": ref["att"], "se_r": ref["se"]})
    j = fit.att_gt.merge(r, on=["group", "time"], how="outer")
    assert len(j) == len(r) == len(fit.att_gt)
    np.testing.assert_allclose(j["att"], j["att_r"], atol=1e-10)
    np.testing.assert_allclose(j["se"], j["se_r"], atol=1e-10)
    for kind in ("simple", "dynamic"):
        assert fit.aggregate(kind).overall.estimate == pytest.approx(ref[kind], abs=1e-10)


def test_cs_unbalanced_path_equals_balanced_path_on_a_balanced_panel(data):
    """The aggregation of the unbalanced path (influence functions per unit, weight
    influence by cohort) is the balanced path's when nothing is missing."""
    from ctssw.estimators.did import DidPanel
    from ctssw.estimators.did._agg import aggregate_cells
    from ctssw.estimators.did._cs import cells_linear, cells_unbalanced

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        fit = staggered_did(data, **KW, cohort="g", method="cs", covariates="Dl_hpi", est_method="dr")
    panel: DidPanel = fit.panel.subset(fit.panel.observed.all(axis=1))
    assert panel.balanced and panel.n == 901
    a = cells_linear(panel, control="notyet", anticipation=0, base="varying")
    b = cells_unbalanced(panel, control="notyet", anticipation=0, base="varying")
    np.testing.assert_allclose(a.att, b.att, atol=1e-12)
    np.testing.assert_allclose(a.se, b.se, atol=1e-12)
    for kind in ("simple", "dynamic", "group", "calendar"):
        x, y = aggregate_cells(a, kind), aggregate_cells(b, kind)
        assert x.overall_att == pytest.approx(y.overall_att, abs=1e-12)
        assert x.overall_se == pytest.approx(y.overall_se, abs=1e-12)


def test_cs_covariates_on_a_balanced_panel_use_the_panel_estimators(data):
    """The repeated-cross-section path is only taken when the panel is unbalanced."""
    full = data.dropna(subset=["Dl_vloans_b", "Dl_hpi"])
    full = full[full.groupby("county")["year"].transform("size") == 12]
    fit = staggered_did(full, **KW, cohort="g", method="cs", covariates="Dl_hpi", est_method="dr", inference="analytic")
    assert fit.settings["balanced"] and fit.settings["panel"] == "balanced panel: panel 2x2 estimators"
    assert fit.settings["units_dropped"] == 0
    assert not any("dropped" in w for w in fit.warnings)



@pytest.mark.parametrize("est", ["dr", "ipw", "reg"])
def test_cs_covariates_unbalanced_two_unit_cohort_warns_and_continues_as_moderndid(est):
    """A cohort of two counties (one missing a year), separated from the controls on
    the covariate: on the repeated-cross-section path the propensity logit fails for
    that cohort's cells, which are left out with a warning (no linear-algebra error),
    as moderndid with allow_unbalanced_panel=True; the other cells agree with it."""
    md = pytest.importorskip("moderndid")
    mp = pd.read_csv(CASE / "mpdta_dropped.csv")
    c04 = sorted(mp.loc[mp["first.treat"] == 2004, "countyreal"].unique())[:2]
    d = mp[(mp["first.treat"] != 2004) | mp["countyreal"].isin(c04)].copy()
    d.loc[d["countyreal"].isin(c04), "lpop"] = d["lpop"].max() + 3
    kw = dict(y="lemp", unit="countyreal", time="year", cohort="first.treat", control="never", est_method=est, covariates="lpop", bootstrap=0, inference="analytic")
    if est == "reg":
        ours = staggered_did(d, **kw)
    else:
        with pytest.warns(DataWarning, match=r"4 \(g,t\) cell\(s\) left out.*\(g=2004, t=2004\): the propensity-score logit"):
            ours = staggered_did(d, **kw)
    assert not ours.settings["balanced"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = md.att_gt(data=d, yname="lemp", tname="year", idname="countyreal", gname="first.treat", xformla="~lpop", est_method=est,
                        control_group="nevertreated", boot=False, allow_unbalanced_panel=True, panel=False)
    r = pd.DataFrame({"group": np.asarray(ref.groups), "time": np.asarray(ref.times), "att_r": ref.att_gt, "se_r": ref.se_gt})
    j = ours.att_gt.merge(r, on=["group", "time"], how="left")
    assert np.array_equal(np.isnan(j["att"].to_numpy(float)), np.isnan(j["att_r"].to_numpy(float)))
    assert j["att"].isna().sum() == (0 if est == "reg" else 4)
    ok = j["att"].notna()
    np.testing.assert_allclose(j.loc[ok, "att"], j.loc[ok, "att_r"], atol=1e-10)
    np.testing.assert_allclose(j.loc[ok, "se"], j.loc[ok, "se_r"], atol=1e-10)


def test_repeated_cross_section_2x2_trims_controls_as_drdid():
    """Controls whose propensity score reaches 0.995 get no weight in the IPW and DR
    repeated-cross-section estimators (R DRDID's trim.level), and a cell whose
    largest score reaches 0.999 is left out (R did's overlap check)."""
    from moderndid.drdid.estimators.drdid_rc import drdid_rc
    from moderndid.drdid.estimators.std_ipw_did_rc import std_ipw_did_rc

    from ctssw.estimators.did._cs import CellSkipped, propensity_logit
    from ctssw.estimators.did._rc import dr_did_rc, ipw_did_rc

    rng = np.random.default_rng(0)
    # x = 1: 997 treated, 3 controls (propensity 0.997: trimmed); x = 0: 200 of each
    x = np.r_[np.ones(1000), np.zeros(400)]
    D = np.r_[np.ones(997), np.zeros(3), np.ones(200), np.zeros(200)]
    post = np.tile([0.0, 1.0], 700)
    X = np.column_stack([np.ones(1400), x])
    y = 1 + x + D + post + 0.5 * D * post + rng.normal(size=1400)
    assert propensity_logit(D, X)[0].max() == pytest.approx(0.997)
    for ours, peer in ((ipw_did_rc, std_ipw_did_rc), (dr_did_rc, drdid_rc)):
        att, phi = ours(y, post, D, X)
        ref = peer(y, post, D, X, influence_func=True)
        assert att == pytest.approx(ref.att, abs=1e-12)
        np.testing.assert_allclose(phi, ref.att_inf_func, atol=1e-10)
    untrimmed = std_ipw_did_rc(y, post, D, X, influence_func=True, trim_level=1.0).att
    assert abs(ipw_did_rc(y, post, D, X)[0] - untrimmed) > 0.5
    D2 = np.r_[np.ones(999), np.zeros(1), np.ones(200), np.zeros(200)]  # propensity 0.999
    for ours in (ipw_did_rc, dr_did_rc):
        with pytest.raises(CellSkipped, match="overlap violated"):
            ours(y, post, D2, X)
