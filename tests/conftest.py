"""Shared fixtures: one small simulated organisation, ingested once per test run; the store layouts."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from layouts import LAYOUTS, lake_of

from ctssw.simulate import simulate
from ctssw.store import Store, ingest_canonical

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
_KEY_DIRS: list[str] = []


def pytest_configure(config):
    """Every store the tests write is keyed by one identity key in a temporary folder
    (created on first use, mode 0600), never by the user's own key. Spark's JVMs read the
    user's class-data archive when there is one and never write one there (the tests that
    write one use a folder of their own)."""
    _check_free_space(config)
    if "CTSSW_IDENTITY_KEY" not in os.environ:
        _KEY_DIRS.append(tempfile.mkdtemp(prefix="ctssw-key-"))
        os.environ["CTSSW_IDENTITY_KEY"] = str(Path(_KEY_DIRS[0]) / "identity.key")
    os.environ.setdefault("CTSSW_SPARK_CDS", "read")


# A full `make test` grew /tmp by at most 0.75 GB (stores, lakes, Spark's folders; sampled every
# 15 s) before the run ended and removed those of passing tests. With less room than this margin
# a full disk fails hundreds of tests at once.
NEEDS_FREE_GB = 2


def _check_free_space(config) -> None:
    """One line instead of hundreds of "No space left on device" errors (the controlling process only)."""
    if hasattr(config, "workerinput"):
        return
    free = shutil.disk_usage(tempfile.gettempdir()).free / 2**30
    if free < NEEDS_FREE_GB:
        pytest.exit(f"the tests need about {NEEDS_FREE_GB} GB free in {tempfile.gettempdir()}; "
                    f"{free:.1f} GB is free there (set TMPDIR to a folder with room)", returncode=4)


def pytest_unconfigure(config):
    """The process that made the key's folder removes it (xdist's workers inherit the key)."""
    for d in _KEY_DIRS:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sim")
    simulate(d, teams=40, weeks=60, seed=7)
    return d


@pytest.fixture(scope="session")
def store_path(sim_dir, tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("store") / "ctssw.duckdb"
    with Store(p) as s:
        ingest_canonical(s, sim_dir)
    return p


@pytest.fixture()
def store(store_path):
    with Store(store_path, read_only=True) as s:
        yield s


@pytest.fixture(params=LAYOUTS)
def layout(request) -> str:
    return request.param


@pytest.fixture()
def new_store(layout):
    """``new_store(path, **kw)`` opens ``Store(path, **kw)`` in the layout under test: in the lake
    layout the store keeps its tables in ``lake_of(path)``."""

    def open_(path, **kw):
        if layout == "lake":
            kw.setdefault("lake", lake_of(path))
        return Store(path, **kw)

    return open_


@pytest.fixture(scope="session")
def lake_store_path(sim_dir, tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("lake-store") / "ctssw.duckdb"
    with Store(p, lake=lake_of(p)) as s:
        ingest_canonical(s, sim_dir)
    return p


@pytest.fixture(params=LAYOUTS)
def any_store_path(request) -> Path:
    """The shared organisation's store, in each layout."""
    return request.getfixturevalue("store_path" if request.param == "db" else "lake_store_path")
