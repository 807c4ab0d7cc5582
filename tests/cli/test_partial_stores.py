"""Every command on a partial store answers, or says in one line what is missing and which command
supplies it: nothing at all, only DevLake tables, only commits (no deployments, no members)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ctssw.cli import app
from ctssw.store import Store

DEVLAKE = Path(__file__).resolve().parents[2].parent / "shared" / "external" / "devlake-dora"
runner = CliRunner()


def _commands(db: Path, tmp: Path) -> list[list[str]]:
    d = ["--db", str(db)]
    return [
        ["status", *d], ["panel", *d, "--out", str(tmp / "p.parquet")], ["metrics", *d], ["drivers", *d],
        ["impact", *d, "--tool", "claude", "--method", "all"],
        ["dora", "pr-metrics", *d, "--out", str(tmp / "pr.csv")],
        ["dora", "incident-deployments", *d, "--out", str(tmp / "inc.csv")],
        ["report", *d, "--out", str(tmp / "r.html")],
    ]


def _one_line_or_answer(r, cmd):
    assert r.exception is None or isinstance(r.exception, SystemExit), (cmd, repr(r.exception))
    assert "Traceback" not in r.output, cmd
    if r.exit_code != 0:
        assert r.exit_code in (2, 3, 4, 5), (cmd, r.exit_code)
        lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
        assert lines[0].startswith("error:"), (cmd, r.output)
        assert "ctssw " in r.output, (cmd, r.output)  # names the command that supplies what is missing


@pytest.mark.parametrize("kind", ["nothing", "empty", "commits"])
def test_each_command_on_a_partial_store(kind, tmp_path):
    db = tmp_path / "s.duckdb"
    if kind == "empty":
        Store(db).close()
    elif kind == "commits":
        repo = tmp_path / "solo"
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x.example", "GIT_COMMITTER_NAME": "a",
               "GIT_COMMITTER_EMAIL": "a@x.example", "GIT_AUTHOR_DATE": "2024-01-02T10:00:00Z",
               "GIT_COMMITTER_DATE": "2024-01-02T10:00:00Z", "PATH": "/usr/bin:/bin"}
        subprocess.run(["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "one"], check=True, env=env)
        r = runner.invoke(app, ["ingest", "git", str(repo), "--db", str(db)])
        assert r.exit_code == 0, r.output
    for cmd in _commands(db, tmp_path):
        r = runner.invoke(app, cmd)
        _one_line_or_answer(r, cmd)
    r = runner.invoke(app, ["status", "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output


@pytest.mark.skipif(not DEVLAKE.is_dir(), reason="DevLake fixtures not found")
def test_only_devlake_tables(tmp_path):
    # DevLake's own outputs through the store: tests/cli/test_docs_commands.py
    db = tmp_path / "s.duckdb"
    r = runner.invoke(app, ["ingest", "devlake", str(DEVLAKE / "change_lead_time"), "--db", str(db)])
    assert r.exit_code == 0, r.output
    for cmd in _commands(db, tmp_path):
        _one_line_or_answer(runner.invoke(app, cmd), cmd)
