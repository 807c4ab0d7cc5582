"""Coding and review agents as tools of their own: ``impact --tools``, ``explain`` and ``plan`` on a
store built here from git repositories (agent bot authors, ``Co-authored-by`` trailers), GitHub
pull requests with review-agent reviews and releases, and a roster."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ctssw import attribute
from ctssw.cli import app
from ctssw.estimators.attribution import normalise_team_mean
from ctssw.pipeline.attribution import share_column, tools_panel_from_store

from . import agents_org

runner = CliRunner()
TOOLS = "agent:copilot,review:coderabbit,claude"


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    root = tmp_path_factory.mktemp("agents")
    truth = agents_org.build(root)
    db = str(root / "o.duckdb")
    teams = [a for i in range(agents_org.TEAMS) for a in ("--team", f"org/svc{i + 1:02d}=team{i + 1:02d}")]
    for args in (["ingest", "roster", *(str(root / "roster" / f) for f in ("teams.csv", "identities.csv", "memberships.csv"))],
                 ["ingest", "git", *(str(p) for p in sorted((root / "repos").iterdir())), *teams],
                 ["ingest", "github", str(root / "github" / "pulls.json"), str(root / "github" / "releases.json")]):
        r = runner.invoke(app, [*args, "--db", db])
        assert r.exit_code == 0, r.output
    return db, truth


def test_each_agent_has_its_own_share_column(org):
    db, truth = org
    p, _ = tools_panel_from_store(db, ["agent:copilot", "review:coderabbit", "claude", "agent:any"])
    assert [share_column(t) for t in ("agent:copilot", "review:coderabbit", "claude", "copilot/chat")] == [
        "agent_share_copilot", "review_share_coderabbit", "share_claude", "share_copilot/chat"]
    p = p.assign(key=list(zip(p["team_id"], p["week"].dt.date.astype(str))))
    assert len(p) == agents_org.TEAMS * agents_org.WEEKS
    got_agent = dict(zip(p["key"], p["agent_share_copilot"]))
    got_review = dict(zip(p["key"], p["review_share_coderabbit"]))
    assert got_agent == pytest.approx({k: v / 6 for k, v in truth["agent_changes"].items()}, abs=1e-12)
    assert got_review == pytest.approx({k: v / 6 for k, v in truth["review_changes"].items()}, abs=1e-12)
    # agent:any adds the Claude co-authored changes to the coding agent's
    any_changes = (p["agent_share_any"] * p["changes_merged"]).sum()
    assert any_changes == pytest.approx(sum(truth["agent_changes"].values()) + truth["claude_changes"])
    # Claude's usage share: builders who co-authored a commit with it that week, of six
    assert p["share_claude"].max() <= 1 and (p["share_claude"] * 6).round(9).mod(1).eq(0).all()
    assert p.loc[~p["team_id"].isin([f"team{i:02d}" for i in range(1, 7)]), "share_claude"].eq(0).all()
    # each team's first week of agent-authored changes is its wave's
    first = p[p["agent_share_copilot"] > 0].groupby("team_id")["week"].min()
    for team, wave in truth["copilot"].items():
        if wave is None:
            assert team not in first.index
        else:
            assert (first[team] - first.min()).days // 7 >= wave - min(w for w in truth["copilot"].values() if w is not None) - 1


def test_python_api_takes_agent_shares(org):
    db, _ = org
    p, _ = tools_panel_from_store(db, ["agent:copilot", "review:coderabbit"])
    p["y"] = normalise_team_mean(p, "deploys_per_builder")
    r = attribute(p, tools=["agent_share_copilot", "review_share_coderabbit"], y="y", method="fe")
    assert r.params["agent_share_copilot"] == pytest.approx(0.3484, abs=5e-4)
    assert r.conf_int().loc["agent_share_copilot", "lower"] > 0


def test_impact_tools_recovers_the_coding_agent_and_no_review_effect(org):
    db, truth = org
    r = runner.invoke(app, ["impact", "--db", db, "--tools", TOOLS, "--method", "fe", "--license", "review:coderabbit=15", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    eff = res["estimates"]["fe"]["effects"]
    assert set(eff) == set(TOOLS.split(","))
    # planted: +60% releases per unit of agent share, which is about +50% over the adopting teams' mean
    assert 0.15 < eff["agent:copilot"]["estimate"] < 0.8 and eff["agent:copilot"]["ci_low"] > 0
    for t in ("review:coderabbit", "claude"):
        assert eff[t]["ci_low"] < 0 < eff[t]["ci_high"]
    v = res["value"]["per_tool"]
    assert v["review:coderabbit"]["settings"]["license_cost"] > 0 and v["agent:copilot"]["settings"]["license_cost"] == 0
    assert res["share_columns"]["review:coderabbit"] == "review_share_coderabbit"


def test_impact_tools_did_with_agents(org):
    db, _ = org
    r = runner.invoke(app, ["impact", "--db", db, "--tools", "agent:copilot,review:coderabbit", "--method", "did", "--json"])
    assert r.exit_code == 0, r.output
    eff = json.loads(r.stdout)["estimates"]["did"]["effects"]
    assert eff["agent:copilot"]["estimate"] > 0 and eff["review:coderabbit"]["ci_low"] < 0 < eff["review:coderabbit"]["ci_high"]


def test_explain_with_agents_adds_up(org):
    db, _ = org
    r = runner.invoke(app, ["explain", "--db", db, "--tools", "agent:copilot,review:coderabbit", "--since", "2025-01-06",
                            "--until", "2025-04-28", "--window", "4", "--method", "fe", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["adds_up"] is True
    comps = {c["component"] for c in res["components"]}
    assert {"tool: agent:copilot", "tool: review:coderabbit"} <= comps


def test_plan_for_an_agent_in_use_simulates_on_the_weeks_before_it(org, tmp_path):
    db, truth = org
    out = tmp_path / "r.csv"
    r = runner.invoke(app, ["plan", "--db", db, "--tool", "review:coderabbit", "--effect", "0.3", "--weeks", "6", "--cohorts", "2",
                            "--reps", "20", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    first = min(w for w in truth["coderabbit"].values() if w is not None)
    assert res["settings"]["history_weeks"] == first
    assert "review:coderabbit is in use from the week of 2025-04-14" in res["history_before_first_use"]
    assert res["settings"]["tool"] == "review:coderabbit" and out.exists()


@pytest.mark.parametrize(("tools", "msg"), [
    ("agent:nobody", "no usage of ['agent:nobody'] in the store; tools with usage: ['claude', 'copilot', 'claude/agent', 'copilot/agent', 'agent:claude', 'agent:copilot', 'review:coderabbit']"),
    ("claude/banter", "the feature after / must be one of completion, chat, agent, cli, review"),
    ("agent:", "name the agent after agent:"),
    ("claude/chat", "no usage of ['claude/chat']"),
])
def test_bad_agent_names_give_one_error_line(org, tools, msg):
    r = runner.invoke(app, ["impact", "--db", org[0], "--tools", tools])
    assert r.exit_code == 2, r.output
    assert msg in " ".join(r.output.split()), r.output
