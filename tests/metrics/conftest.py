"""Stores the linkage tests share: commits derived from the history or from DevLake's diffs."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest


@pytest.fixture()
def store_without_some_commits(store_path, tmp_path) -> Path:
    """The shared store with every fifth successful deployment's stored commits removed: ctssw
    (and the floor) derive them from the commit history."""
    db = tmp_path / "ctssw.duckdb"
    shutil.copy(store_path, db)
    with duckdb.connect(str(db)) as con:
        con.execute("""
            DELETE FROM deployment_commits WHERE deployment_id IN (
                SELECT deployment_id FROM deployments WHERE result = 'success' AND hash(deployment_id) % 5 = 0)
        """)
    return db


DEVLAKE = Path(__file__).resolve().parents[2].parent / "shared" / "external" / "devlake-dora"


@pytest.fixture(scope="module")
def devlake_store(tmp_path_factory) -> Path:
    """DevLake's change lead time test tables: the commits deployments shipped come from its
    ``commits_diffs`` table, targets' first successes (no previous sha) among them."""
    from typer.testing import CliRunner

    from ctssw.cli import app

    db = tmp_path_factory.mktemp("devlake") / "ctssw.duckdb"
    r = CliRunner().invoke(app, ["ingest", "devlake", str(DEVLAKE / "change_lead_time"), "--db", str(db)])
    assert r.exit_code == 0, r.output
    return db


@pytest.fixture()
def devlake_derived(devlake_store, tmp_path) -> Path:
    """The same with DevLake's ``commits_diffs`` beside it (as when its tables are read in place)
    and no stored deployment commits: every deployment's commits are derived from the diffs, a
    target's first success (no previous sha) included."""
    db = tmp_path / "derived.duckdb"
    shutil.copy(devlake_store, db)
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM deployment_commits")
        diffs = DEVLAKE / "change_lead_time" / "commits_diffs.csv"
        con.execute(f"CREATE TABLE commits_diffs AS SELECT * FROM read_csv('{diffs}', all_varchar = true)")
    return db
