"""Dynamic panel estimators: within estimator against pyfixest, lags, jackknife, coverage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctssw.errors import ConfigError, EstimationError
from ctssw.estimators.dynamic import (
    compare,
    compare_text,
    dynamic_panel,
    normalise_pre_adoption,
)
from ctssw.estimators.results import Estimate
from ctssw.simulate import simulate_panel

from .panels import linear_ar1_panel

X = ["ai_share", "rollback_rate", "interventions_per_deploy"]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    p, _ = simulate_panel(teams=120, weeks=60, seed=11)
    p["deploys_per_builder_norm"] = normalise_pre_adoption(
        p, "deploys_per_builder", unit="team_id", time="week", treatment="ai_share"
    )
    return p


def test_fe_matches_pyfixest(panel):
    pf = pytest.importorskip("pyfixest")
    p = panel.sort_values(["team_id", "week"]).copy()
    p["ylag"] = p.groupby("team_id")["deploys_per_builder"].shift(1)
    d = p.dropna(subset=["ylag", "deploys_per_builder", *X])
    ref = pf.feols(
        "deploys_per_builder ~ ylag + ai_share + rollback_rate + interventions_per_deploy | team_id + week",
        data=d,
        vcov={"CRV1": "team_id"},
    )
    fit = dynamic_panel(panel, y="deploys_per_builder", x=X, unit="team_id", time="week")
    np.testing.assert_allclose(fit.params.to_numpy(), ref.coef().to_numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit.std_errors.to_numpy(), ref.se().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(fit.pvalues.to_numpy(), ref.pvalue().to_numpy(), rtol=1e-6, atol=1e-12)
    assert fit.nobs == ref._N
    assert fit.n_dropped == len(panel) - ref._N


def test_long_run_delta_method(panel):
    fit = dynamic_panel(panel, y="deploys_per_builder_norm", x=X, unit="team_id", time="week", lags=2)
    b = fit.params
    lr = fit.long_run["ai_share"]
    s = 1 - b["L1.deploys_per_builder_norm"] - b["L2.deploys_per_builder_norm"]
    assert lr.estimate == pytest.approx(b["ai_share"] / s)
    g = pd.Series(0.0, index=b.index)
    g["ai_share"] = 1 / s
    g[["L1.deploys_per_builder_norm", "L2.deploys_per_builder_norm"]] = b["ai_share"] / s**2
    se = float(np.sqrt(g @ fit.vcov @ g))
    assert lr.std_error == pytest.approx(se)
    assert lr.ci_low < lr.estimate < lr.ci_high
    assert set(fit.to_dict()["long_run"]) == {"ai_share"}


def test_lags_respect_gaps():
    rows = []
    for u in range(30):
        for t in range(8):
            if u % 3 == 0 and t == 4:
                continue  # a gap: week 5 of these units has no lag
            rows.append({"u": u, "t": t, "y": np.sin(u + 1.3 * t) + 0.1 * t, "x": np.cos(2 * u + t)})
    df = pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # order must not matter
    fit = dynamic_panel(df, y="y", x="x", unit="u", time="t")
    # dropped: the first period of every unit, and the period after each gap
    assert fit.n_dropped == 30 + 10
    d = df.sort_values(["u", "t"]).copy()
    d["ylag"] = np.where(d.groupby("u")["t"].diff() == 1, d.groupby("u")["y"].shift(1), np.nan)
    d = d.dropna()
    pf = pytest.importorskip("pyfixest")
    ref = pf.feols("y ~ ylag + x | u + t", data=d, vcov={"CRV1": "u"})
    np.testing.assert_allclose(fit.params.to_numpy(), ref.coef().to_numpy(), rtol=1e-8)


def test_missing_values_are_dropped_and_counted(panel):
    p = panel.copy()
    p.loc[p.index[:50], "rollback_rate"] = np.nan
    a = dynamic_panel(p, y="deploys_per_builder", x=X, unit="team_id", time="week")
    b = dynamic_panel(panel, y="deploys_per_builder", x=X, unit="team_id", time="week")
    assert a.nobs < b.nobs
    assert a.nobs + a.n_dropped == len(p)


def test_validation(panel):
    kw = dict(y="deploys_per_builder", unit="team_id", time="week")
    with pytest.raises(ConfigError, match="allowed"):
        dynamic_panel(panel, x=X, method="ols", **kw)
    with pytest.raises(ConfigError, match="not in data"):
        dynamic_panel(panel, x=["nope"], **kw)
    with pytest.raises(ConfigError, match="treatment"):
        dynamic_panel(panel, x=X, treatment="velocity", **kw)
    with pytest.raises(ConfigError, match="lags"):
        dynamic_panel(panel, x=X, lags=0, **kw)
    with pytest.raises(ConfigError, match="do not apply"):
        dynamic_panel(panel, x=X, collapse=False, **kw)
    dup = pd.concat([panel.head(3), panel.head(1)])
    with pytest.raises(ConfigError, match="more than one row"):
        dynamic_panel(dup, x=X, **kw)


def test_jackknife_reduces_nickell_bias():
    # a linear AR(1) panel with short T: FE is biased down by about (1+beta)/(T-1)
    N, T, beta, gamma = 400, 12, 0.5, 0.3
    df = linear_ar1_panel(seed=5, n=N, t=T, beta=beta, gamma=gamma)
    fe = dynamic_panel(df, y="y", x="x", unit="u", time="t")
    jk = dynamic_panel(df, y="y", x="x", unit="u", time="t", method="jackknife")
    assert fe.params["L1.y"] < beta - 0.08
    assert abs(jk.params["L1.y"] - beta) < abs(fe.params["L1.y"] - beta) / 3
    assert (jk.std_errors > 0).all()


def test_compare_table(panel):
    tab = compare(panel, methods=["fe", "jackknife"], y="deploys_per_builder_norm", x=X, unit="team_id", time="week")
    assert set(tab["method"]) == {"fe", "jackknife"}
    assert "long-run: ai_share" in set(tab["term"])
    txt = compare_text(tab)
    assert "jackknife" in txt and "long-run: ai_share" in txt


def test_result_contract(panel):
    fit = dynamic_panel(panel, y="deploys_per_builder_norm", x=X, unit="team_id", time="week")
    assert list(fit.tidy().columns)[:3] == ["term", "estimate", "std_error"]
    assert "Long-run effect of ai_share" in fit.summary()
    import json

    json.dumps(fit.to_dict())
    assert isinstance(fit.long_run["ai_share"], Estimate)


@pytest.mark.slow
def test_fe_long_run_coverage_over_seeds():
    """Coverage of truth['effect'] by the FE long-run interval; printed, loosely bounded.

    The outcome is a Poisson count of an AR(1) latent, so the observed-y model is
    not the data-generating process; this records how the article's estimator fares.
    """
    hits, est = [], []
    for seed in range(20):
        p, truth = simulate_panel(teams=200, weeks=104, seed=seed)
        p["yn"] = normalise_pre_adoption(p, "deploys_per_builder", unit="team_id", time="week", treatment="ai_share")
        lr = dynamic_panel(p, y="yn", x=X, unit="team_id", time="week").long_run["ai_share"]
        hits.append(lr.ci_low <= truth["effect"] <= lr.ci_high)
        est.append(lr.estimate)
    rate = float(np.mean(hits))
    print(f"\nFE long-run 95% interval covers truth['effect'] in {rate:.2f} of 20 seeds; mean estimate {np.mean(est):.4f}")
    assert rate >= 0.7
    assert abs(np.mean(est) - truth["effect"]) < 0.05


def test_impact_dynamic_pipeline(panel):
    import json

    from ctssw.pipeline import impact_dynamic

    out = impact_dynamic(panel, method="all", costs={"license_per_seat_month": 19.0})
    json.dumps(out)
    assert set(out["estimates"]) == {"fe", "jackknife", "diff-gmm", "sys-gmm"}
    assert out["value"]["settings"]["baseline_units_per_builder_week"] == 1.0
    assert out["value"]["settings"]["license_cost"] > 0
    assert len(out["checks"]["checks"]) == 4
    assert "Engineering-years" in out["text"]
    one = impact_dynamic(panel, method="fe", costs={"loaded_annual_cost": 150_000, "weeks_per_year": 48})
    assert set(one["estimates"]) == {"fe"} and one["value"]["settings"]["weeks_per_year"] == 48
    with pytest.raises(ConfigError, match="allowed"):
        impact_dynamic(panel, method="ols")
    with pytest.raises(ConfigError, match="cost"):
        impact_dynamic(panel, costs={"salary": 1})


def test_jackknife_odd_periods_and_gmm_options(panel):
    weeks = np.sort(panel["week"].unique())
    p = panel[(panel["week"] >= weeks[10]) & (panel["week"] < weeks[41])]  # 31 weeks: two splits averaged
    jk = dynamic_panel(p, y="deploys_per_builder_norm", x=X, unit="team_id", time="week", method="jackknife")
    assert np.isfinite(jk.std_errors).all()
    g = dynamic_panel(p, y="deploys_per_builder_norm", x=X, unit="team_id", time="week", method="sys-gmm", steps=1, endogenous=["rollback_rate"], max_lag=4)
    assert g.settings["steps"] == 1 and g.settings["endogenous"] == ["rollback_rate"]
    early = panel[panel["week"] < weeks[31]]  # no adoption in the first half
    with pytest.raises(EstimationError, match="first half"):
        dynamic_panel(early, y="deploys_per_builder_norm", x=X, unit="team_id", time="week", method="jackknife")
    with pytest.raises(ConfigError, match="max_lag"):
        dynamic_panel(p, y="deploys_per_builder_norm", x=X, unit="team_id", time="week", method="diff-gmm", max_lag=1)
    with pytest.raises(ConfigError, match="time_effects"):
        dynamic_panel(p, y="deploys_per_builder_norm", x=X, unit="team_id", time="week", method="diff-gmm", time_effects="yes")


NESTING = Path(__file__).resolve().parents[1] / "reference" / "fe_cluster_nesting"


@pytest.mark.parametrize("case", range(5), ids=["grunfeld-firm", "grunfeld-year", "emplUK-firm", "emplUK-year", "emplUK-sector"])
def test_fe_cluster_nesting_matches_pyfixest(case):
    """CR1 counts a fixed effect in k unless the cluster nests it (pyfixest's k_fixef='nonnested')."""
    ref = json.loads((NESTING / "pyfixest.json").read_text())
    c = ref["cases"][case]
    tol = ref["tolerance"]
    data = pd.read_csv(NESTING / c["input"])
    fit = dynamic_panel(data, y=c["y"], x=c["x"], unit="firm", time="year", cluster=c["cluster"])
    assert fit.nobs == c["nobs"]
    np.testing.assert_allclose(fit.params.to_numpy(), c["coef"], rtol=tol["coef"])
    np.testing.assert_allclose(fit.std_errors.to_numpy(), c["se"], rtol=tol["se"])
    np.testing.assert_allclose(fit.pvalues.to_numpy(), c["pvalue"], atol=tol["pvalue"], rtol=0)
