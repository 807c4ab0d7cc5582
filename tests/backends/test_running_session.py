"""In a process that already runs Spark (a notebook's ``spark``), ``--backend spark`` works on that
context in a session of its own: the numbers are DuckDB's, and the notebook's session keeps running
with its views and settings as they were."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from backends.compare import assert_frames_equal
from ctssw.cli import app
from ctssw.panel._session import TEMP_PREFIX

pytestmark = pytest.mark.spark
ZONE = "spark.sql.session.timeZone"


def _own_folders() -> set[Path]:
    mine = str(os.getpid())
    return {d for d in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*")
            if (d / "owner").exists() and (d / "owner").read_text() == mine}


def test_a_running_context_is_used_and_left_as_it_was(spark, small_store, tmp_path):
    session, _ = spark
    # the notebook's own view named like a canonical table, and a zone other than ctssw's UTC
    session.createDataFrame([(7,)], ["x"]).createOrReplaceTempView("commits")
    zone = session.conf.get(ZONE)
    session.conf.set(ZONE, "America/New_York")
    folders = _own_folders()
    try:
        args = ["panel", "--db", str(small_store)]
        r = CliRunner().invoke(app, [*args, "--backend", "spark", "--out", str(tmp_path / "spark.parquet")])
        assert r.exit_code == 0, r.output
        r = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "duckdb.parquet")])
        assert r.exit_code == 0, r.output
        want = pd.read_parquet(tmp_path / "duckdb.parquet")
        assert len(want) > 0
        assert_frames_equal(pd.read_parquet(tmp_path / "spark.parquet"), want, rtol=1e-9)
        # still running, its view and setting untouched, and ctssw's folder gone
        assert session.sql("SELECT x FROM commits").collect()[0].x == 7
        assert session.conf.get(ZONE) == "America/New_York"
        assert _own_folders() == folders
    finally:
        session.catalog.dropTempView("commits")
        session.conf.set(ZONE, zone)


def test_another_master_than_the_running_one_is_one_line(spark, small_store):
    session, _ = spark
    r = CliRunner().invoke(app, ["metrics", "--db", str(small_store), "--backend", "spark", "--spark-url", "local[1]"])
    assert r.exit_code == 2, r.output
    assert f"this process already runs Spark on {session.sparkContext.master}" in r.output
    assert "Traceback" not in r.output
    assert session.range(3).count() == 3
