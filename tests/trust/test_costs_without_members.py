"""A team with costs but no members keeps its costs: a NULL CTS-SW with the reason, counted in the totals."""

from __future__ import annotations

import warnings

from ctssw.panel import panel
from ctssw.store import Store, load_roster


def test_a_team_with_costs_and_no_members_is_not_dropped(tmp_path, new_store):
    d = tmp_path / "roster"
    d.mkdir()
    (d / "teams.csv").write_text("team_id,name\npay,Payments\nghost,Ghost\n")
    (d / "memberships.csv").write_text(
        "email,team_id,start,fte\n" + "".join(f"p{i}@corp.example,pay,2024-01-01,1\n" for i in range(5))
    )
    (d / "costs.csv").write_text(
        "scope,scope_id,kind,period_start,amount,currency\nteam,ghost,infra,2024-01-08,1200,USD\nteam,pay,infra,2024-01-08,300,USD\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with new_store(tmp_path / "s.duckdb") as s:
            load_roster(s, d)
        with Store(tmp_path / "s.duckdb", read_only=True) as s:
            df = panel(s.ibis())
    ghost = df[df["team_id"] == "ghost"]
    assert len(ghost) == 1
    row = ghost.iloc[0]
    assert row["infra_cost"] == 1200 and row["cost"] == 1200 and row["builders"] == 0
    assert row["cts_sw"] != row["cts_sw"]  # NULL (NaN in pandas), never 0 or inf
    assert row["cts_sw_reason"] == "no builders this week"
    assert df["infra_cost"].sum() == 1500  # nothing dropped, nothing counted twice
