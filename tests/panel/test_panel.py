from __future__ import annotations

import numpy as np
import pytest

from ctssw.panel import PANEL_COLUMNS, panel
from ctssw.simulate import simulate_panel

from .oracle import oracle_panel, rebuilt

CHECK = [
    "builders", "builder_weeks", "headcount", "oncall_builders", "new_members", "ai_active",
    "deployments", "rollbacks", "failed_deployments", "interventions", "changes_merged",
    "commits_to_prod", "pages", "incidents", "license_cost", "labor_cost", "cost", "units", "cts_sw",
    "velocity", "deploys_per_builder", "deploys_per_builder_norm", "rollback_rate",
    "interventions_per_deploy", "pages_per_oncall_builder", "ai_share", "new_member_share",
]


@pytest.fixture(scope="module")
def built(store_path):
    from ctssw.store import Store

    with Store(store_path, read_only=True) as s:
        return panel(s.ibis())


def test_panel_matches_pandas_oracle(built, sim_dir):
    want = oracle_panel(sim_dir)
    assert len(built) == len(want)
    got = built.sort_values(["team_id", "week"]).reset_index(drop=True)
    assert (got["team_id"] == want["team_id"]).all()
    assert (got["week"] == want["week"]).all()
    for c in CHECK:
        np.testing.assert_allclose(
            got[c].astype(float).to_numpy(), want[c].astype(float).to_numpy(), rtol=1e-9, atol=1e-9, err_msg=c
        )


def test_panel_reproduces_simulated_counts(built):
    sim, _ = simulate_panel(teams=40, weeks=60, seed=7)
    m = built.merge(sim, on=["team_id", "week"], suffixes=("", "_sim"), validate="one_to_one")
    assert len(m) == len(sim) == len(built)
    for c in ["builders", "headcount", "oncall_builders", "new_members", "ai_active", "deployments",
              "rollbacks", "failed_deployments", "interventions", "changes_merged", "incidents", "pages"]:
        np.testing.assert_array_equal(m[c].to_numpy(float), m[f"{c}_sim"].to_numpy(float), err_msg=c)


def test_columns_and_spine_without_gaps(built):
    assert tuple(built.columns) == PANEL_COLUMNS
    for _, g in built.groupby("team_id"):
        steps = g["week"].sort_values().diff().dropna().dt.days.unique()
        assert list(steps) == [7]
    assert (built["week"].dt.day_of_week == 0).all()


def test_cts_sw_null_with_reason_never_inf(built):
    zero = built["units"] == 0
    assert zero.any(), "the fixture should contain weeks without deployments"
    assert built.loc[zero, "cts_sw"].isna().all()
    assert built.loc[zero, "cts_sw_reason"].str.startswith("no units").all()
    assert built.loc[~zero, "cts_sw_reason"].isna().all()
    assert np.isfinite(built.loc[~zero, "cts_sw"]).all()
    assert not np.isinf(built.select_dtypes("number").to_numpy(float)).any()


@pytest.mark.parametrize("unit,col", [("change", "changes_merged"), ("commit", "commits_to_prod")])
def test_other_units(store, unit, col):
    p = panel(store.ibis(), unit=unit)
    np.testing.assert_array_equal(p["units"], p[col])
    ok = p["units"] > 0
    np.testing.assert_allclose(p.loc[ok, "cts_sw"], p.loc[ok, "cost"] / p.loc[ok, "units"])


def test_team_unit_follows_architecture(store):
    p = panel(store.ibis(), unit="team")
    expect = p["architecture"].map({"service": "deployment", "monolith": "change", "trunk": "commit"})
    assert (p["unit"] == expect).all()


def test_bad_unit_is_a_config_error(store):
    from ctssw.errors import ConfigError

    with pytest.raises(ConfigError, match="deployment, change, commit"):
        panel(store.ibis(), unit="release")


def test_builders_with_several_membership_rows_match_the_oracle(sim_dir, tmp_path):
    """A builder whose membership changes mid-week (two rows on one team in that week) and a
    builder who joins a second team part-time: the panel still equals the pandas oracle."""
    import shutil
    from datetime import date

    import pandas as pd


    d = tmp_path / "sim"
    shutil.copytree(sim_dir, d)
    m = pd.read_parquet(d / "memberships")
    one, two = m.index[0], m.index[-1]
    split = dict(m.loc[one])
    # the first row ends on a Wednesday, the second starts that day at another FTE and on-call
    m.loc[one, "end"] = date(2024, 3, 6)
    split.update(start=date(2024, 3, 6), end=None, fte=0.5, oncall=not split["oncall"])
    other_team = next(t for t in m["team_id"].unique() if t != m.loc[two, "team_id"])
    extra = dict(m.loc[two])
    extra.update(team_id=other_team, start=date(2024, 2, 14), end=date(2024, 4, 2), fte=0.3, oncall=True)
    m = pd.concat([m, pd.DataFrame([split, extra])], ignore_index=True)
    assert m.groupby("builder").size().max() == 2
    got, want = rebuilt(d, tmp_path, "memberships", m)
    assert len(got) == len(want)
    for c in CHECK:
        np.testing.assert_allclose(
            got[c].astype(float).to_numpy(), want[c].astype(float).to_numpy(), rtol=1e-9, atol=1e-9, err_msg=c
        )
