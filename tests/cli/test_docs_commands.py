"""Command sequences of README.md and docs/connectors.md, run exactly as written, on fixtures."""

from __future__ import annotations

import glob
import os
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ctssw.cli import app

from .org import make_org

ROOT = Path(__file__).resolve().parents[2]
DEVLAKE = ROOT.parent / "shared" / "external" / "devlake-dora"
runner = CliRunner()


def block(doc: Path, after: str) -> list[str]:
    """The command lines of the first ```sh block after the line containing ``after``."""
    text = doc.read_text()
    start = text.index("```sh", text.index(after)) + len("```sh")
    body = text[start : text.index("```", start)]
    return [ln.split("  #")[0].strip() for ln in body.strip().splitlines() if ln.strip()]


def run(line: str) -> None:
    argv = shlex.split(line)
    assert argv[0] == "ctssw", line
    args = [m for a in argv[1:] for m in (sorted(glob.glob(a)) if any(c in a for c in "*?[") else [a])]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, (line, r.output)
    assert "Traceback" not in r.output


def test_readme_folder_of_repositories(tmp_path, monkeypatch):
    make_org(tmp_path / "repos", weeks=24)
    (tmp_path / "rollout.csv").write_text("team,date\nteam0,2024-03-04\nteam1,2024-03-18\nteam2,2024-04-01\n")
    monkeypatch.chdir(tmp_path)
    lines = block(ROOT / "README.md", "## From a folder of repositories")
    assert lines[0].startswith("ctssw ingest git repos/*") and len(lines) == 7
    for line in lines:
        run(line)
    assert (tmp_path / "panel.parquet").exists() and (tmp_path / "report.html").exists()
    assert "inferred from activity" in (tmp_path / "report.html").read_text()


@pytest.mark.skipif(not DEVLAKE.is_dir(), reason="DevLake fixtures not found")
def test_connectors_devlake_through_the_store(tmp_path, monkeypatch):
    (tmp_path / "devlake-dora").symlink_to(DEVLAKE)  # read in place
    monkeypatch.chdir(tmp_path)
    for line in block(ROOT / "docs" / "connectors.md", "Through the store, DevLake's outputs"):
        run(line)
    want = (DEVLAKE / "change_lead_time" / "project_pr_metrics.csv").read_text()
    assert (tmp_path / "pr_metrics.csv").read_text() == want.rstrip("\n") + "\n"
    want = (DEVLAKE / "connect_incident_to_deployment" / "snapshot_tables" / "project_incident_deployment_relationships.csv")
    assert (tmp_path / "incidents.csv").read_text() == want.read_text().rstrip("\n") + "\n"


