"""Which metrics a partial store cannot tell, on Spark as on DuckDB: the reason travels with the
rows (``ctssw metrics --backend spark`` reads it through the session that read the rows)."""

from __future__ import annotations

import shutil

import pytest

from ctssw.metrics import clear_cache, period_metrics, store_gaps
from ctssw.store import Store, ingest_canonical

# the sources a store without an incident tool, a pager or AI-assistant exports lacks
MISSING = ("incidents", "pages", "tool_usage")


@pytest.fixture(scope="module")
def partial_store(small_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("partial")
    src = d / "export"
    shutil.copytree(small_dir, src, ignore=shutil.ignore_patterns(*MISSING))
    assert not any((src / t).exists() for t in MISSING)
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
