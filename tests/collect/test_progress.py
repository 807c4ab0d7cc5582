"""``ctssw collect``'s progress display: one line per resource with its items and pages, on a terminal
only, never with ``--json``; driven through the command line against the replay server."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ctssw.cli import _common, app

from .conftest import TOKEN

runner = CliRunner()


def _collect(api_url: str, tmp_path, *extra: str):
    return runner.invoke(app, ["collect", "github", "--org", "BeaverSoftware", "--repo", "PyGithub/PyGithub", "--since", "2012-01-01",
                               "--api-url", api_url, "--workflow", "ci.yml", "--no-copilot", "--cache", str(tmp_path / "cache"),
                               "--db", str(tmp_path / "c.duckdb"), *extra])


def _stderr(monkeypatch, *, terminal: bool) -> io.StringIO:
    buf = io.StringIO()
    monkeypatch.setattr(_common, "console", Console(file=buf, force_terminal=terminal, width=200, markup=False, emoji=False, highlight=False))
    return buf


def test_a_terminal_shows_each_resource_with_its_items_and_pages(github, api_url, tmp_path, token, monkeypatch):
    buf = _stderr(monkeypatch, terminal=True)
    r = _collect(api_url, tmp_path)
    assert r.exit_code == 0, r.output
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue())  # the text the terminal drew, without its control codes
    last: dict[str, tuple[int, int]] = {}  # resource → (pages, items) in the last frame that drew it
    for res, pages, items in re.findall(r"github ([a-z ]+?), (\d+) pages? +━+ (\d+)/\?", shown):
        last[res] = (int(pages), int(items))
    assert {"pulls", "deployments", "releases", "workflow runs", "teams"} <= set(last), shown
    assert last["pulls"][1] == 2 and last["releases"][0] == 3  # two pulls read; the releases listing has three pages
    # every response was counted on the line of the resource being read
    assert sum(p for p, _ in last.values()) == len(github.log)
    assert "ingest github" in shown
    summary = re.search(r"github: (\d+) requests", r.stdout)
    assert summary and int(summary.group(1)) == len(github.log)
    assert TOKEN not in shown


@pytest.mark.parametrize("terminal", [True, False])
def test_json_or_no_terminal_shows_no_progress(github, api_url, tmp_path, token, monkeypatch, terminal):
    buf = _stderr(monkeypatch, terminal=terminal)
    r = _collect(api_url, tmp_path, *(["--json"] if terminal else []))
    assert r.exit_code == 0, r.output
    assert buf.getvalue() == ""
    if terminal:
        assert json.loads(r.stdout)["requests"] == len(github.log)
    else:
        assert "github: " in r.stdout
