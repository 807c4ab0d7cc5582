"""The lake layout: month partitions, only changed partitions rewritten, an all-or-nothing publish."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import duckdb
import pytest
from layouts import lake_of

from ctssw.errors import DataError, DataWarning, StoreError
from ctssw.store import (
    LAKE_TABLES,
    TABLES,
    Store,
    ingest_canonical,
    load_roster,
    open_lake,
)
from ctssw.store._lake import MONTH_OF

SRC = Path(__file__).resolve().parents[2] / "src"
ROSTER = Path(__file__).resolve().parents[1] / "sources" / "fixtures" / "roster"
HEAD = "deployment_id,service_id,environment,started_at,finished_at,result,team_id\n"


def _row(i: int, month: int, result: str = "success", day: int = 10) -> str:
    return f"d{i},s,production,2024-{month:02d}-{day:02d}T10:00:00Z,2024-{month:02d}-{day:02d}T11:00:00Z,{result},t1\n"


def _input(d: Path, rows: list[str]) -> Path:
    d.mkdir(exist_ok=True)
    (d / "teams.csv").write_text("team_id,name\nt1,Team 1\n")
    (d / "deployments.csv").write_text(HEAD + "".join(rows))
    return d


ROWS = [_row(1, 1), _row(2, 1), _row(3, 2), _row(4, 3)]


def _files(lake: Path) -> dict[str, tuple[int, int]]:
    """Every file of the lake's tables with its inode and modification time: what a write would change."""
    return {
        str(p.relative_to(lake)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in lake.rglob("*.parquet") if not p.relative_to(lake).parts[0].startswith("_")
    }


@pytest.fixture()
def lake_store(tmp_path):
    db, lake = tmp_path / "s.duckdb", tmp_path / "lake"
    with Store(db, lake=lake) as s:
        ingest_canonical(s, _input(tmp_path / "in", ROWS))
    return db, lake


def test_tables_are_month_partitions_and_the_store_file_keeps_none(sim_dir, lake_store_path):
    lake = lake_of(lake_store_path)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in LAKE_TABLES:
        files = sorted((lake / table).rglob("*.parquet"))
        with Store(lake_store_path, read_only=True) as s:
            assert bool(files) == bool(s.count(table)), table
        if table in MONTH_OF:
            for f in files:
                month = f.parent.name.removeprefix("month=")
                assert f.parent.name.startswith("month=") and f.name.startswith("part-1-")
                got = con.execute(f"SELECT DISTINCT strftime(\"{MONTH_OF[table]}\", '%Y-%m') FROM read_parquet('{f}')").fetchall()
                assert got == [(month,)], (table, f)
        else:
            assert all(f.parent == lake / table for f in files), table
    # the store file holds the keyed identities and the metadata, never a canonical table of the lake
    raw = duckdb.connect(str(lake_store_path), read_only=True)
    have = {r[0] for r in raw.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    raw.close()
    assert not have & set(LAKE_TABLES)
    assert {"identities", "quarantine", "ingest_runs", "ctssw_meta", "builders"} <= have
    with Store(lake_store_path, read_only=True) as s:
        assert s.count("commits") == con.execute(f"SELECT count(*) FROM read_parquet('{sim_dir}/commits/*.parquet')").fetchall()[0][0]


def test_a_reingest_that_changes_nothing_writes_nothing(lake_store, tmp_path):
    db, lake = lake_store
    before = _files(lake)
    with Store(db) as s:
        (t, d) = ingest_canonical(s, tmp_path / "in")
        assert d.duplicate == 4 and d.loaded == d.updated == 0
        assert s._lake_version() == 1
    assert _files(lake) == before
    assert not any((lake / "_ctssw").glob("publish-*.json"))


def test_a_changed_row_rewrites_only_its_month(lake_store, tmp_path):
    db, lake = lake_store
    before = _files(lake)
    _input(tmp_path / "in", [_row(1, 1), _row(2, 1), _row(3, 2, "failure"), _row(4, 3)])
    with Store(db) as s:
        d = ingest_canonical(s, tmp_path / "in")[1]
        assert (d.loaded, d.updated, d.duplicate) == (0, 1, 3)
        assert s.con.execute("SELECT result FROM deployments WHERE deployment_id = 'd3'").fetchall() == [("failure",)]
    after = _files(lake)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == {"deployments/month=2024-02/part-1-0.parquet", "deployments/month=2024-02/part-2-0.parquet"}


def test_new_rows_add_a_file_and_a_row_changing_month_rewrites_both(lake_store, tmp_path):
    db, lake = lake_store
    before = _files(lake)
    _input(tmp_path / "in", [*ROWS, _row(5, 3, day=20)])
    with Store(db) as s:
        assert ingest_canonical(s, tmp_path / "in")[1].loaded == 1
    after = _files(lake)
    assert set(after) - set(before) == {"deployments/month=2024-03/part-2-0.parquet"}
    assert all(after[k] == v for k, v in before.items())  # the month's first file is kept as it was
    # d1 moves from January to April: January is rewritten without it, April is new
    _input(tmp_path / "in", [_row(1, 4), _row(2, 1), _row(3, 2), _row(4, 3), _row(5, 3, day=20)])
    with Store(db) as s:
        assert ingest_canonical(s, tmp_path / "in")[1].updated == 1
    final = _files(lake)
    assert {k for k in final if k.startswith("deployments/month=2024-01")} == {"deployments/month=2024-01/part-3-0.parquet"}
    assert "deployments/month=2024-04/part-3-0.parquet" in final
    assert final["deployments/month=2024-02/part-1-0.parquet"] == before["deployments/month=2024-02/part-1-0.parquet"]
    with open_lake(db=db) as s:
        got = s.con.execute("SELECT deployment_id, strftime(finished_at, '%Y-%m') FROM deployments ORDER BY 1").fetchall()
    assert got == [("d1", "2024-04"), ("d2", "2024-01"), ("d3", "2024-02"), ("d4", "2024-03"), ("d5", "2024-03")]


def test_a_run_that_fails_leaves_the_lake_as_it_was(tmp_path):
    db, lake = tmp_path / "s.duckdb", tmp_path / "lake"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Store(db, lake=lake) as s:
            load_roster(s, ROSTER)
            before, counts = _files(lake), s.counts()
            bad = tmp_path / "costs.csv"
            bad.write_text("scope,scope_id,kind,period_start,amount,currency\nteam,web,labor,2024-01-01,1,EUR\n")
            with pytest.raises(DataError, match="several currencies"):
                load_roster(s, [ROSTER / "teams.csv", bad])
            assert s.counts() == counts
    assert _files(lake) == before
    assert [p.name for p in (lake / "_ctssw").iterdir() if p.name != "staging"] == ["lake.json"]


# a load in a child process that dies (os._exit: no cleanup, as SIGKILL) at a point of the publish
_DIE = """
import os, sys
from ctssw.store import Store, ingest_canonical, _lake
point = sys.argv[3]
real_plan, real_replace = _lake.Lake.write_plan, os.replace
def plan(self, v, ops):
    real_plan(self, v, ops)
    if point == "before-commit":
        os._exit(9)
def apply(self, v):
    os._exit(9)
n = [0]
def replace(a, b):
    n[0] += 1
    if n[0] == 3:
        os._exit(9)
    real_replace(a, b)
_lake.Lake.write_plan = plan
if point == "after-commit":
    _lake.Lake.apply = apply
if point == "mid-publish":
    _lake.os.replace = replace
with Store(sys.argv[1]) as s:
    ingest_canonical(s, sys.argv[2])
"""


@pytest.mark.parametrize("point", ["before-commit", "after-commit", "mid-publish"])
def test_a_run_killed_in_its_publish_leaves_the_old_lake_or_the_new_one(lake_store, tmp_path, point):
    db, lake = lake_store
    with open_lake(db=db) as s:
        old = s.con.execute("SELECT * FROM deployments ORDER BY 1").fetchall()
    before = _files(lake)
    rows = [_row(1, 1, "failure"), _row(2, 1), _row(3, 2, "failure"), _row(4, 3), _row(6, 5)]
    _input(tmp_path / "in", rows)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    p = subprocess.run([sys.executable, "-c", _DIE, str(db), str(tmp_path / "in"), point], env=env, capture_output=True, text=True)
    assert p.returncode == 9, p.stderr
    if point == "before-commit":
        # the commit never happened: the lake's tables were never touched, and the next open forgets the run
        assert _files(lake) == before
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with open_lake(db=db) as s:
                assert s.con.execute("SELECT * FROM deployments ORDER BY 1").fetchall() == old
                assert s._lake_version() == 1
    else:
        # the run committed (journalled as finished in the same commit): the next open, a reader's
        # too, finishes moving its partitions into place
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataWarning)
            with open_lake(db=db) as s:
                got = s.con.execute("SELECT deployment_id, result FROM deployments ORDER BY 1").fetchall()
                assert s._lake_version() == 2
        assert got == [("d1", "failure"), ("d2", "success"), ("d3", "failure"), ("d4", "success"), ("d6", "success")]
        assert set(_files(lake)) == {
            "teams/part-1-0.parquet", "deployments/month=2024-01/part-2-0.parquet",
            "deployments/month=2024-02/part-2-0.parquet", "deployments/month=2024-03/part-1-0.parquet",
            "deployments/month=2024-05/part-2-0.parquet",
        }
    assert not any((lake / "_ctssw").glob("publish-*.json"))
    assert not any((lake / "_ctssw" / "staging").iterdir())
    # and a run again converges on the same lake
    with Store(db) as s:
        ingest_canonical(s, tmp_path / "in")
    with open_lake(db=db) as s:
        assert s.con.execute("SELECT deployment_id, result FROM deployments ORDER BY 1").fetchall()[0] == ("d1", "failure")


def test_a_lake_is_refused_in_one_line_where_it_does_not_belong(lake_store, tmp_path):
    db, lake = lake_store
    with pytest.raises(StoreError, match="is the lake of another store"):
        Store(tmp_path / "other.duckdb", lake=lake)
    assert not (tmp_path / "other.duckdb").exists()
    plain = tmp_path / "plain.duckdb"
    with Store(plain) as s:
        ingest_canonical(s, tmp_path / "in")
    with pytest.raises(StoreError, match="keeps its tables inside the file; a lake starts with a new store file"):
        Store(plain, lake=tmp_path / "new-lake")
    with Store(tmp_path / "third.duckdb", lake=tmp_path / "third") as s:
        ingest_canonical(s, tmp_path / "in")
    with pytest.raises(StoreError, match="is not the lake of"):
        open_lake(tmp_path / "third", db=db)
    with pytest.raises(StoreError, match="is a URL"):
        Store(db, lake="s3a://bucket/lake")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(StoreError, match="not empty and not a ctssw lake"):
        Store(tmp_path / "fourth.duckdb", lake=tmp_path / "full")


def test_a_moved_lake_is_read_where_it_is_named(lake_store, tmp_path):
    db, lake = lake_store
    moved = tmp_path / "moved"
    lake.rename(moved)
    with pytest.raises(StoreError, match="the lake of .* is missing"):
        open_lake(db=db)
    with open_lake(moved, db=db) as s:
        assert s.count("deployments") == 4
    with Store(db, lake=moved) as s:  # a writer records the new place
        pass
    with open_lake(db=db) as s:
        assert s.count("deployments") == 4 and json.loads((moved / "_ctssw" / "lake.json").read_text())["format"] == 1


def test_every_ingest_command_takes_lake():
    import typer

    from ctssw.cli._app import ingest_app

    group = typer.main.get_group(ingest_app)
    for name, cmd in group.commands.items():
        assert "--lake" in {o for p in cmd.params for o in p.opts}, name


def test_columns_a_file_lacks_read_as_their_default(lake_store):
    db, lake = lake_store
    # a file written before the schema had a column (here: rewritten without is_rollback)
    f = lake / "deployments" / "month=2024-03" / "part-1-0.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * EXCLUDE (is_rollback) FROM read_parquet('{f}')) TO '{f}.new' (FORMAT parquet)")
    os.replace(f"{f}.new", f)
    with open_lake(db=db) as s:
        got = s.con.execute("SELECT deployment_id, is_rollback FROM deployments ORDER BY 1").fetchall()
    assert got == [("d1", False), ("d2", False), ("d3", False), ("d4", False)]
    assert next(c for c in TABLES["deployments"].columns if c.name == "is_rollback").default == "false"


