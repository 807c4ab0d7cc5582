"""Per-tool and per-feature AI shares and the agent-authored share of merged changes."""

from __future__ import annotations

import pandas as pd
import pytest

from ctssw.errors import ConfigError
from ctssw.panel import panel, tool_shares
from ctssw.store import Store, ingest_tables


@pytest.fixture()
def store(tmp_path):
    with Store(tmp_path / "a.duckdb") as s:
        ingest_tables(s, {
            "teams": pd.DataFrame({"team_id": ["t"]}),
            "memberships": pd.DataFrame({"builder": ["a@x", "b@x", "c@x", "d@x"], "team_id": "t", "start": "2026-01-05"}),
            "changes": pd.DataFrame({
                "change_id": ["r#1", "r#2", "r#3", "r#4"], "repo_id": "r", "team_id": "t",
                "created_at": "2026-01-05T09:00:00Z", "merged_at": "2026-01-06T09:00:00Z",
                "agent": ["copilot", "claude", None, None]}),
            "tool_usage": pd.DataFrame({
                "builder": ["a@x", "a@x", "b@x", "c@x"], "tool": ["copilot", "copilot", "claude:git", "copilot"],
                "feature": ["all", "agent", "agent", "all"], "day": ["2026-01-06", "2026-01-06", "2026-01-07", "2026-01-08"],
                "active": [True, True, True, False]}),
        }, "test")
        yield s


def test_agent_share_and_tool_filter(store):
    p = panel(store.ibis())
    row = p.iloc[0]
    assert (row.changes_merged, row.agent_changes, row.agent_share) == (4, 2, 0.5)
    assert row.ai_share == 0.5  # a and b active (c's day was not active)
    claude = panel(store.ibis(), tool="claude").iloc[0]
    assert (claude.agent_changes, claude.ai_share) == (1, 0.25)  # claude:git counts as claude
    agent = panel(store.ibis(), feature="agent").iloc[0]
    assert agent.ai_share == 0.5
    with pytest.raises(ConfigError, match="feature must be one of"):
        panel(store.ibis(), feature="tabs")


def test_tool_shares_long_form(store):
    s = tool_shares(store.ibis())
    got = {(r.tool, r.feature): (r.active_builders, r.share) for r in s.itertuples()}
    assert got == {("claude", "agent"): (1, 0.25), ("claude", "all"): (1, 0.25),
                   ("copilot", "agent"): (1, 0.25), ("copilot", "all"): (1, 0.25)}
