"""``ctssw panel`` and ``ctssw metrics`` on a real Spark cluster equal DuckDB's rows.

The cluster (one master and two one-core workers on 127.0.0.1, started with
pyspark's ``bin/spark-class``) and a Spark Connect server on it are started once
for the run and stopped at its end. Each command runs as its own process, as a
user runs it: against ``spark://`` it starts a driver JVM that the master gives
the workers' executors; against ``sc://`` it is a thin gRPC client of the
Connect server.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from backends.cluster import free_port, start_cluster, start_connect
from backends.compare import assert_frames_equal
from ctssw.cli import app

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = start_cluster(tmp_path_factory.mktemp("spark-cluster"), workers=2)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def connect_url(cluster):
    # started after the spark:// tests (file order), so those get both workers' cores
    return start_connect(cluster, cores=1)


def _ctssw(args: list[str], cluster) -> subprocess.CompletedProcess:
    env = {**cluster.env(), "CTSSW_SPARK_MEMORY": "1g"}
    r = subprocess.run(
        [sys.executable, "-c", "from ctssw.cli import main; main()", *args],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert r.returncode == 0, f"ctssw {' '.join(args)} exited {r.returncode}\n{r.stderr[-3000:]}"
    return r


def _duckdb_panel(store, tmp_path) -> pd.DataFrame:
    # the same command on DuckDB, so both sides pass through everything the command does
    out = tmp_path / "duckdb-panel.parquet"
    r = CliRunner().invoke(app, ["panel", "--db", str(store), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return pd.read_parquet(out)


def _duckdb_metrics(store) -> dict:
    r = CliRunner().invoke(app, ["metrics", "--db", str(store), "--k", "3", "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _check_panel(url, cluster, small_store, tmp_path):
    out = tmp_path / "panel.parquet"
    _ctssw(["panel", "--db", str(small_store), "--backend", "spark", "--spark-url", url, "--out", str(out)], cluster)
    got, want = pd.read_parquet(out), _duckdb_panel(small_store, tmp_path)
    assert len(want) > 0 and want["cts_sw"].notna().any()
    assert_frames_equal(got, want, rtol=1e-9)


def _check_metrics(url, cluster, small_store):
    r = _ctssw(["metrics", "--db", str(small_store), "--backend", "spark", "--spark-url", url, "--k", "3", "--json"], cluster)
    got_doc, want_doc = json.loads(r.stdout), _duckdb_metrics(small_store)
    got, want = pd.DataFrame(got_doc["rows"]), pd.DataFrame(want_doc["rows"])
    assert len(want) > 1 and want["cts_sw"].notna().any()
    assert_frames_equal(got, want, rtol=1e-9, keys=("group",))
    # what the store cannot tell, read through the same Spark session as the rows
    assert got_doc["unknown"] == want_doc["unknown"] and got_doc["suppressed_rows"] == want_doc["suppressed_rows"]


def _finished_apps(cluster) -> list[dict]:
    return [a for a in cluster.state()["completedapps"] if a["name"] == "ctssw"]


def test_cluster_has_two_one_core_workers(cluster):
    st = cluster.state()
    assert st["aliveworkers"] == 2
    assert sorted(w["cores"] for w in st["workers"] if w["state"] == "ALIVE") == [1, 1]


def test_panel_on_standalone_cluster_equals_duckdb(cluster, small_store, tmp_path):
    before = len(_finished_apps(cluster))
    _check_panel(cluster.master_url, cluster, small_store, tmp_path)
    apps = _finished_apps(cluster)
    # the command ran as an application of this master, on the workers' cores
    assert len(apps) == before + 1 and apps[-1]["cores"] >= 1


def test_metrics_on_standalone_cluster_equal_duckdb(cluster, small_store):
    before = len(_finished_apps(cluster))
    _check_metrics(cluster.master_url, cluster, small_store)
    assert len(_finished_apps(cluster)) == before + 1


def test_panel_through_spark_connect_equals_duckdb(connect_url, cluster, small_store, tmp_path):
    _check_panel(connect_url, cluster, small_store, tmp_path)


def test_metrics_through_spark_connect_equal_duckdb(connect_url, cluster, small_store):
    _check_metrics(connect_url, cluster, small_store)


REQUIRED = {"panel": ["--out", "p.parquet"], "explain": ["--since", "2024-01-01", "--until", "2024-04-01"],
            "plan": ["--tool", "coding_agent", "--effect", "0.05", "--out", "p.parquet"]}


@pytest.mark.parametrize("scheme", ["spark", "sc"])
@pytest.mark.parametrize("command", ["panel", "metrics", "drivers", "impact", "explain", "plan", "report"])
def test_unreachable_cluster_is_one_error_line(command, scheme, small_store, tmp_path):
    url = f"{scheme}://127.0.0.1:{free_port()}"  # nothing listens there
    extra = [str(tmp_path / a) if a == "p.parquet" else a for a in REQUIRED.get(command, [])]
    r = CliRunner().invoke(app, [command, "--db", str(small_store), "--backend", "spark", "--spark-url", url, *extra])
    assert r.exit_code == 4, r.output
    assert "cannot reach the Spark cluster at " + url in r.output
    assert "Traceback" not in r.output and not (tmp_path / "p.parquet").exists()


def test_malformed_spark_url_is_a_usage_error(small_store, tmp_path):
    r = CliRunner().invoke(app, ["metrics", "--db", str(small_store), "--backend", "spark", "--spark-url", "http://x:1"])
    assert r.exit_code == 2, r.output
    assert "--spark-url must be local[N], spark://host:port or sc://host:port" in r.output
