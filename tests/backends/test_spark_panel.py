"""The Spark panel equals the DuckDB panel row for row on the simulator's default organisation."""

from __future__ import annotations

import pytest

from backends.compare import assert_frames_equal
from ctssw.panel import panel_expr
from ctssw.simulate import simulate
from ctssw.store import Store, ingest_canonical

TEAMS, WEEKS, SEED = 200, 104, 0

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def default_store(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim-default")
    simulate(d, teams=TEAMS, weeks=WEEKS, seed=SEED)
    p = tmp_path_factory.mktemp("store-default") / "ctssw.duckdb"
    with Store(p) as s:
        ingest_canonical(s, d)
    return p


@pytest.fixture(scope="module")
def default_spark(spark_backend, default_store):
    return spark_backend(default_store, "default")


@pytest.mark.parametrize("unit", ["deployment", "team"])
def test_spark_panel_equals_duckdb_on_default_org(default_spark, default_store, unit):
    with Store(default_store, read_only=True) as s:
        want = panel_expr(s.ibis(), unit=unit).to_pandas()
    got = panel_expr(default_spark, unit=unit).to_pandas()
    assert len(want) == TEAMS * WEEKS
    assert want["cts_sw"].notna().sum() > 0 and want["cts_sw_reason"].notna().sum() > 0
    assert_frames_equal(got, want, rtol=1e-9)