def test_case_study_script_as_documented(tmp_path, monkeypatch):
    import os
    import subprocess
    import sys

    from .org import make_repo

    for i, name in enumerate(("acme+api", "acme+web", "acme+cli", "acme+docs")):
        make_repo(tmp_path / "mirrors" / name, "repo", weeks=16, seed=i)
    (tmp_path / "scripts").symlink_to(ROOT / "scripts")
    monkeypatch.chdir(tmp_path)
    (line,) = block(ROOT / "docs" / "case-study.md", "## Running it")
    env = {**os.environ, "CTSSW": str(Path(sys.executable).parent / "ctssw"), "PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p.endswith("src"))}
    r = subprocess.run(["bash", "-c", line], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "case-study"
    steps = [ln.split("\t")[0] for ln in (out / "timings.tsv").read_text().splitlines()[1:]]
    assert steps == ["ingest", "status", "panel", "metrics", "drivers", "impact", "report"]
    assert "acme+api" in (out / "status.json").read_text()
    for f in ("ingest.txt", "panel.txt", "report.txt"):
        assert "Traceback" not in (out / f).read_text() and "exit " not in (out / f).read_text(), f
    assert (out / "report.html").exists()


def _own_data(tmp: Path) -> None:
    """The files the README's "own data" block names, at the paths it names: six repositories
    under ~/src (one team each), a roster for their people, GitHub and PagerDuty exports
    (real recorded payloads) and Copilot usage in the reports API's shape (its documented record,
    re-dated and re-assigned to the roster's logins, one builder-day per line)."""
    import csv
    import datetime as dt
    import json
    import shutil

    from . import org

    teams = tuple(f"service-{c}" for c in "abcdef")
    for i, t in enumerate(teams):
        org.make_repo(tmp / "home" / "src", t, weeks=30, seed=i)
    people = tmp / "people"
    people.mkdir()
    rows = [(f"dev{p}.{t}@corp.example", t, f"dev{p}-{t}") for t in teams for p in range(6)]
    with open(people / "teams.csv", "w", newline="") as f:
        csv.writer(f).writerows([("team_id", "name", "parent_id", "architecture"),
                                 *((t, t.title(), "", "service") for t in teams)])
    with open(people / "memberships.csv", "w", newline="") as f:
        csv.writer(f).writerows([("email", "team_id", "start", "end", "fte", "oncall"),
                                 *((e, t, "2024-01-01", "", "1.0", "yes" if e.startswith("dev0") else "no") for e, t, _ in rows)])
    with open(people / "identities.csv", "w", newline="") as f:
        csv.writer(f).writerows([("email", "github_login", "git_email"), *((e, g, e) for e, _, g in rows)])
    with open(people / "costs.csv", "w", newline="") as f:
        csv.writer(f).writerows([("scope", "scope_id", "kind", "period_start", "amount", "currency", "tool"),
                                 *(("team", t, "labor", "2024-01-01", "52000", "USD", "") for t in teams)])
    gh = tmp / "exports" / "github"
    gh.mkdir(parents=True)
    for p in (ROOT / "tests" / "fixtures" / "github").glob("ants_*.json"):
        shutil.copy(p, gh / p.name)
    shutil.copy(ROOT / "tests" / "fixtures" / "pagerduty" / "devlake_incidents_with_log_entries.json", tmp / "incidents.json")
    record = json.loads((ROOT / "tests" / "fixtures" / "copilot" / "users_report_example.ndjson").read_text().splitlines()[0])
    lines = []
    for i, (_, t, login) in enumerate(rows):
        first = 8 + 3 * (ord(t[-1]) - ord("a"))  # staggered: service-a adopts in week 8, service-f in week 23
        for w in range(first, 30):
            for d in (0, 2, 3) if (i + w) % 4 else (1,):
                day = (org.START + dt.timedelta(weeks=w, days=d)).date().isoformat()
                lines.append(json.dumps({**record, "day": day, "user_login": login, "user_id": 1000 + i}))
    (tmp / "copilot-usage.ndjson").write_text("\n".join(lines) + "\n")


def test_readme_own_data(tmp_path, monkeypatch):
    import datetime as dt

    from . import org

    # the block reads metrics since 2025-01-01: the organisation's history starts there
    monkeypatch.setattr(org, "START", dt.datetime(2025, 1, 6, 10, 0, tzinfo=dt.UTC))
    _own_data(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    lines = block(ROOT / "README.md", "## Using it on your own data")
    assert len(lines) == 11 and lines[0].startswith("ctssw ingest roster people/")
    outputs = {}
    for line in lines:
        # the shell expands ~ and globs
        argv = [m for a in shlex.split(line) for m in (sorted(glob.glob(os.path.expanduser(a))) if "*" in a else [a])]
        r = runner.invoke(app, argv[1:])
        assert r.exit_code == 0 and "Traceback" not in r.output, (line, r.output)
        outputs[" ".join(argv[1:3])] = r.output
    assert (tmp_path / "panel.parquet").exists() and (tmp_path / "impact.html").exists()
    assert (tmp_path / "pr_metrics.csv").read_text().count("\n") > 1
    assert "service-" in outputs["drivers"] or "velocity" in outputs["drivers"]
    assert "service-a" in outputs["metrics --since"] and "service-f" in outputs["metrics --since"]
    assert "6 repositories given the roster team" in outputs["ingest git"]


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*.parquet")}


def test_readme_and_docs_lake_blocks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    readme = block(ROOT / "README.md", "## Keeping the tables in a lake")
    for line in readme[:2]:
        run(line)
    written = _files(tmp_path / "lake")
    assert any("/month=" in f for f in written)
    for line in readme[2:]:
        run(line)
    assert _files(tmp_path / "lake") == written  # the second ingest wrote nothing
    docs = block(ROOT / "docs" / "lake.md", "# Keeping the tables in a lake")
    assert docs[:3] == readme[:3]
    for line in docs[3:]:
        run(line)
    assert (tmp_path / "panel.parquet").exists()
    # the Python example, as written
    text = (ROOT / "docs" / "lake.md").read_text()
    start = text.index("```python", text.index("Python:")) + len("```python")
    scope: dict = {}
    exec(text[start : text.index("```", start)], scope)
    assert len(scope["df"]) > 0
    import duckdb

    con = duckdb.connect(str(tmp_path / "meta.duckdb"), read_only=True)
    have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert "commits" not in have and "identities" in have
