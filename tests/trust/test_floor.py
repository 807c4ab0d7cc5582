"""No file ctssw writes for people holds a row describing fewer than k builders."""

from __future__ import annotations

import re

import pandas as pd
from typer.testing import CliRunner

from ctssw.cli import app
from ctssw.simulate import simulate

runner = CliRunner()


def test_panel_file_applies_the_privacy_floor(tmp_path):
    sim, db, pq = tmp_path / "sim", tmp_path / "x.duckdb", tmp_path / "p.parquet"
    simulate(sim, teams=8, weeks=12, seed=5)
    assert runner.invoke(app, ["ingest", "canonical", str(sim), "--db", str(db)]).exit_code == 0
    r = runner.invoke(app, ["panel", "--db", str(db), "--out", str(pq), "--k", "3"])
    assert r.exit_code == 0, r.output
    assert pd.read_parquet(pq)["headcount"].min() >= 3
    r = runner.invoke(app, ["panel", "--db", str(db), "--out", str(pq), "--k", "12"])
    assert r.exit_code == 0, r.output
    written = pd.read_parquet(pq)
    assert written.empty or written["headcount"].min() >= 12
    left_out = int(re.search(r"([\d,]+) team-week\(s\) left out", r.output).group(1).replace(",", ""))
    assert left_out > 0  # said, not silent
    r = runner.invoke(app, ["panel", "--db", str(db), "--out", str(pq), "--k", "2"])
    assert r.exit_code == 2 and "at least 3" in r.output
