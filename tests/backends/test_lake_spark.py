"""``--backend spark --lake DIR`` reads the lake's Parquet files in place, never the DuckDB file:
docs/lake.md's Spark command, run as written, with the store file moved away."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from backends.compare import assert_frames_equal
from ctssw.cli import app

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.spark


def _block(after: str) -> list[str]:
    text = (ROOT / "docs" / "lake.md").read_text()
    start = text.index("```sh", text.index(after)) + len("```sh")
    body = text[start : text.index("```", start)]
    return [ln.split("  #")[0].strip() for ln in body.strip().splitlines() if ln.strip()]


def test_docs_spark_panel_reads_the_lake_alone(spark, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for line in _block("# Keeping the tables in a lake"):
        r = CliRunner().invoke(app, shlex.split(line)[1:])
        assert r.exit_code == 0, (line, r.output)
    (line,) = _block("The lake may be any path the executors read")
    assert "--backend spark --lake lake" in line
    # no store file at all: Spark has only the lake's files to read (on the run's Spark context)
    os.rename("meta.duckdb", "elsewhere.duckdb")
    r = CliRunner().invoke(app, shlex.split(line)[1:])
    assert r.exit_code == 0, (line, r.output)
    assert not Path("meta.duckdb").exists()
    got, want = pd.read_parquet("spark-panel.parquet"), pd.read_parquet("panel.parquet")
    assert len(want) > 0
    assert_frames_equal(got, want, rtol=1e-9)


def test_spark_reads_a_column_a_file_lacks_as_its_default(spark, small_lake, tmp_path, monkeypatch):
    """As DuckDB does: a file written before a column joined the schema gives the column's default."""
    import shutil

    import duckdb
    import ibis

    from ctssw.panel.backend import load_lake_into_spark

    lake = tmp_path / "lake"
    shutil.copytree(small_lake[1], lake)
    f = sorted((lake / "deployments").rglob("*.parquet"))[0]
    duckdb.connect().execute(f"COPY (SELECT * EXCLUDE (is_rollback) FROM read_parquet('{f}')) TO '{f}.new' (FORMAT parquet)")
    os.replace(f"{f}.new", f)
    con = ibis.pyspark.connect(spark[0].newSession())
    before = int(con._session.conf.get("spark.sql.shuffle.partitions"))
    load_lake_into_spark(con, str(lake), ("deployments",))
    assert int(con._session.conf.get("spark.sql.shuffle.partitions")) == before  # a small lake: one per core
    got = con.table("deployments").to_pandas()
    assert len(got) > 0 and got["is_rollback"].notna().all()
    # a large one (here: 1 KiB per partition) gets one shuffle partition per so many bytes of its files
    monkeypatch.setattr(sys.modules["ctssw.panel.backend"], "PARTITION_BYTES", 1024)
    load_lake_into_spark(con, str(lake), ("deployments",))
    size = sum(p.stat().st_size for p in (lake / "deployments").rglob("*.parquet"))
    assert int(con._session.conf.get("spark.sql.shuffle.partitions")) == -(-size // 1024) > before
