"""Backends for the cross-backend suite: the DuckDB store and a local Spark session.

One small simulated organisation is ingested once, into a store file and into a
store with a lake; the Spark session (local[2], UI off, UTC, warehouse in a temporary
folder) starts once per test run, and each store gets its own Spark session on it
(temp views are per session), read from Parquet: written by DuckDB from the store
file, or the lake's own files read in place.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ctssw.panel.backend import java_available
from ctssw.simulate import simulate
from ctssw.store import Store, ingest_canonical

BACKENDS = [
    "duckdb", pytest.param("spark", marks=pytest.mark.spark),
    "duckdb_lake", pytest.param("spark_lake", marks=pytest.mark.spark),
]


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sim-small")
    simulate(d, teams=6, weeks=14, seed=11)
    return d


@pytest.fixture(scope="session")
def small_store(small_dir, tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("store-small") / "ctssw.duckdb"
    with Store(p) as s:
        ingest_canonical(s, small_dir)
    return p


@pytest.fixture(scope="session")
def small_lake(small_dir, tmp_path_factory) -> tuple[Path, Path]:
    """The same organisation in a store whose tables live in a lake: ``(store file, lake folder)``."""
    d = tmp_path_factory.mktemp("lake-small")
    with Store(d / "ctssw.duckdb", lake=d / "lake") as s:
        ingest_canonical(s, small_dir)
    return d / "ctssw.duckdb", d / "lake"


@pytest.fixture(scope="session")
def duckdb_lake_con(small_lake):
    from ctssw.metrics import clear_cache
    from ctssw.store import open_lake

    s = open_lake(small_lake[1], db=small_lake[0])
    yield s.ibis()
    clear_cache()
    s.close()


@pytest.fixture(scope="session")
def spark_lake_con(spark, small_lake):
    """Spark reading the lake's Parquet files in place: the store file is never opened."""
    import ibis

    from ctssw.panel.backend import load_lake_into_spark

    session, _ = spark
    con = ibis.pyspark.connect(session.newSession())
    load_lake_into_spark(con, str(small_lake[1]))
    return con


@pytest.fixture(scope="session")
def duckdb_con(small_store):
    from ctssw.metrics import clear_cache

    s = Store(small_store, read_only=True)
    yield s.ibis()
    clear_cache()
    import gc

    gc.collect()
    s.close()


@pytest.fixture(scope="session")
def spark():
    """One local Spark session (and its temporary folder) for the whole run."""
    if not java_available():
        pytest.skip("Spark tests need a Java runtime (17) on the PATH or in JAVA_HOME")
    pytest.importorskip("pyspark", reason="Spark tests need pyspark: pip install 'ibis-framework[pyspark]'")
    from ctssw.panel.backend import spark_session

    # a 2g heap, not the 4g a user's session gets: the test stores are at most 200 teams x 104 weeks,
    # and two xdist workers may each hold a session (the panel and cross-backend tests took 71.8 s
    # with 2g against 79.2 s with 4g, the JVM 2.6 GB against 4.7 GB resident)
    session, tmp = spark_session(None, cores=2, app="ctssw-tests", memory="2g")
    session.sparkContext.setLogLevel("ERROR")
    yield session, tmp
    from ctssw.panel.backend import stop_session

    stop_session(session, tmp)


@pytest.fixture(scope="session")
def spark_backend(spark):
    """``open(store_path, name)``: an Ibis backend on a new Spark session holding the store's tables.

    Each has its own temp views on the shared JVM; DuckDB writes the tables to
    Parquet under the session's folder and Spark reads them from there.
    """
    import ibis

    from ctssw.panel.backend import load_into_spark

    session, tmp = spark

    def open_(store_path: Path, name: str):
        con = ibis.pyspark.connect(session.newSession())
        with Store(store_path, read_only=True) as s:
            load_into_spark(s, con, folder=tmp / name)
        return con

    return open_


@pytest.fixture(scope="session")
def spark_con(spark_backend, small_store):
    return spark_backend(small_store, "small")


@pytest.fixture(params=BACKENDS, scope="session")
def con(request):
    return request.getfixturevalue(f"{request.param}_con")
