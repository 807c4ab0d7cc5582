"""Which metrics a partial store cannot tell, on Spark as on DuckDB: the reason travels with the
rows (``ctssw metrics --backend spark`` reads it through the session that read the rows)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ctssw.cli import app
from ctssw.metrics import clear_cache, period_metrics, store_gaps
from ctssw.store import Store, ingest_canonical

# the sources a store without an incident tool, a pager or AI-assistant exports lacks
MISSING = ("incidents", "pages", "tool_usage")


def _export_without_missing(small_dir, dest):
    """The small organisation's export copied to ``dest`` without the ``MISSING`` sources."""
    shutil.copytree(small_dir, dest, ignore=shutil.ignore_patterns(*MISSING))
    assert not any((dest / t).exists() for t in MISSING)
    return dest


@pytest.fixture(scope="module")
def partial_store(small_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("partial")
    src = _export_without_missing(small_dir, d / "export")
    with Store(d / "ctssw.duckdb") as s:
        ingest_canonical(s, src)
    return d / "ctssw.duckdb"


@pytest.mark.spark
def test_unknown_metrics_are_the_same_on_spark_and_name_what_supplies_them(partial_store, spark_backend):
    with Store(partial_store, read_only=True) as s:
        want = store_gaps(s.ibis())
        clear_cache()
    assert set(want) == {"change_failure_rate", "recovery_median_h", "pages_per_oncall_builder", "ai_share"}
    assert want["change_failure_rate"] == (
        "unknown: the store has no incidents; ctssw ingest pagerduty (or devlake) supplies them")
    con = spark_backend(partial_store, "partial")
    try:
        assert store_gaps(con) == want
        rows = period_metrics(con, by="team")
        # unknown is NULL, never a measured 0, on this backend too
        assert len(rows) > 0 and rows["change_failure_rate"].isna().all() and rows["recovery_median_h"].isna().all()
        assert rows["cts_sw"].notna().any()
    finally:
        clear_cache()


@pytest.mark.spark
def test_a_partial_lake_on_spark_answers_without_java_traces(small_dir, tmp_path, monkeypatch):
    """A lake without folders for the missing sources: `ctssw metrics --backend spark --lake` answers
    as DuckDB does, and its standard error holds no Java stack trace and none of Spark's start-up
    lines (it used to print one trace per missing table folder)."""
    src = _export_without_missing(small_dir, tmp_path / "export")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["ingest", "canonical", str(src), "--db", "meta.duckdb", "--lake", "lake"])
    assert r.exit_code == 0, r.output
    assert not any((tmp_path / "lake" / t).exists() for t in MISSING)
    r = CliRunner().invoke(app, ["metrics", "--db", "meta.duckdb", "--json"])
    assert r.exit_code == 0, r.output
    want = json.loads(r.output)
    env = {**os.environ, "CTSSW_SPARK_MEMORY": "1g"}
    cmd = [sys.executable, "-m", "ctssw.cli", "metrics", "--db", "meta.duckdb", "--backend", "spark", "--lake", "lake", "--json"]
    got = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert got.returncode == 0, got.stderr[-3000:]
    err = got.stderr
    assert "Exception" not in err and "\tat " not in err, err[-3000:]
    assert "log4j profile" not in err and "NativeCodeLoader" not in err and "spark.local.dir" not in err, err
    doc = json.loads(got.stdout)
    assert doc["unknown"] == want["unknown"] and set(doc["unknown"]) >= {"change_failure_rate", "pages_per_oncall_builder"}
    assert [r["group"] for r in doc["rows"]] == [r["group"] for r in want["rows"]]
    assert doc["suppressed_rows"] == want["suppressed_rows"]
