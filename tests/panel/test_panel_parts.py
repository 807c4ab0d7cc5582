"""The panel's parts: distinct commits per team-week, and panels built with only some columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ctssw.panel import PANEL_COLUMNS, panel

from .oracle import monday, oracle_panel, rebuilt


def _shipped(deps: pd.DataFrame) -> pd.DataFrame:
    ok = deps[(deps["result"] == "success") & ~deps["is_rollback"] & (deps["environment"] == "production")]
    return ok.assign(week=monday(ok["finished_at"]))


def test_a_commit_two_deployments_ship_in_one_week_counts_once(sim_dir, tmp_path):
    """The same sha shipped by two deployments of one team in one week is one commit to
    production; shipped again in a later week it counts in that week too (oracle: pandas nunique)."""
    import shutil

    d = tmp_path / "sim"
    shutil.copytree(sim_dir, d)
    deps = _shipped(pd.read_parquet(d / "deployments"))
    dc = pd.read_parquet(d / "deployment_commits")
    shipping = deps[deps["deployment_id"].isin(dc["deployment_id"])]
    pairs = shipping.groupby(["service_id", "week"])["deployment_id"].agg(list)
    a, b = next(ids for ids in pairs if len(ids) >= 2)[:2]
    later = shipping[(shipping["service_id"] == shipping.set_index("deployment_id").loc[a, "service_id"])
                     & (shipping["week"] > shipping.set_index("deployment_id").loc[a, "week"])]
    c = later["deployment_id"].iloc[0]
    row = dc[dc["deployment_id"] == a].iloc[0]
    extra = pd.DataFrame([dict(row, deployment_id=b), dict(row, deployment_id=c)])
    got, want = rebuilt(d, tmp_path, "deployment_commits", pd.concat([dc, extra], ignore_index=True))
    np.testing.assert_array_equal(got["commits_to_prod"].to_numpy(float), want["commits_to_prod"].to_numpy(float))
    # the duplicate changed nothing in its own week, and added one in the later week
    before = oracle_panel(sim_dir).set_index(["team_id", "week"])["commits_to_prod"]
    after = want.set_index(["team_id", "week"])["commits_to_prod"]
    changed = (after - before)[lambda s: s != 0]
    assert len(changed) == 1 and changed.iloc[0] == 1


@pytest.mark.parametrize("columns", [
    ("team_id", "week", "builders", "cost", "units", "deployments", "pages"),
    ("team_id", "week", "commits_to_prod"),
    ("team_id", "week", "ai_share", "deploys_per_builder_norm"),
    ("team_id", "week", "cts_sw_4w", "cts_sw", "cts_sw_reason"),
])
def test_a_panel_of_some_columns_equals_those_of_the_whole(store, columns):
    whole = panel(store.ibis())
    part = panel(store.ibis(), columns=columns)
    assert tuple(part.columns) == columns
    pd.testing.assert_frame_equal(part, whole[list(columns)])


def test_the_period_columns_with_the_commit_unit(store):
    from ctssw.metrics._dora import PERIOD_PANEL

    whole = panel(store.ibis(), unit="commit")
    part = panel(store.ibis(), unit="commit", columns=PERIOD_PANEL)
    pd.testing.assert_frame_equal(part, whole[list(PERIOD_PANEL)])
    np.testing.assert_array_equal(part["units"], whole["commits_to_prod"])


def test_the_key_comes_first_whatever_is_asked(store):
    part = panel(store.ibis(), columns=("pages", "week"))
    assert tuple(part.columns) == ("team_id", "week", "pages")


def test_an_unknown_column_is_a_config_error(store):
    from ctssw.errors import ConfigError

    with pytest.raises(ConfigError, match="no panel column"):
        panel(store.ibis(), columns=("team_id", "week", "commits"))
    assert "commits_to_prod" in PANEL_COLUMNS


def test_the_panel_command_writes_the_panel_above_the_floor(store_path, tmp_path):
    """``ctssw panel`` filters the floor on Arrow: the file is ``panel()`` less the rows under k."""
    from typer.testing import CliRunner

    from ctssw.cli import app
    from ctssw.store import Store

    out = tmp_path / "p.parquet"
    r = CliRunner().invoke(app, ["panel", "--db", str(store_path), "--out", str(out), "--k", "9"])
    assert r.exit_code == 0, r.output
    with Store(store_path, read_only=True) as s:
        whole = panel(s.ibis())
    want = whole[whole["headcount"] >= 9].reset_index(drop=True)
    assert 0 < len(want) < len(whole)
    # Parquet has no seconds unit: the weeks come back in milliseconds, as they always did
    pd.testing.assert_frame_equal(pd.read_parquet(out), want.assign(week=want["week"].astype("datetime64[ms]")))
    assert f"{len(whole) - len(want):,} team-week(s) left out" in " ".join(r.output.split())
