"""Drivers of CTS-SW: the sensitivity analysis, its recovery on the simulator, the report and the CLI."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ctssw.errors import ConfigError, DataWarning, SingularFitWarning
from ctssw.estimators.lmm.drivers import DEFAULT_DRIVERS, DriversResult, sensitivity
from ctssw.simulate import simulate_panel

EFFECT_COLUMNS = [
    "rank", "driver", "pct_per_sd", "pct_per_sd_low", "pct_per_sd_high",
    "pct_per_10pct", "pct_per_10pct_low", "pct_per_10pct_high",
]


def _with_cts(p: pd.DataFrame) -> pd.DataFrame:
    p = p.copy()
    p["cts_sw"] = (p["builders"] * 200_000 / 52 / p["deployments"]).where(p["deployments"] > 0)
    return p


@pytest.fixture(scope="module")
def panels():
    return [simulate_panel(teams=300, weeks=104, seed=seed) for seed in range(3)]


@pytest.fixture(scope="module")
def sims(panels):
    out = []
    for p, truth in panels:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularFitWarning)
            out.append((sensitivity(_with_cts(p)), truth))
    return out


def _synthetic(seed=0, teams=80, weeks=30, slope_sd=0.0, team_sd=0.4):
    """log y = 5 - 0.2 x1 + 0.1 x2 + 0 x3 + team effects + noise; x's have known scale."""
    rng = np.random.default_rng(seed)
    team = np.repeat(np.arange(teams), weeks)
    x1 = rng.normal(10, 2, team.size)
    x2 = rng.normal(4, 1, team.size)
    x3 = rng.normal(1, 0.5, team.size)
    u0 = rng.normal(0, team_sd, teams)[team]
    u1 = rng.normal(0, slope_sd, teams)[team]
    z1 = (x1 - 10) / 2
    logy = 5 + (-0.2 + u1) * z1 + 0.1 * (x2 - 4) + u0 + rng.normal(0, 0.3, team.size)
    return pd.DataFrame({"team_id": team, "cts_sw": np.exp(logy), "x1": x1, "x2": x2, "x3": x3})


# -- recovery on the simulator -------------------------------------------------------------------------


def test_velocity_is_the_top_driver_on_every_seed(sims):
    for res, truth in sims:
        top = res.effects.iloc[0]
        assert top["driver"] == "velocity" == truth["drivers"]["order"][0]
        # true sign: more velocity, lower CTS-SW; the interval excludes zero
        assert top["pct_per_sd_high"] < 0


def test_latent_driver_order_is_recovered(sims):
    """The five drivers with a true effect come out in the true order on |% per SD|."""
    for res, truth in sims:
        true = truth["drivers"]["order"]
        assert all(truth["drivers"]["elasticity_per_sd"][d] != 0 for d in true)
        est = [d for d in res.ranking() if d in true]
        assert est == true, (est, true)


def test_delivery_health_follows_velocity_with_true_signs(sims):
    for res, truth in sims:
        e = res.effects.set_index("driver")
        for d in ("rollback_rate", "interventions_per_deploy"):
            assert truth["drivers"]["elasticity_per_sd"][d] > 0
            assert e.loc[d, "pct_per_sd_low"] > 0
        # among the drivers whose interval excludes zero and that have a true effect
        sig = [d for d in res.ranking() if d in truth["drivers"]["order"]
               and (e.loc[d, "pct_per_sd_low"] > 0 or e.loc[d, "pct_per_sd_high"] < 0)]
        assert sig[:3] == ["velocity", "rollback_rate", "interventions_per_deploy"]


