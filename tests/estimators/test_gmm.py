"""Panel GMM against plm::pgmm reference output (tests/reference/plm_emplUK_*) and on simulated panels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctssw.errors import ConfigError, EstimationError
from ctssw.estimators.dynamic import dynamic_panel, normalise_pre_adoption
from ctssw.estimators.dynamic.gmm import gmm, parse_formula
from ctssw.simulate import simulate_panel

from .panels import linear_ar1_panel

REF = Path(__file__).resolve().parents[1] / "reference"
CASES = sorted(p.name for p in REF.glob("plm_emplUK_*"))


@pytest.mark.parametrize("case", CASES)
def test_matches_plm(case):
    ref = json.loads((REF / case / "reference.json").read_text())
    data = pd.read_csv(REF / case / "emplUK.csv")
    fit = gmm(
        ref["formula"],
        data,
        unit="firm",
        time="year",
        effect=ref["effect"],
        model=ref["model"],
        transformation=ref["transformation"],
        collapse=ref["collapse"],
    )
    tol = ref["tolerance"]
    assert list(fit.params.index) == ref["names"]
    np.testing.assert_allclose(fit.params.to_numpy(), ref["coef"], atol=tol["coef"], rtol=0)
    np.testing.assert_allclose(fit.std_errors.to_numpy(), ref["se_robust"], atol=tol["se"], rtol=0)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov_nonrobust)), ref["se"], atol=tol["se"], rtol=0)
    # plm's "Sargan test" in summary() uses the two-step weight: our Hansen statistic
    assert fit.hansen["statistic"] == pytest.approx(ref["sargan"]["stat"], abs=tol["sargan"])
    assert fit.hansen["df"] == ref["sargan"]["df"]
    assert fit.hansen["p_value"] == pytest.approx(ref["sargan"]["p"], abs=tol["sargan"])
    assert fit.ar["AR(1)"]["statistic"] == pytest.approx(ref["m1_robust"], abs=tol["mtest"])
    assert fit.ar["AR(2)"]["statistic"] == pytest.approx(ref["m2_robust"], abs=tol["mtest"])
    assert fit.ar_nonrobust["AR(1)"]["statistic"] == pytest.approx(ref["m1"], abs=tol["mtest"])
    assert fit.ar_nonrobust["AR(2)"]["statistic"] == pytest.approx(ref["m2"], abs=tol["mtest"])
    assert fit.n_instruments == ref["n_instruments"]
    assert fit.n_units == ref["n_units"]
    assert "Hansen test" in fit.summary()
    json.dumps(fit.to_dict())


def test_formula_parsing():
    m = parse_formula("n ~ lag(n, 1:2) + lag(w, 0:1) + k | lag(n, 2:99)")
    assert [r[2] for r in m.regressors] == ["lag(n, 1:2)1", "lag(n, 1:2)2", "lag(w, 0:1)0", "lag(w, 0:1)1", "k"]
    assert m.gmm == (("n", 2, 99),)
    assert m.normal == (("w", 0), ("w", 1), ("k", 0))
    m3 = parse_formula("n ~ lag(n, 1) + k | lag(n, 2:4) | lag(k, 0:2)")
    assert m3.normal == (("k", 0), ("k", 1), ("k", 2))
    for bad in ("n ~ lag(n, 1)", "n ~ lag(n, 1) | lag(n, 0:3)", "n ~ lag(n, x) | lag(n, 2:3)"):
        with pytest.raises(ConfigError):
            parse_formula(bad)
    df = pd.read_csv(REF / CASES[0] / "emplUK.csv")
    with pytest.raises(ConfigError, match="model"):
        gmm("n ~ lag(n, 1) | lag(n, 2:9)", df, unit="firm", time="year", model="threestep")
    with pytest.raises(ConfigError, match="not in data"):
        gmm("n ~ lag(n, 1) + q | lag(n, 2:9)", df, unit="firm", time="year")


def test_too_few_periods():
    df = pd.DataFrame({"u": np.repeat(np.arange(5), 3), "t": np.tile(np.arange(3), 5), "y": np.arange(15.0)})
    with pytest.raises(EstimationError):
        gmm("y ~ lag(y, 1) | lag(y, 2:9)", df, unit="u", time="t")


@pytest.fixture(scope="module")
def sim():
    p, truth = simulate_panel(teams=200, weeks=104, seed=4)
    p["yn"] = normalise_pre_adoption(p, "deploys_per_builder", unit="team_id", time="week", treatment="ai_share")
    return p, truth


@pytest.mark.parametrize("method", ["diff-gmm", "sys-gmm"])
def test_dynamic_panel_gmm_runs_fast_at_scale(sim, method):
    import time

    p, _ = sim
    t0 = time.perf_counter()
    fit = dynamic_panel(p, y="yn", x=["ai_share", "rollback_rate", "interventions_per_deploy"], unit="team_id", time="week", method=method)
    assert time.perf_counter() - t0 < 5
    d = fit.diagnostics
    assert d["instruments"] > 0 and {"hansen", "AR(1)", "AR(2)"} <= set(d)
    assert fit.settings["collapse"] is True
    assert np.isfinite(fit.long_run["ai_share"].std_error)
    full = dynamic_panel(p, y="yn", x=["ai_share"], unit="team_id", time="week", method=method, time_effects="dummies", max_lag=4)
    assert full.diagnostics["instruments"] > 100  # one instrument per period effect
    pre = dynamic_panel(p, y="yn", x=["ai_share", "rollback_rate"], unit="team_id", time="week", method=method, predetermined="rollback_rate", endogenous="ai_share")
    assert pre.diagnostics["instruments"] > fit.diagnostics["instruments"]
    with pytest.raises(ConfigError, match="both"):
        dynamic_panel(p, y="yn", x=["ai_share"], unit="team_id", time="week", method=method, predetermined="ai_share", endogenous="ai_share")


def test_linear_ar1_recovered_by_gmm():
    N, T, beta, gamma = 500, 8, 0.6, 0.5
    df = linear_ar1_panel(seed=2, n=N, t=T, beta=beta, gamma=gamma)
    for method in ("diff-gmm", "sys-gmm"):
        fit = dynamic_panel(df, y="y", x="x", unit="u", time="t", method=method)
        assert abs(fit.params["L1.y"] - beta) < 4 * fit.std_errors["L1.y"] + 0.02
        assert abs(fit.params["x"] - gamma) < 4 * fit.std_errors["x"] + 0.02
        assert fit.diagnostics["AR(2)"]["p_value"] > 0.001


def test_individual_system_gmm_intercept_is_an_explicit_option():
    """plm's effect='individual' has no constant in the level equations; intercept=True adds one."""
    ref = json.loads((REF / "plm_emplUK_sys_individual" / "reference.json").read_text())
    data = pd.read_csv(REF / "plm_emplUK_sys_individual" / "emplUK.csv")
    kw = dict(unit="firm", time="year", effect="individual", model="twostep", transformation="ld", collapse=True)
    with_const = gmm(ref["formula"], data, intercept=True, **kw)
    assert list(with_const.params.index) == [*ref["names"], "(Intercept)"]
    assert with_const.settings["intercept"] is True
    assert with_const.n_instruments == ref["n_instruments"] + 1
    assert np.max(np.abs(with_const.params.to_numpy()[:-1] - ref["coef"])) > 1e-3
    with pytest.raises(ConfigError, match="intercept"):
        gmm(ref["formula"], data, intercept=True, **{**kw, "effect": "twoways"})
    with pytest.raises(ConfigError, match="intercept"):
        gmm(ref["formula"], data, intercept=1, **kw)


def test_transformed_terms_are_named_as_plm():
    m = parse_formula("log(emp) ~ lag(log(emp),1:2) + log(capital+1) + I(w^2) + lag(w/2 - 1, 1) | lag(log(emp), 2:99)")
    assert m.response == "log(emp)"
    assert [r[2] for r in m.regressors] == ["lag(log(emp), 1:2)1", "lag(log(emp), 1:2)2", "log(capital + 1)", "I(w^2)", "lag(w/2 - 1, 1)"]
    assert m.gmm == (("log(emp)", 2, 99),)
    for bad in ("n ~ foo(k) | lag(n, 2:9)", "n ~ __import__('os') | lag(n, 2:9)", "n ~ k[0] | lag(n, 2:9)", "n ~ log(k, 2) | lag(n, 2:9)"):
        with pytest.raises(ConfigError, match="cannot read"):
            parse_formula(bad)
    df = pd.read_csv(REF / "plm_emplUK_logterms" / "emplUK.csv")
    with pytest.raises(ConfigError, match="not in data"):
        gmm("log(emp) ~ lag(log(emp), 1) + log(q + 1) | lag(log(emp), 2:9)", df, unit="firm", time="year")
