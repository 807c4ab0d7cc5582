"""The 2025-2026 AI usage formats on their vendors' published examples (tests/fixtures/*/ORIGIN.md)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from ctssw.errors import DataWarning
from ctssw.store import (
    load_claude,
    load_copilot,
    load_cursor,
    load_kiro,
    load_otel,
    load_qdev,
)

from .conftest import by_table

REAL = Path(__file__).resolve().parents[1] / "fixtures"


def _usage(store, tool):
    return store.con.execute(
        "SELECT feature, day::VARCHAR, active, events, accepted_lines, agent_requests, cost, credits "
        "FROM tool_usage WHERE tool = ? ORDER BY day, feature", [tool]).fetchall()


def _reload_changes_nothing(load, store, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        again = load(store, path)
    assert again and all(c.loaded == c.updated == c.quarantined == 0 and c.duplicate == c.read for c in again)


def test_copilot_users_report(store):
    c = by_table(load_copilot(store, REAL / "copilot/users_report_example.ndjson"))["tool_usage"]
    assert (c.read, c.loaded, c.quarantined, c.unmapped) == (3, 3, 0, 1)
    assert _usage(store, "copilot") == [
        ("all", "2025-10-01", True, 2, 8, None, None, None),
        ("cli", "2025-10-01", True, 2, None, None, None, None),  # totals_by_cli.request_count
        ("completion", "2025-10-01", True, 2, 8, None, None, None),
    ]
    assert {r[0] for r in store.con.execute("SELECT builder_id FROM tool_usage").fetchall()} == {store.pseudonymise("login1")}
    _reload_changes_nothing(load_copilot, store, REAL / "copilot/users_report_example.ndjson")


def test_copilot_enterprise_report_is_org_totals(store):
    with pytest.warns(DataWarning, match="kept as organisation totals"):
        (c,) = load_copilot(store, REAL / "copilot/enterprise_report_example.ndjson")
    assert (c.table, c.loaded) == ("tool_totals", 4)
    got = store.con.execute(
        "SELECT scope, day::VARCHAR, active_users, events, accepted_lines, changes_merged, agent_changes_merged "
        "FROM tool_totals WHERE feature = 'all' ORDER BY scope_id").fetchall()
    assert got[0] == ("enterprise", "2025-10-01", 2, 4, 30, 2, 1)
    assert store.count("tool_usage") == 0


def test_copilot_download_links_and_team_report_say_what_they_are(store):
    with pytest.warns(DataWarning, match="2 download link"):
        assert load_copilot(store, REAL / "copilot/report_1_day_response.json") == []
    with pytest.warns(DataWarning, match="3 user-team row"):
        assert load_copilot(store, REAL / "copilot/user_teams_1_day_example.ndjson") == []


def test_claude_code_usage_report(store):
    c = by_table(load_claude(store, REAL / "claude/usage_report_claude_code.json"))["tool_usage"]
    assert (c.read, c.loaded, c.unmapped) == (2, 2, 1)
    # 25+12+5+8 accepted edits, 342 lines added, 15 sessions, (186+42) cents
    assert _usage(store, "claude") == [
        ("agent", "2025-08-08", True, 50, 342, 15, 2.28, None),
        ("all", "2025-08-08", True, 50, 342, 15, 2.28, None),
    ]
    _reload_changes_nothing(load_claude, store, REAL / "claude/usage_report_claude_code.json")


def test_cursor_daily_usage_and_code_tracking(store):
    c = by_table(load_cursor(store, REAL / "cursor/teams_daily_usage_data.json"))["tool_usage"]
    assert (c.read, c.loaded, c.unmapped) == (10, 10, 1)
    day1 = [r for r in _usage(store, "cursor") if r[1] == "2024-03-18"]
    # 289 tabs + 73 accepts + 128 chat + 45 composer + 12 agent + 67 cmd-K + 3 bugbot
    assert day1 == [
        ("agent", "2024-03-18", True, 57, None, 12, None, None),
        ("all", "2024-03-18", True, 617, 1102, 12, None, None),
        ("chat", "2024-03-18", True, 195, None, None, None, None),
        ("completion", "2024-03-18", True, 289, None, None, None, None),
        ("review", "2024-03-18", True, 3, None, None, None, None),
    ]
    with pytest.warns(DataWarning, match=r"90 of 120 added lines \(75%\) came from Cursor"):
        load_cursor(store, REAL / "cursor/analytics_ai_code_commits.json")
    assert _usage(store, "cursor:code") == [
        ("agent", "2025-07-30", True, None, 40, None, None, None),
        ("all", "2025-07-30", True, 1, 90, None, None, None),
        ("completion", "2025-07-30", True, None, 50, None, None, None),
    ]
    assert store.pseudonymise("developer@company.com") in {
        r[0] for r in store.con.execute("SELECT builder_id FROM tool_usage").fetchall()}
    _reload_changes_nothing(load_cursor, store, REAL / "cursor/teams_daily_usage_data.json")


def test_otel_file_without_ai_metrics_says_so(store):
    with pytest.warns(DataWarning, match=r"metrics ctssw does not take were skipped: my\.counter \(1\)"):
        assert load_otel(store, REAL / "claude/otlp_json_metrics_example.json") == []


def test_otel_claude_code_metrics(store, tmp_path):
    # the proto repository's example request, its counter renamed to Claude Code's documented
    # claude_code.lines_of_code.count with the documented attributes type and user.email
    doc = json.loads((REAL / "claude/otlp_json_metrics_example.json").read_text())
    m = doc["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]
    m["name"] = "claude_code.lines_of_code.count"
    m["sum"]["dataPoints"][0]["attributes"] = [
        {"key": "type", "value": {"stringValue": "added"}},
        {"key": "user.email", "value": {"stringValue": "dev@corp.example"}},
    ]
    second = json.loads(json.dumps(doc))  # the file exporter's next line: 5 more lines a minute later
    second["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"][0]["timeUnixNano"] += 60 * 10**9
    p = tmp_path / "metrics.jsonl"
    p.write_text(json.dumps(doc) + "\n" + json.dumps(second) + "\n")
    with pytest.warns(DataWarning, match="my.gauge"):
        c = by_table(load_otel(store, p))["tool_usage"]
    assert (c.read, c.loaded) == (2, 2)
    assert _usage(store, "claude") == [
        ("agent", "2018-12-13", True, None, 10, None, None, None),
        ("all", "2018-12-13", True, None, 10, None, None, None),
    ]


def _nowhere_in_store(store, *raw):
    for t in [r[0] for r in store.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]:
        text = store.con.execute(f'SELECT * FROM "{t}"').df().astype(str).to_csv().lower()
        for v in raw:
            assert v.lower() not in text, (t, v)


def test_kiro_user_reports_per_client(store):
    # two real per-client reports of one user and day (tests/fixtures/kiro/ORIGIN.md), read from
    # their folder: quoted UserId/ProfileId/User_Email, New_User and <model>_messages columns
    c = by_table(load_kiro(store, REAL / "kiro"))["tool_usage"]
    assert (c.read, c.loaded, c.quarantined, c.unmapped) == (3, 3, 0, 1)
    got = _usage(store, "kiro")
    # KIRO_IDE -> agent: 4 messages, 2 conversations; KIRO_CLI -> cli: 131 messages, 8 conversations;
    # all: 4 + 131 = 135 messages, 2 + 8 = 10 conversations, 0.7132330391376451 + 114.45787414391377 credits
    assert [r[:6] for r in got] == [
        ("agent", "2026-07-10", True, 4, None, 2),
        ("all", "2026-07-10", True, 135, None, 10),
        ("cli", "2026-07-10", True, 131, None, 8),
    ]
    assert [r[7] for r in got] == [0.7132330391376451, pytest.approx(115.1711071830514151), 114.45787414391377]
    assert all(r[6] is None for r in got)  # no cost column in the report: credits only
    uid = "215bb5b0-00a1-70cd-1caf-57794fdc8915"
    assert {r[0] for r in store.con.execute("SELECT builder_id FROM tool_usage").fetchall()} == {store.pseudonymise(uid)}
    _nowhere_in_store(store, uid, "dwalleck@proton.me", "UV4C4VUDDGRU")
    _reload_changes_nothing(load_kiro, store, REAL / "kiro")


def test_cursor_daily_usage_record_of_the_current_api(store):
    # DevLake's recorded daily-usage-data record: `day` (YYYY-MM-DD) and `userId`, no epoch `date`,
    # and no cmdkUsages/bugbotUsages fields (tests/fixtures/cursor/ORIGIN.md)
    path = REAL / "cursor/devlake_daily_usage_record.json"
    c = by_table(load_cursor(store, path))["tool_usage"]
    assert (c.read, c.loaded, c.quarantined, c.unmapped) == (4, 4, 0, 1)
    # 42 tabs + 8 accepts + 8 chat + 2 composer + 5 agent; no review row: the record says nothing of Bugbot
    assert _usage(store, "cursor") == [
        ("agent", "2026-07-08", True, 7, None, 5, None, None),
        ("all", "2026-07-08", True, 65, 120, 5, None, None),
        ("chat", "2026-07-08", True, 8, None, None, None, None),
        ("completion", "2026-07-08", True, 42, None, None, None, None),
    ]
    assert {r[0] for r in store.con.execute("SELECT builder_id FROM tool_usage").fetchall()} == {
        store.pseudonymise("user@example.com")}
    _nowhere_in_store(store, "user@example.com", "user_example123")
    _reload_changes_nothing(load_cursor, store, path)


def test_qdev_stays_an_alias_of_kiro(store):
    from .conftest import FIX

    parts = sorted((FIX / "qdev").glob("*.csv"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        c = by_table(load_qdev(store, parts))["tool_usage"]
    assert (c.read, c.loaded) == (4, 3)
    assert store.con.execute("SELECT DISTINCT tool FROM tool_usage").fetchall() == [("amazon-q",)]
