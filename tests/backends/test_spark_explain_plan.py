"""``ctssw explain`` and ``ctssw plan`` with ``--backend spark`` give DuckDB's numbers (in this process,
on the run's Spark context, as from a notebook)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from backends.compare import same_json
from ctssw.cli import app

pytestmark = pytest.mark.spark


@pytest.mark.parametrize("args", [
    ["explain", "--tools", "assistant", "--since", "2024-01-01", "--until", "2024-04-01", "--window", "4", "--method", "fe"],
    ["plan", "--tool", "coding_agent", "--effect", "0.05", "--weeks", "10", "--cohorts", "2", "--reps", "20"],
])
def test_on_spark_equals_duckdb(spark, small_store, tmp_path, args):
    got = {}
    for backend in ("duckdb", "spark"):
        out = ["--out", str(tmp_path / f"{backend}.csv")] if args[0] == "plan" else []
        r = CliRunner().invoke(app, [*args, "--db", str(small_store), "--json", "--backend", backend, *out])
        assert r.exit_code == 0, r.output
        got[backend] = json.loads(r.stdout)
    if args[0] == "plan":  # the rollout file's own path, in the result and its text
        for res in got.values():
            del res["rollout_csv"], res["text"]
        assert (tmp_path / "spark.csv").read_text() == (tmp_path / "duckdb.csv").read_text()
    else:
        assert got["duckdb"]["nobs"] > 0
    same_json(got["spark"], got["duckdb"])