def test_a_load_reads_into_duckdb_only_the_tables_it_changes(lake_store, tmp_path):
    db, lake = lake_store
    with Store(db) as s:
        with s.transaction():
            s.writable("teams")
            temp = {r[0] for r in s.con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}
            assert "teams" in temp and "deployments" not in temp  # deployments stays a view over its files
        with pytest.raises(StoreError, match="only inside Store.transaction"):
            s.writable("teams")


def _temp(s) -> tuple[set, dict]:
    tables = {r[0] for r in s.con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}
    views = dict(s.con.execute("SELECT view_name, sql FROM duckdb_views() WHERE temporary").fetchall())
    return tables, views


def test_an_ingest_holds_in_scratch_only_the_tables_later_files_may_change(lake_store, tmp_path):
    """Each table is staged once no later file can change it: its temporary copy is dropped and
    the rest of the run reads it as staged."""
    db, lake = lake_store
    d = tmp_path / "more"
    d.mkdir()
    (d / "teams.csv").write_text("team_id,name\nt1,Team One\n")
    (d / "deployments.csv").write_text(HEAD + "".join([*ROWS, _row(5, 3, day=20)]))
    with Store(db) as s:
        with s.transaction():
            teams, deps = ingest_canonical(s, d)
            tables, views = _temp(s)
            assert not {"teams", "deployments"} & tables
            assert "/_ctssw/staging/2/" in views["teams"] and "/_ctssw/staging/2/" in views["deployments"]
            # read as staged: the new row and the changed name, with the published months beside them
            assert s.con.execute("SELECT name FROM teams").fetchall() == [("Team One",)]
            assert s.con.execute("SELECT count(*) FROM deployments").fetchall() == [(5,)]
            with pytest.raises(RuntimeError, match="released"):
                s.writable("deployments")
        assert (teams.updated, deps.loaded, deps.duplicate) == (1, 1, 4)
        assert not _temp(s)[0] & {"teams", "deployments"}
        assert "/_ctssw/staging/" not in _temp(s)[1]["deployments"]
    with open_lake(db=db) as s:
        assert s.con.execute("SELECT name FROM teams").fetchall() == [("Team One",)]
        assert s.con.execute("SELECT count(*) FROM deployments").fetchall() == [(5,)]
    assert not (lake / "_ctssw" / "staging" / "2").exists()


