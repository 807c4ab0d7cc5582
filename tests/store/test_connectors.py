import ast
import importlib
import inspect
from pathlib import Path

import pyarrow as pa

import ctssw.sources
import ctssw.store
from ctssw.sources import common as _common
from ctssw.store import LOADERS, TABLES, connectors

SOURCES = Path(ctssw.sources.__file__).parent


def test_parsers_know_the_canonical_columns():
    assert _common.COLUMNS == {name: tuple(c.name for c in t.columns) for name, t in TABLES.items()}


def test_sources_import_only_errors_from_the_package():
    for f in sorted(SOURCES.rglob("*.py")):
        depth = len(f.relative_to(SOURCES).parts)  # 1 in sources/, 2 in sources/forges/
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                mod = node.module or ""
                # within ctssw.sources, or ctssw.errors one level further up
                assert node.level <= depth or (node.level == depth + 1 and mod == "errors"), (f.name, node.level, mod)
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(n.startswith("ctssw") and n not in ("ctssw.errors", "ctssw.sources") for n in names), f.name
        assert "Store" not in f.read_text(), f.name


def test_one_loader_per_connector():
    assert set(LOADERS) == {
        "claude", "copilot", "cursor", "devlake", "git", "github", "gitlab", "kiro", "otel", "pagerduty", "qdev", "roster",
    }
    for kind, fn in LOADERS.items():
        assert fn is getattr(ctssw.store, f"load_{kind}")
        params = list(inspect.signature(fn).parameters)
        assert params[0] == "store"
        read = importlib.import_module(connectors.SOURCE_MODULES[kind]).read
        # the loader takes what the parser takes (git adds roster_teams)
        assert set(inspect.signature(read).parameters) <= set(params[1:]), kind


def test_blank_unknown_teams_keeps_required_and_known(recwarn):
    tables = {
        "teams": pa.table({"team_id": pa.array(["new"], pa.string())}),
        "commits": pa.table({"team_id": pa.array(["web", "new", "ghost", None], pa.string())}),
        "memberships": pa.table({"team_id": pa.array(["ghost"], pa.string())}),
    }
    _common.blank_unknown_teams(tables, {"web"}, {"memberships"}, "test")
    assert tables["commits"].column("team_id").to_pylist() == ["web", "new", None, None]
    assert tables["memberships"].column("team_id").to_pylist() == ["ghost"]
    assert "test: team(s) not in the roster, left empty: ghost" in str(recwarn.pop().message)
    assert "memberships" in connectors._TEAM_REQUIRED and "commits" not in connectors._TEAM_REQUIRED


def test_fill_teams_by_day():
    t = pa.table({
        "author": pa.array(["a", "a", "b", "a"], pa.string()),
        "at": pa.array(["2024-01-05T10:00:00", "2024-03-01T00:00:00", "2024-01-05", None], pa.string()),
        "team_id": pa.array([None, None, None, "x"], pa.string()),
    })
    spans = {"a": [("2024-01-01", "2024-01-31", "web"), ("2024-02-01", "9999-12-31", "pay")]}
    out = _common.fill_teams(t, "author", "at", spans)
    assert out.column("team_id").to_pylist() == ["web", "pay", None, "x"]


def test_a_store_from_before_the_new_columns_gets_them(tmp_path):
    from ctssw.store import Store

    path = tmp_path / "old.duckdb"
    with Store(path) as s:
        s.con.execute("ALTER TABLE tool_usage DROP COLUMN feature")
        s.con.execute("ALTER TABLE deployments DROP COLUMN is_production")
        s.con.execute("INSERT INTO tool_usage (builder_id, tool, day) VALUES ('b_1', 'copilot', DATE '2026-01-05')")
    with Store(path) as s:
        assert s.con.execute("SELECT feature FROM tool_usage").fetchall() == [("all",)]
        assert "is_production" in [r[0] for r in s.con.execute("DESCRIBE deployments").fetchall()]
