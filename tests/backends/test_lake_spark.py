"""``--backend spark --lake DIR`` reads the lake's Parquet files in place, never the DuckDB file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from backends.compare import assert_frames_equal
from ctssw.panel.backend import java_available

SRC = Path(__file__).resolve().parents[2] / "src"

pytestmark = pytest.mark.spark


def _ctssw(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200"}
    run = "import sys; from ctssw.cli import main; sys.argv[0] = 'ctssw'; main()"
    return subprocess.run([sys.executable, "-c", run, *args], env=env, capture_output=True, text=True, timeout=600)


def test_spark_panel_from_the_lake_alone_equals_duckdbs(small_lake, tmp_path):
    if not java_available():
        pytest.skip("Spark tests need a Java runtime (17) on the PATH or in JAVA_HOME")
    pytest.importorskip("pyspark")
    db, lake = small_lake
    want = tmp_path / "duckdb.parquet"
    p = _ctssw("panel", "--db", str(db), "--k", "3", "--out", str(want))
    assert p.returncode == 0, p.stderr
    # no store file at all: Spark has only the lake's files to read
    got = tmp_path / "spark.parquet"
    p = _ctssw("panel", "--backend", "spark", "--lake", str(lake), "--db", str(tmp_path / "absent.duckdb"),
               "--k", "3", "--out", str(got))
    assert p.returncode == 0, p.stderr
    assert not (tmp_path / "absent.duckdb").exists()
    a, b = pd.read_parquet(got), pd.read_parquet(want)
    assert len(b) > 0
    key = ["team_id", "week"]
    assert_frames_equal(a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True), rtol=1e-9)
