"""A command whose sections share one connection (``ctssw report``, the demo) builds a unit's plain
panel once: drivers, the tools and the metrics read the same materialised rows."""

from __future__ import annotations

import pandas as pd
import pytest

import ctssw.metrics._api as api
from ctssw.metrics import clear_cache, team_week_metrics
from ctssw.panel import backend, panel
from ctssw.pipeline._shared import section_panel


def _count_calls(monkeypatch, module, name: str) -> tuple[list[dict], object]:
    """Replace ``module.name`` by a wrapper that records each call's keywords; (calls, the original)."""
    seen: list[dict] = []
    real = getattr(module, name)

    def counted(con, **kw):
        seen.append(kw)
        return real(con, **kw)

    monkeypatch.setattr(module, name, counted)
    return seen, real


@pytest.fixture()
def builds(monkeypatch):
    """The panels the metrics module builds (each call of its panel_expr)."""
    yield _count_calls(monkeypatch, api, "panel_expr")[0]
    clear_cache()


def test_a_shared_connection_builds_the_plain_panel_once(store, builds, monkeypatch):
    con = store.ibis()
    monkeypatch.setitem(backend._SHARED, ("duckdb", "test"), con)
    first = section_panel(con, unit="deployment")
    spelled_out = section_panel(con, unit="deployment", loaded_annual_cost=200_000.0, weeks_per_year=52.0)
    weekly = team_week_metrics(con)
    assert len(builds) == 1  # the metrics read the rows the first section materialised
    pd.testing.assert_frame_equal(first, panel(con))
    pd.testing.assert_frame_equal(spelled_out, first)
    assert len(weekly) == len(first) and weekly["cts_sw"].equals(first["cts_sw"])
    # another panel (other costs, one tool's shares) is built anew, not read from the kept rows
    cheaper = section_panel(con, unit="deployment", loaded_annual_cost=100_000.0)
    assert len(builds) == 1
    assert (cheaper["labor_cost"].dropna() < first["labor_cost"].dropna()).any()
    pd.testing.assert_frame_equal(cheaper, panel(con, loaded_annual_cost=100_000.0))


def test_a_connection_nobody_shares_keeps_nothing(store, builds):
    con = store.ibis()
    got = section_panel(con, unit="deployment")
    assert builds == [] and not any(k[0] == id(con) for k in api._CACHE)
    pd.testing.assert_frame_equal(got, panel(con))


@pytest.fixture()
def two_tools(store_path, tmp_path):
    """The shared organisation with a second tool beside the first: half its usage rows, and an
    agent (of one tool or the other) on every fifth merged change."""
    import shutil

    from ctssw.store import Store

    p = tmp_path / "two-tools.duckdb"
    shutil.copy(store_path, p)
    with Store(p) as s:
        s.con.execute("INSERT INTO tool_usage SELECT * REPLACE ('other' AS tool) FROM tool_usage WHERE hash(builder_id, day) % 2 = 0")
        s.con.execute("""UPDATE changes SET agent = CASE WHEN hash(change_id) % 10 = 0 THEN 'other' ELSE 'assistant' END
                         WHERE hash(change_id) % 5 = 0 AND merged_at IS NOT NULL""")
    with Store(p, read_only=True) as s:
        yield s


def test_a_tools_panel_is_the_kept_rows_with_its_own_tool_columns(two_tools, builds, monkeypatch):
    from ctssw.panel import TOOL_COLUMNS

    con = two_tools.ibis()
    monkeypatch.setitem(backend._SHARED, ("duckdb", "test"), con)
    plain = section_panel(con, unit="deployment")
    got = section_panel(con, unit="deployment", tool="other")
    assert len(builds) == 1  # the plain rows were reused; only the tool's columns were built
    want = panel(con, tool="other")
    pd.testing.assert_frame_equal(got, want)
    # the tool changes its own columns and no other
    changed = [c for c in want.columns if not want[c].equals(plain[c])]
    assert {"ai_share", "ai_active", "agent_changes", "agent_share"} <= set(changed) <= set(TOOL_COLUMNS)


def test_a_tools_columns_are_built_once_for_the_impact_and_the_tools_sections(two_tools, builds, monkeypatch):
    import importlib

    from ctssw.pipeline._shared import tool_columns

    con = two_tools.ibis()
    monkeypatch.setitem(backend._SHARED, ("duckdb", "test"), con)
    # ctssw.panel the module: the package's ctssw.panel is also the function panel()
    tool_builds, real = _count_calls(monkeypatch, importlib.import_module("ctssw.panel"), "panel")
    impact_panel = section_panel(con, unit="deployment", tool="other")
    shares = tool_columns(con, ("ai_share", "ai_active"), unit="deployment", tool="other")
    assert [kw.get("tool") for kw in tool_builds] == ["other"]  # the tools section read the kept columns
    want = real(con, tool="other", columns=("ai_share", "ai_active"))
    pd.testing.assert_frame_equal(shares, want)
    assert impact_panel["ai_share"].equals(shares["ai_share"])
    # another tool, or the same tool at other costs, is built anew
    tool_columns(con, ("ai_share",), unit="deployment", tool="assistant")
    cheaper = tool_columns(con, ("ai_share",), tool="other", loaded_annual_cost=100_000.0)
    assert [kw.get("tool") for kw in tool_builds] == ["other", "assistant", "other"]
    pd.testing.assert_frame_equal(cheaper, want[["team_id", "week", "ai_share"]])
    clear_cache()
    tool_columns(con, ("ai_share",), unit="deployment", tool="other")
    assert len(tool_builds) == 4  # forgotten with the metrics' rows


def _panel_builds(monkeypatch) -> list[tuple]:
    """(tool, columns) of every panel built from now on (each goes through ``build_panel``)."""
    import importlib

    package = importlib.import_module("ctssw.panel")
    real, built = package.build_panel, []

    def counted(con, cfg, columns=None):
        built.append((cfg.tool, columns))
        return real(con, cfg, columns)

    monkeypatch.setattr(package, "build_panel", counted)
    return built


def test_the_report_on_duckdb_builds_the_plain_panel_once(store_path, monkeypatch, tmp_path):
    """``ctssw report``'s sections (drivers, the tool's impact, the tools, the metrics) share one read-only
    connection to the store file, so its plain panel is built once, as on Spark."""
    from ctssw.pipeline import report_from_store

    built = _panel_builds(monkeypatch)
    res = report_from_store(store_path, tmp_path / "report.html", tool="assistant", method="fe")
    assert {res["sections"][s] for s in ("drivers", "impact", "tools", "cts", "dora")} == {"ok"}
    assert [b for b in built if b == (None, None)] == [(None, None)]
    assert api._CACHE == {} and backend._SHARED == {}  # nothing kept for the closed connection


@pytest.mark.parametrize("which", [["--tool", "assistant", "--method", "fe"], ["--tools", "assistant", "--method", "fe"]])
def test_impact_with_its_report_builds_each_panel_once(store_path, monkeypatch, tmp_path, which):
    from typer.testing import CliRunner

    from ctssw.cli import app

    built = _panel_builds(monkeypatch)
    r = CliRunner().invoke(app, ["impact", "--db", str(store_path), *which, "--report", str(tmp_path / "impact.html")])
    clear_cache()
    assert r.exit_code == 0, r.output
    assert (tmp_path / "impact.html").exists() and backend._SHARED == {}
    assert len(built) == len(set(built)) and (None, None) in built  # the plain panel, and the tool's columns