def test_team_size_has_no_effect_on_the_latent_index(panels):
    """builders has no true effect: on the simulator's latent log deployment index its interval covers zero.

    The truth is a statement about the latent index ``w`` (log CTS-SW = const - w there). On the
    observed CTS-SW, team size is a between-team driver whose estimate also carries the teams'
    baseline deployment rates and their count noise, and with the random velocity slope the
    model's interval for it is too narrow and off centre: over seeds 0-14 its log-scale estimate
    averaged +0.030 per SD with a spread of 0.039 against a model SE of 0.026, and its interval
    excluded zero on 4 of the 15 seeds (docs/drivers.md). So the null is checked where the truth
    defines it.
    """
    for p, truth in panels:
        latent = p.assign(cts_sw=np.exp(-p["w"]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularFitWarning)
            res = sensitivity(latent)
        e = res.effects.set_index("driver")
        for d in truth["drivers"]["null"]:
            assert e.loc[d, "pct_per_sd_low"] < 0 < e.loc[d, "pct_per_sd_high"]
        # and the drivers with a true effect are detected there with their true signs
        for d, b in truth["drivers"]["elasticity_per_sd"].items():
            if d in truth["drivers"]["order"][:3]:
                assert np.sign(e.loc[d, "coef_log"]) == np.sign(b)


def test_rollback_rate_sign_matches_truth(sims):
    for res, _ in sims:
        e = res.effects.set_index("driver").loc["rollback_rate"]
        assert e["pct_per_sd_low"] > 0


def test_truth_ranks_only_drivers_with_an_effect(sims):
    """The truth's order lists the drivers with an effect; null drivers are checked by their intervals."""
    for res, truth in sims:
        d = truth["drivers"]
        assert d["null"] == ["builders"] and "builders" not in d["order"]
        assert [x for x in res.ranking() if x in d["order"]] == d["order"]


# -- the estimator on data with a known answer ---------------------------------------------------------


def test_effects_match_known_coefficients():
    res = sensitivity(_synthetic(), drivers=("x1", "x2", "x3"), random_slope="x1")
    e = res.effects.set_index("driver")
    sd2 = _synthetic()["x2"].std()
    for d, true in (("x1", -0.2), ("x2", 0.1 * sd2)):
        assert abs(e.loc[d, "coef_log"] - true) < 3 * e.loc[d, "se_log"]
        assert e.loc[d, "pct_per_sd"] == pytest.approx(100 * math.expm1(e.loc[d, "coef_log"]))
    assert e.loc["x3", "pct_per_sd_low"] < 0 < e.loc["x3", "pct_per_sd_high"]
    assert res.ranking() == ["x1", "x2", "x3"]
    assert list(e["rank"]) == [1, 2, 3]
    # +10% at the mean of x1 (mean 10, sd 2) is half an SD
    b = e.loc["x1", "coef_log"]
    assert e.loc["x1", "pct_per_10pct"] == pytest.approx(100 * math.expm1(b * 0.1 * e.loc["x1", "mean"] / e.loc["x1", "sd"]))
    for c in ("pct_per_sd", "pct_per_10pct"):
        assert (res.effects[f"{c}_low"] <= res.effects[c]).all() and (res.effects[c] <= res.effects[f"{c}_high"]).all()


def test_random_slope_kept_when_supported():
    res = sensitivity(_synthetic(slope_sd=0.15), drivers=("x1", "x2", "x3"), random_slope="x1")
    assert res.random_effects == "correlated slope"
    assert "(1 + x1 | team_id)" in res.formula
    assert not res.singular and res.converged and res.warnings == []


def test_falls_back_to_intercept_with_a_note():
    res = sensitivity(_synthetic(slope_sd=0.0), drivers=("x1", "x2", "x3"), random_slope="x1")
    assert res.random_effects in ("uncorrelated slope", "intercept only")
    assert res.attempts[0]["random_effects"] == "correlated slope" and res.attempts[0]["singular"]
    assert any("random slope for x1 not supported" in n for n in res.notes)
    assert res.to_dict()["random_effects"] == res.random_effects


def test_intercept_only_on_request():
    res = sensitivity(_synthetic(), drivers=("x1", "x2"), random_slope=None)
    assert res.random_effects == "intercept only" and len(res.attempts) == 1


def test_singular_final_fit_warns():
    # no between-team variation at all: log CTS-SW and the drivers are centred within each team, so the
    # team variance's optimum is exactly zero (uncentred data with team_sd=0 still has a positive optimum)
    d = _synthetic(team_sd=0.0, teams=20, weeks=10)
    for c in ("x1", "x2"):
        d[c] = d[c] - d.groupby("team_id")[c].transform("mean") + d[c].mean()
    ly = np.log(d["cts_sw"])
    d["cts_sw"] = np.exp(ly - ly.groupby(d["team_id"]).transform("mean") + 5)
    with pytest.warns(SingularFitWarning):
        res = sensitivity(d, drivers=("x1", "x2"), random_slope=None)
    assert res.singular and any("singular" in w for w in res.warnings)
    assert res.to_dict()["singular"] is True and res.to_dict()["warnings"]


def test_variance_explained():
    res = sensitivity(_synthetic(), drivers=("x1", "x2", "x3"), random_slope=None)
    v = res.variance
    assert 0 < v["r2_marginal"] < v["r2_conditional"] < 1
    # x1, x2 vary within teams only: they explain residual variance, not team variance
    assert v["within_team_explained"] > 0.2
    assert abs(v["between_team_explained"]) < 0.1
    assert v["r2_marginal"] == pytest.approx(v["var_fixed"] / (v["var_fixed"] + v["var_team"] + v["var_residual"]))


def test_rows_dropped_are_counted():
    d = _synthetic()
    d.loc[:9, "cts_sw"] = np.nan
    d.loc[10:14, "cts_sw"] = 0.0
    d.loc[15:16, "x2"] = np.nan
    res = sensitivity(d, drivers=("x1", "x2"), random_slope=None)
    assert res.dropped == {"privacy": 0, "outcome": 15, "drivers": 2}
    assert res.nobs == len(d) - 17


def test_privacy_floor_leaves_small_team_weeks_out():
    d = _synthetic()
    d["headcount"] = np.where(d["team_id"] % 4 == 0, 3, 8)
    res = sensitivity(d, drivers=("x1", "x2"), random_slope=None, k=5)
    assert res.dropped["privacy"] == int((d["headcount"] < 5).sum())
    with pytest.raises(ConfigError, match="at least"):
        sensitivity(d, drivers=("x1",), random_slope=None, k=2)


def test_constant_driver_left_out_with_warning():
    d = _synthetic()
    d["ai"] = 0.0
    with pytest.warns(DataWarning, match="constant"):
        res = sensitivity(d, drivers=("x1", "ai"), random_slope=None)
    assert res.ranking() == ["x1"]


def test_arguments_are_validated():
    d = _synthetic()
    with pytest.raises(ConfigError, match="not in the panel"):
        sensitivity(d, drivers=("x1", "nope"))
    with pytest.raises(ConfigError, match="random_slope"):
        sensitivity(d, drivers=("x1", "x2"), random_slope="x3")
    with pytest.raises(ConfigError, match="level"):
        sensitivity(d, drivers=("x1",), random_slope=None, level=95)
    assert "velocity" in DEFAULT_DRIVERS and "ai_share" in DEFAULT_DRIVERS


def test_result_contract():
    res = sensitivity(_synthetic(), drivers=("x1", "x2", "x3"), random_slope="x1", level=0.9)
    assert isinstance(res, DriversResult)
    assert list(res.params.index) == ["(Intercept)", "x1", "x2", "x3"]
    assert list(res.std_errors.index) == list(res.params.index)
    assert set(res.tidy().columns) >= {"term", "estimate", "std_error", "conf_low", "conf_high"}
    assert list(res.effects.columns[: len(EFFECT_COLUMNS)]) == EFFECT_COLUMNS
    s = res.summary()
    assert "Predicted % change in CTS-SW (90% intervals)" in s and "Variance explained" in s
    d = json.loads(json.dumps(res.to_dict()))
    assert d["ranking"] == res.ranking() and d["level"] == 0.9
    assert {"r2_marginal", "r2_conditional", "within_team_explained", "between_team_explained"} <= set(d["variance_explained"])
    assert d["effects"][0]["rank"] == 1
    html = res._repr_html_()
    assert "<table>" in html and "<pre>" not in html and "% per +1 SD" in html


# -- report and CLI ------------------------------------------------------------------------------------


def test_report_section(sims):
    import re

    import pandas as pd

    from ctssw.report import interactive_report

    res, truth = sims[0]
    weekly = pd.DataFrame({"team_id": ["t1"] * 4, "week": pd.date_range("2024-01-01", periods=4, freq="W-MON"),
                           "headcount": [10.0] * 4, "cost": [1e5] * 4, "units": [5.0] * 4})
    html = interactive_report(weekly=weekly, drivers=res)
    data = json.loads(re.search(r'<script type="application/json" id="ctssw-data">(.*?)</script>', html, re.S).group(1))
    rows = {r["driver"]: r for r in data["drivers"]}
    e = res.effects.set_index("driver")
    assert set(rows) == set(e.index) and "velocity" in rows
    v = rows["velocity"]
    assert v["estimate"] == pytest.approx(e.loc["velocity", "pct_per_sd"] / 100)
    assert v["ci_low"] <= v["estimate"] <= v["ci_high"]
    assert "Drivers of CTS-SW" in html and 'id="missing-drivers"' not in html


def test_cli_drivers(store_path):
    from ctssw.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["drivers", "--db", str(store_path), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert set(d["ranking"]) == set(DEFAULT_DRIVERS)
    assert "velocity" in d["ranking"][:2]  # the small fixture store: 40 teams × 60 weeks
    assert d["dropped"]["privacy"] >= 0 and "b_" not in r.stdout
    r = runner.invoke(app, ["drivers", "--db", str(store_path), "--k", "3"])
    assert r.exit_code == 0, r.output
    assert "Drivers of CTS-SW" in r.output and "Random effects:" in r.output
    r = runner.invoke(app, ["drivers", "--db", str(store_path), "--k", "1"])
    assert r.exit_code == 2


def test_cli_fit_lmm(tmp_path):
    from ctssw.cli import app

    d = _synthetic(teams=20, weeks=10)
    d["y"] = np.log(d["cts_sw"])
    f = tmp_path / "d.csv"
    d.to_csv(f, index=False)
    runner = CliRunner()
    r = runner.invoke(app, ["fit", "lmm", "--data", str(f), "--formula", "y ~ x1 + (1 | team_id)", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["title"].endswith("REML") and out["coefficients"][1]["term"] == "x1"
    r = runner.invoke(app, ["fit", "lmm", "--data", str(f), "--formula", "y ~ x1 + (1 | team_id)", "--ml"])
    assert r.exit_code == 0 and "maximum likelihood" in r.output
    r = runner.invoke(app, ["fit", "lmm", "--data", str(tmp_path / "d.txt"), "--formula", "y ~ x1 + (1 | team_id)"])
    assert r.exit_code == 2
    r = runner.invoke(
        app, ["fit", "lmm", "--data", str(f), "--formula", "y ~ x1 + (1 | team_id)", "--ddf", "satterthwaite", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["ddf"] == "satterthwaite" and 0 < out["df"]["x1"] < 200
    assert "df" in out["coefficients"][1]
    r = runner.invoke(app, ["fit", "lmm", "--data", str(f), "--formula", "y ~ x1 + (1 | team_id)", "--ddf", "kr"])
    assert r.exit_code == 2 and "ddf must be one of" in r.output
