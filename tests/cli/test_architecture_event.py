"""A change of architecture as a staggered DiD event: the simulator's known effect is recovered."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from ctssw.cli import app
from ctssw.errors import ConfigError
from ctssw.pipeline.architecture_event import (
    architecture_event,
    parse_event,
    read_architecture_changes,
)
from ctssw.simulate import simulate_architecture_change

runner = CliRunner()


def test_simulator_dates_the_changes():
    p, changes, truth = simulate_architecture_change(teams=40, weeks=52, seed=1, effect=0.2)
    assert truth["teams_changing"] == 20 and list(changes.columns) == ["team", "date", "from", "to"]
    first = p[p["architecture"] == "service"].groupby("team_id")["week"].min()
    assert {t: d.date().isoformat() for t, d in first.items()} == dict(zip(changes["team"], changes["date"]))


def test_recovers_a_known_effect(tmp_path):
    p, changes, truth = simulate_architecture_change(teams=200, weeks=104, seed=1, effect=0.3)
    f = tmp_path / "arch.csv"
    changes.to_csv(f, index=False)
    res = architecture_event(p, read_architecture_changes(f), "architecture:monolith->service")
    rel = res["relative_effect"]
    assert res["teams_changing"] == 100
    assert rel["ci_low"] < truth["effect"] < rel["ci_high"] and rel["ci_low"] > 0
    assert rel["estimate"] == pytest.approx(truth["effect"], abs=0.1)


def test_no_effect_is_not_found():
    p, changes, _ = simulate_architecture_change(teams=200, weeks=104, seed=2, effect=0.0)
    res = architecture_event(p, changes.assign(week=pd.to_datetime(changes["date"])), "architecture:monolith->service")
    assert res["relative_effect"]["ci_low"] < 0 < res["relative_effect"]["ci_high"]


def test_other_changes_are_left_out():
    p, changes, _ = simulate_architecture_change(teams=60, weeks=60, seed=3, effect=0.1)
    ch = changes.assign(week=pd.to_datetime(changes["date"]))
    ch.loc[0, "to"] = "trunk"
    res = architecture_event(p, ch, "architecture:monolith->service")
    assert res["teams_left_out"] == [ch.loc[0, "team"]] and res["teams_changing"] == len(ch) - 1


@pytest.mark.parametrize("bad", ["architecture:monolith", "architecture:monolith->monolith", "arch:a->b", "architecture:mono->service"])
def test_bad_events(bad):
    with pytest.raises(ConfigError, match="architecture:FROM->TO"):
        parse_event(bad)


def test_cli_event_on_a_panel_file(tmp_path):
    from ctssw.panel import PANEL_COLUMNS

    p, changes, _ = simulate_architecture_change(teams=100, weeks=78, seed=4, effect=0.3)
    for c in PANEL_COLUMNS:
        if c not in p.columns:
            p[c] = 0.0
    p[list(PANEL_COLUMNS)].to_parquet(tmp_path / "panel.parquet")
    changes.to_csv(tmp_path / "arch.csv", index=False)
    r = runner.invoke(app, ["impact", "--panel", str(tmp_path / "panel.parquet"), "--event", "architecture:monolith->service",
                            "--architecture-changes", str(tmp_path / "arch.csv"), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["teams_changing"] == 50 and res["effect"]["estimate"] > 0
    r = runner.invoke(app, ["impact", "--panel", str(tmp_path / "panel.parquet"), "--event", "architecture:monolith->service"])
    assert r.exit_code == 2 and "needs --architecture-changes" in r.output
