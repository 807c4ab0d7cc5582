"""The metrics benchmark's floor (hand-written DuckDB SQL) builds the same facts as ctssw.

A floor that computed something else would make the benchmark's ratio meaningless, so its three
tables are checked against ``ctssw.metrics._api.fact_tables`` on the simulated organisation, on a
copy of it where some deployments lost their stored commits (so the derived commits are compared
too), and on DevLake's own test data.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ctssw.metrics import _api as A
from ctssw.metrics import _dora as D
from ctssw.metrics import _linkage as L
from ctssw.store import Store

FLOOR = Path(__file__).resolve().parents[2] / "benchmarks" / "metrics_floor.py"
KEYS = {"deployments": "deployment_id", "change_facts": "change_id", "deployment_facts": "deployment_id"}


def _floor_module():
    spec = importlib.util.spec_from_file_location("metrics_floor", FLOOR)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _ctssw_facts(db: Path) -> dict[str, pd.DataFrame]:
    """The three tables ``ctssw metrics`` materialises, through its own steps."""
    built = {}

    def keep(name, build):
        # read now: the deployments are dropped once the facts are built from them
        table = build()
        # the deployments' stored keys are the linkage's join columns, not facts the floor builds
        built[name.replace(" ", "_")] = table.to_pandas().drop(columns=list(L.DEPLOYMENT_KEYS), errors="ignore")
        return table

    with Store(db, read_only=True) as s:
        try:
            A.fact_tables(s.ibis(), D.dora_config(), step=keep)
            return {k: built[k] for k in KEYS}
        finally:
            A.clear_cache()


def _floor_facts(db: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(db), read_only=True) as con:
        _floor_module().build(con)
        return {k: con.execute(f"SELECT * FROM floor_{k}").df() for k in KEYS}


def _same(ours: pd.DataFrame, floor: pd.DataFrame, key: str, empty: bool = False) -> None:
    assert list(floor.columns) == list(ours.columns)
    assert (len(ours) == 0) == empty and len(floor) == len(ours)
    a = ours.sort_values(key).reset_index(drop=True)
    b = floor.sort_values(key).reset_index(drop=True)
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
            pd.testing.assert_series_equal(x.astype("float64"), y.astype("float64"), check_names=False, rtol=1e-12)
        elif str(col) in ("week", "day"):
            assert (pd.to_datetime(x) == pd.to_datetime(y)).all(), col
        else:
            assert (x.isna() == y.isna()).all(), col
            assert (x[x.notna()].astype(object) == y[x.notna()].astype(object)).all(), col


def _check(db: Path, empty: tuple[str, ...] = ()) -> None:
    """ctssw's and the floor's tables are equal; those named in ``empty`` have no rows."""
    ours, floor = _ctssw_facts(db), _floor_facts(db)
    for name, key in KEYS.items():
        _same(ours[name], floor[name], key, name in empty)


def test_floor_equals_ctssw_facts(store_path):
    _check(store_path)


def test_floor_equals_ctssw_with_derived_commits(store_without_some_commits):
    with duckdb.connect(str(store_without_some_commits), read_only=True) as con:
        _floor_module().build(con)
        derived = con.execute("""
            SELECT count(*) FROM floor_change_facts f
            WHERE f.deployment_id NOT IN (SELECT deployment_id FROM deployment_commits)""").fetchone()[0]
    assert derived > 0  # changes shipped by deployments whose commits were derived
    _check(store_without_some_commits)


DEVLAKE = Path(__file__).resolve().parents[2].parent / "shared" / "external" / "devlake-dora"


@pytest.mark.parametrize("case, empty", [
    ("change_lead_time", ()),  # changes, and the commits deployments shipped (from commits_diffs)
    ("connect_incident_to_deployment", ("change_facts",)),  # incidents, no changes
    ("prev_success_deployment_commit", ("change_facts",)),  # previous successes across environments
])
def test_floor_equals_ctssw_on_devlake_test_data(case, empty, tmp_path):
    """DevLake's own test tables (production and staging, successes and failures, incidents)."""
    from typer.testing import CliRunner

    from ctssw.cli import app

    db = tmp_path / "ctssw.duckdb"
    r = CliRunner().invoke(app, ["ingest", "devlake", str(DEVLAKE / case), "--db", str(db)])
    assert r.exit_code == 0, r.output
    _check(db, empty)


@pytest.mark.parametrize("store", ["store_path", "store_without_some_commits"])
def test_floor_on_64_bit_keys_builds_the_same_facts(store, request):
    """The keyed copies (what integer keys in the store would cost the metrics: every identifier
    keyed, or the shas alone) give the string floor's rows and sums, so the benchmark compares
    three builds of the same facts."""
    floor = _floor_module()
    db = request.getfixturevalue(store)
    got = {}
    for keys in ("none", "sha", "all"):
        with duckdb.connect(str(db), read_only=True) as con:
            secs = floor.build_copies(con, keys=keys)
            assert list(secs) == ["copy", *(name for name, _ in floor.STEPS)]
            got[keys] = floor.summary(con)
            # the copies hold keys, not the store's strings, for the identifiers asked for only
            types = con.execute("SELECT typeof(sha), typeof(deployment_id) FROM deployment_commits LIMIT 1").fetchone()
            assert types == {"none": ("VARCHAR", "VARCHAR"), "sha": ("UBIGINT", "VARCHAR"), "all": ("UBIGINT", "UBIGINT")}[keys]
    assert got["none"]["change_facts"][1] > 0 and got["none"]["deployment_facts"][1] > 0
    for table, want in got["none"].items():
        assert got["sha"][table] == pytest.approx(want, rel=1e-12), table
        assert got["all"][table] == pytest.approx(want, rel=1e-12), table
