"""``collect_pagerduty``, ``collect_claude`` and ``collect_cursor`` against recorded payloads on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs

from ctssw.collect import collect_claude, collect_cursor, collect_pagerduty
from ctssw.store import LOADERS, Store

from .replay import HERE, SHARED, Reply

KEY = "collect-test-secret-key-0123456789"


def _json(body, status: int = 200) -> Reply:
    return Reply(status, [("Content-Type", "application/json")], json.dumps(body).encode())


def test_pagerduty_incidents_with_log_entries_then_open_ones_again(replay, api_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PAGERDUTY_TOKEN", KEY)
    incidents = json.loads((HERE / "pagerduty" / "devlake_raw_incidents.json").read_text())["incidents"]

    def listing(req) -> Reply:
        """PagerDuty's /incidents: created in [since, until), offset paging two at a time."""
        q = parse_qs(req.query_string.decode())
        since = dt.datetime.fromisoformat(q["since"][0].replace("Z", "+00:00"))
        hits = [i for i in incidents if dt.datetime.fromisoformat(i["created_at"].replace("Z", "+00:00")) >= since]
        off = int(q["offset"][0])
        return _json({"incidents": hits[off:off + 2], "limit": 100, "offset": off, "more": off + 2 < len(hits)})

    replay.set("/incidents", listing)
    for inc in incidents:
        replay.set(f"/incidents/{inc['id']}/log_entries", _json({"log_entries": [], "limit": 100, "offset": 0, "more": False}))
        replay.set(f"/incidents/{inc['id']}", _json({"incident": inc}))
    replay.set("/oncalls", _json({"oncalls": [], "limit": 100, "offset": 0, "more": False}))
    now = dt.datetime(2022, 11, 4, tzinfo=dt.UTC)
    kw = dict(since="2022-11-01", cache=tmp_path / "cache", api_url=api_url, team_map=["DevService=ops"], _now=now)
    with Store(tmp_path / "s.duckdb") as s:
        s.con.execute("INSERT INTO teams (team_id) VALUES ('ops')")
        first = collect_pagerduty(s, **kw)
        stored = s.con.execute("SELECT incident_id, resolved_at IS NOT NULL FROM incidents ORDER BY 1").fetchall()
        pages = s.count("pages")
        n = len(replay.log)
        second = collect_pagerduty(s, **kw)
    assert first.items["incidents"] == 3 and len(stored) == 3 and pages >= 3  # at least one per assignment
    assert [r[1] for r in stored].count(True) == 1
    offsets = [e["query"] for e in replay.log[:n] if e["path"] == "/incidents"]
    assert len(offsets) == 2 and "offset=2" in offsets[1]
    assert all(e["auth"] == f"Token token={KEY}" for e in replay.log)
    # the second run asks for incidents created since the newest one, and re-reads the two unresolved
    again = {e["path"] for e in replay.log[n:]}
    assert {f"/incidents/{i['id']}" for i in incidents if i["status"] != "resolved"} <= again
    assert f"/incidents/{[i for i in incidents if i['status'] == 'resolved'][0]['id']}" not in again
    assert second.items["incidents"] == 0  # unchanged: nothing rewritten
    assert any("on-call shifts are kept" in x for x in first.notes)


def test_claude_usage_report_follows_next_page_and_keeps_vendor_json(replay, api_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", KEY)
    report = json.loads((SHARED / "claude" / "usage_report_claude_code.json").read_text())
    replay.set("/v1/organizations/usage_report/claude_code", _json(report))
    replay.set("/v1/organizations/usage_report/claude_code", _json({"data": [], "has_more": False, "next_page": None}),
               page=report["next_page"])
    with Store(tmp_path / "s.duckdb") as s:
        res = collect_claude(s, since="2025-08-08", cache=tmp_path / "cache", api_url=api_url, _today=dt.date(2025, 8, 9))
        again = collect_claude(s, since="2025-08-08", cache=tmp_path / "cache", api_url=api_url, _today=dt.date(2025, 8, 9))
    asked = [parse_qs(e["query"]) for e in replay.log]
    assert asked == [{"starting_at": ["2025-08-08"], "limit": ["1000"]},
                     {"starting_at": ["2025-08-08"], "limit": ["1000"], "page": [report["next_page"]]}]
    assert all(e["auth"] is None for e in replay.log)  # the key goes in x-api-key
    saved = json.loads((tmp_path / "cache" / "claude" / "usage_report" / "2025-08-08.json").read_text())
    assert saved == {"data": report["data"]}
    assert res.items == {"days": 1} and again.items == {"days": 0} and again.requests == 0
    if "claude" not in LOADERS:
        assert any("no `claude` connector yet" in n for n in res.notes)


def test_cursor_daily_usage_and_ai_code_commits(replay, api_url, tmp_path, monkeypatch):
    monkeypatch.setenv("CURSOR_API_KEY", KEY)
    usage = json.loads((SHARED / "cursor" / "teams_daily_usage_data.json").read_text())
    commits = json.loads((SHARED / "cursor" / "analytics_ai_code_commits.json").read_text())
    replay.set("/teams/daily-usage-data", _json(usage))
    replay.set("/analytics/ai-code/commits", _json(commits))
    with Store(tmp_path / "s.duckdb") as s:
        res = collect_cursor(s, since="2024-03-18", cache=tmp_path / "cache", api_url=api_url, _today=dt.date(2024, 3, 20))
    assert [(e["method"], e["path"]) for e in replay.log] == [("POST", "/teams/daily-usage-data"), ("GET", "/analytics/ai-code/commits")]
    import base64

    assert replay.log[0]["auth"] == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert json.loads((tmp_path / "cache" / "cursor" / "daily-usage-data" / "2024-03-18.json").read_text()) == usage
    assert res.items == {"days": 2}
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert KEY.encode() not in p.read_bytes()
