from __future__ import annotations

import pytest

from ctssw.errors import DataWarning, SchemaError
from ctssw.sources.ai import qdev
from ctssw.store import load_copilot, load_qdev

from .conftest import FIX, by_table


def test_copilot_user_report(rostered):
    c = by_table(load_copilot(rostered, FIX / "copilot/user_usage.ndjson"))["tool_usage"]
    assert (c.read, c.loaded, c.quarantined, c.unmapped) == (8, 7, 1, 1)  # carol is not on the roster
    rows = rostered.con.execute(
        "SELECT builder_id, day::VARCHAR, active, events, accepted_lines FROM tool_usage WHERE feature = 'all' ORDER BY day, events"
    ).fetchall()
    alice = rostered.pseudonymise("alice@corp.example")
    assert (alice, "2025-10-01", True, 51, 41) in rows
    assert (alice, "2025-10-02", False, 0, 0) in rows
    assert rostered.con.execute("SELECT reason FROM quarantine").fetchall() == [("wrong type in events: expected BIGINT",)]


def test_copilot_org_metrics_are_org_totals(store):
    with pytest.warns(DataWarning, match="organisation totals.*nothing can be attributed to a builder"):
        (c,) = load_copilot(store, FIX / "copilot/org_metrics.json")
    assert (c.table, c.loaded) == ("tool_totals", 1)
    assert store.count("tool_usage") == 0
    got = store.con.execute("SELECT scope, scope_id, day::VARCHAR, active_users FROM tool_totals").fetchall()
    assert got == [("org", "all", "2024-06-24", 24)]


def test_qdev_parts(rostered, tmp_path):
    parts = sorted((FIX / "qdev").glob("*.csv"))
    c = by_table(load_qdev(rostered, parts))["tool_usage"]
    assert (c.read, c.loaded, c.quarantined, c.unmapped) == (4, 3, 1, 1)  # dave unmapped; erin's row garbled
    alice = rostered.pseudonymise("a1b2c3d4-0000-alice")
    assert alice == rostered.pseudonymise("alice@corp.example")
    got = rostered.con.execute("SELECT tool, day::VARCHAR, events, accepted_lines FROM tool_usage WHERE builder_id = ?", [alice]).fetchall()
    # events: 8 messages sent + 1 fix + 1 feature + 12 inline; lines: 10 chat + 4 fix + 20 dev + 30 inline + 5 tests
    assert got == [("amazon-q", "2025-05-12", 22, 69)]
    # a part with no header row borrows the first part's header
    a = tmp_path / "r_part_1.csv"
    b = tmp_path / "r_part_2.csv"
    a.write_text(parts[0].read_text())
    b.write_text(parts[1].read_text().split("\n", 1)[1])
    assert qdev.read([b, a])["tool_usage"].num_rows == 4


def test_qdev_wrong_file(store, tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(SchemaError, match=r"x\.csv: no UserId and Date columns"):
        load_qdev(store, p)
