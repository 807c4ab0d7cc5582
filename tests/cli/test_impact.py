from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from ctssw.cli import app

runner = CliRunner()


def test_impact_on_a_store_shows_estimates_value_and_event_study(store_path, tmp_path):
    rep = tmp_path / "impact.html"
    r = runner.invoke(app, ["impact", "--db", str(store_path), "--method", "all", "--report", str(rep), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.split("Report:")[0])
    assert set(res["dynamic"]["estimates"]) == {"fe", "jackknife", "diff-gmm", "sys-gmm"}
    assert set(res["did"]["estimates"]) == {"cs", "sun-abraham", "imputation", "twfe"}
    html = rep.read_text()
    if res["credible"]:
        ey = res["did_value"]["engineering_years"]
        assert ey["ci_low"] <= ey["estimate"] <= ey["ci_high"]
    else:  # e.g. the pre-trend test rejects: the value is withheld and the verdict says why
        assert "did_value" not in res and res["dynamic"]["value"] is None
        assert "Not credible: " + res["not_credible_because"][0] in res["verdict"]
        assert "Value withheld" in html
    assert "Event study" in html and html.count("plotly.js v") == 1 and "id=\"ctssw-data\"" in html
    assert "b_" not in r.stdout
    # the tool's usage also gives the decomposition of the change in CTS-SW, drawn as a waterfall that adds up
    data = json.loads(re.search(r'<script type="application/json" id="ctssw-data">(.*?)</script>', html, re.S).group(1))
    steps = data["explain"]["steps"]
    assert [s["component"] for s in steps] == ["start", "trend", "tool: assistant", "composition", "cost_per_builder_week", "residual", "end"]
    assert steps[0]["value"] + sum(s["value"] for s in steps[1:-1]) == pytest.approx(steps[-1]["value"], rel=1e-12)


def test_impact_rejects_unknown_method_and_tool(store_path):
    r = runner.invoke(app, ["impact", "--db", str(store_path), "--method", "magic"])
    assert r.exit_code == 2 and "method must be one of" in r.output
    r = runner.invoke(app, ["impact", "--db", str(store_path), "--tool", "nothing"])
    assert r.exit_code == 2 and "no usage of tool 'nothing'" in r.output


def test_impact_from_a_panel_file(store_path, tmp_path):
    pq = tmp_path / "p.parquet"
    assert runner.invoke(app, ["panel", "--db", str(store_path), "--out", str(pq)]).exit_code == 0
    r = runner.invoke(app, ["impact", "--panel", str(pq), "--method", "cs", "--json"])
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.stdout)["did"]["estimates"]) == {"cs"}
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    r = runner.invoke(app, ["impact", "--panel", str(bad)])
    assert r.exit_code == 3 and "not a ctssw panel" in r.output


def test_a_tool_used_only_outside_every_roster_is_named_so(store_path, tmp_path):
    # usage the store holds, by someone on no team that day: reloading the usage would not help
    import shutil

    import duckdb

    db = tmp_path / "s.duckdb"
    shutil.copy(store_path, db)
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO tool_usage SELECT * REPLACE ('cursor' AS tool, DATE '1990-01-01' AS day) FROM tool_usage LIMIT 1")
    con.close()
    r = runner.invoke(app, ["impact", "--db", str(db), "--tool", "cursor"])
    assert r.exit_code == 2
    assert "tool 'cursor' was used on 1 day(s) by 1 person(s) in the store, but never by a member of a team" in r.output
    assert "ctssw ingest roster" in r.output and "Traceback" not in r.output
    # a panel file built without the tool says so, not that the store holds no usage
    pq = tmp_path / "p.parquet"
    assert runner.invoke(app, ["panel", "--db", str(db), "--tool", "cursor", "--out", str(pq)]).exit_code == 0
    r = runner.invoke(app, ["impact", "--panel", str(pq), "--tool", "cursor"])
    assert r.exit_code == 2 and "has a member active with its tool: build it with ctssw panel --tool cursor" in r.output