def test_a_run_that_fails_after_a_table_was_staged_leaves_the_lake_as_it_was(lake_store, tmp_path):
    db, lake = lake_store
    before = _files(lake)
    _input(tmp_path / "in", [*ROWS, _row(5, 3, day=20)])
    with Store(db) as s:
        with pytest.raises(KeyError, match="stop"):
            with s.transaction():
                ingest_canonical(s, tmp_path / "in")
                assert any((lake / "_ctssw" / "staging" / "2").rglob("*.parquet"))
                raise KeyError("stop")
        # the views over the published files are back, and the staged files are gone
        assert s.con.execute("SELECT count(*) FROM deployments").fetchall() == [(4,)]
        assert "/_ctssw/staging/" not in _temp(s)[1]["deployments"]
        assert s._lake_version() == 1
    assert _files(lake) == before
    assert not (lake / "_ctssw" / "staging" / "2").exists()
    assert not any((lake / "_ctssw").glob("publish-*.json"))


def test_a_lake_url_is_for_spark_only(lake_store):
    from ctssw.errors import ConfigError
    from ctssw.pipeline.metrics import metrics_table
    from ctssw.pipeline.status import store_status

    db, _ = lake_store
    with pytest.raises(ConfigError, match="s3a://bucket/lake is for --backend spark"):
        metrics_table(db, lake="s3a://bucket/lake")
    with pytest.raises(ConfigError, match="is for --backend spark"):
        store_status(db, lake="hdfs://nn:8020/lake")


def test_ingest_refuses_a_lake_url_in_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from ctssw.cli import app

    monkeypatch.chdir(tmp_path)
    _input(tmp_path / "in", ROWS)
    r = CliRunner().invoke(app, ["ingest", "canonical", "in", "--db", "n.duckdb", "--lake", "s3a://bucket/lake"])
    assert r.exit_code == 4 and "s3a://bucket/lake is a URL" in r.output and "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no store file, no folder named s3a:


@pytest.mark.parametrize("name", ["lake[1]", "lake*", "lake?"])
def test_ingest_refuses_a_lake_path_duckdb_would_read_as_a_pattern(name, tmp_path, monkeypatch):
    """DuckDB reads a lake through a file pattern that cannot escape * ? [: refused before anything is written."""
    from typer.testing import CliRunner

    from ctssw.cli import app

    monkeypatch.chdir(tmp_path)
    _input(tmp_path / "in", ROWS)
    r = CliRunner().invoke(app, ["ingest", "canonical", "in", "--db", "n.duckdb", "--lake", name])
    assert r.exit_code == 4 and "a lake folder's path cannot contain" in r.output and "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
