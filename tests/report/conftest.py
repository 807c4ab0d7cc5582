"""One small simulated organisation's report inputs, computed once for the report tests."""

from __future__ import annotations

import json

import pytest

from ctssw.estimators import sensitivity
from ctssw.metrics import period_metrics, team_week_metrics
from ctssw.panel import panel as build_panel
from ctssw.pipeline import impact
from ctssw.pipeline.report import store_report_inputs
from ctssw.store import Store


@pytest.fixture(scope="session")
def report_inputs(store_path, sim_dir):
    with Store(store_path, read_only=True) as s:
        con = s.ibis()
        p = build_panel(con)
        weekly = team_week_metrics(con)
        teams = period_metrics(con, by="team")
        extra = store_report_inputs(s, p)
    return {
        "panel": p,
        "kw": dict(
            weekly=weekly, teams=teams, impact=impact(p, dynamic="all", did="cs"), drivers=sensitivity(p, k=5),
            truth=json.loads((sim_dir / "truth.json").read_text()), rostered=True, **extra,
        ),
    }
