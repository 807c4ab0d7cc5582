"""Command sequences of README.md and docs/connectors.md, run exactly as written, on fixtures."""

from __future__ import annotations

import glob
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
