from __future__ import annotations

import json
import os
import subprocess

import pytest
from typer.testing import CliRunner

from ctssw.cli import app

from .conftest import FIX

runner = CliRunner()


def _ingest(*args: str):
    return runner.invoke(app, ["ingest", *args], env={"COLUMNS": "200"})


def test_roster_then_tools_summary_and_rerun(tmp_path):
    db = str(tmp_path / "c.duckdb")
    r = _ingest("roster", *map(str, sorted((FIX / "roster").glob("*.csv"))), "--db", db)
    assert r.exit_code == 0, r.output
    for col in ("read", "loaded", "updated", "duplicate", "quarantined", "unmapped"):
        assert col in r.output
    r = _ingest("copilot", str(FIX / "copilot/user_usage.ndjson"), "--db", db, "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.output)
    (c,) = got["counts"]
    # 4 user-days: each a day's total ("all") plus the features it breaks down into
    assert (c["read"], c["loaded"], c["quarantined"], c["unmapped_identities"]) == (8, 7, 1, 1)
    r = _ingest("copilot", str(FIX / "copilot/user_usage.ndjson"), "--db", db, "--json")
    (c,) = json.loads(r.output)["counts"]
    assert (c["loaded"], c["updated"], c["duplicate"], c["quarantined"]) == (0, 0, 7, 1)


def test_org_level_copilot_says_so(tmp_path):
    r = _ingest("copilot", str(FIX / "copilot/org_metrics.json"), "--db", str(tmp_path / "o.duckdb"))
    assert r.exit_code == 0, r.output
    assert "tool_totals" in r.output and "nothing can be attributed to a builder" in r.output


def test_unreadable_file_is_one_error_line_and_writes_nothing(tmp_path):
    db = tmp_path / "u.duckdb"
    bad = tmp_path / "usage.ndjson"
    bad.write_bytes("{\"user_login\": \"caf\xe9\"}".encode("latin-1"))
    r = _ingest("copilot", str(bad), "--db", str(db))
    assert r.exit_code == 3
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "usage.ndjson" in lines[0] and "not UTF-8" in lines[0] and "expected" in lines[0]
    truncated = tmp_path / "pulls.json"
    truncated.write_text((FIX / "github/pulls.json").read_text()[:300])
    r = _ingest("github", str(truncated), "--db", str(db))
    assert r.exit_code == 3 and "pulls.json: not valid JSON" in r.output
    assert not db.exists()  # a failed first load leaves no empty store behind


def test_git_command(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "a",
           "GIT_AUTHOR_EMAIL": "a@corp.example", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@corp.example"}
    subprocess.run(["git", "-C", str(repo), "init", "-q"], check=True, env=env)
    (repo / "x").write_text("1\n2\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "Add x (#3)"], check=True, env=env)
    r = _ingest("git", str(repo), "--db", str(tmp_path / "g.duckdb"), "--repo-id", "corp/r", "--json")
    assert r.exit_code == 0, r.output
    counts = {c["table"]: c for c in json.loads(r.output)["counts"]}
    assert counts["commits"]["loaded"] == 1 and counts["changes"]["loaded"] == 1
    r = _ingest("git", str(tmp_path / "nope"), "--db", str(tmp_path / "g.duckdb"))
    assert r.exit_code == 3 and "no such folder" in r.output


def test_devlake_and_pagerduty_commands(tmp_path):
    db = str(tmp_path / "d.duckdb")
    r = _ingest("devlake", "sqlite:///x.db", "--db", db)
    assert r.exit_code == 2 and "unsupported database URL" in r.output
    r = _ingest("pagerduty", str(FIX / "pagerduty/incidents.csv"), "--db", db, "--workday", "nine-to-five")
    assert r.exit_code == 2 and "--workday" in r.output
    r = _ingest("pagerduty", str(FIX / "pagerduty/incidents.csv"), "--db", db)
    assert r.exit_code == 0 and "quarantined" in r.output


@pytest.mark.parametrize(("kind", "path", "table"), [
    ("copilot", "copilot/users_report_example.ndjson", "tool_usage"),
    ("copilot", "copilot/enterprise_report_example.ndjson", "tool_totals"),
    ("claude", "claude/usage_report_claude_code.json", "tool_usage"),
    ("cursor", "cursor/teams_daily_usage_data.json", "tool_usage"),
    ("otel", "claude/otlp_json_metrics_example.json", None),
])
def test_ai_connectors_from_the_command_line(tmp_path, kind, path, table):
    real = FIX.parents[1] / "fixtures" / path
    r = _ingest(kind, str(real), "--db", str(tmp_path / "a.duckdb"), "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.output)
    assert [c["table"] for c in got["counts"]] == ([table] if table else [])
    assert all(c["loaded"] == c["read"] for c in got["counts"])
    assert table is not None or got["notes"]  # nothing loaded says why
