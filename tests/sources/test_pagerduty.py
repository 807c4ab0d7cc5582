from __future__ import annotations

import pytest

from ctssw.errors import ConfigError
from ctssw.sources.ops import pagerduty
from ctssw.store import load_pagerduty

from .conftest import FIX, by_table


def test_rest_incidents_and_pages(rostered):
    c = by_table(load_pagerduty(rostered, [FIX / "pagerduty/incidents.json", FIX / "pagerduty/log_entries.json"],
                                team_map=["Payments On-call=payments"]))
    assert (c["incidents"].loaded, c["pages"].read) == (2, 4)
    # alice paged twice (notify log entries); bob and zed by assignment; zed has no roster team
    assert (c["pages"].loaded, c["pages"].quarantined) == (3, 1)
    assert c["pages"].unmapped == 0
    got = rostered.con.execute("SELECT builder_id, team_id, off_hours FROM pages ORDER BY triggered_at").fetchall()
    alice, bob = rostered.pseudonymise("alice@corp.example"), rostered.pseudonymise("bob@corp.example")
    assert got == [(alice, "payments", True), (alice, "payments", True), (bob, "web", False)]
    inc = rostered.con.execute("SELECT incident_id, team_id, severity, resolved_at IS NULL FROM incidents ORDER BY 1").fetchall()
    assert inc == [("pd:Q14L2ABC", "payments", "P1", False), ("pd:Q14L2DEF", None, "low", True)]
    assert rostered.con.execute("SELECT reason FROM quarantine").fetchall() == [("missing team_id",)]


def test_csv_export(rostered):
    c = by_table(load_pagerduty(rostered, FIX / "pagerduty/incidents.csv", team_map={"Web On-call": "web", "checkout": "payments"}, tz="America/New_York"))
    assert (c["incidents"].read, c["incidents"].loaded, c["incidents"].quarantined) == (3, 2, 1)
    assert (c["pages"].read, c["pages"].loaded, c["pages"].quarantined) == (4, 3, 1)
    first = rostered.con.execute("SELECT created_at FROM incidents WHERE incident_id = 'pd:P7XQ9AB'").fetchall()[0][0]
    assert (first.day, first.hour) == (13, 4)  # 23:10 at UTC-5 is 04:10 UTC next day
    assert rostered.con.execute("SELECT off_hours FROM pages WHERE page_id = 'pd:P7XQ9AB:assignment:1'").fetchall() == [(True,)]


def test_options_checked():
    with pytest.raises(ConfigError, match="unknown time zone"):
        pagerduty.read(FIX / "pagerduty/incidents.csv", tz="Mars/Olympus")
    with pytest.raises(ConfigError, match="PAGERDUTY_TEAM_OR_SERVICE=TEAM_ID"):
        pagerduty.read(FIX / "pagerduty/incidents.csv", team_map=["nope"])
