"""Staggered DiD on an unbalanced panel with a time-varying covariate (Favara-Imbs
county panel, tests/reference/did_favara_imbs) against diff-diff and pyfixest."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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


def test_cs_with_covariates_says_how_many_units_it_drops(data):
    with pytest.warns(DataWarning, match=r"dropped \d+ of 1048 unit\(s\): not observed in every period"):
        fit = staggered_did(data, **KW, cohort="g", method="cs", covariates="Dl_hpi", est_method="dr")
    assert fit.settings["units_dropped"] > 0
    assert fit.settings["units"] + fit.settings["units_dropped"] == 1048


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
    panel: DidPanel = fit.panel
    assert panel.balanced
    a = cells_linear(panel, control="notyet", anticipation=0, base="varying")
    b = cells_unbalanced(panel, control="notyet", anticipation=0, base="varying")
    np.testing.assert_allclose(a.att, b.att, atol=1e-12)
    np.testing.assert_allclose(a.se, b.se, atol=1e-12)
    for kind in ("simple", "dynamic", "group", "calendar"):
        x, y = aggregate_cells(a, kind), aggregate_cells(b, kind)
        assert x.overall_att == pytest.approx(y.overall_att, abs=1e-12)
        assert x.overall_se == pytest.approx(y.overall_se, abs=1e-12)
