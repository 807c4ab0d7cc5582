"""End-to-end: the CLI reproduces DevLake's tables and applies the privacy floor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ctssw.cli._app import app

DEVLAKE = Path(__file__).resolve().parents[2].parent / "shared" / "external" / "devlake-dora"
runner = CliRunner()


@pytest.mark.skipif(not DEVLAKE.is_dir(), reason="DevLake fixtures not found")
def test_cli_devlake_compatible_exports_match_byte_for_byte(tmp_path):
    out = tmp_path / "pr.csv"
    r = runner.invoke(app, ["dora", "pr-metrics", "--devlake-compatible", "--from-devlake",
                            str(DEVLAKE / "change_lead_time"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text() == (DEVLAKE / "change_lead_time" / "project_pr_metrics.csv").read_text().rstrip("\n") + "\n"
    out = tmp_path / "inc.csv"
    d = DEVLAKE / "connect_incident_to_deployment"
    r = runner.invoke(app, ["dora", "incident-deployments", "--devlake-compatible", "--from-devlake", str(d), "--out", str(out)])
    assert r.exit_code == 0, r.output
    want = (d / "snapshot_tables" / "project_incident_deployment_relationships.csv").read_text()
    assert out.read_text() == want.rstrip("\n") + "\n"


def test_metrics_json_applies_privacy_floor(store_path):
    r = runner.invoke(app, ["metrics", "--db", str(store_path), "--json", "--k", "8"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    assert body["k"] == 8 and body["suppressed_rows"] > 0
    assert all(row["headcount"] >= 8 for row in body["rows"])
    assert not any("builder_id" in row for row in body["rows"])


def test_privacy_floor_never_below_three(store_path):
    r = runner.invoke(app, ["metrics", "--db", str(store_path), "--k", "2"])
    assert r.exit_code == 2


def test_dora_report_section_applies_floor(store_path):
    import re

    from ctssw.metrics import clear_cache, period_metrics, team_week_metrics
    from ctssw.report import interactive_report
    from ctssw.store import Store

    with Store(store_path, read_only=True) as s:
        con = s.ibis()
        weekly, teams = team_week_metrics(con), period_metrics(con, by="team")
        clear_cache()
    html = interactive_report(weekly=weekly, teams=teams, k=8)
    data = json.loads(re.search(r'<script type="application/json" id="ctssw-data">(.*?)</script>', html, re.S).group(1))
    below = int((weekly["headcount"] < 8).sum())
    assert below > 0 and data["series"]["suppressed"] == below
    assert f"{below} team-weeks" in html  # the page says how many team-weeks the floor left out
    for w in data["series"]["weekly"].values():
        assert all(b is None or b >= 8 for b in w["builders"])
    assert all(r["Builders"] >= 8 for r in data["teams"]["rows"])
    assert data["series"]["monthly"]["org"]["deploy_freq"] and set(data["series"]["stats"]["org"]) >= {"deploy_freq", "lead_time_h"}


@pytest.mark.skipif(not DEVLAKE.is_dir(), reason="DevLake fixtures not found")
def test_a_store_without_members_says_which_dora_output_still_answers(tmp_path):
    # DevLake's e2e tables hold changes, deployments and incidents but no author active enough to
    # infer a membership: the team-week metrics cannot be built, the per-PR export can
    import warnings

    from ctssw.pipeline.status import store_status

    db = tmp_path / "d.duckdb"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert runner.invoke(app, ["ingest", "devlake", str(DEVLAKE / "change_lead_time"), "--db", str(db)]).exit_code == 0
    caps = {c.name: c for c in store_status(db).capabilities}
    assert not caps["change lead time"].ok
    assert "ctssw dora pr-metrics --devlake-compatible" in caps["change lead time"].why
    assert not caps["change failure rate and recovery time"].ok
    assert all(c.why for c in caps.values() if not c.ok)  # every "no" says why
    r = runner.invoke(app, ["metrics", "--db", str(db)])
    assert r.exit_code == 3 and "no team members" in r.output
    r = runner.invoke(app, ["dora", "pr-metrics", "--devlake-compatible", "--db", str(db), "--out", str(tmp_path / "pr.csv")])
    assert r.exit_code == 0, r.output
