"""Incident attribution on hand-made rows: strictly before, ties, windows, team targets, the source's own link.

Run through both implementations: DuckDB's as-of join and the time-ordered stream other backends use.
"""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from ctssw.metrics import _linkage as L
from ctssw.metrics import incident_links

T = pd.Timestamp


def _dep(i, target_svc, fin, result="success", team=None):
    return dict(deployment_id=i, service_id=target_svc, repo_id=None, team_id=team, environment="production",
                is_production=None, started_at=T(fin) - pd.Timedelta(minutes=5), finished_at=T(fin), result=result,
                is_rollback=False, manual_interventions=0, sha=None)


def _table(c, name: str, df: pd.DataFrame) -> None:
    c.con.register(f"_{name}", df)
    c.con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}")
    c.con.unregister(f"_{name}")


@pytest.fixture()
def con():
    c = ibis.duckdb.connect()
    deps = pd.DataFrame([
        _dep("d1", "svc-a", "2025-01-01 10:00"),
        _dep("d2", "svc-a", "2025-01-01 12:00"),
        _dep("d3", "svc-a", "2025-01-01 12:00"),            # finishes with d2: the greater id wins
        _dep("d4", "svc-a", "2025-01-01 14:00", "failure"),  # failed: never attributed
        _dep("d5", "svc-a", "2025-01-01 15:00"),            # finishes as i4 is created: not before it
        _dep("d6", None, "2025-01-01 09:00", team="team-b"),  # a team-level deployment
    ]).astype({"repo_id": "string", "sha": "string", "is_production": "boolean", "team_id": "string", "service_id": "string"})
    _table(c, "deployments", deps)
    _table(c, "services", pd.DataFrame({"service_id": ["svc-a"], "team_id": ["team-a"], "repo_id": pd.Series([None], dtype="string")}))
    _table(c, "repos", pd.DataFrame({"repo_id": pd.Series([], dtype=str), "team_id": pd.Series([], dtype=str)}))
    inc = pd.DataFrame([
        dict(incident_id="i1", team_id=None, service_id="svc-a", created_at=T("2025-01-01 09:00"), deployment_id=None),
        dict(incident_id="i2", team_id=None, service_id="svc-a", created_at=T("2025-01-01 11:00"), deployment_id=None),
        dict(incident_id="i3", team_id=None, service_id="svc-a", created_at=T("2025-01-01 14:30"), deployment_id=None),
        dict(incident_id="i4", team_id=None, service_id="svc-a", created_at=T("2025-01-01 15:00"), deployment_id=None),
        dict(incident_id="i5", team_id="team-b", service_id=None, created_at=T("2025-01-02 09:00"), deployment_id=None),
        dict(incident_id="i6", team_id=None, service_id="svc-a", created_at=T("2025-01-01 11:00"), deployment_id="d5"),
        dict(incident_id="i7", team_id=None, service_id="svc-z", created_at=T("2025-01-01 11:00"), deployment_id=None),
    ]).assign(resolved_at=lambda f: f["created_at"] + pd.Timedelta(hours=1))
    inc = inc.astype({"team_id": "string", "service_id": "string", "deployment_id": "string"})
    _table(c, "incidents", inc)
    return c


@pytest.fixture(params=["asof", "stream"])
def path(request, monkeypatch):
    if request.param == "stream":
        monkeypatch.setattr(L, "_asof", lambda con: False)
    return request.param


def _links(con, **kw) -> dict:
    df = incident_links(con, **kw).to_pandas()
    df = df.astype(object).where(df.notna(), None)
    return {r.incident_id: (r.deployment_id, r.attributed_by) for r in df.itertuples()}


def test_latest_successful_deployment_strictly_before(con, path):
    got = _links(con)
    assert got["i1"] == (None, None)                    # nothing finished before it
    assert got["i2"] == ("d1", "latest_before")
    assert got["i3"] == ("d3", "latest_before")         # d2 and d3 tie; the failure d4 is skipped
    assert got["i4"] == ("d3", "latest_before")         # d5 finished at the same instant: not before
    assert got["i5"] == ("d6", "latest_before")         # the team's own deployment
    assert got["i6"] == ("d5", "source")                # the source named it
    assert got["i7"] == (None, None)                    # a service without deployments


def test_window_keeps_only_recent_deployments(con, path):
    got = _links(con, window_hours=2.0)
    assert got["i2"] == ("d1", "latest_before")         # 1 h after d1
    assert got["i3"] == (None, None)                    # 2.5 h after d3
    assert got["i4"] == (None, None)
    assert got["i5"] == (None, None)                    # a day after d6
    assert got["i6"] == ("d5", "source")                # the source's link ignores the window


def test_devlake_rule_looks_at_the_team_and_ignores_the_source(con, path):
    got = _links(con, rule="devlake")
    assert got["i3"] == ("d3", "latest_before")
    assert got["i5"] == ("d6", "latest_before")
    assert got["i6"] == ("d1", "latest_before")         # its own link is ignored: d1 finished before it
