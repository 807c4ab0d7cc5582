"""``ctssw report`` and ``ctssw impact --tools`` / ``--event`` with ``--backend spark`` give DuckDB's numbers.

The event study and the report run as their own processes with a local[2] session, as a user runs
them (the first, the lighter, writes the JVM's class-data archive to the module's cache folder; the
second starts from it); ``impact --tools`` runs in this process on the run's Spark context, as from
a notebook. The report builds several panels (drivers, the tool's impact, every tool in one model,
the metrics) in the one session it opens; the page's embedded data and the estimates must equal
the DuckDB command's on the same store.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from backends.compare import same_json as _same
from ctssw.cli import app
from ctssw.store import Store

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def cds_cache(tmp_path_factory):
    """The commands' cache folder: the first writes the JVM's class-data archive, the others read it."""
    return tmp_path_factory.mktemp("cache")


def _ctssw_spark(args: list[str], cache) -> subprocess.CompletedProcess:
    env = {**os.environ, "CTSSW_SPARK_MEMORY": "1g", "CTSSW_CACHE_DIR": str(cache), "CTSSW_SPARK_CDS": "on"}
    env.pop("SPARK_CONF_DIR", None)
    r = subprocess.run(
        [sys.executable, "-c", "from ctssw.cli import main; main()", *args, "--backend", "spark"],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert r.returncode == 0, f"ctssw {' '.join(args)} --backend spark exited {r.returncode}\n{r.stderr[-3000:]}"
    # the archive is in place once a command has ended, and nothing half-written is left
    assert [p.suffix for p in cache.iterdir()] == [".jsa"], sorted(cache.iterdir())
    assert "cds" not in r.stderr.lower()
    return r


def _payload(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="ctssw-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


@pytest.fixture(scope="module")
def tool(small_store) -> str:
    # the store's own read-only opening: another in this process holds it open that way
    with Store(small_store, read_only=True) as s:
        return s.con.execute("SELECT tool FROM tool_usage GROUP BY tool ORDER BY count(*) DESC LIMIT 1").fetchone()[0]


def _sections(text: str) -> list[str]:
    """The report's section lines (``name: state``), without the path line that follows them."""
    return text.split("Report:")[0].split("\n")


def test_impact_event_on_spark_equals_duckdb(small_store, tmp_path, cds_cache):
    import pandas as pd

    with Store(small_store, read_only=True) as s:
        teams = sorted(r[0] for r in s.con.execute("SELECT DISTINCT team_id FROM memberships").fetchall())
    arch = tmp_path / "arch.csv"
    pd.DataFrame({"team": teams[:3], "date": "2024-02-19", "from": "monolith", "to": "service"}).to_csv(arch, index=False)
    args = ["impact", "--db", str(small_store), "--event", "architecture:monolith->service",
            "--architecture-changes", str(arch), "--json"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    want = json.loads(r.stdout)
    assert want["teams_changing"] == 3 and want["teams_not_in_panel"] == []
    _same(json.loads(_ctssw_spark(args, cds_cache).stdout), want)


def test_report_on_spark_equals_duckdb(small_store, tool, tmp_path, cds_cache):
    args = ["report", "--db", str(small_store), "--tool", tool, "--k", "3"]
    r = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "duckdb.html")])
    assert r.exit_code == 0, r.output
    got = _ctssw_spark([*args, "--out", str(tmp_path / "spark.html")], cds_cache)
    assert _sections(got.stdout) == _sections(r.output) and "drivers: ok" in r.output
    want = _payload((tmp_path / "duckdb.html").read_text())
    assert want["series"]["keys"] and want.get("headline")
    _same(_payload((tmp_path / "spark.html").read_text()), want)


def test_impact_tools_on_spark_equals_duckdb(spark, small_store, tool):
    # in this process, on the run's Spark context, as from a notebook (the two above start their own)
    args = ["impact", "--db", str(small_store), "--tools", tool, "--method", "fe", "--json"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    want = json.loads(r.stdout)
    r = CliRunner().invoke(app, [*args, "--backend", "spark"])
    assert r.exit_code == 0, r.output
    assert want["tools"] == [tool]
    _same(json.loads(r.stdout), want)
