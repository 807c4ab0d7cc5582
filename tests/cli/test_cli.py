from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ctssw.cli import app

runner = CliRunner()


def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    r = runner.invoke(app, ["demo", "--out", str(out), "--teams", "40", "--weeks", "80", "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert "CTS-SW now" in r.output
    res = json.loads((out / "results.json").read_text())
    # the value is given with its interval, or withheld with the reason when a check fails
    if res["impact"].get("value_withheld"):
        assert "Engineering-years: not given, not credible" in " ".join(r.output.split())
    else:
        assert "Engineering-years saved" in r.output
    res = json.loads((out / "results.json").read_text())
    for k in ("estimate", "ci_low", "ci_high", "truth"):
        assert isinstance(res["effect"][k], float)
    assert res["effect"]["ci_low"] < res["effect"]["estimate"] < res["effect"]["ci_high"]
    for k in ("estimate", "ci_low", "ci_high"):
        assert isinstance(res["engineering_years_saved"][k], float)
    assert res["cts_sw"]["now"] > 0 and res["cts_sw"]["year_earlier"] > 0
    # the panel file people read holds no team-week describing fewer than five builders
    import pandas as pd

    shared = pd.read_parquet(out / "panel.parquet")
    assert shared["headcount"].min() >= 5
    assert res["panel"]["file_rows"] == len(shared) == res["panel"]["rows"] - res["panel"]["suppressed_rows"]
    html = (out / "report.html").read_text()
    # self-contained: plotly.js inlined once, no remote scripts, styles or images in the rest of the page
    assert html.count("plotly.js v") == 1
    ours = re.sub(r"<script>/\*\*\s*\* plotly\.js.*?</script>", "", html, count=1, flags=re.S)
    assert len(ours) < len(html) / 2
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", ours)
    for title in ("CTS-SW over time", "Adoption by tool and feature", "The effect, estimator by estimator", "Event study",
                  "What moved CTS-SW"):
        assert title in ours
    # the assistant's share of the change in CTS-SW: a waterfall that adds up, or one sentence saying why not
    data = json.loads(re.search(r'<script type="application/json" id="ctssw-data">(.*?)</script>', html, re.S).group(1))
    if data["explain"]:
        steps = data["explain"]["steps"]
        assert steps[0]["value"] + sum(s["value"] for s in steps[1:-1]) == pytest.approx(steps[-1]["value"], rel=1e-12)
    else:
        assert re.search(r'id="missing-explain">This section cannot be computed from this store: [^<]+', html)
    # no builder identity or pseudonym appears in any output
    for text in ((out / "results.json").read_text(), ours):
        assert "@example.com" not in text and "gh-dev" not in text and "b_" not in text

def test_simulate_then_ingest_then_panel(tmp_path):
    sim, db, pq = tmp_path / "sim", tmp_path / "x.duckdb", tmp_path / "p.parquet"
    r = runner.invoke(app, ["simulate", "--out", str(sim), "--teams", "5", "--weeks", "10"])
    assert r.exit_code == 0, r.output
    assert json.loads((sim / "truth.json").read_text())["effect"] == 0.08
    r = runner.invoke(app, ["ingest", "canonical", str(sim), "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)["counts"]
    assert {"read", "loaded", "updated", "duplicate", "quarantined"} <= set(rows[0])
    r2 = runner.invoke(app, ["ingest", "canonical", str(sim), "--db", str(db), "--json"])
    assert all(x["loaded"] == 0 and x["duplicate"] == x["read"] for x in json.loads(r2.output)["counts"])
    r = runner.invoke(app, ["panel", "--db", str(db), "--out", str(pq), "--unit", "change"])
    assert r.exit_code == 0, r.output
    assert "team-weeks" in r.output and pq.exists()


def test_json_rows_one_per_line(monkeypatch):
    # a --json document to a pipe: indented, each row of a table on one line, the same values
    import io

    from ctssw.cli._common import emit_json, out

    rows = [{"group": "t1", "cfr": 0.25, "note": "a\nb", "tags": [1, 2]}, {"group": "té", "cfr": None, "note": "", "tags": []}]
    buf = io.StringIO()
    monkeypatch.setattr(out, "_file", buf)  # not ``file``: its getter would be restored as a fixed stream
    emit_json("metrics", {"rows": rows, "k": 5, "unknown": {"cfr": "no incidents"}, "empty": []})
    text = buf.getvalue()
    doc = json.loads(text)
    assert doc["rows"] == rows and doc["k"] == 5 and doc["unknown"] == {"cfr": "no incidents"} and doc["empty"] == []
    lines = text.splitlines()
    assert lines[0] == "{" and lines[1] == '  "schema": "ctssw.metrics",'
    first, second = ("    " + json.dumps(r, ensure_ascii=False) for r in rows)
    assert [ln for ln in lines if ln.startswith("    {")] == [first + ",", second]


@pytest.mark.parametrize(
    "files,code,message",
    [
        ({"teams.csv": "name\nx\n"}, 3, "lacks required column(s) team_id"),
        ({"teams.parquet": "garbage"}, 3, "cannot read as Parquet"),
        ({}, 3, "no canonical tables found"),
    ],
)
def test_bad_input_is_one_line_not_a_traceback(tmp_path, files, code, message):
    d = tmp_path / "in"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text)
    p = subprocess.run(
        [sys.executable, "-m", "ctssw.cli._app", "ingest", "canonical", str(d), "--db", str(tmp_path / "s.duckdb")],
        capture_output=True, text=True,
    )
    assert p.returncode == code
    assert "Traceback" not in p.stderr
    assert message in " ".join(p.stderr.split())


def test_panel_on_missing_store_is_clear(tmp_path):
    r = runner.invoke(app, ["panel", "--db", str(tmp_path / "nope.duckdb")])
    assert r.exit_code == 4
    assert "no store" in r.output
