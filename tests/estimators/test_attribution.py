"""Several tools in one model: simulator truth, the joint estimators, value, the baseline decomposition, power."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ctssw.errors import ConfigError, EstimationError
from ctssw.estimators import dynamic_panel, rollout_cohorts, staggered_did
from ctssw.estimators.attribution import (
    adoption_matrix,
    attribute,
    balanced_waves,
    cts_by_architecture,
    drivers_by_architecture,
    effects_by_architecture,
    explain,
    normalise_team_mean,
    plan,
    value_tools,
)
from ctssw.simulate import simulate_panel

EXTRA = (("review_agent", 0.03), ("build_fix", 0.0))
TOOLS = ["share_assistant", "share_review_agent", "share_build_fix"]


def org(seed: int, teams: int = 200, weeks: int = 104, **kw) -> tuple[pd.DataFrame, dict]:
    p, truth = simulate_panel(teams=teams, weeks=weeks, seed=seed, extra_tools=EXTRA, org_trend=0.05, **kw)
    p["y"] = normalise_team_mean(p, "deploys_per_builder")
    p["builder_weeks"] = p["builders"]
    p["cost"] = p["builders"] * 200_000 / 52
    p["units"] = p["deployments"]
    return p, truth


@pytest.fixture(scope="module")
def one_org():
    return org(3)


# -- simulator -------------------------------------------------------------------


def test_extra_tools_leave_the_default_organisation_unchanged():
    base, _ = simulate_panel(teams=120, weeks=40, seed=4)
    same, truth = simulate_panel(teams=120, weeks=40, seed=4, extra_tools={"review_agent": 0.0})
    assert (base["deployments"] == same["deployments"]).all() and (base["ai_share"] == same["ai_share"]).all()
    assert truth["tools"] == {"assistant": 0.08, "review_agent": 0.0}
    assert (same["share_assistant"] == same["ai_share"]).all()
    assert same["share_review_agent"].between(0, 1).all() and same["share_review_agent"].max() > 0.5


def test_extra_tools_roll_out_in_correlated_overlapping_waves(one_org):
    p, truth = one_org
    assert set(truth["tools"]) == {"assistant", "review_agent", "build_fix"}
    first = {t: pd.to_datetime(p["week"].where(p[t] > 0)).groupby(p["team_id"]).min() for t in TOOLS}
    c = pd.DataFrame(first).corr(method="spearman")
    assert c.loc["share_assistant", ["share_review_agent", "share_build_fix"]].min() > 0.25
    assert c.loc["share_review_agent", "share_build_fix"] > 0.1
    # overlapping: some team-weeks use two or three tools, some exactly one
    n_on = (p[TOOLS] > 0).sum(axis=1)
    assert (n_on == 1).sum() > 500 and (n_on >= 2).sum() > 500
    # each tool's first wave starts later than the assistant's
    starts = {k: v[0] for k, v in truth["tool_cohort_weeks"].items()}
    assert starts["assistant"] < starts["review_agent"] < starts["build_fix"]


def test_org_trend_raises_the_latent_rate_over_time():
    flat, _ = simulate_panel(teams=100, weeks=104, seed=5, extra_tools=EXTRA)
    up, _ = simulate_panel(teams=100, weeks=104, seed=5, extra_tools=EXTRA, org_trend=0.2)
    gain = (up["w"] - flat["w"]).groupby(up["week"]).mean()
    assert gain.iloc[-1] - gain.iloc[0] == pytest.approx(0.2 * 103 / 52, rel=0.1)


def test_simulator_rejects_bad_tool_options():
    with pytest.raises(ConfigError, match="distinct names"):
        simulate_panel(teams=10, weeks=10, extra_tools=(("assistant", 0.1),))
    with pytest.raises(ConfigError, match="above -1"):
        simulate_panel(teams=10, weeks=10, extra_tools=(("x", -1.5),))
    with pytest.raises(ConfigError, match="one sequence of waves"):
        simulate_panel(teams=10, weeks=10, extra_tools=(("x", 0.1),), tool_cohorts=((0.3,), (0.5,)))


# -- joint dynamic model ---------------------------------------------------------------


def test_one_tool_joint_model_equals_the_dynamic_panel_long_run(one_org):
    p, _ = one_org
    r = attribute(p, tools=["share_assistant"], y="y", method="fe")
    d = dynamic_panel(p, y="y", x=["share_assistant"], unit="team_id", time="week", method="fe")
    lr = d.long_run["share_assistant"]
    assert r.params["share_assistant"] == pytest.approx(lr.estimate, rel=1e-12)
    assert r.std_errors["share_assistant"] == pytest.approx(lr.std_error, rel=1e-10)
    assert r.total.estimate == pytest.approx(lr.estimate, rel=1e-12)


def test_joint_coefficients_match_pyfixest(one_org):
    pf = pytest.importorskip("pyfixest")
    p, _ = one_org
    r = attribute(p, tools=TOOLS, y="y", method="fe", naive=False)
    d = p.sort_values(["team_id", "week"]).copy()
    d["L1"] = d.groupby("team_id")["y"].shift(1)
    d = d.dropna(subset=["y", "L1"])
    fit = pf.feols("y ~ L1 + share_assistant + share_review_agent + share_build_fix | team_id + week", data=d, vcov={"CRV1": "team_id"})
    coef, se = fit.coef(), fit.se()
    for t in TOOLS:
        assert r.fit.params[t] == pytest.approx(coef[t], rel=1e-6)
        assert r.fit.std_errors[t] == pytest.approx(se[t], rel=1e-4)
    assert r.fit.params.iloc[0] == pytest.approx(coef["L1"], rel=1e-6)


def test_sum_interval_uses_the_covariance(one_org):
    p, _ = one_org
    r = attribute(p, tools=TOOLS, y="y", method="fe")
    V = r.vcov.to_numpy()
    assert r.total.estimate == pytest.approx(float(r.params.sum()))
    assert r.total.std_error == pytest.approx(math.sqrt(V.sum()))
    assert not np.allclose(V - np.diag(np.diag(V)), 0)  # the tools' effects are correlated
    t = r.table()
    assert list(t["tool"]) == [*TOOLS, "sum"]
    assert t["naive_estimate"].iloc[-1] == pytest.approx(r.naive["estimate"].sum())
    d = r.to_dict()
    assert set(d["effects"]) == set(TOOLS) and d["total"]["ci_low"] < d["total"]["estimate"] < d["total"]["ci_high"]
    assert "one model per tool" in r.summary()


def test_joint_model_recovers_truth_and_naive_sum_double_counts():
    """Reduced Monte Carlo (the 200-replication study is scripts/validate_attribution.py)."""
    cover, joint, naive, zero_rejects = [], [], [], 0
    for seed in range(2000, 2012):
        p, truth = org(seed)
        r = attribute(p, tools=TOOLS, y="y", method="fe")
        ci = r.conf_int(0.95)
        for t in TOOLS:
            true = truth["tools"][t.removeprefix("share_")]
            cover.append(ci.loc[t, "lower"] <= true <= ci.loc[t, "upper"])
        zero_rejects += bool(ci.loc["share_build_fix", "lower"] > 0 or ci.loc["share_build_fix", "upper"] < 0)
        joint.append(r.total.estimate)
        naive.append(r.naive_total)
    truth_sum = 0.08 + 0.03 + 0.0
    joint, naive = np.array(joint), np.array(naive)
    mc = joint.std(ddof=1) / np.sqrt(joint.size)
    assert np.mean(cover) >= 0.85
    assert zero_rejects <= 2
    assert abs(joint.mean() - truth_sum) < 2.5 * mc
    assert naive.mean() - truth_sum > 3 * mc  # the one-model-per-tool sum overstates


def test_jackknife_refuses_a_tool_only_in_the_second_half():
    p, _ = org(8, teams=60, weeks=60, tool_cohorts=((0.75, 0.8), (0.85, 0.9)))
    with pytest.raises(EstimationError, match="use method 'fe'"):
        attribute(p, tools=TOOLS, y="y", method="jackknife")


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"tools": []}, "at least one"),
        ({"tools": ["share_assistant", "share_assistant"]}, "duplicates"),
        ({"tools": ["nope"]}, "not in the panel"),
        ({"tools": ["builders"]}, "share between 0 and 1"),
        ({"tools": TOOLS, "method": "ols"}, "unknown method"),
        ({"tools": TOOLS, "level": 2}, "level"),
        ({"tools": TOOLS, "y": "share_assistant"}, "cannot also be"),
    ],
)
def test_attribute_validates_its_arguments(one_org, kw, msg):
    p, _ = one_org
    args = {"y": "y", **kw}
    with pytest.raises(ConfigError, match=msg):
        attribute(p, **args)


# -- joint imputation DiD ----------------------------------------------------------------


def test_one_treatment_did_equals_the_imputation_estimator(one_org):
    p, _ = one_org
    r = attribute(p, tools=["share_assistant"], y="y", method="did")
    u, t, D = adoption_matrix(p, ["share_assistant"], unit="team_id", time="week", threshold=0.5)
    weeks = np.sort(p["week"].unique())
    first = pd.Series(np.where(D[:, 0], t, 10**9)).groupby(u).transform("min")
    d = p.assign(cohort=[weeks[c] if c < 10**9 else pd.NaT for c in first])
    bjs = staggered_did(d, y="y", unit="team_id", time="week", cohort="cohort", method="imputation")
    agg = bjs.aggregate("simple")
    assert r.params["share_assistant"] == pytest.approx(agg.overall.estimate, rel=1e-6)
    assert r.std_errors["share_assistant"] == pytest.approx(agg.overall.std_error, rel=0.25)


def test_did_is_contamination_free_where_twfe_is_not():
    """Tool A: +0.10 at adoption, tool B: 0 but its effect grows with A's (heterogeneous) -- dCDH's example."""
    rng = np.random.default_rng(0)
    n, T = 300, 40
    team = np.repeat(np.arange(n), T)
    week = np.tile(np.arange(T), n)
    a_start = rng.choice([10, 20, 30, 99], n)
    b_start = rng.choice([15, 25, 99], n)
    A = (week >= a_start[team]).astype(float)
    B = (week >= b_start[team]).astype(float)
    # B alone does nothing; A's effect doubles over time (heterogeneous across periods)
    y = 1 + 0.01 * week + rng.normal(0, 0.05, n)[team] + 0.1 * A * (1 + week / T) + rng.normal(0, 0.05, n * T)
    df = pd.DataFrame({"team_id": team, "week": week, "y": y, "A": A, "B": B})
    r = attribute(df, tools=["A", "B"], y="y", method="did")
    true_b = 0.0
    true_a = float(np.mean((0.1 * (1 + week / T))[(A == 1) & (B == 0)]))
    assert r.params["A"] == pytest.approx(true_a, abs=3 * r.std_errors["A"])
    assert abs(r.params["B"] - true_b) < 3 * r.std_errors["B"]
    inter = r.diagnostics["interactions"]["A + B"]
    assert inter["team_weeks"] > 0 and math.isfinite(inter["interaction_estimate"])


def test_did_needs_each_tool_alone_somewhere():
    df = pd.DataFrame({"team_id": np.repeat([1, 2, 3], 6), "week": np.tile(range(6), 3), "y": np.arange(18.0)})
    df["A"] = ((df["week"] >= 3) & (df["team_id"] < 3)).astype(float)
    df["B"] = df["A"]
    with pytest.raises(EstimationError, match="alone"):
        attribute(df, tools=["A", "B"], y="y", method="did")


# -- value -----------------------------------------------------------------------------


def test_value_per_tool_and_total(one_org):
    p, _ = one_org
    r = attribute(p, tools=TOOLS, y="y", method="fe", naive=False)
    v = value_tools(r, p, license_per_seat_month={"share_assistant": 19.0}, license_cost={"share_build_fix": 1000.0})
    years = sum(x.engineering_years.estimate for x in v.per_tool.values())
    assert v.engineering_years.estimate == pytest.approx(years)
    assert v.license_cost["share_build_fix"] == 1000.0 and v.license_cost["share_review_agent"] == 0.0
    tbw = float((p["builders"] * p["share_assistant"]).sum())
    assert v.license_cost["share_assistant"] == pytest.approx(19.0 * tbw * 12 / 52)
    assert v.net_dollars.estimate == pytest.approx(v.gross_dollars.estimate - sum(v.license_cost.values()))
    assert v.engineering_years.ci_low < v.engineering_years.estimate < v.engineering_years.ci_high
    assert "all tools" in v.summary() and set(v.to_dict()["per_tool"]) == set(TOOLS)
    with pytest.raises(ConfigError, match="not among the tools"):
        value_tools(r, p, license_cost={"x": 1.0})


# -- baseline decomposition --------------------------------------------------------------


def test_explain_components_add_up_exactly(one_org):
    p, _ = one_org
    r = attribute(p, tools=TOOLS, y="y", method="fe", naive=False)
    d = explain(p, r, since="2024-01-01", until="2025-12-22", window=8)
    assert float(d.params.sum()) == pytest.approx(d.observed, abs=1e-12)
    assert d.observed == pytest.approx(math.log(d.cts_b / d.cts_a))
    assert d.std_errors["composition"] == 0 and d.std_errors["trend"] > 0
    t = d.table()
    assert t["cts_units"].iloc[:-1].sum() == pytest.approx(d.cts_b - d.cts_a)
    assert d.to_dict()["adds_up"] is True
    assert math.isnan(d.pvalues["composition"]) and 0 < d.pvalues["trend"] < 1
    # a tool with no effect leaves no share of the change once its effect is zero
    assert "tool: share_build_fix" in d.params.index


def test_explain_trend_recovers_the_org_trend():
    """Without tools the whole within-team change is trend: the org trend of +20%/yr lowers CTS-SW."""
    p, _ = simulate_panel(teams=150, weeks=60, seed=11, extra_tools=(("x", 0.0),), org_trend=0.2, cohorts=(0.9,), tool_cohorts=((0.95,),))
    p["y"] = normalise_team_mean(p, "deploys_per_builder")
    p["builder_weeks"], p["cost"], p["units"] = p["builders"], p["builders"] * 3846.0, p["deployments"]
    r = attribute(p, tools=["share_assistant", "share_x"], y="y", method="fe", naive=False)
    d = explain(p, r, since="2024-02-05", until="2024-11-25", window=6)
    assert d.params["trend"] < -0.05
    assert abs(d.params["residual"]) < 3 * d.std_errors["residual"]


def test_explain_rejects_bad_windows(one_org):
    p, _ = one_org
    r = attribute(p, tools=TOOLS, y="y", method="fe", naive=False)
    with pytest.raises(ConfigError, match="overlap"):
        explain(p, r, since="2024-01-01", until="2024-01-15", window=4)
    with pytest.raises(ConfigError, match="no panel weeks"):
        explain(p, r, since="2030-01-01", until="2031-01-01")
    with pytest.raises(ConfigError, match="privacy floor"):
        explain(p.assign(builders=p["builders"] / 1000), r, since="2024-01-01", until="2025-12-22")


# -- power and rollout design ---------------------------------------------------------------


@pytest.fixture(scope="module")
def history():
    p, _ = simulate_panel(teams=80, weeks=52, seed=21, never_treated=1.0)
    p["cost"], p["units"] = p["builders"] * 3846.0, p["deployments"]
    return p


def test_plan_gives_power_mde_and_a_balanced_schedule(history, tmp_path):
    res = plan(history, tool="coding_agent", effect=0.3, weeks=26, cohorts=4, reps=20, seed=1)
    assert 0.5 <= res.power.estimate <= 1 and res.power.ci_low <= res.power.estimate <= res.power.ci_high
    assert 0 < res.mde < 0.3  # the effect is powered well above the MDE
    counts = res.schedule["wave"].value_counts()
    assert counts.max() - counts.min() <= 1 and set(counts.index) == {1, 2, 3, 4}
    b = res.balance
    assert b["cts_sw"].max() / b["cts_sw"].min() < 1.25 and b["size"].max() / b["size"].min() < 1.25
    path = res.write_schedule(tmp_path / "rollout.csv")
    back = rollout_cohorts(path)
    assert len(back) == 80 and back["adoption_week"].dt.day_of_week.eq(0).all()
    assert "minimum detectable effect" in res.summary() and res.to_dict()["power"]["estimate"] == res.power.estimate


def test_plan_at_zero_effect_rejects_about_alpha(history):
    res = plan(history, tool="x", effect=0.0, weeks=26, cohorts=4, reps=40, seed=2)
    assert res.power.estimate <= 0.15


def test_balanced_waves_spread_each_block():
    rng = np.random.default_rng(0)
    score = pd.Series(np.arange(40.0))
    w = balanced_waves(score, pd.Series(np.ones(40)), 4, rng)
    assert all(sorted(w.iloc[i:i + 4]) == [0, 1, 2, 3] for i in range(0, 40, 8))


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"weeks": 2}, "weeks must be"),
        ({"cohorts": 0}, "cohorts must be"),
        ({"effect": -2}, "effect must be"),
        ({"weeks": 50}, "history has 52 weeks"),
        ({"method": "did"}, "method must be"),
        ({"uptake": 1.5}, "uptake"),
    ],
)
def test_plan_validates(history, kw, msg):
    args = {"tool": "x", "effect": 0.05, "reps": 10, **kw}
    with pytest.raises(ConfigError, match=msg):
        plan(history, **args)


# -- architecture -------------------------------------------------------------------------


def test_effects_by_architecture_and_equality_test(one_org):
    p, _ = one_org
    r = effects_by_architecture(p, tools=["share_assistant"], y="y")
    assert set(r.params.index) == {f"share_assistant @ {a}" for a in ("monolith", "service", "trunk")}
    eq = r.equality.set_index("tool").loc["share_assistant"]
    assert eq["df1"] == 2 and 0 <= eq["p_value"] <= 1
    assert "Equal effect in every architecture" in r.summary() and len(r.to_dict()["effects"]) == 3


def test_equality_test_rejects_when_effects_differ():
    rng = np.random.default_rng(1)
    n, T = 240, 60
    team = np.repeat(np.arange(n), T)
    week = np.tile(np.arange(T), n)
    arch = np.where(np.arange(n) % 2 == 0, "service", "monolith")[team]
    start = rng.choice([20, 30, 40, 99], n)[team]
    share = np.where(week >= start, 0.9, 0.0)
    effect = np.where(arch == "service", 0.3, 0.0)
    e = rng.normal(0, 0.1, n * T)
    y = 1 + rng.normal(0, 0.1, n)[team] + effect * share + e
    df = pd.DataFrame({"team_id": team, "week": week, "architecture": arch, "s": share, "y": y})
    r = effects_by_architecture(df, tools=["s"], y="y")
    assert r.equality["p_value"].iloc[0] < 0.001
    t = r.table().set_index("architecture")
    assert t.loc["service", "ci_low"] <= 0.3 <= t.loc["service", "ci_high"]
    assert t.loc["monolith", "ci_low"] <= 0.0 <= t.loc["monolith", "ci_high"]


def test_cts_by_architecture_keeps_each_unit(one_org):
    p, _ = one_org
    q = p.assign(unit=p["architecture"].map({"service": "deployment", "monolith": "change", "trunk": "commit"}))
    c = cts_by_architecture(q).set_index("architecture")
    assert c.loc["monolith", "unit"] == "change"
    assert c.loc["service", "cts_sw"] == pytest.approx(q.loc[q.architecture == "service", "cost"].sum() / q.loc[q.architecture == "service", "units"].sum())
    with pytest.raises(ConfigError, match="mixes units"):
        cts_by_architecture(p.assign(unit=np.where(np.arange(len(p)) % 2, "a", "b")))


def test_did_respects_the_privacy_floor(one_org):
    p, _ = one_org
    small = p.assign(builders=0.001)
    with pytest.raises(EstimationError, match="privacy floor"):
        attribute(small, tools=TOOLS, y="y", method="did")
    r = attribute(p, tools=TOOLS, y="y", method="did", naive=False)
    assert r.diagnostics["combinations_below_privacy_floor"] == 0 and len(r.diagnostics["interactions"]) == 4


def test_drivers_by_architecture_recovers_different_slopes():
    rng = np.random.default_rng(3)
    n, T = 150, 30
    team = np.repeat(np.arange(n), T)
    arch = np.array(["monolith", "service", "trunk"])[np.arange(n) % 3][team]
    v = rng.normal(2, 0.5, n * T)
    r = rng.normal(0.1, 0.03, n * T)
    slope_v = np.where(arch == "service", -0.3, -0.1)  # per unit of velocity
    log_y = 8 + rng.normal(0, 0.3, n)[team] + slope_v * v + 1.0 * r + rng.normal(0, 0.1, n * T)
    df = pd.DataFrame({"team_id": team, "architecture": arch, "velocity": v, "rollback_rate": r, "cts_sw": np.exp(log_y)})
    res = drivers_by_architecture(df, drivers=["velocity", "rollback_rate"])
    s = res.slopes.set_index(["driver", "architecture"])
    sd = df["velocity"].std()
    assert s.loc[("velocity", "service"), "ci_low"] <= -0.3 * sd <= s.loc[("velocity", "service"), "ci_high"]
    assert s.loc[("velocity", "monolith"), "ci_low"] <= -0.1 * sd <= s.loc[("velocity", "monolith"), "ci_high"]
    eq = res.equality.set_index("driver")
    assert eq.loc["velocity", "p_value"] < 1e-6 and eq.loc["rollback_rate", "df"] == 2
    assert "velocity:architecture[service]" in res.params.index and "Same slope" in res.summary()
    with pytest.raises(ConfigError, match="two architectures"):
        drivers_by_architecture(df.assign(architecture="service"), drivers=["velocity"])


def test_plan_with_the_jackknife_needs_use_in_both_halves_and_has_power(history):
    # 13 weeks before the first wave and 39 after: two of the four waves start in the first half
    res = plan(history, tool="x", effect=0.3, weeks=39, cohorts=4, pre_weeks=13, reps=20, seed=3, method="jackknife")
    assert res.settings["estimator"].endswith("method jackknife)") and res.power.estimate >= 0.6
    null = plan(history, tool="x", effect=0.0, weeks=39, cohorts=4, pre_weeks=13, reps=20, seed=4, method="jackknife")
    assert null.power.estimate <= 0.2 and null.mean_se > 0


def test_persistence_without_a_varying_covariate_matches_the_within_estimator(history):
    from ctssw.estimators.attribution.power import _ar1_within
    from ctssw.estimators.dynamic import dynamic_panel

    h = history.dropna(subset=["deploys_per_builder"]).copy()
    h["z"] = np.random.default_rng(0).normal(size=len(h)) * 1e-3
    beta = float(dynamic_panel(h, y="deploys_per_builder", x=["z"], unit="team_id", time="week", method="fe").params.iloc[0])
    assert _ar1_within(h, "deploys_per_builder", "team_id", "week") == pytest.approx(beta, abs=2e-3)
