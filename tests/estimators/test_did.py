"""Staggered DiD: API, equivalences with regression peers, recovery on simulated data."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctssw.errors import ConfigError
from ctssw.estimators.did import event_study_frame, staggered_did
from ctssw.estimators.did.continuous import did_multiplegt
from ctssw.pipeline import impact_did, render_impact_text
from ctssw.simulate._did_scenarios import did_scenario

MP = Path(__file__).parents[1] / "reference" / "did_mpdta" / "mpdta.csv"
KW = dict(y="lemp", unit="countyreal", time="year", cohort="first.treat")


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(MP)


@pytest.fixture(scope="module")
def scenario():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return did_scenario(teams=200, weeks=80, seed=11, effects=(0.15, 0.1, 0.08, 0.05, 0.03))


@pytest.mark.parametrize(
    "kw",
    [
        {"method": "did"},
        {"control": "sometimes"},
        {"est_method": "ols"},
        {"method": "sun-abraham", "control": "notyet"},
        {"method": "imputation", "control": "never"},
        {"method": "sun-abraham", "covariates": "lpop"},
        {"method": "cs", "treatment": "treat"},
        {"anticipation": -1},
        {"bootstrap": -5},
    ],
)
def test_bad_settings_raise(mpdta, kw):
    with pytest.raises(ConfigError):
        staggered_did(mpdta, **KW, **kw)


def test_twfe_has_only_simple(mpdta):
    r = staggered_did(mpdta, **KW, method="twfe")
    with pytest.raises(ConfigError):
        r.aggregate("dynamic")
    with pytest.raises(ConfigError):
        r.pretest()
    with pytest.raises(ConfigError):
        r.aggregate("median")


def test_twfe_matches_pyfixest(mpdta):
    pf = pytest.importorskip("pyfixest")
    d = mpdta.assign(D=((mpdta["first.treat"] > 0) & (mpdta.year >= mpdta["first.treat"])).astype(int))
    ref = pf.feols("lemp ~ D | countyreal + year", data=d, vcov={"CRV1": "countyreal"}).coef()["D"]
    assert abs(staggered_did(mpdta, **KW, method="twfe").params["D"] - ref) < 1e-10


def test_sun_abraham_matches_saturated_regression(mpdta):
    pf = pytest.importorskip("pyfixest")
    d = mpdta.copy()
    names = []
    for g in (2004, 2006, 2007):
        for e in range(2003 - g, 2008 - g):
            if e == -1:
                continue
            n = f"d_{g}_{e + 10}"
            d[n] = ((d["first.treat"] == g) & (d.year - g == e)).astype(float)
            names.append((n, g, g + e))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols("lemp ~ " + " + ".join(n for n, _, _ in names) + " | countyreal + year", data=d).coef()
    sa = staggered_did(mpdta, **KW, method="sun-abraham", bootstrap=0).att_gt.set_index(["group", "time"])
    for n, g, t in names:
        assert abs(sa.loc[(g, t), "att"] - ref[n]) < 1e-10


def test_result_contract(mpdta):
    r = staggered_did(mpdta, **KW, bootstrap=199, seed=1)
    assert list(r.att_gt.columns) == ["group", "time", "event", "att", "se", "post", "n_treated", "n_control", "df"]
    assert "ATT(2004,2005)" in r.params.index
    json.dumps(r.to_dict())
    es = r.aggregate("dynamic")
    json.dumps(es.to_dict())
    assert "Pre-trend" in es.summary()
    f = event_study_frame(r)
    assert list(f.columns) == ["event_time", "att", "se", "ci_low", "ci_high", "band_low", "band_high"]
    assert (f.band_high - f.band_low >= f.ci_high - f.ci_low - 1e-12).all()
    assert es.band_crit > 1.96
    # same seed, same band
    assert staggered_did(mpdta, **KW, bootstrap=199, seed=1).aggregate("dynamic").band_crit == es.band_crit


def test_last_treated_control_without_never_treated(mpdta):
    d = mpdta[mpdta["first.treat"] > 0]
    r = staggered_did(d, **KW, method="sun-abraham", bootstrap=0)
    assert any("last-treated" in w for w in r.warnings)
    assert set(r.att_gt["group"]) == {2004, 2006}
    assert r.att_gt["time"].max() < 2007


def test_methods_recover_truth(scenario):
    panel, truth = scenario
    kw = dict(y="deploys_per_builder_norm", unit="team_id", time="week", cohort="adoption_week", bootstrap=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in ("cs", "sun-abraham", "imputation"):
            s = staggered_did(panel, method=m, **kw).aggregate("simple").overall
            assert abs(s.estimate - truth["att"]) < 3.5 * s.std_error, m


def test_did_multiplegt_recovers_dose_effect():
    rng = np.random.default_rng(0)
    n, T = 400, 12
    start = rng.integers(2, 10, n)
    level = rng.choice([0.3, 0.6, 1.0], n)
    dose = np.where(np.arange(T)[None, :] >= start[:, None], level[:, None], 0.0)
    dose[rng.random(n) < 0.3] = 0.0
    y = 2.0 * dose + rng.normal(size=(n, 1)) + np.linspace(0, 1, T)[None, :] + 0.1 * rng.normal(size=(n, T))
    m = did_multiplegt(y, dose)
    assert abs(m.estimate - 2.0) < 4 * m.std_error
    assert m.std_error < 0.1


def test_impact_did_json_and_text(scenario):
    panel, _ = scenario
    panel = panel.drop(columns=["deploys_per_builder_norm", "adoption_week"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = impact_did(panel, method="all", permutations=19, honest=False, bootstrap=99, placebo_outcome="pages_per_oncall_builder")
    json.dumps(out)
    assert set(out["estimates"]) == {"cs", "sun-abraham", "imputation", "twfe"}
    assert out["event_study"][0]["event_time"] == -12
    assert 0 < out["checks"]["randomisation_inference"]["p_value"] <= 1
    assert len(out["checks"]["leave_one_cohort_out"]) > 1
    assert out["checks"]["subgroups"]["team_size"]
    assert "adopted assistant" in out["verdict"]
    text = render_impact_text(out)
    assert "Event study" in text and "twfe" in text


def test_honest_bounds_on_mpdta(mpdta):
    pytest.importorskip("diff_diff")
    from ctssw.estimators.did.robust import honest_bounds

    out = honest_bounds(mpdta, **KW, control="notyet", anticipation=0, horizon=2)
    assert out["available"], out
    assert out["ci_low"] < out["ci_high"]
