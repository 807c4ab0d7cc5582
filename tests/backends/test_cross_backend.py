"""The same tests on DuckDB and Spark, against the pandas oracles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from metrics.oracle_dora import oracle_weekly
from panel.oracle import oracle_panel
from panel.test_panel import CHECK

from ctssw.metrics import metrics_panel, period_metrics, team_week_metrics
from ctssw.metrics._dora import WEEKLY_COLUMNS


@pytest.fixture(scope="session")
def weekly(con):
    return team_week_metrics(con).sort_values(["team_id", "week"]).reset_index(drop=True)


def _close(got: pd.Series, want: pd.Series, name: str) -> None:
    np.testing.assert_allclose(got.astype(float).to_numpy(), want.astype(float).to_numpy(), rtol=1e-9, atol=1e-9, err_msg=name)


def test_panel_matches_pandas_oracle(weekly, small_dir):
    want = oracle_panel(small_dir)
    assert len(weekly) == len(want)
    assert (weekly["team_id"].to_numpy() == want["team_id"].to_numpy()).all()
    assert (weekly["week"].to_numpy() == want["week"].to_numpy()).all()
    for c in CHECK:
        _close(weekly[c], want[c], c)


def test_the_metrics_panel_is_the_panel(weekly, con):
    """The panel read back from the rows the metrics materialised equals the panel built anew."""
    from ctssw.panel import panel

    pd.testing.assert_frame_equal(metrics_panel(con), panel(con), check_exact=False, rtol=1e-9)


def test_dora_weekly_matches_pandas_oracle(weekly, small_dir):
    want = oracle_weekly(small_dir)
    m = weekly[["team_id", "week"]].merge(want, on=["team_id", "week"], how="left")
    cnt = ["prod_deployments", "deploy_days", "change_failures", "rework_deployments", "changes_deployed"]
    m[cnt] = m[cnt].fillna(0)
    assert m["changes_deployed"].sum() > 0 and m["change_failures"].sum() > 0 and m["rework_deployments"].sum() > 0
    for c in WEEKLY_COLUMNS[2:]:
        _close(weekly[c], m[c], c)


def test_org_and_parent_rollups_are_ratios_of_sums(con, weekly):
    org = period_metrics(con, by="org").iloc[0]
    w = weekly
    assert org["cts_sw"] == pytest.approx(w["cost"].sum() / w["units"].sum(), rel=1e-12)
    assert org["velocity"] == pytest.approx(w["changes_merged"].sum() / w["builders"].sum(), rel=1e-12)
    assert org["change_failure_rate"] == pytest.approx(w["change_failures"].sum() / w["prod_deployments"].sum(), rel=1e-12)
    # per week of the organisation: sums over its teams, never per team-week
    assert org["deployments_per_week"] == pytest.approx(w["deployments"].sum() / w["week"].nunique(), rel=1e-12)
    assert org["builders"] == pytest.approx(w["builders"].sum() / w["week"].nunique(), rel=1e-12)
    assert org["pages_per_oncall_builder"] == pytest.approx(w["pages"].sum() / w["oncall_builders"].sum(), rel=1e-12)
    # a day two teams deployed counts once for each (the weekly counts are checked against the oracle)
    assert w.groupby("week")["deploy_days"].sum().max() > w["deploy_days"].max()
    assert org["deploy_days_per_week"] == pytest.approx(w["deploy_days"].sum() / w["week"].nunique(), rel=1e-12)
    # the org figure is not the mean of team figures
    teams = period_metrics(con, by="team")
    assert org["cts_sw"] != pytest.approx(teams["cts_sw"].mean(), rel=1e-6)
    par = period_metrics(con, by="parent")
    for _, r in par.iterrows():
        g = w[w["parent_id"].fillna("(none)") == r["group"]]
        assert r["cts_sw"] == pytest.approx(g["cost"].sum() / g["units"].sum(), rel=1e-12)
        assert r["deploy_days_per_week"] == pytest.approx(g["deploy_days"].sum() / g["week"].nunique(), rel=1e-12)
    for _, r in teams.iterrows():
        g = w[w["team_id"] == r["group"]]
        assert r["deploy_days_per_week"] == pytest.approx(g["deploy_days"].sum() / g["week"].nunique(), rel=1e-12)


def test_period_bounds(con, weekly):
    weeks = sorted(weekly["week"].unique())
    since, until = pd.Timestamp(weeks[3]).date(), pd.Timestamp(weeks[8]).date()
    got = period_metrics(con, by="org", since=since, until=until).iloc[0]
    w = weekly[(weekly["week"] >= pd.Timestamp(since)) & (weekly["week"] <= pd.Timestamp(until))]
    assert got["weeks"] == 6
    assert got["cost"] == pytest.approx(w["cost"].sum(), rel=1e-12)
    assert got["prod_deployments"] == w["prod_deployments"].sum()


def test_first_deployment_of_a_change_on_spark(spark):
    """Spark's ``min_by`` over a (finish, id) pair picks a change's first deployment as DuckDB's
    ``arg_min`` does: the hand-made ties of tests/metrics/test_change_links.py."""
    import ibis
    from metrics.test_change_links import check, tables

    from ctssw.metrics import change_links

    session, _ = spark
    con = ibis.pyspark.connect(session.newSession())
    for name, df in tables().items():
        con.create_view(name, ibis.memtable(df), overwrite=True)
    check(change_links(con).to_pandas())
