"""AI assistants and agents detected in a small repository built here (no network)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ctssw.errors import DataWarning
from ctssw.sources import agents, git_agents
from ctssw.store import load_git, load_github

from .conftest import by_table


def _git(repo: Path, *args: str, who: tuple[str, str] = ("Ann", "ann@corp.example"), when: str = "") -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": who[0], "GIT_AUTHOR_EMAIL": who[1], "GIT_COMMITTER_NAME": who[0],
           "GIT_COMMITTER_EMAIL": who[1], "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _commit(repo: Path, path: str, msg: str, when: str, who=("Ann", "ann@corp.example")) -> None:
    f = repo / path
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(f.read_text() + "x\n" if f.exists() else "x\n")
    _git(repo, "add", path)
    _git(repo, "commit", "-q", "-m", msg, who=who, when=when)


@pytest.fixture()
def repo(tmp_path):
    r = tmp_path / "svc"
    r.mkdir()
    _git(r, "init", "-q", "-b", "main")
    _commit(r, "app.py", "start", "2026-01-05T10:00:00Z")
    _commit(r, "CLAUDE.md", "Add CLAUDE.md", "2026-01-06T10:00:00Z")
    _commit(r, "app.py", "Speed up parsing (#1)\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
            "2026-01-07T10:00:00Z")
    _commit(r, "app.py", "Fix typo (#2)\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)",
            "2026-01-08T10:00:00Z", who=("Bob", "bob@corp.example"))
    # a Copilot coding agent branch merged through a pull request
    _git(r, "checkout", "-q", "-b", "copilot/fix-1")
    _commit(r, "lib.py", "Initial plan\n\nCo-authored-by: ann <ann@corp.example>", "2026-01-09T10:00:00Z",
            who=("copilot-swe-agent[bot]", "198982749+Copilot@users.noreply.github.com"))
    _git(r, "checkout", "-q", "main")
    _git(r, "merge", "-q", "--no-ff", "-m", "Merge pull request #3 from org/copilot/fix-1", "copilot/fix-1",
         when="2026-01-09T12:00:00Z")
    _commit(r, ".cursor/rules/style.mdc", "Cursor rules", "2026-01-12T10:00:00Z")
    _commit(r, "app.py", "Plain change (#4)", "2026-01-13T10:00:00Z")
    return r


def test_detected_per_commit_and_change(store, repo):
    with pytest.warns(DataWarning) as seen:
        c = by_table(load_git(store, repo, repo_id="org/svc"))
    notes = [str(w.message) for w in seen]
    assert any("claude found in 2 commit(s); first configuration 2026-01-06" in n and "trailer:noreply@anthropic" in n
               and "footer:" in n and "config:" in n for n in notes), notes
    assert any(n.startswith("git: copilot found in 1 commit(s)") and "bot:" in n for n in notes), notes
    assert c["agent_configs"].loaded == 2
    got = dict(store.con.execute("SELECT change_id, agent FROM changes").fetchall())
    assert got == {"org/svc#1": "claude", "org/svc#2": "claude", "org/svc#3": "copilot", "org/svc#4": None}
    usage = store.con.execute(
        "SELECT builder_id, tool, feature, day::VARCHAR, events FROM tool_usage ORDER BY day").fetchall()
    ann, bob = store.pseudonymise("ann@corp.example"), store.pseudonymise("bob@corp.example")
    # the agent's commit counts for the person it names, never for the bot
    assert usage == [(ann, "claude:git", "agent", "2026-01-07", 1), (bob, "claude:git", "agent", "2026-01-08", 1),
                     (ann, "copilot:git", "agent", "2026-01-09", 1)]
    configs = store.con.execute("SELECT tool, path, first_added_at::DATE::VARCHAR FROM agent_configs ORDER BY 1").fetchall()
    assert configs == [("claude", "CLAUDE.md", "2026-01-06"), ("cursor", ".cursor/rules/style.mdc", "2026-01-12")]
    with pytest.warns(DataWarning):
        again = load_git(store, repo, repo_id="org/svc")
    assert all(x.loaded == x.updated == 0 for x in again)


def test_users_rules_come_first(tmp_path, repo):
    own = tmp_path / "rules.csv"
    own.write_text("tool,kind,pattern\nacme-bot,trailer,noreply@anthropic\\.com\n")
    with pytest.warns(DataWarning, match="acme-bot found in 1 commit"):
        tables, found = git_agents.read(repo, agent_rules=own)
    assert found.commits and "acme-bot" in {t for ts in found.commits.values() for t in ts}
    with pytest.raises(Exception, match="kind 'nope'"):
        agents.rules([agents.Rule("x", "nope", "y")])


def test_bots_and_agents():
    assert agents.is_bot("codecov[bot]") and agents.is_bot("someone", "Bot") and agents.is_bot("golangcibot", None, ["golangcibot"])
    assert not agents.is_bot("panjf2000", "User")
    r = agents.rules()
    assert r.match("bot", "copilot-swe-agent[bot]").tool == "copilot"
    assert r.match("reviewer", "coderabbitai[bot]").tool == "coderabbit"
    assert [x.tool for x in r.message("x\n\nCo-authored-by: Cursor Agent <cursoragent@cursor.com>")] == ["cursor"]


def test_forge_record_keeps_the_agent_git_found(store, repo, tmp_path):
    import json

    with pytest.warns(DataWarning):
        load_git(store, repo, repo_id="org/svc")
    pr = json.loads((Path(__file__).resolve().parents[1] / "fixtures/github/ants_pulls.json").read_text())[1]
    pr["base"]["repo"]["full_name"], pr["number"] = "org/svc", 1  # the forge's record of the same change
    (tmp_path / "pulls.json").write_text(json.dumps([pr]))
    with pytest.warns(DataWarning):
        c = by_table(load_github(store, tmp_path / "pulls.json"))
    assert c["changes"].updated == 1
    assert store.con.execute("SELECT agent FROM changes WHERE change_id = 'org/svc#1'").fetchall() == [("claude",)]
