"""The costs table keys licences by tool: two tools' licences in one team-week are two rows, and
each tool's value is net of its own licence."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ctssw.store import TABLES, Store, ingest_canonical

HEAD = "scope,scope_id,kind,period_start,amount,currency,tool\n"


def _dir(tmp_path: Path, costs: str) -> Path:
    d = tmp_path / "in"
    d.mkdir(exist_ok=True)
    (d / "teams.csv").write_text("team_id,name,parent_id,architecture\nt1,Team 1,,service\n")
    (d / "costs.csv").write_text(HEAD + costs)
    return d


def test_costs_key_has_the_tool():
    assert TABLES["costs"].key == ("scope", "scope_id", "kind", "period_start", "tool")


def test_two_tools_licences_in_one_team_week_are_two_rows(tmp_path, new_store):
    rows = ("team,t1,license,2025-01-06,190.0,USD,copilot\n"
            "team,t1,license,2025-01-06,240.0,USD,review:coderabbit\n"
            "team,t1,labor,2025-01-06,9000.0,USD,\n"
            "team,t1,infra,2025-01-06,50.0,USD,\n")
    d = _dir(tmp_path, rows)
    with new_store(tmp_path / "c.duckdb") as s:
        c = [x for x in ingest_canonical(s, d) if x.table == "costs"][0]
        assert (c.read, c.loaded, c.quarantined) == (4, 4, 0)
        got = s.con.execute("SELECT tool, amount FROM costs WHERE kind = 'license' ORDER BY tool").fetchall()
        assert got == [("copilot", 190.0), ("review:coderabbit", 240.0)]
        # loading again changes nothing, the rows without a tool included (keys compare NULL-safely)
        c = [x for x in ingest_canonical(s, d) if x.table == "costs"][0]
        assert (c.loaded, c.updated, c.duplicate) == (0, 0, 4)
        # a new amount for one tool updates that row only; a new labour amount updates the tool-less row
        (d / "costs.csv").write_text(HEAD + rows.replace("240.0", "250.0").replace("9000.0", "9100.0"))
        c = [x for x in ingest_canonical(s, d) if x.table == "costs"][0]
        assert (c.loaded, c.updated, c.duplicate) == (0, 2, 2)
        assert s.count("costs") == 4
        assert s.con.execute("SELECT amount FROM costs WHERE tool = 'copilot'").fetchall() == [(190.0,)]
        assert s.con.execute("SELECT amount FROM costs WHERE kind = 'labor'").fetchall() == [(9100.0,)]


def test_same_key_different_amount_without_a_tool_is_still_quarantined(tmp_path, new_store):
    d = _dir(tmp_path, "team,t1,infra,2025-01-06,50.0,USD,\nteam,t1,infra,2025-01-06,60.0,USD,\n")
    with new_store(tmp_path / "q.duckdb") as s:
        c = [x for x in ingest_canonical(s, d) if x.table == "costs"][0]
        assert (c.loaded, c.quarantined) == (0, 2)
        assert {r[0] for r in s.con.execute("SELECT reason FROM quarantine").fetchall()} == {"duplicate key with different content"}


def test_value_per_tool_is_net_of_its_own_licence(sim_dir, tmp_path):
    from ctssw.pipeline.attribution import attribute_tools, tools_panel_from_store

    db = tmp_path / "v.duckdb"
    extra = tmp_path / "extra"
    extra.mkdir()
    usage = pd.read_parquet(sim_dir / "tool_usage")
    usage = usage[usage["day"] >= usage["day"].quantile(0.3)].assign(tool="reviewer")
    usage.to_csv(extra / "tool_usage.csv", index=False)
    lic = pd.read_parquet(sim_dir / "costs")
    lic = lic[lic["kind"] == "license"]
    # the reviewer's licence in exactly the team-weeks of the assistant's, at a different price
    lic.assign(tool="reviewer", amount=(lic["amount"] * 2).round(2)).to_csv(extra / "costs.csv", index=False)
    with Store(db) as s:
        ingest_canonical(s, sim_dir)
        counts = {c.table: c for c in ingest_canonical(s, extra)}
        assert counts["costs"].loaded == len(lic) and counts["costs"].quarantined == 0
        assert s.count("costs") == 2 * len(lic)
    p, licences = tools_panel_from_store(db, ["assistant", "reviewer"])
    assert licences["assistant"] == pytest.approx(lic["amount"].sum())
    assert licences["reviewer"] == pytest.approx((lic["amount"] * 2).round(2).sum())
    # the panel's licence cost holds both tools
    assert p["license_cost"].sum() == pytest.approx(licences["assistant"] + licences["reviewer"])
    res = attribute_tools(p, ["assistant", "reviewer"], method="fe", license_cost=licences)
    for t in ("assistant", "reviewer"):
        v = res["value"]["per_tool"][t]
        assert v["settings"]["license_cost"] == pytest.approx(licences[t])
        assert v["net_dollars"]["estimate"] == pytest.approx(v["gross_dollars"]["estimate"] - licences[t])
    assert res["value"]["total"]["license_cost"] == pytest.approx(licences["assistant"] + licences["reviewer"])
